/**
 * @file trainings.h
 * @brief Trainings as jobs (docs/API.md "Trainings", docs/TRAINING.md): the line between the
 *        job plumbing (h_trainings.c on the HTTP threads; the store, where a training is a row
 *        of the run queue with kind "training", an id "t_..." and subkind its task's name) and
 *        the worker that trains (exec_training.c).
 *
 * Threads: srv_training_check() runs on an HTTP thread and stays linear in the request (no
 * model build, no generation of a recipe's matrices); srv_exec_training() runs on a worker
 * thread with that worker's store connection.
 */
#ifndef EIRNN_TRAININGS_H
#define EIRNN_TRAININGS_H

#include <stdatomic.h>

#include "eir_json_training.h"
#include "srv.h"
#include "store.h"

/** What the handler needs to queue a training accepted by srv_training_check(). */
typedef struct srv_training_plan {
    char task[STORE_KIND_MAX];   /**< the task's name: the job's subkind */
    char model_id[STORE_ID_MAX]; /**< the initial stored model, "" for an inline one */
    int64_t iterations;          /**< the job's progress total */
    int priority;                /**< -1000 .. 1000 */
    double time_limit;           /**< seconds, 0 = none (the daemon's --run-time-limit caps it) */
    int max_attempts;            /**< claims before a crashed training is failed */
} srv_training_plan;

/**
 * Validate training document @p doc in full, as far as it can be without building the model:
 * the document (eir_json_parse_training()), the model (the stored model exists and is not
 * failed, or the inline model's shape) against the task (inputs, readout), the job settings.
 * EIR_EINVAL with @p err naming the field as a JSON pointer; EIR_ENOMEM. *@p st is STORE_OK
 * unless the store failed reading the model (its status then; the connection's message says
 * why); *@p not_found is 1 when the model id names no model (the handler answers 404).
 */
eir_status srv_training_check(srv *s, store_conn *c, const json_t *doc, srv_training_plan *plan,
                              store_status *st, int *not_found, eir_error *err);

/**
 * Execute the claimed training @p job on the calling worker (as srv_exec_run() for a run):
 * resolve its model, continue from its checkpoint if it has one, train with curve rows and
 * checkpoints stored as it goes (fenced by the claim's attempt), then evaluate on the test
 * trials and store the trained model with the finish. Stops on a cancel, the wall-clock limit,
 * the lease's loss and the daemon's release (given back to the queue: a later claim resumes
 * from the checkpoint). Never fails visibly: problems end the job failed with an error object.
 */
void srv_exec_training(srv *s, store_conn *c, store_run *job, const atomic_int *release,
                       store_run *next);

#endif /* EIRNN_TRAININGS_H */
