/*
 * jsonbody.c - application/json request bodies (RFC 8259).
 *
 * Nesting is measured before jansson builds anything: a 1 MiB body of "["
 * would otherwise cost a deep recursion and thousands of allocations only
 * to be thrown away (jansson's own limit is 2048 levels). The pre-scan
 * tracks strings exactly as RFC 8259 §7 defines them, so on any body
 * jansson accepts it counts the true depth; on a body jansson rejects it
 * may count wrong, and jansson's error is reported instead.
 */
#include "params.h"

#include <stdio.h>
#include <string.h>

/* Returns 0, or -1 with err filled when arrays and objects nest deeper
 * than PB_JSON_DEPTH_MAX. */
static int json_depth_check(const char *s, size_t len, pb_input_error *err)
{
    int depth = 0, in_string = 0, line = 1, col = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        col++;
        if (c == '\n') {
            line++;
            col = 0;
        }
        if (in_string) {
            if (c == '\\') /* RFC 8259 §7: a backslash escapes the next character */
                i++, col++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') { /* RFC 8259 §9: limits on nesting are allowed */
            if (++depth > PB_JSON_DEPTH_MAX)
                return pb_input_error_set(err, 400,
                                          "JSON nests deeper than %d levels (line %d, column %d)",
                                          PB_JSON_DEPTH_MAX, line, col);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* jansson quotes the offending input in its message; keep only printable
 * ASCII so the message itself is valid UTF-8 and safe to show. */
static void json_plain(char *text)
{
    for (; *text; text++)
        if ((unsigned char)*text < 0x20 || (unsigned char)*text >= 0x7F)
            *text = '?';
}

static int json_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) /* RFC 8259 §2: ws = SP / HTAB / LF / CR */
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

json_t *pb_json_body_parse(const char *s, size_t len, const pb_limits *lim, pb_input_error *err)
{
    if (len > lim->body_max) {
        pb_input_error_set(err, 413, "request body is larger than %zu bytes", lim->body_max);
        return NULL;
    }
    if (json_blank(s, len)) {
        pb_input_error_set(err, 400, "request body is empty (expected a JSON object or array)");
        return NULL;
    }
    if (json_depth_check(s, len, err) < 0)
        return NULL;
    json_error_t je;
    /* RFC 8259 §4: names SHOULD be unique; a duplicate is refused, not guessed */
    json_t *v = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL) {
        json_plain(je.text);
        if (strstr(je.text, "JSON_ALLOW_NUL") != NULL) /* name no jansson flag to a user */
            snprintf(je.text, sizeof je.text, "\\u0000 is not allowed in strings");
        pb_input_error_set(err, 400, "invalid JSON at line %d, column %d: %s", je.line, je.column,
                           je.text);
        return NULL;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        json_decref(v);
        pb_input_error_set(err, 400, "JSON body must be an object or an array");
        return NULL;
    }
    return v;
}
