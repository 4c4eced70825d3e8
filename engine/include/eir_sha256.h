/**
 * @file eir_sha256.h
 * @brief SHA-256 (FIPS 180-4): a streaming hash with a small context on the caller's stack.
 *
 * Part of the engine's public API beside eir.h: the engine hashes models with it, the store
 * checksums results and the daemon hashes request bodies and tokens. No global state; every
 * function is reentrant and none can fail. Uses the x86 SHA extensions when the CPU has them
 * (same digests). Typical use:
 * Typical use:
 *
 *     eir_sha256_ctx c;
 *     uint8_t digest[EIR_SHA256_DIGEST_LEN];
 *     char hex[EIR_SHA256_HEX_LEN + 1];
 *     eir_sha256_init(&c);
 *     eir_sha256_update(&c, data, len);   // any number of times
 *     eir_sha256_final(&c, digest);
 *     eir_sha256_hex(digest, hex);
 */
#ifndef EIR_SHA256_H
#define EIR_SHA256_H

#include <stddef.h>
#include <stdint.h>

/** Digest length in bytes. */
#define EIR_SHA256_DIGEST_LEN 32
/** Length of the hex form in characters (without the terminating NUL). */
#define EIR_SHA256_HEX_LEN 64

/** Streaming state. Treat as opaque; copy it to fork a hash of a common prefix. */
typedef struct eir_sha256_ctx {
    uint32_t h[8];     /**< chaining value */
    uint64_t n_bytes;  /**< message bytes absorbed so far */
    uint8_t block[64]; /**< pending partial block */
    size_t block_len;  /**< bytes in block, < 64 */
} eir_sha256_ctx;

/** Start a new hash in @p c. Cannot fail. */
void eir_sha256_init(eir_sha256_ctx *c);

/**
 * Absorb @p len bytes at @p data (may be NULL when @p len is 0). Cannot fail; the message
 * length is tracked modulo 2^64 bytes, far above anything the engine hashes.
 */
void eir_sha256_update(eir_sha256_ctx *c, const void *data, size_t len);

/**
 * Finish the hash: pad, write the 32-byte digest to @p digest and wipe @p c (call
 * eir_sha256_init() before reusing it). Cannot fail.
 */
void eir_sha256_final(eir_sha256_ctx *c, uint8_t digest[EIR_SHA256_DIGEST_LEN]);

/**
 * Write @p digest as 64 lower-case hex characters plus a terminating NUL to @p hex.
 * Cannot fail.
 */
void eir_sha256_hex(const uint8_t digest[EIR_SHA256_DIGEST_LEN], char hex[EIR_SHA256_HEX_LEN + 1]);

/**
 * One-shot convenience: hash @p len bytes at @p data and write the lower-case hex digest
 * (64 characters + NUL) to @p hex. Cannot fail.
 */
void eir_sha256_hex_of(const void *data, size_t len, char hex[EIR_SHA256_HEX_LEN + 1]);

#endif /* EIR_SHA256_H */
