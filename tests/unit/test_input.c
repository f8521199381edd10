/*
 * test_input.c - typed accessors over route, body and query fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "input.h"

static int setup(void **state)
{
    pb_input *in = calloc(1, sizeof *in);
    *state = in;
    return in == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    pb_input_free(*state);
    free(*state);
    return 0;
}

static void add(pb_params *p, const char *name, const char *value)
{
    assert_int_equal(pb_params_add(p, name, strlen(name), value, strlen(value)), 0);
}

static void set_json(pb_input *in, const char *text)
{
    in->json = json_loads(text, 0, NULL);
    assert_non_null(in->json);
}

/* Returns the recorded message for name, or NULL. */
static const char *error_of(const pb_input *in, const char *name)
{
    return json_string_value(json_object_get(in->errors, name));
}

/* ------------------------------------------------------------------------
 * Lookup order and errors
 * ------------------------------------------------------------------------ */

static void test_route_beats_body_and_query(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->route, "id", "route");
    add(&in->form, "id", "form");
    add(&in->query, "id", "query");
    const char *v;
    assert_int_equal(pb_input_str(in, "id", 0, 0, 0, &v), PB_OK);
    assert_string_equal(v, "route");
}

static void test_form_beats_query(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "q", "form");
    add(&in->query, "q", "query");
    const char *v;
    assert_int_equal(pb_input_str(in, "q", 0, 0, 0, &v), PB_OK);
    assert_string_equal(v, "form");
}

static void test_json_member_beats_query(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"q\": \"json\"}");
    add(&in->query, "q", "query");
    const char *v;
    assert_int_equal(pb_input_str(in, "q", 0, 0, 0, &v), PB_OK);
    assert_string_equal(v, "json");
}

static void test_query_used_when_body_lacks_name(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"other\": 1}");
    add(&in->query, "page", "2");
    long long v;
    assert_int_equal(pb_input_int(in, "page", 0, 1, 100, &v), PB_OK);
    assert_int_equal(v, 2);
}

static void test_json_array_body_has_no_fields(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "[\"q\"]");
    const char *v;
    assert_int_equal(pb_input_str(in, "q", 0, 0, 0, &v), PB_ABSENT);
}

static void test_cookies_never_read(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->cookies, "sid", "secret");
    const char *v;
    assert_int_equal(pb_input_str(in, "sid", 0, 0, 0, &v), PB_ABSENT);
}

static void test_empty_first_source_counts_as_absent(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "q", "");
    add(&in->query, "q", "query");
    const char *v = "untouched";
    assert_int_equal(pb_input_str(in, "q", 0, 0, 0, &v), PB_ABSENT);
    assert_string_equal(v, "untouched");
}

static void test_json_null_counts_as_absent(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"n\": null}");
    long long v;
    assert_int_equal(pb_input_int(in, "n", 0, 0, 10, &v), PB_ABSENT);
}

static void test_required_missing_records_is_required(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v;
    assert_int_equal(pb_input_str(in, "name", PB_REQUIRED, 0, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "name"), "is required");
}

static void test_required_empty_records_is_required(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "name", "");
    const char *v;
    assert_int_equal(pb_input_str(in, "name", PB_REQUIRED, 0, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "name"), "is required");
}

static void test_errors_null_until_first_error(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "a", "x");
    const char *v;
    assert_int_equal(pb_input_str(in, "a", 0, 0, 0, &v), PB_OK);
    assert_null(in->errors);
}

static void test_first_error_per_field_wins(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "qty", "abc");
    long long v;
    assert_int_equal(pb_input_int(in, "qty", 0, 1, 9, &v), PB_INVALID);
    assert_int_equal(pb_input_fail(in, "qty", "second"), PB_INVALID);
    assert_string_equal(error_of(in, "qty"), "must be a whole number between 1 and 9");
}

static void test_fail_records_custom_message(void **state)
{
    (void)state;
    pb_input *in = *state;
    assert_int_equal(pb_input_fail(in, "email", "is already taken"), PB_INVALID);
    assert_string_equal(error_of(in, "email"), "is already taken");
}

static void test_errors_kept_per_field(void **state)
{
    (void)state;
    pb_input *in = *state;
    pb_input_fail(in, "a", "bad a");
    pb_input_fail(in, "b", "bad b");
    assert_int_equal(json_object_size(in->errors), 2);
}

static void test_free_removes_uploaded_files(void **state)
{
    (void)state;
    pb_input *in = *state;
    char path[] = "/tmp/pb-test-input-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    add(&in->form, "f", "");
    in->form.v[0].path = strdup(path);
    pb_input_free(in);
    assert_int_equal(access(path, F_OK), -1);
}

/* ------------------------------------------------------------------------
 * pb_input_str
 * ------------------------------------------------------------------------ */

static void test_str_ok(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "name", "Ada");
    const char *v;
    assert_int_equal(pb_input_str(in, "name", PB_REQUIRED, 1, 10, &v), PB_OK);
    assert_string_equal(v, "Ada");
}

static void test_str_absent_leaves_out_untouched(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v = "default";
    assert_int_equal(pb_input_str(in, "name", 0, 1, 10, &v), PB_ABSENT);
    assert_string_equal(v, "default");
    assert_null(in->errors);
}

static void test_str_not_trimmed(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "  a  ");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_OK);
    assert_string_equal(v, "  a  ");
}

static void test_str_length_counts_code_points(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"); /* é € 😀: 9 bytes */
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 3, 3, &v), PB_OK);
}

static void test_str_at_max_accepted(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "abcde");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 1, 5, &v), PB_OK);
}

static void test_str_over_max_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "abcdef");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 1, 5, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be at most 5 characters");
}

static void test_str_under_min_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "ab");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 3, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be at least 3 characters");
}

static void test_str_range_message_names_both_bounds(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "ab");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 3, 20, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be between 3 and 20 characters");
}

static void test_str_exact_length_message(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "ab");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 1, 1, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be exactly 1 character");
}

static void test_str_max_zero_means_unbounded(void **state)
{
    (void)state;
    pb_input *in = *state;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    add(&in->form, "s", big);
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_OK);
}

static void test_str_invalid_utf8_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "a\xc3(");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be valid UTF-8 text");
}

static void test_str_overlong_utf8_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "\xc0\xaf");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_INVALID);
}

static void test_str_surrogate_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "s", "\xed\xa0\x80");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_INVALID);
}

static void test_str_nul_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    assert_int_equal(pb_params_add(&in->form, "s", 1, "a\0b", 3), 0);
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must not contain NUL characters");
}

static void test_str_from_json_string(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"s\": \"caf\\u00e9\"}");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 4, 4, &v), PB_OK);
    assert_string_equal(v, "caf\xc3\xa9");
}

static void test_str_from_json_number_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"s\": 5}");
    const char *v;
    assert_int_equal(pb_input_str(in, "s", 0, 0, 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "s"), "must be a string");
}

/* ------------------------------------------------------------------------
 * pb_input_int
 * ------------------------------------------------------------------------ */

static int int_of(pb_input *in, const char *text, long long min, long long max, long long *v)
{
    add(&in->form, "n", text);
    return pb_input_int(in, "n", 0, min, max, v);
}

static void test_int_ok(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "42", 1, 100, &v), PB_OK);
    assert_int_equal(v, 42);
}

static void test_int_negative(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "-7", -10, 10, &v), PB_OK);
    assert_int_equal(v, -7);
}

static void test_int_absent(void **state)
{
    (void)state;
    long long v = 5;
    assert_int_equal(pb_input_int(*state, "n", 0, 1, 100, &v), PB_ABSENT);
    assert_int_equal(v, 5);
}

static void test_int_required_missing(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    assert_int_equal(pb_input_int(in, "n", PB_REQUIRED, 1, 100, &v), PB_INVALID);
    assert_string_equal(error_of(in, "n"), "is required");
}

static void test_int_min_and_max_accepted(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    add(&in->form, "lo", "1");
    add(&in->form, "hi", "100");
    assert_int_equal(pb_input_int(in, "lo", 0, 1, 100, &v), PB_OK);
    assert_int_equal(pb_input_int(in, "hi", 0, 1, 100, &v), PB_OK);
    assert_int_equal(v, 100);
}

static void test_int_below_min_rejected_with_range(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    assert_int_equal(int_of(in, "0", 1, 100, &v), PB_INVALID);
    assert_string_equal(error_of(in, "n"), "must be a whole number between 1 and 100");
}

static void test_int_above_max_rejected(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "101", 1, 100, &v), PB_INVALID);
}

static void test_int_text_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    assert_int_equal(int_of(in, "12abc", 1, 100, &v), PB_INVALID);
    assert_string_equal(error_of(in, "n"), "must be a whole number between 1 and 100");
}

static void test_int_decimal_point_rejected(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "1.5", 1, 100, &v), PB_INVALID);
}

static void test_int_plus_sign_rejected(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "+5", 1, 100, &v), PB_INVALID);
}

static void test_int_hex_rejected(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "0x10", 0, 100, &v), PB_INVALID);
}

static void test_int_lone_minus_rejected(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, "-", -10, 10, &v), PB_INVALID);
}

static void test_int_surrounding_whitespace_trimmed(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(int_of(*state, " 12\t", 1, 100, &v), PB_OK);
    assert_int_equal(v, 12);
}

static void test_int_llong_extremes_parsed(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    add(&in->form, "min", "-9223372036854775808");
    add(&in->form, "max", "9223372036854775807");
    assert_int_equal(pb_input_int(in, "min", 0, LLONG_MIN, LLONG_MAX, &v), PB_OK);
    assert_true(v == LLONG_MIN);
    assert_int_equal(pb_input_int(in, "max", 0, LLONG_MIN, LLONG_MAX, &v), PB_OK);
    assert_true(v == LLONG_MAX);
}

static void test_int_overflow_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    assert_int_equal(int_of(in, "9223372036854775808", LLONG_MIN, LLONG_MAX, &v), PB_INVALID);
    assert_string_equal(error_of(in, "n"), "must be a whole number");
}

static void test_int_one_sided_range_message(void **state)
{
    (void)state;
    pb_input *in = *state;
    long long v;
    assert_int_equal(int_of(in, "-1", 0, LLONG_MAX, &v), PB_INVALID);
    assert_string_equal(error_of(in, "n"), "must be a whole number no less than 0");
}

static void test_int_from_json_integer(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"n\": 17}");
    long long v;
    assert_int_equal(pb_input_int(in, "n", 0, 1, 100, &v), PB_OK);
    assert_int_equal(v, 17);
}

static void test_int_from_json_numeric_string(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"n\": \"17\"}");
    long long v;
    assert_int_equal(pb_input_int(in, "n", 0, 1, 100, &v), PB_OK);
    assert_int_equal(v, 17);
}

static void test_int_from_json_real_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"n\": 17.0}");
    long long v;
    assert_int_equal(pb_input_int(in, "n", 0, 1, 100, &v), PB_INVALID);
}

static void test_int_from_json_bool_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"n\": true}");
    long long v;
    assert_int_equal(pb_input_int(in, "n", 0, 0, 100, &v), PB_INVALID);
}

/* ------------------------------------------------------------------------
 * pb_input_bool
 * ------------------------------------------------------------------------ */

static void test_bool_true_words(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *words[] = {"true", "1", "on", "yes", "TRUE", "Yes"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char name[8];
        snprintf(name, sizeof name, "b%zu", i);
        add(&in->form, name, words[i]);
        bool v = false;
        assert_int_equal(pb_input_bool(in, name, 0, &v), PB_OK);
        assert_true(v);
    }
}

static void test_bool_false_words(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *words[] = {"false", "0", "off", "no", "False", "NO"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char name[8];
        snprintf(name, sizeof name, "b%zu", i);
        add(&in->form, name, words[i]);
        bool v = true;
        assert_int_equal(pb_input_bool(in, name, 0, &v), PB_OK);
        assert_false(v);
    }
}

static void test_bool_checked_checkbox(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "agree", "on");
    bool v = false;
    assert_int_equal(pb_input_bool(in, "agree", 0, &v), PB_OK);
    assert_true(v);
}

static void test_bool_unchecked_checkbox_absent(void **state)
{
    (void)state;
    bool v = true;
    assert_int_equal(pb_input_bool(*state, "agree", 0, &v), PB_ABSENT);
    assert_true(v);
}

static void test_bool_required_missing(void **state)
{
    (void)state;
    pb_input *in = *state;
    bool v;
    assert_int_equal(pb_input_bool(in, "agree", PB_REQUIRED, &v), PB_INVALID);
    assert_string_equal(error_of(in, "agree"), "is required");
}

static void test_bool_other_word_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    add(&in->form, "b", "maybe");
    bool v;
    assert_int_equal(pb_input_bool(in, "b", 0, &v), PB_INVALID);
    assert_string_equal(error_of(in, "b"), "must be true or false");
}

static void test_bool_from_json_boolean(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"b\": false}");
    bool v = true;
    assert_int_equal(pb_input_bool(in, "b", 0, &v), PB_OK);
    assert_false(v);
}

static void test_bool_from_json_one(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"b\": 1}");
    bool v = false;
    assert_int_equal(pb_input_bool(in, "b", 0, &v), PB_OK);
    assert_true(v);
}

static void test_bool_from_json_two_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"b\": 2}");
    bool v;
    assert_int_equal(pb_input_bool(in, "b", 0, &v), PB_INVALID);
}

/* ------------------------------------------------------------------------
 * pb_input_uuid
 * ------------------------------------------------------------------------ */

static int uuid_of(pb_input *in, const char *text, const char **v)
{
    add(&in->form, "id", text);
    return pb_input_uuid(in, "id", 0, v);
}

static void test_uuid_ok(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "123e4567-e89b-12d3-a456-426614174000", &v), PB_OK);
    assert_string_equal(v, "123e4567-e89b-12d3-a456-426614174000");
}

static void test_uuid_returned_lower_case(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "123E4567-E89B-12D3-A456-426614174ABC", &v), PB_OK);
    assert_string_equal(v, "123e4567-e89b-12d3-a456-426614174abc");
}

static void test_uuid_absent(void **state)
{
    (void)state;
    const char *v = NULL;
    assert_int_equal(pb_input_uuid(*state, "id", 0, &v), PB_ABSENT);
    assert_null(v);
}

static void test_uuid_required_missing(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v;
    assert_int_equal(pb_input_uuid(in, "id", PB_REQUIRED, &v), PB_INVALID);
    assert_string_equal(error_of(in, "id"), "is required");
}

static void test_uuid_wrong_length_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v;
    assert_int_equal(uuid_of(in, "123e4567-e89b-12d3-a456-42661417400", &v), PB_INVALID);
    assert_string_equal(error_of(in, "id"), "must be a UUID");
}

static void test_uuid_non_hex_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "123e4567-e89b-12d3-a456-42661417400g", &v), PB_INVALID);
}

static void test_uuid_misplaced_dash_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "123e456-7e89b-12d3-a456-426614174000", &v), PB_INVALID);
}

static void test_uuid_without_dashes_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "123e4567e89b12d3a456426614174000", &v), PB_INVALID);
}

static void test_uuid_braces_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(uuid_of(*state, "{123e4567-e89b-12d3-a456-426614174000}", &v), PB_INVALID);
}

/* ------------------------------------------------------------------------
 * pb_input_email
 * ------------------------------------------------------------------------ */

static int email_of(pb_input *in, const char *text, const char **v)
{
    add(&in->form, "email", text);
    return pb_input_email(in, "email", 0, v);
}

static void test_email_ok(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "ada.lovelace+tag@example.co.uk", &v), PB_OK);
    assert_string_equal(v, "ada.lovelace+tag@example.co.uk");
}

static void test_email_domain_lower_cased_local_kept(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "Ada@Example.COM", &v), PB_OK);
    assert_string_equal(v, "Ada@example.com");
}

static void test_email_surrounding_whitespace_trimmed(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "  a@b.io\n", &v), PB_OK);
    assert_string_equal(v, "a@b.io");
}

static void test_email_absent(void **state)
{
    (void)state;
    const char *v = NULL;
    assert_int_equal(pb_input_email(*state, "email", 0, &v), PB_ABSENT);
    assert_null(v);
}

static void test_email_required_missing(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v;
    assert_int_equal(pb_input_email(in, "email", PB_REQUIRED, &v), PB_INVALID);
    assert_string_equal(error_of(in, "email"), "is required");
}

static void test_email_without_at_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    const char *v;
    assert_int_equal(email_of(in, "ada.example.com", &v), PB_INVALID);
    assert_string_equal(error_of(in, "email"), "must be an email address");
}

static void test_email_two_ats_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "a@b@example.com", &v), PB_INVALID);
}

static void test_email_domain_without_dot_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "root@localhost", &v), PB_INVALID);
}

static void test_email_inner_space_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "ada lovelace@example.com", &v), PB_INVALID);
}

static void test_email_empty_local_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "@example.com", &v), PB_INVALID);
}

static void test_email_local_of_64_accepted(void **state)
{
    (void)state;
    char s[128];
    memset(s, 'a', 64);
    strcpy(s + 64, "@example.com");
    const char *v;
    assert_int_equal(email_of(*state, s, &v), PB_OK);
}

static void test_email_local_of_65_rejected(void **state)
{
    (void)state;
    char s[128];
    memset(s, 'a', 65);
    strcpy(s + 65, "@example.com");
    const char *v;
    assert_int_equal(email_of(*state, s, &v), PB_INVALID);
}

static void test_email_over_254_rejected(void **state)
{
    (void)state;
    /* a@ + four 62-letter labels joined by dots + ".io" = 2 + 251 + 3 = 256 */
    char s[300] = "a@";
    for (int i = 0; i < 4; i++) {
        memset(s + strlen(s), 'b', 62);
        strcat(s, i < 3 ? "." : ".io");
    }
    const char *v;
    assert_int_equal(email_of(*state, s, &v), PB_INVALID);
}

static void test_email_label_with_edge_hyphen_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "a@-example.com", &v), PB_INVALID);
}

static void test_email_empty_label_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "a@example..com", &v), PB_INVALID);
}

static void test_email_trailing_dot_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "a@example.com.", &v), PB_INVALID);
}

static void test_email_control_character_rejected(void **state)
{
    (void)state;
    const char *v;
    assert_int_equal(email_of(*state, "a\x01@example.com", &v), PB_INVALID);
}

/* ------------------------------------------------------------------------
 * pb_input_date
 * ------------------------------------------------------------------------ */

static int date_of(pb_input *in, const char *text, pb_date *d)
{
    add(&in->form, "d", text);
    return pb_input_date(in, "d", 0, d);
}

static void test_date_ok(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024-03-15", &d), PB_OK);
    assert_int_equal(d.year, 2024);
    assert_int_equal(d.month, 3);
    assert_int_equal(d.day, 15);
}

static void test_date_absent(void **state)
{
    (void)state;
    pb_date d = {1, 2, 3};
    assert_int_equal(pb_input_date(*state, "d", 0, &d), PB_ABSENT);
    assert_int_equal(d.year, 1);
}

static void test_date_required_missing(void **state)
{
    (void)state;
    pb_input *in = *state;
    pb_date d;
    assert_int_equal(pb_input_date(in, "d", PB_REQUIRED, &d), PB_INVALID);
    assert_string_equal(error_of(in, "d"), "is required");
}

static void test_date_leap_day_accepted(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024-02-29", &d), PB_OK);
}

static void test_date_leap_day_in_common_year_rejected(void **state)
{
    (void)state;
    pb_input *in = *state;
    pb_date d;
    assert_int_equal(date_of(in, "2023-02-29", &d), PB_INVALID);
    assert_string_equal(error_of(in, "d"), "must be a real calendar date");
}

static void test_date_century_not_leap(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "1900-02-29", &d), PB_INVALID);
}

static void test_date_400th_year_leap(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2000-02-29", &d), PB_OK);
}

static void test_date_day_31_in_30_day_month_rejected(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024-04-31", &d), PB_INVALID);
}

static void test_date_month_13_rejected(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024-13-01", &d), PB_INVALID);
}

static void test_date_day_zero_rejected(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024-01-00", &d), PB_INVALID);
}

static void test_date_year_zero_rejected(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "0000-01-01", &d), PB_INVALID);
}

static void test_date_extremes_accepted(void **state)
{
    (void)state;
    pb_input *in = *state;
    pb_date d;
    add(&in->form, "lo", "0001-01-01");
    add(&in->form, "hi", "9999-12-31");
    assert_int_equal(pb_input_date(in, "lo", 0, &d), PB_OK);
    assert_int_equal(pb_input_date(in, "hi", 0, &d), PB_OK);
}

static void test_date_unpadded_rejected_with_format(void **state)
{
    (void)state;
    pb_input *in = *state;
    pb_date d;
    assert_int_equal(date_of(in, "2024-3-5", &d), PB_INVALID);
    assert_string_equal(error_of(in, "d"), "must be a date in the form YYYY-MM-DD");
}

static void test_date_other_separator_rejected(void **state)
{
    (void)state;
    pb_date d;
    assert_int_equal(date_of(*state, "2024/03/15", &d), PB_INVALID);
}

static void test_date_from_json_string(void **state)
{
    (void)state;
    pb_input *in = *state;
    set_json(in, "{\"d\": \"2024-12-31\"}");
    pb_date d;
    assert_int_equal(pb_input_date(in, "d", 0, &d), PB_OK);
    assert_int_equal(d.day, 31);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_route_beats_body_and_query),
        T(test_form_beats_query),
        T(test_json_member_beats_query),
        T(test_query_used_when_body_lacks_name),
        T(test_json_array_body_has_no_fields),
        T(test_cookies_never_read),
        T(test_empty_first_source_counts_as_absent),
        T(test_json_null_counts_as_absent),
        T(test_required_missing_records_is_required),
        T(test_required_empty_records_is_required),
        T(test_errors_null_until_first_error),
        T(test_first_error_per_field_wins),
        T(test_fail_records_custom_message),
        T(test_errors_kept_per_field),
        T(test_free_removes_uploaded_files),
        T(test_str_ok),
        T(test_str_absent_leaves_out_untouched),
        T(test_str_not_trimmed),
        T(test_str_length_counts_code_points),
        T(test_str_at_max_accepted),
        T(test_str_over_max_rejected),
        T(test_str_under_min_rejected),
        T(test_str_range_message_names_both_bounds),
        T(test_str_exact_length_message),
        T(test_str_max_zero_means_unbounded),
        T(test_str_invalid_utf8_rejected),
        T(test_str_overlong_utf8_rejected),
        T(test_str_surrogate_rejected),
        T(test_str_nul_rejected),
        T(test_str_from_json_string),
        T(test_str_from_json_number_rejected),
        T(test_int_ok),
        T(test_int_negative),
        T(test_int_absent),
        T(test_int_required_missing),
        T(test_int_min_and_max_accepted),
        T(test_int_below_min_rejected_with_range),
        T(test_int_above_max_rejected),
        T(test_int_text_rejected),
        T(test_int_decimal_point_rejected),
        T(test_int_plus_sign_rejected),
        T(test_int_hex_rejected),
        T(test_int_lone_minus_rejected),
        T(test_int_surrounding_whitespace_trimmed),
        T(test_int_llong_extremes_parsed),
        T(test_int_overflow_rejected),
        T(test_int_one_sided_range_message),
        T(test_int_from_json_integer),
        T(test_int_from_json_numeric_string),
        T(test_int_from_json_real_rejected),
        T(test_int_from_json_bool_rejected),
        T(test_bool_true_words),
        T(test_bool_false_words),
        T(test_bool_checked_checkbox),
        T(test_bool_unchecked_checkbox_absent),
        T(test_bool_required_missing),
        T(test_bool_other_word_rejected),
        T(test_bool_from_json_boolean),
        T(test_bool_from_json_one),
        T(test_bool_from_json_two_rejected),
        T(test_uuid_ok),
        T(test_uuid_returned_lower_case),
        T(test_uuid_absent),
        T(test_uuid_required_missing),
        T(test_uuid_wrong_length_rejected),
        T(test_uuid_non_hex_rejected),
        T(test_uuid_misplaced_dash_rejected),
        T(test_uuid_without_dashes_rejected),
        T(test_uuid_braces_rejected),
        T(test_email_ok),
        T(test_email_domain_lower_cased_local_kept),
        T(test_email_surrounding_whitespace_trimmed),
        T(test_email_absent),
        T(test_email_required_missing),
        T(test_email_without_at_rejected),
        T(test_email_two_ats_rejected),
        T(test_email_domain_without_dot_rejected),
        T(test_email_inner_space_rejected),
        T(test_email_empty_local_rejected),
        T(test_email_local_of_64_accepted),
        T(test_email_local_of_65_rejected),
        T(test_email_over_254_rejected),
        T(test_email_label_with_edge_hyphen_rejected),
        T(test_email_empty_label_rejected),
        T(test_email_trailing_dot_rejected),
        T(test_email_control_character_rejected),
        T(test_date_ok),
        T(test_date_absent),
        T(test_date_required_missing),
        T(test_date_leap_day_accepted),
        T(test_date_leap_day_in_common_year_rejected),
        T(test_date_century_not_leap),
        T(test_date_400th_year_leap),
        T(test_date_day_31_in_30_day_month_rejected),
        T(test_date_month_13_rejected),
        T(test_date_day_zero_rejected),
        T(test_date_year_zero_rejected),
        T(test_date_extremes_accepted),
        T(test_date_unpadded_rejected_with_format),
        T(test_date_other_separator_rejected),
        T(test_date_from_json_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
