/* Reading a bounded file (doc_read_file, with keys' statuses), and writing one atomically. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

int keys_file_read(char **out, size_t *out_len, const char *path, size_t max, keys_error *err)
{
  doc_error derr;
  int rc = doc_read_file(out, out_len, path, max, 0, &derr);

  switch (rc) {
  case DOC_OK:
    return KEYS_OK;
  case DOC_ERR_NOMEM:
    return keys_i_fail(err, KEYS_ERR_NOMEM, "%s", derr.message);
  case DOC_ERR_INVALID:
    return keys_i_fail(err, KEYS_ERR_INVALID, "%s", derr.message);
  default: /* a file larger than max included */
    return keys_i_fail(err, KEYS_ERR_IO, "%s", derr.message);
  }
}

static int write_all(int fd, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0) {
    ssize_t w = write(fd, p, len);

    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* The folder of path ("." when it has none) into dir. */
static int parent_of(char *dir, size_t dir_size, const char *path)
{
  const char *slash = strrchr(path, '/');
  int w;

  if (slash == NULL)
    w = snprintf(dir, dir_size, ".");
  else if (slash == path)
    w = snprintf(dir, dir_size, "/");
  else
    w = snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
  return w < 0 || (size_t)w >= dir_size ? -1 : 0;
}

int keys_file_write(const char *path, const void *data, size_t len, unsigned mode, int overwrite,
                    keys_error *err)
{
  char tmp[PATH_MAX], dir[PATH_MAX];
  uint8_t rnd[8];
  char rnd_hex[2 * sizeof(rnd) + 1];
  int fd = -1, dfd = -1, have_tmp = 0, rc, w;
  size_t plen;

  if (path == NULL || (data == NULL && len > 0))
    return keys_i_fail(err, KEYS_ERR_INVALID, "no file or no data given");
  plen = strnlen(path, PATH_MAX);
  if (plen == 0 || plen >= PATH_MAX - 32 || path[plen - 1] == '/')
    return keys_i_fail(err, KEYS_ERR_INVALID, "\"%.*s\" is not a file name", (int)plen, path);
  if (mode > 07777)
    return keys_i_fail(err, KEYS_ERR_INVALID, "\"%s\": mode %o is not a file mode", path, mode);
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  if (!overwrite && access(path, F_OK) == 0)
    return keys_i_fail(err, KEYS_ERR_EXISTS, "\"%s\" already exists: not overwritten", path);
  if (parent_of(dir, sizeof(dir), path) != 0)
    return keys_i_fail(err, KEYS_ERR_INVALID, "\"%s\" is not a file name", path);
  randombytes_buf(rnd, sizeof(rnd));
  sodium_bin2hex(rnd_hex, sizeof(rnd_hex), rnd, sizeof(rnd));
  w = snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, rnd_hex);
  if (w < 0 || (size_t)w >= sizeof(tmp))
    return keys_i_fail(err, KEYS_ERR_INVALID, "\"%s\": the name is too long", path);

  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    return keys_i_fail(err, KEYS_ERR_IO, "cannot create a temporary file beside \"%s\": %s", path,
                       strerror(errno));
  have_tmp = 1;
  /* The umask may have taken bits away; the mode asked for is the mode. */
  if (fchmod(fd, (mode_t)mode) != 0) {
    rc = keys_i_fail(err, KEYS_ERR_IO, "cannot set mode %o on \"%s\": %s", mode, tmp,
                     strerror(errno));
    goto out;
  }
  if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
    rc = keys_i_fail(err, KEYS_ERR_IO, "cannot write \"%s\": %s", tmp, strerror(errno));
    goto out;
  }
  if (close(fd) != 0) {
    fd = -1;
    rc = keys_i_fail(err, KEYS_ERR_IO, "cannot write \"%s\": %s", tmp, strerror(errno));
    goto out;
  }
  fd = -1;
  if (overwrite) {
    if (rename(tmp, path) != 0) {
      rc = keys_i_fail(err, KEYS_ERR_IO, "cannot rename \"%s\" to \"%s\": %s", tmp, path,
                       strerror(errno));
      goto out;
    }
    have_tmp = 0;
  } else {
    /* link() refuses an existing target atomically, unlike rename(). */
    if (link(tmp, path) != 0) {
      if (errno == EEXIST)
        rc = keys_i_fail(err, KEYS_ERR_EXISTS, "\"%s\" already exists: not overwritten", path);
      else
        rc = keys_i_fail(err, KEYS_ERR_IO, "cannot create \"%s\": %s", path, strerror(errno));
      goto out;
    }
    (void)unlink(tmp);
    have_tmp = 0;
  }
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0) {
    rc = keys_i_fail(err, KEYS_ERR_IO, "cannot sync the folder of \"%s\": %s", path,
                     strerror(errno));
    goto out;
  }
  rc = KEYS_OK;
out:
  if (fd >= 0)
    close(fd);
  if (dfd >= 0)
    close(dfd);
  if (have_tmp)
    (void)unlink(tmp);
  return rc;
}
