#ifndef SEAL_KUBE_INTERNAL_H
#define SEAL_KUBE_INTERNAL_H

/* What the parts of libkube share with each other (and with their tests). */

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "kube.h"

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
  kube_done_fn done;  /* always called once, unless kube_req_cancel() comes first */
  kube_raw_fn raw;    /* instead of done: the answer's bytes, not parsed */
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
