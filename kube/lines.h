#ifndef SEAL_KUBE_LINES_H
#define SEAL_KUBE_LINES_H

/*
 * The newline-delimited splitter for watch streams: bytes go in however the
 * transport split them, complete lines come out. A line longer than the
 * maximum is an error (KUBE_ERR_LIMIT), never a realloc past it. The buffer
 * may hold Secrets, so it is wiped whenever it is emptied or released.
 */

#include <stddef.h>

#include "doc.h"

typedef struct kube_lines {
  doc_buf buf; /* the unfinished line; its max is one more, for a '\r' */
  size_t max;  /* longest line accepted, without its newline */
} kube_lines;

/* Called for each complete line (without "\n" or "\r\n"), NUL-terminated at
 * line[len]. Empty lines are skipped. A non-zero return stops feeding and is
 * returned by kube_lines_feed. */
typedef int (*kube_line_fn)(void *ud, char *line, size_t len);

void kube_lines_init(kube_lines *l, size_t max);
/* Returns 0, KUBE_ERR_LIMIT for an over-long line (the buffer is then reset),
 * KUBE_ERR_NOMEM, or what on_line returned. */
int kube_lines_feed(kube_lines *l, const char *data, size_t n, kube_line_fn on_line, void *ud);
size_t kube_lines_pending(const kube_lines *l); /* bytes of an unfinished line */
void kube_lines_reset(kube_lines *l);           /* drops an unfinished line */
void kube_lines_free(kube_lines *l);

#endif
