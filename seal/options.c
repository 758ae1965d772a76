/* The command line: getopt with the project's messages, and the options that
 * several commands share (--cert, --key-id, the cluster options, -o). */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

/* kubeseal's flag spellings and what seal does instead, for the usage error */
static const struct {
  const char *flag, *instead;
} kubeseal_flags[] = {
    {"--fetch-cert", "seal cert"},
    {"--format", "-o yaml|json"},
    {"--re-encrypt", "seal reseal"},
    {"--recovery-unseal", "seal unseal --private-key FILE"},
    {"--recovery-private-key", "seal unseal --private-key FILE"},
    {"--merge-into", "seal merge --into FILE"},
    {"--raw", "seal raw"},
    {"--sealed-secret-file", "-w FILE"},
    {"--secret-file", "-f FILE"},
    {"--validate", "seal verify"},
};

/* " (kubeseal's spelling; seal: ...)" for a kubeseal flag, else "" */
static const char *kubeseal_hint(char *buf, size_t size, const char *arg)
{
  size_t len = strcspn(arg, "=");

  for (size_t i = 0; i < sizeof kubeseal_flags / sizeof kubeseal_flags[0]; i++)
    if (strlen(kubeseal_flags[i].flag) == len && strncmp(arg, kubeseal_flags[i].flag, len) == 0) {
      snprintf(buf, size, " (kubeseal's spelling; in seal: %s)", kubeseal_flags[i].instead);
      return buf;
    }
  return "";
}

int seal_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
  char opts[64];
  const char *bad, *sep = cmd && *cmd ? ": " : "";
  int c;

  /* a leading ':' makes a missing argument ':' rather than '?' */
  snprintf(opts, sizeof opts, ":%s", shortopts);
  opterr = 0;
  c = getopt_long(argc, argv, opts, longopts, NULL);
  if (c != '?' && c != ':')
    return c;
  bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  if (optopt > 0 && optopt < 128 && !(bad[0] == '-' && bad[1] == '-')) {
    if (c == ':')
      seal_usage_error(cmd, "%s%soption '-%c' needs an argument", cmd, sep, optopt);
    else
      seal_usage_error(cmd, "%s%sunknown option '-%c'", cmd, sep, optopt);
  } else if (c == ':') {
    seal_usage_error(cmd, "%s%soption '%s' needs an argument", cmd, sep, bad);
  } else {
    char hint[128];
    seal_usage_error(cmd, "%s%sunknown option '%s'%s", cmd, sep, bad,
                     kubeseal_hint(hint, sizeof hint, bad));
  }
  return '?';
}

int seal_no_arguments(const char *cmd, int argc, char **argv)
{
  if (optind < argc)
    return seal_usage_error(cmd, "%s%sunexpected argument '%s'", cmd, *cmd ? ": " : "",
                            argv[optind]);
  return SEAL_OK;
}

int seal_format_parse(doc_format *out, const char *cmd, const char *text)
{
  if (strcmp(text, "yaml") == 0 || strcmp(text, "yml") == 0)
    *out = DOC_YAML;
  else if (strcmp(text, "json") == 0)
    *out = DOC_JSON;
  else
    return seal_usage_error(cmd, "%s%sunknown output format '%s' (yaml or json)", cmd,
                            *cmd ? ": " : "", text);
  return SEAL_OK;
}

int seal_cluster_option(seal_cluster_opts *opts, int c, const char *arg)
{
  switch (c) {
  case SEAL_OPT_KUBECONFIG:
    opts->kubeconfig = arg;
    return 1;
  case SEAL_OPT_CONTEXT:
    opts->context = arg;
    return 1;
  case SEAL_OPT_CLUSTER:
    opts->cluster = arg;
    return 1;
  case SEAL_OPT_USER:
    opts->user = arg;
    return 1;
  case 's':
    opts->server = arg;
    return 1;
  case SEAL_OPT_TOKEN:
    opts->token = arg;
    return 1;
  case SEAL_OPT_CA:
    opts->certificate_authority = arg;
    return 1;
  case SEAL_OPT_INSECURE: /* kubectl's --insecure-skip-tls-verify[=true|false] */
    opts->insecure = arg ? arg : "true";
    return 1;
  case SEAL_OPT_REQUEST_TIMEOUT:
    opts->request_timeout = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_NS:
    opts->controller_namespace = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_NAME:
    opts->controller_name = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_URL:
    opts->controller_url = arg;
    return 1;
  default:
    return 0;
  }
}

int seal_cert_option(seal_cert_opts *opts, const char *cmd, int c, const char *arg, int *status)
{
  const char *sep = *cmd ? ": " : "";
  *status = SEAL_OK;
  if (c == SEAL_OPT_CERT) {
    *status = seal_option_add(opts->sources, &opts->n_sources, SEAL_MAX_CERT_SOURCES, cmd, "--cert",
                              arg);
    return 1;
  }
  if (c == SEAL_OPT_KEY_ID) {
    if (opts->n_pinned >= KEYS_MAX_RECIPIENTS)
      *status = seal_usage_error(cmd, "%s%smore than %d --key-id options", cmd, sep,
                                 KEYS_MAX_RECIPIENTS);
    else if (strlen(arg) != 16 || keys_id_parse(opts->pinned[opts->n_pinned], arg) != KEYS_OK)
      *status = seal_usage_error(cmd, "%s%s--key-id '%s': not a key id (16 hex digits)", cmd, sep,
                                 arg);
    else
      opts->n_pinned++;
    return 1;
  }
  return seal_cluster_option(&opts->cluster, c, arg);
}

int seal_option_add(const char **list, size_t *n, size_t max, const char *cmd, const char *opt,
                    const char *arg)
{
  if (*n >= max)
    return seal_usage_error(cmd, "%s%smore than %zu %s options", cmd, *cmd ? ": " : "", max, opt);
  list[(*n)++] = arg;
  return SEAL_OK;
}

/* A shared option of cl: 1 when c was one (*status set), else 0. */
static int shared_option(seal_cmdline *cl, int c, int *status)
{
  *status = SEAL_OK;
  if (cl->certs)
    return seal_cert_option(cl->certs, cl->cmd, c, optarg, status);
  if (cl->keys)
    return seal_keys_option(cl->keys, c, optarg);
  return cl->cluster && seal_cluster_option(cl->cluster, c, optarg);
}

/* After the options: the cluster options' variables and checks. */
static int shared_finish(seal_cmdline *cl)
{
  if (cl->certs)
    return seal_cluster_finish(&cl->certs->cluster, cl->cmd);
  if (cl->keys)
    return seal_keys_finish(cl->keys, cl->cmd);
  return cl->cluster ? seal_cluster_finish(cl->cluster, cl->cmd) : SEAL_OK;
}

int seal_cmdline_next(seal_cmdline *cl, int argc, char **argv)
{
  char shortopts[64];
  int c;

  /* -s is --server wherever the cluster options are */
  if (snprintf(shortopts, sizeof shortopts, "%s%s", cl->shortopts ? cl->shortopts : "",
               cl->certs || cl->keys || cl->cluster ? SEAL_CLUSTER_SHORTOPTS : "") >=
      (int)sizeof shortopts) {
    cl->status = seal_report(SEAL_ERR_ENV, "%s: internal error: too many short options", cl->cmd);
    return -1;
  }
  while ((c = seal_getopt(cl->cmd, argc, argv, shortopts, cl->longopts)) != -1) {
    if (shared_option(cl, c, &cl->status)) {
      if (cl->status != SEAL_OK)
        return -1;
      continue;
    }
    if (c == 'h') {
      fputs(cl->usage, stdout);
      cl->status = SEAL_OK;
      return -1;
    }
    if (c == '?') {
      cl->status = SEAL_ERR_USAGE;
      return -1;
    }
    return c;
  }
  cl->status = cl->operands ? SEAL_OK : seal_no_arguments(cl->cmd, argc, argv);
  if (cl->status == SEAL_OK)
    cl->status = shared_finish(cl);
  return cl->status == SEAL_OK ? 0 : -1;
}

/* ---- the cluster options' variables and checks ---------------------------- */

const char *seal_env(const char *name)
{
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

#define MAX_REQUEST_TIMEOUT_MS (24.0 * 3600 * 1000)

/* kubectl's --request-timeout: "0" (none), whole seconds, or numbers with the
 * units h, m, s and ms as Go writes durations ("1m30s", "1.5s", "500ms"). */
int seal_parse_duration(long *ms, const char *s)
{
  size_t digits = strspn(s, "0123456789");
  double total = 0;

  if (s[0] == '\0')
    return -1;
  if (s[digits] == '\0') { /* whole seconds */
    if (digits > 5)
      return -1;
    total = strtod(s, NULL) * 1000;
  }
  while (s[digits] != '\0' && *s != '\0') {
    double v = 0, scale = 1, unit;
    int seen = 0;

    for (; *s >= '0' && *s <= '9'; s++, seen = 1)
      v = v * 10 + (*s - '0');
    if (*s == '.')
      for (s++; *s >= '0' && *s <= '9'; s++, seen = 1)
        v += (*s - '0') * (scale /= 10);
    if (!seen)
      return -1;
    if (strncmp(s, "ms", 2) == 0)
      unit = 1, s += 2;
    else if (*s == 's')
      unit = 1000, s++;
    else if (*s == 'm')
      unit = 60 * 1000, s++;
    else if (*s == 'h')
      unit = 3600 * 1000, s++;
    else
      return -1;
    total += v * unit;
    if (total > MAX_REQUEST_TIMEOUT_MS)
      return -1;
  }
  if (total > MAX_REQUEST_TIMEOUT_MS)
    return -1;
  *ms = (long)total;
  if (*ms == 0 && total > 0)
    *ms = 1; /* a fraction of a millisecond is not "none" */
  return 0;
}

/* Go's strconv.ParseBool, which kubectl's boolean flags use: 1 or 0, else -1. */
static int parse_bool(const char *s)
{
  static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
  static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (strcmp(s, yes[i]) == 0)
      return 1;
    if (strcmp(s, no[i]) == 0)
      return 0;
  }
  return -1;
}

enum { S_SERVER, S_TOKEN, S_CA, S_INSECURE, S_TIMEOUT, S_COUNT_CHECKED };

int seal_cluster_finish(seal_cluster_opts *o, const char *cmd)
{
  /* the settings checked below come first, in the order of the enum */
  const struct {
    const char **field;
    const char *flag, *var;
  } settings[] = {
      {&o->server, "--server", "SEAL_SERVER"},
      {&o->token, "--token", "SEAL_TOKEN"},
      {&o->certificate_authority, "--certificate-authority", "SEAL_CERTIFICATE_AUTHORITY"},
      {&o->insecure, "--insecure-skip-tls-verify", "SEAL_INSECURE_SKIP_TLS_VERIFY"},
      {&o->request_timeout, "--request-timeout", "SEAL_REQUEST_TIMEOUT"},
      {&o->kubeconfig, "--kubeconfig", "SEAL_KUBECONFIG"},
      {&o->context, "--context", "SEAL_CONTEXT"},
      {&o->cluster, "--cluster", "SEAL_CLUSTER"},
      {&o->user, "--user", "SEAL_USER"},
      {&o->controller_namespace, "--controller-namespace", "SEAL_CONTROLLER_NAMESPACE"},
      {&o->controller_name, "--controller-name", "SEAL_CONTROLLER_NAME"},
      {&o->controller_url, "--controller-url", "SEAL_CONTROLLER_URL"},
  };
  const char *from[S_COUNT_CHECKED]; /* the option or the variable a value came from */
  const char *sep = *cmd ? ": " : "";

  for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
    const char **f = settings[i].field;
    const char *name = settings[i].flag; /* the option wins over the variable */
    if (*f != NULL && **f == '\0')
      return seal_usage_error(cmd, "%s%s%s: empty value", cmd, sep, name);
    if (*f == NULL && (*f = seal_env(settings[i].var)) != NULL)
      name = settings[i].var;
    if (i < S_COUNT_CHECKED)
      from[i] = name;
  }
  if (o->server != NULL && strncasecmp(o->server, "https://", 8) != 0 &&
      strncasecmp(o->server, "http://", 7) != 0)
    return seal_usage_error(cmd, "%s%s%s '%s': not an http(s) URL", cmd, sep, from[S_SERVER],
                            o->server);
  if (o->token != NULL && !kube_token_ok(o->token, strlen(o->token))) /* never quoted */
    return seal_usage_error(cmd, "%s%s%s holds a space, line break or control character", cmd, sep,
                            from[S_TOKEN]);
  o->insecure_skip_tls_verify = o->insecure != NULL ? parse_bool(o->insecure) : 0;
  if (o->insecure_skip_tls_verify < 0)
    return seal_usage_error(cmd, "%s%s%s '%s': not true or false", cmd, sep, from[S_INSECURE],
                            o->insecure);
  if (o->certificate_authority != NULL && o->insecure_skip_tls_verify)
    return seal_usage_error(cmd,
                            "%s%s--certificate-authority and --insecure-skip-tls-verify cannot "
                            "be used together (%s, %s): the one checks the API server's "
                            "certificate, the other turns the check off",
                            cmd, sep, from[S_CA], from[S_INSECURE]);
  o->timeout_ms = SEAL_CERT_TIMEOUT_SECONDS * 1000L;
  o->timeout_given = o->request_timeout != NULL;
  if (o->timeout_given && seal_parse_duration(&o->timeout_ms, o->request_timeout) != 0)
    return seal_usage_error(cmd,
                            "%s%s%s '%s': not a timeout: 0 (none), whole seconds, or numbers "
                            "with a unit such as 1s, 2m, 1h30m or 500ms (at most 24h)",
                            cmd, sep, from[S_TIMEOUT], o->request_timeout);
  o->finished = 1;
  return SEAL_OK;
}

int seal_namespace_finish(const char **ns, const char *cmd)
{
  if (*ns != NULL || (*ns = seal_env("SEAL_NAMESPACE")) == NULL)
    return SEAL_OK;
  if (!keys_name_valid(*ns))
    return seal_usage_error(cmd, "%s%sSEAL_NAMESPACE '%s': not a valid namespace", cmd,
                            *cmd ? ": " : "", *ns);
  return SEAL_OK;
}
