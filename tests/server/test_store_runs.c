/**
 * @file test_store_runs.c
 * @brief The store: creating runs (idempotency, the queue limit and its own status), listing,
 *        progress, cancel and the delete rules.
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
/* Runs: creation, idempotency, queue limit, listing                                          */
/* ------------------------------------------------------------------------------------------ */

static void test_run_create(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);

    store_run_new in = {.model_id = mid,
                        .request_json = "{\"model_id\":\"x\",\"dt\":0.1}",
                        .idempotency_key = "key-1",
                        .body_hash = HASH_A,
                        .max_attempts = 5,
                        .time_limit = 2.5,
                        .progress_total = 1000,
                        .queue_limit = 3};
    store_run r1, r2;
    int created = -1;
    OK(store_run_create(f->c, &in, &r1, &created));
    assert_int_equal(created, 1);
    assert_int_equal(strncmp(r1.id, "r_", 2), 0);
    assert_int_equal(strlen(r1.id), 26);
    assert_string_equal(r1.model_id, mid);
    assert_int_equal(r1.status, STORE_RUN_QUEUED);
    assert_int_equal(r1.attempts, 0);
    assert_int_equal(r1.max_attempts, 5);
    assert_int_equal(r1.progress_total, 1000);
    assert_true(r1.time_limit == 2.5);
    assert_true(r1.created_at > 0);
    assert_int_equal(r1.started_at, 0);
    assert_string_equal(r1.idempotency_key, "key-1");
    assert_null(r1.request_json);

    /* same key, same body: the same run, nothing new */
    OK(store_run_create(f->c, &in, &r2, &created));
    assert_int_equal(created, 0);
    assert_string_equal(r2.id, r1.id);
    store_run_clear(&r2);
    /* same key, other body */
    in.body_hash = HASH_B;
    assert_int_equal(store_run_create(f->c, &in, &r2, &created), STORE_KEY_REUSED);
    assert_non_null(strstr(store_errmsg(f->c), r1.id));
    in.body_hash = NULL;
    assert_int_equal(store_run_create(f->c, &in, &r2, &created), STORE_INVALID);

    /* queue limit 3: two more fit, the fourth is refused; a retried key still answers */
    in.idempotency_key = NULL;
    OK(store_run_create(f->c, &in, &r2, NULL));
    store_run_clear(&r2);
    OK(store_run_create(f->c, &in, &r2, NULL));
    store_run_clear(&r2);
    assert_int_equal(store_run_create(f->c, &in, &r2, NULL), STORE_QUEUE_FULL);
    assert_non_null(strstr(store_errmsg(f->c), "queue is full"));
    in.idempotency_key = "key-1";
    in.body_hash = HASH_A;
    OK(store_run_create(f->c, &in, &r2, &created));
    assert_int_equal(created, 0);
    store_run_clear(&r2);
    int64_t depth;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, 3);
    /* a claimed run leaves the queue and makes room */
    char cl[STORE_ID_MAX];
    claim(f, cl);
    assert_string_equal(cl, r1.id);
    in.idempotency_key = NULL;
    OK(store_run_create(f->c, &in, &r2, NULL));
    store_run_clear(&r2);

    /* unknown model; inline model (no model id) */
    in.queue_limit = 0;
    in.model_id = "m_ffffffffffffffffffffffff";
    assert_int_equal(store_run_create(f->c, &in, &r2, NULL), STORE_NOT_FOUND);
    in.model_id = NULL;
    OK(store_run_create(f->c, &in, &r2, NULL));
    assert_string_equal(r2.model_id, "");
    store_run_clear(&r2);
    in.request_json = NULL;
    assert_int_equal(store_run_create(f->c, &in, &r2, NULL), STORE_INVALID);
    assert_int_equal(store_run_get(f->c, "r_nope", &r2), STORE_NOT_FOUND);
    store_run_clear(&r1);
}

struct run_collect {
    int n;
    char ids[64][STORE_ID_MAX];
    store_run_status status[64];
};

static int collect_run(void *ctx, const store_run *r)
{
    struct run_collect *c = ctx;
    assert_null(r->request_json);
    c->status[c->n] = r->status;
    snprintf(c->ids[c->n++], STORE_ID_MAX, "%s", r->id);
    return 0;
}

/** All pages of a filtered list, @p per_page at a time. */
static int list_all(struct fx *f, int status, const char *model, int per_page,
                    struct run_collect *out)
{
    store_run_filter flt = {.status = status, .model_id = model};
    char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX];
    out->n = 0;
    int pages = 0;
    do {
        OK(store_run_list(f->c, &flt, cursor, per_page, collect_run, out, next));
        pages++;
        snprintf(cursor, sizeof cursor, "%s", next);
    } while (cursor[0]);
    return pages;
}

static void test_run_list(void **state)
{
    struct fx *f = *state;
    char ma[STORE_ID_MAX], mb[STORE_ID_MAX], ids[20][STORE_ID_MAX];
    make_model(f, "a", ma);
    make_model(f, "b", mb);
    for (int i = 0; i < 20; i++)
        make_run(f, i % 2 ? mb : ma, ids[i]);
    char c0[STORE_ID_MAX], c1[STORE_ID_MAX], c2[STORE_ID_MAX];
    claim(f, c0);
    claim(f, c1);
    claim(f, c2);
    OK(store_run_cancel(f->c, ids[10], NULL));

    struct run_collect rc;
    assert_int_equal(list_all(f, -1, NULL, 6, &rc), 4);
    assert_int_equal(rc.n, 20);
    for (int i = 0; i < 20; i++)
        assert_string_equal(rc.ids[i], ids[19 - i]);
    list_all(f, STORE_RUN_RUNNING, NULL, 2, &rc);
    assert_int_equal(rc.n, 3);
    assert_string_equal(rc.ids[0], ids[2]);
    list_all(f, STORE_RUN_QUEUED, NULL, 4, &rc);
    assert_int_equal(rc.n, 16);
    list_all(f, -1, mb, 3, &rc);
    assert_int_equal(rc.n, 10);
    list_all(f, STORE_RUN_QUEUED, ma, 3, &rc);
    assert_int_equal(rc.n, 7); /* 10 of model a, minus 0, 2 (running) and 10 (cancelled) */
    list_all(f, STORE_RUN_CANCELLED, ma, 3, &rc);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.ids[0], ids[10]);
    list_all(f, STORE_RUN_SUCCEEDED, NULL, 3, &rc);
    assert_int_equal(rc.n, 0);

    store_run_filter bad = {.status = 42};
    char next[STORE_CURSOR_MAX];
    assert_int_equal(store_run_list(f->c, &bad, NULL, 5, collect_run, &rc, next), STORE_INVALID);
    assert_int_equal(store_run_list(f->c, NULL, "c1.", 5, collect_run, &rc, next), STORE_INVALID);

    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.by_status[STORE_RUN_QUEUED], 16);
    assert_int_equal(cnt.by_status[STORE_RUN_RUNNING], 3);
    assert_int_equal(cnt.by_status[STORE_RUN_CANCELLED], 1);
    assert_int_equal(cnt.by_status[STORE_RUN_SUCCEEDED], 0);
    assert_int_equal(cnt.models, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* Progress, cancel, delete                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_progress_cancel(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], q[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    make_run(f, mid, q);
    int cancel = -1;
    assert_int_equal(store_run_progress(f->c, run, attempt_of(f, run), 1, 0, &cancel),
                     STORE_CONFLICT); /* queued */
    assert_int_equal(store_run_progress(f->c, "r_nope", 1, 1, 0, &cancel), STORE_NOT_FOUND);
    claim(f, got);
    assert_string_equal(got, run);

    OK(store_run_progress(f->c, run, attempt_of(f, run), 10, 0, &cancel));
    assert_int_equal(cancel, 0);
    store_run r;
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.progress_done, 10);
    assert_int_equal(r.progress_total, 50); /* 0 keeps the total */
    store_run_clear(&r);
    OK(store_run_progress(f->c, run, attempt_of(f, run), 20, 80, NULL));
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.progress_done, 20);
    assert_int_equal(r.progress_total, 80);
    store_run_clear(&r);

    /* cancel queued: immediate, never claimed */
    store_run_status now = STORE_RUN_RUNNING;
    OK(store_run_cancel(f->c, q, &now));
    assert_int_equal(now, STORE_RUN_CANCELLED);
    OK(store_run_get(f->c, q, &r));
    assert_int_equal(r.status, STORE_RUN_CANCELLED);
    assert_true(r.finished_at > 0);
    store_run_clear(&r);
    assert_int_equal(store_run_claim(f->c, &r), STORE_NOT_FOUND);
    OK(store_run_cancel(f->c, q, &now)); /* again: nothing to do */
    assert_int_equal(now, STORE_RUN_CANCELLED);

    /* cancel running: requested, the worker sees it with its next progress report */
    OK(store_run_cancel(f->c, run, &now));
    assert_int_equal(now, STORE_RUN_RUNNING);
    OK(store_run_progress(f->c, run, attempt_of(f, run), 30, 0, &cancel));
    assert_int_equal(cancel, 1);
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.cancel_requested, 1);
    assert_int_equal(r.status, STORE_RUN_RUNNING);
    store_run_clear(&r);
    OK(store_finish_begin(f->c, run, attempt_of(f, run)));
    OK(store_finish_commit(f->c, STORE_RUN_CANCELLED, NULL, "{\"title\":\"cancelled\"}"));
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.status, STORE_RUN_CANCELLED);
    assert_string_equal(r.error_json, "{\"title\":\"cancelled\"}");
    assert_int_equal(r.progress_done, 30);
    store_run_clear(&r);

    /* a run that succeeded cannot be cancelled */
    char done_run[STORE_ID_MAX];
    make_run(f, mid, done_run);
    claim(f, got);
    OK(store_finish_begin(f->c, done_run, attempt_of(f, done_run)));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{\"ok\":1}", NULL));
    OK(store_run_get(f->c, done_run, &r));
    assert_int_equal(r.progress_done, 50); /* succeeded: progress complete */
    store_run_clear(&r);
    assert_int_equal(store_run_cancel(f->c, done_run, &now), STORE_CONFLICT);
    assert_int_equal(now, STORE_RUN_SUCCEEDED);
    assert_int_equal(store_run_cancel(f->c, "r_nope", &now), STORE_NOT_FOUND);

    /* release (shutdown): back to the queue, the attempt not counted */
    char rel[STORE_ID_MAX];
    make_run(f, mid, rel);
    claim(f, got);
    OK(store_run_release(f->c, rel, attempt_of(f, rel), &now));
    assert_int_equal(now, STORE_RUN_QUEUED);
    OK(store_run_get(f->c, rel, &r));
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.started_at, 0);
    store_run_clear(&r);
    assert_int_equal(store_run_release(f->c, rel, attempt_of(f, rel), &now), STORE_CONFLICT);
}

static void test_delete_rules(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, a);
    make_run(f, mid, b);
    assert_int_equal(store_run_delete(f->c, a), STORE_CONFLICT); /* queued */
    claim(f, got);
    assert_int_equal(store_run_delete(f->c, a), STORE_CONFLICT); /* running */
    assert_non_null(strstr(store_errmsg(f->c), "running"));
    unsigned char data[3500];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    OK(store_finish_begin(f->c, a, attempt_of(f, a)));
    OK(store_result_begin(f->c, "V", "uint8", 2, (int64_t[]){35, 100}));
    OK(store_result_append(f->c, data, sizeof data));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_FAILED, NULL, "{\"title\":\"boom\"}"));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 4);
    OK(store_run_delete(f->c, a));
    store_result_info info;
    assert_int_equal(store_result_info_get(f->c, a, "V", &info), STORE_NOT_FOUND);
    unsigned char buf[1000];
    size_t len;
    assert_int_equal(store_result_read_chunk(f->c, a, "V", 0, buf, sizeof buf, &len),
                     STORE_NOT_FOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(store_run_delete(f->c, a), STORE_NOT_FOUND);
    store_run r;
    assert_int_equal(store_run_get(f->c, a, &r), STORE_NOT_FOUND);
    OK(store_run_get(f->c, b, &r)); /* the other run is untouched */
    store_run_clear(&r);
}

/** test_queue_full_typed(), SQLite: with the file at its page limit, a big run @p in is
 *  STORE_FULL with room in the queue and STORE_QUEUE_FULL without; the limit is lifted after. */
static void full_disk_is_not_queue_full(struct fx *f, store_run_new *in)
{
    store_run r;
    int64_t depth = 0;
    int64_t pages = raw_count(f, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 4);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    in->queue_limit = 10;
    assert_int_equal(store_run_create(f->c, in, &r, NULL), STORE_FULL);
    assert_null(strstr(store_errmsg(f->c), "the queue is full"));
    assert_non_null(strstr(store_errmsg(f->c), "full"));
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, 2);
    /* a full queue on a full disk: the queue decides first (nothing to write) */
    in->queue_limit = 2;
    assert_int_equal(store_run_create(f->c, in, &r, NULL), STORE_QUEUE_FULL);
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
}

/** A full queue and a full disk are two statuses (store.h), so that the HTTP layer never reads
 *  the message to tell a 503 queue-full from a 503 storage-full. */
static void test_queue_full_typed(void **state)
{
    struct fx *f = *state;
    assert_int_not_equal(STORE_QUEUE_FULL, STORE_FULL);
    assert_string_equal(store_status_name(STORE_QUEUE_FULL), "queue full");
    assert_string_equal(store_status_name(STORE_FULL), "full");
    store_run_new in = {.request_json = "{}", .queue_limit = 2};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);
    int created = 1;
    assert_int_equal(store_run_create(f->c, &in, &r, &created), STORE_QUEUE_FULL);
    assert_int_equal(created, 0);
    assert_null(r.request_json); /* nothing handed out */
    assert_non_null(strstr(store_errmsg(f->c), "the queue is full: 2 runs queued (limit 2)"));
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, 2);
    /* no limit, or room again after a claim: accepted */
    in.queue_limit = 0;
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);
    char got[STORE_ID_MAX];
    claim(f, got);
    claim(f, got);
    in.queue_limit = 2;
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);

    /* a full disk with room in the queue is STORE_FULL, never the queue's status (SQLite's page
     * limit: a full disk cannot be made for one database of a shared PostgreSQL cluster) */
    char *big = malloc(200001);
    assert_non_null(big);
    memset(big, 'x', 200000);
    big[200000] = '\0';
    in.request_json = big;
    if (!f->pg) full_disk_is_not_queue_full(f, &in);
    in.queue_limit = 3;
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full_typed, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_runs", tests, NULL, NULL);
}
