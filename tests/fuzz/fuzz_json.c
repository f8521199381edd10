/*
 * fuzz_json.c - pb_json_body_parse on arbitrary bytes, then every typed
 * accessor over the members of the object it produced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_accessors.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const pb_limits lim = {
    .body_max = 1 << 16,
    .fields_max = 64,
    .name_max = 64,
    .value_max = 1024,
    .upload_max = 4096,
    .uploads_max = 4,
};

static void run_accessors(pb_input *in, const char *name)
{
    fuzz_accessors(in, name, 2, 16, 0, 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_input in = {0};
    pb_input_error err = {0};
    in.json = pb_json_body_parse((const char *)data, size, &lim, &err);
    if (in.json == NULL) {
        if ((err.status != 400 && err.status != 413) ||
            pb_utf8_count(err.msg, strlen(err.msg)) == (size_t)-1)
            abort();
        return 0;
    }
    if (!json_is_object(in.json) && !json_is_array(in.json))
        abort();
    const char *key;
    json_t *value;
    json_object_foreach(in.json, key, value) run_accessors(&in, key);
    (void)value;
    run_accessors(&in, "missing");
    if (in.errors != NULL) {
        char *dump = json_dumps(in.errors, 0);
        if (dump == NULL)
            abort();
        free(dump);
    }
    pb_input_free(&in);
    return 0;
}
