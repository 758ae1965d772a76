/* Scopes, names, data keys, labels, RFC 3339 times and canonical base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "keys.h"
#include "vectors.h"

#include "banned.h"

static void test_vector_labels(void **state)
{
  const json_t *labels = json_object_get(vectors_root, "labels"), *v;
  size_t i;

  (void)state;
  assert_int_equal(json_array_size(labels), 3);
  json_array_foreach(labels, i, v) {
    keys_scope scope;
    char label[KEYS_LABEL_MAX];
    keys_error err = {0};

    assert_int_equal(keys_scope_parse(&scope, vectors_str(v, "scope")), KEYS_OK);
    assert_string_equal(keys_scope_name(scope), vectors_str(v, "scope"));
    assert_int_equal(keys_label(label, sizeof(label), scope, vectors_str(v, "namespace"),
                                vectors_str(v, "name"), vectors_str(v, "key"), &err),
                     KEYS_OK);
    assert_string_equal(label, vectors_str(v, "label"));
  }
}

static void test_scope_parse(void **state)
{
  keys_scope scope = KEYS_SCOPE_CLUSTER;

  (void)state;
  assert_int_equal(keys_scope_parse(&scope, NULL), KEYS_OK);
  assert_int_equal(scope, KEYS_SCOPE_STRICT);
  scope = KEYS_SCOPE_CLUSTER;
  assert_int_equal(keys_scope_parse(&scope, ""), KEYS_OK);
  assert_int_equal(scope, KEYS_SCOPE_STRICT);
  assert_int_equal(keys_scope_parse(&scope, "namespace-wide"), KEYS_OK);
  assert_int_equal(scope, KEYS_SCOPE_NAMESPACE);
  assert_int_equal(keys_scope_parse(&scope, "cluster"), KEYS_ERR_INVALID);
  assert_int_equal(keys_scope_parse(&scope, "Strict"), KEYS_ERR_INVALID);
  assert_int_equal(keys_scope_parse(&scope, "strict "), KEYS_ERR_INVALID);
  assert_string_equal(keys_scope_name((keys_scope)7), "unknown");
}

static void test_names(void **state)
{
  static const char *const good[] = {"a", "kotaemon", "seal-system", "a.b-c.d", "0", "x1"};
  static const char *const bad[] = {"",   "A",  "-a",  "a-",  "a..b", "a.-b",     "a-.b",
                                    ".a", "a.", "a_b", "a/b", "a b",  "\xc3\xa4", "a\n"};
  char name[300];

  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(keys_name_valid(good[i]));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (keys_name_valid(bad[i]))
      fail_msg("name \"%s\" was accepted", bad[i]);
  assert_false(keys_name_valid(NULL));
  memset(name, 'a', sizeof(name));
  name[KEYS_NAME_MAX] = '\0';
  assert_true(keys_name_valid(name));
  name[KEYS_NAME_MAX] = 'a';
  name[KEYS_NAME_MAX + 1] = '\0';
  assert_false(keys_name_valid(name));
}

static void test_data_keys(void **state)
{
  static const char *const good[] = {"OPENAI_API_KEY", "db.password", "-x", "a", "...",
                                     ".env",           "tls.crt"};
  static const char *const bad[] = {"", ".", "..", "a/b", "a b", "\xc3\xbc", "k=v", "a\n"};
  char key[300];

  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(keys_data_key_valid(good[i]));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (keys_data_key_valid(bad[i]))
      fail_msg("data key \"%s\" was accepted", bad[i]);
  assert_false(keys_data_key_valid(NULL));
  memset(key, 'K', sizeof(key));
  key[KEYS_NAME_MAX] = '\0';
  assert_true(keys_data_key_valid(key));
  key[KEYS_NAME_MAX] = 'K';
  key[KEYS_NAME_MAX + 1] = '\0';
  assert_false(keys_data_key_valid(key));
}

static void test_label_errors(void **state)
{
  char label[KEYS_LABEL_MAX], tiny[8], longest[KEYS_NAME_MAX + 1], key[KEYS_NAME_MAX + 1];
  keys_error err = {0};

  (void)state;
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "Bad", "n", "k", &err),
                   KEYS_ERR_INVALID);
  assert_non_null(strstr(err.message, "namespace \"Bad\""));
  assert_string_equal(label, "");
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "ns", "n_1", "k", &err),
                   KEYS_ERR_INVALID);
  assert_non_null(strstr(err.message, "name \"n_1\""));
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "ns", NULL, "k", &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "ns", "n", "a/b", &err),
                   KEYS_ERR_INVALID);
  assert_non_null(strstr(err.message, "data key \"a/b\""));
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_CLUSTER, NULL, NULL, "..", &err),
                   KEYS_ERR_INVALID);
  /* only what the scope uses is checked */
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_NAMESPACE, "ns", "Not_Used", "k",
                              &err),
                   KEYS_OK);
  assert_string_equal(label, "namespace/ns/k");
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_CLUSTER, NULL, NULL, "k", &err),
                   KEYS_OK);
  assert_string_equal(label, "cluster/k");
  assert_int_equal(keys_label(label, sizeof(label), (keys_scope)9, "ns", "n", "k", &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_label(tiny, sizeof(tiny), KEYS_SCOPE_STRICT, "ns", "n", "key", &err),
                   KEYS_ERR_INVALID);
  assert_string_equal(tiny, "");
  /* the longest strict label fits KEYS_LABEL_MAX: namespaces are DNS labels (63) */
  memset(longest, 'n', KEYS_NAME_MAX);
  longest[KEYS_NAME_MAX] = '\0';
  memset(key, 'K', KEYS_NAME_MAX);
  key[KEYS_NAME_MAX] = '\0';
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, longest, longest, key, &err),
                   KEYS_ERR_INVALID);
  assert_non_null(strstr(err.message, "namespace"));
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, "a.b", "n", "k", &err),
                   KEYS_ERR_INVALID);
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, longest + 253 - 63, longest,
                              key, &err),
                   KEYS_OK);
  assert_int_equal(strlen(label), 7 + 63 + 1 + 2 * KEYS_NAME_MAX + 1);
  assert_true(strlen(label) < KEYS_LABEL_MAX);
  assert_int_equal(keys_label(label, sizeof(label), KEYS_SCOPE_STRICT, longest + 253 - 64, longest,
                              key, &err),
                   KEYS_ERR_INVALID);
}

static void test_time(void **state)
{
  static const struct {
    const char *text;
    int64_t t;
  } good[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-11-25T00:00:00Z", 1795564800},
      {"2026-11-25t00:00:00z", 1795564800},
      {"2026-11-25T01:30:00+01:30", 1795564800},
      {"2026-11-24T22:00:00.123456-02:00", 1795564800},
      {"2024-02-29T12:00:00Z", 1709208000},
  };
  static const char *const bad[] = {
      "",
      "2026-11-25",
      "2026-11-25T00:00:00",
      "2026-11-25 00:00:00Z",
      "2026-02-29T00:00:00Z",
      "2026-11-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-25T24:00:00Z",
      "2026-11-25T00:60:00Z",
      "2026-11-25T00:00:00Zjunk",
      "2026-11-25T00:00:00.Z",
      "2026-11-25T00:00:00+0100",
      "26-11-25T00:00:00Z",
      "yesterday",
  };
  char text[32];
  int64_t t;

  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(keys_time_parse(&t, good[i].text), KEYS_OK);
    assert_int_equal(t, good[i].t);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (keys_time_parse(&t, bad[i]) != KEYS_ERR_INVALID)
      fail_msg("time \"%s\" was accepted", bad[i]);
  assert_int_equal(keys_time_format(text, sizeof(text), 1795564800), KEYS_OK);
  assert_string_equal(text, "2026-11-25T00:00:00Z");
  assert_int_equal(keys_time_parse(&t, text), KEYS_OK);
  assert_int_equal(t, 1795564800);
  assert_int_equal(keys_time_format(text, sizeof(text), -1), KEYS_ERR_INVALID);
  assert_int_equal(keys_time_format(text, 10, 0), KEYS_ERR_INVALID);
}

static void test_base64(void **state)
{
  static const char *const bad[] = {"QR==", "QUJ=", "QQ", "QQ=", "Q Q==", "QQ==\n",
                                    "QQ==QQ==", "====", "QQ=A", "Q===", "-_8=", "QQ==\r\n",
                                    /* libsodium 1.0.18 alone decodes these */
                                    "\xff\xff\xff\xff",
                                    "QUJD\x80"
                                    "A==",
                                    "QUJD\xc1"
                                    "A=="};
  uint8_t *bin = NULL;
  size_t len = 9;
  char *text = NULL;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (keys_base64_decode(&bin, &len, bad[i], strlen(bad[i])) != KEYS_ERR_MALFORMED)
      fail_msg("base64 \"%s\" was accepted", bad[i]);
    assert_null(bin);
    assert_int_equal(len, 0);
  }
  assert_int_equal(keys_base64_decode(&bin, &len, "QUJD+/8=", 8), KEYS_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(bin, "ABC\xfb\xff", 5);
  assert_int_equal(keys_base64_encode(&text, &len, bin, 5), KEYS_OK);
  assert_string_equal(text, "QUJD+/8=");
  assert_int_equal(len, 8);
  free(text);
  free(bin);
  assert_int_equal(keys_base64_decode(&bin, &len, "", 0), KEYS_OK);
  assert_non_null(bin);
  assert_int_equal(len, 0);
  free(bin);
  assert_int_equal(keys_base64_encode(&text, &len, NULL, 0), KEYS_OK);
  assert_string_equal(text, "");
  free(text);
}

/* Both decoders on text: the same status, and the same bytes when it decodes. */
static void decoders_agree(const char *text, size_t len)
{
  uint8_t *ref = NULL, *fast = NULL;
  size_t ref_len = 7, fast_len = 9;
  int ref_rc = keys_base64_decode(&ref, &ref_len, text, len);
  int fast_rc = keys_base64_decode_public(&fast, &fast_len, text, len);

  if (ref_rc != fast_rc)
    fail_msg("\"%.*s\": constant-time decoder %d, public decoder %d", (int)len, text, ref_rc,
             fast_rc);
  assert_int_equal(fast_len, ref_len);
  if (ref_rc == KEYS_OK)
    assert_memory_equal(fast, ref, ref_len);
  else
    assert_null(fast);
  free(ref);
  free(fast);
}

/* keys_base64_decode_public follows the same rules as keys_base64_decode:
 * every byte in each position of the last quad with one and two padding
 * characters, every byte in every position of texts with and without
 * padding, the bad examples above, and random lengths. */
static void test_base64_public(void **state)
{
  static const char *const bad[] = {"QR==",     "QUJ=", "QQ",   "QQ=",  "Q Q==", "QQ==\n",
                                    "QQ==QQ==", "====", "QQ=A", "Q===", "-_8=",  "QQ==\r\n"};
  static const char *const good[] = {"QUJD+/8=", "QUJDRA==", "QUJDREVG", "AAAA", "////"};
  char text[16];
  uint8_t bin[301];
  char *enc = NULL, *ref = NULL;
  size_t enc_len = 0, ref_len = 0;

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    decoders_agree(bad[i], strlen(bad[i]));
  decoders_agree("QUJD\0A==", 8); /* an embedded NUL */
  decoders_agree("QUJDQQ==\0\0\0\0", 12);
  decoders_agree("", 0);
  for (unsigned x = 0; x < 256; x++)
    for (unsigned y = 0; y < 256; y++) {
      memcpy(text, "QUJDxy==", 8);
      text[4] = (char)x;
      text[5] = (char)y;
      decoders_agree(text, 8); /* one byte in the last quad */
      for (unsigned z = 0; z < 256; z++) {
        if (x != 'Q' && x != '=' && x != '~')
          break;
        memcpy(text, "QUJDxyz=", 8);
        text[4] = (char)x;
        text[5] = (char)y;
        text[6] = (char)z;
        decoders_agree(text, 8); /* two bytes in the last quad */
      }
    }
  for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
    size_t len = strlen(good[g]);
    for (size_t pos = 0; pos < len; pos++)
      for (unsigned c = 0; c < 256; c++) {
        memcpy(text, good[g], len);
        text[pos] = (char)c;
        decoders_agree(text, len);
      }
  }
  for (size_t len = 0; len <= sizeof bin; len++) {
    randombytes_buf(bin, len);
    assert_int_equal(keys_base64_encode_public(&enc, &enc_len, bin, len), KEYS_OK);
    assert_int_equal(keys_base64_encode(&ref, &ref_len, bin, len), KEYS_OK);
    assert_int_equal(enc_len, ref_len);
    assert_string_equal(enc, ref);
    decoders_agree(enc, enc_len);
    free(enc);
    free(ref);
  }
  assert_int_equal(keys_base64_decode_public(NULL, &enc_len, "", 0), KEYS_ERR_INVALID);
  assert_int_equal(keys_base64_encode_public(&enc, NULL, NULL, 1), KEYS_ERR_INVALID);
}

static void test_strerror(void **state)
{
  (void)state;
  for (int s = KEYS_OK; s >= KEYS_ERR_CRYPTO; s--)
    assert_string_not_equal(keys_strerror(s), "unknown error");
  assert_string_equal(keys_strerror(-99), "unknown error");
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_labels), cmocka_unit_test(test_scope_parse),
      cmocka_unit_test(test_names),         cmocka_unit_test(test_data_keys),
      cmocka_unit_test(test_label_errors),  cmocka_unit_test(test_time),
      cmocka_unit_test(test_base64),        cmocka_unit_test(test_base64_public),
      cmocka_unit_test(test_strerror),
  };

  return vectors_main(argc, argv, "keys_label", tests, sizeof(tests) / sizeof(tests[0]));
}
