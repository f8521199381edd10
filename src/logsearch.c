/*
 * logsearch.c - the system log's search: the [log] file read backwards.
 *
 * The file only grows at its end and records are appended in time order
 * (nearly: processes race by a few milliseconds), so reading it backwards
 * in blocks finds the newest matches first and stops as soon as enough are
 * found, without an index. The read is bounded by a window from the end so
 * a search costs the same however old the file is.
 */
#include "logsearch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define BLOCK (64u << 10)

typedef struct filter {
    int level; /* the least severe level shown; -1 = any */
    const char *role, *module, *text;
    char since[96], until[96]; /* canonical, "" = unbounded */
    long skip;                 /* with until: records at exactly until to leave out; -1 = none */
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

/* Fills f from the filter object; returns NULL, or a new object of errors. */
static json_t *filter_parse(const json_t *in, filter *f)
{
    json_t *errors = json_object();
    const char *level = member(in, "level"), *since = member(in, "since"),
               *until = member(in, "until");
    *f = (filter){.level = -1, .skip = -1};
    const char *skip = member(in, "skip");
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
    long skipped; /* records at exactly until left out so far */
} search;

/* Takes one complete line; returns true when the search has enough. */
static bool take_line(search *s, const char *line, size_t len)
{
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(rec) && matches(rec, s->f)) {
        /* The newest ones at exactly until were on the page before. */
        const char *ts = json_string_value(json_object_get(rec, "ts"));
        if (s->f->skip >= 0 && strcmp(ts, s->f->until) == 0 && s->skipped < s->f->skip)
            s->skipped++;
        else
            json_array_append(s->records, rec);
    }
    json_decref(rec);
    return json_array_size(s->records) >= s->limit;
}

/* Reads fd back from end to start. The part of a line already read (its
 * end) is kept at the end of buf, so each new block lands just before it.
 * Returns 1 when stopped at the limit, 0 at start, -1 on a read error. */
static int scan(int fd, off_t start, off_t end, search *s)
{
    const size_t cap = BLOCK + PB_LOGSEARCH_LINE_MAX;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    size_t tail = 0;  /* bytes of the current line kept at buf + cap - tail */
    bool skip = true; /* the line after the last newline is unfinished */
    off_t pos = end;
    int rc = 0;
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
            if (!skip && take_line(s, p + 1, (size_t)(line_end - p - 1)))
                rc = 1;
            skip = false;
            line_end = p;
        }
        tail = (size_t)(line_end - from);
        if (tail > PB_LOGSEARCH_LINE_MAX) {
            skip = true; /* a huge line: dropped whole */
            tail = 0;
        } else if (tail > 0) {
            memmove(buf + cap - tail, from, tail);
        }
    }
    /* The file's first line has no newline before it. */
    if (rc == 0 && pos == 0 && !skip && tail > 0 && take_line(s, buf + cap - tail, tail))
        rc = 1;
    free(buf);
    return rc;
}

json_t *pb_logsearch(const char *path, const json_t *filter_in, size_t limit, size_t window)
{
    filter f;
    json_t *errors = filter_parse(filter_in, &f);
    if (errors)
        return json_pack("{s:o}", "errors", errors);
    if (limit == 0 || limit > PB_LOGSEARCH_LIMIT_MAX)
        limit = PB_LOGSEARCH_LIMIT_MAX;
    search s = {.f = &f, .records = json_array(), .limit = limit};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return json_pack("{s:o, s:b, s:b}", "records", s.records, "more", 0, "bounded", 0);
        json_decref(s.records);
        return NULL;
    }
    struct stat st;
    int rc = -1;
    off_t start = 0;
    if (fstat(fd, &st) == 0) {
        start = st.st_size > (off_t)window ? st.st_size - (off_t)window : 0;
        rc = scan(fd, start, st.st_size, &s);
    }
    close(fd);
    if (rc < 0) {
        json_decref(s.records);
        return NULL;
    }
    return json_pack("{s:o, s:b, s:b}", "records", s.records, "more", rc == 1, "bounded",
                     rc == 0 && start > 0);
}
