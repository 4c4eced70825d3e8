/**
 * @file store_sqlite_int.h
 * @brief Private header of the SQLite backend of store.h (store_sqlite.h is its public face).
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
 *
 * Every other write is a body (::sq_tx_body) run by sq_tx_run(), which owns the writer lock,
 * the transaction, the rollback on failure and the wait for the group sync.
 *
 * The backend is split by responsibility (docs/STORE.md, "Layout of the SQLite backend"):
 *
 *   store_sqlite_lock.c    writer lock, busy handler, group sync of the WAL, checkpoints
 *   store_sqlite_conn.c    the statements, errors, a connection's handles, transactions
 *   store_sqlite_rows.c    ids, names, cursors, decoding rows into store.h's types
 *   store_sqlite_models.c  models
 *   store_sqlite_runs.c    the run queue
 *   store_sqlite_labels.c  labels of models, jobs and sweeps (rows for the list filters)
 *   store_sqlite_sweeps.c  sweeps: many runs made by one request
 *   store_sqlite_train.c   trainings: checkpoints, learning curves, the trained model
 *   store_sqlite_finish.c  finishing a run (result writes)
 *   store_sqlite_read.c    reading results
 *   store_sqlite_maint.c   requeue after a restart, leases and their rescue, counts, verify
 *   store_sqlite_watch.c   change detection for long polls (PRAGMA data_version)
 *   store_sqlite_open.c    open and migrations, connect, close, the function table
 *
 * Locking: a ::sq_conn belongs to one thread at a time; ::sq_store is shared, and its mutable
 * parts (::sq_wlock, ::sq_gsync, lock_seen_ms) carry their own locks. Every function below
 * that can fail returns a ::store_status and leaves one sentence in the connection's message
 * (store_errmsg()); none of them is for use outside the backend.
 */
#ifndef EIR_STORE_SQLITE_INT_H
#define EIR_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "eir_clock.h"
#include "eir_random.h"
#include "eir_sha256.h"
#include "store.h"
#include "store_common.h"
#include "store_sqlite.h"

/** Largest chunk size accepted in ::store_config (SQLite's default BLOB limit is 1e9 bytes). */
#define SQ_CHUNK_MAX ((size_t)64 << 20)
/** WAL file size kept after a checkpoint (a large finish grows it; this shrinks it back). */
#define SQ_JOURNAL_SIZE_LIMIT 67108864
/** WAL size (frames) from which a committer checkpoints, after its commit (SQLite's default). */
#define SQ_CHECKPOINT_FRAMES 1000
/** Longest idempotency key accepted. */
#define SQ_KEY_MAX 255

/** Columns of a run row (RUN_COLS in store_sqlite_conn.c); request_json, when selected, comes
 *  right after them. */
#define RUN_NCOLS 24

/** The statements of the backend (their SQL: stmt_sql in store_sqlite_conn.c). */
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
    ST_MODEL_FINISH,
    ST_MODEL_PENDING,
    ST_RUN_BY_KEY,
    ST_RUN_INSERT,
    ST_RUN_GET,
    ST_RUN_REQUEST,
    ST_RUN_STATUS,
    ST_RUN_LIST_ALL,
    ST_RUN_LIST_KIND,
    ST_RUN_LIST_STATUS,
    ST_RUN_LIST_MODEL,
    ST_RUN_LIST_BOTH,
    ST_RUN_LIST_SWEEP,
    ST_RUN_CLAIM_NEXT,
    ST_RUN_CLAIM,
    ST_RUN_GET_SEQ,
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
    ST_LEASE_RENEW,
    ST_RESCUE_STAGED,
    ST_RESCUE_CANCEL,
    ST_RESCUE_FAIL,
    ST_RESCUE_QUEUE,
    ST_QUICK_CHECK,
    ST_FK_CHECK,
    ST_VERIFY_RESULTS,
    ST_VERIFY_CHUNKS,
    ST_DATA_VERSION,
    ST_RUNS_SETTLED,
    ST_LABELS_TYPE,
    ST_LABELS_NONTEXT,
    ST_LABELS_INSERT,
    ST_SWEEP_BY_KEY,
    ST_SWEEP_INSERT,
    ST_SWEEP_GET,
    ST_SWEEP_LIST,
    ST_SWEEP_EXISTS,
    ST_SWEEP_RUNS,
    ST_SWEEP_ACTIVE,
    ST_SWEEP_CANCEL,
    ST_SWEEP_DELETE_RUNS,
    ST_SWEEP_DELETE_MODELS,
    ST_SWEEP_DELETE,
    ST_TRAIN_FENCE,
    ST_TRAIN_CKPT_PUT,
    ST_TRAIN_CURVE_PUT,
    ST_TRAIN_CKPT_GET,
    ST_TRAIN_CURVE_READ,
    ST_COUNT
};

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
    store_config cfg;                  /**< cfg.claimant points to ::claimant */
    char claimant[STORE_CLAIMANT_MAX]; /**< who this store's claims belong to */
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
    int attempt;    /**< the fence: the run's attempt number the finish was begun for */
    int fenced;     /**< the finish was refused for a lost lease: its staged rows are not deleted
                         (they may be the new attempt's); the rescue or the next finish_begin
                         deletes them */
    int model_done; /**< finish_model() inserted its model (in the open transaction): no more
                         results (a batch commit would publish the model early) */
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
    double busy_until;      /**< end of the SQLite lock wait in progress (busy_wait()) */
    int64_t data_version;   /**< PRAGMA data_version at the last sq_changes_wait() */
    int data_version_known; /**< 0 until then, and again after the handle was reopened */
};

static inline struct sq_conn *SQ(store_conn *c)
{
    return (struct sq_conn *)c;
}

/* ---- store_sqlite_conn.c: errors ---------------------------------------------------------- */

/** Set the connection's message (printf-style). */
void sq_set_err(struct sq_conn *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Set the connection's message and return @p st. */
store_status sq_fail(struct sq_conn *sc, store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Map an SQLite result code to a store status, with @p what and the message of handle @p db.
 *  Fatal errors (I/O, corruption) mark the connection for reopening. */
store_status sq_fail_rc_on(struct sq_conn *sc, sqlite3 *db, int rc, const char *what);
/** sq_fail_rc_on() with the connection's own handle. */
store_status sq_fail_rc(struct sq_conn *sc, int rc, const char *what);

/* ---- store_sqlite_conn.c: handles and statements ----------------------------------------- */

/** Close both handles of the connection (the writer lock is kept). */
void sq_close_db(struct sq_conn *sc);
/** Run fixed PRAGMAs/statements (literals) on a raw handle; returns an SQLite code. */
int sq_exec_fixed(sqlite3 *db, const char *sql);
/** Open a raw handle on @p path (with @p create: create the file); returns an SQLite code,
 *  with @p err on failure. */
int sq_open_handle(const char *path, int create, sqlite3 **out, char *err, size_t errlen);
/** Open a per-thread handle into *@p out (@p reader: the handle for result reads). */
store_status sq_open_db(struct sq_conn *sc, sqlite3 **out, int reader);
/** Make the connection usable: reopen after a fatal error, open lazily. */
store_status sq_conn_ready(struct sq_conn *sc);
/** sq_conn_ready() for every operation but the finish ones: refuses while a finish is open. */
store_status sq_conn_op(struct sq_conn *sc);
/** Statement @p id on handle @p db, kept in *@p slot; NULL with *st set on failure. */
sqlite3_stmt *sq_prepared(struct sq_conn *sc, sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id,
                          store_status *st);
/** The prepared statement @p id of the main handle; NULL with *st set on failure. */
sqlite3_stmt *sq_stmt(struct sq_conn *sc, enum stmt_id id, store_status *st);
/** Reset @p s and clear its bindings (NULL is fine). */
void sq_done(sqlite3_stmt *s);
/** Bind text (NULL binds NULL); parameters past the statement's count are skipped. */
int sq_bind_text(sqlite3_stmt *s, int i, const char *v);
/** Bind an integer; parameters past the statement's count are skipped. */
int sq_bind_i64(sqlite3_stmt *s, int i, int64_t v);
/** Step @p s to the end, ignoring rows; resets it. */
store_status sq_run_stmt(struct sq_conn *sc, sqlite3_stmt *s, const char *what);
/** Run the fixed statement @p id (no parameters). */
store_status sq_run_fixed(struct sq_conn *sc, enum stmt_id id, const char *what);

/* ---- store_sqlite_conn.c: transactions ---------------------------------------------------- */

/* The primitives below are for the finish (store_sqlite_finish.c), whose transaction stays open
 * across several calls of the caller; every other write runs as a body of sq_tx_run(). */

/** End the transaction, if any, without keeping it; releases the writer lock. */
void sq_tx_rollback(struct sq_conn *sc);
/** BEGIN IMMEDIATE under the writer lock. */
store_status sq_tx_begin(struct sq_conn *sc);
/** COMMIT and release the writer lock; with @p durable, wait for stable storage. */
store_status sq_tx_commit(struct sq_conn *sc, int durable);
/** Roll back (if in a transaction) and pass @p st through. */
store_status sq_tx_fail(struct sq_conn *sc, store_status st);

/** What sq_tx_run() wraps around a body (flags). */
enum sq_tx_mode {
    SQ_TX_STATEMENT = 0, /**< no transaction of its own: each statement of the body commits */
    SQ_TX_BEGIN = 1,     /**< BEGIN IMMEDIATE before the body, COMMIT after it */
    SQ_TX_DURABLE = 2    /**< then wait until the outcome is on stable storage (group sync) */
};

/** The logic of a write: runs under the writer lock (in a transaction with ::SQ_TX_BEGIN);
 *  returns ::STORE_OK to commit, anything else (with the connection's message) to roll back. */
typedef store_status (*sq_tx_body)(struct sq_conn *sc, void *ctx);

/**
 * Run @p body with @p ctx as one write (@p mode: ::sq_tx_mode flags), taking the writer lock,
 * committing or rolling back, releasing the lock and waiting for durability around it.
 * Returns the body's status, or ::STORE_BUSY / ::STORE_ERROR / ... when the lock, BEGIN,
 * COMMIT or the sync failed (then nothing the body did is kept, except that a failed sync
 * leaves a committed change that may not survive a power loss, as its message says).
 */
store_status sq_tx_run(struct sq_conn *sc, unsigned mode, sq_tx_body body, void *ctx);

/* ---- store_sqlite_lock.c ------------------------------------------------------------------ */

/** Set up / tear down a writer lock; sq_wl_init() returns -1 when out of resources. */
int sq_wl_init(struct sq_wlock *wl);
void sq_wl_destroy(struct sq_wlock *wl);
/** SQLite busy handler of every handle (@p arg: the ::sq_conn). */
int sq_busy_wait(void *arg, int count);
/** Take the writer lock unless held (*acquired tells); ::STORE_BUSY after the busy timeout. */
store_status sq_wl_lock(struct sq_conn *sc, int *acquired);
/** Release the writer lock if this connection holds it. */
void sq_wl_unlock(struct sq_conn *sc);
/** Set up / tear down the group sync; sq_gs_init() returns -1 when out of resources. */
int sq_gs_init(struct sq_gsync *g);
void sq_gs_destroy(struct sq_gsync *g);
/** Ticket of the commit just made; call while still holding the writer lock. */
uint64_t sq_gs_ticket(struct sq_conn *sc);
/** Wait until the commit of @p ticket is on stable storage (::STORE_ERROR if the sync fails). */
store_status sq_gs_wait(struct sq_conn *sc, uint64_t ticket);
/** Wait until every durable commit appended so far is on stable storage. */
store_status sq_gs_wait_all(struct sq_conn *sc);
/** WAL hook of the main handle: notes the WAL's size for sq_maybe_checkpoint(). */
int sq_on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames);
/** Checkpoint once the WAL is large; call after a commit, without the writer lock. */
void sq_maybe_checkpoint(struct sq_conn *sc);

/* ---- store_sqlite_rows.c ------------------------------------------------------------------ */

void sq_copy_str(char *dst, size_t cap, const unsigned char *src);
/** Column @p i as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
int sq_dup_col(sqlite3_stmt *s, int i, char **out);
/** Labels column @p i of a row, borrowed from the row ("{}" for NULL). */
char *sq_labels_col(sqlite3_stmt *s, int i);
/** Labels column @p i of a row as a malloc'ed string ("{}" for NULL); -1 when out of memory. */
int sq_dup_labels_col(sqlite3_stmt *s, int i, char **out);
/** A malloc'ed copy of labels @p labels_json as given to a create ("{}" for NULL), or NULL when
 *  out of memory. */
char *sq_labels_text(const char *labels_json);
/** Fill @p r from a run row (see the definition); -1 when out of memory. */
int sq_row_to_run(sqlite3_stmt *s, int with_request, int copy, store_run *r);
/** Fill @p out from a result row; -1 when the row is malformed. */
int sq_row_to_result(sqlite3_stmt *s, store_result_info *out);

/** A row of a page of sq_list_page(); returns nonzero to stop after it. */
typedef int (*sq_list_row)(sqlite3_stmt *s, void *ctx);
/** One page of a list ordered by seq, newest first (models, runs): see the definition. */
store_status sq_list_page(struct sq_conn *sc, sqlite3_stmt *s, int seq_col, const char *cursor,
                          int limit, sq_list_row row, void *ctx, char next[STORE_CURSOR_MAX],
                          const char *what);

/* ---- store_sqlite_labels.c ---------------------------------------------------------------- */

/** First parameter of a list statement's label conditions (LABEL_CONDS in
 *  store_sqlite_conn.c): key i is ?(SQ_LABEL_PARAM + 2i), its value the next one. */
#define SQ_LABEL_PARAM 11

/** ::STORE_INVALID unless @p labels_json (NULL: none) is a JSON object of strings. */
store_status sq_labels_check(struct sq_conn *sc, const char *labels_json);
/** Check @p labels_json (NULL: nothing to do) and store one label row per member for object
 *  @p object_id, inside the caller's write transaction. */
store_status sq_labels_put(struct sq_conn *sc, const char *object_id, const char *labels_json);
/** Bind a list's label conditions to @p s (parameters from ::SQ_LABEL_PARAM on); NULL or none
 *  binds nothing. ::STORE_INVALID (and @p s reset) for too many or incomplete conditions. */
store_status sq_bind_labels(struct sq_conn *sc, sqlite3_stmt *s, const store_labels *labels);

/* ---- store_sqlite_models.c, store_sqlite_runs.c: inserts shared with the sweeps --------- */

/** A model row to insert (sq_model_insert_row()). */
struct sq_model_row {
    const char *id; /**< the id to store it under */
    const char *name, *hash, *json, *labels_json, *sweep_id;
    const char *training_id; /**< the training that made it (finish_model()), or NULL */
    int64_t n, created_at;
};
/** INSERT a model row and its labels inside the caller's write transaction. An id already used
 *  gives ::STORE_CONFLICT (the caller may draw another). */
store_status sq_model_insert_row(struct sq_conn *sc, const struct sq_model_row *m);
/** Check a job's arguments (kind, subkind, key, labels presence): ::STORE_INVALID if bad. */
store_status sq_run_new_check(struct sq_conn *sc, const store_run_new *in);
/** INSERT a queued job under a fresh random id (into @p id) with its labels, inside the
 *  caller's write transaction; @p sweep_id NULL for a job of no sweep (then @p sweep_index is
 *  ignored). Checks neither the queue limit nor the model. */
store_status sq_run_insert(struct sq_conn *sc, const store_run_new *in, const char *sweep_id,
                           int64_t sweep_index, char id[STORE_ID_MAX]);

/* ---- store_sqlite_runs.c, store_sqlite_finish.c: shared helpers -------------------------- */

/** Read run @p id into @p out (copied strings, no request). */
store_status sq_load_run(struct sq_conn *sc, const char *id, store_run *out);
/** Status of run @p id into *status; ::STORE_NOT_FOUND when there is none. */
store_status sq_run_status_get(struct sq_conn *sc, const char *id, int *status);
/**
 * Why a fenced write of run @p id at @p attempt changed nothing: ::STORE_NOT_FOUND when there
 * is no such run; else ::STORE_CONFLICT with "run ID is STATUS, not running" or "lease lost: the
 * run is attempt N now (this claim was attempt M)"; statement errors as usual.
 */
store_status sq_fence_fail(struct sq_conn *sc, const char *id, int attempt);
/** A new lease's expiry for a claim or renewal now: now + lease_s, in ms since the epoch. */
int64_t sq_lease_until(const struct sq_conn *sc, int64_t now_ms);
/**
 * Who holds idempotency key @p key (statement @p stmt: SELECT id, body_hash WHERE key = ?1):
 * none (*found 0, STORE_OK); the same body (@p body_hash, *found 1, its id in @p id); another
 * body: ::STORE_KEY_REUSED naming the @p noun ("run", "sweep") and its id. Statement errors as
 * usual (*found 0).
 */
store_status sq_key_owner(struct sq_conn *sc, enum stmt_id stmt, const char *key,
                          const char *body_hash, const char *noun, char id[STORE_ID_MAX],
                          int *found);
/** Single-value count query @p id (with @p arg as ?1 when not NULL). */
store_status sq_count_query(struct sq_conn *sc, enum stmt_id id, const char *arg, int64_t *out,
                            const char *what);
void sq_writer_reset(struct sq_writer *w);
/** Roll back a finish, deleting its staged batches; keeps the connection's message. */
void sq_writer_rollback(struct sq_conn *sc);

/* ---- The operations of store_ops (store.h documents each) --------------------------------- */

store_status sq_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, store_model *out);
store_status sq_model_get(store_conn *c, const char *id, store_model *out);
store_status sq_model_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status sq_model_delete(store_conn *c, const char *id, int64_t *runs_using);
store_status sq_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                             double build_s);
store_status sq_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n);
store_status sq_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created);
store_status sq_run_get(store_conn *c, const char *id, store_run *out);
store_status sq_run_request(store_conn *c, const char *id, char **json);
store_status sq_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                         store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status sq_run_claim(store_conn *c, store_run *out);
/** The claim of sq_run_claim() inside the caller's open write transaction (the finish's):
 *  ::STORE_NOT_FOUND when the queue is empty; *@p out is filled only on ::STORE_OK. */
store_status sq_run_claim_in_tx(struct sq_conn *sc, store_run *out);
store_status sq_run_progress(store_conn *c, const char *id, int attempt, int64_t done_steps,
                             int64_t total, int *cancel_requested);
store_status sq_run_cancel(store_conn *c, const char *id, store_run_status *now);
store_status sq_run_release(store_conn *c, const char *id, int attempt, store_run_status *now);
store_status sq_run_delete(store_conn *c, const char *id);
store_status sq_finish_begin(store_conn *c, const char *run_id, int attempt);
store_status sq_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                             const int64_t *shape);
store_status sq_result_append(store_conn *c, const void *data, size_t n);
store_status sq_result_end(store_conn *c, const char *sha256_hex);
store_status sq_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                              const char *error_json);
store_status sq_finish_commit_claim(store_conn *c, store_run_status status, const char *meta_json,
                                    const char *error_json, store_run *next);
void sq_finish_abort(store_conn *c);
store_status sq_result_info(store_conn *c, const char *run_id, const char *var,
                            store_result_info *out);
store_status sq_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx);
store_status sq_result_read_chunk(store_conn *c, const char *run_id, const char *var, int64_t index,
                                  void *buf, size_t cap, size_t *len);
store_status sq_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                            void *buf, size_t len);
store_status sq_requeue_orphans(store_conn *c, store_requeue_report *report);
store_status sq_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                            size_t n, int64_t *renewed);
store_status sq_rescue_expired(store_conn *c, store_requeue_report *report);
store_status sq_counts(store_conn *c, store_counts *out);
store_status sq_queue_depth(store_conn *c, int64_t *depth);
store_status sq_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report);
store_status sq_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                             int *changed);
store_status sq_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                             unsigned char *settled);
store_status sq_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                             int *created);
store_status sq_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out);
store_status sq_sweep_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status sq_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx);
store_status sq_sweep_cancel(store_conn *c, const char *id, int64_t *affected);
store_status sq_sweep_delete(store_conn *c, const char *id, int64_t *active);
store_status sq_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                        int64_t iteration, const void *state, size_t n,
                                        const store_curve_row *rows, size_t nrows);
store_status sq_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                        void **state, size_t *n);
store_status sq_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                    int limit, store_curve_cb cb, void *ctx);
store_status sq_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, const char *training_id,
                             store_model *out);

#endif /* EIR_STORE_SQLITE_INT_H */
