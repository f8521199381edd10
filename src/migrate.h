/*
 * migrate.h - the migration runner.
 *
 * Migrations are plain SQL files <folder>/<module>/NNN_name.sql. Each
 * pending one runs in its own transaction, under an advisory lock so two
 * runners never interleave, and is recorded in core.migrations with its
 * checksum. The token @app_role@ in a file is replaced by the quoted name
 * of the application role ([database] app_role) for GRANTs.
 */
#ifndef PB_MIGRATE_H
#define PB_MIGRATE_H

#include <stddef.h>

#include "config.h"

/* Applies every pending migration, logging each. Returns the number
 * applied, or -1 with "file: message" in err (that file's transaction is
 * rolled back; earlier files stay applied). */
int pb_migrate(const pb_config *cfg, char *err, size_t errlen);

struct pb_modset;

/* Records every permission the loaded modules declare, and every route's
 * permission, in core.permissions (as the owner role), so roles can be
 * granted them. Returns the number recorded, or -1 with err. */
int pb_permissions_register(const pb_config *cfg, const struct pb_modset *ms, char *err,
                            size_t errlen);

#endif
