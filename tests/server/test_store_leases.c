/**
 * @file test_store_leases.c
 * @brief The store's leases (issue 14): a claim records its claimant and lease; progress,
 *        release and finish are fenced by the claim's attempt number (a stale attempt is refused
 *        and changes nothing); rescue_expired() ends only expired leases (requeued, failed at the
 *        attempt limit, cancelled when asked); lease_renew() extends only the leases of the runs
 *        it is given (held by this store's workers) that this store's claimant holds.
 *
 * Written through store.h only (two stores on the fixture's database, f->path, stand for two
 * daemons), so that the same file runs on every backend; what differs by backend is behind a
 * check of store_backend_name().
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "eir_clock.h"
#include "store.h"
#include "store_fixture.h"

/** A second "daemon" on the fixture's database: its own store, claimant and lease. */
struct daemon {
    store *s;
    store_conn *c;
};

static void daemon_open(struct fx *f, struct daemon *d, const char *claimant, double lease_s)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.claimant = claimant;
    cfg.lease_s = lease_s;
    char err[256];
    d->s = store_open(f->path, &cfg, err, sizeof err);
    if (!d->s) fail_msg("store_open(%s) as %s: %s", f->path, claimant ? claimant : "?", err);
    d->c = store_connect(d->s);
    assert_non_null(d->c);
}

static void daemon_close(struct daemon *d)
{
    store_disconnect(d->c);
    store_close(d->s);
    memset(d, 0, sizeof *d);
}

/** OK() for a daemon's connection. */
#define DOK(d, call)                                                                               \
    do {                                                                                           \
        store_status st_ = (call);                                                                 \
        if (st_ != STORE_OK)                                                                       \
            fail_msg("%s: %s (%s)", #call, store_status_name(st_), store_errmsg((d)->c));          \
    } while (0)

/** Queue a run of model @p mid with @p max_attempts (0: default); its id into @p id. */
static void queue_run(struct fx *f, const char *mid, int max_attempts, char id[STORE_ID_MAX])
{
    store_run_new in = {.model_id = mid, .request_json = "{\"dt\":0.1}", .progress_total = 100};
    in.max_attempts = max_attempts;
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

/** The run @p id as stored now. */
static store_run get_run(struct fx *f, const char *id)
{
    store_run r;
    OK(store_run_get(f->c, id, &r));
    return r;
}

/** A claim records who holds it and until when; the end of the claim clears both. */
static void test_claim_sets_lease(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 0, a);
    queue_run(f, mid, 0, b);
    struct daemon d;
    daemon_open(f, &d, "host-a:123:0badcafe", 5.0);

    store_run q = get_run(f, a);
    assert_string_equal(q.claimant, "");
    assert_int_equal(q.lease_expires_at, 0);
    store_run_clear(&q);

    int64_t t0 = eir_clock_epoch_ms();
    store_run r;
    DOK(&d, store_run_claim(d.c, &r));
    int64_t t1 = eir_clock_epoch_ms();
    assert_string_equal(r.id, a);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.claimant, "host-a:123:0badcafe");
    /* the database's clock: the same machine here, so within a second of ours */
    assert_in_range(r.lease_expires_at, t0 + 5000 - 1000, t1 + 5000 + 1000);
    store_run g = get_run(f, a); /* run_get shows the same */
    assert_string_equal(g.claimant, r.claimant);
    assert_int_equal(g.lease_expires_at, r.lease_expires_at);
    store_run_clear(&g);

    /* finished: not running, so no claimant and no lease */
    DOK(&d, store_finish_begin(d.c, a, r.attempts));
    DOK(&d, store_finish_commit(d.c, STORE_RUN_SUCCEEDED, "{}", NULL));
    g = get_run(f, a);
    assert_string_equal(g.claimant, "");
    assert_int_equal(g.lease_expires_at, 0);
    store_run_clear(&g);
    store_run_clear(&r);

    /* released: the same */
    DOK(&d, store_run_claim(d.c, &r));
    assert_string_equal(r.id, b);
    store_run_status now;
    DOK(&d, store_run_release(d.c, b, r.attempts, &now));
    assert_int_equal(now, STORE_RUN_QUEUED);
    g = get_run(f, b);
    assert_string_equal(g.claimant, "");
    assert_int_equal(g.lease_expires_at, 0);
    store_run_clear(&g);
    store_run_clear(&r);
    daemon_close(&d);

    /* no claimant given: "<hostname>:<pid>:<8 hex>" made at open */
    daemon_open(f, &d, NULL, 30);
    DOK(&d, store_run_claim(d.c, &r));
    char pid[32];
    snprintf(pid, sizeof pid, ":%ld:", (long)getpid());
    char *at = strstr(r.claimant, pid);
    assert_non_null(at);
    assert_true(at > r.claimant);
    assert_int_equal(strlen(at + strlen(pid)), 8);
    assert_int_equal(strspn(at + strlen(pid), "0123456789abcdef"), 8);
    store_run_clear(&r);
    daemon_close(&d);
}

/** Every fenced write with another attempt than the claim's is refused and changes nothing. */
static void test_stale_attempt_refused(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], id[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 0, id);
    store_run r;
    OK(store_run_claim(f->c, &r));
    OK(store_run_progress(f->c, id, r.attempts, 10, 100, NULL));
    store_run before = get_run(f, id);

    int cancel = -1;
    for (int stale = r.attempts - 1; stale <= r.attempts + 1; stale += 2) {
        assert_int_equal(store_run_progress(f->c, id, stale, 50, 100, &cancel), STORE_CONFLICT);
        assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
        assert_int_equal(cancel, 0);
        store_run_status now = STORE_RUN_SUCCEEDED;
        assert_int_equal(store_run_release(f->c, id, stale, &now), STORE_CONFLICT);
        assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
        assert_int_equal(store_finish_begin(f->c, id, stale), STORE_CONFLICT);
        assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    }
    store_run after = get_run(f, id);
    assert_int_equal(after.status, STORE_RUN_RUNNING);
    assert_int_equal(after.attempts, before.attempts);
    assert_int_equal(after.progress_done, 10);
    assert_int_equal(after.lease_expires_at, before.lease_expires_at);
    assert_string_equal(after.claimant, before.claimant);
    store_run_clear(&before);
    store_run_clear(&after);

    /* the claim's own attempt still writes */
    OK(store_finish_begin(f->c, id, r.attempts));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    /* a run that is not running: "not running", whatever the attempt */
    assert_int_equal(store_run_progress(f->c, id, r.attempts, 1, 0, NULL), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "not running"));
    assert_int_equal(store_run_release(f->c, id, r.attempts, NULL), STORE_CONFLICT);
    assert_int_equal(store_finish_begin(f->c, id, r.attempts), STORE_CONFLICT);
    assert_int_equal(store_run_progress(f->c, "r_000000000000000000000000", 1, 1, 0, NULL),
                     STORE_NOT_FOUND);
    store_run_clear(&r);
}

/**
 * Daemon A's lease expires, daemon B rescues the run and claims it again: A's writes (attempt 1)
 * are refused, "lease lost: the run is attempt 2 now", and B's go through.
 */
static void test_lost_lease_fenced(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], id[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 0, id);
    struct daemon a, b;
    daemon_open(f, &a, "daemon-a", 0.2);
    daemon_open(f, &b, "daemon-b", 60);
    store_run ra, rb;
    DOK(&a, store_run_claim(a.c, &ra));
    assert_int_equal(ra.attempts, 1);
    eir_clock_sleep(0.5); /* A stops renewing: its lease expires */
    store_requeue_report rep;
    DOK(&b, store_rescue_expired(b.c, &rep));
    assert_int_equal(rep.requeued, 1);
    DOK(&b, store_run_claim(b.c, &rb));
    assert_string_equal(rb.id, id);
    assert_int_equal(rb.attempts, 2);
    assert_string_equal(rb.claimant, "daemon-b");

    assert_int_equal(store_run_progress(a.c, id, ra.attempts, 99, 100, NULL), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(a.c), "lease lost: the run is attempt 2 now"));
    assert_int_equal(store_finish_begin(a.c, id, ra.attempts), STORE_CONFLICT);
    assert_int_equal(store_run_release(a.c, id, ra.attempts, NULL), STORE_CONFLICT);
    store_run g = get_run(f, id);
    assert_int_equal(g.status, STORE_RUN_RUNNING);
    assert_int_equal(g.attempts, 2);
    assert_string_equal(g.claimant, "daemon-b");
    assert_int_equal(g.progress_done, 0);
    store_run_clear(&g);

    DOK(&b, store_run_progress(b.c, id, rb.attempts, 5, 100, NULL));
    DOK(&b, store_finish_begin(b.c, id, rb.attempts));
    DOK(&b, store_result_begin(b.c, "V", "uint8", 1, (int64_t[]){3}));
    DOK(&b, store_result_append(b.c, "abc", 3));
    DOK(&b, store_result_end(b.c, NULL));
    DOK(&b, store_finish_commit(b.c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(status_of(f, id), STORE_RUN_SUCCEEDED);
    store_run_clear(&ra);
    store_run_clear(&rb);
    daemon_close(&a);
    daemon_close(&b);
}

/**
 * A finish begun before the lease was lost is refused at its commit, and keeps nothing. Not on
 * SQLite: its finish holds the database's write lock from finish_begin() to the commit, so no
 * rescue or claim can come in between.
 */
static void test_finish_fenced_at_commit(void **state)
{
    struct fx *f = *state;
    if (strcmp(store_backend_name(f->s), "sqlite") == 0) {
        print_message("skipped on SQLite: a finish holds the write lock, nothing comes between\n");
        skip();
    }
    char mid[STORE_ID_MAX], id[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 0, id);
    struct daemon a, b;
    daemon_open(f, &a, "daemon-a", 0.2);
    daemon_open(f, &b, "daemon-b", 60);
    store_run ra, rb;
    DOK(&a, store_run_claim(a.c, &ra));
    DOK(&a, store_finish_begin(a.c, id, ra.attempts));
    DOK(&a, store_result_begin(a.c, "V", "uint8", 1, (int64_t[]){3}));
    DOK(&a, store_result_append(a.c, "old", 3));
    DOK(&a, store_result_end(a.c, NULL));
    eir_clock_sleep(0.5);
    DOK(&b, store_rescue_expired(b.c, NULL));
    DOK(&b, store_run_claim(b.c, &rb));
    assert_int_equal(store_finish_commit(a.c, STORE_RUN_SUCCEEDED, "{}", NULL), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(a.c), "lease lost"));
    store_run g = get_run(f, id);
    assert_int_equal(g.status, STORE_RUN_RUNNING);
    assert_string_equal(g.claimant, "daemon-b");
    store_run_clear(&g);
    store_result_info info;
    assert_int_equal(store_result_info_get(f->c, id, "V", &info), STORE_NOT_FOUND);
    DOK(&b, store_finish_begin(b.c, id, rb.attempts));
    DOK(&b, store_result_begin(b.c, "V", "uint8", 1, (int64_t[]){3}));
    DOK(&b, store_result_append(b.c, "new", 3));
    DOK(&b, store_result_end(b.c, NULL));
    DOK(&b, store_finish_commit(b.c, STORE_RUN_SUCCEEDED, "{}", NULL));
    char buf[3];
    OK(store_result_read(f->c, id, "V", 0, buf, 3));
    assert_memory_equal(buf, "new", 3);
    store_run_clear(&ra);
    store_run_clear(&rb);
    daemon_close(&a);
    daemon_close(&b);
}

/**
 * rescue_expired() ends only the running runs whose lease expired, as requeue_orphans() would:
 * queued again with their attempt kept, failed at the attempt limit, cancelled when asked.
 */
static void test_rescue_only_expired(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], again[STORE_ID_MAX], limit[STORE_ID_MAX], cancel[STORE_ID_MAX],
        alive[STORE_ID_MAX], queued[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 3, again);
    queue_run(f, mid, 1, limit);
    queue_run(f, mid, 3, cancel);
    queue_run(f, mid, 3, alive);
    queue_run(f, mid, 3, queued);
    struct daemon dead, live;
    daemon_open(f, &dead, "dead", 0.2);
    daemon_open(f, &live, "live", 60);
    store_run r;
    for (int i = 0; i < 3; i++) { /* FIFO: again, limit, cancel */
        DOK(&dead, store_run_claim(dead.c, &r));
        store_run_clear(&r);
    }
    DOK(&live, store_run_claim(live.c, &r)); /* alive */
    assert_string_equal(r.id, alive);
    store_run_clear(&r);
    OK(store_run_cancel(f->c, cancel, NULL)); /* running: cancel requested */

    /* nothing expired yet: nothing to do */
    store_requeue_report rep;
    DOK(&live, store_rescue_expired(live.c, &rep));
    assert_int_equal(rep.requeued + rep.failed + rep.cancelled, 0);
    eir_clock_sleep(0.5);
    DOK(&live, store_rescue_expired(live.c, &rep));
    assert_int_equal(rep.requeued, 1);
    assert_int_equal(rep.failed, 1);
    assert_int_equal(rep.cancelled, 1);

    store_run g = get_run(f, again);
    assert_int_equal(g.status, STORE_RUN_QUEUED);
    assert_int_equal(g.attempts, 1); /* kept: the next claim is attempt 2 */
    assert_int_equal(g.progress_done, 0);
    assert_string_equal(g.claimant, "");
    assert_int_equal(g.lease_expires_at, 0);
    store_run_clear(&g);
    g = get_run(f, limit);
    assert_int_equal(g.status, STORE_RUN_FAILED);
    assert_non_null(g.error_json);
    assert_non_null(strstr(g.error_json, "attempt limit reached"));
    assert_true(g.finished_at > 0);
    assert_string_equal(g.claimant, "");
    store_run_clear(&g);
    g = get_run(f, cancel);
    assert_int_equal(g.status, STORE_RUN_CANCELLED);
    assert_true(g.finished_at > 0);
    store_run_clear(&g);
    g = get_run(f, alive);
    assert_int_equal(g.status, STORE_RUN_RUNNING);
    assert_string_equal(g.claimant, "live");
    store_run_clear(&g);
    assert_int_equal(status_of(f, queued), STORE_RUN_QUEUED);

    /* done once: a second rescue finds nothing */
    DOK(&dead, store_rescue_expired(dead.c, &rep));
    assert_int_equal(rep.requeued + rep.failed + rep.cancelled, 0);
    daemon_close(&dead);
    daemon_close(&live);
}

/** lease_renew() of one held run (its id and attempt): its number renewed. */
static int64_t renew_one(struct daemon *d, const char *id, int attempt)
{
    char ids[1][STORE_ID_MAX];
    snprintf(ids[0], sizeof ids[0], "%s", id);
    int64_t renewed = -1;
    DOK(d, store_lease_renew(d->c, (const char(*)[STORE_ID_MAX])ids, &attempt, 1, &renewed));
    return renewed;
}

/** lease_renew() extends the leases of the held runs (id and attempt) of this store only: a run
 *  it claimed but does not hold (a claim whose answer was lost) is not renewed and is rescued
 *  after its lease; progress renews too. */
static void test_lease_renew(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], mine[STORE_ID_MAX], lost[STORE_ID_MAX], theirs[STORE_ID_MAX],
        prog[STORE_ID_MAX];
    make_model(f, "m", mid);
    queue_run(f, mid, 0, mine);
    queue_run(f, mid, 0, lost);
    queue_run(f, mid, 0, theirs);
    queue_run(f, mid, 0, prog);
    struct daemon a, b;
    daemon_open(f, &a, "renewer", 2.0);
    daemon_open(f, &b, "other", 2.0);
    store_run ra, rl, rb, rp;
    DOK(&a, store_run_claim(a.c, &ra));
    DOK(&a, store_run_claim(a.c, &rl)); /* claimed, but no worker of A holds it */
    DOK(&b, store_run_claim(b.c, &rb));
    DOK(&b, store_run_claim(b.c, &rp));
    assert_string_equal(ra.id, mine);
    assert_string_equal(rl.id, lost);
    assert_string_equal(rb.id, theirs);
    assert_string_equal(rp.id, prog);
    assert_int_equal(renew_one(&a, mine, ra.attempts), 1);
    assert_int_equal(renew_one(&a, mine, ra.attempts + 1), 0);           /* not its attempt */
    assert_int_equal(renew_one(&a, theirs, rb.attempts), 0);             /* another claimant's */
    assert_int_equal(renew_one(&a, "r_000000000000000000000000", 1), 0); /* no such run */

    /* 1.2 s on, A renews the run it holds and B writes progress for one of its runs; 1.2 s
     * later (2.4 s after the claims, 1.2 s after the renewals) A's lost claim and B's other run
     * have expired */
    eir_clock_sleep(1.2);
    assert_int_equal(renew_one(&a, mine, ra.attempts), 1);
    DOK(&b, store_run_progress(b.c, prog, rp.attempts, 1, 100, NULL));
    store_run g = get_run(f, mine);
    assert_true(g.lease_expires_at > ra.lease_expires_at + 1000);
    store_run_clear(&g);
    g = get_run(f, prog);
    assert_true(g.lease_expires_at > rp.lease_expires_at + 1000);
    store_run_clear(&g);
    g = get_run(f, theirs);
    assert_int_equal(g.lease_expires_at, rb.lease_expires_at); /* A renews only its own */
    store_run_clear(&g);
    g = get_run(f, lost);
    assert_int_equal(g.lease_expires_at, rl.lease_expires_at); /* and only what it holds */
    assert_string_equal(g.claimant, "renewer");
    store_run_clear(&g);

    eir_clock_sleep(1.2);
    store_requeue_report rep;
    DOK(&a, store_rescue_expired(a.c, &rep));
    assert_int_equal(rep.requeued, 2);
    assert_int_equal(status_of(f, lost), STORE_RUN_QUEUED);
    assert_int_equal(status_of(f, theirs), STORE_RUN_QUEUED);
    assert_int_equal(status_of(f, mine), STORE_RUN_RUNNING);
    assert_int_equal(status_of(f, prog), STORE_RUN_RUNNING);
    /* a held run no longer running is not renewed; an empty set is fine (NULL count allowed) */
    DOK(&b, store_run_release(b.c, prog, rp.attempts, NULL));
    assert_int_equal(renew_one(&b, prog, rp.attempts), 0);
    int64_t renewed = -1;
    DOK(&b, store_lease_renew(b.c, NULL, NULL, 0, &renewed));
    assert_int_equal(renewed, 0);
    DOK(&b, store_lease_renew(b.c, NULL, NULL, 0, NULL));
    store_run_clear(&ra);
    store_run_clear(&rl);
    store_run_clear(&rb);
    store_run_clear(&rp);
    daemon_close(&a);
    daemon_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_sets_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_attempt_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_lease_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_fenced_at_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rescue_only_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_renew, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_leases", tests, NULL, NULL);
}
