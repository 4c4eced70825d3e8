/**
 * @file store_sqlite_read.c
 * @brief SQLite backend: reading results (info, list, whole chunks, byte ranges).
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

store_status sq_result_info(store_conn *c, const char *run_id, const char *var,
                            store_result_info *out)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || !out)
        return sq_fail(sc, STORE_INVALID, "run id, result name or output missing");
    sqlite3_stmt *s = sq_stmt(sc, ST_RESULT_INFO, &st);
    if (!s) return st;
    sq_bind_text(s, 1, run_id);
    sq_bind_text(s, 2, var);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (sq_row_to_result(s, out))
            st = sq_fail(sc, STORE_ERROR, "result %s of run %s has a malformed shape", var, run_id);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    } else {
        st = sq_fail_rc(sc, rc, "cannot read the result");
    }
    sq_done(s);
    if (st != STORE_OK) memset(out, 0, sizeof *out);
    return st;
}

store_status sq_result_list(store_conn *c, const char *run_id, store_result_cb cb, void *ctx)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id) return sq_fail(sc, STORE_INVALID, "run id missing");
    sqlite3_stmt *s = sq_stmt(sc, ST_RESULT_LIST, &st);
    if (!s) return st;
    sq_bind_text(s, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_result_info info;
        if (sq_row_to_result(s, &info)) {
            st = sq_fail(sc, STORE_ERROR, "a result of run %s has a malformed shape", run_id);
            break;
        }
        if (cb && cb(ctx, &info)) break;
    }
    if (st == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = sq_fail_rc(sc, rc, "cannot list results");
    sq_done(s);
    return st;
}

/**
 * Copy from chunk @p index of result @p var of run @p run_id, found with @p s (ST_CHUNK_READ,
 * prepared on handle @p db): with @p whole, the whole chunk, which must fit @p n bytes
 * (::STORE_INVALID otherwise), its size into *@p whole; else the @p n bytes at @p in, which the
 * chunk must hold (::STORE_ERROR otherwise: the store contradicts itself). Only the pages
 * holding those bytes are copied (incremental BLOB I/O, straight into @p dst: sqlite3_column_blob()
 * would first assemble the value in memory of its own), inside the statement's read transaction,
 * so from the same snapshot. ::STORE_NOT_FOUND when there is no such chunk. Resets @p s.
 */
static store_status copy_chunk(struct sq_conn *sc, sqlite3 *db, sqlite3_stmt *s, const char *run_id,
                               const char *var, int64_t index, uint64_t in, void *dst, size_t n,
                               size_t *whole)
{
    store_status st = STORE_OK;
    sq_bind_text(s, 1, run_id);
    sq_bind_text(s, 2, var);
    sq_bind_i64(s, 3, index);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sqlite3_int64 rowid = sqlite3_column_int64(s, 0);
        uint64_t len = (uint64_t)sqlite3_column_int64(s, 1);
        if (whole && len > n) {
            st = sq_fail(sc, STORE_INVALID,
                         "chunk of %" PRIu64 " bytes does not fit a %zu-byte buffer", len, n);
        } else if (!whole && in + n > len) {
            st = sq_fail(sc, STORE_ERROR,
                         "chunk %" PRId64 " of result %s of run %s has %" PRIu64
                         " bytes, fewer than the result's size says",
                         index, var, run_id, len);
        } else {
            if (whole) n = (size_t)len;
            sqlite3_blob *b = NULL;
            if (n > 0) {
                rc = sqlite3_blob_open(db, "main", "result_chunks", "data", rowid, 0, &b);
                if (rc == SQLITE_OK) rc = sqlite3_blob_read(b, dst, (int)n, (int)in);
                if (rc != SQLITE_OK) st = sq_fail_rc_on(sc, db, rc, "cannot read a result chunk");
                sqlite3_blob_close(b);
            }
            if (st == STORE_OK && whole) *whole = n;
        }
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "run %s has no chunk %" PRId64 " of result %s", run_id,
                     index, var);
    } else {
        st = sq_fail_rc_on(sc, db, rc, "cannot read a result chunk");
    }
    sq_done(s);
    return st;
}

store_status sq_result_read_chunk(store_conn *c, const char *run_id, const char *var, int64_t index,
                                  void *buf, size_t cap, size_t *len)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || (!buf && cap) || !len)
        return sq_fail(sc, STORE_INVALID, "run id, result name, buffer or length missing");
    sqlite3_stmt *s = sq_stmt(sc, ST_CHUNK_READ, &st);
    if (!s) return st;
    return copy_chunk(sc, sc->db, s, run_id, var, index, 0, buf, cap, len);
}

/*
 * Reading a range of a result (sq_result_read()). A chunk is one BLOB stored as a chain of
 * overflow pages, so reading bytes at offset o of a chunk first follows the chain over the
 * o / page size pages before them. A download that reads a chunk a piece at a time, each piece
 * in a read of its own (so that nothing is held while the client is slow), follows the chain
 * again for each piece: with SQLite's default page cache of 2 MB, smaller than a 4 MiB chunk,
 * each piece read those pages again from the file (0.5 GB/s for 256 KiB pieces, against
 * 1.3-1.7 GB/s for whole-chunk reads). So range reads go through a second handle of the
 * connection whose page cache holds a chunk's pages (8 MiB): the chain is then followed in
 * memory, at the cost of at most that much memory per thread that serves downloads (not per
 * download), and without growing the cache of the handle every other operation uses. SQLite
 * drops the cache when another connection committed since this handle's last read, which
 * under steady writes happens far less often than a piece is read.
 */

/** Statement @p id (ST_RESULT_GEOMETRY or ST_CHUNK_READ) of the reading handle, opening it on
 *  first use; NULL with *st set on failure. */
static sqlite3_stmt *rstmt(struct sq_conn *sc, enum stmt_id id, store_status *st)
{
    int i = id == ST_CHUNK_READ;
    if (!sc->rdb && (*st = sq_open_db(sc, &sc->rdb, 1)) != STORE_OK) return NULL;
    return sq_prepared(sc, sc->rdb, &sc->rstmt[i], id, st);
}

store_status sq_result_read(store_conn *c, const char *run_id, const char *var, uint64_t offset,
                            void *buf, size_t len)
{
    struct sq_conn *sc = SQ(c);
    store_status st = sq_conn_op(sc);
    if (st != STORE_OK) return st;
    if (!run_id || !var || (!buf && len))
        return sq_fail(sc, STORE_INVALID, "run id, result name or buffer missing");
    sqlite3_stmt *s = rstmt(sc, ST_RESULT_GEOMETRY, &st);
    if (!s) return st;
    sq_bind_text(s, 1, run_id);
    sq_bind_text(s, 2, var);
    uint64_t cs = 0, total = 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        cs = (uint64_t)sqlite3_column_int64(s, 0);
        total = (uint64_t)sqlite3_column_int64(s, 1);
    } else if (rc == SQLITE_DONE) {
        st = sq_fail(sc, STORE_NOT_FOUND, "run %s has no result %s", run_id, var);
    } else {
        st = sq_fail_rc_on(sc, sc->rdb, rc, "cannot read the result");
    }
    sq_done(s);
    if (st != STORE_OK) return st;
    if (offset > total || len > total - offset)
        return sq_fail(sc, STORE_INVALID,
                       "bytes %" PRIu64 " to %" PRIu64
                       " are past the end of result %s of run %s (%" PRIu64 " bytes)",
                       offset, offset + len, var, run_id, total);
    if (cs == 0)
        return sq_fail(sc, STORE_ERROR, "result %s of run %s has chunk size 0", var, run_id);
    unsigned char *d = buf;
    while (len > 0) {
        uint64_t in = offset % cs;
        size_t n = cs - in < len ? (size_t)(cs - in) : len;
        /* each piece in the statement's own short read transaction */
        if (!(s = rstmt(sc, ST_CHUNK_READ, &st))) return st;
        st = copy_chunk(sc, sc->rdb, s, run_id, var, (int64_t)(offset / cs), in, d, n, NULL);
        if (st != STORE_OK) return st;
        d += n;
        offset += n;
        len -= n;
    }
    return STORE_OK;
}
