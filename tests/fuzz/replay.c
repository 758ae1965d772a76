/*
 * Replays a corpus through a fuzz target without libFuzzer: every regular
 * file of each folder given (in name order), and each file given by name,
 * is read into a buffer of exactly its size and passed to
 * LLVMFuzzerTestOneInput. A crash, a sanitizer report or a broken property
 * (the target aborts) fails the run; so does finding no input at all, since
 * a test that ran nothing proves nothing.
 *
 *   fuzz_<target> CORPUS_DIR_OR_FILE...
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#include "banned.h"

#define REPLAY_MAX_INPUT (16 * 1024 * 1024)
#define REPLAY_MAX_PATH 4096

static int read_input(uint8_t **out, size_t *out_len, const char *path)
{
  uint8_t *buf = NULL;
  struct stat st;
  size_t len, done = 0;
  int fd = -1, rc = -1;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "replay: cannot read \"%s\": %s\n", path, strerror(errno));
    goto out;
  }
  if (st.st_size < 0 || (unsigned long long)st.st_size > REPLAY_MAX_INPUT) {
    fprintf(stderr, "replay: \"%s\" is larger than %d bytes\n", path, REPLAY_MAX_INPUT);
    goto out;
  }
  len = (size_t)st.st_size;
  /* Exactly len bytes (one for an empty file), so that AddressSanitizer sees
   * any read past the input as libFuzzer would. */
  buf = malloc(len > 0 ? len : 1);
  if (buf == NULL) {
    fprintf(stderr, "replay: out of memory reading \"%s\"\n", path);
    goto out;
  }
  while (done < len) {
    ssize_t got = read(fd, buf + done, len - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      fprintf(stderr, "replay: cannot read \"%s\": %s\n", path,
              got < 0 ? strerror(errno) : "file shrank while reading");
      goto out;
    }
    done += (size_t)got;
  }
  *out = buf;
  *out_len = len;
  buf = NULL;
  rc = 0;
out:
  free(buf);
  if (fd >= 0)
    close(fd);
  return rc;
}

static int run_file(const char *path, size_t *count)
{
  uint8_t *data = NULL;
  size_t len = 0;

  if (read_input(&data, &len, path) != 0)
    return -1;
  printf("%s (%zu bytes)\n", path, len);
  fflush(stdout);
  (void)LLVMFuzzerTestOneInput(data, len);
  free(data);
  (*count)++;
  return 0;
}

static int skip_entry(const struct dirent *d)
{
  return d->d_name[0] != '.';
}

static int run_dir(const char *dir, size_t *count)
{
  struct dirent **names = NULL;
  char path[REPLAY_MAX_PATH];
  struct stat st;
  int n, i, rc = 0;

  n = scandir(dir, &names, skip_entry, alphasort);
  if (n < 0) {
    fprintf(stderr, "replay: cannot list \"%s\": %s\n", dir, strerror(errno));
    return -1;
  }
  for (i = 0; i < n; i++) {
    int w = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
    if (w < 0 || (size_t)w >= sizeof(path)) {
      fprintf(stderr, "replay: path too long in \"%s\"\n", dir);
      rc = -1;
    } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path, count) != 0)
        rc = -1;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv)
{
  struct stat st;
  size_t count = 0;
  int i, rc = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: \"%s\": %s\n", argv[i], strerror(errno));
      rc = 1;
    } else if (S_ISDIR(st.st_mode)) {
      if (run_dir(argv[i], &count) != 0)
        rc = 1;
    } else if (run_file(argv[i], &count) != 0) {
      rc = 1;
    }
  }
  if (count == 0) {
    fprintf(stderr, "replay: no input found\n");
    return 1;
  }
  printf("replay: %zu inputs, %s\n", count, rc == 0 ? "all passed" : "some could not be read");
  return rc;
}
