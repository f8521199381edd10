/*
 * log.h - one record per event on stderr, as text or JSON lines, and
 * optionally as JSON lines appended to a file ([log] file).
 *
 * A JSON record is one line: {"ts":"2026-01-02T03:04:05.678Z" (UTC, ms),
 * "level", "role", "pid", "msg", then each field (module, route, job,
 * name...) as a string member.
 */
#ifndef PB_LOG_H
#define PB_LOG_H

#include "buf.h"
#include "plugboard.h"

enum pb_log_format { PB_LOG_TEXT, PB_LOG_JSON };

/* Sets the threshold and format for this process (set once at start-up). */
void pb_log_setup(int level, int format, const char *role);

/* Names the process's role in every line: "master", "worker", "probe". */
void pb_log_role(const char *role);

/* Opens path (O_APPEND, created 0640) so that every record is also
 * appended to it as a JSON line, whatever the stderr format; an empty or
 * NULL path opens nothing. Call before forking. Returns 0, or -1 with err
 * filled. */
int pb_log_file_open(const char *path, char *err, size_t errlen);

/* The file opened by pb_log_file_open, or NULL. */
const char *pb_log_file_path(void);

/* Parses "error" | "warn" | "info" | "debug"; returns the level or -1. */
int pb_log_level_parse(const char *s);
/* The name of level, or NULL when it is none. */
const char *pb_log_level_name(int level);

/* Writes one line when level is at or above the threshold. fields may be
 * NULL, or pairs of key/value strings ending with NULL that are appended as
 * structured fields (key=value in text, members in JSON; a NULL value is
 * "-" in text and left out of JSON). */
void pb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pb_logf(int level, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pb_logv(int level, const char *const *fields, const char *fmt, va_list ap);

/* The JSON writer, exposed for its tests. pb_log_json_string appends s as
 * a JSON string: quotes and backslashes escaped, control characters as
 * \n, \r, \t or \u00XX, each byte of invalid UTF-8 as U+FFFD.
 * pb_log_json_record appends one whole record and its newline. */
void pb_log_json_string(pb_buf *b, const char *s);
void pb_log_json_record(pb_buf *b, const char *ts, int level, const char *role, long pid,
                        const char *const *fields, const char *msg);

#endif
