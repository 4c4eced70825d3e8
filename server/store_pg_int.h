/**
 * @file store_pg_int.h
 * @brief Private header of the PostgreSQL backend of store.h (store_pg.h is its public face).
 *
 * Connections: a ::pg_conn is the light per-thread object of store_connect(); it owns no
 * database connection. Each operation borrows a PGconn from the store's pool (::pg_pool, at
 * most store_config::pool_size open at once), runs its statements and returns it; a finish
 * holds its PGconn from finish_begin() to finish_commit()/finish_abort(). A borrow waits while
 * every connection is out, until the busy timeout or the conn's deadline, then fails with
 * ::STORE_BUSY ("all N database connections are busy"). A connection that broke (PQstatus
 * bad), or that is left inside a transaction, is closed when returned; the next borrow makes a
 * new one. An idle connection whose socket became readable (the server said goodbye: restart,
 * pg_terminate_backend) is checked and replaced before it is handed out.
 *
 * Statements: every statement is a string literal (or a macro of literals) run by pg_exec():
 * values travel as parameters only (text format, bytea in binary), never pasted into SQL.
 * Results come back in text format unless asked for in binary. A statement is prepared on a
 * backend connection the first time it runs there (PQprepare, at most ::PG_PREP_MAX per
 * connection, then PQexecParams), which halves the cost of the small ones.
 *
 * Errors: pg_exec() maps a failed statement's SQLSTATE to a ::store_status (pg_status_of()):
 * lost connection, server shutting down or starting up (class 08, 57P01..57P03), serialization
 * failure (40001), deadlock (40P01), lock or statement timeout (55P03, 57014) and too many
 * connections (53300) -> ::STORE_BUSY; disk full (53100) -> ::STORE_FULL; unique violation
 * (23505) -> ::STORE_CONFLICT and foreign key violation (23503) -> ::STORE_NOT_FOUND (callers
 * map these per operation); data exceptions and check violations (class 22, 23514, 23502) ->
 * ::STORE_INVALID; everything else ::STORE_ERROR. The message is one sentence: what was being
 * done, PostgreSQL's primary message and the SQLSTATE.
 *
 * Times: every time the store writes (created_at, started_at, finished_at, leases, claims) is
 * read from the database's clock with ::PG_NOW_MS, never from a daemon's clock.
 *
 * Notifications: writes announce themselves on channel "eirnn": payload "<letter> <id>",
 * letters q (queued), p (progress or claim), e (ended or deleted), o (other). A write QUEUES
 * them on its ::pgs_conn (pg_notify(), or rows of its statement given to pg_note_payload());
 * after its COMMIT succeeds they are sent in one statement of their own, in autocommit with
 * synchronous_commit off (pg_notes_send()), so that the write's commit does not hold
 * PostgreSQL's notify lock across its WAL flush; a rollback drops them. See pg_notify() and
 * docs/STORE.md.
 *
 * The backend is split by responsibility:
 *
 *   store_pg_conn.c    the pool, borrow/return, pg_exec() and errors, transactions, notify
 *   store_pg_rows.c    ids, cursors, parameters, decoding rows into store.h's types
 *   store_pg_open.c    open and migrations, connect, close, the function table
 *   store_pg_models.c  models
 *   store_pg_labels.c  labels of models, jobs and sweeps (rows, list filters)
 *   store_pg_runs.c    the run queue
 *   store_pg_lease.c   leases, rescue, the claim audit (run_claims)
 *   store_pg_finish.c  finishing a run (result writes)
 *   store_pg_read.c    reading results
 *   store_pg_sweeps.c  sweeps
 *   store_pg_train.c   trainings: checkpoints, learning curves (the model: store_pg_finish.c)
 *   store_pg_maint.c   counts, queue depth, verify
 *   store_pg_watch.c   LISTEN/NOTIFY change detection, runs_settled
 *
 * Locking: a ::pg_conn belongs to one thread at a time; ::pg_store is shared and its only
 * mutable part, the pool, has its own mutex. Every function below that can fail returns a
 * ::store_status and leaves one sentence in the connection's message (store_errmsg()); none is
 * for use outside the backend.
 */
#ifndef EIR_STORE_PG_INT_H
#define EIR_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "eir_sha256.h"
#include "store.h"
#include "store_common.h"
#include "store_migrations.h"
#include "store_pg.h"

/** The migrations of schema/migrations_pg/ (embed_migrations.cmake generates them). */
extern const struct store_migration store_pg_migrations[];
extern const size_t store_pg_migrations_count;

/** Largest chunk size accepted in ::store_config (a bytea may hold 1 GB; keep rows sane). */
#define PG_CHUNK_MAX ((size_t)64 << 20)
/** Longest idempotency key accepted (as SQLite). */
#define PG_KEY_MAX 255
/** The key of the advisory lock that serialises migrations of one database ("eirnnmig"). */
#define PG_MIGRATION_LOCK "7307497689009973607"
/** The notification channel. */
#define PG_CHANNEL "eirnn"
/** Size of a store's origin token (pg_store::origin): 16 hex characters + NUL. */
#define PG_ORIGIN_MAX 17

/** Now in ms since the epoch by the DATABASE's clock (an SQL expression). */
#define PG_NOW_MS "((extract(epoch from clock_timestamp()) * 1000)::bigint)"

/**
 * Columns of a run row, in the order pg_row_to_run() reads them (the table is `runs`, or an
 * alias of it that has these names); request_json, when selected, comes right after them.
 */
#define PG_RUN_COLS                                                                                \
    "id, model_id, status, priority, attempts, max_attempts, cancel_requested, seq, "              \
    "created_at, started_at, finished_at, progress_done, progress_total, time_limit, "             \
    "error_json, meta_json, idempotency_key, kind, subkind, labels_json, sweep_id, sweep_index, "  \
    "claimant, lease_expires_at"
/** Number of ::PG_RUN_COLS. */
#define PG_RUN_NCOLS 24

/** Columns of a model row, in the order pg_row_to_model() reads them (json, when selected,
 *  comes right after them). */
#define PG_MODEL_COLS                                                                              \
    "id, name, hash, n, created_at, seq, state, error, build_s, labels_json, sweep_id, "           \
    "training_id"
#define PG_MODEL_NCOLS 12

/**
 * Columns of a sweep row with its runs' counts (pg_row_to_sweep()); the sweep is `o`, its runs
 * `r`, LEFT JOINed and grouped by o.seq (the primary key); request_json, when selected, comes
 * right after them.
 */
#define PG_SWEEP_COLS                                                                              \
    "o.id, o.name, o.created_at, o.labels_json, o.idempotency_key, o.seq, count(r.id), "           \
    "count(*) FILTER (WHERE r.status = 0), count(*) FILTER (WHERE r.status = 1), "                 \
    "count(*) FILTER (WHERE r.status = 2), count(*) FILTER (WHERE r.status = 3), "                 \
    "count(*) FILTER (WHERE r.status = 4), count(*) FILTER (WHERE r.status = 5), "                 \
    "coalesce(sum(r.progress_done), 0)::bigint, coalesce(sum(r.progress_total), 0)::bigint, "      \
    "CASE WHEN count(*) FILTER (WHERE r.status IN (0, 1)) = 0 "                                    \
    "THEN coalesce(max(r.finished_at), 0) ELSE 0 END"
#define PG_SWEEP_NCOLS 16

/** Columns of a result row (pg_row_to_result()). */
#define PG_RESULT_COLS "var, dtype, shape, total_bytes, chunk_size, chunk_count, sha256"

/**
 * A list's label conditions (::store_labels) as one SQL condition on the listed table aliased
 * `o`, with the keys in $3 and the values in $4 (text arrays, pg_params_labels(); NULL arrays
 * for none): the object passes when it has every label given. Lists put their page bounds in
 * $1 (seq bound) and $2 (limit + 1), these in $3/$4, their own filters from $5 on.
 */
#define PG_LABEL_CONDS                                                                             \
    " AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS f(k, v) WHERE NOT EXISTS "   \
    "(SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND l.key = f.k AND l.value = f.v))"

/* ---- the store and its connections ---------------------------------------------------------- */

/** The statements prepared on one backend connection (store_pg_conn.c; it goes with it). */
struct pg_prep;

/** A connection waiting in the pool, with its prepared statements. */
struct pg_idle {
    PGconn *db;
    struct pg_prep *prep;
};

/** The pool of backend connections of one store. */
struct pg_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /**< on CLOCK_MONOTONIC: signalled when a connection comes back */
    struct pg_idle *idle; /**< connections not borrowed, pool_size slots */
    int n_idle;
    int n_open;                    /**< idle + borrowed + being connected */
    int size;                      /**< most open at once (store_config::pool_size) */
    uint64_t made, dropped, waits; /**< statistics (store_pg_pool_stats()) */
};

struct pg_store {
    struct store base; /**< base.cls points back here */
    char *url;         /**< the libpq URI / connection string as given */
    store_config cfg;  /**< cfg.claimant points at claimant[] */
    char claimant[STORE_CLAIMANT_MAX];
    char origin[PG_ORIGIN_MAX]; /**< random token of this store handle, ending every payload it
                                     sends (session setting eirnn.origin of its connections) */
    struct pg_pool pool;
};

/** State of a finish in progress (finish_begin .. finish_commit/abort); store_pg_finish.c. */
struct pg_writer {
    int active;       /**< the finish transaction is open on pc->db (held) */
    int in_result;    /**< between result_begin and result_end */
    int failed;       /**< the last finish was rolled back after a failure */
    int attempt;      /**< the fence of finish_begin() */
    int staged;       /**< a batch of this finish was committed (staged rows, complete = 0) */
    int model_done;   /**< finish_model() inserted its model (in the open transaction): no more
                           results (a batch commit would publish the model early) */
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

/** Most notifications queued for one transaction; past it they collapse (pg_notify()). */
#define PG_NOTES_MAX 256

/** The notifications a write queued, sent after its COMMIT (pg_notes_send()). */
struct pg_notes {
    int n;
    int collapsed;  /**< more than ::PG_NOTES_MAX: send one 'o' plus the kinds below */
    int any_queued; /**< a 'q' was queued (kept when collapsed) */
    int any_ended;  /**< an 'e' was queued (kept when collapsed) */
    char letter[PG_NOTES_MAX];
    char id[PG_NOTES_MAX][STORE_ID_MAX];
};

/** The backend's ::store_conn (not "struct pgs_conn": that is libpq's own PGconn). */
struct pgs_conn {
    struct store_conn base; /**< must stay first */
    struct pg_store *st;
    PGconn *db;           /**< borrowed for the operation in progress (or the finish), or NULL */
    struct pg_prep *prep; /**< db's prepared statements (borrowed with it; may be NULL) */
    int held;             /**< db stays borrowed across calls (a finish in progress) */
    PGconn *listen;       /**< changes_wait()'s own connection (not from the pool), or NULL */
    int listen_fresh;     /**< listen was (re)connected: the next changes_wait reports 1 */
    struct pg_writer w;
    /** A claim whose COMMIT went unanswered (the connection lost): it may have committed, with
     *  no worker to run it, so the next run_claim() on this conn first releases it (fenced by
     *  its attempt; store_pg_runs.c). "" when none. */
    char unclaim_id[STORE_ID_MAX];
    int unclaim_attempt;
    struct pg_notes notes; /**< notifications of the write in progress (pg_notify()) */
};

static inline struct pgs_conn *PGC(store_conn *c)
{
    return (struct pgs_conn *)c;
}

/* ---- store_pg_conn.c: messages and errors ------------------------------------------------- */

/** Set the connection's message (printf-style) and return @p st. Cannot fail. */
store_status pg_fail(struct pgs_conn *pc, store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** The ::store_status of SQLSTATE @p sqlstate (NULL: the connection was lost, ::STORE_BUSY);
 *  see the mapping in this file's comment. */
store_status pg_status_of(const char *sqlstate);
/** Map failed result @p res (may be NULL) of @p db to a status, with the message
 *  "<what>: <PostgreSQL's message> (SQLSTATE x)". Does not free @p res. */
store_status pg_fail_res(struct pgs_conn *pc, PGconn *db, const PGresult *res, const char *what);
/** The SQLSTATE of a failed result ("" when none, e.g. the connection was lost). */
const char *pg_sqlstate(const PGresult *res);

/* ---- store_pg_conn.c: the pool ---------------------------------------------------------- */

/** Set up / tear down a pool of @p size connections; pg_pool_init() returns -1 when out of
 *  resources. pg_pool_destroy() closes the idle connections (all must be back). */
int pg_pool_init(struct pg_pool *p, int size);
void pg_pool_destroy(struct pg_pool *p);
/** A new connection to the store's database with the session set up (application_name,
 *  fallback eirnnd); NULL with @p err filled when it cannot connect. Used by the pool, the
 *  listener and open. */
PGconn *pg_connect_new(const struct pg_store *st, char *err, size_t errlen);

/**
 * Borrow a connection into pc->db for one operation (no-op when pc->db is already set, e.g.
 * during a finish). Waits while all pool_size connections are out, until the store's busy
 * timeout or the conn's deadline, whichever comes first; then ::STORE_BUSY "all N database
 * connections are busy". A failed connect gives ::STORE_BUSY naming PostgreSQL's reason (the
 * caller's 503 + Retry-After). Nothing is borrowed on failure.
 */
store_status pg_borrow(struct pgs_conn *pc);
/** Give pc->db back to the pool unless it is held (pc->held): a broken connection, or one left
 *  in a transaction that cannot be rolled back, is closed instead. NULL pc->db is a no-op. */
void pg_return(struct pgs_conn *pc);
/** Begin an ordinary operation: refuses with ::STORE_INVALID (as SQLite) while a finish is in
 *  progress on this conn, then pg_borrow(). Pair with pg_return(). */
store_status pg_op_begin(struct pgs_conn *pc);

/* ---- store_pg_conn.c, store_pg_rows.c: statements and parameters --------------------------- */

/** Most statements prepared on one backend connection. */
#define PG_PREP_MAX 128
/** Most parameters of one statement. */
#define PG_MAX_PARAMS 48

/**
 * Parameters of one statement, added in order ($1, $2, ...). Numbers are formatted into the
 * struct itself (do not copy it once filled); text is borrowed from the caller (it must live
 * until the statement ran); arrays built by pg_params_labels()/pg_params_ids() are owned and
 * freed by pg_params_free(). Adding past ::PG_MAX_PARAMS sets @p overflow (pg_exec() then
 * fails with ::STORE_ERROR).
 */
struct pg_params {
    int n;
    int overflow;
    int oom; /**< an owned array could not be allocated */
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS]; /**< 0 text, 1 binary */
    char num[PG_MAX_PARAMS][32];
    char *owned[4];
    int n_owned;
};

/** Start an empty parameter list. */
void pg_params_init(struct pg_params *p);
/** Free what pg_params_labels()/pg_params_ids() allocated (the struct itself may be reused). */
void pg_params_free(struct pg_params *p);
/** Add a text parameter (NULL adds SQL NULL). */
void pg_p_text(struct pg_params *p, const char *s);
/** Add an integer parameter (text form). */
void pg_p_i64(struct pg_params *p, int64_t v);
/** Add a double parameter (text form, round-trip exact). */
void pg_p_f64(struct pg_params *p, double v);
/** Add a bytea parameter in binary format (@p data borrowed; n <= INT_MAX). */
void pg_p_bin(struct pg_params *p, const void *data, size_t n);
/** Add a text[] parameter holding @p n strings (owned; NULL strings are not allowed). */
void pg_p_text_array(struct pg_params *p, const char *const *items, size_t n);

/**
 * Run @p sql (a literal) on pc->db with @p p (NULL: none), results in text format (binary
 * with @p binary_result). Returns the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller
 * PQclear()s it), or NULL with *@p st set from the SQLSTATE (see the mapping above) and the
 * message "<what>: ...". pc->db must be borrowed. Never retries.
 */
PGresult *pg_exec(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                  int binary_result, store_status *st, const char *what);
/** pg_exec() for a statement whose rows do not matter; *@p affected (may be NULL) gets
 *  PQcmdTuples. Returns the status. */
store_status pg_run(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                    int64_t *affected, const char *what);
/** A single-value bigint query: *@p out gets row 0 column 0 (0 when there is no row or it is
 *  NULL). Statement errors as pg_exec(). */
store_status pg_query_i64(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                          int64_t *out, const char *what);

/* ---- store_pg_conn.c: transactions and notifications -------------------------------------- */

/** BEGIN on pc->db (borrowed). Errors as pg_exec(). */
store_status pg_begin(struct pgs_conn *pc);
/** COMMIT: ::STORE_OK only when PostgreSQL committed (a COMMIT that reports ROLLBACK, after an
 *  error inside the transaction, is ::STORE_ERROR). A lost connection is ::STORE_BUSY and the
 *  outcome unknown (the message says so). */
store_status pg_commit(struct pgs_conn *pc);
/** ROLLBACK, ignoring errors (a broken connection is dropped at pg_return()). Cannot fail. */
void pg_rollback(struct pgs_conn *pc);

/** The logic of a write: runs inside BEGIN .. COMMIT on pc->db; returns ::STORE_OK to commit,
 *  anything else (with the connection's message) to roll back. Must be re-runnable: it is run
 *  again after a serialization failure or deadlock. */
typedef store_status (*pg_tx_body)(struct pgs_conn *pc, void *ctx);
/**
 * Run @p body as one transaction: pg_op_begin(), BEGIN, body, COMMIT (or ROLLBACK when the body
 * failed), pg_return(). A serialization failure or deadlock (40001, 40P01) anywhere in it is
 * retried up to 3 times in all before ::STORE_BUSY. Returns the body's status, or the BEGIN /
 * COMMIT / borrow failure; nothing is kept on failure.
 */
store_status pg_tx_run(struct pgs_conn *pc, pg_tx_body body, void *ctx);

/** Letters of the notification payloads. */
#define PG_NOTE_QUEUED 'q'
#define PG_NOTE_PROGRESS 'p'
#define PG_NOTE_ENDED 'e'
#define PG_NOTE_OTHER 'o'
/**
 * Queue notification "<letter> <id>" (@p id NULL or "": "<letter> ") on @p pc for the write in
 * progress; nothing is sent yet. It is sent as "<letter> <id> <origin>", the origin being the
 * sending store's pg_store::origin, so that changes_wait() can tell its own store's
 * notifications from the others'. pg_commit() sends the queue after a successful COMMIT, and so
 * does pg_return() or the next pg_begin() after a write in autocommit; pg_rollback() and a
 * failed COMMIT drop it. The queue is deduplicated and bounded: past ::PG_NOTES_MAX entries it
 * collapses into one 'o ' plus 'q ' and 'e ' (empty ids) when such were queued (an 'e ' with
 * no id makes a watcher look at the runs waited for at once). Cannot fail; returns ::STORE_OK.
 */
store_status pg_notify(struct pgs_conn *pc, char letter, const char *id);
/** Queue a payload "<letter> <id>" read from a statement's result (NULL or malformed: none),
 *  as pg_notify(). Cannot fail. */
void pg_note_payload(struct pgs_conn *pc, const char *payload);
/** Queue each payload of a comma-separated list "<letter> <id>,<letter> <id>..." (ids hold no
 *  comma; NULL: none), as pg_notify(). Cannot fail. */
void pg_note_payloads(struct pgs_conn *pc, const char *list);
/**
 * Send the queued notifications, if any, on pc->db (borrowed, not inside a transaction), in one
 * statement of their own whose commit does not wait for the WAL flush (set_config
 * synchronous_commit off for that transaction), then empty the queue. The write they announce
 * is committed already, so a failed send does not fail it: the failure is left in the
 * connection's message only (notifications are not durable; waiters' periodic looks cover a
 * lost one). With no usable connection the queue is dropped. Cannot fail.
 */
void pg_notes_send(struct pgs_conn *pc);
/** Drop the queued notifications (a rollback). Cannot fail. */
void pg_notes_drop(struct pgs_conn *pc);

/* ---- store_pg_rows.c ---------------------------------------------------------------------- */

/** Field (@p row, @p col) as text, NULL for SQL NULL (borrowed from @p res). */
const char *pg_str(const PGresult *res, int row, int col);
/** Field as an integer (0 for NULL or junk). */
int64_t pg_i64(const PGresult *res, int row, int col);
/** Field as a double (@p null_value for NULL). */
double pg_f64(const PGresult *res, int row, int col, double null_value);
/** Copy a field into @p dst of @p cap bytes ("" for NULL, truncated). */
void pg_copy_str(char *dst, size_t cap, const PGresult *res, int row, int col);
/** A malloc'ed copy of a field into *@p out (NULL for SQL NULL); -1 when out of memory. */
int pg_dup(const PGresult *res, int row, int col, char **out);

/** Fill @p r from row @p row of ::PG_RUN_COLS (+ request_json when @p with_request). With
 *  @p copy the strings are malloc'ed (store_run_clear() frees them), else they point into
 *  @p res. Returns -1 when out of memory (then *r holds nothing to free). */
int pg_row_to_run(const PGresult *res, int row, int with_request, int copy, store_run *r);
/** Fill @p m from row @p row of ::PG_MODEL_COLS (+ json when @p with_json), copies or borrowed
 *  as pg_row_to_run(). -1 when out of memory. */
int pg_row_to_model(const PGresult *res, int row, int with_json, int copy, store_model *m);
/** Fill @p sw from row @p row of ::PG_SWEEP_COLS (+ request_json when @p with_request), copies
 *  or borrowed. -1 when out of memory. */
int pg_row_to_sweep(const PGresult *res, int row, int with_request, int copy, store_sweep *sw);
/** Fill @p out from a row of ::PG_RESULT_COLS; -1 when the row is malformed. */
int pg_row_to_result(const PGresult *res, int row, store_result_info *out);

/** A row of a page of pg_list_page(); returns nonzero to stop after it. */
typedef int (*pg_list_row)(const PGresult *res, int row, void *ctx);
/**
 * One page of a list ordered by seq, newest first. @p sql selects rows with seq < $1, ordered
 * by seq descending, LIMIT $2; @p p must have been started with pg_params_list() (which fills
 * $1 and $2 from @p cursor and @p limit) and then get the statement's other parameters. Column
 * @p seq_col holds seq. Rows go to @p row; @p next gets the cursor of the next page or "".
 * ::STORE_INVALID for a malformed cursor (reported by pg_params_list()); statement errors as
 * pg_exec() (@p next emptied). pc->db must be borrowed.
 */
store_status pg_list_page(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                          int seq_col, int limit, pg_list_row row, void *ctx,
                          char next[STORE_CURSOR_MAX], const char *what);
/** Start @p p for pg_list_page(): $1 the seq bound of @p cursor, $2 the clamped @p limit + 1.
 *  ::STORE_INVALID "malformed cursor". */
store_status pg_params_list(struct pgs_conn *pc, struct pg_params *p, const char *cursor,
                            int limit);

/* ---- store_pg_labels.c ------------------------------------------------------------------ */

/** Add $n (keys) and $n+1 (values) of ::PG_LABEL_CONDS for @p labels (NULL or none: two NULL
 *  arrays). ::STORE_INVALID for too many or incomplete conditions. */
store_status pg_params_labels(struct pgs_conn *pc, struct pg_params *p, const store_labels *labels);
/** ::STORE_INVALID unless @p labels_json (NULL: fine) is a JSON object of strings. Runs a
 *  statement on pc->db (borrowed); other errors as pg_exec(). */
store_status pg_labels_check(struct pgs_conn *pc, const char *labels_json);
/** Check @p labels_json (NULL: nothing to do) and store one label row per member for object
 *  @p object_id, inside the caller's transaction. Errors as pg_labels_check() / pg_exec(). */
store_status pg_labels_put(struct pgs_conn *pc, const char *object_id, const char *labels_json);

/* ---- store_pg_models.c: the insert shared with the sweeps ---------------------------------- */

/** A model row to insert (pg_model_insert_row()). */
struct pg_model_row {
    const char *id;                                          /**< the id to store it under */
    const char *name, *hash, *json, *labels_json, *sweep_id; /**< hash "": pending */
    const char *training_id; /**< the training that made it (finish_model()), or NULL */
    int64_t n;
    int64_t created_at; /**< out: the database's time of the insert */
};
/** INSERT a model row and its labels inside the caller's transaction (sends no notification).
 *  An id already used gives ::STORE_CONFLICT without spoiling the transaction (the caller may
 *  draw another); bad text (e.g. not UTF-8) ::STORE_INVALID; else as pg_exec(). */
store_status pg_model_insert_row(struct pgs_conn *pc, struct pg_model_row *m);

/* ---- store_pg_runs.c: shared with the finish, the leases and the sweeps ------------------- */

/** The key of the advisory lock under which creates check the queue limit ("eirnnque"). */
#define PG_QUEUE_LOCK "7307497689010008421"
/** Column of seq in ::PG_RUN_COLS. */
#define PG_RUN_SEQ_COL 7

/** The store's lease (store_config::lease_s, 30 s when unset) in ms. Cannot fail. */
int64_t pg_lease_ms(const struct pgs_conn *pc);
/**
 * Why a fenced write of attempt @p attempt (-1: an unfenced write) on run @p id matched no row,
 * read on pc->db (borrowed): ::STORE_NOT_FOUND "no run", or ::STORE_CONFLICT "run .. is
 * <status><why>" / "lease lost: the run is attempt N now ..."; statement errors as pg_exec().
 */
store_status pg_run_why_not(struct pgs_conn *pc, const char *id, int attempt, const char *why);
/** The claim of run_claim() into @p out on pc->db (borrowed), inside the caller's transaction
 *  if one is open: ::STORE_NOT_FOUND when the queue is empty; statement errors as pg_exec(),
 *  with @p out holding nothing to free. */
store_status pg_claim_on(struct pgs_conn *pc, store_run *out);
/** A claim of run @p id at @p attempt whose COMMIT went unanswered: note it, for the next
 *  run_claim() on @p pc to release (see ::pgs_conn::unclaim_id). Cannot fail. */
void pg_claim_unknown(struct pgs_conn *pc, const char *id, int attempt);
/** Check a job's arguments (kind, subkind, key): ::STORE_INVALID if bad. Runs no statement. */
store_status pg_run_new_check(struct pgs_conn *pc, const store_run_new *in);
/** INSERT a queued job under a fresh random id (into @p id) with its labels, inside the
 *  caller's transaction on pc->db; @p sweep_id NULL for a job of no sweep (@p sweep_index then
 *  ignored). Checks neither the queue limit nor the model (a missing one: ::STORE_NOT_FOUND);
 *  an id or key already used: ::STORE_CONFLICT (the caller's transaction is then aborted). */
store_status pg_run_insert(struct pgs_conn *pc, const store_run_new *in, const char *sweep_id,
                           int64_t sweep_index, char id[STORE_ID_MAX]);
/** Inside the caller's transaction: ::STORE_QUEUE_FULL unless @p adding more queued jobs keep
 *  the queue within @p limit (<= 0: no limit, nothing done). Takes the transaction-scoped
 *  advisory lock ::PG_QUEUE_LOCK first, so that concurrent creates (any daemon) count in turn. */
store_status pg_queue_room(struct pgs_conn *pc, int64_t adding, int64_t limit);

/* ---- The operations of store_ops (store.h documents each) --------------------------------- */

store_status pg_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, store_model *out);
store_status pg_model_get(store_conn *c, const char *id, store_model *out);
store_status pg_model_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status pg_model_delete(store_conn *c, const char *id, int64_t *runs_using);
store_status pg_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                             double build_s);
store_status pg_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n);
store_status pg_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created);
store_status pg_run_get(store_conn *c, const char *id, store_run *out);
store_status pg_run_request(store_conn *c, const char *id, char **json);
store_status pg_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                         store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status pg_run_claim(store_conn *c, store_run *out);
store_status pg_run_progress(store_conn *c, const char *id, int attempt, int64_t done_steps,
                             int64_t total, int *cancel_requested);
store_status pg_run_cancel(store_conn *c, const char *id, store_run_status *now);
store_status pg_run_release(store_conn *c, const char *id, int attempt, store_run_status *now);
store_status pg_run_delete(store_conn *c, const char *id);
store_status pg_finish_begin(store_conn *c, const char *run_id, int attempt);
store_status pg_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                             const int64_t *shape);
store_status pg_result_append(store_conn *c, const void *data, size_t n);
store_status pg_result_end(store_conn *c, const char *sha256_hex);
store_status pg_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                              const char *error_json);
store_status pg_finish_commit_claim(store_conn *c, store_run_status status, const char *meta_json,
                                    const char *error_json, store_run *next);
void pg_finish_abort(store_conn *c);
store_status pg_result_info(store_conn *c, const char *run_id, const char *var,
                            store_result_info *out);
store_status pg_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx);
store_status pg_result_read_chunk(store_conn *c, const char *run_id, const char *var, int64_t index,
                                  void *buf, size_t cap, size_t *len);
store_status pg_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                            void *buf, size_t len);
store_status pg_requeue_orphans(store_conn *c, store_requeue_report *report);
store_status pg_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                            size_t n, int64_t *renewed);
store_status pg_rescue_expired(store_conn *c, store_requeue_report *report);
store_status pg_counts(store_conn *c, store_counts *out);
store_status pg_queue_depth(store_conn *c, int64_t *depth);
store_status pg_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report);
store_status pg_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                             int *changed);
store_status pg_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                             unsigned char *settled);
store_status pg_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                             int *created);
store_status pg_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out);
store_status pg_sweep_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status pg_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx);
store_status pg_sweep_cancel(store_conn *c, const char *id, int64_t *affected);
store_status pg_sweep_delete(store_conn *c, const char *id, int64_t *active);
store_status pg_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                        int64_t iteration, const void *state, size_t n,
                                        const store_curve_row *rows, size_t nrows);
store_status pg_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                        void **state, size_t *n);
store_status pg_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                    int limit, store_curve_cb cb, void *ctx);
store_status pg_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                             const char *json, const char *labels_json, const char *training_id,
                             store_model *out);

/* ---- store_pg_watch.c ----------------------------------------------------------------------- */

/** Close the listener connection of @p pc, if any. Cannot fail. */
void pg_listen_close(struct pgs_conn *pc);

#endif /* EIR_STORE_PG_INT_H */
