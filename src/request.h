/*
 * request.h - one request in flight: what came in, what goes out.
 *
 * The flow, in file order: worker.c accepts; request.c reads and parses
 * (limits, query, cookies, body); router.c picks the route; the module's
 * handler fills the view model through hostapi.c; render.c turns the model
 * into HTML or JSON; response.c writes status, headers and body at once.
 */
#ifndef PB_REQUEST_H
#define PB_REQUEST_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "input.h"
#include "plugboard.h"
#include "router.h"
#include "session.h"
#include "token.h"
#include "worker.h"

struct pb_req {
    pb_worker *w;
    FCGX_Request *fcgi;

    /* What came in */
    const char *method; /* as sent; "HEAD" is served by GET routes */
    bool head;
    char *path;          /* REQUEST_URI up to '?', routing prefix removed */
    const char *raw_uri; /* REQUEST_URI as sent */
    bool api;            /* came in under /api/v1 */
    bool want_json;      /* answer JSON (api, or Accept asks for it) */
    bool https;
    pb_input in;

    /* Where it went */
    pb_match match;
    const pb_route *route;
    const char *module;

    /* What goes out */
    int status;
    json_t *model;
    const char *template;
    pb_buf *headers;    /* extra "Name: value\r\n" lines (the worker's, reused) */
    pb_buf *body;       /* the rendered or raw body (the worker's, reused) */
    char *content_type; /* of the raw body */
    bool raw;           /* body holds the full response body */
    char *send_file;    /* or: the body is this file, streamed (backup.c) */
    pb_session sess;    /* loaded on demand */
    json_t *flash;      /* messages shown on this page */
    char level[12];     /* the role level, as text for the database context */
    const char *down;   /* a service found unavailable: "database", "Redis" */

    /* Who is asking when it is an API client: set from a verified
     * "Authorization: Bearer" token (otherwise the session says). */
    bool bearer;
    pb_token_claims claims;

    /* Account services (account.c), settled after the transaction ends. */
    json_t *keep;   /* statements to run if it does not commit: [[sql, p1...]] */
    int perm_flush; /* cached permission sets to drop after commit: 1 one user's, 2 all */
    char perm_user[40];
    json_t *cache_pending; /* cache names to drop once the transaction ends (cache.c) */
    uint64_t nav_mask;     /* bit k: the user holds the k-th permission navigation needs */

    /* A job run (scheduler.c) rather than an HTTP request: fcgi is NULL,
     * the identity is the run's, and host->job_* answer for it. */
    struct pb_job_run *job;
};

/* Reads the request's parameters and body into req->in, applying every
 * cap. Returns 0, or an HTTP status (400, 413, 415) with a message in msg
 * when the input is refused. */
int pb_request_read(pb_req *req, char *msg, size_t msglen);

/* Returns a request header (FastCGI HTTP_* param) by its HTTP name, or
 * NULL. Content-Type and Content-Length are found too. */
const char *pb_request_header(pb_req *req, const char *name);

/* Releases everything the request owns (uploaded files are removed). */
void pb_request_free(pb_req *req);

#endif
