/*
 * response.h - writing the response: status, headers and body in one write.
 */
#ifndef PB_RESPONSE_H
#define PB_RESPONSE_H

#include <stddef.h>

#include "request.h"

/* Returns the reason phrase of a status ("Not Found"), or "Unknown". */
const char *pb_status_reason(int status);

/* Writes the whole response to the FastCGI stream: Status, Content-Type,
 * Content-Length, the security headers, the request's own headers, then
 * the body (omitted for HEAD). Returns 0, or -1 when the client is gone. */
int pb_response_write(pb_req *req, int status, const char *content_type, const char *body,
                      size_t len);

/* The same with the body read from the regular file at path in chunks
 * (never whole in memory): for downloads of any size. A file that cannot
 * be opened answers 404. Returns 0 or -1. */
int pb_response_file(pb_req *req, int status, const char *content_type, const char *path);

#endif
