/* Libraries seal opens on first use and their function tables (dl_table.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dl_table.h"

#include "banned.h"

int seal_dl_table_open(seal_dl_table *t, const char *soname, const char *const *names, size_t n,
                       char *err, size_t err_size)
{
  long page = sysconf(_SC_PAGESIZE);
  size_t i, need = n * sizeof(void *);
  void *map;

  t->lib = NULL;
  t->slots = NULL;
  t->size = page > 0 && (size_t)page >= need ? (size_t)page : need;
  t->lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (t->lib == NULL) {
    snprintf(err, err_size, "cannot load %s: %s", soname, dlerror());
    return -1;
  }
  map = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    snprintf(err, err_size, "cannot load %s: %s", soname, strerror(errno));
    seal_dl_table_close(t);
    return -1;
  }
  t->slots = map;
  for (i = 0; i < n; i++) {
    t->slots[i] = dlsym(t->lib, names[i]);
    if (t->slots[i] == NULL) {
      const char *why = dlerror();
      snprintf(err, err_size, "cannot load %s: %s: %s", soname, names[i], why ? why : "not found");
      seal_dl_table_close(t);
      return -1;
    }
  }
  return 0;
}

int seal_dl_table_seal(seal_dl_table *t, const char *soname, char *err, size_t err_size)
{
  if (mprotect(t->slots, t->size, PROT_READ) != 0) {
    snprintf(err, err_size, "cannot load %s: %s", soname, strerror(errno));
    return -1;
  }
  return 0;
}

void seal_dl_table_close(seal_dl_table *t)
{
  if (t->slots != NULL)
    munmap(t->slots, t->size);
  if (t->lib != NULL)
    dlclose(t->lib);
  t->slots = NULL;
  t->lib = NULL;
}
