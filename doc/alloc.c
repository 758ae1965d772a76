/*
 * jansson allocators that wipe on free.
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

static void *wipe_malloc(size_t n)
{
  unsigned char *p;

  if (n > SIZE_MAX - HEADER_BYTES)
    return NULL;
  p = malloc(HEADER_BYTES + n);
  if (p == NULL)
    return NULL;
  memcpy(p, &n, sizeof n);
  return p + HEADER_BYTES;
}

static void wipe_free(void *ptr)
{
  unsigned char *p;
  size_t n;

  if (ptr == NULL)
    return;
  p = (unsigned char *)ptr - HEADER_BYTES;
  memcpy(&n, p, sizeof n);
  sodium_memzero(p, HEADER_BYTES + n);
  free(p);
}

void doc_json_free(char *text)
{
  json_malloc_t m = NULL;
  json_free_t f = NULL;

  if (text == NULL)
    return;
  sodium_memzero(text, strlen(text)); /* whichever allocator is set */
  json_get_alloc_funcs(&m, &f);
  (f != NULL ? f : free)(text);
}

int doc_init(void)
{
  static int done;

  if (!done) {
    json_set_alloc_funcs(wipe_malloc, wipe_free);
    done = 1;
  }
  return DOC_OK;
}
