/**
 * @file analysis_int.h
 * @brief What the analysis files share (analysis_check.c, analysis_exec.c and one file per
 *        kind): the runs and analyses a request refers to, read from the store, and a worker's
 *        view of one analysis being executed (its model, its progress and stop flag).
 *
 * Threads: everything here runs on the calling thread with that thread's store connection.
 * Failures fill an eir_error naming the request field (JSON pointer) and, when the store failed,
 * *st with its status (STORE_OK otherwise).
 */
#ifndef EIRNN_ANALYSIS_INT_H
#define EIRNN_ANALYSIS_INT_H

#include "analysis.h"
#include "eir_analysis.h"
#include "eir_json.h"
#include "model_resolve.h"

/** A finished run an analysis refers to, as its stored row and metadata describe it. */
typedef struct an_run {
    store_run row;            /**< the stored run (strings owned) */
    char hash[65];            /**< the hash of its model (metadata) */
    int n, n_e, n_in, n_out;  /**< its model's sizes */
    eir_class cls;            /**< its model's class */
    int B;                    /**< trials */
    int64_t T;                /**< steps asked for */
    int every;                /**< recording stride */
    int64_t rows[EIR_NVARS];  /**< rows kept of each recorded variable, -1 when not recorded */
    int64_t units[EIR_NVARS]; /**< units recorded of each variable */
    int all_cells;            /**< V, r, z record every cell in index order */
} an_run;

/**
 * Read run @p id (field @p ptr names it, e.g. "/at/run_id") and check it can be analysed: it
 * exists and is a run, finished with its rows (succeeded, diverged or cancelled), with metadata.
 * EIR_EINVAL naming @p ptr otherwise; a store failure sets *st. Free with an_run_clear().
 */
eir_status an_run_load(store_conn *c, const char *id, const char *ptr, an_run *out,
                       store_status *st, eir_error *err);

/**
 * The request of run @p r parsed against its model's shape (as its metadata gives it): its
 * inputs and recorded neurons. Worker only (linear in the run's request, inputs included).
 * EIR_EINVAL naming @p ptr + "/run_id" when it cannot be read; a store failure sets *st.
 */
eir_status an_run_spec(store_conn *c, const eir_json_limits *lim, const an_run *r, const char *ptr,
                       eir_run_spec **out, store_status *st, eir_error *err);

/** Free what an_run_load() filled. */
void an_run_clear(an_run *r);

/**
 * The recorded row of @p state (a run state: trial and step, step < 0 counting rows from the
 * end) in run @p r, for variable @p var which must be recorded for all N cells: its row index
 * into *row and the step it is into *step. EIR_EINVAL naming state->ptr + "/trial", "/step" or
 * "/run_id" (with the recording stride, the rows kept).
 */
eir_status an_run_state_row(const an_run *r, const eir_an_state *state, eir_var var, int64_t *row,
                            int64_t *step, eir_error *err);

/**
 * The model of a request as far as an HTTP thread can tell without building it: its shape, its
 * stored id ("" for an inline model) and its hash when known ("" for a pending or inline
 * model). EIR_EINVAL at "/model_id" or "/model..." (unknown, failed), store failures in *st.
 */
typedef struct an_model_info {
    eir_model_shape shape;
    char id[STORE_ID_MAX];
    char hash[65];
} an_model_info;

eir_status an_model_info_get(srv *s, store_conn *c, const eir_an_request *req, an_model_info *out,
                             store_status *st, eir_error *err);

/**
 * Whether run @p r is of the model @p mi / @p built_hash (NULL at check time: then an unknown
 * hash passes and the worker looks again): the same stored model, or the same model hash.
 * EIR_EINVAL naming @p ptr when not.
 */
eir_status an_same_model(const an_model_info *mi, const char *built_hash, const char *run_model_id,
                         const char *run_hash, const char *what, const char *ptr, eir_error *err);

/** A fixed_points analysis a request refers to ("at": {"analysis_id", "index"}). */
typedef struct an_points {
    store_run row;    /**< the stored analysis (strings owned) */
    int64_t count, n; /**< points K and their length N */
    int n_in;         /**< length of its input x (0: it had none) */
    char hash[65];    /**< its model's hash, "" when not known */
} an_points;

/** Read analysis @p state->id, check it is a succeeded fixed_points analysis holding point
 *  state->index. EIR_EINVAL naming state->ptr + "/analysis_id" or "/index". */
eir_status an_points_load(store_conn *c, const eir_an_state *state, an_points *out,
                          store_status *st, eir_error *err);

void an_points_clear(an_points *p);

/** One analysis being executed on a worker. */
typedef struct an_job {
    srv *s;
    store_conn *c;
    const char *id;
    const eir_an_request *req;
    const json_t *json; /**< the request as stored */
    eir_progress_fn progress;
    void *progress_ctx;
    eir_stop *stop;
    store_status *st;
    eir_error *err;
    /* the model (an_job_model()) */
    const eir_model *m;
    const char *hash; /**< its eir_model_hash() */
    int n, n_e, n_in;
    an_model_info mi;
    /* private */
    srv_resolver res;
    eir_pipe_config cfg;
    eir_json_limits lim;
    void *handle; /**< the resolver's handle, or NULL */
    eir_model *own_model;
    eir_model_spec *own_spec;
} an_job;

/** Build or fetch the job's model as a run's worker does (model cache, inline cache). */
eir_status an_job_model(an_job *j);

/** Give the model back. */
void an_job_release(an_job *j);

/** Report progress; EIR_ECANCELLED (with err set) when asked to stop. */
eir_status an_job_progress(an_job *j, int64_t done, int64_t total);

/**
 * The state @p state of the job's model (N values into @p V) and, when @p x is not NULL and the
 * request has no "x", the input that goes with it (the run's input at that step, the analysis's
 * x; zeros otherwise) into @p x (n_in values). Reads the store; errors name state->ptr.
 */
eir_status an_job_state(an_job *j, const eir_an_state *state, double *V, double *x);

/** The input x of the request (n_in values; zeros when not given) into @p x. */
void an_job_x(const an_job *j, double *x);

/**
 * Add an array to @p out: copies nothing, takes @p data (malloc'ed; freed on failure too).
 * EIR_ENOMEM when the list cannot grow.
 */
eir_status an_out_add(srv_analysis_outcome *out, const char *name, const char *dtype, int ndim,
                      const int64_t *shape, void *data, size_t bytes, eir_error *err);

/** The kinds (one file each). Fill @p out on EIR_OK. */
eir_status an_exec_spectrum(an_job *j, srv_analysis_outcome *out);
eir_status an_exec_fixed(an_job *j, srv_analysis_outcome *out);
eir_status an_exec_lyapunov(an_job *j, srv_analysis_outcome *out);
eir_status an_exec_activity(an_job *j, srv_analysis_outcome *out);

/** dst = ptr + "/" + key (a JSON pointer below @p ptr). */
void an_ptr(char dst[EIR_FIELD_MAX], const char *ptr, const char *key);

/** A JSON number, or null for a non-finite one (NULL when out of memory). */
json_t *an_num(double v);

#endif /* EIRNN_ANALYSIS_INT_H */
