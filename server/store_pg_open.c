/**
 * @file store_pg_open.c
 * @brief PostgreSQL backend: open (migrations under an advisory lock), connect, close, and the
 *        function table.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_random.h"
#include "store_pg_int.h"

static const struct store_ops pg_ops;

static struct store_conn *pg_connect(struct store *s)
{
    struct pgs_conn *pc = calloc(1, sizeof *pc);
    if (!pc) return NULL;
    pc->base.store = s;
    pc->st = s->cls;
    return &pc->base;
}

static void pg_disconnect(struct store_conn *c)
{
    if (!c) return;
    struct pgs_conn *pc = PGC(c);
    if (pc->w.active) pg_finish_abort(c);
    pc->held = 0;
    pg_rollback(pc);
    pg_return(pc);
    pg_listen_close(pc);
    free(pc->w.buf);
    free(pc);
}

static void pg_close(struct store *s)
{
    if (!s) return;
    struct pg_store *st = s->cls;
    pg_pool_destroy(&st->pool);
    free(st->url);
    free(st);
}

int store_pg_schema_version(void)
{
    return store_pg_migrations_count ? store_pg_migrations[store_pg_migrations_count - 1].version
                                     : 0;
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

/** Run @p sql (literal, or an embedded migration; @p nparams values as text) on @p db; 0 on
 *  success, else -1 with "<what>: <message>" in @p err. *@p out (may be NULL) gets the first
 *  field of the first row as an integer (-1 when none). */
static int open_exec(PGconn *db, const char *sql, int nparams, const char *const *params,
                     int64_t *out, char *err, size_t errlen, const char *what)
{
    PGresult *res =
        nparams ? PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(db, sql);
    ExecStatusType es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        char line[300];
        snprintf(line, sizeof line, "%s", msg ? msg : PQerrorMessage(db));
        for (char *p = line; *p; p++)
            if (*p == '\n') *p = ' ';
        open_err(err, errlen, "%s: %s%s%s%s", what, line, state ? " (SQLSTATE " : "",
                 state ? state : "", state ? ")" : "");
        PQclear(res);
        return -1;
    }
    if (out)
        *out = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                   ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                   : -1;
    PQclear(res);
    return 0;
}

/** Bring the schema to the current version: one transaction under the migration advisory lock
 *  (daemons starting together wait for each other; the first migrates, the others find the
 *  work done). Refuses a database newer than this build. 0, or -1 with @p err. */
static int migrate(PGconn *db, char *err, size_t errlen)
{
    int latest = store_pg_schema_version();
    for (size_t i = 0; i < store_pg_migrations_count; i++)
        if (store_pg_migrations[i].version != (int)i + 1) {
            open_err(err, errlen, "embedded migrations are misnumbered at %s",
                     store_pg_migrations[i].name);
            return -1;
        }
    int64_t exists = -1, current = 0;
    if (open_exec(db, "BEGIN", 0, NULL, NULL, err, errlen, "cannot start the migration")) return -1;
    if (open_exec(db, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", 0, NULL, NULL, err,
                  errlen, "cannot take the migration lock") ||
        open_exec(db, "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END",
                  0, NULL, &exists, err, errlen, "cannot read the schema version") ||
        (exists == 1 && open_exec(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
                                  NULL, &current, err, errlen, "cannot read the schema version")))
        goto fail;
    if (current > latest) {
        open_err(err, errlen,
                 "the database's schema version %" PRId64 " is newer than this eirnnd knows (%d); "
                 "use a newer eirnnd",
                 current, latest);
        goto fail;
    }
    for (size_t i = (size_t)current; i < store_pg_migrations_count; i++) {
        char what[160], version[16];
        snprintf(what, sizeof what, "migration %s failed", store_pg_migrations[i].name);
        snprintf(version, sizeof version, "%d", store_pg_migrations[i].version);
        const char *params[1] = {version};
        if (open_exec(db, store_pg_migrations[i].sql, 0, NULL, NULL, err, errlen, what) ||
            open_exec(db,
                      "INSERT INTO schema_migrations (version, applied_at) "
                      "VALUES ($1::integer, " PG_NOW_MS ")",
                      1, params, NULL, err, errlen, what))
            goto fail;
    }
    if (open_exec(db, "COMMIT", 0, NULL, NULL, err, errlen, "cannot commit the migration"))
        goto fail;
    return 0;
fail:
    PQclear(PQexec(db, "ROLLBACK"));
    return -1;
}

store *store_pg_open(const char *url, const store_config *cfg, char *err, size_t errlen)
{
    store_config c;
    if (cfg)
        c = *cfg;
    else
        store_config_default(&c);
    if (err && errlen) err[0] = '\0';
    if (!url || !*url) {
        open_err(err, errlen, "no PostgreSQL URL given");
        return NULL;
    }
    if (c.chunk_size == 0 || c.chunk_size > PG_CHUNK_MAX) {
        open_err(err, errlen, "chunk size must be 1 to %zu bytes", PG_CHUNK_MAX);
        return NULL;
    }
    if (c.busy_timeout_ms < 0) c.busy_timeout_ms = 0;
    if (c.pool_size <= 0) c.pool_size = 8;
    if (!(c.lease_s > 0)) c.lease_s = 30;

    struct pg_store *st = calloc(1, sizeof *st);
    if (!st || !(st->url = strdup(url))) {
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }
    st->base.cls = st;
    store_claimant_make(c.claimant, st->claimant);
    if (eir_random_id(st->origin, sizeof st->origin, "", 8) != 0) {
        free(st->url);
        free(st);
        open_err(err, errlen, "cannot draw a random token for the change notifications");
        return NULL;
    }
    c.claimant = st->claimant;
    st->cfg = c;
    if (pg_pool_init(&st->pool, c.pool_size)) {
        free(st->url);
        free(st);
        open_err(err, errlen, "out of memory");
        return NULL;
    }

    char why[256] = "";
    PGconn *db = pg_connect_new(st, why, sizeof why);
    if (!db) {
        open_err(err, errlen, "cannot connect to PostgreSQL: %s", why);
        pg_close(&st->base);
        return NULL;
    }
    int rc = migrate(db, err, errlen);
    PQfinish(db);
    if (rc) {
        pg_close(&st->base);
        return NULL;
    }
    st->base.ops = &pg_ops;
    return &st->base;
}

const char *store_pg_url(const store *s)
{
    if (!s || s->ops != &pg_ops) return NULL;
    return ((const struct pg_store *)s->cls)->url;
}

const char *store_pg_claimant(const store *s)
{
    if (!s || s->ops != &pg_ops) return NULL;
    return ((const struct pg_store *)s->cls)->claimant;
}

void store_pg_pool_stats_get(store *s, store_pg_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || s->ops != &pg_ops) return;
    struct pg_pool *p = &((struct pg_store *)s->cls)->pool;
    pthread_mutex_lock(&p->mu);
    out->size = p->size;
    out->open = p->n_open;
    out->idle = p->n_idle;
    out->made = p->made;
    out->dropped = p->dropped;
    out->waits = p->waits;
    pthread_mutex_unlock(&p->mu);
}

static const struct store_ops pg_ops = {
    .name = "postgresql",
    .notifies = 1,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .close = pg_close,
    .model_create = pg_model_create,
    .model_get = pg_model_get,
    .model_list = pg_model_list,
    .model_delete = pg_model_delete,
    .model_finish = pg_model_finish,
    .model_pending = pg_model_pending,
    .run_create = pg_run_create,
    .run_get = pg_run_get,
    .run_request = pg_run_request,
    .run_list = pg_run_list,
    .run_claim = pg_run_claim,
    .run_progress = pg_run_progress,
    .run_cancel = pg_run_cancel,
    .run_release = pg_run_release,
    .run_delete = pg_run_delete,
    .finish_begin = pg_finish_begin,
    .result_begin = pg_result_begin,
    .result_append = pg_result_append,
    .result_end = pg_result_end,
    .finish_commit = pg_finish_commit,
    .finish_commit_claim = pg_finish_commit_claim,
    .finish_abort = pg_finish_abort,
    .result_info = pg_result_info,
    .result_list = pg_result_list,
    .result_read_chunk = pg_result_read_chunk,
    .result_read = pg_result_read,
    .requeue_orphans = pg_requeue_orphans,
    .lease_renew = pg_lease_renew,
    .rescue_expired = pg_rescue_expired,
    .counts = pg_counts,
    .queue_depth = pg_queue_depth,
    .verify = pg_verify,
    .changes_wait = pg_changes_wait,
    .runs_settled = pg_runs_settled,
    .sweep_create = pg_sweep_create,
    .sweep_get = pg_sweep_get,
    .sweep_list = pg_sweep_list,
    .sweep_runs = pg_sweep_runs,
    .sweep_cancel = pg_sweep_cancel,
    .sweep_delete = pg_sweep_delete,
    .training_checkpoint_put = pg_training_checkpoint_put,
    .training_checkpoint_get = pg_training_checkpoint_get,
    .training_curve_read = pg_training_curve_read,
    .finish_model = pg_finish_model,
};
