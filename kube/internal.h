#ifndef SEAL_KUBE_INTERNAL_H
#define SEAL_KUBE_INTERNAL_H

/* What the parts of libkube share with each other (and with their tests). */

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "kube.h"

typedef struct kube_exec kube_exec; /* a kubeconfig credential plugin (exec.c) */

struct kube_config {
  char *server;     /* "https://host:port", no trailing '/' */
  char *namespace_; /* never NULL */
  char *context;    /* NULL in cluster */
  int in_cluster;
  int insecure;
  unsigned char *ca; /* PEM, malloc'ed; NULL: the system store */
  size_t ca_len;
  unsigned char *cert; /* client certificate PEM, malloc'ed */
  size_t cert_len;
  unsigned char *key; /* client key PEM, sodium_malloc'ed */
  size_t key_len;
  char *token;      /* sodium_malloc'ed, NUL-terminated; NULL when none */
  char *token_file; /* re-read by the client when it changes */
  kube_exec *exec;  /* users[].user.exec, or NULL; its credential is cached in the client's copy */
};

/* A deep copy; key material stays in sodium_malloc'ed memory. */
int kube_config_dup(kube_config **out, const kube_config *cfg);

/* doc_read_file with kube's statuses (KUBE_ERR_IO, _LIMIT, _NOMEM) and its
 * message. secure: into sodium_malloc'ed memory (free with sodium_free), else
 * malloc. A NUL follows the data. */
int kube_read_file(unsigned char **out, size_t *out_len, const char *path, size_t max, int secure,
                   kube_status *st);

/* Reads a bearer token file: surrounding white space trimmed, into
 * sodium_malloc'ed memory (free with sodium_free); an empty file is an error. */
int kube_read_token(char **out, const char *path, kube_status *st);

void kube_status_set(kube_status *st, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- credential plugins (exec.c) ------------------------------------- */

#define KUBE_EXEC_TIMEOUT_MS 60000
#define KUBE_EXEC_MAX_OUTPUT (1024 * 1024) /* the plugin's stdout */

/* What a plugin returned; reference-counted, so that a transfer keeps the
 * certificate and key it handed to libcurl (CURL_BLOB_NOCOPY) while a newer
 * credential replaces it. Single-threaded, as the client. */
typedef struct kube_cred {
  int refs;
  char *token;         /* sodium_malloc'ed, NUL-terminated, or NULL */
  unsigned char *cert; /* client certificate PEM, malloc'ed, or NULL */
  size_t cert_len;
  unsigned char *key; /* its key PEM, sodium_malloc'ed */
  size_t key_len;
  int has_expiry;
  time_t expires; /* status.expirationTimestamp */
} kube_cred;

void kube_cred_unref(kube_cred *c); /* NULL is fine */

/* users[].user.exec of a kubeconfig: dir is the kubeconfig's folder (for a
 * relative command with a '/'), cluster the context's cluster entry, where
 * names the user in messages. */
int kube_exec_from_config(kube_exec **out, const json_t *exec, const char *dir,
                          const json_t *cluster, const char *where, kube_status *st);
int kube_exec_dup(kube_exec **out, const kube_exec *x); /* without the cached credential */
void kube_exec_free(kube_exec *x);
const char *kube_exec_command(const kube_exec *x);

/* The ExecCredential a plugin printed, checked against the apiVersion asked
 * for; cmd names the plugin in messages (never the token). */
int kube_exec_parse(kube_cred **out, const char *api_version, const char *cmd, const char *text,
                    size_t len, kube_status *st);
/* RFC 3339 ("2026-12-02T14:50:00Z", "...00.5+01:00") to seconds since the epoch. */
int kube_exec_parse_time(const char *s, time_t *out);
/* Runs the plugin once (cfg: the cluster for spec.cluster) and parses its output. */
int kube_exec_run(kube_cred **out, const kube_exec *x, const kube_config *cfg, long timeout_ms,
                  kube_status *st);
/* A new reference to the cached credential, after running the plugin when
 * there is none or it has expired. */
int kube_exec_get(kube_cred **out, kube_exec *x, const kube_config *cfg, kube_status *st);
/* Forgets the cached credential if it is used (a 401 answer to it), so the next get runs the plugin. */
void kube_exec_invalidate(kube_exec *x, const kube_cred *used);

/* ---- what watch.c needs of client.c ------------------------------------ */

typedef struct kube_req kube_req;

/* Streaming data: return 0 to go on, non-zero to abort the transfer. */
typedef int (*kube_stream_fn)(void *ud, const char *data, size_t n);

typedef struct kube_req_spec {
  const char *method;
  const char *path;
  const char *body;
  size_t body_len;
  const char *content_type;
  kube_done_fn done; /* always called once, unless kube_req_cancel() comes first */
  kube_raw_fn raw;   /* instead of done: the answer's bytes, not parsed */
  void *ud;
  kube_stream_fn stream; /* non-NULL: a watch stream, body not kept; done gets body NULL */
  long delay_ms;         /* do not start before this */
  long timeout_ms;       /* 0: the client's; for streams the whole stream */
  int no_retry;
} kube_req_spec;

int kube_req_submit(kube_client *client, const kube_req_spec *spec, kube_req **handle);
/* Removes a request that has not completed yet; its done callback never runs. */
void kube_req_cancel(kube_client *client, kube_req *req);

const kube_client_opts *kube_client_get_opts(const kube_client *client);
void kube_client_log(kube_client *client, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Jittered exponential delay for failure number attempt (1, 2, ...). */
long kube_client_backoff(kube_client *client, int attempt);

#endif
