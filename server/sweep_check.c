/**
 * @file sweep_check.c
 * @brief POST /v1/sweeps before anything is stored (docs/SWEEPS.md "Validation"): the request
 *        parsed, its cost bounded, every point expanded (the base run and model patched by JSON
 *        pointer), each distinct point model shape-checked once (found by content key), each
 *        point's run checked with eir_pipe_check() against its model's shape; the first bad
 *        point answered with 422 naming it. What passes becomes a plan for store_sweep_create().
 *
 * Cost: O(points x (run document + model document)) with the documents' unchanged subtrees
 * shared between points (eir_json_patch_pointer()), bounded by --max-sweep-check-bytes before the
 * expansion starts. No model is built here: new models are stored pending and a worker builds
 * each once (runs of one model share its id, so the model cache reuses the build).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_random.h"
#include "eir_runner.h"
#include "modcache.h"
#include "model_resolve.h"
#include "results.h"
#include "run_refs.h"
#include "sweeps.h"

/** Longest rendering of one axis value in a problem's detail. */
#define VALUE_TEXT_MAX 48

/** The expansion of one request (one HTTP thread). */
typedef struct sweep_ctx {
    srv *s;
    store_conn *c;
    const eir_sweep_spec *sp;
    srv_sweep_plan *plan;
    json_t *base_model;         /**< the base model document (owned), NULL with a model_id kept */
    const char *kept_model_id;  /**< the runs' model_id when no new model is made, else NULL */
    eir_model_shape kept_shape; /**< its shape (also the base's, with a model_id base) */
    /** With a model_id base and model axes: the base document's content key; a point whose
     *  patched model is the base itself (the axis value it already has) runs on the base
     *  model, built (or cached) already, instead of a new copy of it. "" otherwise. */
    char base_key[SRV_MC_KEY_MAX];
    int base_used;        /**< some point runs on the base model */
    json_t *point_labels; /**< labels of the runs and new models (owned) */
    /* distinct models, by content key: an open-addressing table of model index + 1 */
    int64_t *slots;
    size_t cap; /**< power of two */
    char (*keys)[SRV_MC_KEY_MAX];
    eir_model_shape *shapes;
    const eir_model_shape *cur; /**< the point's model shape (shape callback) */
    srv_run_ref ref;            /**< the run a point's "V0" named last (looked up once) */
    store_status ref_store;     /**< how the store failed looking it up (STORE_OK: it did not) */
    eir_pipe_config cfg;
} sweep_ctx;

/* ------------------------------------------------------------------------------------------ */
/* Problems                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** Replace every byte of @p s that is not part of well-formed UTF-8 by '?' (cut texts). */
static void utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        int ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

/** Compact JSON of axis value @p v, cut to VALUE_TEXT_MAX bytes ("..." added). */
static void value_text(const json_t *v, char *buf, size_t cap)
{
    if (json_is_real(v) && cap >= 32) { /* the fewest digits that read back: -0.1, not ...01 */
        srv_format_number(buf, json_real_value(v), 0, "null");
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    snprintf(buf, cap, "%s", t ? t : "?");
    if (t && strlen(t) > VALUE_TEXT_MAX && cap > VALUE_TEXT_MAX + 4) {
        size_t k = VALUE_TEXT_MAX;
        while (k > 0 && ((unsigned char)buf[k] & 0xc0) == 0x80)
            k--; /* not inside a character */
        memcpy(buf + k, "...", 4);
    }
    free(t);
}

/**
 * Queue the 422 of point @p i: "field" @p field (inside the point document), "point": i,
 * "axes": {path: value}, and a detail naming the point, its values and @p why.
 */
static enum MHD_Result reply_point(srv_req *r, const eir_sweep_spec *sp, int64_t i,
                                   const char *field, const char *why)
{
    int64_t idx[EIR_SWEEP_MAX_AXES];
    eir_sweep_point_index(sp, i, idx);
    char detail[1536];
    size_t n = (size_t)snprintf(detail, sizeof detail, "point %lld (", (long long)i);
    json_t *axes = json_object();
    for (int a = 0; a < sp->n_axes; a++) {
        const json_t *v = json_array_get(sp->values[a], (size_t)idx[a]);
        char vt[VALUE_TEXT_MAX + 8];
        value_text(v, vt, sizeof vt);
        if (n < sizeof detail)
            n += (size_t)snprintf(detail + n, sizeof detail - n, "%s%s = %s", a ? ", " : "",
                                  sp->paths[a], vt);
        if (axes) json_object_set(axes, sp->paths[a], (json_t *)v);
    }
    if (n < sizeof detail) snprintf(detail + n, sizeof detail - n, "): %s", why);
    utf8_fix(detail);
    char fieldbuf[EIR_FIELD_MAX];
    snprintf(fieldbuf, sizeof fieldbuf, "%s", field);
    utf8_fix(fieldbuf);
    int oom = srv_json_oom();
    srv_json_oom_set(0);
    json_t *o = axes ? srv_problem_json(SRV_P_INVALID, 422, r->path, fieldbuf, detail) : NULL;
    if (o) {
        json_object_set_new(o, "point", json_integer((json_int_t)i));
        json_object_set(o, "axes", axes);
    }
    char *text = o && !srv_json_oom() ? srv_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    json_decref(axes);
    srv_json_oom_set(oom || !text);
    if (!text)
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "out of memory answering that point %lld of the sweep is invalid",
                           (long long)i);
    return srv_reply(r, 422, srv_response_take(r, text, strlen(text), "application/problem+json"));
}

/** The field of a point run's error @p f as the sweep request names it: "/metrics/..." when the
 *  sweep's "metrics" put it there, else "/run" + @p f. */
static void run_field(const eir_sweep_spec *sp, const char *f, char *out, size_t cap)
{
    if (sp->metrics && (strcmp(f, "/metrics") == 0 || strncmp(f, "/metrics/", 9) == 0))
        snprintf(out, cap, "%s", f);
    else { /* "/run" + f, cut to fit (a cut field still names the member's path) */
        size_t n = strlen(f);
        if (n > cap - 5) n = cap - 5;
        memcpy(out, "/run", 4);
        memcpy(out + 4, f, n);
        out[4 + n] = '\0';
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Distinct models                                                                            */
/* ------------------------------------------------------------------------------------------ */

static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return h;
}

/** The slot of @p key: its model's index + 1, or 0 where it would go. */
static int64_t *find_slot(sweep_ctx *x, const char *key)
{
    size_t i = (size_t)key_hash(key) & (x->cap - 1);
    while (x->slots[i] && strcmp(x->keys[x->slots[i] - 1], key) != 0)
        i = (i + 1) & (x->cap - 1);
    return &x->slots[i];
}

/**
 * Add model document @p doc (shape @p shape) as a new model of the plan under @p key.
 * @return its index, or -1 when out of memory.
 */
static int64_t add_model(sweep_ctx *x, const json_t *doc, const char *key,
                         const eir_model_shape *shape)
{
    srv_sweep_plan *pl = x->plan;
    int64_t k = pl->n_models;
    char *text = srv_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text || eir_random_id(pl->model_ids[k], STORE_ID_MAX, "m_", 12) != 0) {
        free(text);
        return -1;
    }
    pl->model_texts[k] = text;
    snprintf(x->keys[k], SRV_MC_KEY_MAX, "%s", key);
    x->shapes[k] = *shape;
    snprintf(pl->model_names[k], sizeof pl->model_names[k], "%s", shape->name);
    pl->models[k] = (store_sweep_model){pl->model_ids[k], pl->model_names[k], shape->n, text,
                                        pl->point_labels_json};
    pl->n_models = k + 1;
    return k;
}

/* eir_pipe_shape_fn: every point run names its model by id; its shape is the point's. */
static eir_status point_shape(void *ctx, const char *model_id, eir_model_shape *out, eir_error *err)
{
    (void)model_id;
    (void)err;
    sweep_ctx *x = ctx;
    *out = *x->cur;
    return EIR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* One point                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** How a point failed: EIR_EINVAL with a field in the point (422 for the point), another
 *  status (503/500), or OK. */
typedef struct point_fail {
    eir_error err;
    char field[EIR_FIELD_MAX];
    int internal; /**< a failure of the daemon (a seed could not be drawn): 500 */
} point_fail;

/** The point document of point @p i: {"model": ..., "run": ...} patched by every axis. NULL
 *  with @p f filled on failure. */
static json_t *patch_point(sweep_ctx *x, int64_t i, point_fail *f)
{
    const eir_sweep_spec *sp = x->sp;
    int64_t idx[EIR_SWEEP_MAX_AXES];
    eir_sweep_point_index(sp, i, idx);
    json_t *doc = x->base_model ? json_pack("{s:O, s:O}", "model", x->base_model, "run", sp->run)
                                : json_pack("{s:O}", "run", sp->run);
    if (!doc) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        return NULL;
    }
    for (int a = 0; a < sp->n_axes; a++) {
        json_t *v = json_array_get(sp->values[a], (size_t)idx[a]);
        json_t *next = eir_json_patch_pointer(doc, sp->paths[a], v, &f->err);
        json_decref(doc);
        if (!next) {
            snprintf(f->field, sizeof f->field, "%s",
                     f->err.field[0] ? f->err.field : sp->paths[a]);
            return NULL;
        }
        doc = next;
    }
    return doc;
}

/** The model of point document @p doc: its index in the plan (a new one shape-checked here), or
 *  -1 for the kept model_id; -2 with @p f filled on failure. */
static int64_t point_model(sweep_ctx *x, const json_t *doc, point_fail *f)
{
    if (x->kept_model_id) {
        x->cur = &x->kept_shape;
        return -1;
    }
    if (x->sp->model_axes == 0) { /* one model: index 0, checked before the points */
        x->cur = &x->shapes[0];
        return 0;
    }
    const json_t *m = json_object_get(doc, "model");
    char key[SRV_MC_KEY_MAX];
    if (srv_inline_model_key(m, key) != 0) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory keying a point's model");
        return -2;
    }
    if (x->base_key[0] && strcmp(key, x->base_key) == 0) {
        x->cur = &x->kept_shape;
        x->base_used = 1;
        return -1;
    }
    int64_t *slot = find_slot(x, key);
    if (*slot) {
        x->cur = &x->shapes[*slot - 1];
        return *slot - 1;
    }
    eir_model_shape shape;
    if (eir_json_model_shape(m, &x->s->limits, "/model", &shape, &f->err) != EIR_OK) {
        snprintf(f->field, sizeof f->field, "%s", f->err.field[0] ? f->err.field : "/model");
        return -2;
    }
    int64_t k = add_model(x, m, key, &shape);
    if (k < 0) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory storing a point's model");
        return -2;
    }
    *slot = k + 1;
    x->cur = &x->shapes[k];
    return k;
}

/** Whether run @p p fits --max-run-memory-bytes (run_budget.c's estimate for a model not
 *  built); else @p f says so. */
static int point_fits(sweep_ctx *x, const eir_pipe *p, point_fail *f)
{
    const uint64_t budget = x->s->cfg.max_run_memory;
    eir_model_dims dims = {p->shape.n, p->shape.n_e, p->shape.n_in, p->shape.n_out, p->shape.cls};
    const size_t est = eir_run_memory_bound(&dims, p->run);
    if (budget == 0 || est <= budget) return 1;
    const double mib = 1024.0 * 1024.0;
    eir_error_set(&f->err, EIR_EINVAL, NULL,
                  "the run would need about %.0f MiB (N = %d, B = %d), over the daemon's limit "
                  "of %.0f MiB per run (--max-run-memory-bytes); use fewer trials or record "
                  "fewer values",
                  (double)est / mib, p->shape.n, p->run->B, (double)budget / mib);
    snprintf(f->field, sizeof f->field, "%s", p->run->B > 1 ? "/run/inputs" : "/run/record");
    return 0;
}

/**
 * The labels of point @p i's run: its own (the base run's "labels", as an axis may have patched
 * them: {"path": "/run/labels/A", ...} labels each point with its value), then the sweep's and
 * "sweep": id over them. A run without labels of its own shares the plan's text; else its text
 * goes to run_label_texts[i]. Set as the run document's "labels". @return 0, or -1 with @p f
 * filled (422 naming the point's labels when the merge passes 64 labels, or out of memory).
 */
static int point_run_labels(sweep_ctx *x, json_t *run, int64_t i, point_fail *f)
{
    srv_sweep_plan *pl = x->plan;
    const json_t *own = json_object_get(run, "labels");
    if (!json_is_object(own) || json_object_size(own) == 0) {
        if (json_object_set(run, "labels", x->point_labels) == 0) return 0;
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        return -1;
    }
    json_t *merged = json_copy((json_t *)own);
    if (!merged || json_object_update(merged, x->point_labels) ||
        json_object_set(run, "labels", merged)) {
        json_decref(merged);
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        return -1;
    }
    if (eir_json_check_labels(merged, "/labels", &f->err) != EIR_OK) {
        json_decref(merged);
        run_field(x->sp, "/labels", f->field, sizeof f->field);
        return -1;
    }
    pl->run_label_texts[i] = srv_json_dumps(merged, JSON_COMPACT);
    json_decref(merged);
    if (pl->run_label_texts[i]) return 0;
    eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
    return -1;
}

/**
 * Expand and check point @p i into the plan's run @p i. @return 0, or -1 with @p f filled.
 */
static int check_point(sweep_ctx *x, int64_t i, point_fail *f)
{
    srv_sweep_plan *pl = x->plan;
    json_t *doc = patch_point(x, i, f);
    if (!doc) return -1;
    int rc = -1;
    eir_pipe *p = NULL;
    json_t *run = NULL;
    int64_t k = point_model(x, doc, f);
    if (k == -2) goto out;
    const char *model_id = k >= 0 ? pl->model_ids[k] : x->sp->model_id; /* -1: the base */
    run = json_copy(json_object_get(doc, "run")); /* shallow: its members are shared */
    if (!run || json_object_set_new(run, "model_id", json_string(model_id)) ||
        (x->sp->metrics && json_object_set(run, "metrics", (json_t *)x->sp->metrics))) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        goto out;
    }
    if (point_run_labels(x, run, i, f)) goto out;
    eir_pipe_stage at;
    if (eir_pipe_check(run, &x->cfg, &p, &at, &f->err) != EIR_OK) {
        f->internal = at == EIR_PIPE_SEED;
        run_field(x->sp, f->err.field, f->field, sizeof f->field);
        goto out;
    }
    if (!point_fits(x, p, f)) goto out;
    eir_status rs = srv_run_ref_check(x->c, p->spec_run, p->run->B, p->shape.n, &x->ref,
                                      &x->ref_store, &f->err);
    if (rs != EIR_OK) {
        run_field(x->sp, f->err.field, f->field, sizeof f->field);
        goto out;
    }
    /* A noisy run without a seed keeps the one picked now: a retry after a crash gives the
     * same bytes, and the metadata names it (as POST /v1/runs). */
    if (p->seed_picked &&
        json_object_set_new(run, "seed", json_integer((json_int_t)p->spec_run->desc.seed))) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        goto out;
    }
    char *text = srv_json_dumps(run, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text) {
        eir_error_set(&f->err, EIR_ENOMEM, NULL, "out of memory expanding the sweep");
        goto out;
    }
    pl->run_texts[i] = text;
    double tl = x->s->cfg.run_time_limit;
    if (p->spec_run->time_limit > 0 && (tl <= 0 || p->spec_run->time_limit < tl))
        tl = p->spec_run->time_limit;
    pl->runs[i] = (store_run_new){.kind = "run",
                                  .model_id = model_id,
                                  .request_json = text,
                                  .max_attempts = x->s->cfg.max_attempts,
                                  .time_limit = tl,
                                  .progress_total = p->run->T,
                                  .labels_json = pl->run_label_texts[i] ? pl->run_label_texts[i]
                                                                        : pl->point_labels_json};
    pl->n_runs = i + 1;
    rc = 0;
out:
    if (rc != 0) { /* a failed point is not counted in n_runs: free what it made here */
        free(pl->run_label_texts[i]);
        pl->run_label_texts[i] = NULL;
    }
    eir_pipe_free(p);
    json_decref(run);
    json_decref(doc);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The sweep                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Allocate the plan's arrays for @p points points and the distinct-model table. */
static int alloc_plan(sweep_ctx *x, int64_t points)
{
    srv_sweep_plan *pl = x->plan;
    size_t n = (size_t)points;
    size_t nm = x->sp->model_axes > 0 ? n : 1;
    pl->runs = calloc(n, sizeof *pl->runs);
    pl->run_texts = calloc(n, sizeof *pl->run_texts);
    pl->run_label_texts = calloc(n, sizeof *pl->run_label_texts);
    pl->models = calloc(nm, sizeof *pl->models);
    pl->model_ids = calloc(nm, sizeof *pl->model_ids);
    pl->model_texts = calloc(nm, sizeof *pl->model_texts);
    pl->model_names = calloc(nm, sizeof *pl->model_names);
    x->keys = calloc(nm, sizeof *x->keys);
    x->shapes = calloc(nm, sizeof *x->shapes);
    x->cap = 16;
    while (x->cap < 2 * nm)
        x->cap *= 2;
    x->slots = calloc(x->cap, sizeof *x->slots);
    return pl->runs && pl->run_texts && pl->run_label_texts && pl->models && pl->model_ids &&
                   pl->model_texts && pl->model_names && x->keys && x->shapes && x->slots
               ? 0
               : -1;
}

/** The labels of the sweep (@p labels, may be NULL) and of its runs (+ "sweep": id). */
static int make_labels(sweep_ctx *x, const json_t *labels)
{
    srv_sweep_plan *pl = x->plan;
    json_t *own = json_is_object(labels) ? json_copy((json_t *)labels) : json_object();
    x->point_labels = own ? json_copy(own) : NULL;
    if (!own || !x->point_labels ||
        json_object_set_new(x->point_labels, "sweep", json_string(pl->id))) {
        json_decref(own);
        return -1;
    }
    pl->labels_json = srv_json_dumps(own, JSON_COMPACT);
    pl->point_labels_json = srv_json_dumps(x->point_labels, JSON_COMPACT);
    json_decref(own);
    return pl->labels_json && pl->point_labels_json ? 0 : -1;
}

/**
 * The base model: a stored one read (it must exist and not have failed) and, with model axes,
 * its document kept for patching; an inline one shape-checked (without model axes it is the
 * sweep's one new model). @return 0, or -1 with the answer queued into *@p ret.
 */
static int base_model(srv_req *r, sweep_ctx *x, enum MHD_Result *ret)
{
    const eir_sweep_spec *sp = x->sp;
    eir_error err;
    eir_error_clear(&err);
    if (sp->model_id) {
        srv_resolver res;
        eir_pipe_config cfg;
        srv_pipe_config(x->s, x->c, &res, &cfg);
        /* The daemon's shape lookup: cache or stored document, a failed model refused. */
        if (cfg.shape(cfg.resolve_ctx, sp->model_id, &x->kept_shape, &err) != EIR_OK) {
            if (res.status == SRV_MC_STORE)
                *ret = srv_problem_store(r, res.store, x->c, "the model");
            else
                *ret = srv_problem_eir(r, &err);
            return -1;
        }
        if (sp->model_axes == 0) {
            x->kept_model_id = sp->model_id;
            return 0;
        }
        store_model sm;
        memset(&sm, 0, sizeof sm);
        store_status st = store_model_get(x->c, sp->model_id, &sm);
        if (st != STORE_OK) {
            *ret = srv_problem_store(r, st, x->c, "the model");
            return -1;
        }
        json_error_t je;
        x->base_model = json_loads(sm.json, JSON_REJECT_DUPLICATES, &je);
        store_model_clear(&sm);
        if (!x->base_model || srv_json_oom() || srv_inline_model_key(x->base_model, x->base_key)) {
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory reading model %s",
                               sp->model_id);
            return -1;
        }
        return 0;
    }
    x->base_model = json_incref((json_t *)sp->model);
    if (sp->model_axes > 0) return 0; /* each distinct patched model is checked as a point's */
    eir_model_shape shape;
    char key[SRV_MC_KEY_MAX];
    if (eir_json_model_shape(sp->model, &x->s->limits, "/model", &shape, &err) != EIR_OK) {
        *ret = srv_problem_eir(r, &err);
        return -1;
    }
    if (srv_inline_model_key(sp->model, key) != 0 || add_model(x, sp->model, key, &shape) < 0) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory storing the model");
        return -1;
    }
    return 0;
}

/** The bytes the expansion of every point costs at most: points x (run + model documents). */
static int over_work_bound(srv_req *r, sweep_ctx *x, enum MHD_Result *ret)
{
    const eir_sweep_spec *sp = x->sp;
    char *run = srv_json_dumps(sp->run, JSON_COMPACT);
    char *model = x->base_model ? srv_json_dumps(x->base_model, JSON_COMPACT) : NULL;
    double bytes = (double)(run ? strlen(run) : 0) + (double)(model ? strlen(model) : 0);
    free(run);
    free(model);
    double work = bytes * (double)sp->points;
    double max = (double)x->s->cfg.max_sweep_check_bytes;
    if (work <= max) return 0;
    *ret = srv_problem(r, SRV_P_INVALID, 422, "/run",
                       "checking this sweep would process %lld points x %.0f bytes of run and "
                       "model documents = %.0f MiB, over the daemon's limit of %.0f MiB "
                       "(--max-sweep-check-bytes); describe the inputs (\"inputs\": "
                       "{\"steps\", \"trials\", \"segments\"}) instead of sending arrays, or "
                       "split the sweep",
                       (long long)sp->points, bytes, work / 1048576.0, max / 1048576.0);
    return 1;
}

/** The request as stored: @p body with "models": the ids of the models its runs use. */
static int make_stored(sweep_ctx *x, const json_t *body)
{
    srv_sweep_plan *pl = x->plan;
    json_t *ids = json_array();
    pl->stored = json_copy((json_t *)body);
    if (!ids || !pl->stored) {
        json_decref(ids);
        return -1;
    }
    if (x->kept_model_id || x->base_used) json_array_append_new(ids, json_string(x->sp->model_id));
    for (int64_t k = 0; k < pl->n_models; k++)
        json_array_append_new(ids, json_string(pl->model_ids[k]));
    json_object_set_new(pl->stored, "models", ids);
    pl->stored_json = srv_json_dumps(pl->stored, JSON_COMPACT | JSON_REAL_PRECISION(17));
    return pl->stored_json && !srv_json_oom() ? 0 : -1;
}

/** Expand every point; @return 0, or -1 with the answer queued. */
static int check_points(srv_req *r, sweep_ctx *x, enum MHD_Result *ret)
{
    point_fail f;
    for (int64_t i = 0; i < x->sp->points; i++) {
        memset(&f, 0, sizeof f);
        eir_error_clear(&f.err);
        if (check_point(x, i, &f) == 0) continue;
        if (x->ref_store != STORE_OK) {
            *ret = srv_problem_store(r, x->ref_store, x->c, "the run named by \"V0\"");
        } else if (f.internal) {
            *ret = srv_problem(r, SRV_P_INTERNAL, 500, NULL, "%s", f.err.message);
        } else if (f.err.status == EIR_EINVAL) {
            *ret = reply_point(r, x->sp, i, f.field, f.err.message);
        } else {
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "%s", f.err.message);
        }
        return -1;
    }
    return 0;
}

int srv_sweep_check(srv_req *r, store_conn *c, const json_t *body, srv_sweep_plan *plan,
                    enum MHD_Result *ret)
{
    srv *s = r->s;
    memset(plan, 0, sizeof *plan);
    eir_sweep_spec sp;
    eir_error err;
    eir_error_clear(&err);
    if (eir_json_parse_sweep(body, s->cfg.max_sweep_points, &sp, &err) != EIR_OK ||
        eir_json_check_labels(sp.labels, "/labels", &err) != EIR_OK) {
        *ret = srv_problem_eir(r, &err);
        return -1;
    }
    if (!c) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "no store connection (out of memory)");
        return -1;
    }
    sweep_ctx x;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.c = c;
    x.sp = &sp;
    x.plan = plan;
    x.cfg.limits = &s->limits;
    x.cfg.shape = point_shape;
    x.cfg.resolve_ctx = &x;
    x.cfg.threads = s->cfg.threads_per_run;
    x.ref_store = STORE_OK;
    int rc = -1;
    if (eir_random_id(plan->id, sizeof plan->id, "s_", 12) != 0 || make_labels(&x, sp.labels) ||
        alloc_plan(&x, sp.points)) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory expanding the sweep");
        goto out;
    }
    if (base_model(r, &x, ret) || over_work_bound(r, &x, ret) || check_points(r, &x, ret)) goto out;
    if (make_stored(&x, body)) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory storing the sweep");
        goto out;
    }
    rc = 0;
out:
    json_decref(x.base_model);
    json_decref(x.point_labels);
    free(x.slots);
    free(x.keys);
    free(x.shapes);
    if (rc) srv_sweep_plan_free(plan);
    return rc;
}

void srv_sweep_plan_free(srv_sweep_plan *plan)
{
    if (!plan) return;
    for (int64_t i = 0; plan->run_texts && i < plan->n_runs; i++)
        free(plan->run_texts[i]);
    for (int64_t i = 0; plan->run_label_texts && i < plan->n_runs; i++)
        free(plan->run_label_texts[i]);
    free(plan->run_label_texts);
    for (int64_t k = 0; plan->model_texts && k < plan->n_models; k++)
        free(plan->model_texts[k]);
    free(plan->run_texts);
    free(plan->runs);
    free(plan->model_texts);
    free(plan->model_ids);
    free(plan->model_names);
    free(plan->models);
    free(plan->labels_json);
    free(plan->point_labels_json);
    free(plan->stored_json);
    json_decref(plan->stored);
    memset(plan, 0, sizeof *plan);
}
