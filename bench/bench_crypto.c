/*
 * bench_crypto: the cost of seal's value format on this machine.
 *
 * Measures keys_seal and keys_unseal (one recipient, strict scope) for values
 * of 32 B, 1 KiB and 64 KiB, and the two primitives that bound them: one
 * X25519 scalar multiplication (crypto_scalarmult; unsealing does one,
 * sealing two with crypto_scalarmult_base) and XChaCha20-Poly1305 per byte.
 *
 * Each figure is the median of ROUNDS rounds; a round repeats the operation
 * until it has run for --seconds / ROUNDS. Time is the process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID: user and system, so the system calls of
 * sodium_malloc count), as `openssl speed` counts CPU time too: figures stay
 * comparable on a machine shared with other work. Also measured, to show
 * where keys_seal/keys_unseal spend beyond the primitives: one
 * sodium_malloc+sodium_free, and canonical base64 (sodium_bin2base64,
 * sodium_base642bin) of a 64 KiB value's sealed blob. Output: one JSON object on stdout
 * (bench/bench.py reads it), or a table with --table. Nothing is asserted:
 * this is measurement.
 */

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keys.h"

#include "banned.h"

#define ROUNDS 5
#define MAX_MEASURES 32

typedef struct measure {
  const char *name;
  double per_op_ns; /* median over the rounds */
  double ops_per_s;
  double bytes; /* bytes per op (0: not a throughput figure) */
} measure;

typedef struct bench {
  double seconds;
  measure m[MAX_MEASURES];
  size_t n;
} bench;

typedef int (*op_fn)(void *ctx);

static double now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Runs op in rounds; returns 0 or the op's failure. */
static int run(bench *b, const char *name, double bytes, op_fn op, void *ctx)
{
  double per_round_ns = b->seconds * 1e9 / ROUNDS;
  double per_op[ROUNDS];
  int rc;

  if (b->n >= MAX_MEASURES)
    return -1;
  /* warm up: caches, page faults, lazy allocations */
  for (int i = 0; i < 3; i++)
    if ((rc = op(ctx)) != 0)
      return rc;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = now_ns(), t;
    unsigned long iters = 0, batch = 1;
    do {
      for (unsigned long i = 0; i < batch; i++)
        if ((rc = op(ctx)) != 0)
          return rc;
      iters += batch;
      if (batch < 1024)
        batch *= 2;
      t = now_ns();
    } while (t - t0 < per_round_ns);
    per_op[r] = (t - t0) / (double)iters;
  }
  qsort(per_op, ROUNDS, sizeof(per_op[0]), cmp_double);
  b->m[b->n].name = name;
  b->m[b->n].per_op_ns = per_op[ROUNDS / 2];
  b->m[b->n].ops_per_s = 1e9 / per_op[ROUNDS / 2];
  b->m[b->n].bytes = bytes;
  b->n++;
  return 0;
}

/* ---- the operations ------------------------------------------------------ */

typedef struct value_ctx {
  const keys_public *pub;
  const keys_keyring *ring;
  const char *label;
  uint8_t *plain;
  size_t plain_len;
  char *sealed; /* one sealed value of plain, for unseal */
  size_t sealed_len;
} value_ctx;

static int op_seal(void *p)
{
  value_ctx *v = p;
  char *out = NULL;
  int rc = keys_seal(&out, v->pub, 1, v->label, v->plain, v->plain_len, NULL);
  free(out);
  return rc;
}

static int op_unseal(void *p)
{
  value_ctx *v = p;
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = keys_unseal(&out, &out_len, v->ring, v->label, v->sealed, v->sealed_len, NULL, NULL);
  if (rc == 0 && out_len != v->plain_len)
    rc = -1;
  doc_wipe_free(out, out_len);
  return rc;
}

typedef struct x25519_ctx {
  uint8_t sk[crypto_scalarmult_SCALARBYTES];
  uint8_t pk[crypto_scalarmult_BYTES];
  uint8_t out[crypto_scalarmult_BYTES];
} x25519_ctx;

static int op_scalarmult(void *p)
{
  x25519_ctx *x = p;
  if (crypto_scalarmult(x->out, x->sk, x->pk) != 0)
    return -1;
  x->sk[0] ^= x->out[0]; /* keeps the compiler from hoisting the call */
  return 0;
}

static int op_scalarmult_base(void *p)
{
  x25519_ctx *x = p;
  if (crypto_scalarmult_base(x->out, x->sk) != 0)
    return -1;
  x->sk[0] ^= x->out[0];
  return 0;
}

typedef struct aead_ctx {
  uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  uint8_t *m;
  size_t m_len;
  uint8_t *c; /* m_len + ABYTES */
} aead_ctx;

static int op_aead(void *p)
{
  aead_ctx *a = p;
  unsigned long long c_len = 0;
  a->nonce[0]++;
  return crypto_aead_xchacha20poly1305_ietf_encrypt(a->c, &c_len, a->m, a->m_len, NULL, 0, NULL,
                                                    a->nonce, a->key);
}

typedef struct mem_ctx {
  size_t size;
} mem_ctx;

static int op_sodium_malloc(void *p)
{
  mem_ctx *mc = p;
  void *q = sodium_malloc(mc->size);
  if (q == NULL)
    return -1;
  sodium_free(q);
  return 0;
}

typedef struct b64_ctx {
  uint8_t *bin;
  size_t bin_len;
  char *text; /* sodium_base64_ENCODED_LEN(bin_len) */
  size_t text_size;
  size_t text_len;
} b64_ctx;

static int op_b64_encode(void *p)
{
  b64_ctx *b = p;
  return sodium_bin2base64(b->text, b->text_size, b->bin, b->bin_len,
                           sodium_base64_VARIANT_ORIGINAL) == NULL
             ? -1
             : 0;
}

static int op_b64_decode(void *p)
{
  b64_ctx *b = p;
  size_t len = 0;
  if (sodium_base642bin(b->bin, b->bin_len, b->text, b->text_len, NULL, &len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != b->bin_len)
    return -1;
  return 0;
}

/* ---- output -------------------------------------------------------------- */

static void print_json(const bench *b)
{
  printf("{\n  \"sodium_version\": \"%s\",\n  \"seconds\": %.3f,\n  \"measures\": [\n",
         sodium_version_string(), b->seconds);
  for (size_t i = 0; i < b->n; i++)
    printf("    {\"name\": \"%s\", \"ns_per_op\": %.1f, \"ops_per_s\": %.1f, \"bytes\": %.0f}%s\n",
           b->m[i].name, b->m[i].per_op_ns, b->m[i].ops_per_s, b->m[i].bytes,
           i + 1 < b->n ? "," : "");
  printf("  ]\n}\n");
}

static void print_table(const bench *b)
{
  printf("%-34s %14s %14s %12s\n", "operation", "ops/s", "us/op", "MiB/s");
  for (size_t i = 0; i < b->n; i++) {
    const measure *m = &b->m[i];
    if (m->bytes > 0)
      printf("%-34s %14.0f %14.3f %12.1f\n", m->name, m->ops_per_s, m->per_op_ns / 1e3,
             m->bytes * m->ops_per_s / (1024.0 * 1024.0));
    else
      printf("%-34s %14.0f %14.3f %12s\n", m->name, m->ops_per_s, m->per_op_ns / 1e3, "-");
  }
}

static void usage(FILE *f)
{
  fprintf(f, "usage: bench_crypto [--seconds S] [--table]\n\n"
             "Measures seal's value format (keys_seal, keys_unseal) and its primitives.\n"
             "  --seconds S   time spent on each figure (default 2)\n"
             "  --table       a table instead of JSON\n");
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"seconds", required_argument, NULL, 's'},
      {"table", no_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  static const size_t sizes[] = {32, 1024, 64 * 1024};
  static const char *const seal_names[] = {"seal 32 B", "seal 1 KiB", "seal 64 KiB"};
  static const char *const unseal_names[] = {"unseal 32 B", "unseal 1 KiB", "unseal 64 KiB"};
  static const size_t aead_sizes[] = {64, 1024, 64 * 1024, 1024 * 1024};
  static const char *const aead_names[] = {"xchacha20poly1305 64 B", "xchacha20poly1305 1 KiB",
                                           "xchacha20poly1305 64 KiB", "xchacha20poly1305 1 MiB"};
  bench b = {.seconds = 2.0};
  int table = 0, opt, rc, status = 1;
  keys_keypair *kp = NULL;
  keys_keyring *ring = NULL;
  keys_public pub;
  char label[KEYS_LABEL_MAX];
  value_ctx v = {0};
  aead_ctx a = {0};
  b64_ctx bb = {0};
  x25519_ctx x;
  keys_error err = {0};

  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 's': {
      char *end = NULL;
      errno = 0;
      b.seconds = strtod(optarg, &end);
      if (errno != 0 || end == optarg || *end != '\0' || !(b.seconds > 0) || b.seconds > 600) {
        fprintf(stderr, "bench_crypto: --seconds: not a number of seconds in (0, 600]: '%s'\n",
                optarg);
        return 2;
      }
      break;
    }
    case 't':
      table = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }

  if (keys_init() != 0) {
    fprintf(stderr, "bench_crypto: libsodium could not be initialised\n");
    return 1;
  }
  if ((rc = keys_keypair_generate(&kp, (int64_t)time(NULL))) != 0 ||
      (rc = keys_keyring_new(&ring)) != 0) {
    fprintf(stderr, "bench_crypto: key pair: %s\n", keys_strerror(rc));
    goto out;
  }
  pub = *keys_keypair_public(kp);
  if ((rc = keys_keyring_add(ring, &kp, &err)) != 0 ||
      (rc = keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "bench", "bench-secret", "value",
                       &err)) != 0) {
    fprintf(stderr, "bench_crypto: %s\n", err.message);
    goto out;
  }
  v.pub = &pub;
  v.ring = ring;
  v.label = label;

  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    v.plain_len = sizes[i];
    v.plain = malloc(v.plain_len);
    if (v.plain == NULL) {
      fprintf(stderr, "bench_crypto: out of memory for a %zu-byte value\n", sizes[i]);
      goto out;
    }
    randombytes_buf(v.plain, v.plain_len);
    if ((rc = keys_seal(&v.sealed, &pub, 1, label, v.plain, v.plain_len, &err)) != 0) {
      fprintf(stderr, "bench_crypto: seal of a %zu-byte value: %s\n", sizes[i], err.message);
      goto out;
    }
    v.sealed_len = strlen(v.sealed);
    if ((rc = run(&b, seal_names[i], (double)sizes[i], op_seal, &v)) != 0 ||
        (rc = run(&b, unseal_names[i], (double)sizes[i], op_unseal, &v)) != 0) {
      fprintf(stderr, "bench_crypto: %zu-byte value: %s\n", sizes[i], keys_strerror(rc));
      goto out;
    }
    sodium_memzero(v.plain, v.plain_len);
    free(v.plain);
    v.plain = NULL;
    free(v.sealed);
    v.sealed = NULL;
  }

  randombytes_buf(x.sk, sizeof(x.sk));
  crypto_scalarmult_base(x.pk, x.sk);
  randombytes_buf(x.sk, sizeof(x.sk));
  if (run(&b, "x25519 scalarmult", 0, op_scalarmult, &x) != 0 ||
      run(&b, "x25519 scalarmult_base", 0, op_scalarmult_base, &x) != 0) {
    fprintf(stderr, "bench_crypto: crypto_scalarmult failed\n");
    goto out;
  }

  {
    mem_ctx mc = {.size = 3 * 32 + 64};
    if (run(&b, "sodium_malloc+sodium_free", 0, op_sodium_malloc, &mc) != 0) {
      fprintf(stderr, "bench_crypto: sodium_malloc failed\n");
      goto out;
    }
  }
  /* the blob of a 64 KiB value for one recipient, as base64 text */
  bb.bin_len = KEYS_OVERHEAD_BYTES(1) + 64 * 1024;
  bb.text_size = sodium_base64_ENCODED_LEN(bb.bin_len, sodium_base64_VARIANT_ORIGINAL);
  bb.bin = malloc(bb.bin_len);
  bb.text = malloc(bb.text_size);
  if (bb.bin == NULL || bb.text == NULL) {
    fprintf(stderr, "bench_crypto: out of memory for base64 buffers\n");
    goto out;
  }
  randombytes_buf(bb.bin, bb.bin_len);
  sodium_bin2base64(bb.text, bb.text_size, bb.bin, bb.bin_len, sodium_base64_VARIANT_ORIGINAL);
  bb.text_len = strlen(bb.text);
  if (run(&b, "base64 encode 64 KiB blob", (double)bb.bin_len, op_b64_encode, &bb) != 0 ||
      run(&b, "base64 decode 64 KiB blob", (double)bb.bin_len, op_b64_decode, &bb) != 0) {
    fprintf(stderr, "bench_crypto: sodium base64 failed\n");
    goto out;
  }

  randombytes_buf(a.key, sizeof(a.key));
  for (size_t i = 0; i < sizeof(aead_sizes) / sizeof(aead_sizes[0]); i++) {
    a.m_len = aead_sizes[i];
    a.m = calloc(1, a.m_len);
    a.c = malloc(a.m_len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    if (a.m == NULL || a.c == NULL) {
      fprintf(stderr, "bench_crypto: out of memory for a %zu-byte buffer\n", a.m_len);
      goto out;
    }
    if (run(&b, aead_names[i], (double)a.m_len, op_aead, &a) != 0) {
      fprintf(stderr, "bench_crypto: crypto_aead_xchacha20poly1305_ietf_encrypt failed\n");
      goto out;
    }
    free(a.m);
    free(a.c);
    a.m = NULL;
    a.c = NULL;
  }

  if (table)
    print_table(&b);
  else
    print_json(&b);
  status = 0;
out:
  if (v.plain != NULL)
    sodium_memzero(v.plain, v.plain_len);
  free(v.plain);
  free(v.sealed);
  free(a.m);
  free(a.c);
  free(bb.bin);
  free(bb.text);
  keys_keypair_free(kp);
  keys_keyring_free(ring);
  return status;
}
