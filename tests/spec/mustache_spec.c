/*
 * mustache_spec.c - runs the Mustache spec against the template engine.
 *
 * usage: mustache_spec SPEC_DIR
 *
 * Loads the spec's JSON files from SPEC_DIR, renders every test in-process
 * (its partials added to the same set) and compares with "expected". Prints
 * each failure, then "mustache-spec: N passed, M failed". Exits 1 when a
 * test fails or a file cannot be read, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "buf.h"
#include "template.h"

/* The spec files we implement; lambdas and dynamic names are left out. */
static const char *const spec_files[] = {
    "comments", "delimiters", "interpolation", "inverted", "partials", "sections", "~inheritance",
};

/* The test template's name; a partial tag cannot name it (empty name). */
#define TEST_NAME ""

struct tally {
    int passed, failed;
};

/* Prints s (n bytes) as a C-escaped string literal. */
static void print_quoted(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch == '\r')
            fputs("\\r", stdout);
        else if (ch == '\t')
            fputs("\\t", stdout);
        else if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Adds each partial of the test's "partials" object to set.
 * Returns 0, or -1 with *err filled. */
static int add_partials(pb_tpl_set *set, const json_t *partials, pb_tpl_error *err)
{
    const char *name;
    const json_t *src;
    json_object_foreach((json_t *)partials, name, src)
    {
        if (pb_tpl_set_add(set, name, json_string_value(src), json_string_length(src), name, err) <
            0)
            return -1;
    }
    return 0;
}

/* Runs one test. Returns 1 when it passes, 0 when it fails (reported). */
static int run_test(const char *file, const json_t *test)
{
    const char *name = json_string_value(json_object_get(test, "name"));
    const json_t *tpl = json_object_get(test, "template");
    const json_t *want = json_object_get(test, "expected");
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    pb_tpl_error err = {0};
    pb_buf out = PB_BUF_INIT;
    int rc = -1;
    if (set != NULL && add_partials(set, json_object_get(test, "partials"), &err) == 0 &&
        pb_tpl_set_add(set, TEST_NAME, json_string_value(tpl), json_string_length(tpl), "template",
                       &err) == 0)
        rc = pb_tpl_render(set, TEST_NAME, json_object_get(test, "data"), &out, &err);
    int ok = rc == 0 && out.len == json_string_length(want) &&
             memcmp(out.data ? out.data : "", json_string_value(want), out.len) == 0;
    if (!ok) {
        printf("FAIL %s: %s\n  expected: ", file, name ? name : "?");
        print_quoted(json_string_value(want), json_string_length(want));
        printf("\n  got:      ");
        if (rc == 0)
            print_quoted(out.data ? out.data : "", out.len);
        else
            printf("error %s:%d: %s", err.file, err.line, err.msg);
        putchar('\n');
    }
    pb_buf_free(&out);
    pb_tpl_set_free(set);
    return ok;
}

/* Runs every test of SPEC_DIR/<name>.json. Returns 0, or -1 when the file
 * cannot be read (reported). */
static int run_file(const char *dir, const char *name, struct tally *t)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    const json_t *tests = json_object_get(spec, "tests");
    if (!json_is_array(tests)) {
        printf("ERROR %s:%d: %s\n", path, jerr.line, spec ? "no \"tests\" array" : jerr.text);
        json_decref(spec);
        return -1;
    }
    size_t i;
    const json_t *test;
    json_array_foreach(tests, i, test)
    {
        if (run_test(name, test))
            t->passed++;
        else
            t->failed++;
    }
    json_decref(spec);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SPEC_DIR\n", argv[0]);
        return 2;
    }
    struct tally t = {0, 0};
    int broken = 0;
    for (size_t i = 0; i < sizeof spec_files / sizeof spec_files[0]; i++)
        if (run_file(argv[1], spec_files[i], &t) < 0)
            broken = 1;
    printf("mustache-spec: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed > 0 || broken ? 1 : 0;
}
