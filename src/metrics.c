/*
 * metrics.c - status JSON and Prometheus text from the scoreboard.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router.h"

double pb_metrics_quantile(const uint64_t *hist, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < PB_SB_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return 0;
    double rank = q * (double)total, seen = 0;
    for (int i = 0; i < PB_SB_BUCKETS; i++) {
        if (seen + (double)hist[i] >= rank && hist[i] > 0) {
            if (i == PB_SB_BUCKETS - 1) /* +Inf: the highest finite bound */
                return pb_sb_bucket_le[PB_SB_BUCKETS - 2];
            double lo = i ? pb_sb_bucket_le[i - 1] : 0, hi = pb_sb_bucket_le[i];
            return lo + (hi - lo) * (rank - seen) / (double)hist[i];
        }
        seen += (double)hist[i];
    }
    return pb_sb_bucket_le[PB_SB_BUCKETS - 2];
}

static json_t *worker_json(const pb_sb_worker *w, int64_t now)
{
    json_t *o =
        json_pack("{s:i, s:i, s:s, s:I}", "pid", (int)w->pid, "generation", (int)w->generation,
                  "state", pb_sb_state_name(w->state), "requests", (json_int_t)w->requests);
    if (w->state == PB_W_BUSY) {
        json_object_set_new(o, "route", json_string(w->route));
        json_object_set_new(o, "module", json_string(w->module));
        json_object_set_new(o, "busy_ms", json_integer((now - w->busy_ns) / 1000000));
    }
    return o;
}

static json_t *route_json(const pb_sb_route *r)
{
    json_t *st = json_object();
    static const char *const cls[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 1; i <= 5; i++)
        json_object_set_new(st, cls[i], json_integer((json_int_t)r->status[i]));
    double mean = r->count ? (double)r->sum_us / (double)r->count / 1000.0 : 0;
    /* Milliseconds to two decimals: more would be noise from the buckets. */
    double p50 = round(pb_metrics_quantile(r->hist, 0.5) * 1e5) / 100;
    double p99 = round(pb_metrics_quantile(r->hist, 0.99) * 1e5) / 100;
    return json_pack("{s:s, s:s, s:I, s:o, s:f, s:f, s:f}", "route", r->key, "module", r->module,
                     "requests", (json_int_t)r->count, "status", st, "mean_ms",
                     round(mean * 100) / 100, "p50_ms", p50, "p99_ms", p99);
}

/* "3 d 4 h", "5 h 12 m", "7 m 3 s", "42 s": the two largest units. */
static void duration_text(int64_t s, char *out, size_t n)
{
    if (s >= 86400)
        snprintf(out, n, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, n, "%lld h %lld m", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(out, n, "%lld m %lld s", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(out, n, "%lld s", (long long)s);
}

json_t *pb_metrics_status(const pb_scoreboard *sb, const pb_config *cfg)
{
    int64_t now = pb_now_ns();
    json_t *workers = json_array(), *routes = json_array();
    int counts[PB_W_DRAINING + 1] = {0};
    for (int i = 0; i < PB_SB_WORKERS; i++) {
        const pb_sb_worker *w = &sb->workers[i];
        if (w->state == PB_W_EMPTY || w->pid == 0)
            continue;
        if (w->state <= PB_W_DRAINING)
            counts[w->state]++;
        json_array_append_new(workers, worker_json(w, now));
    }
    for (int i = 0; i < PB_SB_ROUTES; i++)
        if (__atomic_load_n(&sb->routes[i].used, __ATOMIC_ACQUIRE) == 2)
            json_array_append_new(routes, route_json(&sb->routes[i]));
    char started[32], started_text[32], uptime_text[32];
    time_t t = (time_t)sb->started_wall;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(started_text, sizeof started_text, "%Y-%m-%d %H:%M UTC", &tm);
    int64_t up = (now - sb->started_ns) / 1000000000;
    duration_text(up, uptime_text, sizeof uptime_text);
    json_t *quarantined = json_array();
    for (uint32_t i = 0; i < sb->nquarantined && i < PB_SB_QUARANTINE; i++)
        json_array_append_new(quarantined, json_string(sb->quarantined[i]));
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:o}, s:I, s:I, "
                     "s:I, s:I, s:I, s:I, s:o, s:o}",
                     "version", PACKAGE_VERSION, "started_at", started, "started_text",
                     started_text, "uptime_seconds", (json_int_t)up, "uptime_text", uptime_text,
                     "generation", (int)sb->generation, "workers", "configured", (int)cfg->workers,
                     "starting", counts[PB_W_STARTING], "idle", counts[PB_W_IDLE], "busy",
                     counts[PB_W_BUSY], "draining", counts[PB_W_DRAINING], "list", workers,
                     "respawns", (json_int_t)sb->respawns, "crashes", (json_int_t)sb->crashes,
                     "timeouts", (json_int_t)sb->timeouts, "recycled", (json_int_t)sb->recycled,
                     "reloads", (json_int_t)sb->reloads, "rollbacks", (json_int_t)sb->rollbacks,
                     "quarantined", quarantined, "routes", routes);
}

/* Prometheus label values escape backslash, double quote and newline. */
static void label(pb_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            pb_buf_putc(b, '\\');
        if (*s == '\n')
            pb_buf_puts(b, "\\n");
        else
            pb_buf_putc(b, *s);
    }
}

static void route_labels(pb_buf *b, const pb_sb_route *r)
{
    pb_buf_puts(b, "route=\"");
    label(b, r->key);
    pb_buf_puts(b, "\",module=\"");
    label(b, r->module);
    pb_buf_putc(b, '"');
}

static void prom_requests(const pb_scoreboard *sb, pb_buf *b)
{
    pb_buf_puts(b, "# HELP plugboard_requests_total Requests answered, by route and status "
                   "class.\n# TYPE plugboard_requests_total counter\n");
    for (int i = 0; i < PB_SB_ROUTES; i++) {
        const pb_sb_route *r = &sb->routes[i];
        if (__atomic_load_n(&r->used, __ATOMIC_ACQUIRE) != 2)
            continue;
        for (int c = 1; c <= 5; c++) {
            if (r->status[c] == 0)
                continue;
            pb_buf_puts(b, "plugboard_requests_total{");
            route_labels(b, r);
            pb_buf_printf(b, ",status=\"%dxx\"} %llu\n", c, (unsigned long long)r->status[c]);
        }
    }
}

static void prom_latency(const pb_scoreboard *sb, pb_buf *b)
{
    pb_buf_puts(b, "# HELP plugboard_request_duration_seconds Time from accept to response "
                   "written.\n# TYPE plugboard_request_duration_seconds histogram\n");
    for (int i = 0; i < PB_SB_ROUTES; i++) {
        const pb_sb_route *r = &sb->routes[i];
        if (__atomic_load_n(&r->used, __ATOMIC_ACQUIRE) != 2)
            continue;
        uint64_t cum = 0;
        for (int k = 0; k < PB_SB_BUCKETS; k++) {
            cum += r->hist[k];
            pb_buf_puts(b, "plugboard_request_duration_seconds_bucket{");
            route_labels(b, r);
            if (k < PB_SB_BUCKETS - 1)
                pb_buf_printf(b, ",le=\"%g\"} %llu\n", pb_sb_bucket_le[k], (unsigned long long)cum);
            else
                pb_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        pb_buf_puts(b, "plugboard_request_duration_seconds_sum{");
        route_labels(b, r);
        pb_buf_printf(b, "} %.6f\n", (double)r->sum_us / 1e6);
        pb_buf_puts(b, "plugboard_request_duration_seconds_count{");
        route_labels(b, r);
        pb_buf_printf(b, "} %llu\n", (unsigned long long)cum);
    }
}

static void prom_counter(pb_buf *b, const char *name, const char *help, const char *type,
                         unsigned long long v)
{
    pb_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

int pb_metrics_prometheus(const pb_scoreboard *sb, pb_buf *b)
{
    prom_requests(sb, b);
    prom_latency(sb, b);
    int counts[PB_W_DRAINING + 1] = {0};
    for (int i = 0; i < PB_SB_WORKERS; i++)
        if (sb->workers[i].pid && sb->workers[i].state <= PB_W_DRAINING)
            counts[sb->workers[i].state]++;
    pb_buf_puts(b, "# HELP plugboard_workers Worker processes by state.\n"
                   "# TYPE plugboard_workers gauge\n");
    for (int s = PB_W_STARTING; s <= PB_W_DRAINING; s++)
        pb_buf_printf(b, "plugboard_workers{state=\"%s\"} %d\n", pb_sb_state_name((uint32_t)s),
                      counts[s]);
    prom_counter(b, "plugboard_worker_respawns_total", "Workers started to replace one that died.",
                 "counter", sb->respawns);
    prom_counter(b, "plugboard_worker_crashes_total", "Workers that died of a signal.", "counter",
                 sb->crashes);
    prom_counter(b, "plugboard_request_timeouts_total",
                 "Requests whose worker was killed for running past request_timeout.", "counter",
                 sb->timeouts);
    prom_counter(b, "plugboard_workers_recycled_total", "Workers that exited after max_requests.",
                 "counter", sb->recycled);
    prom_counter(b, "plugboard_generation", "The current worker generation.", "gauge",
                 sb->generation);
    prom_counter(b, "plugboard_reloads_total", "Worker generations started by a reload.", "counter",
                 sb->reloads);
    prom_counter(b, "plugboard_rollbacks_total",
                 "Generations rolled back to the previous module set.", "counter", sb->rollbacks);
    prom_counter(b, "plugboard_modules_quarantined", "Modules quarantined after repeated crashes.",
                 "gauge", sb->nquarantined);
    pb_buf_printf(b,
                  "# HELP plugboard_uptime_seconds Seconds since the master started.\n"
                  "# TYPE plugboard_uptime_seconds gauge\nplugboard_uptime_seconds %.3f\n",
                  (double)(pb_now_ns() - sb->started_ns) / 1e9);
    return b->data ? 0 : -1;
}

json_t *pb_metrics_modules(const pb_modset *ms)
{
    json_t *mods = json_array();
    for (size_t i = 0; i < ms->n; i++) {
        const pb_module *m = ms->v[i].desc;
        json_t *routes = json_array();
        for (const pb_route *r = m->routes; r && r->pattern; r++) {
            char methods[64];
            pb_router_allow_string(r->methods, methods, sizeof methods);
            json_array_append_new(routes, json_pack("{s:s, s:s, s:s}", "methods", methods,
                                                    "pattern", r->pattern, "permission",
                                                    r->permission ? r->permission : "public"));
        }
        json_array_append_new(mods,
                              json_pack("{s:s, s:s, s:I, s:o}", "name", m->name, "version",
                                        m->version ? m->version : "", "route_count",
                                        (json_int_t)json_array_size(routes), "routes", routes));
    }
    return mods;
}
