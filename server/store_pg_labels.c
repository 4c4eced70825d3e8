/**
 * @file store_pg_labels.c
 * @brief PostgreSQL backend: labels of models, jobs and sweeps (docs/STORE.md).
 *
 * As in the SQLite backend, an object's labels arrive as a JSON object of strings (checked by
 * the caller) and are stored twice, in the transaction that creates the object: verbatim as
 * the object's labels_json (for display) and as one row per label in `labels` (for the list
 * filters, ::PG_LABEL_CONDS). PostgreSQL's jsonb functions read the object, so no label text is
 * handled in C; a key given twice keeps its last value, as SQLite's INSERT OR REPLACE does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"

store_status pg_params_labels(struct pg_conn *pc, struct pg_params *p, const store_labels *labels)
{
    if (!labels || labels->n == 0) {
        pg_p_text(p, NULL);
        pg_p_text(p, NULL);
        return STORE_OK;
    }
    if (labels->n < 0 || labels->n > STORE_MAX_LABEL_FILTERS)
        return pg_fail(pc, STORE_INVALID, "%d label conditions (0 to %d)", labels->n,
                       STORE_MAX_LABEL_FILTERS);
    for (int i = 0; i < labels->n; i++)
        if (!labels->keys[i] || !labels->values[i])
            return pg_fail(pc, STORE_INVALID, "label condition %d has no key or value", i + 1);
    pg_p_text_array(p, labels->keys, (size_t)labels->n);
    pg_p_text_array(p, labels->values, (size_t)labels->n);
    if (p->oom) return pg_fail(pc, STORE_ERROR, "out of memory for the label conditions");
    return STORE_OK;
}

store_status pg_labels_check(struct pg_conn *pc, const char *labels_json)
{
    if (!labels_json) return STORE_OK;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, labels_json);
    int64_t nontext = 0;
    /* -1: not an object; else the number of members whose value is not a string */
    store_status st = pg_query_i64(
        pc,
        "SELECT CASE WHEN jsonb_typeof(j) = 'object' THEN (SELECT count(*) FROM jsonb_each(j) "
        "WHERE jsonb_typeof(value) <> 'string') ELSE -1 END FROM (SELECT $1::jsonb AS j) AS s",
        &p, &nontext, "cannot read the labels");
    if (st == STORE_INVALID) return pg_fail(pc, STORE_INVALID, "labels must be a JSON object");
    if (st != STORE_OK) return st;
    if (nontext < 0) return pg_fail(pc, STORE_INVALID, "labels must be a JSON object");
    if (nontext > 0)
        return pg_fail(pc, STORE_INVALID, "every label's value must be a string (%lld are not)",
                       (long long)nontext);
    return STORE_OK;
}

store_status pg_labels_put(struct pg_conn *pc, const char *object_id, const char *labels_json)
{
    if (!labels_json) return STORE_OK;
    store_status st = pg_labels_check(pc, labels_json);
    if (st != STORE_OK) return st;
    struct pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, object_id);
    pg_p_text(&p, labels_json);
    return pg_run(pc,
                  "INSERT INTO labels (object_id, key, value) SELECT $1, key, value "
                  "FROM jsonb_each_text($2::jsonb) "
                  "ON CONFLICT (object_id, key) DO UPDATE SET value = excluded.value",
                  &p, NULL, "cannot store the labels");
}
