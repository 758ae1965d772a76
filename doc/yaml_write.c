/*
 * json_t to YAML with libyaml's emitter: block style, strings quoted only
 * where YAML needs it, multi-line strings as literal blocks, no line wrapping
 * (long base64 stays on one line), apiVersion, kind, metadata, spec first.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "internal.h"
#include "banned.h"

typedef struct writer {
  yaml_emitter_t emitter;
  doc_buf *b;
  int buf_status;
} writer;

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
  writer *w = data;
  int rc = doc_buf_add(w->b, buffer, size);

  if (rc != DOC_OK) {
    w->buf_status = rc;
    return 0;
  }
  return 1;
}

static int emit(writer *w, yaml_event_t *ev)
{
  return yaml_emitter_emit(&w->emitter, ev) ? DOC_OK : DOC_ERR_INVALID;
}

static int emit_scalar(writer *w, const char *s, size_t n, yaml_scalar_style_t style)
{
  yaml_event_t ev;

  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
    return DOC_ERR_NOMEM;
  return emit(w, &ev);
}

static int emit_string(writer *w, const char *s, size_t n)
{
  yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;

  if (n > (size_t)DOC_MAX_BYTES * 4)
    return DOC_ERR_LIMIT;
  if (memchr(s, '\n', n) != NULL)
    style =
        YAML_LITERAL_SCALAR_STYLE; /* the emitter falls back to quotes where a block cannot hold it */
  else if (!doc_yaml_plain_safe(s, n))
    style = YAML_SINGLE_QUOTED_SCALAR_STYLE; /* or double, where single cannot hold it */
  return emit_scalar(w, s, n, style);
}

/* The shortest text that reads back as the same double, always with a '.'
 * so that every YAML reader types it as a float: 100.0, 0.25, 1.0e+300. */
static void format_real(char *out, size_t out_size, double d)
{
  char tmp[48];
  char *e;
  int prec;

  if (d == 0 || (fabs(d) >= 1e-5 && fabs(d) < 1e16)) {
    /* prec counts decimals, not digits: 17 significant digits after up to
     * five leading zeros (0.0000123...) need 22. */
    for (prec = 1; prec <= 22; prec++) {
      snprintf(tmp, sizeof tmp, "%.*f", prec, d);
      if (strtod(tmp, NULL) == d)
        break;
    }
    snprintf(out, out_size, "%s", tmp);
    return;
  }
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  e = strchr(tmp, 'e');
  if (strchr(tmp, '.') != NULL) {
    snprintf(out, out_size, "%s", tmp);
    return;
  }
  if (e == NULL) { /* %g wrote 17 digits and no exponent: 12345678901234646 */
    snprintf(out, out_size, "%s.0", tmp);
    return;
  }
  snprintf(out, out_size, "%.*s.0%s", (int)(e - tmp), tmp, e);
}

static int emit_value(writer *w, const json_t *v, int top);

static int emit_object(writer *w, const json_t *o)
{
  yaml_event_t ev;
  const char *key;
  json_t *child;
  int rc;

  if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
    return DOC_ERR_NOMEM;
  rc = emit(w, &ev);
  json_object_foreach((json_t *)o, key, child) {
    if (rc != DOC_OK)
      return rc;
    rc = emit_string(w, key, strlen(key));
    if (rc == DOC_OK)
      rc = emit_value(w, child, 0);
  }
  if (rc != DOC_OK)
    return rc;
  if (!yaml_mapping_end_event_initialize(&ev))
    return DOC_ERR_NOMEM;
  return emit(w, &ev);
}

static int emit_array(writer *w, const json_t *a)
{
  yaml_event_t ev;
  json_t *child;
  size_t i;
  int rc;

  if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
    return DOC_ERR_NOMEM;
  rc = emit(w, &ev);
  json_array_foreach(a, i, child) {
    if (rc != DOC_OK)
      return rc;
    rc = emit_value(w, child, 0);
  }
  if (rc != DOC_OK)
    return rc;
  if (!yaml_sequence_end_event_initialize(&ev))
    return DOC_ERR_NOMEM;
  return emit(w, &ev);
}

static int emit_value(writer *w, const json_t *v, int top)
{
  char num[80];
  json_t *ordered;
  int rc;

  switch (json_typeof(v)) {
  case JSON_OBJECT:
    if (!top)
      return emit_object(w, v);
    ordered = doc_ordered(v);
    if (ordered == NULL)
      return DOC_ERR_NOMEM;
    rc = emit_object(w, ordered);
    json_decref(ordered);
    return rc;
  case JSON_ARRAY:
    return emit_array(w, v);
  case JSON_STRING:
    return emit_string(w, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return emit_scalar(w, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
  case JSON_REAL:
    format_real(num, sizeof num, json_real_value(v));
    return emit_scalar(w, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
  case JSON_TRUE:
    return emit_scalar(w, "true", 4, YAML_PLAIN_SCALAR_STYLE);
  case JSON_FALSE:
    return emit_scalar(w, "false", 5, YAML_PLAIN_SCALAR_STYLE);
  case JSON_NULL:
  default:
    return emit_scalar(w, "null", 4, YAML_PLAIN_SCALAR_STYLE);
  }
}

int doc_yaml_write_doc(doc_buf *b, const json_t *doc, int first, doc_error *err)
{
  writer w;
  yaml_event_t ev;
  int rc = DOC_OK;

  memset(&w, 0, sizeof w);
  w.b = b;
  if (!yaml_emitter_initialize(&w.emitter))
    return doc_fail(err, DOC_ERR_NOMEM, 0, "out of memory writing YAML");
  yaml_emitter_set_output(&w.emitter, write_handler, &w);
  yaml_emitter_set_unicode(&w.emitter, 1);
  yaml_emitter_set_width(&w.emitter, -1);
  yaml_emitter_set_indent(&w.emitter, 2);
  yaml_emitter_set_break(&w.emitter, YAML_LN_BREAK);

  if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)) {
    rc = DOC_ERR_NOMEM;
    goto out;
  }
  rc = emit(&w, &ev);
  if (rc != DOC_OK)
    goto out;
  /* An empty map or list is written in flow style ({} or []): as the first
   * document it would make doc_parse take the stream for JSON, so it
   * gets an explicit "---". */
  if (first && json_is_object(doc) && json_object_size(doc) == 0)
    first = 0;
  if (first && json_is_array(doc) && json_array_size(doc) == 0)
    first = 0;
  if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, first)) {
    rc = DOC_ERR_NOMEM;
    goto out;
  }
  rc = emit(&w, &ev);
  if (rc == DOC_OK)
    rc = emit_value(&w, doc, 1);
  if (rc != DOC_OK)
    goto out;
  if (!yaml_document_end_event_initialize(&ev, 1) || emit(&w, &ev) != DOC_OK ||
      !yaml_stream_end_event_initialize(&ev) || emit(&w, &ev) != DOC_OK) {
    rc = DOC_ERR_INVALID;
    goto out;
  }
  if (!yaml_emitter_flush(&w.emitter))
    rc = DOC_ERR_INVALID;
out:
  if (rc != DOC_OK) {
    if (w.buf_status != DOC_OK)
      rc = doc_fail(err, w.buf_status, 0, "cannot write YAML: %s",
                    w.buf_status == DOC_ERR_LIMIT ? "output too large" : "out of memory");
    else if (rc == DOC_ERR_LIMIT)
      rc = doc_fail(err, rc, 0, "cannot write YAML: a string is too large");
    else if (rc == DOC_ERR_NOMEM)
      rc = doc_fail(err, rc, 0, "out of memory writing YAML");
    else
      rc = doc_fail(err, rc, 0, "cannot write YAML: %s",
                    w.emitter.problem ? w.emitter.problem : "emitter error");
  }
  yaml_emitter_delete(&w.emitter);
  return rc;
}
