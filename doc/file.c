/*
 * Reading a whole file, bounded: regular files in one read, pipes and
 * devices in growing steps up to the maximum, every step wiped (doc_buf).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "doc.h"
#include "banned.h"

#define STREAM_FIRST 4096 /* first step of a file without a size */

/* Reads fd to its end into b, whose max is one byte over the limit. */
static int read_all(int fd, doc_buf *b, const char *path, size_t max, doc_error *err)
{
  size_t room, step;
  ssize_t r;
  int rc;

  for (;;) {
    room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
    if (room == 0) {
      step = b->len > 0 ? b->len : STREAM_FIRST; /* double */
      rc = doc_buf_room(b, step < b->max - b->len ? step : b->max - b->len);
      if (rc != DOC_OK)
        return doc_fail(err, rc, 0, "cannot read \"%s\": out of memory", path);
      continue;
    }
    r = read(fd, b->p + b->len, room);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return doc_fail(err, DOC_ERR_IO, 0, "cannot read \"%s\": %s", path, strerror(errno));
    if (r == 0)
      return DOC_OK;
    b->len += (size_t)r;
    b->p[b->len] = '\0';
    if (b->len > max)
      return doc_fail(err, DOC_ERR_LIMIT, 0, "cannot read \"%s\": more than %zu bytes", path, max);
  }
}

int doc_read_fd(char **out, size_t *out_len, int fd, const char *name, size_t max, int flags,
                doc_error *err)
{
  doc_buf b = {0};
  struct stat st;
  int rc;

  if (out == NULL || out_len == NULL || name == NULL || fd < 0)
    return doc_fail(err, DOC_ERR_INVALID, 0, "doc_read_fd: no file given");
  *out = NULL;
  *out_len = 0;
  if (max >= SIZE_MAX - 2)
    return doc_fail(err, DOC_ERR_INVALID, 0, "cannot read \"%s\": no limit given", name);
  if (fstat(fd, &st) != 0)
    return doc_fail(err, DOC_ERR_IO, 0, "cannot read \"%s\": %s", name, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return doc_fail(err, DOC_ERR_IO, 0, "cannot read \"%s\": a directory, not a regular file",
                    name);
  if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max)
    return doc_fail(err, DOC_ERR_LIMIT, 0, "cannot read \"%s\": more than %zu bytes", name, max);
  /* One byte over the limit tells a larger stream (or a file that grew);
   * a regular file is read in one step, with room to see its end. */
  b.max = max + 1;
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    rc = doc_buf_room(&b, (size_t)st.st_size + 1);
    if (rc != DOC_OK) {
      rc = doc_fail(err, rc, 0, "cannot read \"%s\": out of memory", name);
      goto out;
    }
  }
  rc = read_all(fd, &b, name, max, err);
  if (rc != DOC_OK)
    goto out;
  if (flags & DOC_READ_SECRET) {
    *out = sodium_malloc(b.len + 1);
    if (*out == NULL) {
      rc = doc_fail(err, DOC_ERR_NOMEM, 0, "cannot read \"%s\": out of memory", name);
      goto out;
    }
    if (b.len > 0)
      memcpy(*out, b.p, b.len);
    (*out)[b.len] = '\0';
    *out_len = b.len;
  } else {
    *out = doc_buf_detach(&b, out_len);
    if (*out == NULL)
      rc = doc_fail(err, DOC_ERR_NOMEM, 0, "cannot read \"%s\": out of memory", name);
  }
out:
  doc_buf_free(&b);
  return rc;
}

int doc_read_file(char **out, size_t *out_len, const char *path, size_t max, int flags,
                  doc_error *err)
{
  int fd, rc;

  if (out == NULL || out_len == NULL || path == NULL)
    return doc_fail(err, DOC_ERR_INVALID, 0, "doc_read_file: no file given");
  *out = NULL;
  *out_len = 0;
  if (max >= SIZE_MAX - 2)
    return doc_fail(err, DOC_ERR_INVALID, 0, "cannot read \"%s\": no limit given", path);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return doc_fail(err, DOC_ERR_IO, 0, "cannot read \"%s\": %s", path, strerror(errno));
  rc = doc_read_fd(out, out_len, fd, path, max, flags, err);
  close(fd);
  return rc;
}
