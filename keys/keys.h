#ifndef SEAL_KEYS_H
#define SEAL_KEYS_H

/*
 * keys: key material and the sealed value format v1 (docs/spec.md).
 *
 * The library never prints and never exits. Functions that can fail return
 * KEYS_OK (0) or a negative keys_status, and fill a keys_error (which may be
 * NULL) with a message a person can act on. Messages never hold secrets.
 *
 * Private keys live in sodium_malloc'ed memory inside the opaque
 * keys_keypair. Unsealed plaintext is returned in malloc'ed memory that the
 * caller releases with doc_wipe_free(), which wipes it.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "doc.h"

#define KEYS_PUBLIC_BYTES 32
#define KEYS_SECRET_BYTES 32
#define KEYS_ID_BYTES 8
#define KEYS_ID_HEX_BYTES 17 /* 16 hex digits and a NUL */
#define KEYS_MAX_RECIPIENTS 16
#define KEYS_MAX_VALUE_BYTES (1024 * 1024)
#define KEYS_STANZA_BYTES 88
#define KEYS_OVERHEAD_BYTES(n) (2 + KEYS_STANZA_BYTES * (n) + 56 + 16)
#define KEYS_LABEL_MAX 640  /* longest label plus NUL, with room to spare */
#define KEYS_NAME_MAX 253   /* Kubernetes names and data keys */
#define KEYS_ARMOR_MAX 1024 /* one armored block with its headers */

#if defined(__GNUC__)
#define KEYS_MUST_CHECK __attribute__((warn_unused_result))
#else
#define KEYS_MUST_CHECK
#endif

typedef enum keys_status {
  KEYS_OK = 0,
  KEYS_ERR_NOMEM = -1,     /* out of memory */
  KEYS_ERR_INVALID = -2,   /* a bad argument: name, key, scope, size, count */
  KEYS_ERR_MALFORMED = -3, /* not a v1 value or not a key file: refused before any key is used */
  KEYS_ERR_NO_KEY = -4,    /* no stanza carries a key id of the keyring */
  KEYS_ERR_ALTERED = -5,   /* our stanza or the key commitment does not open or match */
  KEYS_ERR_LABEL = -6,    /* the body does not open: another scope/namespace/name/key, or altered */
  KEYS_ERR_WEAK_KEY = -7, /* a public key of small order */
  KEYS_ERR_IO = -8,       /* reading or writing a file */
  KEYS_ERR_EXISTS = -9,   /* the file or key id is already there */
  KEYS_ERR_CRYPTO = -10,  /* libsodium could not be initialised */
} keys_status;

typedef struct keys_error {
  int status;
  char message[512];
  /* For KEYS_ERR_NO_KEY and friends: the key ids the value was sealed for. */
  size_t n_ids;
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
} keys_error;

typedef enum keys_scope {
  KEYS_SCOPE_STRICT = 0,
  KEYS_SCOPE_NAMESPACE = 1, /* "namespace-wide" */
  KEYS_SCOPE_CLUSTER = 2,   /* "cluster-wide" */
} keys_scope;

typedef enum keys_state {
  KEYS_STATE_ACTIVE = 0,
  KEYS_STATE_COMPROMISED = 1,
} keys_state;

/* A public key: not secret, a plain value type. */
typedef struct keys_public {
  uint8_t pk[KEYS_PUBLIC_BYTES];
  uint8_t id[KEYS_ID_BYTES];
} keys_public;

/* A private key with its public half, creation time and state. Opaque. */
typedef struct keys_keypair keys_keypair;

/* Many keypairs, looked up by key id. Opaque. */
typedef struct keys_keyring keys_keyring;

/* sodium_init; safe to call more than once. */
int keys_init(void) KEYS_MUST_CHECK;

const char *keys_strerror(int status);

/* ---- scope and label ---------------------------------------------------- */

/* "strict" | "namespace-wide" | "cluster-wide"; NULL or "" means strict. */
int keys_scope_parse(keys_scope *out, const char *text) KEYS_MUST_CHECK;
const char *keys_scope_name(keys_scope scope);

/* A DNS-1123 subdomain of at most 253 characters (Secret names, namespaces). */
int keys_name_valid(const char *name);
/* A Secret data key: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..". */
int keys_data_key_valid(const char *key);

/* The scope label of docs/spec.md into out (KEYS_LABEL_MAX bytes is always enough).
 * Namespace and name are checked only where the scope uses them. */
int keys_label(char *out, size_t out_size, keys_scope scope, const char *ns, const char *name,
               const char *data_key, keys_error *err) KEYS_MUST_CHECK;

/* ---- keys --------------------------------------------------------------- */

void keys_id_of(uint8_t id[KEYS_ID_BYTES], const uint8_t pk[KEYS_PUBLIC_BYTES]);
void keys_id_hex(char out[KEYS_ID_HEX_BYTES], const uint8_t id[KEYS_ID_BYTES]);
/* 16 hex digits, either case. */
int keys_id_parse(uint8_t id[KEYS_ID_BYTES], const char *hex) KEYS_MUST_CHECK;

/* Fills pk and id; refuses (KEYS_ERR_WEAK_KEY) a public key of small order. */
int keys_public_from_bytes(keys_public *out, const uint8_t pk[KEYS_PUBLIC_BYTES],
                           keys_error *err) KEYS_MUST_CHECK;

/* created is seconds since the epoch (time(NULL) for a new key). */
int keys_keypair_generate(keys_keypair **out, int64_t created) KEYS_MUST_CHECK;
int keys_keypair_from_secret(keys_keypair **out, const uint8_t sk[KEYS_SECRET_BYTES],
                             int64_t created, keys_state state) KEYS_MUST_CHECK;
void keys_keypair_free(keys_keypair *kp);
const keys_public *keys_keypair_public(const keys_keypair *kp);
int64_t keys_keypair_created(const keys_keypair *kp);
keys_state keys_keypair_state(const keys_keypair *kp);
void keys_keypair_set_state(keys_keypair *kp, keys_state state);

/* ---- keyring ------------------------------------------------------------ */

int keys_keyring_new(keys_keyring **out) KEYS_MUST_CHECK;
void keys_keyring_free(keys_keyring *ring);
/* Takes *kp on success and sets it to NULL. A key id already in the ring is
 * KEYS_ERR_EXISTS and *kp is left to the caller. */
int keys_keyring_add(keys_keyring *ring, keys_keypair **kp, keys_error *err) KEYS_MUST_CHECK;
/* Removes and frees the key; KEYS_ERR_NO_KEY if absent. */
int keys_keyring_remove(keys_keyring *ring, const uint8_t id[KEYS_ID_BYTES]);
size_t keys_keyring_count(const keys_keyring *ring);
/* Keys ordered by creation time, oldest first (ties by key id). */
keys_keypair *keys_keyring_at(const keys_keyring *ring, size_t i);
/* Lookup by key id, no key is tried. NULL when absent. */
keys_keypair *keys_keyring_find(const keys_keyring *ring, const uint8_t id[KEYS_ID_BYTES]);
/* The newest active key (it seals); NULL when there is none. */
const keys_keypair *keys_keyring_newest_active(const keys_keyring *ring);

/* ---- armored key files -------------------------------------------------- */

/* Every "SEAL PUBLIC KEY" block of text, in order, into a malloc'ed array
 * (*n_out >= 1 on success; free() it). A "SEAL PRIVATE KEY" block is an error
 * here: a private key never stands where a public one is expected. */
int keys_armor_read_public(keys_public **out, size_t *n_out, const char *text, size_t len,
                           keys_error *err) KEYS_MUST_CHECK;

/* Exactly one "SEAL PUBLIC KEY" block and nothing but blank lines around it:
 * the form a cluster publishes its key in. A second block, text outside the
 * block or a private block is KEYS_ERR_MALFORMED with the line. */
int keys_armor_read_one_public(keys_public *out, const char *text, size_t len,
                               keys_error *err) KEYS_MUST_CHECK;

/* Every "SEAL PRIVATE KEY" block of text into ring, with its Created and State
 * headers (missing: created 0, active). Public blocks are ignored; a key the
 * ring already holds is skipped. On failure nothing is added. *n_added (may be
 * NULL) counts the keys added. */
int keys_armor_read_private(keys_keyring *ring, size_t *n_added, const char *text, size_t len,
                            keys_error *err) KEYS_MUST_CHECK;

/* One armored public block (Key-Id and, when created > 0, Created headers) into
 * out, NUL-terminated; *out_len excludes the NUL. */
int keys_armor_write_public(char *out, size_t out_size, size_t *out_len, const keys_public *pub,
                            int64_t created) KEYS_MUST_CHECK;

/* One armored private block with Key-Id, Created and State headers. out holds
 * a secret: the caller wipes it (sodium_memzero) when done. */
int keys_armor_write_private(char *out, size_t out_size, size_t *out_len,
                             const keys_keypair *kp) KEYS_MUST_CHECK;

/* Reads a whole file (at most max bytes) into malloc'ed, NUL-terminated memory. */
int keys_file_read(char **out, size_t *out_len, const char *path, size_t max,
                   keys_error *err) KEYS_MUST_CHECK;

/* Writes data to path atomically (temporary file in the same folder, fsync,
 * rename). mode 0600 for secrets. Without overwrite an existing path is
 * KEYS_ERR_EXISTS. The temporary file is opened O_EXCL|O_NOFOLLOW and removed
 * on failure. */
int keys_file_write(const char *path, const void *data, size_t len, unsigned mode, int overwrite,
                    keys_error *err) KEYS_MUST_CHECK;

/* ---- sealed values ------------------------------------------------------ */

/* Seals m for n recipients (distinct key ids, 1..16) under label. *out is the
 * base64 text, malloc'ed and NUL-terminated (free()). */
int keys_seal(char **out, const keys_public *recipients, size_t n, const char *label,
              const uint8_t *m, size_t m_len, keys_error *err) KEYS_MUST_CHECK;

/* Opens a sealed value with ring under label. *out is malloc'ed (never NULL
 * on success, even for an empty value) and released with doc_wipe_free().
 * used_id (may be NULL) receives the key id of the stanza that opened. */
int keys_unseal(uint8_t **out, size_t *out_len, const keys_keyring *ring, const char *label,
                const char *sealed, size_t sealed_len, uint8_t used_id[KEYS_ID_BYTES],
                keys_error *err) KEYS_MUST_CHECK;

/* Re-seals for new_pk (docs/spec.md, re-sealing): opens with ring, drops the
 * stanzas of ring's keys, appends one for new_pk, keeps every other stanza
 * byte for byte and the commitment, fresh nonce. */
int keys_reseal(char **out, const keys_keyring *ring, const keys_public *new_pk, const char *label,
                const char *sealed, size_t sealed_len, keys_error *err) KEYS_MUST_CHECK;

/* The key ids a value was sealed for, in blob order, without opening it
 * (only the malformed checks of docs/spec.md step 1). */
int keys_sealed_ids(uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES], size_t *n, const char *sealed,
                    size_t sealed_len, keys_error *err) KEYS_MUST_CHECK;

/* ---- small helpers the other parts share -------------------------------- */

/* Canonical standard base64 (docs/spec.md). encode: *out malloc'ed, NUL-terminated.
 * decode: *out malloc'ed (at least one byte allocated), refuses anything not
 * canonical. */
int keys_base64_encode(char **out, size_t *out_len, const uint8_t *in,
                       size_t in_len) KEYS_MUST_CHECK;
int keys_base64_decode(uint8_t **out, size_t *out_len, const char *in,
                       size_t in_len) KEYS_MUST_CHECK;
/* The same format and rules, for public text only (sealed values): not
 * constant time, much faster. Plaintext and keys use the two above. */
int keys_base64_encode_public(char **out, size_t *out_len, const uint8_t *in,
                              size_t in_len) KEYS_MUST_CHECK;
int keys_base64_decode_public(uint8_t **out, size_t *out_len, const char *in,
                              size_t in_len) KEYS_MUST_CHECK;

/* RFC 3339 UTC ("2026-11-25T00:00:00Z") to and from seconds since the epoch;
 * parse accepts fractional seconds and numeric offsets. */
int keys_time_format(char *out, size_t out_size, int64_t t) KEYS_MUST_CHECK;
int keys_time_parse(int64_t *out, const char *text) KEYS_MUST_CHECK;

#endif
