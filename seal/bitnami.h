#ifndef SEAL_CLI_BITNAMI_H
#define SEAL_CLI_BITNAMI_H

/*
 * The parts of Bitnami sealed-secrets' formats seal migrate reads without a
 * key (cmd_migrate.c opens the values): a value's layout, and the template
 * references it turns into seal's; and where the documents of a stream
 * start, so that the others are passed through byte for byte. Pure text
 * handling, fuzzed by tests/fuzz/fuzz_bitnami.c.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "manifest.h"

enum { BITNAMI_OK = 0, BITNAMI_REFUSED = -1, BITNAMI_NOMEM = -2 };

#define BITNAMI_TAG_BYTES 16 /* AES-GCM's tag, at the end of the body */
#define BITNAMI_WHY_MAX 256

/* A value: a big-endian uint16 n, n bytes of RSA-OAEP ciphertext, then the
 * AES-256-GCM body with its tag. Pointers into the value. */
typedef struct bitnami_value {
  const uint8_t *rsa;
  size_t rsa_len;
  const uint8_t *body; /* ciphertext and tag */
  size_t body_len;     /* at least BITNAMI_TAG_BYTES */
} bitnami_value;

/* BITNAMI_REFUSED when ct is shorter than its own lengths say. */
int bitnami_value_split(bitnami_value *v, const uint8_t *ct, size_t ct_len);

/* Bitnami's Go template text s (n bytes) to seal's: {{ .key }} and
 * {{ index . "key" }} (or `key`) become {{ .key }}; every other action, a
 * key that enc (the encrypted keys) lacks or that is not a valid data key
 * is BITNAMI_REFUSED with the reason in why. *out is malloc'ed, NUL-terminated. */
int bitnami_template_convert(char **out, const char *s, size_t n, const json_t *enc, char *why,
                             size_t why_size);

/* Where the document after the one starting at pos begins (len at the end):
 * YAML at the next line that is a "---" marker, JSON after the value that
 * starts at or after pos. Always more than pos when pos < len. */
size_t bitnami_next_chunk(const char *text, size_t len, size_t pos, doc_format format);

#endif
