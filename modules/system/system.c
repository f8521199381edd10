/*
 * system.c - the system module: the start page, health, and the
 * operator's figures. Written to be read as the example of a module:
 * one descriptor, handlers that fill a view model, and nothing else.
 */
#include <plugboard.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const pb_host *host;

/* GET / - what this installation runs. */
static int home(pb_req *req)
{
    json_object_set(host->model(req), "modules", host->modules(req));
    return 200;
}

/* Runs one check, timing it, and records the outcome under name. */
static int check(pb_req *req, json_t *checks, const char *name,
                 int (*probe)(pb_req *, char *, size_t))
{
    char err[256] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = probe(req, err, sizeof err) == PB_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    json_t *c = json_pack("{s:b, s:I}", "ok", ok, "us", (json_int_t)us);
    if (!ok)
        json_object_set_new(c, "error", json_string(err));
    json_object_set_new(checks, name, c);
    return ok;
}

/* GET /healthz - 200 when PostgreSQL and Redis answer, else 503 naming
 * what is down. */
static int healthz(pb_req *req)
{
    json_t *model = host->model(req), *checks = json_object();
    int ok = check(req, checks, "postgres", host->db_ping);
    ok &= check(req, checks, "redis", host->redis_ping);
    json_object_set_new(model, "status", json_string(ok ? "ok" : "unavailable"));
    json_object_set_new(model, "checks", checks);
    if (!ok) {
        char down[64] = "";
        const char *name;
        json_t *c;
        json_object_foreach(checks, name, c) if (!json_is_true(json_object_get(c, "ok"))) snprintf(
            down + strlen(down), sizeof down - strlen(down), "%s%s", down[0] ? ", " : "", name);
        json_object_set_new(model, "down", json_string(down));
    }
    return ok ? 200 : 503;
}

/* GET /status - workers and per-route figures, as a page or JSON, and
 * when the schema was installed. */
static int status(pb_req *req)
{
    json_t *model = host->model(req), *st = host->status(req), *rows = NULL;
    json_object_update(model, st);
    json_decref(st);
    /* When this installation's schema was made: the system migration's row. */
    const char *sql = "SELECT installed_at FROM system.instance LIMIT 1";
    if (host->db_query(req, sql, 0, NULL, &rows) < 0)
        return PB_ERROR;
    json_t *first = json_array_get(rows, 0);
    json_object_set(model, "installed_at", json_object_get(first, "installed_at"));
    json_decref(rows);
    return 200;
}

/* GET /metrics - Prometheus text exposition. */
static int metrics(pb_req *req)
{
    return host->send_metrics(req) == PB_OK ? 200 : PB_ERROR;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host)) {
        snprintf(err, errlen, "host function table too old");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/", home, NULL, PB_PUBLIC, "system/home"},
    {PB_GET, "/healthz", healthz, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    /* Operator pages: nginx admits loopback only, and they are not
     * mirrored under /api/v1 where that rule would not apply. */
    {PB_GET, "/status", status, NULL, PB_PUBLIC | PB_NO_API, "system/status"},
    {PB_GET, "/metrics", metrics, NULL, PB_PUBLIC | PB_JSON_ONLY | PB_NO_API, NULL},
    {0},
};

static const pb_nav nav[] = {
    {"Home", "/", NULL, 0},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "system",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .init = init,
};
