#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"
#include "seal-version.h"

#include "banned.h"

/* The handlers of SEAL_COMMANDS, in its order (commands.c has the names). */
#define HANDLER(name, help) cmd_##name,
static const seal_handler handlers[] = {SEAL_COMMANDS(HANDLER)};

/* Flushes and closes stdout; a failure there is a failure of the command. */
static int finish_stdout(int status)
{
  int bad = 0;
  if (fflush(stdout) != 0 || ferror(stdout))
    bad = 1;
  if (fclose(stdout) != 0)
    bad = 1;
  if (bad && status == SEAL_OK)
    return seal_report(SEAL_ERR_ENV, "stdout: write error");
  return status;
}

int main(int argc, char **argv)
{
  int status, cmd = -1;

  if (manifest_init() != MANIFEST_OK) {
    fputs("seal: cannot initialise libsodium\n", stderr);
    return 2;
  }
  /* libcurl is loaded and initialised by the first network call
   * (curl_loader.c), not here: most commands never use it. */
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("seal %s\n", SEAL_VERSION);
    status = SEAL_OK;
  } else if (argc >= 2 && argv[1][0] != '-' &&
             (cmd = seal_command_find(seal_commands(), argv[1])) >= 0) {
    status = handlers[cmd](argc - 1, argv + 1);
  } else if (argc >= 2 && argv[1][0] != '-') {
    status = seal_usage_error("", "unknown command '%s'", argv[1]);
  } else {
    status = cmd_seal(argc, argv);
  }
  status = finish_stdout(status);
  return seal_exit_code(status);
}
