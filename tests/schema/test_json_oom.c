/**
 * @file test_json_oom.c
 * @brief Allocation failures: make the k-th allocation of a parse fail, for every k, and check
 *        that the parse returns EIR_ENOMEM (or succeeds when it needed fewer allocations) and
 *        leaks nothing. malloc and friends are interposed in this executable (glibc); under
 *        AddressSanitizer, which owns the allocator, the tests are skipped.
 */
#include "json_test_util.h"

#include "eir_json_training.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define JT_INTERPOSE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define JT_INTERPOSE 0
#endif
#endif
#ifndef JT_INTERPOSE
#define JT_INTERPOSE 1
#endif

#define JT_MAX_LIVE 4096

/* Fault injection state: only active inside jt_window_begin() .. jt_window_end(). */
static int jt_active;
static long jt_count, jt_fail_at;
static int jt_nlive, jt_overflow;

#if JT_INTERPOSE
static void *jt_live[JT_MAX_LIVE];

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static int jt_should_fail(void)
{
    return jt_active && jt_count++ == jt_fail_at;
}

static void jt_track(void *p)
{
    if (!jt_active || !p) return;
    if (jt_nlive < JT_MAX_LIVE)
        jt_live[jt_nlive++] = p;
    else
        jt_overflow = 1;
}

static void jt_untrack(void *p)
{
    for (int i = 0; p && i < jt_nlive; i++) {
        if (jt_live[i] == p) {
            jt_live[i] = jt_live[--jt_nlive];
            return;
        }
    }
}

void *malloc(size_t n)
{
    if (jt_should_fail()) return NULL;
    void *p = __libc_malloc(n);
    jt_track(p);
    return p;
}

void *calloc(size_t n, size_t size)
{
    if (jt_should_fail()) return NULL;
    void *p = __libc_calloc(n, size);
    jt_track(p);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (jt_should_fail()) return NULL;
    void *p = __libc_realloc(old, n);
    if (p) {
        jt_untrack(old);
        jt_track(p);
    }
    return p;
}

void free(void *p)
{
    jt_untrack(p);
    __libc_free(p);
}
#endif

static void jt_window_begin(long fail_at)
{
    jt_count = 0;
    jt_fail_at = fail_at;
    jt_nlive = 0;
    jt_overflow = 0;
    jt_active = 1;
}

/* Ends the window; returns the number of allocations made inside it. */
static long jt_window_end(void)
{
    jt_active = 0;
    return jt_count;
}

static const char *const MODEL =
    "{\"populations\": {\"E\": 3, \"I\": 1}, \"n_inputs\": 1, \"leak\": [1, 1, 2, 2],"
    " \"bias\": 0.5, \"recurrent\": {\"W\": [[0, 0.5, 0, -1], [0.5, 0, 0.5, -1], [0, 0.5, 0, -1],"
    " [1, 1, 1, 0]], \"A\": {\"E\": [1, 1, 1, 1], \"I\": 2}},"
    " \"input\": {\"P\": {\"dtype\": \"float32\", \"shape\": [4, 1], \"base64\": "
    "\"AACAPwAAAEAAAEBAAACAQA==\"}, \"M_in\": [[0], [0], [1], [1]]},"
    " \"readout\": {\"W_out\": [[1, 1, 1, 0]], \"b_out\": 1}, \"noise\": {\"sigma\": 0.1}}";

static const char *const MODEL_GEN =
    "{\"populations\": {\"E\": 3, \"I\": 1}, \"n_inputs\": 2, \"leak\": 1,"
    " \"recurrent\": {\"generate\": {\"seed\": 1, \"p\": 0.9}, \"E_rev\": {\"E\": 2, \"I\": -1}},"
    " \"input\": {\"generate\": {\"seed\": 2}}}";

static const char *const RUN =
    "{\"dt\": 0.1, \"inputs\": [[[1], [0]], [[2], [3]]], \"V0\": [[1, 2, 3, 4], [0, 0, 0, 0]],"
    " \"record\": {\"vars\": [\"V\", \"y\"], \"neurons\": [2, 0]}, \"seed\": 5}";

/* Fail each allocation of parse_model(text) in turn. */
static void oom_model(const char *text, long min_allocs)
{
    json_t *j = jt_load(text);
    long k;
    for (k = 0;; k++) {
        eir_model_spec *s = (eir_model_spec *)&s;
        eir_error e;
        jt_window_begin(k);
        eir_status rc = eir_json_parse_model(j, NULL, "", &s, &e);
        eir_model_spec_free(rc == EIR_OK ? s : NULL);
        long made = jt_window_end();
        assert_false(jt_overflow);
        if (rc == EIR_OK) {
            assert_true(made <= k);
            break;
        }
        assert_int_equal(rc, EIR_ENOMEM);
        assert_int_equal(e.status, EIR_ENOMEM);
        assert_null(s);
        assert_int_equal(jt_nlive, 0);
    }
    assert_int_equal(jt_nlive, 0);
    assert_true(k >= min_allocs); /* the injection really reached every array */
    json_decref(j);
}

static void test_oom_model(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    oom_model(MODEL, 10);
    oom_model(MODEL_GEN, 4);
}

static void test_oom_run(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    json_t *mj = jt_load(MODEL), *rj = jt_load(RUN);
    eir_model *m;
    eir_error e;
    JT_OK(eir_json_build_model(mj, NULL, "", &m, NULL, &e), e);
    long k;
    for (k = 0;; k++) {
        eir_run_spec *s = (eir_run_spec *)&s;
        jt_window_begin(k);
        eir_status rc = eir_json_parse_run(rj, m, NULL, &s, &e);
        eir_run_spec_free(rc == EIR_OK ? s : NULL);
        long made = jt_window_end();
        if (rc == EIR_OK) {
            assert_true(made <= k);
            break;
        }
        assert_int_equal(rc, EIR_ENOMEM);
        assert_null(s);
        assert_int_equal(jt_nlive, 0);
    }
    assert_true(k >= 5); /* spec, store, inputs, V0, neurons (+ scratch) */
    eir_model_free(m);
    json_decref(mj);
    json_decref(rj);
}

/* Described inputs (one segment per value form), metrics, a V0 naming a run and labels. */
static const char *const RUN_DESCRIBED =
    "{\"dt\": 0.1, \"inputs\": {\"steps\": 10, \"trials\": 2, \"segments\": ["
    "{\"from\": 0, \"to\": 5, \"value\": 1}, {\"from\": 2, \"to\": 9, \"value\": [[1], [2]],"
    " \"to_value\": {\"dtype\": \"float64\", \"shape\": [1], \"base64\": \"AAAAAAAA8D8=\"}}],"
    " \"noise\": {\"sigma\": 0.5, \"seed\": 3}}, \"V0\": {\"run_id\": "
    "\"r_0123456789abcdef01234567\"}, \"metrics\": {\"windows\": [{\"var\": \"r\", \"from\": 0,"
    " \"to\": 10}], \"settle\": {\"steps\": 2, \"tol\": 1}}, \"labels\": {\"a\": \"b\"}}";

static void test_oom_described_run(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    json_t *mj = jt_load(MODEL), *rj = jt_load(RUN_DESCRIBED);
    eir_model *m;
    eir_error e;
    JT_OK(eir_json_build_model(mj, NULL, "", &m, NULL, &e), e);
    double V[8] = {0};
    long k;
    for (k = 0;; k++) {
        eir_run_spec *s = (eir_run_spec *)&s;
        jt_window_begin(k);
        eir_status rc = eir_json_parse_run(rj, m, NULL, &s, &e);
        if (rc == EIR_OK) rc = eir_run_spec_set_V0(s, V, 8, 4, &e);
        int parsed = rc == EIR_OK || (s != NULL && s != (eir_run_spec *)&s);
        if (parsed && rc == EIR_OK) assert_int_equal(s->desc.V0_len, 8);
        eir_run_spec_free(parsed ? s : NULL);
        long made = jt_window_end();
        if (rc == EIR_OK) {
            assert_true(made <= k);
            break;
        }
        assert_int_equal(rc, EIR_ENOMEM);
        assert_int_equal(jt_nlive, 0);
    }
    assert_true(k >= 5); /* spec, store, segments, their values, V0 */
    eir_model_free(m);
    json_decref(mj);
    json_decref(rj);
}

/* eir_json_patch_pointer() and eir_json_metrics() return NULL and leak nothing. */
static void test_oom_patch_and_metrics(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    json_t *doc = jt_load("{\"model\": {\"recurrent\": {\"A\": {\"E\": 1}}}, \"run\": {}}");
    json_t *v = json_integer(2);
    long k;
    for (k = 0;; k++) {
        eir_error e;
        jt_window_begin(k);
        json_t *out = eir_json_patch_pointer(doc, "/model/recurrent/A/E", v, &e);
        json_decref(out);
        jt_window_end();
        assert_int_equal(jt_nlive, 0);
        if (out) break;
        assert_int_equal(e.status, EIR_ENOMEM);
    }
    assert_true(k >= 3); /* a copy per container on the path */
    json_decref(v);
    json_decref(doc);

    json_t *mj = jt_load(MODEL), *rj = jt_load(RUN_DESCRIBED);
    eir_model *m;
    eir_run_spec *s;
    eir_error e;
    JT_OK(eir_json_build_model(mj, NULL, "", &m, NULL, &e), e);
    JT_OK(eir_json_parse_run(rj, m, NULL, &s, &e), e);
    eir_stats *st = eir_stats_new(&s->metrics, 2);
    assert_non_null(st);
    eir_run_result res = {0};
    for (k = 0;; k++) {
        jt_window_begin(k);
        json_t *j = eir_json_metrics(s, st, &res, 0.1);
        json_decref(j);
        jt_window_end();
        assert_int_equal(jt_nlive, 0);
        if (j) break;
    }
    assert_true(k >= 10);
    eir_stats_free(st);
    eir_run_spec_free(s);
    eir_model_free(m);
    json_decref(mj);
    json_decref(rj);
}

/* A training document with an inline model and a custom task using every array. */
static const char *const TRAINING =
    "{\"model\": {\"populations\": {\"E\": 2, \"I\": 1}, \"n_inputs\": 1, \"leak\": 1,"
    " \"recurrent\": {\"W\": [[0, 1, -1], [1, 0, -1], [1, 1, 0]], \"A\": 1},"
    " \"input\": {\"P\": [[1], [1], [1]]}, \"readout\": {\"W_out\": [[1, 0, 0], [0, 1, 0]]}},"
    " \"task\": {\"name\": \"custom\", \"inputs\": [[[1], [0]], [[0], [1]]],"
    " \"labels\": [[0, 1], [1, 0]], \"mask\": [[1, 1], [0, 1]], \"lengths\": [2, 1]},"
    " \"dt\": 0.1, \"labels\": {\"a\": \"b\"}, \"name\": \"t\"}";

/* eir_json_parse_training(), eir_json_trained_model() and the curve/evaluation helpers fail
 * with EIR_ENOMEM (or NULL) and leak nothing when any allocation fails. */
static void test_oom_training(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    json_t *j = jt_load(TRAINING);
    eir_error e;
    long k;
    for (k = 0;; k++) {
        eir_training_req *r = (eir_training_req *)&r;
        jt_window_begin(k);
        eir_status rc = eir_json_parse_training(j, NULL, &r, &e);
        eir_training_req_free(rc == EIR_OK ? r : NULL);
        long made = jt_window_end();
        assert_false(jt_overflow);
        if (rc == EIR_OK) {
            assert_true(made <= k);
            break;
        }
        assert_int_equal(rc, EIR_ENOMEM);
        assert_int_equal(e.status, EIR_ENOMEM);
        assert_null(r);
        assert_int_equal(jt_nlive, 0);
    }
    assert_true(k >= 7); /* request, store, inputs, labels (2), mask, lengths (2) */

    const json_t *model = json_object_get(j, "model");
    eir_model_spec *spec;
    JT_OK(eir_json_parse_model(model, NULL, "", &spec, &e), e);
    json_t *want = eir_json_trained_model(model, &spec->desc, "trained", &e);
    assert_non_null(want);
    for (k = 0;; k++) {
        jt_window_begin(k);
        json_t *doc = eir_json_trained_model(model, &spec->desc, "trained", &e);
        int same = doc && json_equal(doc, want); /* a document is complete or not given */
        json_decref(doc);
        jt_window_end();
        assert_int_equal(jt_nlive, 0);
        if (doc) {
            assert_true(same);
            break;
        }
        assert_int_equal(e.status, EIR_ENOMEM);
    }
    json_decref(want);
    assert_true(k >= 10);
    eir_model_spec_free(spec);
    json_decref(j);

    eir_curve_row row = {.iteration = 3, .loss = 1, .accuracy = NAN, .eval_accuracy = 0.5};
    json_t *want_row = eir_json_curve_row(&row);
    for (k = 0;; k++) {
        jt_window_begin(k);
        json_t *o = eir_json_curve_row(&row);
        int same = o && json_equal(o, want_row);
        json_decref(o);
        jt_window_end();
        assert_int_equal(jt_nlive, 0);
        if (o) {
            assert_true(same);
            break;
        }
    }
    json_decref(want_row);
    assert_true(k >= 9);
    eir_task_eval ev;
    memset(&ev, 0, sizeof ev);
    ev.n_psy = 2;
    json_t *want_ev = eir_json_task_eval(&ev);
    for (k = 0;; k++) {
        jt_window_begin(k);
        json_t *o = eir_json_task_eval(&ev);
        int same = o && json_equal(o, want_ev);
        json_decref(o);
        jt_window_end();
        assert_int_equal(jt_nlive, 0);
        if (o) {
            assert_true(same);
            break;
        }
    }
    json_decref(want_ev);
    assert_true(k >= 15);
}

static void test_oom_base64(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    unsigned char *d = (unsigned char *)"x";
    size_t n = 1;
    jt_window_begin(0);
    char *enc = eir_base64_encode("abc", 3);
    jt_window_end();
    jt_window_begin(0);
    int rc = eir_base64_decode("YWJj", 4, &d, &n);
    jt_window_end();
    assert_null(enc);
    assert_int_equal(rc, -2);
    assert_null(d);
    assert_int_equal(n, 0);
}

/* Fail each allocation of eir_json_parse_analysis(text) in turn (docs/ANALYSIS.md). */
static void oom_analysis(const char *text, long min_allocs)
{
    json_t *j = jt_load(text);
    long k;
    for (k = 0;; k++) {
        eir_an_request *r = (eir_an_request *)&r;
        eir_error e;
        jt_window_begin(k);
        eir_status rc = eir_json_parse_analysis(j, NULL, &r, &e);
        eir_an_request_free(rc == EIR_OK ? r : NULL);
        long made = jt_window_end();
        if (rc == EIR_OK) {
            assert_true(made <= k);
            break;
        }
        if (rc != EIR_ENOMEM) print_error("allocation %ld: %s: %s\n", k, e.field, e.message);
        assert_int_equal(rc, EIR_ENOMEM);
        assert_null(r);
        assert_int_equal(jt_nlive, 0);
    }
    assert_true(k >= min_allocs);
    json_decref(j);
}

static void test_oom_analysis(void **state)
{
    (void)state;
    if (!JT_INTERPOSE) skip();
    oom_analysis("{\"kind\": \"spectrum\", \"model_id\": \"m_1\", \"x\": [1, 2],"
                 " \"at\": {\"V\": [0.5, 1, 2, 3]}}",
                 4); /* request, store, x, V */
    oom_analysis("{\"kind\": \"fixed_points\", \"model_id\": \"m_1\", \"starts\": {\"runs\":"
                 " [{\"run_id\": \"r_0123456789abcdef01234567\", \"step\": 4}]}}",
                 3);
    oom_analysis("{\"kind\": \"lyapunov\", \"model_id\": \"m_1\", \"V0\": [1, 2], \"k\": 2}", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_model),         cmocka_unit_test(test_oom_run),
        cmocka_unit_test(test_oom_described_run), cmocka_unit_test(test_oom_patch_and_metrics),
        cmocka_unit_test(test_oom_base64),        cmocka_unit_test(test_oom_analysis),
        cmocka_unit_test(test_oom_training),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
