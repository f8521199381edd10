/*
 * hostapi.h - the table of host functions handed to every module.
 */
#ifndef PB_HOSTAPI_H
#define PB_HOSTAPI_H

#include "plugboard.h"

/* Returns the host function table (static, never freed). */
const pb_host *pb_hostapi(void);

#endif
