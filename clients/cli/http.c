/**
 * @file http.c
 * @brief The libcurl wrapper of the eirnn client: requests, answers, downloads and errors.
 */
#include "http.h"

#include "eir_clock.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

cli_conn_opts cli_opts;

/** Longest error body kept from a download (the rest is dropped). */
#define ERROR_BODY_MAX 65536
/** Seconds to wait for the TCP (and TLS) connection. */
#define CONNECT_TIMEOUT_S 10L
/** A transfer without a byte for this long is abandoned (when no overall timeout is set). */
#define STALL_TIMEOUT_S 120L

struct cli_http {
    CURL *curl;
    char *base;      /**< base URL, no trailing '/' */
    char *auth;      /**< "Authorization: Bearer <token>", or NULL */
    int token_given; /**< a token was configured (for the 401 hint) */
    char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int cli_global_options(int argc, char **argv)
{
    int i = 1;
    while (i < argc) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            cli_opts.json = 1;
            i++;
        } else if (strcmp(a, "--url") == 0 || strcmp(a, "--token") == 0) {
            if (i + 1 >= argc) {
                cli_error("option '%s' needs a value (try 'eirnn --help')", a);
                return -1;
            }
            if (a[2] == 'u')
                cli_opts.url = argv[i + 1];
            else
                cli_opts.token = argv[i + 1];
            i += 2;
        } else if (strncmp(a, "--url=", 6) == 0) {
            cli_opts.url = a + 6;
            i++;
        } else if (strncmp(a, "--token=", 8) == 0) {
            cli_opts.token = a + 8;
            i++;
        } else {
            break;
        }
    }
    return i - 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Connection                                                                                 */
/* ------------------------------------------------------------------------------------------ */

cli_http *cli_http_open(int *rc)
{
    const char *url = cli_opts.url;
    if (!url || !*url) url = getenv("EIRNN_URL");
    if (!url || !*url) url = CLI_DEFAULT_URL;
    const char *token = cli_opts.token;
    if (!token) token = getenv("EIRNN_TOKEN");
    const char *scheme = strstr(url, "://");
    if (scheme && strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        cli_error("the server URL must be http:// or https://, not '%s' (--url or EIRNN_URL)", url);
        *rc = CLI_EUSAGE;
        return NULL;
    }
    for (const char *p = token; p && *p; p++) {
        if (*p == '\r' || *p == '\n') {
            cli_error("the token (--token or EIRNN_TOKEN) must be one line");
            *rc = CLI_EUSAGE;
            return NULL;
        }
    }
    *rc = CLI_EIO;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error("cannot initialise libcurl");
        return NULL;
    }
    cli_http *h = calloc(1, sizeof *h);
    size_t ul = strlen(url) + 8;
    if (h && (h->base = malloc(ul)) != NULL)
        snprintf(h->base, ul, "%s%s", scheme ? "" : "http://", url); /* HOST:PORT is http */
    if (!h || !h->base || !(h->curl = curl_easy_init())) {
        cli_error("out of memory");
        cli_http_close(h);
        if (!h) curl_global_cleanup();
        return NULL;
    }
    size_t n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/')
        h->base[--n] = '\0';
    if (token && *token) {
        size_t k = strlen(token) + 32;
        if (!(h->auth = malloc(k))) {
            cli_error("out of memory");
            cli_http_close(h);
            return NULL;
        }
        snprintf(h->auth, k, "Authorization: Bearer %s", token);
        h->token_given = 1;
    }
    *rc = CLI_OK;
    return h;
}

void cli_http_close(cli_http *h)
{
    if (!h) return;
    if (h->curl) curl_easy_cleanup(h->curl);
    if (h->auth) {
        memset(h->auth, 0, strlen(h->auth));
        free(h->auth);
    }
    free(h->base);
    free(h);
    curl_global_cleanup();
}

const char *cli_http_base(const cli_http *h)
{
    return h->base;
}

void cli_http_resp_free(cli_http_resp *r)
{
    if (!r) return;
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------------------------ */
/* Transfers                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Where a transfer's body goes. */
typedef struct xfer {
    cli_http *h;
    cli_http_resp *r;
    FILE *file;     /**< a 2xx body goes here when set */
    int file_errno; /**< the write to file failed with this errno */
    size_t mem_max; /**< largest body kept in memory (0 = no limit) */
    size_t cap;     /**< allocated bytes of r->body */
    int oom;        /**< an allocation failed */
} xfer;

static int is_2xx(long s)
{
    return s >= 200 && s < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &code);
    if (x->file && is_2xx(code)) {
        if (fwrite(p, 1, n, x->file) != n) {
            x->file_errno = errno ? errno : EIO;
            return 0;
        }
        x->r->bytes += (long long)n;
        return n;
    }
    cli_http_resp *r = x->r;
    size_t keep = n;
    if (x->mem_max && r->len + keep > x->mem_max)
        keep = r->len < x->mem_max ? x->mem_max - r->len : 0;
    if (r->len + keep + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->len + keep + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            x->oom = 1;
            return 0;
        }
        r->body = b;
        x->cap = cap;
    }
    memcpy(r->body + r->len, p, keep);
    r->len += keep;
    r->body[r->len] = '\0';
    r->bytes += (long long)n;
    return n;
}

/** Copy a header value (trimmed) into @p dst. */
static void header_value(const char *v, size_t n, char *dst, size_t cap)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    cli_http_resp *r = x->r;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new answer (after 100 Continue, say): forget the previous one's headers. */
        r->content_type[0] = r->shape[0] = r->dtype[0] = '\0';
        r->retry_after = 0;
        return n;
    }
    static const struct {
        const char *name;
        size_t off, cap;
    } want[] = {
        {"content-type:", offsetof(cli_http_resp, content_type), sizeof r->content_type},
        {"x-eirnn-shape:", offsetof(cli_http_resp, shape), sizeof r->shape},
        {"x-eirnn-dtype:", offsetof(cli_http_resp, dtype), sizeof r->dtype},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        size_t k = strlen(want[i].name);
        if (n > k && strncasecmp(p, want[i].name, k) == 0) {
            header_value(p + k, n - k, (char *)r + want[i].off, want[i].cap);
            return n;
        }
    }
    if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[32];
        header_value(p + 12, n - 12, v, sizeof v);
        r->retry_after = atof(v);
    }
    return n;
}

/** Whether @p ct names a JSON media type. */
static int is_json_type(const char *ct)
{
    return strncasecmp(ct, "application/json", 16) == 0 ||
           strncasecmp(ct, "application/problem+json", 24) == 0;
}

/**
 * Run one transfer into @p x. @return CLI_OK when an answer arrived; otherwise prints the
 * transport error and returns CLI_EHTTP (CLI_EIO for a local write failure or out of memory).
 */
static int perform(cli_http *h, const char *method, const char *path, const char *body, size_t len,
                   const char *key, double timeout_s, int want_json, xfer *x)
{
    cli_http_resp *r = x->r;
    CURL *c = h->curl;
    curl_easy_reset(c);
    size_t ul = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(ul);
    if (!url) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    snprintf(url, ul, "%s%s", h->base, path);

    struct curl_slist *hdr = NULL, *t;
    char keyhdr[300];
    int ok = 1;
#define ADD_HEADER(s)                                                                              \
    do {                                                                                           \
        if (ok && (t = curl_slist_append(hdr, (s))) != NULL)                                       \
            hdr = t;                                                                               \
        else                                                                                       \
            ok = 0;                                                                                \
    } while (0)
    if (want_json) ADD_HEADER("Accept: application/json, application/problem+json");
    if (body) ADD_HEADER("Content-Type: application/json");
    ADD_HEADER("Expect:"); /* no 100-continue round trip for large bodies */
    if (h->auth) ADD_HEADER(h->auth);
    if (key) {
        snprintf(keyhdr, sizeof keyhdr, "Idempotency-Key: %s", key);
        ADD_HEADER(keyhdr);
    }
#undef ADD_HEADER
    if (!ok) {
        curl_slist_free_all(hdr);
        free(url);
        cli_error("out of memory");
        return CLI_EIO;
    }

    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "eirnn/" EIRNN_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    if (timeout_s > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000.0));
    } else {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdr);
    int rc = CLI_OK;
    if (x->oom) {
        cli_error("out of memory reading the answer to %s %s", method, url);
        rc = CLI_EIO;
    } else if (x->file_errno) {
        rc = CLI_EIO; /* the caller names the file */
    } else if (cc != CURLE_OK) {
        const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
        if (r->status > 0)
            cli_error("the answer to %s %s broke off: %s", method, url, why);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            cli_error("no answer from eirnnd at %s in time: %s", h->base, why);
        else
            cli_error("cannot reach eirnnd at %s: %s (is it running? the URL comes from --url "
                      "or EIRNN_URL)",
                      h->base, why);
        rc = CLI_EHTTP;
    } else if (r->len > 0 && is_json_type(r->content_type) && (!x->file || !is_2xx(r->status))) {
        r->json = json_loadb(r->body, r->len, 0, NULL);
    }
    free(url);
    return rc;
}

int cli_http_request(cli_http *h, const char *method, const char *path, const char *body,
                     size_t len, const char *idempotency_key, double timeout_s, cli_http_resp *r)
{
    memset(r, 0, sizeof *r);
    xfer x = {.h = h, .r = r};
    return perform(h, method, path, body, len, idempotency_key, timeout_s, 1, &x);
}

int cli_http_call(cli_http *h, const char *method, const char *path, const char *body, size_t len,
                  const char *idempotency_key, double timeout_s, cli_http_resp *r)
{
    int rc = cli_http_request(h, method, path, body, len, idempotency_key, timeout_s, r);
    if (rc != CLI_OK) return rc;
    return is_2xx(r->status) ? CLI_OK : cli_http_fail(r);
}

int cli_http_poll(cli_http *h, const char *path, double timeout_s, cli_http_resp *r)
{
    memset(r, 0, sizeof *r);
    if (!path) return CLI_EIO;
    int rc = cli_http_request(h, "GET", path, NULL, 0, NULL, timeout_s, r);
    if (rc == CLI_OK && r->status == 503) {
        double ra = r->retry_after > 0 ? r->retry_after : 1;
        cli_http_resp_free(r);
        r->status = 503;
        eir_clock_sleep(ra < 5 ? ra : 5);
        return CLI_OK;
    }
    if (rc == CLI_OK && !is_2xx(r->status)) rc = cli_http_fail(r);
    if (rc != CLI_OK) cli_http_resp_free(r);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const char *reason(long s)
{
    switch (s) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return s >= 500 ? "Server Error" : s >= 400 ? "Client Error" : "Unexpected Answer";
    }
}

/** Copy @p s into @p dst as one line: control characters become spaces, runs collapse. */
static void one_line(const char *s, size_t n, char *dst, size_t cap)
{
    size_t k = 0;
    int space = 1;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == ' ') {
            if (!space) dst[k++] = ' ';
            space = 1;
        } else {
            dst[k++] = (char)ch;
            space = 0;
        }
    }
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

int cli_http_fail(const cli_http_resp *r)
{
    char detail[1024] = "", where[256] = "";
    const json_t *j = r->json;
    if (json_is_object(j)) {
        const char *d = json_string_value(json_object_get(j, "detail"));
        if (!d || !*d) d = json_string_value(json_object_get(j, "title"));
        if (d) one_line(d, strlen(d), detail, sizeof detail);
        const char *f = json_string_value(json_object_get(j, "field"));
        const char *p = json_string_value(json_object_get(j, "parameter"));
        if (f && *f)
            one_line(f, strlen(f), where, sizeof where);
        else if (p && *p)
            one_line(p, strlen(p), where, sizeof where);
    } else if (r->body && r->len > 0) {
        const char *nl = memchr(r->body, '\n', r->len);
        size_t n = nl ? (size_t)(nl - r->body) : r->len;
        one_line(r->body, n > 300 ? 300 : n, detail, sizeof detail);
    }
    const char *hint = "";
    if (r->status == 401)
        hint = cli_opts.token || getenv("EIRNN_TOKEN")
                   ? " (the token from --token or EIRNN_TOKEN was refused)"
                   : " (give the daemon's token with --token or EIRNN_TOKEN)";
    if (where[0])
        cli_error("%ld %s: %s: %s%s", r->status, reason(r->status), where, detail, hint);
    else if (detail[0])
        cli_error("%ld %s: %s%s", r->status, reason(r->status), detail, hint);
    else
        cli_error("%ld %s%s", r->status, reason(r->status), hint);
    return r->status == 400 || r->status == 422 ? CLI_EINVALID : CLI_EHTTP;
}

/* ------------------------------------------------------------------------------------------ */
/* Downloads                                                                                  */
/* ------------------------------------------------------------------------------------------ */

int cli_http_download(cli_http *h, const char *path, const char *dest, cli_http_resp *r)
{
    memset(r, 0, sizeof *r);
    struct stat sb;
    if (stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        cli_error("%s: is a directory (give the file to write)", dest);
        return CLI_EIO;
    }
    char *d1 = strdup(dest), *d2 = strdup(dest);
    char *tmp = malloc(strlen(dest) + 16);
    if (!d1 || !d2 || !tmp) {
        free(d1);
        free(d2);
        free(tmp);
        cli_error("out of memory");
        return CLI_EIO;
    }
    sprintf(tmp, "%s/.%s.XXXXXX", dirname(d1), basename(d2));
    free(d1);
    free(d2);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        cli_error("%s: cannot create a file there: %s", dest, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return CLI_EIO;
    }
    xfer x = {.h = h, .r = r, .file = f, .mem_max = ERROR_BODY_MAX};
    int rc = perform(h, "GET", path, NULL, 0, NULL, 0, 0, &x);
    if (rc == CLI_EIO && x.file_errno)
        cli_error("%s: write failed: %s", tmp, strerror(x.file_errno));
    if (rc == CLI_OK && !is_2xx(r->status)) rc = cli_http_fail(r);
    if (rc == CLI_OK) {
        mode_t um = umask(0);
        umask(um);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fchmod(fileno(f), 0666 & ~um) != 0) {
            cli_error("%s: write failed: %s", tmp, strerror(errno));
            rc = CLI_EIO;
        }
    }
    if (fclose(f) != 0 && rc == CLI_OK) {
        cli_error("%s: write failed: %s", tmp, strerror(errno));
        rc = CLI_EIO;
    }
    if (rc == CLI_OK && rename(tmp, dest) != 0) {
        cli_error("%s: cannot rename to %s: %s", tmp, dest, strerror(errno));
        rc = CLI_EIO;
    }
    if (rc != CLI_OK) unlink(tmp);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* URLs                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void url_append(cli_url *u, const char *s, size_t n)
{
    if (u->failed) return;
    if (u->len + n + 1 > u->cap) {
        size_t cap = u->cap ? u->cap : 128;
        while (cap < u->len + n + 1)
            cap *= 2;
        char *p = realloc(u->s, cap);
        if (!p) {
            u->failed = 1;
            return;
        }
        u->s = p;
        u->cap = cap;
    }
    memcpy(u->s + u->len, s, n);
    u->len += n;
    u->s[u->len] = '\0';
}

void cli_url_add(cli_url *u, const char *text)
{
    url_append(u, text, strlen(text));
}

void cli_url_add_segment(cli_url *u, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            url_append(u, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            url_append(u, e, 3);
        }
    }
}

void cli_url_add_query(cli_url *u, const char *name, const char *value)
{
    url_append(u, u->query ? "&" : "?", 1);
    u->query = 1;
    cli_url_add_segment(u, name);
    url_append(u, "=", 1);
    cli_url_add_segment(u, value);
}

void cli_url_free(cli_url *u)
{
    free(u->s);
    memset(u, 0, sizeof *u);
}

const char *cli_url_text(const cli_url *u)
{
    if (u->failed || !u->s) {
        cli_error("out of memory");
        return NULL;
    }
    return u->s;
}
