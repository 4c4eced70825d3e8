/**
 * @file problem.c
 * @brief RFC 9457 problem details: every error answer of eirnnd is built here.
 *
 * Members: "type" (urn:eirnn:problem:<slug>), "title" (fixed per type), "status", "detail"
 * (what went wrong this time, actionable), "instance" (the request path), and for bad input
 * "field" (JSON pointer into the request body, from eir_error.field) or "parameter" (the query
 * parameter or header at fault).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct {
    const char *slug;
    const char *title;
} types[SRV_P_NTYPES] = {
    [SRV_P_MALFORMED_JSON] = {"malformed-json", "The request body is not valid JSON"},
    [SRV_P_BAD_PARAMETER] = {"bad-parameter", "A query parameter or header is invalid"},
    [SRV_P_UNAUTHORIZED] = {"unauthorized", "Authentication required"},
    [SRV_P_NOT_FOUND] = {"not-found", "No such resource"},
    [SRV_P_METHOD] = {"method-not-allowed", "Method not allowed on this resource"},
    [SRV_P_NOT_ACCEPTABLE] = {"not-acceptable", "No acceptable representation"},
    [SRV_P_CONFLICT] = {"conflict", "The resource's state does not allow this"},
    [SRV_P_TOO_LARGE] = {"body-too-large", "The request body is too large"},
    [SRV_P_INVALID] = {"invalid-document", "The document is not a valid model or run"},
    [SRV_P_IDEMPOTENCY] = {"idempotency-key-reused",
                           "The idempotency key was used with a different request"},
    [SRV_P_QUEUE_FULL] = {"queue-full", "The run queue is full"},
    [SRV_P_UNAVAILABLE] = {"unavailable", "The service is temporarily unavailable"},
    [SRV_P_INTERNAL] = {"internal", "Internal server error"},
    [SRV_P_RUN_FAILED] = {"run-failed", "The run failed"},
};

json_t *srv_problem_json(srv_problem_type t, unsigned status, const char *instance,
                         const char *field, const char *detail)
{
    if ((int)t < 0 || t >= SRV_P_NTYPES) t = SRV_P_INTERNAL;
    char type[64];
    snprintf(type, sizeof type, "urn:eirnn:problem:%s", types[t].slug);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", types[t].title, "status",
                          (int)status, "detail", detail ? detail : "");
    if (!o) return NULL;
    if (instance) json_object_set_new(o, "instance", json_string(instance));
    if (field) json_object_set_new(o, "field", json_string(field));
    return o;
}

/**
 * Replace every byte of @p s that is not part of a well-formed UTF-8 sequence by '?', in place.
 * Details and instances quote client text (paths, query values, headers) and may cut it;
 * jansson refuses strings that are not UTF-8, which would turn the answer into a 500.
 */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n = c < 0x80                   ? 1
                   : (c >= 0xc2 && c <= 0xdf) ? 2
                   : (c >= 0xe0 && c <= 0xef) ? 3
                   : (c >= 0xf0 && c <= 0xf4) ? 4
                                              : 0;
        int ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 3) { /* no overlongs, no surrogates */
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
        } else if (ok && n == 4) {
            ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        }
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static struct MHD_Response *problem_response_v(srv_req *r, srv_problem_type t, unsigned status,
                                               const char *field, const char *param,
                                               const char *fmt, va_list ap)
{
    char detail[1024], instance[SRV_PATH_MAX];
    vsnprintf(detail, sizeof detail, fmt, ap);
    utf8_clean(detail);
    if (r) {
        snprintf(instance, sizeof instance, "%s", r->path);
        utf8_clean(instance);
    }
    char fieldbuf[EIR_FIELD_MAX];
    if (field) {
        snprintf(fieldbuf, sizeof fieldbuf, "%s", field);
        utf8_clean(fieldbuf); /* a long pointer may have been cut inside a character */
    }
    char parambuf[SRV_PARAM_MAX];
    if (param) {
        snprintf(parambuf, sizeof parambuf, "%s", param);
        utf8_clean(parambuf); /* a parameter's name is client text too */
    }
    int oom = srv_json_oom();
    srv_json_oom_set(0);
    json_t *o = srv_problem_json(t, status, r ? instance : NULL, field ? fieldbuf : NULL, detail);
    if (o && param) json_object_set_new(o, "parameter", json_string(parambuf));
    /* A member that could not be added is missing without an error (srv.h): no answer then. */
    char *s = o && !srv_json_oom() ? srv_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    srv_json_oom_set(oom || !s);
    if (!s) return NULL;
    return srv_response_take(r, s, strlen(s), "application/problem+json");
}

struct MHD_Response *srv_problem_response(srv_req *r, srv_problem_type t, unsigned status,
                                          const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = problem_response_v(r, t, status, field, NULL, fmt, ap);
    va_end(ap);
    return resp;
}

/** Last resort when even the problem object cannot be built. */
static enum MHD_Result bare_500(srv_req *r)
{
    static const char body[] = "{\"type\":\"urn:eirnn:problem:internal\",\"title\":\"Internal "
                               "server error\",\"status\":500,\"detail\":\"out of memory\"}";
    return srv_reply(r, 500,
                     srv_response_copy(r, body, sizeof body - 1, "application/problem+json"));
}

enum MHD_Result srv_problem(srv_req *r, srv_problem_type t, unsigned status, const char *field,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp = problem_response_v(r, t, status, field, NULL, fmt, ap);
    va_end(ap);
    if (!resp) return bare_500(r);
    if (status == 503 &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1") != MHD_YES) {
        MHD_destroy_response(resp);
        return srv_reply(r, 503, NULL); /* the 503 made at start, with its Retry-After */
    }
    return srv_reply(r, status, resp);
}

enum MHD_Result srv_problem_param(srv_req *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct MHD_Response *resp =
        problem_response_v(r, SRV_P_BAD_PARAMETER, 400, NULL, name, fmt, ap);
    va_end(ap);
    if (!resp) return bare_500(r);
    return srv_reply(r, 400, resp);
}

enum MHD_Result srv_problem_store(srv_req *r, store_status st, store_conn *c, const char *what)
{
    const char *msg = store_errmsg(c);
    switch (st) {
    case STORE_NOT_FOUND:
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "%s does not exist", what);
    case STORE_CONFLICT:
        return srv_problem(r, SRV_P_CONFLICT, 409, NULL, "%s: %s", what, msg);
    case STORE_INVALID:
        return srv_problem(r, SRV_P_BAD_PARAMETER, 400, NULL, "%s: %s", what, msg);
    case STORE_BUSY:
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "the database is busy; retry shortly (%s)", msg);
    case STORE_FULL:
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "storage is full: %s", msg);
    case STORE_QUEUE_FULL:
        return srv_problem(r, SRV_P_QUEUE_FULL, 503, NULL, "the run queue is full: %s", msg);
    case STORE_KEY_REUSED:
        return srv_problem(r, SRV_P_IDEMPOTENCY, 422, NULL, "%s", msg);
    default:
        srv_log("store_error", json_pack("{s:s, s:s, s:s}", "path", r->path, "status",
                                         store_status_name(st), "message", msg));
        return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "storage error: %s", msg);
    }
}

enum MHD_Result srv_problem_eir(srv_req *r, const eir_error *err)
{
    if (err->status == EIR_ENOMEM)
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "%s", err->message);
    return srv_problem(r, SRV_P_INVALID, 422, err->field[0] ? err->field : NULL, "%s",
                       err->message);
}

json_t *srv_body_json(srv_req *r, enum MHD_Result *ret)
{
    json_error_t je;
    if (!r->body || r->body_len == 0) {
        *ret = srv_problem(r, SRV_P_MALFORMED_JSON, 400, NULL,
                           "the request needs a JSON object as its body");
        return NULL;
    }
    int oom = srv_json_oom();
    srv_json_oom_set(0);
    json_t *j = eir_json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (srv_json_oom()) {
        /* Out of memory while parsing: jansson may have reported it as a syntax error, or
         * returned a document with a string or number cut short (srv.h). */
        json_decref(j);
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                           "out of memory reading the request body; retry shortly");
        return NULL;
    }
    srv_json_oom_set(oom);
    if (!j) {
        *ret = srv_problem(r, SRV_P_MALFORMED_JSON, 400, NULL, "line %d, column %d: %s", je.line,
                           je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *ret = srv_problem(r, SRV_P_INVALID, 422, "", "expected a JSON object as the body");
        return NULL;
    }
    return j;
}
