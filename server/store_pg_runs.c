/**
 * @file store_pg_runs.c
 * @brief PostgreSQL backend: the run queue (create, get, request, list, claim, progress, cancel,
 *        release, delete); the claim is shared with finish_commit_claim() (store_pg_finish.c).
 *
 * Claims take the head of the queue with `FOR NO KEY UPDATE SKIP LOCKED` (FOR UPDATE's lock at
 * the strength of an UPDATE of non-key columns; store_pg_lease.c says why), so daemons that claim
 * at the same moment each get a different run without waiting for one another. A claim sets the
 * claimant, attempts + 1 (the attempt number is the fence of every later write of that claim),
 * started_at and the lease's expiry (both by the database's clock) and opens the claim's row in
 * run_claims (the audit of who held which attempt). Every write of a running run names its
 * attempt and matches no row once the run moved on (rescued, claimed again): such a write fails
 * with ::STORE_CONFLICT and changes nothing.
 *
 * Every statement is a constant below with bound parameters; each operation is one statement in
 * autocommit (claim, progress, cancel, release, delete) or one short transaction (create), and
 * the notifications it sends (pg_notify, delivered at commit) are part of it.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eir_random.h"
#include "store_pg_int.h"

/* ---- Statements ------------------------------------------------------------------------- */

/* The claim (run_claim, finish_commit_claim): $1 claimant, $2 lease in ms. The head of the queue
 * (the runs_queue index), skipping rows another claim has locked, becomes running; its claim row
 * is opened (or reopened: a released attempt is claimed again under the same number); `p id`. */
/* ::PG_RUN_COLS of the claimed row (qualified: the UPDATE joins other relations) + request. */
#define CLAIMED_COLS                                                                               \
    "r.id, r.model_id, r.status, r.priority, r.attempts, r.max_attempts, r.cancel_requested, "     \
    "r.seq, r.created_at, r.started_at, r.finished_at, r.progress_done, r.progress_total, "        \
    "r.time_limit, r.error_json, r.meta_json, r.idempotency_key, r.kind, r.subkind, "              \
    "r.labels_json, r.sweep_id, r.sweep_index, r.claimant, r.lease_expires_at, r.request_json"
static const char claim_sql[] =
    "WITH now AS (SELECT " PG_NOW_MS " AS t), "
    "next AS (SELECT seq FROM runs WHERE status = 0 ORDER BY priority DESC, seq LIMIT 1 "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE runs AS r SET status = 1, attempts = r.attempts + 1, claimant = $1, "
    "started_at = now.t, finished_at = NULL, progress_done = 0, "
    "lease_expires_at = now.t + $2::bigint FROM next, now WHERE r.seq = next.seq "
    "RETURNING " CLAIMED_COLS "), "
    "audit AS (INSERT INTO run_claims (run_id, attempt, claimant, claimed_at, lease_until) "
    "SELECT id, attempts, claimant, started_at, lease_expires_at FROM claimed "
    "ON CONFLICT (run_id, attempt) DO UPDATE SET claimant = excluded.claimant, "
    "claimed_at = excluded.claimed_at, lease_until = excluded.lease_until, ended_at = 0, "
    "outcome = '') "
    "SELECT claimed.* FROM claimed";

/* Progress of attempt $2 of run $1: $3 done, $4 total (<= 0 keeps it), $5 lease in ms; renews
 * the lease of the run and of its claim row; `p id`. No row: not running, or another attempt. */
static const char progress_sql[] =
    "WITH now AS (SELECT " PG_NOW_MS " AS t), "
    "u AS (UPDATE runs SET progress_done = $3::bigint, progress_total = CASE WHEN $4::bigint > 0 "
    "THEN $4::bigint ELSE progress_total END, lease_expires_at = now.t + $5::bigint FROM now "
    "WHERE id = $1 AND attempts = $2::int AND status = 1 "
    "RETURNING id, attempts, cancel_requested, lease_expires_at), "
    "c AS (UPDATE run_claims AS rc SET lease_until = u.lease_expires_at FROM u "
    "WHERE rc.run_id = u.id AND rc.attempt = u.attempts AND rc.ended_at = 0) "
    "SELECT u.cancel_requested FROM u";

/* Cancel run $1: queued -> cancelled (`e id`), running -> cancel requested (`o id`). */
static const char cancel_sql[] =
    "UPDATE runs SET status = CASE status WHEN 0 THEN 5 ELSE status END, "
    "finished_at = CASE status WHEN 0 THEN " PG_NOW_MS " ELSE finished_at END, "
    "cancel_requested = CASE status WHEN 1 THEN 1 ELSE cancel_requested END "
    "WHERE id = $1 AND status IN (0, 1) "
    "RETURNING status";

/* Release attempt $2 of run $1: queued again with the attempt not counted (`q id`), or cancelled
 * when a cancel was requested (`e id`); the claim row is closed as 'released'. */
static const char release_sql[] =
    "WITH now AS (SELECT " PG_NOW_MS " AS t), "
    "u AS (UPDATE runs SET status = CASE cancel_requested WHEN 1 THEN 5 ELSE 0 END, "
    "attempts = CASE WHEN cancel_requested = 0 AND attempts > 0 THEN attempts - 1 "
    "ELSE attempts END, "
    "started_at = CASE cancel_requested WHEN 1 THEN started_at END, "
    "finished_at = CASE cancel_requested WHEN 1 THEN now.t END, "
    "progress_done = CASE cancel_requested WHEN 1 THEN progress_done ELSE 0 END, "
    "claimant = '', lease_expires_at = 0 FROM now "
    "WHERE id = $1 AND attempts = $2::int AND status = 1 RETURNING id, status), "
    "c AS (UPDATE run_claims AS rc SET ended_at = now.t, outcome = 'released' FROM u, now "
    "WHERE rc.run_id = u.id AND rc.attempt = $2::int AND rc.ended_at = 0) "
    "SELECT u.status FROM u";

/* A finished run and (ON DELETE CASCADE) its results, chunks, claim rows and labels; `e id`. */
static const char delete_sql[] = "DELETE FROM runs WHERE id = $1 AND status IN (2, 3, 4, 5)";

static const char get_sql[] = "SELECT " PG_RUN_COLS " FROM runs WHERE id = $1";
static const char request_sql[] = "SELECT request_json FROM runs WHERE id = $1";
static const char state_sql[] = "SELECT status, attempts FROM runs WHERE id = $1";
static const char by_key_sql[] = "SELECT id, body_hash FROM runs WHERE idempotency_key = $1";
static const char queued_sql[] = "SELECT count(*) FROM runs WHERE status = 0";
static const char model_exists_sql[] = "SELECT 1 FROM models WHERE id = $1";

/* A queued job: $1 id .. $15 sweep_index (store_run_new's fields). */
static const char insert_sql[] =
    "INSERT INTO runs (id, model_id, status, priority, max_attempts, created_at, "
    "progress_total, time_limit, request_json, idempotency_key, body_hash, kind, subkind, "
    "labels_json, sweep_id, sweep_index) "
    "VALUES ($1, $2, 0, $3::int, $4::int, " PG_NOW_MS ", $5::bigint, $6::float8, $7, $8, $9, "
    "$10, $11, coalesce($12, '{}'), $13, $14::bigint)";

/* Every list: $1 seq bound (cursor), $2 limit + 1, $3/$4 the label conditions, $5 status,
 * $6 model, $7 kind, $8 subkind, $9 sweep (NULL: any). An unnamed statement is planned with
 * the values bound, so the NULL tests fold away and each filter's index is used. */
static const char list_sql[] =
    "SELECT " PG_RUN_COLS " FROM runs AS o WHERE seq < $1::bigint "
    "AND ($5::smallint IS NULL OR status = $5::smallint) AND ($6::text IS NULL OR model_id = $6) "
    "AND ($7::text IS NULL OR kind = $7) AND ($8::text IS NULL OR subkind = $8) "
    "AND ($9::text IS NULL OR sweep_id = $9)" PG_LABEL_CONDS " ORDER BY seq DESC LIMIT $2::int";

/* ---- Shared helpers (store_pg_int.h declares them for the finish, the lease and the sweeps) */

int64_t pg_lease_ms(const struct pgs_conn *pc)
{
    double s = pc->st->cfg.lease_s > 0 ? pc->st->cfg.lease_s : 30.0;
    return (int64_t)(s * 1000.0 + 0.5);
}

store_status pg_run_why_not(struct pgs_conn *pc, const char *id, int attempt, const char *why)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    PGresult *r = pg_exec(pc, state_sql, &p, 0, &st, "cannot read the run");
    if (!r) return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return pg_fail(pc, STORE_NOT_FOUND, "no run %s", id);
    }
    int status = (int)pg_i64(r, 0, 0), now = (int)pg_i64(r, 0, 1);
    PQclear(r);
    if (attempt < 0 || status != STORE_RUN_RUNNING)
        return pg_fail(pc, STORE_CONFLICT, "run %s is %s%s", id,
                       store_run_status_name((store_run_status)status), why);
    if (now != attempt)
        return pg_fail(pc, STORE_CONFLICT,
                       "lease lost: the run is attempt %d now (this claim was attempt %d)", now,
                       attempt);
    /* running in this very attempt: released and claimed again meanwhile */
    return pg_fail(pc, STORE_CONFLICT, "run %s changed meanwhile; try again", id);
}

store_status pg_claim_on(struct pgs_conn *pc, store_run *out)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, pc->st->claimant);
    pg_p_i64(&p, pg_lease_ms(pc));
    store_status st;
    PGresult *r = pg_exec(pc, claim_sql, &p, 0, &st, "cannot claim a run");
    if (!r) return st;
    if (PQntuples(r) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "the queue is empty");
    else if (pg_row_to_run(r, 0, 1, 1, out))
        st = pg_fail(pc, STORE_ERROR, "out of memory reading the claimed run");
    else
        pg_notify(pc, PG_NOTE_PROGRESS, out->id);
    PQclear(r);
    return st;
}

/* ---- Create ------------------------------------------------------------------------------ */

store_status pg_run_new_check(struct pgs_conn *pc, const store_run_new *in)
{
    if (!in->request_json) return pg_fail(pc, STORE_INVALID, "run request missing");
    if (!store_job_kind_prefix(in->kind))
        return pg_fail(pc, STORE_INVALID, "unknown job kind '%.32s' (run, analysis or training)",
                       in->kind);
    if (in->subkind && !store_is_subkind(in->subkind))
        return pg_fail(pc, STORE_INVALID, "a job's subkind must be 1 to %d of a-z, 0-9 and _",
                       STORE_KIND_MAX - 1);
    if (in->idempotency_key) {
        size_t kl = strlen(in->idempotency_key);
        if (kl == 0 || kl > PG_KEY_MAX)
            return pg_fail(pc, STORE_INVALID, "idempotency key must be 1 to %d bytes", PG_KEY_MAX);
        if (!store_is_hex64(in->body_hash))
            return pg_fail(pc, STORE_INVALID,
                           "an idempotency key needs the request body's SHA-256 (64 hex)");
    }
    return STORE_OK;
}

store_status pg_run_insert(struct pgs_conn *pc, const store_run_new *in, const char *sweep_id,
                           int64_t sweep_index, char id[STORE_ID_MAX])
{
    if (eir_random_id(id, STORE_ID_MAX, store_job_kind_prefix(in->kind), 12))
        return pg_fail(pc, STORE_ERROR, "cannot draw a random id");
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_text(&p, in->model_id);
    pg_p_i64(&p, in->priority);
    pg_p_i64(&p, in->max_attempts > 0 ? in->max_attempts : 3);
    pg_p_i64(&p, in->progress_total > 0 ? in->progress_total : 0);
    pg_p_f64(&p, in->time_limit > 0 ? in->time_limit : 0.0);
    pg_p_text(&p, in->request_json);
    pg_p_text(&p, in->idempotency_key);
    pg_p_text(&p, in->idempotency_key ? in->body_hash : NULL);
    pg_p_text(&p, in->kind ? in->kind : "run");
    pg_p_text(&p, in->subkind);
    pg_p_text(&p, in->labels_json);
    pg_p_text(&p, sweep_id);
    if (sweep_id)
        pg_p_i64(&p, sweep_index);
    else
        pg_p_text(&p, NULL);
    store_status st = pg_run(pc, insert_sql, &p, NULL, "cannot queue the run");
    if (st == STORE_NOT_FOUND) /* the foreign key: the model was deleted meanwhile */
        return pg_fail(pc, STORE_NOT_FOUND, "no model %s", in->model_id ? in->model_id : "");
    if (st != STORE_OK) return st;
    return pg_labels_put(pc, id, in->labels_json);
}

/** Who holds idempotency key @p key: *found 1 with its id when the body is the same,
 *  ::STORE_KEY_REUSED when another body used it, *found 0 when nobody did. */
static store_status key_owner(struct pgs_conn *pc, const store_run_new *in, char id[STORE_ID_MAX],
                              int *found)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, in->idempotency_key);
    store_status st;
    *found = 0;
    PGresult *r = pg_exec(pc, by_key_sql, &p, 0, &st, "cannot look up the idempotency key");
    if (!r) return st;
    if (PQntuples(r) == 1) {
        pg_copy_str(id, STORE_ID_MAX, r, 0, 0);
        const char *h = pg_str(r, 0, 1);
        if (h && strcasecmp(h, in->body_hash) == 0)
            *found = 1;
        else
            st = pg_fail(pc, STORE_KEY_REUSED,
                         "idempotency key already used for run %s with a different request body",
                         id);
    }
    PQclear(r);
    return st;
}

store_status pg_queue_room(struct pgs_conn *pc, int64_t adding, int64_t limit)
{
    if (limit <= 0) return STORE_OK;
    /* creates under a limit take turns (a transaction-scoped lock shared by every daemon), so
     * that two daemons never both see room for the last place */
    store_status st = pg_run(pc, "SELECT pg_advisory_xact_lock(" PG_QUEUE_LOCK ")", NULL, NULL,
                             "cannot lock the queue");
    int64_t depth = 0;
    if (st == STORE_OK) st = pg_query_i64(pc, queued_sql, NULL, &depth, "cannot count the queue");
    if (st != STORE_OK) return st;
    if (depth + adding > limit)
        return pg_fail(pc, STORE_QUEUE_FULL,
                       "the queue is full: %" PRId64 " runs queued (limit %" PRId64 ")", depth,
                       limit);
    return STORE_OK;
}

/** Read run @p id into @p out (copied strings, no request); ::STORE_NOT_FOUND. */
static store_status load_run(struct pgs_conn *pc, const char *id, store_run *out)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    PGresult *r = pg_exec(pc, get_sql, &p, 0, &st, "cannot read the run");
    if (!r) return st;
    if (PQntuples(r) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "no run %s", id);
    else if (pg_row_to_run(r, 0, 0, 1, out))
        st = pg_fail(pc, STORE_ERROR, "out of memory reading run %s", id);
    PQclear(r);
    return st;
}

/** A run to queue (pg_run_create()). */
struct run_create {
    const store_run_new *in;
    store_run *out;
    int inserted; /**< a new run was queued (0: the key's existing run was loaded) */
};

/** Body of pg_run_create(): replay the key's run, or check for room and queue a new one. */
static store_status run_create(struct pgs_conn *pc, void *arg)
{
    struct run_create *rc = arg;
    const store_run_new *in = rc->in;
    store_status st;
    char id[STORE_ID_MAX];
    store_run_clear(rc->out); /* a retried body starts afresh */
    rc->inserted = 0;
    if (in->idempotency_key) {
        int found;
        if ((st = key_owner(pc, in, id, &found)) != STORE_OK) return st;
        if (found) return load_run(pc, id, rc->out);
    }
    if ((st = pg_queue_room(pc, 1, in->queue_limit)) != STORE_OK) return st;
    if (in->model_id) {
        struct pg_params p;
        pg_params_init(&p);
        pg_p_text(&p, in->model_id);
        int64_t n = 0;
        if ((st = pg_query_i64(pc, model_exists_sql, &p, &n, "cannot look up the model")))
            return st;
        if (n == 0) return pg_fail(pc, STORE_NOT_FOUND, "no model %s", in->model_id);
    }
    if ((st = pg_run_insert(pc, in, NULL, -1, id)) != STORE_OK) return st;
    if ((st = pg_notify(pc, PG_NOTE_QUEUED, id)) != STORE_OK) return st;
    if ((st = load_run(pc, id, rc->out)) != STORE_OK) return st;
    rc->inserted = 1;
    return STORE_OK;
}

store_status pg_run_create(store_conn *c, const store_run_new *in, store_run *out, int *created)
{
    struct pgs_conn *pc = PGC(c);
    if (!in || !in->request_json || !out)
        return pg_fail(pc, STORE_INVALID, "run request or output missing");
    store_status st = pg_run_new_check(pc, in);
    if (st != STORE_OK) return st;
    memset(out, 0, sizeof *out);
    struct run_create rc = {in, out, 0};
    /* A unique violation (::STORE_CONFLICT) is another create of the same key that committed
     * meanwhile (the next try replays it) or an id drawn twice (the next try draws another). */
    for (int attempt = 1;; attempt++) {
        st = pg_tx_run(pc, run_create, &rc);
        if (st != STORE_CONFLICT || attempt >= 3) break;
    }
    if (st != STORE_OK) {
        store_run_clear(out);
        if (st == STORE_CONFLICT) st = STORE_BUSY; /* three clashes in a row: try again later */
        return st;
    }
    if (created && rc.inserted) *created = 1;
    return STORE_OK;
}

/* ---- Reads ------------------------------------------------------------------------------- */

store_status pg_run_get(store_conn *c, const char *id, store_run *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!id || !out) return pg_fail(pc, STORE_INVALID, "run id or output missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    st = load_run(pc, id, out);
    pg_return(pc);
    return st;
}

store_status pg_run_request(store_conn *c, const char *id, char **json)
{
    struct pgs_conn *pc = PGC(c);
    if (!id || !json) return pg_fail(pc, STORE_INVALID, "run id or output missing");
    *json = NULL;
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    PGresult *r = pg_exec(pc, request_sql, &p, 0, &st, "cannot read the run's request");
    pg_return(pc);
    if (!r) return st;
    if (PQntuples(r) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "no run %s", id);
    else if (pg_dup(r, 0, 0, json) || !*json)
        st = pg_fail(pc, STORE_ERROR, "out of memory reading the request of run %s", id);
    PQclear(r);
    return st;
}

/** The caller's callback of pg_run_list(). */
struct run_page {
    store_run_cb cb;
    void *ctx;
};

/** A row of list_sql to the caller, as a ::store_run pointing into the result. */
static int run_row(const PGresult *res, int row, void *arg)
{
    struct run_page *pg = arg;
    store_run r;
    pg_row_to_run(res, row, 0, 0, &r);
    return pg->cb && pg->cb(pg->ctx, &r);
}

store_status pg_run_list(store_conn *c, const store_run_filter *f, const char *cursor, int limit,
                         store_run_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct pgs_conn *pc = PGC(c);
    int status = f ? f->status : -1;
    if (status < -1 || status >= STORE_RUN_NSTATUS)
        return pg_fail(pc, STORE_INVALID, "unknown run status %d", status);
    struct pg_params p;
    store_status st = pg_params_list(pc, &p, cursor, limit);
    if (st == STORE_OK) st = pg_params_labels(pc, &p, f ? f->labels : NULL);
    if (st != STORE_OK) {
        pg_params_free(&p);
        return st;
    }
    if (status >= 0)
        pg_p_i64(&p, status);
    else
        pg_p_text(&p, NULL);
    pg_p_text(&p, f ? f->model_id : NULL);
    pg_p_text(&p, f ? f->kind : NULL);
    pg_p_text(&p, f ? f->subkind : NULL);
    pg_p_text(&p, f ? f->sweep_id : NULL);
    if ((st = pg_op_begin(pc)) == STORE_OK) {
        struct run_page page = {cb, ctx};
        st = pg_list_page(pc, list_sql, &p, PG_RUN_SEQ_COL, limit, run_row, &page, next,
                          "cannot list runs");
        pg_return(pc);
    }
    pg_params_free(&p);
    return st;
}

/* ---- Writes of one run ------------------------------------------------------------------- */

void pg_claim_unknown(struct pgs_conn *pc, const char *id, int attempt)
{
    snprintf(pc->unclaim_id, sizeof pc->unclaim_id, "%s", id);
    pc->unclaim_attempt = attempt;
}

/**
 * Release the claim noted by pg_claim_unknown(), on pc->db (borrowed): if its COMMIT had been
 * kept, the run is running under this store's claimant with no worker, and its lease would be
 * renewed for ever; released, it is queued again (its attempt not counted). Done (the note
 * cleared) when released or when the run is not in that attempt (the COMMIT was not kept, or
 * it moved on); kept for the next claim when the database cannot be reached. The caller's
 * message is kept.
 */
static void settle_unknown_claim(struct pgs_conn *pc)
{
    if (!pc->unclaim_id[0]) return;
    char keep[STORE_ERRMSG_MAX];
    memcpy(keep, pc->base.errmsg, sizeof keep);
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, pc->unclaim_id);
    pg_p_i64(&p, pc->unclaim_attempt);
    store_status st;
    PGresult *r = pg_exec(pc, release_sql, &p, 0, &st, "cannot release a lost claim");
    if (r && PQntuples(r) == 1)
        pg_notify(pc, pg_i64(r, 0, 0) == 0 ? PG_NOTE_QUEUED : PG_NOTE_ENDED, pc->unclaim_id);
    PQclear(r);
    if (st == STORE_OK) pc->unclaim_id[0] = '\0';
    memcpy(pc->base.errmsg, keep, sizeof keep);
}

/*
 * A claim runs in a transaction of its own (BEGIN, the claim, COMMIT) rather than as one
 * statement in autocommit, so that the claimed run is known before the COMMIT: if the
 * connection is lost while committing (a PostgreSQL restart), the claim may have been kept with
 * nobody to run it, and this conn releases it at its next claim (settle_unknown_claim()).
 */
store_status pg_run_claim(store_conn *c, store_run *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!out) return pg_fail(pc, STORE_INVALID, "output missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    settle_unknown_claim(pc);
    if ((st = pg_begin(pc)) == STORE_OK) st = pg_claim_on(pc, out);
    if (st == STORE_OK && (st = pg_commit(pc)) != STORE_OK) {
        if (st == STORE_BUSY) pg_claim_unknown(pc, out->id, out->attempts);
        store_run_clear(out);
    }
    if (st != STORE_OK) pg_rollback(pc);
    pg_return(pc);
    return st;
}

store_status pg_run_progress(store_conn *c, const char *id, int attempt, int64_t done_steps,
                             int64_t total, int *cancel_requested)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "run id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, attempt);
    pg_p_i64(&p, done_steps < 0 ? 0 : done_steps);
    pg_p_i64(&p, total);
    pg_p_i64(&p, pg_lease_ms(pc));
    PGresult *r = pg_exec(pc, progress_sql, &p, 0, &st, "cannot record progress");
    if (r && PQntuples(r) == 1) {
        if (cancel_requested) *cancel_requested = (int)pg_i64(r, 0, 0);
        pg_notify(pc, PG_NOTE_PROGRESS, id);
    } else if (r) {
        st = pg_run_why_not(pc, id, attempt, ", not running");
    }
    PQclear(r);
    pg_return(pc);
    return st;
}

store_status pg_run_cancel(store_conn *c, const char *id, store_run_status *now)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "run id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    PGresult *r = pg_exec(pc, cancel_sql, &p, 0, &st, "cannot cancel the run");
    if (r && PQntuples(r) == 1) {
        store_run_status s = (store_run_status)pg_i64(r, 0, 0);
        if (now) *now = s;
        pg_notify(pc, s == STORE_RUN_CANCELLED ? PG_NOTE_ENDED : PG_NOTE_OTHER, id);
    } else if (r) { /* not queued or running: cancelled already is fine, else a conflict */
        PQclear(r);
        r = pg_exec(pc, state_sql, &p, 0, &st, "cannot read the run");
        if (r && PQntuples(r) == 0) {
            st = pg_fail(pc, STORE_NOT_FOUND, "no run %s", id);
        } else if (r) {
            store_run_status s = (store_run_status)pg_i64(r, 0, 0);
            if (now) *now = s;
            if (s != STORE_RUN_CANCELLED)
                st = pg_fail(pc, STORE_CONFLICT, "run %s already %s", id, store_run_status_name(s));
        }
    }
    PQclear(r);
    pg_return(pc);
    return st;
}

store_status pg_run_release(store_conn *c, const char *id, int attempt, store_run_status *now)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "run id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, attempt);
    PGresult *r = pg_exec(pc, release_sql, &p, 0, &st, "cannot release the run");
    if (r && PQntuples(r) == 1) {
        store_run_status s = (store_run_status)pg_i64(r, 0, 0);
        if (now) *now = s;
        pg_notify(pc, s == STORE_RUN_QUEUED ? PG_NOTE_QUEUED : PG_NOTE_ENDED, id);
    } else if (r) {
        st = pg_run_why_not(pc, id, attempt, ", not running");
    }
    PQclear(r);
    pg_return(pc);
    return st;
}

store_status pg_run_delete(store_conn *c, const char *id)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "run id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    int64_t deleted = 0;
    st = pg_run(pc, delete_sql, &p, &deleted, "cannot delete the run");
    if (st == STORE_OK && deleted == 0)
        st = pg_run_why_not(pc, id, -1, "; only finished runs can be deleted");
    else if (st == STORE_OK)
        pg_notify(pc, PG_NOTE_ENDED, id);
    pg_return(pc);
    return st;
}
