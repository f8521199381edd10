/*
 * metrics.h - the operator's figures, from the scoreboard.
 */
#ifndef PB_METRICS_H
#define PB_METRICS_H

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "module.h"
#include "scoreboard.h"

/* Returns a new JSON object: uptime, generation, counters, every worker's
 * state and every route's counts and latency quantiles. */
json_t *pb_metrics_status(const pb_scoreboard *sb, const pb_config *cfg);

/* Appends the Prometheus text exposition (format 0.0.4). Returns 0 or -1. */
int pb_metrics_prometheus(const pb_scoreboard *sb, pb_buf *out);

/* Returns a new JSON array describing the loaded modules and their routes. */
json_t *pb_metrics_modules(const pb_modset *ms);

/* Estimates quantile q (0..1) in seconds from a histogram, interpolating
 * linearly inside the bucket, as Prometheus' histogram_quantile does. */
double pb_metrics_quantile(const uint64_t *hist, double q);

/* The upper bound (seconds) of the bucket holding quantile q: what the
 * histogram can honestly say ("at most"). INFINITY for the +Inf bucket, -1
 * for an empty histogram. */
double pb_metrics_quantile_le(const uint64_t *hist, double q);

/* Sums the counters of every route of module: requests, 5xx answers and
 * the latency histogram. */
void pb_metrics_module_totals(const pb_scoreboard *sb, const char *module, uint64_t *requests,
                              uint64_t *errors, uint64_t hist[PB_SB_BUCKETS]);

#endif
