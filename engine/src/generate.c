/**
 * @file generate.c
 * @brief Generated connectivity (MODEL.md "Generated connectivity", FORMAT.md `generate`).
 *
 * Every entry draws from its own Philox4x32-10 counters, so a matrix depends only on the spec
 * and the seed, never on the order entries are visited in. For entry (row i, column j):
 *
 *   counter (j, i, 0, stream)       words 0-1: the connection uniform u (connected iff u < p);
 *                                   words 2-3: the gamma boost uniform (shape < 1 only)
 *   counter (j, i, 1, stream)       Box-Muller normal for lognormal and half-normal
 *   counter (j, i, 1 + 2t, stream)  gamma, Marsaglia-Tsang attempt t = 0, 1, ...: the normal
 *   counter (j, i, 2 + 2t, stream)  gamma, attempt t: the acceptance uniform (words 0-1)
 *
 * under the 64-bit key `seed`, with stream EIR_STREAM_GEN_REC (recurrent) or
 * EIR_STREAM_GEN_INPUT (input, j = input channel). The connection draw is separate from the
 * magnitude draws, so raising p adds connections without changing the existing weights, and
 * changing dist or mean keeps the connectivity pattern.
 */
#include "eir.h"
#include "philox.h"
#include "stop.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Block names in the order of EIR_BLOCK_*. */
static const char *const rec_block_names[4] = {"EE", "EI", "IE", "II"};
/** Row-type names of the input blocks. */
static const char *const in_block_names[2] = {"E", "I"};

/** Parameters of the magnitude distribution of one block, derived once from the spec. */
typedef struct mag_params {
    eir_dist dist;
    double mean;  /**< target mean of a nonzero weight */
    double mu;    /**< lognormal: location of log */
    double sigma; /**< lognormal: scale of log */
    double shape; /**< gamma: shape k = 1 / cv^2 */
    double scale; /**< gamma: scale m / k */
    double d, c;  /**< gamma: Marsaglia-Tsang constants for shape max(k, k + 1) */
} mag_params;

/** Defaults of FORMAT.md: seed 0, p 1, lognormal, mean 1, cv 1, no balance/radius/self. */
void eir_gen_spec_init(eir_gen_spec *g)
{
    memset(g, 0, sizeof *g);
    g->seed = 0;
    for (int b = 0; b < 4; b++) {
        g->p[b] = 1.0;
        g->mean[b] = 1.0;
    }
    g->dist = EIR_DIST_LOGNORMAL;
    g->cv = 1.0;
    g->balance = 0;
    g->spectral_radius = 0.0;
    g->self_connections = 0;
}

/** Whether @p d is a known distribution. */
static int dist_known(eir_dist d)
{
    switch (d) {
    case EIR_DIST_LOGNORMAL:
    case EIR_DIST_GAMMA:
    case EIR_DIST_HALFNORMAL:
    case EIR_DIST_CONSTANT:
        return 1;
    }
    return 0;
}

/**
 * Check the fields of @p g shared by both generators: dist, p and mean of the first
 * @p n_blocks blocks (named by @p names), and cv where dist has one.
 * @return EIR_OK, or EIR_EINVAL with the offending field ("/dist", "/p/EE", "/mean/I", "/cv").
 */
static eir_status check_spec(const eir_gen_spec *g, int n_blocks, const char *const *names,
                             eir_error *err)
{
    char field[32];
    if (!dist_known(g->dist))
        return eir_error_set(err, EIR_EINVAL, "/dist",
                             "unknown distribution (code %d); use lognormal, gamma, halfnormal "
                             "or constant",
                             (int)g->dist);
    for (int b = 0; b < n_blocks; b++) {
        double p = g->p[b];
        if (!(p >= 0.0 && p <= 1.0)) {
            snprintf(field, sizeof field, "/p/%s", names[b]);
            return eir_error_set(err, EIR_EINVAL, field,
                                 "connection probability %s is %g; it must be in [0, 1]", names[b],
                                 p);
        }
    }
    for (int b = 0; b < n_blocks; b++) {
        double m = g->mean[b];
        if (!(m >= 0.0 && isfinite(m))) {
            snprintf(field, sizeof field, "/mean/%s", names[b]);
            return eir_error_set(err, EIR_EINVAL, field,
                                 "mean magnitude %s is %g; it must be finite and >= 0", names[b],
                                 m);
        }
    }
    if (g->dist == EIR_DIST_LOGNORMAL || g->dist == EIR_DIST_GAMMA) {
        if (!(g->cv > 0.0 && isfinite(g->cv)))
            return eir_error_set(err, EIR_EINVAL, "/cv",
                                 "coefficient of variation is %g; %s needs a finite cv > 0", g->cv,
                                 g->dist == EIR_DIST_GAMMA ? "gamma" : "lognormal");
    }
    return EIR_OK;
}

/** Derive the sampling constants of a block with mean @p m under @p g. Cannot fail. */
static mag_params make_params(const eir_gen_spec *g, double m)
{
    mag_params q;
    memset(&q, 0, sizeof q);
    q.dist = g->dist;
    q.mean = m;
    if (g->dist == EIR_DIST_LOGNORMAL && m > 0.0) {
        double s2 = log1p(g->cv * g->cv);
        q.sigma = sqrt(s2);
        q.mu = log(m) - 0.5 * s2;
    } else if (g->dist == EIR_DIST_GAMMA && m > 0.0) {
        q.shape = 1.0 / (g->cv * g->cv);
        q.scale = m / q.shape;
        double a = q.shape < 1.0 ? q.shape + 1.0 : q.shape;
        q.d = a - 1.0 / 3.0;
        q.c = 1.0 / sqrt(9.0 * q.d);
    }
    return q;
}

/** First normal of the Box-Muller pair at counter (a, b, draw, stream). Cannot fail. */
static inline double normal_at(uint64_t key, uint32_t a, uint32_t b, uint32_t draw, uint32_t stream)
{
    double n0, n1;
    eir_normal2(key, a, b, draw, stream, &n0, &n1);
    (void)n1;
    return n0;
}

/**
 * Standard gamma draw (scale 1) for entry (a, b) by Marsaglia and Tsang (2000): attempt t uses
 * the normal at counter draw 1 + 2t and the uniform at draw 2 + 2t. For shape k < 1 the draw
 * is made with shape k + 1 and multiplied by @p u_boost^(1/k). Cannot fail (the loop ends with
 * probability 1; each attempt is accepted with probability > 0.95).
 */
static double gamma_draw(const mag_params *q, uint64_t key, uint32_t a, uint32_t b, uint32_t stream,
                         double u_boost)
{
    double x, v;
    for (uint32_t t = 0;; t++) {
        x = normal_at(key, a, b, 1u + 2u * t, stream);
        v = 1.0 + q->c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        eir_philox4 ctr = {{a, b, 2u + 2u * t, stream}};
        eir_philox4 w = eir_philox4x32(ctr, key);
        double u = eir_u01(w.v[0], w.v[1]);
        double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2) break;
        if (log(u) < 0.5 * x2 + q->d * (1.0 - v + log(v))) break;
    }
    double r = q->d * v;
    if (q->shape < 1.0) r *= exp(log(u_boost) / q->shape);
    return r;
}

/**
 * Magnitude (>= 0) of the nonzero entry at counter words (a, b). @p u_spare is the second
 * uniform of the entry's draw 0. Cannot fail; may return +inf for extreme mean/cv, which the
 * callers reject.
 */
static double magnitude(const mag_params *q, uint64_t key, uint32_t a, uint32_t b, uint32_t stream,
                        double u_spare)
{
    if (q->mean == 0.0) return 0.0;
    switch (q->dist) {
    case EIR_DIST_LOGNORMAL:
        return exp(q->mu + q->sigma * normal_at(key, a, b, 1u, stream));
    case EIR_DIST_GAMMA:
        return q->scale * gamma_draw(q, key, a, b, stream, u_spare);
    case EIR_DIST_HALFNORMAL:
        /* E|N(0,1)| = sqrt(2/pi), so |N| * m * sqrt(pi/2) has mean m. */
        return fabs(normal_at(key, a, b, 1u, stream)) * q->mean * 1.2533141373155002512078826;
    case EIR_DIST_CONSTANT:
        return q->mean;
    }
    return 0.0;
}

/**
 * Draw entry (row @p i, column @p j): 0 when not connected, else a magnitude >= 0.
 * Cannot fail (see magnitude()).
 */
static inline double draw_entry(const mag_params *q, double p, uint64_t key, int i, int j,
                                uint32_t stream)
{
    eir_philox4 ctr = {{(uint32_t)j, (uint32_t)i, 0u, stream}};
    eir_philox4 x = eir_philox4x32(ctr, key);
    double u = eir_u01(x.v[0], x.v[1]);
    if (!(u < p)) return 0.0;
    return magnitude(q, key, (uint32_t)j, (uint32_t)i, stream, eir_u01(x.v[2], x.v[3]));
}

/** EIR_ECANCELLED (no field): the generation's stop flag was requested. */
static eir_status stopped(eir_error *err)
{
    return eir_error_set(err, EIR_ECANCELLED, NULL,
                         "generate: stopped before the matrix was complete");
}

/**
 * Scale the I entries of every row so that the row's E and I contributions to W cancel.
 * @p out holds W (reduced) or K (conductance; W = K E_type(j)).
 * @return EIR_OK, or EIR_EINVAL naming "/balance" for a row with input of one type only.
 */
static eir_status balance_rows(double *out, int n_e, int n, eir_form form, double e_rev_e,
                               double e_rev_i, eir_error *err)
{
    for (int i = 0; i < n; i++) {
        double *row = out + (size_t)i * (size_t)n;
        double s_e = 0.0, s_i = 0.0; /* magnitudes of the K (or W) sums per column type */
        for (int j = 0; j < n_e; j++)
            s_e += row[j];
        for (int j = n_e; j < n; j++)
            s_i += fabs(row[j]);
        if (s_e == 0.0 && s_i == 0.0) continue;
        char rt = i < n_e ? 'E' : 'I';
        if (s_i == 0.0)
            return eir_error_set(err, EIR_EINVAL, "/balance",
                                 "row %d (an %c cell) receives excitatory input but no "
                                 "inhibitory input, so its E and I sums cannot cancel; raise "
                                 "p/%cI or mean/%cI, or disable balance",
                                 i, rt, rt, rt);
        if (s_e == 0.0)
            return eir_error_set(err, EIR_EINVAL, "/balance",
                                 "row %d (an %c cell) receives inhibitory input but no "
                                 "excitatory input, so its E and I sums cannot cancel; raise "
                                 "p/%cE or mean/%cE, or disable balance",
                                 i, rt, rt, rt);
        double f = form == EIR_FORM_CONDUCTANCE ? (e_rev_e * s_e) / (-e_rev_i * s_i) : s_e / s_i;
        if (!(f > 0.0 && isfinite(f)))
            return eir_error_set(err, EIR_EINVAL, "/balance",
                                 "row %d cannot be balanced: its E and I sums (%g, %g) differ "
                                 "by too many orders of magnitude; adjust mean, or disable "
                                 "balance",
                                 i, s_e, s_i);
        for (int j = n_e; j < n; j++)
            row[j] *= f;
    }
    return EIR_OK;
}

/**
 * Rescale @p out (W, or K with W = K E_type(j)) so that W's spectral radius is @p target.
 * @return EIR_OK; EIR_EINVAL naming "/spectral_radius" when W's radius is 0 or the scale
 * overflows; EIR_ENOMEM / EIR_ENUMERIC (also naming "/spectral_radius") from the eigenvalue
 * computation; EIR_ECANCELLED (no field) when @p stop was requested. @p out is unchanged on
 * failure.
 */
static eir_status rescale_radius(double *out, int n_e, int n, eir_form form, double e_rev_e,
                                 double e_rev_i, double target, const eir_stop *stop,
                                 eir_error *err)
{
    size_t nn = (size_t)n * (size_t)n;
    const double *w = out;
    double *tmp = NULL;
    if (form == EIR_FORM_CONDUCTANCE && nn > 0) {
        tmp = malloc(nn * sizeof *tmp);
        if (tmp == NULL)
            return eir_error_set(err, EIR_ENOMEM, "/spectral_radius",
                                 "out of memory for the %d x %d matrix W = K E_rev", n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                size_t k = (size_t)i * (size_t)n + (size_t)j;
                tmp[k] = out[k] * (j < n_e ? e_rev_e : e_rev_i);
            }
        w = tmp;
    }
    double radius = 0.0;
    eir_error e2;
    eir_status st = eir_spectral_radius_stop(w, n, EIR_RADIUS_AUTO, stop, &radius, NULL, &e2);
    free(tmp);
    if (st == EIR_ECANCELLED) return eir_error_set(err, st, NULL, "%s", e2.message);
    if (st != EIR_OK) return eir_error_set(err, st, "/spectral_radius", "%s", e2.message);
    if (!(radius > 0.0))
        return eir_error_set(err, EIR_EINVAL, "/spectral_radius",
                             "the generated W has spectral radius 0 (no effective connections, "
                             "e.g. p = 0 or mean = 0), so it cannot be rescaled to %g; raise p "
                             "or mean, or set spectral_radius to null",
                             target);
    double s = target / radius;
    if (!(s > 0.0 && isfinite(s)))
        return eir_error_set(err, EIR_EINVAL, "/spectral_radius",
                             "rescaling W from spectral radius %g to %g is out of floating-point "
                             "range; adjust mean or spectral_radius",
                             radius, target);
    for (size_t k = 0; k < nn; k++)
        out[k] *= s;
    return EIR_OK;
}

/**
 * Generate the recurrent matrix (see eir.h): W (reduced form) or K (conductance form).
 *
 * Order of operations: draw connectivity and magnitudes, apply the column signs (reduced),
 * balance each row, then rescale to the target spectral radius (which keeps the balance).
 * Fails with EIR_EINVAL for a NULL spec or output, bad sizes or form, bad reversal potentials
 * (field ""), bad spec fields ("/dist", "/p/XY", "/mean/XY", "/cv", "/spectral_radius"),
 * balance with E_I = 0 or a row with input of one type only ("/balance"), a non-finite weight
 * ("/mean/XY"), or a zero radius with a target set ("/spectral_radius"); EIR_ENOMEM or
 * EIR_ENUMERIC from the radius computation; EIR_ECANCELLED (no field) when g->stop was requested
 * (checked every EIR_STOP_ROWS rows and between Arnoldi's products). On failure the contents of
 * @p out are unspecified (the caller discards them); nothing is leaked.
 */
eir_status eir_generate_recurrent(const eir_gen_spec *g, int n_e, int n_i, eir_form form,
                                  double e_rev_e, double e_rev_i, double *out, eir_error *err)
{
    if (g == NULL || out == NULL)
        return eir_error_set(err, EIR_EINVAL, NULL, "generate: no spec or output given");
    if (n_e < 0 || n_i < 0 || n_e > INT_MAX - n_i)
        return eir_error_set(err, EIR_EINVAL, NULL,
                             "generate: population sizes (E %d, I %d) must be >= 0 and their "
                             "sum must fit in an int",
                             n_e, n_i);
    int n = n_e + n_i;
    if (n > 0 && (size_t)n > SIZE_MAX / sizeof(double) / (size_t)n)
        return eir_error_set(err, EIR_EINVAL, NULL, "generate: a %d x %d matrix is too large", n,
                             n);
    if (form != EIR_FORM_REDUCED && form != EIR_FORM_CONDUCTANCE)
        return eir_error_set(err, EIR_EINVAL, NULL, "generate: unknown form (code %d)", (int)form);
    eir_status st = check_spec(g, 4, rec_block_names, err);
    if (st != EIR_OK) return st;
    if (isnan(g->spectral_radius) || g->spectral_radius == INFINITY)
        return eir_error_set(err, EIR_EINVAL, "/spectral_radius",
                             "spectral_radius is %g; give a finite number > 0, or null for no "
                             "rescaling",
                             g->spectral_radius);
    if (form == EIR_FORM_CONDUCTANCE) {
        if (!(e_rev_e > 0.0 && isfinite(e_rev_e)) || !(e_rev_i <= 0.0 && isfinite(e_rev_i)))
            return eir_error_set(err, EIR_EINVAL, NULL,
                                 "generate: reversal potentials E_E = %g, E_I = %g; need a "
                                 "finite E_E > 0 and a finite E_I <= 0",
                                 e_rev_e, e_rev_i);
        if (g->balance && e_rev_i == 0.0)
            return eir_error_set(err, EIR_EINVAL, "/balance",
                                 "balance is impossible with E_I = 0 (pure shunting "
                                 "inhibition): I synapses then carry no current to cancel the "
                                 "E input; disable balance or give E_I < 0");
    }

    mag_params q[4];
    for (int b = 0; b < 4; b++)
        q[b] = make_params(g, g->mean[b]);
    for (int i = 0; i < n; i++) {
        if (i % EIR_STOP_ROWS == 0 && eir_stop_now(g->stop)) return stopped(err);
        double *row = out + (size_t)i * (size_t)n;
        int rb = i < n_e ? 0 : 2;
        for (int j = 0; j < n; j++) {
            int b = rb + (j < n_e ? 0 : 1);
            if (i == j && !g->self_connections) {
                row[j] = 0.0;
                continue;
            }
            double m = draw_entry(&q[b], g->p[b], g->seed, i, j, EIR_STREAM_GEN_REC);
            if (!isfinite(m)) {
                char field[32];
                snprintf(field, sizeof field, "/mean/%s", rec_block_names[b]);
                return eir_error_set(err, EIR_EINVAL, field,
                                     "weight (%d, %d) of block %s overflowed to infinity; lower "
                                     "mean/%s or cv",
                                     i, j, rec_block_names[b], rec_block_names[b]);
            }
            /* I columns of W are negative; keep exact zeros +0.0 so equal specs hash equally. */
            if (form == EIR_FORM_REDUCED && j >= n_e && m > 0.0) m = -m;
            row[j] = m;
        }
    }
    if (g->balance) {
        st = balance_rows(out, n_e, n, form, e_rev_e, e_rev_i, err);
        if (st != EIR_OK) return st;
    }
    if (g->spectral_radius > 0.0) {
        st = rescale_radius(out, n_e, n, form, e_rev_e, e_rev_i, g->spectral_radius, g->stop, err);
        if (st != EIR_OK) return st;
    }
    return EIR_OK;
}

/**
 * Generate the input matrix P (N x n_in, magnitudes >= 0; see eir.h). Uses p[0], mean[0] for
 * E rows and p[1], mean[1] for I rows; balance, spectral_radius and self_connections are
 * ignored. Fails with EIR_EINVAL for a NULL spec, NULL output with N * n_in > 0, bad sizes
 * (field ""), bad spec fields ("/dist", "/p/E", "/p/I", "/mean/E", "/mean/I", "/cv") or a
 * non-finite weight ("/mean/E" or "/mean/I"); EIR_ECANCELLED when g->stop was requested. On
 * failure the contents of @p out are
 * unspecified; nothing is allocated.
 */
eir_status eir_generate_input(const eir_gen_spec *g, int n_e, int n_i, int n_in, double *out,
                              eir_error *err)
{
    if (g == NULL) return eir_error_set(err, EIR_EINVAL, NULL, "generate: no spec given");
    if (n_e < 0 || n_i < 0 || n_in < 0 || n_e > INT_MAX - n_i)
        return eir_error_set(err, EIR_EINVAL, NULL,
                             "generate: sizes (E %d, I %d, inputs %d) must be >= 0 and the "
                             "cell count must fit in an int",
                             n_e, n_i, n_in);
    int n = n_e + n_i;
    if (n > 0 && n_in > 0 && (size_t)n_in > SIZE_MAX / sizeof(double) / (size_t)n)
        return eir_error_set(err, EIR_EINVAL, NULL, "generate: a %d x %d matrix is too large", n,
                             n_in);
    if (out == NULL && n > 0 && n_in > 0)
        return eir_error_set(err, EIR_EINVAL, NULL, "generate: no output given");
    eir_status st = check_spec(g, 2, in_block_names, err);
    if (st != EIR_OK) return st;

    mag_params q[2];
    for (int b = 0; b < 2; b++)
        q[b] = make_params(g, g->mean[b]);
    for (int i = 0; i < n; i++) {
        if (i % EIR_STOP_ROWS == 0 && eir_stop_now(g->stop)) return stopped(err);
        int b = i < n_e ? 0 : 1;
        double *row = out + (size_t)i * (size_t)n_in;
        for (int c = 0; c < n_in; c++) {
            double m = draw_entry(&q[b], g->p[b], g->seed, i, c, EIR_STREAM_GEN_INPUT);
            if (!isfinite(m)) {
                char field[32];
                snprintf(field, sizeof field, "/mean/%s", in_block_names[b]);
                return eir_error_set(err, EIR_EINVAL, field,
                                     "input weight (%d, %d) overflowed to infinity; lower "
                                     "mean/%s or cv",
                                     i, c, in_block_names[b]);
            }
            row[c] = m;
        }
    }
    return EIR_OK;
}
