/*
 * worker.h - a worker process: its context and its accept loop.
 *
 * Everything a worker keeps between requests lives in pb_worker: the loaded
 * modules and templates, the database and Redis connections, and buffers
 * reused for every response. All of it can be rebuilt; nothing in it is
 * the only copy of any state.
 */
#ifndef PB_WORKER_H
#define PB_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "kv.h"
#include "module.h"
#include "scoreboard.h"
#include "template.h"

typedef struct pb_worker {
    const pb_config *cfg;
    pb_scoreboard *sb;
    pb_sb_worker *slot;
    uint32_t generation;
    int listen_fd;

    pb_modset modules;
    pb_tpl_set *tpl;
    pb_db db;
    pb_kv kv;
    json_t *modules_json;  /* host->modules: built once, read-only */
    json_t *site;          /* the "site" object pages see; path and current nav set per request */
    json_t *nav_all;       /* every module's navigation entries, in order */
    json_t *nav_public;    /* those needing no permission: all an anonymous page shows */
    pb_buf out;            /* the response being written, reused */
    pb_buf headers;        /* extra response headers, reused */
    pb_buf body;           /* the response body, reused */
    pb_sb_route *unrouted; /* scoreboard counters for requests no route took */
    uint64_t served;
    uint32_t quarantine_seen; /* the scoreboard's quarantine_seq last applied */
} pb_worker;

/* Runs a worker: loads the planned modules and templates, then serves
 * until told to stop, max_requests is reached, or the master goes away.
 * Never returns: exits the process. */
void pb_worker_main(const pb_config *cfg, pb_scoreboard *sb, int slot, uint32_t generation,
                    int listen_fd, const pb_pathlist *plan) __attribute__((noreturn));

#endif
