/*
 * fuzz_template.c - libFuzzer target for the Mustache engine.
 *
 * Input: template text, then optionally a NUL byte and a JSON document used
 * as the data (a fixed sample document when absent or invalid). The template
 * is compiled as "t" and rendered; its partials resolve through a loader so
 * that loading, caching, recursion and inheritance are all reached:
 *   names starting with "p" load the template itself,
 *   names starting with "e" fail as an I/O error would,
 *   anything else is missing.
 * Work limits are small so that exploding templates fail fast instead of
 * being reported as timeouts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "buf.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char sample_data[] =
    "{\"a\": [1, 2.5, \"x\"], \"b\": {\"c\": \"<&>\", \"d\": [[], [0], {\"e\": null}]},"
    " \"s\": \"str\", \"e\": \"\", \"t\": true, \"f\": false, \"n\": null, \"z\": 0}";

struct fuzz_src {
    const char *text;
    size_t len;
};

static int fuzz_load(void *ctx, const char *name, char **src, size_t *len, char **file)
{
    const struct fuzz_src *s = ctx;
    if (name[0] == 'e')
        return -1;
    if (name[0] != 'p')
        return 1;
    *src = malloc(s->len + 1);
    if (*src == NULL)
        return -1;
    memcpy(*src, s->text, s->len);
    *len = s->len;
    *file = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t tlen = nul ? (size_t)(nul - text) : size;
    json_t *json = NULL;
    if (nul != NULL)
        json = json_loadb(nul + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);
    if (json == NULL)
        json = json_loads(sample_data, 0, NULL);

    struct fuzz_src src = {text, tlen};
    pb_tpl_set *set = pb_tpl_set_new(fuzz_load, &src);
    pb_tpl_error err;
    pb_buf out = PB_BUF_INIT;
    if (set != NULL) {
        pb_tpl_set_limits(set, 20000, 1 << 20);
        if (pb_tpl_set_add(set, "t", text, tlen, "fuzz.mustache", &err) == 0)
            pb_tpl_render(set, "t", json, &out, &err);
    }
    pb_buf_free(&out);
    pb_tpl_set_free(set);
    json_decref(json);
    return 0;
}
