/**
 * @file test_store_kinds.c
 * @brief The store's jobs of several kinds (schema version 3): runs and analyses in one queue,
 *        their ids, kinds and subkinds, lists and counts by kind, the stored request, and the
 *        results an analysis keeps (complex128, 1 to 3 dimensions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"
#include "store_migrations.h"
#include "store_sqlite.h"

/** Queue an analysis of @p subkind on @p model_id; its id into @p id. */
static void make_analysis(struct fx *f, const char *model_id, const char *subkind,
                          char id[STORE_ID_MAX])
{
    store_run_new in = {.kind = "analysis",
                        .subkind = subkind,
                        .model_id = model_id,
                        .request_json = "{\"kind\":\"spectrum\",\"of\":\"W\"}",
                        .progress_total = 3};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    assert_string_equal(r.kind, "analysis");
    assert_string_equal(r.subkind, subkind);
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

static void test_kinds_ids_and_fields(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], an[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    make_analysis(f, mid, "spectrum", an);
    assert_memory_equal(run, "r_", 2);
    assert_memory_equal(an, "a_", 2);
    assert_int_equal(strlen(an), 26);

    store_run r;
    OK(store_run_get(f->c, run, &r));
    assert_string_equal(r.kind, "run");
    assert_string_equal(r.subkind, "");
    store_run_clear(&r);
    OK(store_run_get(f->c, an, &r));
    assert_string_equal(r.kind, "analysis");
    assert_string_equal(r.subkind, "spectrum");
    assert_int_equal(r.progress_total, 3);
    assert_null(r.request_json);
    store_run_clear(&r);

    char *req = NULL;
    OK(store_run_request(f->c, an, &req));
    assert_string_equal(req, "{\"kind\":\"spectrum\",\"of\":\"W\"}");
    free(req);
    assert_int_equal(store_run_request(f->c, "a_000000000000000000000000", &req), STORE_NOT_FOUND);
    assert_null(req);

    /* the store refuses kinds it does not know and subkinds that are not plain words */
    store_run_new bad = {.kind = "sweep", .request_json = "{}"};
    assert_int_equal(store_run_create(f->c, &bad, &r, NULL), STORE_INVALID);
    bad = (store_run_new){.kind = "analysis", .subkind = "Spec trum", .request_json = "{}"};
    assert_int_equal(store_run_create(f->c, &bad, &r, NULL), STORE_INVALID);
    bad.subkind = "a_subkind_that_is_far_too_long_x"; /* 32 bytes: STORE_KIND_MAX */
    assert_int_equal(store_run_create(f->c, &bad, &r, NULL), STORE_INVALID);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs"), 2);

    /* the claim carries the kind, so that the worker dispatches on it (FIFO: the run first) */
    char got[STORE_ID_MAX];
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, run);
    assert_string_equal(r.kind, "run");
    store_run_clear(&r);
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, an);
    assert_string_equal(r.kind, "analysis");
    assert_string_equal(r.subkind, "spectrum");
    assert_non_null(r.request_json);
    store_run_clear(&r);
    (void)got;
}

/** List callback: append the ids, comma-separated, to the string buffer @p ctx (256 bytes). */
static int collect(void *ctx, const store_run *r)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s%s", n ? "," : "", r->id);
    return 0;
}

/** The ids listed with filter @p flt, newest first, into @p buf (256 bytes). */
static void list_ids(struct fx *f, const store_run_filter *flt, char *buf)
{
    buf[0] = '\0';
    char next[STORE_CURSOR_MAX];
    OK(store_run_list(f->c, flt, NULL, 100, collect, buf, next));
    assert_string_equal(next, "");
}

static void test_kinds_lists_and_counts(void **state)
{
    struct fx *f = *state;
    char m1[STORE_ID_MAX], m2[STORE_ID_MAX], r1[STORE_ID_MAX], r2[STORE_ID_MAX];
    char a1[STORE_ID_MAX], a2[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m1", m1);
    make_model(f, "m2", m2);
    make_run(f, m1, r1);
    make_analysis(f, m1, "spectrum", a1);
    make_run(f, m2, r2);
    make_analysis(f, m2, "lyapunov", a2);
    claim(f, got); /* r1 running */
    assert_string_equal(got, r1);

    char buf[256], want[256];
    list_ids(f, NULL, buf); /* no filter: every kind */
    snprintf(want, sizeof want, "%s,%s,%s,%s", a2, r2, a1, r1);
    assert_string_equal(buf, want);

    store_run_filter flt = {.status = -1, .kind = "run"};
    list_ids(f, &flt, buf);
    snprintf(want, sizeof want, "%s,%s", r2, r1);
    assert_string_equal(buf, want);
    flt.kind = "analysis";
    list_ids(f, &flt, buf);
    snprintf(want, sizeof want, "%s,%s", a2, a1);
    assert_string_equal(buf, want);
    flt.subkind = "lyapunov";
    list_ids(f, &flt, buf);
    assert_string_equal(buf, a2);
    flt.subkind = NULL;
    flt.model_id = m1;
    list_ids(f, &flt, buf);
    assert_string_equal(buf, a1);
    flt.status = STORE_RUN_QUEUED;
    list_ids(f, &flt, buf);
    assert_string_equal(buf, a1);
    flt.model_id = NULL;
    flt.kind = "run";
    list_ids(f, &flt, buf);
    assert_string_equal(buf, r2);
    flt.status = STORE_RUN_RUNNING;
    list_ids(f, &flt, buf);
    assert_string_equal(buf, r1);

    /* pages of one kind: the cursor skips the other kind's rows */
    flt = (store_run_filter){.status = -1, .kind = "analysis"};
    char next[STORE_CURSOR_MAX];
    buf[0] = '\0';
    OK(store_run_list(f->c, &flt, NULL, 1, collect, buf, next));
    assert_string_equal(buf, a2);
    assert_string_not_equal(next, "");
    buf[0] = '\0';
    OK(store_run_list(f->c, &flt, next, 1, collect, buf, next));
    assert_string_equal(buf, a1);
    assert_string_equal(next, "");

    store_counts n;
    OK(store_counts_get(f->c, &n));
    assert_int_equal(n.by_status[STORE_RUN_QUEUED], 1);
    assert_int_equal(n.by_status[STORE_RUN_RUNNING], 1);
    assert_int_equal(n.analyses_by_status[STORE_RUN_QUEUED], 2);
    assert_int_equal(n.analyses_by_status[STORE_RUN_RUNNING], 0);
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth)); /* one queue for every kind */
    assert_int_equal(depth, 3);

    /* the queue limit counts every kind's queued jobs */
    store_run_new in = {
        .kind = "analysis", .subkind = "spectrum", .request_json = "{}", .queue_limit = 3};
    store_run r;
    assert_int_equal(store_run_create(f->c, &in, &r, NULL), STORE_QUEUE_FULL);

    /* an analysis keeps its model from being deleted, as a run does */
    int64_t using = 0;
    assert_int_equal(store_model_delete(f->c, m2, &using), STORE_CONFLICT);
    assert_int_equal(using, 2);
}

static void test_kinds_results(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], an[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_analysis(f, mid, "spectrum", an);
    claim(f, got);
    assert_string_equal(got, an);

    /* eigenvalues: complex128 [3] (real, imaginary float64 pairs); vectors [3, 3]; counts int32
     * [1, 2, 2]; all spanning several of the fixture's 1000-byte chunks where large enough */
    double ev[6] = {1.5, 0.25, 1.5, -0.25, -2.0, 0.0};
    double vec[18];
    for (int i = 0; i < 18; i++)
        vec[i] = 0.5 * i - 3;
    int32_t cnt[4] = {1, -2, 3, 4};
    double big[300];
    for (int i = 0; i < 300; i++)
        big[i] = i * 0.125;
    OK(store_finish_begin(f->c, an, attempt_of(f, an)));
    OK(store_result_begin(f->c, "eigenvalues", "complex128", 1, (int64_t[]){3}));
    OK(store_result_append(f->c, ev, sizeof ev));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "eigenvectors", "complex128", 2, (int64_t[]){3, 3}));
    OK(store_result_append(f->c, vec, sizeof vec));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "counts", "int32", 3, (int64_t[]){1, 2, 2}));
    OK(store_result_append(f->c, cnt, sizeof cnt));
    OK(store_result_end(f->c, NULL));
    OK(store_result_begin(f->c, "trace", "float64", 2, (int64_t[]){100, 3}));
    OK(store_result_append(f->c, big, sizeof big));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{\"summary\":{\"n\":3}}", NULL));

    store_result_info info;
    OK(store_result_info_get(f->c, an, "eigenvalues", &info));
    assert_string_equal(info.dtype, "complex128");
    assert_int_equal(info.ndim, 1);
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.total_bytes, 48);
    OK(store_result_info_get(f->c, an, "eigenvectors", &info));
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.total_bytes, 144);
    OK(store_result_info_get(f->c, an, "counts", &info));
    assert_int_equal(info.ndim, 3);
    assert_int_equal(info.total_bytes, 16);
    OK(store_result_info_get(f->c, an, "trace", &info));
    assert_int_equal(info.total_bytes, 2400);
    assert_int_equal(info.chunk_count, 3);

    double back[6];
    OK(store_result_read(f->c, an, "eigenvalues", 0, back, sizeof back));
    assert_memory_equal(back, ev, sizeof ev);
    double piece[40];
    OK(store_result_read(f->c, an, "trace", 960, piece, sizeof piece)); /* spans chunks */
    assert_memory_equal(piece, big + 120, sizeof piece);

    store_verify_report rep;
    OK(store_verify(f->c, NULL, NULL, &rep));
    assert_int_equal(rep.results_checked, 4);
    assert_int_equal(rep.results_bad, 0);

    store_run r;
    OK(store_run_get(f->c, an, &r));
    assert_int_equal(r.status, STORE_RUN_SUCCEEDED);
    assert_int_equal(r.progress_done, 3);
    assert_string_equal(r.meta_json, "{\"summary\":{\"n\":3}}");
    store_run_clear(&r);
}

/** An analysis interrupted by a crash is queued again at the restart, as a run is. */
static void test_kinds_requeue(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], an[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_analysis(f, mid, "fixed_points", an);
    claim(f, got);
    reopen(f);
    expire_leases(f); /* PostgreSQL: the crashed daemon's leases ran out */
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 1);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, an);
    assert_string_equal(r.kind, "analysis");
    assert_string_equal(r.subkind, "fixed_points");
    assert_int_equal(r.attempts, 2);
    store_run_clear(&r);
}

/** A database of schema version 2, made with the first two embedded migrations and holding a
 *  queued run, is migrated to version 3 at open: the run is a run, listed and claimed as one. */
static void test_kinds_migration_from_v2(void **state)
{
    struct fx *f = *state;
    SKIP_ON_PG(f, "about an SQLite file of schema version 2 (PostgreSQL's migrations start at "
                  "the kinds)");
    char path[128];
    snprintf(path, sizeof path, "%s/v2.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_true(store_migrations_count >= 3);
    for (int v = 0; v < 2; v++)
        assert_int_equal(sqlite3_exec(db, store_migrations[v].sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 2;"
                                  "INSERT INTO runs (id, created_at, request_json) "
                                  "VALUES ('r_0123456789abcdef01234567', 1, '{\"dt\":0.1}');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    store *s2 = open_store(path, 0);
    store_conn *c2 = store_connect(s2);
    assert_non_null(c2);
    store_run r;
    assert_int_equal(store_run_get(c2, "r_0123456789abcdef01234567", &r), STORE_OK);
    assert_string_equal(r.kind, "run");
    assert_string_equal(r.subkind, "");
    store_run_clear(&r);
    char buf[256];
    buf[0] = '\0';
    store_run_filter flt = {.status = -1, .kind = "run"};
    assert_int_equal(store_run_list(c2, &flt, NULL, 10, collect, buf, NULL), STORE_OK);
    assert_string_equal(buf, "r_0123456789abcdef01234567");
    store_counts n;
    assert_int_equal(store_counts_get(c2, &n), STORE_OK);
    assert_int_equal(n.by_status[STORE_RUN_QUEUED], 1);
    assert_int_equal(n.analyses_by_status[STORE_RUN_QUEUED], 0);
    assert_int_equal(store_run_claim(c2, &r), STORE_OK);
    assert_string_equal(r.kind, "run");
    store_run_clear(&r);
    store_disconnect(c2);
    store_close(s2);
    rm_db_files(path);
}

/** A fresh database is at the latest version (3 or later) with the kinds' indexes; a new run is
 *  kind 'run'. */
static void test_kinds_migration(void **state)
{
    struct fx *f = *state;
    assert_true(store_migrations_count >= 3);
    if (!f->pg) { /* SQLite's version and catalogue (PostgreSQL's: test_store_models) */
        assert_int_equal(raw_count(f, "PRAGMA user_version"), (int)store_migrations_count);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                      "AND name IN ('runs_kind', 'runs_kind_status')"),
                         2);
    }
    char mid[STORE_ID_MAX], run[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs WHERE kind = 'run' AND "
                                  "subkind IS NULL"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kinds_ids_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_lists_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kinds_migration_from_v2, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
