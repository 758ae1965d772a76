/*
 * Armored public key files (keys_armor_read_public): what `seal --cert`
 * reads, what /v1/cert.pem and the ConfigMap serve. Every key read must be a
 * valid public key whose id matches, and must survive being written and read
 * back. The strict reader of published keys (keys_armor_read_one_public)
 * accepts a subset: one key, the one the lenient reader finds.
 */

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

static void check_key(const keys_public *pub)
{
  keys_public again;
  keys_public *back = NULL;
  size_t n_back = 0, len = 0;
  uint8_t id[KEYS_ID_BYTES];
  char block[KEYS_ARMOR_MAX];
  keys_error err;

  keys_id_of(id, pub->pk);
  if (memcmp(id, pub->id, KEYS_ID_BYTES) != 0)
    harness_fail("keys_armor_read_public", "a key's id is not the id of its public key");
  memset(&err, 0, sizeof(err));
  if (keys_public_from_bytes(&again, pub->pk, &err) != KEYS_OK)
    harness_fail("keys_armor_read_public accepted a key keys_public_from_bytes refuses",
                 err.message);
  if (keys_armor_write_public(block, sizeof(block), &len, pub, 0) != KEYS_OK)
    harness_fail("keys_armor_write_public", "cannot write a key that was read");
  if (len != strlen(block))
    harness_fail("keys_armor_write_public", "length does not match the text");
  memset(&err, 0, sizeof(err));
  if (keys_armor_read_public(&back, &n_back, block, len, &err) != KEYS_OK)
    harness_fail("a written public key does not read back", err.message);
  if (n_back != 1 || memcmp(back[0].pk, pub->pk, KEYS_PUBLIC_BYTES) != 0)
    harness_fail("keys_armor_read_public", "a written key reads back as another");
  free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  keys_public *pubs = NULL;
  size_t n = 0, i;
  keys_error err;
  int rc;

  if (size > HARNESS_MAX_INPUT)
    return 0;
  if (keys_init() != KEYS_OK)
    harness_fail("keys_init failed", NULL);
  memset(&err, 0, sizeof(err));
  rc = keys_armor_read_public(&pubs, &n, (const char *)data, size, &err);
  {
    keys_public one;
    keys_error err1;
    int rc1;
    memset(&err1, 0, sizeof(err1));
    rc1 = keys_armor_read_one_public(&one, (const char *)data, size, &err1);
    if (rc1 != KEYS_OK)
      harness_check_keys_failure(rc1, &err1, "keys_armor_read_one_public");
    else if (rc != KEYS_OK || n != 1 || memcmp(one.pk, pubs[0].pk, KEYS_PUBLIC_BYTES) != 0)
      harness_fail("keys_armor_read_one_public", "accepted what the lenient reader does not "
                                                 "read as that one key");
  }
  if (rc != KEYS_OK) {
    harness_check_keys_failure(rc, &err, "keys_armor_read_public");
    goto out;
  }
  if (n < 1 || pubs == NULL)
    harness_fail("keys_armor_read_public", "succeeded without a key");
  for (i = 0; i < n; i++)
    check_key(&pubs[i]);
out:
  free(pubs);
  return 0;
}
