#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kube.h"
#include "lines.h"

#include "banned.h"

void kube_lines_init(kube_lines *l, size_t max) {
  memset(l, 0, sizeof(*l));
  l->max = max;
}

size_t kube_lines_pending(const kube_lines *l) { return l->len; }

void kube_lines_reset(kube_lines *l) {
  if (l->buf != NULL && l->cap > 0)
    sodium_memzero(l->buf, l->cap);
  l->len = 0;
}

void kube_lines_free(kube_lines *l) {
  if (l == NULL)
    return;
  kube_lines_reset(l);
  free(l->buf);
  l->buf = NULL;
  l->cap = 0;
}

/* Makes room for need bytes plus a NUL; need is at most max + 1 (a '\r'). */
static int lines_reserve(kube_lines *l, size_t need) {
  size_t cap;
  char *nb;

  if (need + 1 <= l->cap)
    return 0;
  cap = l->cap ? l->cap : 4096;
  while (cap < need + 1)
    cap *= 2;
  if (cap > l->max + 2)
    cap = l->max + 2;
  if (cap < need + 1)
    return KUBE_ERR_LIMIT;
  /* not realloc: the old buffer is wiped before it is released */
  nb = malloc(cap);
  if (nb == NULL)
    return KUBE_ERR_NOMEM;
  if (l->len > 0)
    memcpy(nb, l->buf, l->len);
  if (l->buf != NULL) {
    sodium_memzero(l->buf, l->cap);
    free(l->buf);
  }
  l->buf = nb;
  l->cap = cap;
  return 0;
}

static int emit(kube_lines *l, char *line, size_t len, kube_line_fn on_line, void *ud) {
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len > l->max)
    return KUBE_ERR_LIMIT;
  if (len == 0)
    return 0;
  line[len] = '\0';
  return on_line(ud, line, len);
}

int kube_lines_feed(kube_lines *l, const char *data, size_t n, kube_line_fn on_line, void *ud) {
  int rc;

  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl ? (size_t)(nl - data) : n;

    /* the maximum counts a trailing '\r' as part of the line ending */
    if (l->len + take > l->max + 1) {
      kube_lines_reset(l);
      return KUBE_ERR_LIMIT;
    }
    rc = lines_reserve(l, l->len + take);
    if (rc < 0) {
      kube_lines_reset(l);
      return rc;
    }
    memcpy(l->buf + l->len, data, take);
    l->len += take;
    if (l->len > l->max && l->buf[l->len - 1] != '\r') { /* only a '\r' may pass the maximum */
      kube_lines_reset(l);
      return KUBE_ERR_LIMIT;
    }
    if (nl == NULL)
      return 0;
    data += take + 1;
    n -= take + 1;
    {
      size_t len = l->len;
      l->len = 0; /* the callback may feed nothing more, but the state is clean */
      rc = emit(l, l->buf, len, on_line, ud);
      sodium_memzero(l->buf, len + 1 < l->cap ? len + 1 : l->cap);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}
