/* test_logsearch.c - the log file searched backwards: order, filters, the
 * limit and the window, and the lines it must skip (unfinished, huge, not
 * JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "logsearch.h"

static char path[64];

static int make_file(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/pb-test-logsearch-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int drop_file(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void put(const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Appends a record at second sec of 2026-03-01 10:00. */
static void put_rec(int sec, const char *level, const char *role, const char *module,
                    const char *msg)
{
    char line[512];
    snprintf(line, sizeof line,
             "{\"ts\":\"2026-03-01T10:%02d:%02d.000Z\",\"level\":\"%s\",\"role\":\"%s\","
             "\"pid\":7,\"msg\":\"%s\"%s%s%s}\n",
             sec / 60, sec % 60, level, role, msg, module ? ",\"module\":\"" : "",
             module ? module : "", module ? "\"" : "");
    put(line);
}

static json_t *find(const char *filter_json, size_t limit, size_t window)
{
    json_t *filter = filter_json ? json_loads(filter_json, 0, NULL) : NULL;
    json_t *out = pb_logsearch(path, filter, limit, window);
    json_decref(filter);
    assert_non_null(out);
    return out;
}

static const char *msg_at(json_t *out, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(out, "records"), i), "msg"));
}

static size_t count(json_t *out)
{
    return json_array_size(json_object_get(out, "records"));
}

static void newest_first(void **state)
{
    (void)state;
    put_rec(1, "info", "worker", "crm", "one");
    put_rec(2, "warn", "master", NULL, "two");
    put_rec(3, "error", "worker", "auth", "three");
    json_t *out = find(NULL, 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 3);
    assert_string_equal(msg_at(out, 0), "three");
    assert_string_equal(msg_at(out, 2), "one");
    assert_false(json_is_true(json_object_get(out, "more")));
    assert_false(json_is_true(json_object_get(out, "bounded")));
    json_decref(out);
}

static void filters(void **state)
{
    (void)state;
    put_rec(1, "info", "worker", "crm", "Saved the Lead");
    put_rec(2, "warn", "master", NULL, "worker restarted");
    put_rec(3, "error", "worker", "auth", "query failed");
    put_rec(4, "debug", "scheduler", NULL, "tick");
    json_t *out = find("{\"level\":\"warn\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2);
    json_decref(out);
    out = find("{\"role\":\"worker\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2);
    json_decref(out);
    out = find("{\"module\":\"crm\", \"level\":\"\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 1);
    assert_string_equal(msg_at(out, 0), "Saved the Lead");
    json_decref(out);
    out = find("{\"text\":\"LEAD\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 1);
    json_decref(out);
    out = find("{\"text\":\"auth\"}", 10, PB_LOGSEARCH_WINDOW); /* a field's value */
    assert_int_equal(count(out), 1);
    assert_string_equal(msg_at(out, 0), "query failed");
    json_decref(out);
    out = find("{\"since\":\"2026-03-01T10:00:02\", \"until\":\"2026-03-01 10:00:04Z\"}", 10,
               PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2); /* since inclusive, until exclusive */
    assert_string_equal(msg_at(out, 0), "query failed");
    assert_string_equal(msg_at(out, 1), "worker restarted");
    json_decref(out);
}

static void bad_filter_gives_errors(void **state)
{
    (void)state;
    json_t *out =
        find("{\"level\":\"loud\", \"since\":\"yesterday\", \"until\":\"2026-13-01T00:00\"}", 10,
             PB_LOGSEARCH_WINDOW);
    json_t *errors = json_object_get(out, "errors");
    assert_non_null(json_object_get(errors, "level"));
    assert_non_null(json_object_get(errors, "since"));
    assert_non_null(json_object_get(errors, "until"));
    assert_null(json_object_get(out, "records"));
    json_decref(out);
    out = find("{\"since\":\"2026-03-01T10:00\", \"until\":\"2026-03-01T09:00\"}", 10,
               PB_LOGSEARCH_WINDOW);
    assert_non_null(json_object_get(json_object_get(out, "errors"), "until"));
    json_decref(out);
}

static void skips_unfinished_last_line(void **state)
{
    (void)state;
    put_rec(1, "info", "worker", NULL, "whole");
    put("{\"ts\":\"2026-03-01T10:00:02.000Z\",\"level\":\"info\",\"role\":\"worker\",\"pid\":7,"
        "\"msg\":\"half\"}"); /* no newline yet: still being written */
    json_t *out = find(NULL, 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 1);
    assert_string_equal(msg_at(out, 0), "whole");
    json_decref(out);
}

static void skips_lines_that_are_not_records(void **state)
{
    (void)state;
    put("not json at all\n");
    put_rec(1, "info", "worker", NULL, "first");
    put("[1,2,3]\n\n{\"ts\":\"x\"\n{\"level\":\"info\",\"msg\":\"no ts\"}\n");
    put_rec(2, "info", "worker", NULL, "second");
    json_t *out = find(NULL, 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2);
    assert_string_equal(msg_at(out, 0), "second");
    assert_string_equal(msg_at(out, 1), "first");
    json_decref(out);
}

static void skips_huge_lines(void **state)
{
    (void)state;
    put_rec(1, "info", "worker", NULL, "before");
    size_t n = PB_LOGSEARCH_LINE_MAX * 3;
    char *huge = malloc(n + 200);
    assert_non_null(huge);
    int k = snprintf(huge, 200,
                     "{\"ts\":\"2026-03-01T10:00:02.000Z\",\"level\":\"info\","
                     "\"role\":\"worker\",\"pid\":7,\"msg\":\"");
    memset(huge + k, 'h', n);
    strcpy(huge + k + n, "\"}\n");
    put(huge);
    free(huge);
    put_rec(3, "info", "worker", NULL, "after");
    json_t *out = find(NULL, 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2);
    assert_string_equal(msg_at(out, 0), "after");
    assert_string_equal(msg_at(out, 1), "before");
    json_decref(out);
}

/* Thousands of records cross many 64 KiB blocks: none lost or doubled. */
static void limit_and_blocks(void **state)
{
    (void)state;
    char msg[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(msg, sizeof msg, "record %04d padding padding padding padding", i);
        put_rec(i % 3600, i % 2 ? "warn" : "info", "worker", NULL, msg);
    }
    json_t *out = find("{\"level\":\"warn\"}", 500, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 500);
    assert_true(json_is_true(json_object_get(out, "more")));
    assert_string_equal(msg_at(out, 0), "record 2999 padding padding padding padding");
    assert_string_equal(msg_at(out, 499), "record 2001 padding padding padding padding");
    json_decref(out);
    out = find(NULL, 0, PB_LOGSEARCH_WINDOW); /* 0 = the most allowed */
    assert_int_equal(count(out), PB_LOGSEARCH_LIMIT_MAX);
    json_decref(out);
    out = find("{\"text\":\"record 0000\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 1); /* the file's first line */
    json_decref(out);
}

/* The next page after records that shared their millisecond: until
 * inclusive, skipping those already shown. */
static void skip_at_until(void **state)
{
    (void)state;
    put_rec(1, "info", "worker", NULL, "older");
    put_rec(2, "info", "worker", NULL, "a");
    put_rec(2, "info", "worker", NULL, "b");
    put_rec(2, "info", "worker", NULL, "c");
    json_t *out = find(NULL, 2, PB_LOGSEARCH_WINDOW);
    assert_string_equal(msg_at(out, 1), "b");
    json_decref(out);
    out = find("{\"until\":\"2026-03-01T10:00:02.000Z\", \"skip\":\"2\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 2);
    assert_string_equal(msg_at(out, 0), "a");
    assert_string_equal(msg_at(out, 1), "older");
    json_decref(out);
    out = find("{\"until\":\"2026-03-01T10:00:02.000Z\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_int_equal(count(out), 1); /* without skip, until is exclusive */
    json_decref(out);
    out = find("{\"skip\":\"x\"}", 10, PB_LOGSEARCH_WINDOW);
    assert_non_null(json_object_get(json_object_get(out, "errors"), "skip"));
    json_decref(out);
}

static void window_bounds_the_read(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++)
        put_rec(i, "info", "worker", NULL, "rec");
    json_t *out = find(NULL, 500, 1000); /* about a dozen of the 100 lines */
    assert_true(count(out) >= 5 && count(out) < 100);
    assert_true(json_is_true(json_object_get(out, "bounded")));
    json_decref(out);
}

static void missing_file_is_empty(void **state)
{
    (void)state;
    json_t *out = pb_logsearch("/nonexistent/pb.jsonl", NULL, 10, PB_LOGSEARCH_WINDOW);
    assert_non_null(out);
    assert_int_equal(count(out), 0);
    json_decref(out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_file, drop_file)
    const struct CMUnitTest tests[] = {
        T(newest_first),
        T(filters),
        T(bad_filter_gives_errors),
        T(skips_unfinished_last_line),
        T(skips_lines_that_are_not_records),
        T(skips_huge_lines),
        T(limit_and_blocks),
        T(skip_at_until),
        T(window_bounds_the_read),
        T(missing_file_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
