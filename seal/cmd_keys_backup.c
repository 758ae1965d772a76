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
    "usage: seal keys backup -w FILE [--force] [options]\n"
    "\n"
    "Writes every private key of the cluster to FILE (mode 0600, atomically), each\n"
    "armored with its Key-Id, Created and State headers, then records\n" MANIFEST_KEY_ANN_BACKED_UP
    " on each key Secret. FILE unseals every SealedSecret of\n"
    "the cluster: keep it offline and never commit it.\n"
    "\n"
    "  -w, --write FILE           where the keys go (required)\n"
    "      --force                replace an existing FILE\n" SEAL_KEYS_HELP SEAL_HELP_HELP;

enum { OPT_FORCE = SEAL_OPT_KEYS_FIRST_FREE };

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"write", required_argument, NULL, 'w'},
    {"force", no_argument, NULL, OPT_FORCE},
    SEAL_LONGOPTS_END,
};

typedef struct backup_state {
  const char *ns;
  seal_key_list *keys;
  keys_keyring *ring;
  int st;
} backup_state;

/* The one private key of a key Secret into the ring, with the state of its
 * label (the cluster's truth: an admin may have relabelled it). */
static int take_key(void *ud, json_t *secret)
{
  backup_state *bs = ud;
  const char *name = doc_get_string(secret, "metadata", "name", NULL);
  manifest_key_secret ks;
  manifest_error merr = {0};
  keys_error kerr = {0};
  size_t added = 0, i;
  int rc, st = SEAL_OK;

  for (i = 0; name && i < bs->keys->n; i++)
    if (strcmp(bs->keys->v[i].name, name) == 0)
      break;
  if (name == NULL || i == bs->keys->n)
    return SEAL_OK; /* skipped (and warned about) by the listing */
  const seal_key_info *k = &bs->keys->v[i];
  if (manifest_key_secret_parse(&ks, secret, bs->ns, &merr) != MANIFEST_OK) {
    st = seal_report(ks.fault == MANIFEST_KEY_SOUND ? SEAL_ERR_ENV : SEAL_ERR_INPUT, "%s",
                     merr.message);
    goto out;
  }
  if (memcmp(ks.id, k->raw_id, KEYS_ID_BYTES) != 0) {
    st = seal_report(SEAL_ERR_INPUT,
                     "key secret %s/%s: holds key %s now, key %s when listed; run the backup "
                     "again",
                     bs->ns, name, ks.hex, k->id);
    goto out;
  }
  rc = keys_armor_read_private(bs->ring, &added, ks.private_armor, ks.private_len, &kerr);
  if (rc == KEYS_ERR_EXISTS || (rc == KEYS_OK && added == 0)) {
    seal_warn("key secret %s/%s: key %s is in another key secret too", bs->ns, name, k->id);
    goto out;
  }
  if (rc != KEYS_OK) {
    st = seal_report_keys(name, &kerr, rc);
    goto out;
  }
  keys_keypair_set_state(keys_keyring_find(bs->ring, k->raw_id),
                         k->compromised ? KEYS_STATE_COMPROMISED : KEYS_STATE_ACTIVE);
out:
  manifest_key_secret_clear(&ks);
  return st;
}

int cmd_keys_backup(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  backup_state bs = {0};
  keys_error kerr = {0};
  const char *out_path = NULL;
  char path[KUBE_MAX_PATH], what[300], now[40];
  char *buf = NULL;
  size_t cap = 0, used = 0, n, i;
  seal_cmdline cl = {.cmd = "keys backup",
                     .usage = usage_text,
                     .shortopts = "w:h",
                     .longopts = longopts,
                     .keys = &ko};
  int c, rc, force = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    if (c == 'w')
      out_path = optarg;
    else if (c == OPT_FORCE)
      force = 1;
  }
  if (c < 0)
    return cl.status;
  if (out_path == NULL || strcmp(out_path, "-") == 0) {
    st = seal_usage_error("keys backup", "keys backup: -w FILE is required (private keys never go "
                                         "to the terminal)");
    goto out;
  }
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  if (store.keys.n == 0) {
    st = seal_report(SEAL_ERR_INPUT, "keys backup: no key secrets in namespace %s", store.ns);
    goto out;
  }
  if ((rc = keys_keyring_new(&bs.ring)) != KEYS_OK) {
    st = seal_report_keys(NULL, NULL, rc);
    goto out;
  }
  bs.ns = store.ns;
  bs.keys = &store.keys;
  snprintf(what, sizeof what, "key secrets in namespace %s", store.ns);
  if (kube_path(path, sizeof path, "v1", "secrets", store.ns, NULL, NULL) != KUBE_OK ||
      kube_query_add(path, sizeof path, "labelSelector", MANIFEST_LABEL_KEY) != KUBE_OK) {
    st = seal_report(SEAL_ERR_ENV, "%s: path too long", what);
    goto out;
  }
  if ((st = seal_kube_list(store.client, path, what, take_key, &bs)) != SEAL_OK)
    goto out;
  n = keys_keyring_count(bs.ring);
  if (n == 0) {
    st = seal_report(SEAL_ERR_INPUT, "keys backup: no private key read in namespace %s", store.ns);
    goto out;
  }
  cap = n * KEYS_ARMOR_MAX;
  buf = sodium_malloc(cap);
  if (buf == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (i = 0; i < n; i++) {
    size_t len = 0;
    rc = keys_armor_write_private(buf + used, cap - used, &len, keys_keyring_at(bs.ring, i));
    if (rc != KEYS_OK) {
      st = seal_report_keys("keys backup", NULL, rc);
      goto out;
    }
    used += len;
  }
  rc = keys_file_write(out_path, buf, used, 0600, force, &kerr);
  if (rc == KEYS_ERR_EXISTS) {
    st = seal_report(SEAL_ERR_INPUT, "%s: already exists (use --force to replace it)", out_path);
    goto out;
  }
  if (rc != KEYS_OK) {
    st = seal_report_keys(out_path, &kerr, rc);
    goto out;
  }
  fprintf(stderr,
          "seal: warning: %s holds %zu private key%s that unseal%s every SealedSecret of the "
          "cluster: keep it offline and encrypted, never commit it\n",
          out_path, n, n == 1 ? "" : "s", n == 1 ? "s" : "");
  if (keys_time_format(now, sizeof now, (int64_t)time(NULL)) != KEYS_OK) {
    st = seal_report(SEAL_ERR_ENV, "keys backup: cannot format the time");
    goto out;
  }
  for (i = 0; i < store.keys.n; i++) {
    char hex[KEYS_ID_HEX_BYTES];
    if (keys_keyring_find(bs.ring, store.keys.v[i].raw_id) == NULL)
      continue;
    st = seal_keys_annotate(store.client, store.ns, store.keys.v[i].name,
                            MANIFEST_KEY_ANN_BACKED_UP, now);
    if (st != SEAL_OK) {
      seal_report(st, "keys backup: %s is written, but %s is not recorded on every key secret",
                  out_path, MANIFEST_KEY_ANN_BACKED_UP);
      goto out;
    }
    keys_id_hex(hex, store.keys.v[i].raw_id);
    printf("backed up key %s (%s, key secret %s/%s)\n", hex,
           store.keys.v[i].compromised ? "compromised" : "active", store.ns, store.keys.v[i].name);
  }
out:
  if (buf)
    sodium_free(buf); /* wipes */
  keys_keyring_free(bs.ring);
  seal_keys_close(&store);
  return st;
}
