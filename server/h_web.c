/**
 * @file h_web.c
 * @brief The web page: GET / (web/index.html) and GET /ui/<path> (web/<path>), served from the
 *        table embedded at build time (web_assets.h), without the token (the page holds no
 *        data; it asks the API for everything), with a strong ETag (If-None-Match → 304),
 *        Cache-Control: no-cache and the page's security headers.
 *
 * A path is only ever looked up in the table (byte for byte): nothing is read from the disk,
 * so "..", "%2e%2e" or an absolute path name nothing. Nothing here allocates but the response.
 */
#include <string.h>

#include "http.h"
#include "web_assets.h"

/** The Content-Security-Policy of the page and its files (docs/OPERATIONS.md): no inline script
 *  or style, everything from the daemon itself, no framing, no forms posted elsewhere. */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "        \
    "connect-src 'self'; worker-src 'self'; font-src 'self'; base-uri 'none'; "                    \
    "form-action 'none'; frame-ancestors 'none'"

const srv_web_asset *srv_web_asset_find(const char *path)
{
    for (size_t i = 0; i < srv_web_assets_count; i++)
        if (strcmp(srv_web_assets[i].path, path) == 0) return &srv_web_assets[i];
    return NULL;
}

/**
 * Whether the If-None-Match header @p inm (a comma-separated list of entity tags, or "*") names
 * @p etag. The comparison is the weak one RFC 9110 13.1.2 asks for: "W/" prefixes are ignored.
 */
static int etag_listed(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p) break;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 1 && *p == '*') return 1;
        if (n > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
            n -= 2;
        }
        if (n == elen && memcmp(p, etag, n) == 0) return 1;
        p = end ? end : p + strlen(p);
    }
    return 0;
}

/** Add the headers every answer of the page carries (the ETag and caching included). @return 0,
 *  or -1 when one could not be added (out of memory; @p resp is then destroyed). */
static int add_page_headers(struct MHD_Response *resp, const srv_web_asset *a)
{
    static const char *const headers[][2] = {
        {"Cache-Control", "no-cache"},
        {"Content-Security-Policy", WEB_CSP},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
    };
    int ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag) == MHD_YES;
    for (size_t i = 0; ok && i < sizeof headers / sizeof *headers; i++)
        ok = MHD_add_response_header(resp, headers[i][0], headers[i][1]) == MHD_YES;
    if (ok) return 0;
    MHD_destroy_response(resp);
    return -1;
}

/** Answer @p a: 304 when the request's If-None-Match names its ETag, else 200 with its bytes
 *  (libmicrohttpd leaves the bytes out for HEAD). */
static enum MHD_Result serve(srv_req *r, const srv_web_asset *a)
{
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int fresh = inm && etag_listed(inm, a->etag);
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return srv_reply(r, 503, NULL);
    if (!fresh &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->media_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return srv_reply(r, 503, NULL);
    }
    if (add_page_headers(resp, a)) return srv_reply(r, 503, NULL);
    r->bytes = fresh ? 0 : a->len;
    return srv_reply(r, fresh ? 304 : 200, resp);
}

enum MHD_Result h_web_index(srv_req *r)
{
    const srv_web_asset *a = srv_web_asset_find("index.html");
    if (!a) /* embed_web.cmake always embeds one; kept for a hand-made table */
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "this eirnnd was built without a page");
    return serve(r, a);
}

enum MHD_Result h_web_asset(srv_req *r)
{
    const srv_web_asset *a = srv_web_asset_find(r->params[0]);
    if (!a)
        return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL, "no file of the web page at %s", r->path);
    return serve(r, a);
}
