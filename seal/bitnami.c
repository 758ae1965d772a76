/* Bitnami sealed-secrets' formats, the parts read without a key (bitnami.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnami.h"
#include "keys.h"

#include "banned.h"

int bitnami_value_split(bitnami_value *v, const uint8_t *ct, size_t ct_len)
{
  size_t rsa_len;
  if (ct_len < 2)
    return BITNAMI_REFUSED;
  rsa_len = ((size_t)ct[0] << 8) | ct[1];
  if (rsa_len == 0 || ct_len - 2 < rsa_len || ct_len - 2 - rsa_len < BITNAMI_TAG_BYTES)
    return BITNAMI_REFUSED;
  v->rsa = ct + 2;
  v->rsa_len = rsa_len;
  v->body = ct + 2 + rsa_len;
  v->body_len = ct_len - 2 - rsa_len;
  return BITNAMI_OK;
}

static int go_ident_char(char c, int first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

static size_t skip_spaces(const char *s, size_t i, size_t n)
{
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  return i;
}

/* One action after "{{" at s[i]: {{ .key }} or {{ index . "key" }}. Sets the
 * key span and returns the index after "}}", or 0 when not that simple. */
static size_t simple_action(const char *s, size_t i, size_t n, size_t *k0, size_t *k1)
{
  i = skip_spaces(s, i, n);
  if (i < n && s[i] == '.') {
    *k0 = ++i;
    if (i >= n || !go_ident_char(s[i], 1))
      return 0;
    while (i < n && go_ident_char(s[i], 0))
      i++;
    *k1 = i;
  } else if (n - i > 5 && memcmp(s + i, "index", 5) == 0 && (s[i + 5] == ' ' || s[i + 5] == '\t')) {
    char q;
    i = skip_spaces(s, i + 5, n);
    if (i >= n || s[i] != '.')
      return 0;
    i = skip_spaces(s, i + 1, n);
    if (i >= n || (s[i] != '"' && s[i] != '`'))
      return 0;
    q = s[i++];
    *k0 = i;
    while (i < n && s[i] != q && s[i] != '\\' && s[i] != '\n')
      i++;
    if (i >= n || s[i] != q)
      return 0;
    *k1 = i++;
  } else {
    return 0;
  }
  i = skip_spaces(s, i, n);
  if (i + 1 >= n || s[i] != '}' || s[i + 1] != '}')
    return 0;
  return i + 2;
}

int bitnami_template_convert(char **out, const char *s, size_t n, const json_t *enc, char *why,
                             size_t why_size)
{
  size_t i = 0, o = 0, k0 = 0, k1 = 0, next;
  char *buf = malloc(2 * n + 16), key[KEYS_NAME_MAX + 1];

  *out = NULL;
  if (buf == NULL)
    return BITNAMI_NOMEM;
  while (i < n) {
    if (!(s[i] == '{' && i + 1 < n && s[i + 1] == '{')) {
      buf[o++] = s[i++];
      continue;
    }
    next = simple_action(s, i + 2, n, &k0, &k1);
    if (next == 0) {
      snprintf(why, why_size,
               "the template action at byte %zu is not {{ .key }} or "
               "{{ index . \"key\" }}",
               i);
      goto refuse;
    }
    if (k1 - k0 > KEYS_NAME_MAX || k1 == k0) {
      snprintf(why, why_size, "the template names a key longer than %d characters", KEYS_NAME_MAX);
      goto refuse;
    }
    memcpy(key, s + k0, k1 - k0);
    key[k1 - k0] = '\0';
    if (json_object_get(enc, key) == NULL) {
      snprintf(why, why_size, "the template names \"%.200s\", which is no encrypted key", key);
      goto refuse;
    }
    if (!keys_data_key_valid(key)) {
      snprintf(why, why_size, "the template names \"%.200s\", not a valid data key", key);
      goto refuse;
    }
    o += (size_t)snprintf(buf + o, 2 * n + 16 - o, "{{ .%s }}", key);
    i = next;
  }
  buf[o] = '\0';
  *out = buf;
  return BITNAMI_OK;
refuse:
  free(buf);
  return BITNAMI_REFUSED;
}

size_t bitnami_next_chunk(const char *text, size_t len, size_t pos, doc_format format)
{
  if (format == DOC_JSON) {
    json_error_t jerr;
    json_t *v;
    size_t p = pos;
    while (p < len && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r' || text[p] == '\n'))
      p++;
    if (p == 0 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
      p = 3;
    if (p >= len)
      return len;
    v = json_loadb(text + p, len - p, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
    json_decref(v);
    if (v == NULL || jerr.position <= 0)
      return len; /* doc_parse reports it */
    return p + (size_t)jerr.position;
  }
  /* skip the marker line the chunk starts with */
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    pos = nl ? (size_t)(nl - text) + 1 : len;
    if (pos + 3 <= len && memcmp(text + pos, "---", 3) == 0 &&
        (pos + 3 == len || strchr(" \t\r\n", text[pos + 3]) != NULL))
      return pos;
  }
  return len;
}
