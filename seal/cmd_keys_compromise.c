#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal keys compromise KEYID [options]\n"
    "\n"
    "Labels the key Secret of KEYID seal.dev/key=compromised. The key keeps\n"
    "unsealing (no outage) but never seals again; every SealedSecret sealed for it\n"
    "shows KeyCurrent=False reason CompromisedKey. Re-seal those ('seal reseal')\n"
    "and change the secret values themselves: anyone holding the key could read them.\n"
    "\n" SEAL_KEYS_HELP "  -h, --help                 this help\n";

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_keys_compromise(int argc, char **argv) {
  seal_keys_opts ko = {0};
  seal_key_list keys = {0};
  kube_client *client = NULL;
  const char *ns;
  const seal_key_info *k;
  uint8_t id[KEYS_ID_BYTES];
  int c, st = SEAL_OK;

  while ((c = seal_getopt("keys compromise", argc, argv, "h", longopts)) != -1) {
    if (seal_keys_option(&ko, c, optarg))
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
  if (optind != argc - 1) {
    st = seal_usage_error("keys compromise", "keys compromise: give exactly one key id");
    goto out;
  }
  if (strlen(argv[optind]) != 16 || keys_id_parse(id, argv[optind]) != KEYS_OK) {
    st = seal_usage_error("keys compromise", "keys compromise: '%s': not a key id (16 hex digits)",
                          argv[optind]);
    goto out;
  }
  ns = seal_keys_ns(ko.ns);
  if ((st = seal_keys_open(&client, &keys, &ko)) != SEAL_OK)
    goto out;
  k = seal_keys_find(&keys, id);
  if (k == NULL) {
    st = seal_report(SEAL_ERR_INPUT, "keys compromise: key %s: no key secret in namespace %s",
                     argv[optind], ns);
    goto out;
  }
  if (k->compromised) {
    printf("key %s (key secret %s/%s) is already labelled compromised\n", k->id, ns, k->name);
    goto out;
  }
  if ((st = seal_keys_label(client, ns, k->name, SEAL_KEY_LABEL, "compromised")) != SEAL_OK)
    goto out;
  printf("key %s (key secret %s/%s) labelled compromised: it no longer seals; re-seal its "
         "SealedSecrets and change their values\n",
         k->id, ns, k->name);
  if (k == seal_keys_newest(&keys))
    fprintf(stderr, "seal: warning: key %s was the newest active key: the controller seals "
                    "with the next newest active key; run 'seal keys rotate' for a fresh one\n",
            k->id);
out:
  seal_keys_free(&keys);
  kube_client_free(client);
  return st;
}
