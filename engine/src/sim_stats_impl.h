/**
 * @file sim_stats_impl.h
 * @brief The run statistics' per-step passes (stats.c has the rest), written once and compiled
 *        per precision: included by sim_impl.h (REAL, SFX and TYPED defined there).
 *
 * Each work item adds its cells' samples of a step into its own slots (sim_stats_slot()) and
 * its settle maximum into its own (trial, neuron block) entry: nothing is shared between
 * threads, nothing is allocated.
 */

/** Add the samples of cells [i0, i1) of @p v (two-pass mean and M2, in double) to @p acc. */
static void SFX(stat_acc)(const REAL *restrict v, int i0, int i1, double *acc)
{
    if (i1 <= i0) return;
    double sum = 0.0, m2 = 0.0;
    for (int i = i0; i < i1; i++)
        sum += (double)v[i];
    const double c = (double)(i1 - i0), mean = sum / c;
    for (int i = i0; i < i1; i++) {
        const double d = (double)v[i] - mean;
        m2 += d * d;
    }
    sim_chan(acc, c, mean, m2);
}

/**
 * Run statistics of step @p k for trial @p b, cells [i0, i1) of the item: the samples of each
 * variable with a window covering step k (V and r after the step, z_k) into the item's slots.
 */
static void SFX(stats_item)(sim_ctx *x, int b, int i0, int i1, int64_t k)
{
    const int iv = sim_stats_interval(x, k);
    const unsigned mask = x->st.imask[iv];
    if (!mask) return;
    const size_t o = (size_t)b * x->n;
    const REAL *src[3] = {TYPED(V) + o, TYPED(R) + o, TYPED(Z) + o};
    const int e1 = i1 < x->n_e ? i1 : x->n_e, l0 = i0 > x->n_e ? i0 : x->n_e;
    for (int v = 0; v < 3; v++) {
        if (!((mask >> v) & 1)) continue;
        double *slot = sim_stats_slot(x, iv & 1, b, i0 / SIM_NEURON_BLOCK, x->st.slot[v]);
        SFX(stat_acc)(src[v], i0, e1, slot);
        SFX(stat_acc)(src[v], l0, i1, slot + 3);
    }
}

/**
 * Settle window: max over cells [0, len) of |Id - z V| (dV/dt at the state before step k,
 * noise excluded) into trial @p b's slot of the item's neuron block @p j.
 */
static void SFX(settle_item)(sim_ctx *x, int b, int j, int len, const REAL *Id, const REAL *z,
                             const REAL *V)
{
    double *slot = x->w.st_settle + (size_t)b * x->n_nb + (size_t)j;
    double m = *slot;
    for (int i = 0; i < len; i++) {
        const double d = fabs((double)Id[i] - (double)z[i] * (double)V[i]);
        m = d > m || d != d ? d : m;
    }
    *slot = m;
}
