/* The string-keyed map: insert, replace (the old value freed once), remove,
 * iterate, many keys, values it does not own, NULL values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map.h"

#include "banned.h"

static int freed;

static void count_free(void *p)
{
  if (p != NULL)
    freed++;
  free(p);
}

static int *int_value(int v)
{
  int *p = malloc(sizeof(*p));
  assert_non_null(p);
  *p = v;
  return p;
}

static void test_put_get_replace_del(void **state)
{
  (void)state;
  ctl_map *m = NULL;
  freed = 0;
  assert_int_equal(ctl_map_new(&m, count_free), 0);
  assert_int_equal(ctl_map_len(m), 0);
  assert_null(ctl_map_get(m, "ns/a"));
  assert_int_equal(ctl_map_put(m, "ns/a", int_value(1)), 0);
  assert_int_equal(ctl_map_put(m, "ns/b", int_value(2)), 0);
  assert_int_equal(ctl_map_len(m), 2);
  assert_int_equal(*(int *)ctl_map_get(m, "ns/a"), 1);
  assert_int_equal(*(int *)ctl_map_get(m, "ns/b"), 2);
  assert_null(ctl_map_get(m, "ns/c"));
  assert_null(ctl_map_get(m, "ns/"));
  assert_null(ctl_map_get(m, "ns/aa"));
  /* replacing frees the old value, keeps the count */
  assert_int_equal(ctl_map_put(m, "ns/a", int_value(10)), 0);
  assert_int_equal(freed, 1);
  assert_int_equal(ctl_map_len(m), 2);
  assert_int_equal(*(int *)ctl_map_get(m, "ns/a"), 10);
  /* putting the same pointer again frees nothing */
  assert_int_equal(ctl_map_put(m, "ns/a", ctl_map_get(m, "ns/a")), 0);
  assert_int_equal(freed, 1);
  assert_int_equal(*(int *)ctl_map_get(m, "ns/a"), 10);
  /* removal frees; removing again fails */
  assert_int_equal(ctl_map_del(m, "ns/a"), 0);
  assert_int_equal(freed, 2);
  assert_int_equal(ctl_map_del(m, "ns/a"), -1);
  assert_int_equal(freed, 2);
  assert_null(ctl_map_get(m, "ns/a"));
  assert_int_equal(ctl_map_len(m), 1);
  /* the empty key is a key like any other */
  assert_int_equal(ctl_map_put(m, "", int_value(0)), 0);
  assert_int_equal(*(int *)ctl_map_get(m, ""), 0);
  assert_int_equal(ctl_map_len(m), 2);
  ctl_map_free(m);
  assert_int_equal(freed, 4);
  ctl_map_free(NULL);
}

static void test_null_values_and_no_ownership(void **state)
{
  (void)state;
  ctl_map *m = NULL;
  static int a = 1, b = 2;
  assert_int_equal(ctl_map_new(&m, NULL), 0);
  assert_int_equal(ctl_map_put(m, "a", &a), 0);
  assert_int_equal(ctl_map_put(m, "a", &b), 0); /* not owned: not freed (no crash) */
  assert_ptr_equal(ctl_map_get(m, "a"), &b);
  assert_int_equal(ctl_map_put(m, "n", NULL), 0);
  assert_int_equal(ctl_map_len(m), 2);
  assert_null(ctl_map_get(m, "n"));
  assert_int_equal(ctl_map_del(m, "n"), 0);
  assert_int_equal(ctl_map_del(m, "n"), -1);
  assert_int_equal(ctl_map_del(m, "a"), 0);
  assert_int_equal(ctl_map_len(m), 0);
  ctl_map_free(m);

  /* an owning map with a NULL value frees nothing for it */
  freed = 0;
  assert_int_equal(ctl_map_new(&m, count_free), 0);
  assert_int_equal(ctl_map_put(m, "n", NULL), 0);
  assert_int_equal(ctl_map_put(m, "n", int_value(3)), 0);
  assert_int_equal(freed, 0);
  ctl_map_free(m);
  assert_int_equal(freed, 1);
}

typedef struct seen {
  unsigned char *hits;
  size_t n;
  size_t calls;
  int bad;
} seen;

static void visit(void *ud, const char *key, void *value)
{
  seen *s = ud;
  int i = *(int *)value;
  char want[64];
  s->calls++;
  snprintf(want, sizeof(want), "ns-%d/secret-%d", i % 13, i);
  if (i < 0 || (size_t)i >= s->n || strcmp(key, want) != 0) {
    s->bad++;
    return;
  }
  s->hits[i]++;
}

#define MANY 100000

static void test_many_keys_iterate(void **state)
{
  (void)state;
  ctl_map *m = NULL;
  char key[64];
  freed = 0;
  assert_int_equal(ctl_map_new(&m, count_free), 0);
  for (int i = 0; i < MANY; i++) {
    snprintf(key, sizeof(key), "ns-%d/secret-%d", i % 13, i);
    assert_int_equal(ctl_map_put(m, key, int_value(i)), 0);
  }
  assert_int_equal(ctl_map_len(m), MANY);
  for (int i = 0; i < MANY; i++) {
    snprintf(key, sizeof(key), "ns-%d/secret-%d", i % 13, i);
    int *v = ctl_map_get(m, key);
    assert_non_null(v);
    assert_int_equal(*v, i);
  }
  /* remove the odd ones */
  for (int i = 1; i < MANY; i += 2) {
    snprintf(key, sizeof(key), "ns-%d/secret-%d", i % 13, i);
    assert_int_equal(ctl_map_del(m, key), 0);
  }
  assert_int_equal(freed, MANY / 2);
  assert_int_equal(ctl_map_len(m), MANY / 2);

  seen s = {.hits = calloc(MANY, 1), .n = MANY};
  assert_non_null(s.hits);
  ctl_map_each(m, visit, &s);
  assert_int_equal(s.bad, 0);
  assert_int_equal(s.calls, MANY / 2);
  for (int i = 0; i < MANY; i++)
    assert_int_equal(s.hits[i], i % 2 == 0 ? 1 : 0);
  free(s.hits);
  ctl_map_free(m);
  assert_int_equal(freed, MANY);
}

static void test_each_on_empty_map(void **state)
{
  (void)state;
  ctl_map *m = NULL;
  seen s = {.hits = NULL, .n = 0};
  assert_int_equal(ctl_map_new(&m, free), 0);
  ctl_map_each(m, visit, &s);
  assert_int_equal(s.calls, 0);
  ctl_map_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_replace_del),
      cmocka_unit_test(test_null_values_and_no_ownership),
      cmocka_unit_test(test_many_keys_iterate),
      cmocka_unit_test(test_each_on_empty_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
