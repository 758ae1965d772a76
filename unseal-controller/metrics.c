#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "seal-version.h"

#include "banned.h"

#define MAX_LABELED 64
#define LABEL_MAX 48
/* room for CTL_METRICS_MAX_CONDITION_SERIES series with the longest names */
#define RENDER_MAX (1024 * 1024)
#define STR_(x) #x
#define STR(x) STR_(x)

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

static const double api_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define N_API_BUCKETS (sizeof(api_buckets) / sizeof(api_buckets[0]))
#define MAX_API_SERIES 48

typedef struct api_hist {
  char verb[16];
  char resource[LABEL_MAX];
  char code[8];
  double b[N_API_BUCKETS];
  double count;
  double sum;
} api_hist;

typedef struct cond_series {
  char *key; /* "namespace/name" */
  ctl_metrics_condition condition;
  char status;
  char reason[32];
} cond_series;

#define N_CONDITIONS 2
static const char *const condition_names[N_CONDITIONS] = {"Synced", "KeyCurrent"};
static const char status_chars[3] = {'T', 'F', 'U'};
static const char *const status_names[3] = {"True", "False", "Unknown"};

struct ctl_metrics_conditions {
  cond_series *v;
  size_t n, cap;
  long totals[N_CONDITIONS][3];
  long omitted;
};

static struct {
  pthread_mutex_t lock;
  double unseal_ok;
  double secret_repairs;
  family unseal_errors;
  family admission; /* a: outcome, b: reason */
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
  family sealed_by_key; /* a: key id, b: "active" or "compromised" */
  api_hist api[MAX_API_SERIES];
  size_t n_api;
  ctl_metrics_conditions *conds;
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static double start_time_s;

/* The process's start in seconds since the epoch, as the kernel has it
 * (/proc/self/stat starttime after /proc/stat btime); the first call's time
 * when /proc cannot be read (a chroot without it). */
static void find_start_time(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  start_time_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

  char buf[1024];
  unsigned long long btime = 0, ticks = 0;
  long hz = sysconf(_SC_CLK_TCK);
  FILE *f = fopen("/proc/stat", "re");
  if (f == NULL)
    return;
  while (fgets(buf, sizeof(buf), f))
    if (sscanf(buf, "btime %llu", &btime) == 1)
      break;
  fclose(f);
  f = fopen("/proc/self/stat", "re");
  if (f == NULL)
    return;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* field 2 (comm) may hold spaces and parentheses: count from the last ')' */
  char *p = strrchr(buf, ')');
  for (int field = 2; p && field < 22; field++)
    p = strchr(p + 1, ' ');
  if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1 || btime == 0 || hz <= 0)
    return;
  start_time_s = (double)btime + (double)ticks / (double)hz;
}

static void family_add(family *f, const char *a, const char *b, double delta);

/* Counters a dashboard or an alert reads are there at 0 from the start, so
 * that rate() and increase() have a first sample before the first event. */
static void init_once(void)
{
  static const char *const watched[] = {"sealedsecrets", "secrets", "keys"};
  find_start_time();
  pthread_mutex_lock(&m.lock);
  for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++)
    family_add(&m.watch_restarts, watched[i], "", 0);
  pthread_mutex_unlock(&m.lock);
}

int ctl_metrics_init(void)
{
  return pthread_once(&start_once, init_once) == 0 ? 0 : -1;
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

void ctl_metrics_secret_repair(void)
{
  pthread_mutex_lock(&m.lock);
  m.secret_repairs += 1;
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_unseal_error(const char *reason)
{
  pthread_mutex_lock(&m.lock);
  family_add(&m.unseal_errors, reason ? reason : "Unknown", "", 1);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_admission(const char *outcome, const char *reason)
{
  pthread_mutex_lock(&m.lock);
  family_add(&m.admission, outcome, reason ? reason : "", 1);
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

void ctl_metrics_sealed_by_key(const char (*ids)[17], const long *counts, const int *compromised,
                               size_t n)
{
  pthread_mutex_lock(&m.lock);
  m.sealed_by_key.n = 0;
  for (size_t i = 0; i < n; i++)
    family_add(&m.sealed_by_key, ids[i], compromised && compromised[i] ? "compromised" : "active",
               (double)counts[i]);
  pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_api_duration(const char *verb, const char *resource, int code, double seconds)
{
  char c[8];
  snprintf(c, sizeof(c), "%d", code);
  verb = verb ? verb : "";
  resource = resource ? resource : "";
  pthread_mutex_lock(&m.lock);
  api_hist *h = NULL;
  for (size_t i = 0; i < m.n_api && h == NULL; i++)
    if (strcmp(m.api[i].verb, verb) == 0 && strcmp(m.api[i].resource, resource) == 0 &&
        strcmp(m.api[i].code, c) == 0)
      h = &m.api[i];
  if (h == NULL && m.n_api < MAX_API_SERIES) {
    h = &m.api[m.n_api++];
    snprintf(h->verb, sizeof(h->verb), "%s", verb);
    snprintf(h->resource, sizeof(h->resource), "%s", resource);
    snprintf(h->code, sizeof(h->code), "%s", c);
  } else if (h == NULL) { /* full: the last series becomes "other" */
    h = &m.api[MAX_API_SERIES - 1];
    snprintf(h->verb, sizeof(h->verb), "other");
    snprintf(h->resource, sizeof(h->resource), "other");
    snprintf(h->code, sizeof(h->code), "other");
  }
  for (size_t i = 0; i < N_API_BUCKETS; i++)
    if (seconds <= api_buckets[i])
      h->b[i] += 1;
  h->count += 1;
  h->sum += seconds;
  pthread_mutex_unlock(&m.lock);
}

ctl_metrics_conditions *ctl_metrics_conditions_new(void)
{
  return calloc(1, sizeof(ctl_metrics_conditions));
}

void ctl_metrics_conditions_free(ctl_metrics_conditions *set)
{
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->n; i++)
    free(set->v[i].key);
  free(set->v);
  free(set);
}

int ctl_metrics_conditions_add(ctl_metrics_conditions *set, const char *key,
                               ctl_metrics_condition condition, char status, const char *reason)
{
  int si = status == 'T' ? 0 : status == 'F' ? 1 : 2;
  if (set == NULL || key == NULL || (unsigned)condition >= N_CONDITIONS)
    return -1;
  set->totals[condition][si]++;
  if (si == 0)
    return 0;
  if (set->n == CTL_METRICS_MAX_CONDITION_SERIES) {
    set->omitted++;
    return 0;
  }
  if (set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    cond_series *v = realloc(set->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    set->v = v;
    set->cap = cap;
  }
  cond_series *c = &set->v[set->n];
  c->key = strdup(key);
  if (c->key == NULL)
    return -1;
  c->condition = condition;
  c->status = status_chars[si];
  snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
  set->n++;
  return 0;
}

void ctl_metrics_conditions_publish(ctl_metrics_conditions *set)
{
  pthread_mutex_lock(&m.lock);
  ctl_metrics_conditions *old = m.conds;
  m.conds = set;
  pthread_mutex_unlock(&m.lock);
  ctl_metrics_conditions_free(old);
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
static void put_series(out_buf *b, const char *name, const char *l1, const char *v1, const char *l2,
                       const char *v2, double value)
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

/* The process_* families every Prometheus client library exports. What
 * /proc cannot tell (a chroot without it) is left out, not made up. */
static void put_process(out_buf *b)
{
  struct rusage ru;
  struct rlimit rl;
  char line[128];

  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    put_header(b, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds");
    put(b, "process_cpu_seconds_total %.6f\n", cpu);
  }
  FILE *f = fopen("/proc/self/statm", "re");
  unsigned long long size = 0, resident = 0;
  long page = sysconf(_SC_PAGESIZE);
  if (f != NULL) {
    int ok = fgets(line, sizeof(line), f) != NULL &&
             sscanf(line, "%llu %llu", &size, &resident) == 2 && page > 0;
    fclose(f);
    if (ok) {
      put_header(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes");
      put(b, "process_virtual_memory_bytes %llu\n", size * (unsigned long long)page);
      put_header(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
      put(b, "process_resident_memory_bytes %llu\n", resident * (unsigned long long)page);
    }
  }
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    long fds = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
      if (e->d_name[0] != '.')
        fds++;
    closedir(d);
    put_header(b, "process_open_fds", "gauge", "Number of open file descriptors");
    put(b, "process_open_fds %ld\n", fds > 0 ? fds - 1 : 0); /* not the one reading the folder */
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    put_header(b, "process_max_fds", "gauge", "Maximum number of open file descriptors");
    if (rl.rlim_cur == RLIM_INFINITY)
      put(b, "process_max_fds +Inf\n");
    else
      put(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
  put_header(b, "process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds");
  put(b, "process_start_time_seconds %.2f\n", start_time_s);
}

int ctl_metrics_render(char **out, size_t *out_len)
{
  out_buf b = {.p = malloc(RENDER_MAX)};
  if (b.p == NULL)
    return -1;

  (void)ctl_metrics_init();
  pthread_mutex_lock(&m.lock);
  put_header(&b, "seal_build_info", "gauge", "Build information");
  put(&b, "seal_build_info{version=\"%s\"} 1\n", SEAL_VERSION);

  put_header(&b, "seal_unseal_total", "counter", "SealedSecrets unsealed into Secrets");
  put(&b, "seal_unseal_total %.0f\n", m.unseal_ok);

  put_header(&b, "seal_secret_repairs_total", "counter",
             "Secrets written back after another writer changed or deleted them");
  put(&b, "seal_secret_repairs_total %.0f\n", m.secret_repairs);

  put_header(&b, "seal_unseal_errors_total", "counter",
             "SealedSecrets that did not unseal, by reason");
  for (size_t i = 0; i < m.unseal_errors.n; i++)
    put_series(&b, "seal_unseal_errors_total", "reason", m.unseal_errors.v[i].a, NULL, NULL,
               m.unseal_errors.v[i].value);

  put_header(&b, "seal_admission_reviews_total", "counter",
             "AdmissionReviews answered, by outcome (allowed, refused, unchanged, overflow, "
             "notready, invalid) and the reason of a refusal");
  for (size_t i = 0; i < m.admission.n; i++)
    put_series(&b, "seal_admission_reviews_total", "outcome", m.admission.v[i].a, "reason",
               m.admission.v[i].b, m.admission.v[i].value);

  put_header(&b, "seal_reconcile_duration_seconds", "histogram",
             "Time to reconcile one SealedSecret");
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

  put_header(&b, "seal_sealedsecrets_by_key", "gauge",
             "SealedSecrets with a value sealed for each key");
  for (size_t i = 0; i < m.sealed_by_key.n; i++)
    put_series(&b, "seal_sealedsecrets_by_key", "key_id", m.sealed_by_key.v[i].a, "state",
               m.sealed_by_key.v[i].b, m.sealed_by_key.v[i].value);

  put_header(&b, "seal_keys_not_backed_up", "gauge",
             "Keys without a backup made after their creation for longer than --backup-warn-after");
  put(&b, "seal_keys_not_backed_up %ld\n", m.keys_not_backed_up);

  put_header(&b, "seal_leader", "gauge", "1 when this replica is the leader");
  put(&b, "seal_leader %d\n", m.leader);

  put_header(&b, "seal_watch_restarts_total", "counter",
             "Watch streams started again, by resource");
  for (size_t i = 0; i < m.watch_restarts.n; i++)
    put_series(&b, "seal_watch_restarts_total", "resource", m.watch_restarts.v[i].a, NULL, NULL,
               m.watch_restarts.v[i].value);

  put_header(&b, "seal_api_requests_total", "counter", "Kubernetes API requests by verb and code");
  for (size_t i = 0; i < m.api_requests.n; i++)
    put_series(&b, "seal_api_requests_total", "verb", m.api_requests.v[i].a, "code",
               m.api_requests.v[i].b, m.api_requests.v[i].value);

  put_header(
      &b, "seal_api_request_duration_seconds", "histogram",
      "Kubernetes API request attempts by verb, resource and code (0: no answer), watch streams not counted");
  for (size_t i = 0; i < m.n_api; i++) {
    const api_hist *h = &m.api[i];
    for (size_t k = 0; k <= N_API_BUCKETS; k++) {
      put(&b, "seal_api_request_duration_seconds_bucket{verb=\"");
      put_label_value(&b, h->verb);
      put(&b, "\",resource=\"");
      put_label_value(&b, h->resource);
      put(&b, "\",code=\"%s\",le=\"", h->code);
      if (k < N_API_BUCKETS)
        put(&b, "%g\"} %.0f\n", api_buckets[k], h->b[k]);
      else
        put(&b, "+Inf\"} %.0f\n", h->count);
    }
    for (int k = 0; k < 2; k++) {
      put(&b, "seal_api_request_duration_seconds_%s{verb=\"", k ? "count" : "sum");
      put_label_value(&b, h->verb);
      put(&b, "\",resource=\"");
      put_label_value(&b, h->resource);
      if (k)
        put(&b, "\",code=\"%s\"} %.0f\n", h->code, h->count);
      else
        put(&b, "\",code=\"%s\"} %.6f\n", h->code, h->sum);
    }
  }

  put_header(&b, "seal_sealedsecrets_conditions", "gauge",
             "SealedSecrets by condition and its status");
  for (int ci = 0; ci < N_CONDITIONS; ci++)
    for (int si = 0; si < 3; si++)
      put(&b, "seal_sealedsecrets_conditions{condition=\"%s\",status=\"%s\"} %ld\n",
          condition_names[ci], status_names[si], m.conds ? m.conds->totals[ci][si] : 0);

  put_header(&b, "seal_sealedsecret_condition_info", "gauge",
             "1 for each condition of a SealedSecret that is not True (at most " STR(
                 CTL_METRICS_MAX_CONDITION_SERIES) " series)");
  for (size_t i = 0; m.conds && i < m.conds->n; i++) {
    const cond_series *c = &m.conds->v[i];
    const char *slash = strchr(c->key, '/');
    int ns_len = slash ? (int)(slash - c->key) : 0;
    char ns[256];
    snprintf(ns, sizeof(ns), "%.*s", ns_len, c->key);
    put(&b, "seal_sealedsecret_condition_info{namespace=\"");
    put_label_value(&b, ns);
    put(&b, "\",name=\"");
    put_label_value(&b, slash ? slash + 1 : c->key);
    put(&b, "\",condition=\"%s\",status=\"%s\",reason=\"", condition_names[c->condition],
        c->status == 'F' ? "False" : "Unknown");
    put_label_value(&b, c->reason);
    put(&b, "\"} 1\n");
  }
  put_header(
      &b, "seal_sealedsecret_condition_info_omitted", "gauge",
      "Conditions that are not True left out of seal_sealedsecret_condition_info by its bound");
  put(&b, "seal_sealedsecret_condition_info_omitted %ld\n", m.conds ? m.conds->omitted : 0);

  put_header(&b, "seal_http_requests_total", "counter", "HTTP requests served by path and code");
  for (size_t i = 0; i < m.http_requests.n; i++)
    put_series(&b, "seal_http_requests_total", "path", m.http_requests.v[i].a, "code",
               m.http_requests.v[i].b, m.http_requests.v[i].value);
  pthread_mutex_unlock(&m.lock);
  put_process(&b);

  if (b.overflow) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len;
  return 0;
}
