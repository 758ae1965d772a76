#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

/* seal keys <subcommand>: key-lifecycle commands slot in here. */
static const seal_command keys_commands[] = {
    {"generate", cmd_keys_generate, "make a new key pair in two files"},
    {"list", cmd_keys_list, "the cluster's keys, their state and users"},
    {"rotate", cmd_keys_rotate, "ask the controller for a new key now"},
    {"backup", cmd_keys_backup, "write every private key to a file (mode 0600)"},
    {"restore", cmd_keys_restore, "put keys of a backup back as key Secrets"},
    {"compromise", cmd_keys_compromise, "label a key compromised: it no longer seals"},
    {NULL, NULL, NULL},
};

const seal_command *seal_keys_commands(void) { return keys_commands; }

static void usage(FILE *f) {
  fputs("usage: seal keys <command> [options]\n\nCommands:\n", f);
  seal_command_list(keys_commands, "", f);
  fputs("\nRun 'seal keys <command> --help' for a command's options.\n", f);
}

int cmd_keys(int argc, char **argv) {
  const seal_command *cmd;
  if (argc < 2)
    return seal_usage_error("keys", "keys: a command is required");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return SEAL_OK;
  }
  cmd = seal_command_find(keys_commands, argv[1]);
  if (cmd == NULL)
    return seal_usage_error("keys", "keys: unknown command '%s'", argv[1]);
  return cmd->handler(argc - 1, argv + 1);
}
