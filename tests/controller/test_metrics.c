/* /metrics: the exposition is valid Prometheus text format (HELP and TYPE
 * before each family's samples, label values escaped, histogram buckets
 * cumulative up to +Inf with _sum and _count), counters count, gauges hold
 * the last value, concurrent updates are not lost. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "metrics.h"
#include "seal-version.h"

#include "banned.h"

#define MAX_SAMPLES 8192
#define MAX_FAMILIES 64

typedef struct sample {
  char name[128];
  char labels[8][2][256]; /* name, unescaped value */
  int n_labels;
  double value;
} sample;

typedef struct family {
  char name[128];
  char type[16];
  int has_help;
} family;

typedef struct expo {
  sample s[MAX_SAMPLES];
  int n;
  family f[MAX_FAMILIES];
  int nf;
} expo;

static int name_char(char c, int first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

/* Reads a metric or label name; returns the length, 0 when none. */
static size_t read_name(const char *p, char *out, size_t out_size)
{
  size_t n = 0;
  while (name_char(p[n], n == 0) && n + 1 < out_size) {
    out[n] = p[n];
    n++;
  }
  out[n] = '\0';
  return n;
}

static family *find_family(expo *e, const char *name)
{
  for (int i = 0; i < e->nf; i++)
    if (strcmp(e->f[i].name, name) == 0)
      return &e->f[i];
  return NULL;
}

/* The family a sample belongs to: its name, or without _bucket/_sum/_count for
 * a histogram. */
static family *family_of(expo *e, const char *sample_name)
{
  family *f = find_family(e, sample_name);
  if (f)
    return f;
  static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(sample_name), k = strlen(suffixes[i]);
    if (n > k && strcmp(sample_name + n - k, suffixes[i]) == 0) {
      char base[128];
      memcpy(base, sample_name, n - k);
      base[n - k] = '\0';
      f = find_family(e, base);
      if (f && strcmp(f->type, "histogram") == 0)
        return f;
    }
  }
  return NULL;
}

/* Parses the whole text strictly; fails the test on the first defect. */
static void parse_expo(expo *e, const char *text, size_t len)
{
  memset(e, 0, sizeof(*e));
  assert_true(len > 0);
  assert_int_equal(strlen(text), len);
  assert_int_equal(text[len - 1], '\n');
  const char *p = text;
  int line_no = 0;
  while (*p) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    line_no++;
    char line[2048];
    size_t ll = (size_t)(nl - p);
    assert_true(ll < sizeof(line));
    memcpy(line, p, ll);
    line[ll] = '\0';
    p = nl + 1;
    if (ll == 0)
      fail_msg("line %d is empty", line_no);
    if (line[0] == '#') {
      char name[128];
      if (strncmp(line, "# HELP ", 7) == 0) {
        size_t n = read_name(line + 7, name, sizeof(name));
        if (n == 0 || line[7 + n] != ' ')
          fail_msg("line %d: bad HELP '%s'", line_no, line);
        family *f = find_family(e, name);
        if (f && f->has_help)
          fail_msg("line %d: second HELP for %s", line_no, name);
        if (f == NULL) {
          assert_true(e->nf < MAX_FAMILIES);
          f = &e->f[e->nf++];
          snprintf(f->name, sizeof(f->name), "%s", name);
        }
        f->has_help = 1;
      } else if (strncmp(line, "# TYPE ", 7) == 0) {
        size_t n = read_name(line + 7, name, sizeof(name));
        if (n == 0 || line[7 + n] != ' ')
          fail_msg("line %d: bad TYPE '%s'", line_no, line);
        const char *type = line + 7 + n + 1;
        if (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0 &&
            strcmp(type, "histogram") != 0 && strcmp(type, "summary") != 0 &&
            strcmp(type, "untyped") != 0)
          fail_msg("line %d: unknown type '%s'", line_no, type);
        family *f = find_family(e, name);
        if (f == NULL || !f->has_help)
          fail_msg("line %d: TYPE of %s without HELP before it", line_no, name);
        if (f->type[0])
          fail_msg("line %d: second TYPE for %s", line_no, name);
        snprintf(f->type, sizeof(f->type), "%s", type);
      } else {
        fail_msg("line %d: comment neither HELP nor TYPE: '%s'", line_no, line);
      }
      continue;
    }
    assert_true(e->n < MAX_SAMPLES);
    sample *s = &e->s[e->n++];
    const char *q = line;
    size_t n = read_name(q, s->name, sizeof(s->name));
    if (n == 0)
      fail_msg("line %d: no metric name: '%s'", line_no, line);
    q += n;
    family *f = family_of(e, s->name);
    if (f == NULL || f->type[0] == '\0')
      fail_msg("line %d: sample %s before its HELP and TYPE", line_no, s->name);
    if (f != &e->f[e->nf - 1])
      fail_msg("line %d: sample %s not in its family's group", line_no, s->name);
    if (*q == '{') {
      q++;
      while (*q != '}') {
        assert_true(s->n_labels < 8);
        char *lname = s->labels[s->n_labels][0];
        char *lval = s->labels[s->n_labels][1];
        n = read_name(q, lname, 256);
        if (n == 0 || q[n] != '=' || q[n + 1] != '"')
          fail_msg("line %d: bad label in '%s'", line_no, line);
        q += n + 2;
        size_t j = 0;
        while (*q != '"') {
          if (*q == '\0')
            fail_msg("line %d: unterminated label value in '%s'", line_no, line);
          char c = *q;
          if (c == '\\') {
            q++;
            if (*q == 'n')
              c = '\n';
            else if (*q == '\\' || *q == '"')
              c = *q;
            else
              fail_msg("line %d: bad escape '\\%c' in '%s'", line_no, *q, line);
          }
          assert_true(j + 1 < 256);
          lval[j++] = c;
          q++;
        }
        lval[j] = '\0';
        q++;
        s->n_labels++;
        if (*q == ',')
          q++;
        else if (*q != '}')
          fail_msg("line %d: expected , or } in '%s'", line_no, line);
      }
      q++;
    }
    if (*q != ' ')
      fail_msg("line %d: no space before the value: '%s'", line_no, line);
    q++;
    char *end = NULL;
    if (strcmp(q, "+Inf") == 0)
      s->value = INFINITY;
    else if (strcmp(q, "NaN") == 0)
      s->value = NAN;
    else {
      s->value = strtod(q, &end);
      if (end == q || *end != '\0')
        fail_msg("line %d: bad value '%s'", line_no, q);
    }
    /* no series twice */
    for (int i = 0; i < e->n - 1; i++) {
      const sample *o = &e->s[i];
      if (strcmp(o->name, s->name) != 0 || o->n_labels != s->n_labels)
        continue;
      int same = 1;
      for (int k = 0; k < s->n_labels; k++)
        if (strcmp(o->labels[k][0], s->labels[k][0]) || strcmp(o->labels[k][1], s->labels[k][1]))
          same = 0;
      if (same)
        fail_msg("line %d: series %s repeated", line_no, line);
    }
  }
}

static expo *render_parse(void)
{
  char *text = NULL;
  size_t len = 0;
  expo *e = malloc(sizeof(*e));
  assert_non_null(e);
  assert_int_equal(ctl_metrics_render(&text, &len), 0);
  parse_expo(e, text, len);
  free(text);
  return e;
}

/* The value of the series name{label=value}; label NULL: no labels. NAN when absent. */
static double value_of(const expo *e, const char *name, const char *label, const char *value)
{
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, name) != 0)
      continue;
    if (label == NULL && s->n_labels == 0)
      return s->value;
    for (int k = 0; label && k < s->n_labels; k++)
      if (strcmp(s->labels[k][0], label) == 0 && strcmp(s->labels[k][1], value) == 0)
        return s->value;
  }
  return NAN;
}

static double value2(const expo *e, const char *name, const char *l1, const char *v1,
                     const char *l2, const char *v2)
{
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, name) != 0 || s->n_labels != 2)
      continue;
    if (strcmp(s->labels[0][0], l1) == 0 && strcmp(s->labels[0][1], v1) == 0 &&
        strcmp(s->labels[1][0], l2) == 0 && strcmp(s->labels[1][1], v2) == 0)
      return s->value;
  }
  return NAN;
}

static void test_initial_exposition_is_valid(void **state)
{
  (void)state;
  expo *e = render_parse();
  static const struct {
    const char *name, *type;
  } want[] = {{"seal_build_info", "gauge"},
              {"seal_unseal_total", "counter"},
              {"seal_unseal_errors_total", "counter"},
              {"seal_reconcile_duration_seconds", "histogram"},
              {"seal_queue_depth", "gauge"},
              {"seal_sealed_secrets", "gauge"},
              {"seal_keys", "gauge"},
              {"seal_keys_not_backed_up", "gauge"},
              {"seal_sealedsecrets_by_key", "gauge"},
              {"seal_leader", "gauge"},
              {"seal_watch_restarts_total", "counter"},
              {"seal_api_requests_total", "counter"},
              {"seal_http_requests_total", "counter"}};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    family *f = find_family(e, want[i].name);
    if (f == NULL)
      fail_msg("no family %s", want[i].name);
    assert_string_equal(f->type, want[i].type);
  }
  assert_true(value_of(e, "seal_build_info", "version", SEAL_VERSION) == 1);
  /* counters that rate() is taken of exist at 0 before the first event */
  assert_true(value_of(e, "seal_watch_restarts_total", "resource", "sealedsecrets") == 0);
  assert_true(value_of(e, "seal_watch_restarts_total", "resource", "secrets") == 0);
  assert_true(value_of(e, "seal_watch_restarts_total", "resource", "keys") == 0);
  free(e);
}

/* Buckets non-decreasing, le increasing and ending with +Inf whose count is
 * _count; returns nothing, fails on a defect. */
static void check_histogram(const expo *e, const char *name, double *counts, int *n_counts)
{
  char bucket[160], sum[160], count[160];
  snprintf(bucket, sizeof(bucket), "%s_bucket", name);
  snprintf(sum, sizeof(sum), "%s_sum", name);
  snprintf(count, sizeof(count), "%s_count", name);
  double last_le = -INFINITY, last_v = 0;
  int n = 0, saw_inf = 0;
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, bucket) != 0)
      continue;
    assert_int_equal(s->n_labels, 1);
    assert_string_equal(s->labels[0][0], "le");
    assert_false(saw_inf);
    double le = strcmp(s->labels[0][1], "+Inf") == 0 ? INFINITY : strtod(s->labels[0][1], NULL);
    if (isinf(le))
      saw_inf = 1;
    assert_true(le > last_le);
    assert_true(s->value >= last_v);
    last_le = le;
    last_v = s->value;
    counts[n++] = s->value;
  }
  *n_counts = n;
  assert_true(saw_inf);
  assert_true(n >= 2);
  assert_true(value_of(e, count, NULL, NULL) == last_v);
  assert_false(isnan(value_of(e, sum, NULL, NULL)));
}

static void test_histogram_cumulative(void **state)
{
  (void)state;
  double before[64], after[64];
  int nb = 0, na = 0;
  expo *e = render_parse();
  check_histogram(e, "seal_reconcile_duration_seconds", before, &nb);
  double sum0 = value_of(e, "seal_reconcile_duration_seconds_sum", NULL, NULL);
  free(e);

  const double obs[] = {0.0001, 0.003, 0.3, 5.0, 0.0005};
  for (size_t i = 0; i < 5; i++)
    ctl_metrics_reconcile_seconds(obs[i]);

  e = render_parse();
  check_histogram(e, "seal_reconcile_duration_seconds", after, &na);
  assert_int_equal(na, nb);
  /* each bucket gained the observations at or under its bound */
  int k = 0;
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, "seal_reconcile_duration_seconds_bucket") != 0)
      continue;
    double le = strcmp(s->labels[0][1], "+Inf") == 0 ? INFINITY : strtod(s->labels[0][1], NULL);
    double gained = 0;
    for (size_t j = 0; j < 5; j++)
      if (obs[j] <= le)
        gained++;
    if (after[k] - before[k] != gained)
      fail_msg("bucket le=%s gained %g, wanted %g", s->labels[0][1], after[k] - before[k], gained);
    k++;
  }
  assert_true(after[na - 1] - before[nb - 1] == 5);
  double sum1 = value_of(e, "seal_reconcile_duration_seconds_sum", NULL, NULL);
  assert_true(fabs(sum1 - sum0 - 5.3036) < 1e-5);
  free(e);
}

static void test_counters_and_gauges(void **state)
{
  (void)state;
  expo *e = render_parse();
  double ok0 = value_of(e, "seal_unseal_total", NULL, NULL);
  free(e);
  ctl_metrics_unseal_ok();
  ctl_metrics_unseal_ok();
  ctl_metrics_unseal_error("NoKey");
  ctl_metrics_unseal_error("NoKey");
  ctl_metrics_unseal_error("Malformed");
  ctl_metrics_queue_depth(17);
  ctl_metrics_queue_depth(4);
  ctl_metrics_keys(3, 1);
  ctl_metrics_leader(1);
  ctl_metrics_sealed_secrets(1234);
  ctl_metrics_keys_not_backed_up(2);
  ctl_metrics_api_request("create", 201);
  ctl_metrics_api_request("create", 201);
  ctl_metrics_api_request("create", 409);
  ctl_metrics_http_request("/v1/verify", 200);
  ctl_metrics_watch_restart("secrets");
  e = render_parse();
  assert_true(value_of(e, "seal_unseal_total", NULL, NULL) == ok0 + 2);
  assert_true(value_of(e, "seal_unseal_errors_total", "reason", "NoKey") == 2);
  assert_true(value_of(e, "seal_unseal_errors_total", "reason", "Malformed") == 1);
  assert_true(value_of(e, "seal_queue_depth", NULL, NULL) == 4);
  assert_true(value_of(e, "seal_keys", "state", "active") == 3);
  assert_true(value_of(e, "seal_keys", "state", "compromised") == 1);
  assert_true(value_of(e, "seal_leader", NULL, NULL) == 1);
  assert_true(value_of(e, "seal_sealed_secrets", NULL, NULL) == 1234);
  assert_true(value_of(e, "seal_keys_not_backed_up", NULL, NULL) == 2);
  assert_true(value2(e, "seal_api_requests_total", "verb", "create", "code", "201") == 2);
  assert_true(value2(e, "seal_api_requests_total", "verb", "create", "code", "409") == 1);
  assert_true(value2(e, "seal_http_requests_total", "path", "/v1/verify", "code", "200") == 1);
  assert_true(value_of(e, "seal_watch_restarts_total", "resource", "secrets") == 1);
  free(e);
  ctl_metrics_leader(0);
  e = render_parse();
  assert_true(value_of(e, "seal_leader", NULL, NULL) == 0);
  free(e);
}

static void test_sealed_by_key_replaces(void **state)
{
  (void)state;
  const char ids[3][17] = {"0123456789abcdef", "fedcba9876543210", "00000000000000aa"};
  const long counts[3] = {5, 7, 0};
  const int compromised[3] = {0, 1, 0};
  ctl_metrics_sealed_by_key(ids, counts, compromised, 3);
  expo *e = render_parse();
  assert_true(value_of(e, "seal_sealedsecrets_by_key", "key_id", "0123456789abcdef") == 5);
  assert_true(value_of(e, "seal_sealedsecrets_by_key", "key_id", "fedcba9876543210") == 7);
  assert_true(value_of(e, "seal_sealedsecrets_by_key", "key_id", "00000000000000aa") == 0);
  assert_true(value2(e, "seal_sealedsecrets_by_key", "key_id", "fedcba9876543210", "state",
                     "compromised") == 7);
  assert_true(
      value2(e, "seal_sealedsecrets_by_key", "key_id", "0123456789abcdef", "state", "active") == 5);
  free(e);
  ctl_metrics_sealed_by_key(ids + 1, counts, NULL, 1);
  e = render_parse();
  assert_true(isnan(value_of(e, "seal_sealedsecrets_by_key", "key_id", "0123456789abcdef")));
  assert_true(
      value2(e, "seal_sealedsecrets_by_key", "key_id", "fedcba9876543210", "state", "active") == 5);
  free(e);
}

/* The sample with exactly these labels (NULL-terminated name, value pairs, in
 * any order); NULL when absent. */
static const sample *find_sample(const expo *e, const char *name, ...)
{
  const char *want[16][2];
  int nw = 0;
  va_list ap;
  va_start(ap, name);
  for (const char *l; nw < 16 && (l = va_arg(ap, const char *)) != NULL; nw++) {
    want[nw][0] = l;
    want[nw][1] = va_arg(ap, const char *);
  }
  va_end(ap);
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, name) != 0 || s->n_labels != nw)
      continue;
    int hits = 0;
    for (int k = 0; k < nw; k++)
      for (int j = 0; j < s->n_labels; j++)
        if (strcmp(s->labels[j][0], want[k][0]) == 0 && strcmp(s->labels[j][1], want[k][1]) == 0)
          hits++;
    if (hits == nw)
      return s;
  }
  return NULL;
}

static double process_value(const expo *e, const char *name)
{
  const sample *s = find_sample(e, name, NULL);
  if (s == NULL)
    fail_msg("no %s", name);
  return s->value;
}

static void test_process_families(void **state)
{
  (void)state;
  static const struct {
    const char *name, *type;
  } want[] = {{"process_cpu_seconds_total", "counter"},
              {"process_resident_memory_bytes", "gauge"},
              {"process_virtual_memory_bytes", "gauge"},
              {"process_open_fds", "gauge"},
              {"process_max_fds", "gauge"},
              {"process_start_time_seconds", "gauge"}};
  expo *e = render_parse();
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    family *f = find_family(e, want[i].name);
    if (f == NULL)
      fail_msg("no family %s", want[i].name);
    assert_string_equal(f->type, want[i].type);
  }
  double rss = process_value(e, "process_resident_memory_bytes");
  double vsz = process_value(e, "process_virtual_memory_bytes");
  assert_true(rss > 100 * 1024 && rss <= vsz);
  double start = process_value(e, "process_start_time_seconds");
  double now = (double)time(NULL);
  assert_true(start <= now + 1 && start > now - 24 * 3600); /* this test started just now */
  double fds = process_value(e, "process_open_fds");
  assert_true(fds >= 3 && fds <= process_value(e, "process_max_fds"));
  double cpu0 = process_value(e, "process_cpu_seconds_total");
  free(e);

  /* one more open file is one more fd; burnt CPU shows */
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  volatile double x = 0;
  clock_t until = clock() + CLOCKS_PER_SEC / 20;
  while (clock() < until)
    x += 1;
  e = render_parse();
  assert_true(process_value(e, "process_open_fds") == fds + 1);
  assert_true(process_value(e, "process_cpu_seconds_total") > cpu0);
  free(e);
  close(fd);
}

/* Each series of a labelled histogram: buckets cumulative, +Inf equal to _count. */
static void check_api_histogram(const expo *e, const char *verb, const char *resource,
                                const char *code, const double *obs, size_t n_obs)
{
  int buckets = 0;
  double last = -1;
  for (int i = 0; i < e->n; i++) {
    const sample *s = &e->s[i];
    if (strcmp(s->name, "seal_api_request_duration_seconds_bucket") != 0 || s->n_labels != 4)
      continue;
    if (strcmp(s->labels[0][1], verb) || strcmp(s->labels[1][1], resource) ||
        strcmp(s->labels[2][1], code))
      continue;
    assert_string_equal(s->labels[3][0], "le");
    double le = strcmp(s->labels[3][1], "+Inf") == 0 ? INFINITY : strtod(s->labels[3][1], NULL);
    double want = 0;
    for (size_t j = 0; j < n_obs; j++)
      want += obs[j] <= le;
    if (s->value != want)
      fail_msg("%s %s %s le=%s: %g, wanted %g", verb, resource, code, s->labels[3][1], s->value,
               want);
    assert_true(s->value >= last);
    last = s->value;
    buckets++;
  }
  assert_true(buckets >= 2);
  const sample *count = find_sample(e, "seal_api_request_duration_seconds_count", "verb", verb,
                                    "resource", resource, "code", code, NULL);
  const sample *sum = find_sample(e, "seal_api_request_duration_seconds_sum", "verb", verb,
                                  "resource", resource, "code", code, NULL);
  assert_non_null(count);
  assert_non_null(sum);
  assert_true(count->value == (double)n_obs);
  double total = 0;
  for (size_t j = 0; j < n_obs; j++)
    total += obs[j];
  assert_true(fabs(sum->value - total) < 1e-5);
}

static void test_api_request_durations(void **state)
{
  (void)state;
  const double lists[] = {0.002, 0.2, 40};
  const double patches[] = {0.03};
  for (size_t i = 0; i < 3; i++)
    ctl_metrics_api_duration("list", "sealedsecrets", 200, lists[i]);
  ctl_metrics_api_duration("patch", "sealedsecrets/status", 0, patches[0]);
  expo *e = render_parse();
  family *f = find_family(e, "seal_api_request_duration_seconds");
  assert_non_null(f);
  assert_string_equal(f->type, "histogram");
  check_api_histogram(e, "list", "sealedsecrets", "200", lists, 3);
  check_api_histogram(e, "patch", "sealedsecrets/status", "0", patches, 1);
  free(e);

  /* a flood of distinct label sets stays bounded, and nothing is lost */
  char res[32];
  for (int i = 0; i < 300; i++) {
    snprintf(res, sizeof(res), "r%d", i);
    ctl_metrics_api_duration("get", res, 200, 0.001);
  }
  e = render_parse();
  int series = 0;
  double total = 0;
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->s[i].name, "seal_api_request_duration_seconds_count") == 0) {
      series++;
      total += e->s[i].value;
    }
  assert_in_range(series, 3, 64);
  assert_true(total == 304);
  free(e);
}

static void test_api_verb_resource(void **state)
{
  (void)state;
  static const struct {
    const char *method, *path, *verb, *resource;
  } cases[] = {
      {"GET", "/apis/seal.dev/v1alpha1/sealedsecrets?limit=500", "list", "sealedsecrets"},
      {"GET", "/apis/seal.dev/v1alpha1/namespaces/app/sealedsecrets?limit=500&continue=x", "list",
       "sealedsecrets"},
      {"GET", "/apis/seal.dev/v1alpha1/namespaces/app/sealedsecrets/db", "get", "sealedsecrets"},
      {"PUT", "/apis/seal.dev/v1alpha1/namespaces/app/sealedsecrets/db/status", "update",
       "sealedsecrets/status"},
      {"PATCH", "/apis/seal.dev/v1alpha1/namespaces/app/sealedsecrets/db/status", "patch",
       "sealedsecrets/status"},
      {"GET", "/api/v1/namespaces/app/secrets?watch=1&resourceVersion=5", "watch", "secrets"},
      {"POST", "/api/v1/namespaces/app/secrets", "create", "secrets"},
      {"DELETE", "/api/v1/namespaces/app/secrets/db", "delete", "secrets"},
      {"DELETE", "/api/v1/namespaces/app/secrets", "deletecollection", "secrets"},
      {"POST", "/api/v1/namespaces/app/events", "create", "events"},
      {"PUT", "/apis/coordination.k8s.io/v1/namespaces/seal-system/leases/seal", "update",
       "leases"},
      {"GET", "/api/v1/namespaces", "list", "namespaces"},
      {"GET", "/api/v1/namespaces/app", "get", "namespaces"},
      {"GET", "/version", "get", "other"},
      {"GET", "", "get", "other"},
      {"OPTIONS", "/api/v1/namespaces/app/secrets", "other", "secrets"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char verb[24], resource[96];
    ctl_api_verb_resource(cases[i].method, cases[i].path, verb, sizeof(verb), resource,
                          sizeof(resource));
    if (strcmp(verb, cases[i].verb) || strcmp(resource, cases[i].resource))
      fail_msg("%s %s: %s %s, wanted %s %s", cases[i].method, cases[i].path, verb, resource,
               cases[i].verb, cases[i].resource);
  }
}

static double cond_total(const expo *e, const char *cond, const char *status)
{
  const sample *s = find_sample(e, "seal_sealedsecrets_conditions", "condition", cond, "status",
                                status, NULL);
  if (s == NULL)
    fail_msg("no seal_sealedsecrets_conditions{condition=%s,status=%s}", cond, status);
  return s->value;
}

static int count_samples(const expo *e, const char *name)
{
  int n = 0;
  for (int i = 0; i < e->n; i++)
    n += strcmp(e->s[i].name, name) == 0;
  return n;
}

static void test_conditions(void **state)
{
  (void)state;
  ctl_metrics_conditions *set = ctl_metrics_conditions_new();
  assert_non_null(set);
  char key[64];
  for (int i = 0; i < 3; i++) {
    snprintf(key, sizeof(key), "app/ok%d", i);
    assert_int_equal(ctl_metrics_conditions_add(set, key, CTL_COND_SYNCED, 'T', "Unsealed"), 0);
    assert_int_equal(ctl_metrics_conditions_add(set, key, CTL_COND_KEY_CURRENT, 'T', NULL), 0);
  }
  assert_int_equal(ctl_metrics_conditions_add(set, "app/broken", CTL_COND_SYNCED, 'F', "NoKey"), 0);
  assert_int_equal(ctl_metrics_conditions_add(set, "app/broken", CTL_COND_KEY_CURRENT, 'F', NULL),
                   0);
  assert_int_equal(ctl_metrics_conditions_add(set, "we\\ird\"/na\"me\n}", CTL_COND_SYNCED, 'U',
                                              "Pending"),
                   0);
  assert_int_equal(ctl_metrics_conditions_add(set, "x/y", (ctl_metrics_condition)7, 'T', NULL), -1);
  ctl_metrics_conditions_publish(set);

  expo *e = render_parse();
  assert_true(cond_total(e, "Synced", "True") == 3);
  assert_true(cond_total(e, "Synced", "False") == 1);
  assert_true(cond_total(e, "Synced", "Unknown") == 1);
  assert_true(cond_total(e, "KeyCurrent", "True") == 3);
  assert_true(cond_total(e, "KeyCurrent", "False") == 1);
  assert_true(cond_total(e, "KeyCurrent", "Unknown") == 0);
  /* only what is not True, by object */
  assert_int_equal(count_samples(e, "seal_sealedsecret_condition_info"), 3);
  assert_non_null(find_sample(e, "seal_sealedsecret_condition_info", "namespace", "app", "name",
                              "broken", "condition", "Synced", "status", "False", "reason", "NoKey",
                              NULL));
  assert_non_null(find_sample(e, "seal_sealedsecret_condition_info", "namespace", "app", "name",
                              "broken", "condition", "KeyCurrent", "status", "False", "reason", "",
                              NULL));
  assert_non_null(find_sample(e, "seal_sealedsecret_condition_info", "namespace", "we\\ird\"",
                              "name", "na\"me\n}", "condition", "Synced", "status", "Unknown",
                              "reason", "Pending", NULL));
  assert_true(value_of(e, "seal_sealedsecret_condition_info_omitted", NULL, NULL) == 0);
  free(e);

  /* 50k objects, 1500 broken: exact totals, bounded series */
  set = ctl_metrics_conditions_new();
  assert_non_null(set);
  for (int i = 0; i < 50000; i++) {
    snprintf(key, sizeof(key), "ns%d/sealed-secret-%d", i % 100, i);
    char st = i % 100 < 3 ? 'F' : 'T';
    assert_int_equal(ctl_metrics_conditions_add(set, key, CTL_COND_SYNCED, st, "Unsealed"), 0);
  }
  ctl_metrics_conditions_publish(set); /* replaces the set above */
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(ctl_metrics_render(&text, &len), 0);
  assert_true(len < 512 * 1024);
  e = malloc(sizeof(*e));
  assert_non_null(e);
  parse_expo(e, text, len);
  free(text);
  assert_true(cond_total(e, "Synced", "True") == 48500);
  assert_true(cond_total(e, "Synced", "False") == 1500);
  assert_true(cond_total(e, "KeyCurrent", "False") == 0);
  assert_int_equal(count_samples(e, "seal_sealedsecret_condition_info"),
                   CTL_METRICS_MAX_CONDITION_SERIES);
  assert_true(value_of(e, "seal_sealedsecret_condition_info_omitted", NULL, NULL) ==
              1500 - CTL_METRICS_MAX_CONDITION_SERIES);
  assert_null(find_sample(e, "seal_sealedsecret_condition_info", "namespace", "app", "name",
                          "broken", "condition", "Synced", "status", "False", "reason", "NoKey",
                          NULL));
  free(e);

  ctl_metrics_conditions_publish(NULL);
  e = render_parse();
  assert_true(cond_total(e, "Synced", "False") == 0);
  assert_int_equal(count_samples(e, "seal_sealedsecret_condition_info"), 0);
  free(e);
}

/* Every family /metrics shows is described in the manual page. */
static const char *man_path;

static void test_every_family_documented(void **state)
{
  (void)state;
  FILE *f = fopen(man_path, "re");
  if (f == NULL)
    fail_msg("cannot read %s", man_path);
  static char man[256 * 1024];
  size_t n = fread(man, 1, sizeof(man) - 1, f);
  fclose(f);
  man[n] = '\0';
  const char *metrics = strstr(man, "\n.SH METRICS\n");
  assert_non_null(metrics);
  expo *e = render_parse();
  for (int i = 0; i < e->nf; i++) {
    char bold[160];
    snprintf(bold, sizeof(bold), ".B %s", e->f[i].name);
    const char *at = strstr(metrics, bold);
    char next = at ? at[strlen(bold)] : 0;
    if (at == NULL || !(next == '\n' || next == '{' || next == ' '))
      fail_msg("%s is not described under METRICS in %s", e->f[i].name, man_path);
  }
  free(e);
}

static void test_label_values_escaped(void **state)
{
  (void)state;
  static const char *const hostile[] = {
      "a\"b", "back\\slash", "new\nline", "\"}\n# TYPE x counter", "\\\"", "x\\n", "\n\n\"\\",
  };
  for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
    ctl_metrics_watch_restart(hostile[i]);
    ctl_metrics_http_request(hostile[i], 404);
    ctl_metrics_api_request(hostile[i], 500);
    ctl_metrics_unseal_error(hostile[i]);
  }
  expo *e = render_parse(); /* fails on an unescaped quote, newline or bad escape */
  for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
    if (!(value_of(e, "seal_watch_restarts_total", "resource", hostile[i]) >= 1))
      fail_msg("label value %zu did not come back intact", i);
    assert_true(value_of(e, "seal_unseal_errors_total", "reason", hostile[i]) >= 1);
    assert_true(value2(e, "seal_http_requests_total", "path", hostile[i], "code", "404") >= 1);
    assert_true(value2(e, "seal_api_requests_total", "verb", hostile[i], "code", "500") >= 1);
  }
  free(e);
}

static void test_many_series_fold_and_stay_valid(void **state)
{
  (void)state;
  char path[64];
  for (int i = 0; i < 500; i++) {
    snprintf(path, sizeof(path), "/p%d", i);
    ctl_metrics_http_request(path, 200 + i % 7);
  }
  expo *e = render_parse(); /* no series repeated, every line valid */
  int n = 0;
  double total = 0;
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->s[i].name, "seal_http_requests_total") == 0) {
      n++;
      total += e->s[i].value;
    }
  assert_in_range(n, 1, 64);
  assert_true(total >= 500); /* nothing lost: the excess is counted under "other" */
  free(e);
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
  (void)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    ctl_metrics_unseal_ok();
    ctl_metrics_api_request("get", 200);
    ctl_metrics_reconcile_seconds(0.01);
  }
  return NULL;
}

static void test_concurrent_updates_not_lost(void **state)
{
  (void)state;
  expo *e = render_parse();
  double ok0 = value_of(e, "seal_unseal_total", NULL, NULL);
  double get0 = value2(e, "seal_api_requests_total", "verb", "get", "code", "200");
  double cnt0 = value_of(e, "seal_reconcile_duration_seconds_count", NULL, NULL);
  if (isnan(get0))
    get0 = 0;
  free(e);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
  for (int i = 0; i < 50; i++) { /* rendering meanwhile stays valid */
    e = render_parse();
    free(e);
  }
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  e = render_parse();
  assert_true(value_of(e, "seal_unseal_total", NULL, NULL) == ok0 + THREADS * PER_THREAD);
  assert_true(value2(e, "seal_api_requests_total", "verb", "get", "code", "200") ==
              get0 + THREADS * PER_THREAD);
  assert_true(value_of(e, "seal_reconcile_duration_seconds_count", NULL, NULL) ==
              cnt0 + THREADS * PER_THREAD);
  free(e);
}

int main(int argc, char **argv)
{
  man_path = argc > 1 ? argv[1] : "docs/unseal-controller.8";
  assert_int_equal(ctl_metrics_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initial_exposition_is_valid),
      cmocka_unit_test(test_histogram_cumulative),
      cmocka_unit_test(test_counters_and_gauges),
      cmocka_unit_test(test_sealed_by_key_replaces),
      cmocka_unit_test(test_label_values_escaped),
      cmocka_unit_test(test_concurrent_updates_not_lost),
      cmocka_unit_test(test_many_series_fold_and_stay_valid),
      cmocka_unit_test(test_process_families),
      cmocka_unit_test(test_api_request_durations),
      cmocka_unit_test(test_api_verb_resource),
      cmocka_unit_test(test_conditions),
      cmocka_unit_test(test_every_family_documented),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
