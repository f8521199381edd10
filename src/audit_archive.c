/*
 * audit_archive.c - `plugboard audit-archive`: moving old audit rows aside.
 */
#include "audit_archive.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One statement, so one transaction: the rows leave the log only if they
 * reach the archive. Columns are named so a reordering of either table
 * cannot shift values into the wrong column. */
static const char archive_sql[] =
    "WITH moved AS ("
    "  DELETE FROM core.audit_log WHERE at < now() - $1::integer * interval '1 day'"
    "  RETURNING id, at, team_id, actor_id, real_actor_id, action, resource_type,"
    "            resource_id, diff, ip, user_agent) "
    "INSERT INTO core.audit_archive (id, at, team_id, actor_id, real_actor_id, action,"
    "                                resource_type, resource_id, diff, ip, user_agent) "
    "SELECT id, at, team_id, actor_id, real_actor_id, action, resource_type, resource_id,"
    "       diff, ip, user_agent FROM moved";

static void one_line(char *s)
{
    s[strcspn(s, "\n")] = '\0';
}

long long pb_audit_archive(const pb_config *cfg, int days, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(cfg->owner_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect as the owner role: %s", PQerrorMessage(c));
        one_line(err);
        PQfinish(c);
        return -1;
    }
    char arg[16];
    snprintf(arg, sizeof arg, "%d", days);
    const char *params[] = {arg};
    PGresult *r = PQexecParams(c, archive_sql, 1, NULL, params, NULL, NULL, 0);
    long long moved = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        moved = strtoll(PQcmdTuples(r), NULL, 10);
    } else {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        one_line(err);
    }
    PQclear(r);
    PQfinish(c);
    return moved;
}

/* Parses a whole number of days in [0, PB_AUDIT_ARCHIVE_MAX]. Returns 0 or
 * -1. */
static int parse_days(const char *s, int *days)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || v > PB_AUDIT_ARCHIVE_MAX)
        return -1;
    *days = (int)v;
    return 0;
}

int pb_audit_archive_main(const pb_config *cfg, int argc, char **argv)
{
    int days = PB_AUDIT_ARCHIVE_DAYS;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc)
            value = argv[++i];
        else if (strncmp(argv[i], "--older-than=", 13) == 0)
            value = argv[i] + 13;
        if (value == NULL) {
            fprintf(stderr,
                    "plugboard audit-archive: unknown argument \"%s\"; usage: "
                    "audit-archive [--older-than DAYS]\n",
                    argv[i]);
            return 1;
        }
        if (parse_days(value, &days) < 0) {
            fprintf(stderr,
                    "plugboard audit-archive: --older-than takes a whole number of days "
                    "from 0 to %d, not \"%s\"\n",
                    PB_AUDIT_ARCHIVE_MAX, value);
            return 1;
        }
    }
    char err[512];
    long long moved = pb_audit_archive(cfg, days, err, sizeof err);
    if (moved < 0) {
        fprintf(stderr, "plugboard audit-archive: %s\n", err);
        return 1;
    }
    printf("archived %lld audit rows older than %d days\n", moved, days);
    return 0;
}
