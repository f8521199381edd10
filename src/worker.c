/*
 * worker.c - a worker process: accept, serve one request, repeat.
 *
 * Single-threaded, one request at a time. The listening socket is shared by
 * every worker and is non-blocking: a worker waits in epoll_pwait() (with
 * SIGTERM and SIGQUIT unblocked only there, so a signal can never be lost
 * between the check and the wait), then accepts. EPOLLEXCLUSIVE wakes one
 * idle worker per connection instead of all of them; losing a race to
 * another worker just means waiting again.
 *
 * epoll_pwait() returns ready events without delivering a pending signal,
 * so under continuous traffic the signal would wait forever: before every
 * accept, a pending SIGTERM or SIGQUIT is also taken with sigtimedwait().
 *
 * SIGTERM (shutdown): keep accepting until the backlog is empty, then exit;
 * the master has already unlinked the socket, so no new connection comes.
 * SIGQUIT (replacement by a new generation): finish the current request
 * and exit without accepting more.
 */
#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "hostapi.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "request.h"
#include "response.h"

static volatile sig_atomic_t got_term, got_quit;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static void on_quit(int sig)
{
    (void)sig;
    got_quit = 1;
}

/* ---------------------------------------------------------------------
 * Start-up
 * --------------------------------------------------------------------- */

static void load_report(void *ctx, const char *path, int event, const char *reason)
{
    (void)ctx;
    if (event == PB_LOAD_REFUSED) /* the probe accepted it: this is news */
        pb_log(PB_LOG_ERROR, "module %s failed to load in a worker: %s", path, reason);
}

static int by_order(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return (int)(json_integer_value(json_object_get(x, "order")) -
                 json_integer_value(json_object_get(y, "order")));
}

/* Collects every module's navigation entries, sorted by their order. */
static json_t *collect_nav(const pb_modset *ms)
{
    json_t *items[256];
    size_t n = 0;
    for (size_t i = 0; i < ms->n; i++)
        for (const pb_nav *nv = ms->v[i].desc->nav; nv && nv->label && n < 256; nv++)
            items[n++] = json_pack("{s:s, s:s, s:i, s:s?}", "label", nv->label, "href", nv->href,
                                   "order", nv->order, "permission", nv->permission);
    if (n > 1)
        qsort(items, n, sizeof *items, by_order);
    json_t *nav = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(nav, items[i]);
    return nav;
}

/* The entries that need no permission (shared with the full list). */
static json_t *public_nav(json_t *all)
{
    json_t *pub = json_array(), *item;
    size_t i;
    json_array_foreach(all, i, item)
    {
        if (json_string_value(json_object_get(item, "permission")) == NULL)
            json_array_append(pub, item);
    }
    return pub;
}

static void worker_init(pb_worker *w, const pb_pathlist *plan)
{
    char err[512];
    w->tpl = pb_templates_load(w->cfg, err, sizeof err);
    if (w->tpl == NULL) {
        pb_log(PB_LOG_ERROR, "templates: %s", err);
        exit(1);
    }
    pb_module_load_all(&w->modules, plan, pb_hostapi(), w->tpl, load_report, NULL);
    w->modules_json = pb_metrics_modules(&w->modules);
    w->nav_all = collect_nav(&w->modules);
    w->nav_public = public_nav(w->nav_all);
    w->site = json_pack("{s:s, s:O, s:s, s:b}", "name", "Plugboard", "nav", w->nav_all, "path", "/",
                        "auth", pb_modset_find(&w->modules, "auth") != NULL);
    pb_db_init(&w->db, w->cfg->conninfo, w->cfg->statement_timeout);
    pb_kv_init(&w->kv, w->cfg->redis_socket, w->cfg->redis_host, (int)w->cfg->redis_port,
               (int)w->cfg->redis_timeout);
    w->unrouted = pb_sb_route_slot(w->sb, "(no route)", "-");
}

/* ---------------------------------------------------------------------
 * Serving one request
 * --------------------------------------------------------------------- */

/* Adds a route parameter, percent-decoded. Returns 0, or -1 when the
 * segment is malformed. */
static int add_route_param(pb_worker *w, pb_params *p, const char *name, const char *s, size_t n)
{
    pb_buf *tmp = &w->out; /* free until the response is written */
    if (pb_path_segment_decode(s, n, tmp) < 0)
        return -1;
    return pb_params_add(p, name, strlen(name), tmp->data, tmp->len);
}

/* Marks the worker busy on the scoreboard so the master can name the
 * route if the request crashes or hangs. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void mark_busy(pb_worker *w, const char *route, const char *module)
{
    copy_field(w->slot->route, sizeof w->slot->route, route);
    copy_field(w->slot->module, sizeof w->slot->module, module);
}

/* Answers with status and a message the user can act on. */
static int refuse(pb_req *req, int status, const char *message)
{
    json_object_set_new(req->model, "message", json_string(message));
    if (status == 503) /* an outage: worth retrying soon (RFC 9110 §10.2.3) */
        pb_buf_puts(req->headers, "Retry-After: 2\r\n");
    return status;
}

/* The effective permissions of a user in a team, read from the database
 * (within the request's transaction and context), as a Redis set with the
 * marker "-" that says the set was built. Returns 0 or -1. */
static int build_permissions(pb_req *req, const char *key, const char *uid, const char *tid)
{
    /* An operator also holds the installation's permissions (for the
     * navigation; the guard asks the database itself for those routes). */
    static const char sql[] =
        "SELECT permission, max(level) OVER () AS level FROM ("
        "SELECT rp.permission, ro.level FROM core.user_roles ur "
        "JOIN core.roles ro ON ro.id = ur.role_id "
        "JOIN core.memberships m ON m.team_id = ur.team_id AND m.user_id = ur.user_id "
        "LEFT JOIN core.role_permissions rp ON rp.role_id = ur.role_id "
        "WHERE ur.user_id = $1 AND ur.team_id = $2 AND m.status = 'active' "
        "UNION ALL SELECT p.name, NULL FROM core.permissions p "
        "WHERE p.name LIKE '" PB_INSTALLATION_RESOURCE "%' AND core.is_operator()) s";
    const char *params[] = {uid, tid};
    json_t *rows = NULL;
    char err[512];
    if (tid == NULL || tid[0] == '\0') {
        rows = json_array(); /* no team, no roles */
    } else if (pb_db_query(&req->w->db, sql, 2, params, &rows, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "permission set of %s: %s", uid, err);
        if (req->w->db.down || req->w->db.conn == NULL)
            req->down = "database";
        return -1;
    }
    /* The role level travels in the session: when roles changed since
     * sign-in, the session takes the new level (from the next request on). */
    int level = (int)json_integer_value(json_object_get(json_array_get(rows, 0), "level"));
    if (!req->bearer && req->sess.exists && pb_session_user(req) &&
        strcmp(pb_session_user(req), uid) == 0 && pb_session_level(req) != level)
        pb_session_set_level(req, level);
    /* The set and its expiry in one script, so no crash or lost reply
     * between them leaves a set that never expires; one round trip. */
    static const char store_lua[] = "redis.call('SADD', KEYS[1], unpack(ARGV)) "
                                    "redis.call('EXPIRE', KEYS[1], 3600) return 1";
    size_t n = json_array_size(rows), k = 5;
    const char **argv = calloc(n + 5, sizeof *argv);
    int rc = -1;
    if (argv) {
        argv[0] = "EVAL";
        argv[1] = store_lua;
        argv[2] = "1";
        argv[3] = key;
        argv[4] = "-";
        for (size_t i = 0; i < n; i++) {
            const char *p =
                json_string_value(json_object_get(json_array_get(rows, i), "permission"));
            if (p) /* a role without permissions gives a row without one */
                argv[k++] = p;
        }
        redisReply *r = pb_kv_command(&req->w->kv, (int)k, argv, NULL, err, sizeof err);
        rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
        if (r && r->type == REDIS_REPLY_ERROR)
            snprintf(err, sizeof err, "%s", r->str);
        if (rc < 0)
            pb_log(PB_LOG_ERROR, "permission set of %s: %s", uid, err);
        if (r)
            freeReplyObject(r);
        free(argv);
    }
    json_decref(rows);
    return rc;
}

/* RBAC: which of perms (at most 64) does the user hold in the team? The
 * set is cached in Redis (pb:perm:<user>:<team>) and dropped whenever roles
 * change; a missing set is built from the database. Deny is the default.
 * Sets held[i] to 1 or 0; returns 0, or -1 when Redis or the database is
 * unavailable. */
static int permissions_held(pb_req *req, const char *uid, const char *tid, const char *const *perms,
                            int n, int *held)
{
    char key[160], err[256];
    const char *argv[3 + 64];
    snprintf(key, sizeof key, "pb:perm:%s:%s", uid, tid ? tid : "");
    argv[0] = "SMISMEMBER", argv[1] = key, argv[2] = "-";
    n = n < 64 ? n : 64;
    for (int i = 0; i < n; i++)
        argv[3 + i] = perms[i];
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = pb_kv_command(&req->w->kv, n + 3, argv, NULL, err, sizeof err);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n + 1) {
            pb_log(PB_LOG_ERROR, "permission check: %s", r ? "unexpected reply" : err);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        int built = r->element[0]->integer == 1;
        for (int i = 0; i < n; i++)
            held[i] = r->element[i + 1]->integer == 1;
        freeReplyObject(r);
        if (built)
            return 0;
        if (attempt == 0 && build_permissions(req, key, uid, tid) < 0)
            return -1;
    }
    return 0;
}

/* Is the acting user an operator of the installation? Asked of the
 * database (in the request's transaction) on every route that needs an
 * installation permission, so a revoked operator is refused at once.
 * Returns 1, 0, or -1 when the database failed. */
static int operator_allows(pb_req *req)
{
    json_t *rows = NULL;
    char err[256];
    if (pb_db_query(&req->w->db, "SELECT core.is_operator() AS ok", 0, NULL, &rows, err,
                    sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "operator check: %s", err);
        if (req->w->db.down || req->w->db.conn == NULL)
            req->down = "database";
        return -1;
    }
    int ok = json_is_true(json_object_get(json_array_get(rows, 0), "ok"));
    json_decref(rows);
    return ok;
}

/* Deny by default: an installation permission needs an operator, any
 * other one a team role that grants it. Returns 1, 0 or -1 (unavailable). */
static int permission_allows(pb_req *req, const char *uid, const char *tid, const char *perm)
{
    int held = 0;
    if (pb_permission_is_installation(perm))
        return operator_allows(req);
    return permissions_held(req, uid, tid, &perm, 1, &held) < 0 ? -1 : held;
}

/* Which navigation entries the user may follow, for the page about to be
 * shown: looked up before the transaction ends, in one Redis round trip. */
static void resolve_nav(pb_req *req, const char *uid)
{
    json_t *nav = req->w->nav_all, *item;
    const char *perms[64];
    int held[64], n = 0;
    size_t i;
    json_array_foreach(nav, i, item)
    {
        const char *p = json_string_value(json_object_get(item, "permission"));
        if (p && n < 64)
            perms[n++] = p;
    }
    req->nav_mask = 0;
    if (uid == NULL || n == 0 || permissions_held(req, uid, pb_ident_team(req), perms, n, held) < 0)
        return;
    for (int k = 0; k < n; k++)
        req->nav_mask |= (uint64_t)held[k] << k;
}

#define SESSIONS_DOWN "Signing in is unavailable for a moment. Try again shortly."

/* The guards, in order: identity and permission for routes that are not
 * public (a refusal is audited), then for unsafe methods either the API
 * write limit (bearer tokens) or the CSRF token (the session cookie).
 * Returns 0 to go on, or the status to answer with. */
static int guard(pb_req *req)
{
    const pb_route *r = req->route;
    if (!(r->flags & PB_PUBLIC)) {
        if (!req->bearer && pb_session_load(req) < 0)
            return refuse(req, 503, SESSIONS_DOWN);
        const char *uid = pb_ident_user(req);
        if (uid == NULL)
            return refuse(req, 401, "Sign in to see this page.");
        int ok = permission_allows(req, uid, pb_ident_team(req), r->permission);
        if (ok < 0)
            return refuse(req, 503,
                          req->down ? "The database is unavailable for a moment. Try again shortly."
                                    : SESSIONS_DOWN);
        if (!ok) {
            char what[PB_SB_ROUTELEN + 16];
            snprintf(what, sizeof what, "%s %s", req->method, r->pattern);
            json_t *need = json_pack("{s:s}", "permission", r->permission);
            pb_audit(req, "access.denied", "route", what, NULL, need, PB_AUDIT_KEEP);
            json_decref(need);
            return refuse(req, 403,
                          pb_permission_is_installation(r->permission)
                              ? "Only operators of the installation may do this."
                              : "Your role does not allow this.");
        }
    }
    if (req->match.method == PB_GET)
        return 0;
    if (req->bearer) { /* no cookie, no CSRF: a cross-site form cannot send the header */
        long retry = 0;
        int rc = pb_rate_take(req, "api", pb_ident_user(req), &retry);
        if (rc < 0)
            return refuse(req, 503, SESSIONS_DOWN);
        return rc > 0 ? refuse(req, 429, "Too many changes through the API: slow down.") : 0;
    }
    if (pb_params_get(&req->in.cookies, req->w->cfg->session_cookie) != NULL) {
        if (pb_session_load(req) < 0)
            return refuse(req, 503, SESSIONS_DOWN);
        if (!pb_session_csrf_ok(req))
            return refuse(req, 403,
                          "This form has expired or came from another site. Reload the page and "
                          "try again.");
    }
    return 0;
}

/* Who is asking: an API client with "Authorization: Bearer" (JSON answers,
 * no session), or the session cookie's user. A visitor who carries the
 * cookie brings their identity to public pages too; without the cookie, no
 * Redis at all. Returns 0 or the status to answer with. */
static int identify(pb_req *req)
{
    const char *authz = pb_request_header(req, "Authorization");
    int public = (req->route->flags & PB_PUBLIC) != 0;
    if (authz) {
        char msg[160];
        req->want_json = true;
        if (pb_ident_bearer(req, authz, msg, sizeof msg) < 0) {
            pb_buf_puts(req->headers, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
            return refuse(req, 401, msg);
        }
        return 0;
    }
    int carries_cookie = pb_params_get(&req->in.cookies, req->w->cfg->session_cookie) != NULL;
    if ((carries_cookie || !public) && pb_session_load(req) < 0 && !public)
        return refuse(req, 503, SESSIONS_DOWN);
    return 0;
}

static int run_handler(pb_req *req)
{
    const pb_match *m = &req->match;
    for (int i = 0; i < m->nparams; i++)
        if (add_route_param(req->w, &req->in.route, m->params[i].name, m->params[i].value,
                            m->params[i].len) < 0)
            return 400;
    req->route = m->entry->def;
    req->module = m->entry->module;
    req->template = req->route->template;
    /* Identity first, before any query. */
    int status = identify(req);
    if (status)
        return status;
    /* The row-security context is the acting identity ("" for a public
     * page). A safe method gets a READ ONLY transaction: a GET cannot change
     * data (RFC 9110 §9.2.1). */
    const char *uid = req->bearer || req->sess.exists ? pb_ident_user(req) : NULL;
    /* Copies: a handler that signs someone in replaces the session data
     * these point into, and the context must outlive the handler (kept
     * statements run after it). */
    const char *real = uid ? pb_ident_real_user(req) : NULL,
               *team = uid ? pb_ident_team(req) : NULL;
    char acting[40], acting_team[40], acting_real[40];
    snprintf(acting, sizeof acting, "%s", uid ? uid : "");
    snprintf(acting_team, sizeof acting_team, "%s", team ? team : "");
    snprintf(acting_real, sizeof acting_real, "%s", real ? real : "");
    snprintf(req->level, sizeof req->level, "%d", uid ? pb_ident_level(req) : 0);
    pb_db_request_begin(&req->w->db, acting, acting_team, req->level, acting_real,
                        req->match.method == PB_GET);
    status = guard(req);
    if (status) {
        char err[256];
        pb_db_request_end(&req->w->db, 0, err, sizeof err);
        pb_account_settle(req, false);
        return status;
    }
    const char *where[] = {"module", req->module, "route", req->route->pattern,
                           "method", req->method, NULL};
    status = req->route->handler(req);
    if (status < 0) {
        pb_logf(PB_LOG_ERROR, where, "handler %s %s of module %s failed", req->method,
                req->route->pattern, req->module);
        status = 500;
    }
    if (status == 500 && req->down) {
        char msg[160];
        snprintf(msg, sizeof msg, "The %s is unavailable for a moment. Try again shortly.",
                 req->down);
        status = refuse(req, 503, msg);
    }
    status = status == 0 ? 200 : status;
    /* The page's navigation, for the identity the transaction carries: a
     * handler that signed someone in (or out) changed it, and the session
     * data uid pointed into is gone; that answer is a redirect anyway. */
    const char *now = req->bearer || req->sess.exists ? pb_ident_user(req) : NULL;
    if (now && strcmp(now, acting) == 0 && !(status >= 300 && status < 400) && !req->want_json &&
        !(req->route->flags & PB_JSON_ONLY))
        resolve_nav(req, now);
    /* Commit before anything is rendered: a page never claims a change
     * that did not persist. Errors and refusals roll back. */
    char err[512];
    if (pb_db_request_end(&req->w->db, status < 400, err, sizeof err) < 0) {
        pb_logf(PB_LOG_ERROR, where, "%s %s of module %s: %s", req->method, req->route->pattern,
                req->module, err);
        pb_account_settle(req, false);
        return 500;
    }
    pb_account_settle(req, status < 400);
    /* A page (not a redirect, not JSON) shows the queued messages. */
    int page =
        !(status >= 300 && status < 400) && !req->want_json && !(req->route->flags & PB_JSON_ONLY);
    if (pb_session_finish(req, page, &req->flash) < 0)
        return refuse(req, 503, SESSIONS_DOWN);
    return status;
}

/* Marks the routes of quarantined modules, when the master changed the list
 * (a sequence number in the scoreboard; one load per request otherwise). */
static void refresh_quarantine(pb_worker *w)
{
    uint32_t seq = __atomic_load_n(&w->sb->quarantine_seq, __ATOMIC_ACQUIRE);
    if (seq == w->quarantine_seen)
        return;
    w->quarantine_seen = seq;
    pb_router *r = &w->modules.router;
    for (size_t i = 0; i < r->n; i++) {
        r->v[i].quarantined = 0;
        for (uint32_t q = 0; q < w->sb->nquarantined && q < PB_SB_QUARANTINE; q++)
            if (strcmp(w->sb->quarantined[q], r->v[i].module) == 0)
                r->v[i].quarantined = 1;
    }
}

/* A GET for "/x/" answers with a redirect to "/x" when that exists. */
static int trailing_slash_redirect(pb_worker *w, pb_req *req)
{
    size_t n = strlen(req->path);
    if (n < 2 || req->path[n - 1] != '/' || pb_method_bit(req->method) != PB_GET)
        return 0;
    req->path[n - 1] = '\0';
    pb_match m;
    int st = pb_router_match(&w->modules.router, req->method, req->path, &m);
    if (st == 200) {
        pb_buf_printf(req->headers, "Location: %s%s\r\n", req->api ? "/api/v1" : "", req->path);
        return 308;
    }
    req->path[n - 1] = '/';
    return 0;
}

static pb_sb_route *route_slot(pb_worker *w, const pb_route_entry *e, unsigned method)
{
    int idx = pb_method_index(method);
    pb_route_entry *me = (pb_route_entry *)e;
    if (me->slots[idx] == NULL) {
        char key[PB_SB_ROUTELEN];
        snprintf(key, sizeof key, "%s %s", pb_method_name(method), e->def->pattern);
        me->slots[idx] = pb_sb_route_slot(w->sb, key, e->module);
    }
    return me->slots[idx];
}

static void serve(pb_worker *w, FCGX_Request *fr)
{
    int64_t t0 = pb_now_ns();
    pb_req req = {.w = w, .fcgi = fr, .headers = &w->headers, .body = &w->body};
    req.model = json_object();
    pb_sb_route *slot = w->unrouted;
    char msg[300] = "";
    int status = pb_request_read(&req, msg, sizeof msg);
    if (status == 0) {
        status = pb_router_match(&w->modules.router, req.method, req.path, &req.match);
        if (status == 200 && req.api && (req.match.entry->def->flags & PB_NO_API))
            status = 404; /* pages kept off the API, e.g. the loopback-only ones */
        if (status == 200) {
            slot = route_slot(w, req.match.entry, req.match.method);
            mark_busy(w, slot ? slot->key : req.path, req.match.entry->module);
            w->slot->state = PB_W_BUSY;
            refresh_quarantine(w);
            if (req.match.entry->quarantined) {
                char why[200];
                snprintf(why, sizeof why,
                         "The %s module is stopped: it failed repeatedly and an operator has "
                         "been told. The rest of the site works.",
                         req.match.entry->module);
                json_object_set_new(req.model, "message", json_string(why));
                json_object_set_new(req.model, "module", json_string(req.match.entry->module));
                status = 503;
            } else {
                status = run_handler(&req);
            }
            pb_render_respond(&req, status);
        } else if (status == 404 && (status = trailing_slash_redirect(w, &req)) != 0) {
            pb_render_respond(&req, status);
        } else {
            status = status ? status : 404;
            if (req.match.allow) {
                char allow[64];
                pb_router_allow_string(req.match.allow, allow, sizeof allow);
                pb_buf_printf(req.headers, "Allow: %s\r\n", allow);
            }
            snprintf(msg, sizeof msg, "%s",
                     status == 405 ? "This address does not accept that method."
                                   : "There is nothing at this address.");
            pb_render_error(&req, status, msg);
        }
    } else {
        pb_render_error(&req, status, msg);
    }
    if (slot)
        pb_sb_route_record(slot, status, (pb_now_ns() - t0) / 1000);
    pb_request_free(&req);
}

/* ---------------------------------------------------------------------
 * The accept loop
 * --------------------------------------------------------------------- */

static void install_signals(sigset_t *waitmask)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_quit;
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGINT, &sa, NULL); /* Ctrl-C reaches the master, which tells us */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGQUIT);
    sigprocmask(SIG_BLOCK, &block, waitmask);
    sigdelset(waitmask, SIGTERM);
    sigdelset(waitmask, SIGQUIT);
}

/* Takes a SIGTERM or SIGQUIT that is pending while blocked, as if its
 * handler had run: the flags are then exact whatever the traffic. */
static void take_pending_signals(void)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGQUIT);
    struct timespec now = {0, 0};
    int sig;
    while ((sig = sigtimedwait(&stop, NULL, &now)) > 0) {
        if (sig == SIGQUIT)
            got_quit = 1;
        else
            got_term = 1;
    }
}

/* True when a connection is queued on fd: a worker that was woken for one
 * and then left to drain does not pass the wake-up on (EPOLLEXCLUSIVE), so
 * an idle worker looks for itself once a second. */
static bool backlog_waiting(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Waits until a connection is pending. Returns 1 when one is, 0 when it
 * is time to stop: after SIGQUIT, never another connection. */
static int wait_for_connection(int ep, int listen_fd, const sigset_t *waitmask, pid_t master)
{
    for (;;) {
        take_pending_signals();
        if (got_quit)
            return 0;
        struct epoll_event ev;
        int n = epoll_pwait(ep, &ev, 1, got_term ? 0 : 1000, waitmask);
        if (n > 0) {
            take_pending_signals();
            return got_quit ? 0 : 1;
        }
        if (n == 0 && !got_term && backlog_waiting(listen_fd))
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
        if (n == 0 && got_term) /* backlog empty: drained */
            return 0;
        if (getppid() != master)
            return 0;
    }
}

void pb_worker_main(const pb_config *cfg, pb_scoreboard *sb, int slot, uint32_t generation,
                    int listen_fd, const pb_pathlist *plan)
{
    pid_t master = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    pb_log_role("worker");
    sigset_t waitmask;
    install_signals(&waitmask);
    pb_worker w = {.cfg = cfg,
                   .sb = sb,
                   .slot = &sb->workers[slot],
                   .generation = generation,
                   .listen_fd = listen_fd};
    worker_init(&w, plan);
    FCGX_Init();
    FCGX_Request fr;
    FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
        pb_log(PB_LOG_ERROR, "epoll: %s", strerror(errno));
        exit(1);
    }
    w.slot->state = PB_W_IDLE;
    while (wait_for_connection(ep, listen_fd, &waitmask, master)) {
        if (FCGX_Accept_r(&fr) < 0)
            continue; /* another worker took it, or the client left */
        w.slot->busy_ns = pb_now_ns();
        w.slot->state = PB_W_BUSY;
        mark_busy(&w, "(reading)", "-");
        serve(&w, &fr);
        FCGX_Finish_r(&fr);
        w.slot->state = got_term ? PB_W_DRAINING : PB_W_IDLE;
        __atomic_add_fetch(&w.slot->requests, 1, __ATOMIC_RELAXED);
        if (cfg->max_requests && ++w.served >= (uint64_t)cfg->max_requests)
            break;
    }
    w.slot->state = PB_W_DRAINING;
    pb_modset_free(&w.modules);
    pb_db_close(&w.db);
    pb_kv_close(&w.kv);
    exit(0);
}
