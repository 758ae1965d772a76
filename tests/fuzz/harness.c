#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

/* The private keys of tests/vectors/seal-v1.json (keys[i].private),
 * so that the seed corpus's sealed values open and the fuzzer can reach
 * every step of unsealing. They are test keys and protect nothing. */
static const char *const vector_secrets[] = {
    "NLsDG/9kRTTeD71b8v5ZZS5Pnbd2r+4xees4quFmYGg=",
    "1XI/I9s7pHJeJxeRbZV7vcYOfpM0sjoGlUdJZzjDCUg=",
    "JsSOQfsXYNQMr4uAgLhYWeunnxpSa/Qs6NCvBQ1pa5I=",
};
#define N_VECTOR_KEYS (sizeof(vector_secrets) / sizeof(vector_secrets[0]))

/* The labels of the vectors' valid values. */
static const char *const vector_labels[] = {
    "strict/kotaemon/api-keys/OPENAI_API_KEY",
    "namespace/kotaemon/db.password",
    "cluster/token",
};
#define N_VECTOR_LABELS (sizeof(vector_labels) / sizeof(vector_labels[0]))

static keys_keyring *fixed_ring;
static keys_public fixed_publics[N_VECTOR_KEYS];

_Noreturn void harness_fail(const char *what, const char *message)
{
  if (message != NULL && message[0] != '\0')
    fprintf(stderr, "fuzz: %s: %s\n", what, message);
  else
    fprintf(stderr, "fuzz: %s\n", what);
  fflush(stderr);
  abort();
}

keys_keyring *harness_keyring_new(void)
{
  keys_keyring *ring = NULL;
  keys_keypair *kp = NULL;
  uint8_t *sk = NULL;
  size_t sk_len = 0;
  keys_error err;
  size_t i;

  if (keys_init() != KEYS_OK)
    harness_fail("keys_init failed", NULL);
  if (keys_keyring_new(&ring) != KEYS_OK)
    harness_fail("keys_keyring_new failed", NULL);
  for (i = 0; i < N_VECTOR_KEYS; i++) {
    const char *b64 = vector_secrets[i];
    if (keys_base64_decode(&sk, &sk_len, b64, strlen(b64)) != KEYS_OK ||
        sk_len != KEYS_SECRET_BYTES)
      harness_fail("a test vector private key does not decode", NULL);
    /* created 1, 2, 3: the last key is the newest, the one that seals */
    if (keys_keypair_from_secret(&kp, sk, (int64_t)(i + 1), KEYS_STATE_ACTIVE) != KEYS_OK)
      harness_fail("keys_keypair_from_secret refused a test vector key", NULL);
    sodium_memzero(sk, sk_len);
    free(sk);
    sk = NULL;
    fixed_publics[i] = *keys_keypair_public(kp);
    memset(&err, 0, sizeof(err));
    if (keys_keyring_add(ring, &kp, &err) != KEYS_OK)
      harness_fail("keys_keyring_add refused a test vector key", err.message);
  }
  return ring;
}

const keys_keyring *harness_keyring(void)
{
  if (fixed_ring == NULL)
    fixed_ring = harness_keyring_new();
  return fixed_ring;
}

const keys_public *harness_recipients(size_t *n)
{
  (void)harness_keyring();
  *n = N_VECTOR_KEYS;
  return fixed_publics;
}

const keys_public *harness_reseal_key(void)
{
  (void)harness_keyring();
  return &fixed_publics[N_VECTOR_KEYS - 1];
}

const char *harness_label(size_t i)
{
  return vector_labels[i % N_VECTOR_LABELS];
}

static int ids_contain(const uint8_t ids[][KEYS_ID_BYTES], size_t n,
                       const uint8_t id[KEYS_ID_BYTES])
{
  size_t i;
  for (i = 0; i < n; i++) {
    if (memcmp(ids[i], id, KEYS_ID_BYTES) == 0)
      return 1;
  }
  return 0;
}

void harness_check_keys_failure(int rc, const keys_error *err, const char *what)
{
  if (rc >= 0 || rc < KEYS_ERR_CRYPTO)
    harness_fail(what, "status outside keys_status");
  if (rc == KEYS_ERR_NOMEM)
    harness_fail(what, "out of memory on a bounded input: a failure reported as the wrong one");
  if (err->message[0] == '\0')
    harness_fail(what, "failed without a message");
}

void harness_check_unseal(const char *label, const char *sealed, size_t sealed_len)
{
  const keys_keyring *ring = harness_keyring();
  const keys_public *new_pk = harness_reseal_key();
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  uint8_t used[KEYS_ID_BYTES];
  uint8_t *plain = NULL, *again = NULL;
  size_t plain_len = 0, again_len = 0, n_ids = 0;
  char *resealed = NULL;
  keys_error err;
  int rc, rc_ids, rc_reseal;

  memset(&err, 0, sizeof(err));
  rc = keys_unseal(&plain, &plain_len, ring, label, sealed, sealed_len, used, &err);
  if (rc != KEYS_OK)
    harness_check_keys_failure(rc, &err, "keys_unseal");

  memset(&err, 0, sizeof(err));
  rc_ids = keys_sealed_ids(ids, &n_ids, sealed, sealed_len, &err);
  if (rc_ids != KEYS_OK)
    harness_check_keys_failure(rc_ids, &err, "keys_sealed_ids");
  if (rc_ids == KEYS_OK && (n_ids < 1 || n_ids > KEYS_MAX_RECIPIENTS))
    harness_fail("keys_sealed_ids", "recipient count outside 1..16");

  if (rc == KEYS_OK) {
    if (plain == NULL)
      harness_fail("keys_unseal", "succeeded without output");
    if (rc_ids != KEYS_OK)
      harness_fail("keys_sealed_ids", "refused a value that opens");
    if (!ids_contain(ids, n_ids, used))
      harness_fail("keys_unseal", "used a key id the value was not sealed for");
  } else if (rc == KEYS_ERR_MALFORMED && rc_ids == KEYS_OK) {
    /* The other way round is fine: a bad label is refused before the value. */
    harness_fail("keys_unseal and keys_sealed_ids", "disagree on whether the value is malformed");
  }

  memset(&err, 0, sizeof(err));
  rc_reseal = keys_reseal(&resealed, ring, new_pk, label, sealed, sealed_len, &err);
  if (rc_reseal != KEYS_OK)
    harness_check_keys_failure(rc_reseal, &err, "keys_reseal");
  if ((rc == KEYS_OK) != (rc_reseal == KEYS_OK))
    harness_fail("keys_reseal", "disagrees with keys_unseal on whether the value opens");
  if (rc_reseal != KEYS_OK)
    goto out;

  memset(&err, 0, sizeof(err));
  if (keys_unseal(&again, &again_len, ring, label, resealed, strlen(resealed), used, &err) !=
      KEYS_OK)
    harness_fail("a re-sealed value does not open", err.message);
  if (again_len != plain_len || (plain_len > 0 && memcmp(again, plain, plain_len) != 0))
    harness_fail("keys_reseal", "the re-sealed value opens to another plaintext");
  if (memcmp(used, new_pk->id, KEYS_ID_BYTES) != 0)
    harness_fail("keys_reseal", "the re-sealed value was not opened by the new key's stanza");

out:
  doc_wipe_free(plain, plain_len);
  doc_wipe_free(again, again_len);
  free(resealed);
}
