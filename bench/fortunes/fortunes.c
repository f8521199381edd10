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

typedef struct fortune {
    const char *message;
    json_t *row;
} fortune;

static int by_message(const void *a, const void *b)
{
    return strcmp(((const fortune *)a)->message, ((const fortune *)b)->message);
}

static int fortunes(pb_req *req)
{
    json_t *rows = NULL;
    if (host->db_query(req, "SELECT id, message FROM bench.fortune", 0, NULL, &rows) < 0)
        return PB_ERROR;
    json_array_append_new(rows, json_pack("{s:i, s:s}", "id", 0, "message",
                                          "Additional fortune added at request time."));
    size_t n = json_array_size(rows);
    fortune *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        json_decref(rows);
        return PB_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, i);
        const char *msg = json_string_value(json_object_get(row, "message"));
        v[i] = (fortune){msg ? msg : "", json_incref(row)};
    }
    qsort(v, n, sizeof *v, by_message);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sorted, v[i].row);
    free(v);
    json_decref(rows);
    json_object_set_new(host->model(req), "fortunes", sorted);
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
