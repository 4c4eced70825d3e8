/**
 * @file store_sqlite_labels.c
 * @brief SQLite backend: labels of models, jobs and sweeps (schema v4, docs/STORE.md).
 *
 * An object's labels arrive as a JSON object of strings (checked by the caller,
 * eir_json_check_labels()). They are stored as the object's labels_json column (for display)
 * and as one row per label in the `labels` table (for list filters), both in the transaction
 * that creates the object. SQLite's JSON functions read the object, so the rows are made by one
 * INSERT ... SELECT over json_each() and no label text is ever handled in C.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "store_sqlite_int.h"

store_status sq_labels_check(struct sq_conn *sc, const char *labels_json)
{
    if (!labels_json) return STORE_OK;
    store_status st = STORE_OK;
    sqlite3_stmt *s = sq_stmt(sc, ST_LABELS_TYPE, &st);
    if (!s) return st;
    int rc = sq_bind_text(s, 1, labels_json);
    if (rc != SQLITE_OK) {
        sq_done(s);
        return sq_fail(sc, rc == SQLITE_TOOBIG ? STORE_INVALID : STORE_ERROR,
                       "cannot bind the labels: %s", sqlite3_errstr(rc));
    }
    rc = sqlite3_step(s);
    int object = rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT &&
                 strcmp((const char *)sqlite3_column_text(s, 0), "object") == 0;
    if (rc != SQLITE_ROW) st = sq_fail_rc(sc, rc, "cannot read the labels");
    sq_done(s);
    if (st != STORE_OK) return st;
    if (!object) return sq_fail(sc, STORE_INVALID, "labels must be a JSON object");
    int64_t nontext = 0;
    sqlite3_stmt *q = sq_stmt(sc, ST_LABELS_NONTEXT, &st);
    if (!q) return st;
    sq_bind_text(q, 1, labels_json);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        nontext = sqlite3_column_int64(q, 0);
    else
        st = sq_fail_rc(sc, rc, "cannot read the labels");
    sq_done(q);
    if (st != STORE_OK) return st;
    if (nontext > 0)
        return sq_fail(sc, STORE_INVALID, "every label's value must be a string (%lld are not)",
                       (long long)nontext);
    return STORE_OK;
}

store_status sq_labels_put(struct sq_conn *sc, const char *object_id, const char *labels_json)
{
    if (!labels_json) return STORE_OK;
    store_status st = sq_labels_check(sc, labels_json);
    if (st != STORE_OK) return st;
    sqlite3_stmt *s = sq_stmt(sc, ST_LABELS_INSERT, &st);
    if (!s) return st;
    sq_bind_text(s, 1, object_id);
    sq_bind_text(s, 2, labels_json);
    return sq_run_stmt(sc, s, "cannot store the labels");
}

store_status sq_bind_labels(struct sq_conn *sc, sqlite3_stmt *s, const store_labels *labels)
{
    if (!labels || labels->n == 0) return STORE_OK;
    if (labels->n < 0 || labels->n > STORE_MAX_LABEL_FILTERS) {
        sq_done(s);
        return sq_fail(sc, STORE_INVALID, "%d label conditions (0 to %d)", labels->n,
                       STORE_MAX_LABEL_FILTERS);
    }
    for (int i = 0; i < labels->n; i++) {
        if (!labels->keys[i] || !labels->values[i]) {
            sq_done(s);
            return sq_fail(sc, STORE_INVALID, "label condition %d has no key or value", i + 1);
        }
        int rc = sq_bind_text(s, SQ_LABEL_PARAM + 2 * i, labels->keys[i]) |
                 sq_bind_text(s, SQ_LABEL_PARAM + 2 * i + 1, labels->values[i]);
        if (rc != SQLITE_OK) {
            sq_done(s);
            return sq_fail(sc, STORE_INVALID, "cannot bind label condition %d: %s", i + 1,
                           sqlite3_errstr(rc));
        }
    }
    return STORE_OK;
}
