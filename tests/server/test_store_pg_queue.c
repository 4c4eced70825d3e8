/**
 * @file test_store_pg_queue.c
 * @brief The store's queue where PostgreSQL differs: a claim whose COMMIT went unanswered is
 *        released by the next claim; the queue limit holds under concurrent creates (both
 *        backends).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"
#include "store_pg.h"
#include "store_pg_int.h"

/* A claim that committed although its COMMIT's answer was lost (noted on the conn as the claim
 * code does): the conn's next claim releases it first, so it does not stay running with
 * nobody to run it; a note whose attempt the run is not in changes nothing. */
static void test_unanswered_claim_released(void **state)
{
    struct fx *f = *state;
    if (!f->pg) {
        print_message("[  SKIP    ] on SQLite: a claim's commit is never unanswered there\n");
        skip();
    }
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got); /* committed, but (as if its answer was lost) nobody runs it */
    assert_string_equal(got, run);
    store_conn *c = store_connect(f->s);
    assert_non_null(c);

    pg_claim_unknown(PGC(c), run, 7); /* not its attempt: the release changes nothing */
    store_run r;
    assert_int_equal(store_run_claim(c, &r), STORE_NOT_FOUND);
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    assert_string_equal(PGC(c)->unclaim_id, "");

    pg_claim_unknown(PGC(c), run, 1); /* its attempt: released, then claimed again */
    assert_int_equal(store_run_claim(c, &r), STORE_OK);
    assert_string_equal(r.id, run);
    assert_int_equal(r.attempts, 1); /* the lost claim's attempt is not counted */
    assert_string_equal(PGC(c)->unclaim_id, "");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE ended_at = 0"), 1);
    int64_t renewed = 0;
    assert_int_equal(
        store_lease_renew(c, (const char(*)[STORE_ID_MAX]) & r.id, &r.attempts, 1, &renewed),
        STORE_OK);
    assert_int_equal(renewed, 1);
    store_run_clear(&r);
    store_disconnect(c);
}

#define CREATORS 6
#define PER_CREATOR 10
#define LIMIT 17

struct creator {
    store *s;
    const char *mid;
    atomic_int *queued, *full, *errors;
};

static void *creator_main(void *arg)
{
    struct creator *cr = arg;
    store_conn *c = store_connect(cr->s);
    for (int i = 0; c && i < PER_CREATOR; i++) {
        store_run_new in = {.model_id = cr->mid, .request_json = "{}", .queue_limit = LIMIT};
        store_run r;
        store_status st = store_run_create(c, &in, &r, NULL);
        if (st == STORE_OK)
            atomic_fetch_add(cr->queued, 1);
        else if (st == STORE_QUEUE_FULL)
            atomic_fetch_add(cr->full, 1);
        else if (st != STORE_BUSY) {
            fprintf(stderr, "create: %s\n", store_errmsg(c));
            atomic_fetch_add(cr->errors, 1);
        }
        store_run_clear(&r);
    }
    store_disconnect(c);
    return NULL;
}

/* Creates of several threads (two stores: two daemons) never queue more than the limit. */
static void test_queue_limit_concurrent(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    store *other = open_store(f->path, 1000);
    atomic_int queued = 0, full = 0, errors = 0;
    struct creator cr[CREATORS];
    pthread_t th[CREATORS];
    for (int i = 0; i < CREATORS; i++) {
        cr[i] = (struct creator){i % 2 ? other : f->s, mid, &queued, &full, &errors};
        assert_int_equal(pthread_create(&th[i], NULL, creator_main, &cr[i]), 0);
    }
    for (int i = 0; i < CREATORS; i++)
        pthread_join(th[i], NULL);
    store_close(other);
    assert_int_equal(atomic_load(&errors), 0);
    assert_int_equal(atomic_load(&queued), LIMIT);
    assert_int_equal(atomic_load(&full), CREATORS * PER_CREATOR - LIMIT);
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unanswered_claim_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_limit_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_pg_queue", tests, NULL, NULL);
}
