/*
 * buf.c - growable byte buffer.
 */
#include "buf.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pb_buf_reserve(pb_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return 0;
    size_t want = b->len + n + 1;
    if (want < b->len) /* overflow */
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pb_buf_append(pb_buf *b, const void *p, size_t n)
{
    if (pb_buf_reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int pb_buf_puts(pb_buf *b, const char *s)
{
    return pb_buf_append(b, s, strlen(s));
}

int pb_buf_putc(pb_buf *b, char c)
{
    return pb_buf_append(b, &c, 1);
}

int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return pb_buf_append(b, tmp, (size_t)n);
    if (pb_buf_reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int pb_buf_printf(pb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int pb_buf_put_int(pb_buf *b, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return pb_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Writes d the way JavaScript's Number#toString does: the shortest digits
 * that read back as d, in plain notation for 1e-7 < |d| < 1e21, else as
 * d.ddde+x. 1.210 -> "1.21", 100.0 -> "100", 1e21 -> "1e+21". Returns the
 * length written to out (at least 32 bytes). */
static size_t format_real(double d, char *out)
{
    if (d == 0.0) /* -0 too, as in JavaScript */
        return (size_t)sprintf(out, "0");
    if (!isfinite(d)) /* jansson never holds these; kept for safety */
        return (size_t)sprintf(out, "%s", isnan(d) ? "NaN" : d < 0 ? "-Infinity" : "Infinity");
    if (fabs(d) < 1e15 && d == (double)(long long)d) /* common, and cheap */
        return (size_t)sprintf(out, "%lld", (long long)d);
    /* Any decimal of at most 15 digits survives a trip through a normal
     * double (DBL_DIG), so when 15 digits read back as d, dropping their
     * trailing zeros gives the shortest form; otherwise 16 or 17 digits are
     * needed. Subnormals hold fewer digits and are searched from 1. */
    char e[40];
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    char digits[32] = {'0'}; /* 17 digits at most; room for plain notation's 21 */
    int k = 0;
    const char *p = e + (e[0] == '-');
    for (; *p != '\0' && *p != 'e' && k < 17; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    if (k == 0 || *p != 'e') /* cannot happen with %e; keeps the parse total */
        return (size_t)sprintf(out, "%.17g", d);
    int n = atoi(p + 1) + 1; /* the decimal point sits after n digits */
    while (k > 1 && digits[k - 1] == '0')
        k--;
    char *o = out;
    if (d < 0)
        *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, digits, (size_t)k);
        memset(o + k, '0', (size_t)(n - k));
        o += n;
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o[n] = '.';
        memcpy(o + n + 1, digits + n, (size_t)(k - n));
        o += k + 1;
    } else if (-6 < n && n <= 0) {
        memcpy(o, "0.", 2);
        memset(o + 2, '0', (size_t)-n);
        memcpy(o + 2 - n, digits, (size_t)k);
        o += 2 - n + k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    *o = '\0';
    return (size_t)(o - out);
}

int pb_buf_put_real(pb_buf *b, double d)
{
    char tmp[48];
    size_t n = format_real(d, tmp);
    return pb_buf_append(b, tmp, n);
}

/* Rendering spends much of its time here: a table lookup per byte, and
 * plain runs copied whole. */
static const unsigned char html_special[256] = {
    ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5};
static const char *const html_entity[] = {"", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
static const unsigned char html_entity_len[] = {0, 5, 4, 4, 6, 5};

int pb_buf_html_escape(pb_buf *b, const char *s, size_t n)
{
    if (pb_buf_reserve(b, n) < 0)
        return -1;
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* start of the current run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned k = html_special[p[i]];
        if (k == 0)
            continue;
        if (pb_buf_append(b, s + run, i - run) < 0 ||
            pb_buf_append(b, html_entity[k], html_entity_len[k]) < 0)
            return -1;
        run = i + 1;
    }
    return pb_buf_append(b, s + run, n - run);
}

int pb_buf_html_escape_str(pb_buf *b, const char *s, size_t n)
{
    if (pb_buf_reserve(b, n) < 0)
        return -1;
    size_t i = 0;
    while (i < n) {
        size_t run = strcspn(s + i, "&<>\"'");
        if (i + run > n) /* cannot happen when s[n] is NUL; be safe anyway */
            run = n - i;
        if (pb_buf_append(b, s + i, run) < 0)
            return -1;
        i += run;
        if (i == n)
            break;
        unsigned k = html_special[(unsigned char)s[i]];
        /* k == 0: strcspn stopped at a NUL inside the value; copy it as is. */
        if (k == 0 ? pb_buf_putc(b, s[i]) < 0
                   : pb_buf_append(b, html_entity[k], html_entity_len[k]) < 0)
            return -1;
        i++;
    }
    return 0;
}

const char *pb_buf_cstr(pb_buf *b)
{
    if (b->data == NULL && pb_buf_reserve(b, 0) < 0)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void pb_buf_reset(pb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void pb_buf_free(pb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
