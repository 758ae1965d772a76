#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "seal-version.h"

#include "banned.h"

#define MAX_LABELED 64
#define LABEL_MAX 48
#define RENDER_MAX (256 * 1024)

typedef struct labeled {
  char a[LABEL_MAX];
  char b[LABEL_MAX];
  double value;
} labeled;

typedef struct family {
  labeled v[MAX_LABELED];
  size_t n;
} family;

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static struct {
  pthread_mutex_t lock;
  double unseal_ok;
  family unseal_errors;
  double hist[N_BUCKETS];
  double hist_count;
  double hist_sum;
  long queue_depth;
  long keys_active;
  long keys_compromised;
  long keys_not_backed_up;
  long sealed_secrets;
  int leader;
  family watch_restarts;
  family api_requests;
  family http_requests;
  family sealed_by_key; /* a: key id */
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

int ctl_metrics_init(void)
{
  return 0;
}

/* Adds delta to the series (a, b); a full family folds new series into "other". */
static void family_add(family *f, const char *a, const char *b, double delta)
{
  for (size_t i = 0; i < f->n; i++) {
    if (strcmp(f->v[i].a, a) == 0 && strcmp(f->v[i].b, b) == 0) {
      f->v[i].value += delta;
      return;
    }
  }
  if (f->n == MAX_LABELED) {
    f->v[MAX_LABELED - 1].value += delta;
    snprintf(f->v[MAX_LABELED - 1].a, LABEL_MAX, "other");
    snprintf(f->v[MAX_LABELED - 1].b, LABEL_MAX, "other");
    return;
  }
  snprintf(f->v[f->n].a, LABEL_MAX, "%s", a);
  snprintf(f->v[f->n].b, LABEL_MAX, "%s", b);
  f->v[f->n].value = delta;
  f->n++;
}

void ctl_metrics_unseal_ok(void)
{
  pthread_mutex_lock(&m.lock);
  m.unseal_ok += 1;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_unseal_error(const char *reason)
{
  pthread_mutex_lock(&m.lock);
  family_add(&m.unseal_errors, reason ? reason : "Unknown", "", 1);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_reconcile_seconds(double seconds)
{
  pthread_mutex_lock(&m.lock);
  for (size_t i = 0; i < N_BUCKETS; i++)
    if (seconds <= buckets[i])
      m.hist[i] += 1;
  m.hist_count += 1;
  m.hist_sum += seconds;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_queue_depth(long depth)
{
  pthread_mutex_lock(&m.lock);
  m.queue_depth = depth;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_keys(long active, long compromised)
{
  pthread_mutex_lock(&m.lock);
  m.keys_active = active;
  m.keys_compromised = compromised;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_keys_not_backed_up(long n)
{
  pthread_mutex_lock(&m.lock);
  m.keys_not_backed_up = n;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_sealed_by_key(const char (*ids)[17], const long *counts, size_t n)
{
  pthread_mutex_lock(&m.lock);
  m.sealed_by_key.n = 0;
  for (size_t i = 0; i < n; i++)
    family_add(&m.sealed_by_key, ids[i], "", (double)counts[i]);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_sealed_secrets(long n)
{
  pthread_mutex_lock(&m.lock);
  m.sealed_secrets = n;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_leader(int is_leader)
{
  pthread_mutex_lock(&m.lock);
  m.leader = is_leader ? 1 : 0;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_watch_restart(const char *resource)
{
  pthread_mutex_lock(&m.lock);
  family_add(&m.watch_restarts, resource ? resource : "", "", 1);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_api_request(const char *verb, int code)
{
  char c[16];
  snprintf(c, sizeof(c), "%d", code);
  pthread_mutex_lock(&m.lock);
  family_add(&m.api_requests, verb ? verb : "", c, 1);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_http_request(const char *path, int code)
{
  char c[16];
  snprintf(c, sizeof(c), "%d", code);
  pthread_mutex_lock(&m.lock);
  family_add(&m.http_requests, path ? path : "", c, 1);
  pthread_mutex_unlock(&m.lock);
}

typedef struct out_buf {
  char *p;
  size_t len;
  int overflow;
} out_buf;

__attribute__((format(printf, 2, 3))) static void put(out_buf *b, const char *fmt, ...)
{
  va_list ap;
  if (b->overflow)
    return;
  va_start(ap, fmt);
  int n = vsnprintf(b->p + b->len, RENDER_MAX - b->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= RENDER_MAX - b->len) {
    b->overflow = 1;
    return;
  }
  b->len += (size_t)n;
}

/* A label value with \\, \" and \n escaped, as the text format wants. */
static void put_label_value(out_buf *b, const char *v)
{
  for (; *v && !b->overflow; v++) {
    if (*v == '\\')
      put(b, "\\\\");
    else if (*v == '"')
      put(b, "\\\"");
    else if (*v == '\n')
      put(b, "\\n");
    else
      put(b, "%c", *v);
  }
}

/* name{l1="v1"[,l2="v2"]} value */
static void put_series(out_buf *b, const char *name, const char *l1, const char *v1,
                       const char *l2, const char *v2, double value)
{
  put(b, "%s{%s=\"", name, l1);
  put_label_value(b, v1);
  if (l2) {
    put(b, "\",%s=\"", l2);
    put_label_value(b, v2);
  }
  put(b, "\"} %.0f\n", value);
}

static void put_header(out_buf *b, const char *name, const char *type, const char *help)
{
  put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int ctl_metrics_render(char **out, size_t *out_len)
{
  out_buf b = {.p = malloc(RENDER_MAX)};
  if (b.p == NULL)
    return -1;

  pthread_mutex_lock(&m.lock);
  put_header(&b, "seal_build_info", "gauge", "Build information");
  put(&b, "seal_build_info{version=\"%s\"} 1\n", SEAL_VERSION);

  put_header(&b, "seal_unseal_total", "counter", "SealedSecrets unsealed into Secrets");
  put(&b, "seal_unseal_total %.0f\n", m.unseal_ok);

  put_header(&b, "seal_unseal_errors_total", "counter", "SealedSecrets that did not unseal, by reason");
  for (size_t i = 0; i < m.unseal_errors.n; i++)
    put_series(&b, "seal_unseal_errors_total", "reason", m.unseal_errors.v[i].a, NULL, NULL,
               m.unseal_errors.v[i].value);

  put_header(&b, "seal_reconcile_duration_seconds", "histogram", "Time to reconcile one SealedSecret");
  for (size_t i = 0; i < N_BUCKETS; i++)
    put(&b, "seal_reconcile_duration_seconds_bucket{le=\"%g\"} %.0f\n", buckets[i], m.hist[i]);
  put(&b, "seal_reconcile_duration_seconds_bucket{le=\"+Inf\"} %.0f\n", m.hist_count);
  put(&b, "seal_reconcile_duration_seconds_sum %.6f\n", m.hist_sum);
  put(&b, "seal_reconcile_duration_seconds_count %.0f\n", m.hist_count);

  put_header(&b, "seal_queue_depth", "gauge", "SealedSecrets waiting in the work queue");
  put(&b, "seal_queue_depth %ld\n", m.queue_depth);

  put_header(&b, "seal_sealed_secrets", "gauge", "SealedSecrets known to the controller");
  put(&b, "seal_sealed_secrets %ld\n", m.sealed_secrets);

  put_header(&b, "seal_keys", "gauge", "Keys by state");
  put(&b, "seal_keys{state=\"active\"} %ld\n", m.keys_active);
  put(&b, "seal_keys{state=\"compromised\"} %ld\n", m.keys_compromised);

  put_header(&b, "seal_sealedsecrets_by_key", "gauge", "SealedSecrets with a value sealed for each key");
  for (size_t i = 0; i < m.sealed_by_key.n; i++)
    put_series(&b, "seal_sealedsecrets_by_key", "key_id", m.sealed_by_key.v[i].a, NULL, NULL,
               m.sealed_by_key.v[i].value);

  put_header(&b, "seal_keys_not_backed_up", "gauge", "Keys without a backup made after their creation for longer than --backup-warn-after");
  put(&b, "seal_keys_not_backed_up %ld\n", m.keys_not_backed_up);

  put_header(&b, "seal_leader", "gauge", "1 when this replica is the leader");
  put(&b, "seal_leader %d\n", m.leader);

  put_header(&b, "seal_watch_restarts_total", "counter", "Watch streams started again, by resource");
  for (size_t i = 0; i < m.watch_restarts.n; i++)
    put_series(&b, "seal_watch_restarts_total", "resource", m.watch_restarts.v[i].a, NULL, NULL,
               m.watch_restarts.v[i].value);

  put_header(&b, "seal_api_requests_total", "counter", "Kubernetes API requests by verb and code");
  for (size_t i = 0; i < m.api_requests.n; i++)
    put_series(&b, "seal_api_requests_total", "verb", m.api_requests.v[i].a, "code",
               m.api_requests.v[i].b, m.api_requests.v[i].value);

  put_header(&b, "seal_http_requests_total", "counter", "HTTP requests served by path and code");
  for (size_t i = 0; i < m.http_requests.n; i++)
    put_series(&b, "seal_http_requests_total", "path", m.http_requests.v[i].a, "code",
               m.http_requests.v[i].b, m.http_requests.v[i].value);
  pthread_mutex_unlock(&m.lock);

  if (b.overflow) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len;
  return 0;
}
