/**
 * @file test_sha256.c
 * @brief SHA-256 against the FIPS 180-4 example vectors (NIST CSRC "Examples with
 *        Intermediate Values", SHA-256), padding-boundary lengths and chunked streaming.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* engine/src is private to the engine library; the header is included by path. */
#include "eir_sha256.h"

/** Hex digest of @p len bytes fed in chunks of @p chunk bytes (0 = all at once). */
static void hex_chunked(const void *data, size_t len, size_t chunk, char hex[65])
{
    eir_sha256_ctx c;
    uint8_t d[EIR_SHA256_DIGEST_LEN];
    const uint8_t *p = data;
    eir_sha256_init(&c);
    if (chunk == 0) {
        eir_sha256_update(&c, p, len);
    } else {
        for (size_t off = 0; off < len; off += chunk)
            eir_sha256_update(&c, p + off, len - off < chunk ? len - off : chunk);
    }
    eir_sha256_final(&c, d);
    eir_sha256_hex(d, hex);
}

/** FIPS 180-4 one-block message "abc". */
static void test_abc(void **state)
{
    (void)state;
    char hex[65];
    eir_sha256_hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_chunked("abc", 3, 1, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/** The empty message (also with a NULL pointer and zero length). */
static void test_empty(void **state)
{
    (void)state;
    char hex[65];
    eir_sha256_hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    eir_sha256_hex_of(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/** FIPS 180-4 two-block 448-bit message, whole and in every chunk size 1..64. */
static void test_448bit(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const char *want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    char hex[65];
    assert_int_equal(strlen(m), 56);
    eir_sha256_hex_of(m, strlen(m), hex);
    assert_string_equal(hex, want);
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        hex_chunked(m, strlen(m), chunk, hex);
        assert_string_equal(hex, want);
    }
}

/** The 896-bit message of FIPS 180-2's SHA-512 examples, hashed with SHA-256. */
static void test_896bit(void **state)
{
    (void)state;
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmn"
                    "opqklmnopqrlmnopqrsmnopqrstnopqrstu";
    char hex[65];
    eir_sha256_hex_of(m, strlen(m), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/** One million 'a': streamed in 1000-byte pieces, in odd 997-byte pieces, and at once. */
static void test_million_a(void **state)
{
    (void)state;
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    size_t n = 1000000;
    char *buf = malloc(n);
    assert_non_null(buf);
    memset(buf, 'a', n);
    char hex[65];
    hex_chunked(buf, n, 0, hex);
    assert_string_equal(hex, want);
    hex_chunked(buf, n, 1000, hex);
    assert_string_equal(hex, want);
    hex_chunked(buf, n, 997, hex);
    assert_string_equal(hex, want);
    free(buf);
}

/**
 * Lengths around the padding boundaries (55/56 bytes: the length field fits or spills into a
 * second block; 64: a whole block). Expected values from Python's hashlib.
 */
static void test_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
    };
    uint8_t m[128];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)((i * 7 + 3) & 0xff);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char hex[65];
        hex_chunked(m, cases[k].len, 0, hex);
        assert_string_equal(hex, cases[k].hex);
        hex_chunked(m, cases[k].len, 7, hex);
        assert_string_equal(hex, cases[k].hex);
    }
}

/** A copied context hashes a common prefix once and finishes two messages. */
static void test_context_copy(void **state)
{
    (void)state;
    eir_sha256_ctx a, b;
    uint8_t d[EIR_SHA256_DIGEST_LEN];
    char hex[65];
    eir_sha256_init(&a);
    eir_sha256_update(&a, "ab", 2);
    b = a;
    eir_sha256_update(&a, "c", 1);
    eir_sha256_final(&a, d);
    eir_sha256_hex(d, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    eir_sha256_final(&b, d);
    eir_sha256_hex(d, hex);
    char want[65];
    eir_sha256_hex_of("ab", 2, want);
    assert_string_equal(hex, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abc),          cmocka_unit_test(test_empty),
        cmocka_unit_test(test_448bit),       cmocka_unit_test(test_896bit),
        cmocka_unit_test(test_million_a),    cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_context_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
