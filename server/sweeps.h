/**
 * @file sweeps.h
 * @brief /v1/sweeps (docs/SWEEPS.md): many runs from one request. h_sweeps.c has the handlers,
 *        sweep_check.c expands and validates every point before anything is stored, and
 *        sweep_table.c answers the table of a sweep's points (JSON or CSV).
 *
 * Threads: POST /v1/sweeps checks and stores its sweep on the daemon's request-offload thread
 * (offload.h) with that thread's store connection, its connection suspended meanwhile (the cost
 * grows with the points, not the body); everything else runs on an HTTP thread with that
 * thread's store connection. Nothing is shared between requests.
 */
#ifndef EIRNN_SWEEPS_H
#define EIRNN_SWEEPS_H

#include <jansson.h>

#include "http.h"

/* ---- handlers (h_sweeps.c) ------------------------------------------------------------------ */
enum MHD_Result h_sweeps_create(srv_req *r);
enum MHD_Result h_sweeps_list(srv_req *r);
enum MHD_Result h_sweeps_get(srv_req *r);
enum MHD_Result h_sweeps_cancel(srv_req *r);
enum MHD_Result h_sweeps_delete(srv_req *r);
enum MHD_Result h_sweeps_table(srv_req *r);

/* ---- expansion and validation (sweep_check.c) ----------------------------------------------- */

/**
 * What a valid sweep request becomes: the arguments of store_sweep_create() and the memory
 * behind them (owned by the plan; the base "model_id" is borrowed from the request body, which
 * must outlive the plan).
 */
typedef struct srv_sweep_plan {
    char id[STORE_ID_MAX];   /**< the new sweep's id ("s_" + 24 hex) */
    json_t *stored;          /**< the request as stored: the body plus "models" (ids) */
    char *stored_json;       /**< its text */
    char *labels_json;       /**< the sweep's labels ("{}" when none) */
    char *point_labels_json; /**< the labels of its runs and new models: + "sweep": id */
    store_sweep_model *models;
    char (*model_ids)[STORE_ID_MAX];
    char **model_texts;
    char (*model_names)[128];
    int64_t n_models;
    store_run_new *runs;
    char **run_texts;
    char **run_label_texts; /**< a point's own labels text when its run has labels, else NULL */
    int64_t n_runs;
} srv_sweep_plan;

/**
 * Expand and check every point of sweep request @p body (docs/SWEEPS.md "Validation") on the
 * calling thread (the request-offload thread) with store connection @p c: the sweep parsed, its
 * size and the validation work bounded (--max-sweep-points, --max-sweep-check-bytes), the base
 * model found, every distinct point model shape-checked once, every point's run checked against its
 * model's shape (eir_pipe_check()), its V0 reference and its memory. Nothing is stored.
 * @return 0 with @p plan filled (free with srv_sweep_plan_free()); -1 with the answer queued into
 *         *@p ret: 422 naming the field (for a point: its index, its axes' values and the field
 *         inside the point, "/run/..." or "/model/..."), 503 when out of memory, store failures.
 *         On failure the plan holds nothing.
 */
int srv_sweep_check(srv_req *r, store_conn *c, const json_t *body, srv_sweep_plan *plan,
                    enum MHD_Result *ret);

/** Free what @p plan owns and zero it. NULL is a no-op. */
void srv_sweep_plan_free(srv_sweep_plan *plan);

/* ---- the table (sweep_table.c) -------------------------------------------------------------- */

/**
 * Queue the table of sweep @p sw (read with its request) as JSON or CSV (?format=, else Accept;
 * ?per_trial=true adds per-trial columns). 400 for a bad parameter, 406 for an Accept that
 * allows neither, store failures as usual, 500/503 when out of memory.
 */
enum MHD_Result srv_sweep_table_reply(srv_req *r, store_conn *c, const store_sweep *sw);

/**
 * The name of window @p i of a metrics request @p windows (its "name", else
 * "<var>_<from>_<to>") into @p buf of @p cap bytes.
 */
void srv_sweep_window_name(const json_t *window, char *buf, size_t cap);

#endif /* EIRNN_SWEEPS_H */
