/* Reconcile (unseal-controller/reconcile.c) against a fake API server put in
 * the controller's request layer (ctl.send): no kubectl, no server process.
 * The fake keeps objects by path with uids and resourceVersions, answers
 * create/get/update/status like the API (201, 404, 409 AlreadyExists or
 * Conflict), and records every request. It checks what users rely on:
 *   - ownership: a Secret of the same name that is not ours (no
 *     ownerReference, another SealedSecret's, the label seal.dev/unsealed
 *     alone) is never written and the status says SecretNotManaged; the
 *     annotation seal.dev/managed: "true" lets the controller take it over;
 *     a Secret it makes carries the controller ownerReference;
 *   - status.observedGeneration is the generation that was reconciled;
 *   - nothing changed: a resync after our own writes came back through the
 *     watches makes no request at all. */
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

#define NS "app"
#define NAME "db"
#define SEALED_UID "11111111-2222-3333-4444-555555555555"
#define SECRETS "/api/v1/namespaces/" NS "/secrets"
#define SECRET SECRETS "/" NAME
#define SEALED "/apis/seal.dev/v1/namespaces/" NS "/sealedsecrets/" NAME
#define MAX_PENDING 64

/* ---- the fake API server ------------------------------------------------ */

typedef struct pending {
  char method[8];
  char path[KUBE_MAX_PATH];
  json_t *body;
  kube_done_fn cb;
  void *ud;
} pending;

typedef struct fake {
  json_t *objects;  /* path of an object -> the object */
  json_t *requests; /* every request: {"method", "path", "body"} */
  long rv;
  long uids;
  pending q[MAX_PENDING];
  size_t n;
} fake;

static fake F;

static int fake_send(ctl *c, const char *method, const char *path, const char *body,
                     size_t body_len, kube_done_fn cb, void *ud)
{
  (void)c;
  assert_true(F.n < MAX_PENDING);
  pending *p = &F.q[F.n++];
  memset(p, 0, sizeof(*p));
  snprintf(p->method, sizeof(p->method), "%s", method);
  snprintf(p->path, sizeof(p->path), "%s", path);
  if (body) {
    p->body = json_loadb(body, body_len, 0, NULL);
    assert_non_null(p->body);
  }
  p->cb = cb;
  p->ud = ud;
  json_array_append_new(F.requests, json_pack("{s:s, s:s, s:O?}", "method", method, "path", path,
                                              "body", p->body));
  return KUBE_OK;
}

static void set_rv(json_t *obj)
{
  char rv[24];
  snprintf(rv, sizeof(rv), "%ld", ++F.rv);
  json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
}

static const char *or_empty(const char *s)
{
  return s ? s : "";
}

static const char *rv_of(const json_t *obj)
{
  return doc_get_string(obj, "metadata", "resourceVersion", NULL);
}

/* Stores obj (taken) at path, as a create: a uid, a resourceVersion. */
static json_t *store_new(const char *path, json_t *obj)
{
  char uid[40];
  if (doc_get_string(obj, "metadata", "uid", NULL) == NULL) {
    snprintf(uid, sizeof(uid), "uid-%ld", ++F.uids);
    json_object_set_new(json_object_get(obj, "metadata"), "uid", json_string(uid));
  }
  set_rv(obj);
  json_object_set_new(F.objects, path, obj);
  return obj;
}

static long refuse(char *reason, size_t reason_size, const char *why, long code)
{
  snprintf(reason, reason_size, "%s", why);
  return code;
}

static long answer(const pending *p, json_t **out, char *reason, size_t reason_size)
{
  size_t len = strlen(p->path);
  int status = len > 7 && strcmp(p->path + len - 7, "/status") == 0;
  char path[KUBE_MAX_PATH];
  snprintf(path, sizeof(path), "%.*s", (int)(status ? len - 7 : len), p->path);
  json_t *cur = json_object_get(F.objects, path);

  if (strcmp(p->method, "GET") == 0) {
    if (cur == NULL)
      return refuse(reason, reason_size, "NotFound", 404);
    *out = json_deep_copy(cur);
    return 200;
  }
  if (strcmp(p->method, "POST") == 0) {
    char at[2 * KUBE_MAX_PATH];
    const char *name = or_empty(doc_get_string(p->body, "metadata", "name", NULL));
    snprintf(at, sizeof(at), "%s/%s", path, name);
    if (json_object_get(F.objects, at))
      return refuse(reason, reason_size, "AlreadyExists", 409);
    *out = json_deep_copy(store_new(at, json_deep_copy(p->body)));
    return 201;
  }
  if (strcmp(p->method, "PUT") == 0) {
    const char *want = rv_of(p->body);
    if (cur == NULL)
      return refuse(reason, reason_size, "NotFound", 404);
    if (want && *want && strcmp(want, rv_of(cur)) != 0)
      return refuse(reason, reason_size, "Conflict", 409);
    json_t *next = json_deep_copy(status ? cur : p->body);
    if (status)
      json_object_set(next, "status", json_object_get(p->body, "status"));
    json_object_set(json_object_get(next, "metadata"), "uid",
                    doc_get(cur, "metadata", "uid", NULL));
    set_rv(next);
    json_object_set_new(F.objects, path, next);
    *out = json_deep_copy(next);
    return 200;
  }
  return refuse(reason, reason_size, "MethodNotAllowed", 405);
}

/* Answers every request, including those the answers start, in order. */
static void serve(void)
{
  while (F.n > 0) {
    pending p = F.q[0];
    memmove(&F.q[0], &F.q[1], (F.n - 1) * sizeof(F.q[0]));
    F.n--;
    json_t *body = NULL;
    kube_status st;
    memset(&st, 0, sizeof(st));
    long code = answer(&p, &body, st.reason, sizeof(st.reason));
    st.http_code = st.code = code;
    if (code >= 300) {
      st.err = KUBE_ERR_HTTP;
      /* bounded: a path may be longer than the message (-Wformat-truncation at -O0) */
      snprintf(st.message, sizeof(st.message), "%.8s %.700s: %.200s", p.method, p.path, st.reason);
      body = json_pack("{s:s, s:s, s:s, s:i}", "kind", "Status", "status", "Failure", "reason",
                       st.reason, "code", (int)code);
    }
    p.cb(p.ud, code, body, &st);
    json_decref(body);
    json_decref(p.body);
  }
}

/* Requests other than reads since mark (an index into F.requests). */
static size_t writes_since(size_t mark, const char *method, const char *path)
{
  size_t n = 0;
  for (size_t i = mark; i < json_array_size(F.requests); i++) {
    json_t *r = json_array_get(F.requests, i);
    const char *m = doc_get_string(r, "method", NULL);
    const char *p = doc_get_string(r, "path", NULL);
    if (strcmp(m, "GET") != 0 && (method == NULL || strcmp(m, method) == 0) &&
        (path == NULL || strcmp(p, path) == 0))
      n++;
  }
  return n;
}

/* The body of the last request of method to path since mark, or NULL. */
static json_t *last_body(size_t mark, const char *method, const char *path)
{
  json_t *found = NULL;
  for (size_t i = mark; i < json_array_size(F.requests); i++) {
    json_t *r = json_array_get(F.requests, i);
    if (strcmp(or_empty(doc_get_string(r, "method", NULL)), method) == 0 &&
        strcmp(or_empty(doc_get_string(r, "path", NULL)), path) == 0)
      found = json_object_get(r, "body");
  }
  return found;
}

/* ---- the controller under test ------------------------------------------ */

typedef struct fixture {
  ctl c;
  ctl_options opts;
  keys_public pub;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof(*f));
  keys_keypair *kp = NULL;
  keys_error kerr;
  if (f == NULL || ctl_keymgr_init(&f->c.keys) != 0)
    return -1;
  memset(&F, 0, sizeof(F));
  F.objects = json_object();
  F.requests = json_array();
  f->opts.max_retries = 3;
  f->c.opts = &f->opts;
  f->c.send = fake_send;
  f->c.max_ops = 4;
  f->c.was_ready = 1;
  snprintf(f->c.key_namespace, sizeof(f->c.key_namespace), "seal-system");
  snprintf(f->c.leader.identity, sizeof(f->c.leader.identity), "test");
  if (ctl_map_new(&f->c.sealed, ctl_sealed_free) != 0 ||
      ctl_map_new(&f->c.owned, ctl_owned_free) != 0 ||
      ctl_queue_new(&f->c.queue, f->opts.max_retries, 200, 5000) != 0 ||
      keys_keypair_generate(&kp, 1700000000) != KEYS_OK)
    return -1;
  f->pub = *keys_keypair_public(kp);
  if (keys_keyring_add(f->c.keys.ring, &kp, &kerr) != KEYS_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  assert_int_equal(F.n, 0);
  assert_int_equal(f->c.ops_in_flight, 0);
  ctl_queue_free(f->c.queue);
  ctl_map_free(f->c.sealed);
  ctl_map_free(f->c.owned);
  ctl_keymgr_destroy(&f->c.keys);
  json_decref(F.objects);
  json_decref(F.requests);
  free(f);
  return 0;
}

/* A SealedSecret of PASSWORD=value at generation gen, stored in the fake and
 * seen by the controller's watch. template_ann: annotations of its template. */
static void apply_sealed(fixture *f, const char *value, long gen, json_t *template_ann)
{
  manifest_seal_opts o;
  manifest_error err;
  json_t *sealed = NULL;
  json_t *secret = json_pack("{s:s, s:s, s:{s:s, s:s, s:o?}, s:{s:s}}", "apiVersion", "v1", "kind",
                             "Secret", "metadata", "name", NAME, "namespace", NS, "annotations",
                             template_ann, "stringData", "PASSWORD", value);
  assert_non_null(secret);
  memset(&o, 0, sizeof(o));
  o.recipients = &f->pub;
  o.n_recipients = 1;
  assert_int_equal(manifest_seal_secret(&sealed, secret, &o, &err), MANIFEST_OK);
  json_decref(secret);
  json_t *md = json_object_get(sealed, "metadata");
  json_object_set_new(md, "uid", json_string(SEALED_UID));
  json_object_set_new(md, "generation", json_integer(gen));
  json_t *old = json_object_get(F.objects, SEALED);
  if (old) {
    json_object_set(sealed, "status", json_object_get(old, "status"));
    set_rv(sealed);
    json_object_set(F.objects, SEALED, sealed);
  } else {
    store_new(SEALED, json_incref(sealed));
  }
  ctl_reconcile_on_sealed(&f->c, old ? KUBE_EVENT_MODIFIED : KUBE_EVENT_ADDED, sealed);
  json_decref(sealed);
}

/* A Secret someone else made, stored in the fake; seen by the controller's
 * watch only when it has the label seal.dev/unsealed (what it watches). */
static void foreign_secret(fixture *f, json_t *labels, json_t *annotations, json_t *owners)
{
  json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:o?, s:o?, s:o?}, s:s, s:{s:s}}", "apiVersion",
                        "v1", "kind", "Secret", "metadata", "name", NAME, "namespace", NS, "labels",
                        labels, "annotations", annotations, "ownerReferences", owners, "type",
                        "Opaque", "data", "PASSWORD", "Zm9yZWlnbg==");
  assert_non_null(s);
  store_new(SECRET, s);
  if (labels && json_object_get(labels, MANIFEST_LABEL_UNSEALED))
    ctl_reconcile_on_secret(&f->c, KUBE_EVENT_ADDED, s);
}

/* The watches deliver what the fake now holds, as after our own writes (the
 * Secret watch selects the label seal.dev/unsealed). */
static void watches_catch_up(fixture *f)
{
  json_t *secret = json_object_get(F.objects, SECRET);
  if (doc_get(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL))
    ctl_reconcile_on_secret(&f->c, KUBE_EVENT_MODIFIED, secret);
  ctl_reconcile_on_sealed(&f->c, KUBE_EVENT_MODIFIED, json_object_get(F.objects, SEALED));
}

static void reconcile(fixture *f)
{
  ctl_reconcile_pump(&f->c);
  serve();
}

static const char *data_of(const char *path, const char *key)
{
  return doc_get_string(json_object_get(F.objects, path), "data", key, NULL);
}

static void expect_synced(const char *status, const char *reason, long gen)
{
  json_t *st = json_object_get(json_object_get(F.objects, SEALED), "status");
  json_t *conds = json_object_get(st, "conditions");
  size_t i;
  json_t *c;
  const char *got_status = NULL, *got_reason = NULL;
  json_array_foreach(conds, i, c) {
    if (strcmp(or_empty(doc_get_string(c, "type", NULL)), "Synced") == 0) {
      got_status = doc_get_string(c, "status", NULL);
      got_reason = doc_get_string(c, "reason", NULL);
    }
  }
  assert_non_null(got_status);
  assert_string_equal(got_status, status);
  assert_string_equal(got_reason, reason);
  assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), gen);
}

static void expect_owner_reference(const json_t *secret)
{
  json_t *owners = doc_get(secret, "metadata", "ownerReferences", NULL);
  assert_int_equal(json_array_size(owners), 1);
  json_t *o = json_array_get(owners, 0);
  assert_string_equal(or_empty(doc_get_string(o, "apiVersion", NULL)), "seal.dev/v1");
  assert_string_equal(or_empty(doc_get_string(o, "kind", NULL)), "SealedSecret");
  assert_string_equal(or_empty(doc_get_string(o, "name", NULL)), NAME);
  assert_string_equal(or_empty(doc_get_string(o, "uid", NULL)), SEALED_UID);
  assert_true(json_is_true(json_object_get(o, "controller")));
}

/* ---- tests -------------------------------------------------------------- */

static void test_creates_owned_secret_and_status(void **state)
{
  fixture *f = *state;
  apply_sealed(f, "s3cret", 3, NULL);
  reconcile(f);
  json_t *secret = json_object_get(F.objects, SECRET);
  assert_non_null(secret);
  assert_string_equal(data_of(SECRET, "PASSWORD"), "czNjcmV0"); /* base64 of s3cret */
  expect_owner_reference(secret);
  const char *label = doc_get_string(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL);
  assert_string_equal(or_empty(label), "true");
  expect_synced("True", "Unsealed", 3);
  assert_int_equal(writes_since(0, "POST", SECRETS), 1);
  assert_int_equal(writes_since(0, "PUT", SEALED "/status"), 1);
  assert_int_equal(writes_since(0, "POST", "/api/v1/namespaces/" NS "/events"), 1);
}

static void test_nothing_changed_no_request(void **state)
{
  fixture *f = *state;
  apply_sealed(f, "s3cret", 1, NULL);
  reconcile(f);
  expect_synced("True", "Unsealed", 1);
  /* our own writes come back through the watches: nothing is queued for them */
  size_t mark = json_array_size(F.requests);
  watches_catch_up(f);
  reconcile(f);
  assert_int_equal(json_array_size(F.requests), mark);
  /* a resync of everything finds everything up to date: not even a read */
  ctl_reconcile_enqueue_all(&f->c);
  reconcile(f);
  assert_int_equal(json_array_size(F.requests), mark);
}

static void test_new_generation_is_observed(void **state)
{
  fixture *f = *state;
  apply_sealed(f, "one", 1, NULL);
  reconcile(f);
  watches_catch_up(f);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "two", 2, NULL);
  reconcile(f);
  assert_string_equal(data_of(SECRET, "PASSWORD"), "dHdv"); /* base64 of two */
  assert_int_equal(writes_since(mark, "PUT", SECRET), 1);
  expect_owner_reference(json_object_get(F.objects, SECRET));
  expect_synced("True", "Unsealed", 2);
  /* the status write said so too, not only the fake's merge */
  json_t *sent = last_body(mark, "PUT", SEALED "/status");
  assert_non_null(sent);
  assert_int_equal(json_integer_value(doc_get(sent, "status", "observedGeneration", NULL)), 2);
}

static void expect_left_alone(size_t mark)
{
  assert_string_equal(data_of(SECRET, "PASSWORD"), "Zm9yZWlnbg==");
  assert_int_equal(writes_since(mark, "PUT", SECRET), 0);
  assert_int_equal(writes_since(mark, "DELETE", NULL), 0);
  expect_synced("False", "SecretNotManaged", 1);
  json_t *st = json_object_get(json_object_get(F.objects, SEALED), "status");
  json_t *synced = json_array_get(json_object_get(st, "conditions"), 0);
  const char *msg = or_empty(doc_get_string(synced, "message", NULL));
  assert_non_null(strstr(msg, "Secret " NS "/" NAME));
  assert_non_null(strstr(msg, MANIFEST_ANN_MANAGED));
}

static void test_foreign_secret_not_watched_left_alone(void **state)
{
  fixture *f = *state;
  foreign_secret(f, NULL, NULL, NULL);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "s3cret", 1, NULL);
  reconcile(f);
  /* the create met AlreadyExists; the live Secret was read, found foreign */
  assert_int_equal(writes_since(mark, "POST", SECRETS), 1);
  expect_left_alone(mark);
  /* a later resync does not change its mind, nor write the status again (it
   * tries the create again: the Secret is not watched, so not known) */
  watches_catch_up(f);
  size_t again = json_array_size(F.requests);
  ctl_reconcile_enqueue_all(&f->c);
  reconcile(f);
  assert_int_equal(writes_since(again, "PUT", NULL), 0);
  assert_string_equal(data_of(SECRET, "PASSWORD"), "Zm9yZWlnbg==");
}

static void test_label_alone_is_not_ownership(void **state)
{
  fixture *f = *state;
  foreign_secret(f, json_pack("{s:s}", MANIFEST_LABEL_UNSEALED, "true"), NULL, NULL);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "s3cret", 1, NULL);
  reconcile(f);
  assert_int_equal(writes_since(mark, "POST", SECRETS), 0);
  expect_left_alone(mark);
}

static void test_other_sealedsecrets_secret_left_alone(void **state)
{
  fixture *f = *state;
  json_t *owners = json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "seal.dev/v1", "kind",
                             "SealedSecret", "name", NAME, "uid", "another-uid", "controller", 1);
  foreign_secret(f, json_pack("{s:s}", MANIFEST_LABEL_UNSEALED, "true"), NULL, owners);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "s3cret", 1, NULL);
  reconcile(f);
  expect_left_alone(mark);
  json_t *kept = doc_get(json_object_get(F.objects, SECRET), "metadata", "ownerReferences", NULL);
  assert_string_equal(or_empty(doc_get_string(json_array_get(kept, 0), "uid", NULL)),
                      "another-uid");
}

static void test_managed_annotation_allows_take_over(void **state)
{
  fixture *f = *state;
  foreign_secret(f, NULL, json_pack("{s:s}", MANIFEST_ANN_MANAGED, "true"), NULL);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "s3cret", 1, NULL);
  reconcile(f);
  /* create: AlreadyExists; read: managed; update from the version read */
  assert_int_equal(writes_since(mark, "PUT", SECRET), 1);
  assert_string_equal(data_of(SECRET, "PASSWORD"), "czNjcmV0");
  expect_owner_reference(json_object_get(F.objects, SECRET));
  expect_synced("True", "Unsealed", 1);
}

static void test_skip_owner_reference_uses_managed(void **state)
{
  fixture *f = *state;
  apply_sealed(f, "s3cret", 1, json_pack("{s:s}", MANIFEST_ANN_SKIP_OWNER, "true"));
  reconcile(f);
  json_t *secret = json_object_get(F.objects, SECRET);
  assert_null(doc_get(secret, "metadata", "ownerReferences", NULL));
  const char *managed = doc_get_string(secret, "metadata", "annotations", MANIFEST_ANN_MANAGED,
                                       NULL);
  assert_string_equal(or_empty(managed), "true");
  expect_synced("True", "Unsealed", 1);
  /* it is ours by the annotation: an edit of the value is written over it */
  watches_catch_up(f);
  size_t mark = json_array_size(F.requests);
  apply_sealed(f, "changed", 2, json_pack("{s:s}", MANIFEST_ANN_SKIP_OWNER, "true"));
  reconcile(f);
  assert_int_equal(writes_since(mark, "PUT", SECRET), 1);
  assert_string_equal(data_of(SECRET, "PASSWORD"), "Y2hhbmdlZA==");
  expect_synced("True", "Unsealed", 2);
}

int main(void)
{
  if (manifest_init() != 0 || sodium_init() < 0)
    return 1;
  ctl_log_setup(0, CTL_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_creates_owned_secret_and_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nothing_changed_no_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_generation_is_observed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_secret_not_watched_left_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_label_alone_is_not_ownership, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_sealedsecrets_secret_left_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_managed_annotation_allows_take_over, setup, teardown),
      cmocka_unit_test_setup_teardown(test_skip_owner_reference_uses_managed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
