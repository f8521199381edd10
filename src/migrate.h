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

#endif
