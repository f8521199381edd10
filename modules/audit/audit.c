/*
 * audit.c - the team's audit trail: who did what, to which resource, from
 * where, and what changed.
 *
 * Rows are written by the host (host->audit, through core.audit_write);
 * this module only reads them. Row-level security already limits the
 * application role to the current team's rows; the queries repeat
 * `team_id = core.tid()` so PostgreSQL can use the (team_id, at, id) and
 * (actor_id, at, id) indexes. Pages are keyset-paginated on (at, id),
 * newest first: the cursor is the last row's time in microseconds since
 * the epoch and its id, which stays exact where a timestamp string would
 * depend on formatting.
 */
#include <plugboard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pb_host *host;

#define PAGE_SIZE     50
#define PAGE_SIZE_SQL "51" /* one more than a page: tells whether there is an older page */
/* Cursor times: microseconds from 1970 to the end of 9999. */
#define CURSOR_AT_MAX 253402300799999999LL

/* The filters of one listing, validated. Strings are NULL when not given. */
typedef struct audit_filters {
    const char *user;
    const char *action;
    const char *resource_type;
    const char *resource_id;
    char from[16], to[16]; /* "YYYY-MM-DD" or "" */
    long long cursor_at, cursor_id;
    bool has_cursor;
} audit_filters;

/* --- Reading the filters ----------------------------------------------- */

/* An action as core.audit_log stores it: ^[a-z][a-z0-9_.-]*$. */
static bool action_ok(const char *s)
{
    if (s[0] < 'a' || s[0] > 'z')
        return false;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-")] == '\0';
}

static void date_text(const pb_date *d, char *out, size_t n)
{
    snprintf(out, n, "%04d-%02d-%02d", d->year, d->month, d->day);
}

/* Reads every filter; the user comes from user_field ("user" from the
 * query, or the route's ":id"). Invalid fields are recorded with the host
 * (host->input_errors). */
static void read_filters(pb_req *req, const char *user_field, unsigned user_flags, audit_filters *f)
{
    memset(f, 0, sizeof *f);
    host->input_uuid(req, user_field, user_flags, &f->user);
    if (host->input_str(req, "action", 0, 1, 80, &f->action) == PB_OK && !action_ok(f->action)) {
        host->input_fail(req, "action",
                         "must start with a lower-case letter and use only a-z, 0-9, '.', '_' "
                         "and '-'");
        f->action = NULL;
    }
    host->input_str(req, "resource_type", 0, 1, 80, &f->resource_type);
    host->input_str(req, "resource_id", 0, 1, 200, &f->resource_id);
    pb_date from, to;
    int has_from = host->input_date(req, "from", 0, &from) == PB_OK;
    int has_to = host->input_date(req, "to", 0, &to) == PB_OK;
    if (has_from)
        date_text(&from, f->from, sizeof f->from);
    if (has_to)
        date_text(&to, f->to, sizeof f->to);
    if (has_from && has_to && strcmp(f->to, f->from) < 0) /* same width: text order is date order */
        host->input_fail(req, "to", "must not be before the start date");
    int at = host->input_int(req, "cursor_at", 0, 0, CURSOR_AT_MAX, &f->cursor_at);
    int id = host->input_int(req, "cursor_id", 0, 1, INT64_MAX, &f->cursor_id);
    if (at == PB_OK && id == PB_ABSENT)
        host->input_fail(req, "cursor_id", "is required with cursor_at");
    if (id == PB_OK && at == PB_ABSENT)
        host->input_fail(req, "cursor_at", "is required with cursor_id");
    f->has_cursor = at == PB_OK && id == PB_OK;
}

/* The filters as the view model shows them (and an API client sends them
 * back): absent ones are null. */
static json_t *filters_json(const audit_filters *f)
{
    json_t *cursor = f->has_cursor ? json_pack("{s:I, s:I}", "cursor_at", (json_int_t)f->cursor_at,
                                               "cursor_id", (json_int_t)f->cursor_id)
                                   : json_null();
    const char *match = f->action == NULL                         ? NULL
                        : f->action[strlen(f->action) - 1] == '.' ? "prefix"
                                                                  : "exact";
    return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "user", f->user, "action",
                     f->action, "action_match", match, "resource_type", f->resource_type,
                     "resource_id", f->resource_id, "from", f->from[0] ? f->from : NULL, "to",
                     f->to[0] ? f->to : NULL, "cursor", cursor);
}

/* --- The team's members, for the user filter ------------------------------ */

/* Sets "members": [{id, name, selected}] in the model. Returns PB_OK or
 * PB_ERROR. */
static int load_members(pb_req *req, const char *selected)
{
    json_t *rows = NULL, *row;
    size_t i;
    if (host->db_query(req,
                       "SELECT u.id::text AS id, u.display_name AS name "
                       "FROM core.memberships m JOIN core.users u ON u.id = m.user_id "
                       "WHERE m.team_id = core.tid() ORDER BY lower(u.display_name), u.id",
                       0, NULL, &rows) < 0)
        return PB_ERROR;
    json_array_foreach(rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "id"));
        json_object_set_new(row, "selected",
                            json_boolean(selected && id && strcmp(id, selected) == 0));
    }
    json_object_set_new(host->model(req), "members", rows);
    return PB_OK;
}

/* --- The entries ---------------------------------------------------------- */

/* One statement per index: the team's trail, or one actor's within it.
 * Parameters: $1 action (exact, or a prefix when it ends in '.'), $2
 * resource type, $3 resource id, $4 from and $5 to (dates, inclusive, UTC),
 * $6 and $7 the cursor (rows strictly older than it), $8 the actor. */
#define ENTRIES_SQL(scope)                                                                         \
    "SELECT l.id, to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at, "   \
    "CASE WHEN l.actor_id IS NOT NULL "                                                            \
    "THEN json_build_object('id', l.actor_id, 'name', a.display_name) END AS actor, "              \
    "CASE WHEN l.real_actor_id IS NOT NULL AND l.real_actor_id IS DISTINCT FROM l.actor_id "       \
    "THEN json_build_object('id', l.real_actor_id, 'name', r.display_name) END AS real_actor, "    \
    "l.action, nullif(l.resource_type, '') AS resource_type, "                                     \
    "nullif(l.resource_id, '') AS resource_id, l.diff, host(l.ip) AS ip, "                         \
    "nullif(l.user_agent, '') AS user_agent, "                                                     \
    "(extract(epoch FROM l.at) * 1000000)::bigint AS cursor_at "                                   \
    "FROM core.audit_log l "                                                                       \
    "LEFT JOIN core.users a ON a.id = l.actor_id "                                                 \
    "LEFT JOIN core.users r ON r.id = l.real_actor_id "                                            \
    "WHERE " scope " "                                                                             \
    "AND ($1::text IS NULL OR l.action = $1 "                                                      \
    "     OR (right($1, 1) = '.' AND starts_with(l.action, $1))) "                                 \
    "AND ($2::text IS NULL OR l.resource_type = $2) "                                              \
    "AND ($3::text IS NULL OR l.resource_id = $3) "                                                \
    "AND ($4::date IS NULL OR l.at >= $4::date::timestamp AT TIME ZONE 'UTC') "                    \
    "AND ($5::date IS NULL OR l.at < ($5::date + 1)::timestamp AT TIME ZONE 'UTC') "               \
    "AND ($6::bigint IS NULL OR (l.at, l.id) < "                                                   \
    "     (timestamptz 'epoch' + $6::bigint * interval '1 microsecond', $7::bigint)) "             \
    "ORDER BY l.at DESC, l.id DESC LIMIT " PAGE_SIZE_SQL

static const char team_sql[] = ENTRIES_SQL("l.team_id = core.tid()");
static const char actor_sql[] = ENTRIES_SQL("l.actor_id = $8::uuid AND l.team_id = core.tid()");

/* A value of a diff as the page shows it: strings as they are, anything
 * else as compact JSON. NULL for a key that is not there. */
static json_t *display_value(json_t *v)
{
    if (v == NULL)
        return NULL;
    if (json_is_string(v))
        return json_incref(v);
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_t *out = s ? json_string(s) : NULL;
    free(s);
    return out;
}

static void add_change(json_t *changes, const char *key, json_t *before, json_t *after)
{
    json_t *c = json_pack("{s:s}", "key", key);
    json_t *b = display_value(before), *a = display_value(after);
    if (b)
        json_object_set_new(c, "before", b);
    if (a)
        json_object_set_new(c, "after", a);
    json_array_append_new(changes, c);
}

/* The keys a diff {"before", "after"} changes: objects compare key by key
 * (added, removed and changed keys); other values make one row. */
static json_t *diff_changes(json_t *diff)
{
    json_t *before = json_object_get(diff, "before"), *after = json_object_get(diff, "after");
    json_t *changes = json_array(), *v;
    const char *key;
    bool objects = (before == NULL || json_is_null(before) || json_is_object(before)) &&
                   (after == NULL || json_is_null(after) || json_is_object(after));
    if (!objects) {
        if (!json_equal(before, after))
            add_change(changes, "", before, after);
        return changes;
    }
    json_object_foreach(before, key, v)
    {
        json_t *a = json_object_get(after, key);
        if (a == NULL || !json_equal(v, a))
            add_change(changes, key, v, a);
    }
    json_object_foreach(after, key, v) if (json_object_get(before, key) == NULL)
        add_change(changes, key, NULL, v);
    return changes;
}

/* Sets "entries" and "next" (the cursor of the next older page, or null).
 * Returns PB_OK or PB_ERROR. */
static int load_entries(pb_req *req, const audit_filters *f)
{
    char at[24], id[24];
    snprintf(at, sizeof at, "%lld", f->cursor_at);
    snprintf(id, sizeof id, "%lld", f->cursor_id);
    const char *params[] = {f->action,
                            f->resource_type,
                            f->resource_id,
                            f->from[0] ? f->from : NULL,
                            f->to[0] ? f->to : NULL,
                            f->has_cursor ? at : NULL,
                            f->has_cursor ? id : NULL,
                            f->user};
    json_t *rows = NULL, *row, *next = json_null();
    int n = host->db_query(req, f->user ? actor_sql : team_sql, f->user ? 8 : 7, params, &rows);
    if (n < 0)
        return PB_ERROR;
    if (json_array_size(rows) > PAGE_SIZE) {
        json_array_remove(rows, PAGE_SIZE);
        json_t *last = json_array_get(rows, PAGE_SIZE - 1);
        next = json_pack("{s:O, s:O}", "cursor_at", json_object_get(last, "cursor_at"), "cursor_id",
                         json_object_get(last, "id"));
    }
    size_t i;
    json_array_foreach(rows, i, row)
    {
        json_object_del(row, "cursor_at");
        json_object_set_new(row, "changes", diff_changes(json_object_get(row, "diff")));
    }
    json_t *m = host->model(req);
    json_object_set_new(m, "entries", rows);
    json_object_set_new(m, "next", next);
    return PB_OK;
}

/* --- Handlers ----------------------------------------------------------------- */

/* The listing behind both routes: user_field names where the actor filter
 * comes from. Invalid filters answer 400 with the form and its errors. */
static int listing(pb_req *req, const char *user_field, unsigned user_flags)
{
    audit_filters f;
    read_filters(req, user_field, user_flags, &f);
    json_object_set_new(host->model(req), "filters", filters_json(&f));
    if (load_members(req, f.user) != PB_OK)
        return PB_ERROR;
    if (host->input_errors(req))
        return 400;
    return load_entries(req, &f) == PB_OK ? 200 : PB_ERROR;
}

/* GET /audit-logs - the team's trail, newest first, filtered. */
static int list(pb_req *req)
{
    return listing(req, "user", 0);
}

/* GET /audit-logs/user/:id - one member's actions in the team. */
static int by_user(pb_req *req)
{
    return listing(req, "id", PB_REQUIRED);
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host)) {
        snprintf(err, errlen, "host function table too old");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/audit-logs", list, "audit:read", 0, "audit/list"},
    {PB_GET, "/audit-logs/user/:id", by_user, "audit:read", 0, "audit/list"},
    {0},
};

static const pb_nav nav[] = {
    {"Audit log", "/audit-logs", "audit:read", 80},
    {0},
};

static const pb_permission permissions[] = {
    {"audit:read", "Read the team's audit trail"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "audit",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
