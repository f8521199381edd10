/*
 * fuzz_jsonout.c - differential target for the JSON writer: whatever
 * jansson parses, pb_json_write must write as text that jansson parses
 * back to an equal value.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jsonout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL)
        return 0;
    pb_buf b = PB_BUF_INIT;
    if (pb_json_write(&b, v) == 0) {
        json_error_t e;
        json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (back == NULL || !json_equal(v, back))
            abort();
        json_decref(back);
    }
    json_decref(v);
    pb_buf_free(&b);
    return 0;
}
