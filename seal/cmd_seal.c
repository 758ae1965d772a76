#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal [options] [-f IN] [-w OUT]\n"
    "\n"
    "Reads Secrets (YAML or JSON, several documents, a List) from stdin or -f and\n"
    "writes SealedSecrets to stdout or -w. Nothing is written when anything fails.\n"
    "\n" SEAL_CERT_HELP
    "      --scope SCOPE          strict (default), namespace-wide or cluster-wide\n"
    "  -n, --namespace NS         namespace for Secrets that name none (else\n"
    "                             $SEAL_NAMESPACE, else the kubeconfig context's,\n"
    "                             else 'default')\n"
    "      --name NAME            name for Secrets that name none\n"
    "  -o, --output FORMAT        yaml (default) or json\n"
    "  -f, --file IN              read IN instead of stdin\n"
    "  -w, --write OUT            write OUT atomically instead of stdout\n"
    "      --allow-empty-data     seal empty values and a Secret without data\n" SEAL_HELP_HELP
    "      --version              print the version\n"
    "\n";

enum { OPT_SCOPE = SEAL_OPT_FIRST_FREE, OPT_NAME, OPT_ALLOW_EMPTY };

static const struct option longopts[] = {
    SEAL_CERT_LONGOPTS,
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"namespace", required_argument, NULL, 'n'},
    {"name", required_argument, NULL, OPT_NAME},
    {"output", required_argument, NULL, 'o'},
    {"file", required_argument, NULL, 'f'},
    {"write", required_argument, NULL, 'w'},
    {"allow-empty-data", no_argument, NULL, OPT_ALLOW_EMPTY},
    SEAL_LONGOPTS_END,
};

const struct option *seal_options(void)
{
  return longopts;
}

#define BITNAMI_ANN_NS_WIDE "sealedsecrets.bitnami.com/namespace-wide"
#define BITNAMI_ANN_CLUSTER_WIDE "sealedsecrets.bitnami.com/cluster-wide"

/* Bitnami's scope annotations on a Secret (value "true"), honoured as the
 * scope unless seal.dev/scope or --scope says another: *scope the scope they
 * ask for, NULL when none. */
static int bitnami_scope(const char **scope, const json_t *doc, const char *opt_scope,
                         const char *source, size_t index)
{
  const char *ns_wide = doc_get_string(doc, "metadata", "annotations", BITNAMI_ANN_NS_WIDE, NULL);
  const char *cl_wide = doc_get_string(doc, "metadata", "annotations", BITNAMI_ANN_CLUSTER_WIDE,
                                       NULL);
  const char *ours = doc_get_string(doc, "metadata", "annotations", MANIFEST_ANN_SCOPE, NULL);
  const char *ann;
  char what[512];

  *scope = NULL;
  if (cl_wide != NULL && strcmp(cl_wide, "true") == 0) {
    *scope = "cluster-wide";
    ann = BITNAMI_ANN_CLUSTER_WIDE;
  } else if (ns_wide != NULL && strcmp(ns_wide, "true") == 0) {
    *scope = "namespace-wide";
    ann = BITNAMI_ANN_NS_WIDE;
  } else {
    return SEAL_OK;
  }
  seal_describe(what, sizeof what, doc, index);
  if (ours != NULL && strcmp(ours, *scope) != 0)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: annotation %s contradicts %s \"%s\"", source, what,
                       ann, MANIFEST_ANN_SCOPE, ours);
  if (opt_scope != NULL && strcmp(opt_scope, *scope) != 0)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: annotation %s contradicts --scope %s", source, what,
                       ann, opt_scope);
  fprintf(stderr, "seal: note: ");
  seal_print_line(stderr, "%s: %s: Bitnami's annotation %s: sealed with scope %s (%s: %s)", source,
                  what, ann, *scope, MANIFEST_ANN_SCOPE, *scope);
  return SEAL_OK;
}

/* The namespace for Secrets that name none and no -n, as kubectl picks it:
 * the kubeconfig context's, else "default". A kubeconfig that cannot be read
 * is an error only when --kubeconfig or --context asked for it. */
static int context_namespace(char *out, size_t size, const seal_cluster_opts *cluster)
{
  kube_config_opts copts;
  kube_config *cfg = NULL;
  kube_status ks = {0};
  const char *ns;
  int rc;

  snprintf(out, size, "default");
  seal_kube_config_opts(&copts, cluster);
  copts.source = KUBE_CONFIG_FILES;
  rc = kube_config_load(&cfg, &copts, &ks);
  if (rc != KUBE_OK) {
    if (cluster->kubeconfig == NULL && cluster->context == NULL)
      return SEAL_OK;
    return seal_report(SEAL_ERR_ENV,
                       "kubeconfig: %s (for the namespace of Secrets that name "
                       "none; -n gives one)",
                       ks.message[0] ? ks.message : kube_strerror(rc));
  }
  ns = kube_config_namespace(cfg);
  if (ns != NULL && *ns != '\0' && keys_name_valid(ns))
    snprintf(out, size, "%s", ns);
  kube_config_free(cfg);
  return SEAL_OK;
}

int cmd_seal(int argc, char **argv)
{
  seal_cert_opts certs = {0};
  keys_public recipients[KEYS_MAX_RECIPIENTS];
  size_t n_recipients = 0, i;
  manifest_seal_opts sopts = {0};
  doc_list docs = {0};
  manifest_error merr = {0};
  doc_format format = DOC_YAML;
  json_t **sealed = NULL;
  size_t n_sealed = 0;
  const char *in_path = NULL, *out_path = NULL, *source;
  char ctx_ns[KEYS_NAME_MAX + 1] = "default";
  int c, rc, st = SEAL_OK, have_ctx_ns = 0;

  while ((c = seal_getopt("", argc, argv, "n:o:f:w:h" SEAL_CLUSTER_SHORTOPTS, longopts)) != -1) {
    if (seal_cert_option(&certs, "", c, optarg, &st)) {
      if (st != SEAL_OK)
        goto out;
      continue;
    }
    switch (c) {
    case OPT_SCOPE: {
      keys_scope scope;
      if (keys_scope_parse(&scope, optarg) != KEYS_OK) {
        st = seal_usage_error("", "unknown scope '%s' (strict, namespace-wide, cluster-wide)",
                              optarg);
        goto out;
      }
      sopts.scope = keys_scope_name(scope);
      break;
    }
    case 'n':
      sopts.namespace = optarg;
      break;
    case OPT_NAME:
      sopts.name = optarg;
      break;
    case 'o':
      if ((st = seal_format_parse(&format, "", optarg)) != SEAL_OK)
        goto out;
      break;
    case 'f':
      in_path = optarg;
      break;
    case 'w':
      out_path = optarg;
      break;
    case OPT_ALLOW_EMPTY:
      sopts.allow_empty_data = 1;
      break;
    case 'h':
      fputs(usage_text, stdout);
      seal_print_commands(stdout);
      goto out;
    default:
      st = SEAL_ERR_USAGE;
      goto out;
    }
  }
  if ((st = seal_cluster_finish(&certs.cluster, "")) != SEAL_OK)
    goto out;
  if ((st = seal_no_arguments("", argc, argv)) != SEAL_OK)
    goto out;
  if (sopts.namespace && !keys_name_valid(sopts.namespace)) {
    st = seal_usage_error("", "-n '%s': not a valid namespace", sopts.namespace);
    goto out;
  }
  if ((st = seal_namespace_finish(&sopts.namespace, "")) != SEAL_OK)
    goto out;
  if (sopts.name && !keys_name_valid(sopts.name)) {
    st = seal_usage_error("", "--name '%s': not a valid name", sopts.name);
    goto out;
  }

  source = seal_input_name(in_path);
  if (in_path == NULL && isatty(STDIN_FILENO))
    fputs("seal: reading Secrets from the terminal; end with Ctrl-D (or use -f FILE)\n", stderr);
  if ((st = seal_docs_read(&docs, NULL, in_path, manifest_is_secret, "Secret")) != SEAL_OK)
    goto out;

  if ((st = seal_certs_load(recipients, &n_recipients, &certs)) != SEAL_OK)
    goto out;
  sopts.recipients = recipients;
  sopts.n_recipients = n_recipients;

  sealed = calloc(docs.n, sizeof *sealed);
  if (sealed == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (i = 0; i < docs.n; i++) {
    if (sopts.namespace == NULL && !have_ctx_ns &&
        doc_get_string(docs.docs[i], "metadata", "namespace", NULL) == NULL) {
      if ((st = context_namespace(ctx_ns, sizeof ctx_ns, &certs.cluster)) != SEAL_OK)
        goto out;
      have_ctx_ns = 1;
    }
  }
  for (i = 0; i < docs.n; i++) {
    manifest_seal_opts one = sopts;
    const char *bscope;
    one.index = i;
    if ((st = bitnami_scope(&bscope, docs.docs[i], sopts.scope, source, i)) != SEAL_OK)
      goto out;
    if (bscope != NULL)
      one.scope = bscope;
    if (one.namespace == NULL &&
        doc_get_string(docs.docs[i], "metadata", "namespace", NULL) == NULL) {
      char what[512];
      one.namespace = ctx_ns;
      seal_describe(what, sizeof what, docs.docs[i], i);
      fprintf(stderr, "seal: note: ");
      seal_print_line(stderr,
                      "%s: %s names no namespace: sealed for namespace %s (the "
                      "kubeconfig context's, else default; -n sets one)",
                      source, what, ctx_ns);
    }
    rc = manifest_seal_secret(&sealed[i], docs.docs[i], &one, &merr);
    if (rc != MANIFEST_OK) {
      st = seal_report_manifest(source, i, docs.docs[i], &merr, rc);
      goto out;
    }
    n_sealed++;
  }
  st = seal_docs_write(sealed, n_sealed, format, out_path, 0644);
out:
  for (i = 0; i < n_sealed; i++)
    json_decref(sealed[i]);
  free(sealed);
  doc_list_free(&docs);
  return st;
}
