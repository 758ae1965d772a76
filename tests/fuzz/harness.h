#ifndef SEAL_FUZZ_HARNESS_H
#define SEAL_FUZZ_HARNESS_H

/*
 * Shared pieces of the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with libFuzzer
 * (-Dfuzz=true and clang) that is the fuzzer's entry point; otherwise
 * replay.c supplies a main that runs every file of the corpus folders given
 * on the command line through it, so `meson test --suite fuzz` replays the
 * corpus on every run.
 *
 * A target returns 0 for every input. A broken property (something the
 * library promised and did not do) is reported with harness_fail, which
 * aborts: to libFuzzer and to the replay that is a crash, like a sanitizer
 * report.
 */

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* Inputs larger than this are skipped by every target: the parsers' own
 * limits are 4 MiB, and fuzzing far beyond them only slows the fuzzer. */
#define HARNESS_MAX_INPUT (5 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz: <what>" (and the library's message when not NULL) to
 * standard error and aborts. */
_Noreturn void harness_fail(const char *what, const char *message);

/* The keyring of the three private keys of tests/vectors/seal-v1.json,
 * built on first use and kept for the life of the process. */
const keys_keyring *harness_keyring(void);

/* A new keyring of the same keys (created 1, 2 and 3 seconds after the
 * epoch, so the third is the newest), for a caller that needs its own. */
keys_keyring *harness_keyring_new(void);

/* The public keys of that keyring, in the vectors' order (*n is 3). */
const keys_public *harness_recipients(size_t *n);

/* The public key values are re-sealed for: the vectors' third key. */
const keys_public *harness_reseal_key(void);

/* The labels of the vectors' valid values; index i is taken modulo the count. */
const char *harness_label(size_t i);

/* Checks a keys_ failure: a status of keys_status and a message. */
void harness_check_keys_failure(int rc, const keys_error *err, const char *what);

/* Opens sealed (sealed_len bytes, no NUL needed) under label with the fixed
 * keyring and checks what keys.h promises around it: the key ids read without
 * opening, re-sealing for harness_reseal_key() and opening the result to the
 * same plaintext, and that a value that does not open cannot be re-sealed. */
void harness_check_unseal(const char *label, const char *sealed, size_t sealed_len);

#endif
