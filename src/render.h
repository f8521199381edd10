/*
 * render.h - turning a handler's view model into HTML or JSON.
 *
 * The same handler serves a browser and an API client: a browser gets the
 * route's template inside the layout, an API client (an /api/v1 path, or
 * Accept: application/json) gets the view model itself.
 */
#ifndef PB_RENDER_H
#define PB_RENDER_H

#include "request.h"

/* Answers the request from what the handler left: a raw body, a redirect,
 * an error, the model as JSON, or the model through its template. */
void pb_render_respond(pb_req *req, int status);

/* Answers with the standard error page (in the layout) or error object.
 * message is shown to the user: say what happened and what to do. */
void pb_render_error(pb_req *req, int status, const char *message);

#endif
