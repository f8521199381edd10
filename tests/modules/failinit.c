/* failinit.c - a test module whose init fails with a reason. */
#include <plugboard.h>
#include <stdio.h>

static int never(pb_req *req)
{
    (void)req;
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    (void)h;
    snprintf(err, errlen, "the test asked this init to fail");
    return -1;
}

static const pb_route routes[] = {
    {PB_GET, "/test/failinit", never, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "failinit",
    .version = "0.0.1",
    .routes = routes,
    .init = init,
};
