/**
 * @file http_internal.h
 * @brief Private to the HTTP layer (http_*.c) and its unit tests: the route table's entries,
 *        route matching and percent-unescaping, the routing decision made on a request's first
 *        callback, the per-request callbacks given to libmicrohttpd and the slow-client guard.
 *
 * Handlers use http.h only. Nothing here locks unless it says so; the route table is static
 * and immutable.
 */
#ifndef EIRNN_HTTP_INTERNAL_H
#define EIRNN_HTTP_INTERNAL_H

#include <stdarg.h>

#include "http.h"

/** One route: method, path pattern ("{x}" matches one segment), handler, flags, and the query
 *  parameters it accepts (any other is answered 400). */
typedef struct srv_route {
    const char *method;
    const char *pattern;
    srv_handler handler;
    unsigned flags;
    const char *const *query; /**< NULL-terminated names of the accepted query parameters */
} srv_route;

/* ---- http_route.c: routing and authentication ------------------------------------------- */

/**
 * Match @p path against @p pattern, copying the "{x}" segments into @p params (pattern order).
 * A segment is never empty nor SRV_PARAM_MAX bytes or longer. A pattern may end with "{*}",
 * which matches the rest of the path (at least one byte, slashes included, shorter than
 * SRV_PARAM_MAX). @return 1 on a match, else 0.
 */
int srv_route_match(const char *pattern, const char *path, char params[][SRV_PARAM_MAX]);

/**
 * Find the route of @p method on @p path in the static route table (HEAD is served by a GET
 * route). Fills @p params from the route found and @p allow (capacity @p allow_cap) with the
 * methods every route of that path allows ("GET, HEAD, DELETE"). @return the route; NULL when
 * none matches, with *@p error set to 404 (no route has this path) or 405 (the path exists, the
 * method does not).
 */
const srv_route *srv_route_find(const char *method, const char *path,
                                char params[SRV_MAX_PARAMS][SRV_PARAM_MAX], char *allow,
                                size_t allow_cap, unsigned *error);

/** Whether route @p rt accepts the query parameter @p name (names are case-sensitive). */
int srv_route_accepts(const srv_route *rt, const char *name);

/**
 * The query parameters @p rt accepts as "a, b, c" into @p buf (capacity @p cap), or "none".
 */
void srv_route_query_list(const srv_route *rt, char *buf, size_t cap);

/**
 * Percent-decode @p s in place like libmicrohttpd's own unescaper, except that "%00" is kept as
 * it is (a decoded NUL would cut the C string). Malformed escapes are kept as they are.
 * @return the new length.
 */
size_t srv_unescape_keep_nul(char *s);

/** MHD_UnescapeCallback around srv_unescape_keep_nul(), for the path and query arguments. */
size_t srv_http_unescape(void *cls, struct MHD_Connection *con, char *s);

/**
 * The first callback of request @p r: set its handler, or decide 401/404/405 (answered now when
 * a body follows, so that it is never read; else once the request is complete, which keeps the
 * connection alive). A query parameter the route does not accept is such a decision too (400,
 * after authentication). Ambiguous framing (Transfer-Encoding with Content-Length, two
 * Transfer-Encodings, a coding other than "chunked", two disagreeing Content-Lengths) gets 400
 * naming the header before anything else, and the connection is closed after it (RFC 9112 6.3);
 * an oversized Content-Length gets 413 at once; the body buffer is reserved. @return what
 * libmicrohttpd is to be told.
 */
enum MHD_Result srv_http_route(srv_req *r);

/**
 * Answer the routing decision kept in @p r->route_error: 401, 404, 405, or 400 for the unknown
 * query parameter r->bad_query (detail listing the parameters the route accepts).
 */
enum MHD_Result srv_http_reply_route_error(srv_req *r);

/* ---- http_request.c: the daemon-wide budget of buffered bodies (srv::body_buffered) ------- */

/**
 * Reserve @p n more bytes of the body budget for @p r (lock-free; never past
 * cfg.max_body_buffer). @return 1 and r->budget_held grown, or 0 when they do not fit (nothing
 * reserved).
 */
int srv_body_budget_take(srv_req *r, uint64_t n);

/** Give back everything @p r holds of the body budget (r->budget_held becomes 0). */
void srv_body_budget_release(srv_req *r);

/* ---- http_reply.c -------------------------------------------------------------------------- */

/**
 * The shared 503 answer for when nothing else can be allocated (srv::oom_response): made once at
 * start, never changed. @return NULL when out of memory.
 */
struct MHD_Response *srv_oom_response_new(void);

/* ---- http_request.c: libmicrohttpd's per-request callbacks (cls is the ::srv) ------------- */

/** MHD_AccessHandlerCallback: routing, body intake, then the handler. */
enum MHD_Result srv_http_on_access(void *cls, struct MHD_Connection *con, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);

/** MHD_RequestCompletedCallback: metrics, the request log line, freeing the request. */
void srv_http_on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                           enum MHD_RequestTerminationCode toe);

/** MHD_LogCallback: libmicrohttpd's own messages as "http_error" log lines. */
void srv_http_on_mhd_log(void *cls, const char *fmt, va_list ap);

/* ---- http_guard.c: the slow-client guard ----------------------------------------------------- */

/**
 * Start the watchdog that shuts down connections whose next request's headers take longer than
 * cfg.connection_timeout (state in @p s->guard). @return 0, or -1 after logging why (out of
 * memory, no thread); then nothing was started.
 */
int srv_guard_start(srv *s);

/** Stop the watchdog and free its state (entries left are freed too). Safe to call twice. */
void srv_guard_stop(srv *s);

/** MHD_NotifyConnectionCallback (cls is the ::srv): track connections from start to close. */
void srv_guard_on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe);

/** Mark @p con as waiting for a request's headers (1) or handling one (0), from the thread that
 *  serves it. Takes the lock. */
void srv_guard_waiting(srv *s, struct MHD_Connection *con, int waiting);

/**
 * The calling HTTP thread begins (@p busy = 1) or ends (0) work in a daemon callback: while it
 * is busy, its connections' waits do not count against their clients. Calls nest. Takes the
 * lock; nothing happens when the guard is not running.
 */
void srv_guard_busy(srv *s, int busy);

/** Seconds the calling HTTP thread has been busy (srv_guard_busy) since it first called in; 0
 *  when the guard is not running. Takes the lock. */
double srv_guard_thread_busy(srv *s);

#endif /* EIRNN_HTTP_INTERNAL_H */
