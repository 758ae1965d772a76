#ifndef SEAL_MANIFEST_INT_H
#define SEAL_MANIFEST_INT_H

/* Private to libmanifest: shared helpers between its files. */

#include <stddef.h>

#include <jansson.h>

#include "manifest.h"

/* The template metadata of meta: its labels and its annotations but those
 * named in drop; every value must be a string. *out is a new object. */
int manifest_template_metadata(json_t **out, const json_t *meta, const char *const *drop,
                               size_t n_drop, const char *desc, const char *where,
                               manifest_error *err);

/* Refuses labels or annotations of meta (maps of strings) that a template
 * may not carry (manifest_reserved_label, manifest_reserved_annotation);
 * where names meta in the message ("spec.template.metadata"). */
int manifest_check_reserved(const json_t *meta, const char *desc, const char *where,
                            manifest_error *err);

/* "<namespace>/<name>" or "<name>" of a document's metadata, for messages. */
void manifest_doc_ref(char *out, size_t out_size, const json_t *doc);

#endif
