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
    /* The request's row-security context, set before its first query. */
    const char *ctx[4]; /* plugboard.user_id, .team_id, .role_level, .real_user_id */
    int in_tx;          /* a transaction is open for the current request */
    int read_only;      /* the request's transaction is READ ONLY (GET, HEAD) */
    int pending;        /* a read-only COMMIT was sent; its answer not yet read */
    int down;           /* the last connection attempt failed */
    pb_db_stmt *stmts;  /* prepared on conn as "s<index>" */
    size_t nstmts, capstmts;
} pb_db;

/* Sets up (does not connect). */
void pb_db_init(pb_db *db, const char *conninfo, long statement_timeout);

/* Starts a request: records its row-security context (user id, team id,
 * role level, the real user behind a "view as"; "" when anonymous or not
 * viewing as) and whether it only reads (GET, HEAD).
 * No I/O: the transaction begins with the request's first query, pipelined
 * with it, so a request that touches no data pays nothing. An anonymous
 * read runs its statements without one: there is no context to carry, and
 * the connection's default_transaction_read_only keeps them from writing.
 * The strings must outlive the request. */
void pb_db_request_begin(pb_db *db, const char *user_id, const char *team_id,
                         const char *role_level, const char *real_user_id, int read_only);

/* Ends a request: COMMIT when commit is true, else ROLLBACK, if a
 * transaction was opened. Returns 0, or -1 with err when the commit did
 * not happen (the request must then answer with an error). A read-only
 * transaction has nothing to lose, so its end is sent without waiting and
 * the answer is read before the connection's next use. */
int pb_db_request_end(pb_db *db, int commit, char *err, size_t errlen);

/* Runs sql with text parameters (NULL = SQL NULL), inside the request's
 * transaction (opened on first use, with BEGIN, the context and this
 * statement sent as one pipeline: one round trip). When rows is not NULL,
 * stores a new JSON array of row objects there. Returns the number of rows
 * returned or affected, or -1 with the server's message in err. A broken
 * connection is dropped so the next call reconnects. */
int pb_db_query(pb_db *db, const char *sql, int nparams, const char *const *params, json_t **rows,
                char *err, size_t errlen);

/* Converts one result to a JSON array of objects keyed by column name,
 * typed by column type. Returns NULL when out of memory. */
json_t *pb_db_result_json(const PGresult *res);

/* One round trip ("SELECT 1"), outside any request transaction unless one
 * is already open: a liveness probe touches no data. Returns 0 or -1. */
int pb_db_ping(pb_db *db, char *err, size_t errlen);

/* Closes the connection and forgets prepared statements. */
void pb_db_close(pb_db *db);

/* Frees the notifications (LISTEN/NOTIFY) libpq has already read on pg,
 * as the mailer and the scheduler do before they wait on the socket: one
 * read while a statement ran would not wake a poll(). Returns how many. */
int pb_db_drain_notifies(PGconn *pg);

#endif
