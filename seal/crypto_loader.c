/* libcrypto, loaded by `seal migrate` only (see crypto_loader.h for why). */
#include <pthread.h>
#include <stdio.h>

#include "crypto_loader.h"
#include "dl_table.h"

#include "banned.h"

/* The shared object of OpenSSL 3's ABI, the one the headers describe. */
#define LIBCRYPTO_SONAME "libcrypto.so.3"

#define NAME(name) #name,
static const char *const names[] = {SEAL_CRYPTO_FUNCTIONS(NAME)};
#undef NAME
_Static_assert(sizeof(seal_crypto_api) == sizeof names / sizeof names[0] * sizeof(void *),
               "one pointer per name");

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const seal_crypto_api *api; /* NULL when loading failed */
static char load_error[256] = "";

static void load(void)
{
  seal_dl_table t;
  const seal_crypto_api *a;

  if (seal_dl_table_open(&t, LIBCRYPTO_SONAME, names, sizeof names / sizeof names[0], load_error,
                         sizeof load_error) != 0)
    return;
  a = (const seal_crypto_api *)t.slots;
  if (a->OpenSSL_version_num() < OPENSSL_VERSION_NUMBER) {
    snprintf(load_error, sizeof load_error, "cannot load %s: older than the %s seal was built with",
             LIBCRYPTO_SONAME, OPENSSL_VERSION_TEXT);
    seal_dl_table_close(&t);
    return;
  }
  if (seal_dl_table_seal(&t, LIBCRYPTO_SONAME, load_error, sizeof load_error) != 0) {
    seal_dl_table_close(&t);
    return;
  }
  api = a;
}

const seal_crypto_api *seal_crypto_load(const char **why)
{
  pthread_once(&load_once, load);
  if (api == NULL && why != NULL)
    *why = load_error;
  return api;
}
