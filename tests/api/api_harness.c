/**
 * @file api_harness.c
 * @brief See api_harness.h.
 */
#define _GNU_SOURCE
#include "eir_clock.h"
#include "eir_test_pg.h"
#include "api_harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef EIRNND_BIN
#error "EIRNND_BIN must name the eirnnd binary"
#endif
#ifndef EIRNN_BIN
#error "EIRNN_BIN must name the eirnn binary"
#endif

const char *const api_model_small =
    "{\"name\": \"small\", \"class\": \"gated\", \"populations\": {\"E\": 8, \"I\": 2}, "
    "\"n_inputs\": 2, \"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, "
    "\"recurrent\": {\"W\": ["
    "[0.0, 0.19, 0.2, 0.0, 0.05, 0.0, 0.11, 0.0, -0.52, -0.42],"
    "[0.21, 0.0, 0.0, 0.0, 0.0, 0.0, 0.24, 0.0, -0.12, 0.0],"
    "[0.23, 0.0, 0.0, 0.0, 0.0, 0.25, 0.28, 0.0, -0.16, -0.58],"
    "[0.21, 0.18, 0.14, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],"
    "[0.0, 0.0, 0.27, 0.0, 0.0, 0.0, 0.0, 0.0, -0.52, 0.0],"
    "[0.07, 0.0, 0.0, 0.25, 0.09, 0.0, 0.24, 0.0, -0.4, -0.46],"
    "[0.27, 0.0, 0.0, 0.0, 0.07, 0.0, 0.0, 0.1, -0.4, -0.12],"
    "[0.0, 0.29, 0.0, 0.17, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],"
    "[0.0, 0.0, 0.23, 0.13, 0.0, 0.0, 0.0, 0.15, 0.0, 0.0],"
    "[0.2, 0.0, 0.21, 0.22, 0.23, 0.0, 0.07, 0.0, 0.0, 0.0]], "
    "\"A\": {\"E\": 1.0, \"I\": 1.0}, \"dale\": \"reject\"}, "
    "\"input\": {\"P\": [[0.25, 0.46], [0.59, 0.32], [0.36, 0.31], [0.37, 0.6], [0.3, 0.38], "
    "[0.77, 0.03], [0.57, 0.74], [0.31, 0.22], [0.8, 0.24], [0.19, 0.44]]}, "
    "\"bias\": 0.1, \"readout\": {\"W_out\": [[0.125, 0.125, 0.125, 0.125, 0.125, 0.125, "
    "0.125, 0.125, 0.0, 0.0]], \"b_out\": [0.0], \"from\": \"all\"}, "
    "\"noise\": {\"sigma\": 0.0}}";

const char *const api_model_noisy =
    "{\"name\": \"noisy\", \"class\": \"gated\", \"populations\": {\"E\": 10, \"I\": 2}, "
    "\"n_inputs\": 1, \"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, "
    "\"recurrent\": {\"generate\": {\"seed\": 3, \"p\": 0.5, \"dist\": \"lognormal\", "
    "\"mean\": 0.1, \"cv\": 0.5}, \"A\": 1}, "
    "\"input\": {\"P\": {\"generate\": {\"seed\": 4, \"p\": 1, \"dist\": \"constant\", "
    "\"mean\": 0.5}}}, "
    "\"readout\": {\"W_out\": [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]], "
    "\"from\": \"E\"}, \"noise\": {\"sigma\": 0.2}}";

const char *const api_model_slow =
    "{\"name\": \"slow\", \"class\": \"gated\", \"populations\": {\"E\": 240, \"I\": 60}, "
    "\"n_inputs\": 0, \"activation\": {\"name\": \"relu\"}, \"leak\": 1.0, "
    "\"recurrent\": {\"generate\": {\"seed\": 5, \"p\": 0.2, \"dist\": \"lognormal\", "
    "\"mean\": 0.05, \"cv\": 1}, \"A\": 1}, \"noise\": {\"sigma\": 0.1}}";

double api_now(void)
{
    return eir_clock_mono();
}

void api_pause(double seconds)
{
    eir_clock_sleep(eir_scaled(seconds));
}

/*
 * Every temporary directory and running daemon is also tracked here, by value, so that a test
 * that fails half-way (cmocka leaves the test function with a longjmp, so its api_daemon may
 * be gone) leaves neither processes nor directories behind: they are removed at exit. Daemons
 * also get SIGKILL if the test process dies (PR_SET_PDEATHSIG).
 */
#define TRACK_MAX 64
static struct {
    char dir[256];
    pid_t pid;
} tracked[TRACK_MAX];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw);

static void cleanup_at_exit(void)
{
    for (int i = 0; i < TRACK_MAX; i++) {
        if (tracked[i].pid > 0) {
            kill(tracked[i].pid, SIGKILL);
            waitpid(tracked[i].pid, NULL, 0);
        }
        if (tracked[i].dir[0]) nftw(tracked[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tracked[i].dir[0] = '\0';
        tracked[i].pid = 0;
    }
}

static int track_slot(const char *dir)
{
    for (int i = 0; i < TRACK_MAX; i++)
        if (tracked[i].dir[0] && strcmp(tracked[i].dir, dir) == 0) return i;
    return -1;
}

static void track_dir(const char *dir)
{
    static int registered;
    if (!registered) {
        atexit(cleanup_at_exit);
        registered = 1;
    }
    for (int i = 0; i < TRACK_MAX; i++)
        if (!tracked[i].dir[0]) {
            snprintf(tracked[i].dir, sizeof tracked[i].dir, "%s", dir);
            tracked[i].pid = 0;
            return;
        }
}

static void track_pid(const char *dir, pid_t pid)
{
    int i = track_slot(dir);
    if (i >= 0) tracked[i].pid = pid;
}

static void untrack_dir(const char *dir)
{
    int i = track_slot(dir);
    if (i >= 0) {
        tracked[i].dir[0] = '\0';
        tracked[i].pid = 0;
    }
}

/** The captured stderr of one daemon (all its starts). */
struct api_logbuf {
    pthread_mutex_t lock;
    char *text;
    size_t len, cap;
    int fd; /**< read end of the current start's stderr pipe, -1 when none */
};

void api_init(api_daemon *d)
{
    (void)eir_time_scale(); /* a bad EIRNN_TEST_TIME_SCALE ends the test here, before any daemon */
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/eirnn-api-XXXXXX");
    if (!mkdtemp(d->dir)) {
        print_error("mkdtemp: %s\n", strerror(errno));
        fail();
    }
    if (api_store_is_pg()) {
        if (eir_test_pg_newdb(d->db, sizeof d->db) != 0) {
            print_error("no PostgreSQL database for the daemon (see above)\n");
            fail();
        }
        snprintf(d->made_db, sizeof d->made_db, "%s", d->db);
    } else {
        snprintf(d->db, sizeof d->db, "%s/eirnn.db", d->dir);
    }
    track_dir(d->dir);
    d->logbuf = calloc(1, sizeof *d->logbuf);
    assert_non_null(d->logbuf);
    pthread_mutex_init(&d->logbuf->lock, NULL);
    d->logbuf->fd = -1;
    d->exit_status = -1;
    static int curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
}

static void *reader_main(void *arg)
{
    struct api_logbuf *lb = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = read(lb->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        pthread_mutex_lock(&lb->lock);
        if (lb->len + (size_t)n + 1 > lb->cap) {
            size_t cap = lb->cap ? lb->cap : 65536;
            while (cap < lb->len + (size_t)n + 1)
                cap *= 2;
            char *p = realloc(lb->text, cap);
            if (p) {
                lb->text = p;
                lb->cap = cap;
            }
        }
        if (lb->len + (size_t)n + 1 <= lb->cap) {
            memcpy(lb->text + lb->len, buf, (size_t)n);
            lb->len += (size_t)n;
            lb->text[lb->len] = '\0';
        }
        pthread_mutex_unlock(&lb->lock);
    }
    return NULL;
}

char *api_log(api_daemon *d)
{
    pthread_mutex_lock(&d->logbuf->lock);
    char *s = strdup(d->logbuf->text ? d->logbuf->text : "");
    pthread_mutex_unlock(&d->logbuf->lock);
    return s;
}

int api_log_count(api_daemon *d, const char *needle)
{
    char *s = api_log(d);
    int n = 0;
    for (char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(s);
    return n;
}

void api_start(api_daemon *d, const char *const *args, const char *const *env)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    /* Lines logged before this start (earlier runs of the daemon) are kept; the port is
     * searched for after them. */
    struct api_logbuf *lb = d->logbuf;
    pthread_mutex_lock(&lb->lock);
    size_t from = lb->len;
    pthread_mutex_unlock(&lb->lock);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(127);
        dup2(pfd[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
        }
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        const char *argv[96];
        int n = 0;
        /* EIRNN_API_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=99") runs the
         * daemon under a tool; its words are split on spaces. */
        char *wrap = getenv("EIRNN_API_WRAPPER") ? strdup(getenv("EIRNN_API_WRAPPER")) : NULL;
        for (char *w = wrap ? strtok(wrap, " ") : NULL; w && n < 32; w = strtok(NULL, " "))
            argv[n++] = w;
        argv[n++] = EIRNND_BIN;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--db";
        argv[n++] = d->db;
        for (const char *const *a = args; a && *a && n < 94; a++)
            argv[n++] = *a;
        argv[n] = NULL;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    d->pid = pid;
    track_pid(d->dir, pid);
    lb->fd = pfd[0];
    d->exit_status = -1;
    assert_int_equal(pthread_create(&d->reader, NULL, reader_main, lb), 0);
    d->reader_started = 1;
    /* A daemon under a tool (EIRNN_API_WRAPPER) starts slowly even when the scale is 1. */
    double wait = eir_scaled(getenv("EIRNN_API_WRAPPER") ? 120 : 20);
    double deadline = api_now() + wait;
    while (api_now() < deadline) {
        pthread_mutex_lock(&lb->lock);
        const char *line = lb->text ? strstr(lb->text + from, "\"event\":\"listening\"") : NULL;
        const char *port = line ? strstr(line, "\"port\":") : NULL;
        if (port) d->port = atoi(port + 7);
        pthread_mutex_unlock(&lb->lock);
        if (d->port > 0) break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = 0;
            track_pid(d->dir, 0);
            d->exit_status = st;
            pthread_join(d->reader, NULL);
            d->reader_started = 0;
            close(lb->fd);
            lb->fd = -1;
            print_error("eirnnd exited at start (status %d); log:\n%s\n", st,
                        lb->text ? lb->text : "");
            fail();
        }
        eir_clock_sleep(0.01);
    }
    if (d->port <= 0) {
        print_error("eirnnd did not log 'listening' within %.0f s\n", wait);
        fail();
    }
    snprintf(d->base, sizeof d->base, "http://127.0.0.1:%d", d->port);
}

static void reap(api_daemon *d, int st)
{
    d->pid = 0;
    track_pid(d->dir, 0);
    d->exit_status = st;
    if (d->reader_started) {
        pthread_join(d->reader, NULL);
        d->reader_started = 0;
    }
    if (d->logbuf->fd >= 0) {
        close(d->logbuf->fd);
        d->logbuf->fd = -1;
    }
    d->port = 0;
}

int api_stop(api_daemon *d, int sig, double timeout)
{
    if (!d->pid) return -1;
    kill(d->pid, sig);
    double deadline = api_now() + eir_scaled(timeout);
    int st;
    while (api_now() < deadline) {
        pid_t w = waitpid(d->pid, &st, WNOHANG);
        if (w == d->pid) {
            reap(d, st);
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        eir_clock_sleep(0.01);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &st, 0);
    reap(d, st);
    return -1;
}

void api_kill9(api_daemon *d)
{
    if (!d->pid) return;
    kill(d->pid, SIGKILL);
    int st;
    waitpid(d->pid, &st, 0);
    reap(d, st);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void api_stop_clean(api_daemon *d)
{
    int rc = api_stop(d, SIGTERM, 30);
    api_cleanup(d);
    assert_int_equal(rc, 0);
}

int api_store_is_pg(void)
{
    return eir_test_pg_wanted();
}

void api_cleanup(api_daemon *d)
{
    if (d->pid) api_stop(d, SIGTERM, 30);
    if (d->dir[0]) {
        nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        untrack_dir(d->dir);
    }
    if (d->made_db[0]) {
        eir_test_pg_dropdb(d->made_db); /* on failure, pg/stop removes the whole cluster */
        d->made_db[0] = '\0';
    }
    if (d->logbuf) {
        free(d->logbuf->text);
        pthread_mutex_destroy(&d->logbuf->lock);
        free(d->logbuf);
        d->logbuf = NULL;
    }
}

/* ------------------------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

void api_req(api_daemon *d, const char *method, const char *path, const char *const *headers,
             const void *body, size_t len, api_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", d->base, path);
    buf b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (const char *const *p = headers; p && *p; p++)
        hl = curl_slist_append(hl, *p);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)ceil(eir_scaled(120)));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    out->curl_code = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.p ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p ? h.p : strdup("");
}

void api_get(api_daemon *d, const char *path, api_resp *out)
{
    api_req(d, "GET", path, NULL, NULL, 0, out);
}

void api_post(api_daemon *d, const char *path, const char *json, api_resp *out)
{
    api_req(d, "POST", path, NULL, json, json ? strlen(json) : 0, out);
}

void api_delete(api_daemon *d, const char *path, api_resp *out)
{
    api_req(d, "DELETE", path, NULL, NULL, 0, out);
}

void api_resp_free(api_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

const char *api_header(const api_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    /* The last block of headers (after any 100 Continue). */
    const char *start = r->headers, *p;
    while ((p = strstr(start, "\r\n\r\n")) && p[4])
        start = p + 4;
    for (p = start; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(p + ll - v);
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

const char *api_jstr(const json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

json_t *api_json(const api_resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, 0, &je);
    if (!j) {
        print_error("not JSON (%s): %.*s\n", je.text, (int)(r->len > 2000 ? 2000 : r->len),
                    r->body);
        fail();
    }
    return j;
}

json_t *api_expect_problem(const api_resp *r, long status)
{
    if (r->status != status) {
        print_error("expected status %ld, got %ld: %s\n", status, r->status, r->body);
        fail();
    }
    char ct[128];
    assert_non_null(api_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/problem+json");
    json_t *j = api_json(r);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    const char *type = json_string_value(json_object_get(j, "type"));
    assert_non_null(type);
    assert_true(strncmp(type, "urn:eirnn:problem:", 18) == 0);
    return j;
}

/** POST @p body to @p path, fail the test unless the answer is @p want; the answer's "id". */
static char *post_for_id(api_daemon *d, const char *path, const char *body, long want)
{
    api_resp r;
    api_post(d, path, body, &r);
    if (r.status != want) {
        print_error("POST %s: %ld %s\n", path, r.status, r.body);
        fail();
    }
    json_t *j = api_json(&r);
    char *id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    api_resp_free(&r);
    return id;
}

char *api_create_model(api_daemon *d, const char *model_json)
{
    /* A document with a recipe is built by a worker: 202 and pending (API.md); else 201. */
    return post_for_id(d, "/v1/models", model_json, strstr(model_json, "\"generate\"") ? 202 : 201);
}

char *api_submit_run(api_daemon *d, const char *run_json)
{
    return post_for_id(d, "/v1/runs", run_json, 202);
}

static int is_final(const char *s)
{
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "diverged") ||
                 !strcmp(s, "cancelled"));
}

json_t *api_wait_job(api_daemon *d, const char *collection, const char *id, double timeout)
{
    double deadline = api_now() + eir_scaled(timeout);
    json_t *j = NULL;
    for (;;) {
        double left = deadline - api_now();
        char path[160];
        snprintf(path, sizeof path, "/v1/%s/%s?wait=%.3f", collection, id,
                 left > 10  ? 10
                 : left < 0 ? 0
                            : left);
        api_resp r;
        api_get(d, path, &r);
        if (r.status != 200) {
            print_error("GET %s: %ld %s\n", path, r.status, r.body);
            fail();
        }
        json_decref(j);
        j = api_json(&r);
        api_resp_free(&r);
        if (is_final(json_string_value(json_object_get(j, "status"))) || api_now() >= deadline)
            return j;
    }
}

json_t *api_wait_run(api_daemon *d, const char *id, double timeout)
{
    return api_wait_job(d, "runs", id, timeout);
}

void api_wait_job_status(api_daemon *d, const char *collection, const char *noun, const char *id,
                         const char *status, double timeout)
{
    double deadline = api_now() + eir_scaled(timeout);
    char path[160];
    snprintf(path, sizeof path, "/v1/%s/%s", collection, id);
    for (;;) {
        api_resp r;
        api_get(d, path, &r);
        json_t *j = r.status == 200 ? api_json(&r) : NULL;
        const char *s = j ? json_string_value(json_object_get(j, "status")) : NULL;
        int ok = s && strcmp(s, status) == 0;
        if (!ok && api_now() > deadline) {
            print_error("%s %s: wanted status %s, have %s\n", noun, id, status, s ? s : r.body);
            json_decref(j);
            api_resp_free(&r);
            fail();
        }
        json_decref(j);
        api_resp_free(&r);
        if (ok) return;
        eir_clock_sleep(0.02);
    }
}

void api_wait_status(api_daemon *d, const char *id, const char *status, double timeout)
{
    api_wait_job_status(d, "runs", "run", id, status, timeout);
}

char *api_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return p;
}

void api_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

int api_system(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    assert_true(st != -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int api_simulate(const char *model_path, const char *run_path, const char *out_dir)
{
    if (model_path)
        return api_system("'%s' simulate '%s' '%s' -o '%s' -q", EIRNN_BIN, model_path, run_path,
                          out_dir);
    return api_system("'%s' simulate '%s' -o '%s' -q", EIRNN_BIN, run_path, out_dir);
}
