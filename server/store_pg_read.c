/**
 * @file store_pg_read.c
 * @brief PostgreSQL backend: reading results (info, list, whole chunks, byte ranges).
 *
 * Readers see complete results only (results.complete = 1: their run's finish committed). A
 * byte range is read with `substring(data FROM .. FOR ..)` per chunk, in binary: result_chunks
 * stores its bytea uncompressed out of line (STORAGE EXTERNAL), so PostgreSQL fetches only the
 * TOAST slices that hold the bytes asked for. Each call is its own short statement(s) in
 * autocommit, so a slow download holds no transaction and no connection between its pieces.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/** Most bytes one range query brings back (its chunks' pieces in one result set). */
#define PG_READ_WINDOW ((uint64_t)16 << 20)

static const char info_sql[] =
    "SELECT " PG_RESULT_COLS " FROM results WHERE run_id = $1 AND var = $2 AND complete = 1";
static const char list_sql[] =
    "SELECT " PG_RESULT_COLS " FROM results WHERE run_id = $1 AND complete = 1 ORDER BY var";
static const char chunk_sql[] =
    "SELECT c.data FROM result_chunks AS c JOIN results AS r ON r.run_id = c.run_id "
    "AND r.var = c.var WHERE c.run_id = $1 AND c.var = $2 AND c.idx = $3::int AND r.complete = 1";
static const char geometry_sql[] = "SELECT chunk_size, total_bytes FROM results "
                                   "WHERE run_id = $1 AND var = $2 AND complete = 1";
/* Bytes $3 .. $3 + $4 of a result whose chunks have $5 bytes, from chunks $6 .. $7: of each
 * chunk only the part inside the range (1-based substring positions). */
static const char range_sql[] =
    "SELECT idx, substring(data FROM (greatest($3::bigint, idx * $5::bigint) - idx * $5::bigint "
    "+ 1)::int FOR (least($3::bigint + $4::bigint, (idx + 1) * $5::bigint) "
    "- greatest($3::bigint, idx * $5::bigint))::int) "
    "FROM result_chunks WHERE run_id = $1 AND var = $2 AND idx BETWEEN $6::int AND $7::int "
    "ORDER BY idx";

store_status pg_result_info(store_conn *c, const char *run_id, const char *var,
                            store_result_info *out)
{
    struct pgs_conn *pc = PGC(c);
    if (!run_id || !var || !out)
        return pg_fail(pc, STORE_INVALID, "run id, result name or output missing");
    memset(out, 0, sizeof *out);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, run_id);
    pg_p_text(&p, var);
    PGresult *r = pg_exec(pc, info_sql, &p, 0, &st, "cannot read the result");
    pg_return(pc);
    if (!r) return st;
    if (PQntuples(r) == 0)
        st = pg_fail(pc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    else if (pg_row_to_result(r, 0, out))
        st = pg_fail(pc, STORE_ERROR, "result %s of run %s has a malformed shape", var, run_id);
    PQclear(r);
    if (st != STORE_OK) memset(out, 0, sizeof *out);
    return st;
}

store_status pg_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx)
{
    struct pgs_conn *pc = PGC(c);
    if (!run_id) return pg_fail(pc, STORE_INVALID, "run id missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, run_id);
    PGresult *r = pg_exec(pc, list_sql, &p, 0, &st, "cannot list results");
    pg_return(pc);
    if (!r) return st;
    for (int i = 0; i < PQntuples(r); i++) {
        store_result_info info;
        if (pg_row_to_result(r, i, &info)) {
            st = pg_fail(pc, STORE_ERROR, "a result of run %s has a malformed shape", run_id);
            break;
        }
        if (cb && cb(ctx, &info)) break;
    }
    PQclear(r);
    return st;
}

store_status pg_result_read_chunk(store_conn *c, const char *run_id, const char *var, int64_t index,
                                  void *buf, size_t cap, size_t *len)
{
    struct pgs_conn *pc = PGC(c);
    if (!run_id || !var || (!buf && cap) || !len)
        return pg_fail(pc, STORE_INVALID, "run id, result name, buffer or length missing");
    *len = 0;
    if (index < 0 || index > INT_MAX)
        return pg_fail(pc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s", run_id,
                       index, var);
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, run_id);
    pg_p_text(&p, var);
    pg_p_i64(&p, index);
    PGresult *r = pg_exec(pc, chunk_sql, &p, 1, &st, "cannot read a result chunk");
    pg_return(pc);
    if (!r) return st;
    if (PQntuples(r) == 0) {
        st = pg_fail(pc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s", run_id,
                     index, var);
    } else {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        if (n > cap)
            st = pg_fail(pc, STORE_INVALID, "chunk of %zu bytes does not fit a %zu-byte buffer", n,
                         cap);
        else {
            if (n) memcpy(buf, PQgetvalue(r, 0, 0), n);
            *len = n;
        }
    }
    PQclear(r);
    return st;
}

/** Chunk size and total size of a complete result into *@p cs and *@p total. */
static store_status geometry(struct pgs_conn *pc, const char *run_id, const char *var, uint64_t *cs,
                             uint64_t *total)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, run_id);
    pg_p_text(&p, var);
    store_status st;
    PGresult *r = pg_exec(pc, geometry_sql, &p, 0, &st, "cannot read the result");
    if (!r) return st;
    if (PQntuples(r) == 0) {
        st = pg_fail(pc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    } else {
        *cs = (uint64_t)pg_i64(r, 0, 0);
        *total = (uint64_t)pg_i64(r, 0, 1);
    }
    PQclear(r);
    return st;
}

/**
 * Copy bytes @p offset .. @p offset + @p len of the result (chunks of @p cs bytes), which lie in
 * chunks @p first .. @p last, into @p dst: one statement, one row per chunk. A chunk missing
 * (deleted meanwhile) is ::STORE_NOT_FOUND; one shorter than the result says, ::STORE_ERROR.
 */
static store_status read_window(struct pgs_conn *pc, const char *run_id, const char *var,
                                uint64_t offset, size_t len, uint64_t cs, int64_t first,
                                int64_t last, unsigned char *dst)
{
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, run_id);
    pg_p_text(&p, var);
    pg_p_i64(&p, (int64_t)offset);
    pg_p_i64(&p, (int64_t)len);
    pg_p_i64(&p, (int64_t)cs);
    pg_p_i64(&p, first);
    pg_p_i64(&p, last);
    store_status st;
    PGresult *r = pg_exec(pc, range_sql, &p, 1, &st, "cannot read the result");
    if (!r) return st;
    int rows = PQntuples(r);
    uint64_t at = offset;
    for (int64_t k = first; st == STORE_OK && k <= last; k++) {
        int i = (int)(k - first);
        uint64_t end =
            (uint64_t)(k + 1) * cs < offset + len ? (uint64_t)(k + 1) * cs : offset + len;
        size_t want = (size_t)(end - at);
        if (i >= rows || PQgetlength(r, i, 0) != (int)sizeof(int32_t)) {
            st = pg_fail(pc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s",
                         run_id, k, var);
            break;
        }
        uint32_t idx_be; /* int4 in binary: 4 bytes, network order */
        memcpy(&idx_be, PQgetvalue(r, i, 0), sizeof idx_be);
        int64_t idx = (int32_t)ntohl(idx_be);
        if (idx != k) {
            st = pg_fail(pc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s",
                         run_id, k, var);
        } else if ((size_t)PQgetlength(r, i, 1) != want) {
            st = pg_fail(pc, STORE_ERROR,
                         "chunk %" PRId64 " of result %s of run %s has fewer bytes than the "
                         "result's size says",
                         k, var, run_id);
        } else {
            memcpy(dst + (at - offset), PQgetvalue(r, i, 1), want);
            at = end;
        }
    }
    PQclear(r);
    return st;
}

store_status pg_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                            void *buf, size_t len)
{
    struct pgs_conn *pc = PGC(c);
    if (!run_id || !var || (!buf && len))
        return pg_fail(pc, STORE_INVALID, "run id, result name or buffer missing");
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    uint64_t cs = 0, total = 0;
    st = geometry(pc, run_id, var, &cs, &total);
    if (st == STORE_OK && (offset > total || len > total - offset))
        st = pg_fail(pc, STORE_INVALID,
                     "bytes %" PRIu64 " to %" PRIu64
                     " are past the end of result %s of run %s (%" PRIu64 " bytes)",
                     offset, offset + len, var, run_id, total);
    if (st == STORE_OK && cs == 0)
        st = pg_fail(pc, STORE_ERROR, "result %s of run %s has chunk size 0", var, run_id);
    /* windows of whole chunks, at most PG_READ_WINDOW bytes (or one chunk) per statement */
    uint64_t per = cs && PG_READ_WINDOW / cs > 0 ? PG_READ_WINDOW / cs : 1;
    unsigned char *d = buf;
    while (st == STORE_OK && len > 0) {
        int64_t first = (int64_t)(offset / cs), last = (int64_t)((offset + len - 1) / cs);
        if ((uint64_t)(last - first) >= per) last = first + (int64_t)per - 1;
        uint64_t end =
            (uint64_t)(last + 1) * cs < offset + len ? (uint64_t)(last + 1) * cs : offset + len;
        size_t n = (size_t)(end - offset);
        st = read_window(pc, run_id, var, offset, n, cs, first, last, d);
        d += n;
        offset += n;
        len -= n;
    }
    pg_return(pc);
    return st;
}
