#include <stdio.h>
#include <string.h>

#include "cmds.h"

#include "banned.h"

/* The tables of seal's commands and seal keys' commands (cmds.h lists them):
 * names and help only, so that usage (seal.c, cmd_seal.c, cmd_keys.c) and
 * completion (cmd_completion.c) read them from below, and only the
 * dispatchers (seal.c, cmd_keys.c) know the handlers. */

#define NAME_HELP(name, help) {#name, help},

static const seal_command commands[] = {SEAL_COMMANDS(NAME_HELP){NULL, NULL}};
static const seal_command keys_commands[] = {SEAL_KEYS_COMMANDS(NAME_HELP){NULL, NULL}};

const seal_command *seal_commands(void)
{
  return commands;
}

const seal_command *seal_keys_commands(void)
{
  return keys_commands;
}

int seal_command_find(const seal_command *table, const char *name)
{
  for (int i = 0; table[i].name; i++)
    if (strcmp(table[i].name, name) == 0)
      return i;
  return -1;
}

void seal_command_list(const seal_command *table, const char *prefix, void *f)
{
  for (; table->name; table++)
    fprintf(f, "  %s%-10s %s\n", prefix, table->name, table->help);
}

void seal_print_commands(void *f)
{
  fputs("Commands:\n", f);
  seal_command_list(commands, "", f);
}
