/**
 * @file store_sqlite_open.c
 * @brief SQLite backend: open (WAL mode, migrations), connect, close, and the function table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_migrations.h"
#include "store_sqlite_int.h"

static const struct store_ops sq_ops;

static struct store_conn *sq_connect(struct store *s)
{
    struct sq_conn *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->base.store = s;
    sc->st = s->cls;
    return &sc->base;
}

static void sq_disconnect(struct store_conn *c)
{
    if (!c) return;
    struct sq_conn *sc = SQ(c);
    if (sc->w.active) sq_writer_rollback(sc);
    sq_close_db(sc);
    sq_wl_unlock(sc);
    free(sc->w.buf);
    free(sc);
}

static void sq_close(struct store *s)
{
    if (!s) return;
    struct sq_store *st = s->cls;
    sq_wl_destroy(&st->wl);
    sq_gs_destroy(&st->gs);
    free(st->path);
    free(st);
}

int store_sqlite_schema_version(void)
{
    return store_migrations_count ? store_migrations[store_migrations_count - 1].version : 0;
}

static void open_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void open_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/** Single-integer query on a raw handle; -1 on failure. */
static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/** Bring the schema to the current version in one transaction. Returns 0 or -1 with @p err. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int latest = store_sqlite_schema_version();
    for (size_t i = 0; i < store_migrations_count; i++)
        if (store_migrations[i].version != (int)i + 1) {
            open_err(err, errlen, "embedded migrations are misnumbered at %s",
                     store_migrations[i].name);
            return -1;
        }
    int rc = sq_exec_fixed(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        open_err(err, errlen, "%s: cannot lock the database for migration: %s", path,
                 sqlite3_errmsg(db));
        return -1;
    }
    int64_t current = query_int(db, "PRAGMA user_version");
    if (current < 0 || current > latest) {
        if (current < 0)
            open_err(err, errlen, "%s: cannot read the schema version: %s", path,
                     sqlite3_errmsg(db));
        else
            open_err(err, errlen,
                     "%s: schema version %" PRId64 " is newer than this eirnnd knows (%d); use "
                     "a newer eirnnd",
                     path, current, latest);
        sq_exec_fixed(db, "ROLLBACK");
        return -1;
    }
    if (current == latest)
        return sq_exec_fixed(db, "COMMIT") == SQLITE_OK ? 0 : (sq_exec_fixed(db, "ROLLBACK"), -1);
    for (size_t i = (size_t)current; i < store_migrations_count; i++) {
        char *msg = NULL;
        rc = sqlite3_exec(db, store_migrations[i].sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            open_err(err, errlen, "%s: migration %s failed: %s", path, store_migrations[i].name,
                     msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            sq_exec_fixed(db, "ROLLBACK");
            return -1;
        }
    }
    /* the version comes from the embedded table, never from outside */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
    if (sq_exec_fixed(db, sql) != SQLITE_OK || query_int(db, "SELECT count(*) FROM "
                                                             "pragma_foreign_key_check") != 0) {
        open_err(err, errlen, "%s: migration to version %d left the database inconsistent: %s",
                 path, latest, sqlite3_errmsg(db));
        sq_exec_fixed(db, "ROLLBACK");
        return -1;
    }
    if (sq_exec_fixed(db, "COMMIT") != SQLITE_OK) {
        open_err(err, errlen, "%s: cannot commit the migration: %s", path, sqlite3_errmsg(db));
        sq_exec_fixed(db, "ROLLBACK");
        return -1;
    }
    return 0;
}

store *store_sqlite_open(const char *path, const store_config *cfg, char *err, size_t errlen)
{
    store_config c;
    if (cfg)
        c = *cfg;
    else
        store_config_default(&c);
    if (err && errlen) err[0] = '\0';
    if (!path || !*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
        open_err(err, errlen,
                 "give the SQLite database as a file path (every thread opens its "
                 "own connection to it)");
        return NULL;
    }
    if (c.chunk_size == 0 || c.chunk_size > SQ_CHUNK_MAX) {
        open_err(err, errlen, "chunk size must be 1 to %zu bytes", SQ_CHUNK_MAX);
        return NULL;
    }
    if (c.busy_timeout_ms < 0) c.busy_timeout_ms = 0;
    if (c.mmap_size < 0) c.mmap_size = 0;
    if (!(c.lease_s >= 0.01 && c.lease_s <= 86400)) {
        open_err(err, errlen, "lease must be 0.01 to 86400 seconds");
        return NULL;
    }

    sqlite3 *db = NULL;
    int rc = sq_open_handle(path, 1, &db, err, errlen);
    if (rc != SQLITE_OK) return NULL;
    sqlite3_busy_timeout(db, c.busy_timeout_ms);
    /* WAL is a property of the file: set once here, every later connection inherits it */
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(s, 0);
    int wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        open_err(err, errlen, "%s: cannot switch to WAL mode: %s", path,
                 mode ? mode : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (!wal || sq_exec_fixed(db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
        migrate(db, path, err, errlen) != 0) {
        if (err && errlen && !err[0]) open_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_close_v2(db);

    struct sq_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path)) || sq_wl_init(&st->wl)) {
        if (st) free(st->path);
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }
    if (sq_gs_init(&st->gs)) {
        sq_wl_destroy(&st->wl);
        free(st->path);
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }
    st->cfg = c;
    store_claimant_make(c.claimant, st->claimant);
    st->cfg.claimant = st->claimant;
    st->base.ops = &sq_ops;
    st->base.cls = st;
    return &st->base;
}

void store_sqlite_sync_stats_get(store *s, store_sqlite_sync_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || s->ops != &sq_ops) return;
    struct sq_gsync *g = &((struct sq_store *)s->cls)->gs;
    pthread_mutex_lock(&g->mu);
    out->durable_commits = g->appended;
    out->synced = g->synced;
    out->syncs = g->syncs;
    pthread_mutex_unlock(&g->mu);
}

sqlite3 *store_sqlite_db(store_conn *c)
{
    if (!c || !c->store || c->store->ops != &sq_ops) return NULL;
    struct sq_conn *sc = SQ(c);
    return sq_conn_ready(sc) == STORE_OK ? sc->db : NULL;
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .notifies = 0, /* changes_wait() polls PRAGMA data_version: no callbacks */
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .close = sq_close,
    .model_create = sq_model_create,
    .model_get = sq_model_get,
    .model_list = sq_model_list,
    .model_delete = sq_model_delete,
    .model_finish = sq_model_finish,
    .model_pending = sq_model_pending,
    .run_create = sq_run_create,
    .run_get = sq_run_get,
    .run_request = sq_run_request,
    .run_list = sq_run_list,
    .run_claim = sq_run_claim,
    .run_progress = sq_run_progress,
    .run_cancel = sq_run_cancel,
    .run_release = sq_run_release,
    .run_delete = sq_run_delete,
    .finish_begin = sq_finish_begin,
    .result_begin = sq_result_begin,
    .result_append = sq_result_append,
    .result_end = sq_result_end,
    .finish_commit = sq_finish_commit,
    .finish_commit_claim = sq_finish_commit_claim,
    .finish_abort = sq_finish_abort,
    .result_info = sq_result_info,
    .result_list = sq_result_list,
    .result_read_chunk = sq_result_read_chunk,
    .result_read = sq_result_read,
    .requeue_orphans = sq_requeue_orphans,
    .lease_renew = sq_lease_renew,
    .rescue_expired = sq_rescue_expired,
    .counts = sq_counts,
    .queue_depth = sq_queue_depth,
    .verify = sq_verify,
    .changes_wait = sq_changes_wait,
    .runs_settled = sq_runs_settled,
    .sweep_create = sq_sweep_create,
    .sweep_get = sq_sweep_get,
    .sweep_list = sq_sweep_list,
    .sweep_runs = sq_sweep_runs,
    .sweep_cancel = sq_sweep_cancel,
    .sweep_delete = sq_sweep_delete,
    .training_checkpoint_put = sq_training_checkpoint_put,
    .training_checkpoint_get = sq_training_checkpoint_get,
    .training_curve_read = sq_training_curve_read,
    .finish_model = sq_finish_model,
};
