/*
 * test_cookie.c - the Cookie request header.
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
    .fields_max = 3,
    .name_max = 8,
    .value_max = 16,
    .upload_max = 1024,
    .uploads_max = 2,
};

static int parse(const char *s, pb_params *p, pb_input_error *err)
{
    memset(p, 0, sizeof *p);
    memset(err, 0, sizeof *err);
    return pb_cookie_parse(s, strlen(s), &lim, p, err);
}

static void test_single_cookie(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("sid=abc123", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].name, "sid");
    assert_string_equal(p.v[0].value, "abc123");
    pb_params_free(&p);
}

static void test_pairs_separated_by_semicolon_space(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1; b=2; c=3", &p, &err), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(pb_params_get(&p, "c")->value, "3");
    pb_params_free(&p);
}

static void test_semicolon_without_space_accepted(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1;b=2", &p, &err), 0);
    assert_int_equal(p.n, 2);
    pb_params_free(&p);
}

static void test_whitespace_around_name_and_value_trimmed(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("  a \t= 1  ;\tb=2 ", &p, &err), 0);
    assert_string_equal(p.v[0].name, "a");
    assert_string_equal(p.v[0].value, "1");
    assert_string_equal(p.v[1].value, "2");
    pb_params_free(&p);
}

static void test_pair_without_equals_skipped(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("junk; a=1", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].name, "a");
    pb_params_free(&p);
}

static void test_empty_name_skipped(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("=x; a=1", &p, &err), 0);
    assert_int_equal(p.n, 1);
    pb_params_free(&p);
}

static void test_empty_value_kept(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=", &p, &err), 0);
    assert_string_equal(p.v[0].value, "");
    pb_params_free(&p);
}

static void test_value_keeps_later_equals(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("t=ab==", &p, &err), 0);
    assert_string_equal(p.v[0].value, "ab==");
    pb_params_free(&p);
}

static void test_surrounding_quotes_removed(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=\"x y\"", &p, &err), 0);
    assert_string_equal(p.v[0].value, "x y");
    pb_params_free(&p);
}

static void test_only_one_pair_of_quotes_removed(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=\"\"x\"\"", &p, &err), 0);
    assert_string_equal(p.v[0].value, "\"x\"");
    pb_params_free(&p);
}

static void test_lone_quote_kept(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=\"", &p, &err), 0);
    assert_string_equal(p.v[0].value, "\"");
    pb_params_free(&p);
}

static void test_control_character_in_name_skipped(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a\x01=1; b=2", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].name, "b");
    pb_params_free(&p);
}

static void test_empty_header_has_no_cookies(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("", &p, &err), 0);
    assert_int_equal(p.n, 0);
    pb_params_free(&p);
}

static void test_get_returns_first_of_duplicates(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=specific; a=general", &p, &err), 0);
    assert_string_equal(pb_params_get(&p, "a")->value, "specific");
    pb_params_free(&p);
}

static void test_too_many_cookies_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("a=1; b=2; c=3; d=4", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "too many cookies (limit 3)");
    pb_params_free(&p);
}

static void test_skipped_pairs_not_counted(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("x; y; a=1; b=2; c=3", &p, &err), 0);
    assert_int_equal(p.n, 3);
    pb_params_free(&p);
}

static void test_long_name_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("abcdefghi=1", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "cookie name \"abcdefghi\" is longer than 8 bytes");
    pb_params_free(&p);
}

static void test_long_value_is_413(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("sid=12345678901234567", &p, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "cookie \"sid\" is longer than 16 bytes");
    pb_params_free(&p);
}

static void test_value_cap_applies_after_quotes_removed(void **state)
{
    (void)state;
    pb_params p;
    pb_input_error err;
    assert_int_equal(parse("sid=\"1234567890123456\"", &p, &err), 0);
    assert_int_equal(p.v[0].len, 16);
    pb_params_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_cookie),
        cmocka_unit_test(test_pairs_separated_by_semicolon_space),
        cmocka_unit_test(test_semicolon_without_space_accepted),
        cmocka_unit_test(test_whitespace_around_name_and_value_trimmed),
        cmocka_unit_test(test_pair_without_equals_skipped),
        cmocka_unit_test(test_empty_name_skipped),
        cmocka_unit_test(test_empty_value_kept),
        cmocka_unit_test(test_value_keeps_later_equals),
        cmocka_unit_test(test_surrounding_quotes_removed),
        cmocka_unit_test(test_only_one_pair_of_quotes_removed),
        cmocka_unit_test(test_lone_quote_kept),
        cmocka_unit_test(test_control_character_in_name_skipped),
        cmocka_unit_test(test_empty_header_has_no_cookies),
        cmocka_unit_test(test_get_returns_first_of_duplicates),
        cmocka_unit_test(test_too_many_cookies_is_413),
        cmocka_unit_test(test_skipped_pairs_not_counted),
        cmocka_unit_test(test_long_name_is_413),
        cmocka_unit_test(test_long_value_is_413),
        cmocka_unit_test(test_value_cap_applies_after_quotes_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
