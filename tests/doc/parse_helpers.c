/* Parse and write helpers of the unit tests of libdoc (and of libmanifest's,
 * which link this library too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "parse_helpers.h"
#include "banned.h"

void parse_ok(doc_list *docs, const char *text, int flags)
{
  doc_error err;
  int rc;

  memset(&err, 0, sizeof err);
  rc = doc_parse(docs, text, strlen(text), "test", flags, &err);
  if (rc != DOC_OK)
    fail_msg("parse failed (%d): %s", rc, err.message);
}

void parse_fails(const char *text, size_t len, int status, const char *message_part, doc_error *err)
{
  doc_list docs;
  int rc;

  memset(err, 0, sizeof *err);
  rc = doc_parse(&docs, text, len, "stdin", 0, err);
  if (rc != status)
    fail_msg("expected status %d, got %d (%s)", status, rc, err->message);
  assert_int_equal(err->status, status);
  assert_int_equal(docs.n, 0);
  assert_null(docs.docs);
  if (message_part != NULL && strstr(err->message, message_part) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", err->message, message_part);
}

json_t *parse_one(const char *text)
{
  doc_list docs;
  json_t *doc;

  parse_ok(&docs, text, 0);
  assert_int_equal(docs.n, 1);
  doc = json_incref(docs.docs[0]);
  doc_list_free(&docs);
  return doc;
}

char *write_one(const json_t *doc, doc_format format, size_t *len)
{
  doc_error err;
  json_t *docs[1] = {(json_t *)doc};
  char *out = NULL;
  int rc;

  memset(&err, 0, sizeof err);
  rc = doc_write(&out, len, docs, 1, format, &err);
  if (rc != DOC_OK)
    fail_msg("write failed (%d): %s", rc, err.message);
  assert_non_null(out);
  assert_int_equal(strlen(out), *len);
  return out;
}
