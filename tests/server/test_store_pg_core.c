/**
 * @file test_store_pg_core.c
 * @brief The PostgreSQL backend's own machinery (server/store_pg_conn.c, store_pg_open.c,
 *        store_pg_watch.c): migrations under the advisory lock, the connection pool (busy,
 *        deadline, reconnect after the server dropped its sessions), the lock timeout, the
 *        SQLSTATE mapping, notifications and the claimant. Every case needs PostgreSQL: on
 *        SQLite (server/test_store_pg_core) each skips, saying so; server/pg/test_store_pg_core
 *        runs them on the fixture's cluster.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "eir_clock.h"
#include "store_fixture.h"
#include "store_pg.h"
#include "store_pg_int.h"

/** Skip the running case on SQLite. */
#define PG_ONLY(f)                                                                                 \
    do {                                                                                           \
        if (!(f)->pg) {                                                                            \
            print_message("[  SKIP    ] on SQLite: a case of the PostgreSQL backend\n");           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/** A store on @p url with a pool of @p pool and a busy timeout of @p busy_ms. */
static store *open_pg(const char *url, int pool, int busy_ms, const char *claimant)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.pool_size = pool;
    cfg.busy_timeout_ms = busy_ms;
    cfg.claimant = claimant;
    char err[256];
    store *s = store_open(url, &cfg, err, sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

static int64_t scalar(struct fx *f, const char *sql)
{
    int64_t v = -1;
    if (eir_test_pg_scalar(f->path, sql, &v) != 0) fail_msg("query failed: %s", sql);
    return v;
}

/** End every session on the test's database but the caller's (a restart, as seen by clients). */
static void terminate_sessions(struct fx *f)
{
    assert_int_equal(eir_test_pg_exec(f->path,
                                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = current_database() "
                                      "AND pid <> pg_backend_pid()"),
                     0);
    eir_clock_sleep(0.2);
}

struct opener {
    const char *url;
    int ok;
    char err[256];
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;
    store *s = store_open(o->url, NULL, o->err, sizeof o->err);
    o->ok = s != NULL;
    store_close(s);
    return NULL;
}

static void test_pg_migrations(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    assert_int_equal(scalar(f, "SELECT count(*) FROM schema_migrations"),
                     store_pg_schema_version());
    assert_int_equal(scalar(f, "SELECT max(version) FROM schema_migrations"),
                     store_pg_schema_version());
    /* chunks are stored uncompressed out of line: byte ranges read only their slices */
    assert_int_equal(scalar(f, "SELECT (attstorage = 'e')::int FROM pg_attribute WHERE "
                               "attrelid = 'result_chunks'::regclass AND attname = 'data'"),
                     1);
    reopen(f);
    assert_int_equal(scalar(f, "SELECT count(*) FROM schema_migrations"),
                     store_pg_schema_version());

    /* daemons starting together on a fresh database: one migrates, the others wait for it */
    char url[512];
    assert_int_equal(eir_test_pg_newdb(url, sizeof url), 0);
    struct opener o[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        o[i] = (struct opener){.url = url};
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (!o[i].ok) fail_msg("concurrent open %d: %s", i, o[i].err);
    }
    int64_t n = -1;
    assert_int_equal(eir_test_pg_scalar(url, "SELECT count(*) FROM schema_migrations", &n), 0);
    assert_int_equal(n, store_pg_schema_version());
    eir_test_pg_dropdb(url);
}

static void test_pg_pool_busy(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store *s = open_pg(f->path, 2, 300, NULL);
    store_conn *a = store_connect(s), *b = store_connect(s), *d = store_connect(s);
    assert_true(a && b && d);
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    assert_int_equal(pg_borrow(PGC(a)), STORE_OK);
    assert_int_equal(pg_borrow(PGC(b)), STORE_OK);
    store_model m;
    double t0 = eir_clock_mono();
    assert_int_equal(store_model_get(d, mid, &m), STORE_BUSY);
    double waited = eir_clock_mono() - t0;
    assert_non_null(strstr(store_errmsg(d), "all 2 database connections are busy"));
    assert_true(waited >= 0.25 && waited < 3);
    /* the conn's deadline ends the wait first */
    store_set_deadline(d, eir_clock_mono() + 0.05);
    t0 = eir_clock_mono();
    assert_int_equal(store_model_get(d, mid, &m), STORE_BUSY);
    assert_true(eir_clock_mono() - t0 < 0.25);
    store_set_deadline(d, 0);
    /* a connection given back serves the next borrow */
    pg_return(PGC(a));
    assert_int_equal(store_model_get(d, mid, &m), STORE_OK);
    assert_string_equal(m.id, mid);
    store_model_clear(&m);
    pg_return(PGC(b));
    store_pg_pool_stats ps;
    store_pg_pool_stats_get(s, &ps);
    assert_int_equal(ps.size, 2);
    assert_true(ps.open <= 2 && ps.idle == ps.open);
    assert_true(ps.waits >= 2);
    store_disconnect(a);
    store_disconnect(b);
    store_disconnect(d);
    store_close(s);
}

static void test_pg_reconnect(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_pg_pool_stats before, after;
    store_pg_pool_stats_get(f->s, &before);
    assert_true(before.idle >= 1);
    terminate_sessions(f);
    /* the pooled connection the server dropped is replaced before it is handed out */
    store_model m;
    OK(store_model_get(f->c, mid, &m));
    store_model_clear(&m);
    store_pg_pool_stats_get(f->s, &after);
    assert_true(after.dropped >= before.dropped + 1);
    assert_true(after.made >= before.made + 1);
}

static void test_pg_lock_timeout(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store *s = open_pg(f->path, 2, 300, NULL);
    store_conn *c = store_connect(s);
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    /* another session holds the model's row lock */
    PGconn *raw = PQconnectdb(f->path);
    assert_int_equal(PQstatus(raw), CONNECTION_OK);
    const char *params[1] = {mid};
    PQclear(PQexec(raw, "BEGIN"));
    PGresult *r = PQexecParams(raw, "SELECT 1 FROM models WHERE id = $1 FOR UPDATE", 1, NULL,
                               params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    double t0 = eir_clock_mono();
    assert_int_equal(store_model_delete(c, mid, NULL), STORE_BUSY);
    assert_true(eir_clock_mono() - t0 < 3);
    assert_non_null(strstr(store_errmsg(c), "55P03"));
    PQclear(PQexec(raw, "ROLLBACK"));
    PQfinish(raw);
    assert_int_equal(store_model_delete(c, mid, NULL), STORE_OK);
    store_disconnect(c);
    store_close(s);
}

static void test_pg_prepared_gone(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    char mid[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_model m;
    OK(store_model_get(f->c, mid, &m)); /* the read is now prepared on the pooled connection */
    store_model_clear(&m);
    /* the session forgets its prepared statements (as behind a transaction-pooling proxy) */
    struct pgs_conn *pc = PGC(f->c);
    assert_int_equal(pg_borrow(pc), STORE_OK);
    PGresult *r = PQexec(pc->db, "DEALLOCATE ALL");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_non_null(pc->prep);
    pg_return(pc);
    /* the read runs again unprepared, and the connection stops preparing */
    OK(store_model_get(f->c, mid, &m));
    assert_string_equal(m.id, mid);
    store_model_clear(&m);
    assert_int_equal(pg_borrow(pc), STORE_OK);
    assert_null(pc->prep);
    pg_return(pc);
    OK(store_model_delete(f->c, mid, NULL));
}

static void test_pg_errors(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    static const struct {
        const char *state;
        store_status st;
    } map[] = {{NULL, STORE_BUSY},       {"", STORE_BUSY},          {"08006", STORE_BUSY},
               {"57P01", STORE_BUSY},    {"57P03", STORE_BUSY},     {"40001", STORE_BUSY},
               {"40P01", STORE_BUSY},    {"55P03", STORE_BUSY},     {"53300", STORE_BUSY},
               {"53100", STORE_FULL},    {"23505", STORE_CONFLICT}, {"23503", STORE_NOT_FOUND},
               {"22P02", STORE_INVALID}, {"23514", STORE_INVALID},  {"42P01", STORE_ERROR},
               {"XX000", STORE_ERROR}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        assert_int_equal(pg_status_of(map[i].state), map[i].st);
    /* text PostgreSQL refuses (not UTF-8) is a bad argument, with nothing stored */
    store_model m;
    assert_int_equal(store_model_create(f->c, "bad\xff", HASH_A, 1, "{}", NULL, &m), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "SQLSTATE 22"));
    assert_int_equal(scalar(f, "SELECT count(*) FROM models"), 0);
    /* labels that are not an object of strings */
    assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, "{}", "{\"a\":1}", &m),
                     STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, "{}", "[1]", &m), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, "{}", "{nope", &m), STORE_INVALID);
    assert_int_equal(scalar(f, "SELECT count(*) FROM models"), 0);
    assert_int_equal(scalar(f, "SELECT count(*) FROM labels"), 0);
}

/** What the notification callback saw. */
struct seen {
    int n;
    store_change_kind kind;
    char id[STORE_ID_MAX];
};

static void on_change(void *ctx, store_change_kind kind, const char *id)
{
    struct seen *s = ctx;
    s->n++;
    s->kind = kind;
    snprintf(s->id, sizeof s->id, "%s", id);
}

/** changes_wait on @p w for up to @p timeout; fails the test unless it answers @p want. */
static int wait_change(store_conn *w, double timeout, struct seen *seen)
{
    int changed = -1;
    store_status st = store_changes_wait(w, timeout, on_change, seen, &changed);
    if (st != STORE_OK) fail_msg("changes_wait: %s (%s)", store_status_name(st), store_errmsg(w));
    return changed;
}

static void test_pg_notifications(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    assert_int_equal(store_notifies(f->s), 1);
    store_conn *w = store_connect(f->s);
    struct seen seen = {0};
    assert_int_equal(wait_change(w, 0, &seen), 1); /* first call: unknown past */
    assert_int_equal(wait_change(w, 0, &seen), 0);
    assert_int_equal(seen.n, 0);
    /* a model created on another store handle (another daemon): "o <id>" within a second */
    store *other = open_pg(f->path, 2, 1000, NULL);
    store_conn *oc = store_connect(other);
    store_model m;
    assert_int_equal(store_model_create(oc, "p", NULL, 3, "{}", NULL, &m), STORE_OK);
    double t0 = eir_clock_mono();
    assert_int_equal(wait_change(w, 2, &seen), 1);
    assert_true(eir_clock_mono() - t0 < 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.kind, STORE_CHANGE_OTHER);
    assert_string_equal(seen.id, m.id);
    assert_int_equal(store_model_finish(oc, m.id, HASH_B, NULL, 0.5), STORE_OK);
    assert_int_equal(store_model_delete(oc, m.id, NULL), STORE_OK);
    seen.n = 0;
    for (int i = 0; i < 20 && seen.n < 2; i++)
        wait_change(w, 0.2, &seen);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.id, m.id);
    /* a refused write sends nothing (the notification is in its rolled-back transaction) */
    assert_int_equal(store_model_finish(oc, m.id, HASH_B, NULL, 0.5), STORE_NOT_FOUND);
    seen.n = 0;
    assert_int_equal(wait_change(w, 0.2, &seen), 0);
    assert_int_equal(seen.n, 0);
    store_model_clear(&m);
    /* the listener's session ended: busy (changed = 1), then a fresh listener reports 1 */
    terminate_sessions(f);
    int changed = -1;
    store_status st = store_changes_wait(w, 0.2, NULL, NULL, &changed);
    assert_int_equal(changed, 1);
    if (st != STORE_OK) assert_int_equal(st, STORE_BUSY);
    assert_int_equal(wait_change(w, 0, &seen), st == STORE_OK ? 0 : 1);
    assert_int_equal(wait_change(w, 0, &seen), 0);
    assert_int_equal(store_model_create(oc, "q", HASH_A, 3, "{}", NULL, &m), STORE_OK);
    store_model_clear(&m);
    assert_int_equal(wait_change(w, 1, &seen), 1);
    store_disconnect(oc);
    store_close(other);
    store_disconnect(w);
}

/** A transaction body that queues what its ctx says, then commits or not. */
struct note_tx {
    int n;            /**< notifications to queue: "e r_note_<k>" */
    store_status end; /**< what the body returns (not ::STORE_OK: roll back) */
};

static store_status note_body(struct pgs_conn *pc, void *arg)
{
    struct note_tx *t = arg;
    for (int k = 0; k < t->n; k++) {
        char id[STORE_ID_MAX];
        snprintf(id, sizeof id, "r_note_%d", k);
        pg_notify(pc, PG_NOTE_ENDED, id);
        pg_notify(pc, PG_NOTE_ENDED, id); /* a duplicate is sent once */
    }
    return t->end == STORE_OK ? STORE_OK : pg_fail(pc, t->end, "rolled back by the test");
}

/** Notifications are queued by the write and sent after its COMMIT: none after a rollback, one
 *  per distinct payload after a commit, and many collapse into an 'o' and an 'e' with no id. */
static void test_pg_notify_after_commit(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store_conn *w = store_connect(f->s);
    struct seen seen = {0};
    assert_int_equal(wait_change(w, 0, &seen), 1); /* first call: unknown past */
    store *other = open_pg(f->path, 2, 1000, NULL);
    store_conn *oc = store_connect(other);
    /* rolled back: nothing arrives, and nothing is left queued for the next write */
    struct note_tx tx = {2, STORE_CONFLICT};
    assert_int_equal(pg_tx_run(PGC(oc), note_body, &tx), STORE_CONFLICT);
    assert_int_equal(wait_change(w, 0.3, &seen), 0);
    assert_int_equal(seen.n, 0);
    /* committed: each distinct payload once, the duplicates not */
    tx.end = STORE_OK;
    assert_int_equal(pg_tx_run(PGC(oc), note_body, &tx), STORE_OK);
    for (int i = 0; i < 20 && seen.n < 2; i++)
        wait_change(w, 0.1, &seen);
    wait_change(w, 0.2, &seen); /* nothing more comes */
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.kind, STORE_CHANGE_ENDED);
    assert_string_equal(seen.id, "r_note_1");
    /* more than PG_NOTES_MAX: "o " then "e " (no id: the watcher looks at every waited run) */
    seen.n = 0;
    tx.n = PG_NOTES_MAX + 10;
    assert_int_equal(pg_tx_run(PGC(oc), note_body, &tx), STORE_OK);
    for (int i = 0; i < 20 && seen.n < 2; i++)
        wait_change(w, 0.1, &seen);
    wait_change(w, 0.2, &seen); /* nothing more comes */
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.kind, STORE_CHANGE_ENDED);
    assert_string_equal(seen.id, "");
    /* a real write that commits in autocommit (a queued run cancelled) notifies after it */
    store_model m;
    assert_int_equal(store_model_create(oc, "n", HASH_A, 3, "{}", NULL, &m), STORE_OK);
    store_run_new in = {0};
    in.model_id = m.id;
    in.request_json = "{}";
    in.max_attempts = 1;
    store_run r;
    int created = 0;
    assert_int_equal(store_run_create(oc, &in, &r, &created), STORE_OK);
    store_run_status now;
    assert_int_equal(store_run_cancel(oc, r.id, &now), STORE_OK);
    assert_int_equal(now, STORE_RUN_CANCELLED);
    seen.n = 0;
    seen.kind = STORE_CHANGE_OTHER;
    for (int i = 0; i < 20 && seen.kind != STORE_CHANGE_ENDED; i++)
        wait_change(w, 0.1, &seen);
    assert_int_equal(seen.kind, STORE_CHANGE_ENDED);
    assert_string_equal(seen.id, r.id);
    store_run_clear(&r);
    store_model_clear(&m);
    store_disconnect(oc);
    store_close(other);
    store_disconnect(w);
}

/** Two store handles on one database (two daemons): each one's callback gets the other's
 *  notifications and not its own, which still count as a change (changed = 1). Both payload
 *  paths: pg_notify() from C (a run created: q) and in a statement's SQL (a claim: p). */
static void test_pg_notifications_origin(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    store *other = open_pg(f->path, 2, 1000, NULL);
    store_conn *wa = store_connect(f->s), *wb = store_connect(other), *ob = store_connect(other);
    assert_non_null(wa);
    assert_non_null(wb);
    assert_non_null(ob);
    struct seen sa = {0}, sb = {0};
    assert_int_equal(wait_change(wa, 0, &sa), 1); /* first calls: unknown past */
    assert_int_equal(wait_change(wb, 0, &sb), 1);
    assert_int_equal(wait_change(wa, 0, &sa), 0);
    assert_int_equal(wait_change(wb, 0, &sb), 0);

    /* A queues a run: A's own "q" is a change without a callback; B is told */
    char mid[STORE_ID_MAX], rid[STORE_ID_MAX];
    make_model(f, "m", mid);
    assert_int_equal(wait_change(wa, 2, &sa), 1);
    assert_int_equal(wait_change(wb, 2, &sb), 1);
    assert_int_equal(sa.n, 0);
    assert_int_equal(sb.n, 1);
    assert_int_equal(sb.kind, STORE_CHANGE_OTHER);
    assert_string_equal(sb.id, mid);
    make_run(f, mid, rid);
    sb.n = 0;
    assert_int_equal(wait_change(wa, 2, &sa), 1);
    assert_int_equal(wait_change(wb, 2, &sb), 1);
    assert_int_equal(sa.n, 0);
    assert_int_equal(sb.n, 1);
    assert_int_equal(sb.kind, STORE_CHANGE_QUEUED);
    assert_string_equal(sb.id, rid);

    /* B claims it (the notification sent by the claim's own SQL): A is told, B is not */
    store_run r;
    assert_int_equal(store_run_claim(ob, &r), STORE_OK);
    assert_string_equal(r.id, rid);
    sb.n = 0;
    assert_int_equal(wait_change(wb, 2, &sb), 1);
    assert_int_equal(wait_change(wa, 2, &sa), 1);
    assert_int_equal(sb.n, 0);
    assert_int_equal(sa.n, 1);
    assert_int_equal(sa.kind, STORE_CHANGE_PROGRESS);
    assert_string_equal(sa.id, rid);
    /* nothing more is pending on either */
    assert_int_equal(wait_change(wa, 0.2, &sa), 0);
    assert_int_equal(wait_change(wb, 0.2, &sb), 0);
    store_run_clear(&r);
    store_disconnect(ob);
    store_disconnect(wb);
    store_disconnect(wa);
    store_close(other);
}

static void test_pg_claimant(void **state)
{
    struct fx *f = *state;
    PG_ONLY(f);
    const char *made = store_pg_claimant(f->s);
    assert_non_null(made);
    /* "<hostname>:<pid>:<8 hex>" */
    const char *last = strrchr(made, ':');
    assert_non_null(last);
    assert_int_equal(strlen(last + 1), 8);
    char pid[32];
    snprintf(pid, sizeof pid, ":%ld:", (long)getpid());
    assert_non_null(strstr(made, pid));
    store *s = open_pg(f->path, 1, 1000, "daemon-a");
    assert_string_equal(store_pg_claimant(s), "daemon-a");
    assert_non_null(store_pg_url(s));
    assert_null(store_pg_url(NULL));
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_pool_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_lock_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_prepared_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_notify_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_notifications_origin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_claimant, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
