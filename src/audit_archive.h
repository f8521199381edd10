/*
 * audit_archive.h - `plugboard audit-archive`: moving old audit rows aside.
 *
 * The application role may only append to core.audit_log; the owner moves
 * rows older than a number of days to core.audit_archive (same columns),
 * keeping the live table, and its indexes, small.
 */
#ifndef PB_AUDIT_ARCHIVE_H
#define PB_AUDIT_ARCHIVE_H

#include <stddef.h>

#include "config.h"

#define PB_AUDIT_ARCHIVE_DAYS 365 /* --older-than's default */
#define PB_AUDIT_ARCHIVE_MAX  100000

/* Moves every core.audit_log row older than days to core.audit_archive in
 * one transaction, connecting as the owner ([database] owner_conninfo).
 * Returns the number of rows moved, or -1 with the reason in err (nothing
 * moved). */
long long pb_audit_archive(const pb_config *cfg, int days, char *err, size_t errlen);

/* Runs `plugboard audit-archive [--older-than DAYS]`; argv[0] is
 * "audit-archive". Prints what was moved. Returns the exit status: 0, or 1
 * after printing the reason. */
int pb_audit_archive_main(const pb_config *cfg, int argc, char **argv);

#endif
