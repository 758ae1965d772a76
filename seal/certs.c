/* Recipient certificates: the public keys to seal for, from --cert files and
 * URLs, $SEAL_CERT, or the cluster. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common.h"

#include "banned.h"

static int is_url(const char *s, const char *scheme)
{
  size_t n = strlen(scheme);
  return strncasecmp(s, scheme, n) == 0;
}

int seal_cert_fetch(char **out, size_t *out_len, const char *url, long timeout_ms, int status_error)
{
  long code = 0;
  int st = seal_http_fetch(out, out_len, SEAL_MAX_CERT_BYTES, &code, timeout_ms, url, NULL, 0,
                           NULL);
  if (st != SEAL_OK)
    return st;
  if (code != 200) {
    doc_wipe_free(*out, *out_len);
    *out = NULL;
    return seal_report(status_error, "%s: HTTP status %ld", url, code);
  }
  return SEAL_OK;
}

/* The text of one --cert source. */
static int cert_source_read(char **out, size_t *out_len, const char *src)
{
  if (is_url(src, "http://") || is_url(src, "https://"))
    /* any web server, not the cluster: --request-timeout is not for it */
    return seal_cert_fetch(out, out_len, src, SEAL_CERT_TIMEOUT_SECONDS * 1000L, SEAL_ERR_INPUT);
  if (is_url(src, "file://")) {
    const char *path = src + 7;
    if (strncmp(path, "localhost/", 10) == 0)
      path += 9;
    if (*path != '/')
      return seal_report(SEAL_ERR_INPUT, "%s: only absolute file:// URLs are supported", src);
    return seal_input_read(out, out_len, path, SEAL_MAX_CERT_BYTES);
  }
  if (strstr(src, "://"))
    return seal_report(SEAL_ERR_INPUT, "%s: unsupported URL scheme (file, http, https)", src);
  return seal_input_read(out, out_len, src, SEAL_MAX_CERT_BYTES);
}

/* Adds the public keys of text to out, dropping duplicates. */
static int certs_add(keys_public *out, size_t *n_out, const char *subject, const char *text,
                     size_t len, const seal_cert_opts *opts)
{
  keys_error kerr = {0};
  keys_public *pubs = NULL;
  size_t n = 0, i, j;
  int rc, st = SEAL_OK;

  rc = keys_armor_read_public(&pubs, &n, text, len, &kerr);
  if (rc != KEYS_OK)
    return seal_report_keys(subject, &kerr, rc);
  for (i = 0; i < n; i++) {
    keys_public checked;
    char hex[KEYS_ID_HEX_BYTES];
    int dup = 0, pinned = opts->n_pinned == 0;

    rc = keys_public_from_bytes(&checked, pubs[i].pk, &kerr);
    if (rc != KEYS_OK) {
      st = seal_report_keys(subject, &kerr, rc);
      goto out;
    }
    keys_id_hex(hex, checked.id);
    for (j = 0; j < opts->n_pinned; j++)
      if (sodium_memcmp(opts->pinned[j], checked.id, KEYS_ID_BYTES) == 0)
        pinned = 1;
    if (!pinned) {
      st = seal_report(SEAL_ERR_INPUT, "%s: key %s is not pinned by --key-id: refused", subject,
                       hex);
      goto out;
    }
    for (j = 0; j < *n_out; j++)
      if (memcmp(out[j].id, checked.id, KEYS_ID_BYTES) == 0)
        dup = 1;
    if (dup)
      continue;
    if (*n_out >= KEYS_MAX_RECIPIENTS) {
      st = seal_report(SEAL_ERR_INPUT, "%s: more than %d recipient keys", subject,
                       KEYS_MAX_RECIPIENTS);
      goto out;
    }
    out[(*n_out)++] = checked;
  }
out:
  free(pubs);
  return st;
}

int seal_certs_load(keys_public *out, size_t *n_out, const seal_cert_opts *opts)
{
  char *text = NULL;
  size_t len = 0, i;
  int st = SEAL_OK;
  const char *env = getenv("SEAL_CERT");

  *n_out = 0;
  if (opts->n_sources > 0 || (env && *env)) {
    size_t n = opts->n_sources ? opts->n_sources : 1;
    for (i = 0; i < n; i++) {
      const char *src = opts->n_sources ? opts->sources[i] : env;
      st = cert_source_read(&text, &len, src);
      if (st != SEAL_OK)
        goto out;
      st = certs_add(out, n_out, src, text, len, opts);
      doc_wipe_free(text, len);
      text = NULL;
      if (st != SEAL_OK)
        goto out;
    }
  } else {
    st = seal_cluster_cert(&text, &len, &opts->cluster);
    if (st != SEAL_OK)
      goto out;
    st = certs_add(out, n_out, "the cluster's public key", text, len, opts);
    if (st != SEAL_OK)
      goto out;
  }
  for (i = 0; i < *n_out; i++) {
    char hex[KEYS_ID_HEX_BYTES];
    keys_id_hex(hex, out[i].id);
    fprintf(stderr, "sealing for key %s\n", hex);
  }
out:
  doc_wipe_free(text, len);
  if (st != SEAL_OK)
    *n_out = 0;
  return st;
}
