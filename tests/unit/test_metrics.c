/* test_metrics.c - scoreboard counters, quantiles, Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void test_same_key_maps_to_one_slot(void **state)
{
    (void)state;
    pb_scoreboard *sb = pb_sb_create();
    pb_sb_route *a = pb_sb_route_slot(sb, "GET /x", "m");
    pb_sb_route *b = pb_sb_route_slot(sb, "GET /x", "m");
    pb_sb_route *c = pb_sb_route_slot(sb, "GET /y", "m");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
}

static void test_record_counts_status_classes(void **state)
{
    (void)state;
    pb_scoreboard *sb = pb_sb_create();
    pb_sb_route *r = pb_sb_route_slot(sb, "GET /x", "m");
    pb_sb_route_record(r, 200, 100);
    pb_sb_route_record(r, 404, 100);
    pb_sb_route_record(r, 503, 100);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->status[2], 1);
    assert_int_equal(r->status[4], 1);
    assert_int_equal(r->status[5], 1);
}

static void test_quantile_interpolates_in_bucket(void **state)
{
    (void)state;
    uint64_t h[PB_SB_BUCKETS] = {0};
    h[4] = 100; /* all between 5 and 10 ms */
    double p50 = pb_metrics_quantile(h, 0.5);
    assert_true(p50 > 0.0074 && p50 < 0.0076);
    uint64_t empty[PB_SB_BUCKETS] = {0};
    assert_true(pb_metrics_quantile(empty, 0.99) == 0);
}

static void test_prometheus_has_cumulative_buckets(void **state)
{
    (void)state;
    pb_scoreboard *sb = pb_sb_create();
    pb_sb_route *r = pb_sb_route_slot(sb, "GET /x", "sys");
    pb_sb_route_record(r, 200, 300);     /* 0.3 ms */
    pb_sb_route_record(r, 200, 3000000); /* 3 s */
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_metrics_prometheus(sb, &b), 0);
    const char *t = pb_buf_cstr(&b);
    assert_non_null(
        strstr(t, "plugboard_requests_total{route=\"GET /x\",module=\"sys\",status=\"2xx\"} 2"));
    assert_non_null(strstr(t, "le=\"0.0005\"} 1"));
    assert_non_null(strstr(t, "le=\"+Inf\"} 2"));
    assert_non_null(strstr(t, "# TYPE plugboard_request_duration_seconds histogram"));
    pb_buf_free(&b);
}

static void test_prometheus_escapes_labels(void **state)
{
    (void)state;
    pb_scoreboard *sb = pb_sb_create();
    pb_sb_route *r = pb_sb_route_slot(sb, "GET /a\"b\\c", "m");
    pb_sb_route_record(r, 200, 1);
    pb_buf b = PB_BUF_INIT;
    pb_metrics_prometheus(sb, &b);
    assert_non_null(strstr(pb_buf_cstr(&b), "route=\"GET /a\\\"b\\\\c\""));
    pb_buf_free(&b);
}

static void test_status_has_readable_uptime(void **state)
{
    (void)state;
    pb_scoreboard *sb = pb_sb_create();
    sb->started_ns -= 3725LL * 1000000000; /* 1 h 2 m 5 s ago */
    pb_config cfg;
    pb_config_defaults(&cfg);
    json_t *st = pb_metrics_status(sb, &cfg);
    assert_string_equal(json_string_value(json_object_get(st, "uptime_text")), "1 h 2 m");
    assert_int_equal(json_integer_value(json_object_get(st, "uptime_seconds")), 3725);
    json_decref(st);
    pb_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_key_maps_to_one_slot),
        cmocka_unit_test(test_record_counts_status_classes),
        cmocka_unit_test(test_quantile_interpolates_in_bucket),
        cmocka_unit_test(test_prometheus_has_cumulative_buckets),
        cmocka_unit_test(test_prometheus_escapes_labels),
        cmocka_unit_test(test_status_has_readable_uptime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
