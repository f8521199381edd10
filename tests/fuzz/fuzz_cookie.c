/*
 * fuzz_cookie.c - pb_cookie_parse on arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const pb_limits lim = {
    .body_max = 1 << 20,
    .fields_max = 32,
    .name_max = 32,
    .value_max = 256,
    .upload_max = 4096,
    .uploads_max = 4,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_params p = {0};
    pb_input_error err = {0};
    if (pb_cookie_parse((const char *)data, size, &lim, &p, &err) < 0) {
        if (err.status != 413 || pb_utf8_count(err.msg, strlen(err.msg)) == (size_t)-1)
            abort();
    } else {
        if (p.n > lim.fields_max)
            abort();
        for (size_t i = 0; i < p.n; i++) {
            const pb_field *f = &p.v[i];
            size_t nlen = strlen(f->name);
            if (nlen == 0 || nlen > lim.name_max || f->len > lim.value_max ||
                pb_utf8_count(f->name, nlen) == (size_t)-1 || pb_params_get(&p, f->name) == NULL)
                abort();
        }
    }
    pb_params_free(&p);
    return 0;
}
