/**
 * @file http.h
 * @brief eirnnd's HTTP layer: the request context handlers get, the reply helpers, RFC 9457
 *        problem details and the handlers of every route.
 *
 * The layer's files: http_daemon.c (listening socket, start, quiesce, stop), http_route.c (the
 * route table with each route's query parameters, matching, unescaping, the bearer token),
 * http_request.c (libmicrohttpd's per-request callbacks, the body), http_reply.c (replies),
 * http_guard.c (the slow-client watchdog); http_internal.h is their private header.
 *
 * A handler runs on a libmicrohttpd thread once the whole request (headers and body) is in.
 * It validates, does at most one short store transaction and queues exactly one response with
 * srv_reply() (or one of the helpers built on it), returning what that returned. Handlers never
 * simulate and never block on a run: a long poll suspends the connection instead (waiters.h).
 * Work whose cost grows faster than the request's size (checking a sweep's points) goes to the
 * request-offload thread, the connection suspended meanwhile (offload.h); its answer is
 * captured there (srv_req::capture) and queued by the handler's next call.
 */
#ifndef EIRNN_HTTP_H
#define EIRNN_HTTP_H

#include <jansson.h>
#include <microhttpd.h>

#include "srv.h"
#include "waiters.h"

/** Route flags. */
enum {
    SRV_ROUTE_AUTH = 1 /**< needs the bearer token when one is configured */
};

#define SRV_MAX_PARAMS 2     /**< {id} and {var} */
#define SRV_PARAM_MAX 64     /**< longest path parameter kept (longer ones cannot match an id) */
#define SRV_PATH_MAX 512     /**< request path kept for logs and problem "instance" */
#define SRV_LABEL_KEY_MAX 63 /**< longest label key (bytes), as eir_json_check_labels() */

struct srv_req;
struct srv_route;

/** A request handler: answers @p r (see file comment). */
typedef enum MHD_Result (*srv_handler)(struct srv_req *r);

/** One request being handled (MHD's per-request context). */
typedef struct srv_req {
    srv *s;                                     /**< the daemon */
    struct MHD_Connection *con;                 /**< its connection */
    srv_handler handler;                        /**< the matched route's handler */
    char method[12];                            /**< "GET", "POST", ... */
    char path[SRV_PATH_MAX];                    /**< the path (without query), truncated */
    char params[SRV_MAX_PARAMS][SRV_PARAM_MAX]; /**< {id}, {var} in pattern order */
    char *body;                                 /**< request body (NUL-terminated), or NULL */
    size_t body_len, body_cap;
    int too_large;            /**< a chunked body outgrew the limit */
    int over_budget;          /**< the daemon-wide body budget was spent (503) */
    uint64_t budget_held;     /**< bytes of srv::body_buffered this request holds */
    uint64_t discarded;       /**< bytes of an oversized body thrown away */
    double t_start;           /**< srv_now() at the first callback */
    double busy_mark;         /**< its thread's busy seconds then (http_guard.c) */
    unsigned status;          /**< status of the queued response, 0 = none */
    uint64_t bytes;           /**< response body bytes (streams count as sent) */
    int answered;             /**< a response was queued */
    int close_after;          /**< the answer closes the connection (ambiguous framing) */
    srv_waiter waiter;        /**< long-poll registration (h_runs.c) */
    int poll_state;           /**< 0 none, 1 long poll suspended, 2 offloaded (offload.h) */
    int capture;              /**< srv_reply() keeps the answer instead of queueing it */
    int captured;             /**< an answer is kept (captured_status, captured_resp) */
    unsigned captured_status; /**< its status */
    struct MHD_Response *captured_resp; /**< its response (owned); NULL: srv::oom_response */
    unsigned route_error;               /**< 400, 401, 404 or 405 decided by routing */
    char allow[64];                     /**< Allow header for a 405 */
    char bad_query[SRV_PARAM_MAX];      /**< the unknown query parameter of a 400 (cut) */
    const struct srv_route *route;      /**< the matched route (http_internal.h), or NULL */
    void (*detach)(void *ctx);          /**< called when the request ends before a */
    void *detach_ctx;                   /**< streamed response it feeds is freed */
    /** The keys of the ?label=key:value filters (labels.c): store_labels borrows them. */
    char label_keys[STORE_MAX_LABEL_FILTERS][SRV_LABEL_KEY_MAX + 1];
} srv_req;

/* ---- http_daemon.c (life cycle), http_reply.c (replies) ------------------------------------- */

/**
 * Start libmicrohttpd on @p s->listen_fd with the options of @p s->cfg. @return 0, or -1 after
 * logging why.
 */
int srv_http_start(srv *s);

/**
 * Stop accepting connections (MHD_quiesce_daemon) and close the listening socket; requests on
 * open connections are still answered. Safe to call twice.
 */
void srv_http_quiesce(srv *s);

/** Stop the HTTP daemon, closing every connection. Waiters must have been resumed first. */
void srv_http_stop(srv *s);

/**
 * Bind the listening socket for cfg.listen_host:cfg.port (IPv4 or IPv6) and set s->listen_fd and
 * s->port. @return 0, or -1 after logging why.
 */
int srv_http_listen(srv *s);

/**
 * Queue @p resp with @p status for @p r, recording status and size; destroys @p resp. NULL
 * @p resp (out of memory) queues the shared 503. With r->capture set (work running off the
 * connection's thread, offload.h) nothing is queued: the answer (the first one only; a later
 * one is destroyed and MHD_NO returned) is kept in @p r for srv_reply_captured() and MHD_YES
 * returned.
 */
enum MHD_Result srv_reply(srv_req *r, unsigned status, struct MHD_Response *resp);

/**
 * Queue the answer srv_reply() captured for @p r, as srv_reply() would have (from the access
 * handler, on the connection's thread, r->capture clear). A request without one gets a 500.
 */
enum MHD_Result srv_reply_captured(srv_req *r);

/** Destroy the answer captured for @p r that was never queued (the client went away). */
void srv_reply_captured_free(srv_req *r);

/**
 * A response holding a copy of @p len bytes at @p data with @p content_type (NULL = none); the
 * size is recorded in @p r for the request log (@p r may be NULL). NULL when out of memory.
 */
struct MHD_Response *srv_response_copy(srv_req *r, const void *data, size_t len,
                                       const char *content_type);

/** Like srv_response_copy() but taking ownership of malloc'ed @p data (freed even on failure). */
struct MHD_Response *srv_response_take(srv_req *r, char *data, size_t len,
                                       const char *content_type);

/**
 * A compact application/json response of @p j (stolen). NULL when out of memory (then @p j is
 * released).
 */
struct MHD_Response *srv_response_json(srv_req *r, json_t *j);

/** Queue a JSON response of @p j (stolen) with @p status; 500 problem when out of memory. */
enum MHD_Result srv_reply_json(srv_req *r, unsigned status, json_t *j);

/** Queue an empty response (204, 304, ...). */
enum MHD_Result srv_reply_empty(srv_req *r, unsigned status);

/** A query argument of @p r, or NULL. */
const char *srv_query(srv_req *r, const char *name);

/** A request header of @p r, or NULL. */
const char *srv_header(srv_req *r, const char *name);

/* ---- problem.c ----------------------------------------------------------------------------- */

/** Problem types: the last part of the type URI "urn:eirnn:problem:<slug>" and their titles. */
typedef enum srv_problem_type {
    SRV_P_MALFORMED_JSON, /**< 400 the body is not JSON */
    SRV_P_BAD_PARAMETER,  /**< 400 a query parameter or header is invalid */
    SRV_P_UNAUTHORIZED,   /**< 401 */
    SRV_P_NOT_FOUND,      /**< 404 */
    SRV_P_METHOD,         /**< 405 */
    SRV_P_NOT_ACCEPTABLE, /**< 406 */
    SRV_P_CONFLICT,       /**< 409 */
    SRV_P_TOO_LARGE,      /**< 413 */
    SRV_P_INVALID,        /**< 422 the document is well-formed JSON but not a valid model/run */
    SRV_P_IDEMPOTENCY,    /**< 422 idempotency key reused with another body */
    SRV_P_QUEUE_FULL,     /**< 503 */
    SRV_P_UNAVAILABLE,    /**< 503 busy store or shutting down */
    SRV_P_INTERNAL,       /**< 500 */
    SRV_P_RUN_FAILED,     /**< error object of a failed run (not an HTTP answer) */
    SRV_P_NTYPES
} srv_problem_type;

/**
 * A problem object (RFC 9457): type, title, status, detail, instance (@p instance may be NULL),
 * and "field" (a JSON pointer into the request body) when @p field is not NULL. NULL when out of
 * memory.
 */
json_t *srv_problem_json(srv_problem_type t, unsigned status, const char *instance,
                         const char *field, const char *detail);

/**
 * An application/problem+json response (see srv_problem_json) with a printf-style detail, for
 * callers that add headers before srv_reply(). NULL when out of memory.
 */
struct MHD_Response *srv_problem_response(srv_req *r, srv_problem_type t, unsigned status,
                                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Queue a problem response with @p status. Always answers (a bare 500 if out of memory). */
enum MHD_Result srv_problem(srv_req *r, srv_problem_type t, unsigned status, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Like srv_problem() for a bad query parameter: adds "parameter": @p name. */
enum MHD_Result srv_problem_param(srv_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Answer a store failure @p st (from connection @p c) the usual way: 404 not found, 409
 * conflict, 503 busy/full with Retry-After, 400 invalid, 500 otherwise, with @p what naming the
 * object ("run r_..."). Logs 500s.
 */
enum MHD_Result srv_problem_store(srv_req *r, store_status st, store_conn *c, const char *what);

/**
 * Answer an eir_error from parsing or building a model or run: 422 with its field (413 is not
 * used here; EIR_ENOMEM gives 503).
 */
enum MHD_Result srv_problem_eir(srv_req *r, const eir_error *err);

/** Parse @p r's body as one JSON object; on failure queues 400/422 and returns NULL. */
json_t *srv_body_json(srv_req *r, enum MHD_Result *ret);

/* ---- handlers ------------------------------------------------------------------------------ */

/** GET / and GET /ui/{*} (h_web.c): the web page's embedded files (web_assets.h); 304 for a
 *  matching If-None-Match; 404 for a path that names no file. Never need the token. */
enum MHD_Result h_web_index(srv_req *r);
enum MHD_Result h_web_asset(srv_req *r);
/** GET /v1/changes?after=SEQ&wait=S (changes.c, changes.h). */
enum MHD_Result h_changes(srv_req *r);
enum MHD_Result h_healthz(srv_req *r);
enum MHD_Result h_metrics(srv_req *r);
enum MHD_Result h_openapi(srv_req *r);
enum MHD_Result h_models_create(srv_req *r);
enum MHD_Result h_models_list(srv_req *r);
enum MHD_Result h_models_get(srv_req *r);
enum MHD_Result h_models_delete(srv_req *r);
enum MHD_Result h_runs_create(srv_req *r);
enum MHD_Result h_runs_list(srv_req *r);
enum MHD_Result h_runs_get(srv_req *r);
enum MHD_Result h_runs_delete(srv_req *r);
enum MHD_Result h_runs_cancel(srv_req *r);
/** GET /v1/runs/{id}/request: the run's request as stored (the body as sent, with the seed
 *  picked for a noisy run without one), application/json; 404. */
enum MHD_Result h_runs_request(srv_req *r);
enum MHD_Result h_results_list(srv_req *r);
enum MHD_Result h_results_get(srv_req *r);
enum MHD_Result h_matrices_list(srv_req *r);
enum MHD_Result h_matrices_get(srv_req *r);

/* ---- shared by handlers (h_common.c) -------------------------------------------------------- */

/**
 * Parse the ?limit= and ?cursor= of a list request: *limit 1..STORE_LIST_MAX (default
 * STORE_LIST_DEFAULT), *cursor NULL when absent. On failure queues a 400 into *ret and returns -1.
 */
int srv_page_params(srv_req *r, int *limit, const char **cursor, enum MHD_Result *ret);

/**
 * Add a Link header with rel="next" to @p resp for the next page: @p base (path), the query
 * pairs @p extra (already encoded "k=v&..." or ""), limit and @p next cursor.
 */
void srv_link_next(struct MHD_Response *resp, const char *base, const char *extra, int limit,
                   const char *next);

/** Percent-encode @p in into @p out (RFC 3986 unreserved kept). */
void srv_url_encode(const char *in, char *out, size_t cap);

/** JSON of a run (the status resource); @p with_meta adds "meta" and "error" as stored. */
char *srv_run_resource(const store_run *run, int with_meta, size_t *len);

/** JSON object of a run without meta (list items). NULL when out of memory. */
json_t *srv_run_json(const store_run *run);

/* ---- jobs of one kind: /v1/runs and /v1/analyses (h_jobs.c) ------------------------------- */

/** Queue the answer @p status with job @p job's document (its kind's own). */
typedef enum MHD_Result (*srv_job_reply_fn)(srv_req *r, store_conn *c, unsigned status,
                                            const store_run *job);

/** A kind of job as its handlers show it. */
typedef struct srv_job_kind {
    const char *kind;       /**< the store's kind: "run", "analysis" */
    const char *noun;       /**< "run", "analysis" (messages) */
    const char *plural;     /**< "runs", "analyses" */
    const char *path;       /**< "/v1/runs", "/v1/analyses" */
    srv_job_reply_fn reply; /**< the job's document */
} srv_job_kind;

/** Fetch job {id} (r->params[0]) of kind @p k into @p job; another kind's job is 404 as a missing
 *  one. On failure queues 404/5xx into *@p ret and returns -1 (*job holds nothing). */
int srv_job_fetch(srv_req *r, store_conn *c, const srv_job_kind *k, store_run *job,
                  enum MHD_Result *ret);
/** Queue the answer to a store_run_create() of a @p noun ("run", "analysis") that did not
 *  succeed: 422 (key reused, no model @p model_id), 503 + Retry-After (queue full), else as
 *  srv_problem_store(). */
enum MHD_Result srv_job_not_created(srv_req *r, store_conn *c, store_status st, const char *key,
                                    const char *model_id, const char *noun);
/** The checks before a POST {path} that creates a job: 503 while the daemon stops, 400 for an
 *  Idempotency-Key header that is empty or longer than 255 characters. On success *@p key is
 *  the header (NULL: none) and 0 is returned; else -1 with the problem queued into *@p ret. */
int srv_job_create_check(srv_req *r, const char *noun, const char **key, enum MHD_Result *ret);
/** Queue 202 (a new job; the workers are woken) or 200 (an idempotent replay, with
 *  Idempotent-Replayed: true) of response @p resp (taken; NULL: out of memory, 5xx) with
 *  Location {path}/@p id. */
enum MHD_Result srv_job_created(srv_req *r, const srv_job_kind *k, const char *id,
                                struct MHD_Response *resp, int created);
/** The parameters of GET {path} every kind has: limit and cursor (srv_page_params), status,
 *  model_id and the ?label= filters (srv_labels_query(), into @p labels, which @p f then points
 *  at) into @p f, and their query text into @p extra (@p cap bytes, SRV_LIST_QUERY_MAX holds
 *  every filter; for the next link).
 *  @return 0; -1 with a 400 naming the parameter queued into *@p ret. */
int srv_job_list_params(srv_req *r, store_run_filter *f, store_labels *labels, char *extra,
                        size_t cap, int *limit, const char **cursor, enum MHD_Result *ret);
/** Append "&name=value" (value percent-encoded) to the query text @p extra of @p cap bytes. */
void srv_job_list_extra(char *extra, size_t cap, const char *name, const char *value);
/** A list item of a job; NULL when out of memory. */
typedef json_t *(*srv_job_item_fn)(const store_run *job);
/** Queue the page of jobs filtered by @p f from @p cursor (@p limit items, each made by @p item)
 *  with its next_cursor and Link (@p extra the query text of the filters). 400 naming cursor
 *  for a bad cursor, store errors. */
enum MHD_Result srv_job_list_reply(srv_req *r, const srv_job_kind *k, const store_run_filter *f,
                                   const char *cursor, int limit, const char *extra,
                                   srv_job_item_fn item);
/**
 * Parse ?wait=S (seconds >= 0, capped at --long-poll-max) into *@p wait (0 when absent).
 * @return 0, or -1 with a 400 naming "wait" queued into *@p ret.
 */
int srv_wait_param(srv_req *r, double *wait, enum MHD_Result *ret);

/** GET {path}/{id}[?wait=S[&progress=D]]: the job's document, at once or, with ?wait=, when it
 *  has ended (or S seconds passed, or the daemon stops); with &progress=D also as soon as its
 *  progress.done differs from D or its status changes (written by this daemon's worker, or
 *  already so on arrival). 400 for a bad wait or progress (or progress without wait), 404,
 *  store errors. */
enum MHD_Result srv_job_get(srv_req *r, const srv_job_kind *k);
/** POST {path}/{id}/cancel: 200 cancelled, 202 stopping, 409 already ended, 404. */
/** GET {path}/{id}/request: the job's request as it was accepted (application/json); another
 *  kind's job or a missing one is 404. */
enum MHD_Result srv_job_request(srv_req *r, const srv_job_kind *k);
enum MHD_Result srv_job_cancel(srv_req *r, const srv_job_kind *k);
/** DELETE {path}/{id}: 204, 409 while queued or running, 404. */
enum MHD_Result srv_job_delete(srv_req *r, const srv_job_kind *k);

/* ---- /v1/analyses (h_analyses.c) --------------------------------------------------------- */
enum MHD_Result h_analyses_create(srv_req *r);
enum MHD_Result h_analyses_list(srv_req *r);
enum MHD_Result h_analyses_get(srv_req *r);
enum MHD_Result h_analyses_cancel(srv_req *r);
enum MHD_Result h_analyses_delete(srv_req *r);
enum MHD_Result h_analyses_results_list(srv_req *r);
enum MHD_Result h_analyses_results_get(srv_req *r);

/* ---- /v1/trainings (h_trainings.c) ------------------------------------------------------ */
enum MHD_Result h_trainings_create(srv_req *r);
enum MHD_Result h_trainings_list(srv_req *r);
enum MHD_Result h_trainings_get(srv_req *r);
enum MHD_Result h_trainings_cancel(srv_req *r);
enum MHD_Result h_trainings_delete(srv_req *r);
/** GET /v1/trainings/{id}/request: the training document as stored. */
enum MHD_Result h_trainings_request(srv_req *r);
/** GET /v1/trainings/{id}/curve?format=json|csv&after=ITER&limit=N: the learning curve. */
enum MHD_Result h_trainings_curve(srv_req *r);

#endif /* EIRNN_HTTP_H */
