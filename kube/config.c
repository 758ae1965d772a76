#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "doc.h"
#include "internal.h"
#include "kube.h"

#include "status_text.h"
#include "banned.h"

#define KUBECONFIG_MAX_BYTES DOC_MAX_BYTES
#define PEM_MAX_BYTES (1024 * 1024)
#define TOKEN_MAX_BYTES (64 * 1024)
#define MAX_KUBECONFIG_FILES 64
#define DIR_KEY \
  " seal-kube-dir" /* private key marking an entry's folder; no YAML key has a leading space */

static const seal_status_text kube_texts[] = {{KUBE_OK, "success"},
                                              {KUBE_ERR_NOMEM, "out of memory"},
                                              {KUBE_ERR_INVALID, "invalid argument"},
                                              {KUBE_ERR_CONFIG, "unusable configuration"},
                                              {KUBE_ERR_IO, "file could not be read"},
                                              {KUBE_ERR_TRANSPORT,
                                               "could not reach the API server"},
                                              {KUBE_ERR_HTTP, "the API server refused the request"},
                                              {KUBE_ERR_PROTOCOL,
                                               "unexpected answer from the API server"},
                                              {KUBE_ERR_LIMIT, "answer over its size limit"},
                                              {KUBE_ERR_CANCELLED, "request cancelled"}};

const char *kube_strerror(int err)
{
  return SEAL_STATUS_TEXT(kube_texts, err, "unknown error");
}

void kube_status_set(kube_status *st, int err, const char *fmt, ...)
{
  va_list ap;

  if (st == NULL)
    return;
  st->err = err;
  va_start(ap, fmt);
  vsnprintf(st->message, sizeof(st->message), fmt, ap);
  va_end(ap);
}

int kube_read_file(unsigned char **out, size_t *out_len, const char *path, size_t max, int secure,
                   kube_status *st)
{
  doc_error derr;
  char *text = NULL;
  int rc;

  rc = doc_read_file(&text, out_len, path, max, secure ? DOC_READ_SECRET : 0, &derr);
  *out = (unsigned char *)text;
  if (rc == DOC_OK)
    return KUBE_OK;
  rc = rc == DOC_ERR_LIMIT ? KUBE_ERR_LIMIT : rc == DOC_ERR_NOMEM ? KUBE_ERR_NOMEM : KUBE_ERR_IO;
  kube_status_set(st, rc, "%s", derr.message);
  return rc;
}

void kube_config_free(kube_config *cfg)
{
  if (cfg == NULL)
    return;
  free(cfg->server);
  free(cfg->namespace_);
  free(cfg->context);
  free(cfg->ca);
  free(cfg->cert);
  sodium_free(cfg->key); /* wipes */
  sodium_free(cfg->token);
  free(cfg->token_file);
  kube_exec_free(cfg->exec);
  sodium_memzero(cfg, sizeof(*cfg));
  free(cfg);
}

const char *kube_config_server(const kube_config *cfg)
{
  return cfg ? cfg->server : NULL;
}
const char *kube_config_namespace(const kube_config *cfg)
{
  return cfg ? cfg->namespace_ : NULL;
}
const char *kube_config_context(const kube_config *cfg)
{
  return cfg ? cfg->context : NULL;
}
int kube_config_in_cluster(const kube_config *cfg)
{
  return cfg ? cfg->in_cluster : 0;
}

int kube_config_insecure(const kube_config *cfg)
{
  return cfg ? cfg->insecure : 0;
}

static int dup_bytes(unsigned char **out, const unsigned char *src, size_t len, int secure)
{
  *out = NULL;
  if (src == NULL)
    return 0;
  *out = secure ? sodium_malloc(len + 1) : malloc(len + 1);
  if (*out == NULL)
    return KUBE_ERR_NOMEM;
  memcpy(*out, src, len);
  (*out)[len] = '\0';
  return 0;
}

static int dup_str(char **out, const char *s)
{
  *out = NULL;
  if (s == NULL)
    return 0;
  *out = strdup(s);
  return *out ? 0 : KUBE_ERR_NOMEM;
}

int kube_config_dup(kube_config **out, const kube_config *cfg)
{
  kube_config *c = NULL;
  int rc = KUBE_ERR_NOMEM;

  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto out;
  c->in_cluster = cfg->in_cluster;
  c->insecure = cfg->insecure;
  c->ca_len = cfg->ca_len;
  c->cert_len = cfg->cert_len;
  c->key_len = cfg->key_len;
  if (dup_str(&c->server, cfg->server) || dup_str(&c->namespace_, cfg->namespace_) ||
      dup_str(&c->context, cfg->context) || dup_str(&c->token_file, cfg->token_file) ||
      dup_bytes(&c->ca, cfg->ca, cfg->ca_len, 0) ||
      dup_bytes(&c->cert, cfg->cert, cfg->cert_len, 0) ||
      dup_bytes(&c->key, cfg->key, cfg->key_len, 1) ||
      dup_bytes((unsigned char **)&c->token, (const unsigned char *)cfg->token,
                cfg->token ? strlen(cfg->token) : 0, 1) ||
      kube_exec_dup(&c->exec, cfg->exec))
    goto out;
  *out = c;
  c = NULL;
  rc = KUBE_OK;
out:
  kube_config_free(c);
  return rc;
}

/* ---- helpers ------------------------------------------------------------ */

int kube_token_ok(const char *t, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
      return 0;
  return len > 0;
}

int kube_read_token(char **out, const char *path, kube_status *st)
{
  unsigned char *buf = NULL;
  size_t len = 0, start = 0;
  int rc;

  *out = NULL;
  rc = kube_read_file(&buf, &len, path, TOKEN_MAX_BYTES, 1, st);
  if (rc < 0)
    return rc;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                     buf[len - 1] == '\t'))
    buf[--len] = '\0';
  while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n'))
    start++;
  if (start == len) {
    sodium_free(buf);
    kube_status_set(st, KUBE_ERR_CONFIG, "token file \"%s\" is empty", path);
    return KUBE_ERR_CONFIG;
  }
  if (!kube_token_ok((const char *)buf + start, len - start)) {
    sodium_free(buf);
    kube_status_set(st, KUBE_ERR_CONFIG,
                    "token file \"%s\" holds a space, line break or control character", path);
    return KUBE_ERR_CONFIG;
  }
  if (start > 0) {
    memmove(buf, buf + start, len - start + 1);
    sodium_memzero(buf + len - start + 1, start);
  }
  *out = (char *)buf;
  return KUBE_OK;
}

/* base64 (standard alphabet, white space ignored) into memory of the given kind. */
static int decode_b64(unsigned char **out, size_t *out_len, const char *b64, int secure,
                      const char *what, const char *where, kube_status *st)
{
  size_t b64_len = strlen(b64), cap = b64_len / 4 * 3 + 4, len = 0;
  unsigned char *buf;

  *out = NULL;
  *out_len = 0;
  if (b64_len > 4 * PEM_MAX_BYTES) {
    kube_status_set(st, KUBE_ERR_LIMIT, "%s: %s is larger than %d bytes", where, what,
                    PEM_MAX_BYTES);
    return KUBE_ERR_LIMIT;
  }
  buf = secure ? sodium_malloc(cap) : malloc(cap);
  if (buf == NULL) {
    kube_status_set(st, KUBE_ERR_NOMEM, "%s: out of memory", where);
    return KUBE_ERR_NOMEM;
  }
  if (sodium_base642bin(buf, cap - 1, b64, b64_len, " \t\r\n", &len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len == 0) {
    if (secure) {
      sodium_free(buf);
    } else {
      free(buf);
    }
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: %s is not valid base64", where, what);
    return KUBE_ERR_CONFIG;
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  return KUBE_OK;
}

/* A path from a kubeconfig, relative to the folder of the file that set it. */
static int resolve_path(char *buf, size_t size, const json_t *entry, const char *path)
{
  const char *dir = json_string_value(json_object_get(entry, DIR_KEY));
  int n;

  if (path[0] == '/' || dir == NULL || dir[0] == '\0')
    n = snprintf(buf, size, "%s", path);
  else
    n = snprintf(buf, size, "%s/%s", dir, path);
  return (n < 0 || (size_t)n >= size) ? KUBE_ERR_INVALID : KUBE_OK;
}

static int get_bool(const json_t *v)
{
  if (json_is_true(v))
    return 1;
  if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
    return 1;
  return 0;
}

/* A string field that is present must be a string. */
static int get_str(const char **out, const json_t *obj, const char *key, const char *where,
                   kube_status *st)
{
  json_t *v = json_object_get(obj, key);

  *out = NULL;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: \"%s\" is not a string", where, key);
    return KUBE_ERR_CONFIG;
  }
  *out = json_string_value(v);
  if ((*out)[0] == '\0')
    *out = NULL;
  return 0;
}

/* ---- kubeconfig files --------------------------------------------------- */

typedef struct merged {
  json_t *clusters; /* name -> entry (with DIR_KEY) */
  json_t *contexts;
  json_t *users;
  char *current;      /* current-context */
  char sources[1024]; /* names the files in messages */
} merged;

static void merged_free(merged *m)
{
  json_decref(m->clusters);
  json_decref(m->contexts);
  json_decref(m->users);
  free(m->current);
}

static int merge_list(json_t *into, const json_t *doc, const char *key, const char *inner,
                      const char *dir, const char *path, kube_status *st)
{
  json_t *list = json_object_get(doc, key), *item;
  size_t i;

  if (list == NULL || json_is_null(list))
    return 0;
  if (!json_is_array(list)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig \"%s\": \"%s\" is not a list", path, key);
    return KUBE_ERR_CONFIG;
  }
  json_array_foreach(list, i, item) {
    const char *name = json_string_value(json_object_get(item, "name"));
    json_t *body = json_object_get(item, inner), *copy;

    if (!json_is_object(item) || name == NULL || name[0] == '\0') {
      kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig \"%s\": entry %zu of \"%s\" has no name",
                      path, i + 1, key);
      return KUBE_ERR_CONFIG;
    }
    if (json_object_get(into, name) != NULL)
      continue; /* the first file to set a name wins */
    if (body != NULL && !json_is_object(body)) {
      kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig \"%s\": %s \"%s\": \"%s\" is not a map",
                      path, inner, name, inner);
      return KUBE_ERR_CONFIG;
    }
    copy = body ? json_deep_copy(body) : json_object();
    if (copy == NULL || json_object_set_new(copy, DIR_KEY, json_string(dir)) != 0 ||
        json_object_set_new(copy, " file", json_string(path)) != 0 ||
        json_object_set_new(into, name, copy) != 0) {
      kube_status_set(st, KUBE_ERR_NOMEM, "kubeconfig \"%s\": out of memory", path);
      return KUBE_ERR_NOMEM;
    }
  }
  return 0;
}

/* Merges one file. missing_ok: a file that does not exist is skipped (*found 0). */
static int merge_file(merged *m, const char *path, int missing_ok, int *found, kube_status *st)
{
  unsigned char *text = NULL;
  size_t len = 0;
  doc_list docs = {0};
  doc_error merr;
  char dir[PATH_MAX];
  const char *slash, *cur;
  json_t *doc;
  int rc;

  *found = 0;
  if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
    return 0;
  rc = kube_read_file(&text, &len, path, KUBECONFIG_MAX_BYTES, 0, st);
  if (rc < 0) /* the message names the file and the reason */
    return rc == KUBE_ERR_NOMEM ? rc : KUBE_ERR_CONFIG;
  *found = 1;
  memset(&merr, 0, sizeof(merr));
  rc = doc_parse(&docs, (const char *)text, len, path, 0, &merr);
  if (rc < 0) {
    kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig \"%s\": %s", path, merr.message);
    rc = KUBE_ERR_CONFIG;
    goto out;
  }
  if (docs.n == 0)
    goto out; /* an empty file is an empty configuration, as for kubectl */
  doc = docs.docs[0];
  if (docs.n > 1 || !json_is_object(doc)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig \"%s\": not a single map", path);
    rc = KUBE_ERR_CONFIG;
    goto out;
  }
  slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == path)
    snprintf(dir, sizeof(dir), "/");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
  rc = merge_list(m->clusters, doc, "clusters", "cluster", dir, path, st);
  if (rc == 0)
    rc = merge_list(m->contexts, doc, "contexts", "context", dir, path, st);
  if (rc == 0)
    rc = merge_list(m->users, doc, "users", "user", dir, path, st);
  if (rc < 0)
    goto out;
  cur = json_string_value(json_object_get(doc, "current-context"));
  if (m->current == NULL && cur != NULL && cur[0] != '\0') {
    m->current = strdup(cur);
    if (m->current == NULL) {
      rc = KUBE_ERR_NOMEM;
      goto out;
    }
  }
out:
  doc_list_free(&docs);
  doc_wipe_free(text, len); /* kubeconfigs hold tokens and keys */
  return rc;
}

/* A PEM from NAME-data (base64) or NAME (a file). */
static int load_pem(unsigned char **out, size_t *out_len, const json_t *entry, const char *field,
                    int secure, const char *where, kube_status *st)
{
  char data_key[64], path[PATH_MAX];
  const char *data = NULL, *file = NULL;
  int rc;

  *out = NULL;
  *out_len = 0;
  snprintf(data_key, sizeof(data_key), "%s-data", field);
  if ((rc = get_str(&data, entry, data_key, where, st)) < 0 ||
      (rc = get_str(&file, entry, field, where, st)) < 0)
    return rc;
  if (data != NULL)
    return decode_b64(out, out_len, data, secure, data_key, where, st);
  if (file == NULL)
    return 0;
  if (resolve_path(path, sizeof(path), entry, file) < 0) {
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: %s path too long", where, field);
    return KUBE_ERR_CONFIG;
  }
  rc = kube_read_file(out, out_len, path, PEM_MAX_BYTES, secure, st);
  if (rc < 0) {
    char msg[sizeof(st->message)];
    if (st != NULL) {
      snprintf(msg, sizeof(msg), "%s", st->message);
      kube_status_set(st, KUBE_ERR_CONFIG, "%s: %s: %s", where, field, msg);
    }
    return KUBE_ERR_CONFIG;
  }
  return 0;
}

static int given(const char *s)
{
  return s != NULL && s[0] != '\0';
}

/* An http(s) URL as the server, without trailing '/'; what names it in messages. */
static int set_server(kube_config *cfg, const char *server, const char *what, kube_status *st)
{
  size_t n;

  if (server == NULL ||
      (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: server is %s", what,
                    server ? "not an http(s) URL" : "missing");
    return KUBE_ERR_CONFIG;
  }
  free(cfg->server);
  cfg->server = strdup(server);
  if (cfg->server == NULL)
    return KUBE_ERR_NOMEM;
  n = strlen(cfg->server);
  while (n > 8 && cfg->server[n - 1] == '/')
    cfg->server[--n] = '\0';
  return KUBE_OK;
}

/* The server and TLS trust of a kubeconfig cluster entry, under the overrides. */
static int cluster_from(kube_config *cfg, const json_t *cluster, const kube_config_overrides *ov,
                        const char *where, kube_status *st)
{
  const char *server = NULL;
  int rc;

  if ((rc = get_str(&server, cluster, "server", where, st)) < 0)
    return rc;
  if (!given(ov->server) && (rc = set_server(cfg, server, where, st)) < 0)
    return rc;
  /* a CA or insecure-skip-tls-verify given on top replaces both of the cluster's */
  if (given(ov->certificate_authority) || ov->insecure_skip_tls_verify)
    return KUBE_OK;
  cfg->insecure = get_bool(json_object_get(cluster, "insecure-skip-tls-verify"));
  return load_pem(&cfg->ca, &cfg->ca_len, cluster, "certificate-authority", 0, where, st);
}

static int config_from_merged(kube_config *cfg, merged *m, const kube_config_opts *o,
                              kube_status *st)
{
  const kube_config_overrides *ov = &o->overrides;
  const char *ctx_name = o->context ? o->context : m->current;
  const char *cluster_name = NULL, *user_name = NULL, *ns = NULL;
  const char *token = NULL, *token_file = NULL;
  json_t *ctx = NULL, *cluster = NULL, *user = NULL;
  char where[512], path[PATH_MAX];
  int rc;

  if (ctx_name == NULL || ctx_name[0] == '\0') {
    /* as for kubectl, a cluster or a server given on the command line needs no context */
    if (!given(ov->cluster) && !given(ov->server)) {
      kube_status_set(st, KUBE_ERR_CONFIG,
                      "kubeconfig %s: no current-context is set; name a context", m->sources);
      return KUBE_ERR_CONFIG;
    }
    ctx_name = NULL;
    snprintf(where, sizeof(where), "kubeconfig %.300s", m->sources);
  } else {
    ctx = json_object_get(m->contexts, ctx_name);
    if (ctx == NULL) {
      kube_status_set(st, KUBE_ERR_CONFIG, "kubeconfig %s: context \"%s\" not found", m->sources,
                      ctx_name);
      return KUBE_ERR_CONFIG;
    }
    snprintf(where, sizeof(where), "kubeconfig %.300s: context \"%.150s\"", m->sources, ctx_name);
    if ((rc = get_str(&cluster_name, ctx, "cluster", where, st)) < 0 ||
        (rc = get_str(&user_name, ctx, "user", where, st)) < 0 ||
        (rc = get_str(&ns, ctx, "namespace", where, st)) < 0)
      return rc;
  }
  if (given(ov->cluster))
    cluster_name = ov->cluster;
  if (given(ov->user))
    user_name = ov->user;
  if (cluster_name == NULL && !given(ov->server)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: no cluster", where);
    return KUBE_ERR_CONFIG;
  }
  if (cluster_name != NULL) {
    cluster = json_object_get(m->clusters, cluster_name);
    if (cluster == NULL) {
      kube_status_set(st, KUBE_ERR_CONFIG, "%s: cluster \"%s\"%s not found", where, cluster_name,
                      given(ov->cluster) ? " (--cluster)" : "");
      return KUBE_ERR_CONFIG;
    }
  }
  /* a token given on top replaces the user's credentials: they are not read */
  if (user_name != NULL && !given(ov->token)) {
    user = json_object_get(m->users, user_name);
    if (user == NULL) {
      kube_status_set(st, KUBE_ERR_CONFIG, "%s: user \"%s\"%s not found", where, user_name,
                      given(ov->user) ? " (--user)" : "");
      return KUBE_ERR_CONFIG;
    }
  }
  if (ctx_name != NULL && (cfg->context = strdup(ctx_name)) == NULL)
    return KUBE_ERR_NOMEM;
  cfg->namespace_ = strdup(ns ? ns : "default");
  if (cfg->namespace_ == NULL)
    return KUBE_ERR_NOMEM;
  /* Without a cluster only the overrides describe it; the user's credentials
   * still apply, as kubectl applies them to a --server. */
  if (cluster != NULL) {
    snprintf(where, sizeof(where), "kubeconfig %.300s: cluster \"%.150s\"", m->sources,
             cluster_name);
    if ((rc = cluster_from(cfg, cluster, ov, where, st)) < 0)
      return rc;
  }
  if (user == NULL)
    return KUBE_OK;

  snprintf(where, sizeof(where), "kubeconfig %.300s: user \"%.150s\"", m->sources, user_name);
  rc = load_pem(&cfg->cert, &cfg->cert_len, user, "client-certificate", 0, where, st);
  if (rc == 0)
    rc = load_pem(&cfg->key, &cfg->key_len, user, "client-key", 1, where, st);
  if (rc < 0)
    return rc;
  if ((cfg->cert != NULL) != (cfg->key != NULL)) {
    kube_status_set(st, KUBE_ERR_CONFIG, "%s: a client certificate needs its key and back", where);
    return KUBE_ERR_CONFIG;
  }
  if ((rc = get_str(&token, user, "token", where, st)) < 0 ||
      (rc = get_str(&token_file, user, "tokenFile", where, st)) < 0)
    return rc;
  if (token_file != NULL) { /* as for client-go, the file wins over token */
    if (resolve_path(path, sizeof(path), user, token_file) < 0) {
      kube_status_set(st, KUBE_ERR_CONFIG, "%s: tokenFile path too long", where);
      return KUBE_ERR_CONFIG;
    }
    cfg->token_file = strdup(path);
    if (cfg->token_file == NULL)
      return KUBE_ERR_NOMEM;
    rc = kube_read_token(&cfg->token, path, st);
    if (rc < 0) {
      char msg[sizeof(st->message)];
      if (st != NULL) {
        snprintf(msg, sizeof(msg), "%s", st->message);
        kube_status_set(st, KUBE_ERR_CONFIG, "%s: tokenFile: %s", where, msg);
      }
      return KUBE_ERR_CONFIG;
    }
  } else if (token != NULL) {
    size_t n = strlen(token);
    if (!kube_token_ok(token, n)) {
      kube_status_set(st, KUBE_ERR_CONFIG,
                      "%s: token holds a space, line break or control character", where);
      return KUBE_ERR_CONFIG;
    }
    if (dup_bytes((unsigned char **)&cfg->token, (const unsigned char *)token, n, 1) < 0)
      return KUBE_ERR_NOMEM;
  }
  if (json_object_get(user, "exec") != NULL && !json_is_null(json_object_get(user, "exec")))
    return kube_exec_from_config(&cfg->exec, json_object_get(user, "exec"),
                                 json_string_value(json_object_get(user, DIR_KEY)), cluster, where,
                                 st);
  return KUBE_OK;
}

/* The overrides on top of what was loaded (a kubeconfig, the service account
 * or nothing): the server, the CA or insecure-skip-tls-verify, the token. */
static int apply_overrides(kube_config *cfg, const kube_config_overrides *ov, kube_status *st)
{
  int rc;

  if (given(ov->server) && (rc = set_server(cfg, ov->server, "--server", st)) < 0)
    return rc;
  if (given(ov->certificate_authority) || ov->insecure_skip_tls_verify) {
    free(cfg->ca);
    cfg->ca = NULL;
    cfg->ca_len = 0;
    cfg->insecure = ov->insecure_skip_tls_verify ? 1 : 0;
  }
  if (given(ov->certificate_authority)) {
    rc = kube_read_file(&cfg->ca, &cfg->ca_len, ov->certificate_authority, PEM_MAX_BYTES, 0, st);
    if (rc < 0) { /* the message names the file and the reason */
      char msg[sizeof(st->message)];
      if (st != NULL) {
        snprintf(msg, sizeof(msg), "%s", st->message);
        kube_status_set(st, KUBE_ERR_CONFIG, "--certificate-authority: %s", msg);
      }
      return rc == KUBE_ERR_NOMEM ? rc : KUBE_ERR_CONFIG;
    }
    if (cfg->ca_len == 0) {
      kube_status_set(st, KUBE_ERR_CONFIG, "--certificate-authority \"%s\" is empty",
                      ov->certificate_authority);
      return KUBE_ERR_CONFIG;
    }
  }
  if (given(ov->token)) {
    size_t n = strlen(ov->token);
    if (!kube_token_ok(ov->token, n)) { /* never quoted: it is a credential */
      kube_status_set(st, KUBE_ERR_CONFIG,
                      "--token holds a space, line break or control character");
      return KUBE_ERR_CONFIG;
    }
    sodium_free(cfg->token);
    cfg->token = NULL;
    free(cfg->token_file);
    cfg->token_file = NULL;
    free(cfg->cert);
    cfg->cert = NULL;
    cfg->cert_len = 0;
    sodium_free(cfg->key); /* wipes */
    cfg->key = NULL;
    cfg->key_len = 0;
    if (dup_bytes((unsigned char **)&cfg->token, (const unsigned char *)ov->token, n, 1) < 0)
      return KUBE_ERR_NOMEM;
  }
  return KUBE_OK;
}

static int load_files(kube_config *cfg, const kube_config_opts *o, int *found_any, kube_status *st)
{
  merged m = {0};
  char *list = NULL, *save = NULL, *item;
  char home_cfg[PATH_MAX];
  const char *env = getenv("KUBECONFIG");
  int rc = KUBE_OK, found, nfiles = 0;

  *found_any = 0;
  m.clusters = json_object();
  m.contexts = json_object();
  m.users = json_object();
  if (m.clusters == NULL || m.contexts == NULL || m.users == NULL) {
    rc = KUBE_ERR_NOMEM;
    goto out;
  }
  if (o->kubeconfig != NULL) {
    snprintf(m.sources, sizeof(m.sources), "\"%s\"", o->kubeconfig);
    rc = merge_file(&m, o->kubeconfig, 0, &found, st);
    *found_any = found;
  } else if (env != NULL && env[0] != '\0') {
    snprintf(m.sources, sizeof(m.sources), "$KUBECONFIG \"%s\"", env);
    list = strdup(env);
    if (list == NULL) {
      rc = KUBE_ERR_NOMEM;
      goto out;
    }
    for (item = strtok_r(list, ":", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ":", &save)) {
      if (++nfiles > MAX_KUBECONFIG_FILES) {
        kube_status_set(st, KUBE_ERR_CONFIG, "$KUBECONFIG lists more than %d files",
                        MAX_KUBECONFIG_FILES);
        rc = KUBE_ERR_CONFIG;
        break;
      }
      rc = merge_file(&m, item, 1, &found, st);
      *found_any |= found;
    }
  } else {
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0' ||
        snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", home) >= (int)sizeof(home_cfg)) {
      home_cfg[0] = '\0';
    } else {
      snprintf(m.sources, sizeof(m.sources), "\"%.1000s\"", home_cfg);
      rc = merge_file(&m, home_cfg, 1, &found, st);
      *found_any = found;
    }
  }
  if (rc < 0 || !*found_any)
    goto out;
  rc = config_from_merged(cfg, &m, o, st);
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "kubeconfig %s: out of memory", m.sources);
out:
  free(list);
  merged_free(&m);
  return rc;
}

/* ---- in cluster --------------------------------------------------------- */

static int load_in_cluster(kube_config *cfg, const char *sa_dir, kube_status *st)
{
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  char path[PATH_MAX], server[512];
  unsigned char *ns = NULL;
  size_t ns_len = 0, i;
  int rc;

  if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
    kube_status_set(st, KUBE_ERR_CONFIG,
                    "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
                    "be set");
    return KUBE_ERR_CONFIG;
  }
  for (i = 0; port[i] != '\0'; i++)
    if (port[i] < '0' || port[i] > '9' || i > 5) {
      kube_status_set(st, KUBE_ERR_CONFIG, "KUBERNETES_SERVICE_PORT \"%s\" is not a port", port);
      return KUBE_ERR_CONFIG;
    }
  if (strpbrk(host, "/[]@ ") != NULL || strlen(host) > 255) {
    kube_status_set(st, KUBE_ERR_CONFIG, "KUBERNETES_SERVICE_HOST \"%s\" is not a host", host);
    return KUBE_ERR_CONFIG;
  }
  if (strchr(host, ':') != NULL) /* IPv6 */
    snprintf(server, sizeof(server), "https://[%s]:%s", host, port);
  else
    snprintf(server, sizeof(server), "https://%s:%s", host, port);
  cfg->in_cluster = 1;
  cfg->server = strdup(server);
  snprintf(path, sizeof(path), "%s/token", sa_dir);
  cfg->token_file = strdup(path);
  if (cfg->server == NULL || cfg->token_file == NULL)
    return KUBE_ERR_NOMEM;
  rc = kube_read_token(&cfg->token, path, st);
  if (rc < 0)
    return rc == KUBE_ERR_NOMEM ? rc : KUBE_ERR_CONFIG;
  snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
  rc = kube_read_file(&cfg->ca, &cfg->ca_len, path, PEM_MAX_BYTES, 0, st);
  if (rc < 0)
    return rc == KUBE_ERR_NOMEM ? rc : KUBE_ERR_CONFIG;
  snprintf(path, sizeof(path), "%s/namespace", sa_dir);
  if (access(path, F_OK) == 0) {
    rc = kube_read_file(&ns, &ns_len, path, 256, 0, st);
    if (rc < 0)
      return rc == KUBE_ERR_NOMEM ? rc : KUBE_ERR_CONFIG;
    while (ns_len > 0 &&
           (ns[ns_len - 1] == '\n' || ns[ns_len - 1] == ' ' || ns[ns_len - 1] == '\r'))
      ns[--ns_len] = '\0';
    if (ns_len > 0)
      cfg->namespace_ = (char *)ns;
    else
      free(ns);
  }
  if (cfg->namespace_ == NULL)
    cfg->namespace_ = strdup("default");
  return cfg->namespace_ ? KUBE_OK : KUBE_ERR_NOMEM;
}

int kube_config_load(kube_config **out, const kube_config_opts *opts, kube_status *st)
{
  kube_config_opts defaults = {0};
  const kube_config_overrides *ov;
  kube_config *cfg = NULL;
  const char *sa_dir;
  int rc, found = 0;

  if (st != NULL)
    memset(st, 0, sizeof(*st));
  if (out == NULL)
    return KUBE_ERR_INVALID;
  *out = NULL;
  if (sodium_init() < 0) {
    kube_status_set(st, KUBE_ERR_NOMEM, "cannot initialise libsodium");
    return KUBE_ERR_NOMEM;
  }
  if (opts == NULL)
    opts = &defaults;
  ov = &opts->overrides;
  if (given(ov->certificate_authority) && ov->insecure_skip_tls_verify) {
    kube_status_set(st, KUBE_ERR_INVALID,
                    "--certificate-authority and --insecure-skip-tls-verify cannot be used "
                    "together: the one checks the server's certificate, the other turns the "
                    "check off");
    return KUBE_ERR_INVALID;
  }
  sa_dir = opts->sa_dir ? opts->sa_dir : KUBE_DEFAULT_SA_DIR;
  cfg = calloc(1, sizeof(*cfg));
  if (cfg == NULL) {
    rc = KUBE_ERR_NOMEM;
    goto out;
  }
  if (opts->source == KUBE_CONFIG_IN_CLUSTER) {
    rc = load_in_cluster(cfg, sa_dir, st);
  } else {
    rc = load_files(cfg, opts, &found, st);
    if (rc == 0 && !found && given(ov->server)) {
      /* as for kubectl: a server on the command line needs no kubeconfig, and then
       * no in-cluster configuration either; an entry to pick needs a kubeconfig */
      if (given(ov->cluster) || given(ov->user)) {
        rc = KUBE_ERR_CONFIG;
        kube_status_set(st, rc, "no kubeconfig found for --%s \"%s\" to name an entry of",
                        given(ov->cluster) ? "cluster" : "user",
                        given(ov->cluster) ? ov->cluster : ov->user);
      } else {
        cfg->namespace_ = strdup("default");
        rc = cfg->namespace_ ? KUBE_OK : KUBE_ERR_NOMEM;
      }
    } else if (rc == 0 && !found) {
      const char *host = getenv("KUBERNETES_SERVICE_HOST");
      if (opts->source == KUBE_CONFIG_AUTO && host != NULL && host[0] != '\0') {
        rc = load_in_cluster(cfg, sa_dir, st);
      } else {
        const char *env = getenv("KUBECONFIG");
        rc = KUBE_ERR_CONFIG;
        if (env != NULL && env[0] != '\0')
          kube_status_set(st, rc,
                          "no kubeconfig found: none of the files in $KUBECONFIG \"%s\" exists",
                          env);
        else
          kube_status_set(st, rc,
                          "no kubeconfig found: pass --kubeconfig, set $KUBECONFIG or create "
                          "~/.kube/config");
      }
    }
  }
  if (rc == 0)
    rc = apply_overrides(cfg, ov, st);
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "loading the configuration: out of memory");
  if (rc < 0)
    goto out;
  *out = cfg;
  cfg = NULL;
out:
  if (st != NULL && rc < 0)
    st->err = rc;
  kube_config_free(cfg);
  return rc;
}
