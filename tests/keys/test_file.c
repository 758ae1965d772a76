/*
 * keys_file_read leaves no unwiped copy of what it read in released memory.
 * A private key file read from a pipe grows the buffer several times; every
 * block the library releases (free, or realloc, which may move the block and
 * release the old one) is checked for the key's text before it goes. This
 * executable is linked with -Wl,--wrap=free,--wrap=realloc: the calls of
 * libkeys and of this file come here, libsodium's and libc's own do not.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "vectors.h"

#include "banned.h"

void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static const char *marker; /* the key line of the armored key under test */
/* volatile: the compiler takes free and realloc for library calls that touch
 * no variable of ours */
static volatile size_t unwiped;  /* released blocks that still held it */
static volatile size_t reallocs; /* realloc calls on blocks that held it */

static int holds_marker(const void *p)
{
  size_t n = p ? malloc_usable_size((void *)p) : 0, m = marker ? strlen(marker) : 0;
  return m > 0 && n >= m && memmem(p, n, marker, m) != NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
  if (holds_marker(p))
    reallocs++;
  return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
  if (holds_marker(p))
    unwiped++;
  __real_free(p);
}

/* Writes text and then pad bytes of comment into a pipe from a child process;
 * the read end's /dev/fd path goes to path. */
static pid_t pipe_writer(char *path, size_t size, int *read_fd, const char *text, size_t pad)
{
  int fds[2];
  pid_t pid;

  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char line[100];
    size_t done = 0, len = strlen(text);

    close(fds[0]);
    if (write(fds[1], text, len) != (ssize_t)len)
      _exit(1);
    memset(line, '#', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    while (done < pad) {
      size_t n = pad - done < sizeof(line) ? pad - done : sizeof(line);
      if (write(fds[1], line, n) != (ssize_t)n)
        _exit(1);
      done += n;
    }
    _exit(0);
  }
  close(fds[1]);
  *read_fd = fds[0];
  snprintf(path, size, "/dev/fd/%d", fds[0]);
  return pid;
}

static void read_through_a_pipe(const char *armor, size_t pad, size_t max, int want_rc)
{
  char path[64];
  char *data = NULL;
  size_t len = 0;
  int fd, wstatus;
  pid_t pid;

  unwiped = reallocs = 0;
  pid = pipe_writer(path, sizeof(path), &fd, armor, pad);
  assert_int_equal(keys_file_read(&data, &len, path, max, NULL), want_rc);
  close(fd);
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  if (want_rc == KEYS_OK) {
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    assert_int_equal(len, strlen(armor) + pad);
    assert_memory_equal(data, armor, strlen(armor));
    /* the caller's copy: wiped before it is freed, so it is not counted */
    sodium_memzero(data, len);
    free(data);
  } else {
    assert_null(data);
  }
  assert_int_equal(reallocs, 0);
  assert_int_equal(unwiped, 0);
}

static void private_key_from_a_pipe_leaves_no_copy(void **state)
{
  char *armor = sodium_malloc(KEYS_ARMOR_MAX);
  keys_keypair *kp = NULL;
  const char *line;
  size_t len;

  (void)state;
  assert_non_null(armor);
  assert_int_equal(keys_keypair_generate(&kp, 1700000000), KEYS_OK);
  assert_int_equal(keys_armor_write_private(armor, KEYS_ARMOR_MAX, &len, kp), KEYS_OK);
  keys_keypair_free(kp);
  /* the base64 key line: the last line before the END line */
  line = strstr(armor, "\n-----END");
  assert_non_null(line);
  while (line > armor && line[-1] != '\n')
    line--;
  {
    static char key_line[64];
    size_t n = (size_t)(strstr(line, "\n") - line);
    assert_true(n > 40 && n < sizeof(key_line));
    memcpy(key_line, line, n);
    key_line[n] = '\0';
    marker = key_line;
  }
  /* the key first, then 40 KiB: the 4 KiB buffer grows four times */
  read_through_a_pipe(armor, 40 * 1024, 1 << 20, KEYS_OK);
  /* over the limit after growing: refused, and wiped on the way out */
  read_through_a_pipe(armor, 40 * 1024, 20 * 1024, KEYS_ERR_IO);
  /* the check itself: an unwiped block with the key is seen */
  {
    char *copy = malloc(KEYS_ARMOR_MAX);
    assert_non_null(copy);
    memcpy(copy, armor, KEYS_ARMOR_MAX);
    /* the copy is read by free: the compiler may not drop it as a dead store */
    __asm__ volatile("" : : "r"(copy) : "memory");
    unwiped = 0;
    free(copy);
    assert_int_equal(unwiped, 1);
  }
  marker = NULL;
  sodium_memzero(armor, KEYS_ARMOR_MAX);
  sodium_free(armor);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(private_key_from_a_pipe_leaves_no_copy),
  };

  signal(SIGPIPE, SIG_IGN);
  return vectors_main(argc, argv, "keys_file", tests, sizeof(tests) / sizeof(tests[0]));
}
