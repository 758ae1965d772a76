#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "internal.h"
#include "kube.h"
#include "lines.h"

#include "banned.h"

/*
 * List-then-watch. States: LISTING (a page request out), WATCHING (a stream
 * out), nothing else: a delay is a request queued with delay_ms. The watch
 * keeps the keys it has reported (namespace/name -> resourceVersion) in a
 * small open-addressing table, never objects; a re-list marks every key it
 * sees with the list's generation, and keys left with an older one were
 * deleted in the gap.
 *
 * User handlers may free the watch: `depth` counts the entries into this file
 * from the client, and the watch is destroyed when the outermost returns.
 */

#define MAX_RV 128
#define MAX_KEY 512 /* namespace (63) / name (253), with room */

typedef struct known_entry {
  char *key; /* NULL: empty; TOMBSTONE: deleted */
  char *rv;
  uint32_t gen;
} known_entry;

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

typedef enum { ACT_NONE = 0, ACT_RELIST, ACT_REWATCH } action;

struct kube_watch {
  kube_client *c;
  char *gv, *plural, *ns, *selector;
  kube_watch_handlers h;
  void *ud;
  char kind[128];
  char rv[MAX_RV];      /* last resourceVersion seen */
  char list_rv[MAX_RV]; /* of the list being read */
  char *cont;           /* continue token of the list being read */
  int page_limit;       /* objects asked per list page: a quarter when a page is over
                           max_response_bytes, doubled back after each page read */
  int synced;
  int failures;
  kube_req *req;
  kube_lines lines;
  action act;          /* decided by the stream, carried out when it ends */
  size_t stream_lines; /* lines the current stream delivered: a stream that ends
                          without any is a failure, so a server that closes at
                          once is not asked again at full speed */
  const char *act_reason;
  int depth;
  int dead;
  uint32_t gen;
  known_entry *tab;
  size_t tab_cap, tab_used, tab_count; /* used counts tombstones */
};

/* ---- the key table ------------------------------------------------------- */

static size_t hash_key(const char *s)
{
  size_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static known_entry *known_find(kube_watch *w, const char *key)
{
  size_t i, mask;
  if (w->tab_cap == 0)
    return NULL;
  mask = w->tab_cap - 1;
  for (i = hash_key(key) & mask;; i = (i + 1) & mask) {
    known_entry *e = &w->tab[i];
    if (e->key == NULL)
      return NULL;
    if (e->key != TOMBSTONE && strcmp(e->key, key) == 0)
      return e;
  }
}

static int known_grow(kube_watch *w)
{
  size_t cap = w->tab_cap ? w->tab_cap * 2 : 64, i;
  known_entry *old = w->tab, *nt;
  size_t old_cap = w->tab_cap;

  if (w->tab_count * 2 < w->tab_cap) /* mostly tombstones: rebuild at the same size */
    cap = w->tab_cap;
  nt = calloc(cap, sizeof(*nt));
  if (nt == NULL)
    return KUBE_ERR_NOMEM;
  for (i = 0; i < old_cap; i++) {
    if (old[i].key != NULL && old[i].key != TOMBSTONE) {
      size_t j = hash_key(old[i].key) & (cap - 1);
      while (nt[j].key != NULL)
        j = (j + 1) & (cap - 1);
      nt[j] = old[i];
    }
  }
  free(old);
  w->tab = nt;
  w->tab_cap = cap;
  w->tab_used = w->tab_count;
  return 0;
}

static int known_put(kube_watch *w, const char *key, const char *rv)
{
  known_entry *e = known_find(w, key);
  char *nrv = strdup(rv);
  size_t i, mask;

  if (nrv == NULL)
    return KUBE_ERR_NOMEM;
  if (e != NULL) {
    free(e->rv);
    e->rv = nrv;
    e->gen = w->gen;
    return 0;
  }
  if ((w->tab_used + 1) * 10 >= w->tab_cap * 7 && known_grow(w) < 0) {
    free(nrv);
    return KUBE_ERR_NOMEM;
  }
  mask = w->tab_cap - 1;
  for (i = hash_key(key) & mask; w->tab[i].key != NULL && w->tab[i].key != TOMBSTONE;
       i = (i + 1) & mask)
    ;
  if (w->tab[i].key == NULL)
    w->tab_used++;
  w->tab[i].key = strdup(key);
  if (w->tab[i].key == NULL) {
    w->tab[i].key = TOMBSTONE;
    free(nrv);
    return KUBE_ERR_NOMEM;
  }
  w->tab[i].rv = nrv;
  w->tab[i].gen = w->gen;
  w->tab_count++;
  return 0;
}

static void known_del(kube_watch *w, known_entry *e)
{
  free(e->key);
  free(e->rv);
  e->key = TOMBSTONE;
  e->rv = NULL;
  w->tab_count--;
}

static void known_clear(kube_watch *w)
{
  for (size_t i = 0; i < w->tab_cap; i++)
    if (w->tab[i].key != NULL && w->tab[i].key != TOMBSTONE) {
      free(w->tab[i].key);
      free(w->tab[i].rv);
    }
  free(w->tab);
  w->tab = NULL;
  w->tab_cap = w->tab_used = w->tab_count = 0;
}

/* ---- helpers ------------------------------------------------------------- */

static void destroy(kube_watch *w)
{
  kube_req_cancel(w->c, w->req);
  w->req = NULL;
  kube_lines_free(&w->lines);
  known_clear(w);
  free(w->gv);
  free(w->plural);
  free(w->ns);
  free(w->selector);
  free(w->cont);
  free(w);
}

static void enter(kube_watch *w)
{
  w->depth++;
}

static void leave(kube_watch *w)
{
  if (--w->depth == 0 && w->dead)
    destroy(w);
}

/* Key "namespace/name" (or "name") and resourceVersion of an object. */
static int object_key(char *key, size_t size, const char **rv, const json_t *obj)
{
  json_t *md = json_object_get(obj, "metadata");
  const char *name = json_string_value(json_object_get(md, "name"));
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  int n;

  *rv = json_string_value(json_object_get(md, "resourceVersion"));
  if (!json_is_object(obj) || name == NULL || name[0] == '\0' || *rv == NULL ||
      strlen(*rv) >= MAX_RV)
    return -1;
  n = (ns != NULL && ns[0] != '\0') ? snprintf(key, size, "%s/%s", ns, name)
                                    : snprintf(key, size, "%s", name);
  return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Items of a list carry no apiVersion and kind on a real server: the handlers
 * always get both. */
static void type_object(kube_watch *w, json_t *obj)
{
  if (json_object_get(obj, "kind") == NULL && w->kind[0] != '\0')
    json_object_set_new(obj, "kind", json_string(w->kind));
  if (json_object_get(obj, "apiVersion") == NULL)
    json_object_set_new(obj, "apiVersion", json_string(w->gv));
}

static void emit(kube_watch *w, kube_event_type type, json_t *obj)
{
  if (!w->dead && w->h.on_event != NULL)
    w->h.on_event(w->ud, type, obj);
}

static void restart_note(kube_watch *w, const char *reason)
{
  kube_client_log(w->c, KUBE_LOG_INFO, "watch %s%s%s: restarting (%s) from resourceVersion \"%s\"",
                  w->ns ? w->ns : "", w->ns ? "/" : "", w->plural, reason, w->rv);
  if (!w->dead && w->h.on_restart != NULL)
    w->h.on_restart(w->ud, reason);
}

static long next_delay(kube_watch *w, int failed)
{
  if (!failed)
    return 0;
  w->failures++;
  return kube_client_backoff(w->c, w->failures);
}

static void list_done(void *ud, long code, json_t *body, const kube_status *st);
static void watch_done(void *ud, long code, json_t *body, const kube_status *st);
static int on_stream(void *ud, const char *data, size_t n);

static int base_path(kube_watch *w, char *path, size_t size)
{
  int rc = kube_path(path, size, w->gv, w->plural, w->ns, NULL, NULL);
  if (rc == 0 && w->selector != NULL)
    rc = kube_query_add(path, size, "labelSelector", w->selector);
  return rc;
}

static int start_list(kube_watch *w, long delay_ms)
{
  char path[KUBE_MAX_PATH], limit[32];
  kube_req_spec s;
  int rc;

  if (w->dead)
    return 0;
  int max = kube_client_get_opts(w->c)->list_limit;
  if (w->page_limit <= 0 || w->page_limit > max)
    w->page_limit = max;
  snprintf(limit, sizeof(limit), "%d", w->page_limit);
  rc = base_path(w, path, sizeof(path));
  if (rc == 0)
    rc = kube_query_add(path, sizeof(path), "limit", limit);
  if (rc == 0 && w->cont != NULL)
    rc = kube_query_add(path, sizeof(path), "continue", w->cont);
  if (rc < 0)
    return rc;
  memset(&s, 0, sizeof(s));
  s.method = "GET";
  s.path = path;
  s.done = list_done;
  s.ud = w;
  s.delay_ms = delay_ms;
  return kube_req_submit(w->c, &s, &w->req);
}

static int start_watch(kube_watch *w, long delay_ms)
{
  char path[KUBE_MAX_PATH], tmo[32];
  const kube_client_opts *o = kube_client_get_opts(w->c);
  kube_req_spec s;
  int rc;

  if (w->dead)
    return 0;
  snprintf(tmo, sizeof(tmo), "%ld", o->watch_timeout_s);
  rc = base_path(w, path, sizeof(path));
  if (rc == 0)
    rc = kube_query_add(path, sizeof(path), "watch", "1");
  if (rc == 0)
    rc = kube_query_add(path, sizeof(path), "allowWatchBookmarks", "true");
  if (rc == 0)
    rc = kube_query_add(path, sizeof(path), "resourceVersion", w->rv);
  if (rc == 0)
    rc = kube_query_add(path, sizeof(path), "timeoutSeconds", tmo);
  if (rc < 0)
    return rc;
  kube_lines_reset(&w->lines);
  w->stream_lines = 0;
  w->act = ACT_NONE;
  w->act_reason = NULL;
  memset(&s, 0, sizeof(s));
  s.method = "GET";
  s.path = path;
  s.done = watch_done;
  s.ud = w;
  s.stream = on_stream;
  s.delay_ms = delay_ms;
  s.no_retry = 1;                                  /* the watch has its own backoff */
  s.timeout_ms = (o->watch_timeout_s + 30) * 1000; /* a stream that goes silent */
  return kube_req_submit(w->c, &s, &w->req);
}

/* Starts over with a fresh list (a new generation). */
static void relist(kube_watch *w, long delay_ms)
{
  free(w->cont);
  w->cont = NULL;
  if (start_list(w, delay_ms) < 0)
    kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: cannot queue the list", w->plural);
}

static void rewatch(kube_watch *w, long delay_ms)
{
  if (start_watch(w, delay_ms) < 0)
    kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: cannot queue the watch", w->plural);
}

/* ---- list ---------------------------------------------------------------- */

static void list_done(void *ud, long code, json_t *body, const kube_status *st)
{
  kube_watch *w = ud;
  json_t *items, *md, *item;
  const char *list_rv, *cont, *kind;
  size_t i;

  w->req = NULL;
  enter(w);
  if (st->err != KUBE_OK) {
    if (st->err == KUBE_ERR_LIMIT && w->page_limit > 1) {
      /* large objects: the same page again with a quarter as many, so that
       * no answer is over max_response_bytes (memory stays bounded) */
      w->page_limit = w->page_limit > 4 ? w->page_limit / 4 : 1;
      kube_client_log(w->c, KUBE_LOG_INFO, "watch %s: list page too large; asking %d at a time",
                      w->plural, w->page_limit);
      if (start_list(w, 0) < 0) {
        restart_note(w, "error");
        relist(w, next_delay(w, 1));
      }
    } else if (code == 410 && w->cont != NULL) {
      restart_note(w, "expired");
      relist(w, 0);
    } else {
      kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: list failed: %s", w->plural, st->message);
      restart_note(w, "error");
      relist(w, next_delay(w, 1));
    }
    goto out;
  }
  items = json_object_get(body, "items");
  md = json_object_get(body, "metadata");
  list_rv = json_string_value(json_object_get(md, "resourceVersion"));
  cont = json_string_value(json_object_get(md, "continue"));
  kind = json_string_value(json_object_get(body, "kind"));
  if ((!json_is_array(items) && !json_is_null(items)) || list_rv == NULL ||
      strlen(list_rv) >= MAX_RV) {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: list answer without items or resourceVersion",
                    w->plural);
    restart_note(w, "malformed");
    relist(w, next_delay(w, 1));
    goto out;
  }
  if (w->cont == NULL) { /* first page: a new generation */
    w->gen++;
    snprintf(w->list_rv, sizeof(w->list_rv), "%s", list_rv);
    if (kind != NULL && strlen(kind) > 4 && strlen(kind) < sizeof(w->kind) + 4 &&
        strcmp(kind + strlen(kind) - 4, "List") == 0)
      snprintf(w->kind, sizeof(w->kind), "%.*s", (int)(strlen(kind) - 4), kind);
  }
  json_array_foreach(items, i, item) {
    char key[MAX_KEY];
    const char *rv;
    known_entry *e;
    kube_event_type type;

    if (object_key(key, sizeof(key), &rv, item) < 0) {
      kube_client_log(w->c, KUBE_LOG_WARN,
                      "watch %s: list item %zu has no name or resourceVersion; skipped", w->plural,
                      i + 1);
      continue;
    }
    e = known_find(w, key);
    if (e != NULL && strcmp(e->rv, rv) == 0) {
      e->gen = w->gen;
      continue;
    }
    type = e ? KUBE_EVENT_MODIFIED : KUBE_EVENT_ADDED;
    if (known_put(w, key, rv) < 0) {
      kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: out of memory", w->plural);
      relist(w, next_delay(w, 1));
      goto out;
    }
    type_object(w, item);
    emit(w, type, item);
    if (w->dead)
      goto out;
  }
  if (w->page_limit < kube_client_get_opts(w->c)->list_limit)
    w->page_limit *= 2;
  free(w->cont);
  w->cont = NULL;
  if (cont != NULL && cont[0] != '\0') {
    w->cont = strdup(cont);
    if (w->cont == NULL || start_list(w, 0) < 0) {
      kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: cannot queue the next page", w->plural);
      relist(w, next_delay(w, 1));
    }
    goto out;
  }
  /* complete: what was not seen is gone */
  for (i = 0; i < w->tab_cap && !w->dead; i++) {
    known_entry *e = &w->tab[i];
    json_t *obj;
    char *slash;

    if (e->key == NULL || e->key == TOMBSTONE || e->gen == w->gen)
      continue;
    slash = strchr(e->key, '/');
    if (slash != NULL)
      obj = json_pack("{s:s, s:s, s:{s:s%, s:s, s:s}}", "apiVersion", w->gv, "kind", w->kind,
                      "metadata", "namespace", e->key, (size_t)(slash - e->key), "name", slash + 1,
                      "resourceVersion", e->rv);
    else
      obj = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", w->gv, "kind", w->kind, "metadata",
                      "name", e->key, "resourceVersion", e->rv);
    known_del(w, e);
    if (obj == NULL) {
      kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: out of memory", w->plural);
      continue;
    }
    emit(w, KUBE_EVENT_DELETED, obj);
    json_decref(obj);
  }
  if (w->dead)
    goto out;
  snprintf(w->rv, sizeof(w->rv), "%s", w->list_rv);
  w->failures = 0;
  if (!w->synced) {
    w->synced = 1;
    if (w->h.on_synced != NULL)
      w->h.on_synced(w->ud);
  }
  rewatch(w, 0);
out:
  leave(w);
}

/* ---- watch stream -------------------------------------------------------- */

static int stop_stream(kube_watch *w, action act, const char *reason)
{
  w->act = act;
  w->act_reason = reason;
  return 1;
}

static int on_line(void *ud, char *line, size_t len)
{
  kube_watch *w = ud;
  json_error_t jerr;
  json_t *ev = json_loadb(line, len, 0, &jerr);
  json_t *obj;
  const char *type, *rv;
  char key[MAX_KEY];
  known_entry *e;
  kube_event_type et;
  int rc = 0;

  w->stream_lines++;
  obj = json_object_get(ev, "object");
  type = json_string_value(json_object_get(ev, "type"));
  if (ev == NULL || type == NULL || !json_is_object(obj)) {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: malformed event: %s", w->plural,
                    ev == NULL ? jerr.text : "no type or object");
    rc = stop_stream(w, ACT_RELIST, "malformed");
    goto out;
  }
  if (strcmp(type, "ERROR") == 0) {
    json_t *code = json_object_get(obj, "code");
    const char *msg = json_string_value(json_object_get(obj, "message"));
    if (json_integer_value(code) == 410) {
      rc = stop_stream(w, ACT_RELIST, "expired");
    } else {
      kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: error event %lld: %s", w->plural,
                      (long long)json_integer_value(code), msg ? msg : "");
      rc = stop_stream(w, ACT_REWATCH, "error");
    }
    goto out;
  }
  if (strcmp(type, "BOOKMARK") == 0) {
    rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (rv != NULL && rv[0] != '\0' && strlen(rv) < MAX_RV)
      snprintf(w->rv, sizeof(w->rv), "%s", rv);
    goto out;
  }
  if (strcmp(type, "ADDED") == 0)
    et = KUBE_EVENT_ADDED;
  else if (strcmp(type, "MODIFIED") == 0)
    et = KUBE_EVENT_MODIFIED;
  else if (strcmp(type, "DELETED") == 0)
    et = KUBE_EVENT_DELETED;
  else {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: unknown event type \"%.32s\"", w->plural, type);
    rc = stop_stream(w, ACT_RELIST, "malformed");
    goto out;
  }
  if (object_key(key, sizeof(key), &rv, obj) < 0) {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: %s event without name or resourceVersion",
                    w->plural, type);
    rc = stop_stream(w, ACT_RELIST, "malformed");
    goto out;
  }
  e = known_find(w, key);
  snprintf(w->rv, sizeof(w->rv), "%s", rv);
  w->failures = 0;
  if (et == KUBE_EVENT_DELETED) {
    if (e == NULL)
      goto out; /* already reported */
    known_del(w, e);
  } else {
    if (e != NULL && strcmp(e->rv, rv) == 0)
      goto out; /* seen already (a replay) */
    if (known_put(w, key, rv) < 0) {
      rc = stop_stream(w, ACT_RELIST, "error");
      goto out;
    }
    if (e == NULL)
      et = KUBE_EVENT_ADDED;
    else if (et == KUBE_EVENT_ADDED)
      et = KUBE_EVENT_MODIFIED;
  }
  type_object(w, obj);
  emit(w, et, obj);
  if (w->dead)
    rc = 1;
out:
  json_decref(ev);
  return rc;
}

static int on_stream(void *ud, const char *data, size_t n)
{
  kube_watch *w = ud;
  int rc;

  enter(w);
  rc = kube_lines_feed(&w->lines, data, n, on_line, w);
  if (rc == KUBE_ERR_LIMIT) {
    kube_client_log(w->c, KUBE_LOG_ERROR, "watch %s: event larger than %zu bytes; listing again",
                    w->plural, kube_client_get_opts(w->c)->max_event_bytes);
    stop_stream(w, ACT_RELIST, "oversized");
  } else if (rc == KUBE_ERR_NOMEM) {
    stop_stream(w, ACT_REWATCH, "error");
  }
  leave(w); /* may destroy w: the client then drops the transfer */
  return rc != 0;
}

static void watch_done(void *ud, long code, json_t *body, const kube_status *st)
{
  kube_watch *w = ud;

  w->req = NULL;
  enter(w);
  if (w->act == ACT_RELIST) {
    restart_note(w, w->act_reason);
    relist(w, next_delay(w, strcmp(w->act_reason, "expired") != 0 || w->stream_lines <= 1));
  } else if (w->act == ACT_REWATCH) {
    restart_note(w, w->act_reason);
    rewatch(w, next_delay(w, 1));
  } else if (st->err == KUBE_OK) {
    if (kube_lines_pending(&w->lines) > 0)
      kube_client_log(w->c, KUBE_LOG_DEBUG, "watch %s: stream ended inside an event", w->plural);
    restart_note(w, "closed");
    if (w->stream_lines > 0)
      w->failures = 0;
    rewatch(w, next_delay(w, w->stream_lines == 0));
  } else if (code == 410) {
    restart_note(w, "expired");
    relist(w, next_delay(w, 1));
  } else if (st->err == KUBE_ERR_TRANSPORT) {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: %s", w->plural, st->message);
    restart_note(w, "broken");
    rewatch(w, next_delay(w, 1));
  } else {
    kube_client_log(w->c, KUBE_LOG_WARN, "watch %s: %s", w->plural, st->message);
    restart_note(w, "error");
    /* several failures in a row: the resourceVersion may be the problem */
    if (w->failures >= 3)
      relist(w, next_delay(w, 1));
    else
      rewatch(w, next_delay(w, 1));
  }
  leave(w);
}

/* ---- public -------------------------------------------------------------- */

int kube_watch_new(kube_watch **out, kube_client *c, const char *gv, const char *plural,
                   const char *ns, const char *selector, const kube_watch_handlers *h, void *ud,
                   kube_status *st)
{
  kube_watch *w = NULL;
  char probe[KUBE_MAX_PATH];
  int rc;

  if (st)
    memset(st, 0, sizeof(*st));
  if (out == NULL || c == NULL || h == NULL || h->on_event == NULL ||
      kube_path(probe, sizeof(probe), gv, plural, ns, NULL, NULL) < 0) {
    kube_status_set(st, KUBE_ERR_INVALID, "watch: bad resource \"%s\" \"%s\"", gv ? gv : "",
                    plural ? plural : "");
    return KUBE_ERR_INVALID;
  }
  *out = NULL;
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    goto nomem;
  w->c = c;
  w->h = *h;
  w->ud = ud;
  w->gv = strdup(gv);
  w->plural = strdup(plural);
  w->ns = ns ? strdup(ns) : NULL;
  w->selector = selector ? strdup(selector) : NULL;
  if (w->gv == NULL || w->plural == NULL || (ns && !w->ns) || (selector && !w->selector))
    goto nomem;
  kube_lines_init(&w->lines, kube_client_get_opts(c)->max_event_bytes);
  rc = start_list(w, 0);
  if (rc < 0) {
    kube_status_set(st, rc, "watch %s: cannot queue the list: %s", plural, kube_strerror(rc));
    destroy(w);
    return rc;
  }
  *out = w;
  return KUBE_OK;
nomem:
  if (w)
    destroy(w);
  kube_status_set(st, KUBE_ERR_NOMEM, "watch: out of memory");
  return KUBE_ERR_NOMEM;
}

void kube_watch_free(kube_watch *w)
{
  if (w == NULL || w->dead)
    return;
  w->dead = 1;
  kube_req_cancel(w->c, w->req);
  w->req = NULL;
  if (w->depth == 0)
    destroy(w);
}

int kube_watch_synced(const kube_watch *w)
{
  return w ? w->synced : 0;
}
const char *kube_watch_resource_version(const kube_watch *w)
{
  return w ? w->rv : "";
}
size_t kube_watch_known(const kube_watch *w)
{
  return w ? w->tab_count : 0;
}
