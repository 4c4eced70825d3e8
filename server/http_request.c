/**
 * @file http_request.c
 * @brief One request's life in libmicrohttpd's callbacks: the request context, body
 *        accumulation with the size limit and the slow-body check, the handler call under the
 *        request's store deadline, and the metrics and log line when it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"

int srv_body_budget_take(srv_req *r, uint64_t n)
{
    uint64_t budget = r->s->cfg.max_body_buffer ? r->s->cfg.max_body_buffer : UINT64_MAX;
    uint_least64_t used = atomic_load(&r->s->body_buffered);
    do {
        if (used > budget || n > budget - used) return 0;
    } while (!atomic_compare_exchange_weak(&r->s->body_buffered, &used, used + n));
    r->budget_held += n;
    return 1;
}

void srv_body_budget_release(srv_req *r)
{
    if (r->budget_held) atomic_fetch_sub(&r->s->body_buffered, r->budget_held);
    r->budget_held = 0;
}

/** The body buffer of @p r could not grow within the daemon-wide budget: drop what it holds and
 *  count the rest as discarded, for a 503 once the body has ended. */
static void drop_over_budget(srv_req *r, size_t n)
{
    r->over_budget = 1;
    r->discarded += r->body_len + n;
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    srv_body_budget_release(r);
}

/** Append upload data to the body, or count it as discarded past the limit or the budget. */
static enum MHD_Result accumulate(srv_req *r, const char *data, size_t n)
{
    uint64_t limit = r->s->cfg.max_body_bytes;
    /* A trickled body (headers are the guard's, http_guard.c): it gets --connection-timeout seconds
     * plus one per 64 KiB received so far; past that, hang up. The time this thread spent busy
     * meanwhile (handlers of other connections) is the server's, not the client's. */
    double took = srv_now() - r->t_start - (srv_guard_thread_busy(r->s) - r->busy_mark);
    if (took > r->s->cfg.connection_timeout + (double)(r->body_len + r->discarded) / 65536.0) {
        srv_log("slow_client", json_pack("{s:s, s:f, s:I}", "phase", "body", "seconds", took,
                                         "bytes", (json_int_t)(r->body_len + r->discarded)));
        return MHD_NO;
    }
    if (r->over_budget) {
        r->discarded += n;
        return r->discarded > 4 * limit + ((uint64_t)1 << 20) ? MHD_NO : MHD_YES;
    }
    if (r->too_large || r->body_len + n > limit) {
        r->too_large = 1;
        r->discarded += n;
        if (r->body) { /* never parsed (413): its memory and budget go back at once */
            r->discarded += r->body_len;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            srv_body_budget_release(r);
        }
        /* Drain (without keeping) up to 4 limits + 1 MiB so that the 413 can still be sent;
         * past that, hang up. */
        return r->discarded > 4 * limit + ((uint64_t)1 << 20) ? MHD_NO : MHD_YES;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > limit + 1) cap = (size_t)limit + 1;
        /* Within what is held already when that is enough (a Content-Length reserved it all at
         * the headers); else hold more of the daemon-wide budget. */
        if (r->budget_held >= r->body_len + n + 1 && cap > r->budget_held)
            cap = (size_t)r->budget_held;
        if (cap > r->budget_held && !srv_body_budget_take(r, cap - r->budget_held)) {
            drop_over_budget(r, n);
            return MHD_YES;
        }
        char *b = realloc(r->body, cap);
        if (!b) return MHD_NO;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return MHD_YES;
}

/** *con_cls of a request answered with srv::oom_response because its ::srv_req could not be
 *  allocated: a marker whose address only is used (immutable). */
static const char oom_req = 0;
#define OOM_REQ ((void *)&oom_req)

/** srv_http_on_access() without the busy accounting. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *con_cls;
    srv_json_oom_set(0); /* srv_reply() looks at the JSON allocations of this call only */
    if (r == OOM_REQ) {
        *upload_data_size = 0; /* answered 503 below; the body is dropped */
        return MHD_YES;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            *con_cls = OOM_REQ;
            return MHD_queue_response(con, 503, s->oom_response);
        }
        *con_cls = r;
        r->s = s;
        r->con = con;
        r->t_start = srv_now();
        r->busy_mark = srv_guard_thread_busy(s);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        atomic_fetch_add(&s->metrics.in_flight, 1);
        srv_guard_waiting(s, con, 0);
        return srv_http_route(r);
    }
    if (r->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return accumulate(r, upload_data, n);
    }
    if (r->route_error) return srv_http_reply_route_error(r);
    if (r->over_budget)
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "request bodies being received use the daemon's buffer of %llu bytes "
                           "(--max-body-buffer-bytes); retry shortly",
                           (unsigned long long)s->cfg.max_body_buffer);
    if (r->too_large)
        return srv_problem(r, SRV_P_TOO_LARGE, 413, NULL,
                           "the body is larger than the limit of %llu bytes",
                           (unsigned long long)s->cfg.max_body_bytes);
    /* Lock waits end at the busy timeout counted from the request's arrival (for a resumed long
     * poll, from now), not from whenever its handler gets to the database after the requests
     * before it on this thread: a locked database gets every request its 503 in time. */
    store_config sc;
    store_config_default(&sc);
    store_conn *c = srv_thread_conn(s);
    store_set_deadline(c, (r->poll_state ? srv_now() : r->t_start) + sc.busy_timeout_ms / 1e3);
    enum MHD_Result ret = r->handler(r);
    store_set_deadline(c, 0);
    if (r->answered) {
        /* The answer is queued and the body no longer read: give its memory and its share of
         * the budget back now, before the answer is sent (a client that sends its next body on
         * seeing it finds the budget whole). */
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        srv_body_budget_release(r);
    }
    return ret;
}

enum MHD_Result srv_http_on_access(void *cls, struct MHD_Connection *con, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    /* While a handler runs, this thread reads nothing: its connections' clients are not to be
     * blamed for the wait (http_guard.c). */
    srv_guard_busy(cls, 1);
    enum MHD_Result ret =
        on_access(cls, con, url, method, version, upload_data, upload_data_size, con_cls);
    srv_guard_busy(cls, 0);
    return ret;
}

void srv_http_on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    srv *s = cls;
    srv_req *r = *con_cls;
    srv_guard_waiting(s, con, 1); /* the next request's headers are awaited from now */
    if (!r || r == OOM_REQ) {
        *con_cls = NULL;
        return;
    }
    *con_cls = NULL;
    if (r->poll_state == 1) srv_waiters_forget(s->waiters, &r->waiter);
    srv_reply_captured_free(r); /* offloaded work answered a client that went away */
    if (r->detach) r->detach(r->detach_ctx);
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
        /* A reader that stopped reading: reset rather than close, or the kernel would keep the
           unsent answer (up to the socket buffer, MBs) for as long as the peer's window stays
           shut (docs/RELIABILITY.md, "Slow readers"). */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct linger lg = {1, 0};
        if (ci) setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    double dur = srv_now() - r->t_start;
    if (r->status) srv_metrics_request(&s->metrics, r->status, dur);
    srv_log_request(r->method, r->path, r->status, dur * 1e3, r->bytes,
                    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    atomic_fetch_sub(&s->metrics.in_flight, 1);
    srv_body_budget_release(r); /* however the request ended: answered, failed or cut off */
    free(r->body);
    free(r);
}

void srv_http_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    srv_log("http_error", json_pack("{s:s}", "message", msg));
}
