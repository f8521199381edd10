/*
 * logsearch.c - the system log's search: the [log] file read backwards.
 *
 * The file only grows at its end and records are appended in time order
 * (nearly: processes race by a few milliseconds), so reading it backwards
 * in blocks finds the newest matches first and stops as soon as enough are
 * found, without an index. The read is bounded, by a window of bytes and
 * by a time budget, so a search that matches little answers fast however
 * big the file is; the answer then says where it stopped ("bound") and the
 * next search resumes there ("before", a byte offset: the file only grows
 * at its end, so offsets keep their meaning). Lines that cannot match are
 * told by a plain substring test before any JSON is parsed.
 */
#include "logsearch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define BLOCK (64u << 10)

typedef struct filter {
    int level; /* the least severe level shown; -1 = any */
    const char *role, *module, *text;
    char since[96], until[96]; /* canonical, "" = unbounded */
    long skip;                 /* with until: records at exactly until to leave out; -1 = none */
    long long before;          /* the byte offset the search starts back from; -1 = the end */
    const char *levels[4];     /* with level: a line must hold one of these ("\"warn\"") */
    bool raw_text;             /* text can be looked for in the raw line */
} filter;

/* --- The filter --------------------------------------------------------------- */

/* Reads "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]" (or a space for the T) into the
 * form records carry, "YYYY-MM-DDTHH:MM:SS.mmmZ", which orders as text.
 * Returns 0, or -1 when in is not such a time. */
static int canonical_time(const char *in, char out[96])
{
    int y, mo, d, h, mi, sec = 0, ms = 0, n = 0, m = 0;
    char sep;
    if (sscanf(in, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &n) != 6 || n != 16 ||
        (sep != 'T' && sep != ' '))
        return -1;
    const char *p = in + n;
    if (*p == ':') {
        if (sscanf(p, ":%2d%n", &sec, &m) != 1 || m != 3)
            return -1;
        p += m;
        if (*p == '.') {
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        }
    }
    if (*p == 'Z')
        p++;
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        y < 1970)
        return -1;
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, sec, ms);
    return 0;
}

static const char *member(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && s[0] ? s : NULL;
}

/* What a line must hold, as raw text, to possibly match: the level names
 * allowed (records carry "level":"<name>"), and the text when it has no
 * character JSON would escape (jansson writes UTF-8 as it is and escapes
 * only quotes, backslashes and control characters). */
static void prefilter_init(filter *f)
{
    static const char *const names[] = {"\"error\"", "\"warn\"", "\"info\"", "\"debug\""};
    for (int i = 0; i < 4; i++)
        f->levels[i] = f->level >= 0 && i <= f->level && i < 4 ? names[i] : NULL;
    f->raw_text = f->text != NULL;
    for (const unsigned char *p = (const unsigned char *)(f->text ? f->text : ""); *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
            f->raw_text = false;
}

/* True unless the raw line certainly does not match (a quick test before
 * the JSON is parsed). line is NUL-terminated by the caller. */
static bool may_match(const filter *f, const char *line)
{
    if (f->level >= 0) {
        bool any = false;
        for (int i = 0; i < 4 && !any; i++)
            any = f->levels[i] && strstr(line, f->levels[i]);
        if (!any)
            return false;
    }
    if (f->module && !strstr(line, f->module))
        return false;
    return !f->raw_text || strcasestr(line, f->text);
}

/* Fills f from the filter object; returns NULL, or a new object of errors. */
static json_t *filter_parse(const json_t *in, filter *f)
{
    json_t *errors = json_object();
    const char *level = member(in, "level"), *since = member(in, "since"),
               *until = member(in, "until");
    *f = (filter){.level = -1, .skip = -1};
    const char *skip = member(in, "skip"), *before = member(in, "before");
    f->before = -1;
    f->role = member(in, "role");
    f->module = member(in, "module");
    f->text = member(in, "text");
    if (level && (f->level = pb_log_level_parse(level)) < 0)
        json_object_set_new(errors, "level", json_string("must be error, warn, info or debug"));
    if (since && canonical_time(since, f->since) < 0)
        json_object_set_new(errors, "since", json_string("must be a time: YYYY-MM-DDTHH:MM:SS"));
    if (until && canonical_time(until, f->until) < 0)
        json_object_set_new(errors, "until", json_string("must be a time: YYYY-MM-DDTHH:MM:SS"));
    char *end = NULL;
    if (skip && (f->skip = strtol(skip, &end, 10), *end || f->skip < 0 || f->skip > 1000000))
        json_object_set_new(errors, "skip", json_string("must be a whole number, 0 or more"));
    if (skip && !until)
        json_object_set_new(errors, "skip", json_string("needs until"));
    if (before && (f->before = strtoll(before, &end, 10), *end || f->before < 0))
        json_object_set_new(errors, "before", json_string("must be a byte offset, 0 or more"));
    prefilter_init(f);
    if (f->since[0] && f->until[0] && strcmp(f->since, f->until) >= 0)
        json_object_set_new(errors, "until", json_string("must be later than the start"));
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return NULL;
    }
    return errors;
}

static bool text_in(const json_t *rec, const char *text)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)rec, key, v)
    {
        if (strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "role") == 0 ||
            strcmp(key, "pid") == 0)
            continue;
        const char *s = json_string_value(v);
        if (s && strcasestr(s, text))
            return true;
    }
    return false;
}

static bool matches(const json_t *rec, const filter *f)
{
    const char *ts = json_string_value(json_object_get(rec, "ts"));
    const char *level = json_string_value(json_object_get(rec, "level"));
    if (ts == NULL || level == NULL || json_string_value(json_object_get(rec, "msg")) == NULL)
        return false;
    if (f->level >= 0 && pb_log_level_parse(level) > f->level)
        return false;
    if (f->since[0] && strcmp(ts, f->since) < 0)
        return false;
    if (f->until[0] && strcmp(ts, f->until) >= (f->skip >= 0 ? 1 : 0))
        return false;
    const char *role = json_string_value(json_object_get(rec, "role"));
    if (f->role && (role == NULL || strcmp(role, f->role) != 0))
        return false;
    const char *module = json_string_value(json_object_get(rec, "module"));
    if (f->module && (module == NULL || strcmp(module, f->module) != 0))
        return false;
    return f->text == NULL || text_in(rec, f->text);
}

/* --- Reading backwards ----------------------------------------------------------- */

typedef struct search {
    const filter *f;
    json_t *records;
    size_t limit;
    long skipped;                           /* records at exactly until left out so far */
    long long ends[PB_LOGSEARCH_LIMIT_MAX]; /* byte offset just past each record's line */
    long long oldest_start;                 /* where the oldest line looked at starts */
    char oldest_ts[96];                     /* its time, when it was read as a record */
} search;

/* Takes one complete line (NUL-terminated in place), which starts at the
 * byte offset start; returns true when the search has enough. */
static bool take_line(search *s, char *line, size_t len, long long start)
{
    /* The host writes "ts" first: its time without parsing the line. */
    s->oldest_start = start;
    s->oldest_ts[0] = '\0';
    if (strncmp(line, "{\"ts\":\"", 7) == 0 && strcspn(line + 7, "\"") < sizeof s->oldest_ts)
        snprintf(s->oldest_ts, sizeof s->oldest_ts, "%.*s", (int)strcspn(line + 7, "\""), line + 7);
    if (!may_match(s->f, line))
        return false;
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    const char *ts = json_string_value(json_object_get(rec, "ts"));
    if (json_is_object(rec) && matches(rec, s->f)) {
        /* The newest ones at exactly until were on the page before. */
        if (s->f->skip >= 0 && strcmp(ts, s->f->until) == 0 && s->skipped < s->f->skip) {
            s->skipped++;
        } else {
            s->ends[json_array_size(s->records)] = start + (long long)len + 1;
            json_array_append(s->records, rec);
        }
    }
    json_decref(rec);
    return json_array_size(s->records) >= s->limit;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads fd back from end to start, for at most PB_LOGSEARCH_BUDGET_MS.
 * The part of a line already read (its end) is kept at the end of buf, so
 * each new block lands just before it; a byte after the buffer holds the
 * NUL that ends a line in place. Returns 1 when stopped at the limit, 2
 * when stopped at the time budget, 0 at start, -1 on a read error. */
static int scan(int fd, off_t start, off_t end, search *s)
{
    const size_t cap = BLOCK + PB_LOGSEARCH_LINE_MAX;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return -1;
    size_t tail = 0;  /* bytes of the current line kept at buf + cap - tail */
    bool skip = true; /* the line after the last newline is unfinished */
    off_t pos = end;
    int rc = 0;
    long long deadline = now_ms() + PB_LOGSEARCH_BUDGET_MS;
    s->oldest_start = (long long)end;
    while (pos > start && rc == 0) {
        size_t n = (size_t)(pos - start < (off_t)BLOCK ? pos - start : (off_t)BLOCK);
        char *from = buf + cap - tail - n;
        if (pread(fd, from, n, pos - (off_t)n) != (ssize_t)n) {
            rc = -1;
            break;
        }
        pos -= (off_t)n;
        char *line_end = buf + cap;
        for (char *p = from + n; p > from && rc == 0;) {
            if (*--p != '\n')
                continue;
            if (!skip) {
                char keep = *line_end;
                *line_end = '\0';
                if (take_line(s, p + 1, (size_t)(line_end - p - 1),
                              (long long)pos + (long long)(p + 1 - from)))
                    rc = 1;
                *line_end = keep;
            }
            skip = false;
            line_end = p;
        }
        tail = (size_t)(line_end - from);
        if (rc == 0 && pos > start && now_ms() >= deadline)
            rc = 2; /* the rest waits for a search that resumes at oldest_start */
        else if (tail > PB_LOGSEARCH_LINE_MAX) {
            skip = true; /* a huge line: dropped whole */
            tail = 0;
        } else if (tail > 0) {
            memmove(buf + cap - tail, from, tail);
        }
    }
    /* The file's first line has no newline before it. */
    if (rc == 0 && pos == 0 && !skip && tail > 0) {
        char *line = buf + cap - tail, keep = line[tail];
        line[tail] = '\0';
        if (take_line(s, line, tail, 0))
            rc = 1;
        line[tail] = keep;
    }
    free(buf);
    return rc;
}

/* "next_before": where the next, older page starts back from: just past
 * the newest of the trailing records that share the oldest one's time, so
 * that with until = that time and skip = their number it goes on exactly
 * after them. */
static void add_next_before(json_t *out, const search *s)
{
    size_t n = json_array_size(s->records), i = n;
    const char *oldest =
        json_string_value(json_object_get(json_array_get(s->records, n - 1), "ts"));
    while (i > 0 &&
           strcmp(json_string_value(json_object_get(json_array_get(s->records, i - 1), "ts")),
                  oldest) == 0)
        i--;
    char at[24];
    snprintf(at, sizeof at, "%lld", s->ends[i]);
    json_object_set_new(out, "next_before", json_string(at));
}

/* "bound": where a search that stopped before the file's start stopped:
 * "before" (resume there), "until" (the time of the oldest record read, so
 * far as known), "bytes" and "read" (how much was read, as a number and as
 * text) and "why" ("size" or
 * "time"); "skip" when some records to skip are still ahead. */
static void add_bound(json_t *out, const search *s, long long end, int rc)
{
    char at[24];
    snprintf(at, sizeof at, "%lld", s->oldest_start);
    json_t *b = json_pack("{s:s, s:I, s:s}", "before", at, "bytes",
                          (json_int_t)(end - s->oldest_start), "why", rc == 2 ? "time" : "size");
    char read[32];
    snprintf(read, sizeof read, "%.1f MiB", (double)(end - s->oldest_start) / (1 << 20));
    json_object_set_new(b, "read", json_string(read));
    if (s->oldest_ts[0])
        json_object_set_new(b, "until", json_string(s->oldest_ts));
    if (s->f->skip >= 0) {
        char left[24];
        snprintf(left, sizeof left, "%ld", s->f->skip - s->skipped);
        json_object_set_new(b, "skip", json_string(left));
    }
    json_object_set_new(out, "bound", b);
}

json_t *pb_logsearch(const char *path, const json_t *filter_in, size_t limit, size_t window)
{
    filter f;
    json_t *errors = filter_parse(filter_in, &f);
    if (errors)
        return json_pack("{s:o}", "errors", errors);
    if (limit == 0 || limit > PB_LOGSEARCH_LIMIT_MAX)
        limit = PB_LOGSEARCH_LIMIT_MAX;
    static search s; /* its offsets are large: kept off the stack (one search at a time) */
    s = (search){.f = &f, .records = json_array(), .limit = limit};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return json_pack("{s:o, s:b, s:b}", "records", s.records, "more", 0, "bounded", 0);
        json_decref(s.records);
        return NULL;
    }
    struct stat st;
    int rc = -1;
    off_t start = 0, end = 0;
    if (fstat(fd, &st) == 0) {
        /* A before past the end is from a file since rotated: the end. */
        end = f.before >= 0 && f.before < (long long)st.st_size ? (off_t)f.before : st.st_size;
        start = end > (off_t)window ? end - (off_t)window : 0;
        rc = scan(fd, start, end, &s);
    }
    close(fd);
    if (rc < 0) {
        json_decref(s.records);
        return NULL;
    }
    bool bounded = rc == 2 || (rc == 0 && start > 0);
    json_t *out =
        json_pack("{s:o, s:b, s:b}", "records", s.records, "more", rc == 1, "bounded", bounded);
    if (rc == 1)
        add_next_before(out, &s);
    if (bounded)
        add_bound(out, &s, (long long)end, rc);
    return out;
}
