/* Public keys, key ids and keypairs (private keys in sodium_malloc'ed memory). */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

static const char kid_context[] = "seal.v1.kid";

void keys_id_of(uint8_t id[KEYS_ID_BYTES], const uint8_t pk[KEYS_PUBLIC_BYTES])
{
  uint8_t msg[sizeof(kid_context) - 1 + KEYS_PUBLIC_BYTES];
  uint8_t hash[32];

  memcpy(msg, kid_context, sizeof(kid_context) - 1);
  memcpy(msg + sizeof(kid_context) - 1, pk, KEYS_PUBLIC_BYTES);
  crypto_generichash(hash, sizeof(hash), msg, sizeof(msg), NULL, 0);
  memcpy(id, hash, KEYS_ID_BYTES);
}

/*
 * A scalar is clamped to a multiple of the cofactor, so X25519 with any
 * scalar maps a point of small order to zero, which crypto_scalarmult
 * reports as an error. The scalar here is public and fixed.
 */
int keys_i_check_public(const uint8_t pk[KEYS_PUBLIC_BYTES])
{
  static const uint8_t probe[crypto_scalarmult_SCALARBYTES] = {0x70, 0x6b, 0x2d, 0x70, 0x72, 0x6f,
                                                               0x62, 0x65, 0x01, 0x02, 0x03, 0x04,
                                                               0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                                               0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
                                                               0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                                                               0x17, 0x58};
  uint8_t q[crypto_scalarmult_BYTES];
  int rc;

  rc = crypto_scalarmult(q, probe, pk);
  sodium_memzero(q, sizeof(q));
  return rc == 0 ? KEYS_OK : KEYS_ERR_WEAK_KEY;
}

int keys_public_from_bytes(keys_public *out, const uint8_t pk[KEYS_PUBLIC_BYTES], keys_error *err)
{
  keys_public pub;
  char hex[KEYS_ID_HEX_BYTES];
  int rc;

  if (out == NULL || pk == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no public key given");
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  memcpy(pub.pk, pk, KEYS_PUBLIC_BYTES);
  keys_id_of(pub.id, pub.pk);
  if (keys_i_check_public(pub.pk) != KEYS_OK) {
    keys_id_hex(hex, pub.id);
    return keys_i_fail(err, KEYS_ERR_WEAK_KEY,
                       "public key %s is a point of small order: nothing can be sealed for it",
                       hex);
  }
  *out = pub;
  return KEYS_OK;
}

int keys_keypair_from_secret(keys_keypair **out, const uint8_t sk[KEYS_SECRET_BYTES],
                             int64_t created, keys_state state)
{
  keys_keypair *kp;

  if (out == NULL)
    return KEYS_ERR_INVALID;
  *out = NULL;
  if (sk == NULL || (state != KEYS_STATE_ACTIVE && state != KEYS_STATE_COMPROMISED))
    return KEYS_ERR_INVALID;
  if (sodium_init() < 0)
    return KEYS_ERR_CRYPTO;
  kp = sodium_malloc(sizeof(*kp));
  if (kp == NULL)
    return KEYS_ERR_NOMEM;
  memset(kp, 0, sizeof(*kp));
  memcpy(kp->sk, sk, KEYS_SECRET_BYTES);
  /* An all-zero scalar (or one whose public key is the identity) is no key. */
  if (crypto_scalarmult_base(kp->pub.pk, kp->sk) != 0 || keys_i_check_public(kp->pub.pk) != 0) {
    keys_keypair_free(kp);
    return KEYS_ERR_WEAK_KEY;
  }
  keys_id_of(kp->pub.id, kp->pub.pk);
  kp->created = created;
  kp->state = state;
  *out = kp;
  return KEYS_OK;
}

int keys_keypair_generate(keys_keypair **out, int64_t created)
{
  uint8_t *sk;
  int rc;

  if (out == NULL)
    return KEYS_ERR_INVALID;
  *out = NULL;
  if (sodium_init() < 0)
    return KEYS_ERR_CRYPTO;
  sk = sodium_malloc(KEYS_SECRET_BYTES);
  if (sk == NULL)
    return KEYS_ERR_NOMEM;
  randombytes_buf(sk, KEYS_SECRET_BYTES);
  rc = keys_keypair_from_secret(out, sk, created, KEYS_STATE_ACTIVE);
  sodium_free(sk); /* wipes */
  return rc;
}

void keys_keypair_free(keys_keypair *kp)
{
  if (kp == NULL)
    return;
  sodium_free(kp); /* wipes the whole block before releasing it */
}

const keys_public *keys_keypair_public(const keys_keypair *kp)
{
  return kp == NULL ? NULL : &kp->pub;
}

int64_t keys_keypair_created(const keys_keypair *kp)
{
  return kp == NULL ? 0 : kp->created;
}

keys_state keys_keypair_state(const keys_keypair *kp)
{
  return kp == NULL ? KEYS_STATE_COMPROMISED : kp->state;
}

void keys_keypair_set_state(keys_keypair *kp, keys_state state)
{
  if (kp != NULL && (state == KEYS_STATE_ACTIVE || state == KEYS_STATE_COMPROMISED))
    kp->state = state;
}
