/*
 * operator.h - `plugboard operator add|remove|list [EMAIL]`.
 *
 * Operators run the installation (sql/core/007_operators.sql). The command
 * line grants and revokes the flag as the owner role, for recovery when
 * no operator can sign in; each change is audited.
 */
#ifndef PB_OPERATOR_H
#define PB_OPERATOR_H

#include "config.h"

/* Runs `plugboard operator ...`; argv[0] is "operator". Returns the exit
 * status: 0; 1 after printing why (no such account, the last operator,
 * the database unreachable); 2 for a usage error. */
int pb_operator_main(const pb_config *cfg, int argc, char **argv);

#endif
