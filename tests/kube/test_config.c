#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "doc.h"
#include "internal.h"
#include "kube.h"

#include "banned.h"

static char tmp[256];

static void write_file(const char *name, const char *text)
{
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", tmp, name);
  f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static const char *at(const char *name)
{
  static char bufs[4][512];
  static int k;
  char *b = bufs[k++ % 4];
  snprintf(b, 512, "%s/%s", tmp, name);
  return b;
}

static int setup(void **state)
{
  snprintf(tmp, sizeof(tmp), "/tmp/kube-config-test-XXXXXX");
  assert_non_null(mkdtemp(tmp));
  unsetenv("KUBECONFIG");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  setenv("HOME", tmp, 1); /* no ~/.kube/config unless a test writes one */
  return 0;
}

static int teardown(void **state)
{
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
  assert_int_equal(system(cmd), 0);
  return 0;
}

/* base64 of the PEM-ish texts below */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0EK\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nQ0VSVAo=\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nS0VZCg==\n-----END PRIVATE KEY-----\n"

static char *b64(const char *s)
{
  size_t n = strlen(s);
  size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
  char *out = malloc(cap);
  assert_non_null(out);
  sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
  return out;
}

static void data_fields(void **state)
{
  char text[4096];
  char *ca = b64(CA_PEM), *cert = b64(CERT_PEM), *key = b64(KEY_PEM);
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;

  snprintf(text, sizeof(text),
           "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
           "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443/\n"
           "    certificate-authority-data: %s\n"
           "users:\n- name: u\n  user:\n    token: tok-123\n"
           "    client-certificate-data: %s\n    client-key-data: %s\n"
           "contexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: team}\n",
           ca, cert, key);
  write_file("kc", text);
  o.kubeconfig = at("kc");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://10.0.0.1:6443");
  assert_string_equal(kube_config_namespace(cfg), "team");
  assert_string_equal(kube_config_context(cfg), "dev");
  assert_int_equal(kube_config_in_cluster(cfg), 0);
  assert_int_equal(cfg->ca_len, strlen(CA_PEM));
  assert_memory_equal(cfg->ca, CA_PEM, cfg->ca_len);
  assert_memory_equal(cfg->cert, CERT_PEM, strlen(CERT_PEM));
  assert_int_equal(cfg->key_len, strlen(KEY_PEM));
  assert_memory_equal(cfg->key, KEY_PEM, cfg->key_len);
  assert_string_equal(cfg->token, "tok-123");
  assert_null(cfg->token_file);
  assert_int_equal(cfg->insecure, 0);
  kube_config_free(cfg);
  free(ca);
  free(cert);
  free(key);
}

static void file_fields_relative_to_the_kubeconfig(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  char dir[512];

  snprintf(dir, sizeof(dir), "%s/sub", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  write_file("sub/ca.crt", CA_PEM);
  write_file("sub/client.crt", CERT_PEM);
  write_file("sub/client.key", KEY_PEM);
  write_file("sub/token", "  file-token\n");
  write_file("sub/kc", "current-context: x\n"
                       "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
                       "    certificate-authority: ca.crt\n    insecure-skip-tls-verify: true\n"
                       "users:\n- name: u\n  user:\n    token: ignored-when-a-file-is-given\n"
                       "    tokenFile: token\n    client-certificate: client.crt\n"
                       "    client-key: client.key\n"
                       "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n");
  o.kubeconfig = at("sub/kc");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_memory_equal(cfg->ca, CA_PEM, strlen(CA_PEM));
  assert_memory_equal(cfg->cert, CERT_PEM, strlen(CERT_PEM));
  assert_memory_equal(cfg->key, KEY_PEM, strlen(KEY_PEM));
  assert_string_equal(cfg->token, "file-token");
  assert_string_equal(cfg->token_file, at("sub/token"));
  assert_int_equal(cfg->insecure, 1);
  assert_string_equal(kube_config_namespace(cfg), "default");
  kube_config_free(cfg);

  /* a file field that points nowhere names the field and the file */
  write_file("sub/kc2", "current-context: x\n"
                        "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
                        "    certificate-authority: missing.crt\n"
                        "contexts:\n- name: x\n  context: {cluster: c}\n");
  o.kubeconfig = at("sub/kc2");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_null(cfg);
  assert_int_equal(st.err, KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "certificate-authority"));
  assert_non_null(strstr(st.message, "missing.crt"));
}

static const char two_contexts[] = "clusters:\n- name: ca\n  cluster: {server: 'https://a:1'}\n"
                                   "- name: cb\n  cluster: {server: 'https://b:2'}\n"
                                   "users:\n- name: u\n  user: {token: t}\n"
                                   "contexts:\n- name: a\n  context: {cluster: ca, user: u}\n"
                                   "- name: b\n  context: {cluster: cb, user: u, namespace: nb}\n"
                                   "- name: lost-cluster\n  context: {cluster: nope, user: u}\n"
                                   "- name: lost-user\n  context: {cluster: ca, user: nobody}\n";

static void missing_current_context(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  write_file("kc", two_contexts);
  o.kubeconfig = at("kc");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_null(cfg);
  assert_non_null(strstr(st.message, "no current-context"));
  assert_non_null(strstr(st.message, at("kc")));
}

static void named_context(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  write_file("kc", two_contexts);
  o.kubeconfig = at("kc");
  o.context = "b";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://b:2");
  assert_string_equal(kube_config_namespace(cfg), "nb");
  assert_string_equal(kube_config_context(cfg), "b");
  kube_config_free(cfg);

  o.context = "zz";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "context \"zz\" not found"));
  o.context = "lost-cluster";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "cluster \"nope\" not found"));
  o.context = "lost-user";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "user \"nobody\" not found"));
  assert_null(cfg);
}

static void kubeconfig_env_merge(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  char env[2048];
  char dir[512];

  snprintf(dir, sizeof(dir), "%s/two", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  write_file("one", "current-context: x\n"
                    "clusters:\n- name: shared\n  cluster: {server: 'https://first:1'}\n"
                    "contexts:\n- name: x\n  context: {cluster: shared, user: u}\n");
  write_file("two/kc",
             "current-context: y\n"
             "clusters:\n- name: shared\n  cluster: {server: 'https://second:2'}\n"
             "- name: own\n  cluster: {server: 'https://own:3', certificate-authority: ca.crt}\n"
             "users:\n- name: u\n  user: {token: from-two}\n"
             "contexts:\n- name: y\n  context: {cluster: own, user: u, namespace: ny}\n"
             "- name: x\n  context: {cluster: own, user: nobody}\n");
  write_file("two/ca.crt", CA_PEM);
  /* a missing file and an empty entry in the list are skipped, as kubectl does */
  snprintf(env, sizeof(env), "%s::%s:%s", at("one"), at("does-not-exist"), at("two/kc"));
  setenv("KUBECONFIG", env, 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  /* first file wins: current-context x, cluster shared from one, context x from one */
  assert_string_equal(kube_config_context(cfg), "x");
  assert_string_equal(kube_config_server(cfg), "https://first:1");
  assert_string_equal(cfg->token, "from-two"); /* user u only in two */
  kube_config_free(cfg);

  o.context = "y";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://own:3");
  assert_string_equal(kube_config_namespace(cfg), "ny");
  /* ca.crt resolved against two/, the folder of the file that named it */
  assert_memory_equal(cfg->ca, CA_PEM, strlen(CA_PEM));
  kube_config_free(cfg);

  /* the explicit path wins over $KUBECONFIG */
  o.context = NULL;
  o.kubeconfig = at("two/kc");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_context(cfg), "y");
  kube_config_free(cfg);

  /* none of the listed files exists */
  o.kubeconfig = NULL;
  setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "$KUBECONFIG"));
  unsetenv("KUBECONFIG");
}

static void home_kube_config(void **state)
{
  kube_config *cfg = NULL;
  kube_status st;
  char dir[512];

  assert_int_equal(kube_config_load(&cfg, NULL, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "no kubeconfig found"));
  snprintf(dir, sizeof(dir), "%s/.kube", tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  write_file(".kube/config", "current-context: h\n"
                             "clusters:\n- name: c\n  cluster: {server: 'http://home:8080'}\n"
                             "contexts:\n- name: h\n  context: {cluster: c}\n");
  assert_int_equal(kube_config_load(&cfg, NULL, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "http://home:8080");
  assert_null(cfg->token);
  kube_config_free(cfg);
}

/* kubeconfigs that must be refused, and what the message must say */
static const struct {
  const char *text, *reason;
} hostile[] = {
    {"clusters: [unclosed\n", "hostile"},
    {"- a\n- b\n", "not a single map"},
    {"current-context: x\nclusters: {a: b}\n", "\"clusters\" is not a list"},
    {"current-context: x\nclusters:\n- cluster: {server: 'https://h'}\n", "has no name"},
    {"current-context: x\nclusters:\n- name: c\n  cluster: [1]\n", "is not a map"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'https://h:1', "
     "certificate-authority-data: '!!notbase64!!'}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "certificate-authority-data is not valid base64"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'ftp://h'}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "server is not an http(s) URL"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: {nested: 1}}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "\"server\" is not a string"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
     "users:\n- name: u\n  user: {client-certificate-data: QQ==}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "needs its key"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
     "users:\n- name: u\n  user: {tokenFile: /nonexistent/token}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "tokenFile"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
     "users:\n- name: u\n  user: {token: \"t\\r\\nX-Injected: 1\"}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "token holds a space, line break or control character"},
    {"current-context: x\n"
     "clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
     "users:\n- name: u\n  user: {tokenFile: injecting-token}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "holds a space, line break or control character"},
    {"current-context: x\ncontexts:\n- name: x\n  context: {user: u}\n", "no cluster"},
    {"", "no current-context"},
};

static void unreadable_and_malformed_files(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;

  o.kubeconfig = at("nope");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, at("nope")));
  assert_non_null(strstr(st.message, "No such file"));

  o.kubeconfig = tmp; /* a folder */
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "not a regular file"));

  write_file("injecting-token", "t0k\r\nX-Injected: 1\n");
  for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
    write_file("hostile", hostile[i].text);
    o.kubeconfig = at("hostile");
    assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
    assert_int_equal(st.err, KUBE_ERR_CONFIG);
    if (strstr(st.message, hostile[i].reason) == NULL || strstr(st.message, at("hostile")) == NULL)
      fail_msg("case %zu: message \"%s\" lacks \"%s\" or the file name", i, st.message,
               hostile[i].reason);
    assert_null(cfg);
  }
}

static void make_sa(const char *ns)
{
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/sa", tmp);
  mkdir(dir, 0700);
  write_file("sa/token", "sa-token\n");
  write_file("sa/ca.crt", CA_PEM);
  if (ns)
    write_file("sa/namespace", ns);
}

static void in_cluster(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;

  make_sa("seal-system");
  o.source = KUBE_CONFIG_IN_CLUSTER;
  o.sa_dir = at("sa");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "KUBERNETES_SERVICE_HOST"));

  setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://[fd00:10:96::1]:443");
  assert_string_equal(kube_config_namespace(cfg), "seal-system");
  assert_null(kube_config_context(cfg));
  assert_int_equal(kube_config_in_cluster(cfg), 1);
  assert_string_equal(cfg->token, "sa-token");
  assert_string_equal(cfg->token_file, at("sa/token"));
  assert_memory_equal(cfg->ca, CA_PEM, strlen(CA_PEM));
  kube_config_free(cfg);

  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://10.96.0.1:443");
  kube_config_free(cfg);

  /* AUTO falls back to in-cluster when no kubeconfig exists */
  o.source = KUBE_CONFIG_AUTO;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_int_equal(kube_config_in_cluster(cfg), 1);
  kube_config_free(cfg);
  /* ... but FILES never does */
  o.source = KUBE_CONFIG_FILES;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);

  /* hostile environment */
  o.source = KUBE_CONFIG_IN_CLUSTER;
  setenv("KUBERNETES_SERVICE_PORT", "443/x", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "not a port"));
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  setenv("KUBERNETES_SERVICE_HOST", "evil.example/path@", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "not a host"));
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);

  /* no namespace file: default; an empty token file is an error */
  unlink(at("sa/namespace"));
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_namespace(cfg), "default");
  kube_config_free(cfg);
  write_file("sa/token", " \n");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "empty"));
  unlink(at("sa/token"));
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, at("sa/token")));
  assert_null(cfg);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

static void client_copies_the_config(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_client *c = NULL;
  kube_client_opts co;
  kube_status st;
  char *key = b64(KEY_PEM), *cert = b64(CERT_PEM), text[2048];

  snprintf(
      text, sizeof(text),
      "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n"
      "users:\n- name: u\n  user: {token: t, client-certificate-data: %s, client-key-data: %s}\n"
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
      cert, key);
  write_file("kc", text);
  o.kubeconfig = at("kc");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  kube_client_opts_init(&co);
  co.max_in_flight = 0;
  assert_int_equal(kube_client_new(&c, cfg, &co, &st), KUBE_ERR_INVALID);
  assert_null(c);
  assert_int_equal(kube_client_new(&c, cfg, NULL, &st), KUBE_OK);
  kube_config_free(cfg); /* the client holds its own copy */
  assert_int_equal(kube_client_pending(c), 0);
  assert_int_equal(kube_request(c, "BREW", "/x", NULL, 0, NULL, NULL, NULL), KUBE_ERR_INVALID);
  kube_client_free(c);
  free(key);
  free(cert);
}

/* ---- kubectl's connection flags on top of the kubeconfig ------------------ */

static void write_two_clusters(void)
{
  char text[4096];
  char *ca = b64(CA_PEM), *cert = b64(CERT_PEM), *key = b64(KEY_PEM);

  snprintf(
      text, sizeof(text),
      "current-context: x\n"
      "clusters:\n"
      "- name: a\n  cluster: {server: 'https://a.example:6443/', certificate-authority-data: %s}\n"
      "- name: b\n  cluster: {server: 'https://b.example:7443', insecure-skip-tls-verify: true}\n"
      "- name: broken\n  cluster: {server: 'https://c.example', certificate-authority: missing.crt}\n"
      "users:\n"
      "- name: ua\n  user: {token: token-a}\n"
      "- name: ub\n  user: {client-certificate-data: %s, client-key-data: %s}\n"
      "- name: uf\n  user: {tokenFile: missing-token}\n"
      "contexts:\n- name: x\n  context: {cluster: a, user: ua, namespace: ns1}\n",
      ca, cert, key);
  write_file("two", text);
  free(ca);
  free(cert);
  free(key);
}

static void overrides_pick_cluster_and_user(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;

  write_two_clusters();
  o.kubeconfig = at("two");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://a.example:6443");
  assert_string_equal(cfg->token, "token-a");
  assert_non_null(cfg->ca);
  kube_config_free(cfg);

  /* another cluster: its server and TLS settings, the context's user and namespace */
  o.overrides.cluster = "b";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://b.example:7443");
  assert_int_equal(kube_config_insecure(cfg), 1);
  assert_null(cfg->ca);
  assert_string_equal(cfg->token, "token-a");
  assert_string_equal(kube_config_namespace(cfg), "ns1");
  assert_string_equal(kube_config_context(cfg), "x");
  kube_config_free(cfg);

  /* another user: its credentials, the context's cluster */
  o.overrides.cluster = NULL;
  o.overrides.user = "ub";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://a.example:6443");
  assert_null(cfg->token);
  assert_memory_equal(cfg->cert, CERT_PEM, strlen(CERT_PEM));
  assert_memory_equal(cfg->key, KEY_PEM, strlen(KEY_PEM));
  kube_config_free(cfg);

  /* entries that do not exist are named, with the flag that named them */
  o.overrides.user = "nobody";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "user \"nobody\" (--user) not found"));
  assert_null(cfg);
  o.overrides.user = NULL;
  o.overrides.cluster = "nowhere";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "cluster \"nowhere\" (--cluster) not found"));
  assert_non_null(strstr(st.message, at("two")));
  /* empty strings are not given, as for kubectl */
  o.overrides.cluster = "";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://a.example:6443");
  kube_config_free(cfg);
}

static void overrides_server_token_and_tls(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  char kc[512], other_ca[512], missing_ca[512], empty_ca[512]; /* at() reuses its buffers */

  write_two_clusters();
  write_file("other-ca.crt", CERT_PEM);
  write_file("empty-ca.crt", "");
  snprintf(kc, sizeof(kc), "%s", at("two"));
  snprintf(other_ca, sizeof(other_ca), "%s", at("other-ca.crt"));
  snprintf(missing_ca, sizeof(missing_ca), "%s", at("no-such-ca.crt"));
  snprintf(empty_ca, sizeof(empty_ca), "%s", at("empty-ca.crt"));
  o.kubeconfig = kc;

  /* --server replaces the server; the cluster's CA stays */
  o.overrides.server = "https://10.1.2.3:443//";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://10.1.2.3:443");
  assert_memory_equal(cfg->ca, CA_PEM, strlen(CA_PEM));
  kube_config_free(cfg);
  o.overrides.server = "ftp://10.1.2.3";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "--server: server is not an http(s) URL"));
  o.overrides.server = NULL;

  /* --token replaces every credential of the user, and the user's files are not read */
  o.overrides.user = "ub";
  o.overrides.token = "override-token";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(cfg->token, "override-token");
  assert_null(cfg->cert);
  assert_null(cfg->key);
  assert_null(cfg->token_file);
  kube_config_free(cfg);
  o.overrides.user = "uf"; /* its tokenFile does not exist */
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(cfg->token, "override-token");
  assert_null(cfg->token_file);
  kube_config_free(cfg);
  o.overrides.user = NULL;
  o.overrides.token = "secret-part\r\nX-Injected: 1";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "--token holds a space"));
  assert_null(strstr(st.message, "secret-part")); /* never quoted */
  o.overrides.token = NULL;

  /* --certificate-authority replaces the cluster's CA and its insecure-skip-tls-verify */
  o.overrides.cluster = "b";
  o.overrides.certificate_authority = other_ca;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_int_equal(kube_config_insecure(cfg), 0);
  assert_memory_equal(cfg->ca, CERT_PEM, strlen(CERT_PEM));
  assert_int_equal(cfg->ca_len, strlen(CERT_PEM));
  kube_config_free(cfg);
  /* ... and a CA file of the kubeconfig that is missing is not read then */
  o.overrides.cluster = "broken";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  kube_config_free(cfg);
  o.overrides.cluster = NULL;
  o.overrides.certificate_authority = missing_ca;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "--certificate-authority"));
  assert_non_null(strstr(st.message, missing_ca));
  assert_null(cfg);
  o.overrides.certificate_authority = empty_ca;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "is empty"));

  /* --insecure-skip-tls-verify drops the cluster's CA */
  o.overrides.certificate_authority = NULL;
  o.overrides.insecure_skip_tls_verify = 1;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_int_equal(kube_config_insecure(cfg), 1);
  assert_null(cfg->ca);
  kube_config_free(cfg);

  /* both at once are refused, as kubectl refuses them */
  o.overrides.certificate_authority = other_ca;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_INVALID);
  assert_int_equal(st.err, KUBE_ERR_INVALID);
  assert_non_null(strstr(st.message, "--certificate-authority and --insecure-skip-tls-verify "
                                     "cannot be used together"));
  assert_null(cfg);
}

/* A context that names a user but no cluster: with --server the user's
 * credentials still apply, as kubectl applies them. */
static void overrides_server_keeps_the_users_credentials(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;
  char text[4096];
  char *cert = b64(CERT_PEM), *key = b64(KEY_PEM);

  (void)state;
  snprintf(text, sizeof(text),
           "current-context: x\n"
           "users:\n"
           "- name: ua\n  user: {token: token-a}\n"
           "- name: ub\n  user: {client-certificate-data: %s, client-key-data: %s}\n"
           "contexts:\n- name: x\n  context: {user: ua, namespace: ns1}\n",
           cert, key);
  free(cert);
  free(key);
  write_file("userless", text);
  o.kubeconfig = at("userless");
  /* without --server there is no cluster to talk to */
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "no cluster"));
  o.overrides.server = "https://10.1.2.3:443";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://10.1.2.3:443");
  assert_string_equal(kube_config_namespace(cfg), "ns1");
  assert_string_equal(cfg->token, "token-a");
  kube_config_free(cfg);
  o.overrides.user = "ub";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_null(cfg->token);
  assert_memory_equal(cfg->cert, CERT_PEM, strlen(CERT_PEM));
  assert_non_null(cfg->key);
  kube_config_free(cfg);
}

static void overrides_without_a_kubeconfig(void **state)
{
  kube_config_opts o = {0};
  kube_config *cfg = NULL;
  kube_status st;

  write_file("ca.crt", CA_PEM);
  /* no kubeconfig at all ($HOME has none): the overrides alone */
  o.overrides.server = "https://127.0.0.1:6443";
  o.overrides.token = "tok";
  o.overrides.certificate_authority = at("ca.crt");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://127.0.0.1:6443");
  assert_string_equal(cfg->token, "tok");
  assert_memory_equal(cfg->ca, CA_PEM, strlen(CA_PEM));
  assert_string_equal(kube_config_namespace(cfg), "default");
  assert_null(kube_config_context(cfg));
  assert_int_equal(kube_config_in_cluster(cfg), 0);
  kube_config_free(cfg);

  /* not in cluster either, even where it could be */
  make_sa("seal-system");
  o.sa_dir = at("sa");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_int_equal(kube_config_in_cluster(cfg), 0);
  assert_string_equal(kube_config_server(cfg), "https://127.0.0.1:6443");
  kube_config_free(cfg);
  /* in cluster, the overrides apply on top of the service account */
  o.source = KUBE_CONFIG_IN_CLUSTER;
  o.overrides.token = NULL;
  o.overrides.certificate_authority = NULL;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_int_equal(kube_config_in_cluster(cfg), 1);
  assert_string_equal(kube_config_server(cfg), "https://127.0.0.1:6443");
  assert_string_equal(cfg->token, "sa-token");
  kube_config_free(cfg);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  o.source = KUBE_CONFIG_AUTO;

  /* an entry to pick needs a kubeconfig */
  o.overrides.cluster = "a";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "no kubeconfig found for --cluster \"a\""));
  o.overrides.cluster = NULL;
  /* without a server it is the usual error */
  o.overrides.server = NULL;
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "no kubeconfig found"));

  /* a kubeconfig without a current-context: a server or a cluster is enough */
  write_two_clusters();
  write_file("no-ctx", "clusters:\n- name: b\n  cluster: {server: 'https://b.example'}\n");
  o.kubeconfig = at("no-ctx");
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "no current-context"));
  o.overrides.cluster = "b";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "https://b.example");
  assert_null(kube_config_context(cfg));
  assert_null(cfg->token);
  kube_config_free(cfg);
  o.overrides.cluster = NULL;
  o.overrides.server = "http://127.0.0.1:8080";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_OK);
  assert_string_equal(kube_config_server(cfg), "http://127.0.0.1:8080");
  kube_config_free(cfg);
  /* a context named but missing stays an error */
  o.context = "gone";
  assert_int_equal(kube_config_load(&cfg, &o, &st), KUBE_ERR_CONFIG);
  assert_non_null(strstr(st.message, "context \"gone\" not found"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(data_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(file_fields_relative_to_the_kubeconfig, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_current_context, setup, teardown),
      cmocka_unit_test_setup_teardown(named_context, setup, teardown),
      cmocka_unit_test_setup_teardown(kubeconfig_env_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(home_kube_config, setup, teardown),
      cmocka_unit_test_setup_teardown(unreadable_and_malformed_files, setup, teardown),
      cmocka_unit_test_setup_teardown(in_cluster, setup, teardown),
      cmocka_unit_test_setup_teardown(client_copies_the_config, setup, teardown),
      cmocka_unit_test_setup_teardown(overrides_pick_cluster_and_user, setup, teardown),
      cmocka_unit_test_setup_teardown(overrides_server_token_and_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(overrides_server_keeps_the_users_credentials, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(overrides_without_a_kubeconfig, setup, teardown),
  };
  if (doc_init() != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
