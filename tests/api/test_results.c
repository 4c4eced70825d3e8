/**
 * @file test_results.c
 * @brief eirnnd API: results. .npy bytes equal to `eirnn simulate` for the same model, run and
 *        seed (float64 and float32, several trials, record.every and record.neurons, a result
 *        spanning several stored chunks); JSON and CSV carrying the same values; format
 *        negotiation; slicing; ETag / If-None-Match; the result list; 404 / 409.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_harness.h"
#include "eir_npy.h"

static api_daemon D;

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers", "2", NULL};
    api_start(&D, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_stop_clean(&D);
    return 0;
}

/** GET @p path (with optional Accept) and return the response (status checked). */
static void get_ok(const char *path, const char *accept, api_resp *r)
{
    char h[128];
    const char *hdr[] = {h, NULL};
    snprintf(h, sizeof h, "Accept: %s", accept ? accept : "");
    api_req(&D, "GET", path, accept ? hdr : NULL, NULL, 0, r);
    if (r->status != 200) {
        print_error("GET %s: %ld %s\n", path, r->status, r->body);
        fail();
    }
}

static void parse_npy(const api_resp *r, eir_npy_array *a)
{
    eir_npy_error ne;
    if (eir_npy_parse(r->body, r->len, 0, a, &ne) != EIR_NPY_OK) {
        print_error("not a .npy: %s\n", ne.message);
        fail();
    }
}

/**
 * Submit @p model (inline when @p inline_model, else via POST /v1/models) with @p run, wait,
 * run `eirnn simulate` on the same documents, and compare every recorded variable's .npy
 * bytes. Returns the run id (malloc'ed).
 */
static char *compare_with_simulate(const char *tag, const char *model, const char *run,
                                   int inline_model, const char *const *vars)
{
    char mpath[512], rpath[512], out[512];
    snprintf(mpath, sizeof mpath, "%s/%s_model.json", D.dir, tag);
    snprintf(rpath, sizeof rpath, "%s/%s_run.json", D.dir, tag);
    snprintf(out, sizeof out, "%s/%s_out", D.dir, tag);
    api_write_file(mpath, model, strlen(model));
    api_write_file(rpath, run, strlen(run));
    assert_int_equal(api_simulate(mpath, rpath, out), 0);

    json_t *rj = json_loads(run, 0, NULL);
    assert_non_null(rj);
    char *mid = NULL;
    if (inline_model) {
        json_object_set_new(rj, "model", json_loads(model, 0, NULL));
    } else {
        mid = api_create_model(&D, model);
        json_object_set_new(rj, "model_id", json_string(mid));
    }
    char *doc = json_dumps(rj, 0);
    json_decref(rj);
    char *rid = api_submit_run(&D, doc);
    free(doc);
    free(mid);
    json_t *j = api_wait_run(&D, rid, 120);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    json_decref(j);
    for (const char *const *v = vars; *v; v++) {
        char path[256], file[600];
        snprintf(path, sizeof path, "/v1/runs/%s/results/%s", rid, *v);
        api_resp r;
        get_ok(path, "application/octet-stream", &r);
        snprintf(file, sizeof file, "%s/%s.npy", out, *v);
        size_t len;
        char *want = api_read_file(file, &len);
        assert_non_null(want);
        if (r.len != len || memcmp(r.body, want, len) != 0) {
            print_error("%s %s: %zu bytes from eirnnd, %zu from eirnn simulate; differ\n", tag, *v,
                        r.len, len);
            fail();
        }
        char cl[32];
        assert_non_null(api_header(&r, "Content-Length", cl, sizeof cl));
        assert_int_equal(strtoull(cl, NULL, 10), len);
        free(want);
        api_resp_free(&r);
    }
    return rid;
}

static void test_equal_to_simulate(void **state)
{
    (void)state;
    char run[4096];
    snprintf(run, sizeof run,
             "{\"dt\": 0.1, \"inputs\": [[0, 0], [0, 0.16], [1, 0.3], [1, 0.42], [1, 0.48], "
             "[1, 0.49], [1, 0.45], [1, 0.36], [0, 0.22], [0, 0.07], [0, -0.09], [0, -0.25]], "
             "\"V0\": 0.0, \"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"every\": 1}, "
             "\"seed\": 7}");
    const char *all[] = {"V", "r", "z", "y", NULL};
    free(compare_with_simulate("small", api_model_small, run, 0, all));
    free(compare_with_simulate("small_inline", api_model_small, run, 1, all));
    /* Noise, float32, three trials, every 2nd step, a neuron subset. */
    const char *nrun = "{\"dt\": 0.05, \"precision\": \"float32\", \"inputs\": {\"steps\": 50, "
                       "\"trials\": 3}, \"record\": {\"vars\": [\"V\", \"r\", \"y\"], \"every\": "
                       "2, \"neurons\": [0, 3, 11]}, \"seed\": 42}";
    const char *vry[] = {"V", "r", "y", NULL};
    free(compare_with_simulate("noisy", api_model_noisy, nrun, 0, vry));
    /* rk4 and euler in float64 with input per trial. */
    const char *rrun = "{\"dt\": 0.02, \"integrator\": \"rk4\", \"inputs\": [[[0.5], [1.0], "
                       "[0.2]], [[0.1], [0.0], [0.3]]], \"record\": {\"vars\": [\"V\", \"y\"]}, "
                       "\"seed\": 9}";
    const char *vy[] = {"V", "y", NULL};
    free(compare_with_simulate("rk4", api_model_noisy, rrun, 1, vy));
}

static void test_large_result(void **state)
{
    (void)state;
    /* 300 x 8000 doubles = 19.2 MB: five 4 MiB chunks in the store. */
    const char *run = "{\"dt\": 0.05, \"inputs\": {\"steps\": 8000, \"trials\": 1}, \"record\": "
                      "{\"vars\": [\"V\"]}, \"seed\": 11}";
    const char *v[] = {"V", NULL};
    char *rid = compare_with_simulate("large", api_model_slow, run, 0, v);
    char path[256];
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_resp full;
    get_ok(path, NULL, &full);
    eir_npy_array a;
    parse_npy(&full, &a);
    assert_int_equal(a.shape[1], 8000);
    /* A slice across the first chunk boundary (4 MiB / 2400 bytes per row = 1747.6 rows). */
    snprintf(path, sizeof path, "/v1/runs/%s/results/V?steps=1740:1760&neurons=299,0,150:153", rid);
    api_resp r;
    get_ok(path, NULL, &r);
    eir_npy_array s;
    parse_npy(&r, &s);
    assert_int_equal(s.shape[0], 1);
    assert_int_equal(s.shape[1], 20);
    assert_int_equal(s.shape[2], 5);
    const int64_t units[5] = {299, 0, 150, 151, 152};
    for (int t = 0; t < 20; t++)
        for (int k = 0; k < 5; k++)
            assert_true(s.data[t * 5 + k] == a.data[(1740 + t) * 300 + units[k]]);
    eir_npy_array_free(&s);
    eir_npy_array_free(&a);
    api_resp_free(&r);
    api_resp_free(&full);
    free(rid);
}

/** A finished noisy run with B = 3, T' = 25, units [0, 3, 11], float32; returns its id. */
static char *noisy_run(void)
{
    static char *rid;
    if (rid) return rid;
    char *mid = api_create_model(&D, api_model_noisy);
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model_id\": \"%s\", \"dt\": 0.05, \"precision\": \"float32\", \"inputs\": "
             "{\"steps\": 50, \"trials\": 3}, \"record\": {\"vars\": [\"V\", \"y\"], \"every\": "
             "2, \"neurons\": [0, 3, 11]}, \"seed\": 42}",
             mid);
    free(mid);
    rid = api_submit_run(&D, doc);
    json_decref(api_wait_run(&D, rid, 60));
    return rid;
}

static void test_formats(void **state)
{
    (void)state;
    char *rid = noisy_run();
    char path[256];
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_resp rn, rj, rc;
    get_ok(path, NULL, &rn);
    eir_npy_array a;
    parse_npy(&rn, &a);
    assert_int_equal(a.dtype, EIR_NPY_F4);
    assert_int_equal(a.shape[0], 3);
    assert_int_equal(a.shape[1], 25);
    assert_int_equal(a.shape[2], 3);
    char h[128];
    assert_non_null(api_header(&rn, "Content-Type", h, sizeof h));
    assert_string_equal(h, "application/octet-stream");
    assert_non_null(api_header(&rn, "X-Eirnn-Shape", h, sizeof h));
    assert_string_equal(h, "3,25,3");

    /* JSON: nested lists with the same values (floats read back exactly). */
    get_ok(path, "application/json", &rj);
    assert_non_null(api_header(&rj, "Content-Type", h, sizeof h));
    assert_string_equal(h, "application/json");
    json_t *j = api_json(&rj);
    assert_int_equal(json_array_size(j), 3);
    for (size_t b = 0; b < 3; b++) {
        json_t *tr = json_array_get(j, b);
        assert_int_equal(json_array_size(tr), 25);
        for (size_t t = 0; t < 25; t++) {
            json_t *row = json_array_get(tr, t);
            assert_int_equal(json_array_size(row), 3);
            for (size_t u = 0; u < 3; u++) {
                double want = a.data[(b * 25 + t) * 3 + u];
                assert_true((float)json_number_value(json_array_get(row, u)) == (float)want);
            }
        }
    }
    json_decref(j);

    /* CSV: header, then one row per (trial, step). */
    snprintf(path, sizeof path, "/v1/runs/%s/results/V?format=csv", rid);
    get_ok(path, NULL, &rc);
    assert_non_null(api_header(&rc, "Content-Type", h, sizeof h));
    assert_true(strncmp(h, "text/csv", 8) == 0);
    char *line = strtok(rc.body, "\n");
    assert_string_equal(line, "trial,step,V0,V1,V2");
    int rows = 0;
    while ((line = strtok(NULL, "\n"))) {
        long b, t;
        float v[3];
        assert_int_equal(sscanf(line, "%ld,%ld,%f,%f,%f", &b, &t, &v[0], &v[1], &v[2]), 5);
        assert_int_equal(b, rows / 25);
        assert_int_equal(t, rows % 25);
        for (int u = 0; u < 3; u++)
            assert_true(v[u] == (float)a.data[(b * 25 + t) * 3 + u]);
        rows++;
    }
    assert_int_equal(rows, 75);
    eir_npy_array_free(&a);
    api_resp_free(&rn);
    api_resp_free(&rj);
    api_resp_free(&rc);

    /* Negotiation. */
    struct {
        const char *accept, *query, *ctype;
    } neg[] = {{"text/csv", "", "text/csv"},
               {"application/json;q=0.5, text/csv;q=0.9", "", "text/csv"},
               {"text/html, application/json", "", "application/json"},
               {"*/*", "", "application/octet-stream"},
               {"application/json", "?format=npy", "application/octet-stream"},
               {"application/octet-stream", "?format=json", "application/json"}};
    for (size_t k = 0; k < sizeof neg / sizeof *neg; k++) {
        snprintf(path, sizeof path, "/v1/runs/%s/results/y%s", rid, neg[k].query);
        api_resp r;
        get_ok(path, neg[k].accept, &r);
        assert_non_null(api_header(&r, "Content-Type", h, sizeof h));
        assert_true(strncmp(h, neg[k].ctype, strlen(neg[k].ctype)) == 0);
        api_resp_free(&r);
    }
    api_resp r;
    const char *html[] = {"Accept: text/html", NULL};
    snprintf(path, sizeof path, "/v1/runs/%s/results/y", rid);
    api_req(&D, "GET", path, html, NULL, 0, &r);
    json_decref(api_expect_problem(&r, 406));
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%s/results/y?format=xml", rid);
    api_get(&D, path, &r);
    json_decref(api_expect_problem(&r, 400));
    api_resp_free(&r);
}

static void test_slicing(void **state)
{
    (void)state;
    char *rid = noisy_run();
    char path[256];
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_resp full;
    get_ok(path, NULL, &full);
    eir_npy_array a;
    parse_npy(&full, &a);
    struct {
        const char *q;
        int64_t t0, t1, s0, s1;
        int64_t units[4];
        int nu;
    } cases[] = {
        {"trials=1:3&steps=2:5&neurons=2,0", 1, 3, 2, 5, {2, 0}, 2},
        {"trials=2", 2, 3, 0, 25, {0, 1, 2}, 3},
        {"steps=:3", 0, 3, 0, 3, {0, 1, 2}, 3},
        {"steps=24:&neurons=0:2,1", 0, 3, 24, 25, {0, 1, 1}, 3},
        {"neurons=1", 0, 3, 0, 25, {1}, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            snprintf(path, sizeof path, "/v1/runs/%s/results/V?%s%s", rid, cases[k].q,
                     fmt ? "&format=json" : "");
            api_resp r;
            get_ok(path, NULL, &r);
            int64_t nb = cases[k].t1 - cases[k].t0, nt = cases[k].s1 - cases[k].s0;
            if (fmt == 0) {
                eir_npy_array s;
                parse_npy(&r, &s);
                assert_int_equal(s.shape[0], nb);
                assert_int_equal(s.shape[1], nt);
                assert_int_equal(s.shape[2], cases[k].nu);
                for (int64_t b = 0; b < nb; b++)
                    for (int64_t t = 0; t < nt; t++)
                        for (int u = 0; u < cases[k].nu; u++)
                            assert_true(s.data[(b * nt + t) * cases[k].nu + u] ==
                                        a.data[((cases[k].t0 + b) * 25 + cases[k].s0 + t) * 3 +
                                               cases[k].units[u]]);
                eir_npy_array_free(&s);
            } else {
                json_t *j = api_json(&r);
                assert_int_equal(json_array_size(j), nb);
                assert_int_equal(json_array_size(json_array_get(j, 0)), nt);
                assert_int_equal(json_array_size(json_array_get(json_array_get(j, 0), 0)),
                                 cases[k].nu);
                json_decref(j);
            }
            api_resp_free(&r);
        }
    }
    const char *bad[] = {"trials=3:5", "trials=2:1", "trials=x",     "steps=0:26", "steps=-1:2",
                         "neurons=3",  "neurons=",   "neurons=0,,1", "neurons=a",  NULL};
    for (const char **b = bad; *b; b++) {
        snprintf(path, sizeof path, "/v1/runs/%s/results/V?%s", rid, *b);
        api_resp r;
        api_get(&D, path, &r);
        json_t *p = api_expect_problem(&r, 400);
        assert_non_null(api_jstr(p, "parameter"));
        json_decref(p);
        api_resp_free(&r);
    }
    eir_npy_array_free(&a);
    api_resp_free(&full);
}

static void test_etag(void **state)
{
    (void)state;
    char *rid = noisy_run();
    char path[256], etag[128], etag2[128], etag3[128], h[256];
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", rid);
    api_resp r;
    get_ok(path, NULL, &r);
    assert_non_null(api_header(&r, "ETag", etag, sizeof etag));
    assert_true(etag[0] == '"');
    api_resp_free(&r);
    /* Same request again: same ETag; with If-None-Match: 304 and no body. */
    get_ok(path, NULL, &r);
    assert_non_null(api_header(&r, "ETag", etag2, sizeof etag2));
    assert_string_equal(etag, etag2);
    api_resp_free(&r);
    snprintf(h, sizeof h, "If-None-Match: \"nope\", %s", etag);
    const char *hdr[] = {h, NULL};
    api_req(&D, "GET", path, hdr, NULL, 0, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.len, 0);
    assert_non_null(api_header(&r, "ETag", etag2, sizeof etag2));
    assert_string_equal(etag, etag2);
    api_resp_free(&r);
    /* Another slice or format is another representation. */
    snprintf(path, sizeof path, "/v1/runs/%s/results/V?trials=0", rid);
    api_req(&D, "GET", path, hdr, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(api_header(&r, "ETag", etag3, sizeof etag3));
    assert_string_not_equal(etag, etag3);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%s/results/V?format=csv", rid);
    api_req(&D, "GET", path, hdr, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    api_resp_free(&r);
}

static void test_result_list_and_errors(void **state)
{
    (void)state;
    char *rid = noisy_run();
    char path[256];
    snprintf(path, sizeof path, "/v1/runs/%s/results", rid);
    api_resp r;
    get_ok(path, NULL, &r);
    json_t *j = api_json(&r);
    assert_string_equal(api_jstr(j, "status"), "succeeded");
    json_t *items = json_object_get(j, "items");
    /* V and y as recorded, and the final state V_final [B, N] of every run that ran to its
     * end (issue 12), whatever it recorded; listed by name. */
    assert_int_equal(json_array_size(items), 3);
    json_t *fin = json_array_get(items, 1);
    assert_string_equal(api_jstr(fin, "var"), "V_final");
    assert_string_equal(api_jstr(fin, "dtype"), "float32");
    assert_int_equal(json_integer_value(json_object_get(fin, "bytes")), 3 * 12 * 4);
    assert_int_equal(json_array_size(json_object_get(fin, "shape")), 2);
    json_t *v = json_array_get(items, 0);
    assert_string_equal(api_jstr(v, "var"), "V");
    assert_string_equal(api_jstr(v, "dtype"), "float32");
    assert_int_equal(json_integer_value(json_object_get(v, "bytes")), 3 * 25 * 3 * 4);
    assert_int_equal(strlen(api_jstr(v, "sha256")), 64);
    json_decref(j);
    api_resp_free(&r);
    /* Not recorded: 404. */
    snprintf(path, sizeof path, "/v1/runs/%s/results/r", rid);
    api_get(&D, path, &r);
    json_decref(api_expect_problem(&r, 404));
    api_resp_free(&r);
    /* Not finished: 409 (a daemon without workers keeps the run queued). */
    api_daemon Q;
    api_init(&Q);
    const char *args[] = {"--workers", "0", NULL};
    api_start(&Q, args, NULL);
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}}",
             api_model_small);
    char *qid = api_submit_run(&Q, doc);
    snprintf(path, sizeof path, "/v1/runs/%s/results/V", qid);
    api_get(&Q, path, &r);
    json_decref(api_expect_problem(&r, 409));
    api_resp_free(&r);
    snprintf(path, sizeof path, "/v1/runs/%s/results", qid);
    api_get(&Q, path, &r);
    assert_int_equal(r.status, 200);
    j = api_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    api_resp_free(&r);
    free(qid);
    assert_int_equal(api_stop(&Q, SIGTERM, 30), 0);
    api_cleanup(&Q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_to_simulate),
        cmocka_unit_test(test_large_result),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_slicing),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_result_list_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
