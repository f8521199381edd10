/*
 * test_cache.c - the cache's names: namespaces, keys and tags, and the
 * path segment an entry's name becomes in the operator's links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache.h"

static void test_namespace_shape(void **state)
{
    (void)state;
    assert_true(pb_cache_ns_ok("a"));
    assert_true(pb_cache_ns_ok("rbac_perms2"));
    assert_true(pb_cache_ns_ok("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_false(pb_cache_ns_ok("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(pb_cache_ns_ok(""));
    assert_false(pb_cache_ns_ok(NULL));
    assert_false(pb_cache_ns_ok("_a"));
    assert_false(pb_cache_ns_ok("9a"));
    assert_false(pb_cache_ns_ok("Aa"));
    assert_false(pb_cache_ns_ok("a-b"));
    assert_false(pb_cache_ns_ok("a:b")); /* would make entry names ambiguous */
    assert_false(pb_cache_ns_ok("a*"));  /* would widen a SCAN pattern */
}

static void test_key_length_counts_bytes(void **state)
{
    (void)state;
    char k[202];
    memset(k, 'x', sizeof k);
    k[200] = '\0';
    assert_true(pb_cache_key_ok(k));
    k[200] = 'x', k[201] = '\0';
    assert_false(pb_cache_key_ok(k));
    assert_false(pb_cache_key_ok(""));
    assert_false(pb_cache_key_ok(NULL));
}

static void test_key_refuses_controls_and_bad_utf8(void **state)
{
    (void)state;
    assert_true(pb_cache_key_ok("team:42/members?x=1 *"));
    assert_true(pb_cache_key_ok("caf\xc3\xa9 \xf0\x9f\x98\x80"));
    assert_false(pb_cache_key_ok("a\nb"));
    assert_false(pb_cache_key_ok("a\tb"));
    assert_false(pb_cache_key_ok("a\x7f"));
    assert_false(pb_cache_key_ok("\xc3"));             /* truncated */
    assert_false(pb_cache_key_ok("\xc0\xaf"));         /* overlong */
    assert_false(pb_cache_key_ok("\xed\xa0\x80"));     /* surrogate */
    assert_false(pb_cache_key_ok("\xf4\x90\x80\x80")); /* above U+10FFFF */
}

static void test_path_encoding_keeps_only_unreserved(void **state)
{
    (void)state;
    char out[64];
    assert_true(pb_cache_path_encode("ns:a/b c~d-e_f.g", out, sizeof out));
    assert_string_equal(out, "ns%3Aa%2Fb%20c~d-e_f.g");
    assert_true(pb_cache_path_encode("\xc3\xa9?#%", out, sizeof out));
    assert_string_equal(out, "%C3%A9%3F%23%25");
}

static void test_path_encoding_refuses_a_short_buffer(void **state)
{
    (void)state;
    char out[6];
    assert_true(pb_cache_path_encode("abcde", out, sizeof out));
    assert_false(pb_cache_path_encode("abcdef", out, sizeof out));
    assert_true(pb_cache_path_encode("ab/", out, sizeof out)); /* 2 + 3 + NUL: fits */
    assert_false(pb_cache_path_encode("abc/", out, sizeof out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespace_shape),
        cmocka_unit_test(test_key_length_counts_bytes),
        cmocka_unit_test(test_key_refuses_controls_and_bad_utf8),
        cmocka_unit_test(test_path_encoding_keeps_only_unreserved),
        cmocka_unit_test(test_path_encoding_refuses_a_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
