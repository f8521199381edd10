/*
 * scoreboard.c - the shared-memory scoreboard.
 */
#include "scoreboard.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

const double pb_sb_bucket_le[PB_SB_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,  10};

pb_scoreboard *pb_sb_create(void)
{
    void *p = mmap(NULL, sizeof(pb_scoreboard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    pb_scoreboard *sb = p; /* mmap zero-fills */
    sb->started_wall = time(NULL);
    sb->started_ns = pb_now_ns();
    return sb;
}

int64_t pb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Open addressing keyed by the route string: a key hashes to one probe
 * sequence, and a slot is claimed with a compare-and-swap, so two workers
 * registering the same route at once end up in the same slot. */
pb_sb_route *pb_sb_route_slot(pb_scoreboard *sb, const char *key, const char *module)
{
    uint32_t h = fnv1a(key);
    for (uint32_t i = 0; i < PB_SB_ROUTES; i++) {
        pb_sb_route *r = &sb->routes[(h + i) % PB_SB_ROUTES];
        uint32_t used = __atomic_load_n(&r->used, __ATOMIC_ACQUIRE);
        if (used == 0) {
            uint32_t expect = 0;
            if (__atomic_compare_exchange_n(&r->used, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                strncpy(r->key, key, sizeof r->key - 1);
                strncpy(r->module, module, sizeof r->module - 1);
                __atomic_store_n(&r->used, 2, __ATOMIC_RELEASE);
                return r;
            }
            used = expect;
        }
        while (used == 1) /* another process is writing the key */
            used = __atomic_load_n(&r->used, __ATOMIC_ACQUIRE);
        if (strncmp(r->key, key, sizeof r->key - 1) == 0)
            return r;
    }
    return NULL;
}

void pb_sb_route_record(pb_sb_route *r, int status, int64_t elapsed_us)
{
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    double secs = (double)elapsed_us / 1e6;
    int b = 0;
    while (b < PB_SB_BUCKETS - 1 && secs > pb_sb_bucket_le[b])
        b++;
    __atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->status[cls], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->hist[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->sum_us, (uint64_t)elapsed_us, __ATOMIC_RELAXED);
}

const char *pb_sb_state_name(uint32_t state)
{
    static const char *const names[] = {"empty", "starting", "idle", "busy", "draining"};
    return state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}
