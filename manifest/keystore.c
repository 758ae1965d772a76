/*
 * The key store: the key Secrets (one per key pair) and the ConfigMap that
 * publishes the newest active public key, built and read the same way by the
 * controller and by seal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "manifest_int.h"
#include "banned.h"

const char *manifest_key_secret_untrusted(const json_t *secret)
{
  const char *type = doc_get_string(secret, "type", NULL);
  const json_t *labels = doc_get(secret, "metadata", "labels", NULL);
  const json_t *owners = doc_get(secret, "metadata", "ownerReferences", NULL);
  size_t i;
  json_t *o;

  if (type == NULL || strcmp(type, MANIFEST_KEY_SECRET_TYPE) != 0)
    return "not of type " MANIFEST_KEY_SECRET_TYPE;
  if (json_object_get(labels, MANIFEST_LABEL_UNSEALED) != NULL)
    return "labelled " MANIFEST_LABEL_UNSEALED ": made from a SealedSecret";
  json_array_foreach(owners, i, o) {
    const char *kind = doc_get_string(o, "kind", NULL);
    if (kind && strcmp(kind, MANIFEST_KIND) == 0)
      return "owned by a SealedSecret";
  }
  return NULL;
}

void manifest_key_secret_name(char out[KEYS_NAME_MAX + 1], const uint8_t id[KEYS_ID_BYTES])
{
  char hex[KEYS_ID_HEX_BYTES];
  keys_id_hex(hex, id);
  snprintf(out, KEYS_NAME_MAX + 1, MANIFEST_KEY_NAME_PREFIX "%s", hex);
}

int manifest_key_secret_build(json_t **out, const keys_keypair *kp, const char *ns,
                              const char *backed_up, manifest_error *err)
{
  char *priv = NULL, *priv_b64 = NULL, *pub_b64 = NULL;
  char pub[KEYS_ARMOR_MAX], created[40], name[KEYS_NAME_MAX + 1];
  size_t priv_len = 0, pub_len = 0, b64_len = 0;
  int64_t when = keys_keypair_created(kp);
  int compromised = keys_keypair_state(kp) == KEYS_STATE_COMPROMISED;
  json_t *meta = NULL;
  int st = MANIFEST_OK;

  *out = NULL;
  manifest_key_secret_name(name, keys_keypair_public(kp)->id);
  if (ns == NULL || !keys_name_valid(ns))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "key secret %s: namespace \"%.253s\" is not a valid name", name, ns ? ns : "");
  priv = sodium_malloc(KEYS_ARMOR_MAX);
  if (priv == NULL) {
    st = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "key secret %s/%s: out of memory", ns, name);
    goto out;
  }
  /* a key without a known creation time is the oldest, never the newest */
  if (keys_armor_write_private(priv, KEYS_ARMOR_MAX, &priv_len, kp) != KEYS_OK ||
      keys_armor_write_public(pub, sizeof pub, &pub_len, keys_keypair_public(kp), when) !=
          KEYS_OK ||
      keys_base64_encode(&priv_b64, &b64_len, (const uint8_t *)priv, priv_len) != KEYS_OK ||
      keys_base64_encode(&pub_b64, &b64_len, (const uint8_t *)pub, pub_len) != KEYS_OK ||
      keys_time_format(created, sizeof created, when > 0 ? when : 0) != KEYS_OK) {
    st = doc_fail(err, MANIFEST_ERR_INVALID, 0, "key secret %s/%s: cannot encode the key", ns,
                  name);
    goto out;
  }
  meta = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "name", name, "namespace", ns, "labels",
                   MANIFEST_LABEL_KEY, compromised ? MANIFEST_KEY_COMPROMISED : MANIFEST_KEY_ACTIVE,
                   "annotations", MANIFEST_KEY_ANN_CREATED, created);
  if (meta != NULL && backed_up != NULL &&
      json_object_set_new(json_object_get(meta, "annotations"), MANIFEST_KEY_ANN_BACKED_UP,
                          json_string(backed_up)) != 0) {
    json_decref(meta);
    meta = NULL;
  }
  if (meta != NULL)
    *out = json_pack("{s:s, s:s, s:o, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Secret",
                     "metadata", meta, "type", MANIFEST_KEY_SECRET_TYPE, "data",
                     MANIFEST_KEY_PRIVATE, priv_b64, MANIFEST_KEY_PUBLIC, pub_b64);
  if (*out == NULL)
    st = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "key secret %s/%s: out of memory", ns, name);
out:
  doc_wipe_free(priv_b64, priv_b64 ? strlen(priv_b64) : 0);
  free(pub_b64);
  if (priv)
    sodium_free(priv);
  return st;
}

/* ---- reading a key Secret ------------------------------------------------ */

static int refuse(manifest_key_secret *ks, manifest_key_fault fault, manifest_error *err,
                  const char *ns, const char *fmt, ...) DOC_PRINTF(5, 6);

static int refuse(manifest_key_secret *ks, manifest_key_fault fault, manifest_error *err,
                  const char *ns, const char *fmt, ...)
{
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  ks->fault = fault;
  return doc_fail(err, MANIFEST_ERR_INVALID, 0, "key secret %s/%s: %s", ns,
                  ks->name[0] ? ks->name : "?", why);
}

static int out_of_memory(const manifest_key_secret *ks, const char *ns, manifest_error *err)
{
  return doc_fail(err, MANIFEST_ERR_NOMEM, 0, "key secret %s/%s: out of memory", ns,
                  ks->name[0] ? ks->name : "?");
}

/* A keys_status from reading the armor of a data field. */
static int armor_failed(manifest_key_secret *ks, int rc, const keys_error *kerr, const char *field,
                        const char *ns, manifest_error *err)
{
  if (rc == KEYS_ERR_NOMEM)
    return out_of_memory(ks, ns, err);
  return refuse(ks, MANIFEST_KEY_MALFORMED, err, ns, "data %s: %s", field,
                kerr->message[0] ? kerr->message : keys_strerror(rc));
}

/* A string field of parent, NULL when absent; 0, or -1 when present and not
 * a string or longer than max. */
static int string_field(const char **out, size_t *len, const json_t *parent, const char *field,
                        size_t max)
{
  const json_t *v = json_object_get(parent, field);
  *out = NULL;
  *len = 0;
  if (v == NULL)
    return 0;
  if (!json_is_string(v) || json_string_length(v) > max)
    return -1;
  *out = json_string_value(v);
  *len = json_string_length(v);
  return 0;
}

/* An optional time annotation; one that does not parse counts as absent, so
 * a mistyped date never costs the cluster a key. */
static int time_annotation(manifest_key_secret *ks, int64_t *out, const json_t *annotations,
                           const char *ann, const char *ns, manifest_error *err)
{
  const char *text;
  size_t len;
  *out = 0;
  if (string_field(&text, &len, annotations, ann, SIZE_MAX) != 0)
    return refuse(ks, MANIFEST_KEY_MALFORMED, err, ns, "annotation %s is not a string", ann);
  if (text != NULL && keys_time_parse(out, text) != KEYS_OK)
    *out = 0;
  return MANIFEST_OK;
}

/* The base64 text of a data field, decoded: malloc'ed, wiped on release. */
static int data_field(manifest_key_secret *ks, uint8_t **out, size_t *out_len, const json_t *data,
                      const char *field, const char *ns, manifest_error *err)
{
  const char *b64;
  size_t len;
  *out = NULL;
  *out_len = 0;
  if (string_field(&b64, &len, data, field, SIZE_MAX) != 0)
    return refuse(ks, MANIFEST_KEY_MALFORMED, err, ns, "data %s is not a string", field);
  if (b64 == NULL)
    return MANIFEST_OK;
  if (len > MANIFEST_KEY_MAX_FIELD)
    return refuse(ks, MANIFEST_KEY_MALFORMED, err, ns, "data %s is over %d characters", field,
                  MANIFEST_KEY_MAX_FIELD);
  int rc = keys_base64_decode(out, out_len, b64, len);
  if (rc == KEYS_ERR_NOMEM)
    return out_of_memory(ks, ns, err);
  if (rc != KEYS_OK)
    return refuse(ks, MANIFEST_KEY_MALFORMED, err, ns, "data %s is not base64", field);
  return MANIFEST_OK;
}

/* private.key: exactly one private key; its armor is kept in sodium memory. */
static int read_private(manifest_key_secret *ks, const uint8_t *text, size_t len, const char *ns,
                        manifest_error *err)
{
  keys_keyring *ring = NULL;
  keys_error kerr = {0};
  size_t added = 0;
  int rc, st = MANIFEST_OK;

  if ((rc = keys_keyring_new(&ring)) != KEYS_OK)
    return out_of_memory(ks, ns, err);
  rc = keys_armor_read_private(ring, &added, (const char *)text, len, &kerr);
  if (rc != KEYS_OK) {
    st = armor_failed(ks, rc, &kerr, MANIFEST_KEY_PRIVATE, ns, err);
    goto out;
  }
  if (added != 1) {
    st = refuse(ks, MANIFEST_KEY_MALFORMED, err, ns,
                "data " MANIFEST_KEY_PRIVATE " holds %zu private keys, not one", added);
    goto out;
  }
  const keys_keypair *kp = keys_keyring_at(ring, 0);
  memcpy(ks->id, keys_keypair_public(kp)->id, KEYS_ID_BYTES);
  keys_id_hex(ks->hex, ks->id);
  if (ks->created == 0)
    ks->created = keys_keypair_created(kp);
  ks->private_armor = sodium_malloc(len + 1);
  if (ks->private_armor == NULL) {
    st = out_of_memory(ks, ns, err);
    goto out;
  }
  memcpy(ks->private_armor, text, len);
  ks->private_armor[len] = '\0';
  ks->private_len = len;
out:
  keys_keyring_free(ring);
  return st;
}

/* public.key, when present: one public key, that of private.key. */
static int check_public(manifest_key_secret *ks, const uint8_t *text, size_t len, const char *ns,
                        manifest_error *err)
{
  keys_public *pubs = NULL;
  keys_error kerr = {0};
  size_t n = 0;
  int rc = keys_armor_read_public(&pubs, &n, (const char *)text, len, &kerr);
  int st = MANIFEST_OK;

  if (rc != KEYS_OK)
    st = armor_failed(ks, rc, &kerr, MANIFEST_KEY_PUBLIC, ns, err);
  else if (n != 1)
    st = refuse(ks, MANIFEST_KEY_MALFORMED, err, ns,
                "data " MANIFEST_KEY_PUBLIC " holds %zu public keys, not one", n);
  else if (memcmp(pubs[0].id, ks->id, KEYS_ID_BYTES) != 0)
    st = refuse(ks, MANIFEST_KEY_MISMATCH, err, ns,
                "its " MANIFEST_KEY_PUBLIC " is not the public key of its " MANIFEST_KEY_PRIVATE);
  free(pubs);
  return st;
}

int manifest_key_secret_parse(manifest_key_secret *out, const json_t *secret, const char *ns,
                              manifest_error *err)
{
  const json_t *meta = json_object_get(secret, "metadata");
  const json_t *labels = json_object_get(meta, "labels");
  const json_t *annotations = json_object_get(meta, "annotations");
  const json_t *data = json_object_get(secret, "data");
  const char *name, *state, *why;
  uint8_t *priv = NULL, *pub = NULL;
  size_t len, priv_len = 0, pub_len = 0;
  int st;

  memset(out, 0, sizeof *out);
  ns = ns ? ns : "?";
  if (!json_is_object(secret) || !json_is_object(meta))
    return refuse(out, MANIFEST_KEY_MALFORMED, err, ns, "no metadata");
  if (string_field(&name, &len, meta, "name", KEYS_NAME_MAX) != 0 || name == NULL ||
      !keys_name_valid(name))
    return refuse(out, MANIFEST_KEY_MALFORMED, err, ns, "metadata.name is missing or invalid");
  snprintf(out->name, sizeof out->name, "%s", name);
  if ((why = manifest_key_secret_untrusted(secret)) != NULL)
    return refuse(out, MANIFEST_KEY_UNTRUSTED, err, ns, "%s", why);
  if ((labels != NULL && !json_is_object(labels)) ||
      string_field(&state, &len, labels, MANIFEST_LABEL_KEY, 64) != 0 || state == NULL ||
      (strcmp(state, MANIFEST_KEY_ACTIVE) != 0 && strcmp(state, MANIFEST_KEY_COMPROMISED) != 0))
    return refuse(out, MANIFEST_KEY_MALFORMED, err, ns,
                  "label " MANIFEST_LABEL_KEY " is not " MANIFEST_KEY_ACTIVE
                  " or " MANIFEST_KEY_COMPROMISED);
  out->compromised = strcmp(state, MANIFEST_KEY_COMPROMISED) == 0;
  if (annotations != NULL && !json_is_object(annotations))
    return refuse(out, MANIFEST_KEY_MALFORMED, err, ns, "metadata.annotations is not a map");
  if ((st = time_annotation(out, &out->created, annotations, MANIFEST_KEY_ANN_CREATED, ns, err)) !=
          MANIFEST_OK ||
      (st = time_annotation(out, &out->backed_up, annotations, MANIFEST_KEY_ANN_BACKED_UP, ns,
                            err)) != MANIFEST_OK ||
      (st = time_annotation(out, &out->renew_requested, annotations, MANIFEST_KEY_ANN_RENEW, ns,
                            err)) != MANIFEST_OK)
    return st;
  if (data != NULL && !json_is_object(data))
    return refuse(out, MANIFEST_KEY_MALFORMED, err, ns, "data is not a map");
  if ((st = data_field(out, &priv, &priv_len, data, MANIFEST_KEY_PRIVATE, ns, err)) !=
          MANIFEST_OK ||
      (st = data_field(out, &pub, &pub_len, data, MANIFEST_KEY_PUBLIC, ns, err)) != MANIFEST_OK)
    goto out;
  if (priv == NULL) {
    st = refuse(out, MANIFEST_KEY_EMPTY, err, ns, "no data " MANIFEST_KEY_PRIVATE);
    goto out;
  }
  if ((st = read_private(out, priv, priv_len, ns, err)) != MANIFEST_OK)
    goto out;
  if (pub != NULL)
    st = check_public(out, pub, pub_len, ns, err);
out:
  doc_wipe_free(priv, priv_len);
  free(pub);
  if (st != MANIFEST_OK && out->private_armor != NULL) {
    sodium_free(out->private_armor);
    out->private_armor = NULL;
    out->private_len = 0;
  }
  return st;
}

void manifest_key_secret_clear(manifest_key_secret *ks)
{
  if (ks == NULL)
    return;
  if (ks->private_armor != NULL)
    sodium_free(ks->private_armor); /* wipes */
  ks->private_armor = NULL;
  ks->private_len = 0;
}

/* ---- the ConfigMap of the public key ------------------------------------- */

int manifest_cert_configmap_build(json_t **out, const json_t *live, const char *ns,
                                  const char *cert, manifest_error *err)
{
  json_t *data = json_pack("{s:s}", MANIFEST_CERT_FIELD, cert);

  *out = NULL;
  if (data != NULL && live != NULL)
    *out = json_deep_copy(live);
  else if (data != NULL)
    *out = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", MANIFEST_CERT_CONFIGMAP, "namespace", ns ? ns : "");
  if (*out == NULL || json_object_set_new(*out, "data", data) != 0) {
    if (*out == NULL)
      json_decref(data);
    json_decref(*out);
    *out = NULL;
    return doc_fail(err, MANIFEST_ERR_NOMEM, 0,
                    "configmap %s/" MANIFEST_CERT_CONFIGMAP ": out of memory", ns ? ns : "?");
  }
  return MANIFEST_OK;
}

const char *manifest_cert_configmap_pem(const json_t *configmap)
{
  return doc_get_string(configmap, "data", MANIFEST_CERT_FIELD, NULL);
}
