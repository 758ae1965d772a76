/*
 * Sealed values as bytes: the fuzzer mutates the blob itself (version,
 * count, stanzas, nonce, commitment, body) rather than its base64 text. The
 * first byte picks one of the vectors' labels, the rest is the blob; it is
 * encoded with keys_base64_encode (which must decode back to the same bytes)
 * and opened as fuzz_unseal does.
 */

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = NULL;
  uint8_t *back = NULL;
  size_t text_len = 0, back_len = 0;

  if (size < 1 || size > HARNESS_MAX_INPUT / 2)
    return 0;
  if (keys_init() != KEYS_OK)
    harness_fail("keys_init failed", NULL);
  if (keys_base64_encode(&text, &text_len, data + 1, size - 1) != KEYS_OK)
    harness_fail("keys_base64_encode failed", NULL);
  if (text_len != strlen(text))
    harness_fail("keys_base64_encode", "length does not match the text");
  if (keys_base64_decode(&back, &back_len, text, text_len) != KEYS_OK)
    harness_fail("keys_base64_decode", "refused what keys_base64_encode wrote");
  if (back_len != size - 1 || (back_len > 0 && memcmp(back, data + 1, back_len) != 0))
    harness_fail("keys_base64_decode", "does not give back what was encoded");
  harness_check_unseal(harness_label(data[0]), text, text_len);
  free(back);
  free(text);
  return 0;
}
