/* Writing output: to stdout, or atomically to a file. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

#include "banned.h"

int seal_output_write(const char *path, const char *data, size_t len, unsigned mode)
{
  keys_error kerr = {0};
  int rc;
  if (path == NULL || strcmp(path, "-") == 0) {
    if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0)
      return seal_report(SEAL_ERR_ENV, "stdout: write error: %s", strerror(errno));
    return SEAL_OK;
  }
  rc = keys_file_write(path, data, len, mode, 1, &kerr);
  if (rc != KEYS_OK) {
    seal_report_keys(path, &kerr, rc);
    return SEAL_ERR_ENV;
  }
  return SEAL_OK;
}

int seal_docs_write(json_t *const *docs, size_t n, doc_format format, const char *path,
                    unsigned mode)
{
  manifest_error merr = {0};
  char *text = NULL;
  size_t len = 0;
  int rc, st;

  rc = doc_write(&text, &len, docs, n, format, &merr);
  if (rc != MANIFEST_OK)
    return seal_report_manifest(path ? path : "stdout", 0, NULL, &merr, rc);
  st = seal_output_write(path, text, len, mode);
  doc_wipe_free(text, len);
  return st;
}
