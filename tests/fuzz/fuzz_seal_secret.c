/*
 * Secret to SealedSecret (manifest_seal_secret), what `seal` does, with the
 * test vectors' public keys as recipients. A SealedSecret made must be
 * written as YAML, read back, verify with the matching keyring and unseal to
 * a Secret holding exactly the keys of the Secret's data and stringData,
 * with their values (stringData winning).
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "harness_manifest.h"
#include "keys.h"
#include "manifest.h"

#include "banned.h"

/* The unsealed value of key must be expected (base64 text) byte for byte. */
static void check_value(const json_t *unsealed, const char *key, const uint8_t *want,
                        size_t want_len)
{
  const char *got = json_string_value(json_object_get(unsealed, key));
  uint8_t *bytes = NULL;
  size_t len = 0;

  if (got == NULL || keys_base64_decode(&bytes, &len, got, strlen(got)) != KEYS_OK)
    harness_fail("manifest_unseal_sealed", "a sealed key is missing or not base64 after unsealing");
  if (len != want_len || (len > 0 && memcmp(bytes, want, len) != 0))
    harness_fail("manifest_seal_secret", "a value unseals to other bytes");
  free(bytes);
}

static void check_data(const json_t *secret, const json_t *unsealed_secret)
{
  const json_t *data = json_object_get(secret, "data");
  const json_t *string_data = json_object_get(secret, "stringData");
  const json_t *unsealed = json_object_get(unsealed_secret, "data");
  const char *key;
  json_t *value;
  size_t n = 0;

  if (!json_is_object(unsealed))
    unsealed = NULL;
  json_object_foreach((json_t *)string_data, key, value) {
    const char *s = json_string_value(value);
    if (s == NULL)
      harness_fail("manifest_seal_secret", "sealed a stringData value that is not a string");
    check_value(unsealed, key, (const uint8_t *)s, json_string_length(value));
    n++;
  }
  json_object_foreach((json_t *)data, key, value) {
    const char *s = json_string_value(value);
    uint8_t *bytes = NULL;
    size_t len = 0;

    if (json_object_get(string_data, key) != NULL)
      continue;
    if (s == NULL || keys_base64_decode(&bytes, &len, s, strlen(s)) != KEYS_OK)
      harness_fail("manifest_seal_secret", "sealed a data value that is not canonical base64");
    check_value(unsealed, key, bytes, len);
    free(bytes);
    n++;
  }
  if (json_object_size(unsealed) != n)
    harness_fail("manifest_seal_secret", "the unsealed Secret has keys the Secret did not");
}

static void check_doc(const json_t *doc, size_t index)
{
  size_t n_recipients = 0;
  manifest_seal_opts opts;
  doc_list back = {0};
  manifest_error err;
  json_t *sealed = NULL, *unsealed = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc;

  memset(&opts, 0, sizeof(opts));
  opts.recipients = harness_recipients(&n_recipients);
  opts.n_recipients = 2; /* the first two keys: a multi-cluster value */
  opts.namespace = "fuzz-ns";
  opts.allow_empty_data = (int)(index & 1); /* every other document */
  memset(&err, 0, sizeof(err));
  rc = manifest_seal_secret(&sealed, doc, &opts, &err);
  if (rc != MANIFEST_OK) {
    harness_check_manifest_failure(rc, &err, "manifest_seal_secret");
    if (sealed != NULL)
      harness_fail("manifest_seal_secret", "failed but returned a SealedSecret");
    return;
  }
  if (sealed == NULL || !manifest_is_sealed_secret(sealed))
    harness_fail("manifest_seal_secret", "succeeded without a SealedSecret");

  /* What `seal` writes is what the controller reads. */
  memset(&err, 0, sizeof(err));
  if (doc_write(&text, &len, &sealed, 1, DOC_YAML, &err) != MANIFEST_OK)
    harness_fail("doc_write cannot write a SealedSecret", err.message);
  memset(&err, 0, sizeof(err));
  if (doc_parse(&back, text, len, "sealed", 0, &err) != MANIFEST_OK || back.n != 1)
    harness_fail("doc_parse cannot read a written SealedSecret", err.message);
  memset(&err, 0, sizeof(err));
  if (manifest_unseal_sealed(&unsealed, back.docs[0], harness_keyring(), 0, NULL, &err) !=
      MANIFEST_OK)
    harness_fail("a sealed Secret does not unseal", err.message);
  check_data(doc, unsealed);

  json_decref(unsealed);
  doc_list_free(&back);
  doc_wipe_free(text, len);
  json_decref(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  harness_each_document(data, size, check_doc);
  return 0;
}
