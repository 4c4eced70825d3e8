/**
 * @file test_store_claims.c
 * @brief The store: the claim order of the queue and concurrent claims.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
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

/* ------------------------------------------------------------------------------------------ */
/* Many claimants on one queue (two daemons' stores), and fencing of a stale attempt          */
/* ------------------------------------------------------------------------------------------ */

#define DAEMONS 2
#define DTHREADS 3
#define DRUNS 150

/** One thread of a "daemon": its store and what it claimed (id and attempt). */
struct worker {
    store *s;
    char ids[DRUNS][STORE_ID_MAX];
    int attempts[DRUNS];
    int n;
    int errors;
};

/** Record a claimed run; 1 when the worker's table is full (a run claimed twice somewhere). */
static int worker_took(struct worker *w, const store_run *r)
{
    if (w->n >= DRUNS) return 1;
    snprintf(w->ids[w->n], STORE_ID_MAX, "%s", r->id);
    w->attempts[w->n++] = r->attempts;
    return 0;
}

/* Claim, report progress under the claim's attempt, finish and claim the next run in the
 * finish's transaction, until the queue is empty. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    store_conn *c = store_connect(w->s);
    if (!c) {
        w->errors++;
        return NULL;
    }
    store_run r;
    store_status st;
    while ((st = store_run_claim(c, &r)) == STORE_BUSY)
        ;
    while (st == STORE_OK && r.id[0]) {
        if (worker_took(w, &r)) {
            w->errors++;
            store_run_clear(&r);
            break;
        }
        int cancel = -1;
        st = store_run_progress(c, r.id, r.attempts, 10, 50, &cancel);
        if (st != STORE_OK || cancel != 0) {
            fprintf(stderr, "progress: %s\n", store_errmsg(c));
            w->errors++;
        }
        double v[3] = {1, 2, (double)r.attempts};
        st = store_finish_begin(c, r.id, r.attempts);
        if (st == STORE_OK) st = store_result_begin(c, "r", "float64", 1, (int64_t[]){3});
        if (st == STORE_OK) st = store_result_append(c, v, sizeof v);
        if (st == STORE_OK) st = store_result_end(c, NULL);
        store_run next;
        if (st == STORE_OK)
            st = store_finish_commit_claim(c, STORE_RUN_SUCCEEDED, "{}", NULL, &next);
        store_run_clear(&r);
        if (st != STORE_OK) {
            fprintf(stderr, "finish: %s\n", store_errmsg(c));
            w->errors++;
            break;
        }
        r = next; /* zeroed when the queue was empty */
    }
    if (st != STORE_OK && st != STORE_NOT_FOUND) {
        fprintf(stderr, "claim: %s\n", store_errmsg(c));
        w->errors++;
    }
    store_disconnect(c);
    return NULL;
}

/* Two stores on one database (two daemons), three threads each: every run is claimed exactly
 * once, in its first attempt, and finished once; on PostgreSQL the claim audit agrees. */
static void test_claim_two_daemons(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    static char all[DRUNS][STORE_ID_MAX];
    for (int i = 0; i < DRUNS; i++)
        make_run(f, mid, all[i]);

    store *daemon[DAEMONS];
    for (int d = 0; d < DAEMONS; d++)
        daemon[d] = open_store(f->path, 1000);
    static struct worker w[DAEMONS * DTHREADS];
    pthread_t th[DAEMONS * DTHREADS];
    memset(w, 0, sizeof w);
    for (int t = 0; t < DAEMONS * DTHREADS; t++) {
        w[t].s = daemon[t / DTHREADS];
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < DAEMONS * DTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int d = 0; d < DAEMONS; d++)
        store_close(daemon[d]);

    static char got[DRUNS * DAEMONS * DTHREADS][STORE_ID_MAX];
    int n = 0;
    for (int t = 0; t < DAEMONS * DTHREADS; t++) {
        assert_int_equal(w[t].errors, 0);
        for (int i = 0; i < w[t].n; i++) {
            assert_int_equal(w[t].attempts[i], 1);
            memcpy(got[n++], w[t].ids[i], STORE_ID_MAX);
        }
    }
    assert_int_equal(n, DRUNS); /* every run claimed, none twice */
    qsort(got, (size_t)n, STORE_ID_MAX, cmp_id);
    qsort(all, DRUNS, STORE_ID_MAX, cmp_id);
    for (int i = 0; i < DRUNS; i++)
        assert_string_equal(got[i], all[i]);
    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.by_status[STORE_RUN_SUCCEEDED], DRUNS);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), DRUNS);
    store_run r;
    OK(store_run_get(f->c, all[3], &r));
    assert_string_equal(r.claimant, ""); /* not running: nobody's claim */
    assert_int_equal(r.lease_expires_at, 0);
    assert_int_equal(r.progress_done, 50);
    store_run_clear(&r);
    if (f->pg) { /* the audit: one closed claim per run, none open */
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims"), DRUNS);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE attempt = 1 AND "
                                      "outcome = 'succeeded' AND ended_at >= claimed_at "
                                      "AND claimant <> ''"),
                         DRUNS);
        assert_int_equal(raw_count(f, "SELECT count(DISTINCT claimant) FROM run_claims"), DAEMONS);
    }
}

/** Expire the leases of every running run (the daemon holding them is gone). */
static void lapse_leases(struct fx *f)
{
    raw_exec(f, "UPDATE runs SET lease_expires_at = 1 WHERE status = 'running'",
             "UPDATE runs SET lease_expires_at = 1 WHERE status = 1");
}

/* A claim whose lease expired is rescued and claimed again: every write of the old attempt
 * (progress, release, finish) fails with "lease lost" and changes nothing. */
static void test_stale_attempt_fenced(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    store_run r1, r2;
    OK(store_run_claim(f->c, &r1));
    assert_int_equal(r1.attempts, 1);
    assert_true(r1.claimant[0] != '\0');
    assert_true(r1.lease_expires_at > r1.started_at);
    int64_t renewed = -1;
    OK(store_lease_renew(f->c, (const char(*)[STORE_ID_MAX]) & r1.id, &r1.attempts, 1, &renewed));
    assert_int_equal(renewed, 1);
    store_requeue_report rep;
    OK(store_rescue_expired(f->c, &rep)); /* alive: nothing to rescue */
    assert_int_equal(rep.requeued + rep.failed + rep.cancelled, 0);

    lapse_leases(f);
    OK(store_rescue_expired(f->c, &rep));
    assert_int_equal(rep.requeued, 1);
    assert_int_equal(status_of(f, run), STORE_RUN_QUEUED);
    OK(store_run_claim(f->c, &r2));
    assert_string_equal(r2.id, run);
    assert_int_equal(r2.attempts, 2);

    int cancel;
    store_run_status now;
    assert_int_equal(store_run_progress(f->c, run, 1, 5, 0, &cancel), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    assert_int_equal(store_run_release(f->c, run, 1, &now), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    assert_int_equal(store_finish_begin(f->c, run, 1), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    OK(store_run_progress(f->c, run, 2, 7, 0, &cancel));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    store_run_clear(&r1); /* the first claim's strings (LeakSanitizer) */
    OK(store_run_get(f->c, run, &r1));
    assert_int_equal(r1.progress_done, 7);
    store_run_clear(&r1);

    uint8_t b[4] = {1, 2, 3, 4};
    OK(store_finish_begin(f->c, run, 2));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){4}));
    OK(store_result_append(f->c, b, sizeof b));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(status_of(f, run), STORE_RUN_SUCCEEDED);
    assert_int_equal(store_run_progress(f->c, run, 2, 9, 0, &cancel), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "not running"));
    store_run_clear(&r2);
    if (f->pg) {
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE attempt = 1 AND "
                                      "outcome = 'rescued'"),
                         1);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE attempt = 2 AND "
                                      "outcome = 'succeeded'"),
                         1);
    }
}

/* PostgreSQL: a finish in progress when its lease expires and the run is claimed again commits
 * nothing (the fence is checked again inside the commit's transaction), and the new attempt's
 * finish stands. (SQLite's finish holds the database's write lock from its begin, so no rescue
 * can commit in the middle of it.) */
static void test_stale_finish_fenced(void **state)
{
    struct fx *f = *state;
    if (!f->pg) {
        print_message("[  SKIP    ] on SQLite: a finish holds the write lock, no rescue can "
                      "commit during it\n");
        skip();
    }
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    store_run r1, r2;
    OK(store_run_claim(f->c, &r1));
    uint8_t old[2500], fresh[2500];
    memset(old, 0xaa, sizeof old);
    memset(fresh, 0x55, sizeof fresh);
    OK(store_finish_begin(f->c, run, r1.attempts));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){sizeof old}));
    OK(store_result_append(f->c, old, sizeof old));
    OK(store_result_end(f->c, NULL));

    store_conn *other = store_connect(f->s); /* another daemon's rescuer and worker */
    assert_non_null(other);
    lapse_leases(f);
    store_requeue_report rep;
    assert_int_equal(store_rescue_expired(other, &rep), STORE_OK);
    assert_int_equal(rep.requeued, 1);
    assert_int_equal(store_run_claim(other, &r2), STORE_OK);
    assert_string_equal(r2.id, run);
    assert_int_equal(r2.attempts, r1.attempts + 1);

    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{\"stale\":1}", NULL),
                     STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    store_result_info info;
    assert_int_equal(store_result_info_get(f->c, run, "V", &info), STORE_NOT_FOUND);

    assert_int_equal(store_finish_begin(other, run, r2.attempts), STORE_OK);
    assert_int_equal(store_result_begin(other, "V", "uint8", 1, (int64_t[]){sizeof fresh}),
                     STORE_OK);
    assert_int_equal(store_result_append(other, fresh, sizeof fresh), STORE_OK);
    assert_int_equal(store_result_end(other, NULL), STORE_OK);
    assert_int_equal(store_finish_commit(other, STORE_RUN_SUCCEEDED, "{}", NULL), STORE_OK);
    store_disconnect(other);

    uint8_t back[sizeof fresh];
    OK(store_result_read(f->c, run, "V", 0, back, sizeof back));
    assert_memory_equal(back, fresh, sizeof fresh);
    store_run r;
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.status, STORE_RUN_SUCCEEDED);
    assert_string_equal(r.meta_json, "{}");
    store_run_clear(&r);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE outcome = 'rescued'"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE outcome = 'succeeded'"),
                     1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE ended_at = 0"), 0);
    store_run_clear(&r1);
    store_run_clear(&r2);
}

/* ------------------------------------------------------------------------------------------ */
/* Workers that stall past their lease while a rescuer runs: never finished twice             */
/* ------------------------------------------------------------------------------------------ */

#define RRUNS 30
#define RTHREADS 4
#define RLEASE 0.3 /* seconds */

struct race {
    store *s;
    atomic_int stop;
    atomic_int finished; /**< finishes that committed */
    atomic_int fenced;   /**< finishes refused: lease lost */
    atomic_int errors;
};

/* A worker: every third claim stalls three times its lease between writing its result and the
 * commit (a paused daemon), so that the rescuer gives the run to another worker meanwhile. The
 * result holds the attempt that wrote it. */
static void *racer_main(void *arg)
{
    struct race *rc = arg;
    store_conn *c = store_connect(rc->s);
    if (!c) {
        atomic_fetch_add(&rc->errors, 1);
        return NULL;
    }
    for (int n = 0; !atomic_load(&rc->stop);) {
        store_run r;
        store_status st = store_run_claim(c, &r);
        if (st == STORE_NOT_FOUND || st == STORE_BUSY) {
            usleep(5000);
            continue;
        }
        if (st != STORE_OK) {
            fprintf(stderr, "claim: %s\n", store_errmsg(c));
            atomic_fetch_add(&rc->errors, 1);
            break;
        }
        int64_t a = r.attempts;
        st = store_run_progress(c, r.id, r.attempts, 1, 2, NULL);
        if (st == STORE_OK) st = store_finish_begin(c, r.id, r.attempts);
        if (st == STORE_OK) st = store_result_begin(c, "a", "int64", 1, (int64_t[]){1});
        if (st == STORE_OK) st = store_result_append(c, &a, sizeof a);
        if (st == STORE_OK) st = store_result_end(c, NULL);
        if (st == STORE_OK && ++n % 3 == 0) usleep((useconds_t)(3 * RLEASE * 1e6));
        if (st == STORE_OK) st = store_finish_commit(c, STORE_RUN_SUCCEEDED, "{}", NULL);
        if (st == STORE_OK) {
            atomic_fetch_add(&rc->finished, 1);
        } else if (st == STORE_CONFLICT && strstr(store_errmsg(c), "lease lost")) {
            atomic_fetch_add(&rc->fenced, 1);
        } else if (st != STORE_CONFLICT && st != STORE_BUSY) { /* "not running": rescued too */
            fprintf(stderr, "finish: %s\n", store_errmsg(c));
            atomic_fetch_add(&rc->errors, 1);
        }
        store_finish_abort(c);
        store_run_clear(&r);
    }
    store_disconnect(c);
    return NULL;
}

static void *rescuer_main(void *arg)
{
    struct race *rc = arg;
    store_conn *c = store_connect(rc->s);
    while (c && !atomic_load(&rc->stop)) {
        store_status st = store_rescue_expired(c, NULL);
        if (st != STORE_OK && st != STORE_BUSY) {
            fprintf(stderr, "rescue: %s\n", store_errmsg(c));
            atomic_fetch_add(&rc->errors, 1);
        }
        usleep(20000);
    }
    store_disconnect(c);
    return NULL;
}

/** Whether every run succeeded (or 60 s passed). */
static int all_succeeded(store_conn *c)
{
    for (int i = 0; i < 6000; i++) {
        store_counts n;
        if (store_counts_get(c, &n) == STORE_OK && n.by_status[STORE_RUN_SUCCEEDED] == RRUNS)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_stalled_workers_rescued(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX];
    static char ids[RRUNS][STORE_ID_MAX];
    make_model(f, "m", mid);
    for (int i = 0; i < RRUNS; i++) {
        store_run_new in = {.model_id = mid, .request_json = "{}", .max_attempts = 100};
        store_run r;
        OK(store_run_create(f->c, &in, &r, NULL));
        snprintf(ids[i], STORE_ID_MAX, "%s", r.id);
        store_run_clear(&r);
    }
    store_config cfg;
    store_config_default(&cfg);
    cfg.lease_s = RLEASE;
    char err[256];
    static struct race rc;
    memset(&rc, 0, sizeof rc);
    rc.s = store_open(f->path, &cfg, err, sizeof err);
    assert_non_null(rc.s);
    pthread_t th[RTHREADS + 1];
    for (int t = 0; t < RTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, racer_main, &rc), 0);
    assert_int_equal(pthread_create(&th[RTHREADS], NULL, rescuer_main, &rc), 0);
    int done = all_succeeded(f->c);
    atomic_store(&rc.stop, 1);
    for (int t = 0; t <= RTHREADS; t++)
        pthread_join(th[t], NULL);
    store_close(rc.s);

    assert_true(done);
    assert_int_equal(atomic_load(&rc.errors), 0);
    assert_int_equal(atomic_load(&rc.finished), RRUNS); /* each run finished once */
    for (int i = 0; i < RRUNS; i++) {                   /* by the attempt that held it at the end */
        store_run r;
        OK(store_run_get(f->c, ids[i], &r));
        int64_t a = -1;
        OK(store_result_read(f->c, ids[i], "a", 0, &a, sizeof a));
        assert_int_equal(a, r.attempts);
        store_run_clear(&r);
    }
    if (f->pg) {
        /* the stalls' commits came after their runs were rescued: refused by the fence */
        assert_true(atomic_load(&rc.fenced) > 0);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE outcome = "
                                      "'succeeded'"),
                         RRUNS);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims AS c JOIN runs AS r ON "
                                      "r.id = c.run_id WHERE c.outcome = 'succeeded' AND "
                                      "c.attempt <> r.attempts"),
                         0);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM run_claims WHERE ended_at = 0"), 0);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM results WHERE complete = 0"), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_claims_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_two_daemons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_attempt_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_finish_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_workers_rescued, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_claims", tests, NULL, NULL);
}
