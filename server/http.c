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
#include <sys/socket.h>
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

/* ------------------------------------------------------------------------------------------ */
/* Replies                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum MHD_Result srv_reply(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        static const char body[] = "{\"type\":\"urn:eirnn:problem:internal\",\"title\":\"Internal "
                                   "server error\",\"status\":500,\"detail\":\"out of memory\"}";
        resp =
            MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
        status = 500;
        r->bytes = sizeof body - 1;
    }
    r->status = status;
    r->answered = 1;
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
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
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
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
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

static enum MHD_Result on_access(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->s = s;
        r->con = con;
        r->t_start = srv_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        atomic_fetch_add(&s->metrics.in_flight, 1);
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
    return r->handler(r);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)con;
    srv *s = cls;
    srv_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (r->poll_state) srv_waiters_forget(s->waiters, &r->waiter);
    if (r->detach) r->detach(r->detach_ctx);
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, &on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
                         &on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.http_threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->cfg.connection_timeout,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->cfg.max_connections,
                         MHD_OPTION_NOTIFY_COMPLETED, &on_completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the HTTP daemon"));
        return -1;
    }
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
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        s->listen_fd = -1; /* closed by MHD unless quiesced (then already closed) */
    } else if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
}
