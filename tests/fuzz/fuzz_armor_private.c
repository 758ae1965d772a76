/*
 * Armored private key files (keys_armor_read_private): `seal unseal
 * --private-key`, `seal keys restore` and the controller's key Secrets.
 * On failure nothing is added; every key added must be written and read back
 * with the same id, creation time and state; reading the same text again
 * adds nothing.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harness.h"
#include "keys.h"

#include "banned.h"

static void check_key(const keys_keypair *kp)
{
  keys_keyring *ring = NULL;
  const keys_keypair *back;
  char block[KEYS_ARMOR_MAX];
  size_t len = 0, added = 0;
  keys_error err;

  if (keys_armor_write_private(block, sizeof(block), &len, kp) != KEYS_OK)
    harness_fail("keys_armor_write_private", "cannot write a key that was read");
  if (len != strlen(block))
    harness_fail("keys_armor_write_private", "length does not match the text");
  if (keys_keyring_new(&ring) != KEYS_OK)
    harness_fail("keys_keyring_new failed", NULL);
  memset(&err, 0, sizeof(err));
  if (keys_armor_read_private(ring, &added, block, len, &err) != KEYS_OK)
    harness_fail("a written private key does not read back", err.message);
  if (added != 1 || keys_keyring_count(ring) != 1)
    harness_fail("keys_armor_read_private", "a written key does not read back as one key");
  back = keys_keyring_at(ring, 0);
  if (memcmp(keys_keypair_public(back)->id, keys_keypair_public(kp)->id, KEYS_ID_BYTES) != 0)
    harness_fail("keys_armor_read_private", "a written key reads back as another");
  if (keys_keypair_created(back) != keys_keypair_created(kp))
    harness_fail("keys_armor_read_private", "the creation time does not survive a round trip");
  if (keys_keypair_state(back) != keys_keypair_state(kp))
    harness_fail("keys_armor_read_private", "the state does not survive a round trip");
  sodium_memzero(block, sizeof(block));
  keys_keyring_free(ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  keys_keyring *ring = NULL;
  size_t added = 0, count, i;
  keys_error err;
  int rc;

  if (size > HARNESS_MAX_INPUT)
    return 0;
  if (keys_init() != KEYS_OK)
    harness_fail("keys_init failed", NULL);
  if (keys_keyring_new(&ring) != KEYS_OK)
    harness_fail("keys_keyring_new failed", NULL);
  memset(&err, 0, sizeof(err));
  rc = keys_armor_read_private(ring, &added, (const char *)data, size, &err);
  count = keys_keyring_count(ring);
  if (rc != KEYS_OK) {
    harness_check_keys_failure(rc, &err, "keys_armor_read_private");
    if (count != 0)
      harness_fail("keys_armor_read_private", "added keys although it failed");
    goto out;
  }
  if (added != count)
    harness_fail("keys_armor_read_private", "the count of keys added is wrong");
  for (i = 0; i < count; i++)
    check_key(keys_keyring_at(ring, i));

  /* The same keys again: each is already there, so nothing may be added. */
  memset(&err, 0, sizeof(err));
  rc = keys_armor_read_private(ring, NULL, (const char *)data, size, &err);
  if (rc != KEYS_OK)
    harness_check_keys_failure(rc, &err, "keys_armor_read_private");
  if (keys_keyring_count(ring) != count)
    harness_fail("keys_armor_read_private", "the same keys were added twice");
out:
  keys_keyring_free(ring);
  return 0;
}
