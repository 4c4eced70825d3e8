/**
 * @file http_reply.c
 * @brief Replies: queueing a response for a request (with the shared out-of-memory 503),
 *        responses from bytes or JSON, and the request's query arguments and headers.
 */
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "http_internal.h"

/** Body of srv::oom_response. */
static const char oom_body[] =
    "{\"type\":\"urn:eirnn:problem:unavailable\",\"title\":\"The service is temporarily "
    "unavailable\",\"status\":503,\"detail\":\"out of memory; retry shortly\"}";

struct MHD_Response *srv_oom_response_new(void)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof oom_body - 1, (void *)oom_body, MHD_RESPMEM_PERSISTENT);
    if (resp && (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                         "application/problem+json") != MHD_YES ||
                 MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1") != MHD_YES ||
                 MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES)) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return resp;
}

/** Queue @p resp (NULL: the shared 503) with @p status for @p r on the connection's thread. */
static enum MHD_Result queue_reply(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    r->answered = 1;
    if (!resp) {
        /* Out of memory: the 503 made at start (shared, so queued but not destroyed here). */
        r->status = 503;
        r->bytes = sizeof oom_body - 1;
        return MHD_queue_response(r->con, 503, r->s->oom_response);
    }
    r->status = status;
    /* Every answer says that its Content-Type is to be believed (no sniffing by browsers). */
    if (MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES) {
        MHD_destroy_response(resp);
        r->status = 503;
        r->bytes = sizeof oom_body - 1;
        return MHD_queue_response(r->con, 503, r->s->oom_response);
    }
    /* A request whose body's end is ambiguous: what follows it on the connection is not to be
     * read as a request (RFC 9112 6.3); libmicrohttpd closes after an answer that says so. */
    if (r->close_after &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) {
        MHD_destroy_response(resp);
        r->status = 503;
        r->bytes = sizeof oom_body - 1;
        return MHD_NO; /* no "close" could be added: hang up rather than read on */
    }
    /* A successful POST or DELETE created, cancelled or deleted something (a model, a job, a
     * sweep): the change feed moves (a replayed POST moves it too, which costs a list reload). */
    if (status >= 200 && status < 300 && strcmp(r->method, "GET") != 0 &&
        strcmp(r->method, "HEAD") != 0)
        srv_changes_bump(r->s);
    enum MHD_Result ret = MHD_queue_response(r->con, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result srv_reply(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    /* A success answer built while a JSON allocation failed can miss members or bytes (srv.h,
     * srv_json_init): answer 503 instead. */
    if (resp && status < 400 && srv_json_oom()) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    if (!r->capture) return queue_reply(r, status, resp);
    if (r->captured) { /* a second answer: refused as MHD_queue_response() would */
        if (resp) MHD_destroy_response(resp);
        return MHD_NO;
    }
    r->captured = 1;
    r->captured_status = resp ? status : 503;
    r->captured_resp = resp;
    return MHD_YES;
}

enum MHD_Result srv_reply_captured(srv_req *r)
{
    if (!r->captured)
        return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "the request's work gave no answer");
    struct MHD_Response *resp = r->captured_resp;
    r->captured = 0;
    r->captured_resp = NULL;
    return queue_reply(r, r->captured_status, resp);
}

void srv_reply_captured_free(srv_req *r)
{
    if (r->captured_resp) MHD_destroy_response(r->captured_resp);
    r->captured_resp = NULL;
    r->captured = 0;
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
