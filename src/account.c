/*
 * account.c - identity, audit, sign-out everywhere, outbox and API tokens.
 */
#include "account.h"

#include <errno.h>
#include <fcgiapp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "jobs.h"
#include "log.h"
#include "params.h"
#include "request.h"
#include "token.h"

/* The signing key, loaded by the master and inherited by every worker. */
static unsigned char api_key[PB_TOKEN_KEY_MAX];
static size_t api_keylen;

int pb_account_key_init(const pb_config *cfg, char *err, size_t errlen)
{
    struct stat st;
    if (stat(cfg->api_key_file, &st) < 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", cfg->api_key_file, strerror(errno));
            return -1;
        }
        if (pb_token_key_create(cfg->api_key_file, err, errlen) == 0)
            pb_log(PB_LOG_INFO, "created the API signing key %s", cfg->api_key_file);
    }
    size_t n = sizeof api_key;
    if (pb_token_key_load(cfg->api_key_file, api_key, &n, err, errlen) < 0)
        return -1;
    api_keylen = n;
    return 0;
}

/* --- Who is asking ---------------------------------------------------------- */

int pb_ident_bearer(pb_req *req, const char *value, char *msg, size_t msglen)
{
    if (strncasecmp(value, "Bearer ", 7) != 0) {
        snprintf(msg, msglen, "Send the access token as: Authorization: Bearer <token>.");
        return -1;
    }
    const char *t = value + 7;
    while (*t == ' ')
        t++;
    char why[160];
    int st = api_keylen ? pb_token_verify(api_key, api_keylen, t, strlen(t), (int64_t)time(NULL),
                                          30, &req->claims, why, sizeof why)
                        : PB_TOKEN_ERR_INTERNAL;
    if (st == PB_TOKEN_ERR_EXPIRED) {
        snprintf(msg, msglen,
                 "The access token has expired: get a new one with the refresh token.");
        return -1;
    }
    if (st != PB_TOKEN_OK) {
        snprintf(msg, msglen, "The access token is not valid.");
        return -1;
    }
    req->bearer = true;
    return 0;
}

const char *pb_ident_user(pb_req *req)
{
    if (req->job)
        return req->job->user[0] ? req->job->user : NULL;
    return req->bearer ? req->claims.sub : pb_session_user(req);
}

const char *pb_ident_team(pb_req *req)
{
    if (req->job)
        return req->job->team[0] ? req->job->team : NULL;
    if (req->bearer)
        return req->claims.team[0] ? req->claims.team : NULL;
    return pb_session_team(req);
}

int pb_ident_level(pb_req *req)
{
    if (req->job)
        return atoi(req->job->level);
    return req->bearer ? req->claims.level : pb_session_level(req);
}

const char *pb_ident_real_user(pb_req *req)
{
    if (req->job)
        return req->job->real[0] ? req->job->real : NULL;
    if (req->bearer)
        return req->claims.real_sub[0] ? req->claims.real_sub : NULL;
    return pb_session_real_user(req);
}

/* --- Statements --------------------------------------------------------------- */

/* Runs one statement in the request's transaction; logs and marks the
 * database down on failure. Returns rows/affected or -1. */
static int q(pb_req *req, const char *sql, int n, const char *const *params, json_t **rows)
{
    char err[512];
    int rc = pb_db_query(&req->w->db, sql, n, params, rows, err, sizeof err);
    if (rc < 0) {
        pb_log(PB_LOG_ERROR, "%s: %s", sql, err);
        if (req->w->db.conn == NULL || req->w->db.down)
            req->down = "database";
    }
    return rc;
}

/* Keeps a statement to run after the request if its transaction does not
 * commit; written says it also ran inside the transaction (so a commit
 * makes the copy unnecessary). */
static int keep(pb_req *req, bool written, const char *sql, int n, const char *const *params)
{
    if (req->keep == NULL && (req->keep = json_array()) == NULL)
        return -1;
    json_t *e = json_pack("[b, s]", written, sql);
    for (int i = 0; e && i < n; i++)
        json_array_append_new(e, params[i] ? json_string(params[i]) : json_null());
    return e ? json_array_append_new(req->keep, e) : -1;
}

static void run_kept(pb_req *req, bool committed)
{
    pb_db *db = &req->w->db;
    size_t i;
    json_t *e;
    bool any = false;
    json_array_foreach(req->keep, i, e) any =
        any || !(json_is_true(json_array_get(e, 0)) && committed);
    if (!any)
        return;
    char err[512];
    pb_db_request_begin(db, db->ctx[0], db->ctx[1], db->ctx[2], db->ctx[3], 0);
    json_array_foreach(req->keep, i, e)
    {
        if (json_is_true(json_array_get(e, 0)) && committed)
            continue;
        const char *params[8];
        int n = (int)json_array_size(e) - 2;
        for (int k = 0; k < n && k < 8; k++)
            params[k] = json_string_value(json_array_get(e, (size_t)k + 2));
        q(req, json_string_value(json_array_get(e, 1)), n < 8 ? n : 8, params, NULL);
    }
    if (pb_db_request_end(db, 1, err, sizeof err) < 0)
        pb_log(PB_LOG_ERROR, "kept statements after a rollback: %s", err);
}

/* --- The audit trail ------------------------------------------------------------ */

/* Copies s (NULL: "") into out, cut to fit at a character boundary, with
 * bytes that are not UTF-8 replaced by '?': a client's header must not make
 * the database refuse the row. */
static void utf8_excerpt(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; s && s[i] && o + 4 < size;) {
        size_t n = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xc0)
            n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (c < 0x80 || (strnlen(s + i, n) == n && pb_utf8_count(s + i, n) == 1)) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
}

static const char audit_sql[] =
    "SELECT core.audit_write($1, $2, $3, $4::jsonb, $5, $6, $7::uuid, $8::uuid)";

int pb_audit(pb_req *req, const char *action, const char *resource_type, const char *resource_id,
             json_t *before, json_t *after, unsigned flags)
{
    json_t *diff = json_object();
    if (before)
        json_object_set(diff, "before", before);
    if (after)
        json_object_set(diff, "after", after);
    char *text = json_dumps(diff, JSON_COMPACT);
    json_decref(diff);
    if (text == NULL)
        return -1;
    /* A job run has no client: no address. */
    const char *ip = req->fcgi ? FCGX_GetParam("REMOTE_ADDR", req->fcgi->envp) : NULL;
    /* Who is signed in now: after a sign-in in this request, the new user
     * (the database context, set when the request began, wins otherwise). */
    const char *uid = pb_ident_user(req), *tid = uid ? pb_ident_team(req) : NULL;
    tid = tid && tid[0] ? tid : NULL;
    char agent[513];
    utf8_excerpt(pb_request_header(req, "User-Agent"), agent, sizeof agent);
    const char *params[] = {action, resource_type, resource_id, text, ip, agent, tid, uid};
    bool now = !req->w->db.read_only;
    int rc = 0;
    if (flags & PB_AUDIT_KEEP)
        rc = keep(req, now, audit_sql, 8, params);
    else if (!now) {
        pb_log(PB_LOG_ERROR, "audit %s: a safe method (GET) cannot record a change", action);
        rc = -1;
    }
    if (rc == 0 && now && q(req, audit_sql, 8, params, NULL) < 0)
        rc = -1;
    free(text);
    return rc;
}

/* --- Permission sets -------------------------------------------------------------- */

void pb_permissions_changed(pb_req *req, const char *user_id)
{
    if (user_id == NULL || (req->perm_flush == 1 && strcmp(req->perm_user, user_id) != 0))
        req->perm_flush = 2;
    else if (req->perm_flush == 0) {
        req->perm_flush = 1;
        snprintf(req->perm_user, sizeof req->perm_user, "%s", user_id);
    }
}

void pb_account_settle(pb_req *req, bool committed)
{
    if (committed && req->perm_flush) {
        char pattern[80];
        if (req->perm_flush == 1)
            snprintf(pattern, sizeof pattern, "pb:perm:%s:*", req->perm_user);
        else
            snprintf(pattern, sizeof pattern, "pb:perm:*");
        char err[256];
        if (pb_kv_delete_matching(&req->w->kv, pattern, err, sizeof err) < 0)
            pb_log(PB_LOG_ERROR, "dropping permission sets: %s", err);
    }
    req->perm_flush = 0;
    if (req->keep)
        run_kept(req, committed);
    pb_cache_settle(req, committed);
}

/* --- Sign-out everywhere ------------------------------------------------------------- */

int pb_revoke_sessions(pb_req *req, const char *user_id, bool keep_current)
{
    const char *params[] = {user_id};
    if (q(req, "SELECT core.refresh_revoke_user($1)", 1, params, NULL) < 0)
        return -1;
    return pb_session_revoke_user(req, user_id, keep_current);
}

/* --- Mail --------------------------------------------------------------------------- */

/* One bare address: no spaces, controls, or the characters of a list or a
 * display name, exactly one '@' with text on both sides. */
static bool address_ok(const char *a)
{
    size_t n = strlen(a);
    const char *at = strchr(a, '@');
    if (n < 3 || n > 254 || at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(",;<>()[]\"\\", *p))
            return false;
    return true;
}

static bool subject_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            return false;
    return true;
}

int pb_mail_enqueue(pb_req *req, const char *to, const char *subject, const char *text)
{
    if (to == NULL || subject == NULL || text == NULL || !address_ok(to) || !subject_ok(subject))
        return 1;
    const char *params[] = {to, subject, text};
    return q(req, "SELECT core.mail_enqueue($1, $2, $3)", 3, params, NULL) < 0 ? -1 : 0;
}

/* --- API tokens --------------------------------------------------------------------- */

static void hash_hex(const unsigned char h[32], char out[67])
{
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, h, 32);
}

/* The access token half of a pair, and the response object. */
static int pair_out(pb_req *req, const char *uid, const char *tid, int level, const char *refresh,
                    json_t **out)
{
    const pb_config *cfg = req->w->cfg;
    pb_token_claims c = {0};
    snprintf(c.sub, sizeof c.sub, "%s", uid);
    snprintf(c.team, sizeof c.team, "%s", tid);
    c.level = level;
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + cfg->access_ttl;
    char err[160];
    char *access = api_keylen ? pb_token_issue(api_key, api_keylen, &c, err, sizeof err) : NULL;
    if (access == NULL) {
        pb_log(PB_LOG_ERROR, "issuing an access token: %s", api_keylen ? err : "no signing key");
        return -1;
    }
    *out = json_pack("{s:s, s:s, s:I, s:s, s:I}", "access_token", access, "token_type", "Bearer",
                     "expires_in", (json_int_t)cfg->access_ttl, "refresh_token", refresh,
                     "refresh_expires_in", (json_int_t)cfg->refresh_ttl);
    free(access);
    return *out ? 0 : -1;
}

int pb_token_pair(pb_req *req, const char *user_id, const char *team_id, int level, json_t **out)
{
    char refresh[PB_TOKEN_REFRESH_LEN + 1], hex[67], ttl[24];
    unsigned char h[32];
    if (user_id == NULL || team_id == NULL || pb_token_refresh_new(refresh, h) < 0)
        return -1;
    hash_hex(h, hex);
    snprintf(ttl, sizeof ttl, "%ld", req->w->cfg->refresh_ttl);
    const char *params[] = {user_id, team_id, hex, ttl};
    if (q(req, "SELECT core.refresh_issue($1, $2, $3::bytea, $4)", 4, params, NULL) < 0)
        return -1;
    return pair_out(req, user_id, team_id, level, refresh, out);
}

static const char rotate_sql[] = "SELECT outcome, user_id, team_id, level "
                                 "FROM core.refresh_rotate($1::bytea, $2::bytea, $3)";

int pb_token_rotate(pb_req *req, const char *refresh_token, json_t **out)
{
    unsigned char old[32], h[32];
    char refresh[PB_TOKEN_REFRESH_LEN + 1], oldhex[67], hex[67], ttl[24];
    if (refresh_token == NULL ||
        pb_token_refresh_hash(refresh_token, strlen(refresh_token), old) < 0)
        return 1;
    if (pb_token_refresh_new(refresh, h) < 0)
        return -1;
    hash_hex(old, oldhex);
    hash_hex(h, hex);
    snprintf(ttl, sizeof ttl, "%ld", req->w->cfg->refresh_ttl);
    const char *params[] = {oldhex, hex, ttl};
    json_t *rows = NULL;
    if (q(req, rotate_sql, 3, params, &rows) < 0)
        return -1;
    json_t *row = json_array_get(rows, 0);
    const char *outcome = json_string_value(json_object_get(row, "outcome"));
    int rc;
    if (outcome && strcmp(outcome, "ok") == 0) {
        rc = pair_out(req, json_string_value(json_object_get(row, "user_id")),
                      json_string_value(json_object_get(row, "team_id")),
                      (int)json_integer_value(json_object_get(row, "level")), refresh, out);
    } else {
        /* A spent token came back: the family was revoked, and that must
         * stand even though the request answers with an error. */
        if (outcome && strcmp(outcome, "reused") == 0) {
            pb_log(PB_LOG_WARN, "a rotated refresh token was presented again: family revoked");
            keep(req, true, rotate_sql, 3, params);
        }
        rc = 1;
    }
    json_decref(rows);
    return rc;
}
