/*
 * events.h - recording system events (core.system_events) from the master.
 */
#ifndef PB_EVENTS_H
#define PB_EVENTS_H

#include <jansson.h>

#include "config.h"

/* Logs the event and records it in core.system_events over a short
 * connection as the owner ([database] owner_conninfo). detail is borrowed
 * (may be NULL). Returns 0, or -1 when the database could not take it (the
 * log line stands). */
int pb_event_record(const pb_config *cfg, const char *kind, const char *module, json_t *detail);

#endif
