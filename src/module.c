/*
 * module.c - loading feature modules, and the probe that vets them.
 */
#include "module.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "migrate.h"

/* ---------------------------------------------------------------------
 * Path lists
 * --------------------------------------------------------------------- */

int pb_pathlist_add(pb_pathlist *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(path)) == NULL)
        return -1;
    l->n++;
    return 0;
}

void pb_pathlist_free(pb_pathlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The module name of a path: its base name without ".so". */
static void module_name_of(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0)
        len -= 3;
    snprintf(out, n, "%.*s", (int)len, base);
}

typedef struct word_match {
    const char *name;
    int found;
} word_match;

static int match_word(const char *w, size_t n, void *vctx)
{
    word_match *m = vctx;
    if (strlen(m->name) == n && memcmp(w, m->name, n) == 0)
        m->found = 1;
    return m->found;
}

int pb_module_disabled(const pb_config *c, const char *name)
{
    FILE *f = c->modules_state[0] ? fopen(c->modules_state, "r") : NULL;
    char line[256];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        found = strcmp(line, name) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

static int enabled(const pb_config *c, const char *name)
{
    if (pb_module_disabled(c, name))
        return 0;
    if (strcmp(c->modules_enabled, "*") == 0)
        return 1;
    word_match m = {name, 0};
    pb_config_each_word(c->modules_enabled, match_word, &m);
    return m.found;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct cand_ctx {
    const pb_config *c;
    pb_pathlist *out;
    char *err;
    size_t errlen;
} cand_ctx;

static int already_listed(const pb_pathlist *l, const char *name)
{
    char other[256];
    for (size_t i = 0; i < l->n; i++) {
        module_name_of(l->v[i], other, sizeof other);
        if (strcmp(other, name) == 0)
            return 1;
    }
    return 0;
}

static int scan_module_dir(const char *w, size_t n, void *vctx)
{
    cand_ctx *ctx = vctx;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)n, w);
    DIR *d = opendir(dir);
    if (d == NULL) {
        pb_log(PB_LOG_WARN, "module folder %s: %s", dir, strerror(errno));
        return 0;
    }
    pb_pathlist found = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0)
            pb_pathlist_add(&found, de->d_name);
    }
    closedir(d);
    qsort(found.v, found.n, sizeof *found.v, cmp_str);
    for (size_t i = 0; i < found.n; i++) {
        char name[256], path[4400];
        module_name_of(found.v[i], name, sizeof name);
        if (!enabled(ctx->c, name) || already_listed(ctx->out, name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, found.v[i]);
        pb_pathlist_add(ctx->out, path);
    }
    pb_pathlist_free(&found);
    return 0;
}

int pb_module_candidates(const pb_config *c, pb_pathlist *out, char *err, size_t errlen)
{
    cand_ctx ctx = {c, out, err, errlen};
    return pb_config_each_word(c->module_path, scan_module_dir, &ctx);
}

/* ---------------------------------------------------------------------
 * Loading one module
 * --------------------------------------------------------------------- */

const pb_module_rec *pb_modset_find(const pb_modset *ms, const char *name)
{
    for (size_t i = 0; i < ms->n; i++)
        if (strcmp(ms->v[i].desc->name, name) == 0)
            return &ms->v[i];
    return NULL;
}

static int name_ok(const char *s)
{
    if (s == NULL || !(*s >= 'a' && *s <= 'z') || strlen(s) >= 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Checks the descriptor without running any of the module's code. */
static int check_descriptor(const pb_modset *ms, const pb_module *m, const char *path,
                            pb_tpl_set *tpl, char *err, size_t errlen)
{
    char file_name[256];
    module_name_of(path, file_name, sizeof file_name);
    if (m->abi_version != PB_ABI_VERSION) {
        snprintf(err, errlen, "built for module ABI %u, this host speaks ABI %d", m->abi_version,
                 PB_ABI_VERSION);
        return -1;
    }
    if (!name_ok(m->name) || strcmp(m->name, file_name) != 0) {
        snprintf(err, errlen, "descriptor name \"%s\" must be [a-z][a-z0-9_]* and match the file",
                 m->name ? m->name : "(null)");
        return -1;
    }
    if (pb_modset_find(ms, m->name)) {
        snprintf(err, errlen, "a module named %s is already loaded", m->name);
        return -1;
    }
    for (const char *const *d = m->depends; d && *d; d++)
        if (pb_modset_find(ms, *d) == NULL)
            return 1;
    /* Routes are checked against each other too: add to a scratch router. */
    pb_router scratch = {0};
    int rc = 0;
    for (const pb_route *r = m->routes; rc == 0 && r && r->pattern; r++) {
        if (pb_router_check(&ms->router, r, err, errlen) < 0 ||
            pb_router_add(&scratch, r, m->name, NULL, err, errlen) < 0)
            rc = -1;
        else if (r->template && !(r->flags & PB_JSON_ONLY) && !pb_tpl_set_has(tpl, r->template)) {
            snprintf(err, errlen, "route %s: template \"%s\" not found", r->pattern, r->template);
            rc = -1;
        } else if (!r->template && !(r->flags & PB_JSON_ONLY)) {
            snprintf(err, errlen, "route %s names no template and is not PB_JSON_ONLY", r->pattern);
            rc = -1;
        }
    }
    pb_router_free(&scratch);
    return rc;
}

static int add_record(pb_modset *ms, const pb_module *m, void *handle, const char *path)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 8;
        pb_module_rec *v = realloc(ms->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        ms->v = v;
        ms->cap = cap;
    }
    pb_module_rec *rec = &ms->v[ms->n];
    rec->path = strdup(path);
    if (rec->path == NULL)
        return -1;
    rec->desc = m;
    rec->handle = handle;
    ms->n++;
    return 0;
}

int pb_module_load(pb_modset *ms, const char *path, const pb_host *host, pb_tpl_set *tpl, char *err,
                   size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, errlen, "dlopen failed: %s", dlerror());
        return -1;
    }
    const pb_module *m = dlsym(h, PB_MODULE_SYMBOL);
    if (m == NULL) {
        snprintf(err, errlen, "no %s symbol: not a Plugboard module", PB_MODULE_SYMBOL);
        dlclose(h);
        return -1;
    }
    int rc = check_descriptor(ms, m, path, tpl, err, errlen);
    if (rc != 0) {
        dlclose(h);
        return rc;
    }
    char why[256] = "";
    if (m->init && m->init(host, why, sizeof why) != 0) {
        snprintf(err, errlen, "init failed: %s", why[0] ? why : "(no reason given)");
        dlclose(h);
        return -1;
    }
    if (add_record(ms, m, h, path) < 0) {
        snprintf(err, errlen, "out of memory");
        if (m->fini)
            m->fini();
        dlclose(h);
        return -1;
    }
    for (const pb_route *r = m->routes; r && r->pattern; r++)
        if (pb_router_add(&ms->router, r, m->name, &ms->v[ms->n - 1], err, errlen) < 0)
            return -1; /* checked above: only out of memory gets here */
    return 0;
}

void pb_module_load_all(pb_modset *ms, const pb_pathlist *paths, const pb_host *host,
                        pb_tpl_set *tpl, pb_load_report report, void *ctx)
{
    char *done = calloc(paths->n ? paths->n : 1, 1);
    if (done == NULL)
        return;
    /* Retry modules whose dependencies load later, until a pass adds none. */
    for (int progress = 1; progress;) {
        progress = 0;
        for (size_t i = 0; i < paths->n; i++) {
            if (done[i])
                continue;
            char err[512];
            report(ctx, paths->v[i], PB_LOAD_TRY, NULL);
            int rc = pb_module_load(ms, paths->v[i], host, tpl, err, sizeof err);
            if (rc == 1)
                continue;
            done[i] = 1;
            progress = 1;
            report(ctx, paths->v[i], rc == 0 ? PB_LOAD_OK : PB_LOAD_REFUSED, rc ? err : NULL);
        }
    }
    for (size_t i = 0; i < paths->n; i++)
        if (!done[i])
            report(ctx, paths->v[i], PB_LOAD_REFUSED, "depends on a module that is not loaded");
    free(done);
    pb_router_finish(&ms->router);
}

void pb_modset_free(pb_modset *ms)
{
    for (size_t i = ms->n; i-- > 0;) {
        if (ms->v[i].desc->fini)
            ms->v[i].desc->fini();
        dlclose(ms->v[i].handle);
        free(ms->v[i].path);
    }
    pb_router_free(&ms->router);
    free(ms->v);
    memset(ms, 0, sizeof *ms);
}

/* ---------------------------------------------------------------------
 * Templates
 * --------------------------------------------------------------------- */

typedef struct tpl_ctx {
    pb_tpl_set *set;
    char *err;
    size_t errlen;
} tpl_ctx;

static int load_template_dir(const char *w, size_t n, void *vctx)
{
    tpl_ctx *ctx = vctx;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)n, w);
    pb_tpl_error te = {0};
    if (pb_tpl_set_load_dir(ctx->set, dir, &te) < 0) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: %s", te.file[0] ? te.file : dir, te.line, te.msg);
        return -1;
    }
    return 0;
}

pb_tpl_set *pb_templates_load(const pb_config *c, char *err, size_t errlen)
{
    pb_tpl_set *set = pb_tpl_set_new(NULL, NULL);
    if (set == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tpl_ctx ctx = {set, err, errlen};
    if (pb_config_each_word(c->template_path, load_template_dir, &ctx) != 0) {
        pb_tpl_set_free(set);
        return NULL;
    }
    return set;
}

/* ---------------------------------------------------------------------
 * The probe
 *
 * The child writes one line per event to a pipe:
 *   "try PATH" before loading, then "ok PATH" or "no PATH" (it has logged
 *   the reason itself). If it dies in between, the master knows which
 *   module killed it.
 * --------------------------------------------------------------------- */

typedef struct probe_ctx {
    FILE *out;
} probe_ctx;

static void probe_report(void *vctx, const char *path, int event, const char *reason)
{
    probe_ctx *ctx = vctx;
    char name[256];
    module_name_of(path, name, sizeof name);
    if (event == PB_LOAD_REFUSED)
        pb_log(PB_LOG_ERROR, "module %s refused (%s): %s", name, path, reason);
    static const char *const words[] = {"try", "ok", "no"};
    char why[400] = "";
    if (event == PB_LOAD_REFUSED) { /* one line: the reason after a tab */
        snprintf(why, sizeof why, "\t%s", reason);
        for (char *p = why + 1; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
    }
    fprintf(ctx->out, "%s %s%s\n", words[event], path, why);
    fflush(ctx->out);
}

/* Loads in the order given, announcing each attempt, so a crash names its
 * module. */
static void probe_child(const pb_config *c, const pb_host *host, const pb_pathlist *cand, int fd)
{
    pb_log_role("probe");
    FILE *out = fdopen(fd, "w");
    if (out == NULL)
        _exit(3);
    char err[512];
    pb_tpl_set *tpl = pb_templates_load(c, err, sizeof err);
    if (tpl == NULL) {
        fprintf(out, "tpl %s\n", err);
        fflush(out);
        _exit(2);
    }
    pb_modset ms = {0};
    probe_ctx ctx = {out};
    pb_module_load_all(&ms, cand, host, tpl, probe_report, &ctx);
    /* The probe sees every accepted descriptor once per start: the place
     * to record the permissions roles can be granted. */
    char err2[512];
    if (pb_permissions_register(c, &ms, err2, sizeof err2) < 0)
        pb_log(PB_LOG_WARN, "module permissions not recorded: %s", err2);
    pb_modset_free(&ms);
    pb_tpl_set_free(tpl);
    fclose(out);
    _exit(0);
}

static void strip_nl(char *s)
{
    s[strcspn(s, "\n")] = '\0';
}

static void add_refusal(pb_pathlist *l, const char *path, const char *reason)
{
    char *e = NULL;
    if (asprintf(&e, "%s\t%s", path, reason) >= 0) {
        pb_pathlist_add(l, e);
        free(e);
    }
}

/* Runs one probe over cand. Fills plan and marks refused[i] for each
 * module refused (and already logged); on a crash sets *culprit to the
 * index of the module being loaded. Returns 0, 1 after a crash, -1 on a
 * fatal error (err). */
static int probe_once(const pb_config *c, const pb_host *host, const pb_pathlist *cand,
                      pb_pathlist *plan, pb_pathlist *refusals, char *refused, long *culprit,
                      char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(c, host, cand, fds[1]);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[4600];
    int fatal = 0;
    long trying = -1; /* the candidate being loaded, if any */
    while (in && fgets(line, sizeof line, in)) {
        strip_nl(line);
        if (strncmp(line, "tpl ", 4) == 0) {
            snprintf(err, errlen, "template error: %s", line + 4);
            fatal = 1;
            continue;
        }
        char *reason = strchr(line, '\t');
        if (reason)
            *reason++ = '\0';
        for (size_t i = 0; i < cand->n && strlen(line) > 3; i++) {
            if (strcmp(line + (line[0] == 't' ? 4 : 3), cand->v[i]) != 0)
                continue;
            if (strncmp(line, "try ", 4) == 0)
                trying = (long)i;
            else
                trying = -1;
            if (strncmp(line, "ok ", 3) == 0)
                pb_pathlist_add(plan, cand->v[i]);
            if (strncmp(line, "no ", 3) == 0) {
                refused[i] = 1;
                if (refusals)
                    add_refusal(refusals, cand->v[i], reason ? reason : "refused");
            }
        }
    }
    if (in)
        fclose(in);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = fatal ? -1 : 0;
    if (!fatal && WIFSIGNALED(status)) {
        /* Loading is sequential: the module being tried when it died is
         * the one that killed it. */
        *culprit = trying;
        rc = trying >= 0 ? 1 : -1;
        if (rc < 0)
            snprintf(err, errlen, "the probe died of signal %d", WTERMSIG(status));
    } else if (!fatal && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        snprintf(err, errlen, "the probe exited with status %d", WEXITSTATUS(status));
        rc = -1;
    }
    return rc;
}

int pb_probe(const pb_config *c, const pb_host *host, const pb_pathlist *skip, pb_pathlist *plan,
             pb_pathlist *refusals, char *err, size_t errlen)
{
    pb_pathlist cand = {0};
    if (pb_module_candidates(c, &cand, err, errlen) < 0)
        return -1;
    size_t left = 0;
    for (size_t i = 0; i < cand.n; i++) {
        bool skipped = false;
        for (size_t k = 0; skip && k < skip->n && !skipped; k++)
            skipped = strcmp(skip->v[k], cand.v[i]) == 0;
        if (skipped)
            free(cand.v[i]);
        else
            cand.v[left++] = cand.v[i];
    }
    cand.n = left;
    for (;;) {
        long culprit = -1;
        char *refused = calloc(cand.n + 1, 1);
        pb_pathlist_free(plan);
        int rc = refused
                     ? probe_once(c, host, &cand, plan, refusals, refused, &culprit, err, errlen)
                     : -1;
        if (rc <= 0) {
            free(refused);
            pb_pathlist_free(&cand);
            return rc;
        }
        char name[256];
        module_name_of(cand.v[culprit], name, sizeof name);
        pb_log(PB_LOG_ERROR, "module %s refused (%s): crashed while loading", name,
               cand.v[culprit]);
        if (refusals)
            add_refusal(refusals, cand.v[culprit], "crashed while loading");
        /* Probe again without the culprit, and without the modules already
         * refused (and logged): each bad module costs one log line. */
        refused[culprit] = 1;
        size_t kept = 0;
        for (size_t i = 0; i < cand.n; i++) {
            if (refused[i])
                free(cand.v[i]);
            else
                cand.v[kept++] = cand.v[i];
        }
        cand.n = kept;
        free(refused);
    }
}
