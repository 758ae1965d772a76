/* Reporting: the exit code of a status, and messages on stderr, escaped so
 * that no document or server answer can break a line or move the terminal. */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "safe_text.h"

#include "banned.h"

int seal_exit_code(int status)
{
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
static void put_safe(FILE *f, const char *s)
{
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

static void vline_as(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
  char buf[8192];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  fputs(prefix, f);
  put_safe(f, buf);
  if (n >= (int)sizeof buf)
    fputs("...", f);
  fputc('\n', f);
}

static void vreport(const char *fmt, va_list ap)
{
  vline_as(stderr, "seal: ", fmt, ap);
}

void seal_warn(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vline_as(stderr, "seal: warning: ", fmt, ap);
  va_end(ap);
}

void seal_print_line(FILE *f, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vline_as(f, "", fmt, ap);
  va_end(ap);
}

int seal_report(int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  return status;
}

int seal_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fprintf(stderr, "try 'seal%s%s --help'\n", cmd && *cmd ? " " : "", cmd ? cmd : "");
  return SEAL_ERR_USAGE;
}

int seal_status_from_keys(int status)
{
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

int seal_status_from_manifest(int status)
{
  switch (status) {
  case MANIFEST_OK:
    return SEAL_OK;
  case MANIFEST_ERR_NOMEM:
    return SEAL_ERR_ENV;
  default:
    return SEAL_ERR_INPUT;
  }
}

int seal_report_keys(const char *subject, const keys_error *err, int status)
{
  const char *msg = err && err->message[0] ? err->message : keys_strerror(status);
  if (subject)
    return seal_report(seal_status_from_keys(status), "%s: %s", subject, msg);
  return seal_report(seal_status_from_keys(status), "%s", msg);
}

void seal_describe(char *out, size_t out_size, const json_t *doc, size_t index)
{
  char what[400];
  manifest_describe(what, sizeof what, doc, index);
  if (strncmp(what, "document ", 9) == 0)
    snprintf(out, out_size, "%s", what);
  else
    snprintf(out, out_size, "document %zu (%s)", index + 1, what);
}

/* Drops a leading "prefix: " from msg when the library already named it. */
static const char *strip_prefix(const char *msg, const char *prefix)
{
  size_t n = strlen(prefix);
  if (n && strncmp(msg, prefix, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

/* Drops leading "document 2 (Secret): ", "Secret ns/name: " and "ns/name: "
 * parts that the caller's own description already says. */
static const char *strip_described(const char *msg, const char *inner, const char *ref)
{
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
                         const manifest_error *err, int status)
{
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
  ns = doc_get_string(doc, "metadata", "namespace", NULL);
  name = doc_get_string(doc, "metadata", "name", NULL);
  snprintf(ref, sizeof ref, "%s%s%s", ns ? ns : "", ns ? "/" : "", name ? name : "");
  msg = strip_described(msg, inner, ref);
  return seal_report(st, "%s: %s: %s", source, what, msg);
}
