/**
 * @file test_store_finish.c
 * @brief The store: finishing a run with chunked results, large results, batched finishes.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eir_sha256.h"
#include "eir_time_scale.h"
#include "store.h"
#include "store_fixture.h"
#include "store_sqlite.h"

/* ------------------------------------------------------------------------------------------ */
/* Finishing with chunked results                                                             */
/* ------------------------------------------------------------------------------------------ */

static void sha_hex(const void *p, size_t n, char hex[65])
{
    eir_sha256_hex_of(p, n, hex);
}

struct bad_seen {
    int n;
    char run[STORE_ID_MAX];
    char var[STORE_VAR_MAX];
};

static void on_bad(void *ctx, const char *run_id, const char *var, const char *why)
{
    struct bad_seen *b = ctx;
    assert_non_null(why);
    b->n++;
    snprintf(b->run, sizeof b->run, "%s", run_id);
    snprintf(b->var, sizeof b->var, "%s", var);
}

static int count_result(void *ctx, const store_result_info *info)
{
    int *n = ctx;
    assert_int_equal(info->chunk_count, info->total_bytes ? 1 + (info->total_bytes - 1) / 1000 : 0);
    (*n)++;
    return 0;
}

/* V of test_finish_chunked(): float64 [3, 7, 50] = 8400 bytes = 9 chunks of 1000 */
enum { NV = 3 * 7 * 50 };

/** test_finish_chunked(), step 1: a wrong checksum and every misuse roll the finish back. */
static void finish_refusals(struct fx *f, const char *run, const double *v, const float r[10])
{
    /* a wrong checksum rolls the whole finish back */
    int attempt = attempt_of(f, run); /* read before the finish: reads are refused during it */
    OK(store_finish_begin(f->c, run, attempt));
    assert_int_equal(store_finish_begin(f->c, run, attempt), STORE_CONFLICT);
    store_run tmp;
    assert_int_equal(store_run_get(f->c, run, &tmp), STORE_INVALID); /* finish in progress */
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    OK(store_result_append(f->c, r, 10 * sizeof *r));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "V", "float64", 3, (int64_t[]){3, 7, 50}));
    OK(store_result_append(f->c, v, NV * sizeof *v));
    assert_int_equal(store_result_end(f->c, HASH_A), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "checksum"));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "rolled back"));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);

    /* misuse rolls back too: too many bytes, bad names, an unended result, a non-final status */
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    assert_int_equal(store_result_append(f->c, v, 41), STORE_INVALID);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    assert_int_equal(store_result_begin(f->c, "bad name", "float32", 0, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    assert_int_equal(store_result_begin(f->c, "x", "complex64", 0, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "x", "float32", 1, (int64_t[]){2}));
    OK(store_result_append(f->c, r, 4));
    assert_int_equal(store_result_end(f->c, NULL), STORE_INVALID); /* short */
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "x", "float32", 1, (int64_t[]){2}));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_RUNNING, NULL, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "x", "float32", 0, NULL));
    OK(store_result_append(f->c, r, 4));
    OK(store_result_end(f->c, NULL));
    assert_int_equal(store_result_begin(f->c, "x", "float32", 0, NULL), STORE_INVALID); /* twice */
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    store_finish_abort(f->c);
    store_finish_abort(f->c);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
}

/** test_finish_chunked(), step 3: V read back chunk by chunk and by byte ranges. */
static void read_back(struct fx *f, const char *run, const double *v, const store_result_info *info)
{
    /* stream it back chunk by chunk */
    unsigned char *back = malloc(info->total_bytes);
    unsigned char *chunk = malloc(info->chunk_size);
    size_t off = 0, len;
    for (int64_t i = 0; i < info->chunk_count; i++) {
        OK(store_result_read_chunk(f->c, run, "V", i, chunk, info->chunk_size, &len));
        assert_int_equal(len, i < 8 ? 1000 : 400);
        memcpy(back + off, chunk, len);
        off += len;
    }
    assert_int_equal(off, info->total_bytes);
    assert_memory_equal(back, v, info->total_bytes);
    char back_hex[65];
    sha_hex(back, off, back_hex);
    assert_string_equal(back_hex, info->sha256);
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 9, chunk, 1000, &len),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 0, chunk, 10, &len), STORE_INVALID);

    /* byte ranges: anywhere, across chunk boundaries, the whole array in one call */
    memset(back, 0, info->total_bytes);
    OK(store_result_read(f->c, run, "V", 0, back, info->total_bytes));
    assert_memory_equal(back, v, info->total_bytes);
    for (uint64_t o = 0; o < info->total_bytes; o += 137) {
        size_t n = info->total_bytes - o < 2333 ? (size_t)(info->total_bytes - o) : 2333;
        memset(back, 0, n);
        OK(store_result_read(f->c, run, "V", o, back, n));
        assert_memory_equal(back, (const unsigned char *)v + o, n);
    }
    /* the last byte of chunk 0 and the first of chunk 1 */
    OK(store_result_read(f->c, run, "V", 999, back, 2));
    assert_memory_equal(back, (const unsigned char *)v + 999, 2);
    OK(store_result_read(f->c, run, "V", info->total_bytes, back, 0)); /* empty, at the end */
    assert_int_equal(store_result_read(f->c, run, "V", info->total_bytes - 1, back, 2),
                     STORE_INVALID);
    assert_int_equal(store_result_read(f->c, run, "V", UINT64_MAX, back, 1), STORE_INVALID);
    assert_int_equal(store_result_read(f->c, run, "z", 0, back, 1), STORE_NOT_FOUND);
    assert_int_equal(store_result_read(f->c, "r_000000000000000000000000", "V", 0, back, 1),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read(NULL, run, "V", 0, back, 1), STORE_ERROR);

    free(back);
    free(chunk);
}

/** test_finish_chunked(), step 4: verify finds the run's @p bytes clean, then a flipped chunk. */
static void verify_flip(struct fx *f, const char *run, uint64_t bytes)
{
    /* verify: clean, then a flipped byte is found */
    store_verify_report rep;
    struct bad_seen bad = {0};
    OK(store_verify(f->c, on_bad, &bad, &rep));
    assert_int_equal(rep.results_checked, 3);
    assert_int_equal(rep.results_bad, 0);
    assert_int_equal(rep.bytes_checked, bytes);
    raw_exec(f,
             "UPDATE result_chunks SET data = zeroblob(1000) WHERE var = 'V' AND chunk_index = 4",
             "UPDATE result_chunks SET data = decode(repeat('00', 1000), 'hex') "
             "WHERE var = 'V' AND idx = 4");
    OK(store_verify(f->c, on_bad, &bad, &rep));
    assert_int_equal(rep.results_bad, 1);
    assert_int_equal(bad.n, 1);
    assert_string_equal(bad.run, run);
    assert_string_equal(bad.var, "V");
}

/** The finish protocol end to end on one run (its steps share the run's state, in order). */
static void test_finish_chunked(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);

    /* not running yet */
    assert_int_equal(store_finish_begin(f->c, run, attempt_of(f, run)), STORE_CONFLICT);
    assert_int_equal(store_finish_begin(f->c, "r_nope", 1), STORE_NOT_FOUND);
    assert_int_equal(store_result_begin(f->c, "V", "float64", 1, (int64_t[]){1}), STORE_INVALID);
    claim(f, got);

    /* V: float64 [3, 7, 50] = 8400 bytes = 9 chunks of 1000 (chunk size of the fixture) */
    double *v = malloc(NV * sizeof *v);
    for (int i = 0; i < NV; i++)
        v[i] = i * 0.25 - 17.0;
    char v_hex[65];
    sha_hex(v, NV * sizeof *v, v_hex);
    float r[10];
    for (int i = 0; i < 10; i++)
        r[i] = (float)i;

    finish_refusals(f, run, v, r);

    /* the real thing: V appended in uneven pieces (1, 999, 1500, 3000 direct, rest) */
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "V", "float64", 3, (int64_t[]){3, 7, 50}));
    const unsigned char *p = (const unsigned char *)v;
    size_t cuts[] = {1, 999, 1500, 3000, NV * sizeof(double) - 5500};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        OK(store_result_append(f->c, p, cuts[i]));
        p += cuts[i];
    }
    OK(store_result_end(f->c, v_hex));
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    OK(store_result_append(f->c, r, sizeof r));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "empty", "float32", 2, (int64_t[]){0, 5}));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{\"engine\":\"1.0.0\"}", NULL));

    store_run rr;
    OK(store_run_get(f->c, run, &rr));
    assert_int_equal(rr.status, STORE_RUN_SUCCEEDED);
    assert_true(rr.finished_at >= rr.started_at);
    assert_string_equal(rr.meta_json, "{\"engine\":\"1.0.0\"}");
    assert_null(rr.error_json);
    store_run_clear(&rr);

    store_result_info info;
    OK(store_result_info_get(f->c, run, "V", &info));
    assert_string_equal(info.var, "V");
    assert_string_equal(info.dtype, "float64");
    assert_int_equal(info.ndim, 3);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 7);
    assert_int_equal(info.shape[2], 50);
    assert_int_equal(info.total_bytes, NV * sizeof(double));
    assert_int_equal(info.chunk_size, 1000);
    assert_int_equal(info.chunk_count, 9);
    assert_string_equal(info.sha256, v_hex);

    read_back(f, run, v, &info);

    OK(store_result_info_get(f->c, run, "empty", &info));
    assert_int_equal(info.total_bytes, 0);
    assert_int_equal(info.chunk_count, 0);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.shape[0], 0);
    assert_int_equal(store_result_info_get(f->c, run, "z", &info), STORE_NOT_FOUND);
    int nres = 0;
    OK(store_result_list(f->c, run, count_result, &nres));
    assert_int_equal(nres, 3); /* V, empty, r */

    /* finishing again is refused: the run is no longer running */
    assert_int_equal(store_finish_begin(f->c, run, attempt_of(f, run)), STORE_CONFLICT);

    verify_flip(f, run, NV * sizeof(double) + sizeof r);

    free(v);
}

/** A result larger than several chunks written with one append (the direct path). */
static void test_finish_large(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    running_run_reopened(f, mid, run, 64 << 10, 0);
    enum { N = (1 << 20) + 123 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 1000) * 0.5f;
    char hex[65];
    sha_hex(x, N * sizeof *x, hex);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "r", "float32", 3, (int64_t[]){1, 1, N}));
    OK(store_result_append(f->c, x, N * sizeof *x));
    OK(store_result_end(f->c, hex));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    store_result_info info;
    OK(store_result_info_get(f->c, run, "r", &info));
    assert_int_equal(info.chunk_count, (N * 4 + (64 << 10) - 1) / (64 << 10));
    assert_string_equal(info.sha256, hex);
    store_verify_report rep;
    OK(store_verify(f->c, NULL, NULL, &rep));
    assert_int_equal(rep.results_bad, 0);
    assert_int_equal(rep.bytes_checked, N * sizeof *x);
    free(x);
}

/* ------------------------------------------------------------------------------------------ */
/* Large finishes in batches                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Staged batches are invisible, removed by abort and by the run's next finish_begin. */
static void test_finish_batched(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    running_run_reopened(f, mid, run, 1000, 3000);
    store_conn *rd = store_connect(f->s); /* a reader on the same thread: reads take no lock */

    static unsigned char data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "V", "uint8", 2, (int64_t[]){200, 100}));
    OK(store_result_append(f->c, data, 10000));
    store_result_info info;
    assert_int_equal(store_result_info_get(rd, run, "V", &info), STORE_NOT_FOUND);
    unsigned char buf[1000];
    size_t len;
    assert_int_equal(store_result_read_chunk(rd, run, "V", 0, buf, sizeof buf, &len),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read(rd, run, "V", 0, buf, 10), STORE_NOT_FOUND); /* staged */
    store_verify_report vr;
    assert_int_equal(store_verify(rd, NULL, NULL, &vr), STORE_OK);
    assert_int_equal(vr.results_checked, 0);
    /* committed batches are rows that a reader beside the store counts */
    assert_int_equal(raw_count_on(f, rd, "SELECT count(*) FROM result_chunks"), 9); /* 3 x 3 */
    store_finish_abort(f->c);
    assert_int_equal(raw_count_on(f, rd, "SELECT count(*) FROM result_chunks"), 0);
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);

    /* leftovers of a finish that could not clean up are removed by the next finish_begin */
    raw_exec_on(
        f, rd,
        "INSERT INTO results (run_id, var, complete, dtype, shape, total_bytes, chunk_size, "
        "chunk_count, sha256) VALUES ((SELECT id FROM runs WHERE status = 'running'), 'old', "
        "0, 'uint8', '[1]', 1, 1000, 0, '');"
        "INSERT INTO result_chunks SELECT run_id, 'old', 0, x'00' FROM results "
        "WHERE var = 'old'",
        "INSERT INTO results (run_id, var, complete, dtype, shape, total_bytes, chunk_size, "
        "chunk_count, sha256) VALUES ((SELECT id FROM runs WHERE status = 1), 'old', "
        "0, 'uint8', '[1]', 1, 1000, 0, '');"
        "INSERT INTO result_chunks SELECT run_id, 'old', 0, '\\x00'::bytea FROM results "
        "WHERE var = 'old'");
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "V", "uint8", 2, (int64_t[]){200, 100}));
    for (size_t off = 0; off < sizeof data; off += 700) /* uneven pieces across batches */
        OK(store_result_append(f->c, data + off,
                               sizeof data - off < 700 ? sizeof data - off : 700));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(raw_count_on(f, rd, "SELECT count(*) FROM result_chunks"), 20); /* V only */
    OK(store_result_info_get(rd, run, "V", &info));
    assert_int_equal(info.chunk_count, 20);
    unsigned char back[sizeof data];
    for (int64_t i = 0; i < info.chunk_count; i++) {
        assert_int_equal(store_result_read_chunk(rd, run, "V", i, back + i * 1000, 1000, &len),
                         STORE_OK);
        assert_int_equal(len, 1000);
    }
    assert_memory_equal(back, data, sizeof data);
    memset(back, 0, sizeof back);
    OK(store_result_read(rd, run, "V", 0, back, sizeof back)); /* chunks of several batches */
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(store_verify(rd, NULL, NULL, &vr), STORE_OK);
    assert_int_equal(vr.results_checked, 1);
    assert_int_equal(vr.results_bad, 0);
    store_disconnect(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finish_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_batched, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_finish", tests, NULL, NULL);
}
