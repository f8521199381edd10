/*
 * template.c - the Mustache engine: compiler, renderer and template sets.
 *
 * A template is compiled once into a flat array of nodes - text runs, tags,
 * and sections whose children follow them in the array - plus one pool that
 * holds every text run, name and indentation string. Rendering walks that
 * array against a jansson value: it never re-parses, escapes text in runs, and
 * allocates nothing but the output's growth (and an indentation buffer when a
 * partial is indented).
 *
 * Compilation makes three passes over the source:
 *   1. lex: find the tags, honouring set-delimiter tags, and pair every
 *      section, parent and block with its closing tag;
 *   2. standalone: decide which tags stand alone on their line and trim that
 *      line's indentation and newline from the text around them;
 *   3. build: emit nodes and pool, removing the indentation of block content.
 *
 * Indentation. The spec defines partial indentation on template text: the
 * whitespace before a standalone {{>p}} is prepended to every line of p. A
 * node that starts a template line carries NF_BOL, and the renderer writes
 * the current indentation before such nodes and after every newline inside a
 * text run, so newlines coming from data are never indented.
 *
 * Inheritance. {{<parent}} renders parent with a new frame on a list of block
 * overrides; a {{$block}} takes the outermost override of its name, else its
 * own content. Block content is stored dedented by its own margin and is
 * re-indented by the margin of the block it fills (~inheritance.json).
 */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ========================================================================
 * Limits
 * ======================================================================== */

/* Sections, partials, parents and blocks nested deeper than this fail the
 * render, so a partial that includes itself ends with an error instead of a
 * stack overflow. Each level costs a few hundred bytes of C stack. */
#define TPL_MAX_DEPTH 100
/* Offsets are 32-bit and the pool can grow to three times the source. */
#define TPL_MAX_SOURCE ((size_t)1 << 30)
#define TPL_MAX_NAME   4096
/* Folder levels pb_tpl_set_load_dir descends; stops symlink loops. */
#define TPL_MAX_DIRS          32
#define TPL_DEFAULT_MAX_STEPS ((size_t)50 * 1000 * 1000)
#define TPL_DEFAULT_MAX_OUT   ((size_t)64 << 20)
#define NOT_FOUND             ((size_t)-1)

/* ========================================================================
 * Compiled form
 * ======================================================================== */

enum kind {
    K_TEXT,
    K_VAR, /* {{x}}: escaped */
    K_RAW, /* {{{x}}} and {{&x}} */
    K_SECTION,
    K_INVERTED,
    K_PARTIAL,
    K_PARENT,
    K_BLOCK,
    /* tags that never become nodes */
    K_CLOSE,
    K_COMMENT,
    K_DELIM,
};

enum node_flags {
    NF_BOL = 1,        /* starts a template line: indentation goes first */
    NF_STANDALONE = 2, /* partial, parent or block that indents its content */
};

struct tpl_node {
    uint8_t kind;
    uint8_t flags;
    uint16_t nparts;       /* parts of a dotted name; 0 for "." */
    uint32_t line;         /* 1-based source line, for errors */
    uint32_t off, len;     /* text run, or NUL-separated name, in the pool */
    uint32_t end;          /* sections, parents, blocks: index past the last child */
    uint32_t ind, ind_len; /* indentation a standalone tag adds, in the pool */
};

/* One allocation: this header, the nodes, the pool, the file name. */
struct tpl {
    const char *pool;
    const char *file;
    uint32_t count;
    struct tpl_node nodes[];
};

static int has_children(int kind)
{
    return kind == K_SECTION || kind == K_INVERTED || kind == K_PARENT || kind == K_BLOCK;
}

/* ========================================================================
 * Errors
 * ======================================================================== */

static void error_vset(pb_tpl_error *err, const char *file, int line, const char *fmt, va_list ap)
{
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

static void error_set(pb_tpl_error *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void error_set(pb_tpl_error *err, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, file, line, fmt, ap);
    va_end(ap);
}

/* ========================================================================
 * Small helpers
 * ======================================================================== */

/* Returns arr with room for need elements of elem bytes (possibly moved), or
 * NULL when out of memory, in which case arr is still valid. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return NULL;
        n *= 2;
    }
    void *p = realloc(arr, n * elem);
    if (p != NULL)
        *cap = n;
    return p;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Spaces and tabs only: what counts as indentation on a line. */
static int is_indent(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_space(const char *s, size_t p, size_t end)
{
    while (p < end && is_space(s[p]))
        p++;
    return p;
}

static size_t skip_word(const char *s, size_t p, size_t end)
{
    while (p < end && !is_space(s[p]))
        p++;
    return p;
}

/* Returns the offset of pat in s[from, len), or NOT_FOUND. */
static size_t find(const char *s, size_t len, size_t from, const char *pat, size_t plen)
{
    while (from < len && len - from >= plen) {
        const char *p = memchr(s + from, pat[0], len - from - plen + 1);
        if (p == NULL)
            return NOT_FOUND;
        if (memcmp(p, pat, plen) == 0)
            return (size_t)(p - s);
        from = (size_t)(p - s) + 1;
    }
    return NOT_FOUND;
}

static uint32_t count_lines(const char *s, size_t n)
{
    uint32_t lines = 0;
    const char *end = s + n;
    while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        lines++;
        s++;
    }
    return lines;
}

/* ========================================================================
 * Compiler state
 * ======================================================================== */

enum strip {
    STRIP_NONE,
    STRIP_LINE,    /* standalone: indentation and newline removed */
    STRIP_KEEP_NL, /* {{$b}}{{/b}} alone on a line: the newline stays */
};

struct tok {
    uint8_t kind;
    uint8_t strip;       /* enum strip */
    uint32_t start, end; /* the whole tag, delimiters included */
    uint32_t name, nlen; /* the trimmed tag content */
    uint32_t line;
    uint32_t match;     /* opening <-> closing tag */
    uint32_t ws, wslen; /* standalone: the indentation of the tag's line */
};

/* Text between tags: segs[i] precedes toks[i], segs[ntoks] ends the source. */
struct seg {
    uint32_t a, b;
};

/* A section, parent or block the builder is inside of. */
struct frame {
    uint32_t node;
    uint32_t outer_dedent; /* the dedent to restore at its closing tag */
    uint8_t kind;
};

struct delims {
    const char *open, *close;
    size_t olen, clen;
};

struct compiler {
    const char *src;
    size_t len;
    const char *file;
    pb_tpl_error *err;
    struct tok *toks;
    size_t ntoks, tcap;
    uint32_t *open; /* lexer: indexes of unclosed tokens */
    size_t nopen, ocap;
    struct seg *segs;
    struct tpl_node *nodes;
    size_t nnodes, ncap;
    struct frame *frames;
    size_t nframes, fcap;
    pb_buf pool;
};

static int compile_fail(struct compiler *c, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills the error at line of the template being compiled. Returns -1. */
static int compile_fail(struct compiler *c, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(c->err, c->file, (int)line, fmt, ap);
    va_end(ap);
    return -1;
}

static int compile_oom(struct compiler *c)
{
    return compile_fail(c, 0, "out of memory");
}

static const char *kind_word(int kind)
{
    switch (kind) {
    case K_SECTION:
        return "section";
    case K_INVERTED:
        return "inverted section";
    case K_PARENT:
        return "parent";
    case K_BLOCK:
        return "block";
    case K_PARTIAL:
        return "partial";
    default:
        return "tag";
    }
}

/* Names go into messages cut to a readable length. */
#define NAME_FMT       "\"%.*s%s\""
#define NAME_ARG(p, n) (int)((n) > 60 ? 60 : (n)), (p), ((n) > 60 ? "..." : "")
#define TOK_NAME(c, t) NAME_ARG((c)->src + (t)->name, (t)->nlen)

/* ========================================================================
 * Pass 1: lexer
 * ======================================================================== */

/* Returns the offset of the closing delimiter after from, which must follow
 * the character need when need is not NUL ("}" of "}}}", "=" of "=}}"), or
 * NOT_FOUND. */
static size_t find_close(const struct compiler *c, const struct delims *d, size_t from, char need)
{
    size_t at = from;
    for (;;) {
        size_t f = find(c->src, c->len, at, d->close, d->clen);
        if (f == NOT_FOUND || need == '\0' || (f > from && c->src[f - 1] == need))
            return f;
        at = f + 1;
    }
}

/* Applies {{=OPEN CLOSE=}} whose content (between the two "=") is
 * src[a, b). Returns 0, or -1 with the error filled. */
static int lex_delims(struct compiler *c, struct delims *d, const struct tok *t, size_t a, size_t b)
{
    const char *s = c->src;
    size_t o0 = skip_space(s, a, b), o1 = skip_word(s, o0, b);
    size_t c0 = skip_space(s, o1, b), c1 = skip_word(s, c0, b);
    int ok = o1 > o0 && c1 > c0 && skip_space(s, c1, b) == b;
    for (size_t p = o0; ok && p < c1; p++)
        ok = s[p] != '=' && s[p] != '\0';
    if (!ok)
        return compile_fail(c, t->line,
                            "bad set-delimiter tag: want {{=OPEN CLOSE=}}, two "
                            "delimiters without spaces or \"=\"");
    d->open = s + o0;
    d->olen = o1 - o0;
    d->close = s + c0;
    d->clen = c1 - c0;
    return 0;
}

/* Checks a tag name; dotted names (values looked up in data) must not have
 * empty parts. Returns 0, or -1 with the error filled. */
static int lex_check_name(struct compiler *c, const struct tok *t)
{
    const char *s = c->src + t->name;
    if (t->nlen == 0)
        return compile_fail(c, t->line, "%s without a name", kind_word(t->kind));
    if (t->nlen > TPL_MAX_NAME)
        return compile_fail(c, t->line, "tag name longer than %d bytes", TPL_MAX_NAME);
    for (size_t i = 0; i < t->nlen; i++) {
        if (is_space(s[i]))
            return compile_fail(c, t->line, "tag name " NAME_FMT " contains whitespace",
                                TOK_NAME(c, t));
        if (s[i] == '\0')
            return compile_fail(c, t->line, "tag name contains a NUL byte");
    }
    int dotted =
        t->kind == K_VAR || t->kind == K_RAW || t->kind == K_SECTION || t->kind == K_INVERTED;
    if (!dotted || (t->nlen == 1 && s[0] == '.'))
        return 0;
    if (s[0] == '.' || s[t->nlen - 1] == '.' || find(s, t->nlen, 0, "..", 2) != NOT_FOUND)
        return compile_fail(c, t->line, "invalid name " NAME_FMT " (empty part between dots)",
                            TOK_NAME(c, t));
    return 0;
}

static int sigil_kind(char sigil)
{
    switch (sigil) {
    case '#':
        return K_SECTION;
    case '^':
        return K_INVERTED;
    case '/':
        return K_CLOSE;
    case '!':
        return K_COMMENT;
    case '>':
        return K_PARTIAL;
    case '<':
        return K_PARENT;
    case '$':
        return K_BLOCK;
    case '&':
    case '{':
        return K_RAW;
    case '=':
        return K_DELIM;
    default:
        return K_VAR;
    }
}

/* Reads the tag that starts at t->start with the open delimiter. Fills kind,
 * end and name; applies a set-delimiter tag to d. Returns 0 or -1. */
static int lex_tag(struct compiler *c, struct delims *d, struct tok *t)
{
    const char *s = c->src;
    size_t p = skip_space(s, t->start + d->olen, c->len);
    char sigil = p < c->len ? s[p] : '\0';
    t->kind = (uint8_t)sigil_kind(sigil);
    if (t->kind != K_VAR)
        p++;
    /* {{{x}}} ends with "}" and {{=a b=}} with "=" before the delimiter */
    char need = sigil == '{' ? '}' : sigil == '=' ? '=' : '\0';
    size_t f = find_close(c, d, p, need);
    if (f == NOT_FOUND) {
        const char *extra = need == '}' ? "}" : need == '=' ? "=" : "";
        return compile_fail(c, t->line, "unclosed tag: no \"%s%.*s\" after \"%.*s%s\"", extra,
                            (int)d->clen, d->close, (int)d->olen, d->open,
                            need == '}' ? "{" : extra);
    }
    t->end = (uint32_t)(f + d->clen);
    size_t b = need ? f - 1 : f;
    if (t->kind == K_COMMENT)
        return 0;
    if (t->kind == K_DELIM)
        return lex_delims(c, d, t, p, b);
    p = skip_space(s, p, b);
    while (b > p && is_space(s[b - 1]))
        b--;
    t->name = (uint32_t)p;
    t->nlen = (uint32_t)(b - p);
    return lex_check_name(c, t);
}

/* Pairs an opening or closing tag (the last token) with its partner.
 * Returns 0 or -1. */
static int lex_match(struct compiler *c)
{
    uint32_t i = (uint32_t)(c->ntoks - 1);
    struct tok *t = &c->toks[i];
    if (has_children(t->kind)) {
        uint32_t *p = grow(c->open, &c->ocap, c->nopen + 1, sizeof *c->open);
        if (p == NULL)
            return compile_oom(c);
        c->open = p;
        c->open[c->nopen++] = i;
        return 0;
    }
    if (t->kind != K_CLOSE)
        return 0;
    if (c->nopen == 0)
        return compile_fail(c, t->line, "closing tag " NAME_FMT " without an opening tag",
                            TOK_NAME(c, t));
    struct tok *o = &c->toks[c->open[c->nopen - 1]];
    if (o->nlen != t->nlen || memcmp(c->src + o->name, c->src + t->name, t->nlen) != 0)
        return compile_fail(
            c, t->line, "closing tag " NAME_FMT " does not match %s " NAME_FMT " opened at line %u",
            TOK_NAME(c, t), kind_word(o->kind), TOK_NAME(c, o), o->line);
    o->match = i;
    t->match = c->open[--c->nopen];
    return 0;
}

/* Pass 1: fills toks with every tag of the source. Returns 0 or -1. */
static int lex(struct compiler *c)
{
    struct delims d = {"{{", "}}", 2, 2};
    size_t pos = 0;
    uint32_t line = 1;
    for (;;) {
        size_t at = find(c->src, c->len, pos, d.open, d.olen);
        if (at == NOT_FOUND)
            break;
        line += count_lines(c->src + pos, at - pos);
        struct tok *p = grow(c->toks, &c->tcap, c->ntoks + 1, sizeof *c->toks);
        if (p == NULL)
            return compile_oom(c);
        c->toks = p;
        struct tok *t = &c->toks[c->ntoks];
        memset(t, 0, sizeof *t);
        t->start = (uint32_t)at;
        t->line = line;
        if (lex_tag(c, &d, t) < 0)
            return -1;
        c->ntoks++;
        if (lex_match(c) < 0)
            return -1;
        line += count_lines(c->src + at, t->end - at);
        pos = t->end;
    }
    if (c->nopen > 0) {
        const struct tok *o = &c->toks[c->open[c->nopen - 1]];
        return compile_fail(c, o->line, "unclosed %s " NAME_FMT, kind_word(o->kind),
                            TOK_NAME(c, o));
    }
    return 0;
}

/* ========================================================================
 * Pass 2: standalone lines
 * ======================================================================== */

/* Tags of template inheritance, which may share a standalone line. */
static int is_inheritance(const struct compiler *c, const struct tok *t)
{
    int k = t->kind == K_CLOSE ? c->toks[t->match].kind : t->kind;
    return k == K_PARENT || k == K_BLOCK;
}

/* Decides how tags first..last, which share one line, strip it. The classic
 * rule: one non-interpolating tag alone on its line. Inheritance adds lines
 * of adjacent inheritance tags ({{<p}}{{$b}}, {{/b}}{{/p}}, {{<p}}{{/p}}),
 * except that a block opened and closed alone on a line keeps its newline:
 * it stands for content that ends before that newline. */
static int standalone_kind(const struct compiler *c, size_t first, size_t last)
{
    const struct tok *t = &c->toks[first];
    if (first == last)
        return t->kind == K_VAR || t->kind == K_RAW ? STRIP_NONE : STRIP_LINE;
    for (size_t i = first; i <= last; i++) {
        if (!is_inheritance(c, &c->toks[i]))
            return STRIP_NONE;
        if (i < last && c->toks[i].end != c->toks[i + 1].start)
            return STRIP_NONE;
    }
    if (last == first + 1 && t->kind == K_BLOCK && t->match == last)
        return STRIP_KEEP_NL;
    return STRIP_LINE;
}

/* Classifies the group of tags first..last that share one line and, when
 * they stand alone, trims the text around them. */
static void standalone_group(struct compiler *c, size_t first, size_t last)
{
    const char *s = c->src;
    size_t floor = first ? c->toks[first - 1].end : 0;
    size_t ls = c->toks[first].start;
    while (ls > floor && s[ls - 1] != '\n')
        ls--;
    for (size_t p = ls; p < c->toks[first].start; p++)
        if (!is_indent(s[p]))
            return;
    size_t nl = c->toks[last].end;
    while (nl < c->len && is_indent(s[nl]))
        nl++;
    size_t eol = nl;
    if (nl + 1 < c->len && s[nl] == '\r' && s[nl + 1] == '\n')
        eol = nl + 2;
    else if (nl < c->len && s[nl] == '\n')
        eol = nl + 1;
    else if (nl != c->len)
        return;
    int kind = standalone_kind(c, first, last);
    if (kind == STRIP_NONE)
        return;
    for (size_t i = first; i <= last; i++) {
        c->toks[i].strip = (uint8_t)kind;
        c->toks[i].ws = (uint32_t)ls;
        c->toks[i].wslen = (uint32_t)(c->toks[first].start - ls);
    }
    c->segs[first].b = (uint32_t)ls;
    c->segs[last + 1].a = (uint32_t)(kind == STRIP_LINE ? eol : nl);
}

/* Pass 2: fills segs and strips standalone lines. Returns 0 or -1. */
static int mark_standalone(struct compiler *c)
{
    c->segs = malloc((c->ntoks + 1) * sizeof *c->segs);
    if (c->segs == NULL)
        return compile_oom(c);
    for (size_t i = 0; i <= c->ntoks; i++) {
        c->segs[i].a = i ? c->toks[i - 1].end : 0;
        c->segs[i].b = i < c->ntoks ? c->toks[i].start : (uint32_t)c->len;
    }
    for (size_t i = 0; i < c->ntoks;) {
        size_t j = i;
        while (j + 1 < c->ntoks &&
               memchr(c->src + c->toks[j].end, '\n', c->toks[j + 1].start - c->toks[j].end) == NULL)
            j++;
        standalone_group(c, i, j);
        i = j + 1;
    }
    return 0;
}

/* ========================================================================
 * Pass 3: node builder
 * ======================================================================== */

struct build_state {
    uint32_t dedent; /* indentation removed from each line: the block margin */
    int at_bol;      /* the next output starts a template line */
    int merge;       /* the last node is a text run the next run may extend */
};

/* Appends a node; returns it, or NULL when out of memory. */
static struct tpl_node *build_node(struct compiler *c, int kind, int flags, uint32_t line)
{
    struct tpl_node *p = grow(c->nodes, &c->ncap, c->nnodes + 1, sizeof *c->nodes);
    if (p == NULL)
        return NULL;
    c->nodes = p;
    struct tpl_node *n = &c->nodes[c->nnodes++];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->flags = (uint8_t)flags;
    n->line = line;
    n->end = (uint32_t)c->nnodes;
    return n;
}

/* Copies a tag's name into the pool; a dotted name becomes its parts, each
 * NUL-terminated, so lookups need no parsing. Returns 0 or -1. */
static int build_name(struct compiler *c, struct tpl_node *n, const struct tok *t, int dotted)
{
    const char *s = c->src + t->name;
    n->off = (uint32_t)c->pool.len;
    if (dotted && t->nlen == 1 && s[0] == '.')
        return pb_buf_putc(&c->pool, '\0');
    if (pb_buf_append(&c->pool, s, t->nlen) < 0 || pb_buf_putc(&c->pool, '\0') < 0)
        return -1;
    n->len = t->nlen;
    n->nparts = 1;
    for (char *p = c->pool.data + n->off; dotted && *p; p++)
        if (*p == '.') {
            *p = '\0';
            n->nparts++;
        }
    return 0;
}

/* Stores src[a, b) minus the first dedent bytes of indentation as n's
 * indentation. Returns 0 or -1. */
static int build_indent(struct compiler *c, struct tpl_node *n, size_t a, size_t b, size_t dedent)
{
    a = b - a > dedent ? a + dedent : b;
    n->flags |= NF_STANDALONE;
    n->ind = (uint32_t)c->pool.len;
    n->ind_len = (uint32_t)(b - a);
    return pb_buf_append(&c->pool, c->src + a, b - a);
}

/* Appends the text of segs[i], dropping up to dedent bytes of indentation
 * at each line start. Returns 0 or -1. */
static int build_text(struct compiler *c, size_t i, struct build_state *st)
{
    const char *s = c->src;
    size_t p = c->segs[i].a, b = c->segs[i].b;
    size_t start = c->pool.len;
    while (p < b) {
        if (st->dedent && (p == 0 || s[p - 1] == '\n'))
            for (size_t k = 0; k < st->dedent && p < b && is_indent(s[p]); k++)
                p++;
        const char *nl = memchr(s + p, '\n', b - p);
        size_t q = nl ? (size_t)(nl - s) + 1 : b;
        if (pb_buf_append(&c->pool, s + p, q - p) < 0)
            return -1;
        p = q;
    }
    size_t n = c->pool.len - start;
    if (n == 0)
        return 0;
    if (st->merge) {
        c->nodes[c->nnodes - 1].len += (uint32_t)n;
    } else {
        uint32_t line = i < c->ntoks ? c->toks[i].line : 0;
        struct tpl_node *t = build_node(c, K_TEXT, st->at_bol ? NF_BOL : 0, line);
        if (t == NULL)
            return -1;
        t->off = (uint32_t)start;
        t->len = (uint32_t)n;
    }
    st->at_bol = c->pool.data[c->pool.len - 1] == '\n';
    st->merge = 1;
    return 0;
}

/* Returns in *m, *mlen the indentation shared by every non-blank line of
 * src[a, b), or *mlen = NOT_FOUND when all lines are blank. */
static void block_margin(const struct compiler *c, size_t a, size_t b, size_t *m, size_t *mlen)
{
    const char *s = c->src;
    *mlen = NOT_FOUND;
    for (size_t p = a; p < b;) {
        size_t w = p;
        while (w < b && is_indent(s[w]))
            w++;
        const char *nl = memchr(s + w, '\n', b - w);
        size_t eol = nl ? (size_t)(nl - s) : b;
        int blank = w == eol || (w + 1 == eol && s[w] == '\r');
        if (!blank && *mlen == NOT_FOUND) {
            *m = p;
            *mlen = w - p;
        } else if (!blank) {
            size_t k = 0;
            while (k < *mlen && k < w - p && s[*m + k] == s[p + k])
                k++;
            *mlen = k;
        }
        p = nl ? eol + 1 : b;
    }
}

/* Sets a block's indentation and the dedent for its content. A standalone
 * block is indented like its content (the shared margin of its lines), or
 * like its tag when it has no content; that margin is removed from every
 * line, to be put back by the block it fills ("Block reindentation"). */
static int build_block_indent(struct compiler *c, struct tpl_node *n, const struct tok *t,
                              struct build_state *st)
{
    if (t->strip == STRIP_KEEP_NL)
        return build_indent(c, n, t->ws, t->ws + t->wslen, st->dedent);
    if (t->strip != STRIP_LINE)
        return 0;
    size_t a = c->segs[(t - c->toks) + 1].a, b = c->segs[t->match].b;
    size_t m = 0, mlen;
    block_margin(c, a, b > a ? b : a, &m, &mlen);
    if (mlen == NOT_FOUND) {
        m = t->ws;
        mlen = t->wslen;
    }
    if (build_indent(c, n, m, m + mlen, st->dedent) < 0)
        return -1;
    st->dedent = (uint32_t)mlen;
    return 0;
}

static int build_push(struct compiler *c, uint32_t node, int kind, uint32_t outer_dedent)
{
    struct frame *p = grow(c->frames, &c->fcap, c->nframes + 1, sizeof *c->frames);
    if (p == NULL)
        return -1;
    c->frames = p;
    c->frames[c->nframes++] = (struct frame){node, outer_dedent, (uint8_t)kind};
    return 0;
}

/* Closes the innermost frame. An inline closing tag at a line start keeps
 * that line's indentation inside the section, where the spec's textual
 * model puts it, so it is emitted as an empty text run. */
static int build_close(struct compiler *c, const struct tok *t, struct build_state *st)
{
    struct frame f = c->frames[--c->nframes];
    if (t->strip == STRIP_NONE && st->at_bol && f.kind != K_PARENT &&
        build_node(c, K_TEXT, NF_BOL, t->line) == NULL)
        return -1;
    c->nodes[f.node].end = (uint32_t)c->nnodes;
    st->dedent = f.outer_dedent;
    st->at_bol = t->strip == STRIP_LINE;
    return 0;
}

/* Emits the node(s) for toks[i]. Returns 0 or -1 (out of memory). */
static int build_tag(struct compiler *c, size_t i, struct build_state *st)
{
    const struct tok *t = &c->toks[i];
    if (t->kind == K_CLOSE)
        return build_close(c, t, st);
    if (t->kind == K_COMMENT || t->kind == K_DELIM) {
        st->at_bol |= t->strip != STRIP_NONE;
        return 0;
    }
    int bol = t->strip == STRIP_NONE && st->at_bol;
    struct tpl_node *n = build_node(c, t->kind, bol ? NF_BOL : 0, t->line);
    if (n == NULL)
        return -1;
    uint32_t index = (uint32_t)(c->nnodes - 1), outer = st->dedent;
    int dotted = t->kind != K_PARTIAL && t->kind != K_PARENT && t->kind != K_BLOCK;
    if (build_name(c, n, t, dotted) < 0)
        return -1;
    if ((t->kind == K_PARTIAL || t->kind == K_PARENT) && t->strip != STRIP_NONE &&
        build_indent(c, n, t->ws, t->ws + t->wslen, st->dedent) < 0)
        return -1;
    if (t->kind == K_BLOCK && build_block_indent(c, n, t, st) < 0)
        return -1;
    if (has_children(t->kind) && build_push(c, index, t->kind, outer) < 0)
        return -1;
    st->at_bol = t->strip == STRIP_LINE;
    return 0;
}

/* Pass 3: emits nodes and pool. Inside a parent only blocks matter: other
 * tags and text there are skipped, subtrees and all. Returns 0 or -1. */
static int build(struct compiler *c)
{
    struct build_state st = {0, 1, 0};
    for (size_t i = 0;; i++) {
        int in_parent = c->nframes > 0 && c->frames[c->nframes - 1].kind == K_PARENT;
        if (!in_parent && build_text(c, i, &st) < 0)
            return compile_oom(c);
        if (i == c->ntoks)
            return 0;
        const struct tok *t = &c->toks[i];
        if (in_parent && t->kind != K_BLOCK && t->kind != K_CLOSE) {
            if (has_children(t->kind))
                i = t->match;
            continue;
        }
        if (build_tag(c, i, &st) < 0)
            return compile_oom(c);
        if (t->kind != K_COMMENT && t->kind != K_DELIM)
            st.merge = 0;
    }
}

/* Packs nodes, pool and file name into one allocation. */
static struct tpl *tpl_pack(struct compiler *c)
{
    size_t flen = strlen(c->file) + 1;
    size_t size = sizeof(struct tpl) + c->nnodes * sizeof(struct tpl_node) + c->pool.len + flen;
    struct tpl *t = malloc(size);
    if (t == NULL)
        return NULL;
    char *pool = (char *)(t->nodes + c->nnodes);
    if (c->nnodes > 0)
        memcpy(t->nodes, c->nodes, c->nnodes * sizeof(struct tpl_node));
    if (c->pool.len > 0)
        memcpy(pool, c->pool.data, c->pool.len);
    memcpy(pool + c->pool.len, c->file, flen);
    t->pool = pool;
    t->file = pool + c->pool.len;
    t->count = (uint32_t)c->nnodes;
    return t;
}

/* Compiles src. Returns the template (free() releases it), or NULL with
 * *err filled; file names the source in errors. */
static struct tpl *tpl_compile(const char *src, size_t len, const char *file, pb_tpl_error *err)
{
    struct compiler c = {.src = src, .len = len, .file = file, .err = err};
    struct tpl *t = NULL;
    if (len > TPL_MAX_SOURCE)
        compile_fail(&c, 0, "template larger than %zu bytes", TPL_MAX_SOURCE);
    else if (lex(&c) == 0 && mark_standalone(&c) == 0 && build(&c) == 0 &&
             (t = tpl_pack(&c)) == NULL)
        compile_oom(&c);
    free(c.toks);
    free(c.open);
    free(c.segs);
    free(c.nodes);
    free(c.frames);
    pb_buf_free(&c.pool);
    return t;
}

/* ========================================================================
 * Template sets
 * ======================================================================== */

struct tpl_entry {
    char *name;      /* NULL: free slot */
    struct tpl *tpl; /* NULL: the loader said there is no such template */
    uint32_t hash;
};

struct pb_tpl_set {
    struct tpl_entry *slots;
    size_t cap, used; /* cap is 0 or a power of two */
    pb_tpl_loader loader;
    void *loader_ctx;
    size_t max_steps, max_out;
};

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Returns the slot holding name, or the free slot where it belongs. */
static struct tpl_entry *set_slot(const pb_tpl_set *set, const char *name, uint32_t h)
{
    size_t mask = set->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct tpl_entry *e = &set->slots[i];
        if (e->name == NULL || (e->hash == h && strcmp(e->name, name) == 0))
            return e;
    }
}

static struct tpl_entry *set_find(const pb_tpl_set *set, const char *name)
{
    if (set->cap == 0)
        return NULL;
    struct tpl_entry *e = set_slot(set, name, name_hash(name));
    return e->name ? e : NULL;
}

/* Doubles the table. Returns 0 or -1. */
static int set_grow(pb_tpl_set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 16;
    pb_tpl_set old = *set;
    set->slots = calloc(cap, sizeof *set->slots);
    if (set->slots == NULL) {
        set->slots = old.slots;
        return -1;
    }
    set->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].name != NULL)
            *set_slot(set, old.slots[i].name, old.slots[i].hash) = old.slots[i];
    free(old.slots);
    return 0;
}

/* Stores t (NULL: known to be missing) under name, replacing and freeing
 * what was there. Returns 0, or -1 when out of memory (t not taken). */
static int set_put(pb_tpl_set *set, const char *name, struct tpl *t)
{
    if ((set->used + 1) * 2 > set->cap && set_grow(set) < 0)
        return -1;
    uint32_t h = name_hash(name);
    struct tpl_entry *e = set_slot(set, name, h);
    if (e->name != NULL) {
        free(e->tpl);
        e->tpl = t;
        return 0;
    }
    if ((e->name = strdup(name)) == NULL)
        return -1;
    e->tpl = t;
    e->hash = h;
    set->used++;
    return 0;
}

enum resolve {
    RESOLVED = 0,     /* *out is the template, or NULL when there is none */
    RESOLVE_ERR = -1, /* compile error or out of memory: err is filled */
    RESOLVE_IO = -2,  /* the loader failed; *load_errno says why */
};

/* Finds name in the set, else asks the loader and caches its answer (a
 * missing template too, so it is not asked again). */
static int set_resolve(pb_tpl_set *set, const char *name, const struct tpl **out, pb_tpl_error *err,
                       int *load_errno)
{
    const struct tpl_entry *e = set_find(set, name);
    *out = e ? e->tpl : NULL;
    if (e != NULL || set->loader == NULL)
        return RESOLVED;
    char *src = NULL, *file = NULL;
    size_t len = 0;
    errno = 0;
    int rc = set->loader(set->loader_ctx, name, &src, &len, &file);
    *load_errno = errno;
    struct tpl *t = NULL;
    if (rc < 0) {
        free(src);
        free(file);
        return RESOLVE_IO;
    }
    if (rc == 0 && (t = tpl_compile(src, len, file ? file : name, err)) == NULL) {
        free(src);
        free(file);
        return RESOLVE_ERR;
    }
    free(src);
    free(file);
    if (set_put(set, name, t) < 0) {
        free(t);
        error_set(err, name, 0, "out of memory");
        return RESOLVE_ERR;
    }
    *out = t;
    return RESOLVED;
}

/* ========================================================================
 * Values
 * ======================================================================== */

/* The context stack: innermost first, on the C stack of the renderer. */
struct ctx_stack {
    const json_t *value;
    const struct ctx_stack *up;
};

/* Steps into one part of a dotted name: an object member, or an array
 * element when the part is a decimal index ("rows.0"). */
static const json_t *value_child(const json_t *v, const char *part)
{
    if (json_is_object(v))
        return json_object_get(v, part);
    if (!json_is_array(v) || *part == '\0' || strlen(part) > 9)
        return NULL;
    size_t i = 0;
    for (const char *p = part; *p; p++) {
        if (*p < '0' || *p > '9')
            return NULL;
        i = i * 10 + (size_t)(*p - '0');
    }
    return json_array_get(v, i);
}

/* Resolves a name: its first part in the innermost context object that has
 * it, the other parts inside that value only (spec: "Dotted Names - Context
 * Precedence"). Returns NULL when missing. */
static const json_t *value_lookup(const struct ctx_stack *c, const char *name, unsigned nparts)
{
    if (nparts == 0)
        return c->value;
    const json_t *v = NULL;
    for (; c != NULL && v == NULL; c = c->up)
        if (json_is_object(c->value))
            v = json_object_get(c->value, name);
    for (unsigned i = 1; v != NULL && i < nparts; i++) {
        name += strlen(name) + 1;
        v = value_child(v, name);
    }
    return v;
}

/* Truthiness follows JavaScript, like mustache.js: missing, null, false,
 * 0, 0.0, "" and [] are false; everything else, {} included, is true. */
static int value_truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return 1;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_TRUE:
        return 1;
    default:
        return 0;
    }
}

struct dump_ctx {
    pb_buf *out;
    int escape;
};

static int dump_append(const char *buffer, size_t size, void *data)
{
    const struct dump_ctx *d = data;
    return d->escape ? pb_buf_html_escape(d->out, buffer, size)
                     : pb_buf_append(d->out, buffer, size);
}

/* Appends v as text: strings as they are, numbers as JavaScript prints
 * them, true/false, nothing for null or a miss, objects and arrays as
 * compact JSON (handy in data- attributes). Returns 0 or -1. */
static int value_emit(pb_buf *out, const json_t *v, int escape)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return escape ? pb_buf_html_escape_str(out, json_string_value(v), json_string_length(v))
                      : pb_buf_append(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return pb_buf_put_int(out, json_integer_value(v));
    case JSON_REAL:
        return pb_buf_put_real(out, json_real_value(v));
    case JSON_TRUE:
        return pb_buf_puts(out, "true");
    case JSON_FALSE:
        return pb_buf_puts(out, "false");
    case JSON_OBJECT:
    case JSON_ARRAY: {
        struct dump_ctx d = {out, escape};
        return json_dump_callback(v, dump_append, &d, JSON_COMPACT);
    }
    default:
        return 0;
    }
}

/* ========================================================================
 * Renderer
 * ======================================================================== */

/* A {{<parent}} being rendered: its blocks override those of its template. */
struct blk_frame {
    const struct tpl *tpl;
    uint32_t parent; /* index of the parent node in tpl */
    const struct blk_frame *up;
};

/* What a node renders against. The indentation is a window into r->ind. */
struct scope {
    const struct ctx_stack *ctx;
    const struct blk_frame *blocks;
    size_t ind_off, ind_len;
};

struct render {
    pb_tpl_set *set;
    pb_buf *out;
    pb_tpl_error *err;
    int failed; /* err is filled */
    int depth;
    size_t steps_left;
    size_t out_start, out_max;
    pb_buf ind; /* indentation strings of the scopes in use */
};

static int render_fail(struct render *r, const struct tpl *t, const struct tpl_node *n,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fills the error at node n of t, unless an inner failure already did.
 * Returns -1. */
static int render_fail(struct render *r, const struct tpl *t, const struct tpl_node *n,
                       const char *fmt, ...)
{
    if (r->failed)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    error_vset(r->err, t->file, n ? (int)n->line : 0, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return -1;
}

static int render_range(struct render *r, const struct tpl *t, uint32_t first, uint32_t end,
                        const struct scope *sc, int first_bol);

/* Makes inner the scope sc with indentation e added (standalone), or with
 * none (an inline partial: the spec indents only standalone ones). *mark
 * receives what to truncate r->ind to afterwards. Returns 0 or -1. */
static int scope_indent(struct render *r, const struct scope *sc, const struct tpl *t,
                        const struct tpl_node *n, struct scope *inner, size_t *mark)
{
    *inner = *sc;
    *mark = r->ind.len;
    if (!(n->flags & NF_STANDALONE)) {
        inner->ind_len = 0;
        return 0;
    }
    if (n->ind_len == 0)
        return 0;
    if (sc->ind_len == 0 || sc->ind_off + sc->ind_len != r->ind.len) {
        if (pb_buf_reserve(&r->ind, sc->ind_len) < 0)
            return -1;
        if (sc->ind_len > 0)
            memcpy(r->ind.data + r->ind.len, r->ind.data + sc->ind_off, sc->ind_len);
        inner->ind_off = r->ind.len;
        r->ind.len += sc->ind_len;
    }
    inner->ind_len = sc->ind_len + n->ind_len;
    return pb_buf_append(&r->ind, t->pool + n->ind, n->ind_len);
}

static int emit_indent(struct render *r, const struct scope *sc)
{
    return pb_buf_append(r->out, r->ind.data + sc->ind_off, sc->ind_len);
}

/* Appends a text run, indenting each line after the first. */
static int emit_text(struct render *r, const char *s, size_t n, const struct scope *sc)
{
    if (sc->ind_len == 0)
        return pb_buf_append(r->out, s, n);
    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        size_t run = nl ? (size_t)(nl - s) + 1 : n;
        if (pb_buf_append(r->out, s, run) < 0)
            return -1;
        s += run;
        n -= run;
        if (n > 0 && emit_indent(r, sc) < 0)
            return -1;
    }
    return 0;
}

/* Renders nodes first..end of t one level deeper. Returns 0 or -1. */
static int render_nested(struct render *r, const struct tpl *t, uint32_t first, uint32_t end,
                         const struct scope *sc, int first_bol, const struct tpl_node *at,
                         const struct tpl *at_tpl)
{
    if (r->depth >= TPL_MAX_DEPTH)
        return render_fail(r, at_tpl, at,
                           "templates nested more than %d deep (a partial that includes "
                           "itself?)",
                           TPL_MAX_DEPTH);
    r->depth++;
    int rc = render_range(r, t, first, end, sc, first_bol);
    r->depth--;
    return rc;
}

static int render_section(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const struct tpl_node *n = &t->nodes[i];
    const json_t *v = value_lookup(sc->ctx, t->pool + n->off, n->nparts);
    if (n->kind == K_INVERTED)
        return value_truthy(v) ? 0 : render_nested(r, t, i + 1, n->end, sc, -1, n, t);
    if (!value_truthy(v))
        return 0;
    struct ctx_stack top = {v, sc->ctx};
    struct scope inner = *sc;
    inner.ctx = &top;
    if (!json_is_array(v))
        return render_nested(r, t, i + 1, n->end, &inner, -1, n, t);
    for (size_t k = 0; k < json_array_size(v); k++) {
        top.value = json_array_get(v, k);
        if (render_nested(r, t, i + 1, n->end, &inner, -1, n, t) < 0)
            return -1;
    }
    return 0;
}

/* Finds the template a partial or parent node names. Returns 0 with *out
 * set (NULL: none, which renders as nothing) or -1. */
static int render_resolve(struct render *r, const struct tpl *t, const struct tpl_node *n,
                          const struct tpl **out)
{
    int load_errno = 0;
    const char *name = t->pool + n->off;
    int rc = set_resolve(r->set, name, out, r->err, &load_errno);
    if (rc == RESOLVE_ERR)
        r->failed = 1;
    if (rc == RESOLVE_IO)
        render_fail(r, t, n, "cannot load %s " NAME_FMT "%s%s", kind_word(n->kind),
                    NAME_ARG(name, n->len), load_errno ? ": " : "",
                    load_errno ? strerror(load_errno) : "");
    return rc == RESOLVED ? 0 : -1;
}

/* {{>partial}} and {{<parent}}...{{/parent}}: a parent is a partial whose
 * blocks may be overridden by the blocks between its tags. */
static int render_partial(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const struct tpl_node *n = &t->nodes[i];
    const struct tpl *pt;
    if (render_resolve(r, t, n, &pt) < 0)
        return -1;
    if (pt == NULL)
        return 0;
    struct scope inner;
    size_t mark;
    if (scope_indent(r, sc, t, n, &inner, &mark) < 0)
        return -1;
    struct blk_frame frame = {t, i, sc->blocks};
    if (n->kind == K_PARENT)
        inner.blocks = &frame;
    int rc = render_nested(r, pt, 0, pt->count, &inner, -1, n, t);
    r->ind.len = mark;
    return rc;
}

/* Returns the outermost override of block name, searching every parent
 * being rendered; *tpl receives its template. Top-level substitutions win
 * ("Multi-level inheritance"). */
static const struct tpl_node *block_override(const struct blk_frame *f, const char *name,
                                             const struct tpl **tpl)
{
    const struct tpl_node *found = NULL;
    for (; f != NULL; f = f->up) {
        const struct tpl_node *p = &f->tpl->nodes[f->parent];
        for (uint32_t k = f->parent + 1; k < p->end; k = f->tpl->nodes[k].end) {
            const struct tpl_node *b = &f->tpl->nodes[k];
            if (strcmp(f->tpl->pool + b->off, name) == 0) {
                found = b;
                *tpl = f->tpl;
                break;
            }
        }
    }
    return found;
}

/* {{$block}}: its override, else its own content. An override comes from
 * another template: a standalone block indents it by the block's margin and
 * starts it on a fresh line, an inline one inserts it as it is. */
static int render_block(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const struct tpl_node *n = &t->nodes[i];
    const struct tpl *ot = t;
    const struct tpl_node *o = block_override(sc->blocks, t->pool + n->off, &ot);
    int indented = (n->flags & NF_STANDALONE) != 0;
    struct scope inner;
    size_t mark;
    if (indented) {
        if (scope_indent(r, sc, t, n, &inner, &mark) < 0)
            return -1;
    } else {
        inner = *sc;
        mark = r->ind.len;
        if (o != NULL)
            inner.ind_len = 0; /* inserted as it is, like an inline partial */
    }
    int rc;
    if (o != NULL)
        rc = render_nested(r, ot, (uint32_t)(o - ot->nodes) + 1, o->end, &inner, indented, n, t);
    else
        rc = render_nested(r, t, i + 1, n->end, &inner, -1, n, t);
    r->ind.len = mark;
    return rc;
}

static int render_node(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const struct tpl_node *n = &t->nodes[i];
    switch (n->kind) {
    case K_TEXT:
        return emit_text(r, t->pool + n->off, n->len, sc);
    case K_VAR:
    case K_RAW:
        return value_emit(r->out, value_lookup(sc->ctx, t->pool + n->off, n->nparts),
                          n->kind == K_VAR);
    case K_SECTION:
    case K_INVERTED:
        return render_section(r, t, i, sc);
    case K_PARTIAL:
    case K_PARENT:
        return render_partial(r, t, i, sc);
    case K_BLOCK:
        return render_block(r, t, i, sc);
    default:
        return 0;
    }
}

/* Renders nodes first..end of t (siblings; children are skipped over).
 * first_bol, when not -1, overrides whether the first node starts a line.
 * Returns 0, or -1 with the error filled. */
static int render_range(struct render *r, const struct tpl *t, uint32_t first, uint32_t end,
                        const struct scope *sc, int first_bol)
{
    for (uint32_t i = first; i < end;) {
        const struct tpl_node *n = &t->nodes[i];
        int bol = i == first && first_bol >= 0 ? first_bol : n->flags & NF_BOL;
        if (r->steps_left == 0)
            return render_fail(r, t, n, "rendering needs more than %zu steps", r->set->max_steps);
        r->steps_left--;
        if (bol && sc->ind_len > 0 && emit_indent(r, sc) < 0)
            return render_fail(r, t, n, "out of memory");
        if (render_node(r, t, i, sc) < 0)
            return render_fail(r, t, n, "out of memory");
        if (r->out->len - r->out_start > r->out_max)
            return render_fail(r, t, n, "output larger than %zu bytes", r->out_max);
        i = has_children(n->kind) ? n->end : i + 1;
    }
    return 0;
}

/* ========================================================================
 * Public API
 * ======================================================================== */

pb_tpl_set *pb_tpl_set_new(pb_tpl_loader loader, void *loader_ctx)
{
    pb_tpl_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    set->loader = loader;
    set->loader_ctx = loader_ctx;
    set->max_steps = TPL_DEFAULT_MAX_STEPS;
    set->max_out = TPL_DEFAULT_MAX_OUT;
    return set;
}

void pb_tpl_set_free(pb_tpl_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->cap; i++) {
        free(set->slots[i].name);
        free(set->slots[i].tpl);
    }
    free(set->slots);
    free(set);
}

void pb_tpl_set_limits(pb_tpl_set *set, size_t max_steps, size_t max_out)
{
    if (max_steps > 0)
        set->max_steps = max_steps;
    if (max_out > 0)
        set->max_out = max_out;
}

int pb_tpl_set_add(pb_tpl_set *set, const char *name, const char *src, size_t len, const char *file,
                   pb_tpl_error *err)
{
    struct tpl *t = tpl_compile(src, len, file ? file : name, err);
    if (t == NULL)
        return -1;
    if (set_put(set, name, t) < 0) {
        free(t);
        error_set(err, file ? file : name, 0, "out of memory");
        return -1;
    }
    return 0;
}

int pb_tpl_set_has(const pb_tpl_set *set, const char *name)
{
    const struct tpl_entry *e = set_find(set, name);
    return e != NULL && e->tpl != NULL;
}

int pb_tpl_render(pb_tpl_set *set, const char *name, const json_t *data, pb_buf *out,
                  pb_tpl_error *err)
{
    pb_tpl_error spare = {0};
    struct render r = {
        .set = set,
        .out = out,
        .err = err ? err : &spare,
        .steps_left = set->max_steps,
        .out_start = out->len,
        .out_max = set->max_out,
    };
    const struct tpl *t;
    int load_errno = 0;
    int rc = set_resolve(set, name, &t, r.err, &load_errno);
    if (rc == RESOLVE_IO)
        error_set(r.err, name, 0, "cannot load template: %s",
                  load_errno ? strerror(load_errno) : "loader failed");
    else if (rc == RESOLVED && t == NULL)
        error_set(r.err, name, 0, "no template named \"%s\"", name);
    if (rc != RESOLVED || t == NULL)
        return -1;
    struct ctx_stack root = {data, NULL};
    struct scope sc = {&root, NULL, 0, 0};
    rc = render_range(&r, t, 0, t->count, &sc, -1);
    pb_buf_free(&r.ind);
    if (rc < 0 && out->data != NULL) {
        out->len = r.out_start;
        out->data[out->len] = '\0';
    }
    return rc;
}

/* ========================================================================
 * Loading a folder
 * ======================================================================== */

/* Reads a whole file into *src (malloc'd). Returns 0 or -1 with errno. */
static int read_file(const char *path, char **src, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    pb_buf b = PB_BUF_INIT;
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = pb_buf_append(&b, chunk, n);
    if (rc == 0 && ferror(f)) {
        errno = EIO;
        rc = -1;
    }
    fclose(f);
    if (rc == 0 && pb_buf_cstr(&b) == NULL)
        rc = -1;
    if (rc < 0) {
        pb_buf_free(&b);
        return -1;
    }
    *src = b.data;
    *len = b.len;
    return 0;
}

static int skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Compiles path (a *.mustache file) under its name relative to the root
 * folder, which starts at path + rel. Returns 1 (added), 0 or -1. */
static int load_file(pb_tpl_set *set, pb_buf *path, size_t rel, pb_tpl_error *err)
{
    static const char ext[] = ".mustache";
    size_t elen = sizeof ext - 1;
    if (path->len - rel <= elen || strcmp(path->data + path->len - elen, ext) != 0)
        return 0;
    char *src;
    size_t len;
    if (read_file(path->data, &src, &len) < 0) {
        error_set(err, path->data, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    char *name = strndup(path->data + rel, path->len - rel - elen);
    int rc = name ? pb_tpl_set_add(set, name, src, len, path->data, err) : -1;
    if (name == NULL)
        error_set(err, path->data, 0, "out of memory");
    free(name);
    free(src);
    return rc < 0 ? -1 : 1;
}

/* Adds every *.mustache below path (a folder), in name order so a failure is
 * reported the same way each time. Hidden entries are skipped. Returns the
 * number added, or -1. */
static int load_walk(pb_tpl_set *set, pb_buf *path, size_t rel, int depth, pb_tpl_error *err)
{
    struct dirent **list;
    int n = scandir(path->data, &list, skip_hidden, alphasort);
    if (n < 0 || depth > TPL_MAX_DIRS) {
        error_set(err, path->data, 0, "cannot read folder: %s",
                  n < 0 ? strerror(errno) : "nested too deep");
        for (int i = 0; i < n; i++)
            free(list[i]);
        if (n >= 0)
            free(list);
        return -1;
    }
    size_t base = path->len;
    int added = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        int rc = 0;
        path->len = base;
        if (pb_buf_putc(path, '/') < 0 || pb_buf_puts(path, list[i]->d_name) < 0) {
            error_set(err, path->data, 0, "out of memory");
            rc = -1;
        } else if (stat(path->data, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = load_walk(set, path, rel, depth + 1, err);
        } else if (stat(path->data, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = load_file(set, path, rel, err);
        }
        if (rc < 0) {
            added = -1;
            break;
        }
        added += rc;
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    path->len = base;
    path->data[base] = '\0';
    return added;
}

int pb_tpl_set_load_dir(pb_tpl_set *set, const char *dir, pb_tpl_error *err)
{
    pb_buf path = PB_BUF_INIT;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (pb_buf_append(&path, dir, dlen) < 0) {
        error_set(err, dir, 0, "out of memory");
        return -1;
    }
    int rc = load_walk(set, &path, path.len + 1, 0, err);
    pb_buf_free(&path);
    return rc;
}
