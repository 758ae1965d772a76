/* libmanifest: the key store. A key Secret built by manifest_key_secret_build
 * reads back with manifest_key_secret_parse; hostile key Secrets (what anyone
 * who may write Secrets in the key namespace can make) are refused with the
 * Secret and the field named, and leave no private key behind; the ConfigMap
 * of the public key is built new or from the live one. */
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

#include "manifest.h"
#include "banned.h"

#define T0 1764633600 /* 2025-12-02T00:00:00Z */
#define NS "seal-system"

typedef struct fixture {
  keys_keypair *k1, *k2;
  json_t *good; /* the key Secret of k1, backed up */
  char name[KEYS_NAME_MAX + 1];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  if (f == NULL || keys_keypair_generate(&f->k1, T0) != KEYS_OK ||
      keys_keypair_generate(&f->k2, T0 + 60) != KEYS_OK ||
      manifest_key_secret_build(&f->good, f->k1, NS, "2025-12-03T10:00:00Z", NULL) != MANIFEST_OK)
    return -1;
  manifest_key_secret_name(f->name, keys_keypair_public(f->k1)->id);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  json_decref(f->good);
  keys_keypair_free(f->k1);
  keys_keypair_free(f->k2);
  free(f);
  return 0;
}

/* base64 of text (a new string). */
static json_t *b64(const char *text, size_t len)
{
  char *out = NULL;
  size_t out_len = 0;
  assert_int_equal(keys_base64_encode(&out, &out_len, (const uint8_t *)text, len), KEYS_OK);
  json_t *s = json_string(out);
  sodium_memzero(out, out_len);
  free(out);
  assert_non_null(s);
  return s;
}

static json_t *private_b64(const keys_keypair *kp)
{
  char armor[KEYS_ARMOR_MAX];
  size_t len = 0;
  assert_int_equal(keys_armor_write_private(armor, sizeof armor, &len, kp), KEYS_OK);
  json_t *s = b64(armor, len);
  sodium_memzero(armor, sizeof armor);
  return s;
}

static json_t *public_b64(const keys_keypair *kp)
{
  char armor[KEYS_ARMOR_MAX];
  size_t len = 0;
  assert_int_equal(keys_armor_write_public(armor, sizeof armor, &len, keys_keypair_public(kp),
                                           keys_keypair_created(kp)),
                   KEYS_OK);
  return b64(armor, len);
}

static void test_name(void **state)
{
  fixture *f = *state;
  char hex[KEYS_ID_HEX_BYTES], want[64];
  keys_id_hex(hex, keys_keypair_public(f->k1)->id);
  snprintf(want, sizeof want, "seal-key-%s", hex);
  assert_string_equal(f->name, want);
}

static void test_built_secret(void **state)
{
  fixture *f = *state;
  const json_t *s = f->good;
  assert_string_equal(doc_get_string(s, "apiVersion", NULL), "v1");
  assert_string_equal(doc_get_string(s, "kind", NULL), "Secret");
  assert_string_equal(doc_get_string(s, "type", NULL), "seal.dev/key");
  assert_string_equal(doc_get_string(s, "metadata", "name", NULL), f->name);
  assert_string_equal(doc_get_string(s, "metadata", "namespace", NULL), NS);
  assert_string_equal(doc_get_string(s, "metadata", "labels", "seal.dev/key", NULL), "active");
  assert_string_equal(doc_get_string(s, "metadata", "annotations", "seal.dev/created-at", NULL),
                      "2025-12-02T00:00:00Z");
  assert_string_equal(doc_get_string(s, "metadata", "annotations", "seal.dev/backed-up-at", NULL),
                      "2025-12-03T10:00:00Z");
  assert_int_equal(json_object_size(json_object_get(s, "data")), 2);
  assert_int_equal(manifest_key_secret_untrusted(s) == NULL, 1);

  /* never backed up: no annotation; compromised: so labelled */
  json_t *c = NULL;
  keys_keypair_set_state(f->k2, KEYS_STATE_COMPROMISED);
  assert_int_equal(manifest_key_secret_build(&c, f->k2, NS, NULL, NULL), MANIFEST_OK);
  assert_null(doc_get(c, "metadata", "annotations", "seal.dev/backed-up-at", NULL));
  assert_string_equal(doc_get_string(c, "metadata", "labels", "seal.dev/key", NULL), "compromised");
  json_decref(c);

  /* a key of unknown creation time is dated 1970: never the newest */
  keys_keypair *old = NULL;
  assert_int_equal(keys_keypair_generate(&old, 0), KEYS_OK);
  assert_int_equal(manifest_key_secret_build(&c, old, NS, NULL, NULL), MANIFEST_OK);
  assert_string_equal(doc_get_string(c, "metadata", "annotations", "seal.dev/created-at", NULL),
                      "1970-01-01T00:00:00Z");
  json_decref(c);
  keys_keypair_free(old);

  manifest_error err = {0};
  c = json_true();
  assert_int_equal(manifest_key_secret_build(&c, f->k1, "Not_A_Namespace", NULL, &err),
                   MANIFEST_ERR_INVALID);
  assert_null(c);
  assert_non_null(strstr(err.message, "Not_A_Namespace"));
}

static void test_round_trip(void **state)
{
  fixture *f = *state;
  manifest_key_secret ks;
  manifest_error err = {0};
  char hex[KEYS_ID_HEX_BYTES];

  assert_int_equal(manifest_key_secret_parse(&ks, f->good, NS, &err), MANIFEST_OK);
  assert_int_equal(ks.fault, MANIFEST_KEY_SOUND);
  assert_string_equal(ks.name, f->name);
  assert_memory_equal(ks.id, keys_keypair_public(f->k1)->id, KEYS_ID_BYTES);
  keys_id_hex(hex, keys_keypair_public(f->k1)->id);
  assert_string_equal(ks.hex, hex);
  assert_int_equal(ks.compromised, 0);
  assert_int_equal(ks.created, T0);
  assert_int_equal(ks.backed_up, T0 + 86400 + 36000);
  assert_int_equal(ks.renew_requested, 0);
  /* the armor is the key pair's, and reads back as it */
  assert_non_null(ks.private_armor);
  assert_int_equal(strlen(ks.private_armor), ks.private_len);
  keys_keyring *ring = NULL;
  size_t added = 0;
  assert_int_equal(keys_keyring_new(&ring), KEYS_OK);
  assert_int_equal(keys_armor_read_private(ring, &added, ks.private_armor, ks.private_len, NULL),
                   KEYS_OK);
  assert_int_equal(added, 1);
  assert_memory_equal(keys_keypair_public(keys_keyring_at(ring, 0))->id, ks.id, KEYS_ID_BYTES);
  keys_keyring_free(ring);
  manifest_key_secret_clear(&ks);
  assert_null(ks.private_armor);
  assert_int_equal(ks.private_len, 0);
  manifest_key_secret_clear(&ks); /* twice is harmless */

  /* compromised, a renewal asked for, no created-at: the armor's Created */
  json_t *s = json_deep_copy(f->good);
  json_t *ann = doc_get(s, "metadata", "annotations", NULL);
  json_object_set_new(doc_get(s, "metadata", "labels", NULL), "seal.dev/key",
                      json_string("compromised"));
  json_object_del(ann, "seal.dev/created-at");
  json_object_set_new(ann, "seal.dev/renew-requested-at", json_string("2025-12-02T00:05:00Z"));
  assert_int_equal(manifest_key_secret_parse(&ks, s, NS, &err), MANIFEST_OK);
  assert_int_equal(ks.compromised, 1);
  assert_int_equal(ks.created, T0);
  assert_int_equal(ks.renew_requested, T0 + 300);
  manifest_key_secret_clear(&ks);

  /* a time that does not parse counts as absent: the key stays usable */
  json_object_set_new(ann, "seal.dev/created-at", json_string("yesterday"));
  json_object_set_new(ann, "seal.dev/backed-up-at", json_string(""));
  assert_int_equal(manifest_key_secret_parse(&ks, s, NS, &err), MANIFEST_OK);
  assert_int_equal(ks.created, T0);
  assert_int_equal(ks.backed_up, 0);
  manifest_key_secret_clear(&ks);

  /* public.key is optional, no annotations at all are fine */
  json_object_del(json_object_get(s, "data"), "public.key");
  json_object_del(json_object_get(s, "metadata"), "annotations");
  assert_int_equal(manifest_key_secret_parse(&ks, s, NS, &err), MANIFEST_OK);
  assert_memory_equal(ks.id, keys_keypair_public(f->k1)->id, KEYS_ID_BYTES);
  assert_int_equal(ks.backed_up, 0);
  manifest_key_secret_clear(&ks);
  json_decref(s);
}

/* ---- hostile key Secrets -------------------------------------------------- */

typedef void (*mutate_fn)(json_t *s, const fixture *f);

static void set_at(json_t *s, const char *where, const char *key, json_t *v)
{
  json_t *parent = strcmp(where, "") == 0 ? s : json_object_get(s, where);
  if (strcmp(where, "labels") == 0 || strcmp(where, "annotations") == 0)
    parent = doc_get(s, "metadata", where, NULL);
  else if (strcmp(where, "metadata") == 0)
    parent = json_object_get(s, "metadata");
  assert_non_null(parent);
  if (v == NULL)
    json_object_del(parent, key);
  else
    assert_int_equal(json_object_set_new(parent, key, v), 0);
}

static void m_no_metadata(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "", "metadata", NULL);
}
static void m_no_name(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "name", NULL);
}
static void m_name_number(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "name", json_integer(7));
}
static void m_name_long(json_t *s, const fixture *f)
{
  char name[400];
  (void)f;
  memset(name, 'a', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  set_at(s, "metadata", "name", json_string(name));
}
static void m_name_invalid(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "name", json_string("Seal_Key"));
}
static void m_opaque(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "", "type", json_string("Opaque"));
}
static void m_type_number(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "", "type", json_integer(1));
}
static void m_unsealed(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "labels", "seal.dev/unsealed", json_string("true"));
}
static void m_owned(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "ownerReferences",
         json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "seal.dev/v1", "kind", "SealedSecret",
                   "name", "x", "uid", "u"));
}
static void m_no_label(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "labels", "seal.dev/key", NULL);
}
static void m_label_other(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "labels", "seal.dev/key", json_string("revoked"));
}
static void m_label_number(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "labels", "seal.dev/key", json_integer(1));
}
static void m_labels_list(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "labels", json_pack("[s]", "seal.dev/key"));
}
static void m_annotations_string(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "metadata", "annotations", json_string("seal.dev/created-at"));
}
static void m_created_number(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "annotations", "seal.dev/created-at", json_integer(T0));
}
static void m_backed_up_object(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "annotations", "seal.dev/backed-up-at", json_object());
}
static void m_renew_null(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "annotations", "seal.dev/renew-requested-at", json_null());
}
static void m_no_data(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "", "data", NULL);
}
static void m_data_string(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "", "data", json_string("x"));
}
static void m_no_private(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", NULL);
}
static void m_private_number(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", json_integer(5));
}
static void m_private_bad_b64(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", json_string("not base64!"));
}
static void m_private_unpadded(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", json_string("aGVsbG8"));
}
static void m_private_oversized(json_t *s, const fixture *f)
{
  size_t n = MANIFEST_KEY_MAX_FIELD + 4;
  char *big = malloc(n + 1);
  (void)f;
  assert_non_null(big);
  memset(big, 'A', n);
  big[n] = '\0';
  set_at(s, "data", "private.key", json_string(big));
  free(big);
}
static void m_private_text(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", b64("hello", 5));
}
static void m_private_empty(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "private.key", json_string(""));
}
static void m_private_is_public(json_t *s, const fixture *f)
{
  set_at(s, "data", "private.key", public_b64(f->k1));
}
/* Two armored blocks (k1's and k2's) in one data field. */
static void two_blocks(json_t *s, const fixture *f, const char *field, int private)
{
  char two[2 * KEYS_ARMOR_MAX];
  size_t len[2] = {0, 0};
  const keys_keypair *kp[2] = {f->k1, f->k2};
  for (int i = 0; i < 2; i++) {
    char *at = two + (i ? len[0] : 0);
    size_t room = i ? sizeof two - len[0] : KEYS_ARMOR_MAX;
    if (private)
      assert_int_equal(keys_armor_write_private(at, room, &len[i], kp[i]), KEYS_OK);
    else
      assert_int_equal(keys_armor_write_public(at, room, &len[i], keys_keypair_public(kp[i]), T0),
                       KEYS_OK);
  }
  set_at(s, "data", field, b64(two, len[0] + len[1]));
  sodium_memzero(two, sizeof two);
}
static void m_private_two(json_t *s, const fixture *f)
{
  two_blocks(s, f, "private.key", 1);
}
static void m_private_cut(json_t *s, const fixture *f)
{
  char armor[KEYS_ARMOR_MAX];
  size_t len = 0;
  assert_int_equal(keys_armor_write_private(armor, sizeof armor, &len, f->k1), KEYS_OK);
  set_at(s, "data", "private.key", b64(armor, len / 2));
  sodium_memzero(armor, sizeof armor);
}
static void m_public_bad_b64(json_t *s, const fixture *f)
{
  (void)f;
  set_at(s, "data", "public.key", json_string("%%%%"));
}
static void m_public_other(json_t *s, const fixture *f)
{
  set_at(s, "data", "public.key", public_b64(f->k2));
}
static void m_public_is_private(json_t *s, const fixture *f)
{
  set_at(s, "data", "public.key", private_b64(f->k1));
}
static void m_public_two(json_t *s, const fixture *f)
{
  two_blocks(s, f, "public.key", 0);
}

typedef struct hostile {
  const char *what;
  mutate_fn mutate;
  manifest_key_fault fault;
  const char *message; /* after "key secret seal-system/<name>: " */
  int named;           /* the message names the Secret */
} hostile;

static const hostile cases[] = {
    {"no metadata", m_no_metadata, MANIFEST_KEY_MALFORMED, "no metadata", 0},
    {"no name", m_no_name, MANIFEST_KEY_MALFORMED, "metadata.name is missing or invalid", 0},
    {"name a number", m_name_number, MANIFEST_KEY_MALFORMED, "metadata.name", 0},
    {"name too long", m_name_long, MANIFEST_KEY_MALFORMED, "metadata.name", 0},
    {"name invalid", m_name_invalid, MANIFEST_KEY_MALFORMED, "metadata.name", 0},
    {"Opaque", m_opaque, MANIFEST_KEY_UNTRUSTED, "not of type seal.dev/key", 1},
    {"type a number", m_type_number, MANIFEST_KEY_UNTRUSTED, "not of type seal.dev/key", 1},
    {"unsealed", m_unsealed, MANIFEST_KEY_UNTRUSTED, "labelled seal.dev/unsealed", 1},
    {"owned", m_owned, MANIFEST_KEY_UNTRUSTED, "owned by a SealedSecret", 1},
    {"no label", m_no_label, MANIFEST_KEY_MALFORMED, "label seal.dev/key is not active or", 1},
    {"label other", m_label_other, MANIFEST_KEY_MALFORMED, "label seal.dev/key", 1},
    {"label number", m_label_number, MANIFEST_KEY_MALFORMED, "label seal.dev/key", 1},
    {"labels a list", m_labels_list, MANIFEST_KEY_MALFORMED, "label seal.dev/key", 1},
    {"annotations a string", m_annotations_string, MANIFEST_KEY_MALFORMED,
     "metadata.annotations is not a map", 1},
    {"created-at a number", m_created_number, MANIFEST_KEY_MALFORMED,
     "annotation seal.dev/created-at is not a string", 1},
    {"backed-up-at an object", m_backed_up_object, MANIFEST_KEY_MALFORMED,
     "annotation seal.dev/backed-up-at is not a string", 1},
    {"renew-requested-at null", m_renew_null, MANIFEST_KEY_MALFORMED,
     "annotation seal.dev/renew-requested-at is not a string", 1},
    {"no data", m_no_data, MANIFEST_KEY_EMPTY, "no data private.key", 1},
    {"data a string", m_data_string, MANIFEST_KEY_MALFORMED, "data is not a map", 1},
    {"no private.key", m_no_private, MANIFEST_KEY_EMPTY, "no data private.key", 1},
    {"private.key a number", m_private_number, MANIFEST_KEY_MALFORMED,
     "data private.key is not a string", 1},
    {"private.key not base64", m_private_bad_b64, MANIFEST_KEY_MALFORMED,
     "data private.key is not base64", 1},
    {"private.key unpadded", m_private_unpadded, MANIFEST_KEY_MALFORMED,
     "data private.key is not base64", 1},
    {"private.key oversized", m_private_oversized, MANIFEST_KEY_MALFORMED,
     "data private.key is over 16384 characters", 1},
    {"private.key text", m_private_text, MANIFEST_KEY_MALFORMED,
     "data private.key: no SEAL PRIVATE KEY block", 1},
    {"private.key empty", m_private_empty, MANIFEST_KEY_MALFORMED,
     "data private.key: no SEAL PRIVATE KEY block", 1},
    {"private.key a public key", m_private_is_public, MANIFEST_KEY_MALFORMED,
     "data private.key: no SEAL PRIVATE KEY block", 1},
    {"private.key two keys", m_private_two, MANIFEST_KEY_MALFORMED,
     "data private.key holds 2 private keys, not one", 1},
    {"private.key cut", m_private_cut, MANIFEST_KEY_MALFORMED, "data private.key: ", 1},
    {"public.key not base64", m_public_bad_b64, MANIFEST_KEY_MALFORMED,
     "data public.key is not base64", 1},
    {"public.key another key", m_public_other, MANIFEST_KEY_MISMATCH,
     "its public.key is not the public key of its private.key", 1},
    {"public.key a private key", m_public_is_private, MANIFEST_KEY_MALFORMED,
     "data public.key: ", 1},
    {"public.key two keys", m_public_two, MANIFEST_KEY_MALFORMED,
     "data public.key holds 2 public keys, not one", 1},
};

static void test_hostile_refused(void **state)
{
  fixture *f = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const hostile *h = &cases[i];
    manifest_key_secret ks;
    manifest_error err = {0};
    char want[600];
    json_t *s = json_deep_copy(f->good);
    assert_non_null(s);
    h->mutate(s, f);
    int rc = manifest_key_secret_parse(&ks, s, NS, &err);
    if (rc != MANIFEST_ERR_INVALID || ks.fault != h->fault)
      fail_msg("%s: status %d fault %d, want %d and %d (%s)", h->what, rc, (int)ks.fault,
               MANIFEST_ERR_INVALID, (int)h->fault, err.message);
    assert_int_equal(err.status, MANIFEST_ERR_INVALID);
    if (h->named)
      snprintf(want, sizeof want, "key secret " NS "/%s: %s", f->name, h->message);
    else
      snprintf(want, sizeof want, "key secret " NS "/");
    if (strncmp(err.message, want, strlen(want)) != 0 || strstr(err.message, h->message) == NULL)
      fail_msg("%s: message '%s', want '%s'", h->what, err.message, want);
    /* no private key is left behind, and clearing is still safe */
    assert_null(ks.private_armor);
    assert_int_equal(ks.private_len, 0);
    manifest_key_secret_clear(&ks);
    json_decref(s);
  }
}

static void test_not_an_object(void **state)
{
  manifest_key_secret ks;
  manifest_error err = {0};
  (void)state;
  json_t *arr = json_array();
  assert_int_equal(manifest_key_secret_parse(&ks, arr, NS, &err), MANIFEST_ERR_INVALID);
  assert_int_equal(ks.fault, MANIFEST_KEY_MALFORMED);
  assert_null(ks.private_armor);
  json_decref(arr);
  assert_int_equal(manifest_key_secret_parse(&ks, NULL, NULL, &err), MANIFEST_ERR_INVALID);
  assert_string_equal(err.message, "key secret ?/?: no metadata");
}

/* ---- the ConfigMap of the public key ------------------------------------- */

static void test_configmap(void **state)
{
  json_t *cm = NULL, *again = NULL;
  (void)state;
  assert_int_equal(manifest_cert_configmap_build(&cm, NULL, NS, "PEM 1", NULL), MANIFEST_OK);
  assert_string_equal(doc_get_string(cm, "apiVersion", NULL), "v1");
  assert_string_equal(doc_get_string(cm, "kind", NULL), "ConfigMap");
  assert_string_equal(doc_get_string(cm, "metadata", "name", NULL), "seal-public-keys");
  assert_string_equal(doc_get_string(cm, "metadata", "namespace", NULL), NS);
  assert_string_equal(manifest_cert_configmap_pem(cm), "PEM 1");
  assert_string_equal(doc_get_string(cm, "data", "cert.pem", NULL), "PEM 1");

  /* from the live one: its metadata kept, its data replaced */
  json_object_set_new(json_object_get(cm, "metadata"), "resourceVersion", json_string("42"));
  json_object_set_new(json_object_get(cm, "data"), "stray", json_string("x"));
  assert_int_equal(manifest_cert_configmap_build(&again, cm, NS, "", NULL), MANIFEST_OK);
  assert_string_equal(doc_get_string(again, "metadata", "resourceVersion", NULL), "42");
  assert_int_equal(json_object_size(json_object_get(again, "data")), 1);
  assert_string_equal(manifest_cert_configmap_pem(again), "");
  assert_string_equal(manifest_cert_configmap_pem(cm), "PEM 1"); /* live untouched */

  /* read: missing, or not a string */
  json_object_set_new(json_object_get(cm, "data"), "cert.pem", json_integer(1));
  assert_null(manifest_cert_configmap_pem(cm));
  json_object_del(cm, "data");
  assert_null(manifest_cert_configmap_pem(cm));
  assert_null(manifest_cert_configmap_pem(NULL));
  json_decref(cm);
  json_decref(again);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_built_secret, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_refused, setup, teardown),
      cmocka_unit_test(test_not_an_object),
      cmocka_unit_test(test_configmap),
  };
  if (manifest_init() != MANIFEST_OK)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
