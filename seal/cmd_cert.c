#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal cert [options]\n"
    "\n"
    "Prints the cluster's public key (armored): the ConfigMap\n" MANIFEST_KEYS_NAMESPACE
    "/" MANIFEST_CERT_CONFIGMAP " (key " MANIFEST_CERT_FIELD "), else the controller's\n"
    "/v1/cert.pem through the API server's service proxy, or straight from\n"
    "--controller-url.\n"
    "\n"
    "  -w, --write OUT            write OUT atomically instead of stdout (nothing,\n"
    "                             not even an empty file, when the fetch fails)\n" SEAL_CLUSTER_HELP
        SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_CLUSTER_LONGOPTS,
    {"write", required_argument, NULL, 'w'},
    SEAL_LONGOPTS_END,
};

int cmd_cert(int argc, char **argv)
{
  seal_cluster_opts cluster = {0};
  keys_public *pubs = NULL;
  keys_error kerr = {0};
  char *text = NULL, *all = NULL;
  const char *out_path = NULL;
  size_t len = 0, n = 0, i, all_len = 0;
  seal_cmdline cl = {.cmd = "cert",
                     .usage = usage_text,
                     .shortopts = "w:h",
                     .longopts = longopts,
                     .cluster = &cluster};
  int c, rc, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0)
    if (c == 'w')
      out_path = optarg;
  if (c < 0)
    return cl.status;
  if ((st = seal_cluster_cert(&text, &len, &cluster)) != SEAL_OK)
    goto out;
  /* Print only what would seal: every block must be a usable public key. */
  rc = keys_armor_read_public(&pubs, &n, text, len, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys("the cluster's public key", &kerr, rc);
    goto out;
  }
  all = malloc(n * KEYS_ARMOR_MAX + 1);
  if (all == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (i = 0; i < n; i++) {
    keys_public checked;
    char block[KEYS_ARMOR_MAX];
    size_t block_len = 0;
    rc = keys_public_from_bytes(&checked, pubs[i].pk, &kerr);
    if (rc == KEYS_OK)
      rc = keys_armor_write_public(block, sizeof block, &block_len, &checked, 0);
    if (rc != KEYS_OK) {
      st = seal_report_keys("the cluster's public key", &kerr, rc);
      goto out;
    }
    memcpy(all + all_len, block, block_len);
    all_len += block_len;
  }
  st = seal_output_write(out_path, all, all_len, 0644);
out:
  free(all);
  free(pubs);
  doc_wipe_free(text, len);
  return st;
}
