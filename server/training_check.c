/**
 * @file training_check.c
 * @brief srv_training_check() (trainings.h): a training document validated in full on the HTTP
 *        thread that received it, at a cost linear in the request and the model's document:
 *        the document itself (eir_json_parse_training()), its model's shape
 *        (eir_json_model_shape(): a `generate` recipe is checked, not run) against the task
 *        (eir_training_check_model()), and the job settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "trainings.h"

/**
 * A model description with the sizes, class, form and readout of model document @p doc of
 * shape @p sh, and no arrays: what eir_training_check_model() looks at.
 */
static void desc_of_shape(const json_t *doc, const eir_model_shape *sh, eir_model_desc *d)
{
    eir_model_desc_init(d);
    d->n_e = sh->n_e;
    d->n_i = sh->n_i;
    d->n_in = sh->n_in;
    d->cls = sh->cls;
    d->n_out = sh->n_out;
    d->sigma = sh->sigma;
    const json_t *rec = json_object_get(doc, "recurrent");
    if (json_object_get(rec, "E_rev") || json_object_get(rec, "K")) d->form = EIR_FORM_CONDUCTANCE;
    const char *from = json_string_value(json_object_get(json_object_get(doc, "readout"), "from"));
    if (from && strcmp(from, "E") == 0) d->readout_from = EIR_READOUT_E;
}

/**
 * The stored model @p id's document, parsed, into *@p out (the caller owns it). A missing model
 * sets *@p not_found; a failed build is EIR_EINVAL at "/model"; a store failure sets *@p st.
 */
static eir_status stored_doc(store_conn *c, const char *id, json_t **out, store_status *st,
                             int *not_found, eir_error *err)
{
    *out = NULL;
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status s = store_model_get(c, id, &sm);
    if (s == STORE_NOT_FOUND || s == STORE_INVALID) {
        *not_found = 1;
        return eir_error_set(err, EIR_EINVAL, "/model", "model %s does not exist", id);
    }
    if (s != STORE_OK) {
        *st = s;
        return eir_error_set(err, EIR_ENOMEM, NULL, "the store failed reading model %s: %s", id,
                             store_errmsg(c));
    }
    eir_status es = EIR_OK;
    if (sm.state == STORE_MODEL_FAILED) {
        json_t *o = sm.error ? json_loads(sm.error, 0, NULL) : NULL;
        const char *detail = json_string_value(json_object_get(o, "detail"));
        es = eir_error_set(err, EIR_EINVAL, "/model",
                           "model %s failed to build, so it cannot be trained: %s", id,
                           detail ? detail : "(no detail stored)");
        json_decref(o);
    } else {
        json_error_t je;
        int oom = srv_json_oom();
        srv_json_oom_set(0);
        *out = json_loads(sm.json ? sm.json : "", JSON_REJECT_DUPLICATES, &je);
        if (srv_json_oom()) { /* a value may have been cut short silently (srv.h) */
            json_decref(*out);
            *out = NULL;
            es = eir_error_set(err, EIR_ENOMEM, NULL, "out of memory reading model %s", id);
        } else if (!*out) {
            es = eir_error_set(err, EIR_EINVAL, "/model", "the stored model %s is not JSON: %s", id,
                               je.text);
        }
        srv_json_oom_set(oom);
    }
    store_model_clear(&sm);
    return es;
}

eir_status srv_training_check(srv *s, store_conn *c, const json_t *doc, srv_training_plan *plan,
                              store_status *st, int *not_found, eir_error *err)
{
    memset(plan, 0, sizeof *plan);
    *st = STORE_OK;
    *not_found = 0;
    eir_training_req *req = NULL;
    eir_status es = eir_json_parse_training(doc, &s->limits, &req, err);
    if (es != EIR_OK) return es;
    json_t *stored = NULL;
    const json_t *model = req->model;
    if (req->model_id[0]) {
        es = stored_doc(c, req->model_id, &stored, st, not_found, err);
        model = stored;
    }
    eir_model_shape shape;
    if (es == EIR_OK) {
        /* a stored model's document was valid when stored: name its errors at "/model" */
        es = eir_json_model_shape(model, &s->limits, "/model", &shape, err);
        if (es == EIR_EINVAL && stored) {
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err->message);
            eir_error_set(err, EIR_EINVAL, "/model",
                          "model %s is not valid for this daemon's limits: %s", req->model_id, why);
        }
    }
    if (es == EIR_OK) {
        eir_model_desc d;
        desc_of_shape(model, &shape, &d);
        es = eir_training_check_model(req, &d, &s->limits, err);
        /* a stored model's fields are not the request's: name "/model" itself */
        if (es == EIR_EINVAL && stored && strncmp(err->field, "/model/", 7) == 0) {
            char why[sizeof err->message + sizeof err->field + 64];
            snprintf(why, sizeof why, "model %s: %s (%s)", req->model_id, err->message,
                     err->field + 6);
            eir_error_set(err, EIR_EINVAL, "/model", "%s", why);
        }
    }
    if (es == EIR_OK) {
        snprintf(plan->task, sizeof plan->task, "%s", eir_task_name(req->task.kind));
        snprintf(plan->model_id, sizeof plan->model_id, "%s", req->model_id);
        plan->iterations = req->iterations;
        plan->priority = (int)req->priority;
        double tl = s->cfg.run_time_limit; /* the daemon's limit caps the training's */
        if (req->time_limit > 0 && (tl <= 0 || req->time_limit < tl)) tl = req->time_limit;
        plan->time_limit = tl > 0 ? tl : 0;
        plan->max_attempts = req->max_attempts > 0 ? req->max_attempts : s->cfg.max_attempts;
    }
    json_decref(stored);
    eir_training_req_free(req);
    return es;
}
