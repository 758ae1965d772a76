/* Keypairs, key ids and the keyring. */
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

#include "keys.h"
#include "vectors.h"

#include "banned.h"

static void test_vector_keypairs(void **state)
{
  (void)state;
  for (size_t i = 0; i < 3; i++) {
    const json_t *key = json_array_get(json_object_get(vectors_root, "keys"), i);
    uint8_t *sk = vectors_b64(vectors_str(key, "private"), NULL, KEYS_SECRET_BYTES);
    uint8_t *pk = vectors_b64(vectors_str(key, "public"), NULL, KEYS_PUBLIC_BYTES);
    keys_keypair *kp = NULL;
    char hex[KEYS_ID_HEX_BYTES];
    uint8_t id[KEYS_ID_BYTES];

    assert_int_equal(keys_keypair_from_secret(&kp, sk, 42, KEYS_STATE_COMPROMISED), KEYS_OK);
    assert_memory_equal(keys_keypair_public(kp)->pk, pk, KEYS_PUBLIC_BYTES);
    keys_id_hex(hex, keys_keypair_public(kp)->id);
    assert_string_equal(hex, vectors_str(key, "kid"));
    keys_id_of(id, pk);
    assert_memory_equal(id, keys_keypair_public(kp)->id, KEYS_ID_BYTES);
    assert_int_equal(keys_keypair_created(kp), 42);
    assert_int_equal(keys_keypair_state(kp), KEYS_STATE_COMPROMISED);
    keys_keypair_set_state(kp, KEYS_STATE_ACTIVE);
    assert_int_equal(keys_keypair_state(kp), KEYS_STATE_ACTIVE);
    keys_keypair_free(kp);
    sodium_memzero(sk, KEYS_SECRET_BYTES);
    free(sk);
    free(pk);
  }
  keys_keypair_free(NULL);
}

static void test_generate(void **state)
{
  keys_keypair *a = NULL, *b = NULL;

  (void)state;
  assert_int_equal(keys_keypair_generate(&a, 1), KEYS_OK);
  assert_int_equal(keys_keypair_generate(&b, 1), KEYS_OK);
  assert_memory_not_equal(keys_keypair_public(a)->pk, keys_keypair_public(b)->pk,
                          KEYS_PUBLIC_BYTES);
  assert_int_equal(keys_keypair_state(a), KEYS_STATE_ACTIVE);
  assert_int_equal(keys_keypair_from_secret(&b, NULL, 0, KEYS_STATE_ACTIVE), KEYS_ERR_INVALID);
  assert_null(b);
  keys_keypair_free(a);
}

static void test_id_text(void **state)
{
  uint8_t id[KEYS_ID_BYTES];
  char hex[KEYS_ID_HEX_BYTES];
  static const char *const bad[] = {"",
                                    "3e221f7d13407cf",
                                    "3e221f7d13407cff0",
                                    "3e221f7d13407cfg",
                                    "3e221f7d 13407cf",
                                    "0x3e221f7d13407c"};

  (void)state;
  assert_int_equal(keys_id_parse(id, "3E221F7D13407CFF"), KEYS_OK);
  keys_id_hex(hex, id);
  assert_string_equal(hex, "3e221f7d13407cff");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(keys_id_parse(id, bad[i]), KEYS_ERR_INVALID);
  assert_int_equal(keys_id_parse(id, NULL), KEYS_ERR_INVALID);
}

static keys_keypair *add_new(keys_keyring *ring, int64_t created)
{
  keys_keypair *kp = NULL, *in;

  assert_int_equal(keys_keypair_generate(&kp, created), KEYS_OK);
  in = kp;
  assert_int_equal(keys_keyring_add(ring, &kp, NULL), KEYS_OK);
  assert_null(kp);
  return in;
}

static void assert_ordered(const keys_keyring *ring)
{
  for (size_t i = 1; i < keys_keyring_count(ring); i++) {
    const keys_keypair *a = keys_keyring_at(ring, i - 1), *b = keys_keyring_at(ring, i);

    assert_true(
        keys_keypair_created(a) < keys_keypair_created(b) ||
        (keys_keypair_created(a) == keys_keypair_created(b) &&
         memcmp(keys_keypair_public(a)->id, keys_keypair_public(b)->id, KEYS_ID_BYTES) < 0));
  }
}

static void test_keyring_order(void **state)
{
  keys_keyring *ring = NULL;
  keys_keypair *k30, *k10, *k20, *k10b;
  uint8_t absent[KEYS_ID_BYTES] = {0};

  (void)state;
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  assert_null(keys_keyring_newest_active(ring));
  assert_null(keys_keyring_at(ring, 0));
  k30 = add_new(ring, 30);
  k10 = add_new(ring, 10);
  k20 = add_new(ring, 20);
  k10b = add_new(ring, 10);
  assert_int_equal(keys_keyring_count(ring), 4);
  assert_ordered(ring);
  assert_ptr_equal(keys_keyring_at(ring, 2), k20);
  assert_ptr_equal(keys_keyring_at(ring, 3), k30);
  assert_true(keys_keyring_at(ring, 0) == k10 || keys_keyring_at(ring, 0) == k10b);
  assert_null(keys_keyring_at(ring, 4));
  assert_ptr_equal(keys_keyring_find(ring, keys_keypair_public(k20)->id), k20);
  assert_ptr_equal(keys_keyring_find(ring, keys_keypair_public(k10b)->id), k10b);
  assert_null(keys_keyring_find(ring, absent));
  /* newest active: last in creation order that is active */
  assert_ptr_equal(keys_keyring_newest_active(ring), k30);
  keys_keypair_set_state(k30, KEYS_STATE_COMPROMISED);
  assert_ptr_equal(keys_keyring_newest_active(ring), k20);
  assert_ptr_equal(keys_keyring_at(ring, 3), k30); /* still there, still last */
  keys_keypair_set_state(k20, KEYS_STATE_COMPROMISED);
  keys_keypair_set_state(k10, KEYS_STATE_COMPROMISED);
  keys_keypair_set_state(k10b, KEYS_STATE_COMPROMISED);
  assert_null(keys_keyring_newest_active(ring));
  keys_keypair_set_state(k10, KEYS_STATE_ACTIVE);
  assert_ptr_equal(keys_keyring_newest_active(ring), k10);
  /* remove */
  {
    uint8_t id20[KEYS_ID_BYTES];

    memcpy(id20, keys_keypair_public(k20)->id, KEYS_ID_BYTES);
    assert_int_equal(keys_keyring_remove(ring, id20), KEYS_OK);
    assert_null(keys_keyring_find(ring, id20));
    assert_int_equal(keys_keyring_remove(ring, id20), KEYS_ERR_NO_KEY);
  }
  assert_int_equal(keys_keyring_count(ring), 3);
  assert_ptr_equal(keys_keyring_find(ring, keys_keypair_public(k10)->id), k10);
  assert_ptr_equal(keys_keyring_at(ring, 2), k30);
  assert_int_equal(keys_keyring_remove(ring, absent), KEYS_ERR_NO_KEY);
  assert_ordered(ring);
  keys_keyring_free(ring);
  keys_keyring_free(NULL);
}

static void test_keyring_add_refuses_same_id(void **state)
{
  keys_keyring *ring = vectors_ring(vectors_root, 0);
  const json_t *key = json_array_get(json_object_get(vectors_root, "keys"), 0);
  uint8_t *sk = vectors_b64(vectors_str(key, "private"), NULL, KEYS_SECRET_BYTES);
  keys_keypair *again = NULL;
  keys_error err = {0};

  (void)state;
  assert_int_equal(keys_keypair_from_secret(&again, sk, 5, KEYS_STATE_ACTIVE), KEYS_OK);
  assert_int_equal(keys_keyring_add(ring, &again, &err), KEYS_ERR_EXISTS);
  assert_non_null(again); /* left to the caller */
  assert_string_equal(err.message, "key 3e221f7d13407cff is already in the keyring");
  assert_int_equal(keys_keyring_count(ring), 1);
  keys_keypair_free(again);
  sodium_memzero(sk, KEYS_SECRET_BYTES);
  free(sk);
  keys_keyring_free(ring);
}

static void test_keyring_many(void **state)
{
  keys_keyring *ring = NULL;
  keys_keypair *added[300];

  (void)state;
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  for (size_t i = 0; i < 300; i++)
    added[i] = add_new(ring, (int64_t)randombytes_uniform(50));
  assert_int_equal(keys_keyring_count(ring), 300);
  assert_ordered(ring);
  for (size_t i = 0; i < 300; i++)
    assert_ptr_equal(keys_keyring_find(ring, keys_keypair_public(added[i])->id), added[i]);
  /* remove every other key; the rest stay found and ordered */
  for (size_t i = 0; i < 300; i += 2)
    assert_int_equal(keys_keyring_remove(ring, keys_keypair_public(added[i])->id), KEYS_OK);
  assert_int_equal(keys_keyring_count(ring), 150);
  assert_ordered(ring);
  for (size_t i = 1; i < 300; i += 2)
    assert_ptr_equal(keys_keyring_find(ring, keys_keypair_public(added[i])->id), added[i]);
  keys_keyring_free(ring);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_keypairs),
      cmocka_unit_test(test_generate),
      cmocka_unit_test(test_id_text),
      cmocka_unit_test(test_keyring_order),
      cmocka_unit_test(test_keyring_add_refuses_same_id),
      cmocka_unit_test(test_keyring_many),
  };

  return vectors_main(argc, argv, "keys_keyring", tests, sizeof(tests) / sizeof(tests[0]));
}
