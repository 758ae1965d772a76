/*
 * Documents: parse dispatch, List expansion, typed accessors, descriptions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest_int.h"
#include "banned.h"

int manifest_fail(manifest_error *err, int status, long line, const char *fmt, ...) {
  va_list ap;

  if (err == NULL)
    return status;
  err->status = status;
  err->keys_status = 0;
  err->line = line;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return status;
}

const char *manifest_strerror(int status) {
  switch (status) {
  case MANIFEST_OK:
    return "ok";
  case MANIFEST_ERR_NOMEM:
    return "out of memory";
  case MANIFEST_ERR_PARSE:
    return "not valid YAML or JSON";
  case MANIFEST_ERR_INVALID:
    return "invalid document";
  case MANIFEST_ERR_LIMIT:
    return "over a limit";
  case MANIFEST_ERR_KEYS:
    return "sealing or unsealing failed";
  case MANIFEST_ERR_IO:
    return "input or output error";
  default:
    return "unknown error";
  }
}

int manifest_depth(const json_t *v, int limit) {
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
      d = manifest_depth(child, limit - 1);
      if (d > best)
        best = d;
    }
  } else {
    json_array_foreach(v, i, child) {
      d = manifest_depth(child, limit - 1);
      if (d > best)
        best = d;
    }
  }
  return best + 1;
}

int manifest_docs_push(manifest_docs *docs, json_t *doc, long line, const char *source,
                       manifest_error *err) {
  json_t **nd;
  long *nl;

  if (docs->n >= MANIFEST_MAX_DOCS) {
    json_decref(doc);
    return manifest_fail(err, MANIFEST_ERR_LIMIT, line, "%s:%ld: more than %d documents",
                         source, line, MANIFEST_MAX_DOCS);
  }
  nd = realloc(docs->docs, (docs->n + 1) * sizeof *nd);
  if (nd == NULL) {
    json_decref(doc);
    return manifest_fail(err, MANIFEST_ERR_NOMEM, line, "%s: out of memory", source);
  }
  docs->docs = nd;
  nl = realloc(docs->lines, (docs->n + 1) * sizeof *nl);
  if (nl == NULL) {
    json_decref(doc);
    return manifest_fail(err, MANIFEST_ERR_NOMEM, line, "%s: out of memory", source);
  }
  docs->lines = nl;
  docs->docs[docs->n] = doc;
  docs->lines[docs->n] = line;
  docs->n++;
  return MANIFEST_OK;
}

void manifest_docs_free(manifest_docs *docs) {
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

static int is_list(const json_t *doc) {
  const char *kind = manifest_get_string(doc, "kind", NULL);
  size_t n;

  if (kind == NULL || !json_is_array(json_object_get(doc, "items")))
    return 0;
  n = strlen(kind);
  return n >= 4 && strcmp(kind + n - 4, "List") == 0;
}

static int expand_lists(manifest_docs *docs, const char *source, manifest_error *err) {
  manifest_docs out = {0, NULL, NULL};
  size_t i, j;
  json_t *item;
  int rc = MANIFEST_OK;

  for (i = 0; i < docs->n; i++) {
    if (!is_list(docs->docs[i])) {
      rc = manifest_docs_push(&out, json_incref(docs->docs[i]), docs->lines[i], source, err);
      if (rc != MANIFEST_OK)
        goto out;
      continue;
    }
    json_array_foreach(json_object_get(docs->docs[i], "items"), j, item) {
      if (json_is_null(item))
        continue;
      rc = manifest_docs_push(&out, json_incref(item), docs->lines[i], source, err);
      if (rc != MANIFEST_OK)
        goto out;
    }
  }
  manifest_docs_free(docs);
  *docs = out;
  out.n = 0;
  out.docs = NULL;
  out.lines = NULL;
out:
  manifest_docs_free(&out);
  return rc;
}

int manifest_parse(manifest_docs *out, const char *text, size_t len, const char *source,
                   int flags, manifest_error *err) {
  manifest_docs docs = {0, NULL, NULL};
  size_t i = 0;
  int rc;

  if (out == NULL || (text == NULL && len > 0))
    return manifest_fail(err, MANIFEST_ERR_INVALID, 0, "manifest_parse: bad arguments");
  out->n = 0;
  out->docs = NULL;
  out->lines = NULL;
  if (source == NULL)
    source = "input";
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    i++;
  size_t max_nodes = (flags & MANIFEST_PARSE_BODY_LIMITS) ? MANIFEST_MAX_BODY_NODES : 0;
  if (i < len && (text[i] == '{' || text[i] == '['))
    rc = manifest_json_read(&docs, text, len, source, max_nodes, err);
  else
    rc = manifest_yaml_read(&docs, text, len, source, max_nodes, err);
  if (rc == MANIFEST_OK && (flags & MANIFEST_PARSE_EXPAND_LISTS))
    rc = expand_lists(&docs, source, err);
  if (rc != MANIFEST_OK) {
    manifest_docs_free(&docs);
    return rc;
  }
  *out = docs;
  return MANIFEST_OK;
}

static json_t *walk(const json_t *doc, va_list ap) {
  const char *key;
  json_t *v = (json_t *)doc;

  while ((key = va_arg(ap, const char *)) != NULL) {
    if (!json_is_object(v))
      return NULL;
    v = json_object_get(v, key);
  }
  return v;
}

json_t *manifest_get(const json_t *doc, ...) {
  va_list ap;
  json_t *v;

  va_start(ap, doc);
  v = walk(doc, ap);
  va_end(ap);
  return v;
}

const char *manifest_get_string(const json_t *doc, ...) {
  va_list ap;
  json_t *v;

  va_start(ap, doc);
  v = walk(doc, ap);
  va_end(ap);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_kind(const json_t *doc, const char *api_version, const char *kind) {
  const char *a = manifest_get_string(doc, "apiVersion", NULL);
  const char *k = manifest_get_string(doc, "kind", NULL);

  return json_is_object(doc) && a != NULL && k != NULL && strcmp(a, api_version) == 0 &&
         strcmp(k, kind) == 0;
}

int manifest_is_secret(const json_t *doc) {
  return is_kind(doc, "v1", "Secret");
}

int manifest_is_sealed_secret(const json_t *doc) {
  return is_kind(doc, MANIFEST_API_VERSION, MANIFEST_KIND);
}

void manifest_doc_ref(char *out, size_t out_size, const json_t *doc) {
  const char *name = manifest_get_string(doc, "metadata", "name", NULL);
  const char *ns = manifest_get_string(doc, "metadata", "namespace", NULL);

  if (name == NULL)
    name = "(no name)";
  if (ns != NULL)
    snprintf(out, out_size, "%s/%s", ns, name);
  else
    snprintf(out, out_size, "%s", name);
}

void manifest_describe(char *out, size_t out_size, const json_t *doc, size_t index) {
  const char *kind = manifest_get_string(doc, "kind", NULL);
  const char *name = manifest_get_string(doc, "metadata", "name", NULL);
  char ref[2 * KEYS_NAME_MAX + 16];

  if (out == NULL || out_size == 0)
    return;
  if (kind != NULL && name != NULL && (manifest_is_secret(doc) || manifest_is_sealed_secret(doc))) {
    manifest_doc_ref(ref, sizeof ref, doc);
    snprintf(out, out_size, "%s %s", kind, ref);
  } else if (kind != NULL) {
    snprintf(out, out_size, "document %zu (%s)", index + 1, kind);
  } else {
    snprintf(out, out_size, "document %zu", index + 1);
  }
}

json_t *manifest_ordered(const json_t *doc) {
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

int manifest_write(char **out, size_t *out_len, json_t *const *docs, size_t n,
                   manifest_format format, manifest_error *err) {
  manifest_buf b = {NULL, 0, 0, 0};
  size_t i;
  int rc = MANIFEST_OK;

  if (out == NULL || (docs == NULL && n > 0))
    return manifest_fail(err, MANIFEST_ERR_INVALID, 0, "manifest_write: bad arguments");
  *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  /* Every document was at most MANIFEST_MAX_DOC_BYTES read; quoting and
   * indentation may grow it, hence the factor. */
  b.max = (size_t)4 * MANIFEST_MAX_DOC_BYTES;
  if (n < 256)
    b.max *= (n + 1);
  else
    b.max = (size_t)1 << 30;
  for (i = 0; i < n; i++) {
    if (docs[i] == NULL) {
      rc = manifest_fail(err, MANIFEST_ERR_INVALID, 0, "document %zu: missing", i + 1);
      goto out;
    }
    if (manifest_depth(docs[i], MANIFEST_MAX_DEPTH + 1) > MANIFEST_MAX_DEPTH) {
      rc = manifest_fail(err, MANIFEST_ERR_LIMIT, 0,
                         "cannot write document %zu: nesting deeper than %d levels", i + 1,
                         MANIFEST_MAX_DEPTH);
      goto out;
    }
    if (format == MANIFEST_JSON)
      rc = manifest_json_write_doc(&b, docs[i], err);
    else
      rc = manifest_yaml_write_doc(&b, docs[i], i == 0, err);
    if (rc != MANIFEST_OK)
      goto out;
  }
  *out = manifest_buf_detach(&b, out_len);
  if (*out == NULL)
    rc = manifest_fail(err, MANIFEST_ERR_NOMEM, 0, "out of memory writing documents");
out:
  manifest_buf_free(&b);
  return rc;
}
