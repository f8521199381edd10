/*
 * account.h - the host's account services: who is asking (a session or a
 * bearer token), the audit trail, statements that must survive a rollback,
 * dropping cached permission sets, signing a user out everywhere, the mail
 * outbox and API tokens. hostapi.c exposes them to modules; worker.c calls
 * the identity and settle functions around every request.
 */
#ifndef PB_ACCOUNT_H
#define PB_ACCOUNT_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

struct pb_req;

/* Loads the HS256 signing key for access tokens, creating the key file
 * first when it does not exist. Called once by the master before workers
 * are forked; they inherit it. Returns 0, or -1 with err. */
int pb_account_key_init(const pb_config *cfg, char *err, size_t errlen);

/* Authenticates a request that sent "Authorization: <value>". Returns 0 when
 * value is a valid "Bearer <token>" (req->bearer and req->claims set), or -1
 * with a reason for the client in msg. */
int pb_ident_bearer(struct pb_req *req, const char *value, char *msg, size_t msglen);

/* The acting identity, from the bearer token or else the session: user,
 * team, role level, and the real user behind a "view as" (NULL when none). */
const char *pb_ident_user(struct pb_req *req);
const char *pb_ident_team(struct pb_req *req);
int pb_ident_level(struct pb_req *req);
const char *pb_ident_real_user(struct pb_req *req);

/* Writes an audit row (see pb_host.audit). Returns 0 or -1. */
int pb_audit(struct pb_req *req, const char *action, const char *resource_type,
             const char *resource_id, json_t *before, json_t *after, unsigned flags);

/* Marks cached permission sets to drop after commit: user_id's, or all. */
void pb_permissions_changed(struct pb_req *req, const char *user_id);

/* Settles what waited for the request's transaction to end: after a commit,
 * drops the permission sets marked; otherwise runs the statements kept
 * through the rollback in a transaction of their own. */
void pb_account_settle(struct pb_req *req, bool committed);

/* Sign-out everywhere (see pb_host.revoke_sessions). Returns 0 or -1. */
int pb_revoke_sessions(struct pb_req *req, const char *user_id, bool keep_current);

/* Queues an e-mail. Returns 0, 1 for an unusable address or subject, -1. */
int pb_mail_enqueue(struct pb_req *req, const char *to, const char *subject, const char *text);

/* API tokens (see pb_host.token_issue and token_refresh). token_refresh
 * returns 0, 1 when the token is refused, or -1. */
int pb_token_pair(struct pb_req *req, const char *user_id, const char *team_id, int level,
                  json_t **out);
int pb_token_rotate(struct pb_req *req, const char *refresh_token, json_t **out);

#endif
