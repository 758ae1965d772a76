#ifndef SEAL_TESTS_KUBE_WATCH_REC_H
#define SEAL_TESTS_KUBE_WATCH_REC_H

/* Records what a watch reports, for the kube tests: "A:name,M:name,D:name,". */

#include <stddef.h>
#include <stdint.h>

#include "kube.h"

typedef struct rec {
  char log[200000];
  size_t len;
  int added, modified, deleted, synced, restarts;
  char reasons[2048];
  kube_watch *self; /* freed from its own handler when stop_at is reached */
  int stop_at;
} rec;

extern const kube_watch_handlers rec_handlers;

typedef struct want_events {
  rec *r;
  int n;
} want_events;

uint64_t now_ms(void);
/* Runs c until cond(ud) or the timeout; returns cond's last value. */
int run_until(kube_client *c, int (*cond)(void *), void *ud, long timeout_ms);
void run_for(kube_client *c, long ms);
int is_synced(void *ud);  /* ud: rec */
int has_events(void *ud); /* ud: want_events */
/* How often item ("A:x") occurs in a log as a whole entry. */
int count_in(const char *log, const char *item);

#endif
