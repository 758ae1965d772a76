/* The work queue: keys held once, delayed adds, per-key exponential backoff
 * with jitter, giving up after max_retries, forgetting on success, order. The
 * queue takes the time as an argument, so every test drives an explicit clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

#include "banned.h"

#define BASE 100
#define MAXD 1500 /* not BASE times a power of two: the cap shows */

static ctl_queue *new_queue(long max_retries)
{
  ctl_queue *q = NULL;
  assert_int_equal(ctl_queue_new(&q, max_retries, BASE, MAXD), 0);
  assert_non_null(q);
  return q;
}

/* Hands key out and fails it n times, each time when it is due; now moves on. */
static void fail_times(ctl_queue *q, const char *key, long n, int64_t *now)
{
  for (long i = 0; i < n; i++) {
    const char *k = ctl_queue_get(q, *now);
    assert_non_null(k);
    assert_string_equal(k, key);
    long before = ctl_queue_retries(q, key);
    assert_int_equal(ctl_queue_retry(q, key, *now), before + 1);
    *now += ctl_queue_next_due(q, *now);
  }
}

static void test_key_held_once(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(5);
  for (int i = 0; i < 50; i++)
    assert_int_equal(ctl_queue_add(q, "ns/a", 0), 0);
  assert_int_equal(ctl_queue_len(q), 1);
  assert_string_equal(ctl_queue_get(q, 0), "ns/a");
  assert_null(ctl_queue_get(q, 0));
  assert_int_equal(ctl_queue_len(q), 0);
  assert_int_equal(ctl_queue_processing(q), 1);
  ctl_queue_done(q, "ns/a", 0);
  assert_int_equal(ctl_queue_processing(q), 0);
  assert_null(ctl_queue_get(q, 1000000));
  assert_int_equal(ctl_queue_next_due(q, 0), -1);
  ctl_queue_free(q);
}

static void test_added_while_processing_comes_back_once(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(5);
  assert_int_equal(ctl_queue_add(q, "ns/a", 0), 0);
  assert_string_equal(ctl_queue_get(q, 0), "ns/a");
  /* changes arrive while it is processed: not handed out twice at once */
  for (int i = 0; i < 10; i++)
    assert_int_equal(ctl_queue_add(q, "ns/a", 1), 0);
  assert_null(ctl_queue_get(q, 1));
  assert_int_equal(ctl_queue_len(q), 0);
  ctl_queue_done(q, "ns/a", 2);
  assert_int_equal(ctl_queue_len(q), 1);
  assert_string_equal(ctl_queue_get(q, 2), "ns/a");
  assert_null(ctl_queue_get(q, 2));
  ctl_queue_done(q, "ns/a", 3);
  assert_null(ctl_queue_get(q, 1000000));
  ctl_queue_free(q);
}

static void test_fifo_order(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(5);
  const char *keys[] = {"ns/c", "ns/a", "ns/b", "other/a"};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(ctl_queue_add(q, keys[i], 0), 0);
  /* adding again does not move a key to the back */
  assert_int_equal(ctl_queue_add(q, "ns/c", 0), 0);
  for (size_t i = 0; i < 4; i++) {
    const char *k = ctl_queue_get(q, 0);
    assert_non_null(k);
    assert_string_equal(k, keys[i]);
  }
  for (size_t i = 0; i < 4; i++)
    ctl_queue_done(q, keys[i], 0);
  ctl_queue_free(q);
}

static void test_delayed_add(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(5);
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 500, 1000), 0);
  assert_int_equal(ctl_queue_len(q), 1);
  assert_int_equal(ctl_queue_next_due(q, 1000), 500);
  assert_int_equal(ctl_queue_next_due(q, 1200), 300);
  assert_null(ctl_queue_get(q, 1000));
  assert_null(ctl_queue_get(q, 1499));
  /* a later due time does not push it back */
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 5000, 1000), 0);
  assert_int_equal(ctl_queue_next_due(q, 1000), 500);
  /* an earlier one brings it forward */
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 100, 1000), 0);
  assert_int_equal(ctl_queue_next_due(q, 1000), 100);
  assert_null(ctl_queue_get(q, 1099));
  assert_int_equal(ctl_queue_next_due(q, 5000), 0); /* overdue: 0, not negative */
  assert_string_equal(ctl_queue_get(q, 1100), "ns/a");
  /* added twice with delays while processing: the earlier due time counts */
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 500, 1100), 0);
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 100, 1100), 0);
  assert_int_equal(ctl_queue_add_after(q, "ns/a", 900, 1100), 0);
  assert_null(ctl_queue_get(q, 1100));
  ctl_queue_done(q, "ns/a", 1150);
  assert_int_equal(ctl_queue_next_due(q, 1150), 50);
  assert_null(ctl_queue_get(q, 1199));
  assert_string_equal(ctl_queue_get(q, 1200), "ns/a");
  ctl_queue_done(q, "ns/a", 1200);

  /* an immediate add makes a delayed key ready now */
  assert_int_equal(ctl_queue_add_after(q, "ns/b", 10000, 0), 0);
  assert_int_equal(ctl_queue_add(q, "ns/b", 5), 0);
  assert_int_equal(ctl_queue_next_due(q, 5), 0);
  assert_string_equal(ctl_queue_get(q, 5), "ns/b");
  ctl_queue_done(q, "ns/b", 5);
  assert_int_equal(ctl_queue_len(q), 0);

  /* a negative delay is now */
  assert_int_equal(ctl_queue_add_after(q, "ns/c", -50, 7), 0);
  assert_string_equal(ctl_queue_get(q, 7), "ns/c");
  ctl_queue_done(q, "ns/c", 7);
  ctl_queue_free(q);
}

static void test_delayed_in_due_order(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(5);
  assert_int_equal(ctl_queue_add_after(q, "ns/late", 300, 0), 0);
  assert_int_equal(ctl_queue_add_after(q, "ns/early", 100, 0), 0);
  assert_int_equal(ctl_queue_add_after(q, "ns/mid", 200, 0), 0);
  assert_int_equal(ctl_queue_add(q, "ns/now", 0), 0);
  assert_string_equal(ctl_queue_get(q, 0), "ns/now");
  assert_null(ctl_queue_get(q, 99));
  assert_string_equal(ctl_queue_get(q, 1000), "ns/early");
  assert_string_equal(ctl_queue_get(q, 1000), "ns/mid");
  assert_string_equal(ctl_queue_get(q, 1000), "ns/late");
  assert_null(ctl_queue_get(q, 1000));
  ctl_queue_free(q);
}

/* After the n-th retry (n from 1), the key is due between 75% and 100% of
 * min(BASE * 2^(n-1), MAXD) from now, and not before. */
static void test_exponential_backoff(void **state)
{
  (void)state;
  for (unsigned seed = 1; seed <= 40; seed++) {
    srand(seed);
    ctl_queue *q = new_queue(20);
    int64_t now = 0;
    assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
    for (long n = 1; n <= 10; n++) {
      const char *k = ctl_queue_get(q, now);
      assert_non_null(k);
      assert_string_equal(k, "ns/a");
      assert_int_equal(ctl_queue_retry(q, "ns/a", now), n);
      assert_int_equal(ctl_queue_retries(q, "ns/a"), n);
      int64_t d = BASE;
      for (long i = 1; i < n && d < MAXD; i++)
        d *= 2;
      if (d > MAXD)
        d = MAXD;
      int64_t due = ctl_queue_next_due(q, now);
      assert_in_range(due, d - d / 4, d);
      assert_int_equal(ctl_queue_len(q), 1);
      assert_null(ctl_queue_get(q, now + due - 1));
      now += due;
    }
    ctl_queue_free(q);
  }
}

static void test_backoff_is_per_key(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(20);
  int64_t now = 0;
  assert_int_equal(ctl_queue_add(q, "ns/bad", now), 0);
  fail_times(q, "ns/bad", 4, &now);
  assert_int_equal(ctl_queue_retries(q, "ns/bad"), 4);
  /* the failing key is 1500 ms (at least 1125) out after its next failure;
   * a fresh key failing once waits only the base delay */
  assert_string_equal(ctl_queue_get(q, now), "ns/bad");
  assert_int_equal(ctl_queue_retry(q, "ns/bad", now), 5);
  assert_int_equal(ctl_queue_add(q, "ns/good", now), 0);
  assert_string_equal(ctl_queue_get(q, now), "ns/good");
  assert_int_equal(ctl_queue_retry(q, "ns/good", now), 1);
  assert_int_equal(ctl_queue_retries(q, "ns/good"), 1);
  assert_int_equal(ctl_queue_retries(q, "ns/bad"), 5);
  assert_in_range(ctl_queue_next_due(q, now), BASE - BASE / 4, BASE);
  assert_string_equal(ctl_queue_get(q, now + BASE), "ns/good");
  assert_null(ctl_queue_get(q, now + BASE));
  ctl_queue_done(q, "ns/good", now + BASE);
  ctl_queue_forget(q, "ns/good");
  ctl_queue_free(q);
}

static void test_max_retries_gives_up(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(3);
  int64_t now = 0;
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
  fail_times(q, "ns/a", 3, &now);
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 3);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  assert_int_equal(ctl_queue_retry(q, "ns/a", now), -1);
  /* given up: not queued, not processing, no failures remembered */
  assert_int_equal(ctl_queue_len(q), 0);
  assert_int_equal(ctl_queue_processing(q), 0);
  assert_int_equal(ctl_queue_next_due(q, now), -1);
  assert_null(ctl_queue_get(q, now + 1000000));
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 0);
  /* the object changes: it comes back at once, with a fresh backoff */
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  assert_int_equal(ctl_queue_retry(q, "ns/a", now), 1);
  assert_in_range(ctl_queue_next_due(q, now), BASE - BASE / 4, BASE);
  ctl_queue_free(q);
}

static void test_max_retries_zero(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(0);
  assert_int_equal(ctl_queue_add(q, "ns/a", 0), 0);
  assert_string_equal(ctl_queue_get(q, 0), "ns/a");
  assert_int_equal(ctl_queue_retry(q, "ns/a", 0), -1);
  assert_int_equal(ctl_queue_len(q), 0);
  assert_null(ctl_queue_get(q, 1000000));
  ctl_queue_free(q);
}

static void test_change_during_failing_reconcile_is_not_delayed(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  int64_t now = 0;
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
  fail_times(q, "ns/a", 3, &now);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0); /* the object changed meanwhile */
  assert_int_equal(ctl_queue_retry(q, "ns/a", now), 4);
  assert_int_equal(ctl_queue_next_due(q, now), 0);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  ctl_queue_done(q, "ns/a", now);
  ctl_queue_forget(q, "ns/a");
  ctl_queue_free(q);
}

static void test_forget_on_success(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  int64_t now = 0;
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
  fail_times(q, "ns/a", 4, &now);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  ctl_queue_done(q, "ns/a", now);
  /* done alone keeps the count (the loop forgets on success) */
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 4);
  ctl_queue_forget(q, "ns/a");
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 0);
  assert_int_equal(ctl_queue_len(q), 0);
  /* the next failure starts from the base delay again */
  assert_int_equal(ctl_queue_add(q, "ns/a", now), 0);
  assert_string_equal(ctl_queue_get(q, now), "ns/a");
  assert_int_equal(ctl_queue_retry(q, "ns/a", now), 1);
  assert_in_range(ctl_queue_next_due(q, now), BASE - BASE / 4, BASE);
  /* forgetting a queued key resets its count but keeps it queued */
  ctl_queue_forget(q, "ns/a");
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 0);
  assert_int_equal(ctl_queue_len(q), 1);
  assert_string_equal(ctl_queue_get(q, now + BASE), "ns/a");
  /* and while it is processed */
  ctl_queue_forget(q, "ns/a");
  assert_int_equal(ctl_queue_processing(q), 1);
  ctl_queue_done(q, "ns/a", now + BASE);
  assert_int_equal(ctl_queue_processing(q), 0);
  ctl_queue_forget(q, "ns/unknown");
  ctl_queue_free(q);
}

static void test_misuse_is_harmless(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  /* done or retry of a key not being processed changes nothing */
  ctl_queue_done(q, "ns/none", 0);
  assert_int_equal(ctl_queue_retry(q, "ns/none", 0), -1);
  assert_int_equal(ctl_queue_add(q, "ns/a", 0), 0);
  ctl_queue_done(q, "ns/a", 0);
  assert_int_equal(ctl_queue_retry(q, "ns/a", 0), -1);
  assert_int_equal(ctl_queue_len(q), 1);
  assert_int_equal(ctl_queue_retries(q, "ns/a"), 0);
  assert_string_equal(ctl_queue_get(q, 0), "ns/a");
  ctl_queue_done(q, "ns/a", 0);
  ctl_queue_done(q, "ns/a", 0);
  assert_int_equal(ctl_queue_processing(q), 0);
  assert_null(ctl_queue_get(q, 0));
  ctl_queue_free(q);
  ctl_queue_free(NULL);
}

static void test_key_length_limit(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  char key[CTL_QUEUE_KEY_MAX + 1];
  memset(key, 'k', sizeof(key));
  key[CTL_QUEUE_KEY_MAX] = '\0';
  assert_int_equal(ctl_queue_add(q, key, 0), -1);
  assert_int_equal(ctl_queue_add_after(q, key, 10, 0), -1);
  assert_int_equal(ctl_queue_len(q), 0);
  key[CTL_QUEUE_KEY_MAX - 1] = '\0';
  assert_int_equal(ctl_queue_add(q, key, 0), 0);
  assert_string_equal(ctl_queue_get(q, 0), key);
  ctl_queue_done(q, key, 0);
  assert_int_equal(ctl_queue_add(q, "", 0), 0);
  assert_string_equal(ctl_queue_get(q, 0), "");
  ctl_queue_done(q, "", 0);
  ctl_queue_free(q);
}

#define MANY 10000

static void test_many_keys_in_order(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  char key[64];
  for (int i = 0; i < MANY; i++) {
    snprintf(key, sizeof(key), "ns-%d/name-%d", i % 97, i);
    assert_int_equal(ctl_queue_add(q, key, 0), 0);
  }
  for (int i = 0; i < MANY; i += 3) { /* duplicates change nothing */
    snprintf(key, sizeof(key), "ns-%d/name-%d", i % 97, i);
    assert_int_equal(ctl_queue_add(q, key, 0), 0);
  }
  assert_int_equal(ctl_queue_len(q), MANY);
  for (int i = 0; i < MANY; i++) {
    snprintf(key, sizeof(key), "ns-%d/name-%d", i % 97, i);
    const char *k = ctl_queue_get(q, 0);
    assert_non_null(k);
    assert_string_equal(k, key);
  }
  assert_null(ctl_queue_get(q, 0));
  assert_int_equal(ctl_queue_processing(q), MANY);
  for (int i = 0; i < MANY; i++) {
    snprintf(key, sizeof(key), "ns-%d/name-%d", i % 97, i);
    ctl_queue_done(q, key, 0);
  }
  assert_int_equal(ctl_queue_processing(q), 0);
  assert_int_equal(ctl_queue_len(q), 0);
  ctl_queue_free(q);
}

static void test_many_delayed_keys_in_due_order(void **state)
{
  (void)state;
  ctl_queue *q = new_queue(10);
  char key[64];
  /* due times a permutation of 1..MANY (7919 is prime, coprime with MANY) */
  for (int i = 0; i < MANY; i++) {
    int due = (int)(((long)i * 7919) % MANY) + 1;
    snprintf(key, sizeof(key), "ns/k%d", due);
    assert_int_equal(ctl_queue_add_after(q, key, due * 10, 0), 0);
  }
  /* bring every tenth key forward to its due time minus 5 ms */
  for (int due = 10; due <= MANY; due += 10) {
    snprintf(key, sizeof(key), "ns/k%d", due);
    assert_int_equal(ctl_queue_add_after(q, key, due * 10 - 5, 0), 0);
  }
  /* every 7th key (in an order unrelated to the heap's) is wanted now: it
   * leaves the middle of the delayed heap */
  for (int i = 0; i < MANY; i++) {
    int due = (int)(((long)i * 3331) % MANY) + 1;
    if (due % 7 != 0)
      continue;
    snprintf(key, sizeof(key), "ns/k%d", due);
    assert_int_equal(ctl_queue_add(q, key, 0), 0);
  }
  assert_int_equal(ctl_queue_len(q), MANY);
  for (int i = 0; i < MANY; i++) {
    int due = (int)(((long)i * 3331) % MANY) + 1;
    if (due % 7 != 0)
      continue;
    snprintf(key, sizeof(key), "ns/k%d", due);
    const char *k = ctl_queue_get(q, 0);
    assert_non_null(k);
    assert_string_equal(k, key);
    ctl_queue_done(q, key, 0);
  }
  for (int due = 1; due <= MANY; due++) {
    if (due % 7 == 0)
      continue;
    int64_t at = (int64_t)due * 10 - (due % 10 == 0 ? 5 : 0);
    snprintf(key, sizeof(key), "ns/k%d", due);
    assert_int_equal(ctl_queue_next_due(q, 0), at);
    assert_null(ctl_queue_get(q, at - 1));
    const char *k = ctl_queue_get(q, at);
    assert_non_null(k);
    assert_string_equal(k, key);
    ctl_queue_done(q, key, at);
  }
  assert_int_equal(ctl_queue_len(q), 0);
  assert_int_equal(ctl_queue_next_due(q, 0), -1);
  ctl_queue_free(q);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_held_once),
      cmocka_unit_test(test_added_while_processing_comes_back_once),
      cmocka_unit_test(test_fifo_order),
      cmocka_unit_test(test_delayed_add),
      cmocka_unit_test(test_delayed_in_due_order),
      cmocka_unit_test(test_exponential_backoff),
      cmocka_unit_test(test_backoff_is_per_key),
      cmocka_unit_test(test_max_retries_gives_up),
      cmocka_unit_test(test_max_retries_zero),
      cmocka_unit_test(test_change_during_failing_reconcile_is_not_delayed),
      cmocka_unit_test(test_forget_on_success),
      cmocka_unit_test(test_misuse_is_harmless),
      cmocka_unit_test(test_key_length_limit),
      cmocka_unit_test(test_many_keys_in_order),
      cmocka_unit_test(test_many_delayed_keys_in_due_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
