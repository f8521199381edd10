/*
 * params.c - parsed request fields, and the small helpers every input
 * parser shares (error messages, excerpts of untrusted bytes, UTF-8).
 */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------ */

static char *params_dup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int params_grow(pb_params *p)
{
    if (p->n < p->cap)
        return 0;
    size_t cap = p->cap ? p->cap * 2 : 8;
    if (cap < p->cap || cap > ((size_t)-1) / sizeof *p->v)
        return -1;
    pb_field *v = realloc(p->v, cap * sizeof *v);
    if (v == NULL)
        return -1;
    p->v = v;
    p->cap = cap;
    return 0;
}

int pb_params_add(pb_params *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (params_grow(p) < 0)
        return -1;
    pb_field f = {0};
    f.name = params_dup(name, nlen);
    f.value = params_dup(value, vlen);
    if (f.name == NULL || f.value == NULL) {
        free(f.name);
        free(f.value);
        return -1;
    }
    f.len = vlen;
    p->v[p->n++] = f;
    return 0;
}

const pb_field *pb_params_get(const pb_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

void pb_params_free(pb_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        pb_field *f = &p->v[i];
        if (f->path != NULL)
            unlink(f->path); /* an upload lives only as long as its request */
        free(f->name);
        free(f->value);
        free(f->filename);
        free(f->content_type);
        free(f->path);
    }
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* ------------------------------------------------------------------------
 * Error messages
 * ------------------------------------------------------------------------ */

int pb_input_error_set(pb_input_error *err, int status, const char *fmt, ...)
{
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* RFC 3629 §4: no overlong 3-byte forms */
        if (c == 0xED)
            hi = 0x9F; /* RFC 3629 §4: no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* RFC 3629 §4: no overlong 4-byte forms */
        if (c == 0xF4)
            hi = 0x8F; /* RFC 3629 §4: nothing above U+10FFFF */
    } else {
        return 0; /* RFC 3629 §4: C0, C1, F5..FF never appear */
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

size_t pb_utf8_count(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t count = 0;
    for (size_t i = 0; i < len; count++) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0)
            return (size_t)-1;
        i += n;
    }
    return count;
}

const char *pb_params_excerpt(const char *s, size_t len, char *buf, size_t bufsize)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t keep = bufsize - 4; /* room for "..." and the NUL */
    if (keep > 32)
        keep = 32;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t n = utf8_seq(u + i, len - i);
        if (o + (n ? n : 1) > keep)
            break;
        if (n == 1 && (u[i] < 0x20 || u[i] == 0x7F || u[i] == '"' || u[i] == '\\'))
            n = 0;
        if (n == 0) {
            buf[o++] = '?';
            i++;
            continue;
        }
        memcpy(buf + o, s + i, n);
        o += n;
        i += n;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}
