/**
 * @file bench_store.c
 * @brief The cost of the store's coordination operations, on whichever backend --db names.
 *
 * Straight on the store API (server/store.h), no HTTP and no engine, so the figures are the
 * database's and the backend's own:
 *   - create: store_run_create() of one queued run (a submit's write);
 *   - claim:  store_run_claim() of one run from a queue of --runs runs (a worker's claim),
 *             and on an empty queue (an idle worker's look, ::STORE_NOT_FOUND);
 *   - commit: finish_begin + one float64 result of --small-bytes (and, separately,
 *             --large-bytes) appended in 64 KiB pieces + result_end + finish_commit
 *             (a worker's finish), and the finish_commit call alone;
 *   - claims/s with --threads T connections claiming from one queue at once (contention).
 * Each operation is timed one by one; medians and p90 are reported (nearest rank).
 *
 * Usage: bench_store --db SPEC [--runs N] [--small N] [--large N] [--small-bytes B]
 *                    [--large-bytes B] [--threads 1,2,4] [--json FILE]
 * SPEC as for `eirnnd --db`: a SQLite path, or a postgresql:// URL (a fresh database: the
 * program fills it with runs and leaves them there).
 *
 * Not a test: see docs/BENCHMARKS.md ("Store operations") and bench/pg/run_pg_bench.sh.
 */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREAD_COUNTS 8
#define APPEND_PIECE ((size_t)64 * 1024)

/** Command-line settings. */
typedef struct opts {
    const char *db;
    long runs;  /**< claims timed one by one (and runs created for them) */
    long small; /**< small commits timed */
    long large; /**< large commits timed */
    size_t small_bytes, large_bytes;
    int threads[MAX_THREAD_COUNTS]; /**< thread counts of the contention phase */
    int n_threads;
    long contention_runs; /**< runs queued for each contention measurement */
    const char *json_path;
} opts;

/** Times of one kind, in seconds. */
typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, store_conn *c)
{
    fprintf(stderr, "bench_store: %s%s%s\n", what, c ? ": " : "", c ? store_errmsg(c) : "");
    exit(1);
}

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory", NULL);
    }
    s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/** Percentile @p q (0..100) by nearest rank, in ms; sorts the samples. NaN when empty. */
static double pct_ms(samples *s, double q)
{
    if (s->n == 0) return NAN;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t k = (size_t)ceil(q / 100.0 * (double)s->n);
    if (k < 1) k = 1;
    if (k > s->n) k = s->n;
    return s->v[k - 1] * 1e3;
}

/** Queue @p n runs of model @p model_id; each create's time into @p t (may be NULL). */
static void create_runs(store_conn *c, const char *model_id, long n, samples *t)
{
    static const char req[] = "{\"dt\":0.1,\"inputs\":{\"steps\":1,\"trials\":1}}";
    for (long i = 0; i < n; i++) {
        store_run_new in = {.model_id = model_id, .request_json = req, .progress_total = 1};
        store_run r;
        double t0 = now_s();
        store_status st = store_run_create(c, &in, &r, NULL);
        double t1 = now_s();
        if (st != STORE_OK) die("store_run_create", c);
        store_run_clear(&r);
        if (t) add(t, t1 - t0);
    }
}

/** Claim one run into @p r; exits when the queue is empty or on error. */
static void claim_one(store_conn *c, store_run *r, samples *t)
{
    double t0 = now_s();
    store_status st = store_run_claim(c, r);
    double t1 = now_s();
    if (st != STORE_OK) die("store_run_claim", c);
    if (t) add(t, t1 - t0);
}

/** Finish claimed run @p r as succeeded with one float64 result "r" of @p bytes. */
static void commit_one(store_conn *c, const store_run *r, const unsigned char *data, size_t bytes,
                       samples *total, samples *commit_only)
{
    int64_t shape[1] = {(int64_t)(bytes / 8)};
    double t0 = now_s();
    if (store_finish_begin(c, r->id, r->attempts) != STORE_OK) die("store_finish_begin", c);
    if (store_result_begin(c, "r", "float64", 1, shape) != STORE_OK) die("store_result_begin", c);
    for (size_t off = 0; off < bytes; off += APPEND_PIECE) {
        size_t n = bytes - off < APPEND_PIECE ? bytes - off : APPEND_PIECE;
        if (store_result_append(c, data + off, n) != STORE_OK) die("store_result_append", c);
    }
    if (store_result_end(c, NULL) != STORE_OK) die("store_result_end", c);
    double t1 = now_s();
    if (store_finish_commit(c, STORE_RUN_SUCCEEDED, "{\"bench\":true}", NULL) != STORE_OK)
        die("store_finish_commit", c);
    double t2 = now_s();
    add(total, t2 - t0);
    add(commit_only, t2 - t1);
}

/** What one thread of the contention phase shares with the others. */
typedef struct contention {
    store *s;
    pthread_barrier_t start;
    long claimed[64];
    char error[256];
    pthread_mutex_t lock;
} contention;

typedef struct worker_arg {
    contention *k;
    int index;
} worker_arg;

/** Claim until the queue is empty; counts its claims. */
static void *claim_worker(void *p)
{
    worker_arg *a = p;
    contention *k = a->k;
    store_conn *c = store_connect(k->s);
    pthread_barrier_wait(&k->start);
    long n = 0;
    for (;;) {
        store_run r;
        store_status st = c ? store_run_claim(c, &r) : STORE_ERROR;
        if (st == STORE_NOT_FOUND) break;
        if (st == STORE_BUSY) continue; /* a lock wait ran out: try again, as a worker does */
        if (st != STORE_OK) {
            pthread_mutex_lock(&k->lock);
            if (!k->error[0])
                snprintf(k->error, sizeof k->error, "store_run_claim: %s",
                         c ? store_errmsg(c) : "no connection");
            pthread_mutex_unlock(&k->lock);
            break;
        }
        store_run_clear(&r);
        n++;
    }
    k->claimed[a->index] = n;
    store_disconnect(c);
    return NULL;
}

/** Claims per second with @p threads connections emptying a queue of @p runs runs. */
static double contention_rate(store *s, store_conn *c, const char *model_id, int threads, long runs)
{
    create_runs(c, model_id, runs, NULL);
    contention k = {.s = s};
    pthread_mutex_init(&k.lock, NULL);
    pthread_barrier_init(&k.start, NULL, (unsigned)threads + 1);
    pthread_t tid[64];
    worker_arg args[64];
    for (int i = 0; i < threads; i++) {
        args[i] = (worker_arg){&k, i};
        if (pthread_create(&tid[i], NULL, claim_worker, &args[i])) die("pthread_create", NULL);
    }
    pthread_barrier_wait(&k.start);
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double secs = now_s() - t0;
    long total = 0;
    for (int i = 0; i < threads; i++)
        total += k.claimed[i];
    if (k.error[0]) die(k.error, NULL);
    if (total != runs) {
        fprintf(stderr, "bench_store: %d threads claimed %ld runs of %ld\n", threads, total, runs);
        exit(1);
    }
    pthread_barrier_destroy(&k.start);
    pthread_mutex_destroy(&k.lock);
    return (double)total / secs;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_store --db SPEC [--runs N] [--small N] [--large N]\n"
               "                   [--small-bytes B] [--large-bytes B] [--threads 1,2,4]\n"
               "                   [--contention-runs N] [--json FILE]\n"
               "Times store_run_create, store_run_claim and a result commit one by one on the\n"
               "store SPEC names (SQLite path or postgresql:// URL), and claims/s with T\n"
               "threads. Defaults: --runs 2000 --small 500 --large 10 --small-bytes 8192\n"
               "--large-bytes 8388608 --threads 1,2,4,8 --contention-runs 2000.\n");
}

static int parse_threads(const char *s, opts *o)
{
    o->n_threads = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 64 || o->n_threads == MAX_THREAD_COUNTS) return -1;
        o->threads[o->n_threads++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return o->n_threads ? 0 : -1;
}

/** @return -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"db", 1, 0, 'd'},
                                       {"runs", 1, 0, 'n'},
                                       {"small", 1, 0, 's'},
                                       {"large", 1, 0, 'l'},
                                       {"small-bytes", 1, 0, 'S'},
                                       {"large-bytes", 1, 0, 'L'},
                                       {"threads", 1, 0, 't'},
                                       {"contention-runs", 1, 0, 'c'},
                                       {"json", 1, 0, 'j'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "d:n:s:l:S:L:t:c:j:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->db = optarg;
            break;
        case 'n':
            o->runs = strtol(optarg, NULL, 10);
            break;
        case 's':
            o->small = strtol(optarg, NULL, 10);
            break;
        case 'l':
            o->large = strtol(optarg, NULL, 10);
            break;
        case 'S':
            o->small_bytes = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'L':
            o->large_bytes = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 't':
            if (parse_threads(optarg, o)) {
                usage(stderr);
                return 2;
            }
            break;
        case 'c':
            o->contention_runs = strtol(optarg, NULL, 10);
            break;
        case 'j':
            o->json_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o->db || o->runs < 1 || o->small < 1 || o->large < 0 || o->small_bytes < 8 ||
        o->large_bytes < 8 || o->small_bytes % 8 || o->large_bytes % 8 || o->contention_runs < 1) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/** All the timings of one program run. */
typedef struct figures {
    samples create, claim, claim_empty, small_total, small_commit, large_total, large_commit;
    double rates[MAX_THREAD_COUNTS];
    double secs;
} figures;

static void print_line(FILE *f, const char *name, samples *s, int comma)
{
    fprintf(f, "\"%s\":{\"n\":%zu,\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f}%s", name, s->n,
            pct_ms(s, 50), pct_ms(s, 90), pct_ms(s, 99), comma ? "," : "");
}

static void report(const opts *o, const char *backend, figures *fg)
{
    printf("store %s (%s)\n", backend, o->db);
    printf("  create  p50 %.3f ms  p90 %.3f ms  (%zu)\n", pct_ms(&fg->create, 50),
           pct_ms(&fg->create, 90), fg->create.n);
    printf("  claim   p50 %.3f ms  p90 %.3f ms  (%zu)\n", pct_ms(&fg->claim, 50),
           pct_ms(&fg->claim, 90), fg->claim.n);
    printf("  claim on an empty queue p50 %.3f ms  p90 %.3f ms  (%zu)\n",
           pct_ms(&fg->claim_empty, 50), pct_ms(&fg->claim_empty, 90), fg->claim_empty.n);
    printf("  commit %zu B: p50 %.3f ms (finish_commit alone %.3f ms)  p90 %.3f ms  (%zu)\n",
           o->small_bytes, pct_ms(&fg->small_total, 50), pct_ms(&fg->small_commit, 50),
           pct_ms(&fg->small_total, 90), fg->small_total.n);
    if (fg->large_total.n)
        printf("  commit %zu B: p50 %.3f ms (finish_commit alone %.3f ms)  p90 %.3f ms  (%zu)\n",
               o->large_bytes, pct_ms(&fg->large_total, 50), pct_ms(&fg->large_commit, 50),
               pct_ms(&fg->large_total, 90), fg->large_total.n);
    for (int i = 0; i < o->n_threads; i++)
        printf("  claims/s with %d thread%s: %.0f\n", o->threads[i], o->threads[i] > 1 ? "s" : "",
               fg->rates[i]);
    if (!o->json_path) return;
    FILE *f = fopen(o->json_path, "w");
    if (!f) {
        fprintf(stderr, "bench_store: cannot write %s: %s\n", o->json_path, strerror(errno));
        exit(1);
    }
    fprintf(f, "{\"backend\":\"%s\",\"small_bytes\":%zu,\"large_bytes\":%zu,", backend,
            o->small_bytes, o->large_bytes);
    print_line(f, "create", &fg->create, 1);
    print_line(f, "claim", &fg->claim, 1);
    print_line(f, "claim_empty", &fg->claim_empty, 1);
    print_line(f, "commit_small", &fg->small_total, 1);
    print_line(f, "commit_small_final", &fg->small_commit, 1);
    print_line(f, "commit_large", &fg->large_total, 1);
    print_line(f, "commit_large_final", &fg->large_commit, 1);
    fprintf(f, "\"claims_per_s\":{");
    for (int i = 0; i < o->n_threads; i++)
        fprintf(f, "%s\"%d\":%.1f", i ? "," : "", o->threads[i], fg->rates[i]);
    fprintf(f, "},\"seconds\":%.3f}\n", fg->secs);
    fclose(f);
}

/** Claim and commit @p n runs with a result of @p bytes each. */
static void commits(store_conn *c, const char *model_id, long n, size_t bytes,
                    const unsigned char *data, samples *total, samples *commit_only)
{
    create_runs(c, model_id, n, NULL);
    for (long i = 0; i < n; i++) {
        store_run r;
        claim_one(c, &r, NULL);
        commit_one(c, &r, data, bytes, total, commit_only);
        store_run_clear(&r);
    }
}

int main(int argc, char **argv)
{
    opts o = {.runs = 2000,
              .small = 500,
              .large = 10,
              .small_bytes = 8192,
              .large_bytes = (size_t)8 << 20,
              .threads = {1, 2, 4, 8},
              .n_threads = 4,
              .contention_runs = 2000};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    char err[512];
    store *s = store_open(o.db, NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_store: cannot open %s: %s\n", o.db, err);
        return 1;
    }
    store_conn *c = store_connect(s);
    if (!c) die("store_connect: out of memory", NULL);

    /* Bytes that do not compress (a generator's output), written for every result. */
    size_t big = o.large_bytes > o.small_bytes ? o.large_bytes : o.small_bytes;
    unsigned char *data = malloc(big);
    if (!data) die("out of memory", NULL);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < big; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (unsigned char)(x >> 24);
    }

    store_model m;
    static const char hash[] = "0000000000000000000000000000000000000000000000000000000000000000";
    if (store_model_create(c, "bench-store", hash, 2, "{\"bench\":true}", NULL, &m) != STORE_OK)
        die("store_model_create", c);

    figures fg;
    memset(&fg, 0, sizeof fg);
    double t0 = now_s();
    create_runs(c, m.id, o.runs, &fg.create);
    for (long i = 0; i < o.runs; i++) {
        store_run r;
        claim_one(c, &r, &fg.claim);
        store_run_clear(&r);
    }
    for (long i = 0; i < o.runs; i++) {
        store_run r;
        double t1 = now_s();
        store_status st = store_run_claim(c, &r);
        double t2 = now_s();
        if (st != STORE_NOT_FOUND) die("store_run_claim on an empty queue", c);
        add(&fg.claim_empty, t2 - t1);
    }
    commits(c, m.id, o.small, o.small_bytes, data, &fg.small_total, &fg.small_commit);
    commits(c, m.id, o.large, o.large_bytes, data, &fg.large_total, &fg.large_commit);
    for (int i = 0; i < o.n_threads; i++)
        fg.rates[i] = contention_rate(s, c, m.id, o.threads[i], o.contention_runs);
    fg.secs = now_s() - t0;

    report(&o, s->ops->name, &fg);
    store_model_clear(&m);
    free(data);
    store_disconnect(c);
    store_close(s);
    return 0;
}
