/*
 * hostapi.h - the table of host functions handed to every module.
 */
#ifndef PB_HOSTAPI_H
#define PB_HOSTAPI_H

#include "plugboard.h"

/* Returns the host function table (static, never freed). */
const pb_host *pb_hostapi(void);

/* Counts one event of rate class cls ("api") for key (NULL: the client's
 * address) and checks the limit. Returns 0 within it, 1 over it (with
 * Retry-After set and the seconds left in *retry_after), or -1 when Redis
 * is unavailable. */
int pb_rate_take(pb_req *req, const char *cls, const char *key, long *retry_after);

#endif
