/*
 * YAML to json_t with libyaml's event parser.
 *
 * Plain scalars are typed by the YAML 1.2 core schema; quoted ones are
 * strings; tags (!!str, !!int, ...) are honoured. Anchors and aliases are
 * resolved into copies, with a bound on the nodes built in a document, so an
 * alias bomb fails with a limit error. Merge keys (<<) are applied. Duplicate
 * keys, non-scalar keys, nesting past DOC_MAX_DEPTH and documents past
 * DOC_MAX_BYTES are errors that name the line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "internal.h"
#include "banned.h"

#define MAX_NODES 1000000 /* per document, aliases counted in full */
/* Nodes that aliases may copy per document: an alias bomb of a few hundred
 * bytes otherwise costs a second of CPU (and far more under the sanitizers)
 * before MAX_NODES stops it; /v1/verify parses bodies from the network. */
#define MAX_ALIAS_NODES 100000
#define MAX_ANCHORS 10000
#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct anchor {
  char *name;
  json_t *node;
  size_t nodes;
} anchor;

typedef struct reader {
  yaml_parser_t parser;
  const char *source;
  doc_error *err;
  size_t doc_start;        /* byte index of the current document */
  size_t nodes;            /* nodes built in the current document */
  size_t alias_nodes;      /* of which copied by aliases */
  size_t stream_nodes;     /* in every document so far */
  size_t max_stream_nodes; /* 0: no limit but MAX_NODES per document */
  anchor *anchors;
  size_t n_anchors;
} reader;

static void anchors_clear(reader *r)
{
  size_t i;

  for (i = 0; i < r->n_anchors; i++) {
    free(r->anchors[i].name);
    json_decref(r->anchors[i].node);
  }
  free(r->anchors);
  r->anchors = NULL;
  r->n_anchors = 0;
}

static long mark_line(const yaml_mark_t *m)
{
  return (long)m->line + 1;
}

static int fail_at(reader *r, int status, const yaml_mark_t *m, const char *fmt, const char *what)
{
  return doc_fail(r->err, status, mark_line(m), fmt, r->source, mark_line(m), (long)m->column + 1,
                  what);
}

static int next_event(reader *r, yaml_event_t *ev)
{
  yaml_parser_t *p = &r->parser;
  long line, col;

  if (!yaml_parser_parse(p, ev)) {
    if (p->error == YAML_MEMORY_ERROR)
      return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: yaml: out of memory", r->source);
    line = (long)p->problem_mark.line + 1;
    col = (long)p->problem_mark.column + 1;
    if (p->context != NULL)
      return doc_fail(r->err, DOC_ERR_PARSE, line, "%s:%ld:%ld: yaml: %s %s", r->source, line, col,
                      p->problem ? p->problem : "error", p->context);
    return doc_fail(r->err, DOC_ERR_PARSE, line, "%s:%ld:%ld: yaml: %s", r->source, line, col,
                    p->problem ? p->problem : "error");
  }
  if (ev->end_mark.index - r->doc_start > (size_t)DOC_MAX_BYTES) {
    line = mark_line(&ev->start_mark);
    yaml_event_delete(ev);
    return doc_fail(r->err, DOC_ERR_LIMIT, line, "%s:%ld: yaml: document is larger than %d bytes",
                    r->source, line, DOC_MAX_BYTES);
  }
  return DOC_OK;
}

static int count_node(reader *r, size_t n, const yaml_mark_t *m)
{
  if (n > MAX_NODES || r->nodes > MAX_NODES - n)
    return doc_fail(r->err, DOC_ERR_LIMIT, mark_line(m),
                    "%s:%ld:%ld: yaml: document builds more than %d nodes (alias bomb?)", r->source,
                    mark_line(m), (long)m->column + 1, MAX_NODES);
  if (r->max_stream_nodes > 0 &&
      (n > r->max_stream_nodes || r->stream_nodes > r->max_stream_nodes - n))
    return doc_fail(r->err, DOC_ERR_LIMIT, mark_line(m),
                    "%s:%ld:%ld: yaml: more than %zu values in all", r->source, mark_line(m),
                    (long)m->column + 1, r->max_stream_nodes);
  r->nodes += n;
  r->stream_nodes += n;
  return DOC_OK;
}

/* ---- scalars ------------------------------------------------------------ */

static int is_null_word(const char *s, size_t n)
{
  return n == 0 || (n == 1 && s[0] == '~') ||
         (n == 4 &&
          (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

static int bool_word(const char *s, size_t n)
{
  if (n == 4 &&
      (memcmp(s, "true", 4) == 0 || memcmp(s, "True", 4) == 0 || memcmp(s, "TRUE", 4) == 0))
    return 1;
  if (n == 5 &&
      (memcmp(s, "false", 5) == 0 || memcmp(s, "False", 5) == 0 || memcmp(s, "FALSE", 5) == 0))
    return 0;
  return -1;
}

static size_t span_of(const char *s, size_t n, const char *set)
{
  size_t i = 0;

  while (i < n && s[i] != '\0' && strchr(set, s[i]) != NULL)
    i++;
  return i;
}

/* YAML 1.2 core: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. *base gets 10, 8 or 16. */
static int int_form(const char *s, size_t n, int *base)
{
  size_t i = 0;

  if (n > 2 && s[0] == '0' && s[1] == 'o') {
    *base = 8;
    return span_of(s + 2, n - 2, "01234567") == n - 2;
  }
  if (n > 2 && s[0] == '0' && s[1] == 'x') {
    *base = 16;
    return span_of(s + 2, n - 2, "0123456789abcdefABCDEF") == n - 2;
  }
  *base = 10;
  if (i < n && (s[i] == '-' || s[i] == '+'))
    i++;
  return i < n && span_of(s + i, n - i, "0123456789") == n - i;
}

/* YAML 1.2 core float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int float_form(const char *s, size_t n)
{
  size_t i = 0, d;

  if (i < n && (s[i] == '-' || s[i] == '+'))
    i++;
  d = span_of(s + i, n - i, "0123456789");
  i += d;
  if (i < n && s[i] == '.') {
    size_t f;
    i++;
    f = span_of(s + i, n - i, "0123456789");
    if (d == 0 && f == 0)
      return 0;
    i += f;
  } else if (d == 0) {
    return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
      i++;
    d = span_of(s + i, n - i, "0123456789");
    if (d == 0)
      return 0;
    i += d;
  }
  return i == n;
}

/* A number, or NULL when the text is not one that JSON can hold (it then stays a string). */
static json_t *number_of(const char *s, size_t n, int want_float)
{
  char buf[128];
  char *end = NULL;
  int base;
  long long ll;
  double d;

  if (n == 0 || n >= sizeof buf || memchr(s, '\0', n) != NULL)
    return NULL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (!want_float && int_form(buf, n, &base)) {
    errno = 0;
    ll = strtoll(base == 10 ? buf : buf + 2, &end, base);
    if (errno == 0 && end != NULL && *end == '\0')
      return json_integer(ll);
    /* too large for an integer: read it as a float below */
  }
  if (float_form(buf, n) || (!want_float ? 0 : int_form(buf, n, &base) && base == 10)) {
    errno = 0;
    d = strtod(buf, &end);
    /* strtod says ERANGE also on underflow (4.9e-324, 1e-400): the value is
     * then a subnormal or zero, which is what a JSON reader makes of the same
     * text, so only an overflow (to infinity) is refused. */
    if ((errno == 0 || errno == ERANGE) && end != NULL && *end == '\0' && isfinite(d))
      return json_real(d);
  }
  return NULL;
}

/* Plain scalars: null, bool, int, float by the core schema, else string. */
static json_t *resolve_plain(const char *s, size_t n)
{
  int b, base;
  json_t *v;

  if (is_null_word(s, n))
    return json_null();
  b = bool_word(s, n);
  if (b >= 0)
    return json_boolean(b);
  if (int_form(s, n, &base) || float_form(s, n)) {
    v = number_of(s, n, 0);
    if (v != NULL)
      return v;
  }
  return json_stringn(s, n);
}

static int scalar_value(reader *r, yaml_event_t *ev, json_t **out)
{
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  json_t *v = NULL;
  int b, base;

  if (tag == NULL || strcmp(tag, "!") == 0 || strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
    /* untagged, the non-specific "!", or a local tag: type by style */
    v = plain && tag == NULL ? resolve_plain(s, n) : json_stringn(s, n);
  } else {
    tag += strlen(TAG_PREFIX);
    if (strcmp(tag, "str") == 0 || strcmp(tag, "binary") == 0 || strcmp(tag, "timestamp") == 0) {
      v = json_stringn(s, n);
    } else if (strcmp(tag, "null") == 0) {
      if (!is_null_word(s, n))
        return fail_at(r, DOC_ERR_PARSE, &ev->start_mark,
                       "%s:%ld:%ld: yaml: %s: value is not a null", "!!null");
      v = json_null();
    } else if (strcmp(tag, "bool") == 0) {
      b = bool_word(s, n);
      if (b < 0)
        return fail_at(r, DOC_ERR_PARSE, &ev->start_mark,
                       "%s:%ld:%ld: yaml: %s: value is not true or false", "!!bool");
      v = json_boolean(b);
    } else if (strcmp(tag, "int") == 0) {
      if (!int_form(s, n, &base) || (v = number_of(s, n, 0)) == NULL || !json_is_integer(v)) {
        json_decref(v);
        return fail_at(r, DOC_ERR_PARSE, &ev->start_mark,
                       "%s:%ld:%ld: yaml: %s: value is not an integer", "!!int");
      }
    } else if (strcmp(tag, "float") == 0) {
      v = number_of(s, n, 1);
      if (v == NULL)
        return fail_at(r, DOC_ERR_PARSE, &ev->start_mark,
                       "%s:%ld:%ld: yaml: %s: value is not a finite number", "!!float");
    } else if (strcmp(tag, "map") == 0 || strcmp(tag, "seq") == 0) {
      return fail_at(r, DOC_ERR_PARSE, &ev->start_mark, "%s:%ld:%ld: yaml: %s on a scalar", tag);
    } else {
      v = plain ? resolve_plain(s, n) : json_stringn(s, n);
    }
  }
  if (v == NULL)
    return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  *out = v;
  return DOC_OK;
}

/* ---- nodes -------------------------------------------------------------- */

static int build_node(reader *r, yaml_event_t *ev, int depth, json_t **out);

static int add_anchor(reader *r, const char *name, json_t *node, size_t nodes)
{
  anchor *na;
  char *copy;

  if (r->n_anchors >= MAX_ANCHORS)
    return doc_fail(r->err, DOC_ERR_LIMIT, 0, "%s: yaml: more than %d anchors", r->source,
                    MAX_ANCHORS);
  copy = strdup(name);
  if (copy == NULL)
    return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  na = realloc(r->anchors, (r->n_anchors + 1) * sizeof *na);
  if (na == NULL) {
    free(copy);
    return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  }
  r->anchors = na;
  na[r->n_anchors].name = copy;
  na[r->n_anchors].node = json_incref(node);
  na[r->n_anchors].nodes = nodes;
  r->n_anchors++;
  return DOC_OK;
}

static int resolve_alias(reader *r, yaml_event_t *ev, json_t **out)
{
  const char *name = (const char *)ev->data.alias.anchor;
  size_t i;
  int rc;

  for (i = r->n_anchors; i-- > 0;) {
    if (strcmp(r->anchors[i].name, name) != 0)
      continue;
    rc = count_node(r, r->anchors[i].nodes, &ev->start_mark);
    if (rc != DOC_OK)
      return rc;
    if (r->anchors[i].nodes > MAX_ALIAS_NODES - r->alias_nodes)
      return doc_fail(r->err, DOC_ERR_LIMIT, mark_line(&ev->start_mark),
                      "%s:%ld:%ld: yaml: aliases copy more than %d nodes (alias bomb?)", r->source,
                      mark_line(&ev->start_mark), (long)ev->start_mark.column + 1, MAX_ALIAS_NODES);
    r->alias_nodes += r->anchors[i].nodes;
    *out = json_deep_copy(r->anchors[i].node);
    if (*out == NULL)
      return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
    return DOC_OK;
  }
  return fail_at(r, DOC_ERR_PARSE, &ev->start_mark, "%s:%ld:%ld: yaml: unknown alias \"%s\"", name);
}

/* Applies the merge sources (a mapping or a sequence of mappings) to the keys
 * that the mapping does not set itself; earlier sources win. */
static int apply_merge(reader *r, json_t *map, json_t *explicit_keys, json_t *src,
                       const yaml_mark_t *m)
{
  const char *key;
  json_t *v, *item;
  size_t i;
  int rc;

  if (json_is_array(src)) {
    json_array_foreach(src, i, item) {
      if (!json_is_object(item))
        return fail_at(r, DOC_ERR_PARSE, m,
                       "%s:%ld:%ld: yaml: %s: merge sequence holds a non-mapping", "<<");
      rc = apply_merge(r, map, explicit_keys, item, m);
      if (rc != DOC_OK)
        return rc;
    }
    return DOC_OK;
  }
  if (!json_is_object(src))
    return fail_at(r, DOC_ERR_PARSE, m, "%s:%ld:%ld: yaml: %s: merge value is not a mapping", "<<");
  json_object_foreach(src, key, v) {
    if (json_object_get(explicit_keys, key) != NULL || json_object_get(map, key) != NULL)
      continue;
    if (json_object_set(map, key, v) != 0)
      return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  }
  return DOC_OK;
}

static int build_mapping(reader *r, yaml_event_t *start, int depth, json_t **out)
{
  json_t *map = json_object(), *merges = json_array(), *value = NULL, *keyv = NULL, *item;
  yaml_event_t ev;
  yaml_mark_t start_mark = start->start_mark;
  char *key = NULL;
  size_t i;
  int rc = DOC_OK, is_merge;

  if (map == NULL || merges == NULL) {
    rc = doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
    goto out;
  }
  for (;;) {
    rc = next_event(r, &ev);
    if (rc != DOC_OK)
      goto out;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    is_merge = 0;
    if (ev.type == YAML_SCALAR_EVENT) {
      if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev.data.scalar.length == 2 &&
          memcmp(ev.data.scalar.value, "<<", 2) == 0 &&
          (ev.data.scalar.tag == NULL ||
           strcmp((const char *)ev.data.scalar.tag, TAG_PREFIX "merge") == 0))
        is_merge = 1;
      if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length) != NULL) {
        rc = fail_at(r, DOC_ERR_PARSE, &ev.start_mark, "%s:%ld:%ld: yaml: %s",
                     "mapping key holds a NUL byte");
        yaml_event_delete(&ev);
        goto out;
      }
      key = strdup((const char *)ev.data.scalar.value);
      if (key == NULL) {
        yaml_event_delete(&ev);
        rc = doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
        goto out;
      }
      rc = count_node(r, 1, &ev.start_mark);
      if (rc == DOC_OK && ev.data.scalar.anchor != NULL) {
        keyv = json_string(key);
        rc = keyv == NULL ? doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source)
                          : add_anchor(r, (const char *)ev.data.scalar.anchor, keyv, 1);
        json_decref(keyv);
        keyv = NULL;
      }
      if (rc != DOC_OK) {
        yaml_event_delete(&ev);
        goto out;
      }
    } else if (ev.type == YAML_ALIAS_EVENT) {
      rc = resolve_alias(r, &ev, &keyv);
      if (rc == DOC_OK && !json_is_string(keyv))
        rc = fail_at(r, DOC_ERR_PARSE, &ev.start_mark, "%s:%ld:%ld: yaml: %s",
                     "mapping key is not a string");
      if (rc == DOC_OK && (key = strdup(json_string_value(keyv))) == NULL)
        rc = doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
      json_decref(keyv);
      keyv = NULL;
      if (rc != DOC_OK) {
        yaml_event_delete(&ev);
        goto out;
      }
    } else {
      rc = fail_at(r, DOC_ERR_PARSE, &ev.start_mark, "%s:%ld:%ld: yaml: %s",
                   "mapping key is not a scalar (complex keys are not supported)");
      yaml_event_delete(&ev);
      goto out;
    }
    /* the key's mark, for messages about it */
    yaml_mark_t key_mark = ev.start_mark;
    yaml_event_delete(&ev);

    rc = next_event(r, &ev);
    if (rc != DOC_OK)
      goto out;
    rc = build_node(r, &ev, depth + 1, &value);
    if (rc != DOC_OK)
      goto out;
    if (is_merge) {
      rc = json_array_append_new(merges, value) == 0
               ? DOC_OK
               : doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
      value = NULL;
    } else {
      if (json_object_get(map, key) != NULL) {
        rc = doc_fail(r->err, DOC_ERR_PARSE, mark_line(&key_mark),
                      "%s:%ld:%ld: yaml: duplicate mapping key \"%.200s\"", r->source,
                      mark_line(&key_mark), (long)key_mark.column + 1, key);
        goto out;
      }
      rc = json_object_set_new(map, key, value) == 0
               ? DOC_OK
               : doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
      value = NULL;
    }
    if (rc != DOC_OK)
      goto out;
    free(key);
    key = NULL;
  }
  if (json_array_size(merges) > 0) {
    json_t *explicit_keys = json_copy(map);
    if (explicit_keys == NULL) {
      rc = doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
      goto out;
    }
    json_array_foreach(merges, i, item) {
      rc = apply_merge(r, map, explicit_keys, item, &start_mark);
      if (rc != DOC_OK)
        break;
    }
    json_decref(explicit_keys);
    if (rc != DOC_OK)
      goto out;
  }
  *out = map;
  map = NULL;
out:
  free(key);
  json_decref(value);
  json_decref(merges);
  json_decref(map);
  return rc;
}

static int build_sequence(reader *r, int depth, json_t **out)
{
  json_t *seq = json_array(), *value = NULL;
  yaml_event_t ev;
  int rc = DOC_OK;

  if (seq == NULL)
    return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  for (;;) {
    rc = next_event(r, &ev);
    if (rc != DOC_OK)
      goto out;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    rc = build_node(r, &ev, depth + 1, &value);
    if (rc != DOC_OK)
      goto out;
    if (json_array_append_new(seq, value) != 0) {
      rc = doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
      goto out;
    }
  }
  *out = seq;
  seq = NULL;
out:
  json_decref(seq);
  return rc;
}

/* Builds the node that starts with ev (which it deletes) into *out. */
static int build_node(reader *r, yaml_event_t *ev, int depth, json_t **out)
{
  const char *anchor_name = NULL;
  char *anchor_copy = NULL;
  size_t before = r->nodes;
  json_t *v = NULL;
  int rc;

  *out = NULL;
  if (depth > DOC_MAX_DEPTH && ev->type != YAML_SCALAR_EVENT && ev->type != YAML_ALIAS_EVENT) {
    rc = fail_at(r, DOC_ERR_LIMIT, &ev->start_mark, "%s:%ld:%ld: yaml: %s",
                 "nesting deeper than 64 levels");
    yaml_event_delete(ev);
    return rc;
  }
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    anchor_name = (const char *)ev->data.scalar.anchor;
    break;
  case YAML_MAPPING_START_EVENT:
    anchor_name = (const char *)ev->data.mapping_start.anchor;
    break;
  case YAML_SEQUENCE_START_EVENT:
    anchor_name = (const char *)ev->data.sequence_start.anchor;
    break;
  default:
    break;
  }
  if (anchor_name != NULL && (anchor_copy = strdup(anchor_name)) == NULL) {
    yaml_event_delete(ev);
    return doc_fail(r->err, DOC_ERR_NOMEM, 0, "%s: out of memory", r->source);
  }
  if (ev->type == YAML_ALIAS_EVENT) {
    rc = resolve_alias(r, ev, &v);
  } else if (ev->type == YAML_SCALAR_EVENT) {
    rc = count_node(r, 1, &ev->start_mark);
    if (rc == DOC_OK)
      rc = scalar_value(r, ev, &v);
  } else if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
    const char *tag = ev->type == YAML_MAPPING_START_EVENT
                          ? (const char *)ev->data.mapping_start.tag
                          : (const char *)ev->data.sequence_start.tag;
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    if (tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0 &&
        strcmp(tag + strlen(TAG_PREFIX), is_map ? "map" : "seq") != 0 &&
        strcmp(tag + strlen(TAG_PREFIX), is_map ? "omap" : "set") != 0) {
      rc = fail_at(r, DOC_ERR_PARSE, &ev->start_mark, "%s:%ld:%ld: yaml: tag %s on a collection",
                   tag);
    } else {
      rc = count_node(r, 1, &ev->start_mark);
      if (rc == DOC_OK)
        rc = is_map ? build_mapping(r, ev, depth, &v) : build_sequence(r, depth, &v);
    }
  } else {
    rc = fail_at(r, DOC_ERR_PARSE, &ev->start_mark, "%s:%ld:%ld: yaml: %s", "unexpected event");
  }
  yaml_event_delete(ev);
  if (rc == DOC_OK && anchor_copy != NULL)
    rc = add_anchor(r, anchor_copy, v, r->nodes - before);
  free(anchor_copy);
  if (rc != DOC_OK) {
    json_decref(v);
    return rc;
  }
  *out = v;
  return DOC_OK;
}

int doc_yaml_read(doc_list *out, const char *text, size_t len, const char *source, size_t max_nodes,
                  doc_error *err)
{
  reader r;
  yaml_event_t ev;
  json_t *doc = NULL;
  long line;
  int rc = DOC_OK, have_event = 0;

  memset(&r, 0, sizeof r);
  r.max_stream_nodes = max_nodes;
  r.source = source;
  r.err = err;
  if (!yaml_parser_initialize(&r.parser))
    return doc_fail(err, DOC_ERR_NOMEM, 0, "%s: out of memory", source);
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);

  rc = next_event(&r, &ev);
  if (rc != DOC_OK)
    goto out;
  yaml_event_delete(&ev);
  for (;;) {
    rc = next_event(&r, &ev);
    if (rc != DOC_OK)
      goto out;
    have_event = 1;
    if (ev.type == YAML_STREAM_END_EVENT)
      break;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
      rc = fail_at(&r, DOC_ERR_PARSE, &ev.start_mark, "%s:%ld:%ld: yaml: %s",
                   "expected a document");
      goto out;
    }
    r.doc_start = ev.start_mark.index;
    r.nodes = 0;
    r.alias_nodes = 0;
    yaml_event_delete(&ev);
    have_event = 0;

    rc = next_event(&r, &ev);
    if (rc != DOC_OK)
      goto out;
    line = mark_line(&ev.start_mark);
    rc = build_node(&r, &ev, 1, &doc);
    if (rc != DOC_OK)
      goto out;
    anchors_clear(&r);
    if (doc_depth(doc, DOC_MAX_DEPTH + 1) > DOC_MAX_DEPTH) {
      rc = doc_fail(err, DOC_ERR_LIMIT, line,
                    "%s:%ld: yaml: document %zu nests deeper than %d levels", source, line,
                    out->n + 1, DOC_MAX_DEPTH);
      goto out;
    }

    rc = next_event(&r, &ev);
    if (rc != DOC_OK)
      goto out;
    have_event = 1;
    if (ev.type != YAML_DOCUMENT_END_EVENT) {
      rc = fail_at(&r, DOC_ERR_PARSE, &ev.start_mark, "%s:%ld:%ld: yaml: %s",
                   "expected the end of the document");
      goto out;
    }
    yaml_event_delete(&ev);
    have_event = 0;
    if (json_is_null(doc)) {
      json_decref(doc);
      doc = NULL;
      continue;
    }
    rc = doc_list_push(out, doc, line, source, err);
    doc = NULL;
    if (rc != DOC_OK)
      goto out;
  }
out:
  if (have_event)
    yaml_event_delete(&ev);
  json_decref(doc);
  anchors_clear(&r);
  yaml_parser_delete(&r.parser);
  return rc;
}

int doc_yaml_plain_safe(const char *s, size_t n)
{
  static const char *const words11[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                        "NO", "on", "On",  "ON",  "off", "Off", "OFF", "=",  "<<"};
  json_t *v;
  size_t i;
  int is_string;

  if (n == 0)
    return 0;
  for (i = 0; i < sizeof words11 / sizeof words11[0]; i++)
    if (strlen(words11[i]) == n && memcmp(words11[i], s, n) == 0)
      return 0;
  /* Anything that starts like a number (octal 0644, 1_000, 1:30, dates,
   * .inf) is quoted: YAML 1.1 readers type more of these than 1.2 does. */
  if ((s[0] >= '0' && s[0] <= '9') || s[0] == '.' ||
      ((s[0] == '-' || s[0] == '+') && n > 1 && ((s[1] >= '0' && s[1] <= '9') || s[1] == '.')))
    return 0;
  if (memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL)
    return 0;
  v = resolve_plain(s, n);
  is_string = json_is_string(v);
  json_decref(v);
  return is_string;
}
