/**
 * @file store_sqlite_maint.c
 * @brief SQLite backend: maintenance (requeue after a restart, leases and the rescue of expired
 *        ones, counts, queue depth, verify).
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

/** Four statements run in one transaction with one clock reading (bound as ?1 where used): the
 *  steps of sq_requeue_orphans() and of sq_rescue_expired(). */
typedef struct step_set {
    enum stmt_id steps[4];
    const char *what;   /**< the message of a failed step */
    int64_t changed[4]; /**< rows changed by each step */
} step_set;

/** Body of both: @p arg is a ::step_set. */
static store_status run_steps(struct sq_conn *sc, void *arg)
{
    step_set *set = arg;
    int64_t t = eir_clock_epoch_ms();
    store_status st = STORE_OK;
    for (int i = 0; i < 4; i++) {
        sqlite3_stmt *s = sq_stmt(sc, set->steps[i], &st);
        if (!s) return st;
        sq_bind_i64(s, 1, t); /* skipped for statements without ?1 */
        if ((st = sq_run_stmt(sc, s, set->what)) != STORE_OK) return st;
        set->changed[i] = sqlite3_changes64(sc->db);
    }
    return STORE_OK;
}

store_status sq_requeue_orphans(store_conn *c, store_requeue_report *report)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    step_set set = {{ST_REQUEUE_CANCEL, ST_REQUEUE_FAIL, ST_REQUEUE_QUEUE, ST_REQUEUE_STAGED},
                    "cannot requeue interrupted runs",
                    {0, 0, 0, 0}};
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, run_steps, &set)) != STORE_OK) return st;
    if (report) {
        report->cancelled = set.changed[0];
        report->failed = set.changed[1];
        report->requeued = set.changed[2];
        report->partial_results = set.changed[3];
    }
    return STORE_OK;
}

/** What sq_lease_renew() renews: the held runs, and the number renewed. */
typedef struct renew_set {
    const char (*ids)[STORE_ID_MAX];
    const int *attempts;
    size_t n;
    int64_t renewed;
} renew_set;

/** Body of sq_lease_renew(): @p arg is a ::renew_set; one statement per held run, one clock
 *  reading for all. */
static store_status renew(struct sq_conn *sc, void *arg)
{
    renew_set *set = arg;
    int64_t until = sq_lease_until(sc, eir_clock_epoch_ms());
    for (size_t i = 0; i < set->n; i++) {
        store_status st = STORE_OK;
        sqlite3_stmt *s = sq_stmt(sc, ST_LEASE_RENEW, &st);
        if (!s) return st;
        sq_bind_text(s, 1, set->ids[i]);
        sq_bind_i64(s, 2, until);
        sq_bind_text(s, 3, sc->st->claimant);
        sq_bind_i64(s, 4, set->attempts[i]);
        if ((st = sq_run_stmt(sc, s, "cannot renew the leases")) != STORE_OK) return st;
        set->renewed += sqlite3_changes64(sc->db);
    }
    return STORE_OK;
}

store_status sq_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                            size_t n, int64_t *renewed)
{
    struct sq_conn *sc = SQ(c);
    if (renewed) *renewed = 0;
    if (n == 0) return STORE_OK;
    for (size_t i = 0; i < n; i++)
        if (memchr(ids[i], '\0', STORE_ID_MAX) == NULL)
            return sq_fail(sc, STORE_INVALID, "held run id %zu of %zu is not terminated", i + 1, n);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    renew_set set = {ids, attempts, n, 0};
    /* one transaction for the set; a lost renewal (power cut) only shortens a lease: no need
     * to wait for the disk */
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN, renew, &set)) != STORE_OK) return st;
    if (renewed) *renewed = set.renewed;
    return STORE_OK;
}

store_status sq_rescue_expired(store_conn *c, store_requeue_report *report)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    step_set set = {{ST_RESCUE_STAGED, ST_RESCUE_CANCEL, ST_RESCUE_FAIL, ST_RESCUE_QUEUE},
                    "cannot rescue runs whose lease expired",
                    {0, 0, 0, 0}};
    if ((st = sq_tx_run(sc, SQ_TX_BEGIN | SQ_TX_DURABLE, run_steps, &set)) != STORE_OK) return st;
    if (report) {
        report->partial_results = set.changed[0];
        report->cancelled = set.changed[1];
        report->failed = set.changed[2];
        report->requeued = set.changed[3];
    }
    return STORE_OK;
}

store_status sq_counts(store_conn *c, store_counts *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!out) return sq_fail(sc, STORE_INVALID, "output missing");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = sq_stmt(sc, ST_COUNTS, &st);
    if (!s) return st;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(s, 0);
        int v = store_run_status_parse((const char *)sqlite3_column_text(s, 1));
        if (v < 0 || !kind) continue;
        if (strcmp(kind, "run") == 0)
            out->by_status[v] = sqlite3_column_int64(s, 2);
        else if (strcmp(kind, "analysis") == 0)
            out->analyses_by_status[v] = sqlite3_column_int64(s, 2);
        else if (strcmp(kind, "training") == 0)
            out->trainings_by_status[v] = sqlite3_column_int64(s, 2);
    }
    if (rc != SQLITE_DONE) st = sq_fail_rc(sc, rc, "cannot count runs");
    sq_done(s);
    if (st == STORE_OK)
        st = sq_count_query(sc, ST_MODEL_COUNT, NULL, &out->models, "cannot count models");
    if (st != STORE_OK) memset(out, 0, sizeof *out);
    return st;
}

store_status sq_queue_depth(store_conn *c, int64_t *depth)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!depth) return sq_fail(sc, STORE_INVALID, "output missing");
    return sq_count_query(sc, ST_QUEUE_DEPTH, NULL, depth, "cannot count the queue");
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
    sqlite3_stmt *s = sq_stmt(sc, ST_VERIFY_CHUNKS, st);
    if (!s) return NULL;
    sq_bind_text(s, 1, run_id);
    sq_bind_text(s, 2, var);
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
        *st = sq_fail_rc(sc, rc, "cannot read result chunks");
        sq_done(s);
        return NULL;
    }
    sq_done(s);
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

store_status sq_verify(store_conn *c, store_verify_cb cb, void *ctx, store_verify_report *report)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    store_verify_report rep = {0};
    /* one read transaction: a consistent snapshot while writers carry on */
    if ((st = sq_run_fixed(sc, ST_BEGIN_READ, "cannot start a read transaction")) != STORE_OK)
        return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_QUICK_CHECK, &st);
    if (!s) return sq_tx_fail(sc, st);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            st = sq_fail(sc, STORE_ERROR, "database check failed: %s", r ? r : "?");
    } else {
        st = sq_fail_rc(sc, rc, "cannot check the database");
    }
    sq_done(s);
    if (st != STORE_OK) return sq_tx_fail(sc, st);
    if (!(s = sq_stmt(sc, ST_FK_CHECK, &st))) return sq_tx_fail(sc, st);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        st = sq_fail(sc, STORE_ERROR,
                     "database check failed: a row of table %s refers to a "
                     "missing parent",
                     (const char *)sqlite3_column_text(s, 0));
    else if (rc != SQLITE_DONE)
        st = sq_fail_rc(sc, rc, "cannot check foreign keys");
    sq_done(s);
    if (st != STORE_OK) return sq_tx_fail(sc, st);
    if (!(s = sq_stmt(sc, ST_VERIFY_RESULTS, &st))) return sq_tx_fail(sc, st);
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
        st = sq_fail_rc(sc, rc, "cannot list results");
    sq_done(s);
    if (st != STORE_OK) return sq_tx_fail(sc, st);
    sq_tx_rollback(sc); /* read-only: ends the snapshot */
    if (report) *report = rep;
    return STORE_OK;
}
