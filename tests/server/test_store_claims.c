/**
 * @file test_store_claims.c
 * @brief The store: the claim order of the queue and concurrent claims.
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
/* Claims                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void test_claim_order(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], ids[6][STORE_ID_MAX];
    make_model(f, "m", mid);
    store_run r;
    assert_int_equal(store_run_claim(f->c, &r), STORE_NOT_FOUND);
    for (int i = 0; i < 5; i++)
        make_run(f, mid, ids[i]);
    store_run_new hi = {.model_id = mid, .request_json = "{\"urgent\":true}", .priority = 5};
    OK(store_run_create(f->c, &hi, &r, NULL));
    snprintf(ids[5], STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);

    OK(store_run_claim(f->c, &r)); /* priority first */
    assert_string_equal(r.id, ids[5]);
    assert_string_equal(r.request_json, "{\"urgent\":true}");
    store_run_clear(&r);
    for (int i = 0; i < 5; i++) { /* then FIFO */
        OK(store_run_claim(f->c, &r));
        assert_string_equal(r.id, ids[i]);
        assert_int_equal(r.status, STORE_RUN_RUNNING);
        assert_int_equal(r.attempts, 1);
        assert_true(r.started_at >= r.created_at);
        assert_string_equal(r.request_json, "{\"dt\":0.1}");
        store_run_clear(&r);
    }
    assert_int_equal(store_run_claim(f->c, &r), STORE_NOT_FOUND);
}

/* A finish that claims the worker's next run in its own transaction. */
static void test_finish_claims_next(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, a);
    make_run(f, mid, b);
    claim(f, got);
    assert_string_equal(got, a);
    store_run next;
    memset(&next, 0x5a, sizeof next);
    OK(store_finish_begin(f->c, a, attempt_of(f, a)));
    OK(store_finish_commit_claim(f->c, STORE_RUN_SUCCEEDED, "{}", NULL, &next));
    assert_int_equal(status_of(f, a), STORE_RUN_SUCCEEDED);
    assert_string_equal(next.id, b); /* claimed as run_claim() would: running, request included */
    assert_int_equal(next.status, STORE_RUN_RUNNING);
    assert_int_equal(next.attempts, 1);
    assert_string_equal(next.request_json, "{\"dt\":0.1}");
    assert_int_equal(status_of(f, b), STORE_RUN_RUNNING);
    store_run_clear(&next);

    /* the queue is empty: the finish stands and nothing is claimed */
    memset(&next, 0x5a, sizeof next);
    OK(store_finish_begin(f->c, b, attempt_of(f, b)));
    OK(store_finish_commit_claim(f->c, STORE_RUN_FAILED, NULL, "{\"title\":\"x\"}", &next));
    assert_int_equal(status_of(f, b), STORE_RUN_FAILED);
    assert_int_equal(next.id[0], '\0');
    assert_null(next.request_json);

    /* a failed finish claims nothing: the queued run stays queued */
    char c2[STORE_ID_MAX], d[STORE_ID_MAX];
    make_run(f, mid, c2);
    claim(f, got);
    make_run(f, mid, d);
    OK(store_finish_begin(f->c, c2, attempt_of(f, c2)));
    assert_int_equal(store_finish_commit_claim(f->c, STORE_RUN_RUNNING, NULL, NULL, &next),
                     STORE_INVALID);
    assert_int_equal(next.id[0], '\0');
    assert_int_equal(status_of(f, c2), STORE_RUN_RUNNING);
    assert_int_equal(status_of(f, d), STORE_RUN_QUEUED);

    /* survives a reopen (the claim committed with the finish) */
    OK(store_finish_begin(f->c, c2, attempt_of(f, c2)));
    OK(store_finish_commit_claim(f->c, STORE_RUN_SUCCEEDED, "{}", NULL, &next));
    assert_string_equal(next.id, d);
    store_run_clear(&next);
    reopen(f);
    assert_int_equal(status_of(f, c2), STORE_RUN_SUCCEEDED);
    assert_int_equal(status_of(f, d), STORE_RUN_RUNNING);
}

#define NTHREADS 4
#define NRUNS 200

struct claimer {
    store *s;
    char ids[NRUNS][STORE_ID_MAX];
    int n;
    int errors;
};

/* Each thread: its own connection; claim until the queue is empty, finishing every run. */
static void *claimer_main(void *arg)
{
    struct claimer *cl = arg;
    store_conn *c = store_connect(cl->s);
    if (!c) {
        cl->errors++;
        return NULL;
    }
    for (;;) {
        store_run r;
        store_status st = store_run_claim(c, &r);
        if (st == STORE_NOT_FOUND) break;
        if (st == STORE_BUSY) continue;
        if (st != STORE_OK) {
            fprintf(stderr, "claim: %s\n", store_errmsg(c));
            cl->errors++;
            break;
        }
        snprintf(cl->ids[cl->n++], STORE_ID_MAX, "%s", r.id);
        double v[3] = {1, 2, 3};
        st = store_finish_begin(c, r.id, r.attempts);
        if (st == STORE_OK) st = store_result_begin(c, "r", "float64", 1, (int64_t[]){3});
        if (st == STORE_OK) st = store_result_append(c, v, sizeof v);
        if (st == STORE_OK) st = store_result_end(c, NULL);
        if (st == STORE_OK) st = store_finish_commit(c, STORE_RUN_SUCCEEDED, "{}", NULL);
        if (st != STORE_OK) {
            fprintf(stderr, "finish: %s\n", store_errmsg(c));
            cl->errors++;
        }
        store_run_clear(&r);
    }
    store_disconnect(c);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_claim_concurrent(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    static char all[NRUNS][STORE_ID_MAX];
    for (int i = 0; i < NRUNS; i++)
        make_run(f, mid, all[i]);

    static struct claimer cl[NTHREADS];
    pthread_t th[NTHREADS];
    memset(cl, 0, sizeof cl);
    for (int t = 0; t < NTHREADS; t++) {
        cl[t].s = f->s;
        assert_int_equal(pthread_create(&th[t], NULL, claimer_main, &cl[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);

    static char got[NRUNS * NTHREADS][STORE_ID_MAX];
    int n = 0;
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(cl[t].errors, 0);
        for (int i = 0; i < cl[t].n; i++)
            memcpy(got[n++], cl[t].ids[i], STORE_ID_MAX);
    }
    assert_int_equal(n, NRUNS); /* every run claimed, none twice */
    qsort(got, (size_t)n, STORE_ID_MAX, cmp_id);
    qsort(all, NRUNS, STORE_ID_MAX, cmp_id);
    for (int i = 0; i < NRUNS; i++)
        assert_string_equal(got[i], all[i]);
    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.by_status[STORE_RUN_SUCCEEDED], NRUNS);
    store_run r;
    OK(store_run_get(f->c, all[17], &r));
    assert_int_equal(r.attempts, 1);
    store_run_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_claims_next, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_claims", tests, NULL, NULL);
}
