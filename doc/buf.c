/*
 * The bounded buffer that may hold plaintext: growth copies into a new block
 * and wipes the old one (never realloc, which would release it unwiped), and
 * every release wipes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "doc.h"
#include "banned.h"

#define FIRST_DEFAULT 256

size_t doc_buf_grown(const doc_buf *b, size_t n)
{
  size_t need, cap;

  if (n > b->max || b->len > b->max - n)
    return 0;
  need = b->len + n + 1;
  if (need <= b->cap)
    return b->cap;
  cap = b->cap ? b->cap : b->first ? b->first : FIRST_DEFAULT;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > b->max + 1)
    cap = b->max + 1;
  return cap;
}

int doc_buf_room(doc_buf *b, size_t n)
{
  size_t cap = doc_buf_grown(b, n);
  char *p;

  if (cap == 0)
    return DOC_ERR_LIMIT;
  if (cap == b->cap)
    return DOC_OK;
  p = malloc(cap);
  if (p == NULL)
    return DOC_ERR_NOMEM;
  if (b->p != NULL) {
    memcpy(p, b->p, b->len);
    doc_wipe_free(b->p, b->cap);
  }
  p[b->len] = '\0';
  b->p = p;
  b->cap = cap;
  return DOC_OK;
}

int doc_buf_add(doc_buf *b, const void *data, size_t n)
{
  int rc = doc_buf_room(b, n);

  if (rc != DOC_OK)
    return rc;
  if (n > 0)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return DOC_OK;
}

void doc_buf_reset(doc_buf *b)
{
  if (b->p != NULL)
    sodium_memzero(b->p, b->cap);
  b->len = 0;
}

char *doc_buf_detach(doc_buf *b, size_t *len)
{
  char *p = b->p;

  if (p == NULL && doc_buf_add(b, "", 0) == DOC_OK)
    p = b->p;
  if (len != NULL)
    *len = p != NULL ? b->len : 0;
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}

void doc_buf_free(doc_buf *b)
{
  if (b == NULL)
    return;
  doc_wipe_free(b->p, b->cap);
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
}

void doc_wipe_free(void *p, size_t len)
{
  if (p == NULL)
    return;
  sodium_memzero(p, len);
  free(p);
}
