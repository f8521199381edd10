/*
 * jsonout.h - writing a jansson value as compact JSON text.
 *
 * Every API response goes through here. jansson's own json_dump_callback
 * spends most of its time on loop detection (it formats each container's
 * address into a hashtable) and on printf for numbers; this writer bounds
 * depth instead and formats numbers directly. Its output parses back to a
 * value json_equal() to the input (tests/fuzz/fuzz_jsonout.c checks that).
 */
#ifndef PB_JSONOUT_H
#define PB_JSONOUT_H

#include <jansson.h>

#include "buf.h"

/* Appends v as compact JSON (RFC 8259), object members in insertion order.
 * Returns 0, or -1 when out of memory or nested deeper than 512 levels (a
 * cycle counts as too deep). */
int pb_json_write(pb_buf *b, const json_t *v);

#endif
