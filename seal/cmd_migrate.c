/*
 * seal migrate: Bitnami sealed-secrets objects to seal SealedSecrets, offline,
 * with a backup of Bitnami's private keys.
 *
 * A Bitnami value is base64 of: a big-endian uint16 n, n bytes of
 * RSA-OAEP(SHA-256, label)(32-byte session key), then AES-256-GCM with that
 * key, a nonce of 12 zero bytes and no additional data. The label is
 * "namespace/name" (strict), "namespace" (namespace-wide) or empty
 * (cluster-wide). RSA and AES-GCM come from OpenSSL's libcrypto, loaded by
 * this command only (crypto_loader.c); plaintext is
 * held only in sodium_malloc'ed memory (wiped on release) or in jansson
 * strings (manifest_init's allocator wipes them).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "bitnami.h"
#include "cmds.h"
#include "common.h"
#include "crypto_loader.h"

#include "banned.h"

static const char usage_text[] =
    "usage: seal migrate --bitnami-keys FILE... [--cert FILE|URL...] -f IN [-w OUT | --in-place]\n"
    "\n"
    "Turns Bitnami sealed-secrets SealedSecrets (bitnami.com/v1alpha1) into seal\n"
    "SealedSecrets for the given public keys, offline, with a backup of Bitnami's\n"
    "key Secrets (kubectl get secret -n kube-system -l\n"
    "sealedsecrets.bitnami.com/sealed-secrets-key -o yaml). Name, namespace, scope,\n"
    "template metadata, type and every value are kept; {{ .key }} and\n"
    "{{ index . \"key\" }} template references become seal placeholders. Other\n"
    "documents pass through byte for byte. IN is a file, a multi-document stream\n"
    "(- for stdin) or a folder; a folder needs -w OUT (a folder receiving the\n"
    "migrated files) or --in-place. Nothing is written unless every object migrates.\n"
    "\n"
    "      --bitnami-keys FILE    Bitnami key Secrets (a List or documents); repeatable\n"
    "      --allow-compromised    also use keys labelled compromised (with a warning)\n"
    "  -f, --file IN              read IN (default stdin)\n"
    "  -w, --write OUT            write OUT atomically instead of stdout\n"
    "      --in-place             write each migrated file of IN back\n" SEAL_CERT_HELP
        SEAL_HELP_HELP;

enum { OPT_BITNAMI_KEYS = SEAL_OPT_FIRST_FREE, OPT_ALLOW_COMPROMISED, OPT_IN_PLACE };

#define MAX_KEY_FILES 64
#define MAX_BITNAMI_KEYS 1024
#define MAX_TREE_DEPTH 32
#define MAX_TREE_FILES 100000
#define BITNAMI_API "bitnami.com/v1alpha1"
#define BITNAMI_KEY_LABEL "sealedsecrets.bitnami.com/sealed-secrets-key"
#define BITNAMI_ANN_PREFIX "sealedsecrets.bitnami.com/"
#define BITNAMI_ANN_NS_WIDE "sealedsecrets.bitnami.com/namespace-wide"
#define BITNAMI_ANN_CLUSTER_WIDE "sealedsecrets.bitnami.com/cluster-wide"
#define BITNAMI_ANN_SKIP_OWNER "sealedsecrets.bitnami.com/skip-set-owner-references"
#define ANN_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define SESSION_KEY_BYTES 32
#define GCM_NONCE_BYTES 12
/* the largest ciphertext: a 16-bit RSA part, the largest value and the tag */
#define MAX_CIPHERTEXT_BYTES (2u + 65535u + KEYS_MAX_VALUE_BYTES + BITNAMI_TAG_BYTES)

static const struct option longopts[] = {
    SEAL_CERT_LONGOPTS,
    {"bitnami-keys", required_argument, NULL, OPT_BITNAMI_KEYS},
    {"allow-compromised", no_argument, NULL, OPT_ALLOW_COMPROMISED},
    {"file", required_argument, NULL, 'f'},
    {"write", required_argument, NULL, 'w'},
    {"in-place", no_argument, NULL, OPT_IN_PLACE},
    SEAL_LONGOPTS_END,
};

/* libcrypto's functions, loaded by cmd_migrate before anything else */
static const seal_crypto_api *ossl;

typedef struct bitnami_key {
  EVP_PKEY *pkey;
  char name[2 * KEYS_NAME_MAX + 2]; /* namespace/name of the key Secret */
  int compromised;
} bitnami_key;

typedef struct migrate_ctx {
  bitnami_key keys[MAX_BITNAMI_KEYS];
  size_t n_keys;
  keys_public recipients[KEYS_MAX_RECIPIENTS];
  size_t n_recipients;
  size_t n_objects; /* SealedSecrets migrated */
} migrate_ctx;

/* One file's new text, written once every input has migrated. */
typedef struct pending {
  char *path;
  char *text;
  size_t len;
  unsigned mode;
} pending;

typedef struct pending_list {
  pending *v;
  size_t n, cap;
} pending_list;

/* ---- Bitnami's key Secrets ------------------------------------------------ */

/* Reads the PEM private key of a key Secret's tls.key (base64) through
 * sodium_malloc'ed memory; *out is an RSA key. */
static int read_rsa_key(EVP_PKEY **out, const char *b64, size_t b64_len, const char *source,
                        const char *what)
{
  size_t cap = b64_len / 4 * 3 + 3, pem_len = 0;
  unsigned char *pem = sodium_malloc(cap);
  BIO *bio = NULL;
  EVP_PKEY *pkey = NULL;
  int st = SEAL_OK;

  *out = NULL;
  if (pem == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  if (sodium_base642bin(pem, cap, b64, b64_len, "\r\n", &pem_len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: data tls.key is not base64", source, what);
    goto out;
  }
  bio = ossl->BIO_new_mem_buf(pem, (int)pem_len);
  if (bio == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  pkey = ossl->PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  if (pkey == NULL) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: tls.key is not a PEM private key", source, what);
    goto out;
  }
  if (ossl->EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: tls.key is not an RSA key, not a Bitnami key", source,
                     what);
    goto out;
  }
  *out = pkey;
  pkey = NULL;
out:
  ossl->ERR_clear_error();
  ossl->EVP_PKEY_free(pkey);
  ossl->BIO_free(bio);
  sodium_free(pem);
  return st;
}

/* One document of a key backup: a kubernetes.io/tls Secret labelled as
 * Bitnami's key. */
static int add_key(migrate_ctx *mx, const json_t *doc, const char *source, size_t index,
                   int allow_compromised)
{
  const char *state = doc_get_string(doc, "metadata", "labels", BITNAMI_KEY_LABEL, NULL);
  const char *name = doc_get_string(doc, "metadata", "name", NULL);
  const char *ns = doc_get_string(doc, "metadata", "namespace", NULL);
  json_t *tls_key = doc_get(doc, "data", NULL);
  bitnami_key *k;
  char what[512];
  int st;

  seal_describe(what, sizeof what, doc, index);
  tls_key = json_object_get(tls_key, "tls.key");
  if (strcmp(state, "active") != 0 && strcmp(state, "compromised") != 0)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: label %s is \"%.64s\", not active or compromised",
                       source, what, BITNAMI_KEY_LABEL, state);
  if (!json_is_string(tls_key))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: no data tls.key", source, what);
  if (mx->n_keys >= MAX_BITNAMI_KEYS)
    return seal_report(SEAL_ERR_INPUT, "%s: more than %d Bitnami keys", source, MAX_BITNAMI_KEYS);
  k = &mx->keys[mx->n_keys];
  memset(k, 0, sizeof *k);
  snprintf(k->name, sizeof k->name, "%s%s%s", ns ? ns : "", ns ? "/" : "", name ? name : "?");
  k->compromised = strcmp(state, "compromised") == 0;
  if (k->compromised && !allow_compromised)
    return seal_report(SEAL_ERR_INPUT,
                       "%s: Bitnami key %s is labelled compromised: re-seal its values from "
                       "plain text, or give --allow-compromised to migrate them anyway",
                       source, k->name);
  st = read_rsa_key(&k->pkey, json_string_value(tls_key), json_string_length(tls_key), source,
                    what);
  if (st != SEAL_OK)
    return st;
  if (k->compromised)
    fprintf(stderr,
            "seal: warning: using Bitnami key %s, labelled compromised: values it "
            "opens are known to whoever holds it; rotate them\n",
            k->name);
  mx->n_keys++;
  return SEAL_OK;
}

static int is_bitnami_key(const json_t *doc)
{
  const char *type = doc_get_string(doc, "type", NULL);
  return manifest_is_secret(doc) && type != NULL && strcmp(type, "kubernetes.io/tls") == 0 &&
         doc_get_string(doc, "metadata", "labels", BITNAMI_KEY_LABEL, NULL) != NULL;
}

static int load_keys(migrate_ctx *mx, const char *path, int allow_compromised)
{
  doc_list docs = {0};
  size_t i;
  int st;

  st = seal_docs_read(&docs, NULL, path, is_bitnami_key,
                      "Bitnami key (a kubernetes.io/tls Secret labelled " BITNAMI_KEY_LABEL ")");
  for (i = 0; i < docs.n && st == SEAL_OK; i++)
    st = add_key(mx, docs.docs[i], seal_input_name(path), i, allow_compromised);
  doc_list_free(&docs);
  return st;
}

/* ---- one value ------------------------------------------------------------ */

typedef enum open_result {
  OPEN_OK = 0,
  OPEN_TRUNCATED,
  OPEN_NO_KEY,
  OPEN_ALTERED,
  OPEN_NOMEM,
} open_result;

/* The session key of the RSA part with one key, into key (SESSION_KEY_BYTES). */
static int rsa_open(EVP_PKEY *pkey, const uint8_t *ct, size_t ct_len, const char *label,
                    uint8_t key[SESSION_KEY_BYTES])
{
  EVP_PKEY_CTX *ctx = ossl->EVP_PKEY_CTX_new(pkey, NULL);
  size_t label_len = strlen(label), out_len = (size_t)ossl->EVP_PKEY_get_size(pkey);
  unsigned char *lab = NULL, *out = sodium_malloc(out_len ? out_len : 1);
  int ok = 0;

  if (ctx == NULL || out == NULL || ossl->EVP_PKEY_decrypt_init(ctx) <= 0 ||
      ossl->EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      ossl->EVP_PKEY_CTX_set_rsa_oaep_md(ctx, ossl->EVP_sha256()) <= 0 ||
      ossl->EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, ossl->EVP_sha256()) <= 0)
    goto out;
  if (label_len > 0) {
    lab = ossl->CRYPTO_memdup(label, label_len, OPENSSL_FILE, OPENSSL_LINE);
    if (lab == NULL || ossl->EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lab, (int)label_len) <= 0)
      goto out;
    lab = NULL; /* the context owns it */
  }
  if (ossl->EVP_PKEY_decrypt(ctx, out, &out_len, ct, ct_len) > 0 && out_len == SESSION_KEY_BYTES) {
    memcpy(key, out, SESSION_KEY_BYTES);
    ok = 1;
  }
out:
  ossl->ERR_clear_error();
  ossl->CRYPTO_free(lab, OPENSSL_FILE, OPENSSL_LINE);
  ossl->EVP_PKEY_CTX_free(ctx);
  sodium_free(out);
  return ok;
}

/* AES-256-GCM with a zero nonce; 1 when the tag matches. */
static int gcm_open(uint8_t *pt, const uint8_t key[SESSION_KEY_BYTES], const uint8_t *ct,
                    size_t ct_len)
{
  static const uint8_t nonce[GCM_NONCE_BYTES] = {0};
  EVP_CIPHER_CTX *ctx = ossl->EVP_CIPHER_CTX_new();
  size_t n = ct_len - BITNAMI_TAG_BYTES;
  int len = 0, ok = 0;

  if (ctx == NULL ||
      ossl->EVP_DecryptInit_ex(ctx, ossl->EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
      ossl->EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_BYTES, NULL) != 1 ||
      ossl->EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
      (n > 0 && ossl->EVP_DecryptUpdate(ctx, pt, &len, ct, (int)n) != 1) ||
      ossl->EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BITNAMI_TAG_BYTES, (void *)(ct + n)) !=
          1)
    goto out;
  ok = ossl->EVP_DecryptFinal_ex(ctx, pt + len, &len) == 1;
out:
  ossl->ERR_clear_error();
  ossl->EVP_CIPHER_CTX_free(ctx);
  if (!ok)
    sodium_memzero(pt, n);
  return ok;
}

/* Opens a decoded Bitnami value under label with every key. *pt (sodium_malloc,
 * release with sodium_free) holds *pt_len bytes on OPEN_OK. */
static open_result open_value(const migrate_ctx *mx, const uint8_t *ct, size_t ct_len,
                              const char *label, uint8_t **pt, size_t *pt_len,
                              const bitnami_key **used)
{
  uint8_t *key = NULL, *out = NULL;
  bitnami_value v;
  size_t n, i;
  open_result r = OPEN_NO_KEY;

  *pt = NULL;
  *pt_len = 0;
  if (bitnami_value_split(&v, ct, ct_len) != BITNAMI_OK)
    return OPEN_TRUNCATED;
  n = v.body_len - BITNAMI_TAG_BYTES;
  key = sodium_malloc(SESSION_KEY_BYTES);
  out = sodium_malloc(n + 1);
  if (key == NULL || out == NULL) {
    r = OPEN_NOMEM;
    goto out;
  }
  for (i = 0; i < mx->n_keys; i++) {
    if (!rsa_open(mx->keys[i].pkey, v.rsa, v.rsa_len, label, key))
      continue;
    if (gcm_open(out, key, v.body, v.body_len)) {
      *pt = out;
      *pt_len = n;
      *used = &mx->keys[i];
      out = NULL;
      r = OPEN_OK;
      break;
    }
    r = OPEN_ALTERED;
  }
out:
  sodium_free(key);
  sodium_free(out);
  return r;
}

/* The Bitnami label of a scope. */
static void bitnami_label(char *out, size_t size, keys_scope scope, const char *ns,
                          const char *name)
{
  if (scope == KEYS_SCOPE_CLUSTER)
    snprintf(out, size, "%s", "");
  else if (scope == KEYS_SCOPE_NAMESPACE)
    snprintf(out, size, "%s", ns);
  else
    snprintf(out, size, "%s/%s", ns, name);
}

/* Decodes and opens one value; reports a failure naming source, what and key. */
static int open_reported(const migrate_ctx *mx, json_t *value, keys_scope scope, const char *ns,
                         const char *name, const char *source, const char *what, const char *key,
                         uint8_t **pt, size_t *pt_len)
{
  static const keys_scope scopes[] = {KEYS_SCOPE_STRICT, KEYS_SCOPE_NAMESPACE, KEYS_SCOPE_CLUSTER};
  const char *b64 = json_string_value(value);
  size_t b64_len = json_string_length(value), ct_len = 0, cap, i;
  uint8_t *ct = NULL;
  char label[2 * KEYS_NAME_MAX + 2];
  const bitnami_key *used = NULL;
  open_result r;
  int st = SEAL_OK;

  if (b64 == NULL)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%s\": value is not a string", source, what,
                       key);
  if (b64_len > MAX_CIPHERTEXT_BYTES / 3 * 4 + 4)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%s\": value larger than %u bytes", source,
                       what, key, MAX_CIPHERTEXT_BYTES);
  cap = b64_len / 4 * 3 + 3;
  ct = malloc(cap);
  if (ct == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  if (sodium_base642bin(ct, cap, b64, b64_len, "\r\n", &ct_len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%s\": value is not base64", source, what, key);
    goto out;
  }
  bitnami_label(label, sizeof label, scope, ns, name);
  r = open_value(mx, ct, ct_len, label, pt, pt_len, &used);
  if (r == OPEN_OK) {
    if (used->compromised)
      fprintf(stderr,
              "seal: warning: %s: %s: key \"%s\" was opened with compromised Bitnami "
              "key %s\n",
              source, what, key, used->name);
    goto out;
  }
  if (r == OPEN_NOMEM) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
  } else if (r == OPEN_TRUNCATED) {
    st = seal_report(SEAL_ERR_INPUT,
                     "%s: %s: key \"%s\": value is truncated (%zu bytes), not "
                     "a Bitnami sealed value",
                     source, what, key, ct_len);
  } else if (r == OPEN_ALTERED) {
    st = seal_report(SEAL_ERR_INPUT,
                     "%s: %s: key \"%s\": value was altered (its AES-GCM tag "
                     "does not match)",
                     source, what, key);
  } else {
    /* another scope's label opens it: the object's name, namespace or scope changed */
    for (i = 0; i < sizeof scopes / sizeof scopes[0] && ns != NULL; i++) {
      char other[2 * KEYS_NAME_MAX + 2];
      uint8_t *p = NULL;
      size_t p_len = 0;
      if (scopes[i] == scope)
        continue;
      bitnami_label(other, sizeof other, scopes[i], ns, name);
      if (open_value(mx, ct, ct_len, other, &p, &p_len, &used) == OPEN_OK) {
        sodium_free(p);
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: %s: key \"%s\": sealed %s (label \"%s\"), but the "
                         "object is %s (label \"%s\"): its scope annotations "
                         "were changed",
                         source, what, key, keys_scope_name(scopes[i]), other,
                         keys_scope_name(scope), label);
        goto out;
      }
    }
    st = seal_report(SEAL_ERR_INPUT,
                     "%s: %s: key \"%s\": no Bitnami key opens it under label "
                     "\"%s\" (sealed for another key, or for another name or "
                     "namespace)",
                     source, what, key, label);
  }
out:
  free(ct);
  return st;
}

/* ---- one SealedSecret ------------------------------------------------------ */

static int is_bitnami(const json_t *doc)
{
  const char *api = doc_get_string(doc, "apiVersion", NULL);
  const char *kind = doc_get_string(doc, "kind", NULL);
  return api && kind && strcmp(api, BITNAMI_API) == 0 && strcmp(kind, "SealedSecret") == 0;
}

/* Copies the string map meta.field into dst (created when needed), without
 * the keys drop says; map renames one key. */
static int copy_map(json_t *dst, const char *field, const json_t *meta, int (*drop)(const char *),
                    const char *source, const char *what, const char *where)
{
  json_t *src = json_object_get(meta, field), *v, *copy = NULL;
  const char *k;

  if (src == NULL || json_is_null(src))
    return SEAL_OK;
  if (!json_is_object(src))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: %s.%s is not a map", source, what, where, field);
  json_object_foreach(src, k, v) {
    if (!json_is_string(v)) {
      json_decref(copy);
      return seal_report(SEAL_ERR_INPUT, "%s: %s: %s.%s: \"%s\" is not a string", source, what,
                         where, field, k);
    }
    if (drop && drop(k))
      continue;
    if (strcmp(k, BITNAMI_ANN_SKIP_OWNER) == 0)
      k = MANIFEST_ANN_SKIP_OWNER;
    if ((copy == NULL && (copy = json_object()) == NULL) ||
        json_object_set_new(copy, k, json_deep_copy(v)) != 0) {
      json_decref(copy);
      return seal_report(SEAL_ERR_ENV, "out of memory");
    }
  }
  if (copy != NULL && json_object_set_new(dst, field, copy) != 0)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  return SEAL_OK;
}

static int drop_object_annotation(const char *k)
{
  return strncmp(k, BITNAMI_ANN_PREFIX, strlen(BITNAMI_ANN_PREFIX)) == 0 ||
         strcmp(k, ANN_LAST_APPLIED) == 0 || strcmp(k, MANIFEST_ANN_SCOPE) == 0;
}

static int drop_template_annotation(const char *k)
{
  return strcmp(k, ANN_LAST_APPLIED) == 0;
}

/* Seals one plaintext for the recipients into enc[key]. */
static int seal_into(const migrate_ctx *mx, json_t *enc, keys_scope scope, const char *ns,
                     const char *name, const char *key, const uint8_t *pt, size_t pt_len,
                     const char *source, const char *what)
{
  char label[KEYS_LABEL_MAX], *sealed = NULL;
  keys_error kerr = {0};
  int rc;

  if (!keys_data_key_valid(key))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%.253s\" is not a valid data key", source,
                       what, key);
  if (pt_len > KEYS_MAX_VALUE_BYTES)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%s\": value larger than %d bytes", source,
                       what, key, KEYS_MAX_VALUE_BYTES);
  rc = keys_label(label, sizeof label, scope, ns ? ns : "", name, key, &kerr);
  if (rc == KEYS_OK)
    rc = keys_seal(&sealed, mx->recipients, mx->n_recipients, label, pt, pt_len, &kerr);
  if (rc != KEYS_OK)
    return seal_report(seal_status_from_keys(rc), "%s: %s: key \"%s\": %s", source, what, key,
                       kerr.message[0] ? kerr.message : keys_strerror(rc));
  rc = json_object_set_new(enc, key, json_string(sealed));
  free(sealed);
  return rc == 0 ? SEAL_OK : seal_report(SEAL_ERR_ENV, "out of memory");
}

/* spec.data: the whole Secret (JSON) sealed as one value, from very old kubeseal. */
static int migrate_old_data(const migrate_ctx *mx, json_t *data, keys_scope scope, const char *ns,
                            const char *name, json_t *enc, json_t *tmpl, const char *source,
                            const char *what)
{
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  json_t *secret = NULL, *v, *m;
  json_error_t jerr;
  const char *k;
  int st;

  st = open_reported(mx, data, scope, ns, name, source, what, "spec.data", &pt, &pt_len);
  if (st != SEAL_OK)
    return st;
  secret = json_loadb((const char *)pt, pt_len, JSON_REJECT_DUPLICATES, &jerr);
  if (!manifest_is_secret(secret)) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: spec.data does not hold a v1 Secret in JSON", source,
                     what);
    goto out;
  }
  m = json_object_get(secret, "data");
  if (m != NULL && !json_is_object(m)) {
    st = seal_report(SEAL_ERR_INPUT, "%s: %s: spec.data: the Secret's data is not a map", source,
                     what);
    goto out;
  }
  json_object_foreach(m, k, v) {
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    if (!json_is_string(v) || keys_base64_decode(&dec, &dec_len, json_string_value(v),
                                                 json_string_length(v)) != KEYS_OK) {
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: spec.data: key \"%.253s\" is not base64", source,
                       what, k);
      goto out;
    }
    st = seal_into(mx, enc, scope, ns, name, k, dec, dec_len, source, what);
    doc_wipe_free(dec, dec_len);
    if (st != SEAL_OK)
      goto out;
  }
  m = json_object_get(secret, "stringData");
  json_object_foreach(m, k, v) {
    if (!json_is_string(v)) {
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: spec.data: stringData \"%.253s\" is not a string",
                       source, what, k);
      goto out;
    }
    st = seal_into(mx, enc, scope, ns, name, k, (const uint8_t *)json_string_value(v),
                   json_string_length(v), source, what);
    if (st != SEAL_OK)
      goto out;
  }
  v = json_object_get(secret, "type");
  if (json_is_string(v) && json_object_set(tmpl, "type", v) != 0)
    st = seal_report(SEAL_ERR_ENV, "out of memory");
  m = json_object_get(secret, "metadata");
  if (st == SEAL_OK) {
    json_t *tm = json_object();
    if (tm == NULL)
      st = seal_report(SEAL_ERR_ENV, "out of memory");
    if (st == SEAL_OK)
      st = copy_map(tm, "labels", m, NULL, source, what, "spec.data metadata");
    if (st == SEAL_OK)
      st = copy_map(tm, "annotations", m, drop_template_annotation, source, what,
                    "spec.data metadata");
    if (st == SEAL_OK && json_object_size(tm) > 0 && json_object_set(tmpl, "metadata", tm) != 0)
      st = seal_report(SEAL_ERR_ENV, "out of memory");
    json_decref(tm);
  }
out:
  json_decref(secret);
  sodium_free(pt);
  return st;
}

/* A Bitnami SealedSecret to a seal SealedSecret (*out, a new reference). */
static int migrate_object(migrate_ctx *mx, json_t **out, const json_t *doc, const char *source,
                          size_t index)
{
  const char *name = doc_get_string(doc, "metadata", "name", NULL);
  const char *ns = doc_get_string(doc, "metadata", "namespace", NULL);
  const char *cw = doc_get_string(doc, "metadata", "annotations", BITNAMI_ANN_CLUSTER_WIDE, NULL);
  const char *nw = doc_get_string(doc, "metadata", "annotations", BITNAMI_ANN_NS_WIDE, NULL);
  json_t *spec = json_object_get(doc, "spec"), *btmpl = json_object_get(spec, "template");
  json_t *benc = json_object_get(spec, "encryptedData"), *bdata = json_object_get(spec, "data");
  json_t *result = NULL, *meta = NULL, *enc = NULL, *tmpl = NULL, *tdata = NULL, *v;
  const char *key, *type;
  keys_scope scope = KEYS_SCOPE_STRICT;
  char what[600], why[BITNAMI_WHY_MAX];
  int rc, st = SEAL_OK;

  *out = NULL;
  if (name != NULL && ns != NULL && ns[0] != '\0')
    snprintf(what, sizeof what, "document %zu (SealedSecret %.253s/%.253s)", index + 1, ns, name);
  else if (name != NULL)
    snprintf(what, sizeof what, "document %zu (SealedSecret %.253s)", index + 1, name);
  else
    snprintf(what, sizeof what, "document %zu (SealedSecret)", index + 1);
  if (name == NULL || !keys_name_valid(name))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: no valid metadata.name", source, what);
  if (ns != NULL && ns[0] == '\0')
    ns = NULL;
  if (cw != NULL && strcmp(cw, "true") == 0)
    scope = KEYS_SCOPE_CLUSTER;
  else if (nw != NULL && strcmp(nw, "true") == 0)
    scope = KEYS_SCOPE_NAMESPACE;
  if (ns != NULL && !keys_name_valid(ns))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: metadata.namespace is not a valid name", source,
                       what);
  if (ns == NULL && scope != KEYS_SCOPE_CLUSTER)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: no metadata.namespace, which its %s label needs",
                       source, what, keys_scope_name(scope));
  if (!json_is_object(spec))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: no spec", source, what);
  if (btmpl != NULL && !json_is_null(btmpl) && !json_is_object(btmpl))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: spec.template is not a map", source, what);
  if (benc != NULL && !json_is_null(benc) && !json_is_object(benc))
    return seal_report(SEAL_ERR_INPUT, "%s: %s: spec.encryptedData is not a map", source, what);
  if (json_is_null(bdata))
    bdata = NULL;
  if (bdata != NULL && json_object_size(benc) > 0)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: both spec.data and spec.encryptedData", source,
                       what);
  if (bdata == NULL && json_object_size(benc) == 0 &&
      json_object_size(json_object_get(btmpl, "data")) == 0)
    return seal_report(SEAL_ERR_INPUT, "%s: %s: no spec.encryptedData", source, what);

  meta = json_pack("{s:s}", "name", name);
  enc = json_object();
  tmpl = json_object();
  if (meta == NULL || enc == NULL || tmpl == NULL ||
      (ns != NULL && json_object_set_new(meta, "namespace", json_string(ns)) != 0)) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  st = copy_map(meta, "labels", json_object_get(doc, "metadata"), NULL, source, what, "metadata");
  if (st == SEAL_OK)
    st = copy_map(meta, "annotations", json_object_get(doc, "metadata"), drop_object_annotation,
                  source, what, "metadata");
  if (st != SEAL_OK)
    goto out;
  v = json_object_get(meta, "annotations");
  if (v == NULL && json_object_set_new(meta, "annotations", v = json_object()) != 0) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  if (json_object_set_new(v, MANIFEST_ANN_SCOPE, json_string(keys_scope_name(scope))) != 0) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }

  /* the template: type, immutable, metadata, data */
  type = doc_get_string(btmpl, "type", NULL);
  if (type != NULL && strcmp(type, "kubernetes.io/service-account-token") == 0) {
    st = seal_report(SEAL_ERR_INPUT,
                     "%s: %s: type kubernetes.io/service-account-token cannot be "
                     "sealed by seal",
                     source, what);
    goto out;
  }
  if (json_object_set_new(tmpl, "type", json_string(type && *type ? type : "Opaque")) != 0) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  v = json_object_get(btmpl, "immutable");
  if (json_is_boolean(v) && json_object_set(tmpl, "immutable", v) != 0) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  v = json_object();
  if (v == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  st = copy_map(v, "labels", json_object_get(btmpl, "metadata"), NULL, source, what,
                "spec.template.metadata");
  if (st == SEAL_OK)
    st = copy_map(v, "annotations", json_object_get(btmpl, "metadata"), drop_template_annotation,
                  source, what, "spec.template.metadata");
  if (st == SEAL_OK && json_object_size(v) > 0 && json_object_set(tmpl, "metadata", v) != 0)
    st = seal_report(SEAL_ERR_ENV, "out of memory");
  json_decref(v);
  if (st != SEAL_OK)
    goto out;

  if (bdata != NULL) {
    st = migrate_old_data(mx, bdata, scope, ns, name, enc, tmpl, source, what);
    if (st != SEAL_OK)
      goto out;
  }
  json_object_foreach(benc, key, v) {
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    if (!keys_data_key_valid(key)) {
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: key \"%.253s\" is not a valid data key", source,
                       what, key);
      goto out;
    }
    st = open_reported(mx, v, scope, ns, name, source, what, key, &pt, &pt_len);
    if (st == SEAL_OK)
      st = seal_into(mx, enc, scope, ns, name, key, pt, pt_len, source, what);
    sodium_free(pt);
    if (st != SEAL_OK)
      goto out;
  }
  json_object_foreach(json_object_get(btmpl, "data"), key, v) {
    char *text = NULL;
    if (!json_is_string(v)) {
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: template key \"%.253s\": not a string", source,
                       what, key);
      goto out;
    }
    if (!keys_data_key_valid(key)) {
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: template key \"%.253s\" is not a valid data key",
                       source, what, key);
      goto out;
    }
    if (json_object_get(benc, key) != NULL) {
      st = seal_report(SEAL_ERR_INPUT,
                       "%s: %s: template key \"%s\" is also an encrypted key: "
                       "Bitnami's template wins there, seal's encrypted key wins; "
                       "rename one",
                       source, what, key);
      goto out;
    }
    rc = bitnami_template_convert(&text, json_string_value(v), json_string_length(v), benc, why,
                                  sizeof why);
    if (rc == BITNAMI_REFUSED)
      st = seal_report(SEAL_ERR_INPUT, "%s: %s: template key \"%s\": %s; write it by hand", source,
                       what, key, why);
    else if (rc != BITNAMI_OK)
      st = seal_report(SEAL_ERR_ENV, "out of memory");
    if (st != SEAL_OK)
      goto out;
    if ((tdata == NULL && (tdata = json_object()) == NULL) ||
        json_object_set_new(tdata, key, json_string(text)) != 0) {
      free(text);
      st = seal_report(SEAL_ERR_ENV, "out of memory");
      goto out;
    }
    free(text);
  }
  if (tdata != NULL && json_object_set(tmpl, "data", tdata) != 0) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  result = json_pack("{s:s, s:s, s:O, s:{s:O, s:O}}", "apiVersion", MANIFEST_API_VERSION, "kind",
                     MANIFEST_KIND, "metadata", meta, "spec", "encryptedData", enc, "template",
                     tmpl);
  if (result == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  *out = result;
  mx->n_objects++;
out:
  json_decref(meta);
  json_decref(enc);
  json_decref(tmpl);
  json_decref(tdata);
  return st;
}

/* ---- documents ------------------------------------------------------------ */

/* Migrates every Bitnami SealedSecret of one parsed chunk in place (Lists
 * too); *n counts them. */
static int migrate_docs(migrate_ctx *mx, doc_list *docs, const char *source, size_t base, size_t *n)
{
  size_t i, j;
  json_t *fresh;
  int st;

  for (i = 0; i < docs->n; i++) {
    json_t *items = json_object_get(docs->docs[i], "items");
    if (is_bitnami(docs->docs[i])) {
      if ((st = migrate_object(mx, &fresh, docs->docs[i], source, base + i)) != SEAL_OK)
        return st;
      json_decref(docs->docs[i]);
      docs->docs[i] = fresh;
      (*n)++;
      continue;
    }
    for (j = 0; json_is_array(items) && j < json_array_size(items); j++) {
      if (!is_bitnami(json_array_get(items, j)))
        continue;
      if ((st = migrate_object(mx, &fresh, json_array_get(items, j), source, base + i)) != SEAL_OK)
        return st;
      if (json_array_set_new(items, j, fresh) != 0)
        return seal_report(SEAL_ERR_ENV, "out of memory");
      (*n)++;
    }
  }
  return SEAL_OK;
}

/* The migrated text of one input is its other documents byte for byte and a
 * seal value for each Bitnami one. Besides the value's own bytes, a seal value
 * carries at most 1,976 characters of base64 (KEYS_OVERHEAD_BYTES(16): 16
 * recipients) where Bitnami's carries at least 708 (the length, a 4096-bit RSA
 * block and the AES-GCM tag): under three times the input. */
#define MAX_MIGRATED_BYTES (4 * (size_t)SEAL_MAX_INPUT_BYTES)

static int text_add(doc_buf *b, const char *source, const char *data, size_t n)
{
  int rc = doc_buf_add(b, data, n);
  if (rc == DOC_ERR_LIMIT)
    return seal_report(SEAL_ERR_INPUT, "%s: migrated text larger than %zu bytes", source, b->max);
  if (rc != DOC_OK)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  return SEAL_OK;
}

/* Migrates one input text into *out (malloc'ed; ciphertext and the input's
 * other documents only); *n counts the objects migrated, 0 leaves *out NULL. */
static int migrate_text(migrate_ctx *mx, char **out, size_t *out_len, size_t *n, const char *text,
                        size_t len, const char *source)
{
  doc_format format = doc_format_of(text, len);
  manifest_error merr = {0};
  doc_list docs = {0};
  doc_buf b = {.max = MAX_MIGRATED_BYTES};
  char *part = NULL;
  size_t pos = 0, end, part_len = 0, base = 0, before, lead;
  int rc, st = SEAL_OK;

  *out = NULL;
  *out_len = 0;
  *n = 0;
  while (pos < len && st == SEAL_OK) {
    const char *piece = text + pos;
    size_t piece_len;
    end = bitnami_next_chunk(text, len, pos, format);
    piece_len = end - pos;
    doc_list_free(&docs);
    memset(&docs, 0, sizeof docs);
    rc = doc_parse(&docs, piece, piece_len, source, 0, &merr);
    if (rc != MANIFEST_OK) {
      st = seal_report_manifest(source, base, NULL, &merr, rc);
      goto out;
    }
    before = *n;
    if ((st = migrate_docs(mx, &docs, source, base, n)) != SEAL_OK)
      goto out;
    base += docs.n;
    pos = end;
    if (*n == before) {
      st = text_add(&b, source, piece, piece_len); /* byte for byte */
      continue;
    }
    doc_wipe_free(part, part_len);
    part = NULL;
    rc = doc_write(&part, &part_len, docs.docs, docs.n, format, &merr);
    if (rc != MANIFEST_OK) {
      st = seal_report_manifest(source, base, NULL, &merr, rc);
      goto out;
    }
    if (format == DOC_JSON) {
      /* the blank space before the value stays; after it comes the next chunk's */
      for (lead = 0; lead < piece_len && piece[lead] != '{' && piece[lead] != '['; lead++)
        ;
      while (part_len > 0 && part[part_len - 1] == '\n')
        part_len--;
      st = text_add(&b, source, piece, lead);
    } else if (piece_len >= 3 && memcmp(piece, "---", 3) == 0) {
      st = text_add(&b, source, "---\n", 4);
    }
    if (st == SEAL_OK)
      st = text_add(&b, source, part, part_len);
  }
  if (st != SEAL_OK || *n == 0)
    goto out;
  if ((*out = doc_buf_detach(&b, out_len)) == NULL)
    st = seal_report(SEAL_ERR_ENV, "out of memory");
out:
  doc_wipe_free(part, part_len);
  doc_list_free(&docs);
  doc_buf_free(&b);
  return st;
}

/* ---- files and folders ----------------------------------------------------- */

static int pending_add(pending_list *l, const char *path, char *text, size_t len, unsigned mode)
{
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 16;
    pending *nv = realloc(l->v, ncap * sizeof *nv);
    if (nv == NULL)
      return seal_report(SEAL_ERR_ENV, "out of memory");
    l->v = nv;
    l->cap = ncap;
  }
  l->v[l->n].path = strdup(path);
  if (l->v[l->n].path == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  l->v[l->n].text = text;
  l->v[l->n].len = len;
  l->v[l->n].mode = mode;
  l->n++;
  return SEAL_OK;
}

static void pending_free(pending_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].path);
    free(l->v[i].text);
  }
  free(l->v);
}

/* One file of a folder: migrated into the pending list when it holds any
 * Bitnami SealedSecret. out is the path to write. */
static int migrate_file(migrate_ctx *mx, pending_list *pend, const char *path, const char *out,
                        unsigned mode, size_t *n)
{
  char *text = NULL, *res = NULL;
  size_t len = 0, res_len = 0;
  int st;

  *n = 0;
  if ((st = seal_input_read(&text, &len, path, SEAL_MAX_INPUT_BYTES)) != SEAL_OK)
    return st;
  st = migrate_text(mx, &res, &res_len, n, text, len, path);
  doc_wipe_free(text, len);
  if (st == SEAL_OK && *n > 0) {
    st = pending_add(pend, out, res, res_len, mode);
    if (st == SEAL_OK)
      res = NULL;
  }
  free(res);
  return st;
}

static int visible(const struct dirent *de)
{
  return de->d_name[0] != '.';
}

/* Every manifest file below dir (sorted, hidden entries and links skipped). */
static int migrate_tree(migrate_ctx *mx, pending_list *pend, const char *dir, const char *out_dir,
                        int depth, size_t *n_files)
{
  struct dirent **list = NULL;
  int count, i, st = SEAL_OK;

  if (depth > MAX_TREE_DEPTH)
    return seal_report(SEAL_ERR_INPUT, "%s: folders nested deeper than %d", dir, MAX_TREE_DEPTH);
  count = scandir(dir, &list, visible, alphasort);
  if (count < 0)
    return seal_report(SEAL_ERR_ENV, "%s: %s", dir, strerror(errno));
  for (i = 0; i < count && st == SEAL_OK; i++) {
    char sub[PATH_MAX], out[PATH_MAX];
    struct stat sb;
    size_t n = 0;
    if (snprintf(sub, sizeof sub, "%s/%s", dir, list[i]->d_name) >= (int)sizeof sub ||
        snprintf(out, sizeof out, "%s/%s", out_dir, list[i]->d_name) >= (int)sizeof out) {
      st = seal_report(SEAL_ERR_ENV, "%s/%s: path too long", dir, list[i]->d_name);
      break;
    }
    if (lstat(sub, &sb) != 0) {
      st = seal_report(SEAL_ERR_ENV, "%s: %s", sub, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
      st = migrate_tree(mx, pend, sub, out, depth + 1, n_files);
    } else if (S_ISREG(sb.st_mode) && seal_has_manifest_ext(sub)) {
      if (++*n_files > MAX_TREE_FILES)
        st = seal_report(SEAL_ERR_INPUT, "%s: more than %d files", dir, MAX_TREE_FILES);
      else
        st = migrate_file(mx, pend, sub, out, (unsigned)(sb.st_mode & 0777), &n);
    }
  }
  for (i = 0; i < count; i++)
    free(list[i]);
  free(list);
  return st;
}

/* mkdir -p of the folder path lies in */
static int make_parents(const char *path)
{
  char dir[PATH_MAX];
  size_t i;
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
    return seal_report(SEAL_ERR_ENV, "%s: path too long", path);
  for (i = 1; dir[i]; i++) {
    if (dir[i] != '/')
      continue;
    dir[i] = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
      return seal_report(SEAL_ERR_ENV, "%s: %s", dir, strerror(errno));
    dir[i] = '/';
  }
  return SEAL_OK;
}

static int write_all(const pending_list *pend, int make_dirs)
{
  int st = SEAL_OK;
  for (size_t i = 0; i < pend->n && st == SEAL_OK; i++) {
    if (make_dirs)
      st = make_parents(pend->v[i].path);
    if (st == SEAL_OK)
      st = seal_output_write(pend->v[i].path, pend->v[i].text, pend->v[i].len, pend->v[i].mode);
    if (st == SEAL_OK)
      fprintf(stderr, "seal: wrote %s\n", pend->v[i].path);
  }
  return st;
}

int cmd_migrate(int argc, char **argv)
{
  seal_cert_opts certs;
  migrate_ctx *mx = NULL;
  pending_list pend = {NULL, 0, 0};
  const char *key_files[MAX_KEY_FILES];
  const char *in_path = NULL, *out_path = NULL, *why = NULL;
  size_t n_key_files = 0, n_files = 0, n = 0, i;
  char *text = NULL, *res = NULL;
  size_t len = 0, res_len = 0;
  struct stat sb;
  seal_cmdline cl = {.cmd = "migrate",
                     .usage = usage_text,
                     .shortopts = "f:w:h",
                     .longopts = longopts,
                     .certs = &certs};
  int c, in_place = 0, allow_compromised = 0, is_dir = 0, st = SEAL_OK;

  memset(&certs, 0, sizeof certs);
  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    switch (c) {
    case OPT_BITNAMI_KEYS:
      st = seal_option_add(key_files, &n_key_files, MAX_KEY_FILES, "migrate", "--bitnami-keys",
                           optarg);
      if (st != SEAL_OK)
        goto out;
      break;
    case OPT_ALLOW_COMPROMISED:
      allow_compromised = 1;
      break;
    case OPT_IN_PLACE:
      in_place = 1;
      break;
    case 'f':
      if (in_path != NULL) {
        st = seal_usage_error("migrate", "migrate: give one -f (a file or a folder)");
        goto out;
      }
      in_path = optarg;
      break;
    case 'w':
      out_path = optarg;
      break;
    }
  }
  if (c < 0)
    return cl.status;
  if (n_key_files == 0) {
    st = seal_usage_error("migrate", "migrate: --bitnami-keys FILE is needed");
    goto out;
  }
  if (in_place && out_path) {
    st = seal_usage_error("migrate", "migrate: --in-place and -w exclude each other");
    goto out;
  }
  if (in_path && strcmp(in_path, "-") != 0 && stat(in_path, &sb) == 0 && S_ISDIR(sb.st_mode))
    is_dir = 1;
  if (in_place && (in_path == NULL || strcmp(in_path, "-") == 0)) {
    st = seal_usage_error("migrate", "migrate: --in-place needs -f FILE or -f FOLDER");
    goto out;
  }
  if (is_dir && !in_place && out_path == NULL) {
    st = seal_usage_error("migrate", "migrate: folder %s needs -w OUT (a folder) or --in-place",
                          in_path);
    goto out;
  }
  if ((ossl = seal_crypto_load(&why)) == NULL) {
    st = seal_report(SEAL_ERR_ENV, "%s", why);
    goto out;
  }
  mx = calloc(1, sizeof *mx);
  if (mx == NULL) {
    st = seal_report(SEAL_ERR_ENV, "out of memory");
    goto out;
  }
  for (i = 0; i < n_key_files && st == SEAL_OK; i++)
    st = load_keys(mx, key_files[i], allow_compromised);
  if (st != SEAL_OK)
    goto out;
  if ((st = seal_certs_load(mx->recipients, &mx->n_recipients, &certs)) != SEAL_OK)
    goto out;

  if (is_dir) {
    const char *root = in_place ? in_path : out_path;
    if ((st = migrate_tree(mx, &pend, in_path, root, 0, &n_files)) != SEAL_OK)
      goto out;
    if (pend.n == 0) {
      st = seal_report(SEAL_ERR_INPUT, "%s: no Bitnami SealedSecret in %zu file%s", in_path,
                       n_files, n_files == 1 ? "" : "s");
      goto out;
    }
    if ((st = write_all(&pend, !in_place)) != SEAL_OK)
      goto out;
  } else {
    unsigned mode = 0644;
    if ((st = seal_input_read(&text, &len, in_path, SEAL_MAX_INPUT_BYTES)) != SEAL_OK)
      goto out;
    st = migrate_text(mx, &res, &res_len, &n, text, len, seal_input_name(in_path));
    if (st != SEAL_OK)
      goto out;
    if (n == 0) {
      st = seal_report(SEAL_ERR_INPUT, "%s: no Bitnami SealedSecret", seal_input_name(in_path));
      goto out;
    }
    if (in_place)
      out_path = in_path;
    if (out_path && stat(in_place ? in_path : out_path, &sb) == 0)
      mode = (unsigned)(sb.st_mode & 0777);
    if ((st = seal_output_write(out_path, res, res_len, mode)) != SEAL_OK)
      goto out;
  }
  fprintf(stderr, "seal: migrated %zu Bitnami SealedSecret%s\n", mx->n_objects,
          mx->n_objects == 1 ? "" : "s");
out:
  free(res);
  doc_wipe_free(text, len);
  pending_free(&pend);
  if (mx != NULL) {
    for (i = 0; i < mx->n_keys; i++)
      ossl->EVP_PKEY_free(mx->keys[i].pkey);
    free(mx);
  }
  return st;
}
