#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal keys list [-o text|json] [options]\n"
    "\n"
    "Lists the cluster's keys: key id, state, creation time, when it was last\n"
    "backed up, and how many SealedSecrets (in every namespace) have a value\n"
    "sealed for it. The newest active key, the one that seals, is marked '*'.\n"
    "\n"
    "  -o, --output FORMAT        text (default) or json\n" SEAL_KEYS_HELP SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"output", required_argument, NULL, 'o'},
    SEAL_LONGOPTS_END,
};

typedef struct count_state {
  seal_key_list *keys;
  size_t sealed;  /* SealedSecrets seen */
  size_t unknown; /* SealedSecrets with a value sealed for no key of the list */
} count_state;

/* Counts one SealedSecret once for each key id its values were sealed for. */
static int count_one(void *ud, json_t *item)
{
  count_state *cs = ud;
  json_t *enc = doc_get(item, "spec", "encryptedData", NULL), *v;
  uint8_t seen[KEYS_MAX_RECIPIENTS * 4][KEYS_ID_BYTES];
  size_t n_seen = 0, i, j;
  const char *key;
  int unknown = 0;

  cs->sealed++;
  json_object_foreach(enc, key, v) {
    uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    size_t n = 0, hits = 0;
    if (!json_is_string(v) ||
        keys_sealed_ids(ids, &n, json_string_value(v), json_string_length(v), NULL) != KEYS_OK)
      continue;
    for (i = 0; i < n; i++) {
      if (seal_keys_find(cs->keys, ids[i]) == NULL)
        continue;
      hits++;
      for (j = 0; j < n_seen; j++)
        if (memcmp(seen[j], ids[i], KEYS_ID_BYTES) == 0)
          break;
      if (j == n_seen && n_seen < sizeof seen / sizeof seen[0])
        memcpy(seen[n_seen++], ids[i], KEYS_ID_BYTES);
    }
    if (hits == 0)
      unknown = 1;
  }
  for (j = 0; j < n_seen; j++)
    ((seal_key_info *)seal_keys_find(cs->keys, seen[j]))->users++;
  if (unknown)
    cs->unknown++;
  return SEAL_OK;
}

static int print_json(const seal_key_list *keys, const seal_key_info *newest, const count_state *cs)
{
  json_t *root = json_object(), *arr = json_array();
  char *text = NULL;
  int st = SEAL_OK;

  if (root == NULL || arr == NULL || json_object_set_new(root, "keys", arr) != 0) {
    json_decref(arr);
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < keys->n; i++) {
    const seal_key_info *k = &keys->v[i];
    char created[40], backed[40];
    json_t *o;
    seal_keys_time(created, k->created);
    seal_keys_time(backed, k->backed_up);
    o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:I}", "keyId", k->id, "secret", k->name, "state",
                  k->compromised ? "compromised" : "active", "newest", k == newest, "createdAt",
                  k->created > 0 ? json_string(created) : json_null(), "backedUpAt",
                  k->backed_up > 0 ? json_string(backed) : json_null(), "sealedSecrets",
                  (json_int_t)k->users);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
  }
  if (json_object_set_new(root, "sealedSecrets", json_integer((json_int_t)cs->sealed)) != 0 ||
      json_object_set_new(root, "sealedForUnknownKeys", json_integer((json_int_t)cs->unknown)) !=
          0 ||
      (text = json_dumps(root, JSON_INDENT(2))) == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  printf("%s\n", text);
out:
  doc_json_free(text);
  json_decref(root);
  return st;
}

int cmd_keys_list(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  const seal_key_info *newest;
  count_state cs = {0};
  char path[KUBE_MAX_PATH];
  seal_cmdline cl = {.cmd = "keys list",
                     .usage = usage_text,
                     .shortopts = "o:h",
                     .longopts = longopts,
                     .keys = &ko};
  int c, json_out = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    if (c != 'o')
      continue;
    if (strcmp(optarg, "json") == 0)
      json_out = 1;
    else if (strcmp(optarg, "text") != 0)
      return seal_usage_error("keys list", "keys list: -o '%s': use text or json", optarg);
  }
  if (c < 0)
    return cl.status;
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  cs.keys = &store.keys;
  if (kube_path(path, sizeof path, MANIFEST_API_VERSION, "sealedsecrets", NULL, NULL, NULL) !=
      KUBE_OK) {
    st = seal_report(SEAL_ERR_ENV, "sealedsecrets: path too long");
    goto out;
  }
  st = seal_kube_list(store.client, path, "sealedsecrets in every namespace", count_one, &cs);
  if (st != SEAL_OK)
    goto out;
  newest = seal_keys_newest(&store.keys);
  if (json_out) {
    st = print_json(&store.keys, newest, &cs);
    goto out;
  }
  if (store.keys.n == 0) {
    fprintf(stderr, "seal: no key secrets in namespace %s\n", store.ns);
    goto out;
  }
  printf("%-18s %-12s %-21s %-21s %s\n", "KEY ID", "STATE", "CREATED", "BACKED UP",
         "SEALEDSECRETS");
  for (size_t i = 0; i < store.keys.n; i++) {
    const seal_key_info *k = &store.keys.v[i];
    char created[40], backed[40], id[KEYS_ID_HEX_BYTES + 2];
    seal_keys_time(created, k->created);
    seal_keys_time(backed, k->backed_up);
    snprintf(id, sizeof id, "%s%s", k->id, k == newest ? "*" : "");
    printf("%-18s %-12s %-21s %-21s %zu\n", id, k->compromised ? "compromised" : "active", created,
           backed, k->users);
  }
  if (cs.unknown)
    fprintf(stderr, "seal: warning: %zu SealedSecret%s sealed for no key of namespace %s\n",
            cs.unknown, cs.unknown == 1 ? " has a value" : "s have values", store.ns);
out:
  seal_keys_close(&store);
  return st;
}
