/**
 * @file test_store.c
 * @brief The storage layer (server/store.h) on its SQLite backend: migrations, models, the run
 *        queue, chunked results, crash recovery, a full disk and misuse.
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

#include "../../engine/src/sha256.h"
#include "eir_time_scale.h"
#include "store.h"
#include "store_sqlite.h"

/* ------------------------------------------------------------------------------------------ */
/* Fixture: a fresh directory and database per test                                           */
/* ------------------------------------------------------------------------------------------ */

struct fx {
    char dir[64];
    char path[96];
    store *s;
    store_conn *c;
};

static void rm_db_files(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[128];
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

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/eir_store_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/eirnn.db", f->dir);
    f->s = open_store(f->path, 1000); /* small chunks: every result spans several */
    f->c = store_connect(f->s);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_disconnect(f->c);
    store_close(f->s);
    rm_db_files(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/** Close and reopen the store (a restart). */
static void reopen(struct fx *f)
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

static const char *HASH_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *HASH_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void make_model(struct fx *f, const char *name, char id[STORE_ID_MAX])
{
    store_model m;
    OK(store_model_create(f->c, name, HASH_A, 100, "{\"name\":\"x\"}", &m));
    snprintf(id, STORE_ID_MAX, "%s", m.id);
    store_model_clear(&m);
}

static void make_run(struct fx *f, const char *model_id, char id[STORE_ID_MAX])
{
    store_run_new in = {.model_id = model_id, .request_json = "{\"dt\":0.1}", .progress_total = 50};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

static void claim(struct fx *f, char id[STORE_ID_MAX])
{
    store_run r;
    OK(store_run_claim(f->c, &r));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

static store_run_status status_of(struct fx *f, const char *id)
{
    store_run r;
    OK(store_run_get(f->c, id, &r));
    store_run_status s = r.status;
    store_run_clear(&r);
    return s;
}

static int64_t raw_count(struct fx *f, const char *sql)
{
    sqlite3 *db = store_sqlite_db(f->c);
    assert_non_null(db);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* Migrations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void test_migrations(void **state)
{
    struct fx *f = *state;
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

    /* re-opening applies nothing and keeps the data */
    char mid[STORE_ID_MAX];
    make_model(f, "keep", mid);
    reopen(f);
    reopen(f);
    assert_int_equal(raw_count(f, "PRAGMA user_version"), store_sqlite_schema_version());
    store_model m;
    OK(store_model_get(f->c, mid, &m));
    assert_string_equal(m.name, "keep");
    store_model_clear(&m);

    /* a database from a newer eirnnd is refused, untouched */
    sqlite3_exec(store_sqlite_db(f->c), "PRAGMA user_version = 999", NULL, NULL, NULL);
    char err[256];
    assert_null(store_open(f->path, NULL, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    sqlite3_exec(store_sqlite_db(f->c), "PRAGMA user_version = 1", NULL, NULL, NULL);

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
        OK(store_model_list(f->c, cursor, 5, collect_model, &col, next));
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
    OK(store_model_list(f->c, NULL, 23, collect_model, &col, next));
    assert_int_equal(col.n, 23);
    assert_string_equal(next, "");
    /* a callback that stops early gets a cursor continuing after its last row */
    col.n = 0;
    col.stop_after = 2;
    OK(store_model_list(f->c, NULL, 10, collect_model, &col, next));
    assert_int_equal(col.n, 2);
    col.n = 0;
    col.stop_after = 0;
    OK(store_model_list(f->c, next, 1, collect_model, &col, next));
    assert_string_equal(col.ids[0], ids[20]);

    assert_int_equal(store_model_list(f->c, "garbage", 5, collect_model, &col, next),
                     STORE_INVALID);
    assert_int_equal(store_model_list(f->c, "c1.zz", 5, collect_model, &col, next), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", "nothex", 1, "{}", &m), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, -1, "{}", &m), STORE_INVALID);
    assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, NULL, &m), STORE_INVALID);
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
        st = store_finish_begin(c, r.id);
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
    assert_int_equal(store_run_progress(f->c, run, 1, 0, &cancel), STORE_CONFLICT); /* queued */
    assert_int_equal(store_run_progress(f->c, "r_nope", 1, 0, &cancel), STORE_NOT_FOUND);
    claim(f, got);
    assert_string_equal(got, run);

    OK(store_run_progress(f->c, run, 10, 0, &cancel));
    assert_int_equal(cancel, 0);
    store_run r;
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.progress_done, 10);
    assert_int_equal(r.progress_total, 50); /* 0 keeps the total */
    store_run_clear(&r);
    OK(store_run_progress(f->c, run, 20, 80, NULL));
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
    OK(store_run_progress(f->c, run, 30, 0, &cancel));
    assert_int_equal(cancel, 1);
    OK(store_run_get(f->c, run, &r));
    assert_int_equal(r.cancel_requested, 1);
    assert_int_equal(r.status, STORE_RUN_RUNNING);
    store_run_clear(&r);
    OK(store_finish_begin(f->c, run));
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
    OK(store_finish_begin(f->c, done_run));
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
    OK(store_run_release(f->c, rel, &now));
    assert_int_equal(now, STORE_RUN_QUEUED);
    OK(store_run_get(f->c, rel, &r));
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.started_at, 0);
    store_run_clear(&r);
    assert_int_equal(store_run_release(f->c, rel, &now), STORE_CONFLICT);
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
    OK(store_finish_begin(f->c, a));
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

/* ------------------------------------------------------------------------------------------ */
/* Finishing with chunked results                                                             */
/* ------------------------------------------------------------------------------------------ */

static void sha_hex(const void *p, size_t n, char hex[65])
{
    eir_sha256_hex_of(p, n, hex);
}

struct bad_seen {
    int n;
    char run[STORE_ID_MAX];
    char var[STORE_VAR_MAX];
};

static void on_bad(void *ctx, const char *run_id, const char *var, const char *why)
{
    struct bad_seen *b = ctx;
    assert_non_null(why);
    b->n++;
    snprintf(b->run, sizeof b->run, "%s", run_id);
    snprintf(b->var, sizeof b->var, "%s", var);
}

static int count_result(void *ctx, const store_result_info *info)
{
    int *n = ctx;
    assert_int_equal(info->chunk_count, info->total_bytes ? 1 + (info->total_bytes - 1) / 1000 : 0);
    (*n)++;
    return 0;
}

static void test_finish_chunked(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);

    /* not running yet */
    assert_int_equal(store_finish_begin(f->c, run), STORE_CONFLICT);
    assert_int_equal(store_finish_begin(f->c, "r_nope"), STORE_NOT_FOUND);
    assert_int_equal(store_result_begin(f->c, "V", "float64", 1, (int64_t[]){1}), STORE_INVALID);
    claim(f, got);

    /* V: float64 [3, 7, 50] = 8400 bytes = 9 chunks of 1000 (chunk size of the fixture) */
    enum { NV = 3 * 7 * 50 };
    double *v = malloc(NV * sizeof *v);
    for (int i = 0; i < NV; i++)
        v[i] = i * 0.25 - 17.0;
    char v_hex[65];
    sha_hex(v, NV * sizeof *v, v_hex);
    float r[10];
    for (int i = 0; i < 10; i++)
        r[i] = (float)i;

    /* a wrong checksum rolls the whole finish back */
    OK(store_finish_begin(f->c, run));
    assert_int_equal(store_finish_begin(f->c, run), STORE_CONFLICT);
    store_run tmp;
    assert_int_equal(store_run_get(f->c, run, &tmp), STORE_INVALID); /* finish in progress */
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    OK(store_result_append(f->c, r, sizeof r));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "V", "float64", 3, (int64_t[]){3, 7, 50}));
    OK(store_result_append(f->c, v, NV * sizeof *v));
    assert_int_equal(store_result_end(f->c, HASH_A), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "checksum"));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "rolled back"));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);

    /* misuse rolls back too: too many bytes, bad names, an unended result, a non-final status */
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    assert_int_equal(store_result_append(f->c, v, 41), STORE_INVALID);
    OK(store_finish_begin(f->c, run));
    assert_int_equal(store_result_begin(f->c, "bad name", "float32", 0, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run));
    assert_int_equal(store_result_begin(f->c, "x", "complex128", 0, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "x", "float32", 1, (int64_t[]){2}));
    OK(store_result_append(f->c, r, 4));
    assert_int_equal(store_result_end(f->c, NULL), STORE_INVALID); /* short */
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "x", "float32", 1, (int64_t[]){2}));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run));
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_RUNNING, NULL, NULL), STORE_INVALID);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "x", "float32", 0, NULL));
    OK(store_result_append(f->c, r, 4));
    OK(store_result_end(f->c, NULL));
    assert_int_equal(store_result_begin(f->c, "x", "float32", 0, NULL), STORE_INVALID); /* twice */
    OK(store_finish_begin(f->c, run));
    store_finish_abort(f->c);
    store_finish_abort(f->c);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);

    /* the real thing: V appended in uneven pieces (1, 999, 1500, 3000 direct, rest) */
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "V", "float64", 3, (int64_t[]){3, 7, 50}));
    const unsigned char *p = (const unsigned char *)v;
    size_t cuts[] = {1, 999, 1500, 3000, NV * sizeof(double) - 5500};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        OK(store_result_append(f->c, p, cuts[i]));
        p += cuts[i];
    }
    OK(store_result_end(f->c, v_hex));
    OK(store_result_begin(f->c, "r", "float32", 2, (int64_t[]){2, 5}));
    OK(store_result_append(f->c, r, sizeof r));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "empty", "float32", 2, (int64_t[]){0, 5}));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{\"engine\":\"1.0.0\"}", NULL));

    store_run rr;
    OK(store_run_get(f->c, run, &rr));
    assert_int_equal(rr.status, STORE_RUN_SUCCEEDED);
    assert_true(rr.finished_at >= rr.started_at);
    assert_string_equal(rr.meta_json, "{\"engine\":\"1.0.0\"}");
    assert_null(rr.error_json);
    store_run_clear(&rr);

    store_result_info info;
    OK(store_result_info_get(f->c, run, "V", &info));
    assert_string_equal(info.var, "V");
    assert_string_equal(info.dtype, "float64");
    assert_int_equal(info.ndim, 3);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 7);
    assert_int_equal(info.shape[2], 50);
    assert_int_equal(info.total_bytes, NV * sizeof(double));
    assert_int_equal(info.chunk_size, 1000);
    assert_int_equal(info.chunk_count, 9);
    assert_string_equal(info.sha256, v_hex);

    /* stream it back chunk by chunk */
    unsigned char *back = malloc(info.total_bytes);
    unsigned char *chunk = malloc(info.chunk_size);
    size_t off = 0, len;
    for (int64_t i = 0; i < info.chunk_count; i++) {
        OK(store_result_read_chunk(f->c, run, "V", i, chunk, info.chunk_size, &len));
        assert_int_equal(len, i < 8 ? 1000 : 400);
        memcpy(back + off, chunk, len);
        off += len;
    }
    assert_int_equal(off, info.total_bytes);
    assert_memory_equal(back, v, info.total_bytes);
    char back_hex[65];
    sha_hex(back, off, back_hex);
    assert_string_equal(back_hex, info.sha256);
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 9, chunk, 1000, &len),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 0, chunk, 10, &len), STORE_INVALID);

    /* byte ranges: anywhere, across chunk boundaries, the whole array in one call */
    memset(back, 0, info.total_bytes);
    OK(store_result_read(f->c, run, "V", 0, back, info.total_bytes));
    assert_memory_equal(back, v, info.total_bytes);
    for (uint64_t o = 0; o < info.total_bytes; o += 137) {
        size_t n = info.total_bytes - o < 2333 ? (size_t)(info.total_bytes - o) : 2333;
        memset(back, 0, n);
        OK(store_result_read(f->c, run, "V", o, back, n));
        assert_memory_equal(back, (const unsigned char *)v + o, n);
    }
    /* the last byte of chunk 0 and the first of chunk 1 */
    OK(store_result_read(f->c, run, "V", 999, back, 2));
    assert_memory_equal(back, (const unsigned char *)v + 999, 2);
    OK(store_result_read(f->c, run, "V", info.total_bytes, back, 0)); /* empty, at the end */
    assert_int_equal(store_result_read(f->c, run, "V", info.total_bytes - 1, back, 2),
                     STORE_INVALID);
    assert_int_equal(store_result_read(f->c, run, "V", UINT64_MAX, back, 1), STORE_INVALID);
    assert_int_equal(store_result_read(f->c, run, "z", 0, back, 1), STORE_NOT_FOUND);
    assert_int_equal(store_result_read(f->c, "r_000000000000000000000000", "V", 0, back, 1),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read(NULL, run, "V", 0, back, 1), STORE_ERROR);

    OK(store_result_info_get(f->c, run, "empty", &info));
    assert_int_equal(info.total_bytes, 0);
    assert_int_equal(info.chunk_count, 0);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.shape[0], 0);
    assert_int_equal(store_result_info_get(f->c, run, "z", &info), STORE_NOT_FOUND);
    int nres = 0;
    OK(store_result_list(f->c, run, count_result, &nres));
    assert_int_equal(nres, 3); /* V, empty, r */

    /* finishing again is refused: the run is no longer running */
    assert_int_equal(store_finish_begin(f->c, run), STORE_CONFLICT);

    /* verify: clean, then a flipped byte is found */
    store_verify_report rep;
    struct bad_seen bad = {0};
    OK(store_verify(f->c, on_bad, &bad, &rep));
    assert_int_equal(rep.results_checked, 3);
    assert_int_equal(rep.results_bad, 0);
    assert_int_equal(rep.bytes_checked, NV * sizeof(double) + sizeof r);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE result_chunks SET data = zeroblob(1000) "
                                  "WHERE var = 'V' AND chunk_index = 4",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    OK(store_verify(f->c, on_bad, &bad, &rep));
    assert_int_equal(rep.results_bad, 1);
    assert_int_equal(bad.n, 1);
    assert_string_equal(bad.run, run);
    assert_string_equal(bad.var, "V");
    free(v);
    free(back);
    free(chunk);
}

/** A result larger than several chunks written with one append (the direct path). */
static void test_finish_large(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);
    store_disconnect(f->c);
    store_close(f->s);
    f->s = open_store(f->path, 64 << 10);
    f->c = store_connect(f->s);
    enum { N = (1 << 20) + 123 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 1000) * 0.5f;
    char hex[65];
    sha_hex(x, N * sizeof *x, hex);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "r", "float32", 3, (int64_t[]){1, 1, N}));
    OK(store_result_append(f->c, x, N * sizeof *x));
    OK(store_result_end(f->c, hex));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    store_result_info info;
    OK(store_result_info_get(f->c, run, "r", &info));
    assert_int_equal(info.chunk_count, (N * 4 + (64 << 10) - 1) / (64 << 10));
    assert_string_equal(info.sha256, hex);
    store_verify_report rep;
    OK(store_verify(f->c, NULL, NULL, &rep));
    assert_int_equal(rep.results_bad, 0);
    assert_int_equal(rep.bytes_checked, N * sizeof *x);
    free(x);
}

/* ------------------------------------------------------------------------------------------ */
/* Large finishes in batches                                                                  */
/* ------------------------------------------------------------------------------------------ */

static store *open_batched(const char *path, size_t chunk, size_t batch)
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

/** Staged batches are invisible, removed by abort and by the run's next finish_begin. */
static void test_finish_batched(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);
    store_disconnect(f->c);
    store_close(f->s);
    f->s = open_batched(f->path, 1000, 3000);
    f->c = store_connect(f->s);
    store_conn *rd = store_connect(f->s); /* a reader on the same thread: reads take no lock */

    static unsigned char data[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "V", "uint8", 2, (int64_t[]){200, 100}));
    OK(store_result_append(f->c, data, 10000));
    store_result_info info;
    assert_int_equal(store_result_info_get(rd, run, "V", &info), STORE_NOT_FOUND);
    unsigned char buf[1000];
    size_t len;
    assert_int_equal(store_result_read_chunk(rd, run, "V", 0, buf, sizeof buf, &len),
                     STORE_NOT_FOUND);
    assert_int_equal(store_result_read(rd, run, "V", 0, buf, 10), STORE_NOT_FOUND); /* staged */
    store_verify_report vr;
    assert_int_equal(store_verify(rd, NULL, NULL, &vr), STORE_OK);
    assert_int_equal(vr.results_checked, 0);
    sqlite3 *db = store_sqlite_db(rd);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM result_chunks", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 9); /* three batches of three chunks committed */
    sqlite3_reset(q);
    store_finish_abort(f->c);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_reset(q);
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);

    /* leftovers of a finish that could not clean up are removed by the next finish_begin */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO results (run_id, var, complete, dtype, shape, "
                                  "total_bytes, chunk_size, chunk_count, sha256) VALUES ((SELECT "
                                  "id FROM runs WHERE status = 'running'), 'old', 0, 'uint8', "
                                  "'[1]', 1, 1000, 0, '');"
                                  "INSERT INTO result_chunks SELECT run_id, 'old', 0, x'00' FROM "
                                  "results WHERE var = 'old'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "V", "uint8", 2, (int64_t[]){200, 100}));
    for (size_t off = 0; off < sizeof data; off += 700) /* uneven pieces across batches */
        OK(store_result_append(f->c, data + off,
                               sizeof data - off < 700 ? sizeof data - off : 700));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 20); /* V only: "old" is gone */
    sqlite3_finalize(q);
    OK(store_result_info_get(rd, run, "V", &info));
    assert_int_equal(info.chunk_count, 20);
    unsigned char back[sizeof data];
    for (int64_t i = 0; i < info.chunk_count; i++) {
        assert_int_equal(store_result_read_chunk(rd, run, "V", i, back + i * 1000, 1000, &len),
                         STORE_OK);
        assert_int_equal(len, 1000);
    }
    assert_memory_equal(back, data, sizeof data);
    memset(back, 0, sizeof back);
    OK(store_result_read(rd, run, "V", 0, back, sizeof back)); /* chunks of several batches */
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(store_verify(rd, NULL, NULL, &vr), STORE_OK);
    assert_int_equal(vr.results_checked, 1);
    assert_int_equal(vr.results_bad, 0);
    store_disconnect(rd);
}

struct big_writer {
    store *s;
    const char *run;
    volatile int started, committing, done;
    store_status st;
};

static void *big_writer_main(void *arg)
{
    struct big_writer *bw = arg;
    store_conn *c = store_connect(bw->s);
    enum { MIB = 1 << 20, TOTAL = 24 };
    unsigned char *piece = malloc(MIB);
    memset(piece, 0xab, MIB);
    bw->st = store_finish_begin(c, bw->run);
    if (bw->st == STORE_OK)
        bw->st = store_result_begin(c, "V", "uint8", 1, (int64_t[]){(int64_t)TOTAL * MIB});
    __atomic_store_n(&bw->started, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < TOTAL && bw->st == STORE_OK; i++)
        bw->st = store_result_append(c, piece, MIB);
    if (bw->st == STORE_OK) bw->st = store_result_end(c, NULL);
    __atomic_store_n(&bw->committing, 1, __ATOMIC_SEQ_CST);
    if (bw->st == STORE_OK) bw->st = store_finish_commit(c, STORE_RUN_SUCCEEDED, "{}", NULL);
    if (bw->st != STORE_OK) fprintf(stderr, "big writer: %s\n", store_errmsg(c));
    __atomic_store_n(&bw->done, 1, __ATOMIC_SEQ_CST);
    free(piece);
    store_disconnect(c);
    return NULL;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/** While a large finish writes batches, other threads' writes get their turn. */
static void test_writer_turns(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);
    store_disconnect(f->c);
    store_close(f->s);
    f->s = open_batched(f->path, 64 << 10, 256 << 10);
    f->c = store_connect(f->s);

    struct big_writer bw = {.s = f->s, .run = run};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, big_writer_main, &bw), 0);
    while (!__atomic_load_n(&bw.started, __ATOMIC_SEQ_CST))
        usleep(100);
    int during = 0;
    double worst = 0;
    while (!__atomic_load_n(&bw.done, __ATOMIC_SEQ_CST)) {
        char id[STORE_ID_MAX];
        double t0 = mono_s();
        make_run(f, mid, id);
        double dt = mono_s() - t0;
        worst = dt > worst ? dt : worst;
        if (!__atomic_load_n(&bw.done, __ATOMIC_SEQ_CST)) {
            during++;
            /* Staged batches stay invisible; the result appears with the final commit, which
             * readers may see while finish_commit still waits for the group sync. */
            store_result_info info;
            store_status rs = store_result_info_get(f->c, run, "V", &info);
            if (rs == STORE_OK)
                assert_true(__atomic_load_n(&bw.committing, __ATOMIC_SEQ_CST));
            else
                assert_int_equal(rs, STORE_NOT_FOUND);
        }
    }
    pthread_join(th, NULL);
    assert_int_equal(bw.st, STORE_OK);
    print_message("    %d runs queued during a 24 MiB finish; slowest took %.3f s\n", during,
                  worst);
    assert_true(during >= 3);
    assert_true(worst < eir_scaled(2.0));
    store_result_info info;
    OK(store_result_info_get(f->c, run, "V", &info));
    assert_int_equal(info.total_bytes, 24 << 20);
    assert_int_equal(status_of(f, run), STORE_RUN_SUCCEEDED);
}

struct creator {
    store *s;
    const char *model;
    int n;
    int ok;
};

static void *creator_main(void *arg)
{
    struct creator *cr = arg;
    store_conn *c = store_connect(cr->s);
    for (int i = 0; i < cr->n; i++) {
        store_run_new in = {.model_id = cr->model, .request_json = "{}", .progress_total = 1};
        store_run r;
        if (store_run_create(c, &in, &r, NULL) == STORE_OK) cr->ok++;
        store_run_clear(&r);
    }
    store_disconnect(c);
    return NULL;
}

/** Durable operations return only once the WAL is synced past their commit; claims and
 *  progress do not wait; concurrent commits share syncs. */
static void test_group_sync(void **state)
{
    struct fx *f = *state;
    store_sqlite_sync_stats a, b;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_sqlite_sync_stats_get(f->s, &a);
    assert_true(a.durable_commits >= 1);
    assert_int_equal(a.synced, a.durable_commits);
    make_run(f, mid, run);
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits + 1);
    assert_int_equal(b.synced, b.durable_commits);
    assert_true(b.syncs > a.syncs);
    claim(f, got);
    int cancel = 0;
    OK(store_run_progress(f->c, got, 10, 50, &cancel));
    store_sqlite_sync_stats_get(f->s, &a);
    assert_int_equal(a.durable_commits, b.durable_commits); /* no wait for claim or progress */
    OK(store_finish_begin(f->c, got));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits + 1);
    assert_int_equal(b.synced, b.durable_commits);
    /* an operation that changes nothing takes no ticket and returns at once */
    store_run_status now;
    char q[STORE_ID_MAX];
    make_run(f, mid, q);
    OK(store_run_cancel(f->c, q, &now));
    store_sqlite_sync_stats_get(f->s, &a);
    OK(store_run_cancel(f->c, q, &now));
    assert_int_equal(now, STORE_RUN_CANCELLED);
    store_sqlite_sync_stats_get(f->s, &b);
    assert_int_equal(b.durable_commits, a.durable_commits);
    assert_int_equal(b.syncs, a.syncs);

    /* 8 threads x 40 creates: every create durable, syncs shared */
    enum { T = 8, N = 40 };
    struct creator cr[T];
    pthread_t th[T];
    store_sqlite_sync_stats_get(f->s, &a);
    for (int i = 0; i < T; i++) {
        cr[i] = (struct creator){.s = f->s, .model = mid, .n = N};
        assert_int_equal(pthread_create(&th[i], NULL, creator_main, &cr[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cr[i].ok, N);
    }
    store_sqlite_sync_stats_get(f->s, &b);
    uint64_t commits = b.durable_commits - a.durable_commits, syncs = b.syncs - a.syncs;
    assert_int_equal(commits, T * N);
    assert_int_equal(b.synced, b.durable_commits);
    assert_true(syncs >= 1 && syncs <= commits);
    print_message("    %d concurrent creates: %llu WAL syncs (%.1f commits per sync)\n", T * N,
                  (unsigned long long)syncs, (double)commits / (double)syncs);
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, T * N);
}

/* ------------------------------------------------------------------------------------------ */
/* Crash recovery                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void test_requeue(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], ids[3][STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    store_run_new in = {.model_id = mid, .request_json = "{}", .max_attempts = 2};
    for (int i = 0; i < 3; i++) {
        store_run r;
        OK(store_run_create(f->c, &in, &r, NULL));
        snprintf(ids[i], STORE_ID_MAX, "%s", r.id);
        store_run_clear(&r);
    }
    for (int i = 0; i < 3; i++)
        claim(f, got);
    OK(store_run_progress(f->c, ids[0], 7, 10, NULL));
    OK(store_run_cancel(f->c, ids[2], NULL));

    /* the daemon goes away without finishing anything; at the next start: */
    reopen(f);
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 2);
    assert_int_equal(rep.cancelled, 1);
    assert_int_equal(rep.failed, 0);
    store_run r;
    OK(store_run_get(f->c, ids[0], &r));
    assert_int_equal(r.status, STORE_RUN_QUEUED);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.progress_done, 0);
    assert_int_equal(r.started_at, 0);
    store_run_clear(&r);
    assert_int_equal(status_of(f, ids[2]), STORE_RUN_CANCELLED);
    OK(store_requeue_orphans(f->c, &rep)); /* nothing left to do */
    assert_int_equal(rep.requeued + rep.failed + rep.cancelled, 0);

    /* second attempt interrupted too: the limit (2) is reached and the runs fail */
    claim(f, got);
    assert_string_equal(got, ids[0]);
    claim(f, got);
    reopen(f);
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.failed, 2);
    assert_int_equal(rep.requeued, 0);
    OK(store_run_get(f->c, ids[1], &r));
    assert_int_equal(r.status, STORE_RUN_FAILED);
    assert_int_equal(r.attempts, 2);
    assert_true(r.finished_at > 0);
    assert_non_null(r.error_json);
    assert_non_null(strstr(r.error_json, "attempt limit reached"));
    assert_non_null(strstr(r.error_json, "\"max_attempts\":2"));
    store_run_clear(&r);
}

/** A real crash: a child process dies with a finish half written; nothing of it survives. */
static void test_crash_mid_finish(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], other[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    make_run(f, mid, other);
    store_disconnect(f->c);
    f->c = NULL;

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the doomed daemon: its own store and connection */
        store_config cfg;
        store_config_default(&cfg);
        cfg.chunk_size = 64 << 10;   /* chunks reach the WAL before the crash ... */
        cfg.batch_bytes = 256 << 10; /* ... and some batches are committed (staged) */
        store *s = store_open(f->path, &cfg, NULL, 0);
        store_conn *c = s ? store_connect(s) : NULL;
        store_run r;
        static unsigned char junk[3 << 20];
        if (!c || store_run_claim(c, &r) != STORE_OK || store_run_claim(c, &r) != STORE_OK ||
            store_run_progress(c, run, 5, 0, NULL) != STORE_OK ||
            store_finish_begin(c, run) != STORE_OK ||
            store_result_begin(c, "V", "uint8", 1, (int64_t[]){sizeof junk * 2}) != STORE_OK ||
            store_result_append(c, junk, sizeof junk) != STORE_OK)
            _exit(2);
        _exit(0); /* dies holding the write lock, mid-result, without closing anything */
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);

    store_close(f->s);
    f->s = open_store(f->path, 1000);
    f->c = store_connect(f->s);
    /* committed batches survive as staged rows, invisible to readers */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results WHERE complete = 0"), 1);
    assert_true(raw_count(f, "SELECT count(*) FROM result_chunks") >= 4);
    store_result_info info;
    assert_int_equal(store_result_info_get(f->c, run, "V", &info), STORE_NOT_FOUND);
    unsigned char b1[64 << 10];
    size_t len;
    assert_int_equal(store_result_read_chunk(f->c, run, "V", 0, b1, sizeof b1, &len),
                     STORE_NOT_FOUND);
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 2);
    assert_int_equal(rep.partial_results, 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM results"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, run); /* original order kept */
    assert_int_equal(r.attempts, 2);
    store_run_clear(&r);
    store_verify_report vr;
    OK(store_verify(f->c, NULL, NULL, &vr));
    assert_int_equal(vr.results_checked, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Disk full, failed connections                                                              */
/* ------------------------------------------------------------------------------------------ */

static void test_disk_full(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    claim(f, got);

    /* the connection may not grow the file by more than a few pages */
    int64_t pages = raw_count(f, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 4);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    static unsigned char data[200000];
    memset(data, 0x5a, sizeof data);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){sizeof data}));
    store_status st = store_result_append(f->c, data, sizeof data);
    if (st == STORE_OK) st = store_result_end(f->c, NULL);
    if (st == STORE_OK) st = store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL);
    assert_int_equal(st, STORE_FULL);
    assert_non_null(strstr(store_errmsg(f->c), "full"));
    assert_int_equal(status_of(f, run), STORE_RUN_RUNNING);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM result_chunks"), 0);

    /* other writes fail the same way, reads carry on */
    char *big = malloc(200001);
    memset(big, 'x', 200000);
    big[200000] = '\0';
    store_model m;
    assert_int_equal(store_model_create(f->c, "big", HASH_A, 1, big, &m), STORE_FULL);
    OK(store_model_get(f->c, mid, &m));
    store_model_clear(&m);

    /* space again: everything works */
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
    OK(store_model_create(f->c, "big", HASH_A, 1, big, &m));
    store_model_clear(&m);
    OK(store_finish_begin(f->c, run));
    OK(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){sizeof data}));
    OK(store_result_append(f->c, data, sizeof data));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL));
    assert_int_equal(status_of(f, run), STORE_RUN_SUCCEEDED);
    store_verify_report rep;
    OK(store_verify(f->c, NULL, NULL, &rep));
    assert_int_equal(rep.results_checked, 1);
    assert_int_equal(rep.results_bad, 0);
    free(big);
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

    /* a full disk with room in the queue is STORE_FULL, never the queue's status */
    int64_t pages = raw_count(f, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 4);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    char *big = malloc(200001);
    assert_non_null(big);
    memset(big, 'x', 200000);
    big[200000] = '\0';
    in.request_json = big;
    in.queue_limit = 10;
    assert_int_equal(store_run_create(f->c, &in, &r, NULL), STORE_FULL);
    assert_null(strstr(store_errmsg(f->c), "the queue is full"));
    assert_non_null(strstr(store_errmsg(f->c), "full"));
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, 2);
    /* a full queue on a full disk: the queue decides first (nothing to write) */
    in.queue_limit = 2;
    assert_int_equal(store_run_create(f->c, &in, &r, NULL), STORE_QUEUE_FULL);
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
    in.queue_limit = 3;
    OK(store_run_create(f->c, &in, &r, NULL));
    store_run_clear(&r);
    free(big);
}

static void test_bad_connections(void **state)
{
    struct fx *f = *state;
    store_run r;
    store_model m;
    int64_t n;
    /* NULL everywhere */
    assert_int_equal(store_run_get(NULL, "r_x", &r), STORE_ERROR);
    assert_int_equal(store_run_claim(NULL, &r), STORE_ERROR);
    assert_int_equal(store_model_get(NULL, "m_x", &m), STORE_ERROR);
    assert_int_equal(store_queue_depth(NULL, &n), STORE_ERROR);
    assert_int_equal(store_finish_commit(NULL, STORE_RUN_SUCCEEDED, NULL, NULL), STORE_ERROR);
    store_finish_abort(NULL);
    store_disconnect(NULL);
    store_close(NULL);
    assert_null(store_connect(NULL));
    assert_non_null(store_errmsg(NULL));
    assert_int_equal(store_run_get(f->c, NULL, &r), STORE_INVALID);

    /* a connection whose database cannot be opened fails cleanly and recovers later */
    char mid[STORE_ID_MAX], moved[128];
    make_model(f, "m", mid);
    store_conn *c2 = store_connect(f->s);
    assert_non_null(c2);
    store_disconnect(f->c);
    f->c = NULL;
    snprintf(moved, sizeof moved, "%s.moved", f->path);
    assert_int_equal(rename(f->path, moved), 0);
    assert_int_equal(store_model_get(c2, mid, &m), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(c2), "cannot open"));
    assert_int_equal(store_run_claim(c2, &r), STORE_ERROR);
    assert_int_equal(rename(moved, f->path), 0);
    assert_int_equal(store_model_get(c2, mid, &m), STORE_OK);
    assert_string_equal(store_errmsg(c2), "");
    store_model_clear(&m);
    f->c = c2;

    /* strings from outside are data, never SQL */
    const char *evil = "x'); DELETE FROM models; --";
    assert_int_equal(store_model_get(f->c, evil, &m), STORE_NOT_FOUND);
    OK(store_model_create(f->c, evil, HASH_A, 1, evil, &m));
    store_model_clear(&m);
    store_counts cnt;
    OK(store_counts_get(f->c, &cnt));
    assert_int_equal(cnt.models, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_connections, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
