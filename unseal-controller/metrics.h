#ifndef SEAL_CTL_METRICS_H
#define SEAL_CTL_METRICS_H

/* Prometheus metrics of the controller. Thread safe. */

#include <stddef.h>

int ctl_metrics_init(void);
void ctl_metrics_unseal_ok(void);
/* reason: "Malformed", "NoKey", ... (a fixed vocabulary, never user text) */
void ctl_metrics_unseal_error(const char *reason);
void ctl_metrics_reconcile_seconds(double seconds);
void ctl_metrics_queue_depth(long depth);
void ctl_metrics_keys(long active, long compromised);
void ctl_metrics_watch_restart(const char *resource);
void ctl_metrics_api_request(const char *verb, int code);
void ctl_metrics_http_request(const char *path, int code);
void ctl_metrics_leader(int is_leader);
void ctl_metrics_keys_not_backed_up(long n);
void ctl_metrics_sealed_secrets(long n);
/* SealedSecrets by the key ids (16 hex digits) their values use; replaces the last set. */
void ctl_metrics_sealed_by_key(const char (*ids)[17], const long *counts, size_t n);

/* The text exposition format into a malloc'ed, NUL-terminated buffer. */
int ctl_metrics_render(char **out, size_t *out_len);

#endif
