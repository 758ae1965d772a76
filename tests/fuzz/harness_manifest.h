#ifndef SEAL_FUZZ_HARNESS_MANIFEST_H
#define SEAL_FUZZ_HARNESS_MANIFEST_H

/* The fuzz targets' shared pieces that need manifest/ (see harness.h). */

#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "manifest.h"

/* manifest_init once per process; aborts if it fails. */
void harness_manifest_init(void);

/* Checks a manifest_ failure: a status of manifest_status and a message. */
void harness_check_manifest_failure(int rc, const manifest_error *err, const char *what);

/* Parses data as a document stream (with and without expanding Lists); what
 * parses must be written as YAML and as JSON and read back equal. */
void harness_check_documents(const uint8_t *data, size_t size);

/* Parses data (expanding Lists) and calls check on each document in turn;
 * a stream that does not parse is only checked for a proper failure. */
void harness_each_document(const uint8_t *data, size_t size,
                           void (*check)(const json_t *doc, size_t index));

/* Writes docs in format and reads them back: equal documents, or a failure
 * that is only a size limit. */
void harness_check_round_trip(json_t *const *docs, size_t n, doc_format format);

#endif
