/* test_qrsvg.c - QR codes drawn as one inline SVG path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>

#include "qrsvg.h"

/* Returns the side of the viewBox, or -1 when there is none. */
static int viewbox_side(const char *svg)
{
    int w = -1, h = -2;
    const char *v = strstr(svg, "viewBox=\"0 0 ");
    if (v == NULL || sscanf(v, "viewBox=\"0 0 %d %d\"", &w, &h) != 2 || w != h)
        return -1;
    return w;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_svg_is_well_formed(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, "otpauth://totp/Plugboard:alice?secret=JBSWY3DPEHPK3PXP", 4), 0);
    const char *s = pb_buf_cstr(&b);
    assert_int_equal(strncmp(s, "<svg ", 5), 0);
    assert_int_equal(strcmp(s + b.len - 6, "</svg>"), 0);
    assert_true(viewbox_side(s) > 0);
    assert_int_equal(count(s, "<path"), 1);
    assert_int_equal(count(s, "<rect"), 1);
    assert_non_null(strstr(s, "role=\"img\""));
    pb_buf_free(&b);
}

static void test_svg_has_no_inline_style(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, "hello", 4), 0);
    assert_null(strstr(pb_buf_cstr(&b), "style"));
    assert_int_equal(count(pb_buf_cstr(&b), "fill=\""), 2);
    pb_buf_free(&b);
}

/* "HELLO" fits version 1 (21 modules) at level M; plus 4 quiet modules a
 * side that is 29, drawn at 5 px a module. */
static void test_version_1_has_21_modules_and_a_quiet_zone(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, "HELLO", 5), 0);
    assert_int_equal(viewbox_side(pb_buf_cstr(&b)), 29);
    assert_non_null(strstr(pb_buf_cstr(&b), "width=\"145\" height=\"145\""));
    pb_buf_free(&b);
}

static void test_size_grows_with_text_length(void **state)
{
    (void)state;
    char long_text[401];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    pb_buf a = PB_BUF_INIT, b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&a, "short", 4), 0);
    assert_int_equal(pb_qr_svg(&b, long_text, 4), 0);
    assert_true(viewbox_side(pb_buf_cstr(&b)) > viewbox_side(pb_buf_cstr(&a)));
    assert_true(b.len > a.len);
    pb_buf_free(&a);
    pb_buf_free(&b);
}

static void test_aria_label_is_escaped(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, "a<b\"c&d", 4), 0);
    assert_non_null(strstr(pb_buf_cstr(&b), "aria-label=\"a&lt;b&quot;c&amp;d\""));
    assert_null(strstr(pb_buf_cstr(&b), "a<b"));
    pb_buf_free(&b);
}

/* Paints every "M x y h w v 1 h -w z" run of the path into a grid. */
static void paint_path(const char *svg, unsigned char *grid, int side)
{
    const char *p = strstr(svg, " d=\"");
    assert_non_null(p);
    p += 4;
    while (*p == 'M') {
        int x, y, w, w2, used = 0;
        assert_int_equal(sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used), 4);
        assert_int_equal(w, w2);
        assert_true(x >= 0 && y >= 0 && w > 0 && x + w <= side && y < side);
        for (int i = 0; i < w; i++) {
            assert_int_equal(grid[y * side + x + i], 0); /* runs never overlap */
            grid[y * side + x + i] = 1;
        }
        p += used;
    }
    assert_int_equal(*p, '"');
}

/* No decoder without a new dependency, so compare the drawing with the
 * symbol libqrencode computed: same dark modules, quiet zone empty. */
static void test_path_draws_exactly_the_symbol(void **state)
{
    (void)state;
    const char *text = "otpauth://totp/ACME:bob?secret=MZXW6YTBOI&issuer=ACME";
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, text, 3), 0);
    int side = viewbox_side(pb_buf_cstr(&b));
    assert_int_equal(side, qr->width + 2 * PB_QR_QUIET);
    unsigned char *grid = calloc((size_t)side * (size_t)side, 1);
    assert_non_null(grid);
    paint_path(pb_buf_cstr(&b), grid, side);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            int mx = x - PB_QR_QUIET, my = y - PB_QR_QUIET;
            int in = mx >= 0 && my >= 0 && mx < qr->width && my < qr->width;
            int dark = in && (qr->data[my * qr->width + mx] & 1);
            assert_int_equal(grid[y * side + x], dark);
        }
    free(grid);
    QRcode_free(qr);
    pb_buf_free(&b);
}

static void test_bad_arguments_leave_out_unchanged(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    pb_buf_puts(&b, "keep");
    assert_int_equal(pb_qr_svg(&b, NULL, 4), -1);
    assert_int_equal(pb_qr_svg(&b, "", 4), -1);
    assert_int_equal(pb_qr_svg(&b, "x", 0), -1);
    assert_int_equal(pb_qr_svg(&b, "x", PB_QR_MODULE_MAX + 1), -1);
    assert_string_equal(pb_buf_cstr(&b), "keep");
    pb_buf_free(&b);
}

/* Version 40 at level M holds 2331 bytes; 3000 cannot be encoded. */
static void test_text_too_long_for_any_version_fails(void **state)
{
    (void)state;
    char *text = malloc(3001);
    assert_non_null(text);
    memset(text, 'x', 3000);
    text[3000] = '\0';
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_qr_svg(&b, text, 4), -1);
    assert_int_equal(b.len, 0);
    free(text);
    pb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svg_is_well_formed),
        cmocka_unit_test(test_svg_has_no_inline_style),
        cmocka_unit_test(test_version_1_has_21_modules_and_a_quiet_zone),
        cmocka_unit_test(test_size_grows_with_text_length),
        cmocka_unit_test(test_aria_label_is_escaped),
        cmocka_unit_test(test_path_draws_exactly_the_symbol),
        cmocka_unit_test(test_bad_arguments_leave_out_unchanged),
        cmocka_unit_test(test_text_too_long_for_any_version_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
