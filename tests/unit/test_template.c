/*
 * test_template.c - the Mustache engine (beyond the spec suite): escaping,
 * error reports, template sets, loaders, limits and number formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "template.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* Compiles src as "t" into a fresh set; the test fails on a compile error. */
static pb_tpl_set *set_with(const char *src)
{
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_non_null(set);
    assert_int_equal(pb_tpl_set_add(set, "t", src, strlen(src), "t.mustache", &err), 0);
    return set;
}

/* Renders src against the JSON text data and checks the output. */
static void assert_renders(const char *src, const char *data, const char *want)
{
    pb_tpl_set *set = set_with(src);
    json_t *json = json_loads(data, JSON_DECODE_ANY, NULL);
    pb_buf out = PB_BUF_INIT;
    pb_tpl_error err;
    assert_non_null(json);
    assert_int_equal(pb_tpl_render(set, "t", json, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), want);
    pb_buf_free(&out);
    json_decref(json);
    pb_tpl_set_free(set);
}

/* Compiles src and checks it fails at line with a message containing msg. */
static void assert_compile_error(const char *src, int line, const char *msg)
{
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_int_equal(pb_tpl_set_add(set, "t", src, strlen(src), "views/t.mustache", &err), -1);
    assert_string_equal(err.file, "views/t.mustache");
    assert_int_equal(err.line, line);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
    assert_int_equal(pb_tpl_set_has(set, "t"), 0);
    pb_tpl_set_free(set);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* A loader over a fixed table; counts its calls. */
struct fake_loader {
    const char *name[4];
    const char *src[4];
    int calls;
    int fail; /* answer -1 */
};

static int fake_load(void *ctx, const char *name, char **src, size_t *len, char **file)
{
    struct fake_loader *l = ctx;
    l->calls++;
    if (l->fail)
        return -1;
    for (int i = 0; i < 4 && l->name[i]; i++)
        if (strcmp(l->name[i], name) == 0) {
            *src = strdup(l->src[i]);
            *len = strlen(l->src[i]);
            *file = malloc(strlen(name) + 10);
            sprintf(*file, "%s.mustache", name);
            return 0;
        }
    return 1;
}

/* ------------------------------------------------------------------------
 * Escaping
 * ------------------------------------------------------------------------ */

static void test_escapes_all_five_html_characters(void **state)
{
    (void)state;
    assert_renders("{{x}}", "{\"x\": \"a&b<c>d\\\"e'f\"}", "a&amp;b&lt;c&gt;d&quot;e&#39;f");
}

static void test_triple_mustache_is_not_escaped(void **state)
{
    (void)state;
    assert_renders("{{{x}}}", "{\"x\": \"<b>&'\\\"\"}", "<b>&'\"");
}

static void test_ampersand_is_not_escaped(void **state)
{
    (void)state;
    assert_renders("{{& x }}", "{\"x\": \"<b>&'\\\"\"}", "<b>&'\"");
}

static void test_template_text_is_never_escaped(void **state)
{
    (void)state;
    assert_renders("<p class=\"a\">&amp;</p>", "{}", "<p class=\"a\">&amp;</p>");
}

/* ------------------------------------------------------------------------
 * Compile errors name the file and the line
 * ------------------------------------------------------------------------ */

static void test_error_unclosed_section(void **state)
{
    (void)state;
    assert_compile_error("a\nb\n{{#foo}}\nc\n", 3, "unclosed section \"foo\"");
}

static void test_error_mismatched_closing_tag(void **state)
{
    (void)state;
    assert_compile_error("{{#a}}\n{{#b}}\n{{/a}}\n", 3,
                         "closing tag \"a\" does not match section \"b\" opened at line 2");
}

static void test_error_closing_tag_without_opening(void **state)
{
    (void)state;
    assert_compile_error("x\n\n{{/a}}", 3, "without an opening tag");
}

static void test_error_unclosed_tag(void **state)
{
    (void)state;
    assert_compile_error("one\ntwo {{name\nthree", 2, "unclosed tag");
}

static void test_error_unclosed_triple_mustache(void **state)
{
    (void)state;
    assert_compile_error("{{{name}}", 1, "\"}}}\"");
}

static void test_error_bad_delimiter(void **state)
{
    (void)state;
    assert_compile_error("ok\n{{=<% =}}", 2, "bad set-delimiter tag");
}

static void test_error_empty_dotted_part(void **state)
{
    (void)state;
    assert_compile_error("{{a..b}}", 1, "invalid name \"a..b\"");
}

static void test_error_line_counts_multiline_comments(void **state)
{
    (void)state;
    assert_compile_error("{{!\n\n}}\n{{/x}}", 4, "\"x\"");
}

static void test_error_file_defaults_to_name(void **state)
{
    (void)state;
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_int_equal(pb_tpl_set_add(set, "crm/lead", "{{#a}}", 6, NULL, &err), -1);
    assert_string_equal(err.file, "crm/lead");
    assert_int_equal(err.line, 1);
    pb_tpl_set_free(set);
}

static void test_failed_add_keeps_previous_template(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("old");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "t", "{{#x}}", 6, NULL, &err), -1);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "old");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_add_replaces_template_of_same_name(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("old");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "t", "new", 3, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "new");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

/* ------------------------------------------------------------------------
 * Folders and loaders
 * ------------------------------------------------------------------------ */

static void test_load_dir_names_templates_by_relative_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb-tpl-XXXXXX";
    char path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/a/b.mustache", dir);
    write_file(path, "B{{>top}}");
    snprintf(path, sizeof path, "%s/top.mustache", dir);
    write_file(path, "T");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_file(path, "{{#unclosed}}");

    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_int_equal(pb_tpl_set_load_dir(set, dir, &err), 2);
    assert_int_equal(pb_tpl_set_has(set, "a/b"), 1);
    assert_int_equal(pb_tpl_set_has(set, "top"), 1);
    assert_int_equal(pb_tpl_set_has(set, "notes"), 0);
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_render(set, "a/b", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "BT");

    pb_buf_free(&out);
    pb_tpl_set_free(set);
    unlink(path);
    snprintf(path, sizeof path, "%s/top.mustache", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/a/b.mustache", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/a", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_load_dir_reports_failing_file_and_line(void **state)
{
    (void)state;
    char dir[] = "/tmp/pb-tpl-XXXXXX";
    char path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.mustache", dir);
    write_file(path, "ok\nok\n{{/nope}}\n");

    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_int_equal(pb_tpl_set_load_dir(set, dir, &err), -1);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 3);
    pb_tpl_set_free(set);
    unlink(path);
    rmdir(dir);
}

static void test_load_dir_missing_folder_is_error(void **state)
{
    (void)state;
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    assert_int_equal(pb_tpl_set_load_dir(set, "/nonexistent/pb-templates", &err), -1);
    assert_string_equal(err.file, "/nonexistent/pb-templates");
    pb_tpl_set_free(set);
}

static void test_loader_supplies_unknown_partials_once(void **state)
{
    (void)state;
    struct fake_loader l = {.name = {"p"}, .src = {"<{{x}}>"}};
    pb_tpl_set *set = pb_tpl_set_new(fake_load, &l);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    json_t *data = json_pack("{s:s}", "x", "v");
    assert_int_equal(pb_tpl_set_add(set, "t", "{{>p}}{{>p}}", 12, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "<v><v><v><v>");
    assert_int_equal(l.calls, 1);
    assert_int_equal(pb_tpl_set_has(set, "p"), 1);
    json_decref(data);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_set_templates_win_over_loader(void **state)
{
    (void)state;
    struct fake_loader l = {.name = {"p"}, .src = {"loaded"}};
    pb_tpl_set *set = pb_tpl_set_new(fake_load, &l);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "p", "added", 5, NULL, &err), 0);
    assert_int_equal(pb_tpl_set_add(set, "t", "{{>p}}", 6, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "added");
    assert_int_equal(l.calls, 0);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_loader_missing_partial_renders_nothing_and_is_cached(void **state)
{
    (void)state;
    struct fake_loader l = {0};
    pb_tpl_set *set = pb_tpl_set_new(fake_load, &l);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "t", "[{{>nope}}{{>nope}}]", 20, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "[]");
    assert_int_equal(l.calls, 1);
    assert_int_equal(pb_tpl_set_has(set, "nope"), 0);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_loader_failure_fails_render_at_the_tag(void **state)
{
    (void)state;
    struct fake_loader l = {.fail = 1};
    pb_tpl_set *set = pb_tpl_set_new(fake_load, &l);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "t", "a\n{{>p}}", 8, "t.mustache", &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), -1);
    assert_string_equal(err.file, "t.mustache");
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "cannot load partial \"p\""));
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_loaded_partial_compile_error_names_its_file(void **state)
{
    (void)state;
    struct fake_loader l = {.name = {"p"}, .src = {"\n{{#x}}"}};
    pb_tpl_set *set = pb_tpl_set_new(fake_load, &l);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "t", "{{>p}}", 6, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), -1);
    assert_string_equal(err.file, "p.mustache");
    assert_int_equal(err.line, 2);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

/* ------------------------------------------------------------------------
 * Rendering
 * ------------------------------------------------------------------------ */

static void test_render_appends_to_existing_buffer(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("<{{x}}>");
    json_t *data = json_pack("{s:i}", "x", 7);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_buf_puts(&out, "head:"), 0);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "head:<7>");
    json_decref(data);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_failed_render_leaves_buffer_as_it_was(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("lots of output {{>t}}");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_buf_puts(&out, "head:"), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), -1);
    assert_string_equal(pb_buf_cstr(&out), "head:");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_unknown_template_is_an_error(void **state)
{
    (void)state;
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_render(set, "nope", NULL, &out, &err), -1);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(pb_tpl_render(set, "nope", NULL, &out, NULL), -1);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_recursive_partial_hits_depth_limit(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("x\n  {{>t}}");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), -1);
    assert_string_equal(err.file, "t.mustache");
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "nested more than 100 deep"));
    assert_int_equal(out.len, 0);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_recursive_parent_hits_depth_limit(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("{{<t}}{{$b}}x{{/b}}{{/t}}");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), -1);
    assert_non_null(strstr(err.msg, "nested more than"));
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_step_limit_stops_exploding_loops(void **state)
{
    (void)state;
    pb_tpl_set *set =
        set_with("{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}.{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}");
    json_t *data = json_pack("{s:[iiiiiiiiii]}", "l", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    pb_tpl_set_limits(set, 10000, 0);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), -1);
    assert_non_null(strstr(err.msg, "more than 10000 steps"));
    json_decref(data);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_output_limit(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("{{#l}}0123456789{{/l}}");
    json_t *data = json_pack("{s:[iiiiiiiiii]}", "l", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    pb_tpl_set_limits(set, 0, 50);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), -1);
    assert_non_null(strstr(err.msg, "output larger than 50 bytes"));
    pb_tpl_set_limits(set, 0, 100);
    assert_int_equal(pb_tpl_render(set, "t", data, &out, &err), 0);
    assert_int_equal(out.len, 100);
    json_decref(data);
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_empty_string_and_zero_are_falsy(void **state)
{
    (void)state;
    assert_renders("{{#s}}s{{/s}}{{#i}}i{{/i}}{{#r}}r{{/r}}{{^s}}S{{/s}}{{^i}}I{{/i}}{{^r}}R{{/r}}",
                   "{\"s\": \"\", \"i\": 0, \"r\": 0.0}", "SIR");
}

static void test_nonempty_values_and_empty_object_are_truthy(void **state)
{
    (void)state;
    assert_renders("{{#s}}s{{/s}}{{#i}}i{{/i}}{{#o}}o{{/o}}",
                   "{\"s\": \"0\", \"i\": -1, \"o\": {}}", "sio");
}

static void test_object_interpolates_as_escaped_json(void **state)
{
    (void)state;
    assert_renders("{{o}}|{{{a}}}", "{\"o\": {\"k\": \"<\"}, \"a\": [1, true]}",
                   "{&quot;k&quot;:&quot;&lt;&quot;}|[1,true]");
}

static void test_dotted_name_indexes_arrays(void **state)
{
    (void)state;
    assert_renders("{{rows.1.n}}|{{rows.9.n}}", "{\"rows\": [{\"n\": \"a\"}, {\"n\": \"b\"}]}",
                   "b|");
}

static void test_booleans_print_as_words(void **state)
{
    (void)state;
    assert_renders("{{t}} {{f}} {{n}}", "{\"t\": true, \"f\": false, \"n\": null}", "true false ");
}

/* ------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------ */

static void test_integers_print_as_integers(void **state)
{
    (void)state;
    assert_renders("{{a}} {{b}} {{c}}", "{\"a\": 0, \"b\": -42, \"c\": 9007199254740993}",
                   "0 -42 9007199254740993");
}

static void test_reals_print_shortest_round_trip(void **state)
{
    (void)state;
    assert_renders("{{a}} {{b}} {{c}} {{d}}",
                   "{\"a\": 1.210, \"b\": 0.30000000000000004, "
                   "\"c\": 0.1, \"d\": -2.5}",
                   "1.21 0.30000000000000004 0.1 -2.5");
}

static void test_integral_reals_print_without_point(void **state)
{
    (void)state;
    assert_renders("{{a}} {{b}} {{c}}", "{\"a\": 100.0, \"b\": -0.0, \"c\": 1e20}",
                   "100 0 100000000000000000000");
}

static void test_extreme_reals_use_exponent_like_javascript(void **state)
{
    (void)state;
    assert_renders("{{a}} {{b}} {{c}} {{d}} {{e}}",
                   "{\"a\": 1e21, \"b\": 1.5e-7, \"c\": 0.000001, \"d\": 1.7976931348623157e308, "
                   "\"e\": 5e-324}",
                   "1e+21 1.5e-7 0.000001 1.7976931348623157e+308 5e-324");
}

/* ------------------------------------------------------------------------
 * Indentation and inheritance details the spec leaves open
 * ------------------------------------------------------------------------ */

static void test_nested_standalone_partials_add_indentation(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("<\n  {{>a}}\n>");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    assert_int_equal(pb_tpl_set_add(set, "a", "a1\n  {{>b}}\na2\n", 15, NULL, &err), 0);
    assert_int_equal(pb_tpl_set_add(set, "b", "b1\nb2\n", 6, NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "<\n  a1\n    b1\n    b2\n  a2\n>");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_parent_inside_partial_keeps_indentation(void **state)
{
    (void)state;
    pb_tpl_set *set =
        set_with("<\n  {{<layout}}\n  {{$body}}\n  hi\n  {{/body}}\n  {{/layout}}\n>");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    const char *layout = "[\n  {{$body}}\n  {{/body}}\n]\n";
    assert_int_equal(pb_tpl_set_add(set, "layout", layout, strlen(layout), NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "<\n  [\n    hi\n  ]\n>");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

static void test_shared_standalone_line_indents_by_leading_whitespace_only(void **state)
{
    (void)state;
    pb_tpl_set *set = set_with("x\n  {{$a}}{{<p}}\n  {{$b}}\n  B\n  {{/b}}\n  {{/p}}{{/a}}\ny\n");
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    const char *p = "[\n  {{$b}}{{/b}}\n]\n";
    assert_int_equal(pb_tpl_set_add(set, "p", p, strlen(p), NULL, &err), 0);
    assert_int_equal(pb_tpl_render(set, "t", NULL, &out, &err), 0);
    assert_string_equal(pb_buf_cstr(&out), "x\n  [\n    B\n\n  ]\ny\n");
    pb_buf_free(&out);
    pb_tpl_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_all_five_html_characters),
        cmocka_unit_test(test_triple_mustache_is_not_escaped),
        cmocka_unit_test(test_ampersand_is_not_escaped),
        cmocka_unit_test(test_template_text_is_never_escaped),
        cmocka_unit_test(test_error_unclosed_section),
        cmocka_unit_test(test_error_mismatched_closing_tag),
        cmocka_unit_test(test_error_closing_tag_without_opening),
        cmocka_unit_test(test_error_unclosed_tag),
        cmocka_unit_test(test_error_unclosed_triple_mustache),
        cmocka_unit_test(test_error_bad_delimiter),
        cmocka_unit_test(test_error_empty_dotted_part),
        cmocka_unit_test(test_error_line_counts_multiline_comments),
        cmocka_unit_test(test_error_file_defaults_to_name),
        cmocka_unit_test(test_failed_add_keeps_previous_template),
        cmocka_unit_test(test_add_replaces_template_of_same_name),
        cmocka_unit_test(test_load_dir_names_templates_by_relative_path),
        cmocka_unit_test(test_load_dir_reports_failing_file_and_line),
        cmocka_unit_test(test_load_dir_missing_folder_is_error),
        cmocka_unit_test(test_loader_supplies_unknown_partials_once),
        cmocka_unit_test(test_set_templates_win_over_loader),
        cmocka_unit_test(test_loader_missing_partial_renders_nothing_and_is_cached),
        cmocka_unit_test(test_loader_failure_fails_render_at_the_tag),
        cmocka_unit_test(test_loaded_partial_compile_error_names_its_file),
        cmocka_unit_test(test_render_appends_to_existing_buffer),
        cmocka_unit_test(test_failed_render_leaves_buffer_as_it_was),
        cmocka_unit_test(test_unknown_template_is_an_error),
        cmocka_unit_test(test_recursive_partial_hits_depth_limit),
        cmocka_unit_test(test_recursive_parent_hits_depth_limit),
        cmocka_unit_test(test_step_limit_stops_exploding_loops),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_empty_string_and_zero_are_falsy),
        cmocka_unit_test(test_nonempty_values_and_empty_object_are_truthy),
        cmocka_unit_test(test_object_interpolates_as_escaped_json),
        cmocka_unit_test(test_dotted_name_indexes_arrays),
        cmocka_unit_test(test_booleans_print_as_words),
        cmocka_unit_test(test_integers_print_as_integers),
        cmocka_unit_test(test_reals_print_shortest_round_trip),
        cmocka_unit_test(test_integral_reals_print_without_point),
        cmocka_unit_test(test_extreme_reals_use_exponent_like_javascript),
        cmocka_unit_test(test_nested_standalone_partials_add_indentation),
        cmocka_unit_test(test_parent_inside_partial_keeps_indentation),
        cmocka_unit_test(test_shared_standalone_line_indents_by_leading_whitespace_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
