/*
 * module.h - loading feature modules.
 *
 * Which modules a generation runs is decided by a probe: a child of the
 * master that loads every candidate (dlopen, descriptor, ABI, routes,
 * templates, init) and reports each as accepted or refused with a reason.
 * A module that crashes the probe is refused too, and the probe runs again
 * without it. Workers then load exactly the accepted list, so a bad module
 * costs one log line, never a crashing worker or a half-loaded site.
 */
#ifndef PB_MODULE_H
#define PB_MODULE_H

#include <stddef.h>

#include "config.h"
#include "plugboard.h"
#include "router.h"
#include "template.h"

typedef struct pb_module_rec {
    const pb_module *desc;
    void *handle;
    char *path;
} pb_module_rec;

typedef struct pb_modset {
    pb_module_rec *v;
    size_t n, cap;
    pb_router router;
} pb_modset;

/* A list of module file paths. */
typedef struct pb_pathlist {
    char **v;
    size_t n, cap;
} pb_pathlist;

int pb_pathlist_add(pb_pathlist *l, const char *path);
void pb_pathlist_free(pb_pathlist *l);

/* Lists the module files the config names: *.so in each [modules] path
 * folder, in folder order and by name within one, filtered by [modules]
 * enabled; the first file of a given name wins. Returns 0 or -1 (err). */
int pb_module_candidates(const pb_config *c, pb_pathlist *out, char *err, size_t errlen);

/* Loads one module into ms: dlopen(RTLD_NOW|RTLD_LOCAL), the descriptor,
 * its ABI version, name, dependencies (must already be in ms), routes
 * (well formed, no clash, templates present in tpl), then init(host).
 * Returns 0, 1 when a dependency is not loaded yet (try again after
 * others), or -1 with the reason in err; on failure nothing is kept. */
int pb_module_load(pb_modset *ms, const char *path, const pb_host *host, pb_tpl_set *tpl, char *err,
                   size_t errlen);

enum pb_load_event { PB_LOAD_TRY, PB_LOAD_OK, PB_LOAD_REFUSED };

typedef void (*pb_load_report)(void *ctx, const char *path, int event, const char *reason);

/* Loads every path of the list, retrying those whose dependencies come
 * later. report() hears PB_LOAD_TRY before each attempt that runs module
 * code, then PB_LOAD_OK or PB_LOAD_REFUSED with the reason. Then orders
 * the routes. */
void pb_module_load_all(pb_modset *ms, const pb_pathlist *paths, const pb_host *host,
                        pb_tpl_set *tpl, pb_load_report report, void *ctx);

/* Returns the loaded module of that name, or NULL. */
const pb_module_rec *pb_modset_find(const pb_modset *ms, const char *name);

/* Calls every module's fini and unloads it. */
void pb_modset_free(pb_modset *ms);

/* Loads the templates of every [templates] path folder into a new set.
 * Returns it, or NULL with "file:line: message" in err. */
pb_tpl_set *pb_templates_load(const pb_config *c, char *err, size_t errlen);

/* Runs the probe in a child process and fills plan with the accepted
 * module paths. Logs one line per refused module. Returns 0, or -1 when
 * the probe itself could not run or the templates do not compile (err). */
/* skip (may be NULL) lists paths not to load at all (refused before and
 * unchanged); refusals (may be NULL) receives "path<TAB>reason" for each
 * module refused. */
int pb_probe(const pb_config *c, const pb_host *host, const pb_pathlist *skip, pb_pathlist *plan,
             pb_pathlist *refusals, char *err, size_t errlen);

/* Returns 1 when name is listed in [modules] state_file (disabled at run
 * time). */
int pb_module_disabled(const pb_config *c, const char *name);

#endif
