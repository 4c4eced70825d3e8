/* `eirnn simulate`: runs the built binary and compares its files with an in-process run. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/eir_test_files.h"
#include "../common/eir_time_scale.h"
#include "eir.h"
#include "eir_json.h"
#include "eir_npy.h"

static char out_text[1 << 16], err_text[1 << 16];

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void slurp_into(const char *path, char *dst, size_t cap)
{
    size_t n;
    char *s = et_read_file(path, &n);
    dst[0] = '\0';
    if (s) {
        snprintf(dst, cap, "%s", s);
        free(s);
    }
}

/** Start the binary with @p argv (argv[0] ignored); stdout/stderr go to files. */
static pid_t spawn_cli(char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(et_tmp("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(et_tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        dup2(in, 0);
        execv(EIRNN_BIN, argv);
        _exit(127);
    }
    return pid;
}

/** Wait for @p pid at most @p timeout_s (scaled); its exit code (128 + signal when killed). */
static int wait_cli(pid_t pid, double timeout_s)
{
    int rc = et_wait_child(pid, timeout_s, "eirnn");
    slurp_into(et_tmp("stdout.txt"), out_text, sizeof out_text);
    slurp_into(et_tmp("stderr.txt"), err_text, sizeof err_text);
    return rc;
}

/** Run eirnn with the NULL-terminated arguments; returns its exit code. */
static int cli(const char *arg, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)"eirnn";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return wait_cli(spawn_cli(argv), 300);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle))) fail_msg("expected '%s' in: %s", (needle), (hay));           \
    } while (0)

/** A growing string. */
typedef struct sbuf {
    char *s;
    size_t n;
    FILE *f;
} sbuf;

static void sb_open(sbuf *b)
{
    b->s = NULL;
    b->n = 0;
    b->f = open_memstream(&b->s, &b->n);
    assert_non_null(b->f);
}

static char *sb_close(sbuf *b)
{
    fclose(b->f);
    return b->s;
}

/** Deterministic test inputs: B x T x n_in nested lists. */
static void inputs_json(FILE *f, int B, int T, int n_in)
{
    fputc('[', f);
    for (int b = 0; b < B; b++) {
        fprintf(f, "%s[", b ? "," : "");
        for (int t = 0; t < T; t++) {
            fprintf(f, "%s[", t ? "," : "");
            for (int c = 0; c < n_in; c++)
                fprintf(f, "%s%.17g", c ? "," : "", sin(0.3 * t + b + 1.7 * c) + 0.5);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputc(']', f);
}

static const char tiny_model[] =
    "{\"name\": \"tiny\", \"class\": \"gated\", \"populations\": {\"E\": 3, \"I\": 1},\n"
    " \"n_inputs\": 2, \"activation\": {\"name\": \"relu\"}, \"leak\": 0.1,\n"
    " \"recurrent\": {\"W\": [[0, 0.2, 0.1, -0.3], [0.1, 0, 0.2, -0.2], [0.3, 0.1, 0, -0.1],\n"
    "                       [0.2, 0.2, 0.2, 0]],\n"
    "               \"A\": {\"E\": 0.5, \"I\": 1.0}, \"dale\": \"reject\"},\n"
    " \"input\": {\"P\": [[1, 0], [0, 1], [0.5, 0.5], [0.2, 0.1]]},\n"
    " \"readout\": {\"W_out\": [[1, 1, 1, 0], [0, 0.5, 0, 1]], \"b_out\": [0.0, 0.1]},\n"
    " \"noise\": {\"sigma\": 0.05}}\n";

/** The tiny model's run: B x T inputs, all variables every 3rd step, optional seed. */
static char *tiny_run(int B, int T, const char *extra)
{
    sbuf b;
    sb_open(&b);
    fprintf(b.f, "{\"dt\": 0.1, \"integrator\": \"exp_euler\", \"inputs\": ");
    inputs_json(b.f, B, T, 2);
    fprintf(b.f, ", \"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"every\": 3}%s}\n",
            extra ? extra : "");
    return sb_close(&b);
}

/** In-process reference run of the same documents. */
typedef struct ref {
    eir_model *m;
    eir_model_spec *spec;
    eir_run_spec *rs;
    void *out[EIR_NVARS];
    size_t len[EIR_NVARS];
    void *final; /* the final state V, B x N */
    size_t final_len;
    eir_run_result res;
    eir_status st;
} ref;

static void ref_run(const char *model_text, const char *run_text, int set_seed, uint64_t seed,
                    ref *r)
{
    memset(r, 0, sizeof *r);
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    json_error_t je;
    json_t *run = json_loads(run_text, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(run);
    json_t *model = model_text ? json_loads(model_text, JSON_REJECT_DUPLICATES, &je)
                               : json_incref(json_object_get(run, "model"));
    assert_non_null(model);
    eir_error err;
    if (eir_json_build_model(model, &lim, model_text ? "" : "/model", &r->m, &r->spec, &err))
        fail_msg("reference model: %s: %s", err.field, err.message);
    if (eir_json_parse_run(run, r->m, &lim, &r->rs, &err))
        fail_msg("reference run: %s: %s", err.field, err.message);
    eir_run_desc *d = &r->rs->desc;
    if (set_seed) d->seed = seed;
    d->threads = 1;
    size_t el = d->precision == EIR_F32 ? 4 : 8;
    for (int v = 0; v < EIR_NVARS; v++) {
        if (!(d->record_mask & (1u << v))) continue;
        r->len[v] = eir_run_out_len(r->m, d, (eir_var)v) * el;
        r->out[v] = malloc(r->len[v] ? r->len[v] : 1);
        assert_non_null(r->out[v]);
        d->out[v] = r->out[v];
    }
    r->final_len = (size_t)d->B * (size_t)eir_model_n(r->m) * el;
    r->final = malloc(r->final_len);
    assert_non_null(r->final);
    d->final_V = r->final;
    eir_stats *st = d->stats_req ? eir_stats_new(d->stats_req, d->B) : NULL;
    d->stats = st;
    r->st = eir_run(r->m, d, &r->res, &err);
    eir_stats_free(st);
    d->stats = NULL;
    json_decref(model);
    json_decref(run);
}

static void ref_free(ref *r)
{
    for (int v = 0; v < EIR_NVARS; v++)
        free(r->out[v]);
    free(r->final);
    eir_run_spec_free(r->rs);
    eir_model_free(r->m);
    eir_model_spec_free(r->spec);
}

/** DIR/<var>.npy holds exactly the reference bytes, with the right header. */
static void check_npy(const char *dir, const ref *r, eir_var v)
{
    const eir_run_desc *d = &r->rs->desc;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, eir_var_name(v));
    size_t len;
    char *file = et_read_file(path, &len);
    if (!file) fail_msg("%s missing", path);
    assert_true(len >= 10);
    size_t hl = 10 + ((size_t)(unsigned char)file[8] | (size_t)(unsigned char)file[9] << 8);
    assert_int_equal(hl % 64, 0);
    assert_int_equal(len - hl, r->len[v]);
    if (memcmp(file + hl, r->out[v], r->len[v]) != 0)
        fail_msg("%s differs from the in-process run", path);
    free(file);

    eir_npy_array a;
    eir_npy_error ne;
    assert_int_equal(eir_npy_read_file(path, 0, &a, &ne), EIR_NPY_OK);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.dtype, d->precision == EIR_F32 ? EIR_NPY_F4 : EIR_NPY_F8);
    assert_int_equal(a.shape[0], d->B);
    assert_int_equal(a.shape[1], eir_recorded_rows(d->T, d->record_every));
    int64_t n = v == EIR_VAR_Y ? eir_model_n_out(r->m)
                               : (d->n_neurons > 0 ? d->n_neurons : eir_model_n(r->m));
    assert_int_equal(a.shape[2], n);
    /* Element-for-element through the reader as well. */
    for (size_t i = 0; i < a.count; i++) {
        double want = d->precision == EIR_F32 ? (double)((const float *)r->out[v])[i]
                                              : ((const double *)r->out[v])[i];
        if (!(a.data[i] == want || (isnan(a.data[i]) && isnan(want))))
            fail_msg("%s[%zu] = %.17g, in-process %.17g", path, i, a.data[i], want);
    }
    eir_npy_array_free(&a);
}

/** DIR/V_final.npy is the reference's final state: 2-D [B, N], the run's dtype, same bytes. */
static void check_final(const char *dir, const ref *r)
{
    const eir_run_desc *d = &r->rs->desc;
    char path[1024];
    snprintf(path, sizeof path, "%s/V_final.npy", dir);
    eir_npy_array a;
    eir_npy_error ne;
    if (eir_npy_read_file(path, 0, &a, &ne) != EIR_NPY_OK) fail_msg("%s: %s", path, ne.message);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.dtype, d->precision == EIR_F32 ? EIR_NPY_F4 : EIR_NPY_F8);
    assert_int_equal(a.shape[0], d->B);
    assert_int_equal(a.shape[1], eir_model_n(r->m));
    for (size_t i = 0; i < a.count; i++) {
        double want = d->precision == EIR_F32 ? (double)((const float *)r->final)[i]
                                              : ((const double *)r->final)[i];
        if (memcmp(&a.data[i], &want, sizeof want) != 0)
            fail_msg("%s[%zu] = %.17g, in-process %.17g", path, i, a.data[i], want);
    }
    eir_npy_array_free(&a);
}

static void check_all_npy(const char *dir, const ref *r)
{
    for (int v = 0; v < EIR_NVARS; v++)
        if (r->rs->desc.record_mask & (1u << v)) check_npy(dir, r, (eir_var)v);
    check_final(dir, r);
}

static json_t *load_meta(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) fail_msg("%s: %s", path, je.text);
    return j;
}

/** meta at a slash-separated path of object keys ("run/seed"). */
static json_t *mget(json_t *meta, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *j = meta;
    for (char *save, *k = strtok_r(buf, "/", &save); k; k = strtok_r(NULL, "/", &save)) {
        j = json_object_get(j, k);
        if (!j) fail_msg("meta.json lacks %s", path);
    }
    return j;
}

static void check_shape(json_t *meta, const char *var, int64_t b, int64_t t, int64_t n)
{
    char p[64];
    snprintf(p, sizeof p, "outputs/%s/shape", var);
    json_t *s = mget(meta, p);
    assert_int_equal(json_array_size(s), 3);
    assert_int_equal(json_integer_value(json_array_get(s, 0)), b);
    assert_int_equal(json_integer_value(json_array_get(s, 1)), t);
    assert_int_equal(json_integer_value(json_array_get(s, 2)), n);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_matches_in_process(void **state)
{
    (void)state;
    char *run = tiny_run(3, 40, ", \"seed\": 11");
    et_write_text(et_tmp("tiny_model.json"), tiny_model);
    et_write_text(et_tmp("tiny_run.json"), run);
    const char *out = et_tmp("out/nested/tiny"); /* parents are created */
    int rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), "-o", out,
                 "--quiet", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    assert_string_equal(err_text, ""); /* --quiet: nothing on stderr */

    ref r;
    ref_run(tiny_model, run, 0, 0, &r);
    assert_int_equal(r.st, EIR_OK);
    check_all_npy(out, &r);

    json_t *meta = load_meta(out);
    assert_string_equal(json_string_value(mget(meta, "status")), "succeeded");
    assert_string_equal(json_string_value(mget(meta, "engine/version")), EIR_ENGINE_VERSION);
    char hex[65];
    eir_model_hash(r.m, hex);
    assert_string_equal(json_string_value(mget(meta, "model/hash")), hex);
    assert_string_equal(json_string_value(mget(meta, "model/name")), "tiny");
    assert_string_equal(json_string_value(mget(meta, "model/class")), "gated");
    assert_int_equal(json_integer_value(mget(meta, "model/sizes/N")), 4);
    assert_int_equal(json_integer_value(mget(meta, "model/sizes/E")), 3);
    assert_int_equal(json_integer_value(mget(meta, "model/sizes/I")), 1);
    assert_int_equal(json_integer_value(mget(meta, "model/sizes/n_in")), 2);
    assert_int_equal(json_integer_value(mget(meta, "model/sizes/n_out")), 2);
    assert_true(json_is_null(mget(meta, "model/generate")));
    assert_int_equal(json_integer_value(mget(meta, "run/seed")), 11);
    assert_int_equal(json_integer_value(mget(meta, "run/T")), 40);
    assert_int_equal(json_integer_value(mget(meta, "run/B")), 3);
    assert_true(json_real_value(mget(meta, "run/dt")) == 0.1);
    assert_string_equal(json_string_value(mget(meta, "run/integrator")), "exp_euler");
    assert_string_equal(json_string_value(mget(meta, "run/precision")), "float64");
    assert_string_equal(json_string_value(mget(meta, "run/noise_generator")), EIR_RNG_NAME);
    assert_int_equal(json_integer_value(mget(meta, "run/record/every")), 3);
    assert_int_equal(json_integer_value(mget(meta, "run/record/neurons")), 4);
    assert_int_equal(json_array_size(mget(meta, "run/record/vars")), 4);
    assert_int_equal(json_integer_value(mget(meta, "summary/steps_done")), 40);
    assert_int_equal(json_integer_value(mget(meta, "summary/rows_written")), 13);
    assert_true(json_is_false(mget(meta, "summary/diverged")));
    assert_true(json_is_null(mget(meta, "summary/diverged_step")));
    /* Summaries may be summed in another order with more threads: equal to rounding. */
    assert_true(fabs(json_real_value(mget(meta, "summary/mean_rate_E")) - r.res.mean_rate_e) <=
                1e-12 * fabs(r.res.mean_rate_e));
    assert_true(json_real_value(mget(meta, "summary/max_z_dt")) == r.res.max_z_dt);
    assert_true(json_number_value(mget(meta, "timings/simulate_s")) >= 0);
    assert_true(json_number_value(mget(meta, "timings/parse_s")) >= 0);
    assert_true(json_number_value(mget(meta, "timings/build_s")) >= 0);
    check_shape(meta, "V", 3, 13, 4);
    check_shape(meta, "y", 3, 13, 2);
    assert_string_equal(json_string_value(mget(meta, "outputs/z/dtype")), "float64");
    assert_string_equal(json_string_value(mget(meta, "outputs/r/file")), "r.npy");
    assert_string_equal(json_string_value(mget(meta, "outputs/V_final/file")), "V_final.npy");
    json_t *fs = mget(meta, "outputs/V_final/shape");
    assert_int_equal(json_array_size(fs), 2);
    assert_int_equal(json_integer_value(json_array_get(fs, 0)), 3);
    assert_int_equal(json_integer_value(json_array_get(fs, 1)), 4);
    assert_string_equal(json_string_value(mget(meta, "outputs/V_final/dtype")), "float64");
    json_decref(meta);

    /* Pretty-printed with sorted keys. */
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.json", out);
    char *text = et_read_file(path, NULL);
    assert_non_null(text);
    assert_contains(text, "\n  \"created\"");
    assert_true(strstr(text, "\"engine\"") < strstr(text, "\"model\""));
    assert_true(strstr(text, "\"outputs\"") < strstr(text, "\"run\""));
    free(text);

    /* Same bytes whatever the thread count; the summary line without --quiet. */
    const char *out3 = et_tmp("out/tiny3");
    rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), "-o", out3,
             "--threads", "3", NULL);
    assert_int_equal(rc, 0);
    assert_contains(err_text, "eirnn: simulate: 3 trials x 40 steps");
    check_all_npy(out3, &r);
    ref_free(&r);
    free(run);
}

static void test_inline_float32_neurons(void **state)
{
    (void)state;
    sbuf b;
    sb_open(&b);
    fprintf(b.f, "{\"model\": %s, \"dt\": 0.05, \"precision\": \"float32\", ", tiny_model);
    fprintf(b.f, "\"integrator\": \"rk4\", \"V0\": 0.3, \"seed\": 5, \"inputs\": ");
    inputs_json(b.f, 2, 25, 2);
    fprintf(b.f, ", \"record\": {\"vars\": [\"V\", \"y\"], \"neurons\": [0, 3]}}");
    char *run = sb_close(&b);
    et_write_text(et_tmp("inline_run.json"), run);
    const char *out = et_tmp("out/inline");
    int rc = cli("simulate", et_tmp("inline_run.json"), "-o", out, "-q", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    ref r;
    ref_run(NULL, run, 0, 0, &r);
    check_all_npy(out, &r);
    json_t *meta = load_meta(out);
    check_shape(meta, "V", 2, 25, 2);
    check_shape(meta, "y", 2, 25, 2);
    assert_null(json_object_get(mget(meta, "outputs"), "r"));
    assert_string_equal(json_string_value(mget(meta, "outputs/V/dtype")), "float32");
    assert_string_equal(json_string_value(mget(meta, "run/precision")), "float32");
    assert_string_equal(json_string_value(mget(meta, "run/integrator")), "rk4");
    assert_int_equal(json_integer_value(mget(meta, "run/record/neurons")), 2);
    assert_true(json_is_null(mget(meta, "sources/model")));
    json_decref(meta);
    /* The header says '<f4'. */
    char path[1024];
    snprintf(path, sizeof path, "%s/V.npy", out);
    char *text = et_read_file(path, NULL);
    assert_contains(text + 10, "'descr': '<f4'");
    free(text);
    ref_free(&r);
    free(run);
}

static void test_random_seed_recorded(void **state)
{
    (void)state;
    char *run = tiny_run(2, 30, NULL); /* no seed, sigma 0.05 */
    et_write_text(et_tmp("noseed_run.json"), run);
    const char *out = et_tmp("out/noseed");
    int rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("noseed_run.json"), "-o", out, "-q",
                 NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    json_t *meta = load_meta(out);
    json_t *seed = mget(meta, "run/seed");
    assert_true(json_is_integer(seed));
    assert_true(json_integer_value(seed) >= 0);
    ref r;
    ref_run(tiny_model, run, 1, (uint64_t)json_integer_value(seed), &r);
    check_all_npy(out, &r);
    ref_free(&r);
    json_decref(meta);
    free(run);
}

static void test_generated_model(void **state)
{
    (void)state;
    const char *model =
        "{\"name\": \"gen\", \"populations\": {\"E\": 16, \"I\": 4}, \"n_inputs\": 1,\n"
        " \"activation\": {\"name\": \"softplus\"}, \"leak\": 0.2,\n"
        " \"recurrent\": {\"generate\": {\"seed\": 42, \"p\": 0.5, \"dist\": \"lognormal\",\n"
        "                              \"mean\": 0.05, \"cv\": 0.5}, \"A\": 1.0},\n"
        " \"input\": {\"P\": {\"generate\": {\"seed\": 43, \"p\": 1.0, \"dist\": \"constant\",\n"
        "                                 \"mean\": 0.5}}}}\n";
    const char *run = "{\"dt\": 0.5, \"inputs\": {\"steps\": 30, \"trials\": 2}, "
                      "\"record\": {\"vars\": [\"r\"]}}";
    et_write_text(et_tmp("gen_model.json"), model);
    et_write_text(et_tmp("gen_run.json"), run);
    const char *out = et_tmp("out/gen");
    int rc =
        cli("simulate", et_tmp("gen_model.json"), et_tmp("gen_run.json"), "-o", out, "-q", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    ref r;
    ref_run(model, run, 0, 0, &r);
    check_all_npy(out, &r);
    json_t *meta = load_meta(out);
    assert_int_equal(json_integer_value(mget(meta, "model/generate/recurrent_seed")), 42);
    assert_int_equal(json_integer_value(mget(meta, "model/generate/input_seed")), 43);
    assert_true(json_is_null(mget(meta, "run/seed"))); /* no noise, no seed given */
    check_shape(meta, "r", 2, 30, 20);
    json_decref(meta);
    ref_free(&r);
}

static const char diverging_model[] =
    "{\"class\": \"rnn\", \"populations\": {\"E\": 2, \"I\": 1}, \"n_inputs\": 0,\n"
    " \"activation\": {\"name\": \"linear\"}, \"leak\": 0.1,\n"
    " \"recurrent\": {\"W\": [[10, 0, 0], [0, 10, 0], [0, 0, 10]]}}\n";

static void test_diverged(void **state)
{
    (void)state;
    const char *run = "{\"dt\": 1.0, \"V0\": 1.0, \"inputs\": {\"steps\": 1000, \"trials\": 2}, "
                      "\"record\": {\"vars\": [\"V\", \"r\"]}}";
    et_write_text(et_tmp("div_model.json"), diverging_model);
    et_write_text(et_tmp("div_run.json"), run);
    const char *out = et_tmp("out/div");
    int rc = cli("simulate", et_tmp("div_model.json"), et_tmp("div_run.json"), "-o", out,
                 "--threads", "2", NULL);
    assert_int_equal(rc, 5);
    assert_contains(err_text, "eirnn: error: run diverged at step");
    ref r;
    ref_run(diverging_model, run, 0, 0, &r);
    assert_true(r.res.diverged);
    assert_true(r.res.diverged_step > 0 && r.res.diverged_step < 1000);
    check_all_npy(out, &r);
    json_t *meta = load_meta(out);
    assert_string_equal(json_string_value(mget(meta, "status")), "diverged");
    assert_true(json_is_true(mget(meta, "summary/diverged")));
    assert_int_equal(json_integer_value(mget(meta, "summary/diverged_step")), r.res.diverged_step);
    /* The lowest trial diverging at that step, whatever the thread count (the CLI uses 2). */
    if (json_integer_value(mget(meta, "summary/diverged_trial")) != r.res.diverged_trial)
        fail_msg("diverged_trial %lld with threads, %d with one thread",
                 (long long)json_integer_value(mget(meta, "summary/diverged_trial")),
                 r.res.diverged_trial);
    json_decref(meta);
    /* The last rows are NaN; the first are finite. */
    eir_npy_array a;
    eir_npy_error ne;
    char path[1024];
    snprintf(path, sizeof path, "%s/V.npy", out);
    assert_int_equal(eir_npy_read_file(path, 0, &a, &ne), EIR_NPY_OK);
    assert_true(isfinite(a.data[0]));
    assert_true(isnan(a.data[a.count - 1]));
    eir_npy_array_free(&a);
    ref_free(&r);
}

/* Described inputs and metrics: the same bytes as in process, the description and the metrics
 * in meta.json. */
static void test_described_inputs_and_metrics(void **state)
{
    (void)state;
    const char *run = "{\"dt\": 0.1, \"seed\": 3, \"inputs\": {\"steps\": 30, \"trials\": 2, "
                      "\"segments\": [{\"from\": 5, \"to\": 25, \"value\": [[1, 0], [0, 1]], "
                      "\"to_value\": 0.5}], \"noise\": {\"sigma\": 0.2, \"seed\": 9}}, "
                      "\"record\": {\"vars\": [\"r\"]}, \"metrics\": {\"windows\": [{\"name\": "
                      "\"late\", \"var\": \"r\", \"from\": 20, \"to\": 30}]}}";
    et_write_text(et_tmp("desc_model.json"), tiny_model);
    et_write_text(et_tmp("desc_run.json"), run);
    const char *out = et_tmp("out/desc");
    int rc =
        cli("simulate", et_tmp("desc_model.json"), et_tmp("desc_run.json"), "-o", out, "-q", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    ref r;
    ref_run(tiny_model, run, 0, 0, &r);
    assert_int_equal(r.st, EIR_OK);
    check_all_npy(out, &r);
    json_t *meta = load_meta(out);
    assert_int_equal(json_integer_value(mget(meta, "run/inputs/noise/seed")), 9);
    assert_int_equal(json_array_size(mget(meta, "run/inputs/segments")), 1);
    assert_string_equal(json_string_value(mget(meta, "metrics/windows/late/var")), "r");
    assert_int_equal(json_array_size(mget(meta, "metrics/windows/late/trials/mean/E")), 2);
    assert_true(json_is_number(mget(meta, "metrics/final/r/E")));
    json_decref(meta);
    ref_free(&r);
}

static void test_inputs_file(void **state)
{
    (void)state;
    /* Reference: the run with its inputs inline (one trial, T x n_in). */
    int T = 17;
    sbuf b;
    sb_open(&b);
    fprintf(b.f, "{\"dt\": 0.1, \"seed\": 3, \"record\": {\"vars\": [\"V\", \"y\"]}, \"inputs\": ");
    inputs_json(b.f, 1, T, 2);
    fputc('}', b.f);
    char *run_inline = sb_close(&b);
    ref r;
    ref_run(tiny_model, run_inline, 0, 0, &r);

    /* The same inputs as CSV (with a header line) and as a B x T x n_in .npy. */
    sb_open(&b);
    fprintf(b.f, "x0,x1\n");
    double *x = malloc(sizeof(double) * (size_t)T * 2);
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < 2; c++)
            x[t * 2 + c] = sin(0.3 * t + 0 + 1.7 * c) + 0.5;
        fprintf(b.f, "%.17g, %.17g\n", x[t * 2], x[t * 2 + 1]);
    }
    char *csv = sb_close(&b);
    et_write_text(et_tmp("inputs.csv"), csv);
    free(csv);
    int64_t shape[3] = {1, T, 2};
    eir_npy_error ne;
    assert_int_equal(eir_npy_write_file(et_tmp("inputs.npy"), EIR_NPY_F8, 3, shape, x, &ne),
                     EIR_NPY_OK);
    free(x);
    const char *run_noinputs = "{\"dt\": 0.1, \"seed\": 3, \"record\": {\"vars\": [\"V\", \"y\"]},"
                               " \"inputs\": {\"steps\": 5, \"trials\": 1}}";
    et_write_text(et_tmp("noin_run.json"), run_noinputs);

    int rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("noin_run.json"), "--inputs",
                 et_tmp("inputs.csv"), "-o", et_tmp("out/csvin"), "-q", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    check_all_npy(et_tmp("out/csvin"), &r);
    rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("noin_run.json"), "--inputs",
             et_tmp("inputs.npy"), "-o", et_tmp("out/npyin"), "-q", NULL);
    if (rc != 0) fail_msg("exit %d: %s", rc, err_text);
    check_all_npy(et_tmp("out/npyin"), &r);
    json_t *meta = load_meta(et_tmp("out/npyin"));
    assert_contains(json_string_value(mget(meta, "sources/inputs")), "inputs.npy");
    json_decref(meta);
    ref_free(&r);
    free(run_inline);

    /* Wrong width: the error names the inputs file and the field. */
    et_write_text(et_tmp("bad_inputs.csv"), "1,2,3\n4,5,6\n");
    rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("noin_run.json"), "--inputs",
             et_tmp("bad_inputs.csv"), "-o", et_tmp("out/badin"), NULL);
    assert_int_equal(rc, 3);
    assert_contains(err_text, "bad_inputs.csv: /inputs");
    et_write_text(et_tmp("bad_inputs2.csv"), "1,2\n4,x\n");
    rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("noin_run.json"), "--inputs",
             et_tmp("bad_inputs2.csv"), "-o", et_tmp("out/badin"), NULL);
    assert_int_equal(rc, 3);
    assert_contains(err_text, "bad_inputs2.csv: line 2, field 2");
}

/** Exit 3 and an error line "eirnn: error: <file>: <needle>..." for a bad document. */
static void expect_invalid(const char *model, const char *run, const char *needle)
{
    if (model) et_write_text(et_tmp("bad_model.json"), model);
    et_write_text(et_tmp("bad_run.json"), run);
    int rc = model ? cli("simulate", et_tmp("bad_model.json"), et_tmp("bad_run.json"), "-o",
                         et_tmp("out/bad"), NULL)
                   : cli("simulate", et_tmp("bad_run.json"), "-o", et_tmp("out/bad"), NULL);
    if (rc != 3) fail_msg("expected exit 3, got %d: %s", rc, err_text);
    assert_contains(err_text, "eirnn: error: ");
    assert_contains(err_text, needle);
    assert_non_null(strchr(err_text, '\n'));
    assert_int_equal(strchr(err_text, '\n')[1], '\0'); /* one line */
}

static void test_invalid_input(void **state)
{
    (void)state;
    const char *run = "{\"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}}";
    char path_field[700];

    /* Dale violation (an E column with a negative entry) names the matrix. */
    const char *dale = "{\"populations\": {\"E\": 2, \"I\": 1}, \"leak\": 0.1,\n"
                       " \"recurrent\": {\"W\": [[0, -0.5, -1], [0.2, 0, -1], [0.3, 0.1, 0]],\n"
                       "  \"A\": 1.0}}";
    snprintf(path_field, sizeof path_field, "%s: /recurrent/W: ", et_tmp("bad_model.json"));
    expect_invalid(dale, run, path_field);

    const char *leak = "{\"populations\": {\"E\": 2, \"I\": 1}, \"leak\": -0.1,\n"
                       " \"recurrent\": {\"W\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]], \"A\": 1.0}}";
    snprintf(path_field, sizeof path_field, "%s: /leak: ", et_tmp("bad_model.json"));
    expect_invalid(leak, run, path_field);

    snprintf(path_field, sizeof path_field, "%s: /dt: ", et_tmp("bad_run.json"));
    expect_invalid(tiny_model, "{\"dt\": -1, \"inputs\": {\"steps\": 5, \"trials\": 1}}",
                   path_field);
    expect_invalid(tiny_model,
                   "{\"dt\": 0.1, \"inputs\": {\"steps\": 5, \"trials\": 1}, \"bogus\": 1}",
                   "/bogus");
    expect_invalid(tiny_model, "{\"dt\": 0.1, \"inputs\": [[1, 2, 3]]}", "/inputs");
    /* V0 from a run needs a daemon that keeps runs; described inputs' errors name the field */
    snprintf(path_field, sizeof path_field, "%s: /V0/run_id: V0 from a run needs eirnnd",
             et_tmp("bad_run.json"));
    expect_invalid(tiny_model,
                   "{\"dt\": 0.1, \"inputs\": {\"steps\": 5}, \"V0\": {\"run_id\": "
                   "\"r_0123456789abcdef01234567\"}}",
                   path_field);
    expect_invalid(tiny_model,
                   "{\"dt\": 0.1, \"inputs\": {\"steps\": 5, \"segments\": [{\"from\": 0, "
                   "\"to\": 6, \"value\": 1}]}}",
                   "/inputs/segments/0/to: to (6) is past steps (5)");

    /* Inline model errors are under /model. */
    char inl[1024];
    snprintf(inl, sizeof inl,
             "{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 3, "
             "\"trials\": 1}}",
             leak);
    snprintf(path_field, sizeof path_field, "%s: /model/leak: ", et_tmp("bad_run.json"));
    expect_invalid(NULL, inl, path_field);

    /* JSON syntax: file:line:column; duplicate keys; not an object. */
    snprintf(path_field, sizeof path_field, "%s:2:", et_tmp("bad_run.json"));
    expect_invalid(tiny_model, "{\"dt\": 0.1,\n \"inputs\": ,}", path_field);
    expect_invalid(tiny_model, "{\"dt\": 0.1, \"dt\": 0.2}", "duplicate");
    expect_invalid(tiny_model, "[1, 2]", "must be a JSON object");
    /* Nothing was written for invalid input. */
    struct stat sb;
    assert_int_not_equal(stat(et_tmp("out/bad/meta.json"), &sb), 0);
}

static void test_io_and_usage_errors(void **state)
{
    (void)state;
    int rc = cli("simulate", et_tmp("no_such_model.json"), et_tmp("tiny_run.json"), "-o",
                 et_tmp("out/x"), NULL);
    assert_int_equal(rc, 1);
    assert_contains(err_text, "no_such_model.json: cannot open");

    /* Output "directory" that is a file. */
    et_write_text(et_tmp("a_file"), "x");
    rc = cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), "-o", et_tmp("a_file"),
             NULL);
    assert_int_equal(rc, 1);
    assert_contains(err_text, "a_file");

    assert_int_equal(cli(NULL), 2);
    assert_contains(err_text, "usage: eirnn");
    assert_int_equal(cli("frobnicate", NULL), 2);
    assert_contains(err_text, "unknown command 'frobnicate'");
    assert_int_equal(cli("--bogus", NULL), 2);
    assert_int_equal(cli("simulate", NULL), 2);
    assert_int_equal(cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), NULL), 2);
    assert_contains(err_text, "-o DIR is required");
    assert_int_equal(cli("simulate", "a", "b", "c", "-o", et_tmp("out/x"), NULL), 2);
    assert_int_equal(cli("simulate", et_tmp("tiny_run.json"), "-o", NULL), 2);
    assert_contains(err_text, "needs a value");
    assert_int_equal(cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), "-o",
                         et_tmp("out/x"), "--threads", "0", NULL),
                     2);
    assert_contains(err_text, "--threads");
    assert_int_equal(cli("simulate", et_tmp("tiny_model.json"), et_tmp("tiny_run.json"), "-o",
                         et_tmp("out/x"), "--frob", NULL),
                     2);
    assert_contains(err_text, "unknown option '--frob'");

    /* A run naming a model_id cannot be simulated offline without the model. */
    et_write_text(
        et_tmp("id_run.json"),
        "{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": {\"steps\": 3, \"trials\": 1}}");
    assert_int_equal(cli("simulate", et_tmp("id_run.json"), "-o", et_tmp("out/x"), NULL), 2);
    assert_contains(err_text, "/model_id");
    /* A run with an inline model and a model file too. */
    char inl[2048];
    snprintf(inl, sizeof inl,
             "{\"model\": %s, \"dt\": 0.1, \"inputs\": {\"steps\": 3, "
             "\"trials\": 1}}",
             tiny_model);
    et_write_text(et_tmp("inl_run.json"), inl);
    assert_int_equal(cli("simulate", et_tmp("tiny_model.json"), et_tmp("inl_run.json"), "-o",
                         et_tmp("out/x"), NULL),
                     2);

    /* Help and version go to stdout with exit 0. */
    assert_int_equal(cli("--help", NULL), 0);
    assert_contains(out_text, "simulate");
    assert_int_equal(cli("simulate", "--help", NULL), 0);
    assert_contains(out_text, "usage: eirnn simulate");
    assert_contains(out_text, "--threads");
    assert_int_equal(cli("--version", NULL), 0);
    assert_contains(out_text, "eirnn ");
    assert_contains(out_text, EIR_ENGINE_VERSION);
}

static void test_cancel(void **state)
{
    (void)state;
    /* A long run: 100 cells, 10^7 steps; SIGINT after a moment stops it with exit 6. */
    int n = 100;
    sbuf b;
    sb_open(&b);
    fprintf(b.f, "{\"class\": \"dale\", \"populations\": {\"E\": 80, \"I\": 20}, "
                 "\"leak\": 0.1, \"bias\": 0.5, \"recurrent\": {\"W\": [");
    for (int i = 0; i < n; i++) {
        fprintf(b.f, "%s[", i ? "," : "");
        for (int j = 0; j < n; j++)
            fprintf(b.f, "%s%g", j ? "," : "", i == j ? 0.0 : (j < 80 ? 0.001 : -0.004));
        fputc(']', b.f);
    }
    fprintf(b.f, "]}}");
    char *model = sb_close(&b);
    et_write_text(et_tmp("long_model.json"), model);
    free(model);
    et_write_text(et_tmp("long_run.json"), "{\"dt\": 0.1, \"inputs\": {\"steps\": 10000000, "
                                           "\"trials\": 1}, \"record\": {\"vars\": [\"r\"], "
                                           "\"every\": 10000}}");
    const char *out = et_tmp("out/cancel");
    char *argv[] = {(char *)"eirnn",
                    (char *)"simulate",
                    (char *)et_tmp("long_model.json"),
                    (char *)et_tmp("long_run.json"),
                    (char *)"-o",
                    (char *)out,
                    (char *)"-q",
                    NULL};
    pid_t pid = spawn_cli(argv);
    usleep((useconds_t)(eir_scaled(1.5) * 1e6));
    kill(pid, SIGINT);
    int rc = wait_cli(pid, 120);
    if (rc != 6) fail_msg("expected exit 6, got %d: %s", rc, err_text);
    assert_contains(err_text, "cancelled");
    json_t *meta = load_meta(out);
    assert_string_equal(json_string_value(mget(meta, "status")), "cancelled");
    json_int_t done = json_integer_value(mget(meta, "summary/steps_done"));
    assert_true(done > 0 && done < 10000000);
    /* Only the rows computed are kept: steps done rounded down to record.every, none NaN. */
    int64_t rows = done / 10000;
    check_shape(meta, "r", 1, rows, 100);
    assert_int_equal(json_integer_value(mget(meta, "summary/rows_written")), rows);
    assert_true(json_is_true(mget(meta, "summary/truncated")));
    /* a stopped run keeps no final state (a step may be half done) */
    assert_null(json_object_get(mget(meta, "outputs"), "V_final"));
    json_decref(meta);
    char final_path[1024];
    snprintf(final_path, sizeof final_path, "%s/V_final.npy", out);
    assert_int_equal(access(final_path, F_OK), -1);
    eir_npy_array a;
    eir_npy_error ne;
    char path[1024];
    snprintf(path, sizeof path, "%s/r.npy", out);
    assert_int_equal(eir_npy_read_file(path, 0, &a, &ne), EIR_NPY_OK);
    assert_int_equal(a.ndim, 3);
    assert_int_equal(a.shape[1], rows);
    for (size_t i = 0; i < a.count; i++)
        assert_true(isfinite(a.data[i]));
    eir_npy_array_free(&a);
}

/* Every example in schema/examples runs and matches the in-process run. */
static void test_examples(void **state)
{
    (void)state;
    const char *dir = EIR_SOURCE_DIR "/schema/examples";
    DIR *dd = opendir(dir);
    if (!dd) skip();
    int ran = 0;
    struct dirent *e;
    const char *default_run = "{\"dt\": 0.1, \"inputs\": {\"steps\": 20, \"trials\": 2}, "
                              "\"record\": {\"vars\": [\"V\"]}, \"seed\": 1}";
    et_write_text(et_tmp("ex_default_run.json"), default_run);
    while ((e = readdir(dd))) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            continue;
        }
        char *text = et_read_file(path, NULL);
        int is_model = json_object_get(j, "populations") != NULL;
        /* a training document (training_*.json) has a "model" too, and a "task" */
        int is_inline_run = json_object_get(j, "model") != NULL && !json_object_get(j, "task");
        json_decref(j);
        if (!is_model && !is_inline_run) {
            free(text);
            continue;
        }
        /* A model "model_X.json" runs with "run_X.json" when there is one. */
        char run_path[1024];
        char *run_text = NULL;
        if (is_model && strncmp(e->d_name, "model_", 6) == 0) {
            snprintf(run_path, sizeof run_path, "%s/run_%s", dir, e->d_name + 6);
            run_text = et_read_file(run_path, NULL);
        }
        if (is_model && !run_text) {
            snprintf(run_path, sizeof run_path, "%s", et_tmp("ex_default_run.json"));
            run_text = strdup(default_run);
        }
        char out[600];
        snprintf(out, sizeof out, "%s/out/ex_%.60s", et_tmpdir, e->d_name);
        int rc = is_model ? cli("simulate", path, run_path, "-o", out, "-q", NULL)
                          : cli("simulate", path, "-o", out, "-q", NULL);
        if (rc != 0 && rc != 5) fail_msg("%s: exit %d: %s", e->d_name, rc, err_text);
        json_t *meta = load_meta(out);
        json_t *seed = mget(meta, "run/seed");
        ref r;
        ref_run(is_model ? text : NULL, is_model ? run_text : text, json_is_integer(seed),
                (uint64_t)json_integer_value(seed), &r);
        check_all_npy(out, &r);
        ref_free(&r);
        json_decref(meta);
        free(run_text);
        free(text);
        ran++;
    }
    closedir(dd);
    if (ran == 0) skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_in_process),
        cmocka_unit_test(test_inline_float32_neurons),
        cmocka_unit_test(test_random_seed_recorded),
        cmocka_unit_test(test_generated_model),
        cmocka_unit_test(test_diverged),
        cmocka_unit_test(test_described_inputs_and_metrics),
        cmocka_unit_test(test_inputs_file),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_io_and_usage_errors),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_examples),
    };
    return cmocka_run_group_tests(tests, et_tmpdir_setup, et_tmpdir_teardown);
}
