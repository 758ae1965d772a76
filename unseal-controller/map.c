#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

#include "banned.h"

typedef struct node {
  struct node *next;
  void *value;
  char key[];
} node;

struct ctl_map {
  node **b;
  size_t nb;
  size_t n;
  ctl_map_free_fn free_value;
};

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

int ctl_map_new(ctl_map **out, ctl_map_free_fn free_value)
{
  ctl_map *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return -1;
  m->nb = 256;
  m->b = calloc(m->nb, sizeof(*m->b));
  if (m->b == NULL) {
    free(m);
    return -1;
  }
  m->free_value = free_value;
  *out = m;
  return 0;
}

void ctl_map_free(ctl_map *m)
{
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->nb; i++) {
    node *e = m->b[i];
    while (e) {
      node *next = e->next;
      if (m->free_value)
        m->free_value(e->value);
      free(e);
      e = next;
    }
  }
  free(m->b);
  free(m);
}

static node **slot(const ctl_map *m, const char *key)
{
  node **pp = &m->b[hash_str(key) & (m->nb - 1)];
  while (*pp && strcmp((*pp)->key, key) != 0)
    pp = &(*pp)->next;
  return pp;
}

void *ctl_map_get(const ctl_map *m, const char *key)
{
  node *e = *slot(m, key);
  return e ? e->value : NULL;
}

static void grow(ctl_map *m)
{
  size_t nb = m->nb * 2;
  node **b = calloc(nb, sizeof(*b));
  if (b == NULL)
    return;
  for (size_t i = 0; i < m->nb; i++) {
    node *e = m->b[i];
    while (e) {
      node *next = e->next;
      size_t j = hash_str(e->key) & (nb - 1);
      e->next = b[j];
      b[j] = e;
      e = next;
    }
  }
  free(m->b);
  m->b = b;
  m->nb = nb;
}

int ctl_map_put(ctl_map *m, const char *key, void *value)
{
  node **pp = slot(m, key);
  if (*pp) {
    if (m->free_value && (*pp)->value != value)
      m->free_value((*pp)->value);
    (*pp)->value = value;
    return 0;
  }
  if (m->n >= CTL_MAP_MAX_ENTRIES)
    return -1;
  size_t len = strlen(key);
  node *e = malloc(sizeof(*e) + len + 1);
  if (e == NULL)
    return -1;
  memcpy(e->key, key, len + 1);
  e->value = value;
  e->next = NULL;
  *pp = e;
  m->n++;
  if (m->n > m->nb)
    grow(m);
  return 0;
}

int ctl_map_del(ctl_map *m, const char *key)
{
  node **pp = slot(m, key);
  node *e = *pp;
  if (e == NULL)
    return -1;
  *pp = e->next;
  if (m->free_value)
    m->free_value(e->value);
  free(e);
  m->n--;
  return 0;
}

size_t ctl_map_len(const ctl_map *m)
{
  return m->n;
}

void ctl_map_each(const ctl_map *m, void (*fn)(void *ud, const char *key, void *value), void *ud)
{
  for (size_t i = 0; i < m->nb; i++)
    for (node *e = m->b[i]; e; e = e->next)
      fn(ud, e->key, e->value);
}
