/*
 * multipart.c - multipart/form-data bodies (RFC 7578 over RFC 2046 §5.1),
 * parsed incrementally so uploads stream to disk and never sit in memory.
 *
 * The body is searched for the delimiter "CRLF--boundary" byte by byte as
 * it arrives, so a delimiter split across any two feed() calls is found;
 * bytes that might be the start of a delimiter are held back (they are a
 * prefix of the delimiter, so they are re-emitted from it) until the match
 * fails. The first delimiter has no CRLF before it when there is no
 * preamble, so the search starts as if a CRLF had just been seen.
 *
 * Line ends are strictly CRLF (RFC 2046 §5.1.1, RFC 7578 §4.1): a bare LF
 * after a boundary or in part headers is a 400 that says so, rather than a
 * guess, so that this parser and any proxy in front of it cannot disagree
 * about where a part ends. Every browser and common client sends CRLF.
 *
 * Field names, filenames and part headers must be valid UTF-8, as browsers
 * send them. A quoted parameter value ends at the first unescaped '"'; only
 * \" and \\ are escapes, any other backslash is kept, because browsers do
 * not escape backslashes (old Windows ones send C:\path\name). A client
 * filename is kept for display only, without its directory part (RFC 7578
 * §4.2); files are stored under mkstemp() names in tmpdir, mode 0600.
 */
#include "params.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define MP_BOUNDARY_MAX 70   /* RFC 2046 §5.1.1 */
#define MP_HEADER_MAX   8192 /* bytes of one part's header section */
#define MP_STAGE        65536

enum mp_state {
    MP_PREAMBLE,   /* before the first delimiter */
    MP_DELIM_TAIL, /* just after "--boundary" */
    MP_CLOSE_DASH, /* after "--boundary-" */
    MP_PADDING,    /* transport padding after the boundary */
    MP_DELIM_LF,   /* after the CR ending a boundary line */
    MP_HEADERS,    /* a part's header section */
    MP_BODY,       /* a part's content */
    MP_EPILOGUE,   /* after the close delimiter */
    MP_ERROR,
};

enum mp_kind { MP_NONE, MP_VALUE, MP_FILE, MP_SKIP };

struct pb_multipart {
    pb_limits lim;
    char *tmpdir;
    pb_params *out;
    enum mp_state state;
    char needle[4 + MP_BOUNDARY_MAX]; /* CRLF "--" boundary */
    size_t nlen;
    size_t match; /* bytes of needle matched and held back */
    size_t total; /* body bytes fed */
    size_t parts, files;
    pb_buf hdr;
    /* the current part */
    enum mp_kind kind;
    pb_buf name, filename, ctype, value;
    int has_disposition, has_name, has_filename, has_ctype;
    int fd;
    size_t field; /* index in out of the current file's field */
    size_t fsize;
    size_t staged;
    pb_input_error err; /* sticky once state is MP_ERROR */
    char stage[MP_STAGE];
};

/* ------------------------------------------------------------------------
 * Parameters of Content-Type and Content-Disposition
 * ------------------------------------------------------------------------ */

static int mp_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 §3.2.6 tchar */
static int mp_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 §5.1.1 bcharsnospace */
static int mp_bchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("'()+_,-./:=?", c) != NULL;
}

static int mp_boundary_ok(const char *b, size_t len)
{
    if (len < 1 || len > MP_BOUNDARY_MAX) /* RFC 2046 §5.1.1: 1 to 70 characters */
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!mp_bchar((unsigned char)b[i]) && !(b[i] == ' ' && i + 1 < len))
            return 0; /* RFC 2046 §5.1.1: bchars, the last one not a space */
    return 1;
}

/* Reads a quoted-string at s[*i] == '"' into val. Returns 0, or -1 when it
 * is not closed. */
static int mp_quoted(const char *s, size_t len, size_t *i, pb_buf *val)
{
    for (size_t j = *i + 1; j < len; j++) {
        char c = s[j];
        if (c == '"') {
            *i = j + 1;
            return 0;
        }
        /* RFC 2045 §5.1 quoted-pair, limited to \" and \\ (see the top of this file) */
        if (c == '\\' && j + 1 < len && (s[j + 1] == '"' || s[j + 1] == '\\'))
            c = s[++j];
        if (pb_buf_putc(val, c) < 0)
            return -1;
    }
    return -1;
}

/* Reads the next `; name=value` of a header value from s[*i]. Returns 1
 * with the name in s[*name..*name+*nlen) and the value in val, 0 at the
 * end, or -1 when malformed. */
static int mp_param(const char *s, size_t len, size_t *i, size_t *name, size_t *nlen, pb_buf *val)
{
    size_t j = *i;
    while (j < len && mp_ows(s[j]))
        j++;
    if (j == len)
        return 0;
    if (s[j++] != ';') /* RFC 2045 §5.1: parameters follow ";" */
        return -1;
    while (j < len && mp_ows(s[j]))
        j++;
    if (j == len)
        return 0; /* a trailing ";" is tolerated */
    *name = j;
    while (j < len && mp_tchar((unsigned char)s[j]))
        j++;
    *nlen = j - *name;
    if (*nlen == 0 || j == len || s[j++] != '=') /* RFC 2045 §5.1: attribute "=" value */
        return -1;
    pb_buf_reset(val);
    if (j < len && s[j] == '"') {
        if (mp_quoted(s, len, &j, val) < 0)
            return -1;
    } else {
        /* RFC 2045 §5.1 says token, but bare boundaries often hold ':' or '='
         * (RFC 2046 bchars): accept anything up to ';' or whitespace. */
        size_t start = j;
        while (j < len && s[j] != ';' && !mp_ows(s[j]) && s[j] != '"')
            j++;
        if (j == start || pb_buf_append(val, s + start, j - start) < 0)
            return -1;
    }
    *i = j;
    pb_buf_cstr(val);
    return 1;
}

int pb_multipart_boundary(const char *content_type, char *buf, size_t bufsize)
{
    const char *semi = strchr(content_type, ';');
    if (semi == NULL)
        return -1;
    size_t len = strlen(content_type), i = (size_t)(semi - content_type), name, nlen;
    pb_buf val = PB_BUF_INIT;
    int found = 0, rc;
    while ((rc = mp_param(content_type, len, &i, &name, &nlen, &val)) == 1) {
        /* RFC 2045 §5.1: parameter names are case-insensitive */
        if (nlen != 8 || strncasecmp(content_type + name, "boundary", 8) != 0)
            continue;
        if (found++ || !mp_boundary_ok(val.data, val.len) || val.len >= bufsize)
            rc = -1;
        else
            memcpy(buf, val.data, val.len + 1);
        if (rc < 0)
            break;
    }
    pb_buf_free(&val);
    return rc == 0 && found == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * Errors and output
 * ------------------------------------------------------------------------ */

static void mp_close(pb_multipart *mp)
{
    if (mp->fd >= 0)
        close(mp->fd);
    mp->fd = -1;
}

static int mp_fail(pb_multipart *mp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mp_fail(pb_multipart *mp, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mp->err.msg, sizeof mp->err.msg, fmt, ap);
    va_end(ap);
    mp->err.status = status;
    mp->state = MP_ERROR;
    mp_close(mp); /* the file stays listed in out, so pb_params_free removes it */
    return -1;
}

static int mp_write(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int mp_flush(pb_multipart *mp)
{
    if (mp_write(mp->fd, mp->stage, mp->staged) < 0)
        return mp_fail(mp, 500, "could not store an uploaded file: %s", strerror(errno));
    mp->staged = 0;
    mp->out->v[mp->field].size = mp->fsize;
    return 0;
}

static int mp_emit_file(pb_multipart *mp, const char *p, size_t n)
{
    if (n > mp->lim.upload_max - mp->fsize) {
        const pb_field *f = &mp->out->v[mp->field];
        char ex[48];
        return mp_fail(mp, 413, "uploaded file \"%s\" is larger than %zu bytes",
                       pb_params_excerpt(f->filename, strlen(f->filename), ex, sizeof ex),
                       mp->lim.upload_max);
    }
    if (mp->staged + n > MP_STAGE && mp_flush(mp) < 0)
        return -1;
    mp->fsize += n;
    if (n >= MP_STAGE) {
        if (mp_write(mp->fd, p, n) < 0)
            return mp_fail(mp, 500, "could not store an uploaded file: %s", strerror(errno));
        return 0;
    }
    memcpy(mp->stage + mp->staged, p, n);
    mp->staged += n;
    return 0;
}

/* Hands n bytes of content to the current part. Returns 0 or -1. */
static int mp_emit(pb_multipart *mp, const char *p, size_t n)
{
    switch (mp->kind) {
    case MP_FILE:
        return mp_emit_file(mp, p, n);
    case MP_VALUE:
        if (n > mp->lim.value_max - mp->value.len) {
            char ex[48];
            return mp_fail(mp, 413, "field \"%s\" is longer than %zu bytes",
                           pb_params_excerpt(mp->name.data, mp->name.len, ex, sizeof ex),
                           mp->lim.value_max);
        }
        if (pb_buf_append(&mp->value, p, n) < 0)
            return mp_fail(mp, 500, "out of memory");
        return 0;
    default:
        return 0; /* preamble, or a file input left empty */
    }
}

/* ------------------------------------------------------------------------
 * Part headers
 * ------------------------------------------------------------------------ */

/* RFC 7578 §4.2: Content-Disposition: form-data; name="..."; filename="..." */
static int mp_disposition(pb_multipart *mp, const char *v, size_t len)
{
    size_t i = 0, name, nlen;
    pb_buf val = PB_BUF_INIT;
    while (i < len && mp_tchar((unsigned char)v[i]))
        i++;
    /* RFC 7578 §4.2: the disposition type is "form-data" */
    if (i != 9 || strncasecmp(v, "form-data", 9) != 0)
        return mp_fail(mp, 400, "part's Content-Disposition is not form-data");
    int rc;
    while ((rc = mp_param(v, len, &i, &name, &nlen, &val)) == 1) {
        pb_buf *dst = NULL;
        int *seen = NULL;
        if (nlen == 4 && strncasecmp(v + name, "name", 4) == 0) {
            dst = &mp->name;
            seen = &mp->has_name;
        } else if (nlen == 8 && strncasecmp(v + name, "filename", 8) == 0) {
            dst = &mp->filename;
            seen = &mp->has_filename;
        } else {
            continue; /* RFC 7578 §4.2: filename* is not used; others are ignored */
        }
        if (*seen) {
            pb_buf_free(&val);
            return mp_fail(mp, 400, "part's Content-Disposition repeats a parameter");
        }
        *seen = 1;
        pb_buf_reset(dst);
        if (pb_buf_append(dst, val.data, val.len) < 0 || pb_buf_cstr(dst) == NULL) {
            pb_buf_free(&val);
            return mp_fail(mp, 500, "out of memory");
        }
    }
    pb_buf_free(&val);
    if (rc < 0)
        return mp_fail(mp, 400, "malformed Content-Disposition in a part");
    return 0;
}

/* Handles one header line (without its CRLF). Returns 0 or -1. */
static int mp_header_line(pb_multipart *mp, const char *s, size_t len)
{
    /* RFC 5322 §2.2.3: folding is obsolete and no browser sends it */
    if (mp_ows(s[0]))
        return mp_fail(mp, 400, "folded part header lines are not supported");
    const char *colon = memchr(s, ':', len);
    size_t nlen = colon ? (size_t)(colon - s) : 0;
    for (size_t i = 0; i < nlen; i++)
        if (!mp_tchar((unsigned char)s[i]))
            nlen = 0;
    if (nlen == 0) /* RFC 5322 §2.2: field-name ":" field-body */
        return mp_fail(mp, 400, "malformed part header line");
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen > 0 && mp_ows(*v)) {
        v++;
        vlen--;
    }
    while (vlen > 0 && mp_ows(v[vlen - 1]))
        vlen--;
    if (nlen == 19 && strncasecmp(s, "Content-Disposition", 19) == 0) {
        if (mp->has_disposition++)
            return mp_fail(mp, 400, "part has two Content-Disposition headers");
        return mp_disposition(mp, v, vlen);
    }
    if (nlen == 12 && strncasecmp(s, "Content-Type", 12) == 0) {
        if (mp->has_ctype++)
            return mp_fail(mp, 400, "part has two Content-Type headers");
        pb_buf_reset(&mp->ctype);
        if (pb_buf_append(&mp->ctype, v, vlen) < 0 || pb_buf_cstr(&mp->ctype) == NULL)
            return mp_fail(mp, 500, "out of memory");
    }
    return 0; /* RFC 7578 §4.8: other header fields are ignored */
}

static char *mp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Creates the file for an upload and lists it in out. Returns 0 or -1. */
static int mp_open_file(pb_multipart *mp)
{
    /* RFC 7578 §4.2: do not use directory path information from filename */
    const char *base = mp->filename.data;
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    pb_buf path = PB_BUF_INIT;
    if (pb_buf_printf(&path, "%s/pb-upload-XXXXXX", mp->tmpdir) < 0)
        return mp_fail(mp, 500, "out of memory");
    mp->fd = mkstemp(path.data); /* a fresh name of ours, created 0600 */
    if (mp->fd < 0) {
        int e = errno;
        pb_buf_free(&path);
        return mp_fail(mp, 500, "could not create a file for an upload: %s", strerror(e));
    }
    fchmod(mp->fd, S_IRUSR | S_IWUSR);
    pb_params *out = mp->out;
    if (pb_params_add(out, mp->name.data, mp->name.len, "", 0) < 0) {
        unlink(path.data);
        pb_buf_free(&path);
        return mp_fail(mp, 500, "out of memory");
    }
    mp->field = out->n - 1;
    pb_field *f = &out->v[mp->field];
    f->path = path.data; /* from here on pb_params_free removes the file */
    f->filename = mp_strdup(base);
    f->content_type = mp->has_ctype ? mp_strdup(mp->ctype.data) : NULL;
    if (f->filename == NULL || (mp->has_ctype && f->content_type == NULL))
        return mp_fail(mp, 500, "out of memory");
    mp->fsize = 0;
    mp->staged = 0;
    mp->kind = MP_FILE;
    return 0;
}

/* Decides what the part is once its headers are read. Returns 0 or -1. */
static int mp_begin_part(pb_multipart *mp)
{
    const char *h = mp->hdr.data;
    size_t len = mp->hdr.len;
    if (pb_utf8_count(h, len) == (size_t)-1)
        return mp_fail(mp, 400, "part headers are not valid UTF-8");
    for (size_t i = 0; i + 2 < len;) {                  /* the last CRLF ends the section */
        const char *eol = memchr(h + i, '\r', len - i); /* CRLF checked as bytes arrived */
        if (mp_header_line(mp, h + i, (size_t)(eol - (h + i))) < 0)
            return -1;
        i = (size_t)(eol - h) + 2;
    }
    if (!mp->has_disposition) /* RFC 7578 §4.2: each part has a Content-Disposition */
        return mp_fail(mp, 400, "part has no Content-Disposition header");
    if (!mp->has_name) /* RFC 7578 §4.2: ... with a "name" parameter */
        return mp_fail(mp, 400, "part has no name in its Content-Disposition");
    if (mp->name.len > mp->lim.name_max) {
        char ex[48];
        return mp_fail(mp, 413, "field name \"%s\" is longer than %zu bytes",
                       pb_params_excerpt(mp->name.data, mp->name.len, ex, sizeof ex),
                       mp->lim.name_max);
    }
    pb_buf_reset(&mp->value);
    if (!mp->has_filename) {
        mp->kind = MP_VALUE;
        return 0;
    }
    if (mp->filename.len == 0) { /* a file input with no file chosen */
        mp->kind = MP_SKIP;
        return 0;
    }
    if (++mp->files > mp->lim.uploads_max)
        return mp_fail(mp, 413, "too many uploaded files (limit %zu)", mp->lim.uploads_max);
    return mp_open_file(mp);
}

static int mp_end_part(pb_multipart *mp)
{
    enum mp_kind kind = mp->kind;
    mp->kind = MP_NONE;
    if (kind == MP_FILE) {
        if (mp_flush(mp) < 0)
            return -1;
        int rc = close(mp->fd);
        mp->fd = -1;
        if (rc < 0)
            return mp_fail(mp, 500, "could not store an uploaded file: %s", strerror(errno));
        return 0;
    }
    if (kind != MP_VALUE)
        return 0;
    pb_params *out = mp->out;
    if (pb_params_add(out, mp->name.data, mp->name.len, pb_buf_cstr(&mp->value), mp->value.len) < 0)
        return mp_fail(mp, 500, "out of memory");
    if (mp->has_ctype) {
        out->v[out->n - 1].content_type = mp_strdup(mp->ctype.data);
        if (out->v[out->n - 1].content_type == NULL)
            return mp_fail(mp, 500, "out of memory");
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The state machine
 * ------------------------------------------------------------------------ */

static int mp_start_headers(pb_multipart *mp)
{
    if (++mp->parts > mp->lim.fields_max)
        return mp_fail(mp, 413, "too many form fields (limit %zu)", mp->lim.fields_max);
    pb_buf_reset(&mp->hdr);
    pb_buf_reset(&mp->name);
    pb_buf_reset(&mp->filename);
    pb_buf_reset(&mp->ctype);
    mp->has_disposition = mp->has_name = mp->has_filename = mp->has_ctype = 0;
    mp->state = MP_HEADERS;
    return 0;
}

static int mp_header_byte(pb_multipart *mp, char c)
{
    pb_buf *h = &mp->hdr;
    char prev = 0;
    if (h->len > 0)
        prev = h->data[h->len - 1];
    if (c == '\n' && prev != '\r') /* RFC 7578 §4.1 / RFC 5322 §2.2: lines end in CRLF */
        return mp_fail(mp, 400, "part header lines must end with CRLF, not a bare LF");
    if (prev == '\r' && c != '\n')
        return mp_fail(mp, 400, "bare CR in part headers");
    if (c != '\r' && c != '\n' && c != '\t' && ((unsigned char)c < 0x20 || c == 0x7F))
        return mp_fail(mp, 400, "control character in part headers"); /* RFC 5322 §2.2 */
    if (h->len >= MP_HEADER_MAX)
        return mp_fail(mp, 413, "part headers are longer than %d bytes", MP_HEADER_MAX);
    if (pb_buf_putc(h, c) < 0)
        return mp_fail(mp, 500, "out of memory");
    /* RFC 2046 §5.1.1: the header section ends with an empty line */
    if (c == '\n' &&
        (h->len == 2 || (h->len >= 4 && memcmp(h->data + h->len - 4, "\r\n\r\n", 4) == 0))) {
        if (mp_begin_part(mp) < 0)
            return -1;
        mp->state = MP_BODY;
        mp->match = 0;
    }
    return 0;
}

/* Handles one byte of the boundary line or a header. Returns 0 or -1. */
static int mp_byte(pb_multipart *mp, char c)
{
    switch (mp->state) {
    case MP_DELIM_TAIL: /* "-" of a close delimiter, else as MP_PADDING */
        if (c == '-') {
            mp->state = MP_CLOSE_DASH;
            return 0;
        }
        /* fall through */
    case MP_PADDING:
        if (mp_ows(c)) { /* RFC 2046 §5.1.1: transport-padding := *LWSP-char */
            mp->state = MP_PADDING;
            return 0;
        }
        if (c == '\r') {
            mp->state = MP_DELIM_LF;
            return 0;
        }
        if (c == '\n') /* RFC 2046 §5.1.1: a boundary line ends with CRLF */
            return mp_fail(mp, 400, "boundary line must end with CRLF, not a bare LF");
        return mp_fail(mp, 400, "unexpected characters after a boundary");
    case MP_CLOSE_DASH:
        if (c == '-') { /* RFC 2046 §5.1.1: close-delimiter := delimiter "--" */
            mp->state = MP_EPILOGUE;
            return 0;
        }
        return mp_fail(mp, 400, "unexpected characters after a boundary");
    case MP_DELIM_LF:
        if (c != '\n')
            return mp_fail(mp, 400, "bare CR after a boundary");
        return mp_start_headers(mp);
    case MP_HEADERS:
        return mp_header_byte(mp, c);
    default:
        return 0;
    }
}

/* Searches preamble or content for the delimiter from data[*i]. Returns 0
 * (stopping after a delimiter or at the end of data) or -1. */
static int mp_scan(pb_multipart *mp, const char *data, size_t n, size_t *i)
{
    size_t j = *i;
    while (j < n) {
        if (mp->match == 0) {
            const char *cr = memchr(data + j, '\r', n - j);
            size_t stop = cr ? (size_t)(cr - data) : n;
            if (mp_emit(mp, data + j, stop - j) < 0)
                return -1;
            j = stop;
            if (j == n)
                break;
        }
        char c = data[j++];
        if (mp->needle[mp->match] != c) {
            /* The boundary holds no CR, so CR occurs in the needle only at 0:
             * no shorter prefix of the held-back bytes can still match. */
            if (mp_emit(mp, mp->needle, mp->match) < 0)
                return -1;
            mp->match = 0;
            if (c != '\r') {
                if (mp_emit(mp, &c, 1) < 0)
                    return -1;
                continue;
            }
        }
        if (++mp->match == mp->nlen) {
            mp->match = 0;
            if (mp->state == MP_BODY && mp_end_part(mp) < 0)
                return -1;
            mp->state = MP_DELIM_TAIL;
            break;
        }
    }
    *i = j;
    return 0;
}

pb_multipart *pb_multipart_new(const char *boundary, const pb_limits *lim, const char *tmpdir,
                               pb_params *out)
{
    size_t blen = strlen(boundary);
    if (!mp_boundary_ok(boundary, blen))
        return NULL;
    pb_multipart *mp = calloc(1, sizeof *mp);
    if (mp == NULL)
        return NULL;
    mp->tmpdir = mp_strdup(tmpdir ? tmpdir : "/tmp");
    if (mp->tmpdir == NULL) {
        free(mp);
        return NULL;
    }
    mp->lim = *lim;
    mp->out = out;
    mp->fd = -1;
    memcpy(mp->needle, "\r\n--", 4); /* RFC 2046 §5.1.1: delimiter := CRLF dash-boundary */
    memcpy(mp->needle + 4, boundary, blen);
    mp->nlen = 4 + blen;
    mp->state = MP_PREAMBLE;
    mp->match = 2; /* the first delimiter may open the body without its CRLF */
    return mp;
}

int pb_multipart_feed(pb_multipart *mp, const char *data, size_t n, pb_input_error *err)
{
    if (mp->state != MP_ERROR && n > mp->lim.body_max - mp->total)
        mp_fail(mp, 413, "request body is larger than %zu bytes", mp->lim.body_max);
    if (mp->state == MP_ERROR) {
        *err = mp->err;
        return -1;
    }
    mp->total += n;
    size_t i = 0;
    while (i < n) {
        int rc = 0;
        if (mp->state == MP_PREAMBLE || mp->state == MP_BODY)
            rc = mp_scan(mp, data, n, &i);
        else if (mp->state == MP_EPILOGUE)
            i = n; /* RFC 2046 §5.1.1: the epilogue is ignored */
        else
            rc = mp_byte(mp, data[i++]);
        if (rc < 0) {
            *err = mp->err;
            return -1;
        }
    }
    return 0;
}

int pb_multipart_finish(pb_multipart *mp, pb_input_error *err)
{
    if (mp->state == MP_EPILOGUE)
        return 0;
    if (mp->state != MP_ERROR) /* RFC 2046 §5.1.1: the body ends with a close-delimiter */
        mp_fail(mp, 400,
                mp->total == 0 ? "multipart body is empty"
                               : "multipart body ends before its closing boundary");
    *err = mp->err;
    return -1;
}

void pb_multipart_free(pb_multipart *mp)
{
    if (mp == NULL)
        return;
    mp_close(mp);
    pb_buf_free(&mp->hdr);
    pb_buf_free(&mp->name);
    pb_buf_free(&mp->filename);
    pb_buf_free(&mp->ctype);
    pb_buf_free(&mp->value);
    free(mp->tmpdir);
    free(mp);
}
