/**
 * @file store_sqlite_conn.c
 * @brief SQLite backend: the statements, errors, a connection's handles and its transactions.
 *
 * Every statement the backend runs is in the constant table below, prepared once per
 * connection on first use and reused with bound parameters: no SQL is ever built from caller
 * text (tests/security/sql_grep.py checks it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_sqlite_int.h"

/** Columns of a run row, in the order sq_row_to_run() reads them. */
#define RUN_COLS                                                                                   \
    "id, model_id, status, priority, attempts, max_attempts, cancel_requested, seq, "              \
    "created_at, started_at, finished_at, progress_done, progress_total, time_limit, "             \
    "error_json, meta_json, idempotency_key, kind, subkind, labels_json, sweep_id, sweep_index, "  \
    "claimant, lease_expires_at"

/* A list's label conditions (store_labels): ?11/?12 .. ?41/?42 hold up to
 * STORE_MAX_LABEL_FILTERS key/value pairs (sq_bind_labels()), NULL for an unused slot; an object
 * passes when it has every label given. Each condition is one look-up of the labels' primary
 * key. The listed table is aliased `o` in every statement that uses them. Written out (no
 * function-like macro), so that tests/security/sql_grep.py sees a literal. */
#define LABEL_CONDS                                                                                \
    " AND (?11 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?11 AND l.value = ?12))"                                                              \
    " AND (?13 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?13 AND l.value = ?14))"                                                              \
    " AND (?15 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?15 AND l.value = ?16))"                                                              \
    " AND (?17 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?17 AND l.value = ?18))"                                                              \
    " AND (?19 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?19 AND l.value = ?20))"                                                              \
    " AND (?21 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?21 AND l.value = ?22))"                                                              \
    " AND (?23 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?23 AND l.value = ?24))"                                                              \
    " AND (?25 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?25 AND l.value = ?26))"                                                              \
    " AND (?27 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?27 AND l.value = ?28))"                                                              \
    " AND (?29 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?29 AND l.value = ?30))"                                                              \
    " AND (?31 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?31 AND l.value = ?32))"                                                              \
    " AND (?33 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?33 AND l.value = ?34))"                                                              \
    " AND (?35 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?35 AND l.value = ?36))"                                                              \
    " AND (?37 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?37 AND l.value = ?38))"                                                              \
    " AND (?39 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?39 AND l.value = ?40))"                                                              \
    " AND (?41 IS NULL OR EXISTS (SELECT 1 FROM labels AS l WHERE l.object_id = o.id AND "         \
    "l.key = ?41 AND l.value = ?42))"

/* The run lists' filters besides their own: ?3 status (only where the statement does not test
 * it itself), ?7 sweep, and the labels. */
#define RUN_FILTERS " AND (?7 IS NULL OR sweep_id = ?7)" LABEL_CONDS

/* Columns of a sweep row with its runs' counts (sq_row_to_sweep()); the sweep is `o`, its runs
 * `r`, joined and grouped by the sweep. */
#define SWEEP_COLS                                                                                 \
    "o.id, o.name, o.created_at, o.labels_json, o.idempotency_key, o.seq, count(r.id), "           \
    "count(*) FILTER (WHERE r.status = 'queued'), "                                                \
    "count(*) FILTER (WHERE r.status = 'running'), "                                               \
    "count(*) FILTER (WHERE r.status = 'succeeded'), "                                             \
    "count(*) FILTER (WHERE r.status = 'failed'), "                                                \
    "count(*) FILTER (WHERE r.status = 'diverged'), "                                              \
    "count(*) FILTER (WHERE r.status = 'cancelled'), "                                             \
    "coalesce(sum(r.progress_done), 0), coalesce(sum(r.progress_total), 0), "                      \
    "CASE WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) = 0 "                     \
    "THEN coalesce(max(r.finished_at), 0) ELSE 0 END"

#define RESULT_COLS "var, dtype, shape, total_bytes, chunk_size, chunk_count, sha256"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_MODEL_INSERT] = "INSERT INTO models (id, name, hash, n, created_at, json, state, "
                        "labels_json, sweep_id, training_id) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, '{}'), ?9, ?10)",
    [ST_MODEL_GET] = "SELECT id, name, hash, n, created_at, json, state, error, build_s, "
                     "labels_json, sweep_id, training_id FROM models WHERE id = ?1",
    [ST_MODEL_LIST] =
        "SELECT id, name, hash, n, created_at, seq, state, error, build_s, "
        "labels_json, sweep_id, training_id FROM models AS o WHERE seq < ?1" LABEL_CONDS
        " ORDER BY seq DESC LIMIT ?2",
    [ST_MODEL_FINISH] = "UPDATE models SET state = ?2, hash = ?3, error = ?4, build_s = ?5 "
                        "WHERE id = ?1 AND state = 'pending'",
    [ST_MODEL_PENDING] = "SELECT id FROM models WHERE state = 'pending' ORDER BY seq LIMIT ?1",
    [ST_MODEL_EXISTS] = "SELECT 1 FROM models WHERE id = ?1",
    [ST_MODEL_RUNS] = "SELECT count(*) FROM runs WHERE model_id = ?1",
    [ST_MODEL_DELETE] = "DELETE FROM models WHERE id = ?1",
    [ST_MODEL_COUNT] = "SELECT count(*) FROM models",
    [ST_RUN_BY_KEY] = "SELECT id, body_hash FROM runs WHERE idempotency_key = ?1",
    [ST_RUN_INSERT] = "INSERT INTO runs (id, model_id, status, priority, max_attempts, "
                      "created_at, progress_total, time_limit, request_json, idempotency_key, "
                      "body_hash, kind, subkind, labels_json, sweep_id, sweep_index) "
                      "VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                      "coalesce(?13, '{}'), ?14, ?15)",
    [ST_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1",
    [ST_RUN_REQUEST] = "SELECT request_json FROM runs WHERE id = ?1",
    [ST_RUN_STATUS] = "SELECT status, attempts FROM runs WHERE id = ?1",
    /* Lists: ?3 status, ?4 model, ?5 kind, ?6 subkind, ?7 sweep (NULL: any), ?11.. labels; the
     * kind's own statement reads the runs_kind index, a sweep's the runs_sweep index, the others
     * their filter's index. */
    [ST_RUN_LIST_ALL] =
        "SELECT " RUN_COLS " FROM runs AS o WHERE seq < ?1 "
        "AND (?6 IS NULL OR subkind = ?6)" RUN_FILTERS " ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_KIND] =
        "SELECT " RUN_COLS " FROM runs AS o INDEXED BY runs_kind WHERE kind = ?5 "
        "AND seq < ?1 AND (?6 IS NULL OR subkind = ?6)" RUN_FILTERS " ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_STATUS] =
        "SELECT " RUN_COLS " FROM runs AS o WHERE status = ?3 AND seq < ?1 "
        "AND (?5 IS NULL OR kind = ?5) AND (?6 IS NULL OR subkind = ?6)" RUN_FILTERS
        " ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_MODEL] =
        "SELECT " RUN_COLS " FROM runs AS o WHERE model_id = ?4 AND seq < ?1 "
        "AND (?5 IS NULL OR kind = ?5) AND (?6 IS NULL OR subkind = ?6)" RUN_FILTERS
        " ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_BOTH] =
        "SELECT " RUN_COLS " FROM runs AS o WHERE model_id = ?4 AND status = ?3 "
        "AND seq < ?1 AND (?5 IS NULL OR kind = ?5) "
        "AND (?6 IS NULL OR subkind = ?6)" RUN_FILTERS " ORDER BY seq DESC LIMIT ?2",
    [ST_RUN_LIST_SWEEP] =
        "SELECT " RUN_COLS " FROM runs AS o INDEXED BY runs_sweep WHERE sweep_id = ?7 "
        "AND seq < ?1 AND (?3 IS NULL OR status = ?3) "
        "AND (?4 IS NULL OR model_id = ?4) AND (?5 IS NULL OR kind = ?5) "
        "AND (?6 IS NULL OR subkind = ?6)" LABEL_CONDS " ORDER BY seq DESC LIMIT ?2",
    /* The claim: the head of the queue, then its update, in one write transaction (so two
     * workers can never take the same run), then the claimed row. Not one UPDATE ... RETURNING:
     * SQLite buffers RETURNING rows in an ephemeral table, whose allocation cost a worker more
     * than the three statements together (docs/BENCHMARKS.md, "Service"). */
    [ST_RUN_CLAIM_NEXT] = "SELECT seq FROM runs INDEXED BY runs_queue WHERE status = 'queued' "
                          "ORDER BY priority DESC, seq LIMIT 1",
    [ST_RUN_CLAIM] = "UPDATE runs SET status = 'running', attempts = attempts + 1, "
                     "started_at = ?2, finished_at = NULL, progress_done = 0, claimant = ?3, "
                     "lease_expires_at = ?4 WHERE seq = ?1 AND status = 'queued'",
    [ST_RUN_GET_SEQ] = "SELECT " RUN_COLS ", request_json FROM runs WHERE seq = ?1",
    /* fenced writes of a running run: ?N attempt is the claim's attempt number */
    [ST_RUN_PROGRESS] = "UPDATE runs SET progress_done = ?2, progress_total = "
                        "CASE WHEN ?3 > 0 THEN ?3 ELSE progress_total END, lease_expires_at = ?5 "
                        "WHERE id = ?1 AND status = 'running' AND attempts = ?4 "
                        "RETURNING cancel_requested",
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
                       "END, claimant = '', lease_expires_at = 0 "
                       "WHERE id = ?1 AND status = 'running' AND attempts = ?3 RETURNING status",
    [ST_RUN_DELETE] = "DELETE FROM runs WHERE id = ?1 AND "
                      "status IN ('succeeded', 'failed', 'diverged', 'cancelled')",
    [ST_RUN_FINISH] = "UPDATE runs SET status = ?2, finished_at = ?3, meta_json = ?4, "
                      "error_json = ?5, progress_done = CASE WHEN ?2 = 'succeeded' AND "
                      "progress_total > 0 THEN progress_total ELSE progress_done END, "
                      "claimant = '', lease_expires_at = 0 "
                      "WHERE id = ?1 AND status = 'running' AND attempts = ?6",
    [ST_QUEUE_DEPTH] = "SELECT count(*) FROM runs WHERE status = 'queued'",
    [ST_COUNTS] = "SELECT kind, status, count(*) FROM runs GROUP BY kind, status",
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
    [ST_REQUEUE_CANCEL] = "UPDATE runs SET status = 'cancelled', finished_at = ?1, "
                          "claimant = '', lease_expires_at = 0 "
                          "WHERE status = 'running' AND cancel_requested = 1",
    [ST_REQUEUE_FAIL] =
        "UPDATE runs SET status = 'failed', finished_at = ?1, error_json = json_object("
        "'title', 'attempt limit reached', 'detail', printf('the run was interrupted by a "
        "restart of the daemon on each of its %d attempts (max_attempts %d) and is not retried',"
        " attempts, max_attempts), 'attempts', attempts, 'max_attempts', max_attempts), "
        "claimant = '', lease_expires_at = 0 "
        "WHERE status = 'running' AND attempts >= max_attempts",
    [ST_REQUEUE_QUEUE] = "UPDATE runs SET status = 'queued', started_at = NULL, "
                         "progress_done = 0, claimant = '', lease_expires_at = 0 "
                         "WHERE status = 'running'",
    [ST_REQUEUE_STAGED] = "DELETE FROM results WHERE complete = 0",
    /* leases (store_sqlite_lease.c): ?1 now, ?2 the new expiry, ?3 the store's claimant */
    [ST_LEASE_RENEW] = "UPDATE runs SET lease_expires_at = ?2 "
                       "WHERE id = ?1 AND attempts = ?4 AND status = 'running' AND claimant = ?3",
    /* the rescue: as the requeue above, but only of running runs whose lease expired (< ?1);
     * staged results of their interrupted finishes first, while they are still running */
    [ST_RESCUE_STAGED] = "DELETE FROM results WHERE complete = 0 AND run_id IN (SELECT id FROM "
                         "runs WHERE status = 'running' AND "
                         "lease_expires_at < ?1)",
    [ST_RESCUE_CANCEL] = "UPDATE runs SET status = 'cancelled', finished_at = ?1, "
                         "claimant = '', lease_expires_at = 0 WHERE status = 'running' "
                         "AND lease_expires_at < ?1 AND cancel_requested = 1",
    [ST_RESCUE_FAIL] =
        "UPDATE runs SET status = 'failed', finished_at = ?1, error_json = json_object("
        "'title', 'attempt limit reached', 'detail', printf('the run''s lease expired (its "
        "daemon stopped or lost the database) on each of its %d attempts (max_attempts %d) and "
        "is not retried', attempts, max_attempts), 'attempts', attempts, 'max_attempts', "
        "max_attempts), claimant = '', lease_expires_at = 0 "
        "WHERE status = 'running' AND lease_expires_at < ?1 AND attempts >= max_attempts",
    [ST_RESCUE_QUEUE] = "UPDATE runs SET status = 'queued', started_at = NULL, "
                        "progress_done = 0, claimant = '', lease_expires_at = 0 "
                        "WHERE status = 'running' AND lease_expires_at < ?1",
    [ST_QUICK_CHECK] = "PRAGMA quick_check",
    [ST_FK_CHECK] = "PRAGMA foreign_key_check",
    [ST_VERIFY_RESULTS] = "SELECT run_id, var, total_bytes, chunk_size, chunk_count, sha256 "
                          "FROM results WHERE complete = 1 ORDER BY run_id, var",
    [ST_VERIFY_CHUNKS] = "SELECT chunk_index, data FROM result_chunks "
                         "WHERE run_id = ?1 AND var = ?2 ORDER BY chunk_index",
    /* change detection (store_sqlite_watch.c): the counter SQLite bumps on every commit of
     * another connection, and the indexes in the JSON array ?1 of run ids that are not queued
     * or running (final or gone), one lookup of the runs' id index per element */
    [ST_DATA_VERSION] = "PRAGMA data_version",
    /* a sweep's id ("s_...") is settled when none of its runs is queued or running: its runs
     * are read through the runs_sweep index, a run's id finds no sweep at once */
    [ST_RUNS_SETTLED] = "SELECT j.key FROM json_each(?1) AS j WHERE NOT EXISTS (SELECT 1 FROM "
                        "runs WHERE runs.id = j.value AND runs.status IN ('queued', 'running')) "
                        "AND NOT EXISTS (SELECT 1 FROM runs INDEXED BY runs_sweep WHERE "
                        "runs.sweep_id = j.value AND runs.status IN ('queued', 'running'))",
    /* labels (store_sqlite_labels.c): the object's labels_json checked (an object whose members
     * are all strings), then one row per member */
    [ST_LABELS_TYPE] = "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END",
    [ST_LABELS_NONTEXT] = "SELECT count(*) FROM json_each(?1) WHERE type <> 'text'",
    [ST_LABELS_INSERT] = "INSERT OR REPLACE INTO labels (object_id, key, value) "
                         "SELECT ?1, key, value FROM json_each(?2)",
    /* sweeps (store_sqlite_sweeps.c) */
    [ST_SWEEP_BY_KEY] = "SELECT id, body_hash FROM sweeps WHERE idempotency_key = ?1",
    [ST_SWEEP_INSERT] = "INSERT INTO sweeps (id, name, created_at, request_json, labels_json, "
                        "idempotency_key, body_hash) "
                        "VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'), ?6, ?7)",
    [ST_SWEEP_GET] = "SELECT " SWEEP_COLS ", o.request_json FROM sweeps AS o LEFT JOIN runs AS r "
                     "ON r.sweep_id = o.id WHERE o.id = ?1 GROUP BY o.seq",
    [ST_SWEEP_LIST] = "SELECT " SWEEP_COLS " FROM sweeps AS o LEFT JOIN runs AS r "
                      "ON r.sweep_id = o.id WHERE o.seq < ?1" LABEL_CONDS
                      " GROUP BY o.seq ORDER BY o.seq DESC LIMIT ?2",
    [ST_SWEEP_EXISTS] = "SELECT 1 FROM sweeps WHERE id = ?1",
    [ST_SWEEP_RUNS] = "SELECT " RUN_COLS " FROM runs INDEXED BY runs_sweep WHERE sweep_id = ?1 "
                      "ORDER BY sweep_index",
    [ST_SWEEP_ACTIVE] = "SELECT count(*) FROM runs INDEXED BY runs_sweep WHERE sweep_id = ?1 "
                        "AND status IN ('queued', 'running')",
    [ST_SWEEP_CANCEL] = "UPDATE runs SET "
                        "status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END, "
                        "finished_at = CASE status WHEN 'queued' THEN ?2 ELSE finished_at END, "
                        "cancel_requested = CASE status WHEN 'running' THEN 1 "
                        "ELSE cancel_requested END "
                        "WHERE sweep_id = ?1 AND status IN ('queued', 'running')",
    /* a sweep's runs go with their results, chunks (ON DELETE CASCADE) and labels (trigger);
     * then the models it created that no job uses any more */
    [ST_SWEEP_DELETE_RUNS] = "DELETE FROM runs WHERE sweep_id = ?1",
    [ST_SWEEP_DELETE_MODELS] = "DELETE FROM models WHERE sweep_id = ?1 AND NOT EXISTS "
                               "(SELECT 1 FROM runs WHERE runs.model_id = models.id)",
    [ST_SWEEP_DELETE] = "DELETE FROM sweeps WHERE id = ?1",
    /* trainings (store_sqlite_train.c): the fence of a checkpoint (a holder's write: renews the
     * lease as progress does), the checkpoint replaced, curve rows upserted, and the reads */
    [ST_TRAIN_FENCE] = "UPDATE runs SET lease_expires_at = ?3 "
                       "WHERE id = ?1 AND status = 'running' AND attempts = ?2",
    [ST_TRAIN_CKPT_PUT] = "INSERT INTO training_checkpoints (run_id, iteration, written_at, state) "
                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id) DO UPDATE SET "
                          "iteration = excluded.iteration, written_at = excluded.written_at, "
                          "state = excluded.state",
    [ST_TRAIN_CURVE_PUT] = "INSERT OR REPLACE INTO training_curve (run_id, iteration, loss, "
                           "task_loss, l2_weights, l2_rates, grad_norm, accuracy, eval_accuracy) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* rowid and size only: the bytes are copied with incremental BLOB I/O */
    [ST_TRAIN_CKPT_GET] = "SELECT rowid, iteration, length(state) FROM training_checkpoints "
                          "WHERE run_id = ?1",
    [ST_TRAIN_CURVE_READ] = "SELECT iteration, loss, task_loss, l2_weights, l2_rates, grad_norm, "
                            "accuracy, eval_accuracy FROM training_curve "
                            "WHERE run_id = ?1 AND iteration > ?2 ORDER BY iteration LIMIT ?3",
};

void sq_set_err(struct sq_conn *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->base.errmsg, sizeof sc->base.errmsg, fmt, ap);
    va_end(ap);
}

store_status sq_fail(struct sq_conn *sc, store_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->base.errmsg, sizeof sc->base.errmsg, fmt, ap);
    va_end(ap);
    return st;
}

/** Map an SQLite result code to a store status, with @p what and the message of handle @p db.
 *  Fatal errors (I/O, corruption) mark the connection for reopening. */
store_status sq_fail_rc_on(struct sq_conn *sc, sqlite3 *db, int rc, const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sq_set_err(sc, "%s: %s (SQLite code %d)", what, msg, rc);
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

/** sq_fail_rc_on() with the connection's own handle. */
store_status sq_fail_rc(struct sq_conn *sc, int rc, const char *what)
{
    return sq_fail_rc_on(sc, sc->db, rc, what);
}

void sq_close_db(struct sq_conn *sc)
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
    sc->data_version_known = 0; /* a new handle's counter starts anew */
    sq_writer_reset(&sc->w);    /* the writer lock is kept: a caller may hold it across a reopen */
}

/** Run a few fixed PRAGMAs/statements on a raw handle; returns an SQLite code. */
int sq_exec_fixed(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/**
 * Open a raw SQLite handle on the database file @p path (read-write; with @p create, creating
 * the file if missing) for one thread at a time (SQLITE_OPEN_NOMUTEX), with extended result
 * codes. Both the store's open (store_sqlite_open()) and every connection's handles go through
 * here. Returns an SQLite code; on failure *@p out is NULL and @p err (if given) says why.
 */
int sq_open_handle(const char *path, int create, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (err && errlen)
            snprintf(err, errlen, "cannot open database %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        *out = NULL;
        return rc;
    }
    sqlite3_extended_result_codes(db, 1);
    *out = db;
    return SQLITE_OK;
}

/**
 * Open a per-thread SQLite handle with this connection's settings into *@p out: the
 * connection's handle, or with @p reader its handle for result reads (sq_result_read()), which
 * never writes and gets a page cache of 8 MiB instead of SQLite's 2 MB.
 */
store_status sq_open_db(struct sq_conn *sc, sqlite3 **out, int reader)
{
    const store_config *cfg = &sc->st->cfg;
    sqlite3 *db = NULL;
    int rc = sq_open_handle(sc->st->path, 0, &db, sc->base.errmsg, sizeof sc->base.errmsg);
    if (rc != SQLITE_OK) return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    sqlite3_busy_handler(db, sq_busy_wait, sc);
    if (!reader)
        sqlite3_wal_hook(db, sq_on_wal_commit, sc); /* checkpoints outside the writer lock */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; "
             "PRAGMA journal_size_limit = %d; PRAGMA mmap_size = %" PRId64 ";",
             SQ_JOURNAL_SIZE_LIMIT, cfg->mmap_size);
    rc = sq_exec_fixed(db, pragmas);
    if (rc == SQLITE_OK && reader) rc = sq_exec_fixed(db, "PRAGMA cache_size = -8192");
    if (rc != SQLITE_OK) {
        sq_set_err(sc, "cannot set up database %s: %s", sc->st->path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }
    *out = db;
    if (!reader) sc->broken = 0;
    return STORE_OK;
}

/** Make the connection usable: reopen after a fatal error, open lazily. */
store_status sq_conn_ready(struct sq_conn *sc)
{
    if (sc->broken && !sc->w.active) sq_close_db(sc);
    if (!sc->db) return sq_open_db(sc, &sc->db, 0);
    return STORE_OK;
}

/** sq_conn_ready() for every operation but the finish ones: refuses while a finish is open. */
store_status sq_conn_op(struct sq_conn *sc)
{
    if (sc->w.active)
        return sq_fail(sc, STORE_INVALID,
                       "a finish of run %s is in progress on this connection; commit or abort it "
                       "first",
                       sc->w.run_id);
    return sq_conn_ready(sc);
}

/**
 * Statement @p id on handle @p db, kept in *@p slot (prepared on first use).
 * @return it, or NULL with *st set (and the connection's message) when it cannot be prepared.
 */
sqlite3_stmt *sq_prepared(struct sq_conn *sc, sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id,
                          store_status *st)
{
    if (!*slot) {
        int rc = sqlite3_prepare_v3(db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            *st = sq_fail_rc_on(sc, db, rc, "cannot prepare a statement");
            return NULL;
        }
    }
    return *slot;
}

/** The prepared statement @p id (prepared on first use); NULL with *st set on failure. */
sqlite3_stmt *sq_stmt(struct sq_conn *sc, enum stmt_id id, store_status *st)
{
    if (!sc->db) {
        *st = sq_fail(sc, STORE_ERROR, "not connected to the database");
        return NULL;
    }
    return sq_prepared(sc, sc->db, &sc->stmt[id], id, st);
}

void sq_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

int sq_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (i > sqlite3_bind_parameter_count(s)) return SQLITE_OK;
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

int sq_bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
    if (i > sqlite3_bind_parameter_count(s)) return SQLITE_OK;
    return sqlite3_bind_int64(s, i, v);
}

/** Step @p s to the end, ignoring rows; resets it. */
store_status sq_run_stmt(struct sq_conn *sc, sqlite3_stmt *s, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    store_status st = rc == SQLITE_DONE ? STORE_OK : sq_fail_rc(sc, rc, what);
    sq_done(s);
    return st;
}

/** Run the fixed statement @p id (no parameters). */
store_status sq_run_fixed(struct sq_conn *sc, enum stmt_id id, const char *what)
{
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, id, &st);
    return s ? sq_run_stmt(sc, s, what) : st;
}

/** Roll back the open transaction, if any, keeping the connection's message. */
static void rollback_open(struct sq_conn *sc)
{
    /* no transaction, or SQLite already rolled it back (e.g. after SQLITE_FULL) */
    if (sc->db && !sqlite3_get_autocommit(sc->db)) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, sc->base.errmsg, sizeof keep);
        if (sq_run_fixed(sc, ST_ROLLBACK, "rollback") != STORE_OK)
            sc->broken = 1; /* cannot tell the state: start afresh */
        memcpy(sc->base.errmsg, keep, sizeof keep);
    }
}

/** End the transaction, if any, without keeping it; releases the writer lock. */
void sq_tx_rollback(struct sq_conn *sc)
{
    rollback_open(sc);
    sq_wl_unlock(sc);
}

store_status sq_tx_begin(struct sq_conn *sc)
{
    store_status st = sq_wl_lock(sc, NULL);
    if (st == STORE_OK) st = sq_run_fixed(sc, ST_BEGIN, "cannot start a write transaction");
    if (st != STORE_OK) sq_tx_rollback(sc);
    return st;
}

/**
 * COMMIT (rolling back if that fails) and release the writer lock; with @p durable, then wait
 * until the commit is on stable storage (group sync, see ::sq_gsync).
 */
store_status sq_tx_commit(struct sq_conn *sc, int durable)
{
    store_status st = sq_run_fixed(sc, ST_COMMIT, "cannot commit");
    uint64_t ticket = st == STORE_OK && durable ? sq_gs_ticket(sc) : 0;
    sq_tx_rollback(sc);
    if (ticket) st = sq_gs_wait(sc, ticket);
    if (st == STORE_OK) sq_maybe_checkpoint(sc);
    return st;
}

/** Roll back (if in a transaction) and pass @p st through. */
store_status sq_tx_fail(struct sq_conn *sc, store_status st)
{
    sq_tx_rollback(sc);
    return st;
}

/**
 * The one place where a write meets the machinery around it. In order: make the connection
 * usable; take the writer lock (waiting in line, at most the busy timeout: ::STORE_BUSY);
 * BEGIN IMMEDIATE with ::SQ_TX_BEGIN; the body; COMMIT, or ROLLBACK when anything failed;
 * release the lock; with ::SQ_TX_DURABLE wait until the outcome is on stable storage; and
 * checkpoint when the WAL has grown. Bodies hold only the logic of their operation.
 *
 * Durability: when the body changed rows, the wait covers this commit (its group-sync ticket);
 * when it changed nothing (a refusal, an idempotent replay), it covers every commit appended so
 * far, because the answer reports a state that another thread may have committed and not yet
 * synced. A connection that already held the writer lock (a body run inside another) leaves the
 * lock and the wait to the outer holder.
 */
store_status sq_tx_run(struct sq_conn *sc, unsigned mode, sq_tx_body body, void *ctx)
{
    store_status st = sq_conn_ready(sc);
    if (st != STORE_OK) return st;
    int acquired = 0;
    if ((st = sq_wl_lock(sc, &acquired)) != STORE_OK) return st;
    sqlite3_int64 before = sqlite3_total_changes64(sc->db);
    if (mode & SQ_TX_BEGIN) st = sq_run_fixed(sc, ST_BEGIN, "cannot start a write transaction");
    if (st == STORE_OK) st = body(sc, ctx);
    if (st == STORE_OK && (mode & SQ_TX_BEGIN)) st = sq_run_fixed(sc, ST_COMMIT, "cannot commit");
    int durable = st == STORE_OK && acquired && (mode & SQ_TX_DURABLE);
    uint64_t ticket =
        durable && sc->db && sqlite3_total_changes64(sc->db) != before ? sq_gs_ticket(sc) : 0;
    rollback_open(sc); /* a failed body or COMMIT */
    if (acquired) sq_wl_unlock(sc);
    if (durable) st = ticket ? sq_gs_wait(sc, ticket) : sq_gs_wait_all(sc);
    if (st == STORE_OK) sq_maybe_checkpoint(sc);
    return st;
}
