#ifndef SEAL_CTL_TLS_H
#define SEAL_CTL_TLS_H

/* The admission listener's own CA and serving certificate, made with GnuTLS
 * when no certificate files are given. */

#include <stddef.h>
#include <time.h>

typedef struct ctl_tls_pair {
  char *ca_pem;   /* malloc'ed; public */
  char *cert_pem; /* malloc'ed; public */
  char *key_pem;  /* sodium_malloc'ed; wiped by ctl_tls_pair_free */
} ctl_tls_pair;

/* A fresh self-signed CA (ECDSA P-256, its key dropped once it has signed)
 * and a serving certificate it signs for the DNS names (the first is also
 * the subject's CN) and ip (may be NULL). 0, or -1 with a message in err. */
int ctl_tls_make(ctl_tls_pair *out, const char *const *dns, size_t n_dns, const char *ip, char *err,
                 size_t err_size);
void ctl_tls_pair_free(ctl_tls_pair *p);

/* 1 when the PEM certificate has expired at now, or does not parse. */
int ctl_tls_cert_expired(const char *pem, size_t len, time_t now);

#endif
