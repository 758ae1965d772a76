#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"
#include "seal-version.h"

#include "banned.h"

static const seal_command commands[] = {
    {"raw", cmd_raw, "seal one value into one sealed value"},
    {"merge", cmd_merge, "seal a Secret's keys into an existing SealedSecret file"},
    {"unseal", cmd_unseal, "offline recovery: SealedSecrets to Secrets with private key files"},
    {"cert", cmd_cert, "print the cluster's public key"},
    {"verify", cmd_verify, "ask the controller whether SealedSecrets unseal"},
    {"scan", cmd_scan, "find plain-text Secrets in files or staged changes"},
    {"reseal", cmd_reseal, "re-seal SealedSecrets for the newest key (controller or offline)"},
    {"migrate", cmd_migrate, "Bitnami sealed-secrets objects to seal SealedSecrets, offline"},
    {"keys", cmd_keys, "keys: generate, list, rotate, backup, restore, compromise"},
    {"completion", cmd_completion, "print a shell completion script (bash, zsh)"},
    {NULL, NULL, NULL},
};

const seal_command *seal_commands(void) { return commands; }

const seal_command *seal_command_find(const seal_command *table, const char *name) {
  for (; table->name; table++)
    if (strcmp(table->name, name) == 0)
      return table;
  return NULL;
}

void seal_command_list(const seal_command *table, const char *prefix, void *f) {
  for (; table->name; table++)
    fprintf(f, "  %s%-10s %s\n", prefix, table->name, table->help);
}

void seal_print_commands(void *f) {
  fputs("Commands:\n", f);
  seal_command_list(commands, "", f);
}

/* Flushes and closes stdout; a failure there is a failure of the command. */
static int finish_stdout(int status) {
  int bad = 0;
  if (fflush(stdout) != 0 || ferror(stdout))
    bad = 1;
  if (fclose(stdout) != 0)
    bad = 1;
  if (bad && status == SEAL_OK)
    return seal_report(SEAL_ERR_ENV, "stdout: write error");
  return status;
}

int main(int argc, char **argv) {
  const seal_command *cmd = NULL;
  int status;

  if (manifest_init() != MANIFEST_OK) {
    fputs("seal: cannot initialise libsodium\n", stderr);
    return 2;
  }
  /* libcurl is loaded and initialised by the first network call
   * (curl_loader.c), not here: most commands never use it. */
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("seal %s\n", SEAL_VERSION);
    status = SEAL_OK;
  } else if (argc >= 2 && argv[1][0] != '-' && (cmd = seal_command_find(commands, argv[1]))) {
    status = cmd->handler(argc - 1, argv + 1);
  } else if (argc >= 2 && argv[1][0] != '-') {
    status = seal_usage_error("", "unknown command '%s'", argv[1]);
  } else {
    status = cmd_seal(argc, argv);
  }
  status = finish_stdout(status);
  return seal_exit_code(status);
}
