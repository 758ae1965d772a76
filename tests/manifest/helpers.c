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

void parse_ok(manifest_docs *docs, const char *text, int flags) {
  manifest_error err;
  int rc;

  memset(&err, 0, sizeof err);
  rc = manifest_parse(docs, text, strlen(text), "test", flags, &err);
  if (rc != MANIFEST_OK)
    fail_msg("parse failed (%d): %s", rc, err.message);
}

void parse_fails(const char *text, size_t len, int status, const char *message_part,
                 manifest_error *err) {
  manifest_docs docs;
  int rc;

  memset(err, 0, sizeof *err);
  rc = manifest_parse(&docs, text, len, "stdin", 0, err);
  if (rc != status)
    fail_msg("expected status %d, got %d (%s)", status, rc, err->message);
  assert_int_equal(err->status, status);
  assert_int_equal(docs.n, 0);
  assert_null(docs.docs);
  if (message_part != NULL && strstr(err->message, message_part) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", err->message, message_part);
}

json_t *parse_one(const char *text) {
  manifest_docs docs;
  json_t *doc;

  parse_ok(&docs, text, 0);
  assert_int_equal(docs.n, 1);
  doc = json_incref(docs.docs[0]);
  manifest_docs_free(&docs);
  return doc;
}

char *write_one(const json_t *doc, manifest_format format, size_t *len) {
  manifest_error err;
  json_t *docs[1] = {(json_t *)doc};
  char *out = NULL;
  int rc;

  memset(&err, 0, sizeof err);
  rc = manifest_write(&out, len, docs, 1, format, &err);
  if (rc != MANIFEST_OK)
    fail_msg("write failed (%d): %s", rc, err.message);
  assert_non_null(out);
  assert_int_equal(strlen(out), *len);
  return out;
}

keys_keyring *make_ring(size_t n, keys_public *pubs) {
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

keys_keyring *sub_ring(const keys_keyring *ring, const size_t *at, size_t n) {
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

char *secret_value(const json_t *secret, const char *key) {
  const char *b64 = manifest_get_string(secret, "data", key, NULL);
  uint8_t *dec = NULL;
  size_t len = 0;
  char *s;

  if (b64 == NULL)
    fail_msg("no data key \"%s\"", key);
  assert_int_equal(keys_base64_decode(&dec, &len, b64, strlen(b64)), KEYS_OK);
  s = calloc(1, len + 1);
  assert_non_null(s);
  memcpy(s, dec, len);
  keys_plain_free(dec, len);
  return s;
}
