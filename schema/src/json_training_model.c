/**
 * @file json_training_model.c
 * @brief The trained model document (eir_json_trained_model()): the initial model document
 *        with the trained network's arrays written as base64 float64 arrays, exactly.
 */
#include "json_training.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Builder state: the first failure is kept, later calls do nothing. */
typedef struct wctx {
    eir_error *err;
    int failed;
} wctx;

static void w_fail(wctx *w, eir_status st, const char *field, const char *msg)
{
    if (w->failed) return;
    w->failed = 1;
    eir_error_set(w->err, st, field, "%s", msg);
}

/* {"dtype": "float64", "shape": [dims], "base64": little-endian bytes of x}. */
static json_t *binary_array(wctx *w, const double *x, int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)dims[d];
    unsigned char *bytes = malloc(n ? n * 8 : 1);
    json_t *shape = json_array(), *obj = json_object();
    char *b64 = NULL;
    if (bytes) {
        for (size_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, &x[i], 8);
            for (int b = 0; b < 8; b++)
                bytes[i * 8 + b] = (unsigned char)(u >> (8 * b));
        }
        b64 = eir_base64_encode(bytes, n * 8);
    }
    int bad = !bytes || !b64 || !shape || !obj;
    for (int d = 0; !bad && d < ndim; d++)
        bad = json_array_append_new(shape, json_integer(dims[d])) != 0;
    bad = bad || json_object_set_new(obj, "dtype", json_string("float64")) != 0 ||
          json_object_set(obj, "shape", shape) != 0 ||
          json_object_set_new(obj, "base64", json_string(b64)) != 0;
    free(bytes);
    free(b64);
    json_decref(shape);
    if (bad) {
        json_decref(obj);
        w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
        return NULL;
    }
    return obj;
}

static json_t *vec(wctx *w, const double *x, int64_t n)
{
    return binary_array(w, x, 1, &n);
}

static json_t *mat(wctx *w, const double *x, int64_t rows, int64_t cols)
{
    int64_t dims[2] = {rows, cols};
    return binary_array(w, x, 2, dims);
}

/* obj[key] = v, taking over v's reference (jansson drops it when the set fails); a NULL v or
 * obj records a failure. */
static void put(wctx *w, json_t *obj, const char *key, json_t *v)
{
    if (obj && v && json_object_set_new(obj, key, v) == 0) return;
    if (!obj) json_decref(v);
    w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
}

/* A shallow copy of object @p obj (members shared). jansson's json_copy() is not used: it drops
 * a member it cannot add when memory runs out and still returns the copy. */
static json_t *shallow_copy(wctx *w, const json_t *obj)
{
    const char *key;
    json_t *val, *c = json_object();
    int bad = !c;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (bad || json_object_set(c, key, val) != 0) bad = 1;
    }
    if (!bad) return c;
    json_decref(c);
    w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
    return NULL;
}

/* A shallow copy of member key of obj when it is an object, else a new empty object. */
static json_t *copy_member(wctx *w, const json_t *obj, const char *key)
{
    const json_t *m = json_object_get(obj, key);
    if (json_is_object(m) && !ja_is_binary(m)) return shallow_copy(w, m);
    json_t *c = json_object();
    if (!c) w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
    return c;
}

static json_t *num(wctx *w, double x)
{
    json_t *v = json_real(x);
    if (!v) w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
    return v;
}

/* "A" of a reduced-form gated model in the shape the description has it. */
static json_t *a_value(wctx *w, const eir_model_desc *d, int N)
{
    json_t *o;
    switch (d->a_kind) {
    case EIR_A_SCALAR:
        return num(w, d->A[0]);
    case EIR_A_PER_TYPE:
    case EIR_A_PER_ROW:
        if (!(o = json_object())) {
            w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
            return NULL;
        }
        if (d->a_kind == EIR_A_PER_TYPE) {
            put(w, o, "E", num(w, d->A[0]));
            put(w, o, "I", num(w, d->A[1]));
        } else {
            put(w, o, "E", vec(w, d->A, N));
            put(w, o, "I", vec(w, d->A + N, N));
        }
        return o;
    default:
        return mat(w, d->A, N, N);
    }
}

static json_t *recurrent(wctx *w, const json_t *initial, const eir_model_desc *d, int N)
{
    const json_t *old = json_object_get(initial, "recurrent");
    json_t *rec = json_object();
    if (!rec) {
        w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
        return NULL;
    }
    if (d->form == EIR_FORM_CONDUCTANCE) {
        put(w, rec, "K", mat(w, d->K, N, N));
        json_t *erev = json_object();
        put(w, erev, "E", num(w, d->e_rev_e));
        put(w, erev, "I", num(w, d->e_rev_i));
        put(w, rec, "E_rev", erev);
        return rec;
    }
    put(w, rec, "W", mat(w, d->W, N, N));
    if (d->cls == EIR_CLASS_GATED) put(w, rec, "A", a_value(w, d, N));
    const json_t *dale = json_object_get(old, "dale");
    if (dale && d->cls != EIR_CLASS_RNN) put(w, rec, "dale", json_incref((json_t *)dale));
    return rec;
}

static json_t *input(wctx *w, const json_t *initial, const eir_model_desc *d, int N)
{
    json_t *in = copy_member(w, initial, "input");
    if (!in) return NULL;
    json_object_del(in, "generate");
    put(w, in, "P", mat(w, d->P, N, d->n_in));
    return in;
}

static json_t *readout(wctx *w, const json_t *initial, const eir_model_desc *d, int N)
{
    json_t *ro = copy_member(w, initial, "readout");
    if (!ro) return NULL;
    int64_t cols = d->readout_from == EIR_READOUT_E ? d->n_e : N;
    put(w, ro, "W_out", mat(w, d->W_out, d->n_out, cols));
    if (d->b_out)
        put(w, ro, "b_out", vec(w, d->b_out, d->n_out));
    else
        json_object_del(ro, "b_out");
    return ro;
}

/* A vector of leak_len / bias_len values (1 = broadcast) as N values. */
static json_t *per_cell(wctx *w, const double *x, int len, int N)
{
    if (len == N) return vec(w, x, N);
    double *full = malloc((size_t)N * sizeof *full);
    if (!full) {
        w_fail(w, EIR_ENOMEM, "", "out of memory while writing the trained model");
        return NULL;
    }
    for (int i = 0; i < N; i++)
        full[i] = x[0];
    json_t *v = vec(w, full, N);
    free(full);
    return v;
}

/* The initial document's sizes against the trained description. */
static eir_status check_fit(const json_t *initial, const eir_model_desc *d, eir_error *err)
{
    eir_model_shape shape;
    eir_error sub;
    eir_error_clear(&sub);
    eir_status st = eir_json_model_shape(initial, NULL, "", &shape, &sub);
    if (st == EIR_ENOMEM) return eir_error_set(err, st, sub.field, "%s", sub.message);
    if (st != EIR_OK)
        return eir_error_set(err, EIR_EINVAL, sub.field,
                             "the initial model document is not valid: %s", sub.message);
    if (shape.n_e != d->n_e || shape.n_i != d->n_i || shape.n_in != d->n_in ||
        shape.n_out != d->n_out || shape.cls != d->cls)
        return eir_error_set(err, EIR_EINVAL, "",
                             "the trained network (%d E, %d I, %d inputs, %d outputs, class %s) "
                             "does not fit the initial model document (%d E, %d I, %d inputs, "
                             "%d outputs, class %s)",
                             d->n_e, d->n_i, d->n_in, d->n_out, eir_class_name(d->cls), shape.n_e,
                             shape.n_i, shape.n_in, shape.n_out, eir_class_name(shape.cls));
    int needs_a = d->cls == EIR_CLASS_GATED && d->form == EIR_FORM_REDUCED;
    const double *need[] = {d->leak, d->form == EIR_FORM_CONDUCTANCE ? d->K : d->W,
                            needs_a ? d->A : d->leak, d->n_in ? d->P : d->leak,
                            d->n_out ? d->W_out : d->leak};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i])
            return eir_error_set(err, EIR_EINVAL, "",
                                 "the trained network's description lacks an array it needs "
                                 "(leak, W or K, A, P, W_out)");
    return EIR_OK;
}

json_t *eir_json_trained_model(const json_t *initial, const eir_model_desc *d, const char *name,
                               eir_error *err)
{
    eir_error local;
    wctx w = {.err = err ? err : &local};
    if (!json_is_object(initial)) {
        eir_error_set(err, EIR_EINVAL, "", "expected the initial model document (an object)");
        return NULL;
    }
    if (check_fit(initial, d, w.err) != EIR_OK) return NULL;
    int N = d->n_e + d->n_i;
    json_t *doc = shallow_copy(&w, initial);
    if (!doc) return NULL;
    if (name && *name) put(&w, doc, "name", json_string(name));
    put(&w, doc, "leak", per_cell(&w, d->leak, d->leak_len, N));
    if (d->bias && d->bias_len > 0)
        put(&w, doc, "bias", per_cell(&w, d->bias, d->bias_len, N));
    else
        json_object_del(doc, "bias");
    put(&w, doc, "recurrent", recurrent(&w, initial, d, N));
    if (d->n_in > 0) put(&w, doc, "input", input(&w, initial, d, N));
    if (d->n_out > 0) put(&w, doc, "readout", readout(&w, initial, d, N));
    if (w.failed) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
