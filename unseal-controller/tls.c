#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "tls.h"

#include "banned.h"

#define CA_DAYS 3650
#define SERVING_DAYS 3650

static int fail(char *err, size_t err_size, const char *what, int gerr)
{
  snprintf(err, err_size, "%s: %s", what, gnutls_strerror(gerr));
  return -1;
}

/* PEM text of d into sodium_malloc'ed memory (secret) or malloc'ed (public). */
static char *take_pem(gnutls_datum_t *d, int secret)
{
  char *out = secret ? sodium_malloc(d->size + 1) : malloc(d->size + 1);
  if (out != NULL) {
    memcpy(out, d->data, d->size);
    out[d->size] = '\0';
  }
  sodium_memzero(d->data, d->size);
  gnutls_free(d->data);
  d->data = NULL;
  d->size = 0;
  return out;
}

static int new_key(gnutls_x509_privkey_t *key, char *err, size_t err_size)
{
  int r = gnutls_x509_privkey_init(key);
  if (r < 0)
    return fail(err, err_size, "private key", r);
  r = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (r < 0)
    return fail(err, err_size, "private key", r);
  return 0;
}

/* Version, random serial, validity from an hour ago, subject CN, key. */
static int new_crt(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key, const char *cn, int days,
                   char *err, size_t err_size)
{
  uint8_t serial[16];
  time_t now = time(NULL);
  int r = gnutls_x509_crt_init(crt);
  if (r < 0)
    return fail(err, err_size, "certificate", r);
  randombytes_buf(serial, sizeof(serial));
  serial[0] &= 0x7f; /* a positive number */
  serial[0] |= 0x01;
  if ((r = gnutls_x509_crt_set_version(*crt, 3)) < 0 ||
      (r = gnutls_x509_crt_set_serial(*crt, serial, sizeof(serial))) < 0 ||
      (r = gnutls_x509_crt_set_activation_time(*crt, now - 3600)) < 0 ||
      (r = gnutls_x509_crt_set_expiration_time(*crt, now + (time_t)days * 86400)) < 0 ||
      (r = gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                         (unsigned)strlen(cn))) < 0 ||
      (r = gnutls_x509_crt_set_key(*crt, key)) < 0)
    return fail(err, err_size, "certificate", r);
  uint8_t id[64];
  size_t id_len = sizeof(id);
  if ((r = gnutls_x509_crt_get_key_id(*crt, GNUTLS_KEYID_USE_SHA1, id, &id_len)) < 0 ||
      (r = gnutls_x509_crt_set_subject_key_id(*crt, id, id_len)) < 0)
    return fail(err, err_size, "certificate key id", r);
  return 0;
}

int ctl_tls_make(ctl_tls_pair *out, const char *const *dns, size_t n_dns, const char *ip, char *err,
                 size_t err_size)
{
  gnutls_x509_privkey_t ca_key = NULL, key = NULL;
  gnutls_x509_crt_t ca = NULL, crt = NULL;
  gnutls_datum_t d = {NULL, 0};
  int r, rc = -1;
  uint8_t ca_id[64];
  size_t ca_id_len = sizeof(ca_id);

  memset(out, 0, sizeof(*out));
  if (new_key(&ca_key, err, err_size) != 0 || new_key(&key, err, err_size) != 0)
    goto out;
  if (new_crt(&ca, ca_key, "unseal-controller admission CA", CA_DAYS, err, err_size) != 0)
    goto out;
  if ((r = gnutls_x509_crt_set_basic_constraints(ca, 1, 0)) < 0 ||
      (r = gnutls_x509_crt_set_key_usage(ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
      (r = gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0) {
    fail(err, err_size, "CA certificate", r);
    goto out;
  }
  if ((r = gnutls_x509_crt_get_subject_key_id(ca, ca_id, &ca_id_len, NULL)) < 0) {
    fail(err, err_size, "CA key id", r);
    goto out;
  }
  if (new_crt(&crt, key, n_dns > 0 ? dns[0] : "unseal-controller", SERVING_DAYS, err, err_size) !=
      0)
    goto out;
  if ((r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
      (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
      (r = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_id_len)) < 0) {
    fail(err, err_size, "serving certificate", r);
    goto out;
  }
  for (size_t i = 0; i < n_dns; i++)
    if ((r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns[i],
                                                  (unsigned)strlen(dns[i]), GNUTLS_FSAN_APPEND)) <
        0) {
      fail(err, err_size, "serving certificate DNS name", r);
      goto out;
    }
  if (ip != NULL && ip[0] != '\0') {
    uint8_t a[16];
    unsigned alen = 0;
    if (inet_pton(AF_INET, ip, a) == 1)
      alen = 4;
    else if (inet_pton(AF_INET6, ip, a) == 1)
      alen = 16;
    if (alen == 0) {
      snprintf(err, err_size, "serving certificate: \"%s\" is not an IP address", ip);
      goto out;
    }
    if ((r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, alen,
                                                  GNUTLS_FSAN_APPEND)) < 0) {
      fail(err, err_size, "serving certificate IP address", r);
      goto out;
    }
  }
  if ((r = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0) {
    fail(err, err_size, "serving certificate", r);
    goto out;
  }
  if ((r = gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &d)) < 0 ||
      (out->ca_pem = take_pem(&d, 0)) == NULL ||
      (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)) < 0 ||
      (out->cert_pem = take_pem(&d, 0)) == NULL ||
      (r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d)) < 0 ||
      (out->key_pem = take_pem(&d, 1)) == NULL) {
    if (r < 0)
      fail(err, err_size, "export", r);
    else
      snprintf(err, err_size, "out of memory");
    goto out;
  }
  rc = 0;
out:
  /* gnutls wipes private keys when it frees them */
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (ca)
    gnutls_x509_crt_deinit(ca);
  if (key)
    gnutls_x509_privkey_deinit(key);
  if (ca_key)
    gnutls_x509_privkey_deinit(ca_key);
  if (rc != 0)
    ctl_tls_pair_free(out);
  return rc;
}

void ctl_tls_pair_free(ctl_tls_pair *p)
{
  if (p == NULL)
    return;
  free(p->ca_pem);
  free(p->cert_pem);
  sodium_free(p->key_pem); /* sodium_free wipes; NULL is fine */
  memset(p, 0, sizeof(*p));
}

int ctl_tls_cert_expired(const char *pem, size_t len, time_t now)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d = {(unsigned char *)(uintptr_t)pem, (unsigned)len};
  int expired = 1;
  if (gnutls_x509_crt_init(&crt) < 0)
    return 1;
  if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0)
    expired = gnutls_x509_crt_get_expiration_time(crt) <= now;
  gnutls_x509_crt_deinit(crt);
  return expired;
}
