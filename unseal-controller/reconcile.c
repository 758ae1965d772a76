#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sodium.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

#define REASON_MAX 64
#define MESSAGE_MAX 1024
#define EVENT_NAME_MAX 253

typedef struct rec_op {
  ctl *c;
  char key[CTL_KEY_MAX];
  char ns[256];
  char name[256];
  char uid[CTL_UID_MAX];
  int64_t started_us;
  size_t size;        /* its share of c->bytes_in_flight */
  json_t *sealed;     /* the SealedSecret as read for this reconcile, without status */
  json_t *old_status; /* rebuilt from the cached summary; NULL when there was none */
  uint8_t old_digest[CTL_STATUS_DIGEST_BYTES];
  json_t *desired; /* the Secret to have; holds plaintext (wiped on free) */
  uint8_t digest[CTL_DIGEST_BYTES];
  int skip_owner;
  /* outcome */
  const char *synced;
  char reason[REASON_MAX];
  char message[MESSAGE_MAX];
  json_t *key_ids;
  char kc_status[8];
  char kc_reason[REASON_MAX];
  char kc_message[MESSAGE_MAX];
  int unsealed;
  int written; /* the Secret was created or updated */
  int repair;  /* the desired Secret did not change: a write puts back another writer's change */
} rec_op;

static void rec_status(rec_op *op);

/* ---- small helpers ------------------------------------------------------ */

void ctl_sealed_free(void *p)
{
  ctl_sealed *s = p;
  if (s == NULL)
    return;
  free(s->json);
  free(s);
}

void ctl_owned_free(void *p)
{
  free(p);
}

static void rfc3339_now(char *out, size_t out_size)
{
  if (keys_time_format(out, out_size, ctl_wall_s()) != KEYS_OK)
    snprintf(out, out_size, "1970-01-01T00:00:00Z");
}

/* BLAKE2b of the fields we manage, normalised so that defaults compare equal. */
int ctl_secret_digest(uint8_t out[CTL_DIGEST_BYTES], const json_t *secret)
{
  json_t *n = NULL;
  char *text = NULL;
  int rc = -1;
  const char *type = doc_get_string(secret, "type", NULL);
  json_t *imm = json_object_get(secret, "immutable");
  json_t *data = json_object_get(secret, "data");
  json_t *labels = doc_get(secret, "metadata", "labels", NULL);
  json_t *ann = doc_get(secret, "metadata", "annotations", NULL);
  json_t *owners = doc_get(secret, "metadata", "ownerReferences", NULL);

  n = json_object();
  if (n == NULL)
    goto out;
  if (json_object_set_new(n, "type", json_string(type && *type ? type : "Opaque")) ||
      json_object_set_new(n, "immutable", json_boolean(json_is_true(imm))) ||
      json_object_set_new(n, "data", json_is_object(data) ? json_incref(data) : json_object()) ||
      json_object_set_new(n, "labels",
                          json_is_object(labels) ? json_incref(labels) : json_object()) ||
      json_object_set_new(n, "annotations",
                          json_is_object(ann) ? json_incref(ann) : json_object()) ||
      json_object_set_new(n, "owners", json_is_array(owners) ? json_incref(owners) : json_array()))
    goto out;
  text = json_dumps(n, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL)
    goto out;
  crypto_generichash(out, CTL_DIGEST_BYTES, (const unsigned char *)text, strlen(text), NULL, 0);
  rc = 0;
out:
  doc_json_free(text); /* wipes */
  json_decref(n);
  return rc;
}

static const char *controller_owner_uid(const json_t *obj)
{
  json_t *owners = doc_get(obj, "metadata", "ownerReferences", NULL);
  size_t i;
  json_t *o;
  json_array_foreach(owners, i, o) {
    const char *kind = doc_get_string(o, "kind", NULL);
    const char *av = doc_get_string(o, "apiVersion", NULL);
    if (json_is_true(json_object_get(o, "controller")) && kind &&
        strcmp(kind, MANIFEST_KIND) == 0 && av &&
        strncmp(av, MANIFEST_RESERVED_PREFIX, strlen(MANIFEST_RESERVED_PREFIX)) == 0)
      return doc_get_string(o, "uid", NULL);
  }
  return NULL;
}

static void copy_bounded(char *out, size_t out_size, const char *in)
{
  size_t n = in ? strlen(in) : 0;
  if (n >= out_size)
    n = 0; /* too long to keep: "" never matches */
  memcpy(out, in ? in : "", n);
  out[n] = '\0';
}

void ctl_owned_from_secret(ctl_owned *o, const json_t *secret)
{
  const char *rv = doc_get_string(secret, "metadata", "resourceVersion", NULL);
  const char *owner = controller_owner_uid(secret);
  const char *managed = doc_get_string(secret, "metadata", "annotations", MANIFEST_ANN_MANAGED,
                                       NULL);
  char equal_rv[CTL_OWNED_RV_MAX];
  uint8_t equal_digest[CTL_DIGEST_BYTES];

  /* keep an equivalence found for this very version */
  memcpy(equal_rv, o->equal_rv, sizeof(equal_rv));
  memcpy(equal_digest, o->equal_digest, sizeof(equal_digest));
  memset(o, 0, sizeof(*o));
  copy_bounded(o->rv, sizeof(o->rv), rv);
  copy_bounded(o->owner_uid, sizeof(o->owner_uid), owner);
  if (owner && *o->owner_uid == '\0')
    memcpy(o->owner_uid, "?", 2); /* an owner we could not keep: not ours until read */
  o->immutable = json_is_true(json_object_get(secret, "immutable"));
  o->managed = managed && strcmp(managed, "true") == 0;
  if (ctl_secret_digest(o->digest, secret) != 0)
    memset(o->digest, 0, sizeof(o->digest));
  if (*o->rv && strcmp(equal_rv, o->rv) == 0) {
    memcpy(o->equal_rv, equal_rv, sizeof(o->equal_rv));
    memcpy(o->equal_digest, equal_digest, sizeof(o->equal_digest));
  }
}

/* ---- watch events ------------------------------------------------------- */

/* Digest of a status without the conditions' lastTransitionTime. */
static int status_digest(uint8_t out[CTL_STATUS_DIGEST_BYTES], const json_t *status)
{
  json_t *copy = json_deep_copy(status);
  json_t *conds = json_object_get(copy, "conditions");
  size_t i;
  json_t *cnd;
  char *text = NULL;
  if (copy == NULL)
    return -1;
  json_array_foreach(conds, i, cnd)
    json_object_del(cnd, "lastTransitionTime");
  text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  if (text == NULL)
    return -1;
  crypto_generichash(out, CTL_STATUS_DIGEST_BYTES, (const unsigned char *)text, strlen(text), NULL,
                     0);
  doc_json_free(text);
  return 0;
}

static const json_t *find_condition(const json_t *status, const char *type);

static char condition_char(const json_t *cnd, int64_t *ltt)
{
  const char *st = doc_get_string(cnd, "status", NULL);
  const char *t = doc_get_string(cnd, "lastTransitionTime", NULL);
  if (t == NULL || keys_time_parse(ltt, t) != KEYS_OK)
    *ltt = 0;
  if (st == NULL)
    return 0;
  return strcmp(st, "True") == 0 ? 'T' : strcmp(st, "False") == 0 ? 'F' : 'U';
}

static void summarise_status(ctl_sealed *s, const json_t *status)
{
  const json_t *synced = find_condition(status, "Synced");
  const char *reason = doc_get_string(synced, "reason", NULL);
  json_t *gen = json_object_get(status, "observedGeneration");
  if (!json_is_object(status) || status_digest(s->status_digest, status) != 0)
    return;
  s->has_status = 1;
  s->synced = condition_char(synced, &s->synced_ltt);
  s->key_current = condition_char(find_condition(status, "KeyCurrent"), &s->key_current_ltt);
  snprintf(s->synced_reason, sizeof(s->synced_reason), "%s", reason ? reason : "");
  s->observed_generation = json_is_integer(gen) ? (int64_t)json_integer_value(gen) : -1;
}

static json_t *condition_from(const char *type, char st, int64_t ltt, const char *reason)
{
  char t[40];
  if (st == 0)
    return NULL;
  if (keys_time_format(t, sizeof(t), ltt) != KEYS_OK)
    t[0] = '\0';
  return json_pack("{s:s, s:s, s:s, s:s}", "type", type, "status",
                   st == 'T'   ? "True"
                   : st == 'F' ? "False"
                               : "Unknown",
                   "reason", reason, "lastTransitionTime", t);
}

/* The parts of the old status that reconcile reads, rebuilt from the summary. */
static json_t *status_from_summary(const ctl_sealed *s)
{
  if (!s->has_status)
    return NULL;
  json_t *conds = json_array();
  json_t *c1 = condition_from("Synced", s->synced, s->synced_ltt, s->synced_reason);
  json_t *c2 = condition_from("KeyCurrent", s->key_current, s->key_current_ltt, "");
  if (conds && c1)
    json_array_append_new(conds, c1);
  if (conds && c2)
    json_array_append_new(conds, c2);
  json_t *st = json_pack("{s:o}", "conditions", conds);
  if (st && s->observed_generation >= 0)
    json_object_set_new(st, "observedGeneration", json_integer(s->observed_generation));
  return st;
}

/* Drops what reconcile never needs. */
static void strip_sealed(json_t *obj)
{
  json_t *md = json_object_get(obj, "metadata");
  json_t *ann = json_object_get(md, "annotations");
  json_object_del(md, "managedFields");
  json_object_del(md, "creationTimestamp");
  json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
  json_object_del(obj, "status");
}

/* Digest of the SealedSecret without what changes on every status write. */
static int sealed_digest(uint8_t out[CTL_DIGEST_BYTES], const json_t *obj)
{
  json_t *copy = json_deep_copy(obj);
  char *text = NULL;
  if (copy == NULL)
    return -1;
  strip_sealed(copy);
  json_object_del(json_object_get(copy, "metadata"), "resourceVersion");
  text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  if (text == NULL)
    return -1;
  crypto_generichash(out, CTL_DIGEST_BYTES, (const unsigned char *)text, strlen(text), NULL, 0);
  doc_json_free(text);
  return 0;
}

/* Bytes of the values and template data of a SealedSecret. */
static size_t sealed_size(const json_t *obj)
{
  const json_t *maps[2] = {doc_get(obj, "spec", "encryptedData", NULL),
                           doc_get(obj, "spec", "template", "data", NULL)};
  const char *k;
  json_t *v;
  size_t n = 0;
  for (size_t i = 0; i < 2; i++) {
    json_object_foreach((json_t *)maps[i], k, v)
      n += strlen(k) + json_string_length(v);
  }
  return n;
}

/* The distinct key ids the values are sealed for (seal_sealedsecrets_by_key). */
static void sealed_ids(ctl_sealed *s, const json_t *obj)
{
  const char *k;
  json_t *v;
  json_object_foreach(doc_get(obj, "spec", "encryptedData", NULL), k, v) {
    uint8_t ids[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
    size_t n = 0;
    if (!json_is_string(v) ||
        keys_sealed_ids(ids, &n, json_string_value(v), json_string_length(v), NULL) != KEYS_OK)
      continue;
    for (size_t i = 0; i < n; i++) {
      size_t j = 0;
      while (j < s->n_ids && memcmp(s->ids[j], ids[i], KEYS_ID_BYTES) != 0)
        j++;
      if (j == s->n_ids && s->n_ids < CTL_SEALED_IDS_MAX)
        memcpy(s->ids[s->n_ids++], ids[i], KEYS_ID_BYTES);
    }
  }
}

static int cache_sealed(ctl *c, const char *key, json_t *obj, int modified);

void ctl_reconcile_on_sealed(ctl *c, kube_event_type type, json_t *obj)
{
  char key[CTL_KEY_MAX];
  if (ctl_object_key(key, sizeof(key), obj) != 0)
    return;
  if (type == KUBE_EVENT_DELETED) {
    ctl_map_del(c->sealed, key);
    ctl_log(CTL_LOG_DEBUG, "sealedsecret deleted", "key", key, NULL);
    return;
  }
  if (cache_sealed(c, key, obj, type == KUBE_EVENT_MODIFIED) && c->was_ready)
    (void)ctl_queue_add(c->queue, key, ctl_now_ms());
}

/* Caches what reconcile needs of obj, not obj; returns 1 when it needs a
 * reconcile (not a change of status alone). */
static int cache_sealed(ctl *c, const char *key, json_t *obj, int modified)
{
  ctl_sealed *s = calloc(1, sizeof(*s));
  int enqueue = 0;

  if (s == NULL || sealed_digest(s->spec_digest, obj) != 0)
    goto nomem;
  copy_bounded(s->uid, sizeof(s->uid), doc_get_string(obj, "metadata", "uid", NULL));
  copy_bounded(s->rv, sizeof(s->rv), doc_get_string(obj, "metadata", "resourceVersion", NULL));
  s->size = sealed_size(obj);
  sealed_ids(s, obj);
  summarise_status(s, json_object_get(obj, "status"));
  if (s->size <= CTL_CACHE_TEXT_MAX) {
    json_t *copy = json_deep_copy(obj);
    char *text = NULL;
    if (copy == NULL)
      goto nomem;
    strip_sealed(copy);
    text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (text == NULL)
      goto nomem;
    s->json_len = strlen(text);
    if (s->json_len <= CTL_CACHE_TEXT_MAX) {
      s->json = malloc(s->json_len + 1);
      if (s->json)
        memcpy(s->json, text, s->json_len + 1);
    }
    doc_json_free(text);
  }

  /* a change of status alone (our own write) needs no reconcile */
  enqueue = 1;
  ctl_sealed *old = ctl_map_get(c->sealed, key);
  if (old && modified && sodium_memcmp(old->spec_digest, s->spec_digest, CTL_DIGEST_BYTES) == 0)
    enqueue = 0;
  if (old) {
    s->secret_deleted = old->secret_deleted;
    memcpy(s->secret_digest, old->secret_digest, sizeof(s->secret_digest));
    s->has_secret_digest = old->has_secret_digest;
    s->repairs = old->repairs;
    s->last_repair_ms = old->last_repair_ms;
  }
  if (ctl_map_put(c->sealed, key, s) != 0)
    goto nomem;
  return enqueue;
nomem:
  ctl_sealed_free(s);
  ctl_log(CTL_LOG_ERROR, "out of memory caching a sealedsecret", "key", key, NULL);
  return 0;
}

void ctl_reconcile_on_secret(ctl *c, kube_event_type type, json_t *obj)
{
  char key[CTL_KEY_MAX];
  if (ctl_object_key(key, sizeof(key), obj) != 0)
    return;
  if (type == KUBE_EVENT_DELETED) {
    ctl_sealed *s = ctl_map_get(c->sealed, key);
    ctl_map_del(c->owned, key);
    if (s)
      s->secret_deleted = 1;
  } else {
    ctl_owned *o = ctl_map_get(c->owned, key);
    const char *rv = doc_get_string(obj, "metadata", "resourceVersion", NULL);
    if (o && rv && strcmp(o->rv, rv) == 0)
      return; /* what we wrote ourselves */
    if (o == NULL) {
      o = calloc(1, sizeof(*o));
      if (o == NULL)
        return;
      if (ctl_map_put(c->owned, key, o) != 0) {
        free(o);
        return;
      }
    }
    ctl_owned_from_secret(o, obj);
    /* our own create or update, seen before its answer: nothing to do */
    ctl_sealed *s = ctl_map_get(c->sealed, key);
    if (s && s->has_secret_digest &&
        sodium_memcmp(s->secret_digest, o->digest, CTL_DIGEST_BYTES) == 0)
      return;
  }
  if (c->was_ready && ctl_map_get(c->sealed, key))
    (void)ctl_queue_add(c->queue, key, ctl_now_ms());
}

static void enqueue_one(void *ud, const char *key, void *value)
{
  ctl *c = ud;
  (void)value;
  (void)ctl_queue_add(c->queue, key, ctl_now_ms());
}

void ctl_reconcile_enqueue_all(ctl *c)
{
  ctl_map_each(c->sealed, enqueue_one, c);
}

/* ---- finishing ---------------------------------------------------------- */

enum { FIN_DONE, FIN_RETRY };

static void rec_free(rec_op *op)
{
  json_decref(op->sealed);
  json_decref(op->old_status);
  json_decref(op->desired);
  json_decref(op->key_ids);
  sodium_memzero(op->digest, sizeof(op->digest));
  free(op);
}

static void rec_finish(rec_op *op, int how, const char *why)
{
  ctl *c = op->c;
  int64_t now = ctl_now_ms();
  ctl_metrics_reconcile_seconds((double)(ctl_now_us() - op->started_us) / 1e6);
  if (how == FIN_RETRY) {
    long n = ctl_queue_retry(c->queue, op->key, now);
    char nbuf[24];
    snprintf(nbuf, sizeof(nbuf), "%ld", n);
    if (n < 0)
      ctl_log(CTL_LOG_ERROR, "giving up until the sealedsecret changes", "key", op->key, "error",
              why, NULL);
    else
      ctl_log(CTL_LOG_INFO, "will retry", "key", op->key, "retry", nbuf, "error", why, NULL);
  } else {
    ctl_queue_forget(c->queue, op->key);
    ctl_queue_done(c->queue, op->key, now);
  }
  c->ops_in_flight--;
  c->bytes_in_flight -= op->size;
  c->work_since_trim++;
  rec_free(op);
}

/* A failure worth retrying: the last allowed attempt writes it into the status. */
static void rec_retry(rec_op *op, const char *what, const kube_status *st)
{
  char why[MESSAGE_MAX];
  snprintf(why, sizeof(why), "%.200s: %.700s", what, st && *st->message ? st->message : "failed");
  if (ctl_queue_retries(op->c->queue, op->key) >= op->c->opts->max_retries && op->synced == NULL) {
    op->synced = "False";
    snprintf(op->reason, sizeof(op->reason), "RetriesExhausted");
    snprintf(op->message, sizeof(op->message),
             "gave up after %ld retries: %.900s; edit the SealedSecret to try again",
             op->c->opts->max_retries, why);
    ctl_log(CTL_LOG_ERROR, "giving up until the sealedsecret changes", "key", op->key, "error", why,
            NULL);
    rec_status(op);
    return;
  }
  rec_finish(op, FIN_RETRY, why);
}

/* ---- events ------------------------------------------------------------- */

static void event_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  (void)ud;
  (void)http_code;
  (void)body;
  if (st->err != KUBE_OK)
    ctl_log(CTL_LOG_WARN, "cannot record an event", "error", st->message, NULL);
}

static void emit_event(rec_op *op, const char *type, const char *reason, const char *message)
{
  ctl *c = op->c;
  char name[EVENT_NAME_MAX + 1];
  char now[40];
  char path[KUBE_MAX_PATH];
  uint8_t rnd[8];
  char hex[KEYS_ID_HEX_BYTES];
  json_t *ev = NULL;

  randombytes_buf(rnd, sizeof(rnd));
  keys_id_hex(hex, rnd);
  snprintf(name, sizeof(name), "%.*s.%s", EVENT_NAME_MAX - 17, op->name, hex);
  rfc3339_now(now, sizeof(now));
  const char *rv = doc_get_string(op->sealed, "metadata", "resourceVersion", NULL);
  ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, "
                 "s:{s:s}, s:s, s:s, s:i, s:s, s:s}",
                 "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", op->ns,
                 "involvedObject", "apiVersion", MANIFEST_API_VERSION, "kind", MANIFEST_KIND,
                 "name", op->name, "namespace", op->ns, "uid", op->uid, "resourceVersion",
                 rv ? rv : "", "type", type, "reason", reason, "message", message, "source",
                 "component", "unseal-controller", "firstTimestamp", now, "lastTimestamp", now,
                 "count", 1, "reportingComponent", "unseal-controller", "reportingInstance",
                 c->leader.identity);
  if (ev == NULL || kube_path(path, sizeof(path), "v1", "events", op->ns, NULL, NULL) != KUBE_OK ||
      ctl_request(c, "create", "POST", path, ev, event_done, NULL) != KUBE_OK)
    ctl_log(CTL_LOG_WARN, "cannot record an event", "key", op->key, "reason", reason, NULL);
  json_decref(ev);
}

/* ---- status ------------------------------------------------------------- */

static const json_t *find_condition(const json_t *status, const char *type)
{
  json_t *conds = json_object_get(status, "conditions");
  size_t i;
  json_t *cnd;
  json_array_foreach(conds, i, cnd) {
    const char *t = doc_get_string(cnd, "type", NULL);
    if (t && strcmp(t, type) == 0)
      return cnd;
  }
  return NULL;
}

static json_t *make_condition(const json_t *old_status, const char *type, const char *status,
                              const char *reason, const char *message, const char *now)
{
  const json_t *old = find_condition(old_status, type);
  const char *ltt = now;
  const char *old_st = doc_get_string(old, "status", NULL);
  const char *old_ltt = doc_get_string(old, "lastTransitionTime", NULL);
  if (old_st && old_ltt && strcmp(old_st, status) == 0)
    ltt = old_ltt;
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason", reason,
                   "message", message, "lastTransitionTime", ltt);
}

static void status_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  json_t *old_status = op->old_status;
  const json_t *old_synced = find_condition(old_status, "Synced");
  const char *old_st = doc_get_string(old_synced, "status", NULL);
  const char *old_reason = doc_get_string(old_synced, "reason", NULL);
  json_t *old_gen = json_object_get(old_status, "observedGeneration");
  json_t *gen = doc_get(op->sealed, "metadata", "generation", NULL);
  (void)body;

  if (st->err != KUBE_OK) {
    if (http_code == 404) {
      rec_finish(op, FIN_DONE, NULL); /* deleted meanwhile */
      return;
    }
    rec_retry(op, http_code == 409 ? "status changed meanwhile" : "cannot write the status", st);
    return;
  }
  /* the cache takes our write at once, unless a newer version came meanwhile */
  ctl_sealed *cached = ctl_map_get(op->c->sealed, op->key);
  const char *sent_rv = doc_get_string(op->sealed, "metadata", "resourceVersion", NULL);
  if (cached && body && sent_rv && strcmp(cached->rv, sent_rv) == 0)
    (void)cache_sealed(op->c, op->key, body, 1);
  /* events on transitions only, so a restart or a resync says nothing new */
  if (strcmp(op->synced, "True") == 0) {
    if (old_st == NULL || strcmp(old_st, "True") != 0 || op->written || !json_equal(old_gen, gen)) {
      char msg[MESSAGE_MAX];
      snprintf(msg, sizeof(msg), "unsealed into Secret %s/%s", op->ns, op->name);
      emit_event(op, "Normal", "Unsealed", msg);
    }
  } else if (old_st == NULL || strcmp(old_st, "False") != 0 || old_reason == NULL ||
             strcmp(old_reason, op->reason) != 0) {
    const char *ev = strcmp(op->reason, "SecretNotManaged") == 0 ||
                             strcmp(op->reason, "ConflictingWriter") == 0
                         ? op->reason
                         : "UnsealFailed";
    emit_event(op, "Warning", ev, op->message);
  }
  rec_finish(op, FIN_DONE, NULL);
}

static void rec_status(rec_op *op)
{
  ctl *c = op->c;
  char now[40];
  char path[KUBE_MAX_PATH];
  json_t *old_status = op->old_status;
  json_t *status = NULL, *body = NULL, *conds = NULL;
  uint8_t digest[CTL_STATUS_DIGEST_BYTES];
  json_t *gen = doc_get(op->sealed, "metadata", "generation", NULL);

  rfc3339_now(now, sizeof(now));
  if (op->kc_status[0] == '\0') {
    snprintf(op->kc_status, sizeof(op->kc_status), "Unknown");
    snprintf(op->kc_reason, sizeof(op->kc_reason), "NotUnsealed");
    snprintf(op->kc_message, sizeof(op->kc_message),
             "the key in use is known once the SealedSecret unseals");
  }
  conds = json_array();
  status = json_object();
  if (conds == NULL || status == NULL ||
      json_array_append_new(conds, make_condition(old_status, "Synced", op->synced, op->reason,
                                                  op->message, now)) ||
      json_array_append_new(conds, make_condition(old_status, "KeyCurrent", op->kc_status,
                                                  op->kc_reason, op->kc_message, now)) ||
      json_object_set_new(status, "observedGeneration",
                          json_is_integer(gen) ? json_integer(json_integer_value(gen))
                                               : json_integer(0)) ||
      json_object_set_new(status, "keyIds",
                          op->key_ids ? json_incref(op->key_ids) : json_array()) ||
      json_object_set(status, "conditions", conds)) {
    json_decref(conds);
    json_decref(status);
    rec_finish(op, FIN_RETRY, "out of memory");
    return;
  }
  json_decref(conds);

  if (status_digest(digest, status) != 0) {
    json_decref(status);
    rec_finish(op, FIN_RETRY, "out of memory");
    return;
  }
  if (old_status && sodium_memcmp(digest, op->old_digest, sizeof(digest)) == 0) {
    json_decref(status);
    if (op->written && strcmp(op->synced, "True") == 0) {
      char msg[MESSAGE_MAX];
      snprintf(msg, sizeof(msg), "unsealed into Secret %s/%s", op->ns, op->name);
      emit_event(op, "Normal", "Unsealed", msg);
    }
    rec_finish(op, FIN_DONE, NULL);
    return;
  }
  body = json_deep_copy(op->sealed);
  if (body == NULL || json_object_set_new(body, "status", status) != 0) {
    json_decref(body);
    rec_finish(op, FIN_RETRY, "out of memory");
    return;
  }
  if (kube_path(path, sizeof(path), MANIFEST_API_VERSION, "sealedsecrets", op->ns, op->name,
                "status") != KUBE_OK ||
      ctl_request(c, "update", "PUT", path, body, status_done, op) != KUBE_OK) {
    json_decref(body);
    rec_finish(op, FIN_RETRY, "cannot queue the status request");
    return;
  }
  json_decref(body);
}

static void set_outcome(rec_op *op, const char *synced, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_outcome(rec_op *op, const char *synced, const char *reason, const char *fmt, ...)
{
  va_list ap;
  op->synced = synced;
  snprintf(op->reason, sizeof(op->reason), "%s", reason);
  va_start(ap, fmt);
  vsnprintf(op->message, sizeof(op->message), fmt, ap);
  va_end(ap);
}

/* ---- the Secret --------------------------------------------------------- */

int64_t ctl_fight_delay_ms(uint32_t repairs)
{
  if (repairs < CTL_FIGHT_REPAIRS)
    return 0;
  uint32_t shift = repairs - CTL_FIGHT_REPAIRS;
  if (shift > 20)
    return CTL_FIGHT_MAX_DELAY_MS;
  int64_t d = (int64_t)1000 << shift;
  return d < CTL_FIGHT_MAX_DELAY_MS ? d : CTL_FIGHT_MAX_DELAY_MS;
}

/* The message stays the same during a fight: one status write when it starts. */
static void conflicting_writer(rec_op *op)
{
  set_outcome(op, "False", "ConflictingWriter",
              "Secret %s/%s keeps being changed by another writer; the controller puts it back "
              "with a growing delay (at most %d s); find what else writes it (its managedFields "
              "name the manager) and stop it, or let only one of them own the Secret",
              op->ns, op->name, CTL_FIGHT_MAX_DELAY_MS / 1000);
  ctl_metrics_unseal_error("ConflictingWriter");
}

/* Before a repair: 1 when it must wait (the op is finished, the key queued
 * for when it may be written). A streak whose backoff and window passed
 * without a repair has ended. */
static int fight_wait(rec_op *op)
{
  ctl_sealed *s = ctl_map_get(op->c->sealed, op->key);
  int64_t now = ctl_now_ms();
  if (!op->repair || s == NULL || s->repairs == 0)
    return 0;
  int64_t due = s->last_repair_ms + ctl_fight_delay_ms(s->repairs);
  if (now > due + CTL_FIGHT_WINDOW_MS) {
    s->repairs = 0;
    return 0;
  }
  if (now >= due)
    return 0;
  (void)ctl_queue_add_after(op->c->queue, op->key, due - now, now);
  conflicting_writer(op);
  rec_status(op); /* unchanged status: no write */
  return 1;
}

/* After a successful write: counts a repair; 1 when it is a fight. */
static int fight_record(rec_op *op)
{
  ctl_sealed *s = ctl_map_get(op->c->sealed, op->key);
  int64_t now = ctl_now_ms();
  if (!op->repair || s == NULL)
    return 0;
  ctl_metrics_secret_repair();
  if (s->repairs > 0 &&
      now > s->last_repair_ms + ctl_fight_delay_ms(s->repairs) + CTL_FIGHT_WINDOW_MS)
    s->repairs = 0;
  s->repairs++;
  s->last_repair_ms = now;
  if (s->repairs < CTL_FIGHT_REPAIRS)
    return 0;
  ctl_log(CTL_LOG_WARN, "another writer keeps changing the secret", "namespace", op->ns, "name",
          op->name, "reason", "ConflictingWriter", NULL);
  /* look again once it may have stopped: a quiet window ends the fight */
  (void)ctl_queue_add_after(op->c->queue, op->key,
                            ctl_fight_delay_ms(s->repairs) + CTL_FIGHT_WINDOW_MS + 1, now);
  conflicting_writer(op);
  rec_status(op);
  return 1;
}

static void remember_live(rec_op *op, const json_t *live, int equal)
{
  ctl *c = op->c;
  const char *label = doc_get_string(live, "metadata", "labels", MANIFEST_LABEL_UNSEALED, NULL);
  if (label == NULL)
    return; /* not watched: not cached */
  ctl_owned *o = ctl_map_get(c->owned, op->key);
  if (o == NULL) {
    o = calloc(1, sizeof(*o));
    if (o == NULL)
      return;
    if (ctl_map_put(c->owned, op->key, o) != 0) {
      free(o);
      return;
    }
  }
  ctl_owned_from_secret(o, live);
  if (equal) {
    memcpy(o->equal_rv, o->rv, sizeof(o->equal_rv));
    memcpy(o->equal_digest, op->digest, sizeof(o->equal_digest));
  }
}

static void synced_ok(rec_op *op)
{
  ctl_sealed *s = ctl_map_get(op->c->sealed, op->key);
  /* in a fight the Secret matches between two changes: still a fight until quiet */
  if (s && s->repairs >= CTL_FIGHT_REPAIRS && !op->written) {
    int64_t now = ctl_now_ms();
    int64_t quiet = s->last_repair_ms + ctl_fight_delay_ms(s->repairs) + CTL_FIGHT_WINDOW_MS;
    if (now <= quiet) {
      (void)ctl_queue_add_after(op->c->queue, op->key, quiet - now + 1, now);
      conflicting_writer(op);
      rec_status(op);
      return;
    }
    s->repairs = 0;
  }
  set_outcome(op, "True", "Unsealed", "%s", "");
  ctl_metrics_unseal_ok();
  rec_status(op);
}

static void write_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  if (st->err == KUBE_OK) {
    if (body)
      remember_live(op, body, 1);
    op->written = 1;
    ctl_log(CTL_LOG_INFO, http_code == 201 ? "secret created" : "secret updated", "namespace",
            op->ns, "name", op->name, NULL);
    if (fight_record(op))
      return;
    synced_ok(op);
    return;
  }
  if (http_code == 409) {
    /* AlreadyExists on create, or a newer version on update: look again */
    rec_retry(op, "secret changed meanwhile", st);
    return;
  }
  if (http_code == 422 || http_code == 400 || http_code == 403) {
    const char *reason = strstr(st->message, "immutable") ? "ImmutableSecret" : "Invalid";
    set_outcome(op, "False", reason, "the API server refused Secret %s/%s: %s", op->ns, op->name,
                st->message);
    ctl_metrics_unseal_error(reason);
    rec_status(op);
    return;
  }
  rec_retry(op, "cannot write the secret", st);
}

static void put_secret(rec_op *op, const char *rv)
{
  char path[KUBE_MAX_PATH];
  json_t *md = json_object_get(op->desired, "metadata");
  if (fight_wait(op))
    return;
  if (md == NULL || json_object_set_new(md, "resourceVersion", json_string(rv)) != 0 ||
      kube_path(path, sizeof(path), "v1", "secrets", op->ns, op->name, NULL) != KUBE_OK ||
      ctl_request(op->c, "update", "PUT", path, op->desired, write_done, op) != KUBE_OK) {
    rec_finish(op, FIN_RETRY, "cannot queue the secret update");
    return;
  }
}

/* Ours: our ownerReference, or (skip-owner-reference) seal.dev/managed, which
 * the controller sets on the Secrets it makes without an owner. The label
 * seal.dev/unsealed alone never makes a Secret ours: anyone may set it. */
static int owner_matches(const rec_op *op, const char *owner_uid, int managed)
{
  if (*owner_uid)
    return strcmp(owner_uid, op->uid) == 0;
  return op->skip_owner && managed;
}

static int is_key_secret(const json_t *secret)
{
  const char *type = doc_get_string(secret, "type", NULL);
  const json_t *labels = doc_get(secret, "metadata", "labels", NULL);
  return (type && manifest_reserved_type(type)) ||
         json_object_get(labels, MANIFEST_LABEL_KEY) != NULL;
}

static void not_managed(rec_op *op)
{
  set_outcome(op, "False", "SecretNotManaged",
              "Secret %s/%s exists and is not managed by this SealedSecret (neither its "
              "ownerReference nor the annotation %s: \"true\"; the label %s alone does not "
              "count); delete it, or annotate it with %s: \"true\" to let the controller take "
              "it over",
              op->ns, op->name, MANIFEST_ANN_MANAGED, MANIFEST_LABEL_UNSEALED,
              MANIFEST_ANN_MANAGED);
  ctl_metrics_unseal_error("SecretNotManaged");
  rec_status(op);
}

static void immutable_refused(rec_op *op)
{
  set_outcome(op, "False", "ImmutableSecret",
              "Secret %s/%s is immutable and differs from the SealedSecret; delete the Secret "
              "so that it is created again",
              op->ns, op->name);
  ctl_metrics_unseal_error("ImmutableSecret");
  rec_status(op);
}

static void live_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  if (http_code == 404) {
    /* gone since: create it */
    char path[KUBE_MAX_PATH];
    if (fight_wait(op))
      return;
    if (kube_path(path, sizeof(path), "v1", "secrets", op->ns, NULL, NULL) != KUBE_OK ||
        ctl_request(op->c, "create", "POST", path, op->desired, write_done, op) != KUBE_OK)
      rec_finish(op, FIN_RETRY, "cannot queue the secret creation");
    return;
  }
  if (st->err != KUBE_OK || body == NULL) {
    rec_retry(op, "cannot read the secret", st);
    return;
  }
  const char *owner = controller_owner_uid(body);
  const char *managed = doc_get_string(body, "metadata", "annotations", MANIFEST_ANN_MANAGED, NULL);
  const char *rv = doc_get_string(body, "metadata", "resourceVersion", NULL);
  int take_over = managed && strcmp(managed, "true") == 0;
  int ours = owner_matches(op, owner ? owner : "", take_over);

  if (is_key_secret(body)) {
    /* a key Secret is never written, whatever it carries: a SealedSecret
     * named like one would replace, and so delete, a key */
    set_outcome(op, "False", "SecretNotManaged",
                "Secret %s/%s is a key Secret (type or label %s); the controller never writes "
                "one: rename the SealedSecret",
                op->ns, op->name, MANIFEST_KEY_SECRET_TYPE);
    ctl_metrics_unseal_error("SecretNotManaged");
    rec_status(op);
    return;
  }
  if (!ours && !take_over) {
    not_managed(op);
    return;
  }
  if (ours && manifest_secret_matches(body, op->desired) == 1) {
    remember_live(op, body, 1);
    synced_ok(op);
    return;
  }
  if (json_is_true(json_object_get(body, "immutable"))) {
    immutable_refused(op);
    return;
  }
  if (take_over && !ours)
    ctl_log(CTL_LOG_INFO, "taking over secret", "namespace", op->ns, "name", op->name, NULL);
  put_secret(op, rv ? rv : "");
}

static void get_live(rec_op *op)
{
  char path[KUBE_MAX_PATH];
  if (kube_path(path, sizeof(path), "v1", "secrets", op->ns, op->name, NULL) != KUBE_OK ||
      ctl_request(op->c, "get", "GET", path, NULL, live_done, op) != KUBE_OK)
    rec_finish(op, FIN_RETRY, "cannot queue the secret read");
}

static void create_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  if (http_code == 409) {
    get_live(op); /* it exists: whose is it? */
    return;
  }
  write_done(ud, http_code, body, st);
}

static void owner_check_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  char path[KUBE_MAX_PATH];
  const char *uid = doc_get_string(body, "metadata", "uid", NULL);
  if (http_code == 404 || (st->err == KUBE_OK && (uid == NULL || strcmp(uid, op->uid) != 0))) {
    /* the SealedSecret went away (its Secret was garbage collected): nothing to put back */
    rec_finish(op, FIN_DONE, NULL);
    return;
  }
  if (st->err != KUBE_OK) {
    rec_retry(op, "cannot read the sealedsecret", st);
    return;
  }
  if (fight_wait(op))
    return;
  ctl_sealed *s = ctl_map_get(op->c->sealed, op->key);
  if (s)
    s->secret_deleted = 0;
  if (kube_path(path, sizeof(path), "v1", "secrets", op->ns, NULL, NULL) != KUBE_OK ||
      ctl_request(op->c, "create", "POST", path, op->desired, create_done, op) != KUBE_OK)
    rec_finish(op, FIN_RETRY, "cannot queue the secret creation");
}

static void sync_secret(rec_op *op)
{
  ctl *c = op->c;
  ctl_owned *o = ctl_map_get(c->owned, op->key);
  ctl_sealed *s = ctl_map_get(c->sealed, op->key);
  char path[KUBE_MAX_PATH];

  if (o == NULL && s && s->secret_deleted) {
    if (kube_path(path, sizeof(path), MANIFEST_API_VERSION, "sealedsecrets", op->ns, op->name,
                  NULL) != KUBE_OK ||
        ctl_request(c, "get", "GET", path, NULL, owner_check_done, op) != KUBE_OK)
      rec_finish(op, FIN_RETRY, "cannot queue the sealedsecret read");
    return;
  }
  if (o == NULL) {
    if (fight_wait(op))
      return;
    if (kube_path(path, sizeof(path), "v1", "secrets", op->ns, NULL, NULL) != KUBE_OK ||
        ctl_request(c, "create", "POST", path, op->desired, create_done, op) != KUBE_OK)
      rec_finish(op, FIN_RETRY, "cannot queue the secret creation");
    return;
  }
  int ours = owner_matches(op, o->owner_uid, o->managed);
  if (!ours && !o->managed && strcmp(o->owner_uid, "?") != 0) {
    not_managed(op);
    return;
  }
  if (ours && (sodium_memcmp(o->digest, op->digest, CTL_DIGEST_BYTES) == 0 ||
               (*o->equal_rv && strcmp(o->equal_rv, o->rv) == 0 &&
                sodium_memcmp(o->equal_digest, op->digest, CTL_DIGEST_BYTES) == 0))) {
    synced_ok(op); /* up to date: no write */
    return;
  }
  if (ours && o->immutable) {
    immutable_refused(op);
    return;
  }
  get_live(op);
}

/* ---- unsealing ---------------------------------------------------------- */

static void hex_list(char *out, size_t out_size, uint8_t ids[][KEYS_ID_BYTES], size_t n)
{
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && len + KEYS_ID_HEX_BYTES + 2 < out_size; i++) {
    char hex[KEYS_ID_HEX_BYTES];
    keys_id_hex(hex, ids[i]);
    int w = snprintf(out + len, out_size - len, "%s%s", i ? ", " : "", hex);
    if (w < 0)
      break;
    len += (size_t)w;
  }
}

static const char *hint_for(const char *reason)
{
  if (strcmp(reason, "NoKey") == 0)
    return "seal it again with this cluster's public key (seal fetches it from the ConfigMap " MANIFEST_CERT_CONFIGMAP
           ")";
  if (strcmp(reason, "Altered") == 0)
    return "the value was changed after sealing; seal it again";
  if (strcmp(reason, "WrongScope") == 0)
    return "the value was sealed for another namespace, name or scope; seal it again for this "
           "SealedSecret";
  if (strcmp(reason, "Malformed") == 0)
    return "the value is not a sealed value; seal it again";
  if (strcmp(reason, "InvalidTemplate") == 0)
    return "fix spec.template of the SealedSecret";
  return "fix the SealedSecret";
}

static void key_current(rec_op *op, const manifest_unseal_report *rep)
{
  ctl_keymgr *km = &op->c->keys;
  uint8_t old[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  uint8_t bad[KEYS_MAX_RECIPIENTS][KEYS_ID_BYTES];
  size_t n_old = 0, n_bad = 0;
  char newest[KEYS_ID_HEX_BYTES] = "";
  char list[KEYS_MAX_RECIPIENTS * 18 + 1];

  /* keyring read lock held by the caller */
  const keys_keypair *nk = keys_keyring_newest_active(km->ring);
  if (nk)
    keys_id_hex(newest, keys_keypair_public(nk)->id);
  for (size_t i = 0; i < rep->n_ids && i < KEYS_MAX_RECIPIENTS; i++) {
    keys_keypair *kp = keys_keyring_find(km->ring, rep->ids[i]);
    if (kp && keys_keypair_state(kp) == KEYS_STATE_COMPROMISED)
      memcpy(bad[n_bad++], rep->ids[i], KEYS_ID_BYTES);
    else if (nk == NULL || memcmp(rep->ids[i], keys_keypair_public(nk)->id, KEYS_ID_BYTES) != 0)
      memcpy(old[n_old++], rep->ids[i], KEYS_ID_BYTES);
  }
  if (n_bad) {
    hex_list(list, sizeof(list), bad, n_bad);
    snprintf(op->kc_status, sizeof(op->kc_status), "False");
    snprintf(op->kc_reason, sizeof(op->kc_reason), "CompromisedKey");
    snprintf(op->kc_message, sizeof(op->kc_message),
             "sealed with compromised key %s; re-seal it (seal reseal) and rotate the secret "
             "values",
             list);
  } else if (n_old) {
    hex_list(list, sizeof(list), old, n_old);
    snprintf(op->kc_status, sizeof(op->kc_status), "False");
    snprintf(op->kc_reason, sizeof(op->kc_reason), "OlderKey");
    snprintf(op->kc_message, sizeof(op->kc_message),
             "sealed with %s, newest is %s; re-seal it (seal reseal)", list,
             *newest ? newest : "none");
  } else {
    snprintf(op->kc_status, sizeof(op->kc_status), "True");
    snprintf(op->kc_reason, sizeof(op->kc_reason), "NewestKey");
    op->kc_message[0] = '\0';
  }
}

static void rec_unseal(rec_op *op);

static void got_sealed(void *ud, long http_code, json_t *body, const kube_status *st)
{
  rec_op *op = ud;
  if (http_code == 404) {
    rec_finish(op, FIN_DONE, NULL); /* deleted meanwhile: the watch says so */
    return;
  }
  if (st->err != KUBE_OK || !json_is_object(body)) {
    rec_retry(op, "cannot read the sealedsecret", st);
    return;
  }
  op->sealed = json_incref(body);
  strip_sealed(op->sealed);
  const char *uid = doc_get_string(op->sealed, "metadata", "uid", NULL);
  snprintf(op->uid, sizeof(op->uid), "%s", uid ? uid : "");
  rec_unseal(op);
}

/* Reads the SealedSecret (the cache keeps no text of it), then unseals. */
static void rec_start(ctl *c, const char *key)
{
  rec_op *op = NULL;
  ctl_sealed *s = ctl_map_get(c->sealed, key);
  int64_t now = ctl_now_ms();
  char path[KUBE_MAX_PATH];
  const char *slash = strchr(key, '/');

  if (s == NULL || slash == NULL) {
    ctl_queue_forget(c->queue, key);
    ctl_queue_done(c->queue, key, now);
    return;
  }
  op = calloc(1, sizeof(*op));
  if (op == NULL) {
    (void)ctl_queue_retry(c->queue, key, now);
    return;
  }
  op->c = c;
  op->started_us = ctl_now_us();
  snprintf(op->key, sizeof(op->key), "%s", key);
  snprintf(op->ns, sizeof(op->ns), "%.*s", (int)(slash - key), key);
  snprintf(op->name, sizeof(op->name), "%s", slash + 1);
  snprintf(op->uid, sizeof(op->uid), "%s", s->uid);
  c->ops_in_flight++;
  op->size = s->size < CTL_MAX_SEALED_BYTES ? s->size : CTL_MAX_SEALED_BYTES;
  c->bytes_in_flight += op->size;
  op->old_status = status_from_summary(s);
  memcpy(op->old_digest, s->status_digest, sizeof(op->old_digest));
  if (s->json) { /* small: from the cache, no read */
    op->sealed = json_loadb(s->json, s->json_len, 0, NULL);
    if (op->sealed == NULL) {
      rec_finish(op, FIN_RETRY, "out of memory");
      return;
    }
    rec_unseal(op);
    return;
  }
  if (kube_path(path, sizeof(path), MANIFEST_API_VERSION, "sealedsecrets", op->ns, op->name,
                NULL) != KUBE_OK ||
      ctl_request(c, "get", "GET", path, NULL, got_sealed, op) != KUBE_OK)
    rec_finish(op, FIN_RETRY, "cannot queue the sealedsecret read");
}

static void rec_unseal(rec_op *op)
{
  ctl *c = op->c;
  manifest_unseal_report rep;
  manifest_error merr;
  size_t size = sealed_size(op->sealed);
  if (size > CTL_MAX_SEALED_BYTES) {
    set_outcome(op, "False", "TooLarge",
                "SealedSecret %s/%s: values and template data of %zu bytes, over the ceiling of "
                "%d bytes per SealedSecret; split it",
                op->ns, op->name, size, CTL_MAX_SEALED_BYTES);
    ctl_metrics_unseal_error("TooLarge");
    ctl_log(CTL_LOG_WARN, "sealedsecret too large", "namespace", op->ns, "name", op->name, NULL);
    rec_status(op);
    return;
  }
  const char *skip = doc_get_string(op->sealed, "spec", "template", "metadata", "annotations",
                                    MANIFEST_ANN_SKIP_OWNER, NULL);
  op->skip_owner = skip && strcmp(skip, "true") == 0;

  memset(&rep, 0, sizeof(rep));
  memset(&merr, 0, sizeof(merr));
  pthread_rwlock_rdlock(&c->keys.lock);
  int rc = manifest_unseal_sealed(&op->desired, op->sealed, c->keys.ring,
                                  MANIFEST_UNSEAL_RENDER | MANIFEST_UNSEAL_OWNER |
                                      MANIFEST_UNSEAL_CONTROLLER,
                                  &rep, &merr);
  if (rc == MANIFEST_OK)
    key_current(op, &rep);
  pthread_rwlock_unlock(&c->keys.lock);

  op->key_ids = json_array();
  for (size_t i = 0; op->key_ids && i < rep.n_ids && i < KEYS_MAX_RECIPIENTS; i++) {
    char hex[KEYS_ID_HEX_BYTES];
    keys_id_hex(hex, rep.ids[i]);
    json_array_append_new(op->key_ids, json_string(hex));
  }

  if (rc != MANIFEST_OK) {
    /* the reason comes from manifest_unseal_sealed, as /v1/verify's does */
    const char *reason = rep.reason ? rep.reason : "Invalid";
    if (rc == MANIFEST_ERR_NOMEM) {
      rec_finish(op, FIN_RETRY, "out of memory");
      return;
    }
    set_outcome(op, "False", reason, "%s: %s", merr.message, hint_for(reason));
    ctl_metrics_unseal_error(reason);
    ctl_log(CTL_LOG_WARN, "cannot unseal", "namespace", op->ns, "name", op->name, "reason", reason,
            "error", merr.message, NULL);
    json_decref(op->desired);
    op->desired = NULL;
    rec_status(op);
    return;
  }
  op->unsealed = 1;
  if (ctl_secret_digest(op->digest, op->desired) != 0) {
    rec_finish(op, FIN_RETRY, "out of memory");
    return;
  }
  ctl_sealed *cached = ctl_map_get(op->c->sealed, op->key);
  if (cached) {
    op->repair = cached->has_secret_digest &&
                 sodium_memcmp(cached->secret_digest, op->digest, CTL_DIGEST_BYTES) == 0;
    memcpy(cached->secret_digest, op->digest, sizeof(cached->secret_digest));
    cached->has_secret_digest = 1;
  }
  sync_secret(op);
}

void ctl_reconcile_pump(ctl *c)
{
  int64_t now = ctl_now_ms();
  if (atomic_load(&c->stopping))
    return;
  /* one more may start while under the budget: in flight stays under budget +
   * CTL_MAX_SEALED_BYTES */
  while (c->ops_in_flight < c->max_ops && c->bytes_in_flight < CTL_RECONCILE_BUDGET_BYTES) {
    const char *key = ctl_queue_get(c->queue, now);
    if (key == NULL)
      break;
    char copy[CTL_KEY_MAX];
    snprintf(copy, sizeof(copy), "%s", key);
    rec_start(c, copy);
  }
}
