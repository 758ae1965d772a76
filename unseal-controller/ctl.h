#ifndef SEAL_CTL_H
#define SEAL_CTL_H

/*
 * The controller's parts and what they share. One thread (the loop) owns the
 * kube client, the caches, the queue and the leader state; the HTTP threads
 * read only the keyring (under its rwlock) and the atomic flags.
 *
 * Calls go down only: controller.c (the loop) drives the parts; the parts
 * call services.c and the files below (map, queue, metrics, log), never back
 * up into controller.c nor sideways into reconcile.c: what reconcile must
 * hear of (keys changed, leadership won) they report in struct ctl's flags,
 * which the loop acts on.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "keys.h"
#include "kube.h"
#include "manifest.h"
#include "map.h"
#include "options.h"
#include "queue.h"

#define CTL_DIGEST_BYTES 32
#define CTL_UID_MAX 64
#define CTL_RV_MAX 32
#define CTL_KEY_MAX 512 /* "namespace/name" */

typedef struct ctl ctl;

/* ---- key manager (keymgr.c) --------------------------------------------- */

typedef struct ctl_keymgr {
  pthread_rwlock_t lock; /* guards ring and cert */
  keys_keyring *ring;
  char cert[KEYS_ARMOR_MAX]; /* newest active public key, armored; "" when none */
  uint8_t newest_id[KEYS_ID_BYTES];
  int have_newest;
  /* loop thread only */
  ctl_map *names; /* key Secret name -> what it holds; a key stays while any holds it */
  int generating; /* a first key is being created */
  int cm_dirty;   /* the ConfigMap may need writing */
  int cm_in_flight;
  long generation; /* bumps whenever the keyring changes */
  /* key lifecycle (loop thread only) */
  long seen_generation;      /* the generation SealedSecrets were last re-queued for */
  int64_t next_renew_try_ms; /* after a failed renewal */
  int64_t next_backup_check_ms;
  int64_t next_usage_ms; /* next count of SealedSecrets by key */
} ctl_keymgr;

int ctl_keymgr_init(ctl_keymgr *km);
void ctl_keymgr_destroy(ctl_keymgr *km);
/* Key Secret watch events (loop thread). Returns 1 when the keyring changed. */
int ctl_keymgr_on_secret(ctl *c, kube_event_type type, json_t *obj);
/* Housekeeping each loop turn: first key, ConfigMap (leader only). */
void ctl_keymgr_tick(ctl *c);
/* Generates a key and creates its Secret; the hook key renewal builds on. */
int ctl_keymgr_add_new_key(ctl *c);
size_t ctl_keymgr_count(ctl_keymgr *km);
/* The SIGUSR1 handler: asks for a new key (sets a flag; the loop renews). */
void ctl_keymgr_signal_renew(int sig);

/* ---- leader election (leader.c) ----------------------------------------- */

typedef struct ctl_leader {
  int enabled;
  int is_leader;
  int in_flight;
  int released;
  int64_t next_try_ms;
  int64_t last_renew_ms; /* last successful acquire or renew */
  char observed_rv[CTL_RV_MAX];
  char observed_holder[256];
  int64_t observed_ms; /* when observed_rv last changed */
  long transitions;
  char identity[256];
} ctl_leader;

void ctl_leader_init(ctl *c);
void ctl_leader_tick(ctl *c);
/* Gives the Lease up (shutdown); runs the loop until done or deadline. */
void ctl_leader_release(ctl *c, int64_t deadline_ms);

/* ---- reconcile (reconcile.c) -------------------------------------------- */

/* What is kept of each SealedSecret: a parsed record (memory does not grow
 * with the size of objects: at most CTL_CACHE_TEXT_MAX of text each;
 * reconcile reads a larger object when it needs it): identity, a digest of
 * everything but status, the key ids its values use, and a summary of its
 * status (enough to tell whether a new status differs). */
#define CTL_STATUS_DIGEST_BYTES 16
/* The ceiling per SealedSecret: encryptedData and template.data values of at
 * most this many bytes in all (the API server stores objects of up to about
 * 1.5 MiB); larger ones are reported Synced=False reason TooLarge, never
 * unsealed. */
#define CTL_MAX_SEALED_BYTES (2 * 1024 * 1024)
/* Bytes of SealedSecrets that reconciles in flight may hold at once (one
 * more may start while under it): at most 8 MiB + CTL_MAX_SEALED_BYTES of
 * object text in reconcile at any time (each byte costs about 6 while in
 * flight: the answer, its parse, the plaintext, the Secret and its request). */
#define CTL_RECONCILE_BUDGET_BYTES (8 * 1024 * 1024)
/* List pages and other answers of the API server: the controller asks for
 * fewer objects per page rather than read a larger answer. */
#define CTL_MAX_RESPONSE_BYTES (16 * 1024 * 1024)
#define CTL_SEALED_IDS_MAX 16 /* distinct key ids kept per SealedSecret */
/* A SealedSecret whose stripped text is at most this long keeps it, so that a
 * resync or a restart over small up-to-date objects reads nothing; a larger
 * one is read (GET) when it is reconciled. */
#define CTL_CACHE_TEXT_MAX (8 * 1024)
typedef struct ctl_sealed {
  char *json; /* its stripped JSON text when at most CTL_CACHE_TEXT_MAX, else NULL */
  size_t json_len;
  char uid[CTL_UID_MAX];
  char rv[CTL_RV_MAX];
  uint8_t spec_digest[CTL_DIGEST_BYTES]; /* all but status and server-set fields */
  size_t size;                           /* bytes of its values and template data */
  uint8_t n_ids;
  uint8_t ids[CTL_SEALED_IDS_MAX][KEYS_ID_BYTES]; /* key ids its values are sealed for */
  uint8_t status_digest[CTL_STATUS_DIGEST_BYTES]; /* status without lastTransitionTime */
  int has_status;
  char synced; /* 'T', 'F', 'U' or 0: the Synced condition's status */
  char key_current;
  char synced_reason[24];
  int64_t synced_ltt; /* lastTransitionTime, seconds since the epoch */
  int64_t key_current_ltt;
  int64_t observed_generation;
  int secret_deleted; /* its Secret was deleted: check the owner still exists first */
  /* digest of the Secret reconcile last wanted: a watch event showing exactly
   * that Secret (our own write coming back) needs no reconcile */
  uint8_t secret_digest[CTL_DIGEST_BYTES];
  int has_secret_digest;
  /* repairs: writes that put back a Secret another writer changed or deleted
   * while the desired Secret stayed the same (a fight past CTL_FIGHT_REPAIRS) */
  uint32_t repairs;       /* in the current streak */
  int64_t last_repair_ms; /* monotonic */
} ctl_sealed;

/* A fight with another writer: from the CTL_FIGHT_REPAIRS-th repair in a row
 * (each within CTL_FIGHT_WINDOW_MS of the last one's backoff), Synced=False
 * reason ConflictingWriter, and each further repair waits 1 s, 2 s, 4 s...
 * up to CTL_FIGHT_MAX_DELAY_MS after the previous one. The streak ends when
 * the Secret stays as wanted for CTL_FIGHT_WINDOW_MS. */
#define CTL_FIGHT_REPAIRS 3
#define CTL_FIGHT_WINDOW_MS 10000
#define CTL_FIGHT_MAX_DELAY_MS 300000
/* How long after the last repair the next one may be written (0: at once). */
int64_t ctl_fight_delay_ms(uint32_t repairs);

/* What is kept of each owned Secret: no data, only a digest of what we manage. */
#define CTL_OWNED_RV_MAX 24  /* longer versions are kept as "" (unknown): always safe */
#define CTL_OWNED_UID_MAX 40 /* a longer owner uid never matches: the live Secret is read */
typedef struct ctl_owned {
  char rv[CTL_OWNED_RV_MAX];
  char owner_uid[CTL_OWNED_UID_MAX]; /* uid of the controller ownerReference, "" when none */
  uint8_t digest[CTL_DIGEST_BYTES];
  int immutable;
  int managed; /* seal.dev/managed: "true" */
  /* a live version found equivalent to a desired digest (manifest_secret_matches) */
  char equal_rv[CTL_OWNED_RV_MAX];
  uint8_t equal_digest[CTL_DIGEST_BYTES];
} ctl_owned;

void ctl_sealed_free(void *p);
void ctl_owned_free(void *p);
void ctl_reconcile_on_sealed(ctl *c, kube_event_type type, json_t *obj);
void ctl_reconcile_on_secret(ctl *c, kube_event_type type, json_t *obj);
/* Starts as many queued reconciles as allowed (loop thread, leader only). */
void ctl_reconcile_pump(ctl *c);
void ctl_reconcile_enqueue_all(ctl *c);
/* Digest of the fields of a Secret the controller manages. */
int ctl_secret_digest(uint8_t out[CTL_DIGEST_BYTES], const json_t *secret);
/* Fills owned from a live Secret. */
void ctl_owned_from_secret(ctl_owned *o, const json_t *secret);

/* ---- HTTP (http.c) ------------------------------------------------------ */

typedef struct ctl_http ctl_http;
int ctl_http_start(ctl_http **out, ctl *c);
void ctl_http_stop(ctl_http *h);
/* libmicrohttpd's messages as debug log lines; cls: the component's name. */
void ctl_mhd_log(void *cls, const char *fmt, va_list ap);
/* "[host]:port", "host:port" or ":port" into a socket address. 0 or -1. */
int ctl_parse_listen(struct sockaddr_storage *ss, socklen_t *ss_len, const char *text);

/* ---- checks shared by /v1/verify, /v1/rotate and /v1/admit (check.c) ---- */

/* Checks every value of doc as unsealing would (scope label from its own
 * metadata, every stanza, the commitment), then the document itself (scope,
 * template type, limits; nothing rendered). Appends {key, reason, message}
 * to failed for each failure; *n_values counts the values. 0, or -1 when out
 * of memory. Any thread (takes the keyring's read lock). */
int ctl_check_sealed(ctl *c, const json_t *doc, json_t *failed, size_t *n_values);

/* ---- the validating admission webhook (admission.c) --------------------- */

typedef struct ctl_admission ctl_admission;
/* Starts the HTTPS listener of --admission-listen (nothing when unset). */
int ctl_admission_start(ctl_admission **out, ctl *c);
/* Loop thread: publishes the CA into the webhook configuration's caBundle,
 * reloads --admission-cert/--admission-key when they change. */
void ctl_admission_tick(ctl *c);
void ctl_admission_stop(ctl_admission *a);
/* The AdmissionReview answer for a review (the body of a POST /v1/admit):
 * allowed, or refused with a status message; NULL when the review is not one
 * (*err says why). Never renders a template, never holds plaintext past a
 * value's check. Counts the outcome in the metrics. */
json_t *ctl_admission_review(ctl *c, const json_t *review, char *err, size_t err_size);

/* ---- the controller (controller.c) -------------------------------------- */

#define CTL_MAX_WATCHES (2 * CTL_MAX_NAMESPACES + 1)

struct ctl {
  const ctl_options *opts;
  kube_config *cfg;
  kube_client *client;
  /* Where ctl_request sends: NULL is kube_request on client; the reconcile
   * unit test (tests/controller/test_reconcile.c) puts a fake API server here. */
  int (*send)(ctl *c, const char *method, const char *path, const char *body, size_t body_len,
              kube_done_fn cb, void *ud);
  ctl_queue *queue;
  ctl_keymgr keys;
  ctl_leader leader;
  ctl_http *http;
  ctl_admission *admission;
  ctl_map *sealed; /* ns/name -> ctl_sealed */
  ctl_map *owned;  /* ns/name -> ctl_owned */
  kube_watch *w_keys;
  kube_watch *w_sealed[CTL_MAX_NAMESPACES];
  kube_watch *w_owned[CTL_MAX_NAMESPACES];
  size_t n_watch;
  char key_namespace[256];
  long ops_in_flight;     /* reconciles started and not finished */
  size_t bytes_in_flight; /* their SealedSecrets' sizes (CTL_RECONCILE_BUDGET_BYTES) */
  long max_ops;
  long work_since_trim; /* reconciles since the last malloc_trim */
  int64_t last_trim_ms;
  int64_t conditions_published_ms; /* last count of conditions for /metrics */
  int was_ready;
  /* What the parts report to the loop (loop thread): the keyring changed
   * (keymgr.c), this replica became the leader (leader.c). The loop clears
   * them each turn and, once ready, re-queues every SealedSecret. */
  int keys_changed;
  int became_leader;
  atomic_int ready; /* keys loaded and first lists synced */
  atomic_int stopping;
  atomic_llong last_turn_ms;
};

/* Runs the controller until SIGTERM/SIGINT or ctl_request_stop. */
int ctl_run(const ctl_options *opts);
void ctl_request_stop(void);

/* ---- shared services (services.c): below every part, calls none --------- */

int64_t ctl_now_ms(void); /* monotonic */
int64_t ctl_now_us(void); /* monotonic, microseconds */
int64_t ctl_wall_s(void); /* seconds since the epoch */
int ctl_is_leader(const ctl *c);
/* kube_request (or c->send) with metrics by verb and code. */
int ctl_request(ctl *c, const char *verb, const char *method, const char *path, json_t *body,
                kube_done_fn cb, void *ud);
/* The verb ("get", "list", "watch", "create", "update", "patch", "delete",
 * "deletecollection") and resource ("secrets", "sealedsecrets/status") of a
 * request to the API, for metrics. */
void ctl_api_verb_resource(const char *method, const char *path, char *verb, size_t verb_size,
                           char *resource, size_t resource_size);
/* The object's "namespace/name" into out; -1 when missing. */
int ctl_object_key(char *out, size_t out_size, const json_t *obj);

#endif
