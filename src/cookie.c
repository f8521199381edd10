/*
 * cookie.c - the Cookie request header.
 *
 * RFC 6265 §4.2.1 says a user agent sends `name=value` pairs separated by
 * "; ", but real headers carry whatever other applications on the same
 * domain set, so this parser is as lenient as browsers and common servers:
 * malformed pairs are skipped, never a 400 (a bad cookie from a neighbour
 * must not break this site). Only the caps can fail a request, with 413
 * naming the cookie, because silently dropping one (say, the session)
 * would be harder to diagnose.
 */
#include "params.h"

#include <string.h>

static int cookie_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void cookie_trim(const char **s, size_t *len)
{
    while (*len > 0 && cookie_ows(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && cookie_ows((*s)[*len - 1]))
        (*len)--;
}

/* RFC 6265 §4.1.1: a cookie-name is a token, so no controls; non-ASCII is
 * tolerated when it is valid UTF-8, as browsers store such names. */
static int cookie_name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return 0;
    }
    return pb_utf8_count(s, len) != (size_t)-1;
}

/* Parses one pair. Returns 0 (stored or skipped) or -1. */
static int cookie_pair(const char *s, size_t len, const pb_limits *lim, size_t *count,
                       pb_params *out, pb_input_error *err)
{
    char ex[48];
    cookie_trim(&s, &len);
    const char *eq = memchr(s, '=', len);
    if (eq == NULL)
        return 0; /* RFC 6265 §5.2 step 2 (applied as browsers do): no '=', skip */
    const char *name = s, *value = eq + 1;
    size_t nlen = (size_t)(eq - s), vlen = len - nlen - 1;
    cookie_trim(&name, &nlen); /* RFC 6265 §5.2 steps 4-5: trim WSP around name and value */
    cookie_trim(&value, &vlen);
    if (nlen == 0 || !cookie_name_ok(name, nlen))
        return 0; /* RFC 6265 §5.2 step 6: an empty name is ignored */
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
        value++; /* RFC 6265 §4.1.1: cookie-value may be wrapped in DQUOTEs */
        vlen -= 2;
    }
    if (++*count > lim->fields_max)
        return pb_input_error_set(err, 413, "too many cookies (limit %zu)", lim->fields_max);
    if (nlen > lim->name_max)
        return pb_input_error_set(err, 413, "cookie name \"%s\" is longer than %zu bytes",
                                  pb_params_excerpt(name, nlen, ex, sizeof ex), lim->name_max);
    if (vlen > lim->value_max)
        return pb_input_error_set(err, 413, "cookie \"%s\" is longer than %zu bytes",
                                  pb_params_excerpt(name, nlen, ex, sizeof ex), lim->value_max);
    if (pb_params_add(out, name, nlen, value, vlen) < 0)
        return pb_input_error_set(err, 500, "out of memory");
    return 0;
}

int pb_cookie_parse(const char *header, size_t len, const pb_limits *lim, pb_params *out,
                    pb_input_error *err)
{
    size_t count = 0, start = 0;
    while (start < len) {
        /* RFC 6265 §4.2.1: pairs are separated by ";" (the SP after it is trimmed) */
        const char *semi = memchr(header + start, ';', len - start);
        size_t end = semi ? (size_t)(semi - header) : len;
        if (cookie_pair(header + start, end - start, lim, &count, out, err) < 0)
            return -1;
        start = end + 1;
    }
    return 0;
}
