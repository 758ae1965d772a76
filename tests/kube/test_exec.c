/* Credential plugins (kube/exec.c): the ExecCredential a plugin prints, hostile
 * ones included, the exec section of a kubeconfig, and running a plugin
 * (/bin/sh scripts) with its timeout, exit codes, output limit and cache. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "doc.h"
#include "internal.h"
#include "kube.h"

#include "banned.h"

#define V1 "client.authentication.k8s.io/v1"
#define V1B "client.authentication.k8s.io/v1beta1"
#define CERT "-----BEGIN CERTIFICATE-----\\nQ0VSVA==\\n-----END CERTIFICATE-----\\n"
#define KEY "-----BEGIN PRIVATE KEY-----\\nS0VZ\\n-----END PRIVATE KEY-----\\n"

static int parse(kube_cred **c, const char *api, const char *text, kube_status *st)
{
  memset(st, 0, sizeof(*st));
  return kube_exec_parse(c, api, "my-plugin", text, strlen(text), st);
}

/* The parse fails with a message that names the plugin and holds want. */
static void refused(const char *text, const char *want)
{
  kube_cred *c = (kube_cred *)1;
  kube_status st;
  assert_int_equal(parse(&c, V1, text, &st), KUBE_ERR_CONFIG);
  assert_null(c);
  if (strstr(st.message, "credential plugin \"my-plugin\"") == NULL ||
      strstr(st.message, want) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", st.message, want);
  assert_null(strstr(st.message, "s3cr3t")); /* what the plugin printed is never repeated */
}

static void token_credential(void **state)
{
  kube_cred *c = NULL;
  kube_status st;
  (void)state;
  assert_int_equal(parse(&c, V1,
                         "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
                         "\"status\":{\"token\":\"s3cr3t\"}}",
                         &st),
                   KUBE_OK);
  assert_string_equal(c->token, "s3cr3t");
  assert_null(c->cert);
  assert_int_equal(c->has_expiry, 0);
  kube_cred_unref(c);
  assert_int_equal(parse(&c, V1B,
                         "{\"apiVersion\":\"" V1B "\",\"kind\":\"ExecCredential\","
                         "\"spec\":{},\"status\":{\"token\":\"t\","
                         "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}",
                         &st),
                   KUBE_OK);
  assert_int_equal(c->has_expiry, 1);
  assert_int_equal((long long)c->expires, 1893553445LL);
  kube_cred_unref(c);
}

static void certificate_credential(void **state)
{
  kube_cred *c = NULL;
  kube_status st;
  (void)state;
  assert_int_equal(parse(&c, V1,
                         "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
                         "\"status\":{\"clientCertificateData\":\"" CERT "\","
                         "\"clientKeyData\":\"" KEY "\"}}",
                         &st),
                   KUBE_OK);
  assert_null(c->token);
  assert_int_equal(c->cert_len,
                   strlen("-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n"));
  assert_memory_equal(c->key, "-----BEGIN PRIVATE KEY-----\nS0VZ\n", 33);
  assert_int_equal(c->key[c->key_len], '\0');
  kube_cred_unref(c);
  /* both, as client-go takes them: the token as bearer and the certificate for TLS */
  assert_int_equal(parse(&c, V1,
                         "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
                         "\"status\":{\"token\":\"tok\",\"clientCertificateData\":\"" CERT
                         "\",\"clientKeyData\":\"" KEY "\"}}",
                         &st),
                   KUBE_OK);
  assert_string_equal(c->token, "tok");
  assert_non_null(c->cert);
  assert_non_null(c->key);
  kube_cred_unref(c);
}

static void hostile_output(void **state)
{
  (void)state;
  refused("token: s3cr3t", "its output is not JSON (line 1, column");
  refused("", "its output is not JSON");
  refused("{\"a\":1} {\"b\":2}", "its output is not JSON");
  refused("[\"s3cr3t\"]", "its output is not an ExecCredential object");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"Secret\",\"status\":{\"token\":\"s3cr3t\"}}",
          "kind \"Secret\", not ExecCredential");
  refused("{\"apiVersion\":\"" V1 "\",\"status\":{\"token\":\"s3cr3t\"}}",
          "kind missing, not ExecCredential");
  refused("{\"apiVersion\":\"" V1B
          "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t\"}}",
          "apiVersion \"" V1B "\", but the kubeconfig asked for " V1);
  refused("{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t\"}}", "apiVersion missing");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\"}", "has no status");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":\"s3cr3t\"}",
          "has no status");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{}}",
          "neither a token nor a client certificate and key");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"\"}}",
          "neither a token nor a client certificate and key");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":7}}",
          "must be strings");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"clientCertificateData\":\"" CERT "\"}}",
          "client certificate without its key");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"clientKeyData\":\"" KEY "\"}}",
          "client key without its certificate");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"s3cr3t\\r\\nX-Injected: 1\"}}",
          "status.token holds a space, line break or control character");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"clientCertificateData\":\"\\u0007\",\"clientKeyData\":\"" KEY "\"}}",
          "must be PEM text");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"s3cr3t\",\"expirationTimestamp\":\"soon\"}}",
          "status.expirationTimestamp \"soon\" is not an RFC 3339 time");
  refused("{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"s3cr3t\",\"token\":\"other\"}}",
          "its output is not JSON");
}

static void rfc3339(void **state)
{
  time_t t = 0;
  (void)state;
  assert_int_equal(kube_exec_parse_time("1970-01-01T00:00:00Z", &t), 0);
  assert_int_equal((long long)t, 0);
  assert_int_equal(kube_exec_parse_time("2018-03-05T17:30:20-08:00", &t), 0);
  assert_int_equal((long long)t, 1520299820LL);
  assert_int_equal(kube_exec_parse_time("2018-03-06T01:30:20.123456789Z", &t), 0);
  assert_int_equal((long long)t, 1520299820LL);
  assert_int_equal(kube_exec_parse_time("2018-03-06t03:00:20.5+01:30", &t), 0);
  assert_int_equal((long long)t, 1520299820LL);
  const char *bad[] = {"",
                       "2018-03-06",
                       "2018-03-06T01:30:20",  /* no zone */
                       "2018-03-06 01:30:20Z", /* a space */
                       "2018-13-06T01:30:20Z", /* month 13 */
                       "2018-02-30T01:30:20Z", /* 30 February */
                       "2018-03-06T24:00:00Z",
                       "2018-03-06T01:30:20.Z",    /* a point without digits */
                       "2018-03-06T01:30:20+0100", /* offset without ':' */
                       "2018-03-06T01:30:20Zjunk",
                       "20l8-03-06T01:30:20Z",
                       "1520299820"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (kube_exec_parse_time(bad[i], &t) == 0)
      fail_msg("\"%s\" was taken as a time", bad[i]);
}

/* ---- the exec section --------------------------------------------------- */

static int from_yaml(kube_exec **x, const char *json, kube_status *st)
{
  json_error_t jerr;
  json_t *exec = json_loads(json, 0, &jerr), *cluster = json_pack("{s:s}", "server", "https://x");
  int rc;
  assert_non_null(exec);
  memset(st, 0, sizeof(*st));
  rc = kube_exec_from_config(x, exec, "/etc/kube", cluster, "kubeconfig \"k\": user \"u\"", st);
  json_decref(exec);
  json_decref(cluster);
  return rc;
}

static void exec_section(void **state)
{
  static const struct {
    const char *json, *want;
  } bad[] = {
      {"{\"command\":\"p\"}", "apiVersion missing is not supported"},
      {"{\"apiVersion\":\"client.authentication.k8s.io/v1alpha1\",\"command\":\"p\"}",
       "apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported"},
      {"{\"apiVersion\":\"" V1B "\"}", "exec: no command"},
      {"{\"apiVersion\":\"" V1 "\",\"command\":\"p\"}", "interactiveMode must be set"},
      {"{\"apiVersion\":\"" V1B "\",\"command\":\"p\",\"interactiveMode\":\"Sometimes\"}",
       "interactiveMode is not Never, IfAvailable or Always"},
      {"{\"apiVersion\":\"" V1B "\",\"command\":\"p\",\"args\":\"-v\"}", "\"args\" is not a list"},
      {"{\"apiVersion\":\"" V1B "\",\"command\":\"p\",\"args\":[1]}", "args[0] is not a string"},
      {"{\"apiVersion\":\"" V1B
       "\",\"command\":\"p\",\"env\":[{\"name\":\"A=B\",\"value\":\"v\"}]}",
       "env[0] needs a name"},
      {"{\"apiVersion\":\"" V1B "\",\"command\":\"p\",\"env\":[{\"name\":\"A\"}]}",
       "env[0] needs a name"},
      {"{\"apiVersion\":\"" V1B "\",\"command\":\"p\",\"provideClusterInfo\":\"yes\"}",
       "provideClusterInfo is not true or false"},
  };
  kube_exec *x = NULL, *copy = NULL;
  kube_status st;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(from_yaml(&x, bad[i].json, &st), KUBE_ERR_CONFIG);
    assert_null(x);
    if (strstr(st.message, "kubeconfig \"k\": user \"u\": exec: ") != st.message ||
        strstr(st.message, bad[i].want) == NULL)
      fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].json, st.message, bad[i].want);
  }
  /* a path with a '/' is relative to the kubeconfig's folder; a bare name is left to $PATH */
  assert_int_equal(from_yaml(&x, "{\"apiVersion\":\"" V1B "\",\"command\":\"bin/p\"}", &st),
                   KUBE_OK);
  assert_string_equal(kube_exec_command(x), "/etc/kube/bin/p");
  kube_exec_free(x);
  assert_int_equal(from_yaml(&x, "{\"apiVersion\":\"" V1B "\",\"command\":\"p\"}", &st), KUBE_OK);
  assert_string_equal(kube_exec_command(x), "p");
  assert_int_equal(kube_exec_dup(&copy, x), KUBE_OK);
  assert_string_equal(kube_exec_command(copy), "p");
  kube_exec_free(x);
  kube_exec_free(copy);
  assert_int_equal(from_yaml(&x,
                             "{\"apiVersion\":\"" V1 "\",\"command\":\"/usr/bin/p\","
                             "\"interactiveMode\":\"Never\"}",
                             &st),
                   KUBE_OK);
  assert_string_equal(kube_exec_command(x), "/usr/bin/p");
  kube_exec_free(x);
}

/* ---- running ------------------------------------------------------------ */

static kube_config cluster_cfg = {.server = "https://127.0.0.1:6443"};

/* A plugin: sh -c script, with the given interactiveMode. */
static kube_exec *sh_plugin(const char *script, const char *mode)
{
  json_t *exec = json_pack("{s:s, s:s, s:[s,s], s:s, s:[{s:s,s:s}]}", "apiVersion", V1, "command",
                           "sh", "args", "-c", script, "interactiveMode", mode, "env", "name",
                           "PLUGIN_VAR", "value", "from-config");
  json_t *cluster = json_object();
  kube_exec *x = NULL;
  kube_status st;
  assert_non_null(exec);
  assert_int_equal(kube_exec_from_config(&x, exec, "/", cluster, "user \"u\"", &st), KUBE_OK);
  json_decref(exec);
  json_decref(cluster);
  return x;
}

#define OUT_TOKEN(tok)            \
  "printf '{\"apiVersion\":\"" V1 \
  "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' " tok

static void run_fails(const char *script, const char *mode, long timeout_ms, const char *want)
{
  kube_exec *x = sh_plugin(script, mode);
  kube_cred *c = NULL;
  kube_status st;
  memset(&st, 0, sizeof(st));
  assert_true(kube_exec_run(&c, x, &cluster_cfg, timeout_ms, &st) < 0);
  assert_null(c);
  if (strstr(st.message, "credential plugin \"sh\"") == NULL || strstr(st.message, want) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", st.message, want);
  assert_null(strstr(st.message, "s3cr3t"));
  kube_exec_free(x);
}

static void running(void **state)
{
  kube_exec *x;
  kube_cred *c = NULL;
  kube_status st;
  (void)state;
  char script[800];
  int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must not reach the plugin all the same */
  assert_true(fd > 2);
  /* the token, the env, KUBERNETES_EXEC_INFO, stdin at its end at once, no descriptor of ours */
  snprintf(script, sizeof(script), "test -e /proc/$$/fd/%d && exit 10; %s", fd,
           "test -z \"$(cat)\" || exit 9; "
           "test \"$PLUGIN_VAR\" = from-config || exit 8; "
           "test \"$KUBERNETES_EXEC_INFO\" = '{\"apiVersion\":\"" V1 "\",\"kind\":"
           "\"ExecCredential\",\"spec\":{\"interactive\":false}}' || exit 7; " OUT_TOKEN("tok-1"));
  x = sh_plugin(script, "IfAvailable");
  assert_int_equal(kube_exec_run(&c, x, &cluster_cfg, 10000, &st), KUBE_OK);
  assert_string_equal(c->token, "tok-1");
  kube_cred_unref(c);
  kube_exec_free(x);
  close(fd);

  run_fails("echo; echo 'first line' >&2; echo second >&2; " OUT_TOKEN("s3cr3t") "; exit 3",
            "Never", 10000, "failed with exit code 3: first line");
  run_fails("kill -9 $$", "Never", 10000, "was killed by signal 9");
  run_fails("sleep 30", "Never", 300, "did not finish within 1 s");
  run_fails("head -c 2000000 /dev/zero", "Never", 10000, "printed more than 1048576 bytes");
  run_fails("printf 's3cr3t'", "Never", 10000, "its output is not JSON");
  run_fails(OUT_TOKEN("t"), "Always", 10000, "interactiveMode is Always");
}

static void missing_command(void **state)
{
  json_t *exec = json_pack("{s:s, s:s, s:s}", "apiVersion", V1B, "command", "seal-no-such-plugin",
                           "installHint", "get it from example.org");
  json_t *cluster = json_object();
  kube_exec *x = NULL;
  kube_cred *c = NULL;
  kube_status st;
  (void)state;
  assert_int_equal(kube_exec_from_config(&x, exec, "/", cluster, "u", &st), KUBE_OK);
  assert_int_equal(kube_exec_run(&c, x, &cluster_cfg, 10000, &st), KUBE_ERR_CONFIG);
  assert_string_equal(st.message, "credential plugin \"seal-no-such-plugin\" not found in $PATH: "
                                  "get it from example.org");
  kube_exec_free(x);
  json_decref(exec);
  json_decref(cluster);
}

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_true(fputs(text, f) >= 0);
  assert_int_equal(fclose(f), 0);
}

/* A plugin that counts its runs in the file count and prints token "t<run>",
 * expiring at the time in count.exp. */
static kube_exec *counting_plugin(const char *count)
{
  char script[600];
  snprintf(script, sizeof(script),
           "echo run >> %s; printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
           "\"status\":{\"token\":\"t%%s\",\"expirationTimestamp\":\"%%s\"}}' "
           "$(wc -l < %s) \"$(cat %s.exp)\"",
           count, count, count);
  return sh_plugin(script, "Never");
}

/* kube_exec_get: cached until it expires or is invalidated by a 401. */
static void cache(void **state)
{
  char count[64], exp[80];
  kube_exec *x;
  kube_cred *a = NULL, *b = NULL;
  kube_status st;
  (void)state;
  snprintf(count, sizeof(count), "/tmp/kube-exec-count-%d", (int)getpid());
  snprintf(exp, sizeof(exp), "%s.exp", count);
  remove(count);
  write_text(exp, "2999-01-01T00:00:00Z");
  x = counting_plugin(count);
  assert_int_equal(kube_exec_get(&a, x, &cluster_cfg, &st), KUBE_OK);
  assert_int_equal(kube_exec_get(&b, x, &cluster_cfg, &st), KUBE_OK);
  assert_ptr_equal(a, b); /* valid: not run again */
  assert_string_equal(a->token, "t1");
  kube_cred_unref(b);
  kube_exec_invalidate(x, a);          /* a 401 to it */
  assert_string_equal(a->token, "t1"); /* the request still holds it */
  assert_int_equal(kube_exec_get(&b, x, &cluster_cfg, &st), KUBE_OK);
  assert_string_equal(b->token, "t2");
  kube_exec_invalidate(x, a); /* a late 401 to the old one does not end the new one */
  kube_cred_unref(a);
  assert_int_equal(kube_exec_get(&a, x, &cluster_cfg, &st), KUBE_OK);
  assert_ptr_equal(a, b);
  kube_cred_unref(a);
  kube_cred_unref(b);
  kube_exec_free(x);

  /* an expired credential is fetched again at each get */
  remove(count);
  write_text(exp, "2001-01-01T00:00:00Z");
  x = counting_plugin(count);
  assert_int_equal(kube_exec_get(&a, x, &cluster_cfg, &st), KUBE_OK);
  assert_string_equal(a->token, "t1");
  kube_cred_unref(a);
  assert_int_equal(kube_exec_get(&a, x, &cluster_cfg, &st), KUBE_OK);
  assert_string_equal(a->token, "t2");
  kube_cred_unref(a);
  kube_exec_free(x);
  remove(count);
  remove(exp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(token_credential), cmocka_unit_test(certificate_credential),
      cmocka_unit_test(hostile_output),   cmocka_unit_test(rfc3339),
      cmocka_unit_test(exec_section),     cmocka_unit_test(running),
      cmocka_unit_test(missing_command),  cmocka_unit_test(cache),
  };
  if (doc_init() != 0 || sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
