#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kube.h"

#include "banned.h"

static void core_and_group_paths(void **state)
{
  char buf[256];
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", NULL, NULL, NULL), 0);
  assert_string_equal(buf, "/api/v1/secrets");
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "ns", "name", NULL), 0);
  assert_string_equal(buf, "/api/v1/namespaces/ns/secrets/name");
  assert_int_equal(kube_path(buf, sizeof(buf), "seal.dev/v1", "sealedsecrets", "kotaemon", "llm",
                             "status"),
                   0);
  assert_string_equal(buf, "/apis/seal.dev/v1/namespaces/kotaemon/sealedsecrets/llm/status");
  assert_int_equal(kube_path(buf, sizeof(buf), "coordination.k8s.io/v1", "leases", "seal-system",
                             NULL, NULL),
                   0);
  assert_string_equal(buf, "/apis/coordination.k8s.io/v1/namespaces/seal-system/leases");
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "namespaces", NULL, "default", NULL), 0);
  assert_string_equal(buf, "/api/v1/namespaces/default");
}

static void bad_segments_are_refused(void **state)
{
  char buf[256] = "unchanged";
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "a/b", NULL, NULL),
                   KUBE_ERR_INVALID);
  assert_string_equal(buf, "");
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", NULL, "..", NULL),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "", NULL, NULL), KUBE_ERR_INVALID);
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "", NULL, NULL, NULL), KUBE_ERR_INVALID);
  assert_int_equal(kube_path(buf, sizeof(buf), "", "secrets", NULL, NULL, NULL), KUBE_ERR_INVALID);
  assert_int_equal(kube_path(buf, sizeof(buf), "/v1", "secrets", NULL, NULL, NULL),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_path(buf, sizeof(buf), "a/b/c", "secrets", NULL, NULL, NULL),
                   KUBE_ERR_INVALID);
  /* a subresource needs a name */
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "ns", NULL, "status"),
                   KUBE_ERR_INVALID);
  assert_int_equal(kube_path(NULL, 10, "v1", "secrets", NULL, NULL, NULL), KUBE_ERR_INVALID);
}

static void odd_characters_are_escaped(void **state)
{
  char buf[256];
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "ns", "a b?c#d%", NULL), 0);
  assert_string_equal(buf, "/api/v1/namespaces/ns/secrets/a%20b%3Fc%23d%25");
}

static void too_small_buffer_gives_nothing(void **state)
{
  char buf[20];
  memset(buf, 'z', sizeof(buf));
  assert_int_equal(kube_path(buf, sizeof(buf), "v1", "secrets", "namespace", "name", NULL),
                   KUBE_ERR_INVALID);
  assert_string_equal(buf, "");
  /* exactly fitting works: "/api/v1/secrets" is 15 bytes */
  assert_int_equal(kube_path(buf, 16, "v1", "secrets", NULL, NULL, NULL), 0);
  assert_string_equal(buf, "/api/v1/secrets");
  assert_int_equal(kube_path(buf, 15, "v1", "secrets", NULL, NULL, NULL), KUBE_ERR_INVALID);
}

static void query_building(void **state)
{
  char buf[256] = "/api/v1/secrets";
  assert_int_equal(kube_query_add(buf, sizeof(buf), "labelSelector",
                                  "app in (a,b),tier!=x,seal.dev/unsealed=true"),
                   0);
  assert_string_equal(buf, "/api/v1/secrets?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dx%"
                           "2Cseal.dev%2Funsealed%3Dtrue");
  assert_int_equal(kube_query_add(buf, sizeof(buf), "limit", "500"), 0);
  assert_true(strstr(buf, "&limit=500") != NULL);
  /* a continue token keeps its '=' escaped */
  {
    char b2[64] = "/x";
    assert_int_equal(kube_query_add(b2, sizeof(b2), "continue", "eyJ2Ijo=="), 0);
    assert_string_equal(b2, "/x?continue=eyJ2Ijo%3D%3D");
  }
}

static void query_that_does_not_fit_leaves_path_alone(void **state)
{
  char buf[24] = "/api/v1/secrets";
  assert_int_equal(kube_query_add(buf, sizeof(buf), "labelSelector", "a=b"), KUBE_ERR_INVALID);
  assert_string_equal(buf, "/api/v1/secrets");
  assert_int_equal(kube_query_add(buf, sizeof(buf), "", "x"), KUBE_ERR_INVALID);
  assert_int_equal(kube_query_add(buf, sizeof(buf), "k", NULL), KUBE_ERR_INVALID);
  assert_string_equal(buf, "/api/v1/secrets");
}

static void strerror_names_every_code(void **state)
{
  for (int e = KUBE_OK; e >= KUBE_ERR_CANCELLED; e--)
    assert_string_not_equal(kube_strerror(e), "unknown error");
  assert_string_equal(kube_strerror(-999), "unknown error");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(core_and_group_paths),
      cmocka_unit_test(bad_segments_are_refused),
      cmocka_unit_test(odd_characters_are_escaped),
      cmocka_unit_test(too_small_buffer_gives_nothing),
      cmocka_unit_test(query_building),
      cmocka_unit_test(query_that_does_not_fit_leaves_path_alone),
      cmocka_unit_test(strerror_names_every_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
