/*
 * logsearch.h - searching the JSON lines log file ([log] file) from its end.
 */
#ifndef PB_LOGSEARCH_H
#define PB_LOGSEARCH_H

#include <stddef.h>

#include <jansson.h>

#define PB_LOGSEARCH_WINDOW    (64u << 20) /* bytes read back from the end, at most */
#define PB_LOGSEARCH_LIMIT_MAX 500
#define PB_LOGSEARCH_LINE_MAX  (256u << 10) /* longer lines are skipped */

/* Reads path backwards from its end, at most its last window bytes, and
 * returns a new object:
 *   "records": the matching records, newest first, at most limit (capped
 *              at PB_LOGSEARCH_LIMIT_MAX);
 *   "more":    true when the search stopped at limit (older ones may match);
 *   "bounded": true when it stopped at the window before the file's start.
 * filter (may be NULL) holds strings, each optional (empty = any):
 *   "level" (the least severe level shown: "warn" shows warn and error),
 *   "role" and "module" (equal), "text" (a substring of msg or of any
 *   field's value, ASCII case-insensitive), "since" (inclusive) and
 *   "until" (exclusive), UTC times "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]";
 *   "skip" (digits, with until): until becomes inclusive and that many of
 *   the newest matches at exactly until are left out (the next page after
 *   records that shared their millisecond).
 * An invalid filter gives {"errors": {field: message}} and no records. A
 * missing file gives no records. Lines that are not JSON objects, the
 * unterminated last line (a record being written), and lines longer than
 * PB_LOGSEARCH_LINE_MAX are skipped. Returns NULL when the file cannot be
 * read or memory runs out. */
json_t *pb_logsearch(const char *path, const json_t *filter, size_t limit, size_t window);

#endif
