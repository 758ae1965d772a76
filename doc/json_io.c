/*
 * JSON in and out: one or several concatenated documents, read with
 * JSON_DISABLE_EOF_CHECK and the position jansson reports.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "banned.h"

/* The newlines in text[from, to): callers count on from where they last
 * stopped, so a stream of many documents is read in linear time. */
static long newlines_between(const char *text, size_t from, size_t to)
{
  long n = 0;
  size_t i;

  for (i = from; i < to; i++)
    if (text[i] == '\n')
      n++;
  return n;
}

static size_t skip_blank(const char *text, size_t len, size_t i)
{
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    i++;
  return i;
}

/* The nesting depth of the JSON value at the start of text, up to its end
 * (strings skipped), and in *values at least the number of its values (one
 * per '{', '[', ',' and ':', plus one): checked before jansson sees it, so a
 * deep or huge document is a limit error whatever it holds. */
static int prescan(const char *text, size_t len, size_t *values)
{
  int depth = 0, max = 0, in_string = 0;
  size_t i;

  *values = 1;
  for (i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = 0;
      continue;
    }
    if (c == '"') {
      in_string = 1;
    } else if (c == '{' || c == '[') {
      (*values)++;
      if (++depth > max)
        max = depth;
      if (max > DOC_MAX_DEPTH)
        return max;
    } else if (c == ',' || c == ':') {
      (*values)++;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0)
        return max;
    }
  }
  return max;
}

int doc_json_read(doc_list *out, const char *text, size_t len, const char *source, size_t max_nodes,
                  doc_error *err)
{
  size_t nodes = 0, values = 0;
  json_error_t jerr;
  json_t *doc;
  size_t pos = 0, used, chunk, line_pos = 0;
  long line = 1, col;
  int rc;

  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    pos = 3;
  for (;;) {
    pos = skip_blank(text, len, pos);
    if (pos >= len)
      break;
    line += newlines_between(text, line_pos, pos);
    line_pos = pos;
    if (text[pos] != '{' && text[pos] != '[')
      return doc_fail(err, DOC_ERR_PARSE, line, "%s:%ld: json: unexpected text after document %zu",
                      source, line, out->n);
    /* A document may not be longer than the limit: parse at most that much
     * plus one byte, so a longer one fails as truncated and is reported as such. */
    chunk = len - pos;
    if (chunk > (size_t)DOC_MAX_BYTES)
      chunk = (size_t)DOC_MAX_BYTES;
    if (prescan(text + pos, chunk, &values) > DOC_MAX_DEPTH)
      return doc_fail(err, DOC_ERR_LIMIT, line,
                      "%s:%ld: json: document %zu nests deeper than %d levels", source, line,
                      out->n + 1, DOC_MAX_DEPTH);
    nodes += values;
    if (max_nodes > 0 && nodes > max_nodes)
      return doc_fail(err, DOC_ERR_LIMIT, line, "%s:%ld: json: more than %zu values in all", source,
                      line, max_nodes);
    memset(&jerr, 0, sizeof jerr);
    /* JSON_ALLOW_NUL: YAML's "\0" reads as a NUL, so JSON's "\u0000" must too,
     * or a document written as JSON does not read back. */
    doc = json_loadb(text + pos, chunk,
                     JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
      if (chunk < len - pos && jerr.position >= (int)chunk - 1)
        return doc_fail(err, DOC_ERR_LIMIT, line,
                        "%s:%ld: json: document %zu is larger than %d bytes", source, line,
                        out->n + 1, DOC_MAX_BYTES);
      col = jerr.column;
      return doc_fail(err, DOC_ERR_PARSE, line + jerr.line - 1, "%s:%ld:%ld: json: %s", source,
                      line + jerr.line - 1, col, jerr.text);
    }
    used = jerr.position > 0 ? (size_t)jerr.position : 0;
    if (used == 0 || used > chunk) {
      json_decref(doc);
      return doc_fail(err, DOC_ERR_PARSE, line, "%s:%ld: json: cannot tell where document %zu ends",
                      source, line, out->n + 1);
    }
    rc = doc_list_push(out, doc, line, source, err);
    if (rc != DOC_OK)
      return rc;
    pos += used;
  }
  return DOC_OK;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
  return doc_buf_add(data, buffer, size) == DOC_OK ? 0 : -1;
}

int doc_json_write_doc(doc_buf *b, const json_t *doc, doc_error *err)
{
  json_t *o = doc_ordered(doc);
  int rc;

  if (o == NULL)
    return doc_fail(err, DOC_ERR_NOMEM, 0, "out of memory writing JSON");
  rc = json_dump_callback(o, dump_cb, b, JSON_INDENT(2) | JSON_ENCODE_ANY);
  json_decref(o);
  if (rc != 0)
    return doc_fail(err, b->len + 4096 > b->max ? DOC_ERR_LIMIT : DOC_ERR_NOMEM, 0,
                    "cannot write JSON: output too large or out of memory");
  rc = doc_buf_add(b, "\n", 1);
  if (rc != DOC_OK)
    return doc_fail(err, rc, 0, "cannot write JSON: output too large or out of memory");
  return DOC_OK;
}
