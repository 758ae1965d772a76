#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

/* seal completion bash|zsh: a completion script made from the command tables
 * (commands.c) and seal's own options (cmd_seal.c), so a new command or
 * option completes without editing this file. */

static const char usage_text[] =
    "usage: seal completion bash|zsh\n"
    "\n"
    "Prints a completion script for the shell (subcommands, seal keys commands,\n"
    "options); load it with:\n"
    "  source <(seal completion bash)   in ~/.bashrc\n"
    "  source <(seal completion zsh)    in ~/.zshrc, after compinit\n"
    "\n"
    "Options:\n" SEAL_HELP_HELP;

static const struct option longopts[] = {
    SEAL_LONGOPTS_END,
};

/* " name name ..." */
static void put_names(const seal_command *t)
{
  for (; t->name; t++)
    printf(" %s", t->name);
}

/* " --opt --opt ..." */
static void put_options(const struct option *o)
{
  for (; o->name; o++)
    printf(" --%s", o->name);
}

/* " 'name:help'" lines for zsh's _describe; ' inside single quotes as '\'' */
static void put_described(const seal_command *t)
{
  for (; t->name; t++) {
    printf("\n    '%s:", t->name);
    for (const char *p = t->help; *p; p++) {
      if (*p == '\'')
        fputs("'\\''", stdout);
      else
        putchar(*p);
    }
    putchar('\'');
  }
}

static void bash_script(void)
{
  fputs("# bash completion for seal: source <(seal completion bash)\n"
        "_seal() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]} words\n"
        "  COMPREPLY=()\n"
        "  if [[ $cur == -* ]]; then\n"
        "    words='",
        stdout);
  put_options(seal_options());
  fputs("'\n"
        "  elif (( COMP_CWORD == 1 )); then\n"
        "    words='",
        stdout);
  put_names(seal_commands());
  fputs("'\n"
        "  elif (( COMP_CWORD == 2 )) && [[ ${COMP_WORDS[1]} == keys ]]; then\n"
        "    words='",
        stdout);
  put_names(seal_keys_commands());
  fputs("'\n"
        "  elif (( COMP_CWORD == 2 )) && [[ ${COMP_WORDS[1]} == completion ]]; then\n"
        "    words='bash zsh'\n"
        "  else\n"
        "    return 0\n"
        "  fi\n"
        "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
        "}\n"
        "complete -o default -F _seal seal kubectl-seal\n",
        stdout);
}

static void zsh_script(void)
{
  fputs("#compdef seal kubectl-seal\n"
        "# zsh completion for seal: source <(seal completion zsh), after compinit\n"
        "_seal() {\n"
        "  local -a commands keys_commands options\n"
        "  commands=(",
        stdout);
  put_described(seal_commands());
  fputs("\n  )\n  keys_commands=(", stdout);
  put_described(seal_keys_commands());
  fputs("\n  )\n  options=(", stdout);
  put_options(seal_options());
  fputs(")\n"
        "  if [[ $words[CURRENT] == -* ]]; then\n"
        "    compadd -a options\n"
        "  elif (( CURRENT == 2 )); then\n"
        "    _describe -t commands 'seal command' commands\n"
        "  elif (( CURRENT == 3 )) && [[ $words[2] == keys ]]; then\n"
        "    _describe -t commands 'seal keys command' keys_commands\n"
        "  elif (( CURRENT == 3 )) && [[ $words[2] == completion ]]; then\n"
        "    compadd bash zsh\n"
        "  else\n"
        "    _files\n"
        "  fi\n"
        "}\n"
        "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
        "  _seal \"$@\"\n"
        "else\n"
        "  compdef _seal seal kubectl-seal\n"
        "fi\n",
        stdout);
}

int cmd_completion(int argc, char **argv)
{
  seal_cmdline cl = {.cmd = "completion",
                     .usage = usage_text,
                     .shortopts = "h",
                     .longopts = longopts,
                     .operands = 1};

  if (seal_cmdline_next(&cl, argc, argv) != 0)
    return cl.status;
  if (optind >= argc)
    return seal_usage_error("completion", "completion: a shell is required (bash or zsh)");
  if (optind + 1 < argc)
    return seal_usage_error("completion", "completion: unexpected argument '%s'", argv[optind + 1]);
  if (strcmp(argv[optind], "bash") == 0)
    bash_script();
  else if (strcmp(argv[optind], "zsh") == 0)
    zsh_script();
  else
    return seal_usage_error("completion", "completion: unknown shell '%s' (bash or zsh)",
                            argv[optind]);
  return SEAL_OK;
}
