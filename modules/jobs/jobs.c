/*
 * jobs.c - the team's job runs and schedules.
 *
 * Runs are enqueued by handlers (host->job_enqueue) and run by the host's
 * scheduler process; this module shows them (status, progress, error,
 * attempts), puts dead runs back in the queue, and lets a team add and
 * remove cron schedules for the jobs modules declare. Rows are read
 * directly (row-level security limits them to the team); changes go
 * through core's SECURITY DEFINER functions, which take the team from the
 * request's context. Cron expressions and zones are checked with the
 * host's cron code, compiled in (src/cron.c).
 */
#include <plugboard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

static const pb_host *host;

#define UTC_TEXT(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "

#define JOB_COLUMNS                                                                                             \
    "j.id, j.name, j.status, j.progress, j.message, j.error, j.attempts, j.max_attempts, j.key, "               \
    "j.payload, u.display_name AS enqueued_by, " UTC_TEXT("j.created_at") "created_at, " UTC_TEXT(              \
        "j.run_at") "run_at, " UTC_TEXT("j.started_at") "started_at, " UTC_TEXT("j.finished_at") "finished_at " \
                                                                                                 "FROM core.jobs j LEFT JOIN core.users u ON u.id = j.user_id "

static const char *const statuses[] = {"queued", "running", "done", "dead", NULL};

/* --- Reading ------------------------------------------------------------------ */

/* Runs sql and returns its rows (the caller owns them), or NULL. */
static json_t *rows_of(pb_req *req, const char *sql, int n, const char *const *params)
{
    json_t *rows = NULL;
    return host->db_query(req, sql, n, params, &rows) < 0 ? NULL : rows;
}

/* Adds the flags templates test: active (queued or running) and dead. */
static void flag_job(json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    bool active = st && (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0);
    json_object_set_new(job, "active", json_boolean(active));
    json_object_set_new(job, "dead", json_boolean(st && strcmp(st, "dead") == 0));
}

/* Does the viewer hold jobs:manage in the team? (-1: the database failed.) */
static int can_manage(pb_req *req)
{
    json_t *rows = rows_of(req,
                           "SELECT EXISTS (SELECT 1 FROM core.user_roles ur "
                           "JOIN core.role_permissions rp ON rp.role_id = ur.role_id "
                           "JOIN core.memberships m ON m.team_id = ur.team_id "
                           "AND m.user_id = ur.user_id AND m.status = 'active' "
                           "WHERE ur.user_id = core.uid() AND ur.team_id = core.tid() "
                           "AND rp.permission = 'jobs:manage') AS ok",
                           0, NULL);
    if (rows == NULL)
        return -1;
    int ok = json_is_true(json_object_get(json_array_get(rows, 0), "ok"));
    json_decref(rows);
    return ok;
}

/* Fills the list page: counts per status, the latest runs (of one status
 * when filtered), the schedules the team sees and the jobs it may
 * schedule. Returns PB_OK or PB_ERROR. */
static int fill_list(pb_req *req, const char *status)
{
    json_t *m = host->model(req);
    const char *p[] = {status};
    json_t *counts =
        rows_of(req,
                "SELECT s.status, count(j.id)::int AS n "
                "FROM unnest(ARRAY['queued', 'running', 'done', 'dead']) "
                "WITH ORDINALITY AS s(status, k) "
                "LEFT JOIN core.jobs j ON j.status = s.status AND j.team_id = core.tid() "
                "GROUP BY s.status, s.k ORDER BY s.k",
                0, NULL);
    json_t *jobs = rows_of(req,
                           "SELECT " JOB_COLUMNS "WHERE j.team_id = core.tid() "
                           "AND ($1::text IS NULL OR j.status = $1) "
                           "ORDER BY j.created_at DESC, j.id DESC LIMIT 100",
                           1, p);
    json_t *schedules =
        rows_of(req,
                "SELECT s.id, s.name, s.cron, s.timezone, s.source, s.enabled, "
                "s.last_error, " UTC_TEXT("s.next_run_at") "next_run_at, " UTC_TEXT(
                    "s.last_run_at") "last_run_at, "
                                     "s.source = 'user' AS removable FROM core.job_schedules s "
                                     "WHERE s.team_id = core.tid() OR s.team_id IS NULL "
                                     "ORDER BY s.source, s.name, s.id",
                0, NULL);
    json_t *defs = rows_of(req, "SELECT name FROM core.job_defs ORDER BY name", 0, NULL);
    int manage = can_manage(req);
    json_t *job;
    size_t i;
    json_array_foreach(jobs, i, job) flag_job(job);
    json_object_set_new(m, "counts", counts ? counts : json_array());
    json_object_set_new(m, "jobs", jobs ? jobs : json_array());
    json_object_set_new(m, "schedules", schedules ? schedules : json_array());
    json_object_set_new(m, "job_names", defs ? defs : json_array());
    json_object_set_new(m, "filter", status ? json_string(status) : json_null());
    json_object_set_new(m, "can_manage", json_boolean(manage > 0));
    return counts && jobs && schedules && defs && manage >= 0 ? PB_OK : PB_ERROR;
}

/* --- Pages -------------------------------------------------------------------- */

/* GET /jobs - status: queued | running | done | dead (optional). */
static int list(pb_req *req)
{
    const char *status = NULL;
    if (host->input_str(req, "status", 0, 1, 10, &status) == PB_OK) {
        bool known = false;
        for (int i = 0; statuses[i]; i++)
            known = known || strcmp(status, statuses[i]) == 0;
        if (!known) {
            host->input_fail(req, "status", "must be queued, running, done or dead");
            status = NULL;
        }
    }
    if (fill_list(req, status) != PB_OK)
        return PB_ERROR;
    return host->input_errors(req) ? 400 : 200;
}

/* Loads the team's run :id into the model as "job". Returns PB_OK, 404,
 * or PB_ERROR. */
static int load_job(pb_req *req, json_t **job)
{
    long long id = 0;
    if (host->input_int(req, "id", PB_REQUIRED, 1, INT64_MAX, &id) != PB_OK)
        return 404;
    char text[24];
    snprintf(text, sizeof text, "%lld", id);
    const char *p[] = {text};
    json_t *rows =
        rows_of(req, "SELECT " JOB_COLUMNS "WHERE j.id = $1 AND j.team_id = core.tid()", 1, p);
    if (rows == NULL)
        return PB_ERROR;
    *job = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (*job == NULL) {
        json_object_set_new(host->model(req), "message", json_string("There is no such job run."));
        return 404;
    }
    flag_job(*job);
    json_object_set(host->model(req), "job", *job);
    return PB_OK;
}

/* GET /jobs/:id - one run; pages poll its JSON for the progress bar. */
static int show(pb_req *req)
{
    json_t *job = NULL;
    int rc = load_job(req, &job);
    json_decref(job);
    if (rc != PB_OK)
        return rc;
    int manage = can_manage(req);
    if (manage < 0)
        return PB_ERROR;
    json_object_set_new(host->model(req), "can_manage", json_boolean(manage));
    return 200;
}

/* POST /jobs/:id/retry - a dead run goes back to the queue. */
static int retry(pb_req *req)
{
    json_t *job = NULL;
    int rc = load_job(req, &job);
    if (rc != PB_OK) {
        json_decref(job);
        return rc;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(job, "id")));
    const char *p[] = {id};
    json_t *rows = rows_of(req, "SELECT core.job_retry($1) AS ok", 1, p);
    bool ok = rows && json_is_true(json_object_get(json_array_get(rows, 0), "ok"));
    json_decref(rows);
    if (rows == NULL) {
        json_decref(job);
        return PB_ERROR;
    }
    if (!ok) {
        json_decref(job);
        json_object_set_new(host->model(req), "message",
                            json_string("Only a dead run can be retried, and only while no other "
                                        "run with its key is queued or running."));
        host->input_fail(req, "id", "cannot be retried now");
        return 409;
    }
    json_t *before =
        json_pack("{s:O, s:O, s:O}", "status", json_object_get(job, "status"), "attempts",
                  json_object_get(job, "attempts"), "error", json_object_get(job, "error"));
    json_t *after = json_pack("{s:s, s:i}", "status", "queued", "attempts", 0);
    rc = host->audit(req, "job.retry", "job", id, before, after, 0);
    json_decref(before);
    json_decref(after);
    json_decref(job);
    if (rc != PB_OK)
        return PB_ERROR;
    host->flash(req, "success", "The run is queued again.");
    char to[48];
    snprintf(to, sizeof to, "/jobs/%s", id);
    return host->redirect(req, 303, to);
}

/* --- Schedules ------------------------------------------------------------------ */

/* POST /jobs/schedules - name, cron, timezone: the team's own schedule
 * for a declared job. Invalid fields re-render the list with 422. */
static int add_schedule(pb_req *req)
{
    const char *name = NULL, *cron = NULL, *zone = NULL;
    char why[200];
    pb_cron c;
    host->input_str(req, "name", PB_REQUIRED, 1, 120, &name);
    if (host->input_str(req, "cron", PB_REQUIRED, 1, 100, &cron) == PB_OK &&
        pb_cron_parse(cron, &c, why, sizeof why) < 0)
        host->input_fail(req, "cron", why);
    if (host->input_str(req, "timezone", PB_REQUIRED, 1, 64, &zone) == PB_OK &&
        !pb_cron_zone_valid(zone))
        host->input_fail(req, "timezone", "is not a time zone name (such as UTC or Europe/Berlin)");
    json_t *form = json_pack("{s:s?, s:s?, s:s?}", "name", name, "cron", cron, "timezone", zone);
    json_object_set_new(host->model(req), "form", form);
    json_t *rows = NULL;
    if (!host->input_errors(req)) {
        const char *p[] = {name, cron, zone};
        if ((rows = rows_of(req, "SELECT core.schedule_add($1, $2, $3) AS id", 3, p)) == NULL)
            return PB_ERROR;
        if (json_is_null(json_object_get(json_array_get(rows, 0), "id")))
            host->input_fail(req, "name", "is not a job any loaded module declares");
    }
    if (host->input_errors(req)) {
        json_decref(rows);
        return fill_list(req, NULL) == PB_OK ? 422 : PB_ERROR;
    }
    json_t *id = json_object_get(json_array_get(rows, 0), "id");
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(id));
    json_object_set_new(host->model(req), "id", json_incref(id));
    json_decref(rows);
    if (host->audit(req, "job_schedule.create", "job_schedule", text, NULL, form, 0) != PB_OK)
        return PB_ERROR;
    host->flash(req, "success", "The schedule is added; its first run time is computed shortly.");
    return host->redirect(req, 303, "/jobs");
}

/* POST /jobs/schedules/:id/delete - removes one of the team's schedules. */
static int remove_schedule(pb_req *req)
{
    long long id = 0;
    if (host->input_int(req, "id", PB_REQUIRED, 1, INT64_MAX, &id) != PB_OK)
        return 404;
    char text[24];
    snprintf(text, sizeof text, "%lld", id);
    const char *p[] = {text};
    json_t *rows = rows_of(req,
                           "SELECT name, cron, timezone FROM core.job_schedules "
                           "WHERE id = $1 AND team_id = core.tid() AND source = 'user'",
                           1, p);
    json_t *removed = rows ? rows_of(req, "SELECT core.schedule_remove($1) AS ok", 1, p) : NULL;
    if (rows == NULL || removed == NULL) {
        json_decref(rows);
        return PB_ERROR;
    }
    bool ok = json_is_true(json_object_get(json_array_get(removed, 0), "ok"));
    json_decref(removed);
    int rc = ok ? host->audit(req, "job_schedule.delete", "job_schedule", text,
                              json_array_get(rows, 0), NULL, 0)
                : PB_OK;
    json_decref(rows);
    if (!ok) {
        json_object_set_new(host->model(req), "message",
                            json_string("There is no such schedule of this team."));
        return 404;
    }
    if (rc != PB_OK)
        return PB_ERROR;
    host->flash(req, "success", "The schedule is removed.");
    return host->redirect(req, 303, "/jobs");
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->job_enqueue == NULL) {
        snprintf(err, errlen, "host function table too old: no jobs");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/jobs", list, "jobs:read", 0, "jobs/list"},
    {PB_GET, "/jobs/:id", show, "jobs:read", 0, "jobs/show"},
    {PB_POST, "/jobs/:id/retry", retry, "jobs:manage", 0, "jobs/show"},
    {PB_POST, "/jobs/schedules", add_schedule, "jobs:manage", 0, "jobs/list"},
    {PB_POST, "/jobs/schedules/:id/delete", remove_schedule, "jobs:manage", 0, "jobs/list"},
    {0},
};

static const pb_nav nav[] = {
    {"Jobs", "/jobs", "jobs:read", 70},
    {0},
};

static const pb_permission permissions[] = {
    {"jobs:read", "See the team's job runs, their progress and schedules"},
    {"jobs:manage", "Retry dead job runs; add and remove the team's job schedules"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "jobs",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
