#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal reseal [-f IN]... [-w OUT | --in-place] [options]\n"
    "       seal reseal --private-key FILE... --cert FILE [-f IN]... [-w OUT | --in-place]\n"
    "\n"
    "Re-seals SealedSecrets for the cluster's newest key: through the controller's\n"
    "/v1/rotate (service proxy, or --controller-url), or offline with private key\n"
    "files and the newest public key, without cluster access. The scope comes from\n"
    "each SealedSecret's own metadata; other clusters' stanzas of multi-cluster\n"
    "values are kept. Other documents pass through unchanged. An input whose\n"
    "values are all sealed for the newest key already is left byte for byte once\n"
    "every value is checked (a moved or altered value fails, naming its key).\n"
    "\n"
    "  -f, --file IN              read IN (default stdin); repeatable with --in-place\n"
    "  -w, --write OUT            write OUT atomically instead of stdout\n"
    "      --in-place             write each IN back (only when something changed)\n"
    "      --private-key FILE     offline: armored private key file; repeatable\n"
    "      --cert FILE            offline: the newest public key (one block)\n"
    "  -o, --output FORMAT        yaml or json (default: the input's)\n" SEAL_CLUSTER_HELP
        SEAL_HELP_HELP;

enum { OPT_IN_PLACE = SEAL_OPT_FIRST_FREE, OPT_PRIVATE_KEY, OPT_CERT };

#define MAX_FILES 4096
#define MAX_KEY_FILES 64

static const struct option longopts[] = {
    SEAL_CLUSTER_LONGOPTS,
    {"file", required_argument, NULL, 'f'},
    {"write", required_argument, NULL, 'w'},
    {"in-place", no_argument, NULL, OPT_IN_PLACE},
    {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
    {"cert", required_argument, NULL, OPT_CERT},
    {"output", required_argument, NULL, 'o'},
    SEAL_LONGOPTS_END,
};

typedef struct reseal_ctx {
  const seal_cluster_opts *cluster;
  const keys_keyring *ring; /* offline; NULL through the controller */
  keys_public newest;
  char newest_hex[KEYS_ID_HEX_BYTES];
} reseal_ctx;

/* 1 when every value has a stanza for the newest key. */
static int is_current(const reseal_ctx *rx, const json_t *sealed)
{
  json_t *enc = doc_get(sealed, "spec", "encryptedData", NULL), *v;
  const char *key;
  json_object_foreach(enc, key, v) {
    uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    size_t n = 0, i;
    if (!json_is_string(v) ||
        keys_sealed_ids(ids, &n, json_string_value(v), json_string_length(v), NULL) != KEYS_OK)
      return 0;
    for (i = 0; i < n; i++)
      if (memcmp(ids[i], rx->newest.id, KEYS_ID_BYTES) == 0)
        break;
    if (i == n)
      return 0;
  }
  return 1;
}

/* The controller's reason in a refusal: its message, else the text. */
static void refusal(char *out, size_t size, const char *reply, size_t len)
{
  json_t *j = reply && len ? json_loadb(reply, len, 0, NULL) : NULL;
  const char *m = json_string_value(json_object_get(j, "message"));
  size_t i, o = 0;
  if (m) {
    snprintf(out, size, "%s", m);
    json_decref(j);
    return;
  }
  json_decref(j);
  for (i = 0; reply && i < len && o + 1 < size; i++)
    out[o++] = (reply[i] >= 0x20 && reply[i] < 0x7f) ? reply[i] : ' ';
  out[o] = '\0';
}

/* The ids of a sealed value's stanzas; 0 when it is not a sealed value. */
static int value_ids(uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES], size_t *n, const json_t *v)
{
  return json_is_string(v) &&
         keys_sealed_ids(ids, n, json_string_value(v), json_string_length(v), NULL) == KEYS_OK;
}

static int has_id(uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES], size_t n, const uint8_t *id)
{
  for (size_t i = 0; i < n; i++)
    if (memcmp(ids[i], id, KEYS_ID_BYTES) == 0)
      return 1;
  return 0;
}

/* The /v1/rotate answer may only re-seal values: the same document with the
 * same keys, every value sealed for the newest key, and no recipient that was
 * not there before (other clusters' stanzas stay, the cluster's move to the
 * newest key). Anything else (another name, namespace, scope, template,
 * another set of keys, a new recipient) is refused, whoever answered. */
static int rotate_answer_ok(const reseal_ctx *rx, const json_t *sent, const json_t *got, char *why,
                            size_t size)
{
  json_t *a = json_deep_copy(sent), *b = json_deep_copy(got);
  json_t *enc_sent = doc_get(sent, "spec", "encryptedData", NULL);
  json_t *enc_got = doc_get(got, "spec", "encryptedData", NULL), *v;
  const char *key;
  int ok = 0;

  if (a == NULL || b == NULL) {
    snprintf(why, size, "out of memory");
    goto out;
  }
  json_object_del(json_object_get(a, "spec"), "encryptedData");
  json_object_del(json_object_get(b, "spec"), "encryptedData");
  if (!json_equal(a, b)) {
    snprintf(why, size, "it changed more than the sealed values (metadata, scope or template)");
    goto out;
  }
  if (!json_is_object(enc_got) || json_object_size(enc_got) != json_object_size(enc_sent)) {
    snprintf(why, size, "it has other keys than the SealedSecret sent");
    goto out;
  }
  json_object_foreach(enc_got, key, v) {
    uint8_t before[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES], after[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    size_t n_before = 0, n_after = 0, i;
    json_t *old = json_object_get(enc_sent, key);
    if (old == NULL) {
      snprintf(why, size, "key \"%s\" was not in the SealedSecret sent", key);
      goto out;
    }
    if (!value_ids(before, &n_before, old) || !value_ids(after, &n_after, v)) {
      snprintf(why, size, "key \"%s\": not a sealed value", key);
      goto out;
    }
    if (!has_id(after, n_after, rx->newest.id)) {
      snprintf(why, size, "key \"%s\" is not sealed for the newest key %s", key, rx->newest_hex);
      goto out;
    }
    for (i = 0; i < n_after; i++)
      if (memcmp(after[i], rx->newest.id, KEYS_ID_BYTES) != 0 &&
          !has_id(before, n_before, after[i])) {
        char hex[KEYS_ID_HEX_BYTES];
        keys_id_hex(hex, after[i]);
        snprintf(why, size, "key \"%s\" is sealed for key %s, which it was not sealed for", key,
                 hex);
        goto out;
      }
  }
  ok = 1;
out:
  json_decref(a);
  json_decref(b);
  return ok;
}

/* Re-seals one SealedSecret; *slot is replaced when the controller answers. */
static int reseal_one(const reseal_ctx *rx, json_t **slot, const char *source, size_t index)
{
  manifest_error merr = {0};
  char *body = NULL, *reply = NULL, what[512], reason[1024];
  size_t body_len = 0, reply_len = 0, changed = 0;
  json_t *fresh = NULL;
  long code = 0;
  int rc, st = SEAL_OK;

  seal_describe(what, sizeof what, *slot, index);
  if (rx->ring) {
    rc = manifest_reseal_sealed(*slot, rx->ring, &rx->newest, &changed, &merr);
    if (rc != MANIFEST_OK)
      return seal_report_manifest(source, index, *slot, &merr, rc);
    return SEAL_OK;
  }
  rc = doc_write(&body, &body_len, slot, 1, DOC_JSON, &merr);
  if (rc != MANIFEST_OK)
    return seal_report_manifest(source, index, *slot, &merr, rc);
  st = seal_cluster_rotate(&reply, &reply_len, &code, rx->cluster, body, body_len);
  doc_wipe_free(body, body_len);
  if (st != SEAL_OK)
    goto out;
  if (code != 200) {
    refusal(reason, sizeof reason, reply, reply_len);
    st = seal_report(code == 409 || code == 422 ? SEAL_ERR_INPUT : SEAL_ERR_ENV,
                     "%s: %s: the controller did not re-seal it (HTTP %ld): %s", source, what, code,
                     reason);
    goto out;
  }
  fresh = json_loadb(reply, reply_len, 0, NULL);
  if (!manifest_is_sealed_secret(fresh)) {
    st = seal_report(SEAL_ERR_ENV,
                     "%s: %s: the controller's /v1/rotate answer is not a "
                     "SealedSecret",
                     source, what);
    goto out;
  }
  if (!rotate_answer_ok(rx, *slot, fresh, reason, sizeof reason)) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s: the controller's /v1/rotate answer is refused: %s",
                     source, what, reason);
    goto out;
  }
  json_decref(*slot);
  *slot = fresh;
  fresh = NULL;
out:
  json_decref(fresh);
  free(reply);
  return st;
}

/* A SealedSecret already current is left byte for byte, but checked all the
 * same (re-sealed into a copy that is dropped): a moved, re-scoped or altered
 * value fails here as verify fails it, rather than passing as re-sealed. */
static int check_current(const reseal_ctx *rx, const json_t *sealed, const char *source,
                         size_t index)
{
  json_t *copy = json_deep_copy(sealed);
  int st;
  if (copy == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  st = reseal_one(rx, &copy, source, index);
  json_decref(copy);
  return st;
}

/* One input: re-seals what is not current; writes out_path (NULL: stdout)
 * unless in_place and nothing changed. */
static int reseal_input(const reseal_ctx *rx, const char *in_path, const char *out_path,
                        int in_place, const doc_format *format)
{
  doc_list docs = {0};
  manifest_error merr = {0};
  const char *source = seal_input_name(in_path);
  char *text = NULL, *out = NULL;
  size_t len = 0, out_len = 0, i, j, n_sealed = 0, n_changed = 0;
  unsigned mode = 0644;
  struct stat sb;
  int rc, st = SEAL_OK;

  if ((st = seal_input_read(&text, &len, in_path, DOC_MAX_BYTES * 4u)) != SEAL_OK)
    goto out;
  rc = doc_parse(&docs, text, len, source, 0, &merr);
  if (rc != MANIFEST_OK) {
    st = seal_report_manifest(source, 0, NULL, &merr, rc);
    goto out;
  }
  for (i = 0; i < docs.n; i++) {
    json_t *items = manifest_is_sealed_secret(docs.docs[i])
                        ? NULL
                        : json_object_get(docs.docs[i], "items");
    if (manifest_is_sealed_secret(docs.docs[i])) {
      n_sealed++;
      if (is_current(rx, docs.docs[i])) {
        if ((st = check_current(rx, docs.docs[i], source, i)) != SEAL_OK)
          goto out;
        continue;
      }
      if ((st = reseal_one(rx, &docs.docs[i], source, i)) != SEAL_OK)
        goto out;
      n_changed++;
    } else if (json_is_array(items)) {
      for (j = 0; j < json_array_size(items); j++) {
        json_t *item = json_array_get(items, j);
        if (!manifest_is_sealed_secret(item))
          continue;
        n_sealed++;
        if (is_current(rx, item)) {
          if ((st = check_current(rx, item, source, i)) != SEAL_OK)
            goto out;
          continue;
        }
        json_incref(item);
        if ((st = reseal_one(rx, &item, source, i)) != SEAL_OK) {
          json_decref(item);
          goto out;
        }
        if (json_array_set_new(items, j, item) != 0) {
          st = seal_report(SEAL_ERR_ENV, "out of memory");
          goto out;
        }
        n_changed++;
      }
    }
  }
  if (n_sealed == 0) {
    st = seal_report(SEAL_ERR_INPUT, "%s: no SealedSecret", source);
    goto out;
  }
  if (n_changed == 0 && format == NULL) {
    fprintf(stderr, "seal: %s: %zu SealedSecret%s already sealed for key %s\n", source, n_sealed,
            n_sealed == 1 ? "" : "s", rx->newest_hex);
    if (!in_place)
      st = seal_output_write(out_path, text, len, mode);
    goto out;
  }
  rc = doc_write(&out, &out_len, docs.docs, docs.n, format ? *format : doc_format_of(text, len),
                 &merr);
  if (rc != MANIFEST_OK) {
    st = seal_report_manifest(source, 0, NULL, &merr, rc);
    goto out;
  }
  if (out_path && stat(in_place ? in_path : out_path, &sb) == 0)
    mode = (unsigned)(sb.st_mode & 0777);
  if ((st = seal_output_write(out_path, out, out_len, mode)) != SEAL_OK)
    goto out;
  fprintf(stderr, "seal: %s: %zu of %zu SealedSecret%s re-sealed for key %s\n", source, n_changed,
          n_sealed, n_sealed == 1 ? "" : "s", rx->newest_hex);
out:
  doc_wipe_free(out, out_len);
  doc_list_free(&docs);
  doc_wipe_free(text, len);
  return st;
}

/* The newest public key: the one block of --cert, else the cluster's. */
static int load_newest(reseal_ctx *rx, const char *cert_path, const seal_cluster_opts *cluster)
{
  keys_public *pubs = NULL;
  keys_error kerr = {0};
  char *text = NULL;
  size_t len = 0, n = 0;
  const char *subject = cert_path ? cert_path : "the cluster's public key";
  int rc, st = SEAL_OK;

  if (cert_path) {
    rc = keys_file_read(&text, &len, cert_path, SEAL_MAX_CERT_BYTES, &kerr);
    if (rc != KEYS_OK)
      return seal_report_keys(cert_path, &kerr, rc);
  } else if ((st = seal_cluster_cert(&text, &len, cluster)) != SEAL_OK) {
    return st;
  }
  rc = keys_armor_read_public(&pubs, &n, text, len, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys(subject, &kerr, rc);
    goto out;
  }
  if (n != 1) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %zu public keys; give the one newest key of this cluster",
                     subject, n);
    goto out;
  }
  rx->newest = pubs[0];
  keys_id_hex(rx->newest_hex, rx->newest.id);
out:
  free(pubs);
  free(text);
  return st;
}

int cmd_reseal(int argc, char **argv)
{
  seal_cluster_opts cluster = {0};
  reseal_ctx rx;
  keys_keyring *ring = NULL;
  const char *files[MAX_FILES], *keyfiles[MAX_KEY_FILES];
  const char *out_path = NULL, *cert_path = NULL;
  size_t n_files = 0, n_keys = 0, i;
  doc_format format = DOC_YAML;
  seal_cmdline cl = {.cmd = "reseal",
                     .usage = usage_text,
                     .shortopts = "f:w:o:h",
                     .longopts = longopts,
                     .cluster = &cluster};
  int c, rc, in_place = 0, have_format = 0, st = SEAL_OK;

  memset(&rx, 0, sizeof rx);
  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case 'f':
      if ((st = seal_option_add(files, &n_files, MAX_FILES, "reseal", "-f", optarg)) != SEAL_OK)
        goto out;
      break;
    case 'w':
      out_path = optarg;
      break;
    case OPT_IN_PLACE:
      in_place = 1;
      break;
    case OPT_PRIVATE_KEY:
      st = seal_option_add(keyfiles, &n_keys, MAX_KEY_FILES, "reseal", "--private-key", optarg);
      if (st != SEAL_OK)
        goto out;
      break;
    case OPT_CERT:
      cert_path = optarg;
      break;
    case 'o':
      if ((st = seal_format_parse(&format, "reseal", optarg)) != SEAL_OK)
        goto out;
      have_format = 1;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (in_place && out_path) {
    st = seal_usage_error("reseal", "reseal: --in-place and -w exclude each other");
    goto out;
  }
  if (in_place && n_files == 0) {
    st = seal_usage_error("reseal", "reseal: --in-place needs -f FILE");
    goto out;
  }
  for (i = 0; in_place && i < n_files; i++)
    if (strcmp(files[i], "-") == 0) {
      st = seal_usage_error("reseal", "reseal: --in-place cannot write back to stdin");
      goto out;
    }
  if (n_files > 1 && !in_place) {
    st = seal_usage_error("reseal", "reseal: several -f files need --in-place");
    goto out;
  }
  if ((n_keys > 0) != (cert_path != NULL)) {
    st = seal_usage_error("reseal", "reseal: offline re-sealing needs both --private-key and "
                                    "--cert");
    goto out;
  }
  if (n_keys > 0 && cluster.controller_url) {
    st = seal_usage_error("reseal", "reseal: --controller-url and --private-key exclude each "
                                    "other");
    goto out;
  }
  if (n_keys > 0) {
    if ((rc = keys_keyring_new(&ring)) != KEYS_OK) {
      st = seal_report_keys(NULL, NULL, rc);
      goto out;
    }
    for (i = 0; i < n_keys; i++)
      if ((st = seal_keys_load(ring, keyfiles[i])) != SEAL_OK)
        goto out;
    rx.ring = ring;
  }
  rx.cluster = &cluster;
  if ((st = load_newest(&rx, cert_path, &cluster)) != SEAL_OK)
    goto out;
  if (n_files == 0)
    st = reseal_input(&rx, NULL, out_path, 0, have_format ? &format : NULL);
  for (i = 0; i < n_files; i++) {
    int one = reseal_input(&rx, files[i], in_place ? files[i] : out_path, in_place,
                           have_format ? &format : NULL);
    if (one != SEAL_OK && (st == SEAL_OK || one == SEAL_ERR_ENV))
      st = one; /* the other files still get their turn */
  }
out:
  keys_keyring_free(ring);
  return st;
}
