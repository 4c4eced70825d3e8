/**
 * @file json_base64.c
 * @brief Base64 (RFC 4648, standard alphabet, = padding required, no whitespace).
 */
#include "eir_json.h"
#include "json_util.h"

#include <stdlib.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of base64 digit c, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

char *eir_base64_encode(const void *data, size_t n)
{
    const unsigned char *in = data;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3) return NULL;
    size_t out_len = (n + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

int64_t ju_b64_decoded_len(const char *s, size_t len)
{
    if (len % 4 != 0 || len / 4 > (size_t)INT64_MAX / 3) return -1;
    if (len == 0) return 0;
    int pad = (s[len - 1] == '=') + (s[len - 1] == '=' && s[len - 2] == '=');
    return (int64_t)(len / 4 * 3) - pad;
}

/* Decode one quad at s (the last one when @p last); returns -1 or the bad offset within it. */
static int decode_quad(const char *s, int last, unsigned char *dst, size_t *o)
{
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '=' && last && k >= 2 && (k == 3 || s[3] == '=')) {
            v[k] = 0;
            pad++;
            continue;
        }
        if (pad || (v[k] = b64_value(c)) < 0) return k;
    }
    uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
    dst[(*o)++] = (unsigned char)(x >> 16);
    if (pad < 2) dst[(*o)++] = (unsigned char)(x >> 8);
    if (pad < 1) dst[(*o)++] = (unsigned char)x;
    return -1;
}

int64_t ju_b64_decode_into(const char *s, size_t len, unsigned char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i + 4 <= len; i += 4) {
        int bad = decode_quad(s + i, i + 4 == len, dst, &o);
        if (bad >= 0) return (int64_t)(i + (size_t)bad);
    }
    return len % 4 ? (int64_t)(len - len % 4) : -1;
}

int eir_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int64_t n = ju_b64_decoded_len(s, len);
    if (n < 0) return -1;
    unsigned char *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return -2;
    if (ju_b64_decode_into(s, len, buf) >= 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}
