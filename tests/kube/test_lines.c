#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube.h"
#include "lines.h"

#include "banned.h"

/* Collects lines joined by '|' so a test can compare the whole sequence. */
typedef struct collect {
  char out[8192];
  size_t len;
  int n;
  int stop_after; /* 0: never */
} collect;

static int on_line(void *ud, char *line, size_t len)
{
  collect *c = ud;
  assert_int_equal(strlen(line), len); /* NUL-terminated at len */
  assert_true(c->len + len + 2 < sizeof(c->out));
  memcpy(c->out + c->len, line, len);
  c->len += len;
  c->out[c->len++] = '|';
  c->out[c->len] = '\0';
  c->n++;
  if (c->stop_after && c->n >= c->stop_after)
    return 7;
  return 0;
}

static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
                             "{\"type\":\"BOOKMARK\"}\r\n"
                             "\n"
                             "{\"type\":\"DELETED\",\"object\":{}}\n";
static const char expected[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}|"
                               "{\"type\":\"BOOKMARK\"}|"
                               "{\"type\":\"DELETED\",\"object\":{}}|";

static void every_split_point(void **state)
{
  size_t n = strlen(stream);
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j++) {
      kube_lines l;
      collect c = {0};
      kube_lines_init(&l, 1024);
      assert_int_equal(kube_lines_feed(&l, stream, i, on_line, &c), 0);
      assert_int_equal(kube_lines_feed(&l, stream + i, j - i, on_line, &c), 0);
      assert_int_equal(kube_lines_feed(&l, stream + j, n - j, on_line, &c), 0);
      assert_string_equal(c.out, expected);
      assert_int_equal(c.n, 3);
      assert_int_equal(kube_lines_pending(&l), 0);
      kube_lines_free(&l);
    }
  }
}

static void byte_by_byte(void **state)
{
  kube_lines l;
  collect c = {0};
  kube_lines_init(&l, 1024);
  for (size_t i = 0; stream[i]; i++)
    assert_int_equal(kube_lines_feed(&l, stream + i, 1, on_line, &c), 0);
  assert_string_equal(c.out, expected);
  kube_lines_free(&l);
}

static void truncated_line_is_held_back(void **state)
{
  kube_lines l;
  collect c = {0};
  const char *s = "{\"type\":\"ADDED\"}\n{\"type\":\"MODI";
  kube_lines_init(&l, 1024);
  assert_int_equal(kube_lines_feed(&l, s, strlen(s), on_line, &c), 0);
  assert_string_equal(c.out, "{\"type\":\"ADDED\"}|");
  assert_int_equal(kube_lines_pending(&l), strlen("{\"type\":\"MODI"));
  /* the stream broke: the partial line is dropped, never delivered */
  kube_lines_reset(&l);
  assert_int_equal(kube_lines_pending(&l), 0);
  assert_int_equal(kube_lines_feed(&l, "x\n", 2, on_line, &c), 0);
  assert_string_equal(c.out, "{\"type\":\"ADDED\"}|x|");
  kube_lines_free(&l);
}

static void non_json_lines_pass_unchanged(void **state)
{
  /* the splitter does not judge content: the watch rejects non-JSON */
  kube_lines l;
  collect c = {0};
  const char s[] = "not json\n\x01\x02 binary\n{\"a\":\n";
  kube_lines_init(&l, 64);
  assert_int_equal(kube_lines_feed(&l, s, sizeof(s) - 1, on_line, &c), 0);
  assert_string_equal(c.out, "not json|\x01\x02 binary|{\"a\":|");
  kube_lines_free(&l);
}

static int count_line(void *ud, char *line, size_t len)
{
  size_t *total = ud;
  (void)line;
  *total += len;
  return 0;
}

static void embedded_nul_is_kept_in_length(void **state)
{
  /* a NUL inside a line does not cut it: the length says where it ends */
  kube_lines l;
  size_t total = 0;
  static const char s[] = "ab\0cd\nef\n";
  kube_lines_init(&l, 64);
  assert_int_equal(kube_lines_feed(&l, s, sizeof(s) - 1, count_line, &total), 0);
  assert_int_equal(total, 7);
  kube_lines_free(&l);
}

static void oversized_line_is_an_error(void **state)
{
  kube_lines l;
  size_t total = 0;
  char big[40];
  memset(big, 'x', sizeof(big));
  kube_lines_init(&l, 16);
  /* exactly the maximum passes, also with CRLF */
  assert_int_equal(kube_lines_feed(&l, big, 16, count_line, &total), 0);
  assert_int_equal(kube_lines_feed(&l, "\r\n", 2, count_line, &total), 0);
  assert_int_equal(total, 16);
  /* one more byte fails, whether it comes at once or in pieces */
  assert_int_equal(kube_lines_feed(&l, big, 17, count_line, &total), KUBE_ERR_LIMIT);
  assert_int_equal(kube_lines_pending(&l), 0);
  assert_int_equal(kube_lines_feed(&l, big, 10, count_line, &total), 0);
  assert_int_equal(kube_lines_feed(&l, big, 8, count_line, &total), KUBE_ERR_LIMIT);
  /* a line of max+1 bytes that ends in '\n' but not '\r\n' fails too */
  kube_lines_reset(&l);
  big[17] = '\n';
  assert_int_equal(kube_lines_feed(&l, big, 18, count_line, &total), KUBE_ERR_LIMIT);
  assert_int_equal(total, 16); /* nothing of the long lines was delivered */
  /* the splitter works again afterwards */
  assert_int_equal(kube_lines_feed(&l, "ok\n", 3, count_line, &total), 0);
  assert_int_equal(total, 18);
  assert_true(l.buf.cap <= 16 + 2); /* the buffer never grew past its maximum */
  kube_lines_free(&l);
}

static void callback_stop_is_returned(void **state)
{
  kube_lines l;
  collect c = {0};
  c.stop_after = 1;
  kube_lines_init(&l, 64);
  assert_int_equal(kube_lines_feed(&l, "a\nb\nc\n", 6, on_line, &c), 7);
  assert_string_equal(c.out, "a|");
  kube_lines_free(&l);
}

static void large_stream_many_lines(void **state)
{
  kube_lines l;
  size_t total = 0;
  char *s = malloc(100000);
  size_t n = 0;
  assert_non_null(s);
  for (int i = 0; i < 5000; i++)
    n += (size_t)snprintf(s + n, 100000 - n, "line %d\n", i);
  kube_lines_init(&l, 32);
  for (size_t off = 0; off < n; off += 13)
    assert_int_equal(kube_lines_feed(&l, s + off, off + 13 <= n ? 13 : n - off, count_line, &total),
                     0);
  assert_int_equal(total, n - 5000);
  kube_lines_free(&l);
  free(s);
}

/* The splitter against a plain reference on random streams cut at random
 * places: the same lines, and a limit error exactly where the reference
 * finds the first line over the maximum. */
static void random_streams_match_a_reference(void **state)
{
  static const char alphabet[] = "ab{\"\n\r";
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; round++) {
    char data[600];
    collect got = {0}, want = {0};
    size_t n, max, start = 0, i, off = 0;
    int want_rc = 0, rc = 0;
    kube_lines l;

    seed = seed * 1103515245u + 12345u;
    n = 1 + (seed >> 8) % sizeof(data);
    seed = seed * 1103515245u + 12345u;
    max = 1 + (seed >> 8) % 40;
    for (i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      data[i] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
    }
    /* reference */
    for (i = 0; i < n && want_rc == 0; i++) {
      if (data[i] != '\n')
        continue;
      {
        size_t len = i - start;
        if (len > 0 && data[start + len - 1] == '\r')
          len--;
        if (len > max) {
          want_rc = KUBE_ERR_LIMIT;
        } else if (len > 0) {
          memcpy(want.out + want.len, data + start, len);
          want.len += len;
          want.out[want.len++] = '|';
          want.out[want.len] = '\0';
        }
      }
      start = i + 1;
    }
    /* an unfinished last line over the maximum (not counting a final '\r') */
    if (want_rc == 0 && n - start > max && !(n - start == max + 1 && data[n - 1] == '\r'))
      want_rc = KUBE_ERR_LIMIT;
    kube_lines_init(&l, max);
    while (off < n && rc == 0) {
      size_t chunk;
      seed = seed * 1103515245u + 12345u;
      chunk = 1 + (seed >> 8) % 50;
      if (chunk > n - off)
        chunk = n - off;
      rc = kube_lines_feed(&l, data + off, chunk, on_line, &got);
      off += chunk;
    }
    if (rc != want_rc)
      fail_msg("round %d: rc %d, want %d (max %zu)", round, rc, want_rc, max);
    if (rc == 0)
      assert_string_equal(got.out, want.out);
    else /* whatever came before the long line came out in order */
      assert_int_equal(strncmp(got.out, want.out, got.len), 0);
    kube_lines_free(&l);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_split_point),
      cmocka_unit_test(byte_by_byte),
      cmocka_unit_test(truncated_line_is_held_back),
      cmocka_unit_test(non_json_lines_pass_unchanged),
      cmocka_unit_test(embedded_nul_is_kept_in_length),
      cmocka_unit_test(oversized_line_is_an_error),
      cmocka_unit_test(callback_stop_is_returned),
      cmocka_unit_test(large_stream_many_lines),
      cmocka_unit_test(random_streams_match_a_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
