#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "ctl.h"
#include "log.h"
#include "map.h"
#include "metrics.h"
#include "options.h"

#include "banned.h"

#define BODY_MAX DOC_MAX_BYTES
#define REPLY_MAX (8 * 1024 * 1024)
/* Clients remembered at once (token bucket and body memory each); when full,
 * the one seen least recently that holds no body memory is forgotten. */
#define CLIENTS_MAX 4096
#define CLIENT_ID_MAX 64
#define WATCHDOG_PERIOD_MS 200

/*
 * Memory and fairness on the public listener:
 * - a request body is held only within a reservation: at most
 *   --http-client-body-memory per client (else 429) and --http-body-memory
 *   over all clients (else 503), released when the request ends;
 * - /v1/verify and /v1/rotate take a token from the client's bucket
 *   (--http-rate, --http-burst; else 429) and from the bucket of all clients
 *   (--http-rate-total; else 503) before any body is read;
 * - a client is its peer address, or for a peer in --http-trusted-proxy the
 *   last X-Forwarded-For entry (the one that proxy appended);
 * - a connection whose request headers are not complete --http-header-timeout
 *   after it opened (or after its previous request) is shut down by a
 *   watchdog thread, whatever it trickles meanwhile.
 * /health, /ping and /metrics are on the metrics listener too, which has its
 * own connections and threads: no flood of the public listener reaches it.
 */

typedef struct client {
  double tokens;
  int64_t refilled_ms;
  int64_t seen_ms;
  size_t body_bytes; /* reserved by requests in flight */
} client;

typedef struct conn_slot {
  struct conn_slot *prev, *next;
  int fd;
  int64_t deadline_ms; /* 0: not waiting for request headers */
} conn_slot;

typedef struct listener {
  ctl_http *h;
  struct MHD_Daemon *d;
  conn_slot *head; /* under h->conn_lock */
} listener;

struct ctl_http {
  ctl *c;
  listener api;
  listener metrics;
  pthread_mutex_t lock; /* the buckets, the clients, body memory */
  double tokens;        /* the bucket of all clients */
  int64_t refilled_ms;
  ctl_map *clients;
  size_t body_bytes;
  ctl_cidr proxies[CTL_MAX_TRUSTED_PROXIES];
  size_t n_proxies;
  pthread_mutex_t conn_lock; /* the connection lists, stopping */
  pthread_cond_t wake;
  int stopping;
  int watchdog_started;
  pthread_t watchdog;
};

typedef enum refusal {
  REFUSED_NONE = 0,
  REFUSED_CLIENT_RATE,   /* 429 */
  REFUSED_TOTAL_RATE,    /* 503 */
  REFUSED_CLIENT_MEMORY, /* 429 */
  REFUSED_TOTAL_MEMORY,  /* 503 */
} refusal;

typedef struct req_ctx {
  doc_buf body;    /* at most BODY_MAX, wiped */
  size_t reserved; /* body memory held for this request */
  int too_big;
  int replied;     /* a response was queued before the body was read */
  refusal refused; /* the body is dropped as it arrives */
  ctl_http *h;
  char client[CLIENT_ID_MAX];
} req_ctx;

/* ---- helpers ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *body, size_t len, const char *metric_path)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                           MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (code == MHD_HTTP_TOO_MANY_REQUESTS || code == MHD_HTTP_SERVICE_UNAVAILABLE)
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
    doc_json_free(text);
    return reply_text(conn, 500, "out of memory\n", metric_path);
  }
  memcpy(nl, text, len);
  nl[len] = '\n';
  nl[len + 1] = '\0';
  ret = reply(conn, code, "application/json", nl, len + 1, metric_path);
  free(nl);
  doc_json_free(text);
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

/* The address of a peer, IPv4-mapped IPv6 as IPv4. 0, or -1 if unknown. */
static int peer_address(const struct sockaddr *sa, int *family, uint8_t addr[16])
{
  if (sa == NULL)
    return -1;
  if (sa->sa_family == AF_INET) {
    *family = AF_INET;
    memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      *family = AF_INET;
      memcpy(addr, a6->s6_addr + 12, 4);
    } else {
      *family = AF_INET6;
      memcpy(addr, a6->s6_addr, 16);
    }
    return 0;
  }
  return -1;
}

typedef struct xff_last {
  char text[CLIENT_ID_MAX];
  int found;
} xff_last;

/* Keeps the last entry of the last X-Forwarded-For header. */
static enum MHD_Result xff_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
  xff_last *x = cls;
  (void)kind;
  if (key == NULL || value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
    return MHD_YES;
  const char *comma = strrchr(value, ',');
  const char *p = comma ? comma + 1 : value;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t n = strlen(p);
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  x->found = 0;
  if (n > 0 && n < sizeof(x->text)) {
    memcpy(x->text, p, n);
    x->text[n] = '\0';
    x->found = 1;
  }
  return MHD_YES;
}

/* Who sent the request: the peer address, or for a trusted proxy the address
 * it appended to X-Forwarded-For (earlier entries come from the client and
 * are never trusted). Always an address in inet_ntop's form. */
static void client_id(ctl_http *h, struct MHD_Connection *conn, char *out, size_t size)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
                                                               MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  int family = 0;
  uint8_t addr[16];

  if (ci == NULL || peer_address(ci->client_addr, &family, addr) != 0 ||
      inet_ntop(family, addr, out, (socklen_t)size) == NULL) {
    snprintf(out, size, "unknown");
    return;
  }
  if (h->n_proxies == 0 || !ctl_cidr_match(h->proxies, h->n_proxies, family, addr))
    return;
  xff_last x = {.found = 0};
  MHD_get_connection_values(conn, MHD_HEADER_KIND, xff_each, &x);
  if (!x.found)
    return; /* the proxy's own request */
  uint8_t fwd[16];
  if (inet_pton(AF_INET, x.text, fwd) == 1)
    inet_ntop(AF_INET, fwd, out, (socklen_t)size);
  else if (inet_pton(AF_INET6, x.text, fwd) == 1)
    inet_ntop(AF_INET6, fwd, out, (socklen_t)size);
}

typedef struct lru_pick {
  const char *key;
  int64_t seen_ms;
} lru_pick;

static void lru_each(void *ud, const char *key, void *value)
{
  lru_pick *p = ud;
  const client *cl = value;
  if (cl->body_bytes == 0 && (p->key == NULL || cl->seen_ms < p->seen_ms)) {
    p->key = key;
    p->seen_ms = cl->seen_ms;
  }
}

/* The client's entry, made (with a full bucket) if new. Under h->lock. NULL
 * when the table is full of clients holding body memory, or out of memory. */
static client *client_get(ctl_http *h, const char *id, int64_t now)
{
  client *cl = ctl_map_get(h->clients, id);
  if (cl != NULL)
    return cl;
  if (ctl_map_len(h->clients) >= CLIENTS_MAX) {
    lru_pick pick = {NULL, 0};
    char victim[CLIENT_ID_MAX];
    ctl_map_each(h->clients, lru_each, &pick);
    if (pick.key == NULL)
      return NULL;
    snprintf(victim, sizeof(victim), "%s", pick.key);
    ctl_map_del(h->clients, victim);
  }
  cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return NULL;
  cl->tokens = (double)h->c->opts->http_burst;
  cl->refilled_ms = now;
  cl->seen_ms = now;
  if (ctl_map_put(h->clients, id, cl) != 0) {
    free(cl);
    return NULL;
  }
  return cl;
}

/* One /v1/verify or /v1/rotate request of client id: a token from its bucket
 * and one from the bucket of all clients, or the refusal. */
static refusal admit(ctl_http *h, const char *id)
{
  const ctl_options *o = h->c->opts;
  refusal r = REFUSED_NONE;
  int64_t now = ctl_now_ms();

  pthread_mutex_lock(&h->lock);
  double total_burst = o->http_rate_total < 1.0 ? 1.0 : o->http_rate_total;
  h->tokens += (double)(now - h->refilled_ms) * o->http_rate_total / 1000.0;
  if (h->tokens > total_burst)
    h->tokens = total_burst;
  h->refilled_ms = now;
  client *cl = client_get(h, id, now);
  if (cl == NULL) {
    r = REFUSED_TOTAL_RATE;
    goto out;
  }
  cl->tokens += (double)(now - cl->refilled_ms) * o->http_rate / 1000.0;
  if (cl->tokens > (double)o->http_burst)
    cl->tokens = (double)o->http_burst;
  cl->refilled_ms = now;
  cl->seen_ms = now;
  if (cl->tokens < 1.0)
    r = REFUSED_CLIENT_RATE;
  else if (h->tokens < 1.0)
    r = REFUSED_TOTAL_RATE;
  else {
    cl->tokens -= 1.0;
    h->tokens -= 1.0;
  }
out:
  pthread_mutex_unlock(&h->lock);
  return r;
}

/* n more bytes of body memory for rc, or the refusal. */
static refusal reserve(ctl_http *h, req_ctx *rc, size_t n)
{
  const ctl_options *o = h->c->opts;
  refusal r = REFUSED_NONE;

  pthread_mutex_lock(&h->lock);
  client *cl = client_get(h, rc->client, ctl_now_ms());
  if (cl == NULL)
    r = REFUSED_TOTAL_MEMORY;
  else if (cl->body_bytes + n > (size_t)o->http_client_body_memory)
    r = REFUSED_CLIENT_MEMORY;
  else if (h->body_bytes + n > (size_t)o->http_body_memory)
    r = REFUSED_TOTAL_MEMORY;
  else {
    cl->body_bytes += n;
    h->body_bytes += n;
    rc->reserved += n;
  }
  pthread_mutex_unlock(&h->lock);
  return r;
}

/* Wipes and frees the body's text; its reservation stays. */
static void free_body_text(req_ctx *rc)
{
  doc_buf_free(&rc->body);
}

/* Wipes and frees the body, and gives its memory back. */
static void drop_body(req_ctx *rc)
{
  free_body_text(rc);
  if (rc->reserved == 0 || rc->h == NULL)
    return;
  ctl_http *h = rc->h;
  pthread_mutex_lock(&h->lock);
  client *cl = ctl_map_get(h->clients, rc->client);
  if (cl != NULL) /* never forgotten while it holds body memory */
    cl->body_bytes -= rc->reserved;
  h->body_bytes -= rc->reserved;
  rc->reserved = 0;
  pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result reply_refused(struct MHD_Connection *conn, refusal r, const char *url)
{
  switch (r) {
  case REFUSED_CLIENT_RATE:
    return reply_error(conn, 429, "TooManyRequests",
                       "rate limited: too many requests from this client, try again later", url);
  case REFUSED_CLIENT_MEMORY:
    return reply_error(conn, 429, "TooManyRequests",
                       "too many request bodies from this client at once: try again later", url);
  case REFUSED_TOTAL_MEMORY:
    return reply_error(conn, 503, "ServiceUnavailable",
                       "too many request bodies at once: try again later", url);
  case REFUSED_TOTAL_RATE:
  default:
    return reply_error(conn, 503, "ServiceUnavailable",
                       "rate limited: too many requests from all clients, try again later", url);
  }
}

/* ---- per-connection header deadline ----------------------------------- */

static conn_slot *slot_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
                                                               MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? (conn_slot *)ci->socket_context : NULL;
}

/* The request's headers are in: no deadline until it ends. */
static void headers_complete(ctl_http *h, struct MHD_Connection *conn)
{
  conn_slot *s = slot_of(conn);
  if (s == NULL)
    return;
  pthread_mutex_lock(&h->conn_lock);
  s->deadline_ms = 0;
  pthread_mutex_unlock(&h->conn_lock);
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
  listener *l = cls;
  ctl_http *h = l->h;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
                                                                 MHD_CONNECTION_INFO_CONNECTION_FD);
    conn_slot *s = calloc(1, sizeof(*s));
    if (s == NULL || ci == NULL) {
      free(s);
      ctl_log(CTL_LOG_WARN, "no header deadline for a connection: out of memory", "component",
              "http", NULL);
      return;
    }
    s->fd = ci->connect_fd;
    s->deadline_ms = ctl_now_ms() + h->c->opts->http_header_timeout_ms;
    pthread_mutex_lock(&h->conn_lock);
    s->next = l->head;
    if (l->head)
      l->head->prev = s;
    l->head = s;
    pthread_mutex_unlock(&h->conn_lock);
    *socket_context = s;
    return;
  }
  /* MHD_CONNECTION_NOTIFY_CLOSED comes before the socket is closed: under
   * conn_lock the watchdog never touches a descriptor that was closed */
  conn_slot *s = *socket_context;
  if (s == NULL)
    return;
  pthread_mutex_lock(&h->conn_lock);
  if (s->prev)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  pthread_mutex_unlock(&h->conn_lock);
  free(s);
  *socket_context = NULL;
}

/* Shuts down (does not close: MHD owns the descriptor) every connection past
 * its header deadline; MHD then sees the end of the stream and closes it. */
static void *watchdog_main(void *arg)
{
  ctl_http *h = arg;
  pthread_mutex_lock(&h->conn_lock);
  while (!h->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&h->wake, &h->conn_lock, &ts);
    int64_t now = ctl_now_ms();
    unsigned cut = 0;
    listener *ls[2] = {&h->api, &h->metrics};
    for (int i = 0; i < 2; i++)
      for (conn_slot *s = ls[i]->head; s; s = s->next)
        if (s->deadline_ms != 0 && now >= s->deadline_ms && s->fd >= 0) {
          shutdown(s->fd, SHUT_RDWR);
          s->deadline_ms = 0;
          cut++;
        }
    if (cut > 0 && ctl_log_enabled(CTL_LOG_DEBUG)) {
      char n[16];
      snprintf(n, sizeof(n), "%u", cut);
      ctl_log(CTL_LOG_DEBUG, "connections cut: request headers not complete in time", "component",
              "http", "connections", n, NULL);
    }
  }
  pthread_mutex_unlock(&h->conn_lock);
  return NULL;
}

/* Parses the body into exactly one SealedSecret. */
static json_t *parse_sealed(const req_ctx *rc, int *is_json, char *err, size_t err_size)
{
  doc_list docs = {0};
  manifest_error merr = {0};
  json_t *doc = NULL;
  size_t i = 0;

  while (i < rc->body.len && (rc->body.p[i] == ' ' || rc->body.p[i] == '\n' ||
                              rc->body.p[i] == '\r' || rc->body.p[i] == '\t'))
    i++;
  *is_json = i < rc->body.len && (rc->body.p[i] == '{' || rc->body.p[i] == '[');
  if (doc_parse(&docs, rc->body.p ? rc->body.p : "", rc->body.len, "request body",
                DOC_PARSE_BODY_LIMITS, &merr) != MANIFEST_OK) {
    snprintf(err, err_size, "%s", merr.message);
    return NULL;
  }
  if (docs.n != 1) {
    snprintf(err, err_size, "request body: expected one SealedSecret, found %zu documents", docs.n);
  } else if (!manifest_is_sealed_secret(docs.docs[0])) {
    snprintf(err, err_size, "request body: not a SealedSecret (apiVersion %s, kind %s)",
             MANIFEST_API_VERSION, MANIFEST_KIND);
  } else {
    doc = json_incref(docs.docs[0]);
  }
  doc_list_free(&docs);
  return doc;
}

/* ---- endpoints ---------------------------------------------------------- */

static int too_many_keys(const json_t *doc, char *err, size_t err_size)
{
  if (json_object_size(doc_get(doc, "spec", "encryptedData", NULL)) <= MANIFEST_MAX_KEYS)
    return 0;
  snprintf(err, err_size, "request body: spec.encryptedData: more than %d keys", MANIFEST_MAX_KEYS);
  return 1;
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
  if (failed == NULL || ctl_check_sealed(h->c, doc, failed, &n_values) != 0) {
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
      json_array_foreach(failed, i, f) {
        int w = snprintf(text + len, sizeof(text) - len, "%s: %s: %s\n",
                         doc_get_string(f, "key", NULL), doc_get_string(f, "reason", NULL),
                         doc_get_string(f, "message", NULL));
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
static enum MHD_Result do_rotate(ctl_http *h, struct MHD_Connection *conn, req_ctx *rc)
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
  free_body_text(rc); /* parsed: its reservation now stands for the answer */
  if (too_many_keys(doc, err, sizeof(err))) {
    ret = reply_error(conn, 422, "Invalid", err, "/v1/rotate");
    goto out;
  }
  failed = json_array();
  if (failed == NULL || ctl_check_sealed(h->c, doc, failed, &n_values) != 0) {
    ret = reply_text(conn, 500, "out of memory\n", "/v1/rotate");
    goto out;
  }
  if (json_array_size(failed) > 0) {
    json_t *f = json_array_get(failed, 0);
    const char *key = doc_get_string(f, "key", NULL);
    const char *reason = doc_get_string(f, "reason", NULL);
    if (key && key[0])
      snprintf(err, sizeof(err), "key \"%s\": %s: %s", key, reason,
               doc_get_string(f, "message", NULL));
    else
      snprintf(err, sizeof(err), "%s: %s", reason, doc_get_string(f, "message", NULL));
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
    const char *reason = rc2 == MANIFEST_ERR_KEYS ? manifest_unseal_reason(merr.cause) : "Invalid";
    ret = reply_error(conn, rc2 == MANIFEST_ERR_KEYS ? 409 : 422, reason, merr.message,
                      "/v1/rotate");
    goto out;
  }
  if (doc_write(&text, &len, &doc, 1, is_json ? DOC_JSON : DOC_YAML, &merr) != MANIFEST_OK) {
    ret = reply_error(conn, 500, "Internal", merr.message, "/v1/rotate");
    goto out;
  }
  /* the answer is held until the client has read it: within the body's
   * reservation, or more reserved (an answer a little longer than its body) */
  refusal r = len + 1 > rc->reserved ? reserve(h, rc, len + 1 - rc->reserved) : REFUSED_NONE;
  if (r != REFUSED_NONE)
    ret = reply_refused(conn, r, "/v1/rotate");
  else
    ret = reply(conn, 200, is_json ? "application/json" : "application/yaml", text, len,
                "/v1/rotate");
  doc_wipe_free(text, len);
out:
  json_decref(failed);
  json_decref(doc);
  return ret;
}

/* /health and /ping, on both listeners. 1 when url is one of them. */
static int probe_endpoint(ctl *c, struct MHD_Connection *conn, const char *url, int is_get,
                          enum MHD_Result *ret)
{
  if (strcmp(url, "/health") == 0 || strcmp(url, "/healthz") == 0) {
    if (!is_get)
      *ret = reply_text(conn, 405, "method not allowed\n", "/health");
    else if (atomic_load(&c->ready))
      *ret = reply_text(conn, 200, "ok\n", "/health");
    else
      *ret = reply_text(conn, 503, "not ready: keys or first list not synced yet\n", "/health");
    return 1;
  }
  if (strcmp(url, "/ping") == 0) {
    int64_t age = ctl_now_ms() - atomic_load(&c->last_turn_ms);
    if (!is_get)
      *ret = reply_text(conn, 405, "method not allowed\n", url);
    else if (age <= c->opts->ping_threshold_ms)
      *ret = reply_text(conn, 200, "pong\n", url);
    else
      *ret = reply_text(conn, 503, "the reconcile loop is stuck\n", url);
    return 1;
  }
  return 0;
}

/* The first call for a request (headers in): the context, and for a body
 * path the rate limits and, when the length is announced, the body memory,
 * all before a byte of the body is read. */
static enum MHD_Result request_start(ctl_http *h, struct MHD_Connection *conn, const char *url,
                                     int with_body, void **con_cls)
{
  req_ctx *rc = calloc(1, sizeof(*rc));
  if (rc == NULL)
    return MHD_NO;
  rc->h = h;
  rc->body.max = BODY_MAX;
  rc->body.first = 16384;
  *con_cls = rc;
  headers_complete(h, conn);
  if (!with_body)
    return MHD_YES;
  client_id(h, conn, rc->client, sizeof(rc->client));
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long n = 0;
  if (cl) {
    char *end = NULL;
    n = strtoull(cl, &end, 10);
    if (end != cl && n > BODY_MAX) {
      rc->too_big = 1;
      rc->replied = 1;
      return reply_error(conn, 413, "TooLarge", "request body: over 4 MiB", url);
    }
  }
  rc->refused = admit(h, rc->client);
  if (rc->refused == REFUSED_NONE && n > 0) {
    rc->refused = reserve(h, rc, (size_t)n + 1);
    if (rc->refused == REFUSED_NONE) {
      rc->body.first = (size_t)n + 1; /* the whole announced body in one block */
      if (doc_buf_room(&rc->body, (size_t)n) != DOC_OK)
        return MHD_NO; /* completed() gives the memory back */
    }
  }
  if (rc->refused != REFUSED_NONE) {
    rc->replied = 1;
    return reply_refused(conn, rc->refused, url);
  }
  return MHD_YES;
}

/* A piece of the body: kept within the reservation, grown (and reserved) as
 * chunks arrive when no length was announced; dropped once refused. */
static enum MHD_Result request_data(ctl_http *h, req_ctx *rc, const char *data, size_t size)
{
  if (rc->too_big || rc->refused != REFUSED_NONE)
    return MHD_YES;
  size_t cap = doc_buf_grown(&rc->body, size);
  if (cap == 0) {
    rc->too_big = 1;
    drop_body(rc);
    return MHD_YES;
  }
  if (cap > rc->body.cap) { /* the growth is reserved before it is made */
    rc->refused = reserve(h, rc, cap - rc->body.cap);
    if (rc->refused != REFUSED_NONE) {
      drop_body(rc);
      return MHD_YES;
    }
  }
  return doc_buf_add(&rc->body, data, size) == DOC_OK ? MHD_YES : MHD_NO;
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
  ctl_http *h = cls;
  ctl *c = h->c;
  enum MHD_Result ret;
  (void)version;
  int is_post = strcmp(method, "POST") == 0;
  int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  int body_path = strcmp(url, "/v1/verify") == 0 || strcmp(url, "/v1/rotate") == 0;

  if (*con_cls == NULL)
    return request_start(h, conn, url, is_post && body_path, con_cls);
  req_ctx *rc = *con_cls;
  if (*upload_data_size > 0) {
    size_t size = *upload_data_size;
    *upload_data_size = 0;
    if (rc->replied || !(is_post && body_path))
      return MHD_YES; /* dropped */
    return request_data(h, rc, upload_data, size);
  }
  if (rc->replied)
    return MHD_YES;
  if (rc->too_big)
    return reply_error(conn, 413, "TooLarge", "request body: over 4 MiB", url);
  if (rc->refused != REFUSED_NONE)
    return reply_refused(conn, rc->refused, url);

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
  if (probe_endpoint(c, conn, url, is_get, &ret))
    return ret;
  if (body_path) {
    if (!is_post)
      return reply_text(conn, 405, "method not allowed\n", url);
    ret = strcmp(url, "/v1/verify") == 0 ? do_verify(h, conn, rc) : do_rotate(h, conn, rc);
    /* The answer is queued (a copy): give the body memory back now. completed()
     * runs only after the answer has gone out, so a client's next request
     * could otherwise find its previous body still counted and get a 429. */
    drop_body(rc);
    return ret;
  }
  return reply_text(conn, 404, "not found\n", "other");
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
  ctl_http *h = cls;
  enum MHD_Result ret;
  (void)version;
  (void)upload_data;
  if (*con_cls == NULL)
    return request_start(h, conn, url, 0, con_cls); /* freed by completed() */
  if (*upload_data_size > 0) {
    *upload_data_size = 0; /* ignored */
    return MHD_YES;
  }
  int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (probe_endpoint(h->c, conn, url, is_get, &ret))
    return ret;
  if (strcmp(url, "/metrics") != 0)
    return reply_text(conn, 404, "not found\n", "other");
  if (!is_get)
    return reply_text(conn, 405, "method not allowed\n", url);
  char *text = NULL;
  size_t len = 0;
  if (ctl_metrics_render(&text, &len) != 0)
    return reply_text(conn, 500, "metrics too large\n", url);
  ret = reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, url);
  free(text);
  return ret;
}

/* The request ended: its body memory back, and the connection waits for the
 * next request's headers under a new deadline. */
static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
  ctl_http *h = cls;
  (void)toe;
  conn_slot *s = slot_of(conn);
  if (s != NULL) {
    pthread_mutex_lock(&h->conn_lock);
    s->deadline_ms = ctl_now_ms() + h->c->opts->http_header_timeout_ms;
    pthread_mutex_unlock(&h->conn_lock);
  }
  req_ctx *rc = *con_cls;
  if (rc == NULL)
    return;
  drop_body(rc);
  free(rc);
  *con_cls = NULL;
}

void ctl_mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
    msg[--n] = '\0';
  ctl_log(CTL_LOG_DEBUG, msg, "component", (const char *)cls, NULL);
}

/* "[host]:port", "host:port" or ":port" into a socket address. */
int ctl_parse_listen(struct sockaddr_storage *ss, socklen_t *ss_len, const char *text)
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

/* Why the address cannot be listened on, as bind(2) says it (libmicrohttpd
 * does not keep errno): binds a throwaway socket with the options it uses. */
static const char *bind_reason(const struct sockaddr_storage *ss, socklen_t ss_len)
{
  int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

  if (fd < 0)
    return strerror(errno);
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ss->ss_family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  e = bind(fd, (const struct sockaddr *)ss, ss_len) == 0 ? 0 : errno;
  close(fd);
  if (e == EADDRINUSE)
    return "address already in use (another process listens there)";
  if (e == EACCES)
    return "permission denied (a port below 1024 needs privilege)";
  return e ? strerror(e) : "libmicrohttpd could not start (see its message above)";
}

static int start_daemon(listener *l, const char *listen, MHD_AccessHandlerCallback cb,
                        const char *what)
{
  struct sockaddr_storage ss;
  socklen_t ss_len = 0;
  ctl_http *h = l->h;
  const ctl_options *o = h->c->opts;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

  if (ctl_parse_listen(&ss, &ss_len, listen) != 0) {
    ctl_log(CTL_LOG_ERROR, "invalid listen address", "listen", listen, "what", what, NULL);
    return -1;
  }
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  l->d = MHD_start_daemon(flags, port, NULL, NULL, cb, h, MHD_OPTION_EXTERNAL_LOGGER, ctl_mhd_log,
                          (void *)"http", MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_CONNECTION_LIMIT,
                          (unsigned)o->http_max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                          (unsigned)o->http_max_connections_per_client,
                          MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned)((o->http_timeout_ms + 999) / 1000),
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                          MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION,
                          notify_connection, l, MHD_OPTION_END);
  if (l->d == NULL) {
    ctl_log(CTL_LOG_ERROR, "cannot listen", "listen", listen, "what", what, "flag",
            strcmp(what, "metrics") == 0 ? "--metrics-listen" : "--listen", "reason",
            bind_reason(&ss, ss_len), NULL);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
  char pbuf[16];
  snprintf(pbuf, sizeof(pbuf), "%u", info ? (unsigned)info->port : (unsigned)port);
  ctl_log(CTL_LOG_INFO, "listening", "what", what, "listen", listen, "port", pbuf, NULL);
  return 0;
}

int ctl_http_start(ctl_http **out, ctl *c)
{
  pthread_condattr_t ca;
  ctl_http *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return -1;
  h->c = c;
  h->api.h = h;
  h->metrics.h = h;
  pthread_mutex_init(&h->lock, NULL);
  pthread_mutex_init(&h->conn_lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->wake, &ca);
  pthread_condattr_destroy(&ca);
  h->tokens = c->opts->http_rate_total < 1.0 ? 1.0 : c->opts->http_rate_total;
  h->refilled_ms = ctl_now_ms();
  if (ctl_cidr_parse_list(h->proxies, CTL_MAX_TRUSTED_PROXIES, &h->n_proxies,
                          c->opts->http_trusted_proxies) != 0) {
    ctl_log(CTL_LOG_ERROR, "invalid --http-trusted-proxy", "value", c->opts->http_trusted_proxies,
            NULL);
    goto fail;
  }
  if (ctl_map_new(&h->clients, free) != 0)
    goto fail;
  if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0)
    goto fail;
  h->watchdog_started = 1;
  if (start_daemon(&h->api, c->opts->listen, api_handler, "http") != 0)
    goto fail;
  if (start_daemon(&h->metrics, c->opts->metrics_listen, metrics_handler, "metrics") != 0)
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
  if (h->watchdog_started) {
    pthread_mutex_lock(&h->conn_lock);
    h->stopping = 1;
    /* Cut every open connection now (MHD still owns and closes the
     * descriptors; a slot leaves the list under conn_lock before its socket
     * is closed): a stop must not wait on clients that trickle or idle. */
    listener *ls[2] = {&h->api, &h->metrics};
    for (int i = 0; i < 2; i++)
      for (conn_slot *s = ls[i]->head; s; s = s->next)
        if (s->fd >= 0)
          shutdown(s->fd, SHUT_RDWR);
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->conn_lock);
    pthread_join(h->watchdog, NULL);
  }
  if (h->api.d)
    MHD_stop_daemon(h->api.d);
  if (h->metrics.d)
    MHD_stop_daemon(h->metrics.d);
  ctl_map_free(h->clients);
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->conn_lock);
  pthread_mutex_destroy(&h->lock);
  free(h);
}
