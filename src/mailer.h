/*
 * mailer.h - the mail sender process (see mailer.c).
 */
#ifndef PB_MAILER_H
#define PB_MAILER_H

#include "config.h"

/* Runs the mailer until SIGTERM or the master goes away. Never returns. */
void pb_mailer_main(const pb_config *cfg) __attribute__((noreturn));

#endif
