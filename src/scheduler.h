/*
 * scheduler.h - the job scheduler process (see scheduler.c).
 */
#ifndef PB_SCHEDULER_H
#define PB_SCHEDULER_H

#include "config.h"
#include "module.h"

/* Runs the scheduler with the modules of plan until SIGTERM (then lets the
 * runs in progress finish) or until the master goes away. Never returns. */
void pb_scheduler_main(const pb_config *cfg, const pb_pathlist *plan) __attribute__((noreturn));

#endif
