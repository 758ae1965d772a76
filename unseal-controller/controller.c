#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "metrics.h"

#include "banned.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
  (void)sig;
  stop_flag = 1;
}

void ctl_request_stop(void)
{
  stop_flag = 1;
}

static void observe_request(void *ud, const char *method, const char *path, long http_code,
                            double seconds)
{
  char verb[24], resource[96];
  (void)ud;
  ctl_api_verb_resource(method, path, verb, sizeof(verb), resource, sizeof(resource));
  ctl_metrics_api_duration(verb, resource, (int)http_code, seconds);
}

/* ---- SealedSecret conditions for the metrics ----------------------------- */

static void add_conditions(void *ud, const char *key, void *value)
{
  ctl_metrics_conditions *set = ud;
  const ctl_sealed *s = value;
  if (s->synced)
    (void)ctl_metrics_conditions_add(set, key, CTL_COND_SYNCED, s->synced, s->synced_reason);
  if (s->key_current)
    (void)ctl_metrics_conditions_add(set, key, CTL_COND_KEY_CURRENT, s->key_current, NULL);
}

/* Counts the conditions of the cached SealedSecrets (their status as the watch
 * last showed it) for /metrics; a walk of the cache, at most once a second. */
static void publish_conditions(ctl *c)
{
  int64_t now = ctl_now_ms();
  if (now - c->conditions_published_ms < 1000)
    return;
  c->conditions_published_ms = now;
  ctl_metrics_conditions *set = ctl_metrics_conditions_new();
  if (set == NULL)
    return;
  ctl_map_each(c->sealed, add_conditions, set);
  ctl_metrics_conditions_publish(set);
}

/* ---- watches ------------------------------------------------------------ */

static void on_keys_event(void *ud, kube_event_type type, json_t *obj)
{
  ctl *c = ud;
  if (ctl_keymgr_on_secret(c, type, obj) > 0)
    c->keys_changed = 1;
}

static void on_sealed_event(void *ud, kube_event_type type, json_t *obj)
{
  ctl_reconcile_on_sealed(ud, type, obj);
}

static void on_owned_event(void *ud, kube_event_type type, json_t *obj)
{
  ctl_reconcile_on_secret(ud, type, obj);
}

static void on_synced(void *ud)
{
  (void)ud;
}

static void restart_sealed(void *ud, const char *reason)
{
  (void)ud;
  ctl_metrics_watch_restart("sealedsecrets");
  ctl_log(CTL_LOG_INFO, "watch restarted", "resource", "sealedsecrets", "reason", reason, NULL);
}

static void restart_owned(void *ud, const char *reason)
{
  (void)ud;
  ctl_metrics_watch_restart("secrets");
  ctl_log(CTL_LOG_INFO, "watch restarted", "resource", "secrets", "reason", reason, NULL);
}

static void restart_keys(void *ud, const char *reason)
{
  (void)ud;
  ctl_metrics_watch_restart("keys");
  ctl_log(CTL_LOG_INFO, "watch restarted", "resource", "key secrets", "reason", reason, NULL);
}

static int start_watches(ctl *c)
{
  kube_status st = {0};
  kube_watch_handlers hk = {on_keys_event, on_synced, restart_keys};
  kube_watch_handlers hs = {on_sealed_event, on_synced, restart_sealed};
  kube_watch_handlers ho = {on_owned_event, on_synced, restart_owned};
  size_t n = c->opts->n_namespaces ? c->opts->n_namespaces : 1;

  if (kube_watch_new(&c->w_keys, c->client, "v1", "secrets", c->key_namespace, MANIFEST_LABEL_KEY,
                     &hk, c, &st) != KUBE_OK) {
    ctl_log(CTL_LOG_ERROR, "cannot watch key secrets", "namespace", c->key_namespace, "error",
            st.message, NULL);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const char *ns = c->opts->n_namespaces ? c->opts->namespaces[i] : NULL;
    if (kube_watch_new(&c->w_sealed[i], c->client, MANIFEST_API_VERSION, "sealedsecrets", ns, NULL,
                       &hs, c, &st) != KUBE_OK ||
        kube_watch_new(&c->w_owned[i], c->client, "v1", "secrets", ns, MANIFEST_LABEL_UNSEALED, &ho,
                       c, &st) != KUBE_OK) {
      ctl_log(CTL_LOG_ERROR, "cannot watch sealedsecrets", "namespace", ns ? ns : "(all)", "error",
              st.message, NULL);
      return -1;
    }
    c->n_watch = i + 1;
  }
  return 0;
}

static int all_synced(const ctl *c)
{
  if (!kube_watch_synced(c->w_keys))
    return 0;
  for (size_t i = 0; i < c->n_watch; i++)
    if (!kube_watch_synced(c->w_sealed[i]) || !kube_watch_synced(c->w_owned[i]))
      return 0;
  return 1;
}

static void kube_log_cb(void *ud, int level, const char *msg)
{
  (void)ud;
  int l = level == KUBE_LOG_ERROR  ? CTL_LOG_ERROR
          : level == KUBE_LOG_WARN ? CTL_LOG_WARN
          : level == KUBE_LOG_INFO ? CTL_LOG_INFO
                                   : CTL_LOG_DEBUG;
  ctl_log(l, msg, "component", "kube", NULL);
}

static void key_namespace_default(char *out, size_t out_size, const char *opt)
{
  char *text = NULL;
  size_t len = 0;
  if (opt && *opt) {
    snprintf(out, out_size, "%s", opt);
    return;
  }
  snprintf(out, out_size, "%s", MANIFEST_KEYS_NAMESPACE);
  if (keys_file_read(&text, &len, KUBE_DEFAULT_SA_DIR "/namespace", 256, NULL) == KEYS_OK) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
      text[--len] = '\0';
    if (len > 0 && keys_name_valid(text))
      snprintf(out, out_size, "%s", text);
  }
  free(text);
}

static void install_signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  /* SIGUSR1: a new key now (keymgr.c; the handler only sets a flag) */
  sa.sa_handler = ctl_keymgr_signal_renew;
  sigaction(SIGUSR1, &sa, NULL);
}

int ctl_run(const ctl_options *opts)
{
  ctl cs;
  ctl *c = &cs;
  kube_status st = {0};
  kube_client_opts copts;
  int rc = 1;
  int keys_ok = 0;

  memset(c, 0, sizeof(*c));
  c->opts = opts;
  (void)ctl_metrics_init(); /* process_start_time_seconds */
  atomic_store(&c->last_turn_ms, ctl_now_ms());
  install_signals();
  key_namespace_default(c->key_namespace, sizeof(c->key_namespace), opts->key_namespace);

  if (ctl_keymgr_init(&c->keys) != 0)
    goto out;
  keys_ok = 1;
  if (ctl_map_new(&c->sealed, ctl_sealed_free) != 0 ||
      ctl_map_new(&c->owned, ctl_owned_free) != 0 ||
      ctl_queue_new(&c->queue, opts->max_retries, 200, 5 * 60 * 1000) != 0) {
    ctl_log(CTL_LOG_ERROR, "out of memory", NULL);
    goto out;
  }

  kube_config_opts kopts = {.source = KUBE_CONFIG_AUTO,
                            .kubeconfig = opts->kubeconfig,
                            .context = opts->context,
                            .sa_dir = opts->sa_dir};
  if (kube_config_load(&c->cfg, &kopts, &st) != KUBE_OK) {
    ctl_log(CTL_LOG_ERROR, "cannot load the kubernetes configuration", "error", st.message, NULL);
    goto out;
  }
  kube_client_opts_init(&copts);
  copts.qps = opts->qps;
  copts.burst = (int)opts->burst;
  copts.max_in_flight = (int)opts->max_in_flight;
  copts.watch_timeout_s = 300;
  /* every write has one owner of its retries: the work queue (Secrets, status),
   * the loop's next turn (key, ConfigMap, Lease); Events are written once */
  copts.retry_writes = 0;
  /* memory does not grow with the size of objects: a list page over this is
   * asked again with fewer objects */
  copts.max_response_bytes = CTL_MAX_RESPONSE_BYTES;
  copts.log = kube_log_cb;
  copts.log_ud = c;
  copts.observe = observe_request;
  copts.observe_ud = c;
  if (kube_client_new(&c->client, c->cfg, &copts, &st) != KUBE_OK) {
    ctl_log(CTL_LOG_ERROR, "cannot create the kubernetes client", "error", st.message, NULL);
    goto out;
  }
  c->max_ops = opts->max_in_flight * 4;
  ctl_leader_init(c);

  if (ctl_http_start(&c->http, c) != 0)
    goto out;
  if (ctl_admission_start(&c->admission, c) != 0)
    goto out;
  if (start_watches(c) != 0)
    goto out;

  ctl_log(CTL_LOG_INFO, "started", "server", kube_config_server(c->cfg), "key_namespace",
          c->key_namespace, "identity", c->leader.identity, NULL);

  while (!stop_flag) {
    int64_t now = ctl_now_ms();
    int64_t due = ctl_queue_next_due(c->queue, now);
    long timeout = 200;
    if (due >= 0 && due < timeout && ctl_is_leader(c) && c->was_ready)
      timeout = due > 0 ? (long)due : 1;
    int n = kube_client_run(c->client, timeout);
    if (n < 0) {
      ctl_log(CTL_LOG_ERROR, "kubernetes client failed", "error", kube_strerror(n), NULL);
      goto out;
    }
    atomic_store(&c->last_turn_ms, ctl_now_ms());
    ctl_leader_tick(c);
    ctl_keymgr_tick(c);
    ctl_admission_tick(c);
    if (c->keys_changed || c->became_leader) {
      /* before ready, becoming ready re-queues every SealedSecret anyway */
      c->keys_changed = c->became_leader = 0;
      if (c->was_ready)
        ctl_reconcile_enqueue_all(c);
    }
    if (!c->was_ready && all_synced(c) && ctl_keymgr_count(&c->keys) > 0) {
      c->was_ready = 1;
      atomic_store(&c->ready, 1);
      ctl_log(CTL_LOG_INFO, "caches synced, reconciling", NULL);
      ctl_reconcile_enqueue_all(c);
    }
    if (c->was_ready && ctl_is_leader(c))
      ctl_reconcile_pump(c);
    /* after a burst of work, hand freed memory back (many objects come and go at once) */
    if (c->ops_in_flight == 0 && ctl_queue_len(c->queue) == 0 && c->work_since_trim > 0 &&
        ctl_now_ms() - c->last_trim_ms > 5000) {
      malloc_trim(0);
      if (ctl_log_enabled(CTL_LOG_DEBUG)) {
        struct mallinfo2 mi = mallinfo2();
        char used[32], objs[32];
        snprintf(used, sizeof(used), "%zu", mi.uordblks);
        snprintf(objs, sizeof(objs), "%zu", ctl_map_len(c->sealed));
        ctl_log(CTL_LOG_DEBUG, "memory", "heap_in_use", used, "sealedsecrets", objs, NULL);
      }
      c->work_since_trim = 0;
      c->last_trim_ms = ctl_now_ms();
    }
    ctl_metrics_queue_depth((long)ctl_queue_len(c->queue));
    ctl_metrics_sealed_secrets((long)ctl_map_len(c->sealed));
    publish_conditions(c);
  }

  atomic_store(&c->stopping, 1);
  ctl_log(CTL_LOG_INFO, "stopping: finishing the work in flight", NULL);
  {
    /* finish what is in flight, take nothing new */
    int64_t deadline = ctl_now_ms() + opts->shutdown_timeout_ms;
    while (c->ops_in_flight > 0 && ctl_now_ms() < deadline)
      if (kube_client_run(c->client, 100) < 0)
        break;
    if (c->ops_in_flight > 0)
      ctl_log(CTL_LOG_WARN, "stopped with reconciles in flight", NULL);
    ctl_leader_release(c, ctl_now_ms() + 2000);
  }
  rc = 0;

out:
  ctl_admission_stop(c->admission);
  c->admission = NULL;
  ctl_http_stop(c->http);
  c->http = NULL;
  for (size_t i = 0; i < CTL_MAX_NAMESPACES; i++) {
    kube_watch_free(c->w_sealed[i]);
    kube_watch_free(c->w_owned[i]);
  }
  kube_watch_free(c->w_keys);
  /* pending callbacks run here with KUBE_ERR_CANCELLED: the caches must still be there */
  kube_client_free(c->client);
  kube_config_free(c->cfg);
  ctl_queue_free(c->queue);
  ctl_map_free(c->sealed);
  ctl_map_free(c->owned);
  if (keys_ok)
    ctl_keymgr_destroy(&c->keys);
  if (rc == 0)
    ctl_log(CTL_LOG_INFO, "stopped", NULL);
  return rc;
}
