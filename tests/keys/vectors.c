#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "keys.h"
#include "vectors.h"

#include "banned.h"

json_t *vectors_root;

int vectors_main(int argc, char **argv, const char *name, const struct CMUnitTest *tests, size_t n)
{
  int rc;

  if (keys_init() != KEYS_OK)
    return 1;
  vectors_root = vectors_load(argc, argv);
  if (vectors_root == NULL)
    return 1;
  rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
  json_decref(vectors_root);
  vectors_root = NULL;
  return rc;
}

json_t *vectors_load(int argc, char **argv)
{
  const char *where = argc > 1 ? argv[1] : getenv("SEAL_TESTVECTORS");
  char path[4096];
  struct stat st;
  json_error_t jerr;
  json_t *root;

  if (where == NULL) {
    fprintf(stderr, "give the test vectors as the first argument or in SEAL_TESTVECTORS\n");
    return NULL;
  }
  if (stat(where, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(path, sizeof(path), "%s/seal-v1.json", where);
  else
    snprintf(path, sizeof(path), "%s", where);
  root = json_load_file(path, 0, &jerr);
  if (root == NULL)
    fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
  return root;
}

const char *vectors_str(const json_t *obj, const char *name)
{
  const char *s = json_string_value(json_object_get(obj, name));

  if (s == NULL)
    fail_msg("vector member \"%s\" is missing", name);
  return s;
}

uint8_t *vectors_b64(const char *text, size_t *len, size_t want)
{
  uint8_t *bin = NULL;
  size_t n = 0;

  assert_int_equal(keys_base64_decode(&bin, &n, text, strlen(text)), KEYS_OK);
  if (want != 0)
    assert_int_equal(n, want);
  if (len != NULL)
    *len = n;
  return bin;
}

keys_keyring *vectors_ring(const json_t *root, size_t i)
{
  const json_t *key = json_array_get(json_object_get(root, "keys"), i);
  keys_keyring *ring = NULL;
  keys_keypair *kp = NULL;
  uint8_t *sk;

  assert_non_null(key);
  sk = vectors_b64(vectors_str(key, "private"), NULL, KEYS_SECRET_BYTES);
  assert_int_equal(keys_keypair_from_secret(&kp, sk, 1000 + (int64_t)i, KEYS_STATE_ACTIVE),
                   KEYS_OK);
  sodium_memzero(sk, KEYS_SECRET_BYTES);
  free(sk);
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  assert_int_equal(keys_keyring_add(ring, &kp, NULL), KEYS_OK);
  assert_null(kp);
  return ring;
}

keys_public vectors_public(const json_t *root, size_t i)
{
  const json_t *key = json_array_get(json_object_get(root, "keys"), i);
  keys_public pub;
  uint8_t *pk;

  assert_non_null(key);
  pk = vectors_b64(vectors_str(key, "public"), NULL, KEYS_PUBLIC_BYTES);
  assert_int_equal(keys_public_from_bytes(&pub, pk, NULL), KEYS_OK);
  free(pk);
  return pub;
}

keys_keyring *fresh_ring(keys_public *pub, int64_t created)
{
  keys_keyring *ring = NULL;
  keys_keypair *kp = NULL;

  assert_int_equal(keys_keypair_generate(&kp, created), KEYS_OK);
  if (pub != NULL)
    *pub = *keys_keypair_public(kp);
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  assert_int_equal(keys_keyring_add(ring, &kp, NULL), KEYS_OK);
  return ring;
}
