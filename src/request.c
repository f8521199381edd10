/*
 * request.c - reading a request: parameters, caps, and the body.
 *
 * The parsers themselves live in urlenc.c, cookie.c, multipart.c and
 * jsonbody.c; this file only decides which one a request needs and feeds
 * it, never buffering more than [limits] allow.
 */
#include "request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "params.h"

#define API_PREFIX     "/api/v1"
#define API_PREFIX_LEN (sizeof API_PREFIX - 1)

static const char *param(pb_req *req, const char *name)
{
    return req->fcgi ? FCGX_GetParam(name, req->fcgi->envp) : NULL; /* NULL: a job run */
}

const char *pb_request_header(pb_req *req, const char *name)
{
    char key[128];
    size_t n = strlen(name);
    if (strcasecmp(name, "Content-Type") == 0)
        return param(req, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return param(req, "CONTENT_LENGTH");
    if (n + 6 > sizeof key)
        return NULL;
    memcpy(key, "HTTP_", 5);
    for (size_t i = 0; i < n; i++)
        key[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    key[5 + n] = '\0';
    return param(req, key);
}

/* Does the Accept header ask for JSON rather than a page? A browser sends
 * text/html first; an API client sends application/json. */
static bool accepts_json(const char *accept)
{
    if (accept == NULL)
        return false;
    const char *json = strstr(accept, "application/json");
    const char *html = strstr(accept, "text/html");
    return json && (!html || json < html);
}

static int read_target(pb_req *req, char *msg, size_t msglen)
{
    req->raw_uri = param(req, "REQUEST_URI");
    if (req->raw_uri == NULL || req->raw_uri[0] != '/') {
        snprintf(msg, msglen, "The request target must be a path starting with /.");
        return 400;
    }
    size_t n = strcspn(req->raw_uri, "?#");
    const char *p = req->raw_uri;
    if (strncmp(p, API_PREFIX, API_PREFIX_LEN) == 0 &&
        (p[API_PREFIX_LEN] == '/' || API_PREFIX_LEN == n)) {
        req->api = true;
        p += API_PREFIX_LEN;
        n -= API_PREFIX_LEN;
    }
    req->path = n ? strndup(p, n) : strdup("/");
    if (req->path == NULL) {
        snprintf(msg, msglen, "Out of memory.");
        return 500;
    }
    return 0;
}

static int fail_input(const pb_input_error *e, char *msg, size_t msglen)
{
    snprintf(msg, msglen, "%s", e->msg);
    return e->status ? e->status : 400;
}

/* Reads exactly n body bytes into buf. Returns 0, or 400 when the client
 * sent fewer than it announced. */
static int read_exact(pb_req *req, char *buf, size_t n, char *msg, size_t msglen)
{
    size_t got = 0;
    while (got < n) {
        int chunk = n - got > (1 << 30) ? (1 << 30) : (int)(n - got);
        int r = FCGX_GetStr(buf + got, chunk, req->fcgi->in);
        if (r <= 0) {
            snprintf(msg, msglen, "The request body ended after %zu of %zu bytes.", got, n);
            return 400;
        }
        got += (size_t)r;
    }
    return 0;
}

static int read_multipart(pb_req *req, const char *ctype, size_t length, char *msg, size_t msglen)
{
    const pb_limits *lim = &req->w->cfg->limits;
    char boundary[80];
    pb_input_error e = {0};
    if (pb_multipart_boundary(ctype, boundary, sizeof boundary) < 0) {
        snprintf(msg, msglen, "The multipart/form-data body has no valid boundary parameter.");
        return 400;
    }
    pb_multipart *mp = pb_multipart_new(boundary, lim, req->w->cfg->tmp_dir, &req->in.form);
    if (mp == NULL) {
        snprintf(msg, msglen, "Out of memory.");
        return 500;
    }
    char chunk[16384];
    int rc = 0;
    for (size_t left = length; rc == 0 && left > 0;) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        rc = read_exact(req, chunk, n, msg, msglen);
        if (rc == 0 && pb_multipart_feed(mp, chunk, n, &e) < 0)
            rc = fail_input(&e, msg, msglen);
        left -= n;
    }
    if (rc == 0 && pb_multipart_finish(mp, &e) < 0)
        rc = fail_input(&e, msg, msglen);
    pb_multipart_free(mp);
    return rc;
}

/* Reads a body that is parsed whole (urlencoded, JSON). */
static int read_whole(pb_req *req, const char *ctype, size_t length, char *msg, size_t msglen)
{
    const pb_limits *lim = &req->w->cfg->limits;
    pb_input_error e = {0};
    char *body = malloc(length + 1);
    if (body == NULL) {
        snprintf(msg, msglen, "Out of memory.");
        return 500;
    }
    int rc = read_exact(req, body, length, msg, msglen);
    body[length] = '\0';
    if (rc == 0 && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
        if (pb_urlenc_parse(body, length, lim, &req->in.form, &e) < 0)
            rc = fail_input(&e, msg, msglen);
    } else if (rc == 0) {
        req->in.json = pb_json_body_parse(body, length, lim, &e);
        if (req->in.json == NULL)
            rc = fail_input(&e, msg, msglen);
    }
    free(body);
    return rc;
}

static bool is_json_type(const char *ctype)
{
    size_t n = strcspn(ctype, ";");
    return (n == 16 && strncasecmp(ctype, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ctype + n - 5, "+json", 5) == 0);
}

static int read_body(pb_req *req, char *msg, size_t msglen)
{
    const char *clen = param(req, "CONTENT_LENGTH");
    if (clen == NULL || clen[0] == '\0')
        return 0;
    char *end;
    unsigned long long length = strtoull(clen, &end, 10);
    if (*end != '\0' || clen[0] == '-') {
        snprintf(msg, msglen, "Content-Length is not a number.");
        return 400;
    }
    if (length == 0)
        return 0;
    if (length > req->w->cfg->limits.body_max) {
        snprintf(msg, msglen, "The request body is %llu bytes; the limit is %zu bytes.", length,
                 req->w->cfg->limits.body_max);
        return 413;
    }
    const char *ctype = param(req, "CONTENT_TYPE");
    if (ctype == NULL)
        ctype = "";
    if (strncasecmp(ctype, "multipart/form-data", 19) == 0)
        return read_multipart(req, ctype, (size_t)length, msg, msglen);
    if (strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0 || is_json_type(ctype))
        return read_whole(req, ctype, (size_t)length, msg, msglen);
    snprintf(msg, msglen,
             "Unsupported body type \"%.60s\": send application/x-www-form-urlencoded, "
             "multipart/form-data or application/json.",
             ctype);
    return 415;
}

int pb_request_read(pb_req *req, char *msg, size_t msglen)
{
    const pb_limits *lim = &req->w->cfg->limits;
    pb_input_error e = {0};
    req->method = param(req, "REQUEST_METHOD");
    if (req->method == NULL)
        req->method = "GET";
    req->head = strcmp(req->method, "HEAD") == 0;
    const char *https = param(req, "HTTPS");
    req->https = https && (strcasecmp(https, "on") == 0 || strcmp(https, "1") == 0);
    int rc = read_target(req, msg, msglen);
    if (rc)
        return rc;
    req->want_json = req->api || accepts_json(pb_request_header(req, "Accept"));
    const char *qs = param(req, "QUERY_STRING");
    if (qs && qs[0] && pb_urlenc_parse(qs, strlen(qs), lim, &req->in.query, &e) < 0)
        return fail_input(&e, msg, msglen);
    const char *cookie = param(req, "HTTP_COOKIE");
    if (cookie && pb_cookie_parse(cookie, strlen(cookie), lim, &req->in.cookies, &e) < 0)
        return fail_input(&e, msg, msglen);
    return read_body(req, msg, msglen);
}

void pb_request_free(pb_req *req)
{
    pb_input_free(&req->in);
    pb_session_free(&req->sess);
    json_decref(req->flash);
    json_decref(req->model);
    json_decref(req->keep);
    json_decref(req->cache_pending);
    free(req->path);
    free(req->content_type);
    free(req->send_file);
    pb_buf_reset(req->headers);
    pb_buf_reset(req->body);
}
