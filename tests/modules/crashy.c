/*
 * crashy.c - a test module that misbehaves on purpose: one route
 * segfaults, one never returns. The host must keep serving every other
 * route, answer 502 for the crashed request only, and log it.
 */
#include <plugboard.h>
#include <signal.h>
#include <unistd.h>

static const pb_host *host;

static int crash(pb_req *req)
{
    (void)req;
    raise(SIGSEGV);
    return 500;
}

static int hang(pb_req *req)
{
    (void)req;
    for (;;)
        pause();
    return 500;
}

static int ok(pb_req *req)
{
    json_object_set_new(host->model(req), "ok", json_true());
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/test/crash", crash, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/hang", hang, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/crashy-ok", ok, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "crashy",
    .version = "0.0.1",
    .routes = routes,
    .init = init,
};
