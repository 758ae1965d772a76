#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

/* The handlers of SEAL_KEYS_COMMANDS, in its order (commands.c has the names). */
#define HANDLER(name, help) cmd_keys_##name,
static const seal_handler handlers[] = {SEAL_KEYS_COMMANDS(HANDLER)};

static void usage(FILE *f)
{
  fputs("usage: seal keys <command> [options]\n\nCommands:\n", f);
  seal_command_list(seal_keys_commands(), "", f);
  fputs("\nRun 'seal keys <command> --help' for a command's options.\n", f);
}

int cmd_keys(int argc, char **argv)
{
  int cmd;
  if (argc < 2)
    return seal_usage_error("keys", "keys: a command is required");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return SEAL_OK;
  }
  cmd = seal_command_find(seal_keys_commands(), argv[1]);
  if (cmd < 0)
    return seal_usage_error("keys", "keys: unknown command '%s'", argv[1]);
  return handlers[cmd](argc - 1, argv + 1);
}
