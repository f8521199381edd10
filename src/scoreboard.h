/*
 * scoreboard.h - shared memory the master and every worker see.
 *
 * Mapped MAP_SHARED before the first fork. Each worker writes only its own
 * slot; per-route counters are updated with atomic adds. The master reads
 * it to supervise (timeouts, crashes) and to answer `ctl status`; workers
 * read it to serve /metrics and the status page.
 */
#ifndef PB_SCOREBOARD_H
#define PB_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define PB_SB_WORKERS    256
#define PB_SB_ROUTES     512
#define PB_SB_BUCKETS    14 /* latency histogram; the last is +Inf */
#define PB_SB_ROUTELEN   120
#define PB_SB_MODLEN     32
#define PB_SB_QUARANTINE 32 /* modules that can be quarantined at once */

enum pb_worker_state {
    PB_W_EMPTY = 0,
    PB_W_STARTING,
    PB_W_IDLE,
    PB_W_BUSY,
    PB_W_DRAINING,
};

typedef struct pb_sb_worker {
    pid_t pid;
    uint32_t generation;
    uint32_t state;
    uint64_t requests;
    int64_t started_ns; /* CLOCK_MONOTONIC when the worker started */
    int64_t busy_ns;    /* CLOCK_MONOTONIC when the current request began */
    uint32_t timed_out; /* set by the master before it kills for a timeout */
    char route[PB_SB_ROUTELEN];
    char module[PB_SB_MODLEN];
} pb_sb_worker;

typedef struct pb_sb_route {
    uint32_t used;            /* 0 free, 1 being claimed, 2 ready */
    char key[PB_SB_ROUTELEN]; /* "GET /crm/leads/:id" */
    char module[PB_SB_MODLEN];
    uint64_t count;
    uint64_t status[6]; /* index 1..5 for 1xx..5xx */
    uint64_t hist[PB_SB_BUCKETS];
    uint64_t sum_us;
} pb_sb_route;

typedef struct pb_scoreboard {
    int64_t started_wall; /* time(2) of master start */
    int64_t started_ns;
    uint32_t generation;
    uint32_t nworkers; /* configured */
    uint64_t respawns;
    uint64_t crashes;
    uint64_t timeouts;
    uint64_t recycled;
    uint64_t reloads;   /* generations started by a reload */
    uint64_t rollbacks; /* generations rolled back */
    /* Modules whose routes answer 503 after crashing too often. The master
     * writes the names, then bumps quarantine_seq; workers re-read the list
     * when the sequence changes. */
    uint32_t quarantine_seq;
    uint32_t nquarantined;
    char quarantined[PB_SB_QUARANTINE][PB_SB_MODLEN];
    pb_sb_worker workers[PB_SB_WORKERS];
    pb_sb_route routes[PB_SB_ROUTES];
} pb_scoreboard;

/* Upper bounds of the histogram buckets, in seconds (Prometheus "le"). */
extern const double pb_sb_bucket_le[PB_SB_BUCKETS - 1];

/* Maps a new zeroed scoreboard. Returns it, or NULL with errno set. */
pb_scoreboard *pb_sb_create(void);

/* Returns the slot for "METHOD pattern", claiming a free one the first time
 * (the same key always maps to one slot, across processes). Returns NULL
 * when the table is full. */
pb_sb_route *pb_sb_route_slot(pb_scoreboard *sb, const char *key, const char *module);

/* Counts one finished request on the route slot. */
void pb_sb_route_record(pb_sb_route *r, int status, int64_t elapsed_us);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t pb_now_ns(void);

const char *pb_sb_state_name(uint32_t state);

#endif
