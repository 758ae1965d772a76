/*
 * Documents in and out: the choice of reader (JSON or YAML), List
 * expansion, and the writers behind doc_write.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "banned.h"

static int is_list(const json_t *doc)
{
  const char *kind = doc_get_string(doc, "kind", NULL);
  size_t n;

  if (kind == NULL || !json_is_array(json_object_get(doc, "items")))
    return 0;
  n = strlen(kind);
  return n >= 4 && strcmp(kind + n - 4, "List") == 0;
}

static int expand_lists(doc_list *docs, const char *source, doc_error *err)
{
  doc_list out = {0, NULL, NULL};
  size_t i, j;
  json_t *item;
  int rc = DOC_OK;

  for (i = 0; i < docs->n; i++) {
    if (!is_list(docs->docs[i])) {
      rc = doc_list_push(&out, json_incref(docs->docs[i]), docs->lines[i], source, err);
      if (rc != DOC_OK)
        goto out;
      continue;
    }
    json_array_foreach(json_object_get(docs->docs[i], "items"), j, item) {
      if (json_is_null(item))
        continue;
      rc = doc_list_push(&out, json_incref(item), docs->lines[i], source, err);
      if (rc != DOC_OK)
        goto out;
    }
  }
  doc_list_free(docs);
  *docs = out;
  out.n = 0;
  out.docs = NULL;
  out.lines = NULL;
out:
  doc_list_free(&out);
  return rc;
}

doc_format doc_format_of(const char *text, size_t len)
{
  size_t i = 0;

  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    i++;
  return i < len && (text[i] == '{' || text[i] == '[') ? DOC_JSON : DOC_YAML;
}

int doc_parse(doc_list *out, const char *text, size_t len, const char *source, int flags,
              doc_error *err)
{
  doc_list docs = {0, NULL, NULL};
  int rc;

  if (out == NULL || (text == NULL && len > 0))
    return doc_fail(err, DOC_ERR_INVALID, 0, "doc_parse: bad arguments");
  out->n = 0;
  out->docs = NULL;
  out->lines = NULL;
  if (source == NULL)
    source = "input";
  size_t max_nodes = (flags & DOC_PARSE_BODY_LIMITS) ? DOC_MAX_BODY_NODES : 0;
  if (doc_format_of(text, len) == DOC_JSON)
    rc = doc_json_read(&docs, text, len, source, max_nodes, err);
  else
    rc = doc_yaml_read(&docs, text, len, source, max_nodes, err);
  if (rc == DOC_OK && (flags & DOC_PARSE_EXPAND_LISTS))
    rc = expand_lists(&docs, source, err);
  if (rc != DOC_OK) {
    doc_list_free(&docs);
    return rc;
  }
  *out = docs;
  return DOC_OK;
}

int doc_write(char **out, size_t *out_len, json_t *const *docs, size_t n, doc_format format,
              doc_error *err)
{
  doc_buf b = {0};
  size_t i;
  int rc = DOC_OK;

  if (out == NULL || (docs == NULL && n > 0))
    return doc_fail(err, DOC_ERR_INVALID, 0, "doc_write: bad arguments");
  *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  /* Every document was at most DOC_MAX_BYTES read; quoting and
   * indentation may grow it, hence the factor. */
  b.max = (size_t)4 * DOC_MAX_BYTES;
  if (n < 256)
    b.max *= (n + 1);
  else
    b.max = (size_t)1 << 30;
  for (i = 0; i < n; i++) {
    if (docs[i] == NULL) {
      rc = doc_fail(err, DOC_ERR_INVALID, 0, "document %zu: missing", i + 1);
      goto out;
    }
    if (doc_depth(docs[i], DOC_MAX_DEPTH + 1) > DOC_MAX_DEPTH) {
      rc = doc_fail(err, DOC_ERR_LIMIT, 0,
                    "cannot write document %zu: nesting deeper than %d levels", i + 1,
                    DOC_MAX_DEPTH);
      goto out;
    }
    if (format == DOC_JSON)
      rc = doc_json_write_doc(&b, docs[i], err);
    else
      rc = doc_yaml_write_doc(&b, docs[i], i == 0, err);
    if (rc != DOC_OK)
      goto out;
  }
  *out = doc_buf_detach(&b, out_len);
  if (*out == NULL)
    rc = doc_fail(err, DOC_ERR_NOMEM, 0, "out of memory writing documents");
out:
  doc_buf_free(&b);
  return rc;
}
