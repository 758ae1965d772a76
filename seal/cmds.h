#ifndef SEAL_CLI_CMDS_H
#define SEAL_CLI_CMDS_H

#include "common.h"

/* The subcommands: each lives in cmd_<name>.c and returns a seal_status. */

/* The commands of seal and of seal keys, each once: X(name, help). The
 * handler of NAME is cmd_NAME (seal keys NAME: cmd_keys_NAME). commands.c
 * makes of them the tables of names and help that usage and completion
 * print; seal.c and cmd_keys.c the handlers, in the same order, they
 * dispatch to. A new command is one line here and its cmd_ file. */
#define SEAL_COMMANDS(X)                                                         \
  X(raw, "seal one value into one sealed value")                                 \
  X(merge, "seal a Secret's keys into an existing SealedSecret file")            \
  X(unseal, "offline recovery: SealedSecrets to Secrets with private key files") \
  X(cert, "print the cluster's public key")                                      \
  X(verify, "ask the controller whether SealedSecrets unseal")                   \
  X(scan, "find plain-text Secrets in files or staged changes")                  \
  X(reseal, "re-seal SealedSecrets for the newest key (controller or offline)")  \
  X(migrate, "Bitnami sealed-secrets objects to seal SealedSecrets, offline")    \
  X(keys, "keys: generate, list, rotate, backup, restore, compromise")           \
  X(completion, "print a shell completion script (bash, zsh)")
#define SEAL_KEYS_COMMANDS(X)                                \
  X(generate, "make a new key pair in two files")            \
  X(list, "the cluster's keys, their state and users")       \
  X(rotate, "ask the controller for a new key now")          \
  X(backup, "write every private key to a file (mode 0600)") \
  X(restore, "put keys of a backup back as key Secrets")     \
  X(compromise, "label a key compromised: it no longer seals")

/* A command's name and help; tables end with {NULL, NULL}. */
typedef struct seal_command {
  const char *name;
  const char *help;
} seal_command;
typedef int (*seal_handler)(int argc, char **argv);

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
int cmd_keys_list(int argc, char **argv);
int cmd_keys_rotate(int argc, char **argv);
int cmd_keys_backup(int argc, char **argv);
int cmd_keys_restore(int argc, char **argv);
int cmd_keys_compromise(int argc, char **argv);
int cmd_reseal(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_completion(int argc, char **argv);

/* ---- the command tables (commands.c): names and help, no handlers -------- */

/* SEAL_COMMANDS and SEAL_KEYS_COMMANDS as tables (usage, completion). */
const seal_command *seal_commands(void);
const seal_command *seal_keys_commands(void);
/* The index of name in a table, -1 when absent. */
int seal_command_find(const seal_command *table, const char *name);
/* Lists a table's commands on stream f. */
void seal_command_list(const seal_command *table, const char *prefix, void *f);
/* Lists the top-level commands (for seal --help). */
void seal_print_commands(void *f);

/* seal's own long options (cmd_seal.c), for seal completion. */
const struct option *seal_options(void);

/* ---- key Secrets in the cluster (cmd_keys_cluster.c) ---------------------- */

#define SEAL_MAX_KEYS 4096

typedef struct seal_key_info {
  char name[KEYS_NAME_MAX + 1]; /* the key Secret */
  char id[KEYS_ID_HEX_BYTES];
  uint8_t raw_id[KEYS_ID_BYTES];
  int compromised;
  int64_t created;   /* seal.dev/created-at (else the armor's Created), 0 unknown */
  int64_t backed_up; /* seal.dev/backed-up-at, 0 never */
  size_t users;      /* SealedSecrets with a value sealed for it (keys list) */
} seal_key_info;

typedef struct seal_key_list {
  seal_key_info *v; /* oldest first */
  size_t n, cap;
} seal_key_list;

enum { SEAL_OPT_KEY_NS = SEAL_OPT_FIRST_FREE, SEAL_OPT_KEYS_FIRST_FREE };
#define SEAL_KEYS_LONGOPTS \
  {"key-namespace", required_argument, NULL, SEAL_OPT_KEY_NS}, SEAL_CLUSTER_LONGOPTS
#define SEAL_KEYS_HELP                                                      \
  "      --key-namespace NS     where the key Secrets live (seal-system;\n" \
  "                             else $SEAL_KEY_NAMESPACE)\n" SEAL_CLUSTER_HELP

typedef struct seal_keys_opts {
  const char *ns; /* --key-namespace */
  seal_cluster_opts cluster;
} seal_keys_opts;
/* Handles --key-namespace and the cluster options: 1 when c was one. */
int seal_keys_option(seal_keys_opts *o, int c, const char *arg);
/* What a key command works on: a client of the cluster, the key namespace
 * (--key-namespace, else seal-system) and the key Secrets in it. */
typedef struct seal_keys_session {
  kube_client *client;
  const char *ns;
  seal_key_list keys;
} seal_keys_session;
/* Opens a client and reads the key Secrets of the key namespace. */
int seal_keys_open(seal_keys_session *s, const seal_keys_opts *o);
/* Frees what seal_keys_open made; a zeroed session is fine. */
void seal_keys_close(seal_keys_session *s);
/* After the options: $SEAL_KEY_NAMESPACE when --key-namespace is not given,
 * and seal_cluster_finish. */
int seal_keys_finish(seal_keys_opts *o, const char *cmd);

/* --key-namespace or seal-system */
const char *seal_keys_ns(const char *opt);
/* Every item of a paged list at path (limit and continue added), handed to each. */
int seal_kube_list(kube_client *client, const char *path, const char *what,
                   int (*each)(void *ud, json_t *item), void *ud);
/* The key Secrets of ns (label seal.dev/key), oldest first. */
int seal_keys_fetch(seal_key_list *out, kube_client *client, const char *ns);
void seal_keys_free(seal_key_list *l);
/* The newest active key, NULL when none. */
const seal_key_info *seal_keys_newest(const seal_key_list *l);
const seal_key_info *seal_keys_find(const seal_key_list *l, const uint8_t id[KEYS_ID_BYTES]);
/* Merge patches setting one annotation or label on the Secret ns/name. */
int seal_keys_annotate(kube_client *client, const char *ns, const char *name, const char *ann,
                       const char *value);
int seal_keys_label(kube_client *client, const char *ns, const char *name, const char *label,
                    const char *value);
/* RFC 3339, or "-" for 0 */
void seal_keys_time(char out[40], int64_t t);
/* Adds every private key of an armored file to ring (at least one). */
int seal_keys_load(keys_keyring *ring, const char *path);

#endif
