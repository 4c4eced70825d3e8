/**
 * @file train_state.c
 * @brief Training checkpoints: theta, Adam's moments and step count, and the iteration, as
 * bytes that load back bit for bit on any machine (docs/TRAINING.md "Checkpoints").
 *
 * Layout (every integer and double little-endian, doubles as their IEEE 754 binary64 bits):
 *
 *   offset  bytes   field
 *   0       8       magic "EIRTRN01"
 *   8       4       format version, 1
 *   12      4       trained parameters, bit (1 << eir_param) each
 *   16      8       theta length L
 *   24      7 x 16  per parameter in eir_param order: slice offset, slice length (uint64)
 *   136     8       Adam's step count (int64)
 *   144     8       iteration the checkpoint was taken after (int64)
 *   152     8 L     theta
 *   ...     8 L     first moments m
 *   ...     8 L     second moments v
 *   ...     32      SHA-256 of every byte before it
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "eir_sha256.h"
#include "eir_train.h"
#include "train_adam_internal.h"

#define STATE_MAGIC "EIRTRN01"
#define STATE_VERSION 1u
#define STATE_HEADER 152u

static void put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++)
        x |= (uint32_t)p[i] << (8 * i);
    return x;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static void put_doubles(unsigned char *p, const double *x, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint64_t bits;
        memcpy(&bits, &x[k], sizeof bits);
        put_u64(p + 8 * k, bits);
    }
}

static void get_doubles(const unsigned char *p, double *x, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint64_t bits = get_u64(p + 8 * k);
        memcpy(&x[k], &bits, sizeof bits);
    }
}

/** Whether the @p n doubles stored at @p p are all finite. */
static int all_finite(const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint64_t bits = get_u64(p + 8 * k);
        if (((bits >> 52) & 0x7ffu) == 0x7ffu) return 0;
    }
    return 1;
}

size_t eir_train_state_size(const eir_net *n)
{
    return STATE_HEADER + 3 * 8 * eir_net_theta_len(n) + EIR_SHA256_DIGEST_LEN;
}

void eir_train_state_save(const eir_net *n, const eir_adam *a, int64_t iteration, void *buf)
{
    unsigned char *p = buf;
    size_t len = eir_net_theta_len(n);
    size_t off[EIR_NPARAMS], plen[EIR_NPARAMS];
    eir_net_layout(n, off, plen);
    memcpy(p, STATE_MAGIC, 8);
    put_u32(p + 8, STATE_VERSION);
    put_u32(p + 12, a->trainable);
    put_u64(p + 16, (uint64_t)len);
    for (int k = 0; k < EIR_NPARAMS; k++) {
        put_u64(p + 24 + 16 * k, (uint64_t)off[k]);
        put_u64(p + 32 + 16 * k, (uint64_t)plen[k]);
    }
    put_u64(p + 136, (uint64_t)a->step);
    put_u64(p + 144, (uint64_t)iteration);
    unsigned char *body = p + STATE_HEADER;
    put_doubles(body, eir_net_theta_const(n), len);
    put_doubles(body + 8 * len, a->m, len);
    put_doubles(body + 16 * len, a->v, len);
    size_t signed_len = STATE_HEADER + 24 * len;
    eir_sha256_ctx c;
    eir_sha256_init(&c);
    eir_sha256_update(&c, p, signed_len);
    eir_sha256_final(&c, p + signed_len);
}

/** Check the header of @p p against (@p n, @p a): EIR_EINVAL with field "" saying what differs. */
static eir_status check_header(const eir_net *n, const eir_adam *a, const unsigned char *p,
                               eir_error *err)
{
    if (memcmp(p, STATE_MAGIC, 8) != 0)
        return eir_error_set(err, EIR_EINVAL, "", "not a training checkpoint (bad magic)");
    uint32_t version = get_u32(p + 8);
    if (version != STATE_VERSION)
        return eir_error_set(err, EIR_EINVAL, "",
                             "training checkpoint of format version %u; this engine reads %u",
                             (unsigned)version, STATE_VERSION);
    size_t off[EIR_NPARAMS], plen[EIR_NPARAMS];
    eir_net_layout(n, off, plen);
    if (get_u64(p + 16) != (uint64_t)eir_net_theta_len(n))
        return eir_error_set(err, EIR_EINVAL, "",
                             "the checkpoint holds %llu parameters; this network has %zu",
                             (unsigned long long)get_u64(p + 16), eir_net_theta_len(n));
    for (int k = 0; k < EIR_NPARAMS; k++)
        if (get_u64(p + 24 + 16 * k) != (uint64_t)off[k] ||
            get_u64(p + 32 + 16 * k) != (uint64_t)plen[k])
            return eir_error_set(err, EIR_EINVAL, "",
                                 "the checkpoint's slice of %s (offset %llu, length %llu) is not "
                                 "this network's (offset %zu, length %zu)",
                                 eir_param_name((eir_param)k),
                                 (unsigned long long)get_u64(p + 24 + 16 * k),
                                 (unsigned long long)get_u64(p + 32 + 16 * k), off[k], plen[k]);
    if (get_u32(p + 12) != a->trainable)
        return eir_error_set(err, EIR_EINVAL, "",
                             "the checkpoint was taken with other trained parameters (mask %#x; "
                             "this training's is %#x)",
                             (unsigned)get_u32(p + 12), a->trainable);
    int64_t step = (int64_t)get_u64(p + 136), iteration = (int64_t)get_u64(p + 144);
    if (step < 0 || iteration < 0)
        return eir_error_set(err, EIR_EINVAL, "",
                             "the checkpoint's step (%lld) or iteration (%lld) is negative",
                             (long long)step, (long long)iteration);
    return EIR_OK;
}

eir_status eir_train_state_load(eir_net *n, eir_adam *a, const void *buf, size_t len,
                                int64_t *iteration, eir_error *err)
{
    const unsigned char *p = buf;
    size_t want = eir_train_state_size(n);
    if (a->len != eir_net_theta_len(n))
        return eir_error_set(err, EIR_EINVAL, "",
                             "the optimiser was made for another network (%zu parameters, not %zu)",
                             a->len, eir_net_theta_len(n));
    if (!buf || len != want)
        return eir_error_set(err, EIR_EINVAL, "",
                             "a checkpoint of this network is %zu bytes, not %zu", want, len);
    eir_status st = check_header(n, a, p, err);
    if (st != EIR_OK) return st;
    size_t L = a->len, signed_len = STATE_HEADER + 24 * L;
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    eir_sha256_ctx c;
    eir_sha256_init(&c);
    eir_sha256_update(&c, p, signed_len);
    eir_sha256_final(&c, digest);
    if (memcmp(digest, p + signed_len, sizeof digest) != 0)
        return eir_error_set(err, EIR_EINVAL, "",
                             "the checkpoint is corrupt (its SHA-256 does not match its bytes)");
    if (!all_finite(p + STATE_HEADER, 3 * L))
        return eir_error_set(err, EIR_EINVAL, "",
                             "the checkpoint holds a value that is not finite");
    /* Everything checked: from here on nothing can fail. */
    get_doubles(p + STATE_HEADER, eir_net_theta(n), L);
    get_doubles(p + STATE_HEADER + 8 * L, a->m, L);
    get_doubles(p + STATE_HEADER + 16 * L, a->v, L);
    a->step = (int64_t)get_u64(p + 136);
    if (iteration) *iteration = (int64_t)get_u64(p + 144);
    return EIR_OK;
}
