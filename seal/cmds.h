#ifndef SEAL_CLI_CMDS_H
#define SEAL_CLI_CMDS_H

/* The subcommands: each lives in cmd_<name>.c and returns a seal_status. */

typedef struct seal_command {
  const char *name;
  int (*handler)(int argc, char **argv);
  const char *help;
} seal_command;

int cmd_seal(int argc, char **argv);
int cmd_raw(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_keys(int argc, char **argv);

/* seal keys <subcommand>: the table in cmd_keys.c */
int cmd_keys_generate(int argc, char **argv);

/* Finds name in a NULL-terminated table; NULL when absent. */
const seal_command *seal_command_find(const seal_command *table, const char *name);
/* Lists a table's commands on stream f. */
void seal_command_list(const seal_command *table, const char *prefix, void *f);
/* Lists the top-level commands (for seal --help). */
void seal_print_commands(void *f);

#endif
