/*
 * twofactor.c - two-factor sign-in with time-based one-time passwords
 * (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps), an option each user
 * turns on for themselves at /account/2fa.
 *
 * Turning it on: POST /account/2fa/setup makes a 160-bit secret and keeps
 * it in the session, not in the database, until a code made from it is
 * entered (POST /account/2fa/enable); only then is it stored, with the
 * step of that code as the last one used, and ten recovery codes are shown
 * once (only their keyed BLAKE2b hashes are kept, in auth.recovery_codes).
 *
 * Signing in: a right password for such a user does not sign them in; the
 * session remembers who is half-way for PENDING_TTL seconds and /login/2fa
 * asks for a code. A TOTP code is accepted for the step before, the step of
 * and the step after the current time, and only for a step later than the
 * last one accepted (auth.totp_claim moves it forward atomically), so a
 * code works once. A recovery code works once. Wrong codes count against
 * the account's sign-in limit and are audited even though the request
 * fails. The look-ups before sign-in go through the SECURITY DEFINER
 * functions of sql/auth/002_twofactor.sql.
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qrsvg.h"
#include "totp.h"

#define ISSUER         "Plugboard"
#define WINDOW         1   /* steps accepted either side of now */
#define PENDING_TTL    300 /* seconds from the password to the code */
#define RECOVERY_COUNT 10
#define QR_MODULE_PX   5
#define CODE_MAX       32 /* characters: a code typed with spaces and hyphens */

/* Session keys: the secret of a setup not yet confirmed, and the sign-in
 * waiting for its code. */
#define K_SETUP "2fa_setup"
#define K_USER  "2fa_user"
#define K_EMAIL "2fa_email"
#define K_NAME  "2fa_name"
#define K_NEXT  "2fa_next"
#define K_SINCE "2fa_since"

#define WRONG_CODE "This code is not right, or it was already used."
#define START_OVER "Sign in again: the code must follow the password within 5 minutes."

/* Hex of a 32-byte hash, for decode($n, 'hex'). */
typedef char hash_hex[65];

/* --- Helpers ------------------------------------------------------------- */

static const char *text(json_t *row, const char *name)
{
    return json_string_value(json_object_get(row, name));
}

/* Runs a query whose one row has a boolean column "ok". Returns 1, 0, or
 * PB_ERROR. */
static int query_ok(pb_req *req, const char *sql, int nparams, const char *const *params)
{
    json_t *rows = NULL;
    if (host->db_query(req, sql, nparams, params, &rows) < 0)
        return PB_ERROR;
    int ok = json_is_true(json_object_get(json_array_get(rows, 0), "ok"));
    json_decref(rows);
    return ok;
}

/* Returns the signed-in user {id, email, totp_enabled, recovery_left,
 * recovery_total} (a new reference), or NULL when the query failed. */
static json_t *current_user(pb_req *req)
{
    json_t *rows = NULL;
    const char *params[] = {host->user_id(req)};
    if (params[0] == NULL ||
        host->db_query(req,
                       "SELECT u.id::text AS id, u.email, u.totp_enabled, "
                       "(SELECT count(*) FILTER (WHERE r.used_at IS NULL) FROM "
                       "auth.recovery_codes r WHERE r.user_id = u.id)::int AS recovery_left, "
                       "(SELECT count(*) FROM auth.recovery_codes r "
                       "WHERE r.user_id = u.id)::int AS recovery_total "
                       "FROM core.users u WHERE u.id = $1",
                       1, params, &rows) < 0)
        return NULL;
    json_t *user = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return user;
}

static bool is_on(json_t *user)
{
    return json_is_true(json_object_get(user, "totp_enabled"));
}

/* Answers 409 when two-factor sign-in is not in the state an action needs. */
static int wrong_state(pb_req *req, bool on)
{
    json_object_set_new(host->model(req), "message",
                        json_string(on ? "Two-factor sign-in is already on."
                                       : "Two-factor sign-in is off: there is nothing to change."));
    return 409;
}

/* Copies a code of six digits, which apps show as "123 456", into digits
 * without its spaces. Returns whether code is one. */
static bool totp_digits(const char *code, char digits[7])
{
    size_t n = 0;
    for (; *code; code++) {
        if (*code == ' ')
            continue;
        if (*code < '0' || *code > '9' || n == 6)
            return false;
        digits[n++] = *code;
    }
    digits[n] = '\0';
    return n == 6;
}

/* The stored form of a recovery code: BLAKE2b keyed with the user's id, of
 * the code as pb_recovery_normalise() spells it. */
static void recovery_hash(const char *user_id, const char *code, hash_hex hex)
{
    char norm[CODE_MAX + 1];
    unsigned char digest[32];
    pb_recovery_normalise(code, norm, sizeof norm);
    crypto_generichash(digest, sizeof digest, (const unsigned char *)norm, strlen(norm),
                       (const unsigned char *)user_id, strlen(user_id));
    sodium_bin2hex(hex, sizeof(hash_hex), digest, sizeof digest);
    sodium_memzero(norm, sizeof norm);
}

/* --- Checking a code ----------------------------------------------------- */

/* Returns 1 when digits is a current code of the user's secret for a step
 * later than the last one accepted (which it then becomes), 0 when not, or
 * PB_ERROR. */
static int totp_accept(pb_req *req, const char *user_id, const char *digits)
{
    json_t *rows = NULL;
    const char *params[] = {user_id};
    if (host->db_query(req, "SELECT secret, last_step FROM auth.totp_state($1)", 1, params, &rows) <
        0)
        return PB_ERROR;
    json_t *row = json_array_get(rows, 0);
    const char *hex = text(row, "secret");
    json_int_t last = json_integer_value(json_object_get(row, "last_step"));
    unsigned char key[64];
    size_t keylen = 0;
    uint64_t step = 0;
    bool ok = hex && sodium_hex2bin(key, sizeof key, hex, strlen(hex), NULL, &keylen, NULL) == 0 &&
              pb_totp_verify(key, keylen, digits, (uint64_t)time(NULL), WINDOW, &step) == 0 &&
              step > (uint64_t)last;
    sodium_memzero(key, sizeof key);
    json_decref(rows);
    if (!ok)
        return 0;
    char step_text[24];
    snprintf(step_text, sizeof step_text, "%llu", (unsigned long long)step);
    const char *claim[] = {user_id, step_text};
    return query_ok(req, "SELECT auth.totp_claim($1, $2) AS ok", 2, claim);
}

/* Returns 1 when code is one of the user's unused recovery codes (which is
 * then used up), 0 when not, or PB_ERROR. */
static int recovery_accept(pb_req *req, const char *user_id, const char *code)
{
    hash_hex hex;
    recovery_hash(user_id, code, hex);
    const char *params[] = {user_id, hex};
    return query_ok(req, "SELECT auth.recovery_use($1, decode($2, 'hex')) AS ok", 2, params);
}

int auth_second_factor(pb_req *req, const char *user_id, const char *email, const char *code,
                       const char *field)
{
    int rc = auth_throttle(req, email, false);
    if (rc != PB_OK)
        return rc;
    char digits[7];
    bool totp = totp_digits(code, digits);
    int ok = totp ? totp_accept(req, user_id, digits) : recovery_accept(req, user_id, code);
    if (ok == PB_ERROR)
        return PB_ERROR;
    if (ok && totp)
        return PB_OK;
    if (ok) /* the user may want to know: one fewer left */
        return host->audit(req, "auth.2fa_recovery_used", "user", user_id, NULL, NULL, 0);
    if (host->rate_hit(req, "login", email) != PB_OK ||
        host->audit(req, "auth.2fa_failed", "user", user_id, NULL, NULL, PB_AUDIT_KEEP) != PB_OK)
        return PB_ERROR;
    host->input_fail(req, field, WRONG_CODE);
    return PB_INVALID;
}

/* auth_second_factor for a form: PB_OK, or the status to answer. */
static int form_factor(pb_req *req, const char *user_id, const char *email, const char *code)
{
    int rc = auth_second_factor(req, user_id, email, code, "code");
    return rc == PB_INVALID ? 422 : rc;
}

/* --- Recovery codes ------------------------------------------------------ */

/* Replaces the user's recovery codes with RECOVERY_COUNT new ones and shows
 * them, this once: they go in the model as "recovery_codes", rendered by
 * auth/twofactor_codes. Returns PB_OK or PB_ERROR. */
static int new_recovery_codes(pb_req *req, const char *user_id)
{
    char codes[RECOVERY_COUNT][PB_RECOVERY_CODE_SIZE];
    if (pb_recovery_codes(codes, RECOVERY_COUNT) != 0)
        return PB_ERROR;
    pb_buf hashes = PB_BUF_INIT;
    json_t *list = json_array();
    int rc = list ? PB_OK : PB_ERROR;
    for (int i = 0; i < RECOVERY_COUNT && rc == PB_OK; i++) {
        hash_hex hex;
        recovery_hash(user_id, codes[i], hex);
        if (pb_buf_printf(&hashes, "%s%s", i ? "," : "", hex) < 0 ||
            json_array_append_new(list, json_string(codes[i])) != 0)
            rc = PB_ERROR;
    }
    sodium_memzero(codes, sizeof codes);
    const char *params[] = {user_id, pb_buf_cstr(&hashes)};
    if (rc == PB_OK &&
        (host->db_query(req, "DELETE FROM auth.recovery_codes WHERE user_id = $1", 1, params,
                        NULL) < 0 ||
         host->db_query(req,
                        "INSERT INTO auth.recovery_codes (user_id, code_hash) "
                        "SELECT $1, decode(h, 'hex') FROM unnest(string_to_array($2, ',')) h",
                        2, params, NULL) != RECOVERY_COUNT))
        rc = PB_ERROR;
    pb_buf_free(&hashes);
    if (rc != PB_OK) {
        json_decref(list);
        return PB_ERROR;
    }
    json_object_set_new(host->model(req), "recovery_codes", list);
    host->set_template(req, "auth/twofactor_codes");
    return PB_OK;
}

/* --- The account page ---------------------------------------------------- */

/* Puts the state of the user's two-factor sign-in in the model; failed
 * names the form whose errors are shown ("renew", "disable") or is NULL. */
static void show_status(pb_req *req, json_t *user, const char *failed)
{
    json_t *m = host->model(req);
    json_object_set_new(m, "enabled", json_boolean(is_on(user)));
    json_object_set(m, "recovery_left", json_object_get(user, "recovery_left"));
    json_object_set(m, "recovery_total", json_object_get(user, "recovery_total"));
    if (failed)
        json_object_set_new(m, "failed", json_pack("{s:b}", failed, 1));
}

/* GET /account/2fa */
int twofactor_page(pb_req *req)
{
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    show_status(req, user, NULL);
    json_decref(user);
    return 200;
}

/* Appends the otpauth:// URI of secret for the user to uri. */
static int setup_uri(json_t *user, const char *secret, pb_buf *uri)
{
    return pb_totp_uri(uri, ISSUER, text(user, "email"), secret) == 0 ? PB_OK : PB_ERROR;
}

/* Puts a pending setup in the model: the secret (also in groups of four,
 * for typing), its otpauth:// URI and the address of its QR code. */
static int show_setup(pb_req *req, json_t *user, const char *secret)
{
    pb_buf uri = PB_BUF_INIT, grouped = PB_BUF_INIT;
    int rc = setup_uri(user, secret, &uri);
    for (size_t i = 0; secret[i] && rc == PB_OK; i++)
        if ((i && i % 4 == 0 && pb_buf_putc(&grouped, ' ') < 0) ||
            pb_buf_putc(&grouped, secret[i]) < 0)
            rc = PB_ERROR;
    json_t *setup = rc == PB_OK ? json_pack("{s:s, s:s, s:s, s:s}", "secret", secret,
                                            "secret_grouped", pb_buf_cstr(&grouped), "uri",
                                            pb_buf_cstr(&uri), "qr", "/account/2fa/qr.svg")
                                : NULL;
    pb_buf_free(&uri);
    pb_buf_free(&grouped);
    if (setup == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "setup", setup);
    return PB_OK;
}

static int start_setup(pb_req *req, json_t *user)
{
    unsigned char key[PB_TOTP_SECRET_LEN];
    char secret[PB_TOTP_SECRET_LEN * 8 / 5 + 1];
    int rc = pb_totp_secret_new(key, sizeof key) == 0 &&
                     pb_base32_encode(key, sizeof key, secret, sizeof secret) == 0
                 ? PB_OK
                 : PB_ERROR;
    sodium_memzero(key, sizeof key);
    if (rc == PB_OK)
        rc = host->session_set(req, K_SETUP, secret);
    if (rc == PB_OK)
        rc = show_setup(req, user, secret);
    sodium_memzero(secret, sizeof secret);
    return rc == PB_OK ? 200 : PB_ERROR;
}

/* POST /account/2fa/setup: nothing is stored until a code confirms it. */
int twofactor_setup(pb_req *req)
{
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    int rc = is_on(user) ? wrong_state(req, true) : start_setup(req, user);
    json_decref(user);
    return rc;
}

/* GET /account/2fa/qr.svg: the pending setup's URI as a QR code. */
int twofactor_qr(pb_req *req)
{
    const char *secret = host->session_get(req, K_SETUP);
    if (secret == NULL) {
        json_object_set_new(host->model(req), "message",
                            json_string("No two-factor setup is in progress."));
        return 404;
    }
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    pb_buf uri = PB_BUF_INIT, svg = PB_BUF_INIT;
    int rc = setup_uri(user, secret, &uri);
    if (rc == PB_OK && (pb_qr_svg(&svg, pb_buf_cstr(&uri), QR_MODULE_PX) != 0 ||
                        host->send(req, "image/svg+xml", svg.data, svg.len) != PB_OK))
        rc = PB_ERROR;
    pb_buf_free(&uri);
    pb_buf_free(&svg);
    json_decref(user);
    return rc == PB_OK ? 200 : PB_ERROR;
}

/* Stores the confirmed secret (hex) with step as the last used, makes the
 * recovery codes and records it. PB_OK or PB_ERROR. */
static int store_secret(pb_req *req, const char *user_id, const char *hex, uint64_t step)
{
    char step_text[24];
    snprintf(step_text, sizeof step_text, "%llu", (unsigned long long)step);
    const char *params[] = {user_id, hex, step_text};
    if (host->db_query(
            req,
            "UPDATE core.users SET totp_secret = decode($2, 'hex'), totp_enabled = true, "
            "totp_last_step = $3, updated_at = now() WHERE id = $1 AND NOT totp_enabled",
            3, params, NULL) != 1 ||
        new_recovery_codes(req, user_id) != PB_OK)
        return PB_ERROR;
    json_t *before = json_pack("{s:b}", "totp_enabled", 0);
    json_t *after = json_pack("{s:b, s:i}", "totp_enabled", 1, "recovery_codes", RECOVERY_COUNT);
    int rc = host->audit(req, "auth.2fa_enable", "user", user_id, before, after, 0);
    json_decref(before);
    json_decref(after);
    return rc;
}

/* Checks code against the pending secret and turns two-factor sign-in on.
 * Returns 200 (the recovery codes are shown), 422, or PB_ERROR. */
static int enable(pb_req *req, json_t *user, const char *secret, const char *code)
{
    char digits[7] = "";
    if (show_setup(req, user, secret) != PB_OK) /* shown again on a wrong code */
        return PB_ERROR;
    if (code && !totp_digits(code, digits))
        host->input_fail(req, "code", "Enter the 6-digit code your app shows.");
    if (host->input_errors(req))
        return 422;
    unsigned char key[PB_TOTP_SECRET_LEN];
    char hex[PB_TOTP_SECRET_LEN * 2 + 1];
    size_t keylen = 0;
    uint64_t step = 0;
    bool ok = pb_base32_decode(secret, key, sizeof key, &keylen) == 0 &&
              pb_totp_verify(key, keylen, digits, (uint64_t)time(NULL), WINDOW, &step) == 0;
    sodium_bin2hex(hex, sizeof hex, key, keylen);
    sodium_memzero(key, sizeof key);
    int rc = ok ? store_secret(req, text(user, "id"), hex, step) : 422;
    sodium_memzero(hex, sizeof hex);
    if (rc == 422)
        host->input_fail(req, "code",
                         "This code is not right. Check that the device's clock is right, and "
                         "enter the code it shows now.");
    if (rc != PB_OK)
        return rc;
    json_object_del(host->model(req), "setup");
    return host->session_set(req, K_SETUP, NULL) == PB_OK ? 200 : PB_ERROR;
}

/* POST /account/2fa/enable */
int twofactor_enable(pb_req *req)
{
    const char *code = NULL;
    host->input_str(req, "code", PB_REQUIRED, 1, CODE_MAX, &code);
    const char *secret = host->session_get(req, K_SETUP);
    if (secret == NULL) {
        host->flash(req, "error", "That setup has ended: start again.");
        return host->redirect(req, 303, "/account/2fa");
    }
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    int rc = is_on(user) ? wrong_state(req, true) : enable(req, user, secret, code);
    json_decref(user);
    return rc;
}

/* Checks the password and a code, then turns two-factor sign-in off.
 * Returns PB_OK or the status to answer. */
static int disable(pb_req *req, json_t *user, const char *password, const char *code)
{
    const char *uid = text(user, "id"), *email = text(user, "email");
    if (host->input_errors(req))
        return 422;
    json_t *checked = NULL;
    int rc = auth_check_password(req, email, password, &checked);
    json_decref(checked);
    if (rc == PB_INVALID) {
        host->input_fail(req, "current_password", "This is not your current password.");
        return 422;
    }
    if (rc == PB_OK)
        rc = form_factor(req, uid, email, code);
    if (rc != PB_OK)
        return rc;
    const char *params[] = {uid};
    json_t *before = json_pack("{s:b}", "totp_enabled", 1);
    json_t *after = json_pack("{s:b}", "totp_enabled", 0);
    rc = host->db_query(req,
                        "UPDATE core.users SET totp_enabled = false, totp_secret = NULL, "
                        "totp_last_step = 0, updated_at = now() WHERE id = $1 AND totp_enabled",
                        1, params, NULL) == 1 &&
                 host->db_query(req, "DELETE FROM auth.recovery_codes WHERE user_id = $1", 1,
                                params, NULL) >= 0 &&
                 host->audit(req, "auth.2fa_disable", "user", uid, before, after, 0) == PB_OK
             ? PB_OK
             : PB_ERROR;
    json_decref(before);
    json_decref(after);
    return rc;
}

/* POST /account/2fa/disable */
int twofactor_disable(pb_req *req)
{
    const char *password = NULL, *code = NULL;
    host->input_str(req, "current_password", PB_REQUIRED, 1, PASSWORD_MAX, &password);
    host->input_str(req, "code", PB_REQUIRED, 1, CODE_MAX, &code);
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    show_status(req, user, "disable");
    int rc = is_on(user) ? disable(req, user, password, code) : wrong_state(req, false);
    json_decref(user);
    if (rc != PB_OK)
        return rc;
    host->flash(req, "success", "Two-factor sign-in is off.");
    return host->redirect(req, 303, "/account/2fa");
}

/* POST /account/2fa/recovery: new recovery codes, for a current code. */
int twofactor_renew(pb_req *req)
{
    const char *code = NULL;
    host->input_str(req, "code", PB_REQUIRED, 1, CODE_MAX, &code);
    json_t *user = current_user(req);
    if (user == NULL)
        return PB_ERROR;
    show_status(req, user, "renew");
    const char *uid = text(user, "id");
    int rc = !is_on(user)              ? wrong_state(req, false)
             : host->input_errors(req) ? 422
                                       : form_factor(req, uid, text(user, "email"), code);
    if (rc == PB_OK && new_recovery_codes(req, uid) != PB_OK)
        rc = PB_ERROR;
    if (rc == PB_OK) {
        json_t *after = json_pack("{s:i}", "recovery_codes", RECOVERY_COUNT);
        rc = host->audit(req, "auth.2fa_recovery_renew", "user", uid, NULL, after, 0) == PB_OK
                 ? 200
                 : PB_ERROR;
        json_decref(after);
    }
    json_decref(user);
    return rc;
}

/* --- The second step of signing in --------------------------------------- */

int auth_second_step(pb_req *req, json_t *user, const char *email, const char *next)
{
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long)time(NULL));
    if (host->session_set(req, K_USER, text(user, "id")) != PB_OK ||
        host->session_set(req, K_EMAIL, email) != PB_OK ||
        host->session_set(req, K_NAME, text(user, "display_name")) != PB_OK ||
        host->session_set(req, K_NEXT, next) != PB_OK ||
        host->session_set(req, K_SINCE, since) != PB_OK)
        return PB_ERROR;
    return host->redirect(req, 303, "/login/2fa");
}

static void forget_pending(pb_req *req)
{
    static const char *const keys[] = {K_USER, K_EMAIL, K_NAME, K_NEXT, K_SINCE};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        host->session_set(req, keys[i], NULL);
}

/* Returns a new object {user, email, name, next} of the sign-in waiting for
 * its code, or NULL when there is none or it waited longer than
 * PENDING_TTL (it is then forgotten). A copy: signing in replaces the
 * session it comes from. */
static json_t *pending_sign_in(pb_req *req)
{
    const char *since = host->session_get(req, K_SINCE);
    long long now = (long long)time(NULL), then = since ? strtoll(since, NULL, 10) : 0;
    json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "user", host->session_get(req, K_USER), "email",
                          host->session_get(req, K_EMAIL), "name", host->session_get(req, K_NAME),
                          "next", host->session_get(req, K_NEXT));
    if (p && since && then <= now && now - then <= PENDING_TTL)
        return p;
    json_decref(p);
    if (since)
        forget_pending(req);
    return NULL;
}

static int start_over(pb_req *req)
{
    host->flash(req, "info", START_OVER);
    return host->redirect(req, 303, "/login");
}

/* GET /login/2fa */
int login_code_form(pb_req *req)
{
    if (host->user_id(req))
        return host->redirect(req, 303, "/");
    json_t *p = pending_sign_in(req);
    if (p == NULL)
        return start_over(req);
    json_decref(p);
    return auth_with_csrf(req) == PB_OK ? 200 : PB_ERROR;
}

/* POST /login/2fa */
int login_code(pb_req *req)
{
    const char *code = NULL;
    host->input_str(req, "code", PB_REQUIRED, 1, CODE_MAX, &code);
    json_t *p = pending_sign_in(req);
    if (p == NULL)
        return start_over(req);
    const char *uid = text(p, "user");
    int rc = auth_with_csrf(req) != PB_OK ? PB_ERROR
             : host->input_errors(req)    ? 422
                                          : form_factor(req, uid, text(p, "email"), code);
    if (rc == PB_OK)
        rc = auth_signed_in(req, uid, text(p, "name")) == PB_OK
                 ? host->redirect(req, 303, text(p, "next"))
                 : PB_ERROR;
    json_decref(p);
    return rc;
}
