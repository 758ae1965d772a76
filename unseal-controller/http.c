#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <sodium.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

#define BODY_MAX MANIFEST_MAX_DOC_BYTES
#define REPLY_MAX (8 * 1024 * 1024)

struct ctl_http {
  ctl *c;
  struct MHD_Daemon *api;
  struct MHD_Daemon *metrics;
  pthread_mutex_t bucket_lock;
  double tokens;
  int64_t refilled_ms;
};

typedef struct req_ctx {
  char *buf;
  size_t len;
  size_t cap;
  int too_big;
} req_ctx;

/* ---- helpers ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *body, size_t len, const char *metric_path)
{
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (code == MHD_HTTP_TOO_MANY_REQUESTS)
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  enum MHD_Result ret = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  ctl_metrics_http_request(metric_path, (int)code);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text,
                                  const char *metric_path)
{
  return reply(conn, code, "text/plain; charset=utf-8", text, strlen(text), metric_path);
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned code, json_t *obj,
                                  const char *metric_path)
{
  char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  enum MHD_Result ret;
  if (text == NULL)
    return reply_text(conn, 500, "out of memory\n", metric_path);
  size_t len = strlen(text);
  char *nl = malloc(len + 2);
  if (nl == NULL) {
    ctl_json_text_free(text);
    return reply_text(conn, 500, "out of memory\n", metric_path);
  }
  memcpy(nl, text, len);
  nl[len] = '\n';
  nl[len + 1] = '\0';
  ret = reply(conn, code, "application/json", nl, len + 1, metric_path);
  free(nl);
  ctl_json_text_free(text);
  return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned code, const char *reason,
                                   const char *message, const char *metric_path)
{
  json_t *o = json_pack("{s:s, s:s}", "reason", reason, "message", message);
  if (o == NULL)
    return reply_text(conn, code, "error\n", metric_path);
  enum MHD_Result ret = reply_json(conn, code, o, metric_path);
  json_decref(o);
  return ret;
}

static int take_token(ctl_http *h)
{
  int ok = 0;
  int64_t now = ctl_now_ms();
  pthread_mutex_lock(&h->bucket_lock);
  h->tokens += (double)(now - h->refilled_ms) * h->c->opts->http_rate / 1000.0;
  if (h->tokens > (double)h->c->opts->http_burst)
    h->tokens = (double)h->c->opts->http_burst;
  h->refilled_ms = now;
  if (h->tokens >= 1.0) {
    h->tokens -= 1.0;
    ok = 1;
  }
  pthread_mutex_unlock(&h->bucket_lock);
  return ok;
}

/* Parses the body into exactly one SealedSecret. */
static json_t *parse_sealed(const req_ctx *rc, int *is_json, char *err, size_t err_size)
{
  manifest_docs docs = {0};
  manifest_error merr = {0};
  json_t *doc = NULL;
  size_t i = 0;

  while (i < rc->len && (rc->buf[i] == ' ' || rc->buf[i] == '\n' || rc->buf[i] == '\r' ||
                         rc->buf[i] == '\t'))
    i++;
  *is_json = i < rc->len && (rc->buf[i] == '{' || rc->buf[i] == '[');
  if (manifest_parse(&docs, rc->buf ? rc->buf : "", rc->len, "request body", 0, &merr) !=
      MANIFEST_OK) {
    snprintf(err, err_size, "%s", merr.message);
    return NULL;
  }
  if (docs.n != 1) {
    snprintf(err, err_size, "request body: expected one SealedSecret, found %zu documents",
             docs.n);
  } else if (!manifest_is_sealed_secret(docs.docs[0])) {
    snprintf(err, err_size, "request body: not a SealedSecret (apiVersion %s, kind %s)",
             MANIFEST_API_VERSION, MANIFEST_KIND);
  } else {
    doc = json_incref(docs.docs[0]);
  }
  manifest_docs_free(&docs);
  return doc;
}

/* ---- endpoints ---------------------------------------------------------- */

static int too_many_keys(const json_t *doc, char *err, size_t err_size)
{
  if (json_object_size(manifest_get(doc, "spec", "encryptedData", NULL)) <= MANIFEST_MAX_KEYS)
    return 0;
  snprintf(err, err_size, "request body: spec.encryptedData: more than %d keys",
           MANIFEST_MAX_KEYS);
  return 1;
}

/* Checks every value of doc as unsealing would (scope label from its own
 * metadata, every stanza, the commitment), then the document itself (scope,
 * template type, limits; nothing rendered). Appends {key, reason, message}
 * to failed for each failure; *n_values counts the values. 0, or -1 when out
 * of memory. */
static int check_sealed(ctl_http *h, const json_t *doc, json_t *failed, size_t *n_values)
{
  json_t *enc = manifest_get(doc, "spec", "encryptedData", NULL);
  const char *k;
  json_t *v;
  int rc = 0;

  *n_values = 0;
  pthread_rwlock_rdlock(&h->c->keys.lock);
  json_object_foreach(enc, k, v)
  {
    char label[KEYS_LABEL_MAX];
    manifest_error merr = {0};
    keys_error kerr = {0};
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const char *reason = NULL;
    const char *msg = NULL;
    (*n_values)++;
    if (!json_is_string(v)) {
      reason = "Malformed";
      msg = "the value is not a string";
    } else if (manifest_sealed_label(label, sizeof(label), doc, k, &merr) != MANIFEST_OK) {
      reason = "Invalid";
      msg = merr.message;
    } else {
      int s = keys_unseal(&plain, &plain_len, h->c->keys.ring, label, json_string_value(v),
                          json_string_length(v), NULL, &kerr);
      keys_plain_free(plain, plain_len);
      if (s != KEYS_OK) {
        reason = manifest_unseal_reason(s);
        msg = kerr.message;
      }
    }
    if (reason && json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", k, "reason",
                                                          reason, "message", msg)) != 0)
      rc = -1;
  }
  if (rc == 0 && json_array_size(failed) == 0) {
    manifest_error merr = {0};
    manifest_unseal_report rep = {0};
    if (manifest_unseal_sealed(NULL, doc, h->c->keys.ring, MANIFEST_UNSEAL_KEEP_GOING, &rep,
                               &merr) != MANIFEST_OK)
      rc = json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", "", "reason",
                                                   rep.reason ? rep.reason : "Invalid",
                                                   "message", merr.message));
  }
  pthread_rwlock_unlock(&h->c->keys.lock);
  return rc;
}

static enum MHD_Result do_verify(ctl_http *h, struct MHD_Connection *conn, const req_ctx *rc)
{
  char err[1024];
  int is_json = 0;
  json_t *doc = parse_sealed(rc, &is_json, err, sizeof(err));
  json_t *failed = NULL, *out = NULL;
  enum MHD_Result ret;
  size_t n_values = 0;

  if (doc == NULL)
    return reply_error(conn, 422, "Invalid", err, "/v1/verify");
  if (too_many_keys(doc, err, sizeof(err))) {
    json_decref(doc);
    return reply_error(conn, 422, "Invalid", err, "/v1/verify");
  }
  failed = json_array();
  if (failed == NULL || check_sealed(h, doc, failed, &n_values) != 0) {
    json_decref(failed);
    json_decref(doc);
    return reply_text(conn, 500, "out of memory\n", "/v1/verify");
  }
  int ok = json_array_size(failed) == 0 && n_values > 0;
  if (n_values == 0 && json_array_size(failed) == 0)
    json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "key", "", "reason", "Invalid",
                                            "message", "spec.encryptedData holds no value"));
  const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
  if (accept && strstr(accept, "text/plain") && !strstr(accept, "json")) {
    char text[16384];
    size_t len = 0;
    text[0] = '\0';
    if (ok) {
      snprintf(text, sizeof(text), "ok: %zu values unseal\n", n_values);
    } else {
      size_t i;
      json_t *f;
      json_array_foreach(failed, i, f)
      {
        int w = snprintf(text + len, sizeof(text) - len, "%s: %s: %s\n",
                         manifest_get_string(f, "key", NULL), manifest_get_string(f, "reason", NULL),
                         manifest_get_string(f, "message", NULL));
        if (w < 0 || (size_t)w >= sizeof(text) - len)
          break;
        len += (size_t)w;
      }
    }
    json_decref(failed);
    json_decref(doc);
    return reply_text(conn, ok ? 200 : 409, text, "/v1/verify");
  }
  out = json_pack("{s:b, s:i, s:o}", "valid", ok, "values", (json_int_t)n_values, "failed", failed);
  ret = out ? reply_json(conn, ok ? 200 : 409, out, "/v1/verify")
            : reply_text(conn, 500, "out of memory\n", "/v1/verify");
  json_decref(out);
  json_decref(doc);
  return ret;
}

/* Every value is checked as verify checks it, also those already sealed for
 * the newest key (which come back byte for byte): a moved, altered or
 * mis-scoped value is refused (409, naming the key) rather than returned as
 * if it were fine. */
static enum MHD_Result do_rotate(ctl_http *h, struct MHD_Connection *conn, const req_ctx *rc)
{
  char err[1024];
  int is_json = 0;
  json_t *doc = parse_sealed(rc, &is_json, err, sizeof(err));
  json_t *failed = NULL;
  manifest_error merr = {0};
  char *text = NULL;
  size_t len = 0, changed = 0, n_values = 0;
  enum MHD_Result ret;

  if (doc == NULL)
    return reply_error(conn, 422, "Invalid", err, "/v1/rotate");
  if (too_many_keys(doc, err, sizeof(err))) {
    ret = reply_error(conn, 422, "Invalid", err, "/v1/rotate");
    goto out;
  }
  failed = json_array();
  if (failed == NULL || check_sealed(h, doc, failed, &n_values) != 0) {
    ret = reply_text(conn, 500, "out of memory\n", "/v1/rotate");
    goto out;
  }
  if (json_array_size(failed) > 0) {
    json_t *f = json_array_get(failed, 0);
    const char *key = manifest_get_string(f, "key", NULL);
    const char *reason = manifest_get_string(f, "reason", NULL);
    if (key && key[0])
      snprintf(err, sizeof(err), "key \"%s\": %s: %s", key, reason,
               manifest_get_string(f, "message", NULL));
    else
      snprintf(err, sizeof(err), "%s: %s", reason, manifest_get_string(f, "message", NULL));
    if (json_array_size(failed) > 1)
      snprintf(err + strlen(err), sizeof(err) - strlen(err), " (and %zu more)",
               json_array_size(failed) - 1);
    json_t *o = json_pack("{s:s, s:s, s:O}", "reason", reason, "message", err, "failed", failed);
    ret = o ? reply_json(conn, 409, o, "/v1/rotate")
            : reply_text(conn, 500, "out of memory\n", "/v1/rotate");
    json_decref(o);
    goto out;
  }
  pthread_rwlock_rdlock(&h->c->keys.lock);
  const keys_keypair *nk = keys_keyring_newest_active(h->c->keys.ring);
  int rc2 = nk ? manifest_reseal_sealed(doc, h->c->keys.ring, keys_keypair_public(nk), &changed,
                                        &merr)
               : MANIFEST_ERR_KEYS;
  pthread_rwlock_unlock(&h->c->keys.lock);
  if (nk == NULL) {
    ret = reply_error(conn, 503, "NoKey", "the controller has no active key yet", "/v1/rotate");
    goto out;
  }
  if (rc2 != MANIFEST_OK) {
    const char *reason = rc2 == MANIFEST_ERR_KEYS ? manifest_unseal_reason(merr.keys_status) : "Invalid";
    ret = reply_error(conn, rc2 == MANIFEST_ERR_KEYS ? 409 : 422, reason, merr.message,
                      "/v1/rotate");
    goto out;
  }
  if (manifest_write(&text, &len, &doc, 1, is_json ? MANIFEST_JSON : MANIFEST_YAML, &merr) !=
      MANIFEST_OK) {
    ret = reply_error(conn, 500, "Internal", merr.message, "/v1/rotate");
    goto out;
  }
  ret = reply(conn, 200, is_json ? "application/json" : "application/yaml", text, len,
              "/v1/rotate");
  manifest_text_free(text, len);
out:
  json_decref(failed);
  json_decref(doc);
  return ret;
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
  ctl_http *h = cls;
  ctl *c = h->c;
  (void)version;
  int is_post = strcmp(method, "POST") == 0;
  int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  int body_path = strcmp(url, "/v1/verify") == 0 || strcmp(url, "/v1/rotate") == 0;

  if (*con_cls == NULL) {
    req_ctx *rc = calloc(1, sizeof(*rc));
    if (rc == NULL)
      return MHD_NO;
    *con_cls = rc;
    if (is_post && body_path) {
      const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > BODY_MAX) {
          rc->too_big = 1;
          return reply_error(conn, 413, "TooLarge", "request body: over 4 MiB", url);
        }
      }
    }
    return MHD_YES;
  }
  req_ctx *rc = *con_cls;
  if (*upload_data_size > 0) {
    if (!rc->too_big) {
      if (rc->len + *upload_data_size > BODY_MAX) {
        rc->too_big = 1;
      } else {
        if (rc->len + *upload_data_size + 1 > rc->cap) {
          size_t cap = rc->cap ? rc->cap : 16384;
          while (cap < rc->len + *upload_data_size + 1)
            cap *= 2;
          if (cap > BODY_MAX + 1)
            cap = BODY_MAX + 1;
          char *nb = realloc(rc->buf, cap);
          if (nb == NULL)
            return MHD_NO;
          rc->buf = nb;
          rc->cap = cap;
        }
        memcpy(rc->buf + rc->len, upload_data, *upload_data_size);
        rc->len += *upload_data_size;
        rc->buf[rc->len] = '\0';
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rc->too_big)
    return reply_error(conn, 413, "TooLarge", "request body: over 4 MiB", url);

  if (strcmp(url, "/v1/cert.pem") == 0) {
    if (!is_get)
      return reply_text(conn, 405, "method not allowed\n", url);
    char cert[KEYS_ARMOR_MAX];
    pthread_rwlock_rdlock(&c->keys.lock);
    memcpy(cert, c->keys.cert, sizeof(cert));
    pthread_rwlock_unlock(&c->keys.lock);
    if (cert[0] == '\0')
      return reply_text(conn, 503, "no active key yet\n", url);
    return reply(conn, 200, "application/x-pem-file", cert, strlen(cert), url);
  }
  if (strcmp(url, "/health") == 0 || strcmp(url, "/healthz") == 0) {
    if (!is_get)
      return reply_text(conn, 405, "method not allowed\n", "/health");
    if (atomic_load(&c->ready))
      return reply_text(conn, 200, "ok\n", "/health");
    return reply_text(conn, 503, "not ready: keys or first list not synced yet\n", "/health");
  }
  if (strcmp(url, "/ping") == 0) {
    if (!is_get)
      return reply_text(conn, 405, "method not allowed\n", url);
    int64_t age = ctl_now_ms() - atomic_load(&c->last_turn_ms);
    if (age <= c->opts->ping_threshold_ms)
      return reply_text(conn, 200, "pong\n", url);
    return reply_text(conn, 503, "the reconcile loop is stuck\n", url);
  }
  if (body_path) {
    if (!is_post)
      return reply_text(conn, 405, "method not allowed\n", url);
    if (!take_token(h))
      return reply_error(conn, 429, "TooManyRequests", "rate limited: try again later", url);
    if (strcmp(url, "/v1/verify") == 0)
      return do_verify(h, conn, rc);
    return do_rotate(h, conn, rc);
  }
  return reply_text(conn, 404, "not found\n", "other");
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
  (void)cls;
  (void)version;
  (void)upload_data;
  if (*con_cls == NULL) {
    *con_cls = calloc(1, sizeof(req_ctx)); /* freed by completed() */
    return *con_cls ? MHD_YES : MHD_NO;
  }
  if (*upload_data_size > 0) {
    *upload_data_size = 0; /* ignored */
    return MHD_YES;
  }
  if (strcmp(url, "/metrics") != 0)
    return reply_text(conn, 404, "not found\n", "other");
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply_text(conn, 405, "method not allowed\n", url);
  char *text = NULL;
  size_t len = 0;
  if (ctl_metrics_render(&text, &len) != 0)
    return reply_text(conn, 500, "metrics too large\n", url);
  enum MHD_Result ret = reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, url);
  free(text);
  return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)conn;
  (void)toe;
  req_ctx *rc = *con_cls;
  if (rc == NULL)
    return;
  if (rc->buf) {
    sodium_memzero(rc->buf, rc->cap);
    free(rc->buf);
  }
  free(rc);
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  (void)cls;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
    msg[--n] = '\0';
  ctl_log(CTL_LOG_DEBUG, msg, "component", "http", NULL);
}

/* "[host]:port", "host:port" or ":port" into a socket address. */
static int parse_listen(struct sockaddr_storage *ss, socklen_t *ss_len, const char *text)
{
  char host[256];
  const char *port;
  struct addrinfo hints, *res = NULL;

  if (text == NULL)
    return -1;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
      return -1;
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    port = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
      return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port = colon + 1;
  }
  char *end = NULL;
  long p = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
    return -1;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || res == NULL)
    return -1;
  /* ":port" means every IPv4 address (AI_PASSIVE lists it first on most systems) */
  struct addrinfo *pick = res;
  if (host[0] == '\0')
    for (struct addrinfo *a = res; a; a = a->ai_next)
      if (a->ai_family == AF_INET) {
        pick = a;
        break;
      }
  memcpy(ss, pick->ai_addr, pick->ai_addrlen);
  *ss_len = pick->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static struct MHD_Daemon *start_daemon(ctl_http *h, const char *listen, MHD_AccessHandlerCallback cb,
                                       const char *what)
{
  struct sockaddr_storage ss;
  socklen_t ss_len = 0;
  const ctl_options *o = h->c->opts;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

  if (parse_listen(&ss, &ss_len, listen) != 0) {
    ctl_log(CTL_LOG_ERROR, "invalid listen address", "listen", listen, "what", what, NULL);
    return NULL;
  }
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, port, NULL, NULL, cb, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)o->http_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)((o->http_timeout_ms + 999) / 1000), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
  if (d == NULL) {
    ctl_log(CTL_LOG_ERROR, "cannot listen", "listen", listen, "what", what, NULL);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  char pbuf[16];
  snprintf(pbuf, sizeof(pbuf), "%u", info ? (unsigned)info->port : (unsigned)port);
  ctl_log(CTL_LOG_INFO, "listening", "what", what, "listen", listen, "port", pbuf, NULL);
  return d;
}

int ctl_http_start(ctl_http **out, ctl *c)
{
  ctl_http *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return -1;
  h->c = c;
  pthread_mutex_init(&h->bucket_lock, NULL);
  h->tokens = (double)c->opts->http_burst;
  h->refilled_ms = ctl_now_ms();
  h->api = start_daemon(h, c->opts->listen, api_handler, "http");
  if (h->api == NULL)
    goto fail;
  h->metrics = start_daemon(h, c->opts->metrics_listen, metrics_handler, "metrics");
  if (h->metrics == NULL)
    goto fail;
  *out = h;
  return 0;
fail:
  ctl_http_stop(h);
  return -1;
}

void ctl_http_stop(ctl_http *h)
{
  if (h == NULL)
    return;
  if (h->api)
    MHD_stop_daemon(h->api);
  if (h->metrics)
    MHD_stop_daemon(h->metrics);
  pthread_mutex_destroy(&h->bucket_lock);
  free(h);
}
