/*
 * params.h - request input as parsed name/value fields, the parsers that
 * fill them from untrusted bytes, and the caps that bound them.
 *
 * Every parser here reads attacker-controlled input: each is kept in a file
 * of its own (urlenc.c, cookie.c, multipart.c, jsonbody.c) with a fuzz target
 * in tests/fuzz/. A parser never crashes or hangs on any input: it returns
 * -1 and fills a pb_input_error with an HTTP status (400 or 413) and a
 * message a user can act on.
 */
#ifndef PB_PARAMS_H
#define PB_PARAMS_H

#include <stddef.h>
#include <jansson.h>

/* Caps applied to everything a client sends; all come from the config. */
typedef struct pb_limits {
    size_t body_max;    /* bytes of request body, uploads included */
    size_t fields_max;  /* fields per source (query, form, cookies, multipart parts) */
    size_t name_max;    /* bytes of a field name */
    size_t value_max;   /* bytes of a non-file field value */
    size_t upload_max;  /* bytes of one uploaded file */
    size_t uploads_max; /* files per request */
} pb_limits;

/* A parsed field. value is NUL-terminated and also has an explicit length
 * (it may contain NUL bytes). For an uploaded file, filename is the name the
 * client gave (never used as a path), path is where the bytes were stored on
 * disk, size their count and value is "". */
typedef struct pb_field {
    char *name;
    char *value;
    size_t len;
    char *filename;
    char *content_type;
    char *path;
    size_t size;
} pb_field;

typedef struct pb_params {
    pb_field *v;
    size_t n, cap;
} pb_params;

typedef struct pb_input_error {
    int status; /* 400 malformed, 413 over a cap */
    char msg[256];
} pb_input_error;

/* Adds a copy of name/value. Returns 0, or -1 when out of memory. */
int pb_params_add(pb_params *p, const char *name, size_t nlen, const char *value, size_t vlen);

/* Returns the first field of that name, or NULL. */
const pb_field *pb_params_get(const pb_params *p, const char *name);

/* Frees every field; removes uploaded files from disk. p is empty after. */
void pb_params_free(pb_params *p);

/* application/x-www-form-urlencoded (also used for query strings), as the
 * WHATWG URL standard's urlencoded parser: '&'-separated, '+' is space,
 * %XX decoded; a malformed escape is an error. Returns 0 or -1. */
int pb_urlenc_parse(const char *s, size_t len, const pb_limits *lim, pb_params *out,
                    pb_input_error *err);

/* Percent-decodes one path segment (RFC 3986 §2.1: '+' stays '+') into
 * out. Returns 0, or -1 for a malformed escape or an encoded NUL. */
struct pb_buf;
int pb_path_segment_decode(const char *s, size_t len, struct pb_buf *out);

/* A Cookie request header (RFC 6265 §5.4 / §4.2.1). Pairs without '=' are
 * skipped, as browsers do; quotes around a value are removed.
 * Returns 0 or -1. */
int pb_cookie_parse(const char *header, size_t len, const pb_limits *lim, pb_params *out,
                    pb_input_error *err);

/* multipart/form-data (RFC 7578), fed incrementally so uploads stream to
 * disk in tmpdir instead of memory. */
typedef struct pb_multipart pb_multipart;

/* Extracts the boundary parameter from a Content-Type value into buf
 * (RFC 2046 §5.1.1: 1 to 70 characters). Returns 0 or -1. */
int pb_multipart_boundary(const char *content_type, char *buf, size_t bufsize);

/* Returns a parser writing fields to out and files under tmpdir, or NULL
 * when out of memory or boundary is not 1 to 70 characters. On any error
 * out may hold the fields read so far, uploaded files included (possibly
 * partial): pb_params_free(out) removes them. */
pb_multipart *pb_multipart_new(const char *boundary, const pb_limits *lim, const char *tmpdir,
                               pb_params *out);

/* Feeds the next n bytes of the body. Returns 0, or -1 with *err filled. */
int pb_multipart_feed(pb_multipart *mp, const char *data, size_t n, pb_input_error *err);

/* Ends the body: -1 with *err filled unless the closing delimiter was seen. */
int pb_multipart_finish(pb_multipart *mp, pb_input_error *err);

/* Frees the parser (not the fields it produced). NULL is allowed. */
void pb_multipart_free(pb_multipart *mp);

/* Deepest nesting of arrays and objects a JSON body may have. */
#define PB_JSON_DEPTH_MAX 64

/* A JSON request body: must be an object or an array, at most
 * PB_JSON_DEPTH_MAX deep and lim->body_max bytes, no duplicate keys.
 * Returns the value (caller owns it) or NULL with *err filled. */
json_t *pb_json_body_parse(const char *s, size_t len, const pb_limits *lim, pb_input_error *err);

/* ------------------------------------------------------------------------
 * Helpers shared by the parsers and the typed accessors (params.c).
 * ------------------------------------------------------------------------ */

/* Fills err with status and a printf-formatted message (truncated to fit).
 * Returns -1 so a parser can `return pb_input_error_set(...)`. */
int pb_input_error_set(pb_input_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a short excerpt of untrusted bytes into buf (bufsize > 4) for use
 * inside a quoted error message: valid UTF-8 is kept, control characters,
 * quotes, backslashes and invalid bytes become '?', and anything past
 * about 32 bytes is cut and marked "...". Returns buf. */
const char *pb_params_excerpt(const char *s, size_t len, char *buf, size_t bufsize);

/* Returns the number of code points in s[0..len), or (size_t)-1 when s is
 * not valid UTF-8 (RFC 3629 §4: no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
size_t pb_utf8_count(const char *s, size_t len);

#endif
