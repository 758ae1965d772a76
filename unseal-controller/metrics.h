#ifndef SEAL_CTL_METRICS_H
#define SEAL_CTL_METRICS_H

/* Prometheus metrics of the controller, and the process_* families of a
 * Prometheus client library (read from /proc at each render). Thread safe. */

#include <stddef.h>

int ctl_metrics_init(void);
void ctl_metrics_unseal_ok(void);
/* reason: "Malformed", "NoKey", ... (a fixed vocabulary, never user text) */
void ctl_metrics_unseal_error(const char *reason);
/* One AdmissionReview answered: outcome "allowed", "refused" (reason: the
 * refusal's, a fixed vocabulary), "unchanged", "overflow", "notready" or
 * "invalid" (reason ""). */
void ctl_metrics_admission(const char *outcome, const char *reason);
/* A Secret written back after another writer changed it (reconcile). */
void ctl_metrics_secret_repair(void);
void ctl_metrics_reconcile_seconds(double seconds);
void ctl_metrics_queue_depth(long depth);
void ctl_metrics_keys(long active, long compromised);
void ctl_metrics_watch_restart(const char *resource);
void ctl_metrics_api_request(const char *verb, int code);
/* One Kubernetes API request attempt (answered or not: code 0) and how long
 * it took; verb and resource come from a fixed vocabulary ("list",
 * "sealedsecrets/status"), never from object names. */
void ctl_metrics_api_duration(const char *verb, const char *resource, int code, double seconds);
void ctl_metrics_http_request(const char *path, int code);
void ctl_metrics_leader(int is_leader);
void ctl_metrics_keys_not_backed_up(long n);
void ctl_metrics_sealed_secrets(long n);
/* SealedSecrets by the key ids (16 hex digits) their values use, with whether
 * each key is compromised (compromised may be NULL: none); replaces the last set. */
void ctl_metrics_sealed_by_key(const char (*ids)[17], const long *counts, const int *compromised,
                               size_t n);

/*
 * The conditions of every SealedSecret, published as a whole set. Each
 * (condition, status) pair is counted exactly in seal_sealedsecrets_conditions;
 * one seal_sealedsecret_condition_info series per object is kept only for
 * conditions that are not True, and at most CTL_METRICS_MAX_CONDITION_SERIES
 * of them (the rest are counted in seal_sealedsecret_condition_info_omitted):
 * a scrape stays small with 50k healthy objects and still names the broken ones.
 */
#define CTL_METRICS_MAX_CONDITION_SERIES 1000
typedef enum ctl_metrics_condition {
  CTL_COND_SYNCED = 0,
  CTL_COND_KEY_CURRENT = 1,
} ctl_metrics_condition;
typedef struct ctl_metrics_conditions ctl_metrics_conditions;
ctl_metrics_conditions *ctl_metrics_conditions_new(void); /* NULL: out of memory */
/* key: "namespace/name"; status: 'T', 'F' or 'U'; reason may be NULL. Returns 0,
 * or -1 when out of memory (the set then stays as it was, incomplete). */
int ctl_metrics_conditions_add(ctl_metrics_conditions *set, const char *key,
                               ctl_metrics_condition condition, char status, const char *reason);
/* Replaces the published set with this one and takes it (NULL is fine). */
void ctl_metrics_conditions_publish(ctl_metrics_conditions *set);
void ctl_metrics_conditions_free(ctl_metrics_conditions *set);

/* The text exposition format into a malloc'ed, NUL-terminated buffer. */
int ctl_metrics_render(char **out, size_t *out_len);

#endif
