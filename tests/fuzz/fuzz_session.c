/*
 * fuzz_session.c - the session cookie and the CSRF check on hostile input:
 * a Cookie header is parsed as the host parses it, each value is checked
 * as a session id, and the input's two halves are compared as tokens.
 * Invariants: an accepted id is 43 base64url characters; tokens compare
 * equal exactly when their bytes do.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pb_limits lim = {1 << 20, 64, 256, 4096, 0, 0};
    if (sodium_init() < 0)
        abort();
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    pb_params cookies = {0};
    pb_input_error err;
    if (pb_cookie_parse(text, strlen(text), &lim, &cookies, &err) == 0) {
        for (size_t i = 0; i < cookies.n; i++) {
            const char *v = cookies.v[i].value;
            if (pb_session_id_valid(v) &&
                (strlen(v) != 43 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789-_") != 43))
                abort();
        }
    }
    pb_params_free(&cookies);

    /* Split at the first NUL or the middle: want | got. */
    size_t half = strlen(text) < size ? strlen(text) : size / 2;
    char *want = strndup(text, half), *got = strdup(text + (half < size ? half : size));
    if (want && got) {
        int same = want[0] != '\0' && strcmp(want, got) == 0;
        if (pb_csrf_equal(want, got) != same)
            abort();
    }
    free(want);
    free(got);
    free(text);
    return 0;
}
