/**
 * @file store_pg_conn.c
 * @brief PostgreSQL backend: the connection pool, statements, errors, transactions and
 *        notifications (store_pg_int.h describes the design).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eir_clock.h"
#include "store_pg_int.h"

/* ---- messages and errors ------------------------------------------------------------------ */

store_status pg_fail(struct pgs_conn *pc, store_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->base.errmsg, sizeof pc->base.errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *pg_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

store_status pg_status_of(const char *sqlstate)
{
    if (!sqlstate || !*sqlstate) return STORE_BUSY;         /* no answer: the connection was lost */
    if (strncmp(sqlstate, "08", 2) == 0) return STORE_BUSY; /* connection exception */
    static const char *const busy[] = {
        "57P01", /* admin_shutdown */
        "57P02", /* crash_shutdown */
        "57P03", /* cannot_connect_now: starting up, shutting down, in recovery */
        "40001", /* serialization_failure */
        "40P01", /* deadlock_detected */
        "55P03", /* lock_not_available */
        "57014", /* query_canceled (statement_timeout, lock_timeout) */
        "53300", /* too_many_connections */
        "25006", /* read_only_sql_transaction: a standby during failover */
    };
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
        if (strcmp(sqlstate, busy[i]) == 0) return STORE_BUSY;
    if (strcmp(sqlstate, "53100") == 0) return STORE_FULL;      /* disk_full */
    if (strcmp(sqlstate, "23505") == 0) return STORE_CONFLICT;  /* unique_violation */
    if (strcmp(sqlstate, "23503") == 0) return STORE_NOT_FOUND; /* foreign_key_violation */
    if (strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "23514") == 0 ||
        strcmp(sqlstate, "23502") == 0)
        return STORE_INVALID; /* data exception, check or not-null violation */
    return STORE_ERROR;
}

/** Copy @p msg into @p out of @p cap bytes as one line (runs of newlines, tabs and spaces
 *  become one space, trailing blanks dropped): libpq's messages span lines. */
static void one_line(char *out, size_t cap, const char *msg)
{
    size_t n = 0;
    int blank = 0;
    for (; msg && *msg && n + 1 < cap; msg++) {
        int ws = *msg == '\n' || *msg == '\t' || *msg == ' ' || *msg == '\r';
        if (ws && (blank || n == 0)) continue;
        out[n++] = ws ? ' ' : *msg;
        blank = ws;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

store_status pg_fail_res(struct pgs_conn *pc, PGconn *db, const PGresult *res, const char *what)
{
    const char *state = pg_sqlstate(res);
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[320];
    if (primary)
        one_line(msg, sizeof msg, primary);
    else
        one_line(msg, sizeof msg,
                 db && PQerrorMessage(db)[0] ? PQerrorMessage(db) : "no answer from PostgreSQL");
    store_status st = pg_status_of(state);
    /* a statement that got no answer because the connection broke is a lost connection,
     * whatever else the result says */
    if (db && PQstatus(db) == CONNECTION_BAD) st = STORE_BUSY;
    if (*state)
        pg_fail(pc, st, "%s: %s (SQLSTATE %s)", what, msg, state);
    else
        pg_fail(pc, st, "%s: the connection to PostgreSQL was lost (%s)", what, msg);
    return st;
}

/* ---- prepared statements ------------------------------------------------------------------- */

/**
 * The statements prepared on one backend connection, found by the address of their SQL text
 * (a literal: the same address every time) and checked against a copy of the text, so that a
 * statement is never mistaken for another. Statement i is named "e<i>".
 */
struct pg_prep {
    int n;
    const char *key[PG_PREP_MAX]; /**< the caller's SQL pointer */
    char *text[PG_PREP_MAX];      /**< a copy of the SQL */
};

/** Free a connection's statement list (NULL is a no-op). Cannot fail. */
static void prep_free(struct pg_prep *pp)
{
    if (!pp) return;
    for (int i = 0; i < pp->n; i++)
        free(pp->text[i]);
    free(pp);
}

/** The index of @p sql among @p pp's statements, or -1. */
static int prep_find(const struct pg_prep *pp, const char *sql)
{
    for (int i = 0; i < pp->n; i++)
        if (pp->key[i] == sql && strcmp(pp->text[i], sql) == 0) return i;
    return -1;
}

/** Prepare @p sql on @p db as the next statement of @p pp: its index, or -1 (no room, out of
 *  memory, or PostgreSQL refused; the caller then runs it unprepared and gets the error). */
static int prep_add(PGconn *db, struct pg_prep *pp, const char *sql, int nparams)
{
    if (pp->n >= PG_PREP_MAX) return -1;
    char *copy = strdup(sql);
    if (!copy) return -1;
    char name[16];
    snprintf(name, sizeof name, "e%d", pp->n);
    PGresult *res = PQprepare(db, name, sql, nparams, NULL);
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        free(copy);
        return -1;
    }
    pp->key[pp->n] = sql;
    pp->text[pp->n] = copy;
    return pp->n++;
}

/* ---- the pool ---------------------------------------------------------------------------------
 */

int pg_pool_init(struct pg_pool *p, int size)
{
    memset(p, 0, sizeof *p);
    p->size = size > 0 ? size : 1;
    p->idle = calloc((size_t)p->size, sizeof *p->idle);
    if (!p->idle) return -1;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) goto fail;
    if (pthread_mutex_init(&p->mu, NULL)) {
        pthread_cond_destroy(&p->cv);
        goto fail;
    }
    return 0;
fail:
    free(p->idle);
    p->idle = NULL;
    return -1;
}

void pg_pool_destroy(struct pg_pool *p)
{
    if (!p->idle) return;
    for (int i = 0; i < p->n_idle; i++) {
        PQfinish(p->idle[i].db);
        prep_free(p->idle[i].prep);
    }
    free(p->idle);
    p->idle = NULL;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/** Seconds of libpq's connect_timeout for a busy timeout of @p ms (2 at least: libpq treats 1
 *  as 2 anyway). */
static int connect_timeout_s(int ms)
{
    int s = (ms + 999) / 1000;
    return s < 2 ? 2 : s;
}

/** libpq's notice processor: the store reports through statuses and messages, so notices
 *  (e.g. "relation already exists, skipping") are dropped instead of printed on stderr. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *pg_connect_new(const struct pg_store *st, char *err, size_t errlen)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", connect_timeout_s(st->cfg.busy_timeout_ms));
    /* the URL comes after the defaults so that its own parameters win */
    /* TCP keepalives: a server that vanished without closing (host down, network cut) is
     * noticed after about a minute instead of the system's two hours, also by the listener */
    const char *const keys[] = {"connect_timeout",
                                "fallback_application_name",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "dbname",
                                NULL};
    const char *const vals[] = {timeout, "eirnnd", "30", "10", "3", st->url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (!db) {
        if (err && errlen) snprintf(err, errlen, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(db) != CONNECTION_OK) {
        if (err && errlen) one_line(err, errlen, PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeProcessor(db, ignore_notice, NULL);
    /* a row lock waited for longer than the busy timeout ends the statement with 55P03
     * (STORE_BUSY), as SQLite's busy timeout does; unless the URL set a lock_timeout itself.
     * (The store's origin token is no session setting: pg_notes_send() puts it into each
     * payload it passes as a parameter, which survives a transaction-pooling proxy.) */
    char ms[16];
    snprintf(ms, sizeof ms, "%d", st->cfg.busy_timeout_ms > 0 ? st->cfg.busy_timeout_ms : 1);
    const char *const params[1] = {ms};
    PGresult *res = PQexecParams(db,
                                 "SELECT set_config('lock_timeout', $1, false) "
                                 "WHERE current_setting('lock_timeout') = '0'",
                                 1, NULL, params, NULL, NULL, 0);
    int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok && err && errlen) one_line(err, errlen, PQerrorMessage(db));
    PQclear(res);
    if (!ok) {
        PQfinish(db);
        return NULL;
    }
    return db;
}

/** 1 when idle connection @p db still looks usable: nothing arrived on its socket. A pooled
 *  connection listens to nothing, so whatever arrives while it is idle is a goodbye (admin
 *  shutdown, restart, pg_terminate_backend: a FATAL error, which libpq takes for a notice
 *  when idle, then EOF) or something as rare; either way it is replaced by a new one. */
static int idle_conn_ok(PGconn *db)
{
    if (PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) != PQTRANS_IDLE) return 0;
    struct pollfd pfd = {.fd = PQsocket(db), .events = POLLIN};
    if (pfd.fd < 0) return 0;
    return poll(&pfd, 1, 0) == 0;
}

store_status pg_borrow(struct pgs_conn *pc)
{
    if (pc->db) return STORE_OK;
    struct pg_store *st = pc->st;
    struct pg_pool *p = &st->pool;
    double now = eir_clock_mono();
    double end = now + st->cfg.busy_timeout_ms / 1000.0;
    if (pc->base.deadline > 0 && pc->base.deadline < end) end = pc->base.deadline;
    struct timespec until = eir_clock_deadline(CLOCK_MONOTONIC, end > now ? end - now : 0);

    pthread_mutex_lock(&p->mu);
    int waited = 0;
    for (;;) {
        while (p->n_idle > 0) {
            struct pg_idle it = p->idle[--p->n_idle];
            if (idle_conn_ok(it.db)) {
                pthread_mutex_unlock(&p->mu);
                pc->db = it.db;
                pc->prep = it.prep;
                return STORE_OK;
            }
            /* broken while idle (e.g. PostgreSQL restarted): close it, make another below */
            p->n_open--;
            p->dropped++;
            pthread_mutex_unlock(&p->mu);
            PQfinish(it.db);
            prep_free(it.prep);
            pthread_mutex_lock(&p->mu);
        }
        if (p->n_open < p->size) break;
        if (!waited) p->waits++;
        waited = 1;
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
        if (rc != 0 && p->n_idle == 0 && p->n_open >= p->size) {
            int size = p->size;
            pthread_mutex_unlock(&p->mu);
            return pg_fail(pc, STORE_BUSY, "all %d database connections are busy", size);
        }
    }
    p->n_open++; /* the slot is ours while we connect without the lock */
    pthread_mutex_unlock(&p->mu);

    char why[256] = "";
    PGconn *db = pg_connect_new(st, why, sizeof why);
    pthread_mutex_lock(&p->mu);
    if (db)
        p->made++;
    else
        p->n_open--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!db) return pg_fail(pc, STORE_BUSY, "cannot connect to PostgreSQL: %s", why);
    pc->db = db;
    pc->prep = calloc(1, sizeof *pc->prep); /* NULL: statements run unprepared */
    return STORE_OK;
}

void pg_return(struct pgs_conn *pc)
{
    PGconn *db = pc->db;
    struct pg_prep *prep = pc->prep;
    if (!db || pc->held) return;
    pg_notes_send(pc); /* of a write in autocommit: committed (inside a transaction: dropped) */
    pc->db = NULL;
    pc->prep = NULL;
    struct pg_pool *p = &pc->st->pool;
    int keep = PQstatus(db) == CONNECTION_OK;
    if (keep && PQtransactionStatus(db) != PQTRANS_IDLE) {
        /* left in a transaction (a bug or a failed rollback): roll back, or drop it */
        PGresult *r = PQexec(db, "ROLLBACK");
        PQclear(r);
        keep = PQstatus(db) == CONNECTION_OK && PQtransactionStatus(db) == PQTRANS_IDLE;
    }
    pthread_mutex_lock(&p->mu);
    if (keep && p->n_idle < p->size) {
        p->idle[p->n_idle++] = (struct pg_idle){db, prep};
        db = NULL;
        prep = NULL;
    } else {
        p->n_open--;
        p->dropped++;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (db) PQfinish(db);
    prep_free(prep);
}

store_status pg_op_begin(struct pgs_conn *pc)
{
    if (pc->w.active)
        return pg_fail(pc, STORE_INVALID,
                       "a finish of run %s is in progress on this connection; commit or abort it "
                       "first",
                       pc->w.run_id);
    return pg_borrow(pc);
}

/* ---- statements --------------------------------------------------------------------------- */

PGresult *pg_exec(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                  int binary_result, store_status *st, const char *what)
{
    if (!pc->db) {
        *st = pg_fail(pc, STORE_ERROR, "%s: no database connection borrowed (a bug)", what);
        return NULL;
    }
    if (p && (p->overflow || p->oom)) {
        *st = pg_fail(pc, STORE_ERROR, "%s: %s", what,
                      p->oom ? "out of memory for the statement's parameters"
                             : "too many statement parameters (a bug)");
        return NULL;
    }
    int n = p ? p->n : 0, k = -1;
    if (pc->prep && (k = prep_find(pc->prep, sql)) < 0 &&
        PQtransactionStatus(pc->db) != PQTRANS_INERROR)
        k = prep_add(pc->db, pc->prep, sql, n);
    PGresult *res;
    if (k >= 0) {
        char name[16];
        snprintf(name, sizeof name, "e%d", k);
        res = PQexecPrepared(pc->db, name, n, p ? p->v : NULL, p ? p->len : NULL, p ? p->fmt : NULL,
                             binary_result ? 1 : 0);
    } else {
        res = PQexecParams(pc->db, sql, n, NULL, p ? p->v : NULL, p ? p->len : NULL,
                           p ? p->fmt : NULL, binary_result ? 1 : 0);
    }
    ExecStatusType es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (k >= 0 && es == PGRES_FATAL_ERROR && strcmp(pg_sqlstate(res), "26000") == 0) {
        /* the prepared statement is gone: the session behind this connection changed under
         * us (a transaction-pooling proxy). Stop preparing on this connection; a statement
         * outside a transaction simply runs again unprepared. */
        prep_free(pc->prep);
        pc->prep = NULL;
        if (PQtransactionStatus(pc->db) == PQTRANS_IDLE) {
            PQclear(res);
            res = PQexecParams(pc->db, sql, n, NULL, p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, binary_result ? 1 : 0);
            es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        } else {
            PQclear(res);
            *st = pg_fail(pc, STORE_BUSY,
                          "%s: a prepared statement vanished from the database session (a "
                          "transaction-pooling proxy?); retry, statements are no longer "
                          "prepared on this connection",
                          what);
            return NULL;
        }
    }
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        *st = STORE_OK;
        return res;
    }
    *st = pg_fail_res(pc, pc->db, res, what);
    PQclear(res);
    return NULL;
}

store_status pg_run(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                    int64_t *affected, const char *what)
{
    store_status st;
    PGresult *res = pg_exec(pc, sql, p, 0, &st, what);
    if (!res) return st;
    if (affected) *affected = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

store_status pg_query_i64(struct pgs_conn *pc, const char *sql, const struct pg_params *p,
                          int64_t *out, const char *what)
{
    store_status st;
    *out = 0;
    PGresult *res = pg_exec(pc, sql, p, 0, &st, what);
    if (!res) return st;
    if (PQntuples(res) > 0 && PQnfields(res) > 0) *out = pg_i64(res, 0, 0);
    PQclear(res);
    return STORE_OK;
}

/* ---- transactions ----------------------------------------------------------------------- */

store_status pg_begin(struct pgs_conn *pc)
{
    pg_notes_send(pc); /* of a write in autocommit before it: committed */
    return pg_run(pc, "BEGIN", NULL, NULL, "cannot start a transaction");
}

store_status pg_commit(struct pgs_conn *pc)
{
    store_status st;
    PGresult *res = pg_exec(pc, "COMMIT", NULL, 0, &st, "cannot commit");
    if (!res) {
        pg_notes_drop(pc);
        if (st == STORE_BUSY)
            pg_fail(pc, STORE_BUSY,
                    "the connection to PostgreSQL was lost during COMMIT: the change may or may "
                    "not have been kept");
        return st;
    }
    /* COMMIT of a transaction that had failed answers ROLLBACK */
    int rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    if (rolled_back) {
        pg_notes_drop(pc);
        return pg_fail(pc, STORE_ERROR, "the transaction was rolled back by PostgreSQL");
    }
    pg_notes_send(pc);
    return STORE_OK;
}

void pg_rollback(struct pgs_conn *pc)
{
    pg_notes_drop(pc);
    if (!pc->db || PQstatus(pc->db) != CONNECTION_OK) return;
    if (PQtransactionStatus(pc->db) == PQTRANS_IDLE) return;
    PGresult *res = PQexec(pc->db, "ROLLBACK");
    PQclear(res);
}

/** 1 when the last failure was a serialization failure or deadlock worth a retry. */
static int retryable(struct pgs_conn *pc)
{
    return strstr(pc->base.errmsg, "(SQLSTATE 40001)") ||
           strstr(pc->base.errmsg, "(SQLSTATE 40P01)");
}

store_status pg_tx_run(struct pgs_conn *pc, pg_tx_body body, void *ctx)
{
    store_status st = pg_op_begin(pc);
    if (st != STORE_OK) return st;
    for (int attempt = 1;; attempt++) {
        st = pg_begin(pc);
        if (st == STORE_OK) {
            st = body(pc, ctx);
            if (st == STORE_OK)
                st = pg_commit(pc);
            else
                pg_rollback(pc);
        }
        if (st != STORE_BUSY || attempt >= 3 || !retryable(pc) || PQstatus(pc->db) != CONNECTION_OK)
            break;
        pg_rollback(pc);
        pc->base.errmsg[0] = '\0';
    }
    pg_return(pc);
    return st;
}

/* ---- notifications ---------------------------------------------------------------------- */

store_status pg_notify(struct pgs_conn *pc, char letter, const char *id)
{
    struct pg_notes *q = &pc->notes;
    if (!id) id = "";
    if (letter == PG_NOTE_QUEUED) q->any_queued = 1;
    if (letter == PG_NOTE_ENDED) q->any_ended = 1;
    if (q->collapsed) return STORE_OK;
    for (int k = 0; k < q->n; k++)
        if (q->letter[k] == letter && strcmp(q->id[k], id) == 0) return STORE_OK;
    if (q->n >= PG_NOTES_MAX) {
        q->collapsed = 1;
        return STORE_OK;
    }
    q->letter[q->n] = letter;
    snprintf(q->id[q->n], sizeof q->id[q->n], "%s", id);
    q->n++;
    return STORE_OK;
}

void pg_note_payload(struct pgs_conn *pc, const char *payload)
{
    if (!payload || !payload[0] || payload[1] != ' ') return;
    pg_notify(pc, payload[0], payload + 2);
}

void pg_note_payloads(struct pgs_conn *pc, const char *list)
{
    while (list && *list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        char one[STORE_ID_MAX + 4];
        if (len < sizeof one) {
            memcpy(one, list, len);
            one[len] = '\0';
            pg_note_payload(pc, one);
        }
        list = end ? end + 1 : NULL;
    }
}

void pg_notes_drop(struct pgs_conn *pc)
{
    struct pg_notes *q = &pc->notes;
    q->n = 0;
    q->collapsed = 0;
    q->any_queued = 0;
    q->any_ended = 0;
}

/* The notifications, one per element of $1, in a transaction of their own whose commit does not
 * wait for the WAL flush: set_config(.., true) is local to the statement's implicit transaction
 * and synchronous_commit is read when that transaction commits ("the behavior for any one
 * transaction is determined by the setting in effect when it commits"). PostgreSQL holds its
 * notify lock from the pre-commit until the commit is done, so a commit that waits for the
 * flush serialises every notifying transaction behind the disk. */
static const char notes_sql[] = "SELECT set_config('synchronous_commit', 'off', true), "
                                "pg_notify('" PG_CHANNEL "', p) FROM unnest($1::text[]) AS p";

void pg_notes_send(struct pgs_conn *pc)
{
    struct pg_notes *q = &pc->notes;
    if (q->n == 0 && !q->collapsed) return;
    if (!pc->db || PQstatus(pc->db) != CONNECTION_OK ||
        PQtransactionStatus(pc->db) != PQTRANS_IDLE) {
        pg_notes_drop(pc);
        return;
    }
    char buf[PG_NOTES_MAX][STORE_ID_MAX + PG_ORIGIN_MAX + 4];
    const char *items[PG_NOTES_MAX];
    size_t n = 0;
    const char *origin = pc->st->origin; /* "<letter> <id> <origin>" (store_pg_watch.c) */
    if (q->collapsed) { /* one 'o' for the change feed, plus the kinds someone acts on */
        snprintf(buf[n], sizeof buf[n], "%c  %s", PG_NOTE_OTHER, origin), n++;
        if (q->any_queued) snprintf(buf[n], sizeof buf[n], "%c  %s", PG_NOTE_QUEUED, origin), n++;
        if (q->any_ended) snprintf(buf[n], sizeof buf[n], "%c  %s", PG_NOTE_ENDED, origin), n++;
    } else {
        for (int k = 0; k < q->n; k++, n++)
            snprintf(buf[n], sizeof buf[n], "%c %s %s", q->letter[k], q->id[k], origin);
    }
    for (size_t k = 0; k < n; k++)
        items[k] = buf[k];
    pg_notes_drop(pc);
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text_array(&p, items, n);
    pg_run(pc, notes_sql, &p, NULL,
           "the change was committed but its notifications could not be sent");
    pg_params_free(&p);
}
