/*
 * session.h - cookie sessions kept in Redis, with their CSRF token and
 * flash messages.
 *
 * The cookie holds 256 random bits (libsodium); Redis holds the session
 * under the SHA-256 of that id, so a copy of Redis's keys cannot be
 * replayed as cookies. Expiry slides with each use (GETEX) up to an
 * absolute lifetime. A session is loaded only when a request needs one: a
 * route with a permission, an unsafe method that carries the cookie, or a
 * module asking. Pages for anonymous visitors never touch Redis.
 */
#ifndef PB_SESSION_H
#define PB_SESSION_H

#include <jansson.h>

struct pb_req;

typedef struct pb_session {
    int loaded;      /* load attempted */
    int exists;      /* a live session is attached */
    int dirty;       /* changed: save before answering */
    int unavailable; /* Redis failed: sessions cannot be used now */
    char id[48];     /* the cookie value (base64url, 43 characters) */
    char key[80];    /* "pb:s:" + hex SHA-256 of id */
    json_t *data;    /* {"uid","tid","lvl","csrf","created","flash":[...],"kv":{},
                        while viewing as: "ruid","rlvl","vname"} */
} pb_session;

/* Loads the session named by the request's cookie, once. Returns 0 (with
 * or without a session), or -1 when Redis cannot be reached. */
int pb_session_load(struct pb_req *req);

/* Returns the signed-in user's id, team id and role level, or NULL/0. */
const char *pb_session_user(struct pb_req *req);
const char *pb_session_team(struct pb_req *req);
int pb_session_level(struct pb_req *req);

/* Signs a user in: a fresh session id (the old session is deleted, so a
 * fixated id is worthless), a fresh CSRF token, the identity stored.
 * Returns 0 or -1 (Redis unavailable). */
int pb_session_login(struct pb_req *req, const char *user_id, const char *team_id, int level);

/* Signs out: deletes the session and clears the cookie. Returns 0 or -1. */
int pb_session_logout(struct pb_req *req);

/* Deletes every session of user uid (listed at sign-in), except the
 * request's own when keep_current; the request's own session is signed out
 * when it belongs to uid and is not kept. Returns 0 or -1. */
int pb_session_revoke_user(struct pb_req *req, const char *uid, int keep_current);

/* "View as": the session acts as uid at level (name shown in the banner),
 * remembering the real user; uid NULL returns to the real user. Returns 0,
 * or -1 without a session or when Redis is unavailable. */
int pb_session_view_as(struct pb_req *req, const char *uid, int level, const char *name);

/* Records the user's current role level (roles changed since sign-in). */
void pb_session_set_level(struct pb_req *req, int level);

/* The real user while viewing as someone, else NULL; and the name of the
 * user being viewed as. */
const char *pb_session_real_user(struct pb_req *req);
const char *pb_session_view_as_name(struct pb_req *req);

/* Returns the CSRF token to put in forms, starting an anonymous session
 * when there is none; NULL when Redis is unavailable. */
const char *pb_session_csrf(struct pb_req *req);

/* Checks an unsafe request's CSRF token (form field _csrf or header
 * X-CSRF-Token) against its session, in constant time. Returns 1 when it
 * matches. */
int pb_session_csrf_ok(struct pb_req *req);

/* Queues a message for the next page shown (kind: "info", "success",
 * "error"). Returns 0 or -1. */
int pb_session_flash(struct pb_req *req, const char *kind, const char *text);

/* Module data kept in the session (strings). */
const char *pb_session_get(struct pb_req *req, const char *key);
int pb_session_set(struct pb_req *req, const char *key, const char *value);

/* Ends the request's use of the session: when show_flash, takes the queued
 * messages (returned, caller owns; NULL when none); saves if changed.
 * Returns 0, or -1 when the session could not be saved. */
int pb_session_finish(struct pb_req *req, int show_flash, json_t **flash);

void pb_session_free(pb_session *s);

/* The untrusted-input checks, apart so they can be fuzzed alone. */

/* Returns 1 when a cookie value has the shape of our session ids: exactly
 * 43 base64url characters. */
int pb_session_id_valid(const char *id);

/* Returns 1 when a presented CSRF token equals the session's, compared in
 * constant time; 0 for NULL, empty or different tokens. */
int pb_csrf_equal(const char *want, const char *got);

#endif
