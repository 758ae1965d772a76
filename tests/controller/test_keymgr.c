/* The key manager's handling of key Secret watch events (no API requests are
 * made for them): keys added, relabelled compromised, deleted or re-keyed are
 * reflected in the keyring, the published certificate (the newest active key:
 * a compromised key never seals) and the seal_keys metric; malformed key
 * Secrets are ignored without touching the keys already loaded. */
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

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

#define T0 1700000000

typedef struct fixture {
  ctl c;
  keys_keypair *k1; /* older */
  keys_keypair *k2; /* newer */
} fixture;

static json_t *key_secret(const char *name, const keys_keypair *kp, const char *label)
{
  char armor[KEYS_ARMOR_MAX];
  size_t len = 0;
  char *b64 = NULL;
  size_t b64_len = 0;
  assert_int_equal(keys_armor_write_private(armor, sizeof(armor), &len, kp), KEYS_OK);
  assert_int_equal(keys_base64_encode(&b64, &b64_len, (const uint8_t *)armor, len), KEYS_OK);
  sodium_memzero(armor, sizeof(armor));
  json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s}}", "apiVersion", "v1",
                        "kind", "Secret", "metadata", "name", name, "namespace", "seal-system",
                        "labels", "seal.dev/key", label, "type", "seal.dev/key", "data",
                        "private.key", b64);
  sodium_memzero(b64, b64_len);
  free(b64);
  assert_non_null(s);
  return s;
}

static json_t *raw_secret(const char *name, const char *private_b64)
{
  json_t *s = json_pack("{s:{s:s, s:{s:s}}, s:s, s:{}}", "metadata", "name", name, "labels",
                        "seal.dev/key", "active", "type", "seal.dev/key", "data");
  assert_non_null(s);
  if (private_b64)
    json_object_set_new(json_object_get(s, "data"), "private.key", json_string(private_b64));
  return s;
}

static int event(fixture *f, kube_event_type type, json_t *s)
{
  int rc = ctl_keymgr_on_secret(&f->c, type, s);
  json_decref(s);
  return rc;
}

static void expect_newest(fixture *f, const keys_keypair *kp)
{
  if (kp == NULL) {
    assert_int_equal(f->c.keys.have_newest, 0);
    assert_string_equal(f->c.keys.cert, "");
    return;
  }
  char want[KEYS_ARMOR_MAX];
  size_t len = 0;
  assert_int_equal(keys_armor_write_public(want, sizeof(want), &len, keys_keypair_public(kp),
                                           keys_keypair_created(kp)),
                   KEYS_OK);
  assert_int_equal(f->c.keys.have_newest, 1);
  assert_memory_equal(f->c.keys.newest_id, keys_keypair_public(kp)->id, KEYS_ID_BYTES);
  assert_string_equal(f->c.keys.cert, want);
}

static void expect_metric(long active, long compromised)
{
  char *text = NULL;
  size_t len = 0;
  char want[128];
  assert_int_equal(ctl_metrics_render(&text, &len), 0);
  snprintf(want, sizeof(want),
           "\nseal_keys{state=\"active\"} %ld\nseal_keys{state=\"compromised\"} %ld\n", active,
           compromised);
  if (strstr(text, want) == NULL)
    fail_msg("metrics lack '%s'", want + 1);
  free(text);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof(*f));
  if (f == NULL || ctl_keymgr_init(&f->c.keys) != 0)
    return -1;
  snprintf(f->c.key_namespace, sizeof(f->c.key_namespace), "seal-system");
  if (keys_keypair_generate(&f->k1, T0) != KEYS_OK ||
      keys_keypair_generate(&f->k2, T0 + 60) != KEYS_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  ctl_keymgr_destroy(&f->c.keys);
  keys_keypair_free(f->k1);
  keys_keypair_free(f->k2);
  free(f);
  return 0;
}

static void test_keys_added_newest_published(void **state)
{
  fixture *f = *state;
  expect_newest(f, NULL);
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k1);
  assert_int_equal(f->c.keys.cm_dirty, 1);
  expect_metric(1, 0);
  /* the same key again (a resync, a MODIFIED with other fields) changes nothing */
  long gen = f->c.keys.generation;
  f->c.keys.cm_dirty = 0;
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-1", f->k1, "active")), 0);
  assert_int_equal(f->c.keys.generation, gen);
  assert_int_equal(f->c.keys.cm_dirty, 0);
  /* a newer key becomes the one that seals */
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 2);
  expect_newest(f, f->k2);
  assert_int_equal(f->c.keys.cm_dirty, 1);
  assert_true(f->c.keys.generation > gen);
  expect_metric(2, 0);
  /* an older key arriving later does not replace it */
  f->c.keys.cm_dirty = 0;
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-1", f->k1, "active")), 0);
  expect_newest(f, f->k2);
}

static void test_compromised_key_never_seals(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-2", f->k2, "compromised")),
                   1);
  /* still held (it unseals), no longer published */
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 2);
  expect_newest(f, f->k1);
  expect_metric(1, 1);
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-1", f->k1, "compromised")),
                   1);
  expect_newest(f, NULL);
  expect_metric(0, 2);
  /* relabelled active again */
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-2", f->k2, "active")), 1);
  expect_newest(f, f->k2);
  expect_metric(1, 1);
}

static void test_deleted_key_dropped(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k1);
  expect_metric(1, 0);
  /* deleting what is not there changes nothing */
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("seal-key-2", f->k2, "active")), 0);
  assert_int_equal(event(f, KUBE_EVENT_DELETED, raw_secret("seal-key-9", NULL)), 0);
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("seal-key-1", f->k1, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 0);
  expect_newest(f, NULL);
}

static void test_rekeyed_secret_replaces_its_key(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-x", f->k1, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("seal-key-x", f->k2, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k2);
  uint8_t id1[KEYS_ID_BYTES];
  memcpy(id1, keys_keypair_public(f->k1)->id, KEYS_ID_BYTES);
  assert_null(keys_keyring_find(f->c.keys.ring, id1));
}

static void test_malformed_key_secrets_ignored(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
  long gen = f->c.keys.generation;

  /* public armor where the private key belongs */
  char pub[KEYS_ARMOR_MAX];
  size_t len = 0;
  char *pub_b64 = NULL;
  size_t pub_b64_len = 0;
  assert_int_equal(keys_armor_write_public(pub, sizeof(pub), &len, keys_keypair_public(f->k2),
                                           T0 + 60),
                   KEYS_OK);
  assert_int_equal(keys_base64_encode(&pub_b64, &pub_b64_len, (const uint8_t *)pub, len), KEYS_OK);

  /* two private keys, neither loaded, in one Secret */
  char two[2 * KEYS_ARMOR_MAX];
  size_t l1 = 0, l2 = 0;
  keys_keypair *k3 = NULL;
  assert_int_equal(keys_keypair_generate(&k3, T0 + 120), KEYS_OK);
  assert_int_equal(keys_armor_write_private(two, KEYS_ARMOR_MAX, &l1, f->k2), KEYS_OK);
  assert_int_equal(keys_armor_write_private(two + l1, sizeof(two) - l1, &l2, k3), KEYS_OK);
  keys_keypair_free(k3);
  char *two_b64 = NULL;
  size_t two_b64_len = 0;
  assert_int_equal(keys_base64_encode(&two_b64, &two_b64_len, (const uint8_t *)two, l1 + l2),
                   KEYS_OK);
  sodium_memzero(two, sizeof(two));

  /* a truncated private block */
  char cut[KEYS_ARMOR_MAX];
  size_t lc = 0;
  assert_int_equal(keys_armor_write_private(cut, sizeof(cut), &lc, f->k2), KEYS_OK);
  char *cut_b64 = NULL;
  size_t cut_b64_len = 0;
  assert_int_equal(keys_base64_encode(&cut_b64, &cut_b64_len, (const uint8_t *)cut, lc / 2),
                   KEYS_OK);
  sodium_memzero(cut, sizeof(cut));

  const char *bad[] = {NULL, "", "not base64!", "aGVsbG8=", pub_b64, two_b64, cut_b64};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char name[32];
    snprintf(name, sizeof(name), "seal-key-bad-%zu", i);
    assert_int_equal(event(f, KUBE_EVENT_ADDED, raw_secret(name, bad[i])), 0);
    assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  }
  /* no name at all */
  json_t *anon = key_secret("x", f->k2, "active");
  json_object_del(json_object_get(anon, "metadata"), "name");
  assert_int_equal(event(f, KUBE_EVENT_ADDED, anon), 0);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  assert_int_equal(f->c.keys.generation, gen);
  expect_newest(f, f->k1);
  free(pub_b64);
  sodium_memzero(two_b64, two_b64_len);
  free(two_b64);
  sodium_memzero(cut_b64, cut_b64_len);
  free(cut_b64);
}

/* A Secret made from a SealedSecret (labelled seal.dev/unsealed, owned by a
 * SealedSecret) or of another type is never a key Secret: its key is neither
 * loaded nor served, and a Secret that turns into one loses its key. */
static void test_untrusted_key_secrets_refused(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
  long gen = f->c.keys.generation;

  json_t *unsealed = key_secret("planted-1", f->k2, "active");
  json_object_set_new(doc_get(unsealed, "metadata", "labels", NULL), "seal.dev/unsealed",
                      json_string("true"));
  assert_int_equal(event(f, KUBE_EVENT_ADDED, unsealed), 0);

  /* owned by a SealedSecret, ours or another tool's */
  static const char *const owner_api[] = {"seal.dev/v1", "bitnami.com/v1alpha1"};
  for (size_t i = 0; i < 2; i++) {
    json_t *owned = key_secret(i ? "planted-3" : "planted-2", f->k2, "active");
    json_object_set_new(json_object_get(owned, "metadata"), "ownerReferences",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", owner_api[i], "kind",
                                  "SealedSecret", "name", "planted", "uid", "u-1"));
    assert_int_equal(event(f, KUBE_EVENT_ADDED, owned), 0);
  }

  json_t *opaque = key_secret("planted-4", f->k2, "active");
  json_object_set_new(opaque, "type", json_string("Opaque"));
  assert_int_equal(event(f, KUBE_EVENT_ADDED, opaque), 0);
  json_t *untyped = key_secret("planted-5", f->k2, "active");
  json_object_del(untyped, "type");
  assert_int_equal(event(f, KUBE_EVENT_ADDED, untyped), 0);

  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  assert_int_equal(f->c.keys.generation, gen);
  expect_newest(f, f->k1);

  /* an accepted key Secret that gains the label loses its key */
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 1);
  expect_newest(f, f->k2);
  json_t *turned = key_secret("seal-key-2", f->k2, "active");
  json_object_set_new(doc_get(turned, "metadata", "labels", NULL), "seal.dev/unsealed",
                      json_string("true"));
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, turned), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k1);
}

/* The same private key in two Secrets: deleting either copy keeps the key
 * while the other holds it; it goes with the last copy. */
static void test_key_in_two_secrets_kept_while_any_holds_it(void **state)
{
  fixture *f = *state;
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("spare-copy", f->k2, "active")), 0);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  /* the spare copy goes: the key stays */
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("spare-copy", f->k2, "active")), 0);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k2);
  /* back again, then the original goes: still there */
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("spare-copy", f->k2, "active")), 0);
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("seal-key-2", f->k2, "active")), 0);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k2);
  /* a copy re-keyed to another key no longer holds the first one */
  assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-2", f->k2, "active")), 0);
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret("spare-copy", f->k1, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 2);
  assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret("seal-key-2", f->k2, "active")), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 1);
  expect_newest(f, f->k1);
  /* a copy that stops being a key Secret (no private.key) holds nothing */
  assert_int_equal(event(f, KUBE_EVENT_MODIFIED, raw_secret("spare-copy", NULL)), 1);
  assert_int_equal(ctl_keymgr_count(&f->c.keys), 0);
  expect_newest(f, NULL);
}

/* A compromised label on any copy makes the key compromised, whatever the
 * order in which the copies are listed (a restart lists them in any order). */
static void test_compromised_copy_wins_in_any_order(void **state)
{
  fixture *f = *state;
  static const char *const orders[2][2] = {{"compromised", "active"}, {"active", "compromised"}};
  for (int o = 0; o < 2; o++) {
    ctl_keymgr_destroy(&f->c.keys);
    assert_int_equal(ctl_keymgr_init(&f->c.keys), 0);
    assert_int_equal(event(f, KUBE_EVENT_ADDED, key_secret("seal-key-1", f->k1, "active")), 1);
    (void)event(f, KUBE_EVENT_ADDED, key_secret("copy-a", f->k2, orders[o][0]));
    (void)event(f, KUBE_EVENT_ADDED, key_secret("copy-b", f->k2, orders[o][1]));
    assert_int_equal(ctl_keymgr_count(&f->c.keys), 2);
    keys_keypair *kp = keys_keyring_find(f->c.keys.ring, keys_keypair_public(f->k2)->id);
    assert_non_null(kp);
    assert_int_equal(keys_keypair_state(kp), KEYS_STATE_COMPROMISED);
    expect_newest(f, f->k1);
    expect_metric(1, 1);
    /* a resync of the active copy changes nothing */
    const char *active_copy = o == 0 ? "copy-b" : "copy-a";
    assert_int_equal(event(f, KUBE_EVENT_MODIFIED, key_secret(active_copy, f->k2, "active")), 0);
    expect_newest(f, f->k1);
    /* the compromised copy deleted: only active copies remain */
    const char *bad_copy = o == 0 ? "copy-a" : "copy-b";
    assert_int_equal(event(f, KUBE_EVENT_DELETED, key_secret(bad_copy, f->k2, "compromised")), 1);
    expect_newest(f, f->k2);
  }
}

int main(void)
{
  if (manifest_init() != 0)
    return 1;
  ctl_log_setup(0, CTL_LOG_ERROR); /* the ignored Secrets log warnings */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_keys_added_newest_published, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compromised_key_never_seals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_key_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rekeyed_secret_replaces_its_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_key_secrets_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_key_secrets_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_in_two_secrets_kept_while_any_holds_it, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_compromised_copy_wins_in_any_order, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
