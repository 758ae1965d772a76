#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

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
    "then nothing is created. A restored key is marked backed up (seal.dev/backed-up-at:\n"
    "now, since FILE holds it). The controller picks the keys up without a restart.\n"
    "\n"
    "  -f, --file FILE            the backup file (required)\n" SEAL_KEYS_HELP
    "  -h, --help                 this help\n";

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"file", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The key Secret of kp, as the controller makes them. */
static int key_secret(json_t **out, const keys_keypair *kp, const char *ns, const char *name,
                      const char *backed_up) {
  char *priv = NULL, *priv_b64 = NULL, *pub_b64 = NULL;
  char pub[KEYS_ARMOR_MAX], created[40];
  size_t priv_len = 0, pub_len = 0, b64_len = 0;
  int64_t when = keys_keypair_created(kp);
  int st = SEAL_OK;

  priv = sodium_malloc(KEYS_ARMOR_MAX);
  if (priv == NULL ||
      keys_armor_write_private(priv, KEYS_ARMOR_MAX, &priv_len, kp) != KEYS_OK ||
      keys_armor_write_public(pub, sizeof pub, &pub_len, keys_keypair_public(kp), when) !=
          KEYS_OK ||
      keys_base64_encode(&priv_b64, &b64_len, (const uint8_t *)priv, priv_len) != KEYS_OK ||
      keys_base64_encode(&pub_b64, &b64_len, (const uint8_t *)pub, pub_len) != KEYS_OK) {
    st = seal_report(SEAL_ERR_ENV, "key secret %s/%s: cannot encode the key", ns, name);
    goto out;
  }
  /* a key without a known creation time is the oldest, never the newest */
  if (keys_time_format(created, sizeof created, when > 0 ? when : 0) != KEYS_OK)
    snprintf(created, sizeof created, "1970-01-01T00:00:00Z");
  /* the key is in the backup it comes from: not a key that was never backed up */
  *out = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s, s:s}}, s:s, s:{s:s, s:s}}",
                   "apiVersion", "v1", "kind", "Secret", "metadata", "name", name, "namespace", ns,
                   "labels", SEAL_KEY_LABEL,
                   keys_keypair_state(kp) == KEYS_STATE_COMPROMISED ? "compromised" : "active",
                   "annotations", SEAL_KEY_ANN_CREATED, created, SEAL_KEY_ANN_BACKED_UP, backed_up,
                   "type", SEAL_KEY_SECRET_TYPE,
                   "data", "private.key", priv_b64, "public.key", pub_b64);
  if (*out == NULL)
    st = seal_report(SEAL_ERR_ENV, "out of memory");
out:
  if (priv_b64) {
    sodium_memzero(priv_b64, strlen(priv_b64));
    free(priv_b64);
  }
  free(pub_b64);
  if (priv)
    sodium_free(priv);
  return st;
}

int cmd_keys_restore(int argc, char **argv) {
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  keys_keyring *ring = NULL;
  const char *in_path = NULL, *ns;
  char path[KUBE_MAX_PATH], now[40];
  size_t n, i, created = 0, kept = 0;
  seal_cmdline cl = {.cmd = "keys restore", .usage = usage_text, .shortopts = "f:h",
                     .longopts = longopts, .keys = &ko};
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
    st = seal_usage_error("keys restore", "keys restore: --key-namespace '%s': not a valid namespace",
                          ns);
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
    snprintf(want, sizeof want, SEAL_KEY_PREFIX "%s", hex);
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
    kube_status ks = {0};
    char *text = NULL;
    long code = 0;

    keys_id_hex(hex, keys_keypair_public(kp)->id);
    if (k) {
      printf("key %s: already in key secret %s/%s\n", hex, ns, k->name);
      kept++;
      continue;
    }
    snprintf(name, sizeof name, SEAL_KEY_PREFIX "%s", hex);
    if ((st = key_secret(&secret, kp, ns, name, now)) != SEAL_OK)
      goto out;
    text = json_dumps(secret, JSON_COMPACT);
    json_decref(secret);
    if (text == NULL) {
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
    rc = kube_request_sync(store.client, "POST", path, text, strlen(text), NULL, &code, &reply,
                           &ks);
    seal_json_text_free(text); /* it held a private key */
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
  fprintf(stderr, "seal: %zu key%s restored, %zu already there\n", created,
          created == 1 ? "" : "s", kept);
out:
  keys_keyring_free(ring);
  seal_keys_close(&store);
  return st;
}
