/*
 * console.h - what the modules console shows and does (host->module_report,
 * host->module_control): each loaded module's identity (version, GNU build
 * id, file and its SHA-256), its figures from the scoreboard, and its state
 * as the master sees it; reload, enable and disable through the master's
 * control socket.
 */
#ifndef PB_CONSOLE_H
#define PB_CONSOLE_H

#include <jansson.h>

#include "plugboard.h"

/* See host->module_report in include/plugboard.h. */
json_t *pb_console_report(pb_req *req);

/* See host->module_control in include/plugboard.h. */
int pb_console_control(pb_req *req, const char *command, const char *name, json_t **reply);

/* Sends one command line to the master's control socket at path and reads
 * the JSON answer, waiting up to timeout seconds. Returns the parsed answer
 * or NULL with the reason in err. */
json_t *pb_console_ask(const char *path, const char *command, long timeout, char *err,
                       size_t errlen);

#endif
