#ifndef SEAL_DOC_INTERNAL_H
#define SEAL_DOC_INTERNAL_H

/* Private to libdoc: shared helpers between its files. parse.c dispatches to
 * the readers and writers below; they call back into nothing but this file's
 * helpers (core.c, alloc.c), so no loop of files remains. */

#include <stddef.h>

#include <jansson.h>

#include "doc.h"

/* Appends a document (takes the reference, also on failure). */
int doc_list_push(doc_list *docs, json_t *doc, long line, const char *source, doc_error *err);

/* Nesting depth of a value: a scalar is 0, {} or [] is 1. Stops counting past limit. */
int doc_depth(const json_t *v, int limit);

/* Readers used by doc_parse; they push into out. */
/* max_nodes: values in the whole stream at most (0: only the per-document
 * limits). */
int doc_yaml_read(doc_list *out, const char *text, size_t len, const char *source, size_t max_nodes,
                  doc_error *err);
int doc_json_read(doc_list *out, const char *text, size_t len, const char *source, size_t max_nodes,
                  doc_error *err);

/* 1 when s, written as a plain YAML scalar, reads back as the same string
 * here (YAML 1.2 core) and in YAML 1.1 readers such as kubectl's. */
int doc_yaml_plain_safe(const char *s, size_t n);

/* Writers used by doc_write; they append one document to b. */
int doc_yaml_write_doc(doc_buf *b, const json_t *doc, int first, doc_error *err);
int doc_json_write_doc(doc_buf *b, const json_t *doc, doc_error *err);

/* A shallow copy of an object with apiVersion, kind, metadata and spec first
 * (a new reference; other values are shared). Non-objects: a new reference. */
json_t *doc_ordered(const json_t *doc);

#endif
