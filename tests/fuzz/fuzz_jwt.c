/*
 * fuzz_jwt.c - access tokens. The first byte picks the mode:
 *  even: the rest is a token for pb_token_verify() with a fixed key; it must
 *        be refused cleanly, or accepted only with well-formed claims;
 *  odd:  the rest is turned into claims; a token pb_token_issue() signs must
 *        verify to the same claims, and valid claims must always be signed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static const unsigned char key[32] = "plugboard-fuzz-key-0123456789abc";

/* Hands out the input a few bytes at a time, zeros once it runs out. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static void take(fuzz_in *in, void *out, size_t n)
{
    size_t k = in->n < n ? in->n : n;
    memset(out, 0, n);
    memcpy(out, in->p, k);
    in->p += k;
    in->n -= k;
}

static void take_uuid(fuzz_in *in, char out[PB_TOKEN_UUID_LEN + 1])
{
    uint8_t b[16];
    take(in, b, sizeof b);
    snprintf(out, PB_TOKEN_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

static void fuzz_verify(const uint8_t *data, size_t size)
{
    pb_token_claims c;
    char err[128] = "";
    int rc =
        pb_token_verify(key, sizeof key, (const char *)data, size, NOW, 60, &c, err, sizeof err);
    if (rc < PB_TOKEN_ERR_INTERNAL || rc > PB_TOKEN_OK || (rc != PB_TOKEN_OK && err[0] == '\0'))
        abort();
    if (rc == PB_TOKEN_OK && (strlen(c.sub) != PB_TOKEN_UUID_LEN ||
                              strlen(c.jti) != PB_TOKEN_JTI_LEN || c.exp + 60 <= NOW))
        abort();
}

/* Claims from the input: flags, then the ids, then iat and exp. Flag bit 3
 * puts raw bytes in sub, which issue may refuse; otherwise the claims are
 * valid exactly when 0 <= iat < exp. */
static int fuzz_claims(fuzz_in *in, pb_token_claims *c)
{
    uint8_t flags;
    memset(c, 0, sizeof *c);
    take(in, &flags, 1);
    if (flags & 8)
        take(in, c->sub, PB_TOKEN_UUID_LEN);
    else
        take_uuid(in, c->sub);
    if (flags & 1)
        take_uuid(in, c->team);
    if (flags & 2)
        take_uuid(in, c->real_sub);
    if (flags & 4) {
        char u[PB_TOKEN_UUID_LEN + 1];
        take_uuid(in, u); /* 32 hex digits once the dashes go */
        snprintf(c->jti, sizeof c->jti, "%.8s%.4s%.4s%.4s%.12s", u, u + 9, u + 14, u + 19, u + 24);
    }
    take(in, &c->iat, sizeof c->iat);
    take(in, &c->exp, sizeof c->exp);
    return !(flags & 8) && c->iat >= 0 && c->exp > c->iat;
}

static void fuzz_round_trip(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    pb_token_claims c, out;
    int valid = fuzz_claims(&in, &c);
    char err[128] = "";
    char *t = pb_token_issue(key, sizeof key, &c, err, sizeof err);
    if (t == NULL) {
        if (valid || err[0] == '\0')
            abort();
        return;
    }
    if (pb_token_verify(key, sizeof key, t, strlen(t), c.iat, 0, &out, err, sizeof err) != 0)
        abort();
    if (strcmp(c.sub, out.sub) != 0 || strcmp(c.team, out.team) != 0 ||
        strcmp(c.real_sub, out.real_sub) != 0 || c.iat != out.iat || c.exp != out.exp ||
        (c.jti[0] != '\0' && strcmp(c.jti, out.jti) != 0))
        abort();
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_round_trip(data + 1, size - 1);
    else
        fuzz_verify(data + 1, size - 1);
    return 0;
}
