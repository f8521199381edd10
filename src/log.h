/*
 * log.h - one line per event on stderr, as text or JSON lines.
 */
#ifndef PB_LOG_H
#define PB_LOG_H

#include "plugboard.h"

enum pb_log_format { PB_LOG_TEXT, PB_LOG_JSON };

/* Sets the threshold and format for this process (set once at start-up). */
void pb_log_setup(int level, int format, const char *role);

/* Names the process's role in every line: "master", "worker", "probe". */
void pb_log_role(const char *role);

/* Parses "error" | "warn" | "info" | "debug"; returns the level or -1. */
int pb_log_level_parse(const char *s);

/* Writes one line when level is at or above the threshold. fields may be
 * NULL, or pairs of key/value strings ending with NULL that are appended as
 * structured fields (key=value in text, members in JSON). */
void pb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pb_logv(int level, const char *const *fields, const char *fmt, va_list ap);

#endif
