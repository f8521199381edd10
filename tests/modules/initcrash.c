/* initcrash.c - a test module whose init segfaults: the probe must catch
 * it and the site must start without it. */
#include <plugboard.h>
#include <signal.h>

static int never(pb_req *req)
{
    (void)req;
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    (void)h, (void)err, (void)errlen;
    raise(SIGSEGV);
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/test/initcrash", never, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "initcrash",
    .version = "0.0.1",
    .routes = routes,
    .init = init,
};
