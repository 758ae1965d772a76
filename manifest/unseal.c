/*
 * SealedSecret to Secret, the unseal report, re-sealing, and the comparison
 * of a live Secret with the one a SealedSecret wants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "manifest_int.h"
#include "status_text.h"
#include "banned.h"

#define SA_TOKEN_TYPE "kubernetes.io/service-account-token"
#define ANN_TRACKING_ID "argocd.argoproj.io/tracking-id"

typedef struct opened {
  const char *key;
  uint8_t *pt;
  size_t len;
} opened;

static int in_reserved_prefix(const char *name)
{
  return name != NULL &&
         strncasecmp(name, MANIFEST_RESERVED_PREFIX, strlen(MANIFEST_RESERVED_PREFIX)) == 0;
}

int manifest_reserved_label(const char *name)
{
  return in_reserved_prefix(name) && strcmp(name, MANIFEST_LABEL_UNSEALED) != 0;
}

int manifest_reserved_annotation(const char *name)
{
  return in_reserved_prefix(name) && strcmp(name, MANIFEST_ANN_SKIP_OWNER) != 0;
}

int manifest_reserved_type(const char *type)
{
  return in_reserved_prefix(type);
}

int manifest_check_reserved(const json_t *meta, const char *desc, const char *where,
                            manifest_error *err)
{
  static const char *const maps[] = {"labels", "annotations"};
  const char *key;
  json_t *v;

  for (size_t m = 0; m < 2; m++) {
    json_object_foreach(json_object_get(meta, maps[m]), key, v) {
      if (m == 0 ? manifest_reserved_label(key) : manifest_reserved_annotation(key))
        return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                        "%s: %s.%s: \"%.253s\" is reserved for the controller", desc, where,
                        maps[m], key);
    }
  }
  return MANIFEST_OK;
}

static void opened_free(opened *o, size_t n)
{
  for (size_t i = 0; o != NULL && i < n; i++)
    doc_wipe_free(o[i].pt, o[i].len);
  free(o);
}

int manifest_sealed_label(char *out, size_t out_size, const json_t *sealed, const char *data_key,
                          manifest_error *err)
{
  const char *name = doc_get_string(sealed, "metadata", "name", NULL);
  const char *ns = doc_get_string(sealed, "metadata", "namespace", NULL);
  const char *scope_text = doc_get_string(sealed, "metadata", "annotations", MANIFEST_ANN_SCOPE,
                                          NULL);
  char ref[2 * KEYS_NAME_MAX + 16];
  keys_scope scope;
  keys_error kerr;
  int rc;

  manifest_doc_ref(ref, sizeof ref, sealed);
  if (keys_scope_parse(&scope, scope_text) != KEYS_OK)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: annotation %s: unknown scope \"%.100s\"",
                    ref, MANIFEST_ANN_SCOPE, scope_text);
  memset(&kerr, 0, sizeof kerr);
  rc = keys_label(out, out_size, scope, ns, name, data_key, &kerr);
  if (rc != KEYS_OK) {
    doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: key \"%.253s\": %s", ref, data_key ? data_key : "",
             kerr.message[0] ? kerr.message : keys_strerror(rc));
    if (err != NULL)
      err->cause = rc;
    return MANIFEST_ERR_INVALID;
  }
  return MANIFEST_OK;
}

static const seal_status_text unseal_reasons[] = {{KEYS_ERR_MALFORMED, "Malformed"},
                                                  {KEYS_ERR_NO_KEY, "NoKey"},
                                                  {KEYS_ERR_ALTERED, "Altered"},
                                                  {KEYS_ERR_LABEL, "WrongScope"}};

const char *manifest_unseal_reason(int status)
{
  return SEAL_STATUS_TEXT(unseal_reasons, status, "Invalid");
}

/* One value's failure in words: what a person can act on. */
static void failure_text(char *out, size_t out_size, int status, const keys_error *kerr)
{
  char ids[KEYS_MAX_RECIPIENTS * (KEYS_ID_HEX_BYTES + 2)] = "";
  char hex[KEYS_ID_HEX_BYTES];
  size_t i, used = 0;

  switch (status) {
  case KEYS_ERR_NO_KEY:
    for (i = 0; i < kerr->n_ids && i < KEYS_MAX_RECIPIENTS; i++) {
      keys_id_hex(hex, kerr->ids[i]);
      used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%s", i ? ", " : "", hex);
    }
    snprintf(out, out_size, "no key for this value: sealed for key ids %s",
             kerr->n_ids ? ids : "(none)");
    break;
  case KEYS_ERR_LABEL:
    snprintf(out, out_size, "does not open for this scope/namespace/name/key or was altered");
    break;
  case KEYS_ERR_ALTERED:
    snprintf(out, out_size, "altered: %s",
             kerr->message[0] ? kerr->message : "the key stanza does not open");
    break;
  case KEYS_ERR_MALFORMED:
    snprintf(out, out_size, "not a sealed value: %s",
             kerr->message[0] ? kerr->message : "malformed");
    break;
  default:
    snprintf(out, out_size, "%s", kerr->message[0] ? kerr->message : keys_strerror(status));
    break;
  }
}

static void report_id(manifest_unseal_report *report, const uint8_t id[KEYS_ID_BYTES])
{
  for (size_t i = 0; i < report->n_ids; i++)
    if (memcmp(report->ids[i], id, KEYS_ID_BYTES) == 0)
      return;
  if (report->n_ids < KEYS_MAX_RECIPIENTS)
    memcpy(report->ids[report->n_ids++], id, KEYS_ID_BYTES);
}

static int is_ident(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

/* b->len more bytes (count_only: counted, nothing copied), within b->max. */
static int put(doc_buf *b, int count_only, const void *data, size_t n)
{
  if (!count_only)
    return doc_buf_add(b, data, n);
  if (n > b->max || b->len > b->max - n)
    return MANIFEST_ERR_LIMIT;
  b->len += n;
  return MANIFEST_OK;
}

/* Every "{{" in tpl begins a plain {{ .KEY }} (spaces inside the braces
 * optional): anything else (a Go template function, a pipeline, an unclosed
 * action) would be copied into the Secret as is, so it is refused. */
static int check_template_value(const char *tpl, size_t n, const char *ref, const char *tkey,
                                manifest_error *err)
{
  size_t i, j, k0;

  for (i = 0; i + 1 < n; i++) {
    if (tpl[i] != '{' || tpl[i + 1] != '{')
      continue;
    j = i + 2;
    while (j < n && tpl[j] == ' ')
      j++;
    k0 = j + 1;
    if (j < n && tpl[j] == '.') {
      j++;
      while (j < n && is_ident(tpl[j]))
        j++;
      if (j > k0) {
        while (j < n && tpl[j] == ' ')
          j++;
        if (j + 1 < n && tpl[j] == '}' && tpl[j + 1] == '}') {
          i = j + 1;
          continue;
        }
      }
    }
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: spec.template.data: key \"%.253s\": the template action at byte %zu "
                    "is not a plain {{ .KEY }} (no functions or pipelines)",
                    ref, tkey, i);
  }
  return MANIFEST_OK;
}

/* Fills {{ .KEY }} (spaces optional) with unsealed values; check_sealed has
 * refused any other "{{". count_only: every placeholder must still name an
 * encrypted key, but nothing is written; b->len is the rendered length. */
static int render(doc_buf *b, const char *tpl, size_t n, const opened *o, size_t n_o,
                  const char *ref, const char *tkey, int count_only, manifest_error *err)
{
  size_t i = 0, j, k0, k1, m;
  int rc;

  while (i < n) {
    const char *p = memchr(tpl + i, '{', n - i);
    size_t at = p ? (size_t)(p - tpl) : n;
    rc = put(b, count_only, tpl + i, at - i);
    if (rc != MANIFEST_OK)
      goto fail;
    i = at;
    if (i >= n)
      break;
    if (i + 1 < n && tpl[i + 1] == '{') {
      j = i + 2;
      while (j < n && tpl[j] == ' ')
        j++;
      if (j < n && tpl[j] == '.') {
        k0 = ++j;
        while (j < n && is_ident(tpl[j]))
          j++;
        k1 = j;
        while (j < n && tpl[j] == ' ')
          j++;
        if (k1 > k0 && j + 1 < n && tpl[j] == '}' && tpl[j + 1] == '}') {
          for (m = 0; m < n_o; m++)
            if (strlen(o[m].key) == k1 - k0 && memcmp(o[m].key, tpl + k0, k1 - k0) == 0)
              break;
          if (m == n_o)
            return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                            "%s: template key \"%.253s\": {{ .%.*s }} names no encrypted key", ref,
                            tkey, (int)(k1 - k0 > 253 ? 253 : k1 - k0), tpl + k0);
          rc = put(b, count_only, o[m].pt, o[m].len);
          if (rc != MANIFEST_OK)
            goto fail;
          i = j + 2;
          continue;
        }
      }
    }
    rc = put(b, count_only, tpl + i, 1);
    if (rc != MANIFEST_OK)
      goto fail;
    i++;
  }
  return MANIFEST_OK;
fail:
  return doc_fail(err, rc, 0, "%s: template key \"%.253s\": %s", ref, tkey,
                  rc == MANIFEST_ERR_LIMIT ? "data larger than 1 MiB in all" : "out of memory");
}

/* Sets data[key] to base64(bytes). */
static int set_b64(json_t *data, const char *key, const uint8_t *bytes, size_t len)
{
  char *enc = NULL;
  size_t enc_len = 0;
  int rc;

  if (keys_base64_encode(&enc, &enc_len, bytes, len) != KEYS_OK)
    return MANIFEST_ERR_NOMEM;
  rc = json_object_set_new(data, key, json_stringn(enc, enc_len)) == 0 ? MANIFEST_OK
                                                                       : MANIFEST_ERR_NOMEM;
  free(enc);
  return rc;
}

/* The Secret from the template and the opened values. *reason: the condition
 * reason of a failure (InvalidTemplate but for a SealedSecret without a uid). */
static int build_secret(json_t **out, const json_t *sealed, const opened *o, size_t n_o, int flags,
                        const char *ref, const char **reason, manifest_error *err)
{
  static const char *const drop[] = {ANN_TRACKING_ID};
  const json_t *tmpl = doc_get(sealed, "spec", "template", NULL);
  json_t *secret = NULL, *meta = NULL, *data = NULL, *tdata, *v, *labels;
  const char *type = doc_get_string(tmpl, "type", NULL);
  const char *key, *uid, *skip;
  doc_buf b = {.max = MANIFEST_MAX_DATA_BYTES};
  size_t total = 0, i;
  int rc;

  *reason = "InvalidTemplate";
  rc = manifest_template_metadata(&meta, doc_get(tmpl, "metadata", NULL), drop, 1, ref,
                                  "spec.template.metadata", err);
  if (rc != MANIFEST_OK)
    return rc;
  /* s*: a SealedSecret without a namespace (a file for `seal unseal`) gives a
   * Secret without one, not a failure. */
  secret = json_pack("{s:s, s:s, s:{s:s, s:s*}}", "apiVersion", "v1", "kind", "Secret", "metadata",
                     "name", doc_get_string(sealed, "metadata", "name", NULL), "namespace",
                     doc_get_string(sealed, "metadata", "namespace", NULL));
  data = json_object();
  if (secret == NULL || data == NULL)
    goto nomem;
  json_object_foreach(meta, key, v) {
    if (json_object_set(json_object_get(secret, "metadata"), key, v) != 0)
      goto nomem;
  }
  if (flags & MANIFEST_UNSEAL_CONTROLLER) {
    labels = doc_get(secret, "metadata", "labels", NULL);
    if (labels == NULL) {
      labels = json_object();
      if (json_object_set_new(json_object_get(secret, "metadata"), "labels", labels) != 0)
        goto nomem;
    }
    if (json_object_set_new(labels, MANIFEST_LABEL_UNSEALED, json_string("true")) != 0)
      goto nomem;
  }
  skip = doc_get_string(tmpl, "metadata", "annotations", MANIFEST_ANN_SKIP_OWNER, NULL);
  if ((flags & MANIFEST_UNSEAL_OWNER) && skip != NULL && strcmp(skip, "true") == 0) {
    /* no ownerReference: seal.dev/managed is what lets the controller write
     * the Secret again (a label alone never does) */
    json_t *md = json_object_get(secret, "metadata"), *ann = json_object_get(md, "annotations");
    if (ann == NULL) {
      ann = json_object();
      if (json_object_set_new(md, "annotations", ann) != 0)
        goto nomem;
    }
    if (json_object_set_new(ann, MANIFEST_ANN_MANAGED, json_string("true")) != 0)
      goto nomem;
  } else if (flags & MANIFEST_UNSEAL_OWNER) {
    uid = doc_get_string(sealed, "metadata", "uid", NULL);
    if (uid == NULL || uid[0] == '\0') {
      *reason = "Invalid";
      rc = doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: no metadata.uid for the Secret's owner reference", ref);
      goto out;
    }
    v = json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", MANIFEST_API_VERSION, "kind",
                  MANIFEST_KIND, "name", doc_get_string(sealed, "metadata", "name", NULL), "uid",
                  uid, "controller", 1);
    if (v == NULL ||
        json_object_set_new(json_object_get(secret, "metadata"), "ownerReferences", v) != 0)
      goto nomem;
  }
  if (json_object_set_new(secret, "type", json_string(type ? type : "Opaque")) != 0)
    goto nomem;
  v = json_object_get(tmpl, "immutable");
  if (json_is_boolean(v) && json_object_set(secret, "immutable", v) != 0)
    goto nomem;

  for (i = 0; i < n_o; i++) {
    total += o[i].len;
    if (set_b64(data, o[i].key, o[i].pt, o[i].len) != MANIFEST_OK)
      goto nomem;
  }
  tdata = json_object_get(tmpl, "data");
  json_object_foreach(tdata, key, v) {
    if (json_object_get(data, key) != NULL)
      continue; /* an encrypted key wins */
    /* without RENDER (verify) every placeholder must still name an encrypted
     * key and the rendered length counts, but the template's text is kept */
    b.len = 0;
    rc = render(&b, json_string_value(v), json_string_length(v), o, n_o, ref, key,
                !(flags & MANIFEST_UNSEAL_RENDER), err);
    if (rc != MANIFEST_OK)
      goto out;
    total += b.len;
    if (!(flags & MANIFEST_UNSEAL_RENDER)) {
      b.len = 0;
      if (doc_buf_add(&b, json_string_value(v), json_string_length(v)) != MANIFEST_OK) {
        rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: template key \"%.253s\": larger than 1 MiB",
                      ref, key);
        goto out;
      }
    }
    if (total > (size_t)MANIFEST_MAX_DATA_BYTES) {
      rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: data is larger than %d bytes in all", ref,
                    MANIFEST_MAX_DATA_BYTES);
      goto out;
    }
    if (set_b64(data, key, (const uint8_t *)(b.p ? b.p : ""), b.len) != MANIFEST_OK)
      goto nomem;
  }
  if (json_object_size(data) > MANIFEST_MAX_KEYS) {
    rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: more than %d data keys", ref, MANIFEST_MAX_KEYS);
    goto out;
  }
  if (json_object_set(secret, "data", data) != 0)
    goto nomem;
  *out = secret;
  secret = NULL;
  rc = MANIFEST_OK;
  goto out;
nomem:
  rc = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", ref);
out:
  doc_buf_free(&b);
  json_decref(meta);
  json_decref(data);
  json_decref(secret);
  return rc;
}

/* The checks every SealedSecret passes before any value is opened. */
static int check_sealed(const json_t *sealed, const char *ref, manifest_error *err)
{
  const json_t *enc, *v;
  const char *key;

  if (!manifest_is_sealed_secret(sealed))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: not a %s %s", ref, MANIFEST_API_VERSION,
                    MANIFEST_KIND);
  if (doc_get_string(sealed, "metadata", "name", NULL) == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: no metadata.name", ref);
  enc = doc_get(sealed, "spec", "encryptedData", NULL);
  if (enc != NULL && !json_is_null(enc) && !json_is_object(enc))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: spec.encryptedData is not a map", ref);
  if (json_object_size(enc) > MANIFEST_MAX_KEYS)
    return doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: more than %d encrypted keys", ref,
                    MANIFEST_MAX_KEYS);
  json_object_foreach((json_t *)enc, key, v) {
    if (!json_is_string(v))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: key \"%.253s\": sealed value is not a string", ref, key);
    if (!keys_data_key_valid(key))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: key \"%.253s\" is not a valid data key",
                      ref, key);
  }
  return MANIFEST_OK;
}

/* The checks of spec.template, also before any value is opened: a failure
 * here is reported as InvalidTemplate. */
static int check_template(const json_t *sealed, const char *ref, manifest_error *err)
{
  const json_t *tmpl, *v, *val;
  json_t *meta = NULL;
  int rc;
  const char *type, *key;

  tmpl = doc_get(sealed, "spec", "template", NULL);
  if (tmpl != NULL && !json_is_null(tmpl) && !json_is_object(tmpl))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: spec.template is not a map", ref);
  v = json_object_get(tmpl, "type");
  if (v != NULL && !json_is_null(v) && !json_is_string(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: spec.template.type is not a string", ref);
  type = json_string_value(v);
  if (type != NULL && strcmp(type, SA_TOKEN_TYPE) == 0)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: refusing to make a Secret of type %s", ref,
                    SA_TOKEN_TYPE);
  if (manifest_reserved_type(type))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: spec.template.type \"%.253s\" is reserved for the controller's key "
                    "Secrets",
                    ref, type);
  v = json_object_get(tmpl, "immutable");
  if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                    "%s: spec.template.immutable is not true or false", ref);
  v = json_object_get(tmpl, "metadata");
  if (v != NULL && !json_is_null(v) && !json_is_object(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: spec.template.metadata is not a map", ref);
  /* labels and annotations are maps of strings: checked here so that what
   * verifies also unseals */
  rc = manifest_template_metadata(&meta, v, NULL, 0, ref, "spec.template.metadata", err);
  if (rc != MANIFEST_OK)
    return rc;
  rc = manifest_check_reserved(meta, ref, "spec.template.metadata", err);
  json_decref(meta);
  if (rc != MANIFEST_OK)
    return rc;
  v = json_object_get(tmpl, "data");
  if (v != NULL && !json_is_null(v) && !json_is_object(v))
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "%s: spec.template.data is not a map", ref);
  json_object_foreach((json_t *)v, key, val) {
    if (!json_is_string(val))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: spec.template.data: key \"%.253s\": value is not a string", ref, key);
    if (!keys_data_key_valid(key))
      return doc_fail(err, MANIFEST_ERR_INVALID, 0,
                      "%s: spec.template.data: key \"%.253s\" is not a valid data key", ref, key);
    rc = check_template_value(json_string_value(val), json_string_length(val), ref, key, err);
    if (rc != MANIFEST_OK)
      return rc;
  }
  return MANIFEST_OK;
}

int manifest_unseal_sealed(json_t **out, const json_t *sealed, const keys_keyring *ring, int flags,
                           manifest_unseal_report *report, manifest_error *err)
{
  manifest_unseal_report local;
  char ref[2 * KEYS_NAME_MAX + 16], label[KEYS_LABEL_MAX], why[KEYS_MAX_RECIPIENTS * 24 + 600];
  const json_t *enc;
  const char *key, *reason = NULL;
  json_t *v;
  opened *o = NULL;
  size_t n_o = 0, total = 0;
  uint8_t used_id[KEYS_ID_BYTES];
  keys_error kerr;
  int rc = MANIFEST_OK, krc;

  if (report == NULL)
    report = &local;
  memset(report, 0, sizeof *report);
  report->first_status = KEYS_OK;
  if (out != NULL)
    *out = NULL;
  if (sealed == NULL || ring == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "manifest_unseal_sealed: bad arguments");
  manifest_doc_ref(ref, sizeof ref, sealed);
  rc = check_sealed(sealed, ref, err);
  if (rc != MANIFEST_OK) {
    report->reason = "Invalid";
    return rc;
  }
  rc = check_template(sealed, ref, err);
  if (rc != MANIFEST_OK) {
    report->reason = rc == MANIFEST_ERR_NOMEM ? NULL : "InvalidTemplate";
    return rc;
  }
  enc = doc_get(sealed, "spec", "encryptedData", NULL);
  if (json_object_size(enc) > 0) {
    o = calloc(json_object_size(enc), sizeof *o);
    if (o == NULL)
      return doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", ref);
  }
  json_object_foreach((json_t *)enc, key, v) {
    rc = manifest_sealed_label(label, sizeof label, sealed, key, err);
    if (rc != MANIFEST_OK) {
      report->reason = "Invalid";
      goto out;
    }
    report->n_values++;
    memset(&kerr, 0, sizeof kerr);
    krc = keys_unseal(&o[n_o].pt, &o[n_o].len, ring, label, json_string_value(v),
                      json_string_length(v), used_id, &kerr);
    if (krc != KEYS_OK) {
      report->n_failed++;
      if (report->n_failed == 1) {
        report->first_status = krc;
        report->reason = manifest_unseal_reason(krc);
        failure_text(why, sizeof why, krc, &kerr);
        doc_fail(err, MANIFEST_ERR_KEYS, 0, "%s: key \"%s\": %s", ref, key, why);
        if (err != NULL)
          err->cause = krc;
      }
      if (!(flags & MANIFEST_UNSEAL_KEEP_GOING))
        break;
      continue;
    }
    report_id(report, used_id);
    o[n_o].key = key;
    total += o[n_o].len;
    n_o++;
    if (total > (size_t)MANIFEST_MAX_DATA_BYTES) {
      rc = doc_fail(err, MANIFEST_ERR_LIMIT, 0, "%s: data is larger than %d bytes in all", ref,
                    MANIFEST_MAX_DATA_BYTES);
      report->reason = "Invalid";
      goto out;
    }
  }
  if (report->n_failed > 0) {
    if (report->n_failed > 1 && err != NULL) {
      size_t len = strlen(err->message);
      snprintf(err->message + len, sizeof err->message - len, " (and %zu more values fail)",
               report->n_failed - 1);
    }
    rc = MANIFEST_ERR_KEYS;
    goto out;
  }
  if (out != NULL) {
    rc = build_secret(out, sealed, o, n_o, flags, ref, &reason, err);
    if (rc != MANIFEST_OK && rc != MANIFEST_ERR_NOMEM)
      report->reason = reason;
  } else {
    /* Verify: the Secret is built and dropped, so that what verifies also
     * unseals (the template is checked, never rendered). */
    json_t *secret = NULL;

    rc = build_secret(&secret, sealed, o, n_o,
                      flags & ~(MANIFEST_UNSEAL_RENDER | MANIFEST_UNSEAL_OWNER), ref, &reason, err);
    json_decref(secret);
    if (rc != MANIFEST_OK && rc != MANIFEST_ERR_NOMEM)
      report->reason = reason;
  }
out:
  opened_free(o, n_o);
  return rc;
}

int manifest_reseal_sealed(json_t *sealed, const keys_keyring *ring, const keys_public *new_pk,
                           size_t *changed, manifest_error *err)
{
  char ref[2 * KEYS_NAME_MAX + 16], label[KEYS_LABEL_MAX];
  uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  json_t *enc, *v, *fresh = NULL;
  const char *key;
  char *resealed = NULL;
  size_t n_ids, i;
  keys_error kerr;
  int rc = MANIFEST_OK, krc;

  if (changed != NULL)
    *changed = 0;
  if (sealed == NULL || ring == NULL || new_pk == NULL)
    return doc_fail(err, MANIFEST_ERR_INVALID, 0, "manifest_reseal_sealed: bad arguments");
  manifest_doc_ref(ref, sizeof ref, sealed);
  rc = check_sealed(sealed, ref, err);
  if (rc == MANIFEST_OK)
    rc = check_template(sealed, ref, err);
  if (rc != MANIFEST_OK)
    return rc;
  enc = doc_get(sealed, "spec", "encryptedData", NULL);
  fresh = json_object();
  if (fresh == NULL)
    return doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", ref);
  json_object_foreach(enc, key, v) {
    memset(&kerr, 0, sizeof kerr);
    krc = keys_sealed_ids(ids, &n_ids, json_string_value(v), json_string_length(v), &kerr);
    if (krc != KEYS_OK)
      goto keys_failed;
    for (i = 0; i < n_ids; i++)
      if (keys_keyring_find(ring, ids[i]) != NULL)
        break;
    /* the label first: a scope or name that is not valid is refused even
     * when nothing would be re-sealed, as verify refuses it */
    rc = manifest_sealed_label(label, sizeof label, sealed, key, err);
    if (rc != MANIFEST_OK)
      goto out;
    if (i < n_ids && memcmp(ids[i], new_pk->id, KEYS_ID_BYTES) == 0) {
      /* already sealed for the newest key: left byte for byte, but opened
       * all the same, so a moved or altered value is refused as verify
       * refuses it rather than passed on as if re-sealed */
      uint8_t *plain = NULL;
      size_t plain_len = 0;
      krc = keys_unseal(&plain, &plain_len, ring, label, json_string_value(v),
                        json_string_length(v), NULL, &kerr);
      doc_wipe_free(plain, plain_len);
      if (krc != KEYS_OK)
        goto keys_failed;
      continue;
    }
    krc = keys_reseal(&resealed, ring, new_pk, label, json_string_value(v), json_string_length(v),
                      &kerr);
    if (krc != KEYS_OK)
      goto keys_failed;
    if (json_object_set_new(fresh, key, json_string(resealed)) != 0) {
      rc = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", ref);
      goto out;
    }
    free(resealed);
    resealed = NULL;
  }
  /* Every value re-sealed: only now is the document changed. A SealedSecret
   * without encryptedData has nothing to re-seal. */
  if (json_object_size(fresh) > 0 && json_object_update_existing(enc, fresh) != 0) {
    rc = doc_fail(err, MANIFEST_ERR_NOMEM, 0, "%s: out of memory", ref);
    goto out;
  }
  if (changed != NULL)
    *changed = json_object_size(fresh);
  goto out;
keys_failed:
  failure_text(label, sizeof label, krc, &kerr);
  doc_fail(err, MANIFEST_ERR_KEYS, 0, "%s: key \"%s\": %s", ref, key, label);
  if (err != NULL)
    err->cause = krc;
  rc = MANIFEST_ERR_KEYS;
out:
  free(resealed);
  json_decref(fresh);
  return rc;
}

static int string_subset(const json_t *want, const json_t *have)
{
  const char *key;
  json_t *v;

  json_object_foreach((json_t *)want, key, v) {
    if (!json_equal(v, json_object_get(have, key)))
      return 0;
  }
  return 1;
}

static int owner_refs_equal(const json_t *a, const json_t *b)
{
  static const char *const fields[] = {"apiVersion", "kind", "name", "uid"};
  size_t i, f;

  if (json_array_size(a) != json_array_size(b))
    return 0;
  for (i = 0; i < json_array_size(a); i++) {
    const json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
    for (f = 0; f < sizeof fields / sizeof fields[0]; f++)
      if (!json_equal(json_object_get(x, fields[f]), json_object_get(y, fields[f])))
        return 0;
    if (json_is_true(json_object_get(x, "controller")) !=
        json_is_true(json_object_get(y, "controller")))
      return 0;
  }
  return 1;
}

int manifest_secret_matches(const json_t *live, const json_t *desired)
{
  const char *lt, *dt;
  json_t *ld, *dd, *empty;
  int same;

  if (!json_is_object(live) || !json_is_object(desired))
    return 0;
  lt = doc_get_string(live, "type", NULL);
  dt = doc_get_string(desired, "type", NULL);
  if (strcmp(lt ? lt : "Opaque", dt ? dt : "Opaque") != 0)
    return 0;
  if (json_is_true(json_object_get(live, "immutable")) !=
      json_is_true(json_object_get(desired, "immutable")))
    return 0;
  ld = json_object_get(live, "data");
  dd = json_object_get(desired, "data");
  empty = json_object();
  if (empty == NULL)
    return 0;
  same = json_equal(json_is_object(ld) ? ld : empty, json_is_object(dd) ? dd : empty);
  json_decref(empty);
  if (!same)
    return 0;
  if (!string_subset(doc_get(desired, "metadata", "labels", NULL),
                     doc_get(live, "metadata", "labels", NULL)) ||
      !string_subset(doc_get(desired, "metadata", "annotations", NULL),
                     doc_get(live, "metadata", "annotations", NULL)))
    return 0;
  return owner_refs_equal(doc_get(desired, "metadata", "ownerReferences", NULL),
                          doc_get(live, "metadata", "ownerReferences", NULL));
}
