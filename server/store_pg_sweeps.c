/**
 * @file store_pg_sweeps.c
 * @brief PostgreSQL backend: sweeps (create, get, list, runs, cancel, delete; docs/SWEEPS.md).
 *
 * As in the SQLite backend, a sweep is a row of `sweeps` (its request and labels) and the runs
 * that point back to it (runs.sweep_id, runs.sweep_index); its state is computed from them by
 * one grouped join (::PG_SWEEP_COLS), never stored twice, and each point is an ordinary queued
 * run that claims, leases, finishes, cancels, rescues and deletes treat like any other.
 *
 * A sweep of thousands of points is created in one transaction with a few statements: its
 * models and its runs go in as batches of rows, each batch one INSERT ... SELECT FROM unnest()
 * of array parameters (store_pg_labels.h) whose label rows the same statement makes from the
 * stored labels_json; nothing is sent or parsed per row.
 *
 * Concurrency: creates under one idempotency key are serialised by a transaction-level
 * advisory lock on the key (so a replay waits for the first create and answers its sweep);
 * cancel and delete lock the sweep's row first, so a delete racing a cancel or another delete
 * finds the sweep gone (::STORE_NOT_FOUND), and delete locks the sweep's models before
 * deciding which of them no run uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_random.h"
#include "store_pg_int.h"
#include "store_pg_labels.h"

/** First key of the advisory locks of sweep creates ("eirs"); the second is the idempotency
 *  key's hashtext(). Distinct from the migrations' one-key lock (a different lock space). */
#define SWEEP_LOCK_CLASS "1701999219"
/** Most rows of one batch INSERT, and the bytes of request/document text after which a batch
 *  is sent before it is full (bounds the parameters' size whatever the sweep's). */
#define BATCH_ROWS 2000
#define BATCH_BYTES ((size_t)8 << 20)

/* ---- statements -------------------------------------------------------------------------- */

/** The sweep with its counts; $1 its id. */
#define SQL_SWEEP_GET                                                                              \
    "SELECT " PG_SWEEP_COLS ", o.request_json FROM sweeps AS o LEFT JOIN runs AS r "               \
    "ON r.sweep_id = o.id WHERE o.id = $1 GROUP BY o.seq"
/** A page of sweeps, newest first: the inner query picks the page (seq < $1, labels $3/$4,
 *  LIMIT $2) so that only its sweeps' runs are counted (through runs_sweep). */
#define SQL_SWEEP_LIST                                                                             \
    "SELECT " PG_SWEEP_COLS " FROM sweeps AS o LEFT JOIN runs AS r ON r.sweep_id = o.id "          \
    "WHERE o.seq IN (SELECT o.seq FROM sweeps AS o WHERE o.seq < $1" PG_LABEL_CONDS                \
    " ORDER BY o.seq DESC LIMIT $2) GROUP BY o.seq ORDER BY o.seq DESC"
#define SQL_SWEEP_EXISTS "SELECT 1 FROM sweeps WHERE id = $1"
/** Lock the sweep's row for a cancel or delete (::STORE_NOT_FOUND when none). */
#define SQL_SWEEP_LOCK "SELECT 1 FROM sweeps WHERE id = $1 FOR UPDATE"
#define SQL_SWEEP_BY_KEY "SELECT id, body_hash FROM sweeps WHERE idempotency_key = $1"
#define SQL_KEY_LOCK "SELECT pg_advisory_xact_lock(" SWEEP_LOCK_CLASS ", hashtext($1))"
#define SQL_QUEUE_DEPTH "SELECT count(*) FROM runs WHERE status = 0"
/** The sweep row and its label rows; answers the time it stored (the database's clock). */
#define SQL_SWEEP_INSERT                                                                           \
    "WITH s AS (INSERT INTO sweeps (id, name, created_at, request_json, labels_json, "             \
    "idempotency_key, body_hash) VALUES ($1, $2, " PG_NOW_MS ", $3, coalesce($4, '{}'), $5, $6) "  \
    "RETURNING id, labels_json, created_at), "                                                     \
    "l AS (INSERT INTO labels (object_id, key, value) SELECT s.id, j.key, j.value "                \
    "FROM s CROSS JOIN LATERAL jsonb_each_text(s.labels_json::jsonb) AS j) "                       \
    "SELECT created_at FROM s"
/** The first of the model ids $1 (text[]) that is already used, if any. */
#define SQL_MODELS_TAKEN "SELECT id FROM models WHERE id = ANY ($1::text[]) LIMIT 1"
/** A batch of the sweep's new models, pending, with their label rows: $1 created_at, $2 the
 *  sweep, $3.. arrays of id, name, n, json, labels_json (NULL: none). The label rows are plain
 *  inserts (no ON CONFLICT, which doubled their cost): the objects are new, jsonb keeps one
 *  value per key, and an object's old rows went with it (the delete triggers). */
#define SQL_MODELS_INSERT                                                                          \
    "WITH m AS (INSERT INTO models (id, name, hash, n, created_at, json, state, labels_json, "     \
    "sweep_id) SELECT u.id, u.name, '', u.n, $1, u.json, 'pending', coalesce(u.labels, '{}'), $2 " \
    "FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) "                   \
    "AS u (id, name, n, json, labels) RETURNING id, labels_json) "                                 \
    "INSERT INTO labels (object_id, key, value) SELECT m.id, j.key, j.value "                      \
    "FROM m CROSS JOIN LATERAL jsonb_each_text(m.labels_json::jsonb) AS j "                        \
    "WHERE m.labels_json <> '{}'"
/** Index (1-based, in the batch) of the first model id of $1 (text[], NULL: inline) that names
 *  no model, if any. */
#define SQL_MODELS_MISSING                                                                         \
    "SELECT u.i FROM unnest($1::text[]) WITH ORDINALITY AS u (mid, i) WHERE u.mid IS NOT NULL "    \
    "AND NOT EXISTS (SELECT 1 FROM models AS m WHERE m.id = u.mid) ORDER BY u.i LIMIT 1"
/** A batch of the sweep's runs, queued, with their label rows: $1 created_at, $2 the sweep,
 *  $3 the batch's first point index, $4.. arrays of id, model_id, priority, max_attempts,
 *  progress_total, time_limit, request_json, subkind, labels_json. */
#define SQL_RUNS_INSERT                                                                            \
    "WITH r AS (INSERT INTO runs (id, model_id, status, priority, max_attempts, created_at, "      \
    "progress_total, time_limit, request_json, kind, subkind, labels_json, sweep_id, "             \
    "sweep_index) SELECT u.id, u.model_id, 0, u.priority, u.max_attempts, $1, u.total, "           \
    "u.time_limit, u.request, 'run', u.subkind, coalesce(u.labels, '{}'), $2, $3 + u.i - 1 "       \
    "FROM unnest($4::text[], $5::text[], $6::integer[], $7::integer[], $8::bigint[], "             \
    "$9::float8[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY AS u (id, model_id, "    \
    "priority, max_attempts, total, time_limit, request, subkind, labels, i) "                     \
    "RETURNING id, labels_json) "                                                                  \
    "INSERT INTO labels (object_id, key, value) SELECT r.id, j.key, j.value "                      \
    "FROM r CROSS JOIN LATERAL jsonb_each_text(r.labels_json::jsonb) AS j "                        \
    "WHERE r.labels_json <> '{}'"
/** The sweep's runs in point order, with the sweep's existence tested in the same snapshot. */
#define SQL_SWEEP_RUNS_CURSOR                                                                      \
    "DECLARE sweep_runs NO SCROLL CURSOR FOR SELECT " PG_RUN_COLS " FROM runs "                    \
    "WHERE sweep_id = $1 ORDER BY sweep_index"
#define SQL_SWEEP_RUNS_FETCH "FETCH 500 FROM sweep_runs"
/** Cancel the sweep's queued runs (status 5 at once, "e id") and ask its running ones to stop
 *  (cancel_requested, "o id"); answers one notification payload per run. */
#define SQL_SWEEP_CANCEL                                                                           \
    "WITH u AS (UPDATE runs SET status = CASE WHEN status = 0 THEN 5 ELSE status END, "            \
    "finished_at = CASE WHEN status = 0 THEN " PG_NOW_MS " ELSE finished_at END, "                 \
    "cancel_requested = CASE WHEN status = 1 THEN 1 ELSE cancel_requested END "                    \
    "WHERE sweep_id = $1 AND status IN (0, 1) RETURNING id, status) "                              \
    "SELECT CASE WHEN u.status = 5 THEN 'e ' ELSE 'o ' END || u.id FROM u"
#define SQL_SWEEP_ACTIVE "SELECT count(*) FROM runs WHERE sweep_id = $1 AND status IN (0, 1)"
/** Lock the models the sweep created, so that no run starts using one while it is judged. */
#define SQL_SWEEP_MODELS_LOCK                                                                      \
    "SELECT count(*) FROM (SELECT 1 FROM models WHERE sweep_id = $1 FOR UPDATE) AS m"
/** The sweep's runs (results, chunks, claims: ON DELETE CASCADE; labels: trigger), "e id". */
#define SQL_SWEEP_DELETE_RUNS "DELETE FROM runs WHERE sweep_id = $1 RETURNING 'e ' || id"
/** The models the sweep created that no job uses any more, "o id". */
#define SQL_SWEEP_DELETE_MODELS                                                                    \
    "WITH d AS (DELETE FROM models AS m WHERE m.sweep_id = $1 AND NOT EXISTS "                     \
    "(SELECT 1 FROM runs WHERE runs.model_id = m.id) RETURNING id) SELECT 'o ' || d.id FROM d"
#define SQL_SWEEP_DELETE "DELETE FROM sweeps WHERE id = $1"

/* ---- helpers ----------------------------------------------------------------------------- */

/** Whether @p id is @p prefix + 1 to STORE_ID_MAX - 3 of [a-z0-9] (a drawn id's form). */
static int is_id(const char *id, const char *prefix)
{
    if (!id || strncmp(id, prefix, 2) != 0) return 0;
    size_t n = strlen(id);
    if (n <= 2 || n >= STORE_ID_MAX) return 0;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return 0;
    return 1;
}

/** Read sweep @p id with its counts into @p out (copied strings) on pc->db. ::STORE_NOT_FOUND
 *  when there is none; statement errors as pg_exec(); *out holds nothing on failure. */
static store_status load_sweep(struct pgs_conn *pc, const char *id, int with_request,
                               store_sweep *out)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    memset(out, 0, sizeof *out);
    PGresult *res = pg_exec(pc, SQL_SWEEP_GET, &p, 0, &st, "cannot read the sweep");
    if (!res) return st;
    if (PQntuples(res) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "no sweep %s", id);
    else if (pg_row_to_sweep(res, 0, with_request, 1, out))
        st = pg_fail(pc, STORE_ERROR, "out of memory reading sweep %s", id);
    PQclear(res);
    return st;
}

/** Lock sweep @p id's row (::STORE_NOT_FOUND when there is none), inside a transaction. */
static store_status lock_sweep(struct pgs_conn *pc, const char *id)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    PGresult *res = pg_exec(pc, SQL_SWEEP_LOCK, &p, 0, &st, "cannot lock the sweep");
    if (!res) return st;
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found ? STORE_OK : pg_fail(pc, STORE_NOT_FOUND, "no sweep %s", id);
}

/** Copy the connection's message and set it again as "<prefix>: <message>" with @p st. */
static store_status prefix_fail(struct pgs_conn *pc, store_status st, const char *prefix)
{
    char why[STORE_ERRMSG_MAX];
    snprintf(why, sizeof why, "%s", pc->base.errmsg);
    return pg_fail(pc, st, "%s: %s", prefix, why);
}

/* ---- create: checks ---------------------------------------------------------------------- */

/** Labels @p labels_json of @p what (for the message), checked unless it is @p last (the text
 *  checked just before: a sweep's points usually share theirs). */
static store_status check_labels(struct pgs_conn *pc, const char *labels_json, const char **last,
                                 const char *what)
{
    if (!labels_json) return STORE_OK;
    if (*last && (*last == labels_json || strcmp(*last, labels_json) == 0)) return STORE_OK;
    char why[200];
    store_status st = pg_labels_check_text(labels_json, why, sizeof why);
    if (st != STORE_OK) return pg_fail(pc, st, "%s: %s", what, why);
    *last = labels_json;
    return STORE_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/** ::STORE_INVALID when two of the sweep's new models have the same id. */
static store_status check_model_ids_unique(struct pgs_conn *pc, const store_sweep_new *in)
{
    if (in->n_models < 2) return STORE_OK;
    const char **ids = malloc((size_t)in->n_models * sizeof *ids);
    if (!ids) return pg_fail(pc, STORE_ERROR, "out of memory checking the sweep's models");
    for (int64_t i = 0; i < in->n_models; i++)
        ids[i] = in->models[i].id;
    qsort(ids, (size_t)in->n_models, sizeof *ids, cmp_str);
    store_status st = STORE_OK;
    for (int64_t i = 1; i < in->n_models && st == STORE_OK; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            st = pg_fail(pc, STORE_INVALID, "model id %s is given twice in the sweep", ids[i]);
    free(ids);
    return st;
}

/** A point's run: what run_create would refuse, and what a point may not have. */
static store_status check_point(struct pgs_conn *pc, const store_run_new *r, int64_t i)
{
    if (r->kind && strcmp(r->kind, "run") != 0)
        return pg_fail(pc, STORE_INVALID, "point %" PRId64 " of the sweep: kind %.32s, not run", i,
                       r->kind);
    if (r->idempotency_key)
        return pg_fail(pc, STORE_INVALID,
                       "point %" PRId64 " of the sweep: a point has no idempotency key of its own "
                       "(the sweep's covers it)",
                       i);
    if (!r->request_json)
        return pg_fail(pc, STORE_INVALID, "point %" PRId64 " of the sweep: run request missing", i);
    if (r->subkind && !store_is_subkind(r->subkind))
        return pg_fail(pc, STORE_INVALID,
                       "point %" PRId64 " of the sweep: a job's subkind must be 1 to %d of a-z, "
                       "0-9 and _",
                       i, STORE_KIND_MAX - 1);
    return STORE_OK;
}

/** The checks of pg_sweep_create() that need no database: ::STORE_INVALID naming the field;
 *  ::STORE_ERROR when out of memory. */
static store_status check_sweep_new(struct pgs_conn *pc, const store_sweep_new *in)
{
    if (!is_id(in->id, "s_"))
        return pg_fail(pc, STORE_INVALID, "sweep id must be s_ and lower-case hex, < %d bytes",
                       STORE_ID_MAX);
    if (!in->request_json) return pg_fail(pc, STORE_INVALID, "sweep request missing");
    if (in->n_models < 0 || in->n_runs < 0 || (in->n_models > 0 && !in->models) ||
        (in->n_runs > 0 && !in->runs))
        return pg_fail(pc, STORE_INVALID, "a sweep's models or runs are missing");
    if (in->idempotency_key) {
        size_t kl = strlen(in->idempotency_key);
        if (kl == 0 || kl > PG_KEY_MAX)
            return pg_fail(pc, STORE_INVALID, "idempotency key must be 1 to %d bytes", PG_KEY_MAX);
        if (!store_is_hex64(in->body_hash))
            return pg_fail(pc, STORE_INVALID,
                           "an idempotency key needs the request body's SHA-256 (64 hex)");
    }
    const char *last = NULL;
    store_status st = check_labels(pc, in->labels_json, &last, "the sweep's labels");
    if (st != STORE_OK) return st;
    char what[64];
    for (int64_t i = 0; i < in->n_models; i++) {
        const store_sweep_model *m = &in->models[i];
        if (!is_id(m->id, "m_") || !m->json || m->n < 0)
            return pg_fail(pc, STORE_INVALID,
                           "model %" PRId64 " of the sweep: needs an m_ id, a document and N >= 0",
                           i);
        snprintf(what, sizeof what, "model %" PRId64 " of the sweep", i);
        if ((st = check_labels(pc, m->labels_json, &last, what)) != STORE_OK) return st;
    }
    if ((st = check_model_ids_unique(pc, in)) != STORE_OK) return st;
    for (int64_t i = 0; i < in->n_runs; i++) {
        if ((st = check_point(pc, &in->runs[i], i)) != STORE_OK) return st;
        snprintf(what, sizeof what, "point %" PRId64 " of the sweep", i);
        if ((st = check_labels(pc, in->runs[i].labels_json, &last, what)) != STORE_OK) return st;
    }
    return STORE_OK;
}

/* ---- create: the transaction ------------------------------------------------------------- */

/** A sweep to create (pg_sweep_create()). */
struct sweep_create {
    const store_sweep_new *in;
    store_sweep *out;
    int inserted;       /**< a new sweep was stored (0: the key's existing sweep was loaded) */
    char now[24];       /**< the sweep's created_at, as text (its models' and runs' too) */
    char first_idx[24]; /**< the point index of the batch being inserted, as text */
};

/**
 * The sweep already stored under the request's idempotency key, if any: *found = 1 and @p out
 * loaded when its body is the same; ::STORE_KEY_REUSED when another body used the key. Takes
 * the key's advisory lock first, held to the end of the transaction: a concurrent create under
 * the same key waits, then finds this one.
 */
static store_status find_by_key(struct pgs_conn *pc, const store_sweep_new *in, store_sweep *out,
                                int *found)
{
    *found = 0;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, in->idempotency_key);
    store_status st = pg_run(pc, SQL_KEY_LOCK, &p, NULL, "cannot lock the idempotency key");
    if (st != STORE_OK) return st;
    PGresult *res = pg_exec(pc, SQL_SWEEP_BY_KEY, &p, 0, &st, "cannot look up the idempotency key");
    if (!res) return st;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_OK;
    }
    char id[STORE_ID_MAX];
    pg_copy_str(id, sizeof id, res, 0, 0);
    const char *h = pg_str(res, 0, 1);
    int same = h && strcasecmp(h, in->body_hash) == 0;
    PQclear(res);
    if (!same)
        return pg_fail(pc, STORE_KEY_REUSED,
                       "idempotency key already used for sweep %s with a different request body",
                       id);
    *found = 1;
    return load_sweep(pc, id, 0, out);
}

/** ::STORE_QUEUE_FULL when the sweep's runs would take the queue past its limit. */
static store_status check_room(struct pgs_conn *pc, const store_sweep_new *in)
{
    if (in->queue_limit <= 0) return STORE_OK;
    int64_t depth = 0;
    store_status st = pg_query_i64(pc, SQL_QUEUE_DEPTH, NULL, &depth, "cannot count the queue");
    if (st != STORE_OK) return st;
    if (depth + in->n_runs > in->queue_limit)
        return pg_fail(pc, STORE_QUEUE_FULL,
                       "the queue is full: %" PRId64 " runs queued, the sweep's %" PRId64
                       " would pass the limit (%" PRId64 ")",
                       depth, in->n_runs, in->queue_limit);
    return STORE_OK;
}

/** INSERT the sweep row and its labels; cr->now gets its created_at. */
static store_status insert_sweep(struct pgs_conn *pc, struct sweep_create *cr)
{
    const store_sweep_new *in = cr->in;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, in->id);
    pg_p_text(&p, in->name ? in->name : "");
    pg_p_text(&p, in->request_json);
    pg_p_text(&p, in->labels_json);
    pg_p_text(&p, in->idempotency_key);
    pg_p_text(&p, in->idempotency_key ? in->body_hash : NULL);
    store_status st;
    PGresult *res = pg_exec(pc, SQL_SWEEP_INSERT, &p, 0, &st, "cannot store the sweep");
    if (!res) {
        if (st == STORE_CONFLICT) /* the key is locked and was looked up: the id is taken */
            return pg_fail(pc, STORE_INVALID, "sweep id %s is already used", in->id);
        return st;
    }
    snprintf(cr->now, sizeof cr->now, "%s", PQntuples(res) ? pg_str(res, 0, 0) : "0");
    PQclear(res);
    return STORE_OK;
}

/** ::STORE_INVALID naming the first of the ids in array @p ids_array that a model has. */
static store_status check_models_free(struct pgs_conn *pc, const char *ids_array)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, ids_array);
    store_status st;
    PGresult *res = pg_exec(pc, SQL_MODELS_TAKEN, &p, 0, &st, "cannot look up the model ids");
    if (!res) return st;
    if (PQntuples(res) > 0)
        st = pg_fail(pc, STORE_INVALID, "model id %.31s of the sweep is already used",
                     pg_str(res, 0, 0));
    PQclear(res);
    return st;
}

/** INSERT models [@p from, @p to) of the sweep as one statement. */
static store_status insert_model_batch(struct pgs_conn *pc, struct sweep_create *cr, int64_t from,
                                       int64_t to)
{
    const store_sweep_new *in = cr->in;
    pg_array a[5];
    for (int k = 0; k < 5; k++)
        pg_array_init(&a[k]);
    for (int64_t i = from; i < to; i++) {
        const store_sweep_model *m = &in->models[i];
        pg_array_text(&a[0], m->id);
        pg_array_text(&a[1], m->name ? m->name : "");
        pg_array_i64(&a[2], m->n);
        pg_array_text(&a[3], m->json);
        pg_array_text(&a[4], m->labels_json);
    }
    store_status st = STORE_OK;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, cr->now);
    pg_p_text(&p, in->id);
    for (int k = 0; k < 5; k++) {
        const char *text = pg_array_end(&a[k]);
        if (!text) st = pg_fail(pc, STORE_ERROR, "out of memory for the sweep's models");
        pg_p_text(&p, text);
    }
    if (st == STORE_OK) st = check_models_free(pc, a[0].s);
    if (st == STORE_OK) {
        st = pg_run(pc, SQL_MODELS_INSERT, &p, NULL, "cannot store the sweep's models");
        if (st == STORE_CONFLICT)
            st = pg_fail(pc, STORE_INVALID, "a model id of the sweep is already used");
    }
    for (int k = 0; k < 5; k++)
        pg_array_free(&a[k]);
    return st;
}

/** INSERT the sweep's new models, pending (a worker builds each), in batches. */
static store_status insert_models(struct pgs_conn *pc, struct sweep_create *cr)
{
    const store_sweep_new *in = cr->in;
    int64_t from = 0;
    size_t bytes = 0;
    for (int64_t i = 0; i < in->n_models; i++) {
        bytes += strlen(in->models[i].json);
        if (i + 1 == in->n_models || i + 1 - from >= BATCH_ROWS || bytes >= BATCH_BYTES) {
            store_status st = insert_model_batch(pc, cr, from, i + 1);
            if (st != STORE_OK) return st;
            from = i + 1;
            bytes = 0;
        }
    }
    return STORE_OK;
}

/** ::STORE_NOT_FOUND naming the first point of batch @p from whose model (in @p models_array)
 *  does not exist. */
static store_status check_run_models(struct pgs_conn *pc, const store_sweep_new *in,
                                     const char *models_array, int64_t from)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, models_array);
    store_status st;
    PGresult *res = pg_exec(pc, SQL_MODELS_MISSING, &p, 0, &st, "cannot look up the models");
    if (!res) return st;
    if (PQntuples(res) > 0) {
        int64_t i = from + pg_i64(res, 0, 0) - 1;
        st = pg_fail(pc, STORE_NOT_FOUND, "point %" PRId64 " of the sweep: no model %.31s", i,
                     in->runs[i].model_id ? in->runs[i].model_id : "");
    }
    PQclear(res);
    return st;
}

/** INSERT points [@p from, @p to) of the sweep as one statement, under fresh random ids. */
static store_status insert_run_batch(struct pgs_conn *pc, struct sweep_create *cr, int64_t from,
                                     int64_t to)
{
    const store_sweep_new *in = cr->in;
    enum { NA = 9 };
    pg_array a[NA];
    for (int k = 0; k < NA; k++)
        pg_array_init(&a[k]);
    store_status st = STORE_OK;
    for (int64_t i = from; i < to && st == STORE_OK; i++) {
        const store_run_new *r = &in->runs[i];
        char id[STORE_ID_MAX];
        if (eir_random_id(id, sizeof id, "r_", 12)) {
            st = pg_fail(pc, STORE_ERROR, "cannot draw a random id: %s", strerror(errno));
            break;
        }
        pg_array_text(&a[0], id);
        pg_array_text(&a[1], r->model_id);
        pg_array_i64(&a[2], r->priority);
        pg_array_i64(&a[3], r->max_attempts > 0 ? r->max_attempts : 3);
        pg_array_i64(&a[4], r->progress_total > 0 ? r->progress_total : 0);
        pg_array_f64(&a[5], r->time_limit > 0 ? r->time_limit : 0.0);
        pg_array_text(&a[6], r->request_json);
        pg_array_text(&a[7], r->subkind);
        pg_array_text(&a[8], r->labels_json);
    }
    snprintf(cr->first_idx, sizeof cr->first_idx, "%" PRId64, from);
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, cr->now);
    pg_p_text(&p, in->id);
    pg_p_text(&p, cr->first_idx);
    for (int k = 0; k < NA; k++) {
        const char *text = pg_array_end(&a[k]);
        if (!text && st == STORE_OK)
            st = pg_fail(pc, STORE_ERROR, "out of memory for the sweep's runs");
        pg_p_text(&p, text);
    }
    if (st == STORE_OK) st = check_run_models(pc, in, a[1].s, from);
    if (st == STORE_OK) {
        st = pg_run(pc, SQL_RUNS_INSERT, &p, NULL, "cannot queue the sweep's runs");
        if (st == STORE_NOT_FOUND) /* a model was deleted since check_run_models() */
            st = prefix_fail(pc, STORE_NOT_FOUND, "a point's model was deleted meanwhile");
        else if (st == STORE_CONFLICT) /* a drawn id was taken: drawing again will do */
            st = prefix_fail(pc, STORE_BUSY, "a run id drawn for the sweep was taken, try again");
    }
    for (int k = 0; k < NA; k++)
        pg_array_free(&a[k]);
    return st;
}

/** INSERT the sweep's runs in point order, in batches. */
static store_status insert_runs(struct pgs_conn *pc, struct sweep_create *cr)
{
    const store_sweep_new *in = cr->in;
    int64_t from = 0;
    size_t bytes = 0;
    for (int64_t i = 0; i < in->n_runs; i++) {
        bytes += strlen(in->runs[i].request_json);
        if (i + 1 == in->n_runs || i + 1 - from >= BATCH_ROWS || bytes >= BATCH_BYTES) {
            store_status st = insert_run_batch(pc, cr, from, i + 1);
            if (st != STORE_OK) return st;
            from = i + 1;
            bytes = 0;
        }
    }
    return STORE_OK;
}

/** Body of pg_sweep_create() (re-runnable): replay the key's sweep, or check for room and
 *  store it all, announcing the queued runs ("q") and the new sweep and models ("o"). */
static store_status sweep_create(struct pgs_conn *pc, void *arg)
{
    struct sweep_create *cr = arg;
    const store_sweep_new *in = cr->in;
    store_status st;
    store_sweep_clear(cr->out);
    cr->inserted = 0;
    if (in->idempotency_key) {
        int found;
        if ((st = find_by_key(pc, in, cr->out, &found)) != STORE_OK || found) return st;
    }
    if ((st = check_room(pc, in)) != STORE_OK) return st;
    if ((st = insert_sweep(pc, cr)) != STORE_OK) return st;
    if ((st = insert_models(pc, cr)) != STORE_OK) return st;
    if ((st = insert_runs(pc, cr)) != STORE_OK) return st;
    if (in->n_runs > 0 && (st = pg_notify(pc, PG_NOTE_QUEUED, NULL)) != STORE_OK) return st;
    if ((st = pg_notify(pc, PG_NOTE_OTHER, in->id)) != STORE_OK) return st;
    if ((st = load_sweep(pc, in->id, 0, cr->out)) != STORE_OK) return st;
    cr->inserted = 1;
    return STORE_OK;
}

store_status pg_sweep_create(store_conn *c, const store_sweep_new *in, store_sweep *out,
                             int *created)
{
    struct pgs_conn *pc = PGC(c);
    if (!in || !out) return pg_fail(pc, STORE_INVALID, "sweep or output missing");
    memset(out, 0, sizeof *out);
    store_status st = check_sweep_new(pc, in);
    if (st != STORE_OK) return st;
    struct sweep_create cr = {.in = in, .out = out};
    /* one transaction: the sweep, its models and its runs are stored all or not at all */
    if ((st = pg_tx_run(pc, sweep_create, &cr)) != STORE_OK) {
        store_sweep_clear(out);
        return st;
    }
    if (created && cr.inserted) *created = 1;
    return STORE_OK;
}

/* ---- reads ------------------------------------------------------------------------------- */

store_status pg_sweep_get(store_conn *c, const char *id, int with_request, store_sweep *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!id || !out) return pg_fail(pc, STORE_INVALID, "sweep id or output missing");
    memset(out, 0, sizeof *out);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    st = load_sweep(pc, id, with_request, out);
    pg_return(pc);
    return st;
}

/** The caller's callback of pg_sweep_list(). */
struct sweep_page {
    store_sweep_cb cb;
    void *ctx;
};

/** A row of SQL_SWEEP_LIST to the caller, as a ::store_sweep pointing into the result. */
static int sweep_row(const PGresult *res, int row, void *arg)
{
    struct sweep_page *pg = arg;
    store_sweep sw;
    pg_row_to_sweep(res, row, 0, 0, &sw); /* borrowed strings: cannot fail */
    return pg->cb && pg->cb(pg->ctx, &sw);
}

store_status pg_sweep_list(store_conn *c, const store_labels *labels, const char *cursor, int limit,
                           store_sweep_cb cb, void *ctx, char next[STORE_CURSOR_MAX])
{
    struct pgs_conn *pc = PGC(c);
    if (next) next[0] = '\0';
    struct pg_params p;
    store_status st = pg_params_list(pc, &p, cursor, limit);
    if (st == STORE_OK) st = pg_params_labels(pc, &p, labels);
    if (st == STORE_OK) st = pg_op_begin(pc);
    if (st != STORE_OK) {
        pg_params_free(&p);
        return st;
    }
    struct sweep_page page = {cb, ctx};
    st = pg_list_page(pc, SQL_SWEEP_LIST, &p, 5, limit, sweep_row, &page, next,
                      "cannot list sweeps");
    pg_return(pc);
    pg_params_free(&p);
    return st;
}

/** Give the rows of cursor sweep_runs to @p cb, a batch at a time, until they end or @p cb
 *  asks to stop. Statement errors as pg_exec(). */
static store_status fetch_sweep_runs(struct pgs_conn *pc, store_run_cb cb, void *ctx)
{
    for (;;) {
        store_status st;
        PGresult *res =
            pg_exec(pc, SQL_SWEEP_RUNS_FETCH, NULL, 0, &st, "cannot list the sweep's runs");
        if (!res) return st;
        int rows = PQntuples(res), stop = 0;
        for (int i = 0; i < rows && !stop; i++) {
            store_run r;
            pg_row_to_run(res, i, 0, 0, &r); /* borrowed strings: cannot fail */
            stop = cb && cb(ctx, &r);
        }
        PQclear(res);
        if (stop || rows == 0) return STORE_OK;
    }
}

store_status pg_sweep_runs(store_conn *c, const char *id, store_run_cb cb, void *ctx)
{
    struct pgs_conn *pc = PGC(c);
    if (!id) return pg_fail(pc, STORE_INVALID, "sweep id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    /* one snapshot for the sweep and its runs, read through a cursor a batch at a time (a
     * sweep of many points is never whole in memory) */
    st = pg_run(pc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL,
                "cannot start a read transaction");
    if (st == STORE_OK) {
        struct pg_params p;
        pg_params_init(&p);
        pg_p_text(&p, id);
        PGresult *res = pg_exec(pc, SQL_SWEEP_EXISTS, &p, 0, &st, "cannot read the sweep");
        if (res) {
            if (PQntuples(res) == 0) st = pg_fail(pc, STORE_NOT_FOUND, "no sweep %s", id);
            PQclear(res);
        }
        if (st == STORE_OK)
            st = pg_run(pc, SQL_SWEEP_RUNS_CURSOR, &p, NULL, "cannot list the sweep's runs");
        if (st == STORE_OK) st = fetch_sweep_runs(pc, cb, ctx);
        if (st == STORE_OK)
            st = pg_commit(pc); /* closes the cursor */
        else
            pg_rollback(pc);
    }
    pg_return(pc);
    return st;
}

/* ---- writes ------------------------------------------------------------------------------ */

/** The arguments of pg_sweep_cancel() and pg_sweep_delete(). */
struct sweep_op {
    const char *id;
    int64_t count; /**< affected (cancel) or active (delete) runs */
};

/** A one-parameter statement with the sweep's id as $1, its count(*) into *@p n. */
static store_status sweep_count(struct pgs_conn *pc, const char *sql, const char *id, int64_t *n,
                                const char *what)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    return pg_query_i64(pc, sql, &p, n, what);
}

/** A one-parameter statement with the sweep's id as $1 whose rows are notification payloads:
 *  each is queued (pg_note_payload()), their number into *@p n. Errors as pg_exec(). */
static store_status sweep_notes(struct pgs_conn *pc, const char *sql, const char *id, int64_t *n,
                                const char *what)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    store_status st;
    PGresult *r = pg_exec(pc, sql, &p, 0, &st, what);
    *n = 0;
    if (!r) return st;
    *n = PQntuples(r);
    for (int k = 0; k < PQntuples(r); k++)
        pg_note_payload(pc, pg_str(r, k, 0));
    PQclear(r);
    return STORE_OK;
}

/** Body of pg_sweep_cancel() (re-runnable). */
static store_status sweep_cancel(struct pgs_conn *pc, void *arg)
{
    struct sweep_op *op = arg;
    op->count = 0;
    store_status st = lock_sweep(pc, op->id);
    if (st != STORE_OK) return st;
    if ((st = sweep_notes(pc, SQL_SWEEP_CANCEL, op->id, &op->count,
                          "cannot cancel the sweep's runs")) != STORE_OK)
        return st;
    return pg_notify(pc, PG_NOTE_ENDED, op->id);
}

store_status pg_sweep_cancel(store_conn *c, const char *id, int64_t *affected)
{
    struct pgs_conn *pc = PGC(c);
    if (affected) *affected = 0;
    if (!id) return pg_fail(pc, STORE_INVALID, "sweep id missing");
    struct sweep_op op = {id, 0};
    store_status st = pg_tx_run(pc, sweep_cancel, &op);
    if (affected && st == STORE_OK) *affected = op.count;
    return st;
}

/** Body of pg_sweep_delete() (re-runnable): refuse while a run is active, else delete
 *  everything of the sweep. */
static store_status sweep_delete(struct pgs_conn *pc, void *arg)
{
    struct sweep_op *op = arg;
    op->count = 0;
    store_status st = lock_sweep(pc, op->id);
    if (st != STORE_OK) return st;
    int64_t n = 0;
    if ((st = sweep_count(pc, SQL_SWEEP_ACTIVE, op->id, &n,
                          "cannot count the sweep's active runs")) != STORE_OK)
        return st;
    if (n > 0) {
        op->count = n;
        return pg_fail(pc, STORE_CONFLICT,
                       "sweep %s has %" PRId64 " queued or running run(s); cancel it first", op->id,
                       n);
    }
    /* the models first (locked: no new run takes one while we judge), then the runs with their
     * results, chunks, claims and labels, then the models no job uses any more, then the
     * sweep (its labels go with it) */
    if ((st = sweep_count(pc, SQL_SWEEP_MODELS_LOCK, op->id, &n,
                          "cannot lock the sweep's models")) != STORE_OK ||
        (st = sweep_notes(pc, SQL_SWEEP_DELETE_RUNS, op->id, &n,
                          "cannot delete the sweep's runs")) != STORE_OK ||
        (st = sweep_notes(pc, SQL_SWEEP_DELETE_MODELS, op->id, &n,
                          "cannot delete the sweep's models")) != STORE_OK)
        return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, op->id);
    if ((st = pg_run(pc, SQL_SWEEP_DELETE, &p, NULL, "cannot delete the sweep")) != STORE_OK)
        return st;
    return pg_notify(pc, PG_NOTE_ENDED, op->id);
}

store_status pg_sweep_delete(store_conn *c, const char *id, int64_t *active)
{
    struct pgs_conn *pc = PGC(c);
    if (active) *active = 0;
    if (!id) return pg_fail(pc, STORE_INVALID, "sweep id missing");
    struct sweep_op op = {id, 0};
    store_status st = pg_tx_run(pc, sweep_delete, &op);
    if (active && st == STORE_CONFLICT) *active = op.count;
    return st;
}
