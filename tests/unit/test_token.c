/* test_token.c - signing key files, access tokens, refresh tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "token.h"

#define NOW    1700000000
#define SUB    "0b5f4c1e-8d2a-4f3b-9c6d-7e8f9a0b1c2d"
#define TEAM   "1c6a5d2f-9e3b-4a4c-8d7e-8f9a0b1c2d3e"
#define ADMIN  "2d7b6e3a-af4c-4b5d-9e8f-9a0b1c2d3e4f"
#define JTI    "00112233445566778899aabbccddeeff"
#define HS256  "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS "\"sub\":\"" SUB "\",\"jti\":\"" JTI "\""

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char other_key[32] = "fedcba9876543210fedcba9876543210";

static pb_token_claims sample_claims(void)
{
    pb_token_claims c = {.sub = SUB, .team = TEAM, .real_sub = ADMIN, .jti = JTI};
    c.iat = NOW;
    c.exp = NOW + 900;
    return c;
}

static char *issue(const pb_token_claims *c)
{
    char err[128];
    char *t = pb_token_issue(key, sizeof key, c, err, sizeof err);
    assert_non_null(t);
    return t;
}

static int verify_at(const char *t, int64_t now, int64_t leeway)
{
    pb_token_claims out;
    char err[128];
    return pb_token_verify(key, sizeof key, t, strlen(t), now, leeway, &out, err, sizeof err);
}

static int verify(const char *t)
{
    return verify_at(t, NOW, 0);
}

static void b64url(char *out, size_t cap, const void *p, size_t n)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Builds a token by hand: any header and payload, signed with HMAC-SHA-256
 * under k, or with an empty signature when k is NULL. */
static char *forge(const char *header, const char *payload, const unsigned char *k)
{
    static char t[16384];
    char h[2048], p[12288], s[64] = "";
    b64url(h, sizeof h, header, strlen(header));
    b64url(p, sizeof p, payload, strlen(payload));
    snprintf(t, sizeof t, "%s.%s", h, p);
    if (k != NULL) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, k, 32);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, strlen(t));
        crypto_auth_hmacsha256_final(&st, mac);
        b64url(s, sizeof s, mac, sizeof mac);
    }
    strcat(t, ".");
    strcat(t, s);
    return t;
}

/* A payload with the given claims and valid times. */
static char *payload(const char *claims)
{
    static char p[8192];
    snprintf(p, sizeof p, "{%s%s\"iat\":%d,\"exp\":%d}", claims, claims[0] ? "," : "", NOW,
             NOW + 900);
    return p;
}

/* ---- access tokens: round trip ---- */

static void test_round_trip_keeps_every_claim(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims(), out;
    char *t = issue(&c);
    char err[128] = "";
    assert_int_equal(pb_token_verify(key, sizeof key, t, strlen(t), NOW, 0, &out, err, sizeof err),
                     PB_TOKEN_OK);
    assert_string_equal(out.sub, SUB);
    assert_string_equal(out.team, TEAM);
    assert_string_equal(out.real_sub, ADMIN);
    assert_string_equal(out.jti, JTI);
    assert_int_equal(out.iat, NOW);
    assert_int_equal(out.exp, NOW + 900);
    free(t);
}

static void test_role_level_travels_in_lvl(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims(), out;
    c.level = 50;
    char *t = issue(&c);
    assert_int_equal(pb_token_verify(key, sizeof key, t, strlen(t), NOW, 0, &out, NULL, 0), 0);
    assert_int_equal(out.level, 50);
    free(t);
    c.level = 101;
    assert_null(pb_token_issue(key, sizeof key, &c, NULL, 0));
}

static void test_lvl_outside_0_to_100_or_not_an_integer_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge(HS256, payload(CLAIMS ",\"lvl\":101"), key)),
                     PB_TOKEN_ERR_CLAIMS);
    assert_int_equal(verify(forge(HS256, payload(CLAIMS ",\"lvl\":-1"), key)), PB_TOKEN_ERR_CLAIMS);
    assert_int_equal(verify(forge(HS256, payload(CLAIMS ",\"lvl\":\"100\""), key)),
                     PB_TOKEN_ERR_CLAIMS);
    assert_int_equal(verify(forge(HS256, payload(CLAIMS ",\"lvl\":100"), key)), PB_TOKEN_OK);
}

static void test_optional_claims_stay_empty(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims(), out;
    c.team[0] = c.real_sub[0] = '\0';
    char *t = issue(&c);
    assert_int_equal(pb_token_verify(key, sizeof key, t, strlen(t), NOW, 0, &out, NULL, 0), 0);
    assert_string_equal(out.team, "");
    assert_string_equal(out.real_sub, "");
    free(t);
}

static void test_issue_makes_a_fresh_jti_when_empty(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims(), a, b;
    c.jti[0] = '\0';
    char *t1 = issue(&c), *t2 = issue(&c);
    assert_int_equal(pb_token_verify(key, sizeof key, t1, strlen(t1), NOW, 0, &a, NULL, 0), 0);
    assert_int_equal(pb_token_verify(key, sizeof key, t2, strlen(t2), NOW, 0, &b, NULL, 0), 0);
    assert_int_equal(strlen(a.jti), PB_TOKEN_JTI_LEN);
    assert_string_not_equal(a.jti, b.jti);
    free(t1);
    free(t2);
}

static void test_issue_refuses_a_non_uuid_sub(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    strcpy(c.sub, "alice");
    char err[128] = "";
    assert_null(pb_token_issue(key, sizeof key, &c, err, sizeof err));
    assert_non_null(strstr(err, "sub"));
}

static void test_issue_refuses_a_short_key(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    assert_null(pb_token_issue(key, 16, &c, NULL, 0));
}

/* ---- access tokens: signature ---- */

static void test_tampered_payload_is_refused(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    /* Keep the header and signature, swap in a payload naming someone else. */
    char *forged = forge(HS256, payload("\"sub\":\"" ADMIN "\",\"jti\":\"" JTI "\""), key);
    char spliced[8192];
    const char *sig = strrchr(t, '.');
    snprintf(spliced, sizeof spliced, "%.*s%s", (int)(strrchr(forged, '.') - forged), forged, sig);
    assert_int_equal(verify(spliced), PB_TOKEN_ERR_SIGNATURE);
    free(t);
}

static void test_tampered_signature_is_refused(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    char *mid = strrchr(t, '.') + 10;
    *mid = *mid == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t), PB_TOKEN_ERR_SIGNATURE);
    free(t);
}

static void test_wrong_key_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge(HS256, payload(CLAIMS), other_key)), PB_TOKEN_ERR_SIGNATURE);
}

static void test_hand_made_token_verifies(void **state)
{
    (void)state; /* proves forge() signs as libjwt does, so the refusals below mean something */
    assert_int_equal(verify(forge(HS256, payload(CLAIMS), key)), PB_TOKEN_OK);
}

/* ---- access tokens: header ---- */

static void test_alg_none_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"alg\":\"none\"}", payload(CLAIMS), NULL)), PB_TOKEN_ERR_ALG);
}

static void test_alg_none_with_a_signature_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload(CLAIMS), key)),
                     PB_TOKEN_ERR_ALG);
}

static void test_alg_hs512_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload(CLAIMS), key)),
                     PB_TOKEN_ERR_ALG);
}

static void test_alg_rs256_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload(CLAIMS), key)),
                     PB_TOKEN_ERR_ALG);
}

static void test_alg_in_lower_case_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", payload(CLAIMS), key)),
                     PB_TOKEN_ERR_ALG);
}

static void test_missing_alg_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge("{\"typ\":\"JWT\"}", payload(CLAIMS), key)), PB_TOKEN_ERR_ALG);
}

static void test_crit_header_is_refused(void **state)
{
    (void)state;
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"]}";
    assert_int_equal(verify(forge(h, payload(CLAIMS), key)), PB_TOKEN_ERR_ALG);
}

static void test_duplicate_alg_is_malformed(void **state)
{
    (void)state; /* two parsers could each pick a different one */
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"alg\":\"none\"}";
    assert_int_equal(verify(forge(h, payload(CLAIMS), key)), PB_TOKEN_ERR_MALFORMED);
}

/* ---- access tokens: times ---- */

static void test_expired_is_refused(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    assert_int_equal(verify_at(t, c.exp, 0), PB_TOKEN_ERR_EXPIRED);
    free(t);
}

static void test_iat_in_the_future_is_refused(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    assert_int_equal(verify_at(t, c.iat - 1, 0), PB_TOKEN_ERR_NOT_YET_VALID);
    free(t);
}

static void test_leeway_accepts_a_recently_expired_token(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    assert_int_equal(verify_at(t, c.exp + 59, 60), PB_TOKEN_OK);
    assert_int_equal(verify_at(t, c.exp + 60, 60), PB_TOKEN_ERR_EXPIRED);
    free(t);
}

static void test_leeway_accepts_an_iat_slightly_ahead(void **state)
{
    (void)state;
    pb_token_claims c = sample_claims();
    char *t = issue(&c);
    assert_int_equal(verify_at(t, c.iat - 60, 60), PB_TOKEN_OK);
    assert_int_equal(verify_at(t, c.iat - 61, 60), PB_TOKEN_ERR_NOT_YET_VALID);
    free(t);
}

static void test_missing_exp_is_refused(void **state)
{
    (void)state;
    const char *p = "{" CLAIMS ",\"iat\":1700000000}";
    assert_int_equal(verify(forge(HS256, p, key)), PB_TOKEN_ERR_CLAIMS);
}

static void test_fractional_exp_is_refused(void **state)
{
    (void)state;
    const char *p = "{" CLAIMS ",\"iat\":1700000000,\"exp\":1700000900.5}";
    assert_int_equal(verify(forge(HS256, p, key)), PB_TOKEN_ERR_CLAIMS);
}

/* ---- access tokens: identity claims ---- */

static void test_missing_sub_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge(HS256, payload("\"jti\":\"" JTI "\""), key)),
                     PB_TOKEN_ERR_CLAIMS);
}

static void test_missing_jti_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge(HS256, payload("\"sub\":\"" SUB "\""), key)),
                     PB_TOKEN_ERR_CLAIMS);
}

static void test_non_uuid_sub_is_refused(void **state)
{
    (void)state;
    const char *claims = "\"sub\":\"alice\",\"jti\":\"" JTI "\"";
    assert_int_equal(verify(forge(HS256, payload(claims), key)), PB_TOKEN_ERR_CLAIMS);
}

static void test_upper_case_uuid_sub_is_refused(void **state)
{
    (void)state;
    const char *claims = "\"sub\":\"0B5F4C1E-8D2A-4F3B-9C6D-7E8F9A0B1C2D\",\"jti\":\"" JTI "\"";
    assert_int_equal(verify(forge(HS256, payload(claims), key)), PB_TOKEN_ERR_CLAIMS);
}

static void test_non_uuid_team_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify(forge(HS256, payload(CLAIMS ",\"team\":\"\""), key)),
                     PB_TOKEN_ERR_CLAIMS);
}

/* ---- access tokens: shape ---- */

static void test_oversize_token_is_refused(void **state)
{
    (void)state;
    char pad[PB_TOKEN_MAX];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char claims[PB_TOKEN_MAX + 128];
    snprintf(claims, sizeof claims, CLAIMS ",\"pad\":\"%s\"", pad);
    assert_int_equal(verify(forge(HS256, payload(claims), key)), PB_TOKEN_ERR_TOO_LONG);
}

static void test_two_parts_are_malformed(void **state)
{
    (void)state;
    char *t = forge(HS256, payload(CLAIMS), key);
    *strrchr(t, '.') = '\0';
    assert_int_equal(verify(t), PB_TOKEN_ERR_MALFORMED);
}

static void test_four_parts_are_malformed(void **state)
{
    (void)state;
    char t[8192];
    snprintf(t, sizeof t, "%s.AAAA", forge(HS256, payload(CLAIMS), key));
    assert_int_equal(verify(t), PB_TOKEN_ERR_MALFORMED);
}

static void test_padded_base64_is_malformed(void **state)
{
    (void)state; /* RFC 7515 §2: padding characters are omitted */
    char t[8192];
    char *f = forge(HS256, "{\"sub\":1}", key);
    const char *dot = strchr(f, '.');
    snprintf(t, sizeof t, "%.*s=%s", (int)(dot - f), f, dot);
    assert_int_equal(verify(t), PB_TOKEN_ERR_MALFORMED);
}

static void test_embedded_nul_is_malformed(void **state)
{
    (void)state;
    char *t = forge(HS256, payload(CLAIMS), key);
    size_t n = strlen(t);
    t[5] = '\0';
    pb_token_claims out;
    assert_int_equal(pb_token_verify(key, sizeof key, t, n, NOW, 0, &out, NULL, 0),
                     PB_TOKEN_ERR_MALFORMED);
}

/* ---- signing key files ---- */

static char *temp_dir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/pbtokXXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void write_file(const char *path, size_t n, mode_t mode)
{
    unsigned char bytes[1024];
    memset(bytes, 'k', sizeof bytes);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file_readable_by_others_is_refused(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    unsigned char k[PB_TOKEN_KEY_MAX];
    size_t klen = sizeof k;
    snprintf(path, sizeof path, "%s/key", temp_dir());
    write_file(path, 64, 0644);
    assert_int_equal(pb_token_key_load(path, k, &klen, err, sizeof err), -1);
    assert_non_null(strstr(err, "0644"));
}

static void test_short_key_file_is_refused(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    unsigned char k[PB_TOKEN_KEY_MAX];
    size_t klen = sizeof k;
    snprintf(path, sizeof path, "%s/key", temp_dir());
    write_file(path, PB_TOKEN_KEY_MIN - 1, 0600);
    assert_int_equal(pb_token_key_load(path, k, &klen, err, sizeof err), -1);
    assert_non_null(strstr(err, "31 bytes"));
}

static void test_long_key_file_is_refused(void **state)
{
    (void)state;
    char path[128];
    unsigned char k[PB_TOKEN_KEY_MAX];
    size_t klen = sizeof k;
    snprintf(path, sizeof path, "%s/key", temp_dir());
    write_file(path, PB_TOKEN_KEY_MAX + 1, 0600);
    assert_int_equal(pb_token_key_load(path, k, &klen, NULL, 0), -1);
}

static void test_created_key_is_private_and_loads(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    unsigned char k[PB_TOKEN_KEY_MAX];
    size_t klen = sizeof k;
    struct stat st;
    snprintf(path, sizeof path, "%s/key", temp_dir());
    assert_int_equal(pb_token_key_create(path, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(pb_token_key_load(path, k, &klen, err, sizeof err), 0);
    assert_int_equal(klen, PB_TOKEN_KEY_NEW);
}

static void test_create_refuses_to_overwrite(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    unsigned char before[64], after[64];
    size_t blen = sizeof before, alen = sizeof after;
    snprintf(path, sizeof path, "%s/key", temp_dir());
    assert_int_equal(pb_token_key_create(path, err, sizeof err), 0);
    assert_int_equal(pb_token_key_load(path, before, &blen, err, sizeof err), 0);
    assert_int_equal(pb_token_key_create(path, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(pb_token_key_load(path, after, &alen, err, sizeof err), 0);
    assert_memory_equal(before, after, sizeof before);
}

/* ---- refresh tokens ---- */

static void test_refresh_token_is_43_base64url_chars(void **state)
{
    (void)state;
    char t[PB_TOKEN_REFRESH_LEN + 1];
    unsigned char h[32];
    assert_int_equal(pb_token_refresh_new(t, h), 0);
    assert_int_equal(strlen(t), 43);
    assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43);
}

static void test_refresh_tokens_differ(void **state)
{
    (void)state;
    char a[PB_TOKEN_REFRESH_LEN + 1], b[PB_TOKEN_REFRESH_LEN + 1];
    unsigned char ha[32], hb[32];
    assert_int_equal(pb_token_refresh_new(a, ha), 0);
    assert_int_equal(pb_token_refresh_new(b, hb), 0);
    assert_string_not_equal(a, b);
    assert_memory_not_equal(ha, hb, 32);
}

static void test_refresh_hash_matches_the_stored_one(void **state)
{
    (void)state;
    char t[PB_TOKEN_REFRESH_LEN + 1];
    unsigned char stored[32], presented[32];
    assert_int_equal(pb_token_refresh_new(t, stored), 0);
    assert_int_equal(pb_token_refresh_hash(t, strlen(t), presented), 0);
    assert_memory_equal(stored, presented, 32);
}

static void test_refresh_hash_is_plain_sha256(void **state)
{
    (void)state; /* the database may compare against hashes made elsewhere */
    const char *t = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    unsigned char h[32], want[32];
    crypto_hash_sha256(want, (const unsigned char *)t, 43);
    assert_int_equal(pb_token_refresh_hash(t, 43, h), 0);
    assert_memory_equal(h, want, 32);
}

static void test_refresh_hash_refuses_wrong_length(void **state)
{
    (void)state;
    unsigned char h[32];
    const char *t = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(pb_token_refresh_hash(t, 42, h), -1);
    assert_int_equal(pb_token_refresh_hash(t, 44, h), -1);
}

static void test_refresh_hash_refuses_bad_characters(void **state)
{
    (void)state;
    unsigned char h[32];
    assert_int_equal(pb_token_refresh_hash("AAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAAA", 43, h),
                     -1);
    /* 43 characters carry 258 bits; the 2 spare bits must be zero */
    assert_int_equal(pb_token_refresh_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", 43, h),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_claim),
        cmocka_unit_test(test_optional_claims_stay_empty),
        cmocka_unit_test(test_role_level_travels_in_lvl),
        cmocka_unit_test(test_lvl_outside_0_to_100_or_not_an_integer_is_refused),
        cmocka_unit_test(test_issue_makes_a_fresh_jti_when_empty),
        cmocka_unit_test(test_issue_refuses_a_non_uuid_sub),
        cmocka_unit_test(test_issue_refuses_a_short_key),
        cmocka_unit_test(test_tampered_payload_is_refused),
        cmocka_unit_test(test_tampered_signature_is_refused),
        cmocka_unit_test(test_wrong_key_is_refused),
        cmocka_unit_test(test_hand_made_token_verifies),
        cmocka_unit_test(test_alg_none_is_refused),
        cmocka_unit_test(test_alg_none_with_a_signature_is_refused),
        cmocka_unit_test(test_alg_hs512_is_refused),
        cmocka_unit_test(test_alg_rs256_is_refused),
        cmocka_unit_test(test_alg_in_lower_case_is_refused),
        cmocka_unit_test(test_missing_alg_is_refused),
        cmocka_unit_test(test_crit_header_is_refused),
        cmocka_unit_test(test_duplicate_alg_is_malformed),
        cmocka_unit_test(test_expired_is_refused),
        cmocka_unit_test(test_iat_in_the_future_is_refused),
        cmocka_unit_test(test_leeway_accepts_a_recently_expired_token),
        cmocka_unit_test(test_leeway_accepts_an_iat_slightly_ahead),
        cmocka_unit_test(test_missing_exp_is_refused),
        cmocka_unit_test(test_fractional_exp_is_refused),
        cmocka_unit_test(test_missing_sub_is_refused),
        cmocka_unit_test(test_missing_jti_is_refused),
        cmocka_unit_test(test_non_uuid_sub_is_refused),
        cmocka_unit_test(test_upper_case_uuid_sub_is_refused),
        cmocka_unit_test(test_non_uuid_team_is_refused),
        cmocka_unit_test(test_oversize_token_is_refused),
        cmocka_unit_test(test_two_parts_are_malformed),
        cmocka_unit_test(test_four_parts_are_malformed),
        cmocka_unit_test(test_padded_base64_is_malformed),
        cmocka_unit_test(test_embedded_nul_is_malformed),
        cmocka_unit_test(test_key_file_readable_by_others_is_refused),
        cmocka_unit_test(test_short_key_file_is_refused),
        cmocka_unit_test(test_long_key_file_is_refused),
        cmocka_unit_test(test_created_key_is_private_and_loads),
        cmocka_unit_test(test_create_refuses_to_overwrite),
        cmocka_unit_test(test_refresh_token_is_43_base64url_chars),
        cmocka_unit_test(test_refresh_tokens_differ),
        cmocka_unit_test(test_refresh_hash_matches_the_stored_one),
        cmocka_unit_test(test_refresh_hash_is_plain_sha256),
        cmocka_unit_test(test_refresh_hash_refuses_wrong_length),
        cmocka_unit_test(test_refresh_hash_refuses_bad_characters),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
