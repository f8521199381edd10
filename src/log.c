/*
 * log.c - structured log records on stderr, and as JSON lines in a file.
 *
 * Each record is formatted whole and written with one write(2), so records
 * from several processes sharing stderr or the file (opened O_APPEND) never
 * interleave. The JSON writer is our own so that nothing a caller passes can
 * make a record fail or span lines: invalid UTF-8 becomes U+FFFD and every
 * control character is escaped.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
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
    int file_fd; /* the [log] file, or -1 */
    char file_path[4096];
} log_cfg = {PB_LOG_INFO, PB_LOG_TEXT, "plugboard", -1, ""};

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

int pb_log_file_open(const char *path, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0')
        return 0;
    if (strlen(path) >= sizeof log_cfg.file_path) {
        snprintf(err, errlen, "[log] file: path too long");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "[log] file %s: %s", path, strerror(errno));
        return -1;
    }
    if (log_cfg.file_fd >= 0)
        close(log_cfg.file_fd);
    log_cfg.file_fd = fd;
    snprintf(log_cfg.file_path, sizeof log_cfg.file_path, "%s", path);
    return 0;
}

const char *pb_log_file_path(void)
{
    return log_cfg.file_fd >= 0 ? log_cfg.file_path : NULL;
}

int pb_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

const char *pb_log_level_name(int level)
{
    return level >= PB_LOG_ERROR && level <= PB_LOG_DEBUG ? level_names[level] : NULL;
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

/* ---------------------------------------------------------------------
 * The JSON writer
 * --------------------------------------------------------------------- */

/* Returns the length of the well-formed UTF-8 sequence at s (RFC 3629 §4:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80;
        hi = s[0] == 0xED ? 0x9F : 0xBF;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

void pb_log_json_string(pb_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    pb_buf_putc(b, '"');
    while (n > 0) {
        size_t len = utf8_seq(p, n);
        if (len == 0) {
            pb_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD for each invalid byte */
            len = 1;
        } else if (*p == '"' || *p == '\\') {
            pb_buf_putc(b, '\\');
            pb_buf_putc(b, (char)*p);
        } else if (*p == '\n')
            pb_buf_puts(b, "\\n");
        else if (*p == '\r')
            pb_buf_puts(b, "\\r");
        else if (*p == '\t')
            pb_buf_puts(b, "\\t");
        else if (*p < 0x20 || *p == 0x7F)
            pb_buf_printf(b, "\\u%04x", *p);
        else
            pb_buf_append(b, p, len);
        p += len;
        n -= len;
    }
    pb_buf_putc(b, '"');
}

static bool reserved_key(const char *k)
{
    static const char *const keys[] = {"ts", "level", "role", "pid", "msg"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

void pb_log_json_record(pb_buf *b, const char *ts, int level, const char *role, long pid,
                        const char *const *fields, const char *msg)
{
    pb_buf_puts(b, "{\"ts\":");
    pb_log_json_string(b, ts);
    pb_buf_puts(b, ",\"level\":");
    pb_log_json_string(b, pb_log_level_name(level) ? pb_log_level_name(level) : "error");
    pb_buf_puts(b, ",\"role\":");
    pb_log_json_string(b, role);
    pb_buf_printf(b, ",\"pid\":%ld,\"msg\":", pid);
    pb_log_json_string(b, msg);
    /* A NULL value is left out; a key named like a core member is not
     * written twice (the record's own member wins). */
    for (; fields && fields[0]; fields += 2) {
        if (fields[1] == NULL || reserved_key(fields[0]))
            continue;
        pb_buf_putc(b, ',');
        pb_log_json_string(b, fields[0]);
        pb_buf_putc(b, ':');
        pb_log_json_string(b, fields[1]);
    }
    pb_buf_puts(b, "}\n");
}

static void log_text(pb_buf *b, const char *ts, int level, const char *const *fields,
                     const char *msg)
{
    pb_buf_printf(b, "%s %s[%d] %s: %s", ts, log_cfg.role, (int)getpid(), level_names[level], msg);
    for (; fields && fields[0]; fields += 2)
        pb_buf_printf(b, " %s=%s", fields[0], fields[1] ? fields[1] : "-");
    pb_buf_putc(b, '\n');
}

static void write_whole(int fd, const pb_buf *b)
{
    if (b->len > 0 && write(fd, b->data, b->len) < 0) {
        /* Nowhere left to report a failing log. */
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
    pb_buf json = PB_BUF_INIT;
    if (log_cfg.format == PB_LOG_JSON || log_cfg.file_fd >= 0)
        pb_log_json_record(&json, ts, level, log_cfg.role, (long)getpid(), fields, msg);
    if (log_cfg.format == PB_LOG_JSON) {
        write_whole(STDERR_FILENO, &json);
    } else {
        pb_buf text = PB_BUF_INIT;
        log_text(&text, ts, level, fields, msg);
        write_whole(STDERR_FILENO, &text);
        pb_buf_free(&text);
    }
    if (log_cfg.file_fd >= 0)
        write_whole(log_cfg.file_fd, &json);
    pb_buf_free(&json);
}

void pb_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pb_logv(level, NULL, fmt, ap);
    va_end(ap);
}

void pb_logf(int level, const char *const *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pb_logv(level, fields, fmt, ap);
    va_end(ap);
}
