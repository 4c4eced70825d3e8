/**
 * @file act_impl.h
 * @brief The activation r = f(V) of one row with the r_max clamp (MODEL.md section 4), written
 * once for the simulation (sim_impl.h) and the training (train_bptt_impl.h), so that a trained
 * network's forward pass is the run's, bit for bit. Included by those templates with REAL,
 * SFX() and HOT defined, and ACT_FN the name to give it: the two includers name it apart
 * (activate_f64, tr_activate_f64), because clang gives a target_clones function's resolver
 * external linkage even when the function is static, and two equal names then clash at link
 * time in a library holding both (the fuzz targets' did). Cannot fail.
 */
/** Rates r = f(V) for one row, with the r_max clamp. */
HOT static void ACT_FN(const eir_activation *a, int n, const REAL *restrict V, REAL *restrict R)
{
    switch (a->kind) {
    case EIR_ACT_RELU:
        for (int i = 0; i < n; i++)
            R[i] = V[i] > 0 ? V[i] : (REAL)0;
        break;
    case EIR_ACT_TANH_RECT:
        for (int i = 0; i < n; i++)
            R[i] = V[i] > 0 ? (REAL)tanh((double)V[i]) : (REAL)0;
        break;
    case EIR_ACT_SIGMOID:
        for (int i = 0; i < n; i++)
            R[i] = (REAL)(1.0 / (1.0 + eir_vexp(-(double)V[i])));
        break;
    case EIR_ACT_SOFTPLUS:
        for (int i = 0; i < n; i++) {
            double v = V[i];
            /* log(1 + e^v) = max(v, 0) + log1p(e^{-|v|}) */
            R[i] = (REAL)((v > 0 ? v : 0.0) + log1p(exp(-fabs(v))));
        }
        break;
    case EIR_ACT_POWER:
        if (a->n == 2.0) {
            for (int i = 0; i < n; i++) {
                double v = V[i] > 0 ? (double)V[i] : 0.0;
                R[i] = (REAL)(a->k * v * v);
            }
        } else {
            for (int i = 0; i < n; i++)
                R[i] = V[i] > 0 ? (REAL)(a->k * pow((double)V[i], a->n)) : (REAL)0;
        }
        break;
    case EIR_ACT_LINEAR:
        memcpy(R, V, (size_t)n * sizeof *R);
        break;
    case EIR_ACT_TANH:
        for (int i = 0; i < n; i++)
            R[i] = (REAL)tanh((double)V[i]);
        break;
    }
    if (a->r_max < INFINITY) {
        const REAL cap = (REAL)a->r_max;
        for (int i = 0; i < n; i++)
            R[i] = R[i] < cap ? R[i] : cap;
    }
}

#undef ACT_FN
