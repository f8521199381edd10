/*
 * scheduler.c - runs jobs from the queue in core.jobs.
 *
 * A process of its own under the master, single-threaded. It loads the
 * same modules as the workers (their jobs are its handlers), records what
 * they declare (core.job_defs, and the modules' cron schedules in the zone
 * of [scheduler] timezone), then loops:
 *
 *   1. reclaims runs whose runner is gone (core.job_reclaim);
 *   2. fires due schedules, computing each next time in its zone;
 *   3. claims due runs (FOR UPDATE SKIP LOCKED) up to [scheduler]
 *      concurrency and runs each in a child process;
 *   4. sleeps until the next run or schedule is due (at most 5 s), woken
 *      early by the NOTIFY an enqueue sends or by a child ending.
 *
 * A child runs one attempt in one transaction, as whoever enqueued it: the
 * job's handler, then core.job_finish, then COMMIT, so the run's effects
 * and its "done" commit together. It keeps its run locked FOR KEY SHARE
 * for the transaction's life; a run no runner holds is lost (its runner
 * died with the scheduler, or its host went away) and goes back to the
 * queue. A child that outlives [scheduler] job_timeout is killed and the
 * attempt counts as failed; failures are retried after 10 s * 2^attempt,
 * then dead-lettered with the error. Runs are therefore at least once, and
 * a run's result is written exactly once when the job keeps its writes in
 * the run's transaction.
 */
#include "scheduler.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "cron.h"
#include "db.h"
#include "hostapi.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "worker.h"

#define MAX_RUNS     64
#define GRACE_S      10   /* after a claim, time for a runner to take its lock */
#define MAX_SLEEP_MS 5000 /* reclaims and schedules are looked at this often at least */
#define LEASE_EXTRA  60   /* a lease outlives the run's timeout by this much */

typedef struct run_slot {
    pid_t pid;
    long long id;
    int attempt;
    int64_t started_ns;
    bool timed_out;
    char name[128];
} run_slot;

typedef struct sched {
    const pb_config *cfg;
    pb_worker w; /* what a run's pb_req needs; its connections are used only by children */
    PGconn *pg;  /* the scheduler's own: bookkeeping and LISTEN */
    int sigfd;
    bool stopping;
    char names[4096]; /* the loaded jobs, as a text[] literal */
    run_slot runs[MAX_RUNS];
    int nruns;
} sched;

/* Logs about one run with the fields job=<run id> and name=<job name>, so
 * the system log finds every record of a run. */
static void __attribute__((format(printf, 4, 5)))
log_run(int level, long long id, const char *name, const char *fmt, ...)
{
    char job[24];
    snprintf(job, sizeof job, "%lld", id);
    const char *fields[] = {"job", job, "name", name, NULL};
    va_list ap;
    va_start(ap, fmt);
    pb_logv(level, fields, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------
 * The scheduler's connection
 * --------------------------------------------------------------------- */

/* Runs sql; returns the result (the caller clears it) or NULL after
 * logging, with the connection dropped when it broke. */
static PGresult *run_sql(sched *s, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    pb_log(PB_LOG_ERROR, "scheduler: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
    return NULL;
}

/* Runs sql for its side effect. Returns 0 or -1. */
static int exec_sql(sched *s, const char *sql, int n, const char *const *params)
{
    PGresult *r = run_sql(s, sql, n, params);
    PQclear(r);
    return r ? 0 : -1;
}

/* A job's own name, as core.jobs stores it after "<module>.": [a-z][a-z0-9_]*,
 * with a handler. */
static bool job_ok(const pb_job *j)
{
    size_t n = strlen(j->name);
    return j->run && n > 0 && n < 64 && j->name[0] >= 'a' && j->name[0] <= 'z' &&
           strspn(j->name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Records every loaded job, and the modules' cron schedules. Returns 0, or
 * -1 when the connection failed. */
static int register_jobs(sched *s)
{
    const pb_modset *ms = &s->w.modules;
    for (size_t i = 0; i < ms->n; i++)
        for (const pb_job *j = ms->v[i].desc->jobs; j && j->name; j++) {
            if (!job_ok(j))
                continue; /* reported when the modules were loaded */
            char name[128], err[200];
            snprintf(name, sizeof name, "%s.%s", ms->v[i].desc->name, j->name);
            pb_cron c;
            const char *cron = j->cron;
            if (cron && pb_cron_parse(cron, &c, err, sizeof err) < 0) {
                pb_log(PB_LOG_ERROR, "job %s: cron \"%s\": %s; not scheduled", name, cron, err);
                cron = NULL;
            }
            const char *p[] = {name, cron, s->cfg->sched_timezone};
            if (exec_sql(s, "SELECT core.job_register($1, $2, $3)", 3, p) < 0 && s->pg == NULL)
                return -1;
        }
    return 0;
}

static int connect_db(sched *s)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {s->cfg->conninfo, "5", "plugboard-scheduler", NULL};
    s->pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        pb_log(PB_LOG_WARN, "scheduler: database: %s", PQerrorMessage(s->pg));
        PQfinish(s->pg);
        s->pg = NULL;
        return -1;
    }
    if (exec_sql(s, "LISTEN pb_jobs", 0, NULL) < 0 || register_jobs(s) < 0 || s->pg == NULL) {
        if (s->pg)
            PQfinish(s->pg);
        s->pg = NULL;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * A run, in the child
 * --------------------------------------------------------------------- */

/* Why an attempt failed, for the run's error column. */
static void failure_reason(pb_req *req, int rc, char *out, size_t n)
{
    const char *said = json_string_value(json_object_get(req->model, "error"));
    if (said && said[0])
        snprintf(out, n, "%s", said);
    else if (req->down)
        snprintf(out, n, "the %s was unavailable", req->down);
    else
        snprintf(out, n, "the job failed (it returned %d)", rc);
}

/* Runs one attempt in this process and exits: 0 when its outcome is
 * recorded (done, or the failure), 1 when the parent must record it. */
static void run_attempt(sched *s, pb_job_run *run) __attribute__((noreturn));
static void run_attempt(sched *s, pb_job_run *run)
{
    pb_worker *w = &s->w;
    pb_req req = {.w = w, .headers = &w->headers, .body = &w->body, .job = run};
    req.method = "JOB";
    req.path = strdup("");
    req.module = run->module;
    req.model = json_object();
    snprintf(req.level, sizeof req.level, "%s", run->level);
    char id[24], attempt[16], err[512], why[1024] = "";
    snprintf(id, sizeof id, "%lld", run->id);
    snprintf(attempt, sizeof attempt, "%d", run->attempt);
    const char *p[] = {id, attempt};
    json_t *rows = NULL;
    pb_db_request_begin(&w->db, run->user, run->team, run->level, run->real, 0);
    /* First statement: take the run's lock, and make sure it is still ours. */
    if (pb_db_query(&w->db, "SELECT core.job_start($1, $2) AS ok", 2, p, &rows, err, sizeof err) <
        0) {
        log_run(PB_LOG_ERROR, run->id, run->name, "job %s (run %s): %s", run->name, id, err);
        exit(1);
    }
    bool mine = json_is_true(json_object_get(json_array_get(rows, 0), "ok"));
    json_decref(rows);
    if (!mine) {
        pb_db_request_end(&w->db, 0, err, sizeof err);
        exit(0); /* reclaimed already: another attempt owns it */
    }
    log_run(PB_LOG_INFO, run->id, run->name, "job %s (run %s, attempt %d) starting", run->name, id,
            run->attempt);
    int rc = run->def->run(&req);
    bool done = rc == PB_OK || (rc >= 200 && rc < 300);
    if (!done)
        failure_reason(&req, rc, why, sizeof why);
    if (done) {
        rows = NULL;
        if (pb_db_query(&w->db, "SELECT core.job_finish($1, $2) AS ok", 2, p, &rows, err,
                        sizeof err) < 0 ||
            !json_is_true(json_object_get(json_array_get(rows, 0), "ok"))) {
            done = false;
            snprintf(why, sizeof why, "%s",
                     rows ? "the run was taken back before it finished" : err);
        }
        json_decref(rows);
    }
    if (pb_db_request_end(&w->db, done, err, sizeof err) < 0) {
        done = false;
        snprintf(why, sizeof why, "%s", err);
    }
    pb_account_settle(&req, done);
    int recorded = done;
    if (done) {
        log_run(PB_LOG_INFO, run->id, run->name, "job %s (run %s) done", run->name, id);
    } else {
        char base[16], status[16] = "";
        snprintf(base, sizeof base, "%d", PB_JOB_RETRY_BASE);
        const char *f[] = {id, attempt, why, base};
        recorded = pb_job_side(run, "SELECT core.job_fail($1, $2, $3, $4)", 4, f, status,
                               sizeof status) == 0;
        log_run(PB_LOG_WARN, run->id, run->name, "job %s (run %s, attempt %d) failed: %s; %s",
                run->name, id, run->attempt, why, status[0] ? status : "not recorded");
    }
    pb_job_side_close(run);
    pb_request_free(&req);
    exit(recorded ? 0 : 1);
}

/* ---------------------------------------------------------------------
 * Claiming and supervising runs
 * --------------------------------------------------------------------- */

static void copy_uuid(char *dst, size_t n, const PGresult *r, int row, int col)
{
    snprintf(dst, n, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static void start_run(sched *s, const PGresult *r, int row)
{
    pb_job_run run = {.conninfo = s->cfg->conninfo};
    run.id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    snprintf(run.name, sizeof run.name, "%s", PQgetvalue(r, row, 1));
    run.payload = json_loads(PQgetvalue(r, row, 2), 0, NULL);
    copy_uuid(run.user, sizeof run.user, r, row, 3);
    copy_uuid(run.team, sizeof run.team, r, row, 4);
    copy_uuid(run.real, sizeof run.real, r, row, 5);
    snprintf(run.level, sizeof run.level, "%s", PQgetvalue(r, row, 6));
    run.attempt = atoi(PQgetvalue(r, row, 7));
    run.def = pb_job_find(&s->w.modules, run.name, &run.module);
    if (run.payload == NULL)
        run.payload = json_object();
    fflush(NULL);
    pid_t pid = run.def ? fork() : -1;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(s->sigfd);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* no run outlives its scheduler */
        prctl(PR_SET_NAME, "pb-job");
        if (getppid() == 1)
            _exit(1);
        run_attempt(s, &run);
    }
    json_decref(run.payload);
    if (pid < 0) {
        char id[24], attempt[16], base[16], why[200];
        snprintf(id, sizeof id, "%lld", run.id);
        snprintf(attempt, sizeof attempt, "%d", run.attempt);
        snprintf(base, sizeof base, "%d", PB_JOB_RETRY_BASE);
        snprintf(why, sizeof why, "%s", run.def ? "fork failed" : "no loaded module has this job");
        const char *p[] = {id, attempt, why, base};
        log_run(PB_LOG_ERROR, run.id, run.name, "job %s (run %s): %s", run.name, id, why);
        exec_sql(s, "SELECT core.job_fail($1, $2, $3, $4)", 4, p);
        return;
    }
    run_slot *slot = &s->runs[s->nruns++];
    *slot = (run_slot){.pid = pid, .id = run.id, .attempt = run.attempt, .started_ns = pb_now_ns()};
    snprintf(slot->name, sizeof slot->name, "%s", run.name);
}

static void claim_runs(sched *s)
{
    long room = s->cfg->sched_concurrency - s->nruns;
    if (room <= 0 || s->stopping || s->pg == NULL)
        return;
    char limit[24], lease[24];
    snprintf(limit, sizeof limit, "%ld", room);
    snprintf(lease, sizeof lease, "%ld", s->cfg->job_timeout + LEASE_EXTRA);
    const char *p[] = {limit, lease, s->names};
    PGresult *r = run_sql(s,
                          "SELECT id, name, payload, user_id, team_id, real_user_id, role_level, "
                          "attempts FROM core.job_claim($1, $2, $3::text[])",
                          3, p);
    for (int i = 0; r && i < PQntuples(r); i++)
        start_run(s, r, i);
    PQclear(r);
}

/* Records how a run's process ended when it could not say so itself. */
static void on_run_exit(sched *s, run_slot *slot, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    char why[200];
    if (slot->timed_out)
        snprintf(why, sizeof why, "timed out after %ld s: killed", s->cfg->job_timeout);
    else if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "the run crashed: signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, sizeof why, "the run ended without recording its outcome (status %d)",
                 WEXITSTATUS(status));
    log_run(PB_LOG_WARN, slot->id, slot->name, "job %s (run %lld, attempt %d): %s", slot->name,
            slot->id, slot->attempt, why);
    char id[24], attempt[16], base[16];
    snprintf(id, sizeof id, "%lld", slot->id);
    snprintf(attempt, sizeof attempt, "%d", slot->attempt);
    snprintf(base, sizeof base, "%d", PB_JOB_RETRY_BASE);
    const char *p[] = {id, attempt, why, base};
    /* Without the database the run stays running, unlocked: reclaimed later. */
    if (s->pg)
        exec_sql(s, "SELECT core.job_fail($1, $2, $3, $4)", 4, p);
}

static void reap_runs(sched *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (int i = 0; i < s->nruns; i++)
            if (s->runs[i].pid == pid) {
                on_run_exit(s, &s->runs[i], status);
                s->runs[i] = s->runs[--s->nruns];
                break;
            }
}

static void enforce_timeouts(sched *s)
{
    int64_t now = pb_now_ns(), limit = s->cfg->job_timeout * 1000000000LL;
    for (int i = 0; i < s->nruns; i++) {
        run_slot *r = &s->runs[i];
        if (r->timed_out || now - r->started_ns < limit)
            continue;
        r->timed_out = true;
        log_run(PB_LOG_ERROR, r->id, r->name, "job %s (run %lld) ran past %ld s: killed", r->name,
                r->id, s->cfg->job_timeout);
        kill(r->pid, SIGKILL);
    }
}

/* ---------------------------------------------------------------------
 * Schedules
 * --------------------------------------------------------------------- */

/* Fires what is due and plans schedules that have no next time yet. */
static void fire_schedules(sched *s)
{
    if (s->stopping || s->pg == NULL)
        return;
    PGresult *r =
        run_sql(s, "SELECT id, cron, timezone, due, now_epoch FROM core.schedule_due(50)", 0, NULL);
    for (int i = 0; r && s->pg && i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *expr = PQgetvalue(r, i, 1),
                   *zone = PQgetvalue(r, i, 2), *due = PQgetvalue(r, i, 3);
        time_t now = (time_t)strtod(PQgetvalue(r, i, 4), NULL), next = 0;
        char err[200] = "", when[32] = "", max[24];
        pb_cron c;
        if (pb_cron_parse(expr, &c, err, sizeof err) == 0 && pb_cron_next(&c, zone, now, &next) < 0)
            snprintf(err, sizeof err, "no fire time for \"%s\" in the zone \"%s\"", expr, zone);
        if (err[0])
            pb_log(PB_LOG_ERROR, "schedule %s: %s; disabled", id, err);
        else
            snprintf(when, sizeof when, "%lld", (long long)next);
        snprintf(max, sizeof max, "%ld", s->cfg->job_max_attempts);
        const char *p[] = {id, due, err[0] ? NULL : when, err[0] ? err : NULL, max};
        exec_sql(s, "SELECT core.schedule_fire($1, $2, $3, $4, $5)", 5, p);
    }
    PQclear(r);
}

/* ---------------------------------------------------------------------
 * The loop
 * --------------------------------------------------------------------- */

/* Milliseconds to sleep: until the next due run or schedule, at most
 * MAX_SLEEP_MS, at most a second while runs are in flight (timeouts). */
static int sleep_ms(sched *s)
{
    int ms = s->nruns > 0 ? 1000 : MAX_SLEEP_MS;
    if (s->pg == NULL)
        return 1000;
    if (s->stopping || s->nruns >= s->cfg->sched_concurrency)
        return ms;
    const char *p[] = {s->names};
    PGresult *r = run_sql(s, "SELECT core.job_next_due($1::text[])", 1, p);
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        double due = strtod(PQgetvalue(r, 0, 0), NULL) * 1000;
        ms = due < ms ? (int)due + 1 : ms;
    }
    PQclear(r);
    return ms;
}

/* Waits up to ms for a notification, a child's end or a signal. A
 * notification libpq already read while it ran an earlier statement (an
 * enqueue committed during the loop's queries) counts at once: polling the
 * socket would not see it. */
static void wait_for_work(sched *s, int ms)
{
    if (s->pg && pb_db_drain_notifies(s->pg) > 0)
        return;
    struct pollfd p[2] = {{s->sigfd, POLLIN, 0}, {s->pg ? PQsocket(s->pg) : -1, POLLIN, 0}};
    if (poll(p, 2, ms) <= 0)
        return;
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            s->stopping = true;
    if (s->pg && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (PQconsumeInput(s->pg))
            pb_db_drain_notifies(s->pg);
        else if (PQstatus(s->pg) != CONNECTION_OK) {
            PQfinish(s->pg); /* the database went away: the loop reconnects */
            s->pg = NULL;
        }
    }
}

static void load_report(void *ctx, const char *path, int event, const char *reason)
{
    (void)ctx;
    if (event == PB_LOAD_REFUSED)
        pb_log(PB_LOG_ERROR, "module %s failed to load in the scheduler: %s", path, reason);
}

/* Loads modules and templates as a worker does; lists the loaded jobs. */
static void load_modules(sched *s, const pb_pathlist *plan)
{
    char err[512];
    pb_worker *w = &s->w;
    w->cfg = s->cfg;
    w->tpl = pb_templates_load(s->cfg, err, sizeof err);
    if (w->tpl == NULL) {
        pb_log(PB_LOG_ERROR, "templates: %s", err);
        exit(1);
    }
    pb_module_load_all(&w->modules, plan, pb_hostapi(), w->tpl, load_report, NULL);
    w->modules_json = pb_metrics_modules(&w->modules);
    /* A run's statements may take as long as the run may. */
    pb_db_init(&w->db, s->cfg->conninfo, s->cfg->job_timeout);
    pb_kv_init(&w->kv, s->cfg->redis_socket, s->cfg->redis_host, (int)s->cfg->redis_port,
               (int)s->cfg->redis_timeout);
    size_t len = 0;
    int njobs = 0;
    s->names[len++] = '{';
    for (size_t i = 0; i < w->modules.n; i++)
        for (const pb_job *j = w->modules.v[i].desc->jobs; j && j->name; j++) {
            if (!job_ok(j)) {
                pb_log(PB_LOG_ERROR,
                       "module %s: job \"%s\" needs a name of [a-z][a-z0-9_]* (at most 63 "
                       "bytes) and a handler; not run",
                       w->modules.v[i].desc->name, j->name);
                continue;
            }
            int k = snprintf(s->names + len, sizeof s->names - len, "%s\"%s.%s\"", njobs ? "," : "",
                             w->modules.v[i].desc->name, j->name);
            if (k < 0 || (size_t)k >= sizeof s->names - len - 2) {
                pb_log(PB_LOG_ERROR, "too many jobs: %s.%s and later ones are not run",
                       w->modules.v[i].desc->name, j->name);
                break;
            }
            len += (size_t)k;
            njobs++;
        }
    s->names[len++] = '}';
    s->names[len] = '\0';
    pb_log(PB_LOG_INFO, "scheduler: %d job(s) from %zu module(s), %ld at once", njobs, w->modules.n,
           s->cfg->sched_concurrency);
}

void pb_scheduler_main(const pb_config *cfg, const pb_pathlist *plan)
{
    pb_log_role("scheduler");
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "pb-scheduler");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pid_t master = getppid();
    static sched s; /* large: kept off the stack */
    s.cfg = cfg;
    s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s.sigfd < 0 || master == 1)
        exit(1);
    load_modules(&s, plan);
    while (!s.stopping || s.nruns > 0) {
        if (getppid() != master)
            break;
        reap_runs(&s);
        enforce_timeouts(&s);
        if (!s.stopping && s.pg == NULL)
            connect_db(&s);
        if (!s.stopping && s.pg) {
            char grace[16];
            snprintf(grace, sizeof grace, "%d", GRACE_S);
            const char *p[] = {grace};
            exec_sql(&s, "SELECT core.job_reclaim($1)", 1, p);
            fire_schedules(&s);
            claim_runs(&s);
        }
        wait_for_work(&s, sleep_ms(&s));
    }
    if (s.pg)
        PQfinish(s.pg);
    pb_modset_free(&s.w.modules);
    exit(0);
}
