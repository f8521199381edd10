/*
 * backups.c - database backups: pg_dump archives made by jobs, listed with
 * their size, status and row counts, verified by restoring them into a
 * scratch database, restored into a new database, downloaded, deleted.
 *
 * The dumping and restoring are the host's (host->backup_*, connected as
 * the owner role, which this module never sees); this module enqueues the
 * jobs that call them, shows the records (backups.backups, which row-level
 * security shows to operators of the installation only) and audits every
 * change. Runs share keys so that one dump runs at a time ("backups"), one
 * verification per backup, one restore at a time.
 */
#include <plugboard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

static const pb_host *host;

#define UTC_TEXT(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "

#define BACKUP_COLUMNS                                                                             \
    "b.id, b.file, b.size, coalesce(pg_size_pretty(b.size), '') AS size_human, b.status, "         \
    "b.error, b.job_id, " UTC_TEXT("b.created_at") "created_at, " UTC_TEXT(                        \
        "b.finished_at") "finished_at, (SELECT count(*) FROM jsonb_object_keys(b.counts))::int "   \
                         "AS tables, (SELECT coalesce(sum(value::bigint), 0) FROM "                \
                         "jsonb_each_text(b.counts))::bigint AS rows, b.counts, "                  \
                         "b.verify_status, " UTC_TEXT("b.verified_at") "verified_at, "             \
                                                                       "b.verify_result,"          \
                                                                       " " UTC_TEXT("b.restored_"  \
                                                                                    "at") "restor" \
                                                                                          "ed_at," \
                                                                                          " b."    \
                                                                                          "restor" \
                                                                                          "e_"     \
                                                                                          "result" \
                                                                                          " FROM " \
                                                                                          "backup" \
                                                                                          "s."     \
                                                                                          "backup" \
                                                                                          "s b "

#define JOB_COLUMNS                                                                                \
    "id, name, status, progress, message, error, payload, " UTC_TEXT(                              \
        "created_at") "created_at "                                                                \
                      "FROM core.jobs "

/* --- Helpers ---------------------------------------------------------------- */

static json_t *rows_of(pb_req *req, const char *sql, int n, const char *const *params)
{
    json_t *rows = NULL;
    return host->db_query(req, sql, n, params, &rows) < 0 ? NULL : rows;
}

/* Does the client want JSON rather than a page to follow? */
static bool wants_json(pb_req *req)
{
    const char *accept = host->header(req, "Accept");
    return host->bearer(req) || (accept && strstr(accept, "application/json"));
}

/* Ends a change: 202 (or 200) with the model for API clients, else a
 * flash and a redirect. */
static int answer(pb_req *req, int status, const char *flash, const char *to)
{
    if (wants_json(req))
        return status;
    host->flash(req, "success", flash);
    return host->redirect(req, 303, to);
}

/* Refuses with status and a message (field errors, if any, go along). */
static int refuse(pb_req *req, int status, const char *message)
{
    json_object_set_new(host->model(req), "message", json_string(message));
    return status;
}

/* Reads route :id. Returns it, or 0 (answer 404). */
static long long route_id(pb_req *req, char text[24])
{
    long long id = 0;
    if (host->input_int(req, "id", PB_REQUIRED, 1, INT64_MAX, &id) != PB_OK)
        return 0;
    snprintf(text, 24, "%lld", id);
    return id;
}

/* Loads backup :id into *row (caller owns). PB_OK, 404, PB_ERROR. */
static int load(pb_req *req, char text[24], json_t **row)
{
    *row = NULL;
    if (route_id(req, text) == 0)
        return refuse(req, 404, "There is no such backup.");
    const char *p[] = {text};
    json_t *rows = rows_of(req, "SELECT " BACKUP_COLUMNS "WHERE b.id = $1", 1, p);
    if (rows == NULL)
        return PB_ERROR;
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *row ? PB_OK : refuse(req, 404, "There is no such backup.");
}

/* Enqueues job name with payload under key and audits action on backup id
 * (NULL: none). Puts "job_id" in the model. Returns the run id or -1. */
static long long enqueue(pb_req *req, const char *name, json_t *payload, const char *key,
                         const char *action, const char *id)
{
    long long job = host->job_enqueue(req, name, payload, key, 0);
    if (job <= 0)
        return -1;
    json_t *after = json_pack("{s:s, s:I, s:O}", "job", name, "job_id", (json_int_t)job, "payload",
                              payload ? payload : json_null());
    int rc = host->audit(req, action, "backup", id, NULL, after, 0);
    json_decref(after);
    json_object_set_new(host->model(req), "job_id", json_integer(job));
    return rc == PB_OK ? job : -1;
}

/* --- Pages -------------------------------------------------------------------- */

/* GET /backups - the backups, the backup runs in progress, the schedules. */
static int list(pb_req *req)
{
    json_t *m = host->model(req);
    json_t *backups =
        rows_of(req, "SELECT " BACKUP_COLUMNS "ORDER BY b.created_at DESC, b.id DESC", 0, NULL);
    json_t *jobs = rows_of(req,
                           "SELECT " JOB_COLUMNS "WHERE team_id = core.tid() AND name LIKE "
                           "'backups.%' AND status IN ('queued', 'running') ORDER BY id DESC",
                           0, NULL);
    json_t *schedules = rows_of(req,
                                "SELECT id, cron, timezone, enabled, last_error, " UTC_TEXT(
                                    "next_run_at") "next_run_at FROM core.job_schedules "
                                                   "WHERE name = 'backups.dump' AND "
                                                   "team_id = core.tid() ORDER BY id",
                                0, NULL);
    json_t *b;
    size_t i;
    json_array_foreach(backups, i, b)
    {
        const char *st = json_string_value(json_object_get(b, "status"));
        json_object_set_new(b, "done", json_boolean(st && strcmp(st, "done") == 0));
        json_object_set_new(b, "running", json_boolean(st && strcmp(st, "running") == 0));
        json_object_del(b, "counts"); /* per-table figures are in GET /backups/:id/verify */
    }
    json_object_set_new(m, "backups", backups ? backups : json_array());
    json_object_set_new(m, "jobs", jobs ? jobs : json_array());
    json_object_set_new(m, "schedules", schedules ? schedules : json_array());
    /* Every backups route is an operator's (system:backups). */
    json_object_set_new(m, "can_manage", json_true());
    return backups && jobs && schedules ? 200 : PB_ERROR;
}

/* POST /backups - a dump now (one at a time: while one is queued or
 * running, its run is answered). */
static int create(pb_req *req)
{
    if (enqueue(req, "backups.dump", NULL, "backups", "backup.request", NULL) < 0)
        return PB_ERROR;
    return answer(req, 202, "The backup is queued; it appears here when it is done.", "/backups");
}

/* The verification state of backup row: {backup: {id, verify_status,
 * verified_at, verify_result, counts}, job: the run in progress or null}. */
static int fill_verify(pb_req *req, json_t *row, const char *id, json_t **job)
{
    char key[48];
    snprintf(key, sizeof key, "backups.verify:%s", id);
    const char *p[] = {key};
    json_t *jobs = rows_of(req,
                           "SELECT " JOB_COLUMNS "WHERE team_id = core.tid() AND key = $1 AND "
                           "status IN ('queued', 'running') ORDER BY id DESC LIMIT 1",
                           1, p);
    if (jobs == NULL)
        return PB_ERROR;
    *job = json_incref(json_array_get(jobs, 0));
    json_decref(jobs);
    json_t *m = host->model(req);
    json_object_set(m, "backup", row);
    json_object_set(m, "job", *job ? *job : json_null());
    return PB_OK;
}

/* Enqueues a verification of backup id (key per backup). */
static long long enqueue_verify(pb_req *req, const char *id)
{
    char key[48];
    snprintf(key, sizeof key, "backups.verify:%s", id);
    json_t *payload = json_pack("{s:I}", "id", (json_int_t)strtoll(id, NULL, 10));
    long long job = enqueue(req, "backups.verify", payload, key, "backup.verify_request", id);
    json_decref(payload);
    return job;
}

/* GET /backups/:id/verify - the last verification's outcome and the
 * verification in progress, if any (202 while one is queued or running).
 * It never starts one: the host refuses to enqueue from a safe method (a
 * GET is not CSRF-checked and must change nothing); POST starts it. */
static int verify_state(pb_req *req)
{
    char id[24];
    json_t *row = NULL, *job = NULL;
    int rc = load(req, id, &row);
    if (rc != PB_OK)
        return rc;
    rc = fill_verify(req, row, id, &job);
    json_decref(row);
    bool running = job != NULL;
    json_decref(job);
    if (rc != PB_OK)
        return rc;
    if (!wants_json(req))
        return host->redirect(req, 303, "/backups");
    return running ? 202 : 200;
}

/* POST /backups/:id/verify - verifies (again) now. */
static int verify(pb_req *req)
{
    char id[24];
    json_t *row = NULL;
    int rc = load(req, id, &row);
    if (rc != PB_OK)
        return rc;
    bool done = strcmp(json_string_value(json_object_get(row, "status")), "done") == 0;
    json_decref(row);
    if (!done)
        return refuse(req, 409, "Only a completed backup can be verified.");
    if (enqueue_verify(req, id) < 0)
        return PB_ERROR;
    return answer(req, 202, "The verification is queued.", "/backups");
}

/* POST /backups/:id/restore - target "new" (default) with name: restores
 * into a new database. In-place restore is not offered. */
static int restore(pb_req *req)
{
    char id[24];
    json_t *row = NULL;
    int rc = load(req, id, &row);
    if (rc != PB_OK)
        return rc;
    bool done = strcmp(json_string_value(json_object_get(row, "status")), "done") == 0;
    json_decref(row);
    const char *target = "new", *name = NULL;
    host->input_str(req, "target", 0, 1, 20, &target);
    if (strcmp(target, "new") != 0) {
        host->input_fail(req, "target",
                         "in-place restore is not available; restore to a new "
                         "database and switch [database] conninfo");
        return refuse(req, 400,
                      "In-place restore is not available; restore to a new database and switch "
                      "[database] conninfo.");
    }
    if (host->input_str(req, "name", PB_REQUIRED, 1, 41, &name) == PB_OK) {
        bool ok = (name[0] >= 'a' && name[0] <= 'z');
        for (const char *c = name; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok)
            host->input_fail(req, "name",
                             "must start with a lowercase letter and hold only lowercase "
                             "letters, digits and underscores");
    }
    if (!host->input_errors(req)) {
        const char *p[] = {name};
        json_t *rows = rows_of(req, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p);
        if (rows == NULL)
            return PB_ERROR;
        if (json_array_size(rows) > 0)
            host->input_fail(req, "name", "a database of that name exists");
        json_decref(rows);
    }
    if (host->input_errors(req))
        return refuse(req, 422, "The database name needs attention.");
    if (!done)
        return refuse(req, 409, "Only a completed backup can be restored.");
    json_t *payload =
        json_pack("{s:I, s:s}", "id", (json_int_t)strtoll(id, NULL, 10), "name", name);
    long long job =
        enqueue(req, "backups.restore", payload, "backups.restore", "backup.restore_request", id);
    json_decref(payload);
    if (job < 0)
        return PB_ERROR;
    return answer(req, 202, "The restore is queued.", "/backups");
}

/* DELETE /backups/:id, POST /backups/:id/delete - the file and the record. */
static int delete (pb_req *req)
{
    char id[24];
    if (route_id(req, id) == 0)
        return refuse(req, 404, "There is no such backup.");
    json_t *gone = NULL;
    int rc = host->backup_delete(req, strtoll(id, NULL, 10), &gone);
    if (rc == PB_ABSENT)
        return refuse(req, 404, "There is no such backup.");
    if (rc == PB_INVALID)
        return refuse(req, 409, "A backup in progress cannot be deleted.");
    if (rc != PB_OK)
        return PB_ERROR;
    rc = host->audit(req, "backup.delete", "backup", id, gone, NULL, 0);
    json_object_set_new(host->model(req), "deleted", gone);
    if (rc != PB_OK)
        return PB_ERROR;
    return answer(req, 200, "The backup is deleted.", "/backups");
}

/* GET /backups/:id/download - the archive, streamed by the host. */
static int download(pb_req *req)
{
    char id[24];
    if (route_id(req, id) == 0)
        return refuse(req, 404, "There is no such backup.");
    int rc = host->backup_send(req, strtoll(id, NULL, 10));
    if (rc == PB_ABSENT)
        return refuse(req, 404, "There is no such completed backup.");
    if (rc != PB_OK)
        return PB_ERROR;
    /* Not audited: the host refuses audit rows from a safe method (GET);
     * nginx's access log has the request. */
    return 200;
}

/* POST /backups/schedule - cron, timezone: the team's schedule for dumps. */
static int schedule(pb_req *req)
{
    const char *cron = NULL, *zone = "UTC";
    char why[200];
    pb_cron c;
    if (host->input_str(req, "cron", PB_REQUIRED, 1, 100, &cron) == PB_OK &&
        pb_cron_parse(cron, &c, why, sizeof why) < 0)
        host->input_fail(req, "cron", why);
    if (host->input_str(req, "timezone", 0, 1, 64, &zone) == PB_OK && !pb_cron_zone_valid(zone))
        host->input_fail(req, "timezone", "is not a time zone name (such as UTC or Europe/Berlin)");
    if (host->input_errors(req))
        return refuse(req, 422, "The schedule needs attention.");
    const char *p[] = {"backups.dump", cron, zone};
    json_t *rows = rows_of(req, "SELECT core.schedule_add($1, $2, $3) AS id", 3, p);
    if (rows == NULL)
        return PB_ERROR;
    json_t *sid = json_object_get(json_array_get(rows, 0), "id");
    if (json_is_null(sid) || sid == NULL) {
        json_decref(rows);
        return refuse(req, 503, "The scheduler has not registered the backup job yet.");
    }
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(sid));
    json_object_set_new(host->model(req), "schedule_id", json_incref(sid));
    json_decref(rows);
    json_t *after =
        json_pack("{s:s, s:s, s:s}", "name", "backups.dump", "cron", cron, "timezone", zone);
    int rc = host->audit(req, "job_schedule.create", "job_schedule", text, NULL, after, 0);
    json_decref(after);
    if (rc != PB_OK)
        return PB_ERROR;
    return answer(req, 201, "The backup schedule is added.", "/backups");
}

/* --- Jobs ---------------------------------------------------------------------- */

/* Reads the payload's backup id into text. Returns it, or 0. */
static long long payload_id(pb_req *req, char text[24])
{
    long long id = json_integer_value(json_object_get(host->job_payload(req), "id"));
    snprintf(text, 24, "%lld", id);
    return id;
}

/* Ends a run: the outcome in its progress message and the audit log. */
static int finish_run(pb_req *req, const char *action, const char *id, json_t *out,
                      const char *message)
{
    host->job_progress(req, 100, message);
    int rc = host->audit(req, action, "backup", id, NULL, out, 0);
    json_decref(out);
    return rc == PB_OK ? PB_OK : PB_ERROR;
}

/* backups.dump: pg_dump now; retention follows. */
static int run_dump(pb_req *req)
{
    json_t *out = NULL;
    if (host->backup_run(req, &out) != PB_OK) {
        const char *why = json_string_value(json_object_get(out, "error"));
        host->log(req, PB_LOG_ERROR, "backup failed: %s", why ? why : "unknown error");
        json_decref(out);
        return PB_ERROR; /* retried: a dump in progress, an outage */
    }
    char id[24], msg[160];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(out, "id")));
    json_t *expired = json_object_get(out, "expired"), *e;
    size_t i;
    json_array_foreach(expired, i, e)
    {
        char old[24];
        snprintf(old, sizeof old, "%lld", (long long)json_integer_value(e));
        json_t *why = json_pack("{s:s, s:s}", "reason", "retention", "by", id);
        int rc = host->audit(req, "backup.expire", "backup", old, why, NULL, 0);
        json_decref(why);
        if (rc != PB_OK) {
            json_decref(out);
            return PB_ERROR;
        }
    }
    snprintf(msg, sizeof msg, "backup #%s: %lld tables, %lld rows", id,
             (long long)json_integer_value(json_object_get(out, "tables")),
             (long long)json_integer_value(json_object_get(out, "rows")));
    return finish_run(req, "backup.create", id, out, msg);
}

/* backups.verify {id}: restore into a scratch database and compare. */
static int run_verify(pb_req *req)
{
    char id[24], msg[160];
    json_t *out = NULL;
    int rc = host->backup_verify(req, payload_id(req, id), &out);
    if (rc == PB_ABSENT || rc == PB_INVALID) {
        json_decref(out);
        host->job_progress(req, 100, "the backup is gone or incomplete: nothing to verify");
        return PB_OK;
    }
    if (rc != PB_OK) {
        json_decref(out);
        return PB_ERROR;
    }
    bool ok = json_is_true(json_object_get(out, "ok"));
    snprintf(msg, sizeof msg, "backup #%s %s: %zu mismatched tables", id,
             ok ? "verified" : "FAILED", json_array_size(json_object_get(out, "mismatches")));
    return finish_run(req, "backup.verify", id, out, msg);
}

/* backups.restore {id, name}: into a new database. */
static int run_restore(pb_req *req)
{
    char id[24], msg[200];
    const char *name = json_string_value(json_object_get(host->job_payload(req), "name"));
    json_t *out = NULL;
    int rc = host->backup_restore(req, payload_id(req, id), name, &out);
    if (rc == PB_ABSENT || rc == PB_INVALID) {
        const char *why = json_string_value(json_object_get(out, "error"));
        snprintf(msg, sizeof msg, "not restored: %s", why ? why : "the backup is gone");
        json_decref(out);
        host->job_progress(req, 100, msg);
        return PB_OK; /* retrying would answer the same */
    }
    if (rc != PB_OK) {
        json_decref(out);
        return PB_ERROR;
    }
    snprintf(msg, sizeof msg, "restored into %s: %s", name ? name : "",
             json_is_true(json_object_get(out, "ok")) ? "row counts equal" : "row counts DIFFER");
    return finish_run(req, "backup.restore", id, out, msg);
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->backup_run == NULL || h->job_enqueue == NULL) {
        snprintf(err, errlen, "host function table too old: no backups");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/backups", list, "system:backups", 0, "backups/list"},
    {PB_POST, "/backups", create, "system:backups", 0, "backups/list"},
    {PB_POST, "/backups/schedule", schedule, "system:backups", 0, "backups/list"},
    {PB_GET, "/backups/:id/verify", verify_state, "system:backups", 0, "backups/list"},
    {PB_POST, "/backups/:id/verify", verify, "system:backups", 0, "backups/list"},
    {PB_POST, "/backups/:id/restore", restore, "system:backups", 0, "backups/list"},
    {PB_GET, "/backups/:id/download", download, "system:backups", 0, "backups/list"},
    {PB_DELETE, "/backups/:id", delete, "system:backups", 0, "backups/list"},
    {PB_POST, "/backups/:id/delete", delete, "system:backups", 0, "backups/list"},
    {0},
};

static const pb_nav nav[] = {
    {"Backups", "/backups", "system:backups", 80},
    {0},
};

static const pb_job jobs[] = {
    {"dump", NULL, run_dump},
    {"verify", NULL, run_verify},
    {"restore", NULL, run_restore},
    {0},
};

static const pb_permission permissions[] = {
    {"system:backups", "Operators: make, verify, restore, download, delete and schedule the "
                       "installation's backups"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "backups",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .jobs = jobs,
    .permissions = permissions,
    .init = init,
};
