/*
 * token.c - the HS256 signing key, JWT access tokens and refresh tokens.
 *
 * Access tokens arrive from anyone, so pb_token_verify() checks the compact
 * form, the base64url encoding and the header itself before libjwt sees the
 * token: libjwt 1.10 picks the algorithm from the header it is given, and
 * its own base64 decoder is lenient, so neither is trusted to refuse a
 * hostile token. libjwt is kept for the HMAC itself.
 */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>

#include "buf.h"

#define TOK_SIG_LEN 32 /* bytes of an HMAC-SHA-256 (RFC 7518 §3.2) */

/* libjwt 1.10 takes integer claims as long; times must survive the cast. */
_Static_assert(sizeof(long) >= sizeof(int64_t), "long must hold an int64_t");

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static int tok_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes a message to err (when there is room) and returns code. */
static int tok_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int tok_is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* RFC 4122 §3 string form, with the lower-case hex digits RFC 4122 says
 * to output, so one user has exactly one spelling in a token. */
static int tok_is_uuid(const char *s, size_t n)
{
    if (n != PB_TOKEN_UUID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !tok_is_lower_hex(s[i]))
            return 0;
    }
    return 1;
}

static int tok_is_jti(const char *s, size_t n)
{
    if (n != PB_TOKEN_JTI_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!tok_is_lower_hex(s[i]))
            return 0;
    return 1;
}

/* RFC 4648 §5 alphabet. */
static int tok_is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Decodes canonical unpadded base64url (libsodium refuses stray characters
 * and non-zero trailing bits). Returns 0, or -1. */
static int tok_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
    return sodium_base642bin(out, cap, s, n, NULL, outlen, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ------------------------------------------------------------------ */
/* Signing key                                                        */
/* ------------------------------------------------------------------ */

static int key_check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return tok_fail(err, errlen, -1, "cannot stat key file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tok_fail(err, errlen, -1, "key file %s is not a regular file", path);
    if (st.st_mode & 077)
        return tok_fail(err, errlen, -1,
                        "key file %s has mode %04o; it must not be accessible by group or "
                        "others (chmod 600 %s)",
                        path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

/* Reads up to cap bytes. Returns the count, or -1 with errno set. */
static ssize_t key_read_all(int fd, unsigned char *p, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

static int key_read_fd(int fd, const char *path, unsigned char *key, size_t *keylen, char *err,
                       size_t errlen)
{
    unsigned char tmp[PB_TOKEN_KEY_MAX + 1]; /* one more, to notice an overlong file */
    if (key_check_file(fd, path, err, errlen) < 0)
        return -1;
    ssize_t n = key_read_all(fd, tmp, sizeof tmp);
    int rc = 0;
    if (n < 0)
        rc = tok_fail(err, errlen, -1, "cannot read key file %s: %s", path, strerror(errno));
    else if ((size_t)n < PB_TOKEN_KEY_MIN)
        rc = tok_fail(err, errlen, -1, "key file %s holds %zd bytes; at least %d are needed", path,
                      n, PB_TOKEN_KEY_MIN);
    else if ((size_t)n > PB_TOKEN_KEY_MAX)
        rc = tok_fail(err, errlen, -1, "key file %s is longer than %d bytes", path,
                      PB_TOKEN_KEY_MAX);
    else if ((size_t)n > *keylen)
        rc = tok_fail(err, errlen, -1, "key buffer too small for key file %s", path);
    if (rc == 0) {
        memcpy(key, tmp, (size_t)n);
        *keylen = (size_t)n;
    }
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

int pb_token_key_load(const char *path, unsigned char *key, size_t *keylen, char *err,
                      size_t errlen)
{
    if (path == NULL || key == NULL || keylen == NULL)
        return tok_fail(err, errlen, -1, "no key file given");
    /* O_NONBLOCK: a FIFO planted at the path must not hang startup; it is
     * refused as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return tok_fail(err, errlen, -1, "cannot open key file %s: %s", path, strerror(errno));
    int rc = key_read_fd(fd, path, key, keylen, err, errlen);
    close(fd);
    return rc;
}

static int key_write_fd(int fd, const char *tmp, char *err, size_t errlen)
{
    unsigned char k[PB_TOKEN_KEY_NEW];
    randombytes_buf(k, sizeof k);
    size_t n = 0;
    int rc = fchmod(fd, 0600);
    while (rc == 0 && n < sizeof k) {
        ssize_t w = write(fd, k + n, sizeof k - n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -1;
        else
            n += (size_t)w;
    }
    sodium_memzero(k, sizeof k);
    if (rc == 0)
        rc = fsync(fd); /* the key must be on disk before its name is */
    if (rc < 0)
        return tok_fail(err, errlen, -1, "cannot write %s: %s", tmp, strerror(errno));
    return 0;
}

/* Moves tmp to path unless path exists. RENAME_NOREPLACE makes the check and
 * the move one step; link() does the same where the filesystem lacks it. */
static int key_publish(const char *tmp, const char *path, char *err, size_t errlen)
{
    int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
        rc = link(tmp, path);
        if (rc == 0)
            unlink(tmp);
    }
    if (rc == 0)
        return 0;
    if (errno == EEXIST)
        return tok_fail(err, errlen, -1, "key file %s already exists; refusing to overwrite it",
                        path);
    return tok_fail(err, errlen, -1, "cannot create key file %s: %s", path, strerror(errno));
}

int pb_token_key_create(const char *path, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0')
        return tok_fail(err, errlen, -1, "no key file given");
    if (sodium_init() < 0)
        return tok_fail(err, errlen, -1, "cannot initialise libsodium");
    pb_buf tmp = PB_BUF_INIT;
    if (pb_buf_printf(&tmp, "%s.XXXXXX", path) < 0)
        return tok_fail(err, errlen, -1, "out of memory");
    int fd = mkostemp(tmp.data, O_CLOEXEC);
    int rc;
    if (fd < 0) {
        rc = tok_fail(err, errlen, -1, "cannot create a temporary file beside %s: %s", path,
                      strerror(errno));
    } else {
        rc = key_write_fd(fd, tmp.data, err, errlen);
        if (close(fd) < 0 && rc == 0)
            rc = tok_fail(err, errlen, -1, "cannot write %s: %s", tmp.data, strerror(errno));
        if (rc == 0)
            rc = key_publish(tmp.data, path, err, errlen);
        if (rc < 0)
            unlink(tmp.data);
    }
    pb_buf_free(&tmp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Issuing access tokens                                              */
/* ------------------------------------------------------------------ */

int pb_token_jti_new(char out[PB_TOKEN_JTI_LEN + 1])
{
    unsigned char r[PB_TOKEN_JTI_LEN / 2];
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, PB_TOKEN_JTI_LEN + 1, r, sizeof r);
    return 0;
}

/* A fixed-size claim field is usable when NUL-terminated within its array;
 * returns its length, or (size_t)-1. */
static size_t tok_field_len(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    return n < size ? n : (size_t)-1;
}

static int tok_key_ok(const unsigned char *key, size_t keylen)
{
    return key != NULL && keylen >= PB_TOKEN_KEY_MIN && keylen <= PB_TOKEN_KEY_MAX;
}

static int issue_check(const unsigned char *key, size_t keylen, const pb_token_claims *c, char *err,
                       size_t errlen)
{
    if (c == NULL || !tok_key_ok(key, keylen))
        return tok_fail(err, errlen, -1, "signing key must be %d to %d bytes", PB_TOKEN_KEY_MIN,
                        PB_TOKEN_KEY_MAX);
    if (!tok_is_uuid(c->sub, tok_field_len(c->sub, sizeof c->sub)))
        return tok_fail(err, errlen, -1, "sub is not a lower-case UUID");
    size_t n = tok_field_len(c->team, sizeof c->team);
    if (n != 0 && !tok_is_uuid(c->team, n))
        return tok_fail(err, errlen, -1, "team is not a lower-case UUID");
    n = tok_field_len(c->real_sub, sizeof c->real_sub);
    if (n != 0 && !tok_is_uuid(c->real_sub, n))
        return tok_fail(err, errlen, -1, "real_sub is not a lower-case UUID");
    n = tok_field_len(c->jti, sizeof c->jti);
    if (n != 0 && !tok_is_jti(c->jti, n))
        return tok_fail(err, errlen, -1, "jti is not %d lower-case hex digits", PB_TOKEN_JTI_LEN);
    if (c->iat < 0 || c->exp <= c->iat)
        return tok_fail(err, errlen, -1, "exp must come after iat, and iat must be >= 0");
    if (c->level < 0 || c->level > 100)
        return tok_fail(err, errlen, -1, "level must be from 0 to 100");
    return 0;
}

static int issue_grants(jwt_t *jwt, const pb_token_claims *c, const char *jti)
{
    if (jwt_add_grant(jwt, "sub", c->sub) != 0 || jwt_add_grant(jwt, "jti", jti) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)c->iat) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)c->exp) != 0 ||
        jwt_add_grant_int(jwt, "lvl", c->level) != 0)
        return -1;
    if (c->team[0] != '\0' && jwt_add_grant(jwt, "team", c->team) != 0)
        return -1;
    if (c->real_sub[0] != '\0' && jwt_add_grant(jwt, "real_sub", c->real_sub) != 0)
        return -1;
    return 0;
}

char *pb_token_issue(const unsigned char *key, size_t keylen, const pb_token_claims *c, char *err,
                     size_t errlen)
{
    char jti[PB_TOKEN_JTI_LEN + 1];
    if (issue_check(key, keylen, c, err, errlen) < 0)
        return NULL;
    if (c->jti[0] != '\0')
        memcpy(jti, c->jti, sizeof jti);
    else if (pb_token_jti_new(jti) < 0) {
        tok_fail(err, errlen, 0, "cannot initialise libsodium");
        return NULL;
    }
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new(&jwt) == 0 && issue_grants(jwt, c, jti) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen) == 0)
        token = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (token == NULL)
        tok_fail(err, errlen, 0, "cannot sign the token (out of memory?)");
    return token;
}

/* ------------------------------------------------------------------ */
/* Verifying access tokens                                            */
/* ------------------------------------------------------------------ */

/* The token split at its dots, and the decoded header and payload. */
typedef struct tok_parts {
    const char *part[3];
    size_t len[3];
    unsigned char head[PB_TOKEN_MAX];
    size_t headlen;
    unsigned char body[PB_TOKEN_MAX];
    size_t bodylen;
} tok_parts;

/* RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(sig).
 * The signature may be empty here so that an unsigned ("alg":"none") token
 * is reported as the wrong algorithm rather than as malformed. */
static int verify_split(const char *t, size_t n, tok_parts *p, char *err, size_t errlen)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && tok_is_b64url(t[i]))
            continue;
        if (i < n && t[i] != '.')
            return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "stray byte 0x%02x at %zu",
                            (unsigned char)t[i], i);
        if (k == 3)
            return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "more than three parts");
        p->part[k] = t + start;
        p->len[k++] = i - start;
        start = i + 1;
    }
    if (k != 3)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "fewer than three parts");
    if (p->len[0] == 0 || p->len[1] == 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "empty header or payload");
    return 0;
}

/* RFC 7515 §2: base64url without padding, as libsodium decodes it strictly;
 * libjwt is handed only tokens that pass. */
static int verify_decode(tok_parts *p, char *err, size_t errlen)
{
    if (tok_b64_decode(p->part[0], p->len[0], p->head, sizeof p->head, &p->headlen) < 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "header is not base64url");
    if (tok_b64_decode(p->part[1], p->len[1], p->body, sizeof p->body, &p->bodylen) < 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "payload is not base64url");
    return 0;
}

/* RFC 7515 §5.2 step 4: a JSON object; duplicate names are refused so that
 * no other parser (libjwt's own) can read a different value. */
static json_t *verify_json(const unsigned char *s, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int verify_header(const json_t *h, char *err, size_t errlen)
{
    const json_t *alg = json_object_get(h, "alg");
    const json_t *typ = json_object_get(h, "typ");
    if (!json_is_string(alg) || json_string_length(alg) != 5 ||
        memcmp(json_string_value(alg), "HS256", 5) != 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_ALG, "alg is not HS256");
    /* RFC 7519 §5.1: "JWT", compared as a media type (case-insensitively) */
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return tok_fail(err, errlen, PB_TOKEN_ERR_ALG, "typ is not JWT");
    /* RFC 7515 §4.1.11: a critical extension we do not understand */
    if (json_object_get(h, "crit") != NULL)
        return tok_fail(err, errlen, PB_TOKEN_ERR_ALG, "crit header is not supported");
    return 0;
}

static int verify_alg(const tok_parts *p, char *err, size_t errlen)
{
    json_t *h = verify_json(p->head, p->headlen);
    if (h == NULL)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "header is not a JSON object");
    int rc = verify_header(h, err, errlen);
    json_decref(h);
    return rc;
}

/* The HMAC is libjwt's; it reads the alg from the header again, so the
 * decoded alg is checked once more. */
static int verify_signature(const unsigned char *key, size_t keylen, const char *t, size_t n,
                            const tok_parts *p, char *err, size_t errlen)
{
    unsigned char sig[TOK_SIG_LEN + 1];
    size_t siglen = 0;
    if (tok_b64_decode(p->part[2], p->len[2], sig, sizeof sig, &siglen) < 0 ||
        siglen != TOK_SIG_LEN)
        return tok_fail(err, errlen, PB_TOKEN_ERR_SIGNATURE, "signature is not 32 bytes");
    char copy[PB_TOKEN_MAX + 1]; /* libjwt wants a C string */
    memcpy(copy, t, n);
    copy[n] = '\0';
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, copy, key, (int)keylen);
    if (rc == 0 && jwt_get_alg(jwt) != JWT_ALG_HS256)
        rc = tok_fail(err, errlen, PB_TOKEN_ERR_ALG, "alg is not HS256");
    else if (rc != 0)
        rc = tok_fail(err, errlen, PB_TOKEN_ERR_SIGNATURE, "bad signature");
    jwt_free(jwt);
    return rc;
}

/* A NumericDate (RFC 7519 §2), restricted to integers >= 0. */
static int claim_time(const json_t *p, const char *name, int64_t *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(p, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_CLAIMS, "%s is missing or not a time", name);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Copies a string claim that passes ok() into out (size bytes). An absent
 * claim is an error only when required. */
static int claim_str(const json_t *p, const char *name, int required,
                     int (*ok)(const char *, size_t), char *out, size_t size, char *err,
                     size_t errlen)
{
    const json_t *v = json_object_get(p, name);
    if (v == NULL && !required)
        return 0;
    if (!json_is_string(v) || !ok(json_string_value(v), json_string_length(v)))
        return tok_fail(err, errlen, PB_TOKEN_ERR_CLAIMS, "%s is missing or ill-formed", name);
    if (json_string_length(v) >= size)
        return tok_fail(err, errlen, PB_TOKEN_ERR_CLAIMS, "%s is too long", name);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int claims_read(const json_t *p, pb_token_claims *c, char *err, size_t errlen)
{
    if (claim_time(p, "exp", &c->exp, err, errlen) < 0 ||
        claim_time(p, "iat", &c->iat, err, errlen) < 0 ||
        claim_str(p, "sub", 1, tok_is_uuid, c->sub, sizeof c->sub, err, errlen) < 0 ||
        claim_str(p, "jti", 1, tok_is_jti, c->jti, sizeof c->jti, err, errlen) < 0 ||
        claim_str(p, "team", 0, tok_is_uuid, c->team, sizeof c->team, err, errlen) < 0 ||
        claim_str(p, "real_sub", 0, tok_is_uuid, c->real_sub, sizeof c->real_sub, err, errlen) < 0)
        return PB_TOKEN_ERR_CLAIMS;
    const json_t *lvl = json_object_get(p, "lvl");
    if (lvl != NULL &&
        (!json_is_integer(lvl) || json_integer_value(lvl) < 0 || json_integer_value(lvl) > 100))
        return tok_fail(err, errlen, PB_TOKEN_ERR_CLAIMS, "lvl is not a level from 0 to 100");
    c->level = lvl ? (int)json_integer_value(lvl) : 0;
    return 0;
}

/* now and leeway are >= 0 and the times >= 0, so nothing here overflows. */
static int claims_check_time(const pb_token_claims *c, int64_t now, int64_t leeway, char *err,
                             size_t errlen)
{
    if (now - leeway >= c->exp) /* RFC 7519 §4.1.4: now must be before exp */
        return tok_fail(err, errlen, PB_TOKEN_ERR_EXPIRED, "token expired");
    if (c->iat - leeway > now)
        return tok_fail(err, errlen, PB_TOKEN_ERR_NOT_YET_VALID, "token issued in the future");
    return 0;
}

static int verify_claims(const tok_parts *p, int64_t now, int64_t leeway, pb_token_claims *out,
                         char *err, size_t errlen)
{
    json_t *j = verify_json(p->body, p->bodylen);
    if (j == NULL)
        return tok_fail(err, errlen, PB_TOKEN_ERR_MALFORMED, "payload is not a JSON object");
    int rc = claims_read(j, out, err, errlen);
    json_decref(j);
    return rc < 0 ? rc : claims_check_time(out, now, leeway, err, errlen);
}

static int verify_steps(const unsigned char *key, size_t keylen, const char *token, size_t n,
                        int64_t now, int64_t leeway, tok_parts *p, pb_token_claims *out, char *err,
                        size_t errlen)
{
    int rc;
    if ((rc = verify_split(token, n, p, err, errlen)) < 0 ||
        (rc = verify_decode(p, err, errlen)) < 0 || (rc = verify_alg(p, err, errlen)) < 0 ||
        (rc = verify_signature(key, keylen, token, n, p, err, errlen)) < 0)
        return rc;
    return verify_claims(p, now, leeway, out, err, errlen);
}

int pb_token_verify(const unsigned char *key, size_t keylen, const char *token, size_t tokenlen,
                    int64_t now, int64_t leeway, pb_token_claims *out, char *err, size_t errlen)
{
    if (out == NULL || token == NULL || !tok_key_ok(key, keylen) || now < 0 || leeway < 0)
        return tok_fail(err, errlen, PB_TOKEN_ERR_INTERNAL, "bad arguments to token verify");
    memset(out, 0, sizeof *out);
    if (tokenlen > PB_TOKEN_MAX)
        return tok_fail(err, errlen, PB_TOKEN_ERR_TOO_LONG, "token longer than %d bytes",
                        PB_TOKEN_MAX);
    tok_parts *p = calloc(1, sizeof *p); /* 8 KiB: kept off the worker's stack */
    if (p == NULL)
        return tok_fail(err, errlen, PB_TOKEN_ERR_INTERNAL, "out of memory");
    int rc = verify_steps(key, keylen, token, tokenlen, now, leeway, p, out, err, errlen);
    free(p);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Refresh tokens                                                     */
/* ------------------------------------------------------------------ */

int pb_token_refresh_new(char out[PB_TOKEN_REFRESH_LEN + 1], unsigned char hash[32])
{
    unsigned char r[32];
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(r, sizeof r);
    sodium_bin2base64(out, PB_TOKEN_REFRESH_LEN + 1, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
    /* The text is hashed, not the bytes, so a presented token needs no
     * decoding; 256 random bits need no salt or slow hash. */
    crypto_hash_sha256(hash, (const unsigned char *)out, PB_TOKEN_REFRESH_LEN);
    return 0;
}

int pb_token_refresh_hash(const char *token, size_t len, unsigned char hash[32])
{
    unsigned char r[33];
    size_t n = 0;
    if (token == NULL || len != PB_TOKEN_REFRESH_LEN ||
        tok_b64_decode(token, len, r, sizeof r, &n) < 0 || n != 32)
        return -1;
    sodium_memzero(r, sizeof r);
    crypto_hash_sha256(hash, (const unsigned char *)token, len);
    return 0;
}
