/*
 * fuzz_urlenc.c - pb_urlenc_parse on arbitrary bytes, then every typed
 * accessor over the fields it produced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_accessors.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const pb_limits lim = {
    .body_max = 1 << 20,
    .fields_max = 64,
    .name_max = 64,
    .value_max = 1024,
    .upload_max = 4096,
    .uploads_max = 4,
};

/* Runs every accessor on every field name; messages must be valid UTF-8. */
static void run_accessors(pb_input *in, const pb_params *fields)
{
    for (size_t i = 0; i < fields->n; i++) {
        fuzz_accessors(in, fields->v[i].name, 1, 8, -100, 100);
    }
    if (in->errors != NULL) {
        char *dump = json_dumps(in->errors, 0);
        if (dump == NULL)
            abort();
        free(dump);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_input in = {0};
    pb_input_error err = {0};
    if (pb_urlenc_parse((const char *)data, size, &lim, &in.form, &err) < 0) {
        if ((err.status != 400 && err.status != 413) ||
            pb_utf8_count(err.msg, strlen(err.msg)) == (size_t)-1)
            abort();
    } else {
        if (in.form.n > lim.fields_max)
            abort();
        for (size_t i = 0; i < in.form.n; i++)
            if (in.form.v[i].len > lim.value_max || strlen(in.form.v[i].name) > lim.name_max)
                abort();
        run_accessors(&in, &in.form);
    }
    pb_input_free(&in);
    return 0;
}
