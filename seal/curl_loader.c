/*
 * libcurl, loaded when the first network call is made.
 *
 * Why: most seal commands never touch the network (a --cert file, unseal,
 * scan, keys generate), yet linking libcurl made the dynamic loader map and
 * relocate about 30 shared libraries (OpenSSL, GnuTLS, Kerberos, LDAP, ...)
 * and run their constructors on every start: about 85 % of a `seal raw`
 * process's time. So the seal executable does not link libcurl. This file
 * defines the part of the libcurl API that seal and the kube library call
 * (every curl_* function they use, with libcurl's own prototypes from
 * <curl/curl.h>, so a wrong signature does not compile); the first call
 * dlopen()s libcurl.so.4, resolves the real functions into a table and
 * initialises libcurl (curl_global_init) once. The controller, the tests and
 * the kube library itself still link libcurl the ordinary way; only the seal
 * executable links this file instead (seal/meson.build).
 *
 * Why not a plugin holding the networking code: kube/ is a static library
 * shared with the controller and seal calls it from many subcommands; moving
 * those into a separately loaded object would split seal's own code in two
 * for the sake of the loader. This table is one file and the rest of the code
 * is unchanged.
 *
 * Hardening kept (dl_table.c): the executable is still linked with -z relro -z now (its
 * GOT is read-only before main). libcurl is opened with RTLD_NOW, so it and
 * its dependencies are fully bound at load and get their own RELRO (Debian
 * builds them with -z now). The table of resolved pointers lives in a page of
 * its own that is made read-only (mprotect) before the first use, so it is no
 * more writable than the GOT it stands in for.
 *
 * The variadic setters forward their one argument with its real type, chosen
 * from the option number the way libcurl's own headers define the ranges
 * (CURLOPTTYPE_LONG, _OBJECTPOINT, _FUNCTIONPOINT, _OFF_T, _BLOB).
 */
#define CURL_DISABLE_TYPECHECK 1 /* the typecheck macros would rename our definitions */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "curl_loader.h"
#include "dl_table.h"

#include "banned.h"

/* The shared object of libcurl's ABI 4, the one <curl/curl.h> describes. */
#define LIBCURL_SONAME "libcurl.so.4"

#define CURL_FUNCTIONS(X)     \
  X(curl_global_init)         \
  X(curl_global_cleanup)      \
  X(curl_version_info)        \
  X(curl_easy_init)           \
  X(curl_easy_cleanup)        \
  X(curl_easy_setopt)         \
  X(curl_easy_getinfo)        \
  X(curl_easy_perform)        \
  X(curl_easy_strerror)       \
  X(curl_slist_append)        \
  X(curl_slist_free_all)      \
  X(curl_multi_init)          \
  X(curl_multi_cleanup)       \
  X(curl_multi_setopt)        \
  X(curl_multi_add_handle)    \
  X(curl_multi_remove_handle) \
  X(curl_multi_perform)       \
  X(curl_multi_poll)          \
  X(curl_multi_wakeup)        \
  X(curl_multi_timeout)       \
  X(curl_multi_info_read)

typedef struct curl_api {
#define MEMBER(name) __typeof__(name) *name;
  CURL_FUNCTIONS(MEMBER)
#undef MEMBER
} curl_api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const curl_api *api;       /* NULL when loading failed */
static char load_error[256] = ""; /* why, when it failed */

#define NAME(name) #name,
static const char *const names[] = {CURL_FUNCTIONS(NAME)};
#undef NAME
_Static_assert(sizeof(curl_api) == sizeof names / sizeof names[0] * sizeof(void *),
               "one pointer per name");

static void load(void)
{
  seal_dl_table tab;
  const curl_api *t;
  const curl_version_info_data *info;

  if (seal_dl_table_open(&tab, LIBCURL_SONAME, names, sizeof names / sizeof names[0], load_error,
                         sizeof load_error) != 0)
    return;
  t = (const curl_api *)tab.slots;
  /* the options seal sets must exist in the library it runs with */
  info = t->curl_version_info(CURLVERSION_NOW);
  if (info == NULL || info->version_num < LIBCURL_VERSION_NUM) {
    snprintf(load_error, sizeof load_error,
             "cannot load " LIBCURL_SONAME ": older than the " LIBCURL_VERSION
             " seal was built with");
    goto fail;
  }
  if (t->curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(load_error, sizeof load_error,
             "cannot load " LIBCURL_SONAME ": curl_global_init failed");
    goto fail;
  }
  if (seal_dl_table_seal(&tab, LIBCURL_SONAME, load_error, sizeof load_error) != 0) {
    t->curl_global_cleanup();
    goto fail;
  }
  api = t;
  return;
fail:
  seal_dl_table_close(&tab);
}

static const curl_api *get(void)
{
  pthread_once(&load_once, load);
  return api;
}

const char *seal_curl_load_error(void)
{
  return get() ? NULL : load_error;
}

/* ---- the API seal and kube call -------------------------------------------- */

CURLcode curl_global_init(long flags)
{
  const curl_api *a = get();
  return a ? a->curl_global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
  const curl_api *a = get();
  if (a)
    a->curl_global_cleanup();
}

curl_version_info_data *curl_version_info(CURLversion v)
{
  const curl_api *a = get();
  return a ? a->curl_version_info(v) : NULL;
}

CURL *curl_easy_init(void)
{
  const curl_api *a = get();
  return a ? a->curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
  if (h)
    get()->curl_easy_cleanup(h); /* a handle exists only when loaded */
}

/* rc = fn(handle, opt, the one argument after opt, read as its real type) */
#define FORWARD_OPTION(rc, fn, handle, opt, ap)             \
  do {                                                      \
    if ((opt) < CURLOPTTYPE_OBJECTPOINT)                    \
      rc = fn(handle, opt, va_arg(ap, long));               \
    else if ((opt) < CURLOPTTYPE_FUNCTIONPOINT)             \
      rc = fn(handle, opt, va_arg(ap, void *));             \
    else if ((opt) < CURLOPTTYPE_OFF_T)                     \
      rc = fn(handle, opt, va_arg(ap, void (*)(void)));     \
    else if ((opt) < CURLOPTTYPE_BLOB)                      \
      rc = fn(handle, opt, va_arg(ap, curl_off_t));         \
    else                                                    \
      rc = fn(handle, opt, va_arg(ap, struct curl_blob *)); \
  } while (0)

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
  const curl_api *a = get();
  CURLcode rc;
  va_list ap;

  if (a == NULL)
    return CURLE_FAILED_INIT;
  va_start(ap, opt);
  FORWARD_OPTION(rc, a->curl_easy_setopt, h, opt, ap);
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
  const curl_api *a = get();
  CURLcode rc;
  va_list ap;

  if (a == NULL)
    return CURLE_FAILED_INIT;
  va_start(ap, info);
  rc = a->curl_easy_getinfo(h, info, va_arg(ap, void *)); /* always a pointer to the result */
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
  const curl_api *a = get();
  return a ? a->curl_easy_perform(h) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
  const curl_api *a = get();
  return a ? a->curl_easy_strerror(code) : load_error;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
  const curl_api *a = get();
  return a ? a->curl_slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
  if (list)
    get()->curl_slist_free_all(list); /* a list exists only when loaded */
}

CURLM *curl_multi_init(void)
{
  const curl_api *a = get();
  return a ? a->curl_multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
  return m ? get()->curl_multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
  const curl_api *a = get();
  CURLMcode rc;
  va_list ap;

  if (a == NULL)
    return CURLM_BAD_HANDLE;
  va_start(ap, opt);
  FORWARD_OPTION(rc, a->curl_multi_setopt, m, opt, ap);
  va_end(ap);
  return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
  const curl_api *a = get();
  return a ? a->curl_multi_add_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
  const curl_api *a = get();
  return a ? a->curl_multi_remove_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
  const curl_api *a = get();
  return a ? a->curl_multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra_fds[], unsigned int n_extra,
                          int timeout_ms, int *numfds)
{
  const curl_api *a = get();
  return a ? a->curl_multi_poll(m, extra_fds, n_extra, timeout_ms, numfds) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_wakeup(CURLM *m)
{
  const curl_api *a = get();
  return a ? a->curl_multi_wakeup(m) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_timeout(CURLM *m, long *timeout_ms)
{
  const curl_api *a = get();
  return a ? a->curl_multi_timeout(m, timeout_ms) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *msgs_in_queue)
{
  const curl_api *a = get();
  return a ? a->curl_multi_info_read(m, msgs_in_queue) : NULL;
}
