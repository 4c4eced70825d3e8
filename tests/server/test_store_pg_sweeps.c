/**
 * @file test_store_pg_sweeps.c
 * @brief What the PostgreSQL backend's sweeps and maintenance (server/store_pg_sweeps.c,
 *        store_pg_maint.c, store_pg_labels.c) add to the shared store tests: creates under one
 *        idempotency key from many stores at once (both backends), the notifications of a
 *        sweep's create, cancel and delete, verify's structural check, and the array
 *        parameters and labels check in C. Cases about PostgreSQL skip on SQLite, saying so.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "eir_clock.h"
#include "store_fixture.h"
#include "store_pg_labels.h"

/** Skip the running case on SQLite. */
#define PG_ONLY(f)                                                                                 \
    do {                                                                                           \
        if (!(f)->pg) {                                                                            \
            print_message("[  SKIP    ] on SQLite: a case of the PostgreSQL backend\n");           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#define BODY_HASH "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
enum { RACERS = 6, RACE_POINTS = 300 };

/** One of the stores creating the same sweep at once. */
struct racer {
    const char *path;
    pthread_barrier_t *go;
    int k;
    store_status st;
    int created;
    char id[STORE_ID_MAX];
    char err[STORE_ERRMSG_MAX];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char err[256];
    store *s = store_open(r->path, NULL, err, sizeof err);
    store_conn *c = s ? store_connect(s) : NULL;
    store_run_new runs[RACE_POINTS];
    for (int i = 0; i < RACE_POINTS; i++)
        runs[i] = (store_run_new){.request_json = "{}", .labels_json = "{\"a\":\"b\"}"};
    char sid[STORE_ID_MAX];
    snprintf(sid, sizeof sid, "s_00000000000000000000000%d", r->k);
    store_sweep_new in = {.id = sid,
                          .request_json = "{}",
                          .idempotency_key = "same-key",
                          .body_hash = BODY_HASH,
                          .runs = runs,
                          .n_runs = RACE_POINTS};
    pthread_barrier_wait(r->go);
    store_sweep sw;
    r->st = c ? store_sweep_create(c, &in, &sw, &r->created) : STORE_ERROR;
    if (r->st == STORE_OK) snprintf(r->id, sizeof r->id, "%s", sw.id);
    snprintf(r->err, sizeof r->err, "%s", c ? store_errmsg(c) : err);
    store_sweep_clear(&sw);
    store_disconnect(c);
    store_close(s);
    return NULL;
}

/** Stores (daemons) creating the sweep of one key at the same moment: one creates it, every
 *  other answers it (created 0), and only its points are stored. */
static void test_sweep_key_race(void **state)
{
    struct fx *f = *state;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int k = 0; k < RACERS; k++) {
        r[k] = (struct racer){.path = f->path, .go = &go, .k = k};
        assert_int_equal(pthread_create(&t[k], NULL, race, &r[k]), 0);
    }
    int created = 0;
    for (int k = 0; k < RACERS; k++) {
        pthread_join(t[k], NULL);
        if (r[k].st != STORE_OK) fail_msg("racer %d: %s", k, r[k].err);
        created += r[k].created;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(created, 1);
    for (int k = 1; k < RACERS; k++)
        assert_string_equal(r[k].id, r[0].id);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM sweeps"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs"), RACE_POINTS);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), RACE_POINTS);
}

/** Notifications seen by a listener. */
struct seen {
    int queued, ended_runs, ended_sweep, other_sweep, other_models, other_runs;
};

static void on_change(void *ctx, store_change_kind kind, const char *id)
{
    struct seen *s = ctx;
    if (kind == STORE_CHANGE_QUEUED) s->queued++;
    if (kind == STORE_CHANGE_ENDED && strncmp(id, "r_", 2) == 0) s->ended_runs++;
    if (kind == STORE_CHANGE_ENDED && strncmp(id, "s_", 2) == 0) s->ended_sweep++;
    if (kind == STORE_CHANGE_OTHER && strncmp(id, "s_", 2) == 0) s->other_sweep++;
    if (kind == STORE_CHANGE_OTHER && strncmp(id, "m_", 2) == 0) s->other_models++;
    if (kind == STORE_CHANGE_OTHER && strncmp(id, "r_", 2) == 0) s->other_runs++;
}

/** Wait on @p c until @p done says the expected notifications arrived (5 s at most). */
static void listen_until(store_conn *c, struct seen *s, int (*done)(const struct seen *))
{
    double end = eir_clock_mono() + 5;
    while (!done(s) && eir_clock_mono() < end) {
        int changed;
        store_changes_wait(c, 0.2, on_change, s, &changed);
    }
}

static int created_seen(const struct seen *s)
{
    return s->queued >= 1 && s->other_sweep >= 1;
}
static int cancelled_seen(const struct seen *s)
{
    return s->ended_runs >= 3 && s->other_runs >= 1 && s->ended_sweep >= 1;
}
static int deleted_seen(const struct seen *s)
{
    return s->ended_runs >= 4 && s->other_models >= 1 && s->ended_sweep >= 1;
}

/** A sweep's create sends q and o s_; cancel e per cancelled run, o per running run asked to
 *  stop, e s_; delete e per run, o per model it deleted, e s_ (another store listens). */
static void test_sweep_notifications(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store *ls = open_store(f->path, 0);
    store_conn *lc = store_connect(ls);
    struct seen s = {0};
    int changed;
    OK(store_changes_wait(lc, 0, on_change, &s, &changed)); /* listening from here on */
    char base[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "base", base);
    store_sweep_model m = {"m_aaaaaaaaaaaaaaaaaaaaaa01", "new", 2, "{}", NULL};
    store_run_new runs[4];
    for (int i = 0; i < 4; i++)
        runs[i] = (store_run_new){.model_id = i ? base : m.id, .request_json = "{}"};
    store_sweep_new in = {.id = "s_0123456789abcdef01234567",
                          .request_json = "{}",
                          .models = &m,
                          .n_models = 1,
                          .runs = runs,
                          .n_runs = 4};
    store_sweep sw;
    OK(store_sweep_create(f->c, &in, &sw, NULL));
    store_sweep_clear(&sw);
    listen_until(lc, &s, created_seen);
    assert_true(created_seen(&s));
    claim(f, got); /* point 0: running */
    memset(&s, 0, sizeof s);
    int64_t n;
    OK(store_sweep_cancel(f->c, in.id, &n));
    assert_int_equal(n, 4);
    listen_until(lc, &s, cancelled_seen);
    assert_int_equal(s.ended_runs, 3);
    assert_int_equal(s.other_runs, 1);
    assert_int_equal(s.ended_sweep, 1);
    OK(store_run_release(f->c, got, attempt_of(f, got), NULL));
    memset(&s, 0, sizeof s);
    OK(store_sweep_delete(f->c, in.id, &n));
    listen_until(lc, &s, deleted_seen);
    assert_true(s.ended_runs >= 4); /* the release's e too, perhaps */
    assert_int_equal(s.other_models, 1);
    assert_int_equal(s.ended_sweep, 1);
    store_disconnect(lc);
    store_close(ls);
}

static void on_bad(void *ctx, const char *run, const char *var, const char *why)
{
    (void)run;
    (void)var;
    (void)why;
    ++*(int *)ctx;
}

/** verify's structural check: a schema version other than the build's, or a missing table,
 *  is STORE_ERROR naming it. */
static void test_verify_structure(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store_verify_report rep;
    int bad = 0;
    OK(store_verify(f->c, on_bad, &bad, &rep));
    assert_int_equal(rep.results_checked, 0);
    raw_exec(f, "", "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)");
    assert_int_equal(store_verify(f->c, on_bad, &bad, &rep), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(f->c), "schema is version 99"));
    raw_exec(f, "", "DELETE FROM schema_migrations WHERE version = 99");
    OK(store_verify(f->c, on_bad, &bad, &rep));
    raw_exec(f, "", "DROP TABLE labels");
    assert_int_equal(store_verify(f->c, on_bad, &bad, &rep), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(f->c), "table labels is missing"));
    assert_int_equal(bad, 0);
}

/** Array parameters and the labels check in C (no database). */
static void test_arrays_and_labels_check(void **state)
{
    (void)state;
    pg_array a;
    pg_array_init(&a);
    assert_string_equal(pg_array_end(&a), "{}");
    pg_array_free(&a);
    pg_array_init(&a);
    pg_array_text(&a, "a\"b\\c");
    pg_array_text(&a, NULL);
    pg_array_text(&a, "NULL");
    pg_array_text(&a, "");
    pg_array_i64(&a, -42);
    pg_array_f64(&a, 0.1);
    assert_string_equal(pg_array_end(&a), "{\"a\\\"b\\\\c\",NULL,\"NULL\",\"\",-42,"
                                          "0.10000000000000001}");
    assert_int_equal(a.n, 6);
    pg_array_free(&a);
    assert_null(a.s);
    pg_array_free(NULL);

    char why[128];
    assert_int_equal(pg_labels_check_text(NULL, why, sizeof why), STORE_OK);
    assert_int_equal(pg_labels_check_text("{}", why, sizeof why), STORE_OK);
    assert_int_equal(pg_labels_check_text("{\"a\":\"b\",\"c\":\"\"}", why, sizeof why), STORE_OK);
    assert_int_equal(pg_labels_check_text("[]", why, sizeof why), STORE_INVALID);
    assert_string_equal(why, "labels must be a JSON object");
    assert_int_equal(pg_labels_check_text("\"x\"", why, sizeof why), STORE_INVALID);
    assert_int_equal(pg_labels_check_text("{", why, sizeof why), STORE_INVALID);
    assert_int_equal(pg_labels_check_text("{\"a\":1,\"b\":null,\"c\":\"d\"}", why, sizeof why),
                     STORE_INVALID);
    assert_string_equal(why, "every label's value must be a string (2 are not)");
    assert_int_equal(pg_labels_check_text("{\"a\":\"\\u0000\"}", why, sizeof why), STORE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_key_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_structure, setup, teardown),
        cmocka_unit_test(test_arrays_and_labels_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
