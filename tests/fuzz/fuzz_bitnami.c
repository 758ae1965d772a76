/*
 * seal migrate's key-free parsing of Bitnami sealed-secrets input
 * (seal/bitnami.c): template text, a value's layout, and the document chunks
 * of a YAML or JSON stream. Each input is tried as all three.
 *
 * Properties: a converted template holds "{{" only in placeholders
 * "{{ .KEY }}" naming one of the encrypted keys; a value split accounts for
 * every byte; the chunks of a stream advance, stay in bounds and end at its
 * end.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bitnami.h"
#include "harness.h"

#include "banned.h"

static void check_template(const char *s, size_t n)
{
  static json_t *enc;
  char *out = NULL, why[BITNAMI_WHY_MAX];
  const char *p;
  int rc;

  if (enc == NULL)
    enc = json_pack("{s:s, s:s, s:s}", "a", "x", "db-user", "x", "pass_word.1", "x");
  if (enc == NULL)
    harness_fail("json_pack", NULL);
  why[0] = '\0';
  rc = bitnami_template_convert(&out, s, n, enc, why, sizeof why);
  if (rc == BITNAMI_REFUSED) {
    if (out != NULL || why[0] == '\0')
      harness_fail("a refused template without a reason or with output", NULL);
    return;
  }
  if (rc != BITNAMI_OK || out == NULL)
    harness_fail("bitnami_template_convert failed otherwise", NULL);
  /* the input has no NUL in what was converted: compare only up to the first */
  for (p = strstr(out, "{{"); p != NULL; p = strstr(p + 2, "{{")) {
    const char *end = strstr(p, " }}");
    char key[300];
    size_t k;
    if (strncmp(p, "{{ .", 4) != 0 || end == NULL || (k = (size_t)(end - p - 4)) == 0 ||
        k >= sizeof key)
      harness_fail("a \"{{\" that is not a placeholder survived", out);
    memcpy(key, p + 4, k);
    key[k] = '\0';
    if (json_object_get(enc, key) == NULL)
      harness_fail("a placeholder names no encrypted key", out);
    p = end;
  }
  free(out);
}

static void check_value(const uint8_t *data, size_t size)
{
  bitnami_value v;
  if (bitnami_value_split(&v, data, size) != BITNAMI_OK)
    return;
  if (v.rsa != data + 2 || v.rsa_len == 0 || v.body != v.rsa + v.rsa_len ||
      v.body_len < BITNAMI_TAG_BYTES || 2 + v.rsa_len + v.body_len != size)
    harness_fail("a value split that does not account for every byte", NULL);
}

static void check_chunks(const char *text, size_t len, doc_format format)
{
  size_t pos = 0, next;
  while (pos < len) {
    next = bitnami_next_chunk(text, len, pos, format);
    if (next <= pos || next > len)
      harness_fail("a chunk that does not advance or runs past the end", NULL);
    pos = next;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text;
  if (size > HARNESS_MAX_INPUT)
    return 0;
  text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  check_template(text, size);
  check_value(data, size);
  check_chunks(text, size, DOC_YAML);
  check_chunks(text, size, DOC_JSON);
  free(text);
  return 0;
}
