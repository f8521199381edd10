/*
 * token.h - API credentials: the HS256 signing key, JWT access tokens and
 * opaque refresh tokens. Pure functions: no database or network I/O; the
 * key functions touch only the key file they are given.
 *
 * Access tokens are short-lived compact JWS (RFC 7515 §7.1) signed with
 * HS256 (RFC 7518 §3.2) through libjwt. Refresh tokens are 256 random bits
 * the client stores and the database keeps only as a SHA-256 hash.
 *
 * Refresh token rotation (RFC 6819 §5.2.2.3; OAuth 2.0 Security BCP §4.14.2),
 * which the database layer implements with these primitives:
 *  - Each stored refresh token row holds the hash from pb_token_refresh_new(),
 *    the user, a family id (one per login; every token descended from that
 *    login shares it), an expiry, and a used flag.
 *  - Refreshing: hash the presented token with pb_token_refresh_hash(), look
 *    the row up by hash; if it is unused and unexpired, mark it used and, in
 *    the same transaction, insert a new token in the same family and issue a
 *    new access token.
 *  - Presenting an already-used token means it was copied (either the thief
 *    or the user is replaying it): revoke every token in its family, so both
 *    must log in again.
 *  - Logout revokes the family; a password change or reset revokes all the
 *    user's families (DESIGN.md §5).
 */
#ifndef PB_TOKEN_H
#define PB_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define PB_TOKEN_KEY_MIN     32   /* bytes: RFC 7518 §3.2 wants >= the hash size */
#define PB_TOKEN_KEY_MAX     512  /* bytes */
#define PB_TOKEN_KEY_NEW     64   /* bytes written by pb_token_key_create() */
#define PB_TOKEN_MAX         4096 /* bytes in a compact access token */
#define PB_TOKEN_UUID_LEN    36   /* canonical "8-4-4-4-12" lower-case form */
#define PB_TOKEN_JTI_LEN     32   /* 128 random bits in lower-case hex */
#define PB_TOKEN_REFRESH_LEN 43   /* 256 bits, base64url without padding */

/* Claims of an access token. Strings are NUL-terminated; empty means absent
 * for team and real_sub. */
typedef struct pb_token_claims {
    char sub[PB_TOKEN_UUID_LEN + 1];      /* the acting user's id */
    char team[PB_TOKEN_UUID_LEN + 1];     /* the current team's id, or "" */
    char real_sub[PB_TOKEN_UUID_LEN + 1]; /* the admin behind a view-as, or "" */
    char jti[PB_TOKEN_JTI_LEN + 1];       /* token id; "" asks issue to make one */
    int64_t iat;                          /* issued at, Unix seconds */
    int64_t exp;                          /* expires at, Unix seconds */
    int level;                            /* role level in team, 0..100 ("lvl") */
} pb_token_claims;

/* Why pb_token_verify() refused a token; the reason text adds detail. */
typedef enum pb_token_status {
    PB_TOKEN_OK = 0,
    PB_TOKEN_ERR_TOO_LONG = -1,      /* longer than PB_TOKEN_MAX bytes */
    PB_TOKEN_ERR_MALFORMED = -2,     /* not three base64url parts of JSON objects */
    PB_TOKEN_ERR_ALG = -3,           /* header is not exactly HS256 */
    PB_TOKEN_ERR_SIGNATURE = -4,     /* signature does not verify with the key */
    PB_TOKEN_ERR_EXPIRED = -5,       /* now >= exp + leeway */
    PB_TOKEN_ERR_NOT_YET_VALID = -6, /* iat > now + leeway */
    PB_TOKEN_ERR_CLAIMS = -7,        /* a required claim is missing or ill-formed */
    PB_TOKEN_ERR_INTERNAL = -8       /* bad arguments, bad key length, out of memory */
} pb_token_status;

/* Reads the HS256 key from the regular file at path into key. *keylen is the
 * capacity of key on entry (at least PB_TOKEN_KEY_MAX to accept any valid
 * key) and the key's length on return. The file is raw bytes; refused when
 * it grants any permission to group or others (the message names the mode),
 * when shorter than PB_TOKEN_KEY_MIN or longer than PB_TOKEN_KEY_MAX bytes.
 * Returns 0, or -1 with a message in err. */
int pb_token_key_load(const char *path, unsigned char *key, size_t *keylen, char *err,
                      size_t errlen);

/* Creates a key file at path holding PB_TOKEN_KEY_NEW random bytes, mode
 * 0600, written to a temporary file beside it and renamed into place so no
 * reader ever sees a partial key. Never replaces an existing file, even one
 * created concurrently. Returns 0, or -1 with a message in err. */
int pb_token_key_create(const char *path, char *err, size_t errlen);

/* Writes a fresh jti (PB_TOKEN_JTI_LEN lower-case hex digits and a NUL), for
 * a caller that must record the id of the token it is about to issue.
 * Returns 0, or -1 when libsodium cannot initialise. */
int pb_token_jti_new(char out[PB_TOKEN_JTI_LEN + 1]);

/* Signs an HS256 access token carrying c's claims (team and real_sub only
 * when non-empty; a fresh jti when c->jti is empty). Refuses a key outside
 * PB_TOKEN_KEY_MIN..PB_TOKEN_KEY_MAX bytes, sub/team/real_sub that are not
 * canonical lower-case UUIDs, a jti that is not PB_TOKEN_JTI_LEN lower-case
 * hex digits, a negative iat, or exp <= iat. Returns the compact token,
 * malloc'd (the caller frees it), or NULL with a message in err. */
char *pb_token_issue(const unsigned char *key, size_t keylen, const pb_token_claims *c, char *err,
                     size_t errlen);

/* Verifies an access token of tokenlen bytes (need not be NUL-terminated) at
 * time now with leeway seconds of clock skew allowed, both >= 0. In order,
 * it refuses (returning the pb_token_status named, and a short reason in err):
 *  - TOO_LONG: more than PB_TOKEN_MAX bytes;
 *  - MALFORMED: not exactly three '.'-separated parts of base64url characters
 *    (RFC 7515 §7.1), an empty header or payload, a part that is not
 *    canonical unpadded base64url (RFC 7515 §2), a header that is not a JSON
 *    object without duplicate names (RFC 7515 §5.2 step 4);
 *  - ALG: a header whose "alg" is not exactly the string "HS256" ("none",
 *    "HS512", "RS256", "hs256" all refused, whatever libjwt would accept),
 *    whose "typ", if present, is not "JWT" (RFC 7519 §5.1), or that has a
 *    "crit" member (RFC 7515 §4.1.11: no extensions are understood);
 *  - SIGNATURE: a signature that is not 32 bytes or does not verify with key
 *    (checked by libjwt, whose decoded alg must again be HS256);
 *  - MALFORMED: a payload that is not a JSON object without duplicate names;
 *  - CLAIMS: "exp", "iat" not non-negative JSON integers, "sub", "jti" absent,
 *    sub/team/real_sub (when present) not canonical lower-case UUIDs, jti not
 *    PB_TOKEN_JTI_LEN lower-case hex digits;
 *  - EXPIRED: now >= exp + leeway (RFC 7519 §4.1.4);
 *  - NOT_YET_VALID: iat > now + leeway.
 * Other claims (nbf, aud, iss, ...) are ignored: only our key signs, and
 * pb_token_issue() never writes them. On PB_TOKEN_OK, *out holds the claims;
 * on failure it is zeroed. */
int pb_token_verify(const unsigned char *key, size_t keylen, const char *token, size_t tokenlen,
                    int64_t now, int64_t leeway, pb_token_claims *out, char *err, size_t errlen);

/* Makes a refresh token: 256 random bits as PB_TOKEN_REFRESH_LEN base64url
 * characters and a NUL in out, and the SHA-256 of those characters in hash
 * (what the database stores). Returns 0, or -1 when libsodium cannot
 * initialise. */
int pb_token_refresh_new(char out[PB_TOKEN_REFRESH_LEN + 1], unsigned char hash[32]);

/* Hashes a presented refresh token of len bytes as pb_token_refresh_new()
 * did. Returns 0, or -1 (hash untouched) unless it is exactly
 * PB_TOKEN_REFRESH_LEN characters of canonical base64url encoding 32 bytes. */
int pb_token_refresh_hash(const char *token, size_t len, unsigned char hash[32]);

#endif
