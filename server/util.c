/**
 * @file util.c
 * @brief Small helpers of eirnnd: clocks, time formatting, hashing, constant-time comparison,
 *        random seeds, JSON escaping and the per-thread store connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eir_clock.h"
#include "eir_sha256.h"
#include "srv.h"

/** Set when an allocation of jansson's failed on this thread (see srv_json_oom()). */
static _Thread_local int json_oom;

/** jansson's malloc: notes failures for srv_json_oom(). */
static void *json_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p) json_oom = 1;
    return p;
}

void srv_json_init(void)
{
    json_set_alloc_funcs(json_malloc, free);
}

int srv_json_oom(void)
{
    return json_oom;
}

void srv_json_oom_set(int v)
{
    json_oom = v;
}

char *srv_json_dumps(const json_t *j, size_t flags)
{
    int before = json_oom;
    json_oom = 0;
    char *s = json_dumps(j, flags);
    if (json_oom && s) {
        free(s); /* an append failed and may have been skipped: the text can miss bytes */
        s = NULL;
    }
    json_oom |= before;
    return s;
}

double srv_now(void)
{
    return eir_clock_mono();
}

int64_t srv_epoch_ms(void)
{
    return eir_clock_epoch_ms();
}

void srv_rfc3339(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
        return;
    }
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

void srv_sha256(const void *data, size_t len, uint8_t out[32])
{
    eir_sha256_ctx c;
    eir_sha256_init(&c);
    eir_sha256_update(&c, data, len);
    eir_sha256_final(&c, out);
}

void srv_sha256_hex(const void *data, size_t len, char hex[65])
{
    eir_sha256_hex_of(data, len, hex);
}

int srv_ct_equal32(const uint8_t *a, const uint8_t *b)
{
    volatile uint8_t d = 0;
    for (int i = 0; i < 32; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

store_conn *srv_thread_conn(srv *s)
{
    store_conn *c = pthread_getspecific(s->conn_key);
    if (c) return c;
    c = store_connect(s->store);
    if (c && pthread_setspecific(s->conn_key, c) != 0) {
        store_disconnect(c);
        return NULL;
    }
    return c;
}

void srv_json_escape(char *buf, size_t cap, size_t *len, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;
    if (cap == 0) return;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 7 < cap; p++) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            buf[n++] = '\\';
            buf[n++] = 'u';
            buf[n++] = '0';
            buf[n++] = '0';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        } else if (ch >= 0x80) {
            /* Not trusted to be UTF-8 (paths come from clients): escape as \u00XX. */
            buf[n++] = '\\';
            buf[n++] = 'u';
            buf[n++] = '0';
            buf[n++] = '0';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        } else {
            buf[n++] = (char)ch;
        }
    }
    buf[n < cap ? n : cap - 1] = '\0';
    *len = n;
}
