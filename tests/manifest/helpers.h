#ifndef SEAL_TESTS_MANIFEST_HELPERS_H
#define SEAL_TESTS_MANIFEST_HELPERS_H

#include <stddef.h>

#include <jansson.h>

#include "keys.h"
#include "manifest.h"
#include "parse_helpers.h"

/* A keyring of n generated keys; their public halves into pubs (n entries). */
keys_keyring *make_ring(size_t n, keys_public *pubs);
/* A keyring holding only the keys of ring at the given positions. */
keys_keyring *sub_ring(const keys_keyring *ring, const size_t *at, size_t n);

/* The value of data[key] of a Secret, base64-decoded, NUL-terminated, malloc'ed. */
char *secret_value(const json_t *secret, const char *key);

#endif
