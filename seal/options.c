/* The command line: getopt with the project's messages, and the options that
 * several commands share (--cert, --key-id, the cluster options, -o). */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
static const char *kubeseal_hint(char *buf, size_t size, const char *arg) {
  size_t len = strcspn(arg, "=");

  for (size_t i = 0; i < sizeof kubeseal_flags / sizeof kubeseal_flags[0]; i++)
    if (strlen(kubeseal_flags[i].flag) == len && strncmp(arg, kubeseal_flags[i].flag, len) == 0) {
      snprintf(buf, size, " (kubeseal's spelling; in seal: %s)", kubeseal_flags[i].instead);
      return buf;
    }
  return "";
}

int seal_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts) {
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

int seal_no_arguments(const char *cmd, int argc, char **argv) {
  if (optind < argc)
    return seal_usage_error(cmd, "%s%sunexpected argument '%s'", cmd, *cmd ? ": " : "",
                            argv[optind]);
  return SEAL_OK;
}

int seal_format_parse(doc_format *out, const char *cmd, const char *text) {
  if (strcmp(text, "yaml") == 0 || strcmp(text, "yml") == 0)
    *out = DOC_YAML;
  else if (strcmp(text, "json") == 0)
    *out = DOC_JSON;
  else
    return seal_usage_error(cmd, "%s%sunknown output format '%s' (yaml or json)", cmd,
                            *cmd ? ": " : "", text);
  return SEAL_OK;
}

int seal_cluster_option(seal_cluster_opts *opts, int c, const char *arg) {
  switch (c) {
  case SEAL_OPT_KUBECONFIG:
    opts->kubeconfig = arg;
    return 1;
  case SEAL_OPT_CONTEXT:
    opts->context = arg;
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

int seal_cert_option(seal_cert_opts *opts, const char *cmd, int c, const char *arg, int *status) {
  const char *sep = *cmd ? ": " : "";
  *status = SEAL_OK;
  if (c == SEAL_OPT_CERT) {
    *status = seal_option_add(opts->sources, &opts->n_sources, SEAL_MAX_CERT_SOURCES, cmd,
                              "--cert", arg);
    return 1;
  }
  if (c == SEAL_OPT_KEY_ID) {
    if (opts->n_pinned >= KEYS_MAX_RECIPIENTS)
      *status = seal_usage_error(cmd, "%s%smore than %d --key-id options", cmd, sep,
                                 KEYS_MAX_RECIPIENTS);
    else if (strlen(arg) != 16 || keys_id_parse(opts->pinned[opts->n_pinned], arg) != KEYS_OK)
      *status = seal_usage_error(cmd, "%s%s--key-id '%s': not a key id (16 hex digits)", cmd,
                                 sep, arg);
    else
      opts->n_pinned++;
    return 1;
  }
  return seal_cluster_option(&opts->cluster, c, arg);
}

int seal_option_add(const char **list, size_t *n, size_t max, const char *cmd, const char *opt,
                    const char *arg) {
  if (*n >= max)
    return seal_usage_error(cmd, "%s%smore than %zu %s options", cmd, *cmd ? ": " : "", max, opt);
  list[(*n)++] = arg;
  return SEAL_OK;
}

/* A shared option of cl: 1 when c was one (*status set), else 0. */
static int shared_option(seal_cmdline *cl, int c, int *status) {
  *status = SEAL_OK;
  if (cl->certs)
    return seal_cert_option(cl->certs, cl->cmd, c, optarg, status);
  if (cl->keys)
    return seal_keys_option(cl->keys, c, optarg);
  return cl->cluster && seal_cluster_option(cl->cluster, c, optarg);
}

int seal_cmdline_next(seal_cmdline *cl, int argc, char **argv) {
  int c;

  while ((c = seal_getopt(cl->cmd, argc, argv, cl->shortopts, cl->longopts)) != -1) {
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
  return cl->status == SEAL_OK ? 0 : -1;
}
