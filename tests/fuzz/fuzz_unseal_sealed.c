/*
 * SealedSecret to Secret (manifest_unseal_sealed, manifest_reseal_sealed):
 * what the controller does in reconcile, /v1/verify and /v1/rotate, and
 * `seal unseal`. Each parsed document is unsealed with the test vectors'
 * keyring, with every flag and as a verify (no output); what opens must also
 * verify, give a Secret that matches itself and writes out, and re-seal for
 * another key into a SealedSecret that unseals to the same Secret.
 */

#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "harness_manifest.h"
#include "manifest.h"

#include "banned.h"

#define ALL_FLAGS                                                                \
  (MANIFEST_UNSEAL_RENDER | MANIFEST_UNSEAL_OWNER | MANIFEST_UNSEAL_CONTROLLER | \
   MANIFEST_UNSEAL_KEEP_GOING)

/* The last failure's message, for reports of broken properties. */
static manifest_error err;

static int unseal(json_t **out, const json_t *doc, int flags, manifest_unseal_report *report)
{
  int rc;

  memset(&err, 0, sizeof(err));
  memset(report, 0, sizeof(*report));
  rc = manifest_unseal_sealed(out, doc, harness_keyring(), flags, report, &err);
  if (rc != MANIFEST_OK) {
    harness_check_manifest_failure(rc, &err, "manifest_unseal_sealed");
    if (out != NULL && *out != NULL)
      harness_fail("manifest_unseal_sealed", "failed but returned a Secret");
    return rc;
  }
  if (out != NULL && (*out == NULL || !manifest_is_secret(*out)))
    harness_fail("manifest_unseal_sealed", "succeeded without a Secret");
  if (report->n_failed != 0 || report->n_ids > KEYS_MAX_RECIPIENTS)
    harness_fail("manifest_unseal_sealed", "succeeded with a report of failures");
  return rc;
}

static void check_reseal(const json_t *doc)
{
  json_t *copy = NULL, *before = NULL, *after = NULL;
  manifest_unseal_report report;
  size_t changed = 0;

  copy = json_deep_copy(doc);
  if (copy == NULL)
    return;
  memset(&err, 0, sizeof(err));
  if (manifest_reseal_sealed(copy, harness_keyring(), harness_reseal_key(), &changed, &err) !=
      MANIFEST_OK)
    harness_fail("manifest_reseal_sealed refused a SealedSecret that verifies", err.message);
  if (unseal(NULL, copy, 0, &report) != MANIFEST_OK)
    harness_fail("the re-sealed SealedSecret does not verify", err.message);
  if (report.n_values > 0 &&
      (report.n_ids != 1 || memcmp(report.ids[0], harness_reseal_key()->id, KEYS_ID_BYTES) != 0))
    harness_fail("manifest_reseal_sealed", "a re-sealed value is not opened by the new key");
  if (unseal(&before, doc, 0, &report) != MANIFEST_OK ||
      unseal(&after, copy, 0, &report) != MANIFEST_OK)
    harness_fail("a SealedSecret that verifies does not unseal", err.message);
  if (!json_equal(before, after))
    harness_fail("manifest_reseal_sealed", "the re-sealed SealedSecret unseals to another Secret");
  json_decref(before);
  json_decref(after);
  json_decref(copy);
}

static void check_doc(const json_t *doc, size_t index)
{
  manifest_unseal_report report;
  json_t *secret = NULL;
  int rc_full, rc_verify;

  (void)index;
  rc_full = unseal(&secret, doc, ALL_FLAGS, &report);
  rc_verify = unseal(NULL, doc, 0, &report);
  if (rc_full == MANIFEST_OK && rc_verify != MANIFEST_OK)
    harness_fail("a SealedSecret that unseals does not verify", err.message);
  if (rc_full == MANIFEST_OK) {
    if (manifest_secret_matches(secret, secret) != 1)
      harness_fail("manifest_secret_matches", "a Secret does not match itself");
    harness_check_round_trip(&secret, 1, DOC_YAML);
  }
  if (rc_verify == MANIFEST_OK)
    check_reseal(doc);
  json_decref(secret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  harness_each_document(data, size, check_doc);
  return 0;
}
