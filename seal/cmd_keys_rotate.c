#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "common.h"

#include "banned.h"

#define WAIT_DEFAULT_MS (2 * 60 * 1000L)
#define WAIT_POLL_MS 500L

static const char usage_text[] =
    "usage: seal keys rotate [options]\n"
    "\n"
    "Asks the controller for a new key now: sets the annotation\n" MANIFEST_KEY_ANN_RENEW
    " to the current time on the newest key Secret\n"
    "(a merge patch: Kubernetes RBAC decides who may). The controller sees it and\n"
    "makes a new key; existing SealedSecrets keep unsealing. Re-seal them\n"
    "afterwards with 'seal reseal' and back the new key up ('seal keys backup').\n"
    "\n"
    "      --wait                 return once the new key is made and published\n"
    "                             (what 'seal cert' prints)\n"
    "      --timeout DURATION     how long --wait waits (default 2m; 30s, 1m30s)\n" SEAL_KEYS_HELP
        SEAL_HELP_HELP;

enum { OPT_WAIT = SEAL_OPT_KEYS_FIRST_FREE, OPT_TIMEOUT };

static const struct option longopts[] = {
    SEAL_KEYS_LONGOPTS,
    {"wait", no_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    SEAL_LONGOPTS_END,
};

static long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* 1 when the newest active key of ns is no longer old_id and the cluster
 * publishes it (the ConfigMap, else /v1/cert.pem: what seal cert reads);
 * 0 not yet; a status below 0 when the cluster cannot be read (reported). */
static int new_key_published(seal_keys_session *store, const seal_keys_opts *ko,
                             const uint8_t old_id[KEYS_ID_BYTES], seal_key_info *made)
{
  seal_key_list keys = {0};
  const seal_key_info *newest;
  keys_public pub;
  char *pem = NULL;
  size_t pem_len = 0;
  int st;

  if ((st = seal_keys_fetch(&keys, store->client, store->ns)) != SEAL_OK)
    return st;
  newest = seal_keys_newest(&keys);
  if (newest == NULL || memcmp(newest->raw_id, old_id, KEYS_ID_BYTES) == 0) {
    seal_keys_free(&keys);
    return 0;
  }
  *made = *newest;
  seal_keys_free(&keys);
  /* the session's client: a kubeconfig's credential plugin runs once, not per poll */
  st = seal_cluster_cert_key(&pem, &pem_len, &pub, &ko->cluster, store->client);
  if (st != SEAL_OK)
    return st;
  doc_wipe_free(pem, pem_len);
  return memcmp(pub.id, made->raw_id, KEYS_ID_BYTES) == 0;
}

/* Polls until the new key is published or timeout_ms pass. */
static int wait_for_key(seal_keys_session *store, const seal_keys_opts *ko,
                        const seal_key_info *old, long timeout_ms)
{
  struct timespec pause = {0, WAIT_POLL_MS * 1000000L};
  long deadline = now_ms() + timeout_ms;
  seal_key_info made;
  int st;

  memset(&made, 0, sizeof made);
  for (;;) {
    st = new_key_published(store, ko, old->raw_id, &made);
    if (st < 0)
      return st;
    if (st == 1) {
      printf("new key %s (key secret %s/%s) is made and published; back it up "
             "('seal keys backup') and re-seal ('seal reseal')\n",
             made.id, store->ns, made.name);
      return SEAL_OK;
    }
    if (now_ms() >= deadline)
      break;
    nanosleep(&pause, NULL);
  }
  if (made.name[0] != '\0')
    return seal_report(SEAL_ERR_ENV,
                       "keys rotate: the controller made key %s (key secret %s/%s) but does "
                       "not publish it yet after --timeout %.1fs: is it the leader, and may it "
                       "write configmap " MANIFEST_CERT_CONFIGMAP "? (its log says)",
                       made.id, store->ns, made.name, timeout_ms / 1000.0);
  return seal_report(SEAL_ERR_ENV,
                     "keys rotate: no new key in namespace %s after --timeout %.1fs (newest is "
                     "still %s): is the controller running there, and does its log say why?",
                     store->ns, timeout_ms / 1000.0, old->id);
}

int cmd_keys_rotate(int argc, char **argv)
{
  seal_keys_opts ko = {0};
  seal_keys_session store = {0};
  const seal_key_info *newest;
  const char *timeout = NULL;
  long timeout_ms = WAIT_DEFAULT_MS;
  char now[40];
  seal_cmdline cl = {.cmd = "keys rotate",
                     .usage = usage_text,
                     .shortopts = "h",
                     .longopts = longopts,
                     .keys = &ko};
  int c, wait = 0, st = SEAL_OK;

  while ((c = seal_cmdline_next(&cl, argc, argv)) > 0) {
    if (c == OPT_WAIT)
      wait = 1;
    else if (c == OPT_TIMEOUT)
      timeout = optarg;
  }
  if (c < 0)
    return cl.status;
  if (timeout != NULL && !wait)
    return seal_usage_error("keys rotate", "keys rotate: --timeout is for --wait");
  if (timeout != NULL && (seal_parse_duration(&timeout_ms, timeout) != 0 || timeout_ms <= 0))
    return seal_usage_error("keys rotate",
                            "keys rotate: --timeout '%s': not a duration such as 30s, 2m or "
                            "1m30s (more than 0, at most 24h)",
                            timeout);
  if ((st = seal_keys_open(&store, &ko)) != SEAL_OK)
    goto out;
  newest = seal_keys_newest(&store.keys);
  if (newest == NULL) {
    st = seal_report(SEAL_ERR_INPUT,
                     "keys rotate: no active key secret in namespace %s: is the controller "
                     "running there (--key-namespace)?",
                     store.ns);
    goto out;
  }
  if (keys_time_format(now, sizeof now, (int64_t)time(NULL)) != KEYS_OK) {
    st = seal_report(SEAL_ERR_ENV, "keys rotate: cannot format the time");
    goto out;
  }
  st = seal_keys_annotate(store.client, store.ns, newest->name, MANIFEST_KEY_ANN_RENEW, now);
  if (st != SEAL_OK)
    goto out;
  printf("renewal requested: annotation %s=%s on key secret %s/%s (newest key %s); the "
         "controller makes a new key\n",
         MANIFEST_KEY_ANN_RENEW, now, store.ns, newest->name, newest->id);
  if (wait) {
    fflush(stdout);
    st = wait_for_key(&store, &ko, newest, timeout_ms);
  }
out:
  seal_keys_close(&store);
  return st;
}
