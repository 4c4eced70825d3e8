/**
 * @file json_test_util.h
 * @brief Helpers for the JSON contract tests: parsing documents as callers do, RFC 7386 merge
 *        patches on a base document, binary array objects, and error assertions that check
 *        the field pointer exactly and the message by substrings. Header-only.
 */
#ifndef JSON_TEST_UTIL_H
#define JSON_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_json.h"

/** Parse @p text as callers do (duplicates rejected); fails the test on a syntax error. */
static inline json_t *jt_load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) {
        print_error("bad test JSON at line %d: %s\n%s\n", je.line, je.text, text);
        fail();
    }
    return j;
}

/** Load a file under the source tree (e.g. "schema/examples/model_small.json"). */
static inline json_t *jt_load_file(const char *rel)
{
    char path[1024];
    json_error_t je;
    snprintf(path, sizeof path, "%s/%s", EIR_SOURCE_DIR, rel);
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        print_error("cannot load %s: %s\n", path, je.text);
        fail();
    }
    return j;
}

/** RFC 7386 merge patch: objects merge recursively, null deletes, anything else replaces. */
static inline void jt_merge(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)patch, key, val)
    {
        json_t *cur = json_object_get(target, key);
        if (json_is_null(val))
            json_object_del(target, key);
        else if (json_is_object(val) && json_is_object(cur) && !json_object_get(val, "base64"))
            jt_merge(cur, val);
        else
            json_object_set(target, key, val);
    }
}

/** @p base with the merge patch @p patch (JSON text, may be NULL) applied. */
static inline json_t *jt_patched(const char *base, const char *patch)
{
    json_t *j = jt_load(base);
    if (patch) {
        json_t *p = jt_load(patch);
        jt_merge(j, p);
        json_decref(p);
    }
    return j;
}

/** Case-insensitive substring test. */
static inline int jt_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

/**
 * Fail unless @p e is an EIR_EINVAL error whose field is exactly @p field and whose message
 * contains every "|"-separated substring of @p parts (case-insensitive).
 */
#define JT_EXPECT_ERR(rc, e, want_field, parts)                                                    \
    jt_expect_err(__FILE__, __LINE__, (rc), &(e), (want_field), (parts))

static inline void jt_expect_err(const char *file, int line, eir_status rc, const eir_error *e,
                                 const char *field, const char *parts)
{
    char buf[512];
    if (getenv("JT_SHOW")) /* JT_SHOW=1 prints every checked error, to review the wording */
        fprintf(stderr, "  %-36s %s\n", e->field, e->message);
    if (rc != EIR_EINVAL || e->status != EIR_EINVAL) {
        print_error("%s:%d: expected EIR_EINVAL, got %d (field \"%s\", message \"%s\")\n", file,
                    line, (int)rc, e->field, e->message);
        fail();
    }
    if (strcmp(e->field, field) != 0) {
        print_error("%s:%d: expected field \"%s\", got \"%s\" (message \"%s\")\n", file, line,
                    field, e->field, e->message);
        fail();
    }
    snprintf(buf, sizeof buf, "%s", parts);
    for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|")) {
        if (!jt_contains(e->message, tok)) {
            print_error("%s:%d: message \"%s\" (field %s) lacks \"%s\"\n", file, line, e->message,
                        e->field, tok);
            fail();
        }
    }
}

/** Fail unless @p rc is EIR_OK, printing the error. */
#define JT_OK(rc, e)                                                                               \
    do {                                                                                           \
        eir_status jt_rc_ = (rc);                                                                  \
        if (jt_rc_ != EIR_OK) {                                                                    \
            print_error("%s:%d: expected EIR_OK, got %d: field \"%s\": %s\n", __FILE__, __LINE__,  \
                        (int)jt_rc_, (e).field, (e).message);                                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/** Append little-endian bytes of @p x (width 4 or 8) to @p buf. */
static inline void jt_put_le(unsigned char *buf, uint64_t x, int width)
{
    for (int k = 0; k < width; k++)
        buf[k] = (unsigned char)(x >> (8 * k));
}

/** A binary array object {"dtype", "shape", "base64"} holding @p n values of @p x. */
static inline json_t *jt_binary(const double *x, size_t n, int f32, int ndim, const int64_t *shape)
{
    int w = f32 ? 4 : 8;
    unsigned char *bytes = malloc(n * (size_t)w + 1);
    assert_non_null(bytes);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        if (f32) {
            float f = (float)x[i];
            uint32_t u32;
            memcpy(&u32, &f, 4);
            u = u32;
        } else {
            memcpy(&u, &x[i], 8);
        }
        jt_put_le(bytes + i * (size_t)w, u, w);
    }
    char *b64 = eir_base64_encode(bytes, n * (size_t)w);
    assert_non_null(b64);
    json_t *sh = json_array();
    for (int d = 0; d < ndim; d++)
        json_array_append_new(sh, json_integer(shape[d]));
    json_t *o = json_pack("{s:s, s:o, s:s}", "dtype", f32 ? "float32" : "float64", "shape", sh,
                          "base64", b64);
    free(bytes);
    free(b64);
    assert_non_null(o);
    return o;
}

/** The same as jt_binary(), serialised to JSON text (malloc'ed). */
static inline char *jt_binary_text(const double *x, size_t n, int f32, int ndim,
                                   const int64_t *shape)
{
    json_t *o = jt_binary(x, n, f32, ndim, shape);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(s);
    return s;
}

#endif /* JSON_TEST_UTIL_H */
