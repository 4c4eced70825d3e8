/**
 * @file test_json_labels.c
 * @brief FORMAT.md "Labels": eir_json_check_labels() limits and errors, and "labels" accepted
 *        (checked, otherwise ignored) at the top of model and run documents.
 */
#include "json_test_util.h"

static const char *const MODEL =
    "{\"populations\": {\"E\": 1, \"I\": 1}, \"n_inputs\": 0, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": [[0, -1], [1, 0]], \"A\": 1.0}}";

static void labels_err(const char *text, const char *field, const char *parts)
{
    json_t *j = jt_load(text);
    eir_error e;
    eir_error_clear(&e);
    JT_EXPECT_ERR(eir_json_check_labels(j, "/labels", &e), e, field, parts);
    json_decref(j);
}

static void test_accepts(void **state)
{
    (void)state;
    eir_error e;
    JT_OK(eir_json_check_labels(NULL, "/labels", &e), e);
    json_t *j = jt_load("{}");
    JT_OK(eir_json_check_labels(j, "/labels", &e), e);
    json_decref(j);
    j = jt_load("{\"project\": \"isn\", \"a.b-c_D9\": \"\", \"sweep\": \"s_1\","
                " \"note\": \"caf\\u00e9 with spaces\"}");
    JT_OK(eir_json_check_labels(j, "/labels", &e), e);
    json_decref(j);
    /* 64 members, a 63-character key and a 255-byte value are the limits */
    j = json_object();
    for (int i = 0; i < 64; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(j, k, json_string("v"));
    }
    char key[64], val[256];
    memset(key, 'k', 63);
    key[63] = '\0';
    memset(val, 'v', 255);
    val[255] = '\0';
    json_object_del(j, "k0");
    json_object_set_new(j, key, json_string(val));
    JT_OK(eir_json_check_labels(j, "/labels", &e), e);
    json_object_set_new(j, "one_more", json_string("x"));
    JT_EXPECT_ERR(eir_json_check_labels(j, "/labels", &e), e, "/labels", "at most 64|65");
    json_decref(j);
}

static void test_rejects(void **state)
{
    (void)state;
    labels_err("[]", "/labels", "object|array");
    labels_err("\"x\"", "/labels", "object|string");
    labels_err("{\"project\": 1}", "/labels/project", "string|got 1");
    labels_err("{\"project\": null}", "/labels/project", "string|null");
    labels_err("{\"\": \"x\"}", "/labels/", "1 to 63|got 0");
    labels_err("{\"a b\": \"x\"}", "/labels/a b", "A-Z|character 2");
    labels_err("{\"a/b\": \"x\"}", "/labels/a~1b", "A-Z|character 2");
    labels_err("{\"k\": \"a\\nb\"}", "/labels/k", "control|byte 1");
    json_t *nul = json_pack("{s:o}", "k", json_stringn("a\0b", 3)); /* as JSON_ALLOW_NUL reads */
    eir_error e;
    JT_EXPECT_ERR(eir_json_check_labels(nul, "/labels", &e), e, "/labels/k", "control|byte 1");
    json_decref(nul);
    char text[400];
    snprintf(text, sizeof text, "{\"%0*d\": \"x\"}", 64, 0);
    char field[100];
    snprintf(field, sizeof field, "/labels/%0*d", 64, 0);
    labels_err(text, field, "1 to 63|got 64");
    char val[300];
    memset(val, 'v', 256);
    val[256] = '\0';
    snprintf(text, sizeof text, "{\"k\": \"%s\"}", val);
    labels_err(text, "/labels/k", "at most 255 bytes|256");
}

static void test_model_and_run_documents(void **state)
{
    (void)state;
    eir_error e;
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    json_t *j = jt_patched(MODEL, "{\"labels\": {\"project\": \"isn\"}}");
    JT_OK(eir_json_build_model(j, NULL, "", &m, NULL, &e), e);
    eir_model_shape shape;
    JT_OK(eir_json_model_shape(j, NULL, "", &shape, &e), e);
    assert_int_equal(shape.n, 2);
    json_decref(j);
    j = jt_patched(MODEL, "{\"labels\": {\"project\": 7}}");
    JT_EXPECT_ERR(eir_json_parse_model(j, NULL, "", &spec, &e), e, "/labels/project", "string");
    JT_EXPECT_ERR(eir_json_model_shape(j, NULL, "", &shape, &e), e, "/labels/project", "string");
    JT_EXPECT_ERR(eir_json_parse_model(j, NULL, "/model", &spec, &e), e, "/model/labels/project",
                  "string");
    assert_null(spec);
    json_decref(j);

    eir_run_spec *s = NULL;
    j = jt_load("{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": {\"steps\": 3},"
                " \"labels\": {\"project\": \"isn\", \"arm\": \"a\"}}");
    JT_OK(eir_json_parse_run(j, m, NULL, &s, &e), e);
    assert_int_equal(s->desc.T, 3);
    eir_run_spec_free(s);
    json_decref(j);
    j = jt_load("{\"model_id\": \"m_1\", \"dt\": 0.1, \"inputs\": {\"steps\": 3},"
                " \"labels\": {\"bad key\": \"x\"}}");
    JT_EXPECT_ERR(eir_json_parse_run(j, m, NULL, &s, &e), e, "/labels/bad key", "A-Z");
    assert_null(s);
    json_decref(j);
    eir_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_model_and_run_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
