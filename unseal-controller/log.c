#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "log.h"

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

/* logfmt: quote values holding spaces, quotes, '=' or control characters. */
static void put_text_value(FILE *f, const char *v)
{
  int quote = (*v == '\0');
  for (const char *p = v; *p && !quote; p++)
    if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20 || *p == 0x7f)
      quote = 1;
  if (!quote) {
    fputs(v, f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\x%02x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
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
    pthread_mutex_lock(&log_lock);
    fputs(line, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    {
      /* json_dumps allocates with jansson's allocator (manifest_init sets a wiping one) */
      json_malloc_t m = NULL;
      json_free_t f = NULL;
      json_get_alloc_funcs(&m, &f);
      (f ? f : free)(line);
    }
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
