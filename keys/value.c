/* Sealed values v1 (docs/spec.md): seal, unseal, re-seal, and the key ids of a value. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

#define VERSION 1
#define KEY_BYTES 32
#define WRAPPED_BYTES (KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES) /* 48 */
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES              /* 24 */
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES                   /* 16 */
#define COMMIT_BYTES 32
#define HEADER_BYTES(n) (2 + KEYS_STANZA_BYTES * (n) + NONCE_BYTES + COMMIT_BYTES)
#define HEADER_MAX HEADER_BYTES(KEYS_MAX_RECIPIENTS)
/* Offsets inside a stanza: kid, epk, wrapped. */
#define ST_KID 0
#define ST_EPK KEYS_ID_BYTES
#define ST_WRAPPED (KEYS_ID_BYTES + KEYS_PUBLIC_BYTES)

static const char wrap_context[] = "seal.v1.wrap";
static const char commit_context[] = "seal.v1.commit";
static const char body_context[] = "seal.v1.body";

/* Every secret of one call, in one sodium_malloc'ed block. */
struct scratch {
  uint8_t dek[KEY_BYTES];
  uint8_t esk[KEY_BYTES];
  uint8_t ss[KEY_BYTES];
  uint8_t wk[KEY_BYTES];
  int in_use; /* the thread's block, taken by a call */
};

/* A decoded value that passed the checks of step 1. */
struct parsed {
  uint8_t *blob;
  size_t len;
  size_t n;
  size_t header_len;
};

/*
 * sodium_malloc maps guard pages on every call, which cost as much as the
 * X25519 of a small value. Each thread keeps one block and reuses it; it is
 * wiped after every call and freed when the thread ends. A call that finds
 * the block busy (it never nests today) takes a fresh one.
 */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_destroy(void *p)
{
  sodium_memzero(p, sizeof(struct scratch));
  sodium_free(p);
}

static void scratch_key_init(void)
{
  scratch_key_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0;
}

static int scratch_new(struct scratch **s, keys_error *err)
{
  struct scratch *cached = NULL;

  (void)pthread_once(&scratch_once, scratch_key_init);
  if (scratch_key_ok)
    cached = pthread_getspecific(scratch_key);
  if (cached != NULL && !cached->in_use) {
    cached->in_use = 1; /* until scratch_free */
    *s = cached;
    return KEYS_OK;
  }
  *s = sodium_malloc(sizeof(**s));
  if (*s == NULL)
    return keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory for key material");
  sodium_memzero(*s, sizeof(**s));
  if (cached == NULL && scratch_key_ok && pthread_setspecific(scratch_key, *s) == 0)
    (*s)->in_use = 1;
  return KEYS_OK;
}

static void scratch_free(struct scratch *s)
{
  if (s == NULL)
    return;
  if (scratch_key_ok && pthread_getspecific(scratch_key) == s) {
    sodium_memzero(s, sizeof(*s)); /* clears the in-use mark too */
    return;
  }
  sodium_memzero(s, sizeof(*s));
  sodium_free(s);
}

static void parsed_free(struct parsed *p)
{
  free(p->blob);
  memset(p, 0, sizeof(*p));
}

static const uint8_t *stanza(const uint8_t *blob, size_t i)
{
  return blob + 2 + KEYS_STANZA_BYTES * i;
}

/* wk = BLAKE2b-256(ss, "seal.v1.wrap" || epk || pk) */
static void derive_wk(uint8_t wk[KEY_BYTES], const uint8_t ss[KEY_BYTES],
                      const uint8_t epk[KEYS_PUBLIC_BYTES], const uint8_t pk[KEYS_PUBLIC_BYTES])
{
  uint8_t msg[sizeof(wrap_context) - 1 + 2 * KEYS_PUBLIC_BYTES];

  memcpy(msg, wrap_context, sizeof(wrap_context) - 1);
  memcpy(msg + sizeof(wrap_context) - 1, epk, KEYS_PUBLIC_BYTES);
  memcpy(msg + sizeof(wrap_context) - 1 + KEYS_PUBLIC_BYTES, pk, KEYS_PUBLIC_BYTES);
  crypto_generichash(wk, KEY_BYTES, msg, sizeof(msg), ss, KEY_BYTES);
}

static void derive_commit(uint8_t commit[COMMIT_BYTES], const uint8_t dek[KEY_BYTES])
{
  crypto_generichash(commit, COMMIT_BYTES, (const uint8_t *)commit_context,
                     sizeof(commit_context) - 1, dek, KEY_BYTES);
}

/* ad = "seal.v1.body" || 0x00 || label || 0x00 || header; ad holds AD_MAX bytes. */
#define AD_MAX (sizeof(body_context) + KEYS_LABEL_MAX + 1 + HEADER_MAX)
static size_t body_ad(uint8_t *ad, const char *label, size_t label_len, const uint8_t *header,
                      size_t header_len)
{
  size_t o = 0;

  memcpy(ad, body_context, sizeof(body_context) - 1);
  o += sizeof(body_context) - 1;
  ad[o++] = 0;
  memcpy(ad + o, label, label_len);
  o += label_len;
  ad[o++] = 0;
  memcpy(ad + o, header, header_len);
  return o + header_len;
}

static int check_label(const char *label, size_t *label_len, keys_error *err)
{
  if (label == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no scope label given");
  *label_len = strnlen(label, KEYS_LABEL_MAX);
  if (*label_len >= KEYS_LABEL_MAX)
    return keys_i_fail(err, KEYS_ERR_INVALID, "the scope label is longer than %d bytes",
                       KEYS_LABEL_MAX - 1);
  return KEYS_OK;
}

/* The base64 text of the largest value with the most recipients. */
#define SEALED_TEXT_MAX \
  ((KEYS_OVERHEAD_BYTES(KEYS_MAX_RECIPIENTS) + KEYS_MAX_VALUE_BYTES + 2) / 3 * 4)

/* docs/spec.md, unsealing step 1: everything refused before any key is used. */
static int parse_value(struct parsed *p, const char *sealed, size_t sealed_len, keys_error *err)
{
  int rc;

  memset(p, 0, sizeof(*p));
  if (sealed == NULL && sealed_len > 0)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no sealed value given");
  if (sealed_len == 0)
    return keys_i_fail(err, KEYS_ERR_MALFORMED, "the sealed value is empty");
  if (sealed_len > SEALED_TEXT_MAX)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "the sealed value is %zu characters, more than the %zu a v1 value can "
                       "have",
                       sealed_len, (size_t)SEALED_TEXT_MAX);
  rc = keys_base64_decode_public(&p->blob, &p->len, sealed, sealed_len); /* public text */
  if (rc == KEYS_ERR_NOMEM)
    return keys_i_fail(err, rc, "out of memory decoding the sealed value");
  if (rc != KEYS_OK)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "the sealed value is not canonical base64 (padding required, no "
                       "whitespace or line breaks, unused bits zero)");
  rc = KEYS_ERR_MALFORMED;
  if (p->len < 2) {
    keys_i_fail(err, rc, "the sealed value is %zu bytes, too short for a v1 value", p->len);
    goto out;
  }
  if (p->blob[0] != VERSION) {
    keys_i_fail(err, rc, "the sealed value has version %u, this program reads version %d",
                p->blob[0], VERSION);
    goto out;
  }
  p->n = p->blob[1];
  if (p->n < 1 || p->n > KEYS_MAX_RECIPIENTS) {
    keys_i_fail(err, rc, "the sealed value names %zu recipients, want 1 to %d", p->n,
                KEYS_MAX_RECIPIENTS);
    goto out;
  }
  p->header_len = HEADER_BYTES(p->n);
  if (p->len < p->header_len + TAG_BYTES) {
    keys_i_fail(err, rc,
                "the sealed value is %zu bytes, shorter than the %zu of %zu recipients "
                "(truncated?)",
                p->len, (size_t)(p->header_len + TAG_BYTES), p->n);
    goto out;
  }
  if (p->len - p->header_len - TAG_BYTES > KEYS_MAX_VALUE_BYTES) {
    keys_i_fail(err, rc, "the sealed value holds more than %d bytes", KEYS_MAX_VALUE_BYTES);
    goto out;
  }
  for (size_t i = 0; i < p->n; i++) {
    for (size_t j = i + 1; j < p->n; j++) {
      if (memcmp(stanza(p->blob, i) + ST_KID, stanza(p->blob, j) + ST_KID, KEYS_ID_BYTES) == 0) {
        char hex[KEYS_ID_HEX_BYTES];

        keys_id_hex(hex, stanza(p->blob, i) + ST_KID);
        keys_i_fail(err, rc, "the sealed value has two stanzas for key id %s", hex);
        goto out;
      }
    }
  }
  rc = KEYS_OK;
out:
  if (rc != KEYS_OK)
    parsed_free(p);
  return rc;
}

static void fill_ids(keys_error *err, const struct parsed *p)
{
  if (err == NULL)
    return;
  err->n_ids = p->n;
  for (size_t i = 0; i < p->n; i++)
    memcpy(err->ids[i], stanza(p->blob, i) + ST_KID, KEYS_ID_BYTES);
}

/*
 * Steps 2 to 4: finds our stanza by lookup and opens it into s->dek; checks
 * the commitment. *used is the index of the stanza.
 */
static int open_dek(struct scratch *s, size_t *used, const keys_keyring *ring,
                    const struct parsed *p, keys_error *err)
{
  static const uint8_t zero_nonce[NONCE_BYTES];
  const keys_keypair *kp = NULL;
  const uint8_t *st = NULL;
  uint8_t commit[COMMIT_BYTES];
  char hex[KEYS_ID_HEX_BYTES];
  size_t i;

  for (i = 0; i < p->n; i++) {
    st = stanza(p->blob, i);
    kp = keys_keyring_find(ring, st + ST_KID);
    if (kp != NULL)
      break;
  }
  if (kp == NULL) {
    char ids[KEYS_MAX_RECIPIENTS * (KEYS_ID_HEX_BYTES + 2)];
    uint8_t list[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];

    for (size_t j = 0; j < p->n; j++)
      memcpy(list[j], stanza(p->blob, j) + ST_KID, KEYS_ID_BYTES);
    keys_i_ids_text(ids, sizeof(ids), (const uint8_t(*)[KEYS_ID_BYTES])list, p->n);
    keys_i_fail(err, KEYS_ERR_NO_KEY, "no key for this value: sealed for key ids %s", ids);
    fill_ids(err, p);
    return KEYS_ERR_NO_KEY;
  }
  *used = i;
  keys_id_hex(hex, st + ST_KID);
  if (crypto_scalarmult(s->ss, kp->sk, st + ST_EPK) != 0)
    return keys_i_fail(err, KEYS_ERR_ALTERED,
                       "the stanza for key id %s has an ephemeral key of small order: the value "
                       "was altered",
                       hex);
  derive_wk(s->wk, s->ss, st + ST_EPK, kp->pub.pk);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(s->dek, NULL, NULL, st + ST_WRAPPED, WRAPPED_BYTES,
                                                 st + ST_KID, KEYS_ID_BYTES, zero_nonce,
                                                 s->wk) != 0)
    return keys_i_fail(err, KEYS_ERR_ALTERED,
                       "the stanza for key id %s does not open: the value was altered", hex);
  derive_commit(commit, s->dek);
  if (sodium_memcmp(commit, p->blob + p->header_len - COMMIT_BYTES, COMMIT_BYTES) != 0)
    return keys_i_fail(err, KEYS_ERR_ALTERED,
                       "the key commitment does not match the key of stanza %s: the value was "
                       "altered",
                       hex);
  return KEYS_OK;
}

/* Step 5: opens the body into *out (malloc'ed, at least one byte). */
static int open_body(uint8_t **out, size_t *out_len, const struct parsed *p, const uint8_t *dek,
                     const char *label, size_t label_len, keys_error *err)
{
  uint8_t ad[AD_MAX];
  size_t ad_len, c_len = p->len - p->header_len, m_len = c_len - TAG_BYTES;
  uint8_t *m;

  ad_len = body_ad(ad, label, label_len, p->blob, p->header_len);
  m = malloc(m_len ? m_len : 1);
  if (m == NULL)
    return keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory for a value of %zu bytes", m_len);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          m, NULL, NULL, p->blob + p->header_len, c_len, ad, ad_len,
          p->blob + p->header_len - COMMIT_BYTES - NONCE_BYTES, dek) != 0) {
    doc_wipe_free(m, m_len);
    return keys_i_fail(err, KEYS_ERR_LABEL,
                       "the value does not open under label \"%s\": it was sealed for another "
                       "scope, namespace, name or key, or altered",
                       label);
  }
  *out = m;
  *out_len = m_len;
  return KEYS_OK;
}

/*
 * Writes a value: header = 1 || n || kept stanzas || one new stanza per
 * recipient || fresh nonce || commit(dek); body encrypted under label.
 * s->dek is the data key; the other fields of s are used and wiped.
 */
static int build_value(char **out, struct scratch *s, const uint8_t *kept, size_t n_kept,
                       const keys_public *recipients, size_t n_new, const char *label,
                       size_t label_len, const uint8_t *m, size_t m_len, keys_error *err)
{
  static const uint8_t zero_nonce[NONCE_BYTES];
  uint8_t ad[AD_MAX];
  uint8_t *blob = NULL;
  size_t n = n_kept + n_new, header_len, blob_len, ad_len, o;
  uint8_t(*ids)[KEYS_ID_BYTES] = NULL;
  int rc;

  if (n < 1 || n > KEYS_MAX_RECIPIENTS)
    return keys_i_fail(err, KEYS_ERR_INVALID, "%zu recipients: want 1 to %d", n,
                       KEYS_MAX_RECIPIENTS);
  header_len = HEADER_BYTES(n);
  blob_len = header_len + m_len + TAG_BYTES;
  ids = calloc(n, sizeof(*ids));
  blob = malloc(blob_len);
  if (ids == NULL || blob == NULL) {
    rc = keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory for a sealed value of %zu bytes",
                     blob_len);
    goto out;
  }
  /* Key ids come from the public keys, never from what a caller says. */
  for (size_t i = 0; i < n_kept; i++)
    memcpy(ids[i], kept + KEYS_STANZA_BYTES * i + ST_KID, KEYS_ID_BYTES);
  for (size_t i = 0; i < n_new; i++)
    keys_id_of(ids[n_kept + i], recipients[i].pk);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      if (memcmp(ids[i], ids[j], KEYS_ID_BYTES) == 0) {
        char hex[KEYS_ID_HEX_BYTES];

        keys_id_hex(hex, ids[i]);
        rc = keys_i_fail(err, KEYS_ERR_INVALID, "key id %s is given twice as a recipient", hex);
        goto out;
      }
    }
  }
  blob[0] = VERSION;
  blob[1] = (uint8_t)n;
  o = 2;
  if (n_kept > 0)
    memcpy(blob + o, kept, KEYS_STANZA_BYTES * n_kept);
  o += KEYS_STANZA_BYTES * n_kept;
  for (size_t i = 0; i < n_new; i++) {
    const uint8_t *pk = recipients[i].pk;
    uint8_t *st = blob + o;

    memcpy(st + ST_KID, ids[n_kept + i], KEYS_ID_BYTES);
    randombytes_buf(s->esk, KEY_BYTES);
    if (crypto_scalarmult_base(st + ST_EPK, s->esk) != 0 ||
        crypto_scalarmult(s->ss, s->esk, pk) != 0) {
      char hex[KEYS_ID_HEX_BYTES];

      keys_id_hex(hex, ids[n_kept + i]);
      rc = keys_i_fail(err, KEYS_ERR_WEAK_KEY,
                       "public key %s is a point of small order: nothing can be sealed for it",
                       hex);
      goto out;
    }
    derive_wk(s->wk, s->ss, st + ST_EPK, pk);
    crypto_aead_xchacha20poly1305_ietf_encrypt(st + ST_WRAPPED, NULL, s->dek, KEY_BYTES,
                                               st + ST_KID, KEYS_ID_BYTES, NULL, zero_nonce, s->wk);
    o += KEYS_STANZA_BYTES;
  }
  randombytes_buf(blob + o, NONCE_BYTES);
  o += NONCE_BYTES;
  derive_commit(blob + o, s->dek);
  ad_len = body_ad(ad, label, label_len, blob, header_len);
  crypto_aead_xchacha20poly1305_ietf_encrypt(blob + header_len, NULL, m_len ? m : blob, m_len, ad,
                                             ad_len, NULL,
                                             blob + header_len - COMMIT_BYTES - NONCE_BYTES,
                                             s->dek);
  rc = keys_base64_encode_public(out, NULL, blob, blob_len); /* public text */
  if (rc != KEYS_OK)
    keys_i_fail(err, rc, "out of memory encoding a sealed value of %zu bytes", blob_len);
out:
  sodium_memzero(s->esk, sizeof(s->esk));
  sodium_memzero(s->ss, sizeof(s->ss));
  sodium_memzero(s->wk, sizeof(s->wk));
  free(blob);
  free(ids);
  return rc;
}

int keys_seal(char **out, const keys_public *recipients, size_t n, const char *label,
              const uint8_t *m, size_t m_len, keys_error *err)
{
  struct scratch *s = NULL;
  size_t label_len = 0;
  int rc;

  if (out == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no place for the sealed value");
  *out = NULL;
  if (recipients == NULL || n < 1 || n > KEYS_MAX_RECIPIENTS)
    return keys_i_fail(err, KEYS_ERR_INVALID, "%zu recipients: want 1 to %d", n,
                       KEYS_MAX_RECIPIENTS);
  if (m == NULL && m_len > 0)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no value given");
  if (m_len > KEYS_MAX_VALUE_BYTES)
    return keys_i_fail(err, KEYS_ERR_INVALID, "the value is %zu bytes, more than %d", m_len,
                       KEYS_MAX_VALUE_BYTES);
  if ((rc = check_label(label, &label_len, err)) != KEYS_OK)
    return rc;
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  if ((rc = scratch_new(&s, err)) != KEYS_OK)
    return rc;
  randombytes_buf(s->dek, KEY_BYTES);
  rc = build_value(out, s, NULL, 0, recipients, n, label, label_len, m, m_len, err);
  scratch_free(s);
  return rc;
}

/* A value opened by steps 1 to 5: its blob, the data key and the plaintext. */
struct opened {
  struct parsed p;
  struct scratch *s;
  uint8_t *m;
  size_t m_len;
  size_t used;
};

static void opened_free(struct opened *o)
{
  doc_wipe_free(o->m, o->m_len);
  scratch_free(o->s);
  parsed_free(&o->p);
  memset(o, 0, sizeof(*o));
}

static int open_value(struct opened *o, const keys_keyring *ring, const char *label,
                      size_t *label_len, const char *sealed, size_t sealed_len, keys_error *err)
{
  int rc;

  memset(o, 0, sizeof(*o));
  if ((rc = check_label(label, label_len, err)) != KEYS_OK)
    return rc;
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  if ((rc = parse_value(&o->p, sealed, sealed_len, err)) != KEYS_OK)
    return rc;
  if ((rc = scratch_new(&o->s, err)) == KEYS_OK &&
      (rc = open_dek(o->s, &o->used, ring, &o->p, err)) == KEYS_OK)
    rc = open_body(&o->m, &o->m_len, &o->p, o->s->dek, label, *label_len, err);
  /* every failure past step 1 names the key ids the value was sealed for */
  if (rc != KEYS_OK) {
    fill_ids(err, &o->p);
    opened_free(o);
  }
  return rc;
}

int keys_unseal(uint8_t **out, size_t *out_len, const keys_keyring *ring, const char *label,
                const char *sealed, size_t sealed_len, uint8_t used_id[KEYS_ID_BYTES],
                keys_error *err)
{
  struct opened o;
  size_t label_len;
  int rc;

  if (out == NULL || out_len == NULL || ring == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no keyring or no place for the value");
  *out = NULL;
  *out_len = 0;
  if ((rc = open_value(&o, ring, label, &label_len, sealed, sealed_len, err)) != KEYS_OK)
    return rc;
  if (used_id != NULL)
    memcpy(used_id, stanza(o.p.blob, o.used) + ST_KID, KEYS_ID_BYTES);
  *out = o.m;
  *out_len = o.m_len;
  o.m = NULL;
  o.m_len = 0;
  opened_free(&o);
  return KEYS_OK;
}

int keys_reseal(char **out, const keys_keyring *ring, const keys_public *new_pk, const char *label,
                const char *sealed, size_t sealed_len, keys_error *err)
{
  struct opened o;
  uint8_t kept[KEYS_STANZA_BYTES * KEYS_MAX_RECIPIENTS];
  size_t n_kept = 0, label_len;
  int rc;

  if (out == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no place for the sealed value");
  *out = NULL;
  if (ring == NULL || new_pk == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no keyring or no new public key given");
  if ((rc = open_value(&o, ring, label, &label_len, sealed, sealed_len, err)) != KEYS_OK)
    return rc;
  /* drop the stanzas of this keyring; keep every other one byte for byte */
  for (size_t i = 0; i < o.p.n; i++) {
    const uint8_t *st = stanza(o.p.blob, i);

    if (keys_keyring_find(ring, st + ST_KID) != NULL)
      continue;
    memcpy(kept + KEYS_STANZA_BYTES * n_kept, st, KEYS_STANZA_BYTES);
    n_kept++;
  }
  rc = build_value(out, o.s, kept, n_kept, new_pk, 1, label, label_len, o.m, o.m_len, err);
  opened_free(&o);
  return rc;
}

int keys_sealed_ids(uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES], size_t *n, const char *sealed,
                    size_t sealed_len, keys_error *err)
{
  struct parsed p = {0};
  int rc;

  if (ids == NULL || n == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no place for the key ids");
  *n = 0;
  if ((rc = parse_value(&p, sealed, sealed_len, err)) != KEYS_OK)
    return rc;
  for (size_t i = 0; i < p.n; i++)
    memcpy(ids[i], stanza(p.blob, i) + ST_KID, KEYS_ID_BYTES);
  *n = p.n;
  parsed_free(&p);
  return KEYS_OK;
}
