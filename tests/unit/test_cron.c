/* test_cron.c - cron expressions: parsing, errors, fire times in a zone,
 * across the 2026 daylight saving changes of New York and Berlin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cron.h"

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return timegm(&tm);
}

/* The next fire time of expr in zone after the instant given (UTC). */
static time_t next_after(const char *expr, const char *zone, time_t after)
{
    pb_cron c;
    char err[200];
    if (pb_cron_parse(expr, &c, err, sizeof err) < 0)
        fail_msg("%s: %s", expr, err);
    time_t t = 0;
    assert_int_equal(pb_cron_next(&c, zone, after, &t), 0);
    return t;
}

static void expect_error(const char *expr, const char *contains)
{
    pb_cron c;
    char err[200] = "";
    assert_int_equal(pb_cron_parse(expr, &c, err, sizeof err), -1);
    if (strstr(err, contains) == NULL)
        fail_msg("%s: \"%s\" lacks \"%s\"", expr, err, contains);
}

/* --- New York: clocks go forward 2026-03-08 02:00, back 2026-11-01 02:00 --- */

static void test_ny_skipped_time_fires_at_the_end_of_the_gap(void **state)
{
    (void)state;
    time_t t = next_after("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12, 0));
    assert_int_equal(t, utc(2026, 3, 8, 7, 0)); /* 03:00 EDT */
    t = next_after("30 2 * * *", "America/New_York", t);
    assert_int_equal(t, utc(2026, 3, 9, 6, 30)); /* 02:30 EDT the next day */
}

static void test_ny_times_in_the_gap_fire_once(void **state)
{
    (void)state;
    const char *e = "*/15 * * * *";
    time_t t = next_after(e, "America/New_York", utc(2026, 3, 8, 6, 45)); /* 01:45 EST */
    assert_int_equal(t, utc(2026, 3, 8, 7, 0)); /* 02:00..02:45 -> 03:00 */
    assert_int_equal(next_after(e, "America/New_York", t), utc(2026, 3, 8, 7, 15));
}

static void test_ny_repeated_time_fires_once_at_its_first_occurrence(void **state)
{
    (void)state;
    time_t t = next_after("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12, 0));
    assert_int_equal(t, utc(2026, 11, 1, 5, 30)); /* 01:30 EDT */
    t = next_after("30 1 * * *", "America/New_York", t);
    assert_int_equal(t, utc(2026, 11, 2, 6, 30)); /* not 01:30 EST: the next day */
}

static void test_ny_hourly_skips_the_repeated_hour(void **state)
{
    (void)state;
    time_t t = next_after("0 * * * *", "America/New_York", utc(2026, 11, 1, 5, 0)); /* 01:00 EDT */
    assert_int_equal(t, utc(2026, 11, 1, 7, 0));                                    /* 02:00 EST */
    t = next_after("*/15 * * * *", "America/New_York", utc(2026, 11, 1, 5, 30));
    assert_int_equal(t, utc(2026, 11, 1, 5, 45));
    /* From inside the repeated hour (01:30 EST), the next is 02:00 EST. */
    t = next_after("*/15 * * * *", "America/New_York", utc(2026, 11, 1, 6, 30));
    assert_int_equal(t, utc(2026, 11, 1, 7, 0));
}

/* --- Berlin: forward 2026-03-29 02:00 CET, back 2026-10-25 03:00 CEST --- */

static void test_berlin_skipped_and_repeated_times(void **state)
{
    (void)state;
    assert_int_equal(next_after("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12, 0)),
                     utc(2026, 3, 29, 1, 0)); /* 03:00 CEST */
    time_t t = next_after("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12, 0));
    assert_int_equal(t, utc(2026, 10, 25, 0, 30)); /* 02:30 CEST, the first */
    assert_int_equal(next_after("30 2 * * *", "Europe/Berlin", t), utc(2026, 10, 26, 1, 30));
}

static void test_berlin_daily_keeps_its_wall_clock_time(void **state)
{
    (void)state;
    time_t t = next_after("0 9 * * *", "Europe/Berlin", utc(2026, 3, 28, 8, 0)); /* 09:00 CET */
    assert_int_equal(t, utc(2026, 3, 29, 7, 0));                                 /* 09:00 CEST */
    assert_int_equal(next_after("0 9 * * *", "Europe/Berlin", utc(2026, 10, 24, 7, 0)),
                     utc(2026, 10, 25, 8, 0)); /* 09:00 CET */
}

/* --- Fields ------------------------------------------------------------------ */

static void test_strictly_after(void **state)
{
    (void)state;
    assert_int_equal(next_after("0 12 * * *", "UTC", utc(2026, 5, 1, 12, 0)),
                     utc(2026, 5, 2, 12, 0));
    assert_int_equal(next_after("0 12 * * *", "UTC", utc(2026, 5, 1, 11, 59)),
                     utc(2026, 5, 1, 12, 0));
}

static void test_steps_ranges_and_lists(void **state)
{
    (void)state;
    time_t t = next_after("*/20 9-17/4 * * *", "UTC", utc(2026, 5, 1, 9, 40));
    assert_int_equal(t, utc(2026, 5, 1, 13, 0));
    assert_int_equal(next_after("*/20 9-17/4 * * *", "UTC", utc(2026, 5, 1, 17, 40)),
                     utc(2026, 5, 2, 9, 0));
    assert_int_equal(next_after("5,10,50-52 * * * *", "UTC", utc(2026, 5, 1, 0, 10)),
                     utc(2026, 5, 1, 0, 50));
    assert_int_equal(next_after("0 0 1 */3 *", "UTC", utc(2026, 2, 1, 0, 0)),
                     utc(2026, 4, 1, 0, 0));
}

static void test_names_and_sunday_as_seven(void **state)
{
    (void)state;
    /* 2026-05-01 is a Friday. */
    assert_int_equal(next_after("0 12 * jan-mar,MAY Mon-Fri", "UTC", utc(2026, 5, 1, 13, 0)),
                     utc(2026, 5, 4, 12, 0));
    assert_int_equal(next_after("0 0 * * 7", "UTC", utc(2026, 5, 1, 0, 0)),
                     next_after("0 0 * * sun", "UTC", utc(2026, 5, 1, 0, 0)));
    assert_int_equal(next_after("0 0 * * 7", "UTC", utc(2026, 5, 1, 0, 0)), utc(2026, 5, 3, 0, 0));
}

static void test_day_of_month_or_day_of_week(void **state)
{
    (void)state;
    /* Both restricted: the 13th or any Friday (February 2026: Fridays 6, 13, 20). */
    time_t t = next_after("0 0 13 * 5", "UTC", utc(2026, 2, 1, 0, 0));
    assert_int_equal(t, utc(2026, 2, 6, 0, 0));
    t = next_after("0 0 13 * 5", "UTC", t);
    assert_int_equal(t, utc(2026, 2, 13, 0, 0));
    assert_int_equal(next_after("0 0 13 * 5", "UTC", t), utc(2026, 2, 20, 0, 0));
    assert_int_equal(next_after("0 0 14 * 5", "UTC", utc(2026, 2, 7, 0, 0)),
                     utc(2026, 2, 13, 0, 0));
    /* A field starting with '*' makes both required: odd days that are Fridays. */
    assert_int_equal(next_after("0 0 */2 * 5", "UTC", utc(2026, 2, 1, 0, 0)),
                     utc(2026, 2, 13, 0, 0));
}

static void test_leap_day_and_macros(void **state)
{
    (void)state;
    assert_int_equal(next_after("0 0 29 2 *", "UTC", utc(2026, 1, 1, 0, 0)),
                     utc(2028, 2, 29, 0, 0));
    assert_int_equal(next_after("@daily", "UTC", utc(2026, 1, 1, 0, 0)), utc(2026, 1, 2, 0, 0));
    assert_int_equal(next_after("@hourly", "UTC", utc(2026, 1, 1, 0, 30)), utc(2026, 1, 1, 1, 0));
    assert_int_equal(next_after("@weekly", "UTC", utc(2026, 1, 1, 0, 0)), utc(2026, 1, 4, 0, 0));
}

/* --- Errors --------------------------------------------------------------------- */

static void test_invalid_expressions_say_what_is_wrong(void **state)
{
    (void)state;
    expect_error("60 * * * *", "minute: 60 is out of range 0-59");
    expect_error("* 24 * * *", "hour: 24 is out of range 0-23");
    expect_error("* * 0 * *", "day of month: 0 is out of range 1-31");
    expect_error("* * * 13 *", "month: 13 is out of range 1-12");
    expect_error("* * * * 8", "day of week: 8 is out of range 0-7");
    expect_error("* * * *", "expected 5 fields");
    expect_error("* * * * * *", "expected 5 fields");
    expect_error("", "expected 5 fields");
    expect_error("5-1 * * * *", "runs backwards");
    expect_error("*/0 * * * *", "step 0 is out of range");
    expect_error("5/15 * * * *", "needs '*' or a range");
    expect_error("*/ * * * *", "expected a step number");
    expect_error("1,,2 * * * *", "minute: expected a number");
    expect_error("0 0 30 2 *", "never fires");
    expect_error("0 0 31 4,6,9,11 *", "never fires");
    expect_error("0 0 * foo *", "month: expected a number or a name");
    expect_error("@sometimes", "unknown macro");
    expect_error("1;2 * * * *", "minute: unexpected");
}

static void test_never_fires_is_fine_when_the_weekday_can(void **state)
{
    (void)state;
    /* Both days restricted: Mondays still come. */
    pb_cron c;
    char err[200];
    assert_int_equal(pb_cron_parse("0 0 30 2 1", &c, err, sizeof err), 0);
}

static void test_zones(void **state)
{
    (void)state;
    assert_true(pb_cron_zone_valid("UTC"));
    assert_true(pb_cron_zone_valid("Europe/Berlin"));
    assert_true(pb_cron_zone_valid("America/Argentina/Buenos_Aires"));
    assert_false(pb_cron_zone_valid("Mars/Olympus_Mons"));
    assert_false(pb_cron_zone_valid("../../etc/passwd"));
    assert_false(pb_cron_zone_valid("/etc/localtime"));
    assert_false(pb_cron_zone_valid("Europe"));
    assert_false(pb_cron_zone_valid(""));
    assert_false(pb_cron_zone_valid("Europe/Berlin;rm"));
    pb_cron c;
    char err[200];
    time_t t;
    assert_int_equal(pb_cron_parse("* * * * *", &c, err, sizeof err), 0);
    assert_int_equal(pb_cron_next(&c, "Nowhere/Special", 0, &t), -1);
}

static void test_the_environment_is_restored(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Tokyo", 1);
    next_after("0 9 * * *", "Europe/Berlin", utc(2026, 1, 1, 0, 0));
    assert_string_equal(getenv("TZ"), "Asia/Tokyo");
    unsetenv("TZ");
    next_after("0 9 * * *", "Europe/Berlin", utc(2026, 1, 1, 0, 0));
    assert_null(getenv("TZ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ny_skipped_time_fires_at_the_end_of_the_gap),
        cmocka_unit_test(test_ny_times_in_the_gap_fire_once),
        cmocka_unit_test(test_ny_repeated_time_fires_once_at_its_first_occurrence),
        cmocka_unit_test(test_ny_hourly_skips_the_repeated_hour),
        cmocka_unit_test(test_berlin_skipped_and_repeated_times),
        cmocka_unit_test(test_berlin_daily_keeps_its_wall_clock_time),
        cmocka_unit_test(test_strictly_after),
        cmocka_unit_test(test_steps_ranges_and_lists),
        cmocka_unit_test(test_names_and_sunday_as_seven),
        cmocka_unit_test(test_day_of_month_or_day_of_week),
        cmocka_unit_test(test_leap_day_and_macros),
        cmocka_unit_test(test_invalid_expressions_say_what_is_wrong),
        cmocka_unit_test(test_never_fires_is_fine_when_the_weekday_can),
        cmocka_unit_test(test_zones),
        cmocka_unit_test(test_the_environment_is_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
