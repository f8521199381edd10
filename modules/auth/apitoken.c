/*
 * apitoken.c - POST /auth/token (under /api/v1): API credentials.
 *
 * Shaped after OAuth 2.0's resource owner password and refresh grants
 * (RFC 6749 §4.3, §6): grant_type=password with email and password gives
 * a short-lived access token (a JWT to send as "Authorization: Bearer")
 * and a refresh token; grant_type=refresh_token with refresh_token rotates
 * the refresh token and gives a new pair. Fields come as JSON or as a form.
 * A user with two-factor sign-in on adds "otp" to the password grant.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"

/* A user with two-factor sign-in on also sends "otp": a current code from
 * their app, or a recovery code. Without it, or with a wrong one, the
 * answer is 401 with "mfa_required": true. Returns PB_OK or the status. */
static int second_factor(pb_req *req, const char *user_id, const char *email)
{
    json_t *m = host->model(req);
    const char *otp = NULL;
    int rc = host->input_str(req, "otp", 0, 1, 32, &otp);
    if (rc == PB_INVALID)
        return 400;
    rc = otp ? auth_second_factor(req, user_id, email, otp, "otp") : PB_INVALID;
    if (rc != PB_INVALID)
        return rc;
    json_object_set_new(m, "mfa_required", json_true());
    json_object_set_new(m, "message",
                        json_string(otp ? "The two-factor code is not right, or it was already "
                                          "used."
                                        : "This account uses two-factor sign-in: send a current "
                                          "code from the authenticator app, or a recovery code, "
                                          "as \"otp\"."));
    return 401;
}

static int password_grant(pb_req *req, json_t **out)
{
    const char *email = NULL, *password = NULL;
    host->input_email(req, "email", PB_REQUIRED, &email);
    host->input_str(req, "password", PB_REQUIRED, 1, 200, &password);
    if (host->input_errors(req))
        return 400;
    json_t *user = NULL;
    int rc = auth_check_password(req, email, password, &user);
    if (rc == PB_INVALID) {
        json_t *who = json_pack("{s:s}", "email", email);
        host->audit(req, "auth.token_failed", "email", email, NULL, who, PB_AUDIT_KEEP);
        json_decref(who);
        json_object_set_new(host->model(req), "message",
                            json_string("The e-mail address or the password is not right."));
        return 401;
    }
    if (rc != PB_OK)
        return rc;
    const char *uid = json_string_value(json_object_get(user, "id"));
    char team[40];
    int level = 0;
    if (json_is_true(json_object_get(user, "totp_enabled")))
        rc = second_factor(req, uid, email);
    if (rc == PB_OK)
        rc = auth_login_context(req, uid, team, sizeof team, &level);
    if (rc == PB_OK && team[0] == '\0') {
        json_object_set_new(host->model(req), "message",
                            json_string("This account is not an active member of any team."));
        rc = 403;
    } else if (rc == PB_OK && host->token_issue(req, uid, team, level, out) != PB_OK) {
        rc = PB_ERROR;
    } else if (rc == PB_OK) {
        rc = host->audit(req, "auth.token", "user", uid, NULL, NULL, 0) == PB_OK ? 200 : PB_ERROR;
    }
    json_decref(user);
    return rc;
}

static int refresh_grant(pb_req *req, json_t **out)
{
    const char *token = NULL;
    host->input_str(req, "refresh_token", PB_REQUIRED, 1, 100, &token);
    if (host->input_errors(req))
        return 400;
    int rc = host->token_refresh(req, token, out);
    if (rc == PB_INVALID) {
        json_object_set_new(host->model(req), "message",
                            json_string("The refresh token is not valid: sign in again."));
        return 401;
    }
    return rc == PB_OK ? 200 : PB_ERROR;
}

int auth_token(pb_req *req)
{
    const char *grant = NULL;
    host->input_str(req, "grant_type", PB_REQUIRED, 1, 40, &grant);
    json_t *out = NULL;
    int rc;
    if (grant && strcmp(grant, "password") == 0)
        rc = password_grant(req, &out);
    else if (grant && strcmp(grant, "refresh_token") == 0)
        rc = refresh_grant(req, &out);
    else if (grant)
        rc = host->input_fail(req, "grant_type", "Use \"password\" or \"refresh_token\".") ==
                     PB_INVALID
                 ? 400
                 : PB_ERROR;
    else
        rc = 400;
    if (out) {
        json_object_update(host->model(req), out);
        json_decref(out);
    }
    if (rc == 401)
        host->set_header(req, "WWW-Authenticate", "Bearer");
    return rc;
}
