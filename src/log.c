/*
 * log.c - structured log lines on stderr.
 *
 * Each line is written with one write(2) so lines from several processes
 * sharing stderr never interleave.
 */
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* Set once at start-up, before any fork; read-only afterwards. */
static struct {
    int level;
    int format;
    const char *role;
} log_cfg = {PB_LOG_INFO, PB_LOG_TEXT, "plugboard"};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void pb_log_setup(int level, int format, const char *role)
{
    log_cfg.level = level;
    log_cfg.format = format;
    if (role)
        log_cfg.role = role;
}

void pb_log_role(const char *role)
{
    log_cfg.role = role;
}

int pb_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static void log_timestamp(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void log_text(pb_buf *b, const char *ts, int level, const char *const *fields,
                     const char *msg)
{
    pb_buf_printf(b, "%s %s[%d] %s: %s", ts, log_cfg.role, (int)getpid(), level_names[level], msg);
    for (; fields && fields[0]; fields += 2)
        pb_buf_printf(b, " %s=%s", fields[0], fields[1] ? fields[1] : "-");
    pb_buf_putc(b, '\n');
}

static void log_json(pb_buf *b, const char *ts, int level, const char *const *fields,
                     const char *msg)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ts", ts, "level", level_names[level],
                          "role", log_cfg.role, "pid", (int)getpid(), "msg", msg);
    if (o == NULL)
        return;
    for (; fields && fields[0]; fields += 2)
        json_object_set_new(o, fields[0], fields[1] ? json_string(fields[1]) : json_null());
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s) {
        pb_buf_puts(b, s);
        pb_buf_putc(b, '\n');
        free(s);
    }
}

void pb_logv(int level, const char *const *fields, const char *fmt, va_list ap)
{
    if (level > log_cfg.level)
        return;
    if (level < PB_LOG_ERROR)
        level = PB_LOG_ERROR;
    char ts[40], msg[1024];
    log_timestamp(ts, sizeof ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    pb_buf b = PB_BUF_INIT;
    if (log_cfg.format == PB_LOG_JSON)
        log_json(&b, ts, level, fields, msg);
    else
        log_text(&b, ts, level, fields, msg);
    if (b.len > 0 && write(STDERR_FILENO, b.data, b.len) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
    pb_buf_free(&b);
}

void pb_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pb_logv(level, NULL, fmt, ap);
    va_end(ap);
}
