/* Reading input: the whole of a file or stdin, and the documents in it. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "common.h"

#include "banned.h"

const char *seal_input_name(const char *path)
{
  return path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
}

int seal_input_read(char **out, size_t *out_len, const char *path, size_t max)
{
  keys_error kerr = {0};
  doc_error derr;
  int rc;

  if (path && strcmp(path, "-") != 0) {
    rc = keys_file_read(out, out_len, path, max, &kerr);
    if (rc != KEYS_OK)
      return seal_report_keys(path, &kerr, rc);
    return SEAL_OK;
  }
  rc = doc_read_fd(out, out_len, STDIN_FILENO, "stdin", max, 0, &derr);
  if (rc != DOC_OK)
    return seal_report(rc == DOC_ERR_NOMEM ? SEAL_ERR_ENV : SEAL_ERR_INPUT, "%s", derr.message);
  return SEAL_OK;
}

int seal_docs_read(doc_list *docs, doc_format *format, const char *path,
                   int (*is_kind)(const json_t *), const char *kind)
{
  manifest_error merr = {0};
  const char *source = seal_input_name(path);
  char *text = NULL;
  size_t len = 0, i;
  int rc, st;

  if ((st = seal_input_read(&text, &len, path, SEAL_MAX_INPUT_BYTES)) != SEAL_OK)
    return st;
  if (format)
    *format = doc_format_of(text, len);
  rc = doc_parse(docs, text, len, source, DOC_PARSE_EXPAND_LISTS, &merr);
  doc_wipe_free(text, len);
  if (rc != MANIFEST_OK)
    return seal_report_manifest(source, 0, NULL, &merr, rc);
  if (docs->n == 0) {
    st = seal_report(SEAL_ERR_INPUT, "%s: no %s in the input", source, kind);
    goto out;
  }
  for (i = 0; i < docs->n; i++) {
    if (!is_kind(docs->docs[i])) {
      char what[512];
      const char *api = doc_get_string(docs->docs[i], "apiVersion", NULL);
      seal_describe(what, sizeof what, docs->docs[i], i);
      if (is_kind == manifest_is_secret && manifest_is_sealed_secret(docs->docs[i]))
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: %s: already sealed (seal reseal re-seals it for the current key, "
                         "seal merge --into FILE adds keys to it)",
                         source, what);
      else if (is_kind == manifest_is_secret && api != NULL &&
               strcmp(api, "bitnami.com/v1alpha1") == 0)
        st = seal_report(SEAL_ERR_INPUT,
                         "%s: %s: already sealed, by Bitnami's kubeseal (seal migrate turns it "
                         "into a seal SealedSecret)",
                         source, what);
      else
        st = seal_report(SEAL_ERR_INPUT, "%s: %s: not a %s", source, what, kind);
      goto out;
    }
  }
out:
  if (st != SEAL_OK)
    doc_list_free(docs);
  return st;
}

int seal_has_manifest_ext(const char *path)
{
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot == NULL || (slash && dot < slash))
    return 0;
  return strcasecmp(dot, ".yaml") == 0 || strcasecmp(dot, ".yml") == 0 ||
         strcasecmp(dot, ".json") == 0;
}
