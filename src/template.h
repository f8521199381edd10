/*
 * template.h - the Mustache engine.
 *
 * Templates are compiled once (per worker) into a set and rendered many times
 * against a jansson value. HTML escaping is the default ({{x}}); {{{x}}} and
 * {{& x}} emit raw text. Partials ({{> name}}) and template inheritance
 * ({{< parent}} with {{$block}}) resolve names in the set first and then
 * through the set's loader, if it has one. Lambdas are not supported.
 */
#ifndef PB_TEMPLATE_H
#define PB_TEMPLATE_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"

typedef struct pb_tpl_set pb_tpl_set;

/* Where and why a template failed to compile or render. */
typedef struct pb_tpl_error {
    char file[256]; /* the template's file name, or its name when it has none */
    int line;       /* 1-based; 0 when not tied to a line */
    char msg[256];
} pb_tpl_error;

/* Finds the source of a template the set does not hold yet.
 * On success returns 0 and sets *src (malloc'd, the set takes ownership),
 * *len and *file (malloc'd or NULL). Returns 1 when there is no such
 * template (a missing partial renders as nothing, as the spec requires),
 * or -1 on an I/O error. */
typedef int (*pb_tpl_loader)(void *ctx, const char *name, char **src, size_t *len, char **file);

/* Returns a new empty set, or NULL when out of memory. loader may be NULL. */
pb_tpl_set *pb_tpl_set_new(pb_tpl_loader loader, void *loader_ctx);

/* Releases the set and every template in it. NULL is allowed. */
void pb_tpl_set_free(pb_tpl_set *set);

/* Compiles src under name (replacing any template of that name).
 * file names the source in error messages (may be NULL).
 * Returns 0, or -1 with *err filled. */
int pb_tpl_set_add(pb_tpl_set *set, const char *name, const char *src, size_t len, const char *file,
                   pb_tpl_error *err);

/* Compiles every *.mustache file below dir; a file dir/a/b.mustache gets
 * the name "a/b". Returns the number of templates added, or -1 with *err
 * filled at the first file that fails. */
int pb_tpl_set_load_dir(pb_tpl_set *set, const char *dir, pb_tpl_error *err);

/* Caps the work of each later pb_tpl_render on this set: at most max_steps
 * template nodes visited and max_out bytes appended; 0 keeps a limit as it
 * is. A template that explodes through data (nested loops over big lists)
 * then fails with an error instead of holding the worker until it is
 * killed. The defaults (50 million steps, 64 MiB) are far above any page. */
void pb_tpl_set_limits(pb_tpl_set *set, size_t max_steps, size_t max_out);

/* Returns 1 when the set holds a template of that name, else 0. */
int pb_tpl_set_has(const pb_tpl_set *set, const char *name);

/* Renders template name with data as the root context, appending to out.
 * Returns 0, or -1 with *err filled (unknown template, out of memory,
 * nesting too deep, a work limit exceeded); out is then left as it was.
 * err may be NULL. */
int pb_tpl_render(pb_tpl_set *set, const char *name, const json_t *data, pb_buf *out,
                  pb_tpl_error *err);

/* The `plugboard render [--partials DIR] TEMPLATE-FILE [DATA.json]` command.
 * argv[0] is "render". Writes the output to stdout; returns the exit code. */
int pb_tpl_cli(int argc, char **argv);

#endif
