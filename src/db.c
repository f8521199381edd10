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
    for (size_t i = 0; i < db->nstmts; i++)
        free(db->stmts[i].sql);
    free(db->stmts);
    db->stmts = NULL;
    db->nstmts = db->capstmts = 0;
}

static int db_connect(pb_db *db, char *err, size_t errlen)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    pb_db_close(db);
    char timeout[64];
    /* client_encoding UTF8: the server converts and validates, so every
     * text value we receive is valid UTF-8 and JSON can take it unchecked. */
    snprintf(timeout, sizeof timeout, "-c statement_timeout=%ld -c client_encoding=UTF8",
             db->statement_timeout * 1000);
    const char *keys[] = {"dbname", "options", "connect_timeout", "application_name", NULL};
    const char *vals[] = {db->conninfo, timeout, "5", "plugboard", NULL};
    /* expand_dbname: the conninfo string is parsed as a full connection
     * string, and the later keys add to it. */
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
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

/* Drops a connection that failed, so the next query reconnects. */
static void db_check_broken(pb_db *db)
{
    if (db->conn && PQstatus(db->conn) != CONNECTION_OK) {
        pb_log(PB_LOG_WARN, "PostgreSQL connection lost; reconnecting on next use");
        pb_db_close(db);
    }
}

int pb_db_query(pb_db *db, const char *sql, int nparams, const char *const *params, json_t **rows,
                char *err, size_t errlen)
{
    if (rows)
        *rows = NULL;
    if (db_connect(db, err, errlen) < 0)
        return -1;
    long idx = db_prepare(db, sql, nparams, err, errlen);
    if (idx < 0) {
        db_check_broken(db);
        return -1;
    }
    PGresult *res = PQexecPrepared(db->conn, db->stmts[idx].name, nparams, params, NULL, NULL, 0);
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

int pb_db_ping(pb_db *db, char *err, size_t errlen)
{
    return pb_db_query(db, "SELECT 1", 0, NULL, NULL, err, errlen) < 0 ? -1 : 0;
}
