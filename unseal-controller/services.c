/*
 * The controller's shared services, below every part (http.c, keymgr.c,
 * leader.c, reconcile.c, admission.c, controller.c): the clock, the request
 * helper with its metrics, and JSON helpers. This file calls none of the
 * parts; they and the loop that drives them (controller.c) call it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl.h"
#include "metrics.h"

#include "banned.h"

int64_t ctl_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ctl_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ctl_wall_s(void)
{
  return (int64_t)time(NULL);
}

int ctl_is_leader(const ctl *c)
{
  return !c->leader.enabled || c->leader.is_leader;
}

int ctl_object_key(char *out, size_t out_size, const json_t *obj)
{
  const char *ns = doc_get_string(obj, "metadata", "namespace", NULL);
  const char *name = doc_get_string(obj, "metadata", "name", NULL);
  if (name == NULL || *name == '\0')
    return -1;
  int n = snprintf(out, out_size, "%s/%s", ns ? ns : "", name);
  return (n < 0 || (size_t)n >= out_size) ? -1 : 0;
}

/* ---- requests with metrics ---------------------------------------------- */

typedef struct req_wrap {
  kube_done_fn cb;
  void *ud;
  char verb[16];
} req_wrap;

static void wrap_done(void *ud, long http_code, json_t *body, const kube_status *st)
{
  req_wrap *w = ud;
  ctl_metrics_api_request(w->verb, (int)http_code);
  if (w->cb)
    w->cb(w->ud, http_code, body, st);
  free(w);
}

int ctl_request(ctl *c, const char *verb, const char *method, const char *path, json_t *body,
                kube_done_fn cb, void *ud)
{
  char *text = NULL;
  int rc;
  req_wrap *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return KUBE_ERR_NOMEM;
  w->cb = cb;
  w->ud = ud;
  snprintf(w->verb, sizeof(w->verb), "%s", verb);
  if (body) {
    text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
      free(w);
      return KUBE_ERR_NOMEM;
    }
  }
  if (c->send)
    rc = c->send(c, method, path, text, text ? strlen(text) : 0, wrap_done, w);
  else
    rc = kube_request(c->client, method, path, text, text ? strlen(text) : 0, NULL, wrap_done, w);
  doc_json_free(text); /* wipes */
  if (rc != KUBE_OK)
    free(w);
  return rc;
}

/* The verb and resource of an API path, as kubectl and the API server's own
 * metrics name them: GET of a collection is "list", of one object "get";
 * a subresource is "resource/subresource". Object names never show. */
void ctl_api_verb_resource(const char *method, const char *path, char *verb, size_t verb_size,
                           char *resource, size_t resource_size)
{
  char segs[8][64] = {{0}};
  size_t n = 0, skip;
  const char *p = path ? path : "";
  const char *query = strchr(p, '?');
  const char *end = query ? query : p + strlen(p);
  int named, watch = query && strstr(query, "watch=1") != NULL;

  watch = watch || (query && strstr(query, "watch=true") != NULL);
  while (p < end && n < sizeof(segs) / sizeof(segs[0])) {
    while (p < end && *p == '/')
      p++;
    const char *e = p;
    while (e < end && *e != '/')
      e++;
    if (e > p) {
      snprintf(segs[n], sizeof(segs[n]), "%.*s", (int)(e - p), p);
      n++;
    }
    p = e;
  }
  /* /api/v1/... or /apis/GROUP/VERSION/...; then namespaces/NS/ when namespaced */
  skip = (n > 0 && strcmp(segs[0], "apis") == 0) ? 3 : 2;
  if (n > skip + 2 && strcmp(segs[skip], "namespaces") == 0)
    skip += 2;
  if (n <= skip) {
    snprintf(resource, resource_size, "other"); /* /version, /healthz: not collections */
    named = 1;
  } else {
    named = n > skip + 1;
    if (n > skip + 2)
      snprintf(resource, resource_size, "%s/%s", segs[skip], segs[skip + 2]);
    else
      snprintf(resource, resource_size, "%s", segs[skip]);
  }
  const char *v = "other";
  if (method == NULL)
    v = "other";
  else if (strcmp(method, "GET") == 0)
    v = watch ? "watch" : named ? "get" : "list";
  else if (strcmp(method, "POST") == 0)
    v = "create";
  else if (strcmp(method, "PUT") == 0)
    v = "update";
  else if (strcmp(method, "PATCH") == 0)
    v = "patch";
  else if (strcmp(method, "DELETE") == 0)
    v = named ? "delete" : "deletecollection";
  snprintf(verb, verb_size, "%s", v);
}
