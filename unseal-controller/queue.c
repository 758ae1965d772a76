#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "queue.h"

#include "banned.h"

enum { ST_IDLE, ST_READY, ST_DELAYED, ST_PROCESSING };

typedef struct entry {
  struct entry *rnext; /* ready FIFO */
  int64_t due;         /* ST_DELAYED */
  size_t heap_index;   /* ST_DELAYED */
  long retries;
  int state;
  int dirty; /* added again while processing */
  int64_t dirty_due;
  char key[];
} entry;

struct ctl_queue {
  ctl_map *entries; /* key -> entry */
  entry *ready_head;
  entry *ready_tail;
  size_t n_ready;
  entry **heap;
  size_t n_heap;
  size_t heap_cap;
  size_t n_processing;
  long max_retries;
  int64_t base_delay_ms;
  int64_t max_delay_ms;
};

int ctl_queue_new(ctl_queue **out, long max_retries, int64_t base_delay_ms, int64_t max_delay_ms)
{
  ctl_queue *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return -1;
  if (ctl_map_new(&q->entries, free) != 0) {
    free(q);
    return -1;
  }
  q->max_retries = max_retries;
  q->base_delay_ms = base_delay_ms > 0 ? base_delay_ms : 1;
  q->max_delay_ms = max_delay_ms > q->base_delay_ms ? max_delay_ms : q->base_delay_ms;
  *out = q;
  return 0;
}

void ctl_queue_free(ctl_queue *q)
{
  if (q == NULL)
    return;
  ctl_map_free(q->entries);
  free(q->heap);
  free(q);
}

static entry *find(const ctl_queue *q, const char *key)
{
  return ctl_map_get(q->entries, key);
}

static entry *find_or_create(ctl_queue *q, const char *key)
{
  entry *e = find(q, key);
  if (e)
    return e;
  size_t len = strlen(key);
  if (len >= CTL_QUEUE_KEY_MAX || ctl_map_len(q->entries) >= CTL_QUEUE_MAX_KEYS)
    return NULL;
  e = calloc(1, sizeof(*e) + len + 1);
  if (e == NULL)
    return NULL;
  memcpy(e->key, key, len + 1);
  e->state = ST_IDLE;
  if (ctl_map_put(q->entries, key, e) != 0) {
    free(e);
    return NULL;
  }
  return e;
}

static void drop(ctl_queue *q, entry *e)
{
  char key[CTL_QUEUE_KEY_MAX];
  memcpy(key, e->key, strlen(e->key) + 1);
  ctl_map_del(q->entries, key); /* frees e */
}

/* ---- delayed heap ------------------------------------------------------- */

static void heap_swap(ctl_queue *q, size_t i, size_t j)
{
  entry *t = q->heap[i];
  q->heap[i] = q->heap[j];
  q->heap[j] = t;
  q->heap[i]->heap_index = i;
  q->heap[j]->heap_index = j;
}

static void heap_up(ctl_queue *q, size_t i)
{
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (q->heap[p]->due <= q->heap[i]->due)
      break;
    heap_swap(q, i, p);
    i = p;
  }
}

static void heap_down(ctl_queue *q, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, s = i;
    if (l < q->n_heap && q->heap[l]->due < q->heap[s]->due)
      s = l;
    if (r < q->n_heap && q->heap[r]->due < q->heap[s]->due)
      s = r;
    if (s == i)
      break;
    heap_swap(q, i, s);
    i = s;
  }
}

static int heap_push(ctl_queue *q, entry *e)
{
  if (q->n_heap == q->heap_cap) {
    size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
    entry **h = realloc(q->heap, cap * sizeof(*h));
    if (h == NULL)
      return -1;
    q->heap = h;
    q->heap_cap = cap;
  }
  e->heap_index = q->n_heap;
  q->heap[q->n_heap++] = e;
  heap_up(q, e->heap_index);
  return 0;
}

static void heap_remove(ctl_queue *q, entry *e)
{
  size_t i = e->heap_index;
  q->n_heap--;
  if (i != q->n_heap) {
    q->heap[i] = q->heap[q->n_heap];
    q->heap[i]->heap_index = i;
    heap_down(q, i);
    heap_up(q, i);
  }
}

static void ready_push(ctl_queue *q, entry *e)
{
  e->state = ST_READY;
  e->rnext = NULL;
  if (q->ready_tail)
    q->ready_tail->rnext = e;
  else
    q->ready_head = e;
  q->ready_tail = e;
  q->n_ready++;
}

/* ---- API ---------------------------------------------------------------- */

int ctl_queue_add_after(ctl_queue *q, const char *key, int64_t delay_ms, int64_t now_ms)
{
  entry *e = find_or_create(q, key);
  if (e == NULL)
    return -1;
  int64_t due = now_ms + (delay_ms > 0 ? delay_ms : 0);
  switch (e->state) {
  case ST_READY:
    return 0;
  case ST_PROCESSING:
    if (!e->dirty || due < e->dirty_due)
      e->dirty_due = due;
    e->dirty = 1;
    return 0;
  case ST_DELAYED:
    if (due >= e->due)
      return 0;
    if (delay_ms <= 0) {
      heap_remove(q, e);
      ready_push(q, e);
      return 0;
    }
    e->due = due;
    heap_up(q, e->heap_index);
    return 0;
  default:
    if (delay_ms <= 0) {
      ready_push(q, e);
      return 0;
    }
    e->due = due;
    if (heap_push(q, e) != 0) {
      ready_push(q, e); /* no memory for the heap: sooner rather than never */
      return 0;
    }
    e->state = ST_DELAYED;
    return 0;
  }
}

int ctl_queue_add(ctl_queue *q, const char *key, int64_t now_ms)
{
  return ctl_queue_add_after(q, key, 0, now_ms);
}

const char *ctl_queue_get(ctl_queue *q, int64_t now_ms)
{
  while (q->n_heap > 0 && q->heap[0]->due <= now_ms) {
    entry *e = q->heap[0];
    heap_remove(q, e);
    ready_push(q, e);
  }
  entry *e = q->ready_head;
  if (e == NULL)
    return NULL;
  q->ready_head = e->rnext;
  if (q->ready_head == NULL)
    q->ready_tail = NULL;
  q->n_ready--;
  e->rnext = NULL;
  e->state = ST_PROCESSING;
  e->dirty = 0;
  q->n_processing++;
  return e->key;
}

static void finish(ctl_queue *q, entry *e, int64_t now_ms, int64_t again_due, int again)
{
  q->n_processing--;
  e->state = ST_IDLE;
  if (e->dirty) {
    e->dirty = 0;
    if (!again || e->dirty_due < again_due)
      again_due = e->dirty_due;
    again = 1;
  }
  if (again) {
    (void)ctl_queue_add_after(q, e->key, again_due - now_ms, now_ms);
    return;
  }
  if (e->retries == 0)
    drop(q, e);
}

void ctl_queue_done(ctl_queue *q, const char *key, int64_t now_ms)
{
  entry *e = find(q, key);
  if (e == NULL || e->state != ST_PROCESSING)
    return;
  finish(q, e, now_ms, 0, 0);
}

long ctl_queue_retry(ctl_queue *q, const char *key, int64_t now_ms)
{
  entry *e = find(q, key);
  if (e == NULL || e->state != ST_PROCESSING)
    return -1;
  if (e->retries >= q->max_retries) {
    e->retries = 0;
    finish(q, e, now_ms, 0, 0); /* comes back only when the object changes */
    return -1;
  }
  int64_t delay = q->base_delay_ms;
  for (long i = 0; i < e->retries && delay < q->max_delay_ms; i++)
    delay *= 2;
  if (delay > q->max_delay_ms)
    delay = q->max_delay_ms;
  /* jitter: 75% .. 100% of the delay */
  delay -= (int64_t)((uint64_t)rand() % (uint64_t)(delay / 4 + 1));
  e->retries++;
  long n = e->retries;
  finish(q, e, now_ms, now_ms + delay, 1);
  return n;
}

void ctl_queue_forget(ctl_queue *q, const char *key)
{
  entry *e = find(q, key);
  if (e == NULL)
    return;
  e->retries = 0;
  if (e->state == ST_IDLE)
    drop(q, e);
}

long ctl_queue_retries(const ctl_queue *q, const char *key)
{
  entry *e = find(q, key);
  return e ? e->retries : 0;
}

size_t ctl_queue_len(const ctl_queue *q)
{
  return q->n_ready + q->n_heap;
}

size_t ctl_queue_processing(const ctl_queue *q)
{
  return q->n_processing;
}

int64_t ctl_queue_next_due(const ctl_queue *q, int64_t now_ms)
{
  if (q->n_ready > 0)
    return 0;
  if (q->n_heap == 0)
    return -1;
  int64_t d = q->heap[0]->due - now_ms;
  return d > 0 ? d : 0;
}
