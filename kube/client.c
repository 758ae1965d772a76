#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "internal.h"
#include "kube.h"
#include "seal-version.h"

#include "banned.h"

/*
 * One libcurl multi handle drives every transfer. Requests wait in a FIFO
 * queue until their retry delay has passed, a rate-limit token is available
 * and (for ordinary requests, not watch streams) fewer than max_in_flight are
 * running. Completions are handled after curl_multi_perform, outside libcurl's
 * callbacks, so user callbacks may queue or cancel requests.
 *
 * Memory that held request or response bodies is wiped by us: the controller
 * sends and reads Secrets. libcurl's allocator cannot be set per handle, so
 * bodies are handed to libcurl by pointer (CURLOPT_POSTFIELDS, never
 * COPYPOSTFIELDS) and our copies are wiped after the transfer; so are the
 * header list (it holds the token) and the response buffer. Key material goes
 * to libcurl as blobs it does not copy. What libcurl and OpenSSL keep on their
 * own (TLS buffers, parsed keys) is outside our reach.
 */

#define MAX_RETRY_AFTER_S 60
#define RESP_INITIAL 16384

enum { REQ_QUEUED = 1, REQ_ACTIVE = 2 };

struct kube_req {
  kube_client *c;
  kube_req *prev, *next;
  int state;
  char method[8];
  char *path;
  char *body; /* our copy, wiped on release */
  size_t body_len;
  char *content_type;
  kube_done_fn done;
  kube_raw_fn raw; /* instead of done: the answer's bytes, not parsed */
  void *ud;
  kube_stream_fn stream;
  long timeout_ms;
  int no_retry;
  uint64_t not_before; /* monotonic ms */
  int attempt;         /* retries done */
  int retried_401;
  kube_cred *cred; /* a credential plugin's, held while the transfer may use it */
  int cancelled;   /* cancelled from inside its own write callback */
  int in_write;
  int overflow;
  int stream_error; /* the stream callback asked to stop */
  CURL *easy;
  struct curl_slist *headers;
  doc_buf resp; /* response body (for streams: only a non-2xx answer) */
  long retry_after_s;
  char errbuf[CURL_ERROR_SIZE];
};

struct kube_client {
  kube_config *cfg;
  kube_client_opts opts;
  char *user_agent;
  CURLM *multi;
  kube_req *queue, *queue_tail; /* REQ_QUEUED, FIFO */
  kube_req *active;             /* REQ_ACTIVE */
  int n_active;                 /* ordinary requests in flight */
  size_t n_pending;             /* queued and active */
  double tokens;
  uint64_t last_refill;
  struct stat token_st; /* of the token file when last read */
  int token_st_valid;
  atomic_int woken;
  int activity; /* callbacks run in this kube_client_run cycle */
  kube_client_stats stats;
  int closing;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void kube_client_opts_init(kube_client_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->max_in_flight = 32;
  o->qps = 50;
  o->burst = 100;
  o->timeout_ms = 30000;
  o->max_retries = 5;
  o->retry_writes = 1;
  o->backoff_base_ms = 200;
  o->backoff_max_ms = 30000;
  o->max_response_bytes = KUBE_DEFAULT_MAX_RESPONSE;
  o->max_event_bytes = KUBE_DEFAULT_MAX_EVENT;
  o->watch_timeout_s = 300;
  o->list_limit = 500;
}

const kube_client_opts *kube_client_get_opts(const kube_client *c)
{
  return &c->opts;
}

void kube_client_log(kube_client *c, int level, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  if (c->opts.log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->opts.log(c->opts.log_ud, level, msg);
}

long kube_client_backoff(kube_client *c, int attempt)
{
  long base = c->opts.backoff_base_ms > 0 ? c->opts.backoff_base_ms : 1;
  long cap = c->opts.backoff_max_ms > base ? c->opts.backoff_max_ms : base;
  long d = base;
  uint32_t jitter;

  for (int i = 1; i < attempt && d < cap; i++)
    d *= 2;
  if (d > cap)
    d = cap;
  /* "equal jitter": half fixed, half random, so retries of many clients spread out */
  jitter = randombytes_uniform((uint32_t)(d / 2 + 1));
  return d / 2 + (long)jitter;
}

/* ---- token -------------------------------------------------------------- */

/* Re-reads the token file when it changed (or always with force). Keeps the
 * old token when the file cannot be read. */
static void token_refresh(kube_client *c, int force)
{
  struct stat sb;
  char *tok = NULL;
  kube_status st;

  if (c->cfg->token_file == NULL)
    return;
  if (stat(c->cfg->token_file, &sb) != 0) {
    kube_client_log(c, KUBE_LOG_WARN, "token file \"%s\": %s; keeping the current token",
                    c->cfg->token_file, strerror(errno));
    return;
  }
  if (!force && c->token_st_valid && sb.st_ino == c->token_st.st_ino &&
      sb.st_size == c->token_st.st_size && sb.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec &&
      sb.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec && sb.st_dev == c->token_st.st_dev)
    return;
  memset(&st, 0, sizeof(st));
  if (kube_read_token(&tok, c->cfg->token_file, &st) < 0) {
    kube_client_log(c, KUBE_LOG_WARN, "%s; keeping the current token", st.message);
    return;
  }
  sodium_free(c->cfg->token);
  c->cfg->token = tok;
  c->token_st = sb;
  c->token_st_valid = 1;
  kube_client_log(c, KUBE_LOG_DEBUG, "token read from \"%s\"", c->cfg->token_file);
}

/* ---- requests ------------------------------------------------------------ */

static void req_release_transfer(kube_req *r)
{
  if (r->easy != NULL) {
    curl_multi_remove_handle(r->c->multi, r->easy); /* fine when it was never added */
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
  }
  for (struct curl_slist *h = r->headers; h != NULL; h = h->next)
    sodium_memzero(h->data, strlen(h->data)); /* curl's copy of the Authorization header */
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  kube_cred_unref(r->cred);
  r->cred = NULL;
  doc_buf_free(&r->resp);
  r->overflow = 0;
  r->stream_error = 0;
  r->retry_after_s = -1;
  r->errbuf[0] = '\0';
}

static void req_free(kube_req *r)
{
  if (r == NULL)
    return;
  req_release_transfer(r);
  free(r->path);
  doc_wipe_free(r->body, r->body_len);
  free(r->content_type);
  free(r);
}

static void list_unlink(kube_client *c, kube_req *r)
{
  if (r->state == REQ_QUEUED) {
    if (r->prev)
      r->prev->next = r->next;
    else
      c->queue = r->next;
    if (r->next)
      r->next->prev = r->prev;
    else
      c->queue_tail = r->prev;
  } else if (r->state == REQ_ACTIVE) {
    if (r->prev)
      r->prev->next = r->next;
    else
      c->active = r->next;
    if (r->next)
      r->next->prev = r->prev;
    if (r->stream == NULL)
      c->n_active--;
  }
  r->prev = r->next = NULL;
}

static void queue_push(kube_client *c, kube_req *r)
{
  r->state = REQ_QUEUED;
  r->next = NULL;
  r->prev = c->queue_tail;
  if (c->queue_tail)
    c->queue_tail->next = r;
  else
    c->queue = r;
  c->queue_tail = r;
}

static void active_push(kube_client *c, kube_req *r)
{
  r->state = REQ_ACTIVE;
  r->prev = NULL;
  r->next = c->active;
  if (c->active)
    c->active->prev = r;
  c->active = r;
  if (r->stream == NULL)
    c->n_active++;
}

static int is_2xx(long code)
{
  return code >= 200 && code < 300;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  kube_req *r = ud;
  size_t len = size * n;

  if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
    char tmp[32];
    size_t i = 12, k = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
      i++;
    while (i < len && k + 1 < sizeof(tmp) && buf[i] >= '0' && buf[i] <= '9')
      tmp[k++] = buf[i++];
    tmp[k] = '\0';
    if (k > 0 && k < 10) {
      long v = strtol(tmp, NULL, 10);
      r->retry_after_s = v > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : v;
    }
  } else if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    r->retry_after_s = -1; /* a new response (after 100 Continue or a redirect) */
  }
  return len;
}

/* Appends to the response buffer (doc_buf: a hard maximum, and growth wipes
 * the old block, since it may hold Secrets). */
static int resp_append(kube_req *r, const char *data, size_t n, size_t max)
{
  int rc;

  r->resp.max = max;
  r->resp.first = RESP_INITIAL;
  rc = doc_buf_add(&r->resp, data, n);
  if (rc == DOC_ERR_LIMIT)
    r->overflow = 1;
  return rc == DOC_OK ? 0 : -1;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
  kube_req *r = ud;
  size_t len = size * n;
  long code = 0;

  if (r->cancelled)
    return 0;
  if (r->stream != NULL) {
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (!is_2xx(code)) /* an error Status, not events */
      return resp_append(r, data, len, 1024 * 1024) == 0 ? len : 0;
    r->c->activity++;
    r->in_write = 1;
    if (r->stream(r->ud, data, len) != 0)
      r->stream_error = 1;
    r->in_write = 0;
    return (r->stream_error || r->cancelled) ? 0 : len;
  }
  return resp_append(r, data, len, r->c->opts.max_response_bytes) == 0 ? len : 0;
}

/* curl_slist_append returns NULL on failure and keeps the list: keep it too */
static int add_header(kube_req *r, const char *h)
{
  struct curl_slist *n = curl_slist_append(r->headers, h);
  if (n == NULL)
    return -1;
  r->headers = n;
  return 0;
}

static int req_start(kube_client *c, kube_req *r)
{
  char url[KUBE_MAX_PATH + 512];
  CURL *e;
  long timeout = r->timeout_ms > 0 ? r->timeout_ms : c->opts.timeout_ms;
  const char *token;
  unsigned char *cert = r->cred ? r->cred->cert : c->cfg->cert;
  unsigned char *key = r->cred ? r->cred->key : c->cfg->key;
  size_t cert_len = r->cred ? r->cred->cert_len : c->cfg->cert_len;
  size_t key_len = r->cred ? r->cred->key_len : c->cfg->key_len;
  int n;

  n = snprintf(url, sizeof(url), "%s%s", c->cfg->server, r->path);
  if (n < 0 || (size_t)n >= sizeof(url))
    return KUBE_ERR_INVALID;
  /* after the refresh, which frees the token it replaces */
  token_refresh(c, 0);
  token = r->cred ? r->cred->token : c->cfg->token;
  e = curl_easy_init();
  if (e == NULL)
    return KUBE_ERR_NOMEM;
  r->easy = e;
  r->retry_after_s = -1;
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
  if (timeout > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  /* NOCOPY: the client's config outlives every transfer, and the key then
   * stays in our sodium_malloc'ed memory instead of a copy in curl's heap */
  if (c->cfg->ca != NULL) {
    /* The configured CA alone: CAINFO_BLOB replaces only the default bundle
     * file (CURLOPT_CAINFO); libcurl still loads its default CA directory
     * (CURLOPT_CAPATH, /etc/ssl/certs on Debian) unless it is unset, and any
     * system-trusted CA would then vouch for an impostor API server. */
    struct curl_blob blob = {c->cfg->ca, c->cfg->ca_len, CURL_BLOB_NOCOPY};
    if (curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK)
      return KUBE_ERR_CONFIG;
  }
  if (cert != NULL && key != NULL) { /* a plugin's stay alive with r->cred */
    struct curl_blob cert_blob = {cert, cert_len, CURL_BLOB_NOCOPY};
    struct curl_blob key_blob = {key, key_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert_blob);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key_blob);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (c->cfg->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  if (add_header(r, r->raw ? "Accept: */*" : "Accept: application/json") < 0 ||
      add_header(r, "Expect:") < 0)
    return KUBE_ERR_NOMEM;
  if (r->body != NULL) {
    char ct[300];
    snprintf(ct, sizeof(ct), "Content-Type: %s",
             r->content_type ? r->content_type : "application/json");
    if (add_header(r, ct) < 0)
      return KUBE_ERR_NOMEM;
  }
  if (token != NULL) {
    /* curl_slist_append keeps its own copy (wiped in req_release_transfer), so
     * the header is built in a plain buffer wiped at once: a sodium_malloc'ed
     * one per request mapped and unmapped guard pages three times per object
     * (about 100 us of a cold start's CPU per SealedSecret, bench/README.md) */
    size_t need = strlen(token) + sizeof("Authorization: Bearer ");
    char *auth = malloc(need);
    int bad;
    if (auth == NULL)
      return KUBE_ERR_NOMEM;
    snprintf(auth, need, "Authorization: Bearer %s", token);
    bad = add_header(r, auth) < 0;
    doc_wipe_free(auth, need);
    if (bad)
      return KUBE_ERR_NOMEM;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

  if (strcmp(r->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (strcmp(r->method, "POST") != 0)
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body != NULL || strcmp(r->method, "DELETE") != 0) {
      /* by pointer: our copy stays alive until the transfer ends and is wiped then */
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    }
  }
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
    return KUBE_ERR_NOMEM;
  active_push(c, r);
  c->stats.attempts++;
  return KUBE_OK;
}

int kube_req_submit(kube_client *c, const kube_req_spec *s, kube_req **handle)
{
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  kube_req *r = NULL;
  size_t i;
  int ok = 0;

  if (handle)
    *handle = NULL;
  if (c == NULL || s == NULL || s->method == NULL || s->path == NULL || s->path[0] != '/' ||
      (s->done == NULL && s->raw == NULL) || c->closing || strlen(s->path) >= KUBE_MAX_PATH ||
      (s->body == NULL && s->body_len > 0) || s->body_len > (size_t)INT_MAX)
    return KUBE_ERR_INVALID;
  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
    ok |= strcmp(s->method, methods[i]) == 0;
  if (!ok || strpbrk(s->path, " \r\n\t") != NULL ||
      (s->content_type != NULL &&
       (strpbrk(s->content_type, "\r\n") || strlen(s->content_type) > 200)))
    return KUBE_ERR_INVALID;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return KUBE_ERR_NOMEM;
  r->c = c;
  snprintf(r->method, sizeof(r->method), "%s", s->method);
  r->path = strdup(s->path);
  if (s->content_type)
    r->content_type = strdup(s->content_type);
  if (s->body != NULL) {
    r->body = malloc(s->body_len + 1);
    if (r->body) {
      memcpy(r->body, s->body, s->body_len);
      r->body[s->body_len] = '\0';
    }
    r->body_len = s->body_len;
  }
  if (r->path == NULL || (s->content_type && !r->content_type) || (s->body && !r->body)) {
    req_free(r);
    return KUBE_ERR_NOMEM;
  }
  r->done = s->done;
  r->raw = s->raw;
  r->ud = s->ud;
  r->stream = s->stream;
  r->timeout_ms = s->timeout_ms;
  r->no_retry = s->no_retry;
  r->retry_after_s = -1;
  r->not_before = now_ms() + (uint64_t)(s->delay_ms > 0 ? s->delay_ms : 0);
  queue_push(c, r);
  c->n_pending++;
  if (handle)
    *handle = r;
  return KUBE_OK;
}

void kube_req_cancel(kube_client *c, kube_req *r)
{
  if (c == NULL || r == NULL)
    return;
  if (r->in_write) { /* inside its own write callback: stop it from there */
    r->cancelled = 1;
    r->done = NULL;
    r->raw = NULL;
    return;
  }
  list_unlink(c, r);
  req_release_transfer(r);
  r->state = 0;
  c->n_pending--;
  req_free(r);
}

/* One request: the answer parsed to done, or its bytes to raw. */
static int request(kube_client *c, const char *method, const char *path, const char *body,
                   size_t body_len, const char *content_type, kube_done_fn done, kube_raw_fn raw,
                   void *ud)
{
  kube_req_spec s = {.method = method,
                     .path = path,
                     .body = body,
                     .body_len = body_len,
                     .content_type = content_type,
                     .done = done,
                     .raw = raw,
                     .ud = ud};

  return kube_req_submit(c, &s, NULL);
}

int kube_request(kube_client *c, const char *method, const char *path, const char *body,
                 size_t body_len, const char *content_type, kube_done_fn cb, void *ud)
{
  return request(c, method, path, body, body_len, content_type, cb, NULL, ud);
}

int kube_request_raw(kube_client *c, const char *method, const char *path, const char *body,
                     size_t body_len, const char *content_type, kube_raw_fn cb, void *ud)
{
  if (cb == NULL)
    return KUBE_ERR_INVALID;
  return request(c, method, path, body, body_len, content_type, NULL, cb, ud);
}

/* ---- completion ------------------------------------------------------------ */

/* Retries this request may have: none for a write when the caller owns them. */
static int retries_allowed(const kube_client *c, const kube_req *r)
{
  if (r->no_retry)
    return 0;
  if (!c->opts.retry_writes && strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
    return 0;
  return c->opts.max_retries;
}

static int retryable_curl(CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

static void requeue(kube_client *c, kube_req *r, long delay_ms)
{
  list_unlink(c, r);
  req_release_transfer(r);
  r->not_before = now_ms() + (uint64_t)(delay_ms > 0 ? delay_ms : 0);
  queue_push(c, r);
}

/* Prints up to 200 bytes of a non-JSON answer, control characters replaced. */
static void snippet(char *out, size_t size, const char *s, size_t len)
{
  size_t i, k = 0;
  for (i = 0; i < len && k + 1 < size && i < 200; i++) {
    unsigned char ch = (unsigned char)s[i];
    out[k++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
  }
  out[k] = '\0';
}

/* Runs the request's callback; r is out of every list already. */
static void deliver(kube_client *c, kube_req *r, long code, json_t *body, const kube_status *st)
{
  c->activity++;
  if (r->cancelled)
    return;
  if (r->raw != NULL)
    r->raw(r->ud, code, r->resp.p ? r->resp.p : "", r->resp.len, st);
  else if (r->done != NULL)
    r->done(r->ud, code, body, st);
}

static void finish(kube_client *c, kube_req *r, CURLcode cc)
{
  kube_status st;
  json_t *body = NULL;
  long code = 0, connects = 0;

  memset(&st, 0, sizeof(st));
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
    c->stats.connections += (uint64_t)connects;

  if (r->cancelled) {
    list_unlink(c, r);
    c->n_pending--;
    req_free(r);
    return;
  }
  if (c->opts.observe != NULL && r->stream == NULL) {
    curl_off_t us = 0;
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &us);
    c->opts.observe(c->opts.observe_ud, r->method, r->path, cc == CURLE_OK ? code : 0,
                    (double)us / 1e6);
  }
  if (r->overflow) {
    kube_status_set(&st, KUBE_ERR_LIMIT, "%s %s: answer larger than %zu bytes", r->method, r->path,
                    r->stream ? (size_t)1024 * 1024 : c->opts.max_response_bytes);
    code = 0;
  } else if (cc != CURLE_OK && !(r->stream_error && cc == CURLE_WRITE_ERROR)) {
    int max = retries_allowed(c, r);
    if (retryable_curl(cc) && r->attempt < max && !(r->stream && is_2xx(code))) {
      long d = kube_client_backoff(c, ++r->attempt);
      kube_client_log(c, KUBE_LOG_WARN, "%s %s: %s; retry %d of %d in %ld ms", r->method, r->path,
                      r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc), r->attempt, max, d);
      c->stats.retries++;
      requeue(c, r, d);
      return;
    }
    kube_status_set(&st, KUBE_ERR_TRANSPORT, "%s %s%s: %s", r->method, c->cfg->server, r->path,
                    r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
    if (r->stream && is_2xx(code)) {
      st.http_code = code; /* a stream that broke after it started */
    } else {
      code = 0;
    }
  } else {
    int max = retries_allowed(c, r);
    if (code == 401 && (c->cfg->token_file != NULL || r->cred != NULL) && !r->retried_401) {
      r->retried_401 = 1;
      kube_client_log(c, KUBE_LOG_INFO, "%s %s: 401 Unauthorized; %s again", r->method, r->path,
                      r->cred ? "running the credential plugin" : "reading the token");
      if (r->cred != NULL) /* as client-go: a 401 ends the plugin's credential */
        kube_exec_invalidate(c->cfg->exec, r->cred);
      else
        token_refresh(c, 1);
      requeue(c, r, 0);
      return;
    }
    if ((code == 429 || (code >= 500 && code != 501)) && r->attempt < max) {
      long d = kube_client_backoff(c, ++r->attempt);
      if (r->retry_after_s >= 0) /* the server knows best; bounded by MAX_RETRY_AFTER_S */
        d = r->retry_after_s * 1000 + (long)randombytes_uniform(100);
      kube_client_log(c, KUBE_LOG_WARN, "%s %s: answer %ld; retry %d of %d in %ld ms", r->method,
                      r->path, code, r->attempt, max, d);
      c->stats.retries++;
      requeue(c, r, d);
      return;
    }
    st.http_code = code;
    st.code = code;
    if (r->resp.len > 0 && !(r->raw != NULL && is_2xx(code))) {
      json_error_t jerr;
      body = json_loadb(r->resp.p, r->resp.len, JSON_ALLOW_NUL, &jerr);
      if (body == NULL) {
        char snip[256];
        snippet(snip, sizeof(snip), r->resp.p, r->resp.len);
        if (is_2xx(code))
          kube_status_set(&st, KUBE_ERR_PROTOCOL, "%s %s: answer %ld is not JSON: %s", r->method,
                          r->path, code, jerr.text);
        else
          kube_status_set(&st, KUBE_ERR_HTTP, "%s %s: answer %ld: %s", r->method, r->path, code,
                          snip);
      }
    }
    if (body != NULL || r->resp.len == 0 || (r->raw != NULL && is_2xx(code))) {
      if (is_2xx(code)) {
        st.err = KUBE_OK;
      } else {
        const char *kind = json_string_value(json_object_get(body, "kind"));
        const char *reason = json_string_value(json_object_get(body, "reason"));
        const char *msg = json_string_value(json_object_get(body, "message"));
        json_t *jcode = json_object_get(body, "code");
        if (kind != NULL && strcmp(kind, "Status") == 0) {
          if (json_is_integer(jcode))
            st.code = (long)json_integer_value(jcode);
          if (reason)
            snprintf(st.reason, sizeof(st.reason), "%s", reason);
        }
        if (msg != NULL)
          kube_status_set(&st, KUBE_ERR_HTTP, "%s", msg);
        else
          kube_status_set(&st, KUBE_ERR_HTTP, "%s %s: answer %ld", r->method, r->path, code);
      }
    }
  }
  st.http_code = code;
  if (st.code == 0)
    st.code = code;
  list_unlink(c, r);
  r->state = 0;
  c->n_pending--;
  if (st.err != KUBE_OK)
    c->stats.failures++;
  deliver(c, r, code, body, &st);
  json_decref(body);
  req_free(r);
}

static void process_done(kube_client *c)
{
  CURLMsg *m;
  int left;

  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    kube_req *r = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r != NULL)
      finish(c, r, m->data.result);
  }
}

/* Starts what may start; returns how long until something queued could
 * (-1: nothing waits on time). */
static long dispatch(kube_client *c)
{
  uint64_t now = now_ms();
  long wait = -1;
  kube_req *r, *next;

  if (c->opts.qps > 0) {
    double add = (double)(now - c->last_refill) * c->opts.qps / 1000.0;
    c->tokens += add;
    if (c->tokens > (double)c->opts.burst)
      c->tokens = (double)c->opts.burst;
    c->last_refill = now;
  }
  for (r = c->queue; r != NULL; r = next) {
    next = r->next;
    if (r->not_before > now) {
      long w = (long)(r->not_before - now);
      if (wait < 0 || w < wait)
        wait = w;
      continue;
    }
    if (r->stream == NULL && c->n_active >= c->opts.max_in_flight)
      continue; /* a completion will wake the poll */
    if (c->opts.qps > 0) {
      if (c->tokens < 1.0) {
        long w = (long)((1.0 - c->tokens) * 1000.0 / c->opts.qps) + 1;
        if (wait < 0 || w < wait)
          wait = w;
        break; /* FIFO: nothing overtakes the head of the rate limit */
      }
      c->tokens -= 1.0;
    }
    list_unlink(c, r);
    kube_status st;
    memset(&st, 0, sizeof(st));
    int rc = KUBE_OK;
    if (c->cfg->exec != NULL) /* runs the plugin when its credential is missing or expired */
      rc = kube_exec_get(&r->cred, c->cfg->exec, c->cfg, &st);
    if (rc == KUBE_OK && (rc = req_start(c, r)) != KUBE_OK)
      kube_status_set(&st, rc, "%s %s: cannot start the transfer (%s)", r->method, r->path,
                      kube_strerror(rc));
    if (rc != KUBE_OK) {
      req_release_transfer(r);
      r->state = 0;
      c->n_pending--;
      deliver(c, r, 0, NULL, &st);
      req_free(r);
      next = c->queue; /* the callback may have changed the queue */
    }
  }
  return wait;
}

int kube_client_run(kube_client *c, long timeout_ms)
{
  uint64_t deadline;
  int running = 0;

  if (c == NULL)
    return KUBE_ERR_INVALID;
  if (timeout_ms < 0)
    timeout_ms = 0;
  deadline = now_ms() + (uint64_t)timeout_ms;
  c->activity = 0;
  for (;;) {
    long wait, curl_wait = -1;
    uint64_t now;

    dispatch(c);
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
      return KUBE_ERR_NOMEM;
    process_done(c);
    wait = dispatch(c); /* callbacks may have queued requests */
    if (c->activity > 0 || atomic_exchange(&c->woken, 0))
      break;
    now = now_ms();
    if (now >= deadline)
      break;
    if (wait < 0 || (uint64_t)wait > deadline - now)
      wait = (long)(deadline - now);
    curl_multi_timeout(c->multi, &curl_wait);
    if (curl_wait >= 0 && curl_wait < wait)
      wait = curl_wait;
    if (curl_multi_poll(c->multi, NULL, 0, (int)(wait > INT_MAX ? INT_MAX : wait), NULL) !=
        CURLM_OK)
      return KUBE_ERR_NOMEM;
  }
  return c->activity;
}

void kube_client_wakeup(kube_client *c)
{
  if (c == NULL)
    return;
  atomic_store(&c->woken, 1);
  curl_multi_wakeup(c->multi);
}

size_t kube_client_pending(const kube_client *c)
{
  return c ? c->n_pending : 0;
}

void kube_client_get_stats(const kube_client *c, kube_client_stats *out)
{
  if (c != NULL)
    *out = c->stats;
  else
    memset(out, 0, sizeof(*out));
}

/* ---- sync ------------------------------------------------------------------- */

typedef struct sync_state {
  int done;
  long code;
  json_t *body; /* kube_request_sync */
  char *text;   /* kube_request_sync_raw */
  size_t len;
  kube_status st;
} sync_state;

static void sync_done(void *ud, long code, json_t *body, const kube_status *st)
{
  sync_state *s = ud;
  s->done = 1;
  s->code = code;
  s->body = json_incref(body);
  s->st = *st;
}

static void sync_raw_done(void *ud, long code, const char *data, size_t len, const kube_status *st)
{
  sync_state *s = ud;
  s->done = 1;
  s->code = code;
  s->st = *st;
  s->text = malloc(len + 1);
  if (s->text == NULL) {
    kube_status_set(&s->st, KUBE_ERR_NOMEM, "out of memory for an answer of %zu bytes", len);
    return;
  }
  memcpy(s->text, data, len);
  s->text[len] = '\0';
  s->len = len;
}

/* Submits spec (its done or raw is one of the above, ud is s) and runs the
 * client until it completes. Returns the request's error, or the error that
 * kept it from being queued or run (s->done then stays 0). */
static int sync_run(kube_client *c, kube_req_spec *spec, sync_state *s, long *http_code,
                    kube_status *st)
{
  int rc;

  memset(s, 0, sizeof(*s));
  spec->ud = s;
  if (http_code)
    *http_code = 0;
  rc = kube_req_submit(c, spec, NULL);
  while (rc == 0 && !s->done) {
    rc = kube_client_run(c, 1000);
    rc = rc < 0 && !s->done ? rc : 0;
    /* on a failing run the request stays queued; it completes on a later
     * run or when the client is freed */
  }
  if (rc < 0) {
    if (st) {
      memset(st, 0, sizeof(*st));
      kube_status_set(st, rc, "%s %s: %s", spec->method ? spec->method : "?",
                      spec->path ? spec->path : "?", kube_strerror(rc));
    }
    return rc;
  }
  if (http_code)
    *http_code = s->code;
  if (st)
    *st = s->st;
  return s->st.err;
}

static void sync_spec(kube_req_spec *spec, const char *method, const char *path, const char *body,
                      size_t body_len, const char *content_type)
{
  memset(spec, 0, sizeof(*spec));
  spec->method = method;
  spec->path = path;
  spec->body = body;
  spec->body_len = body_len;
  spec->content_type = content_type;
}

int kube_request_sync_raw(kube_client *c, const char *method, const char *path, const char *body,
                          size_t body_len, const char *content_type, long *http_code, char **out,
                          size_t *out_len, kube_status *st)
{
  kube_req_spec spec;
  sync_state s;
  int rc;

  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  sync_spec(&spec, method, path, body, body_len, content_type);
  spec.raw = sync_raw_done;
  rc = sync_run(c, &spec, &s, http_code, st);
  if (out != NULL && out_len != NULL) {
    *out = s.text;
    *out_len = s.len;
  } else {
    doc_wipe_free(s.text, s.len);
  }
  return rc;
}

int kube_request_sync(kube_client *c, const char *method, const char *path, const char *body,
                      size_t body_len, const char *content_type, long *http_code, json_t **body_out,
                      kube_status *st)
{
  kube_req_spec spec;
  sync_state s;
  int rc;

  sync_spec(&spec, method, path, body, body_len, content_type);
  spec.done = sync_done;
  rc = sync_run(c, &spec, &s, http_code, st);
  if (body_out)
    *body_out = s.body;
  else
    json_decref(s.body);
  return rc;
}

/* ---- life ----------------------------------------------------------------- */

int kube_client_new(kube_client **out, const kube_config *cfg, const kube_client_opts *opts,
                    kube_status *st)
{
  kube_client *c = NULL;
  int rc = KUBE_ERR_NOMEM;

  if (st)
    memset(st, 0, sizeof(*st));
  if (out == NULL || cfg == NULL) {
    kube_status_set(st, KUBE_ERR_INVALID, "no configuration given");
    return KUBE_ERR_INVALID;
  }
  *out = NULL;
  if (sodium_init() < 0) {
    kube_status_set(st, KUBE_ERR_NOMEM, "cannot initialise libsodium");
    return KUBE_ERR_NOMEM;
  }
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) {
    kube_status_set(st, KUBE_ERR_NOMEM, "cannot initialise libcurl");
    return KUBE_ERR_NOMEM;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto out;
  if (opts)
    c->opts = *opts;
  else
    kube_client_opts_init(&c->opts);
  if (c->opts.max_in_flight <= 0 || c->opts.burst <= 0 || c->opts.max_retries < 0 ||
      c->opts.timeout_ms < 0 || c->opts.max_response_bytes == 0 || c->opts.max_event_bytes == 0 ||
      c->opts.list_limit <= 0 || c->opts.watch_timeout_s <= 0) {
    rc = KUBE_ERR_INVALID;
    kube_status_set(st, rc, "client options out of range (call kube_client_opts_init first)");
    goto out;
  }
  if (c->opts.user_agent) {
    c->user_agent = strdup(c->opts.user_agent);
  } else {
    c->user_agent = strdup("seal/" SEAL_VERSION);
  }
  c->opts.user_agent = c->user_agent;
  if (c->user_agent == NULL || kube_config_dup(&c->cfg, cfg) < 0)
    goto out;
  if (c->cfg->exec != NULL && (c->cfg->token != NULL || c->cfg->cert != NULL)) {
    /* as client-go: a token or client certificate given beside a plugin wins */
    kube_exec_free(c->cfg->exec);
    c->cfg->exec = NULL;
  }
  c->multi = curl_multi_init();
  if (c->multi == NULL)
    goto out;
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  c->tokens = (double)c->opts.burst;
  c->last_refill = now_ms();
  atomic_init(&c->woken, 0);
  if (c->cfg->token_file != NULL) {
    /* the token in cfg was read at load; note the file's state for changes */
    struct stat sb;
    if (stat(c->cfg->token_file, &sb) == 0) {
      c->token_st = sb;
      c->token_st_valid = 1;
    }
  }
  *out = c;
  c = NULL;
  rc = KUBE_OK;
out:
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "creating the client: out of memory");
  kube_client_free(c);
  return rc;
}

void kube_client_free(kube_client *c)
{
  kube_req *r;

  if (c == NULL)
    return;
  c->closing = 1;
  while ((r = c->active != NULL ? c->active : c->queue) != NULL) {
    kube_status st;
    memset(&st, 0, sizeof(st));
    kube_status_set(&st, KUBE_ERR_CANCELLED, "%s %s: cancelled: the client is closing", r->method,
                    r->path);
    list_unlink(c, r);
    req_release_transfer(r);
    r->state = 0;
    c->n_pending--;
    deliver(c, r, 0, NULL, &st);
    req_free(r);
  }
  if (c->multi)
    curl_multi_cleanup(c->multi);
  kube_config_free(c->cfg);
  free(c->user_agent);
  free(c);
}
