/**
 * @file eir_test_files.h
 * @brief Files and child processes for the tests that write files or run the built binaries
 *        (tests/schema, tests/cli): a temporary directory per test executable, paths in it,
 *        whole-file reads and writes, and waiting for a child with a time limit. Header-only;
 *        the helpers that can fail fail the running cmocka test (or return -1 where a group
 *        setup or teardown needs a status).
 */
#ifndef EIR_TEST_FILES_H
#define EIR_TEST_FILES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eir_time_scale.h"

/** The temporary directory of this test executable: a mkdtemp template until et_tmpdir_make()
 *  (or the group setup et_tmpdir_setup()) has created it. One per translation unit. */
static char et_tmpdir[] __attribute__((unused)) = "/tmp/eir_test_XXXXXX";

/** Create et_tmpdir. @return 0, or -1 when it cannot be created. */
static inline int et_tmpdir_make(void)
{
    return mkdtemp(et_tmpdir) ? 0 : -1;
}

/** Remove et_tmpdir and everything in it (rm -rf). @return 0 or -1. */
static inline int et_tmpdir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", et_tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/** A cmocka group setup that only creates et_tmpdir. */
static inline int et_tmpdir_setup(void **state)
{
    (void)state;
    return et_tmpdir_make();
}

/** A cmocka group teardown that only removes et_tmpdir. */
static inline int et_tmpdir_teardown(void **state)
{
    (void)state;
    return et_tmpdir_remove();
}

/** "<et_tmpdir>/NAME" in one of 16 static buffers used in turn (valid for the next 15 calls). */
static inline const char *et_tmp(const char *name)
{
    static char buf[16][512];
    static int k;
    char *p = buf[k++ % 16];
    snprintf(p, 512, "%s/%s", et_tmpdir, name);
    return p;
}

/** Write @p text to the file @p path (created or truncated); fails the test on error. */
static inline void et_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/**
 * The whole file @p path, malloc'ed and NUL-terminated (its length in *len when @p len is not
 * NULL). @return NULL when it cannot be opened; fails the test when out of memory.
 */
static inline char *et_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/**
 * Wait for child @p pid at most @p timeout_s seconds (scaled by EIRNN_TEST_TIME_SCALE); past
 * that, kill it and fail the test with "<what> did not finish within ... s".
 * @return its exit code, or 128 + the signal that ended it.
 */
static inline int et_wait_child(pid_t pid, double timeout_s, const char *what)
{
    timeout_s = eir_scaled(timeout_s);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        assert_true(r >= 0);
        if (r == pid) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("%s did not finish within %.0f s", what, timeout_s);
        }
        usleep(2000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif /* EIR_TEST_FILES_H */
