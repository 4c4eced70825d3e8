/**
 * @file store_pg_maint.c
 * @brief PostgreSQL backend: maintenance (counts, queue depth, verify).
 *
 * verify() reads every stored result back as SQLite's does: chunk numbering, sizes and
 * SHA-256 against the result's row. It runs in one REPEATABLE READ READ ONLY transaction (a
 * consistent snapshot while other daemons carry on writing), walks the results a page at a
 * time by key and reads each result one chunk at a time in binary, so neither the list of
 * results nor an array is ever whole in memory (at most one chunk, <= 64 MiB).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eir_sha256.h"
#include "store_pg_int.h"

/** Jobs by kind and status, then the models (kind and status NULL). */
#define SQL_COUNTS                                                                                 \
    "SELECT kind, status, count(*) FROM runs GROUP BY kind, status "                               \
    "UNION ALL SELECT NULL, NULL, count(*) FROM models"
#define SQL_QUEUE_DEPTH "SELECT count(*) FROM runs WHERE status = 0"

#define SQL_VERIFY_BEGIN "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
/** The schema version the database says it has. */
#define SQL_SCHEMA_VERSION "SELECT coalesce(max(version), 0) FROM schema_migrations"
/** Which of the tables named in $1 (text[]) do not exist (in the search path). */
#define SQL_MISSING_TABLES "SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL"
/** Complete results after ($1, $2) in key order, $3 of them (the first page: $1 = ''). */
#define SQL_VERIFY_RESULTS                                                                         \
    "SELECT run_id, var, total_bytes, chunk_size, chunk_count, sha256 FROM results "               \
    "WHERE complete = 1 AND (run_id, var) > ($1, $2) ORDER BY run_id, var LIMIT $3"
/** A result's chunks: numbers and sizes (octet_length() of an uncompressed TOASTed value
 *  reads its header only, not the data). */
#define SQL_VERIFY_CHUNKS                                                                          \
    "SELECT idx, octet_length(data) FROM result_chunks WHERE run_id = $1 AND var = $2 "            \
    "ORDER BY idx"
/** One chunk's bytes (binary result). */
#define SQL_VERIFY_CHUNK                                                                           \
    "SELECT data FROM result_chunks WHERE run_id = $1 AND var = $2 AND idx = $3"

/** Results listed per statement by verify(). */
#define VERIFY_PAGE_ROWS 100

/** The tables the backend needs (schema/migrations_pg/). */
static const char *const required_tables[] = {
    "schema_migrations", "models", "runs",   "run_claims",           "results",
    "result_chunks",     "labels", "sweeps", "training_checkpoints", "training_curve"};

store_status pg_counts(store_conn *c, store_counts *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!out) return pg_fail(pc, STORE_INVALID, "output missing");
    memset(out, 0, sizeof *out);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    PGresult *res = pg_exec(pc, SQL_COUNTS, NULL, 0, &st, "cannot count runs and models");
    pg_return(pc);
    if (!res) return st;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t n = pg_i64(res, i, 2);
        const char *kind = pg_str(res, i, 0);
        if (!kind) {
            out->models = n;
            continue;
        }
        int64_t v = pg_i64(res, i, 1);
        if (v < 0 || v >= STORE_RUN_NSTATUS) continue;
        if (strcmp(kind, "run") == 0)
            out->by_status[v] = n;
        else if (strcmp(kind, "analysis") == 0)
            out->analyses_by_status[v] = n;
        else if (strcmp(kind, "training") == 0)
            out->trainings_by_status[v] = n;
    }
    PQclear(res);
    return STORE_OK;
}

store_status pg_queue_depth(store_conn *c, int64_t *depth)
{
    struct pgs_conn *pc = PGC(c);
    if (!depth) return pg_fail(pc, STORE_INVALID, "output missing");
    *depth = 0;
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    st = pg_query_i64(pc, SQL_QUEUE_DEPTH, NULL, depth, "cannot count the queue");
    pg_return(pc);
    return st;
}

/* ---- verify ------------------------------------------------------------------------------ */

/** The structural check: the schema version is this build's and every table exists.
 *  ::STORE_ERROR naming the first problem; statement errors as pg_exec(). */
static store_status check_structure(struct pgs_conn *pc)
{
    int64_t version = 0;
    int want =
        store_pg_migrations_count ? store_pg_migrations[store_pg_migrations_count - 1].version : 0;
    store_status st =
        pg_query_i64(pc, SQL_SCHEMA_VERSION, NULL, &version, "cannot read the schema version");
    if (st != STORE_OK) return st;
    if (version != want)
        return pg_fail(pc, STORE_ERROR,
                       "database check failed: the schema is version %" PRId64
                       ", this build's is %d",
                       version, want);
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text_array(&p, required_tables, sizeof required_tables / sizeof *required_tables);
    PGresult *res = pg_exec(pc, SQL_MISSING_TABLES, &p, 0, &st, "cannot list the tables");
    pg_params_free(&p);
    if (!res) return st;
    if (PQntuples(res) > 0)
        st = pg_fail(pc, STORE_ERROR, "database check failed: table %s is missing",
                     pg_str(res, 0, 0));
    PQclear(res);
    return st;
}

/** One result being verified: its row, and what reading it back found. */
struct verify_item {
    const char *run_id, *var, *want_sha;
    uint64_t total, chunk_size;
    int64_t count;
    uint64_t seen; /**< bytes hashed */
    char why[256]; /**< the reason it is bad, "" when good */
};

/** Read chunk @p idx of @p it (its size was checked: @p n bytes) into the hash. */
static store_status hash_chunk(struct pgs_conn *pc, struct verify_item *it, int64_t idx, uint64_t n,
                               eir_sha256_ctx *h)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, it->run_id);
    pg_p_text(&p, it->var);
    pg_p_i64(&p, idx);
    store_status st;
    PGresult *res = pg_exec(pc, SQL_VERIFY_CHUNK, &p, 1, &st, "cannot read a result chunk");
    if (!res) return st;
    if (PQntuples(res) != 1 || (uint64_t)PQgetlength(res, 0, 0) != n) {
        /* the snapshot cannot change under us: a mismatch here is a bug or corruption */
        snprintf(it->why, sizeof it->why, "chunk %" PRId64 " changed while being read", idx);
    } else {
        eir_sha256_update(h, PQgetvalue(res, 0, 0), n);
        it->seen += n;
    }
    PQclear(res);
    return STORE_OK;
}

/**
 * Read back result @p it chunk by chunk and compare it with its row; it->why gets the reason
 * when it is bad. Returns a statement error (as pg_exec()) only when the database could not
 * be read; a bad result is ::STORE_OK with it->why set.
 */
static store_status verify_one(struct pgs_conn *pc, struct verify_item *it)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, it->run_id);
    pg_p_text(&p, it->var);
    store_status st;
    PGresult *list = pg_exec(pc, SQL_VERIFY_CHUNKS, &p, 0, &st, "cannot list result chunks");
    if (!list) return st;
    eir_sha256_ctx h;
    eir_sha256_init(&h);
    int64_t expect = 0;
    int rows = PQntuples(list);
    for (int i = 0; i < rows && !it->why[0] && st == STORE_OK; i++) {
        int64_t idx = pg_i64(list, i, 0);
        uint64_t n = (uint64_t)pg_i64(list, i, 1);
        if (idx != expect) {
            snprintf(it->why, sizeof it->why, "chunk %" PRId64 " missing", expect);
        } else if (n > it->chunk_size || (n < it->chunk_size && idx != it->count - 1)) {
            snprintf(it->why, sizeof it->why, "chunk %" PRId64 " has %" PRIu64 " bytes", idx, n);
        } else {
            st = hash_chunk(pc, it, idx, n, &h);
            expect++;
        }
    }
    PQclear(list);
    if (st != STORE_OK || it->why[0]) return st;
    if (expect != it->count) {
        snprintf(it->why, sizeof it->why, "%" PRId64 " chunks stored, %" PRId64 " expected", expect,
                 it->count);
        return STORE_OK;
    }
    if (it->seen != it->total) {
        snprintf(it->why, sizeof it->why, "%" PRIu64 " bytes stored, %" PRIu64 " expected",
                 it->seen, it->total);
        return STORE_OK;
    }
    uint8_t digest[EIR_SHA256_DIGEST_LEN];
    char hex[EIR_SHA256_HEX_LEN + 1];
    eir_sha256_final(&h, digest);
    eir_sha256_hex(digest, hex);
    if (!it->want_sha || strcasecmp(it->want_sha, hex) != 0)
        snprintf(it->why, sizeof it->why, "checksum mismatch: stored %.64s, data hashes to %s",
                 it->want_sha ? it->want_sha : "(none)", hex);
    return STORE_OK;
}

/** Verify every complete result, a page of rows at a time, into @p rep. */
static store_status verify_results(struct pgs_conn *pc, store_verify_cb cb, void *ctx,
                                   store_verify_report *rep)
{
    /* the key of the last result seen (copied whole: a page starts right after it) */
    char *last_run = NULL, *last_var = NULL;
    store_status st = STORE_OK;
    for (;;) {
        struct pg_params p;
        pg_params_init(&p);
        pg_p_text(&p, last_run ? last_run : "");
        pg_p_text(&p, last_var ? last_var : "");
        pg_p_i64(&p, VERIFY_PAGE_ROWS);
        PGresult *res = pg_exec(pc, SQL_VERIFY_RESULTS, &p, 0, &st, "cannot list results");
        if (!res) break;
        int rows = PQntuples(res);
        for (int i = 0; i < rows && st == STORE_OK; i++) {
            struct verify_item it = {.run_id = pg_str(res, i, 0),
                                     .var = pg_str(res, i, 1),
                                     .total = (uint64_t)pg_i64(res, i, 2),
                                     .chunk_size = (uint64_t)pg_i64(res, i, 3),
                                     .count = pg_i64(res, i, 4),
                                     .want_sha = pg_str(res, i, 5)};
            if ((st = verify_one(pc, &it)) != STORE_OK) break;
            rep->bytes_checked += it.seen;
            rep->results_checked++;
            if (it.why[0]) {
                rep->results_bad++;
                if (cb) cb(ctx, it.run_id, it.var, it.why);
            }
        }
        if (st == STORE_OK && rows > 0) {
            free(last_run);
            free(last_var);
            last_run = last_var = NULL;
            if (pg_dup(res, rows - 1, 0, &last_run) || pg_dup(res, rows - 1, 1, &last_var))
                st = pg_fail(pc, STORE_ERROR, "out of memory verifying results");
        }
        PQclear(res);
        if (st != STORE_OK || rows < VERIFY_PAGE_ROWS) break;
    }
    free(last_run);
    free(last_var);
    return st;
}

store_status pg_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report)
{
    struct pgs_conn *pc = PGC(c);
    store_verify_report rep = {0};
    if (report) *report = rep;
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    st = pg_run(pc, SQL_VERIFY_BEGIN, NULL, NULL, "cannot start a read transaction");
    if (st == STORE_OK) {
        st = check_structure(pc);
        if (st == STORE_OK) st = verify_results(pc, cb, ctx, &rep);
        pg_rollback(pc); /* read-only: ends the snapshot */
    }
    pg_return(pc);
    if (st == STORE_OK && report) *report = rep;
    return st;
}
