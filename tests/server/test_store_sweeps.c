/**
 * @file test_store_sweeps.c
 * @brief Sweeps in the store (schema v4): created all or nothing (models, runs, labels), read
 *        with their counts and progress, listed, cancelled, deleted with what they created,
 *        replayed under an idempotency key, waited for through runs_settled(), requeued after
 *        a restart, and large ones created in one transaction.
 */
#include <time.h>

#include "store_fixture.h"
#include "store_migrations.h"

#define SWEEP_ID "s_0123456789abcdef01234567"
#define SWEEP_ID2 "s_0123456789abcdef0123456a"
#define NEW_M1 "m_aaaaaaaaaaaaaaaaaaaaaa01"
#define NEW_M2 "m_aaaaaaaaaaaaaaaaaaaaaa02"
#define BODY_HASH "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/** A sweep of 6 points over three models: two new (NEW_M1, NEW_M2) and @p base (existing),
 *  model of point i = i % 3; every run labelled with the sweep's labels + "sweep". */
struct sweep6 {
    store_sweep_model models[2];
    store_run_new runs[6];
    char run_labels[128];
    store_sweep_new in;
};

static void sweep6_init(struct sweep6 *w, const char *id, const char *base)
{
    memset(w, 0, sizeof *w);
    snprintf(w->run_labels, sizeof w->run_labels, "{\"project\":\"isn\",\"sweep\":\"%s\"}", id);
    w->models[0] = (store_sweep_model){NEW_M1, "a", 10, "{\"n\":1}", w->run_labels};
    w->models[1] = (store_sweep_model){NEW_M2, NULL, 20, "{\"n\":2}", w->run_labels};
    const char *mids[3] = {NEW_M1, NEW_M2, base};
    for (int i = 0; i < 6; i++)
        w->runs[i] = (store_run_new){.model_id = mids[i % 3],
                                     .request_json = "{\"dt\":0.1}",
                                     .progress_total = 100,
                                     .labels_json = w->run_labels};
    w->in = (store_sweep_new){.id = id,
                              .request_json = "{\"axes\":[]}",
                              .name = "isn",
                              .labels_json = "{\"project\":\"isn\"}",
                              .models = w->models,
                              .n_models = 2,
                              .runs = w->runs,
                              .n_runs = 6};
}

/** Collect a sweep's runs (sweep_runs) */
struct runs_seen {
    int n;
    char ids[16][STORE_ID_MAX];
    char models[16][STORE_ID_MAX];
    int64_t index[16];
    store_run_status status[16];
    char labels[128];
    int meta_seen;
};

static int seen_run(void *ctx, const store_run *r)
{
    struct runs_seen *s = ctx;
    if (s->n >= 16) return 1;
    snprintf(s->ids[s->n], STORE_ID_MAX, "%s", r->id);
    snprintf(s->models[s->n], STORE_ID_MAX, "%s", r->model_id);
    s->index[s->n] = r->sweep_index;
    s->status[s->n] = r->status;
    snprintf(s->labels, sizeof s->labels, "%s", r->labels_json);
    if (r->meta_json && strcmp(r->meta_json, "{\"m\":1}") == 0) s->meta_seen++;
    assert_null(r->request_json);
    s->n++;
    return 0;
}

static int64_t count_rows(struct fx *f, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return raw_count(f, sql);
}

/** Nothing of a failed create is left. */
static void assert_nothing_stored(struct fx *f, int64_t models)
{
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "runs"), 0);
    assert_int_equal(count_rows(f, "models"), models);
    assert_int_equal(count_rows(f, "labels"), 0);
}

/** A sweep's models, runs and labels are stored together; the runs are ordinary queued runs. */
static void test_sweep_create(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    int created = 0;
    OK(store_sweep_create(f->c, &w.in, &sw, &created));
    assert_int_equal(created, 1);
    assert_string_equal(sw.id, SWEEP_ID);
    assert_string_equal(sw.name, "isn");
    assert_string_equal(sw.labels_json, "{\"project\":\"isn\"}");
    assert_int_equal(sw.points, 6);
    assert_int_equal(sw.by_status[STORE_RUN_QUEUED], 6);
    assert_int_equal(sw.progress_total, 600);
    assert_int_equal(sw.progress_done, 0);
    assert_int_equal(sw.finished_at, 0);
    assert_true(sw.created_at > 0);
    assert_null(sw.request_json);
    assert_null(sw.idempotency_key);
    store_sweep_clear(&sw);

    OK(store_sweep_get(f->c, SWEEP_ID, 1, &sw));
    assert_string_equal(sw.request_json, "{\"axes\":[]}");
    assert_int_equal(sw.points, 6);
    store_sweep_clear(&sw);

    /* the runs in point order, with their model, index and labels */
    struct runs_seen seen = {0};
    OK(store_sweep_runs(f->c, SWEEP_ID, seen_run, &seen));
    assert_int_equal(seen.n, 6);
    const char *mids[3] = {NEW_M1, NEW_M2, base};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(seen.index[i], i);
        assert_string_equal(seen.models[i], mids[i % 3]);
        assert_int_equal(seen.status[i], STORE_RUN_QUEUED);
    }
    assert_string_equal(seen.labels, w.run_labels);
    char first[STORE_ID_MAX];
    snprintf(first, sizeof first, "%s", seen.ids[0]);
    store_run r;
    OK(store_run_get(f->c, seen.ids[4], &r));
    assert_string_equal(r.sweep_id, SWEEP_ID);
    assert_int_equal(r.sweep_index, 4);
    assert_string_equal(r.kind, "run");
    store_run_clear(&r);

    /* the new models: pending, the sweep's, labelled */
    store_model m;
    OK(store_model_get(f->c, NEW_M1, &m));
    assert_int_equal(m.state, STORE_MODEL_PENDING);
    assert_string_equal(m.sweep_id, SWEEP_ID);
    assert_string_equal(m.name, "a");
    assert_int_equal(m.n, 10);
    assert_string_equal(m.labels_json, w.run_labels);
    store_model_clear(&m);
    OK(store_model_get(f->c, NEW_M2, &m));
    assert_string_equal(m.name, "");
    store_model_clear(&m);
    char ids[4][STORE_ID_MAX];
    int n = 0;
    OK(store_model_pending(f->c, ids, 4, &n));
    assert_int_equal(n, 2);

    /* listed by sweep and by label */
    char buf[512] = "";
    store_run_filter flt = {.status = -1, .sweep_id = SWEEP_ID};
    memset(&seen, 0, sizeof seen);
    OK(store_run_list(f->c, &flt, NULL, 100, seen_run, &seen, NULL));
    assert_int_equal(seen.n, 6);
    assert_int_equal(seen.index[0], 5); /* newest first */
    store_labels l = {.n = 1, .keys = {"sweep"}, .values = {SWEEP_ID}};
    store_run_filter byl = {.status = -1, .labels = &l};
    memset(&seen, 0, sizeof seen);
    OK(store_run_list(f->c, &byl, NULL, 100, seen_run, &seen, NULL));
    assert_int_equal(seen.n, 6);
    flt.sweep_id = SWEEP_ID2;
    memset(&seen, 0, sizeof seen);
    OK(store_run_list(f->c, &flt, NULL, 100, seen_run, &seen, NULL));
    assert_int_equal(seen.n, 0);
    /* with a status and a model too */
    flt.sweep_id = SWEEP_ID;
    flt.model_id = base;
    flt.status = STORE_RUN_QUEUED;
    memset(&seen, 0, sizeof seen);
    OK(store_run_list(f->c, &flt, NULL, 100, seen_run, &seen, NULL));
    assert_int_equal(seen.n, 2);
    (void)buf;

    /* claims take the points in order: ordinary runs */
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, first);
    assert_int_equal(r.sweep_index, 0);
    assert_string_equal(r.labels_json, w.run_labels);
    store_run_clear(&r);

    assert_int_equal(store_sweep_get(f->c, SWEEP_ID2, 0, &sw), STORE_NOT_FOUND);
    assert_int_equal(store_sweep_runs(f->c, SWEEP_ID2, seen_run, &seen), STORE_NOT_FOUND);
}

/** A bad point, a full queue, bad labels or a full disk leave nothing at all. */
static void test_sweep_all_or_nothing(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;

    /* the last run names no model */
    w.runs[5].model_id = "m_ffffffffffffffffffffffff";
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_NOT_FOUND);
    assert_non_null(strstr(store_errmsg(f->c), "point 5"));
    assert_nothing_stored(f, 1);
    w.runs[5].model_id = base;

    /* the queue would pass its limit: queued + points > limit */
    char r1[STORE_ID_MAX];
    make_run(f, base, r1);
    w.in.queue_limit = 6;
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_QUEUE_FULL);
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "runs"), 1);
    assert_int_equal(count_rows(f, "models"), 1);
    char got[STORE_ID_MAX];
    claim(f, got);                                  /* the queue is empty again */
    OK(store_sweep_create(f->c, &w.in, &sw, NULL)); /* 0 queued + 6 = 6: room */
    store_sweep_clear(&sw);
    int64_t active = 0;
    int64_t n = 0;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    OK(store_sweep_delete(f->c, SWEEP_ID, &active));
    assert_int_equal(count_rows(f, "runs"), 1);
    assert_int_equal(count_rows(f, "models"), 1);
    assert_int_equal(count_rows(f, "labels"), 0);
    w.in.queue_limit = 0;

    /* bad labels on the last run */
    w.runs[5].labels_json = "{\"a\":1}";
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "point 5"));
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "runs"), 1);
    assert_int_equal(count_rows(f, "models"), 1);
    w.runs[5].labels_json = w.run_labels;

    /* bad arguments refused before anything is written */
    w.in.id = "r_0123456789abcdef01234567";
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_INVALID);
    w.in.id = SWEEP_ID;
    w.runs[2].kind = "analysis";
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_INVALID);
    w.runs[2].kind = NULL;
    w.models[1].id = "x_1";
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_INVALID);
    w.models[1].id = NEW_M1; /* the same new model twice */
    w.runs[1].model_id = NEW_M1;
    w.runs[4].model_id = NEW_M1;
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_INVALID);
    w.models[1].id = NEW_M2;
    w.runs[1].model_id = NEW_M2;
    w.runs[4].model_id = NEW_M2;
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "models"), 1);

    /* a full disk half way through the runs (fault injection: SQLite's page limit; a full disk
     * cannot be made for one database of a shared PostgreSQL cluster) */
    char *big = malloc(20001);
    assert_non_null(big);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    w.runs[3].request_json = big;
    if (!f->pg) {
        int64_t pages = raw_count(f, "PRAGMA page_count");
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 2);
        sqlite3 *db = store_sqlite_db(f->c);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_sweep_create(f->c, &w.in, &sw, NULL), STORE_FULL);
        assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                         SQLITE_OK);
    }
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "runs"), 1);
    assert_int_equal(count_rows(f, "models"), 1);
    assert_int_equal(count_rows(f, "labels"), 0);
    /* and then it goes in */
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    assert_int_equal(sw.points, 6);
    store_sweep_clear(&sw);
    free(big);
}

/** Finish the running run @p id with @p status and meta {"m":1}. */
static void finish(struct fx *f, const char *id, store_run_status status)
{
    OK(store_finish_begin(f->c, id, attempt_of(f, id)));
    int64_t shape[1] = {2};
    OK(store_result_begin(f->c, "V", "float64", 1, shape));
    double v[2] = {1, 2};
    OK(store_result_append(f->c, v, sizeof v));
    OK(store_result_end(f->c, NULL));
    OK(store_finish_commit(f->c, status, "{\"m\":1}", NULL));
}

/** Counts by status, progress sums and finished_at follow the runs. */
static void test_sweep_counts_progress(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX], got[6][STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    for (int i = 0; i < 4; i++)
        claim(f, got[i]);
    OK(store_run_progress(f->c, got[0], attempt_of(f, got[0]), 30, 100, NULL));
    OK(store_run_progress(f->c, got[1], attempt_of(f, got[1]), 50, 200, NULL));
    finish(f, got[2], STORE_RUN_SUCCEEDED); /* progress_done becomes its total, 100 */
    finish(f, got[3], STORE_RUN_DIVERGED);
    OK(store_sweep_get(f->c, SWEEP_ID, 0, &sw));
    assert_int_equal(sw.points, 6);
    assert_int_equal(sw.by_status[STORE_RUN_QUEUED], 2);
    assert_int_equal(sw.by_status[STORE_RUN_RUNNING], 2);
    assert_int_equal(sw.by_status[STORE_RUN_SUCCEEDED], 1);
    assert_int_equal(sw.by_status[STORE_RUN_DIVERGED], 1);
    assert_int_equal(sw.progress_done, 30 + 50 + 100);
    assert_int_equal(sw.progress_total, 100 + 200 + 100 * 4);
    assert_int_equal(sw.finished_at, 0);
    store_sweep_clear(&sw);

    struct runs_seen seen = {0};
    OK(store_sweep_runs(f->c, SWEEP_ID, seen_run, &seen));
    assert_int_equal(seen.meta_seen, 2); /* meta_json filled for the finished ones */

    /* all final: finished_at is the last one's */
    finish(f, got[0], STORE_RUN_FAILED);
    finish(f, got[1], STORE_RUN_SUCCEEDED);
    int64_t n = 0;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    assert_int_equal(n, 2);
    OK(store_sweep_get(f->c, SWEEP_ID, 0, &sw));
    assert_int_equal(sw.by_status[STORE_RUN_CANCELLED], 2);
    assert_int_equal(sw.by_status[STORE_RUN_FAILED], 1);
    assert_int_equal(sw.by_status[STORE_RUN_SUCCEEDED], 2);
    assert_true(sw.finished_at > 0);
    assert_int_equal(sw.finished_at, raw_count(f, "SELECT max(finished_at) FROM runs"));
    store_sweep_clear(&sw);
}

/** Cancel: queued runs cancelled at once, running ones asked to stop, final ones left. */
static void test_sweep_cancel(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX], got[2][STORE_ID_MAX], other[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    make_run(f, base, other); /* not the sweep's */
    claim(f, got[0]);
    claim(f, got[1]);
    finish(f, got[1], STORE_RUN_SUCCEEDED);
    int64_t n = 0;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    assert_int_equal(n, 5); /* 4 queued + 1 running */
    OK(store_sweep_get(f->c, SWEEP_ID, 0, &sw));
    assert_int_equal(sw.by_status[STORE_RUN_CANCELLED], 4);
    assert_int_equal(sw.by_status[STORE_RUN_RUNNING], 1);
    assert_int_equal(sw.by_status[STORE_RUN_SUCCEEDED], 1);
    store_sweep_clear(&sw);
    int cancel = 0;
    OK(store_run_progress(f->c, got[0], attempt_of(f, got[0]), 1, 0, &cancel));
    assert_int_equal(cancel, 1);
    assert_int_equal(status_of(f, other), STORE_RUN_QUEUED);
    /* again: nothing left to cancel but the running one, asked again */
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    assert_int_equal(n, 1);
    assert_int_equal(store_sweep_cancel(f->c, SWEEP_ID2, &n), STORE_NOT_FOUND);
    assert_int_equal(n, 0);
}

/** Delete: refused while a run is active; then the runs, results, labels, the sweep and its
 *  models that nothing else uses go. */
static void test_sweep_delete(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX], got[STORE_ID_MAX], user[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    claim(f, got);
    finish(f, got, STORE_RUN_SUCCEEDED);
    claim(f, got); /* running */
    /* an ordinary run of the sweep's second model keeps that model */
    store_run_new in = {.model_id = NEW_M2, .request_json = "{}", .labels_json = "{\"x\":\"y\"}"};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    snprintf(user, sizeof user, "%s", r.id);
    store_run_clear(&r);

    int64_t active = 0;
    assert_int_equal(store_sweep_delete(f->c, SWEEP_ID, &active), STORE_CONFLICT);
    assert_int_equal(active, 5);
    assert_non_null(strstr(store_errmsg(f->c), "cancel it first"));
    assert_int_equal(count_rows(f, "runs"), 7);
    int64_t n;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    assert_int_equal(store_sweep_delete(f->c, SWEEP_ID, &active), STORE_CONFLICT);
    assert_int_equal(active, 1); /* the running one, until its worker stops */
    store_run_status now;
    OK(store_run_release(f->c, got, attempt_of(f, got), &now));
    assert_int_equal(now, STORE_RUN_CANCELLED);

    active = -1;
    OK(store_sweep_delete(f->c, SWEEP_ID, &active));
    assert_int_equal(count_rows(f, "sweeps"), 0);
    assert_int_equal(count_rows(f, "runs"), 1); /* the ordinary run */
    assert_int_equal(count_rows(f, "results"), 0);
    assert_int_equal(count_rows(f, "result_chunks"), 0);
    /* left: base (not the sweep's), NEW_M2 (used by the ordinary run) */
    assert_int_equal(count_rows(f, "models"), 2);
    store_model m;
    assert_int_equal(store_model_get(f->c, NEW_M1, &m), STORE_NOT_FOUND);
    OK(store_model_get(f->c, NEW_M2, &m));
    store_model_clear(&m);
    OK(store_model_get(f->c, base, &m));
    store_model_clear(&m);
    /* labels left: the ordinary run's one and NEW_M2's two */
    assert_int_equal(count_rows(f, "labels"), 3);
    assert_int_equal(store_sweep_get(f->c, SWEEP_ID, 0, &sw), STORE_NOT_FOUND);
    assert_int_equal(store_sweep_delete(f->c, SWEEP_ID, &active), STORE_NOT_FOUND);
    assert_int_equal(status_of(f, user), STORE_RUN_QUEUED);
}

/** The same key and body replay the sweep; another body under the key is refused. */
static void test_sweep_idempotency(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    w.in.idempotency_key = "key-1";
    w.in.body_hash = BODY_HASH;
    store_sweep sw;
    int created = 0;
    OK(store_sweep_create(f->c, &w.in, &sw, &created));
    assert_int_equal(created, 1);
    assert_string_equal(sw.idempotency_key, "key-1");
    store_sweep_clear(&sw);
    /* a replay (drawn with another id by the caller) answers the first */
    w.in.id = SWEEP_ID2;
    OK(store_sweep_create(f->c, &w.in, &sw, &created));
    assert_int_equal(created, 0);
    assert_string_equal(sw.id, SWEEP_ID);
    assert_int_equal(sw.points, 6);
    store_sweep_clear(&sw);
    assert_int_equal(count_rows(f, "runs"), 6);
    w.in.body_hash = HASH_B;
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, &created), STORE_KEY_REUSED);
    assert_non_null(strstr(store_errmsg(f->c), SWEEP_ID));
    w.in.body_hash = NULL;
    assert_int_equal(store_sweep_create(f->c, &w.in, &sw, &created), STORE_INVALID);
    assert_int_equal(count_rows(f, "sweeps"), 1);
    assert_int_equal(count_rows(f, "runs"), 6);
}

/** runs_settled() answers for sweeps ("s_" ids) with runs ids in one call. */
static void test_sweep_settled(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX], run[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    make_run(f, base, run);
    char ids[4][STORE_ID_MAX] = {SWEEP_ID, "", SWEEP_ID2, "r_ffffffffffffffffffffffff"};
    snprintf(ids[1], STORE_ID_MAX, "%s", run);
    unsigned char settled[4];
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, 4, settled));
    assert_int_equal(settled[0], 0); /* queued runs */
    assert_int_equal(settled[1], 0);
    assert_int_equal(settled[2], 1); /* no such sweep */
    assert_int_equal(settled[3], 1); /* no such run */
    int64_t n;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, 4, settled));
    assert_int_equal(settled[0], 1);
    assert_int_equal(settled[1], 0);
    /* a running point keeps it unsettled */
    struct sweep6 w2;
    sweep6_init(&w2, SWEEP_ID2, base);
    w2.models[0].id = "m_aaaaaaaaaaaaaaaaaaaaaa03";
    w2.models[1].id = "m_aaaaaaaaaaaaaaaaaaaaaa04";
    for (int i = 0; i < 6; i++)
        w2.runs[i].model_id = base;
    OK(store_sweep_create(f->c, &w2.in, &sw, NULL));
    store_sweep_clear(&sw);
    claim(f, got); /* the ordinary run */
    claim(f, got); /* the first point of SWEEP_ID2 */
    OK(store_sweep_cancel(f->c, SWEEP_ID2, &n));
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, 4, settled));
    assert_int_equal(settled[2], 0);
    OK(store_run_release(f->c, got, attempt_of(f, got), NULL));
    OK(store_runs_settled(f->c, (const char(*)[STORE_ID_MAX])ids, 4, settled));
    assert_int_equal(settled[2], 1);
}

static int collect_sweep(void *ctx, const store_sweep *sw)
{
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s%s:%lld:%s", n ? "," : "", sw->id, (long long)sw->points,
             sw->labels_json);
    assert_null(sw->request_json);
    return 0;
}

/** Lists: newest first, with counts, by label, a page at a time. */
static void test_sweep_list(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    sweep6_init(&w, SWEEP_ID2, base);
    w.in.labels_json = "{\"project\":\"other\"}";
    w.in.n_models = 0;
    for (int i = 0; i < 6; i++)
        w.runs[i].model_id = base;
    w.in.n_runs = 3;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);

    char buf[256] = "", next[STORE_CURSOR_MAX];
    OK(store_sweep_list(f->c, NULL, NULL, 10, collect_sweep, buf, next));
    assert_string_equal(buf, SWEEP_ID2 ":3:{\"project\":\"other\"}," SWEEP_ID
                                       ":6:{\"project\":\"isn\"}");
    assert_string_equal(next, "");
    buf[0] = '\0';
    OK(store_sweep_list(f->c, NULL, NULL, 1, collect_sweep, buf, next));
    assert_string_equal(buf, SWEEP_ID2 ":3:{\"project\":\"other\"}");
    assert_true(next[0] != '\0');
    buf[0] = '\0';
    OK(store_sweep_list(f->c, NULL, next, 1, collect_sweep, buf, next));
    assert_string_equal(buf, SWEEP_ID ":6:{\"project\":\"isn\"}");
    assert_string_equal(next, "");
    store_labels l = {.n = 1, .keys = {"project"}, .values = {"isn"}};
    buf[0] = '\0';
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_string_equal(buf, SWEEP_ID ":6:{\"project\":\"isn\"}");
    l.values[0] = "none";
    buf[0] = '\0';
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_string_equal(buf, "");
    assert_int_equal(store_sweep_list(f->c, NULL, "bogus", 10, collect_sweep, buf, NULL),
                     STORE_INVALID);
}

/** Labels and requests with quotes, backslashes, a newline and non-ASCII text, and a key given
 *  twice, are stored verbatim, found by list filters, and a point's numbers and NULLs (inline
 *  model, no labels) come back as given, on every backend (PostgreSQL sends a batch of points
 *  as array parameters: their quoting is what this checks). */
static void test_sweep_odd_text(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    const char *labels =
        "{\"k\\\"q\":\"v\\\\w\",\"\xc3\xbc\":\"\xc3\xb6 NULL {x,y}\",\"a\":\"1\",\"a\":\"2\"}";
    const char *req = "{\"s\":\"q\\\"b\\\\ \\n \xe2\x82\xac,{}\"}";
    store_run_new runs[3] = {{.request_json = req,
                              .labels_json = labels,
                              .priority = -3,
                              .max_attempts = 5,
                              .time_limit = 0.25,
                              .progress_total = 7},
                             {.model_id = base, .request_json = "NULL", .subkind = "x_1"},
                             {.model_id = base, .request_json = "\"\"", .labels_json = "{}"}};
    store_sweep_new in = {.id = SWEEP_ID,
                          .request_json = req,
                          .name = "n\"a\\me",
                          .labels_json = labels,
                          .runs = runs,
                          .n_runs = 3};
    store_sweep sw;
    OK(store_sweep_create(f->c, &in, &sw, NULL));
    assert_string_equal(sw.name, "n\"a\\me");
    assert_string_equal(sw.labels_json, labels);
    store_sweep_clear(&sw);
    OK(store_sweep_get(f->c, SWEEP_ID, 1, &sw));
    assert_string_equal(sw.request_json, req);
    store_sweep_clear(&sw);
    /* the requests, verbatim */
    assert_int_equal(raw_count(f,
                               "SELECT count(*) FROM runs WHERE request_json = "
                               "'{\"s\":\"q\\\"b\\\\ \\n \xe2\x82\xac,{}\"}' AND sweep_index = 0"),
                     1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs WHERE request_json = 'NULL' AND "
                                  "subkind = 'x_1' AND sweep_index = 1"),
                     1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs WHERE request_json = '\"\"' AND "
                                  "subkind IS NULL AND sweep_index = 2"),
                     1);
    /* the numbers, the inline model and the labels of the points */
    struct runs_seen seen = {0};
    OK(store_sweep_runs(f->c, SWEEP_ID, seen_run, &seen));
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.models[0], "");
    assert_string_equal(seen.models[1], base);
    assert_string_equal(seen.labels, "{}");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs WHERE priority = -3 AND "
                                  "max_attempts = 5 AND time_limit = 0.25 AND progress_total = 7"),
                     1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs WHERE priority = 0 AND "
                                  "max_attempts = 3 AND time_limit = 0 AND progress_total = 0"),
                     2);
    /* the label rows: three per labelled object (the key given twice keeps its last value) */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 6);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels WHERE key = 'a' AND value = '2'"),
                     2);
    /* found by list filters */
    char buf[256] = "";
    store_labels l = {
        .n = 2, .keys = {"k\"q", "\xc3\xbc"}, .values = {"v\\w", "\xc3\xb6 NULL {x,y}"}};
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_non_null(strstr(buf, SWEEP_ID));
    l = (store_labels){.n = 1, .keys = {"a"}, .values = {"2"}};
    buf[0] = '\0';
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_non_null(strstr(buf, SWEEP_ID));
    l.values[0] = "1";
    buf[0] = '\0';
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_string_equal(buf, "");
    l = (store_labels){.n = 1, .keys = {"k\"q"}, .values = {"v\\\\w"}};
    OK(store_sweep_list(f->c, &l, NULL, 10, collect_sweep, buf, NULL));
    assert_string_equal(buf, "");
}

/** After a crash a sweep's running points are requeued like any run, still the sweep's. */
static void test_sweep_requeue(void **state)
{
    struct fx *f = *state;
    char base[STORE_ID_MAX], got[STORE_ID_MAX];
    make_model(f, "base", base);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, base);
    store_sweep sw;
    OK(store_sweep_create(f->c, &w.in, &sw, NULL));
    store_sweep_clear(&sw);
    claim(f, got);
    claim(f, got);
    reopen(f);
    expire_leases(f); /* PostgreSQL: the crashed daemon's leases ran out */
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 2);
    OK(store_sweep_get(f->c, SWEEP_ID, 0, &sw));
    assert_int_equal(sw.by_status[STORE_RUN_QUEUED], 6);
    store_sweep_clear(&sw);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.sweep_id, SWEEP_ID);
    assert_int_equal(r.sweep_index, 0);
    assert_int_equal(r.attempts, 2);
    store_run_clear(&r);
}

/** A database of version 3 takes sweeps of its old models after the migration. */
static void test_sweep_on_migrated_v3(void **state)
{
    struct fx *f = *state;
    SKIP_ON_PG(f, "about an SQLite file of schema version 3 (PostgreSQL's migrations start at "
                  "the sweeps)");
    char path[128];
    snprintf(path, sizeof path, "%s/v3.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int v = 0; v < 3; v++)
        assert_int_equal(sqlite3_exec(db, store_migrations[v].sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 3;"
                                  "INSERT INTO models (id, hash, n, created_at, json) VALUES "
                                  "('m_0123456789abcdef01234567', '', 3, 1, '{}');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    store *s2 = open_store(path, 0);
    store_conn *c2 = store_connect(s2);
    assert_non_null(c2);
    store_sweep sw;
    assert_int_equal(store_sweep_get(c2, SWEEP_ID, 0, &sw), STORE_NOT_FOUND);
    struct sweep6 w;
    sweep6_init(&w, SWEEP_ID, "m_0123456789abcdef01234567");
    assert_int_equal(store_sweep_create(c2, &w.in, &sw, NULL), STORE_OK);
    assert_int_equal(sw.points, 6);
    store_sweep_clear(&sw);
    store_disconnect(c2);
    store_close(s2);
    rm_db_files(path);
}

/** The wrappers refuse a NULL connection and a backend without sweeps, clearing outputs. */
static void test_sweep_wrappers(void **state)
{
    (void)state;
    store_sweep sw;
    memset(&sw, 0x5a, sizeof sw);
    int created = 7;
    int64_t n = 7;
    store_sweep_new in = {.id = SWEEP_ID, .request_json = "{}"};
    assert_int_equal(store_sweep_create(NULL, &in, &sw, &created), STORE_ERROR);
    assert_int_equal(created, 0);
    assert_null(sw.name);
    assert_int_equal(store_sweep_cancel(NULL, SWEEP_ID, &n), STORE_ERROR);
    assert_int_equal(n, 0);
    n = 7;
    assert_int_equal(store_sweep_delete(NULL, SWEEP_ID, &n), STORE_ERROR);
    assert_int_equal(n, 0);
    char next[STORE_CURSOR_MAX] = "x";
    assert_int_equal(store_sweep_list(NULL, NULL, NULL, 10, NULL, NULL, next), STORE_ERROR);
    assert_string_equal(next, "");

    static const struct store_ops bare = {.name = "bare"};
    struct store st = {.ops = &bare};
    struct store_conn conn = {.store = &st};
    memset(&sw, 0x5a, sizeof sw);
    assert_int_equal(store_sweep_get(&conn, SWEEP_ID, 0, &sw), STORE_ERROR);
    assert_string_equal(store_errmsg(&conn), "the bare store has no sweeps");
    assert_null(sw.request_json);
    assert_int_equal(store_sweep_runs(&conn, SWEEP_ID, NULL, NULL), STORE_ERROR);
    store_sweep_clear(NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** 10,000 points in one create (one transaction); read back, counted, cancelled, deleted. The
 *  time is printed for the report (speed targets live in bench/, not here). */
static void test_sweep_large(void **state)
{
    struct fx *f = *state;
    enum { N = 10000 };
    char base[STORE_ID_MAX];
    make_model(f, "base", base);
    store_run_new *runs = calloc(N, sizeof *runs);
    assert_non_null(runs);
    const char *labels = "{\"project\":\"big\",\"sweep\":\"" SWEEP_ID "\"}";
    for (int i = 0; i < N; i++)
        runs[i] = (store_run_new){.model_id = base,
                                  .request_json = "{\"dt\":0.1,\"seed\":1,\"inputs\":{\"steps\":"
                                                  "1000,\"trials\":4}}",
                                  .progress_total = 1000,
                                  .labels_json = labels};
    store_sweep_new in = {.id = SWEEP_ID,
                          .request_json = "{}",
                          .labels_json = "{\"project\":\"big\"}",
                          .runs = runs,
                          .n_runs = N,
                          .queue_limit = N};
    store_sweep sw;
    double t0 = now_s();
    OK(store_sweep_create(f->c, &in, &sw, NULL));
    double t1 = now_s();
    print_message("sweep_create of %d runs: %.3f s\n", N, t1 - t0);
    assert_int_equal(sw.points, N);
    assert_int_equal(sw.by_status[STORE_RUN_QUEUED], N);
    store_sweep_clear(&sw);
    t0 = now_s();
    OK(store_sweep_get(f->c, SWEEP_ID, 0, &sw));
    t1 = now_s();
    print_message("sweep_get of %d runs: %.4f s\n", N, t1 - t0);
    assert_int_equal(sw.progress_total, (int64_t)N * 1000);
    store_sweep_clear(&sw);
    assert_int_equal(count_rows(f, "labels"), 2 * N + 1);
    int64_t n;
    OK(store_sweep_cancel(f->c, SWEEP_ID, &n));
    assert_int_equal(n, N);
    t0 = now_s();
    OK(store_sweep_delete(f->c, SWEEP_ID, NULL));
    t1 = now_s();
    print_message("sweep_delete of %d runs: %.3f s\n", N, t1 - t0);
    assert_int_equal(count_rows(f, "runs"), 0);
    assert_int_equal(count_rows(f, "labels"), 0);
    free(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_counts_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_settled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_odd_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_on_migrated_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_large, setup, teardown),
        cmocka_unit_test(test_sweep_wrappers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
