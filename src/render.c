/*
 * render.c - view model to HTML or JSON.
 */
#include "render.h"

#include <string.h>

#include "jsonout.h"
#include "log.h"
#include "response.h"
#include "session.h"

static void send_json(pb_req *req, int status, json_t *v)
{
    pb_buf *b = req->body;
    pb_buf_reset(b);
    if (pb_json_write(b, v) < 0) {
        pb_response_write(req, 500, "text/plain; charset=utf-8", "out of memory\n", 14);
        return;
    }
    pb_buf_putc(b, '\n');
    pb_response_write(req, status, "application/json", b->data, b->len);
}

/* The "site" object every page sees: name, navigation with the current
 * entry marked, and the path. Built once per worker and updated in place:
 * a worker serves one request at a time. */
static json_t *site_globals(pb_req *req)
{
    json_t *site = req->w->site, *item;
    size_t i;
    int k = 0;
    /* A user who holds none of the permissions navigation needs (every
     * anonymous visitor) sees the public entries only: no need to walk the
     * rest on every page. */
    json_t *nav = req->nav_mask ? req->w->nav_all : req->w->nav_public;
    if (json_object_get(site, "nav") != nav)
        json_object_set(site, "nav", nav);
    json_array_foreach(nav, i, item)
    {
        /* Only what the user may open is linked (resolved by the worker). */
        bool needs = json_string_value(json_object_get(item, "permission")) != NULL;
        bool show = !needs || (k < 64 && (req->nav_mask >> k & 1));
        k += needs;
        json_object_set_new(item, "show", json_boolean(show));
        const char *href = json_string_value(json_object_get(item, "href"));
        size_t n = href ? strlen(href) : 0;
        bool current = href && (strcmp(href, req->path) == 0 ||
                                (n > 1 && strncmp(href, req->path, n) == 0 && req->path[n] == '/'));
        json_object_set_new(item, "current", json_boolean(current));
    }
    json_string_set(json_object_get(site, "path"), req->path);
    /* Who is signed in, and the token their sign-out form sends. */
    const char *uid = req->sess.exists ? pb_session_user(req) : NULL;
    if (uid) {
        const char *name = pb_session_get(req, "name");
        json_object_set_new(
            site, "user",
            json_pack("{s:s, s:s?}", "name", name ? name : "you", "csrf", pb_session_csrf(req)));
    } else {
        json_object_del(site, "user");
    }
    /* Viewing as someone: the banner names them and offers the way back. */
    const char *viewed = uid ? pb_session_view_as_name(req) : NULL;
    if (viewed)
        json_object_set_new(site, "viewing_as",
                            json_pack("{s:s, s:s?}", "name", viewed, "csrf", pb_session_csrf(req)));
    else
        json_object_del(site, "viewing_as");
    json_object_set_new(site, "flash", req->flash ? json_incref(req->flash) : json_array());
    return site;
}

static void send_html(pb_req *req, int status, const char *template)
{
    json_object_set(req->model, "site", site_globals(req));
    pb_buf *b = req->body;
    pb_buf_reset(b);
    pb_tpl_error err = {0};
    if (pb_tpl_render(req->w->tpl, template, req->model, b, &err) < 0) {
        pb_log(PB_LOG_ERROR, "rendering %s failed: %s:%d: %s", template, err.file, err.line,
               err.msg);
        static const char msg[] = "The page could not be rendered; the error has been logged.\n";
        pb_response_write(req, 500, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    pb_response_write(req, status, "text/html; charset=utf-8", b->data, b->len);
}

void pb_render_error(pb_req *req, int status, const char *message)
{
    /* The error joins what the handler put in the model (say /healthz's
     * checks); message may point into the model, so it is copied first. */
    json_t *error = json_pack("{s:i, s:s, s:s}", "status", status, "title",
                              pb_status_reason(status), "message", message);
    if (req->model == NULL)
        req->model = json_object();
    json_object_set_new(req->model, "error", error ? error : json_object());
    if (req->in.errors)
        json_object_set(req->model, "errors", req->in.errors);
    if (req->want_json || (req->route && (req->route->flags & PB_JSON_ONLY)))
        send_json(req, status, req->model);
    else
        send_html(req, status, "error");
}

static const char *default_message(int status)
{
    switch (status) {
    case 400:
        return "The request could not be understood. Check the form and try again.";
    case 403:
        return "You do not have permission to do this.";
    case 404:
        return "There is nothing at this address. Check the link, or go back to the start page.";
    case 409:
        return "This conflicts with a change made meanwhile. Reload and try again.";
    case 413:
        return "What you sent is too large.";
    case 422:
        return "Some fields need attention.";
    case 429:
        return "Too many requests. Wait a moment and try again.";
    case 503:
        return "This service is unavailable for a moment. Try again shortly.";
    default:
        return status >= 500 ? "Something went wrong on our side; it has been logged."
                             : "The request could not be completed.";
    }
}

void pb_render_respond(pb_req *req, int status)
{
    if (req->send_file && status == 200) {
        pb_response_file(req, status, req->content_type, req->send_file);
        return;
    }
    if (req->raw) {
        pb_response_write(req, status, req->content_type, req->body->data, req->body->len);
        return;
    }
    if (status >= 300 && status < 400) {
        pb_response_write(req, status, NULL, "", 0);
        return;
    }
    bool json_only = req->route && (req->route->flags & PB_JSON_ONLY);
    if (status >= 400) {
        /* A form with field errors is shown again with the errors beside
         * the fields; every other error gets the error page. */
        if (req->in.errors && !req->want_json && !json_only && req->template) {
            json_object_set(req->model, "errors", req->in.errors);
            send_html(req, status, req->template);
            return;
        }
        const char *msg = json_string_value(json_object_get(req->model, "message"));
        pb_render_error(req, status, msg ? msg : default_message(status));
        return;
    }
    if (req->want_json || json_only || req->template == NULL)
        send_json(req, status, req->model);
    else
        send_html(req, status, req->template);
}
