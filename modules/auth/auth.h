/*
 * auth.h - what the source files of the auth module share. Private to the
 * module (not part of the ABI): auth.c owns sign-up, sign-in and the route
 * table; account.c the account pages and password reset.
 */
#ifndef PB_AUTH_H
#define PB_AUTH_H

#include <plugboard.h>
#include <sodium.h>

#define PASSWORD_MIN 10
#define PASSWORD_MAX 200

/* The host function table, kept by auth.c's init. */
extern const pb_host *host;

/* Puts the form's CSRF token in the model as "csrf". PB_OK or PB_ERROR. */
int auth_with_csrf(pb_req *req);

/* Hashes password with argon2id into hash. PB_OK, or PB_ERROR when out of
 * memory. */
int auth_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES]);

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
