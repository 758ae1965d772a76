#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "harness_manifest.h"
#include "manifest.h"

#include "banned.h"

void harness_manifest_init(void)
{
  static int done;

  if (done)
    return;
  if (manifest_init() != MANIFEST_OK)
    harness_fail("manifest_init failed", NULL);
  done = 1;
}

void harness_check_manifest_failure(int rc, const manifest_error *err, const char *what)
{
  if (rc >= 0 || rc < MANIFEST_ERR_IO)
    harness_fail(what, "status outside manifest_status");
  /* Inputs are at most a few MiB: running out of memory means a failure
   * reported as the wrong one. */
  if (rc == MANIFEST_ERR_NOMEM)
    harness_fail(what, err->message);
  if (err->message[0] == '\0')
    harness_fail(what, "failed without a message");
  if (memchr(err->message, '\0', sizeof(err->message)) == NULL)
    harness_fail(what, "message is not terminated");
}

void harness_check_round_trip(json_t *const *docs, size_t n, doc_format format)
{
  const char *name = format == DOC_YAML ? "YAML" : "JSON";
  doc_list back = {0};
  manifest_error err;
  char *text = NULL;
  size_t len = 0, i;
  int rc;

  memset(&err, 0, sizeof(err));
  rc = doc_write(&text, &len, docs, n, format, &err);
  if (rc == MANIFEST_ERR_LIMIT)
    goto out;
  if (rc != MANIFEST_OK) {
    fprintf(stderr, "fuzz: writing %s\n", name);
    harness_fail("doc_write cannot write what doc_parse read", err.message);
  }
  if (text == NULL || strlen(text) != len)
    harness_fail("doc_write", "length does not match the text");
  memset(&err, 0, sizeof(err));
  rc = doc_parse(&back, text, len, "written", 0, &err);
  if (rc == MANIFEST_ERR_LIMIT)
    goto out;
  if (rc != MANIFEST_OK) {
    fprintf(stderr, "fuzz: reading back %s:\n%.2000s\n", name, text);
    harness_fail("doc_parse cannot read what doc_write wrote", err.message);
  }
  if (back.n != n) {
    fprintf(stderr, "fuzz: %s has %zu documents, read back %zu:\n%.2000s\n", name, n, back.n, text);
    harness_fail("doc_write", "the number of documents changes in a round trip");
  }
  for (i = 0; i < n; i++) {
    if (!json_equal(docs[i], back.docs[i])) {
      char *a = json_dumps(docs[i], JSON_ENCODE_ANY | JSON_COMPACT);
      char *b = json_dumps(back.docs[i], JSON_ENCODE_ANY | JSON_COMPACT);
      fprintf(stderr,
              "fuzz: %s document %zu changes in a round trip\nread:    %.2000s\nwritten:\n%.2000s\n"
              "back:    %.2000s\n",
              name, i + 1, a ? a : "?", text, b ? b : "?");
      harness_fail("doc_write", "a document changes in a round trip");
    }
  }
out:
  doc_list_free(&back);
  doc_wipe_free(text, len);
}

static void check_doc(const json_t *doc, size_t index)
{
  char what[256];

  manifest_describe(what, sizeof(what), doc, index);
  if (memchr(what, '\0', sizeof(what)) == NULL)
    harness_fail("manifest_describe", "description is not terminated");
  (void)manifest_is_secret(doc);
  (void)manifest_is_sealed_secret(doc);
}

static int all_containers(const doc_list *docs)
{
  size_t i;

  for (i = 0; i < docs->n; i++) {
    if (!json_is_object(docs->docs[i]) && !json_is_array(docs->docs[i]))
      return 0;
  }
  return 1;
}

void harness_check_documents(const uint8_t *data, size_t size)
{
  static const int flags[] = {0, DOC_PARSE_EXPAND_LISTS};
  doc_list docs = {0};
  manifest_error err;
  size_t f, i;
  int rc;

  if (size > HARNESS_MAX_INPUT)
    return;
  harness_manifest_init();
  for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
    memset(&err, 0, sizeof(err));
    rc = doc_parse(&docs, (const char *)data, size, "fuzz", flags[f], &err);
    if (rc != MANIFEST_OK) {
      harness_check_manifest_failure(rc, &err, "doc_parse");
      if (docs.n != 0)
        harness_fail("doc_parse", "failed but returned documents");
      doc_list_free(&docs);
      continue;
    }
    if (docs.n > DOC_MAX_DOCS)
      harness_fail("doc_parse", "more documents than DOC_MAX_DOCS");
    for (i = 0; i < docs.n; i++) {
      if (docs.docs[i] == NULL)
        harness_fail("doc_parse", "a NULL document");
      if (docs.lines[i] < 1)
        harness_fail("doc_parse", "a document without a line number");
      check_doc(docs.docs[i], i);
    }
    if (docs.n > 0) {
      harness_check_round_trip(docs.docs, docs.n, DOC_YAML);
      /* A JSON stream is read as JSON only when it starts with '{' or '[', and
       * its documents are objects and arrays: a YAML stream of bare scalars
       * has no JSON form that reads back, and is no Kubernetes document. */
      if (all_containers(&docs))
        harness_check_round_trip(docs.docs, docs.n, DOC_JSON);
    }
    doc_list_free(&docs);
  }
}

void harness_each_document(const uint8_t *data, size_t size,
                           void (*check)(const json_t *doc, size_t index))
{
  doc_list docs = {0};
  manifest_error err;
  size_t i;
  int rc;

  if (size > HARNESS_MAX_INPUT)
    return;
  harness_manifest_init();
  memset(&err, 0, sizeof(err));
  rc = doc_parse(&docs, (const char *)data, size, "fuzz", DOC_PARSE_EXPAND_LISTS, &err);
  if (rc != MANIFEST_OK)
    harness_check_manifest_failure(rc, &err, "doc_parse");
  else
    for (i = 0; i < docs.n; i++)
      check(docs.docs[i], i);
  doc_list_free(&docs);
}
