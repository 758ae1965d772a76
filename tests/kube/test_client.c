/*
 * libkube against the test API server (tests/kube-apiserver/server.py) over
 * TLS with a bearer token. argv[1]: python3, argv[2]: server.py,
 * argv[3]: mtls_server.py (a server that wants a client certificate).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "doc.h"
#include "internal.h"
#include "kube.h"
#include "watch_rec.h"

#include "banned.h"

#define TOKEN "token-aaaaaaaa"
#define TOKEN2 "token-bbbbbbbb" /* same length: an in-place rewrite keeps the size */

static const char *python;
static const char *server_py;
static const char *mtls_py;

static struct server {
  pid_t pid;
  char tmp[256];
  char kubeconfig[512];
  char url[600];
} srv;

static kube_client *ctl; /* talks to /_test/ and sets up objects: no limits */

/* json_dumps memory comes from jansson's allocator (doc_init sets a wiping one) */
static void jfree(char *p)
{
  json_malloc_t m;
  json_free_t f;
  json_get_alloc_funcs(&m, &f);
  f(p);
}

/* ---- helpers --------------------------------------------------------------- */

static void quiet_log(void *ud, int level, const char *msg)
{
  (void)ud;
  if (getenv("KUBE_TEST_VERBOSE") != NULL || level == KUBE_LOG_ERROR)
    fprintf(stderr, "  [kube %d] %s\n", level, msg);
}

static kube_client *client_for(const char *kubeconfig, kube_client_opts *o)
{
  kube_config_opts co = {0};
  kube_config *cfg = NULL;
  kube_client *c = NULL;
  kube_status st;
  kube_client_opts def;

  co.source = KUBE_CONFIG_FILES;
  co.kubeconfig = kubeconfig;
  if (kube_config_load(&cfg, &co, &st) != KUBE_OK)
    fail_msg("config: %s", st.message);
  if (o == NULL) {
    kube_client_opts_init(&def);
    def.qps = 0;
    def.backoff_base_ms = 20;
    def.backoff_max_ms = 300;
    o = &def;
  }
  if (o->log == NULL)
    o->log = quiet_log;
  if (kube_client_new(&c, cfg, o, &st) != KUBE_OK)
    fail_msg("client: %s", st.message);
  kube_config_free(cfg);
  return c;
}

static kube_client_opts test_opts(void)
{
  kube_client_opts o;
  kube_client_opts_init(&o);
  o.qps = 0;
  o.backoff_base_ms = 20;
  o.backoff_max_ms = 300;
  o.log = quiet_log;
  return o;
}

/* A request through c; returns the owned body, asserts the expected code. */
static json_t *call(kube_client *c, const char *method, const char *path, json_t *body, long want)
{
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_t *out = NULL;
  long code = 0;
  kube_status st;

  kube_request_sync(c, method, path, text, text ? strlen(text) : 0,
                    strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : NULL, &code,
                    &out, &st);
  jfree(text);
  json_decref(body);
  if (code != want)
    fail_msg("%s %s: got %ld (%s), want %ld", method, path, code, st.message, want);
  return out;
}

static void ensure_namespace(const char *ns)
{
  kube_status st;
  long code = 0;
  json_t *b = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
                        "name", ns);
  char *text = json_dumps(b, JSON_COMPACT);
  kube_request_sync(ctl, "POST", "/api/v1/namespaces", text, strlen(text), NULL, &code, NULL, &st);
  assert_true(code == 201 || code == 409);
  jfree(text);
  json_decref(b);
}

static long stat_count(const char *key)
{
  json_t *s = call(ctl, "GET", "/_test/stats", NULL, 200);
  long n = (long)json_integer_value(json_object_get(json_object_get(s, "counts"), key));
  json_decref(s);
  return n;
}

static void fault(const char *method, const char *path_re, int count, int status, int retry_after)
{
  json_t *f = json_pack("{s:s, s:s, s:i, s:i}", "method", method, "path", path_re, "count", count,
                        "status", status);
  if (retry_after >= 0)
    json_object_set_new(f, "retry_after", json_integer(retry_after));
  json_decref(call(ctl, "POST", "/_test/faults", f, 200));
}

static json_t *configmap(const char *ns, const char *name, const char *value)
{
  return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                   "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "app",
                   "kube-test", "data", "v", value);
}

static void cm_path(char *buf, size_t size, const char *ns, const char *name)
{
  assert_int_equal(kube_path(buf, size, "v1", "configmaps", ns, name, NULL), 0);
}

static void put_cm(const char *ns, const char *name, const char *value, long want)
{
  char path[256];
  cm_path(path, sizeof(path), ns, NULL);
  json_decref(call(ctl, "POST", path, configmap(ns, name, value), want));
}

/* ---- server -------------------------------------------------------------- */

/* Starts argv (python and a server script) and waits for its "ready URL"
 * line; url receives the URL. The child dies with the test. */
static pid_t spawn_ready(char *const argv[], char *url, size_t url_size)
{
  int fds[2];
  char line[512];
  size_t len = 0;
  uint64_t deadline;
  pid_t pid;

  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  deadline = now_ms() + 30000;
  while (len + 1 < sizeof(line) && (len == 0 || line[len - 1] != '\n')) {
    fd_set set;
    struct timeval tv = {1, 0};
    ssize_t r;
    FD_ZERO(&set);
    FD_SET(fds[0], &set);
    if (now_ms() > deadline)
      fail_msg("%s did not say ready", argv[1]);
    if (select(fds[0] + 1, &set, NULL, NULL, &tv) <= 0)
      continue;
    r = read(fds[0], line + len, 1);
    if (r <= 0)
      fail_msg("%s exited before it was ready", argv[1]);
    len += (size_t)r;
  }
  line[len] = '\0';
  close(fds[0]);
  assert_int_equal(strncmp(line, "ready https://", 14), 0);
  line[len - 1] = '\0';
  snprintf(url, url_size, "%s", line + 6);
  return pid;
}

static int start_server(void **state)
{
  (void)state;
  snprintf(srv.tmp, sizeof(srv.tmp), "/tmp/kube-apiserver-test-XXXXXX");
  assert_non_null(mkdtemp(srv.tmp));
  snprintf(srv.kubeconfig, sizeof(srv.kubeconfig), "%s/kubeconfig", srv.tmp);
  {
    char *const argv[] = {(char *)python, (char *)server_py, "--port",  "0",   "--kubeconfig-out",
                          srv.kubeconfig, "--tls",           "--token", TOKEN, NULL};
    srv.pid = spawn_ready(argv, srv.url, sizeof(srv.url));
  }
  ctl = client_for(srv.kubeconfig, NULL);
  return 0;
}

static int stop_server(void **state)
{
  char cmd[600];
  (void)state;
  kube_client_free(ctl);
  ctl = NULL;
  if (srv.pid > 0) {
    kill(srv.pid, SIGTERM);
    waitpid(srv.pid, NULL, 0);
  }
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.tmp);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ------------------------------------------------------------------ */

static void crud_and_status(void **state)
{
  char path[256], item[256];
  json_t *b, *got;
  kube_status st;
  long code;
  const char *rv;

  ensure_namespace("crud");
  cm_path(path, sizeof(path), "crud", NULL);
  cm_path(item, sizeof(item), "crud", "one");
  b = call(ctl, "POST", path, configmap("crud", "one", "1"), 201);
  assert_string_equal(doc_get_string(b, "data", "v", NULL), "1");
  json_decref(b);

  got = call(ctl, "GET", item, NULL, 200);
  rv = doc_get_string(got, "metadata", "resourceVersion", NULL);
  assert_non_null(rv);
  /* update with the current resourceVersion */
  b = configmap("crud", "one", "2");
  json_object_set_new(json_object_get(b, "metadata"), "resourceVersion", json_string(rv));
  json_decref(call(ctl, "PUT", item, json_deep_copy(b), 200));

  /* the same update again carries a stale resourceVersion: 409 Conflict as a Status */
  {
    char *text = json_dumps(b, JSON_COMPACT);
    json_t *out = NULL;
    assert_int_equal(kube_request_sync(ctl, "PUT", item, text, strlen(text), NULL, &code, &out,
                                       &st),
                     KUBE_ERR_HTTP);
    assert_int_equal(code, 409);
    assert_int_equal(st.http_code, 409);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_true(strlen(st.message) > 0);
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "Status");
    json_decref(out);
    jfree(text);
  }
  json_decref(b);
  json_decref(got);

  /* merge patch */
  b = call(ctl, "PATCH", item, json_pack("{s:{s:s}}", "data", "w", "x"), 200);
  assert_string_equal(doc_get_string(b, "data", "v", NULL), "2");
  assert_string_equal(doc_get_string(b, "data", "w", NULL), "x");
  json_decref(b);

  /* creating it twice: AlreadyExists */
  {
    char *text = json_dumps(b = configmap("crud", "one", "3"), JSON_COMPACT);
    assert_int_equal(kube_request_sync(ctl, "POST", path, text, strlen(text), NULL, &code, NULL,
                                       &st),
                     KUBE_ERR_HTTP);
    assert_int_equal(code, 409);
    assert_string_equal(st.reason, "AlreadyExists");
    jfree(text);
    json_decref(b);
  }

  json_decref(call(ctl, "DELETE", item, NULL, 200));
  assert_int_equal(kube_request_sync(ctl, "GET", item, NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 404);
  assert_string_equal(st.reason, "NotFound");
  assert_non_null(strstr(st.message, "one"));
}

typedef struct counter {
  int done, ok;
} counter;

static void count_done(void *ud, long code, json_t *body, const kube_status *st)
{
  counter *c = ud;
  c->done++;
  if (st->err == KUBE_OK && (code == 201 || code == 200))
    c->ok++;
  else
    fprintf(stderr, "  request failed: %ld %s\n", code, st->message);
}

static int counter_at(void *ud)
{
  counter *c = ud;
  return c->done >= 1200;
}

static void paging_across_1200_objects(void **state)
{
  kube_client_opts o = test_opts();
  kube_client *c;
  counter cnt = {0, 0};
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  char path[256];
  kube_status st;
  long code;
  int i;

  assert_non_null(r);
  ensure_namespace("paging");
  o.max_in_flight = 16;
  c = client_for(srv.kubeconfig, &o);
  cm_path(path, sizeof(path), "paging", NULL);
  for (i = 0; i < 1200; i++) {
    char name[32];
    json_t *b;
    char *text;
    snprintf(name, sizeof(name), "cm-%04d", i);
    b = configmap("paging", name, name);
    text = json_dumps(b, JSON_COMPACT);
    assert_int_equal(kube_request(c, "POST", path, text, strlen(text), NULL, count_done, &cnt),
                     KUBE_OK);
    jfree(text);
    json_decref(b);
  }
  assert_int_equal(kube_client_pending(c), 1200);
  assert_true(run_until(c, counter_at, &cnt, 120000));
  assert_int_equal(cnt.ok, 1200);
  assert_int_equal(kube_client_pending(c), 0);

  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "paging", "app=kube-test",
                                  &rec_handlers, r, &st),
                   KUBE_OK);
  assert_true(run_until(c, is_synced, r, 60000));
  assert_int_equal(r->added, 1200);
  assert_int_equal(r->modified + r->deleted, 0);
  assert_int_equal(kube_watch_known(w), 1200);
  for (i = 0; i < 1200; i += 97) {
    char item[40];
    snprintf(item, sizeof(item), "A:cm-%04d,", i);
    assert_int_equal(count_in(r->log, item), 1);
  }
  /* 500 + 500 + 200 */
  assert_int_equal(stat_count("list configmaps"), 3);
  assert_int_equal(r->synced, 1);
  kube_watch_free(w);
  kube_client_free(c);

  /* a response over the client's maximum is an error, not a truncated list */
  o = test_opts();
  o.max_response_bytes = 64 * 1024;
  c = client_for(srv.kubeconfig, &o);
  assert_int_equal(kube_request_sync(c, "GET", path, NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_LIMIT);
  assert_non_null(strstr(st.message, "larger than 65536 bytes"));
  kube_client_free(c);
  free(r);
}

static void retries_honour_retry_after(void **state)
{
  kube_client *c;
  kube_client_opts o = test_opts();
  char item[256];
  kube_status st;
  long code;
  uint64_t t0;
  json_t *body = NULL;

  ensure_namespace("retry");
  put_cm("retry", "x", "1", 201);
  cm_path(item, sizeof(item), "retry", "x");
  o.max_retries = 3;
  c = client_for(srv.kubeconfig, &o);

  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  fault("GET", "/namespaces/retry/configmaps/x$", 1, 429, 1);
  fault("GET", "/namespaces/retry/configmaps/x$", 1, 500, -1);
  t0 = now_ms();
  assert_int_equal(kube_request_sync(c, "GET", item, NULL, 0, NULL, &code, &body, &st), KUBE_OK);
  assert_int_equal(code, 200);
  assert_string_equal(doc_get_string(body, "data", "v", NULL), "1");
  json_decref(body);
  assert_true(now_ms() - t0 >= 1000); /* Retry-After: 1 */
  {
    kube_client_stats cs;
    kube_client_get_stats(c, &cs);
    assert_int_equal(cs.attempts, 3);
    assert_int_equal(cs.retries, 2);
    assert_int_equal(cs.failures, 0);
  }
  assert_true(now_ms() - t0 < 5000);
  assert_int_equal(stat_count("get configmaps"), 3);

  /* 501 is not retried */
  fault("GET", "/namespaces/retry/configmaps/x$", 5, 501, -1);
  assert_int_equal(kube_request_sync(c, "GET", item, NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 501);
  assert_int_equal(stat_count("get configmaps"), 4);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));

  /* retries are bounded: 1 + max_retries attempts, then the server's Status */
  fault("GET", "/namespaces/retry/configmaps/x$", 100, 503, -1);
  assert_int_equal(kube_request_sync(c, "GET", item, NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 503);
  assert_string_equal(st.reason, "ServiceUnavailable");
  assert_int_equal(stat_count("get configmaps"), 8);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));
  kube_client_free(c);
}

/* The observe hook sees every attempt of an ordinary request with its code
 * (retries included, 0 when no answer came), and the lists of a watch but
 * never its stream: what the controller's request duration histogram counts. */
#define MAX_OBSERVED 64
typedef struct observed {
  int n;
  char method[MAX_OBSERVED][8];
  char path[MAX_OBSERVED][256];
  long code[MAX_OBSERVED];
  double seconds[MAX_OBSERVED];
} observed;

static void observe_cb(void *ud, const char *method, const char *path, long code, double seconds)
{
  observed *ob = ud;
  if (ob->n == MAX_OBSERVED)
    return;
  snprintf(ob->method[ob->n], sizeof(ob->method[0]), "%s", method);
  snprintf(ob->path[ob->n], sizeof(ob->path[0]), "%s", path);
  ob->code[ob->n] = code;
  ob->seconds[ob->n] = seconds;
  ob->n++;
}

static void observe_sees_every_attempt(void **state)
{
  kube_client_opts o = test_opts();
  observed *ob = calloc(1, sizeof(*ob));
  char item[256];
  kube_status st;
  long code;
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  (void)state;

  assert_non_null(ob);
  assert_non_null(r);
  ensure_namespace("observe");
  put_cm("observe", "x", "1", 201);
  cm_path(item, sizeof(item), "observe", "x");
  o.max_retries = 3;
  o.observe = observe_cb;
  o.observe_ud = ob;
  c = client_for(srv.kubeconfig, &o);

  fault("GET", "/namespaces/observe/configmaps/x$", 1, 500, -1);
  assert_int_equal(kube_request_sync(c, "GET", item, NULL, 0, NULL, &code, NULL, &st), KUBE_OK);
  assert_int_equal(ob->n, 2);
  assert_int_equal(ob->code[0], 500);
  assert_int_equal(ob->code[1], 200);
  for (int i = 0; i < 2; i++) {
    assert_string_equal(ob->method[i], "GET");
    assert_string_equal(ob->path[i], item);
    assert_true(ob->seconds[i] >= 0 && ob->seconds[i] < 30);
  }
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));

  /* an answer that is an error is observed once with its code */
  cm_path(item, sizeof(item), "observe", "missing");
  assert_int_equal(kube_request_sync(c, "DELETE", item, NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(ob->n, 3);
  assert_string_equal(ob->method[2], "DELETE");
  assert_int_equal(ob->code[2], 404);

  /* a watch: its list is observed, its stream is not */
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "observe", NULL, &rec_handlers, r,
                                  &st),
                   KUBE_OK);
  assert_true(run_until(c, is_synced, r, 10000));
  put_cm("observe", "y", "2", 201);
  want_events we = {r, 2};
  assert_true(run_until(c, has_events, &we, 10000));
  int lists = 0;
  for (int i = 3; i < ob->n; i++) {
    assert_string_equal(ob->method[i], "GET");
    assert_null(strstr(ob->path[i], "watch=1"));
    assert_null(strstr(ob->path[i], "watch=true"));
    lists += ob->code[i] == 200;
  }
  assert_true(lists >= 1);
  kube_watch_free(w);
  kube_client_free(c);
  free(r);
  free(ob);
}

/* retry_writes = 0: a write is attempted once whatever the answer, so a
 * caller that retries (the controller's work queue) is the only layer that
 * does; reads are still retried. */
static void writes_not_retried_when_the_caller_owns_retries(void **state)
{
  kube_client *c;
  kube_client_opts o = test_opts();
  char item[256];
  const char *text = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                     "{\"name\":\"x\",\"namespace\":\"once\"},\"data\":{\"v\":\"2\"}}";
  kube_status st;
  long code;
  (void)state;

  ensure_namespace("once");
  put_cm("once", "x", "1", 201);
  cm_path(item, sizeof(item), "once", "x");
  o.max_retries = 3;
  o.retry_writes = 0;
  c = client_for(srv.kubeconfig, &o);

  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  fault("PUT", "/namespaces/once/configmaps/x$", 100, 500, -1);
  assert_int_equal(kube_request_sync(c, "PUT", item, text, strlen(text), NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 500);
  assert_int_equal(stat_count("update configmaps"), 1);
  fault("POST", "/namespaces/once/configmaps$", 100, 429, 0);
  cm_path(item, sizeof(item), "once", NULL);
  assert_int_equal(kube_request_sync(c, "POST", item, text, strlen(text), NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 429);
  assert_int_equal(stat_count("create configmaps"), 1);
  /* a read is still retried */
  fault("GET", "/namespaces/once/configmaps/x$", 2, 500, -1);
  cm_path(item, sizeof(item), "once", "x");
  assert_int_equal(kube_request_sync(c, "GET", item, NULL, 0, NULL, &code, NULL, &st), KUBE_OK);
  assert_int_equal(stat_count("get configmaps"), 3);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));
  kube_client_free(c);
  /* the default retries writes */
  o.retry_writes = 1;
  c = client_for(srv.kubeconfig, &o);
  fault("PUT", "/namespaces/once/configmaps/x$", 100, 500, -1);
  assert_int_equal(kube_request_sync(c, "PUT", item, text, strlen(text), NULL, &code, NULL, &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(stat_count("update configmaps"), 1 + 1 + 3);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));
  kube_client_free(c);
}

static void watch_delivers_events(void **state)
{
  kube_client *c = client_for(srv.kubeconfig, NULL);
  kube_watch *w = NULL, *all = NULL;
  rec *r = calloc(1, sizeof(*r)), *ra = calloc(1, sizeof(*ra));
  char item[256];
  want_events we = {r, 3};
  kube_status st;

  assert_non_null(r);
  assert_non_null(ra);
  ensure_namespace("events");
  put_cm("events", "before", "0", 201);
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "events", NULL, &rec_handlers, r, &st),
                   KUBE_OK);
  /* a second watch on the same client, all namespaces, with a label selector */
  assert_int_equal(kube_watch_new(&all, c, "v1", "configmaps", NULL, "app=kube-test,v=late",
                                  &rec_handlers, ra, &st),
                   KUBE_OK);
  assert_true(run_until(c, is_synced, r, 10000));
  assert_true(run_until(c, is_synced, ra, 10000));
  assert_string_equal(r->log, "A:before,");
  assert_string_equal(ra->log, "");
  assert_true(kube_watch_synced(w));
  assert_string_not_equal(kube_watch_resource_version(w), "");

  put_cm("events", "a", "1", 201);
  cm_path(item, sizeof(item), "events", "a");
  json_decref(call(ctl, "PATCH", item, json_pack("{s:{s:s}}", "data", "v", "2"), 200));
  json_decref(call(ctl, "DELETE", item, NULL, 200));
  we.n = 4;
  assert_true(run_until(c, has_events, &we, 10000));
  assert_string_equal(r->log, "A:before,A:a,M:a,D:a,");

  /* the label selector: only the labelled one reaches the second watch */
  json_decref(call(ctl, "PATCH", "/api/v1/namespaces/events/configmaps/before",
                   json_pack("{s:{s:{s:s}}}", "metadata", "labels", "v", "late"), 200));
  we.r = ra;
  we.n = 1;
  assert_true(run_until(c, has_events, &we, 10000));
  /* a label change makes it appear to the selector: ADDED there, MODIFIED here */
  assert_string_equal(ra->log, "A:before,");
  we.r = r;
  we.n = 5;
  assert_true(run_until(c, has_events, &we, 10000));
  assert_string_equal(r->log, "A:before,A:a,M:a,D:a,M:before,");

  /* a watch freed from its own handler stops at once, without a crash or leak */
  r->self = w;
  r->stop_at = 6;
  put_cm("events", "b", "1", 201);
  put_cm("events", "c", "1", 201);
  run_for(c, 1500);
  assert_null(r->self);
  assert_string_equal(r->log, "A:before,A:a,M:a,D:a,M:before,A:b,");
  kube_watch_free(all);
  kube_client_free(c);
  free(r);
  free(ra);
}

static void watch_cut_resumes_without_loss_or_duplicates(void **state)
{
  kube_client *c = client_for(srv.kubeconfig, NULL);
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  want_events we = {r, 30};
  kube_status st;
  int i;
  json_t *cut;

  assert_non_null(r);
  ensure_namespace("cut");
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "cut", NULL, &rec_handlers, r, &st),
                   KUBE_OK);
  assert_true(run_until(c, is_synced, r, 10000));
  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  for (i = 0; i < 30; i++) {
    char name[16];
    snprintf(name, sizeof(name), "c%02d", i);
    put_cm("cut", name, "v", 201);
    if (i == 9 || i == 19) {
      run_for(c, 200); /* let some events arrive on the stream */
      cut = call(ctl, "POST", "/_test/watches/cut", NULL, 200);
      assert_true(json_integer_value(json_object_get(cut, "cut")) >= 1);
      json_decref(cut);
    }
  }
  assert_true(run_until(c, has_events, &we, 20000));
  run_for(c, 1500); /* anything duplicated would show up now */
  assert_int_equal(r->added, 30);
  assert_int_equal(r->modified + r->deleted, 0);
  for (i = 0; i < 30; i++) {
    char item[16];
    snprintf(item, sizeof(item), "A:c%02d", i);
    assert_int_equal(count_in(r->log, item), 1);
  }
  assert_true(r->restarts >= 2);
  assert_true(strstr(r->reasons, "broken") != NULL || strstr(r->reasons, "closed") != NULL);
  assert_null(strstr(r->reasons, "expired")); /* resumed, not re-listed */
  assert_int_equal(stat_count("list configmaps"), 0);
  assert_true(stat_count("watch configmaps") >= 3);
  kube_watch_free(w);
  kube_client_free(c);
  free(r);
}

static void gone_after_compaction_relists(void **state)
{
  kube_client_opts o = test_opts();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  want_events we = {r, 3};
  char item[256];
  kube_status st;

  assert_non_null(r);
  ensure_namespace("gone");
  o.backoff_base_ms = 50;
  o.backoff_max_ms = 200;
  c = client_for(srv.kubeconfig, &o);
  put_cm("gone", "a", "1", 201);
  put_cm("gone", "b", "1", 201);
  put_cm("gone", "c", "1", 201);
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "gone", NULL, &rec_handlers, r, &st),
                   KUBE_OK);
  assert_true(run_until(c, has_events, &we, 10000));
  assert_true(run_until(c, is_synced, r, 10000));

  /* the watch loses its stream; c is not run while things change and the
   * history is compacted, so it comes back with a resourceVersion that is gone */
  json_decref(call(ctl, "POST", "/_test/watches/cut", NULL, 200));
  cm_path(item, sizeof(item), "gone", "b");
  json_decref(call(ctl, "DELETE", item, NULL, 200));
  cm_path(item, sizeof(item), "gone", "c");
  json_decref(call(ctl, "PATCH", item, json_pack("{s:{s:s}}", "data", "v", "2"), 200));
  put_cm("gone", "d", "1", 201);
  json_decref(call(ctl, "POST", "/_test/compact", NULL, 200));

  we.n = 6;
  assert_true(run_until(c, has_events, &we, 20000));
  run_for(c, 1000);
  assert_int_equal(count_in(r->log, "D:b"), 1);
  assert_int_equal(count_in(r->log, "M:c"), 1);
  assert_int_equal(count_in(r->log, "A:d"), 1);
  assert_int_equal(count_in(r->log, "A:a"), 1); /* unchanged: nothing reported again */
  assert_int_equal(r->added + r->modified + r->deleted, 6);
  assert_int_equal(kube_watch_known(w), 3);
  assert_int_equal(r->synced, 1);
  assert_non_null(strstr(r->reasons, "expired"));

  /* and it keeps watching afterwards */
  put_cm("gone", "e", "1", 201);
  we.n = 7;
  assert_true(run_until(c, has_events, &we, 10000));
  assert_int_equal(count_in(r->log, "A:e"), 1);
  kube_watch_free(w);
  kube_client_free(c);
  free(r);
}

/* A copy of the server's kubeconfig, changed by edit, written as JSON. */
static void derive_kubeconfig(char *out, size_t size, const char *name,
                              void (*edit)(json_t *doc, const char *arg), const char *arg)
{
  doc_list docs = {0};
  doc_error merr;
  unsigned char *text = NULL;
  size_t len = 0;
  kube_status st;
  FILE *f;

  assert_int_equal(kube_read_file(&text, &len, srv.kubeconfig, 1 << 20, 0, &st), 0);
  assert_int_equal(doc_parse(&docs, (char *)text, len, "kubeconfig", 0, &merr), 0);
  edit(docs.docs[0], arg);
  snprintf(out, size, "%s/%s", srv.tmp, name);
  f = fopen(out, "w");
  assert_non_null(f);
  assert_int_equal(json_dumpf(docs.docs[0], f, 0), 0);
  assert_int_equal(fclose(f), 0);
  doc_list_free(&docs);
  free(text);
}

static void use_token_file(json_t *doc, const char *token_file)
{
  json_t *user = json_object_get(json_array_get(json_object_get(doc, "users"), 0), "user");
  assert_non_null(user);
  json_object_del(user, "token");
  json_object_set_new(user, "tokenFile", json_string(token_file));
}

static void drop_ca(json_t *doc, const char *unused)
{
  json_t *cluster = json_object_get(json_array_get(json_object_get(doc, "clusters"), 0), "cluster");
  assert_int_equal(json_object_del(cluster, "certificate-authority-data"), 0);
}

/* kubeconfig with tokenFile instead of token, the server's CA kept */
static void kubeconfig_with_token_file(char *out, size_t size, const char *token_file)
{
  derive_kubeconfig(out, size, "kubeconfig-tokenfile", use_token_file, token_file);
}

static void write_token(const char *path, const char *token)
{
  char tmp[600];
  FILE *f;
  assert_true(snprintf(tmp, sizeof(tmp), "%s.tmp", path) < (int)sizeof(tmp));
  f = fopen(tmp, "w");
  assert_non_null(f);
  fprintf(f, "%s\n", token);
  fclose(f);
  assert_int_equal(rename(tmp, path), 0);
}

static void set_server_token(const char *token)
{
  json_decref(call(ctl, "POST", "/_test/token", json_pack("{s:s}", "token", token), 200));
}

static void token_file_reread_on_401(void **state)
{
  char kc[600], tok[600];
  struct stat before, after;
  struct timespec times[2];
  kube_client *c;
  FILE *f;
  json_t *b;

  snprintf(tok, sizeof(tok), "%s/token-401", srv.tmp);
  write_token(tok, TOKEN);
  kubeconfig_with_token_file(kc, sizeof(kc), tok);
  c = client_for(kc, NULL);
  json_decref(call(c, "GET", "/api/v1/namespaces/default", NULL, 200));

  /* rewrite the file in place and put its times back: only a 401 can reveal it */
  assert_int_equal(stat(tok, &before), 0);
  f = fopen(tok, "r+");
  assert_non_null(f);
  fprintf(f, "%s\n", TOKEN2);
  fclose(f);
  times[0] = before.st_atim;
  times[1] = before.st_mtim;
  assert_int_equal(utimensat(AT_FDCWD, tok, times, 0), 0);
  assert_int_equal(stat(tok, &after), 0);
  assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  assert_int_equal(after.st_size, before.st_size);

  /* the server now wants the new token; the file was rewritten but its stat is unchanged */
  set_server_token(TOKEN2);
  b = call(c, "GET", "/api/v1/namespaces/default", NULL, 200);
  json_decref(b);
  kube_client_free(c);

  /* a wrong token without a file to re-read: 401 surfaces as a Status */
  {
    kube_client *old = client_for(srv.kubeconfig, NULL);
    kube_status st;
    long code;
    assert_int_equal(kube_request_sync(old, "GET", "/api/v1/namespaces/default", NULL, 0, NULL,
                                       &code, NULL, &st),
                     KUBE_ERR_HTTP);
    assert_int_equal(code, 401);
    assert_string_equal(st.reason, "Unauthorized");
    kube_client_free(old);
  }
  set_server_token(TOKEN);
}

static void token_file_rotated_during_a_watch(void **state)
{
  char kc[600], tok[600], path[256];
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  want_events we = {r, 1};
  kube_status st;
  char *text;
  json_t *b;

  assert_non_null(r);
  ensure_namespace("tok");
  snprintf(tok, sizeof(tok), "%s/token-watch", srv.tmp);
  write_token(tok, TOKEN);
  kubeconfig_with_token_file(kc, sizeof(kc), tok);
  c = client_for(kc, NULL);
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "tok", NULL, &rec_handlers, r, &st),
                   KUBE_OK);
  assert_true(run_until(c, is_synced, r, 10000));

  /* the server's token changes and the stream drops: re-watching fails with 401
   * (the /_test/ endpoints need no token, so ctl still drives the server) */
  set_server_token(TOKEN2);
  json_decref(call(ctl, "POST", "/_test/watches/cut", NULL, 200));
  run_for(c, 800); /* 401s: the file still holds the old token */
  assert_true(r->restarts >= 1);
  write_token(tok, TOKEN2); /* the rotation lands */

  /* the same client recovers: an object created now reaches the watch */
  cm_path(path, sizeof(path), "tok", NULL);
  b = configmap("tok", "after-rotation", "1");
  text = json_dumps(b, JSON_COMPACT);
  assert_int_equal(kube_request(c, "POST", path, text, strlen(text), NULL, count_done,
                                &(counter){0, 0}),
                   KUBE_OK);
  jfree(text);
  json_decref(b);
  assert_true(run_until(c, has_events, &we, 15000));
  assert_string_equal(r->log, "A:after-rotation,");
  assert_non_null(strstr(r->reasons, "error"));
  kube_watch_free(w);
  set_server_token(TOKEN);
  kube_client_free(c);
  free(r);
}

typedef struct stamps {
  uint64_t t[64];
  int n;
} stamps;

static void stamp_done(void *ud, long code, json_t *body, const kube_status *st)
{
  stamps *s = ud;
  assert_int_equal(st->err, KUBE_OK);
  s->t[s->n++] = now_ms();
}

static int stamps_full(void *ud)
{
  return ((stamps *)ud)->n >= 30;
}

static void rate_limit_is_respected(void **state)
{
  kube_client_opts o = test_opts();
  kube_client *c;
  stamps s = {{0}, 0};
  uint64_t t0;
  int i;

  o.qps = 10;
  o.burst = 5;
  c = client_for(srv.kubeconfig, &o);
  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  t0 = now_ms();
  for (i = 0; i < 30; i++)
    assert_int_equal(kube_request(c, "GET", "/api/v1/namespaces/default/configmaps", NULL, 0, NULL,
                                  stamp_done, &s),
                     KUBE_OK);
  assert_true(run_until(c, stamps_full, &s, 20000));
  /* 5 at once, then 25 at 10 per second: at least 2.5 s */
  assert_true(s.t[29] - t0 >= 2400);
  assert_true(s.t[29] - t0 < 8000);
  /* no second after the burst holds more than qps + 1 starts */
  for (i = 5; i + 11 < 30; i++)
    assert_true(s.t[i + 11] - s.t[i] >= 900);
  assert_int_equal(stat_count("list configmaps"), 30);
  kube_client_free(c);
}

static int stamps_at_8(void *ud)
{
  return ((stamps *)ud)->n >= 8;
}

static void in_flight_is_bounded(void **state)
{
  kube_client_opts o = test_opts();
  kube_client *c;
  stamps s = {{0}, 0};
  uint64_t t0;
  int i;
  json_t *f;

  /* every answer takes 500 ms; two at a time make four rounds */
  o.max_in_flight = 2;
  c = client_for(srv.kubeconfig, &o);
  f = json_pack("{s:s, s:s, s:i, s:i, s:f}", "method", "GET", "path",
                "^/api/v1/namespaces/kube-system/configmaps$", "count", 8, "status", 0, "delay",
                0.5);
  json_decref(call(ctl, "POST", "/_test/faults", f, 200));
  t0 = now_ms();
  for (i = 0; i < 8; i++)
    assert_int_equal(kube_request(c, "GET", "/api/v1/namespaces/kube-system/configmaps", NULL, 0,
                                  NULL, stamp_done, &s),
                     KUBE_OK);
  assert_true(run_until(c, stamps_at_8, &s, 20000));
  assert_true(s.t[7] - t0 >= 1900);
  /* completions come in pairs, a round apart */
  assert_true(s.t[2] - s.t[0] >= 400);
  assert_true(s.t[4] - s.t[2] >= 400);
  kube_client_free(c);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));

  /* eight at a time: one round */
  o.max_in_flight = 8;
  c = client_for(srv.kubeconfig, &o);
  f = json_pack("{s:s, s:s, s:i, s:i, s:f}", "method", "GET", "path",
                "^/api/v1/namespaces/kube-system/configmaps$", "count", 8, "status", 0, "delay",
                0.5);
  json_decref(call(ctl, "POST", "/_test/faults", f, 200));
  s.n = 0;
  t0 = now_ms();
  for (i = 0; i < 8; i++)
    assert_int_equal(kube_request(c, "GET", "/api/v1/namespaces/kube-system/configmaps", NULL, 0,
                                  NULL, stamp_done, &s),
                     KUBE_OK);
  assert_true(run_until(c, stamps_at_8, &s, 20000));
  assert_true(s.t[7] - t0 < 1800); /* about 500 ms */
  kube_client_free(c);
  json_decref(call(ctl, "DELETE", "/_test/faults", NULL, 200));
}

static void connections_are_reused(void **state)
{
  kube_client *c = client_for(srv.kubeconfig, NULL);
  kube_client_stats cs;
  int i;

  for (i = 0; i < 20; i++)
    json_decref(call(c, "GET", "/api/v1/namespaces/default", NULL, 200));
  kube_client_get_stats(c, &cs);
  assert_int_equal(cs.attempts, 20);
  assert_int_equal(cs.retries, 0);
  assert_int_equal(cs.failures, 0);
  assert_true(cs.connections >= 1);
  assert_true(cs.connections <= 2);
  json_decref(call(c, "GET", "/api/v1/namespaces/nope", NULL, 404));
  kube_client_get_stats(c, &cs);
  assert_int_equal(cs.failures, 1);
  kube_client_free(c);
}

static void unreachable_server_is_a_clear_error(void **state)
{
  char kc[600];
  FILE *f;
  kube_client_opts o = test_opts();
  kube_client *c;
  kube_status st;
  long code = -1;
  json_t *body = (json_t *)1;
  uint64_t t0;

  snprintf(kc, sizeof(kc), "%s/kubeconfig-unreachable", srv.tmp);
  f = fopen(kc, "w");
  assert_non_null(f);
  fputs("{\"current-context\": \"x\", \"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": "
        "\"https://127.0.0.1:1\"}}], \"contexts\": [{\"name\": \"x\", \"context\": {\"cluster\": "
        "\"c\"}}]}\n",
        f);
  fclose(f);
  o.max_retries = 2;
  c = client_for(kc, &o);
  t0 = now_ms();
  assert_int_equal(kube_request_sync(c, "GET", "/api/v1/namespaces", NULL, 0, NULL, &code, &body,
                                     &st),
                   KUBE_ERR_TRANSPORT);
  assert_int_equal(code, 0);
  assert_null(body);
  assert_int_equal(st.http_code, 0);
  assert_non_null(strstr(st.message, "https://127.0.0.1:1/api/v1/namespaces"));
  assert_non_null(strstr(st.message, "onnect"));
  assert_true(now_ms() - t0 < 5000);
  kube_client_free(c);
}

static void tls_without_the_ca_fails(void **state)
{
  char kc[600];
  kube_status st;
  kube_client *c;
  long code;

  derive_kubeconfig(kc, sizeof(kc), "kubeconfig-noca", drop_ca, NULL);
  c = client_for(kc, NULL);
  assert_int_equal(kube_request_sync(c, "GET", "/api/v1/namespaces", NULL, 0, NULL, &code, NULL,
                                     &st),
                   KUBE_ERR_TRANSPORT);
  assert_non_null(strstr(st.message, "certificate"));
  kube_client_free(c);
}

/* ---- trust: the configured CA alone ---------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* In a private mount namespace of this (forked, single-threaded) process,
 * replaces /etc/ssl/certs, libcurl's default CA folder on Debian, with store.
 * The machine's trust store is left alone. */
static int private_system_store(const char *store)
{
  if (unshare(CLONE_NEWNS) != 0) {
    /* not privileged: a user namespace of our own first */
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    int fd;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
      return -1;
    if ((fd = open("/proc/self/setgroups", O_WRONLY)) >= 0) {
      if (write(fd, "deny", 4) != 4) {
        close(fd);
        return -1;
      }
      close(fd);
    }
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    if ((fd = open("/proc/self/uid_map", O_WRONLY)) < 0 ||
        write(fd, map, strlen(map)) != (ssize_t)strlen(map) || close(fd) != 0)
      return -1;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    if ((fd = open("/proc/self/gid_map", O_WRONLY)) < 0 ||
        write(fd, map, strlen(map)) != (ssize_t)strlen(map) || close(fd) != 0)
      return -1;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return -1;
  return mount(store, "/etc/ssl/certs", NULL, MS_BIND, NULL);
}

/* The child of configured_ca_alone_is_trusted: its exit status says what failed. */
static int trust_child(const char *store, const char *open_kc, const char *sa_dir, const char *port)
{
  kube_config_opts co = {0};
  kube_client_opts o;
  kube_config *cfg = NULL;
  kube_client *c = NULL;
  kube_status st;
  long code = 0;
  int rc;

  if (private_system_store(store) != 0)
    return 10;
  kube_client_opts_init(&o);
  o.max_retries = 0;
  o.log = quiet_log;
  /* the control: with no CA configured the system store decides, and the
   * private one trusts the server */
  co.source = KUBE_CONFIG_FILES;
  co.kubeconfig = open_kc;
  if (kube_config_load(&cfg, &co, &st) != KUBE_OK || kube_client_new(&c, cfg, &o, &st) != KUBE_OK)
    return 11;
  kube_config_free(cfg);
  cfg = NULL;
  rc = kube_request_sync(c, "GET", "/api/v1/namespaces", NULL, 0, NULL, &code, NULL, &st);
  kube_client_free(c);
  c = NULL;
  if (rc != KUBE_OK) {
    fprintf(stderr, "control: %s\n", st.message);
    return 12;
  }
  /* in cluster, ca.crt names another CA: the server is refused before the
   * token is sent */
  setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", port, 1);
  memset(&co, 0, sizeof(co));
  co.source = KUBE_CONFIG_IN_CLUSTER;
  co.sa_dir = sa_dir;
  if (kube_config_load(&cfg, &co, &st) != KUBE_OK || kube_client_new(&c, cfg, &o, &st) != KUBE_OK)
    return 13;
  kube_config_free(cfg);
  rc = kube_request_sync(c, "GET", "/api/v1/namespaces", NULL, 0, NULL, &code, NULL, &st);
  kube_client_free(c);
  if (rc != KUBE_ERR_TRANSPORT || code != 0 || strstr(st.message, "certificate") == NULL) {
    fprintf(stderr, "in cluster: rc %d code %ld: %s\n", rc, code, st.message);
    return 14;
  }
  return 0;
}

static void configured_ca_alone_is_trusted(void **state)
{
  char store[400], sa[400], path[600], cmd[2048], open_kc[600];
  const char *port = strrchr(srv.url, ':') + 1;
  kube_config_opts co = {0};
  kube_config *cfg = NULL;
  kube_status st;
  int wstatus;
  pid_t pid;
  (void)state;

  /* the private system store trusts the test server's CA */
  co.source = KUBE_CONFIG_FILES;
  co.kubeconfig = srv.kubeconfig;
  assert_int_equal(kube_config_load(&cfg, &co, &st), KUBE_OK);
  assert_non_null(cfg->ca);
  snprintf(store, sizeof(store), "%s/system-certs", srv.tmp);
  assert_int_equal(mkdir(store, 0700), 0);
  snprintf(path, sizeof(path), "%s/ca-certificates.crt", store);
  write_file(path, cfg->ca, cfg->ca_len);
  snprintf(path, sizeof(path), "%s/system-trusted.pem", store);
  write_file(path, cfg->ca, cfg->ca_len);
  kube_config_free(cfg);
  /* the service account's ca.crt: another CA */
  snprintf(sa, sizeof(sa), "%s/sa", srv.tmp);
  assert_int_equal(mkdir(sa, 0700), 0);
  snprintf(path, sizeof(path), "%s/token", sa);
  write_file(path, TOKEN, strlen(TOKEN));
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && openssl rehash '%s' >/dev/null 2>&1 && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout ca.key -out ca.crt -subj /CN=the-real-cluster-ca -days 1 >/dev/null 2>&1",
           sa, store);
  assert_int_equal(system(cmd), 0);
  derive_kubeconfig(open_kc, sizeof(open_kc), "kubeconfig-system-store", drop_ca, NULL);

  json_decref(call(ctl, "POST", "/_test/stats/reset", NULL, 200));
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(trust_child(store, open_kc, sa, port));
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), 0);
  /* only the control's request reached the server */
  assert_int_equal(stat_count("list namespaces"), 1);
  {
    json_t *s = call(ctl, "GET", "/_test/stats", NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(s, "total")), 1);
    json_decref(s);
  }
}

/* base64 of a whole file, for a *-data field */
static char *file_b64(const char *path)
{
  unsigned char *data = NULL;
  size_t len = 0, cap;
  kube_status st;
  char *out;
  assert_int_equal(kube_read_file(&data, &len, path, 1 << 20, 0, &st), 0);
  cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
  out = malloc(cap);
  assert_non_null(out);
  sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
  free(data);
  return out;
}

static void client_certificate(void **state)
{
  char dir[300], cmd[4096], url[600], kc[600];
  char *ca = NULL, *crt = NULL, *key = NULL;
  kube_client *c;
  kube_status st;
  json_t *body = NULL;
  long code;
  pid_t pid;
  FILE *f;

  snprintf(dir, sizeof(dir), "%s/mtls", srv.tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && exec >openssl.log 2>&1 && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout ca.key -out ca.crt -subj /CN=seal-test-ca -days 1 && "
           "printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext && "
           "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext && "
           "for n in srv cli; do "
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key "
           "-out $n.csr -subj /CN=$n-seal && "
           "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
           "-extfile $n.ext -out $n.crt || exit 1; done",
           dir);
  assert_int_equal(system(cmd), 0);
  {
    char a1[400], a2[400], a3[400], script[400];
    char *const argv[] = {(char *)python, script, a1, a2, a3, NULL};
    snprintf(script, sizeof(script), "%s", mtls_py);
    snprintf(a1, sizeof(a1), "%s/ca.crt", dir);
    snprintf(a2, sizeof(a2), "%s/srv.crt", dir);
    snprintf(a3, sizeof(a3), "%s/srv.key", dir);
    pid = spawn_ready(argv, url, sizeof(url));
  }
  snprintf(cmd, sizeof(cmd), "%s/ca.crt", dir);
  ca = file_b64(cmd);
  snprintf(cmd, sizeof(cmd), "%s/cli.crt", dir);
  crt = file_b64(cmd);
  snprintf(cmd, sizeof(cmd), "%s/cli.key", dir);
  key = file_b64(cmd);

  /* with the client certificate and key as data fields */
  snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
  f = fopen(kc, "w");
  assert_non_null(f);
  fprintf(f,
          "{\"current-context\": \"m\", \"clusters\": [{\"name\": \"c\", \"cluster\": "
          "{\"server\": \"%s\", \"certificate-authority-data\": \"%s\"}}], \"users\": "
          "[{\"name\": \"u\", \"user\": {\"client-certificate-data\": \"%s\", "
          "\"client-key-data\": \"%s\"}}], \"contexts\": [{\"name\": \"m\", \"context\": "
          "{\"cluster\": \"c\", \"user\": \"u\"}}, {\"name\": \"anonymous\", \"context\": "
          "{\"cluster\": \"c\"}}]}\n",
          url, ca, crt, key);
  fclose(f);
  c = client_for(kc, NULL);
  assert_int_equal(kube_request_sync(c, "GET", "/whoami", NULL, 0, NULL, &code, &body, &st),
                   KUBE_OK);
  assert_string_equal(json_string_value(json_object_get(body, "message")), "cli-seal");
  json_decref(body);
  kube_client_free(c);

  /* without them the server refuses the handshake: a clear transport error */
  {
    kube_config_opts co = {0};
    kube_config *cfg = NULL;
    kube_client_opts o = test_opts();
    co.kubeconfig = kc;
    co.context = "anonymous";
    o.max_retries = 0;
    assert_int_equal(kube_config_load(&cfg, &co, &st), KUBE_OK);
    assert_int_equal(kube_client_new(&c, cfg, &o, &st), KUBE_OK);
    kube_config_free(cfg);
    assert_int_equal(kube_request_sync(c, "GET", "/whoami", NULL, 0, NULL, &code, NULL, &st),
                     KUBE_ERR_TRANSPORT);
    assert_int_equal(code, 0);
    assert_non_null(strstr(st.message, url));
    kube_client_free(c);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  free(ca);
  free(crt);
  free(key);
}

static void *wake_later(void *arg)
{
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  kube_client_wakeup(arg);
  return NULL;
}

static void wakeup_and_cancel(void **state)
{
  kube_client *c = client_for(srv.kubeconfig, NULL);
  pthread_t th;
  uint64_t t0 = now_ms();
  counter cnt = {0, 0};
  kube_status st;
  long code;
  int rc;

  assert_int_equal(pthread_create(&th, NULL, wake_later, c), 0);
  rc = kube_client_run(c, 10000);
  assert_int_equal(rc, 0);
  assert_true(now_ms() - t0 < 5000);
  pthread_join(th, NULL);

  /* freeing a client completes what is pending with KUBE_ERR_CANCELLED */
  assert_int_equal(kube_request(c, "GET", "/api/v1/namespaces/default/configmaps/slow", NULL, 0,
                                NULL, count_done, &cnt),
                   KUBE_OK);
  kube_client_free(c);
  assert_int_equal(cnt.done, 1);
  assert_int_equal(cnt.ok, 0);

  /* bad arguments never reach the server */
  c = client_for(srv.kubeconfig, NULL);
  assert_int_equal(kube_request_sync(c, "GET", "no-slash", NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_request_sync(c, "GET", "/a b", NULL, 0, NULL, &code, NULL, &st),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_request_sync(c, "POST", "/x", "{}", 2, "a\r\nX-Evil: 1", &code, NULL, &st),
                   KUBE_ERR_INVALID);
  kube_client_free(c);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(crud_and_status),
      cmocka_unit_test(paging_across_1200_objects),
      cmocka_unit_test(retries_honour_retry_after),
      cmocka_unit_test(observe_sees_every_attempt),
      cmocka_unit_test(writes_not_retried_when_the_caller_owns_retries),
      cmocka_unit_test(watch_delivers_events),
      cmocka_unit_test(watch_cut_resumes_without_loss_or_duplicates),
      cmocka_unit_test(gone_after_compaction_relists),
      cmocka_unit_test(token_file_reread_on_401),
      cmocka_unit_test(token_file_rotated_during_a_watch),
      cmocka_unit_test(rate_limit_is_respected),
      cmocka_unit_test(in_flight_is_bounded),
      cmocka_unit_test(connections_are_reused),
      cmocka_unit_test(unreachable_server_is_a_clear_error),
      cmocka_unit_test(tls_without_the_ca_fails),
      cmocka_unit_test(configured_ca_alone_is_trusted),
      cmocka_unit_test(client_certificate),
      cmocka_unit_test(wakeup_and_cancel),
  };
  if (argc != 4) {
    fprintf(stderr, "usage: %s PYTHON SERVER_PY MTLS_SERVER_PY\n", argv[0]);
    return 2;
  }
  python = argv[1];
  server_py = argv[2];
  mtls_py = argv[3];
  signal(SIGPIPE, SIG_IGN);
  if (doc_init() != 0)
    return 1;
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
