/*
 * router.h - method + path pattern to one handler of one module.
 *
 * Patterns are literal segments and :params ("/crm/leads/:id"). Routes are
 * ordered by specificity (a literal segment beats a parameter at the same
 * position), so "/crm/leads/new" wins over "/crm/leads/:id" whatever the
 * order modules declare them in.
 */
#ifndef PB_ROUTER_H
#define PB_ROUTER_H

#include <stddef.h>

#include "plugboard.h"

#define PB_ROUTE_MAX_SEGS   16
#define PB_ROUTE_MAX_PARAMS 8

struct pb_sb_route;

typedef struct pb_route_entry {
    const pb_route *def;
    const char *module; /* the owning module's name */
    void *owner;        /* the owning module record */
    char *storage;      /* owns the text segs point into */
    int nsegs;
    char *segs[PB_ROUTE_MAX_SEGS]; /* literal text, or the param name */
    unsigned params;               /* bit i set: segment i is a :param */
    struct pb_sb_route *slots[5];  /* scoreboard counters per method bit */
    int quarantined;               /* its module crashed too often: 503 */
} pb_route_entry;

typedef struct pb_router {
    pb_route_entry *v;
    size_t n, cap;
} pb_router;

typedef struct pb_match {
    const pb_route_entry *entry;
    unsigned method; /* the pb_method bit matched */
    unsigned allow;  /* on 405: pb_method bits the path answers to */
    int nparams;
    struct {
        const char *name;
        const char *value; /* raw (still percent-encoded) segment */
        size_t len;
    } params[PB_ROUTE_MAX_PARAMS];
} pb_match;

/* Checks that def is well formed and clashes with no route in r.
 * Returns 0, or -1 with the reason in err. */
int pb_router_check(const pb_router *r, const pb_route *def, char *err, size_t errlen);

/* Adds a route checked with pb_router_check. Returns 0, or -1 when out of
 * memory or invalid (err filled). */
int pb_router_add(pb_router *r, const pb_route *def, const char *module, void *owner, char *err,
                  size_t errlen);

/* Orders the table by specificity; call once after the last add. */
void pb_router_finish(pb_router *r);

/* Matches method ("GET", "HEAD", "POST", ...) and a path (no query string).
 * Returns 200 with *m filled, 404 when no pattern matches the path, 405
 * when patterns match but none for this method (m->allow set), or 501 for
 * an unknown method. */
int pb_router_match(const pb_router *r, const char *method, const char *path, pb_match *m);

/* Writes the Allow header value for the bits ("GET, HEAD, POST"). */
void pb_router_allow_string(unsigned allow, char *out, size_t n);

/* Returns the pb_method bit for a method name, or 0 (HEAD maps to GET). */
unsigned pb_method_bit(const char *method);

/* Returns 0..4, the index of a single pb_method bit (for per-method slots). */
int pb_method_index(unsigned bit);

/* Returns the name of a single pb_method bit. */
const char *pb_method_name(unsigned bit);

void pb_router_free(pb_router *r);

#endif
