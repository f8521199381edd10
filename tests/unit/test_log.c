/* test_log.c - the JSON lines writer: escaping, invalid UTF-8, one line per
 * record, and records from several processes appended to one file whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"

static char *json_str(const char *s)
{
    pb_buf b = PB_BUF_INIT;
    pb_log_json_string(&b, s);
    char *out = strdup(pb_buf_cstr(&b));
    pb_buf_free(&b);
    return out;
}

static void expect_json(const char *in, const char *want)
{
    char *got = json_str(in);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", in, got, want);
    free(got);
}

static void escapes_quotes_and_backslashes(void **state)
{
    (void)state;
    expect_json("say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"");
}

static void escapes_control_characters(void **state)
{
    (void)state;
    expect_json("a\nb\rc\td\x01"
                "e\x1f"
                "f\x7f",
                "\"a\\nb\\rc\\td\\u0001e\\u001ff\\u007f\"");
}

static void keeps_valid_utf8(void **state)
{
    (void)state;
    expect_json("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
                "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

static void replaces_invalid_utf8(void **state)
{
    (void)state;
    /* A lone continuation byte, an overlong '/', a surrogate, a truncated
     * sequence at the end: each bad byte becomes U+FFFD. */
    expect_json("a\x80z", "\"a\xEF\xBF\xBDz\"");
    expect_json("\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    expect_json("\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    expect_json("x\xE2\x82", "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

static void record_is_one_json_line(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    const char *fields[] = {"module", "crm\n<script>", "route", NULL, "job",
                            "42",     "msg",           "dup",   NULL};
    pb_log_json_record(&b, "2026-01-02T03:04:05.678Z", PB_LOG_WARN, "worker", 123, fields,
                       "line one\nline two \xFF");
    const char *s = pb_buf_cstr(&b);
    size_t len = strlen(s);
    assert_true(len > 0 && s[len - 1] == '\n');
    assert_null(memchr(s, '\n', len - 1));
    json_error_t e;
    json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &e);
    if (o == NULL)
        fail_msg("%s: %s", s, e.text);
    assert_string_equal(json_string_value(json_object_get(o, "ts")), "2026-01-02T03:04:05.678Z");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "role")), "worker");
    assert_int_equal(json_integer_value(json_object_get(o, "pid")), 123);
    assert_string_equal(json_string_value(json_object_get(o, "msg")),
                        "line one\nline two \xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(o, "module")), "crm\n<script>");
    assert_string_equal(json_string_value(json_object_get(o, "job")), "42");
    assert_null(json_object_get(o, "route")); /* NULL values are left out */
    json_decref(o);
    pb_buf_free(&b);
}

/* Four processes log long records to one file at once: every line must be
 * a whole record. */
static void processes_never_interleave(void **state)
{
    (void)state;
    char path[] = "/tmp/pb-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[200];
    pb_log_setup(PB_LOG_INFO, PB_LOG_JSON, "test");
    assert_int_equal(pb_log_file_open(path, err, sizeof err), 0);
    assert_string_equal(pb_log_file_path(), path);
    char big[900];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int c = 0; c < 4; c++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (freopen("/dev/null", "w", stderr) == NULL)
                _exit(1);
            for (int i = 0; i < 300; i++) {
                const char *fields[] = {"n", big, NULL};
                pb_logf(PB_LOG_INFO, fields, "child %d record %d", c, i);
            }
            _exit(0);
        }
    }
    int status, done = 0;
    while (wait(&status) > 0)
        done += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    assert_int_equal(done, 4);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!json_is_object(o))
            fail_msg("line %d is not a record: %.80s", lines + 1, line);
        json_decref(o);
        lines++;
    }
    free(line);
    fclose(f);
    unlink(path);
    assert_int_equal(lines, 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_quotes_and_backslashes),
        cmocka_unit_test(escapes_control_characters),
        cmocka_unit_test(keeps_valid_utf8),
        cmocka_unit_test(replaces_invalid_utf8),
        cmocka_unit_test(record_is_one_json_line),
        cmocka_unit_test(processes_never_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
