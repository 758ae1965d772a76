#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manifest.h"
#include "options.h"

#include "banned.h"

typedef enum opt_type {
  T_STR,
  T_LISTEN,
  T_NSLIST,
  T_BOOL,
  T_DURATION,
  T_DOUBLE,
  T_LONG,
  T_SIZE,
  T_CIDRS,
  T_LOGFMT,
  T_LOGLEVEL,
  T_HELP,
  T_VERSION,
} opt_type;

typedef struct opt_spec {
  const char *name;
  opt_type type;
  size_t offset;
  const char *def; /* NULL: unset */
  const char *metavar;
  const char *help;
} opt_spec;

#define OFF(f) offsetof(ctl_options, f)

static const opt_spec specs[] = {
    {"kubeconfig", T_STR, OFF(kubeconfig), NULL, "FILE",
     "kubeconfig to use (default: in cluster, then $KUBECONFIG, then ~/.kube/config)"},
    {"context", T_STR, OFF(context), NULL, "NAME", "kubeconfig context (default: the current one)"},
    {"namespace", T_NSLIST, OFF(namespaces), NULL, "NS",
     "watch SealedSecrets in NS only; repeat for several (env: comma separated; default: all)"},
    {"key-namespace", T_STR, OFF(key_namespace), NULL, "NS",
     "namespace of the key Secrets, the ConfigMap " MANIFEST_CERT_CONFIGMAP " and the Lease "
     "(default: the pod's namespace, else " MANIFEST_KEYS_NAMESPACE ")"},
    {"service-account-dir", T_STR, OFF(sa_dir), "/var/run/secrets/kubernetes.io/serviceaccount",
     "DIR", "in cluster: the folder holding the ServiceAccount's token, ca.crt and namespace"},
    {"listen", T_LISTEN, OFF(listen), ":8080", "[HOST]:PORT", "address of the HTTP API"},
    {"metrics-listen", T_LISTEN, OFF(metrics_listen), ":8081", "[HOST]:PORT",
     "address of /metrics"},
    {"log-format", T_LOGFMT, OFF(log_json), "text", "text|json", "log line format"},
    {"log-level", T_LOGLEVEL, OFF(log_level), "info", "LEVEL", "debug, info, warn or error"},
    {"leader-elect", T_BOOL, OFF(leader_elect), "false", NULL,
     "elect a leader through a coordination.k8s.io/v1 Lease; only the leader writes"},
    {"lease-name", T_STR, OFF(lease_name), "unseal-controller", "NAME", "name of the Lease"},
    {"lease-duration", T_DURATION, OFF(lease_duration_ms), "15s", "DURATION",
     "how long a Lease holds without renewal"},
    {"renew-deadline", T_DURATION, OFF(renew_deadline_ms), "10s", "DURATION",
     "the leader steps down when it could not renew for this long"},
    {"retry-period", T_DURATION, OFF(retry_period_ms), "2s", "DURATION",
     "how often candidates try and the leader renews"},
    {"key-renew-period", T_DURATION, OFF(key_renew_period_ms), "720h", "DURATION",
     "generate a new key this often (0: never)"},
    {"backup-warn-after", T_DURATION, OFF(backup_warn_after_ms), "24h", "DURATION",
     "a key without a backup (seal keys backup) for this long raises a Warning Event and "
     "seal_keys_not_backed_up"},
    {"qps", T_DOUBLE, OFF(qps), "500", "N", "API requests per second, sustained"},
    {"burst", T_LONG, OFF(burst), "1000", "N", "API requests allowed in a burst"},
    {"max-in-flight", T_LONG, OFF(max_in_flight), "64", "N", "API requests in flight at once"},
    {"max-retries", T_LONG, OFF(max_retries), "15", "N",
     "retries of one SealedSecret before giving up until it changes"},
    {"ping-threshold", T_DURATION, OFF(ping_threshold_ms), "30s", "DURATION",
     "/ping fails when the loop has not turned for this long"},
    {"http-rate", T_DOUBLE, OFF(http_rate), "10", "N",
     "/v1/verify and /v1/rotate requests per second, per client"},
    {"http-burst", T_LONG, OFF(http_burst), "20", "N",
     "/v1/verify and /v1/rotate burst, per client"},
    {"http-rate-total", T_DOUBLE, OFF(http_rate_total), "100", "N",
     "/v1/verify and /v1/rotate requests per second, all clients together (also the burst)"},
    {"http-trusted-proxy", T_CIDRS, OFF(http_trusted_proxies), NULL, "CIDR[,CIDR]",
     "peers whose last X-Forwarded-For entry names the client (the API server's service "
     "proxy; default: none, the peer address is the client)"},
    {"http-max-connections", T_LONG, OFF(http_max_connections), "256", "N",
     "open HTTP connections at most, per listener"},
    {"http-max-connections-per-client", T_LONG, OFF(http_max_connections_per_client), "32", "N",
     "open HTTP connections at most from one peer address, per listener"},
    {"http-header-timeout", T_DURATION, OFF(http_header_timeout_ms), "10s", "DURATION",
     "close a connection whose request headers are not complete this long after it opened "
     "or after its previous request"},
    {"http-timeout", T_DURATION, OFF(http_timeout_ms), "30s", "DURATION",
     "close an HTTP connection idle for this long"},
    {"http-body-memory", T_SIZE, OFF(http_body_memory), "16Mi", "SIZE",
     "request bodies held in memory at once, all clients together; over it: 503"},
    {"http-client-body-memory", T_SIZE, OFF(http_client_body_memory), "8Mi", "SIZE",
     "request bodies held in memory at once for one client; over it: 429"},
    {"admission-listen", T_LISTEN, OFF(admission_listen), NULL, "[HOST]:PORT",
     "serve the validating admission webhook /v1/admit over HTTPS here (default: off)"},
    {"admission-cert", T_STR, OFF(admission_cert), NULL, "FILE",
     "the admission listener's serving certificate chain, PEM (reloaded when it changes; "
     "default: a CA and certificate made at start, the CA published into the "
     "ValidatingWebhookConfiguration unseal-controller)"},
    {"admission-key", T_STR, OFF(admission_key), NULL, "FILE",
     "the private key of --admission-cert, PEM"},
    {"admission-max-in-flight", T_LONG, OFF(admission_max_in_flight), "8", "N",
     "AdmissionReviews checked at once; past it a review is allowed unchecked and counted"},
    {"shutdown-timeout", T_DURATION, OFF(shutdown_timeout_ms), "8s", "DURATION",
     "on SIGTERM, wait at most this long for requests in flight"},
    {"help", T_HELP, 0, NULL, NULL, "show this help and exit"},
    {"version", T_VERSION, 0, NULL, NULL, "show the version and exit"},
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static void env_name(char *out, size_t out_size, const char *name)
{
  size_t j = 0;
  const char prefix[] = "SEAL_";
  for (size_t i = 0; prefix[i] && j + 1 < out_size; i++)
    out[j++] = prefix[i];
  for (size_t i = 0; name[i] && j + 1 < out_size; i++)
    out[j++] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
  out[j] = '\0';
}

int ctl_duration_parse(int64_t *out_ms, const char *text)
{
  const char *p = text;
  double total = 0;
  int parts = 0;

  if (text == NULL || *text == '\0')
    return -1;
  /* a bare number: seconds */
  {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == 0 && end != text && *end == '\0') {
      if (!(v >= 0) || v > 1e12)
        return -1;
      *out_ms = (int64_t)llround(v * 1000.0);
      return 0;
    }
  }
  while (*p) {
    char *end = NULL;
    if (!(isdigit((unsigned char)*p) || *p == '.'))
      return -1;
    errno = 0;
    double v = strtod(p, &end);
    if (errno != 0 || end == p || !(v >= 0))
      return -1;
    p = end;
    double unit;
    if (strncmp(p, "ms", 2) == 0) {
      unit = 1;
      p += 2;
    } else if (*p == 'h') {
      unit = 3600e3;
      p++;
    } else if (*p == 'm') {
      unit = 60e3;
      p++;
    } else if (*p == 's') {
      unit = 1e3;
      p++;
    } else {
      return -1;
    }
    total += v * unit;
    parts++;
    if (total > 1e15)
      return -1;
  }
  if (parts == 0)
    return -1;
  *out_ms = (int64_t)llround(total);
  return 0;
}

int ctl_size_parse(long *out, const char *text)
{
  char *end = NULL;
  if (text == NULL || !isdigit((unsigned char)text[0]))
    return -1;
  errno = 0;
  unsigned long long n = strtoull(text, &end, 10);
  unsigned long long unit = 1;
  if (errno != 0)
    return -1;
  if (strcmp(end, "Ki") == 0)
    unit = 1024ull;
  else if (strcmp(end, "Mi") == 0)
    unit = 1024ull * 1024;
  else if (strcmp(end, "Gi") == 0)
    unit = 1024ull * 1024 * 1024;
  else if (*end != '\0')
    return -1;
  if (n > (1ull << 40) / unit)
    return -1;
  *out = (long)(n * unit);
  return 0;
}

/* "10.0.0.0/8", "fd00::/8", "192.0.2.7" (one address) */
static int cidr_parse(ctl_cidr *c, const char *text, size_t len)
{
  char buf[INET6_ADDRSTRLEN + 8];
  if (len == 0 || len >= sizeof(buf))
    return -1;
  memcpy(buf, text, len);
  buf[len] = '\0';
  char *slash = strchr(buf, '/');
  if (slash)
    *slash = '\0';
  memset(c, 0, sizeof(*c));
  if (inet_pton(AF_INET, buf, c->addr) == 1) {
    c->family = AF_INET;
    c->bits = 32;
  } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
    c->family = AF_INET6;
    c->bits = 128;
  } else {
    return -1;
  }
  if (slash) {
    char *end = NULL;
    const char *b = slash + 1;
    if (!isdigit((unsigned char)*b))
      return -1;
    long bits = strtol(b, &end, 10);
    if (*end != '\0' || bits < 0 || bits > (long)c->bits)
      return -1;
    c->bits = (unsigned)bits;
  }
  return 0;
}

int ctl_cidr_parse_list(ctl_cidr *out, size_t max, size_t *n, const char *text)
{
  const char *p = text ? text : "";
  *n = 0;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    while (len > 0 && *p == ' ') {
      p++;
      len--;
    }
    while (len > 0 && p[len - 1] == ' ')
      len--;
    if (len > 0) {
      ctl_cidr c;
      if (*n >= max || cidr_parse(&c, p, len) != 0)
        return -1;
      if (out)
        out[*n] = c;
      (*n)++;
    }
    if (comma == NULL)
      break;
    p = comma + 1;
  }
  return 0;
}

int ctl_cidr_match(const ctl_cidr *list, size_t n, int family, const uint8_t *addr)
{
  for (size_t i = 0; i < n; i++) {
    const ctl_cidr *c = &list[i];
    if (c->family != family)
      continue;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, full) != 0)
      continue;
    if (rest && ((c->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
      continue;
    return 1;
  }
  return 0;
}

static int parse_bool(int *out, const char *v)
{
  if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0) {
    *out = 1;
    return 0;
  }
  if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || *v == '\0') {
    *out = 0;
    return 0;
  }
  return -1;
}

static int add_namespaces(ctl_options *o, const char *v, char *err, size_t err_size)
{
  const char *p = v;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len > 0) {
      if (len > 253) {
        snprintf(err, err_size, "option --namespace: namespace longer than 253 characters");
        return -1;
      }
      if (o->n_namespaces >= CTL_MAX_NAMESPACES) {
        snprintf(err, err_size, "option --namespace: more than %d namespaces", CTL_MAX_NAMESPACES);
        return -1;
      }
      char *ns = strndup(p, len);
      if (ns == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
      }
      o->namespaces[o->n_namespaces++] = ns;
    }
    if (comma == NULL)
      break;
    p = comma + 1;
  }
  return 0;
}

/* "[host]:port", "host:port" or ":port" with a port of 0..65535; the host is
 * resolved when the listener starts. */
static int listen_ok(const char *v)
{
  const char *port;
  if (v[0] == '[') {
    const char *close = strchr(v, ']');
    if (close == NULL || close[1] != ':')
      return 0;
    port = close + 2;
  } else {
    const char *colon = strrchr(v, ':');
    if (colon == NULL)
      return 0;
    port = colon + 1;
  }
  size_t n = strlen(port);
  if (n == 0 || n > 5 || strspn(port, "0123456789") != n)
    return 0;
  return strtol(port, NULL, 10) <= 65535;
}

static int set_value(ctl_options *o, const opt_spec *s, const char *v, const char *origin,
                     char *err, size_t err_size)
{
  char *base = (char *)o;
  char *end = NULL;

  switch (s->type) {
  case T_LISTEN:
    if (!listen_ok(v))
      goto bad;
    goto store;
  case T_CIDRS: {
    size_t n = 0;
    if (ctl_cidr_parse_list(NULL, CTL_MAX_TRUSTED_PROXIES, &n, v) != 0)
      goto bad;
  }
    /* fall through */
  case T_STR:
  store : {
    char **slot = (char **)(base + s->offset);
    char *copy = strdup(v);
    if (copy == NULL) {
      snprintf(err, err_size, "out of memory");
      return -1;
    }
    free(*slot);
    *slot = copy;
    return 0;
  }
  case T_NSLIST:
    return add_namespaces(o, v, err, err_size);
  case T_BOOL:
    if (parse_bool((int *)(base + s->offset), v) != 0)
      goto bad;
    return 0;
  case T_DURATION:
    if (ctl_duration_parse((int64_t *)(base + s->offset), v) != 0)
      goto bad;
    return 0;
  case T_DOUBLE: {
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d > 0) || d > 1e6)
      goto bad;
    *(double *)(base + s->offset) = d;
    return 0;
  }
  case T_LONG: {
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || l < 0 || l > 1000000)
      goto bad;
    *(long *)(base + s->offset) = l;
    return 0;
  }
  case T_SIZE:
    if (ctl_size_parse((long *)(base + s->offset), v) != 0)
      goto bad;
    return 0;
  case T_LOGFMT:
    if (strcmp(v, "json") == 0)
      o->log_json = 1;
    else if (strcmp(v, "text") == 0)
      o->log_json = 0;
    else
      goto bad;
    return 0;
  case T_LOGLEVEL: {
    int l = ctl_log_level_parse(v);
    if (l < 0)
      goto bad;
    o->log_level = l;
    return 0;
  }
  case T_HELP:
    o->help = 1;
    return 0;
  case T_VERSION:
    o->version = 1;
    return 0;
  }
bad:
  snprintf(err, err_size, "%s --%s: invalid value '%s'", origin, s->name, v);
  return -1;
}

int ctl_options_parse(ctl_options *o, int argc, char **argv, char *err, size_t err_size)
{
  struct option longopts[N_SPECS + 1];
  char origin[128];

  memset(o, 0, sizeof(*o));
  for (size_t i = 0; i < N_SPECS; i++) {
    if (specs[i].def != NULL && set_value(o, &specs[i], specs[i].def, "default", err, err_size))
      return -1;
  }
  for (size_t i = 0; i < N_SPECS; i++) {
    char name[80];
    if (specs[i].type == T_HELP || specs[i].type == T_VERSION)
      continue;
    env_name(name, sizeof(name), specs[i].name);
    const char *v = getenv(name);
    if (v == NULL)
      continue;
    snprintf(origin, sizeof(origin), "environment %s for", name);
    if (set_value(o, &specs[i], v, origin, err, err_size))
      return -1;
  }
  for (size_t i = 0; i < N_SPECS; i++) {
    longopts[i].name = specs[i].name;
    longopts[i].has_arg = (specs[i].type == T_BOOL) ? optional_argument
                          : (specs[i].type == T_HELP || specs[i].type == T_VERSION)
                              ? no_argument
                              : required_argument;
    longopts[i].flag = NULL;
    longopts[i].val = 1000 + (int)i;
  }
  memset(&longopts[N_SPECS], 0, sizeof(longopts[N_SPECS]));

  /* a command-line --namespace replaces the environment's list */
  int ns_from_argv = 0;
  optind = 1;
  opterr = 0;
  for (;;) {
    int c = getopt_long(argc, argv, ":hn:", longopts, NULL);
    if (c == -1)
      break;
    if (c == 'h') {
      o->help = 1;
      continue;
    }
    if (c == 'n')
      c = 1000 + 2; /* --namespace */
    if (c == '?') {
      if (optopt >= 1000 && optopt < 1000 + (int)N_SPECS)
        snprintf(err, err_size, "option '--%s' takes no value", specs[optopt - 1000].name);
      else if (optopt)
        snprintf(err, err_size, "unknown option '-%c'", optopt);
      else
        snprintf(err, err_size, "unknown option '%s'", argv[optind - 1]);
      return -1;
    }
    if (c == ':') {
      snprintf(err, err_size, "option '%s' needs a value", argv[optind - 1]);
      return -1;
    }
    const opt_spec *s = &specs[c - 1000];
    if (s->type == T_NSLIST && !ns_from_argv) {
      for (size_t i = 0; i < o->n_namespaces; i++) {
        free(o->namespaces[i]);
        o->namespaces[i] = NULL;
      }
      o->n_namespaces = 0;
      ns_from_argv = 1;
    }
    if (set_value(o, s, optarg ? optarg : (s->type == T_BOOL ? "true" : ""), "option", err,
                  err_size))
      return -1;
  }
  if (optind < argc) {
    snprintf(err, err_size, "unexpected argument '%s'", argv[optind]);
    return -1;
  }
  if (o->help || o->version)
    return 0;
  if (o->lease_duration_ms <= o->renew_deadline_ms) {
    snprintf(err, err_size, "--lease-duration must be longer than --renew-deadline");
    return -1;
  }
  if (o->renew_deadline_ms <= o->retry_period_ms || o->retry_period_ms <= 0) {
    snprintf(err, err_size,
             "--renew-deadline must be longer than --retry-period, which must be positive");
    return -1;
  }
  if (o->burst < 1 || o->max_in_flight < 1 || o->http_burst < 1 || o->http_max_connections < 1) {
    snprintf(
        err, err_size,
        "--burst, --max-in-flight, --http-burst and --http-max-connections must be at least 1");
    return -1;
  }
  if (o->http_max_connections_per_client < 1 || o->http_header_timeout_ms <= 0) {
    snprintf(
        err, err_size,
        "--http-max-connections-per-client must be at least 1 and --http-header-timeout positive");
    return -1;
  }
  if (o->http_client_body_memory < 1 || o->http_body_memory < o->http_client_body_memory) {
    snprintf(err, err_size,
             "--http-client-body-memory must be positive and at most --http-body-memory");
    return -1;
  }
  if ((o->admission_cert == NULL) != (o->admission_key == NULL) || o->admission_max_in_flight < 1) {
    snprintf(err, err_size,
             "--admission-cert and --admission-key go together, and "
             "--admission-max-in-flight must be at least 1");
    return -1;
  }
  return 0;
}

void ctl_options_free(ctl_options *o)
{
  if (o == NULL)
    return;
  for (size_t i = 0; i < N_SPECS; i++) {
    if (specs[i].type == T_STR || specs[i].type == T_LISTEN || specs[i].type == T_CIDRS) {
      char **slot = (char **)((char *)o + specs[i].offset);
      free(*slot);
      *slot = NULL;
    }
  }
  for (size_t i = 0; i < o->n_namespaces; i++)
    free(o->namespaces[i]);
  o->n_namespaces = 0;
}

void ctl_options_usage(FILE *out)
{
  fprintf(out, "usage: unseal-controller [options]\n\n"
               "Turns SealedSecrets into Secrets. Every option can also be set through the\n"
               "environment variable shown; an option on the command line wins.\n\n");
  for (size_t i = 0; i < N_SPECS; i++) {
    char env[80];
    char left[96];
    const opt_spec *s = &specs[i];
    if (s->metavar)
      snprintf(left, sizeof(left), "--%s %s", s->name, s->metavar);
    else
      snprintf(left, sizeof(left), "--%s", s->name);
    fprintf(out, "  %-34s %s\n", left, s->help);
    if (s->type == T_HELP || s->type == T_VERSION)
      continue;
    env_name(env, sizeof(env), s->name);
    fprintf(out, "  %-34s env %s", "", env);
    if (s->def)
      fprintf(out, ", default %s", s->def);
    fputc('\n', out);
  }
}
