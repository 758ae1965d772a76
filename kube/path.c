#include <stdio.h>
#include <string.h>

#include "kube.h"

#include "banned.h"

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int unreserved(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Appends s (escaped when escape) at buf[*len]; keeps buf NUL-terminated. */
static int put(char *buf, size_t size, size_t *len, const char *s, int escape)
{
  static const char hex[] = "0123456789ABCDEF";

  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    size_t need = (!escape || unreserved(ch)) ? 1 : 3;

    if (*len + need + 1 > size)
      return KUBE_ERR_INVALID;
    if (need == 1) {
      buf[(*len)++] = (char)ch;
    } else {
      buf[(*len)++] = '%';
      buf[(*len)++] = hex[ch >> 4];
      buf[(*len)++] = hex[ch & 15];
    }
  }
  buf[*len] = '\0';
  return KUBE_OK;
}

static int segment_ok(const char *s)
{
  return s != NULL && s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
         strcmp(s, "..") != 0;
}

int kube_path(char *buf, size_t size, const char *group_version, const char *plural,
              const char *namespace_, const char *name, const char *subresource)
{
  size_t len = 0;
  const char *slash;
  int rc;

  if (buf == NULL || size == 0)
    return KUBE_ERR_INVALID;
  buf[0] = '\0';
  if (group_version == NULL || group_version[0] == '\0' || !segment_ok(plural))
    return KUBE_ERR_INVALID;
  if ((namespace_ != NULL && !segment_ok(namespace_)) || (name != NULL && !segment_ok(name)) ||
      (subresource != NULL && !segment_ok(subresource)) || (subresource != NULL && name == NULL))
    return KUBE_ERR_INVALID;

  slash = strchr(group_version, '/');
  if (slash == NULL) {
    rc = put(buf, size, &len, "/api/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, group_version, 1);
  } else {
    char group[256];
    size_t glen = (size_t)(slash - group_version);

    if (glen == 0 || glen >= sizeof(group) || !segment_ok(slash + 1))
      return KUBE_ERR_INVALID;
    memcpy(group, group_version, glen);
    group[glen] = '\0';
    rc = put(buf, size, &len, "/apis/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, group, 1);
    if (rc == 0)
      rc = put(buf, size, &len, "/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, slash + 1, 1);
  }
  if (rc == 0 && namespace_ != NULL) {
    rc = put(buf, size, &len, "/namespaces/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, namespace_, 1);
  }
  if (rc == 0)
    rc = put(buf, size, &len, "/", 0);
  if (rc == 0)
    rc = put(buf, size, &len, plural, 1);
  if (rc == 0 && name != NULL) {
    rc = put(buf, size, &len, "/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, name, 1);
  }
  if (rc == 0 && subresource != NULL) {
    rc = put(buf, size, &len, "/", 0);
    if (rc == 0)
      rc = put(buf, size, &len, subresource, 1);
  }
  if (rc != 0)
    buf[0] = '\0';
  return rc;
}

int kube_query_add(char *buf, size_t size, const char *key, const char *value)
{
  size_t len, start;
  int rc;

  if (buf == NULL || size == 0 || key == NULL || key[0] == '\0' || value == NULL)
    return KUBE_ERR_INVALID;
  len = strnlen(buf, size);
  if (len == size)
    return KUBE_ERR_INVALID;
  start = len;
  rc = put(buf, size, &len, strchr(buf, '?') ? "&" : "?", 0);
  if (rc == 0)
    rc = put(buf, size, &len, key, 1);
  if (rc == 0)
    rc = put(buf, size, &len, "=", 0);
  if (rc == 0)
    rc = put(buf, size, &len, value, 1);
  if (rc != 0)
    buf[start] = '\0'; /* no partial query */
  return rc;
}
