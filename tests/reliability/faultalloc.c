/**
 * @file faultalloc.c
 * @brief LD_PRELOAD allocation-failure injector for eirnnd's request threads (the fault tests,
 *        docs/RELIABILITY.md "Faults").
 *
 * Replaces malloc, calloc, realloc and free (glibc sends its own internal allocations through
 * them too) and forwards to glibc's allocator (__libc_malloc, ...). Allocations made on
 * libmicrohttpd's threads (thread name "MHD-...": the threads that parse, validate and store
 * requests; the simulation workers are never touched) can be made to fail, steered through a
 * control file shared with the test driver (path in EIRNN_FAULT_CTL, at least 4096 bytes,
 * mapped MAP_SHARED; see ::fault_ctl):
 *
 *  - countdown mode: while countdown > 0, each allocation on a request thread decrements it,
 *    and the one that takes it to 0 fails (the k-th allocation after the driver armed it);
 *  - probability mode: with prob > 0, each allocation on a request thread fails with
 *    probability prob / 2^32 (a per-thread xorshift generator seeded from seed).
 *
 * Every injected failure is counted, and the address of the caller of the last one is kept so
 * the driver can tell in which library it happened (through /proc/PID/maps). Nothing happens
 * while both modes are off, or without EIRNN_FAULT_CTL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

/** The shared control block (little-endian, 8-byte fields; the driver packs it as "<qqQQqqQq"). */
struct fault_ctl {
    int64_t countdown;    /**< > 0: the allocation that takes it to 0 fails */
    int64_t prob;         /**< probability of failure in units of 2^-32; 0 = off */
    uint64_t seed;        /**< seed of the probability mode */
    uint64_t generation;  /**< bumped by the driver when it changes the seed */
    int64_t allocs;       /**< request-thread allocations seen while armed */
    int64_t injected;     /**< failures injected */
    uint64_t last_caller; /**< return address of the caller of the last failed allocation */
    int64_t last_size;    /**< size asked for by the last failed allocation */
};

static struct fault_ctl *ctl;
static int ctl_state; /* 0 not looked up yet, 1 mapped, -1 none */

static __thread int in_shim __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng_gen __attribute__((tls_model("initial-exec")));

/** Map the control file on first use (never allocates through malloc). */
static struct fault_ctl *get_ctl(void)
{
    int st = __atomic_load_n(&ctl_state, __ATOMIC_ACQUIRE);
    if (st == 1) return ctl;
    if (st < 0) return NULL;
    const char *path = getenv("EIRNN_FAULT_CTL");
    void *p = MAP_FAILED;
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
        }
    }
    if (p == MAP_FAILED) {
        __atomic_store_n(&ctl_state, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    ctl = p;
    __atomic_store_n(&ctl_state, 1, __ATOMIC_RELEASE);
    return ctl;
}

/** Whether the calling thread is one of libmicrohttpd's. */
static int on_request_thread(void)
{
    char name[17] = "";
    if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) return 0;
    return strncmp(name, "MHD-", 4) == 0;
}

/** Decide whether this allocation fails; records it when it does. */
static int should_fail(size_t n, void *caller)
{
    if (in_shim) return 0;
    struct fault_ctl *c = get_ctl();
    if (!c) return 0;
    int64_t cd = __atomic_load_n(&c->countdown, __ATOMIC_RELAXED);
    int64_t prob = __atomic_load_n(&c->prob, __ATOMIC_RELAXED);
    if (cd <= 0 && prob <= 0) return 0;
    in_shim = 1;
    int req = on_request_thread();
    in_shim = 0;
    if (!req) return 0;
    __atomic_fetch_add(&c->allocs, 1, __ATOMIC_RELAXED);
    int hit = 0;
    if (cd > 0 && __atomic_sub_fetch(&c->countdown, 1, __ATOMIC_ACQ_REL) == 0) hit = 1;
    if (!hit && prob > 0) {
        uint64_t gen = __atomic_load_n(&c->generation, __ATOMIC_RELAXED);
        if (rng == 0 || rng_gen != gen) {
            rng = __atomic_load_n(&c->seed, __ATOMIC_RELAXED) ^ ((uint64_t)gettid() << 32) ^
                  0x9e3779b97f4a7c15ull;
            if (rng == 0) rng = 1;
            rng_gen = gen;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        hit = (int64_t)(rng & 0xffffffffu) < prob;
    }
    if (!hit) return 0;
    __atomic_fetch_add(&c->injected, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->last_caller, (uint64_t)(uintptr_t)caller, __ATOMIC_RELAXED);
    __atomic_store_n(&c->last_size, (int64_t)n, __ATOMIC_RELAXED);
    return 1;
}

void *malloc(size_t n)
{
    if (should_fail(n, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (should_fail(n * size, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees; never fail that */
    if (n && should_fail(n, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}
