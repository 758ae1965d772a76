#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "doc.h"
#include "kube.h"
#include "watch_rec.h"

#include "banned.h"

uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void rec_event(void *ud, kube_event_type type, json_t *obj)
{
  rec *r = ud;
  const char *name = doc_get_string(obj, "metadata", "name", NULL);
  const char *t = type == KUBE_EVENT_ADDED ? "A" : type == KUBE_EVENT_MODIFIED ? "M" : "D";
  int n;
  assert_non_null(name);
  assert_non_null(doc_get_string(obj, "metadata", "resourceVersion", NULL));
  assert_non_null(json_string_value(json_object_get(obj, "kind")));
  n = snprintf(r->log + r->len, sizeof(r->log) - r->len, "%s:%s,", t, name);
  assert_true(n > 0 && (size_t)n < sizeof(r->log) - r->len);
  r->len += (size_t)n;
  if (type == KUBE_EVENT_ADDED)
    r->added++;
  else if (type == KUBE_EVENT_MODIFIED)
    r->modified++;
  else
    r->deleted++;
  if (r->self != NULL && r->stop_at > 0 && r->added + r->modified + r->deleted >= r->stop_at) {
    kube_watch_free(r->self);
    r->self = NULL;
  }
}

static void rec_synced(void *ud)
{
  ((rec *)ud)->synced++;
}

static void rec_restart(void *ud, const char *reason)
{
  rec *r = ud;
  size_t l = strlen(r->reasons);
  r->restarts++;
  snprintf(r->reasons + l, sizeof(r->reasons) - l, "%s,", reason);
}

const kube_watch_handlers rec_handlers = {rec_event, rec_synced, rec_restart};

int run_until(kube_client *c, int (*cond)(void *), void *ud, long timeout_ms)
{
  uint64_t end = now_ms() + (uint64_t)timeout_ms;
  while (!cond(ud)) {
    if (now_ms() > end)
      return 0;
    assert_true(kube_client_run(c, 100) >= 0);
  }
  return 1;
}

void run_for(kube_client *c, long ms)
{
  uint64_t end = now_ms() + (uint64_t)ms;
  while (now_ms() < end)
    assert_true(kube_client_run(c, (long)(end - now_ms())) >= 0);
}

int is_synced(void *ud)
{
  return ((rec *)ud)->synced > 0;
}

int has_events(void *ud)
{
  want_events *w = ud;
  return w->r->added + w->r->modified + w->r->deleted >= w->n;
}

int count_in(const char *log, const char *item)
{
  int n = 0;
  size_t l = strlen(item);
  for (const char *p = log; (p = strstr(p, item)) != NULL; p += l)
    if (p == log || p[-1] == ',')
      n++;
  return n;
}
