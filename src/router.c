/*
 * router.c - pattern routing.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", PB_GET}, {"POST", PB_POST}, {"PUT", PB_PUT}, {"PATCH", PB_PATCH}, {"DELETE", PB_DELETE},
};

unsigned pb_method_bit(const char *method)
{
    if (strcmp(method, "HEAD") == 0)
        return PB_GET;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

const char *pb_method_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].bit == bit)
            return methods[i].name;
    return "?";
}

int pb_method_index(unsigned bit)
{
    for (int i = 0; i < 5; i++)
        if (methods[i].bit == bit)
            return i;
    return 0;
}

void pb_router_allow_string(unsigned allow, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(allow & methods[i].bit))
            continue;
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? ", " : "",
                                methods[i].name);
        if (methods[i].bit == PB_GET)
            len += (size_t)snprintf(out + len, len < n ? n - len : 0, ", HEAD");
    }
}

/* ---------------------------------------------------------------------
 * Patterns
 * --------------------------------------------------------------------- */

/* RFC 3986 §3.3 pchar, minus '%' and ':' and sub-delims we never want in a
 * literal pattern segment: keeps patterns plain. */
static int literal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int param_name_ok(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Splits a pattern into segments; fills segs (pointers into a copy kept
 * in *storage) and the param mask. Returns the count, or -1 with err. */
static int parse_pattern(const char *pattern, char **storage, char **segs, unsigned *params,
                         char *err, size_t errlen)
{
    if (pattern == NULL || pattern[0] != '/') {
        snprintf(err, errlen, "route pattern \"%s\" must start with /", pattern ? pattern : "");
        return -1;
    }
    *params = 0;
    *storage = strdup(pattern);
    if (*storage == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = 0;
    char *p = *storage + 1;
    if (*p == '\0')
        return 0; /* "/" */
    for (;;) {
        char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || n == PB_ROUTE_MAX_SEGS) {
            snprintf(err, errlen, "route pattern \"%s\": %s", pattern,
                     len == 0 ? "empty segment (// or a trailing /)" : "too many segments");
            goto fail;
        }
        if (slash)
            *slash = '\0';
        if (p[0] == ':') {
            if (!param_name_ok(p + 1, len - 1)) {
                snprintf(err, errlen, "route pattern \"%s\": bad parameter name \"%s\"", pattern,
                         p);
                goto fail;
            }
            *params |= 1u << n;
            segs[n++] = p + 1;
        } else {
            for (size_t i = 0; i < len; i++)
                if (!literal_char(p[i])) {
                    snprintf(err, errlen, "route pattern \"%s\": character '%c' not allowed",
                             pattern, p[i]);
                    goto fail;
                }
            segs[n++] = p;
        }
        if (!slash)
            return n;
        p = slash + 1;
    }
fail:
    free(*storage);
    *storage = NULL;
    return -1;
}

static int count_params(unsigned mask)
{
    return __builtin_popcount(mask);
}

/* Two patterns clash when they have the same shape: the same literals at
 * the same places and parameters at the same places. */
static int same_shape(const pb_route_entry *e, int n, char **segs, unsigned params)
{
    if (e->nsegs != n || e->params != params)
        return 0;
    for (int i = 0; i < n; i++)
        if (!(params & (1u << i)) && strcmp(e->segs[i], segs[i]) != 0)
            return 0;
    return 1;
}

int pb_router_check(const pb_router *r, const pb_route *def, char *err, size_t errlen)
{
    if (def->handler == NULL) {
        snprintf(err, errlen, "route \"%s\" has no handler", def->pattern);
        return -1;
    }
    unsigned all = PB_GET | PB_POST | PB_PUT | PB_PATCH | PB_DELETE;
    if (def->methods == 0 || (def->methods & ~all)) {
        snprintf(err, errlen, "route \"%s\" has no valid method", def->pattern);
        return -1;
    }
    if (def->permission == NULL && !(def->flags & PB_PUBLIC)) {
        snprintf(err, errlen,
                 "route %s declares no permission and is not marked PB_PUBLIC (deny by default)",
                 def->pattern);
        return -1;
    }
    char *storage, *segs[PB_ROUTE_MAX_SEGS];
    unsigned params;
    int n = parse_pattern(def->pattern, &storage, segs, &params, err, errlen);
    if (n < 0)
        return -1;
    if (count_params(params) > PB_ROUTE_MAX_PARAMS) {
        snprintf(err, errlen, "route pattern \"%s\": more than %d parameters", def->pattern,
                 PB_ROUTE_MAX_PARAMS);
        free(storage);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        const pb_route_entry *e = &r->v[i];
        unsigned both = e->def->methods & def->methods;
        if (both && same_shape(e, n, segs, params)) {
            char allow[64];
            pb_router_allow_string(both, allow, sizeof allow);
            snprintf(err, errlen, "route %s %s clashes with %s %s of module %s", allow,
                     def->pattern, allow, e->def->pattern, e->module);
            free(storage);
            return -1;
        }
    }
    free(storage);
    return 0;
}

int pb_router_add(pb_router *r, const pb_route *def, const char *module, void *owner, char *err,
                  size_t errlen)
{
    if (pb_router_check(r, def, err, errlen) < 0)
        return -1;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        pb_route_entry *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r->v = v;
        r->cap = cap;
    }
    pb_route_entry *e = &r->v[r->n];
    memset(e, 0, sizeof *e);
    e->nsegs = parse_pattern(def->pattern, &e->storage, e->segs, &e->params, err, errlen);
    if (e->nsegs < 0)
        return -1;
    e->def = def;
    e->module = module;
    e->owner = owner;
    r->n++;
    return 0;
}

/* Literal segments sort before parameters, position by position; then
 * longer patterns first. */
static int by_specificity(const void *a, const void *b)
{
    const pb_route_entry *x = a, *y = b;
    int n = x->nsegs < y->nsegs ? x->nsegs : y->nsegs;
    for (int i = 0; i < n; i++) {
        int px = !!(x->params & (1u << i)), py = !!(y->params & (1u << i));
        if (px != py)
            return px - py;
    }
    return y->nsegs - x->nsegs;
}

void pb_router_finish(pb_router *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, by_specificity);
}

/* ---------------------------------------------------------------------
 * Matching
 * --------------------------------------------------------------------- */

typedef struct path_segs {
    int n;
    const char *s[PB_ROUTE_MAX_SEGS];
    size_t len[PB_ROUTE_MAX_SEGS];
} path_segs;

/* Splits a request path. Returns 0, or -1 when it cannot match any route
 * (too many segments, an empty segment, or not starting with /). */
static int split_path(const char *path, path_segs *ps)
{
    ps->n = 0;
    if (path[0] != '/')
        return -1;
    const char *p = path + 1;
    if (*p == '\0')
        return 0;
    for (;;) {
        if (ps->n == PB_ROUTE_MAX_SEGS)
            return -1;
        size_t len = strcspn(p, "/");
        if (len == 0)
            return -1;
        ps->s[ps->n] = p;
        ps->len[ps->n++] = len;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

static int entry_matches(const pb_route_entry *e, const path_segs *ps)
{
    if (e->nsegs != ps->n)
        return 0;
    for (int i = 0; i < ps->n; i++) {
        if (e->params & (1u << i))
            continue;
        if (strlen(e->segs[i]) != ps->len[i] || memcmp(e->segs[i], ps->s[i], ps->len[i]) != 0)
            return 0;
    }
    return 1;
}

int pb_router_match(const pb_router *r, const char *method, const char *path, pb_match *m)
{
    memset(m, 0, sizeof *m);
    unsigned bit = pb_method_bit(method);
    path_segs ps;
    if (split_path(path, &ps) < 0)
        return 404;
    for (size_t i = 0; i < r->n; i++) {
        const pb_route_entry *e = &r->v[i];
        if (!entry_matches(e, &ps))
            continue;
        if (!(e->def->methods & bit)) {
            m->allow |= e->def->methods;
            continue;
        }
        m->entry = e;
        m->method = bit;
        for (int s = 0; s < ps.n; s++) {
            if (!(e->params & (1u << s)))
                continue;
            m->params[m->nparams].name = e->segs[s];
            m->params[m->nparams].value = ps.s[s];
            m->params[m->nparams].len = ps.len[s];
            m->nparams++;
        }
        return 200;
    }
    if (m->allow)
        return bit ? 405 : 501;
    return 404;
}

void pb_router_free(pb_router *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].storage);
    free(r->v);
    memset(r, 0, sizeof *r);
}
