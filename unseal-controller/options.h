#ifndef SEAL_CTL_OPTIONS_H
#define SEAL_CTL_OPTIONS_H

/*
 * Command-line options of unseal-controller. Every flag can also come from a
 * SEAL_* environment variable (--key-renew-period <- SEAL_KEY_RENEW_PERIOD);
 * a flag given on the command line wins over the environment.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_MAX_NAMESPACES 64
#define CTL_MAX_TRUSTED_PROXIES 32

/* An address block: family AF_INET or AF_INET6, the address in network order,
 * the prefix length. */
typedef struct ctl_cidr {
  int family;
  uint8_t addr[16];
  unsigned bits;
} ctl_cidr;

typedef struct ctl_options {
  char *kubeconfig; /* NULL: in cluster, then $KUBECONFIG, then ~/.kube/config */
  char *context;    /* kubeconfig context, NULL: current */
  char *sa_dir;     /* in-cluster ServiceAccount folder (token, ca.crt, namespace) */
  char *namespaces[CTL_MAX_NAMESPACES]; /* watched namespaces; none: all */
  size_t n_namespaces;
  char *key_namespace;  /* where key Secrets, the ConfigMap and the Lease live */
  char *listen;         /* [host]:port of the HTTP API */
  char *metrics_listen; /* [host]:port of /metrics */
  int log_json;         /* --log-format json */
  int log_level;        /* ctl_log_level */
  int leader_elect;
  char *lease_name;
  int64_t lease_duration_ms;
  int64_t renew_deadline_ms;
  int64_t retry_period_ms;
  int64_t key_renew_period_ms;  /* 0 turns renewal off */
  int64_t backup_warn_after_ms; /* a key without a backup for this long: gauge and Event */
  double qps;
  long burst;
  long max_in_flight;
  long max_retries;
  int64_t ping_threshold_ms;  /* /ping fails when the loop has not turned for this long */
  double http_rate;           /* verify and rotate: requests per second, per client */
  long http_burst;            /* per client */
  double http_rate_total;     /* all clients together; also their burst */
  char *http_trusted_proxies; /* CIDR list: peers whose X-Forwarded-For names the client */
  long http_max_connections;  /* per listener */
  long http_max_connections_per_client; /* per peer address, per listener */
  int64_t http_header_timeout_ms;       /* request headers complete within this */
  int64_t http_timeout_ms;              /* idle connection timeout */
  long http_body_memory;                /* bytes of request bodies held at once, all clients */
  long http_client_body_memory;         /* the same, one client */
  char *admission_listen;               /* [host]:port of /v1/admit over HTTPS; NULL: off */
  char *admission_cert;                 /* PEM files; NULL: a CA made at start */
  char *admission_key;
  long admission_max_in_flight; /* reviews checked at once; past it allowed unchecked */
  int64_t shutdown_timeout_ms;
  int help;
  int version;
} ctl_options;

/* Fills opts from defaults, then the environment, then argv. Returns 0, or -1
 * with a message in err (usage error). */
int ctl_options_parse(ctl_options *opts, int argc, char **argv, char *err, size_t err_size);
void ctl_options_free(ctl_options *opts);
void ctl_options_usage(FILE *out);

/* "32Mi", "64Ki", "1Gi" or a bare number of bytes (at most 1 TiB). -1 if malformed. */
int ctl_size_parse(long *out, const char *text);
/* "CIDR[,CIDR]" (an address alone is a /32 or /128) into out (may be NULL: only
 * checks), at most max entries. -1 if malformed or too many. */
int ctl_cidr_parse_list(ctl_cidr *out, size_t max, size_t *n, const char *text);
/* 1 when addr (4 or 16 bytes, network order) of family is in one of the blocks. */
int ctl_cidr_match(const ctl_cidr *list, size_t n, int family, const uint8_t *addr);

/* "15s", "1m30s", "720h", "250ms", a bare number of seconds. -1 if malformed. */
int ctl_duration_parse(int64_t *out_ms, const char *text);

#endif
