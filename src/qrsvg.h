/*
 * qrsvg.h - QR codes as inline SVG, for showing an otpauth:// enrolment URI
 * on a page served under a Content-Security-Policy that forbids inline style.
 */
#ifndef PB_QRSVG_H
#define PB_QRSVG_H

#include "buf.h"

#define PB_QR_QUIET      4  /* modules of white border, ISO/IEC 18004 §7.3.8 */
#define PB_QR_MODULE_MAX 64 /* largest module_px pb_qr_svg() accepts */

/* Appends one <svg> element drawing the QR code (error correction level M,
 * 8-bit mode, smallest version that fits) for the NUL-terminated text:
 * a viewBox in module units with a 4-module quiet zone, width and height of
 * module_px pixels per module, a white background rect and every dark
 * module in a single <path>, with role="img" and text as its (escaped)
 * aria-label. Colours are fill attributes, never style attributes.
 * Returns 0, or -1 with out unchanged when text is NULL, empty or too long
 * for a QR code, module_px is outside 1..PB_QR_MODULE_MAX, or memory runs
 * out. */
int pb_qr_svg(pb_buf *out, const char *text, int module_px);

#endif
