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
    "Prints the cluster's public key (armored): the ConfigMap\n"
    "seal-system/seal-public-keys (key cert.pem), else the controller's\n"
    "/v1/cert.pem through the API server's service proxy, or straight from\n"
    "--controller-url.\n"
    "\n"
    SEAL_CLUSTER_HELP
    "  -h, --help                 this help\n";

static const struct option longopts[] = {
    SEAL_CLUSTER_LONGOPTS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_cert(int argc, char **argv) {
  seal_cluster_opts cluster = {0};
  keys_public *pubs = NULL;
  keys_error kerr = {0};
  char *text = NULL;
  size_t len = 0, n = 0, i;
  int c, rc, st = SEAL_OK;

  while ((c = seal_getopt("cert", argc, argv, "h", longopts)) != -1) {
    if (seal_cluster_option(&cluster, c, optarg))
      continue;
    switch (c) {
    case 'h':
      fputs(usage_text, stdout);
      goto out;
    default:
      st = SEAL_ERR_USAGE;
      goto out;
    }
  }
  if ((st = seal_no_arguments("cert", argc, argv)) != SEAL_OK)
    goto out;
  if ((st = seal_cluster_cert(&text, &len, &cluster)) != SEAL_OK)
    goto out;
  /* Print only what would seal: every block must be a usable public key. */
  rc = keys_armor_read_public(&pubs, &n, text, len, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys("the cluster's public key", &kerr, rc);
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
    fwrite(block, 1, block_len, stdout);
  }
out:
  free(pubs);
  seal_text_free(text, len);
  return st;
}
