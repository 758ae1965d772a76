/*
 * The two base64 decoders of libkeys on any text: keys_base64_decode
 * (constant time, for plaintext and keys) and keys_base64_decode_public
 * (table driven, for sealed values) must accept exactly the same texts and
 * give the same bytes, and an accepted text is canonical: encoding its bytes
 * (with either encoder) gives the text back.
 */

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  uint8_t *ref = NULL, *fast = NULL;
  size_t ref_len = 0, fast_len = 0;
  int ref_rc, fast_rc;

  if (size > HARNESS_MAX_INPUT)
    return 0;
  if (keys_init() != KEYS_OK)
    harness_fail("keys_init failed", NULL);
  ref_rc = keys_base64_decode(&ref, &ref_len, text, size);
  fast_rc = keys_base64_decode_public(&fast, &fast_len, text, size);
  if (ref_rc != fast_rc)
    harness_fail("keys_base64_decode_public",
                 "accepts or refuses what keys_base64_decode does not");
  if (ref_rc == KEYS_OK) {
    char *again = NULL, *again_public = NULL;
    size_t again_len = 0, again_public_len = 0;

    if (fast_len != ref_len || (ref_len > 0 && memcmp(fast, ref, ref_len) != 0))
      harness_fail("keys_base64_decode_public", "gives other bytes than keys_base64_decode");
    if (keys_base64_encode(&again, &again_len, ref, ref_len) != KEYS_OK ||
        keys_base64_encode_public(&again_public, &again_public_len, ref, ref_len) != KEYS_OK)
      harness_fail("keys_base64_encode", "failed on decoded bytes");
    if (again_len != size || memcmp(again, text, size) != 0)
      harness_fail("keys_base64_decode", "accepted a text that is not canonical");
    if (again_public_len != size || memcmp(again_public, text, size) != 0)
      harness_fail("keys_base64_encode_public", "differs from keys_base64_encode");
    free(again);
    free(again_public);
  }
  free(ref);
  free(fast);
  return 0;
}
