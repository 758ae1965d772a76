/*
 * The list-then-watch state machine against a scripted HTTP server in this
 * process: answers the real server never gives (events split anywhere, lines
 * that are not JSON, oversized events, ERROR events, an expired continue
 * token, a list that is not JSON). Plain HTTP on 127.0.0.1, one request per
 * connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "doc.h"
#include "kube.h"
#include "watch_rec.h"

#include "banned.h"

#define MAX_PIECES 8
#define MAX_SCRIPT 8

/* One scripted answer: pieces written one after another with a pause, so the
 * client sees them in separate reads. status 0 is 200; another status is sent
 * with the pieces as its body. */
typedef struct answer {
  int status;
  const char *pieces[MAX_PIECES];
} answer;

typedef struct fake {
  int lfd, port;
  pthread_t th;
  atomic_int stop;
  answer lists[MAX_SCRIPT], watches[MAX_SCRIPT];
  int n_lists, n_watches, list_i, watch_i; /* lists: the last repeats; watches: then hang */
  pthread_mutex_t mu;
  char paths[64][1024];
  int n_paths;
  char kubeconfig[256];
} fake;

static void send_all(int fd, const char *s, size_t n)
{
  while (n > 0) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

static void pause_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void send_answer(fake *f, int fd, const answer *a, int stream, int hang)
{
  char head[256];
  size_t total = 0;
  int i;

  if (a != NULL && (a->status != 0 || !stream)) { /* one body with its length */
    for (i = 0; i < MAX_PIECES && a->pieces[i]; i++)
      total += strlen(a->pieces[i]);
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             a->status ? a->status : 200, total);
  } else { /* a stream: until the connection closes */
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
  }
  send_all(fd, head, strlen(head));
  for (i = 0; a != NULL && i < MAX_PIECES && a->pieces[i]; i++) {
    send_all(fd, a->pieces[i], strlen(a->pieces[i]));
    pause_ms(20);
  }
  while (hang && !atomic_load(&f->stop))
    pause_ms(20);
}

static void *serve(void *arg)
{
  fake *f = arg;

  while (!atomic_load(&f->stop)) {
    struct pollfd p = {f->lfd, POLLIN, 0};
    char req[4096], path[1024];
    size_t len = 0;
    int fd, is_watch;
    const answer *a = NULL;
    int hang = 0;

    if (poll(&p, 1, 50) <= 0)
      continue;
    fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
      continue;
    while (len + 1 < sizeof(req)) {
      ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
      if (r <= 0)
        break;
      len += (size_t)r;
      req[len] = '\0';
      if (strstr(req, "\r\n\r\n"))
        break;
    }
    req[len] = '\0';
    if (sscanf(req, "GET %1023s", path) != 1) {
      close(fd);
      continue;
    }
    is_watch = strstr(path, "watch=1") != NULL;
    pthread_mutex_lock(&f->mu);
    if (f->n_paths < 64)
      snprintf(f->paths[f->n_paths++], sizeof(f->paths[0]), "%s", path);
    if (is_watch) {
      if (f->watch_i < f->n_watches)
        a = &f->watches[f->watch_i++];
      else
        hang = 1;
    } else {
      a = &f->lists[f->list_i < f->n_lists - 1 ? f->list_i++ : f->n_lists - 1];
    }
    pthread_mutex_unlock(&f->mu);
    send_answer(f, fd, a, is_watch, hang);
    shutdown(fd, SHUT_RDWR);
    close(fd);
  }
  return NULL;
}

static fake *fake_start(void)
{
  fake *f = calloc(1, sizeof(*f));
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  FILE *fp;

  assert_non_null(f);
  pthread_mutex_init(&f->mu, NULL);
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(f->lfd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(f->lfd, 16), 0);
  assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
  f->port = ntohs(sa.sin_port);
  snprintf(f->kubeconfig, sizeof(f->kubeconfig), "/tmp/kube-watch-test-%d.json", f->port);
  fp = fopen(f->kubeconfig, "w");
  assert_non_null(fp);
  fprintf(fp,
          "{\"current-context\": \"x\", \"clusters\": [{\"name\": \"c\", \"cluster\": "
          "{\"server\": \"http://127.0.0.1:%d\"}}], \"contexts\": [{\"name\": \"x\", "
          "\"context\": {\"cluster\": \"c\"}}]}\n",
          f->port);
  fclose(fp);
  return f;
}

static void fake_go(fake *f)
{
  assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
}

static void fake_stop(fake *f)
{
  atomic_store(&f->stop, 1);
  pthread_join(f->th, NULL);
  close(f->lfd);
  unlink(f->kubeconfig);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static const char *fake_path(fake *f, int i)
{
  const char *p;
  pthread_mutex_lock(&f->mu);
  p = i < f->n_paths ? f->paths[i] : "";
  pthread_mutex_unlock(&f->mu);
  return p;
}

static int fake_requests(fake *f)
{
  int n;
  pthread_mutex_lock(&f->mu);
  n = f->n_paths;
  pthread_mutex_unlock(&f->mu);
  return n;
}

static kube_client *client_with(fake *f, size_t max_event, long backoff_base_ms)
{
  kube_config_opts co = {0};
  kube_config *cfg = NULL;
  kube_client *c = NULL;
  kube_client_opts o;
  kube_status st;

  co.kubeconfig = f->kubeconfig;
  assert_int_equal(kube_config_load(&cfg, &co, &st), KUBE_OK);
  unlink(f->kubeconfig); /* read once: nothing is left behind when a test fails */
  kube_client_opts_init(&o);
  o.backoff_base_ms = backoff_base_ms;
  o.backoff_max_ms = backoff_base_ms * 5;
  o.max_retries = 0;
  o.watch_timeout_s = 60;
  if (max_event)
    o.max_event_bytes = max_event;
  assert_int_equal(kube_client_new(&c, cfg, &o, &st), KUBE_OK);
  kube_config_free(cfg);
  return c;
}

static kube_client *client_for(fake *f, size_t max_event)
{
  return client_with(f, max_event, 10);
}

#define LIST(rv, items)                                                                       \
  "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv \
  "\"},\"items\":[" items "]}"
#define LIST_CONT(rv, cont, items)                                                            \
  "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv \
  "\",\"continue\":\"" cont "\"},\"items\":[" items "]}"
#define ITEM(name, rv) \
  "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"n\",\"resourceVersion\":\"" rv "\"}}"
#define EVENT(type, name, rv) "{\"type\":\"" type "\",\"object\":" ITEM(name, rv) "}\n"

typedef struct wait_n {
  fake *f;
  int n;
} wait_n;

static int requests_at(void *ud)
{
  wait_n *w = ud;
  return fake_requests(w->f) >= w->n;
}

static kube_watch *watch_configmaps(kube_client *c, const char *ns, const char *selector, rec *r)
{
  kube_watch *w = NULL;
  kube_status st;
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", ns, selector, &rec_handlers, r, &st),
                   KUBE_OK);
  return w;
}

static void done_with(fake *f, kube_client *c, kube_watch *w, rec *r)
{
  kube_watch_free(w);
  kube_client_free(c);
  fake_stop(f);
  free(r);
}

static void events_split_anywhere_then_garbage(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  want_events we = {r, 3};
  wait_n wn = {f, 4};

  f->lists[0] = (answer){0, {LIST("10", ITEM("a", "5"))}};
  f->lists[1] = (answer){0, {LIST("12", ITEM("a", "5") "," ITEM("b", "11") "," ITEM("c", "12"))}};
  f->n_lists = 2;
  f->watches[0] = (answer){0,
                           {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"names",
                            "pace\":\"n\",\"resourceVersion\":\"11\"}}}\n{\"type\":\"BOOKM",
                            "ARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"11\"}}}\r", "\n",
                            "this is not json\n", EVENT("ADDED", "never", "99")}};
  f->n_watches = 1;
  fake_go(f);
  c = client_for(f, 0);
  w = watch_configmaps(c, "n", NULL, r);
  assert_true(run_until(c, has_events, &we, 10000));
  assert_true(run_until(c, requests_at, &wn, 10000));
  run_for(c, 200);
  /* b arrived in pieces; the garbage line made the watch list again, which
   * found c; the event after the garbage was never delivered */
  assert_string_equal(r->log, "A:a,A:b,A:c,");
  assert_string_equal(r->reasons, "malformed,");
  assert_int_equal(r->synced, 1);
  assert_string_equal(fake_path(f, 0), "/api/v1/namespaces/n/configmaps?limit=500");
  assert_string_equal(fake_path(f, 1), "/api/v1/namespaces/n/configmaps?watch=1&"
                                       "allowWatchBookmarks=true&resourceVersion=10&"
                                       "timeoutSeconds=60");
  assert_string_equal(fake_path(f, 2), "/api/v1/namespaces/n/configmaps?limit=500");
  assert_non_null(strstr(fake_path(f, 3), "resourceVersion=12&"));
  assert_string_equal(kube_watch_resource_version(w), "12");
  done_with(f, c, w, r);
}

static void oversized_event_restarts_with_a_list(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  want_events we = {r, 2};
  wait_n wn = {f, 4};
  char big[700];

  /* an event of ~600 bytes against a 256-byte maximum */
  snprintf(big, sizeof(big),
           "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"big\",\"namespace\":\"n\","
           "\"resourceVersion\":\"11\"},\"data\":{\"v\":\"%0500d\"}}}\n",
           0);
  f->lists[0] = (answer){0, {LIST("10", ITEM("a", "5"))}};
  f->lists[1] = (answer){0, {LIST("11", ITEM("a", "5") "," ITEM("big", "11"))}};
  f->n_lists = 2;
  f->watches[0] = (answer){0, {big}};
  f->n_watches = 1;
  fake_go(f);
  c = client_for(f, 256);
  w = watch_configmaps(c, "n", NULL, r);
  assert_true(run_until(c, has_events, &we, 10000));
  assert_true(run_until(c, requests_at, &wn, 10000));
  assert_string_equal(r->log, "A:a,A:big,"); /* from the list, whose limit is larger */
  assert_string_equal(r->reasons, "oversized,");
  assert_non_null(strstr(fake_path(f, 3), "resourceVersion=11&"));
  done_with(f, c, w, r);
}

static void error_events_and_gone(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  wait_n wn = {f, 8};

  f->lists[0] = (answer){0, {LIST("10", ITEM("a", "5") "," ITEM("b", "6"))}};
  f->lists[1] = (answer){0, {LIST("20", ITEM("a", "5") "," ITEM("b", "6"))}};
  /* b is gone by the third list */
  f->lists[2] = (answer){0, {LIST("30", ITEM("a", "5"))}};
  f->n_lists = 3;
  f->watches[0] = (answer){
      0,
      {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}}\n"}};
  f->watches[1] = (answer){0,
                           {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                            "\"reason\":\"Expired\"}}\n"}};
  f->watches[2] = (answer){410, {"{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}"}};
  /* a clean end after one event: resume from that event */
  f->watches[3] = (answer){0, {EVENT("MODIFIED", "a", "31")}};
  f->n_watches = 4;
  fake_go(f);
  c = client_for(f, 0);
  w = watch_configmaps(c, "n", NULL, r);
  assert_true(run_until(c, requests_at, &wn, 10000));
  run_for(c, 200);
  assert_string_equal(r->reasons, "error,expired,expired,closed,");
  assert_string_equal(r->log, "A:a,A:b,D:b,M:a,");
  assert_int_equal(r->synced, 1);
  /* list, watch@10 (500), watch@10, list, watch@20 (410), list, watch@30, watch@31 */
  assert_non_null(strstr(fake_path(f, 1), "resourceVersion=10&"));
  assert_non_null(strstr(fake_path(f, 2), "resourceVersion=10&"));
  assert_null(strstr(fake_path(f, 3), "watch=1"));
  assert_non_null(strstr(fake_path(f, 4), "resourceVersion=20&"));
  assert_null(strstr(fake_path(f, 5), "watch=1"));
  assert_non_null(strstr(fake_path(f, 6), "resourceVersion=30&"));
  assert_non_null(strstr(fake_path(f, 7), "resourceVersion=31&"));
  assert_int_equal(kube_watch_known(w), 1);
  done_with(f, c, w, r);
}

/* Keeps the object of the first DELETED to check what a re-list reports. */
static json_t *first_deleted;
static void keep_deleted(void *ud, kube_event_type type, json_t *obj)
{
  if (type == KUBE_EVENT_DELETED && first_deleted == NULL)
    first_deleted = json_incref(obj);
  (void)ud;
}

static int got_deleted(void *ud)
{
  (void)ud;
  return first_deleted != NULL;
}

static void relist_deletion_names_the_object(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  kube_watch_handlers h = {keep_deleted, NULL, NULL};
  kube_status st;

  f->lists[0] = (answer){0, {LIST("10", ITEM("a", "5"))}};
  f->lists[1] = (answer){0, {LIST("20", "")}};
  f->n_lists = 2;
  f->watches[0] = (answer){0, {"{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n"}};
  f->n_watches = 1;
  fake_go(f);
  c = client_for(f, 0);
  first_deleted = NULL;
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "n", NULL, &h, NULL, &st), KUBE_OK);
  assert_true(run_until(c, got_deleted, NULL, 10000));
  assert_string_equal(json_string_value(json_object_get(first_deleted, "kind")), "ConfigMap");
  assert_string_equal(json_string_value(json_object_get(first_deleted, "apiVersion")), "v1");
  assert_string_equal(doc_get_string(first_deleted, "metadata", "namespace", NULL), "n");
  assert_string_equal(doc_get_string(first_deleted, "metadata", "name", NULL), "a");
  assert_string_equal(doc_get_string(first_deleted, "metadata", "resourceVersion", NULL), "5");
  json_decref(first_deleted);
  first_deleted = NULL;
  kube_watch_free(w);
  kube_client_free(c);
  fake_stop(f);
}

static void expired_continue_and_bad_lists(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));

  f->lists[0] = (answer){0, {LIST_CONT("10", "tok=1", ITEM("a", "5"))}};
  f->lists[1] = (answer){410, {"{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}"}};
  f->lists[2] = (answer){0, {"this is not json"}};
  f->lists[3] = (answer){0, {"{\"kind\":\"ConfigMapList\",\"items\":[]}"}}; /* no resourceVersion */
  f->lists[4] = (answer){0, {LIST("30", "{\"metadata\":{}}," ITEM("a", "5") "," ITEM("b", "7"))}};
  f->n_lists = 5;
  fake_go(f);
  c = client_for(f, 0);
  w = watch_configmaps(c, NULL, "app in (x,y)", r);
  assert_true(run_until(c, is_synced, r, 10000));
  /* a is reported once although two lists carried it; the nameless item is skipped */
  assert_string_equal(r->log, "A:a,A:b,");
  assert_string_equal(r->reasons, "expired,error,malformed,");
  assert_int_equal(r->synced, 1);
  assert_string_equal(fake_path(f, 0),
                      "/api/v1/configmaps?labelSelector=app%20in%20%28x%2Cy%29&limit=500");
  assert_non_null(strstr(fake_path(f, 1), "&continue=tok%3D1"));
  assert_null(strstr(fake_path(f, 2), "continue"));
  done_with(f, c, w, r);
}

/* A list page over max_response_bytes is asked again with a quarter as many
 * objects (memory stays bounded whatever the objects' size), and the page
 * size grows back after a page is read. */
static void large_pages_asked_again_smaller(void **state)
{
  fake *f = fake_start();
  kube_config_opts co = {0};
  kube_config *cfg = NULL;
  kube_client *c = NULL;
  kube_client_opts o;
  kube_status st;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  (void)state;

  /* over 300 bytes: too large, then the same page with fewer objects */
  f->lists[0] = (answer){
      0, {LIST("10", ITEM("a", "5") "," ITEM("b", "6") "," ITEM("c", "7") "," ITEM("d", "8"))}};
  f->lists[1] = (answer){0, {LIST_CONT("10", "tok", ITEM("a", "5") "," ITEM("b", "6"))}};
  f->lists[2] = (answer){0, {LIST("10", ITEM("c", "7") "," ITEM("d", "8"))}};
  f->n_lists = 3;
  fake_go(f);
  co.kubeconfig = f->kubeconfig;
  assert_int_equal(kube_config_load(&cfg, &co, &st), KUBE_OK);
  unlink(f->kubeconfig);
  kube_client_opts_init(&o);
  o.backoff_base_ms = 10;
  o.max_retries = 0;
  o.list_limit = 4;
  o.max_response_bytes = 300;
  assert_int_equal(kube_client_new(&c, cfg, &o, &st), KUBE_OK);
  kube_config_free(cfg);
  w = watch_configmaps(c, "n", NULL, r);
  assert_true(run_until(c, is_synced, r, 10000));
  assert_string_equal(r->log, "A:a,A:b,A:c,A:d,");
  assert_string_equal(r->reasons, "");
  assert_non_null(strstr(fake_path(f, 0), "limit=4"));
  assert_non_null(strstr(fake_path(f, 1), "limit=1"));
  assert_null(strstr(fake_path(f, 1), "continue"));
  assert_non_null(strstr(fake_path(f, 2), "limit=2&continue=tok"));
  done_with(f, c, w, r);
}

static void empty_streams_back_off(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_watch *w = NULL;
  rec *r = calloc(1, sizeof(*r));
  wait_n wn = {f, 8};
  uint64_t t0;
  int i;

  f->lists[0] = (answer){0, {LIST("10", "")}};
  f->n_lists = 1;
  /* five streams that end at once without a line: a server in trouble */
  for (i = 0; i < 5; i++)
    f->watches[i] = (answer){0, {NULL}};
  /* then one that ends after a bookmark: that is a normal timeout */
  f->watches[5] = (answer){0,
                           {"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
                            "{\"resourceVersion\":\"11\"}}}\n"}};
  f->n_watches = 6;
  fake_go(f);
  c = client_with(f, 0, 100);
  w = watch_configmaps(c, "n", NULL, r);
  assert_true(run_until(c, is_synced, r, 5000));
  t0 = now_ms();
  /* delays of at least 50, 100, 200, 250, 250 ms between the empty ones */
  assert_true(run_until(c, requests_at, &wn, 10000));
  assert_true(now_ms() - t0 >= 800);
  assert_string_equal(r->reasons, "closed,closed,closed,closed,closed,closed,");
  assert_non_null(strstr(fake_path(f, 6), "resourceVersion=10&"));
  assert_non_null(strstr(fake_path(f, 7), "resourceVersion=11&"));
  done_with(f, c, w, r);
}

static void bad_watch_arguments(void **state)
{
  fake *f = fake_start();
  kube_client *c = client_for(f, 0);
  kube_watch *w = (kube_watch *)1;
  kube_watch_handlers none = {NULL, NULL, NULL};
  kube_status st;

  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", "a/b", NULL, &rec_handlers, NULL, &st),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_watch_new(&w, c, "v1", "", NULL, NULL, &rec_handlers, NULL, &st),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_watch_new(&w, c, "v1", "configmaps", NULL, NULL, &none, NULL, &st),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_client_pending(c), 0);
  kube_watch_free(NULL);
  kube_client_free(c);
  fake_stop(f);
}

static void raw_and_non_json_answers(void **state)
{
  fake *f = fake_start();
  kube_client *c;
  kube_status st;
  char *text = NULL;
  size_t len = 0;
  long code = 0;
  json_t *body = NULL;

  f->lists[0] = (answer){0, {"-----BEGIN SEAL PUBLIC KEY-----\nabc\n", "-----END-----\n"}};
  f->lists[1] = (answer){0, {"-----BEGIN SEAL PUBLIC KEY-----\n"}};
  f->lists[2] = (answer){503, {"<html>upstream down</html>"}};
  f->lists[3] = (answer){404,
                         {"{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\","
                          "\"message\":\"services \\\"x\\\" not found\"}"}};
  f->n_lists = 4;
  fake_go(f);
  c = client_for(f, 0);
  /* text is what a raw request is for */
  assert_int_equal(kube_request_sync_raw(c, "GET", "/cert.pem", NULL, 0, NULL, &code, &text, &len,
                                         &st),
                   KUBE_OK);
  assert_int_equal(code, 200);
  assert_int_equal(len, strlen(text));
  assert_string_equal(text, "-----BEGIN SEAL PUBLIC KEY-----\nabc\n-----END-----\n");
  doc_wipe_free(text, len);
  /* the JSON request refuses it clearly */
  assert_int_equal(kube_request_sync(c, "GET", "/cert.pem", NULL, 0, NULL, &code, &body, &st),
                   KUBE_ERR_PROTOCOL);
  assert_null(body);
  assert_non_null(strstr(st.message, "GET /cert.pem: answer 200 is not JSON"));
  /* an error answer that is not a Status: the code and the start of the text */
  assert_int_equal(kube_request_sync_raw(c, "GET", "/cert.pem", NULL, 0, NULL, &code, &text, &len,
                                         &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 503);
  assert_non_null(strstr(st.message, "answer 503: <html>upstream down</html>"));
  assert_string_equal(text, "<html>upstream down</html>");
  doc_wipe_free(text, len);
  /* an error answer that is a Status */
  assert_int_equal(kube_request_sync_raw(c, "GET", "/cert.pem", NULL, 0, NULL, &code, NULL, NULL,
                                         &st),
                   KUBE_ERR_HTTP);
  assert_int_equal(code, 404);
  assert_string_equal(st.reason, "NotFound");
  assert_string_equal(st.message, "services \"x\" not found");
  assert_int_equal(kube_request_raw(c, "GET", "/x", NULL, 0, NULL, NULL, NULL), KUBE_ERR_INVALID);
  kube_client_free(c);
  fake_stop(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(events_split_anywhere_then_garbage),
      cmocka_unit_test(oversized_event_restarts_with_a_list),
      cmocka_unit_test(error_events_and_gone),
      cmocka_unit_test(relist_deletion_names_the_object),
      cmocka_unit_test(expired_continue_and_bad_lists),
      cmocka_unit_test(large_pages_asked_again_smaller),
      cmocka_unit_test(empty_streams_back_off),
      cmocka_unit_test(bad_watch_arguments),
      cmocka_unit_test(raw_and_non_json_answers),
  };
  signal(SIGPIPE, SIG_IGN);
  if (doc_init() != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
