/**
 * @file random.c
 * @brief Random bytes, seeds and ids from getrandom() (eir_random.h).
 */
#define _GNU_SOURCE
#include "eir_random.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int eir_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int eir_random_seed63(uint64_t *out)
{
    uint64_t s;
    if (eir_random_bytes(&s, sizeof s) != 0) return -1;
    *out = s & (uint64_t)INT64_MAX;
    return 0;
}

int eir_random_id(char *out, size_t cap, const char *prefix, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[64];
    size_t plen = strlen(prefix);
    if (nbytes == 0 || nbytes > sizeof rnd || plen + 2 * nbytes + 1 > cap) {
        errno = EINVAL;
        return -1;
    }
    if (eir_random_bytes(rnd, nbytes) != 0) return -1;
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < nbytes; i++) {
        out[plen + 2 * i] = hex[rnd[i] >> 4];
        out[plen + 2 * i + 1] = hex[rnd[i] & 15];
    }
    out[plen + 2 * nbytes] = '\0';
    return 0;
}
