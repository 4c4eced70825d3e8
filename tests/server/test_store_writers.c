/**
 * @file test_store_writers.c
 * @brief The store: the writer lock gives writers their turns; the group sync of the WAL.
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

#include "eir_clock.h"
#include "eir_sha256.h"
#include "eir_time_scale.h"
#include "store.h"
#include "store_fixture.h"
#include "store_sqlite.h"

struct big_writer {
    store *s;
    const char *run;
    volatile int started, committing, done;
    store_status st;
};

static void *big_writer_main(void *arg)
{
    struct big_writer *bw = arg;
    store_conn *c = store_connect(bw->s);
    enum { MIB = 1 << 20, TOTAL = 24 };
    unsigned char *piece = malloc(MIB);
    memset(piece, 0xab, MIB);
    bw->st = store_finish_begin(c, bw->run, 1); /* its first claim: attempt 1 */
    if (bw->st == STORE_OK)
        bw->st = store_result_begin(c, "V", "uint8", 1, (int64_t[]){(int64_t)TOTAL * MIB});
    __atomic_store_n(&bw->started, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < TOTAL && bw->st == STORE_OK; i++)
        bw->st = store_result_append(c, piece, MIB);
    if (bw->st == STORE_OK) bw->st = store_result_end(c, NULL);
    __atomic_store_n(&bw->committing, 1, __ATOMIC_SEQ_CST);
    if (bw->st == STORE_OK) bw->st = store_finish_commit(c, STORE_RUN_SUCCEEDED, "{}", NULL);
    if (bw->st != STORE_OK) fprintf(stderr, "big writer: %s\n", store_errmsg(c));
    __atomic_store_n(&bw->done, 1, __ATOMIC_SEQ_CST);
    free(piece);
    store_disconnect(c);
    return NULL;
}

/** While a large finish writes batches, other threads' writes get their turn. */
static void test_writer_turns(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    running_run_reopened(f, mid, run, 64 << 10, 256 << 10);

    struct big_writer bw = {.s = f->s, .run = run};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, big_writer_main, &bw), 0);
    while (!__atomic_load_n(&bw.started, __ATOMIC_SEQ_CST))
        usleep(100);
    int during = 0;
    double worst = 0;
    while (!__atomic_load_n(&bw.done, __ATOMIC_SEQ_CST)) {
        char id[STORE_ID_MAX];
        double t0 = eir_clock_mono();
        make_run(f, mid, id);
        double dt = eir_clock_mono() - t0;
        worst = dt > worst ? dt : worst;
        if (!__atomic_load_n(&bw.done, __ATOMIC_SEQ_CST)) {
            during++;
            /* Staged batches stay invisible; the result appears with the final commit, which
             * readers may see while finish_commit still waits for the group sync. */
            store_result_info info;
            store_status rs = store_result_info_get(f->c, run, "V", &info);
            if (rs == STORE_OK)
                assert_true(__atomic_load_n(&bw.committing, __ATOMIC_SEQ_CST));
            else
                assert_int_equal(rs, STORE_NOT_FOUND);
        }
    }
    pthread_join(th, NULL);
    assert_int_equal(bw.st, STORE_OK);
    print_message("    %d runs queued during a 24 MiB finish; slowest took %.3f s\n", during,
                  worst);
    assert_true(during >= 3);
    assert_true(worst < eir_scaled(2.0));
    store_result_info info;
    OK(store_result_info_get(f->c, run, "V", &info));
    assert_int_equal(info.total_bytes, 24 << 20);
    assert_int_equal(status_of(f, run), STORE_RUN_SUCCEEDED);
}

struct creator {
    store *s;
    const char *model;
    int n;
    int ok;
};

static void *creator_main(void *arg)
{
    struct creator *cr = arg;
    store_conn *c = store_connect(cr->s);
    for (int i = 0; i < cr->n; i++) {
        store_run_new in = {.model_id = cr->model, .request_json = "{}", .progress_total = 1};
        store_run r;
        if (store_run_create(c, &in, &r, NULL) == STORE_OK) cr->ok++;
        store_run_clear(&r);
    }
    store_disconnect(c);
    return NULL;
}

/** Durable operations return only once the WAL is synced past their commit; claims and
 *  progress do not wait; concurrent commits share syncs. */
static void test_group_sync(void **state)
{
    struct fx *f = *state;
    SKIP_ON_PG(f, "the group sync of SQLite's WAL (store_sqlite_sync_stats); PostgreSQL syncs its "
                  "own WAL at each commit");
    store_sqlite_sync_stats a, b;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_sqlite_sync_stats_get(f->s, &a);
    assert_true(a.durable_commits >= 1);
    assert_int_equal(a.synced, a.durable_commits);
    make_run(f, mid, run);
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits + 1);
    assert_int_equal(b.synced, b.durable_commits);
    assert_true(b.syncs > a.syncs);
    claim(f, got);
    int cancel = 0;
    OK(store_run_progress(f->c, got, attempt_of(f, got), 10, 50, &cancel));
    store_sqlite_sync_stats_get(f->s, &a);
    assert_int_equal(a.durable_commits, b.durable_commits); /* no wait for claim or progress */
    OK(store_finish_begin(f->c, got, attempt_of(f, got)));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits + 1);
    assert_int_equal(b.synced, b.durable_commits);
    /* an operation that changes nothing takes no ticket and returns at once */
    store_run_status now;
    char q[STORE_ID_MAX];
    make_run(f, mid, q);
    OK(store_run_cancel(f->c, q, &now));
    store_sqlite_sync_stats_get(f->s, &a);
    OK(store_run_cancel(f->c, q, &now));
    assert_int_equal(now, STORE_RUN_CANCELLED);
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits);
    assert_int_equal(b.syncs, a.syncs);

    /* 8 threads x 40 creates: every create durable, syncs shared */
    enum { T = 8, N = 40 };
    struct creator cr[T];
    pthread_t th[T];
    store_sqlite_sync_stats_get(f->s, &a);
    for (int i = 0; i < T; i++) {
        cr[i] = (struct creator){.s = f->s, .model = mid, .n = N};
        assert_int_equal(pthread_create(&th[i], NULL, creator_main, &cr[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cr[i].ok, N);
    }
    store_sqlite_sync_stats_get(f->s, &b);
    uint64_t commits = b.durable_commits - a.durable_commits, syncs = b.syncs - a.syncs;
    assert_int_equal(commits, T * N);
    assert_int_equal(b.synced, b.durable_commits);
    assert_true(syncs >= 1 && syncs <= commits);
    print_message("    %d concurrent creates: %llu WAL syncs (%.1f commits per sync)\n", T * N,
                  (unsigned long long)syncs, (double)commits / (double)syncs);
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, T * N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_sync, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_writers", tests, NULL, NULL);
}
