/* libmanifest: Secret to SealedSecret and back, with generated keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "helpers.h"
#include "manifest.h"
#include "banned.h"

static const char *const secret_yaml =
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata:\n"
    "  name: api-keys\n"
    "  namespace: kotaemon\n"
    "  uid: 0b7c-uid\n"
    "  resourceVersion: \"42\"\n"
    "  generation: 3\n"
    "  creationTimestamp: \"2026-11-25T00:00:00Z\"\n"
    "  managedFields: [{manager: kubectl}]\n"
    "  ownerReferences: [{apiVersion: v1, kind: Pod, name: p, uid: u}]\n"
    "  labels: {app: kotaemon, tier: llm}\n"
    "  annotations:\n"
    "    kubectl.kubernetes.io/last-applied-configuration: '{\"secret\": \"leak\"}'\n"
    "    team: ml\n"
    "type: example.com/llm\n"
    "immutable: true\n"
    "data:\n"
    "  OPENAI_API_KEY: c2stb3Blbi1rZXk=\n" /* sk-open-key */
    "  SHADOWED: aWdub3JlZA==\n"           /* ignored: stringData wins */
    "  EMPTY: \"\"\n"
    "stringData:\n"
    "  SHADOWED: from stringData\n"
    "  DB_PASSWORD: \"p@ss: word\\n\"\n";

typedef struct fixture {
  keys_keyring *ring;
  keys_public pubs[3];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);

  if (f == NULL)
    return -1;
  f->ring = make_ring(3, f->pubs);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;

  keys_keyring_free(f->ring);
  free(f);
  return 0;
}

static json_t *seal_text_allow(const fixture *f, const char *text, const char *scope, int status,
                               const char *message_part, int allow_empty)
{
  manifest_seal_opts opts = {&f->pubs[0], 1, scope, NULL, NULL, allow_empty, 0};
  manifest_error err;
  json_t *secret = parse_one(text), *sealed = NULL;
  int rc;

  memset(&err, 0, sizeof err);
  rc = manifest_seal_secret(&sealed, secret, &opts, &err);
  json_decref(secret);
  if (rc != status)
    fail_msg("seal: expected %d, got %d (%s)", status, rc, err.message);
  if (rc != MANIFEST_OK) {
    assert_null(sealed);
    if (message_part != NULL && strstr(err.message, message_part) == NULL)
      fail_msg("message \"%s\" lacks \"%s\"", err.message, message_part);
    return NULL;
  }
  return sealed;
}

static json_t *seal_text(const fixture *f, const char *text, const char *scope, int status,
                         const char *message_part)
{
  return seal_text_allow(f, text, scope, status, message_part, 0);
}

/* Through text and back, as the CLI and the controller see it. */
static json_t *via_yaml(json_t *doc)
{
  size_t len;
  char *text = write_one(doc, DOC_YAML, &len);
  json_t *back = parse_one(text);

  doc_wipe_free(text, len);
  json_decref(doc);
  return back;
}

static json_t *unseal_ok(const json_t *sealed, const keys_keyring *ring, int flags)
{
  manifest_unseal_report report;
  manifest_error err;
  json_t *secret = NULL;
  int rc;

  memset(&err, 0, sizeof err);
  rc = manifest_unseal_sealed(&secret, sealed, ring, flags, &report, &err);
  if (rc != MANIFEST_OK)
    fail_msg("unseal failed (%d): %s", rc, err.message);
  assert_int_equal(report.n_failed, 0);
  assert_null(report.reason);
  return secret;
}

static void unseal_fails(const json_t *sealed, const keys_keyring *ring, int flags, int status,
                         const char *reason, const char *message_part)
{
  manifest_unseal_report report;
  manifest_error err;
  json_t *secret = NULL;
  int rc;

  memset(&err, 0, sizeof err);
  rc = manifest_unseal_sealed(&secret, sealed, ring, flags, &report, &err);
  if (rc != status)
    fail_msg("unseal: expected %d, got %d (%s)", status, rc, err.message);
  assert_null(secret);
  if (reason != NULL)
    assert_string_equal(report.reason, reason);
  if (message_part != NULL && strstr(err.message, message_part) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", err.message, message_part);
}

static void assert_value(const json_t *secret, const char *key, const char *want)
{
  char *v = secret_value(secret, key);

  assert_string_equal(v, want);
  free(v);
}

static void test_round_trip_every_scope(void **state)
{
  static const char *const scopes[] = {"strict", "namespace-wide", "cluster-wide"};
  fixture *f = *state;
  json_t *sealed, *secret, *enc, *tmpl;
  const char *key;
  json_t *v;
  const char *prev = "";

  for (size_t s = 0; s < 3; s++) {
    sealed = via_yaml(seal_text_allow(f, secret_yaml, scopes[s], MANIFEST_OK, NULL, 1));
    assert_true(manifest_is_sealed_secret(sealed));
    assert_string_equal(doc_get_string(sealed, "metadata", "name", NULL), "api-keys");
    assert_string_equal(doc_get_string(sealed, "metadata", "namespace", NULL), "kotaemon");
    assert_string_equal(doc_get_string(sealed, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL),
                        scopes[s]);
    /* nothing of the server's or of kubectl's travels */
    assert_null(doc_get(sealed, "metadata", "uid", NULL));
    assert_null(doc_get(sealed, "metadata", "labels", NULL));
    assert_null(doc_get(sealed, "metadata", "ownerReferences", NULL));
    assert_null(doc_get(sealed, "metadata", "resourceVersion", NULL));
    assert_null(doc_get(sealed, "metadata", "managedFields", NULL));
    enc = doc_get(sealed, "spec", "encryptedData", NULL);
    assert_int_equal(json_object_size(enc), 4);
    prev = "";
    json_object_foreach(enc, key, v) {
      assert_true(strcmp(prev, key) < 0); /* sorted by key */
      prev = key;
      assert_null(strstr(json_string_value(v), "c2stb3Blbi1rZXk"));
    }
    tmpl = doc_get(sealed, "spec", "template", NULL);
    assert_string_equal(doc_get_string(tmpl, "type", NULL), "example.com/llm");
    assert_true(json_is_true(json_object_get(tmpl, "immutable")));
    assert_string_equal(doc_get_string(tmpl, "metadata", "labels", "tier", NULL), "llm");
    assert_string_equal(doc_get_string(tmpl, "metadata", "annotations", "team", NULL), "ml");
    assert_int_equal(json_object_size(doc_get(tmpl, "metadata", "annotations", NULL)), 1);
    assert_null(json_object_get(tmpl, "data"));

    secret = unseal_ok(sealed, f->ring, 0);
    assert_true(manifest_is_secret(secret));
    assert_string_equal(doc_get_string(secret, "metadata", "name", NULL), "api-keys");
    assert_string_equal(doc_get_string(secret, "metadata", "namespace", NULL), "kotaemon");
    assert_string_equal(doc_get_string(secret, "type", NULL), "example.com/llm");
    assert_true(json_is_true(json_object_get(secret, "immutable")));
    assert_string_equal(doc_get_string(secret, "metadata", "labels", "app", NULL), "kotaemon");
    assert_null(doc_get(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL));
    assert_null(doc_get(secret, "metadata", "ownerReferences", NULL));
    assert_int_equal(json_object_size(json_object_get(secret, "data")), 4);
    assert_value(secret, "OPENAI_API_KEY", "sk-open-key");
    assert_value(secret, "SHADOWED", "from stringData");
    assert_value(secret, "DB_PASSWORD", "p@ss: word\n");
    assert_value(secret, "EMPTY", "");
    json_decref(secret);
    json_decref(sealed);
  }
}

static void test_default_namespace_and_opts(void **state)
{
  fixture *f = *state;
  manifest_seal_opts opts = {f->pubs, 2, NULL, "team-a", "from-flag", 0, 0};
  json_t *secret = parse_one("apiVersion: v1\nkind: Secret\nstringData: {a: b}\n");
  json_t *sealed = NULL, *out;
  manifest_error err;

  assert_int_equal(manifest_seal_secret(&sealed, secret, &opts, &err), MANIFEST_OK);
  assert_string_equal(doc_get_string(sealed, "metadata", "namespace", NULL), "team-a");
  assert_string_equal(doc_get_string(sealed, "metadata", "name", NULL), "from-flag");
  assert_string_equal(doc_get_string(sealed, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL),
                      "strict");
  assert_string_equal(doc_get_string(sealed, "spec", "template", "type", NULL), "Opaque");
  out = unseal_ok(sealed, f->ring, 0);
  assert_value(out, "a", "b");
  json_decref(out);
  json_decref(sealed);
  sealed = NULL;
  opts.namespace = NULL;
  assert_int_equal(manifest_seal_secret(&sealed, secret, &opts, &err), MANIFEST_OK);
  assert_string_equal(doc_get_string(sealed, "metadata", "namespace", NULL), "default");
  json_decref(sealed);
  json_decref(secret);
}

static void test_seal_refusals(void **state)
{
  fixture *f = *state;
  manifest_seal_opts opts = {f->pubs, 1, NULL, NULL, NULL, 0, 1};
  json_t *doc, *sealed = NULL;
  manifest_error err;

  doc = parse_one("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n");
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_INVALID);
  assert_string_equal(err.message, "document 2 is a Deployment, not a Secret");
  assert_null(sealed);
  json_decref(doc);

  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {K: 'not base64!'}\n",
            NULL, MANIFEST_ERR_INVALID,
            "Secret default/x: key \"K\": data value is not canonical base64");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {K: 'YQ'}\n", NULL,
            MANIFEST_ERR_INVALID, "key \"K\"");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {K: 5}\n", NULL,
            MANIFEST_ERR_INVALID, "key \"K\": value is not a string");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {'a/b': c}\n", NULL,
            MANIFEST_ERR_INVALID, "key \"a/b\" is not a valid data key");
  seal_text(f, "apiVersion: v1\nkind: Secret\nstringData: {a: b}\n", NULL, MANIFEST_ERR_INVALID,
            "no metadata.name");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: Bad_Name}\nstringData: {a: b}\n",
            NULL, MANIFEST_ERR_INVALID, "not a valid Kubernetes name");
  seal_text(f, "apiVersion: v2\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n", NULL,
            MANIFEST_ERR_INVALID, "not v1");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", NULL, MANIFEST_ERR_INVALID,
            "Secret default/x: no data or stringData to seal");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {}\nstringData: {}\n",
            NULL, MANIFEST_ERR_INVALID, "no data or stringData");
  seal_text(f, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n",
            "galaxy-wide", MANIFEST_ERR_INVALID, "unknown scope \"galaxy-wide\"");
  seal_text(f,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, annotations: {seal.dev/scope: "
            "cluster-wide}}\nstringData: {a: b}\n",
            "strict", MANIFEST_ERR_INVALID, "contradicts --scope");
  seal_text(f,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: "
            "kubernetes.io/service-account-token\nstringData: {a: b}\n",
            NULL, MANIFEST_ERR_INVALID, "service-account-token");
  seal_text(
      f,
      "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nimmutable: 'yes'\nstringData: {a: b}\n",
      NULL, MANIFEST_ERR_INVALID, "immutable is not true or false");

  /* contradictions with the options */
  doc = parse_one(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: a}\nstringData: {k: v}\n");
  opts.namespace = "b";
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_INVALID);
  assert_non_null(
      strstr(err.message, "namespace \"a\" in the document contradicts --namespace \"b\""));
  opts.namespace = "a";
  opts.name = "y";
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_INVALID);
  assert_non_null(strstr(err.message, "name \"x\" in the document contradicts --name \"y\""));
  opts.name = "x";
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_OK);
  json_decref(sealed);
  sealed = NULL;
  /* no recipients: the keys library refuses, nothing is produced */
  opts.n_recipients = 0;
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_KEYS);
  assert_int_not_equal(err.cause, KEYS_OK);
  assert_null(sealed);
  json_decref(doc);
}

static void test_allow_empty_data(void **state)
{
  fixture *f = *state;
  manifest_seal_opts opts = {f->pubs, 1, NULL, NULL, NULL, 1, 0};
  json_t *doc = parse_one("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n");
  json_t *sealed = NULL, *secret;

  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, NULL), MANIFEST_OK);
  assert_int_equal(json_object_size(doc_get(sealed, "spec", "encryptedData", NULL)), 0);
  secret = unseal_ok(sealed, f->ring, 0);
  assert_int_equal(json_object_size(json_object_get(secret, "data")), 0);
  json_decref(secret);
  json_decref(sealed);
  json_decref(doc);
  /* an empty value (an unset shell variable) only with allow_empty_data */
  assert_null(seal_text(f, secret_yaml, NULL, MANIFEST_ERR_INVALID, "key \"EMPTY\": empty value"));
  assert_null(seal_text(f,
                        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: ''}\n",
                        NULL, MANIFEST_ERR_INVALID, "Secret default/x: key \"a\": empty value"));
  sealed = seal_text_allow(f, secret_yaml, NULL, MANIFEST_OK, NULL, 1);
  secret = unseal_ok(sealed, f->ring, 0);
  assert_string_equal(doc_get_string(secret, "data", "EMPTY", NULL), "");
  json_decref(secret);
  json_decref(sealed);
}

static json_t *sealed_for(const fixture *f, const char *scope)
{
  char text[512];

  snprintf(text, sizeof text,
           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n"
           "stringData: {PASSWORD: hunter2, USER: admin}\n");
  return seal_text(f, text, scope, MANIFEST_OK, NULL);
}

static void move(json_t *sealed, const char *field, const char *value)
{
  json_object_set_new(json_object_get(sealed, "metadata"), field, json_string(value));
}

static void move_key(json_t *sealed, const char *from, const char *to)
{
  json_t *enc = doc_get(sealed, "spec", "encryptedData", NULL);

  json_object_set(enc, to, json_object_get(enc, from));
  json_object_del(enc, from);
}

static void test_moved_values_do_not_open(void **state)
{
  fixture *f = *state;
  json_t *s, *secret;

  /* strict: name, namespace and key are all bound */
  s = sealed_for(f, "strict");
  move(s, "name", "db2");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope",
               "prod/db2: key \"PASSWORD\": does not open for this scope/namespace/name/key");
  json_decref(s);
  s = sealed_for(f, "strict");
  move(s, "namespace", "staging");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope", NULL);
  json_decref(s);
  s = sealed_for(f, "strict");
  move_key(s, "USER", "ADMIN_USER");
  unseal_fails(s, f->ring, MANIFEST_UNSEAL_KEEP_GOING, MANIFEST_ERR_KEYS, "WrongScope",
               "key \"ADMIN_USER\"");
  json_decref(s);
  /* the scope annotation is part of the label */
  s = sealed_for(f, "strict");
  json_object_set_new(doc_get(s, "metadata", "annotations", NULL), MANIFEST_ANN_SCOPE,
                      json_string("cluster-wide"));
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope", NULL);
  json_decref(s);

  /* namespace-wide: a new name is fine, a new namespace or key is not */
  s = sealed_for(f, "namespace-wide");
  move(s, "name", "db2");
  secret = unseal_ok(s, f->ring, 0);
  assert_value(secret, "PASSWORD", "hunter2");
  json_decref(secret);
  move(s, "namespace", "staging");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope", NULL);
  json_decref(s);
  s = sealed_for(f, "namespace-wide");
  move_key(s, "USER", "PASSWORD2");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope", NULL);
  json_decref(s);

  /* cluster-wide: anywhere, but still under its own key */
  s = sealed_for(f, "cluster-wide");
  move(s, "name", "other");
  move(s, "namespace", "elsewhere");
  secret = unseal_ok(s, f->ring, 0);
  assert_value(secret, "USER", "admin");
  assert_string_equal(doc_get_string(secret, "metadata", "namespace", NULL), "elsewhere");
  json_decref(secret);
  /* cluster-wide needs no namespace at all */
  json_object_del(json_object_get(s, "metadata"), "namespace");
  secret = unseal_ok(s, f->ring, 0);
  assert_null(doc_get(secret, "metadata", "namespace", NULL));
  assert_value(secret, "USER", "admin");
  json_decref(secret);
  move_key(s, "USER", "PASSWORD3");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_KEYS, "WrongScope", NULL);
  json_decref(s);
}

static void test_failures_named(void **state)
{
  fixture *f = *state;
  keys_public other[1];
  keys_keyring *other_ring = make_ring(1, other);
  json_t *s = sealed_for(f, "strict");
  json_t *enc = doc_get(s, "spec", "encryptedData", NULL);
  manifest_unseal_report report;
  manifest_error err;
  char hex[KEYS_ID_HEX_BYTES], want[128];
  json_t *secret = NULL;
  char *v;

  keys_id_hex(hex, f->pubs[0].id);
  snprintf(want, sizeof want,
           "prod/db: key \"PASSWORD\": no key for this value: sealed for key ids %s", hex);
  unseal_fails(s, other_ring, 0, MANIFEST_ERR_KEYS, "NoKey", want);

  /* verify mode (out NULL) reports every failure with KEEP_GOING */
  json_object_set_new(enc, "BROKEN", json_string("AAAA"));
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, MANIFEST_UNSEAL_KEEP_GOING, &report,
                                          &err),
                   MANIFEST_ERR_KEYS);
  assert_int_equal(report.n_values, 3);
  assert_int_equal(report.n_failed, 1);
  assert_string_equal(report.reason, "Malformed");
  assert_int_equal(report.first_status, KEYS_ERR_MALFORMED);
  assert_int_equal(err.cause, KEYS_ERR_MALFORMED);
  assert_non_null(strstr(err.message, "key \"BROKEN\": not a sealed value"));
  assert_int_equal(report.n_ids, 1);
  assert_memory_equal(report.ids[0], f->pubs[0].id, KEYS_ID_BYTES);

  /* an altered body does not open */
  v = strdup(doc_get_string(enc, "USER", NULL));
  assert_non_null(v);
  v[strlen(v) - 6] = v[strlen(v) - 6] == 'A' ? 'B' : 'A';
  json_object_set_new(enc, "USER", json_string(v));
  free(v);
  assert_int_equal(manifest_unseal_sealed(&secret, s, f->ring, MANIFEST_UNSEAL_KEEP_GOING, &report,
                                          &err),
                   MANIFEST_ERR_KEYS);
  assert_null(secret);
  assert_int_equal(report.n_failed, 2);
  assert_non_null(strstr(err.message, "(and 1 more values fail)"));
  /* without KEEP_GOING it stops at the first */
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, &report, &err), MANIFEST_ERR_KEYS);
  assert_int_equal(report.n_failed, 1);
  json_decref(s);
  keys_keyring_free(other_ring);
}

static const char *const sealed_template_fmt =
    "apiVersion: seal.dev/v1\n"
    "kind: SealedSecret\n"
    "metadata:\n"
    "  name: db\n"
    "  namespace: prod\n"
    "  uid: 1234-abcd\n"
    "  annotations: {seal.dev/scope: strict}\n"
    "spec:\n"
    "  encryptedData:\n"
    "    PASSWORD: %s\n"
    "    USER: %s\n"
    "  template:\n"
    "    type: %s\n"
    "    metadata:\n"
    "      labels: {app: db}\n"
    "      annotations:\n"
    "        argocd.argoproj.io/tracking-id: 'app:/Secret:prod/db'\n"
    "        note: kept\n"
    "%s"
    "    data:\n"
    "      DATABASE_URL: 'postgres://{{ .USER }}:{{.PASSWORD}}@db:5432/kb?x={y}'\n"
    "      USER: 'template loses'\n"
    "%s";

static json_t *templated(const fixture *f, const char *type, const char *extra_ann,
                         const char *extra_data)
{
  json_t *s = sealed_for(f, "strict");
  char text[8192];

  snprintf(text, sizeof text, sealed_template_fmt,
           doc_get_string(s, "spec", "encryptedData", "PASSWORD", NULL),
           doc_get_string(s, "spec", "encryptedData", "USER", NULL), type, extra_ann, extra_data);
  json_decref(s);
  return parse_one(text);
}

static void test_template_rendering(void **state)
{
  fixture *f = *state;
  json_t *s = templated(f, "Opaque", "", ""), *secret;

  secret = unseal_ok(s, f->ring, MANIFEST_UNSEAL_RENDER);
  assert_value(secret, "DATABASE_URL", "postgres://admin:hunter2@db:5432/kb?x={y}");
  assert_value(secret, "USER", "admin"); /* the encrypted key wins */
  assert_value(secret, "PASSWORD", "hunter2");
  json_decref(secret);
  /* without RENDER the template is copied as is */
  secret = unseal_ok(s, f->ring, 0);
  assert_value(secret, "DATABASE_URL", "postgres://{{ .USER }}:{{.PASSWORD}}@db:5432/kb?x={y}");
  json_decref(secret);
  json_decref(s);

  s = templated(f, "Opaque", "", "      BAD: '{{ .NOPE }}'\n");
  unseal_fails(s, f->ring, MANIFEST_UNSEAL_RENDER, MANIFEST_ERR_INVALID, "InvalidTemplate",
               "template key \"BAD\": {{ .NOPE }} names no encrypted key");
  /* verify renders nothing, yet refuses the unknown key as unsealing would
   * (what verifies also unseals; the admission webhook relies on it) */
  manifest_error err;
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, MANIFEST_UNSEAL_RENDER, NULL, &err),
                   MANIFEST_ERR_INVALID);
  assert_non_null(strstr(err.message, "template key \"BAD\": {{ .NOPE }} names no encrypted key"));
  /* and the same without RENDER when a Secret is asked for */
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate",
               "template key \"BAD\": {{ .NOPE }} names no encrypted key");
  json_decref(s);

  /* anything but a plain {{ .KEY }} is refused, rendered or not, and by verify:
   * it would be copied into the Secret as is */
  {
    static const char *const bad[] = {"{{ index . \"USER\" }}",
                                      "{{ .USER | b64enc }}",
                                      "x {{ .USER",
                                      "{{}}",
                                      "{{ . }}",
                                      "{{.USER}",
                                      "{{ not a key }}",
                                      "{{{ .USER }}"};
    char extra[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      snprintf(extra, sizeof extra, "      BAD: '%s'\n", bad[i]);
      s = templated(f, "Opaque", "", extra);
      unseal_fails(s, f->ring, MANIFEST_UNSEAL_RENDER, MANIFEST_ERR_INVALID, "InvalidTemplate",
                   "key \"BAD\": the template action at byte");
      unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate",
                   "not a plain {{ .KEY }}");
      assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, MANIFEST_UNSEAL_RENDER, NULL, NULL),
                       MANIFEST_ERR_INVALID);
      json_decref(s);
    }
  }
}

static void test_service_account_token_refused(void **state)
{
  fixture *f = *state;
  json_t *s = templated(f, "kubernetes.io/service-account-token", "", "");

  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate", "service-account-token");
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
  json_decref(s);
}

/* A template never makes a key Secret nor speaks for the controller: the
 * type seal.dev/key and every seal.dev/ label and annotation but the label
 * seal.dev/unsealed and the annotation seal.dev/skip-owner-reference are
 * refused by unseal, verify and re-seal alike (issue 14, finding 1). */
static void test_reserved_names_refused(void **state)
{
  fixture *f = *state;
  static const char *const labels[] = {"seal.dev/key", "seal.dev/managed", "Seal.Dev/key",
                                       "seal.dev/anything-new"};
  static const char *const anns[] = {"seal.dev/key",          "seal.dev/created-at",
                                     "seal.dev/backed-up-at", "seal.dev/renew-requested-at",
                                     "seal.dev/managed",      "seal.dev/scope"};
  json_t *s, *secret;
  size_t i, changed;

  s = templated(f, "seal.dev/key", "", "");
  unseal_fails(s, f->ring, MANIFEST_UNSEAL_RENDER | MANIFEST_UNSEAL_CONTROLLER,
               MANIFEST_ERR_INVALID, "InvalidTemplate",
               "spec.template.type \"seal.dev/key\" is reserved for the controller's key Secrets");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate", "reserved");
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
  assert_int_equal(manifest_reseal_sealed(s, f->ring, &f->pubs[1], &changed, NULL),
                   MANIFEST_ERR_INVALID);
  json_decref(s);
  s = templated(f, "seal.dev/other", "", "");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate", "reserved");
  json_decref(s);

  for (i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    s = templated(f, "Opaque", "", "");
    json_object_set_new(doc_get(s, "spec", "template", "metadata", "labels", NULL), labels[i],
                        json_string("active"));
    unseal_fails(s, f->ring, MANIFEST_UNSEAL_CONTROLLER, MANIFEST_ERR_INVALID, "InvalidTemplate",
                 "spec.template.metadata.labels: \"");
    unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate", labels[i]);
    assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
    json_decref(s);
  }
  for (i = 0; i < sizeof anns / sizeof anns[0]; i++) {
    char extra[256];
    snprintf(extra, sizeof extra, "        %s: '2999-01-01T00:00:00Z'\n", anns[i]);
    s = templated(f, "Opaque", extra, "");
    unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate",
                 "spec.template.metadata.annotations: \"");
    assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
    json_decref(s);
  }
  /* allowed: the label the controller sets anyway, the owner opt-out, names
   * that only look alike */
  s = templated(f, "Opaque",
                "        seal.dev/skip-owner-reference: 'true'\n        not-seal.dev/key: x\n", "");
  json_object_set_new(doc_get(s, "spec", "template", "metadata", "labels", NULL),
                      MANIFEST_LABEL_UNSEALED, json_string("false"));
  json_object_set_new(doc_get(s, "spec", "template", "metadata", "labels", NULL),
                      "example.com/seal.dev", json_string("x"));
  secret = unseal_ok(s, f->ring, MANIFEST_UNSEAL_CONTROLLER);
  assert_string_equal(doc_get_string(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL),
                      "true");
  json_decref(secret);
  json_decref(s);

  /* sealing refuses what the controller would refuse, and drops the admin's
   * seal.dev/managed of a live Secret as it drops its ownerReferences */
  seal_text(f,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: seal.dev/key\n"
            "stringData: {private.key: k}\n",
            NULL, MANIFEST_ERR_INVALID, "type seal.dev/key is reserved");
  seal_text(f,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {seal.dev/key: active}}\n"
            "stringData: {a: b}\n",
            NULL, MANIFEST_ERR_INVALID, "metadata.labels: \"seal.dev/key\" is reserved");
  seal_text(f,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, annotations: "
            "{seal.dev/renew-requested-at: '2999-01-01T00:00:00Z'}}\nstringData: {a: b}\n",
            NULL, MANIFEST_ERR_INVALID,
            "metadata.annotations: \"seal.dev/renew-requested-at\" is reserved");
  s = seal_text(
      f,
      "apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {seal.dev/unsealed: 'true'}, "
      "annotations: {seal.dev/managed: 'true'}}\nstringData: {a: b}\n",
      NULL, MANIFEST_OK, NULL);
  assert_null(doc_get(s, "spec", "template", "metadata", "annotations", "seal.dev/managed", NULL));
  secret = unseal_ok(s, f->ring, 0);
  json_decref(secret);
  json_decref(s);
}

static void test_owner_labels_annotations(void **state)
{
  fixture *f = *state;
  json_t *s = templated(f, "Opaque", "", ""), *secret, *refs;

  secret = unseal_ok(s, f->ring, MANIFEST_UNSEAL_OWNER | MANIFEST_UNSEAL_CONTROLLER);
  assert_null(doc_get(secret, "metadata", "annotations", "argocd.argoproj.io/tracking-id", NULL));
  assert_string_equal(doc_get_string(secret, "metadata", "annotations", "note", NULL), "kept");
  assert_string_equal(doc_get_string(secret, "metadata", "labels", "app", NULL), "db");
  assert_string_equal(doc_get_string(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL),
                      "true");
  refs = doc_get(secret, "metadata", "ownerReferences", NULL);
  assert_int_equal(json_array_size(refs), 1);
  assert_string_equal(doc_get_string(json_array_get(refs, 0), "apiVersion", NULL), "seal.dev/v1");
  assert_string_equal(doc_get_string(json_array_get(refs, 0), "kind", NULL), "SealedSecret");
  assert_string_equal(doc_get_string(json_array_get(refs, 0), "name", NULL), "db");
  assert_string_equal(doc_get_string(json_array_get(refs, 0), "uid", NULL), "1234-abcd");
  assert_true(json_is_true(json_object_get(json_array_get(refs, 0), "controller")));
  json_decref(secret);
  /* no uid: no owner reference can be made */
  json_object_del(json_object_get(s, "metadata"), "uid");
  unseal_fails(s, f->ring, MANIFEST_UNSEAL_OWNER, MANIFEST_ERR_INVALID, "Invalid", "metadata.uid");
  json_decref(s);
  /* the template may opt out */
  s = templated(f, "Opaque", "        seal.dev/skip-owner-reference: 'true'\n", "");
  secret = unseal_ok(s, f->ring, MANIFEST_UNSEAL_OWNER);
  assert_null(doc_get(secret, "metadata", "ownerReferences", NULL));
  assert_null(doc_get(secret, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL));
  /* then seal.dev/managed is what marks it the controller's, never a label */
  assert_string_equal(doc_get_string(secret, "metadata", "annotations", MANIFEST_ANN_MANAGED, NULL),
                      "true");
  json_decref(secret);
  /* without OWNER (seal unseal) nothing is added */
  secret = unseal_ok(s, f->ring, 0);
  assert_null(doc_get(secret, "metadata", "annotations", MANIFEST_ANN_MANAGED, NULL));
  json_decref(secret);
  json_decref(s);
}

static void test_sealed_label(void **state)
{
  fixture *f = *state;
  json_t *s = sealed_for(f, "namespace-wide");
  char label[KEYS_LABEL_MAX];
  manifest_error err;

  assert_int_equal(manifest_sealed_label(label, sizeof label, s, "USER", &err), MANIFEST_OK);
  assert_string_equal(label, "namespace/prod/USER");
  json_object_del(doc_get(s, "metadata", "annotations", NULL), MANIFEST_ANN_SCOPE);
  assert_int_equal(manifest_sealed_label(label, sizeof label, s, "USER", &err), MANIFEST_OK);
  assert_string_equal(label, "strict/prod/db/USER");
  /* the template's metadata never counts */
  json_object_set_new(doc_get(s, "spec", "template", NULL), "metadata",
                      json_pack("{s:s, s:{s:s}}", "name", "other", "annotations",
                                MANIFEST_ANN_SCOPE, "cluster-wide"));
  assert_int_equal(manifest_sealed_label(label, sizeof label, s, "USER", &err), MANIFEST_OK);
  assert_string_equal(label, "strict/prod/db/USER");
  assert_int_equal(manifest_sealed_label(label, sizeof label, s, "bad/key", &err),
                   MANIFEST_ERR_INVALID);
  json_decref(s);
}

static void test_limits(void **state)
{
  fixture *f = *state;
  manifest_seal_opts opts = {f->pubs, 1, NULL, NULL, NULL, 0, 0};
  json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:{}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", "many", "stringData");
  json_t *sd = json_object_get(doc, "stringData"), *sealed = NULL, *secret;
  manifest_error err;
  char key[32], *big;
  size_t i;

  for (i = 0; i < MANIFEST_MAX_KEYS; i++) {
    snprintf(key, sizeof key, "k%04zu", i);
    json_object_set_new(sd, key, json_string("v"));
  }
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_OK);
  assert_int_equal(json_object_size(doc_get(sealed, "spec", "encryptedData", NULL)),
                   MANIFEST_MAX_KEYS);
  secret = unseal_ok(sealed, f->ring, 0);
  assert_int_equal(json_object_size(json_object_get(secret, "data")), MANIFEST_MAX_KEYS);
  json_decref(secret);
  json_decref(sealed);
  sealed = NULL;
  json_object_set_new(sd, "one-too-many", json_string("v"));
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_LIMIT);
  assert_non_null(strstr(err.message, "1025 data keys, more than 1024"));
  assert_null(sealed);
  json_object_clear(sd);

  /* 1 MiB in all is fine, one byte more is not */
  big = malloc(MANIFEST_MAX_DATA_BYTES + 1);
  assert_non_null(big);
  memset(big, 'x', MANIFEST_MAX_DATA_BYTES);
  json_object_set_new(sd, "a", json_stringn(big, MANIFEST_MAX_DATA_BYTES - 10));
  json_object_set_new(sd, "b", json_stringn(big, 10));
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_OK);
  secret = unseal_ok(sealed, f->ring, 0);
  json_decref(secret);
  json_decref(sealed);
  sealed = NULL;
  json_object_set_new(sd, "b", json_stringn(big, 11));
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_LIMIT);
  assert_non_null(strstr(err.message, "data is larger than 1048576 bytes in all"));
  assert_null(sealed);
  free(big);
  json_decref(doc);
}

/* A Secret of many keys is sealed on several threads (manifest/secret.c):
 * every value under its own key and label, the keys in sorted order as one
 * thread writes them, and a failure reported for the first key in that order
 * whichever thread met it first. */
static void test_many_values_in_parallel(void **state)
{
  fixture *f = *state;
  manifest_seal_opts opts = {f->pubs, 1, NULL, NULL, NULL, 0, 0};
  json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", "many", "namespace", "ns", "stringData");
  json_t *sd = json_object_get(doc, "stringData"), *sealed = NULL, *secret, *v;
  manifest_error err;
  const char *k, *prev = "";
  char key[32];
  size_t i;

  for (i = 0; i < 300; i++) {
    snprintf(key, sizeof key, "k%04zu", (i * 7919) % 300); /* not in sorted order */
    json_object_set_new(sd, key, json_string(key));
  }
  memset(&err, 0, sizeof err);
  assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_OK);
  json_object_foreach(doc_get(sealed, "spec", "encryptedData", NULL), k, v) {
    assert_true(strcmp(prev, k) < 0);
    prev = k;
  }
  secret = unseal_ok(sealed, f->ring, 0);
  assert_int_equal(json_object_size(json_object_get(secret, "data")), 300);
  for (i = 0; i < 300; i++) {
    snprintf(key, sizeof key, "k%04zu", i);
    assert_value(secret, key, key);
  }
  json_decref(secret);
  json_decref(sealed);
  sealed = NULL;

  opts.n_recipients = 0; /* every value fails */
  for (int round = 0; round < 5; round++) {
    memset(&err, 0, sizeof err);
    assert_int_equal(manifest_seal_secret(&sealed, doc, &opts, &err), MANIFEST_ERR_KEYS);
    assert_null(sealed);
    if (strstr(err.message, "Secret ns/many: key \"k0000\": ") == NULL)
      fail_msg("the first key in order is not the one named: %s", err.message);
  }
  json_decref(doc);
}

static void test_secret_matches(void **state)
{
  json_t *desired = parse_one("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"
                              "  labels: {app: db, seal.dev/unsealed: 'true'}\n"
                              "  annotations: {note: x}\n"
                              "  ownerReferences: [{apiVersion: seal.dev/v1, kind: SealedSecret, "
                              "name: db, uid: u1, controller: true}]\n"
                              "type: Opaque\ndata: {A: YQ==, B: Yg==}\n");
  json_t *live = json_deep_copy(desired);
  json_t *meta = json_object_get(live, "metadata");

  (void)state;
  assert_true(manifest_secret_matches(live, desired));
  /* server fields and extra labels do not matter */
  json_object_set_new(meta, "resourceVersion", json_string("99"));
  json_object_set_new(meta, "uid", json_string("x"));
  json_object_set_new(json_object_get(meta, "labels"), "extra", json_string("y"));
  json_object_set_new(json_object_get(meta, "annotations"), "kubectl.kubernetes.io/x",
                      json_string("z"));
  assert_true(manifest_secret_matches(live, desired));
  /* data must be exactly the same map */
  json_object_set_new(json_object_get(live, "data"), "C", json_string("Yw=="));
  assert_false(manifest_secret_matches(live, desired));
  json_object_del(json_object_get(live, "data"), "C");
  json_object_set_new(json_object_get(live, "data"), "A", json_string("Yg=="));
  assert_false(manifest_secret_matches(live, desired));
  json_object_set_new(json_object_get(live, "data"), "A", json_string("YQ=="));
  assert_true(manifest_secret_matches(live, desired));
  /* a desired label or annotation missing or changed */
  json_object_set_new(json_object_get(meta, "labels"), "app", json_string("other"));
  assert_false(manifest_secret_matches(live, desired));
  json_object_set_new(json_object_get(meta, "labels"), "app", json_string("db"));
  json_object_del(json_object_get(meta, "annotations"), "note");
  assert_false(manifest_secret_matches(live, desired));
  json_object_set_new(json_object_get(meta, "annotations"), "note", json_string("x"));
  assert_true(manifest_secret_matches(live, desired));
  /* type, immutable */
  json_object_set_new(live, "type", json_string("kubernetes.io/tls"));
  assert_false(manifest_secret_matches(live, desired));
  json_object_del(live, "type"); /* missing means Opaque */
  assert_true(manifest_secret_matches(live, desired));
  json_object_set_new(live, "immutable", json_true());
  assert_false(manifest_secret_matches(live, desired));
  json_object_set_new(live, "immutable", json_false());
  assert_true(manifest_secret_matches(live, desired));
  /* owner references */
  json_object_set_new(json_array_get(json_object_get(meta, "ownerReferences"), 0), "uid",
                      json_string("u2"));
  assert_false(manifest_secret_matches(live, desired));
  json_object_del(meta, "ownerReferences");
  assert_false(manifest_secret_matches(live, desired));
  json_decref(live);
  json_decref(desired);
}

static void test_reseal(void **state)
{
  fixture *f = *state;
  /* f->pubs[0] is the old key, f->pubs[2] the newest; pubs[1] stands for another cluster */
  static const size_t only_other_at[] = {1};
  static const size_t only_new_at[] = {2};
  keys_keyring *ring_old_new, *only_new;
  manifest_seal_opts opts = {&f->pubs[0], 1, NULL, NULL, NULL, 0, 0};
  json_t *secret = parse_one("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\n"
                             "stringData: {OLD: old-value, NEW: new-value, MULTI: both}\n");
  json_t *sealed = NULL, *part = NULL, *out;
  keys_public multi[2] = {f->pubs[1], f->pubs[0]};
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  size_t changed = 99, n_ids;
  char *new_before;
  const char *v;
  manifest_error err;

  /* the keyring of this cluster: old and new key, not the other cluster's */
  {
    static const size_t at[] = {0, 2};
    ring_old_new = sub_ring(f->ring, at, 2);
  }
  only_new = sub_ring(f->ring, only_new_at, 1);
  assert_int_equal(manifest_seal_secret(&sealed, secret, &opts, &err), MANIFEST_OK);
  /* NEW already sealed for the newest key, MULTI for another cluster and the old key */
  opts.recipients = &f->pubs[2];
  assert_int_equal(manifest_seal_secret(&part, secret, &opts, &err), MANIFEST_OK);
  json_object_set(doc_get(sealed, "spec", "encryptedData", NULL), "NEW",
                  doc_get(part, "spec", "encryptedData", "NEW", NULL));
  json_decref(part);
  part = NULL;
  opts.recipients = multi;
  opts.n_recipients = 2;
  assert_int_equal(manifest_seal_secret(&part, secret, &opts, &err), MANIFEST_OK);
  json_object_set(doc_get(sealed, "spec", "encryptedData", NULL), "MULTI",
                  doc_get(part, "spec", "encryptedData", "MULTI", NULL));
  json_decref(part);
  new_before = strdup(doc_get_string(sealed, "spec", "encryptedData", "NEW", NULL));
  assert_non_null(new_before);

  /* the newest key alone cannot open OLD yet */
  unseal_fails(sealed, only_new, MANIFEST_UNSEAL_KEEP_GOING, MANIFEST_ERR_KEYS, "NoKey", NULL);
  assert_int_equal(manifest_reseal_sealed(sealed, ring_old_new, &f->pubs[2], &changed, &err),
                   MANIFEST_OK);
  assert_int_equal(changed, 2);
  assert_string_equal(doc_get_string(sealed, "spec", "encryptedData", "NEW", NULL), new_before);
  out = unseal_ok(sealed, only_new, 0);
  assert_value(out, "OLD", "old-value");
  assert_value(out, "NEW", "new-value");
  assert_value(out, "MULTI", "both");
  json_decref(out);
  /* the other cluster's stanza is kept: it still opens there */
  v = doc_get_string(sealed, "spec", "encryptedData", "MULTI", NULL);
  assert_int_equal(keys_sealed_ids(ids, &n_ids, v, strlen(v), NULL), KEYS_OK);
  assert_int_equal(n_ids, 2);
  assert_memory_equal(ids[0], f->pubs[1].id, KEYS_ID_BYTES);
  assert_memory_equal(ids[1], f->pubs[2].id, KEYS_ID_BYTES);
  {
    keys_keyring *other = sub_ring(f->ring, only_other_at, 1);
    json_object_del(doc_get(sealed, "spec", "encryptedData", NULL), "OLD");
    json_object_del(doc_get(sealed, "spec", "encryptedData", NULL), "NEW");
    out = unseal_ok(sealed, other, 0);
    assert_value(out, "MULTI", "both");
    json_decref(out);
    keys_keyring_free(other);
  }
  /* again: nothing left to do */
  assert_int_equal(manifest_reseal_sealed(sealed, ring_old_new, &f->pubs[2], &changed, &err),
                   MANIFEST_OK);
  assert_int_equal(changed, 0);
  /* already current, but a scope that is not valid: refused as verify refuses it */
  {
    json_t *bad = json_deep_copy(sealed);
    json_t *md = doc_get(bad, "metadata", NULL);
    json_t *ann = json_object_get(md, "annotations");
    if (ann == NULL) {
      ann = json_object();
      json_object_set_new(md, "annotations", ann);
    }
    json_object_set_new(ann, MANIFEST_ANN_SCOPE, json_string("everywhere"));
    assert_int_equal(manifest_reseal_sealed(bad, ring_old_new, &f->pubs[2], &changed, &err),
                     MANIFEST_ERR_INVALID);
    assert_non_null(strstr(err.message, "everywhere"));
    json_decref(bad);
  }
  /* a value that does not open fails the whole re-seal and changes nothing */
  json_object_set_new(doc_get(sealed, "spec", "encryptedData", NULL), "AAA", json_string("AAAA"));
  out = json_deep_copy(sealed);
  assert_int_equal(manifest_reseal_sealed(sealed, ring_old_new, &f->pubs[0], &changed, &err),
                   MANIFEST_ERR_KEYS);
  assert_non_null(strstr(err.message, "key \"AAA\""));
  assert_true(json_equal(out, sealed));
  json_decref(out);
  free(new_before);
  keys_keyring_free(ring_old_new);
  keys_keyring_free(only_new);
  json_decref(sealed);
  json_decref(secret);
}

static void test_not_a_sealed_secret(void **state)
{
  fixture *f = *state;
  json_t *d = parse_one("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n");
  json_t *s = parse_one("apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: x}\n"
                        "spec: {encryptedData: [1, 2]}\n");

  unseal_fails(d, f->ring, 0, MANIFEST_ERR_INVALID, "Invalid", "not a seal.dev/v1 SealedSecret");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "Invalid", "spec.encryptedData is not a map");
  assert_int_equal(manifest_reseal_sealed(s, f->ring, &f->pubs[0], NULL, NULL),
                   MANIFEST_ERR_INVALID);
  json_decref(s);
  s = parse_one("apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: x}\n"
                "spec: {encryptedData: {'a b': AAAA}}\n");
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "Invalid", "not a valid data key");
  json_decref(s);
  /* a template that cannot make a Secret does not verify either */
  s = parse_one("apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: x}\n"
                "spec: {template: {metadata: {labels: [a]}}}\n");
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
  unseal_fails(s, f->ring, 0, MANIFEST_ERR_INVALID, "InvalidTemplate",
               "spec.template.metadata.labels is not a map");
  json_decref(s);
  s = parse_one("apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: x}\n"
                "spec: {template: {metadata: {annotations: {a: 1}}}}\n");
  assert_int_equal(manifest_unseal_sealed(NULL, s, f->ring, 0, NULL, NULL), MANIFEST_ERR_INVALID);
  json_decref(s);
  json_decref(d);
}

static void test_kinds_and_describe(void **state)
{
  json_t *d = parse_one("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\n"
                        "  namespace: kotaemon\n  labels: {n: 1}\n");
  json_t *other = parse_one("kind: Deployment\nmetadata: {name: web}\n");
  json_t *sealed = parse_one("apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata: {name: s}\n");
  char buf[128];

  (void)state;
  assert_true(manifest_is_secret(d));
  assert_false(manifest_is_sealed_secret(d));
  assert_true(manifest_is_sealed_secret(sealed));
  assert_false(manifest_is_secret(other));
  manifest_describe(buf, sizeof buf, d, 0);
  assert_string_equal(buf, "Secret kotaemon/api-keys");
  manifest_describe(buf, sizeof buf, other, 2);
  assert_string_equal(buf, "document 3 (Deployment)");
  manifest_describe(buf, sizeof buf, sealed, 0);
  assert_string_equal(buf, "SealedSecret s");
  assert_string_equal(manifest_strerror(MANIFEST_ERR_LIMIT), "over a limit");
  assert_string_equal(manifest_strerror(MANIFEST_ERR_KEYS), "sealing or unsealing failed");
  json_decref(d);
  json_decref(other);
  json_decref(sealed);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kinds_and_describe),
      cmocka_unit_test_setup_teardown(test_round_trip_every_scope, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_namespace_and_opts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seal_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_allow_empty_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_moved_values_do_not_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failures_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_template_rendering, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_account_token_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reserved_names_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_owner_labels_annotations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sealed_label, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_values_in_parallel, setup, teardown),
      cmocka_unit_test(test_secret_matches),
      cmocka_unit_test_setup_teardown(test_reseal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_a_sealed_secret, setup, teardown),
  };

  if (manifest_init() != MANIFEST_OK)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
