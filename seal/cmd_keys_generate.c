#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal keys generate --private-key FILE --cert FILE [--force]\n"
    "\n"
    "Makes a new key pair: the private key (mode 0600) and the public key (mode\n"
    "0644), both armored, and prints the key id. Existing files are kept unless\n"
    "--force is given.\n"
    "\n"
    "      --private-key FILE     where the private key goes\n"
    "      --cert FILE            where the public key goes\n"
    "      --force                replace existing files\n" SEAL_HELP_HELP;

enum { OPT_PRIVATE_KEY = SEAL_OPT_FIRST_FREE, OPT_CERT, OPT_FORCE };

static const struct option longopts[] = {
    {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
    {"cert", required_argument, NULL, OPT_CERT},
    {"force", no_argument, NULL, OPT_FORCE},
    SEAL_LONGOPTS_END,
};

int cmd_keys_generate(int argc, char **argv)
{
  const char *priv_path = NULL, *pub_path = NULL;
  keys_keypair *kp = NULL;
  keys_error kerr = {0};
  struct stat sb;
  char *priv = NULL;
  char pub[KEYS_ARMOR_MAX], hex[KEYS_ID_HEX_BYTES];
  size_t priv_len = 0, pub_len = 0;
  int64_t now = (int64_t)time(NULL);
  seal_cmdline cl = {.cmd = "keys generate",
                     .usage = usage_text,
                     .shortopts = "h",
                     .longopts = longopts};
  int c, rc, force = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    if (c == OPT_PRIVATE_KEY)
      priv_path = optarg;
    else if (c == OPT_CERT)
      pub_path = optarg;
    else if (c == OPT_FORCE)
      force = 1;
  }
  if (c < 0)
    return cl.status;
  if (priv_path == NULL || pub_path == NULL) {
    st = seal_usage_error("keys generate", "keys generate: --private-key and --cert are required");
    goto out;
  }
  if (strcmp(priv_path, pub_path) == 0) {
    st = seal_usage_error("keys generate",
                          "keys generate: --private-key and --cert are the same file");
    goto out;
  }
  /* Refuse before anything is written, so no half of a pair is left behind. */
  if (!force) {
    if (lstat(priv_path, &sb) == 0) {
      st = seal_report(SEAL_ERR_INPUT, "%s: already exists (use --force to replace it)", priv_path);
      goto out;
    }
    if (lstat(pub_path, &sb) == 0) {
      st = seal_report(SEAL_ERR_INPUT, "%s: already exists (use --force to replace it)", pub_path);
      goto out;
    }
  }

  rc = keys_keypair_generate(&kp, now);
  if (rc != KEYS_OK) {
    st = seal_report_keys("keys generate", NULL, rc);
    goto out;
  }
  priv = sodium_malloc(KEYS_ARMOR_MAX);
  if (priv == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  rc = keys_armor_write_private(priv, KEYS_ARMOR_MAX, &priv_len, kp);
  if (rc == KEYS_OK)
    rc = keys_armor_write_public(pub, sizeof pub, &pub_len, keys_keypair_public(kp), now);
  if (rc != KEYS_OK) {
    st = seal_report_keys("keys generate", NULL, rc);
    goto out;
  }
  rc = keys_file_write(priv_path, priv, priv_len, 0600, force, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys(priv_path, &kerr, rc);
    goto out;
  }
  rc = keys_file_write(pub_path, pub, pub_len, 0644, force, &kerr);
  if (rc != KEYS_OK) {
    st = seal_report_keys(pub_path, &kerr, rc);
    if (unlink(priv_path) != 0)
      seal_report(SEAL_ERR_ENV, "%s: cannot remove after the failure: %s", priv_path,
                  strerror(errno));
    goto out;
  }
  keys_id_hex(hex, keys_keypair_public(kp)->id);
  printf("%s\n", hex);
out:
  if (priv)
    sodium_free(priv); /* sodium_free wipes */
  keys_keypair_free(kp);
  return st;
}
