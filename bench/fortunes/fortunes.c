/*
 * fortunes.c - the TechEmpower "Fortunes" test as a Plugboard module:
 * every row of a table, one more added at request time, sorted by message,
 * escaped and rendered through a template. Kept under bench/ and loaded
 * only by script/bench.
 */
#include <plugboard.h>
#include <stdlib.h>
#include <string.h>

static const pb_host *host;

static int by_message(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "message"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "message"));
    return strcmp(x ? x : "", y ? y : "");
}

static int fortunes(pb_req *req)
{
    json_t *rows = NULL;
    if (host->db_query(req, "SELECT id, message FROM bench.fortune", 0, NULL, &rows) < 0)
        return PB_ERROR;
    json_array_append_new(rows, json_pack("{s:i, s:s}", "id", 0, "message",
                                          "Additional fortune added at request time."));
    size_t n = json_array_size(rows);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        json_decref(rows);
        return PB_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(rows, i));
    qsort(v, n, sizeof *v, by_message);
    json_array_clear(rows);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, v[i]);
    free(v);
    json_object_set_new(host->model(req), "fortunes", rows);
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/fortunes", fortunes, NULL, PB_PUBLIC, "fortunes/fortunes"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "fortunes",
    .version = "1.0.0",
    .routes = routes,
    .init = init,
};
