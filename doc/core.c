/*
 * The helpers under the readers and writers: errors, document lists, depth,
 * key order and typed access. This file calls into no other file of doc/, so
 * parse.c, json_io.c, yaml_read.c and yaml_write.c sit above it, not in a loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "status_text.h"
#include "banned.h"

int doc_fail(doc_error *err, int status, long line, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return status;
  err->status = status;
  err->cause = 0;
  err->line = line;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return status;
}

static const seal_status_text doc_texts[] = {{DOC_OK, "ok"},
                                             {DOC_ERR_NOMEM, "out of memory"},
                                             {DOC_ERR_PARSE, "not valid YAML or JSON"},
                                             {DOC_ERR_INVALID, "invalid document"},
                                             {DOC_ERR_LIMIT, "over a limit"},
                                             {DOC_ERR_IO, "input or output error"}};

const char *doc_strerror(int status)
{
  return SEAL_STATUS_TEXT(doc_texts, status, "unknown error");
}

int doc_depth(const json_t *v, int limit)
{
  int best = 0, d;
  size_t i;
  const char *key;
  json_t *child;

  if (!json_is_object(v) && !json_is_array(v))
    return 0;
  if (limit <= 0)
    return 1;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, key, child) {
      d = doc_depth(child, limit - 1);
      if (d > best)
        best = d;
    }
  } else {
    json_array_foreach(v, i, child) {
      d = doc_depth(child, limit - 1);
      if (d > best)
        best = d;
    }
  }
  return best + 1;
}

int doc_list_push(doc_list *docs, json_t *doc, long line, const char *source, doc_error *err)
{
  json_t **nd;
  long *nl;

  if (docs->n >= DOC_MAX_DOCS) {
    json_decref(doc);
    return doc_fail(err, DOC_ERR_LIMIT, line, "%s:%ld: more than %d documents", source, line,
                    DOC_MAX_DOCS);
  }
  nd = realloc(docs->docs, (docs->n + 1) * sizeof *nd);
  if (nd == NULL) {
    json_decref(doc);
    return doc_fail(err, DOC_ERR_NOMEM, line, "%s: out of memory", source);
  }
  docs->docs = nd;
  nl = realloc(docs->lines, (docs->n + 1) * sizeof *nl);
  if (nl == NULL) {
    json_decref(doc);
    return doc_fail(err, DOC_ERR_NOMEM, line, "%s: out of memory", source);
  }
  docs->lines = nl;
  docs->docs[docs->n] = doc;
  docs->lines[docs->n] = line;
  docs->n++;
  return DOC_OK;
}

void doc_list_free(doc_list *docs)
{
  size_t i;

  if (docs == NULL)
    return;
  for (i = 0; i < docs->n; i++)
    json_decref(docs->docs[i]);
  free(docs->docs);
  free(docs->lines);
  docs->docs = NULL;
  docs->lines = NULL;
  docs->n = 0;
}

json_t *doc_ordered(const json_t *doc)
{
  static const char *const first[] = {"apiVersion", "kind", "metadata", "spec"};
  json_t *o, *v;
  const char *key;
  size_t i;

  if (!json_is_object(doc))
    return json_incref((json_t *)doc);
  o = json_object();
  if (o == NULL)
    return NULL;
  for (i = 0; i < sizeof first / sizeof first[0]; i++) {
    v = json_object_get(doc, first[i]);
    if (v != NULL && json_object_set(o, first[i], v) != 0)
      goto fail;
  }
  json_object_foreach((json_t *)doc, key, v) {
    if (json_object_get(o, key) == NULL && json_object_set(o, key, v) != 0)
      goto fail;
  }
  return o;
fail:
  json_decref(o);
  return NULL;
}

static json_t *walk(const json_t *doc, va_list ap)
{
  const char *key;
  json_t *v = (json_t *)doc;

  while ((key = va_arg(ap, const char *)) != NULL) {
    if (!json_is_object(v))
      return NULL;
    v = json_object_get(v, key);
  }
  return v;
}

json_t *doc_get(const json_t *doc, ...)
{
  va_list ap;
  json_t *v;

  va_start(ap, doc);
  v = walk(doc, ap);
  va_end(ap);
  return v;
}

const char *doc_get_string(const json_t *doc, ...)
{
  va_list ap;
  json_t *v;

  va_start(ap, doc);
  v = walk(doc, ap);
  va_end(ap);
  return json_is_string(v) ? json_string_value(v) : NULL;
}
