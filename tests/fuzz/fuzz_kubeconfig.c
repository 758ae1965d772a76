/*
 * kubeconfig files (kube_config_load): what `seal` and the controller read
 * out of cluster. The input is written to "config" in a private temporary
 * folder, beside a file "token" (so relative paths in it name that or
 * nothing), and loaded with its current context and with a context named
 * "fuzz". What loads must have a server and a namespace.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_manifest.h"
#include "kube.h"

#include "banned.h"

static char dir[64];
static char path[96];
static char token_path[96];

static void remove_dir(void)
{
  unlink(path);
  unlink(token_path);
  rmdir(dir);
}

static void write_file(const char *name, const uint8_t *data, size_t size)
{
  size_t done = 0;
  int fd;

  fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    harness_fail("cannot write a temporary file", strerror(errno));
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      harness_fail("cannot write a temporary file", strerror(errno));
    done += (size_t)w;
  }
  close(fd);
}

static void setup(void)
{
  int n;

  if (dir[0] != '\0')
    return;
  harness_manifest_init();
  n = snprintf(dir, sizeof(dir), "%s", "/tmp/seal-fuzz-kubeconfig.XXXXXX");
  if (n < 0 || (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL)
    harness_fail("cannot make a temporary folder", strerror(errno));
  n = snprintf(path, sizeof(path), "%s/config", dir);
  if (n < 0 || (size_t)n >= sizeof(path))
    harness_fail("temporary path too long", NULL);
  n = snprintf(token_path, sizeof(token_path), "%s/token", dir);
  if (n < 0 || (size_t)n >= sizeof(token_path))
    harness_fail("temporary path too long", NULL);
  atexit(remove_dir);
  write_file(token_path, (const uint8_t *)"fuzz-token\n", 11);
}

static void load(const char *context)
{
  kube_config_opts opts;
  kube_config *cfg = NULL;
  kube_status st;
  int rc;

  memset(&opts, 0, sizeof(opts));
  memset(&st, 0, sizeof(st));
  opts.source = KUBE_CONFIG_FILES;
  opts.kubeconfig = path;
  opts.context = context;
  rc = kube_config_load(&cfg, &opts, &st);
  if (rc != KUBE_OK) {
    if (rc > 0 || rc < KUBE_ERR_CANCELLED || rc == KUBE_ERR_NOMEM)
      harness_fail("kube_config_load: status outside kube_result", st.message);
    if (st.message[0] == '\0' || memchr(st.message, '\0', sizeof(st.message)) == NULL)
      harness_fail("kube_config_load", "failed without a message");
    if (cfg != NULL)
      harness_fail("kube_config_load", "failed but returned a configuration");
    return;
  }
  if (cfg == NULL || kube_config_server(cfg) == NULL || kube_config_namespace(cfg) == NULL)
    harness_fail("kube_config_load", "succeeded without a server or a namespace");
  if (kube_config_in_cluster(cfg))
    harness_fail("kube_config_load", "a kubeconfig read as in-cluster");
  kube_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > HARNESS_MAX_INPUT)
    return 0;
  setup();
  write_file(path, data, size);
  load(NULL);
  load("fuzz");
  return 0;
}
