/**
 * @file model_hash.c
 * @brief Content hash of a built model: equal hashes mean equal dynamics.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eir.h"
#include "model_internal.h"
#include "stop.h"
#include "eir_sha256.h"

static void put_i64(eir_sha256_ctx *c, int64_t v)
{
    uint8_t b[8];
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)v >> (8 * k));
    eir_sha256_update(c, b, sizeof b);
}

/** Doubles as little-endian IEEE bytes, with -0 folded into +0. */
static void put_f64s(eir_sha256_ctx *c, const double *a, size_t n)
{
    put_i64(c, (int64_t)n);
    for (size_t k = 0; k < n; k++) {
        double v = a ? a[k] : 0.0;
        if (v == 0) v = 0.0;
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        put_i64(c, (int64_t)u);
    }
}

/**
 * put_f64s() of a row without its length: consecutive rows hash as one array. The same bytes
 * as put_i64() per value, handed to SHA-256 64 values at a time.
 */
static void put_row(eir_sha256_ctx *c, const double *a, size_t n)
{
    uint8_t buf[64 * 8];
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        double v = a[k];
        if (v == 0) v = 0.0;
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        for (int q = 0; q < 8; q++)
            buf[used++] = (uint8_t)(u >> (8 * q));
        if (used == sizeof buf) {
            eir_sha256_update(c, buf, used);
            used = 0;
        }
    }
    if (used) eir_sha256_update(c, buf, used);
}

void eir_model_hash(const eir_model *m, char hex[65])
{
    (void)eir_model_hash_ex(m, NULL, hex);
}

/* The stop flag is looked at every EIR_STOP_ROWS rows of W and M (most of the work). */
eir_status eir_model_hash_ex(const eir_model *m, const eir_stop *stop, char hex[65])
{
    eir_sha256_ctx c;
    eir_sha256_init(&c);
    eir_sha256_update(&c, "eirnn-model-v1", 14);
    const size_t n = (size_t)m->n, nn = n * n;
    put_i64(&c, m->n_e);
    put_i64(&c, m->n_i);
    put_i64(&c, m->n_in);
    put_i64(&c, m->n_out);
    put_i64(&c, m->cls);
    put_i64(&c, m->act.kind);
    double act[3] = {m->act.kind == EIR_ACT_POWER ? m->act.k : 0,
                     m->act.kind == EIR_ACT_POWER ? m->act.n : 0, m->act.r_max};
    put_f64s(&c, act, 3);
    /* W and M as N*N dense doubles, whatever the storage (rows expanded one at a time) */
    double *row = malloc((n ? n : 1) * sizeof *row);
    if (row) {
        for (int which = 0; which < 2; which++) {
            put_i64(&c, (int64_t)nn);
            for (size_t i = 0; i < n; i++) {
                if (i % EIR_STOP_ROWS == 0 && eir_stop_now(stop)) {
                    free(row);
                    hex[0] = '\0';
                    return EIR_ECANCELLED;
                }
                eir_model_dense_row(m, which, (int)i, row);
                put_row(&c, row, n);
            }
        }
        free(row);
    } else if (m->W) {
        put_f64s(&c, m->W, nn);
        /* M is a function of what the gate arrays hold; hash those instead */
        put_i64(&c, -1);
    } else {
        put_i64(&c, -2); /* no memory for a row: a hash no model shares */
    }
    put_f64s(&c, m->leak, n);
    put_f64s(&c, m->bias, n);
    put_f64s(&c, m->P, n * (size_t)m->n_in);
    put_i64(&c, m->M_in != NULL);
    if (m->M_in) put_f64s(&c, m->M_in, n * (size_t)m->n_in);
    put_i64(&c, m->n_read);
    put_f64s(&c, m->W_out, (size_t)m->n_out * (size_t)m->n_read);
    put_f64s(&c, m->b_out, (size_t)m->n_out);
    put_f64s(&c, &m->sigma, 1);
    uint8_t d[EIR_SHA256_DIGEST_LEN];
    eir_sha256_final(&c, d);
    eir_sha256_hex(d, hex);
    return EIR_OK;
}
