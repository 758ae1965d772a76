#ifndef SEAL_TESTS_KEYS_VECTORS_H
#define SEAL_TESTS_KEYS_VECTORS_H

/* Shared by the keys tests: the test vectors (docs/spec.md) and small helpers. */

#include <stddef.h>
#include <stdint.h>

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>
#include <jansson.h>

#include "keys.h"

/* The vectors, loaded by vectors_main. */
extern json_t *vectors_root;

/* keys_init, loads the vectors, runs the cmocka group, frees the vectors. */
int vectors_main(int argc, char **argv, const char *name, const struct CMUnitTest *tests, size_t n);

/* Loads the vectors from argv[1] or $SEAL_TESTVECTORS (the folder or the
 * file); the root object, or NULL after printing why. */
json_t *vectors_load(int argc, char **argv);

/* A string member, failing the test when it is missing. */
const char *vectors_str(const json_t *obj, const char *name);

/* Decodes base64 of exactly want bytes (want 0: any length) into malloc'ed
 * memory; fails the test on error. */
uint8_t *vectors_b64(const char *text, size_t *len, size_t want);

/* A keyring holding keys[i] of the vectors. */
keys_keyring *vectors_ring(const json_t *root, size_t i);

/* The public key of keys[i]. */
keys_public vectors_public(const json_t *root, size_t i);

/* A keyring with one fresh key; pub receives its public half. */
keys_keyring *fresh_ring(keys_public *pub, int64_t created);

#endif
