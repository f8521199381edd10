/*
 * jobs.c - enqueueing jobs and reporting a run's progress.
 *
 * Enqueueing is a row in core.jobs written in the caller's transaction
 * (core.job_enqueue takes the team and user from its context), so a run
 * exists only if the request commits; the NOTIFY it sends wakes the
 * scheduler at commit. Progress goes through a second connection of the
 * run's own, so pages see it while the run's transaction is still open.
 */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "request.h"

const pb_job *pb_job_find(const pb_modset *ms, const char *name, const char **module)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    if (dot == NULL)
        return NULL;
    size_t n = (size_t)(dot - name);
    for (size_t i = 0; i < ms->n; i++) {
        const pb_module *m = ms->v[i].desc;
        if (strlen(m->name) != n || strncmp(m->name, name, n) != 0)
            continue;
        for (const pb_job *j = m->jobs; j && j->name; j++)
            if (strcmp(j->name, dot + 1) == 0 && j->run) {
                if (module)
                    *module = m->name;
                return j;
            }
    }
    return NULL;
}

long long pb_job_enqueue(pb_req *req, const char *name, json_t *payload, const char *key,
                         long delay)
{
    const char *who = req->module ? req->module : "-";
    if (pb_job_find(&req->w->modules, name, NULL) == NULL) {
        pb_log(PB_LOG_ERROR, "job_enqueue from %s: no loaded module declares the job \"%s\"", who,
               name ? name : "(null)");
        return PB_ERROR;
    }
    if ((payload && !json_is_object(payload)) || (key && (!key[0] || strlen(key) > 200)) ||
        delay < 0 || delay > 366L * 86400) {
        pb_log(PB_LOG_ERROR,
               "job_enqueue from %s: %s needs an object payload, a key of 1-200 bytes "
               "and a delay of 0 s to a year",
               who, name);
        return PB_ERROR;
    }
    if (req->w->db.read_only) {
        pb_log(PB_LOG_ERROR, "job_enqueue from %s: a safe method (GET) cannot enqueue %s", who,
               name);
        return PB_ERROR;
    }
    char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL, secs[24], max[24];
    if (payload && body == NULL)
        return PB_ERROR;
    snprintf(secs, sizeof secs, "%ld", delay);
    snprintf(max, sizeof max, "%ld", req->w->cfg->job_max_attempts);
    const char *params[] = {name, body, key, secs, max};
    json_t *rows = NULL;
    char err[512];
    long long id = PB_ERROR;
    if (pb_db_query(&req->w->db, "SELECT core.job_enqueue($1, $2::jsonb, $3, $4, $5) AS id", 5,
                    params, &rows, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "job_enqueue %s: %s", name, err);
        if (req->w->db.down || req->w->db.conn == NULL)
            req->down = "database";
    } else {
        id = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
    }
    json_decref(rows);
    free(body);
    return id > 0 ? id : PB_ERROR;
}

/* --- The side connection -------------------------------------------------- */

int pb_job_side(pb_job_run *run, const char *sql, int n, const char *const *params, char *out,
                size_t outlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (run->side == NULL || PQstatus(run->side) != CONNECTION_OK) {
            pb_job_side_close(run);
            const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
            const char *vals[] = {run->conninfo, "5", "plugboard-job", NULL};
            run->side = PQconnectdbParams(keys, vals, 1);
            if (PQstatus(run->side) != CONNECTION_OK) {
                pb_log(PB_LOG_ERROR, "job %lld: database: %s", run->id, PQerrorMessage(run->side));
                pb_job_side_close(run);
                return -1;
            }
        }
        PGresult *r = PQexecParams(run->side, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (out && outlen)
                snprintf(out, outlen, "%s",
                         st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
            PQclear(r);
            return 0;
        }
        pb_log(PB_LOG_ERROR, "job %lld: %s", run->id, PQresultErrorMessage(r));
        PQclear(r);
        if (PQstatus(run->side) == CONNECTION_OK)
            return -1; /* the statement failed, not the connection */
    }
    return -1;
}

void pb_job_side_close(pb_job_run *run)
{
    if (run->side)
        PQfinish(run->side);
    run->side = NULL;
}

int pb_job_progress(pb_req *req, int percent, const char *message)
{
    pb_job_run *run = req->job;
    if (run == NULL)
        return PB_ERROR;
    char id[24], attempt[16], pct[8], ok[8] = "";
    snprintf(id, sizeof id, "%lld", run->id);
    snprintf(attempt, sizeof attempt, "%d", run->attempt);
    snprintf(pct, sizeof pct, "%d", percent < 0 ? 0 : percent > 100 ? 100 : percent);
    const char *params[] = {id, attempt, pct, message ? message : ""};
    if (pb_job_side(run, "SELECT core.job_progress($1, $2, $3, $4)", 4, params, ok, sizeof ok) < 0)
        return PB_ERROR;
    return strcmp(ok, "t") == 0 ? PB_OK : PB_ERROR;
}
