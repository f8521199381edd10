/*
 * auth.c - signing up, signing in and signing out; the module's route
 * table (the account pages and password reset live in account.c, API
 * tokens in apitoken.c, two-factor sign-in in twofactor.c).
 *
 * Passwords are hashed with argon2id (libsodium crypto_pwhash_str). The
 * first person to sign up becomes the administrator of a new team; after
 * that, sign-up is by invitation. Look-ups that happen before anyone is
 * signed in go through the SECURITY DEFINER functions of
 * sql/core/002_auth.sql, since row-level security hides every user from an
 * anonymous request.
 */
#include <plugboard.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"

const pb_host *host;

/* Verifying against this when no account matches keeps a wrong e-mail
 * address as slow as a wrong password: timing does not reveal accounts. */
static char dummy_hash[crypto_pwhash_STRBYTES];

#define WRONG_CREDENTIALS "The e-mail address or the password is not right."

int auth_with_csrf(pb_req *req)
{
    const char *token = host->csrf_token(req);
    if (token == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "csrf", json_string(token));
    return PB_OK;
}

int auth_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return PB_ERROR;
    return PB_OK;
}

/* A local path to return to after signing in, or "/". */
static const char *next_path(pb_req *req)
{
    const char *next = NULL;
    host->input_str(req, "next", 0, 1, 500, &next);
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return "/";
    return next;
}

int auth_login_context(pb_req *req, const char *user_id, char *team, size_t teamlen, int *level)
{
    json_t *rows = NULL;
    const char *params[] = {user_id};
    if (host->db_query(req, "SELECT team_id::text AS team_id, level FROM core.login_context($1)", 1,
                       params, &rows) < 0)
        return PB_ERROR;
    json_t *ctx = json_array_get(rows, 0);
    const char *t = json_string_value(json_object_get(ctx, "team_id"));
    snprintf(team, teamlen, "%s", t ? t : "");
    *level = (int)json_integer_value(json_object_get(ctx, "level"));
    json_decref(rows);
    return PB_OK;
}

static int sign_in(pb_req *req, const char *user_id, const char *name)
{
    char team[40];
    int level;
    if (auth_login_context(req, user_id, team, sizeof team, &level) != PB_OK)
        return PB_ERROR;
    int rc = host->login(req, user_id, team, level);
    if (rc != PB_OK || host->session_set(req, "name", name) != PB_OK)
        return PB_ERROR;
    if (team[0] == '\0') /* deactivated everywhere, or a join request not yet approved */
        host->flash(req, "info",
                    "You are signed in, but no team has admitted you yet. If you asked to join, "
                    "an administrator still has to approve it.");
    return PB_OK;
}

/* --- Sign-up --------------------------------------------------------- */

static int signup_open(pb_req *req, int *open)
{
    json_t *rows = NULL;
    if (host->db_query(req, "SELECT core.signup_open() AS open", 0, NULL, &rows) < 0)
        return PB_ERROR;
    *open = json_is_true(json_object_get(json_array_get(rows, 0), "open"));
    json_decref(rows);
    return PB_OK;
}

/* GET /signup */
static int signup_form(pb_req *req)
{
    int open;
    if (signup_open(req, &open) != PB_OK || auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    json_object_set_new(host->model(req), "open", json_boolean(open));
    return 200;
}

/* POST /signup */
static int signup(pb_req *req)
{
    json_t *m = host->model(req);
    const char *email = NULL, *name = NULL, *password = NULL, *team = NULL;
    int open;
    host->input_email(req, "email", PB_REQUIRED, &email);
    host->input_str(req, "name", PB_REQUIRED, 1, 120, &name);
    host->input_str(req, "team", PB_REQUIRED, 1, 120, &team);
    host->input_str(req, "password", PB_REQUIRED, PASSWORD_MIN, PASSWORD_MAX, &password);
    json_object_set_new(
        m, "values", json_pack("{s:s?, s:s?, s:s?}", "email", email, "name", name, "team", team));
    if (signup_open(req, &open) != PB_OK || auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    json_object_set_new(m, "open", json_boolean(open));
    if (host->input_errors(req)) /* the form first: its errors help either way */
        return 400;
    if (!open) {
        json_object_set_new(
            m, "message", json_string("Sign-up is by invitation: ask your team's administrator."));
        return 403;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (auth_hash_password(password, hash) != PB_OK)
        return PB_ERROR;
    const char *params[] = {email, name, hash, team};
    json_t *rows = NULL;
    if (host->db_query(req,
                       "SELECT user_id::text AS user_id FROM core.signup_first($1, $2, $3, $4)", 4,
                       params, &rows) < 0)
        return PB_ERROR;
    const char *uid = json_string_value(json_object_get(json_array_get(rows, 0), "user_id"));
    int rc = uid && host->audit(req, "auth.signup", "user", uid, NULL, NULL, 0) == PB_OK
                 ? sign_in(req, uid, name)
                 : PB_ERROR;
    json_decref(rows);
    if (rc != PB_OK)
        return PB_ERROR;
    host->flash(req, "success", "Welcome to Plugboard. You administer your new team.");
    return host->redirect(req, 303, "/");
}

/* --- Sign-in and sign-out ------------------------------------------------ */

int auth_throttle(pb_req *req, const char *email, bool by_address)
{
    long wait = 0;
    int rc = host->rate_check(req, "login", email, &wait);
    if (rc == PB_OK && by_address)
        rc = host->rate_check(req, "login", NULL, &wait);
    if (rc == PB_ERROR)
        return PB_ERROR;
    if (rc == PB_INVALID) {
        char msg[160];
        snprintf(msg, sizeof msg, "Too many failed sign-ins. Try again in %ld minute%s.",
                 (wait + 59) / 60, (wait + 59) / 60 == 1 ? "" : "s");
        json_object_set_new(host->model(req), "message", json_string(msg));
        return 429;
    }
    return PB_OK;
}

int auth_check_password(pb_req *req, const char *email, const char *password, json_t **user)
{
    /* Brute force: failures are counted per account and per address; past
     * the limit, even the right password waits for the window to end. */
    int limited = auth_throttle(req, email, true);
    if (limited != PB_OK)
        return limited;
    json_t *rows = NULL;
    const char *params[] = {email};
    if (host->db_query(req,
                       "SELECT id::text AS id, password_hash, is_active, display_name, "
                       "totp_enabled FROM core.auth_lookup($1)",
                       1, params, &rows) < 0)
        return PB_ERROR;
    json_t *found = json_array_get(rows, 0);
    const char *hash = json_string_value(json_object_get(found, "password_hash"));
    /* The dummy hash is made on first use, not in init: argon2id takes a
     * tenth of a second and 64 MiB, which every worker of every generation
     * would pay at start, slowing each reload. Made whichever account is
     * asked for, so the first sign-in costs the same either way. */
    if (dummy_hash[0] == '\0' && auth_hash_password("not a password", dummy_hash) != PB_OK) {
        json_decref(rows);
        return PB_ERROR;
    }
    int ok = crypto_pwhash_str_verify(hash ? hash : dummy_hash, password, strlen(password)) == 0;
    ok = ok && hash && json_is_true(json_object_get(found, "is_active"));
    if (ok) {
        *user = json_incref(found);
        json_decref(rows);
        return PB_OK;
    }
    json_decref(rows);
    if (host->rate_hit(req, "login", email) != PB_OK || host->rate_hit(req, "login", NULL) != PB_OK)
        return PB_ERROR;
    return PB_INVALID;
}

/* The request's context is still anonymous, so the user is the resource. */
int auth_signed_in(pb_req *req, const char *user_id, const char *name)
{
    if (sign_in(req, user_id, name) != PB_OK)
        return PB_ERROR;
    return host->audit(req, "auth.login", "user", user_id, NULL, NULL, 0);
}

/* GET /login */
static int login_form(pb_req *req)
{
    if (host->user_id(req))
        return host->redirect(req, 303, next_path(req));
    if (auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    json_object_set_new(host->model(req), "next", json_string(next_path(req)));
    return 200;
}

/* POST /login */
static int login(pb_req *req)
{
    json_t *m = host->model(req);
    const char *email = NULL, *password = NULL;
    host->input_email(req, "email", PB_REQUIRED, &email);
    host->input_str(req, "password", PB_REQUIRED, 1, PASSWORD_MAX, &password);
    json_object_set_new(m, "values", json_pack("{s:s?}", "email", email));
    json_object_set_new(m, "next", json_string(next_path(req)));
    if (auth_with_csrf(req) != PB_OK)
        return PB_ERROR;
    if (host->input_errors(req))
        return 400;
    json_t *user = NULL;
    int rc = auth_check_password(req, email, password, &user);
    if (rc == 429)
        return 429;
    if (rc == PB_OK && json_is_true(json_object_get(user, "totp_enabled"))) {
        rc = auth_second_step(req, user, email, next_path(req)); /* not signed in yet */
        json_decref(user);
        return rc;
    }
    if (rc == PB_OK) {
        rc = auth_signed_in(req, json_string_value(json_object_get(user, "id")),
                            json_string_value(json_object_get(user, "display_name")));
        json_decref(user);
        return rc == PB_OK ? host->redirect(req, 303, next_path(req)) : PB_ERROR;
    }
    if (rc != PB_INVALID ||
        host->audit(req, "auth.login_failed", "email", email, NULL, NULL, PB_AUDIT_KEEP) != PB_OK)
        return PB_ERROR;
    /* One message for both cases: which one was wrong stays unsaid. */
    return host->input_fail(req, "password", WRONG_CREDENTIALS) == PB_INVALID ? 400 : PB_ERROR;
}

/* POST /logout */
static int logout(pb_req *req)
{
    const char *uid = host->user_id(req);
    if (uid && host->audit(req, "auth.logout", "user", uid, NULL, NULL, 0) != PB_OK)
        return PB_ERROR;
    if (host->logout(req) != PB_OK)
        return PB_ERROR;
    host->flash(req, "info", "You are signed out.");
    return host->redirect(req, 303, "/login");
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/signup", signup_form, NULL, PB_PUBLIC, "auth/signup"},
    {PB_POST, "/signup", signup, NULL, PB_PUBLIC, "auth/signup"},
    {PB_GET, "/login", login_form, NULL, PB_PUBLIC, "auth/login"},
    {PB_POST, "/login", login, NULL, PB_PUBLIC, "auth/login"},
    /* Signing out needs no permission: anyone may end their own session. */
    {PB_POST, "/logout", logout, NULL, PB_PUBLIC, "auth/login"},
    {PB_GET, "/account", account_form, "account:self", 0, "auth/account"},
    {PB_POST, "/account", account_update, "account:self", 0, "auth/account"},
    {PB_GET, "/account/password", password_form, "account:self", 0, "auth/password"},
    {PB_POST, "/account/password", password_update, "account:self", 0, "auth/password"},
    {PB_GET, "/account/2fa", twofactor_page, "account:self", 0, "auth/twofactor"},
    {PB_POST, "/account/2fa/setup", twofactor_setup, "account:self", 0, "auth/twofactor_setup"},
    /* The enrolment QR code as an image: an <img> cannot be a JSON page. */
    {PB_GET, "/account/2fa/qr.svg", twofactor_qr, "account:self", PB_JSON_ONLY | PB_NO_API, NULL},
    {PB_POST, "/account/2fa/enable", twofactor_enable, "account:self", 0, "auth/twofactor_setup"},
    {PB_POST, "/account/2fa/disable", twofactor_disable, "account:self", 0, "auth/twofactor"},
    {PB_POST, "/account/2fa/recovery", twofactor_renew, "account:self", 0, "auth/twofactor"},
    /* The second step of signing in: the password was right, but the
     * visitor is not signed in until the code is. */
    {PB_GET, "/login/2fa", login_code_form, NULL, PB_PUBLIC, "auth/login_2fa"},
    {PB_POST, "/login/2fa", login_code, NULL, PB_PUBLIC, "auth/login_2fa"},
    /* Password reset is for people who cannot sign in: anonymous by nature. */
    {PB_GET, "/password/forgot", forgot_form, NULL, PB_PUBLIC, "auth/forgot"},
    {PB_POST, "/password/forgot", forgot, NULL, PB_PUBLIC, "auth/forgot"},
    {PB_GET, "/password/reset/:token", reset_form, NULL, PB_PUBLIC, "auth/reset"},
    {PB_POST, "/password/reset/:token", reset, NULL, PB_PUBLIC, "auth/reset"},
    /* API clients have no session to be signed in with: public. */
    {PB_POST, "/auth/token", auth_token, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

static const pb_permission permissions[] = {
    {"account:self", "Manage one's own profile"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "auth",
    .version = "0.1.0",
    .routes = routes,
    .permissions = permissions,
    .init = init,
};
