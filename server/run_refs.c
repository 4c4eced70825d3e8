/**
 * @file run_refs.c
 * @brief "V0" from another run (run_refs.h): the submission's check from the store's rows and
 *        the result's description, and the worker's read of V_final as doubles.
 */
#include "run_refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_stream.h"
#include "eir_sha256.h"

/** Bytes of one value of result dtype @p dtype when it is a float type V_final may have, else 0. */
static size_t float_size(const char *dtype)
{
    return strcmp(dtype, "float64") == 0 ? 8 : strcmp(dtype, "float32") == 0 ? 4 : 0;
}

/**
 * Look up run @p id into @p ref (its id set, usable or why not). @return STORE_OK (usable or
 * not), or the store's failure.
 */
static store_status ref_lookup(store_conn *c, const char *id, srv_run_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    snprintf(ref->id, sizeof ref->id, "%s", id);
    store_run run;
    memset(&run, 0, sizeof run);
    store_status st = store_run_get(c, id, &run);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID ||
        (st == STORE_OK && strcmp(run.kind, "run"))) {
        snprintf(ref->why, sizeof ref->why, "run %s does not exist", id);
        store_run_clear(&run);
        return STORE_OK;
    }
    if (st != STORE_OK) return st;
    store_run_status status = run.status;
    store_run_clear(&run);
    if (status != STORE_RUN_SUCCEEDED) {
        snprintf(ref->why, sizeof ref->why,
                 "run %s is %s; a run can start only from the final state of a succeeded run", id,
                 store_run_status_name(status));
        return STORE_OK;
    }
    store_result_info info;
    st = store_result_info_get(c, id, SRV_V_FINAL, &info);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID) {
        snprintf(ref->why, sizeof ref->why,
                 "run %s has no final state (result " SRV_V_FINAL "): it ran before this server "
                 "kept final states; run it again",
                 id);
        return STORE_OK;
    }
    if (st != STORE_OK) return st;
    if (info.ndim != 2 || !float_size(info.dtype) || info.shape[0] < 1 || info.shape[1] < 1) {
        snprintf(ref->why, sizeof ref->why,
                 "run %s keeps its final state as %s with %d dimensions, not a float matrix "
                 "[trials, N]",
                 id, info.dtype, info.ndim);
        return STORE_OK;
    }
    ref->usable = 1;
    ref->B = info.shape[0];
    ref->N = info.shape[1];
    return STORE_OK;
}

eir_status srv_run_ref_check(store_conn *c, const eir_run_spec *rs, int64_t B, int64_t N,
                             srv_run_ref *ref, store_status *st, eir_error *err)
{
    *st = STORE_OK;
    if (!rs->V0_from_run) return EIR_OK;
    srv_run_ref local;
    if (!ref) {
        ref = &local;
        ref->id[0] = '\0';
    }
    if (!c) {
        *st = STORE_ERROR;
        return eir_error_set(err, EIR_ENOMEM, NULL, "no store connection (out of memory)");
    }
    if (strcmp(ref->id, rs->V0_run_id) != 0 || !ref->id[0]) {
        *st = ref_lookup(c, rs->V0_run_id, ref);
        if (*st != STORE_OK) {
            ref->id[0] = '\0';
            return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading run %s: %s",
                                 rs->V0_run_id, store_errmsg(c));
        }
    }
    if (!ref->usable) return eir_error_set(err, EIR_EINVAL, "/V0/run_id", "%s", ref->why);
    if (ref->N != N)
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                             "run %s has N = %lld cells, this model %lld: a run starts only from "
                             "the final state of a model of the same size",
                             rs->V0_run_id, (long long)ref->N, (long long)N);
    if (rs->V0_trial >= 0 && rs->V0_trial >= ref->B)
        return eir_error_set(err, EIR_EINVAL, "/V0/trial",
                             "run %s has %lld trial%s (0 .. %lld), so no trial %lld", rs->V0_run_id,
                             (long long)ref->B, ref->B == 1 ? "" : "s", (long long)ref->B - 1,
                             (long long)rs->V0_trial);
    if (rs->V0_trial < 0 && ref->B != B)
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                             "run %s has %lld trial%s and this run %lld: without \"trial\" each "
                             "trial starts from the same trial of that run, so the counts must "
                             "be equal (or give \"trial\" to start every trial from one)",
                             rs->V0_run_id, (long long)ref->B, ref->B == 1 ? "" : "s",
                             (long long)B);
    return EIR_OK;
}

int srv_run_refs_check(srv_req *r, store_conn *c, const eir_pipe *p, enum MHD_Result *ret)
{
    const eir_run_spec *rs = p->spec_run;
    if (!rs || !rs->V0_from_run) return 0;
    int64_t N = p->model ? eir_model_n(p->model) : p->shape.n;
    eir_error err;
    eir_error_clear(&err);
    store_status st;
    if (srv_run_ref_check(c, rs, p->run->B, N, NULL, &st, &err) == EIR_OK) return 0;
    *ret = st != STORE_OK ? srv_problem_store(r, st, c, "the run named by V0")
                          : srv_problem_eir(r, &err);
    return -1;
}

eir_status srv_run_ref_read(store_conn *c, const char *run_id, int64_t trial, double **V,
                            int64_t *len, store_status *st, eir_error *err)
{
    *V = NULL;
    *len = 0;
    *st = STORE_OK;
    if (!c) {
        *st = STORE_ERROR;
        return eir_error_set(err, EIR_ENOMEM, NULL, "no store connection (out of memory)");
    }
    srv_run_ref ref;
    *st = ref_lookup(c, run_id, &ref);
    if (*st != STORE_OK)
        return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading run %s: %s", run_id,
                             store_errmsg(c));
    if (!ref.usable) return eir_error_set(err, EIR_EINVAL, "/V0/run_id", "%s", ref.why);
    if (trial >= ref.B)
        return eir_error_set(err, EIR_EINVAL, "/V0/trial",
                             "run %s has %lld trials, so no trial %lld", run_id, (long long)ref.B,
                             (long long)trial);
    store_result_info info;
    *st = store_result_info_get(c, run_id, SRV_V_FINAL, &info);
    if (*st == STORE_NOT_FOUND || *st == STORE_INVALID) { /* deleted since the lookup */
        *st = STORE_OK;
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id", "run %s does not exist", run_id);
    }
    if (*st != STORE_OK)
        return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading run %s: %s", run_id,
                             store_errmsg(c));
    size_t es = float_size(info.dtype);
    int64_t n = trial >= 0 ? ref.N : ref.B * ref.N;
    uint64_t off = trial >= 0 ? (uint64_t)trial * (uint64_t)ref.N * es : 0;
    size_t bytes = (size_t)n * es;
    if (!es || info.ndim != 2 || info.shape[0] != ref.B || info.shape[1] != ref.N ||
        off + bytes > info.total_bytes)
        return eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                             "run %s changed while its final state was read", run_id);
    double *out = malloc((size_t)n * sizeof *out);
    void *raw = es == 8 ? (void *)out : malloc(bytes);
    if (!out || !raw) {
        free(out);
        if (raw != out) free(raw);
        return eir_error_set(err, EIR_ENOMEM, NULL, "out of memory reading the final state of %s",
                             run_id);
    }
    *st = store_result_read(c, run_id, SRV_V_FINAL, off, raw, bytes);
    if (*st != STORE_OK) {
        int gone = *st == STORE_NOT_FOUND;
        if (gone) *st = STORE_OK;
        free(out);
        if (raw != out) free(raw);
        return gone ? eir_error_set(err, EIR_EINVAL, "/V0/run_id",
                                    "run %s was deleted while its final state was read", run_id)
                    : eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading run %s: %s",
                                    run_id, store_errmsg(c));
    }
    if (es == 4) {
        const float *f = raw;
        for (int64_t i = 0; i < n; i++)
            out[i] = (double)f[i];
        free(raw);
    }
    *V = out;
    *len = n;
    return EIR_OK;
}

/** Where a 2-D run result's bytes are read (srv_array_read_fn), on the connection's thread. */
typedef struct stored_2d {
    srv *s;
    char id[STORE_ID_MAX];
    char var[STORE_VAR_MAX];
} stored_2d;

static int read_2d(void *ctx, uint64_t off, void *buf, size_t len)
{
    stored_2d *a = ctx;
    store_conn *c = srv_thread_conn(a->s);
    return c && store_result_read(c, a->id, a->var, off, buf, len) == STORE_OK ? 0 : -1;
}

enum MHD_Result srv_run_result_2d(srv_req *r, store_conn *c, const store_result_info *info,
                                  srv_res_fmt fmt)
{
    static const char *const fmt_names[] = {"npy", "json", "csv"};
    static const char *const slices[] = {"trials", "steps", "neurons"};
    const char *id = r->params[0];
    for (size_t i = 0; i < sizeof slices / sizeof *slices; i++)
        if (srv_query(r, slices[i]))
            return srv_problem_param(r, slices[i],
                                     "result %s is 2-D [trials, N] and is served whole: drop ?%s=",
                                     info->var, slices[i]);
    /* An empty read opens this thread's handle for result reads and checks the result is still
     * there, so that neither fails after the 200 went out. */
    store_status st = store_result_read(c, id, info->var, 0, NULL, 0);
    if (st == STORE_NOT_FOUND)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "run %s has no result '%s'", id,
                           info->var);
    if (st != STORE_OK) return srv_problem_store(r, st, c, "the result");
    char canon[160], hex[65], etag[40], stem[160];
    uint8_t dg[32];
    snprintf(canon, sizeof canon, "%s|%s|2d", info->sha256, fmt_names[fmt]);
    eir_sha256_ctx hc;
    eir_sha256_init(&hc);
    eir_sha256_update(&hc, canon, strlen(canon));
    eir_sha256_final(&hc, dg);
    eir_sha256_hex(dg, hex);
    snprintf(etag, sizeof etag, "\"%.32s\"", hex);
    snprintf(stem, sizeof stem, "%s_%s", id, info->var);
    stored_2d *ctx = malloc(sizeof *ctx);
    if (!ctx) return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
    ctx->s = r->s;
    snprintf(ctx->id, sizeof ctx->id, "%.*s", STORE_ID_MAX - 1, id); /* a stored id: it fits */
    memcpy(ctx->var, info->var, sizeof ctx->var);
    srv_array_source src = {.name = info->var,
                            .dtype = info->dtype,
                            .ndim = 2,
                            .shape = {info->shape[0], info->shape[1]},
                            .read = read_2d,
                            .ctx = ctx,
                            .free_ctx = free};
    return srv_array_send(r, &src, fmt, etag, stem);
}
