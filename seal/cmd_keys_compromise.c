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
    "\n" SEAL_KEYS_HELP SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    SEAL_LONGOPTS_END,
};

int cmd_keys_compromise(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  const seal_key_info *k;
  uint8_t id[KEYS_ID_BYTES];
  seal_cmdline cl = {.cmd = "keys compromise",
                     .usage = usage_text,
                     .shortopts = "h",
                     .longopts = longopts,
                     .keys = &ko,
                     .operands = 1};
  int st = SEAL_OK;

  if (seal_cmdline_next(&cl, argc, argv) != 0)
    return cl.status;
  if (optind != argc - 1) {
    st = seal_usage_error("keys compromise", "keys compromise: give exactly one key id");
    goto out;
  }
  if (strlen(argv[optind]) != 16 || keys_id_parse(id, argv[optind]) != KEYS_OK) {
    st = seal_usage_error("keys compromise", "keys compromise: '%s': not a key id (16 hex digits)",
                          argv[optind]);
    goto out;
  }
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  k = seal_keys_find(&store.keys, id);
  if (k == NULL) {
    st = seal_report(SEAL_ERR_INPUT, "keys compromise: key %s: no key secret in namespace %s",
                     argv[optind], store.ns);
    goto out;
  }
  if (k->compromised) {
    printf("key %s (key secret %s/%s) is already labelled compromised\n", k->id, store.ns, k->name);
    goto out;
  }
  st = seal_keys_label(store.client, store.ns, k->name, MANIFEST_LABEL_KEY,
                       MANIFEST_KEY_COMPROMISED);
  if (st != SEAL_OK)
    goto out;
  printf("key %s (key secret %s/%s) labelled compromised: it no longer seals; re-seal its "
         "SealedSecrets and change their values\n",
         k->id, store.ns, k->name);
  if (k == seal_keys_newest(&store.keys))
    fprintf(stderr,
            "seal: warning: key %s was the newest active key: the controller seals "
            "with the next newest active key; run 'seal keys rotate' for a fresh one\n",
            k->id);
out:
  seal_keys_close(&store);
  return st;
}
