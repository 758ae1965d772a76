/* Armored key blocks and key files. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "keys.h"
#include "vectors.h"

#include "banned.h"

static const char *key_text(size_t i, const char *what)
{
  return vectors_str(json_array_get(json_object_get(vectors_root, "keys"), i), what);
}

static int read_public(const char *text, keys_public **keys, size_t *n, keys_error *err)
{
  int rc = keys_armor_read_public(keys, n, text, strlen(text), err);

  if (rc != KEYS_OK) {
    assert_null(*keys);
    assert_int_equal(*n, 0);
  }
  return rc;
}

static void test_armored_vectors(void **state)
{
  const json_t *armored = json_object_get(vectors_root, "armored"), *v, *pub;
  size_t i, j;

  (void)state;
  assert_true(json_array_size(json_object_get(armored, "valid")) >= 2);
  json_array_foreach(json_object_get(armored, "valid"), i, v) {
    keys_public *keys = NULL;
    size_t n = 0;
    keys_error err = {0};

    if (read_public(vectors_str(v, "text"), &keys, &n, &err) != KEYS_OK)
      fail_msg("armored valid[%zu]: %s", i, err.message);
    assert_int_equal(n, json_array_size(json_object_get(v, "public")));
    json_array_foreach(json_object_get(v, "public"), j, pub) {
      uint8_t *pk = vectors_b64(json_string_value(pub), NULL, KEYS_PUBLIC_BYTES);
      uint8_t id[KEYS_ID_BYTES];

      assert_memory_equal(keys[j].pk, pk, KEYS_PUBLIC_BYTES);
      keys_id_of(id, pk);
      assert_memory_equal(keys[j].id, id, KEYS_ID_BYTES);
      free(pk);
    }
    free(keys);
  }
  assert_true(json_array_size(json_object_get(armored, "invalid")) >= 5);
  json_array_foreach(json_object_get(armored, "invalid"), i, v) {
    keys_public *keys = (keys_public *)1;
    size_t n = 9;
    keys_error err = {0};
    int rc = read_public(vectors_str(v, "text"), &keys, &n, &err);

    if (rc != KEYS_ERR_MALFORMED)
      fail_msg("armored invalid[%zu] (%s): got %d", i, vectors_str(v, "description"), rc);
    if (json_object_get(v, "expect") != NULL) {
      assert_non_null(strstr(err.message, vectors_str(v, "expect")));
      assert_non_null(
          strstr(err.message, "a private key was given where a public key is expected"));
    }
  }
}

static void test_vector_keys(void **state)
{
  (void)state;
  for (size_t i = 0; i < 3; i++) {
    keys_public *keys = NULL, pub = vectors_public(vectors_root, i);
    keys_keyring *ring = NULL;
    const keys_keypair *kp;
    size_t n = 0, added = 0;
    char hex[KEYS_ID_HEX_BYTES];
    const char *priv = key_text(i, "private_armored");

    assert_int_equal(read_public(key_text(i, "public_armored"), &keys, &n, NULL), KEYS_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0].pk, pub.pk, KEYS_PUBLIC_BYTES);
    keys_id_hex(hex, keys[0].id);
    assert_string_equal(hex, key_text(i, "kid"));
    free(keys);
    assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
    assert_int_equal(keys_armor_read_private(ring, &added, priv, strlen(priv), NULL), KEYS_OK);
    assert_int_equal(added, 1);
    kp = keys_keyring_find(ring, pub.id);
    assert_non_null(kp);
    assert_memory_equal(keys_keypair_public(kp)->pk, pub.pk, KEYS_PUBLIC_BYTES);
    assert_int_equal(keys_keypair_created(kp), 0); /* no header: 0 and active */
    assert_int_equal(keys_keypair_state(kp), KEYS_STATE_ACTIVE);
    keys_keyring_free(ring);
  }
}

static void test_armor_hostile(void **state)
{
  static const char *const bad[] = {
      /* END of another type */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "-----END SEAL PRIVATE KEY-----\n",
      /* a header after the key line */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "Key-Id: 3e221f7d13407cff\n-----END SEAL PUBLIC KEY-----\n",
      /* a second key line */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "YuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n-----END SEAL PUBLIC KEY-----\n",
      /* no key line */
      "-----BEGIN SEAL PUBLIC KEY-----\nKey-Id: 3e221f7d13407cff\n-----END SEAL PUBLIC KEY-----\n",
      /* an empty line inside */
      "-----BEGIN SEAL PUBLIC KEY-----\n\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "-----END SEAL PUBLIC KEY-----\n",
      /* BEGIN inside a block */
      "-----BEGIN SEAL PUBLIC KEY-----\n-----BEGIN SEAL PUBLIC KEY-----\n"
      "YuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n-----END SEAL PUBLIC KEY-----\n",
      /* a header name outside [A-Za-z0-9-] */
      "-----BEGIN SEAL PUBLIC KEY-----\nKey_Id: 3e221f7d13407cff\n"
      "YuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n-----END SEAL PUBLIC KEY-----\n",
      /* 33 bytes: no padding */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCsA\n"
      "-----END SEAL PUBLIC KEY-----\n",
      /* non-zero unused bits */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCt=\n"
      "-----END SEAL PUBLIC KEY-----\n",
      /* a byte above 0x7f, which libsodium 1.0.18 alone takes for 'A' */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQ\xc1s=\n"
      "-----END SEAL PUBLIC KEY-----\n",
      /* trailing space on the key line */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs= \n"
      "-----END SEAL PUBLIC KEY-----\n",
      /* an invalid Created */
      "-----BEGIN SEAL PUBLIC KEY-----\nCreated: yesterday\n"
      "YuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n-----END SEAL PUBLIC KEY-----\n",
      /* a BEGIN line with a trailing blank: the key would be lost */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "-----END SEAL PUBLIC KEY-----\n-----BEGIN SEAL PUBLIC KEY----- \n"
      "34FGUqtAAA4knx2OE8D9l7oq2LI/rnw81+lo0+iJLgc=\n-----END SEAL PUBLIC KEY-----\n",
      /* another kind of block */
      "-----BEGIN SEAL SECRET KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "-----END SEAL SECRET KEY-----\n",
      /* an END without BEGIN */
      "-----BEGIN SEAL PUBLIC KEY-----\nYuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
      "-----END SEAL PUBLIC KEY-----\n-----END SEAL PUBLIC KEY-----\n",
      /* no block at all */
      "just text\n",
      "",
  };

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    keys_public *keys = NULL;
    size_t n = 0;
    keys_error err = {0};

    if (read_public(bad[i], &keys, &n, &err) != KEYS_ERR_MALFORMED)
      fail_msg("hostile armor %zu was not refused as malformed", i);
    assert_true(strlen(err.message) > 0);
  }
}

/* The form a cluster publishes its key in: one block, blank lines around it. */
static void test_armor_one_public(void **state)
{
  const char *a = key_text(0, "public_armored"), *b = key_text(1, "public_armored");
  const char *priv = key_text(0, "private_armored");
  const keys_public want = vectors_public(vectors_root, 0);
  char text[4 * KEYS_ARMOR_MAX];
  keys_public got;
  keys_error err = {0};
  struct {
    const char *fmt, *why;
  } bad[] = {
      {"%s%s", "2 SEAL PUBLIC KEY blocks, want exactly one"},
      {"x\n%s", "line 1: text outside the key block"},
      {"%s\n# a comment\n", "text outside the key block"},
      {"%s%s", NULL}, /* a private block after the public one */
      {"", "no SEAL PUBLIC KEY block"},
  };

  (void)state;
  snprintf(text, sizeof(text), "\n \t\r\n%s\n\n", a);
  assert_int_equal(keys_armor_read_one_public(&got, text, strlen(text), &err), KEYS_OK);
  assert_memory_equal(got.pk, want.pk, sizeof(want.pk));
  assert_memory_equal(got.id, want.id, sizeof(want.id));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (i == 3)
      snprintf(text, sizeof(text), bad[i].fmt, a, priv);
    else
      snprintf(text, sizeof(text), bad[i].fmt, a, b);
    memset(&err, 0, sizeof(err));
    assert_int_equal(keys_armor_read_one_public(&got, text, strlen(text), &err),
                     KEYS_ERR_MALFORMED);
    assert_non_null(strstr(err.message, bad[i].why ? bad[i].why : "private key"));
  }
  /* the lenient reader takes the text around blocks, as before */
  snprintf(text, sizeof(text), "x\n%s", a);
  {
    keys_public *keys = NULL;
    size_t n = 0;
    assert_int_equal(keys_armor_read_public(&keys, &n, text, strlen(text), &err), KEYS_OK);
    assert_int_equal(n, 1);
    free(keys);
  }
}

static void test_armor_limits(void **state)
{
  const char *good = key_text(0, "public_armored");
  size_t good_len = strlen(good), end_at = strstr(good, "-----END") - good + 29;
  char *text;
  keys_public *keys = NULL;
  size_t n = 0;
  keys_error err = {0};
  uint8_t *lo;

  (void)state;
  /* every prefix of a block: only those holding the whole END line read */
  for (size_t len = 0; len <= good_len; len++) {
    int rc = keys_armor_read_public(&keys, &n, good, len, &err);

    assert_int_equal(rc, len >= end_at ? KEYS_OK : KEYS_ERR_MALFORMED);
    free(keys);
    keys = NULL;
  }
  /* a block longer than KEYS_ARMOR_MAX: many headers */
  text = malloc(64 * 40 + 200);
  assert_non_null(text);
  {
    size_t o = (size_t)snprintf(text, 200, "-----BEGIN SEAL PUBLIC KEY-----\n");

    for (int i = 0; i < 40; i++)
      o += (size_t)snprintf(text + o, 64, "X-Note: %-40d\n", i);
    snprintf(text + o, 200,
             "YuikXitt4ImDLWg46N341AyyB2+Oi4cuCLCkyTlpQCs=\n"
             "-----END SEAL PUBLIC KEY-----\n");
  }
  assert_int_equal(read_public(text, &keys, &n, &err), KEYS_ERR_MALFORMED);
  assert_non_null(strstr(err.message, "longer than"));
  free(text);
  /* a NUL inside a block */
  assert_int_equal(keys_armor_read_public(&keys, &n, "-----BEGIN SEAL PUBLIC KEY-----\nYuik\0", 38,
                                          &err),
                   KEYS_ERR_MALFORMED);
  /* a low-order public key in armor */
  lo = vectors_b64(json_string_value(
                       json_array_get(json_object_get(vectors_root, "low_order_public_keys"), 2)),
                   NULL, KEYS_PUBLIC_BYTES);
  {
    char armored[KEYS_ARMOR_MAX];
    keys_public raw;
    size_t len = 0;

    memcpy(raw.pk, lo, KEYS_PUBLIC_BYTES);
    keys_id_of(raw.id, raw.pk);
    assert_int_equal(keys_armor_write_public(armored, sizeof(armored), &len, &raw, 0), KEYS_OK);
    assert_int_equal(read_public(armored, &keys, &n, &err), KEYS_ERR_WEAK_KEY);
    assert_non_null(strstr(err.message, "line 1: "));
  }
  free(lo);
}

static void test_armor_write_read(void **state)
{
  keys_keypair *kp = NULL;
  keys_keyring *ring = NULL;
  keys_public *keys = NULL;
  char out[KEYS_ARMOR_MAX], small[40], hex[KEYS_ID_HEX_BYTES], line[64];
  size_t len = 0, n = 0, added = 0;
  const keys_keypair *back;
  const int64_t created = 1795564800; /* 2026-11-25T00:00:00Z */

  (void)state;
  assert_int_equal(keys_keypair_generate(&kp, created), KEYS_OK);
  keys_id_hex(hex, keys_keypair_public(kp)->id);
  snprintf(line, sizeof(line), "Key-Id: %s\n", hex);

  assert_int_equal(keys_armor_write_public(out, sizeof(out), &len, keys_keypair_public(kp),
                                           created),
                   KEYS_OK);
  assert_int_equal(len, strlen(out));
  assert_true(strncmp(out, "-----BEGIN SEAL PUBLIC KEY-----\n", 32) == 0);
  assert_non_null(strstr(out, line));
  assert_non_null(strstr(out, "Created: 2026-11-25T00:00:00Z\n"));
  assert_null(strstr(out, "State:"));
  assert_int_equal(read_public(out, &keys, &n, NULL), KEYS_OK);
  assert_int_equal(n, 1);
  assert_memory_equal(&keys[0], keys_keypair_public(kp), sizeof(keys_public));
  free(keys);
  keys = NULL;
  /* created 0: no Created header */
  assert_int_equal(keys_armor_write_public(out, sizeof(out), &len, keys_keypair_public(kp), 0),
                   KEYS_OK);
  assert_null(strstr(out, "Created:"));
  /* too small: nothing half-written */
  assert_int_equal(keys_armor_write_public(small, sizeof(small), &len, keys_keypair_public(kp), 0),
                   KEYS_ERR_INVALID);
  assert_int_equal(small[0], '\0');

  keys_keypair_set_state(kp, KEYS_STATE_COMPROMISED);
  assert_int_equal(keys_armor_write_private(out, sizeof(out), &len, kp), KEYS_OK);
  assert_true(strncmp(out, "-----BEGIN SEAL PRIVATE KEY-----\n", 33) == 0);
  assert_non_null(strstr(out, line));
  assert_non_null(strstr(out, "Created: 2026-11-25T00:00:00Z\n"));
  assert_non_null(strstr(out, "State: compromised\n"));
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  assert_int_equal(keys_armor_read_private(ring, &added, out, len, NULL), KEYS_OK);
  sodium_memzero(out, sizeof(out));
  assert_int_equal(added, 1);
  back = keys_keyring_find(ring, keys_keypair_public(kp)->id);
  assert_non_null(back);
  assert_memory_equal(keys_keypair_public(back), keys_keypair_public(kp), sizeof(keys_public));
  assert_int_equal(keys_keypair_created(back), created);
  assert_int_equal(keys_keypair_state(back), KEYS_STATE_COMPROMISED);
  assert_null(keys_keyring_newest_active(ring));
  /* a private block is refused where public keys are read */
  assert_int_equal(keys_armor_write_private(out, sizeof(out), &len, kp), KEYS_OK);
  assert_int_equal(read_public(out, &keys, &n, NULL), KEYS_ERR_MALFORMED);
  /* the private key is the same: a value sealed for the public key opens */
  {
    char *sealed = NULL;
    uint8_t *m = NULL;
    size_t m_len = 0;

    assert_int_equal(keys_seal(&sealed, keys_keypair_public(kp), 1, "cluster/k",
                               (const uint8_t *)"v", 1, NULL),
                     KEYS_OK);
    assert_int_equal(keys_unseal(&m, &m_len, ring, "cluster/k", sealed, strlen(sealed), NULL, NULL),
                     KEYS_OK);
    doc_wipe_free(m, m_len);
    free(sealed);
  }
  sodium_memzero(out, sizeof(out));
  keys_keypair_free(kp);
  keys_keyring_free(ring);
}

static void test_read_private_all_or_nothing(void **state)
{
  char text[4 * KEYS_ARMOR_MAX];
  keys_keyring *ring = NULL;
  size_t added = 7;
  keys_error err = {0};

  (void)state;
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  /* public blocks are skipped; headers are read */
  snprintf(text, sizeof(text),
           "backup of prod\n%s"
           "-----BEGIN SEAL PRIVATE KEY-----\r\nCreated: 2026-01-02T03:04:05+01:00\r\n"
           "State: active\r\nComment: anything\r\n%s\r\n-----END SEAL PRIVATE KEY-----\r\n%s",
           key_text(0, "public_armored"), key_text(1, "private"), key_text(2, "private_armored"));
  assert_int_equal(keys_armor_read_private(ring, &added, text, strlen(text), &err), KEYS_OK);
  assert_int_equal(added, 2);
  assert_int_equal(keys_keyring_count(ring), 2);
  {
    keys_public p1 = vectors_public(vectors_root, 1);
    const keys_keypair *kp = keys_keyring_find(ring, p1.id);

    assert_non_null(kp);
    assert_int_equal(keys_keypair_created(kp), 1767319445); /* 2026-01-02T02:04:05Z */
  }
  /* the same keys again (a second backup file): nothing new, no error */
  assert_int_equal(keys_armor_read_private(ring, &added, text, strlen(text), &err), KEYS_OK);
  assert_int_equal(added, 0);
  assert_int_equal(keys_keyring_count(ring), 2);
  keys_keyring_free(ring);
  ring = NULL;

  /* a good block, then a bad State: nothing added */
  static const char *const tails[] = {
      "-----BEGIN SEAL PRIVATE KEY-----\nState: revoked\n%s\n-----END SEAL PRIVATE KEY-----\n",
      "-----BEGIN SEAL PRIVATE KEY-----\nCreated: 2026-13-01T00:00:00Z\n%s\n"
      "-----END SEAL PRIVATE KEY-----\n",
      "-----BEGIN SEAL PRIVATE KEY-----\nState: active\nState: active\n%s\n"
      "-----END SEAL PRIVATE KEY-----\n",
      "-----BEGIN SEAL PRIVATE KEY-----\n%s\n-----END SEAL PUBLIC KEY-----\n",
      "-----BEGIN SEAL PRIVATE KEY-----\n%s\n",
  };
  for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
    char tail[KEYS_ARMOR_MAX];

    assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
    snprintf(tail, sizeof(tail), tails[i], key_text(1, "private"));
    snprintf(text, sizeof(text), "%s%s", key_text(0, "private_armored"), tail);
    assert_int_equal(keys_armor_read_private(ring, &added, text, strlen(text), &err),
                     KEYS_ERR_MALFORMED);
    assert_int_equal(added, 0);
    assert_int_equal(keys_keyring_count(ring), 0);
    keys_keyring_free(ring);
    ring = NULL;
  }
  /* the same key twice in one text: added once */
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  snprintf(text, sizeof(text), "%s%s", key_text(0, "private_armored"),
           key_text(0, "private_armored"));
  assert_int_equal(keys_armor_read_private(ring, &added, text, strlen(text), &err), KEYS_OK);
  assert_int_equal(added, 1);
  assert_int_equal(keys_keyring_count(ring), 1);
  /* a bad block after a known key: the known key stays, nothing else added */
  snprintf(text, sizeof(text), "%s%s", key_text(0, "private_armored"),
           "-----BEGIN SEAL PRIVATE KEY-----\nState: revoked\n");
  assert_int_equal(keys_armor_read_private(ring, &added, text, strlen(text), &err),
                   KEYS_ERR_MALFORMED);
  assert_int_equal(keys_keyring_count(ring), 1);
  keys_keyring_free(ring);
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  /* only public keys: no private key to read */
  assert_int_equal(keys_armor_read_private(ring, &added, key_text(0, "public_armored"),
                                           strlen(key_text(0, "public_armored")), &err),
                   KEYS_ERR_MALFORMED);
  keys_keyring_free(ring);
  sodium_memzero(text, sizeof(text));
}

/* ---- files ---------------------------------------------------------------- */

static char tmpdir[64];

static int make_dir(void **state)
{
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/keys-test-XXXXXX");
  return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char path[512];

  (void)state;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
    unlink(path);
  }
  closedir(d);
  return rmdir(tmpdir);
}

/* How many names in the folder hold ".tmp-" (left-over temporary files). */
static int leftovers(void)
{
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;

  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += strstr(e->d_name, ".tmp-") != NULL;
  closedir(d);
  return n;
}

static void expect_file(const char *path, const char *want, unsigned mode)
{
  char *data = NULL;
  size_t len = 0;
  struct stat st;

  assert_int_equal(keys_file_read(&data, &len, path, 1024, NULL), KEYS_OK);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(data, want, len);
  assert_int_equal(data[len], '\0');
  free(data);
  assert_int_equal(lstat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, mode);
}

static void test_file_write(void **state)
{
  char path[256], link_path[256];
  keys_error err = {0};

  (void)state;
  snprintf(path, sizeof(path), "%s/private.key", tmpdir);
  assert_int_equal(keys_file_write(path, "secret\n", 7, 0600, 0, &err), KEYS_OK);
  expect_file(path, "secret\n", 0600);
  assert_int_equal(leftovers(), 0);
  /* not overwritten without the flag; the old content stays */
  assert_int_equal(keys_file_write(path, "other\n", 6, 0600, 0, &err), KEYS_ERR_EXISTS);
  assert_non_null(strstr(err.message, "already exists"));
  expect_file(path, "secret\n", 0600);
  assert_int_equal(leftovers(), 0);
  /* overwritten with it, with the new mode */
  assert_int_equal(keys_file_write(path, "other\n", 6, 0644, 1, &err), KEYS_OK);
  expect_file(path, "other\n", 0644);
  assert_int_equal(leftovers(), 0);
  /* an empty file */
  snprintf(path, sizeof(path), "%s/empty", tmpdir);
  assert_int_equal(keys_file_write(path, NULL, 0, 0600, 0, &err), KEYS_OK);
  expect_file(path, "", 0600);
  /* a dangling link is a name that exists: not followed, not replaced */
  snprintf(link_path, sizeof(link_path), "%s/dangling", tmpdir);
  snprintf(path, sizeof(path), "%s/target", tmpdir);
  assert_int_equal(symlink(path, link_path), 0);
  assert_int_equal(keys_file_write(link_path, "x", 1, 0600, 0, &err), KEYS_ERR_EXISTS);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(leftovers(), 0);
  /* a folder that does not exist */
  snprintf(path, sizeof(path), "%s/missing/file", tmpdir);
  assert_int_equal(keys_file_write(path, "x", 1, 0600, 0, &err), KEYS_ERR_IO);
  assert_int_equal(keys_file_write("", "x", 1, 0600, 0, &err), KEYS_ERR_INVALID);
  snprintf(path, sizeof(path), "%s/", tmpdir);
  assert_int_equal(keys_file_write(path, "x", 1, 0600, 1, &err), KEYS_ERR_INVALID);
  assert_int_equal(leftovers(), 0);
}

static void test_file_read(void **state)
{
  char path[256];
  char *data = (char *)"untouched";
  size_t len = 9;
  keys_error err = {0};

  (void)state;
  snprintf(path, sizeof(path), "%s/hundred", tmpdir);
  {
    char buf[100];

    memset(buf, 'k', sizeof(buf));
    assert_int_equal(keys_file_write(path, buf, sizeof(buf), 0600, 1, &err), KEYS_OK);
  }
  assert_int_equal(keys_file_read(&data, &len, path, 99, &err), KEYS_ERR_IO);
  assert_null(data);
  assert_int_equal(len, 0);
  assert_non_null(strstr(err.message, "more than"));
  assert_int_equal(keys_file_read(&data, &len, path, 100, &err), KEYS_OK);
  assert_int_equal(len, 100);
  free(data);
  /* a device without a size is read up to the limit, no further */
  assert_int_equal(keys_file_read(&data, &len, "/dev/zero", 10000, &err), KEYS_ERR_IO);
  assert_null(data);
  snprintf(path, sizeof(path), "%s/absent", tmpdir);
  assert_int_equal(keys_file_read(&data, &len, path, 100, &err), KEYS_ERR_IO);
  assert_non_null(strstr(err.message, "absent"));
  assert_int_equal(keys_file_read(&data, &len, tmpdir, 100, &err), KEYS_ERR_IO);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_armored_vectors),
      cmocka_unit_test(test_vector_keys),
      cmocka_unit_test(test_armor_hostile),
      cmocka_unit_test(test_armor_one_public),
      cmocka_unit_test(test_armor_limits),
      cmocka_unit_test(test_armor_write_read),
      cmocka_unit_test(test_read_private_all_or_nothing),
      cmocka_unit_test_setup_teardown(test_file_write, make_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_file_read, make_dir, remove_dir),
  };

  return vectors_main(argc, argv, "keys_armor", tests, sizeof(tests) / sizeof(tests[0]));
}
