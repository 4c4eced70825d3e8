/**
 * @file test_store_trainings.c
 * @brief The store's trainings (issue 15, schema version 6 / PostgreSQL 2): jobs of kind
 *        "training" ("t_" ids) in the one queue, listed and counted apart; checkpoints and curve
 *        rows written by training_checkpoint_put() (fenced by the claim's attempt, one
 *        transaction, nothing written when refused), read back by training_checkpoint_get() and
 *        training_curve_read(); the trained model created by finish_model() inside the finish
 *        (kept with its commit, gone with an abort or a fenced-out commit); deleting a training
 *        deletes its checkpoint and curve but not its model; a crash keeps the last checkpoint.
 *
 * Written through store.h (plus raw SQL for counts), so that it runs on both backends
 * (server/<name> on SQLite, server/pg/<name> on PostgreSQL).
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"

/** Queue a training on model @p mid (subkind a task's name); its id into @p id. */
static void make_training(struct fx *f, const char *mid, char id[STORE_ID_MAX])
{
    store_run_new in = {.kind = "training",
                        .subkind = "perceptual_decision_making",
                        .model_id = mid,
                        .request_json = "{\"iterations\":2000}",
                        .progress_total = 2000};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

/** A model, a training of it, claimed: the training's id in @p id, the claim's attempt back. */
static int running_training(struct fx *f, char mid[STORE_ID_MAX], char id[STORE_ID_MAX])
{
    make_model(f, "initial", mid);
    make_training(f, mid, id);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, id);
    int attempt = r.attempts;
    store_run_clear(&r);
    return attempt;
}

/** A curve row whose values all derive from @p it and @p salt (accuracy NaN when @p it is odd). */
static store_curve_row row_of(int64_t it, double salt)
{
    store_curve_row r = {.iteration = it,
                         .loss = 1.0 / (double)(it + 1) + salt,
                         .task_loss = 0.5 / (double)(it + 1) + salt,
                         .l2_weights = 1e-3 * (double)it,
                         .l2_rates = 1e-4 * (double)it,
                         .grad_norm = 2.0 + salt,
                         .accuracy = it % 2 ? NAN : 0.5 + 1e-3 * (double)it,
                         .eval_accuracy = NAN};
    return r;
}

/** 1 when two doubles are the same value (NaN equals NaN). */
static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void assert_row_equal(const store_curve_row *a, const store_curve_row *b)
{
    assert_int_equal(a->iteration, b->iteration);
    assert_true(same(a->loss, b->loss));
    assert_true(same(a->task_loss, b->task_loss));
    assert_true(same(a->l2_weights, b->l2_weights));
    assert_true(same(a->l2_rates, b->l2_rates));
    assert_true(same(a->grad_norm, b->grad_norm));
    assert_true(same(a->accuracy, b->accuracy));
    assert_true(same(a->eval_accuracy, b->eval_accuracy));
}

/** Curve rows collected by training_curve_read(), up to 64; stops after @p stop_after rows when
 *  it is > 0. */
struct rows {
    int n, stop_after;
    store_curve_row r[64];
};

static int collect(void *ctx, const store_curve_row *row)
{
    struct rows *rs = ctx;
    if (rs->n < 64) rs->r[rs->n] = *row;
    rs->n++;
    return rs->stop_after > 0 && rs->n >= rs->stop_after;
}

static struct rows read_curve(struct fx *f, const char *id, int64_t after, int limit)
{
    struct rows rs = {0};
    OK(store_training_curve_read(f->c, id, after, limit, collect, &rs));
    return rs;
}

/** A checkpoint's bytes: @p n bytes of a pattern of @p seed. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

/** The checkpoint of @p id is @p n bytes equal to @p want at @p iteration. */
static void assert_checkpoint(struct fx *f, const char *id, int64_t iteration,
                              const unsigned char *want, size_t n)
{
    int64_t it = -1;
    void *got = NULL;
    size_t len = 0;
    OK(store_training_checkpoint_get(f->c, id, &it, &got, &len));
    assert_int_equal(it, iteration);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    free(got);
}

static int64_t count_sql(struct fx *f, const char *fmt, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, fmt, id);
    return raw_count(f, sql);
}

/** Ids of a list, up to 8. */
struct ids {
    int n;
    char id[8][STORE_ID_MAX];
};

static int collect_id(void *ctx, const store_run *r)
{
    struct ids *v = ctx;
    if (v->n < 8) snprintf(v->id[v->n], STORE_ID_MAX, "%s", r->id);
    v->n++;
    return 0;
}

static struct ids list_kind(struct fx *f, const char *kind)
{
    struct ids v = {0};
    char next[STORE_CURSOR_MAX];
    store_run_filter flt = {.status = -1, .kind = kind};
    OK(store_run_list(f->c, &flt, NULL, 0, collect_id, &v, next));
    assert_string_equal(next, "");
    return v;
}

/** Trainings are jobs of their own kind: "t_" ids, their subkind, apart in lists and counts. */
static void test_training_kind(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], run[STORE_ID_MAX], tr[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_run(f, mid, run);
    make_training(f, mid, tr);
    assert_int_equal(strncmp(tr, "t_", 2), 0);
    assert_int_equal(strlen(tr), 26);
    store_run r;
    OK(store_run_get(f->c, tr, &r));
    assert_string_equal(r.kind, "training");
    assert_string_equal(r.subkind, "perceptual_decision_making");
    assert_string_equal(r.model_id, mid);
    assert_int_equal(r.status, STORE_RUN_QUEUED);
    assert_int_equal(r.progress_total, 2000);
    store_run_clear(&r);

    /* a list of runs does not show trainings, a list of trainings only them, none: both */
    struct ids v = list_kind(f, "run");
    assert_int_equal(v.n, 1);
    assert_string_equal(v.id[0], run);
    v = list_kind(f, "training");
    assert_int_equal(v.n, 1);
    assert_string_equal(v.id[0], tr);
    assert_int_equal(list_kind(f, "analysis").n, 0);
    assert_int_equal(list_kind(f, NULL).n, 2);
    struct ids w = {0};
    char next[STORE_CURSOR_MAX];
    store_run_filter flt = {.status = -1, .kind = "training", .subkind = "delay_match_sample"};
    OK(store_run_list(f->c, &flt, NULL, 0, collect_id, &w, next));
    assert_int_equal(w.n, 0);

    /* counted apart; one queue for every kind */
    store_counts cn;
    OK(store_counts_get(f->c, &cn));
    assert_int_equal(cn.by_status[STORE_RUN_QUEUED], 1);
    assert_int_equal(cn.trainings_by_status[STORE_RUN_QUEUED], 1);
    assert_int_equal(cn.analyses_by_status[STORE_RUN_QUEUED], 0);
    int64_t depth = 0;
    OK(store_queue_depth(f->c, &depth));
    assert_int_equal(depth, 2);
    /* claimed, cancelled and deleted like any job */
    OK(store_run_cancel(f->c, tr, NULL));
    OK(store_counts_get(f->c, &cn));
    assert_int_equal(cn.trainings_by_status[STORE_RUN_CANCELLED], 1);
    OK(store_run_delete(f->c, tr));
    assert_int_equal(store_run_get(f->c, tr, &r), STORE_NOT_FOUND);
}

/** A checkpoint round-trips byte for byte (several MB), each put replaces it, a put without
 *  state keeps it; curve rows round-trip with their NaNs and infinities. */
static void test_checkpoint_roundtrip(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    int64_t it = 7;
    void *got = (void *)1;
    size_t len = 9;
    assert_int_equal(store_training_checkpoint_get(f->c, tr, &it, &got, &len), STORE_NOT_FOUND);
    assert_null(got);
    assert_int_equal(len, 0);
    assert_int_equal(it, 0);

    const size_t big = (size_t)6 << 20; /* N = 512: theta and two moments, about 6 MB */
    unsigned char *a = pattern(big, 1), *b = pattern(big / 3, 2);
    store_curve_row rows[3] = {row_of(0, 0), row_of(1, 0), row_of(2, 0)};
    rows[2].loss = INFINITY;
    rows[2].grad_norm = -INFINITY;
    OK(store_training_checkpoint_put(f->c, tr, att, 100, a, big, rows, 3));
    assert_checkpoint(f, tr, 100, a, big);
    struct rows rs = read_curve(f, tr, -1, 0);
    assert_int_equal(rs.n, 3);
    for (int i = 0; i < 3; i++)
        assert_row_equal(&rs.r[i], &rows[i]);

    /* replaced (a smaller one), with no rows */
    OK(store_training_checkpoint_put(f->c, tr, att, 200, b, big / 3, NULL, 0));
    assert_checkpoint(f, tr, 200, b, big / 3);
    /* curve rows alone keep the checkpoint (iteration and size ignored) */
    store_curve_row more = row_of(3, 0);
    OK(store_training_checkpoint_put(f->c, tr, att, 999, NULL, 5, &more, 1));
    assert_checkpoint(f, tr, 200, b, big / 3);
    assert_int_equal(read_curve(f, tr, -1, 0).n, 4);
    /* one checkpoint per training */
    assert_int_equal(
        count_sql(f, "SELECT count(*) FROM training_checkpoints WHERE run_id = '%s'", tr), 1);
    /* progress writes are the caller's; the put renewed the lease and changed nothing else */
    store_run r;
    OK(store_run_get(f->c, tr, &r));
    assert_int_equal(r.status, STORE_RUN_RUNNING);
    assert_int_equal(r.progress_done, 0);
    assert_true(r.lease_expires_at > 0);
    store_run_clear(&r);
    free(a);
    free(b);
}

/** Bad arguments are refused before anything is written. */
static void test_checkpoint_invalid(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    unsigned char s[16] = {1, 2, 3};
    store_curve_row down[2] = {row_of(5, 0), row_of(4, 0)};
    store_curve_row twice[2] = {row_of(5, 0), row_of(5, 1)};
    store_curve_row neg = row_of(0, 0);
    neg.iteration = -1;
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 1, s, 0, NULL, 0), STORE_INVALID);
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, -1, s, 16, NULL, 0),
                     STORE_INVALID);
    assert_int_equal(
        store_training_checkpoint_put(f->c, tr, att, 1, s, STORE_CHECKPOINT_MAX + 1, NULL, 0),
        STORE_INVALID);
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 1, s, 16, down, 2),
                     STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "increasing"));
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 1, s, 16, twice, 2),
                     STORE_INVALID);
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 1, s, 16, &neg, 1),
                     STORE_INVALID);
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 1, s, 16, NULL, 2),
                     STORE_INVALID);
    assert_int_equal(store_training_checkpoint_put(f->c, NULL, att, 1, s, 16, NULL, 0),
                     STORE_INVALID);
    assert_int_equal(
        store_training_checkpoint_put(f->c, "t_'; DROP TABLE runs", att, 1, s, 16, NULL, 0),
        STORE_INVALID);
    int64_t it;
    void *got;
    size_t len;
    assert_int_equal(store_training_checkpoint_get(f->c, tr, NULL, &got, &len), STORE_INVALID);
    assert_int_equal(store_training_checkpoint_get(f->c, tr, &it, &got, &len), STORE_NOT_FOUND);
    assert_int_equal(read_curve(f, tr, -1, 0).n, 0);
    assert_int_equal(store_training_checkpoint_put(NULL, tr, att, 1, s, 16, NULL, 0), STORE_ERROR);
}

/**
 * The fence: a put of a stale attempt (the training rescued and claimed again), of a job that is
 * not running, or of no job, is refused and writes nothing, neither checkpoint nor curve row.
 */
static void test_checkpoint_fenced(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    unsigned char one[100], two[50];
    memset(one, 1, sizeof one);
    memset(two, 2, sizeof two);
    store_curve_row r0 = row_of(0, 0), r1 = row_of(1, 0), r0b = row_of(0, 9);
    OK(store_training_checkpoint_put(f->c, tr, att, 10, one, sizeof one, &r0, 1));

    /* the daemon died: the training is requeued and claimed again (attempt + 1) */
    expire_leases(f);
    OK(store_requeue_orphans(f->c, NULL));
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, tr);
    assert_int_equal(r.attempts, att + 1);
    /* the old attempt's writes are refused and change nothing */
    store_curve_row both[2] = {r0b, r1};
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 20, two, sizeof two, both, 2),
                     STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 20, NULL, 0, both, 2),
                     STORE_CONFLICT);
    assert_checkpoint(f, tr, 10, one, sizeof one);
    struct rows rs = read_curve(f, tr, -1, 0);
    assert_int_equal(rs.n, 1);
    assert_row_equal(&rs.r[0], &r0);
    /* the new attempt resumes from the checkpoint and writes */
    OK(store_training_checkpoint_put(f->c, tr, r.attempts, 20, two, sizeof two, both, 2));
    assert_checkpoint(f, tr, 20, two, sizeof two);
    rs = read_curve(f, tr, -1, 0);
    assert_int_equal(rs.n, 2);
    assert_row_equal(&rs.r[0], &r0b);

    /* not running: refused, whatever the attempt */
    OK(store_finish_begin(f->c, tr, r.attempts));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(store_training_checkpoint_put(f->c, tr, r.attempts, 30, one, 10, NULL, 0),
                     STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "not running"));
    assert_checkpoint(f, tr, 20, two, sizeof two);
    /* a queued training is not running either */
    char queued[STORE_ID_MAX];
    make_training(f, mid, queued);
    assert_int_equal(store_training_checkpoint_put(f->c, queued, 0, 1, one, 10, &r1, 1),
                     STORE_CONFLICT);
    assert_int_equal(
        store_training_checkpoint_put(f->c, "t_000000000000000000000000", 1, 1, one, 10, NULL, 0),
        STORE_NOT_FOUND);
    assert_int_equal(
        count_sql(f, "SELECT count(*) FROM training_curve WHERE run_id = '%s'", queued), 0);
    store_run_clear(&r);
}

/** Curve rows are upserted (a rewritten iteration replaces its row) and read in iteration
 *  order, after an iteration, up to a limit, until the callback stops. */
static void test_curve_upsert_and_read(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    store_curve_row first[10], second[8];
    for (int i = 0; i < 10; i++)
        first[i] = row_of(i * 10, 0);
    for (int i = 0; i < 8; i++)
        second[i] = row_of(50 + i * 10, 1); /* 50 .. 120 */
    OK(store_training_checkpoint_put(f->c, tr, att, 0, NULL, 0, first, 10));
    /* a resumed training passes iterations 50 .. 90 again: their rows are replaced */
    OK(store_training_checkpoint_put(f->c, tr, att, 0, NULL, 0, second, 8));
    struct rows rs = read_curve(f, tr, -1, 0);
    assert_int_equal(rs.n, 13);
    for (int i = 0; i < 5; i++)
        assert_row_equal(&rs.r[i], &first[i]);
    for (int i = 0; i < 8; i++)
        assert_row_equal(&rs.r[5 + i], &second[i]);
    assert_int_equal(count_sql(f, "SELECT count(*) FROM training_curve WHERE run_id = '%s'", tr),
                     13);

    /* incremental reads: after an iteration (exclusive), a limit, a callback that stops */
    rs = read_curve(f, tr, 40, 0);
    assert_int_equal(rs.n, 8);
    assert_int_equal(rs.r[0].iteration, 50);
    rs = read_curve(f, tr, 45, 3);
    assert_int_equal(rs.n, 3);
    assert_int_equal(rs.r[2].iteration, 70);
    rs = read_curve(f, tr, 120, 0);
    assert_int_equal(rs.n, 0);
    struct rows stop = {.stop_after = 2};
    OK(store_training_curve_read(f->c, tr, -1, 0, collect, &stop));
    assert_int_equal(stop.n, 2);
    OK(store_training_curve_read(f->c, tr, -1, 0, NULL, NULL));
    /* another job's curve is its own; none for a job without rows or no job */
    assert_int_equal(read_curve(f, "t_000000000000000000000000", -1, 0).n, 0);
    assert_int_equal(store_training_curve_read(f->c, NULL, -1, 0, collect, &stop), STORE_INVALID);
}

/** The outcome of finish_model() in one of the tests below. */
static store_model finish_with_model(struct fx *f, const char *tr, int att)
{
    OK(store_finish_begin(f->c, tr, att));
    OK(store_result_begin(f->c, "loss", "float64", 1, (int64_t[]){2}));
    OK(store_result_append(f->c, (double[]){1.0, 0.5}, 16));
    OK(store_result_end(f->c, NULL));
    store_model m;
    OK(store_finish_model(f->c, "trained", HASH_B, 50, "{\"name\":\"trained\"}",
                          "{\"task\":\"pdm\"}", tr, &m));
    assert_int_equal(strncmp(m.id, "m_", 2), 0);
    assert_string_equal(m.training_id, tr);
    assert_string_equal(m.hash, HASH_B);
    assert_string_equal(m.name, "trained");
    assert_string_equal(m.labels_json, "{\"task\":\"pdm\"}");
    assert_int_equal(m.state, STORE_MODEL_READY);
    assert_int_equal(m.n, 50);
    return m;
}

/** Model ids of a model list, up to 8, with their training ids. */
struct models {
    int n;
    char id[8][STORE_ID_MAX], training[8][STORE_ID_MAX];
};

static int collect_model(void *ctx, const store_model *m)
{
    struct models *v = ctx;
    if (v->n < 8) {
        snprintf(v->id[v->n], STORE_ID_MAX, "%s", m->id);
        snprintf(v->training[v->n], STORE_ID_MAX, "%s", m->training_id);
    }
    v->n++;
    return 0;
}

/** finish_model() creates the trained model in the finish's transaction: invisible until the
 *  commit, then with its provenance in model_get and model_list. */
static void test_finish_model_commit(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    store_conn *other = store_connect(f->s);
    assert_non_null(other);
    store_model m = finish_with_model(f, tr, att);
    store_model g;
    assert_int_equal(store_model_get(other, m.id, &g), STORE_NOT_FOUND);
    char meta[128];
    snprintf(meta, sizeof meta, "{\"model_id\":\"%s\"}", m.id);
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, meta, NULL));
    assert_int_equal(store_model_get(other, m.id, &g), STORE_OK);
    assert_string_equal(g.training_id, tr);
    assert_string_equal(g.hash, HASH_B);
    assert_string_equal(g.json, "{\"name\":\"trained\"}");
    assert_string_equal(g.labels_json, "{\"task\":\"pdm\"}");
    assert_string_equal(g.name, "trained");
    assert_int_equal(g.created_at, m.created_at);
    store_model_clear(&g);
    OK(store_model_get(f->c, mid, &g)); /* the initial model has no training */
    assert_string_equal(g.training_id, "");
    store_model_clear(&g);
    struct models v = {0};
    char next[STORE_CURSOR_MAX];
    OK(store_model_list(f->c, NULL, NULL, 0, collect_model, &v, next));
    assert_int_equal(v.n, 2);
    assert_string_equal(v.id[0], m.id); /* newest first */
    assert_string_equal(v.training[0], tr);
    assert_string_equal(v.training[1], "");
    /* labels of the trained model filter like any model's */
    store_labels lb = {.n = 1, .keys = {"task"}, .values = {"pdm"}};
    v = (struct models){0};
    OK(store_model_list(f->c, &lb, NULL, 0, collect_model, &v, next));
    assert_int_equal(v.n, 1);
    store_run r;
    OK(store_run_get(f->c, tr, &r));
    assert_int_equal(r.status, STORE_RUN_SUCCEEDED);
    assert_string_equal(r.meta_json, meta);
    store_run_clear(&r);
    /* training_id NULL: the finishing job's */
    char tr2[STORE_ID_MAX];
    make_training(f, mid, tr2);
    OK(store_run_claim(f->c, &r));
    OK(store_finish_begin(f->c, tr2, r.attempts));
    store_model m2;
    OK(store_finish_model(f->c, NULL, HASH_A, 3, "{}", NULL, NULL, &m2));
    assert_string_equal(m2.training_id, tr2);
    assert_string_equal(m2.name, "");
    assert_string_equal(m2.labels_json, "{}");
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL));
    OK(store_model_get(f->c, m2.id, &g));
    assert_string_equal(g.training_id, tr2);
    store_model_clear(&g);
    store_model_clear(&m2);
    store_run_clear(&r);
    store_model_clear(&m);
    store_disconnect(other);
}

/** An aborted finish and a finish fenced out at its commit keep no model. */
static void test_finish_model_rolled_back(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    store_model m = finish_with_model(f, tr, att);
    store_finish_abort(f->c);
    store_model g;
    assert_int_equal(store_model_get(f->c, m.id, &g), STORE_NOT_FOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
    assert_int_equal(status_of(f, tr), STORE_RUN_RUNNING);
    store_model_clear(&m);

    /* the claim is lost while the finish is open (another attempt of the training begins):
     * the commit is refused and the model is not kept */
    m = finish_with_model(f, tr, att);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE runs SET attempts = attempts + 1 WHERE id = '%s'", tr);
    raw_exec(f, sql, sql); /* SQLite: inside the finish's transaction, on its handle */
    assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL), STORE_CONFLICT);
    assert_non_null(strstr(store_errmsg(f->c), "lease lost"));
    assert_int_equal(store_model_get(f->c, m.id, &g), STORE_NOT_FOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models WHERE training_id IS NOT NULL"), 0);
    assert_int_equal(status_of(f, tr), STORE_RUN_RUNNING);
    store_model_clear(&m);
}

/** finish_model() out of turn or with bad arguments: refused; inside a finish the finish is
 *  rolled back as for any failed step. */
static void test_finish_model_misuse(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    store_model m;
    /* no finish in progress */
    assert_int_equal(store_finish_model(f->c, "x", HASH_A, 1, "{}", NULL, tr, &m), STORE_INVALID);
    /* bad arguments: each rolls the finish back */
    const struct {
        const char *hash, *json, *training;
        int64_t n;
    } bad[] = {{"abc", "{}", NULL, 1},
               {NULL, "{}", NULL, 1},
               {HASH_A, NULL, NULL, 1},
               {HASH_A, "{}", NULL, -1},
               {HASH_A, "{}", "t_000000000000000000000000", 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        OK(store_finish_begin(f->c, tr, att));
        assert_int_equal(store_finish_model(f->c, "x", bad[i].hash, bad[i].n, bad[i].json, NULL,
                                            bad[i].training, &m),
                         STORE_INVALID);
        assert_int_equal(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, NULL, NULL),
                         STORE_INVALID); /* rolled back already */
    }
    /* labels that are not an object of strings */
    OK(store_finish_begin(f->c, tr, att));
    assert_int_equal(store_finish_model(f->c, "x", HASH_A, 1, "{}", "{\"a\":1}", NULL, &m),
                     STORE_INVALID);
    store_finish_abort(f->c);
    /* one model per finish; no result after it */
    OK(store_finish_begin(f->c, tr, att));
    OK(store_finish_model(f->c, "x", HASH_A, 1, "{}", NULL, NULL, &m));
    store_model_clear(&m);
    assert_int_equal(store_finish_model(f->c, "y", HASH_A, 1, "{}", NULL, NULL, &m), STORE_INVALID);
    OK(store_finish_begin(f->c, tr, att));
    OK(store_finish_model(f->c, "x", HASH_A, 1, "{}", NULL, NULL, &m));
    store_model_clear(&m);
    assert_int_equal(store_result_begin(f->c, "V", "uint8", 1, (int64_t[]){1}), STORE_INVALID);
    assert_non_null(strstr(store_errmsg(f->c), "after finish_model"));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
    assert_int_equal(status_of(f, tr), STORE_RUN_RUNNING);
    /* a finish without a model still works */
    OK(store_finish_begin(f->c, tr, att));
    OK(store_finish_commit(f->c, STORE_RUN_FAILED, NULL, "{\"title\":\"x\"}"));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
}

/** Deleting a training deletes its checkpoint and curve, not the model it made. */
static void test_delete_cascade(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX], keep[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    unsigned char s[1000];
    memset(s, 7, sizeof s);
    store_curve_row rows[3] = {row_of(0, 0), row_of(1, 0), row_of(2, 0)};
    OK(store_training_checkpoint_put(f->c, tr, att, 2, s, sizeof s, rows, 3));
    /* another training's rows stay */
    make_training(f, mid, keep);
    store_run r2;
    OK(store_run_claim(f->c, &r2));
    OK(store_training_checkpoint_put(f->c, keep, r2.attempts, 1, s, 10, rows, 2));
    store_model m = finish_with_model(f, tr, att);
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    /* a finished training keeps its checkpoint and curve until it is deleted */
    assert_checkpoint(f, tr, 2, s, sizeof s);
    OK(store_run_delete(f->c, tr));
    int64_t it;
    void *got;
    size_t len;
    assert_int_equal(store_training_checkpoint_get(f->c, tr, &it, &got, &len), STORE_NOT_FOUND);
    assert_int_equal(read_curve(f, tr, -1, 0).n, 0);
    assert_int_equal(count_sql(f, "SELECT count(*) FROM training_curve WHERE run_id = '%s'", tr),
                     0);
    assert_int_equal(
        count_sql(f, "SELECT count(*) FROM training_checkpoints WHERE run_id = '%s'", tr), 0);
    store_model g;
    OK(store_model_get(f->c, m.id, &g)); /* provenance kept */
    assert_string_equal(g.training_id, tr);
    store_model_clear(&g);
    assert_checkpoint(f, keep, 1, s, 10);
    assert_int_equal(read_curve(f, keep, -1, 0).n, 2);
    /* the trained model is a model like any other: deleted when no job uses it */
    OK(store_model_delete(f->c, m.id, NULL));
    store_model_clear(&m);
    store_run_clear(&r2);
}

/**
 * A daemon killed after a checkpoint and in the middle of its finish (the model inserted, not
 * committed): after the restart the training has its last checkpoint and curve, no model, and is
 * queued again; its next attempt reads the checkpoint and finishes.
 */
static void test_crash_keeps_checkpoint(void **state)
{
    struct fx *f = *state;
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    make_model(f, "m", mid);
    make_training(f, mid, tr);
    store_disconnect(f->c);
    f->c = NULL;
    const size_t n = (size_t)2 << 20;
    unsigned char *a = pattern(n, 3), *b = pattern(n, 4);
    store_curve_row rows[2] = {row_of(0, 0), row_of(100, 0)};

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the doomed daemon */
        store *s = open_store(f->path, 1000);
        store_conn *c = s ? store_connect(s) : NULL;
        store_run r;
        store_model m;
        if (!c || store_run_claim(c, &r) != STORE_OK ||
            store_training_checkpoint_put(c, tr, r.attempts, 50, b, n, rows, 1) != STORE_OK ||
            store_training_checkpoint_put(c, tr, r.attempts, 100, a, n, rows + 1, 1) != STORE_OK ||
            store_finish_begin(c, tr, r.attempts) != STORE_OK ||
            store_finish_model(c, "t", HASH_A, 2, "{}", NULL, NULL, &m) != STORE_OK)
            _exit(2);
        _exit(0); /* dies inside the finish, without closing anything */
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);

    store_close(f->s);
    f->s = open_store(f->path, 1000);
    f->c = store_connect(f->s);
    assert_non_null(f->c);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
    assert_checkpoint(f, tr, 100, a, n);
    struct rows rs = read_curve(f, tr, -1, 0);
    assert_int_equal(rs.n, 2);
    assert_row_equal(&rs.r[1], &rows[1]);
    expire_leases(f);
    store_requeue_report rep;
    OK(store_requeue_orphans(f->c, &rep));
    assert_int_equal(rep.requeued, 1);
    store_run r;
    OK(store_run_claim(f->c, &r));
    assert_string_equal(r.id, tr);
    assert_int_equal(r.attempts, 2);
    assert_checkpoint(f, tr, 100, a, n);
    OK(store_training_checkpoint_put(f->c, tr, r.attempts, 200, b, n, NULL, 0));
    OK(store_finish_begin(f->c, tr, r.attempts));
    store_model m;
    OK(store_finish_model(f->c, "t", HASH_A, 2, "{}", NULL, NULL, &m));
    OK(store_finish_commit(f->c, STORE_RUN_SUCCEEDED, "{}", NULL));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 2);
    store_verify_report vr;
    OK(store_verify(f->c, NULL, NULL, &vr));
    store_model_clear(&m);
    store_run_clear(&r);
    free(a);
    free(b);
}

/** A full disk refuses a checkpoint and keeps the previous one (SQLite's page limit). */
static void test_checkpoint_disk_full(void **state)
{
    struct fx *f = *state;
    SKIP_ON_PG(f, "the full disk is made with SQLite's page limit");
    char mid[STORE_ID_MAX], tr[STORE_ID_MAX];
    int att = running_training(f, mid, tr);
    unsigned char small[100];
    memset(small, 1, sizeof small);
    store_curve_row r0 = row_of(0, 0), r1 = row_of(1, 0);
    OK(store_training_checkpoint_put(f->c, tr, att, 1, small, sizeof small, &r0, 1));
    int64_t pages = raw_count(f, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 4);
    sqlite3 *db = store_sqlite_db(f->c);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    const size_t n = 1 << 20;
    unsigned char *big = pattern(n, 5);
    assert_int_equal(store_training_checkpoint_put(f->c, tr, att, 2, big, n, &r1, 1), STORE_FULL);
    assert_checkpoint(f, tr, 1, small, sizeof small);
    assert_int_equal(read_curve(f, tr, -1, 0).n, 1);
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
    OK(store_training_checkpoint_put(f->c, tr, att, 2, big, n, &r1, 1));
    assert_checkpoint(f, tr, 2, big, n);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_training_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_upsert_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_model_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_model_rolled_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_model_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_keeps_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_disk_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
