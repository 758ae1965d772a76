#ifndef SEAL_COMMON_STATUS_TEXT_H
#define SEAL_COMMON_STATUS_TEXT_H

/*
 * A status code's words, from a table: each library names its codes in one
 * table (doc_strerror, keys_strerror, kube_strerror, manifest_unseal_reason)
 * and looks them up here, so that "code to text" is one idea with one home.
 */

#include <stddef.h>

typedef struct seal_status_text {
  int code;
  const char *text;
} seal_status_text;

/* The text of code in table (n rows), or fallback when it has none. */
static inline const char *seal_status_text_of(const seal_status_text *table, size_t n, int code,
                                              const char *fallback)
{
  for (size_t i = 0; i < n; i++)
    if (table[i].code == code)
      return table[i].text;
  return fallback;
}

#define SEAL_STATUS_TEXT(table, code, fallback) \
  seal_status_text_of((table), sizeof(table) / sizeof((table)[0]), (code), (fallback))

#endif
