/*
 * backup.c - pg_dump archives of the whole database, their verification
 * and restores (host->backup_*).
 *
 * A dump runs in the owner's REPEATABLE READ transaction: the snapshot is
 * exported, every table's rows are counted in it, and pg_dump --snapshot
 * dumps exactly what was counted. Verifying restores the archive into a
 * scratch database and counts again; restoring does the same into a new,
 * named database that stays. Records live in backups.backups, written on
 * the owner's connection (the application role only reads them, admins
 * only, through row-level security); every entry point first looks the
 * backup up on the request's own connection, so a caller sees and touches
 * only what its row-level security lets it read.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "jobs.h"
#include "log.h"
#include "request.h"

#define ERR_MAX 1000 /* bytes of a tool's stderr kept as the error */

/* Every table of every schema but the catalogs, with its rows counted in
 * the transaction's snapshot. The statement per table is built by the
 * server with format('%I'): nothing from outside enters it. */
static const char count_sql[] =
    "SELECT n.nspname || '.' || c.relname AS t, "
    "(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', "
    "n.nspname, c.relname), false, true, '')))[1]::text::bigint AS n "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' ORDER BY 1";

/* --- Connections and tools ---------------------------------------------- */

static void one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

/* Connects as the owner, to database dbname instead of the configured one
 * when not NULL. */
static PGconn *owner_connect(const pb_config *cfg, const char *dbname, char *err, size_t errlen)
{
    const char *keys[] = {"dbname", "dbname", NULL};
    const char *vals[] = {cfg->owner_conninfo, dbname, NULL};
    if (dbname == NULL)
        keys[1] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect as the owner role: %s", PQerrorMessage(c));
        one_line(err);
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Runs one statement on an owner connection; returns the result when it
 * succeeded (the caller clears it), else NULL with err filled. */
static PGresult *owner_exec(PGconn *c, const char *sql, int n, const char *const *params, char *err,
                            size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    one_line(err);
    PQclear(r);
    return NULL;
}

/* Runs a statement whose result is not needed. 0 or -1. */
static int owner_do(PGconn *c, const char *sql, int n, const char *const *params, char *err,
                    size_t errlen)
{
    PGresult *r = owner_exec(c, sql, n, params, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

/* The owner's connection string as keyword='value' pairs with dbname set
 * to dbname (the configured one when NULL) and the password left out
 * (returned in *password, malloc'd or NULL): what the tools get as
 * --dbname, without exposing a password in the process list. */
static char *tool_conninfo(const pb_config *cfg, const char *dbname, char **password)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->owner_conninfo, &perr);
    PQfreemem(perr);
    *password = NULL;
    if (opts == NULL)
        return NULL;
    size_t cap = 64;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        cap += strlen(o->keyword) + (o->val ? 2 * strlen(o->val) : 0) + 5;
    cap += dbname ? 2 * strlen(dbname) + 12 : 0;
    char *s = malloc(cap), *p = s;
    for (PQconninfoOption *o = opts; s && o->keyword; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "dbname") == 0 && dbname)
            v = dbname;
        if (strcmp(o->keyword, "password") == 0) {
            *password = v ? strdup(v) : NULL;
            continue;
        }
        if (v == NULL)
            continue;
        p += sprintf(p, "%s%s='", p == s ? "" : " ", o->keyword);
        for (; *v; v++) {
            if (*v == '\'' || *v == '\\')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '\'';
        *p = '\0';
    }
    if (s && dbname && strstr(cfg->owner_conninfo, "dbname") == NULL &&
        !strstr(s, "dbname=")) /* the conninfo named no database */
        sprintf(p, "%sdbname='%s'", p == s ? "" : " ", dbname);
    PQconninfoFree(opts);
    return s;
}

/* Runs <pg_bin>/<tool> argv[1..] without a shell, stdout discarded and
 * stderr kept in err. Returns 0 when it exited 0, else -1 (err says why). */
static int run_tool(const pb_config *cfg, const char *tool, char *const argv[],
                    const char *password, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", cfg->pg_bin, tool);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed run takes its tool along */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(fds[1], 2) < 0)
            _exit(127);
        if (password)
            setenv("PGPASSWORD", password, 1);
        execv(path, argv);
        dprintf(2, "cannot run %s: %s", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t take = (size_t)n < errlen - 1 - used ? (size_t)n : errlen - 1 - used;
        memcpy(err + used, buf, take);
        used += take;
    }
    err[used] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    one_line(err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (err[0] == '\0')
        snprintf(err, errlen, "%s %s %d", tool, WIFEXITED(status) ? "exited with" : "killed by",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return -1;
}

/* createdb or dropdb (tool) of database name, connected to the live one. */
static int db_tool(const pb_config *cfg, const char *tool, const char *name, char *err,
                   size_t errlen)
{
    char *password = NULL, *ci = tool_conninfo(cfg, NULL, &password);
    if (ci == NULL) {
        free(password);
        snprintf(err, errlen, "[database] owner_conninfo cannot be parsed");
        return -1;
    }
    size_t n = strlen(ci) + 32;
    char *maint = malloc(n);
    int rc = -1;
    if (maint) {
        snprintf(maint, n, "--maintenance-db=%s", ci);
        char *argv[] = {(char *)tool, maint, "--", (char *)name, NULL};
        rc = run_tool(cfg, tool, argv, password, err, errlen);
    }
    free(maint);
    free(ci);
    free(password);
    return rc;
}

/* pg_restore of the archive file into database name. */
static int restore_into(const pb_config *cfg, const char *file, const char *name, char *err,
                        size_t errlen)
{
    char *password = NULL, *ci = tool_conninfo(cfg, name, &password);
    if (ci == NULL) {
        free(password);
        snprintf(err, errlen, "[database] owner_conninfo cannot be parsed");
        return -1;
    }
    size_t n = strlen(ci) + 16;
    char *dbarg = malloc(n);
    int rc = -1;
    if (dbarg) {
        snprintf(dbarg, n, "--dbname=%s", ci);
        char *argv[] = {"pg_restore",
                        "--exit-on-error",
                        "--single-transaction",
                        "--no-password",
                        dbarg,
                        "--",
                        (char *)file,
                        NULL};
        rc = run_tool(cfg, "pg_restore", argv, password, err, errlen);
    }
    free(dbarg);
    free(ci);
    free(password);
    return rc;
}

/* Counts every table's rows on c: a new object "schema.table" -> n. */
static json_t *count_rows(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = owner_exec(c, count_sql, 0, NULL, err, errlen);
    if (r == NULL)
        return NULL;
    json_t *counts = json_object();
    for (int i = 0; counts && i < PQntuples(r); i++)
        json_object_set_new(counts, PQgetvalue(r, i, 0),
                            json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10)));
    PQclear(r);
    return counts;
}

/* Compares found with expected: {tables, rows, ok, mismatches: [{table,
 * expected, found}]} (null for a table missing on one side). */
static json_t *compare_counts(json_t *expected, json_t *found)
{
    json_t *mism = json_array();
    const char *t;
    json_t *v;
    long long rows = 0;
    json_object_foreach(expected, t, v)
    {
        json_t *f = json_object_get(found, t);
        rows += json_integer_value(v);
        if (f == NULL || json_integer_value(f) != json_integer_value(v))
            json_array_append_new(mism, json_pack("{s:s, s:O, s:O}", "table", t, "expected", v,
                                                  "found", f ? f : json_null()));
    }
    json_object_foreach(found, t, v)
    {
        if (json_object_get(expected, t) == NULL)
            json_array_append_new(mism,
                                  json_pack("{s:s, s:n, s:O}", "table", t, "expected", "found", v));
    }
    return json_pack("{s:I, s:I, s:b, s:o}", "tables", (json_int_t)json_object_size(expected),
                     "rows", (json_int_t)rows, "ok", json_array_size(mism) == 0, "mismatches",
                     mism);
}

/* --- Records --------------------------------------------------------------- */

/* Looks backup id up on the request's connection (row-level security: only
 * administrators see backups): *row gets {id, file, status, counts}.
 * PB_OK, PB_ABSENT, PB_ERROR. */
static int find_backup(pb_req *req, long long id, json_t **row)
{
    char text[24], err[512];
    snprintf(text, sizeof text, "%lld", id);
    const char *p[] = {text};
    json_t *rows = NULL;
    if (pb_db_query(&req->w->db,
                    "SELECT id, file, status, counts FROM backups.backups WHERE id = $1", 1, p,
                    &rows, err, sizeof err) < 0) {
        pb_log(PB_LOG_ERROR, "backups: %s", err);
        return PB_ERROR;
    }
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *row ? PB_OK : PB_ABSENT;
}

/* The archive's path in the folder; file names are checked by the table. */
static void archive_path(const pb_config *cfg, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", cfg->backup_folder, file);
}

static void progress(pb_req *req, int percent, const char *message)
{
    if (req->job)
        pb_job_progress(req, percent, message);
}

/* Answers a failure: *out {error}, logged. */
static int failed(json_t **out, const char *what, const char *err)
{
    pb_log(PB_LOG_ERROR, "backups: %s: %s", what, err);
    if (out) {
        json_decref(*out);
        *out = json_pack("{s:s, s:s}", "error", err, "step", what);
    }
    return PB_ERROR;
}

/* Deletes done backups beyond [backups] keep, oldest first: files and
 * rows. Returns the array of ids removed. */
static json_t *expire(const pb_config *cfg, PGconn *c)
{
    char keep[24], err[512];
    snprintf(keep, sizeof keep, "%ld", cfg->backup_keep);
    const char *p[] = {keep};
    json_t *ids = json_array();
    PGresult *r = owner_exec(c,
                             "DELETE FROM backups.backups WHERE id IN (SELECT id FROM "
                             "backups.backups WHERE status = 'done' "
                             "ORDER BY created_at DESC, id DESC OFFSET $1) RETURNING id, file",
                             1, p, err, sizeof err);
    if (r == NULL) {
        pb_log(PB_LOG_ERROR, "backups: retention: %s", err);
        return ids;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char path[1024];
        archive_path(cfg, PQgetvalue(r, i, 1), path, sizeof path);
        if (unlink(path) < 0 && errno != ENOENT)
            pb_log(PB_LOG_WARN, "backups: cannot remove %s: %s", path, strerror(errno));
        json_array_append_new(ids, json_integer(strtoll(PQgetvalue(r, i, 0), NULL, 10)));
    }
    PQclear(r);
    return ids;
}

/* --- Dump -------------------------------------------------------------------- */

/* Dumps in c's exported snapshot (counted into *counts) to path. */
static int dump_in_snapshot(pb_req *req, PGconn *c, const char *path, json_t **counts, char *err,
                            size_t errlen)
{
    const pb_config *cfg = req->w->cfg;
    if (owner_do(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err, errlen) < 0)
        return -1;
    PGresult *r = owner_exec(c, "SELECT pg_export_snapshot()", 0, NULL, err, errlen);
    if (r == NULL)
        return -1;
    char snap[128];
    snprintf(snap, sizeof snap, "--snapshot=%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    progress(req, 10, "counting rows");
    if ((*counts = count_rows(c, err, errlen)) == NULL)
        return -1;
    progress(req, 30, "dumping");
    char *password = NULL, *ci = tool_conninfo(cfg, NULL, &password);
    size_t n = ci ? strlen(ci) + 16 : 0;
    char *dbarg = ci ? malloc(n) : NULL, *filearg = malloc(strlen(path) + 16);
    int rc = -1;
    if (dbarg && filearg) {
        snprintf(dbarg, n, "--dbname=%s", ci);
        snprintf(filearg, strlen(path) + 16, "--file=%s", path);
        char *argv[] = {"pg_dump", "--format=custom", "--no-password", snap, filearg, dbarg, NULL};
        rc = run_tool(cfg, "pg_dump", argv, password, err, errlen);
    } else {
        snprintf(err, errlen, "[database] owner_conninfo cannot be parsed");
    }
    free(dbarg);
    free(filearg);
    free(ci);
    free(password);
    char ignore[256];
    owner_do(c, "COMMIT", 0, NULL, ignore, sizeof ignore);
    return rc;
}

int pb_backup_run(pb_req *req, json_t **out)
{
    const pb_config *cfg = req->w->cfg;
    char err[ERR_MAX + 24];
    if (out)
        *out = NULL;
    if (mkdir(cfg->backup_folder, 0700) < 0 && errno != EEXIST) {
        snprintf(err, sizeof err, "cannot create %s: %s", cfg->backup_folder, strerror(errno));
        return failed(out, "folder", err);
    }
    PGconn *c = owner_connect(cfg, NULL, err, sizeof err);
    if (c == NULL)
        return failed(out, "connect", err);
    /* One dump at a time, whoever started it (a schedule's runs have keys
     * of their own): a session lock, released when c closes. */
    PGresult *r = owner_exec(c, "SELECT pg_try_advisory_lock(hashtext('plugboard.backups'))", 0,
                             NULL, err, sizeof err);
    bool locked = r && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!locked) {
        PQfinish(c);
        return failed(out, "lock", r ? "another backup is running" : err);
    }
    char job[24];
    snprintf(job, sizeof job, "%lld", req->job ? req->job->id : 0);
    const char *user = req->job && req->job->user[0] ? req->job->user : NULL;
    const char *p[] = {req->job ? job : NULL, user};
    r = owner_exec(c,
                   "INSERT INTO backups.backups (file, job_id, created_by) VALUES "
                   "('pending', $1, $2) RETURNING id, 'plugboard-' || to_char(created_at AT TIME "
                   "ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"') || '-' || id || '.dump'",
                   2, p, err, sizeof err);
    if (r == NULL) {
        PQfinish(c);
        return failed(out, "record", err);
    }
    char id[24], file[256], path[1024], part[1100];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    snprintf(file, sizeof file, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    const char *pf[] = {id, file};
    owner_do(c, "UPDATE backups.backups SET file = $2 WHERE id = $1", 2, pf, err, sizeof err);
    archive_path(cfg, file, path, sizeof path);
    snprintf(part, sizeof part, "%s.part", path);

    json_t *counts = NULL;
    int rc = dump_in_snapshot(req, c, part, &counts, err, sizeof err);
    struct stat st;
    if (rc == 0 && (rename(part, path) < 0 || stat(path, &st) < 0)) {
        snprintf(err, sizeof err, "cannot store %.900s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        unlink(part);
        const char *pe[] = {id, err};
        char ignore[256];
        owner_do(c,
                 "UPDATE backups.backups SET status = 'failed', error = left($2, 2000), "
                 "finished_at = now() WHERE id = $1",
                 2, pe, ignore, sizeof ignore);
        json_decref(counts);
        PQfinish(c);
        return failed(out, "dump", err);
    }
    char size[24];
    snprintf(size, sizeof size, "%lld", (long long)st.st_size);
    char *ctext = json_dumps(counts, JSON_COMPACT);
    const char *pd[] = {id, size, ctext};
    rc = owner_do(c,
                  "UPDATE backups.backups SET status = 'done', size = $2, counts = $3::jsonb, "
                  "finished_at = now() WHERE id = $1",
                  3, pd, err, sizeof err);
    free(ctext);
    if (rc < 0) {
        json_decref(counts);
        unlink(path);
        PQfinish(c);
        return failed(out, "record", err);
    }
    progress(req, 90, "applying retention");
    json_t *expired = expire(cfg, c);
    PQfinish(c);
    long long rows = 0;
    const char *t;
    json_t *v;
    json_object_foreach(counts, t, v) rows += json_integer_value(v);
    if (out)
        *out = json_pack("{s:I, s:s, s:I, s:I, s:I, s:o}", "id", (json_int_t)strtoll(id, NULL, 10),
                         "file", file, "size", (json_int_t)st.st_size, "tables",
                         (json_int_t)json_object_size(counts), "rows", (json_int_t)rows, "expired",
                         expired);
    else
        json_decref(expired);
    json_decref(counts);
    return PB_OK;
}

/* --- Verify and restore ------------------------------------------------------- */

/* Restores backup row into database name (created here; dropped again
 * when drop_after, or when the restore fails) and compares its counts.
 * Returns the comparison, or NULL with err filled. */
static json_t *restore_and_count(pb_req *req, json_t *row, const char *name, bool drop_after,
                                 char *err, size_t errlen)
{
    const pb_config *cfg = req->w->cfg;
    char path[1024];
    archive_path(cfg, json_string_value(json_object_get(row, "file")), path, sizeof path);
    if (access(path, R_OK) < 0) {
        snprintf(err, errlen, "the archive %.900s is missing: %s", path, strerror(errno));
        return NULL;
    }
    progress(req, 10, "creating the database");
    if (db_tool(cfg, "createdb", name, err, errlen) < 0)
        return NULL;
    progress(req, 30, "restoring");
    json_t *result = NULL;
    if (restore_into(cfg, path, name, err, errlen) == 0) {
        progress(req, 80, "counting rows");
        PGconn *c = owner_connect(cfg, name, err, errlen);
        json_t *found = c ? count_rows(c, err, errlen) : NULL;
        PQfinish(c);
        if (found)
            result = compare_counts(json_object_get(row, "counts"), found);
        json_decref(found);
    }
    if (drop_after || result == NULL) {
        char derr[512];
        if (db_tool(cfg, "dropdb", name, derr, sizeof derr) < 0)
            pb_log(PB_LOG_WARN, "backups: cannot drop %s: %s", name, derr);
    }
    return result;
}

/* Writes the outcome of a verification or restore onto the record. */
static void record(const pb_config *cfg, const char *sql, long long id, json_t *result)
{
    char err[512], text[24];
    snprintf(text, sizeof text, "%lld", id);
    char *rtext = json_dumps(result, JSON_COMPACT);
    const char *p[] = {text, rtext};
    PGconn *c = owner_connect(cfg, NULL, err, sizeof err);
    if (c == NULL || owner_do(c, sql, 2, p, err, sizeof err) < 0)
        pb_log(PB_LOG_ERROR, "backups: cannot record the outcome: %s", err);
    PQfinish(c);
    free(rtext);
}

/* Finds a done backup for verify and restore: PB_OK, PB_ABSENT (none
 * visible), PB_INVALID (not done), PB_ERROR. */
static int usable(pb_req *req, long long id, json_t **row, json_t **out)
{
    int rc = find_backup(req, id, row);
    if (rc != PB_OK)
        return rc;
    if (strcmp(json_string_value(json_object_get(*row, "status")), "done") != 0) {
        if (out)
            *out = json_pack("{s:s}", "error", "the backup did not complete");
        return PB_INVALID;
    }
    return PB_OK;
}

int pb_backup_verify(pb_req *req, long long id, json_t **out)
{
    const pb_config *cfg = req->w->cfg;
    json_t *row = NULL;
    if (out)
        *out = NULL;
    int rc = usable(req, id, &row, out);
    if (rc != PB_OK) {
        json_decref(row);
        return rc;
    }
    char name[64], err[ERR_MAX + 24];
    snprintf(name, sizeof name, "pb_verify_%lld_%d", id, (int)getpid());
    json_t *result = restore_and_count(req, row, name, true, err, sizeof err);
    json_decref(row);
    if (result == NULL)
        result = json_pack("{s:b, s:s, s:[]}", "ok", 0, "error", err, "mismatches");
    record(cfg,
           "UPDATE backups.backups SET verified_at = now(), verify_result = $2::jsonb, "
           "verify_status = CASE WHEN ($2::jsonb ->> 'ok')::boolean THEN 'passed' ELSE 'failed' "
           "END WHERE id = $1",
           id, result);
    if (out)
        *out = result;
    else
        json_decref(result);
    return PB_OK;
}

int pb_backup_restore(pb_req *req, long long id, const char *target, json_t **out)
{
    const pb_config *cfg = req->w->cfg;
    if (out)
        *out = NULL;
    regex_t re;
    regcomp(&re, "^[a-z][a-z0-9_]{0,40}$", REG_EXTENDED | REG_NOSUB);
    bool ok_name = target && regexec(&re, target, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok_name) {
        if (out)
            *out =
                json_pack("{s:s}", "error", "the database name must match ^[a-z][a-z0-9_]{0,40}$");
        return PB_INVALID;
    }
    json_t *row = NULL;
    int rc = usable(req, id, &row, out);
    if (rc != PB_OK) {
        json_decref(row);
        return rc;
    }
    char err[ERR_MAX + 24];
    PGconn *c = owner_connect(cfg, NULL, err, sizeof err);
    const char *p[] = {target};
    PGresult *r =
        c ? owner_exec(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p, err, sizeof err)
          : NULL;
    int exists = r ? PQntuples(r) > 0 : -1;
    PQclear(r);
    PQfinish(c);
    if (exists != 0) {
        json_decref(row);
        if (exists < 0)
            return failed(out, "connect", err);
        if (out)
            *out = json_pack("{s:s}", "error", "a database of that name exists");
        return PB_INVALID;
    }
    json_t *result = restore_and_count(req, row, target, false, err, sizeof err);
    json_decref(row);
    if (result == NULL)
        return failed(out, "restore", err);
    json_object_set_new(result, "database", json_string(target));
    record(cfg,
           "UPDATE backups.backups SET restored_at = now(), restore_result = $2::jsonb "
           "WHERE id = $1",
           id, result);
    if (out)
        *out = result;
    else
        json_decref(result);
    return PB_OK;
}

/* --- Download and delete ------------------------------------------------------ */

int pb_backup_send(pb_req *req, long long id)
{
    json_t *row = NULL;
    int rc = find_backup(req, id, &row);
    if (rc == PB_OK && strcmp(json_string_value(json_object_get(row, "status")), "done") != 0)
        rc = PB_ABSENT;
    if (rc != PB_OK) {
        json_decref(row);
        return rc;
    }
    const char *file = json_string_value(json_object_get(row, "file"));
    char path[1024], disp[400];
    archive_path(req->w->cfg, file, path, sizeof path);
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", file);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        json_decref(row);
        return PB_ABSENT;
    }
    free(req->send_file);
    free(req->content_type);
    req->send_file = strdup(path);
    req->content_type = strdup("application/octet-stream");
    req->raw = true;
    json_decref(row);
    if (req->send_file == NULL || req->content_type == NULL ||
        pb_buf_printf(req->headers, "Content-Disposition: %s\r\n", disp) < 0)
        return PB_ERROR;
    return PB_OK;
}

int pb_backup_delete(pb_req *req, long long id, json_t **out)
{
    const pb_config *cfg = req->w->cfg;
    json_t *row = NULL;
    if (out)
        *out = NULL;
    int rc = find_backup(req, id, &row);
    if (rc == PB_OK && strcmp(json_string_value(json_object_get(row, "status")), "running") == 0)
        rc = PB_INVALID;
    if (rc != PB_OK) {
        json_decref(row);
        return rc;
    }
    char err[512], text[24];
    snprintf(text, sizeof text, "%lld", id);
    const char *p[] = {text};
    PGconn *c = owner_connect(cfg, NULL, err, sizeof err);
    PGresult *r = c ? owner_exec(c,
                                 "DELETE FROM backups.backups WHERE id = $1 AND status <> "
                                 "'running' RETURNING id, file, status, size, "
                                 "to_char(created_at AT TIME ZONE 'UTC', "
                                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                                 1, p, err, sizeof err)
                    : NULL;
    json_decref(row);
    if (r == NULL) {
        PQfinish(c);
        return failed(NULL, "delete", err);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        PQfinish(c);
        return PB_INVALID;
    }
    char path[1024];
    archive_path(cfg, PQgetvalue(r, 0, 1), path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT)
        pb_log(PB_LOG_WARN, "backups: cannot remove %s: %s", path, strerror(errno));
    if (out)
        *out = json_pack("{s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)id, "file",
                         PQgetvalue(r, 0, 1), "status", PQgetvalue(r, 0, 2), "size",
                         (json_int_t)strtoll(PQgetvalue(r, 0, 3), NULL, 10), "created_at",
                         PQgetvalue(r, 0, 4));
    PQclear(r);
    PQfinish(c);
    return PB_OK;
}
