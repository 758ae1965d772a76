/* unseal-controller options: every flag parses, each SEAL_* variable stands for
 * its flag and the flag wins, defaults as documented, bad values refused with a
 * message naming the option (and the library returns instead of exiting),
 * --help lists every flag of the man page with its variable and default.
 * argv[1]: docs/unseal-controller.8 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "options.h"

#include "banned.h"

extern char **environ;

static const char *man_path;

typedef enum kind { K_STR, K_LONG, K_DOUBLE, K_DUR, K_BOOL, K_LOGFMT, K_LOGLEVEL } kind;

typedef struct flag_case {
  const char *flag; /* without -- */
  kind k;
  size_t off;
  const char *value; /* given on the command line or in the environment */
  const char *want;  /* K_STR: the string; others: parsed below */
  double want_num;
  const char *def; /* documented default (the text --help shows), NULL: none */
  double def_num;
} flag_case;

#define OFF(f) offsetof(ctl_options, f)

static const flag_case flags[] = {
    {"kubeconfig", K_STR, OFF(kubeconfig), "/tmp/kc", "/tmp/kc", 0, NULL, 0},
    {"context", K_STR, OFF(context), "prod", "prod", 0, NULL, 0},
    {"service-account-dir", K_STR, OFF(sa_dir), "/tmp/sa", "/tmp/sa", 0,
     "/var/run/secrets/kubernetes.io/serviceaccount", 0},
    {"key-namespace", K_STR, OFF(key_namespace), "keys", "keys", 0, NULL, 0},
    {"listen", K_STR, OFF(listen), "127.0.0.1:9000", "127.0.0.1:9000", 0, ":8080", 0},
    {"metrics-listen", K_STR, OFF(metrics_listen), "[::1]:9001", "[::1]:9001", 0, ":8081", 0},
    {"log-format", K_LOGFMT, OFF(log_json), "json", NULL, 1, "text", 0},
    {"log-level", K_LOGLEVEL, OFF(log_level), "debug", NULL, CTL_LOG_DEBUG, "info", CTL_LOG_INFO},
    {"leader-elect", K_BOOL, OFF(leader_elect), "true", NULL, 1, "false", 0},
    {"lease-name", K_STR, OFF(lease_name), "my-lease", "my-lease", 0, "unseal-controller", 0},
    {"lease-duration", K_DUR, OFF(lease_duration_ms), "1m30s", NULL, 90000, "15s", 15000},
    {"renew-deadline", K_DUR, OFF(renew_deadline_ms), "12s", NULL, 12000, "10s", 10000},
    {"retry-period", K_DUR, OFF(retry_period_ms), "500ms", NULL, 500, "2s", 2000},
    {"key-renew-period", K_DUR, OFF(key_renew_period_ms), "0", NULL, 0, "720h", 720.0 * 3600e3},
    {"backup-warn-after", K_DUR, OFF(backup_warn_after_ms), "48h", NULL, 48 * 3600e3, "24h",
     24 * 3600e3},
    {"qps", K_DOUBLE, OFF(qps), "12.5", NULL, 12.5, "500", 500},
    {"burst", K_LONG, OFF(burst), "7", NULL, 7, "1000", 1000},
    {"max-in-flight", K_LONG, OFF(max_in_flight), "3", NULL, 3, "64", 64},
    {"max-retries", K_LONG, OFF(max_retries), "0", NULL, 0, "15", 15},
    {"ping-threshold", K_DUR, OFF(ping_threshold_ms), "45s", NULL, 45000, "30s", 30000},
    {"http-rate", K_DOUBLE, OFF(http_rate), "0.5", NULL, 0.5, "10", 10},
    {"http-burst", K_LONG, OFF(http_burst), "2", NULL, 2, "20", 20},
    {"http-max-connections", K_LONG, OFF(http_max_connections), "9", NULL, 9, "256", 256},
    {"http-rate-total", K_DOUBLE, OFF(http_rate_total), "40", NULL, 40, "100", 100},
    {"http-trusted-proxy", K_STR, OFF(http_trusted_proxies), "10.0.0.0/8,fd00::/8",
     "10.0.0.0/8,fd00::/8", 0, NULL, 0},
    {"http-max-connections-per-client", K_LONG, OFF(http_max_connections_per_client), "4", NULL, 4,
     "32", 32},
    {"http-header-timeout", K_DUR, OFF(http_header_timeout_ms), "2s", NULL, 2000, "10s", 10000},
    {"http-body-memory", K_LONG, OFF(http_body_memory), "64Mi", NULL, 64.0 * 1024 * 1024, "16Mi",
     16.0 * 1024 * 1024},
    {"http-client-body-memory", K_LONG, OFF(http_client_body_memory), "512Ki", NULL, 512 * 1024,
     "8Mi", 8.0 * 1024 * 1024},
    {"http-timeout", K_DUR, OFF(http_timeout_ms), "250ms", NULL, 250, "30s", 30000},
    {"admission-listen", K_STR, OFF(admission_listen), "127.0.0.1:8443", "127.0.0.1:8443", 0, NULL,
     0},
    {"admission-max-in-flight", K_LONG, OFF(admission_max_in_flight), "3", NULL, 3, "8", 8},
    {"shutdown-timeout", K_DUR, OFF(shutdown_timeout_ms), "1m", NULL, 60000, "8s", 8000},
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static void env_name(char *out, size_t out_size, const char *flag)
{
  size_t j = 0;
  j += (size_t)snprintf(out, out_size, "SEAL_");
  for (size_t i = 0; flag[i] && j + 1 < out_size; i++)
    out[j++] = flag[i] == '-' ? '_' : (char)(flag[i] - ('a' <= flag[i] && flag[i] <= 'z' ? 32 : 0));
  out[j] = '\0';
}

static int clear_seal_env(void **state)
{
  (void)state;
  for (;;) {
    char name[256];
    int found = 0;
    for (char **e = environ; e && *e; e++) {
      if (strncmp(*e, "SEAL_", 5) == 0) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= sizeof(name))
          n = sizeof(name) - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        found = 1;
        break;
      }
    }
    if (!found)
      break;
    unsetenv(name);
  }
  return 0;
}

/* Parses a NULL-terminated list of arguments (argv[0] added). */
static int parse(ctl_options *o, char *err, size_t err_size, ...)
{
  char *argv[64];
  int argc = 0;
  va_list ap;
  argv[argc++] = (char *)"unseal-controller";
  va_start(ap, err_size);
  for (;;) {
    char *a = va_arg(ap, char *);
    if (a == NULL)
      break;
    assert_true(argc < 63);
    argv[argc++] = a;
  }
  va_end(ap);
  argv[argc] = NULL;
  err[0] = '\0';
  return ctl_options_parse(o, argc, argv, err, err_size);
}

static void check_value(const ctl_options *o, const flag_case *f, const char *want_str, double want)
{
  const char *base = (const char *)o;
  switch (f->k) {
  case K_STR:
    if (want_str == NULL)
      assert_null(*(char *const *)(base + f->off));
    else
      assert_string_equal(*(char *const *)(base + f->off), want_str);
    break;
  case K_LONG:
    assert_int_equal(*(const long *)(base + f->off), (long)want);
    break;
  case K_DOUBLE:
    assert_true(*(const double *)(base + f->off) == want);
    break;
  case K_DUR:
    assert_int_equal(*(const int64_t *)(base + f->off), (int64_t)want);
    break;
  case K_BOOL:
  case K_LOGFMT:
  case K_LOGLEVEL:
    assert_int_equal(*(const int *)(base + f->off), (int)want);
    break;
  }
}

static void test_defaults(void **state)
{
  (void)state;
  ctl_options o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
  for (size_t i = 0; i < N_FLAGS; i++)
    check_value(&o, &flags[i], flags[i].def, flags[i].def_num);
  assert_int_equal(o.n_namespaces, 0);
  assert_int_equal(o.help, 0);
  assert_int_equal(o.version, 0);
  ctl_options_free(&o);
}

static void test_every_flag_parses(void **state)
{
  (void)state;
  for (size_t i = 0; i < N_FLAGS; i++) {
    const flag_case *f = &flags[i];
    char a1[128], a2[128];
    ctl_options o;
    char err[256];
    /* --flag value and --flag=value */
    snprintf(a1, sizeof(a1), "--%s", f->flag);
    /* the lease timings must stay ordered: room for each of them; a bool
     * takes its value only as --flag=value */
    int rc = parse(&o, err, sizeof(err), "--lease-duration=20s", "--renew-deadline=15s",
                   "--retry-period=1s", a1, f->k == K_BOOL ? NULL : (char *)f->value, NULL);
    if (rc != 0)
      print_error("--%s %s: %s\n", f->flag, f->value, err);
    assert_int_equal(rc, 0);
    check_value(&o, f, f->want, f->want_num);
    ctl_options_free(&o);

    snprintf(a2, sizeof(a2), "--%s=%s", f->flag, f->value);
    rc = parse(&o, err, sizeof(err), "--lease-duration=20s", "--renew-deadline=15s",
               "--retry-period=1s", a2, NULL);
    if (rc != 0)
      print_error("%s: %s\n", a2, err);
    assert_int_equal(rc, 0);
    check_value(&o, f, f->want, f->want_num);
    ctl_options_free(&o);
  }
}

static void test_every_env_var_stands_for_its_flag(void **state)
{
  (void)state;
  for (size_t i = 0; i < N_FLAGS; i++) {
    const flag_case *f = &flags[i];
    char name[80];
    ctl_options o;
    char err[256];
    env_name(name, sizeof(name), f->flag);
    setenv("SEAL_LEASE_DURATION", "20s", 1);
    setenv("SEAL_RENEW_DEADLINE", "15s", 1);
    setenv("SEAL_RETRY_PERIOD", "1s", 1);
    assert_int_equal(setenv(name, f->value, 1), 0);
    int rc = parse(&o, err, sizeof(err), NULL);
    if (rc != 0)
      print_error("%s=%s: %s\n", name, f->value, err);
    assert_int_equal(rc, 0);
    check_value(&o, f, f->want, f->want_num);
    ctl_options_free(&o);
    clear_seal_env(NULL);
  }
}

static void test_flag_wins_over_env(void **state)
{
  (void)state;
  ctl_options o;
  char err[256];
  setenv("SEAL_LISTEN", ":1111", 1);
  setenv("SEAL_MAX_RETRIES", "3", 1);
  setenv("SEAL_LOG_FORMAT", "json", 1);
  setenv("SEAL_LEADER_ELECT", "true", 1);
  setenv("SEAL_KEY_RENEW_PERIOD", "1h", 1);
  setenv("SEAL_NAMESPACE", "a,b", 1);
  assert_int_equal(parse(&o, err, sizeof(err), "--listen", ":2222", "--max-retries=4",
                         "--log-format=text", "--leader-elect=false", "--key-renew-period", "2h",
                         "-n", "c", NULL),
                   0);
  assert_string_equal(o.listen, ":2222");
  assert_int_equal(o.max_retries, 4);
  assert_int_equal(o.log_json, 0);
  assert_int_equal(o.leader_elect, 0);
  assert_int_equal(o.key_renew_period_ms, 2 * 3600000);
  /* a --namespace on the command line replaces the environment's list */
  assert_int_equal(o.n_namespaces, 1);
  assert_string_equal(o.namespaces[0], "c");
  ctl_options_free(&o);

  /* without flags the environment holds */
  assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
  assert_string_equal(o.listen, ":1111");
  assert_int_equal(o.max_retries, 3);
  assert_int_equal(o.log_json, 1);
  assert_int_equal(o.leader_elect, 1);
  assert_int_equal(o.n_namespaces, 2);
  assert_string_equal(o.namespaces[0], "a");
  assert_string_equal(o.namespaces[1], "b");
  ctl_options_free(&o);
}

static void test_namespaces(void **state)
{
  (void)state;
  ctl_options o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), "--namespace", "a", "-n", "b", "--namespace=c",
                         "-nd", NULL),
                   0);
  assert_int_equal(o.n_namespaces, 4);
  assert_string_equal(o.namespaces[0], "a");
  assert_string_equal(o.namespaces[3], "d");
  ctl_options_free(&o);

  setenv("SEAL_NAMESPACE", ",x,,y,", 1);
  assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
  assert_int_equal(o.n_namespaces, 2);
  assert_string_equal(o.namespaces[0], "x");
  assert_string_equal(o.namespaces[1], "y");
  ctl_options_free(&o);
  unsetenv("SEAL_NAMESPACE");

  /* at most 64 */
  char list[64 * 4 + 8] = "";
  size_t len = 0;
  for (int i = 0; i < CTL_MAX_NAMESPACES; i++)
    len += (size_t)snprintf(list + len, sizeof(list) - len, "%sn%d", i ? "," : "", i);
  assert_int_equal(parse(&o, err, sizeof(err), "-n", list, NULL), 0);
  assert_int_equal(o.n_namespaces, CTL_MAX_NAMESPACES);
  ctl_options_free(&o);
  snprintf(list + len, sizeof(list) - len, ",one-more");
  assert_int_equal(parse(&o, err, sizeof(err), "-n", list, NULL), -1);
  assert_non_null(strstr(err, "--namespace"));
  assert_non_null(strstr(err, "64"));
  ctl_options_free(&o);

  char longns[300];
  memset(longns, 'a', sizeof(longns) - 1);
  longns[sizeof(longns) - 1] = '\0';
  assert_int_equal(parse(&o, err, sizeof(err), "--namespace", longns, NULL), -1);
  assert_non_null(strstr(err, "--namespace"));
  ctl_options_free(&o);
}

static void test_bool_forms(void **state)
{
  (void)state;
  static const struct {
    const char *arg;
    int want;
  } cases[] = {{"--leader-elect", 1},     {"--leader-elect=true", 1},  {"--leader-elect=1", 1},
               {"--leader-elect=yes", 1}, {"--leader-elect=false", 0}, {"--leader-elect=0", 0},
               {"--leader-elect=no", 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ctl_options o;
    char err[256];
    assert_int_equal(parse(&o, err, sizeof(err), cases[i].arg, NULL), 0);
    assert_int_equal(o.leader_elect, cases[i].want);
    ctl_options_free(&o);
  }
}

static void test_durations(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    int64_t ms;
  } good[] = {{"15s", 15000},    {"1m30s", 90000},       {"720h", 720LL * 3600000},
              {"250ms", 250},    {"10", 10000},          {"1.5", 1500},
              {"0", 0},          {"1h1m1s1ms", 3661001}, {"0.5s", 500},
              {"2h30m", 9000000}};
  static const char *const bad[] = {"",    "-5s", "-1",    "-1ms", "1h30x", "10x",   "s",
                                    "h",   "ms",  "1 h",   "1h ",  "abc",   "1..5s", "+5s",
                                    "nan", "inf", "1e400", "5d",   "1y",    "--5s",  "1h-5m"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    int64_t ms = -7;
    if (ctl_duration_parse(&ms, good[i].text) != 0)
      print_error("refused '%s'\n", good[i].text);
    assert_int_equal(ctl_duration_parse(&ms, good[i].text), 0);
    assert_int_equal(ms, good[i].ms);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ms = -7;
    if (ctl_duration_parse(&ms, bad[i]) == 0)
      print_error("accepted '%s' as %lld ms\n", bad[i], (long long)ms);
    assert_int_equal(ctl_duration_parse(&ms, bad[i]), -1);
    assert_int_equal(ms, -7); /* untouched */
  }
  int64_t ms = 0;
  assert_int_equal(ctl_duration_parse(&ms, NULL), -1);
}

static void expect_refused(const char *want_in_err, ...)
{
  char *argv[16];
  int argc = 0;
  va_list ap;
  ctl_options o;
  char err[256] = "";
  argv[argc++] = (char *)"unseal-controller";
  va_start(ap, want_in_err);
  for (;;) {
    char *a = va_arg(ap, char *);
    if (a == NULL)
      break;
    argv[argc++] = a;
  }
  va_end(ap);
  argv[argc] = NULL;
  int rc = ctl_options_parse(&o, argc, argv, err, sizeof(err));
  if (rc != -1 || strstr(err, want_in_err) == NULL)
    print_error("%s ...: rc %d, message '%s', wanted '%s'\n", argv[1], rc, err, want_in_err);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err, want_in_err));
  /* lowercase, no trailing full stop */
  assert_true(err[0] != '\0');
  assert_false(err[0] >= 'A' && err[0] <= 'Z');
  assert_false(err[strlen(err) - 1] == '.');
  ctl_options_free(&o); /* partial options are freed (valgrind checks) */
}

static void test_bad_values_refused(void **state)
{
  (void)state;
  expect_refused("--lease-duration", "--lease-duration", "-5s", NULL);
  expect_refused("'-5s'", "--lease-duration=-5s", NULL);
  expect_refused("--http-timeout", "--http-timeout=1h30x", NULL);
  expect_refused("--admission-cert and --admission-key go together", "--admission-cert=/c.pem",
                 NULL);
  expect_refused("--admission-cert and --admission-key go together", "--admission-key=/k.pem",
                 NULL);
  expect_refused("--admission-max-in-flight must be at least 1", "--admission-max-in-flight=0",
                 NULL);
  expect_refused("--admission-listen", "--admission-listen=127.0.0.1", NULL);
  {
    ctl_options o;
    char err[256] = "";
    char *argv[] = {(char *)"unseal-controller", (char *)"--admission-cert=/c.pem",
                    (char *)"--admission-key=/k.pem", NULL};
    assert_int_equal(ctl_options_parse(&o, 3, argv, err, sizeof(err)), 0);
    assert_string_equal(o.admission_cert, "/c.pem");
    assert_string_equal(o.admission_key, "/k.pem");
    assert_null(o.admission_listen);
    ctl_options_free(&o);
  }
  expect_refused("--http-body-memory", "--http-body-memory=32MB", NULL);
  expect_refused("--http-body-memory", "--http-body-memory=-1", NULL);
  expect_refused("--http-body-memory", "--http-body-memory=2048Gi", NULL);
  expect_refused("--http-client-body-memory", "--http-client-body-memory=Mi", NULL);
  expect_refused("at most --http-body-memory", "--http-body-memory=1Mi",
                 "--http-client-body-memory=2Mi", NULL);
  expect_refused("--http-trusted-proxy", "--http-trusted-proxy=10.0.0.0/33", NULL);
  expect_refused("--http-trusted-proxy", "--http-trusted-proxy=10.0.0.0/8,example.com", NULL);
  expect_refused("--http-trusted-proxy", "--http-trusted-proxy=::1/129", NULL);
  expect_refused("--http-trusted-proxy", "--http-trusted-proxy=10.0.0.1/", NULL);
  expect_refused("--http-max-connections-per-client", "--http-max-connections-per-client=0", NULL);
  expect_refused("--http-header-timeout", "--http-header-timeout=0", NULL);
  expect_refused("--shutdown-timeout", "--shutdown-timeout", "10x", NULL);
  expect_refused("--key-renew-period", "--key-renew-period=-1", NULL);
  expect_refused("--log-format", "--log-format=xml", NULL);
  expect_refused("'JSON'", "--log-format", "JSON", NULL);
  expect_refused("--log-level", "--log-level=verbose", NULL);
  expect_refused("--leader-elect", "--leader-elect=maybe", NULL);
  expect_refused("--qps", "--qps=0", NULL);
  expect_refused("--qps", "--qps=-3", NULL);
  expect_refused("--qps", "--qps=fast", NULL);
  expect_refused("--http-rate", "--http-rate=nan", NULL);
  expect_refused("--burst", "--burst=1.5", NULL);
  expect_refused("--burst", "--burst=-1", NULL);
  expect_refused("--max-retries", "--max-retries=99999999999999999999", NULL);
  expect_refused("--max-retries", "--max-retries=", NULL);
  expect_refused("--max-in-flight", "--max-in-flight=0", NULL);
  expect_refused("--http-max-connections", "--http-max-connections=0", NULL);
  expect_refused("--lease-duration", "--lease-duration=5s", "--renew-deadline=10s", NULL);
  expect_refused("--lease-duration", "--lease-duration=10s", "--renew-deadline=10s", NULL);
  expect_refused("--renew-deadline", "--renew-deadline=2s", "--retry-period=2s", NULL);
  expect_refused("--retry-period", "--retry-period=0", NULL);
}

static void test_bad_ports_refused(void **state)
{
  (void)state;
  expect_refused("--listen", "--listen=:65536", NULL);
  expect_refused("--listen", "--listen", ":99999", NULL);
  expect_refused("--listen", "--listen=:-1", NULL);
  expect_refused("--listen", "--listen=:http", NULL);
  expect_refused("--listen", "--listen=:", NULL);
  expect_refused("--listen", "--listen=8080", NULL);
  expect_refused("--metrics-listen", "--metrics-listen=127.0.0.1:70000", NULL);
  expect_refused("--metrics-listen", "--metrics-listen=[::1]:", NULL);
  expect_refused("--metrics-listen", "--metrics-listen=[::1:80", NULL);
  setenv("SEAL_LISTEN", ":65536", 1);
  expect_refused("SEAL_LISTEN", NULL);
  unsetenv("SEAL_LISTEN");

  ctl_options o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), "--listen=:0", "--metrics-listen=[::]:65535", NULL),
                   0);
  assert_string_equal(o.listen, ":0");
  ctl_options_free(&o);
  assert_int_equal(parse(&o, err, sizeof(err), "--listen=localhost:80", NULL), 0);
  ctl_options_free(&o);
}

static void test_bad_env_names_the_variable(void **state)
{
  (void)state;
  setenv("SEAL_LEASE_DURATION", "forever", 1);
  expect_refused("SEAL_LEASE_DURATION", NULL);
  unsetenv("SEAL_LEASE_DURATION");
  setenv("SEAL_LOG_LEVEL", "loud", 1);
  expect_refused("SEAL_LOG_LEVEL", NULL);
  /* the flag's value is not even looked at: the environment is wrong */
  unsetenv("SEAL_LOG_LEVEL");
  setenv("SEAL_MAX_RETRIES", "-2", 1);
  expect_refused("'-2'", "--max-retries=4", NULL);
  unsetenv("SEAL_MAX_RETRIES");
}

static void test_unknown_and_malformed_arguments(void **state)
{
  (void)state;
  expect_refused("--frobnicate", "--frobnicate", NULL);
  expect_refused("--frobnicate", "--frobnicate=1", NULL);
  expect_refused("-x", "-x", NULL);
  expect_refused("needs a value", "--listen", NULL);
  expect_refused("needs a value", "--lease-duration", NULL);
  expect_refused("needs a value", "-n", NULL);
  expect_refused("unexpected argument 'run'", "run", NULL);
  expect_refused("option '--version' takes no value", "--version=3", NULL);
  expect_refused("option '--help' takes no value", "--help=yes", NULL);
}

static void test_help_and_version_return(void **state)
{
  (void)state;
  ctl_options o;
  char err[256];
  /* the library returns; main prints and exits */
  assert_int_equal(parse(&o, err, sizeof(err), "--help", NULL), 0);
  assert_int_equal(o.help, 1);
  ctl_options_free(&o);
  assert_int_equal(parse(&o, err, sizeof(err), "-h", NULL), 0);
  assert_int_equal(o.help, 1);
  ctl_options_free(&o);
  assert_int_equal(parse(&o, err, sizeof(err), "--version", NULL), 0);
  assert_int_equal(o.version, 1);
  assert_int_equal(o.help, 0);
  ctl_options_free(&o);
  /* help wins over a bad combination of values, not over a malformed one */
  assert_int_equal(parse(&o, err, sizeof(err), "--renew-deadline=1m", "--help", NULL), 0);
  ctl_options_free(&o);
  assert_int_equal(parse(&o, err, sizeof(err), "--help", "--qps=x", NULL), -1);
  ctl_options_free(&o);
  /* options after a failed parse start over */
  assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
  assert_int_equal(o.help, 0);
  ctl_options_free(&o);
}

static char *usage_text(void)
{
  /* static: gcc -O3 otherwise takes the returned text for a pointer to this
   * frame, since open_memstream keeps the address of buf */
  static char *buf;
  static size_t len;
  char *text;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  ctl_options_usage(f);
  assert_int_equal(fclose(f), 0);
  text = buf;
  buf = NULL;
  return text;
}

/* The line of the usage text that starts with "  --flag" (then a space). */
static const char *usage_line(const char *usage, const char *flag)
{
  char pat[128];
  snprintf(pat, sizeof(pat), "\n  --%s ", flag);
  const char *p = strstr(usage, pat);
  if (p == NULL) {
    snprintf(pat, sizeof(pat), "\n  --%s\n", flag);
    p = strstr(usage, pat);
  }
  return p ? p + 1 : NULL;
}

static void test_help_lists_every_flag_with_env_and_default(void **state)
{
  (void)state;
  char *usage = usage_text();
  for (size_t i = 0; i < N_FLAGS; i++) {
    char env[80], want[160];
    const char *line = usage_line(usage, flags[i].flag);
    if (line == NULL)
      print_error("--help does not list --%s\n", flags[i].flag);
    assert_non_null(line);
    const char *next = strchr(line, '\n');
    assert_non_null(next);
    env_name(env, sizeof(env), flags[i].flag);
    if (flags[i].def)
      snprintf(want, sizeof(want), "env %s, default %s\n", env, flags[i].def);
    else
      snprintf(want, sizeof(want), "env %s\n", env);
    const char *envline = strstr(next + 1, "env ");
    assert_non_null(envline);
    if (strncmp(envline, want, strlen(want)) != 0)
      print_error("--%s: wanted '%s'\n", flags[i].flag, want);
    assert_memory_equal(envline, want, strlen(want));
  }
  assert_non_null(usage_line(usage, "namespace"));
  assert_non_null(strstr(usage, "env SEAL_NAMESPACE\n"));
  assert_non_null(usage_line(usage, "help"));
  assert_non_null(usage_line(usage, "version"));
  free(usage);
}

/* Every option of the man page's OPTIONS section (".BI \-\-name" or
 * ".BR \-\-name") is in --help and parses; every flag of --help is in the man
 * page, with the same variable. */
static void test_help_and_man_page_agree(void **state)
{
  (void)state;
  FILE *f = fopen(man_path, "r");
  if (f == NULL)
    fail_msg("cannot open the man page '%s'", man_path);
  char line[1024];
  int in_options = 0;
  int n_man = 0;
  char *usage = usage_text();
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, ".SH ", 4) == 0) {
      in_options = strncmp(line, ".SH OPTIONS", 11) == 0;
      continue;
    }
    if (!in_options || (strncmp(line, ".BI \\-\\-", 8) != 0 && strncmp(line, ".BR \\-\\-", 8) != 0))
      continue;
    /* the name: letters and \- up to a space or quote */
    char name[80];
    size_t j = 0;
    for (const char *p = line + 8;
         *p && *p != ' ' && *p != '"' && *p != '\n' && j + 1 < sizeof(name); p++) {
      if (p[0] == '\\' && p[1] == '-') {
        name[j++] = '-';
        p++;
      } else {
        name[j++] = *p;
      }
    }
    name[j] = '\0';
    n_man++;
    if (usage_line(usage, name) == NULL)
      fail_msg("the man page documents --%s, --help does not list it", name);
    if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0)
      continue;
    char env[80], want[100];
    env_name(env, sizeof(env), name);
    snprintf(want, sizeof(want), "(\\fB%s\\fR", env);
    char next[1024];
    if (fgets(next, sizeof(next), f) == NULL || strstr(next, want) == NULL)
      fail_msg("the man page's --%s does not name %s on the next line", name, env);
  }
  fclose(f);
  assert_true(n_man >= (int)N_FLAGS);
  /* and the other way: every --flag in --help is in the man page */
  f = fopen(man_path, "r");
  assert_non_null(f);
  static char man[256 * 1024];
  size_t n = fread(man, 1, sizeof(man) - 1, f);
  man[n] = '\0';
  fclose(f);
  for (const char *p = usage; (p = strstr(p, "\n  --")) != NULL; p += 5) {
    char name[80], esc[200];
    size_t j = 0;
    for (const char *q = p + 5; *q && *q != ' ' && *q != '\n' && j + 1 < sizeof(name); q++)
      name[j++] = *q;
    name[j] = '\0';
    size_t k = (size_t)snprintf(esc, sizeof(esc), "\\-\\-");
    for (size_t i = 0; name[i] && k + 3 < sizeof(esc); i++) {
      if (name[i] == '-') {
        esc[k++] = '\\';
        esc[k++] = '-';
      } else {
        esc[k++] = name[i];
      }
    }
    esc[k] = '\0';
    if (strstr(man, esc) == NULL)
      fail_msg("--help lists --%s, the man page does not document it", name);
  }
  free(usage);
}

/* Sizes take Ki, Mi, Gi or bytes; address blocks match by prefix, an address
 * alone only itself, IPv4 never matches IPv6. */
static void test_sizes_and_address_blocks(void **state)
{
  (void)state;
  long n = 0;
  assert_int_equal(ctl_size_parse(&n, "0"), 0);
  assert_int_equal(n, 0);
  assert_int_equal(ctl_size_parse(&n, "512Ki"), 0);
  assert_int_equal(n, 512 * 1024);
  assert_int_equal(ctl_size_parse(&n, "3Gi"), 0);
  assert_true(n == 3L * 1024 * 1024 * 1024);
  const char *bad[] = {"", "Mi", "1.5Mi", "1 Mi", "1mi", "1M", "-1", "+1", "99999999999999999999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (ctl_size_parse(&n, bad[i]) == 0)
      fail_msg("size '%s' accepted", bad[i]);

  ctl_cidr list[CTL_MAX_TRUSTED_PROXIES];
  size_t k = 0;
  assert_int_equal(ctl_cidr_parse_list(list, CTL_MAX_TRUSTED_PROXIES, &k,
                                       "10.0.0.0/8, 192.0.2.7,fd00::/8,172.16.0.0/12"),
                   0);
  assert_int_equal(k, 4);
  const uint8_t in8[4] = {10, 200, 3, 4}, out8[4] = {11, 0, 0, 1}, one[4] = {192, 0, 2, 7},
                next[4] = {192, 0, 2, 8}, in12[4] = {172, 31, 255, 255}, out12[4] = {172, 32, 0, 0};
  assert_true(ctl_cidr_match(list, k, AF_INET, in8));
  assert_false(ctl_cidr_match(list, k, AF_INET, out8));
  assert_true(ctl_cidr_match(list, k, AF_INET, one));
  assert_false(ctl_cidr_match(list, k, AF_INET, next));
  assert_true(ctl_cidr_match(list, k, AF_INET, in12));
  assert_false(ctl_cidr_match(list, k, AF_INET, out12));
  uint8_t v6[16] = {0xfd, 0x12};
  assert_true(ctl_cidr_match(list, k, AF_INET6, v6));
  v6[0] = 0xfe;
  assert_false(ctl_cidr_match(list, k, AF_INET6, v6));
  assert_false(ctl_cidr_match(list, k, AF_INET6, (const uint8_t[16]){10}));
  assert_int_equal(ctl_cidr_parse_list(NULL, CTL_MAX_TRUSTED_PROXIES, &k, ""), 0);
  assert_int_equal(k, 0);
  assert_int_equal(ctl_cidr_parse_list(NULL, 1, &k, "10.0.0.1,10.0.0.2"), -1);
}

int main(int argc, char **argv)
{
  man_path = argc > 1 ? argv[1] : "docs/unseal-controller.8";
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_defaults, clear_seal_env),
      cmocka_unit_test_setup(test_every_flag_parses, clear_seal_env),
      cmocka_unit_test_setup(test_every_env_var_stands_for_its_flag, clear_seal_env),
      cmocka_unit_test_setup(test_flag_wins_over_env, clear_seal_env),
      cmocka_unit_test_setup(test_namespaces, clear_seal_env),
      cmocka_unit_test_setup(test_bool_forms, clear_seal_env),
      cmocka_unit_test_setup(test_durations, clear_seal_env),
      cmocka_unit_test_setup(test_bad_values_refused, clear_seal_env),
      cmocka_unit_test_setup(test_bad_ports_refused, clear_seal_env),
      cmocka_unit_test_setup(test_bad_env_names_the_variable, clear_seal_env),
      cmocka_unit_test_setup(test_unknown_and_malformed_arguments, clear_seal_env),
      cmocka_unit_test_setup(test_help_and_version_return, clear_seal_env),
      cmocka_unit_test_setup(test_help_lists_every_flag_with_env_and_default, clear_seal_env),
      cmocka_unit_test_setup(test_help_and_man_page_agree, clear_seal_env),
      cmocka_unit_test_setup(test_sizes_and_address_blocks, clear_seal_env),
  };
  return cmocka_run_group_tests(tests, clear_seal_env, NULL);
}
