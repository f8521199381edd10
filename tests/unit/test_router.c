/* test_router.c - pattern routing: matching, specificity, 404/405, clashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static int h(pb_req *req)
{
    (void)req;
    return 200;
}

static const pb_route routes[] = {
    {PB_GET, "/", h, NULL, PB_PUBLIC, "t"},
    {PB_GET | PB_POST, "/crm/leads", h, NULL, PB_PUBLIC, "t"},
    {PB_GET, "/crm/leads/:id", h, NULL, PB_PUBLIC, "t"},
    {PB_GET, "/crm/leads/new", h, NULL, PB_PUBLIC, "t"},
    {PB_DELETE, "/crm/leads/:id", h, "crm:delete", 0, "t"},
    {PB_GET, "/a/:x/b/:y", h, NULL, PB_PUBLIC, "t"},
    {0},
};

static pb_router make(void)
{
    pb_router r = {0};
    char err[256];
    for (const pb_route *d = routes; d->pattern; d++)
        assert_int_equal(pb_router_add(&r, d, "m", NULL, err, sizeof err), 0);
    pb_router_finish(&r);
    return r;
}

static void test_root_matches(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "GET", "/", &m), 200);
    assert_string_equal(m.entry->def->pattern, "/");
    pb_router_free(&r);
}

static void test_param_is_captured_raw(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "GET", "/crm/leads/a%20b", &m), 200);
    assert_string_equal(m.entry->def->pattern, "/crm/leads/:id");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0].name, "id");
    assert_int_equal(m.params[0].len, 5);
    assert_memory_equal(m.params[0].value, "a%20b", 5);
    pb_router_free(&r);
}

static void test_literal_beats_param_whatever_the_order(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "GET", "/crm/leads/new", &m), 200);
    assert_string_equal(m.entry->def->pattern, "/crm/leads/new");
    pb_router_free(&r);
}

static void test_two_params(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "GET", "/a/1/b/2", &m), 200);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[1].name, "y");
    assert_memory_equal(m.params[1].value, "2", 1);
    pb_router_free(&r);
}

static void test_unknown_path_is_404(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "GET", "/nope", &m), 404);
    assert_int_equal(pb_router_match(&r, "GET", "/crm//leads", &m), 404);
    assert_int_equal(pb_router_match(&r, "GET", "/crm/leads/", &m), 404);
    assert_int_equal(pb_router_match(&r, "GET", "relative", &m), 404);
    pb_router_free(&r);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "PUT", "/crm/leads/7", &m), 405);
    assert_int_equal(m.allow, PB_GET | PB_DELETE);
    char allow[64];
    pb_router_allow_string(m.allow, allow, sizeof allow);
    assert_string_equal(allow, "GET, HEAD, DELETE");
    pb_router_free(&r);
}

static void test_head_is_served_by_get(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "HEAD", "/crm/leads", &m), 200);
    assert_int_equal(m.method, PB_GET);
    pb_router_free(&r);
}

static void test_unknown_method_on_known_path_is_501(void **state)
{
    (void)state;
    pb_router r = make();
    pb_match m;
    assert_int_equal(pb_router_match(&r, "BREW", "/crm/leads", &m), 501);
    pb_router_free(&r);
}

static void test_same_shape_clashes(void **state)
{
    (void)state;
    pb_router r = make();
    char err[256];
    pb_route dup = {PB_GET, "/crm/leads/:other", h, NULL, PB_PUBLIC, "t"};
    assert_int_equal(pb_router_check(&r, &dup, err, sizeof err), -1);
    assert_non_null(strstr(err, "clashes"));
    pb_route other_method = {PB_PUT, "/crm/leads/:other", h, NULL, PB_PUBLIC, "t"};
    assert_int_equal(pb_router_check(&r, &other_method, err, sizeof err), 0);
    pb_router_free(&r);
}

static void test_route_without_permission_is_refused(void **state)
{
    (void)state;
    pb_router r = {0};
    char err[256];
    pb_route bad = {PB_GET, "/x", h, NULL, 0, "t"};
    assert_int_equal(pb_router_check(&r, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "deny by default"));
}

static void test_bad_patterns_are_refused(void **state)
{
    (void)state;
    pb_router r = {0};
    char err[256];
    const char *bad[] = {"x", "/a//b", "/a/", "/:", "/:9x", "/a b", "/%41"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pb_route d = {PB_GET, bad[i], h, NULL, PB_PUBLIC, "t"};
        assert_int_equal(pb_router_check(&r, &d, err, sizeof err), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_matches),
        cmocka_unit_test(test_param_is_captured_raw),
        cmocka_unit_test(test_literal_beats_param_whatever_the_order),
        cmocka_unit_test(test_two_params),
        cmocka_unit_test(test_unknown_path_is_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_head_is_served_by_get),
        cmocka_unit_test(test_unknown_method_on_known_path_is_501),
        cmocka_unit_test(test_same_shape_clashes),
        cmocka_unit_test(test_route_without_permission_is_refused),
        cmocka_unit_test(test_bad_patterns_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
