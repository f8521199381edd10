/*
 * test_multipart.c - multipart/form-data, fed in chunks of every size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "params.h"

#define B                  "XyZ"
#define CRLF               "\r\n"
#define OPEN               "--" B CRLF
#define NEXT               CRLF "--" B CRLF
#define CLOSE              CRLF "--" B "--" CRLF
#define DISP               "Content-Disposition: form-data; name="
#define FIELD(name, value) DISP "\"" name "\"" CRLF CRLF value

typedef struct fixture {
    char dir[32];
    pb_params out;
    pb_limits lim;
    pb_input_error err;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    strcpy(fx->dir, "/tmp/pb-test-mp-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    fx->lim = (pb_limits){
        .body_max = 1 << 20,
        .fields_max = 4,
        .name_max = 8,
        .value_max = 16,
        .upload_max = 200000,
        .uploads_max = 2,
    };
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    pb_params_free(&fx->out);
    int rc = rmdir(fx->dir); /* fails if a test left a file behind */
    free(fx);
    return rc;
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* Feeds body in chunks of `chunk` bytes and finishes. Returns the result. */
static int feed(fixture *fx, const char *body, size_t len, size_t chunk)
{
    pb_multipart *mp = pb_multipart_new(B, &fx->lim, fx->dir, &fx->out);
    assert_non_null(mp);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += chunk)
        rc = pb_multipart_feed(mp, body + i, len - i < chunk ? len - i : chunk, &fx->err);
    if (rc == 0)
        rc = pb_multipart_finish(mp, &fx->err);
    pb_multipart_free(mp);
    return rc;
}

static int parse(fixture *fx, const char *body)
{
    return feed(fx, body, strlen(body), strlen(body) + 1);
}

static void reset(fixture *fx)
{
    pb_params_free(&fx->out);
}

/* ------------------------------------------------------------------------
 * The boundary parameter
 * ------------------------------------------------------------------------ */

static void test_boundary_bare(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b), 0);
    assert_string_equal(b, "abc");
}

static void test_boundary_quoted(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=\"a b:c\"", b, sizeof b),
                     0);
    assert_string_equal(b, "a b:c");
}

static void test_boundary_parameter_name_case_insensitive(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data;BOUNDARY=abc", b, sizeof b), 0);
    assert_string_equal(b, "abc");
}

static void test_boundary_among_other_parameters(void **state)
{
    (void)state;
    char b[71];
    const char *ct = "multipart/form-data; charset=\"x;boundary=no\"; boundary=yes";
    assert_int_equal(pb_multipart_boundary(ct, b, sizeof b), 0);
    assert_string_equal(b, "yes");
}

static void test_boundary_missing_rejected(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data", b, sizeof b), -1);
    assert_int_equal(pb_multipart_boundary("multipart/form-data; charset=utf-8", b, sizeof b), -1);
}

static void test_boundary_of_70_accepted(void **state)
{
    (void)state;
    char ct[128] = "multipart/form-data; boundary=", b[71];
    memset(ct + strlen(ct), 'a', 70);
    assert_int_equal(pb_multipart_boundary(ct, b, sizeof b), 0);
    assert_int_equal(strlen(b), 70);
}

static void test_boundary_of_71_rejected(void **state)
{
    (void)state;
    char ct[128] = "multipart/form-data; boundary=", b[128];
    memset(ct + strlen(ct), 'a', 71);
    assert_int_equal(pb_multipart_boundary(ct, b, sizeof b), -1);
}

static void test_boundary_empty_rejected(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b), -1);
}

static void test_boundary_with_invalid_character_rejected(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=\"a\\\\b\"", b, sizeof b),
                     -1);
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=a\x01", b, sizeof b), -1);
}

static void test_boundary_ending_in_space_rejected(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(pb_multipart_boundary("multipart/form-data; boundary=\"ab \"", b, sizeof b),
                     -1);
}

static void test_boundary_given_twice_rejected(void **state)
{
    (void)state;
    char b[71];
    assert_int_equal(
        pb_multipart_boundary("multipart/form-data; boundary=a; boundary=a", b, sizeof b), -1);
}

static void test_new_refuses_invalid_boundary(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_null(pb_multipart_new("", &fx->lim, fx->dir, &fx->out));
    assert_null(pb_multipart_new("a\rb", &fx->lim, fx->dir, &fx->out));
}

/* ------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------ */

static void test_single_field(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "hello") CLOSE), 0);
    assert_int_equal(fx->out.n, 1);
    assert_string_equal(fx->out.v[0].name, "a");
    assert_string_equal(fx->out.v[0].value, "hello");
    assert_null(fx->out.v[0].path);
}

static void test_fields_kept_in_order(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("b", "2") NEXT FIELD("a", "1") CLOSE), 0);
    assert_int_equal(fx->out.n, 2);
    assert_string_equal(fx->out.v[0].name, "b");
    assert_string_equal(fx->out.v[1].value, "1");
}

static void test_empty_value(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "") CLOSE), 0);
    assert_string_equal(fx->out.v[0].value, "");
    assert_int_equal(fx->out.v[0].len, 0);
}

static void test_crlf_inside_value_kept(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "x\r\ny\r\n") CLOSE), 0);
    assert_string_equal(fx->out.v[0].value, "x\r\ny\r\n");
}

static void test_partial_delimiter_in_value_kept(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "\r\n--XyQ\r\r\n--X") CLOSE), 0);
    assert_string_equal(fx->out.v[0].value, "\r\n--XyQ\r\r\n--X");
}

static void test_binary_value_with_nul_kept(void **state)
{
    (void)state;
    fixture *fx = *state;
    static const char body[] = OPEN FIELD("a", "x\0y") CLOSE;
    assert_int_equal(feed(fx, body, sizeof body - 1, 1024), 0);
    assert_int_equal(fx->out.v[0].len, 3);
    assert_memory_equal(fx->out.v[0].value, "x\0y", 3);
}

static void test_every_chunk_size_gives_same_fields(void **state)
{
    (void)state;
    fixture *fx = *state;
    static const char body[] =
        "preamble" CRLF OPEN FIELD("a", "1\r\n--Xy") NEXT FIELD("b", "\r\r\n-") CLOSE "epilogue";
    for (size_t chunk = 1; chunk <= sizeof body; chunk++) {
        assert_int_equal(feed(fx, body, sizeof body - 1, chunk), 0);
        assert_int_equal(fx->out.n, 2);
        assert_string_equal(fx->out.v[0].value, "1\r\n--Xy");
        assert_string_equal(fx->out.v[1].value, "\r\r\n-");
        reset(fx);
    }
}

static void test_delimiter_split_at_every_offset(void **state)
{
    (void)state;
    fixture *fx = *state;
    static const char body[] = OPEN FIELD("a", "left") NEXT FIELD("b", "right") CLOSE;
    size_t len = sizeof body - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        pb_multipart *mp = pb_multipart_new(B, &fx->lim, fx->dir, &fx->out);
        assert_int_equal(pb_multipart_feed(mp, body, cut, &fx->err), 0);
        assert_int_equal(pb_multipart_feed(mp, body + cut, len - cut, &fx->err), 0);
        assert_int_equal(pb_multipart_finish(mp, &fx->err), 0);
        pb_multipart_free(mp);
        assert_string_equal(pb_params_get(&fx->out, "a")->value, "left");
        assert_string_equal(pb_params_get(&fx->out, "b")->value, "right");
        reset(fx);
    }
}

static void test_preamble_ignored(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, "This is a preamble --XyZ" CRLF "--Xy" CRLF OPEN FIELD("a", "1") CLOSE), 0);
    assert_int_equal(fx->out.n, 1);
    assert_string_equal(fx->out.v[0].value, "1");
}

static void test_epilogue_ignored(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "1") CLOSE "--XyZ" CRLF "junk"), 0);
    assert_int_equal(fx->out.n, 1);
}

static void test_close_delimiter_without_crlf_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "1") CRLF "--" B "--"), 0);
    assert_int_equal(fx->out.n, 1);
}

static void test_transport_padding_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, "--" B " \t" CRLF FIELD("a", "1") CRLF "--" B "  " CRLF FIELD("b", "2") CLOSE),
        0);
    assert_int_equal(fx->out.n, 2);
}

static void test_form_with_no_fields_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, "--" B "--" CRLF), 0);
    assert_int_equal(fx->out.n, 0);
}

static void test_quoted_name_with_escaped_quote(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"a\\\"b\"" CRLF CRLF "1" CLOSE), 0);
    assert_string_equal(fx->out.v[0].name, "a\"b");
}

static void test_bare_name_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "a" CRLF CRLF "1" CLOSE), 0);
    assert_string_equal(fx->out.v[0].name, "a");
}

static void test_header_names_case_insensitive(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, OPEN "content-DISPOSITION: Form-Data; NAME=\"a\"" CRLF CRLF "1" CLOSE), 0);
    assert_string_equal(fx->out.v[0].name, "a");
}

static void test_unknown_headers_ignored(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN "X-Other: 1" CRLF FIELD("a", "1") CLOSE), 0);
    assert_int_equal(fx->out.n, 1);
}

static void test_value_part_content_type_recorded(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, OPEN "Content-Type: text/plain; charset=utf-8" CRLF FIELD("a", "1") CLOSE), 0);
    assert_string_equal(fx->out.v[0].content_type, "text/plain; charset=utf-8");
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

#define FILEPART(name, filename, type, content)                                                    \
    DISP "\"" name "\"; filename=\"" filename "\"" CRLF "Content-Type: " type CRLF CRLF content

static void test_file_stored_on_disk(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a.txt", "text/plain", "file\r\ndata") CLOSE), 0);
    const pb_field *f = pb_params_get(&fx->out, "f");
    assert_non_null(f->path);
    assert_int_equal(f->size, 10);
    assert_string_equal(f->value, "");
    assert_string_equal(f->filename, "a.txt");
    assert_string_equal(f->content_type, "text/plain");
    char got[32] = {0};
    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(got, 1, sizeof got, fp), 10);
    fclose(fp);
    assert_string_equal(got, "file\r\ndata");
}

static void test_file_created_in_tmpdir_with_mode_0600(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a.txt", "text/plain", "x") CLOSE), 0);
    const pb_field *f = pb_params_get(&fx->out, "f");
    assert_memory_equal(f->path, fx->dir, strlen(fx->dir));
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_client_path_never_used(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "../../etc/passwd", "text/plain", "x") CLOSE), 0);
    const pb_field *f = pb_params_get(&fx->out, "f");
    assert_string_equal(f->filename, "passwd");
    assert_null(strstr(f->path, "passwd"));
    assert_int_equal(files_in(fx->dir), 1);
}

static void test_windows_path_reduced_to_basename(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, OPEN FILEPART("f", "C:\\Users\\me\\cv.pdf", "application/pdf", "x") CLOSE), 0);
    assert_string_equal(pb_params_get(&fx->out, "f")->filename, "cv.pdf");
}

static void test_file_without_content_type(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"f\"; filename=\"a\"" CRLF CRLF "x" CLOSE), 0);
    assert_null(pb_params_get(&fx->out, "f")->content_type);
}

static void test_empty_file_input_skipped(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "", "application/octet-stream", "") CLOSE), 0);
    assert_int_equal(fx->out.n, 0);
    assert_int_equal(files_in(fx->dir), 0);
}

static void test_large_file_streamed_intact(void **state)
{
    (void)state;
    fixture *fx = *state;
    size_t n = 150000;
    char *content = malloc(n);
    for (size_t i = 0; i < n; i++)
        content[i] = (char)(i * 7 % 251);
    const char *head = OPEN DISP "\"f\"; filename=\"big\"" CRLF CRLF;
    size_t hl = strlen(head), tl = strlen(CLOSE);
    char *body = malloc(hl + n + tl);
    memcpy(body, head, hl);
    memcpy(body + hl, content, n);
    memcpy(body + hl + n, CLOSE, tl);
    assert_int_equal(feed(fx, body, hl + n + tl, 4093), 0);
    const pb_field *f = pb_params_get(&fx->out, "f");
    assert_int_equal(f->size, n);
    char *got = malloc(n + 1);
    FILE *fp = fopen(f->path, "rb");
    assert_int_equal(fread(got, 1, n + 1, fp), n);
    fclose(fp);
    assert_memory_equal(got, content, n);
    free(got);
    free(body);
    free(content);
}

static void test_large_file_fed_in_one_chunk(void **state)
{
    (void)state;
    fixture *fx = *state;
    size_t n = 150000;
    const char *head = OPEN DISP "\"f\"; filename=\"big\"" CRLF CRLF;
    size_t hl = strlen(head), tl = strlen(CLOSE);
    char *body = malloc(hl + n + tl);
    memcpy(body, head, hl);
    memset(body + hl, 'z', n);
    memcpy(body + hl + n, CLOSE, tl);
    assert_int_equal(feed(fx, body, hl + n + tl, hl + n + tl), 0);
    const pb_field *f = pb_params_get(&fx->out, "f");
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, n);
    assert_int_equal(f->size, n);
    free(body);
}

static void test_files_removed_on_free(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a", "text/plain", "1")
                                   NEXT FILEPART("g", "b", "text/plain", "2") CLOSE),
                     0);
    assert_int_equal(files_in(fx->dir), 2);
    pb_params_free(&fx->out);
    assert_int_equal(files_in(fx->dir), 0);
}

static void test_partial_file_removed_after_error(void **state)
{
    (void)state;
    fixture *fx = *state;
    fx->lim.upload_max = 4;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a", "text/plain", "12345") CLOSE), -1);
    pb_params_free(&fx->out);
    assert_int_equal(files_in(fx->dir), 0);
}

static void test_truncated_upload_removed_on_free(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a", "text/plain", "1234")), -1);
    assert_int_equal(files_in(fx->dir), 1);
    pb_params_free(&fx->out);
    assert_int_equal(files_in(fx->dir), 0);
}

static void test_file_at_size_limit_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    fx->lim.upload_max = 4;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a", "text/plain", "1234") CLOSE), 0);
    assert_int_equal(pb_params_get(&fx->out, "f")->size, 4);
}

static void test_file_over_size_limit_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    fx->lim.upload_max = 4;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a.png", "image/png", "12345") CLOSE), -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "uploaded file \"a.png\" is larger than 4 bytes");
}

static void test_too_many_files_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FILEPART("f", "a", "t/p", "1") NEXT FILEPART(
                                   "g", "b", "t/p", "2") NEXT FILEPART("h", "c", "t/p", "3") CLOSE),
                     -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "too many uploaded files (limit 2)");
}

/* ------------------------------------------------------------------------
 * Caps on fields and the body
 * ------------------------------------------------------------------------ */

static void test_value_over_cap_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "12345678901234567") CLOSE), -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "field \"a\" is longer than 16 bytes");
}

static void test_value_at_cap_accepted(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "1234567890123456") CLOSE), 0);
}

static void test_name_over_cap_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("abcdefghi", "1") CLOSE), -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "field name \"abcdefghi\" is longer than 8 bytes");
}

static void test_too_many_parts_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "1") NEXT FIELD("b", "2") NEXT FIELD("c", "3")
                                   NEXT FIELD("d", "4") NEXT FIELD("e", "5") CLOSE),
                     -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "too many form fields (limit 4)");
}

static void test_body_over_cap_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    fx->lim.body_max = 20;
    assert_int_equal(feed(fx, OPEN FIELD("a", "1") CLOSE, strlen(OPEN FIELD("a", "1") CLOSE), 1),
                     -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "request body is larger than 20 bytes");
}

static void test_header_section_over_8k_is_413(void **state)
{
    (void)state;
    fixture *fx = *state;
    size_t n = 9000;
    char *body = malloc(n + 128);
    strcpy(body, OPEN "X-Pad: ");
    size_t at = strlen(body);
    memset(body + at, 'p', n);
    strcpy(body + at + n, CRLF FIELD("a", "1") CLOSE);
    assert_int_equal(parse(fx, body), -1);
    assert_int_equal(fx->err.status, 413);
    assert_string_equal(fx->err.msg, "part headers are longer than 8192 bytes");
    free(body);
}

/* ------------------------------------------------------------------------
 * Malformed bodies
 * ------------------------------------------------------------------------ */

static void test_missing_close_delimiter_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN FIELD("a", "1") CRLF), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "multipart body ends before its closing boundary");
}

static void test_empty_body_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(feed(fx, "", 0, 1), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "multipart body is empty");
}

static void test_body_without_any_boundary_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, "a=1&b=2"), -1);
    assert_int_equal(fx->err.status, 400);
}

static void test_bare_lf_after_boundary_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, "--" B "\n" FIELD("a", "1") CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "boundary line must end with CRLF, not a bare LF");
}

static void test_bare_lf_in_headers_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"a\"\n\n1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "part header lines must end with CRLF, not a bare LF");
}

static void test_junk_after_boundary_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, "--" B "x" CRLF FIELD("a", "1") CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "unexpected characters after a boundary");
}

static void test_missing_disposition_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN "Content-Type: text/plain" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "part has no Content-Disposition header");
}

static void test_missing_name_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN "Content-Disposition: form-data" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "part has no name in its Content-Disposition");
}

static void test_disposition_not_form_data_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, OPEN "Content-Disposition: attachment; name=\"a\"" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "part's Content-Disposition is not form-data");
}

static void test_unterminated_quoted_name_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"a" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "malformed Content-Disposition in a part");
}

static void test_invalid_utf8_in_headers_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"a\xff\"" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "part headers are not valid UTF-8");
}

static void test_control_character_in_headers_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(parse(fx, OPEN DISP "\"a\x01\"" CRLF CRLF "1" CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "control character in part headers");
}

static void test_folded_header_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    assert_int_equal(
        parse(fx, OPEN "Content-Disposition: form-data;" CRLF " name=\"a\"" CRLF CRLF "1" CLOSE),
        -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "folded part header lines are not supported");
}

static void test_one_byte_header_line_is_400(void **state)
{
    (void)state;
    fixture *fx = *state;
    fx->err.status = 0;
    assert_int_equal(parse(fx, OPEN "X" CRLF FIELD("a", "1") CLOSE), -1);
    assert_int_equal(fx->err.status, 400);
    assert_string_equal(fx->err.msg, "malformed part header line");
}

static void test_feed_after_error_repeats_error(void **state)
{
    (void)state;
    fixture *fx = *state;
    pb_multipart *mp = pb_multipart_new(B, &fx->lim, fx->dir, &fx->out);
    pb_input_error again;
    assert_int_equal(pb_multipart_feed(mp, "--" B "\n", 6, &fx->err), -1);
    assert_int_equal(pb_multipart_feed(mp, FIELD("a", "1"), 5, &again), -1);
    assert_string_equal(again.msg, fx->err.msg);
    assert_int_equal(pb_multipart_finish(mp, &again), -1);
    assert_string_equal(again.msg, fx->err.msg);
    pb_multipart_free(mp);
}

static void test_free_null_is_harmless(void **state)
{
    (void)state;
    pb_multipart_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_boundary_bare),
        T(test_boundary_quoted),
        T(test_boundary_parameter_name_case_insensitive),
        T(test_boundary_among_other_parameters),
        T(test_boundary_missing_rejected),
        T(test_boundary_of_70_accepted),
        T(test_boundary_of_71_rejected),
        T(test_boundary_empty_rejected),
        T(test_boundary_with_invalid_character_rejected),
        T(test_boundary_ending_in_space_rejected),
        T(test_boundary_given_twice_rejected),
        T(test_new_refuses_invalid_boundary),
        T(test_single_field),
        T(test_fields_kept_in_order),
        T(test_empty_value),
        T(test_crlf_inside_value_kept),
        T(test_partial_delimiter_in_value_kept),
        T(test_binary_value_with_nul_kept),
        T(test_every_chunk_size_gives_same_fields),
        T(test_delimiter_split_at_every_offset),
        T(test_preamble_ignored),
        T(test_epilogue_ignored),
        T(test_close_delimiter_without_crlf_accepted),
        T(test_transport_padding_accepted),
        T(test_form_with_no_fields_accepted),
        T(test_quoted_name_with_escaped_quote),
        T(test_bare_name_accepted),
        T(test_header_names_case_insensitive),
        T(test_unknown_headers_ignored),
        T(test_value_part_content_type_recorded),
        T(test_file_stored_on_disk),
        T(test_file_created_in_tmpdir_with_mode_0600),
        T(test_client_path_never_used),
        T(test_windows_path_reduced_to_basename),
        T(test_file_without_content_type),
        T(test_empty_file_input_skipped),
        T(test_large_file_streamed_intact),
        T(test_large_file_fed_in_one_chunk),
        T(test_files_removed_on_free),
        T(test_partial_file_removed_after_error),
        T(test_truncated_upload_removed_on_free),
        T(test_file_at_size_limit_accepted),
        T(test_file_over_size_limit_is_413),
        T(test_too_many_files_is_413),
        T(test_value_over_cap_is_413),
        T(test_value_at_cap_accepted),
        T(test_name_over_cap_is_413),
        T(test_too_many_parts_is_413),
        T(test_body_over_cap_is_413),
        T(test_header_section_over_8k_is_413),
        T(test_missing_close_delimiter_is_400),
        T(test_empty_body_is_400),
        T(test_body_without_any_boundary_is_400),
        T(test_bare_lf_after_boundary_is_400),
        T(test_bare_lf_in_headers_is_400),
        T(test_junk_after_boundary_is_400),
        T(test_missing_disposition_is_400),
        T(test_missing_name_is_400),
        T(test_disposition_not_form_data_is_400),
        T(test_unterminated_quoted_name_is_400),
        T(test_invalid_utf8_in_headers_is_400),
        T(test_control_character_in_headers_is_400),
        T(test_folded_header_is_400),
        T(test_one_byte_header_line_is_400),
        T(test_feed_after_error_repeats_error),
        T(test_free_null_is_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
