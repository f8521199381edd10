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

/* Checks the sign-in throttle for email (and, when by_address, for the
 * client's address). Returns PB_OK, 429 when the limit is reached (the
 * model has the message), or PB_ERROR. */
int auth_throttle(pb_req *req, const char *email, bool by_address);

/* Signs a user in whose credentials were checked (every factor), and
 * records "auth.login". Returns PB_OK or PB_ERROR. */
int auth_signed_in(pb_req *req, const char *user_id, const char *name);

/* Where user_id lands: their first active team ("" when none) and their
 * role level there. Returns PB_OK or PB_ERROR. */
int auth_login_context(pb_req *req, const char *user_id, char *team, size_t teamlen, int *level);

/* Puts the form's CSRF token in the model as "csrf". PB_OK or PB_ERROR. */
int auth_with_csrf(pb_req *req);

/* Hashes password with argon2id into hash. PB_OK, or PB_ERROR when out of
 * memory. */
int auth_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES]);

/* twofactor.c: the second step of signing in. auth_second_step keeps
 * user {id, display_name} waiting for a code in the session and returns the
 * redirect to /login/2fa (or PB_ERROR). auth_second_factor checks code for
 * user_id: a current TOTP code, accepted once, or an unused recovery code,
 * then used up. Wrong codes count against the sign-in limit of email and
 * are audited ("auth.2fa_failed", kept). Returns PB_OK, PB_INVALID (wrong:
 * the message is recorded on field), 429 (throttled) or PB_ERROR. */
int auth_second_step(pb_req *req, json_t *user, const char *email, const char *next);
int auth_second_factor(pb_req *req, const char *user_id, const char *email, const char *code,
                       const char *field);

/* twofactor.c: the pages (account:self, and the public /login/2fa). */
int twofactor_page(pb_req *req);
int twofactor_setup(pb_req *req);
int twofactor_qr(pb_req *req);
int twofactor_enable(pb_req *req);
int twofactor_disable(pb_req *req);
int twofactor_renew(pb_req *req);
int login_code_form(pb_req *req);
int login_code(pb_req *req);

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
