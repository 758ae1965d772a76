#ifndef SEAL_CLI_DL_TABLE_H
#define SEAL_CLI_DL_TABLE_H

/*
 * A shared library seal opens on first use (libcurl for the network,
 * libcrypto for seal migrate) and the table of its functions the caller
 * declares as a struct of function pointers, one per name, in order.
 *
 * The library is opened with RTLD_NOW | RTLD_LOCAL, so it and its
 * dependencies are fully bound at load and get their own RELRO; the table
 * lives in a page of its own that seal_dl_table_seal makes read-only, so it
 * is no more writable than the GOT it stands in for.
 */

#include <stddef.h>

typedef struct seal_dl_table {
  void *lib;
  void **slots; /* the resolved functions, names' order */
  size_t size;  /* bytes mapped */
} seal_dl_table;

/* Opens soname and resolves names[0..n). 0 on success; -1 with err set to
 * "cannot load SONAME[: NAME]: why" and nothing left open. */
int seal_dl_table_open(seal_dl_table *t, const char *soname, const char *const *names, size_t n,
                       char *err, size_t err_size);
/* Makes the table read-only: 0, or -1 with err set (the table stays open). */
int seal_dl_table_seal(seal_dl_table *t, const char *soname, char *err, size_t err_size);
void seal_dl_table_close(seal_dl_table *t);

#endif
