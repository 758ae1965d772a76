/* Running a program (git, for seal scan) and capturing its output. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "common.h"

#include "banned.h"

int seal_run_capture(char **out, size_t *out_len, size_t max, int *exit_code, char *const argv[])
{
  int fds[2] = {-1, -1};
  pid_t pid = -1;
  char *buf = NULL;
  size_t len = 0;
  int st = SEAL_OK, wstatus = 0, too_big = 0;

  *out = NULL;
  *out_len = 0;
  *exit_code = -1;
  buf = malloc(max + 1);
  if (buf == NULL)
    return seal_report(SEAL_ERR_ENV, "%s: out of memory", argv[0]);
  if (pipe2(fds, O_CLOEXEC) != 0) {
    st = seal_report(SEAL_ERR_ENV, "%s: pipe: %s", argv[0], strerror(errno));
    goto out;
  }
  fflush(stdout);
  pid = fork();
  if (pid < 0) {
    st = seal_report(SEAL_ERR_ENV, "%s: fork: %s", argv[0], strerror(errno));
    goto out;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    execvp(argv[0], argv);
    fprintf(stderr, "seal: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  fds[1] = -1;
  for (;;) {
    char scratch[4096];
    ssize_t n;
    if (len < max)
      n = read(fds[0], buf + len, max - len);
    else
      n = read(fds[0], scratch, sizeof scratch);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (len < max)
      len += (size_t)n;
    else
      too_big = 1;
  }
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      st = seal_report(SEAL_ERR_ENV, "%s: waitpid: %s", argv[0], strerror(errno));
      goto out;
    }
  }
  pid = -1;
  if (WIFEXITED(wstatus))
    *exit_code = WEXITSTATUS(wstatus);
  if (too_big) {
    st = seal_report(SEAL_ERR_INPUT, "%s: output larger than %zu bytes", argv[0], max);
    goto out;
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  buf = NULL;
out:
  if (fds[0] >= 0)
    close(fds[0]);
  if (fds[1] >= 0)
    close(fds[1]);
  if (pid > 0)
    waitpid(pid, &wstatus, 0);
  doc_wipe_free(buf, max + 1);
  return st;
}
