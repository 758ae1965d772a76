#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

#define RENEW_RETRY_MS 10000    /* after a failed renewal */
#define BACKUP_CHECK_MS 2000    /* how often backups are looked at */
#define USAGE_INTERVAL_MS 30000 /* SealedSecrets counted by key at most this often */
#define USAGE_MIN_MS 1000       /* and no sooner than this after a key change */
#define USAGE_MAX_KEYS 64

/* What is kept of each key Secret (km->names: Secret name -> key_meta). */
typedef struct key_meta {
  char hex[KEYS_ID_HEX_BYTES];
  char uid[CTL_UID_MAX];
  int64_t backed_up;       /* seal.dev/backed-up-at, 0 when missing */
  int64_t renew_requested; /* seal.dev/renew-requested-at, 0 when missing */
  int compromised;         /* labelled seal.dev/key: compromised */
  int warned;              /* the KeyNotBackedUp Event was sent */
} key_meta;

/* SIGUSR1: a new key now. Only a flag here; the loop acts on it. */
static volatile sig_atomic_t renew_signal;

void ctl_keymgr_signal_renew(int sig)
{
  (void)sig;
  renew_signal = 1;
}

int ctl_keymgr_init(ctl_keymgr *km)
{
  memset(km, 0, sizeof(*km));
  if (pthread_rwlock_init(&km->lock, NULL) != 0)
    return -1;
  if (keys_keyring_new(&km->ring) != KEYS_OK || ctl_map_new(&km->names, free) != 0) {
    keys_keyring_free(km->ring);
    pthread_rwlock_destroy(&km->lock);
    return -1;
  }
  return 0;
}

void ctl_keymgr_destroy(ctl_keymgr *km)
{
  keys_keyring_free(km->ring);
  km->ring = NULL;
  ctl_map_free(km->names);
  km->names = NULL;
  pthread_rwlock_destroy(&km->lock);
}

size_t ctl_keymgr_count(ctl_keymgr *km)
{
  pthread_rwlock_rdlock(&km->lock);
  size_t n = keys_keyring_count(km->ring);
  pthread_rwlock_unlock(&km->lock);
  return n;
}

/* Recomputes the newest key's armor and the metrics; write lock held. */
static void refresh_locked(ctl_keymgr *km)
{
  long active = 0, compromised = 0;
  size_t n = keys_keyring_count(km->ring);
  for (size_t i = 0; i < n; i++) {
    if (keys_keypair_state(keys_keyring_at(km->ring, i)) == KEYS_STATE_COMPROMISED)
      compromised++;
    else
      active++;
  }
  ctl_metrics_keys(active, compromised);

  const keys_keypair *newest = keys_keyring_newest_active(km->ring);
  uint8_t old_id[KEYS_ID_BYTES];
  int had = km->have_newest;
  memcpy(old_id, km->newest_id, sizeof(old_id));
  if (newest == NULL) {
    km->cert[0] = '\0';
    km->have_newest = 0;
  } else {
    const keys_public *pub = keys_keypair_public(newest);
    size_t len = 0;
    if (keys_armor_write_public(km->cert, sizeof(km->cert), &len, pub,
                                keys_keypair_created(newest)) != KEYS_OK)
      km->cert[0] = '\0';
    memcpy(km->newest_id, pub->id, KEYS_ID_BYTES);
    km->have_newest = 1;
  }
  if (had != km->have_newest || memcmp(old_id, km->newest_id, KEYS_ID_BYTES) != 0)
    km->cm_dirty = 1;
  km->generation++;
}

/* Counts the key Secrets (but skip) that hold the key hex. */
typedef struct copies_scan {
  const char *hex;
  size_t n;
  int compromised;
} copies_scan;

static void scan_copies(void *ud, const char *name, void *value)
{
  copies_scan *cs = ud;
  const key_meta *meta = value;
  (void)name;
  if (strcmp(meta->hex, cs->hex) == 0) {
    cs->n++;
    cs->compromised |= meta->compromised;
  }
}

/* Brings the keyring's entry for the key hex in line with the key Secrets
 * that hold it: gone when none does, compromised when any copy says so
 * (whatever the order they were listed in). Returns 1 when the keyring changed. */
static int settle_key(ctl_keymgr *km, const char *hex)
{
  copies_scan cs = {hex, 0, 0};
  uint8_t id[KEYS_ID_BYTES];
  int changed = 0;

  if (keys_id_parse(id, hex) != KEYS_OK)
    return 0;
  ctl_map_each(km->names, scan_copies, &cs);
  keys_state want = cs.compromised ? KEYS_STATE_COMPROMISED : KEYS_STATE_ACTIVE;
  pthread_rwlock_wrlock(&km->lock);
  keys_keypair *kp = keys_keyring_find(km->ring, id);
  if (kp && cs.n == 0)
    changed = keys_keyring_remove(km->ring, id) == KEYS_OK;
  else if (kp && keys_keypair_state(kp) != want) {
    keys_keypair_set_state(kp, want);
    changed = 1;
  }
  if (changed)
    refresh_locked(km);
  pthread_rwlock_unlock(&km->lock);
  return changed;
}

/* The Secret name no longer holds a key; its key stays while another does. */
static int forget_name(ctl_keymgr *km, const char *name)
{
  const key_meta *meta = ctl_map_get(km->names, name);
  char hex[KEYS_ID_HEX_BYTES];
  if (meta == NULL)
    return 0;
  snprintf(hex, sizeof(hex), "%s", meta->hex);
  ctl_map_del(km->names, name);
  return settle_key(km, hex);
}

static int key_held(ctl_keymgr *km, const char *hex)
{
  uint8_t id[KEYS_ID_BYTES];
  int held = 0;
  if (keys_id_parse(id, hex) != KEYS_OK)
    return 0;
  pthread_rwlock_rdlock(&km->lock);
  held = keys_keyring_find(km->ring, id) != NULL;
  pthread_rwlock_unlock(&km->lock);
  return held;
}

/* A key Secret refused by manifest_key_secret_parse: one that is not a key
 * Secret (a SealedSecret's template can make neither the key type nor the
 * label; other tools may) or holds no key holds nothing any more; a malformed
 * one is ignored and what its name held stays. Returns 1 when the keyring changed. */
static int refused(ctl *c, const char *name, const manifest_key_secret *ks,
                   const manifest_error *merr)
{
  if (ks->fault == MANIFEST_KEY_UNTRUSTED)
    ctl_log(CTL_LOG_WARN, "secret labelled " MANIFEST_LABEL_KEY " is not a key secret, ignored",
            "namespace", c->key_namespace, "name", name, "reason", merr->message, NULL);
  else
    ctl_log(CTL_LOG_WARN, "key secret ignored", "namespace", c->key_namespace, "name", name,
            "reason", merr->message, NULL);
  if (ks->fault == MANIFEST_KEY_UNTRUSTED || ks->fault == MANIFEST_KEY_EMPTY)
    return forget_name(&c->keys, name);
  return 0;
}

int ctl_keymgr_on_secret(ctl *c, kube_event_type type, json_t *obj)
{
  ctl_keymgr *km = &c->keys;
  const char *name = doc_get_string(obj, "metadata", "name", NULL);
  manifest_key_secret ks;
  manifest_error merr = {0};
  keys_error kerr = {0};
  int changed = 0;
  char hex[KEYS_ID_HEX_BYTES], old_hex[KEYS_ID_HEX_BYTES] = "";

  if (name == NULL)
    return 0;
  if (type == KUBE_EVENT_DELETED) {
    const key_meta *meta = ctl_map_get(km->names, name);
    if (meta == NULL)
      return 0;
    snprintf(hex, sizeof(hex), "%s", meta->hex);
    changed = forget_name(km, name);
    if (key_held(km, hex))
      ctl_log(CTL_LOG_INFO, "key secret deleted: another secret still holds its key", "namespace",
              c->key_namespace, "name", name, "key_id", hex, NULL);
    else
      ctl_log(CTL_LOG_WARN, "key secret deleted: its key no longer unseals", "namespace",
              c->key_namespace, "name", name, "key_id", hex, NULL);
    return changed;
  }
  if (manifest_key_secret_parse(&ks, obj, c->key_namespace, &merr) != MANIFEST_OK) {
    changed = ks.fault == MANIFEST_KEY_SOUND ? 0 : refused(c, name, &ks, &merr);
    goto out;
  }
  snprintf(hex, sizeof(hex), "%s", ks.hex);

  /* what this Secret held before: a re-keyed Secret no longer holds the old key */
  const key_meta *old = ctl_map_get(km->names, name);
  int warned = old && strcmp(old->hex, hex) == 0 && old->warned;
  if (old && strcmp(old->hex, hex) != 0)
    snprintf(old_hex, sizeof(old_hex), "%s", old->hex);
  key_meta *meta = calloc(1, sizeof(*meta));
  if (meta == NULL)
    goto out;
  const char *uid = doc_get_string(obj, "metadata", "uid", NULL);
  snprintf(meta->hex, sizeof(meta->hex), "%s", hex);
  snprintf(meta->uid, sizeof(meta->uid), "%s", uid ? uid : "");
  meta->compromised = ks.compromised;
  meta->backed_up = ks.backed_up;
  meta->renew_requested = ks.renew_requested;
  meta->warned = warned;
  if (ctl_map_put(km->names, name, meta) != 0) {
    free(meta);
    changed = forget_name(km, name);
    goto out;
  }

  pthread_rwlock_wrlock(&km->lock);
  if (keys_keyring_find(km->ring, ks.id) == NULL) {
    size_t n2 = 0;
    if (keys_armor_read_private(km->ring, &n2, ks.private_armor, ks.private_len, &kerr) ==
            KEYS_OK &&
        n2 == 1) {
      refresh_locked(km);
      changed = 1;
    }
  }
  pthread_rwlock_unlock(&km->lock);
  changed |= settle_key(km, hex);
  if (*old_hex)
    changed |= settle_key(km, old_hex);
  if (changed) {
    const char *state = MANIFEST_KEY_ACTIVE;
    pthread_rwlock_rdlock(&km->lock);
    const keys_keypair *kp = keys_keyring_find(km->ring, ks.id);
    if (kp && keys_keypair_state(kp) == KEYS_STATE_COMPROMISED)
      state = MANIFEST_KEY_COMPROMISED;
    pthread_rwlock_unlock(&km->lock);
    ctl_log(CTL_LOG_INFO, "key loaded", "name", name, "key_id", hex, "state", state, NULL);
  } else {
    ctl_log(CTL_LOG_DEBUG, "key secret: its key is loaded already", "name", name, "key_id", hex,
            NULL);
  }

out:
  manifest_key_secret_clear(&ks);
  return changed;
}

/* ---- a new key ---------------------------------------------------------- */

typedef struct new_key_op {
  ctl *c;
  keys_keypair *kp;
  char name[KEYS_NAME_MAX + 1];
} new_key_op;

static void new_key_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  new_key_op *op = ud;
  ctl *c = op->c;
  keys_error kerr = {0};
  (void)body;
  c->keys.generating = 0;
  if (st->err != KUBE_OK)
    c->keys.next_renew_try_ms = ctl_now_ms() + RENEW_RETRY_MS;
  if (st->err == KUBE_OK) {
    char hex[KEYS_ID_HEX_BYTES];
    keys_id_hex(hex, keys_keypair_public(op->kp)->id);
    pthread_rwlock_wrlock(&c->keys.lock);
    if (keys_keyring_add(c->keys.ring, &op->kp, &kerr) == KEYS_OK)
      refresh_locked(&c->keys);
    pthread_rwlock_unlock(&c->keys.lock);
    key_meta *meta = calloc(1, sizeof(*meta));
    const char *uid = doc_get_string(body, "metadata", "uid", NULL);
    if (meta) {
      snprintf(meta->hex, sizeof(meta->hex), "%s", hex);
      snprintf(meta->uid, sizeof(meta->uid), "%s", uid ? uid : "");
      if (ctl_map_put(c->keys.names, op->name, meta) != 0)
        free(meta);
    }
    ctl_log(CTL_LOG_INFO, "key generated", "namespace", c->key_namespace, "name", op->name,
            "key_id", hex, NULL);
  } else if (http_code == 409) {
    ctl_log(CTL_LOG_INFO, "key secret already exists", "namespace", c->key_namespace, "name",
            op->name, NULL);
  } else {
    ctl_log(CTL_LOG_ERROR, "cannot create the key secret", "namespace", c->key_namespace, "name",
            op->name, "error", st->message, NULL);
  }
  keys_keypair_free(op->kp);
  free(op);
}

int ctl_keymgr_add_new_key(ctl *c)
{
  new_key_op *op = NULL;
  char path[KUBE_MAX_PATH];
  json_t *secret = NULL;
  manifest_error merr = {0};
  int rc = -1;

  op = calloc(1, sizeof(*op));
  if (op == NULL)
    goto out;
  op->c = c;
  int64_t now = ctl_wall_s();
  /* keys order by creation time (ties by key id): a renewal within the second of
   * the newest key's creation is dated a second later, so it is the newest */
  pthread_rwlock_rdlock(&c->keys.lock);
  size_t n = keys_keyring_count(c->keys.ring);
  int64_t last = n ? keys_keypair_created(keys_keyring_at(c->keys.ring, n - 1)) : 0;
  pthread_rwlock_unlock(&c->keys.lock);
  if (now <= last)
    now = last + 1;
  if (keys_keypair_generate(&op->kp, now) != KEYS_OK)
    goto out;
  manifest_key_secret_name(op->name, keys_keypair_public(op->kp)->id);
  if (manifest_key_secret_build(&secret, op->kp, c->key_namespace, NULL, &merr) != MANIFEST_OK)
    goto out;
  if (kube_path(path, sizeof(path), "v1", "secrets", c->key_namespace, NULL, NULL) != KUBE_OK)
    goto out;
  c->keys.generating = 1;
  if (ctl_request(c, "create", "POST", path, secret, new_key_done, op) != KUBE_OK) {
    c->keys.generating = 0;
    goto out;
  }
  op = NULL;
  rc = 0;
out:
  json_decref(secret);
  if (op) {
    keys_keypair_free(op->kp);
    free(op);
  }
  if (rc != 0)
    ctl_log(CTL_LOG_ERROR, "cannot generate a key", "namespace", c->key_namespace, "error",
            merr.message[0] ? merr.message : "out of memory", NULL);
  return rc;
}

/* ---- the ConfigMap of the public key ------------------------------------- */

static void cm_write_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  (void)body;
  c->keys.cm_in_flight = 0;
  if (st->err == KUBE_OK) {
    ctl_log(CTL_LOG_INFO, "public key published", "namespace", c->key_namespace, "name",
            MANIFEST_CERT_CONFIGMAP, NULL);
    return;
  }
  c->keys.cm_dirty = 1; /* try again on a later turn */
  ctl_log(CTL_LOG_WARN, "cannot publish the public key", "namespace", c->key_namespace, "name",
          MANIFEST_CERT_CONFIGMAP, "error", st->message, NULL);
  (void)http_code;
}

static void cm_get_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  ctl *c = ud;
  char cert[KEYS_ARMOR_MAX];
  char path[KUBE_MAX_PATH];
  json_t *cm = NULL;
  const json_t *live_cm = NULL; /* the ConfigMap to update, else one is created */
  manifest_error merr = {0};

  pthread_rwlock_rdlock(&c->keys.lock);
  memcpy(cert, c->keys.cert, sizeof(cert));
  pthread_rwlock_unlock(&c->keys.lock);

  if (st->err == KUBE_OK && body) {
    const char *live = manifest_cert_configmap_pem(body);
    if (live && strcmp(live, cert) == 0) {
      c->keys.cm_in_flight = 0;
      return; /* already published: no write */
    }
    live_cm = body;
  } else if (http_code != 404) {
    goto fail;
  }
  if (manifest_cert_configmap_build(&cm, live_cm, c->key_namespace, cert, &merr) != MANIFEST_OK ||
      kube_path(path, sizeof(path), "v1", "configmaps", c->key_namespace,
                live_cm ? MANIFEST_CERT_CONFIGMAP : NULL, NULL) != KUBE_OK)
    goto fail;
  if (ctl_request(c, live_cm ? "update" : "create", live_cm ? "PUT" : "POST", path, cm,
                  cm_write_done, c) != KUBE_OK)
    goto fail;
  json_decref(cm);
  return;
fail:
  json_decref(cm);
  c->keys.cm_in_flight = 0;
  c->keys.cm_dirty = 1;
  ctl_log(CTL_LOG_WARN, "cannot publish the public key", "namespace", c->key_namespace, "name",
          MANIFEST_CERT_CONFIGMAP, "error", st->err ? st->message : "out of memory", NULL);
}

/* ---- renewal ------------------------------------------------------------ */

typedef struct renew_scan {
  const uint8_t *newest_id;
  int64_t newest_created;
  const char *name; /* the key Secret whose request is honoured */
} renew_scan;

static void scan_request(void *ud, const char *name, void *value)
{
  renew_scan *rs = ud;
  const key_meta *meta = value;
  uint8_t id[KEYS_ID_BYTES];
  if (rs->name || meta->renew_requested <= 0)
    return;
  /* on the newest key itself, a request made in the second of its creation counts */
  int on_newest = keys_id_parse(id, meta->hex) == KEYS_OK &&
                  memcmp(id, rs->newest_id, KEYS_ID_BYTES) == 0;
  if (meta->renew_requested > rs->newest_created ||
      (on_newest && meta->renew_requested >= rs->newest_created))
    rs->name = name;
}

/* Why a new key is due now, or NULL. */
static const char *renew_due(ctl *c, char *detail, size_t detail_size)
{
  ctl_keymgr *km = &c->keys;
  const char *why = NULL;
  renew_scan rs = {0};
  uint8_t newest_id[KEYS_ID_BYTES];

  int64_t active_created = 0;
  pthread_rwlock_rdlock(&km->lock);
  const keys_keypair *nk = keys_keyring_newest_active(km->ring);
  size_t n = keys_keyring_count(km->ring);
  if (nk) {
    /* a request counts when made after the newest key of all, compromised ones too */
    const keys_keypair *last = keys_keyring_at(km->ring, n - 1);
    memcpy(newest_id, keys_keypair_public(last)->id, KEYS_ID_BYTES);
    rs.newest_created = keys_keypair_created(last);
    active_created = keys_keypair_created(nk);
  }
  pthread_rwlock_unlock(&km->lock);
  detail[0] = '\0';
  if (nk == NULL)
    return "no active key";
  if (renew_signal)
    return "SIGUSR1";
  int64_t period = c->opts->key_renew_period_ms;
  if (period > 0 && (ctl_wall_s() - active_created) * 1000 >= period)
    return "renew period";
  rs.newest_id = newest_id;
  ctl_map_each(km->names, scan_request, &rs);
  if (rs.name) {
    snprintf(detail, detail_size, "%s", rs.name);
    why = "renew requested";
  }
  return why;
}

/* ---- backups ------------------------------------------------------------ */

static void key_event_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  (void)ud;
  (void)http_code;
  (void)body;
  if (st->err != KUBE_OK)
    ctl_log(CTL_LOG_WARN, "cannot record an event", "error", st->message, NULL);
}

static void key_event(ctl *c, const char *name, const key_meta *meta, const char *reason,
                      const char *message)
{
  char ev_name[KEYS_NAME_MAX + 1], now[40], path[KUBE_MAX_PATH], hex[KEYS_ID_HEX_BYTES];
  uint8_t rnd[KEYS_ID_BYTES];
  json_t *ev = NULL;

  randombytes_buf(rnd, sizeof(rnd));
  keys_id_hex(hex, rnd);
  snprintf(ev_name, sizeof(ev_name), "%.*s.%s", KEYS_NAME_MAX - 17, name, hex);
  if (keys_time_format(now, sizeof(now), ctl_wall_s()) != KEYS_OK)
    return;
  ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, "
                 "s:{s:s}, s:s, s:s, s:i, s:s, s:s}",
                 "apiVersion", "v1", "kind", "Event", "metadata", "name", ev_name, "namespace",
                 c->key_namespace, "involvedObject", "apiVersion", "v1", "kind", "Secret", "name",
                 name, "namespace", c->key_namespace, "uid", meta->uid, "type", "Warning", "reason",
                 reason, "message", message, "source", "component", "unseal-controller",
                 "firstTimestamp", now, "lastTimestamp", now, "count", 1, "reportingComponent",
                 "unseal-controller", "reportingInstance", c->leader.identity);
  if (ev == NULL ||
      kube_path(path, sizeof(path), "v1", "events", c->key_namespace, NULL, NULL) != KUBE_OK ||
      ctl_request(c, "create", "POST", path, ev, key_event_done, NULL) != KUBE_OK)
    ctl_log(CTL_LOG_WARN, "cannot record an event", "name", name, "reason", reason, NULL);
  json_decref(ev);
}

typedef struct backup_scan {
  ctl *c;
  int64_t now;
  long stale;
} backup_scan;

static void scan_backup(void *ud, const char *name, void *value)
{
  backup_scan *bs = ud;
  ctl *c = bs->c;
  key_meta *meta = value;
  uint8_t id[KEYS_ID_BYTES];
  int64_t created = -1;
  char msg[256];

  if (keys_id_parse(id, meta->hex) != KEYS_OK)
    return;
  pthread_rwlock_rdlock(&c->keys.lock);
  const keys_keypair *kp = keys_keyring_find(c->keys.ring, id);
  if (kp)
    created = keys_keypair_created(kp);
  pthread_rwlock_unlock(&c->keys.lock);
  if (created < 0 || (meta->backed_up > 0 && meta->backed_up >= created))
    return;
  if ((bs->now - created) * 1000 < c->opts->backup_warn_after_ms)
    return;
  bs->stale++;
  if (meta->warned || !ctl_is_leader(c))
    return;
  meta->warned = 1;
  snprintf(msg, sizeof(msg),
           "key %s has no backup made after its creation; run seal keys backup and keep the "
           "file offline",
           meta->hex);
  ctl_log(CTL_LOG_WARN, "key not backed up", "namespace", c->key_namespace, "name", name, "key_id",
          meta->hex, NULL);
  key_event(c, name, meta, "KeyNotBackedUp", msg);
}

/* ---- SealedSecrets by key ------------------------------------------------ */

typedef struct usage_scan {
  ctl *c;
  char ids[USAGE_MAX_KEYS][KEYS_ID_HEX_BYTES];
  uint8_t raw[USAGE_MAX_KEYS][KEYS_ID_BYTES];
  long counts[USAGE_MAX_KEYS];
  int compromised[USAGE_MAX_KEYS];
  size_t n;
} usage_scan;

static void scan_usage(void *ud, const char *name, void *value)
{
  usage_scan *us = ud;
  const ctl_sealed *s = value;
  (void)name;

  for (size_t k = 0; k < us->n; k++)
    for (size_t i = 0; i < s->n_ids; i++)
      if (memcmp(s->ids[i], us->raw[k], KEYS_ID_BYTES) == 0) {
        us->counts[k]++;
        break;
      }
}

/* A cheap fingerprint of the cache: an updated SealedSecret gets a new record. */
static void fingerprint_one(void *ud, const char *name, void *value)
{
  uint64_t *fp = ud;
  const ctl_sealed *s = value;
  uint64_t d = 0;
  (void)name;
  memcpy(&d, s->spec_digest, sizeof(d));
  *fp = (*fp ^ ((uint64_t)(uintptr_t)s + d)) * 1099511628211ull;
}

static void count_usage(ctl *c)
{
  static uint64_t last_fp;
  static long last_generation = -1;
  uint64_t fp = 14695981039346656037ull ^ ctl_map_len(c->sealed);

  /* skip the count when nothing changed */
  ctl_map_each(c->sealed, fingerprint_one, &fp);
  if (fp == last_fp && c->keys.generation == last_generation)
    return;
  last_fp = fp;
  last_generation = c->keys.generation;
  usage_scan *us = calloc(1, sizeof(*us));
  if (us == NULL)
    return;
  us->c = c;
  pthread_rwlock_rdlock(&c->keys.lock);
  size_t n = keys_keyring_count(c->keys.ring);
  for (size_t i = 0; i < n && us->n < USAGE_MAX_KEYS; i++) {
    const keys_keypair *kp = keys_keyring_at(c->keys.ring, i);
    const keys_public *pub = keys_keypair_public(kp);
    us->compromised[us->n] = keys_keypair_state(kp) == KEYS_STATE_COMPROMISED;
    memcpy(us->raw[us->n], pub->id, KEYS_ID_BYTES);
    keys_id_hex(us->ids[us->n], pub->id);
    us->n++;
  }
  pthread_rwlock_unlock(&c->keys.lock);
  ctl_map_each(c->sealed, scan_usage, us);
  ctl_metrics_sealed_by_key((const char(*)[17])us->ids, us->counts, us->compromised, us->n);
  free(us);
}

/* ---- each loop turn ------------------------------------------------------- */

/* Renewal, backups and usage counts; the newest key changing re-queues every
 * SealedSecret so that KeyCurrent is evaluated again. */
static void lifecycle_tick(ctl *c)
{
  ctl_keymgr *km = &c->keys;
  int64_t now = ctl_now_ms();
  char detail[KEYS_NAME_MAX + 1];

  /* before the caches are synced the keys are loading: becoming ready
   * queues every SealedSecret once, with the keys as they are then */
  if (!c->was_ready)
    km->seen_generation = km->generation;
  if (km->generation != km->seen_generation) {
    km->seen_generation = km->generation;
    c->keys_changed = 1; /* the loop re-queues every SealedSecret */
    if (km->next_usage_ms > now + USAGE_MIN_MS)
      km->next_usage_ms = now + USAGE_MIN_MS;
  }
  if (c->was_ready && now >= km->next_usage_ms) {
    km->next_usage_ms = now + USAGE_INTERVAL_MS;
    count_usage(c);
  }
  if (now >= km->next_backup_check_ms && kube_watch_synced(c->w_keys)) {
    backup_scan bs = {c, ctl_wall_s(), 0};
    km->next_backup_check_ms = now + BACKUP_CHECK_MS;
    ctl_map_each(km->names, scan_backup, &bs);
    ctl_metrics_keys_not_backed_up(bs.stale);
  }
  if (renew_signal && !ctl_is_leader(c)) {
    renew_signal = 0;
    ctl_log(CTL_LOG_INFO, "SIGUSR1: not the leader, the leader renews keys", NULL);
  }
  if (!ctl_is_leader(c) || atomic_load(&c->stopping) || !kube_watch_synced(c->w_keys) ||
      km->generating || ctl_keymgr_count(km) == 0 || now < km->next_renew_try_ms)
    return;
  const char *why = renew_due(c, detail, sizeof(detail));
  if (why == NULL)
    return;
  renew_signal = 0;
  ctl_log(CTL_LOG_INFO, "renewing the key", "reason", why, "name", detail, NULL);
  if (ctl_keymgr_add_new_key(c) != 0)
    km->next_renew_try_ms = now + RENEW_RETRY_MS;
}

void ctl_keymgr_tick(ctl *c)
{
  ctl_keymgr *km = &c->keys;
  char path[KUBE_MAX_PATH];

  lifecycle_tick(c);

  if (!ctl_is_leader(c) || atomic_load(&c->stopping) || !kube_watch_synced(c->w_keys))
    return;
  if (!km->generating && ctl_keymgr_count(km) == 0) {
    /* a failed creation is tried again after RENEW_RETRY_MS, not every turn */
    int64_t now = ctl_now_ms();
    if (now >= km->next_renew_try_ms && ctl_keymgr_add_new_key(c) != 0)
      km->next_renew_try_ms = now + RENEW_RETRY_MS;
    return;
  }
  /* with no active key left the ConfigMap is emptied: a compromised key is never served */
  if (km->cm_dirty && !km->cm_in_flight) {
    static int64_t next_ms;
    int64_t now = ctl_now_ms();
    if (now < next_ms)
      return;
    next_ms = now + 1000;
    km->cm_dirty = 0;
    if (kube_path(path, sizeof(path), "v1", "configmaps", c->key_namespace, MANIFEST_CERT_CONFIGMAP,
                  NULL) != KUBE_OK)
      return;
    km->cm_in_flight = 1;
    if (ctl_request(c, "get", "GET", path, NULL, cm_get_done, c) != KUBE_OK) {
      km->cm_in_flight = 0;
      km->cm_dirty = 1;
    }
  }
}
