/*
 * jobs.h - the job functions of the host API: enqueueing (in a handler's
 * transaction) and, inside a run, its payload, id and progress. The
 * scheduler (scheduler.c) claims and runs what is enqueued.
 */
#ifndef PB_JOBS_H
#define PB_JOBS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "module.h"
#include "plugboard.h"

/* Base of the retry back-off: a failed attempt n runs again after
 * PB_JOB_RETRY_BASE * 2^n seconds. */
#define PB_JOB_RETRY_BASE 10

/* One run in progress, the pb_req's job: who enqueued it (the database
 * context and the identity host functions report), its payload, and a
 * second connection, in autocommit, for what must be seen outside the
 * run's transaction (progress, the failure of an attempt). */
typedef struct pb_job_run {
    long long id;
    int attempt;
    char name[128];
    const pb_job *def;
    const char *module;
    json_t *payload;
    char user[40], team[40], real[40], level[12]; /* "" when none */
    const char *conninfo;
    PGconn *side; /* opened on first use */
} pb_job_run;

/* Finds a loaded job by its full name "<module>.<job>". Returns it (and
 * its module's name in *module), or NULL. */
const pb_job *pb_job_find(const pb_modset *ms, const char *name, const char **module);

/* host->job_enqueue: see include/plugboard.h. */
long long pb_job_enqueue(pb_req *req, const char *name, json_t *payload, const char *key,
                         long delay);

/* host->job_progress: see include/plugboard.h. */
int pb_job_progress(pb_req *req, int percent, const char *message);

/* Runs one statement on the run's side connection (connecting first when
 * needed) and copies the first value of the first row into out (may be
 * NULL). Returns 0, or -1 after logging the error. */
int pb_job_side(pb_job_run *run, const char *sql, int n, const char *const *params, char *out,
                size_t outlen);

/* Closes the side connection. */
void pb_job_side_close(pb_job_run *run);

#endif
