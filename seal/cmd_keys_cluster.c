#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

/* What the key-lifecycle commands share: the key Secrets of a namespace,
 * merge patches on them, and paged lists. */

#define LIST_PAGE "100" /* small pages: SealedSecrets can be large and answers stop at 4 MiB */
#define MAX_LIST_PAGES 100000 /* 10 million objects: a hard end to a runaway continue loop */
#define MAX_KEY_ARMOR_BYTES (64u * 1024)

const char *seal_keys_ns(const char *opt)
{
  return opt && *opt ? opt : MANIFEST_KEYS_NAMESPACE;
}

static int kube_failed(const char *what, const kube_status *ks, int rc)
{
  return seal_report(SEAL_ERR_ENV, "%s: %s", what,
                     ks->message[0] ? ks->message : kube_strerror(rc));
}

int seal_kube_list(kube_client *client, const char *path, const char *what,
                   int (*each)(void *ud, json_t *item), void *ud)
{
  char page[KUBE_MAX_PATH + 1024], cont[1024] = "";
  size_t pages = 0, i;
  int st = SEAL_OK;

  do {
    kube_status ks = {0};
    json_t *body = NULL, *items, *item;
    const char *next;
    long code = 0;
    int rc;

    if (snprintf(page, sizeof page, "%s", path) >= (int)sizeof page ||
        kube_query_add(page, sizeof page, "limit", LIST_PAGE) != KUBE_OK ||
        (cont[0] && kube_query_add(page, sizeof page, "continue", cont) != KUBE_OK))
      return seal_report(SEAL_ERR_ENV, "%s: list path too long", what);
    rc = kube_request_sync(client, "GET", page, NULL, 0, NULL, &code, &body, &ks);
    if (rc != KUBE_OK) {
      json_decref(body);
      return kube_failed(what, &ks, rc);
    }
    items = json_object_get(body, "items");
    if (!json_is_array(items)) {
      json_decref(body);
      return seal_report(SEAL_ERR_ENV, "%s: the answer is not a list", what);
    }
    json_array_foreach(items, i, item) {
      if ((st = each(ud, item)) != SEAL_OK)
        break;
    }
    next = doc_get_string(body, "metadata", "continue", NULL);
    if (st == SEAL_OK && next && *next &&
        snprintf(cont, sizeof cont, "%s", next) >= (int)sizeof cont)
      st = seal_report(SEAL_ERR_ENV, "%s: continue token too long", what);
    else if (next == NULL || *next == '\0')
      cont[0] = '\0';
    json_decref(body);
    if (st != SEAL_OK)
      return st;
    if (++pages >= MAX_LIST_PAGES)
      return seal_report(SEAL_ERR_ENV, "%s: more than %d pages", what, MAX_LIST_PAGES);
  } while (cont[0]);
  return SEAL_OK;
}

typedef struct key_collect {
  seal_key_list *list;
  const char *ns;
} key_collect;

static int collect_key(void *ud, json_t *item)
{
  key_collect *kc = ud;
  seal_key_list *l = kc->list;
  const char *name = doc_get_string(item, "metadata", "name", NULL);
  const char *why = manifest_key_secret_untrusted(item);
  manifest_key_secret ks;
  manifest_error merr = {0};
  seal_key_info k;
  int rc;

  if (name == NULL || strlen(name) > KEYS_NAME_MAX)
    return SEAL_OK;
  if (why != NULL) {
    seal_warn("key secret %s/%s skipped: %s", kc->ns, name, why);
    return SEAL_OK;
  }
  rc = manifest_key_secret_parse(&ks, item, kc->ns, &merr);
  manifest_key_secret_clear(&ks); /* the id is enough here */
  if (rc != MANIFEST_OK) {
    /* halves that name two keys: a backup or rotation could act on the
     * wrong key, so that stops the command */
    if (ks.fault == MANIFEST_KEY_SOUND || ks.fault == MANIFEST_KEY_MISMATCH)
      return seal_report(ks.fault == MANIFEST_KEY_SOUND ? SEAL_ERR_ENV : SEAL_ERR_INPUT, "%s",
                         merr.message);
    seal_warn("%s; skipped", merr.message);
    return SEAL_OK;
  }
  memset(&k, 0, sizeof k);
  snprintf(k.name, sizeof k.name, "%s", ks.name);
  snprintf(k.id, sizeof k.id, "%s", ks.hex);
  memcpy(k.raw_id, ks.id, KEYS_ID_BYTES);
  k.compromised = ks.compromised;
  k.created = ks.created;
  k.backed_up = ks.backed_up;
  if (l->n >= SEAL_MAX_KEYS)
    return seal_report(SEAL_ERR_ENV, "key secrets in %s: more than %d", kc->ns, SEAL_MAX_KEYS);
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    seal_key_info *v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return seal_report(SEAL_ERR_ENV, "out of memory");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = k;
  return SEAL_OK;
}

static int key_order(const void *a, const void *b)
{
  const seal_key_info *x = a, *y = b;
  if (x->created != y->created)
    return x->created < y->created ? -1 : 1;
  return memcmp(x->raw_id, y->raw_id, KEYS_ID_BYTES);
}

int seal_keys_fetch(seal_key_list *out, kube_client *client, const char *ns)
{
  char path[KUBE_MAX_PATH], what[300];
  key_collect kc = {out, ns};
  int st;

  memset(out, 0, sizeof *out);
  snprintf(what, sizeof what, "key secrets in namespace %s", ns);
  if (!keys_name_valid(ns))
    return seal_report(SEAL_ERR_USAGE, "--key-namespace '%s': not a valid namespace", ns);
  if (kube_path(path, sizeof path, "v1", "secrets", ns, NULL, NULL) != KUBE_OK ||
      kube_query_add(path, sizeof path, "labelSelector", MANIFEST_LABEL_KEY) != KUBE_OK)
    return seal_report(SEAL_ERR_ENV, "%s: path too long", what);
  st = seal_kube_list(client, path, what, collect_key, &kc);
  if (st != SEAL_OK) {
    seal_keys_free(out);
    return st;
  }
  if (out->n > 1)
    qsort(out->v, out->n, sizeof *out->v, key_order);
  return SEAL_OK;
}

int seal_keys_option(seal_keys_opts *o, int c, const char *arg)
{
  if (c == SEAL_OPT_KEY_NS) {
    o->ns = arg;
    return 1;
  }
  return seal_cluster_option(&o->cluster, c, arg);
}

int seal_keys_finish(seal_keys_opts *o, const char *cmd)
{
  if (o->ns == NULL && (o->ns = seal_env("SEAL_KEY_NAMESPACE")) != NULL && !keys_name_valid(o->ns))
    return seal_usage_error(cmd, "%s: SEAL_KEY_NAMESPACE '%s': not a valid namespace", cmd, o->ns);
  return seal_cluster_finish(&o->cluster, cmd);
}

int seal_keys_open(seal_keys_session *s, const seal_keys_opts *o)
{
  int st;
  s->client = NULL;
  s->ns = seal_keys_ns(o->ns);
  if ((st = seal_kube_open(&s->client, &o->cluster, NULL)) != SEAL_OK)
    return st;
  return seal_keys_fetch(&s->keys, s->client, s->ns);
}

void seal_keys_close(seal_keys_session *s)
{
  seal_keys_free(&s->keys);
  kube_client_free(s->client);
  s->client = NULL;
}

void seal_keys_free(seal_key_list *l)
{
  free(l->v);
  memset(l, 0, sizeof *l);
}

const seal_key_info *seal_keys_newest(const seal_key_list *l)
{
  for (size_t i = l->n; i > 0; i--)
    if (!l->v[i - 1].compromised)
      return &l->v[i - 1];
  return NULL;
}

const seal_key_info *seal_keys_find(const seal_key_list *l, const uint8_t id[KEYS_ID_BYTES])
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->v[i].raw_id, id, KEYS_ID_BYTES) == 0)
      return &l->v[i];
  return NULL;
}

/* A JSON merge patch on the Secret ns/name. */
static int keys_patch(kube_client *client, const char *ns, const char *name, json_t *patch)
{
  char path[KUBE_MAX_PATH], *text = NULL;
  kube_status ks = {0};
  long code = 0;
  int rc, st = SEAL_OK;

  if (kube_path(path, sizeof path, "v1", "secrets", ns, name, NULL) != KUBE_OK)
    return seal_report(SEAL_ERR_ENV, "key secret %s/%s: path too long", ns, name);
  text = json_dumps(patch, JSON_COMPACT);
  if (text == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  rc = kube_request_sync(client, "PATCH", path, text, strlen(text), "application/merge-patch+json",
                         &code, NULL, &ks);
  if (rc != KUBE_OK) {
    char what[600];
    snprintf(what, sizeof what, "key secret %s/%s: patch", ns, name);
    st = kube_failed(what, &ks, rc);
  }
  doc_json_free(text);
  return st;
}

/* Sets metadata.<field>.<key> to value on the Secret ns/name. */
static int keys_set_metadata(kube_client *client, const char *ns, const char *name,
                             const char *field, const char *key, const char *value)
{
  json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", field, key, value);
  int st;
  if (patch == NULL)
    return seal_report(SEAL_ERR_ENV, "out of memory");
  st = keys_patch(client, ns, name, patch);
  json_decref(patch);
  return st;
}

int seal_keys_annotate(kube_client *client, const char *ns, const char *name, const char *ann,
                       const char *value)
{
  return keys_set_metadata(client, ns, name, "annotations", ann, value);
}

int seal_keys_label(kube_client *client, const char *ns, const char *name, const char *label,
                    const char *value)
{
  return keys_set_metadata(client, ns, name, "labels", label, value);
}

void seal_keys_time(char out[40], int64_t t)
{
  if (t <= 0 || keys_time_format(out, 40, t) != KEYS_OK)
    snprintf(out, 40, "-");
}

int seal_keys_load(keys_keyring *ring, const char *path)
{
  keys_error kerr = {0};
  char *text = NULL;
  size_t len = 0, added = 0;
  int rc, st = SEAL_OK;

  rc = keys_file_read(&text, &len, path, MAX_KEY_ARMOR_BYTES * 64, &kerr);
  if (rc != KEYS_OK)
    return seal_report_keys(path, &kerr, rc);
  rc = keys_armor_read_private(ring, &added, text, len, &kerr);
  if (rc == KEYS_ERR_EXISTS)
    st = seal_report(SEAL_ERR_INPUT, "%s: a key of this file is already in another one", path);
  else if (rc != KEYS_OK)
    st = seal_report_keys(path, &kerr, rc);
  else if (added == 0)
    st = seal_report(SEAL_ERR_INPUT, "%s: no SEAL PRIVATE KEY block", path);
  doc_wipe_free(text, len);
  return st;
}
