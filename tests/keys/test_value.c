/* Sealed values: the vectors of docs/spec.md, round trips, tampering, re-sealing. */
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

static int status_of_why(const char *why)
{
  if (strcmp(why, "malformed") == 0)
    return KEYS_ERR_MALFORMED;
  if (strcmp(why, "no-key") == 0)
    return KEYS_ERR_NO_KEY;
  if (strcmp(why, "altered") == 0)
    return KEYS_ERR_ALTERED;
  if (strcmp(why, "label-or-altered") == 0)
    return KEYS_ERR_LABEL;
  fail_msg("unknown why \"%s\"", why);
  return 0;
}

static int unseal_text(keys_keyring *ring, const char *label, const char *text, keys_error *err)
{
  uint8_t *m = NULL;
  size_t m_len = 99;
  int rc;

  rc = keys_unseal(&m, &m_len, ring, label, text, strlen(text), NULL, err);
  if (rc != KEYS_OK) {
    assert_null(m); /* no partial output */
    assert_int_equal(m_len, 0);
  }
  doc_wipe_free(m, m_len);
  return rc;
}

static void test_vectors_valid(void **state)
{
  const json_t *valid = json_object_get(vectors_root, "valid"), *v;
  size_t i;

  (void)state;
  assert_true(json_array_size(valid) >= 8);
  json_array_foreach(valid, i, v) {
    size_t with = (size_t)json_integer_value(json_object_get(v, "decrypt_with"));
    keys_keyring *ring = vectors_ring(vectors_root, with);
    keys_public pub = vectors_public(vectors_root, with);
    const char *sealed = vectors_str(v, "sealed");
    uint8_t *want, *m = NULL, used[KEYS_ID_BYTES] = {0};
    size_t want_len, m_len = 0;
    keys_error err = {0};
    int rc;

    want = vectors_b64(vectors_str(v, "plaintext"), &want_len, 0);
    rc = keys_unseal(&m, &m_len, ring, vectors_str(v, "label"), sealed, strlen(sealed), used, &err);
    if (rc != KEYS_OK)
      fail_msg("valid[%zu] (%s): %s", i, vectors_str(v, "description"), err.message);
    assert_non_null(m);
    assert_int_equal(m_len, want_len);
    assert_memory_equal(m, want, want_len);
    assert_memory_equal(used, pub.id, KEYS_ID_BYTES);
    doc_wipe_free(m, m_len);
    free(want);
    keys_keyring_free(ring);
  }
}

static void test_vectors_invalid(void **state)
{
  const json_t *invalid = json_object_get(vectors_root, "invalid"), *v;
  size_t i;

  (void)state;
  assert_true(json_array_size(invalid) >= 19);
  json_array_foreach(invalid, i, v) {
    size_t with = (size_t)json_integer_value(json_object_get(v, "decrypt_with"));
    keys_keyring *ring = vectors_ring(vectors_root, with);
    keys_error err = {0};
    int want = status_of_why(vectors_str(v, "why")), rc;

    rc = unseal_text(ring, vectors_str(v, "label"), vectors_str(v, "sealed"), &err);
    if (rc != want)
      fail_msg("invalid[%zu] (%s): got %d (%s), want %d", i, vectors_str(v, "description"), rc,
               err.message, want);
    assert_int_equal(err.status, want);
    assert_true(strlen(err.message) > 0);
    keys_keyring_free(ring);
  }
}

static void test_no_key_message(void **state)
{
  const json_t *valid = json_object_get(vectors_root, "valid");
  const char *two = vectors_str(json_array_get(valid, 4), "sealed"); /* keys 0 and 1 */
  keys_keyring *ring = vectors_ring(vectors_root, 2);
  keys_public p0 = vectors_public(vectors_root, 0), p1 = vectors_public(vectors_root, 1);
  keys_error err = {0};

  (void)state;
  assert_int_equal(unseal_text(ring, "strict/kotaemon/api-keys/OPENAI_API_KEY", two, &err),
                   KEYS_ERR_NO_KEY);
  assert_string_equal(err.message, "no key for this value: sealed for key ids 3e221f7d13407cff, "
                                   "0a3c439fc108690d");
  assert_int_equal(err.n_ids, 2);
  assert_memory_equal(err.ids[0], p0.id, KEYS_ID_BYTES);
  assert_memory_equal(err.ids[1], p1.id, KEYS_ID_BYTES);
  keys_keyring_free(ring);
}

static void test_label_message(void **state)
{
  const char *one = vectors_str(json_array_get(json_object_get(vectors_root, "valid"), 0),
                                "sealed");
  keys_keyring *ring = vectors_ring(vectors_root, 0);
  keys_error err = {0};

  (void)state;
  assert_int_equal(unseal_text(ring, "strict/other/api-keys/OPENAI_API_KEY", one, &err),
                   KEYS_ERR_LABEL);
  assert_non_null(strstr(err.message, "\"strict/other/api-keys/OPENAI_API_KEY\""));
  assert_int_equal(err.n_ids, 1);
  keys_keyring_free(ring);
}

static void test_low_order_keys(void **state)
{
  const json_t *list = json_object_get(vectors_root, "low_order_public_keys"), *v;
  keys_public good;
  keys_keyring *ring = fresh_ring(&good, 1);
  size_t i;

  (void)state;
  assert_int_equal(json_array_size(list), 7);
  json_array_foreach(list, i, v) {
    uint8_t *pk = vectors_b64(json_string_value(v), NULL, KEYS_PUBLIC_BYTES);
    keys_public pub, both[2];
    keys_error err = {0};
    char *out = (char *)"untouched";

    assert_int_equal(keys_public_from_bytes(&pub, pk, &err), KEYS_ERR_WEAK_KEY);
    assert_non_null(strstr(err.message, "small order"));
    /* a caller that builds keys_public by hand is refused by seal too */
    memcpy(pub.pk, pk, KEYS_PUBLIC_BYTES);
    keys_id_of(pub.id, pub.pk);
    assert_int_equal(keys_seal(&out, &pub, 1, "cluster/token", (const uint8_t *)"x", 1, &err),
                     KEYS_ERR_WEAK_KEY);
    assert_null(out);
    both[0] = good;
    both[1] = pub;
    out = (char *)"untouched";
    assert_int_equal(keys_seal(&out, both, 2, "cluster/token", (const uint8_t *)"x", 1, &err),
                     KEYS_ERR_WEAK_KEY);
    assert_null(out);
    free(pk);
  }
  keys_keyring_free(ring);
}

static void roundtrip(keys_keyring *ring, const keys_public *pubs, size_t n, size_t size)
{
  uint8_t *m = malloc(size ? size : 1), *back = NULL;
  size_t back_len = 0, text_len;
  char *text = NULL;
  keys_error err = {0};

  assert_non_null(m);
  randombytes_buf(m, size);
  assert_int_equal(keys_seal(&text, pubs, n, "strict/ns/name/key", m, size, &err), KEYS_OK);
  text_len = strlen(text);
  assert_int_equal(text_len, sodium_base64_ENCODED_LEN(KEYS_OVERHEAD_BYTES(n) + size,
                                                       sodium_base64_VARIANT_ORIGINAL) -
                                 1);
  assert_int_equal(keys_unseal(&back, &back_len, ring, "strict/ns/name/key", text, text_len, NULL,
                               &err),
                   KEYS_OK);
  assert_non_null(back);
  assert_int_equal(back_len, size);
  assert_memory_equal(back, m, size);
  doc_wipe_free(back, back_len);
  free(text);
  free(m);
}

static void test_roundtrip_sizes(void **state)
{
  static const size_t sizes[] = {0,
                                 1,
                                 2,
                                 3,
                                 15,
                                 16,
                                 17,
                                 255,
                                 4096,
                                 65536,
                                 65537,
                                 KEYS_MAX_VALUE_BYTES - 1,
                                 KEYS_MAX_VALUE_BYTES};
  keys_public pub;
  keys_keyring *ring = fresh_ring(&pub, 1);
  uint8_t *big = calloc(1, KEYS_MAX_VALUE_BYTES + 1);
  char *out = (char *)"untouched";
  keys_error err = {0};

  (void)state;
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    roundtrip(ring, &pub, 1, sizes[i]);
  assert_non_null(big);
  assert_int_equal(keys_seal(&out, &pub, 1, "cluster/k", big, KEYS_MAX_VALUE_BYTES + 1, &err),
                   KEYS_ERR_INVALID);
  assert_null(out);
  free(big);
  keys_keyring_free(ring);
}

static void test_recipients(void **state)
{
  keys_public pubs[KEYS_MAX_RECIPIENTS + 1];
  keys_keyring *rings[KEYS_MAX_RECIPIENTS + 1];

  (void)state;
  for (size_t i = 0; i <= KEYS_MAX_RECIPIENTS; i++)
    rings[i] = fresh_ring(&pubs[i], (int64_t)i + 1);
  for (size_t n = 1; n <= KEYS_MAX_RECIPIENTS; n++) {
    const uint8_t m[] = "multi-cluster value";
    char *text = NULL;
    uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    size_t n_ids = 0;
    keys_error err = {0};

    assert_int_equal(keys_seal(&text, pubs, n, "cluster/k", m, sizeof(m), &err), KEYS_OK);
    assert_int_equal(keys_sealed_ids(ids, &n_ids, text, strlen(text), &err), KEYS_OK);
    assert_int_equal(n_ids, n);
    for (size_t i = 0; i < n; i++) {
      uint8_t *back = NULL, used[KEYS_ID_BYTES];
      size_t back_len = 0;

      assert_memory_equal(ids[i], pubs[i].id, KEYS_ID_BYTES);
      assert_int_equal(keys_unseal(&back, &back_len, rings[i], "cluster/k", text, strlen(text),
                                   used, &err),
                       KEYS_OK);
      assert_int_equal(back_len, sizeof(m));
      assert_memory_equal(back, m, sizeof(m));
      assert_memory_equal(used, pubs[i].id, KEYS_ID_BYTES);
      doc_wipe_free(back, back_len);
    }
    /* a cluster that is not a recipient is told which ones are */
    assert_int_equal(unseal_text(rings[KEYS_MAX_RECIPIENTS], "cluster/k", text, &err),
                     KEYS_ERR_NO_KEY);
    assert_int_equal(err.n_ids, n);
    assert_memory_equal(err.ids[n - 1], pubs[n - 1].id, KEYS_ID_BYTES);
    free(text);
  }
  {
    char *text = (char *)"untouched";
    keys_error err = {0};

    assert_int_equal(keys_seal(&text, pubs, KEYS_MAX_RECIPIENTS + 1, "cluster/k",
                               (const uint8_t *)"x", 1, &err),
                     KEYS_ERR_INVALID);
    assert_null(text);
    text = (char *)"untouched";
    assert_int_equal(keys_seal(&text, pubs, 0, "cluster/k", (const uint8_t *)"x", 1, &err),
                     KEYS_ERR_INVALID);
    assert_null(text);
  }
  for (size_t i = 0; i <= KEYS_MAX_RECIPIENTS; i++)
    keys_keyring_free(rings[i]);
}

static void test_two_keys_either(void **state)
{
  const json_t *keys = json_object_get(vectors_root, "keys");
  keys_public pubs[2] = {vectors_public(vectors_root, 0), vectors_public(vectors_root, 1)};
  keys_keyring *a = vectors_ring(vectors_root, 0), *b = vectors_ring(vectors_root, 1), *both = NULL;
  char armored[2 * KEYS_ARMOR_MAX];
  char *text = NULL;
  uint8_t *back = NULL, used[KEYS_ID_BYTES];
  size_t back_len = 0;
  keys_error err = {0};

  (void)state;
  assert_int_equal(keys_seal(&text, pubs, 2, "namespace/ns/k", (const uint8_t *)"pw", 2, &err),
                   KEYS_OK);
  assert_int_equal(unseal_text(a, "namespace/ns/k", text, &err), KEYS_OK);
  assert_int_equal(unseal_text(b, "namespace/ns/k", text, &err), KEYS_OK);
  /* a ring with both keys opens the first stanza in blob order */
  snprintf(armored, sizeof(armored), "%s%s",
           vectors_str(json_array_get(keys, 1), "private_armored"),
           vectors_str(json_array_get(keys, 0), "private_armored"));
  assert_int_equal(keys_keyring_new(&both), KEYS_OK);
  assert_int_equal(keys_armor_read_private(both, NULL, armored, strlen(armored), &err), KEYS_OK);
  assert_int_equal(keys_unseal(&back, &back_len, both, "namespace/ns/k", text, strlen(text), used,
                               &err),
                   KEYS_OK);
  assert_memory_equal(used, pubs[0].id, KEYS_ID_BYTES);
  assert_int_equal(back_len, 2);
  assert_memory_equal(back, "pw", 2);
  doc_wipe_free(back, back_len);
  /* duplicate recipients are refused */
  pubs[1] = pubs[0];
  free(text);
  text = (char *)"untouched";
  assert_int_equal(keys_seal(&text, pubs, 2, "namespace/ns/k", (const uint8_t *)"pw", 2, &err),
                   KEYS_ERR_INVALID);
  assert_null(text);
  assert_non_null(strstr(err.message, "twice"));
  keys_keyring_free(both);
  keys_keyring_free(a);
  keys_keyring_free(b);
}

/* Our first stanza does not open: refused as altered, the second one of ours
 * is not tried (docs/spec.md step 2). */
static void test_no_fallthrough(void **state)
{
  const json_t *keys = json_object_get(vectors_root, "keys");
  keys_public pubs[2] = {vectors_public(vectors_root, 0), vectors_public(vectors_root, 1)};
  keys_keyring *both = NULL, *second = vectors_ring(vectors_root, 1);
  char armored[2 * KEYS_ARMOR_MAX];
  char *text = NULL, *bad = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  keys_error err = {0};

  (void)state;
  snprintf(armored, sizeof(armored), "%s%s",
           vectors_str(json_array_get(keys, 0), "private_armored"),
           vectors_str(json_array_get(keys, 1), "private_armored"));
  assert_int_equal(keys_keyring_new(&both), KEYS_OK);
  assert_int_equal(keys_armor_read_private(both, NULL, armored, strlen(armored), &err), KEYS_OK);
  assert_int_equal(keys_seal(&text, pubs, 2, "cluster/k", (const uint8_t *)"v", 1, &err), KEYS_OK);
  assert_int_equal(keys_base64_decode(&blob, &blob_len, text, strlen(text)), KEYS_OK);
  blob[2 + KEYS_ID_BYTES + KEYS_PUBLIC_BYTES] ^= 1; /* first stanza's wrapped key */
  assert_int_equal(keys_base64_encode(&bad, NULL, blob, blob_len), KEYS_OK);
  assert_int_equal(unseal_text(both, "cluster/k", bad, &err), KEYS_ERR_ALTERED);
  assert_non_null(strstr(err.message, "3e221f7d13407cff"));
  assert_int_equal(err.n_ids, 2);
  /* key 1's stanza and the commitment still open (the body then fails, since
   * the header it authenticates changed): only the refusal to go on kept
   * the ring of both keys from getting that far */
  assert_int_equal(unseal_text(second, "cluster/k", bad, &err), KEYS_ERR_LABEL);
  free(bad);
  free(blob);
  free(text);
  keys_keyring_free(both);
  keys_keyring_free(second);
}

/* The status a flip at offset i of a one-recipient blob must give. */
static int flip_status(size_t i, size_t header_len)
{
  if (i < 2)
    return KEYS_ERR_MALFORMED; /* version, count */
  if (i < 2 + KEYS_ID_BYTES)
    return KEYS_ERR_NO_KEY; /* key id */
  if (i < 2 + KEYS_STANZA_BYTES)
    return KEYS_ERR_ALTERED; /* epk, wrapped */
  if (i < header_len - 32)
    return KEYS_ERR_LABEL; /* body nonce */
  if (i < header_len)
    return KEYS_ERR_ALTERED; /* commitment */
  return KEYS_ERR_LABEL;     /* body and tag */
}

static void test_flip_every_byte(void **state)
{
  keys_public pub;
  keys_keyring *ring = fresh_ring(&pub, 1);
  const uint8_t m[] = "hunter2";
  char *text = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0, header_len = 2 + KEYS_STANZA_BYTES + 56;
  keys_error err = {0};

  (void)state;
  assert_int_equal(keys_seal(&text, &pub, 1, "strict/a/b/c", m, sizeof(m), &err), KEYS_OK);
  assert_int_equal(keys_base64_decode(&blob, &blob_len, text, strlen(text)), KEYS_OK);
  assert_int_equal(blob_len, KEYS_OVERHEAD_BYTES(1) + sizeof(m));
  for (size_t i = 0; i < blob_len; i++) {
    for (int bit = 0; bit < 8; bit += 7) {
      char *bad = NULL;
      int rc;

      blob[i] ^= (uint8_t)(1u << bit);
      assert_int_equal(keys_base64_encode(&bad, NULL, blob, blob_len), KEYS_OK);
      blob[i] ^= (uint8_t)(1u << bit);
      rc = unseal_text(ring, "strict/a/b/c", bad, &err);
      if (rc != flip_status(i, header_len))
        fail_msg("byte %zu bit %d: got %d (%s), want %d", i, bit, rc, err.message,
                 flip_status(i, header_len));
      free(bad);
    }
  }
  /* every truncation, and one byte more */
  for (size_t len = 0; len <= blob_len; len++) {
    char *bad = NULL;
    uint8_t *longer = malloc(blob_len + 1);

    assert_non_null(longer);
    memcpy(longer, blob, blob_len);
    longer[blob_len] = 0;
    assert_int_equal(keys_base64_encode(&bad, NULL, longer, len == blob_len ? len + 1 : len),
                     KEYS_OK);
    assert_int_equal(unseal_text(ring, "strict/a/b/c", bad, &err),
                     len < KEYS_OVERHEAD_BYTES(1) ? KEYS_ERR_MALFORMED : KEYS_ERR_LABEL);
    free(bad);
    free(longer);
  }
  free(blob);
  free(text);
  keys_keyring_free(ring);
}

static void test_hostile_text(void **state)
{
  static const char *const bad[] = {
      "",
      "=",
      "====",
      "AQ==",
      "AQE=",
      " AQE+",
      "AQE+\n",
      "AQE+Ih99E0B8/7PXFmie+SlvulcRG6oA===",
      "AQE+Ih99E0B8/7PX\0mie",
      "not base64 at all",
      "AQEAAAAAAAAAAAAAAAAAAAAA",
  };
  keys_keyring *ring = vectors_ring(vectors_root, 0);
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  size_t n = 9;
  keys_error err = {0};
  char *huge;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(unseal_text(ring, "cluster/k", bad[i], &err), KEYS_ERR_MALFORMED);
    assert_int_equal(keys_sealed_ids(ids, &n, bad[i], strlen(bad[i]), &err), KEYS_ERR_MALFORMED);
    assert_int_equal(n, 0);
  }
  /* an embedded NUL is not canonical base64 either */
  assert_int_equal(keys_sealed_ids(ids, &n, "AQE+\0AAA", 8, &err), KEYS_ERR_MALFORMED);
  /* far longer than any value: refused before decoding */
  huge = malloc(3 * 1024 * 1024);
  assert_non_null(huge);
  memset(huge, 'A', 3 * 1024 * 1024);
  assert_int_equal(keys_sealed_ids(ids, &n, huge, 3 * 1024 * 1024, &err), KEYS_ERR_MALFORMED);
  assert_non_null(strstr(err.message, "more than"));
  free(huge);
  keys_keyring_free(ring);
}

static void test_bad_arguments(void **state)
{
  keys_public pub;
  keys_keyring *ring = fresh_ring(&pub, 1);
  char label[KEYS_LABEL_MAX + 10];
  char *text = NULL;
  uint8_t *m = NULL;
  size_t m_len = 0;
  keys_error err = {0};

  (void)state;
  memset(label, 'a', sizeof(label) - 1);
  label[sizeof(label) - 1] = '\0';
  assert_int_equal(keys_seal(&text, &pub, 1, label, (const uint8_t *)"x", 1, &err),
                   KEYS_ERR_INVALID);
  assert_null(text);
  assert_int_equal(keys_seal(&text, &pub, 1, NULL, (const uint8_t *)"x", 1, &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_seal(&text, &pub, 1, "cluster/k", NULL, 1, &err), KEYS_ERR_INVALID);
  assert_int_equal(keys_seal(&text, &pub, 1, "cluster/k", NULL, 0, &err), KEYS_OK);
  assert_int_equal(keys_unseal(&m, &m_len, NULL, "cluster/k", text, strlen(text), NULL, &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_unseal(&m, &m_len, ring, NULL, text, strlen(text), NULL, &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_unseal(&m, &m_len, ring, "cluster/k", text, strlen(text), NULL, NULL),
                   KEYS_OK);
  assert_non_null(m); /* never NULL on success, even when empty */
  assert_int_equal(m_len, 0);
  doc_wipe_free(m, m_len);
  doc_wipe_free(NULL, 0);
  free(text);
  keys_keyring_free(ring);
}

static void test_reseal(void **state)
{
  keys_public pubs[3], a2;
  keys_keyring *a = fresh_ring(&pubs[0], 1), *b = fresh_ring(&pubs[1], 1),
               *c = fresh_ring(&pubs[2], 1), *a_new = fresh_ring(&a2, 2);
  const uint8_t m[] = "db password";
  char *text = NULL, *again = NULL;
  uint8_t *old_blob = NULL, *new_blob = NULL, *back = NULL, used[KEYS_ID_BYTES];
  size_t old_len = 0, new_len = 0, back_len = 0;
  keys_error err = {0};

  (void)state;
  /* b, a, c: the stanza of a sits in the middle */
  {
    keys_public order[3] = {pubs[1], pubs[0], pubs[2]};

    assert_int_equal(keys_seal(&text, order, 3, "strict/ns/s/k", m, sizeof(m), &err), KEYS_OK);
  }
  assert_int_equal(keys_reseal(&again, a, &a2, "strict/ns/s/k", text, strlen(text), &err), KEYS_OK);
  assert_int_equal(keys_base64_decode(&old_blob, &old_len, text, strlen(text)), KEYS_OK);
  assert_int_equal(keys_base64_decode(&new_blob, &new_len, again, strlen(again)), KEYS_OK);
  assert_int_equal(new_len, old_len);
  assert_int_equal(new_blob[1], 3);
  /* b's and c's stanzas byte for byte, then the new one; commitment kept, nonce fresh */
  assert_memory_equal(new_blob + 2, old_blob + 2, KEYS_STANZA_BYTES);
  assert_memory_equal(new_blob + 2 + KEYS_STANZA_BYTES, old_blob + 2 + 2 * KEYS_STANZA_BYTES,
                      KEYS_STANZA_BYTES);
  assert_memory_equal(new_blob + 2 + 2 * KEYS_STANZA_BYTES, a2.id, KEYS_ID_BYTES);
  assert_memory_equal(new_blob + 2 + 3 * KEYS_STANZA_BYTES + 24,
                      old_blob + 2 + 3 * KEYS_STANZA_BYTES + 24, 32);
  assert_memory_not_equal(new_blob + 2 + 3 * KEYS_STANZA_BYTES,
                          old_blob + 2 + 3 * KEYS_STANZA_BYTES, 24);
  /* opens with the new key and the other clusters, no longer with the old key */
  assert_int_equal(keys_unseal(&back, &back_len, a_new, "strict/ns/s/k", again, strlen(again), used,
                               &err),
                   KEYS_OK);
  assert_int_equal(back_len, sizeof(m));
  assert_memory_equal(back, m, sizeof(m));
  assert_memory_equal(used, a2.id, KEYS_ID_BYTES);
  doc_wipe_free(back, back_len);
  assert_int_equal(unseal_text(b, "strict/ns/s/k", again, &err), KEYS_OK);
  assert_int_equal(unseal_text(c, "strict/ns/s/k", again, &err), KEYS_OK);
  assert_int_equal(unseal_text(a, "strict/ns/s/k", again, &err), KEYS_ERR_NO_KEY);
  free(again);
  again = (char *)"untouched";
  /* a ring without a key of the value, or under another label, cannot re-seal */
  assert_int_equal(keys_reseal(&again, a_new, &a2, "strict/ns/s/k", text, strlen(text), &err),
                   KEYS_ERR_NO_KEY);
  assert_null(again);
  assert_int_equal(keys_reseal(&again, a, &a2, "strict/ns/s/other", text, strlen(text), &err),
                   KEYS_ERR_LABEL);
  assert_null(again);
  /* re-sealing for a cluster that already has a stanza would duplicate it */
  assert_int_equal(keys_reseal(&again, a, &pubs[1], "strict/ns/s/k", text, strlen(text), &err),
                   KEYS_ERR_INVALID);
  assert_null(again);
  free(old_blob);
  free(new_blob);
  free(text);
  keys_keyring_free(a);
  keys_keyring_free(b);
  keys_keyring_free(c);
  keys_keyring_free(a_new);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_valid),   cmocka_unit_test(test_vectors_invalid),
      cmocka_unit_test(test_no_key_message),  cmocka_unit_test(test_label_message),
      cmocka_unit_test(test_low_order_keys),  cmocka_unit_test(test_roundtrip_sizes),
      cmocka_unit_test(test_recipients),      cmocka_unit_test(test_two_keys_either),
      cmocka_unit_test(test_flip_every_byte), cmocka_unit_test(test_no_fallthrough),
      cmocka_unit_test(test_hostile_text),    cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_reseal),
  };

  return vectors_main(argc, argv, "keys_value", tests, sizeof(tests) / sizeof(tests[0]));
}
