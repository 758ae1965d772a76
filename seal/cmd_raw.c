#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal raw --namespace NS --name NAME --key DATAKEY [options] [--from-file F]\n"
    "\n"
    "Seals one value (stdin, or the file F) and prints one base64 sealed value, for\n"
    "spec.encryptedData.DATAKEY of the SealedSecret NS/NAME. For --scope\n"
    "namespace-wide the name is not needed, for cluster-wide neither is the namespace.\n"
    "\n"
    "  -n, --namespace NS         the SealedSecret's namespace (else $SEAL_NAMESPACE)\n"
    "      --name NAME            the SealedSecret's name\n"
    "      --key DATAKEY          the data key the value is sealed for\n"
    "      --scope SCOPE          strict (default), namespace-wide or cluster-wide\n"
    "      --from-file F          read the value from F instead of stdin\n"
    "      --allow-empty-data     seal an empty value\n" SEAL_CERT_HELP SEAL_HELP_HELP;

enum { OPT_NAME = SEAL_OPT_FIRST_FREE, OPT_KEY, OPT_SCOPE, OPT_FROM_FILE, OPT_ALLOW_EMPTY };

static const struct option longopts[] = {
    SEAL_CERT_LONGOPTS,
    {"namespace", required_argument, NULL, 'n'},
    {"name", required_argument, NULL, OPT_NAME},
    {"key", required_argument, NULL, OPT_KEY},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"from-file", required_argument, NULL, OPT_FROM_FILE},
    {"allow-empty-data", no_argument, NULL, OPT_ALLOW_EMPTY},
    SEAL_LONGOPTS_END,
};

int cmd_raw(int argc, char **argv)
{
  seal_cert_opts certs = {0};
  keys_public recipients[KEYS_MAX_RECIPIENTS];
  size_t n_recipients = 0;
  keys_scope scope = KEYS_SCOPE_STRICT;
  keys_error kerr = {0};
  const char *ns = NULL, *name = NULL, *key = NULL, *from = NULL;
  char label[KEYS_LABEL_MAX];
  char *value = NULL, *sealed = NULL;
  size_t value_len = 0;
  seal_cmdline cl = {
      .cmd = "raw", .usage = usage_text, .shortopts = "n:h", .longopts = longopts, .certs = &certs};
  int c, rc, st = SEAL_OK, allow_empty = 0;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case 'n':
      ns = optarg;
      break;
    case OPT_NAME:
      name = optarg;
      break;
    case OPT_KEY:
      key = optarg;
      break;
    case OPT_SCOPE:
      if (keys_scope_parse(&scope, optarg) != KEYS_OK) {
        st = seal_usage_error("raw",
                              "raw: unknown scope '%s' (strict, namespace-wide, cluster-wide)",
                              optarg);
        goto out;
      }
      break;
    case OPT_FROM_FILE:
      from = optarg;
      break;
    case OPT_ALLOW_EMPTY:
      allow_empty = 1;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (key == NULL) {
    st = seal_usage_error("raw", "raw: --key is required");
    goto out;
  }
  if (scope != KEYS_SCOPE_CLUSTER && (st = seal_namespace_finish(&ns, "raw")) != SEAL_OK)
    goto out;
  if (scope != KEYS_SCOPE_CLUSTER && ns == NULL) {
    st = seal_usage_error("raw", "raw: --namespace is required for scope %s",
                          keys_scope_name(scope));
    goto out;
  }
  if (scope == KEYS_SCOPE_STRICT && name == NULL) {
    st = seal_usage_error("raw", "raw: --name is required for scope strict");
    goto out;
  }
  rc = keys_label(label, sizeof label, scope, ns, name, key, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys("raw", &kerr, rc);
    goto out;
  }
  st = seal_input_read(&value, &value_len, from, KEYS_MAX_VALUE_BYTES);
  if (st != SEAL_OK)
    goto out;
  if (value_len == 0 && !allow_empty) {
    /* printf %s "$UNSET" | seal raw ... */
    st = seal_report(SEAL_ERR_INPUT,
                     "raw: %s: key \"%s\": empty value refused (an unset variable?); "
                     "--allow-empty-data seals it anyway",
                     from ? from : "stdin", key);
    goto out;
  }
  if ((st = seal_certs_load(recipients, &n_recipients, &certs)) != SEAL_OK)
    goto out;
  rc = keys_seal(&sealed, recipients, n_recipients, label, (const uint8_t *)value, value_len,
                 &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys(seal_input_name(from), &kerr, rc);
    goto out;
  }
  if (printf("%s\n", sealed) < 0)
    st = seal_report(SEAL_ERR_ENV, "stdout: write error");
out:
  free(sealed);
  doc_wipe_free(value, value_len);
  return st;
}
