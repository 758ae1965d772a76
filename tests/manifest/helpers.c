#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "helpers.h"
#include "banned.h"

keys_keyring *make_ring(size_t n, keys_public *pubs)
{
  keys_keyring *ring = NULL;
  keys_keypair *kp = NULL;
  size_t i;

  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  for (i = 0; i < n; i++) {
    assert_int_equal(keys_keypair_generate(&kp, 1700000000 + (int64_t)i), KEYS_OK);
    pubs[i] = *keys_keypair_public(kp);
    assert_int_equal(keys_keyring_add(ring, &kp, NULL), KEYS_OK);
    assert_null(kp);
  }
  return ring;
}

keys_keyring *sub_ring(const keys_keyring *ring, const size_t *at, size_t n)
{
  keys_keyring *out = NULL;
  char armor[KEYS_ARMOR_MAX];
  size_t len, i;

  assert_int_equal(keys_keyring_new(&out), KEYS_OK);
  for (i = 0; i < n; i++) {
    assert_int_equal(keys_armor_write_private(armor, sizeof armor, &len,
                                              keys_keyring_at(ring, at[i])),
                     KEYS_OK);
    assert_int_equal(keys_armor_read_private(out, NULL, armor, len, NULL), KEYS_OK);
    sodium_memzero(armor, sizeof armor);
  }
  return out;
}

char *secret_value(const json_t *secret, const char *key)
{
  const char *b64 = doc_get_string(secret, "data", key, NULL);
  uint8_t *dec = NULL;
  size_t len = 0;
  char *s;

  if (b64 == NULL)
    fail_msg("no data key \"%s\"", key);
  assert_int_equal(keys_base64_decode(&dec, &len, b64, strlen(b64)), KEYS_OK);
  s = calloc(1, len + 1);
  assert_non_null(s);
  memcpy(s, dec, len);
  doc_wipe_free(dec, len);
  return s;
}
