/*
 * logsearch.h - searching the JSON lines log file ([log] file) from its end.
 */
#ifndef PB_LOGSEARCH_H
#define PB_LOGSEARCH_H

#include <stddef.h>

#include <jansson.h>

/* A search reads back at most this many bytes and for at most this long,
 * then says where it stopped ("bound") so the next one can go on from
 * there: a search that matches nothing answers in about a tenth of a
 * second whatever the file's size (it read the whole file before). */
#define PB_LOGSEARCH_WINDOW    (16u << 20) /* bytes read back per search, at most */
#define PB_LOGSEARCH_BUDGET_MS 100
#define PB_LOGSEARCH_LIMIT_MAX 500
#define PB_LOGSEARCH_LINE_MAX  (256u << 10) /* longer lines are skipped */

/* Reads path backwards from its end (or from filter's "before"), at most
 * window bytes and PB_LOGSEARCH_BUDGET_MS, and returns a new object:
 *   "records": the matching records, newest first, at most limit (capped
 *              at PB_LOGSEARCH_LIMIT_MAX);
 *   "more":    true when the search stopped at limit (older ones may match);
 *              "next_before" then holds the "before" of the next page (with
 *              until and skip as the records shown give them);
 *   "bounded": true when it stopped at the window or the time budget before
 *              the file's start; "bound" then holds {"before": the offset to
 *              go on from, "until": the time of the oldest record read,
 *              "bytes": how many were read, "why": "size" or "time", and
 *              "skip" (with a skip filter) the records still to skip}.
 * filter (may be NULL) holds strings, each optional (empty = any):
 *   "level" (the least severe level shown: "warn" shows warn and error),
 *   "role" and "module" (equal), "text" (a substring of msg or of any
 *   field's value, ASCII case-insensitive), "since" (inclusive) and
 *   "until" (exclusive), UTC times "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]";
 *   "skip" (digits, with until): until becomes inclusive and that many of
 *   the newest matches at exactly until are left out (the next page after
 *   records that shared their millisecond); "before" (digits): a byte
 *   offset from an earlier answer, where the search starts back from.
 * An invalid filter gives {"errors": {field: message}} and no records. A
 * missing file gives no records. Lines that are not JSON objects, the
 * unterminated last line (a record being written), and lines longer than
 * PB_LOGSEARCH_LINE_MAX are skipped. Returns NULL when the file cannot be
 * read or memory runs out. */
json_t *pb_logsearch(const char *path, const json_t *filter, size_t limit, size_t window);

#endif
