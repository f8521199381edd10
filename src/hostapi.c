/*
 * hostapi.c - the host functions modules call (struct pb_host).
 *
 * Each function is a thin, checked doorway from a module into the request
 * or a worker service; contracts are documented in include/plugboard.h.
 */
#include "hostapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "backup.h"
#include "cache.h"
#include "console.h"
#include "jobs.h"
#include "log.h"
#include "logsearch.h"
#include "metrics.h"
#include "request.h"

/* --- Logging ------------------------------------------------------------ */

static void h_log(pb_req *req, int level, const char *fmt, ...)
{
    const char *fields[] = {"module", req ? req->module : NULL, "route",
                            req && req->route ? req->route->pattern : NULL, NULL};
    va_list ap;
    va_start(ap, fmt);
    pb_logv(level, req ? fields : NULL, fmt, ap);
    va_end(ap);
}

static json_t *h_log_search(pb_req *req, const json_t *filter, size_t limit)
{
    (void)req;
    const char *path = pb_log_file_path();
    if (path == NULL)
        return json_pack("{s:[], s:b, s:b, s:b}", "records", "more", 0, "bounded", 0, "configured",
                         0);
    json_t *found = pb_logsearch(path, filter, limit, PB_LOGSEARCH_WINDOW);
    if (found && json_object_get(found, "errors") == NULL)
        json_object_set_new(found, "configured", json_true());
    return found;
}

/* --- The request ---------------------------------------------------------- */

static const char *h_method(pb_req *req)
{
    return req->head ? "GET" : req->method;
}

static const char *h_path(pb_req *req)
{
    return req->path;
}

static const char *h_header(pb_req *req, const char *name)
{
    return pb_request_header(req, name);
}

static const char *field_value(const pb_params *p, const char *name)
{
    const pb_field *f = pb_params_get(p, name);
    return f && f->path == NULL ? f->value : NULL;
}

static const char *h_param(pb_req *req, const char *name)
{
    return field_value(&req->in.route, name);
}

static const char *h_query(pb_req *req, const char *name)
{
    return field_value(&req->in.query, name);
}

static const char *h_form(pb_req *req, const char *name)
{
    return field_value(&req->in.form, name);
}

static const char *h_cookie(pb_req *req, const char *name)
{
    return field_value(&req->in.cookies, name);
}

static json_t *h_json_body(pb_req *req)
{
    return req->in.json;
}

static int h_upload(pb_req *req, const char *name, const char **path, const char **filename,
                    size_t *size)
{
    const pb_field *f = pb_params_get(&req->in.form, name);
    if (f == NULL || f->path == NULL)
        return PB_ABSENT;
    *path = f->path;
    *filename = f->filename ? f->filename : "";
    *size = f->size;
    return PB_OK;
}

/* --- Typed input ------------------------------------------------------------ */

static int h_input_str(pb_req *req, const char *name, unsigned flags, size_t minlen, size_t maxlen,
                       const char **out)
{
    return pb_input_str(&req->in, name, flags, minlen, maxlen, out);
}

static int h_input_int(pb_req *req, const char *name, unsigned flags, long long min, long long max,
                       long long *out)
{
    return pb_input_int(&req->in, name, flags, min, max, out);
}

static int h_input_bool(pb_req *req, const char *name, unsigned flags, bool *out)
{
    return pb_input_bool(&req->in, name, flags, out);
}

static int h_input_uuid(pb_req *req, const char *name, unsigned flags, const char **out)
{
    return pb_input_uuid(&req->in, name, flags, out);
}

static int h_input_email(pb_req *req, const char *name, unsigned flags, const char **out)
{
    return pb_input_email(&req->in, name, flags, out);
}

static int h_input_date(pb_req *req, const char *name, unsigned flags, pb_date *out)
{
    return pb_input_date(&req->in, name, flags, out);
}

static json_t *h_input_errors(pb_req *req)
{
    return req->in.errors;
}

/* --- The response ----------------------------------------------------------- */

static json_t *h_model(pb_req *req)
{
    return req->model;
}

static void h_set_template(pb_req *req, const char *name)
{
    req->template = name;
}

/* RFC 9110 §5.5: field values must not carry CR, LF or NUL; names are tokens. */
static bool header_safe(const char *s, bool is_name)
{
    if (s == NULL || (is_name && *s == '\0'))
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n' || (is_name && (c <= ' ' || c == ':' || c >= 0x7f)))
            return false;
    }
    return true;
}

static int h_set_header(pb_req *req, const char *name, const char *value)
{
    if (!header_safe(name, true) || !header_safe(value, false))
        return PB_INVALID;
    return pb_buf_printf(req->headers, "%s: %s\r\n", name, value) < 0 ? PB_ERROR : PB_OK;
}

/* RFC 6265 §4.1.1: cookie-octets exclude controls, space, '"', ',', ';' and '\'. */
static bool cookie_octets_ok(const char *s, bool is_name)
{
    if (s == NULL || (is_name && *s == '\0'))
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' ||
            (is_name && strchr("()<>@:/[]?={}", c)))
            return false;
    }
    return true;
}

static int h_set_cookie(pb_req *req, const char *name, const char *value,
                        const pb_cookie_opts *opts)
{
    static const pb_cookie_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    if (!cookie_octets_ok(name, true) || !cookie_octets_ok(value, false) ||
        (opts->path && !header_safe(opts->path, false)))
        return PB_INVALID;
    pb_buf *h = req->headers;
    pb_buf_printf(h, "Set-Cookie: %s=%s; Path=%s", name, opts->max_age < 0 ? "" : value,
                  opts->path ? opts->path : "/");
    if (opts->max_age != 0)
        pb_buf_printf(h, "; Max-Age=%ld", opts->max_age < 0 ? 0L : opts->max_age);
    if (!opts->script_readable)
        pb_buf_puts(h, "; HttpOnly");
    if (req->https)
        pb_buf_puts(h, "; Secure");
    return pb_buf_puts(h, "; SameSite=Lax\r\n") < 0 ? PB_ERROR : PB_OK;
}

static int h_redirect(pb_req *req, int status, const char *location)
{
    /* Only local targets: "/x" but never "//host" or "/\host", which
     * browsers treat as another site. */
    if (location == NULL || location[0] != '/' || location[1] == '/' || location[1] == '\\' ||
        !header_safe(location, false))
        return PB_INVALID;
    if (status != 301 && status != 302 && status != 307 && status != 308)
        status = 303;
    if (pb_buf_printf(req->headers, "Location: %s\r\n", location) < 0)
        return PB_ERROR;
    return status;
}

static int h_send(pb_req *req, const char *content_type, const char *body, size_t len)
{
    if (!header_safe(content_type, false))
        return PB_INVALID;
    free(req->content_type);
    req->content_type = strdup(content_type);
    pb_buf_reset(req->body);
    if (req->content_type == NULL || pb_buf_append(req->body, body, len) < 0)
        return PB_ERROR;
    req->raw = true;
    return PB_OK;
}

/* --- Services ----------------------------------------------------------------- */

static int h_db_query(pb_req *req, const char *sql, int nparams, const char *const *params,
                      json_t **rows)
{
    char err[512];
    int n = pb_db_query(&req->w->db, sql, nparams, params, rows, err, sizeof err);
    if (n < 0 && (req->w->db.down || req->w->db.conn == NULL))
        req->down = "database"; /* the handler's failure is an outage, not a bug */
    if (n < 0) {
        h_log(req, PB_LOG_ERROR, "query failed: %s", err);
        return PB_ERROR;
    }
    return n;
}

static int h_db_ping(pb_req *req, char *err, size_t errlen)
{
    return pb_db_ping(&req->w->db, err, errlen) < 0 ? PB_ERROR : PB_OK;
}

static int h_redis_ping(pb_req *req, char *err, size_t errlen)
{
    return pb_kv_ping(&req->w->kv, err, errlen) < 0 ? PB_ERROR : PB_OK;
}

/* --- The operator's view ---------------------------------------------------- */

static json_t *h_status(pb_req *req)
{
    if (req->w->sb == NULL) /* the scheduler has no scoreboard */
        return json_object();
    return pb_metrics_status(req->w->sb, req->w->cfg);
}

static int h_send_metrics(pb_req *req)
{
    if (req->w->sb == NULL)
        return PB_ERROR;
    pb_buf b = PB_BUF_INIT;
    int rc = pb_metrics_prometheus(req->w->sb, &b);
    if (rc == 0)
        rc = h_send(req, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
    pb_buf_free(&b);
    return rc < 0 ? PB_ERROR : PB_OK;
}

static json_t *h_modules(pb_req *req)
{
    return req->w->modules_json;
}

/* --- Identity and session -------------------------------------------------- */

static const char *h_user_id(pb_req *req)
{
    return pb_ident_user(req);
}

static const char *h_team_id(pb_req *req)
{
    return pb_ident_team(req);
}

static int h_login(pb_req *req, const char *user_id, const char *team_id, int role_level)
{
    return pb_session_login(req, user_id, team_id, role_level) < 0 ? PB_ERROR : PB_OK;
}

static int h_logout(pb_req *req)
{
    return pb_session_logout(req) < 0 ? PB_ERROR : PB_OK;
}

static const char *h_csrf_token(pb_req *req)
{
    return pb_session_csrf(req);
}

static int h_flash(pb_req *req, const char *kind, const char *text)
{
    return pb_session_flash(req, kind, text) < 0 ? PB_ERROR : PB_OK;
}

static const char *h_session_get(pb_req *req, const char *key)
{
    return pb_session_get(req, key);
}

static int h_session_set(pb_req *req, const char *key, const char *value)
{
    return pb_session_set(req, key, value) < 0 ? PB_ERROR : PB_OK;
}

static int h_input_fail(pb_req *req, const char *name, const char *message)
{
    return pb_input_fail(&req->in, name, message);
}

/* --- Rate limits -------------------------------------------------------------
 * Fixed windows: the first event of a window sets its expiry. */

static int rate_limits(pb_req *req, const char *cls, long *limit, long *window)
{
    if (strcmp(cls, "login") == 0) {
        *limit = req->w->cfg->login_attempts;
        *window = req->w->cfg->login_window;
        return 0;
    }
    if (strcmp(cls, "reset") == 0) {
        *limit = req->w->cfg->reset_attempts;
        *window = req->w->cfg->reset_window;
        return 0;
    }
    if (strcmp(cls, "api") == 0) {
        *limit = req->w->cfg->api_writes;
        *window = req->w->cfg->api_window;
        return 0;
    }
    return -1;
}

static const char *h_client_ip(pb_req *req)
{
    const char *ip = req->fcgi ? FCGX_GetParam("REMOTE_ADDR", req->fcgi->envp) : NULL;
    return ip ? ip : ""; /* a job run has no client */
}

static void rate_key(pb_req *req, const char *cls, const char *key, char *out, size_t n)
{
    snprintf(out, n, "pb:rl:%s:%s", cls, key ? key : h_client_ip(req));
}

/* Seconds until the window of key k ends (window when Redis cannot say),
 * also sent as Retry-After. */
static long rate_retry_after(pb_req *req, const char *k, long window)
{
    char err[256], header[32];
    const char *ttl[] = {"TTL", k};
    redisReply *r = pb_kv_command(&req->w->kv, 2, ttl, NULL, err, sizeof err);
    long left = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? (long)r->integer : window;
    if (r)
        freeReplyObject(r);
    snprintf(header, sizeof header, "%ld", left);
    h_set_header(req, "Retry-After", header);
    return left;
}

/* Counts one event in key k; the first of a window sets its expiry.
 * Returns the count so far, or -1 when Redis is unavailable. */
static long long rate_count(pb_req *req, const char *k, long window)
{
    char err[256], win[24];
    const char *incr[] = {"INCR", k};
    redisReply *r = pb_kv_command(&req->w->kv, 2, incr, NULL, err, sizeof err);
    if (r == NULL)
        return -1;
    long long count = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (count == 1) {
        snprintf(win, sizeof win, "%ld", window);
        const char *ex[] = {"EXPIRE", k, win};
        if ((r = pb_kv_command(&req->w->kv, 3, ex, NULL, err, sizeof err)) == NULL)
            return -1;
        freeReplyObject(r);
    }
    return count;
}

static int h_rate_check(pb_req *req, const char *cls, const char *key, long *retry_after)
{
    long limit, window;
    char k[400], err[256];
    if (rate_limits(req, cls, &limit, &window) < 0)
        return PB_ERROR;
    rate_key(req, cls, key, k, sizeof k);
    const char *get[] = {"GET", k};
    redisReply *r = pb_kv_command(&req->w->kv, 2, get, NULL, err, sizeof err);
    if (r == NULL)
        return PB_ERROR;
    long count = r->type == REDIS_REPLY_STRING ? atol(r->str) : 0;
    freeReplyObject(r);
    if (count < limit)
        return PB_OK;
    long left = rate_retry_after(req, k, window);
    if (retry_after)
        *retry_after = left;
    return PB_INVALID;
}

static int h_rate_hit(pb_req *req, const char *cls, const char *key)
{
    long limit, window;
    char k[400];
    if (rate_limits(req, cls, &limit, &window) < 0)
        return PB_ERROR;
    rate_key(req, cls, key, k, sizeof k);
    return rate_count(req, k, window) < 0 ? PB_ERROR : PB_OK;
}

int pb_rate_take(pb_req *req, const char *cls, const char *key, long *retry_after)
{
    long limit, window;
    char k[400];
    if (rate_limits(req, cls, &limit, &window) < 0)
        return -1;
    rate_key(req, cls, key, k, sizeof k);
    long long count = rate_count(req, k, window);
    if (count < 0)
        return -1;
    if (count <= limit)
        return 0;
    *retry_after = rate_retry_after(req, k, window);
    return 1;
}

/* --- Accounts, audit, mail and API tokens ------------------------------------ */

static int h_role_level(pb_req *req)
{
    return pb_ident_user(req) ? pb_ident_level(req) : 0;
}

static bool h_bearer(pb_req *req)
{
    return req->bearer;
}

static int h_audit(pb_req *req, const char *action, const char *resource_type,
                   const char *resource_id, json_t *before, json_t *after, unsigned flags)
{
    return pb_audit(req, action, resource_type, resource_id, before, after, flags) < 0 ? PB_ERROR
                                                                                       : PB_OK;
}

static void h_permissions_changed(pb_req *req, const char *user_id)
{
    pb_permissions_changed(req, user_id);
}

static int h_revoke_sessions(pb_req *req, const char *user_id, bool keep_current)
{
    return user_id && pb_revoke_sessions(req, user_id, keep_current) == 0 ? PB_OK : PB_ERROR;
}

static int h_mail(pb_req *req, const char *to, const char *subject, const char *text)
{
    int rc = pb_mail_enqueue(req, to, subject, text);
    return rc == 0 ? PB_OK : rc > 0 ? PB_INVALID : PB_ERROR;
}

static const char *h_public_url(pb_req *req)
{
    return req->w->cfg->public_url; /* trailing slashes dropped at load */
}

static int h_token_issue(pb_req *req, const char *user_id, const char *team_id, int role_level,
                         json_t **out)
{
    return pb_token_pair(req, user_id, team_id, role_level, out) == 0 ? PB_OK : PB_ERROR;
}

static int h_token_refresh(pb_req *req, const char *refresh_token, json_t **out)
{
    int rc = pb_token_rotate(req, refresh_token, out);
    return rc == 0 ? PB_OK : rc > 0 ? PB_INVALID : PB_ERROR;
}

static int h_view_as(pb_req *req, const char *user_id, int role_level)
{
    if (req->bearer || !req->sess.exists)
        return PB_INVALID;
    if (user_id == NULL)
        return pb_session_view_as(req, NULL, 0, NULL) < 0 ? PB_ERROR : PB_OK;
    const char *params[] = {user_id};
    json_t *rows = NULL;
    char err[512];
    if (pb_db_query(&req->w->db, "SELECT display_name FROM core.users WHERE id = $1", 1, params,
                    &rows, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "view as: %s", err);
        return PB_ERROR;
    }
    const char *name = json_string_value(json_object_get(json_array_get(rows, 0), "display_name"));
    int rc = name == NULL                                             ? PB_INVALID
             : pb_session_view_as(req, user_id, role_level, name) < 0 ? PB_ERROR
                                                                      : PB_OK;
    json_decref(rows);
    return rc;
}

static const char *h_real_user_id(pb_req *req)
{
    return pb_ident_real_user(req);
}

/* --- Jobs -------------------------------------------------------------------- */

static long long h_job_enqueue(pb_req *req, const char *name, json_t *payload, const char *key,
                               long delay)
{
    return pb_job_enqueue(req, name, payload, key, delay);
}

static json_t *h_job_payload(pb_req *req)
{
    return req->job ? req->job->payload : NULL;
}

static long long h_job_id(pb_req *req)
{
    return req->job ? req->job->id : 0;
}

static int h_job_progress(pb_req *req, int percent, const char *message)
{
    return pb_job_progress(req, percent, message);
}

static const pb_host host_table = {
    .abi_version = PB_ABI_VERSION,
    .size = sizeof(pb_host),
    .log = h_log,
    .method = h_method,
    .path = h_path,
    .header = h_header,
    .param = h_param,
    .query = h_query,
    .form = h_form,
    .cookie = h_cookie,
    .json_body = h_json_body,
    .upload = h_upload,
    .input_str = h_input_str,
    .input_int = h_input_int,
    .input_bool = h_input_bool,
    .input_uuid = h_input_uuid,
    .input_email = h_input_email,
    .input_date = h_input_date,
    .input_errors = h_input_errors,
    .model = h_model,
    .set_template = h_set_template,
    .set_header = h_set_header,
    .set_cookie = h_set_cookie,
    .redirect = h_redirect,
    .send = h_send,
    .db_query = h_db_query,
    .db_ping = h_db_ping,
    .redis_ping = h_redis_ping,
    .status = h_status,
    .send_metrics = h_send_metrics,
    .modules = h_modules,
    .user_id = h_user_id,
    .team_id = h_team_id,
    .login = h_login,
    .logout = h_logout,
    .csrf_token = h_csrf_token,
    .flash = h_flash,
    .session_get = h_session_get,
    .session_set = h_session_set,
    .input_fail = h_input_fail,
    .rate_check = h_rate_check,
    .rate_hit = h_rate_hit,
    .client_ip = h_client_ip,
    .role_level = h_role_level,
    .bearer = h_bearer,
    .audit = h_audit,
    .permissions_changed = h_permissions_changed,
    .revoke_sessions = h_revoke_sessions,
    .mail = h_mail,
    .public_url = h_public_url,
    .token_issue = h_token_issue,
    .token_refresh = h_token_refresh,
    .view_as = h_view_as,
    .real_user_id = h_real_user_id,
    .cache_get = pb_cache_get,
    .cache_set = pb_cache_set,
    .cache_del = pb_cache_del,
    .cache_invalidate_tag = pb_cache_invalidate_tag,
    .cache_stats = pb_cache_stats,
    .cache_server = pb_cache_server,
    .cache_clear = pb_cache_clear,
    .cache_inspect = pb_cache_inspect,
    .cache_expire = pb_cache_expire,
    .job_enqueue = h_job_enqueue,
    .job_payload = h_job_payload,
    .job_id = h_job_id,
    .job_progress = h_job_progress,
    .module_report = pb_console_report,
    .module_control = pb_console_control,
    .log_search = h_log_search,
    .backup_run = pb_backup_run,
    .backup_verify = pb_backup_verify,
    .backup_restore = pb_backup_restore,
    .backup_send = pb_backup_send,
    .backup_delete = pb_backup_delete,
};

const pb_host *pb_hostapi(void)
{
    return &host_table;
}
