#ifndef SEAL_CTL_QUEUE_H
#define SEAL_CTL_QUEUE_H

/*
 * The work queue: each key ("namespace/name") is held once. A key that is
 * added while it is being processed is processed again once it is done. Keys
 * that fail are retried with exponential backoff per key until max_retries.
 * Not thread safe: the controller's loop owns it.
 */

#include <stddef.h>
#include <stdint.h>

#define CTL_QUEUE_MAX_KEYS 1000000
#define CTL_QUEUE_KEY_MAX 512

typedef struct ctl_queue ctl_queue;

int ctl_queue_new(ctl_queue **out, long max_retries, int64_t base_delay_ms, int64_t max_delay_ms);
void ctl_queue_free(ctl_queue *q);

/* 0, or -1 when the key is too long or the queue is full. */
int ctl_queue_add(ctl_queue *q, const char *key, int64_t now_ms);
int ctl_queue_add_after(ctl_queue *q, const char *key, int64_t delay_ms, int64_t now_ms);

/* A key whose time has come, marked as being processed; NULL when none. The
 * string stays valid until ctl_queue_done/ctl_queue_retry for it. */
const char *ctl_queue_get(ctl_queue *q, int64_t now_ms);
/* Processing finished: the key leaves the queue unless it was added again. */
void ctl_queue_done(ctl_queue *q, const char *key, int64_t now_ms);
/* Processing failed: done, then back after the key's next backoff. Returns
 * the number of retries so far, or -1 when max_retries is reached (the key is
 * then forgotten and not queued again). */
long ctl_queue_retry(ctl_queue *q, const char *key, int64_t now_ms);
/* Forgets a key's failures (after a success). */
void ctl_queue_forget(ctl_queue *q, const char *key);
long ctl_queue_retries(const ctl_queue *q, const char *key);

/* Keys waiting (ready and delayed), not those being processed. */
size_t ctl_queue_len(const ctl_queue *q);
size_t ctl_queue_processing(const ctl_queue *q);
/* Milliseconds until the next delayed key is due (0: one is ready), -1 if none. */
int64_t ctl_queue_next_due(const ctl_queue *q, int64_t now_ms);

#endif
