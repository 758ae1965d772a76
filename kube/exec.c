#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "internal.h"
#include "kube.h"

#include "banned.h"

/*
 * Kubeconfig credential plugins (users[].user.exec), run as client-go runs
 * them (k8s.io/client-go/plugin/pkg/client/auth/exec): the command with its
 * args, the process's environment plus the configured env and
 * KUBERNETES_EXEC_INFO (an ExecCredential with spec.interactive false, and
 * spec.cluster with provideClusterInfo), stdin /dev/null (never interactive),
 * stderr copied to ours as it comes, stdout read as an ExecCredential whose
 * status holds a token and/or a client certificate and key. The credential is
 * kept until status.expirationTimestamp; the client runs the plugin again then
 * and after a 401 answer.
 */

extern char **environ;

#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define EXEC_MAX_ARGS 256
#define EXEC_MAX_ENV 256
#define STDERR_LINE 200

enum { MODE_NEVER = 0, MODE_IF_AVAILABLE = 1, MODE_ALWAYS = 2 };

struct kube_exec {
  char *api_version;
  char **argv;        /* argv[0] the command (resolved when it holds a '/'), NULL-terminated */
  char **env;         /* "NAME=value", NULL-terminated */
  char *install_hint; /* or NULL */
  int mode;
  int provide_cluster; /* provideClusterInfo */
  json_t *cluster;     /* tls-server-name, proxy-url, disable-compression, config of the cluster */
  kube_cred *cred;     /* the cached credential, or NULL */
};

/* ---- credentials -------------------------------------------------------- */

void kube_cred_unref(kube_cred *c)
{
  if (c == NULL || --c->refs > 0)
    return;
  sodium_free(c->token); /* wipes */
  free(c->cert);
  sodium_free(c->key);
  free(c);
}

static kube_cred *cred_ref(kube_cred *c)
{
  c->refs++;
  return c;
}

/* ---- the kubeconfig's exec section -------------------------------------- */

static void free_strv(char **v)
{
  if (v == NULL)
    return;
  for (size_t i = 0; v[i] != NULL; i++)
    free(v[i]);
  free(v);
}

static char **dup_strv(char *const *v)
{
  size_t n = 0;
  char **out;

  while (v[n] != NULL)
    n++;
  out = calloc(n + 1, sizeof(*out));
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((out[i] = strdup(v[i])) == NULL) {
      free_strv(out);
      return NULL;
    }
  return out;
}

void kube_exec_free(kube_exec *x)
{
  if (x == NULL)
    return;
  free(x->api_version);
  free_strv(x->argv);
  free_strv(x->env);
  free(x->install_hint);
  json_decref(x->cluster);
  kube_cred_unref(x->cred);
  free(x);
}

int kube_exec_dup(kube_exec **out, const kube_exec *x)
{
  kube_exec *c;

  *out = NULL;
  if (x == NULL)
    return KUBE_OK;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return KUBE_ERR_NOMEM;
  c->mode = x->mode;
  c->provide_cluster = x->provide_cluster;
  c->api_version = strdup(x->api_version);
  c->argv = dup_strv(x->argv);
  c->env = dup_strv(x->env);
  c->install_hint = x->install_hint ? strdup(x->install_hint) : NULL;
  c->cluster = json_deep_copy(x->cluster);
  if (c->api_version == NULL || c->argv == NULL || c->env == NULL || c->cluster == NULL ||
      (x->install_hint != NULL && c->install_hint == NULL)) {
    kube_exec_free(c);
    return KUBE_ERR_NOMEM;
  }
  *out = c; /* the cached credential is not shared: each client runs the plugin itself */
  return KUBE_OK;
}

static int bad(kube_status *st, const char *where, const char *what)
{
  kube_status_set(st, KUBE_ERR_CONFIG, "%s: exec: %s", where, what);
  return KUBE_ERR_CONFIG;
}

/* One entry of a list as the string the plugin gets: KUBE_OK,
 * KUBE_ERR_NOMEM, or KUBE_ERR_CONFIG with *why. */
typedef int (*entry_fn)(char **out, const json_t *e, const char **why);

static int arg_entry(char **out, const json_t *e, const char **why)
{
  *why = "is not a string";
  if (!json_is_string(e))
    return KUBE_ERR_CONFIG;
  *out = strdup(json_string_value(e));
  return *out ? KUBE_OK : KUBE_ERR_NOMEM;
}

static int env_entry(char **out, const json_t *e, const char **why)
{
  const char *name = json_string_value(json_object_get(e, "name"));
  const char *value = json_string_value(json_object_get(e, "value"));
  size_t len;

  *why = "needs a name (without '=') and a string value";
  if (name == NULL || name[0] == '\0' || strchr(name, '=') != NULL || value == NULL)
    return KUBE_ERR_CONFIG;
  len = strlen(name) + strlen(value) + 2;
  if ((*out = malloc(len)) == NULL)
    return KUBE_ERR_NOMEM;
  snprintf(*out, len, "%s=%s", name, value);
  return KUBE_OK;
}

/*
 * The list at key (absent or null: empty), at most max entries (named
 * `entries` in the message), as a NULL-terminated vector with `first` slots
 * left free in front (argv[0] is the command).
 */
static int parse_list(char ***out, size_t first, const json_t *exec, const char *key, int max,
                      const char *entries, entry_fn fn, const char *where, kube_status *st)
{
  const json_t *list = json_object_get(exec, key), *e;
  size_t n = json_is_array(list) ? json_array_size(list) : 0, i;
  const char *why = NULL;
  char msg[96];

  if (list != NULL && !json_is_null(list) && !json_is_array(list)) {
    snprintf(msg, sizeof(msg), "\"%s\" is not a list", key);
    return bad(st, where, msg);
  }
  if (n > (size_t)max) {
    snprintf(msg, sizeof(msg), "more than %d %s", max, entries);
    return bad(st, where, msg);
  }
  if ((*out = calloc(first + n + 1, sizeof(**out))) == NULL)
    return KUBE_ERR_NOMEM;
  json_array_foreach(list, i, e) {
    int rc = fn(&(*out)[first + i], e, &why);
    if (rc == KUBE_ERR_CONFIG) {
      snprintf(msg, sizeof(msg), "%s[%zu] %s", key, i, why);
      return bad(st, where, msg);
    }
    if (rc != KUBE_OK)
      return rc;
  }
  return KUBE_OK;
}

/* What spec.cluster carries beside server, CA and insecure-skip-tls-verify. */
static int parse_cluster(kube_exec *x, const json_t *cluster)
{
  static const char *const keys[] = {"tls-server-name", "proxy-url", "disable-compression"};
  const json_t *ext = json_object_get(cluster, "extensions"), *item;
  size_t i;

  x->cluster = json_object();
  if (x->cluster == NULL)
    return KUBE_ERR_NOMEM;
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    json_t *v = json_object_get(cluster, keys[i]);
    if ((json_is_string(v) && json_string_length(v) > 0) || json_is_true(v))
      if (json_object_set(x->cluster, keys[i], v) != 0)
        return KUBE_ERR_NOMEM;
  }
  /* the cluster's extension named client.authentication.k8s.io/exec is spec.cluster.config */
  json_array_foreach(ext, i, item) {
    const char *name = json_string_value(json_object_get(item, "name"));
    json_t *v = json_object_get(item, "extension");
    if (name != NULL && strcmp(name, "client.authentication.k8s.io/exec") == 0 && v != NULL)
      if (json_object_set(x->cluster, "config", v) != 0)
        return KUBE_ERR_NOMEM;
  }
  return KUBE_OK;
}

int kube_exec_from_config(kube_exec **out, const json_t *exec, const char *dir,
                          const json_t *cluster, const char *where, kube_status *st)
{
  const char *api = json_string_value(json_object_get(exec, "apiVersion"));
  const char *cmd = json_string_value(json_object_get(exec, "command"));
  const char *mode = json_string_value(json_object_get(exec, "interactiveMode"));
  const char *hint = json_string_value(json_object_get(exec, "installHint"));
  const json_t *pci = json_object_get(exec, "provideClusterInfo");
  kube_exec *x;
  int rc;

  *out = NULL;
  if (!json_is_object(exec))
    return bad(st, where, "not a map");
  if (api == NULL || (strcmp(api, EXEC_V1) != 0 && strcmp(api, EXEC_V1BETA1) != 0)) {
    kube_status_set(st, KUBE_ERR_CONFIG,
                    "%s: exec: apiVersion %s%.100s%s is not supported (" EXEC_V1 " or " EXEC_V1BETA1
                    ")",
                    where, api ? "\"" : "", api ? api : "missing", api ? "\"" : "");
    return KUBE_ERR_CONFIG;
  }
  if (cmd == NULL || cmd[0] == '\0')
    return bad(st, where, "no command");
  if (pci != NULL && !json_is_boolean(pci))
    return bad(st, where, "provideClusterInfo is not true or false");
  x = calloc(1, sizeof(*x));
  if (x == NULL)
    return KUBE_ERR_NOMEM;
  rc = KUBE_ERR_NOMEM;
  if (mode == NULL || mode[0] == '\0') {
    if (strcmp(api, EXEC_V1) == 0) { /* as client-go: v1 must say, v1beta1 means IfAvailable */
      rc = bad(st, where,
               "interactiveMode must be set (Never, IfAvailable or Always) with " EXEC_V1);
      goto out;
    }
    x->mode = MODE_IF_AVAILABLE;
  } else if (strcmp(mode, "Never") == 0) {
    x->mode = MODE_NEVER;
  } else if (strcmp(mode, "IfAvailable") == 0) {
    x->mode = MODE_IF_AVAILABLE;
  } else if (strcmp(mode, "Always") == 0) {
    x->mode = MODE_ALWAYS;
  } else {
    rc = bad(st, where, "interactiveMode is not Never, IfAvailable or Always");
    goto out;
  }
  x->provide_cluster = json_is_true(pci);
  if ((x->api_version = strdup(api)) == NULL ||
      (hint != NULL && hint[0] != '\0' && (x->install_hint = strdup(hint)) == NULL))
    goto out;
  rc = parse_list(&x->argv, 1, exec, "args", EXEC_MAX_ARGS, "args", arg_entry, where, st);
  if (rc == KUBE_OK)
    rc = parse_list(&x->env, 0, exec, "env", EXEC_MAX_ENV, "env entries", env_entry, where, st);
  if (rc == KUBE_OK)
    rc = parse_cluster(x, cluster);
  if (rc < 0)
    goto out;
  rc = KUBE_ERR_NOMEM;
  /* as kubectl: a command with a '/' in it is a path, relative to the kubeconfig's folder;
   * a bare name is looked up in $PATH */
  if (strchr(cmd, '/') != NULL && cmd[0] != '/' && dir != NULL && dir[0] != '\0') {
    size_t len = strlen(dir) + strlen(cmd) + 2;
    if ((x->argv[0] = malloc(len)) == NULL)
      goto out;
    snprintf(x->argv[0], len, "%s/%s", dir, cmd);
  } else if ((x->argv[0] = strdup(cmd)) == NULL) {
    goto out;
  }
  *out = x;
  x = NULL;
  rc = KUBE_OK;
out:
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "%s: exec: out of memory", where);
  kube_exec_free(x);
  return rc;
}

const char *kube_exec_command(const kube_exec *x)
{
  return x ? x->argv[0] : NULL;
}

/* ---- ExecCredential ----------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int kube_exec_parse_time(const char *s, time_t *out)
{
  struct tm tm;
  int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
  size_t i = 19;
  time_t t;

  memset(&tm, 0, sizeof(tm));
  if (strlen(s) < 20 || digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &mon) ||
      s[7] != '-' || digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      digits(s + 11, 2, &hour) || s[13] != ':' || digits(s + 14, 2, &min) || s[16] != ':' ||
      digits(s + 17, 2, &sec))
    return -1;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
    return -1;
  if (s[i] == '.') { /* fractional seconds: at least one digit, ignored */
    if (s[++i] < '0' || s[i] > '9')
      return -1;
    while (s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
    sign = 0;
  } else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 && !digits(s + i + 1, 2, &oh) &&
             s[i + 3] == ':' && !digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
    sign = s[i] == '+' ? 1 : -1;
  } else {
    return -1;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec > 59 ? 59 : sec;
  t = timegm(&tm);
  if (t == (time_t)-1 || tm.tm_mday != day) /* 31 February */
    return -1;
  *out = t - (time_t)sign * (oh * 3600 + om * 60);
  return 0;
}

/* Visible ASCII only (a line break would add a header line); the only check
 * on PEM texts is that they are text: libcurl and OpenSSL judge the rest. */
static int pem_text_ok(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x7f || (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t'))
      return 0;
  }
  return len > 0;
}

static int copy_secret(unsigned char **out, size_t *out_len, const char *s, size_t len, int secure)
{
  *out = secure ? sodium_malloc(len + 1) : malloc(len + 1);
  if (*out == NULL)
    return KUBE_ERR_NOMEM;
  memcpy(*out, s, len);
  (*out)[len] = '\0';
  *out_len = len;
  return KUBE_OK;
}

/* An optional string member of status; present means a non-empty string. */
static int status_str(const json_t *status, const char *key, const char **out, size_t *len)
{
  const json_t *v = json_object_get(status, key);
  *out = NULL;
  *len = 0;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return -1;
  *out = json_string_value(v);
  *len = json_string_length(v);
  if (*len == 0)
    *out = NULL;
  return 0;
}

int kube_exec_parse(kube_cred **out, const char *api_version, const char *cmd, const char *text,
                    size_t len, kube_status *st)
{
  json_t *doc = NULL, *status;
  json_error_t jerr;
  const char *kind, *api, *token, *cert, *key, *exp;
  size_t token_len, cert_len, key_len, exp_len;
  kube_cred *c = NULL;
  int rc = KUBE_ERR_CONFIG;

  *out = NULL;
  doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) { /* jansson's text quotes the output, which may hold a token: not shown */
    kube_status_set(st, rc, "credential plugin \"%s\": its output is not JSON (line %d, column %d)",
                    cmd, jerr.line, jerr.column);
    goto out;
  }
  if (!json_is_object(doc)) {
    kube_status_set(st, rc, "credential plugin \"%s\": its output is not an ExecCredential object",
                    cmd);
    goto out;
  }
  kind = json_string_value(json_object_get(doc, "kind"));
  api = json_string_value(json_object_get(doc, "apiVersion"));
  if (kind == NULL || strcmp(kind, "ExecCredential") != 0) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": its output has kind %s%.60s%s, not ExecCredential",
                    cmd, kind ? "\"" : "", kind ? kind : "missing", kind ? "\"" : "");
    goto out;
  }
  if (api == NULL || strcmp(api, api_version) != 0) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": its output has apiVersion %s%.80s%s, but the "
                    "kubeconfig asked for %s",
                    cmd, api ? "\"" : "", api ? api : "missing", api ? "\"" : "", api_version);
    goto out;
  }
  status = json_object_get(doc, "status");
  if (!json_is_object(status)) {
    kube_status_set(st, rc, "credential plugin \"%s\": its ExecCredential has no status", cmd);
    goto out;
  }
  if (status_str(status, "token", &token, &token_len) < 0 ||
      status_str(status, "clientCertificateData", &cert, &cert_len) < 0 ||
      status_str(status, "clientKeyData", &key, &key_len) < 0 ||
      status_str(status, "expirationTimestamp", &exp, &exp_len) < 0) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": status.token, clientCertificateData, clientKeyData "
                    "and expirationTimestamp must be strings",
                    cmd);
    goto out;
  }
  if (token == NULL && cert == NULL && key == NULL) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": status has neither a token nor a client certificate "
                    "and key",
                    cmd);
    goto out;
  }
  if ((cert == NULL) != (key == NULL)) {
    kube_status_set(st, rc, "credential plugin \"%s\": status has a client %s without its %s", cmd,
                    cert ? "certificate" : "key", cert ? "key" : "certificate");
    goto out;
  }
  if (token != NULL && !kube_token_ok(token, token_len)) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": status.token holds a space, line break or control "
                    "character",
                    cmd);
    goto out;
  }
  if (cert != NULL && (!pem_text_ok(cert, cert_len) || !pem_text_ok(key, key_len))) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": status.clientCertificateData and clientKeyData must "
                    "be PEM text",
                    cmd);
    goto out;
  }
  rc = KUBE_ERR_NOMEM;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto out;
  c->refs = 1;
  if (exp != NULL && kube_exec_parse_time(exp, &c->expires) < 0) {
    rc = KUBE_ERR_CONFIG;
    kube_status_set(st, rc,
                    "credential plugin \"%s\": status.expirationTimestamp \"%.40s\" is not an RFC "
                    "3339 time",
                    cmd, exp);
    goto out;
  }
  c->has_expiry = exp != NULL;
  if (token != NULL) {
    size_t n;
    if (copy_secret((unsigned char **)&c->token, &n, token, token_len, 1) < 0)
      goto out;
  }
  if (cert != NULL && (copy_secret(&c->cert, &c->cert_len, cert, cert_len, 0) < 0 ||
                       copy_secret(&c->key, &c->key_len, key, key_len, 1) < 0))
    goto out;
  *out = c;
  c = NULL;
  rc = KUBE_OK;
out:
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "credential plugin \"%s\": out of memory", cmd);
  kube_cred_unref(c);
  json_decref(doc); /* jansson's allocator wipes (doc_init) */
  return rc;
}

/* ---- running the plugin ------------------------------------------------- */

/* KUBERNETES_EXEC_INFO: the ExecCredential the plugin is asked to complete;
 * allocated by jansson. */
static char *exec_info(const kube_exec *x, const kube_config *cfg)
{
  json_t *doc = json_pack("{s:s, s:s, s:{s:b}}", "apiVersion", x->api_version, "kind",
                          "ExecCredential", "spec", "interactive", 0);
  char *text = NULL;

  if (doc == NULL)
    return NULL;
  if (x->provide_cluster) {
    json_t *cl = json_deep_copy(x->cluster);
    int bad_ = cl == NULL || json_object_set_new(cl, "server", json_string(cfg->server)) != 0;
    if (!bad_ && cfg->insecure)
      bad_ = json_object_set_new(cl, "insecure-skip-tls-verify", json_true()) != 0;
    if (!bad_ && cfg->ca != NULL) {
      size_t n = sodium_base64_ENCODED_LEN(cfg->ca_len, sodium_base64_VARIANT_ORIGINAL);
      char *b = malloc(n);
      bad_ = b == NULL;
      if (!bad_) {
        sodium_bin2base64(b, n, cfg->ca, cfg->ca_len, sodium_base64_VARIANT_ORIGINAL);
        bad_ = json_object_set_new(cl, "certificate-authority-data", json_string(b)) != 0;
        free(b);
      }
    }
    if (bad_ || json_object_set_new(json_object_get(doc, "spec"), "cluster", cl) != 0) {
      if (!bad_)
        cl = NULL;
      json_decref(cl);
      json_decref(doc);
      return NULL;
    }
  }
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

/* The process's environment, then the configured env and KUBERNETES_EXEC_INFO,
 * each replacing a variable of the same name (as Go's os/exec does). */
static char **build_env(const kube_exec *x, const char *info)
{
  size_t n = 0, k = 0, extra = 0, ilen = strlen(info) + sizeof("KUBERNETES_EXEC_INFO=");
  char **envp, *iv;

  while (environ != NULL && environ[n] != NULL)
    n++;
  while (x->env[extra] != NULL)
    extra++;
  envp = calloc(n + extra + 2, sizeof(*envp));
  iv = malloc(ilen);
  if (envp == NULL || iv == NULL) {
    free(envp);
    free(iv);
    return NULL;
  }
  snprintf(iv, ilen, "KUBERNETES_EXEC_INFO=%s", info);
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t nl = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    int replaced = strncmp(environ[i], iv, nl) == 0;
    for (size_t j = 0; j < extra && !replaced; j++)
      replaced = strncmp(environ[i], x->env[j], nl) == 0;
    if (!replaced)
      envp[k++] = environ[i];
  }
  for (size_t j = 0; j < extra; j++) {
    size_t nl = (size_t)(strchr(x->env[j], '=') - x->env[j]) + 1;
    int skip = strncmp(x->env[j], iv, nl) == 0;     /* KUBERNETES_EXEC_INFO is ours to set */
    for (size_t l = j + 1; l < extra && !skip; l++) /* a name given twice: the last counts */
      skip = strncmp(x->env[l], x->env[j], nl) == 0;
    if (!skip)
      envp[k++] = x->env[j];
  }
  envp[k++] = iv; /* the last entry: build_env_free frees it */
  envp[k] = NULL;
  return envp;
}

static void build_env_free(char **envp)
{
  size_t k = 0;
  if (envp == NULL)
    return;
  while (envp[k] != NULL)
    k++;
  if (k > 0)
    free(envp[k - 1]);
  free(envp);
}

static int executable(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* The file to run, as Go's exec.LookPath finds it: a command with a '/' as
 * it is, a bare name in the directories of $PATH (ours, not the plugin's env),
 * never relative to the working folder. Looked up here rather than by
 * posix_spawnp, whose child may only report a missing file as exit code 127. */
static int find_command(char *out, size_t size, const char *cmd)
{
  const char *path = getenv("PATH"), *p, *end;

  if (strchr(cmd, '/') != NULL)
    return snprintf(out, size, "%s", cmd) < (int)size && executable(out) ? 0 : -1;
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (p = path; *p != '\0'; p = *end ? end + 1 : end) {
    end = strchr(p, ':');
    if (end == NULL)
      end = p + strlen(p);
    if (end == p || *p != '/')
      continue; /* an empty or relative entry means the working folder: not searched */
    if (snprintf(out, size, "%.*s/%s", (int)(end - p), p, cmd) < (int)size && executable(out))
      return 0;
  }
  return -1;
}

static uint64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Copies the plugin's stderr to ours and keeps its first line for messages. */
static void stderr_chunk(const char *data, size_t n, char *first, size_t *first_len,
                         int *first_done)
{
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(STDERR_FILENO, data + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break; /* our stderr is gone: the plugin's messages are lost, not the run */
    off += (size_t)w;
  }
  for (size_t i = 0; i < n && !*first_done; i++) {
    unsigned char ch = (unsigned char)data[i];
    if (ch == '\n') {
      if (*first_len > 0)
        *first_done = 1; /* leading empty lines do not count */
      continue;
    }
    if (*first_len + 1 < STDERR_LINE)
      first[(*first_len)++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
  }
  first[*first_len] = '\0';
}

int kube_exec_run(kube_cred **out, const kube_exec *x, const kube_config *cfg, long timeout_ms,
                  kube_status *st)
{
  const char *cmd = x->argv[0];
  int opipe[2] = {-1, -1}, epipe[2] = {-1, -1}, rc = KUBE_ERR_CONFIG, status = 0, err;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, defaults;
  char *info = NULL, **envp = NULL, first[STDERR_LINE], file[PATH_MAX];
  unsigned char *buf = NULL;
  size_t len = 0, first_len = 0;
  int first_done = 0, fa_ok = 0, attr_ok = 0, overflow = 0, reaped = 0, timed_out = 0;
  pid_t pid = -1;
  uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

  *out = NULL;
  first[0] = '\0';
  if (x->mode == MODE_ALWAYS) {
    kube_status_set(st, rc,
                    "credential plugin \"%s\": interactiveMode is Always, but seal never runs a "
                    "credential plugin interactively; set interactiveMode to IfAvailable or Never",
                    cmd);
    return rc;
  }
  if (find_command(file, sizeof(file), cmd) < 0) {
    kube_status_set(st, rc, "credential plugin \"%s\" not found%s%s%s", cmd,
                    strchr(cmd, '/') ? " or not executable" : " in $PATH",
                    x->install_hint ? ": " : "", x->install_hint ? x->install_hint : "");
    return rc;
  }
  rc = KUBE_ERR_NOMEM;
  buf = sodium_malloc(KUBE_EXEC_MAX_OUTPUT + 1); /* stdout holds the credential */
  info = exec_info(x, cfg);
  if (buf == NULL || info == NULL || (envp = build_env(x, info)) == NULL)
    goto out;
  if (pipe2(opipe, O_CLOEXEC) != 0 || pipe2(epipe, O_CLOEXEC) != 0) {
    kube_status_set(st, KUBE_ERR_IO, "credential plugin \"%s\": pipe: %s", cmd, strerror(errno));
    rc = KUBE_ERR_IO;
    goto out;
  }
  if (posix_spawn_file_actions_init(&fa) != 0)
    goto out;
  fa_ok = 1;
  if (posix_spawnattr_init(&attr) != 0)
    goto out;
  attr_ok = 1;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGHUP);
  if (posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0 ||
      posix_spawn_file_actions_adddup2(&fa, opipe[1], STDOUT_FILENO) != 0 ||
      posix_spawn_file_actions_adddup2(&fa, epipe[1], STDERR_FILENO) != 0 ||
      /* nothing else of ours (libcurl's sockets have no FD_CLOEXEC), as Go's os/exec */
      posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1) != 0 ||
      posix_spawnattr_setsigmask(&attr, &none) != 0 ||
      posix_spawnattr_setsigdefault(&attr, &defaults) != 0 ||
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
    goto out;
  err = posix_spawn(&pid, file, &fa, &attr, x->argv, envp);
  if (err != 0) {
    pid = -1;
    rc = KUBE_ERR_CONFIG;
    kube_status_set(st, rc, "credential plugin \"%s\" cannot be run: %s", cmd, strerror(err));
    goto out;
  }
  close(opipe[1]);
  close(epipe[1]);
  opipe[1] = epipe[1] = -1;

  while (opipe[0] >= 0 || epipe[0] >= 0 || !reaped) {
    struct pollfd pfd[2];
    nfds_t nfd = 0;
    uint64_t now = mono_ms();
    long wait_ms;
    if (now >= deadline) {
      timed_out = 1;
      break;
    }
    wait_ms = (long)(deadline - now);
    if (opipe[0] < 0 && epipe[0] < 0) { /* both closed: wait for the exit */
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        reaped = 1;
        continue;
      }
      if (w < 0 && errno != EINTR) {
        reaped = 1; /* ECHILD: someone else reaped it (SIGCHLD ignored) */
        status = 0;
        continue;
      }
      nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
      continue;
    }
    if (opipe[0] >= 0)
      pfd[nfd++] = (struct pollfd){.fd = opipe[0], .events = POLLIN};
    if (epipe[0] >= 0)
      pfd[nfd++] = (struct pollfd){.fd = epipe[0], .events = POLLIN};
    if (poll(pfd, nfd, (int)(wait_ms > INT_MAX ? INT_MAX : wait_ms)) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (nfds_t i = 0; i < nfd; i++) {
      char tmp[4096];
      ssize_t r;
      if (pfd[i].revents == 0)
        continue;
      if (pfd[i].fd == opipe[0]) {
        r = read(opipe[0], buf + len, KUBE_EXEC_MAX_OUTPUT - len);
        if (r > 0)
          len += (size_t)r;
        if (len >= KUBE_EXEC_MAX_OUTPUT) {
          overflow = 1;
          break;
        }
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          close(opipe[0]);
          opipe[0] = -1;
        }
      } else {
        r = read(epipe[0], tmp, sizeof(tmp));
        if (r > 0)
          stderr_chunk(tmp, (size_t)r, first, &first_len, &first_done);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          close(epipe[0]);
          epipe[0] = -1;
        }
      }
    }
    if (overflow)
      break;
  }
  if (!reaped) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  rc = KUBE_ERR_CONFIG;
  if (timed_out) {
    kube_status_set(st, rc, "credential plugin \"%s\" did not finish within %ld s; stopped it", cmd,
                    (timeout_ms + 999) / 1000);
    goto out;
  }
  if (overflow) {
    kube_status_set(st, KUBE_ERR_LIMIT,
                    "credential plugin \"%s\" printed more than %d bytes; stopped it", cmd,
                    KUBE_EXEC_MAX_OUTPUT);
    rc = KUBE_ERR_LIMIT;
    goto out;
  }
  if (WIFSIGNALED(status)) {
    kube_status_set(st, rc, "credential plugin \"%s\" was killed by signal %d%s%s", cmd,
                    WTERMSIG(status), first_len ? ": " : "", first);
    goto out;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    kube_status_set(st, rc, "credential plugin \"%s\" failed with exit code %d%s%s", cmd,
                    WEXITSTATUS(status), first_len ? ": " : "", first);
    goto out;
  }
  rc = kube_exec_parse(out, x->api_version, cmd, (const char *)buf, len, st);
out:
  if (rc == KUBE_ERR_NOMEM)
    kube_status_set(st, rc, "credential plugin \"%s\": out of memory", cmd);
  for (int i = 0; i < 2; i++) {
    if (opipe[i] >= 0)
      close(opipe[i]);
    if (epipe[i] >= 0)
      close(epipe[i]);
  }
  if (fa_ok)
    posix_spawn_file_actions_destroy(&fa);
  if (attr_ok)
    posix_spawnattr_destroy(&attr);
  build_env_free(envp);
  if (info != NULL) { /* json_dumps allocates with jansson's (wiping) allocator */
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    jfree(info);
  }
  sodium_free(buf); /* wipes */
  return rc;
}

/* ---- the client's view -------------------------------------------------- */

static int cred_valid(const kube_cred *c)
{
  return c != NULL && (!c->has_expiry || time(NULL) < c->expires);
}

int kube_exec_get(kube_cred **out, kube_exec *x, const kube_config *cfg, kube_status *st)
{
  *out = NULL;
  if (!cred_valid(x->cred)) {
    kube_cred *fresh = NULL;
    int rc = kube_exec_run(&fresh, x, cfg, KUBE_EXEC_TIMEOUT_MS, st);
    if (rc < 0)
      return rc;
    kube_cred_unref(x->cred);
    x->cred = fresh;
  }
  *out = cred_ref(x->cred);
  return KUBE_OK;
}

void kube_exec_invalidate(kube_exec *x, const kube_cred *used)
{
  if (x != NULL && x->cred != NULL && used == x->cred) {
    kube_cred_unref(x->cred);
    x->cred = NULL;
  }
}
