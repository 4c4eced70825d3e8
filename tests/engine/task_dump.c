/*
 * task_dump SCENARIO FILE: writes the batch of one of the scenarios below as raw little-endian
 * arrays to FILE, for tests/engine/tasks_numpy.py, which regenerates the same trials from
 * docs/TASKS.md in NumPy and compares them bit for bit. The scenarios here and in the script
 * must agree.
 *
 * Layout: int32 B, T, n_in, n_out, has_builtin; then x (B*T*n_in float64), target
 * (B*T*n_out float64), label (B*T int32), mask (B*T float64), len (B int32), and for built-in
 * tasks gt, context, decision_end (B int32 each), coherence and evidence (B float64 each;
 * evidence 0 when the task has none).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_task.h"

#define KEY 0x0123456789abcdefULL
#define BATCH 48

static eir_duration uniform(double a, double b)
{
    eir_duration d = {.kind = EIR_DUR_UNIFORM, .a = a, .b = b};
    return d;
}

static eir_duration trunc_exp(double mean, double lo, double hi)
{
    eir_duration d = {.kind = EIR_DUR_TRUNC_EXP, .a = mean, .b = lo, .c = hi};
    return d;
}

enum { CN = 6, CT = 5, CI = 3, CO = 2 };
static double cx[CN * CT * CI];
static int32_t clabel[CN * CT], clen[CN];
static double cmask[CN * CT];

/* Scenario @p s into @p t; 0 when unknown. */
static int scenario(int s, eir_task_spec *t)
{
    switch (s) {
    case 0: /* PDM, neurogym's defaults at dt 20 */
        eir_task_spec_init(t, EIR_TASK_PERCEPTUAL_DM, 20);
        return 1;
    case 1: /* PDM with varied periods, as trained in the learning test */
        eir_task_spec_init(t, EIR_TASK_PERCEPTUAL_DM, 20);
        t->timing[0] = uniform(50, 400);
        t->timing[1] = uniform(100, 800);
        t->timing[2].kind = EIR_DUR_CHOICE;
        t->timing[2].n_choices = 3;
        t->timing[2].choices[0] = 0;
        t->timing[2].choices[1] = 100;
        t->timing[2].choices[2] = 300;
        t->sigma = 0.7;
        return 1;
    case 2: /* DMS, a truncated exponential delay */
        eir_task_spec_init(t, EIR_TASK_DELAY_MATCH, 20);
        t->timing[2] = trunc_exp(800, 200, 2000);
        return 1;
    case 3: /* CDM, neurogym's defaults at dt 20 */
        eir_task_spec_init(t, EIR_TASK_CONTEXT_DM, 20);
        return 1;
    case 4: /* CDM at a dt that divides no period, other coherences */
        eir_task_spec_init(t, EIR_TASK_CONTEXT_DM, 7);
        t->n_coherences = 2;
        t->coherences[0] = 0;
        t->coherences[1] = 20;
        t->sigma = 0.3;
        return 1;
    case 5: /* a custom label set */
        for (int i = 0; i < CN * CT * CI; i++)
            cx[i] = i * 0.125 - 3;
        for (int i = 0; i < CN * CT; i++) {
            clabel[i] = (i * 7) % CO;
            cmask[i] = (i % 3) * 0.5;
        }
        for (int i = 0; i < CN; i++)
            clen[i] = 1 + i % CT;
        eir_task_spec_init(t, EIR_TASK_CUSTOM, 1);
        t->custom = (eir_task_custom){CN, CT, CI, CO, cx, NULL, clabel, cmask, clen};
        return 1;
    }
    return 0;
}

static void put(FILE *f, const void *p, size_t size, size_t n)
{
    if (n && fwrite(p, size, n, f) != n) {
        perror("task_dump: write");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    eir_task_spec t;
    if (argc != 3 || !scenario(atoi(argv[1]), &t)) {
        fprintf(stderr, "usage: task_dump SCENARIO(0-5) FILE\n");
        return 2;
    }
    eir_task_batch b;
    eir_error err;
    if (eir_task_generate(&t, KEY, BATCH, &b, &err) != EIR_OK) {
        fprintf(stderr, "task_dump: %s: %s\n", err.field, err.message);
        return 1;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    size_t bt = (size_t)b.B * b.T;
    int32_t head[5] = {b.B, b.T, b.n_in, b.n_out, b.gt != NULL};
    put(f, head, sizeof(int32_t), 5);
    put(f, b.x, sizeof(double), bt * b.n_in);
    put(f, b.target, sizeof(double), bt * b.n_out);
    put(f, b.label, sizeof(int32_t), bt);
    put(f, b.mask, sizeof(double), bt);
    put(f, b.len, sizeof(int32_t), (size_t)b.B);
    if (b.gt) {
        put(f, b.gt, sizeof(int32_t), (size_t)b.B);
        put(f, b.context, sizeof(int32_t), (size_t)b.B);
        put(f, b.decision_end, sizeof(int32_t), (size_t)b.B);
        put(f, b.coherence, sizeof(double), (size_t)b.B);
        double *ev = calloc((size_t)b.B, sizeof *ev);
        if (!ev) return 1;
        if (b.evidence) memcpy(ev, b.evidence, (size_t)b.B * sizeof *ev);
        put(f, ev, sizeof(double), (size_t)b.B);
        free(ev);
    }
    if (fclose(f) != 0) {
        perror(argv[2]);
        return 1;
    }
    eir_task_batch_free(&b);
    return 0;
}
