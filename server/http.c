/**
 * @file http.c
 * @brief libmicrohttpd (0.9.75) glue: the listening socket, the daemon and its options, the
 *        static route table, bearer-token authentication, body accumulation with the size
 *        limit, reply helpers, and per-request metrics and log lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

/** One route: method, path pattern ("{x}" matches one segment), handler, flags. */
typedef struct srv_route {
    const char *method;
    const char *pattern;
    srv_handler handler;
    unsigned flags;
} srv_route;

static const srv_route routes[] = {
    {"GET", "/healthz", h_healthz, 0},
    {"GET", "/metrics", h_metrics, SRV_ROUTE_AUTH},
    {"GET", "/v1/openapi.json", h_openapi, SRV_ROUTE_AUTH},
    {"POST", "/v1/models", h_models_create, SRV_ROUTE_AUTH},
    {"GET", "/v1/models", h_models_list, SRV_ROUTE_AUTH},
    {"GET", "/v1/models/{id}", h_models_get, SRV_ROUTE_AUTH},
    {"DELETE", "/v1/models/{id}", h_models_delete, SRV_ROUTE_AUTH},
    {"POST", "/v1/runs", h_runs_create, SRV_ROUTE_AUTH},
    {"GET", "/v1/runs", h_runs_list, SRV_ROUTE_AUTH},
    {"GET", "/v1/runs/{id}", h_runs_get, SRV_ROUTE_AUTH},
    {"DELETE", "/v1/runs/{id}", h_runs_delete, SRV_ROUTE_AUTH},
    {"POST", "/v1/runs/{id}/cancel", h_runs_cancel, SRV_ROUTE_AUTH},
    {"GET", "/v1/runs/{id}/results", h_results_list, SRV_ROUTE_AUTH},
    {"GET", "/v1/runs/{id}/results/{var}", h_results_get, SRV_ROUTE_AUTH},
};
#define NROUTES (sizeof routes / sizeof *routes)

static void track_waiting(struct MHD_Connection *con, int waiting);

/* ------------------------------------------------------------------------------------------ */
/* Replies                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** Body of srv::oom_response. */
static const char oom_body[] =
    "{\"type\":\"urn:eirnn:problem:unavailable\",\"title\":\"The service is temporarily "
    "unavailable\",\"status\":503,\"detail\":\"out of memory; retry shortly\"}";

enum MHD_Result srv_reply(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    /* A success answer built while a JSON allocation failed can miss members or bytes (srv.h,
     * srv_json_init): answer 503 instead. */
    if (resp && status < 400 && srv_json_oom()) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    r->answered = 1;
    if (!resp) {
        /* Out of memory: the 503 made at start (shared, so queued but not destroyed here). */
        r->status = 503;
        r->bytes = sizeof oom_body - 1;
        return MHD_queue_response(r->con, 503, r->s->oom_response);
    }
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(r->con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct MHD_Response *srv_response_copy(srv_req *r, const void *data, size_t len,
                                       const char *content_type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp) return NULL;
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return NULL;
    }
    if (r) r->bytes = len;
    return resp;
}

struct MHD_Response *srv_response_take(srv_req *r, char *data, size_t len, const char *content_type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, data, &free);
    if (!resp) {
        free(data);
        return NULL;
    }
    if (content_type &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp); /* frees data */
        return NULL;
    }
    if (r) r->bytes = len;
    return resp;
}

struct MHD_Response *srv_response_json(srv_req *r, json_t *j)
{
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s) return NULL;
    return srv_response_take(r, s, strlen(s), "application/json");
}

enum MHD_Result srv_reply_json(srv_req *r, unsigned status, json_t *j)
{
    struct MHD_Response *resp = srv_response_json(r, j);
    if (!resp) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    return srv_reply(r, status, resp);
}

enum MHD_Result srv_reply_empty(srv_req *r, unsigned status)
{
    return srv_reply(r, status, srv_response_copy(r, "", 0, NULL));
}

const char *srv_query(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->con, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------------------------------ */
/* Routing and authentication                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** Value of the hex digit @p c, or -1. */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/** Match @p path against @p pattern, copying "{x}" segments into @p params. @return 1 on match. */
static int match(const char *pattern, const char *path, char params[][SRV_PARAM_MAX])
{
    int np = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchr(u, '/');
            size_t n = ue ? (size_t)(ue - u) : strlen(u);
            if (n == 0 || n >= SRV_PARAM_MAX || np >= SRV_MAX_PARAMS) return 0;
            memcpy(params[np], u, n);
            params[np][n] = '\0';
            np++;
            p = pe + 1;
            u += n;
            continue;
        }
        if (*p != *u) return 0;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

/**
 * Percent-decode @p s in place like libmicrohttpd's own unescaper, except that "%00" is kept as
 * it is: the decoded path and query values are C strings, so a decoded NUL would cut them
 * ("/v1/runs/r_...%00junk" would name the run r_...). Used for the path and query arguments.
 */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *con, char *s)
{
    (void)cls;
    (void)con;
    char *w = s;
    const char *p = s;
    while (*p) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/** Whether an unmatched @p path would need the token (so that 401 comes before 404). */
static int path_needs_auth(const char *path)
{
    return strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0 ||
           strcmp(path, "/metrics") == 0;
}

/** Check "Authorization: Bearer <token>" in constant time (hashes compared, no early exit). */
static int authorized(srv_req *r)
{
    if (!r->s->has_token) return 1;
    const char *h = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return 0;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    uint8_t got[32];
    srv_sha256(h, n, got);
    return srv_ct_equal32(got, r->s->token_hash);
}

static enum MHD_Result reply_401(srv_req *r, int had_header)
{
    struct MHD_Response *resp = srv_problem_response(
        r, SRV_P_UNAUTHORIZED, 401, NULL, "%s",
        had_header ? "the bearer token is not valid"
                   : "this endpoint needs an 'Authorization: Bearer <token>' header");
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                had_header ? "Bearer realm=\"eirnn\", error=\"invalid_token\""
                                           : "Bearer realm=\"eirnn\"");
    return srv_reply(r, 401, resp);
}

/** Answer the routing decision kept in @p r->route_error. */
static enum MHD_Result reply_route_error(srv_req *r)
{
    if (r->route_error == 401)
        return reply_401(r, srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
    if (r->route_error == 404)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "no resource at %s", r->path);
    struct MHD_Response *resp =
        srv_problem_response(r, SRV_P_METHOD, 405, NULL, "%s is not allowed on %s; allowed: %s",
                             r->method, r->path, r->allow);
    if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    return srv_reply(r, 405, resp);
}

/** MHD_KeyValueIterator: count the Content-Length headers whose value differs from the first. */
static enum MHD_Result count_other_lengths(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind;
    const char **first = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0) return MHD_YES;
    if (!first[0])
        first[0] = value;
    else if (strcmp(first[0], value) != 0)
        first[1] = value;
    return MHD_YES;
}

/**
 * Route @p r (first callback): set its handler, or decide 401/404/405 (answered now when a
 * body follows, so that it is never read; else once the request is complete, which keeps the
 * connection alive). An oversized Content-Length is answered 413 at once.
 */
static enum MHD_Result route(srv_req *r)
{
    const srv_route *found = NULL;
    int any = 0;
    int is_head = strcmp(r->method, "HEAD") == 0;
    for (size_t i = 0; i < NROUTES; i++) {
        char params[SRV_MAX_PARAMS][SRV_PARAM_MAX];
        if (!match(routes[i].pattern, r->path, params)) continue;
        any = 1;
        size_t n = strlen(r->allow);
        snprintf(r->allow + n, sizeof r->allow - n, "%s%s", n ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            n = strlen(r->allow);
            snprintf(r->allow + n, sizeof r->allow - n, ", HEAD");
        }
        if (!found && (strcmp(routes[i].method, r->method) == 0 ||
                       (is_head && strcmp(routes[i].method, "GET") == 0))) {
            found = &routes[i];
            memcpy(r->params, params, sizeof params);
        }
    }
    int needs_auth = found ? (found->flags & SRV_ROUTE_AUTH) != 0 : path_needs_auth(r->path);
    if (needs_auth && !authorized(r))
        r->route_error = 401;
    else if (!any)
        r->route_error = 404;
    else if (!found)
        r->route_error = 405;
    else
        r->handler = found->handler;

    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (cl && !te) {
        /* Two Content-Lengths that disagree: the body's end is ambiguous (request smuggling
         * behind a proxy that picks the other one); RFC 9112 6.3 makes it an error. */
        const char *lens[2] = {NULL, NULL};
        MHD_get_connection_values(r->con, MHD_HEADER_KIND, &count_other_lengths, lens);
        if (lens[1])
            return srv_problem_param(
                r, MHD_HTTP_HEADER_CONTENT_LENGTH,
                "the request has two Content-Length headers that disagree (%s and %s)", lens[0],
                lens[1]);
    }
    unsigned long long v = 0;
    if (cl) {
        char *end;
        errno = 0;
        v = strtoull(cl, &end, 10);
        if (errno || end == cl) v = ULLONG_MAX;
    }
    if (r->route_error) return v > 0 || te ? reply_route_error(r) : MHD_YES;
    /* Refuse an oversized body before reading any of it. */
    if (v > r->s->cfg.max_body_bytes)
        return srv_problem(r, SRV_P_TOO_LARGE, 413, NULL,
                           "the body (%s bytes) is larger than the limit of %llu bytes", cl,
                           (unsigned long long)r->s->cfg.max_body_bytes);
    if (v > 0) {
        /* Reserve up to 1 MiB now; larger bodies grow as their bytes actually arrive. */
        size_t first = v < ((size_t)1 << 20) ? (size_t)v + 1 : (size_t)1 << 20;
        r->body = malloc(first);
        if (!r->body)
            return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "out of memory for a body of %llu bytes", v);
        r->body_cap = first;
    }
    return MHD_YES;
}

/** Append upload data to the body, or count it as discarded past the limit. */
static enum MHD_Result accumulate(srv_req *r, const char *data, size_t n)
{
    uint64_t limit = r->s->cfg.max_body_bytes;
    /* A trickled body (see "Slow clients"): it gets --connection-timeout seconds plus one per
     * 64 KiB received so far; past that, hang up. */
    double took = srv_now() - r->t_start;
    if (took > r->s->cfg.connection_timeout + (double)(r->body_len + r->discarded) / 65536.0) {
        srv_log("slow_client", json_pack("{s:s, s:f, s:I}", "phase", "body", "seconds", took,
                                         "bytes", (json_int_t)(r->body_len + r->discarded)));
        return MHD_NO;
    }
    if (r->too_large || r->body_len + n > limit) {
        r->too_large = 1;
        r->discarded += n;
        /* Drain (without keeping) up to 4 limits + 1 MiB so that the 413 can still be sent;
         * past that, hang up. */
        return r->discarded > 4 * limit + ((uint64_t)1 << 20) ? MHD_NO : MHD_YES;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > limit + 1) cap = (size_t)limit + 1;
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
 *  allocated. */
static srv_req oom_req;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *con_cls;
    srv_json_oom_set(0); /* srv_reply() looks at the JSON allocations of this call only */
    if (r == &oom_req) {
        *upload_data_size = 0; /* answered 503 below; the body is dropped */
        return MHD_YES;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            *con_cls = &oom_req;
            return MHD_queue_response(con, 503, s->oom_response);
        }
        *con_cls = r;
        r->s = s;
        r->con = con;
        r->t_start = srv_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        atomic_fetch_add(&s->metrics.in_flight, 1);
        track_waiting(con, 0);
        return route(r);
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
    if (r->route_error) return reply_route_error(r);
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
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *s = cls;
    srv_req *r = *con_cls;
    track_waiting(con, 1); /* the next request's headers are awaited from now */
    if (!r || r == &oom_req) {
        *con_cls = NULL;
        return;
    }
    *con_cls = NULL;
    if (r->poll_state) srv_waiters_forget(s->waiters, &r->waiter);
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
    free(r->body);
    free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    srv_log("http_error", json_pack("{s:s}", "message", msg));
}

/* ------------------------------------------------------------------------------------------ */
/* Slow clients                                                                               */
/* ------------------------------------------------------------------------------------------ */

/*
 * libmicrohttpd's connection timeout only closes connections that send nothing for that long:
 * a client that trickles its request (a header line, or a body byte, every few seconds) would
 * keep its connection forever. So every connection is tracked from its start and from the end
 * of each request: its next request's headers must all arrive within --connection-timeout, or
 * a watchdog thread shuts the socket down (shutdown(2) only: libmicrohttpd sees the end of the
 * stream and closes and frees the connection itself). Entries leave the list in the "closed"
 * notification, which libmicrohttpd sends before it closes the descriptor, so the watchdog never
 * touches a descriptor that was reused. A body is checked as it arrives (accumulate()).
 */
typedef struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    int waiting;  /**< 1 while the headers of a request are awaited */
    double since; /**< srv_now() when the wait began */
} conn_track;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    conn_track *head;
    pthread_t thread;
    int running, stop;
    double timeout;
} guard = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 30};

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track *t = calloc(1, sizeof *t);
        if (!t || !ci) {
            free(t);
            return;
        }
        t->fd = ci->connect_fd;
        t->waiting = 1;
        t->since = srv_now();
        pthread_mutex_lock(&guard.lock);
        t->next = guard.head;
        if (guard.head) guard.head->prev = t;
        guard.head = t;
        pthread_mutex_unlock(&guard.lock);
        *socket_context = t;
        return;
    }
    conn_track *t = *socket_context;
    if (!t) return;
    *socket_context = NULL;
    pthread_mutex_lock(&guard.lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        guard.head = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&guard.lock);
    free(t);
}

/** Mark @p con as waiting for a request's headers (1) or handling one (0). */
static void track_waiting(struct MHD_Connection *con, int waiting)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track *t = ci ? ci->socket_context : NULL;
    if (!t) return;
    pthread_mutex_lock(&guard.lock);
    t->waiting = waiting;
    t->since = srv_now();
    pthread_mutex_unlock(&guard.lock);
}

static void *guard_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&guard.lock);
    while (!guard.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&guard.wake, &guard.lock, &ts);
        double now = srv_now(), took[16];
        int n = 0;
        for (conn_track *t = guard.head; t; t = t->next) {
            if (!t->waiting || now - t->since <= guard.timeout) continue;
            t->waiting = 0; /* once */
            shutdown(t->fd, SHUT_RDWR);
            if (n < 16) took[n] = now - t->since;
            n++;
        }
        /* Logged without the lock (stderr may block); of a burst, 16 lines and a count. */
        pthread_mutex_unlock(&guard.lock);
        for (int i = 0; i < n && i < 16; i++)
            srv_log("slow_client", json_pack("{s:s, s:f}", "phase", "headers", "seconds", took[i]));
        if (n > 16)
            srv_log("slow_client", json_pack("{s:s, s:i}", "phase", "headers", "more", n - 16));
        pthread_mutex_lock(&guard.lock);
    }
    pthread_mutex_unlock(&guard.lock);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Daemon                                                                                     */
/* ------------------------------------------------------------------------------------------ */

int srv_http_listen(srv *s)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", s->cfg.port);
    int rc = getaddrinfo(s->cfg.listen_host, port, &hints, &res);
    if (rc != 0) {
        srv_log("error",
                json_pack("{s:s, s:s, s:s}", "message", "cannot resolve the listen address", "host",
                          s->cfg.listen_host, "reason", gai_strerror(rc)));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        srv_log("error",
                json_pack("{s:s, s:s, s:i, s:s}", "message", "cannot listen", "host",
                          s->cfg.listen_host, "port", (int)s->cfg.port, "reason", strerror(err)));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->listen_fd = fd;
    return 0;
}

int srv_http_start(srv *s)
{
    s->oom_response = MHD_create_response_from_buffer(sizeof oom_body - 1, (void *)oom_body,
                                                      MHD_RESPMEM_PERSISTENT);
    if (!s->oom_response ||
        MHD_add_response_header(s->oom_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/problem+json") != MHD_YES ||
        MHD_add_response_header(s->oom_response, MHD_HTTP_HEADER_RETRY_AFTER, "1") != MHD_YES) {
        srv_log("error", json_pack("{s:s}", "message", "out of memory at start"));
        return -1;
    }
    /* MHD_USE_ITC: connections handed over with MHD_add_connection() (fuzz/fuzz_http.c) are
       served at once, not at the next event of the listening socket. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_access, s, MHD_OPTION_EXTERNAL_LOGGER, &on_mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)s->cfg.http_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)s->cfg.connection_timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)s->cfg.max_connections, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, &on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        &unescape_keep_nul, NULL, MHD_OPTION_END);
    if (!s->mhd) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the HTTP daemon"));
        return -1;
    }
    guard.timeout = s->cfg.connection_timeout;
    guard.stop = 0;
    guard.running = pthread_create(&guard.thread, NULL, guard_main, NULL) == 0;
    return 0;
}

void srv_http_quiesce(srv *s)
{
    if (!s->mhd || s->listen_fd < 0) return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->listen_fd = -1;
}

void srv_http_stop(srv *s)
{
    if (guard.running) {
        pthread_mutex_lock(&guard.lock);
        guard.stop = 1;
        pthread_cond_signal(&guard.wake);
        pthread_mutex_unlock(&guard.lock);
        pthread_join(guard.thread, NULL);
        guard.running = 0;
    }
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        s->listen_fd = -1; /* closed by MHD unless quiesced (then already closed) */
    } else if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    if (s->oom_response) MHD_destroy_response(s->oom_response);
    s->oom_response = NULL;
}
