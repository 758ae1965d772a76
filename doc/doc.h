#ifndef SEAL_DOC_H
#define SEAL_DOC_H

/*
 * doc: the document layer under kube, keys' file reading and manifest
 * (docs/design.md): YAML and JSON in and out, and the primitives every part
 * that handles plaintext shares.
 *
 * The document model is jansson's json_t: YAML is read into it and written
 * from it, so every other part handles one kind of tree. Object key order is
 * kept as read. doc_init() sets jansson's allocators to ones that wipe memory
 * on free, since documents hold plaintext.
 *
 * The library never prints and never exits: functions return DOC_OK (0) or a
 * negative doc_status and fill a doc_error (may be NULL) whose message names
 * the document, the key and the reason, never a secret value. Libraries above
 * (manifest) use the same error struct and add statuses of their own in the
 * numbers doc_status leaves free (manifest.h).
 */

#include <stddef.h>

#include <jansson.h>

#define DOC_MAX_BYTES (4 * 1024 * 1024) /* a document or HTTP body */
#define DOC_MAX_DEPTH 64                /* nesting depth */
#define DOC_MAX_DOCS 100000             /* documents per stream */

typedef enum doc_status {
  DOC_OK = 0,
  DOC_ERR_NOMEM = -1,
  DOC_ERR_PARSE = -2,   /* not YAML or JSON */
  DOC_ERR_INVALID = -3, /* bad arguments, or a value no writer can express */
  DOC_ERR_LIMIT = -4,   /* over a limit above */
  /* -5 is manifest's MANIFEST_ERR_KEYS */
  DOC_ERR_IO = -6,
} doc_status;

typedef struct doc_error {
  int status;
  int cause; /* the status of a lower library behind status (manifest: the
                  keys_status of MANIFEST_ERR_KEYS), else 0 */
  long line; /* 1-based line in the source where known, else 0 */
  char message[1024];
} doc_error;

#if defined(__GNUC__)
#define DOC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DOC_PRINTF(a, b)
#endif

/* Fills err (may be NULL: then nothing) with status, line and the formatted
 * message, clears cause, and returns status. */
int doc_fail(doc_error *err, int status, long line, const char *fmt, ...) DOC_PRINTF(4, 5);

/* "ok", "out of memory", ... for a doc_status. */
const char *doc_strerror(int status);

typedef enum doc_format {
  DOC_YAML = 0,
  DOC_JSON = 1,
} doc_format;

/* Sets jansson's wiping allocators. Call once, first (manifest_init does). */
int doc_init(void);

/* ---- documents ---------------------------------------------------------- */

typedef struct doc_list {
  size_t n;
  json_t **docs; /* owned references */
  long *lines;   /* first line of each document in the source (1-based) */
} doc_list;

enum {
  DOC_PARSE_EXPAND_LISTS = 1, /* a `kind: List` (or *List) yields its items */
  /* at most DOC_MAX_BODY_NODES values in the whole stream (aliases counted in
   * full): what the controller parses from an HTTP body, so a 4 MiB body of
   * tiny values cannot cost hundreds of MiB of nodes */
  DOC_PARSE_BODY_LIMITS = 2,
};
#define DOC_MAX_BODY_NODES 65536

/* The format doc_parse reads text as: JSON when the first non-blank character
 * (after a UTF-8 byte order mark) is '{' or '[', else YAML. */
doc_format doc_format_of(const char *text, size_t len);

/* Parses a stream: JSON (one or several concatenated documents) when
 * doc_format_of says so, else YAML (several documents split by `---`;
 * anchors, aliases, merge keys, flow style, comments, CRLF, a BOM).
 * Empty documents are skipped. source names the input in messages. */
int doc_parse(doc_list *out, const char *text, size_t len, const char *source, int flags,
              doc_error *err);
void doc_list_free(doc_list *docs);

/* Writes documents: YAML (block style, `---` between documents, the keys
 * apiVersion, kind, metadata, spec, then the rest in their order; strings
 * quoted only where YAML needs it) or JSON (indented, one document after
 * another). *out is malloc'ed and NUL-terminated; it may hold secrets, so
 * release it with doc_wipe_free(). */
int doc_write(char **out, size_t *out_len, json_t *const *docs, size_t n, doc_format format,
              doc_error *err);

/* Typed access: the value at a path of object keys, NULL-terminated;
 * NULL if any step is missing or not an object. */
json_t *doc_get(const json_t *doc, ...);
/* The string at a path, or NULL when missing or not a string. */
const char *doc_get_string(const json_t *doc, ...);

/* ---- plaintext buffers and files ----------------------------------------- */

/* A growing byte buffer with a hard maximum; it may hold secrets, so growth
 * copies into a new block and wipes the old one (never realloc), and release
 * wipes. Start from {0} and set max (and first, if not 256). */
typedef struct doc_buf {
  char *p;
  size_t len;
  size_t cap;
  size_t max;   /* bytes at most, without the NUL */
  size_t first; /* the first block's size (0: 256) */
} doc_buf;

/* Appends n bytes; DOC_ERR_LIMIT past max (b unchanged), DOC_ERR_NOMEM.
 * Keeps a NUL after len. */
int doc_buf_add(doc_buf *b, const void *data, size_t n);
/* Makes room for n more bytes and the NUL without adding them (a reader
 * then writes into p + len and moves len); DOC_ERR_LIMIT, DOC_ERR_NOMEM. */
int doc_buf_room(doc_buf *b, size_t n);
/* The capacity b would have after making room for n more bytes: cap when it
 * has the room, 0 when len + n passes max. Allocates nothing: callers that
 * count memory against a budget reserve the growth first. */
size_t doc_buf_grown(const doc_buf *b, size_t n);
/* Wipes the bytes and empties b, keeping its block for reuse. */
void doc_buf_reset(doc_buf *b);
/* Moves the text out (malloc'ed, NUL-terminated, "" when empty; NULL when out
 * of memory) and empties b; release it with doc_wipe_free(). */
char *doc_buf_detach(doc_buf *b, size_t *len);
/* Wipes and frees the block; b can be used again. NULL is a no-op. */
void doc_buf_free(doc_buf *b);

/* Wipes len bytes at p and frees p (malloc'ed); NULL is a no-op. */
void doc_wipe_free(void *p, size_t len);
/* Wipes text from json_dumps (or json_dumpb's callers' NUL-terminated text)
 * and releases it with jansson's free; NULL is a no-op. */
void doc_json_free(char *text);

enum {
  DOC_READ_SECRET = 1, /* into sodium_malloc'ed memory (guarded, never swapped):
                          release with sodium_free */
};

/* Reads a whole file of at most max bytes into *out, NUL-terminated (malloc'ed:
 * release with doc_wipe_free(*out, *out_len)). Regular files, pipes and
 * devices; a folder is refused. Errors name the file and the reason:
 * `cannot read "PATH": REASON`, with DOC_ERR_IO (missing, unreadable, a
 * folder), DOC_ERR_LIMIT (more than max bytes), DOC_ERR_NOMEM or
 * DOC_ERR_INVALID (no file or no limit given). On failure *out is NULL. */
int doc_read_file(char **out, size_t *out_len, const char *path, size_t max, int flags,
                  doc_error *err);
/* The same for an open descriptor (stdin) to its end; name stands for it in
 * messages. fd stays open. */
int doc_read_fd(char **out, size_t *out_len, int fd, const char *name, size_t max, int flags,
                doc_error *err);

#endif
