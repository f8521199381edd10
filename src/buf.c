/*
 * buf.c - growable byte buffer.
 */
#include "buf.h"

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
