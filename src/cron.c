/*
 * cron.c - cron expressions (see cron.h for the syntax and DST rules).
 *
 * Fire times are searched in wall-clock space (year, month, day, hour,
 * minute of the zone), skipping whole months, days and hours that cannot
 * match, and each candidate is mapped to an instant with mktime(). The
 * mapping is non-decreasing (a skipped time maps to the end of its gap, a
 * repeated one to its first occurrence), so the first candidate whose
 * instant lies after `after` is the answer.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------
 * Parsing
 * --------------------------------------------------------------------- */

typedef struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* three-letter names for min.., or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_spec fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 7, dow_names},
};

/* Reads a number or a name at *p. Returns 0, or -1 with err. */
static int parse_value(const field_spec *f, const char **p, int *out, char *err, size_t errlen)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %ld is out of range %d-%d", f->name, v, f->min, f->max);
            return -1;
        }
        *out = (int)v;
        *p = s;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *out = f->min + i;
            *p = s + 3;
            return 0;
        }
    snprintf(err, errlen, "%s: expected a number%s at \"%.20s\"", f->name,
             f->names ? " or a name" : "", s);
    return -1;
}

/* Parses one comma-separated item: '*', a, or a-b, with an optional /step.
 * Sets the bits it selects. Returns 0, or -1 with err. */
static int parse_item(const field_spec *f, const char **p, uint64_t *bits, char *err, size_t errlen)
{
    int lo = f->min, hi = f->max, step = 1;
    bool range = true;
    if (**p == '*') {
        (*p)++;
    } else {
        if (parse_value(f, p, &lo, err, errlen) < 0)
            return -1;
        hi = lo;
        range = false;
        if (**p == '-') {
            (*p)++;
            if (parse_value(f, p, &hi, err, errlen) < 0)
                return -1;
            if (hi < lo) {
                snprintf(err, errlen, "%s: the range %d-%d runs backwards", f->name, lo, hi);
                return -1;
            }
            range = true;
        }
    }
    if (**p == '/') {
        if (!range) {
            snprintf(err, errlen, "%s: a step (/n) needs '*' or a range before it", f->name);
            return -1;
        }
        (*p)++;
        long v = 0;
        if (!isdigit((unsigned char)**p)) {
            snprintf(err, errlen, "%s: expected a step number after '/'", f->name);
            return -1;
        }
        while (isdigit((unsigned char)**p) && v < 1000)
            v = v * 10 + (*(*p)++ - '0');
        if (v < 1 || v > f->max) {
            snprintf(err, errlen, "%s: the step %ld is out of range 1-%d", f->name, v, f->max);
            return -1;
        }
        step = (int)v;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

/* Parses one field's text (n bytes at s). Returns 0, or -1 with err. */
static int parse_field(const field_spec *f, const char *s, size_t n, uint64_t *bits, char *err,
                       size_t errlen)
{
    char text[64];
    if (n >= sizeof text) {
        snprintf(err, errlen, "%s: too long", f->name);
        return -1;
    }
    memcpy(text, s, n);
    text[n] = '\0';
    const char *p = text;
    *bits = 0;
    for (;;) {
        if (parse_item(f, &p, bits, err, errlen) < 0)
            return -1;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            snprintf(err, errlen, "%s: unexpected \"%c\"", f->name, *p);
            return -1;
        }
        p++;
    }
}

static const struct {
    const char *name, *fields;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static const int month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* True when some selected month has some selected day (29 February
 * counts: leap years come). */
static bool some_day_exists(const pb_cron *c)
{
    for (int m = 1; m <= 12; m++)
        for (int d = 1; d <= month_days[m]; d++)
            if ((c->month >> m & 1) && (c->dom >> d & 1))
                return true;
    return false;
}

int pb_cron_parse(const char *expr, pb_cron *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (expr == NULL) {
        snprintf(err, errlen, "no expression");
        return -1;
    }
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t\r\n");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i].name) == n && strncasecmp(expr, macros[i].name, n) == 0 &&
                expr[n + strspn(expr + n, " \t\r\n")] == '\0')
                return pb_cron_parse(macros[i].fields, out, err, errlen);
        snprintf(err, errlen, "unknown macro \"%.*s\"", (int)(n < 20 ? n : 20), expr);
        return -1;
    }
    uint64_t bits[5];
    const char *starts[5];
    int k = 0;
    for (const char *p = expr; *p;) {
        size_t n = strcspn(p, " \t\r\n");
        if (k == 5) {
            snprintf(err, errlen,
                     "expected 5 fields (minute hour day-of-month month "
                     "day-of-week), got more");
            return -1;
        }
        starts[k] = p;
        if (parse_field(&fields[k], p, n, &bits[k], err, errlen) < 0)
            return -1;
        k++;
        p += n;
        p += strspn(p, " \t\r\n");
    }
    if (k != 5) {
        snprintf(err, errlen,
                 "expected 5 fields (minute hour day-of-month month day-of-week), got %d", k);
        return -1;
    }
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday too */
    out->dom_star = starts[2][0] == '*';
    out->dow_star = starts[4][0] == '*';
    if (out->dow_star && !some_day_exists(out)) {
        snprintf(err, errlen, "day of month: no selected month has such a day, so it never fires");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Time zones
 * --------------------------------------------------------------------- */

bool pb_cron_zone_valid(const char *zone)
{
    if (zone == NULL || zone[0] == '\0' || zone[0] == '/' || strlen(zone) > 64 ||
        strstr(zone, "..") != NULL)
        return false;
    for (const char *p = zone; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-+/", *p))
            return false;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---------------------------------------------------------------------
 * Wall-clock arithmetic (proleptic Gregorian, no zone)
 * --------------------------------------------------------------------- */

typedef struct wall {
    int y, mo, d, h, mi;
} wall;

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int y, int m)
{
    return m == 2 && !leap(y) ? 28 : month_days[m];
}

/* Days since 1970-01-01 (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int weekday(const wall *w)
{
    int64_t z = days_from_civil(w->y, w->mo, w->d);
    return (int)(((z % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

static int64_t wall_minutes(const wall *w)
{
    return days_from_civil(w->y, w->mo, w->d) * 1440 + w->h * 60 + w->mi;
}

static void next_month(wall *w)
{
    w->mi = w->h = 0;
    w->d = 1;
    if (++w->mo > 12) {
        w->mo = 1;
        w->y++;
    }
}

static void next_day(wall *w)
{
    w->mi = w->h = 0;
    if (++w->d > days_in(w->y, w->mo)) {
        next_month(w);
        return;
    }
}

static void next_hour(wall *w)
{
    w->mi = 0;
    if (++w->h > 23)
        next_day(w);
}

static void next_minute(wall *w)
{
    if (++w->mi > 59)
        next_hour(w);
}

static bool day_matches(const pb_cron *c, const wall *w)
{
    bool dom = c->dom >> w->d & 1, dow = c->dow >> weekday(w) & 1;
    return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

/* ---------------------------------------------------------------------
 * From the wall clock to instants (in the current TZ)
 * --------------------------------------------------------------------- */

static void local_wall(time_t t, wall *w)
{
    struct tm tm;
    localtime_r(&t, &tm);
    *w = (wall){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min};
}

static bool same_wall(time_t t, const wall *w)
{
    wall x;
    local_wall(t, &x);
    return x.y == w->y && x.mo == w->mo && x.d == w->d && x.h == w->h && x.mi == w->mi;
}

static time_t make_time(const wall *w, int isdst)
{
    struct tm tm = {.tm_year = w->y - 1900,
                    .tm_mon = w->mo - 1,
                    .tm_mday = w->d,
                    .tm_hour = w->h,
                    .tm_min = w->mi,
                    .tm_isdst = isdst};
    return mktime(&tm);
}

/* The instant a wall-clock time fires at: its first occurrence, or for a
 * time inside a gap, the first instant after the gap. */
static time_t wall_instant(const wall *w)
{
    time_t a = make_time(w, 0), b = make_time(w, 1), best = 0;
    bool found = false;
    /* Offsets also change outside DST (a zone moving its standard time):
     * look for an earlier occurrence up to two hours back as well. */
    static const int back[] = {0, 1800, 3600, 7200};
    const time_t tries[2] = {a, b};
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < sizeof back / sizeof back[0]; k++) {
            time_t t = tries[i] - back[k];
            if (same_wall(t, w) && (!found || t < best)) {
                best = t;
                found = true;
            }
        }
    if (found)
        return best;
    /* A gap: the first instant whose wall clock is past w. */
    int64_t target = wall_minutes(w);
    time_t lo = (a < b ? a : b) - 4 * 3600, hi = (a > b ? a : b) + 4 * 3600;
    while (lo < hi) {
        time_t mid = lo + (hi - lo) / 2;
        wall x;
        local_wall(mid, &x);
        if (wall_minutes(&x) > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static time_t search(const pb_cron *c, time_t after)
{
    wall w;
    local_wall(after, &w);
    int last_year = w.y + 8;
    while (w.y <= last_year) {
        if (!(c->month >> w.mo & 1)) {
            next_month(&w);
        } else if (!day_matches(c, &w)) {
            next_day(&w);
        } else if (!(c->hour >> w.h & 1)) {
            next_hour(&w);
        } else if (!(c->minute >> w.mi & 1)) {
            next_minute(&w);
        } else {
            time_t t = wall_instant(&w);
            if (t > after)
                return t;
            next_minute(&w);
        }
    }
    return (time_t)-1;
}

int pb_cron_next(const pb_cron *cron, const char *zone, time_t after, time_t *next)
{
    if (!pb_cron_zone_valid(zone))
        return -1;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && saved == NULL)
        return -1;
    setenv("TZ", zone, 1);
    tzset();
    time_t t = search(cron, after);
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    if (t == (time_t)-1)
        return -1;
    *next = t;
    return 0;
}
