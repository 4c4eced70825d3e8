/**
 * @file fuzz_http.c
 * @brief libFuzzer harness for eirnnd's HTTP layer, from raw request bytes: libmicrohttpd's
 *        parsing, then our routing, authentication, header checks, body accumulation, every
 *        handler and the streamed results (docs/RELIABILITY.md, "Fuzzing").
 *
 * The whole daemon runs in-process (server/daemon.h) on a SQLite store in a temporary
 * directory, with one worker thread and small limits. Each input is one connection: the harness
 * hands one end of a socketpair to libmicrohttpd (MHD_add_connection), writes the input, closes
 * its writing half and reads everything the daemon answers until it closes the connection.
 * The input may hold several pipelined requests, partial ones and garbage.
 *
 * So that inputs can reach existing resources, the placeholders "m_" and "r_" followed by 24
 * '@' are replaced, before sending, by the id of a model and of a succeeded run made at start
 * (re-made when a DELETE removed one of them); ids and placeholders have the same length.
 *
 * Failures besides what the sanitizers catch (each ends in __builtin_trap() after a line on the
 * original stderr):
 *  - the daemon does not close the connection within 10 s of the request's end (a wedge);
 *  - a 500 answer, or a 5xx other than 503 (busy, full) and libmicrohttpd's own 505;
 *  - an error (4xx/5xx) that carries a Content-Type other than application/problem+json (the
 *    answers libmicrohttpd makes itself for malformed HTTP have none);
 *  - a status line that is not "HTTP/1.x NNN".
 *
 * The daemon writes a JSON log line per request on stderr: fuzz/run.sh passes -close_fd_mask=2
 * (libFuzzer keeps its own and the sanitizers' reports). The store is started afresh when it
 * grows past 64 MB.
 */
#define _GNU_SOURCE /* memmem, asprintf */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "eir_clock.h"
#include "daemon.h"

#define TOKEN "fuzz-token"
#define ANSWER_CAP ((size_t)8 << 20) /* bytes of answer kept for the checks */
#define DEADLINE_S 10.0
#define IDLE_S 0.05
#define RESTART_BYTES ((long long)64 << 20)
/* Stand-ins for the ids of the model and the run made at start ("m_"/"r_" + 24 hex digits). */
#define MODEL_PH "m_@@@@@@@@@@@@@@@@@@@@@@@@"
#define RUN_PH "r_@@@@@@@@@@@@@@@@@@@@@@@@"

static srv daemon_state;
static char dir[64];
static int report_fd = 2; /* a copy of the original stderr */
static char model_id[80], run_id[80];
static unsigned long executions;

static void fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof msg - 2) n = sizeof msg - 2;
    msg[n++] = '\n';
    if (write(report_fd, "fuzz_http: ", 11) < 0 || write(report_fd, msg, (size_t)n) < 0) {
    }
    __builtin_trap();
}

typedef struct answer {
    char *data;
    size_t len;
    size_t total; /* bytes received, kept or not */
} answer;

/**
 * One connection: send @p n bytes of @p req, half-close, read until the daemon closes (or, unless
 * @p patient, until the daemon has been quiet for IDLE_S, see below).
 * @return 0, or -1 when the daemon would not take the connection (then @p a is empty).
 */
static int exchange(const uint8_t *req, size_t n, answer *a, int patient)
{
    a->len = a->total = 0;
    a->data[0] = '\0';
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        fail("socketpair: %s", strerror(errno));
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    struct sockaddr_in peer;
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    peer.sin_port = htons(40000);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (MHD_add_connection(daemon_state.mhd, sv[1], (struct sockaddr *)&peer, sizeof peer) !=
        MHD_YES) {
        close(sv[0]); /* sv[1] was closed by libmicrohttpd */
        return -1;
    }
    size_t sent = 0;
    int write_open = 1;
    if (n == 0) {
        shutdown(sv[0], SHUT_WR);
        write_open = 0;
    }
    double deadline = eir_clock_mono() + DEADLINE_S, last_byte = eir_clock_mono();
    for (;;) {
        struct pollfd p = {sv[0], (short)(POLLIN | (write_open ? POLLOUT : 0)), 0};
        double t = eir_clock_mono();
        if (t >= deadline)
            fail("no end of the answer %.0f s after the request (%zu of %zu bytes sent, %zu "
                 "received): the daemon wedged",
                 DEADLINE_S, sent, n, a->total);
        /* An incomplete request (headers without their blank line, a NUL in the request line,
           a body shorter than its Content-Length) gets no answer until the connection timeout
           (libmicrohttpd 0.9.75 in epoll mode even missed the end of the stream; eirnnd now
           runs it in poll mode, which sees it). Once the input is all sent, nothing came for
           IDLE_S and no long poll is suspended, nothing more will come: close and stop. */
        if (!patient && !write_open && t - last_byte > IDLE_S &&
            atomic_load(&daemon_state.metrics.long_polls) == 0)
            break;
        int rc = poll(&p, 1, 20);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) fail("poll: %s", strerror(errno));
        if (p.revents & POLLOUT && write_open) {
            ssize_t w = send(sv[0], req + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0) {
                sent += (size_t)w;
                deadline = eir_clock_mono() + DEADLINE_S;
                last_byte = eir_clock_mono();
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                write_open = 0; /* the daemon closed its end: read what it said */
            }
            if (write_open && sent == n) {
                shutdown(sv[0], SHUT_WR);
                write_open = 0;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t r = recv(sv[0], buf, sizeof buf, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
            if (r > 0) {
                size_t keep = a->len + (size_t)r <= ANSWER_CAP ? (size_t)r : ANSWER_CAP - a->len;
                memcpy(a->data + a->len, buf, keep);
                a->len += keep;
                a->data[a->len] = '\0'; /* for strtoull() in check_answers() */
                a->total += (size_t)r;
                last_byte = eir_clock_mono();
            }
        }
    }
    shutdown(sv[0], SHUT_RDWR);
    close(sv[0]);
    /* The request must end now (a wedged handler would never end): one connection at a time. */
    deadline = eir_clock_mono() + DEADLINE_S;
    while (atomic_load(&daemon_state.metrics.in_flight) > 0) {
        if (eir_clock_mono() > deadline)
            fail("a request still in progress %.0f s after its connection closed: the daemon "
                 "wedged (input of %zu bytes, %zu answered)",
                 DEADLINE_S, n, a->total);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}

/** Case-insensitive search for @p needle in the @p n bytes at @p h. */
static const char *find_ci(const char *h, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)h[i + j]) == tolower((unsigned char)needle[j]))
            j++;
        if (j == k) return h + i;
    }
    return NULL;
}

/**
 * Check every answer in @p a (see the file comment). Stops quietly where the stream can no
 * longer be followed (an answer to HEAD has a length but no body; the kept bytes may end).
 * @return the status of the first answer, 0 when there was none.
 */
static unsigned check_answers(const answer *a)
{
    const char *d = a->data;
    size_t pos = 0, n = a->len;
    unsigned first = 0;
    while (pos < n) {
        if (n - pos < 12) { /* cut short by the cap, or misaligned after an answer to HEAD */
            if (pos == 0 && memcmp(d, "HTTP/1.", n < 7 ? n : 7) != 0)
                fail("the answer starts with bytes that are not a status line");
            return first;
        }
        if (memcmp(d + pos, "HTTP/1.", 7) != 0) {
            if (first == 0) fail("the first answer does not start with \"HTTP/1.\"");
            return first; /* misaligned after an answer to HEAD */
        }
        if (!(d[pos + 8] == ' ' && d[pos + 9] >= '1' && d[pos + 9] <= '5' && d[pos + 10] >= '0' &&
              d[pos + 10] <= '9' && d[pos + 11] >= '0' && d[pos + 11] <= '9'))
            fail("malformed status line: %.40s", d + pos);
        unsigned status =
            (unsigned)((d[pos + 9] - '0') * 100 + (d[pos + 10] - '0') * 10 + (d[pos + 11] - '0'));
        if (!first) first = status;
        const char *end = memmem(d + pos, n - pos, "\r\n\r\n", 4);
        if (!end) return first;
        size_t hlen = (size_t)(end - (d + pos)) + 4;
        const char *h = d + pos;
        if (status == 500 || (status >= 500 && status != 503 && status != 505))
            fail("answer %u (no request may cause an internal error): %.*s", status,
                 (int)(hlen < 600 ? hlen : 600), h);
        const char *ct = find_ci(h, hlen, "\r\nContent-Type:");
        if (status >= 400 && ct) {
            const char *v = ct + 15;
            while (*v == ' ')
                v++;
            if (!find_ci(v, 24, "application/problem+json"))
                fail("error %u with a Content-Type other than application/problem+json: %.*s",
                     status, (int)(hlen < 600 ? hlen : 600), h);
        }
        pos += hlen;
        if (status < 200 || status == 204 || status == 304) continue;
        if (find_ci(h, hlen, "\r\nTransfer-Encoding: chunked")) {
            for (;;) { /* chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF */
                char *stop = NULL;
                if (pos >= n) return first;
                unsigned long long size = strtoull(d + pos, &stop, 16);
                const char *eol = memmem(d + pos, n - pos, "\r\n", 2);
                if (!eol || stop == d + pos) return first;
                pos = (size_t)(eol - d) + 2;
                if (size == 0) {
                    const char *tend = memmem(d + pos - 2, n - pos + 2, "\r\n\r\n", 4);
                    if (!tend) return first;
                    pos = (size_t)(tend - d) + 4;
                    break;
                }
                if (size > n - pos) return first;
                pos += (size_t)size + 2;
            }
            continue;
        }
        const char *cl = find_ci(h, hlen, "\r\nContent-Length:");
        if (!cl) return first; /* the body runs to the end of the connection */
        unsigned long long len = strtoull(cl + 17, NULL, 10);
        if (len > n - pos) return first;
        pos += (size_t)len;
    }
    return first;
}

static answer scratch;

/** Send one well-formed request and return the status; the body is in scratch. */
static unsigned request(const char *method, const char *path, const char *body)
{
    char *req = NULL;
    size_t blen = body ? strlen(body) : 0;
    if (asprintf(&req,
                 "%s %s HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer " TOKEN
                 "\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 method, path, blen, body ? body : "") < 0)
        fail("out of memory");
    if (exchange((const uint8_t *)req, strlen(req), &scratch, 1) != 0)
        fail("the daemon refused a connection at setup");
    free(req);
    return check_answers(&scratch);
}

/** The "id" of the JSON body of the answer in scratch, into @p out. */
static void answer_id(char *out, size_t cap, const char *what)
{
    const char *body = memmem(scratch.data, scratch.len, "\r\n\r\n", 4);
    json_error_t e;
    json_t *j =
        body ? json_loadb(body + 4, scratch.len - (size_t)(body + 4 - scratch.data), 0, &e) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id)
        fail("no id in the answer that made the %s: %.*s", what, (int)scratch.len, scratch.data);
    snprintf(out, cap, "%s", id);
    json_decref(j);
}

static const char setup_model[] =
    "{\"name\":\"fuzz\",\"class\":\"gated\",\"populations\":{\"E\":3,\"I\":1},\"n_inputs\":1,"
    "\"activation\":{\"name\":\"relu\"},\"leak\":1.0,\"recurrent\":{\"W\":[[0,0.2,0.1,-0.3],[0.1,0,"
    "0.2,-0.2],"
    "[0.2,0.1,0,-0.4],[0.3,0.2,0.1,0]],\"A\":{\"E\":1,\"I\":1},\"dale\":\"reject\"},\"input\":{"
    "\"P\":[[1],[0.5],[0.2],"
    "[0.7]]},\"readout\":{\"W_out\":[[0.3,0.3,0.4,0]]}}";

/** Make the model and the run that "@M" and "@R" stand for; wait for the run to succeed. */
static void make_resources(void)
{
    unsigned st = request("POST", "/v1/models", setup_model);
    if (st != 201 && st != 200)
        fail("setup model answered %u: %.*s", st, (int)scratch.len, scratch.data);
    answer_id(model_id, sizeof model_id, "model");
    char body[512];
    snprintf(body, sizeof body,
             "{\"model_id\":\"%s\",\"dt\":0.1,\"inputs\":{\"steps\":40,\"trials\":2},"
             "\"seed\":3,\"record\":{\"vars\":[\"V\",\"r\",\"z\",\"y\"]}}",
             model_id);
    st = request("POST", "/v1/runs", body);
    if (st != 202 && st != 201 && st != 200)
        fail("setup run answered %u: %.*s", st, (int)scratch.len, scratch.data);
    answer_id(run_id, sizeof run_id, "run");
    char path[160];
    /* Polled, not waited for with ?wait=: the harness half-closes its end once a request is
       sent, and libmicrohttpd (poll mode) takes that for a client gone and ends a suspended
       long poll without an answer (an HTTP client does not half-close while it waits). */
    snprintf(path, sizeof path, "/v1/runs/%s", run_id);
    for (int i = 0; i < 400; i++) {
        if (request("GET", path, NULL) != 200)
            fail("setup run status: %.*s", (int)scratch.len, scratch.data);
        if (memmem(scratch.data, scratch.len, "\"succeeded\"", 11)) return;
        struct timespec ms = {0, 25000000};
        nanosleep(&ms, NULL);
    }
    fail("the setup run did not succeed: %.*s", (int)scratch.len, scratch.data);
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d) fail("out of memory");
    return d;
}

static void start_daemon(void)
{
    char db[128];
    snprintf(db, sizeof db, "%s/fuzz.db", dir);
    memset(&daemon_state, 0, sizeof daemon_state);
    srv_config *c = &daemon_state.cfg;
    srv_config_defaults(c);
    free(c->listen_host);
    free(c->db);
    c->listen_host = dup_str("127.0.0.1");
    c->port = 0;
    c->db = dup_str(db);
    c->token = dup_str(TOKEN);
    c->workers = 1;
    c->max_body_bytes = 65536;
    c->max_neurons = 32;
    c->max_steps = 2000;
    c->max_trials = 4;
    c->max_recorded_values = 50000;
    c->queue_limit = 64;
    c->run_time_limit = 5;
    c->long_poll_max = 0.5;
    c->shutdown_grace = 0;
    c->http_threads = 2;
    c->connection_timeout = 2; /* connections given up on (IDLE_S) linger this long */
    c->max_connections = 1024;
    c->cache_bytes = (int64_t)4 << 20;
    if (srv_daemon_start(&daemon_state) != 0) fail("the daemon did not start (see its log)");
    make_resources();
}

static void stop_daemon(void)
{
    srv_daemon_shutdown(&daemon_state, NULL, 0);
    srv_daemon_free(&daemon_state);
    srv_config_free(&daemon_state.cfg);
    const char *files[] = {"fuzz.db", "fuzz.db-wal", "fuzz.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
}

static long long store_bytes(void)
{
    long long total = 0;
    const char *files[] = {"fuzz.db", "fuzz.db-wal"};
    for (size_t i = 0; i < 2; i++) {
        char p[128];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (stat(p, &st) == 0) total += (long long)st.st_size;
    }
    return total;
}

static void remove_dir(void)
{
    stop_daemon();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    int fd = dup(2); /* before libFuzzer's -close_fd_mask=2 closes stderr */
    if (fd >= 0) report_fd = fd;
    scratch.data = malloc(ANSWER_CAP + 1);
    if (!scratch.data) fail("out of memory");
    snprintf(dir, sizeof dir, "/tmp/eirnn-fuzz-http-XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp: %s", strerror(errno));
    srv_json_init();
    start_daemon();
    atexit(remove_dir);
    return 0;
}

/**
 * Copy @p data with the placeholders MODEL_PH and RUN_PH replaced by the ids (of the same
 * length, so Content-Length stays right). @return the copy (to free).
 */
static uint8_t *substitute(const uint8_t *data, size_t n)
{
    uint8_t *b = malloc(n + 1);
    if (!b) fail("out of memory");
    if (n) memcpy(b, data, n);
    const size_t k = sizeof MODEL_PH - 1;
    for (size_t i = 0; i + k <= n; i++) {
        if (b[i + 2] != '@' || b[i + 1] != '_') continue;
        if (memcmp(b + i, MODEL_PH, k) == 0) {
            memcpy(b + i, model_id, k);
            i += k - 1;
        } else if (memcmp(b + i, RUN_PH, k) == 0) {
            memcpy(b + i, run_id, k);
            i += k - 1;
        }
    }
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    uint8_t *req = substitute(data, n);
    answer *a = &scratch;
    if (exchange(req, n, a, 0) == 0) check_answers(a);
    free(req);

    executions++;
    if (memmem(data, n, "DELETE", 6)) { /* the model or the run may be gone: make them again */
        char path[160];
        snprintf(path, sizeof path, "/v1/runs/%s", run_id);
        unsigned run_st = request("GET", path, NULL);
        snprintf(path, sizeof path, "/v1/models/%s", model_id);
        unsigned model_st = request("GET", path, NULL);
        if (run_st == 404 || model_st == 404) make_resources();
    }
    if (executions % 1000 == 0 && store_bytes() > RESTART_BYTES) {
        stop_daemon();
        start_daemon();
    }
    return 0;
}
