/*
 * operator.c - `plugboard operator add|remove|list [EMAIL]`: who operates
 * the installation, from the command line.
 *
 * For recovery (nobody who can still sign in is an operator), so it works
 * without any session: it connects as the owner role, which bypasses
 * row-level security, and writes the change and its audit row (actor NULL,
 * "via": "command line") in one transaction. The operators module does the
 * same from the web for operators who are signed in.
 */
#include "operator.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"

static void one_line(char *s)
{
    s[strcspn(s, "\n")] = '\0';
}

/* Runs sql with params in c. Returns the result when its status is the
 * one wanted, else NULL after printing the server's message. */
static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params,
                     ExecStatusType want)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    one_line(msg);
    fprintf(stderr, "plugboard operator: %s\n", msg);
    PQclear(r);
    return NULL;
}

static int list(PGconn *c)
{
    PGresult *r =
        run(c,
            "SELECT u.email, u.display_name, to_char(o.granted_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD HH24:MI') || ' UTC', coalesce(g.email, '-'), "
            "CASE WHEN u.is_active THEN '' ELSE ' (deactivated)' END "
            "FROM core.operators o JOIN core.users u ON u.id = o.user_id "
            "LEFT JOIN core.users g ON g.id = o.granted_by ORDER BY o.granted_at, u.email",
            0, NULL, PGRES_TUPLES_OK);
    if (r == NULL)
        return 1;
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s\t%s\tsince %s\tgranted by %s%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
    if (PQntuples(r) == 0)
        printf("no operators (the first account to sign up becomes one)\n");
    PQclear(r);
    return 0;
}

/* The change and its audit row, in one statement: both or neither. */
static const char grant_sql[] =
    "WITH u AS (SELECT id FROM core.users WHERE email = lower($1)), "
    "ins AS (INSERT INTO core.operators (user_id) SELECT id FROM u ON CONFLICT DO NOTHING "
    "        RETURNING user_id), "
    "aud AS (INSERT INTO core.audit_log (action, resource_type, resource_id, diff) "
    "        SELECT 'operator.grant', 'user', user_id::text, "
    "               jsonb_build_object('after', jsonb_build_object('email', lower($1), "
    "               'operator', true), 'via', 'command line') FROM ins) "
    "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM ins), (SELECT id FROM u)";

static const char revoke_sql[] =
    "WITH u AS (SELECT id FROM core.users WHERE email = lower($1)), "
    "del AS (DELETE FROM core.operators WHERE user_id IN (SELECT id FROM u) RETURNING user_id), "
    "aud AS (INSERT INTO core.audit_log (action, resource_type, resource_id, diff) "
    "        SELECT 'operator.revoke', 'user', user_id::text, "
    "               jsonb_build_object('before', jsonb_build_object('email', lower($1), "
    "               'operator', true), 'via', 'command line') FROM del) "
    "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM del), (SELECT id FROM u)";

/* Drops the user's cached permission sets, so their navigation follows at
 * once; the guard asks the database anyway, so a failure only warns. */
static void forget_permissions(const pb_config *cfg, const char *user_id)
{
    pb_kv kv;
    char pattern[80], err[256];
    pb_kv_init(&kv, cfg->redis_socket, cfg->redis_host, (int)cfg->redis_port,
               (int)cfg->redis_timeout);
    snprintf(pattern, sizeof pattern, "pb:perm:%s:*", user_id);
    if (pb_kv_delete_matching(&kv, pattern, err, sizeof err) < 0)
        fprintf(stderr,
                "plugboard operator: warning: cached navigation not dropped (%s); it follows "
                "within the hour\n",
                err);
    pb_kv_close(&kv);
}

static int change(const pb_config *cfg, PGconn *c, bool add, const char *email)
{
    const char *params[] = {email};
    PGresult *r = run(c, add ? grant_sql : revoke_sql, 1, params, PGRES_TUPLES_OK);
    if (r == NULL)
        return 1;
    int found = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    int changed = strcmp(PQgetvalue(r, 0, 1), "0") != 0;
    char id[40];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (!found) {
        fprintf(stderr, "plugboard operator: no account has the address %s\n", email);
        return 1;
    }
    if (!changed) {
        printf("%s %s an operator already\n", email, add ? "is" : "is not");
        return 0;
    }
    forget_permissions(cfg, id);
    printf("%s %s\n", email, add ? "is now an operator" : "is no longer an operator");
    return 0;
}

int pb_operator_main(const pb_config *cfg, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    bool add = strcmp(verb, "add") == 0, remove = strcmp(verb, "remove") == 0;
    bool ls = strcmp(verb, "list") == 0;
    if (!((add || remove) && argc == 3) && !(ls && argc == 2)) {
        fprintf(stderr, "usage: plugboard operator add EMAIL | remove EMAIL | list\n");
        return 2;
    }
    PGconn *c = PQconnectdb(cfg->owner_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        one_line(msg);
        fprintf(stderr, "plugboard operator: cannot connect as the owner role: %s\n", msg);
        PQfinish(c);
        return 1;
    }
    int rc = ls ? list(c) : change(cfg, c, add, argv[2]);
    PQfinish(c);
    return rc;
}
