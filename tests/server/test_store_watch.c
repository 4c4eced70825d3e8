/**
 * @file test_store_watch.c
 * @brief The store's change detection (store_changes_wait, store_runs_settled), which wakes
 *        long polls of daemons sharing one database: a change committed by another connection
 *        or another store handle (as another process would) is seen, none is invented while
 *        nothing changes, and the settled runs of a set are told apart in one call.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eir_clock.h"
#include "eir_time_scale.h"
#include "store.h"
#include "store_fixture.h"
#include "store_sqlite.h"

/** changes_wait() of @p c with @p timeout; asserts success and returns *changed. */
static int changed_within(store_conn *c, double timeout)
{
    int changed = -1;
    store_status st = store_changes_wait(c, timeout, NULL, NULL, &changed);
    if (st != STORE_OK) fail_msg("changes_wait: %s (%s)", store_status_name(st), store_errmsg(c));
    assert_true(changed == 0 || changed == 1);
    return changed;
}

static void test_changes_seen(void **state)
{
    struct fx *f = *state;
    store_conn *w = store_connect(f->s);
    assert_non_null(w);
    /* The first call knows of no earlier state: it reports a change. */
    assert_int_equal(changed_within(w, 0), 1);
    /* Nothing changed since: none, at once and after a wait of its full time. */
    assert_int_equal(changed_within(w, 0), 0);
    double t0 = eir_clock_mono();
    assert_int_equal(changed_within(w, 0.2), 0);
    assert_true(eir_clock_mono() - t0 >= 0.19);
    /* A commit of another connection of the same store. */
    char mid[STORE_ID_MAX], rid[STORE_ID_MAX];
    make_model(f, "m", mid);
    assert_int_equal(changed_within(w, 0), 1);
    assert_int_equal(changed_within(w, 0), 0);
    /* A commit through another store handle on the file (as another daemon would). */
    store *other = open_store(f->path, 0);
    store_conn *oc = store_connect(other);
    assert_non_null(oc);
    store_run_new in = {.model_id = mid, .request_json = "{\"dt\":0.1}"};
    store_run r;
    assert_int_equal(store_run_create(oc, &in, &r, NULL), STORE_OK);
    snprintf(rid, sizeof rid, "%s", r.id);
    store_run_clear(&r);
    assert_int_equal(changed_within(w, 0), 1);
    /* A read changes nothing. */
    assert_int_equal(store_run_get(oc, rid, &r), STORE_OK);
    store_run_clear(&r);
    assert_int_equal(changed_within(w, 0), 0);
    store_disconnect(oc);
    store_close(other);
    store_disconnect(w);
}

struct later_cancel {
    const char *path;
    const char *run_id;
    double delay;
    store_status st;
};

/** Cancel a run through a store handle of its own after a delay (another daemon's cancel). */
static void *cancel_later(void *p)
{
    struct later_cancel *a = p;
    eir_clock_sleep(a->delay);
    char err[256];
    store *s = store_open(a->path, NULL, err, sizeof err);
    store_conn *c = s ? store_connect(s) : NULL;
    a->st = c ? store_run_cancel(c, a->run_id, NULL) : STORE_ERROR;
    store_disconnect(c);
    store_close(s);
    return NULL;
}

static void test_wait_returns_on_change(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], rid[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, rid);
    store_conn *w = store_connect(f->s);
    assert_non_null(w);
    changed_within(w, 0); /* the baseline */
    struct later_cancel a = {.path = f->path, .run_id = rid, .delay = 0.3, .st = STORE_ERROR};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &a), 0);
    double t0 = eir_clock_mono();
    int changed = changed_within(w, eir_scaled(20));
    double took = eir_clock_mono() - t0;
    pthread_join(th, NULL);
    assert_int_equal(a.st, STORE_OK);
    assert_int_equal(changed, 1);
    /* Seen within a poll (50 ms) of the commit, not at the end of the wait. */
    assert_true(took >= 0.29 && took < 0.3 + eir_scaled(2));
    unsigned char settled = 0;
    assert_int_equal(store_runs_settled(w, (const char(*)[STORE_ID_MAX])rid, 1, &settled),
                     STORE_OK);
    assert_int_equal(settled, 1);
    store_disconnect(w);
}

static void test_runs_settled(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    enum { QUEUED, RUNNING, SUCCEEDED, CANCELLED, GONE, QUEUED_AGAIN, NIDS };
    char ids[NIDS][STORE_ID_MAX];
    char got[STORE_ID_MAX];
    make_run(f, mid, ids[SUCCEEDED]);
    claim(f, got);
    assert_string_equal(got, ids[SUCCEEDED]);
    OK(store_finish_begin(f->c, got, attempt_of(f, got)));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL));
    make_run(f, mid, ids[RUNNING]);
    claim(f, got);
    make_run(f, mid, ids[QUEUED]);
    make_run(f, mid, ids[CANCELLED]);
    OK(store_run_cancel(f->c, ids[CANCELLED], NULL));
    snprintf(ids[GONE], STORE_ID_MAX, "r_000000000000000000000000");
    memcpy(ids[QUEUED_AGAIN], ids[QUEUED], STORE_ID_MAX);
    unsigned char settled[NIDS];
    memset(settled, 7, sizeof settled);
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, NIDS, settled));
    const unsigned char want[NIDS] = {[SUCCEEDED] = 1, [CANCELLED] = 1, [GONE] = 1};
    assert_memory_equal(settled, want, NIDS);
    /* Nothing asked: nothing done. */
    OK(store_runs_settled(f->c, NULL, 0, NULL));
    /* A malformed id: refused, nothing reported settled. */
    snprintf(ids[GONE], STORE_ID_MAX, "r_\"x");
    memset(settled, 1, sizeof settled);
    assert_int_equal(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, NIDS, settled),
                     STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "malformed"));
    const unsigned char none[NIDS] = {0};
    assert_memory_equal(settled, none, NIDS);
}

/** A thousand ids (as many long polls) in one call: each one's answer at its index. */
static void test_runs_settled_many(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], queued[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, queued);
    enum { N = 1000 };
    char(*ids)[STORE_ID_MAX] = calloc(N, STORE_ID_MAX);
    unsigned char *settled = calloc(N, 1);
    assert_non_null(ids);
    assert_non_null(settled);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            memcpy(ids[i], queued, STORE_ID_MAX);
        else
            snprintf(ids[i], STORE_ID_MAX, "r_%024d", i);
    }
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, N, settled));
    for (int i = 0; i < N; i++)
        assert_int_equal(settled[i], i % 3 != 0);
    free(ids);
    free(settled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_returns_on_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_settled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_settled_many, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_watch", tests, NULL, NULL);
}
