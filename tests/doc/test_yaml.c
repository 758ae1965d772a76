/* libdoc: YAML and JSON in and out, including hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "doc.h"
#include "parse_helpers.h"
#include "banned.h"

static void test_plain_and_quoted_typing(void **state)
{
  json_t *d = parse_one("a: true\n"
                        "b: \"true\"\n"
                        "c: 'yes'\n"
                        "d: yes\n"
                        "e: 10\n"
                        "f: \"10\"\n"
                        "g: 1.5\n"
                        "h: ~\n"
                        "i:\n"
                        "j: NULL\n"
                        "k: 0x1F\n"
                        "l: 0o17\n"
                        "m: 1e3\n"
                        "n: FALSE\n"
                        "o: 0123\n"
                        "p: !!str 42\n"
                        "q: !!int \"42\"\n"
                        "r: .inf\n"
                        "s: -7\n"
                        "t: on\n"
                        "u: 1.2.3\n"
                        "v: !!float 3\n"
                        "w: ! 12\n");
  (void)state;
  assert_true(json_is_true(json_object_get(d, "a")));
  assert_string_equal(doc_get_string(d, "b", NULL), "true");
  assert_string_equal(doc_get_string(d, "c", NULL), "yes");
  assert_string_equal(doc_get_string(d, "d", NULL), "yes");
  assert_int_equal(json_integer_value(json_object_get(d, "e")), 10);
  assert_true(json_is_integer(json_object_get(d, "e")));
  assert_string_equal(doc_get_string(d, "f", NULL), "10");
  assert_true(json_is_real(json_object_get(d, "g")));
  assert_true(json_real_value(json_object_get(d, "g")) == 1.5);
  assert_true(json_is_null(json_object_get(d, "h")));
  assert_true(json_is_null(json_object_get(d, "i")));
  assert_true(json_is_null(json_object_get(d, "j")));
  assert_int_equal(json_integer_value(json_object_get(d, "k")), 31);
  assert_int_equal(json_integer_value(json_object_get(d, "l")), 15);
  assert_true(json_real_value(json_object_get(d, "m")) == 1000.0);
  assert_true(json_is_false(json_object_get(d, "n")));
  assert_int_equal(json_integer_value(json_object_get(d, "o")), 123);
  assert_string_equal(doc_get_string(d, "p", NULL), "42");
  assert_int_equal(json_integer_value(json_object_get(d, "q")), 42);
  assert_string_equal(doc_get_string(d, "r", NULL), ".inf");
  assert_int_equal(json_integer_value(json_object_get(d, "s")), -7);
  assert_string_equal(doc_get_string(d, "t", NULL), "on");
  assert_string_equal(doc_get_string(d, "u", NULL), "1.2.3");
  assert_true(json_is_real(json_object_get(d, "v")));
  assert_string_equal(doc_get_string(d, "w", NULL), "12");
  json_decref(d);
  /* Underflow reads as zero, as in JSON; overflow is no number (a string). */
  d = parse_one("a: 1e-400\nb: 1e400\nc: !!float 1e-400\n");
  assert_true(json_is_real(json_object_get(d, "a")));
  assert_true(json_real_value(json_object_get(d, "a")) == 0.0);
  assert_string_equal(doc_get_string(d, "b", NULL), "1e400");
  assert_true(json_is_real(json_object_get(d, "c")));
  json_decref(d);
}

static void test_bad_tags(void **state)
{
  doc_error err;

  (void)state;
  parse_fails("a: !!int abc\n", 13, DOC_ERR_PARSE, "stdin:1:4: yaml: !!int", &err);
  parse_fails("a: !!bool yes\n", 14, DOC_ERR_PARSE, "not true or false", &err);
  parse_fails("a: !!map b\n", 11, DOC_ERR_PARSE, "on a scalar", &err);
}

static void test_anchors_and_merge_keys(void **state)
{
  json_t *d = parse_one("base: &base\n"
                        "  a: 1\n"
                        "  b: two\n"
                        "list: &l [x, y]\n"
                        "use:\n"
                        "  <<: *base\n"
                        "  b: three\n"
                        "  c: *l\n"
                        "multi:\n"
                        "  <<: [*base, {d: 4, a: 9}]\n"
                        "quoted:\n"
                        "  '<<': not a merge\n");
  json_t *use, *multi;

  (void)state;
  use = json_object_get(d, "use");
  assert_int_equal(json_object_size(use), 3);
  assert_int_equal(json_integer_value(json_object_get(use, "a")), 1);
  assert_string_equal(doc_get_string(use, "b", NULL), "three");
  assert_int_equal(json_array_size(json_object_get(use, "c")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(use, "c"), 1)), "y");
  multi = json_object_get(d, "multi");
  assert_int_equal(json_integer_value(json_object_get(multi, "a")), 1); /* earlier source wins */
  assert_string_equal(doc_get_string(multi, "b", NULL), "two");
  assert_int_equal(json_integer_value(json_object_get(multi, "d")), 4);
  assert_string_equal(doc_get_string(d, "quoted", "<<", NULL), "not a merge");
  /* aliases are copies: changing one leaves the anchor alone */
  json_object_set_new(use, "a", json_integer(5));
  assert_int_equal(json_integer_value(doc_get(d, "base", "a", NULL)), 1);
  json_decref(d);
}

static void test_merge_of_scalar_refused(void **state)
{
  doc_error err;
  const char *t = "a: &x 1\nb:\n  <<: *x\n";

  (void)state;
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "merge value is not a mapping", &err);
}

static void test_flow_comments_crlf_bom(void **state)
{
  const char *t = "\xef\xbb\xbf# a comment\r\n"
                  "apiVersion: v1   # trailing comment\r\n"
                  "kind: Secret\r\n"
                  "metadata: {name: x, labels: {app: web}}\r\n"
                  "items: [1, 'two', \"th#ree\"]\r\n"
                  "text: |\r\n"
                  "  one\r\n"
                  "  two\r\n";
  doc_list docs;
  json_t *d;

  (void)state;
  parse_ok(&docs, t, 0);
  assert_int_equal(docs.n, 1);
  assert_int_equal(docs.lines[0], 2);
  d = docs.docs[0];
  assert_string_equal(doc_get_string(d, "apiVersion", NULL), "v1");
  assert_string_equal(doc_get_string(d, "kind", NULL), "Secret");
  assert_string_equal(doc_get_string(d, "metadata", "labels", "app", NULL), "web");
  assert_string_equal(json_string_value(json_array_get(json_object_get(d, "items"), 2)), "th#ree");
  assert_string_equal(doc_get_string(d, "text", NULL), "one\ntwo\n");
  doc_list_free(&docs);
}

static void test_multi_document_lines(void **state)
{
  doc_list docs;

  (void)state;
  parse_ok(&docs,
           "---\n"
           "a: 1\n"
           "---\n"
           "# only a comment: an empty document\n"
           "---\n"
           "b: 2\n"
           "...\n"
           "---\n"
           "c: 3\n",
           0);
  assert_int_equal(docs.n, 3);
  assert_int_equal(docs.lines[0], 2);
  assert_int_equal(docs.lines[1], 6);
  assert_int_equal(docs.lines[2], 9);
  assert_int_equal(json_integer_value(json_object_get(docs.docs[2], "c")), 3);
  doc_list_free(&docs);
  parse_ok(&docs, "", 0);
  assert_int_equal(docs.n, 0);
  doc_list_free(&docs);
  parse_ok(&docs, "# nothing\n---\n---\n", 0);
  assert_int_equal(docs.n, 0);
  doc_list_free(&docs);
}

static void test_block_literals(void **state)
{
  json_t *d = parse_one("a: |\n  line1\n  line2\n"
                        "b: >\n  folded\n  text\n"
                        "c: |-\n  strip\n"
                        "d: |+\n  keep\n\n"
                        "e: |2\n    indented\n");

  (void)state;
  assert_string_equal(doc_get_string(d, "a", NULL), "line1\nline2\n");
  assert_string_equal(doc_get_string(d, "b", NULL), "folded text\n");
  assert_string_equal(doc_get_string(d, "c", NULL), "strip");
  assert_string_equal(doc_get_string(d, "d", NULL), "keep\n\n");
  assert_string_equal(doc_get_string(d, "e", NULL), "  indented\n");
  json_decref(d);
}

static void test_list_expansion(void **state)
{
  const char *t = "apiVersion: v1\n"
                  "kind: List\n"
                  "items:\n"
                  "- {apiVersion: v1, kind: Secret, metadata: {name: a}}\n"
                  "- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
                  "---\n"
                  "kind: SecretList\n"
                  "items: [{kind: Secret, metadata: {name: c}}]\n"
                  "---\n"
                  "kind: ConfigMap\n"
                  "metadata: {name: d}\n";
  doc_list docs;

  (void)state;
  parse_ok(&docs, t, 0);
  assert_int_equal(docs.n, 3);
  doc_list_free(&docs);
  parse_ok(&docs, t, DOC_PARSE_EXPAND_LISTS);
  assert_int_equal(docs.n, 4);
  assert_string_equal(doc_get_string(docs.docs[0], "metadata", "name", NULL), "a");
  assert_string_equal(doc_get_string(docs.docs[1], "metadata", "name", NULL), "b");
  assert_string_equal(doc_get_string(docs.docs[2], "metadata", "name", NULL), "c");
  assert_string_equal(doc_get_string(docs.docs[3], "metadata", "name", NULL), "d");
  assert_int_equal(docs.lines[2], 7);
  doc_list_free(&docs);
}

static void test_json_stream(void **state)
{
  doc_list docs;
  doc_error err;
  const char *t;

  (void)state;
  parse_ok(&docs, "  {\"a\": 1}{\"b\": [true, null]}\n\n[1, 2]\n", 0);
  assert_int_equal(docs.n, 3);
  assert_int_equal(docs.lines[2], 3);
  assert_true(json_is_null(json_array_get(doc_get(docs.docs[1], "b", NULL), 1)));
  doc_list_free(&docs);
  parse_ok(&docs, "\xef\xbb\xbf{\"kind\": \"List\", \"items\": [{\"x\": 1}, {\"y\": 2}]}",
           DOC_PARSE_EXPAND_LISTS);
  assert_int_equal(docs.n, 2);
  doc_list_free(&docs);

  t = "{\"a\": 1}\n{\"b\": 2} trailing";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:2: json: unexpected text after document 2", &err);
  assert_int_equal(err.line, 2);
  t = "{\"a\": [1, 2";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:1:", &err);
  t = "{\"a\": 1, \"a\": 2}";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "duplicate", &err);
  t = "{\"a\": \"\xff\"}";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "json", &err);
  t = "{\"a\": 1}\n\n{\"b\": }";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:3:", &err);
  assert_int_equal(err.line, 3);
}

/* doc_format_of is the decision doc_parse makes: what reads as JSON is JSON */
static void test_format_of(void **state)
{
  static const struct {
    const char *text;
    doc_format format;
  } cases[] = {
      {"{\"a\": 1}", DOC_JSON},
      {"[1, 2]", DOC_JSON},
      {" \t\r\n\n  {\"a\": 1}", DOC_JSON},
      {"\xef\xbb\xbf{\"a\": 1}", DOC_JSON},
      {"\xef\xbb\xbf \n[1]", DOC_JSON},
      {"a: 1\n", DOC_YAML},
      {"---\n{\"a\": 1}\n", DOC_YAML}, /* a YAML stream whose document is in flow style */
      {"# {not json}\na: 1\n", DOC_YAML},
      {"\xef\xbb\xbf", DOC_YAML},
      {"  \n", DOC_YAML},
      {"", DOC_YAML},
  };
  doc_list docs;
  doc_error err;

  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *t = cases[i].text;
    assert_int_equal(doc_format_of(t, strlen(t)), cases[i].format);
  }
  /* "{" alone: JSON to both, so doc_parse fails with the JSON reader's error */
  assert_int_equal(doc_format_of("{", 1), DOC_JSON);
  parse_fails("{", 1, DOC_ERR_PARSE, "json", &err);
  /* the length bounds the look: a '{' past len is not seen */
  assert_int_equal(doc_format_of("  {", 2), DOC_YAML);
  parse_ok(&docs, "---\n{\"a\": 1}\n", 0);
  assert_int_equal(docs.n, 1);
  doc_list_free(&docs);
}

static char *nested(size_t levels, const char *open, const char *close, const char *inner)
{
  size_t n = levels * (strlen(open) + strlen(close)) + strlen(inner) + 1, i;
  char *s = malloc(n), *p;

  assert_non_null(s);
  p = s;
  for (i = 0; i < levels; i++) {
    memcpy(p, open, strlen(open));
    p += strlen(open);
  }
  memcpy(p, inner, strlen(inner));
  p += strlen(inner);
  for (i = 0; i < levels; i++) {
    memcpy(p, close, strlen(close));
    p += strlen(close);
  }
  *p = '\0';
  return s;
}

static void test_depth_limit(void **state)
{
  doc_error err;
  doc_list docs;
  char *s;

  (void)state;
  s = nested(64, "[", "]", "1");
  parse_ok(&docs, s, 0); /* JSON: 64 levels are fine */
  doc_list_free(&docs);
  free(s);
  s = nested(65, "[", "]", "1");
  parse_fails(s, strlen(s), DOC_ERR_LIMIT, "deeper than 64", &err);
  free(s);
  for (int levels = 63; levels <= 64; levels++) {
    /* YAML: a block sequence holding flow sequences */
    char *inner = nested((size_t)levels, "[", "]", "1");
    size_t n = strlen(inner) + 3;
    s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "- %s", inner);
    free(inner);
    if (levels == 63) {
      parse_ok(&docs, s, 0);
      doc_list_free(&docs);
      free(s);
    }
  }
  parse_fails(s, strlen(s), DOC_ERR_LIMIT, "deeper than 64", &err);
  free(s);
  s = nested(100000, "[", "]", "");
  parse_fails(s, strlen(s), DOC_ERR_LIMIT, NULL, &err);
  free(s);
  s = nested(100000, "- ", "", "x");
  parse_fails(s, strlen(s), DOC_ERR_LIMIT, "stdin:1:", &err);
  free(s);
  /* an alias may not carry a document past the limit either */
  s = nested(40, "[", "]", "1");
  {
    char *t = malloc(strlen(s) * 2 + 64);
    char *deep = nested(30, "[", "]", "*a");
    assert_non_null(t);
    snprintf(t, strlen(s) * 2 + 64, "a: &a %s\nb: %s\n", s, deep);
    parse_fails(t, strlen(t), DOC_ERR_LIMIT, "deeper than 64", &err);
    free(deep);
    free(t);
  }
  free(s);
}

static void test_billion_laughs(void **state)
{
  const char *t =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
  doc_error err;

  (void)state;
  parse_fails(t, strlen(t), DOC_ERR_LIMIT, "alias", &err);
  assert_true(err.line >= 6);
}

static void test_yaml_errors(void **state)
{
  doc_error err;
  const char *t;

  (void)state;
  t = "a: 1\nb: 2\nc: d: e\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:3:5: yaml: mapping values are not allowed", &err);
  assert_int_equal(err.line, 3);
  t = "apiVersion: v1\nkind: Secret\napiVersion: v2\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:3:1: yaml: duplicate mapping key \"apiVersion\"",
              &err);
  assert_int_equal(err.line, 3);
  t = "? [a, b]\n: c\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "not a scalar", &err);
  t = "a: *nope\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "unknown alias \"nope\"", &err);
  t = "a: [1, 2\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:", &err);
  t = "a: \"unterminated\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "yaml:", &err);
  t = "a:\n\t- tab\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:2:", &err);
  t = "a: \xc3\x28\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "yaml:", &err);
  t = "ok: 1\n---\nbad: [\n";
  parse_fails(t, strlen(t), DOC_ERR_PARSE, "stdin:", &err);
  parse_fails("a: 1\0b: 2\n", 10, DOC_ERR_PARSE, "yaml:", &err);
}

static void test_oversized(void **state)
{
  size_t big = (size_t)DOC_MAX_BYTES + 1024, i;
  char *t = malloc((7u << 20) + 64);
  doc_error err;
  doc_list docs;

  (void)state;
  assert_non_null(t);
  /* YAML: one scalar past the limit */
  memcpy(t, "a: ", 3);
  memset(t + 3, 'x', big);
  memcpy(t + 3 + big, "\n", 2);
  parse_fails(t, strlen(t), DOC_ERR_LIMIT, "larger than 4194304 bytes", &err);
  /* JSON: the same */
  memcpy(t, "{\"a\":\"", 6);
  memset(t + 6, 'x', big);
  memcpy(t + 6 + big, "\"}", 3);
  parse_fails(t, strlen(t), DOC_ERR_LIMIT, "larger than 4194304 bytes", &err);
  /* two documents of 3 MiB each are fine: the limit is per document */
  i = 0;
  for (int d = 0; d < 2; d++) {
    memcpy(t + i, "---\na: ", 7);
    i += 7;
    memset(t + i, 'y', 3u << 20);
    i += 3u << 20;
    t[i++] = '\n';
  }
  t[i] = '\0';
  parse_ok(&docs, t, 0);
  assert_int_equal(docs.n, 2);
  doc_list_free(&docs);
  free(t);
}

static void test_garbage(void **state)
{
  unsigned char buf[512];
  uint32_t x = 12345;
  doc_list docs;
  doc_error err;
  int rc, round;
  size_t i, len;

  (void)state;
  for (round = 0; round < 2000; round++) {
    len = (size_t)(round % 512);
    for (i = 0; i < len; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (unsigned char)(x >> 16);
      /* every fourth round, YAML-ish bytes only, to reach deeper paths */
      if (round % 4 == 0)
        buf[i] = (unsigned char)"ab:- []{}&*!|>'\"#\n \t,?0~.<"[buf[i] % 27];
    }
    if (round % 3 == 0 && len > 0)
      buf[0] = '{';
    memset(&err, 0, sizeof err);
    rc = doc_parse(&docs, (const char *)buf, len, "stdin", DOC_PARSE_EXPAND_LISTS, &err);
    if (rc == DOC_OK) {
      doc_list_free(&docs);
      continue;
    }
    assert_true(rc == DOC_ERR_PARSE || rc == DOC_ERR_LIMIT);
    assert_int_equal(err.status, rc);
    assert_true(strncmp(err.message, "stdin", 5) == 0);
    assert_int_equal(docs.n, 0);
  }
}

/* ---- writing -------------------------------------------------------------- */

static const char *const tricky[] = {
    "yes",
    "no",
    "on",
    "off",
    "y",
    "N",
    "true",
    "False",
    "null",
    "~",
    "",
    "  lead",
    "trail  ",
    "0123",
    "0x1F",
    "0o17",
    "1e3",
    "1.0",
    "12",
    "-5",
    "+5",
    ".5",
    "1_000",
    "1:30",
    "2024-01-01",
    "a: b",
    "a #b",
    "#x",
    "- x",
    "[x]",
    "{x}",
    "*ref",
    "&anc",
    "!tag",
    "%dir",
    "@at",
    "`bt",
    "'single'",
    "\"double\"",
    "it's",
    "ünïcödé ☃ 日本",
    "multi\nline\n",
    "multi\nno final newline",
    "trailing\n\n\n",
    "\n leading newline",
    "  indented\nblock\n",
    "tab\there",
    "<<",
    "=",
    "?",
    "-",
    ":",
    ",",
    "a,b",
    "key:",
    "x\r\ny",
    "\x7f",
    "end with space \n",
    "NaN",
    ".nan",
    "-.inf",
    "hello world",
    "http://example.com:8080/a?b=c#d",
};

static void test_tricky_strings_round_trip(void **state)
{
  json_t *doc = json_object(), *back;
  char *out;
  size_t len, i;
  char key[32];

  (void)state;
  json_object_set_new(doc, "first", json_true());
  for (i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
    snprintf(key, sizeof key, "k%zu", i);
    json_object_set_new(doc, key, json_string(tricky[i]));
    json_object_set_new(doc, tricky[i], json_integer((json_int_t)i)); /* as keys too */
  }
  json_object_set_new(doc, "nul", json_stringn("a\0b", 3));
  out = write_one(doc, DOC_YAML, &len);
  back = parse_one(out);
  if (!json_equal(doc, back))
    fail_msg("round trip differs:\n%s", out);
  /* plain where plain is safe, quoted where it is not */
  for (i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
    static const struct {
      const char *value, *written;
    } want[] = {{"hello world", "hello world\n"},
                {"yes", "'yes'\n"},
                {"0123", "'0123'\n"},
                {"", "''\n"},
                {"  lead", "'  lead'\n"},
                {"multi\nline\n", "|\n  multi\n  line\n"},
                {"it's", "it's\n"},
                {"a: b", "'a: b'\n"},
                {"<<", "'<<'\n"}};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
      char line[64];
      if (strcmp(tricky[i], want[w].value) != 0)
        continue;
      snprintf(line, sizeof line, "\nk%zu: %s", i, want[w].written);
      if (strstr(out, line) == NULL)
        fail_msg("\"%s\" not written as %s in:\n%s", want[w].value, want[w].written, out);
    }
  }
  assert_non_null(strstr(out, "\n'yes': 0\n"));
  json_decref(back);
  doc_wipe_free(out, len);
  json_decref(doc);
}

static void test_scalars_round_trip(void **state)
{
  /* 4.9e-324 and 1.5e-320 are subnormal: strtod reads them with ERANGE. */
  json_t *doc = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:b, s:b, s:n, s:I, s:[], s:{}, "
                          "s:[i,{s:s}]}",
                          "int", 42, "real", 1.5, "whole", 100.0, "tiny", 1e-300, "huge", 1e300,
                          "least", 4.9e-324, "subnormal", -1.5e-320, "t", 1, "f", 0, "n", "neg",
                          (json_int_t)-9007199254740993LL, "ea", "eo", "mixed", 1, "x", "y");
  json_t *back;
  char *out;
  size_t len;

  (void)state;
  assert_non_null(doc);
  out = write_one(doc, DOC_YAML, &len);
  back = parse_one(out);
  if (!json_equal(doc, back))
    fail_msg("round trip differs:\n%s", out);
  assert_non_null(strstr(out, "whole: 100.0\n"));
  assert_non_null(strstr(out, "ea: []\n"));
  json_decref(back);
  doc_wipe_free(out, len);
  out = write_one(doc, DOC_JSON, &len);
  back = parse_one(out);
  assert_true(json_equal(doc, back));
  json_decref(back);
  doc_wipe_free(out, len);
  json_decref(doc);
}

static void test_long_base64_on_one_line(void **state)
{
  char b64[6001];
  json_t *doc;
  char *out, *line;
  size_t len, i;

  (void)state;
  for (i = 0; i < 6000; i++)
    b64[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
  memcpy(b64 + 5996, "AA==", 5);
  doc = json_pack("{s:{s:s}}", "data", "k", b64);
  out = write_one(doc, DOC_YAML, &len);
  line = strstr(out, "  k: ");
  assert_non_null(line);
  assert_memory_equal(line + 5, b64, 6000);
  assert_int_equal(line[5 + 6000], '\n');
  doc_wipe_free(out, len);
  json_decref(doc);
}

static void test_key_order(void **state)
{
  json_t *doc = json_pack("{s:{s:i,s:i}, s:i, s:{s:s}, s:s, s:s, s:i}", "spec", "z", 1, "a", 2,
                          "zeta", 1, "metadata", "name", "x", "kind", "Secret", "apiVersion", "v1",
                          "alpha", 2);
  json_t *docs[2];
  doc_list back;
  char *out;
  size_t len;
  const char *order[] = {"apiVersion:", "kind:", "metadata:", "spec:",
                         "  z:",        "  a:",  "zeta:",     "alpha:"};
  size_t i;
  const char *prev;

  (void)state;
  for (int f = 0; f < 2; f++) {
    out = write_one(doc, f ? DOC_JSON : DOC_YAML, &len);
    prev = out;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
      const char *k = order[i];
      char quoted[32];
      if (f) {
        snprintf(quoted, sizeof quoted, "\"%.*s\":", (int)(strcspn(k + (k[0] == ' ' ? 2 : 0), ":")),
                 k + (k[0] == ' ' ? 2 : 0));
        k = quoted;
      }
      const char *at = strstr(prev, k);
      if (at == NULL)
        fail_msg("%s out of order in:\n%s", k, out);
      prev = at;
    }
    doc_wipe_free(out, len);
  }
  /* several documents: --- between them, read back in order */
  docs[0] = doc;
  docs[1] = json_pack("{s:s}", "kind", "ConfigMap");
  assert_int_equal(doc_write(&out, &len, docs, 2, DOC_YAML, NULL), DOC_OK);
  assert_non_null(strstr(out, "\n---\nkind: ConfigMap\n"));
  parse_ok(&back, out, 0);
  assert_int_equal(back.n, 2);
  assert_true(json_equal(back.docs[0], doc));
  doc_list_free(&back);
  doc_wipe_free(out, len);
  assert_int_equal(doc_write(&out, &len, docs, 2, DOC_JSON, NULL), DOC_OK);
  parse_ok(&back, out, 0);
  assert_int_equal(back.n, 2);
  assert_true(json_equal(back.docs[1], docs[1]));
  doc_list_free(&back);
  doc_wipe_free(out, len);
  json_decref(docs[1]);
  /* an empty mapping first must not make the stream read as JSON */
  docs[0] = json_object();
  docs[1] = json_object();
  assert_int_equal(doc_write(&out, &len, docs, 2, DOC_YAML, NULL), DOC_OK);
  parse_ok(&back, out, 0);
  assert_int_equal(back.n, 2);
  doc_list_free(&back);
  doc_wipe_free(out, len);
  json_decref(docs[0]);
  json_decref(docs[1]);
  json_decref(doc);
}

static void test_write_refuses_too_deep(void **state)
{
  json_t *doc = json_object(), *p = doc;
  doc_error err;
  char *out = NULL;
  size_t len = 0;

  (void)state;
  for (int i = 0; i < 70; i++) {
    json_t *c = json_object();
    json_object_set_new(p, "a", c);
    p = c;
  }
  for (int f = 0; f < 2; f++) {
    assert_int_equal(doc_write(&out, &len, &doc, 1, f ? DOC_JSON : DOC_YAML, &err), DOC_ERR_LIMIT);
    assert_null(out);
    assert_non_null(strstr(err.message, "deeper than 64"));
  }
  json_decref(doc);
}

static void test_accessors(void **state)
{
  json_t *d = parse_one("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\n"
                        "  namespace: kotaemon\n  labels: {n: 1}\n");

  (void)state;
  assert_string_equal(doc_get_string(d, "metadata", "name", NULL), "api-keys");
  assert_null(doc_get_string(d, "metadata", "labels", "n", NULL)); /* not a string */
  assert_non_null(doc_get(d, "metadata", "labels", "n", NULL));
  assert_null(doc_get(d, "metadata", "name", "deeper", NULL));
  assert_null(doc_get(d, "nothing", "here", NULL));
  assert_string_equal(doc_strerror(DOC_ERR_LIMIT), "over a limit");
  json_decref(d);
}

/* DOC_PARSE_BODY_LIMITS (HTTP bodies): at most DOC_MAX_BODY_NODES
 * values in the whole stream, JSON or YAML, one document or many, aliases
 * counted in full; the same text parses without the flag. */
static void test_body_limits_bound_values(void **state)
{
  doc_list docs;
  doc_error err;
  size_t n = (size_t)DOC_MAX_BODY_NODES + 10, i;
  char *json = malloc(2 * n + 3), *yaml = malloc(4 * n + 1), *many = malloc(16 * n + 1);
  char *alias = malloc(64 * 1024);
  size_t j = 0, y = 0, m = 0, a = 0;

  (void)state;
  assert_non_null(json);
  assert_non_null(yaml);
  assert_non_null(many);
  assert_non_null(alias);
  json[j++] = '[';
  for (i = 0; i < n; i++) {
    json[j++] = '0';
    json[j++] = ',';
  }
  json[j - 1] = ']';
  for (i = 0; i < n; i++) {
    memcpy(yaml + y, "- a\n", 4);
    y += 4;
  }
  for (i = 0; i < n / 2; i++) {
    memcpy(many + m, "---\na: b\n", 9);
    m += 9;
  }
  a += (size_t)snprintf(alias + a, 64 * 1024 - a, "a: &a [%s]\n",
                        "x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x");
  a += (size_t)snprintf(alias + a, 64 * 1024 - a,
                        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n");
  a += (size_t)snprintf(alias + a, 64 * 1024 - a,
                        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n");
  a += (size_t)snprintf(alias + a, 64 * 1024 - a,
                        "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n");
  const struct {
    const char *text;
    size_t len;
    const char *what;
  } cases[] = {{json, j, "json"}, {yaml, y, "yaml"}, {many, m, "yaml"}};
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memset(&err, 0, sizeof err);
    assert_int_equal(doc_parse(&docs, cases[i].text, cases[i].len, "body", DOC_PARSE_BODY_LIMITS,
                               &err),
                     DOC_ERR_LIMIT);
    if (strstr(err.message, "values in all") == NULL || strstr(err.message, cases[i].what) == NULL)
      fail_msg("case %zu: '%s'", i, err.message);
    memset(&err, 0, sizeof err);
    assert_int_equal(doc_parse(&docs, cases[i].text, cases[i].len, "body", 0, &err), DOC_OK);
    doc_list_free(&docs);
  }
  /* aliases: 16 * 16 * 16 * 17 copied values from a few hundred bytes */
  memset(&err, 0, sizeof err);
  assert_int_equal(doc_parse(&docs, alias, a, "body", DOC_PARSE_BODY_LIMITS, &err), DOC_ERR_LIMIT);
  /* a SealedSecret as big as allowed (1,024 keys) is far inside the bound */
  j = 0;
  j += (size_t)snprintf(json + j, 2 * n + 3 - j,
                        "{\"apiVersion\":\"seal.dev/v1\",\"kind\":"
                        "\"SealedSecret\",\"spec\":{\"encryptedData\":{");
  for (i = 0; i < 1024; i++) /* MANIFEST_MAX_KEYS */
    j += (size_t)snprintf(json + j, 2 * n + 3 - j, "%s\"k%zu\":\"v\"", i ? "," : "", i);
  j += (size_t)snprintf(json + j, 2 * n + 3 - j, "}}}");
  assert_int_equal(doc_parse(&docs, json, j, "body", DOC_PARSE_BODY_LIMITS, &err), DOC_OK);
  doc_list_free(&docs);
  free(json);
  free(yaml);
  free(many);
  free(alias);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_and_quoted_typing),
      cmocka_unit_test(test_bad_tags),
      cmocka_unit_test(test_anchors_and_merge_keys),
      cmocka_unit_test(test_merge_of_scalar_refused),
      cmocka_unit_test(test_flow_comments_crlf_bom),
      cmocka_unit_test(test_multi_document_lines),
      cmocka_unit_test(test_block_literals),
      cmocka_unit_test(test_list_expansion),
      cmocka_unit_test(test_json_stream),
      cmocka_unit_test(test_format_of),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_billion_laughs),
      cmocka_unit_test(test_yaml_errors),
      cmocka_unit_test(test_oversized),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_tricky_strings_round_trip),
      cmocka_unit_test(test_scalars_round_trip),
      cmocka_unit_test(test_long_base64_on_one_line),
      cmocka_unit_test(test_key_order),
      cmocka_unit_test(test_write_refuses_too_deep),
      cmocka_unit_test(test_accessors),
      cmocka_unit_test(test_body_limits_bound_values),
  };

  if (doc_init() != DOC_OK)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
