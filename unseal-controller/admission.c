#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

#include "banned.h"

/*
 * The validating admission webhook: POST /v1/admit on its own HTTPS listener.
 *
 * A review is refused exactly when reconcile would refuse the object (the
 * checks of /v1/verify, ctl_check_sealed); it is allowed unchecked when the
 * controller has no keys yet, when --admission-max-in-flight reviews are
 * being checked already (never block the cluster), when it is a DELETE, and
 * when an UPDATE leaves spec.encryptedData, spec.template and the
 * seal.dev/scope annotation as they were.
 *
 * The serving certificate comes from --admission-cert/--admission-key (read
 * again when either file changes: the listener is started again with them),
 * or from a CA this replica makes at start. Every replica makes its own and
 * adds it to the caBundle of every webhook of the ValidatingWebhookConfiguration
 * unseal-controller, keeping the other replicas' CAs (the newest
 * ADMIT_MAX_CAS that have not expired): the API server trusts any of them,
 * so every replica answers, leader or not, and none undoes another's work.
 * A replica checks every ADMIT_PUBLISH_PERIOD_MS that its CA is still there.
 */

#define ADMIT_BODY_MAX (3 * DOC_MAX_BYTES)
#define ADMIT_MAX_CAS 8
#define ADMIT_PUBLISH_PERIOD_MS 60000
#define ADMIT_RETRY_MS 5000
#define ADMIT_FILE_CHECK_MS 5000
#define ADMIT_CERT_MAX (256 * 1024)
#define VWC_NAME "unseal-controller"
#define VWC_PATH "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" VWC_NAME
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

typedef struct file_id {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} file_id;

struct ctl_admission {
  ctl *c;
  struct MHD_Daemon *d;
  struct sockaddr_storage ss;
  socklen_t ss_len;
  char *cert_pem; /* served chain */
  char *key_pem;  /* sodium_malloc'ed */
  char *ca_pem;   /* made at start; NULL with files */
  file_id cert_id, key_id;
  int64_t next_file_check_ms;
  atomic_long in_flight;
  atomic_long body_bytes;
  /* publishing (loop thread) */
  int pub_in_flight;
  int64_t next_publish_ms;
  int missing_logged;
  int published_logged;
};

typedef struct admit_ctx {
  doc_buf body; /* at most ADMIT_BODY_MAX, wiped */
  size_t reserved;
  int too_big;
  int over_budget;
} admit_ctx;

/* ---- the review ---------------------------------------------------------- */

static int same_json(const json_t *a, const json_t *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return json_equal(a, b);
}

/* 1 when an UPDATE leaves what unsealing reads as it was. */
static int unchanged(const json_t *obj, const json_t *old)
{
  return same_json(doc_get(obj, "spec", "encryptedData", NULL),
                   doc_get(old, "spec", "encryptedData", NULL)) &&
         same_json(doc_get(obj, "spec", "template", NULL),
                   doc_get(old, "spec", "template", NULL)) &&
         same_json(doc_get(obj, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL),
                   doc_get(old, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL));
}

static json_t *answer(const char *uid, int allowed, const char *message, const char *warning)
{
  json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", allowed);
  if (resp == NULL)
    return NULL;
  if (!allowed && json_object_set_new(resp, "status",
                                      json_pack("{s:i, s:s, s:s}", "code", 422, "reason", "Invalid",
                                                "message", message)) != 0)
    goto nomem;
  if (warning && json_object_set_new(resp, "warnings", json_pack("[s]", warning)) != 0)
    goto nomem;
  json_t *out = json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1", "kind",
                          "AdmissionReview", "response", resp);
  return out;
nomem:
  json_decref(resp);
  return NULL;
}

static json_t *allow(const char *uid, const char *outcome, const char *warning)
{
  json_t *out = answer(uid, 1, NULL, warning);
  if (out)
    ctl_metrics_admission(outcome, "");
  return out;
}

json_t *ctl_admission_review(ctl *c, const json_t *review, char *err, size_t err_size)
{
  const json_t *req = doc_get(review, "request", NULL);
  const char *uid = doc_get_string(review, "request", "uid", NULL);
  const char *op = doc_get_string(review, "request", "operation", NULL);
  const char *group = doc_get_string(review, "request", "kind", "group", NULL);
  const char *kind = doc_get_string(review, "request", "kind", "kind", NULL);
  const char *sub = doc_get_string(review, "request", "subResource", NULL);
  const char *rns = doc_get_string(review, "request", "namespace", NULL);
  const char *rname = doc_get_string(review, "request", "name", NULL);
  json_t *obj = NULL, *failed = NULL, *out = NULL;
  char msg[2048], ref[CTL_KEY_MAX];
  size_t n_values = 0;

  if (!json_is_object(req) || uid == NULL || uid[0] == '\0' || strlen(uid) >= CTL_UID_MAX ||
      op == NULL) {
    snprintf(err, err_size,
             "not an AdmissionReview: request.uid and request.operation are "
             "required");
    ctl_metrics_admission("invalid", "");
    return NULL;
  }
  if (strcmp(op, "CREATE") != 0 && strcmp(op, "UPDATE") != 0)
    return allow(uid, "allowed", NULL);
  if (group == NULL || strcmp(group, "seal.dev") != 0 || kind == NULL ||
      strcmp(kind, MANIFEST_KIND) != 0 || (sub != NULL && sub[0] != '\0'))
    return allow(uid, "allowed", NULL);
  const json_t *object = doc_get(req, "object", NULL);
  if (!json_is_object(object)) {
    snprintf(err, err_size, "not an AdmissionReview: request.object is missing");
    ctl_metrics_admission("invalid", "");
    return NULL;
  }
  if (strcmp(op, "UPDATE") == 0 && unchanged(object, doc_get(req, "oldObject", NULL)))
    return allow(uid, "unchanged", NULL);
  if (!atomic_load(&c->ready))
    return allow(uid, "notready",
                 "unseal-controller: not checked, the controller has not loaded its keys yet");

  /* the object as it will be stored: namespace and name from the request
   * when the object does not carry them (a create through a namespaced path) */
  obj = json_deep_copy(object);
  if (obj == NULL)
    goto nomem;
  json_t *md = json_object_get(obj, "metadata");
  if (!json_is_object(md)) {
    md = json_object();
    if (md == NULL || json_object_set_new(obj, "metadata", md) != 0)
      goto nomem;
  }
  if (rns && rns[0] && doc_get_string(obj, "metadata", "namespace", NULL) == NULL &&
      json_object_set_new(md, "namespace", json_string(rns)) != 0)
    goto nomem;
  if (rname && rname[0] && doc_get_string(obj, "metadata", "name", NULL) == NULL &&
      json_object_set_new(md, "name", json_string(rname)) != 0)
    goto nomem;
  if (ctl_object_key(ref, sizeof(ref), obj) != 0)
    snprintf(ref, sizeof(ref), "%s/?", rns ? rns : "");

  if (json_object_size(doc_get(obj, "spec", "encryptedData", NULL)) > MANIFEST_MAX_KEYS) {
    snprintf(msg, sizeof(msg), "sealedsecret %s: spec.encryptedData: more than %d keys", ref,
             MANIFEST_MAX_KEYS);
    out = answer(uid, 0, msg, NULL);
    if (out)
      ctl_metrics_admission("refused", "Invalid");
    goto done;
  }
  failed = json_array();
  if (failed == NULL || ctl_check_sealed(c, obj, failed, &n_values) != 0)
    goto nomem;
  if (json_array_size(failed) == 0) {
    out = allow(uid, "allowed", NULL);
    goto done;
  }
  {
    json_t *f = json_array_get(failed, 0);
    const char *key = doc_get_string(f, "key", NULL);
    const char *reason = doc_get_string(f, "reason", NULL);
    const char *why = doc_get_string(f, "message", NULL);
    int n;
    if (key && key[0])
      n = snprintf(msg, sizeof(msg), "sealedsecret %s will not unseal: data key \"%s\": %s: %s",
                   ref, key, reason ? reason : "Invalid", why ? why : "");
    else
      n = snprintf(msg, sizeof(msg), "sealedsecret %s will not unseal: %s: %s", ref,
                   reason ? reason : "Invalid", why ? why : "");
    if (n >= 0 && (size_t)n < sizeof(msg) && json_array_size(failed) > 1)
      snprintf(msg + n, sizeof(msg) - (size_t)n, " (and %zu more data keys)",
               json_array_size(failed) - 1);
    out = answer(uid, 0, msg, NULL);
    if (out)
      ctl_metrics_admission("refused", reason ? reason : "Invalid");
  }
done:
  json_decref(failed);
  json_decref(obj);
  if (out == NULL)
    snprintf(err, err_size, "out of memory");
  return out;
nomem:
  json_decref(failed);
  json_decref(obj);
  snprintf(err, err_size, "out of memory");
  return NULL;
}

/* ---- the HTTPS listener ---------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *type,
                                 const char *text)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                           MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result ret = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  ctl_metrics_http_request("/v1/admit", (int)code);
  return ret;
}

static void release(ctl_admission *a, admit_ctx *x)
{
  doc_buf_free(&x->body);
  if (x->reserved) {
    atomic_fetch_sub(&a->body_bytes, (long)x->reserved);
    x->reserved = 0;
  }
}

/* n more bytes of body for x within --http-body-memory: 0, or -1. */
static int reserve(ctl_admission *a, admit_ctx *x, size_t n)
{
  long now = atomic_fetch_add(&a->body_bytes, (long)n) + (long)n;
  if (now > a->c->opts->http_body_memory) {
    atomic_fetch_sub(&a->body_bytes, (long)n);
    return -1;
  }
  x->reserved += n;
  return 0;
}

static enum MHD_Result body_data(ctl_admission *a, admit_ctx *x, const char *data, size_t size)
{
  if (x->too_big || x->over_budget)
    return MHD_YES;
  size_t cap = doc_buf_grown(&x->body, size);
  if (cap == 0) {
    x->too_big = 1;
    release(a, x);
    return MHD_YES;
  }
  if (cap > x->body.cap && reserve(a, x, cap - x->body.cap) != 0) { /* reserved before it grows */
    x->over_budget = 1;
    release(a, x);
    return MHD_YES;
  }
  return doc_buf_add(&x->body, data, size) == DOC_OK ? MHD_YES : MHD_NO;
}

static enum MHD_Result review_reply(ctl_admission *a, struct MHD_Connection *conn, admit_ctx *x)
{
  char err[256] = "";
  json_error_t jerr;
  json_t *review = json_loadb(x->body.p ? x->body.p : "", x->body.len, JSON_REJECT_DUPLICATES,
                              &jerr);
  json_t *out = NULL;
  enum MHD_Result ret;

  release(a, x);
  if (review == NULL) {
    ctl_metrics_admission("invalid", "");
    snprintf(err, sizeof(err), "not an AdmissionReview: %s\n", jerr.text);
    return send_text(conn, 400, "text/plain; charset=utf-8", err);
  }
  long busy = atomic_fetch_add(&a->in_flight, 1);
  if (busy >= a->c->opts->admission_max_in_flight) {
    const char *uid = doc_get_string(review, "request", "uid", NULL);
    if (uid != NULL && uid[0] != '\0' && strlen(uid) < CTL_UID_MAX)
      out = allow(uid, "overflow", "unseal-controller: not checked, too many reviews at once");
    else
      snprintf(err, sizeof(err), "not an AdmissionReview: request.uid is required");
  } else {
    int64_t t0 = ctl_now_us();
    out = ctl_admission_review(a->c, review, err, sizeof(err));
    if (ctl_log_enabled(CTL_LOG_DEBUG)) {
      char us[32];
      snprintf(us, sizeof(us), "%lld", (long long)(ctl_now_us() - t0));
      ctl_log(CTL_LOG_DEBUG, "admission review", "component", "admission", "operation",
              doc_get_string(review, "request", "operation", NULL), "namespace",
              doc_get_string(review, "request", "namespace", NULL), "name",
              doc_get_string(review, "request", "name", NULL), "allowed",
              out && json_is_true(doc_get(out, "response", "allowed", NULL)) ? "true" : "false",
              "us", us, NULL);
    }
  }
  atomic_fetch_sub(&a->in_flight, 1);
  json_decref(review);
  if (out == NULL) {
    char line[300];
    snprintf(line, sizeof(line), "%s\n", err);
    return send_text(conn, 400, "text/plain; charset=utf-8", line);
  }
  char *text = json_dumps(out, JSON_COMPACT);
  json_decref(out);
  if (text == NULL)
    return send_text(conn, 500, "text/plain; charset=utf-8", "out of memory\n");
  ret = send_text(conn, 200, "application/json", text);
  doc_json_free(text);
  return ret;
}

static enum MHD_Result admit_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
  ctl_admission *a = cls;
  (void)version;
  int ours = strcmp(url, "/v1/admit") == 0 && strcmp(method, "POST") == 0;

  if (*con_cls == NULL) {
    admit_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL)
      return MHD_NO;
    x->body.max = ADMIT_BODY_MAX;
    x->body.first = 16384;
    *con_cls = x;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (ours && cl) {
      char *end = NULL;
      unsigned long long n = strtoull(cl, &end, 10);
      if (end != cl && n > ADMIT_BODY_MAX)
        x->too_big = 1;
    }
    return MHD_YES;
  }
  admit_ctx *x = *con_cls;
  if (*upload_data_size > 0) {
    size_t size = *upload_data_size;
    *upload_data_size = 0;
    return ours ? body_data(a, x, upload_data, size) : MHD_YES;
  }
  if (strcmp(url, "/health") == 0 || strcmp(url, "/healthz") == 0)
    return send_text(conn, 200, "text/plain; charset=utf-8", "ok\n");
  if (strcmp(url, "/v1/admit") != 0)
    return send_text(conn, 404, "text/plain; charset=utf-8", "not found\n");
  if (!ours)
    return send_text(conn, 405, "text/plain; charset=utf-8", "method not allowed\n");
  if (x->too_big) {
    ctl_metrics_admission("invalid", "");
    return send_text(conn, 413, "text/plain; charset=utf-8", "review larger than 12 MiB\n");
  }
  if (x->over_budget) {
    /* the API server applies the webhook's failurePolicy (Ignore: allowed) */
    ctl_metrics_admission("overflow", "");
    return send_text(conn, 503, "text/plain; charset=utf-8",
                     "too many review bodies at once: try again later\n");
  }
  return review_reply(a, conn, x);
}

static void admit_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
  ctl_admission *a = cls;
  (void)conn;
  (void)toe;
  admit_ctx *x = *con_cls;
  if (x == NULL)
    return;
  release(a, x);
  free(x);
  *con_cls = NULL;
}

static int daemon_start(ctl_admission *a)
{
  const ctl_options *o = a->c->opts;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_ERROR_LOG | MHD_USE_TLS;
  uint16_t port;
  if (a->ss.ss_family == AF_INET6) {
    flags |= MHD_USE_IPv6;
    port = ntohs(((struct sockaddr_in6 *)&a->ss)->sin6_port);
  } else {
    port = ntohs(((struct sockaddr_in *)&a->ss)->sin_port);
  }
  a->d = MHD_start_daemon(flags, port, NULL, NULL, admit_handler, a, MHD_OPTION_EXTERNAL_LOGGER,
                          ctl_mhd_log, (void *)"admission", MHD_OPTION_SOCK_ADDR,
                          (struct sockaddr *)&a->ss, MHD_OPTION_HTTPS_MEM_CERT, a->cert_pem,
                          MHD_OPTION_HTTPS_MEM_KEY, a->key_pem, MHD_OPTION_HTTPS_PRIORITIES,
                          "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_LIMIT,
                          (unsigned)o->http_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned)((o->http_timeout_ms + 999) / 1000),
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                          MHD_OPTION_NOTIFY_COMPLETED, admit_completed, a, MHD_OPTION_END);
  if (a->d == NULL) {
    ctl_log(CTL_LOG_ERROR, "cannot listen", "what", "admission", "listen", o->admission_listen,
            NULL);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
  char pbuf[16];
  snprintf(pbuf, sizeof(pbuf), "%u", info ? (unsigned)info->port : (unsigned)port);
  ctl_log(CTL_LOG_INFO, "listening", "what", "admission", "listen", o->admission_listen, "port",
          pbuf, NULL);
  return 0;
}

static void file_identity(file_id *id, const char *path)
{
  struct stat st;
  memset(id, 0, sizeof(*id));
  if (stat(path, &st) == 0) {
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
  }
}

static int same_file(const file_id *a, const file_id *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void free_key(ctl_admission *a)
{
  if (a->key_pem) {
    sodium_memzero(a->key_pem, strlen(a->key_pem));
    sodium_free(a->key_pem);
  }
  a->key_pem = NULL;
}

/* --admission-cert and --admission-key into a->cert_pem, a->key_pem. */
static int load_files(ctl_admission *a)
{
  const ctl_options *o = a->c->opts;
  keys_error kerr = {0};
  char *cert = NULL, *key = NULL;
  size_t cert_len = 0, key_len = 0;

  file_identity(&a->cert_id, o->admission_cert);
  file_identity(&a->key_id, o->admission_key);
  if (keys_file_read(&cert, &cert_len, o->admission_cert, ADMIT_CERT_MAX, &kerr) != KEYS_OK) {
    ctl_log(CTL_LOG_ERROR, "cannot read --admission-cert", "file", o->admission_cert, "error",
            kerr.message, NULL);
    return -1;
  }
  if (keys_file_read(&key, &key_len, o->admission_key, ADMIT_CERT_MAX, &kerr) != KEYS_OK) {
    ctl_log(CTL_LOG_ERROR, "cannot read --admission-key", "file", o->admission_key, "error",
            kerr.message, NULL);
    free(cert);
    return -1;
  }
  char *skey = sodium_malloc(key_len + 1);
  if (skey != NULL) {
    memcpy(skey, key, key_len);
    skey[key_len] = '\0';
  }
  doc_wipe_free(key, key_len);
  if (skey == NULL) {
    free(cert);
    return -1;
  }
  free(a->cert_pem);
  free_key(a);
  a->cert_pem = cert;
  a->key_pem = skey;
  return 0;
}

static int listen_ip(char *out, size_t size, const struct sockaddr_storage *ss)
{
  out[0] = '\0';
  if (ss->ss_family == AF_INET) {
    const struct in_addr *in = &((const struct sockaddr_in *)ss)->sin_addr;
    if (in->s_addr == htonl(INADDR_ANY))
      return 0;
    return inet_ntop(AF_INET, in, out, (socklen_t)size) ? 0 : -1;
  }
  const struct in6_addr *in6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
  if (IN6_IS_ADDR_UNSPECIFIED(in6))
    return 0;
  return inet_ntop(AF_INET6, in6, out, (socklen_t)size) ? 0 : -1;
}

int ctl_admission_start(ctl_admission **out, ctl *c)
{
  const ctl_options *o = c->opts;
  ctl_admission *a = NULL;

  *out = NULL;
  if (o->admission_listen == NULL || o->admission_listen[0] == '\0')
    return 0;
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    ctl_log(CTL_LOG_ERROR, "--admission-listen: this libmicrohttpd serves no HTTPS", NULL);
    return -1;
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return -1;
  a->c = c;
  if (ctl_parse_listen(&a->ss, &a->ss_len, o->admission_listen) != 0) {
    ctl_log(CTL_LOG_ERROR, "invalid listen address", "listen", o->admission_listen, "what",
            "admission", NULL);
    goto fail;
  }
  if (o->admission_cert != NULL) {
    if (load_files(a) != 0)
      goto fail;
    a->next_file_check_ms = ctl_now_ms() + ADMIT_FILE_CHECK_MS;
  } else {
    char svc[300], svc_local[320], ip[INET6_ADDRSTRLEN], err[256];
    ctl_tls_pair pair;
    snprintf(svc, sizeof(svc), "unseal-controller.%s.svc", c->key_namespace);
    snprintf(svc_local, sizeof(svc_local), "%s.cluster.local", svc);
    const char *dns[] = {svc, svc_local};
    if (listen_ip(ip, sizeof(ip), &a->ss) != 0 ||
        ctl_tls_make(&pair, dns, 2, ip[0] ? ip : NULL, err, sizeof(err)) != 0) {
      ctl_log(CTL_LOG_ERROR, "cannot make the admission certificate", "error", err, NULL);
      goto fail;
    }
    a->ca_pem = pair.ca_pem;
    a->cert_pem = pair.cert_pem;
    a->key_pem = pair.key_pem;
    ctl_log(CTL_LOG_INFO, "made the admission CA and serving certificate", "dns", svc, "ip",
            ip[0] ? ip : "none", NULL);
  }
  if (daemon_start(a) != 0)
    goto fail;
  *out = a;
  return 0;
fail:
  ctl_admission_stop(a);
  return -1;
}

void ctl_admission_stop(ctl_admission *a)
{
  if (a == NULL)
    return;
  if (a->d)
    MHD_stop_daemon(a->d);
  free(a->cert_pem);
  free(a->ca_pem);
  free_key(a);
  free(a);
}

/* ---- reloading files ------------------------------------------------------- */

static void reload_files(ctl *c)
{
  ctl_admission *a = c->admission;
  file_id cert, key;
  file_identity(&cert, c->opts->admission_cert);
  file_identity(&key, c->opts->admission_key);
  if (same_file(&cert, &a->cert_id) && same_file(&key, &a->key_id))
    return;
  if (load_files(a) != 0)
    return; /* keeps serving the old pair; tried again when a file changes again */
  MHD_stop_daemon(a->d);
  a->d = NULL;
  if (daemon_start(a) != 0) {
    ctl_log(CTL_LOG_ERROR, "the admission listener did not start with the new certificate", "file",
            c->opts->admission_cert, NULL);
    memset(&a->cert_id, 0, sizeof(a->cert_id)); /* try again at the next check */
    return;
  }
  ctl_log(CTL_LOG_INFO, "admission certificate reloaded", "file", c->opts->admission_cert, NULL);
}

/* ---- publishing the CA ----------------------------------------------------- */

/* The PEM certificates of text, each trimmed, into certs (at most max). */
static size_t split_pem(const char *text, size_t len, const char **certs, size_t *lens, size_t max)
{
  size_t n = 0;
  const char *p = text, *end = text + len;
  while (n < max && p < end) {
    const char *b = memmem(p, (size_t)(end - p), PEM_BEGIN, strlen(PEM_BEGIN));
    if (b == NULL)
      break;
    const char *e = memmem(b, (size_t)(end - b), PEM_END, strlen(PEM_END));
    if (e == NULL)
      break;
    e += strlen(PEM_END);
    certs[n] = b;
    lens[n] = (size_t)(e - b);
    n++;
    p = e;
  }
  return n;
}

/* The new caBundle (base64 of PEM) for one webhook, or NULL when ca is in it
 * already (*nomem set when out of memory). */
static char *new_bundle(const char *ca, const char *old_b64, int *nomem)
{
  size_t ca_len = strlen(ca);
  while (ca_len > 0 && (ca[ca_len - 1] == '\n' || ca[ca_len - 1] == '\r'))
    ca_len--;
  char *old = NULL;
  size_t old_len = 0;
  const char *certs[ADMIT_MAX_CAS * 4];
  size_t lens[ADMIT_MAX_CAS * 4], n = 0;
  char *pem = NULL, *b64 = NULL;

  *nomem = 0;
  if (old_b64 && old_b64[0]) {
    size_t blen = strlen(old_b64);
    old = malloc(blen + 1);
    if (old == NULL)
      goto nomem;
    if (sodium_base642bin((unsigned char *)old, blen, old_b64, blen, "\r\n ", &old_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
      old_len = 0; /* not base64: replaced */
    n = split_pem(old, old_len, certs, lens, sizeof(certs) / sizeof(certs[0]));
    for (size_t i = 0; i < n; i++)
      if (lens[i] == ca_len && memcmp(certs[i], ca, ca_len) == 0) {
        free(old);
        return NULL;
      }
  }
  pem = malloc(ca_len + 1 + old_len + ADMIT_MAX_CAS + 2);
  if (pem == NULL)
    goto nomem;
  size_t len = 0, kept = 1;
  memcpy(pem, ca, ca_len);
  len = ca_len;
  pem[len++] = '\n';
  time_t now = time(NULL);
  for (size_t i = 0; i < n && kept < ADMIT_MAX_CAS; i++) {
    if (ctl_tls_cert_expired(certs[i], lens[i], now))
      continue;
    memcpy(pem + len, certs[i], lens[i]);
    len += lens[i];
    pem[len++] = '\n';
    kept++;
  }
  size_t b64_size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
  b64 = malloc(b64_size);
  if (b64 == NULL)
    goto nomem;
  sodium_bin2base64(b64, b64_size, (const unsigned char *)pem, len, sodium_base64_VARIANT_ORIGINAL);
  free(pem);
  free(old);
  return b64;
nomem:
  *nomem = 1;
  free(pem);
  free(old);
  return NULL;
}

static void published(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  ctl_admission *a = c->admission;
  (void)body;
  ctl_metrics_api_request("patch", (int)http_code);
  if (a == NULL)
    return;
  a->pub_in_flight = 0;
  if (st->err == KUBE_OK) {
    a->next_publish_ms = ctl_now_ms() + ADMIT_PUBLISH_PERIOD_MS;
    a->published_logged = 1;
    ctl_log(CTL_LOG_INFO, "admission CA published into the webhook configuration", "name", VWC_NAME,
            NULL);
    return;
  }
  /* 422: the configuration changed since it was read (the test of its
   * resourceVersion failed): read it again soon */
  a->next_publish_ms = ctl_now_ms() + (http_code == 422 || http_code == 409 ? 200 : ADMIT_RETRY_MS);
  ctl_log(http_code == 422 || http_code == 409 ? CTL_LOG_DEBUG : CTL_LOG_WARN,
          "cannot publish the admission CA", "name", VWC_NAME, "error", st->message, NULL);
}

static void read_config(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  ctl_admission *a = c->admission;
  json_t *patch = NULL;
  char *text = NULL;
  ctl_metrics_api_request("get", (int)http_code);
  if (a == NULL)
    return;
  a->pub_in_flight = 0;
  if (http_code == 404) {
    if (!a->missing_logged)
      ctl_log(CTL_LOG_WARN, "no ValidatingWebhookConfiguration to publish the admission CA into",
              "name", VWC_NAME, NULL);
    a->missing_logged = 1;
    a->next_publish_ms = ctl_now_ms() + ADMIT_RETRY_MS;
    return;
  }
  if (st->err != KUBE_OK) {
    ctl_log(CTL_LOG_WARN, "cannot read the webhook configuration", "name", VWC_NAME, "error",
            st->message, NULL);
    a->next_publish_ms = ctl_now_ms() + ADMIT_RETRY_MS;
    return;
  }
  a->missing_logged = 0;
  const char *rv = doc_get_string(body, "metadata", "resourceVersion", NULL);
  json_t *hooks = doc_get(body, "webhooks", NULL);
  size_t i;
  json_t *hook;
  patch = json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/metadata/resourceVersion", "value",
                    rv ? rv : "");
  if (patch == NULL)
    goto nomem;
  json_array_foreach(hooks, i, hook) {
    int nomem = 0;
    char path[96];
    char *b64 = new_bundle(a->ca_pem, doc_get_string(hook, "clientConfig", "caBundle", NULL),
                           &nomem);
    if (nomem)
      goto nomem;
    if (b64 == NULL)
      continue;
    snprintf(path, sizeof(path), "/webhooks/%zu/clientConfig/caBundle", i);
    int r = json_array_append_new(patch, json_pack("{s:s, s:s, s:s}", "op", "add", "path", path,
                                                   "value", b64));
    free(b64);
    if (r != 0)
      goto nomem;
  }
  if (json_array_size(patch) == 1) {
    a->next_publish_ms = ctl_now_ms() + ADMIT_PUBLISH_PERIOD_MS;
    json_decref(patch);
    return;
  }
  text = json_dumps(patch, JSON_COMPACT);
  json_decref(patch);
  patch = NULL;
  if (text == NULL)
    goto nomem;
  if (kube_request(c->client, "PATCH", VWC_PATH, text, strlen(text), "application/json-patch+json",
                   published, c) == KUBE_OK)
    a->pub_in_flight = 1;
  else
    a->next_publish_ms = ctl_now_ms() + ADMIT_RETRY_MS;
  doc_json_free(text);
  return;
nomem:
  json_decref(patch);
  ctl_log(CTL_LOG_WARN, "cannot publish the admission CA: out of memory", NULL);
  a->next_publish_ms = ctl_now_ms() + ADMIT_RETRY_MS;
}

void ctl_admission_tick(ctl *c)
{
  ctl_admission *a = c->admission;
  int64_t now = ctl_now_ms();
  if (a == NULL)
    return;
  if (c->opts->admission_cert != NULL) {
    if (now >= a->next_file_check_ms) {
      a->next_file_check_ms = now + ADMIT_FILE_CHECK_MS;
      reload_files(c);
    }
    return;
  }
  if (a->pub_in_flight || now < a->next_publish_ms || c->client == NULL)
    return;
  if (kube_request(c->client, "GET", VWC_PATH, NULL, 0, NULL, read_config, c) == KUBE_OK)
    a->pub_in_flight = 1;
  else
    a->next_publish_ms = now + ADMIT_RETRY_MS;
}
