/* test_config.c - the INI configuration: defaults, loading, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

/* Writes text to a temporary file in a temporary folder; returns its path. */
static char *write_ini(const char *text)
{
    static char path[256];
    char dir[] = "/tmp/pbcfgXXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/plugboard.ini", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults_match_documentation(void **state)
{
    (void)state;
    pb_config c;
    assert_int_equal(pb_config_defaults(&c), 0);
    assert_int_equal(c.workers, 3 * sysconf(_SC_NPROCESSORS_ONLN));
    assert_int_equal(c.limits.body_max, 10 * 1024 * 1024);
    assert_int_equal(c.limits.value_max, 64 * 1024);
    assert_int_equal(c.socket_mode, 0660);
    assert_string_equal(c.socket, "var/run/plugboard.sock");
    pb_config_free(&c);
}

static void test_example_file_loads(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    const char *example = getenv("PB_EXAMPLE_INI");
    if (example == NULL)
        example = "plugboard.ini";
    assert_int_equal(pb_config_load(&c, example, err, sizeof err), 0);
    assert_true(c.workers >= 1);
    pb_config_free(&c);
}

static void test_relative_paths_resolve_against_the_file(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[server]\nsocket = run/x.sock\n[modules]\npath = a /abs/b\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), 0);
    char expect[300];
    snprintf(expect, sizeof expect, "%.*s/run/x.sock", (int)(strrchr(path, '/') - path), path);
    assert_string_equal(c.socket, expect);
    assert_non_null(strstr(c.module_path, "/a /abs/b"));
    pb_config_free(&c);
}

static void test_sizes_take_suffixes(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[limits]\nbody_max = 2M\nupload_max = 512k\nvalue_max=1000\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), 0);
    assert_int_equal(c.limits.body_max, 2 * 1024 * 1024);
    assert_int_equal(c.limits.upload_max, 512 * 1024);
    assert_int_equal(c.limits.value_max, 1000);
    pb_config_free(&c);
}

static void test_public_url_loses_trailing_slashes_at_load(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[site]\npublic_url = https://dash.example.com//\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.public_url, "https://dash.example.com");
    pb_config_free(&c);
}

static void test_unknown_option_names_file_and_line(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[server]\nworkers = 2\nwrokers = 3\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":3: unknown option [server] wrokers"));
    pb_config_free(&c);
}

static void test_out_of_range_number_is_refused(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[server]\nworkers = 0\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "workers expects auto or a whole number from 1 to 256"));
    pb_config_free(&c);
}

static void test_inconsistent_limits_are_refused(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    char *path = write_ini("[limits]\nbody_max = 1M\nupload_max = 2M\n");
    assert_int_equal(pb_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "upload_max"));
    pb_config_free(&c);
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    pb_config c;
    char err[512];
    pb_config_defaults(&c);
    assert_int_equal(pb_config_load(&c, "/nonexistent/plugboard.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    pb_config_free(&c);
}

static void test_print_round_trips(void **state)
{
    (void)state;
    pb_config c, d;
    char err[512];
    pb_config_defaults(&c);
    pb_config_defaults(&d);
    c.workers = 7;
    char *path = write_ini("");
    FILE *f = fopen(path, "w");
    pb_config_print(&c, f);
    fclose(f);
    assert_int_equal(pb_config_load(&d, path, err, sizeof err), 0);
    assert_int_equal(d.workers, 7);
    assert_int_equal(d.limits.body_max, c.limits.body_max);
    pb_config_free(&c);
    pb_config_free(&d);
}

int main(void)
{
    pb_log_setup(PB_LOG_ERROR, PB_LOG_TEXT, "test");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_documentation),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_relative_paths_resolve_against_the_file),
        cmocka_unit_test(test_sizes_take_suffixes),
        cmocka_unit_test(test_public_url_loses_trailing_slashes_at_load),
        cmocka_unit_test(test_unknown_option_names_file_and_line),
        cmocka_unit_test(test_out_of_range_number_is_refused),
        cmocka_unit_test(test_inconsistent_limits_are_refused),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_print_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
