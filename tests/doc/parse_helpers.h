#ifndef SEAL_TESTS_DOC_PARSE_HELPERS_H
#define SEAL_TESTS_DOC_PARSE_HELPERS_H

#include <stddef.h>

#include <jansson.h>

#include "doc.h"

/* Parses text (NUL-terminated) and fails the test on error. */
void parse_ok(doc_list *docs, const char *text, int flags);
/* Parses text, expects the status, and checks that no documents are left behind. */
void parse_fails(const char *text, size_t len, int status, const char *message_part,
                 doc_error *err);
/* The only document of text; the caller json_decref()s it. */
json_t *parse_one(const char *text);
/* Writes one document as YAML (or JSON); free with doc_wipe_free. */
char *write_one(const json_t *doc, doc_format format, size_t *len);

#endif
