/*
 * The keyring: keypairs in creation order (oldest first, ties by key id) and
 * a second index sorted by key id, so a lookup is a binary search and no key
 * is ever tried.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

/* A key every 30 days for three centuries; more is a bug or an attack. */
#define KEYS_RING_MAX 4096

struct keys_keyring {
  keys_keypair **by_time;
  keys_keypair **by_id;
  size_t count;
  size_t cap;
};

int keys_keyring_new(keys_keyring **out)
{
  keys_keyring *ring;

  if (out == NULL)
    return KEYS_ERR_INVALID;
  *out = NULL;
  ring = calloc(1, sizeof(*ring));
  if (ring == NULL)
    return KEYS_ERR_NOMEM;
  *out = ring;
  return KEYS_OK;
}

void keys_keyring_free(keys_keyring *ring)
{
  if (ring == NULL)
    return;
  for (size_t i = 0; i < ring->count; i++)
    keys_keypair_free(ring->by_time[i]);
  free(ring->by_time);
  free(ring->by_id);
  free(ring);
}

static int cmp_time(const keys_keypair *a, const keys_keypair *b)
{
  if (a->created != b->created)
    return a->created < b->created ? -1 : 1;
  return memcmp(a->pub.id, b->pub.id, KEYS_ID_BYTES);
}

/* First index in by_id whose id is >= id. */
static size_t lower_by_id(const keys_keyring *ring, const uint8_t id[KEYS_ID_BYTES])
{
  size_t lo = 0, hi = ring->count;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (memcmp(ring->by_id[mid]->pub.id, id, KEYS_ID_BYTES) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* First index in by_time whose key sorts at or after kp. */
static size_t lower_by_time(const keys_keyring *ring, const keys_keypair *kp)
{
  size_t lo = 0, hi = ring->count;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (cmp_time(ring->by_time[mid], kp) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int grow(keys_keyring *ring)
{
  size_t cap;
  keys_keypair **t, **i;

  if (ring->count < ring->cap)
    return KEYS_OK;
  cap = ring->cap ? ring->cap * 2 : 8;
  if (cap > KEYS_RING_MAX)
    cap = KEYS_RING_MAX;
  t = realloc(ring->by_time, cap * sizeof(*t));
  if (t == NULL)
    return KEYS_ERR_NOMEM;
  ring->by_time = t;
  i = realloc(ring->by_id, cap * sizeof(*i));
  if (i == NULL)
    return KEYS_ERR_NOMEM;
  ring->by_id = i;
  ring->cap = cap;
  return KEYS_OK;
}

int keys_keyring_add(keys_keyring *ring, keys_keypair **kp, keys_error *err)
{
  size_t pi, pt;
  char hex[KEYS_ID_HEX_BYTES];
  int rc;

  if (ring == NULL || kp == NULL || *kp == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no keyring or no key given");
  keys_id_hex(hex, (*kp)->pub.id);
  pi = lower_by_id(ring, (*kp)->pub.id);
  if (pi < ring->count && memcmp(ring->by_id[pi]->pub.id, (*kp)->pub.id, KEYS_ID_BYTES) == 0)
    return keys_i_fail(err, KEYS_ERR_EXISTS, "key %s is already in the keyring", hex);
  if (ring->count >= KEYS_RING_MAX)
    return keys_i_fail(err, KEYS_ERR_INVALID, "the keyring is full (%d keys): key %s not added",
                       KEYS_RING_MAX, hex);
  if ((rc = grow(ring)) != KEYS_OK)
    return keys_i_fail(err, rc, "out of memory adding key %s", hex);
  pt = lower_by_time(ring, *kp);
  memmove(ring->by_id + pi + 1, ring->by_id + pi, (ring->count - pi) * sizeof(*ring->by_id));
  ring->by_id[pi] = *kp;
  memmove(ring->by_time + pt + 1, ring->by_time + pt, (ring->count - pt) * sizeof(*ring->by_time));
  ring->by_time[pt] = *kp;
  ring->count++;
  *kp = NULL;
  return KEYS_OK;
}

int keys_keyring_remove(keys_keyring *ring, const uint8_t id[KEYS_ID_BYTES])
{
  size_t pi, pt;
  keys_keypair *kp;

  if (ring == NULL || id == NULL)
    return KEYS_ERR_INVALID;
  pi = lower_by_id(ring, id);
  if (pi >= ring->count || memcmp(ring->by_id[pi]->pub.id, id, KEYS_ID_BYTES) != 0)
    return KEYS_ERR_NO_KEY;
  kp = ring->by_id[pi];
  pt = lower_by_time(ring, kp);
  memmove(ring->by_id + pi, ring->by_id + pi + 1, (ring->count - pi - 1) * sizeof(*ring->by_id));
  memmove(ring->by_time + pt, ring->by_time + pt + 1,
          (ring->count - pt - 1) * sizeof(*ring->by_time));
  ring->count--;
  keys_keypair_free(kp);
  return KEYS_OK;
}

size_t keys_keyring_count(const keys_keyring *ring)
{
  return ring == NULL ? 0 : ring->count;
}

keys_keypair *keys_keyring_at(const keys_keyring *ring, size_t i)
{
  if (ring == NULL || i >= ring->count)
    return NULL;
  return ring->by_time[i];
}

keys_keypair *keys_keyring_find(const keys_keyring *ring, const uint8_t id[KEYS_ID_BYTES])
{
  size_t pi;

  if (ring == NULL || id == NULL)
    return NULL;
  pi = lower_by_id(ring, id);
  if (pi < ring->count && memcmp(ring->by_id[pi]->pub.id, id, KEYS_ID_BYTES) == 0)
    return ring->by_id[pi];
  return NULL;
}

const keys_keypair *keys_keyring_newest_active(const keys_keyring *ring)
{
  if (ring == NULL)
    return NULL;
  for (size_t i = ring->count; i > 0; i--)
    if (ring->by_time[i - 1]->state == KEYS_STATE_ACTIVE)
      return ring->by_time[i - 1];
  return NULL;
}
