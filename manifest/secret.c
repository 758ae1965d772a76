/*
 * Secret to SealedSecret.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "manifest_int.h"
#include "banned.h"

#define ANN_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define SA_TOKEN_TYPE "kubernetes.io/service-account-token"

typedef struct plain_entry {
  const char *key;
  const uint8_t *data;
  size_t len;
  uint8_t *owned; /* decoded base64, wiped on release */
} plain_entry;

static int entry_cmp(const void *a, const void *b)
{
  return strcmp(((const plain_entry *)a)->key, ((const plain_entry *)b)->key);
}

/* Picks a name or namespace from the document and the option; a
 * contradiction is an error. */
static int pick(const char **out, const char *in_doc, const char *in_opts, const char *fallback,
                const char *what, const char *opt_name, const char *desc, manifest_error *err)
{
  if (in_doc != NULL && in_opts != NULL && strcmp(in_doc, in_opts) != 0)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: %s \"%.253s\" in the document contradicts %s \"%.253s\"", desc, what,
                    in_doc, opt_name, in_opts);
  *out = in_doc != NULL ? in_doc : in_opts != NULL ? in_opts : fallback;
  if (*out == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: no metadata.%s (give %s)", desc, what,
                    opt_name);
  if (!keys_name_valid(*out))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: %s \"%.253s\" is not a valid Kubernetes name", desc, what, *out);
  return MANIFEST_OK;
}

/* A field of parent that must be a string when present. */
static int opt_string(const char **out, const json_t *parent, const char *field, const char *where,
                      const char *desc, manifest_error *err)
{
  json_t *v = json_object_get(parent, field);

  *out = NULL;
  if (v == NULL || json_is_null(v))
    return MANIFEST_OK;
  if (!json_is_string(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: %s.%s is not a string", desc, where, field);
  *out = json_string_value(v);
  return MANIFEST_OK;
}

/* A map of strings (labels, annotations, data): NULL when absent, else an
 * error unless every value is a string. */
static int string_map(json_t **out, const json_t *parent, const char *field, const char *where,
                      const char *desc, manifest_error *err)
{
  json_t *v = json_object_get(parent, field), *child;
  const char *key;

  *out = NULL;
  if (v == NULL || json_is_null(v))
    return MANIFEST_OK;
  if (!json_is_object(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: %s.%s is not a map", desc, where, field);
  json_object_foreach(v, key, child) {
    if (json_is_null(child))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: %s.%s: key \"%.253s\": value is empty (null: an unset variable?)", desc,
                      where, field, key);
    if (!json_is_string(child))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: %s.%s: key \"%.253s\": value is not a string", desc, where, field, key);
  }
  *out = v;
  return MANIFEST_OK;
}

int manifest_template_metadata(json_t **out, const json_t *meta, const char *const *drop,
                               size_t n_drop, const char *desc, const char *where,
                               manifest_error *err)
{
  json_t *labels, *annotations, *o = NULL, *copy = NULL;
  const char *key;
  json_t *v;
  size_t i;
  int rc, skip;

  *out = NULL;
  rc = string_map(&labels, meta, "labels", where, desc, err);
  if (rc == MANIFEST_OK)
    rc = string_map(&annotations, meta, "annotations", where, desc, err);
  if (rc != MANIFEST_OK)
    return rc;
  o = json_object();
  if (o == NULL)
    goto nomem;
  if (json_object_size(labels) > 0) {
    copy = json_deep_copy(labels);
    if (copy == NULL || json_object_set_new(o, "labels", copy) != 0)
      goto nomem;
  }
  copy = json_object();
  if (copy == NULL)
    goto nomem;
  json_object_foreach(annotations, key, v) {
    skip = 0;
    for (i = 0; i < n_drop; i++)
      if (strcmp(key, drop[i]) == 0)
        skip = 1;
    if (!skip && json_object_set_new(copy, key, json_deep_copy(v)) != 0)
      goto nomem;
  }
  if (json_object_size(copy) > 0) {
    if (json_object_set_new(o, "annotations", copy) != 0) {
      copy = NULL;
      goto nomem;
    }
  } else {
    json_decref(copy);
  }
  copy = NULL;
  *out = o;
  return MANIFEST_OK;
nomem:
  json_decref(copy);
  json_decref(o);
  return doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", desc);
}

/* Collects data and stringData (which wins) into entries, checked. */
static int collect(plain_entry **out, size_t *n_out, const json_t *secret, const char *desc,
                   manifest_error *err)
{
  json_t *data, *string_data, *v;
  plain_entry *e = NULL;
  const char *key;
  size_t n = 0, max, total = 0;
  int rc;

  *out = NULL;
  *n_out = 0;
  rc = string_map(&data, secret, "data", "Secret", desc, err);
  if (rc == MANIFEST_OK)
    rc = string_map(&string_data, secret, "stringData", "Secret", desc, err);
  if (rc != MANIFEST_OK)
    return rc;
  max = json_object_size(data) + json_object_size(string_data);
  if (max == 0)
    return MANIFEST_OK;
  if (max > 2 * (size_t)MANIFEST_MAX_KEYS)
    return doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: more than %d data keys", desc,
                    MANIFEST_MAX_KEYS);
  e = calloc(max, sizeof *e);
  if (e == NULL)
    return doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", desc);
  json_object_foreach(string_data, key, v) {
    e[n].key = key;
    e[n].data = (const uint8_t *)json_string_value(v);
    e[n].len = json_string_length(v);
    n++;
  }
  json_object_foreach(data, key, v) {
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    if (keys_base64_decode(&dec, &dec_len, json_string_value(v), json_string_length(v)) !=
        KEYS_OK) {
      rc = doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: key \"%.253s\": data value is not canonical base64", desc, key);
      goto out;
    }
    if (json_object_get(string_data, key) != NULL) {
      doc_wipe_free(dec, dec_len);
      continue;
    }
    e[n].key = key;
    e[n].owned = dec;
    e[n].data = dec;
    e[n].len = dec_len;
    n++;
  }
  if (n > MANIFEST_MAX_KEYS) {
    rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: %zu data keys, more than %d", desc, n,
                  MANIFEST_MAX_KEYS);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (!keys_data_key_valid(e[i].key)) {
      rc = doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: key \"%.253s\" is not a valid data key (letters, digits, '-', '_', '.')",
                    desc, e[i].key);
      goto out;
    }
    total += e[i].len;
    if (total > (size_t)MANIFEST_MAX_DATA_BYTES) {
      rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: data is larger than %d bytes in all", desc,
                    MANIFEST_MAX_DATA_BYTES);
      goto out;
    }
  }
  qsort(e, n, sizeof *e, entry_cmp);
  *out = e;
  *n_out = n;
  e = NULL;
  n = 0;
out:
  for (size_t i = 0; e != NULL && i < n; i++)
    doc_wipe_free(e[i].owned, e[i].len);
  free(e);
  return rc;
}

static void entries_free(plain_entry *e, size_t n)
{
  for (size_t i = 0; e != NULL && i < n; i++)
    doc_wipe_free(e[i].owned, e[i].len);
  free(e);
}

static int check_kind(const json_t *secret, size_t index, manifest_error *err)
{
  const char *kind = doc_get_string(secret, "kind", NULL);
  const char *api = doc_get_string(secret, "apiVersion", NULL);

  if (!json_is_object(secret))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "document %zu is not a mapping, not a Secret",
                    index + 1);
  if (kind == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "document %zu has no kind, not a Secret",
                    index + 1);
  if (strcmp(kind, "Secret") != 0)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "document %zu is a %.100s, not a Secret",
                    index + 1, kind);
  if (api == NULL || strcmp(api, "v1") != 0)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "document %zu is a Secret of apiVersion \"%.100s\", not v1", index + 1,
                    api ? api : "");
  return MANIFEST_OK;
}

/*
 * Sealing the values of one Secret, spread over the machine's cores: each
 * value costs two X25519 operations (docs/spec.md), so a Secret of 1,000 keys
 * is 1,000 independent jobs. The calling thread and up to one thread more per
 * online CPU take the next index from a shared counter and write only their
 * own slot; the result is read in index order afterwards, so the output is
 * the same as one thread's. Only the first failing index (in the sorted order
 * the output has) is kept, and indices after it are skipped. keys_seal keeps
 * its secrets in a per-thread scratch (keys/value.c), freed when the thread
 * ends. A thread that cannot be started leaves its share to the others.
 */
#define SEAL_VALUES_PER_THREAD 8 /* below that a thread costs more than it saves */
#define SEAL_MAX_THREADS 64

typedef struct seal_job {
  const plain_entry *e;
  size_t n;
  const manifest_seal_opts *opts;
  keys_scope scope;
  const char *ns, *name;
  char **sealed;            /* [n], the base64 of each value */
  atomic_size_t next;       /* the next index to take */
  atomic_size_t first_fail; /* n while none failed */
  pthread_mutex_t lock;     /* over fail_rc and fail_err */
  int fail_rc;
  keys_error fail_err;
} seal_job;

static void seal_one(seal_job *j, size_t i)
{
  char label[KEYS_LABEL_MAX];
  keys_error kerr;
  int rc;

  memset(&kerr, 0, sizeof kerr);
  rc = keys_label(label, sizeof label, j->scope, j->ns, j->name, j->e[i].key, &kerr);
  if (rc == KEYS_OK)
    rc = keys_seal(&j->sealed[i], j->opts->recipients, j->opts->n_recipients, label, j->e[i].data,
                   j->e[i].len, &kerr);
  if (rc == KEYS_OK)
    return;
  pthread_mutex_lock(&j->lock);
  if (i < atomic_load(&j->first_fail)) {
    atomic_store(&j->first_fail, i);
    j->fail_rc = rc;
    j->fail_err = kerr;
  }
  pthread_mutex_unlock(&j->lock);
}

static void *seal_worker(void *arg)
{
  seal_job *j = arg;
  size_t i;

  while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
    if (i < atomic_load(&j->first_fail))
      seal_one(j, i);
  return NULL;
}

/* Seals e[0..n) into j->sealed; KEYS_OK, or the status of the first failure
 * (j->fail_err). */
static int seal_values(seal_job *j)
{
  pthread_t tid[SEAL_MAX_THREADS];
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t want = cpus > 1 ? (size_t)cpus : 1, started = 0;

  if (want > j->n / SEAL_VALUES_PER_THREAD)
    want = j->n / SEAL_VALUES_PER_THREAD;
  if (want > SEAL_MAX_THREADS)
    want = SEAL_MAX_THREADS;
  atomic_init(&j->next, 0);
  atomic_init(&j->first_fail, j->n);
  for (; started + 1 < want; started++)
    if (pthread_create(&tid[started], NULL, seal_worker, j) != 0)
      break;
  seal_worker(j);
  for (size_t t = 0; t < started; t++)
    pthread_join(tid[t], NULL);
  return atomic_load(&j->first_fail) < j->n ? j->fail_rc : KEYS_OK;
}

int manifest_seal_secret(json_t **out, const json_t *secret, const manifest_seal_opts *opts,
                         manifest_error *err)
{
  /* seal.dev/managed is an admin's word on a live Secret, never a template's */
  static const char *const drop[] = {ANN_LAST_APPLIED, MANIFEST_ANN_SCOPE, MANIFEST_ANN_MANAGED};
  const char *doc_name, *doc_ns, *doc_scope, *name, *ns, *type;
  char desc[2 * KEYS_NAME_MAX + 64];
  plain_entry *e = NULL;
  size_t n = 0, i;
  keys_scope scope, opt_scope;
  seal_job job = {.lock = PTHREAD_MUTEX_INITIALIZER};
  json_t *result = NULL, *enc = NULL, *tmeta = NULL, *immutable, *meta;
  int rc;

  if (out == NULL || opts == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "manifest_seal_secret: bad arguments");
  *out = NULL;
  rc = check_kind(secret, opts->index, err);
  if (rc != MANIFEST_OK)
    return rc;
  snprintf(desc, sizeof desc, "document %zu (Secret)", opts->index + 1);
  meta = json_object_get(secret, "metadata");
  if (meta != NULL && !json_is_object(meta))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: metadata is not a map", desc);
  rc = opt_string(&doc_name, meta, "name", "metadata", desc, err);
  if (rc == MANIFEST_OK)
    rc = opt_string(&doc_ns, meta, "namespace", "metadata", desc, err);
  if (rc == MANIFEST_OK)
    rc = pick(&name, doc_name, opts->name, NULL, "name", "--name", desc, err);
  if (rc == MANIFEST_OK)
    rc = pick(&ns, doc_ns, opts->namespace, "default", "namespace", "--namespace", desc, err);
  if (rc != MANIFEST_OK)
    return rc;
  snprintf(desc, sizeof desc, "Secret %s/%s", ns, name);

  doc_scope = doc_get_string(secret, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL);
  if (keys_scope_parse(&scope, doc_scope) != KEYS_OK)
    return doc_fail(
        err, MANIFEST_ERR_INVALID, 0,
        "%s: annotation %s: unknown scope \"%.100s\" (strict, namespace-wide, cluster-wide)", desc,
        MANIFEST_ANN_SCOPE, doc_scope);
  if (opts->scope != NULL) {
    if (keys_scope_parse(&opt_scope, opts->scope) != KEYS_OK)
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "unknown scope \"%.100s\" (strict, namespace-wide, cluster-wide)",
                      opts->scope);
    if (doc_scope != NULL && opt_scope != scope)
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: annotation %s \"%.100s\" contradicts --scope \"%.100s\"", desc,
                      MANIFEST_ANN_SCOPE, doc_scope, opts->scope);
    scope = opt_scope;
  }

  rc = opt_string(&type, secret, "type", "Secret", desc, err);
  if (rc != MANIFEST_OK)
    return rc;
  if (type != NULL && strcmp(type, SA_TOKEN_TYPE) == 0)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: type %s cannot be sealed (the controller never makes one)", desc,
                    SA_TOKEN_TYPE);
  if (manifest_reserved_type(type))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: type %.253s is reserved for the controller's key Secrets and cannot "
                    "be sealed",
                    desc, type);
  immutable = json_object_get(secret, "immutable");
  if (json_is_null(immutable))
    immutable = NULL;
  if (immutable != NULL && !json_is_boolean(immutable))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: immutable is not true or false", desc);

  rc = collect(&e, &n, secret, desc, err);
  if (rc != MANIFEST_OK)
    return rc;
  if (n == 0 && !opts->allow_empty_data) {
    rc = doc_fail(err, MANIFEST_ERR_INVALID, 0,
                  "%s: no data or stringData to seal (--allow-empty-data seals it anyway)", desc);
    goto out;
  }
  /* an empty value is most often an unset shell variable, not a wish */
  for (i = 0; i < n && !opts->allow_empty_data; i++)
    if (e[i].len == 0) {
      rc = doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: key \"%s\": empty value refused (an unset variable?); "
                    "--allow-empty-data seals it anyway",
                    desc, e[i].key);
      goto out;
    }
  rc = manifest_template_metadata(&tmeta, meta, drop, 3, desc, "metadata", err);
  if (rc != MANIFEST_OK)
    goto out;
  /* what the controller would refuse in a template is refused when sealing */
  rc = manifest_check_reserved(tmeta, desc, "metadata", err);
  if (rc != MANIFEST_OK)
    goto out;

  enc = json_object();
  job.sealed = calloc(n ? n : 1, sizeof *job.sealed);
  if (enc == NULL || job.sealed == NULL)
    goto nomem;
  job.e = e;
  job.n = n;
  job.opts = opts;
  job.scope = scope;
  job.ns = ns;
  job.name = name;
  rc = seal_values(&job);
  if (rc != KEYS_OK) {
    i = atomic_load(&job.first_fail);
    if (err != NULL) {
      doc_fail(err, MANIFEST_ERR_KEYS, 0, "%s: key \"%s\": %s", desc, e[i].key,
               job.fail_err.message[0] ? job.fail_err.message : keys_strerror(rc));
      err->cause = rc;
    }
    rc = MANIFEST_ERR_KEYS;
    goto out;
  }
  for (i = 0; i < n; i++)
    if (json_object_set_new(enc, e[i].key, json_string_nocheck(job.sealed[i])) != 0)
      goto nomem;

  result = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:O, s:{s:s}}}", "apiVersion",
                     MANIFEST_API_VERSION, "kind", MANIFEST_KIND, "metadata", "name", name,
                     "namespace", ns, "annotations", MANIFEST_ANN_SCOPE, keys_scope_name(scope),
                     "spec", "encryptedData", enc, "template", "type", type ? type : "Opaque");
  if (result == NULL)
    goto nomem;
  if (immutable != NULL &&
      json_object_set(doc_get(result, "spec", "template", NULL), "immutable", immutable) != 0)
    goto nomem;
  if (json_object_size(tmeta) > 0 &&
      json_object_set(doc_get(result, "spec", "template", NULL), "metadata", tmeta) != 0)
    goto nomem;
  *out = result;
  result = NULL;
  rc = MANIFEST_OK;
  goto out;
nomem:
  rc = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", desc);
out:
  for (i = 0; job.sealed != NULL && i < n; i++)
    free(job.sealed[i]);
  free(job.sealed);
  json_decref(result);
  json_decref(enc);
  json_decref(tmeta);
  entries_free(e, n);
  return rc;
}
