#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal keys rotate [options]\n"
    "\n"
    "Asks the controller for a new key now: sets the annotation\n" MANIFEST_KEY_ANN_RENEW
    " to the current time on the newest key Secret\n"
    "(a merge patch: Kubernetes RBAC decides who may). The controller sees it and\n"
    "makes a new key; existing SealedSecrets keep unsealing. Re-seal them\n"
    "afterwards with 'seal reseal' and back the new key up ('seal keys backup').\n"
    "\n" SEAL_KEYS_HELP SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    SEAL_LONGOPTS_END,
};

int cmd_keys_rotate(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  const seal_key_info *newest;
  char now[40];
  seal_cmdline cl = {.cmd = "keys rotate",
                     .usage = usage_text,
                     .shortopts = "h",
                     .longopts = longopts,
                     .keys = &ko};
  int st = SEAL_OK;

  if (seal_cmdline_next(&cl, argc, argv) != 0)
    return cl.status;
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  newest = seal_keys_newest(&store.keys);
  if (newest == NULL) {
    st = seal_report(SEAL_ERR_INPUT,
                     "keys rotate: no active key secret in namespace %s: is the controller "
                     "running there (--key-namespace)?",
                     store.ns);
    goto out;
  }
  if (keys_time_format(now, sizeof now, (int64_t)time(NULL)) != KEYS_OK) {
    st = seal_report(SEAL_ERR_ENV, "keys rotate: cannot format the time");
    goto out;
  }
  st = seal_keys_annotate(store.client, store.ns, newest->name, MANIFEST_KEY_ANN_RENEW, now);
  if (st != SEAL_OK)
    goto out;
  printf("renewal requested: annotation %s=%s on key secret %s/%s (newest key %s); the "
         "controller makes a new key\n",
         MANIFEST_KEY_ANN_RENEW, now, store.ns, newest->name, newest->id);
out:
  seal_keys_close(&store);
  return st;
}
