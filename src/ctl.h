/*
 * ctl.h - `plugboard ctl`: talking to a running master.
 */
#ifndef PB_CTL_H
#define PB_CTL_H

#include "config.h"

/* Runs `plugboard ctl COMMAND [--json]` against the master of cfg.
 * argv[0] is "ctl". Returns the exit status. */
int pb_ctl_main(const pb_config *cfg, int argc, char **argv);

#endif
