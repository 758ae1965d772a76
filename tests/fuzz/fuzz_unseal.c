/*
 * Sealed values as text (keys_unseal, keys_sealed_ids, keys_reseal) with the
 * test vectors' keyring. The input is "LABEL\nSEALED": the label the value is
 * opened under, a newline, then the base64 text. Without a newline the whole
 * input is the value and the label is the vectors' first one.
 */

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  const char *nl;
  char *label = NULL;
  size_t label_len;

  if (size > HARNESS_MAX_INPUT)
    return 0;
  nl = memchr(text, '\n', size);
  if (nl == NULL) {
    harness_check_unseal(harness_label(0), text, size);
    return 0;
  }
  label_len = (size_t)(nl - text);
  label = malloc(label_len + 1);
  if (label == NULL)
    return 0;
  memcpy(label, text, label_len);
  label[label_len] = '\0';
  /* The value runs to the end of the input, so a read past its length is a
   * read past the buffer. */
  harness_check_unseal(label, nl + 1, size - label_len - 1);
  free(label);
  return 0;
}
