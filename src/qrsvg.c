/*
 * qrsvg.c - QR code to SVG. libqrencode computes the symbol; this file only
 * draws it, as compactly as one path of horizontal runs allows.
 */
#include "qrsvg.h"

#include <string.h>

#include <qrencode.h>

/* Bit 0 of each libqrencode module byte is "dark"; the others describe
 * what the module is part of. */
static int is_dark(const QRcode *qr, int x, int y)
{
    return qr->data[y * qr->width + x] & 1;
}

/* Appends one subpath per run of dark modules in row y. */
static int put_row(pb_buf *out, const QRcode *qr, int y)
{
    int x = 0;
    while (x < qr->width) {
        if (!is_dark(qr, x, y)) {
            x++;
            continue;
        }
        int start = x;
        while (x < qr->width && is_dark(qr, x, y))
            x++;
        int w = x - start;
        if (pb_buf_printf(out, "M%d %dh%dv1h-%dz", start + PB_QR_QUIET, y + PB_QR_QUIET, w, w) < 0)
            return -1;
    }
    return 0;
}

static int put_svg(pb_buf *out, const QRcode *qr, const char *text, int module_px)
{
    int size = qr->width + 2 * PB_QR_QUIET;
    int px = size * module_px;
    if (pb_buf_printf(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"",
            size, size, px, px) < 0 ||
        pb_buf_html_escape(out, text, strlen(text)) < 0 ||
        pb_buf_printf(out,
                      "\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                      size, size) < 0)
        return -1;
    for (int y = 0; y < qr->width; y++)
        if (put_row(out, qr, y) < 0)
            return -1;
    return pb_buf_puts(out, "\"/></svg>");
}

int pb_qr_svg(pb_buf *out, const char *text, int module_px)
{
    if (text == NULL || *text == '\0' || module_px < 1 || module_px > PB_QR_MODULE_MAX)
        return -1;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL)
        return -1;
    size_t mark = out->len;
    int rc = put_svg(out, qr, text, module_px);
    QRcode_free(qr);
    if (rc < 0) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return rc;
}
