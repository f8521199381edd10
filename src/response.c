/*
 * response.c - the one write that answers a request.
 */
#include "response.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *pb_status_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* Sent on every response. The CSP allows no inline script or style and no
 * framing; pages load their CSS and JS from /static only. */
static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'\r\n"
    "X-Frame-Options: DENY\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: same-origin\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cache-Control: no-store\r\n";

/* Puts the status line and headers of a response of len bytes into out. */
static void head_into(pb_req *req, pb_buf *out, int status, const char *content_type, size_t len)
{
    pb_buf_reset(out);
    if (content_type)
        pb_buf_printf(out, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                      pb_status_reason(status), content_type, len);
    else
        pb_buf_printf(out, "Status: %d %s\r\nContent-Length: %zu\r\n", status,
                      pb_status_reason(status), len);
    pb_buf_append(out, security_headers, sizeof security_headers - 1);
    if (req->https)
        pb_buf_puts(out, "Strict-Transport-Security: max-age=31536000\r\n");
    pb_buf_append(out, req->headers->data, req->headers->len);
    pb_buf_puts(out, "\r\n");
}

int pb_response_write(pb_req *req, int status, const char *content_type, const char *body,
                      size_t len)
{
    pb_buf *out = &req->w->out;
    head_into(req, out, status, content_type, len);
    if (!req->head)
        pb_buf_append(out, body, len);
    if (out->data == NULL)
        return -1;
    if (FCGX_PutStr(out->data, (int)out->len, req->fcgi->out) < 0)
        return -1;
    return 0;
}

int pb_response_file(pb_req *req, int status, const char *content_type, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return pb_response_write(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
    }
    pb_buf *out = &req->w->out;
    head_into(req, out, status, content_type, (size_t)st.st_size);
    int rc = out->data && FCGX_PutStr(out->data, (int)out->len, req->fcgi->out) >= 0 ? 0 : -1;
    char chunk[65536];
    off_t left = req->head ? 0 : st.st_size;
    while (rc == 0 && left > 0) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || FCGX_PutStr(chunk, (int)n, req->fcgi->out) < 0)
            rc = -1; /* the length was promised: the client sees a short body */
        else
            left -= n;
    }
    close(fd);
    return rc;
}
