/**
 * @file test_json_patch.c
 * @brief eir_json_patch_pointer(): RFC 6901 pointers, the copy shares untouched subtrees and
 *        leaves the original as it was, a missing last member is added, and every refusal
 *        names the pointer.
 */
#include "json_test_util.h"

static const char *const DOC =
    "{\"model\": {\"recurrent\": {\"A\": {\"E\": 0.1, \"I\": 0.2}, \"W\": [[1, 2], [3, 4]]},"
    " \"leak\": 1.0, \"a/b\": 1, \"m~n\": 2},"
    " \"run\": {\"seed\": 1, \"inputs\": {\"steps\": 10, \"segments\": [{\"from\": 0}]}}}";

static json_t *patch_ok(const json_t *doc, const char *ptr, const char *value_text)
{
    json_t *v = jt_load(value_text);
    eir_error e;
    eir_error_clear(&e);
    json_t *out = eir_json_patch_pointer(doc, ptr, v, &e);
    if (!out) {
        print_error("patch %s failed: %s: %s\n", ptr, e.field, e.message);
        fail();
    }
    json_decref(v);
    return out;
}

static void patch_err(const json_t *doc, const char *ptr, const char *parts)
{
    json_t *v = json_integer(5);
    eir_error e;
    eir_error_clear(&e);
    json_t *out = eir_json_patch_pointer(doc, ptr, v, &e);
    assert_null(out);
    JT_EXPECT_ERR(e.status, e, ptr, parts);
    json_decref(v);
}

static void test_replace_and_share(void **state)
{
    (void)state;
    json_t *doc = jt_load(DOC);
    json_t *before = json_deep_copy(doc);
    json_t *out = patch_ok(doc, "/model/recurrent/A/E", "0.05");
    /* the original is untouched */
    assert_true(json_equal(doc, before));
    /* the new value is there, the rest equal */
    assert_true(
        json_real_value(json_object_get(
            json_object_get(json_object_get(json_object_get(out, "model"), "recurrent"), "A"),
            "E")) == 0.05);
    json_t *expect = jt_load(DOC);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(expect, "model"), "recurrent"), "A"), "E",
        json_real(0.05));
    assert_true(json_equal(out, expect));
    /* subtrees off the path are the same objects; those on it are copies */
    json_t *dm = json_object_get(doc, "model"), *om = json_object_get(out, "model");
    assert_ptr_not_equal(dm, om);
    assert_ptr_equal(json_object_get(doc, "run"), json_object_get(out, "run"));
    assert_ptr_equal(json_object_get(json_object_get(dm, "recurrent"), "W"),
                     json_object_get(json_object_get(om, "recurrent"), "W"));
    assert_ptr_equal(json_object_get(dm, "leak"), json_object_get(om, "leak"));
    json_decref(expect);
    json_decref(out);
    json_decref(before);
    json_decref(doc);
}

static void test_arrays_escapes_add(void **state)
{
    (void)state;
    json_t *doc = jt_load(DOC);
    json_t *out = patch_ok(doc, "/model/recurrent/W/1/0", "[9]");
    json_t *w = json_object_get(json_object_get(json_object_get(out, "model"), "recurrent"), "W");
    json_t *cell = json_array_get(json_array_get(w, 1), 0);
    assert_int_equal(json_array_size(cell), 1);
    assert_int_equal(json_integer_value(json_array_get(cell, 0)), 9);
    json_t *w_doc =
        json_object_get(json_object_get(json_object_get(doc, "model"), "recurrent"), "W");
    assert_ptr_equal(json_array_get(w, 0), json_array_get(w_doc, 0));
    assert_int_equal(json_integer_value(json_array_get(json_array_get(w_doc, 1), 0)), 3);
    json_decref(out);
    /* ~1 is "/", ~0 is "~" */
    out = patch_ok(doc, "/model/a~1b", "7");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "model"), "a/b")), 7);
    json_decref(out);
    out = patch_ok(doc, "/model/m~0n", "8");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "model"), "m~n")), 8);
    json_decref(out);
    /* a missing last member is added; the original does not get it */
    out = patch_ok(doc, "/run/metrics", "{\"windows\": []}");
    assert_non_null(json_object_get(json_object_get(out, "run"), "metrics"));
    assert_null(json_object_get(json_object_get(doc, "run"), "metrics"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "run"), "seed")), 1);
    json_decref(out);
    out = patch_ok(doc, "/run/inputs/segments/0/to", "4");
    assert_int_equal(
        json_object_size(json_array_get(
            json_object_get(json_object_get(json_object_get(out, "run"), "inputs"), "segments"),
            0)),
        2);
    json_decref(out);
    /* "" is the whole document */
    json_t *v = json_integer(3);
    eir_error e;
    out = eir_json_patch_pointer(doc, "", v, &e);
    assert_ptr_equal(out, v);
    json_decref(out);
    json_decref(v);
    json_decref(doc);
}

static void test_refusals(void **state)
{
    (void)state;
    json_t *doc = jt_load(DOC);
    patch_err(doc, "model/leak", "starting with \"/\"");
    patch_err(doc, "/model/nothing/A", "no member \"nothing\"|/model");
    patch_err(doc, "/model/leak/x", "\"x\"|/model/leak|is 1, not an object");
    patch_err(doc, "/model/recurrent/W/2", "index below 2|/model/recurrent/W|\"2\"");
    patch_err(doc, "/model/recurrent/W/-", "index below 2|\"-\"");
    patch_err(doc, "/model/recurrent/W/01", "index below 2|\"01\"");
    patch_err(doc, "/model/recurrent/W/x", "index below 2");
    patch_err(doc, "/model/a~2b", "~ to be followed by 0 or 1");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace_and_share),
        cmocka_unit_test(test_arrays_escapes_add),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
