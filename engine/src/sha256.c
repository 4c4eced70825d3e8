/**
 * @file sha256.c
 * @brief SHA-256 as specified in FIPS 180-4, sections 4.1.2, 4.2.2, 5.1.1, 5.3.3 and 6.2.
 */
#include "eir_sha256.h"

#include <string.h>

/* The SHA-NI path needs __builtin_cpu_supports("sha"), which GCC has and clang 14 lacks:
 * clang builds (the fuzzers) use the portable code. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define EIR_SHA256_SHANI 1
#endif

/** Round constants K (FIPS 180-4, 4.2.2). */
static const uint32_t sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

/** Rotate right. */
static inline uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

/** Read a big-endian 32-bit word. */
static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/** Write a big-endian 32-bit word. */
static inline void store_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

/** Process one 64-byte block (FIPS 180-4, 6.2.2). Cannot fail. */
static void sha256_compress(uint32_t h[8], const uint8_t *blk)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(blk + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + sha256_k[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

/** Start a new hash with the initial hash value of FIPS 180-4, 5.3.3. Cannot fail. */
void eir_sha256_init(eir_sha256_ctx *c)
{
    static const uint32_t h0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(c->h, h0, sizeof h0);
    c->n_bytes = 0;
    c->block_len = 0;
    memset(c->block, 0, sizeof c->block);
}

#ifdef EIR_SHA256_SHANI
/**
 * Compress @p blocks 64-byte blocks with the x86 SHA extensions (SHA-NI: AMD Zen and later,
 * Intel Ice Lake / Goldmont and later), about 5x the speed of sha256_compress(). The state is
 * kept as the instructions want it (ABEF and CDGH halves); each loop pass does 4 rounds, the
 * message schedule of rounds 16..63 with sha256msg1/sha256msg2. Cannot fail.
 */
__attribute__((target("sha,sse4.1"))) static void
sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t blocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);  /* EFGH */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);                                       /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);                                            /* CDGH */
    for (; blocks > 0; blocks--, p += 64) {
        __m128i abef = s0, cdgh = s1, w[4];
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i m;
            if (g < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            } else { /* W[4g..4g+3] from the four previous groups */
                m = _mm_sha256msg1_epu32(w[(g - 4) & 3], w[(g - 3) & 3]);
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g - 1) & 3], w[(g - 2) & 3], 4));
                m = _mm_sha256msg2_epu32(m, w[(g - 1) & 3]);
            }
            w[g & 3] = m;
            __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&sha256_k[4 * g]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, k);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);    /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)&h[0], s0);
    _mm_storeu_si128((__m128i *)&h[4], s1);
}
#endif

/** Compress @p blocks consecutive 64-byte blocks, with SHA-NI when the CPU has it. */
static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t blocks)
{
#ifdef EIR_SHA256_SHANI
    /* __builtin_cpu_supports reads data set up once by libgcc's constructor: no race. */
    if (__builtin_cpu_supports("sha")) {
        sha256_blocks_shani(h, p, blocks);
        return;
    }
#endif
    for (; blocks > 0; blocks--, p += 64)
        sha256_compress(h, p);
}

/** Absorb @p len bytes; whole blocks are compressed straight from @p data. Cannot fail. */
void eir_sha256_update(eir_sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0) return;
    c->n_bytes += (uint64_t)len;
    if (c->block_len > 0) {
        size_t take = 64 - c->block_len;
        if (take > len) take = len;
        memcpy(c->block + c->block_len, p, take);
        c->block_len += take;
        p += take;
        len -= take;
        if (c->block_len < 64) return;
        sha256_blocks(c->h, c->block, 1);
        c->block_len = 0;
    }
    if (len >= 64) {
        sha256_blocks(c->h, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->block_len = len;
    }
}

/** Pad (FIPS 180-4, 5.1.1), compress the last block(s), emit the digest, wipe. Cannot fail. */
void eir_sha256_final(eir_sha256_ctx *c, uint8_t digest[EIR_SHA256_DIGEST_LEN])
{
    uint64_t bits = c->n_bytes * 8u;
    size_t n = c->block_len;
    c->block[n++] = 0x80;
    if (n > 56) {
        memset(c->block + n, 0, 64 - n);
        sha256_blocks(c->h, c->block, 1);
        n = 0;
    }
    memset(c->block + n, 0, 56 - n);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_blocks(c->h, c->block, 1);
    for (int i = 0; i < 8; i++)
        store_be32(digest + 4 * i, c->h[i]);
    memset(c, 0, sizeof *c);
}

/** Lower-case hex of a digest, NUL-terminated. Cannot fail. */
void eir_sha256_hex(const uint8_t digest[EIR_SHA256_DIGEST_LEN], char hex[EIR_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < EIR_SHA256_DIGEST_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    hex[EIR_SHA256_HEX_LEN] = '\0';
}

/** One-shot hex digest of a buffer. Cannot fail. */
void eir_sha256_hex_of(const void *data, size_t len, char hex[EIR_SHA256_HEX_LEN + 1])
{
    eir_sha256_ctx c;
    uint8_t d[EIR_SHA256_DIGEST_LEN];
    eir_sha256_init(&c);
    eir_sha256_update(&c, data, len);
    eir_sha256_final(&c, d);
    eir_sha256_hex(d, hex);
}
