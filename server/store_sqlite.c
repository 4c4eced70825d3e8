/**
 * @file store_sqlite.c
 * @brief SQLite backend of store.h.
 *
 * Durability (docs/STORE.md): the database runs in WAL mode. Connections commit with PRAGMA
 * synchronous=NORMAL, which appends the transaction to the WAL without an fsync, and a commit
 * that must survive a power loss (a run accepted with 202 Accepted, a finish, a cancel, ...)
 * then waits for a *group sync* (::sq_gsync): one fdatasync of the WAL, made by the first
 * waiter after the writer lock is released, covers every commit appended before it started.
 * That is what synchronous=FULL promises (the commit is on stable storage before the call
 * returns) at one fsync per group of concurrent commits instead of one per commit, and without
 * holding the write lock during the fsync. Claims and progress updates do not wait: losing one
 * of them in a power cut merely leaves the run queued (it runs again) or shows older progress.
 *
 * One ::sq_conn per thread; its sqlite3 handle is opened lazily (SQLITE_OPEN_NOMUTEX: the
 * connection is never shared) and every statement is prepared once per connection, on first
 * use, and reused with bound parameters. No SQL is ever built from caller text. Multi-statement
 * writes run in BEGIN IMMEDIATE transactions, so they take the write lock before reading and
 * cannot deadlock on a lock upgrade; single-statement writes run in autocommit, which SQLite
 * treats the same way (the statement takes the write lock before it reads). Every write also
 * takes the store's first-come first-served writer lock (::sq_wlock) first.
 *
 * Finishing a run writes its results and final status in one transaction, except that a large
 * result's chunks are committed every ::store_config::batch_bytes as staged rows
 * (results.complete = 0) that no reader sees; the final transaction publishes them
 * (complete = 1) together with the status. Between batches the writer lock goes to whoever
 * waits, so a multi-gigabyte result does not stall the API for its whole write.
 */
#define _GNU_SOURCE
#include "store_sqlite.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "sha256.h"
#include "store_migrations.h"

/** Largest chunk size accepted in ::store_config (SQLite's default BLOB limit is 1e9 bytes). */
#define SQ_CHUNK_MAX ((size_t)64 << 20)
/** WAL file size kept after a checkpoint (a large finish grows it; this shrinks it back). */
#define SQ_JOURNAL_SIZE_LIMIT 67108864
/** WAL size (frames) from which a committer checkpoints, after its commit (SQLite's default). */
#define SQ_CHECKPOINT_FRAMES 1000
/** Longest idempotency key accepted. */
#define SQ_KEY_MAX 255

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** Columns of a run row, in the order row_to_run() reads them. */
#define RUN_COLS                                                                                   \
    "id, model_id, status, priority, attempts, max_attempts, cancel_requested, seq, "              \
    "created_at, started_at, finished_at, progress_done, progress_total, time_limit, "             \
    "error_json, meta_json, idempotency_key"
#define RUN_NCOLS 17 /* request_json, when selected, comes right after */

#define RESULT_COLS "var, dtype, shape, total_bytes, chunk_size, chunk_count, sha256"

enum stmt_id {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_MODEL_INSERT,
    ST_MODEL_GET,
    ST_MODEL_LIST,
    ST_MODEL_EXISTS,
    ST_MODEL_RUNS,
    ST_MODEL_DELETE,
    ST_MODEL_COUNT,
    ST_RUN_BY_KEY,
    ST_RUN_INSERT,
    ST_RUN_GET,
    ST_RUN_STATUS,
    ST_RUN_LIST_ALL,
    ST_RUN_LIST_STATUS,
    ST_RUN_LIST_MODEL,
    ST_RUN_LIST_BOTH,
    ST_RUN_CLAIM,
    ST_RUN_PROGRESS,
    ST_RUN_CANCEL,
    ST_RUN_RELEASE,
    ST_RUN_DELETE,
    ST_RUN_FINISH,
    ST_QUEUE_DEPTH,
    ST_COUNTS,
    ST_RESULT_INSERT,
    ST_RESULT_DROP_STAGED,
    ST_RESULT_PUBLISH,
    ST_RESULT_END,
    ST_CHUNK_INSERT,
    ST_RESULT_INFO,
    ST_RESULT_LIST,
    ST_CHUNK_READ,
    ST_RESULT_GEOMETRY,
    ST_REQUEUE_CANCEL,
    ST_REQUEUE_FAIL,
    ST_REQUEUE_QUEUE,
    ST_REQUEUE_STAGED,
    ST_QUICK_CHECK,
    ST_FK_CHECK,
    ST_VERIFY_RESULTS,
    ST_VERIFY_CHUNKS,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_MODEL_INSERT] = "INSERT INTO models (id, name, hash, n, created_at, json) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_MODEL_GET] = "SELECT id, name, hash, n, created_at, json FROM models WHERE id = ?1",
    [ST_MODEL_LIST] = "SELECT id, name, hash, n, created_at, seq FROM models "
                      "WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
    [ST_MODEL_EXISTS] = "SELECT 1 FROM models WHERE id = ?1",
    [ST_MODEL_RUNS] = "SELECT count(*) FROM runs WHERE model_id = ?1",
    [ST_MODEL_DELETE] = "DELETE FROM models WHERE id = ?1",
    [ST_MODEL_COUNT] = "SELECT count(*) FROM models",
    [ST_RUN_BY_KEY] = "SELECT id, body_hash FROM runs WHERE idempotency_key = ?1",
    [ST_RUN_INSERT] = "INSERT INTO runs (id, model_id, status, priority, max_attempts, "
                      "created_at, progress_total, time_limit, request_json, idempotency_key, "
                      "body_hash) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
    [ST_RUN_STATUS] = "SELECT status FROM runs WHERE id = ?1",
    [ST_RUN_LIST_ALL] = "SELECT " RUN_COLS " FROM runs WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_STATUS] = "SELECT " RUN_COLS " FROM runs WHERE status = ?3 AND seq < ?1 "
                           "ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_MODEL] = "SELECT " RUN_COLS " FROM runs WHERE model_id = ?3 AND seq < ?1 "
                          "ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_BOTH] = "SELECT " RUN_COLS " FROM runs WHERE model_id = ?4 AND status = ?3 "
                         "AND seq < ?1 ORDER BY seq DESC LIMIT ?2",
    /* The claim: one statement, so two workers can never take the same run. */
    [ST_RUN_CLAIM] =
        "UPDATE runs SET status = 'running', attempts = attempts + 1, "
        "started_at = ?1, finished_at = NULL, progress_done = 0 "
        "WHERE seq = (SELECT seq FROM runs INDEXED BY runs_queue WHERE status = 'queued' "
        "ORDER BY priority DESC, seq LIMIT 1) RETURNING " RUN_COLS ", request_json",
    [ST_RUN_PROGRESS] = "UPDATE runs SET progress_done = ?2, progress_total = "
                        "CASE WHEN ?3 > 0 THEN ?3 ELSE progress_total END "
                        "WHERE id = ?1 AND status = 'running' RETURNING cancel_requested",
    [ST_RUN_CANCEL] = "UPDATE runs SET "
                      "status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END, "
                      "finished_at = CASE status WHEN 'queued' THEN ?2 ELSE finished_at END, "
                      "cancel_requested = CASE status WHEN 'running' THEN 1 "
                      "ELSE cancel_requested END "
                      "WHERE id = ?1 AND status IN ('queued', 'running') RETURNING status",
    [ST_RUN_RELEASE] = "UPDATE runs SET "
                       "status = CASE cancel_requested WHEN 1 THEN 'cancelled' ELSE 'queued' END, "
                       "attempts = CASE WHEN cancel_requested = 0 AND attempts > 0 "
                       "THEN attempts - 1 ELSE attempts END, "
                       "started_at = CASE cancel_requested WHEN 1 THEN started_at END, "
                       "finished_at = CASE cancel_requested WHEN 1 THEN ?2 END, "
                       "progress_done = CASE cancel_requested WHEN 1 THEN progress_done ELSE 0 "
                       "END WHERE id = ?1 AND status = 'running' RETURNING status",
    [ST_RUN_DELETE] = "DELETE FROM runs WHERE id = ?1 AND "
                      "status IN ('succeeded', 'failed', 'diverged', 'cancelled')",
    [ST_RUN_FINISH] = "UPDATE runs SET status = ?2, finished_at = ?3, meta_json = ?4, "
                      "error_json = ?5, progress_done = CASE WHEN ?2 = 'succeeded' AND "
                      "progress_total > 0 THEN progress_total ELSE progress_done END "
                      "WHERE id = ?1 AND status = 'running'",
    [ST_QUEUE_DEPTH] = "SELECT count(*) FROM runs WHERE status = 'queued'",
    [ST_COUNTS] = "SELECT status, count(*) FROM runs GROUP BY status",
    [ST_RESULT_INSERT] = "INSERT INTO results (run_id, var, dtype, shape, total_bytes, "
                         "chunk_size, chunk_count, sha256) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, '')",
    [ST_RESULT_DROP_STAGED] = "DELETE FROM results WHERE run_id = ?1 AND complete = 0",
    [ST_RESULT_PUBLISH] = "UPDATE results SET complete = 1 WHERE run_id = ?1",
    [ST_RESULT_END] = "UPDATE results SET chunk_count = ?3, sha256 = ?4 "
                      "WHERE run_id = ?1 AND var = ?2",
    [ST_CHUNK_INSERT] = "INSERT INTO result_chunks (run_id, var, chunk_index, data) "
                        "VALUES (?1, ?2, ?3, ?4)",
    /* readers see complete results only: those whose run's finish committed */
    [ST_RESULT_INFO] = "SELECT " RESULT_COLS " FROM results "
                       "WHERE run_id = ?1 AND var = ?2 AND complete = 1",
    [ST_RESULT_LIST] = "SELECT " RESULT_COLS " FROM results WHERE run_id = ?1 AND complete = 1 "
                       "ORDER BY var",
    /* rowid and size only (length() of a BLOB does not load it): the bytes are copied with
     * incremental BLOB I/O straight into the caller's buffer */
    [ST_CHUNK_READ] = "SELECT rowid, length(data) FROM result_chunks "
                      "WHERE run_id = ?1 AND var = ?2 AND chunk_index = ?3 AND EXISTS "
                      "(SELECT 1 FROM results WHERE run_id = ?1 AND var = ?2 AND complete = 1)",
    [ST_RESULT_GEOMETRY] = "SELECT chunk_size, total_bytes FROM results "
                           "WHERE run_id = ?1 AND var = ?2 AND complete = 1",
    [ST_REQUEUE_CANCEL] = "UPDATE runs SET status = 'cancelled', finished_at = ?1 "
                          "WHERE status = 'running' AND cancel_requested = 1",
    [ST_REQUEUE_FAIL] =
        "UPDATE runs SET status = 'failed', finished_at = ?1, error_json = json_object("
        "'title', 'attempt limit reached', 'detail', printf('the run was interrupted by a "
        "restart of the daemon on each of its %d attempts (max_attempts %d) and is not retried',"
        " attempts, max_attempts), 'attempts', attempts, 'max_attempts', max_attempts) "
        "WHERE status = 'running' AND attempts >= max_attempts",
    [ST_REQUEUE_QUEUE] = "UPDATE runs SET status = 'queued', started_at = NULL, "
                         "progress_done = 0 WHERE status = 'running'",
    [ST_REQUEUE_STAGED] = "DELETE FROM results WHERE complete = 0",
    [ST_QUICK_CHECK] = "PRAGMA quick_check",
    [ST_FK_CHECK] = "PRAGMA foreign_key_check",
    [ST_VERIFY_RESULTS] = "SELECT run_id, var, total_bytes, chunk_size, chunk_count, sha256 "
                          "FROM results WHERE complete = 1 ORDER BY run_id, var",
    [ST_VERIFY_CHUNKS] = "SELECT chunk_index, data FROM result_chunks "
                         "WHERE run_id = ?1 AND var = ?2 ORDER BY chunk_index",
};

/* ------------------------------------------------------------------------------------------ */
/* Store and connection objects                                                               */
/* ------------------------------------------------------------------------------------------ */

/** A waiting writer in ::sq_wlock's queue (lives on the waiter's stack). */
struct sq_waiter {
    struct sq_waiter *next;
};

/**
 * First-come first-served writer lock shared by the connections of one store. SQLite lets one
 * writer in at a time but has no queue: waiters poll with sleeps of up to 100 ms, so a writer
 * that commits and starts again at once (a finish writing batches) would keep the lock, and
 * contended writers would sleep needlessly. Taking this lock around every write transaction
 * gives threads of this process their turn in order and wakes them as soon as it is free;
 * SQLite's busy timeout still arbitrates with other processes.
 */
struct sq_wlock {
    pthread_mutex_t mu;
    pthread_cond_t cv; /**< on CLOCK_MONOTONIC */
    int held;
    struct sq_waiter *head, *tail;
};

/**
 * Group sync of the WAL. Durable commits take a ticket, in commit order, while they still hold
 * the writer lock; after releasing it they wait until ::synced reaches their ticket. A waiter
 * that finds no sync in progress becomes the syncer: it notes the last ticket handed out, syncs
 * the WAL through its own connection (SQLITE_FCNTL_JOURNAL_POINTER: the connection's WAL file,
 * the same inode as everyone's) and, on success, marks every ticket up to the noted one
 * synced. Commits appended while a sync runs are covered by the next one, so under load one
 * fsync serves many commits, and the writer lock is never held across an fsync.
 */
struct sq_gsync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t appended; /**< tickets handed out (durable commits appended to the WAL) */
    uint64_t synced;   /**< every ticket <= synced is on stable storage */
    uint64_t syncs;    /**< WAL syncs done (statistics) */
    int busy;          /**< a thread is syncing the WAL now */
    int checkpointing; /**< a thread is checkpointing now (see maybe_checkpoint()) */
};

struct sq_store {
    struct store base; /**< base.cls points back here */
    char *path;
    store_config cfg;
    struct sq_wlock wl;
    struct sq_gsync gs;
    atomic_llong lock_seen_ms; /**< when a lock wait last gave up (monotonic ms), 0 = never */
};

/** State of a finish in progress (finish_begin .. finish_commit/abort). */
struct sq_writer {
    int active;       /**< the finish transaction is open */
    int in_result;    /**< between result_begin and result_end */
    int failed;       /**< the last finish was rolled back after a failure */
    int staged;       /**< a batch of this finish was committed (staged, complete = 0) */
    size_t batch_len; /**< chunk bytes written since the last commit */
    char run_id[STORE_ID_MAX];
    char var[STORE_VAR_MAX];
    uint64_t expect;  /**< bytes the shape holds */
    uint64_t written; /**< bytes appended so far */
    int64_t chunk_index;
    unsigned char *buf; /**< partial chunk, chunk_size bytes, allocated on first need */
    size_t buf_len;
    eir_sha256_ctx sha;
};

struct sq_conn {
    struct store_conn base; /**< must stay first */
    struct sq_store *st;
    sqlite3 *db;            /**< NULL until first use, or after a fatal error */
    int broken;             /**< a fatal error happened: reopen before the next operation */
    int wlocked;            /**< this connection holds the store's writer lock */
    int wal_frames;         /**< WAL size after this connection's last commit (on_wal_commit()) */
    sqlite3 *rdb;           /**< handle for sq_result_read() only; NULL until first use */
    sqlite3_stmt *rstmt[2]; /**< rdb's ST_RESULT_GEOMETRY and ST_CHUNK_READ */
    sqlite3_stmt *stmt[ST_COUNT];
    struct sq_writer w;
    double busy_until; /**< end of the SQLite lock wait in progress (busy_wait()) */
};

static const struct store_ops sq_ops;
static store_status sq_run_release_locked(store_conn *c, const char *id, store_run_status *now);
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames);

static struct sq_conn *SQ(store_conn *c)
{
    return (struct sq_conn *)c;
}

static void set_err(struct sq_conn *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct sq_conn *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->base.errmsg, sizeof sc->base.errmsg, fmt, ap);
    va_end(ap);
}

static store_status fail(struct sq_conn *sc, store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static store_status fail(struct sq_conn *sc, store_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->base.errmsg, sizeof sc->base.errmsg, fmt, ap);
    va_end(ap);
    return st;
}

/** Map an SQLite result code to a store status, with @p what and the message of handle @p db.
 *  Fatal errors (I/O, corruption) mark the connection for reopening. */
static store_status fail_rc_on(struct sq_conn *sc, sqlite3 *db, int rc, const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    set_err(sc, "%s: %s (SQLite code %d)", what, msg, rc);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return STORE_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_CONFLICT;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
        sc->broken = 1;
        return STORE_ERROR;
    default:
        return STORE_ERROR;
    }
}

/** fail_rc_on() with the connection's own handle. */
static store_status fail_rc(struct sq_conn *sc, int rc, const char *what)
{
    return fail_rc_on(sc, sc->db, rc, what);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** Fresh id: @p prefix ("m_" or "r_") + 24 hex characters from getrandom(). */
static int new_id(char out[STORE_ID_MAX], const char *prefix)
{
    unsigned char rnd[12];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    size_t p = (size_t)snprintf(out, STORE_ID_MAX, "%s", prefix);
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[p++] = hex[rnd[i] >> 4];
        out[p++] = hex[rnd[i] & 15];
    }
    out[p] = '\0';
    return 0;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return 0;
    return 1;
}

static int is_var_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= STORE_VAR_MAX) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_'))
            return 0;
    return 1;
}

/** Bytes per element of a dtype the store accepts, or 0. */
static unsigned dtype_size(const char *dtype)
{
    static const struct {
        const char *name;
        unsigned size;
    } known[] = {{"float32", 4}, {"float64", 8}, {"int32", 4}, {"int64", 8}, {"uint8", 1}};
    if (!dtype) return 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(dtype, known[i].name) == 0) return known[i].size;
    return 0;
}

static void copy_str(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Cursors are opaque to clients: "c1." + the hex seq of the last row of the page. */
static void cursor_encode(char out[STORE_CURSOR_MAX], int64_t seq)
{
    snprintf(out, STORE_CURSOR_MAX, "c1.%" PRIx64, (uint64_t)seq);
}

/** *seq gets the bound for "seq < ?": INT64_MAX for the first page. */
static int cursor_decode(const char *cursor, int64_t *seq)
{
    *seq = INT64_MAX;
    if (!cursor || !*cursor) return 0;
    if (strncmp(cursor, "c1.", 3) != 0) return -1;
    const char *p = cursor + 3;
    size_t n = strlen(p);
    if (n == 0 || n > 15) return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    if (v == 0) return -1;
    *seq = (int64_t)v;
    return 0;
}

static int clamp_limit(int limit)
{
    if (limit <= 0) return STORE_LIST_DEFAULT;
    return limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

/* ------------------------------------------------------------------------------------------ */
/* Connection management                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int wl_init(struct sq_wlock *wl)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&wl->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) return -1;
    if (pthread_mutex_init(&wl->mu, NULL)) {
        pthread_cond_destroy(&wl->cv);
        return -1;
    }
    wl->held = 0;
    wl->head = wl->tail = NULL;
    return 0;
}

static void wl_destroy(struct sq_wlock *wl)
{
    pthread_mutex_destroy(&wl->mu);
    pthread_cond_destroy(&wl->cv);
}

/** Seconds on the monotonic clock. */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/** When a lock wait starting at @p now must give up: after the busy timeout, or at the
 *  connection's deadline (store_set_deadline()) if that comes first. */
static double wait_limit(struct sq_conn *sc, double now)
{
    double limit = now + sc->st->cfg.busy_timeout_ms / 1000.0;
    return sc->base.deadline > 0 && sc->base.deadline < limit ? sc->base.deadline : limit;
}

/** How long a lock that was found held lately is waited for. */
#define SQ_LOCK_PROBE 0.1

/**
 * SQLite's busy handler (sqlite3_busy_timeout() knows no deadline): sleep and retry, with
 * SQLite's own delays, until the wait_limit() of the wait's first call. The writer lock of this
 * process is held during such a wait, so the database lock is another process's. Once a wait
 * gave up on it, the waits of the next busy timeout only probe it (a failed probe extends that):
 * otherwise every writer would hold the writer lock for a whole busy timeout, one after the
 * other, and the requests queued behind them (and behind them on their HTTP thread) would wait
 * many busy timeouts for their 503.
 */
static int busy_wait(void *arg, int count)
{
    static const int delay_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    struct sq_conn *sc = arg;
    double now = mono_now();
    if (count == 0) {
        sc->busy_until = wait_limit(sc, now);
        double seen = (double)atomic_load(&sc->st->lock_seen_ms) / 1e3;
        if (seen > 0 && now - seen < sc->st->cfg.busy_timeout_ms / 1e3 &&
            now + SQ_LOCK_PROBE < sc->busy_until)
            sc->busy_until = now + SQ_LOCK_PROBE;
    }
    if (now >= sc->busy_until) {
        atomic_store(&sc->st->lock_seen_ms, (long long)(now * 1e3));
        return 0;
    }
    double d = delay_ms[count < 12 ? count : 11] / 1000.0;
    if (now + d > sc->busy_until) d = sc->busy_until - now;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
    return 1;
}

/**
 * Take the writer lock for this connection unless it already holds it (*acquired tells which,
 * so that only the taker releases). Waits in line for at most the busy timeout (or until the
 * connection's deadline).
 */
static store_status wlock(struct sq_conn *sc, int *acquired)
{
    struct sq_wlock *wl = &sc->st->wl;
    if (acquired) *acquired = 0;
    if (sc->wlocked) return STORE_OK;
    pthread_mutex_lock(&wl->mu);
    if (!wl->held && !wl->head) {
        wl->held = 1;
    } else {
        struct sq_waiter me = {NULL};
        if (wl->tail)
            wl->tail->next = &me;
        else
            wl->head = &me;
        wl->tail = &me;
        double limit = wait_limit(sc, mono_now());
        struct timespec until = {(time_t)limit, (long)((limit - (double)(time_t)limit) * 1e9)};
        while (wl->held || wl->head != &me) {
            if (pthread_cond_timedwait(&wl->cv, &wl->mu, &until) == ETIMEDOUT &&
                (wl->held || wl->head != &me)) {
                struct sq_waiter **pp = &wl->head, *prev = NULL;
                while (*pp != &me) {
                    prev = *pp;
                    pp = &(*pp)->next;
                }
                *pp = me.next;
                if (wl->tail == &me) wl->tail = prev;
                pthread_cond_broadcast(&wl->cv); /* the next in line may be free to go now */
                pthread_mutex_unlock(&wl->mu);
                return fail(sc, STORE_BUSY, "the database stayed busy with other writers for %d ms",
                            sc->st->cfg.busy_timeout_ms);
            }
        }
        wl->head = me.next;
        if (!wl->head) wl->tail = NULL;
        wl->held = 1;
    }
    pthread_mutex_unlock(&wl->mu);
    sc->wlocked = 1;
    if (acquired) *acquired = 1;
    return STORE_OK;
}

/** Release the writer lock if this connection holds it; the next in line goes. */
static void wunlock(struct sq_conn *sc)
{
    if (!sc->wlocked) return;
    struct sq_wlock *wl = &sc->st->wl;
    pthread_mutex_lock(&wl->mu);
    wl->held = 0;
    if (wl->head) pthread_cond_broadcast(&wl->cv);
    pthread_mutex_unlock(&wl->mu);
    sc->wlocked = 0;
}

static void writer_reset(struct sq_writer *w)
{
    w->active = 0;
    w->in_result = 0;
    w->staged = 0;
    w->batch_len = 0;
    w->buf_len = 0;
    w->run_id[0] = '\0';
    w->var[0] = '\0';
}

static void close_db(struct sq_conn *sc)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(sc->stmt[i]);
        sc->stmt[i] = NULL;
    }
    if (sc->db) sqlite3_close_v2(sc->db);
    sc->db = NULL;
    for (int i = 0; i < 2; i++) {
        sqlite3_finalize(sc->rstmt[i]);
        sc->rstmt[i] = NULL;
    }
    if (sc->rdb) sqlite3_close_v2(sc->rdb);
    sc->rdb = NULL;
    sc->broken = 0;
    writer_reset(&sc->w); /* the writer lock is kept: a caller may hold it across a reopen */
}

/** Run a few fixed PRAGMAs/statements on a raw handle; returns an SQLite code. */
static int exec_fixed(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/**
 * Open a per-thread SQLite handle with this connection's settings into *@p out: the
 * connection's handle, or with @p reader its handle for result reads (sq_result_read()), which
 * never writes and gets a page cache of 8 MiB instead of SQLite's 2 MB.
 */
static store_status open_db(struct sq_conn *sc, sqlite3 **out, int reader)
{
    const store_config *cfg = &sc->st->cfg;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(sc->st->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(sc, "cannot open database %s: %s", sc->st->path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_handler(db, busy_wait, sc);
    if (!reader) sqlite3_wal_hook(db, on_wal_commit, sc); /* checkpoints outside the writer lock */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; "
             "PRAGMA journal_size_limit = %d; PRAGMA mmap_size = %" PRId64 ";",
             SQ_JOURNAL_SIZE_LIMIT, cfg->mmap_size);
    rc = exec_fixed(db, pragmas);
    if (rc == SQLITE_OK && reader) rc = exec_fixed(db, "PRAGMA cache_size = -8192");
    if (rc != SQLITE_OK) {
        set_err(sc, "cannot set up database %s: %s", sc->st->path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }
    *out = db;
    if (!reader) sc->broken = 0;
    return STORE_OK;
}

/** Make the connection usable: reopen after a fatal error, open lazily. */
static store_status conn_ready(struct sq_conn *sc)
{
    if (sc->broken && !sc->w.active) close_db(sc);
    if (!sc->db) return open_db(sc, &sc->db, 0);
    return STORE_OK;
}

/** conn_ready() for every operation but the finish ones: refuses while a finish is open. */
static store_status conn_op(struct sq_conn *sc)
{
    if (sc->w.active)
        return fail(sc, STORE_INVALID,
                    "a finish of run %s is in progress on this connection; commit or abort it "
                    "first",
                    sc->w.run_id);
    return conn_ready(sc);
}

/**
 * Statement @p id on handle @p db, kept in *@p slot (prepared on first use).
 * @return it, or NULL with *st set (and the connection's message) when it cannot be prepared.
 */
static sqlite3_stmt *prepared(struct sq_conn *sc, sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id,
                              store_status *st)
{
    if (!*slot) {
        int rc = sqlite3_prepare_v3(db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            *st = fail_rc_on(sc, db, rc, "cannot prepare a statement");
            return NULL;
        }
    }
    return *slot;
}

/** The prepared statement @p id (prepared on first use); NULL with *st set on failure. */
static sqlite3_stmt *stmt(struct sq_conn *sc, enum stmt_id id, store_status *st)
{
    if (!sc->db) {
        *st = fail(sc, STORE_ERROR, "not connected to the database");
        return NULL;
    }
    return prepared(sc, sc->db, &sc->stmt[id], id, st);
}

static void done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (i > sqlite3_bind_parameter_count(s)) return SQLITE_OK;
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static int bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
    if (i > sqlite3_bind_parameter_count(s)) return SQLITE_OK;
    return sqlite3_bind_int64(s, i, v);
}

/** Step @p s to the end, ignoring rows; resets it. */
static store_status run_stmt(struct sq_conn *sc, sqlite3_stmt *s, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    store_status st = rc == SQLITE_DONE ? STORE_OK : fail_rc(sc, rc, what);
    done(s);
    return st;
}

/** Run the fixed statement @p id (no parameters). */
static store_status run_fixed(struct sq_conn *sc, enum stmt_id id, const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = stmt(sc, id, &st);
    return s ? run_stmt(sc, s, what) : st;
}

static int gs_init(struct sq_gsync *g)
{
    memset(g, 0, sizeof *g);
    if (pthread_mutex_init(&g->mu, NULL)) return -1;
    if (pthread_cond_init(&g->cv, NULL)) {
        pthread_mutex_destroy(&g->mu);
        return -1;
    }
    return 0;
}

static void gs_destroy(struct sq_gsync *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/** Ticket of the commit just made on @p sc; call while still holding the writer lock. */
static uint64_t gs_ticket(struct sq_conn *sc)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    uint64_t t = ++g->appended;
    pthread_mutex_unlock(&g->mu);
    return t;
}

/** fdatasync the WAL through this connection's own handle of it. Returns an SQLite code. */
static int wal_sync(struct sq_conn *sc)
{
    sqlite3_file *f = NULL;
    int rc = sc->db ? sqlite3_file_control(sc->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f)
                    : SQLITE_MISUSE;
    if (rc != SQLITE_OK) return rc;
    if (!f || !f->pMethods) return SQLITE_CANTOPEN; /* no WAL open: cannot happen after a commit */
    return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/**
 * Wait until every commit with a ticket <= @p ticket is on stable storage, syncing the WAL
 * ourselves when nobody else is. ::STORE_ERROR when the sync fails: the change was committed
 * (readers may see it) but may not survive a power loss.
 */
static store_status gs_wait(struct sq_conn *sc, uint64_t ticket)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    while (g->synced < ticket) {
        if (g->busy) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        g->busy = 1;
        uint64_t target = g->appended;
        pthread_mutex_unlock(&g->mu);
        int rc = wal_sync(sc);
        pthread_mutex_lock(&g->mu);
        g->busy = 0;
        g->syncs++;
        if (rc == SQLITE_OK && target > g->synced) g->synced = target;
        pthread_cond_broadcast(&g->cv);
        if (rc != SQLITE_OK) {
            pthread_mutex_unlock(&g->mu);
            return fail(sc, STORE_ERROR,
                        "the change was committed but the database could not be synced to disk: "
                        "%s (SQLite code %d)",
                        sqlite3_errstr(rc), rc);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return STORE_OK;
}

/**
 * WAL hook: note the WAL's size after each commit of this connection. It replaces SQLite's
 * automatic checkpoint, which would run inside COMMIT, i.e. while the writer lock is held and
 * every other writer waits for its page copies and fsyncs; maybe_checkpoint() does it after the
 * lock is released instead.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((struct sq_conn *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/**
 * Once the WAL holds ::SQ_CHECKPOINT_FRAMES frames, copy them into the database (a PASSIVE
 * checkpoint: it takes no write lock and waits for nobody, so writers carry on meanwhile). Call
 * after a commit, without the writer lock. One thread checkpoints at a time; failures are left
 * to the next attempt.
 */
static void maybe_checkpoint(struct sq_conn *sc)
{
    if (sc->wal_frames < SQ_CHECKPOINT_FRAMES || !sc->db || sc->wlocked) return;
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    int mine = !g->checkpointing;
    g->checkpointing = 1;
    pthread_mutex_unlock(&g->mu);
    if (!mine) return;
    sc->wal_frames = 0;
    /* The bulk of the copy, while writers go on appending; then the frames they appended, under
     * the writer lock (a short pass): a WAL copied up to its end is restarted by the next writer
     * instead of growing while writes never stop. */
    sqlite3_wal_checkpoint_v2(sc->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    int acquired = 0;
    if (wlock(sc, &acquired) == STORE_OK) {
        sqlite3_wal_checkpoint_v2(sc->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (acquired) wunlock(sc);
    }
    sc->base.errmsg[0] = '\0'; /* a lock timeout here is no failure of the caller's operation */
    pthread_mutex_lock(&g->mu);
    g->checkpointing = 0;
    pthread_mutex_unlock(&g->mu);
}

/** Wait until every durable commit appended so far is synced (for answers that acknowledge
 *  a state some other thread committed, e.g. an idempotent replay). Free when none is pending. */
static store_status gs_wait_all(struct sq_conn *sc)
{
    struct sq_gsync *g = &sc->st->gs;
    pthread_mutex_lock(&g->mu);
    uint64_t t = g->appended;
    pthread_mutex_unlock(&g->mu);
    return gs_wait(sc, t);
}

/** End the transaction, if any, without keeping it; releases the writer lock. */
static void tx_rollback(struct sq_conn *sc)
{
    /* no transaction, or SQLite already rolled it back (e.g. after SQLITE_FULL) */
    if (sc->db && !sqlite3_get_autocommit(sc->db)) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, sc->base.errmsg, sizeof keep);
        if (run_fixed(sc, ST_ROLLBACK, "rollback") != STORE_OK)
            sc->broken = 1; /* cannot tell the state: start afresh */
        memcpy(sc->base.errmsg, keep, sizeof keep);
    }
    wunlock(sc);
}

/** BEGIN IMMEDIATE under the writer lock. */
static store_status tx_begin(struct sq_conn *sc)
{
    store_status st = wlock(sc, NULL);
    if (st == STORE_OK) st = run_fixed(sc, ST_BEGIN, "cannot start a write transaction");
    if (st != STORE_OK) tx_rollback(sc);
    return st;
}

/**
 * COMMIT (rolling back if that fails) and release the writer lock; with @p durable, then wait
 * until the commit is on stable storage (group sync, see ::sq_gsync).
 */
static store_status tx_commit(struct sq_conn *sc, int durable)
{
    store_status st = run_fixed(sc, ST_COMMIT, "cannot commit");
    uint64_t ticket = st == STORE_OK && durable ? gs_ticket(sc) : 0;
    tx_rollback(sc);
    if (ticket) st = gs_wait(sc, ticket);
    if (st == STORE_OK) maybe_checkpoint(sc);
    return st;
}

/** Roll back (if in a transaction) and pass @p st through. */
static store_status tx_fail(struct sq_conn *sc, store_status st)
{
    tx_rollback(sc);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Row decoding                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** Column @p i as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
static int dup_col(sqlite3_stmt *s, int i, char **out)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    *out = NULL;
    if (!t) return 0;
    *out = strdup((const char *)t);
    return *out ? 0 : -1;
}

/**
 * Fill @p r from a row of RUN_COLS (+ request_json when @p with_request). With @p copy the
 * strings are malloc'ed (store_run_clear() frees them); without, they point into the
 * statement's row. Returns -1 when out of memory (then *r holds nothing to free).
 */
static int row_to_run(sqlite3_stmt *s, int with_request, int copy, store_run *r)
{
    memset(r, 0, sizeof *r);
    copy_str(r->id, sizeof r->id, sqlite3_column_text(s, 0));
    copy_str(r->model_id, sizeof r->model_id, sqlite3_column_text(s, 1));
    int status = store_run_status_parse((const char *)sqlite3_column_text(s, 2));
    r->status = status < 0 ? STORE_RUN_FAILED : (store_run_status)status;
    r->priority = sqlite3_column_int(s, 3);
    r->attempts = sqlite3_column_int(s, 4);
    r->max_attempts = sqlite3_column_int(s, 5);
    r->cancel_requested = sqlite3_column_int(s, 6);
    r->seq = sqlite3_column_int64(s, 7);
    r->created_at = sqlite3_column_int64(s, 8);
    r->started_at = sqlite3_column_int64(s, 9);
    r->finished_at = sqlite3_column_int64(s, 10);
    r->progress_done = sqlite3_column_int64(s, 11);
    r->progress_total = sqlite3_column_int64(s, 12);
    r->time_limit = sqlite3_column_double(s, 13);
    if (!copy) {
        r->error_json = (char *)sqlite3_column_text(s, 14);
        r->meta_json = (char *)sqlite3_column_text(s, 15);
        r->idempotency_key = (char *)sqlite3_column_text(s, 16);
        if (with_request) r->request_json = (char *)sqlite3_column_text(s, RUN_NCOLS);
        return 0;
    }
    if (dup_col(s, 14, &r->error_json) || dup_col(s, 15, &r->meta_json) ||
        dup_col(s, 16, &r->idempotency_key) ||
        (with_request && dup_col(s, RUN_NCOLS, &r->request_json))) {
        store_run_clear(r);
        return -1;
    }
    return 0;
}

/** Parse a shape written by result_begin ("[2,3]"); -1 when malformed. */
static int parse_shape(const char *text, int *ndim, int64_t shape[STORE_MAX_NDIM])
{
    *ndim = 0;
    if (!text || *text != '[') return -1;
    const char *p = text + 1;
    if (*p == ']') return p[1] == '\0' ? 0 : -1;
    for (;;) {
        if (*ndim >= STORE_MAX_NDIM) return -1;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0) return -1;
        shape[(*ndim)++] = v;
        p = end;
        if (*p == ']') return p[1] == '\0' ? 0 : -1;
        if (*p != ',') return -1;
        p++;
    }
}

/** Fill @p out from a row of RESULT_COLS; -1 when the row is malformed. */
static int row_to_result(sqlite3_stmt *s, store_result_info *out)
{
    memset(out, 0, sizeof *out);
    copy_str(out->var, sizeof out->var, sqlite3_column_text(s, 0));
    copy_str(out->dtype, sizeof out->dtype, sqlite3_column_text(s, 1));
    if (parse_shape((const char *)sqlite3_column_text(s, 2), &out->ndim, out->shape)) return -1;
    out->total_bytes = (uint64_t)sqlite3_column_int64(s, 3);
    out->chunk_size = (uint64_t)sqlite3_column_int64(s, 4);
    out->chunk_count = sqlite3_column_int64(s, 5);
    copy_str(out->sha256, sizeof out->sha256, sqlite3_column_text(s, 6));
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static store_status sq_model_create_locked(store_conn *c, const char *name, const char *hash,
                                           int64_t n, const char *json, store_model *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!is_hex64(hash))
        return fail(sc, STORE_INVALID, "model hash must be 64 hex characters (SHA-256)");
    if (!json) return fail(sc, STORE_INVALID, "model document missing");
    if (n < 0) return fail(sc, STORE_INVALID, "model size N must be >= 0, not %" PRId64, n);
    sqlite3_stmt *s = stmt(sc, ST_MODEL_INSERT, &st);
    if (!s) return st;
    char id[STORE_ID_MAX];
    int64_t t = now_ms();
    for (int attempt = 0;; attempt++) {
        if (new_id(id, "m_"))
            return fail(sc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno));
        int rc = bind_text(s, 1, id) | bind_text(s, 2, name ? name : "") | bind_text(s, 3, hash) |
                 bind_i64(s, 4, n) | bind_i64(s, 5, t);
        int rcj = bind_text(s, 6, json);
        if (rc != SQLITE_OK || rcj != SQLITE_OK) {
            done(s);
            return fail(sc, rcj == SQLITE_TOOBIG ? STORE_INVALID : STORE_ERROR,
                        "cannot bind the model: %s", sqlite3_errstr(rcj ? rcj : rc));
        }
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) break;
        /* an id collision (2^-96 per pair) is retried; anything else fails */
        st = fail_rc(sc, rc, "cannot store the model");
        done(s);
        if (rc != SQLITE_CONSTRAINT_UNIQUE || attempt >= 2)
            return st == STORE_CONFLICT ? STORE_INVALID : st;
    }
    done(s);
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", id);
        snprintf(out->hash, sizeof out->hash, "%s", hash);
        out->n = n;
        out->created_at = t;
        out->name = strdup(name ? name : "");
        if (!out->name) return fail(sc, STORE_ERROR, "out of memory (the model %s was stored)", id);
    }
    return STORE_OK;
}

static store_status sq_model_get(store_conn *c, const char *id, store_model *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !out) return fail(sc, STORE_INVALID, "model id or output missing");
    sqlite3_stmt *s = stmt(sc, ST_MODEL_GET, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_str(out->id, sizeof out->id, sqlite3_column_text(s, 0));
        copy_str(out->hash, sizeof out->hash, sqlite3_column_text(s, 2));
        out->n = sqlite3_column_int64(s, 3);
        out->created_at = sqlite3_column_int64(s, 4);
        if (dup_col(s, 1, &out->name) || dup_col(s, 5, &out->json)) {
            store_model_clear(out);
            st = fail(sc, STORE_ERROR, "out of memory reading model %s", id);
        }
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "no model %s", id);
    } else {
        st = fail_rc(sc, rc, "cannot read the model");
    }
    done(s);
    return st;
}

static store_status sq_model_list(store_conn *c, const char *cursor, int limit, store_model_cb cb,
                                  void *ctx, char next[STORE_CURSOR_MAX])
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    int64_t after;
    if (cursor_decode(cursor, &after)) return fail(sc, STORE_INVALID, "malformed cursor");
    limit = clamp_limit(limit);
    sqlite3_stmt *s = stmt(sc, ST_MODEL_LIST, &st);
    if (!s) return st;
    bind_i64(s, 1, after);
    bind_i64(s, 2, (int64_t)limit + 1); /* one more row tells whether a next page exists */
    int rows = 0, rc;
    int64_t last_seq = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (rows == limit) {
            if (next) cursor_encode(next, last_seq);
            break;
        }
        rows++;
        last_seq = sqlite3_column_int64(s, 5);
        store_model m = {0};
        copy_str(m.id, sizeof m.id, sqlite3_column_text(s, 0));
        m.name = (char *)sqlite3_column_text(s, 1);
        copy_str(m.hash, sizeof m.hash, sqlite3_column_text(s, 2));
        m.n = sqlite3_column_int64(s, 3);
        m.created_at = sqlite3_column_int64(s, 4);
        if (cb && cb(ctx, &m)) { /* the caller stopped: the next page starts after this row */
            if (next) cursor_encode(next, last_seq);
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = fail_rc(sc, rc, "cannot list models");
        if (next) next[0] = '\0';
    }
    done(s);
    return st;
}

static store_status sq_model_delete(store_conn *c, const char *id, int64_t *runs_using)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return fail(sc, STORE_INVALID, "model id missing");
    if ((st = tx_begin(sc)) != STORE_OK) return st;
    sqlite3_stmt *s = stmt(sc, ST_MODEL_RUNS, &st);
    if (!s) return tx_fail(sc, st);
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    int64_t uses = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    if (rc != SQLITE_ROW) st = fail_rc(sc, rc, "cannot count the model's runs");
    done(s);
    if (st != STORE_OK) return tx_fail(sc, st);
    if (uses > 0) {
        if (runs_using) *runs_using = uses;
        return tx_fail(sc, fail(sc, STORE_CONFLICT,
                                "model %s is used by %" PRId64 " run(s); delete those runs first",
                                id, uses));
    }
    if (!(s = stmt(sc, ST_MODEL_DELETE, &st))) return tx_fail(sc, st);
    bind_text(s, 1, id);
    if ((st = run_stmt(sc, s, "cannot delete the model")) != STORE_OK) return tx_fail(sc, st);
    if (sqlite3_changes64(sc->db) == 0)
        return tx_fail(sc, fail(sc, STORE_NOT_FOUND, "no model %s", id));
    return tx_commit(sc, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Runs                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Read run @p id into @p out (copied strings, no request). */
static store_status load_run(struct sq_conn *sc, const char *id, store_run *out)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = stmt(sc, ST_RUN_GET, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (row_to_run(s, 0, 1, out))
            st = fail(sc, STORE_ERROR, "out of memory reading run %s", id);
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "no run %s", id);
    } else {
        st = fail_rc(sc, rc, "cannot read the run");
    }
    done(s);
    return st;
}

/** Status of run @p id into *status; NOT_FOUND when there is none. */
static store_status run_status(struct sq_conn *sc, const char *id, int *status)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = stmt(sc, ST_RUN_STATUS, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *status = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
    else if (rc == SQLITE_DONE)
        st = fail(sc, STORE_NOT_FOUND, "no run %s", id);
    else
        st = fail_rc(sc, rc, "cannot read the run's status");
    done(s);
    return st;
}

/** Single-value count query. */
static store_status count_query(struct sq_conn *sc, enum stmt_id id, const char *arg, int64_t *out,
                                const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = stmt(sc, id, &st);
    if (!s) return st;
    if (arg) bind_text(s, 1, arg);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        st = fail_rc(sc, rc, what);
    done(s);
    return st;
}

static store_status sq_run_create(store_conn *c, const store_run_new *in, store_run *out,
                                  int *created)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!in || !in->request_json || !out)
        return fail(sc, STORE_INVALID, "run request or output missing");
    if (in->idempotency_key) {
        size_t kl = strlen(in->idempotency_key);
        if (kl == 0 || kl > SQ_KEY_MAX)
            return fail(sc, STORE_INVALID, "idempotency key must be 1 to %d bytes", SQ_KEY_MAX);
        if (!is_hex64(in->body_hash))
            return fail(sc, STORE_INVALID,
                        "an idempotency key needs the request body's SHA-256 (64 hex)");
    }
    if ((st = tx_begin(sc)) != STORE_OK) return st;
    sqlite3_stmt *s;
    if (in->idempotency_key) {
        if (!(s = stmt(sc, ST_RUN_BY_KEY, &st))) return tx_fail(sc, st);
        bind_text(s, 1, in->idempotency_key);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            char id[STORE_ID_MAX];
            copy_str(id, sizeof id, sqlite3_column_text(s, 0));
            const char *h = (const char *)sqlite3_column_text(s, 1);
            int same = h && strcasecmp(h, in->body_hash) == 0;
            done(s);
            if (!same)
                return tx_fail(sc, fail(sc, STORE_KEY_REUSED,
                                        "idempotency key already used for run %s with a "
                                        "different request body",
                                        id));
            st = load_run(sc, id, out);
            tx_rollback(sc); /* nothing was written */
            /* The run may have been committed by another thread that still waits for its sync:
             * do not acknowledge it before it is durable. */
            if (st == STORE_OK && (st = gs_wait_all(sc)) != STORE_OK) store_run_clear(out);
            return st;
        }
        done(s);
        if (rc != SQLITE_DONE)
            return tx_fail(sc, fail_rc(sc, rc, "cannot look up the idempotency key"));
    }
    if (in->queue_limit > 0) {
        int64_t depth = 0;
        if ((st = count_query(sc, ST_QUEUE_DEPTH, NULL, &depth, "cannot count the queue")))
            return tx_fail(sc, st);
        if (depth >= in->queue_limit)
            return tx_fail(sc,
                           fail(sc, STORE_FULL,
                                "the queue is full: %" PRId64 " runs queued (limit %" PRId64 ")",
                                depth, in->queue_limit));
    }
    if (in->model_id) {
        int64_t exists = 0;
        sqlite3_stmt *e = stmt(sc, ST_MODEL_EXISTS, &st);
        if (!e) return tx_fail(sc, st);
        bind_text(e, 1, in->model_id);
        int rc = sqlite3_step(e);
        exists = rc == SQLITE_ROW;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail_rc(sc, rc, "cannot look up the model");
        done(e);
        if (st != STORE_OK) return tx_fail(sc, st);
        if (!exists) return tx_fail(sc, fail(sc, STORE_NOT_FOUND, "no model %s", in->model_id));
    }
    if (!(s = stmt(sc, ST_RUN_INSERT, &st))) return tx_fail(sc, st);
    char id[STORE_ID_MAX];
    for (int attempt = 0;; attempt++) {
        if (new_id(id, "r_"))
            return tx_fail(sc,
                           fail(sc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno)));
        bind_text(s, 1, id);
        bind_text(s, 2, in->model_id);
        bind_i64(s, 3, in->priority);
        bind_i64(s, 4, in->max_attempts > 0 ? in->max_attempts : 3);
        bind_i64(s, 5, now_ms());
        bind_i64(s, 6, in->progress_total > 0 ? in->progress_total : 0);
        sqlite3_bind_double(s, 7, in->time_limit > 0 ? in->time_limit : 0.0);
        int rcj = bind_text(s, 8, in->request_json);
        bind_text(s, 9, in->idempotency_key);
        bind_text(s, 10, in->idempotency_key ? in->body_hash : NULL);
        if (rcj != SQLITE_OK) {
            done(s);
            return tx_fail(sc, fail(sc, STORE_INVALID, "cannot bind the run request: %s",
                                    sqlite3_errstr(rcj)));
        }
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) break;
        st = fail_rc(sc, rc, "cannot queue the run");
        done(s);
        /* the key was checked above under the write lock, so a UNIQUE failure is an id clash */
        if (rc != SQLITE_CONSTRAINT_UNIQUE || attempt >= 2) return tx_fail(sc, st);
    }
    done(s);
    if ((st = load_run(sc, id, out)) != STORE_OK) return tx_fail(sc, st);
    if ((st = tx_commit(sc, 1)) != STORE_OK) {
        store_run_clear(out);
        return st;
    }
    if (created) *created = 1;
    return STORE_OK;
}

static store_status sq_run_get(store_conn *c, const char *id, store_run *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id || !out) return fail(sc, STORE_INVALID, "run id or output missing");
    return load_run(sc, id, out);
}

static store_status sq_run_list(store_conn *c, const store_run_filter *f, const char *cursor,
                                int limit, store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    int64_t after;
    if (cursor_decode(cursor, &after)) return fail(sc, STORE_INVALID, "malformed cursor");
    int status = f ? f->status : -1;
    const char *model = f ? f->model_id : NULL;
    if (status < -1 || status >= STORE_RUN_NSTATUS)
        return fail(sc, STORE_INVALID, "unknown run status %d", status);
    limit = clamp_limit(limit);
    enum stmt_id id = status >= 0 ? (model ? ST_RUN_LIST_BOTH : ST_RUN_LIST_STATUS)
                                  : (model ? ST_RUN_LIST_MODEL : ST_RUN_LIST_ALL);
    sqlite3_stmt *s = stmt(sc, id, &st);
    if (!s) return st;
    bind_i64(s, 1, after);
    bind_i64(s, 2, (int64_t)limit + 1);
    if (id == ST_RUN_LIST_MODEL) {
        bind_text(s, 3, model);
    } else if (status >= 0) {
        bind_text(s, 3, store_run_status_name((store_run_status)status));
        bind_text(s, 4, model);
    }
    int rows = 0, rc;
    int64_t last_seq = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (rows == limit) {
            if (next) cursor_encode(next, last_seq);
            break;
        }
        rows++;
        store_run r;
        row_to_run(s, 0, 0, &r);
        last_seq = r.seq;
        if (cb && cb(ctx, &r)) {
            if (next) cursor_encode(next, last_seq);
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = fail_rc(sc, rc, "cannot list runs");
        if (next) next[0] = '\0';
    }
    done(s);
    return st;
}

static store_status sq_run_claim_locked(store_conn *c, store_run *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!out) return fail(sc, STORE_INVALID, "output missing");
    /* A lost claim only means the run is queued again after a power cut: no sync needed. */
    sqlite3_stmt *s = stmt(sc, ST_RUN_CLAIM, &st);
    if (!s) return st;
    bind_i64(s, 1, now_ms());
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        char id[STORE_ID_MAX];
        copy_str(id, sizeof id, sqlite3_column_text(s, 0));
        if (row_to_run(s, 1, 1, out))
            st = fail(sc, STORE_ERROR, "out of memory reading the claimed run");
        rc = sqlite3_step(s); /* run the statement to its end: this commits the claim */
        if (rc != SQLITE_DONE) {
            store_run_clear(out); /* the commit failed, so nothing was claimed */
            st = fail_rc(sc, rc, "cannot claim a run");
        } else if (st != STORE_OK) {
            /* claimed but unreadable: give the run back so it does not stay running */
            done(s);
            char keep[STORE_ERRMSG_MAX];
            memcpy(keep, sc->base.errmsg, sizeof keep);
            sq_run_release_locked(c, id, NULL); /* still under this claim's lock */
            memcpy(sc->base.errmsg, keep, sizeof keep);
            return st;
        }
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "the queue is empty");
    } else {
        st = fail_rc(sc, rc, "cannot claim a run");
    }
    done(s);
    return st;
}

static store_status sq_run_progress_locked(store_conn *c, const char *id, int64_t done_steps,
                                           int64_t total, int *cancel_requested)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = stmt(sc, ST_RUN_PROGRESS, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    bind_i64(s, 2, done_steps < 0 ? 0 : done_steps);
    bind_i64(s, 3, total);
    int rc = sqlite3_step(s);
    int found = rc == SQLITE_ROW;
    if (found) {
        if (cancel_requested) *cancel_requested = sqlite3_column_int(s, 0);
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) st = fail_rc(sc, rc, "cannot record progress");
    done(s);
    if (st != STORE_OK || found) return st;
    int status;
    if ((st = run_status(sc, id, &status)) != STORE_OK) return st;
    return fail(sc, STORE_CONFLICT, "run %s is %s, not running", id,
                store_run_status_name((store_run_status)status));
}

/** Step an UPDATE ... RETURNING status; *found tells whether it matched a row. */
static store_status update_returning_status(struct sq_conn *sc, sqlite3_stmt *s, int *found,
                                            store_run_status *now, const char *what)
{
    store_status st = STORE_OK;
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        int v = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
        if (now && v >= 0) *now = (store_run_status)v;
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) st = fail_rc(sc, rc, what);
    done(s);
    return st;
}

static store_status sq_run_cancel_locked(store_conn *c, const char *id, store_run_status *now)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = stmt(sc, ST_RUN_CANCEL, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    bind_i64(s, 2, now_ms());
    int found;
    if ((st = update_returning_status(sc, s, &found, now, "cannot cancel the run")) != STORE_OK ||
        found)
        return st;
    int status;
    if ((st = run_status(sc, id, &status)) != STORE_OK) return st;
    if (now && status >= 0) *now = (store_run_status)status;
    if (status == STORE_RUN_CANCELLED) return STORE_OK;
    return fail(sc, STORE_CONFLICT, "run %s already %s", id,
                store_run_status_name((store_run_status)status));
}

static store_status sq_run_release_locked(store_conn *c, const char *id, store_run_status *now)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = stmt(sc, ST_RUN_RELEASE, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    bind_i64(s, 2, now_ms());
    int found;
    if ((st = update_returning_status(sc, s, &found, now, "cannot release the run")) != STORE_OK ||
        found)
        return st;
    int status;
    if ((st = run_status(sc, id, &status)) != STORE_OK) return st;
    return fail(sc, STORE_CONFLICT, "run %s is %s, not running", id,
                store_run_status_name((store_run_status)status));
}

static store_status sq_run_delete_locked(store_conn *c, const char *id)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!id) return fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = stmt(sc, ST_RUN_DELETE, &st);
    if (!s) return st;
    bind_text(s, 1, id);
    /* one statement: the run and (by ON DELETE CASCADE) its results and chunks */
    if ((st = run_stmt(sc, s, "cannot delete the run")) != STORE_OK) return st;
    if (sqlite3_changes64(sc->db) > 0) return STORE_OK;
    int status;
    if ((st = run_status(sc, id, &status)) != STORE_OK) return st;
    return fail(sc, STORE_CONFLICT, "run %s is %s; only finished runs can be deleted", id,
                store_run_status_name((store_run_status)status));
}

/* Single-statement writes run in autocommit under the writer lock. */
#define LOCKED(call)                                                                               \
    do {                                                                                           \
        int acquired_;                                                                             \
        store_status st_ = wlock(SQ(c), &acquired_);                                               \
        if (st_ == STORE_OK) st_ = (call);                                                         \
        if (acquired_) wunlock(SQ(c));                                                             \
        if (st_ == STORE_OK) maybe_checkpoint(SQ(c));                                              \
        return st_;                                                                                \
    } while (0)

/* The same for decisions a client is told about: once the statement succeeded, wait until it
 * is on stable storage (its own change, or, when it changed nothing, whatever state it saw). */
#define LOCKED_DURABLE(call)                                                                       \
    do {                                                                                           \
        int acquired_;                                                                             \
        store_status st_ = wlock(SQ(c), &acquired_);                                               \
        int64_t before_ = SQ(c)->db ? sqlite3_total_changes64(SQ(c)->db) : 0;                      \
        if (st_ == STORE_OK) st_ = (call);                                                         \
        uint64_t ticket_ = 0;                                                                      \
        if (st_ == STORE_OK && acquired_ && sqlite3_total_changes64(SQ(c)->db) != before_)         \
            ticket_ = gs_ticket(SQ(c));                                                            \
        if (acquired_) wunlock(SQ(c));                                                             \
        if (st_ == STORE_OK && acquired_)                                                          \
            st_ = ticket_ ? gs_wait(SQ(c), ticket_) : gs_wait_all(SQ(c));                          \
        if (st_ == STORE_OK) maybe_checkpoint(SQ(c));                                              \
        return st_;                                                                                \
    } while (0)

static store_status sq_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                                    const char *json, store_model *out)
{
    LOCKED_DURABLE(sq_model_create_locked(c, name, hash, n, json, out));
}

static store_status sq_run_claim(store_conn *c, store_run *out)
{
    LOCKED(sq_run_claim_locked(c, out));
}

static store_status sq_run_progress(store_conn *c, const char *id, int64_t done_steps,
                                    int64_t total, int *cancel_requested)
{
    LOCKED(sq_run_progress_locked(c, id, done_steps, total, cancel_requested));
}

static store_status sq_run_cancel(store_conn *c, const char *id, store_run_status *now)
{
    LOCKED_DURABLE(sq_run_cancel_locked(c, id, now));
}

static store_status sq_run_release(store_conn *c, const char *id, store_run_status *now)
{
    LOCKED_DURABLE(sq_run_release_locked(c, id, now));
}

static store_status sq_run_delete(store_conn *c, const char *id)
{
    LOCKED_DURABLE(sq_run_delete_locked(c, id));
}

/* ------------------------------------------------------------------------------------------ */
/* Finishing a run: results written in the same transaction as the final status               */
/* ------------------------------------------------------------------------------------------ */

/** Roll back the open batch and delete batches already committed (staged) by this finish.
 *  If the delete fails too, the staged rows stay invisible and are deleted by the next
 *  finish_begin() of the run or by requeue_orphans(). Keeps the connection's message. */
static void writer_rollback(struct sq_conn *sc)
{
    tx_rollback(sc);
    if (!sc->w.staged) return;
    char keep[STORE_ERRMSG_MAX];
    memcpy(keep, sc->base.errmsg, sizeof keep);
    store_status st = tx_begin(sc);
    sqlite3_stmt *s = st == STORE_OK ? stmt(sc, ST_RESULT_DROP_STAGED, &st) : NULL;
    if (s) {
        bind_text(s, 1, sc->w.run_id);
        st = run_stmt(sc, s, "cannot delete staged results");
    }
    if (st == STORE_OK)
        tx_commit(sc, 0); /* invisible rows: no need to wait for the disk */
    else
        tx_rollback(sc);
    memcpy(sc->base.errmsg, keep, sizeof keep);
}

/** Roll the whole finish back after a failure; passes @p st through. */
static store_status writer_fail(struct sq_conn *sc, store_status st)
{
    writer_rollback(sc);
    writer_reset(&sc->w);
    sc->w.failed = 1;
    return st;
}

static store_status writer_check(struct sq_conn *sc, int want_result)
{
    if (!sc->w.active)
        return fail(sc, STORE_INVALID, "%s",
                    sc->w.failed ? "the finish was rolled back after an earlier failure; start "
                                   "again with finish_begin"
                                 : "no finish in progress on this connection");
    if (want_result && !sc->w.in_result) return fail(sc, STORE_INVALID, "no result begun");
    return STORE_OK;
}

static store_status sq_finish_begin(store_conn *c, const char *run_id)
{
    struct sq_conn *sc = SQ(c);
    if (sc->w.active)
        return fail(sc, STORE_CONFLICT, "a finish of run %s is already in progress", sc->w.run_id);
    store_status st = conn_ready(sc);
    if (st != STORE_OK) return st;
    if (!run_id || strlen(run_id) >= STORE_ID_MAX)
        return fail(sc, STORE_INVALID, "run id missing or too long");
    if ((st = tx_begin(sc)) != STORE_OK) return st;
    int status;
    if ((st = run_status(sc, run_id, &status)) != STORE_OK) return tx_fail(sc, st);
    if (status != STORE_RUN_RUNNING)
        return tx_fail(sc, fail(sc, STORE_CONFLICT, "run %s is %s, not running", run_id,
                                store_run_status_name((store_run_status)status)));
    /* staged results of an earlier, interrupted finish of this run */
    sqlite3_stmt *s = stmt(sc, ST_RESULT_DROP_STAGED, &st);
    if (!s) return tx_fail(sc, st);
    bind_text(s, 1, run_id);
    if ((st = run_stmt(sc, s, "cannot delete staged results")) != STORE_OK) return tx_fail(sc, st);
    writer_reset(&sc->w);
    sc->w.active = 1;
    sc->w.failed = 0;
    snprintf(sc->w.run_id, sizeof sc->w.run_id, "%s", run_id);
    return STORE_OK;
}

static store_status sq_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                                    const int64_t *shape)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 0);
    if (st != STORE_OK) return st;
    if (w->in_result)
        return writer_fail(sc, fail(sc, STORE_INVALID, "result %s was not ended", w->var));
    if (!is_var_name(var))
        return writer_fail(sc, fail(sc, STORE_INVALID,
                                    "result name must be 1 to %d letters, digits or '_'",
                                    STORE_VAR_MAX - 1));
    unsigned isz = dtype_size(dtype);
    if (!isz) return writer_fail(sc, fail(sc, STORE_INVALID, "unknown dtype for result %s", var));
    if (ndim < 0 || ndim > STORE_MAX_NDIM || (ndim > 0 && !shape))
        return writer_fail(
            sc, fail(sc, STORE_INVALID, "result %s: ndim must be 0 to %d", var, STORE_MAX_NDIM));
    char shape_json[STORE_MAX_NDIM * 21 + 3];
    size_t pos = 0;
    uint64_t total = isz;
    shape_json[pos++] = '[';
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return writer_fail(sc, fail(sc, STORE_INVALID, "result %s: negative dimension", var));
        if (shape[i] > 0 && total > (uint64_t)INT64_MAX / (uint64_t)shape[i])
            return writer_fail(sc, fail(sc, STORE_INVALID, "result %s: shape too large", var));
        total *= (uint64_t)shape[i];
        pos += (size_t)snprintf(shape_json + pos, sizeof shape_json - pos, "%s%" PRId64,
                                i ? "," : "", shape[i]);
    }
    shape_json[pos++] = ']';
    shape_json[pos] = '\0';

    sqlite3_stmt *s = stmt(sc, ST_RESULT_INSERT, &st);
    if (!s) return writer_fail(sc, st);
    bind_text(s, 1, w->run_id);
    bind_text(s, 2, var);
    bind_text(s, 3, dtype);
    bind_text(s, 4, shape_json);
    bind_i64(s, 5, (int64_t)total);
    bind_i64(s, 6, (int64_t)sc->st->cfg.chunk_size);
    if ((st = run_stmt(sc, s, "cannot store the result")) != STORE_OK) {
        if (st == STORE_CONFLICT)
            st = fail(sc, STORE_INVALID, "result %s of run %s written twice", var, w->run_id);
        return writer_fail(sc, st);
    }
    w->in_result = 1;
    snprintf(w->var, sizeof w->var, "%s", var);
    w->expect = total;
    w->written = 0;
    w->chunk_index = 0;
    w->buf_len = 0;
    eir_sha256_init(&w->sha);
    return STORE_OK;
}

static store_status write_chunk(struct sq_conn *sc, const void *data, size_t len)
{
    struct sq_writer *w = &sc->w;
    store_status st = STORE_OK;
    sqlite3_stmt *s = stmt(sc, ST_CHUNK_INSERT, &st);
    if (!s) return st;
    bind_text(s, 1, w->run_id);
    bind_text(s, 2, w->var);
    bind_i64(s, 3, w->chunk_index);
    int rc = sqlite3_bind_blob64(s, 4, len ? data : "", len, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        done(s);
        return fail(sc, STORE_ERROR, "cannot bind a result chunk: %s", sqlite3_errstr(rc));
    }
    if ((st = run_stmt(sc, s, "cannot store a result chunk")) != STORE_OK) return st;
    w->chunk_index++;
    w->batch_len += len;
    size_t batch = sc->st->cfg.batch_bytes;
    if (batch == 0 || w->batch_len < batch) return STORE_OK;
    /* Commit this batch (staged: complete = 0, invisible) and let waiting writers go first. */
    /* Staged rows need no durability of their own, but syncing each batch here (outside the
     * writer lock) keeps the WAL's unsynced bytes small, so that a small durable commit made
     * meanwhile does not wait for the disk to take a whole large result. */
    if ((st = tx_commit(sc, 1)) != STORE_OK) return st;
    w->staged = 1;
    w->batch_len = 0;
    return tx_begin(sc);
}

static store_status sq_result_append(store_conn *c, const void *data, size_t n)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 1);
    if (st != STORE_OK) return st;
    if (n == 0) return STORE_OK;
    if (!data) return writer_fail(sc, fail(sc, STORE_INVALID, "result %s: no data", w->var));
    if (n > w->expect - w->written)
        return writer_fail(sc, fail(sc, STORE_INVALID,
                                    "result %s: more bytes than its shape holds (%" PRIu64 ")",
                                    w->var, w->expect));
    size_t cs = sc->st->cfg.chunk_size;
    const unsigned char *p = data;
    eir_sha256_update(&w->sha, p, n);
    w->written += n;
    while (n > 0) {
        if (w->buf_len == 0 && n >= cs) { /* whole chunk straight from the caller's memory */
            if ((st = write_chunk(sc, p, cs)) != STORE_OK) return writer_fail(sc, st);
            p += cs;
            n -= cs;
            continue;
        }
        if (!w->buf && !(w->buf = malloc(cs)))
            return writer_fail(sc, fail(sc, STORE_ERROR, "out of memory for a result chunk"));
        size_t take = cs - w->buf_len < n ? cs - w->buf_len : n;
        memcpy(w->buf + w->buf_len, p, take);
        w->buf_len += take;
        p += take;
        n -= take;
        if (w->buf_len == cs) {
            if ((st = write_chunk(sc, w->buf, cs)) != STORE_OK) return writer_fail(sc, st);
            w->buf_len = 0;
        }
    }
    return STORE_OK;
}

static store_status sq_result_end(store_conn *c, const char *sha256_hex)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 1);
    if (st != STORE_OK) return st;
    if (w->written != w->expect)
        return writer_fail(sc,
                           fail(sc, STORE_INVALID,
                                "result %s: %" PRIu64 " bytes written, its shape holds %" PRIu64,
                                w->var, w->written, w->expect));
    if (w->buf_len > 0) {
        if ((st = write_chunk(sc, w->buf, w->buf_len)) != STORE_OK) return writer_fail(sc, st);
        w->buf_len = 0;
    }
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    eir_sha256_final(&w->sha, digest);
    eir_sha256_hex(digest, hex);
    if (sha256_hex && strcasecmp(sha256_hex, hex) != 0)
        return writer_fail(sc, fail(sc, STORE_INVALID,
                                    "result %s: checksum mismatch (given %.64s, bytes hash to %s)",
                                    w->var, sha256_hex, hex));
    sqlite3_stmt *s = stmt(sc, ST_RESULT_END, &st);
    if (!s) return writer_fail(sc, st);
    bind_text(s, 1, w->run_id);
    bind_text(s, 2, w->var);
    bind_i64(s, 3, w->chunk_index);
    bind_text(s, 4, hex);
    if ((st = run_stmt(sc, s, "cannot store the result")) != STORE_OK) return writer_fail(sc, st);
    w->in_result = 0;
    return STORE_OK;
}

static store_status sq_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                                     const char *error_json)
{
    struct sq_conn *sc = SQ(c);
    struct sq_writer *w = &sc->w;
    store_status st = writer_check(sc, 0);
    if (st != STORE_OK) return st;
    if (w->in_result)
        return writer_fail(sc, fail(sc, STORE_INVALID, "result %s was not ended", w->var));
    if (!store_run_status_final(status))
        return writer_fail(sc, fail(sc, STORE_INVALID, "%s is not a final run status",
                                    store_run_status_name(status)));
    sqlite3_stmt *s = stmt(sc, ST_RESULT_PUBLISH, &st);
    if (!s) return writer_fail(sc, st);
    bind_text(s, 1, w->run_id);
    if ((st = run_stmt(sc, s, "cannot publish the results")) != STORE_OK)
        return writer_fail(sc, st);
    if (!(s = stmt(sc, ST_RUN_FINISH, &st))) return writer_fail(sc, st);
    bind_text(s, 1, w->run_id);
    bind_text(s, 2, store_run_status_name(status));
    bind_i64(s, 3, now_ms());
    int rc = bind_text(s, 4, meta_json) | bind_text(s, 5, error_json);
    if (rc != SQLITE_OK) {
        done(s);
        return writer_fail(
            sc, fail(sc, STORE_INVALID, "cannot bind the run's metadata: %s", sqlite3_errstr(rc)));
    }
    if ((st = run_stmt(sc, s, "cannot finish the run")) != STORE_OK) return writer_fail(sc, st);
    if (sqlite3_changes64(sc->db) != 1)
        return writer_fail(sc, fail(sc, STORE_CONFLICT, "run %s is no longer running", w->run_id));
    st = run_fixed(sc, ST_COMMIT, "cannot commit");
    if (st != STORE_OK) return writer_fail(sc, st);
    uint64_t ticket = gs_ticket(sc);
    tx_rollback(sc); /* releases the writer lock: the sync below is shared with other writers */
    writer_reset(w);
    if ((st = gs_wait(sc, ticket)) == STORE_OK) maybe_checkpoint(sc);
    return st;
}

static void sq_finish_abort(store_conn *c)
{
    struct sq_conn *sc = SQ(c);
    if (!sc->w.active) return;
    writer_rollback(sc);
    writer_reset(&sc->w);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading results                                                                            */
/* ------------------------------------------------------------------------------------------ */

static store_status sq_result_info(store_conn *c, const char *run_id, const char *var,
                                   store_result_info *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || !out)
        return fail(sc, STORE_INVALID, "run id, result name or output missing");
    sqlite3_stmt *s = stmt(sc, ST_RESULT_INFO, &st);
    if (!s) return st;
    bind_text(s, 1, run_id);
    bind_text(s, 2, var);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (row_to_result(s, out))
            st = fail(sc, STORE_ERROR, "result %s of run %s has a malformed shape", var, run_id);
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    } else {
        st = fail_rc(sc, rc, "cannot read the result");
    }
    done(s);
    if (st != STORE_OK) memset(out, 0, sizeof *out);
    return st;
}

static store_status sq_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id) return fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = stmt(sc, ST_RESULT_LIST, &st);
    if (!s) return st;
    bind_text(s, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_result_info info;
        if (row_to_result(s, &info)) {
            st = fail(sc, STORE_ERROR, "a result of run %s has a malformed shape", run_id);
            break;
        }
        if (cb && cb(ctx, &info)) break;
    }
    if (st == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = fail_rc(sc, rc, "cannot list results");
    done(s);
    return st;
}

static store_status sq_result_read_chunk(store_conn *c, const char *run_id, const char *var,
                                         int64_t index, void *buf, size_t cap, size_t *len)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || (!buf && cap) || !len)
        return fail(sc, STORE_INVALID, "run id, result name, buffer or length missing");
    sqlite3_stmt *s = stmt(sc, ST_CHUNK_READ, &st);
    if (!s) return st;
    bind_text(s, 1, run_id);
    bind_text(s, 2, var);
    bind_i64(s, 3, index);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sqlite3_int64 rowid = sqlite3_column_int64(s, 0);
        size_t n = (size_t)sqlite3_column_int64(s, 1);
        sqlite3_blob *b = NULL;
        if (n > cap) {
            st = fail(sc, STORE_INVALID, "chunk of %zu bytes does not fit a %zu-byte buffer", n,
                      cap);
        } else if (n > 0) {
            /* Still inside the statement's read transaction, so the same snapshot. Copying the
             * pages into @p buf directly spares a whole-chunk copy (sqlite3_column_blob() would
             * first assemble the value in memory of its own). */
            rc = sqlite3_blob_open(sc->db, "main", "result_chunks", "data", rowid, 0, &b);
            if (rc == SQLITE_OK) rc = sqlite3_blob_read(b, buf, (int)n, 0);
            if (rc != SQLITE_OK) st = fail_rc(sc, rc, "cannot read a result chunk");
            sqlite3_blob_close(b);
        }
        if (st == STORE_OK) *len = n;
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s", run_id,
                  index, var);
    } else {
        st = fail_rc(sc, rc, "cannot read a result chunk");
    }
    done(s);
    return st;
}

/*
 * Reading a range of a result (sq_result_read()). A chunk is one BLOB stored as a chain of
 * overflow pages, so reading bytes at offset o of a chunk first follows the chain over the
 * o / page size pages before them. A download that reads a chunk a piece at a time, each piece
 * in a read of its own (so that nothing is held while the client is slow), follows the chain
 * again for each piece: with SQLite's default page cache of 2 MB, smaller than a 4 MiB chunk,
 * each piece read those pages again from the file (0.5 GB/s for 256 KiB pieces, against
 * 1.3-1.7 GB/s for whole-chunk reads). So range reads go through a second handle of the
 * connection whose page cache holds a chunk's pages (8 MiB): the chain is then followed in
 * memory, at the cost of at most that much memory per thread that serves downloads (not per
 * download), and without growing the cache of the handle every other operation uses. SQLite
 * drops the cache when another connection committed since this handle's last read, which
 * under steady writes happens far less often than a piece is read.
 */

/** Statement @p id (ST_RESULT_GEOMETRY or ST_CHUNK_READ) of the reading handle, opening it on
 *  first use; NULL with *st set on failure. */
static sqlite3_stmt *rstmt(struct sq_conn *sc, enum stmt_id id, store_status *st)
{
    int i = id == ST_CHUNK_READ;
    if (!sc->rdb && (*st = open_db(sc, &sc->rdb, 1)) != STORE_OK) return NULL;
    return prepared(sc, sc->rdb, &sc->rstmt[i], id, st);
}

/**
 * Copy @p n bytes at @p in of chunk @p index into @p dst: the chunk's row is found by its key,
 * and only the pages holding those bytes are copied (incremental BLOB I/O), inside the
 * statement's own short read transaction.
 */
static store_status read_chunk_part(struct sq_conn *sc, const char *run_id, const char *var,
                                    int64_t index, uint64_t in, void *dst, size_t n)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = rstmt(sc, ST_CHUNK_READ, &st);
    if (!s) return st;
    bind_text(s, 1, run_id);
    bind_text(s, 2, var);
    bind_i64(s, 3, index);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sqlite3_int64 rowid = sqlite3_column_int64(s, 0);
        uint64_t len = (uint64_t)sqlite3_column_int64(s, 1);
        if (in + n > len) {
            st = fail(sc, STORE_ERROR,
                      "chunk %" PRId64 " of result %s of run %s has %" PRIu64
                      " bytes, fewer than the result's size says",
                      index, var, run_id, len);
        } else {
            sqlite3_blob *b = NULL;
            rc = sqlite3_blob_open(sc->rdb, "main", "result_chunks", "data", rowid, 0, &b);
            if (rc == SQLITE_OK) rc = sqlite3_blob_read(b, dst, (int)n, (int)in);
            if (rc != SQLITE_OK) st = fail_rc_on(sc, sc->rdb, rc, "cannot read a result chunk");
            sqlite3_blob_close(b);
        }
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s", run_id,
                  index, var);
    } else {
        st = fail_rc_on(sc, sc->rdb, rc, "cannot read a result chunk");
    }
    done(s);
    return st;
}

static store_status sq_result_read(store_conn *c, const char *run_id, const char *var,
                                   uint64_t offset, void *buf, size_t len)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || (!buf && len))
        return fail(sc, STORE_INVALID, "run id, result name or buffer missing");
    sqlite3_stmt *s = rstmt(sc, ST_RESULT_GEOMETRY, &st);
    if (!s) return st;
    bind_text(s, 1, run_id);
    bind_text(s, 2, var);
    uint64_t cs = 0, total = 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        cs = (uint64_t)sqlite3_column_int64(s, 0);
        total = (uint64_t)sqlite3_column_int64(s, 1);
    } else if (rc == SQLITE_DONE) {
        st = fail(sc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    } else {
        st = fail_rc_on(sc, sc->rdb, rc, "cannot read the result");
    }
    done(s);
    if (st != STORE_OK) return st;
    if (offset > total || len > total - offset)
        return fail(sc, STORE_INVALID,
                    "bytes %" PRIu64 " to %" PRIu64
                    " are past the end of result %s of run %s (%" PRIu64 " bytes)",
                    offset, offset + len, var, run_id, total);
    if (cs == 0) return fail(sc, STORE_ERROR, "result %s of run %s has chunk size 0", var, run_id);
    unsigned char *d = buf;
    while (len > 0) {
        uint64_t in = offset % cs;
        size_t n = cs - in < len ? (size_t)(cs - in) : len;
        if ((st = read_chunk_part(sc, run_id, var, (int64_t)(offset / cs), in, d, n)) != STORE_OK)
            return st;
        d += n;
        offset += n;
        len -= n;
    }
    return STORE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Maintenance                                                                                */
/* ------------------------------------------------------------------------------------------ */

static store_status sq_requeue_orphans(store_conn *c, store_requeue_report *report)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if ((st = tx_begin(sc)) != STORE_OK) return st;
    static const enum stmt_id steps[4] = {ST_REQUEUE_CANCEL, ST_REQUEUE_FAIL, ST_REQUEUE_QUEUE,
                                          ST_REQUEUE_STAGED};
    int64_t changed[4] = {0, 0, 0, 0};
    int64_t t = now_ms();
    for (int i = 0; i < 4; i++) {
        sqlite3_stmt *s = stmt(sc, steps[i], &st);
        if (!s) return tx_fail(sc, st);
        bind_i64(s, 1, t); /* skipped for statements without ?1 */
        if ((st = run_stmt(sc, s, "cannot requeue interrupted runs")) != STORE_OK)
            return tx_fail(sc, st);
        changed[i] = sqlite3_changes64(sc->db);
    }
    if ((st = tx_commit(sc, 1)) != STORE_OK) return st;
    if (report) {
        report->cancelled = changed[0];
        report->failed = changed[1];
        report->requeued = changed[2];
        report->partial_results = changed[3];
    }
    return STORE_OK;
}

static store_status sq_counts(store_conn *c, store_counts *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!out) return fail(sc, STORE_INVALID, "output missing");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = stmt(sc, ST_COUNTS, &st);
    if (!s) return st;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int v = store_run_status_parse((const char *)sqlite3_column_text(s, 0));
        if (v >= 0) out->by_status[v] = sqlite3_column_int64(s, 1);
    }
    if (rc != SQLITE_DONE) st = fail_rc(sc, rc, "cannot count runs");
    done(s);
    if (st == STORE_OK)
        st = count_query(sc, ST_MODEL_COUNT, NULL, &out->models, "cannot count models");
    if (st != STORE_OK) memset(out, 0, sizeof *out);
    return st;
}

static store_status sq_queue_depth(store_conn *c, int64_t *depth)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    if (!depth) return fail(sc, STORE_INVALID, "output missing");
    return count_query(sc, ST_QUEUE_DEPTH, NULL, depth, "cannot count the queue");
}

/** Read back one result's chunks and compare with its row; returns a reason or NULL. */
static const char *verify_one(struct sq_conn *sc, sqlite3_stmt *row, char *why, size_t whylen,
                              uint64_t *bytes, store_status *st)
{
    const char *run_id = (const char *)sqlite3_column_text(row, 0);
    const char *var = (const char *)sqlite3_column_text(row, 1);
    uint64_t total = (uint64_t)sqlite3_column_int64(row, 2);
    uint64_t cs = (uint64_t)sqlite3_column_int64(row, 3);
    int64_t count = sqlite3_column_int64(row, 4);
    const char *want = (const char *)sqlite3_column_text(row, 5);
    sqlite3_stmt *s = stmt(sc, ST_VERIFY_CHUNKS, st);
    if (!s) return NULL;
    bind_text(s, 1, run_id);
    bind_text(s, 2, var);
    eir_sha256_ctx h;
    eir_sha256_init(&h);
    int64_t expect_index = 0;
    uint64_t seen = 0;
    const char *bad = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(s, 0);
        const void *p = sqlite3_column_blob(s, 1);
        uint64_t n = (uint64_t)sqlite3_column_bytes(s, 1);
        if (idx != expect_index) {
            snprintf(why, whylen, "chunk %" PRId64 " missing", expect_index);
            bad = why;
            break;
        }
        if (n > cs || (n < cs && idx != count - 1)) {
            snprintf(why, whylen, "chunk %" PRId64 " has %" PRIu64 " bytes", idx, n);
            bad = why;
            break;
        }
        eir_sha256_update(&h, p, n);
        seen += n;
        expect_index++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *st = fail_rc(sc, rc, "cannot read result chunks");
        done(s);
        return NULL;
    }
    done(s);
    *bytes += seen;
    if (bad) return bad;
    if (expect_index != count) {
        snprintf(why, whylen, "%" PRId64 " chunks stored, %" PRId64 " expected", expect_index,
                 count);
        return why;
    }
    if (seen != total) {
        snprintf(why, whylen, "%" PRIu64 " bytes stored, %" PRIu64 " expected", seen, total);
        return why;
    }
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    eir_sha256_final(&h, digest);
    eir_sha256_hex(digest, hex);
    if (!want || strcasecmp(want, hex) != 0) {
        snprintf(why, whylen, "checksum mismatch: stored %.64s, data hashes to %s",
                 want ? want : "(none)", hex);
        return why;
    }
    return NULL;
}

static store_status sq_verify(store_conn *c, store_verify_cb cb, void *ctx,
                              store_verify_report *report)
{
    struct sq_conn *sc = SQ(c);
    store_status st = conn_op(sc);
    if (st != STORE_OK) return st;
    store_verify_report rep = {0};
    /* one read transaction: a consistent snapshot while writers carry on */
    if ((st = run_fixed(sc, ST_BEGIN_READ, "cannot start a read transaction")) != STORE_OK)
        return st;
    sqlite3_stmt *s = stmt(sc, ST_QUICK_CHECK, &st);
    if (!s) return tx_fail(sc, st);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            st = fail(sc, STORE_ERROR, "database check failed: %s", r ? r : "?");
    } else {
        st = fail_rc(sc, rc, "cannot check the database");
    }
    done(s);
    if (st != STORE_OK) return tx_fail(sc, st);
    if (!(s = stmt(sc, ST_FK_CHECK, &st))) return tx_fail(sc, st);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        st = fail(sc, STORE_ERROR,
                  "database check failed: a row of table %s refers to a "
                  "missing parent",
                  (const char *)sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
        st = fail_rc(sc, rc, "cannot check foreign keys");
    done(s);
    if (st != STORE_OK) return tx_fail(sc, st);
    if (!(s = stmt(sc, ST_VERIFY_RESULTS, &st))) return tx_fail(sc, st);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char why[256];
        const char *bad = verify_one(sc, s, why, sizeof why, &rep.bytes_checked, &st);
        if (st != STORE_OK) break;
        rep.results_checked++;
        if (bad) {
            rep.results_bad++;
            if (cb)
                cb(ctx, (const char *)sqlite3_column_text(s, 0),
                   (const char *)sqlite3_column_text(s, 1), bad);
        }
    }
    if (st == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = fail_rc(sc, rc, "cannot list results");
    done(s);
    if (st != STORE_OK) return tx_fail(sc, st);
    tx_rollback(sc); /* read-only: ends the snapshot */
    if (report) *report = rep;
    return STORE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Open, connect, close                                                                       */
/* ------------------------------------------------------------------------------------------ */

static struct store_conn *sq_connect(struct store *s)
{
    struct sq_conn *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->base.store = s;
    sc->st = s->cls;
    return &sc->base;
}

static void sq_disconnect(struct store_conn *c)
{
    if (!c) return;
    struct sq_conn *sc = SQ(c);
    if (sc->w.active) writer_rollback(sc);
    close_db(sc);
    wunlock(sc);
    free(sc->w.buf);
    free(sc);
}

static void sq_close(struct store *s)
{
    if (!s) return;
    struct sq_store *st = s->cls;
    wl_destroy(&st->wl);
    gs_destroy(&st->gs);
    free(st->path);
    free(st);
}

int store_sqlite_schema_version(void)
{
    return store_migrations_count ? store_migrations[store_migrations_count - 1].version : 0;
}

static void open_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void open_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/** Single-integer query on a raw handle; -1 on failure. */
static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/** Bring the schema to the current version in one transaction. Returns 0 or -1 with @p err. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int latest = store_sqlite_schema_version();
    for (size_t i = 0; i < store_migrations_count; i++)
        if (store_migrations[i].version != (int)i + 1) {
            open_err(err, errlen, "embedded migrations are misnumbered at %s",
                     store_migrations[i].name);
            return -1;
        }
    int rc = exec_fixed(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        open_err(err, errlen, "%s: cannot lock the database for migration: %s", path,
                 sqlite3_errmsg(db));
        return -1;
    }
    int64_t current = query_int(db, "PRAGMA user_version");
    if (current < 0 || current > latest) {
        if (current < 0)
            open_err(err, errlen, "%s: cannot read the schema version: %s", path,
                     sqlite3_errmsg(db));
        else
            open_err(err, errlen,
                     "%s: schema version %" PRId64 " is newer than this eirnnd knows (%d); use "
                     "a newer eirnnd",
                     path, current, latest);
        exec_fixed(db, "ROLLBACK");
        return -1;
    }
    if (current == latest)
        return exec_fixed(db, "COMMIT") == SQLITE_OK ? 0 : (exec_fixed(db, "ROLLBACK"), -1);
    for (size_t i = (size_t)current; i < store_migrations_count; i++) {
        char *msg = NULL;
        rc = sqlite3_exec(db, store_migrations[i].sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            open_err(err, errlen, "%s: migration %s failed: %s", path, store_migrations[i].name,
                     msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            exec_fixed(db, "ROLLBACK");
            return -1;
        }
    }
    /* the version comes from the embedded table, never from outside */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
    if (exec_fixed(db, sql) != SQLITE_OK || query_int(db, "SELECT count(*) FROM "
                                                          "pragma_foreign_key_check") != 0) {
        open_err(err, errlen, "%s: migration to version %d left the database inconsistent: %s",
                 path, latest, sqlite3_errmsg(db));
        exec_fixed(db, "ROLLBACK");
        return -1;
    }
    if (exec_fixed(db, "COMMIT") != SQLITE_OK) {
        open_err(err, errlen, "%s: cannot commit the migration: %s", path, sqlite3_errmsg(db));
        exec_fixed(db, "ROLLBACK");
        return -1;
    }
    return 0;
}

store *store_sqlite_open(const char *path, const store_config *cfg, char *err, size_t errlen)
{
    store_config c;
    if (cfg)
        c = *cfg;
    else
        store_config_default(&c);
    if (err && errlen) err[0] = '\0';
    if (!path || !*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
        open_err(err, errlen,
                 "give the SQLite database as a file path (every thread opens its "
                 "own connection to it)");
        return NULL;
    }
    if (c.chunk_size == 0 || c.chunk_size > SQ_CHUNK_MAX) {
        open_err(err, errlen, "chunk size must be 1 to %zu bytes", SQ_CHUNK_MAX);
        return NULL;
    }
    if (c.busy_timeout_ms < 0) c.busy_timeout_ms = 0;
    if (c.mmap_size < 0) c.mmap_size = 0;

    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        open_err(err, errlen, "cannot open database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, c.busy_timeout_ms);
    /* WAL is a property of the file: set once here, every later connection inherits it */
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(s, 0);
    int wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        open_err(err, errlen, "%s: cannot switch to WAL mode: %s", path,
                 mode ? mode : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (!wal || exec_fixed(db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
        migrate(db, path, err, errlen) != 0) {
        if (err && errlen && !err[0]) open_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_close_v2(db);

    struct sq_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path)) || wl_init(&st->wl)) {
        if (st) free(st->path);
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }
    if (gs_init(&st->gs)) {
        wl_destroy(&st->wl);
        free(st->path);
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }
    st->cfg = c;
    st->base.ops = &sq_ops;
    st->base.cls = st;
    return &st->base;
}

void store_sqlite_sync_stats_get(store *s, store_sqlite_sync_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || s->ops != &sq_ops) return;
    struct sq_gsync *g = &((struct sq_store *)s->cls)->gs;
    pthread_mutex_lock(&g->mu);
    out->durable_commits = g->appended;
    out->synced = g->synced;
    out->syncs = g->syncs;
    pthread_mutex_unlock(&g->mu);
}

sqlite3 *store_sqlite_db(store_conn *c)
{
    if (!c || !c->store || c->store->ops != &sq_ops) return NULL;
    struct sq_conn *sc = SQ(c);
    return conn_ready(sc) == STORE_OK ? sc->db : NULL;
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .close = sq_close,
    .model_create = sq_model_create,
    .model_get = sq_model_get,
    .model_list = sq_model_list,
    .model_delete = sq_model_delete,
    .run_create = sq_run_create,
    .run_get = sq_run_get,
    .run_list = sq_run_list,
    .run_claim = sq_run_claim,
    .run_progress = sq_run_progress,
    .run_cancel = sq_run_cancel,
    .run_release = sq_run_release,
    .run_delete = sq_run_delete,
    .finish_begin = sq_finish_begin,
    .result_begin = sq_result_begin,
    .result_append = sq_result_append,
    .result_end = sq_result_end,
    .finish_commit = sq_finish_commit,
    .finish_abort = sq_finish_abort,
    .result_info = sq_result_info,
    .result_list = sq_result_list,
    .result_read_chunk = sq_result_read_chunk,
    .result_read = sq_result_read,
    .requeue_orphans = sq_requeue_orphans,
    .counts = sq_counts,
    .queue_depth = sq_queue_depth,
    .verify = sq_verify,
};
