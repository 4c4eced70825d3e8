/**
 * @file http_route.c
 * @brief Routing and authentication: the static route table, path matching, the
 *        percent-unescaping of paths and query arguments, the bearer token, and the decision
 *        made on a request's first callback (handler, 401/404/405, Content-Length checks).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "sweeps.h"

/* The query parameters of each route: docs/API.md lists them, and any other is refused. */
static const char *const q_none[] = {NULL};
static const char *const q_models_list[] = {"limit", "cursor", "label", NULL};
static const char *const q_runs_list[] = {"limit",    "cursor", "status", "model_id",
                                          "sweep_id", "label",  NULL};
static const char *const q_run_get[] = {"wait", NULL};
static const char *const q_job_get[] = {"wait", "progress", NULL};
static const char *const q_changes[] = {"after", "wait", NULL};
static const char *const q_result_get[] = {"format", "trials", "steps", "neurons", NULL};
static const char *const q_analyses_list[] = {"limit", "cursor", "status", "model_id",
                                              "kind",  "label",  NULL};
static const char *const q_format[] = {"format", NULL};
static const char *const q_matrix_get[] = {"format", NULL};
static const char *const q_trainings_list[] = {"limit", "cursor", "status", "model_id",
                                               "task",  "label",  NULL};
static const char *const q_curve[] = {"format", "after", "limit", NULL};
static const char *const q_sweeps_list[] = {"limit", "cursor", "label", NULL};
static const char *const q_sweep_table[] = {"format", "per_trial", NULL};

static const srv_route routes[] = {
    {"GET", "/", h_web_index, 0, q_none},
    {"GET", "/ui/{*}", h_web_asset, 0, q_none},
    {"GET", "/healthz", h_healthz, 0, q_none},
    {"GET", "/metrics", h_metrics, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/openapi.json", h_openapi, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/changes", h_changes, SRV_ROUTE_AUTH, q_changes},
    {"POST", "/v1/models", h_models_create, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/models", h_models_list, SRV_ROUTE_AUTH, q_models_list},
    {"GET", "/v1/models/{id}", h_models_get, SRV_ROUTE_AUTH, q_none},
    {"DELETE", "/v1/models/{id}", h_models_delete, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/models/{id}/matrices", h_matrices_list, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/models/{id}/matrices/{name}", h_matrices_get, SRV_ROUTE_AUTH, q_matrix_get},
    {"POST", "/v1/runs", h_runs_create, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/runs", h_runs_list, SRV_ROUTE_AUTH, q_runs_list},
    {"GET", "/v1/runs/{id}", h_runs_get, SRV_ROUTE_AUTH, q_job_get},
    {"DELETE", "/v1/runs/{id}", h_runs_delete, SRV_ROUTE_AUTH, q_none},
    {"POST", "/v1/runs/{id}/cancel", h_runs_cancel, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/runs/{id}/request", h_runs_request, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/runs/{id}/results", h_results_list, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/runs/{id}/results/{var}", h_results_get, SRV_ROUTE_AUTH, q_result_get},
    {"POST", "/v1/analyses", h_analyses_create, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/analyses", h_analyses_list, SRV_ROUTE_AUTH, q_analyses_list},
    {"GET", "/v1/analyses/{id}", h_analyses_get, SRV_ROUTE_AUTH, q_job_get},
    {"DELETE", "/v1/analyses/{id}", h_analyses_delete, SRV_ROUTE_AUTH, q_none},
    {"POST", "/v1/analyses/{id}/cancel", h_analyses_cancel, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/analyses/{id}/results", h_analyses_results_list, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/analyses/{id}/results/{name}", h_analyses_results_get, SRV_ROUTE_AUTH, q_format},
    {"POST", "/v1/trainings", h_trainings_create, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/trainings", h_trainings_list, SRV_ROUTE_AUTH, q_trainings_list},
    {"GET", "/v1/trainings/{id}", h_trainings_get, SRV_ROUTE_AUTH, q_job_get},
    {"DELETE", "/v1/trainings/{id}", h_trainings_delete, SRV_ROUTE_AUTH, q_none},
    {"POST", "/v1/trainings/{id}/cancel", h_trainings_cancel, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/trainings/{id}/request", h_trainings_request, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/trainings/{id}/curve", h_trainings_curve, SRV_ROUTE_AUTH, q_curve},
    {"POST", "/v1/sweeps", h_sweeps_create, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/sweeps", h_sweeps_list, SRV_ROUTE_AUTH, q_sweeps_list},
    {"GET", "/v1/sweeps/{id}", h_sweeps_get, SRV_ROUTE_AUTH, q_run_get},
    {"DELETE", "/v1/sweeps/{id}", h_sweeps_delete, SRV_ROUTE_AUTH, q_none},
    {"POST", "/v1/sweeps/{id}/cancel", h_sweeps_cancel, SRV_ROUTE_AUTH, q_none},
    {"GET", "/v1/sweeps/{id}/table", h_sweeps_table, SRV_ROUTE_AUTH, q_sweep_table},
};
#define NROUTES (sizeof routes / sizeof *routes)

/** Value of the hex digit @p c, or -1. */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int srv_route_match(const char *pattern, const char *path, char params[][SRV_PARAM_MAX])
{
    int np = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (p[0] == '{' && p[1] == '*') { /* "{*}" ends a pattern: the rest of the path */
            size_t n = strlen(u);
            if (n >= SRV_PARAM_MAX || np >= SRV_MAX_PARAMS) return 0;
            memcpy(params[np], u, n + 1);
            return 1;
        }
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

size_t srv_unescape_keep_nul(char *s)
{
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

/* Used for the path and query arguments: "/v1/runs/r_...%00junk" must not name the run r_... */
size_t srv_http_unescape(void *cls, struct MHD_Connection *con, char *s)
{
    (void)cls;
    (void)con;
    return srv_unescape_keep_nul(s);
}

int srv_route_accepts(const srv_route *rt, const char *name)
{
    for (const char *const *q = rt->query; q && *q; q++)
        if (strcmp(*q, name) == 0) return 1;
    return 0;
}

void srv_route_query_list(const srv_route *rt, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const char *const *q = rt->query; q && *q && n < cap; q++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", *q);
    if (!buf[0]) snprintf(buf, cap, "none");
}

/** MHD_KeyValueIterator over the query arguments: at the first that the route does not accept,
 *  decide 400 (r->route_error), keep its name in r->bad_query and stop. */
static enum MHD_Result find_unknown_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    (void)kind;
    (void)value;
    srv_req *r = cls;
    if (srv_route_accepts(r->route, key ? key : "")) return MHD_YES;
    snprintf(r->bad_query, sizeof r->bad_query, "%s", key ? key : "");
    r->route_error = 400;
    return MHD_NO;
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

enum MHD_Result srv_http_reply_route_error(srv_req *r)
{
    if (r->route_error == 401)
        return reply_401(r, srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL);
    if (r->route_error == 400) {
        char accepted[128];
        srv_route_query_list(r->route, accepted, sizeof accepted);
        return srv_problem_param(r, r->bad_query, "unknown query parameter '%s'; %s %s accepts: %s",
                                 r->bad_query, r->route->method, r->route->pattern, accepted);
    }
    if (r->route_error == 404)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "no resource at %s", r->path);
    struct MHD_Response *resp =
        srv_problem_response(r, SRV_P_METHOD, 405, NULL, "%s is not allowed on %s; allowed: %s",
                             r->method, r->path, r->allow);
    if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    return srv_reply(r, 405, resp);
}

/** What the framing headers of a request say (RFC 9112 6.3). */
typedef struct framing {
    const char *te;       /**< the first Transfer-Encoding, or NULL */
    int n_te;             /**< how many Transfer-Encoding headers */
    const char *cl;       /**< the first Content-Length, or NULL */
    const char *cl_other; /**< a Content-Length that differs from the first, or NULL */
} framing;

/** MHD_KeyValueIterator over the headers: fill the ::framing @p cls. */
static enum MHD_Result collect_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!key || !value) return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (!f->te) f->te = value;
        f->n_te++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!f->cl)
            f->cl = value;
        else if (strcmp(f->cl, value) != 0)
            f->cl_other = value;
    }
    return MHD_YES;
}

/**
 * Refuse a request whose body's end is ambiguous (request smuggling behind a proxy that reads it
 * the other way, RFC 9112 6.3): Transfer-Encoding with Content-Length, two Transfer-Encodings, a
 * coding other than "chunked", or two Content-Lengths that disagree. The 400 names the header
 * ("parameter") and closes the connection without reading what follows. @return 1 and the
 * answer in *@p ret when refused, else 0.
 */
static int refuse_ambiguous_framing(srv_req *r, enum MHD_Result *ret)
{
    framing f = {NULL, 0, NULL, NULL};
    MHD_get_connection_values(r->con, MHD_HEADER_KIND, &collect_framing, &f);
    const char *te = MHD_HTTP_HEADER_TRANSFER_ENCODING;
    r->close_after = 1;
    if (f.n_te > 1)
        *ret = srv_problem_param(r, te,
                                 "the request has %d Transfer-Encoding headers; one is "
                                 "allowed, and it must be exactly 'chunked'",
                                 f.n_te);
    else if (f.te && f.cl)
        *ret = srv_problem_param(r, te,
                                 "the request has both Transfer-Encoding and Content-Length; "
                                 "send one of them");
    else if (f.te && strcasecmp(f.te, "chunked") != 0)
        *ret = srv_problem_param(
            r, te, "Transfer-Encoding '%s' is not supported; only 'chunked' is", f.te);
    else if (f.cl_other)
        *ret = srv_problem_param(
            r, MHD_HTTP_HEADER_CONTENT_LENGTH,
            "the request has two Content-Length headers that disagree (%s and %s)", f.cl,
            f.cl_other);
    else {
        r->close_after = 0;
        return 0;
    }
    return 1;
}

const srv_route *srv_route_find(const char *method, const char *path,
                                char params[SRV_MAX_PARAMS][SRV_PARAM_MAX], char *allow,
                                size_t allow_cap, unsigned *error)
{
    const srv_route *found = NULL;
    int any = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    allow[0] = '\0';
    for (size_t i = 0; i < NROUTES; i++) {
        char p[SRV_MAX_PARAMS][SRV_PARAM_MAX];
        if (!srv_route_match(routes[i].pattern, path, p)) continue;
        any = 1;
        size_t n = strlen(allow);
        snprintf(allow + n, allow_cap - n, "%s%s", n ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            n = strlen(allow);
            snprintf(allow + n, allow_cap - n, ", HEAD");
        }
        if (!found && (strcmp(routes[i].method, method) == 0 ||
                       (is_head && strcmp(routes[i].method, "GET") == 0))) {
            found = &routes[i];
            memcpy(params, p, sizeof p);
        }
    }
    *error = found ? 0 : any ? 405 : 404;
    return found;
}

enum MHD_Result srv_http_route(srv_req *r)
{
    /* First of all: nothing else about a request whose end is ambiguous can be trusted. */
    enum MHD_Result refused;
    if (refuse_ambiguous_framing(r, &refused)) return refused;
    unsigned error;
    const srv_route *found =
        srv_route_find(r->method, r->path, r->params, r->allow, sizeof r->allow, &error);
    int needs_auth = found ? (found->flags & SRV_ROUTE_AUTH) != 0 : path_needs_auth(r->path);
    if (needs_auth && !authorized(r))
        r->route_error = 401;
    else if (!found)
        r->route_error = error;
    else {
        r->handler = found->handler;
        r->route = found;
        MHD_get_connection_values(r->con, MHD_GET_ARGUMENT_KIND, &find_unknown_query, r);
    }

    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long v = 0;
    if (cl) {
        char *end;
        errno = 0;
        v = strtoull(cl, &end, 10);
        if (errno || end == cl) v = ULLONG_MAX;
    }
    if (r->route_error) return v > 0 || te ? srv_http_reply_route_error(r) : MHD_YES;
    /* Refuse an oversized body before reading any of it. */
    if (v > r->s->cfg.max_body_bytes)
        return srv_problem(r, SRV_P_TOO_LARGE, 413, NULL,
                           "the body (%s bytes) is larger than the limit of %llu bytes", cl,
                           (unsigned long long)r->s->cfg.max_body_bytes);
    if (v > 0) {
        /* The whole body is counted in the daemon-wide budget now, so that one that cannot fit
         * is refused before any of it is read (and one accepted is never cut off). */
        if (!srv_body_budget_take(r, (uint64_t)v + 1))
            return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "request bodies being received use the daemon's buffer of %llu "
                               "bytes (--max-body-buffer-bytes); a body of %llu bytes does not "
                               "fit now; retry shortly",
                               (unsigned long long)r->s->cfg.max_body_buffer, v);
        /* Allocate up to 1 MiB now; larger bodies grow as their bytes actually arrive. */
        size_t first = v < ((size_t)1 << 20) ? (size_t)v + 1 : (size_t)1 << 20;
        r->body = malloc(first);
        if (!r->body)
            return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "out of memory for a body of %llu bytes", v);
        r->body_cap = first;
    }
    return MHD_YES;
}
