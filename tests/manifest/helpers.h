#ifndef SEAL_TESTS_MANIFEST_HELPERS_H
#define SEAL_TESTS_MANIFEST_HELPERS_H

#include <stddef.h>

#include <jansson.h>

#include "keys.h"
#include "manifest.h"

/* Parses text (NUL-terminated) and fails the test on error. */
void parse_ok(manifest_docs *docs, const char *text, int flags);
/* Parses text, expects the status, and checks that no documents are left behind. */
void parse_fails(const char *text, size_t len, int status, const char *message_part,
                 manifest_error *err);
/* The only document of text; the caller json_decref()s it. */
json_t *parse_one(const char *text);
/* Writes one document as YAML (or JSON); free with manifest_text_free. */
char *write_one(const json_t *doc, manifest_format format, size_t *len);

/* A keyring of n generated keys; their public halves into pubs (n entries). */
keys_keyring *make_ring(size_t n, keys_public *pubs);
/* A keyring holding only the keys of ring at the given positions. */
keys_keyring *sub_ring(const keys_keyring *ring, const size_t *at, size_t n);

/* The value of data[key] of a Secret, base64-decoded, NUL-terminated, malloc'ed. */
char *secret_value(const json_t *secret, const char *key);

#endif
