/*
 * master.h - the master process: owns the sockets and the scoreboard,
 * supervises workers, answers the control socket.
 */
#ifndef PB_MASTER_H
#define PB_MASTER_H

#include "config.h"

/* Runs the process group in the foreground until SIGTERM or SIGINT.
 * Returns the process exit status. */
int pb_master_run(const pb_config *cfg);

#endif
