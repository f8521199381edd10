/*
 * swap.c - a module built in two versions (tests/swap/v1, tests/swap/v2),
 * outside the module path, which test_hotswap installs by rename(2) to
 * reload into. Version 2 crashes on every request to its route: a release
 * that passes the probe but crash-loops in service, to be rolled back.
 */
#include <plugboard.h>
#include <signal.h>

#ifndef SWAP_VERSION
#define SWAP_VERSION "1"
#endif

static const pb_host *host;

/* GET /test/swap - which version answers. */
static int version(pb_req *req)
{
#ifdef SWAP_CRASH
    raise(SIGSEGV);
#endif
    json_object_set_new(host->model(req), "version", json_string(SWAP_VERSION));
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/test/swap", version, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "swap",
    .version = SWAP_VERSION,
    .routes = routes,
    .init = init,
};
