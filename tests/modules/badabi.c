/* badabi.c - a test module built for an ABI the host does not speak. */
#include <plugboard.h>

static int never(pb_req *req)
{
    (void)req;
    return 200;
}

static const pb_route routes[] = {
    {PB_GET, "/test/badabi", never, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION + 98,
    .name = "badabi",
    .version = "0.0.1",
    .routes = routes,
};
