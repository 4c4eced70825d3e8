/**
 * @file bench_runs.c
 * @brief Runs per second end to end over HTTP against one or several eirnnd daemons that share
 *        one database (PostgreSQL), or a single daemon (SQLite).
 *
 * Built twice from this one source: as bench_small_runs (bench/run_http_bench.sh: one daemon,
 * the small model) and as bench_pg_runs (bench/pg/run_pg_bench.sh); BENCH_NAME (set by
 * bench/CMakeLists.txt) is the program's name in its messages. Options:
 *   - @c --url repeated: the daemons. Run k is submitted to daemon k mod D; with @c --spread
 *     its long poll goes to the next daemon and its .npy fetch to the one after, as through a
 *     load balancer without stickiness (so a run's end must reach the waiting daemon through
 *     the database's notifications); without it, all three go to the same daemon;
 *   - @c --model small (N = 100, T = 100, as bench_small_runs) or @c trivial (N = 2, T = 1:
 *     the smallest run, so that the queue, the claims and the commits cost the time, not the
 *     engine);
 *   - @c --server-pid repeated: the daemons' CPU time is summed.
 *
 * Each run: POST /v1/runs (202), GET /v1/runs/{id}?wait=S until final (succeeded expected),
 * GET /v1/runs/{id}/results/r?format=npy (checked). @c --concurrency runs in flight at once
 * with one libcurl multi handle on one thread. Warm-up runs first, not counted.
 *
 * Output: a summary on stdout and, with @c --json FILE, one JSON object.
 * Not a test: see docs/BENCHMARKS.md ("HTTP service", "PostgreSQL store"),
 * bench/run_http_bench.sh and bench/pg/run_pg_bench.sh.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_NAME
#define BENCH_NAME "bench_runs"
#endif
/** The daemon when no --url is given. */
#define DEFAULT_URL "http://127.0.0.1:8080"

#define MAX_DAEMONS 16

/** The "small" benchmark model: N = 100, generated recurrent weights and input matrix, some noise.
 */
static const char MODEL_JSON[] =
    "{\"name\":\"bench-small-100\",\"class\":\"gated\",\"populations\":{\"E\":80,\"I\":20},"
    "\"n_inputs\":2,\"activation\":{\"name\":\"relu\"},\"leak\":1.0,"
    "\"recurrent\":{\"generate\":{\"seed\":42,\"p\":{\"EE\":0.2,\"EI\":0.5,\"IE\":0.5,"
    "\"II\":0.5},\"dist\":\"lognormal\",\"mean\":{\"EE\":0.5,\"EI\":1.0,\"IE\":0.5,\"II\":1.0},"
    "\"cv\":0.5,\"balance\":true,\"spectral_radius\":0.9,\"self_connections\":false},"
    "\"A\":{\"E\":0.5,\"I\":1.0}},"
    "\"input\":{\"P\":{\"generate\":{\"seed\":43,\"p\":{\"E\":0.5,\"I\":0.2},\"dist\":"
    "\"constant\",\"mean\":1.0}}},\"noise\":{\"sigma\":0.1}}";

/** The "trivial" model: N = 2 (1 E, 1 I), given weights, no inputs, no noise. */
static const char TRIVIAL_JSON[] =
    "{\"name\":\"bench-trivial-2\",\"class\":\"gated\",\"populations\":{\"E\":1,\"I\":1},"
    "\"n_inputs\":0,\"activation\":{\"name\":\"relu\"},\"leak\":1.0,"
    "\"recurrent\":{\"W\":[[0,-1],[1,0]],\"A\":{\"E\":0.5,\"I\":1.0}}}";

enum phase { PH_IDLE = 0, PH_SUBMIT, PH_WAIT, PH_FETCH };

/** Growable response body. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

/** One in-flight run. */
typedef struct slot {
    CURL *h;
    enum phase ph;
    buf body;
    char id[64];
    int daemon; /**< index of the daemon the run was submitted to */
    char url[256];
    char req[512];
    double t_submit, t_accepted, t_final;
    int counted; /**< this run belongs to the measured phase */
    int polls;
} slot;

/** Latencies of one kind, in seconds. */
typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

typedef struct bench {
    const char *bases[MAX_DAEMONS];
    int n_bases;
    int spread;       /**< wait on the next daemon, fetch from the one after */
    int trivial;      /**< the N = 2, T = 1 model */
    long next_daemon; /**< runs submitted so far (the next run's daemon, mod n_bases) */
    const char *model_id;
    int concurrency;
    long wait_s;
    CURLM *multi;
    struct curl_slist *json_hdr; /**< Content-Type: application/json */
    slot *slots;
    /* counters of the current phase */
    long to_start;   /**< runs not yet submitted */
    long in_flight;  /**< runs between submit and fetch end */
    long done;       /**< runs completed successfully */
    long errors;     /**< runs that failed (HTTP error, bad status, bad result) */
    long seed;       /**< next run's seed */
    int measuring;   /**< runs started now are counted */
    size_t npy_size; /**< size of the first result fetched; later ones must match */
    samples total, submit, wait, fetch;
    long polls_extra; /**< long polls that came back before the run was final */
    char first_error[512];
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *msg)
{
    fprintf(stderr, BENCH_NAME ": %s\n", msg);
    exit(1);
}

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/** Percentile @p q (0..100) of sorted samples, nearest rank; NaN when empty. */
static double pct(const samples *s, double q)
{
    if (s->n == 0) return NAN;
    size_t k = (size_t)ceil(q / 100.0 * (double)s->n);
    if (k < 1) k = 1;
    if (k > s->n) k = s->n;
    return s->v[k - 1];
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
    buf *b = ctx;
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
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/** Copy the string value of the first "key":"value" in @p json into @p out. */
static int json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p) return -1;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap) return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static void record_error(bench *b, slot *s, const char *what)
{
    b->errors++;
    if (!b->first_error[0])
        snprintf(b->first_error, sizeof b->first_error, "%s (run %s): %.300s", what,
                 s->id[0] ? s->id : "-", s->body.p ? s->body.p : "");
}

/** The daemon of step @p step (0 submit, 1 wait, 2 fetch) of the slot's run. */
static const char *base_of(const bench *b, const slot *s, int step)
{
    return b->bases[(s->daemon + (b->spread ? step : 0)) % b->n_bases];
}

/** Queue the request for the slot's current phase. */
static void issue(bench *b, slot *s)
{
    CURL *h = s->h;
    s->body.len = 0;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s->body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, b->wait_s + 60L);
    switch (s->ph) {
    case PH_SUBMIT:
        snprintf(s->url, sizeof s->url, "%s/v1/runs", base_of(b, s, 0));
        snprintf(s->req, sizeof s->req,
                 "{\"model_id\":\"%s\",\"dt\":0.1,\"inputs\":{\"steps\":%d,\"trials\":1},"
                 "\"record\":{\"vars\":[\"r\"],\"every\":1},\"seed\":%ld}",
                 b->model_id, b->trivial ? 1 : 100, b->seed++);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->req);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->json_hdr);
        break;
    case PH_WAIT:
        snprintf(s->url, sizeof s->url, "%s/v1/runs/%s?wait=%ld", base_of(b, s, 1), s->id,
                 b->wait_s);
        break;
    case PH_FETCH:
        snprintf(s->url, sizeof s->url, "%s/v1/runs/%s/results/r?format=npy", base_of(b, s, 2),
                 s->id);
        break;
    default:
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(b->multi, h);
}

/** Start a new run in @p s if any are left. */
static void start_run(bench *b, slot *s)
{
    if (b->to_start <= 0) {
        s->ph = PH_IDLE;
        return;
    }
    b->to_start--;
    b->in_flight++;
    s->ph = PH_SUBMIT;
    s->daemon = (int)(b->next_daemon++ % b->n_bases);
    s->id[0] = '\0';
    s->polls = 0;
    s->counted = b->measuring;
    s->t_submit = now_s();
    issue(b, s);
}

static void end_run(bench *b, slot *s, int ok)
{
    b->in_flight--;
    if (ok) {
        b->done++;
        if (s->counted) {
            double t = now_s();
            add(&b->total, t - s->t_submit);
            add(&b->submit, s->t_accepted - s->t_submit);
            add(&b->wait, s->t_final - s->t_accepted);
            add(&b->fetch, t - s->t_final);
        }
    }
    start_run(b, s);
}

/** A request of @p s completed with @p rc: check it and move the run on. */
static void advance(bench *b, slot *s, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        char what[128];
        snprintf(what, sizeof what, "transport error: %s", curl_easy_strerror(rc));
        record_error(b, s, what);
        end_run(b, s, 0);
        return;
    }
    switch (s->ph) {
    case PH_SUBMIT:
        if (code != 202 || json_str(s->body.p, "id", s->id, sizeof s->id)) {
            record_error(b, s, "POST /v1/runs did not answer 202 with an id");
            end_run(b, s, 0);
            return;
        }
        s->t_accepted = now_s();
        s->ph = PH_WAIT;
        issue(b, s);
        return;
    case PH_WAIT: {
        char st[32];
        if (code != 200 || json_str(s->body.p, "status", st, sizeof st)) {
            record_error(b, s, "GET /v1/runs/{id}?wait= did not answer 200 with a status");
            end_run(b, s, 0);
            return;
        }
        if (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0) {
            b->polls_extra++;
            if (++s->polls > 1000) {
                record_error(b, s, "the run did not finish");
                end_run(b, s, 0);
                return;
            }
            issue(b, s);
            return;
        }
        if (strcmp(st, "succeeded") != 0) {
            record_error(b, s, "the run did not succeed");
            end_run(b, s, 0);
            return;
        }
        s->t_final = now_s();
        s->ph = PH_FETCH;
        issue(b, s);
        return;
    }
    case PH_FETCH: {
        int ok = code == 200 && s->body.len > 10 && memcmp(s->body.p, "\x93NUMPY", 6) == 0;
        if (ok && b->npy_size == 0) b->npy_size = s->body.len;
        if (ok && s->body.len != b->npy_size) ok = 0;
        if (!ok) record_error(b, s, "the result is not the expected .npy");
        end_run(b, s, ok);
        return;
    }
    default:
        return;
    }
}

/** Make @p runs runs with the slots busy until all are done. */
static double run_phase(bench *b, long runs, int measuring)
{
    b->to_start = runs;
    b->measuring = measuring;
    double t0 = now_s();
    for (int i = 0; i < b->concurrency; i++)
        start_run(b, &b->slots[i]);
    while (b->in_flight > 0) {
        int running = 0;
        if (curl_multi_perform(b->multi, &running) != CURLM_OK) die("curl_multi_perform failed");
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(b->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL *h = m->easy_handle;
            CURLcode rc = m->data.result;
            slot *s = NULL;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(b->multi, h);
            advance(b, s, rc);
        }
        if (b->in_flight > 0 && curl_multi_poll(b->multi, NULL, 0, 100, NULL) != CURLM_OK)
            die("curl_multi_poll failed");
    }
    return now_s() - t0;
}

/** One blocking request with its own handle; returns the HTTP code, body in *out. */
static long simple(const char *url, const char *post, buf *out)
{
    CURL *h = curl_easy_init();
    if (!h) die("curl_easy_init failed");
    out->len = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (post) curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return code;
}

/** CPU seconds (user + system) of process @p pid from /proc, or -1. */
static double proc_cpu(long pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/** Summed CPU seconds of @p n processes, or -1 when one cannot be read. */
static double procs_cpu(const long *pids, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double v = proc_cpu(pids[i]);
        if (v < 0) return -1;
        sum += v;
    }
    return sum;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void loadavg(double *l1)
{
    *l1 = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf", l1) != 1) *l1 = NAN;
    fclose(f);
}

static void sort_all(bench *b)
{
    samples *all[] = {&b->total, &b->submit, &b->wait, &b->fetch};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]->n) qsort(all[i]->v, all[i]->n, sizeof(double), cmp_double);
}

static void json_pcts(FILE *f, const char *name, const samples *s)
{
    fprintf(f, "\"%s_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name,
            pct(s, 50) * 1e3, pct(s, 90) * 1e3, pct(s, 99) * 1e3, pct(s, 100) * 1e3);
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: " BENCH_NAME " [--url URL ...] [--spread] [--model small|trivial]\n"
           "       [--runs N] [--warmup N] [--concurrency C] [--model-id ID]\n"
           "       [--wait S] [--server-pid PID ...] [--json FILE]\n"
           "End-to-end runs per second over HTTP against one or more daemons: submit,\n"
           "long-poll wait, fetch the .npy; run k goes to daemon k mod D (--spread: its wait\n"
           "to the next daemon, its fetch to the one after). --model small: N=100, T=100;\n"
           "trivial: N=2, T=1. Defaults: --url " DEFAULT_URL " --model small --runs 3000\n"
           "--warmup 300 --concurrency 32 --wait 30 (the model is created on the first daemon).\n");
}

/** The command line's figures that are not the bench's own. */
typedef struct bench_opts {
    long runs, warmup;
    long server_pids[MAX_DAEMONS];
    int n_pids;
    const char *json_path;
} bench_opts;

/** What the measured phase gave. */
typedef struct bench_result {
    long warm_errors;
    double secs, rate, client_cpu, server_cpu, l0, l1;
} bench_result;

/** One option of parse_args(); @return 0, or -1 for a bad value. */
static int parse_one(int c, const char *arg, bench *b, bench_opts *o)
{
    switch (c) {
    case 'u':
        if (b->n_bases == MAX_DAEMONS) return -1;
        b->bases[b->n_bases++] = arg;
        return 0;
    case 'S':
        b->spread = 1;
        return 0;
    case 'M':
        if (strcmp(arg, "small") && strcmp(arg, "trivial")) return -1;
        b->trivial = strcmp(arg, "trivial") == 0;
        return 0;
    case 'n':
        o->runs = strtol(arg, NULL, 10);
        return 0;
    case 'w':
        o->warmup = strtol(arg, NULL, 10);
        return 0;
    case 'c':
        b->concurrency = (int)strtol(arg, NULL, 10);
        return 0;
    case 'm':
        b->model_id = arg;
        return 0;
    case 'W':
        b->wait_s = strtol(arg, NULL, 10);
        return 0;
    case 'p':
        if (o->n_pids == MAX_DAEMONS) return -1;
        o->server_pids[o->n_pids++] = strtol(arg, NULL, 10);
        return 0;
    case 'j':
        o->json_path = arg;
        return 0;
    default:
        return -1;
    }
}

/** Parse the options into @p b and @p o. @return -1 to go on, or the exit code (0 after
 *  --help, 2 after a usage message). */
static int parse_args(int argc, char **argv, bench *b, bench_opts *o)
{
    static const struct option lo[] = {
        {"url", 1, 0, 'u'},      {"spread", 0, 0, 'S'}, {"model", 1, 0, 'M'},
        {"runs", 1, 0, 'n'},     {"warmup", 1, 0, 'w'}, {"concurrency", 1, 0, 'c'},
        {"model-id", 1, 0, 'm'}, {"wait", 1, 0, 'W'},   {"server-pid", 1, 0, 'p'},
        {"json", 1, 0, 'j'},     {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "u:SM:n:w:c:m:W:p:j:h", lo, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (parse_one(c, optarg, b, o)) {
            usage(stderr);
            return 2;
        }
    }
    if (b->n_bases == 0) b->bases[b->n_bases++] = DEFAULT_URL;
    if (o->runs < 1 || o->warmup < 0 || b->concurrency < 1 || b->concurrency > 4096 ||
        b->wait_s < 1) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/** Wait until model @p id on the first daemon is built (a generated model is built by a
 *  worker after its 202). @return 0, or 1 after a message on stderr. */
static int wait_model_ready(const bench *b, const char *id)
{
    char url[256], state[32] = "";
    buf tmp = {0};
    snprintf(url, sizeof url, "%s/v1/models/%s", b->bases[0], id);
    for (int i = 0; i < 1200; i++) {
        long code = simple(url, NULL, &tmp);
        if (code != 200 || json_str(tmp.p, "state", state, sizeof state)) break;
        if (strcmp(state, "pending")) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int bad = strcmp(state, "ready") != 0;
    if (bad)
        fprintf(stderr, BENCH_NAME ": model %s is not ready (%s): %.300s\n", id,
                state[0] ? state : "no answer", tmp.p ? tmp.p : "");
    free(tmp.p);
    return bad;
}

/** POST the bench's model to the first daemon and wait until it is built; its id in @p id.
 *  @return 0, or 1 after a message on stderr. */
static int create_model(const bench *b, char *id, size_t cap)
{
    char url[256];
    buf tmp = {0};
    snprintf(url, sizeof url, "%s/v1/models", b->bases[0]);
    long code = simple(url, b->trivial ? TRIVIAL_JSON : MODEL_JSON, &tmp);
    int bad = (code != 201 && code != 202) || json_str(tmp.p, "id", id, cap);
    if (bad)
        fprintf(stderr, BENCH_NAME ": POST %s answered %ld: %.300s\n", url, code,
                tmp.p ? tmp.p : "");
    free(tmp.p);
    return bad || wait_model_ready(b, id);
}

/** The multi handle, the header list and one easy handle a slot; exits when out of memory. */
static void open_handles(bench *b)
{
    b->json_hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (!b->json_hdr) die("out of memory");
    b->multi = curl_multi_init();
    if (!b->multi) die("curl_multi_init failed");
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->concurrency + 8);
    b->slots = calloc((size_t)b->concurrency, sizeof *b->slots);
    if (!b->slots) die("out of memory");
    for (int i = 0; i < b->concurrency; i++)
        if (!(b->slots[i].h = curl_easy_init())) die("curl_easy_init failed");
}

static void close_handles(bench *b)
{
    for (int i = 0; i < b->concurrency; i++)
        curl_easy_cleanup(b->slots[i].h);
    curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->json_hdr);
    for (int i = 0; i < b->concurrency; i++)
        free(b->slots[i].body.p);
    free(b->slots);
}

/** The warm-up, then the measured phase with the CPU times and load averages around it. */
static void measure(bench *b, const bench_opts *o, bench_result *res)
{
    if (o->warmup > 0) run_phase(b, o->warmup, 0);
    res->warm_errors = b->errors;
    b->done = 0;
    b->errors = 0;
    b->polls_extra = 0;

    loadavg(&res->l0);
    double c0 = self_cpu(), s0 = o->n_pids ? procs_cpu(o->server_pids, o->n_pids) : -1;
    res->secs = run_phase(b, o->runs, 1);
    double c1 = self_cpu(), s1 = o->n_pids ? procs_cpu(o->server_pids, o->n_pids) : -1;
    loadavg(&res->l1);
    sort_all(b);

    res->rate = (double)b->done / res->secs;
    res->client_cpu = c1 - c0;
    res->server_cpu = (s0 >= 0 && s1 >= 0) ? s1 - s0 : NAN;
}

static void print_report(const bench *b, const bench_opts *o, const bench_result *res)
{
    printf("%s runs (%s, B=1, record r; submit + wait + fetch), %d daemon%s%s, concurrency %d\n",
           b->trivial ? "trivial" : "small", b->trivial ? "N=2, T=1" : "N=100, T=100", b->n_bases,
           b->n_bases > 1 ? "s" : "", b->spread ? " (spread)" : "", b->concurrency);
    printf("  runs: %ld ok, %ld errors (warm-up: %ld runs, %ld errors) in %.3f s\n", b->done,
           b->errors, o->warmup, res->warm_errors, res->secs);
    printf("  throughput: %.1f runs/s\n", res->rate);
    printf("  latency ms (p50 / p90 / p99 / max): total %.2f / %.2f / %.2f / %.2f\n",
           pct(&b->total, 50) * 1e3, pct(&b->total, 90) * 1e3, pct(&b->total, 99) * 1e3,
           pct(&b->total, 100) * 1e3);
    printf("    submit %.2f / %.2f / %.2f, wait %.2f / %.2f / %.2f, fetch %.2f / %.2f / %.2f\n",
           pct(&b->submit, 50) * 1e3, pct(&b->submit, 90) * 1e3, pct(&b->submit, 99) * 1e3,
           pct(&b->wait, 50) * 1e3, pct(&b->wait, 90) * 1e3, pct(&b->wait, 99) * 1e3,
           pct(&b->fetch, 50) * 1e3, pct(&b->fetch, 90) * 1e3, pct(&b->fetch, 99) * 1e3);
    printf("  CPU per run: client %.3f ms", res->client_cpu / (double)o->runs * 1e3);
    if (isfinite(res->server_cpu))
        printf(", server %.3f ms", res->server_cpu / (double)o->runs * 1e3);
    printf("; load average %.2f before, %.2f after\n", res->l0, res->l1);
    if (b->first_error[0]) printf("  first error: %s\n", b->first_error);
}

/** The figures as one JSON object in o->json_path. @return 0, or 1 after a message. */
static int write_json(const bench *b, const bench_opts *o, const bench_result *res)
{
    FILE *f = fopen(o->json_path, "w");
    if (!f) {
        fprintf(stderr, BENCH_NAME ": cannot write %s: %s\n", o->json_path, strerror(errno));
        return 1;
    }
    fprintf(f,
            "{\"model\":\"%s\",\"daemons\":%d,\"spread\":%s,"
            "\"model_id\":\"%s\",\"runs\":%ld,\"ok\":%ld,\"errors\":%ld,"
            "\"concurrency\":%d,\"seconds\":%.6f,\"runs_per_s\":%.2f,",
            b->trivial ? "trivial" : "small", b->n_bases, b->spread ? "true" : "false", b->model_id,
            o->runs, b->done, b->errors, b->concurrency, res->secs, res->rate);
    json_pcts(f, "total", &b->total);
    fputc(',', f);
    json_pcts(f, "submit", &b->submit);
    fputc(',', f);
    json_pcts(f, "wait", &b->wait);
    fputc(',', f);
    json_pcts(f, "fetch", &b->fetch);
    fprintf(f, ",\"early_poll_returns\":%ld,\"npy_bytes\":%zu,\"client_cpu_ms_per_run\":%.4f,",
            b->polls_extra, b->npy_size, res->client_cpu / (double)o->runs * 1e3);
    if (isfinite(res->server_cpu))
        fprintf(f, "\"server_cpu_ms_per_run\":%.4f,", res->server_cpu / (double)o->runs * 1e3);
    fprintf(f, "\"loadavg_before\":%.2f,\"loadavg_after\":%.2f}\n", res->l0, res->l1);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    b.concurrency = 32;
    b.wait_s = 30;
    bench_opts o = {.runs = 3000, .warmup = 300};
    int rc = parse_args(argc, argv, &b, &o);
    if (rc >= 0) return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) die("curl_global_init failed");

    char model_id[64];
    if (!b.model_id) {
        if (create_model(&b, model_id, sizeof model_id)) return 1;
        b.model_id = model_id;
    }
    open_handles(&b);
    bench_result res;
    measure(&b, &o, &res);
    print_report(&b, &o, &res);
    if (o.json_path && write_json(&b, &o, &res)) return 1;
    close_handles(&b);
    curl_global_cleanup();
    return b.errors ? 3 : 0;
}
