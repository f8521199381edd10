/*
 * plugboard.h - the module ABI. The only header a Plugboard module includes.
 *
 * A module is a shared object (modules/<name>.so) that exports one symbol,
 * PB_MODULE_SYMBOL ("pb_module_descriptor"), a `const pb_module` describing
 * it. The host loads it with dlopen(RTLD_NOW | RTLD_LOCAL), checks
 * abi_version, and calls init() with a table of host functions (pb_host).
 * Modules never link against host symbols: everything they need from the
 * host comes through that table, so the host can change inside without
 * relinking a module, and a module built for another ABI is refused with a
 * clear message instead of crashing.
 *
 * Compatibility rule: within one PB_ABI_VERSION the host only appends
 * members to pb_host and to the descriptor structs; a change to anything
 * that exists bumps PB_ABI_VERSION.
 *
 * See docs/modules.md for a walk-through of writing a module.
 */
#ifndef PLUGBOARD_H
#define PLUGBOARD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PB_ABI_VERSION   1
#define PB_MODULE_SYMBOL "pb_module_descriptor"

/* Exports the descriptor: `PB_MODULE = { .abi_version = PB_ABI_VERSION, ... };` */
#define PB_MODULE __attribute__((visibility("default"))) const pb_module pb_module_descriptor

/* One request in flight. Opaque to modules; valid only during the call. */
typedef struct pb_req pb_req;

/* ------------------------------------------------------------------------
 * Return values of host functions and accessors.
 * ------------------------------------------------------------------------ */
enum {
    PB_OK = 0,
    PB_ABSENT = 1,   /* optional input not given */
    PB_INVALID = -1, /* input present but invalid; an error was recorded */
    PB_ERROR = -2,   /* a service failed (database, Redis, out of memory) */
};

/* ------------------------------------------------------------------------
 * Routes.
 * ------------------------------------------------------------------------ */
enum pb_method {
    PB_GET = 1 << 0, /* also answers HEAD */
    PB_POST = 1 << 1,
    PB_PUT = 1 << 2,
    PB_PATCH = 1 << 3,
    PB_DELETE = 1 << 4,
};

enum pb_route_flags {
    /* Reachable without a permission. A route that names no permission and
     * is not PB_PUBLIC is refused at load: deny is the default. */
    PB_PUBLIC = 1 << 0,
    /* Answers JSON only, never an HTML page (no template needed). */
    PB_JSON_ONLY = 1 << 1,
    /* Not mirrored under /api/v1. */
    PB_NO_API = 1 << 2,
};

/* A handler fills the request's view model (host->model) and returns the
 * HTTP status: 200, 201, 303 after host->redirect, 400 after an input error,
 * 404... A status >= 400 without a body of its own gets the standard error
 * page (HTML) or error object (JSON). Returning PB_ERROR answers 500 and
 * rolls back. */
typedef int (*pb_handler)(pb_req *req);

typedef struct pb_route {
    unsigned methods;    /* pb_method bits */
    const char *pattern; /* "/crm/leads/:id": literal segments and :params */
    pb_handler handler;
    const char *permission; /* "resource:action", or NULL with PB_PUBLIC */
    unsigned flags;         /* pb_route_flags */
    const char *template;   /* "crm/lead" renders templates/crm/lead.mustache */
} pb_route;

/* ------------------------------------------------------------------------
 * Extension points filled by later features. Arrays are terminated by an
 * entry whose first member is NULL.
 * ------------------------------------------------------------------------ */
typedef struct pb_nav {
    const char *label;
    const char *href;
    const char *permission;
    int order;
} pb_nav;

typedef struct pb_widget {
    const char *id;
    const char *title;
    pb_handler fill; /* fills the model like a handler */
    const char *template;
    const char *permission;
} pb_widget;

typedef struct pb_search_provider {
    const char *name;
    pb_handler search; /* reads input "q", fills model "results" */
    const char *permission;
} pb_search_provider;

typedef struct pb_job {
    const char *name;
    const char *cron; /* NULL for jobs that are only enqueued */
    pb_handler run;
} pb_job;

typedef struct pb_permission {
    const char *name; /* "crm:read" */
    const char *description;
} pb_permission;

/* Permissions on the resource "system" ("system:backups", "system:logs")
 * are the installation's, not a team's: only operators of the installation
 * hold them, whatever their role in any team. No team role can be granted
 * one, and the host's guard admits a route that asks for one only for an
 * operator. Everything that spans teams (backups, modules, the system log,
 * the cache, host-wide jobs) asks for one. */
#define PB_INSTALLATION_RESOURCE "system:"

static inline bool pb_permission_is_installation(const char *name)
{
    const char *p = PB_INSTALLATION_RESOURCE;
    while (*p && name && *name == *p)
        name++, p++;
    return *p == '\0';
}

typedef struct pb_host pb_host;

/* ------------------------------------------------------------------------
 * The descriptor a module exports.
 * ------------------------------------------------------------------------ */
typedef struct pb_module {
    uint32_t abi_version; /* PB_ABI_VERSION the module was built for */
    const char *name;     /* [a-z][a-z0-9_]*, matches modules/<name>.so */
    const char *version;
    const char *const *depends; /* NULL-terminated module names, or NULL */
    const pb_route *routes;     /* terminated by an entry with pattern NULL */
    const pb_nav *nav;
    const pb_widget *widgets;
    const pb_search_provider *search;
    const pb_job *jobs;
    const pb_permission *permissions;
    /* Called once per worker after load. Returns 0, or -1 after writing the
     * reason into err; the module is then not loaded. May be NULL. */
    int (*init)(const pb_host *host, char *err, size_t errlen);
    /* Called before the worker exits. May be NULL. */
    void (*fini)(void);
} pb_module;

/* A calendar date as validated input. */
typedef struct pb_date {
    int year, month, day;
} pb_date;

enum pb_log_level { PB_LOG_ERROR, PB_LOG_WARN, PB_LOG_INFO, PB_LOG_DEBUG };

enum pb_input_flags {
    PB_REQUIRED = 1 << 0,
};

enum pb_audit_flags {
    PB_AUDIT_KEEP = 1 << 0, /* kept even when the request rolls back */
};

/* Options of a Set-Cookie; zeroed means a session cookie on path "/" that is
 * HttpOnly, SameSite=Lax, and Secure when the request came over TLS. */
typedef struct pb_cookie_opts {
    long max_age;         /* seconds; 0 = session cookie; < 0 deletes */
    const char *path;     /* default "/" */
    bool script_readable; /* omit HttpOnly */
} pb_cookie_opts;

/* ------------------------------------------------------------------------
 * Host functions. A module receives a pointer to this table in init() and
 * keeps it. Every function taking a pb_req may only be called during that
 * request. Strings returned stay valid until the request ends unless said
 * otherwise.
 * ------------------------------------------------------------------------ */
struct pb_host {
    uint32_t abi_version; /* PB_ABI_VERSION of the host */
    size_t size;          /* sizeof(pb_host) of the host, for appended members */

    /* --- Logging ------------------------------------------------------- */

    /* Writes one structured log line, tagged with the module and, when req
     * is not NULL, the request's route. */
    void (*log)(pb_req *req, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

    /* --- The request --------------------------------------------------- */

    /* Returns "GET", "POST", ... ("GET" for a HEAD request). */
    const char *(*method)(pb_req *req);
    /* Returns the path without the query string, percent-decoding not applied. */
    const char *(*path)(pb_req *req);
    /* Returns a request header by name (case-insensitive, "User-Agent"),
     * or NULL. */
    const char *(*header)(pb_req *req, const char *name);
    /* Returns the raw value of a route :param, query field, form field or
     * cookie, or NULL. Prefer the typed accessors below for anything used. */
    const char *(*param)(pb_req *req, const char *name);
    const char *(*query)(pb_req *req, const char *name);
    const char *(*form)(pb_req *req, const char *name);
    const char *(*cookie)(pb_req *req, const char *name);
    /* Returns the parsed JSON body (borrowed), or NULL when there is none. */
    json_t *(*json_body)(pb_req *req);
    /* Returns an uploaded file's stored path, its client-given name and
     * size, or PB_ABSENT. The file is removed when the request ends. */
    int (*upload)(pb_req *req, const char *name, const char **path, const char **filename,
                  size_t *size);

    /* --- Typed input ----------------------------------------------------
     * Each looks the name up in route params, then the body, then the query.
     * Returns PB_OK with *out set; PB_ABSENT when missing and not
     * PB_REQUIRED (*out untouched); PB_INVALID after recording a per-field
     * message (see input_errors). */
    int (*input_str)(pb_req *req, const char *name, unsigned flags, size_t minlen, size_t maxlen,
                     const char **out);
    int (*input_int)(pb_req *req, const char *name, unsigned flags, long long min, long long max,
                     long long *out);
    int (*input_bool)(pb_req *req, const char *name, unsigned flags, bool *out);
    int (*input_uuid)(pb_req *req, const char *name, unsigned flags, const char **out);
    int (*input_email)(pb_req *req, const char *name, unsigned flags, const char **out);
    int (*input_date)(pb_req *req, const char *name, unsigned flags, pb_date *out);
    /* Returns the field-name -> message object of recorded errors
     * (borrowed), or NULL when there are none. */
    json_t *(*input_errors)(pb_req *req);

    /* --- The response ---------------------------------------------------- */

    /* Returns the view model: a JSON object owned by the request that the
     * handler fills. It is rendered through the route's template or sent
     * as JSON. */
    json_t *(*model)(pb_req *req);
    /* Renders a different template than the route's. */
    void (*set_template)(pb_req *req, const char *name);
    /* Adds a response header. Names and values containing CR or LF are
     * refused (returns PB_INVALID). */
    int (*set_header)(pb_req *req, const char *name, const char *value);
    /* Adds a Set-Cookie. Returns PB_OK or PB_INVALID for a bad name/value. */
    int (*set_cookie)(pb_req *req, const char *name, const char *value, const pb_cookie_opts *opts);
    /* Arranges a redirect to a local path ("/x", never "//host") and
     * returns the status to return from the handler (303 by default, or
     * the given 301/302/303/307/308); PB_INVALID for an off-site target. */
    int (*redirect)(pb_req *req, int status, const char *location);
    /* Sends body as-is with the given content type, bypassing templates.
     * The body is copied. Returns PB_OK or PB_ERROR. */
    int (*send)(pb_req *req, const char *content_type, const char *body, size_t len);

    /* --- Services -------------------------------------------------------- */

    /* Runs one parameterised statement ($1..$n, all parameters as text or
     * NULL for SQL NULL) and, when rows is not NULL, sets *rows to a new
     * JSON array of row objects (ints, floats, bools, json/jsonb as JSON;
     * everything else as strings) that the caller owns. Statements are
     * prepared once per connection and reused. Returns the number of rows
     * (or rows affected), or PB_ERROR after logging the database's message. */
    int (*db_query)(pb_req *req, const char *sql, int nparams, const char *const *params,
                    json_t **rows);
    /* Returns PB_OK when PostgreSQL answers, else PB_ERROR with a reason
     * written to err. */
    int (*db_ping)(pb_req *req, char *err, size_t errlen);
    /* Returns PB_OK when Redis answers PING, else PB_ERROR with a reason. */
    int (*redis_ping)(pb_req *req, char *err, size_t errlen);

    /* --- The operator's view -------------------------------------------- */

    /* Returns a new JSON object describing the process group: workers with
     * their state, per-route counters and latency histograms, uptime.
     * Caller owns it. */
    json_t *(*status)(pb_req *req);
    /* Appends the Prometheus text exposition of the same figures to the
     * response body as text/plain; version=0.0.4. Returns PB_OK or PB_ERROR. */
    int (*send_metrics)(pb_req *req);
    /* Returns the JSON array of the loaded modules: name, version, route
     * count and routes (methods, pattern, permission or "public").
     * Borrowed and read-only: json_object_set() it into a model. */
    json_t *(*modules)(pb_req *req);

    /* --- Identity and session (appended in ABI 1) -------------------------
     * Sessions live in Redis and are loaded on first use. Functions that
     * return int answer PB_ERROR when Redis is unavailable. */

    /* Returns the signed-in user's id and current team id, or NULL. */
    const char *(*user_id)(pb_req *req);
    const char *(*team_id)(pb_req *req);
    /* Signs user_id in to team_id with a role level: a fresh session id
     * and CSRF token (the old session is discarded). */
    int (*login)(pb_req *req, const char *user_id, const char *team_id, int role_level);
    /* Signs out: the session is deleted and the cookie cleared. */
    int (*logout)(pb_req *req);
    /* Returns the CSRF token every form must send back as the field
     * _csrf (or header X-CSRF-Token); starts a session if needed. */
    const char *(*csrf_token)(pb_req *req);
    /* Queues a message for the next page shown: kind is "info",
     * "success" or "error". */
    int (*flash)(pb_req *req, const char *kind, const char *text);
    /* Module data kept in the session, as strings; value NULL deletes. */
    const char *(*session_get)(pb_req *req, const char *key);
    int (*session_set)(pb_req *req, const char *key, const char *value);

    /* Records message as the error of field name, as the typed accessors
     * do (the first error per field wins), for checks only the module can
     * make: "this e-mail address is taken". Returns PB_INVALID. */
    int (*input_fail)(pb_req *req, const char *name, const char *message);

    /* Rate limits kept in Redis. A class names the limit configured in
     * [ratelimit] ("login"); key is what is counted (an e-mail address;
     * NULL means the client's address). rate_check returns PB_OK, or
     * PB_INVALID when the limit is reached, with the seconds until it
     * resets in *retry_after (the host also sends Retry-After); rate_hit
     * counts one event. Both answer PB_ERROR when Redis is unavailable. */
    int (*rate_check)(pb_req *req, const char *cls, const char *key, long *retry_after);
    int (*rate_hit)(pb_req *req, const char *cls, const char *key);
    /* Returns the client's address (REMOTE_ADDR as nginx saw it). */
    const char *(*client_ip)(pb_req *req);

    /* --- Accounts, audit, mail and API tokens (appended in ABI 1) ---------
     * Identity comes from the session cookie or, on API calls, from an
     * "Authorization: Bearer" access token; user_id and team_id answer for
     * both. */

    /* Returns the acting user's role level in the current team (0 when
     * anonymous). */
    int (*role_level)(pb_req *req);
    /* Returns true when the request was authenticated by a bearer token
     * (no session, no CSRF, JSON answers). */
    bool (*bearer)(pb_req *req);
    /* Writes an audit row in the request's transaction: the acting user,
     * the real actor while viewing as, the team, the client's address and
     * user agent come from the request; action ("role.update"), resource
     * type and id (NULL = none) and the state before and after (NULL =
     * none; borrowed) from the caller. With PB_AUDIT_KEEP the row is kept
     * even when the request fails and rolls back (a failed login, a
     * refusal). Returns PB_OK or PB_ERROR. */
    int (*audit)(pb_req *req, const char *action, const char *resource_type,
                 const char *resource_id, json_t *before, json_t *after, unsigned flags);
    /* Drops cached permission sets once the request has committed: those of
     * user_id in every team, or everyone's when user_id is NULL. Call it
     * after any change to roles, role permissions or role assignments. */
    void (*permissions_changed)(pb_req *req, const char *user_id);
    /* Signs user_id out everywhere: deletes every session of theirs (except
     * the current request's when keep_current) and revokes every refresh
     * token of theirs, in the request's transaction. PB_OK or PB_ERROR. */
    int (*revoke_sessions)(pb_req *req, const char *user_id, bool keep_current);
    /* Queues a plain-text e-mail in the outbox, in the request's
     * transaction; the host's mailer sends it over SMTP after commit, with
     * retries. PB_OK, or PB_INVALID for a recipient that is not one
     * address, or PB_ERROR. */
    int (*mail)(pb_req *req, const char *to, const char *subject, const char *text);
    /* The site's public address from [site] public_url, for links in
     * e-mails ("https://example.com", no trailing slash). */
    const char *(*public_url)(pb_req *req);
    /* API tokens. token_issue makes an access token (JWT, HS256) and a
     * refresh token for user_id in team_id at role_level, in a new token
     * family; *out gets a new object {"access_token", "token_type",
     * "expires_in", "refresh_token", "refresh_expires_in"}. token_refresh
     * rotates a refresh token into a new pair in the same family: PB_OK,
     * PB_INVALID when the token is unknown, expired or revoked (a token
     * that was already rotated revokes its whole family: it was copied),
     * PB_ERROR. */
    int (*token_issue)(pb_req *req, const char *user_id, const char *team_id, int role_level,
                       json_t **out);
    int (*token_refresh)(pb_req *req, const char *refresh_token, json_t **out);
    /* "View as": view_as(req, user_id, role_level) makes the session act as
     * user_id in the current team (their permissions, their rows) while
     * pages show a banner and every audit row names the real actor;
     * view_as(req, NULL, 0) returns to the real user. real_user_id returns
     * the real actor while viewing as, else NULL. Cookie sessions only:
     * PB_INVALID for bearer requests. */
    int (*view_as)(pb_req *req, const char *user_id, int role_level);
    const char *(*real_user_id)(pb_req *req);

    /* --- Jobs (appended in ABI 1) ----------------------------------------
     * Jobs are declared in a module's .jobs and named "<module>.<job>".
     * The scheduler process runs them with a request-like pb_req: the host
     * functions for data, audit, mail, cache and logging work as in a
     * handler, in one transaction per run, with the identity of whoever
     * enqueued the job (none for cron runs). A run returns PB_OK (done) or
     * an error (retried with back-off, then dead-lettered). Runs are at
     * least once: design jobs to be idempotent. */

    /* Enqueues a run of job name in the request's transaction (it exists
     * only if the request commits), with payload (borrowed, may be NULL),
     * after delay seconds. key (may be NULL): at most one run per key is
     * queued or running at a time; enqueuing a key that is already queued
     * returns that run's id. Returns the run's id (> 0), or PB_ERROR. */
    long long (*job_enqueue)(pb_req *req, const char *name, json_t *payload, const char *key,
                             long delay);
    /* Inside a job run: its payload (borrowed; an empty object when none)
     * and its id. Outside a run: NULL and 0. */
    json_t *(*job_payload)(pb_req *req);
    long long (*job_id)(pb_req *req);
    /* Inside a job run: reports progress (0..100) and a short message,
     * visible at once to pages (written outside the run's transaction).
     * PB_OK or PB_ERROR. */
    int (*job_progress)(pb_req *req, int percent, const char *message);

    /* --- Cache (appended in ABI 1) ----------------------------------------
     * A cache over Redis, per namespace (a module uses its name), with
     * hit and miss counters per namespace. Values are bytes. Every function
     * answers PB_ERROR when Redis is unavailable: a cache miss, in effect,
     * so callers fall back to computing the value. */

    /* Names: ns is [a-z][a-z0-9_]{0,31}; a key or a tag is 1..200 bytes
     * of UTF-8 without control characters; anything else is PB_INVALID.
     * A change to the cache is not part of the request's transaction, but
     * the host settles it with the transaction: entries stored by a request
     * that rolls back are dropped, and what a request deleted or
     * invalidated is dropped again once it commits (a reader that filled
     * the cache from the data as it was before the commit leaves nothing
     * stale). Invalidate next to the statement that changes the data. */

    /* PB_OK with *value (malloc'd and NUL-terminated for convenience; the
     * caller frees it) and *len (may be NULL) on a hit, PB_ABSENT on a
     * miss. Counts a hit or a miss for ns. */
    int (*cache_get)(pb_req *req, const char *ns, const char *key, char **value, size_t *len);
    /* Stores value for ttl seconds (1..31536000), tagged with the
     * NULL-terminated tags (may be NULL, at most 64) for
     * cache_invalidate_tag. One round trip. */
    int (*cache_set)(pb_req *req, const char *ns, const char *key, const char *value, size_t len,
                     long ttl, const char *const *tags);
    /* PB_OK when the entry was there, PB_ABSENT when it was not. */
    int (*cache_del)(pb_req *req, const char *ns, const char *key);
    /* Drops every entry stored with tag, in any namespace. */
    int (*cache_invalidate_tag)(pb_req *req, const char *tag);

    /* --- The cache, for its operators (appended in ABI 1) -----------------
     * What the cache module's admin page and API use. Every figure is read
     * from Redis. NULL or PB_ERROR when Redis is unavailable. */

    /* Returns a new object: "namespaces" [{namespace, keys, hits, misses,
     * sets, hit_ratio (0..1, null before any lookup), hit_percent}] sorted
     * by name, "totals" (the same fields summed), "tag_sets", and
     * "keys_exact" (false when the key count stopped after examining
     * 200,000 keys). Caller owns it. */
    json_t *(*cache_stats)(pb_req *req);
    /* Returns a new object {reachable: true, version, uptime_seconds,
     * used_memory_human, connected_clients, keyspace_hits, keyspace_misses}
     * from Redis's INFO, or NULL with the reason written to err. */
    json_t *(*cache_server)(pb_req *req, char *err, size_t errlen);
    /* Deletes every entry of namespace ns, or of every namespace (and every
     * tag set) when ns is NULL; with reset_counters also their counters.
     * Nothing outside the cache (sessions, rate limits, permission sets) is
     * touched. Returns the number of entries deleted, PB_INVALID for a bad
     * ns, or PB_ERROR. */
    long long (*cache_clear)(pb_req *req, const char *ns, bool reset_counters);
    /* One entry without counting a lookup: PB_OK with *out a new object
     * {key ("<ns>:<key>"), namespace, name, path (key percent-encoded for
     * one URL path segment), ttl (seconds, null when it never expires),
     * bytes}, PB_ABSENT when there is none, PB_INVALID, PB_ERROR. */
    int (*cache_inspect)(pb_req *req, const char *ns, const char *key, json_t **out);
    /* Sets an entry's TTL to ttl seconds (1..31536000): PB_OK, PB_ABSENT
     * when there is no such entry, PB_INVALID, PB_ERROR. */
    int (*cache_expire)(pb_req *req, const char *ns, const char *key, long ttl);

    /* --- The modules console (appended in ABI 1) ---------------------------
     * What the console module shows and does; admin pages only. */

    /* Returns a new object (caller owns): "modules" [{name, version,
     * build_id (GNU build-id, hex, or null), file, sha256 (of the file, hex),
     * generation, loaded_at (ISO 8601 UTC), state ("active",
     * "quarantined"), requests, errors (5xx), p50_le_ms and p99_le_ms (the
     * upper bound of the histogram bucket holding the quantile; null
     * without requests or past the last bound), p50_text and p99_text
     * ("\u2264 5 ms")}], followed by modules this worker does not run
     * ({name, state "failed" or "disabled", reason?, file?});
     * "generation", "loaded_at", and "master" {reachable, generation} or
     * {reachable: false, message} when the master did not answer within
     * 1 s (states are then those of this worker). */
    json_t *(*module_report)(pb_req *req);
    /* Asks the master to "reload", or to "enable" or "disable" name
     * ([a-z][a-z0-9_]*; takes effect through a new generation), and waits
     * for the answer (up to [modules] start_timeout + 60 s). PB_OK with
     * *reply {ok, generation, took_ms}; PB_INVALID when refused, *reply
     * {error, reason?}; PB_ERROR when the master cannot be reached, *reply
     * {error}. *reply is a new object the caller owns. */
    int (*module_control)(pb_req *req, const char *command, const char *name, json_t **reply);
    /* --- The system log (appended in ABI 1) -------------------------------
     * The host's records ([log] file: one JSON object per line with ts
     * (UTC, "2026-01-02T03:04:05.678Z"), level, role, pid, msg, and fields
     * such as module, route, job and name). */

    /* Searches the log file backwards from its end (or from "before"),
     * reading at most 16 MiB for at most 0.1 s, and returns a new object:
     * "records", the matching records newest first, at most limit (1..500; 0
     * = 500); "more", true when it stopped at limit ("next_before": the next
     * page's "before"); "bounded", true when it stopped at its bound before
     * the file's start ("bound": {"before": the offset to go on from,
     * "until": the time reached, "bytes", "read", "why"}); "configured",
     * false when [log] file is not set (then no records). filter (borrowed,
     * may be NULL) holds optional strings (empty = any): "level" (the least
     * severe shown: "warn" gives warn and error), "role", "module" (equal),
     * "text" (a substring of msg or any field value, ASCII
     * case-insensitive), "since" (inclusive) and "until" (exclusive), UTC
     * times "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]", and "skip" (digits, with
     * until): until becomes inclusive and that many of the newest matches at
     * exactly until are left out, so a next page loses nothing that shared
     * the oldest shown record's millisecond; "before" (digits), a byte
     * offset from an earlier answer. An invalid filter gives {"errors":
     * {field: message}} instead. NULL when the file cannot be read or memory
     * runs out. */
    json_t *(*log_search)(pb_req *req, const json_t *filter, size_t limit);
    /* --- Backups (appended in ABI 1) ---------------------------------------
     * Archives of the whole database made with pg_dump (custom format) into
     * [backups] folder, recorded in backups.backups. The host connects as
     * the owner role ([database] owner_conninfo, which bypasses row-level
     * security and may create databases) and runs pg_dump, pg_restore,
     * createdb and dropdb from [backups] pg_bin without a shell; modules
     * never see that connection string. Every function but backup_run
     * first reads the backup on the request's own connection, so callers
     * act only on backups their row-level security shows (administrators
     * of level 100). Records are written on the owner's connection, outside
     * the request's transaction: they stand even if the request rolls back.
     * The slow ones (run, verify, restore) are meant for job runs. */

    /* Dumps the database: counts every table's rows (all schemas but
     * pg_catalog and information_schema) in the snapshot pg_dump then
     * dumps, records the backup (status running, then done with size and
     * counts, or failed with the error), and deletes the oldest done
     * backups beyond [backups] keep (files and records). At most one dump
     * runs at a time (an advisory lock): a second answers PB_ERROR. *out
     * (may be NULL) gets a new object {id, file, size, tables, rows,
     * expired: [ids]} on PB_OK, {error, step} on PB_ERROR. */
    int (*backup_run)(pb_req *req, json_t **out);
    /* Restores a done backup into a scratch database, counts every table's
     * rows, compares them with the counts recorded at dump time, drops the
     * scratch database and records the outcome (verify_status passed or
     * failed, verified_at, verify_result). PB_OK with *out {ok, tables,
     * rows, mismatches: [{table, expected, found}], error?} (a failed
     * verification is PB_OK with ok false), PB_ABSENT (no such backup
     * visible), PB_INVALID (not done: *out {error}), PB_ERROR. */
    int (*backup_verify)(pb_req *req, long long id, json_t **out);
    /* Restores a done backup into a new database target
     * (^[a-z][a-z0-9_]{0,40}$, must not exist), compares its counts as
     * backup_verify does, keeps it and records restored_at and
     * restore_result. PB_OK with *out {database, ok, tables, rows,
     * mismatches}, PB_ABSENT, PB_INVALID (bad or taken name, backup not
     * done: *out {error}), PB_ERROR (*out {error, step}; a database the
     * failed restore created is dropped). */
    int (*backup_restore)(pb_req *req, long long id, const char *target, json_t **out);
    /* Makes the response the backup's archive, streamed from the file in
     * chunks whatever its size (application/octet-stream, Content-
     * Disposition: attachment): return 200 from the handler. PB_OK,
     * PB_ABSENT (no such done backup, or its file is gone), PB_ERROR. */
    int (*backup_send)(pb_req *req, long long id);
    /* Deletes a backup that is not running: its file and its record.
     * PB_OK with *out (may be NULL) {id, file, status, size, created_at},
     * PB_ABSENT, PB_INVALID (running), PB_ERROR. */
    int (*backup_delete)(pb_req *req, long long id, json_t **out);
};

#endif
