/*
 * JSON document streams (doc_parse takes JSON when the first non-blank
 * character is '{' or '['): `seal -o json` output, `kubectl get -o json`,
 * API bodies. Same checks as fuzz_yaml over a JSON corpus.
 */

#include "harness_manifest.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  harness_check_documents(data, size);
  return 0;
}
