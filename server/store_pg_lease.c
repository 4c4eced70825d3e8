/**
 * @file store_pg_lease.c
 * @brief PostgreSQL backend: leases of running runs (renewal by their daemon, rescue by any).
 *
 * A claim holds its run for a lease (store_config::lease_s) counted by the database's clock. The
 * daemon that claimed it renews the leases of all its running runs together (lease_renew(), its
 * lease thread); progress reports renew their own run's. A daemon that dies (kill -9, a lost
 * network) renews nothing, so its runs' leases expire, and any daemon's rescue_expired() then
 * gives them back to the queue, or ends them once their attempts are used up or a cancel was
 * asked for. The rescued attempt is fenced off: its writes name an attempt the run no longer is
 * in (or a run no longer running) and change nothing (store_pg_runs.c, store_pg_finish.c).
 *
 * Each operation is one statement in autocommit. Rescues lock the expired rows with
 * `FOR NO KEY UPDATE SKIP LOCKED` (the FOR UPDATE SKIP LOCKED of the issue, at the strength an
 * UPDATE of non-key columns takes), so many daemons may rescue at once, each taking different
 * runs and none waiting on a run that another statement is writing. The weaker lock matters: a
 * finish in progress holds its run's row in KEY SHARE (the foreign keys of its result rows),
 * which FOR UPDATE would skip, so the run of a dead daemon's unfinished finish would never be
 * rescued; FOR NO KEY UPDATE does not conflict with it, and the finish, if it ever commits, is
 * refused by its fence.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* $1 claimant, $2 lease in ms, $3 ids, $4 their attempts (as text): the held runs that are
 * running in that attempt for the claimant, and their open claim rows. */
static const char renew_sql[] =
    "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t), "
    "h AS (SELECT * FROM unnest($3::text[], $4::int[]) AS h(id, attempt)), "
    "u AS (UPDATE runs AS r SET lease_expires_at = now.t + $2::bigint FROM now, h "
    "WHERE r.id = h.id AND r.attempts = h.attempt AND r.status = 1 AND r.claimant = $1 "
    "RETURNING r.id, r.attempts, r.lease_expires_at), "
    "c AS (UPDATE run_claims AS rc SET lease_until = u.lease_expires_at FROM u "
    "WHERE rc.run_id = u.id AND rc.attempt = u.attempts AND rc.ended_at = 0) "
    "SELECT count(*) FROM u";

/* Running runs whose lease expired (the runs_lease index), each: cancelled when a cancel was
 * requested, failed once its attempts are used up, else queued again keeping its attempt count
 * (the next claim is attempt + 1). Their claim rows are closed as 'rescued' and the staged
 * results of their interrupted finishes deleted (those a finish still writes, locked, are left
 * to the run's next finish_begin()). Notifications:
 * `q id` for a run queued again, `e id` for one ended. One row: the three counts. */
static const char rescue_sql[] =
    "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t), "
    "expired AS (SELECT seq FROM runs WHERE status = 1 AND lease_expires_at < (SELECT t FROM now) "
    "FOR NO KEY UPDATE SKIP LOCKED), "
    "u AS (UPDATE runs AS r SET "
    "status = CASE WHEN r.cancel_requested = 1 THEN 5 WHEN r.attempts >= r.max_attempts THEN 3 "
    "ELSE 0 END, "
    "finished_at = CASE WHEN r.cancel_requested = 1 OR r.attempts >= r.max_attempts THEN now.t "
    "END, "
    "started_at = CASE WHEN r.cancel_requested = 1 OR r.attempts >= r.max_attempts "
    "THEN r.started_at END, "
    "progress_done = CASE WHEN r.cancel_requested = 1 OR r.attempts >= r.max_attempts "
    "THEN r.progress_done ELSE 0 END, "
    "error_json = CASE WHEN r.cancel_requested = 0 AND r.attempts >= r.max_attempts THEN "
    "format('{\"title\":\"attempt limit reached\",\"detail\":\"the run''s lease expired (its "
    "daemon stopped or lost the database) on each of its %s attempts (max_attempts %s) and is "
    "not retried\",\"attempts\":%s,\"max_attempts\":%s}', r.attempts, r.max_attempts, "
    "r.attempts, r.max_attempts) ELSE r.error_json END, "
    "claimant = '', lease_expires_at = 0 FROM expired, now WHERE r.seq = expired.seq "
    "RETURNING r.id, r.status, r.attempts), "
    "c AS (UPDATE run_claims AS rc SET ended_at = now.t, outcome = 'rescued' FROM u, now "
    "WHERE rc.run_id = u.id AND rc.attempt = u.attempts AND rc.ended_at = 0), "
    "staged AS (DELETE FROM results WHERE (run_id, var) IN (SELECT x.run_id, x.var FROM results "
    "AS x JOIN u ON x.run_id = u.id WHERE x.complete = 0 FOR UPDATE OF x SKIP LOCKED) "
    "RETURNING 1), "
    "n AS (SELECT u.status, CASE u.status WHEN 0 THEN 'q ' ELSE 'e ' END || u.id AS note FROM u) "
    "SELECT count(*) FILTER (WHERE status = 0), count(*) FILTER (WHERE status = 3), "
    "count(*) FILTER (WHERE status = 5), (SELECT count(*) FROM staged), "
    "string_agg(note, ',') FROM n";

store_status pg_lease_renew(store_conn *c, const char (*ids)[STORE_ID_MAX], const int *attempts,
                            size_t n, int64_t *renewed)
{
    struct pgs_conn *pc = PGC(c);
    if (renewed) *renewed = 0;
    if (n == 0) return STORE_OK;
    if (n > (size_t)(INT_MAX / (2 * STORE_ID_MAX + 3)) - 1)
        return pg_fail(pc, STORE_INVALID, "too many held runs (%zu)", n);
    /* the attempts go as a text[] of decimal numbers, cast to int[] by the statement */
    const char **list = malloc(2 * n * sizeof *list);
    char(*num)[16] = malloc(n * sizeof *num);
    if (!list || !num) {
        free(list);
        free(num);
        return pg_fail(pc, STORE_ERROR, "out of memory for %zu held runs", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!store_plain_id(ids[i])) {
            free(list);
            free(num);
            return pg_fail(pc, STORE_INVALID, "held run id %zu of %zu is malformed", i + 1, n);
        }
        snprintf(num[i], sizeof num[i], "%d", attempts[i]);
        list[i] = ids[i];
        list[n + i] = num[i];
    }
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, pc->st->claimant);
    pg_p_i64(&p, pg_lease_ms(pc));
    pg_p_text_array(&p, list, n);
    pg_p_text_array(&p, list + n, n);
    free(list);
    free(num);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) {
        pg_params_free(&p);
        return st;
    }
    int64_t count = 0;
    st = pg_query_i64(pc, renew_sql, &p, &count, "cannot renew the leases");
    pg_params_free(&p);
    pg_return(pc);
    if (st == STORE_OK && renewed) *renewed = count;
    return st;
}

store_status pg_rescue_expired(store_conn *c, store_requeue_report *report)
{
    struct pgs_conn *pc = PGC(c);
    if (report) memset(report, 0, sizeof *report);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    PGresult *r = pg_exec(pc, rescue_sql, NULL, 0, &st, "cannot rescue runs whose lease expired");
    if (r && PQntuples(r) == 1) pg_note_payloads(pc, pg_str(r, 0, 4)); /* sent by pg_return() */
    pg_return(pc);
    if (!r) return st;
    if (report && PQntuples(r) == 1) {
        report->requeued = pg_i64(r, 0, 0);
        report->failed = pg_i64(r, 0, 1);
        report->cancelled = pg_i64(r, 0, 2);
        report->partial_results = pg_i64(r, 0, 3);
    }
    PQclear(r);
    return STORE_OK;
}

/*
 * On PostgreSQL a starting daemon shares the database with daemons that are alive: their
 * running runs are theirs, not orphans. A run of a daemon that died comes back once its lease
 * expires, so requeue_orphans() is rescue_expired().
 */
store_status pg_requeue_orphans(store_conn *c, store_requeue_report *report)
{
    return pg_rescue_expired(c, report);
}
