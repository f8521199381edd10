/* test_jsonout.c - the JSON writer: types, escaping, order, depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "jsonout.h"

static void expect_json(json_t *v, const char *text)
{
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_json_write(&b, v), 0);
    assert_string_equal(pb_buf_cstr(&b), text);
    pb_buf_free(&b);
    json_decref(v);
}

static void test_scalars(void **state)
{
    (void)state;
    expect_json(json_pack("[n, b, b, I, f, f, f]", 1, 0, (json_int_t)-9007199254740993LL, 1.21,
                          100.0, 1e21),
                "[null,true,false,-9007199254740993,1.21,100.0,1e+21]");
}

static void test_object_keeps_insertion_order(void **state)
{
    (void)state;
    expect_json(json_pack("{s:i, s:i, s:{}}", "z", 1, "a", 2, "m"), "{\"z\":1,\"a\":2,\"m\":{}}");
}

static void test_strings_escape_quotes_backslash_and_controls(void **state)
{
    (void)state;
    expect_json(json_stringn("a\"b\\c\n\t\x01\x1f/\0", 11),
                "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\\u0000\"");
}

static void test_utf8_passes_through(void **state)
{
    (void)state;
    expect_json(json_string("フレーム \xe2\x80\xa8"), "\"フレーム \xe2\x80\xa8\"");
}

static void test_cycle_is_refused_and_buffer_kept(void **state)
{
    (void)state;
    json_t *a = json_object(), *b = json_object();
    json_object_set(a, "b", b);
    json_object_set(b, "a", a);
    pb_buf out = PB_BUF_INIT;
    pb_buf_puts(&out, "keep");
    assert_int_equal(pb_json_write(&out, a), -1);
    assert_string_equal(pb_buf_cstr(&out), "keep");
    json_object_del(b, "a");
    json_decref(a);
    json_decref(b);
    pb_buf_free(&out);
}

static void test_round_trips_through_jansson(void **state)
{
    (void)state;
    const char *doc = "{\"k\":[1,2.5,\"x\\u0000y\",{\"n\":null}],\"e\":[],\"t\":true}";
    json_t *v = json_loads(doc, JSON_ALLOW_NUL, NULL);
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_json_write(&b, v), 0);
    json_t *back = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    assert_true(json_equal(v, back));
    json_decref(v);
    json_decref(back);
    pb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_object_keeps_insertion_order),
        cmocka_unit_test(test_strings_escape_quotes_backslash_and_controls),
        cmocka_unit_test(test_utf8_passes_through),
        cmocka_unit_test(test_cycle_is_refused_and_buffer_kept),
        cmocka_unit_test(test_round_trips_through_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
