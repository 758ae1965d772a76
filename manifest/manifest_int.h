#ifndef SEAL_MANIFEST_INT_H
#define SEAL_MANIFEST_INT_H

/* Private to libmanifest: shared helpers between its files. */

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "manifest.h"

#if defined(__GNUC__)
#define MANIFEST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MANIFEST_PRINTF(a, b)
#endif

/* Fills err (may be NULL) and returns status. */
int manifest_fail(manifest_error *err, int status, long line, const char *fmt, ...)
    MANIFEST_PRINTF(4, 5);

/* A growing text buffer with a hard maximum; it may hold secrets, so growth
 * copies and wipes, and release wipes. */
typedef struct manifest_buf {
  char *p;
  size_t len;
  size_t cap;
  size_t max;
} manifest_buf;

/* Appends n bytes; MANIFEST_ERR_LIMIT past max, MANIFEST_ERR_NOMEM. Keeps a NUL after len. */
int manifest_buf_add(manifest_buf *b, const void *data, size_t n);
/* Moves the text out (malloc'ed, NUL-terminated) and empties b. */
char *manifest_buf_detach(manifest_buf *b, size_t *len);
void manifest_buf_free(manifest_buf *b);

/* Appends a document (takes the reference, also on failure). */
int manifest_docs_push(manifest_docs *docs, json_t *doc, long line, const char *source,
                       manifest_error *err);

/* Nesting depth of a value: a scalar is 0, {} or [] is 1. Stops counting past limit. */
int manifest_depth(const json_t *v, int limit);

/* Readers used by manifest_parse; they push into out. */
/* max_nodes: values in the whole stream at most (0: only the per-document
 * limits). */
int manifest_yaml_read(manifest_docs *out, const char *text, size_t len, const char *source,
                       size_t max_nodes, manifest_error *err);
int manifest_json_read(manifest_docs *out, const char *text, size_t len, const char *source,
                       size_t max_nodes, manifest_error *err);

/* 1 when s, written as a plain YAML scalar, reads back as the same string
 * here (YAML 1.2 core) and in YAML 1.1 readers such as kubectl's. */
int manifest_yaml_plain_safe(const char *s, size_t n);

/* Writers used by manifest_write; they append one document to b. */
int manifest_yaml_write_doc(manifest_buf *b, const json_t *doc, int first, manifest_error *err);
int manifest_json_write_doc(manifest_buf *b, const json_t *doc, manifest_error *err);

/* A shallow copy of an object with apiVersion, kind, metadata and spec first
 * (a new reference; other values are shared). Non-objects: a new reference. */
json_t *manifest_ordered(const json_t *doc);

/* The template metadata of meta: its labels and its annotations but those
 * named in drop; every value must be a string. *out is a new object. */
int manifest_template_metadata(json_t **out, const json_t *meta, const char *const *drop,
                               size_t n_drop, const char *desc, const char *where,
                               manifest_error *err);

/* Refuses labels or annotations of meta (maps of strings) that a template
 * may not carry (manifest_reserved_label, manifest_reserved_annotation);
 * where names meta in the message ("spec.template.metadata"). */
int manifest_check_reserved(const json_t *meta, const char *desc, const char *where,
                            manifest_error *err);

/* "<namespace>/<name>" or "<name>" of a document's metadata, for messages. */
void manifest_doc_ref(char *out, size_t out_size, const json_t *doc);

#endif
