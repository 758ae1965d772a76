/* Small helpers: errors, base64, RFC 3339 time, key id text. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "keys.h"

#include "status_text.h"
#include "banned.h"

/* Base64 text longer than this is refused before it is decoded: it would
 * hold more than any value, document or key the project handles. */
#define KEYS_BASE64_MAX ((size_t)64 * 1024 * 1024)

int keys_init(void)
{
  return sodium_init() < 0 ? KEYS_ERR_CRYPTO : KEYS_OK;
}

int keys_i_ready(keys_error *err)
{
  if (sodium_init() < 0)
    return keys_i_fail(err, KEYS_ERR_CRYPTO, "libsodium could not be initialised");
  return KEYS_OK;
}

static const seal_status_text keys_texts[] = {
    {KEYS_OK, "success"},
    {KEYS_ERR_NOMEM, "out of memory"},
    {KEYS_ERR_INVALID, "invalid argument"},
    {KEYS_ERR_MALFORMED, "malformed input"},
    {KEYS_ERR_NO_KEY, "no key for this value"},
    {KEYS_ERR_ALTERED, "the value was altered"},
    {KEYS_ERR_LABEL, "the value does not open for this scope, or was altered"},
    {KEYS_ERR_WEAK_KEY, "public key of small order"},
    {KEYS_ERR_IO, "input/output error"},
    {KEYS_ERR_EXISTS, "already exists"},
    {KEYS_ERR_CRYPTO, "libsodium could not be initialised"}};

const char *keys_strerror(int status)
{
  return SEAL_STATUS_TEXT(keys_texts, status, "unknown error");
}

int keys_i_fail(keys_error *err, int status, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return status;
  err->status = status;
  err->n_ids = 0;
  va_start(ap, fmt);
  if (vsnprintf(err->message, sizeof(err->message), fmt, ap) < 0)
    err->message[0] = '\0';
  va_end(ap);
  return status;
}

void keys_i_ids_text(char *out, size_t out_size, const uint8_t (*ids)[KEYS_ID_BYTES], size_t n)
{
  size_t used = 0;

  if (out_size == 0)
    return;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    char hex[KEYS_ID_HEX_BYTES];
    int w;

    keys_id_hex(hex, ids[i]);
    w = snprintf(out + used, out_size - used, "%s%s", i ? ", " : "", hex);
    if (w < 0 || (size_t)w >= out_size - used)
      return;
    used += (size_t)w;
  }
}

/* ---- key ids ------------------------------------------------------------- */

void keys_id_hex(char out[KEYS_ID_HEX_BYTES], const uint8_t id[KEYS_ID_BYTES])
{
  sodium_bin2hex(out, KEYS_ID_HEX_BYTES, id, KEYS_ID_BYTES);
}

int keys_id_parse(uint8_t id[KEYS_ID_BYTES], const char *hex)
{
  size_t bin_len = 0;
  const char *end = NULL;

  if (hex == NULL || strlen(hex) != 2 * KEYS_ID_BYTES)
    return KEYS_ERR_INVALID;
  if (sodium_hex2bin(id, KEYS_ID_BYTES, hex, 2 * KEYS_ID_BYTES, NULL, &bin_len, &end) != 0 ||
      bin_len != KEYS_ID_BYTES || end != hex + 2 * KEYS_ID_BYTES) {
    memset(id, 0, KEYS_ID_BYTES);
    return KEYS_ERR_INVALID;
  }
  return KEYS_OK;
}

/* ---- base64 --------------------------------------------------------------- */

int keys_base64_encode(char **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
  size_t size;
  char *text;

  if (out == NULL || (in == NULL && in_len > 0) || in_len > KEYS_BASE64_MAX / 4 * 3)
    return KEYS_ERR_INVALID;
  *out = NULL;
  size = sodium_base64_ENCODED_LEN(in_len, sodium_base64_VARIANT_ORIGINAL);
  text = malloc(size);
  if (text == NULL)
    return KEYS_ERR_NOMEM;
  sodium_bin2base64(text, size, in_len ? in : (const uint8_t *)"", in_len,
                    sodium_base64_VARIANT_ORIGINAL);
  *out = text;
  if (out_len != NULL)
    *out_len = size - 1;
  return KEYS_OK;
}

/* 1 when no byte of s has its high bit set; the time depends on len only. */
int keys_i_ascii(const char *s, size_t len)
{
  unsigned char any = 0;

  for (size_t i = 0; i < len; i++)
    any |= (unsigned char)s[i];
  return (any & 0x80) == 0;
}

/*
 * libsodium 1.0.18 already refuses missing padding and non-zero unused bits
 * (tests/keys check both); b64_end catches anything left after the padding,
 * and no character is ignored. But it reads the text as signed char and takes
 * some bytes above 0x7f for digits ("\xff\xff\xff\xff" decodes), so those
 * are refused first (keys_i_ascii); then only canonical text decodes.
 */
int keys_base64_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len)
{
  uint8_t *bin = NULL;
  size_t bin_max, bin_len = 0;
  const char *end = NULL;

  if (out == NULL || out_len == NULL || (in == NULL && in_len > 0))
    return KEYS_ERR_INVALID;
  *out = NULL;
  *out_len = 0;
  if (in_len > KEYS_BASE64_MAX || in_len % 4 != 0 || !keys_i_ascii(in, in_len))
    return KEYS_ERR_MALFORMED;
  bin_max = in_len / 4 * 3;
  bin = malloc(bin_max ? bin_max : 1);
  if (bin == NULL)
    return KEYS_ERR_NOMEM;
  if (in_len > 0 && (sodium_base642bin(bin, bin_max, in, in_len, NULL, &bin_len, &end,
                                       sodium_base64_VARIANT_ORIGINAL) != 0 ||
                     end != in + in_len)) {
    doc_wipe_free(bin, bin_max);
    return KEYS_ERR_MALFORMED;
  }
  *out = bin;
  *out_len = bin_len;
  return KEYS_OK;
}

/*
 * The same format for public text (sealed values, which anyone may read):
 * table driven and not constant time, about ten times faster than
 * libsodium's constant-time code, which a 64 KiB value spent most of its
 * unseal in. The rules are those of keys_base64_decode (docs/spec.md):
 * length a multiple of 4, padding required, only the 64 characters of the
 * standard alphabet before it, unused bits zero. tests/keys/test_label.c
 * checks both decoders agree on every tail and on mutated texts.
 */
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* b64_quad[i][c]: character c in position i of a quad, as its 6 bits shifted
 * into place in the 24 of the quad; B64_BAD for a character not in the
 * alphabet ('=' included), so that OR-ing the four gives the quad's bytes
 * and a flag that no valid quad sets. */
#define B64_BAD UINT32_C(0x80000000)
static uint32_t b64_quad[4][256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_table_init(void)
{
  for (unsigned i = 0; i < 4; i++)
    for (unsigned c = 0; c < 256; c++)
      b64_quad[i][c] = B64_BAD;
  for (unsigned v = 0; v < 64; v++)
    for (unsigned i = 0; i < 4; i++)
      b64_quad[i][(unsigned char)b64_alphabet[v]] = (uint32_t)v << (18 - 6 * i);
}

int keys_base64_encode_public(char **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
  size_t size, i = 0;
  char *t, *text;

  if (out == NULL || (in == NULL && in_len > 0) || in_len > KEYS_BASE64_MAX / 4 * 3)
    return KEYS_ERR_INVALID;
  *out = NULL;
  size = (in_len + 2) / 3 * 4 + 1;
  t = text = malloc(size);
  if (text == NULL)
    return KEYS_ERR_NOMEM;
  for (; i + 3 <= in_len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *t++ = b64_alphabet[v >> 18];
    *t++ = b64_alphabet[(v >> 12) & 63];
    *t++ = b64_alphabet[(v >> 6) & 63];
    *t++ = b64_alphabet[v & 63];
  }
  if (i < in_len) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < in_len ? (uint32_t)in[i + 1] << 8 : 0);
    *t++ = b64_alphabet[v >> 18];
    *t++ = b64_alphabet[(v >> 12) & 63];
    *t++ = i + 1 < in_len ? b64_alphabet[(v >> 6) & 63] : '=';
    *t++ = '=';
  }
  *t = '\0';
  *out = text;
  if (out_len != NULL)
    *out_len = size - 1;
  return KEYS_OK;
}

int keys_base64_decode_public(uint8_t **out, size_t *out_len, const char *in, size_t in_len)
{
  const unsigned char *s = (const unsigned char *)in;
  size_t pad = 0, quads, bin_len, i;
  uint8_t *bin, *b;
  uint32_t bad = 0;

  if (out == NULL || out_len == NULL || (in == NULL && in_len > 0))
    return KEYS_ERR_INVALID;
  *out = NULL;
  *out_len = 0;
  if (in_len > KEYS_BASE64_MAX || in_len % 4 != 0)
    return KEYS_ERR_MALFORMED;
  (void)pthread_once(&b64_once, b64_table_init);
  if (in_len > 0 && s[in_len - 1] == '=')
    pad = s[in_len - 2] == '=' ? 2 : 1;
  bin_len = in_len / 4 * 3 - pad;
  b = bin = malloc(bin_len ? bin_len : 1);
  if (bin == NULL)
    return KEYS_ERR_NOMEM;
  quads = in_len / 4 - (pad ? 1 : 0); /* the ones without padding */
  for (i = 0; i < quads; i++, s += 4) {
    uint32_t v = b64_quad[0][s[0]] | b64_quad[1][s[1]] | b64_quad[2][s[2]] | b64_quad[3][s[3]];
    bad |= v;
    b[0] = (uint8_t)(v >> 16);
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)v;
    b += 3;
  }
  if (pad) {
    /* "xy==" holds one byte, "xyz=" two; the bits after them must be zero */
    uint32_t v = b64_quad[0][s[0]] | b64_quad[1][s[1]] | (pad == 1 ? b64_quad[2][s[2]] : 0);
    bad |= v | ((v & (pad == 1 ? 0xffu : 0xffffu)) ? B64_BAD : 0);
    *b++ = (uint8_t)(v >> 16);
    if (pad == 1)
      *b++ = (uint8_t)(v >> 8);
  }
  if (bad & B64_BAD) {
    free(bin);
    return KEYS_ERR_MALFORMED;
  }
  *out = bin;
  *out_len = bin_len;
  return KEYS_OK;
}

/* ---- RFC 3339 time ------------------------------------------------------- */

int keys_time_format(char *out, size_t out_size, int64_t t)
{
  struct tm tm;
  time_t tt;

  if (out == NULL || out_size == 0)
    return KEYS_ERR_INVALID;
  out[0] = '\0';
  /* Years 1970 to 9999: what RFC 3339 can write and a key can carry. */
  if (t < 0 || t > INT64_C(253402300799))
    return KEYS_ERR_INVALID;
  tt = (time_t)t;
  if (gmtime_r(&tt, &tm) == NULL)
    return KEYS_ERR_INVALID;
  if (strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    out[0] = '\0';
    return KEYS_ERR_INVALID;
  }
  return KEYS_OK;
}

/* n decimal digits at *p; advances *p. -1 if any is not a digit. */
static int time_digits(const char **p, int n)
{
  int v = 0;

  for (int i = 0; i < n; i++) {
    char c = (*p)[i];

    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  *p += n;
  return v;
}

static int time_expect(const char **p, char a, char b)
{
  if (**p != a && **p != b)
    return -1;
  (*p)++;
  return 0;
}

static int leap_year(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int keys_time_parse(int64_t *out, const char *text)
{
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const char *p = text;
  struct tm tm;
  int year, mon, day, hour, min, sec, offset = 0;
  time_t t;

  if (out == NULL || text == NULL)
    return KEYS_ERR_INVALID;
  memset(&tm, 0, sizeof(tm));
  if ((year = time_digits(&p, 4)) < 0 || time_expect(&p, '-', '-') ||
      (mon = time_digits(&p, 2)) < 0 || time_expect(&p, '-', '-') ||
      (day = time_digits(&p, 2)) < 0 || time_expect(&p, 'T', 't') ||
      (hour = time_digits(&p, 2)) < 0 || time_expect(&p, ':', ':') ||
      (min = time_digits(&p, 2)) < 0 || time_expect(&p, ':', ':') || (sec = time_digits(&p, 2)) < 0)
    return KEYS_ERR_INVALID;
  if (mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 60)
    return KEYS_ERR_INVALID;
  if (day > mdays[mon - 1] + (mon == 2 && leap_year(year)))
    return KEYS_ERR_INVALID;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9')
      return KEYS_ERR_INVALID;
    for (int i = 0; *p >= '0' && *p <= '9'; i++, p++)
      if (i >= 9)
        return KEYS_ERR_INVALID;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om;

    p++;
    if ((oh = time_digits(&p, 2)) < 0 || time_expect(&p, ':', ':') ||
        (om = time_digits(&p, 2)) < 0 || oh > 23 || om > 59)
      return KEYS_ERR_INVALID;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return KEYS_ERR_INVALID;
  }
  if (*p != '\0')
    return KEYS_ERR_INVALID;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  t = timegm(&tm);
  if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
    return KEYS_ERR_INVALID;
  /* A leap second or an offset can carry 9999-12-31 into year 10000, which
   * keys_time_format cannot write back. */
  if ((int64_t)t - offset > INT64_C(253402300799))
    return KEYS_ERR_INVALID;
  *out = (int64_t)t - offset;
  return KEYS_OK;
}
