/**
 * @file test_json_sweep.c
 * @brief The sweep request (eir_json_parse_sweep()): fields, axes, modes, point counts and
 *        every refusal with its field; point order of grid and zip (eir_sweep_point_index()).
 */
#include "json_test_util.h"

static const char *const SWEEP =
    "{\"name\": \"isn\", \"model_id\": \"m_1\","
    " \"run\": {\"dt\": 0.1, \"inputs\": {\"steps\": 100, \"trials\": 2}, \"seed\": 1},"
    " \"axes\": [{\"path\": \"/model/recurrent/A/E\", \"values\": [0, 0.05, 0.1]},"
    "            {\"path\": \"/run/seed\", \"values\": [1, 2, 3, 4]}]}";

static void sweep_err_max(const char *patch, int64_t max_points, const char *field,
                          const char *parts)
{
    json_t *j = jt_patched(SWEEP, patch);
    eir_sweep_spec s;
    eir_error e;
    eir_error_clear(&e);
    JT_EXPECT_ERR(eir_json_parse_sweep(j, max_points, &s, &e), e, field, parts);
    assert_int_equal(s.n_axes, 0);
    assert_null(s.run);
    json_decref(j);
}

static void sweep_err(const char *patch, const char *field, const char *parts)
{
    sweep_err_max(patch, 10000, field, parts);
}

static void test_grid(void **state)
{
    (void)state;
    json_t *j = jt_load(SWEEP);
    eir_sweep_spec s;
    eir_error e;
    JT_OK(eir_json_parse_sweep(j, 10000, &s, &e), e);
    assert_string_equal(s.name, "isn");
    assert_string_equal(s.model_id, "m_1");
    assert_null(s.model);
    assert_ptr_equal(s.run, json_object_get(j, "run"));
    assert_int_equal(s.n_axes, 2);
    assert_string_equal(s.paths[0], "/model/recurrent/A/E");
    assert_string_equal(s.paths[1], "/run/seed");
    assert_int_equal(json_array_size(s.values[1]), 4);
    assert_int_equal(s.model_axes, 1);
    assert_int_equal(s.mode, EIR_SWEEP_GRID);
    assert_int_equal(s.points, 12);
    assert_null(s.metrics);
    assert_null(s.labels);
    /* row-major: the last axis varies fastest */
    int64_t idx[EIR_SWEEP_MAX_AXES];
    for (int64_t i = 0; i < 12; i++) {
        eir_sweep_point_index(&s, i, idx);
        assert_int_equal(idx[0], i / 4);
        assert_int_equal(idx[1], i % 4);
    }
    json_decref(j);
}

static void test_zip_inline_metrics_labels(void **state)
{
    (void)state;
    json_t *j = jt_patched(SWEEP, "{\"model_id\": null, \"name\": null,"
                                  " \"model\": {\"populations\": {\"E\": 1, \"I\": 1}},"
                                  " \"mode\": \"zip\","
                                  " \"axes\": [{\"path\": \"/run/seed\", \"values\": [1, 2, 3]},"
                                  " {\"path\": \"/run/dt\", \"values\": [0.1, 0.2, 0.3]},"
                                  " {\"path\": \"/run/a~1b\", \"values\": [{}, [], null]}],"
                                  " \"metrics\": {\"windows\": []},"
                                  " \"labels\": {\"project\": \"isn\"}}");
    eir_sweep_spec s;
    eir_error e;
    JT_OK(eir_json_parse_sweep(j, 0, &s, &e), e);
    assert_null(s.model_id);
    assert_null(s.name);
    assert_ptr_equal(s.model, json_object_get(j, "model"));
    assert_int_equal(s.mode, EIR_SWEEP_ZIP);
    assert_int_equal(s.points, 3);
    assert_int_equal(s.model_axes, 0);
    assert_ptr_equal(s.metrics, json_object_get(j, "metrics"));
    assert_ptr_equal(s.labels, json_object_get(j, "labels"));
    int64_t idx[EIR_SWEEP_MAX_AXES];
    eir_sweep_point_index(&s, 2, idx);
    assert_true(idx[0] == 2 && idx[1] == 2 && idx[2] == 2);
    json_decref(j);
}

static void test_point_limit(void **state)
{
    (void)state;
    json_t *j = jt_load(SWEEP);
    eir_sweep_spec s;
    eir_error e;
    JT_OK(eir_json_parse_sweep(j, 12, &s, &e), e);
    JT_EXPECT_ERR(eir_json_parse_sweep(j, 11, &s, &e), e, "/axes", "at most 11 points|got 12");
    json_decref(j);
    /* 16 axes of 20 values: the product overflows nothing and is refused */
    json_t *axes = json_array();
    for (int a = 0; a < 16; a++) {
        json_t *vals = json_array();
        for (int k = 0; k < 20; k++)
            json_array_append_new(vals, json_integer(k));
        char path[32];
        snprintf(path, sizeof path, "/run/x%d", a);
        json_array_append_new(axes, json_pack("{s:s, s:o}", "path", path, "values", vals));
    }
    j = jt_load(SWEEP);
    json_object_set_new(j, "axes", axes);
    JT_EXPECT_ERR(eir_json_parse_sweep(j, 0, &s, &e), e, "/axes",
                  "at most 1000000 points|got more than");
    json_decref(j);
}

static void test_refusals(void **state)
{
    (void)state;
    sweep_err("{\"extra\": 1}", "/extra", "unknown field");
    sweep_err("{\"model\": {}}", "/model", "exactly one");
    sweep_err("{\"model_id\": null}", "/model_id", "missing|model_id");
    sweep_err("{\"model_id\": \"\"}", "/model_id", "non-empty string");
    sweep_err("{\"model_id\": null, \"model\": [1]}", "/model", "model object");
    sweep_err("{\"run\": null}", "/run", "missing");
    sweep_err("{\"run\": 3}", "/run", "run object");
    sweep_err("{\"run\": {\"model_id\": \"m_2\"}}", "/run/model_id", "top of the sweep");
    sweep_err("{\"run\": {\"model\": {}}}", "/run/model", "top of the sweep");
    sweep_err("{\"name\": 5}", "/name", "string");
    sweep_err("{\"mode\": \"cartesian\"}", "/mode", "grid|zip");
    sweep_err("{\"metrics\": []}", "/metrics", "metrics object");
    sweep_err("{\"labels\": {\"a b\": \"x\"}}", "/labels/a b", "A-Z");
    sweep_err("{\"axes\": null}", "/axes", "missing");
    sweep_err("{\"axes\": []}", "/axes", "1 to 16 axes|a list of 0");
    sweep_err("{\"axes\": {}}", "/axes", "1 to 16 axes|object");
    sweep_err("{\"axes\": [3]}", "/axes/0", "axis");
    sweep_err("{\"axes\": [{\"path\": \"/run/seed\"}]}", "/axes/0/values", "missing|values");
    sweep_err("{\"axes\": [{\"values\": [1]}]}", "/axes/0/path", "missing|path");
    sweep_err("{\"axes\": [{\"path\": \"/run/seed\", \"values\": [], \"x\": 1}]}", "/axes/0/x",
              "unknown field");
    sweep_err("{\"axes\": [{\"path\": \"/run/seed\", \"values\": []}]}", "/axes/0/values",
              "non-empty|empty list");
    sweep_err("{\"axes\": [{\"path\": \"/run/seed\", \"values\": 3}]}", "/axes/0/values",
              "non-empty list|got 3");
    sweep_err("{\"axes\": [{\"path\": 3, \"values\": [1]}]}", "/axes/0/path", "JSON pointer");
    sweep_err("{\"axes\": [{\"path\": \"/seed\", \"values\": [1]}]}", "/axes/0/path",
              "/model/...|/run/...|\"/seed\"");
    sweep_err("{\"axes\": [{\"path\": \"/run/\", \"values\": [1]}]}", "/axes/0/path",
              "JSON pointer");
    sweep_err("{\"axes\": [{\"path\": \"/run\", \"values\": [1]}]}", "/axes/0/path",
              "JSON pointer");
    sweep_err("{\"axes\": [{\"path\": \"/model\", \"values\": [{}]}]}", "/axes/0/path",
              "JSON pointer");
    sweep_err("{\"axes\": [{\"path\": \"/run/model_id\", \"values\": [\"m_2\"]}]}", "/axes/0/path",
              "/model/... axes");
    sweep_err("{\"axes\": [{\"path\": \"/run/model/leak\", \"values\": [1]}]}", "/axes/0/path",
              "/model/... axes");
    sweep_err("{\"axes\": [{\"path\": \"/run/a~2\", \"values\": [1]}]}", "/axes/0/path",
              "~ to be followed");
    sweep_err("{\"metrics\": {}, \"axes\": [{\"path\": \"/run/metrics/settle\", \"values\": [1]}]}",
              "/axes/0/path", "replaces every point's /run/metrics");
    sweep_err("{\"axes\": [{\"path\": \"/run/seed\", \"values\": [1]},"
              " {\"path\": \"/run/seed\", \"values\": [2]}]}",
              "/axes/1/path", "overlaps axis 0");
    sweep_err("{\"axes\": [{\"path\": \"/run/inputs\", \"values\": [1]},"
              " {\"path\": \"/run/inputs/steps\", \"values\": [2]}]}",
              "/axes/1/path", "overlaps axis 0");
    sweep_err("{\"mode\": \"zip\"}", "/axes/1/values", "expected 3 values|zip|got 4");
    char many[2048] = "{\"axes\": [";
    for (int a = 0; a < 17; a++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{\"path\": \"/run/x%d\", \"values\": [1]}", a ? ", " : "", a);
    strcat(many, "]}");
    sweep_err(many, "/axes", "1 to 16|a list of 17");
    /* the whole document */
    json_t *j = jt_load("[1]");
    eir_sweep_spec s;
    eir_error e;
    JT_EXPECT_ERR(eir_json_parse_sweep(j, 0, &s, &e), e, "", "sweep object");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_zip_inline_metrics_labels),
        cmocka_unit_test(test_point_limit),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
