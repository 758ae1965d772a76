/* Logging: one line per event in both formats whatever the values hold; JSON
 * lines parse back to the exact strings (control characters and quotes
 * escaped); logfmt values round-trip through quoting; C1 controls and bidi
 * overrides never reach the line raw; levels filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

#include "banned.h"

#define CAP_MAX 65536

static char captured[CAP_MAX];
static FILE *cap_file;
static int saved_fd = -1;

static void capture_start(void)
{
  fflush(stderr);
  cap_file = tmpfile();
  assert_non_null(cap_file);
  saved_fd = dup(2);
  assert_true(saved_fd >= 0);
  assert_int_equal(dup2(fileno(cap_file), 2), 2);
}

/* Restores stderr and returns what was written meanwhile. */
static const char *capture_end(void)
{
  fflush(stderr);
  assert_int_equal(dup2(saved_fd, 2), 2);
  close(saved_fd);
  saved_fd = -1;
  rewind(cap_file);
  size_t n = fread(captured, 1, CAP_MAX - 1, cap_file);
  captured[n] = '\0';
  fclose(cap_file);
  cap_file = NULL;
  return captured;
}

static size_t count_lines(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    if (*s == '\n')
      n++;
  return n;
}

static const char *const hostile[] = {
    "plain",
    "two words",
    "quote \" inside",
    "back\\slash",
    "line\nbreak",
    "cr\rlf\r\n",
    "tab\there",
    "bell\a esc\x1b[31m del\x7f",
    "key=value",
    "",
    "\"",
    "trailing\n",
    "\n\n\n",
    "unicode \xc3\xa9\xe2\x82\xac",
    "C:\\new folder\\x41",
    "ends in a backslash \\",
    "bidi \xe2\x80\xaeoverride\xe2\x80\xac and \xe2\x81\xa6isolate\xe2\x81\xa9",
    "c1 csi \xc2\x9b"
    "31m and nel \xc2\x85 and \xc2\x80\xc2\x9f",
    "marks \xe2\x80\x8e\xe2\x80\x8f\xd8\x9c separators \xe2\x80\xa8\xe2\x80\xa9",
    "embeddings \xe2\x80\xaa\xe2\x80\xab\xe2\x80\xad isolates \xe2\x81\xa7\xe2\x81\xa8",
    "fine \xc2\xa0\xe2\x80\x8b\xe2\x80\x90 kept",
};
#define N_HOSTILE (sizeof(hostile) / sizeof(hostile[0]))

/* The UTF-8 encodings of every code point the logs must escape, and a few
 * neighbours that stay as they are. */
static const char *const unsafe_seqs[] = {
    "\xc2\x80",     "\xc2\x85",     "\xc2\x9b",     "\xc2\x9f",     "\xd8\x9c",
    "\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaa",
    "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6",
    "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9", "\x7f",
};

static void assert_no_unsafe(const char *line)
{
  for (size_t i = 0; i < sizeof(unsafe_seqs) / sizeof(unsafe_seqs[0]); i++)
    if (strstr(line, unsafe_seqs[i]))
      fail_msg("raw control sequence %zu on the line '%s'", i, line);
}

static void test_unsafe_char_set(void **state)
{
  (void)state;
  const uint32_t unsafe[] = {0x00,   0x1b,   0x1f,   0x7f,   0x80,   0x85,   0x9b,   0x9f,  0x061c,
                             0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069};
  const uint32_t safe[] = {0x20,   0x41,   0x7e,   0xa0,   0xe9,   0x061b, 0x200d,
                           0x2027, 0x202f, 0x2065, 0x206a, 0x20ac, 0x1f600};
  for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
    if (!ctl_log_unsafe_char(unsafe[i]))
      fail_msg("U+%04X is not escaped", (unsigned)unsafe[i]);
  for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
    if (ctl_log_unsafe_char(safe[i]))
      fail_msg("U+%04X is escaped", (unsigned)safe[i]);
}

static void test_json_escapes_and_round_trips(void **state)
{
  (void)state;
  ctl_log_setup(1, CTL_LOG_DEBUG);
  for (size_t i = 0; i < N_HOSTILE; i++) {
    capture_start();
    ctl_log(CTL_LOG_INFO, hostile[i], "namespace", "ns", "name", hostile[i], NULL);
    const char *out = capture_end();
    if (count_lines(out) != 1)
      fail_msg("value %zu: %zu lines: '%s'", i, count_lines(out), out);
    assert_int_equal(out[strlen(out) - 1], '\n');
    /* no raw control character on the line */
    for (const char *p = out; *p != '\n'; p++)
      assert_false((unsigned char)*p < 0x20);
    assert_no_unsafe(out);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    if (o == NULL)
      fail_msg("value %zu: not JSON (%s): '%s'", i, jerr.text, out);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), hostile[i]);
    assert_string_equal(json_string_value(json_object_get(o, "name")), hostile[i]);
    assert_string_equal(json_string_value(json_object_get(o, "namespace")), "ns");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    const char *t = json_string_value(json_object_get(o, "time"));
    assert_non_null(t);
    assert_int_equal(strlen(t), strlen("2026-01-01T00:00:00.000Z"));
    assert_int_equal(t[strlen(t) - 1], 'Z');
    json_decref(o);
  }
}

static void test_json_invalid_utf8_keeps_the_line(void **state)
{
  (void)state;
  ctl_log_setup(1, CTL_LOG_DEBUG);
  capture_start();
  ctl_log(CTL_LOG_WARN, "bad bytes", "value", "\xff\xfe", "next", "kept", NULL);
  const char *out = capture_end();
  assert_int_equal(count_lines(out), 1);
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
  assert_string_equal(json_string_value(json_object_get(o, "next")), "kept");
  const char *v = json_string_value(json_object_get(o, "value"));
  assert_non_null(v);
  assert_null(strchr(v, '\xff'));
  json_decref(o);
}

/* Parses one logfmt line "k=v k="q" ..." into pairs; unescapes \" \\ \n \xNN \uXXXX. */
static int logfmt_get(const char *line, const char *key, char *out, size_t out_size)
{
  const char *p = line;
  while (*p && *p != '\n') {
    char k[64];
    size_t j = 0;
    while (*p && *p != '=' && *p != ' ' && *p != '\n' && j + 1 < sizeof(k))
      k[j++] = *p++;
    k[j] = '\0';
    if (*p != '=')
      fail_msg("logfmt: key '%s' without '=' in '%s'", k, line);
    p++;
    char v[1024];
    size_t n = 0;
    if (*p == '"') {
      p++;
      while (*p != '"') {
        if (*p == '\0' || *p == '\n')
          fail_msg("logfmt: unterminated quote in '%s'", line);
        char c = *p;
        if (c == '\\') {
          p++;
          if (*p == 'n')
            c = '\n';
          else if (*p == '"' || *p == '\\')
            c = *p;
          else if (*p == 'x') {
            char hex[3] = {p[1], p[2], 0};
            c = (char)strtol(hex, NULL, 16);
            p += 2;
          } else if (*p == 'u') { /* a code point, written back as UTF-8 */
            char hex[5] = {p[1], p[2], p[3], p[4], 0};
            unsigned long cp = strtoul(hex, NULL, 16);
            p += 4;
            assert_true(n + 4 < sizeof(v));
            if (cp < 0x80) {
              c = (char)cp;
            } else if (cp < 0x800) {
              v[n++] = (char)(0xc0 | (cp >> 6));
              c = (char)(0x80 | (cp & 0x3f));
            } else {
              v[n++] = (char)(0xe0 | (cp >> 12));
              v[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
              c = (char)(0x80 | (cp & 0x3f));
            }
          } else
            fail_msg("logfmt: bad escape in '%s'", line);
        }
        assert_true(n + 1 < sizeof(v));
        v[n++] = c;
        p++;
      }
      p++;
    } else {
      while (*p && *p != ' ' && *p != '\n') {
        if (*p == '"' || *p == '=')
          fail_msg("logfmt: unquoted value holds '%c' in '%s'", *p, line);
        assert_true(n + 1 < sizeof(v));
        v[n++] = *p++;
      }
    }
    v[n] = '\0';
    if (*p == ' ')
      p++;
    else if (*p != '\n' && *p != '\0')
      fail_msg("logfmt: junk after value in '%s'", line);
    if (strcmp(k, key) == 0) {
      snprintf(out, out_size, "%s", v);
      return 0;
    }
  }
  return -1;
}

static void test_text_one_line_and_round_trips(void **state)
{
  (void)state;
  ctl_log_setup(0, CTL_LOG_DEBUG);
  for (size_t i = 0; i < N_HOSTILE; i++) {
    char v[1024];
    capture_start();
    ctl_log(CTL_LOG_ERROR, hostile[i], "namespace", "ns", "name", hostile[i], NULL);
    const char *out = capture_end();
    if (count_lines(out) != 1)
      fail_msg("value %zu: %zu lines: '%s'", i, count_lines(out), out);
    for (const char *p = out; *p != '\n'; p++)
      assert_false((unsigned char)*p < 0x20 || *p == 0x7f);
    assert_no_unsafe(out);
    assert_int_equal(logfmt_get(out, "level", v, sizeof(v)), 0);
    assert_string_equal(v, "error");
    assert_int_equal(logfmt_get(out, "msg", v, sizeof(v)), 0);
    assert_string_equal(v, hostile[i]);
    assert_int_equal(logfmt_get(out, "name", v, sizeof(v)), 0);
    assert_string_equal(v, hostile[i]);
    assert_int_equal(logfmt_get(out, "namespace", v, sizeof(v)), 0);
    assert_string_equal(v, "ns");
    assert_int_equal(logfmt_get(out, "time", v, sizeof(v)), 0);
    assert_int_equal(strncmp(out, "time=", 5), 0);
  }
}

/* Bytes that are not UTF-8 (a lone 0x9b is CSI on 8-bit terminals) are
 * escaped in text lines; the rest of the line stays. */
static void test_text_escapes_bytes_that_are_not_utf8(void **state)
{
  (void)state;
  char v[1024];
  ctl_log_setup(0, CTL_LOG_DEBUG);
  capture_start();
  ctl_log(CTL_LOG_WARN, "bad bytes", "value",
          "a\x9b"
          "31mb\xff\xc2",
          "next", "kept", NULL);
  const char *out = capture_end();
  assert_int_equal(count_lines(out), 1);
  for (const char *p = out; *p; p++)
    assert_true((unsigned char)*p < 0x80);
  assert_non_null(strstr(out, "value=\"a\\x9b31mb\\xff\\xc2\""));
  assert_int_equal(logfmt_get(out, "next", v, sizeof(v)), 0);
  assert_string_equal(v, "kept");
}

static void test_null_value_is_empty(void **state)
{
  (void)state;
  char v[64];
  ctl_log_setup(0, CTL_LOG_DEBUG);
  capture_start();
  ctl_log(CTL_LOG_INFO, "x", "gone", (const char *)NULL, "after", "y", NULL);
  const char *out = capture_end();
  /* a NULL value ends the list only as a key: here it is an empty value */
  assert_int_equal(logfmt_get(out, "gone", v, sizeof(v)), 0);
  assert_string_equal(v, "");
  assert_int_equal(logfmt_get(out, "after", v, sizeof(v)), 0);
  assert_string_equal(v, "y");
}

static void test_levels_filter(void **state)
{
  (void)state;
  ctl_log_setup(0, CTL_LOG_WARN);
  assert_false(ctl_log_enabled(CTL_LOG_DEBUG));
  assert_false(ctl_log_enabled(CTL_LOG_INFO));
  assert_true(ctl_log_enabled(CTL_LOG_WARN));
  assert_true(ctl_log_enabled(CTL_LOG_ERROR));
  capture_start();
  ctl_log(CTL_LOG_DEBUG, "d", NULL);
  ctl_log(CTL_LOG_INFO, "i", NULL);
  ctl_log(CTL_LOG_WARN, "w", NULL);
  ctl_log(CTL_LOG_ERROR, "e", NULL);
  const char *out = capture_end();
  assert_int_equal(count_lines(out), 2);
  assert_null(strstr(out, "msg=d"));
  assert_null(strstr(out, "msg=i"));
  assert_non_null(strstr(out, "level=warn msg=w\n"));
  assert_non_null(strstr(out, "level=error msg=e\n"));

  ctl_log_setup(1, CTL_LOG_ERROR);
  capture_start();
  ctl_log(CTL_LOG_WARN, "w", NULL);
  ctl_log(CTL_LOG_ERROR, "e", NULL);
  out = capture_end();
  assert_int_equal(count_lines(out), 1);
  assert_non_null(strstr(out, "\"msg\":\"e\""));

  ctl_log_setup(0, CTL_LOG_DEBUG);
  capture_start();
  ctl_log(CTL_LOG_DEBUG, "d", NULL);
  out = capture_end();
  assert_non_null(strstr(out, "level=debug msg=d\n"));
}

static void test_level_parse(void **state)
{
  (void)state;
  assert_int_equal(ctl_log_level_parse("debug"), CTL_LOG_DEBUG);
  assert_int_equal(ctl_log_level_parse("info"), CTL_LOG_INFO);
  assert_int_equal(ctl_log_level_parse("warn"), CTL_LOG_WARN);
  assert_int_equal(ctl_log_level_parse("warning"), CTL_LOG_WARN);
  assert_int_equal(ctl_log_level_parse("error"), CTL_LOG_ERROR);
  assert_int_equal(ctl_log_level_parse("ERROR"), -1);
  assert_int_equal(ctl_log_level_parse(""), -1);
  assert_int_equal(ctl_log_level_parse("trace"), -1);
  assert_int_equal(ctl_log_level_parse(NULL), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unsafe_char_set),
      cmocka_unit_test(test_json_escapes_and_round_trips),
      cmocka_unit_test(test_json_invalid_utf8_keeps_the_line),
      cmocka_unit_test(test_text_one_line_and_round_trips),
      cmocka_unit_test(test_text_escapes_bytes_that_are_not_utf8),
      cmocka_unit_test(test_null_value_is_empty),
      cmocka_unit_test(test_levels_filter),
      cmocka_unit_test(test_level_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
