/*
 * buf.h - growable byte buffer used for response bodies, rendered templates
 * and anything else assembled piece by piece.
 */
#ifndef PB_BUF_H
#define PB_BUF_H

#include <stddef.h>
#include <stdarg.h>

typedef struct pb_buf {
    char *data; /* NUL-terminated when len > 0 or after pb_buf_cstr() */
    size_t len;
    size_t cap;
} pb_buf;

#define PB_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for at least n more bytes. Returns 0, or -1 when out of memory. */
int pb_buf_reserve(pb_buf *b, size_t n);

/* Appends n bytes. Returns 0, or -1 when out of memory (b unchanged). */
int pb_buf_append(pb_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. Returns 0 or -1. */
int pb_buf_puts(pb_buf *b, const char *s);

/* Appends one byte. Returns 0 or -1. */
int pb_buf_putc(pb_buf *b, char c);

/* Appends printf-formatted text. Returns 0 or -1. */
int pb_buf_printf(pb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap);

/* Appends v in decimal. Returns 0 or -1. */
int pb_buf_put_int(pb_buf *b, long long v);

/* Appends d as JavaScript prints it: the shortest digits that read back
 * as the same double ("1.21", "100", "1e+21"; -0 as "0"). Returns 0 or -1. */
int pb_buf_put_real(pb_buf *b, double d);

/* Appends s with the five HTML-significant characters (& < > " ') escaped. */
int pb_buf_html_escape(pb_buf *b, const char *s, size_t n);

/* The same for a string that is NUL-terminated at s[n] (as every jansson
 * string is): skips plain runs with the C library's vectorised strcspn. */
int pb_buf_html_escape_str(pb_buf *b, const char *s, size_t n);

/* Returns the contents as a NUL-terminated string ("" when empty); never NULL
 * unless out of memory. */
const char *pb_buf_cstr(pb_buf *b);

/* Forgets the contents but keeps the memory for reuse. */
void pb_buf_reset(pb_buf *b);

/* Releases the memory; b is empty and reusable afterwards. */
void pb_buf_free(pb_buf *b);

#endif
