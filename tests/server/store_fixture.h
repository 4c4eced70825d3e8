/**
 * @file store_fixture.h
 * @brief Shared fixture of the store's tests (tests/server/test_store_*.c): a fresh directory
 *        and database per test, and helpers that make models, runs and claims. Header-only
 *        (static inline), since every test file is an executable of its own.
 *
 * Backends: SQLite by default (a file in the test's directory); with EIRNN_TEST_STORE=pg (the
 * ctest tests server/pg/<name>, fixture pg) a fresh database of the test cluster
 * (eir_test_pg_newdb(), dropped at teardown), whose URL is the store's spec in fx.path. Every
 * case runs on both; a case about SQLite itself (its file, WAL, PRAGMAs, writer lock, raw
 * sqlite3 handle) starts with SKIP_ON_PG(f, "why"), which cmocka reports as skipped.
 */
#ifndef EIR_STORE_FIXTURE_H
#define EIR_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "eir_test_pg.h"
#include "store.h"
#include "store_sqlite.h"

/* ------------------------------------------------------------------------------------------ */
/* Fixture: a fresh directory and database per test                                           */
/* ------------------------------------------------------------------------------------------ */

struct fx {
    char dir[64];   /**< the test's own directory (SQLite: its database file is in it) */
    char path[512]; /**< the store's spec: the SQLite file, or the PostgreSQL database's URL */
    int pg;         /**< 1: the store is PostgreSQL (EIRNN_TEST_STORE=pg) */
    store *s;
    store_conn *c;
};

/** Skip the running case on PostgreSQL, saying @p why (a case about SQLite itself). */
#define SKIP_ON_PG(f, why)                                                                         \
    do {                                                                                           \
        if ((f)->pg) {                                                                             \
            print_message("[  SKIP    ] on PostgreSQL: %s\n", (why));                              \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static inline void rm_db_files(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[600]; /* fx.path and a suffix */
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static store *open_store(const char *path, size_t chunk)
{
    store_config cfg;
    store_config_default(&cfg);
    if (chunk) cfg.chunk_size = chunk;
    char err[256];
    store *s = store_open(path, &cfg, err, sizeof err);
    if (!s) fail_msg("store_open(%s): %s", path, err);
    return s;
}

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/eir_store_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->pg = eir_test_pg_wanted();
    if (f->pg) {
        if (eir_test_pg_newdb(f->path, sizeof f->path) != 0)
            fail_msg("no PostgreSQL database for the test (see above)");
    } else {
        snprintf(f->path, sizeof f->path, "%s/eirnn.db", f->dir);
    }
    f->s = open_store(f->path, 1000); /* small chunks: every result spans several */
    f->c = store_connect(f->s);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;
    store_disconnect(f->c);
    store_close(f->s);
    if (f->pg)
        eir_test_pg_dropdb(f->path); /* on failure, the cluster's removal takes it */
    else
        rm_db_files(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/** Close and reopen the store (a restart). */
static inline void reopen(struct fx *f)
{
    store_disconnect(f->c);
    store_close(f->s);
    f->s = open_store(f->path, 1000);
    f->c = store_connect(f->s);
    assert_non_null(f->c);
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        store_status st_ = (call);                                                                 \
        if (st_ != STORE_OK)                                                                       \
            fail_msg("%s: %s (%s)", #call, store_status_name(st_), store_errmsg(f->c));            \
    } while (0)

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static inline void make_model(struct fx *f, const char *name, char id[STORE_ID_MAX])
{
    store_model m;
    OK(store_model_create(f->c, name, HASH_A, 100, "{\"name\":\"x\"}", NULL, &m));
    snprintf(id, STORE_ID_MAX, "%s", m.id);
    store_model_clear(&m);
}

static inline void make_run(struct fx *f, const char *model_id, char id[STORE_ID_MAX])
{
    store_run_new in = {.model_id = model_id, .request_json = "{\"dt\":0.1}", .progress_total = 50};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

static inline void claim(struct fx *f, char id[STORE_ID_MAX])
{
    store_run r;
    OK(store_run_claim(f->c, &r));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

/** The attempt number of run @p id now (the fence of its claim's writes, store.h); the tests
 *  that are not about fencing write as the claim's holder. 0 when there is no such run. */
static inline int attempt_of(struct fx *f, const char *id)
{
    store_run r;
    if (store_run_get(f->c, id, &r) != STORE_OK) return 0;
    int a = r.attempts;
    store_run_clear(&r);
    return a;
}

static inline store_run_status status_of(struct fx *f, const char *id)
{
    store_run r;
    OK(store_run_get(f->c, id, &r));
    store_run_status s = r.status;
    store_run_clear(&r);
    return s;
}

/**
 * The integer that @p sql (SQL of the store's backend) gives: SQLite reads it on @p c's own
 * database handle (what @p c sees), PostgreSQL on a connection of its own (what is committed).
 */
static inline int64_t raw_count_on(struct fx *f, store_conn *c, const char *sql)
{
    if (f->pg) {
        int64_t v = 0;
        if (eir_test_pg_scalar(f->path, sql, &v) != 0) fail_msg("%s: failed (see above)", sql);
        return v;
    }
    sqlite3 *db = store_sqlite_db(c);
    assert_non_null(db);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/** raw_count_on() the fixture's connection. */
static inline int64_t raw_count(struct fx *f, const char *sql)
{
    return raw_count_on(f, f->c, sql);
}

/**
 * Run raw SQL beside the store, for a state the store's API cannot make (a damaged chunk, a
 * leftover): @p sqlite_sql on SQLite (on @p c's database handle), @p pg_sql on PostgreSQL (a
 * connection of its own); the two schemas differ in their types (docs/STORE.md).
 */
static inline void raw_exec_on(struct fx *f, store_conn *c, const char *sqlite_sql,
                               const char *pg_sql)
{
    if (f->pg) {
        if (eir_test_pg_exec(f->path, pg_sql) != 0) fail_msg("%s: failed (see above)", pg_sql);
        return;
    }
    char *err = NULL;
    if (sqlite3_exec(store_sqlite_db(c), sqlite_sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sqlite_sql, err ? err : "?");
}

/** raw_exec_on() the fixture's connection. */
static inline void raw_exec(struct fx *f, const char *sqlite_sql, const char *pg_sql)
{
    raw_exec_on(f, f->c, sqlite_sql, pg_sql);
}

/**
 * The daemon that held the running runs is gone: on PostgreSQL, where store_requeue_orphans()
 * takes back only runs whose lease expired (other daemons' runs are alive), their leases are
 * made to have expired; on SQLite (requeue_orphans takes every running run at start) nothing.
 */
static inline void expire_leases(struct fx *f)
{
    if (f->pg) raw_exec(f, "", "UPDATE runs SET lease_expires_at = 1 WHERE status = 1");
}

/** A store whose finishes commit every @p batch bytes (store_config::batch_bytes). */
static inline store *open_batched(const char *path, size_t chunk, size_t batch)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.chunk_size = chunk;
    cfg.batch_bytes = batch;
    char err[256];
    store *s = store_open(path, &cfg, err, sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

/**
 * A model (its id in @p mid) and a claimed (running) run in @p run, then the store restarted with
 * chunks of
 * @p chunk bytes and, when @p batch is not 0, finishes committed every @p batch bytes: the
 * starting point of the large-finish tests.
 */
static inline void running_run_reopened(struct fx *f, char mid[STORE_ID_MAX],
                                        char run[STORE_ID_MAX], size_t chunk, size_t batch)
{
    char got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);
    store_disconnect(f->c);
    store_close(f->s);
    f->s = batch ? open_batched(f->path, chunk, batch) : open_store(f->path, chunk);
    f->c = store_connect(f->s);
    assert_non_null(f->c);
}

#endif /* EIR_STORE_FIXTURE_H */
