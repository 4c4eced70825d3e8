/**
 * @file test_store_labels.c
 * @brief Labels of models and jobs (schema v4): stored with the object, shown by gets, claims
 *        and lists, filtered on (AND of exact key/value matches), refused when malformed, and
 *        deleted with their object.
 */
#include "store_fixture.h"
#include "store_migrations.h"

/** Append each listed object's id to the 512-byte buffer @p ctx, comma-separated. */
static void append_id(char *buf, const char *id)
{
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s%s", n ? "," : "", id);
}

static int collect_run(void *ctx, const store_run *r)
{
    append_id(ctx, r->id);
    return 0;
}

static int collect_model(void *ctx, const store_model *m)
{
    append_id(ctx, m->id);
    return 0;
}

/** The runs listed with filter @p flt (every page), newest first, into @p buf (512 bytes). */
static store_status list_runs(struct fx *f, const store_run_filter *flt, char *buf)
{
    buf[0] = '\0';
    char next[STORE_CURSOR_MAX] = "";
    store_status st;
    do {
        st = store_run_list(f->c, flt, next, 2, collect_run, buf, next);
    } while (st == STORE_OK && next[0]);
    return st;
}

/** The models listed with @p labels (every page), newest first, into @p buf (512 bytes). */
static store_status list_models(struct fx *f, const store_labels *labels, char *buf)
{
    buf[0] = '\0';
    char next[STORE_CURSOR_MAX] = "";
    store_status st;
    do {
        st = store_model_list(f->c, labels, next, 2, collect_model, buf, next);
    } while (st == STORE_OK && next[0]);
    return st;
}

/** Queue a run of model @p mid with labels @p labels (NULL: none) into @p id. */
static void labelled_run(struct fx *f, const char *mid, const char *labels, char id[STORE_ID_MAX])
{
    store_run_new in = {.model_id = mid, .request_json = "{\"dt\":0.1}", .labels_json = labels};
    store_run r;
    OK(store_run_create(f->c, &in, &r, NULL));
    assert_string_equal(r.labels_json, labels ? labels : "{}");
    snprintf(id, STORE_ID_MAX, "%s", r.id);
    store_run_clear(&r);
}

static void labelled_model(struct fx *f, const char *labels, char id[STORE_ID_MAX])
{
    store_model m;
    OK(store_model_create(f->c, "m", HASH_A, 10, "{}", labels, &m));
    assert_string_equal(m.labels_json, labels ? labels : "{}");
    assert_string_equal(m.sweep_id, "");
    snprintf(id, STORE_ID_MAX, "%s", m.id);
    store_model_clear(&m);
}

/** A model's and a run's labels come back from get, claim and lists; none shows "{}". */
static void test_labels_round_trip(void **state)
{
    struct fx *f = *state;
    char m1[STORE_ID_MAX], m2[STORE_ID_MAX], r1[STORE_ID_MAX], r2[STORE_ID_MAX];
    labelled_model(f, "{\"project\":\"isn\",\"who\":\"ann\"}", m1);
    labelled_model(f, NULL, m2);
    store_model m;
    OK(store_model_get(f->c, m1, &m));
    assert_string_equal(m.labels_json, "{\"project\":\"isn\",\"who\":\"ann\"}");
    assert_string_equal(m.sweep_id, "");
    store_model_clear(&m);
    OK(store_model_get(f->c, m2, &m));
    assert_string_equal(m.labels_json, "{}");
    store_model_clear(&m);

    labelled_run(f, m1, "{\"project\":\"isn\"}", r1);
    labelled_run(f, m1, NULL, r2);
    store_run r;
    OK(store_run_get(f->c, r1, &r));
    assert_string_equal(r.labels_json, "{\"project\":\"isn\"}");
    assert_string_equal(r.sweep_id, "");
    assert_int_equal(r.sweep_index, -1);
    store_run_clear(&r);
    OK(store_run_claim(f->c, &r)); /* FIFO: r1 */
    assert_string_equal(r.id, r1);
    assert_string_equal(r.labels_json, "{\"project\":\"isn\"}");
    assert_int_equal(r.sweep_index, -1);
    store_run_clear(&r);
    OK(store_run_get(f->c, r2, &r));
    assert_string_equal(r.labels_json, "{}");
    store_run_clear(&r);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 3);
}

struct label_seen {
    int n;
    char labels[4][128];
};

static int seen_run(void *ctx, const store_run *r)
{
    struct label_seen *s = ctx;
    if (s->n < 4) snprintf(s->labels[s->n++], 128, "%s", r->labels_json);
    return 0;
}

static int seen_model(void *ctx, const store_model *m)
{
    struct label_seen *s = ctx;
    if (s->n < 4) snprintf(s->labels[s->n++], 128, "%s", m->labels_json);
    return 0;
}

/** Lists carry each row's labels. */
static void test_labels_in_lists(void **state)
{
    struct fx *f = *state;
    char m1[STORE_ID_MAX], r1[STORE_ID_MAX], r2[STORE_ID_MAX];
    labelled_model(f, "{\"a\":\"1\"}", m1);
    labelled_run(f, m1, "{\"b\":\"2\"}", r1);
    labelled_run(f, m1, NULL, r2);
    struct label_seen s = {0};
    OK(store_run_list(f->c, NULL, NULL, 10, seen_run, &s, NULL));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.labels[0], "{}");
    assert_string_equal(s.labels[1], "{\"b\":\"2\"}");
    memset(&s, 0, sizeof s);
    OK(store_model_list(f->c, NULL, NULL, 10, seen_model, &s, NULL));
    assert_int_equal(s.n, 1);
    assert_string_equal(s.labels[0], "{\"a\":\"1\"}");
}

/** Filters: every condition must hold (AND); exact, case-sensitive; with other filters and
 *  across pages. */
static void test_labels_filters(void **state)
{
    struct fx *f = *state;
    char m1[STORE_ID_MAX], m2[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX], c[STORE_ID_MAX],
        d[STORE_ID_MAX];
    labelled_model(f, "{\"project\":\"isn\"}", m1);
    labelled_model(f, "{\"project\":\"other\"}", m2);
    labelled_run(f, m1, "{\"project\":\"isn\",\"phase\":\"1\"}", a);
    labelled_run(f, m1, "{\"project\":\"isn\",\"phase\":\"2\"}", b);
    labelled_run(f, m2, "{\"project\":\"isn\",\"phase\":\"1\"}", c);
    labelled_run(f, m2, "{\"project\":\"ISN\",\"phase\":\"1\"}", d);

    char buf[512], want[512];
    store_labels one = {.n = 1, .keys = {"project"}, .values = {"isn"}};
    store_run_filter flt = {.status = -1, .labels = &one};
    OK(list_runs(f, &flt, buf));
    snprintf(want, sizeof want, "%s,%s,%s", c, b, a);
    assert_string_equal(buf, want);

    store_labels two = {.n = 2, .keys = {"project", "phase"}, .values = {"isn", "1"}};
    flt.labels = &two;
    OK(list_runs(f, &flt, buf));
    snprintf(want, sizeof want, "%s,%s", c, a);
    assert_string_equal(buf, want);

    /* with the model filter, status, kind */
    flt.model_id = m1;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    flt.model_id = NULL;
    flt.status = STORE_RUN_QUEUED;
    flt.kind = "run";
    OK(list_runs(f, &flt, buf));
    snprintf(want, sizeof want, "%s,%s", c, a);
    assert_string_equal(buf, want);
    flt.status = STORE_RUN_RUNNING;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, "");
    flt.status = -1;
    flt.kind = NULL;

    /* no match: a value no run has, a key no run has, two values of one key */
    store_labels none = {.n = 1, .keys = {"project"}, .values = {"Isn"}};
    flt.labels = &none;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, "");
    store_labels nokey = {.n = 1, .keys = {"nothing"}, .values = {"isn"}};
    flt.labels = &nokey;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, "");
    store_labels both = {.n = 2, .keys = {"phase", "phase"}, .values = {"1", "2"}};
    flt.labels = &both;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, "");

    /* an empty set of conditions is no filter */
    store_labels empty = {.n = 0};
    flt.labels = &empty;
    OK(list_runs(f, &flt, buf));
    snprintf(want, sizeof want, "%s,%s,%s,%s", d, c, b, a);
    assert_string_equal(buf, want);

    /* models */
    OK(list_models(f, &one, buf));
    assert_string_equal(buf, m1);
    OK(list_models(f, &none, buf));
    assert_string_equal(buf, "");
    OK(list_models(f, NULL, buf));
    snprintf(want, sizeof want, "%s,%s", m2, m1);
    assert_string_equal(buf, want);
}

/** Keys and values with quotes, backslashes, '%', '_', ':', SQL and non-ASCII text are matched
 *  exactly (bound, never pasted into SQL or LIKE patterns). */
static void test_labels_special_characters(void **state)
{
    struct fx *f = *state;
    char m[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX];
    make_model(f, "m", m);
    labelled_run(
        f, m,
        "{\"k.e-y_1\":\"a:b\",\"q\":\"it's \\\"x\\\" \\\\ 100%\",\"u\":\"\\u00e9t\\u00e9\","
        "\"sql\":\"'); DROP TABLE runs; --\"}",
        a);
    labelled_run(f, m, "{\"k.e-y_1\":\"a_b\",\"q\":\"it's\"}", b);
    char buf[512];
    store_labels l = {.n = 1, .keys = {"k.e-y_1"}, .values = {"a:b"}};
    store_run_filter flt = {.status = -1, .labels = &l};
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    l.values[0] = "a_b";
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, b);
    l.values[0] = "a%";
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, "");
    l.keys[0] = "q";
    l.values[0] = "it's \"x\" \\ 100%";
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    l.keys[0] = "u";
    l.values[0] = "\xc3\xa9t\xc3\xa9"; /* "été" in UTF-8 */
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    l.keys[0] = "sql";
    l.values[0] = "'); DROP TABLE runs; --";
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs"), 2);
}

/** The most conditions a list takes all count; one more, or an incomplete one, is refused. */
static void test_labels_filter_limits(void **state)
{
    struct fx *f = *state;
    char m[STORE_ID_MAX], a[STORE_ID_MAX], b[STORE_ID_MAX];
    make_model(f, "m", m);
    char labels[1024] = "{";
    store_labels all = {.n = STORE_MAX_LABEL_FILTERS};
    char keys[STORE_MAX_LABEL_FILTERS][8];
    for (int i = 0; i < STORE_MAX_LABEL_FILTERS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        size_t n = strlen(labels);
        snprintf(labels + n, sizeof labels - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
        all.keys[i] = keys[i];
        all.values[i] = "v";
    }
    strcat(labels, "}");
    labelled_run(f, m, labels, a);
    /* b lacks only the last of them */
    char fewer[1024];
    snprintf(fewer, sizeof fewer, "%s", labels);
    char *last = strstr(fewer, ",\"k15\"");
    assert_non_null(last);
    strcpy(last, "}");
    labelled_run(f, m, fewer, b);
    char buf[512];
    store_run_filter flt = {.status = -1, .labels = &all};
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, a);
    all.n = STORE_MAX_LABEL_FILTERS - 1;
    OK(list_runs(f, &flt, buf));
    char want[128];
    snprintf(want, sizeof want, "%s,%s", b, a);
    assert_string_equal(buf, want);

    all.n = STORE_MAX_LABEL_FILTERS + 1;
    assert_int_equal(store_run_list(f->c, &flt, NULL, 10, collect_run, buf, NULL), STORE_INVALID);
    assert_int_equal(store_model_list(f->c, &all, NULL, 10, collect_model, buf, NULL),
                     STORE_INVALID);
    all.n = -1;
    assert_int_equal(store_run_list(f->c, &flt, NULL, 10, collect_run, buf, NULL), STORE_INVALID);
    store_labels half = {.n = 1, .keys = {"k0"}, .values = {NULL}};
    flt.labels = &half;
    assert_int_equal(store_run_list(f->c, &flt, NULL, 10, collect_run, buf, NULL), STORE_INVALID);
    /* the connection still works after the refusals */
    flt.labels = NULL;
    OK(list_runs(f, &flt, buf));
    assert_string_equal(buf, want);
}

/** Labels that are not an object of strings are refused, and nothing is stored. */
static void test_labels_refused(void **state)
{
    struct fx *f = *state;
    char m[STORE_ID_MAX];
    make_model(f, "m", m);
    static const char *const bad[] = {"[\"a\"]",
                                      "\"a\"",
                                      "{\"a\":1}",
                                      "{\"a\":null}",
                                      "{\"a\":{\"b\":\"c\"}}",
                                      "{\"a\":\"x\",\"b\":true}",
                                      "{\"a\":",
                                      "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        store_run_new in = {.model_id = m, .request_json = "{}", .labels_json = bad[i]};
        store_run r;
        assert_int_equal(store_run_create(f->c, &in, &r, NULL), STORE_INVALID);
        assert_true(strstr(store_errmsg(f->c), "label") != NULL);
        store_model mm;
        assert_int_equal(store_model_create(f->c, "x", HASH_A, 1, "{}", bad[i], &mm),
                         STORE_INVALID);
    }
    assert_int_equal(raw_count(f, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM models"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 0);
    /* "{}" is no labels */
    char r[STORE_ID_MAX];
    labelled_run(f, m, "{}", r);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 0);
}

/** Deleting a run or a model deletes its label rows. */
static void test_labels_deleted_with_object(void **state)
{
    struct fx *f = *state;
    char m[STORE_ID_MAX], m2[STORE_ID_MAX], r[STORE_ID_MAX], got[STORE_ID_MAX];
    labelled_model(f, "{\"a\":\"1\",\"b\":\"2\"}", m);
    labelled_model(f, "{\"a\":\"1\"}", m2);
    labelled_run(f, m, "{\"a\":\"1\"}", r);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 4);
    claim(f, got);
    OK(store_run_cancel(f->c, r, NULL));
    OK(store_run_release(f->c, r, attempt_of(f, r),
                         NULL)); /* cancel requested: released as cancelled */
    OK(store_run_delete(f->c, r));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 3);
    OK(store_model_delete(f->c, m, NULL));
    assert_int_equal(raw_count(f, "SELECT count(*) FROM labels"), 1);
    char buf[512];
    store_labels l = {.n = 1, .keys = {"a"}, .values = {"1"}};
    OK(list_models(f, &l, buf));
    assert_string_equal(buf, m2);
}

/** test_labels_migration_from_v3(), SQLite: a file of version 3 gets the columns with "{}". */
static void labels_on_migrated_v3_file(struct fx *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/v3.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_true(store_migrations_count >= 4);
    for (int v = 0; v < 3; v++)
        assert_int_equal(sqlite3_exec(db, store_migrations[v].sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 3;"
                                  "INSERT INTO models (id, hash, n, created_at, json) VALUES "
                                  "('m_0123456789abcdef01234567', '', 3, 1, '{}');"
                                  "INSERT INTO runs (id, model_id, created_at, request_json, "
                                  "kind) VALUES ('r_0123456789abcdef01234567', "
                                  "'m_0123456789abcdef01234567', 1, '{\"dt\":0.1}', 'run');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    store *s2 = open_store(path, 0);
    store_conn *c2 = store_connect(s2);
    assert_non_null(c2);
    store_run r;
    assert_int_equal(store_run_get(c2, "r_0123456789abcdef01234567", &r), STORE_OK);
    assert_string_equal(r.labels_json, "{}");
    assert_string_equal(r.sweep_id, "");
    assert_int_equal(r.sweep_index, -1);
    store_run_clear(&r);
    store_model m;
    assert_int_equal(store_model_get(c2, "m_0123456789abcdef01234567", &m), STORE_OK);
    assert_string_equal(m.labels_json, "{}");
    assert_string_equal(m.sweep_id, "");
    store_model_clear(&m);
    /* a filter finds nothing among them; new objects get labels */
    store_labels l = {.n = 1, .keys = {"a"}, .values = {"1"}};
    char buf[512] = "";
    assert_int_equal(store_model_list(c2, &l, NULL, 10, collect_model, buf, NULL), STORE_OK);
    assert_string_equal(buf, "");
    assert_int_equal(store_model_create(c2, "x", HASH_A, 1, "{}", "{\"a\":\"1\"}", &m), STORE_OK);
    char id[STORE_ID_MAX];
    snprintf(id, sizeof id, "%s", m.id);
    store_model_clear(&m);
    assert_int_equal(store_model_list(c2, &l, NULL, 10, collect_model, buf, NULL), STORE_OK);
    assert_string_equal(buf, id);
    store_disconnect(c2);
    store_close(s2);
    rm_db_files(path);
}

/** The labels survive a restart, and a database of version 3 gets the columns with "{}". */
static void test_labels_migration_from_v3(void **state)
{
    struct fx *f = *state;
    if (!f->pg) /* an SQLite file of version 3 (PostgreSQL's migrations start with labels) */
        labels_on_migrated_v3_file(f);
    store_model m;
    /* a fresh database is at the latest version, with the tables and indexes of v4 (SQLite's
     * version and catalogue; PostgreSQL's migrations: test_store_models) */
    if (!f->pg) {
        assert_int_equal(raw_count(f, "PRAGMA user_version"), (int)store_migrations_count);
        assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                      "('labels', 'labels_key_value', 'sweeps', 'runs_sweep', "
                                      "'models_sweep')"),
                         5);
    }
    /* labels survive a restart */
    char mid[STORE_ID_MAX];
    labelled_model(f, "{\"keep\":\"me\"}", mid);
    reopen(f);
    OK(store_model_get(f->c, mid, &m));
    assert_string_equal(m.labels_json, "{\"keep\":\"me\"}");
    store_model_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_labels_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_in_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_special_characters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_filter_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_deleted_with_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_migration_from_v3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
