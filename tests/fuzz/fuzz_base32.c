/*
 * fuzz_base32.c - pb_base32_decode on arbitrary bytes; whatever it accepts
 * must encode back to its canonical spelling and decode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical spelling of an accepted input: upper case, no spaces, no
 * padding. */
static void canonical(const char *in, char *out)
{
    for (; *in != '\0'; in++)
        if (*in != ' ' && *in != '=')
            *out++ = (char)(*in >= 'a' && *in <= 'z' ? *in - 'a' + 'A' : *in);
    *out = '\0';
}

static void round_trip(const char *text, const unsigned char *raw, size_t n)
{
    size_t enclen = (n * 8 + 4) / 5 + 1, again = 0;
    char *enc = malloc(enclen), *want = malloc(strlen(text) + 1);
    unsigned char *back = malloc(n + 1);
    if (enc == NULL || want == NULL || back == NULL)
        abort();
    /* The exact size must do; one byte less must not. */
    if (pb_base32_encode(raw, n, enc, enclen - 1) == 0 || pb_base32_encode(raw, n, enc, enclen) < 0)
        abort();
    canonical(text, want);
    if (strcmp(enc, want) != 0)
        abort();
    if (pb_base32_decode(enc, back, n, &again) < 0 || again != n || memcmp(back, raw, n) != 0)
        abort();
    free(enc);
    free(want);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    unsigned char *raw = malloc(size); /* decoding never grows the input */
    if (text == NULL || (raw == NULL && size > 0))
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    size_t n = 0;
    if (pb_base32_decode(text, raw, size, &n) == 0) {
        if (n > size)
            abort();
        round_trip(text, raw, n);
    }
    free(text);
    free(raw);
    return 0;
}
