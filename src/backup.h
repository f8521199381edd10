/*
 * backup.h - pg_dump archives of the whole database, their verification
 * and restores (host->backup_*; contracts in include/plugboard.h).
 *
 * The dumping and restoring run as the owner role ([database]
 * owner_conninfo, BYPASSRLS) so that they see every row; modules never see
 * that connection string. The binaries come from [backups] pg_bin and run
 * without a shell; archives live in [backups] folder.
 */
#ifndef PB_BACKUP_H
#define PB_BACKUP_H

#include <plugboard.h>

int pb_backup_run(pb_req *req, json_t **out);
int pb_backup_verify(pb_req *req, long long id, json_t **out);
int pb_backup_restore(pb_req *req, long long id, const char *target, json_t **out);
int pb_backup_send(pb_req *req, long long id);
int pb_backup_delete(pb_req *req, long long id, json_t **out);

#endif
