#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kube.h"
#include "lines.h"

#include "banned.h"

void kube_lines_init(kube_lines *l, size_t max)
{
  memset(l, 0, sizeof(*l));
  l->max = max;
  l->buf.max = max + 1; /* the maximum counts a trailing '\r' as part of the line ending */
  l->buf.first = 4096;
}

size_t kube_lines_pending(const kube_lines *l)
{
  return l->buf.len;
}

void kube_lines_reset(kube_lines *l)
{
  doc_buf_reset(&l->buf);
}

void kube_lines_free(kube_lines *l)
{
  if (l == NULL)
    return;
  doc_buf_free(&l->buf);
}

static int emit(kube_lines *l, char *line, size_t len, kube_line_fn on_line, void *ud)
{
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len > l->max)
    return KUBE_ERR_LIMIT;
  if (len == 0)
    return 0;
  line[len] = '\0';
  return on_line(ud, line, len);
}

int kube_lines_feed(kube_lines *l, const char *data, size_t n, kube_line_fn on_line, void *ud)
{
  doc_buf *b = &l->buf;
  int rc;

  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl ? (size_t)(nl - data) : n;

    rc = doc_buf_add(b, data, take);
    if (rc != DOC_OK) {
      kube_lines_reset(l);
      return rc == DOC_ERR_LIMIT ? KUBE_ERR_LIMIT : KUBE_ERR_NOMEM;
    }
    if (b->len > l->max && b->p[b->len - 1] != '\r') { /* only a '\r' may pass the maximum */
      kube_lines_reset(l);
      return KUBE_ERR_LIMIT;
    }
    if (nl == NULL)
      return 0;
    data += take + 1;
    n -= take + 1;
    {
      size_t len = b->len;
      b->len = 0; /* the callback may feed nothing more, but the state is clean */
      rc = emit(l, b->p, len, on_line, ud);
      sodium_memzero(b->p, len + 1 < b->cap ? len + 1 : b->cap);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}
