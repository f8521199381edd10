/*
 * auth.h - what the auth module's files share.
 */
#ifndef PB_AUTH_H
#define PB_AUTH_H

#include <plugboard.h>

extern const pb_host *host;

/* Checks an e-mail address and password under the sign-in throttle.
 * Returns PB_OK with *user = {id, display_name, totp_enabled} (caller owns),
 * PB_INVALID when they do not match (the failure is counted), 429 when
 * throttled (the model has the message, Retry-After is set), or PB_ERROR. */
int auth_check_password(pb_req *req, const char *email, const char *password, json_t **user);

/* Where user_id lands: their first active team ("" when none) and their
 * role level there. Returns PB_OK or PB_ERROR. */
int auth_login_context(pb_req *req, const char *user_id, char *team, size_t teamlen, int *level);

/* POST /auth/token (apitoken.c). */
int auth_token(pb_req *req);

#endif
