#ifndef SEAL_CLI_COMMON_H
#define SEAL_CLI_COMMON_H

/*
 * Helpers shared by the seal subcommands, one section per file that defines
 * them: report.c (statuses, exit codes, messages), options.c (getopt and the
 * shared options), input.c, output.c, run.c (a subprocess), certs.c
 * (recipient certificates), http.c (URLs) and cluster.c (the cluster's
 * controller). Only main() turns a status into an exit code.
 */

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"
#include "kube.h"
#include "manifest.h"

/* ---- report.c: statuses, exit codes, messages ------------------------------ */

/* Statuses the subcommands return; seal_exit_code() maps them. */
typedef enum seal_status {
  SEAL_OK = 0,
  SEAL_ERR_INPUT = -1, /* the input or the keys are wrong: exit 1 */
  SEAL_ERR_FOUND = -2, /* scan found something, verify failed: exit 1, already reported */
  SEAL_ERR_USAGE = -3, /* bad command line: exit 2 */
  SEAL_ERR_ENV = -4,   /* memory, output, network, cluster: exit 2 */
} seal_status;

#define SEAL_MAX_INPUT_BYTES (64u * 1024 * 1024) /* a whole input stream */
#define SEAL_MAX_CERT_BYTES (256u * 1024)        /* a certificate file or download */
#define SEAL_MAX_CERT_SOURCES 16
#define SEAL_CERT_TIMEOUT_SECONDS 30L

/* The one mapping from status to exit code: 0 ok, 1 input or keys wrong,
 * 2 usage or environment. */
int seal_exit_code(int status);

/* Prints "seal: <message>" on stderr and returns status. */
int seal_report(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "seal: warning: " and the message on stderr, escaped as seal_report's are. */
void seal_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line to f (a newline added), escaped as seal_report's messages are:
 * for output lines that name documents or keys (seal verify, seal scan). */
void seal_print_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: prints the message and a hint at "seal <cmd> --help". */
int seal_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Status of a failed keys_ or manifest_ call. */
int seal_status_from_keys(int status);
int seal_status_from_manifest(int status);
/* Reports a failed keys_ call about subject (a file, a URL) and returns its status. */
int seal_report_keys(const char *subject, const keys_error *err, int status);
/* Reports a failed manifest_ call; source names the input, doc (may be NULL)
 * and index (0-based) the document. */
int seal_report_manifest(const char *source, size_t index, const json_t *doc,
                         const manifest_error *err, int status);
/* "document 2 (Secret kotaemon/api-keys)" for index 1 */
void seal_describe(char *out, size_t out_size, const json_t *doc, size_t index);

/* ---- options.c: the command line ------------------------------------------ */

/* getopt_long with the project's handling of unknown options and missing
 * arguments: returns the option, -1 at the end, or '?' after reporting. */
int seal_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts);

/* A usage error when arguments are left after the options (argv[optind]). */
int seal_no_arguments(const char *cmd, int argc, char **argv);

/* "yaml" or "json" */
int seal_format_parse(doc_format *out, const char *cmd, const char *text);

/* ---- input.c: reading input ----------------------------------------------- */

/* The whole of path (NULL or "-": stdin), at most max bytes, NUL-terminated.
 * Release with doc_wipe_free (input may hold secrets). */
int seal_input_read(char **out, size_t *out_len, const char *path, size_t max);
const char *seal_input_name(const char *path);

/* Reads path (NULL or "-": stdin) and parses its documents, Lists expanded;
 * there must be at least one and every one must pass is_kind (kind names it
 * in messages). *format (may be NULL) receives the format the input is in. */
int seal_docs_read(doc_list *docs, doc_format *format, const char *path,
                   int (*is_kind)(const json_t *), const char *kind);

/* 1 when path ends in .yaml, .yml or .json (any case). */
int seal_has_manifest_ext(const char *path);

/* ---- output.c: writing output --------------------------------------------- */

/* Writes data to stdout, or to path atomically with mode; nothing is written
 * on failure. */
int seal_output_write(const char *path, const char *data, size_t len, unsigned mode);

/* Writes n documents in format to stdout or path (see seal_output_write). */
int seal_docs_write(json_t *const *docs, size_t n, doc_format format, const char *path,
                    unsigned mode);

/* ---- run.c: a subprocess -------------------------------------------------- */

/* Runs argv (no shell), captures at most max bytes of its stdout. *exit_code is
 * the program's exit status (or -1 when it did not exit normally). */
int seal_run_capture(char **out, size_t *out_len, size_t max, int *exit_code, char *const argv[]);

/* ---- options.c and certs.c: recipient certificates ------------------------ */

/* Options every command that talks to the cluster shares: kubectl's
 * connection flags and the controller's whereabouts. seal_cluster_option
 * keeps them as given; seal_cluster_finish fills the ones not given from their
 * SEAL_* variables and checks them all. */
typedef struct seal_cluster_opts {
  const char *kubeconfig;
  const char *context;
  const char *cluster;               /* --cluster: a kubeconfig cluster entry */
  const char *user;                  /* --user: a kubeconfig user entry */
  const char *server;                /* --server, -s */
  const char *token;                 /* --token: never printed */
  const char *certificate_authority; /* --certificate-authority FILE */
  const char *insecure;              /* --insecure-skip-tls-verify[=BOOL], as given */
  const char *request_timeout;       /* --request-timeout, as given */
  const char *controller_namespace;  /* default seal-system */
  const char *controller_name;       /* default unseal-controller */
  const char *controller_url;        /* straight to the controller */
  /* set by seal_cluster_finish */
  int finished;
  int insecure_skip_tls_verify;
  int timeout_given; /* --request-timeout or $SEAL_REQUEST_TIMEOUT */
  long timeout_ms;   /* per API request; 0: none */
} seal_cluster_opts;

typedef struct seal_cert_opts {
  const char *sources[SEAL_MAX_CERT_SOURCES];
  size_t n_sources;
  uint8_t pinned[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  size_t n_pinned;
  seal_cluster_opts cluster;
} seal_cert_opts;

/* Long option codes for the shared options, and their table entries. */
enum {
  SEAL_OPT_CERT = 1000,
  SEAL_OPT_KEY_ID,
  SEAL_OPT_KUBECONFIG,
  SEAL_OPT_CONTEXT,
  SEAL_OPT_CLUSTER,
  SEAL_OPT_USER,
  SEAL_OPT_TOKEN,
  SEAL_OPT_CA,
  SEAL_OPT_INSECURE,
  SEAL_OPT_REQUEST_TIMEOUT,
  SEAL_OPT_CONTROLLER_NS,
  SEAL_OPT_CONTROLLER_NAME,
  SEAL_OPT_CONTROLLER_URL,
  SEAL_OPT_FIRST_FREE,
};

/* -s is --server, as for kubectl: the commands add SEAL_CLUSTER_SHORTOPTS. */
#define SEAL_CLUSTER_SHORTOPTS "s:"
#define SEAL_CLUSTER_LONGOPTS                                                                     \
  {"kubeconfig", required_argument, NULL, SEAL_OPT_KUBECONFIG},                                   \
      {"context", required_argument, NULL, SEAL_OPT_CONTEXT},                                     \
      {"cluster", required_argument, NULL, SEAL_OPT_CLUSTER},                                     \
      {"user", required_argument, NULL, SEAL_OPT_USER}, {"server", required_argument, NULL, 's'}, \
      {"token", required_argument, NULL, SEAL_OPT_TOKEN},                                         \
      {"certificate-authority", required_argument, NULL, SEAL_OPT_CA},                            \
      {"insecure-skip-tls-verify", optional_argument, NULL, SEAL_OPT_INSECURE},                   \
      {"request-timeout", required_argument, NULL, SEAL_OPT_REQUEST_TIMEOUT},                     \
      {"controller-namespace", required_argument, NULL, SEAL_OPT_CONTROLLER_NS},                  \
      {"controller-name", required_argument, NULL, SEAL_OPT_CONTROLLER_NAME},                     \
  {                                                                                               \
    "controller-url", required_argument, NULL, SEAL_OPT_CONTROLLER_URL                            \
  }

#define SEAL_CERT_LONGOPTS                          \
  {"cert", required_argument, NULL, SEAL_OPT_CERT}, \
      {"key-id", required_argument, NULL, SEAL_OPT_KEY_ID}, SEAL_CLUSTER_LONGOPTS

#define SEAL_CLUSTER_HELP                                                                  \
  "      --kubeconfig FILE      kubeconfig to use (else $KUBECONFIG, ~/.kube/config)\n"    \
  "      --context NAME         kubeconfig context to use\n"                               \
  "      --cluster NAME         kubeconfig cluster to use instead of the context's\n"      \
  "      --user NAME            kubeconfig user to use instead of the context's\n"         \
  "  -s, --server URL           the API server (https://HOST:PORT); needs no kubeconfig\n" \
  "      --token TOKEN          bearer token, instead of the user's credentials\n"         \
  "      --certificate-authority FILE  CA certificate(s) to check the API server with\n"   \
  "      --insecure-skip-tls-verify  do not check the API server's certificate\n"          \
  "      --request-timeout T    give up a request to the cluster (the API server or\n"     \
  "                             --controller-url) after T (30s, 1m, 5; 0: never;\n"        \
  "                             default 30s, no retries when given)\n"                     \
  "      --controller-namespace NS  the controller's namespace (seal-system)\n"            \
  "      --controller-name NAME the controller's Service (unseal-controller)\n"            \
  "      --controller-url URL   talk to the controller at URL directly\n"                  \
  "  SEAL_SERVER, SEAL_TOKEN, SEAL_INSECURE_SKIP_TLS_VERIFY=true, ... stand for\n"         \
  "  the cluster options above (SEAL_ and the name in capitals, - as _);\n"                \
  "  the option wins\n"

#define SEAL_CERT_HELP                                                                 \
  "      --cert FILE|URL        public key(s) to seal for; repeatable\n"               \
  "                             (path, file://, http://, https://; else $SEAL_CERT,\n" \
  "                             else the cluster's)\n"                                 \
  "      --key-id ID            only seal for this key id; repeatable\n" SEAL_CLUSTER_HELP

/* Handles a shared option: 1 when c was one (and *status is set), else 0. */
int seal_cluster_option(seal_cluster_opts *opts, int c, const char *arg);
int seal_cert_option(seal_cert_opts *opts, const char *cmd, int c, const char *arg, int *status);

/* A repeatable option with at most max values: adds arg to list, or reports
 * "<cmd>: more than <max> <opt> options" as a usage error. */
int seal_option_add(const char **list, size_t *n, size_t max, const char *cmd, const char *opt,
                    const char *arg);

struct seal_keys_opts; /* cmds.h: --key-namespace and the cluster options */

/* One command's command line: its name in messages ("keys list"; "" for seal
 * itself), its --help text, its options, and the shared options it takes
 * (the group of at most one of certs, cluster and keys; the others NULL). */
typedef struct seal_cmdline {
  const char *cmd;
  const char *usage; /* printed on stdout for -h, --help */
  const char *shortopts;
  const struct option *longopts;
  seal_cert_opts *certs;       /* --cert, --key-id and the cluster options */
  seal_cluster_opts *cluster;  /* the cluster options */
  struct seal_keys_opts *keys; /* --key-namespace and the cluster options */
  int operands;                /* 1: arguments may follow the options (from argv[optind]) */
  int status;                  /* when seal_cmdline_next returned -1 */
} seal_cmdline;

/* Every command takes -h/--help (seal_cmdline_next prints cl->usage): its
 * option table ends with these, its usage text with SEAL_HELP_HELP. */
#define SEAL_LONGOPTS_END           \
  {"help", no_argument, NULL, 'h'}, \
  {                                 \
    NULL, 0, NULL, 0                \
  }
#define SEAL_HELP_HELP "  -h, --help                 this help\n"

/* getopt for a command: handles -h/--help, the shared options, unknown
 * options and (without operands) arguments left over. Returns the next option
 * the command handles itself (optarg is its argument); 0 when the command line
 * is read and good; -1 when the command stops here, with cl->status SEAL_OK
 * after --help, else the usage error (reported). */
int seal_cmdline_next(seal_cmdline *cl, int argc, char **argv);

/* After the options: each cluster option not given comes from its variable
 * (SEAL_KUBECONFIG, SEAL_CONTEXT, SEAL_CLUSTER, SEAL_USER, SEAL_SERVER,
 * SEAL_TOKEN, SEAL_CERTIFICATE_AUTHORITY, SEAL_INSECURE_SKIP_TLS_VERIFY,
 * SEAL_REQUEST_TIMEOUT, SEAL_CONTROLLER_NAMESPACE, SEAL_CONTROLLER_NAME,
 * SEAL_CONTROLLER_URL; empty ones are unset), then every value is checked: a
 * bad one is a usage error naming the option or variable. Every command that
 * takes the cluster options calls it before using them. */
int seal_cluster_finish(seal_cluster_opts *opts, const char *cmd);

/* The value of an environment variable, NULL when unset or empty. */
const char *seal_env(const char *name);

/* A duration as kubectl's --request-timeout takes it: "0", whole seconds, or
 * numbers with the units h, m, s and ms ("1m30s", "1.5s", "500ms"); at most
 * 24h. 0 and *ms set, or -1 when s is none of these. */
int seal_parse_duration(long *ms, const char *s);

/* -n: when *ns is NULL (no -n), $SEAL_NAMESPACE, checked. */
int seal_namespace_finish(const char **ns, const char *cmd);

/* The recipients: every key block of every --cert (else $SEAL_CERT, else the
 * cluster's), duplicates dropped, each checked against the pins; prints
 * "sealing for key <id>" for each on stderr. */
int seal_certs_load(keys_public *out, size_t *n_out, const seal_cert_opts *opts);

/* ---- http.c: URLs --------------------------------------------------------- */

/* Fetches a URL (http, https) into memory, at most max bytes, giving up after
 * timeout_ms (0: never). With body set it POSTs body with content_type.
 * *http_code receives the status. */
int seal_http_fetch(char **out, size_t *out_len, size_t max, long *http_code, long timeout_ms,
                    const char *url, const char *body, size_t body_len, const char *content_type);

/* ---- certs.c -------------------------------------------------------------- */

/* GETs public key text from url (at most SEAL_MAX_CERT_BYTES, giving up after
 * timeout_ms); an HTTP status other than 200 is reported and returned as
 * status_error. */
int seal_cert_fetch(char **out, size_t *out_len, const char *url, long timeout_ms,
                    int status_error);

/* ---- cluster.c: the cluster's controller ---------------------------------- */

/* The cluster's public key text: the ConfigMap MANIFEST_CERT_CONFIGMAP in
 * MANIFEST_KEYS_NAMESPACE, then the controller's /v1/cert.pem through the
 * service proxy; or the controller URL when one is given. */
int seal_cluster_cert(char **out, size_t *out_len, const seal_cluster_opts *opts);
/* The same, with the one key read from it into pub, asked through client
 * (NULL: a client of its own). */
int seal_cluster_cert_key(char **out, size_t *out_len, keys_public *pub,
                          const seal_cluster_opts *opts, kube_client *client);

/* POSTs body (JSON) to the controller's /v1/verify (through the service proxy, or
 * the controller URL); *http_code is its answer, *reply its body. */
int seal_cluster_verify(char **reply, size_t *reply_len, long *http_code,
                        const seal_cluster_opts *opts, const char *body, size_t body_len);

/* POSTs a SealedSecret (JSON) to the controller's /v1/rotate, like
 * seal_cluster_verify; a 200 reply is the SealedSecret re-sealed. */
int seal_cluster_rotate(char **reply, size_t *reply_len, long *http_code,
                        const seal_cluster_opts *opts, const char *body, size_t body_len);

/* The kube configuration options of opts (finished): the kubeconfig, the
 * context and kubectl's overrides. */
void seal_kube_config_opts(kube_config_opts *out, const seal_cluster_opts *opts);

/* A Kubernetes client from opts (see seal_kube_config_opts), with its request
 * timeout; hint (may be NULL) is added to a failure to load the configuration. */
int seal_kube_open(kube_client **out, const seal_cluster_opts *opts, const char *hint);

#endif
