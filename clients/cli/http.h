/**
 * @file http.h
 * @brief The eirnn client's view of eirnnd: a small libcurl wrapper (base URL, bearer token,
 *        JSON requests and answers, streamed downloads into a file) and the mapping of
 *        answers and transport errors to one readable line and an exit code (cli.h).
 *
 * Every function that fails prints its one line ("eirnn: error: ...") on stderr itself and
 * returns the exit code to end with, so a command only passes the code on.
 */
#ifndef EIRNN_CLI_HTTP_H
#define EIRNN_CLI_HTTP_H

#include <jansson.h>
#include <stddef.h>

/** Default server when neither --url nor EIRNN_URL is given. */
#define CLI_DEFAULT_URL "http://127.0.0.1:8080"

/** Options shared by every HTTP command (before the command or among its own options). */
typedef struct cli_conn_opts {
    const char *url;   /**< --url, or NULL: EIRNN_URL, else CLI_DEFAULT_URL */
    const char *token; /**< --token, or NULL: EIRNN_TOKEN (empty = none) */
    int json;          /**< --json: print the server's JSON as it is */
} cli_conn_opts;

/** The process-wide options (zero until set). */
extern cli_conn_opts cli_opts;

/**
 * Take the global options --url URL, --token T and --json (also as --url=URL, --token=T)
 * from the front of argv[1..]: @return how many arguments were taken, or -1 (after printing
 * the usage error) when one lacks its value.
 */
int cli_global_options(int argc, char **argv);

/** A connection to eirnnd (one libcurl handle, kept alive between requests). */
typedef struct cli_http cli_http;

/** One answer of the server. */
typedef struct cli_http_resp {
    long status;            /**< HTTP status, 0 when no answer arrived */
    char *body;             /**< the body, NUL-terminated (malloc'ed, may be NULL when empty);
                                 for a download only the body of an error answer */
    size_t len;             /**< bytes in body */
    json_t *json;           /**< the body parsed when it is JSON (application/json or
                                 application/problem+json), else NULL */
    char content_type[128]; /**< Content-Type header, or "" */
    char shape[64];         /**< X-Eirnn-Shape header of a result, or "" */
    char dtype[16];         /**< X-Eirnn-Dtype header of a result, or "" */
    double retry_after;     /**< Retry-After in seconds (503), or 0 */
    long long bytes;        /**< body bytes received (for a download: written to the file) */
} cli_http_resp;

/**
 * Open a connection for the current cli_opts and environment. The URL is http:// or
 * https:// (HOST:PORT alone means http://HOST:PORT); a trailing '/' is dropped (a path prefix
 * such as http://host/eirnn is kept). @return NULL after printing the error (another scheme,
 * a token of several lines, out of memory); *rc is then CLI_EUSAGE for a bad URL or token and
 * CLI_EIO otherwise.
 */
cli_http *cli_http_open(int *rc);

/** Close @p h (NULL is a no-op). */
void cli_http_close(cli_http *h);

/** The base URL of @p h (without a trailing '/'). */
const char *cli_http_base(const cli_http *h);

/** Free what @p r holds and zero it (NULL is a no-op). */
void cli_http_resp_free(cli_http_resp *r);

/**
 * Send one request: @p method ("GET", "POST", "DELETE"), @p path (starting with '/', with its
 * query string, already escaped: see cli_url), an optional body of @p len bytes sent as
 * application/json, an optional Idempotency-Key, and @p timeout_s for the whole exchange
 * (0 = none; a transfer stalled for two minutes is abandoned anyway).
 * @return CLI_OK when an answer arrived, whatever its status (check r->status); CLI_EHTTP
 *         after printing "cannot reach ..." when none did; CLI_EIO for out of memory. @p r is
 *         filled either way and must be freed with cli_http_resp_free().
 */
int cli_http_request(cli_http *h, const char *method, const char *path, const char *body,
                     size_t len, const char *idempotency_key, double timeout_s, cli_http_resp *r);

/**
 * cli_http_request() and then cli_http_fail() unless the status is 2xx.
 * @return CLI_OK for a 2xx answer, else the exit code (the error line printed).
 */
int cli_http_call(cli_http *h, const char *method, const char *path, const char *body, size_t len,
                  const char *idempotency_key, double timeout_s, cli_http_resp *r);

/**
 * One GET of a wait loop: cli_http_request() of @p path (NULL: out of memory, CLI_EIO). A 503
 * (a full or restarting server) is waited out here: its Retry-After (1 s when it has none, at
 * most 5 s) is slept and CLI_OK returned with r->status 503 and nothing else in @p r, so that
 * the caller checks its own deadline and asks again.
 * @return CLI_OK with a 2xx (or that 503) answer in @p r; else the exit code, the error line
 *         printed, and @p r freed.
 */
int cli_http_poll(cli_http *h, const char *path, double timeout_s, cli_http_resp *r);

/**
 * Print the error answer @p r as one line: "eirnn: error: STATUS REASON: FIELD: DETAIL" from
 * a problem+json body (FIELD is the JSON pointer of bad input, or the query parameter; left
 * out when there is none), or the first line of any other body. A 401 adds how to give a
 * token. @return CLI_EINVALID for 400 and 422, CLI_EHTTP otherwise.
 */
int cli_http_fail(const cli_http_resp *r);

/**
 * GET @p path and stream a 2xx body into @p dest: written to a temporary file beside it
 * ("DIR/.NAME.XXXXXX"), flushed, given the permissions of a new file, then renamed over
 * @p dest, so that @p dest is either complete or untouched. An error answer is not written
 * (it is kept in r->body and printed as cli_http_fail() does).
 * @return CLI_OK; CLI_EIO when the file cannot be written (temporary file removed); the
 *         codes of cli_http_call() otherwise.
 */
int cli_http_download(cli_http *h, const char *path, const char *dest, cli_http_resp *r);

/** A URL path being built (see cli_url_add() and friends); s is malloc'ed. */
typedef struct cli_url {
    char *s;    /**< NUL-terminated text, or NULL before the first append */
    size_t len; /**< characters in s */
    size_t cap; /**< allocated bytes */
    int failed; /**< an allocation failed: s is unusable */
    int query;  /**< a '?' was appended */
} cli_url;

/** Append @p text as it is. */
void cli_url_add(cli_url *u, const char *text);

/** Append @p text percent-encoded as one path segment (only A-Z a-z 0-9 - . _ ~ kept). */
void cli_url_add_segment(cli_url *u, const char *text);

/** Append "?name=value" (or "&name=value" after the first), the value percent-encoded. */
void cli_url_add_query(cli_url *u, const char *name, const char *value);

/** Free @p u's text and zero it. */
void cli_url_free(cli_url *u);

/**
 * The finished text of @p u, or NULL after printing "out of memory" when an append failed
 * (the caller ends with CLI_EIO).
 */
const char *cli_url_text(const cli_url *u);

#endif /* EIRNN_CLI_HTTP_H */
