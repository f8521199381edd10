/*
 * jsonout.c - compact JSON text from a jansson value.
 */
#include "jsonout.h"

#include <string.h>

#define MAX_DEPTH 512

/* RFC 8259 §7: '"', '\' and the controls U+0000..U+001F must be escaped;
 * everything else, UTF-8 included, is written as it is. */
static const char *const short_escape[32] = {
    ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
};

static int write_string(pb_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (pb_buf_reserve(b, n + 2) < 0 || pb_buf_putc(b, '"') < 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (pb_buf_append(b, s + run, i - run) < 0)
            return -1;
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            if (pb_buf_append(b, esc, 2) < 0)
                return -1;
        } else if (short_escape[c]) {
            if (pb_buf_append(b, short_escape[c], 2) < 0)
                return -1;
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (pb_buf_append(b, esc, 6) < 0)
                return -1;
        }
    }
    if (pb_buf_append(b, s + run, n - run) < 0)
        return -1;
    return pb_buf_putc(b, '"');
}

static int write_value(pb_buf *b, const json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return pb_buf_append(b, "null", 4);
    case JSON_TRUE:
        return pb_buf_append(b, "true", 4);
    case JSON_FALSE:
        return pb_buf_append(b, "false", 5);
    case JSON_INTEGER:
        return pb_buf_put_int(b, json_integer_value(v));
    case JSON_REAL: {
        /* Shortest digits, but a real stays a real when read back: 100.0
         * is written "100.0", as jansson itself does. */
        size_t start = b->len;
        if (pb_buf_put_real(b, json_real_value(v)) < 0)
            return -1;
        if (memchr(b->data + start, '.', b->len - start) ||
            memchr(b->data + start, 'e', b->len - start))
            return 0;
        return pb_buf_append(b, ".0", 2);
    }
    case JSON_STRING:
        return write_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (pb_buf_putc(b, '[') < 0)
            return -1;
        json_array_foreach(v, i, item)
        {
            if ((i && pb_buf_putc(b, ',') < 0) || write_value(b, item, depth + 1) < 0)
                return -1;
        }
        return pb_buf_putc(b, ']');
    }
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *item;
        int first = 1;
        if (pb_buf_putc(b, '{') < 0)
            return -1;
        json_object_keylen_foreach((json_t *)v, key, klen, item)
        {
            if ((!first && pb_buf_putc(b, ',') < 0) || write_string(b, key, klen) < 0 ||
                pb_buf_putc(b, ':') < 0 || write_value(b, item, depth + 1) < 0)
                return -1;
            first = 0;
        }
        return pb_buf_putc(b, '}');
    }
    }
    return -1;
}

int pb_json_write(pb_buf *b, const json_t *v)
{
    size_t mark = b->len;
    if (v == NULL || write_value(b, v, 0) < 0) {
        b->len = mark; /* leave the buffer as it was */
        if (b->data)
            b->data[mark] = '\0';
        return -1;
    }
    return 0;
}
