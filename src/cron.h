/*
 * cron.h - cron expressions and their fire times in an IANA time zone.
 *
 * Five fields, as in Vixie cron: minute (0-59), hour (0-23), day of month
 * (1-31), month (1-12 or JAN-DEC), day of week (0-7 or SUN-SAT, 0 and 7 are
 * Sunday). Each field is '*', a number, a range "a-b", or a list of those
 * separated by commas; '*' and ranges take a step "/n". When both day
 * fields are restricted (neither starts with '*') a day matches if either
 * does; otherwise both must. The macros @yearly (@annually), @monthly,
 * @weekly, @daily (@midnight) and @hourly stand for their usual fields.
 *
 * Fire times follow the wall clock of the schedule's zone. Around daylight
 * saving changes:
 *  - a wall-clock time that does not exist (the hour skipped when clocks go
 *    forward) fires once, at the first instant after the gap (02:30 on a
 *    day New York skips 02:00-03:00 fires at 03:00 EDT);
 *  - a wall-clock time that happens twice (the hour repeated when clocks go
 *    back) fires once, at its first occurrence.
 *
 * Pure computation, no I/O but the zone files: modules that validate
 * expressions compile this file in.
 */
#ifndef PB_CRON_H
#define PB_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct pb_cron {
    uint64_t minute; /* bit n: minute n */
    uint32_t hour;   /* bit n: hour n */
    uint32_t dom;    /* bit n: day n of the month, 1..31 */
    uint16_t month;  /* bit n: month n, 1..12 */
    uint8_t dow;     /* bit n: weekday n, 0 = Sunday .. 6 */
    bool dom_star;   /* the day-of-month field starts with '*' */
    bool dow_star;   /* the day-of-week field starts with '*' */
} pb_cron;

/* Parses expr into out. Returns 0, or -1 with a message naming the field
 * and the problem in err ("hour: 24 is out of range 0-23"). Refuses
 * expressions that can never fire ("0 0 30 2 *"). */
int pb_cron_parse(const char *expr, pb_cron *out, char *err, size_t errlen);

/* Returns true when zone names a time zone of the system's database
 * ("Europe/Berlin", "UTC"): a relative path of letters, digits, '_', '-',
 * '+' and '/' to a file under $TZDIR or /usr/share/zoneinfo. */
bool pb_cron_zone_valid(const char *zone);

/* Computes the first fire time strictly after `after` in zone (see the
 * rules above) into *next. Sets and restores the TZ environment variable
 * around the computation: not for threaded programs. Returns 0, or -1 for
 * an invalid zone or when no time within eight years matches. */
int pb_cron_next(const pb_cron *cron, const char *zone, time_t after, time_t *next);

#endif
