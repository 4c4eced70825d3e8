/**
 * @file test_json_training.c
 * @brief The training document (FORMAT.md "Trainings", eir_json_training.h): defaults, every
 *        field of the examples, errors naming their field, custom tasks, the check of the model
 *        against the task, the trained model document (same hash as the trained description)
 *        and the curve and evaluation helpers.
 */
#include "json_test_util.h"

#include "eir_json_training.h"

#define MODEL_ID "\"m_4adb36335569af5b7e0b9732\""
static const char *const base_doc =
    "{\"model\": " MODEL_ID ", \"task\": {\"name\": \"perceptual_decision_making\"}, \"dt\": 20}";

/* Parse base_doc with the merge patch @p patch applied. */
static eir_status parse_patched(const char *patch, eir_training_req **r, eir_error *e)
{
    json_t *j = jt_patched(base_doc, patch);
    eir_error_clear(e);
    eir_status rc = eir_json_parse_training(j, NULL, r, e);
    json_decref(j);
    return rc;
}

static void expect_patch_error(const char *patch, const char *field, const char *parts)
{
    eir_training_req *r = NULL;
    eir_error e;
    eir_status rc = parse_patched(patch, &r, &e);
    JT_EXPECT_ERR(rc, e, field, parts);
    assert_null(r);
}

static void test_defaults(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_error e;
    JT_OK(parse_patched(NULL, &r, &e), e);
    assert_string_equal(r->model_id, "m_4adb36335569af5b7e0b9732");
    assert_null(r->model);
    assert_int_equal(r->task.kind, EIR_TASK_PERCEPTUAL_DM);
    assert_true(r->task.dt == 20 && r->train.dt == 20);
    assert_int_equal(r->train.integrator, EIR_INTEG_EXP_EULER);
    assert_int_equal(r->train.precision, EIR_F64);
    assert_int_equal(r->train.loss, EIR_LOSS_CE);
    assert_true(r->train.lr == 1e-3 && r->train.beta1 == 0.9 && r->train.beta2 == 0.999);
    assert_true(r->train.eps == 1e-8 && r->train.clip_norm == 1.0);
    assert_true(r->train.l2_weights == 0 && r->train.l2_rates == 0);
    assert_int_equal(r->train.trainable, (1u << EIR_PARAM_W) | (1u << EIR_PARAM_P) |
                                             (1u << EIR_PARAM_BIAS) | (1u << EIR_PARAM_W_OUT) |
                                             (1u << EIR_PARAM_B_OUT));
    assert_int_equal(r->batch, 32);
    assert_int_equal(r->iterations, 2000);
    assert_int_equal(r->eval_every, 100);
    assert_int_equal(r->eval_trials, 256);
    assert_int_equal(r->test_trials, 1000);
    assert_int_equal(r->checkpoint_every, 100);
    assert_int_equal(r->has_seed, 0);
    assert_true(r->train.seed == 0);
    assert_string_equal(r->name, "");
    assert_null(r->labels);
    assert_int_equal(r->priority, 0);
    assert_true(r->time_limit == 0);
    assert_int_equal(r->max_attempts, 0);
    /* the task keeps the engine's defaults; the test task is the same task */
    eir_task_spec def;
    eir_task_spec_init(&def, EIR_TASK_PERCEPTUAL_DM, 20);
    assert_int_equal(r->task.n_coherences, def.n_coherences);
    assert_memory_equal(r->task.timing, def.timing, sizeof def.timing);
    assert_memory_equal(&r->test_task, &r->task, sizeof r->task);
    assert_true(r->max_steps >= 1 && r->max_steps <= EIR_TRAINING_MAX_STEPS);
    eir_training_req_free(r);
}

static int period(eir_task_kind k, const char *name)
{
    for (int i = 0; i < eir_task_n_periods(k); i++)
        if (strcmp(eir_task_period_name(k, i), name) == 0) return i;
    fail_msg("no period %s", name);
    return -1;
}

static void test_example_cdm(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_error e;
    json_t *j = jt_load_file("schema/examples/training_cdm_by_id.json");
    JT_OK(eir_json_parse_training(j, NULL, &r, &e), e);
    json_decref(j);
    eir_task_kind k = EIR_TASK_CONTEXT_DM;
    assert_int_equal(r->task.kind, k);
    const eir_duration *fix = &r->task.timing[period(k, "fixation")];
    const eir_duration *stim = &r->task.timing[period(k, "stimulus")];
    const eir_duration *delay = &r->task.timing[period(k, "delay")];
    assert_true(fix->kind == EIR_DUR_CONSTANT && fix->a == 300);
    assert_true(stim->kind == EIR_DUR_CHOICE && stim->n_choices == 3 && stim->choices[2] == 800);
    assert_true(delay->kind == EIR_DUR_TRUNC_EXP && delay->a == 600 && delay->b == 300 &&
                delay->c == 3000);
    assert_int_equal(r->task.n_coherences, 3);
    assert_true(r->task.coherences[1] == 15 && r->task.sigma == 1.0);
    /* test overrides: the delay and the coherences, nothing else */
    const eir_duration *tdelay = &r->test_task.timing[period(k, "delay")];
    assert_true(tdelay->kind == EIR_DUR_CONSTANT && tdelay->a == 1000);
    assert_memory_equal(&r->test_task.timing[period(k, "stimulus")], stim, sizeof *stim);
    assert_int_equal(r->test_task.n_coherences, 5);
    assert_true(r->test_task.coherences[4] == 40);
    assert_int_equal(r->train.integrator, EIR_INTEG_EULER);
    assert_int_equal(r->train.precision, EIR_F32);
    assert_int_equal(r->train.loss, EIR_LOSS_MSE);
    assert_true(r->train.l2_weights == 0.001 && r->train.l2_rates == 0.001);
    assert_true(r->train.clip_norm == 0);
    assert_int_equal(r->train.trainable, (1u << EIR_NPARAMS) - 1);
    assert_int_equal(r->trainable_pos[EIR_PARAM_A], 5);
    assert_int_equal(r->batch, 64);
    assert_int_equal(r->iterations, 5000);
    assert_true(r->has_seed && r->train.seed == 12);
    assert_int_equal(r->eval_every, 250);
    assert_int_equal(r->eval_trials, 512);
    assert_int_equal(r->test_trials, 2000);
    assert_int_equal(r->checkpoint_every, 500);
    assert_string_equal(r->name, "cdm-trained");
    assert_string_equal(json_string_value(json_object_get(r->labels, "project")), "mante");
    assert_int_equal(r->priority, 10);
    assert_true(r->time_limit == 7200);
    assert_int_equal(r->max_attempts, 5);
    /* the longest trial: 300 + 800 + 3000 + 300 ms, or the test's 300 + 800 + 1000 + 300 */
    assert_true(r->max_steps >= 4400 / 20 && r->max_steps <= 4400 / 20 + 8);
    eir_training_req_free(r);
}

static void test_example_inline(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_error e;
    json_t *j = jt_load_file("schema/examples/training_pdm_gated.json");
    JT_OK(eir_json_parse_training(j, NULL, &r, &e), e);
    /* the inline model is held by the request: it outlives the document */
    json_t *model = json_object_get(j, "model");
    assert_ptr_equal(r->model, model);
    json_decref(j);
    assert_string_equal(r->model_id, "");
    eir_model_spec *spec;
    JT_OK(eir_json_parse_model(r->model, NULL, "/model", &spec, &e), e);
    JT_OK(eir_training_check_model(r, &spec->desc, NULL, &e), e);
    eir_model *m;
    JT_OK(eir_model_build(&spec->desc, &m, &e), e);
    eir_model_free(m);
    eir_model_spec_free(spec);
    const eir_duration *fix = &r->task.timing[period(EIR_TASK_PERCEPTUAL_DM, "fixation")];
    assert_true(fix->kind == EIR_DUR_UNIFORM && fix->a == 50 && fix->b == 400);
    const eir_duration *ts = &r->test_task.timing[period(EIR_TASK_PERCEPTUAL_DM, "stimulus")];
    assert_true(ts->kind == EIR_DUR_CONSTANT && ts->a == 500);
    eir_training_req_free(r);
}

static void test_errors_top(void **state)
{
    (void)state;
    expect_patch_error("{\"epochs\": 3}", "/epochs", "unknown field|iterations");
    expect_patch_error("{\"model\": null}", "/model", "missing|model");
    expect_patch_error("{\"model\": \"m_12\"}", "/model", "24 hex|m_12");
    expect_patch_error("{\"model\": 3}", "/model", "model document");
    expect_patch_error("{\"dt\": null}", "/dt", "missing");
    expect_patch_error("{\"dt\": 0}", "/dt", "> 0|0");
    expect_patch_error("{\"dt\": \"20\"}", "/dt", "finite number");
    expect_patch_error("{\"integrator\": \"rk4\"}", "/integrator", "exp_euler or euler|rk4");
    expect_patch_error("{\"integrator\": \"heun\"}", "/integrator", "exp_euler");
    expect_patch_error("{\"precision\": \"float16\"}", "/precision", "float64");
    expect_patch_error("{\"batch\": 0}", "/batch", "[1, 4096]");
    expect_patch_error("{\"batch\": 4097}", "/batch", "4096");
    expect_patch_error("{\"batch\": 2.5}", "/batch", "integer");
    expect_patch_error("{\"iterations\": 0}", "/iterations", "[1, 10000000]");
    expect_patch_error("{\"iterations\": 10000001}", "/iterations", "10000000");
    expect_patch_error("{\"checkpoint_every\": 0}", "/checkpoint_every", "integer");
    expect_patch_error("{\"seed\": -1}", "/seed", "2^63-1");
    expect_patch_error("{\"name\": 5}", "/name", "string");
    expect_patch_error("{\"labels\": {\"bad key\": \"x\"}}", "/labels/bad key", "label key");
    expect_patch_error("{\"priority\": 1001}", "/priority", "[-1000, 1000]");
    expect_patch_error("{\"time_limit\": -1}", "/time_limit", ">= 0");
    expect_patch_error("{\"max_attempts\": 0}", "/max_attempts", "[1, 100]");
    expect_patch_error("{\"max_attempts\": 101}", "/max_attempts", "100");
}

static void test_errors_optimizer_loss(void **state)
{
    (void)state;
    expect_patch_error("{\"optimizer\": {\"lr\": 0}}", "/optimizer/lr", "> 0");
    expect_patch_error("{\"optimizer\": {\"lr\": -0.1}}", "/optimizer/lr", "> 0|-0.1");
    expect_patch_error("{\"optimizer\": {\"name\": \"sgd\"}}", "/optimizer/name", "adam|sgd");
    expect_patch_error("{\"optimizer\": {\"beta1\": 1}}", "/optimizer/beta1", "[0, 1)");
    expect_patch_error("{\"optimizer\": {\"beta2\": -0.5}}", "/optimizer/beta2", "[0, 1)");
    expect_patch_error("{\"optimizer\": {\"eps\": 0}}", "/optimizer/eps", "> 0");
    expect_patch_error("{\"optimizer\": {\"clip_norm\": -1}}", "/optimizer/clip_norm", ">= 0");
    expect_patch_error("{\"optimizer\": {\"momentum\": 0.9}}", "/optimizer/momentum", "unknown");
    expect_patch_error("{\"optimizer\": 3}", "/optimizer", "object");
    expect_patch_error("{\"loss\": {\"name\": \"hinge\"}}", "/loss/name", "cross_entropy");
    expect_patch_error("{\"loss\": {\"l2_weights\": -1}}", "/loss/l2_weights", ">= 0");
    expect_patch_error("{\"loss\": {\"l2_rates\": \"a\"}}", "/loss/l2_rates", "number");
    expect_patch_error("{\"loss\": {\"weights\": 1}}", "/loss/weights", "unknown");
    expect_patch_error("{\"trainable\": []}", "/trainable", "1 to 7");
    expect_patch_error("{\"trainable\": \"W\"}", "/trainable", "list");
    expect_patch_error("{\"trainable\": [\"W\", \"P\", \"M\"]}", "/trainable/2", "G_b|\"M\"");
    expect_patch_error("{\"trainable\": [\"W\", \"W\"]}", "/trainable/1", "once|W");
    expect_patch_error("{\"evaluate\": {\"every\": 0}}", "/evaluate/every", "integer");
    expect_patch_error("{\"evaluate\": {\"trials\": 100001}}", "/evaluate/trials", "100000");
    expect_patch_error("{\"evaluate\": {\"often\": 1}}", "/evaluate/often", "unknown");
    expect_patch_error("{\"test\": {\"trials\": -1}}", "/test/trials", "integer");
    expect_patch_error("{\"test\": {\"seed\": 1}}", "/test/seed", "unknown");
}

static void test_errors_task(void **state)
{
    (void)state;
    expect_patch_error("{\"task\": null}", "/task", "missing");
    expect_patch_error("{\"task\": {\"name\": null}}", "/task/name", "missing");
    expect_patch_error("{\"task\": {\"name\": \"go_no_go\"}}", "/task/name",
                       "perceptual_decision_making|go_no_go");
    expect_patch_error("{\"task\": {\"inputs\": [[[1]]]}}", "/task/inputs", "unknown");
    expect_patch_error("{\"task\": {\"timing\": {\"sample\": 100}}}", "/task/timing/sample",
                       "unknown period|fixation|stimulus");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": -5}}}", "/task/timing/fixation",
                       ">= 0|-5");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": \"long\"}}}",
                       "/task/timing/fixation", "uniform|choice|truncated_exponential");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": {\"uniform\": [400, 50]}}}}",
                       "/task/timing/fixation/uniform", "min <= max");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": {\"uniform\": [50]}}}}",
                       "/task/timing/fixation/uniform", "[min, max]|a list of 1");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": {\"uniform\": [50, \"x\"]}}}}",
                       "/task/timing/fixation/uniform/1", "number");
    expect_patch_error("{\"task\": {\"timing\": {\"fixation\": {\"choice\": []}}}}",
                       "/task/timing/fixation/choice", "1 to 16");
    expect_patch_error(
        "{\"task\": {\"timing\": {\"delay\": {\"truncated_exponential\": [0, 1, 2]}}}}",
        "/task/timing/delay/truncated_exponential/0", "> 0");
    expect_patch_error(
        "{\"task\": {\"timing\": {\"delay\": {\"truncated_exponential\": [10, 5, 2]}}}}",
        "/task/timing/delay/truncated_exponential", "min <= max");
    expect_patch_error("{\"task\": {\"timing\": {\"delay\": {\"gamma\": [1, 2]}}}}",
                       "/task/timing/delay/gamma", "unknown");
    expect_patch_error(
        "{\"task\": {\"timing\": {\"delay\": {\"uniform\": [1, 2], \"choice\": [1]}}}}",
        "/task/timing/delay", "exactly one");
    expect_patch_error("{\"task\": {\"timing\": {\"stimulus\": 5000000}}}", "/task/timing",
                       "100000 steps");
    expect_patch_error("{\"task\": {\"coherences\": []}}", "/task/coherences", "1 to 32");
    expect_patch_error("{\"task\": {\"coherences\": [0, -3]}}", "/task/coherences/1", "0 to 100");
    expect_patch_error("{\"task\": {\"coherences\": [100.5]}}", "/task/coherences/0", "0 to 100");
    expect_patch_error("{\"task\": {\"sigma\": -1}}", "/task/sigma", ">= 0");
    expect_patch_error("{\"task\": {\"name\": \"delay_match_sample\", \"coherences\": [1]}}",
                       "/task/coherences", "no coherences");
    expect_patch_error("{\"test\": {\"timing\": {\"stim\": 500}}}", "/test/timing/stim",
                       "unknown period");
    expect_patch_error("{\"test\": {\"coherences\": [\"a\"]}}", "/test/coherences/0", "number");
    /* memory: batch x longest trial x (inputs + outputs + label) values */
    expect_patch_error("{\"batch\": 4096, \"task\": {\"timing\": {\"stimulus\": 1900000}}}",
                       "/batch", "at most");
}

static const char *const custom_doc =
    "{\"model\": " MODEL_ID ", \"dt\": 1, \"task\": {\"name\": \"custom\", "
    "\"inputs\": [[[0, 1], [1, 0], [0, 0]], [[1, 1], [0, 0], [0, 1]]], "
    "\"labels\": [[0, 0, 2], [0, 1, 1]], \"mask\": [[1, 0, 2], [1, 1, 1]], \"lengths\": [3, 2]}}";

static eir_status parse_custom(const char *patch, eir_training_req **r, eir_error *e)
{
    json_t *j = jt_load(custom_doc);
    if (patch) {
        json_t *p = jt_load(patch);
        jt_merge(j, p);
        json_decref(p);
    }
    eir_error_clear(e);
    eir_status rc = eir_json_parse_training(j, NULL, r, e);
    json_decref(j);
    return rc;
}

static void expect_custom_error(const char *patch, const char *field, const char *parts)
{
    eir_training_req *r = NULL;
    eir_error e;
    JT_EXPECT_ERR(parse_custom(patch, &r, &e), e, field, parts);
    assert_null(r);
}

static void test_custom(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_error e;
    JT_OK(parse_custom(NULL, &r, &e), e);
    const eir_task_custom *cu = &r->task.custom;
    assert_int_equal(r->task.kind, EIR_TASK_CUSTOM);
    assert_int_equal(cu->n_trials, 2);
    assert_int_equal(cu->T, 3);
    assert_int_equal(cu->n_in, 2);
    assert_int_equal(cu->n_out, 3); /* largest label + 1, until the model says */
    assert_true(cu->x[0] == 0 && cu->x[1] == 1 && cu->x[11] == 1);
    assert_non_null(cu->label);
    assert_null(cu->target);
    assert_int_equal(cu->label[2], 2);
    assert_int_equal(cu->label[4], 1);
    assert_true(cu->mask[2] == 2 && cu->mask[1] == 0);
    assert_int_equal(cu->len[1], 2);
    assert_int_equal(r->train.loss, EIR_LOSS_CE);
    assert_int_equal(r->max_steps, 3);
    /* the model: 2 inputs, a readout of at least 3 outputs; n_out becomes the model's */
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = 4;
    d.n_i = 1;
    d.n_in = 2;
    d.n_out = 2;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/model/readout",
                  "at least 3 outputs|got 2");
    assert_int_equal(r->task.custom.n_out, 3);
    d.n_out = 4;
    JT_OK(eir_training_check_model(r, &d, NULL, &e), e);
    assert_int_equal(r->task.custom.n_out, 4);
    assert_int_equal(r->test_task.custom.n_out, 4);
    eir_training_req_free(r);

    /* labels train with mse too (one-hot targets, TASKS.md) */
    JT_OK(parse_custom("{\"loss\": {\"name\": \"mse\"}}", &r, &e), e);
    assert_int_equal(r->train.loss, EIR_LOSS_MSE);
    eir_training_req_free(r);

    /* targets: mse by default, a mask per output */
    JT_OK(parse_custom("{\"task\": {\"labels\": null, \"targets\": [[[1], [0], [1]], [[0], [0], "
                       "[1]]], \"mask\": [[[1], [1], [0]], [[1], [1], [1]]]}}",
                       &r, &e),
          e);
    assert_int_equal(r->train.loss, EIR_LOSS_MSE);
    assert_int_equal(r->task.custom.n_out, 1);
    assert_null(r->task.custom.label);
    assert_true(r->task.custom.target[2] == 1);
    eir_training_req_free(r);
}

static void test_custom_errors(void **state)
{
    (void)state;
    expect_custom_error("{\"task\": {\"inputs\": null}}", "/task/inputs", "missing");
    expect_custom_error("{\"task\": {\"inputs\": [[0, 1], [1, 0]]}}", "/task/inputs",
                        "shape [*, *, *]");
    expect_custom_error("{\"task\": {\"labels\": null}}", "/task/labels", "labels|targets");
    expect_custom_error("{\"task\": {\"targets\": [[[1]]]}}", "/task/targets", "both");
    expect_custom_error("{\"task\": {\"labels\": [[0, 0, 2]]}}", "/task/labels", "[2, 3]");
    expect_custom_error("{\"task\": {\"labels\": [[0, 0, 2], [0, 1.5, 1]]}}", "/task/labels/1/1",
                        "integer|1.5");
    expect_custom_error("{\"task\": {\"labels\": [[0, 0, 2], [0, -1, 1]]}}", "/task/labels/1/1",
                        "[0, 4095]");
    expect_custom_error("{\"task\": {\"mask\": [[1, 0, 2], [1, -1, 1]]}}", "/task/mask/1/1",
                        ">= 0");
    expect_custom_error("{\"task\": {\"mask\": [[[1], [0], [2]], [[1], [1], [1]]]}}", "/task/mask",
                        "[2, 3]");
    expect_custom_error("{\"task\": {\"lengths\": [3, 4]}}", "/task/lengths/1", "[1, 3]");
    expect_custom_error("{\"task\": {\"lengths\": [3]}}", "/task/lengths", "[2]");
    expect_custom_error("{\"task\": {\"sigma\": 1}}", "/task/sigma", "unknown");
    expect_custom_error("{\"task\": {\"timing\": {}}}", "/task/timing", "unknown");
    expect_custom_error("{\"task\": {\"labels\": null, \"mask\": null, \"targets\": [[[1], [0], "
                        "[1]], [[0], [0], [1]]]}, \"loss\": {\"name\": \"cross_entropy\"}}",
                        "/loss/name", "targets|mse|needs labels");
    expect_custom_error("{\"test\": {\"timing\": {\"stimulus\": 5}}}", "/test/timing",
                        "custom task");
    /* the custom arrays together are bounded before they are read */
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    lim.max_input_values = 15; /* inputs 12 + labels 6 */
    json_t *j = jt_load(custom_doc);
    eir_training_req *r = NULL;
    eir_error e;
    JT_EXPECT_ERR(eir_json_parse_training(j, &lim, &r, &e), e, "/task/labels",
                  "at most 15|got 18 with these 6");
    json_decref(j);
}

static void test_check_model(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_error e;
    JT_OK(parse_patched("{\"trainable\": [\"W\", \"A\"]}", &r, &e), e);
    eir_model_desc d;
    eir_model_desc_init(&d);
    d.n_e = 40;
    d.n_i = 10;
    d.n_in = eir_task_n_in(&r->task);
    d.n_out = eir_task_n_out(&r->task);
    d.cls = EIR_CLASS_GATED;
    d.form = EIR_FORM_REDUCED;
    JT_OK(eir_training_check_model(r, &d, NULL, &e), e);
    d.n_in++;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/model/n_inputs",
                  "input channels|perceptual_decision_making");
    d.n_in--;
    d.n_out = 0;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/model/readout",
                  "without readout");
    d.n_out = 2;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/model/readout", "got 2");
    d.n_out = eir_task_n_out(&r->task);
    d.cls = EIR_CLASS_DALE;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/trainable/1",
                  "class gated|reduced form|dale");
    d.cls = EIR_CLASS_GATED;
    d.form = EIR_FORM_CONDUCTANCE;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, NULL, &e), e, "/trainable/1", "conductance");
    d.form = EIR_FORM_REDUCED;
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    lim.max_recorded_values = (int64_t)r->batch * r->max_steps * 50 - 1;
    JT_EXPECT_ERR(eir_training_check_model(r, &d, &lim, &e), e, "/batch",
                  "backpropagation|smaller batch");
    lim.max_recorded_values++;
    JT_OK(eir_training_check_model(r, &d, &lim, &e), e);
    eir_training_req_free(r);
}

/* ------------------------------------------------------------------------------------------ */
/* The trained model document                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void hash_of_desc(const eir_model_desc *d, char hex[65])
{
    eir_model *m;
    eir_error e;
    JT_OK(eir_model_build(d, &m, &e), e);
    eir_model_hash(m, hex);
    eir_model_free(m);
}

/* Perturb @p n values (keeping signs and zeros, as a Dale-constrained training does). */
static double *perturbed(const double *x, size_t n, double scale)
{
    double *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * (1.0 + scale * (double)((i * 7919) % 13) / 13.0);
    return y;
}

/*
 * The model document @p file as an initial model; a "trained" description of it (every array
 * perturbed, A as a full matrix, leak and bias per cell); the writer's document must build to
 * the same hash, contain no recipe, and leave the initial document unchanged.
 */
static void check_writer(const char *file)
{
    json_t *initial = jt_load_file(file);
    json_t *before = json_deep_copy(initial);
    eir_model_spec *spec;
    eir_error e;
    JT_OK(eir_json_parse_model(initial, NULL, "", &spec, &e), e);
    eir_model_desc d = spec->desc;
    int N = d.n_e + d.n_i;
    size_t NN = (size_t)N * N;
    double *leak = malloc((size_t)N * sizeof *leak), *bias = malloc((size_t)N * sizeof *bias);
    assert_true(leak && bias);
    for (int i = 0; i < N; i++) {
        leak[i] = d.leak[d.leak_len == N ? i : 0] * (1.0 + 0.01 * i);
        bias[i] = 0.001 * (i - 2) / 3.0;
    }
    double *W = d.W ? perturbed(d.W, NN, 0.3) : NULL, *K = d.K ? perturbed(d.K, NN, 0.3) : NULL;
    double *P = d.n_in ? perturbed(d.P, (size_t)N * d.n_in, 0.1) : NULL;
    int cols = d.readout_from == EIR_READOUT_E ? d.n_e : N;
    double *W_out = d.n_out ? perturbed(d.W_out, (size_t)d.n_out * cols, 0.2) : NULL;
    double *b_out = NULL, *A = NULL;
    if (d.n_out) {
        b_out = malloc((size_t)d.n_out * sizeof *b_out);
        for (int o = 0; o < d.n_out; o++)
            b_out[o] = 0.1 / 3.0 * (o + 1);
    }
    if (d.cls == EIR_CLASS_GATED && d.form == EIR_FORM_REDUCED) {
        A = malloc(NN * sizeof *A);
        for (size_t k = 0; k < NN; k++)
            A[k] = 0.5 + (double)(k % 17) / 7.0;
        d.a_kind = EIR_A_MATRIX;
        d.A = A;
    }
    d.leak = leak;
    d.leak_len = N;
    d.bias = bias;
    d.bias_len = N;
    d.W = W;
    d.K = K;
    d.P = P;
    d.W_out = W_out;
    d.b_out = b_out;
    char want[65], got[65];
    hash_of_desc(&d, want);

    json_t *doc = eir_json_trained_model(initial, &d, "trained", &e);
    if (!doc) fail_msg("%s: %s: %s", file, e.field, e.message);
    assert_true(json_equal(initial, before));
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "trained");
    assert_false(eir_json_model_has_recipe(doc));
    const json_t *rec = json_object_get(doc, "recurrent");
    const json_t *arr = json_object_get(rec, d.form == EIR_FORM_REDUCED ? "W" : "K");
    assert_string_equal(json_string_value(json_object_get(arr, "dtype")), "float64");
    eir_model *m;
    JT_OK(eir_json_build_model(doc, NULL, "", &m, NULL, &e), e);
    eir_model_hash(m, got);
    eir_model_free(m);
    assert_string_equal(got, want);
    /* through text, as the store keeps it */
    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *again = jt_load(text);
    free(text);
    JT_OK(eir_json_build_model(again, NULL, "", &m, NULL, &e), e);
    eir_model_hash(m, got);
    eir_model_free(m);
    assert_string_equal(got, want);
    json_decref(again);
    /* a description that does not fit the document is refused */
    d.n_i++;
    assert_null(eir_json_trained_model(initial, &d, NULL, &e));
    assert_int_equal(e.status, EIR_EINVAL);
    json_decref(doc);
    json_decref(before);
    json_decref(initial);
    eir_model_spec_free(spec);
    free(leak);
    free(bias);
    free(W);
    free(K);
    free(P);
    free(W_out);
    free(b_out);
    free(A);
}

static void test_trained_model(void **state)
{
    (void)state;
    check_writer("schema/examples/model_small.json");                          /* gated, W */
    check_writer("schema/examples/requests/model_generated.json");             /* recipes */
    check_writer("schema/examples/requests/model_conductance_shunting.json");  /* K, M_in */
    check_writer("schema/examples/requests/model_dale.json");                  /* dale */
    check_writer("schema/examples/requests/model_rnn.json");                   /* rnn */
    check_writer("schema/examples/requests/model_generated_conductance.json"); /* K recipe */
}

/*
 * The writer on a real trained network: eir_net_new() from the model document @p file (with
 * the merge patch @p patch), theta moved away from its initial values (every slice, signs of
 * theta_W flipped here and there as Adam may do), eir_net_model_desc(); the document must build
 * to the hash of the model built from that description.
 */
static void check_writer_net_doc(json_t *initial, const char *file, const char *patch,
                                 unsigned trainable)
{
    if (patch) {
        json_t *p = jt_load(patch);
        jt_merge(initial, p);
        json_decref(p);
    }
    eir_model_spec *spec;
    eir_error e;
    JT_OK(eir_json_parse_model(initial, NULL, "", &spec, &e), e);
    eir_train_spec ts;
    eir_train_spec_init(&ts);
    ts.trainable = trainable;
    eir_net *net;
    JT_OK(eir_net_new(&spec->desc, &ts, &net, &e), e);
    double *theta = eir_net_theta(net);
    size_t n = eir_net_theta_len(net);
    for (size_t i = 0; i < n; i++)
        theta[i] = theta[i] * (1.0 + 0.25 * (double)(i % 5) / 5.0) + ((i % 7) == 3 ? -0.01 : 0.003);
    size_t off[EIR_NPARAMS], len[EIR_NPARAMS];
    eir_net_layout(net, off, len);
    for (int p = EIR_PARAM_A; p <= EIR_PARAM_G_B; p++) /* kept >= 0 / > 0 by the projection */
        for (size_t i = 0; i < len[p]; i++)
            if (theta[off[p] + i] <= 0) theta[off[p] + i] = 0.5;
    eir_model_desc d;
    eir_net_model_desc(net, &d);
    char want[65], got[65];
    hash_of_desc(&d, want);
    json_t *doc = eir_json_trained_model(initial, &d, NULL, &e);
    if (!doc) fail_msg("%s: %s: %s", file, e.field, e.message);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *again = jt_load(text);
    free(text);
    eir_model *m;
    JT_OK(eir_json_build_model(again, NULL, "", &m, NULL, &e), e);
    eir_model_hash(m, got);
    eir_model_free(m);
    assert_string_equal(got, want);
    /* the initial model differs: training changed it */
    JT_OK(eir_json_build_model(initial, NULL, "", &m, NULL, &e), e);
    eir_model_hash(m, got);
    eir_model_free(m);
    assert_string_not_equal(got, want);
    json_decref(again);
    json_decref(doc);
    eir_net_free(net);
    eir_model_spec_free(spec);
    json_decref(initial);
}

static void check_writer_net(const char *file, const char *patch, unsigned trainable)
{
    check_writer_net_doc(jt_load_file(file), file, patch, trainable);
}

static void test_trained_model_from_net(void **state)
{
    (void)state;
    unsigned def = (1u << EIR_PARAM_W) | (1u << EIR_PARAM_P) | (1u << EIR_PARAM_BIAS) |
                   (1u << EIR_PARAM_W_OUT) | (1u << EIR_PARAM_B_OUT);
    unsigned all = (1u << EIR_NPARAMS) - 1;
    check_writer_net("schema/examples/model_small.json", NULL, all);
    check_writer_net("schema/examples/model_small.json", NULL, def);
    check_writer_net("schema/examples/requests/model_dale.json", NULL, def | (1u << EIR_PARAM_G_B));
    check_writer_net("schema/examples/requests/model_rnn.json",
                     "{\"readout\": {\"W_out\": [[0.1, -0.2, 0.3, 0.05]]}}", def);
    check_writer_net("schema/examples/requests/model_conductance_shunting.json",
                     "{\"readout\": {\"W_out\": [[0.1, 0.2, 0.3, 0.4, 0.5]], \"b_out\": 0.5}}",
                     def | (1u << EIR_PARAM_G_B));
    /* generated recurrent and input recipes, readout from E */
    json_t *j = jt_load_file("schema/examples/training_pdm_gated.json");
    check_writer_net_doc(json_deep_copy(json_object_get(j, "model")), "training_pdm_gated.json",
                         NULL, all);
    json_decref(j);
}

static void test_trained_model_keeps_fields(void **state)
{
    (void)state;
    json_t *initial = jt_load_file("schema/examples/model_small.json");
    eir_model_spec *spec;
    eir_error e;
    JT_OK(eir_json_parse_model(initial, NULL, "", &spec, &e), e);
    json_t *doc = eir_json_trained_model(initial, &spec->desc, NULL, &e);
    assert_non_null(doc);
    const char *kept[] = {"name", "description", "class", "populations", "n_inputs", "activation"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        assert_true(json_equal(json_object_get(doc, kept[i]), json_object_get(initial, kept[i])));
    const json_t *rec = json_object_get(doc, "recurrent");
    assert_true(json_equal(json_object_get(rec, "dale"),
                           json_object_get(json_object_get(initial, "recurrent"), "dale")));
    /* the initial A per type is written in its own shape: {"E": a_E, "I": a_I} */
    assert_true(json_is_object(json_object_get(rec, "A")));
    assert_true(json_is_number(json_object_get(json_object_get(rec, "A"), "E")));
    json_decref(doc);
    eir_model_spec_free(spec);
    json_decref(initial);
}

/* ------------------------------------------------------------------------------------------ */
/* Curve and evaluation                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void test_curve(void **state)
{
    (void)state;
    eir_train_row tr = {.iteration = 7,
                        .loss = {.total = 0.1, .task = 0.09, .l2_weights = 0.01, .l2_rates = 0},
                        .grad_norm = 1.0 / 3.0,
                        .accuracy = NAN};
    eir_curve_row row;
    eir_curve_row_from_train(&tr, &row);
    assert_true(isnan(row.eval_accuracy));
    assert_int_equal(row.iteration, 7);
    json_t *j = eir_json_curve_row(&row);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    /* the columns in order, NaN as null */
    assert_non_null(strstr(s, "{\"iteration\":7,\"loss\":"));
    assert_non_null(strstr(s, ",\"accuracy\":null,\"eval_accuracy\":null}"));
    free(s);
    const char *cols[] = {"loss", "task_loss", "l2_weights", "l2_rates", "grad_norm"};
    const double vals[] = {0.1, 0.09, 0.01, 0, 1.0 / 3.0};
    for (int i = 0; i < 5; i++)
        assert_true(json_real_value(json_object_get(j, cols[i])) == vals[i]);
    json_decref(j);
    char buf[EIR_CURVE_CSV_MAX];
    size_t n = eir_csv_curve_row(&row, buf, sizeof buf);
    assert_string_equal(buf, "7,0.1,0.09,0.01,0,0.33333333333333331,,\n");
    assert_int_equal(n, strlen(buf));
    /* the header names the same columns */
    assert_string_equal(eir_csv_curve_header(),
                        "iteration,loss,task_loss,l2_weights,l2_rates,grad_norm,accuracy,"
                        "eval_accuracy\n");
    row.eval_accuracy = 0.875;
    row.accuracy = INFINITY;
    n = eir_csv_curve_row(&row, buf, sizeof buf);
    assert_string_equal(buf, "7,0.1,0.09,0.01,0,0.33333333333333331,,0.875\n");
    assert_int_equal(eir_csv_curve_row(&row, buf, 10), 0);
    assert_string_equal(buf, "");
}

static void test_eval(void **state)
{
    (void)state;
    eir_task_eval ev;
    memset(&ev, 0, sizeof ev);
    ev.score.trials = 1000;
    ev.score.correct = 865;
    ev.score.accuracy = 0.865;
    ev.ideal = NAN;
    ev.loss.total = 0.25;
    ev.loss.task = 0.25;
    ev.n_psy = 2;
    ev.psy[0] = (eir_psy_point){.coherence = -6.4, .n = 100, .p_choice2 = 0.25};
    ev.psy[1] = (eir_psy_point){.coherence = 6.4, .n = 90, .p_choice2 = 0.75};
    json_t *j = eir_json_task_eval(&ev);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "trials")), 1000);
    assert_int_equal(json_integer_value(json_object_get(j, "correct")), 865);
    assert_true(json_real_value(json_object_get(j, "accuracy")) == 0.865);
    assert_true(json_is_null(json_object_get(j, "ideal")));
    assert_true(json_real_value(json_object_get(json_object_get(j, "loss"), "task")) == 0.25);
    const json_t *psy = json_object_get(j, "psychometric");
    assert_int_equal(json_array_size(psy), 2);
    assert_true(json_real_value(json_object_get(json_array_get(psy, 0), "coherence")) == -6.4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(psy, 1), "n")), 90);
    assert_true(json_real_value(json_object_get(json_array_get(psy, 1), "p_choice2")) == 0.75);
    json_decref(j);
    ev.n_psy = 0;
    j = eir_json_task_eval(&ev);
    assert_int_equal(json_array_size(json_object_get(j, "psychometric")), 0);
    json_decref(j);
}

/* The rows eir_task_train() reports, as the curve helpers write them. */
typedef struct curve_ctx {
    int rows;
    int64_t last;
    char csv[8][EIR_CURVE_CSV_MAX];
} curve_ctx;

static int on_row(void *ctx, const eir_train_row *row, const eir_net *n, const eir_adam *a)
{
    (void)n;
    (void)a;
    curve_ctx *c = ctx;
    eir_curve_row cr;
    eir_curve_row_from_train(row, &cr);
    json_t *j = eir_json_curve_row(&cr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "iteration")), row->iteration);
    assert_true(json_real_value(json_object_get(j, "loss")) == row->loss.total);
    assert_true(json_is_null(json_object_get(j, "eval_accuracy")));
    json_decref(j);
    if (c->rows < 8) assert_true(eir_csv_curve_row(&cr, c->csv[c->rows], EIR_CURVE_CSV_MAX) > 0);
    c->rows++;
    c->last = row->iteration;
    return 0;
}

/*
 * The whole contract with the engine: training_custom.json parsed, its inline model built and
 * checked, a few iterations of eir_task_train() reported through the curve helpers, the final
 * evaluation as JSON, and the trained model document building to the trained network's hash.
 */
static void test_end_to_end(void **state)
{
    (void)state;
    eir_training_req *r;
    eir_model_spec *spec;
    eir_error e;
    json_t *j = jt_load_file("schema/examples/training_custom.json");
    JT_OK(eir_json_parse_training(j, NULL, &r, &e), e);
    json_decref(j);
    JT_OK(eir_json_parse_model(r->model, NULL, "/model", &spec, &e), e);
    JT_OK(eir_training_check_model(r, &spec->desc, NULL, &e), e);
    assert_int_equal(r->task.custom.n_out, 2); /* the model's readout */
    eir_net *net;
    eir_adam *adam;
    JT_OK(eir_net_new(&spec->desc, &r->train, &net, &e), e);
    JT_OK(eir_adam_new(net, &r->train, &adam, &e), e);
    curve_ctx c = {0};
    JT_OK(eir_task_train(net, adam, &r->task, &r->train, r->batch, 0, 5, on_row, &c, &e), e);
    assert_int_equal(c.rows, 5);
    assert_int_equal(c.last, 5);
    assert_true(strncmp(c.csv[0], "1,", 2) == 0);
    assert_int_equal(strchr(c.csv[4], '\n') - c.csv[4] + 1, (long)strlen(c.csv[4]));

    eir_task_eval ev;
    JT_OK(eir_task_evaluate(net, &r->test_task, &r->train, eir_train_stream(r->train.seed, 0, 3),
                            r->test_trials, &ev, &e),
          e);
    json_t *evj = eir_json_task_eval(&ev);
    assert_non_null(evj);
    assert_int_equal(json_integer_value(json_object_get(evj, "trials")), ev.score.trials);
    assert_true(json_is_array(json_object_get(evj, "psychometric")));
    json_decref(evj);

    eir_model_desc d;
    eir_net_model_desc(net, &d);
    char want[65], got[65];
    hash_of_desc(&d, want);
    json_t *doc = eir_json_trained_model(r->model, &d, "tiny-rnn trained", &e);
    assert_non_null(doc);
    eir_model *m;
    JT_OK(eir_json_build_model(doc, NULL, "", &m, NULL, &e), e);
    eir_model_hash(m, got);
    eir_model_free(m);
    assert_string_equal(got, want);
    json_decref(doc);
    eir_adam_free(adam);
    eir_net_free(net);
    eir_model_spec_free(spec);
    eir_training_req_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_cdm),
        cmocka_unit_test(test_example_inline),
        cmocka_unit_test(test_errors_top),
        cmocka_unit_test(test_errors_optimizer_loss),
        cmocka_unit_test(test_errors_task),
        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_custom_errors),
        cmocka_unit_test(test_check_model),
        cmocka_unit_test(test_trained_model),
        cmocka_unit_test(test_trained_model_from_net),
        cmocka_unit_test(test_trained_model_keeps_fields),
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
