/* Armored key blocks: "-----BEGIN SEAL PUBLIC KEY-----" and the private kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

#define ARMOR_KEY_CHARS 44
/* How many blocks one text may hold. */
#define ARMOR_BLOCKS_MAX 1024

enum block_kind { BLOCK_NONE = 0, BLOCK_PUBLIC, BLOCK_PRIVATE };

static const char *const begin_lines[] = {NULL, "-----BEGIN SEAL PUBLIC KEY-----",
                                          "-----BEGIN SEAL PRIVATE KEY-----"};
static const char *const end_lines[] = {NULL, "-----END SEAL PUBLIC KEY-----",
                                        "-----END SEAL PRIVATE KEY-----"};
static const char *const kind_names[] = {"", "SEAL PUBLIC KEY", "SEAL PRIVATE KEY"};

/* One block as read; key points into sodium_malloc'ed memory. */
struct block {
  enum block_kind kind;
  size_t line; /* of the BEGIN line, from 1 */
  uint8_t *key;
  int has_key;
  int has_created;
  int64_t created;
  int has_state;
  keys_state state;
};

typedef int (*block_fn)(void *ctx, const struct block *b, keys_error *err);

static int line_is(const char *line, size_t len, const char *want)
{
  return want != NULL && len == strlen(want) && memcmp(line, want, len) == 0;
}

static enum block_kind kind_of(const char *line, size_t len, const char *const *table)
{
  if (line_is(line, len, table[BLOCK_PUBLIC]))
    return BLOCK_PUBLIC;
  if (line_is(line, len, table[BLOCK_PRIVATE]))
    return BLOCK_PRIVATE;
  return BLOCK_NONE;
}

/* A BEGIN or END line of ours that is not exact: trailing blanks, another
 * kind, or an END outside a block. */
static int blank(const char *line, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return 0;
  return 1;
}

static int looks_like_armor(const char *line, size_t len)
{
  static const char *const prefixes[] = {"-----BEGIN SEAL ", "-----END SEAL "};

  for (size_t i = 0; i < 2; i++) {
    size_t n = strlen(prefixes[i]);

    if (len >= n && memcmp(line, prefixes[i], n) == 0)
      return 1;
  }
  return 0;
}

/* "Name: value" with Name of [A-Za-z0-9-]+; *name_len and value are set. */
static int split_header(const char *line, size_t len, size_t *name_len, const char **value,
                        size_t *value_len)
{
  size_t i = 0;

  while (i < len && ((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
                     (line[i] >= '0' && line[i] <= '9') || line[i] == '-'))
    i++;
  if (i == 0 || i + 1 >= len || line[i] != ':' || line[i + 1] != ' ')
    return -1;
  *name_len = i;
  *value = line + i + 2;
  *value_len = len - i - 2;
  return 0;
}

static int header_is(const char *line, size_t name_len, const char *name)
{
  return name_len == strlen(name) && strncasecmp(line, name, name_len) == 0;
}

static int read_header(struct block *b, const char *line, size_t len, size_t lineno,
                       keys_error *err)
{
  size_t name_len, value_len;
  const char *value;
  char text[64];

  if (split_header(line, len, &name_len, &value, &value_len) != 0)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: not a header (\"Name: value\") nor a key line inside a %s "
                       "block",
                       lineno, kind_names[b->kind]);
  if (b->has_key)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: header \"%.*s\" after the key line of a %s block", lineno,
                       (int)name_len, line, kind_names[b->kind]);
  if (!header_is(line, name_len, "Created") && !header_is(line, name_len, "State"))
    return KEYS_OK; /* Key-Id is informative; other headers are ignored */
  if (value_len >= sizeof(text))
    return keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: header \"%.*s\" is too long", lineno,
                       (int)name_len, line);
  memcpy(text, value, value_len);
  text[value_len] = '\0';
  if (header_is(line, name_len, "Created")) {
    if (b->has_created)
      return keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: a second Created header", lineno);
    if (keys_time_parse(&b->created, text) != KEYS_OK || b->created < 0)
      return keys_i_fail(err, KEYS_ERR_MALFORMED,
                         "line %zu: Created \"%s\" is not an RFC 3339 time after 1970", lineno,
                         text);
    b->has_created = 1;
  } else {
    if (b->has_state)
      return keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: a second State header", lineno);
    if (strcmp(text, "active") == 0)
      b->state = KEYS_STATE_ACTIVE;
    else if (strcmp(text, "compromised") == 0)
      b->state = KEYS_STATE_COMPROMISED;
    else
      return keys_i_fail(err, KEYS_ERR_MALFORMED,
                         "line %zu: State \"%s\" is neither active nor compromised", lineno, text);
    b->has_state = 1;
  }
  return KEYS_OK;
}

static int read_key_line(struct block *b, const char *line, size_t len, size_t lineno,
                         keys_error *err)
{
  size_t bin_len = 0;
  const char *end = NULL;

  if (b->has_key)
    return keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: a second key line in a %s block", lineno,
                       kind_names[b->kind]);
  if (len != ARMOR_KEY_CHARS)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: the key line of a %s block is %zu characters, want %d (32 "
                       "bytes in base64 on one line)",
                       lineno, kind_names[b->kind], len, ARMOR_KEY_CHARS);
  /* One byte of room more than a key: a 33-byte line fails on bin_len. */
  if (!keys_i_ascii(line, len) ||
      sodium_base642bin(b->key, KEYS_SECRET_BYTES + 1, line, len, NULL, &bin_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != line + len)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: the key line of a %s block is not canonical base64", lineno,
                       kind_names[b->kind]);
  if (bin_len != KEYS_SECRET_BYTES)
    return keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: the key of a %s block is %zu bytes, want %d", lineno,
                       kind_names[b->kind], bin_len, KEYS_SECRET_BYTES);
  b->has_key = 1;
  return KEYS_OK;
}

/*
 * Walks text line by line, calling fn for every complete block. want is the
 * kind the caller reads: a private block where a public one is wanted is an
 * error; a public block where private ones are wanted is checked and skipped.
 */
/* only_blocks: text outside the blocks may only be blank lines. */
static int armor_parse(const char *text, size_t len, enum block_kind want, int only_blocks,
                       block_fn fn, void *ctx, keys_error *err)
{
  struct block b;
  uint8_t *key = NULL;
  size_t pos = 0, lineno = 0, block_start = 0, blocks = 0;
  int rc = KEYS_OK;

  if (text == NULL && len > 0)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no text given");
  key = sodium_malloc(KEYS_SECRET_BYTES + 1);
  if (key == NULL)
    return keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory for a key");
  memset(&b, 0, sizeof(b));
  while (pos < len) {
    const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
    size_t line_len = nl ? (size_t)(nl - line) : len - pos;
    enum block_kind k;

    pos += line_len + (nl ? 1 : 0);
    lineno++;
    if (line_len > 0 && line[line_len - 1] == '\r')
      line_len--;
    if (b.kind == BLOCK_NONE) {
      k = kind_of(line, line_len, begin_lines);
      if (k == BLOCK_NONE && looks_like_armor(line, line_len)) {
        /* a key silently skipped would be a recipient silently lost */
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED,
                         "line %zu: \"%.*s\" is neither a SEAL PUBLIC KEY nor a SEAL PRIVATE "
                         "KEY BEGIN line, or stands outside a block",
                         lineno, (int)(line_len > 64 ? 64 : line_len), line);
        goto out;
      }
      if (k == BLOCK_NONE && only_blocks && !blank(line, line_len)) {
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: text outside the key block", lineno);
        goto out;
      }
      if (k == BLOCK_NONE)
        continue; /* text outside blocks */
      if (k == BLOCK_PRIVATE && want == BLOCK_PUBLIC) {
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED,
                         "line %zu: a private key was given where a public key is expected "
                         "(found a SEAL PRIVATE KEY block, want SEAL PUBLIC KEY)",
                         lineno);
        goto out;
      }
      if (++blocks > ARMOR_BLOCKS_MAX) {
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: more than %d key blocks", lineno,
                         ARMOR_BLOCKS_MAX);
        goto out;
      }
      memset(&b, 0, sizeof(b));
      b.kind = k;
      b.line = lineno;
      b.key = key;
      block_start = (size_t)(line - text);
      continue;
    }
    if (pos - block_start > KEYS_ARMOR_MAX) {
      rc = keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: the %s block of line %zu is longer than %d bytes", lineno,
                       kind_names[b.kind], b.line, KEYS_ARMOR_MAX);
      goto out;
    }
    if ((k = kind_of(line, line_len, end_lines)) != BLOCK_NONE) {
      if (k != b.kind) {
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED,
                         "line %zu: END of a %s block closes the %s block of line %zu", lineno,
                         kind_names[k], kind_names[b.kind], b.line);
        goto out;
      }
      if (!b.has_key) {
        rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "line %zu: the %s block of line %zu has no key",
                         lineno, kind_names[b.kind], b.line);
        goto out;
      }
      if (b.kind == want && (rc = fn(ctx, &b, err)) != KEYS_OK)
        goto out;
      sodium_memzero(key, KEYS_SECRET_BYTES + 1);
      memset(&b, 0, sizeof(b));
      continue;
    }
    if (kind_of(line, line_len, begin_lines) != BLOCK_NONE) {
      rc = keys_i_fail(err, KEYS_ERR_MALFORMED,
                       "line %zu: BEGIN inside the %s block of line %zu (missing END line)", lineno,
                       kind_names[b.kind], b.line);
      goto out;
    }
    if (memchr(line, ':', line_len) != NULL)
      rc = read_header(&b, line, line_len, lineno, err);
    else
      rc = read_key_line(&b, line, line_len, lineno, err);
    if (rc != KEYS_OK)
      goto out;
  }
  if (b.kind != BLOCK_NONE) {
    rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "the %s block of line %zu has no END line",
                     kind_names[b.kind], b.line);
    goto out;
  }
out:
  sodium_free(key);
  return rc;
}

/* Puts "line N: " before the message a callee left in err. */
static int at_line(keys_error *err, int rc, size_t line)
{
  char message[sizeof(err->message)];

  if (err == NULL)
    return rc;
  memcpy(message, err->message, sizeof(message));
  return keys_i_fail(err, rc, "line %zu: %s", line, message);
}

/* ---- reading public keys ----------------------------------------------- */

struct public_list {
  keys_public *keys;
  size_t n;
  size_t cap;
};

static int add_public(void *ctx, const struct block *b, keys_error *err)
{
  struct public_list *list = ctx;
  int rc;

  if (list->n == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 4;
    keys_public *k = realloc(list->keys, cap * sizeof(*k));

    if (k == NULL)
      return keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory for public keys");
    list->keys = k;
    list->cap = cap;
  }
  rc = keys_public_from_bytes(&list->keys[list->n], b->key, err);
  if (rc != KEYS_OK)
    return at_line(err, rc, b->line);
  list->n++;
  return KEYS_OK;
}

/* No SEAL PUBLIC KEY block: says what the text is when it is another PEM
 * block (an X.509 certificate is kubeseal's --cert). */
static int no_public_block(const char *text, size_t len, keys_error *err)
{
  static const char begin[] = "-----BEGIN ";
  const char *p = text, *end = text + len, *label, *stop;

  while (p != NULL && (size_t)(end - p) >= sizeof begin - 1) {
    if (memcmp(p, begin, sizeof begin - 1) == 0) {
      label = p + sizeof begin - 1;
      for (stop = label; stop < end && stop - label < 40 && *stop != '-' && *stop != '\n'; stop++)
        if (!(*stop == ' ' || (*stop >= 'A' && *stop <= 'Z') || (*stop >= '0' && *stop <= '9')))
          break;
      if (stop < end && *stop == '-' && stop > label) {
        if (stop - label == 11 && memcmp(label, "CERTIFICATE", 11) == 0)
          return keys_i_fail(err, KEYS_ERR_MALFORMED,
                             "a PEM CERTIFICATE (X.509, kubeseal's kind of --cert), not a SEAL "
                             "PUBLIC KEY block (seal cert fetches the cluster's key)");
        return keys_i_fail(err, KEYS_ERR_MALFORMED, "a PEM %.*s block, not a SEAL PUBLIC KEY block",
                           (int)(stop - label), label);
      }
    }
    p = memchr(p, '\n', (size_t)(end - p));
    if (p != NULL)
      p++;
  }
  return keys_i_fail(err, KEYS_ERR_MALFORMED, "no SEAL PUBLIC KEY block in the text");
}

int keys_armor_read_public(keys_public **out, size_t *n_out, const char *text, size_t len,
                           keys_error *err)
{
  struct public_list list = {0};
  int rc;

  if (out == NULL || n_out == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no place for the public keys");
  *out = NULL;
  *n_out = 0;
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  rc = armor_parse(text, len, BLOCK_PUBLIC, 0, add_public, &list, err);
  if (rc == KEYS_OK && list.n == 0)
    rc = no_public_block(text, len, err);
  if (rc != KEYS_OK) {
    free(list.keys);
    return rc;
  }
  *out = list.keys;
  *n_out = list.n;
  return KEYS_OK;
}

int keys_armor_read_one_public(keys_public *out, const char *text, size_t len, keys_error *err)
{
  struct public_list list = {0};
  int rc;

  if (out == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no place for the public key");
  memset(out, 0, sizeof(*out));
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  rc = armor_parse(text, len, BLOCK_PUBLIC, 1, add_public, &list, err);
  if (rc == KEYS_OK && list.n == 0)
    rc = no_public_block(text, len, err);
  else if (rc == KEYS_OK && list.n != 1)
    rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "%zu SEAL PUBLIC KEY blocks, want exactly one",
                     list.n);
  if (rc == KEYS_OK)
    *out = list.keys[0];
  free(list.keys);
  return rc;
}

/* ---- reading private keys ---------------------------------------------- */

struct private_load {
  keys_keyring *ring;
  uint8_t (*added)[KEYS_ID_BYTES];
  size_t n;      /* keys added */
  size_t blocks; /* private blocks read */
};

static int add_private(void *ctx, const struct block *b, keys_error *err)
{
  struct private_load *load = ctx;
  keys_keypair *kp = NULL;
  int rc;

  load->blocks++;
  rc = keys_keypair_from_secret(&kp, b->key, b->has_created ? b->created : 0,
                                b->has_state ? b->state : KEYS_STATE_ACTIVE);
  if (rc != KEYS_OK)
    return keys_i_fail(err, rc == KEYS_ERR_WEAK_KEY ? KEYS_ERR_MALFORMED : rc,
                       "line %zu: the private key of this block is not usable (%s)", b->line,
                       keys_strerror(rc));
  if (load->n >= ARMOR_BLOCKS_MAX) {
    keys_keypair_free(kp);
    return keys_i_fail(err, KEYS_ERR_MALFORMED, "more than %d private keys", ARMOR_BLOCKS_MAX);
  }
  /* A key the ring already holds (another backup file, the same block
   * twice) adds nothing: the key ids are hashes of the keys themselves. */
  if (keys_keyring_find(load->ring, kp->pub.id) != NULL) {
    keys_keypair_free(kp);
    return KEYS_OK;
  }
  memcpy(load->added[load->n], kp->pub.id, KEYS_ID_BYTES);
  rc = keys_keyring_add(load->ring, &kp, err);
  if (rc != KEYS_OK) {
    keys_keypair_free(kp);
    return at_line(err, rc, b->line);
  }
  load->n++;
  return KEYS_OK;
}

int keys_armor_read_private(keys_keyring *ring, size_t *n_added, const char *text, size_t len,
                            keys_error *err)
{
  struct private_load load = {0};
  int rc;

  if (n_added != NULL)
    *n_added = 0;
  if (ring == NULL)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no keyring given");
  if ((rc = keys_i_ready(err)) != KEYS_OK)
    return rc;
  load.ring = ring;
  load.added = calloc(ARMOR_BLOCKS_MAX, sizeof(*load.added));
  if (load.added == NULL)
    return keys_i_fail(err, KEYS_ERR_NOMEM, "out of memory reading private keys");
  rc = armor_parse(text, len, BLOCK_PRIVATE, 0, add_private, &load, err);
  if (rc == KEYS_OK && load.blocks == 0)
    rc = keys_i_fail(err, KEYS_ERR_MALFORMED, "no SEAL PRIVATE KEY block in the text");
  if (rc != KEYS_OK) {
    /* nothing is added on failure */
    for (size_t i = 0; i < load.n; i++)
      (void)keys_keyring_remove(ring, load.added[i]);
  } else if (n_added != NULL) {
    *n_added = load.n;
  }
  free(load.added);
  return rc;
}

/* ---- writing ----------------------------------------------------------- */

/*
 * BEGIN, Key-Id, optional Created and State, the key line, END. The key
 * line is built in key_b64, which the caller wipes.
 */
static int armor_write(char *out, size_t out_size, size_t *out_len, enum block_kind kind,
                       const uint8_t key[KEYS_PUBLIC_BYTES], const uint8_t id[KEYS_ID_BYTES],
                       int64_t created, int with_created, const char *state)
{
  char hex[KEYS_ID_HEX_BYTES], when[32] = "", created_line[48] = "", state_line[32] = "";
  char key_b64[ARMOR_KEY_CHARS + 1];
  int w;

  if (out == NULL || out_size == 0)
    return KEYS_ERR_INVALID;
  out[0] = '\0';
  if (out_len != NULL)
    *out_len = 0;
  keys_id_hex(hex, id);
  if (with_created) {
    if (keys_time_format(when, sizeof(when), created) != KEYS_OK)
      return KEYS_ERR_INVALID;
    snprintf(created_line, sizeof(created_line), "Created: %s\n", when);
  }
  if (state != NULL)
    snprintf(state_line, sizeof(state_line), "State: %s\n", state);
  sodium_bin2base64(key_b64, sizeof(key_b64), key, KEYS_PUBLIC_BYTES,
                    sodium_base64_VARIANT_ORIGINAL);
  w = snprintf(out, out_size, "%s\nKey-Id: %s\n%s%s%s\n%s\n", begin_lines[kind], hex, created_line,
               state_line, key_b64, end_lines[kind]);
  sodium_memzero(key_b64, sizeof(key_b64));
  if (w < 0 || (size_t)w >= out_size) {
    sodium_memzero(out, out_size);
    return KEYS_ERR_INVALID;
  }
  if (out_len != NULL)
    *out_len = (size_t)w;
  return KEYS_OK;
}

int keys_armor_write_public(char *out, size_t out_size, size_t *out_len, const keys_public *pub,
                            int64_t created)
{
  if (pub == NULL)
    return KEYS_ERR_INVALID;
  return armor_write(out, out_size, out_len, BLOCK_PUBLIC, pub->pk, pub->id, created, created > 0,
                     NULL);
}

int keys_armor_write_private(char *out, size_t out_size, size_t *out_len, const keys_keypair *kp)
{
  if (kp == NULL)
    return KEYS_ERR_INVALID;
  return armor_write(out, out_size, out_len, BLOCK_PRIVATE, kp->sk, kp->pub.id, kp->created, 1,
                     kp->state == KEYS_STATE_COMPROMISED ? "compromised" : "active");
}
