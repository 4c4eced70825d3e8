/**
 * @file test_build_stop.c
 * @brief Interruptible model builds (issue 10): a stop flag (eir_stop) requested from another
 *        thread ends a long build of a `generate` recipe (generation, spectral radius, the
 *        build) and a long model hash quickly with EIR_ECANCELLED, nothing built; a flag that
 *        is watched but never requested changes no byte (the same model hash, the same radius).
 */
#include <pthread.h>
#include <time.h>

#include "eir_time_scale.h"
#include "json_test_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** A thread that requests @c stop after @c delay seconds and notes when. */
typedef struct stopper {
    eir_stop *stop;
    double delay;
    double at; /**< now_s() of the request */
    pthread_t tid;
} stopper;

static void *stopper_main(void *arg)
{
    stopper *s = arg;
    struct timespec ts = {(time_t)s->delay, (long)((s->delay - (double)(time_t)s->delay) * 1e9)};
    nanosleep(&ts, NULL);
    s->at = now_s();
    eir_stop_request(s->stop);
    return NULL;
}

static void stopper_start(stopper *s, eir_stop *stop, double delay)
{
    s->stop = stop;
    s->delay = delay;
    s->at = 0;
    assert_int_equal(pthread_create(&s->tid, NULL, stopper_main, s), 0);
}

/** A generated model of @p n cells, p = 0.1, with a spectral radius (FORMAT.md). */
static json_t *recipe(int n)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"populations\": {\"E\": %d, \"I\": %d}, \"leak\": 1.0,"
             " \"recurrent\": {\"generate\": {\"seed\": 3, \"p\": 0.1, \"mean\": 0.05,"
             " \"balance\": true, \"spectral_radius\": 0.9}, \"A\": 0.5}}",
             n * 4 / 5, n - n * 4 / 5);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

/** A balanced generated W of @p n cells (p = 0.1), malloc'ed. */
static double *gen_w(int n)
{
    eir_gen_spec g;
    eir_gen_spec_init(&g);
    g.seed = 4;
    for (int b = 0; b < 4; b++) {
        g.p[b] = 0.1;
        g.mean[b] = 0.05;
    }
    g.balance = 1;
    double *w = malloc((size_t)n * n * sizeof *w);
    assert_non_null(w);
    eir_error e;
    JT_OK(eir_generate_recurrent(&g, n * 4 / 5, n - n * 4 / 5, EIR_FORM_REDUCED, 0, 0, w, &e), e);
    return w;
}

/* A flag that is watched but never requested changes nothing: same hash, same radius. */
static void test_unrequested_stop_same_bytes(void **state)
{
    (void)state;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    const int sizes[2] = {300, 1100}; /* dense storage and compressed rows */
    for (int k = 0; k < 2; k++) {
        json_t *j = recipe(sizes[k]);
        eir_json_limits lim;
        eir_json_limits_default(&lim);
        eir_model *plain = NULL, *watched = NULL;
        eir_error e;
        JT_OK(eir_json_build_model(j, &lim, "", &plain, NULL, &e), e);
        lim.stop = stop;
        JT_OK(eir_json_build_model(j, &lim, "", &watched, NULL, &e), e);
        char h1[65], h2[65], h3[65];
        eir_model_hash(plain, h1);
        eir_model_hash(watched, h2);
        assert_int_equal(eir_model_hash_ex(watched, stop, h3), EIR_OK);
        assert_string_equal(h1, h2);
        assert_string_equal(h1, h3);
        eir_model_free(plain);
        eir_model_free(watched);
        json_decref(j);
    }
    /* the radius by Arnoldi with and without the flag */
    const int n = 1000;
    double *a = gen_w(n);
    double r1 = 0, r2 = 0;
    eir_radius_info i1, i2;
    eir_error e;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, &r1, &i1, &e), EIR_OK);
    assert_int_equal(eir_spectral_radius_stop(a, n, EIR_RADIUS_AUTO, stop, &r2, &i2, &e), EIR_OK);
    assert_int_equal(i1.arnoldi_ok, 1);
    assert_int_equal(i2.matvecs, i1.matvecs);
    assert_memory_equal(&r1, &r2, sizeof r1);
    free(a);
    eir_stop_free(stop);
}

/* A stop already requested: every stage gives up at its first check, building nothing. */
static void test_requested_stop_builds_nothing(void **state)
{
    (void)state;
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    eir_stop_request(stop);
    json_t *j = recipe(600);
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    lim.stop = stop;
    eir_model *m = (eir_model *)&m;
    eir_model_spec *spec = (eir_model_spec *)&spec;
    eir_error e;
    eir_error_clear(&e);
    assert_int_equal(eir_json_build_model(j, &lim, "", &m, &spec, &e), EIR_ECANCELLED);
    assert_int_equal(e.status, EIR_ECANCELLED);
    assert_string_equal(e.field, "");
    assert_null(m);
    assert_null(spec);

    /* the engine's build and hash, one by one */
    lim.stop = NULL;
    eir_model_spec *s = NULL;
    JT_OK(eir_json_parse_model(j, &lim, "", &s, &e), e);
    s->desc.stop = stop;
    m = (eir_model *)&m;
    assert_int_equal(eir_model_build(&s->desc, &m, &e), EIR_ECANCELLED);
    assert_null(m);
    s->desc.stop = NULL;
    JT_OK(eir_model_build(&s->desc, &m, &e), e);
    char hex[65] = "x";
    assert_int_equal(eir_model_hash_ex(m, stop, hex), EIR_ECANCELLED);
    assert_string_equal(hex, "");

    /* the radius: Arnoldi stops after its first product */
    const int n = 600;
    double *w = malloc((size_t)n * n * sizeof *w);
    assert_non_null(w);
    eir_model_W_dense(m, w);
    eir_radius_info info;
    double r = 0;
    assert_int_equal(eir_spectral_radius_stop(w, n, EIR_RADIUS_AUTO, stop, &r, &info, &e),
                     EIR_ECANCELLED);
    assert_true(isnan(r));
    assert_int_equal(info.arnoldi_tried, 1);
    assert_int_equal(info.matvecs, 1);
    free(w);
    eir_model_free(m);
    eir_model_spec_free(s);
    json_decref(j);
    eir_stop_free(stop);
}

/*
 * The build of N = 6000 with spectral_radius (seconds: N^2 draws, the radius, the compressed
 * rows) stopped from another thread at 0.1, 0.4 and 0.8 s (in the generation, and later in the
 * radius or the build on a fast machine) ends within 0.5 s of the request. Before, the build
 * could not be stopped at all.
 */
static void test_stop_from_thread_ends_build(void **state)
{
    (void)state;
    const double delays[3] = {0.1, 0.4, 0.8};
    json_t *j = recipe(6000);
    for (int k = 0; k < 3; k++) {
        eir_stop *stop = eir_stop_new();
        assert_non_null(stop);
        eir_json_limits lim;
        eir_json_limits_default(&lim);
        lim.stop = stop;
        stopper th;
        stopper_start(&th, stop, delays[k]);
        eir_model *m = NULL;
        eir_error e;
        eir_error_clear(&e);
        eir_status st = eir_json_build_model(j, &lim, "", &m, NULL, &e);
        double end = now_s();
        pthread_join(th.tid, NULL);
        if (st == EIR_OK) { /* finished before the request: only on a very fast machine */
            print_message("build of N = 6000 finished within %g s; stop not exercised\n",
                          delays[k]);
            eir_model_free(m);
        } else {
            assert_int_equal(st, EIR_ECANCELLED);
            assert_null(m);
            double lat = end - th.at;
            print_message("stop at %g s: build ended %.3f s after the request (%s)\n", delays[k],
                          lat, e.message);
            assert_true(lat < eir_scaled(0.5));
        }
        eir_stop_free(stop);
        if (k == 0) assert_int_equal(st, EIR_ECANCELLED); /* 0.1 s in: always still building */
    }
    json_decref(j);
}

/* Arnoldi at N = 1500 stopped from a thread a quarter into its time ends within 0.25 s. */
static void test_stop_from_thread_ends_radius(void **state)
{
    (void)state;
    const int n = 1500;
    double *a = gen_w(n);
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    double r = 0, t0 = now_s();
    eir_radius_info info;
    eir_error e;
    assert_int_equal(eir_spectral_radius_ex(a, n, EIR_RADIUS_ARNOLDI, &r, &info, &e), EIR_OK);
    double full = now_s() - t0;
    int products = info.matvecs;
    stopper th;
    stopper_start(&th, stop, full / 4);
    eir_status st = eir_spectral_radius_stop(a, n, EIR_RADIUS_ARNOLDI, stop, &r, &info, &e);
    double end = now_s();
    pthread_join(th.tid, NULL);
    print_message("radius %.3f s (%d products); stopped after %d, %.3f s after the request\n", full,
                  products, info.matvecs, end - th.at);
    assert_int_equal(st, EIR_ECANCELLED);
    assert_true(isnan(r));
    assert_true(info.matvecs < products);
    assert_true(end - th.at < eir_scaled(0.25));
    eir_stop_free(stop);
    free(a);
}

/* The hash of a dense N = 3000 model (9 M values of W and M each) stopped from a thread. */
static void test_stop_from_thread_ends_hash(void **state)
{
    (void)state;
    const int n = 3000, ne = 2400;
    double *W = calloc((size_t)n * n, sizeof *W), leak = 1.0, a = 0.5;
    assert_non_null(W);
    for (int i = 0; i < n; i++)
        for (int jj = 0; jj < n; jj += 3)
            W[(size_t)i * n + jj] = jj < ne ? 0.01 : -0.04;
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = ne;
    d.n_i = n - ne;
    d.leak = &leak;
    d.leak_len = 1;
    d.W = W;
    d.A = &a;
    d.a_kind = EIR_A_SCALAR;
    d.storage = EIR_STORAGE_DENSE;
    eir_model *m = NULL;
    eir_error e;
    JT_OK(eir_model_build(&d, &m, &e), e);
    free(W);
    eir_stop *stop = eir_stop_new();
    assert_non_null(stop);
    double t0 = now_s();
    char h1[65], h2[65];
    eir_model_hash(m, h1);
    double full = now_s() - t0;
    stopper th;
    stopper_start(&th, stop, full / 4);
    eir_status st = eir_model_hash_ex(m, stop, h2);
    double end = now_s();
    pthread_join(th.tid, NULL);
    print_message("hash %.3f s; stopped %.3f s after the request\n", full, end - th.at);
    assert_int_equal(st, EIR_ECANCELLED);
    assert_string_equal(h2, "");
    assert_true(end - th.at < eir_scaled(0.25));
    eir_stop_free(stop);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unrequested_stop_same_bytes),
        cmocka_unit_test(test_requested_stop_builds_nothing),
        cmocka_unit_test(test_stop_from_thread_ends_build),
        cmocka_unit_test(test_stop_from_thread_ends_radius),
        cmocka_unit_test(test_stop_from_thread_ends_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
