#ifndef SEAL_CTL_MAP_H
#define SEAL_CTL_MAP_H

/* A string-keyed hash map of owned values ("namespace/name" -> entry). */

#include <stddef.h>

#define CTL_MAP_MAX_ENTRIES 1000000

typedef struct ctl_map ctl_map;
typedef void (*ctl_map_free_fn)(void *value);

int ctl_map_new(ctl_map **out, ctl_map_free_fn free_value);
void ctl_map_free(ctl_map *m);
void *ctl_map_get(const ctl_map *m, const char *key);
/* Takes value; replaces (and frees) an older one. -1 when full or out of memory
 * (value is then left to the caller). */
int ctl_map_put(ctl_map *m, const char *key, void *value);
/* Frees the value; 0 if it was there, -1 otherwise. */
int ctl_map_del(ctl_map *m, const char *key);
size_t ctl_map_len(const ctl_map *m);
/* Calls fn for each entry; fn must not change the map. */
void ctl_map_each(const ctl_map *m, void (*fn)(void *ud, const char *key, void *value), void *ud);

#endif
