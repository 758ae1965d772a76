#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

/* RFC 3339 with microseconds, as Lease times are (MicroTime). */
static void micro_time(char *out, size_t out_size)
{
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(out, out_size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, out_size - n, ".%06ldZ", (long)tv.tv_usec);
}

void ctl_leader_init(ctl *c)
{
  ctl_leader *l = &c->leader;
  char host[128] = "unknown";
  memset(l, 0, sizeof(*l));
  l->enabled = c->opts->leader_elect;
  if (gethostname(host, sizeof(host)) != 0)
    snprintf(host, sizeof(host), "unknown");
  host[sizeof(host) - 1] = '\0';
  snprintf(l->identity, sizeof(l->identity), "%s_%ld", host, (long)getpid());
  ctl_metrics_leader(!l->enabled);
}

static void set_leader(ctl *c, int on)
{
  ctl_leader *l = &c->leader;
  if (l->is_leader == on)
    return;
  l->is_leader = on;
  ctl_metrics_leader(on);
  if (on) {
    ctl_log(CTL_LOG_INFO, "became leader", "lease", c->opts->lease_name, "identity", l->identity,
            NULL);
    c->keys.cm_dirty = 1;
    c->became_leader = 1; /* the loop re-queues every SealedSecret */
  } else {
    ctl_log(CTL_LOG_WARN, "lost leadership", "lease", c->opts->lease_name, "identity", l->identity,
            NULL);
  }
}

static json_t *lease_spec(ctl *c, int acquire, const json_t *old_spec)
{
  char now[40];
  micro_time(now, sizeof(now));
  json_t *spec = old_spec ? json_deep_copy(old_spec) : json_object();
  if (spec == NULL)
    return NULL;
  long secs = (long)((c->opts->lease_duration_ms + 999) / 1000);
  json_object_set_new(spec, "holderIdentity", json_string(c->leader.identity));
  json_object_set_new(spec, "leaseDurationSeconds", json_integer(secs));
  json_object_set_new(spec, "renewTime", json_string(now));
  if (acquire) {
    json_object_set_new(spec, "acquireTime", json_string(now));
    json_t *t = json_object_get(spec, "leaseTransitions");
    json_int_t n = json_is_integer(t) ? json_integer_value(t) : 0;
    if (old_spec)
      n++;
    json_object_set_new(spec, "leaseTransitions", json_integer(n));
  }
  return spec;
}

static void write_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  ctl_leader *l = &c->leader;
  l->in_flight = 0;
  if (st->err == KUBE_OK) {
    l->last_renew_ms = ctl_now_ms();
    const char *rv = doc_get_string(body, "metadata", "resourceVersion", NULL);
    snprintf(l->observed_rv, sizeof(l->observed_rv), "%s", rv ? rv : "");
    snprintf(l->observed_holder, sizeof(l->observed_holder), "%s", l->identity);
    l->observed_ms = l->last_renew_ms;
    if (!atomic_load(&c->stopping))
      set_leader(c, 1);
    return;
  }
  if (http_code == 409)
    ctl_log(CTL_LOG_DEBUG, "lease changed meanwhile", "lease", c->opts->lease_name, NULL);
  else
    ctl_log(CTL_LOG_WARN, "cannot write the lease", "lease", c->opts->lease_name, "error",
            st->message, NULL);
}

static void get_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  ctl_leader *l = &c->leader;
  char path[KUBE_MAX_PATH];
  json_t *lease = NULL;
  int64_t now = ctl_now_ms();

  if (http_code == 404) {
    json_t *spec = lease_spec(c, 1, NULL);
    lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                      "kind", "Lease", "metadata", "name", c->opts->lease_name, "namespace",
                      c->key_namespace, "spec", spec);
    if (lease == NULL ||
        kube_path(path, sizeof(path), "coordination.k8s.io/v1", "leases", c->key_namespace, NULL,
                  NULL) != KUBE_OK ||
        ctl_request(c, "create", "POST", path, lease, write_done, c) != KUBE_OK)
      l->in_flight = 0;
    json_decref(lease);
    return;
  }
  if (st->err != KUBE_OK || body == NULL) {
    l->in_flight = 0;
    ctl_log(CTL_LOG_WARN, "cannot read the lease", "lease", c->opts->lease_name, "error",
            st->message, NULL);
    return;
  }
  const char *rv = doc_get_string(body, "metadata", "resourceVersion", NULL);
  const char *holder = doc_get_string(body, "spec", "holderIdentity", NULL);
  json_t *dur = doc_get(body, "spec", "leaseDurationSeconds", NULL);
  if (rv == NULL)
    rv = "";
  if (holder == NULL)
    holder = "";
  if (strcmp(rv, l->observed_rv) != 0) {
    snprintf(l->observed_rv, sizeof(l->observed_rv), "%s", rv);
    snprintf(l->observed_holder, sizeof(l->observed_holder), "%s", holder);
    l->observed_ms = now;
  }
  int64_t lease_ms = c->opts->lease_duration_ms;
  if (json_is_integer(dur) && json_integer_value(dur) > 0)
    lease_ms = (int64_t)json_integer_value(dur) * 1000;

  int mine = strcmp(holder, l->identity) == 0;
  int expired = *holder == '\0' || now - l->observed_ms >= lease_ms;
  if (!mine && !expired) {
    l->in_flight = 0;
    set_leader(c, 0);
    return;
  }
  lease = json_deep_copy(body);
  json_t *spec = lease_spec(c, !mine, doc_get(body, "spec", NULL));
  if (lease == NULL || spec == NULL || json_object_set_new(lease, "spec", spec) != 0 ||
      kube_path(path, sizeof(path), "coordination.k8s.io/v1", "leases", c->key_namespace,
                c->opts->lease_name, NULL) != KUBE_OK ||
      ctl_request(c, "update", "PUT", path, lease, write_done, c) != KUBE_OK)
    l->in_flight = 0;
  json_decref(lease);
}

void ctl_leader_tick(ctl *c)
{
  ctl_leader *l = &c->leader;
  char path[KUBE_MAX_PATH];
  int64_t now = ctl_now_ms();

  if (!l->enabled || atomic_load(&c->stopping))
    return;
  if (l->is_leader && now - l->last_renew_ms > c->opts->renew_deadline_ms)
    set_leader(c, 0); /* could not renew in time: stop writing before another takes over */
  if (l->in_flight || now < l->next_try_ms)
    return;
  l->next_try_ms = now + c->opts->retry_period_ms;
  if (kube_path(path, sizeof(path), "coordination.k8s.io/v1", "leases", c->key_namespace,
                c->opts->lease_name, NULL) != KUBE_OK)
    return;
  l->in_flight = 1;
  if (ctl_request(c, "get", "GET", path, NULL, get_done, c) != KUBE_OK)
    l->in_flight = 0;
}

static void release_put_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  (void)http_code;
  (void)body;
  c->leader.released = 1;
  if (st->err == KUBE_OK)
    ctl_log(CTL_LOG_INFO, "lease released", "lease", c->opts->lease_name, NULL);
  else
    ctl_log(CTL_LOG_WARN, "cannot release the lease", "lease", c->opts->lease_name, "error",
            st->message, NULL);
}

static void release_get_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  char path[KUBE_MAX_PATH];
  (void)http_code;
  const char *holder = doc_get_string(body, "spec", "holderIdentity", NULL);
  if (st->err != KUBE_OK || holder == NULL || strcmp(holder, c->leader.identity) != 0) {
    c->leader.released = 1;
    return;
  }
  json_t *lease = json_deep_copy(body);
  json_t *spec = lease ? json_object_get(lease, "spec") : NULL;
  if (spec == NULL || json_object_set_new(spec, "holderIdentity", json_string("")) != 0 ||
      json_object_set_new(spec, "leaseDurationSeconds", json_integer(1)) != 0 ||
      kube_path(path, sizeof(path), "coordination.k8s.io/v1", "leases", c->key_namespace,
                c->opts->lease_name, NULL) != KUBE_OK ||
      ctl_request(c, "update", "PUT", path, lease, release_put_done, c) != KUBE_OK)
    c->leader.released = 1;
  json_decref(lease);
}

void ctl_leader_release(ctl *c, int64_t deadline_ms)
{
  ctl_leader *l = &c->leader;
  char path[KUBE_MAX_PATH];
  if (!l->enabled || !l->is_leader)
    return;
  set_leader(c, 0);
  /* a renewal in flight would take the lease back after the release */
  while (l->in_flight && ctl_now_ms() < deadline_ms)
    if (kube_client_run(c->client, 50) < 0)
      return;
  if (kube_path(path, sizeof(path), "coordination.k8s.io/v1", "leases", c->key_namespace,
                c->opts->lease_name, NULL) != KUBE_OK ||
      ctl_request(c, "get", "GET", path, NULL, release_get_done, c) != KUBE_OK)
    return;
  while (!l->released && ctl_now_ms() < deadline_ms)
    if (kube_client_run(c->client, 50) < 0)
      return;
}
