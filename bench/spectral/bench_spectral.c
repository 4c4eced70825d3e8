/**
 * @file bench_spectral.c
 * @brief Generation with `spectral_radius`: the radius by LAPACK dgeev (every eigenvalue, the
 *        method before issue 10) and by ARPACK's Arnoldi (the eigenvalues of largest modulus),
 *        side by side in one run, on the demo's recipe (README's tour: p EE 0.1, EI/IE/II 0.4,
 *        lognormal cv 0.5, spectral_radius 0.9) at several N.
 *
 * Usage: bench_spectral [--reps R] [--balanced-disc] [N ...]   (default: R = 3, N = 1000 2000 4096)
 * --balanced-disc: the Rajan-Abbott case instead, p 0.4 everywhere, E and I columns of the same
 * mean per row type and balanced rows, so that no eigenvalue stands out of the random disc
 * (the hard case for Arnoldi).
 * For each N: the generation without the radius (drawing, signs), then the radius by each
 * method; medians of R repetitions, the ratio, both radii and their relative difference, and
 * Arnoldi's products and restarts. One thread (OpenBLAS single-threaded, as in eirnnd).
 * Prints a Markdown table on stdout; exits 1 when a method fails or the radii differ by more
 * than 1e-9 relative.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The demo's recipe (scripts/demo.sh, README's tour) without the radius. */
static void demo_recipe(eir_gen_spec *g)
{
    eir_gen_spec_init(g);
    g->seed = 1;
    g->p[EIR_BLOCK_EE] = 0.1;
    g->p[EIR_BLOCK_EI] = g->p[EIR_BLOCK_IE] = g->p[EIR_BLOCK_II] = 0.4;
    g->dist = EIR_DIST_LOGNORMAL;
    g->cv = 0.5;
    g->mean[EIR_BLOCK_EE] = 0.0625;
    g->mean[EIR_BLOCK_EI] = 0.125;
    g->mean[EIR_BLOCK_IE] = 0.03125;
    g->mean[EIR_BLOCK_II] = 0.1;
}

/* Rajan & Abbott's balanced network: the mean connectivity has zero row sums and rank 1, so
 * its eigenvalues are a disc with no outlier. */
static void balanced_disc_recipe(eir_gen_spec *g)
{
    eir_gen_spec_init(g);
    g->seed = 1;
    for (int b = 0; b < 4; b++)
        g->p[b] = 0.4;
    g->dist = EIR_DIST_LOGNORMAL;
    g->cv = 0.5;
    g->mean[EIR_BLOCK_EE] = g->mean[EIR_BLOCK_IE] = 0.0625;
    g->mean[EIR_BLOCK_EI] = g->mean[EIR_BLOCK_II] = 0.25;
    g->balance = 1;
}

int main(int argc, char **argv)
{
    int reps = 3, sizes[16], n_sizes = 0, disc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--balanced-disc"))
            disc = 1;
        else if (n_sizes < 16 && atoi(argv[i]) > 0)
            sizes[n_sizes++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench_spectral [--reps R] [--balanced-disc] [N ...]\n");
            return 2;
        }
    }
    if (n_sizes == 0) {
        sizes[0] = 1000;
        sizes[1] = 2000;
        sizes[2] = 4096;
        n_sizes = 3;
    }
    if (reps < 1 || reps > 100) reps = 3;
    eir_blas_single_threaded();
    int bad = 0;
    printf("%s\n\n", disc ? "Balanced disc (Rajan-Abbott)" : "Demo recipe");
    printf("| N | generate without radius (s) | radius by dgeev (s) | radius by Arnoldi (s) | "
           "dgeev / Arnoldi | generation before -> after (s) | radius (dgeev) | relative "
           "difference | Arnoldi products, restarts |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < n_sizes; s++) {
        int n = sizes[s], n_e = (int)(0.8 * n), n_i = n - n_e;
        double *w = malloc((size_t)n * (size_t)n * sizeof *w);
        double t_gen[100], t_dense[100], t_arn[100], r_dense = NAN, r_arn = NAN;
        eir_radius_info info;
        eir_error err;
        eir_gen_spec g;
        if (disc)
            balanced_disc_recipe(&g);
        else
            demo_recipe(&g);
        if (!w) {
            fprintf(stderr, "out of memory at N = %d\n", n);
            return 1;
        }
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            if (eir_generate_recurrent(&g, n_e, n_i, EIR_FORM_REDUCED, 0, 0, w, &err)) {
                fprintf(stderr, "generate: %s\n", err.message);
                return 1;
            }
            double t1 = now();
            /* Alternate the order, so that neither method always runs on a warm cache. */
            for (int k = 0; k < 2; k++) {
                int dense = (k + r) % 2 == 0;
                double ta = now(), rad;
                if (eir_spectral_radius_ex(w, n, dense ? EIR_RADIUS_DENSE : EIR_RADIUS_ARNOLDI,
                                           &rad, &info, &err)) {
                    fprintf(stderr, "N = %d, %s: %s\n", n, dense ? "dgeev" : "Arnoldi",
                            err.message);
                    bad = 1;
                }
                double tb = now();
                if (dense) {
                    t_dense[r] = tb - ta;
                    r_dense = rad;
                } else {
                    t_arn[r] = tb - ta;
                    r_arn = rad;
                }
            }
            t_gen[r] = t1 - t0;
        }
        double gen = median(t_gen, reps), dense = median(t_dense, reps), arn = median(t_arn, reps),
               rel = fabs(r_arn - r_dense) / r_dense;
        if (!(rel <= 1e-9)) bad = 1;
        printf("| %d | %.3f | %.2f | %.3f | %.0fx | %.2f -> %.2f | %.15g | %.1e | %d, %d |\n", n,
               gen, dense, arn, dense / arn, gen + dense, gen + arn, r_dense, rel, info.matvecs,
               info.restarts);
        fflush(stdout);
        free(w);
    }
    return bad;
}
