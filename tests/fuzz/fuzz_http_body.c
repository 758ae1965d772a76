/*
 * The controller's HTTP bodies: POST /v1/verify and /v1/rotate, through the
 * controller's own HTTP server (ctl_http_start, libmicrohttpd) on a loopback
 * port, with the test vectors' keys as its keyring. The first input byte
 * picks the endpoint (bit 0: rotate) and the answer's format (bit 1: Accept
 * text/plain); the rest is the body.
 *
 * Checked: the answer is one the endpoint documents (200, 409, 413 over
 * 4 MiB, 422), never a 5xx; verify answers 200 exactly when the body is one
 * SealedSecret with values that all open (manifest_unseal_sealed agrees);
 * rotate answers 200 for every SealedSecret that verifies, and what it
 * answers reads back and verifies.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "harness.h"
#include "harness_manifest.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"

#include "banned.h"

#define ANSWER_MAX (16 * 1024 * 1024)

static ctl controller;
static ctl_options options;
static char listen_api[32], listen_metrics[32];
static uint16_t api_port;

/* A loopback port free at this moment (the kernel's choice). */
static uint16_t free_port(void)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    harness_fail("cannot find a free loopback port", strerror(errno));
  close(fd);
  return ntohs(sa.sin_port);
}

static void stop_server(void)
{
  ctl_http_stop(controller.http);
  controller.http = NULL;
  ctl_options_free(&options);
}

static void start_server(void)
{
  size_t len = 0;
  const keys_keypair *newest;

  if (controller.http != NULL)
    return;
  harness_manifest_init();
  ctl_log_setup(0, CTL_LOG_ERROR + 1); /* quiet: the fuzzer's output is enough */
  if (ctl_metrics_init() != 0)
    harness_fail("ctl_metrics_init failed", NULL);
  api_port = free_port();
  snprintf(listen_api, sizeof(listen_api), "127.0.0.1:%u", (unsigned)api_port);
  snprintf(listen_metrics, sizeof(listen_metrics), "127.0.0.1:%u", (unsigned)free_port());
  /* The daemon's own defaults (so a new option cannot be left at zero here),
   * with the rate limits lifted: they are not under test. */
  char *argv[] = {"fuzz_http_body",
                  "--listen",
                  listen_api,
                  "--metrics-listen",
                  listen_metrics,
                  "--http-rate",
                  "1000000",
                  "--http-burst",
                  "1000000",
                  "--http-rate-total",
                  "1000000",
                  "--http-max-connections",
                  "16",
                  "--http-timeout",
                  "10s",
                  "--ping-threshold",
                  "60s",
                  NULL};
  char err[256];
  if (ctl_options_parse(&options, (int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, err,
                        sizeof(err)) != 0)
    harness_fail("the controller's options", err);
  controller.opts = &options;
  if (pthread_rwlock_init(&controller.keys.lock, NULL) != 0)
    harness_fail("pthread_rwlock_init failed", NULL);
  controller.keys.ring = harness_keyring_new();
  newest = keys_keyring_newest_active(controller.keys.ring);
  if (newest == NULL || keys_armor_write_public(controller.keys.cert, sizeof(controller.keys.cert),
                                                &len, keys_keypair_public(newest), 0) != KEYS_OK)
    harness_fail("cannot set up the controller's keys", NULL);
  memcpy(controller.keys.newest_id, keys_keypair_public(newest)->id, KEYS_ID_BYTES);
  controller.keys.have_newest = 1;
  atomic_store(&controller.ready, 1);
  if (ctl_http_start(&controller.http, &controller) != 0)
    harness_fail("ctl_http_start failed", listen_api);
  atexit(stop_server);
}

/* more: MSG_MORE, so that the head and the body leave in one segment (no
 * Nagle delay between them). */
static void send_all(int fd, const void *p, size_t n, int more)
{
  const char *c = p;

  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* the server may answer (413) and close before the body is sent */
    c += w;
    n -= (size_t)w;
  }
}

/* connect() on a blocking socket. libFuzzer's timer signal (-timeout) can
 * interrupt it: the connection then goes on in the background, so it is
 * waited for, not started again (that would say EALREADY). */
static void connect_loopback(int fd, const struct sockaddr_in *sa)
{
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  socklen_t len = sizeof(int);
  int err = 0;

  if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
    return;
  if (errno != EINTR)
    harness_fail("cannot connect to the controller", strerror(errno));
  while (poll(&pfd, 1, 30000) < 0)
    if (errno != EINTR)
      harness_fail("cannot wait for the connection", strerror(errno));
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    harness_fail("cannot connect to the controller", strerror(err ? err : errno));
}

/* Sends one request and reads the whole answer into *answer (NUL-terminated,
 * malloc'ed). Returns the HTTP code, or fails. */
static int exchange(const char *path, int text, const uint8_t *body, size_t len, char **answer,
                    size_t *answer_len)
{
  struct sockaddr_in sa;
  struct timeval tv = {30, 0};
  char head[512];
  char *buf = NULL;
  size_t got = 0;
  int fd, code = 0, n;

  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    harness_fail("socket failed", strerror(errno));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(api_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  connect_loopback(fd, &sa);
  n = snprintf(head, sizeof(head),
               "POST %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nAccept: %s\r\n"
               "Content-Type: application/yaml\r\nContent-Length: %zu\r\n\r\n",
               path, text ? "text/plain" : "application/json", len);
  send_all(fd, head, (size_t)n, len > 0);
  send_all(fd, body, len, 0);
  buf = malloc(ANSWER_MAX + 1);
  if (buf == NULL)
    harness_fail("out of memory for the answer", NULL);
  for (;;) {
    ssize_t r = recv(fd, buf + got, ANSWER_MAX - got, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      harness_fail("the controller did not answer", strerror(errno));
    if (r == 0)
      break;
    got += (size_t)r;
    if (got == ANSWER_MAX)
      harness_fail("the controller's answer is larger than 16 MiB", path);
  }
  close(fd);
  buf[got] = '\0';
  if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
    harness_fail("the controller's answer has no status line", path);
  *answer = buf;
  *answer_len = got;
  return code;
}

/* 1 when the body is one SealedSecret whose values all open (and, with
 * need_values, that has some: verify refuses one with none). */
static int body_verifies(const uint8_t *body, size_t len, int need_values)
{
  doc_list docs = {0};
  manifest_error err;
  int ok = 0;

  memset(&err, 0, sizeof(err));
  /* the limits the controller parses bodies with */
  if (doc_parse(&docs, (const char *)body, len, "body", DOC_PARSE_BODY_LIMITS, &err) ==
          MANIFEST_OK &&
      docs.n == 1 && manifest_is_sealed_secret(docs.docs[0]) &&
      (!need_values ||
       json_object_size(doc_get(docs.docs[0], "spec", "encryptedData", NULL)) > 0) &&
      manifest_unseal_sealed(NULL, docs.docs[0], harness_keyring(), 0, NULL, &err) == MANIFEST_OK)
    ok = 1;
  doc_list_free(&docs);
  return ok;
}

static void check_rotated(const char *answer, size_t answer_len)
{
  const char *body = strstr(answer, "\r\n\r\n");
  size_t len;

  if (body == NULL)
    harness_fail("/v1/rotate", "an answer without a body");
  body += 4;
  len = answer_len - (size_t)(body - answer);
  if (!body_verifies((const uint8_t *)body, len, 0)) {
    fprintf(stderr, "fuzz: rotated:\n%.2000s\n", body);
    harness_fail("/v1/rotate", "the rotated SealedSecret does not read back or verify");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *answer = NULL;
  size_t answer_len = 0;
  const uint8_t *body;
  size_t len;
  int rotate, code, expect_ok;

  if (size < 1 || size > HARNESS_MAX_INPUT)
    return 0;
  start_server();
  rotate = data[0] & 1;
  body = data + 1;
  len = size - 1;
  code = exchange(rotate ? "/v1/rotate" : "/v1/verify", (data[0] & 2) != 0, body, len, &answer,
                  &answer_len);
  if (len > DOC_MAX_BYTES) {
    if (code != 413)
      harness_fail("a body over 4 MiB was not refused with 413", answer);
    goto out;
  }
  if (code != 200 && code != 409 && code != 422) {
    fprintf(stderr, "fuzz: HTTP %d:\n%.2000s\n", code, answer);
    harness_fail("an answer the endpoint does not document", rotate ? "/v1/rotate" : "/v1/verify");
  }
  expect_ok = body_verifies(body, len, !rotate);
  if (!rotate && (code == 200) != expect_ok) {
    fprintf(stderr, "fuzz: HTTP %d:\n%.2000s\n", code, answer);
    harness_fail("/v1/verify", "disagrees with manifest_unseal_sealed");
  }
  /* Values already sealed for the newest key are left byte for byte, unopened:
   * only a SealedSecret that verifies must come back verifying. */
  if (rotate && expect_ok && code == 200)
    check_rotated(answer, answer_len);
  if (rotate && expect_ok && code != 200) {
    fprintf(stderr, "fuzz: HTTP %d:\n%.2000s\n", code, answer);
    harness_fail("/v1/rotate", "refused a SealedSecret that verifies");
  }
out:
  free(answer);
  return 0;
}
