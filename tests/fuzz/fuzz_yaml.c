/*
 * YAML document streams (doc_parse): what `seal` reads from standard
 * input and files, what the controller's /v1/verify and /v1/rotate receive,
 * kubeconfig files. What parses must write as YAML and JSON and read back
 * equal. The corpus holds YAML; fuzz_json's holds JSON.
 */

#include "harness_manifest.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  harness_check_documents(data, size);
  return 0;
}
