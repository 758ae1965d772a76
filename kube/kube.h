#ifndef SEAL_KUBE_H
#define SEAL_KUBE_H

/*
 * kube: a small Kubernetes API client (docs/design.md, "Talking to
 * Kubernetes").
 *
 *   kube_config   where the API server is and how to authenticate: a
 *                 kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) or
 *                 the in-cluster service account.
 *   kube_client   one libcurl multi handle: asynchronous requests with a
 *                 bounded number in flight, a client-side token-bucket rate
 *                 limit, retries of 429/5xx/connection errors with jittered
 *                 exponential backoff honouring Retry-After, HTTP/2 where the
 *                 server offers it, connection reuse.
 *   kube_watch    list-then-watch ("informer") of one resource.
 *
 * The library never prints and never exits. Functions return KUBE_OK (0) or a
 * negative kube_result, and fill a kube_status (may be NULL) with a message
 * that names the request or file and the reason, never a token or key.
 * Messages of interest while running go to the client's log callback.
 *
 * Threads: a client and its watches belong to the thread that calls
 * kube_client_run(); only kube_client_wakeup() may be called from another
 * thread. Call doc_init() once before anything here (kubeconfig files are
 * read with doc_parse, and it sets jansson's wiping allocators).
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "doc.h"

#define KUBE_DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_MAX_PATH 4096                           /* path with query */
#define KUBE_DEFAULT_MAX_RESPONSE (64 * 1024 * 1024) /* list responses */
#define KUBE_DEFAULT_MAX_EVENT (8 * 1024 * 1024)     /* one watch event line */

typedef enum kube_result {
  KUBE_OK = 0,
  KUBE_ERR_NOMEM = -1,
  KUBE_ERR_INVALID = -2,   /* bad argument (path too long, unknown method, ...) */
  KUBE_ERR_CONFIG = -3,    /* kubeconfig or in-cluster setup unusable */
  KUBE_ERR_IO = -4,        /* a file could not be read */
  KUBE_ERR_TRANSPORT = -5, /* connection, TLS or timeout, after the retries */
  KUBE_ERR_HTTP = -6,      /* the server answered with a non-2xx code */
  KUBE_ERR_PROTOCOL = -7,  /* the answer is not what the API promises (not JSON, bad event) */
  KUBE_ERR_LIMIT = -8,     /* a response or a watch event over its maximum */
  KUBE_ERR_CANCELLED = -9, /* the client was freed before the request completed */
} kube_result;

/* Outcome of a request, or the error of any other call. */
typedef struct kube_status {
  int err;            /* KUBE_OK or a kube_result */
  long http_code;     /* the HTTP code, 0 when there was no answer */
  long code;          /* Status.code from the server's body, else http_code */
  char reason[64];    /* Status.reason ("Conflict", "NotFound", "AlreadyExists", ...) or "" */
  char message[1024]; /* Status.message, or what went wrong on our side */
} kube_status;

const char *kube_strerror(int err);

/* 1 when t[0..len) may be sent as a bearer token: at least one character,
 * visible ASCII only, so that no line break or control character in a file,
 * kubeconfig, plugin answer or command line can add a header of its own. */
int kube_token_ok(const char *t, size_t len);

/* ---- configuration ------------------------------------------------------ */

typedef struct kube_config kube_config; /* opaque; holds key material in sodium_malloc'ed memory */

typedef enum kube_config_source {
  KUBE_CONFIG_AUTO = 0,  /* kubeconfig path, else $KUBECONFIG, else ~/.kube/config;
                             in-cluster when none of these exists and
                             KUBERNETES_SERVICE_HOST is set */
  KUBE_CONFIG_FILES = 1, /* kubeconfig only, never in-cluster */
  KUBE_CONFIG_IN_CLUSTER = 2,
} kube_config_source;

/*
 * kubectl's connection flags, applied on top of the kubeconfig's context as
 * kubectl applies them (NULL or 0: not given):
 *   cluster   another cluster entry of the kubeconfig than the context's
 *   user      another user entry than the context's
 *   server    replaces the cluster's server ("https://host:port" or http://);
 *             with a server, no kubeconfig is needed at all (nor a context)
 *   token     a bearer token that replaces the user's credentials (token,
 *             tokenFile, client certificate and key)
 *   certificate_authority  a CA file (PEM) that replaces the cluster's CA
 *             and its insecure-skip-tls-verify
 *   insecure_skip_tls_verify  1: no TLS check; drops the cluster's CA
 * Empty strings count as not given. certificate_authority together with
 * insecure_skip_tls_verify is refused (KUBE_ERR_INVALID), as kubectl refuses
 * it. An override that names a kubeconfig entry (cluster, user) needs a
 * kubeconfig; the others also apply in cluster. Messages name the overrides
 * by kubectl's flags (--cluster, --server, ...) and never quote the token.
 */
typedef struct kube_config_overrides {
  const char *cluster;
  const char *user;
  const char *server;
  const char *token;
  const char *certificate_authority;
  int insecure_skip_tls_verify;
} kube_config_overrides;

typedef struct kube_config_opts {
  kube_config_source source;
  const char *kubeconfig; /* --kubeconfig; NULL: $KUBECONFIG, then ~/.kube/config */
  const char *context;    /* --context; NULL: the current-context */
  const char *sa_dir;     /* in-cluster service-account folder; NULL: KUBE_DEFAULT_SA_DIR */
  kube_config_overrides overrides;
} kube_config_opts;

/*
 * Loads a configuration. $KUBECONFIG may list several files joined by ':';
 * they are merged as kubectl does (missing files skipped, the first file to
 * set a cluster, context or user name or current-context wins). Relative file
 * paths in a kubeconfig are relative to that file's folder. Understood: the
 * context's cluster, user and namespace; cluster server,
 * certificate-authority(-data), insecure-skip-tls-verify; user token,
 * tokenFile, client-certificate(-data), client-key(-data), exec (a credential
 * plugin, run by the client when it first needs a credential: kube/exec.c).
 * *-data fields are base64. In cluster: token, ca.crt and namespace from sa_dir, server
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 bracketed).
 * opts->overrides apply on top (see kube_config_overrides). opts may be NULL
 * (AUTO, current context, no overrides).
 */
int kube_config_load(kube_config **out, const kube_config_opts *opts, kube_status *st);
void kube_config_free(kube_config *cfg);

const char *kube_config_server(const kube_config *cfg);    /* "https://host:port" */
const char *kube_config_namespace(const kube_config *cfg); /* the context's, else "default" */
const char *kube_config_context(const kube_config *cfg);   /* NULL in cluster or without one */
int kube_config_in_cluster(const kube_config *cfg);        /* 1 when from the service account */
int kube_config_insecure(const kube_config *cfg); /* 1: insecure-skip-tls-verify (no TLS check) */

/* ---- client ------------------------------------------------------------- */

enum {
  KUBE_LOG_ERROR = 0,
  KUBE_LOG_WARN = 1,
  KUBE_LOG_INFO = 2,
  KUBE_LOG_DEBUG = 3,
};

typedef void (*kube_log_fn)(void *ud, int level, const char *msg);

/* One attempt of an ordinary request (not a watch stream) has ended: method,
 * path with query, the HTTP code (0 when no answer came) and the seconds the
 * attempt took. Retries are attempts of their own. */
typedef void (*kube_observe_fn)(void *ud, const char *method, const char *path, long http_code,
                                double seconds);

typedef struct kube_client_opts {
  int max_in_flight;         /* requests at once, watch streams not counted; default 32 */
  double qps;                /* token bucket refill per second; <= 0 means no limit; default 50 */
  int burst;                 /* bucket size; default 100 */
  long timeout_ms;           /* per request attempt (not watch streams); default 30000 */
  int max_retries;           /* retries after the first attempt; default 5 */
  int retry_writes;          /* 0: POST, PUT, PATCH and DELETE are attempted once (a caller
                                that retries them itself, such as the controller's work
                                queue, owns their retries: no nested retries); default 1 */
  long backoff_base_ms;      /* first retry delay before jitter; default 200 */
  long backoff_max_ms;       /* largest backoff delay; default 30000 (a Retry-After
                                answer is honoured up to 60 s) */
  size_t max_response_bytes; /* default KUBE_DEFAULT_MAX_RESPONSE */
  size_t max_event_bytes;    /* one watch event line; default KUBE_DEFAULT_MAX_EVENT */
  long watch_timeout_s;      /* timeoutSeconds of each watch request; default 300 */
  int list_limit;            /* page size of watch lists (a page over max_response_bytes is
                                asked again with a quarter as many objects); default 500 */
  const char *user_agent;    /* default "seal/<version>" */
  kube_log_fn log;           /* may be NULL */
  void *log_ud;
  kube_observe_fn observe; /* may be NULL; called from kube_client_run() */
  void *observe_ud;
} kube_client_opts;

/* Fills opts with the defaults above; change fields afterwards. */
void kube_client_opts_init(kube_client_opts *opts);

typedef struct kube_client kube_client;

/* cfg is copied (the client does not keep a pointer to it). opts may be NULL. */
int kube_client_new(kube_client **out, const kube_config *cfg, const kube_client_opts *opts,
                    kube_status *st);
/* Pending requests complete with KUBE_ERR_CANCELLED (their callbacks run
 * here); watches must be freed before their client. Not from inside one of
 * the client's callbacks. NULL is fine. */
void kube_client_free(kube_client *client);

/*
 * Called once per request, from kube_client_run(). http_code is 0 when no
 * answer came. body is the parsed JSON answer (NULL when empty or not JSON),
 * borrowed: json_incref() it to keep it. st->err is KUBE_OK for a 2xx answer,
 * KUBE_ERR_HTTP with the server's Status (code, reason, message) otherwise, or
 * a transport/limit/protocol error with a message.
 */
typedef void (*kube_done_fn)(void *ud, long http_code, json_t *body, const kube_status *st);

/*
 * Queues a request. method: GET, POST, PUT, PATCH or DELETE. path_with_query
 * starts with '/' (see kube_path). body may be NULL; it is copied, and the
 * copy is wiped after the transfer (request bodies carry Secrets).
 * content_type NULL means "application/json" when there is a body.
 * Returns KUBE_OK, or an error without calling cb.
 */
int kube_request(kube_client *client, const char *method, const char *path_with_query,
                 const char *body, size_t body_len, const char *content_type, kube_done_fn cb,
                 void *ud);

/*
 * Blocking convenience for the command line: runs the client until this
 * request completes (other requests and watches of the client progress too).
 * Not from inside a callback of the same client.
 * *body_out (may be NULL) receives an owned reference to the answer's JSON
 * (also for non-2xx answers) or NULL. Returns st->err.
 */
int kube_request_sync(kube_client *client, const char *method, const char *path_with_query,
                      const char *body, size_t body_len, const char *content_type, long *http_code,
                      json_t **body_out, kube_status *st);

/*
 * The same for answers that are not JSON (a PEM through the service proxy):
 * the callback gets the answer's bytes (data[len] is a NUL; borrowed, wiped
 * after the callback). A 2xx answer is KUBE_OK whatever its bytes; a non-2xx
 * one is KUBE_ERR_HTTP with the Status parsed when it is one. Sent with
 * "Accept: * / *" (without the spaces).
 */
typedef void (*kube_raw_fn)(void *ud, long http_code, const char *data, size_t len,
                            const kube_status *st);
int kube_request_raw(kube_client *client, const char *method, const char *path_with_query,
                     const char *body, size_t body_len, const char *content_type, kube_raw_fn cb,
                     void *ud);
/* Blocking: *out (malloc'ed, NUL-terminated, for any answer; may be NULL with
 * out_len NULL) is released with doc_wipe_free(). Returns st->err. */
int kube_request_sync_raw(kube_client *client, const char *method, const char *path_with_query,
                          const char *body, size_t body_len, const char *content_type,
                          long *http_code, char **out, size_t *out_len, kube_status *st);

/*
 * Drives all requests and watches: starts queued requests, moves transfers,
 * runs callbacks. Waits at most timeout_ms; returns early once a poll cycle
 * has run at least one callback or kube_client_wakeup() was called. Returns
 * the number of callbacks run (>= 0) or a negative kube_result.
 */
int kube_client_run(kube_client *client, long timeout_ms);

/* Interrupts a kube_client_run() wait. Safe from any thread and from signal-free contexts. */
void kube_client_wakeup(kube_client *client);

/* Requests queued or in flight (watch streams included). */
size_t kube_client_pending(const kube_client *client);

/* Counters since the client was made, for metrics. */
typedef struct kube_client_stats {
  uint64_t attempts;    /* transfers started, retries and watch streams included */
  uint64_t retries;     /* attempts that were retries of 429, 5xx or connection errors */
  uint64_t failures;    /* requests that completed with an error (non-2xx included) */
  uint64_t connections; /* connections opened: far fewer than attempts when they are reused */
} kube_client_stats;
void kube_client_get_stats(const kube_client *client, kube_client_stats *out);

/* ---- paths -------------------------------------------------------------- */

/*
 * Builds "/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]" for group_version "v1",
 * "/apis/GROUP/VERSION/..." for "group/version". namespace, name, subresource
 * may be NULL; segments are percent-escaped. Returns KUBE_ERR_INVALID when a
 * segment is empty, contains '/' or the result does not fit.
 */
int kube_path(char *buf, size_t size, const char *group_version, const char *plural,
              const char *namespace_, const char *name, const char *subresource);

/* Appends "?key=value" or "&key=value" to a NUL-terminated path in buf, the
 * value percent-escaped (label selectors: "a=b,c in (d)"). */
int kube_query_add(char *buf, size_t size, const char *key, const char *value);

/* ---- list and watch ----------------------------------------------------- */

typedef enum kube_event_type {
  KUBE_EVENT_ADDED = 1,
  KUBE_EVENT_MODIFIED = 2,
  KUBE_EVENT_DELETED = 3,
} kube_event_type;

typedef struct kube_watch_handlers {
  /* obj is borrowed; json_incref() it to keep it. For a DELETED found by a
   * re-list the object holds only apiVersion, kind and metadata (namespace,
   * name, resourceVersion). */
  void (*on_event)(void *ud, kube_event_type type, json_t *obj);
  /* after the first complete list (every ADDED of it delivered); may be NULL */
  void (*on_synced)(void *ud);
  /* whenever the watch lists again or re-opens its stream; reason is one of
   * "expired" (410 Gone), "closed" (stream ended, e.g. timeoutSeconds),
   * "broken" (transport error), "error" (error answer or ERROR event),
   * "oversized" (event over max_event_bytes), "malformed" (bad event);
   * may be NULL */
  void (*on_restart)(void *ud, const char *reason);
} kube_watch_handlers;

typedef struct kube_watch kube_watch;

/*
 * Starts a list-then-watch of plural in group_version, in namespace_ or all
 * namespaces (NULL), optionally filtered by label_selector. The list is paged
 * (limit, continue); the watch asks for bookmarks and resumes from the last
 * resourceVersion seen; on 410 Gone it lists again and reports, against the
 * keys it knows (namespace/name -> resourceVersion; objects are never kept),
 * DELETED for objects gone in the gap, ADDED for new ones and MODIFIED for
 * ones whose resourceVersion changed. Stream events are reported against the
 * same keys: ADDED for a new key, MODIFIED for a known one, an exact replay
 * (same resourceVersion) or a DELETED of an unknown key not at all.
 * Objects always carry apiVersion and kind. Failures back off exponentially.
 * handlers is copied. Events are delivered from kube_client_run().
 */
int kube_watch_new(kube_watch **out, kube_client *client, const char *group_version,
                   const char *plural, const char *namespace_, const char *label_selector,
                   const kube_watch_handlers *handlers, void *ud, kube_status *st);
/* Stops the watch; no handler runs afterwards. May be called from its own handlers. NULL is fine. */
void kube_watch_free(kube_watch *watch);

int kube_watch_synced(const kube_watch *watch);               /* 1 after the first full list */
const char *kube_watch_resource_version(const kube_watch *w); /* last one seen, "" before */
size_t kube_watch_known(const kube_watch *watch);             /* objects known right now */

#endif
