/* test_totp.c - Base32, HOTP/TOTP against the RFC vectors, verification
 * windows, otpauth URIs and recovery codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "totp.h"

/* RFC 6238 Appendix B seeds: the ASCII digits repeated to the hash size. */
static const char key_sha1[] = "12345678901234567890";
static const char key_sha256[] = "12345678901234567890123456789012";
static const char key_sha512[] = "1234567890123456789012345678901234567890123456789012345678901234";

static const uint64_t rfc6238_times[6] = {59,         1111111109, 1111111111,
                                          1234567890, 2000000000, 20000000000ULL};

static void check_rfc6238(const char *key, int algo, const char *const want[6])
{
    for (int i = 0; i < 6; i++) {
        char out[9];
        assert_int_equal(
            pb_totp_code((const unsigned char *)key, strlen(key), algo, rfc6238_times[i], 8, out),
            0);
        assert_string_equal(out, want[i]);
    }
}

static void test_totp_rfc6238_sha1(void **state)
{
    (void)state;
    static const char *const want[6] = {"94287082", "07081804", "14050471",
                                        "89005924", "69279037", "65353130"};
    check_rfc6238(key_sha1, PB_TOTP_SHA1, want);
}

static void test_totp_rfc6238_sha256(void **state)
{
    (void)state;
    static const char *const want[6] = {"46119246", "68084774", "67062674",
                                        "91819424", "90698825", "77737706"};
    check_rfc6238(key_sha256, PB_TOTP_SHA256, want);
}

static void test_totp_rfc6238_sha512(void **state)
{
    (void)state;
    static const char *const want[6] = {"90693936", "25091201", "99943326",
                                        "93441116", "38618901", "47863826"};
    check_rfc6238(key_sha512, PB_TOTP_SHA512, want);
}

static void test_hotp_rfc4226_appendix_d(void **state)
{
    (void)state;
    static const char *const want[10] = {"755224", "287082", "359152", "969429", "338314",
                                         "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t c = 0; c < 10; c++) {
        char out[9];
        assert_int_equal(pb_hotp_code((const unsigned char *)key_sha1, 20, PB_TOTP_SHA1, c, 6, out),
                         0);
        assert_string_equal(out, want[c]);
    }
}

static void test_code_rejects_bad_arguments(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    char out[9];
    assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, 59, 7, out), -1);
    assert_int_equal(pb_totp_code(k, 20, 3, 59, 6, out), -1);
    assert_int_equal(pb_totp_code(k, 0, PB_TOTP_SHA1, 59, 6, out), -1);
}

/* RFC 4648 §10, with the padding our encoder leaves off. */
static const struct {
    const char *raw, *b32;
} rfc4648[] = {
    {"", ""},
    {"f", "MY"},
    {"fo", "MZXQ"},
    {"foo", "MZXW6"},
    {"foob", "MZXW6YQ"},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI"},
};

static void test_base32_encode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char out[32];
        const char *raw = rfc4648[i].raw;
        assert_int_equal(pb_base32_encode((const unsigned char *)raw, strlen(raw), out, sizeof out),
                         0);
        assert_string_equal(out, rfc4648[i].b32);
    }
}

static void test_base32_decode_padded_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const padded[] = {
        "", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
    for (size_t i = 0; i < sizeof padded / sizeof padded[0]; i++) {
        unsigned char out[16];
        size_t n = 99;
        assert_int_equal(pb_base32_decode(padded[i], out, sizeof out, &n), 0);
        assert_int_equal(n, strlen(rfc4648[i].raw));
        assert_memory_equal(out, rfc4648[i].raw, n);
    }
}

static void test_base32_decode_accepts_lower_case_and_spaces(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_int_equal(pb_base32_decode(" mzxw 6ytb oi== ", out, sizeof out, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
}

static void test_base32_round_trips_every_length(void **state)
{
    (void)state;
    unsigned char raw[64], back[64];
    char text[128];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof raw; n++) {
        size_t m = 0;
        assert_int_equal(pb_base32_encode(raw, n, text, sizeof text), 0);
        assert_int_equal(pb_base32_decode(text, back, sizeof back, &m), 0);
        assert_int_equal(m, n);
        assert_memory_equal(back, raw, n);
    }
}

static void test_base32_decode_rejects_characters_outside_the_alphabet(void **state)
{
    (void)state;
    static const char *const bad[] = {"MZXW1YTB", "MZXW0YTB",  "MZXW8YTB",
                                      "MZ-W6YTB", "MZXW6YT\n", "MZ\xc3\x89W6YTB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char out[16];
        size_t n = 0;
        assert_int_equal(pb_base32_decode(bad[i], out, sizeof out, &n), -1);
    }
}

static void test_base32_decode_rejects_data_after_padding(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_int_equal(pb_base32_decode("MY======MY", out, sizeof out, &n), -1);
}

static void test_base32_decode_rejects_truncated_or_non_canonical_tails(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_int_equal(pb_base32_decode("MZXW6YTBO", out, sizeof out, &n), -1); /* 1 extra char */
    assert_int_equal(pb_base32_decode("MZX", out, sizeof out, &n), -1);       /* 3 chars */
    assert_int_equal(pb_base32_decode("MZ", out, sizeof out, &n), -1); /* MY with bit 2 set */
}

static void test_base32_encode_needs_room_for_the_nul(void **state)
{
    (void)state;
    char out[11];
    assert_int_equal(pb_base32_encode((const unsigned char *)"foobar", 6, out, 10), -1);
    assert_int_equal(pb_base32_encode((const unsigned char *)"foobar", 6, out, 11), 0);
    assert_string_equal(out, "MZXW6YTBOI");
}

static void test_base32_decode_refuses_a_small_buffer(void **state)
{
    (void)state;
    unsigned char out[6];
    size_t n = 42;
    assert_int_equal(pb_base32_decode("MZXW6YTBOI", out, 5, &n), -1);
    assert_int_equal(n, 42);
    assert_int_equal(pb_base32_decode("MZXW6YTBOI", out, 6, &n), 0);
    assert_int_equal(n, 6);
}

/* 1234567890 lies in step 41152263 (1234567890 / 30 = 41152263.0). */
static void test_verify_accepts_one_step_either_side(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    const uint64_t t = 1234567890;
    for (int d = -1; d <= 1; d++) {
        char code[9];
        uint64_t step = 0;
        assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, t + (uint64_t)(d * 30), 6, code), 0);
        assert_int_equal(pb_totp_verify(k, 20, code, t, 1, &step), 0);
        assert_int_equal(step, t / 30 + (uint64_t)d);
    }
}

static void test_verify_refuses_two_steps_away(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    const uint64_t t = 1234567890;
    char early[9], late[9];
    uint64_t step = 0;
    assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, t - 60, 6, early), 0);
    assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, t + 60, 6, late), 0);
    assert_int_equal(pb_totp_verify(k, 20, early, t, 1, &step), -1);
    assert_int_equal(pb_totp_verify(k, 20, late, t, 1, &step), -1);
}

static void test_verify_refuses_a_wrong_code(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    char code[9];
    assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, 1234567890, 6, code), 0);
    code[5] = code[5] == '9' ? '0' : (char)(code[5] + 1);
    assert_int_equal(pb_totp_verify(k, 20, code, 1234567890, 1, NULL), -1);
}

static void test_verify_accepts_eight_digits(void **state)
{
    (void)state;
    uint64_t step = 0;
    assert_int_equal(
        pb_totp_verify((const unsigned char *)key_sha1, 20, "89005924", 1234567890, 0, &step), 0);
    assert_int_equal(step, 41152263);
}

static void test_verify_refuses_malformed_codes(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    static const char *const bad[] = {"",       "12345",   "1234567", "123456789",
                                      "12345a", " 123456", "005924 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pb_totp_verify(k, 20, bad[i], 1234567890, 1, NULL), -1);
    assert_int_equal(pb_totp_verify(k, 20, "005924", 1234567890, -1, NULL), -1);
    assert_int_equal(pb_totp_verify(k, 20, "005924", 1234567890, PB_TOTP_WINDOW_MAX + 1, NULL), -1);
}

static void test_verify_near_the_epoch_does_not_wrap(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)key_sha1;
    char code[9];
    uint64_t step = 99;
    assert_int_equal(pb_totp_code(k, 20, PB_TOTP_SHA1, 0, 6, code), 0);
    assert_int_equal(pb_totp_verify(k, 20, code, 10, 2, &step), 0);
    assert_int_equal(step, 0);
}

static void test_secret_new_fills_the_key(void **state)
{
    (void)state;
    unsigned char a[PB_TOTP_SECRET_LEN], b[PB_TOTP_SECRET_LEN];
    assert_int_equal(pb_totp_secret_new(a, sizeof a), 0);
    assert_int_equal(pb_totp_secret_new(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(pb_totp_secret_new(a, 0), -1);
}

static void test_uri_plain(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_totp_uri(&b, "Plugboard", "alice", "JBSWY3DPEHPK3PXP"), 0);
    assert_string_equal(pb_buf_cstr(&b), "otpauth://totp/Plugboard:alice?secret=JBSWY3DPEHPK3PXP"
                                         "&issuer=Plugboard&algorithm=SHA1&digits=6&period=30");
    pb_buf_free(&b);
}

static void test_uri_percent_encodes_label_and_issuer(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    assert_int_equal(pb_totp_uri(&b, "ACME & Co", "al+ice@example.com/\xc3\xa9?#", "MZXW6"), 0);
    assert_string_equal(pb_buf_cstr(&b), "otpauth://totp/ACME%20%26%20Co:al%2Bice%40example.com"
                                         "%2F%C3%A9%3F%23?secret=MZXW6&issuer=ACME%20%26%20Co"
                                         "&algorithm=SHA1&digits=6&period=30");
    pb_buf_free(&b);
}

static void test_uri_refuses_colons_and_leaves_out_unchanged(void **state)
{
    (void)state;
    pb_buf b = PB_BUF_INIT;
    pb_buf_puts(&b, "keep");
    assert_int_equal(pb_totp_uri(&b, "A:B", "alice", "MZXW6"), -1);
    assert_int_equal(pb_totp_uri(&b, "Plugboard", "al:ice", "MZXW6"), -1);
    assert_int_equal(pb_totp_uri(&b, "Plugboard", "", "MZXW6"), -1);
    assert_string_equal(pb_buf_cstr(&b), "keep");
    pb_buf_free(&b);
}

static void test_recovery_codes_have_the_format(void **state)
{
    (void)state;
    char codes[10][PB_RECOVERY_CODE_SIZE];
    assert_int_equal(pb_recovery_codes(codes, 10), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(strlen(codes[i]), 11);
        assert_int_equal(codes[i][5], '-');
        for (int j = 0; j < 11; j++)
            if (j != 5)
                assert_non_null(strchr("23456789abcdefghjkmnpqrstuvwxyz", codes[i][j]));
    }
    assert_string_not_equal(codes[0], codes[1]);
}

static void test_recovery_normalise_drops_case_hyphens_and_spaces(void **state)
{
    (void)state;
    char out[PB_RECOVERY_CODE_SIZE];
    pb_recovery_normalise(" ABcDe - fGHjk ", out, sizeof out);
    assert_string_equal(out, "abcdefghjk");
}

static void test_recovery_normalise_truncates_and_terminates(void **state)
{
    (void)state;
    char out[4];
    pb_recovery_normalise("abcdef", out, sizeof out);
    assert_string_equal(out, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totp_rfc6238_sha1),
        cmocka_unit_test(test_totp_rfc6238_sha256),
        cmocka_unit_test(test_totp_rfc6238_sha512),
        cmocka_unit_test(test_hotp_rfc4226_appendix_d),
        cmocka_unit_test(test_code_rejects_bad_arguments),
        cmocka_unit_test(test_base32_encode_rfc4648_vectors),
        cmocka_unit_test(test_base32_decode_padded_rfc4648_vectors),
        cmocka_unit_test(test_base32_decode_accepts_lower_case_and_spaces),
        cmocka_unit_test(test_base32_round_trips_every_length),
        cmocka_unit_test(test_base32_decode_rejects_characters_outside_the_alphabet),
        cmocka_unit_test(test_base32_decode_rejects_data_after_padding),
        cmocka_unit_test(test_base32_decode_rejects_truncated_or_non_canonical_tails),
        cmocka_unit_test(test_base32_encode_needs_room_for_the_nul),
        cmocka_unit_test(test_base32_decode_refuses_a_small_buffer),
        cmocka_unit_test(test_verify_accepts_one_step_either_side),
        cmocka_unit_test(test_verify_refuses_two_steps_away),
        cmocka_unit_test(test_verify_refuses_a_wrong_code),
        cmocka_unit_test(test_verify_accepts_eight_digits),
        cmocka_unit_test(test_verify_refuses_malformed_codes),
        cmocka_unit_test(test_verify_near_the_epoch_does_not_wrap),
        cmocka_unit_test(test_secret_new_fills_the_key),
        cmocka_unit_test(test_uri_plain),
        cmocka_unit_test(test_uri_percent_encodes_label_and_issuer),
        cmocka_unit_test(test_uri_refuses_colons_and_leaves_out_unchanged),
        cmocka_unit_test(test_recovery_codes_have_the_format),
        cmocka_unit_test(test_recovery_normalise_drops_case_hyphens_and_spaces),
        cmocka_unit_test(test_recovery_normalise_truncates_and_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
