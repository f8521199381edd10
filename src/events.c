/*
 * events.c - system events, written by the master.
 *
 * Rare (a quarantine, a rollback), so a connection per event is fine, and
 * keeps the master free of a long-lived database connection it would have
 * to babysit.
 */
#include "events.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int pb_event_record(const pb_config *cfg, const char *kind, const char *module, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    pb_log(PB_LOG_WARN, "event %s%s%s %s", kind, module ? " module=" : "", module ? module : "",
           text ? text : "{}");
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s connect_timeout=2", cfg->owner_conninfo);
    PGconn *pg = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(pg) == CONNECTION_OK) {
        const char *params[] = {kind, module, text ? text : "{}"};
        PGresult *r = PQexecParams(
            pg, "INSERT INTO core.system_events (kind, module, detail) VALUES ($1, $2, $3::jsonb)",
            3, NULL, params, NULL, NULL, 0);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc < 0)
            pb_log(PB_LOG_ERROR, "event %s not recorded: %s", kind, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        pb_log(PB_LOG_ERROR, "event %s not recorded: %s", kind, PQerrorMessage(pg));
    }
    PQfinish(pg);
    free(text);
    return rc;
}
