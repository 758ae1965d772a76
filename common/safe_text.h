#ifndef SEAL_COMMON_SAFE_TEXT_H
#define SEAL_COMMON_SAFE_TEXT_H

/*
 * What may reach a terminal or a log line as is. Text from documents, API
 * servers and HTTP answers is written with these escaped, so that it can
 * neither break a line nor reorder or recolour what a reader sees. Shared by
 * the controller's logs and seal's messages.
 */

#include <stddef.h>
#include <stdint.h>

/* One UTF-8 sequence at p (n > 0 bytes left): its code point and length, or
 * -1 when the bytes are not well-formed UTF-8 (overlong, surrogate,
 * truncated). */
static inline int seal_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
  size_t len;
  uint32_t c, min;
  if (p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  if ((p[0] & 0xe0) == 0xc0) {
    len = 2;
    c = p[0] & 0x1f;
    min = 0x80;
  } else if ((p[0] & 0xf0) == 0xe0) {
    len = 3;
    c = p[0] & 0x0f;
    min = 0x800;
  } else if ((p[0] & 0xf8) == 0xf0) {
    len = 4;
    c = p[0] & 0x07;
    min = 0x10000;
  } else {
    return -1;
  }
  if (n < len)
    return -1;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return -1;
    c = (c << 6) | (p[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return -1;
  *cp = c;
  return (int)len;
}

/* 1 for a code point written escaped: C0 controls, DEL, C1 controls
 * (U+0080-U+009F), U+061C, U+200E/F, U+2028-U+202E and U+2066-U+2069 (line
 * separators and bidi controls that reorder what a reader sees). */
static inline int seal_unsafe_char(uint32_t cp)
{
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || /* C1: U+009B is CSI */
         cp == 0x061c ||                                          /* arabic letter mark */
         cp == 0x200e || cp == 0x200f ||                          /* LRM, RLM */
         (cp >= 0x2028 && cp <= 0x202e) || /* separators; bidi embeddings, overrides */
         (cp >= 0x2066 && cp <= 0x2069);   /* bidi isolates */
}

#endif
