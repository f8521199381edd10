/* test_buf.c - the growable buffer: appends, integers, HTML escaping. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_append_grows_and_terminates(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(pb_buf_puts(&b, "abc"), 0);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[3000], '\0');
    pb_buf_free(&b);
}

static void test_put_int_covers_the_range(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    pb_buf_put_int(&b, 0);
    pb_buf_putc(&b, ' ');
    pb_buf_put_int(&b, -42);
    pb_buf_putc(&b, ' ');
    pb_buf_put_int(&b, LLONG_MAX);
    pb_buf_putc(&b, ' ');
    pb_buf_put_int(&b, LLONG_MIN);
    assert_string_equal(pb_buf_cstr(&b), "0 -42 9223372036854775807 -9223372036854775808");
    pb_buf_free(&b);
}

static void test_html_escape_replaces_the_five(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    const char *s = "a&b<c>d\"e'f";
    pb_buf_html_escape(&b, s, strlen(s));
    assert_string_equal(pb_buf_cstr(&b), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    pb_buf_free(&b);
}

static void test_html_escape_keeps_utf8_and_nul(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    const char s[] = "\xe3\x83\x95\0<";
    pb_buf_html_escape(&b, s, sizeof s - 1);
    assert_int_equal(b.len, 3 + 1 + 4);
    assert_memory_equal(b.data, "\xe3\x83\x95\0&lt;", 8);
    pb_buf_free(&b);
}

static void test_html_escape_str_matches_the_general_one(void **state)
{
    (void)state;
    const char s[] = "plain <b>&amp;</b> \"q\" 'a'\0<after nul> end";
    pb_buf a = PB_BUF_INIT, b = PB_BUF_INIT;
    pb_buf_html_escape(&a, s, sizeof s - 1);
    pb_buf_html_escape_str(&b, s, sizeof s - 1);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    pb_buf_free(&a);
    pb_buf_free(&b);
}

static void test_printf_longer_than_the_stack_buffer(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pb_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[1000], ']');
    pb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows_and_terminates),
        cmocka_unit_test(test_put_int_covers_the_range),
        cmocka_unit_test(test_html_escape_replaces_the_five),
        cmocka_unit_test(test_html_escape_keeps_utf8_and_nul),
        cmocka_unit_test(test_html_escape_str_matches_the_general_one),
        cmocka_unit_test(test_printf_longer_than_the_stack_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
