/* clash.c - a test module whose route clashes with the system module's. */
#include <plugboard.h>

static int never(pb_req *req)
{
    (void)req;
    return 200;
}

static const pb_route routes[] = {
    {PB_GET, "/healthz", never, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "clash",
    .version = "0.0.1",
    .routes = routes,
};
