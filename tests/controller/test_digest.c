/* The digest of a Secret's managed fields decides whether the controller
 * writes: it must change when data, labels, annotations, type, immutability
 * or owners change, and not when only server fields (resourceVersion, uid,
 * managedFields, timestamps) or key order change. ctl_owned_from_secret keeps
 * what the cache needs of a live Secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctl.h"

#include "banned.h"

static const char base_json[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
    "\"metadata\":{\"name\":\"db\",\"namespace\":\"prod\","
    "\"labels\":{\"app\":\"db\",\"seal.dev/unsealed\":\"true\"},"
    "\"annotations\":{\"team\":\"core\"},"
    "\"ownerReferences\":[{\"apiVersion\":\"seal.dev/v1\",\"kind\":\"SealedSecret\","
    "\"name\":\"db\",\"uid\":\"1111-2222\",\"controller\":true}]},"
    "\"type\":\"Opaque\","
    "\"data\":{\"password\":\"czNjcjN0\",\"user\":\"YWRtaW4=\"}}";

static json_t *load(const char *text)
{
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  if (j == NULL)
    fail_msg("bad fixture: %s", err.text);
  return j;
}

static void digest_of(uint8_t out[CTL_DIGEST_BYTES], const json_t *s)
{
  assert_int_equal(ctl_secret_digest(out, s), 0);
}

/* Applies one change to a fresh copy of the base Secret; returns whether its
 * digest differs from the base's. */
typedef void (*change_fn)(json_t *s);

static int differs_after(change_fn fn)
{
  uint8_t a[CTL_DIGEST_BYTES], b[CTL_DIGEST_BYTES];
  json_t *s = load(base_json);
  digest_of(a, s);
  fn(s);
  digest_of(b, s);
  json_decref(s);
  return memcmp(a, b, sizeof(a)) != 0;
}

static json_t *meta(json_t *s)
{
  return json_object_get(s, "metadata");
}

/* managed changes */
static void data_value(json_t *s)
{
  json_object_set_new(json_object_get(s, "data"), "password", json_string("b3RoZXI="));
}
static void data_added(json_t *s)
{
  json_object_set_new(json_object_get(s, "data"), "extra", json_string("eA=="));
}
static void data_removed(json_t *s)
{
  json_object_del(json_object_get(s, "data"), "user");
}
static void data_gone(json_t *s)
{
  json_object_del(s, "data");
}
static void label_value(json_t *s)
{
  json_object_set_new(json_object_get(meta(s), "labels"), "app", json_string("web"));
}
static void label_added(json_t *s)
{
  json_object_set_new(json_object_get(meta(s), "labels"), "tier", json_string("1"));
}
static void labels_gone(json_t *s)
{
  json_object_del(meta(s), "labels");
}
static void annotation_value(json_t *s)
{
  json_object_set_new(json_object_get(meta(s), "annotations"), "team", json_string("edge"));
}
static void annotation_added(json_t *s)
{
  json_object_set_new(json_object_get(meta(s), "annotations"), MANIFEST_ANN_MANAGED,
                      json_string("true"));
}
static void type_changed(json_t *s)
{
  json_object_set_new(s, "type", json_string("kubernetes.io/tls"));
}
static void made_immutable(json_t *s)
{
  json_object_set_new(s, "immutable", json_true());
}
static void owner_uid(json_t *s)
{
  json_object_set_new(json_array_get(json_object_get(meta(s), "ownerReferences"), 0), "uid",
                      json_string("3333"));
}
static void owners_gone(json_t *s)
{
  json_object_del(meta(s), "ownerReferences");
}
static void data_key_case(json_t *s)
{
  json_t *d = json_object_get(s, "data");
  json_object_set(d, "User", json_object_get(d, "user"));
  json_object_del(d, "user");
}

/* server and irrelevant changes */
static void rv(json_t *s)
{
  json_object_set_new(meta(s), "resourceVersion", json_string("98765"));
}
static void uid(json_t *s)
{
  json_object_set_new(meta(s), "uid", json_string("aaaa-bbbb"));
}
static void created(json_t *s)
{
  json_object_set_new(meta(s), "creationTimestamp", json_string("2026-01-01T00:00:00Z"));
}
static void generation(json_t *s)
{
  json_object_set_new(meta(s), "generation", json_integer(7));
}
static void managed_fields(json_t *s)
{
  json_object_set_new(meta(s), "managedFields",
                      json_pack("[{s:s, s:s, s:{}}]", "manager", "kubectl", "operation", "Update",
                                "fieldsV1"));
}
static void self_link(json_t *s)
{
  json_object_set_new(meta(s), "selfLink", json_string("/api/v1/x"));
}
static void immutable_false(json_t *s)
{
  json_object_set_new(s, "immutable", json_false());
}
static void type_empty_is_opaque(json_t *s)
{
  json_object_set_new(s, "type", json_string(""));
}
static void type_missing_is_opaque(json_t *s)
{
  json_object_del(s, "type");
}
static void reordered(json_t *s)
{
  /* the same fields inserted in the opposite order */
  json_t *d = json_object_get(s, "data");
  json_t *copy = json_object();
  json_object_set(copy, "user", json_object_get(d, "user"));
  json_object_set(copy, "password", json_object_get(d, "password"));
  json_object_set_new(s, "data", copy);
  json_t *l = json_object_get(meta(s), "labels");
  json_t *lc = json_object();
  json_object_set(lc, "seal.dev/unsealed", json_object_get(l, "seal.dev/unsealed"));
  json_object_set(lc, "app", json_object_get(l, "app"));
  json_object_set_new(meta(s), "labels", lc);
}

static void test_managed_fields_change_digest(void **state)
{
  (void)state;
  static const struct {
    const char *what;
    change_fn fn;
  } cases[] = {{"data value", data_value},
               {"data key added", data_added},
               {"data key removed", data_removed},
               {"data removed", data_gone},
               {"data key case", data_key_case},
               {"label value", label_value},
               {"label added", label_added},
               {"labels removed", labels_gone},
               {"annotation value", annotation_value},
               {"annotation added", annotation_added},
               {"type", type_changed},
               {"immutable", made_immutable},
               {"owner uid", owner_uid},
               {"owners removed", owners_gone}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (!differs_after(cases[i].fn))
      fail_msg("digest unchanged after: %s", cases[i].what);
}

static void test_server_fields_do_not_change_digest(void **state)
{
  (void)state;
  static const struct {
    const char *what;
    change_fn fn;
  } cases[] = {{"resourceVersion", rv},
               {"uid", uid},
               {"creationTimestamp", created},
               {"generation", generation},
               {"managedFields", managed_fields},
               {"selfLink", self_link},
               {"immutable: false", immutable_false},
               {"type \"\"", type_empty_is_opaque},
               {"type missing", type_missing_is_opaque},
               {"key order", reordered}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    if (differs_after(cases[i].fn))
      fail_msg("digest changed after: %s", cases[i].what);
}

static void test_empty_and_missing_are_equal(void **state)
{
  (void)state;
  uint8_t a[CTL_DIGEST_BYTES], b[CTL_DIGEST_BYTES], c[CTL_DIGEST_BYTES];
  json_t *bare = load("{\"metadata\":{\"name\":\"x\"}}");
  json_t *empty = load("{\"metadata\":{\"name\":\"x\",\"labels\":{},\"annotations\":{},"
                       "\"ownerReferences\":[]},\"data\":{},\"type\":\"Opaque\"}");
  json_t *nulls = load("{\"metadata\":{\"labels\":null},\"data\":null,\"type\":null}");
  digest_of(a, bare);
  digest_of(b, empty);
  digest_of(c, nulls);
  assert_memory_equal(a, b, sizeof(a));
  assert_memory_equal(a, c, sizeof(a));
  /* a Secret holding one empty value is not one without values */
  json_object_set_new(json_object_get(empty, "data"), "k", json_string(""));
  digest_of(b, empty);
  assert_memory_not_equal(a, b, sizeof(a));
  json_decref(bare);
  json_decref(empty);
  json_decref(nulls);
}

static void test_hostile_shapes_do_not_crash(void **state)
{
  (void)state;
  static const char *const shapes[] = {
      "{}",
      "{\"metadata\":[],\"data\":[1,2],\"type\":5,\"immutable\":\"yes\"}",
      "{\"metadata\":\"x\",\"data\":\"x\"}",
      "{\"metadata\":{\"labels\":[\"a\"],\"annotations\":7,\"ownerReferences\":{}}}",
  };
  uint8_t d[CTL_DIGEST_BYTES], e[CTL_DIGEST_BYTES];
  json_t *bare = load("{}");
  digest_of(e, bare);
  json_decref(bare);
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    json_t *s = load(shapes[i]);
    digest_of(d, s);
    /* wrong-typed fields count as absent */
    assert_memory_equal(d, e, sizeof(d));
    json_decref(s);
  }
  json_t *arr = load("[1]");
  digest_of(d, arr);
  json_decref(arr);
}

static void test_owned_from_secret(void **state)
{
  (void)state;
  ctl_owned o;
  uint8_t want[CTL_DIGEST_BYTES];
  json_t *s = load(base_json);
  json_object_set_new(meta(s), "resourceVersion", json_string("42"));
  memset(&o, 0x5a, sizeof(o));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.rv, "42");
  assert_string_equal(o.owner_uid, "1111-2222");
  assert_int_equal(o.immutable, 0);
  assert_int_equal(o.managed, 0);
  digest_of(want, s);
  assert_memory_equal(o.digest, want, sizeof(want));
  assert_string_equal(o.equal_rv, ""); /* garbage before is not kept */

  /* an equivalence found for this very version is kept, a newer one drops it */
  snprintf(o.equal_rv, sizeof(o.equal_rv), "42");
  memset(o.equal_digest, 7, sizeof(o.equal_digest));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.equal_rv, "42");
  assert_int_equal(o.equal_digest[0], 7);
  json_object_set_new(meta(s), "resourceVersion", json_string("43"));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.rv, "43");
  assert_string_equal(o.equal_rv, "");
  assert_int_equal(o.equal_digest[0], 0);

  /* managed only for exactly "true"; immutable */
  json_object_set_new(json_object_get(meta(s), "annotations"), MANIFEST_ANN_MANAGED,
                      json_string("True"));
  json_object_set_new(s, "immutable", json_true());
  ctl_owned_from_secret(&o, s);
  assert_int_equal(o.managed, 0);
  assert_int_equal(o.immutable, 1);
  json_object_set_new(json_object_get(meta(s), "annotations"), MANIFEST_ANN_MANAGED,
                      json_string("true"));
  ctl_owned_from_secret(&o, s);
  assert_int_equal(o.managed, 1);
  json_decref(s);
}

static void test_owned_owner_rules(void **state)
{
  (void)state;
  ctl_owned o;
  memset(&o, 0, sizeof(o));
  /* not the controller, another kind, another group: no owner */
  static const char *const not_ours[] = {
      "[{\"apiVersion\":\"seal.dev/v1\",\"kind\":\"SealedSecret\",\"uid\":\"u\"}]",
      "[{\"apiVersion\":\"seal.dev/v1\",\"kind\":\"SealedSecret\",\"uid\":\"u\",\"controller\":false}]",
      "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"uid\":\"u\",\"controller\":true}]",
      "[{\"apiVersion\":\"bitnami.com/v1alpha1\",\"kind\":\"SealedSecret\",\"uid\":\"u\",\"controller\":true}]",
      "[{\"apiVersion\":\"sealer.io/v1\",\"kind\":\"SealedSecret\",\"uid\":\"u\",\"controller\":true}]",
      "[{\"kind\":\"SealedSecret\",\"uid\":\"u\",\"controller\":true}]",
      "[]",
      "{}",
  };
  for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
    json_t *s = load(base_json);
    json_object_set_new(meta(s), "ownerReferences", load(not_ours[i]));
    ctl_owned_from_secret(&o, s);
    if (o.owner_uid[0] != '\0')
      fail_msg("owner %zu taken as ours: '%s'", i, o.owner_uid);
    json_decref(s);
  }
  /* the controller reference among others */
  json_t *s = load(base_json);
  json_object_set_new(
      meta(s), "ownerReferences",
      load(
          "[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"uid\":\"d\",\"controller\":false},"
          "{\"apiVersion\":\"seal.dev/v1\",\"kind\":\"SealedSecret\",\"uid\":\"mine\",\"controller\":true}]"));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.owner_uid, "mine");
  /* a uid too long to keep never matches a real one */
  char longuid[CTL_OWNED_UID_MAX + 10];
  memset(longuid, 'u', sizeof(longuid) - 1);
  longuid[sizeof(longuid) - 1] = '\0';
  json_object_set_new(json_array_get(json_object_get(meta(s), "ownerReferences"), 1), "uid",
                      json_string(longuid));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.owner_uid, "?");
  /* a resourceVersion too long to keep is unknown */
  char longrv[CTL_OWNED_RV_MAX + 5];
  memset(longrv, '9', sizeof(longrv) - 1);
  longrv[sizeof(longrv) - 1] = '\0';
  json_object_set_new(meta(s), "resourceVersion", json_string(longrv));
  ctl_owned_from_secret(&o, s);
  assert_string_equal(o.rv, "");
  json_decref(s);
}

static int setup(void **state)
{
  (void)state;
  return manifest_init() == 0 ? 0 : -1;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_managed_fields_change_digest),
      cmocka_unit_test(test_server_fields_do_not_change_digest),
      cmocka_unit_test(test_empty_and_missing_are_equal),
      cmocka_unit_test(test_hostile_shapes_do_not_crash),
      cmocka_unit_test(test_owned_from_secret),
      cmocka_unit_test(test_owned_owner_rules),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
