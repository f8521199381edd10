/*
 * ctl.c - the `plugboard ctl` client.
 *
 * The protocol is one line in ("status", "modules", "reload", "enable NAME",
 * "disable NAME"), one JSON document out ({"error": ...} on failure), then
 * the master closes the connection. A reload is answered once the new
 * generation serves, or refused with the reason.
 */
#include "ctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"

/* Sends cmd and reads the whole reply. Returns the parsed JSON or NULL
 * after printing why. */
static json_t *ctl_request(const char *path, const char *cmd, long timeout)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "plugboard ctl: cannot reach the master at %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct timeval tv = {timeout, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    pb_buf reply = PB_BUF_INIT;
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
        char chunk[4096];
        ssize_t got;
        while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0)
            pb_buf_append(&reply, chunk, (size_t)got);
    }
    close(fd);
    json_error_t je;
    json_t *v = reply.len ? json_loadb(reply.data, reply.len, 0, &je) : NULL;
    if (v == NULL)
        fprintf(stderr, "plugboard ctl: no valid answer from the master\n");
    pb_buf_free(&reply);
    return v;
}

static void print_status(json_t *st)
{
    json_t *w = json_object_get(st, "workers");
    printf("plugboard %s  master pid %lld  up %llds  generation %lld\n",
           json_string_value(json_object_get(st, "version")),
           json_integer_value(json_object_get(st, "master_pid")),
           json_integer_value(json_object_get(st, "uptime_seconds")),
           json_integer_value(json_object_get(st, "generation")));
    printf("workers %lld configured: %lld idle, %lld busy, %lld starting, %lld draining\n",
           json_integer_value(json_object_get(w, "configured")),
           json_integer_value(json_object_get(w, "idle")),
           json_integer_value(json_object_get(w, "busy")),
           json_integer_value(json_object_get(w, "starting")),
           json_integer_value(json_object_get(w, "draining")));
    printf("respawns %lld  crashes %lld  timeouts %lld  recycled %lld\n\n",
           json_integer_value(json_object_get(st, "respawns")),
           json_integer_value(json_object_get(st, "crashes")),
           json_integer_value(json_object_get(st, "timeouts")),
           json_integer_value(json_object_get(st, "recycled")));
    printf("%-8s %-4s %-9s %10s  %s\n", "PID", "GEN", "STATE", "REQUESTS", "ROUTE");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(w, "list"), i, x)
    {
        const char *route = json_string_value(json_object_get(x, "route"));
        printf("%-8lld %-4lld %-9s %10lld  %s\n", json_integer_value(json_object_get(x, "pid")),
               json_integer_value(json_object_get(x, "generation")),
               json_string_value(json_object_get(x, "state")),
               json_integer_value(json_object_get(x, "requests")), route ? route : "");
    }
    printf("\n%-40s %-10s %10s %8s %8s %8s\n", "ROUTE", "MODULE", "REQUESTS", "5XX", "P50 MS",
           "P99 MS");
    json_array_foreach(json_object_get(st, "routes"), i, x)
    {
        printf("%-40s %-10s %10lld %8lld %8.2f %8.2f\n",
               json_string_value(json_object_get(x, "route")),
               json_string_value(json_object_get(x, "module")),
               json_integer_value(json_object_get(x, "requests")),
               json_integer_value(json_object_get(json_object_get(x, "status"), "5xx")),
               json_real_value(json_object_get(x, "p50_ms")),
               json_real_value(json_object_get(x, "p99_ms")));
    }
}

static const char usage[] =
    "commands: status [--json], modules [--json], reload, enable NAME, disable NAME";

/* Prints a reply that is an error (to stderr) or a result. Returns the exit
 * status: 0, or 1 for an error. */
static int print_reply(json_t *r, int as_json)
{
    const char *error = json_string_value(json_object_get(r, "error"));
    if (error) {
        const char *module = json_string_value(json_object_get(r, "module"));
        const char *reason = json_string_value(json_object_get(r, "reason"));
        fprintf(stderr, "plugboard ctl: %s%s%s%s%s\n", error, module ? ": " : "",
                module ? module : "", reason ? ": " : "", reason ? reason : "");
        return 1;
    }
    if (as_json) {
        char *s = json_dumps(r, JSON_INDENT(2));
        if (s)
            puts(s);
        free(s);
    }
    return 0;
}

static void print_modules(json_t *r)
{
    size_t i;
    json_t *m;
    printf("%-20s %-12s %s\n", "MODULE", "STATE", "FILE / REASON");
    json_array_foreach(json_object_get(r, "modules"), i, m)
    {
        const char *reason = json_string_value(json_object_get(m, "reason"));
        const char *file = json_string_value(json_object_get(m, "file"));
        printf("%-20s %-12s %s%s%s\n", json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "state")), file ? file : "", reason ? ": " : "",
               reason ? reason : "");
    }
}

int pb_ctl_main(const pb_config *cfg, int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "status";
    int as_json = argc > 2 && strcmp(argv[2], "--json") == 0;
    char line[200];
    long timeout = 10;
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "modules") == 0) {
        snprintf(line, sizeof line, "%s", cmd);
    } else if (strcmp(cmd, "reload") == 0) {
        snprintf(line, sizeof line, "reload");
        timeout = cfg->start_timeout + 60; /* the probe, migrations, the new generation */
    } else if ((strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) && argc > 2 &&
               strlen(argv[2]) < 64) {
        snprintf(line, sizeof line, "%s %s", cmd, argv[2]);
        timeout = cfg->start_timeout + 60;
        as_json = argc > 3 && strcmp(argv[3], "--json") == 0;
    } else {
        fprintf(stderr, "plugboard ctl: unknown command \"%s\"; %s\n", cmd, usage);
        return 2;
    }
    json_t *r = ctl_request(cfg->control_socket, line, timeout);
    if (r == NULL)
        return 1;
    int rc = print_reply(r, as_json);
    if (rc == 0 && !as_json) {
        if (strcmp(cmd, "status") == 0)
            print_status(r);
        else if (strcmp(cmd, "modules") == 0)
            print_modules(r);
        else
            printf("generation %lld serving (%.0f ms)\n",
                   (long long)json_integer_value(json_object_get(r, "generation")),
                   json_real_value(json_object_get(r, "took_ms")));
    }
    json_decref(r);
    return rc;
}
