/**
 * @file fuzz_training.c
 * @brief libFuzzer harness: a training document (FORMAT.md "Trainings") ->
 *        eir_json_parse_training() -> its model (inline, or a fixed stored model for an id)
 *        built and checked against the task (eir_training_check_model()) -> two trials of the
 *        task generated -> a trainable network of the model (eir_net_new()), one forward pass
 *        on them -> the trained model document (eir_json_trained_model()) parsed and built back.
 *
 * This is the validation path of POST /v1/trainings and the end of an executor's training.
 * Checked beyond the sanitizers: a failure says why (status, message, a field that is a JSON
 * pointer; a check of the model names /model..., /trainable/k or /batch); a parsed request
 * has its values within the documented bounds (batch, iterations, trials, trial length,
 * trainable set, custom arrays' sizes, labels and lengths) and a task eir_task_check()
 * accepts; the trained model document of the network builds to exactly the model built from
 * eir_net_model_desc() (the same hash); curve rows and the evaluation serialise.
 */
#include "fuzz_common.h"

#include <math.h>

#include "eir_json_training.h"
#include "eir_task.h"
#include "eir_train.h"

/* 4 E and 2 I cells, the decision tasks' 3 inputs and 3 outputs: the "stored" model of a
 * document whose model is an id. */
static const char fixed_model_json[] =
    "{\"class\": \"gated\", \"populations\": {\"E\": 4, \"I\": 2}, \"n_inputs\": 3,"
    " \"activation\": {\"name\": \"relu\"}, \"leak\": 0.05,"
    " \"recurrent\": {\"W\": ["
    "  [0.0, 0.3, 0.2, 0.0, -0.5, -0.25], [0.25, 0.0, 0.0, 0.15, -0.5, 0.0],"
    "  [0.2, 0.1, 0.0, 0.3, 0.0, -0.75], [0.0, 0.35, 0.25, 0.0, -0.25, -0.5],"
    "  [0.5, 0.5, 0.25, 0.25, 0.0, -0.5], [0.25, 0.5, 0.5, 0.25, -0.25, 0.0]],"
    "  \"A\": {\"E\": 1.0, \"I\": 0.5}},"
    " \"input\": {\"P\": [[0.1, 0.2, 0.0], [0.1, 0.0, 0.2], [0.1, 0.1, 0.1], [0.0, 0.2, 0.2],"
    "  [0.1, 0.1, 0.0], [0.0, 0.1, 0.1]]},"
    " \"readout\": {\"W_out\": [[0.1, 0.1, 0.1, 0.1, 0.0, 0.0], [0.2, -0.1, 0.1, 0.0, 0.0, 0.0],"
    "  [-0.1, 0.2, 0.0, 0.1, 0.0, 0.0]]}}";

static json_t *fixed_model_doc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_blas();
    json_error_t je;
    eir_error e;
    eir_model *m = NULL;
    fixed_model_doc = json_loads(fixed_model_json, JSON_REJECT_DUPLICATES, &je);
    if (!fixed_model_doc ||
        eir_json_build_model(fixed_model_doc, NULL, "", &m, NULL, &e) != EIR_OK) {
        fprintf(stderr, "fuzz_training: the fixed model does not build\n");
        abort();
    }
    eir_model_free(m);
    return 0;
}

/* The request's values within the bounds FORMAT.md documents. */
static void check_request(const eir_training_req *r, const eir_json_limits *lim)
{
    FUZZ_CHECK((r->model != NULL) != (r->model_id[0] != '\0'));
    FUZZ_CHECK(r->batch >= 1 && r->batch <= EIR_TRAINING_MAX_BATCH && r->batch <= lim->max_trials);
    FUZZ_CHECK(r->iterations >= 1 && r->iterations <= EIR_TRAINING_MAX_ITERATIONS);
    FUZZ_CHECK(r->eval_every >= 1 && r->checkpoint_every >= 1);
    FUZZ_CHECK(r->eval_trials >= 0 && r->eval_trials <= EIR_TRAINING_MAX_EVAL_TRIALS);
    FUZZ_CHECK(r->test_trials >= 0 && r->test_trials <= EIR_TRAINING_MAX_EVAL_TRIALS);
    FUZZ_CHECK(r->max_steps >= 0 && r->max_steps <= EIR_TRAINING_MAX_STEPS);
    FUZZ_CHECK(r->train.trainable != 0 && r->train.trainable < (1u << EIR_NPARAMS));
    FUZZ_CHECK(r->train.dt > 0 && r->task.dt == r->train.dt);
    FUZZ_CHECK(r->train.lr > 0 && r->train.eps > 0 && r->train.clip_norm >= 0);
    FUZZ_CHECK(r->train.beta1 >= 0 && r->train.beta1 < 1 && r->train.beta2 >= 0 &&
               r->train.beta2 < 1);
    FUZZ_CHECK(r->train.integrator != EIR_INTEG_RK4);
    FUZZ_CHECK(r->priority >= -EIR_TRAINING_MAX_PRIORITY &&
               r->priority <= EIR_TRAINING_MAX_PRIORITY);
    FUZZ_CHECK(r->time_limit >= 0 && r->max_attempts >= 0 &&
               r->max_attempts <= EIR_TRAINING_MAX_ATTEMPTS);
    FUZZ_CHECK(memchr(r->name, 0, sizeof r->name));
    eir_error e;
    FUZZ_CHECK(eir_task_check(&r->task, &e) == EIR_OK);
    FUZZ_CHECK(eir_task_check(&r->test_task, &e) == EIR_OK);
    if (r->task.kind != EIR_TASK_CUSTOM) return;
    const eir_task_custom *c = &r->task.custom;
    FUZZ_CHECK(c->n_trials >= 1 && c->T >= 1 && c->n_in >= 1 && c->x);
    FUZZ_CHECK((c->label != NULL) != (c->target != NULL));
    FUZZ_CHECK(c->n_out >= 1 && c->n_out <= lim->max_outputs);
    int64_t n = (int64_t)c->n_trials * c->T;
    FUZZ_CHECK(n * c->n_in <= lim->max_input_values);
    for (int64_t i = 0; c->label && i < n; i++)
        FUZZ_CHECK(c->label[i] >= 0 && c->label[i] < c->n_out);
    for (int b = 0; c->len && b < c->n_trials; b++)
        FUZZ_CHECK(c->len[b] >= 1 && c->len[b] <= c->T);
    if (c->target) FUZZ_CHECK(r->train.loss == EIR_LOSS_MSE);
}

/* The network of the trained description and its document build to the same model. */
static void check_trained_document(const json_t *initial, eir_net *net, const eir_json_limits *lim)
{
    eir_model_desc d;
    eir_error e;
    eir_model *a = NULL, *b = NULL;
    eir_net_model_desc(net, &d);
    FUZZ_CHECK(eir_model_build(&d, &a, &e) == EIR_OK); /* eir_net_model_desc(): cannot fail */
    json_t *doc = eir_json_trained_model(initial, &d, "fuzz", &e);
    FUZZ_CHECK(doc);
    FUZZ_CHECK(!eir_json_model_has_recipe(doc));
    eir_json_limits wide = *lim;
    wide.max_depth = 64;
    eir_status rc = eir_json_build_model(doc, &wide, "", &b, NULL, &e);
    FUZZ_CHECK(rc == EIR_OK);
    char ha[65], hb[65];
    eir_model_hash(a, ha);
    eir_model_hash(b, hb);
    FUZZ_CHECK(strcmp(ha, hb) == 0);
    eir_model_free(a);
    eir_model_free(b);
    json_decref(doc);
}

/* Two trials of the task through the network, and the helpers' serialisations. */
static void run_two_trials(eir_training_req *r, eir_net *net)
{
    eir_task_batch tb;
    eir_error e;
    if (eir_task_generate(&r->task, eir_train_stream(r->train.seed, 0, 1), 2, &tb, &e) != EIR_OK) {
        fuzz_check_error(e.status, &e);
        return;
    }
    eir_batch view;
    eir_task_batch_view(&tb, r->train.loss, &view);
    eir_loss_parts loss;
    double *y = malloc((size_t)tb.B * tb.T * tb.n_out * sizeof *y);
    FUZZ_CHECK(y);
    eir_status rc = eir_net_forward(net, &view, 7, &loss, y, &e);
    if (rc == EIR_OK) {
        eir_task_score score;
        eir_task_score_batch(&tb, y, NULL, &score);
        eir_curve_row row = {.iteration = 1,
                             .loss = loss.total,
                             .task_loss = loss.task,
                             .l2_weights = loss.l2_weights,
                             .l2_rates = loss.l2_rates,
                             .grad_norm = NAN,
                             .accuracy = score.accuracy,
                             .eval_accuracy = NAN};
        json_t *j = eir_json_curve_row(&row);
        FUZZ_CHECK(j);
        char *text = json_dumps(j, JSON_COMPACT);
        FUZZ_CHECK(text);
        free(text);
        json_decref(j);
        char csv[EIR_CURVE_CSV_MAX];
        FUZZ_CHECK(eir_csv_curve_row(&row, csv, sizeof csv) > 0);
    } else {
        fuzz_check_error(rc, &e); /* a diverging forward pass says at which step */
    }
    free(y);
    eir_task_batch_free(&tb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = eir_json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j) return 0;
    eir_json_limits lim;
    fuzz_limits(&lim);
    eir_training_req *r = (eir_training_req *)1;
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_parse_training(j, &lim, &r, &e);
    if (rc != EIR_OK) {
        FUZZ_CHECK(r == NULL);
        fuzz_check_error(rc, &e);
        json_decref(j);
        return 0;
    }
    json_decref(j); /* the request holds what it needs */
    check_request(r, &lim);

    const json_t *initial = r->model ? r->model : fixed_model_doc;
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    rc = eir_json_build_model(initial, &lim, r->model ? "/model" : "", &m, &spec, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        eir_training_req_free(r);
        return 0;
    }
    rc = eir_training_check_model(r, &spec->desc, &lim, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        FUZZ_CHECK(strncmp(e.field, "/model", 6) == 0 || strncmp(e.field, "/trainable/", 11) == 0 ||
                   strcmp(e.field, "/batch") == 0);
    } else {
        eir_net *net = NULL;
        rc = eir_net_new(&spec->desc, &r->train, &net, &e);
        if (rc == EIR_OK) {
            run_two_trials(r, net);
            check_trained_document(initial, net, &lim);
            eir_net_free(net);
        } else {
            fuzz_check_error(rc, &e);
        }
    }
    eir_model_free(m);
    eir_model_spec_free(spec);
    eir_training_req_free(r);
    return 0;
}
