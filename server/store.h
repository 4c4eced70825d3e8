/**
 * @file store.h
 * @brief eirnnd's storage interface: models, the durable run queue, results and their chunks.
 *
 * Handlers and workers talk to storage only through this header. A backend (SQLite today, see
 * store_sqlite.h; PostgreSQL later) fills a ::store_ops table, in the manner of GNU Taler's
 * database plugins, and nothing above this interface changes when another backend is added.
 *
 * Threads: a ::store handle is immutable after store_open() and may be shared by every thread.
 * Each thread that touches storage holds its own ::store_conn from store_connect(); a connection
 * must never be used by two threads at the same time. The backend connection behind it is
 * opened lazily on first use and reopened after a fatal error, so a connection object stays
 * usable for the life of its thread.
 *
 * Errors: every operation returns a ::store_status. On anything but ::STORE_OK the connection's
 * message (store_errmsg()) says what went wrong in one sentence; nothing is half done (each
 * operation is one transaction, rolled back on failure) and no output is left allocated.
 * Every wrapper accepts a NULL connection and answers ::STORE_ERROR.
 *
 * Strings: ids, names and JSON are passed as NUL-terminated UTF-8 and are only ever bound as
 * statement parameters, never pasted into SQL. Times are milliseconds since the Unix epoch (UTC);
 * 0 means "not yet".
 */
#ifndef EIR_STORE_H
#define EIR_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every store operation. The comments give the HTTP answer a handler usually makes. */
typedef enum store_status {
    STORE_OK = 0,         /**< success */
    STORE_NOT_FOUND = 1,  /**< no such model, run or result (404); empty queue for claims */
    STORE_CONFLICT = 2,   /**< the object's state forbids the operation (409) */
    STORE_KEY_REUSED = 3, /**< idempotency key already used with a different body (422) */
    STORE_BUSY = 4,       /**< the database stayed locked past the busy timeout (503, retry) */
    STORE_FULL = 5,       /**< the disk (or the database's size limit) is full (503, retry) */
    STORE_INVALID = 6,    /**< bad argument: malformed cursor, bad id/var/dtype/shape (400) */
    STORE_ERROR = 7,      /**< anything else: I/O error, corrupt database, out of memory (500) */
    STORE_QUEUE_FULL = 8  /**< store_run_new::queue_limit runs are queued (503 + Retry-After) */
} store_status;

/** Run states. Final states: succeeded, failed, diverged, cancelled. */
typedef enum store_run_status {
    STORE_RUN_QUEUED = 0,
    STORE_RUN_RUNNING = 1,
    STORE_RUN_SUCCEEDED = 2,
    STORE_RUN_FAILED = 3,
    STORE_RUN_DIVERGED = 4,
    STORE_RUN_CANCELLED = 5
} store_run_status;

#define STORE_RUN_NSTATUS 6   /**< number of ::store_run_status values */
#define STORE_ID_MAX 32       /**< buffer size for an id ("m_"/"r_"/"a_"/"t_" + 24 hex + NUL) */
#define STORE_KIND_MAX 32     /**< buffer size for a job kind or subkind (a task's name) */
#define STORE_HASH_MAX 65     /**< buffer size for a SHA-256 hex digest + NUL */
#define STORE_CURSOR_MAX 32   /**< buffer size for a pagination cursor */
#define STORE_ERRMSG_MAX 512  /**< size of a connection's error message buffer */
#define STORE_VAR_MAX 32      /**< buffer size for a result variable name */
#define STORE_DTYPE_MAX 16    /**< buffer size for a dtype name */
#define STORE_MAX_NDIM 8      /**< most dimensions a stored result may have */
#define STORE_LIST_MAX 1000   /**< largest page a list operation returns */
#define STORE_LIST_DEFAULT 50 /**< page size used when a list is asked for limit <= 0 */
#define STORE_MAX_LABEL_FILTERS 16 /**< most label conditions of one list */
#define STORE_CLAIMANT_MAX 96      /**< buffer for a claimant name */
/** Largest training checkpoint (training_checkpoint_put()) in bytes: 768 MiB, below SQLite's
 *  default BLOB limit (1e9 bytes) and PostgreSQL's bytea limit (1 GB). N = 512 with theta and
 *  Adam's two moments is about 6 to 13 MB. */
#define STORE_CHECKPOINT_MAX ((size_t)768 << 20)

/**
 * A list's label conditions (?label=key:value, repeatable): an object matches when it has every
 * one of them (AND). Keys and values are matched exactly (case-sensitive).
 */
typedef struct store_labels {
    int n; /**< 0 .. STORE_MAX_LABEL_FILTERS */
    const char *keys[STORE_MAX_LABEL_FILTERS];
    const char *values[STORE_MAX_LABEL_FILTERS];
} store_labels;

/** Open-time settings; store_config_default() gives the values documented per field. */
typedef struct store_config {
    int busy_timeout_ms;  /**< wait this long for a lock before ::STORE_BUSY (10000) */
    size_t chunk_size;    /**< bytes per result chunk BLOB, 1 .. 64 MiB (4 MiB) */
    int64_t mmap_size;    /**< SQLite mmap_size in bytes, 0 = off (0) */
    size_t batch_bytes;   /**< a finish commits result chunks every ~this many bytes, releasing
                               the write lock in between; 0 = one transaction (16 MiB) */
    const char *claimant; /**< who this store's claims belong to; NULL or "":
                               "<hostname>:<pid>:<8 hex>" made at open (store_claimant_make());
                               copied at open, the store keeps its own (NULL) */
    double lease_s;       /**< a claim's lease in seconds, renewed by lease_renew() (30) */
    int pool_size;        /**< PostgreSQL: most backend connections open at once, the listener
                               not counted (8); SQLite ignores it */
} store_config;

/** Build state of a stored model. */
typedef enum store_model_state {
    STORE_MODEL_READY = 0,   /**< built (at creation, or by a worker): hash is set */
    STORE_MODEL_PENDING = 1, /**< waiting for a worker to build it: hash is "" */
    STORE_MODEL_FAILED = 2   /**< its build failed: error says why, hash is "" */
} store_model_state;

/** A stored model. */
typedef struct store_model {
    char id[STORE_ID_MAX];       /**< "m_" + 24 lower-case hex characters */
    char hash[STORE_HASH_MAX];   /**< eir_model_hash() of the built model; "" until ready */
    store_model_state state;     /**< build state */
    char *error;                 /**< problem object (JSON text) of a failed build, else NULL */
    double build_s;              /**< seconds a worker's build took; -1 when not built by one */
    char *name;                  /**< "name" of the model, "" when none */
    int64_t n;                   /**< number of neurons N */
    int64_t created_at;          /**< ms since the epoch */
    char *json;                  /**< the model document as submitted; NULL in lists */
    char *labels_json;           /**< its labels as a JSON object text ("{}" when none) */
    char sweep_id[STORE_ID_MAX]; /**< the sweep that created it, or "" */
    /** The training that made it ("t_...", finish_model()), or ""; kept when that training is
     *  deleted. */
    char training_id[STORE_ID_MAX];
} store_model;

/**
 * A job of the queue and its state: a run (kind "run", id "r_..."), an analysis (kind
 * "analysis", id "a_...") or a training (kind "training", id "t_..."); every kind is claimed,
 * cancelled, released and finished alike.
 */
typedef struct store_run {
    char id[STORE_ID_MAX];        /**< "r_"/"a_"/"t_" + 24 lower-case hex characters */
    char kind[STORE_KIND_MAX];    /**< "run", "analysis" or "training" */
    char subkind[STORE_KIND_MAX]; /**< an analysis's kind ("spectrum", ...), a training's task
                                       name; "" for runs */
    char model_id[STORE_ID_MAX];  /**< the model, "" for a run whose request holds it inline */
    store_run_status status;
    int priority;         /**< higher is claimed first; FIFO within a priority */
    int attempts;         /**< claims so far */
    int max_attempts;     /**< claims allowed before a crashed run is failed */
    int cancel_requested; /**< 1 once a cancel was asked for while running */
    int64_t seq;          /**< submission order (internal; cursors are built from it) */
    int64_t created_at, started_at, finished_at; /**< ms since the epoch; 0 = not yet */
    int64_t progress_done;                       /**< steps done */
    int64_t progress_total;                      /**< steps in all; 0 = unknown */
    double time_limit;                           /**< wall-clock limit in seconds; 0 = none */
    char *request_json;          /**< the run request; only filled by store_run_claim() */
    char *error_json;            /**< problem detail of a failed run, or NULL */
    char *meta_json;             /**< engine metadata and summary of a finished run, or NULL */
    char *idempotency_key;       /**< the key it was created with, or NULL */
    char *labels_json;           /**< its labels as a JSON object text ("{}" when none) */
    char sweep_id[STORE_ID_MAX]; /**< the sweep it is a point of ("s_..."), or "" */
    int64_t sweep_index;         /**< its point's index in that sweep, -1 when none */
    char claimant[STORE_CLAIMANT_MAX]; /**< who holds the claim; "" when not running */
    int64_t lease_expires_at;          /**< ms since the epoch, by the DATABASE's clock; 0 when not
                                            running */
} store_run;

/** What store_run_create() needs. Zeroed fields take the documented defaults. */
typedef struct store_run_new {
    const char *kind;            /**< "run" (also for NULL), "analysis" (an "a_" id) or
                                      "training" (a "t_" id) */
    const char *subkind;         /**< the kind's own type (an analysis's kind); NULL for none;
                                      at most STORE_KIND_MAX - 1 bytes */
    const char *model_id;        /**< existing model, or NULL when the request has it inline */
    const char *request_json;    /**< the run request as accepted (required) */
    const char *idempotency_key; /**< NULL for none; at most 255 bytes */
    const char *body_hash;       /**< SHA-256 hex of the request body; required with a key */
    int max_attempts;            /**< <= 0: 3 */
    int priority;                /**< default 0 */
    double time_limit;           /**< seconds; 0 = none */
    int64_t progress_total;      /**< steps in all, if known */
    int64_t queue_limit;         /**< ::STORE_QUEUE_FULL when this many runs are queued; 0: none */
    const char *labels_json;     /**< a JSON object of string labels (checked by the caller);
                                      NULL for none */
} store_run_new;

/** Filter of store_run_list(). */
typedef struct store_run_filter {
    int status;                 /**< a ::store_run_status, or -1 for any */
    const char *model_id;       /**< NULL for any */
    const char *kind;           /**< "run", "analysis", "training"; NULL for any */
    const char *subkind;        /**< NULL for any */
    const char *sweep_id;       /**< NULL for any; else only that sweep's points */
    const store_labels *labels; /**< NULL or n == 0 for any */
} store_run_filter;

/** Description of one stored result array (little-endian, row-major bytes). */
typedef struct store_result_info {
    char var[STORE_VAR_MAX];       /**< variable name ("V", "r", ...) */
    char dtype[STORE_DTYPE_MAX];   /**< "float32", "float64", "complex128" (16 bytes: real then
                                        imaginary float64), "int32", "int64" or "uint8" */
    int ndim;                      /**< number of dimensions, 0 .. STORE_MAX_NDIM */
    int64_t shape[STORE_MAX_NDIM]; /**< the dimensions */
    uint64_t total_bytes;          /**< size of the whole array */
    uint64_t chunk_size;           /**< every chunk but the last has exactly this many bytes */
    int64_t chunk_count;           /**< number of chunks, ceil(total_bytes / chunk_size) */
    char sha256[STORE_HASH_MAX];   /**< SHA-256 hex of the whole array */
} store_result_info;

/** Job counts for /metrics. */
typedef struct store_counts {
    int64_t by_status[STORE_RUN_NSTATUS];           /**< runs (kind "run") by ::store_run_status */
    int64_t analyses_by_status[STORE_RUN_NSTATUS];  /**< analyses by ::store_run_status */
    int64_t trainings_by_status[STORE_RUN_NSTATUS]; /**< trainings by ::store_run_status */
    int64_t models;                                 /**< number of models */
} store_counts;

/** Outcome of store_requeue_orphans(). */
typedef struct store_requeue_report {
    int64_t requeued;        /**< back to queued */
    int64_t failed;          /**< failed: attempt limit reached */
    int64_t cancelled;       /**< cancelled: a cancel had been requested */
    int64_t partial_results; /**< staged result arrays of interrupted finishes, deleted */
} store_requeue_report;

/** Outcome of store_verify(). */
typedef struct store_verify_report {
    int64_t results_checked; /**< result arrays read back */
    int64_t results_bad;     /**< arrays whose chunks, size or checksum did not match */
    uint64_t bytes_checked;  /**< bytes hashed */
} store_verify_report;

/** A sweep's new model (stored pending, built by a worker; docs/SWEEPS.md). */
typedef struct store_sweep_model {
    const char *id;          /**< "m_..." drawn by the caller (eir_random_id()) */
    const char *name;        /**< NULL: "" */
    int64_t n;               /**< N */
    const char *json;        /**< the model document */
    const char *labels_json; /**< NULL: none */
} store_sweep_model;

/** What store_sweep_create() needs. */
typedef struct store_sweep_new {
    const char *id;                  /**< "s_..." drawn by the caller */
    const char *request_json;        /**< the sweep request as accepted */
    const char *name;                /**< NULL: "" */
    const char *labels_json;         /**< NULL: none */
    const char *idempotency_key;     /**< NULL for none */
    const char *body_hash;           /**< required with a key */
    const store_sweep_model *models; /**< models to create with the sweep */
    int64_t n_models;
    /** The points' runs, in point order (sweep_index = position): their model_id names an
     *  existing model or one of models[]; kind "run" (or NULL); no idempotency_key of their own
     *  (::STORE_INVALID); their queue_limit is not used (the sweep's below is). */
    const store_run_new *runs;
    int64_t n_runs;
    int64_t queue_limit; /**< ::STORE_QUEUE_FULL when queued + n_runs would pass it; 0: none */
} store_sweep_new;

/** A sweep and the state of its runs. */
typedef struct store_sweep {
    char id[STORE_ID_MAX];
    char *name;                            /**< "" when none */
    int64_t created_at;                    /**< ms since the epoch */
    int64_t points;                        /**< its runs (points) */
    int64_t by_status[STORE_RUN_NSTATUS];  /**< its runs by ::store_run_status */
    int64_t progress_done, progress_total; /**< sums over its runs */
    int64_t finished_at;                   /**< the last run's finished_at once all are final */
    char *request_json;                    /**< the request; NULL in lists */
    char *labels_json;                     /**< "{}" when none */
    char *idempotency_key;                 /**< or NULL */
} store_sweep;

/** One row of a training's learning curve (training_checkpoint_put(), training_curve_read()).
 *  NaN means "none" (e.g. no evaluation at that iteration; JSON null); infinities are kept. */
typedef struct store_curve_row {
    int64_t iteration; /**< >= 0; one row per iteration and training (a rewrite replaces it) */
    double loss, task_loss, l2_weights, l2_rates, grad_norm, accuracy, eval_accuracy;
} store_curve_row;

/** List callbacks get rows valid only during the call; return non-zero to stop early. They
 *  must not call store functions on the same connection. */
typedef int (*store_model_cb)(void *ctx, const store_model *m);
typedef int (*store_run_cb)(void *ctx, const store_run *r);
typedef int (*store_result_cb)(void *ctx, const store_result_info *info);
typedef int (*store_sweep_cb)(void *ctx, const store_sweep *sw);
typedef int (*store_curve_cb)(void *ctx, const store_curve_row *row);
/** store_verify() calls this for each bad result with a one-sentence reason. */
typedef void (*store_verify_cb)(void *ctx, const char *run_id, const char *var, const char *why);

/** What a change notification of changes_wait() says happened (a store with ::store_ops::notifies
 *  set delivers them; PostgreSQL: one NOTIFY per committed change). */
typedef enum store_change_kind {
    STORE_CHANGE_QUEUED = 0, /**< a job became queued (created, released, rescued); id may be "" */
    STORE_CHANGE_PROGRESS = 1, /**< job id was claimed or wrote progress */
    STORE_CHANGE_ENDED = 2,    /**< job id reached a final state or was deleted (id may be a
                                    sweep's) */
    STORE_CHANGE_OTHER = 3     /**< anything else (models, sweeps, cancel requests); id may be "" */
} store_change_kind;
/** Called by changes_wait() once per notification received from ANOTHER store handle (its
 *  own handle's are not passed), on the calling thread, before it returns; @p id is never NULL
 *  (may be ""). */
typedef void (*store_change_cb)(void *ctx, store_change_kind kind, const char *id);

struct store;
struct store_conn;

/**
 * The backend's table of operations. Callers normally use the store_* wrappers below, which
 * check their connection and clear its message first. Every operation takes the calling
 * thread's connection, runs as one transaction and, on failure, rolls back, sets the
 * connection's message and returns a non-OK status with outputs cleared.
 */
struct store_ops {
    const char *name; /**< backend name: "sqlite" or "postgresql" */
    /**
     * 0: changes_wait() never calls its callback and only says that something changed (SQLite:
     * PRAGMA data_version); the daemon runs its watcher only while a long poll waits, as a
     * change of the one shared file is seen at once. 1: changes_wait() delivers one callback per
     * change notification (PostgreSQL LISTEN/NOTIFY), which is how idle workers and long polls of
     * every daemon on the store learn of queued, progressing and ended runs; the daemon runs its
     * watcher for its whole life (server/waiters_watch.c), with a runs_settled() look at least
     * once a second while anyone waits as the fallback (notifications are not durable).
     */
    int notifies;

    /** Make a connection object for one thread; the backend connects lazily. NULL only when
     *  out of memory. */
    struct store_conn *(*connect)(struct store *s);
    /** Close a connection, rolling back a finish in progress. NULL is a no-op. */
    void (*disconnect)(struct store_conn *c);
    /** Free the store; every connection must be closed first. */
    void (*close)(struct store *s);

    /**
     * Create a model with a fresh id. @p name may be NULL (stored as ""); @p hash must be 64
     * hex characters (the model is stored ready), or NULL for a model stored pending (built
     * later by a worker, model_finish()); @p json is stored verbatim. *out gets the new model
     * without its json.
     * Fails with ::STORE_INVALID on bad arguments, ::STORE_FULL when the disk is full,
     * ::STORE_BUSY on lock timeout, else ::STORE_ERROR.
     */
    store_status (*model_create)(struct store_conn *c, const char *name, const char *hash,
                                 int64_t n, const char *json, const char *labels_json,
                                 store_model *out);
    /** Fetch a model with its json (free with store_model_clear()). ::STORE_NOT_FOUND when
     *  there is no such model; ::STORE_ERROR on database errors. */
    store_status (*model_get)(struct store_conn *c, const char *id, store_model *out);
    /**
     * List models newest first, @p limit per page (<= 0: ::STORE_LIST_DEFAULT, capped at
     * ::STORE_LIST_MAX), starting after @p cursor (NULL or "" for the first page). Calls @p cb
     * per model (json NULL). @p next gets the cursor of the next page, or "" on the last one.
     * Only models with every label of @p labels (NULL: any). ::STORE_INVALID for a malformed
     * cursor; ::STORE_ERROR on database errors.
     */
    store_status (*model_list)(struct store_conn *c, const store_labels *labels, const char *cursor,
                               int limit, store_model_cb cb, void *ctx,
                               char next[STORE_CURSOR_MAX]);
    /**
     * Delete a model no run refers to. ::STORE_CONFLICT when runs (of any state) still use it;
     * then *runs_using (may be NULL) gets their number and nothing is deleted.
     * ::STORE_NOT_FOUND when there is no such model; ::STORE_FULL, ::STORE_BUSY, ::STORE_ERROR
     * as for writes.
     */
    store_status (*model_delete)(struct store_conn *c, const char *id, int64_t *runs_using);
    /**
     * End the build of pending model @p id, durably: ready with @p hash (64 hex characters), or
     * failed with @p error (a problem object as JSON text) when @p hash is NULL; @p build_s is
     * the build's seconds. ::STORE_CONFLICT when the model is not pending (built already, e.g.
     * by another daemon on the same database); ::STORE_NOT_FOUND when there is no such model;
     * ::STORE_INVALID on bad arguments; else as for writes.
     */
    store_status (*model_finish)(struct store_conn *c, const char *id, const char *hash,
                                 const char *error, double build_s);
    /** The ids of up to @p max pending models, oldest first, into @p ids (*n of them).
     *  ::STORE_ERROR on database errors. */
    store_status (*model_pending)(struct store_conn *c, char ids[][STORE_ID_MAX], int max, int *n);

    /**
     * Queue a run (durably: once this returns ::STORE_OK the run survives a crash or power
     * loss). With an idempotency key already used: same body hash → ::STORE_OK, *created = 0
     * and *out is the existing run; other hash → ::STORE_KEY_REUSED. Else *created = 1.
     * ::STORE_QUEUE_FULL when queue_limit runs are queued; ::STORE_FULL when the disk is full
     * (two statuses, so that a caller never reads the message to tell them apart);
     * ::STORE_NOT_FOUND when model_id names no model; ::STORE_INVALID on bad arguments (a kind
     * other than "run", "analysis" and "training", a subkind not a lower-case word of <
     * STORE_KIND_MAX bytes); ::STORE_BUSY, ::STORE_ERROR. The queue limit counts queued jobs of
     * every kind.
     * @p created may be NULL.
     */
    store_status (*run_create)(struct store_conn *c, const store_run_new *in, store_run *out,
                               int *created);
    /** Fetch a run without its request (free with store_run_clear()). ::STORE_NOT_FOUND,
     *  ::STORE_ERROR. */
    store_status (*run_get)(struct store_conn *c, const char *id, store_run *out);
    /** The request of run @p id as accepted, into *@p json (malloc'ed; the caller frees it).
     *  ::STORE_NOT_FOUND, ::STORE_ERROR (*json NULL). */
    store_status (*run_request)(struct store_conn *c, const char *id, char **json);
    /**
     * List runs newest first, filtered by @p f (NULL: all, of every kind), paginated like
     * model_list. Rows carry no request_json. ::STORE_INVALID for a malformed cursor or status,
     * ::STORE_ERROR on database errors.
     */
    store_status (*run_list)(struct store_conn *c, const store_run_filter *f, const char *cursor,
                             int limit, store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
    /**
     * Atomically take the oldest queued run of the highest priority: it becomes running,
     * attempts + 1, started_at = now, progress_done = 0, claimant = the store's claimant,
     * lease_expires_at = now + lease_s (database clock). *out includes request_json; its
     * attempts is the fence the worker passes to run_progress(), run_release() and
     * finish_begin(). Two connections never get the same run. ::STORE_NOT_FOUND when the queue
     * is empty; ::STORE_BUSY, ::STORE_FULL, ::STORE_ERROR with nothing claimed.
     */
    store_status (*run_claim)(struct store_conn *c, store_run *out);
    /**
     * Record progress of a running run and renew its lease; *cancel_requested (may be NULL)
     * tells the worker whether to stop. Fenced: @p attempt is the claim's attempt number
     * (store_run::attempts after the claim). ::STORE_NOT_FOUND; ::STORE_CONFLICT when the run
     * is not running ("not running") or is at another attempt ("lease lost: the run is attempt N
     * now"): the worker lost its claim and must stop writing; ::STORE_BUSY / ::STORE_FULL /
     * ::STORE_ERROR (the worker may ignore these and carry on).
     */
    store_status (*run_progress)(struct store_conn *c, const char *id, int attempt, int64_t done,
                                 int64_t total, int *cancel_requested);
    /**
     * Cancel a run: queued → cancelled at once; running → cancel_requested = 1 (the worker
     * stops it); already cancelled → nothing to do. *now (may be NULL) gets the status after
     * the call. ::STORE_CONFLICT when the run already finished otherwise; ::STORE_NOT_FOUND;
     * ::STORE_BUSY, ::STORE_FULL, ::STORE_ERROR with nothing changed.
     */
    store_status (*run_cancel)(struct store_conn *c, const char *id, store_run_status *now);
    /**
     * Give a running run back to the queue (daemon shutdown): queued again with the attempt
     * not counted, or cancelled if a cancel was requested. *now (may be NULL) gets the new
     * status. Fenced by @p attempt as run_progress(). ::STORE_CONFLICT when not running or at
     * another attempt (lease lost); ::STORE_NOT_FOUND; write errors as usual.
     */
    store_status (*run_release)(struct store_conn *c, const char *id, int attempt,
                                store_run_status *now);
    /** Delete a finished run and its results. ::STORE_CONFLICT when queued or running;
     *  ::STORE_NOT_FOUND; ::STORE_BUSY, ::STORE_FULL, ::STORE_ERROR with nothing deleted. */
    store_status (*run_delete)(struct store_conn *c, const char *id);

    /**
     * Start finishing a running run: opens the write transaction that the result_* calls and
     * finish_commit() complete. Results become visible to readers only in the commit that sets
     * the run's final status, so a crash never leaves a half-written result or one without its
     * finished run. (A large result's chunks may be committed in batches of about
     * ::store_config::batch_bytes, staged invisibly, so the write lock is not held for the whole
     * write; staged data of an interrupted finish is deleted on abort, at the next finish_begin
     * of the run and by requeue_orphans.) Other operations on this connection are refused until
     * commit or abort. Fenced by @p attempt as run_progress(); finish_commit() and
     * finish_commit_claim() check the fence again inside their final transaction, so a finish
     * whose lease was lost meanwhile (the run rescued and claimed again) keeps nothing.
     * ::STORE_NOT_FOUND; ::STORE_CONFLICT when the run is not running, at another attempt
     * (lease lost) or a finish is already in progress on this connection; ::STORE_BUSY /
     * ::STORE_ERROR with nothing started.
     */
    store_status (*finish_begin)(struct store_conn *c, const char *run_id, int attempt);
    /**
     * Start one result array of the run being finished. @p dtype one of the names of
     * ::store_result_info; @p shape has @p ndim entries >= 0. On any failure here or in
     * result_append / result_end / finish_commit the whole finish is rolled back (the run stays
     * running, no result is kept) and further calls fail until a new finish_begin().
     * ::STORE_INVALID for bad arguments or a var already written; ::STORE_FULL, ::STORE_ERROR.
     */
    store_status (*result_begin)(struct store_conn *c, const char *var, const char *dtype, int ndim,
                                 const int64_t *shape);
    /** Append @p n bytes of the array (any split); chunks are written as they fill.
     *  ::STORE_INVALID when more bytes than the shape holds; ::STORE_FULL, ::STORE_ERROR. */
    store_status (*result_append)(struct store_conn *c, const void *data, size_t n);
    /** End the array: checks its size against the shape and, if @p sha256_hex is not NULL,
     *  the SHA-256 of the bytes appended (::STORE_INVALID on mismatch). */
    store_status (*result_end)(struct store_conn *c, const char *sha256_hex);
    /**
     * Set the final @p status (succeeded, failed, diverged or cancelled), finished_at, the
     * metadata and error JSON (either may be NULL) and commit everything durably, results
     * included. ::STORE_INVALID for a non-final status or an unended result; ::STORE_CONFLICT
     * when the run is no longer running at finish_begin()'s attempt (lease lost: nothing kept);
     * ::STORE_FULL, ::STORE_BUSY, ::STORE_ERROR: nothing is kept and the run stays running.
     */
    store_status (*finish_commit)(struct store_conn *c, store_run_status status,
                                  const char *meta_json, const char *error_json);
    /**
     * finish_commit(), and in the same transaction the claim of run_claim() into *@p next (a
     * worker's next run: one commit and one sync serve both). The claim is durable with the
     * finish. When the queue is empty, *@p next is left zeroed (next->id[0] == '\0') and the
     * finish commits all the same. Failures as for finish_commit(), with nothing claimed;
     * except that if the commit succeeded but its sync failed, the claimed run is in *@p next
     * (it is running: the caller runs or releases it). @p next NULL: finish_commit(). NULL in a
     * backend: the wrapper uses finish_commit() and run_claim().
     */
    store_status (*finish_commit_claim)(struct store_conn *c, store_run_status status,
                                        const char *meta_json, const char *error_json,
                                        store_run *next);
    /** Roll back a finish in progress (no-op without one). Cannot fail. */
    void (*finish_abort)(struct store_conn *c);

    /** Describe result @p var of a run. ::STORE_NOT_FOUND when the run has no such result
     *  (results appear only once their run's finish committed); ::STORE_ERROR. */
    store_status (*result_info)(struct store_conn *c, const char *run_id, const char *var,
                                store_result_info *out);
    /** Call @p cb for each result of a run, by var name. ::STORE_OK with no calls when the
     *  run has none (use run_get to tell a missing run); ::STORE_ERROR. */
    store_status (*result_list)(struct store_conn *c, const char *run_id, store_result_cb cb,
                                void *ctx);
    /**
     * Copy chunk @p index (0-based) of a result into @p buf of @p cap bytes (cap >= the
     * info's chunk_size always suffices); *len gets its size. ::STORE_NOT_FOUND when there is
     * no such chunk (e.g. the run was deleted meanwhile); ::STORE_INVALID when cap is too small;
     * ::STORE_ERROR.
     */
    store_status (*result_read_chunk)(struct store_conn *c, const char *run_id, const char *var,
                                      int64_t index, void *buf, size_t cap, size_t *len);
    /**
     * Copy bytes @p offset .. @p offset + @p len of a result (offsets in the whole array, so
     * the range may span chunks) into @p buf, reading only the pages those bytes are on. Each
     * call is its own short read, so a reader that comes back much later (a slow download)
     * holds no transaction in between and never keeps the WAL from being checkpointed.
     * ::STORE_NOT_FOUND when the run has no such (complete) result or a chunk is gone (e.g. the
     * run was deleted meanwhile); ::STORE_INVALID when the range runs past the end;
     * ::STORE_ERROR (also for chunks shorter than the result says).
     */
    store_status (*result_read)(struct store_conn *c, const char *run_id, const char *var,
                                uint64_t offset, void *buf, size_t len);

    /**
     * Daemon start: runs left running by a crash go back to queued (keeping their attempt
     * count), or to failed with an "attempt limit reached" error once attempts >= max_attempts,
     * or to cancelled when a cancel had been requested; staged results of interrupted finishes
     * are deleted. Call before starting workers, with no other daemon using the database.
     * @p report may be NULL. Write errors as usual, with nothing changed. (PostgreSQL, where
     * other daemons' runs are alive, does rescue_expired() instead: a killed daemon's runs come
     * back when their lease expires.)
     */
    store_status (*requeue_orphans)(struct store_conn *c, store_requeue_report *report);
    /**
     * Extend the lease (now + lease_s, database clock) of the runs this daemon's workers hold:
     * each run ids[i] (0 <= i < @p n) that is running, in attempt @p attempts[i], claimed by
     * this store's claimant. A running run of this claimant that is not in the set is NOT
     * renewed (a claim whose answer was lost, e.g. the connection dropped during its commit:
     * no worker runs it), so it is rescued once its lease expires like a crashed daemon's.
     * *@p renewed (may be NULL) gets the number renewed. @p n == 0 renews nothing (no query).
     * ::STORE_INVALID for a malformed id; write errors as usual.
     */
    store_status (*lease_renew)(struct store_conn *c, const char (*ids)[STORE_ID_MAX],
                                const int *attempts, size_t n, int64_t *renewed);
    /**
     * Any daemon, any time: running runs whose lease expired (database clock) go back to queued
     * (attempt kept), or to failed ("attempt limit reached") once attempts >= max_attempts, or
     * to cancelled when a cancel was requested; counted in *@p report (may be NULL; staged
     * results of the rescued runs' interrupted finishes are deleted and counted too). Safe to
     * run on many daemons at once (PostgreSQL: FOR UPDATE SKIP LOCKED). Write errors as usual,
     * with nothing changed.
     */
    store_status (*rescue_expired)(struct store_conn *c, store_requeue_report *report);
    /** Count runs by status and models. ::STORE_ERROR on database errors. */
    store_status (*counts)(struct store_conn *c, store_counts *out);
    /** Number of queued runs (cheaper than counts). ::STORE_ERROR on database errors. */
    store_status (*queue_depth)(struct store_conn *c, int64_t *depth);
    /**
     * Check the database (SQLite: PRAGMA quick_check) and read back every stored result,
     * checking chunk numbering, sizes and SHA-256. Bad results are reported through @p cb (may
     * be NULL) and counted in @p report, but the call still returns ::STORE_OK; a failed
     * structural check gives ::STORE_ERROR with the first problem in the message.
     */
    store_status (*verify)(struct store_conn *c, store_verify_cb cb, void *ctx,
                           store_verify_report *report);

    /* Change detection, for long polls on daemons that share the store (docs/STORE.md, "Change
     * detection"): a watcher thread waits for a change with changes_wait(), then asks which of
     * the runs it waits for ended with runs_settled(), one query for the whole set. */

    /**
     * Wait up to @p timeout seconds for a change committed since this connection's previous
     * call by any other connection, of this process or another: *changed gets 1 as soon as one
     * is seen, 0 when the time ran out without one. A change may be reported that touched no
     * run (the caller pays one runs_settled()), but a run reaching a final state is never
     * missed: the first call on a connection, and the first after it was reopened, report 1.
     * SQLite polls PRAGMA data_version and never calls @p cb. PostgreSQL LISTENs on channel
     * "eirnn" (a dedicated connection per watching thread) and calls @p cb (may be NULL) with
     * @p ctx once per notification received, on the calling thread, before returning (see
     * ::store_ops::notifies), EXCEPT the notifications of this store handle's own writes (any
     * of its connections, any thread): those set *changed = 1 but are not passed to @p cb, as
     * the daemon acts on its own writes where it makes them (its handlers bump the change
     * feed, wake the pool and the long polls); each payload carries its store handle's random
     * origin token for this. Two handles (two daemons, or two store_open() in one process)
     * see each other's notifications in @p cb. PostgreSQL sends a write's notifications right
     * after its COMMIT, in a short transaction of their own (synchronous_commit off), and none
     * for a rolled-back write: so a notification never arrives before its change is visible,
     * but it is not durable even once the write committed (a connection lost between the two,
     * or a crash before its asynchronous commit reached the disk, loses it; a failed send does
     * not fail the write). Callers keep a periodic look as the fallback (the daemon's watcher:
     * runs_settled() at least once a second while anyone waits; idle workers poll the queue).
     * An ENDED with id "" means "some runs ended" (more than 256 changes in one transaction
     * collapse): look at every waited-for run. On failure (::STORE_BUSY, ::STORE_ERROR) *changed is
     * 1: the caller cannot tell, so it looks.
     */
    store_status (*changes_wait)(struct store_conn *c, double timeout, store_change_cb cb,
                                 void *ctx, int *changed);
    /**
     * Which of the runs @p ids[0 .. @p n - 1] are settled: settled[i] = 1 when run ids[i] is
     * in a final state or does not exist (deleted: a waiter answers 404), else 0. One query
     * for the whole set, whatever @p n. ::STORE_INVALID for a malformed id, ::STORE_BUSY,
     * ::STORE_ERROR; *settled is all zeros on failure.
     */
    store_status (*runs_settled)(struct store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                                 unsigned char *settled);

    /* Sweeps (docs/SWEEPS.md): many runs made by one request, each an ordinary run. An id of
     * runs_settled() may also be a sweep's ("s_..."): settled when none of its runs is queued or
     * running (or when there is no such sweep). */

    /**
     * Create a sweep, its new models (pending) and its runs (queued, labelled) in one
     * transaction: all or nothing, durably. Idempotency as run_create (*created 0 and *out the
     * existing sweep). ::STORE_QUEUE_FULL, ::STORE_FULL, ::STORE_NOT_FOUND (a run's model_id
     * names no model), ::STORE_INVALID, ::STORE_KEY_REUSED, ::STORE_BUSY, ::STORE_ERROR.
     * *out as sweep_get() without the request. @p created may be NULL.
     */
    store_status (*sweep_create)(struct store_conn *c, const store_sweep_new *in, store_sweep *out,
                                 int *created);
    /** A sweep with its counts (and its request when @p with_request). ::STORE_NOT_FOUND,
     *  ::STORE_ERROR. Free with store_sweep_clear(). */
    store_status (*sweep_get)(struct store_conn *c, const char *id, int with_request,
                              store_sweep *out);
    /** List sweeps newest first with their counts, filtered by labels, paginated like
     *  model_list. ::STORE_INVALID for a malformed cursor, ::STORE_ERROR. */
    store_status (*sweep_list)(struct store_conn *c, const store_labels *labels, const char *cursor,
                               int limit, store_sweep_cb cb, void *ctx,
                               char next[STORE_CURSOR_MAX]);
    /** Call @p cb for each run of sweep @p id in point order, with meta_json and error_json
     *  filled (request_json NULL). ::STORE_NOT_FOUND when there is no such sweep, ::STORE_ERROR. */
    store_status (*sweep_runs)(struct store_conn *c, const char *id, store_run_cb cb, void *ctx);
    /**
     * Cancel every queued run of the sweep (cancelled at once) and ask its running runs to stop
     * (cancel_requested), in one transaction; *@p affected (may be NULL) gets their number.
     * Final runs are left as they are. ::STORE_NOT_FOUND; write errors as usual.
     */
    store_status (*sweep_cancel)(struct store_conn *c, const char *id, int64_t *affected);
    /**
     * Delete a sweep whose runs are all final: its runs and their results, and the models it
     * created that no other run uses. ::STORE_CONFLICT when a run is queued or running (*active,
     * may be NULL, gets their number; nothing deleted); ::STORE_NOT_FOUND; write errors.
     */
    store_status (*sweep_delete)(struct store_conn *c, const char *id, int64_t *active);

    /* Trainings (kind "training", docs/STORE.md "Trainings"): a training is a job of the queue;
     * these keep its checkpoint (one per training, replaced by each put) and its learning curve
     * (one row per iteration). Both are deleted with the job (run_delete, sweep_delete); the
     * model a training made (finish_model) is not. */

    /**
     * Save a running job's progress in training, in one transaction, fenced by @p attempt as
     * run_progress() (and renewing its lease as it does): when @p state is not NULL, the
     * checkpoint of job @p id becomes (@p iteration, the @p n bytes at @p state), replacing the
     * previous one (@p n 1 .. ::STORE_CHECKPOINT_MAX); then the @p nrows rows at @p rows
     * (@p rows may be NULL when @p nrows is 0; iterations >= 0 and strictly increasing) are
     * upserted into its curve: a row of an iteration already stored replaces it. @p state NULL
     * keeps the checkpoint as it is (curve rows only; @p iteration and @p n are ignored).
     * Durable (the group sync on SQLite) when a checkpoint is written; curve rows alone are not
     * (a lost one is written again by the resumed training). Bytes are stored as given (one
     * BLOB / bytea; not copied by the store on the way in). ::STORE_NOT_FOUND (no such job);
     * ::STORE_CONFLICT when the job is not running or at another attempt (lease lost: nothing
     * written); ::STORE_INVALID on bad arguments; ::STORE_FULL, ::STORE_BUSY, ::STORE_ERROR with
     * nothing written.
     */
    store_status (*training_checkpoint_put)(struct store_conn *c, const char *id, int attempt,
                                            int64_t iteration, const void *state, size_t n,
                                            const store_curve_row *rows, size_t nrows);
    /**
     * The checkpoint of job @p id: *@p iteration, and its bytes in *@p state (malloc'ed, the
     * caller frees it), *@p n of them. ::STORE_NOT_FOUND when the job has none (or there is no
     * such job); ::STORE_INVALID for missing outputs; ::STORE_ERROR (also out of memory).
     * Outputs are 0 / NULL on failure.
     */
    store_status (*training_checkpoint_get)(struct store_conn *c, const char *id,
                                            int64_t *iteration, void **state, size_t *n);
    /**
     * Call @p cb for each curve row of job @p id whose iteration is > @p after_iteration (-1 for
     * all), in iteration order, at most @p limit rows (<= 0: all). Reads one snapshot; the rows
     * are valid only during the call and @p cb must not use this connection. ::STORE_OK with no
     * calls when there are none (use run_get() to tell a missing job); ::STORE_ERROR.
     */
    store_status (*training_curve_read)(struct store_conn *c, const char *id,
                                        int64_t after_iteration, int limit, store_curve_cb cb,
                                        void *ctx);
    /**
     * Inside a finish (after finish_begin() and the last result_end(), before finish_commit()):
     * create the model a training made, as model_create() would (ready: @p hash is 64 hex
     * characters; @p name NULL stored as ""; @p labels_json NULL for none) with @p training_id
     * as its provenance (NULL: the finishing job's id; else it must be that id), in the
     * finish's transaction: it exists once finish_commit() (or finish_commit_claim())
     * committed, and not at all when the finish is aborted, fails or is fenced out. *@p out
     * (may be NULL) gets the new model as model_create() gives it, training_id set, at once
     * (its id may go into the finish's meta_json). At most one per finish; a result_begin()
     * after it is refused. ::STORE_INVALID on bad arguments or out of turn (with no finish in
     * progress the finish is untouched; else the whole finish is rolled back, as for a failed
     * result_*() call); ::STORE_FULL, ::STORE_ERROR roll the finish back too.
     */
    store_status (*finish_model)(struct store_conn *c, const char *name, const char *hash,
                                 int64_t n, const char *json, const char *labels_json,
                                 const char *training_id, store_model *out);
};

/** A store handle: the backend's operations and state. Immutable after store_open(). */
struct store {
    const struct store_ops *ops;
    void *cls; /**< backend state */
};

/** What every backend connection starts with (backends embed it as their first member). */
struct store_conn {
    struct store *store;
    char errmsg[STORE_ERRMSG_MAX];
    double deadline; /**< see store_set_deadline(); 0 = none */
};

typedef struct store store;
typedef struct store_conn store_conn;

/** Default settings (see ::store_config). */
void store_config_default(store_config *cfg);

/**
 * The claimant a store uses: @p given when not NULL or "" (cut to STORE_CLAIMANT_MAX - 1 bytes),
 * else "<hostname>:<pid>:<8 random hex>" (hostname "localhost" when unknown). Cannot fail.
 * For backends' open functions.
 */
void store_claimant_make(const char *given, char out[STORE_CLAIMANT_MAX]);

/** The backend name of @p s ("sqlite", "postgresql"); "" for NULL. */
const char *store_backend_name(const store *s);

/** 1 when @p s delivers change notifications (::store_ops::notifies), else 0. */
int store_notifies(const store *s);

/**
 * Open a store. @p spec starting "postgresql://" or "postgres://" (a libpq URI, any libpq
 * parameters) opens the PostgreSQL backend (store_pg_open(), when built in); else it is
 * "sqlite:PATH" or a plain PATH (SQLite), the database file created if missing; the database is
 * migrated to the current schema. @p cfg NULL means defaults.
 * Returns NULL on failure with a message in @p err (@p errlen bytes, may be 0): a backend not
 * built in, a file that cannot be opened, a schema newer than this build, a failed migration.
 */
store *store_open(const char *spec, const store_config *cfg, char *err, size_t errlen);

/** Close a store after all its connections are closed. NULL is a no-op. */
void store_close(store *s);

/** Connection for the calling thread (see store_ops::connect). NULL when out of memory or
 *  @p s is NULL. */
store_conn *store_connect(store *s);

/** Close a connection (see store_ops::disconnect). NULL is a no-op. */
void store_disconnect(store_conn *c);

/**
 * Bound the lock waits of the operations that follow on @p c: a wait for the database (the
 * store's writer queue, another process's lock) ends with ::STORE_BUSY at @p deadline (seconds
 * on CLOCK_MONOTONIC) when that comes before the busy timeout. 0 removes it. The HTTP threads
 * set it to the busy timeout counted from a request's arrival, so that a locked database gets
 * each request its 503 within about the busy timeout, however many wait on the same thread.
 * NULL is a no-op.
 */
void store_set_deadline(store_conn *c, double deadline);

/** The message of the last failure on @p c ("" after a success). */
const char *store_errmsg(const store_conn *c);

/** Short name of a status: "ok", "not found", "conflict", ... */
const char *store_status_name(store_status s);

/** "queued", "running", ...; "?" for an out-of-range value. */
const char *store_run_status_name(store_run_status s);

/** Parse a run status name; returns -1 when unknown. */
int store_run_status_parse(const char *name);

/** 1 for succeeded, failed, diverged and cancelled; else 0. */
int store_run_status_final(store_run_status s);

/** Free the strings of @p m and zero it. NULL is a no-op. */
void store_model_clear(store_model *m);

/** Free the strings of @p r and zero it. NULL is a no-op. */
void store_run_clear(store_run *r);

/** Free the strings of @p sw and zero it. NULL is a no-op. */
void store_sweep_clear(store_sweep *sw);

/** @name Wrappers: each checks @p c, clears its message and calls the store_ops member of the
 *  same name, whose comment gives the failure behaviour. */
/**@{*/
store_status store_model_create(store_conn *c, const char *name, const char *hash, int64_t n,
                                const char *json, const char *labels_json, store_model *out);
store_status store_model_get(store_conn *c, const char *id, store_model *out);
store_status store_model_list(store_conn *c, const store_labels *labels, const char *cursor,
                              int limit, store_model_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status store_model_delete(store_conn *c, const char *id, int64_t *runs_using);
store_status store_model_finish(store_conn *c, const char *id, const char *hash, const char *error,
                                double build_s);
store_status store_model_pending(store_conn *c, char ids[][STORE_ID_MAX], int max, int *n);
/** "pending", "ready" or "failed". */
const char *store_model_state_name(store_model_state s);
store_status store_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created);
store_status store_run_get(store_conn *c, const char *id, store_run *out);
store_status store_run_request(store_conn *c, const char *id, char **json);
store_status store_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                            store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status store_run_claim(store_conn *c, store_run *out);
store_status store_run_progress(store_conn *c, const char *id, int attempt, int64_t done,
                                int64_t total, int *cancel_requested);
store_status store_run_cancel(store_conn *c, const char *id, store_run_status *now);
store_status store_run_release(store_conn *c, const char *id, int attempt, store_run_status *now);
store_status store_run_delete(store_conn *c, const char *id);
store_status store_finish_begin(store_conn *c, const char *run_id, int attempt);
store_status store_result_begin(store_conn *c, const char *var, const char *dtype, int ndim,
                                const int64_t *shape);
store_status store_result_append(store_conn *c, const void *data, size_t n);
store_status store_result_end(store_conn *c, const char *sha256_hex);
store_status store_finish_commit(store_conn *c, store_run_status status, const char *meta_json,
                                 const char *error_json);
/** The backend's finish_commit_claim(), or finish_commit() then run_claim() when it has none
 *  (a failed claim then leaves *@p next zeroed: the finish stands). */
store_status store_finish_commit_claim(store_conn *c, store_run_status status,
                                       const char *meta_json, const char *error_json,
                                       store_run *next);
void store_finish_abort(store_conn *c);
store_status store_result_info_get(store_conn *c, const char *run_id, const char *var,
                                   store_result_info *out);
store_status store_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx);
store_status store_result_read_chunk(store_conn *c, const char *run_id, const char *var,
                                     int64_t index, void *buf, size_t cap, size_t *len);
store_status store_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                               void *buf, size_t len);
store_status store_requeue_orphans(store_conn *c, store_requeue_report *report);
store_status store_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                               size_t n, int64_t *renewed);
store_status store_rescue_expired(store_conn *c, store_requeue_report *report);
store_status store_counts_get(store_conn *c, store_counts *out);
store_status store_queue_depth(store_conn *c, int64_t *depth);
store_status store_verify(store_conn *c, store_verify_cb cb, void *ctx,
                          store_verify_report *report);
store_status store_changes_wait(store_conn *c, double timeout, store_change_cb cb, void *ctx,
                                int *changed);
store_status store_runs_settled(store_conn *c, const char (*ids)[STORE_ID_MAX], size_t n,
                                unsigned char *settled);
store_status store_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                                int *created);
store_status store_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out);
store_status store_sweep_list(store_conn *c, const store_labels *labels, const char *cursor,
                              int limit, store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX]);
store_status store_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx);
store_status store_sweep_cancel(store_conn *c, const char *id, int64_t *affected);
store_status store_sweep_delete(store_conn *c, const char *id, int64_t *active);
/** See ::store_ops::training_checkpoint_put: fenced by @p attempt, one transaction, nothing
 *  written on failure; @p state and @p rows are only read, never kept. A backend without
 *  trainings: ::STORE_ERROR. */
store_status store_training_checkpoint_put(store_conn *c, const char *id, int attempt,
                                           int64_t iteration, const void *state, size_t n,
                                           const store_curve_row *rows, size_t nrows);
/** See ::store_ops::training_checkpoint_get: on ::STORE_OK *@p state is malloc'ed and the
 *  caller frees it; on failure *@p iteration = 0, *@p state = NULL, *@p n = 0 (outputs may not
 *  be NULL: ::STORE_INVALID). */
store_status store_training_checkpoint_get(store_conn *c, const char *id, int64_t *iteration,
                                           void **state, size_t *n);
/** See ::store_ops::training_curve_read: rows borrowed for the callback only. */
store_status store_training_curve_read(store_conn *c, const char *id, int64_t after_iteration,
                                       int limit, store_curve_cb cb, void *ctx);
/** See ::store_ops::finish_model: *@p out (may be NULL) is zeroed first and, on ::STORE_OK,
 *  owned by the caller (store_model_clear()); the model exists only once the finish commits. */
store_status store_finish_model(store_conn *c, const char *name, const char *hash, int64_t n,
                                const char *json, const char *labels_json, const char *training_id,
                                store_model *out);
/**@}*/

#ifdef __cplusplus
}
#endif
#endif /* EIR_STORE_H */
