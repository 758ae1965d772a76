#ifndef SEAL_KEYS_INTERNAL_H
#define SEAL_KEYS_INTERNAL_H

/* Shared between the files of libkeys; not part of the public contract. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#if defined(__GNUC__)
#define KEYS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KEYS_PRINTF(a, b)
#endif

/* A keypair lives in one sodium_malloc'ed block; sk never leaves it. */
struct keys_keypair {
  uint8_t sk[KEYS_SECRET_BYTES];
  keys_public pub;
  int64_t created;
  keys_state state;
};

/* Fills err (which may be NULL) and returns status. err->n_ids is reset. */
int keys_i_fail(keys_error *err, int status, const char *fmt, ...) KEYS_PRINTF(3, 4);

/* Writes "id, id, ..." (hex) into out; truncates politely. */
void keys_i_ids_text(char *out, size_t out_size, const uint8_t (*ids)[KEYS_ID_BYTES], size_t n);

/* 1 when no byte of s is above 0x7f, in a time that depends on len only:
 * libsodium 1.0.18's base64 decoder takes some such bytes for digits. */
int keys_i_ascii(const char *s, size_t len);

/* sodium_init() once; KEYS_ERR_CRYPTO when libsodium cannot start. */
int keys_i_ready(keys_error *err);

/* X25519 of the fixed base scalar with pk; 0 when pk is not of small order. */
int keys_i_check_public(const uint8_t pk[KEYS_PUBLIC_BYTES]);

#endif
