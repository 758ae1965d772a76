#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "doc.h"
#include "log.h"
#include "safe_text.h"

#include "banned.h"

static int log_json;
static int log_min = CTL_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ctl_log_setup(int json, int level)
{
  log_json = json;
  log_min = level;
}

int ctl_log_level_parse(const char *text)
{
  if (text == NULL)
    return -1;
  for (int i = 0; i < 4; i++)
    if (strcmp(text, level_names[i]) == 0)
      return i;
  if (strcmp(text, "warning") == 0)
    return CTL_LOG_WARN;
  return -1;
}

int ctl_log_enabled(int level)
{
  return level >= log_min;
}

static void log_time(char *out, size_t out_size)
{
  struct timeval tv;
  struct tm tm;

  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(out, out_size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, out_size - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static int utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
  return seal_utf8_next(p, n, cp);
}

int ctl_log_unsafe_char(uint32_t cp)
{
  return seal_unsafe_char(cp);
}

/* logfmt: quote values holding spaces, quotes, '=', control characters (C0,
 * DEL, C1), bidi controls or bytes that are not UTF-8; inside quotes these are
 * escaped (\n, \xNN for a byte, \uXXXX for a code point), so a value can
 * neither break the line nor reorder or recolour what a terminal shows. */
static void put_text_value(FILE *f, const char *v)
{
  const unsigned char *s = (const unsigned char *)v;
  size_t n = strlen(v);
  int quote = (n == 0);
  for (size_t i = 0; i < n && !quote;) {
    uint32_t cp;
    int len = utf8_next(s + i, n - i, &cp);
    if (len < 0 || s[i] == ' ' || s[i] == '"' || s[i] == '=' || ctl_log_unsafe_char(cp))
      quote = 1;
    i += len < 0 ? 1 : (size_t)len;
  }
  if (!quote) {
    fputs(v, f);
    return;
  }
  fputc('"', f);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    int len = utf8_next(s + i, n - i, &cp);
    if (len < 0) {
      fprintf(f, "\\x%02x", s[i]);
      i++;
      continue;
    }
    if (cp == '"' || cp == '\\')
      fprintf(f, "\\%c", (int)cp);
    else if (cp == '\n')
      fputs("\\n", f);
    else if (cp < 0x80 && ctl_log_unsafe_char(cp))
      fprintf(f, "\\x%02x", (unsigned)cp);
    else if (ctl_log_unsafe_char(cp))
      fprintf(f, "\\u%04x", (unsigned)cp);
    else
      fwrite(s + i, 1, (size_t)len, f);
    i += (size_t)len;
  }
  fputc('"', f);
}

/* jansson writes DEL, C1 and bidi controls raw; JSON text holds them only
 * inside strings, where \uXXXX stands for the same character. Returns a
 * malloc'ed line, or NULL when out of memory. */
static char *json_escape_unsafe(const char *line)
{
  const unsigned char *s = (const unsigned char *)line;
  size_t n = strlen(line);
  char *out = malloc(n * 6 + 1); /* at worst every byte becomes \u00XX */
  size_t j = 0;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    int len = utf8_next(s + i, n - i, &cp);
    if (len < 0) { /* jansson never writes this; a replacement character if it did */
      j += (size_t)snprintf(out + j, n * 6 + 1 - j, "\\ufffd");
      i++;
      continue;
    }
    if (cp >= 0x20 && ctl_log_unsafe_char(cp))
      j += (size_t)snprintf(out + j, n * 6 + 1 - j, "\\u%04x", (unsigned)cp);
    else {
      memcpy(out + j, s + i, (size_t)len);
      j += (size_t)len;
    }
    i += (size_t)len;
  }
  out[j] = '\0';
  return out;
}

void ctl_logv(int level, const char *msg, va_list ap)
{
  char ts[40];

  if (level < log_min)
    return;
  if (level < CTL_LOG_DEBUG || level > CTL_LOG_ERROR)
    level = CTL_LOG_ERROR;
  log_time(ts, sizeof(ts));

  if (log_json) {
    json_t *o = json_object();
    char *line = NULL;
    if (o == NULL)
      return;
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    for (;;) {
      const char *k = va_arg(ap, const char *);
      if (k == NULL)
        break;
      const char *v = va_arg(ap, const char *);
      json_t *jv = json_string(v ? v : "");
      if (jv == NULL) /* not UTF-8: keep the line, drop the value */
        jv = json_string("(invalid utf-8)");
      json_object_set_new(o, k, jv);
    }
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
      return;
    char *safe = json_escape_unsafe(line);
    pthread_mutex_lock(&log_lock);
    fputs(safe ? safe : "{\"level\":\"error\",\"msg\":\"out of memory\"}", stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    free(safe);
    doc_json_free(line);
    return;
  }

  pthread_mutex_lock(&log_lock);
  fprintf(stderr, "time=%s level=%s msg=", ts, level_names[level]);
  put_text_value(stderr, msg ? msg : "");
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (k == NULL)
      break;
    const char *v = va_arg(ap, const char *);
    fprintf(stderr, " %s=", k);
    put_text_value(stderr, v ? v : "");
  }
  fputc('\n', stderr);
  fflush(stderr);
  pthread_mutex_unlock(&log_lock);
}

void ctl_log(int level, const char *msg, ...)
{
  va_list ap;
  va_start(ap, msg);
  ctl_logv(level, msg, ap);
  va_end(ap);
}
