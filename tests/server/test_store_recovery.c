/**
 * @file test_store_recovery.c
 * @brief The store: crash recovery (requeue, a crash in the middle of a finish), a full disk and
 *        failed connections.
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
/* Crash recovery                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void test_requeue(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], ids[3][STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_run_new in = {.model_id = mid, .request_json = "{}", .max_attempts = 2};
    for (int i = 0; i < 3; i++) {
        store_run r;
        OK(store_run_create(f->c, &in, &r, NULL));
        snprintf(ids[i], STORE_ID_MAX, "%s", r.id);
        store_run_clear(&r);
    }
    for (int i = 0; i < 3; i++)
        claim(f, got);
    OK(store_run_progress(f->c, ids[0], attempt_of(f, ids[0]), 7, 10, NULL));
    OK(store_run_cancel(f->c, ids[2], NULL));

    /* the daemon goes away without finishing anything; at the next start: */
    reopen(f);
    expire_leases(f);
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 2);
    assert_int_equal(rep.cancelled, 1);
    assert_int_equal(rep.failed, 0);
    store_run r;
    OK(store_run_get(f->c, ids[0], &r));
    assert_int_equal(r.status, STORE_RUN_QUEUED);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.progress_done, 0);
    assert_int_equal(r.started_at, 0);
    store_run_clear(&r);
    assert_int_equal(status_of(f, ids[2]), STORE_RUN_CANCELLED);
    OK(store_requeue_orphans(f->c, &rep)); /* nothing left to do */
    assert_int_equal(rep.requeued + rep.failed + rep.cancelled, 0);

    /* second attempt interrupted too: the limit (2) is reached and the runs fail */
    claim(f, got);
    assert_string_equal(got, ids[0]);
    claim(f, got);
    reopen(f);
    expire_leases(f);
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.failed, 2);
    assert_int_equal(rep.requeued, 0);
    OK(store_run_get(f->c, ids[1], &r));
    assert_int_equal(r.status, STORE_RUN_FAILED);
    assert_int_equal(r.attempts, 2);
    assert_true(r.finished_at > 0);
    assert_non_null(r.error_json);
    assert_non_null(strstr(r.error_json, "attempt limit reached"));
    assert_non_null(strstr(r.error_json, "\"max_attempts\":2"));
    store_run_clear(&r);
}

/** A real crash: a child process dies with a finish half written; nothing of it survives. */
static void test_crash_mid_finish(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], other[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    make_run(f, mid, other);
    store_disconnect(f->c);
    f->c = NULL;

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the doomed daemon: its own store and connection */
        store_config cfg;
        store_config_default(&cfg);
        cfg.chunk_size = 64 << 10;   /* chunks reach the WAL before the crash ... */
        cfg.batch_bytes = 256 << 10; /* ... and some batches are committed (staged) */
        store *s = store_open(f->path, &cfg, NULL, 0);
        store_conn *c = s ? store_connect(s) : NULL;
        store_run r;
        static unsigned char junk[3 << 20];
        if (!c || store_run_claim(c, &r) != STORE_OK || store_run_claim(c, &r) != STORE_OK ||
            store_run_progress(c, run, 1, 5, 0, NULL) != STORE_OK || /* first claims: attempt 1 */
            store_finish_begin(c, run, 1) != STORE_OK ||
            store_result_begin(c, "V", "uint8", 1, (int64_t[]){sizeof junk * 2}) != STORE_OK ||
            store_result_append(c, junk, sizeof junk) != STORE_OK)
            _exit(2);
        _exit(0); /* dies holding the write lock, mid-result, without closing anything */
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);

    store_close(f->s);
    f->s = open_store(f->path, 1000);
    f->c = store_connect(f->s);
    /* committed batches survive as staged rows, invisible to readers */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results WHERE complete = 0"), 1);
    assert_true(raw_count(f, "SELECT count(*) FROM result_chunks") >= 4);
    store_result_info info;
    assert_int_equal(store_result_info_get(f->c, run, "V", &info), STORE_NOT_FOUND);
    unsigned char b1[64 << 10];
    size_t len;
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 0, b1, sizeof b1, &len),
                     STORE_NOT_FOUND);
    expire_leases(f);
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 2);
    assert_int_equal(rep.partial_results, 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, run); /* original order kept */
    assert_int_equal(r.attempts, 2);
    store_run_clear(&r);
    store_verify_report vr;
    OK(store_verify(f->c, NULL, NULL, &vr));
    assert_int_equal(vr.results_checked, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Disk full, failed connections                                                              */
/* ------------------------------------------------------------------------------------------ */

static void test_disk_full(void **state)
{
    struct fx *f = *state;
    SKIP_ON_PG(f, "the full disk is made with SQLite's page limit (a full disk cannot be made for "
                  "one database of a shared PostgreSQL cluster)");
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);

    /* the connection may not grow the file by more than a few pages */
    int64_t pages = raw_count(f, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 4);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    static unsigned char data[200000];
    memset(data, 0x5a, sizeof data);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){sizeof data}));
    store_status st = store_result_append(f->c, data, sizeof data);
    if (st == STORE_OK) st = store_result_end(f->c, NULL);
    if (st == STORE_OK) st = store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL);
    assert_int_equal(st, STORE_FULL);
    assert_non_null(strstr(store_errmsg(f->c), "full"));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);

    /* other writes fail the same way, reads carry on */
    char *big = malloc(200001);
    memset(big, 'x', 200000);
    big[200000] = '\0';
    store_model m;
    assert_int_equal(store_model_create(f->c, "big", HASH_A, 1, big, NULL, &m), STORE_FULL);
    OK(store_model_get(f->c, mid, &m));
    store_model_clear(&m);

    /* space again: everything works */
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
    OK(store_model_create(f->c, "big", HASH_A, 1, big, NULL, &m));
    store_model_clear(&m);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){sizeof data}));
    OK(store_result_append(f->c, data, sizeof data));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL));
    assert_int_equal(status_of(f, run), STORE_RUN_SUCCEEDED);
    store_verify_report rep;
    OK(store_verify(f->c, NULL, NULL, &rep));
    assert_int_equal(rep.results_checked, 1);
    assert_int_equal(rep.results_bad, 0);
    free(big);
}

/** test_bad_connections(), SQLite: a connection whose file was moved away fails cleanly and
 *  recovers when it is back; the fixture's connection is replaced by a new one. */
static void file_moved_away(struct fx *f, const char *mid)
{
    store_run r;
    store_model m;
    char moved[sizeof f->path + 8];
    store_conn *c2 = store_connect(f->s);
    assert_non_null(c2);
    store_disconnect(f->c);
    f->c = NULL;
    snprintf(moved, sizeof moved, "%s.moved", f->path);
    assert_int_equal(rename(f->path, moved), 0);
    assert_int_equal(store_model_get(c2, mid, &m), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(c2), "cannot open"));
    assert_int_equal(store_run_claim(c2, &r), STORE_ERROR);
    assert_int_equal(rename(moved, f->path), 0);
    assert_int_equal(store_model_get(c2, mid, &m), STORE_OK);
    assert_string_equal(store_errmsg(c2), "");
    store_model_clear(&m);
    f->c = c2;
}

static void test_bad_connections(void **state)
{
    struct fx *f = *state;
    store_run r;
    store_model m;
    int64_t n;
    /* NULL everywhere */
    assert_int_equal(store_run_get(NULL, "r_x", &r), STORE_ERROR);
    assert_int_equal(store_run_claim(NULL, &r), STORE_ERROR);
    assert_int_equal(store_model_get(NULL, "m_x", &m), STORE_ERROR);
    assert_int_equal(store_queue_depth(NULL, &n), STORE_ERROR);
    assert_int_equal(store_finish_commit(NULL, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_ERROR);
    store_finish_abort(NULL);
    store_disconnect(NULL);
    store_close(NULL);
    assert_null(store_connect(NULL));
    assert_non_null(store_errmsg(NULL));
    assert_int_equal(store_run_get(f->c, NULL, &r), STORE_INVALID);

    /* a connection whose database cannot be opened fails cleanly and recovers later (SQLite:
     * its file moved away; PostgreSQL's lost connections: the restart tests of tests/reliability)
     */
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    if (!f->pg) file_moved_away(f, mid);

    /* strings from outside are data, never SQL */
    const char *evil = "x'); DELETE FROM models; --";
    assert_int_equal(store_model_get(f->c, evil, &m), STORE_NOT_FOUND);
    OK(store_model_create(f->c, evil, HASH_A, 1, evil, NULL, &m));
    store_model_clear(&m);
    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.models, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_connections, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_recovery", tests, NULL, NULL);
}
