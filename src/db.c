/*
 * db.c - the worker's PostgreSQL connection.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* PostgreSQL type OIDs (src/include/catalog/pg_type.dat). */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

void pb_db_init(pb_db *db, const char *conninfo, long statement_timeout)
{
    memset(db, 0, sizeof *db);
    db->conninfo = conninfo;
    db->statement_timeout = statement_timeout;
}

void pb_db_close(pb_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->in_tx = 0; /* a lost connection took its transaction with it */
    db->pending = 0;
    for (size_t i = 0; i < db->nstmts; i++)
        free(db->stmts[i].sql);
    free(db->stmts);
    db->stmts = NULL;
    db->nstmts = db->capstmts = 0;
}

/* Reads the answer to a read-only COMMIT sent at the end of the last
 * request. Nothing was written, so a failure only costs the connection. */
static void db_settle(pb_db *db)
{
    PGresult *r;
    db->pending = 0;
    while ((r = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            pb_log(PB_LOG_WARN, "read-only transaction end: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    if (PQstatus(db->conn) != CONNECTION_OK)
        pb_db_close(db);
}

static int db_connect(pb_db *db, char *err, size_t errlen)
{
    if (db->conn && db->pending)
        db_settle(db);
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    pb_db_close(db);
    char timeout[160];
    /* client_encoding UTF8: the server converts and validates, so every
     * text value we receive is valid UTF-8 and JSON can take it unchecked. */
    /* default_transaction_read_only: a statement outside an explicit
     * BEGIN READ WRITE cannot write, whatever a module does. */
    snprintf(timeout, sizeof timeout,
             "-c statement_timeout=%ld -c client_encoding=UTF8 -c default_transaction_read_only=on",
             db->statement_timeout * 1000);
    const char *keys[] = {"dbname", "options", "connect_timeout", "application_name", NULL};
    const char *vals[] = {db->conninfo, timeout, "5", "plugboard", NULL};
    /* expand_dbname: the conninfo string is parsed as a full connection
     * string, and the later keys add to it. */
    db->conn = PQconnectdbParams(keys, vals, 1);
    db->down = db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK;
    if (db->down) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 db->conn ? PQerrorMessage(db->conn) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        pb_db_close(db);
        return -1;
    }
    return 0;
}

static uint64_t hash_sql(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Returns the prepared statement's index, preparing it on first use, or
 * -1 with err. */
static long db_prepare(pb_db *db, const char *sql, int nparams, char *err, size_t errlen)
{
    uint64_t h = hash_sql(sql);
    for (size_t i = 0; i < db->nstmts; i++)
        if (db->stmts[i].hash == h && strcmp(db->stmts[i].sql, sql) == 0)
            return (long)i;
    if (db->nstmts == db->capstmts) {
        size_t cap = db->capstmts ? db->capstmts * 2 : 16;
        pb_db_stmt *v = realloc(db->stmts, cap * sizeof *v);
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        db->stmts = v;
        db->capstmts = cap;
    }
    pb_db_stmt *st = &db->stmts[db->nstmts];
    snprintf(st->name, sizeof st->name, "s%zu", db->nstmts);
    PGresult *res = PQprepare(db->conn, st->name, sql, nparams, NULL);
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
    PQclear(res);
    if (!ok)
        return -1;
    char *copy = strdup(sql);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->hash = h;
    st->sql = copy;
    return (long)db->nstmts++;
}

static json_t *cell_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_JSON:
    case OID_JSONB: {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    }
    default:
        return json_stringn_nocheck(v, (size_t)PQgetlength(res, row, col));
    }
}

json_t *pb_db_result_json(const PGresult *res)
{
    json_t *rows = json_array();
    int nrows = PQntuples(res), ncols = PQnfields(res);
    for (int r = 0; rows && r < nrows; r++) {
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(rows, o) < 0) {
            json_decref(rows);
            return NULL;
        }
        for (int c = 0; c < ncols; c++)
            json_object_set_new_nocheck(o, PQfname(res, c), cell_json(res, r, c));
    }
    return rows;
}

void pb_db_request_begin(pb_db *db, const char *user_id, const char *team_id,
                         const char *role_level, const char *real_user_id, int read_only)
{
    db->read_only = read_only;
    db->ctx[0] = user_id ? user_id : "";
    db->ctx[1] = team_id ? team_id : "";
    db->ctx[2] = role_level ? role_level : "0";
    db->ctx[3] = real_user_id ? real_user_id : "";
    db->in_tx = 0;
}

/* The transaction-local settings row-level security policies read with
 * current_setting('plugboard.user_id', true). */
static const char context_sql[] = "SELECT set_config('plugboard.user_id', $1, true), "
                                  "set_config('plugboard.team_id', $2, true), "
                                  "set_config('plugboard.role_level', $3, true), "
                                  "set_config('plugboard.real_user_id', $4, true)";

/* Reads one pipelined statement's result and the NULL that ends it. */
static PGresult *pipeline_result(PGconn *c)
{
    PGresult *r = PQgetResult(c), *extra;
    while ((extra = PQgetResult(c)) != NULL)
        PQclear(extra);
    return r;
}

static int result_ok(const PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* BEGIN, the context and the statement in one pipeline. Returns the
 * statement's result (check its status), or NULL when the connection
 * failed (err filled). */
static PGresult *begin_and_exec(pb_db *db, long ctx_idx, long idx, int nparams,
                                const char *const *params, char *err, size_t errlen)
{
    PGconn *c = db->conn;
    const char *begin_sql = db->read_only ? "BEGIN READ ONLY" : "BEGIN READ WRITE";
    if (!PQenterPipelineMode(c) || !PQsendQueryParams(c, begin_sql, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, db->stmts[ctx_idx].name, 4, db->ctx, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, db->stmts[idx].name, nparams, params, NULL, NULL, 0) ||
        !PQpipelineSync(c)) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        pb_db_close(db);
        return NULL;
    }
    PGresult *begin = pipeline_result(c), *ctx = pipeline_result(c), *res = pipeline_result(c);
    PGresult *sync = PQgetResult(c); /* PGRES_PIPELINE_SYNC */
    int synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    db->in_tx = result_ok(begin);
    if (!result_ok(begin) || !result_ok(ctx)) {
        PGresult *bad = !result_ok(begin) ? begin : ctx;
        snprintf(err, errlen, "opening the request transaction: %s",
                 bad ? PQresultErrorMessage(bad) : PQerrorMessage(c));
    }
    int ok = result_ok(begin) && result_ok(ctx);
    PQclear(begin);
    PQclear(ctx);
    if (!synced || !PQexitPipelineMode(c)) {
        snprintf(err, errlen, "pipeline out of step: %s", PQerrorMessage(c));
        PQclear(res);
        pb_db_close(db);
        return NULL;
    }
    if (!ok) {
        PQclear(res);
        return NULL;
    }
    return res;
}

int pb_db_request_end(pb_db *db, int commit, char *err, size_t errlen)
{
    if (!db->in_tx)
        return 0;
    db->in_tx = 0;
    if (db->read_only) {
        if (PQsendQuery(db->conn, commit ? "COMMIT" : "ROLLBACK"))
            db->pending = 1;
        else
            pb_db_close(db); /* the server ends the transaction with the session */
        return 0;
    }
    PGresult *r = PQexec(db->conn, commit ? "COMMIT" : "ROLLBACK");
    /* COMMIT of a failed transaction answers with the tag ROLLBACK. */
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK &&
             strcmp(PQcmdStatus(r), commit ? "COMMIT" : "ROLLBACK") == 0;
    if (!ok)
        snprintf(err, errlen, "%s failed: %s", commit ? "COMMIT" : "ROLLBACK",
                 r && PQresultStatus(r) != PGRES_COMMAND_OK ? PQresultErrorMessage(r)
                                                            : "the transaction was rolled back");
    PQclear(r);
    if (!ok && PQstatus(db->conn) != CONNECTION_OK)
        pb_db_close(db);
    return ok ? 0 : -1;
}

/* Drops a connection that failed, so the next query reconnects. */
static void db_check_broken(pb_db *db)
{
    if (db->conn && PQstatus(db->conn) != CONNECTION_OK) {
        pb_log(PB_LOG_WARN, "PostgreSQL connection lost; reconnecting on next use");
        pb_db_close(db);
    }
}

static int query_once(pb_db *db, const char *sql, int nparams, const char *const *params,
                      json_t **rows, char *err, size_t errlen)
{
    if (rows)
        *rows = NULL;
    if (db_connect(db, err, errlen) < 0)
        return -1;
    long idx = db_prepare(db, sql, nparams, err, errlen);
    /* An anonymous read needs no transaction: there is no context for the
     * policies, and under READ COMMITTED every statement has its own
     * snapshot anyway. The connection's default keeps it read-only. */
    int plain = !db->in_tx && db->read_only && !db->ctx[0][0] && !db->ctx[1][0];
    long ctx_idx = db->in_tx || plain ? 0 : db_prepare(db, context_sql, 4, err, errlen);
    if (idx < 0 || ctx_idx < 0) {
        db_check_broken(db);
        return -1;
    }
    PGresult *res;
    if (db->in_tx || plain) {
        res = PQexecPrepared(db->conn, db->stmts[idx].name, nparams, params, NULL, NULL, 0);
    } else if ((res = begin_and_exec(db, ctx_idx, idx, nparams, params, err, errlen)) == NULL) {
        return -1;
    }
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQclear(res);
        db_check_broken(db);
        return -1;
    }
    int n = st == PGRES_TUPLES_OK ? PQntuples(res) : atoi(PQcmdTuples(res));
    if (rows && (*rows = pb_db_result_json(res)) == NULL) {
        snprintf(err, errlen, "out of memory");
        n = -1;
    }
    PQclear(res);
    return n;
}

static int ping_once(pb_db *db, char *err, size_t errlen)
{
    if (db->in_tx)
        return query_once(db, "SELECT 1", 0, NULL, NULL, err, errlen) < 0 ? -1 : 0;
    if (db_connect(db, err, errlen) < 0)
        return -1;
    long idx = db_prepare(db, "SELECT 1", 0, err, errlen);
    PGresult *r =
        idx < 0 ? NULL : PQexecPrepared(db->conn, db->stmts[idx].name, 0, NULL, NULL, NULL, 0);
    int ok = result_ok(r);
    if (!ok && idx >= 0)
        snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
    PQclear(r);
    if (!ok)
        db_check_broken(db);
    return ok ? 0 : -1;
}

/* A connection that sat idle may have died with a server restart; that
 * must not fail the next request. When a call fails because an existing
 * connection is gone, and no transaction was open (so nothing can have
 * been committed or lost), it runs once more on a new connection. */
static int stale(const pb_db *db, int had_conn, int had_tx)
{
    return had_conn && !had_tx && db->conn == NULL;
}

int pb_db_query(pb_db *db, const char *sql, int nparams, const char *const *params, json_t **rows,
                char *err, size_t errlen)
{
    int had_conn = db->conn != NULL, had_tx = db->in_tx;
    int n = query_once(db, sql, nparams, params, rows, err, errlen);
    if (n < 0 && stale(db, had_conn, had_tx))
        n = query_once(db, sql, nparams, params, rows, err, errlen);
    return n;
}

int pb_db_ping(pb_db *db, char *err, size_t errlen)
{
    int had_conn = db->conn != NULL, had_tx = db->in_tx;
    int rc = ping_once(db, err, errlen);
    if (rc < 0 && stale(db, had_conn, had_tx))
        rc = ping_once(db, err, errlen);
    return rc;
}

int pb_db_drain_notifies(PGconn *pg)
{
    int k = 0;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        PQfreemem(n);
        k++;
    }
    return k;
}
