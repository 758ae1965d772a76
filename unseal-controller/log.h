#ifndef SEAL_CTL_LOG_H
#define SEAL_CTL_LOG_H

/*
 * One line per event on stderr, text (logfmt) or JSON. Fields are key/value
 * string pairs ended by NULL. Never pass a secret value here.
 */

#include <stdarg.h>
#include <stdint.h>

typedef enum ctl_log_level {
  CTL_LOG_DEBUG = 0,
  CTL_LOG_INFO = 1,
  CTL_LOG_WARN = 2,
  CTL_LOG_ERROR = 3,
} ctl_log_level;

void ctl_log_setup(int json, int level);
/* "debug" | "info" | "warn" | "error"; -1 when unknown. */
int ctl_log_level_parse(const char *text);
int ctl_log_enabled(int level);
/* ctl_log(CTL_LOG_INFO, "unsealed", "namespace", ns, "name", name, NULL) */
void ctl_log(int level, const char *msg, ...) __attribute__((sentinel));
void ctl_logv(int level, const char *msg, va_list ap);
/* 1 for a code point that logs escape: C0 controls, DEL, C1 controls
 * (U+0080-U+009F), U+061C, U+200E/F, U+2028-U+202E and U+2066-U+2069 (line
 * separators and bidi controls that reorder what a reader sees). */
int ctl_log_unsafe_char(uint32_t cp);

#endif
