/* Scopes, Kubernetes names and data keys, and the scope label of a value. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "keys.h"

#include "banned.h"

static const char *const scope_names[] = {"strict", "namespace-wide", "cluster-wide"};

int keys_scope_parse(keys_scope *out, const char *text)
{
  if (out == NULL)
    return KEYS_ERR_INVALID;
  if (text == NULL || text[0] == '\0') {
    *out = KEYS_SCOPE_STRICT;
    return KEYS_OK;
  }
  for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
    if (strcmp(text, scope_names[i]) == 0) {
      *out = (keys_scope)i;
      return KEYS_OK;
    }
  }
  return KEYS_ERR_INVALID;
}

const char *keys_scope_name(keys_scope scope)
{
  if ((unsigned)scope >= sizeof(scope_names) / sizeof(scope_names[0]))
    return "unknown";
  return scope_names[scope];
}

static int lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int keys_name_valid(const char *name)
{
  size_t len;

  if (name == NULL)
    return 0;
  len = strnlen(name, KEYS_NAME_MAX + 1);
  if (len == 0 || len > KEYS_NAME_MAX)
    return 0;
  if (!lower_alnum(name[0]) || !lower_alnum(name[len - 1]))
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];

    if (c == '.') {
      /* each dot-separated label starts and ends alphanumeric */
      if (!lower_alnum(name[i - 1]) || !lower_alnum(name[i + 1]))
        return 0;
    } else if (!lower_alnum(c) && c != '-') {
      return 0;
    }
  }
  return 1;
}

int keys_data_key_valid(const char *key)
{
  size_t len;

  if (key == NULL)
    return 0;
  len = strnlen(key, KEYS_NAME_MAX + 1);
  if (len == 0 || len > KEYS_NAME_MAX || strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = key[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.' || c == '_'))
      return 0;
  }
  return 1;
}

/* Namespaces are DNS-1123 labels: at most 63 characters, no dots. This
 * keeps the longest strict label (578 bytes) within KEYS_LABEL_MAX. */
#define KEYS_NAMESPACE_MAX 63
static int namespace_valid(const char *ns)
{
  return keys_name_valid(ns) && strlen(ns) <= KEYS_NAMESPACE_MAX && strchr(ns, '.') == NULL;
}

/* The start of a name for a message, never more than a line. */
static int shown(const char *s)
{
  return s == NULL ? 0 : (int)strnlen(s, 64);
}

int keys_label(char *out, size_t out_size, keys_scope scope, const char *ns, const char *name,
               const char *data_key, keys_error *err)
{
  int w;

  if (out == NULL || out_size == 0)
    return keys_i_fail(err, KEYS_ERR_INVALID, "no room for the scope label");
  out[0] = '\0';
  if (!keys_data_key_valid(data_key))
    return keys_i_fail(err, KEYS_ERR_INVALID,
                       "data key \"%.*s\" is not valid: want 1 to 253 of [-._a-zA-Z0-9], not "
                       "\".\" or \"..\"",
                       shown(data_key), data_key ? data_key : "");
  if (scope != KEYS_SCOPE_CLUSTER && !namespace_valid(ns))
    return keys_i_fail(err, KEYS_ERR_INVALID,
                       "namespace \"%.*s\" of key \"%s\" is not a DNS-1123 label (lowercase "
                       "letters, digits and '-', at most 63)",
                       shown(ns), ns ? ns : "", data_key);
  if (scope == KEYS_SCOPE_STRICT && !keys_name_valid(name))
    return keys_i_fail(err, KEYS_ERR_INVALID,
                       "name \"%.*s\" of key \"%s\" is not a DNS-1123 name (lowercase "
                       "letters, digits, '-' and '.', at most 253)",
                       shown(name), name ? name : "", data_key);
  switch (scope) {
  case KEYS_SCOPE_STRICT:
    w = snprintf(out, out_size, "strict/%s/%s/%s", ns, name, data_key);
    break;
  case KEYS_SCOPE_NAMESPACE:
    w = snprintf(out, out_size, "namespace/%s/%s", ns, data_key);
    break;
  case KEYS_SCOPE_CLUSTER:
    w = snprintf(out, out_size, "cluster/%s", data_key);
    break;
  default:
    return keys_i_fail(err, KEYS_ERR_INVALID, "unknown scope %d for key \"%s\"", (int)scope,
                       data_key);
  }
  if (w < 0 || (size_t)w >= out_size) {
    out[0] = '\0';
    return keys_i_fail(err, KEYS_ERR_INVALID, "the scope label for key \"%s\" needs %d bytes",
                       data_key, w + 1);
  }
  return KEYS_OK;
}
