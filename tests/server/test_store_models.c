/**
 * @file test_store_models.c
 * @brief The store (server/store.h, SQLite backend): migrations and models.
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
/* Migrations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** test_migrations(), SQLite: the version, the tables and the connection's PRAGMAs. */
static void sqlite_schema_checks(struct fx *f)
{
    assert_true(store_sqlite_schema_version() >= 1);
    assert_int_equal(raw_count(f, "PRAGMA user_version"), store_sqlite_schema_version());
    assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                  "name IN ('models', 'runs', 'results', 'result_chunks')"),
                     4);
    assert_int_equal(raw_count(f, "PRAGMA foreign_keys"), 1);
    /* NORMAL: durable commits are synced by the store's group sync, not by SQLite (STORE.md) */
    assert_int_equal(raw_count(f, "PRAGMA synchronous"), 1);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(store_sqlite_db(f->c), "PRAGMA journal_mode", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
}

/* PostgreSQL: the applied migrations (schema/migrations_pg/) and the tables of the claims. */
#define PG_VERSIONS "SELECT count(*) FROM schema_migrations"
#define PG_TABLES                                                                                  \
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND "    \
    "table_name IN ('models', 'runs', 'results', 'result_chunks', 'run_claims', "                  \
    "'schema_migrations')"

static void test_migrations(void **state)
{
    struct fx *f = *state;
    int64_t versions = 0;
    if (f->pg) {
        versions = raw_count(f, PG_VERSIONS);
        assert_true(versions >= 1);
        assert_int_equal(raw_count(f, PG_TABLES), 6);
    } else {
        sqlite_schema_checks(f);
    }

    /* re-opening applies nothing and keeps the data */
    char mid[STORE_ID_MAX];
    make_model(f, "keep", mid);
    reopen(f);
    reopen(f);
    if (f->pg)
        assert_int_equal(raw_count(f, PG_VERSIONS), versions);
    else
        assert_int_equal(raw_count(f, "PRAGMA user_version"), store_sqlite_schema_version());
    store_model m;
    OK(store_model_get(f->c, mid, &m));
    assert_string_equal(m.name, "keep");
    store_model_clear(&m);

    /* a database from a newer eirnnd is refused, untouched */
    char err[256];
    if (f->pg) {
        raw_exec(f, "", "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
        assert_null(store_open(f->path, NULL, err, sizeof err));
        assert_non_null(strstr(err, "newer"));
        raw_exec(f, "", "DELETE FROM schema_migrations WHERE version = 999");
        assert_int_equal(raw_count(f, PG_VERSIONS), versions);
    } else {
        sqlite3_exec(store_sqlite_db(f->c), "PRAGMA user_version = 999", NULL, NULL, NULL);
        assert_null(store_open(f->path, NULL, err, sizeof err));
        assert_non_null(strstr(err, "newer"));
        sqlite3_exec(store_sqlite_db(f->c), "PRAGMA user_version = 1", NULL, NULL, NULL);
    }

    /* specs that cannot work */
    assert_null(store_open(":memory:", NULL, err, sizeof err));
    assert_null(store_open("postgres://db", NULL, err, sizeof err));
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_null(store_open("", NULL, err, sizeof err));
    assert_null(store_open("/nonexistent-dir/x/y.db", NULL, err, sizeof err));
    assert_true(strlen(err) > 0);
    store *s2 = store_open("sqlite:/tmp/../tmp/eir_store_spec_test.db", NULL, err, sizeof err);
    assert_non_null(s2);
    store_close(s2);
    rm_db_files("/tmp/eir_store_spec_test.db");
}

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */
/* ------------------------------------------------------------------------------------------ */

struct collect {
    char ids[64][STORE_ID_MAX];
    int n;
    int stop_after;
};

static int collect_model(void *ctx, const store_model *m)
{
    struct collect *c = ctx;
    assert_null(m->json);
    assert_int_equal(strlen(m->id), 26);
    snprintf(c->ids[c->n++], STORE_ID_MAX, "%s", m->id);
    return c->stop_after && c->n >= c->stop_after;
}

static void test_models(void **state)
{
    struct fx *f = *state;
    char ids[23][STORE_ID_MAX];
    for (int i = 0; i < 23; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%02d", i);
        make_model(f, name, ids[i]);
        assert_int_equal(strncmp(ids[i], "m_", 2), 0);
    }
    store_model m;
    OK(store_model_get(f->c, ids[4], &m));
    assert_string_equal(m.id, ids[4]);
    assert_string_equal(m.name, "m04");
    assert_string_equal(m.hash, HASH_A);
    assert_int_equal(m.n, 100);
    assert_string_equal(m.json, "{\"name\":\"x\"}");
    assert_true(m.created_at > 1600000000000LL);
    store_model_clear(&m);
    assert_int_equal(store_model_get(f->c, "m_000000000000000000000000", &m), STORE_NOT_FOUND);
    assert_int_equal(store_model_get(f->c, "'; DROP TABLE models; --", &m), STORE_NOT_FOUND);

    /* pages of 5, newest first, every model exactly once */
    struct collect col = {0};
    char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX];
    int pages = 0;
    do {
        int before = col.n;
        OK(store_model_list(f->c, NULL, cursor, 5, collect_model, &col, next));
        pages++;
        assert_int_equal(col.n - before, pages < 5 ? 5 : 3);
        snprintf(cursor, sizeof cursor, "%s", next);
    } while (cursor[0]);
    assert_int_equal(pages, 5);
    assert_int_equal(col.n, 23);
    for (int i = 0; i < 23; i++)
        assert_string_equal(col.ids[i], ids[22 - i]);

    /* a page that is exactly full says there is no next page */
    col.n = 0;
    OK(store_model_list(f->c, NULL, NULL, 23, collect_model, &col, next));
    assert_int_equal(col.n, 23);
    assert_string_equal(next, "");
    /* a callback that stops early gets a cursor continuing after its last row */
    col.n = 0;
    col.stop_after = 2;
    OK(store_model_list(f->c, NULL, NULL, 10, collect_model, &col, next));
    assert_int_equal(col.n, 2);
    col.n = 0;
    col.stop_after = 0;
    OK(store_model_list(f->c, NULL, next, 1, collect_model, &col, next));
    assert_string_equal(col.ids[0], ids[20]);

    assert_int_equal(store_model_list(f->c, NULL, "garbage", 5, collect_model, &col, next),
                     STORE_INVALID);
    assert_int_equal(store_model_list(f->c, NULL, "c1.zz", 5, collect_model, &col, next),
                     STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", "nothex", 1, "{}", NULL, &m), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, -1, "{}", NULL, &m), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, NULL, NULL, &m), STORE_INVALID);
    assert_true(strlen(store_errmsg(f->c)) > 0);

    /* delete: free model goes; a model with runs is refused until its runs are gone */
    int64_t using = -1;
    OK(store_model_delete(f->c, ids[0], &using));
    assert_int_equal(using, 0);
    assert_int_equal(store_model_get(f->c, ids[0], &m), STORE_NOT_FOUND);
    assert_int_equal(store_model_delete(f->c, ids[0], NULL), STORE_NOT_FOUND);

    char r1[STORE_ID_MAX], r2[STORE_ID_MAX];
    make_run(f, ids[1], r1);
    make_run(f, ids[1], r2);
    assert_int_equal(store_model_delete(f->c, ids[1], &using), STORE_CONFLICT);
    assert_int_equal(using, 2);
    assert_non_null(strstr(store_errmsg(f->c), "2 run"));
    OK(store_run_cancel(f->c, r1, NULL));
    OK(store_run_cancel(f->c, r2, NULL));
    OK(store_run_delete(f->c, r1));
    assert_int_equal(store_model_delete(f->c, ids[1], &using), STORE_CONFLICT);
    assert_int_equal(using, 1);
    OK(store_run_delete(f->c, r2));
    OK(store_model_delete(f->c, ids[1], &using));

    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.models, 21);
}

/* Build states (issue 10, item 2): a model created without a hash is pending, listed by
 * store_model_pending() oldest first, and ended once: ready with a hash or failed with an
 * error; a second end is a conflict, an unknown id not found. */
static void test_model_states(void **state)
{
    struct fx *f = *state;
    store_model m, p1, p2, r;
    OK(store_model_create(f->c, "p1", NULL, 3, "{}", NULL, &p1));
    OK(store_model_create(f->c, "ready", HASH_A, 3, "{}", NULL, &r));
    OK(store_model_create(f->c, "p2", NULL, 3, "{}", NULL, &p2));
    assert_int_equal(p1.state, STORE_MODEL_PENDING);
    assert_string_equal(p1.hash, "");
    assert_int_equal(r.state, STORE_MODEL_READY);

    char ids[4][STORE_ID_MAX];
    int n = -1;
    OK(store_model_pending(f->c, ids, 4, &n));
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], p1.id);
    assert_string_equal(ids[1], p2.id);
    OK(store_model_pending(f->c, ids, 1, &n));
    assert_int_equal(n, 1);

    OK(store_model_get(f->c, p1.id, &m));
    assert_int_equal(m.state, STORE_MODEL_PENDING);
    assert_null(m.error);
    assert_true(m.build_s < 0);
    store_model_clear(&m);

    OK(store_model_finish(f->c, p1.id, HASH_B, NULL, 1.5));
    OK(store_model_get(f->c, p1.id, &m));
    assert_int_equal(m.state, STORE_MODEL_READY);
    assert_string_equal(m.hash, HASH_B);
    assert_true(m.build_s == 1.5);
    store_model_clear(&m);
    assert_int_equal(store_model_finish(f->c, p1.id, HASH_A, NULL, 1), STORE_CONFLICT);
    assert_int_equal(store_model_finish(f->c, r.id, HASH_A, NULL, 1), STORE_CONFLICT);

    OK(store_model_finish(f->c, p2.id, NULL, "{\"detail\":\"no\"}", 0.25));
    OK(store_model_get(f->c, p2.id, &m));
    assert_int_equal(m.state, STORE_MODEL_FAILED);
    assert_string_equal(m.hash, "");
    assert_string_equal(m.error, "{\"detail\":\"no\"}");
    store_model_clear(&m);
    OK(store_model_pending(f->c, ids, 4, &n));
    assert_int_equal(n, 0);

    assert_int_equal(store_model_finish(f->c, "m_000000000000000000000000", HASH_A, NULL, 1),
                     STORE_NOT_FOUND);
    assert_int_equal(store_model_finish(f->c, p2.id, "nothex", NULL, 1), STORE_INVALID);
    assert_int_equal(store_model_finish(f->c, p2.id, NULL, NULL, 1), STORE_INVALID);
    store_model_clear(&p1);
    store_model_clear(&p2);
    store_model_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_states, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_models", tests, NULL, NULL);
}
