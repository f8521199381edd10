/* noperm.c - a test module with a route that names no permission and is
 * not public: refused, since deny is the default. */
#include <plugboard.h>

static int never(pb_req *req)
{
    (void)req;
    return 200;
}

static const pb_route routes[] = {
    {PB_GET, "/test/noperm", never, NULL, PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "noperm",
    .version = "0.0.1",
    .routes = routes,
};
