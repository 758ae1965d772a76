#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "ctl.h"
#include "log.h"
#include "seal-version.h"

#include "banned.h"

/* Exit status: 0 stopped cleanly, 1 failed while running, 2 usage or environment. */
int main(int argc, char **argv)
{
  ctl_options opts;
  char err[512] = "";
  struct rlimit no_core = {0, 0};
  int rc;

  /* private keys live in this process: no core dumps, no ptrace by others */
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  (void)setrlimit(RLIMIT_CORE, &no_core);

  if (manifest_init() != 0) {
    fprintf(stderr, "unseal-controller: cannot initialise libsodium\n");
    return 2;
  }
  if (ctl_options_parse(&opts, argc, argv, err, sizeof(err)) != 0) {
    fprintf(stderr, "unseal-controller: %s\n(see unseal-controller --help)\n", err);
    ctl_options_free(&opts);
    return 2;
  }
  if (opts.help) {
    ctl_options_usage(stdout);
    ctl_options_free(&opts);
    return fflush(stdout) == 0 ? 0 : 2;
  }
  if (opts.version) {
    printf("unseal-controller %s\n", SEAL_VERSION);
    ctl_options_free(&opts);
    return fflush(stdout) == 0 ? 0 : 2;
  }
  ctl_log_setup(opts.log_json, opts.log_level);
  rc = ctl_run(&opts);
  ctl_options_free(&opts);
  return rc;
}
