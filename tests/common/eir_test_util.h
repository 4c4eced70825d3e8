/**
 * @file eir_test_util.h
 * @brief Small helpers for the engine's numerics tests: building models from arrays, running
 *        them into freshly allocated buffers, reading results in either precision, reference
 *        activations, relative-error assertions and message matching. Header-only; every test
 *        executable includes it once.
 */
#ifndef EIR_TEST_UTIL_H
#define EIR_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors and assertions                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** |a - b| / max(|b|, scale): relative error against a reference b, absolute below scale. */
static inline double et_rel(double a, double b, double scale)
{
    double d = fabs(b) > scale ? fabs(b) : scale;
    if (a == b) return 0.0;
    if (!isfinite(a) || !isfinite(b)) return INFINITY;
    return fabs(a - b) / d;
}

/** Fail unless |got - want| <= tol * max(|want|, scale); says where and by how much. */
#define ET_ASSERT_CLOSE(got, want, tol, scale)                                                     \
    do {                                                                                           \
        double et_g_ = (got), et_w_ = (want);                                                      \
        double et_e_ = et_rel(et_g_, et_w_, (scale));                                              \
        if (!(et_e_ <= (tol))) {                                                                   \
            print_error("%s:%d: %s = %.17g, expected %s = %.17g (rel. error %.3g > %.3g)\n",       \
                        __FILE__, __LINE__, #got, et_g_, #want, et_w_, et_e_, (double)(tol));      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/** Relative error with the reference's own magnitude as scale (tiny floor). */
#define ET_ASSERT_REL(got, want, tol) ET_ASSERT_CLOSE(got, want, tol, 1e-300)

/** Fail with a printf-style message. */
#define ET_FAIL(...)                                                                               \
    do {                                                                                           \
        print_error("%s:%d: ", __FILE__, __LINE__);                                                \
        print_error(__VA_ARGS__);                                                                  \
        print_error("\n");                                                                         \
        fail();                                                                                    \
    } while (0)

/** Fail unless the condition holds, printing a formatted explanation. */
#define ET_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                   \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Strings                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** Case-insensitive substring test. */
static inline int et_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 1;
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] &&
               tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == n) return 1;
    }
    return 0;
}

/** Whether @p hay contains (case-insensitively) any of the '|'-separated alternatives. */
static inline int et_contains_any_ci(const char *hay, const char *alternatives)
{
    char buf[256];
    const char *p = alternatives;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= sizeof buf) n = sizeof buf - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (et_contains_ci(hay, buf)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/** Whether @p msg contains the integer @p v as a whole number (not part of a longer one). */
static inline int et_has_number(const char *msg, long v)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    size_t n = strlen(num);
    for (const char *p = msg; (p = strstr(p, num)) != NULL; p++) {
        int before = p > msg && (isdigit((unsigned char)p[-1]) || p[-1] == '.');
        int after =
            isdigit((unsigned char)p[n]) || (p[n] == '.' && isdigit((unsigned char)p[n + 1]));
        if (!before && !after) return 1;
    }
    return 0;
}

/** Whether @p msg names the matrix entry (i, j) as "(i, j)", "(i,j)", "[i][j]" or "[i, j]". */
static inline int et_names_pair(const char *msg, int i, int j)
{
    char nospace[EIR_MESSAGE_MAX + 1];
    size_t n = 0;
    for (const char *p = msg; *p && n < EIR_MESSAGE_MAX; p++)
        if (*p != ' ') nospace[n++] = *p;
    nospace[n] = '\0';
    char pat[3][64];
    snprintf(pat[0], sizeof pat[0], "(%d,%d)", i, j);
    snprintf(pat[1], sizeof pat[1], "[%d][%d]", i, j);
    snprintf(pat[2], sizeof pat[2], "[%d,%d]", i, j);
    for (int k = 0; k < 3; k++)
        if (strstr(nospace, pat[k])) return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Deterministic pseudo-random numbers for fixed test data (splitmix64)                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct et_rng {
    uint64_t s;
} et_rng;

static inline uint64_t et_next(et_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** Uniform in [lo, hi). */
static inline double et_unif(et_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(et_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

/* ------------------------------------------------------------------------------------------ */
/* Reference activations (independent of the engine)                                          */
/* ------------------------------------------------------------------------------------------ */

/** f without the r_max clamp. */
static inline double et_f_raw(eir_act_kind kind, double k, double n, double v)
{
    switch (kind) {
    case EIR_ACT_RELU:
        return v > 0 ? v : 0;
    case EIR_ACT_TANH_RECT:
        return v > 0 ? tanh(v) : 0;
    case EIR_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-v));
    case EIR_ACT_SOFTPLUS:
        return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
    case EIR_ACT_POWER:
        return v > 0 ? k * pow(v, n) : 0;
    case EIR_ACT_LINEAR:
        return v;
    case EIR_ACT_TANH:
        return tanh(v);
    }
    return NAN;
}

static inline int et_has_rmax(const eir_activation *a)
{
    return isfinite(a->r_max) && a->r_max > 0;
}

/** r = f(V), MODEL.md's activations with the optional r_max clamp. */
static inline double et_f(const eir_activation *a, double v)
{
    double r = et_f_raw(a->kind, a->k, a->n, v);
    return et_has_rmax(a) && r > a->r_max ? a->r_max : r;
}

/** f'(v), away from kinks (0 where r_max clamps). */
static inline double et_df(const eir_activation *a, double v)
{
    if (et_has_rmax(a) && et_f_raw(a->kind, a->k, a->n, v) > a->r_max) return 0;
    switch (a->kind) {
    case EIR_ACT_RELU:
        return v > 0 ? 1 : 0;
    case EIR_ACT_TANH_RECT:
        return v > 0 ? 1 - tanh(v) * tanh(v) : 0;
    case EIR_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-v));
        return s * (1 - s);
    }
    case EIR_ACT_SOFTPLUS:
        return 1.0 / (1.0 + exp(-v));
    case EIR_ACT_POWER:
        return v > 0 ? a->k * a->n * pow(v, a->n - 1) : 0;
    case EIR_ACT_LINEAR:
        return 1;
    case EIR_ACT_TANH:
        return 1 - tanh(v) * tanh(v);
    }
    return NAN;
}

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** A reduced-form description: defaults, then sizes, class, activation, W, leak. */
static inline void et_desc_reduced(eir_model_desc *d, eir_class cls, eir_act_kind act, int n_e,
                                   int n_i, const double *W, const double *leak, int leak_len)
{
    eir_model_desc_init(d);
    d->n_e = n_e;
    d->n_i = n_i;
    d->n_in = 0;
    d->cls = cls;
    d->act.kind = act;
    d->act.r_max = INFINITY;
    d->form = EIR_FORM_REDUCED;
    d->W = W;
    d->leak = leak;
    d->leak_len = leak_len;
}

/**
 * A reduced-form gated model with a leak, a bias and a row of A for each of the N = n_e + n_i
 * neurons' types (per-type A), and @p n_in inputs through @p P (N x n_in); M_in, sigma and a
 * readout are left for the caller to set.
 */
static inline void et_desc_gated(eir_model_desc *d, eir_act_kind act, int n_e, int n_i,
                                 const double *W, const double *leak, const double *A, int n_in,
                                 const double *P, const double *bias)
{
    et_desc_reduced(d, EIR_CLASS_GATED, act, n_e, n_i, W, leak, n_e + n_i);
    d->a_kind = EIR_A_PER_TYPE;
    d->A = A;
    d->n_in = n_in;
    d->P = P;
    d->bias = bias;
    d->bias_len = n_e + n_i;
}

/** Build @p d or fail the test with the engine's message. */
static inline eir_model *et_build(const eir_model_desc *d)
{
    eir_model *m = NULL;
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_model_build(d, &m, &err);
    if (st != EIR_OK || m == NULL)
        ET_FAIL("eir_model_build failed: status %d, field '%s': %s", (int)st, err.field,
                err.message);
    return m;
}

/**
 * Whether the JSON pointer @p got matches @p spec: '|'-separated alternatives, each an exact
 * pointer or, ending in '*', a prefix ("/leak|/leak/1" or "/record/neurons*").
 */
static inline int et_field_ok(const char *got, const char *spec)
{
    const char *p = spec;
    for (;;) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && p[n - 1] == '*') {
            if (strncmp(got, p, n - 1) == 0) return 1;
        } else if (strlen(got) == n && strncmp(got, p, n) == 0) {
            return 1;
        }
        if (!e) return 0;
        p = e + 1;
    }
}

/** Check an error: EIR_EINVAL, field matching @p field (see et_field_ok), message words. */
static inline void et_check_error(const eir_error *err, const char *field, const char *words)
{
#ifdef ET_VERBOSE
    print_message("%-40s %-24s %s\n", field, err->field, err->message);
#endif
    ET_CHECK(err->status == EIR_EINVAL, "err.status %d for %s", (int)err->status, field);
    ET_CHECK(et_field_ok(err->field, field), "field '%s', expected '%s' (message: %s)", err->field,
             field, err->message);
    ET_CHECK(err->message[0] != '\0', "empty message for field %s", field);
    ET_CHECK(et_contains_any_ci(err->message, words), "message '%s' lacks any of '%s'",
             err->message, words);
}

/**
 * Expect eir_model_build to reject @p d with EIR_EINVAL, *out NULL, a field matching @p field
 * (see et_field_ok) and a message containing one of the '|'-separated @p words.
 */
static inline void et_expect_reject(const eir_model_desc *d, const char *field, const char *words,
                                    eir_error *out_err)
{
    eir_model *m = (eir_model *)(uintptr_t)1;
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_model_build(d, &m, &err);
    if (st == EIR_OK) eir_model_free(m);
    ET_CHECK(st == EIR_EINVAL, "expected EIR_EINVAL for field %s, got status %d (%s)", field,
             (int)st, err.message);
    ET_CHECK(m == NULL, "*out must be NULL on failure (field %s)", field);
    et_check_error(&err, field, words);
    if (out_err) *out_err = err;
}

/** Hand-computed M = A (.) |W| for the reduced form (MODEL.md), all four shapes of A. */
static inline void et_M_from_A(int n_e, int n_i, eir_a_kind kind, const double *A, const double *W,
                               double *M)
{
    int N = n_e + n_i;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double a;
            switch (kind) {
            case EIR_A_SCALAR:
                a = A[0];
                break;
            case EIR_A_PER_TYPE:
                a = j < n_e ? A[0] : A[1];
                break;
            case EIR_A_PER_ROW:
                a = j < n_e ? A[i] : A[N + i];
                break;
            default:
                a = A[i * N + j];
            }
            M[i * N + j] = a * fabs(W[i * N + j]);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* Runs                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Value written into output buffers before a run, to detect cells the engine never wrote. */
#define ET_SENTINEL 7.25e37

/** A run's outputs, in freshly allocated buffers. */
typedef struct et_out {
    eir_status status;
    eir_run_result res;
    eir_error err;
    eir_precision prec;
    int B;
    int64_t rows;          /**< recorded rows per trial */
    int width[EIR_NVARS];  /**< units per row */
    size_t len[EIR_NVARS]; /**< elements */
    void *buf[EIR_NVARS];  /**< float or double, NULL if not recorded */
} et_out;

/**
 * Allocate buffers for every variable in r->record_mask (pre-filled with ET_SENTINEL), point
 * r->out at them and run. The result is in @p o; free with et_out_free().
 */
static inline eir_status et_run(const eir_model *m, eir_run_desc *r, et_out *o)
{
    memset(o, 0, sizeof *o);
    o->prec = r->precision;
    o->B = r->B;
    o->rows = r->record_every >= 1 ? eir_recorded_rows(r->T, r->record_every) : 0;
    size_t es = r->precision == EIR_F32 ? sizeof(float) : sizeof(double);
    for (int v = 0; v < EIR_NVARS; v++) {
        r->out[v] = NULL;
        if (!(r->record_mask & (1u << v))) continue;
        size_t n = eir_run_out_len(m, r, (eir_var)v);
        o->len[v] = n;
        if (n == 0) continue;
        o->buf[v] = malloc(n * es);
        assert_non_null(o->buf[v]);
        for (size_t k = 0; k < n; k++) {
            if (r->precision == EIR_F32)
                ((float *)o->buf[v])[k] = (float)ET_SENTINEL;
            else
                ((double *)o->buf[v])[k] = ET_SENTINEL;
        }
        if (o->rows > 0 && r->B > 0) o->width[v] = (int)(n / ((size_t)o->rows * (size_t)r->B));
        r->out[v] = o->buf[v];
    }
    eir_error_clear(&o->err);
    o->res.diverged_step = -2;
    o->status = eir_run(m, r, &o->res, &o->err);
    return o->status;
}

/** et_run() that must succeed. */
static inline void et_run_ok(const eir_model *m, eir_run_desc *r, et_out *o)
{
    eir_status st = et_run(m, r, o);
    if (st != EIR_OK)
        ET_FAIL("eir_run failed: status %d, field '%s': %s", (int)st, o->err.field, o->err.message);
}

static inline void et_out_free(et_out *o)
{
    for (int v = 0; v < EIR_NVARS; v++) {
        free(o->buf[v]);
        o->buf[v] = NULL;
    }
}

/** Element (trial b, recorded row, unit u) of variable v, as double. */
static inline double et_at(const et_out *o, eir_var v, int b, int64_t row, int u)
{
    size_t idx = ((size_t)b * (size_t)o->rows + (size_t)row) * (size_t)o->width[v] + (size_t)u;
    if (o->prec == EIR_F32) return (double)((const float *)o->buf[v])[idx];
    return ((const double *)o->buf[v])[idx];
}

/** Pointer to row @p row of trial @p b of a float64 variable. */
static inline const double *et_row(const et_out *o, eir_var v, int b, int64_t row)
{
    return (const double *)o->buf[v] +
           ((size_t)b * (size_t)o->rows + (size_t)row) * (size_t)o->width[v];
}

/** A run description with defaults and the given dt, T, B, recorded variables. */
static inline void et_rdesc(eir_run_desc *r, double dt, int64_t T, int B, unsigned mask)
{
    eir_run_desc_init(r);
    r->dt = dt;
    r->T = T;
    r->B = B;
    r->record_mask = mask;
}

#define ET_V (1u << EIR_VAR_V)
#define ET_R (1u << EIR_VAR_R)
#define ET_Z (1u << EIR_VAR_Z)
#define ET_Y (1u << EIR_VAR_Y)

#endif /* EIR_TEST_UTIL_H */
