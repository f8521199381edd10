/*
 * db.h - the worker's PostgreSQL connection.
 *
 * One connection per worker, opened on first use and re-opened after a
 * failure, so a database restart costs the requests in flight, not the
 * worker. Statements are prepared once per connection and cached by text.
 */
#ifndef PB_DB_H
#define PB_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

typedef struct pb_db_stmt {
    uint64_t hash;
    char *sql;
    char name[16]; /* "s<index>" on the connection */
} pb_db_stmt;

typedef struct pb_db {
    const char *conninfo;
    long statement_timeout; /* seconds */
    PGconn *conn;
    pb_db_stmt *stmts; /* prepared on conn as "s<index>" */
    size_t nstmts, capstmts;
} pb_db;

/* Sets up (does not connect). */
void pb_db_init(pb_db *db, const char *conninfo, long statement_timeout);

/* Runs sql with text parameters (NULL = SQL NULL). When rows is not NULL,
 * stores a new JSON array of row objects there. Returns the number of rows
 * returned or affected, or -1 with the server's message in err. A broken
 * connection is dropped so the next call reconnects. */
int pb_db_query(pb_db *db, const char *sql, int nparams, const char *const *params, json_t **rows,
                char *err, size_t errlen);

/* Converts one result to a JSON array of objects keyed by column name,
 * typed by column type. Returns NULL when out of memory. */
json_t *pb_db_result_json(const PGresult *res);

/* One round trip ("SELECT 1" prepared). Returns 0 or -1 with err. */
int pb_db_ping(pb_db *db, char *err, size_t errlen);

/* Closes the connection and forgets prepared statements. */
void pb_db_close(pb_db *db);

#endif
