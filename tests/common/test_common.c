/**
 * @file test_common.c
 * @brief eir_common: clock arithmetic and deadlines (eir_clock.h), random bytes, seeds and ids
 *        (eir_random.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "eir_clock.h"
#include "eir_random.h"

static void test_timespec_add(void **state)
{
    (void)state;
    struct timespec t = eir_timespec_add((struct timespec){10, 900000000L}, 0.25);
    assert_int_equal(t.tv_sec, 11);
    assert_int_equal(t.tv_nsec, 150000000L);
    t = eir_timespec_add((struct timespec){10, 100000000L}, -0.25);
    assert_int_equal(t.tv_sec, 9);
    assert_int_equal(t.tv_nsec, 850000000L);
    t = eir_timespec_add((struct timespec){0, 0}, 3.0);
    assert_int_equal(t.tv_sec, 3);
    assert_int_equal(t.tv_nsec, 0);
    /* a fraction that rounds to a whole second stays normalised */
    t = eir_timespec_add((struct timespec){0, 999999999L}, 0.9999999999);
    assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
    assert_int_equal(t.tv_sec, 1);
}

static void test_clocks_and_deadline(void **state)
{
    (void)state;
    double a = eir_clock_mono();
    eir_clock_sleep(0.02);
    double b = eir_clock_mono();
    assert_true(b - a >= 0.02);
    eir_clock_sleep(-1); /* returns at once */
    assert_true(eir_clock_epoch_ms() > 1700000000000LL);
    assert_true(eir_clock_cpu() > 0);

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec d = eir_clock_deadline(CLOCK_MONOTONIC, 1.5);
    double gap = (double)(d.tv_sec - now.tv_sec) + 1e-9 * (double)(d.tv_nsec - now.tv_nsec);
    assert_true(gap >= 1.5 && gap < 1.6);
    d = eir_clock_deadline(CLOCK_MONOTONIC, -5); /* a past deadline is now */
    gap = (double)(d.tv_sec - now.tv_sec) + 1e-9 * (double)(d.tv_nsec - now.tv_nsec);
    assert_true(gap >= 0 && gap < 0.1);
}

static void test_random_id(void **state)
{
    (void)state;
    char a[32], b[32];
    assert_int_equal(eir_random_id(a, sizeof a, "r_", 12), 0);
    assert_int_equal(eir_random_id(b, sizeof b, "r_", 12), 0);
    assert_int_equal(strlen(a), 26);
    assert_memory_equal(a, "r_", 2);
    for (const char *p = a + 2; *p; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    assert_string_not_equal(a, b);

    char small[26]; /* one byte short of "m_" + 24 + NUL */
    memset(small, 'x', sizeof small);
    errno = 0;
    assert_int_equal(eir_random_id(small, sizeof small, "m_", 12), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(small[0], 'x'); /* nothing written */
    assert_int_equal(eir_random_id(a, sizeof a, "m_", 0), -1);
}

static void test_random_seed_and_bytes(void **state)
{
    (void)state;
    int high_bits_seen = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t s;
        assert_int_equal(eir_random_seed63(&s), 0);
        assert_true(s <= (uint64_t)INT64_MAX);
        if (s >> 62) high_bits_seen++;
    }
    assert_true(high_bits_seen > 0); /* 64 draws: P(no bit 62) = 2^-64 */
    unsigned char buf[1000] = {0};
    assert_int_equal(eir_random_bytes(buf, sizeof buf), 0);
    int zeros = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        zeros += buf[i] == 0;
    assert_true(zeros < 30); /* about 4 expected */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timespec_add),
        cmocka_unit_test(test_clocks_and_deadline),
        cmocka_unit_test(test_random_id),
        cmocka_unit_test(test_random_seed_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
