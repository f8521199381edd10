/*
 * test_urlenc.c - application/x-www-form-urlencoded and query strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "params.h"

static const pb_limits lim = {
    .body_max = 1 << 20,
    .fields_max = 4,
    .name_max = 16,
    .value_max = 32,
    .upload_max = 1024,
    .uploads_max = 2,
};

/* Parses s; returns the parser's result with fields in *p. */
static int parse(const char *s, pb_params *p, pb_input_error *err)
{
    memset(p, 0, sizeof *p);
    memset(err, 0, sizeof *err);
    return pb_urlenc_parse(s, strlen(s), &lim, p, err);
}

static void test_single_pair(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].name, "a");
    assert_string_equal(p.v[0].value, "1");
    assert_int_equal(p.v[0].len, 1);
    pb_params_free(&p);
}

static void test_pairs_kept_in_order(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("b=2&a=1&c=3", &p, &err), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.v[0].name, "b");
    assert_string_equal(p.v[1].name, "a");
    assert_string_equal(p.v[2].name, "c");
    pb_params_free(&p);
}

static void test_plus_is_space(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("q+x=a+b", &p, &err), 0);
    assert_string_equal(p.v[0].name, "q x");
    assert_string_equal(p.v[0].value, "a b");
    pb_params_free(&p);
}

static void test_percent_escapes_decoded(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("n%61me=%2B%26%3d%c3%A9", &p, &err), 0);
    assert_string_equal(p.v[0].name, "name");
    assert_string_equal(p.v[0].value, "+&=\xc3\xa9");
    pb_params_free(&p);
}

static void test_name_without_equals_has_empty_value(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("flag", &p, &err), 0);
    assert_string_equal(p.v[0].name, "flag");
    assert_string_equal(p.v[0].value, "");
    assert_int_equal(p.v[0].len, 0);
    pb_params_free(&p);
}

static void test_empty_sequences_skipped(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("&&a=1&&&b=2&", &p, &err), 0);
    assert_int_equal(p.n, 2);
    pb_params_free(&p);
}

static void test_empty_input_has_no_fields(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("", &p, &err), 0);
    assert_int_equal(p.n, 0);
    pb_params_free(&p);
}

static void test_value_keeps_later_equals(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=b=c", &p, &err), 0);
    assert_string_equal(p.v[0].value, "b=c");
    pb_params_free(&p);
}

static void test_empty_name_kept(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("=v", &p, &err), 0);
    assert_string_equal(p.v[0].name, "");
    assert_string_equal(p.v[0].value, "v");
    pb_params_free(&p);
}

static void test_semicolon_is_not_a_separator(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1;b=2", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].value, "1;b=2");
    pb_params_free(&p);
}

static void test_nul_in_value_kept_with_length(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=x%00y", &p, &err), 0);
    assert_int_equal(p.v[0].len, 3);
    assert_memory_equal(p.v[0].value, "x\0y", 4);
    pb_params_free(&p);
}

static void test_truncated_escape_is_400(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=%4", &p, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "malformed percent-escape \"%4\" in field \"a\"");
    pb_params_free(&p);
}

static void test_non_hex_escape_is_400(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("x=1&note=50%zz", &p, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "malformed percent-escape \"%zz\" in field \"note\"");
    pb_params_free(&p);
}

static void test_bad_escape_in_name_is_400(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a%g1=1", &p, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "malformed percent-escape \"%g1\" in field name \"a%g1\"");
    pb_params_free(&p);
}

static void test_nul_in_name_is_400(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a%00b=1", &p, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "field name \"a?b\" contains a NUL byte");
    pb_params_free(&p);
}

static void test_invalid_utf8_name_is_400(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("%ff=1", &p, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "field name \"?\" is not valid UTF-8");
    pb_params_free(&p);
}

static void test_utf8_name_accepted(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("%C3%A9t%C3%A9=1", &p, &err), 0);
    assert_string_equal(p.v[0].name, "\xc3\xa9t\xc3\xa9");
    pb_params_free(&p);
}

static void test_fields_at_limit_accepted(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1&b=2&c=3&d=4", &p, &err), 0);
    assert_int_equal(p.n, 4);
    pb_params_free(&p);
}

static void test_too_many_fields_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "too many form fields (limit 4)");
    pb_params_free(&p);
}

static void test_long_name_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("abcdefghijklmnopq=1", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "field name \"abcdefghijklmnopq\" is longer than 16 bytes");
    pb_params_free(&p);
}

static void test_long_value_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("x=123456789012345678901234567890123", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "field \"x\" is longer than 32 bytes");
    pb_params_free(&p);
}

static void test_value_cap_counts_decoded_bytes(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    char s[2 + 32 * 3 + 1] = "x=";
    for (int i = 0; i < 32; i++)
        strcat(s, "%41");
    assert_int_equal(parse(s, &p, &err), 0);
    assert_int_equal(p.v[0].len, 32);
    pb_params_free(&p);
}

static void test_get_returns_first_of_duplicates(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1&a=2", &p, &err), 0);
    assert_string_equal(pb_params_get(&p, "a")->value, "1");
    pb_params_free(&p);
}

static void test_get_missing_returns_null(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1", &p, &err), 0);
    assert_null(pb_params_get(&p, "b"));
    pb_params_free(&p);
}

static void test_free_leaves_params_empty(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1", &p, &err), 0);
    pb_params_free(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_pair),
        cmocka_unit_test(test_pairs_kept_in_order),
        cmocka_unit_test(test_plus_is_space),
        cmocka_unit_test(test_percent_escapes_decoded),
        cmocka_unit_test(test_name_without_equals_has_empty_value),
        cmocka_unit_test(test_empty_sequences_skipped),
        cmocka_unit_test(test_empty_input_has_no_fields),
        cmocka_unit_test(test_value_keeps_later_equals),
        cmocka_unit_test(test_empty_name_kept),
        cmocka_unit_test(test_semicolon_is_not_a_separator),
        cmocka_unit_test(test_nul_in_value_kept_with_length),
        cmocka_unit_test(test_truncated_escape_is_400),
        cmocka_unit_test(test_non_hex_escape_is_400),
        cmocka_unit_test(test_bad_escape_in_name_is_400),
        cmocka_unit_test(test_nul_in_name_is_400),
        cmocka_unit_test(test_invalid_utf8_name_is_400),
        cmocka_unit_test(test_utf8_name_accepted),
        cmocka_unit_test(test_fields_at_limit_accepted),
        cmocka_unit_test(test_too_many_fields_is_413),
        cmocka_unit_test(test_long_name_is_413),
        cmocka_unit_test(test_long_value_is_413),
        cmocka_unit_test(test_value_cap_counts_decoded_bytes),
        cmocka_unit_test(test_get_returns_first_of_duplicates),
        cmocka_unit_test(test_get_missing_returns_null),
        cmocka_unit_test(test_free_leaves_params_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
