/*
 * The admission webhook's answers (ctl_admission_review): what is refused is
 * exactly what would not unseal, with a message a person can act on; what is
 * always allowed (DELETE, other kinds, an update that leaves the sealed values
 * alone, a controller without keys); malformed reviews; the counts in the
 * metrics. And the CA and serving certificate the listener makes (tls.c).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <sodium.h>
#include "ctl.h"
#include "metrics.h"
#include "tls.h"
#include "banned.h"

#define UID "705ab4f5-6393-11e8-b7cc-42010a800002"
#define SECRET_VALUE "correct horse battery staple"

typedef struct fixture {
  ctl c;
  ctl_options opts;
  keys_public pub;   /* the controller's key */
  keys_public other; /* a key it does not hold */
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof(*f));
  keys_keypair *kp = NULL, *okp = NULL;
  keys_error kerr;
  if (f == NULL || ctl_keymgr_init(&f->c.keys) != 0)
    return -1;
  f->c.opts = &f->opts;
  f->opts.admission_max_in_flight = 8;
  atomic_store(&f->c.ready, 1);
  if (keys_keypair_generate(&kp, 1700000000) != KEYS_OK ||
      keys_keypair_generate(&okp, 1700000000) != KEYS_OK)
    return -1;
  f->pub = *keys_keypair_public(kp);
  f->other = *keys_keypair_public(okp);
  keys_keypair_free(okp);
  if (keys_keyring_add(f->c.keys.ring, &kp, &kerr) != KEYS_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  ctl_keymgr_destroy(&f->c.keys);
  free(f);
  return 0;
}

/* A SealedSecret of PASSWORD in ns/name sealed for pub; template_type may be NULL. */
static json_t *sealed(const keys_public *pub, const char *ns, const char *name,
                      const char *template_type)
{
  manifest_seal_opts o;
  manifest_error err;
  json_t *out = NULL;
  json_t *secret = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                             "Secret", "metadata", "name", name, "namespace", ns, "stringData",
                             "PASSWORD", SECRET_VALUE);
  assert_non_null(secret);
  if (template_type)
    json_object_set_new(secret, "type", json_string(template_type));
  memset(&o, 0, sizeof(o));
  o.recipients = pub;
  o.n_recipients = 1;
  assert_int_equal(manifest_seal_secret(&out, secret, &o, &err), MANIFEST_OK);
  json_decref(secret);
  return out;
}

/* An AdmissionReview of op on obj (taken; may be NULL) with old (taken; may be NULL). */
static json_t *review(const char *op, json_t *obj, json_t *old)
{
  json_t *r = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, "
                        "s:s, s:o?, s:o?, s:b}}",
                        "apiVersion", "admission.k8s.io/v1", "kind", "AdmissionReview", "request",
                        "uid", UID, "kind", "group", "seal.dev", "version", "v1", "kind",
                        "SealedSecret", "resource", "group", "seal.dev", "version", "v1",
                        "resource", "sealedsecrets", "namespace", "app", "name", "db", "operation",
                        op, "object", obj, "oldObject", old, "dryRun", 0);
  assert_non_null(r);
  return r;
}

/* The answer's response, checked for the fields every answer has. */
static const json_t *response(const json_t *answer)
{
  assert_non_null(answer);
  assert_string_equal(doc_get_string(answer, "apiVersion", NULL), "admission.k8s.io/v1");
  assert_string_equal(doc_get_string(answer, "kind", NULL), "AdmissionReview");
  const json_t *resp = doc_get(answer, "response", NULL);
  assert_non_null(resp);
  assert_string_equal(doc_get_string(resp, "uid", NULL), UID);
  assert_true(json_is_boolean(json_object_get(resp, "allowed")));
  return resp;
}

static int allowed(const json_t *answer)
{
  return json_is_true(json_object_get(response(answer), "allowed"));
}

/* The refusal's message (asserting code 422 and no plaintext anywhere). */
static const char *refusal(const json_t *answer)
{
  const json_t *resp = response(answer);
  assert_true(json_is_false(json_object_get(resp, "allowed")));
  assert_int_equal(json_integer_value(doc_get(resp, "status", "code", NULL)), 422);
  char *text = json_dumps(answer, 0);
  assert_non_null(text);
  assert_null(strstr(text, SECRET_VALUE));
  doc_json_free(text);
  return doc_get_string(resp, "status", "message", NULL);
}

static json_t *ask(fixture *f, json_t *r)
{
  char err[256] = "";
  json_t *a = ctl_admission_review(&f->c, r, err, sizeof(err));
  if (a == NULL)
    fail_msg("no answer: %s", err);
  json_decref(r);
  return a;
}

static void test_valid_create_allowed(void **state)
{
  fixture *f = *state;
  json_t *a = ask(f, review("CREATE", sealed(&f->pub, "app", "db", NULL), NULL));
  assert_true(allowed(a));
  assert_null(doc_get(a, "response", "status", NULL));
  json_decref(a);
}

static void test_other_key_refused_naming_key_and_id(void **state)
{
  fixture *f = *state;
  json_t *a = ask(f, review("CREATE", sealed(&f->other, "app", "db", NULL), NULL));
  const char *msg = refusal(a);
  char want[128], id[2 * KEYS_ID_BYTES + 1];
  sodium_bin2hex(id, sizeof(id), f->other.id, 8);
  snprintf(want, sizeof(want), "sealed for key ids %s", id);
  if (strstr(msg, "sealedsecret app/db will not unseal: data key \"PASSWORD\": NoKey: ") != msg ||
      strstr(msg, want) == NULL)
    fail_msg("message: %s (wanted %s)", msg, want);
  json_decref(a);
}

static void test_moved_value_refused_with_expected_label(void **state)
{
  fixture *f = *state;
  json_t *obj = sealed(&f->pub, "app", "db", NULL);
  json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string("other"));
  json_t *a = ask(f, review("CREATE", obj, NULL));
  const char *msg = refusal(a);
  if (strstr(msg, "sealedsecret other/db will not unseal: data key \"PASSWORD\": WrongScope: "
                  "the value does not open under label \"strict/other/db/PASSWORD\"") != msg)
    fail_msg("message: %s", msg);
  json_decref(a);
}

static void test_namespace_and_name_from_the_request(void **state)
{
  fixture *f = *state;
  /* kubectl create -n app of an object that names no namespace: the API server
   * may hand it over as sent */
  json_t *obj = sealed(&f->pub, "app", "db", NULL);
  json_object_del(json_object_get(obj, "metadata"), "namespace");
  json_object_del(json_object_get(obj, "metadata"), "name");
  json_t *a = ask(f, review("CREATE", obj, NULL));
  assert_true(allowed(a));
  json_decref(a);
}

static void test_refused_template_type(void **state)
{
  fixture *f = *state;
  json_t *obj = sealed(&f->pub, "app", "db", NULL);
  json_object_set_new(json_object_get(obj, "spec"), "template",
                      json_pack("{s:s}", "type", "kubernetes.io/service-account-token"));
  json_t *a = ask(f, review("CREATE", obj, NULL));
  const char *msg = refusal(a);
  if (strstr(msg, "sealedsecret app/db will not unseal: InvalidTemplate: ") != msg ||
      strstr(msg, "service-account-token") == NULL)
    fail_msg("message: %s", msg);
  json_decref(a);
}

static void test_unknown_placeholder_refused_without_rendering(void **state)
{
  fixture *f = *state;
  json_t *obj = sealed(&f->pub, "app", "db", NULL);
  json_object_set_new(json_object_get(obj, "spec"), "template",
                      json_pack("{s:{s:s, s:s}}", "data", "URL", "db://u:{{ .PASSWORD }}@db", "BAD",
                                "{{ .NOPE }}"));
  json_t *a = ask(f, review("CREATE", json_deep_copy(obj), NULL));
  const char *msg = refusal(a);
  if (strstr(msg, "sealedsecret app/db will not unseal: InvalidTemplate: ") != msg ||
      strstr(msg, "template key \"BAD\": {{ .NOPE }} names no encrypted key") == NULL)
    fail_msg("message: %s", msg);
  json_decref(a);
  /* the known placeholder alone is fine */
  json_object_del(doc_get(obj, "spec", "template", "data", NULL), "BAD");
  a = ask(f, review("CREATE", obj, NULL));
  assert_true(allowed(a));
  json_decref(a);
}

static void test_too_many_keys(void **state)
{
  fixture *f = *state;
  json_t *obj = sealed(&f->pub, "app", "db", NULL);
  json_t *enc = doc_get(obj, "spec", "encryptedData", NULL);
  const char *v = doc_get_string(enc, "PASSWORD", NULL);
  for (int i = 0; i <= MANIFEST_MAX_KEYS; i++) {
    char k[32];
    snprintf(k, sizeof(k), "K%d", i);
    json_object_set_new(enc, k, json_string(v));
  }
  json_t *a = ask(f, review("CREATE", obj, NULL));
  const char *msg = refusal(a);
  if (strstr(msg, "spec.encryptedData: more than") == NULL)
    fail_msg("message: %s", msg);
  json_decref(a);
}

static void test_updates(void **state)
{
  fixture *f = *state;
  /* an update that breaks a working SealedSecret */
  json_t *good = sealed(&f->pub, "app", "db", NULL);
  json_t *a = ask(f, review("UPDATE", sealed(&f->other, "app", "db", NULL), json_incref(good)));
  assert_non_null(strstr(refusal(a), "NoKey"));
  json_decref(a);

  /* a broken one whose update leaves the sealed values alone (a label added):
   * allowed, it was stored already */
  json_t *broken = sealed(&f->other, "app", "db", NULL);
  json_t *labelled = json_deep_copy(broken);
  json_object_set_new(json_object_get(labelled, "metadata"), "labels",
                      json_pack("{s:s}", "team", "payments"));
  a = ask(f, review("UPDATE", labelled, broken));
  assert_true(allowed(a));
  json_decref(a);

  /* the scope annotation changed after sealing: refused */
  json_t *scoped = json_deep_copy(good);
  json_object_set_new(json_object_get(scoped, "metadata"), "annotations",
                      json_pack("{s:s}", "seal.dev/scope", "namespace-wide"));
  a = ask(f, review("UPDATE", scoped, json_incref(good)));
  assert_non_null(strstr(refusal(a), "WrongScope"));
  json_decref(a);

  /* the status subresource is never checked */
  json_t *r = review("UPDATE", sealed(&f->other, "app", "db", NULL), json_incref(good));
  json_object_set_new(json_object_get(r, "request"), "subResource", json_string("status"));
  a = ask(f, r);
  assert_true(allowed(a));
  json_decref(a);
  json_decref(good);
}

static void test_always_allowed(void **state)
{
  fixture *f = *state;
  json_t *a = ask(f, review("DELETE", NULL, sealed(&f->other, "app", "db", NULL)));
  assert_true(allowed(a));
  json_decref(a);

  json_t *r = review("CREATE", json_pack("{s:s}", "kind", "ConfigMap"), NULL);
  json_object_set_new(doc_get(r, "request", "kind", NULL), "group", json_string(""));
  a = ask(f, r);
  assert_true(allowed(a));
  json_decref(a);

  /* no keys loaded yet: allowed, with a warning */
  atomic_store(&f->c.ready, 0);
  a = ask(f, review("CREATE", sealed(&f->other, "app", "db", NULL), NULL));
  assert_true(allowed(a));
  assert_non_null(
      strstr(json_string_value(json_array_get(doc_get(a, "response", "warnings", NULL), 0)),
             "not checked"));
  json_decref(a);
  atomic_store(&f->c.ready, 1);
}

static void test_malformed_reviews(void **state)
{
  fixture *f = *state;
  char err[256];
  const char *bad[] = {
      "{}",
      "{\"request\": {}}",
      "{\"request\": {\"uid\": \"\", \"operation\": \"CREATE\"}}",
      "{\"request\": {\"uid\": 7, \"operation\": \"CREATE\"}}",
      "{\"request\": {\"uid\": \"u\"}}",
      "{\"request\": {\"uid\": \"u\", \"operation\": \"CREATE\", \"kind\": {\"group\": "
      "\"seal.dev\", \"kind\": \"SealedSecret\"}}}",
      "{\"request\": {\"uid\": \"u\", \"operation\": \"CREATE\", \"kind\": {\"group\": "
      "\"seal.dev\", \"kind\": \"SealedSecret\"}, \"object\": []}}",
      "{\"request\": {\"uid\": "
      "\"0123456789012345678901234567890123456789012345678901234567890123456789\", "
      "\"operation\": \"CREATE\"}}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *r = json_loads(bad[i], 0, NULL);
    assert_non_null(r);
    err[0] = '\0';
    json_t *a = ctl_admission_review(&f->c, r, err, sizeof(err));
    if (a != NULL)
      fail_msg("answered %s", bad[i]);
    assert_non_null(strstr(err, "not an AdmissionReview"));
    json_decref(r);
  }
  /* a SealedSecret that is not one inside (no spec): refused, not a crash */
  json_t *a = ask(f, review("CREATE", json_pack("{s:{s:s}}", "metadata", "name", "db"), NULL));
  const char *msg = refusal(a);
  if (strstr(msg, "sealedsecret app/db will not unseal: Invalid: ") != msg)
    fail_msg("message: %s", msg);
  json_decref(a);
}

static void test_counted_in_metrics(void **state)
{
  fixture *f = *state;
  char *text = NULL;
  size_t len = 0;
  json_decref(ask(f, review("CREATE", sealed(&f->other, "app", "db", NULL), NULL)));
  assert_int_equal(ctl_metrics_render(&text, &len), 0);
  assert_non_null(strstr(text, "# TYPE seal_admission_reviews_total counter\n"));
  assert_non_null(
      strstr(text, "seal_admission_reviews_total{outcome=\"refused\",reason=\"NoKey\"} "));
  assert_non_null(strstr(text, "seal_admission_reviews_total{outcome=\"allowed\",reason=\"\"} "));
  assert_non_null(
      strstr(text, "seal_admission_reviews_total{outcome=\"unchanged\",reason=\"\"} 1\n"));
  assert_non_null(
      strstr(text, "seal_admission_reviews_total{outcome=\"notready\",reason=\"\"} 1\n"));
  assert_non_null(strstr(text, "seal_admission_reviews_total{outcome=\"invalid\",reason=\"\"} "));
  free(text);
}

/* ---- the CA and serving certificate ------------------------------------- */

static gnutls_x509_crt_t import(const char *pem)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d = {(unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem)};
  assert_true(gnutls_x509_crt_init(&crt) >= 0);
  assert_true(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0);
  return crt;
}

static void test_made_certificate_verifies_for_names_and_ip(void **state)
{
  (void)state;
  ctl_tls_pair p;
  char err[256] = "";
  const char *dns[] = {"unseal-controller.seal-system.svc",
                       "unseal-controller.seal-system.svc.cluster.local"};
  assert_int_equal(ctl_tls_make(&p, dns, 2, "127.0.0.1", err, sizeof(err)), 0);
  assert_non_null(strstr(p.key_pem, "PRIVATE KEY"));
  gnutls_x509_crt_t ca = import(p.ca_pem), crt = import(p.cert_pem);
  unsigned status = 1;
  assert_true(gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) >= 0);
  assert_int_equal(status, 0);
  assert_true(gnutls_x509_crt_check_hostname(crt, dns[0]));
  assert_true(gnutls_x509_crt_check_hostname(crt, dns[1]));
  assert_false(gnutls_x509_crt_check_hostname(crt, "unseal-controller.other.svc"));
  uint8_t ip[4];
  inet_pton(AF_INET, "127.0.0.1", ip);
  assert_true(gnutls_x509_crt_check_ip(crt, ip, 4, 0));
  inet_pton(AF_INET, "127.0.0.2", ip);
  assert_false(gnutls_x509_crt_check_ip(crt, ip, 4, 0));
  /* the CA is one; the serving certificate is not */
  unsigned ca_flag = 0;
  assert_int_equal(gnutls_x509_crt_get_basic_constraints(ca, NULL, &ca_flag, NULL), 1);
  assert_int_equal(ca_flag, 1);
  assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca_flag, NULL), 0);
  assert_int_equal(ca_flag, 0);
  /* each call makes another CA */
  ctl_tls_pair q;
  assert_int_equal(ctl_tls_make(&q, dns, 2, NULL, err, sizeof(err)), 0);
  assert_string_not_equal(p.ca_pem, q.ca_pem);
  gnutls_x509_crt_t crt2 = import(q.cert_pem);
  assert_true(gnutls_x509_crt_verify(crt2, &ca, 1, 0, &status) >= 0);
  assert_int_not_equal(status, 0);
  assert_int_equal(ctl_tls_cert_expired(p.ca_pem, strlen(p.ca_pem), time(NULL)), 0);
  assert_int_equal(ctl_tls_cert_expired(p.ca_pem, strlen(p.ca_pem), time(NULL) + 11 * 365 * 86400L),
                   1);
  assert_int_equal(ctl_tls_cert_expired("not a certificate", 17, time(NULL)), 1);
  /* a listener address that is not one */
  ctl_tls_pair_free(&q);
  assert_int_equal(ctl_tls_make(&q, dns, 2, "nowhere", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "\"nowhere\" is not an IP address"));
  assert_null(q.key_pem);
  gnutls_x509_crt_deinit(crt2);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_crt_deinit(ca);
  ctl_tls_pair_free(&p);
  ctl_tls_pair_free(&q);
}

int main(void)
{
  if (manifest_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_valid_create_allowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_key_refused_naming_key_and_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_moved_value_refused_with_expected_label, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_namespace_and_name_from_the_request, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_template_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_placeholder_refused_without_rendering, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_too_many_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_always_allowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_reviews, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counted_in_metrics, setup, teardown),
      cmocka_unit_test(test_made_certificate_verifies_for_names_and_ip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
