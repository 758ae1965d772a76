/*
 * The watch stream's line splitter (kube_lines_feed): API server bytes as
 * the transport splits them. The first byte picks the longest line accepted
 * (8, 64, 1024 bytes or KUBE_DEFAULT_MAX_EVENT); the rest is fed once whole
 * and once in pieces of 1 to 16 bytes whose sizes come from the input. Both
 * must give the same lines (each without its newline, NUL-terminated, within
 * the maximum) and the same outcome; each line is then read as a watch event
 * as the watch does.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "kube.h"
#include "lines.h"

#include "banned.h"

/* The lines of one run, each followed by '\n' (a line holds none), in a
 * buffer of twice the input: lines are pieces of the input, at least one
 * byte each, so that is always enough. */
typedef struct collected {
  size_t max;
  char *out;
  size_t len, cap;
  int check_events;
} collected;

/* What the watch does with a line: a JSON object with a type and an object. */
static void read_event(const char *line, size_t len)
{
  json_error_t jerr;
  json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  const char *type;

  if (ev == NULL)
    return;
  type = json_string_value(json_object_get(ev, "type"));
  if (type != NULL && json_is_object(json_object_get(ev, "object")))
    (void)json_string_value(
        json_object_get(json_object_get(json_object_get(ev, "object"), "metadata"),
                        "resourceVersion"));
  json_decref(ev);
}

static int on_line(void *ud, char *line, size_t len)
{
  collected *c = ud;

  if (len == 0 || len > c->max)
    harness_fail("kube_lines_feed", "a line that is empty or over the maximum");
  if (line[len] != '\0' || memchr(line, '\n', len) != NULL)
    harness_fail("kube_lines_feed", "a line not cut at its newline");
  if (c->len + len + 1 > c->cap)
    harness_fail("kube_lines_feed", "more line bytes than input bytes");
  memcpy(c->out + c->len, line, len);
  c->out[c->len + len] = '\n';
  c->len += len + 1;
  if (c->check_events)
    read_event(line, len);
  return 0;
}

static int feed(collected *c, const uint8_t *data, size_t size, const uint8_t *sizes,
                size_t n_sizes, size_t *pending)
{
  kube_lines l;
  size_t pos = 0, k = 0;
  int rc = 0;

  kube_lines_init(&l, c->max);
  while (pos < size && rc == 0) {
    size_t take = size - pos;
    if (n_sizes > 0) {
      size_t want = (size_t)(sizes[k++ % n_sizes] & 15) + 1;
      if (want < take)
        take = want;
    }
    rc = kube_lines_feed(&l, (const char *)data + pos, take, on_line, c);
    pos += take;
  }
  *pending = kube_lines_pending(&l);
  kube_lines_free(&l);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t maxima[] = {8, 64, 1024, KUBE_DEFAULT_MAX_EVENT};
  collected whole, pieces;
  size_t pending_whole = 0, pending_pieces = 0;
  int rc_whole, rc_pieces;

  if (size < 1 || size > HARNESS_MAX_INPUT)
    return 0;
  memset(&whole, 0, sizeof(whole));
  memset(&pieces, 0, sizeof(pieces));
  whole.max = pieces.max = maxima[data[0] & 3];
  whole.cap = pieces.cap = 2 * size;
  whole.out = malloc(whole.cap);
  pieces.out = malloc(pieces.cap);
  if (whole.out == NULL || pieces.out == NULL)
    goto out;
  whole.check_events = 1;
  rc_whole = feed(&whole, data + 1, size - 1, NULL, 0, &pending_whole);
  rc_pieces = feed(&pieces, data + 1, size - 1, data + 1, size - 1, &pending_pieces);
  if (rc_whole != 0 && rc_whole != KUBE_ERR_LIMIT)
    harness_fail("kube_lines_feed", "failed other than with KUBE_ERR_LIMIT");
  if (rc_whole != rc_pieces)
    harness_fail("kube_lines_feed", "the outcome depends on how the bytes were split");
  if (whole.len != pieces.len || memcmp(whole.out, pieces.out, whole.len) != 0)
    harness_fail("kube_lines_feed", "the lines depend on how the bytes were split");
  if (rc_whole == 0 && pending_whole != pending_pieces)
    harness_fail("kube_lines_feed", "the unfinished line depends on how the bytes were split");
out:
  free(whole.out);
  free(pieces.out);
  return 0;
}
