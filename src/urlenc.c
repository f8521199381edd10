/*
 * urlenc.c - application/x-www-form-urlencoded bodies and query strings.
 *
 * Follows the WHATWG URL standard's "application/x-www-form-urlencoded
 * parser" (section 5.1) with one deliberate difference: that parser passes
 * a malformed percent-escape through literally, while this one answers 400,
 * because a browser never produces one and silently keeping "%zz" hides a
 * client bug. Field names must be valid UTF-8 without NUL bytes (they key
 * the JSON error object and are compared as C strings); values may hold any
 * bytes and are checked by the typed accessors.
 */
#include "params.h"

#include <string.h>

#include "buf.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) into out ('+' is a space only when plus_is_space).
 * Returns 0, or the offset + 1 of a malformed escape. */
static size_t percent_decode(const char *s, size_t len, int plus_is_space, pb_buf *out)
{
    pb_buf_reset(out);
    if (pb_buf_reserve(out, len) < 0)
        return (size_t)-1;
    char *d = out->data;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+' && plus_is_space) {
            d[o++] = ' '; /* WHATWG URL §5.1 step 3.4: 0x2B becomes 0x20 */
        } else if (c == '%') {
            /* WHATWG URL §1.3 percent-decode: % must be followed by two hex digits */
            if (len - i < 3)
                return i + 1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return i + 1;
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = (char)c;
        }
    }
    d[o] = '\0';
    out->len = o;
    return 0;
}

static size_t urlenc_decode(const char *s, size_t len, pb_buf *out)
{
    return percent_decode(s, len, 1, out);
}

int pb_path_segment_decode(const char *s, size_t len, pb_buf *out)
{
    /* RFC 3986 §2.1: in a path '+' is itself; an encoded NUL is refused
     * since parameters are handed to modules as C strings. */
    if (percent_decode(s, len, 0, out) != 0 || memchr(out->data, '\0', out->len))
        return -1;
    return 0;
}

static int urlenc_bad_escape(const char *raw, size_t rawlen, size_t at, const char *name,
                             size_t nlen, int in_name, pb_input_error *err)
{
    char esc[16], who[48];
    size_t n = rawlen - at < 3 ? rawlen - at : 3;
    pb_params_excerpt(raw + at, n, esc, sizeof esc);
    pb_params_excerpt(name, nlen, who, sizeof who);
    if (in_name)
        return pb_input_error_set(err, 400, "malformed percent-escape \"%s\" in field name \"%s\"",
                                  esc, who);
    return pb_input_error_set(err, 400, "malformed percent-escape \"%s\" in field \"%s\"", esc,
                              who);
}

/* Decodes and stores one name=value sequence. Returns 0 or -1. */
static int urlenc_field(const char *seq, size_t len, const pb_limits *lim, pb_buf *name,
                        pb_buf *value, pb_params *out, pb_input_error *err)
{
    const char *eq = memchr(seq, '=', len);
    size_t rnlen = eq ? (size_t)(eq - seq) : len; /* WHATWG URL §5.1 step 3.2-3.3 */
    const char *rval = eq ? eq + 1 : seq + len;
    size_t rvlen = eq ? len - rnlen - 1 : 0;
    char ex[48];

    size_t bad = urlenc_decode(seq, rnlen, name);
    if (bad == (size_t)-1)
        return pb_input_error_set(err, 500, "out of memory");
    if (bad)
        return urlenc_bad_escape(seq, rnlen, bad - 1, seq, rnlen, 1, err);
    if (memchr(name->data, '\0', name->len) != NULL)
        return pb_input_error_set(err, 400, "field name \"%s\" contains a NUL byte",
                                  pb_params_excerpt(name->data, name->len, ex, sizeof ex));
    if (pb_utf8_count(name->data, name->len) == (size_t)-1)
        return pb_input_error_set(err, 400, "field name \"%s\" is not valid UTF-8",
                                  pb_params_excerpt(name->data, name->len, ex, sizeof ex));
    if (name->len > lim->name_max)
        return pb_input_error_set(err, 413, "field name \"%s\" is longer than %zu bytes",
                                  pb_params_excerpt(name->data, name->len, ex, sizeof ex),
                                  lim->name_max);

    bad = urlenc_decode(rval, rvlen, value);
    if (bad == (size_t)-1)
        return pb_input_error_set(err, 500, "out of memory");
    if (bad)
        return urlenc_bad_escape(rval, rvlen, bad - 1, name->data, name->len, 0, err);
    if (value->len > lim->value_max)
        return pb_input_error_set(err, 413, "field \"%s\" is longer than %zu bytes",
                                  pb_params_excerpt(name->data, name->len, ex, sizeof ex),
                                  lim->value_max);

    if (pb_params_add(out, name->data, name->len, value->data, value->len) < 0)
        return pb_input_error_set(err, 500, "out of memory");
    return 0;
}

int pb_urlenc_parse(const char *s, size_t len, const pb_limits *lim, pb_params *out,
                    pb_input_error *err)
{
    if (len == 0)
        return 0;
    pb_buf name = PB_BUF_INIT, value = PB_BUF_INIT;
    size_t fields = 0;
    int rc = 0;
    size_t start = 0;
    while (start <= len && rc == 0) {
        const char *amp = memchr(s + start, '&', len - start); /* WHATWG URL §5.1 step 1 */
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > start) { /* WHATWG URL §5.1 step 3.1: empty sequences are skipped */
            if (++fields > lim->fields_max)
                rc = pb_input_error_set(err, 413, "too many form fields (limit %zu)",
                                        lim->fields_max);
            else
                rc = urlenc_field(s + start, end - start, lim, &name, &value, out, err);
        }
        start = end + 1;
    }
    pb_buf_free(&name);
    pb_buf_free(&value);
    return rc;
}
