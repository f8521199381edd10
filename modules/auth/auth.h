/*
 * auth.h - what the auth module's files share.
 */
#ifndef PB_AUTH_H
#define PB_AUTH_H

#include <plugboard.h>
#include <sodium.h>

#define PASSWORD_MIN 10
#define PASSWORD_MAX 200

extern const pb_host *host;

/* Checks an e-mail address and password under the sign-in throttle.
 * Returns PB_OK with *user = {id, display_name, totp_enabled} (caller owns),
 * PB_INVALID when they do not match (the failure is counted), 429 when
 * throttled (the model has the message, Retry-After is set), or PB_ERROR. */
int auth_check_password(pb_req *req, const char *email, const char *password, json_t **user);

/* Where user_id lands: their first active team ("" when none) and their
 * role level there. Returns PB_OK or PB_ERROR. */
int auth_login_context(pb_req *req, const char *user_id, char *team, size_t teamlen, int *level);

/* Puts the form's CSRF token in the model as "csrf". PB_OK or PB_ERROR. */
int auth_with_csrf(pb_req *req);

/* Hashes password with argon2id into hash. PB_OK, or PB_ERROR when out of
 * memory. */
int auth_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES]);

/* POST /auth/token (apitoken.c). */
int auth_token(pb_req *req);

/* account.c: the signed-in user's profile and password (account:self). */
int account_form(pb_req *req);
int account_update(pb_req *req);
int password_form(pb_req *req);
int password_update(pb_req *req);

/* account.c: password reset by e-mail, for anonymous visitors. */
int forgot_form(pb_req *req);
int forgot(pb_req *req);
int reset_form(pb_req *req);
int reset(pb_req *req);

#endif
