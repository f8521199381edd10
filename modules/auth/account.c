/*
 * account.c - one's own account: the profile (name and e-mail address), the
 * password, and resetting a forgotten password by e-mail.
 *
 * Changing the password or the e-mail address asks for the current
 * password, and wrong guesses count against the account's sign-in limit, so
 * a session left open on a shared computer is not enough to take the
 * account over. A password change or reset signs the user out everywhere
 * else (host->revoke_sessions).
 *
 * A reset link carries 256 random bits; only their SHA-256 is stored (in
 * auth.password_resets, reached through the SECURITY DEFINER functions of
 * sql/auth/001_account.sql). A link works once, for RESET_TTL seconds, and
 * using one voids the user's other links. Asking for a link answers the
 * same whether or not the address has an account.
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_CHARS   120
#define NEW_PASSWORD_MAX 128
#define RESET_TTL        "1800"
#define RESET_SENT       "If an account uses that address, we sent a link. It works once, for 30 minutes."
#define LINK_GONE                                                                                  \
    "This link has expired or was already used. Ask for a new one: each link works once, for "     \
    "30 minutes."

/* SHA-256 of a token, in hex for decode($n, 'hex'). */
typedef char token_hex[crypto_hash_sha256_BYTES * 2 + 1];

/* --- Helpers ------------------------------------------------------------- */

/* Returns the signed-in user's row {id, display_name, email,
 * password_hash} (a new reference), or NULL when the query failed. */
static json_t *current_user(pb_req *req)
{
    json_t *rows = NULL;
    const char *params[] = {host->user_id(req)};
    if (params[0] == NULL ||
        host->db_query(req,
                       "SELECT id::text AS id, display_name, email, password_hash "
                       "FROM core.users WHERE id = $1",
                       1, params, &rows) < 0)
        return NULL;
    json_t *user = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return user;
}

static const char *field(json_t *row, const char *name)
{
    return json_string_value(json_object_get(row, name));
}

/* Answers 429 with a message saying how long to wait. */
static int too_many(pb_req *req, const char *what, long wait)
{
    char msg[200];
    long minutes = (wait + 59) / 60;
    snprintf(msg, sizeof msg, "%s Try again in %ld minute%s.", what, minutes,
             minutes == 1 ? "" : "s");
    json_object_set_new(host->model(req), "message", json_string(msg));
    return 429;
}

/* Checks password against the signed-in user's current one. Wrong guesses
 * count against the account's sign-in limit. Returns 0 when it matches, else
 * the status to answer: 422 (error recorded on field), 429, or PB_ERROR. */
static int verify_current(pb_req *req, json_t *user, const char *name, const char *password)
{
    const char *email = field(user, "email"), *hash = field(user, "password_hash");
    long wait = 0;
    int rc = host->rate_check(req, "login", email, &wait);
    if (rc == PB_ERROR)
        return PB_ERROR;
    if (rc == PB_INVALID)
        return too_many(req, "Too many wrong passwords.", wait);
    if (hash && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0)
        return 0;
    if (host->rate_hit(req, "login", email) != PB_OK)
        return PB_ERROR;
    host->input_fail(req, name, "This is not your current password.");
    return 422;
}

/* Reads a new password and its confirmation (fields "password" and
 * "password_confirm"); errors are recorded on the fields. */
static void new_password_input(pb_req *req, const char **password)
{
    const char *confirm = NULL;
    host->input_str(req, "password", PB_REQUIRED, PASSWORD_MIN, NEW_PASSWORD_MAX, password);
    host->input_str(req, "password_confirm", PB_REQUIRED, 1, NEW_PASSWORD_MAX, &confirm);
    if (*password && confirm && strcmp(*password, confirm) != 0)
        host->input_fail(req, "password_confirm", "does not match the new password");
}

/* --- Profile ------------------------------------------------------------- */

static void profile_values(pb_req *req, const char *name, const char *email)
{
    json_object_set_new(host->model(req), "values",
                        json_pack("{s:s?, s:s?}", "name", name, "email", email));
}

/* GET /account */
int account_form(pb_req *req)
{
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    profile_values(req, field(user, "display_name"), field(user, "email"));
    json_decref(user);
    return 200;
}

/* Moves the signed-in user to a new address and tells the old one. Returns
 * PB_OK, 422 when the address is taken, or PB_ERROR. */
static int change_email(pb_req *req, json_t *user, const char *email)
{
    json_t *rows = NULL;
    const char *params[] = {email};
    if (host->db_query(req, "SELECT auth.change_email($1) AS changed", 1, params, &rows) < 0)
        return PB_ERROR;
    int changed = json_is_true(json_object_get(json_array_get(rows, 0), "changed"));
    json_decref(rows);
    if (!changed) {
        host->input_fail(req, "email", "This e-mail address is already in use.");
        return 422;
    }
    char *text = NULL;
    if (asprintf(&text,
                 "Hello %s,\n\nThe e-mail address of your Plugboard account was changed to "
                 "%s.\n\nIf you did not do this, reset your password at %s/password/forgot "
                 "and tell your team's administrator.\n",
                 field(user, "display_name"), email, host->public_url(req)) < 0)
        return PB_ERROR;
    int rc = host->mail(req, field(user, "email"), "Your Plugboard e-mail address changed", text);
    free(text);
    return rc == PB_OK ? PB_OK : PB_ERROR;
}

static int set_display_name(pb_req *req, json_t *user, const char *name)
{
    const char *params[] = {field(user, "id"), name};
    if (host->db_query(req,
                       "UPDATE core.users SET display_name = $2, updated_at = now() "
                       "WHERE id = $1",
                       2, params, NULL) != 1 ||
        host->session_set(req, "name", name) != PB_OK) /* the top bar shows it */
        return PB_ERROR;
    return PB_OK;
}

/* Saves what changed of the profile. Returns PB_OK or the status to answer. */
static int profile_save(pb_req *req, json_t *user, const char *name, const char *email,
                        const char *current)
{
    const char *old_name = field(user, "display_name"), *old_email = field(user, "email");
    int new_email = strcasecmp(email, old_email) != 0;
    int new_name = strcmp(name, old_name) != 0;
    if (new_email) {
        if (current == NULL) {
            host->input_fail(req, "current_password",
                             "Enter your current password to change your e-mail address.");
            return 422;
        }
        int rc = verify_current(req, user, "current_password", current);
        if (rc == 0)
            rc = change_email(req, user, email);
        if (rc != PB_OK)
            return rc;
    }
    if (new_name && set_display_name(req, user, name) != PB_OK)
        return PB_ERROR;
    if (!new_email && !new_name)
        return PB_OK;
    json_t *before = json_pack("{s:s, s:s}", "display_name", old_name, "email", old_email);
    json_t *after = json_pack("{s:s, s:s}", "display_name", name, "email", email);
    int rc = before && after
                 ? host->audit(req, "account.update", "user", field(user, "id"), before, after, 0)
                 : PB_ERROR;
    json_decref(before);
    json_decref(after);
    return rc;
}

/* POST /account */
int account_update(pb_req *req)
{
    const char *name = NULL, *email = NULL, *current = NULL;
    host->input_str(req, "name", PB_REQUIRED, 1, NAME_MAX_CHARS, &name);
    host->input_email(req, "email", PB_REQUIRED, &email);
    host->input_str(req, "current_password", 0, 1, PASSWORD_MAX, &current);
    if (name && name[strspn(name, " \t\r\n")] == '\0')
        host->input_fail(req, "name", "is required");
    profile_values(req, name, email);
    if (host->input_errors(req))
        return 422;
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    int rc = profile_save(req, user, name, email, current);
    json_decref(user);
    if (rc != PB_OK)
        return rc;
    host->flash(req, "success", "Your profile is saved.");
    return host->redirect(req, 303, "/account");
}

/* --- Password ------------------------------------------------------------ */

/* GET /account/password */
int password_form(pb_req *req)
{
    (void)req;
    return 200;
}

/* POST /account/password */
int password_update(pb_req *req)
{
    const char *current = NULL, *password = NULL;
    host->input_str(req, "current_password", PB_REQUIRED, 1, PASSWORD_MAX, &current);
    new_password_input(req, &password);
    if (host->input_errors(req))
        return 422;
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    int rc = verify_current(req, user, "current_password", current);
    json_decref(user);
    if (rc != 0)
        return rc;
    if (strcmp(current, password) == 0) {
        host->input_fail(req, "password", "must differ from the current password");
        return 422;
    }
    char hash[crypto_pwhash_STRBYTES];
    const char *uid = host->user_id(req);
    const char *params[] = {uid, hash};
    if (auth_hash_password(password, hash) != PB_OK ||
        host->db_query(req,
                       "UPDATE core.users SET password_hash = $2, updated_at = now() "
                       "WHERE id = $1",
                       2, params, NULL) != 1 ||
        host->revoke_sessions(req, uid, true) != PB_OK ||
        host->audit(req, "auth.password_change", "user", uid, NULL, NULL, 0) != PB_OK)
        return PB_ERROR;
    host->flash(req, "success", "Password changed. You were signed out everywhere else.");
    return host->redirect(req, 303, "/account/password");
}

/* --- Password reset ------------------------------------------------------ */

static void hash_token(const char *token, token_hex hex)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof(token_hex), digest, sizeof digest);
}

/* GET /password/forgot */
int forgot_form(pb_req *req)
{
    return auth_with_csrf(req) == PB_OK ? 200 : PB_ERROR;
}

/* Counts a request for a link, by client address and by e-mail address.
 * Returns 0, 429 past the limit, or PB_ERROR. */
static int reset_limited(pb_req *req, const char *email)
{
    long wait = 0;
    int rc = host->rate_check(req, "reset", NULL, &wait);
    if (rc == PB_OK)
        rc = host->rate_check(req, "reset", email, &wait);
    if (rc == PB_ERROR)
        return PB_ERROR;
    if (rc == PB_INVALID)
        return too_many(req, "Too many requests for a reset link.", wait);
    if (host->rate_hit(req, "reset", NULL) != PB_OK || host->rate_hit(req, "reset", email) != PB_OK)
        return PB_ERROR;
    return 0;
}

static int send_reset_link(pb_req *req, const char *email, const char *name, const char *token)
{
    char *text = NULL;
    if (asprintf(&text,
                 "Hello %s,\n\nSomeone, probably you, asked to reset the password of your "
                 "Plugboard account. To choose a new password, open this link:\n\n"
                 "%s/password/reset/%s\n\nIt works once, for 30 minutes. If you did not ask "
                 "for it, ignore this message: your password stays as it is.\n",
                 name, host->public_url(req), token) < 0)
        return PB_ERROR;
    int rc = host->mail(req, email, "Reset your Plugboard password", text);
    free(text);
    return rc == PB_OK ? PB_OK : PB_ERROR;
}

/* POST /password/forgot */
int forgot(pb_req *req)
{
    json_t *m = host->model(req);
    const char *email = NULL;
    host->input_email(req, "email", PB_REQUIRED, &email);
    json_object_set_new(m, "values", json_pack("{s:s?}", "email", email));
    if (auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    if (host->input_errors(req))
        return 422;
    int rc = reset_limited(req, email);
    if (rc != 0)
        return rc;
    /* The token is made and stored the same way whether or not the address
     * has an account (no row is written then), so timing tells little. */
    unsigned char raw[32];
    char token[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    token_hex hex;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_token(token, hex);
    json_t *rows = NULL;
    const char *params[] = {email, hex, RESET_TTL};
    if (host->db_query(req, "SELECT display_name FROM auth.reset_create($1, decode($2, 'hex'), $3)",
                       3, params, &rows) < 0)
        return PB_ERROR;
    const char *name = field(json_array_get(rows, 0), "display_name");
    rc = name ? send_reset_link(req, email, name, token) : PB_OK;
    json_decref(rows);
    sodium_memzero(token, sizeof token);
    if (rc != PB_OK)
        return PB_ERROR;
    json_object_set_new(m, "sent", json_true());
    json_object_set_new(m, "message", json_string(RESET_SENT));
    return 200;
}

/* Reads the :token of a reset link and whether it can still be used.
 * Returns 1 (usable, *hex set), 0 (answer 410: the page says so), or
 * PB_ERROR. */
static int reset_token(pb_req *req, token_hex hex)
{
    const char *token = NULL;
    if (host->input_str(req, "token", PB_REQUIRED, 1, 200, &token) != PB_OK)
        return 0;
    hash_token(token, hex);
    json_t *rows = NULL;
    const char *params[] = {hex};
    if (host->db_query(req, "SELECT auth.reset_valid(decode($1, 'hex')) AS valid", 1, params,
                       &rows) < 0)
        return PB_ERROR;
    int valid = json_is_true(json_object_get(json_array_get(rows, 0), "valid"));
    json_decref(rows);
    return valid;
}

/* A link that cannot be used: the page explains and offers a new one. */
static int link_gone(pb_req *req)
{
    host->input_fail(req, "token", LINK_GONE);
    return 410;
}

/* After a reset: the user's sessions and API tokens end (whoever knew the
 * old password may hold one), and the reset is recorded. The request is
 * anonymous, so the user is the resource. */
static int after_reset(pb_req *req, const char *uid)
{
    if (host->revoke_sessions(req, uid, false) != PB_OK ||
        host->audit(req, "auth.password_reset", "user", uid, NULL, NULL, 0) != PB_OK)
        return PB_ERROR;
    return PB_OK;
}

/* GET /password/reset/:token */
int reset_form(pb_req *req)
{
    token_hex hex;
    int valid = reset_token(req, hex);
    if (valid == PB_ERROR || auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    return valid ? 200 : link_gone(req);
}

/* POST /password/reset/:token */
int reset(pb_req *req)
{
    const char *password = NULL;
    token_hex hex;
    new_password_input(req, &password);
    int valid = reset_token(req, hex);
    if (valid == PB_ERROR || auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    if (!valid)
        return link_gone(req);
    if (host->input_errors(req))
        return 422;
    char hash[crypto_pwhash_STRBYTES];
    json_t *rows = NULL;
    const char *params[] = {hex, hash};
    if (auth_hash_password(password, hash) != PB_OK ||
        host->db_query(req, "SELECT auth.reset_consume(decode($1, 'hex'), $2)::text AS user_id", 2,
                       params, &rows) < 0)
        return PB_ERROR;
    /* Another request may have used the link since it was checked. */
    const char *uid = field(json_array_get(rows, 0), "user_id");
    int rc = uid ? after_reset(req, uid) : link_gone(req);
    json_decref(rows);
    if (rc != PB_OK)
        return rc;
    host->flash(req, "success", "Your password is changed. Sign in with the new one.");
    return host->redirect(req, 303, "/login");
}
