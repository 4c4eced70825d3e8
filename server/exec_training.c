/**
 * @file exec_training.c
 * @brief Execute one claimed training (trainings.h srv_exec_training()): its stored request
 *        parsed again as accepted, its initial model parsed (a recipe generated, under a build
 *        guard), the trainable network and Adam made, the checkpoint loaded if there is one,
 *        then eir_task_train() from its iteration with curve rows and checkpoints stored as it
 *        goes; at the end the test evaluation and the trained model, created in the finish's
 *        transaction (store_finish_model()).
 *
 * What is stored while it trains (store_training_checkpoint_put(), fenced by the claim's
 * attempt): every iteration's curve row, flushed at least every FLUSH_PERIOD seconds and with
 * each checkpoint (every checkpoint_every iterations and after the last). The job's progress
 * is the number of iterations whose rows are stored, so the latest row is at the progress.
 * A training resumed from the checkpoint of iteration k draws the same trials and noise from
 * k + 1 on (eir_task_train()), so it rewrites the rows after k with the same values and ends
 * with the same theta, bytes for bytes, as one that never stopped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_guard.h"
#include "exec_job.h"
#include "trainings.h"

/** Seconds between flushes of the curve rows (each is one short transaction, followed by the
 *  progress write that also reads a cancel). */
#define FLUSH_PERIOD 0.5
/** Seconds the store may refuse the rows before the training is given back to the queue. */
#define STORE_PATIENCE 60.0
/** The test trials' random key: stream 3 of iteration 0 (the same trials whatever the
 *  training's length; docs/API.md "Trainings"). */
#define TEST_ITERATION 0

/** The state of one training on its worker. */
typedef struct trainer {
    srv *s;
    store_conn *c;
    const store_run *job;
    srv_exec_ctx x; /**< progress, cancel, time limit, release, lease loss */
    eir_training_req *req;
    eir_net *net;
    eir_adam *adam;
    void *state; /**< eir_train_state_size() bytes for the checkpoints */
    size_t state_len;
    store_curve_row *rows; /**< rows not stored yet */
    size_t nrows, cap;
    int64_t stored;       /**< iterations whose rows are stored */
    int64_t reported;     /**< the progress last handed to srv_exec_progress() */
    double last_flush;    /**< srv_now() of the last flush tried */
    double failing_since; /**< srv_now() of the first failed flush in a row, 0 = none */
    store_curve_row last; /**< the latest row (iteration 0 = none yet) */
    int lost;             /**< a fenced write answered STORE_CONFLICT */
    int store_stuck;      /**< the store refused the rows for STORE_PATIENCE seconds */
    eir_status failed;    /**< EIR_OK, or why the callback stopped the training itself */
    eir_error cb_err;     /**< ... and what it said (eir_task_train() fills err its own way) */
    eir_error *err;
} trainer;

static void to_store_row(const eir_curve_row *in, store_curve_row *out)
{
    *out = (store_curve_row){in->iteration, in->loss,      in->task_loss, in->l2_weights,
                             in->l2_rates,  in->grad_norm, in->accuracy,  in->eval_accuracy};
}

/**
 * Store the rows not stored yet and, with @p checkpoint, the checkpoint after @p iteration, in
 * one fenced transaction. A refusal other than the lease's loss keeps the rows for the next
 * try (the checkpoint is taken again at the next one).
 */
static void flush(trainer *tr, int checkpoint, int64_t iteration)
{
    double now = srv_now();
    tr->last_flush = now;
    if (checkpoint) eir_train_state_save(tr->net, tr->adam, iteration, tr->state);
    store_status st = store_training_checkpoint_put(
        tr->c, tr->job->id, tr->job->attempts, iteration, checkpoint ? tr->state : NULL,
        tr->state_len, tr->nrows ? tr->rows : NULL, tr->nrows);
    if (st == STORE_OK) {
        if (tr->nrows) tr->stored = tr->rows[tr->nrows - 1].iteration;
        tr->nrows = 0;
        tr->failing_since = 0;
        if (checkpoint) atomic_fetch_add(&tr->s->metrics.training_checkpoints, 1);
        return;
    }
    if (st == STORE_CONFLICT) {
        tr->lost = 1;
        return;
    }
    if (tr->failing_since == 0) {
        tr->failing_since = now;
        srv_log("training_store_failed",
                json_pack("{s:s, s:I, s:s, s:s}", "run_id", tr->job->id, "iteration",
                          (json_int_t)iteration, "store", store_status_name(st), "message",
                          store_errmsg(tr->c)));
    } else if (now - tr->failing_since > STORE_PATIENCE) {
        tr->store_stuck = 1;
    }
}

/** Keep @p row for the next flush. EIR_ENOMEM when it cannot be kept. */
static eir_status keep_row(trainer *tr, const store_curve_row *row)
{
    if (tr->nrows == tr->cap) {
        size_t cap = tr->cap ? 2 * tr->cap : 1024;
        store_curve_row *p = realloc(tr->rows, cap * sizeof *p);
        if (!p)
            return eir_error_set(&tr->cb_err, EIR_ENOMEM, NULL, "out of memory keeping the curve");
        tr->rows = p;
        tr->cap = cap;
    }
    tr->rows[tr->nrows++] = *row;
    tr->last = *row;
    return EIR_OK;
}

/** eir_task_train()'s callback: the evaluation of evaluate.every iterations, the row, the
 *  flush and checkpoint when due, then progress, cancel, time and release (exec_job.h). */
static int on_row(void *ctx, const eir_train_row *row, const eir_net *n, const eir_adam *a)
{
    (void)n; /* the trainer's own pointer is the same network, writable for the evaluation */
    (void)a;
    trainer *tr = ctx;
    const eir_training_req *q = tr->req;
    atomic_fetch_add(&tr->s->metrics.training_iterations, 1);
    eir_curve_row cr;
    eir_curve_row_from_train(row, &cr);
    if (q->eval_trials > 0 && q->eval_every > 0 && row->iteration % q->eval_every == 0) {
        eir_task_eval ev;
        uint64_t key = eir_train_stream(q->train.seed, row->iteration, 2);
        tr->failed =
            eir_task_evaluate(tr->net, &q->task, &q->train, key, q->eval_trials, &ev, &tr->cb_err);
        if (tr->failed != EIR_OK) return 1;
        cr.eval_accuracy = ev.score.accuracy;
    }
    store_curve_row sr;
    to_store_row(&cr, &sr);
    if ((tr->failed = keep_row(tr, &sr)) != EIR_OK) return 1;
    int checkpoint = row->iteration % q->checkpoint_every == 0 || row->iteration == q->iterations;
    if (checkpoint || srv_now() - tr->last_flush >= FLUSH_PERIOD)
        flush(tr, checkpoint, row->iteration);
    if (tr->lost || tr->store_stuck) return 1;
    /* Progress is written (which also reads a cancel) when the stored rows moved on, at once,
     * and not in between: a write of an unchanged value would answer the long polls waiting
     * for a change (?progress=D) with nothing new. The release and the time limit are looked
     * at every iteration either way. */
    tr->x.last = tr->stored != tr->reported ? 0 : srv_now();
    tr->reported = tr->stored;
    return srv_exec_progress(&tr->x, tr->stored, q->iterations);
}

/* ------------------------------------------------------------------------------------------ */
/* The initial model                                                                          */
/* ------------------------------------------------------------------------------------------ */

/** How preparing the training ended when it did not succeed. */
typedef enum prep_end {
    PREP_OK = 0,
    PREP_FAILED,    /**< the job fails with the error */
    PREP_CANCELLED, /**< a cancel came while the model was generated */
    PREP_RELEASE,   /**< the daemon stops, or the store could not be read: back to the queue */
} prep_end;

/**
 * The initial model's document into *@p doc (a new reference): the request's inline model or
 * the stored one. PREP_RELEASE with @p reason for a store failure.
 */
static prep_end initial_doc(trainer *tr, json_t **doc, char *reason, size_t cap)
{
    *doc = NULL;
    if (!tr->req->model_id[0]) {
        *doc = json_incref(tr->req->model);
        return PREP_OK;
    }
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status st = store_model_get(tr->c, tr->req->model_id, &sm);
    if (st == STORE_NOT_FOUND || st == STORE_INVALID) {
        eir_error_set(tr->err, EIR_EINVAL, "/model", "model %s does not exist (any more)",
                      tr->req->model_id);
        return PREP_FAILED;
    }
    if (st != STORE_OK) {
        snprintf(reason, cap, "store error reading model %s: %s", tr->req->model_id,
                 store_errmsg(tr->c));
        return PREP_RELEASE;
    }
    json_error_t je;
    *doc = sm.json ? json_loads(sm.json, JSON_REJECT_DUPLICATES, &je) : NULL;
    store_model_clear(&sm);
    if (!*doc) {
        eir_error_set(tr->err, EIR_EINVAL, "/model", "the stored model %s is not readable JSON",
                      tr->req->model_id);
        return PREP_FAILED;
    }
    return PREP_OK;
}

/**
 * Parse model document @p doc (generating a recipe's matrices) under a build guard: the
 * shutdown, the time limit and a cancel stop it. *@p spec on PREP_OK.
 */
static prep_end parse_model(trainer *tr, const json_t *doc, eir_model_spec **spec)
{
    srv *s = tr->s;
    srv_exec_cancel_ctx bc = {.store = s->store, .job_id = tr->job->id};
    srv_build_guard guard;
    srv_build_guard_begin(&guard, &s->stopping, tr->job->time_limit, srv_exec_cancelled, &bc);
    eir_json_limits lim = s->limits;
    lim.stop = guard.stop;
    eir_status es = eir_json_parse_model(doc, &lim, "/model", spec, tr->err);
    srv_guard_why why = srv_build_guard_end(&guard);
    store_disconnect(bc.c);
    if (es == EIR_OK) return PREP_OK;
    if (es == EIR_ECANCELLED && why == SRV_GUARD_CANCEL) return PREP_CANCELLED;
    if (es == EIR_ECANCELLED && why == SRV_GUARD_SHUTDOWN) return PREP_RELEASE;
    if (es == EIR_ECANCELLED && why == SRV_GUARD_TIME)
        eir_error_set(tr->err, EIR_EINVAL, "/time_limit",
                      "the training exceeded its wall-clock limit of %g s while its initial "
                      "model was generated",
                      tr->job->time_limit);
    if (tr->req->model_id[0] && es == EIR_EINVAL) { /* a stored model: not the request's field */
        char why_text[sizeof tr->err->message + sizeof tr->err->field + 64];
        snprintf(why_text, sizeof why_text, "model %s: %s (%s)", tr->req->model_id,
                 tr->err->message, tr->err->field);
        eir_error_set(tr->err, EIR_EINVAL, "/model", "%s", why_text);
    }
    return PREP_FAILED;
}

/**
 * The network, Adam and the checkpoint buffer of the training, from the initial model
 * @p spec; the checkpoint loaded if there is one (*@p from its iteration, else 0). A checkpoint
 * that is not this network's (another build's layout) is logged and the training starts over.
 */
static prep_end make_net(trainer *tr, const eir_model_spec *spec, int64_t *from, char *reason,
                         size_t cap)
{
    eir_training_req *q = tr->req;
    *from = 0;
    if (eir_training_check_model(q, &spec->desc, &tr->s->limits, tr->err) != EIR_OK ||
        eir_net_new(&spec->desc, &q->train, &tr->net, tr->err) != EIR_OK ||
        eir_adam_new(tr->net, &q->train, &tr->adam, tr->err) != EIR_OK)
        return PREP_FAILED;
    tr->state_len = eir_train_state_size(tr->net);
    tr->state = malloc(tr->state_len);
    if (!tr->state) {
        eir_error_set(tr->err, EIR_ENOMEM, NULL, "out of memory for the checkpoint (%zu bytes)",
                      tr->state_len);
        return PREP_FAILED;
    }
    void *buf = NULL;
    size_t n = 0;
    int64_t it = 0;
    store_status st = store_training_checkpoint_get(tr->c, tr->job->id, &it, &buf, &n);
    if (st == STORE_NOT_FOUND) return PREP_OK;
    if (st != STORE_OK) {
        snprintf(reason, cap, "store error reading the checkpoint: %s", store_errmsg(tr->c));
        return PREP_RELEASE;
    }
    eir_error e;
    eir_error_clear(&e);
    if (eir_train_state_load(tr->net, tr->adam, buf, n, from, &e) != EIR_OK) {
        *from = 0;
        srv_log("training_checkpoint_ignored",
                json_pack("{s:s, s:I, s:s}", "run_id", tr->job->id, "iteration", (json_int_t)it,
                          "message", e.message));
    }
    free(buf);
    return PREP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The end                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** What the finish's hook stores: the trained model and the metadata naming it. */
typedef struct trained {
    const char *name, *json, *labels, *training_id;
    char hash[STORE_HASH_MAX];
    int64_t n;
    json_t *meta; /**< the metadata without "model_id" */
    char *meta_text;
} trained;

/** srv_exec_hook: create the model in the finish, then the metadata with its id. */
static store_status finish_model(void *ctx, store_conn *c, const char **meta)
{
    trained *t = ctx;
    store_model sm;
    store_status st =
        store_finish_model(c, t->name, t->hash, t->n, t->json, t->labels, t->training_id, &sm);
    if (st != STORE_OK) return st;
    json_object_set_new(t->meta, "model_id", json_string(sm.id));
    store_model_clear(&sm);
    free(t->meta_text);
    t->meta_text = srv_json_dumps(t->meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!t->meta_text) return STORE_ERROR;
    *meta = t->meta_text;
    return STORE_OK;
}

/** srv_json number or null. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int copy_row(void *ctx, const store_curve_row *row)
{
    *(store_curve_row *)ctx = *row;
    return 1;
}

/**
 * After the last iteration: the test evaluation, the trained model's document and hash, and
 * the metadata. On EIR_OK @p t is ready for the finish hook; else @p tr->err says why.
 */
static eir_status conclude(trainer *tr, const json_t *initial, int64_t from, double t0, trained *t,
                           char **json_text)
{
    eir_training_req *q = tr->req;
    json_t *eval = json_null();
    if (q->test_trials > 0) {
        eir_task_eval ev;
        uint64_t key = eir_train_stream(q->train.seed, TEST_ITERATION, 3);
        eir_status es =
            eir_task_evaluate(tr->net, &q->test_task, &q->train, key, q->test_trials, &ev, tr->err);
        if (es != EIR_OK) return es;
        eval = eir_json_task_eval(&ev);
        if (!eval) return eir_error_set(tr->err, EIR_ENOMEM, NULL, "out of memory");
    }
    eir_model_desc td;
    eir_net_model_desc(tr->net, &td);
    json_t *doc = eir_json_trained_model(initial, &td, t->name, tr->err);
    if (!doc) {
        json_decref(eval);
        return tr->err->status != EIR_OK ? tr->err->status : EIR_ENOMEM;
    }
    *json_text = srv_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    /* The hash of the model as stored: its text parsed and built again, as a run will. */
    json_t *again = *json_text ? json_loads(*json_text, 0, NULL) : NULL;
    eir_model *m = NULL;
    eir_status es = again ? eir_json_build_model(again, &tr->s->limits, "/model", &m, NULL, tr->err)
                          : eir_error_set(tr->err, EIR_ENOMEM, NULL, "out of memory");
    json_decref(again);
    if (es != EIR_OK) {
        json_decref(eval);
        return es;
    }
    eir_model_hash(m, t->hash);
    t->n = eir_model_n(m);
    eir_model_free(m);
    t->json = *json_text;

    store_curve_row last = tr->last;
    if (last.iteration != q->iterations) { /* resumed after the last checkpoint: stored */
        memset(&last, 0, sizeof last);
        last.loss = last.task_loss = last.l2_weights = last.l2_rates = last.grad_norm = NAN;
        store_training_curve_read(tr->c, tr->job->id, q->iterations - 1, 1, copy_row, &last);
    }
    t->meta = json_pack(
        "{s:s, s:{s:o, s:o, s:o, s:o, s:o}, s:o, s:I, s:I, s:f, s:{s:s, s:s}, "
        "s:i, s:I}",
        "model_hash", t->hash, "loss", "total", num(last.loss), "task", num(last.task_loss),
        "l2_weights", num(last.l2_weights), "l2_rates", num(last.l2_rates), "grad_norm",
        num(last.grad_norm), "evaluation", eval, "iterations", (json_int_t)q->iterations,
        "resumed_from", (json_int_t)from, "wall_s", srv_now() - t0, "tool", "name", "eirnnd",
        "version", EIRNN_VERSION, "attempt", tr->job->attempts, "seed", (json_int_t)q->train.seed);
    if (!t->meta) return eir_error_set(tr->err, EIR_ENOMEM, NULL, "out of memory");
    return EIR_OK;
}

/** The error text of a training stopped by the engine with @p es (not a cancel). */
static char *failure_text(eir_status es, const eir_error *err)
{
    if (es == EIR_ENUMERIC)
        return srv_exec_error_text(err->field, 422, "the training diverged: %s", err->message);
    return srv_exec_error_text(err->field, es == EIR_EINVAL ? 422 : 500, "%s", err->message);
}

/**
 * A training that eir_task_train() ended with @p es (not EIR_OK): its curve rows stored, then
 * what the stop says. @return 1 when nothing more is to be written (the claim is lost, or the
 * training went back to the queue); 0 for the finish with *@p status and *@p error.
 */
static int stopped(trainer *tr, eir_status es, const eir_error *err, double t0,
                   store_run_status *status, char **error)
{
    srv *s = tr->s;
    const store_run *job = tr->job;
    if (!tr->lost && tr->x.stop != SRV_STOP_LOST && tr->nrows)
        flush(tr, 0, tr->rows[tr->nrows - 1].iteration); /* the curve so far */
    if (tr->lost || tr->x.stop == SRV_STOP_LOST) {       /* another daemon has the training */
        srv_exec_lease_lost(s, job, "training", store_errmsg(tr->c), t0);
        return 1;
    }
    if (tr->x.stop == SRV_STOP_RELEASE) {
        srv_exec_release(s, tr->c, job, "the daemon stops", 1, tr->stored, t0);
        return 1;
    }
    if (tr->store_stuck) {
        char reason[STORE_ERRMSG_MAX + 64];
        snprintf(reason, sizeof reason, "the store refused the curve for %g s: %s", STORE_PATIENCE,
                 store_errmsg(tr->c));
        srv_exec_release(s, tr->c, job, reason, 0, tr->stored, t0);
        return 1;
    }
    *status = STORE_RUN_FAILED;
    if (tr->x.stop == SRV_STOP_CANCEL)
        *status = STORE_RUN_CANCELLED;
    else if (tr->x.stop == SRV_STOP_TIME)
        *error = srv_exec_error_text("/time_limit", 422,
                                     "the training exceeded its wall-clock limit of %g s after "
                                     "%lld of %lld iterations; ask for fewer iterations or a "
                                     "longer \"time_limit\" (the daemon's --run-time-limit caps "
                                     "it)",
                                     job->time_limit, (long long)tr->stored,
                                     (long long)tr->req->iterations);
    else if (tr->failed != EIR_OK)
        *error = failure_text(tr->failed, &tr->cb_err);
    else
        *error = failure_text(es, err);
    return 0;
}

void srv_exec_training(srv *s, store_conn *c, store_run *job, const atomic_int *release,
                       store_run *next)
{
    double t0 = srv_now();
    srv_log("training_claimed",
            json_pack("{s:s, s:s, s:i, s:I}", "run_id", job->id, "task", job->subkind, "attempt",
                      job->attempts, "iterations", (json_int_t)job->progress_total));
    eir_error err;
    eir_error_clear(&err);
    trainer tr = {.s = s, .c = c, .job = job, .err = &err, .last_flush = t0};
    tr.x = (srv_exec_ctx){.s = s,
                          .c = c,
                          .job_id = job->id,
                          .attempt = job->attempts,
                          .last = t0,
                          .release = release};
    if (job->time_limit > 0) tr.x.deadline = t0 + job->time_limit;
    char *error = NULL, *json_text = NULL, reason[400] = "";
    json_t *initial = NULL;
    eir_model_spec *spec = NULL;
    store_run_status status = STORE_RUN_FAILED;
    trained t = {.labels = job->labels_json, .training_id = job->id};
    char name[128];
    int64_t from = 0;

    json_t *req = srv_exec_request(job, &error);
    if (!req) goto finish;
    eir_status es = eir_json_parse_training(req, &s->limits, &tr.req, &err);
    prep_end pe = es == EIR_OK ? PREP_OK : PREP_FAILED;
    if (pe == PREP_OK) pe = initial_doc(&tr, &initial, reason, sizeof reason);
    if (pe == PREP_OK) pe = parse_model(&tr, initial, &spec);
    if (pe == PREP_OK) {
        tr.req->train.threads = s->cfg.threads_per_run > 0 ? s->cfg.threads_per_run : 1;
        pe = make_net(&tr, spec, &from, reason, sizeof reason);
    }
    if (pe == PREP_CANCELLED) {
        status = STORE_RUN_CANCELLED;
        goto finish;
    }
    if (pe == PREP_RELEASE) {
        srv_exec_release(s, c, job, reason[0] ? reason : "the daemon stops", !reason[0], 0, t0);
        goto out;
    }
    if (pe != PREP_OK) {
        error = failure_text(err.status, &err);
        goto finish;
    }

    tr.stored = tr.reported = from;
    /* the progress of a resumed training at once (a claim sets it to 0) */
    int cancel = 0;
    if (store_run_progress(c, job->id, job->attempts, from, tr.req->iterations, &cancel) ==
        STORE_CONFLICT) {
        srv_exec_lease_lost(s, job, "progress", store_errmsg(c), t0);
        goto out;
    }
    srv_log("training_started",
            json_pack("{s:s, s:I, s:I, s:I}", "run_id", job->id, "from", (json_int_t)from,
                      "iterations", (json_int_t)tr.req->iterations, "theta",
                      (json_int_t)eir_net_theta_len(tr.net)));
    es = eir_task_train(tr.net, tr.adam, &tr.req->task, &tr.req->train, tr.req->batch, from,
                        tr.req->iterations, on_row, &tr, &err);
    if (es != EIR_OK) {
        if (stopped(&tr, es, &err, t0, &status, &error)) goto out;
        goto finish;
    }

    if (tr.req->name[0])
        snprintf(name, sizeof name, "%s", tr.req->name);
    else
        snprintf(name, sizeof name, "%s trained by %s", job->subkind, job->id);
    t.name = name;
    es = conclude(&tr, initial, from, t0, &t, &json_text);
    if (es != EIR_OK) {
        error = failure_text(es, &err);
        goto finish;
    }
    status = STORE_RUN_SUCCEEDED;

finish:;
    srv_exec_hook hook = {finish_model, &t};
    srv_exec_finish_hooked(s, c, job, status, NULL, 0, NULL, error,
                           status == STORE_RUN_SUCCEEDED ? &hook : NULL, tr.stored, t0, release,
                           next);

out:
    free(error);
    free(json_text);
    free(t.meta_text);
    json_decref(t.meta);
    free(tr.rows);
    free(tr.state);
    eir_adam_free(tr.adam);
    eir_net_free(tr.net);
    eir_model_spec_free(spec);
    json_decref(initial);
    eir_training_req_free(tr.req);
    json_decref(req);
}
