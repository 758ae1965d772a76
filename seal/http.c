/*
 * HTTP for URLs given on the command line: --cert and $SEAL_CERT as http(s)://
 * (a published public key to seal for) and --controller-url (seal cert, verify
 * and reseal talking to the controller directly, through a port-forward or an
 * ingress). One blocking transfer on curl's easy interface.
 *
 * Why this is not the kube client (kube/, libcurl multi): those URLs are not a
 * Kubernetes API server, and the kube client is made for one:
 *  - It serves one server: a kube_config (a kubeconfig, the in-cluster
 *    service account, or kubectl's --server overrides) gives its base URL, CA
 *    and credentials, and each request is a path under it. A --cert URL is a
 *    whole URL on any web server, fetched where there may be no kubeconfig at
 *    all (a CI job sealing for a key its repository publishes).
 *  - It sends the kubeconfig's credentials with every request. A --cert URL is
 *    any web server; it must never see the cluster's token.
 *  - It does not follow redirects (an API server does not redirect, and a
 *    redirect would carry the token elsewhere). A published key is often a
 *    release download that redirects; this follows up to 5, to https only.
 *  - Its failures are the API's: 429, 5xx and connection errors retried with
 *    backoff, a non-2xx answer read as a Kubernetes Status. Here an answer
 *    other than 200 is reported once, with its URL and HTTP status.
 * Lazy loading is not the reason: in the seal executable both go through
 * curl_loader.c, so commands that need no network load libcurl for neither.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common.h"
#include "curl_loader.h"

#include "banned.h"

typedef struct http_buf {
  doc_buf text; /* bounded, wiped: an answer may be a Secret */
  int too_big;
} http_buf;

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  http_buf *b = userdata;
  size_t n = size * nmemb;
  int rc = doc_buf_add(&b->text, ptr, n);

  if (rc == DOC_ERR_LIMIT)
    b->too_big = 1;
  return rc == DOC_OK ? n : 0;
}

/* Plain HTTP is allowed (a controller reached through a port-forward, a
 * local test) but never silently: once per origin (scheme, host and port), a
 * warning says that nothing authenticates what comes back. */
static void warn_plain_http(const char *url, int posting)
{
  static char warned[8][256];
  static size_t n_warned;
  const char *host = url + 7, *end = host + strcspn(host, "/?#");
  size_t len = (size_t)(end - url), i;

  if (strncasecmp(url, "http://", 7) != 0)
    return;
  for (i = 0; i < n_warned; i++)
    if (strlen(warned[i]) == len && strncasecmp(warned[i], url, len) == 0)
      return;
  if (n_warned < sizeof warned / sizeof warned[0] && len < sizeof warned[0])
    snprintf(warned[n_warned++], sizeof warned[0], "%.*s", (int)len, url);
  seal_warn("%.*s: plain HTTP: nothing authenticates the answer, anyone on the network path "
            "can change it (use https%s)",
            (int)len, url, posting ? "" : ", or pin the key with --key-id");
}

int seal_http_fetch(char **out, size_t *out_len, size_t max, long *http_code, long timeout_ms,
                    const char *url, const char *body, size_t body_len, const char *content_type)
{
  CURL *curl = NULL;
  struct curl_slist *headers = NULL;
  http_buf b = {0};
  char errbuf[CURL_ERROR_SIZE] = "";
  const char *why;
  CURLcode cc;
  int st = SEAL_OK;

  *out = NULL;
  *out_len = 0;
  *http_code = 0;
  b.text.max = max;
  if ((why = seal_curl_load_error()) != NULL) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", url, why);
    goto out;
  }
  curl = curl_easy_init();
  if (curl == NULL) {
    st = seal_report(SEAL_ERR_ENV, "%s: cannot initialise libcurl", url);
    goto out;
  }
  warn_plain_http(url, body != NULL);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms); /* 0: never */
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "seal");
  if (body) {
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    headers = curl_slist_append(headers, ct);
    if (headers == NULL) {
      st = seal_report(SEAL_ERR_ENV, "%s: out of memory", url);
      goto out;
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  cc = curl_easy_perform(curl);
  if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
    st = seal_report(SEAL_ERR_INPUT, "%s: answer larger than %zu bytes", url, max);
    goto out;
  }
  if (cc != CURLE_OK) {
    st = seal_report(SEAL_ERR_ENV, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    goto out;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, http_code);
  *out = doc_buf_detach(&b.text, out_len);
  if (*out == NULL)
    st = seal_report(SEAL_ERR_ENV, "%s: out of memory", url);
out:
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  doc_buf_free(&b.text);
  return st;
}
