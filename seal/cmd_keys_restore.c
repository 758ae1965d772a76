#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal keys restore -f FILE [options]\n"
    "\n"
    "Puts the private keys of FILE (a 'seal keys backup') back as key Secrets in\n"
    "the key namespace, each with its creation time and state (a compromised key\n"
    "stays compromised). A key Secret that already holds the same key in the same\n"
    "state is left alone; one that holds another key or state is a conflict, and\n"
    "then nothing is created. A restored key is marked backed up (" MANIFEST_KEY_ANN_BACKED_UP ":\n"
    "now, since FILE holds it). The controller picks the keys up without a restart.\n"
    "\n"
    "  -f, --file FILE            the backup file (required)\n" SEAL_KEYS_HELP SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"file", required_argument, NULL, 'f'},
    SEAL_LONGOPTS_END,
};

int cmd_keys_restore(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  keys_keyring *ring = NULL;
  const char *in_path = NULL, *ns;
  char path[KUBE_MAX_PATH], now[40];
  size_t n, i, created = 0, kept = 0;
  seal_cmdline cl = {.cmd = "keys restore",
                     .usage = usage_text,
                     .shortopts = "f:h",
                     .longopts = longopts,
                     .keys = &ko};
  int c, rc, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0)
    if (c == 'f')
      in_path = optarg;
  if (c < 0)
    return cl.status;
  if (in_path == NULL) {
    st = seal_usage_error("keys restore", "keys restore: -f FILE is required");
    goto out;
  }
  ns = seal_keys_ns(ko.ns);
  if (!keys_name_valid(ns)) {
    st = seal_usage_error("keys restore",
                          "keys restore: --key-namespace '%s': not a valid namespace", ns);
    goto out;
  }
  if ((rc = keys_keyring_new(&ring)) != KEYS_OK) {
    st = seal_report_keys(NULL, NULL, rc);
    goto out;
  }
  /* the whole file is checked before the cluster is touched */
  if ((st = seal_keys_load(ring, in_path)) != SEAL_OK)
    goto out;
  n = keys_keyring_count(ring);
  if (keys_time_format(now, sizeof now, (int64_t)time(NULL)) != KEYS_OK) {
    st = seal_report(SEAL_ERR_ENV, "cannot format the current time");
    goto out;
  }
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  /* conflicts first: nothing is created when one key cannot be restored as it was */
  for (i = 0; i < n; i++) {
    const keys_keypair *kp = keys_keyring_at(ring, i);
    const seal_key_info *k = seal_keys_find(&store.keys, keys_keypair_public(kp)->id);
    int compromised = keys_keypair_state(kp) == KEYS_STATE_COMPROMISED;
    char hex[KEYS_ID_HEX_BYTES], want[KEYS_NAME_MAX + 1];
    keys_id_hex(hex, keys_keypair_public(kp)->id);
    manifest_key_secret_name(want, keys_keypair_public(kp)->id);
    if (k && k->compromised != compromised) {
      st = seal_report(SEAL_ERR_INPUT,
                       "%s: key %s: key secret %s/%s holds it as %s, the backup as %s; relabel "
                       "one of them first (nothing restored)",
                       in_path, hex, ns, k->name, k->compromised ? "compromised" : "active",
                       compromised ? "compromised" : "active");
      goto out;
    }
    for (size_t j = 0; k == NULL && j < store.keys.n; j++)
      if (strcmp(store.keys.v[j].name, want) == 0) {
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: key %s: key secret %s/%s already exists and holds key %s "
                         "(nothing restored)",
                         in_path, hex, ns, want, store.keys.v[j].id);
        goto out;
      }
  }
  if (kube_path(path, sizeof path, "v1", "secrets", ns, NULL, NULL) != KUBE_OK) {
    st = seal_report(SEAL_ERR_ENV, "key secrets in %s: path too long", ns);
    goto out;
  }
  for (i = 0; i < n; i++) {
    const keys_keypair *kp = keys_keyring_at(ring, i);
    const seal_key_info *k = seal_keys_find(&store.keys, keys_keypair_public(kp)->id);
    char hex[KEYS_ID_HEX_BYTES], name[KEYS_NAME_MAX + 1];
    json_t *secret = NULL, *reply = NULL;
    manifest_error merr = {0};
    kube_status ks = {0};
    char *text = NULL;
    long code = 0;

    keys_id_hex(hex, keys_keypair_public(kp)->id);
    if (k) {
      printf("key %s: already in key secret %s/%s\n", hex, ns, k->name);
      kept++;
      continue;
    }
    manifest_key_secret_name(name, keys_keypair_public(kp)->id);
    /* the key is in the backup it comes from: not a key that was never backed up */
    if ((rc = manifest_key_secret_build(&secret, kp, ns, now, &merr)) != MANIFEST_OK) {
      st = seal_report(rc == MANIFEST_ERR_NOMEM ? SEAL_ERR_ENV : SEAL_ERR_INPUT, "%s: %s", in_path,
                       merr.message);
      goto out;
    }
    text = json_dumps(secret, JSON_COMPACT);
    json_decref(secret);
    if (text == NULL) {
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
    rc = kube_request_sync(store.client, "POST", path, text, strlen(text), NULL, &code, &reply,
                           &ks);
    doc_json_free(text); /* it held a private key */
    json_decref(reply);
    if (rc != KUBE_OK) {
      st = seal_report(SEAL_ERR_ENV, "key secret %s/%s: create: %s (%zu of %zu keys restored)", ns,
                       name, ks.message[0] ? ks.message : kube_strerror(rc), created, n);
      goto out;
    }
    created++;
    printf("key %s: restored as key secret %s/%s (%s)\n", hex, ns, name,
           keys_keypair_state(kp) == KEYS_STATE_COMPROMISED ? "compromised" : "active");
  }
  fprintf(stderr, "seal: %zu key%s restored, %zu already there\n", created, created == 1 ? "" : "s",
          kept);
out:
  keys_keyring_free(ring);
  seal_keys_close(&store);
  return st;
}
