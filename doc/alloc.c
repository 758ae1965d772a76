/*
 * jansson allocators that wipe on free, and a bounded text buffer.
 *
 * Documents hold plaintext (stringData, unsealed data), so every block jansson
 * allocates carries its size in a header and is wiped before it is freed.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "internal.h"
#include "banned.h"

#define HEADER_BYTES (alignof(max_align_t) > sizeof(size_t) ? alignof(max_align_t) : sizeof(size_t))

static void *wipe_malloc(size_t n) {
  unsigned char *p;

  if (n > SIZE_MAX - HEADER_BYTES)
    return NULL;
  p = malloc(HEADER_BYTES + n);
  if (p == NULL)
    return NULL;
  memcpy(p, &n, sizeof n);
  return p + HEADER_BYTES;
}

static void wipe_free(void *ptr) {
  unsigned char *p;
  size_t n;

  if (ptr == NULL)
    return;
  p = (unsigned char *)ptr - HEADER_BYTES;
  memcpy(&n, p, sizeof n);
  sodium_memzero(p, HEADER_BYTES + n);
  free(p);
}

int doc_init(void) {
  static int done;

  if (!done) {
    json_set_alloc_funcs(wipe_malloc, wipe_free);
    done = 1;
  }
  return DOC_OK;
}

int doc_buf_add(doc_buf *b, const void *data, size_t n) {
  size_t need, cap;
  char *p;

  if (n > b->max || b->len > b->max - n)
    return DOC_ERR_LIMIT;
  need = b->len + n + 1;
  if (need > b->cap) {
    cap = b->cap ? b->cap : 256;
    while (cap < need)
      cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
      cap = b->max + 1;
    p = malloc(cap);
    if (p == NULL)
      return DOC_ERR_NOMEM;
    if (b->p != NULL) {
      memcpy(p, b->p, b->len);
      sodium_memzero(b->p, b->cap);
      free(b->p);
    }
    b->p = p;
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return DOC_OK;
}

char *doc_buf_detach(doc_buf *b, size_t *len) {
  char *p = b->p;

  if (p == NULL && doc_buf_add(b, "", 0) == DOC_OK)
    p = b->p;
  if (len != NULL)
    *len = b->len;
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}

void doc_buf_free(doc_buf *b) {
  if (b == NULL)
    return;
  if (b->p != NULL) {
    sodium_memzero(b->p, b->cap);
    free(b->p);
  }
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
}

void doc_text_free(char *text, size_t len) {
  if (text == NULL)
    return;
  sodium_memzero(text, len);
  free(text);
}
