/*
 * The model's own entry points: init, status names, kinds and descriptions.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "manifest_int.h"
#include "banned.h"

/* The one status of manifest's own may not reuse a number of doc's. */
_Static_assert((int)MANIFEST_ERR_KEYS<(int)DOC_ERR_LIMIT && (int)MANIFEST_ERR_KEYS>(int) DOC_ERR_IO,
               "MANIFEST_ERR_KEYS must not reuse a doc_status");

int manifest_init(void)
{
  if (keys_init() != KEYS_OK)
    return MANIFEST_ERR_KEYS;
  return doc_init() == DOC_OK ? MANIFEST_OK : MANIFEST_ERR_NOMEM;
}

const char *manifest_strerror(int status)
{
  return status == MANIFEST_ERR_KEYS ? "sealing or unsealing failed" : doc_strerror(status);
}

static int is_kind(const json_t *doc, const char *api_version, const char *kind)
{
  const char *a = doc_get_string(doc, "apiVersion", NULL);
  const char *k = doc_get_string(doc, "kind", NULL);

  return json_is_object(doc) && a != NULL && k != NULL && strcmp(a, api_version) == 0 &&
         strcmp(k, kind) == 0;
}

int manifest_is_secret(const json_t *doc)
{
  return is_kind(doc, "v1", "Secret");
}

int manifest_is_sealed_secret(const json_t *doc)
{
  return is_kind(doc, MANIFEST_API_VERSION, MANIFEST_KIND);
}

void manifest_doc_ref(char *out, size_t out_size, const json_t *doc)
{
  const char *name = doc_get_string(doc, "metadata", "name", NULL);
  const char *ns = doc_get_string(doc, "metadata", "namespace", NULL);

  if (name == NULL)
    name = "(no name)";
  if (ns != NULL)
    snprintf(out, out_size, "%s/%s", ns, name);
  else
    snprintf(out, out_size, "%s", name);
}

void manifest_describe(char *out, size_t out_size, const json_t *doc, size_t index)
{
  const char *kind = doc_get_string(doc, "kind", NULL);
  const char *name = doc_get_string(doc, "metadata", "name", NULL);
  char ref[2 * KEYS_NAME_MAX + 16];

  if (out == NULL || out_size == 0)
    return;
  if (kind != NULL && name != NULL && (manifest_is_secret(doc) || manifest_is_sealed_secret(doc))) {
    manifest_doc_ref(ref, sizeof ref, doc);
    snprintf(out, out_size, "%s %s", kind, ref);
  } else if (kind != NULL) {
    snprintf(out, out_size, "document %zu (%s)", index + 1, kind);
  } else {
    snprintf(out, out_size, "document %zu", index + 1);
  }
}
