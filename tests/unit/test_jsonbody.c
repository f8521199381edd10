/*
 * test_jsonbody.c - JSON request bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "params.h"

static const pb_limits lim = {
    .body_max = 4096,
    .fields_max = 8,
    .name_max = 16,
    .value_max = 32,
    .upload_max = 1024,
    .uploads_max = 2,
};

static json_t *parse(const char *s, pb_input_error *err)
{
    memset(err, 0, sizeof *err);
    return pb_json_body_parse(s, strlen(s), &lim, err);
}

/* Returns n nested arrays: "[[...]]". Caller frees. */
static char *nested(int n)
{
    char *s = malloc(2 * (size_t)n + 1);
    memset(s, '[', (size_t)n);
    memset(s + n, ']', (size_t)n);
    s[2 * n] = '\0';
    return s;
}

static void test_object_accepted(void **state)
{
    (void)state;
    pb_input_error err;
    json_t *v = parse("{\"a\": 1, \"b\": [true, null]}", &err);
    assert_true(json_is_object(v));
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
}

static void test_array_accepted(void **state)
{
    (void)state;
    pb_input_error err;
    json_t *v = parse(" [1, 2] \n", &err);
    assert_true(json_is_array(v));
    json_decref(v);
}

static void test_number_at_top_level_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("42", &err));
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "JSON body must be an object or an array");
}

static void test_string_at_top_level_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("\"{}\"", &err));
    assert_string_equal(err.msg, "JSON body must be an object or an array");
}

static void test_empty_body_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("", &err));
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "request body is empty (expected a JSON object or array)");
}

static void test_whitespace_only_body_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse(" \r\n\t", &err));
    assert_string_equal(err.msg, "request body is empty (expected a JSON object or array)");
}

static void test_duplicate_key_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("{\"a\": 1, \"a\": 2}", &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "duplicate object key"));
}

static void test_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("{\n  \"a\": }", &err));
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "invalid JSON at line 2, column 8: unexpected token near '}'");
}

static void test_trailing_garbage_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("{} x", &err));
    assert_int_equal(err.status, 400);
}

static void test_nul_escape_rejected_without_flag_name(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("{\"a\": \"\\u0000\"}", &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.msg, "\\u0000 is not allowed in strings"));
    assert_null(strstr(err.msg, "JSON_ALLOW_NUL"));
}

static void test_invalid_utf8_rejected_with_printable_message(void **state)
{
    (void)state;
    pb_input_error err;
    assert_null(parse("{\"a\": \"\xff\xfe\"}", &err));
    assert_int_equal(err.status, 400);
    for (const char *p = err.msg; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_depth_64_accepted(void **state)
{
    (void)state;
    pb_input_error err;
    char *s = nested(PB_JSON_DEPTH_MAX);
    json_t *v = parse(s, &err);
    assert_non_null(v);
    json_decref(v);
    free(s);
}

static void test_depth_65_rejected(void **state)
{
    (void)state;
    pb_input_error err;
    char *s = nested(PB_JSON_DEPTH_MAX + 1);
    assert_null(parse(s, &err));
    assert_int_equal(err.status, 400);
    assert_string_equal(err.msg, "JSON nests deeper than 64 levels (line 1, column 65)");
    free(s);
}

static void test_depth_counts_objects_and_arrays(void **state)
{
    (void)state;
    pb_input_error err;
    char s[4 * 65 + 16] = "";
    for (int i = 0; i < 33; i++)
        strcat(s, "{\"a\":[");
    assert_null(parse(s, &err));
    assert_non_null(strstr(err.msg, "deeper than 64"));
}

static void test_brackets_inside_strings_not_counted(void **state)
{
    (void)state;
    pb_input_error err;
    char s[256] = "{\"k\\\"[[\": \"";
    memset(s + strlen(s), '[', 100);
    strcat(s, "\"}");
    json_t *v = parse(s, &err);
    assert_non_null(v);
    json_decref(v);
}

static void test_body_over_cap_is_413(void **state)
{
    (void)state;
    pb_input_error err;
    char *s = malloc(lim.body_max + 2);
    memset(s, ' ', lim.body_max + 1);
    s[0] = '[';
    s[lim.body_max] = ']';
    s[lim.body_max + 1] = '\0';
    assert_null(parse(s, &err));
    assert_int_equal(err.status, 413);
    assert_string_equal(err.msg, "request body is larger than 4096 bytes");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_accepted),
        cmocka_unit_test(test_array_accepted),
        cmocka_unit_test(test_number_at_top_level_rejected),
        cmocka_unit_test(test_string_at_top_level_rejected),
        cmocka_unit_test(test_empty_body_rejected),
        cmocka_unit_test(test_whitespace_only_body_rejected),
        cmocka_unit_test(test_duplicate_key_rejected),
        cmocka_unit_test(test_syntax_error_names_line_and_column),
        cmocka_unit_test(test_trailing_garbage_rejected),
        cmocka_unit_test(test_nul_escape_rejected_without_flag_name),
        cmocka_unit_test(test_invalid_utf8_rejected_with_printable_message),
        cmocka_unit_test(test_depth_64_accepted),
        cmocka_unit_test(test_depth_65_rejected),
        cmocka_unit_test(test_depth_counts_objects_and_arrays),
        cmocka_unit_test(test_brackets_inside_strings_not_counted),
        cmocka_unit_test(test_body_over_cap_is_413),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
