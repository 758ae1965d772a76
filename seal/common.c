#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common.h"
#include "curl_loader.h"
#include "safe_text.h"

#include "banned.h"

int seal_exit_code(int status) {
  switch (status) {
  case SEAL_OK:
    return 0;
  case SEAL_ERR_INPUT:
  case SEAL_ERR_FOUND:
    return 1;
  case SEAL_ERR_USAGE:
  case SEAL_ERR_ENV:
  default:
    return 2;
  }
}

/* Messages carry text from documents, the API server and HTTP answers:
 * control characters, bidi controls and bytes that are not UTF-8 are
 * escaped (\xNN, \uXXXX), so that no answer can break the line or move,
 * recolour or retitle what the terminal shows. */
static void put_safe(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n > 0) {
    uint32_t cp;
    int len = seal_utf8_next(p, n, &cp);
    if (len < 0) {
      fprintf(f, "\\x%02x", p[0]);
      len = 1;
    } else if (seal_unsafe_char(cp)) {
      fprintf(f, cp < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
    } else {
      fwrite(p, 1, (size_t)len, f);
    }
    p += len;
    n -= (size_t)len;
  }
}

static void vline_as(FILE *f, const char *prefix, const char *fmt, va_list ap) {
  char buf[8192];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  fputs(prefix, f);
  put_safe(f, buf);
  if (n >= (int)sizeof buf)
    fputs("...", f);
  fputc('\n', f);
}

static void vreport(const char *fmt, va_list ap) { vline_as(stderr, "seal: ", fmt, ap); }

void seal_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline_as(stderr, "seal: warning: ", fmt, ap);
  va_end(ap);
}

void seal_print_line(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline_as(f, "", fmt, ap);
  va_end(ap);
}

int seal_report(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  return status;
}

int seal_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fprintf(stderr, "try 'seal%s%s --help'\n", cmd && *cmd ? " " : "", cmd ? cmd : "");
  return SEAL_ERR_USAGE;
}

int seal_status_from_keys(int status) {
  switch (status) {
  case KEYS_OK:
    return SEAL_OK;
  case KEYS_ERR_NOMEM:
  case KEYS_ERR_CRYPTO:
    return SEAL_ERR_ENV;
  default:
    return SEAL_ERR_INPUT;
  }
}

int seal_status_from_manifest(int status) {
  switch (status) {
  case MANIFEST_OK:
    return SEAL_OK;
  case MANIFEST_ERR_NOMEM:
    return SEAL_ERR_ENV;
  default:
    return SEAL_ERR_INPUT;
  }
}

int seal_report_keys(const char *subject, const keys_error *err, int status) {
  const char *msg = err && err->message[0] ? err->message : keys_strerror(status);
  if (subject)
    return seal_report(seal_status_from_keys(status), "%s: %s", subject, msg);
  return seal_report(seal_status_from_keys(status), "%s", msg);
}

void seal_describe(char *out, size_t out_size, const json_t *doc, size_t index) {
  char what[400];
  manifest_describe(what, sizeof what, doc, index);
  if (strncmp(what, "document ", 9) == 0)
    snprintf(out, out_size, "%s", what);
  else
    snprintf(out, out_size, "document %zu (%s)", index + 1, what);
}

/* Drops a leading "prefix: " from msg when the library already named it. */
static const char *strip_prefix(const char *msg, const char *prefix) {
  size_t n = strlen(prefix);
  if (n && strncmp(msg, prefix, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

/* Drops leading "document 2 (Secret): ", "Secret ns/name: " and "ns/name: "
 * parts that the caller's own description already says. */
static const char *strip_described(const char *msg, const char *inner, const char *ref) {
  for (;;) {
    const char *next = strip_prefix(msg, inner);
    if (next == msg)
      next = strip_prefix(msg, ref);
    if (next == msg && strncmp(msg, "document ", 9) == 0) {
      const char *close = strstr(msg, "): ");
      const char *colon = strstr(msg, ": ");
      if (close && (colon == NULL || close < colon || colon == close + 1))
        next = close + 3;
      else if (colon && strspn(msg + 9, "0123456789") == (size_t)(colon - msg - 9))
        next = colon + 2;
    }
    if (next == msg)
      return msg;
    msg = next;
  }
}

int seal_report_manifest(const char *source, size_t index, const json_t *doc,
                         const manifest_error *err, int status) {
  const char *msg = err && err->message[0] ? err->message : manifest_strerror(status);
  char what[512], inner[400], ref[2 * KEYS_NAME_MAX + 2];
  const char *ns, *name;
  int st = seal_status_from_manifest(status);

  if (strncmp(msg, source, strlen(source)) == 0 && msg[strlen(source)] == ':')
    return seal_report(st, "%s", msg); /* "stdin:3:1: yaml: ..." */
  if (doc == NULL)
    return seal_report(st, "%s: %s", source, msg);
  seal_describe(what, sizeof what, doc, index);
  manifest_describe(inner, sizeof inner, doc, index);
  ns = manifest_get_string(doc, "metadata", "namespace", NULL);
  name = manifest_get_string(doc, "metadata", "name", NULL);
  snprintf(ref, sizeof ref, "%s%s%s", ns ? ns : "", ns ? "/" : "", name ? name : "");
  msg = strip_described(msg, inner, ref);
  return seal_report(st, "%s: %s: %s", source, what, msg);
}

/* kubeseal's flag spellings and what seal does instead, for the usage error */
static const struct {
  const char *flag, *instead;
} kubeseal_flags[] = {
    {"--fetch-cert", "seal cert"},
    {"--format", "-o yaml|json"},
    {"--re-encrypt", "seal reseal"},
    {"--recovery-unseal", "seal unseal --private-key FILE"},
    {"--recovery-private-key", "seal unseal --private-key FILE"},
    {"--merge-into", "seal merge --into FILE"},
    {"--raw", "seal raw"},
    {"--sealed-secret-file", "-w FILE"},
    {"--secret-file", "-f FILE"},
    {"--validate", "seal verify"},
};

/* " (kubeseal's spelling; seal: ...)" for a kubeseal flag, else "" */
static const char *kubeseal_hint(char *buf, size_t size, const char *arg) {
  size_t len = strcspn(arg, "=");

  for (size_t i = 0; i < sizeof kubeseal_flags / sizeof kubeseal_flags[0]; i++)
    if (strlen(kubeseal_flags[i].flag) == len && strncmp(arg, kubeseal_flags[i].flag, len) == 0) {
      snprintf(buf, size, " (kubeseal's spelling; in seal: %s)", kubeseal_flags[i].instead);
      return buf;
    }
  return "";
}

int seal_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts) {
  char opts[64];
  const char *bad, *sep = cmd && *cmd ? ": " : "";
  int c;

  /* a leading ':' makes a missing argument ':' rather than '?' */
  snprintf(opts, sizeof opts, ":%s", shortopts);
  opterr = 0;
  c = getopt_long(argc, argv, opts, longopts, NULL);
  if (c != '?' && c != ':')
    return c;
  bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  if (optopt > 0 && optopt < 128 && !(bad[0] == '-' && bad[1] == '-')) {
    if (c == ':')
      seal_usage_error(cmd, "%s%soption '-%c' needs an argument", cmd, sep, optopt);
    else
      seal_usage_error(cmd, "%s%sunknown option '-%c'", cmd, sep, optopt);
  } else if (c == ':') {
    seal_usage_error(cmd, "%s%soption '%s' needs an argument", cmd, sep, bad);
  } else {
    char hint[128];
    seal_usage_error(cmd, "%s%sunknown option '%s'%s", cmd, sep, bad,
                     kubeseal_hint(hint, sizeof hint, bad));
  }
  return '?';
}

/* ---- input and output ----------------------------------------------------- */

const char *seal_input_name(const char *path) {
  return path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
}

void seal_text_free(char *text, size_t len) {
  if (text == NULL)
    return;
  sodium_memzero(text, len);
  free(text);
}

int seal_input_read(char **out, size_t *out_len, const char *path, size_t max) {
  keys_error kerr = {0};
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int st = SEAL_OK, rc;

  *out = NULL;
  *out_len = 0;
  if (path && strcmp(path, "-") != 0) {
    rc = keys_file_read(out, out_len, path, max, &kerr);
    if (rc != KEYS_OK)
      return seal_report_keys(path, &kerr, rc);
    return SEAL_OK;
  }
  for (;;) {
    size_t n;
    if (len > max) {
      st = seal_report(SEAL_ERR_INPUT, "stdin: input larger than %zu bytes", max);
      goto out;
    }
    if (len + 1 >= cap) {
      /* room for max bytes, one more to notice a larger input, and the NUL */
      size_t ncap = cap ? cap * 2 : 65536;
      char *nbuf;
      if (ncap > max + 2)
        ncap = max + 2;
      nbuf = malloc(ncap);
      if (nbuf == NULL) {
        st = seal_report(SEAL_ERR_ENV, "stdin: out of memory");
        goto out;
      }
      if (buf) {
        memcpy(nbuf, buf, len);
        sodium_memzero(buf, cap);
        free(buf);
      }
      buf = nbuf;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - 1 - len, stdin);
    len += n;
    if (n == 0) {
      if (ferror(stdin)) {
        st = seal_report(SEAL_ERR_INPUT, "stdin: read error: %s", strerror(errno));
        goto out;
      }
      break;
    }
  }
  if (buf == NULL) {
    buf = malloc(1);
    if (buf == NULL) {
      st = seal_report(SEAL_ERR_ENV, "stdin: out of memory");
      goto out;
    }
    cap = 1;
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  buf = NULL;
out:
  if (buf) {
    sodium_memzero(buf, cap);
    free(buf);
  }
  return st;
}

manifest_format seal_format_of(const char *text, size_t len) {
  size_t i = 0;
  if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
      (unsigned char)text[2] == 0xbf)
    i = 3;
  for (; i < len; i++) {
    if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')
      continue;
    return text[i] == '{' || text[i] == '[' ? MANIFEST_JSON : MANIFEST_YAML;
  }
  return MANIFEST_YAML;
}

int seal_docs_read(manifest_docs *docs, manifest_format *format, const char *path,
                   int (*is_kind)(const json_t *), const char *kind) {
  manifest_error merr = {0};
  const char *source = seal_input_name(path);
  char *text = NULL;
  size_t len = 0, i;
  int rc, st;

  if ((st = seal_input_read(&text, &len, path, SEAL_MAX_INPUT_BYTES)) != SEAL_OK)
    return st;
  if (format)
    *format = seal_format_of(text, len);
  rc = manifest_parse(docs, text, len, source, MANIFEST_PARSE_EXPAND_LISTS, &merr);
  seal_text_free(text, len);
  if (rc != MANIFEST_OK)
    return seal_report_manifest(source, 0, NULL, &merr, rc);
  if (docs->n == 0) {
    st = seal_report(SEAL_ERR_INPUT, "%s: no %s in the input", source, kind);
    goto out;
  }
  for (i = 0; i < docs->n; i++) {
    if (!is_kind(docs->docs[i])) {
      char what[512];
      const char *api = manifest_get_string(docs->docs[i], "apiVersion", NULL);
      seal_describe(what, sizeof what, docs->docs[i], i);
      if (is_kind == manifest_is_secret && manifest_is_sealed_secret(docs->docs[i]))
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: %s: already sealed (seal reseal re-seals it for the current key, "
                         "seal merge --into FILE adds keys to it)",
                         source, what);
      else if (is_kind == manifest_is_secret && api != NULL &&
               strcmp(api, "bitnami.com/v1alpha1") == 0)
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: %s: already sealed, by Bitnami's kubeseal (seal migrate turns it "
                         "into a seal SealedSecret)",
                         source, what);
      else
        st = seal_report(SEAL_ERR_INPUT, "%s: %s: not a %s", source, what, kind);
      goto out;
    }
  }
out:
  if (st != SEAL_OK)
    manifest_docs_free(docs);
  return st;
}

int seal_no_arguments(const char *cmd, int argc, char **argv) {
  if (optind < argc)
    return seal_usage_error(cmd, "%s%sunexpected argument '%s'", cmd, *cmd ? ": " : "",
                            argv[optind]);
  return SEAL_OK;
}

int seal_format_parse(manifest_format *out, const char *cmd, const char *text) {
  if (strcmp(text, "yaml") == 0 || strcmp(text, "yml") == 0)
    *out = MANIFEST_YAML;
  else if (strcmp(text, "json") == 0)
    *out = MANIFEST_JSON;
  else
    return seal_usage_error(cmd, "%s%sunknown output format '%s' (yaml or json)", cmd,
                            *cmd ? ": " : "", text);
  return SEAL_OK;
}

int seal_has_manifest_ext(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot == NULL || (slash && dot < slash))
    return 0;
  return strcasecmp(dot, ".yaml") == 0 || strcasecmp(dot, ".yml") == 0 ||
         strcasecmp(dot, ".json") == 0;
}

int seal_output_write(const char *path, const char *data, size_t len, unsigned mode) {
  keys_error kerr = {0};
  int rc;
  if (path == NULL || strcmp(path, "-") == 0) {
    if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0)
      return seal_report(SEAL_ERR_ENV, "stdout: write error: %s", strerror(errno));
    return SEAL_OK;
  }
  rc = keys_file_write(path, data, len, mode, 1, &kerr);
  if (rc != KEYS_OK) {
    seal_report_keys(path, &kerr, rc);
    return SEAL_ERR_ENV;
  }
  return SEAL_OK;
}

int seal_docs_write(json_t *const *docs, size_t n, manifest_format format, const char *path,
                    unsigned mode) {
  manifest_error merr = {0};
  char *text = NULL;
  size_t len = 0;
  int rc, st;

  rc = manifest_write(&text, &len, docs, n, format, &merr);
  if (rc != MANIFEST_OK)
    return seal_report_manifest(path ? path : "stdout", 0, NULL, &merr, rc);
  st = seal_output_write(path, text, len, mode);
  manifest_text_free(text, len);
  return st;
}

int seal_run_capture(char **out, size_t *out_len, size_t max, int *exit_code,
                     char *const argv[]) {
  int fds[2] = {-1, -1};
  pid_t pid = -1;
  char *buf = NULL;
  size_t len = 0;
  int st = SEAL_OK, wstatus = 0, too_big = 0;

  *out = NULL;
  *out_len = 0;
  *exit_code = -1;
  buf = malloc(max + 1);
  if (buf == NULL)
    return seal_report(SEAL_ERR_ENV, "%s: out of memory", argv[0]);
  if (pipe2(fds, O_CLOEXEC) != 0) {
    st = seal_report(SEAL_ERR_ENV, "%s: pipe: %s", argv[0], strerror(errno));
    goto out;
  }
  fflush(stdout);
  pid = fork();
  if (pid < 0) {
    st = seal_report(SEAL_ERR_ENV, "%s: fork: %s", argv[0], strerror(errno));
    goto out;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    execvp(argv[0], argv);
    fprintf(stderr, "seal: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  fds[1] = -1;
  for (;;) {
    char scratch[4096];
    ssize_t n;
    if (len < max)
      n = read(fds[0], buf + len, max - len);
    else
      n = read(fds[0], scratch, sizeof scratch);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (len < max)
      len += (size_t)n;
    else
      too_big = 1;
  }
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      st = seal_report(SEAL_ERR_ENV, "%s: waitpid: %s", argv[0], strerror(errno));
      goto out;
    }
  }
  pid = -1;
  if (WIFEXITED(wstatus))
    *exit_code = WEXITSTATUS(wstatus);
  if (too_big) {
    st = seal_report(SEAL_ERR_INPUT, "%s: output larger than %zu bytes", argv[0], max);
    goto out;
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  buf = NULL;
out:
  if (fds[0] >= 0)
    close(fds[0]);
  if (fds[1] >= 0)
    close(fds[1]);
  if (pid > 0)
    waitpid(pid, &wstatus, 0);
  if (buf) {
    sodium_memzero(buf, max + 1);
    free(buf);
  }
  return st;
}

/* ---- recipient certificates ---------------------------------------------- */

int seal_cluster_option(seal_cluster_opts *opts, int c, const char *arg) {
  switch (c) {
  case SEAL_OPT_KUBECONFIG:
    opts->kubeconfig = arg;
    return 1;
  case SEAL_OPT_CONTEXT:
    opts->context = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_NS:
    opts->controller_namespace = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_NAME:
    opts->controller_name = arg;
    return 1;
  case SEAL_OPT_CONTROLLER_URL:
    opts->controller_url = arg;
    return 1;
  default:
    return 0;
  }
}

int seal_cert_option(seal_cert_opts *opts, const char *cmd, int c, const char *arg, int *status) {
  const char *sep = *cmd ? ": " : "";
  *status = SEAL_OK;
  if (c == SEAL_OPT_CERT) {
    if (opts->n_sources >= SEAL_MAX_CERT_SOURCES)
      *status = seal_usage_error(cmd, "%s%smore than %d --cert options", cmd, sep,
                                 SEAL_MAX_CERT_SOURCES);
    else
      opts->sources[opts->n_sources++] = arg;
    return 1;
  }
  if (c == SEAL_OPT_KEY_ID) {
    if (opts->n_pinned >= KEYS_MAX_RECIPIENTS)
      *status = seal_usage_error(cmd, "%s%smore than %d --key-id options", cmd, sep,
                                 KEYS_MAX_RECIPIENTS);
    else if (strlen(arg) != 16 || keys_id_parse(opts->pinned[opts->n_pinned], arg) != KEYS_OK)
      *status = seal_usage_error(cmd, "%s%s--key-id '%s': not a key id (16 hex digits)", cmd,
                                 sep, arg);
    else
      opts->n_pinned++;
    return 1;
  }
  return seal_cluster_option(&opts->cluster, c, arg);
}

static int is_url(const char *s, const char *scheme) {
  size_t n = strlen(scheme);
  return strncasecmp(s, scheme, n) == 0;
}

int seal_cert_fetch(char **out, size_t *out_len, const char *url, int status_error) {
  long code = 0;
  int st = seal_http_fetch(out, out_len, SEAL_MAX_CERT_BYTES, &code, url, NULL, 0, NULL);
  if (st != SEAL_OK)
    return st;
  if (code != 200) {
    seal_text_free(*out, *out_len);
    *out = NULL;
    return seal_report(status_error, "%s: HTTP status %ld", url, code);
  }
  return SEAL_OK;
}

/* The text of one --cert source. */
static int cert_source_read(char **out, size_t *out_len, const char *src) {
  if (is_url(src, "http://") || is_url(src, "https://"))
    return seal_cert_fetch(out, out_len, src, SEAL_ERR_INPUT);
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
                     size_t len, const seal_cert_opts *opts) {
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

int seal_certs_load(keys_public *out, size_t *n_out, const seal_cert_opts *opts) {
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
      seal_text_free(text, len);
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
  seal_text_free(text, len);
  if (st != SEAL_OK)
    *n_out = 0;
  return st;
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct http_buf {
  char *data;
  size_t len, max;
  int too_big;
} http_buf;

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_buf *b = userdata;
  size_t n = size * nmemb;
  if (n > b->max - b->len) {
    b->too_big = 1;
    return 0;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  return n;
}

/* Plain HTTP is allowed (a controller reached through a port-forward, a
 * local test) but never silently: once per origin (scheme, host and port), a
 * warning says that nothing authenticates what comes back. */
static void warn_plain_http(const char *url, int posting) {
  static char warned[8][256];
  static size_t n_warned;
  const char *host = url + 7, *end = host + strcspn(host, "/?#");
  size_t len = (size_t)(end - url), i;

  if (strncasecmp(url, "http://", 7) != 0)
    return;
  for (i = 0; i < n_warned; i++)
    if (strlen(warned[i]) == len && strncasecmp(warned[i], url, len) == 0)
      return;
  if (n_warned < sizeof warned / sizeof warned[0] && len < sizeof warned[0])
    snprintf(warned[n_warned++], sizeof warned[0], "%.*s", (int)len, url);
  seal_warn("%.*s: plain HTTP: nothing authenticates the answer, anyone on the network path "
            "can change it (use https%s)",
            (int)len, url, posting ? "" : ", or pin the key with --key-id");
}

int seal_http_fetch(char **out, size_t *out_len, size_t max, long *http_code, const char *url,
                    const char *body, size_t body_len, const char *content_type) {
  CURL *curl = NULL;
  struct curl_slist *headers = NULL;
  http_buf b = {0};
  char errbuf[CURL_ERROR_SIZE] = "";
  const char *why;
  CURLcode cc;
  int st = SEAL_OK;

  *out = NULL;
  *out_len = 0;
  *http_code = 0;
  b.max = max;
  b.data = malloc(max + 1);
  if (b.data == NULL)
    return seal_report(SEAL_ERR_ENV, "%s: out of memory", url);
  if ((why = seal_curl_load_error()) != NULL) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", url, why);
    goto out;
  }
  curl = curl_easy_init();
  if (curl == NULL) {
    st = seal_report(SEAL_ERR_ENV, "%s: cannot initialise libcurl", url);
    goto out;
  }
  warn_plain_http(url, body != NULL);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, SEAL_CERT_TIMEOUT_SECONDS);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "seal");
  if (body) {
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    headers = curl_slist_append(headers, ct);
    if (headers == NULL) {
      st = seal_report(SEAL_ERR_ENV, "%s: out of memory", url);
      goto out;
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  cc = curl_easy_perform(curl);
  if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
    st = seal_report(SEAL_ERR_INPUT, "%s: answer larger than %zu bytes", url, max);
    goto out;
  }
  if (cc != CURLE_OK) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    goto out;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_code);
  b.data[b.len] = '\0';
  *out = b.data;
  *out_len = b.len;
  b.data = NULL;
out:
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (b.data) {
    sodium_memzero(b.data, b.len);
    free(b.data);
  }
  return st;
}
