/*
 * totp.c - Base32, HOTP/TOTP, otpauth URIs and recovery codes.
 *
 * HMAC is OpenSSL's (libsodium has no HMAC-SHA-1, which every authenticator
 * app defaults to); comparisons and randomness are libsodium's or OpenSSL's
 * constant-time primitives.
 */
#include "totp.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* No 0 o 1 l i: a code read off paper must not be ambiguous. */
static const char recovery_alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";

/* ---------------------------------------------------------------- Base32 */

int pb_base32_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
    if (n > (SIZE_MAX - 5) / 8)
        return -1;
    size_t need = (n * 8 + 4) / 5;
    if (outsize <= need)
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = ((acc << 8) | in[i]) & 0xfff; /* at most 12 bits are pending */
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32_alphabet[(acc >> bits) & 31];
        }
    }
    /* RFC 4648 §6: the last group is padded with zero bits on the right. */
    if (bits > 0)
        out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return 0;
}

/* Returns the 5-bit value of a Base32 character in either case, or -1. */
static int b32_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int pb_base32_decode(const char *in, unsigned char *out, size_t outsize, size_t *outlen)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    int padding = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        if (*p == ' ')
            continue;
        if (*p == '=') {
            padding = 1;
            continue;
        }
        int v = b32_value(*p);
        /* RFC 4648 §3.3: reject characters outside the alphabet, and data
         * after padding (it would change the meaning of what came before). */
        if (v < 0 || padding)
            return -1;
        acc = ((acc << 5) | (uint32_t)v) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o == outsize)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Five or more leftover bits: a character too few for the last byte, a
     * truncated secret. Non-zero leftover bits: RFC 4648 §3.5 lets decoders
     * reject them, and we do so that one secret has one spelling. */
    if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    *outlen = o;
    return 0;
}

/* ------------------------------------------------------------ HOTP/TOTP */

static const EVP_MD *algo_md(int algo)
{
    switch (algo) {
    case PB_TOTP_SHA1:
        return EVP_sha1();
    case PB_TOTP_SHA256:
        return EVP_sha256();
    case PB_TOTP_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

int pb_hotp_code(const unsigned char *key, size_t keylen, int algo, uint64_t counter, int digits,
                 char out[9])
{
    const EVP_MD *md = algo_md(algo);
    if (md == NULL || keylen == 0 || keylen > INT_MAX || (digits != 6 && digits != 8))
        return -1;
    /* RFC 4226 §5.2: the counter is hashed as 8 big-endian bytes. */
    unsigned char msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (HMAC(md, key, (int)keylen, msg, sizeof msg, mac, &maclen) == NULL || maclen < 20)
        return -1;
    /* RFC 4226 §5.3 dynamic truncation; RFC 6238 Appendix A takes the
     * offset from the last byte of the longer SHA-2 MACs the same way. */
    unsigned off = mac[maclen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + bin % 10);
        bin /= 10;
    }
    out[digits] = '\0';
    return 0;
}

int pb_totp_code(const unsigned char *key, size_t keylen, int algo, uint64_t unix_time, int digits,
                 char out[9])
{
    return pb_hotp_code(key, keylen, algo, unix_time / PB_TOTP_PERIOD, digits, out);
}

/* Returns the length of code when it is 6 or 8 ASCII digits, else 0. */
static size_t code_digits(const char *code)
{
    size_t n = 0;
    while (n < 9 && code[n] >= '0' && code[n] <= '9')
        n++;
    if (code[n] != '\0' || (n != 6 && n != 8))
        return 0;
    return n;
}

int pb_totp_verify(const unsigned char *key, size_t keylen, const char *code, uint64_t unix_time,
                   int window, uint64_t *matched_step)
{
    size_t digits = code == NULL ? 0 : code_digits(code);
    if (digits == 0 || window < 0 || window > PB_TOTP_WINDOW_MAX)
        return -1;
    uint64_t step = unix_time / PB_TOTP_PERIOD;
    uint64_t first = step >= (uint64_t)window ? step - (uint64_t)window : 0;
    uint64_t last = step <= UINT64_MAX - (uint64_t)window ? step + (uint64_t)window : UINT64_MAX;
    int found = 0;
    uint64_t match = 0;
    /* No early exit: the time taken must not tell which step matched. */
    for (uint64_t s = first;; s++) {
        char want[9];
        if (pb_hotp_code(key, keylen, PB_TOTP_SHA1, s, (int)digits, want) < 0)
            return -1;
        if (CRYPTO_memcmp(want, code, digits) == 0 && !found) {
            found = 1;
            match = s;
        }
        if (s == last)
            break;
    }
    if (!found)
        return -1;
    if (matched_step != NULL)
        *matched_step = match;
    return 0;
}

int pb_totp_secret_new(unsigned char *key, size_t keylen)
{
    if (keylen == 0 || sodium_init() < 0)
        return -1;
    randombytes_buf(key, keylen);
    return 0;
}

/* ----------------------------------------------------------- otpauth URI */

/* RFC 3986 §2.3, spelt out rather than isalnum() so the locale cannot
 * widen it. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded: unreserved characters stay, every other byte
 * becomes %XX (RFC 3986 §2.1, upper-case hex). */
static int put_pct(pb_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        int plain = is_unreserved(*p);
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (plain ? pb_buf_putc(out, (char)*p) < 0 : pb_buf_append(out, esc, 3) < 0)
            return -1;
    }
    return 0;
}

static int uri_arg_ok(const char *s, int colon_ok)
{
    return s != NULL && *s != '\0' && (colon_ok || strchr(s, ':') == NULL);
}

int pb_totp_uri(pb_buf *out, const char *issuer, const char *account, const char *base32_secret)
{
    if (!uri_arg_ok(issuer, 0) || !uri_arg_ok(account, 0) || !uri_arg_ok(base32_secret, 1))
        return -1;
    size_t mark = out->len;
    if (pb_buf_puts(out, "otpauth://totp/") < 0 || put_pct(out, issuer) < 0 ||
        pb_buf_putc(out, ':') < 0 || put_pct(out, account) < 0 ||
        pb_buf_puts(out, "?secret=") < 0 || put_pct(out, base32_secret) < 0 ||
        pb_buf_puts(out, "&issuer=") < 0 || put_pct(out, issuer) < 0 ||
        pb_buf_puts(out, "&algorithm=SHA1&digits=6&period=30") < 0) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------- Recovery codes */

int pb_recovery_codes(char codes[][PB_RECOVERY_CODE_SIZE], int n)
{
    if (n < 0 || sodium_init() < 0)
        return -1;
    uint32_t nsym = (uint32_t)(sizeof recovery_alphabet - 1);
    for (int i = 0; i < n; i++) {
        char *c = codes[i];
        for (int j = 0; j < 11; j++)
            c[j] = j == 5 ? '-' : recovery_alphabet[randombytes_uniform(nsym)];
        c[11] = '\0';
    }
    return 0;
}

void pb_recovery_normalise(const char *in, char *out, size_t outsize)
{
    if (outsize == 0)
        return;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 1 < outsize; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        /* ASCII only: tolower() would follow the locale. */
        out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    out[o] = '\0';
}
