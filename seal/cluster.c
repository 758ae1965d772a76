#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common.h"
#include "curl_loader.h"
#include "kube.h"

#include "banned.h"

#define VERIFY_MAX_REPLY (1024u * 1024)

/* controller URL + path, without a doubled '/' */
static int controller_url(char *out, size_t size, const char *base, const char *path)
{
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/')
    n--;
  if (snprintf(out, size, "%.*s%s", (int)n, base, path) >= (int)size)
    return seal_report(SEAL_ERR_USAGE, "--controller-url '%s': too long", base);
  return SEAL_OK;
}

static const char *controller_ns(const seal_cluster_opts *o)
{
  return o->controller_namespace ? o->controller_namespace : "seal-system";
}

static const char *controller_name(const seal_cluster_opts *o)
{
  return o->controller_name ? o->controller_name : "unseal-controller";
}

static int kube_fail(const char *what, const kube_status *ks, int err)
{
  const char *msg = ks && ks->message[0] ? ks->message : kube_strerror(err);
  const char *hint = "";

  if (err == KUBE_ERR_TRANSPORT && strstr(msg, "SSL certificate problem") != NULL)
    hint = " (the API server's certificate does not verify against the CA of "
           "--certificate-authority, else of the kubeconfig's cluster, else the system's)";
  else if (err == KUBE_ERR_HTTP && ks != NULL && ks->http_code == 401)
    hint = " (the API server refused the credentials of --token, else of the kubeconfig's user)";
  return seal_report(SEAL_ERR_ENV, "%s: %s%s", what, msg, hint);
}

/* A command that forgot seal_cluster_finish would ignore the SEAL_* variables. */
static int unfinished(const seal_cluster_opts *o)
{
  if (o->finished)
    return SEAL_OK;
  return seal_report(SEAL_ERR_ENV, "internal error: the cluster options were not checked");
}

void seal_kube_config_opts(kube_config_opts *out, const seal_cluster_opts *o)
{
  memset(out, 0, sizeof *out);
  out->source = KUBE_CONFIG_AUTO;
  out->kubeconfig = o->kubeconfig;
  out->context = o->context;
  out->overrides.cluster = o->cluster;
  out->overrides.user = o->user;
  out->overrides.server = o->server;
  out->overrides.token = o->token;
  out->overrides.certificate_authority = o->certificate_authority;
  out->overrides.insecure_skip_tls_verify = o->insecure_skip_tls_verify;
}

/* hint (may be NULL) follows a failure to load the configuration. */
int seal_kube_open(kube_client **out, const seal_cluster_opts *o, const char *hint)
{
  kube_config_opts copts;
  kube_client_opts kopts;
  kube_config *cfg = NULL;
  kube_status ks = {0};
  const char *why;
  int rc, st;

  if ((st = unfinished(o)) != SEAL_OK)
    return st;
  seal_kube_config_opts(&copts, o);
  rc = kube_config_load(&cfg, &copts, &ks);
  if (rc != KUBE_OK) {
    st = seal_report(SEAL_ERR_ENV, "kubeconfig: %s%s%s%s",
                     ks.message[0] ? ks.message : kube_strerror(rc), hint ? " (" : "",
                     hint ? hint : "", hint ? ")" : "");
    goto out;
  }
  /* the cluster is not authenticated: allowed, as kubectl allows it, but said */
  if (kube_config_insecure(cfg))
    seal_warn("kubeconfig: %s: insecure-skip-tls-verify: the API server is not authenticated; "
              "the token and the cluster's public key come from whoever answers",
              kube_config_server(cfg));
  else if (strncasecmp(kube_config_server(cfg), "http://", 7) == 0)
    seal_warn("kubeconfig: %s: plain HTTP: the token and every answer cross the network in "
              "clear and unauthenticated",
              kube_config_server(cfg));
  kube_client_opts_init(&kopts);
  /* --request-timeout bounds a request as kubectl's does: no retries after it */
  kopts.max_retries = o->timeout_given ? 0 : 2;
  kopts.timeout_ms = o->timeout_ms;
  kopts.max_response_bytes = DOC_MAX_BYTES;
  kopts.user_agent = "seal";
  if ((why = seal_curl_load_error()) != NULL) {
    st = seal_report(SEAL_ERR_ENV, "kubernetes client: %s", why);
    goto out;
  }
  rc = kube_client_new(out, cfg, &kopts, &ks);
  if (rc != KUBE_OK)
    st = kube_fail("kubernetes client", &ks, rc);
out:
  kube_config_free(cfg);
  return st;
}

/* The cert.pem of the ConfigMap; SEAL_ERR_INPUT (not reported) when it is not
 * there, *why saying how. */
static int cert_from_configmap(char **out, size_t *out_len, kube_client *client, const char **why)
{
  char path[KUBE_MAX_PATH];
  kube_status ks = {0};
  json_t *body = NULL;
  const char *pem;
  long code = 0;
  int rc, st = SEAL_OK;

  if (kube_path(path, sizeof path, "v1", "configmaps", MANIFEST_KEYS_NAMESPACE,
                MANIFEST_CERT_CONFIGMAP, NULL) != KUBE_OK)
    return seal_report(SEAL_ERR_ENV, "configmap path too long");
  rc = kube_request_sync(client, "GET", path, NULL, 0, NULL, &code, &body, &ks);
  if (rc == KUBE_ERR_HTTP && (code == 404 || code == 403)) {
    *why = code == 404 ? "does not exist" : "may not be read by this user (403)";
    st = SEAL_ERR_INPUT;
    goto out;
  }
  if (rc != KUBE_OK) {
    st = kube_fail("configmap " MANIFEST_KEYS_NAMESPACE "/" MANIFEST_CERT_CONFIGMAP, &ks, rc);
    goto out;
  }
  pem = manifest_cert_configmap_pem(body);
  if (pem == NULL || *pem == '\0') {
    *why = "has no " MANIFEST_CERT_FIELD;
    st = SEAL_ERR_INPUT;
    goto out;
  }
  *out_len = strlen(pem);
  *out = strdup(pem);
  if (*out == NULL)
    st = seal_report(SEAL_ERR_ENV, "out of memory");
out:
  json_decref(body);
  return st;
}

/* The service proxy path to the controller's path p. The "scheme:name:port"
 * segment is written as is: namespace and name are DNS names (checked), so
 * nothing in it needs escaping, and escaped colons are not understood by
 * every API server. */
static int proxy_path(char *out, size_t size, const seal_cluster_opts *o, const char *p)
{
  const char *ns = controller_ns(o), *name = controller_name(o);
  if (!keys_name_valid(ns))
    return seal_report(SEAL_ERR_USAGE, "--controller-namespace '%s': not a valid namespace", ns);
  if (!keys_name_valid(name))
    return seal_report(SEAL_ERR_USAGE, "--controller-name '%s': not a valid name", name);
  if (snprintf(out, size, "/api/v1/namespaces/%s/services/http:%s:http/proxy%s", ns, name, p) >=
      (int)size)
    return seal_report(SEAL_ERR_USAGE, "controller namespace or name: too long");
  return SEAL_OK;
}

/* The cluster's published key text, and in subject where it came from;
 * through client when given, else through a client of its own. */
static int cluster_cert_fetch(char **out, size_t *out_len, const seal_cluster_opts *opts,
                              kube_client *given, char *subject, size_t subject_size)
{
  char url[2048];
  long code = 0;
  int st;

  *out = NULL;
  *out_len = 0;
  if ((st = unfinished(opts)) != SEAL_OK)
    return st;
  if (opts->controller_url) {
    if ((st = controller_url(url, sizeof url, opts->controller_url, "/v1/cert.pem")) != SEAL_OK)
      return st;
    snprintf(subject, subject_size, "%s", url);
    return seal_cert_fetch(out, out_len, url, opts->timeout_ms, SEAL_ERR_ENV);
  }
  {
    kube_client *client = given, *own = NULL;
    kube_status ks = {0};
    char path[KUBE_MAX_PATH];
    const char *why = "";
    int rc;

    if (client == NULL) {
      st = seal_kube_open(&own, opts, "or give --cert, $SEAL_CERT or --controller-url");
      if (st != SEAL_OK)
        return st;
      client = own;
    }
    snprintf(subject, subject_size,
             "configmap " MANIFEST_KEYS_NAMESPACE "/" MANIFEST_CERT_CONFIGMAP
             ", key " MANIFEST_CERT_FIELD);
    st = cert_from_configmap(out, out_len, client, &why);
    if (st != SEAL_ERR_INPUT)
      goto done;
    snprintf(subject, subject_size, "the controller's /v1/cert.pem through the service proxy");
    if ((st = proxy_path(path, sizeof path, opts, "/v1/cert.pem")) != SEAL_OK)
      goto done;
    rc = kube_request_sync_raw(client, "GET", path, NULL, 0, NULL, &code, out, out_len, &ks);
    if (rc != KUBE_OK) {
      free(*out);
      *out = NULL;
      *out_len = 0;
      st = seal_report(SEAL_ERR_ENV,
                       "no public key: configmap " MANIFEST_CERT_CONFIGMAP
                       " in namespace " MANIFEST_KEYS_NAMESPACE
                       " %s, and the controller's /v1/cert.pem "
                       "through the service proxy (service %s/%s) failed: %s (is the controller "
                       "installed? else give --cert or --controller-url)",
                       why, controller_ns(opts), controller_name(opts),
                       ks.message[0] ? ks.message : kube_strerror(rc));
      goto done;
    }
    st = SEAL_OK;
  done:
    kube_client_free(own);
    return st;
  }
}

int seal_cluster_cert_key(char **out, size_t *out_len, keys_public *pub,
                          const seal_cluster_opts *opts, kube_client *client)
{
  char subject[2200] = "";
  keys_error kerr = {0};
  int st = cluster_cert_fetch(out, out_len, opts, client, subject, sizeof subject);

  if (st != SEAL_OK)
    return st;
  /* A cluster publishes exactly one key block: anything else (a second
   * block, text around it) is refused, not sealed for. */
  if (keys_armor_read_one_public(pub, *out, *out_len, &kerr) != KEYS_OK) {
    st = seal_report(SEAL_ERR_INPUT, "%s: not exactly one public key, refused: %s", subject,
                     kerr.message);
    doc_wipe_free(*out, *out_len);
    *out = NULL;
    *out_len = 0;
  }
  return st;
}

int seal_cluster_cert(char **out, size_t *out_len, const seal_cluster_opts *opts)
{
  keys_public pub;

  return seal_cluster_cert_key(out, out_len, &pub, opts, NULL);
}

/* POSTs body (JSON) to the controller's path p, directly or through the proxy. */
static int controller_post(char **reply, size_t *reply_len, long *http_code,
                           const seal_cluster_opts *opts, const char *p, size_t max,
                           const char *body, size_t body_len)
{
  char url[2048];
  int st;

  *reply = NULL;
  *reply_len = 0;
  *http_code = 0;
  if ((st = unfinished(opts)) != SEAL_OK)
    return st;
  if (opts->controller_url) {
    if ((st = controller_url(url, sizeof url, opts->controller_url, p)) != SEAL_OK)
      return st;
    return seal_http_fetch(reply, reply_len, max, http_code, opts->timeout_ms, url, body, body_len,
                           "application/json");
  }
  {
    kube_client *client = NULL;
    kube_status ks = {0};
    char path[KUBE_MAX_PATH];
    int rc;

    if ((st = seal_kube_open(&client, opts, "or give --controller-url")) != SEAL_OK)
      return st;
    if ((st = proxy_path(path, sizeof path, opts, p)) != SEAL_OK)
      goto done;
    rc = kube_request_sync_raw(client, "POST", path, body, body_len, "application/json", http_code,
                               reply, reply_len, &ks);
    if (rc != KUBE_OK && rc != KUBE_ERR_HTTP) {
      char what[64];
      snprintf(what, sizeof what, "controller %s through the service proxy", p);
      st = kube_fail(what, &ks, rc);
      goto done;
    }
    if (rc == KUBE_ERR_HTTP && *reply_len == 0 && ks.message[0]) {
      /* the reasons of a refusal come back in the status message */
      free(*reply);
      *reply = strdup(ks.message);
      if (*reply == NULL) {
        st = seal_report(SEAL_ERR_ENV, "out of memory");
        goto done;
      }
      *reply_len = strlen(*reply);
    }
    st = SEAL_OK;
  done:
    kube_client_free(client);
    return st;
  }
}

int seal_cluster_verify(char **reply, size_t *reply_len, long *http_code,
                        const seal_cluster_opts *opts, const char *body, size_t body_len)
{
  return controller_post(reply, reply_len, http_code, opts, "/v1/verify", VERIFY_MAX_REPLY, body,
                         body_len);
}

int seal_cluster_rotate(char **reply, size_t *reply_len, long *http_code,
                        const seal_cluster_opts *opts, const char *body, size_t body_len)
{
  return controller_post(reply, reply_len, http_code, opts, "/v1/rotate", DOC_MAX_BYTES, body,
                         body_len);
}
