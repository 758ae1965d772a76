#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal unseal --private-key FILE... [-f IN] [-w OUT] [-o yaml|json]\n"
    "\n"
    "Offline recovery: reads SealedSecrets and writes the plain Secrets they hold\n"
    "(data base64, template applied and rendered), opened with the private keys of\n"
    "the given files. The output is plain text: handle it like the secret it is.\n"
    "\n"
    "      --private-key FILE     armored private key file; repeatable\n"
    "  -f, --file IN              read IN instead of stdin\n"
    "  -w, --write OUT            write OUT atomically (mode 0600) instead of stdout\n"
    "  -o, --output FORMAT        yaml (default) or json\n" SEAL_HELP_HELP;

enum { OPT_PRIVATE_KEY = SEAL_OPT_FIRST_FREE };

#define MAX_KEY_FILES 64
#define MAX_KEY_FILE_BYTES (1024 * 1024)

static const struct option longopts[] = {
    {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
    {"file", required_argument, NULL, 'f'},
    {"write", required_argument, NULL, 'w'},
    {"output", required_argument, NULL, 'o'},
    SEAL_LONGOPTS_END,
};

/* Every private key of every file into one keyring. */
static int load_keyring(keys_keyring **out, const char *const *paths, size_t n)
{
  keys_keyring *ring = NULL;
  keys_error kerr = {0};
  char *text = NULL;
  size_t len = 0, i;
  int rc, st = SEAL_OK;

  rc = keys_keyring_new(&ring);
  if (rc != KEYS_OK) {
    st = seal_report_keys(NULL, NULL, rc);
    goto out;
  }
  for (i = 0; i < n; i++) {
    rc = keys_file_read(&text, &len, paths[i], MAX_KEY_FILE_BYTES, &kerr);
    if (rc != KEYS_OK) {
      st = seal_report_keys(paths[i], &kerr, rc);
      goto out;
    }
    /* the library says when a file holds no private key; keys already read
     * from an earlier file are skipped */
    rc = keys_armor_read_private(ring, NULL, text, len, &kerr);
    doc_wipe_free(text, len);
    text = NULL;
    if (rc != KEYS_OK) {
      st = seal_report_keys(paths[i], &kerr, rc);
      goto out;
    }
  }
  *out = ring;
  ring = NULL;
out:
  doc_wipe_free(text, len);
  keys_keyring_free(ring);
  return st;
}

int cmd_unseal(int argc, char **argv)
{
  const char *key_paths[MAX_KEY_FILES];
  size_t n_keys = 0, i, n_plain = 0;
  keys_keyring *ring = NULL;
  doc_list docs = {0};
  manifest_error merr = {0};
  doc_format format = DOC_YAML;
  json_t **plain = NULL;
  const char *in_path = NULL, *out_path = NULL, *source;
  seal_cmdline cl = {.cmd = "unseal",
                     .usage = usage_text,
                     .shortopts = "f:w:o:h",
                     .longopts = longopts};
  int c, rc, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case OPT_PRIVATE_KEY:
      st = seal_option_add(key_paths, &n_keys, MAX_KEY_FILES, "unseal", "--private-key", optarg);
      if (st != SEAL_OK)
        goto out;
      break;
    case 'f':
      in_path = optarg;
      break;
    case 'w':
      out_path = optarg;
      break;
    case 'o':
      if ((st = seal_format_parse(&format, "unseal", optarg)) != SEAL_OK)
        goto out;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (n_keys == 0) {
    st = seal_usage_error("unseal", "unseal: --private-key is required");
    goto out;
  }
  if ((st = load_keyring(&ring, key_paths, n_keys)) != SEAL_OK)
    goto out;

  source = seal_input_name(in_path);
  if ((st = seal_docs_read(&docs, NULL, in_path, manifest_is_sealed_secret, "SealedSecret")) !=
      SEAL_OK)
    goto out;
  plain = calloc(docs.n, sizeof *plain);
  if (plain == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (i = 0; i < docs.n; i++) {
    rc = manifest_unseal_sealed(&plain[i], docs.docs[i], ring, MANIFEST_UNSEAL_RENDER, NULL, &merr);
    if (rc != MANIFEST_OK) {
      st = seal_report_manifest(source, i, docs.docs[i], &merr, rc);
      goto out;
    }
    n_plain++;
  }
  st = seal_docs_write(plain, n_plain, format, out_path, 0600);
  if (st == SEAL_OK)
    fprintf(stderr, "seal: warning: the output holds %zu plain-text Secret%s: do not commit it\n",
            n_plain, n_plain == 1 ? "" : "s");
out:
  for (i = 0; i < n_plain; i++)
    json_decref(plain[i]);
  free(plain);
  doc_list_free(&docs);
  keys_keyring_free(ring);
  return st;
}
