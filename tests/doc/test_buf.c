/* libdoc: the bounded wipe-on-grow buffer, wipe-and-free, and whole-file reading. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "doc.h"
#include "banned.h"

static char tmpdir[] = "/tmp/test_doc_buf_XXXXXX";

static void path_of(char *out, size_t out_size, const char *name)
{
  snprintf(out, out_size, "%s/%s", tmpdir, name);
}

static void write_bytes(const char *name, const char *data, size_t len)
{
  char path[512];
  FILE *f;

  path_of(path, sizeof path, name);
  f = fopen(path, "wb");
  assert_non_null(f);
  if (len > 0)
    assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* ---- doc_buf -------------------------------------------------------------- */

static void test_buf_grows_to_exactly_max(void **state)
{
  doc_buf b = {.max = 1000};
  char chunk[100];
  size_t i;

  (void)state;
  memset(chunk, 'x', sizeof chunk);
  for (i = 0; i < 10; i++)
    assert_int_equal(doc_buf_add(&b, chunk, sizeof chunk), DOC_OK);
  assert_int_equal(b.len, 1000);
  assert_int_equal(b.cap, 1001); /* clamped: max bytes and the NUL */
  assert_int_equal(b.p[1000], '\0');
  /* one byte more is a limit error that leaves the contents alone */
  assert_int_equal(doc_buf_add(&b, "y", 1), DOC_ERR_LIMIT);
  assert_int_equal(b.len, 1000);
  assert_int_equal(b.p[999], 'x');
  /* adding nothing at the maximum is fine */
  assert_int_equal(doc_buf_add(&b, "", 0), DOC_OK);
  doc_buf_free(&b);
  assert_null(b.p);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, 0);
  doc_buf_free(&b); /* twice is harmless */
  doc_buf_free(NULL);
}

static void test_buf_oversized_add_and_overflow(void **state)
{
  doc_buf b = {.max = 16};

  (void)state;
  assert_int_equal(doc_buf_add(&b, "0123456789abcdefX", 17), DOC_ERR_LIMIT);
  assert_null(b.p); /* nothing allocated for a refused add */
  assert_int_equal(doc_buf_add(&b, "0123456789", 10), DOC_OK);
  /* n near SIZE_MAX must not wrap around the check */
  assert_int_equal(doc_buf_add(&b, "x", SIZE_MAX), DOC_ERR_LIMIT);
  assert_int_equal(doc_buf_grown(&b, SIZE_MAX - 5), 0);
  assert_int_equal(doc_buf_room(&b, 7), DOC_ERR_LIMIT);
  assert_int_equal(doc_buf_room(&b, 6), DOC_OK);
  assert_string_equal(b.p, "0123456789");
  doc_buf_free(&b);
}

static void test_buf_grown_predicts_room(void **state)
{
  doc_buf b = {.max = 100000, .first = 16384};
  size_t cap;

  (void)state;
  cap = doc_buf_grown(&b, 10);
  assert_int_equal(cap, 16384); /* the first block is first bytes */
  assert_null(b.p);             /* asking allocates nothing */
  assert_int_equal(doc_buf_add(&b, "0123456789", 10), DOC_OK);
  assert_int_equal(b.cap, cap);
  assert_int_equal(doc_buf_grown(&b, 100), b.cap); /* fits: no growth */
  assert_int_equal(doc_buf_grown(&b, 16374), 32768);
  assert_int_equal(doc_buf_grown(&b, 99990), 100001); /* clamped to max + 1 */
  assert_int_equal(doc_buf_grown(&b, 99991), 0);      /* over max */
  doc_buf_free(&b);
}

static void test_buf_detach_and_reset(void **state)
{
  doc_buf b = {.max = 64};
  char *text;
  size_t len = 99;

  (void)state;
  /* an empty buffer detaches as "" */
  text = doc_buf_detach(&b, &len);
  assert_non_null(text);
  assert_string_equal(text, "");
  assert_int_equal(len, 0);
  doc_wipe_free(text, 1);
  assert_int_equal(doc_buf_add(&b, "secret", 6), DOC_OK);
  doc_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_non_null(b.p); /* the block stays for the next line */
  assert_int_equal(b.p[0], '\0');
  assert_int_equal(b.p[5], '\0'); /* wiped, not only truncated */
  assert_int_equal(doc_buf_add(&b, "abc", 3), DOC_OK);
  text = doc_buf_detach(&b, &len);
  assert_string_equal(text, "abc");
  assert_int_equal(len, 3);
  assert_null(b.p);
  assert_int_equal(b.cap, 0);
  doc_wipe_free(text, len);
  doc_wipe_free(NULL, 10);
}

/* ---- doc_read_file ---------------------------------------------------------- */

static void test_read_exact_max_and_one_over(void **state)
{
  char path[512], data[100];
  char *out = (char *)"untouched";
  size_t len = 7;
  doc_error err;

  (void)state;
  memset(data, 'k', sizeof data);
  write_bytes("hundred", data, sizeof data);
  path_of(path, sizeof path, "hundred");
  memset(&err, 0, sizeof err);
  assert_int_equal(doc_read_file(&out, &len, path, 100, 0, &err), DOC_OK);
  assert_int_equal(len, 100);
  assert_memory_equal(out, data, 100);
  assert_int_equal(out[100], '\0');
  doc_wipe_free(out, len);

  assert_int_equal(doc_read_file(&out, &len, path, 99, 0, &err), DOC_ERR_LIMIT);
  assert_null(out);
  assert_int_equal(len, 0);
  assert_int_equal(err.status, DOC_ERR_LIMIT);
  assert_non_null(strstr(err.message, path));
  assert_non_null(strstr(err.message, "more than 99 bytes"));
}

static void test_read_empty_and_secret(void **state)
{
  char path[512];
  char *out = NULL;
  size_t len = 7;
  doc_error err;

  (void)state;
  write_bytes("empty", "", 0);
  path_of(path, sizeof path, "empty");
  assert_int_equal(doc_read_file(&out, &len, path, 100, 0, &err), DOC_OK);
  assert_non_null(out);
  assert_int_equal(len, 0);
  assert_string_equal(out, "");
  doc_wipe_free(out, 1);
  /* a max of 0 still reads an empty file */
  assert_int_equal(doc_read_file(&out, &len, path, 0, 0, &err), DOC_OK);
  assert_int_equal(len, 0);
  doc_wipe_free(out, 1);

  write_bytes("token", "t0k3n\n", 6);
  path_of(path, sizeof path, "token");
  assert_int_equal(doc_read_file(&out, &len, path, 100, DOC_READ_SECRET, &err), DOC_OK);
  assert_int_equal(len, 6);
  assert_string_equal(out, "t0k3n\n");
  sodium_free(out); /* sodium_malloc'ed */
}

static void test_read_missing_directory_unreadable(void **state)
{
  char path[512];
  char *out = NULL;
  size_t len = 0;
  doc_error err;

  (void)state;
  path_of(path, sizeof path, "absent");
  memset(&err, 0, sizeof err);
  assert_int_equal(doc_read_file(&out, &len, path, 100, 0, &err), DOC_ERR_IO);
  assert_null(out);
  assert_non_null(strstr(err.message, path));
  assert_non_null(strstr(err.message, "No such file"));

  assert_int_equal(doc_read_file(&out, &len, tmpdir, 100, 0, &err), DOC_ERR_IO);
  assert_null(out);
  assert_non_null(strstr(err.message, tmpdir));
  assert_non_null(strstr(err.message, "not a regular file"));

  write_bytes("locked", "x", 1);
  path_of(path, sizeof path, "locked");
  assert_int_equal(chmod(path, 0), 0);
  if (geteuid() == 0) {
    /* root reads it anyway: the call must still succeed with the contents */
    assert_int_equal(doc_read_file(&out, &len, path, 100, 0, &err), DOC_OK);
    assert_string_equal(out, "x");
    doc_wipe_free(out, len);
  } else {
    assert_int_equal(doc_read_file(&out, &len, path, 100, 0, &err), DOC_ERR_IO);
    assert_null(out);
    assert_non_null(strstr(err.message, "Permission denied"));
  }
}

static void test_read_stream_bounded(void **state)
{
  int fds[2];
  char path[64], chunk[1000];
  char *out = NULL;
  size_t len = 0, i;
  pid_t pid;
  int wstatus;
  doc_error err;

  (void)state;
  /* a device without a size is read up to the limit, no further */
  assert_int_equal(doc_read_file(&out, &len, "/dev/zero", 10000, 0, &err), DOC_ERR_LIMIT);
  assert_null(out);
  assert_non_null(strstr(err.message, "more than 10000 bytes"));

  /* a pipe of exactly max bytes, written in pieces, grows the buffer several times */
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    memset(chunk, 'p', sizeof chunk);
    for (i = 0; i < 50; i++)
      if (write(fds[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk)
        _exit(1);
    _exit(0);
  }
  close(fds[1]);
  snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
  assert_int_equal(doc_read_file(&out, &len, path, 50000, 0, &err), DOC_OK);
  close(fds[0]);
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_int_equal(len, 50000);
  assert_int_equal(out[0], 'p');
  assert_int_equal(out[49999], 'p');
  assert_int_equal(out[50000], '\0');
  doc_wipe_free(out, len);
}

static void test_read_fd(void **state)
{
  int fds[2];
  char *out = NULL;
  size_t len = 0;
  doc_error err;
  int dir;

  (void)state;
  /* a pipe already written and closed, as stdin is; the name stands in messages */
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "apiVersion: v1\n", 15), 15);
  close(fds[1]);
  assert_int_equal(doc_read_fd(&out, &len, fds[0], "stdin", 15, 0, &err), DOC_OK);
  assert_int_equal(len, 15);
  assert_string_equal(out, "apiVersion: v1\n");
  doc_wipe_free(out, len);
  close(fds[0]);

  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "0123456789", 10), 10);
  close(fds[1]);
  assert_int_equal(doc_read_fd(&out, &len, fds[0], "stdin", 9, 0, &err), DOC_ERR_LIMIT);
  assert_null(out);
  assert_string_equal(err.message, "cannot read \"stdin\": more than 9 bytes");
  close(fds[0]);

  dir = open(tmpdir, O_RDONLY | O_DIRECTORY);
  assert_true(dir >= 0);
  assert_int_equal(doc_read_fd(&out, &len, dir, "the folder", 100, 0, &err), DOC_ERR_IO);
  assert_non_null(strstr(err.message, "\"the folder\""));
  close(dir);
  assert_int_equal(doc_read_fd(&out, &len, -1, "x", 100, 0, &err), DOC_ERR_INVALID);
  assert_int_equal(doc_read_fd(&out, &len, 0, NULL, 100, 0, &err), DOC_ERR_INVALID);
}

static void test_read_bad_arguments(void **state)
{
  char *out = NULL;
  size_t len = 0;
  doc_error err;

  (void)state;
  assert_int_equal(doc_read_file(NULL, &len, "/dev/null", 10, 0, &err), DOC_ERR_INVALID);
  assert_int_equal(doc_read_file(&out, NULL, "/dev/null", 10, 0, &err), DOC_ERR_INVALID);
  assert_int_equal(doc_read_file(&out, &len, NULL, 10, 0, &err), DOC_ERR_INVALID);
  assert_non_null(strstr(err.message, "no file given"));
  assert_int_equal(doc_read_file(&out, &len, "/dev/null", SIZE_MAX, 0, &err), DOC_ERR_INVALID);
  assert_non_null(strstr(err.message, "no limit"));
  assert_null(out);
  /* err may be NULL */
  assert_int_equal(doc_read_file(&out, &len, "/nonexistent/x", 10, 0, NULL), DOC_ERR_IO);
}

static int setup(void **state)
{
  (void)state;
  return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
  const char *names[] = {"hundred", "empty", "token", "locked"};
  char path[512];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    path_of(path, sizeof path, names[i]);
    unlink(path);
  }
  return rmdir(tmpdir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_grows_to_exactly_max),
      cmocka_unit_test(test_buf_oversized_add_and_overflow),
      cmocka_unit_test(test_buf_grown_predicts_room),
      cmocka_unit_test(test_buf_detach_and_reset),
      cmocka_unit_test(test_read_exact_max_and_one_over),
      cmocka_unit_test(test_read_empty_and_secret),
      cmocka_unit_test(test_read_missing_directory_unreadable),
      cmocka_unit_test(test_read_stream_bounded),
      cmocka_unit_test(test_read_fd),
      cmocka_unit_test(test_read_bad_arguments),
  };

  if (sodium_init() < 0 || doc_init() != DOC_OK)
    return 1;
  return cmocka_run_group_tests(tests, setup, teardown);
}
