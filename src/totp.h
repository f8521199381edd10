/*
 * totp.h - two-factor building blocks: Base32 secrets, HOTP/TOTP codes,
 * otpauth:// enrolment URIs and single-use recovery codes.
 *
 * Pure functions: no I/O, no state. HMAC comes from OpenSSL's libcrypto,
 * randomness from libsodium.
 */
#ifndef PB_TOTP_H
#define PB_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* HMAC hash for pb_hotp_code() and pb_totp_code(). */
enum pb_totp_algo {
    PB_TOTP_SHA1 = 0,
    PB_TOTP_SHA256 = 1,
    PB_TOTP_SHA512 = 2,
};

#define PB_TOTP_PERIOD     30 /* seconds per step (RFC 6238 §4.1 default X) */
#define PB_TOTP_WINDOW_MAX 10 /* widest window pb_totp_verify() accepts */
#define PB_TOTP_SECRET_LEN 20 /* bytes: the HMAC-SHA-1 output size, RFC 4226 §4 R6 */

/* Recovery codes are "xxxxx-xxxxx": 10 random characters, 11 with the
 * hyphen, 12 bytes with the NUL. */
#define PB_RECOVERY_CODE_SIZE 12

/* Writes the Base32 (RFC 4648 §6, upper case, no padding) form of in[0..n)
 * to out as a NUL-terminated string. Returns 0, or -1 when out cannot hold
 * ceil(8n/5) characters plus the NUL (out is then unspecified). */
int pb_base32_encode(const unsigned char *in, size_t n, char *out, size_t outsize);

/* Decodes the NUL-terminated Base32 string in into out and stores the byte
 * count in *outlen. Accepts lower case, spaces anywhere and '=' padding at
 * the end. Returns 0, or -1 (out unspecified, *outlen untouched) when in
 * holds another character, data after padding, a truncated final group, or
 * non-zero unused bits in the last character (so every accepted secret has
 * exactly one canonical spelling), or when the result exceeds outsize. */
int pb_base32_decode(const char *in, unsigned char *out, size_t outsize, size_t *outlen);

/* Writes the RFC 4226 HOTP value for counter as `digits` (6 or 8) decimal
 * characters plus NUL to out. Returns 0, or -1 for an empty or oversized
 * key, an unknown algo, a digit count other than 6 or 8, or an HMAC failure. */
int pb_hotp_code(const unsigned char *key, size_t keylen, int algo, uint64_t counter, int digits,
                 char out[9]);

/* Writes the RFC 6238 TOTP value for unix_time with a 30 s step (T0 = 0).
 * Returns 0 or -1 as pb_hotp_code(). */
int pb_totp_code(const unsigned char *key, size_t keylen, int algo, uint64_t unix_time, int digits,
                 char out[9]);

/* Checks a SHA-1 TOTP code (6 or 8 ASCII digits, the count taken from the
 * code) against the steps from window before to window after the one
 * holding unix_time; window is 0..PB_TOTP_WINDOW_MAX, 1 being usual. Every
 * step in the window is tried with a constant-time comparison. Returns 0 and
 * stores the earliest matching step in *matched_step (when not NULL), or -1
 * for no match or bad arguments. The caller must remember the last accepted
 * step per user and refuse matched_step <= that step, or a code can be
 * replayed within its window (RFC 6238 §5.2). */
int pb_totp_verify(const unsigned char *key, size_t keylen, const char *code, uint64_t unix_time,
                   int window, uint64_t *matched_step);

/* Fills key[0..keylen) with secret random bytes (PB_TOTP_SECRET_LEN is the
 * usual size). Returns 0, or -1 when keylen is 0 or libsodium cannot start. */
int pb_totp_secret_new(unsigned char *key, size_t keylen);

/* Appends the enrolment URI
 *   otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with every component percent-encoded (RFC 3986 §2.1; only unreserved
 * characters, §2.3, stay literal). Returns 0, or -1 with out unchanged when
 * out of memory, when an argument is NULL or empty, or when issuer or
 * account contains ':' (the label separator of the Key URI format). */
int pb_totp_uri(pb_buf *out, const char *issuer, const char *account, const char *base32_secret);

/* Writes n fresh recovery codes "xxxxx-xxxxx" drawn uniformly from an
 * alphabet without the look-alikes 0 o 1 l i (about 49.5 bits each).
 * Returns 0, or -1 when n < 0 or libsodium cannot start. */
int pb_recovery_codes(char codes[][PB_RECOVERY_CODE_SIZE], int n);

/* Copies in to out lower-cased and without hyphens or spaces, so a code
 * typed as "ABCDE FGHJK" compares equal to "abcde-fghjk" stored as
 * "abcdefghjk". Truncates to outsize - 1 bytes; out is always
 * NUL-terminated when outsize > 0. */
void pb_recovery_normalise(const char *in, char *out, size_t outsize);

#endif
