/**
 * @file store_pg_labels.c
 * @brief PostgreSQL backend: labels of models, jobs and sweeps (docs/STORE.md).
 *
 * As in the SQLite backend, an object's labels arrive as a JSON object of strings (checked by
 * the caller) and are stored twice, in the transaction that creates the object: verbatim as
 * the object's labels_json (for display) and as one row per label in `labels` (for the list
 * filters, ::PG_LABEL_CONDS). PostgreSQL's jsonb functions read the object, so no label text is
 * handled in C; a key given twice keeps its last value, as SQLite's INSERT OR REPLACE does.
 *
 * For writers of many objects in one transaction (a sweep's models and runs), the file also
 * has the check in C (pg_labels_check_text(): no round trip per object) and the text arrays
 * that carry a batch of rows as a few statement parameters (pg_array_*; store_pg_labels.h).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"
#include "store_pg_labels.h"

store_status pg_params_labels(struct pgs_conn *pc, struct pg_params *p, const store_labels *labels)
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

store_status pg_labels_check(struct pgs_conn *pc, const char *labels_json)
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

store_status pg_labels_put(struct pgs_conn *pc, const char *object_id, const char *labels_json)
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

/* ---- array parameters (store_pg_labels.h) ------------------------------------------------- */

/** Make room for @p more bytes and a NUL; 0 on success, -1 (and a->oom) when out of memory. */
static int array_reserve(pg_array *a, size_t more)
{
    if (a->oom) return -1;
    if (a->len + more + 1 <= a->cap) return 0;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            a->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *s = realloc(a->s, cap);
    if (!s) {
        a->oom = 1;
        return -1;
    }
    a->s = s;
    a->cap = cap;
    return 0;
}

/** Append @p n bytes of @p p. */
static void array_put(pg_array *a, const char *p, size_t n)
{
    if (array_reserve(a, n)) return;
    memcpy(a->s + a->len, p, n);
    a->len += n;
    a->s[a->len] = '\0';
}

/** The separator before an element (none before the first). */
static void array_sep(pg_array *a)
{
    if (a->n++ > 0) array_put(a, ",", 1);
}

void pg_array_init(pg_array *a)
{
    memset(a, 0, sizeof *a);
    array_put(a, "{", 1);
}

void pg_array_text(pg_array *a, const char *v)
{
    array_sep(a);
    if (!v) {
        array_put(a, "NULL", 4);
        return;
    }
    /* a quoted element keeps every byte but " and \, which take a backslash */
    size_t n = strlen(v), esc = 0;
    for (size_t i = 0; i < n; i++)
        esc += v[i] == '"' || v[i] == '\\';
    if (array_reserve(a, n + esc + 2)) return;
    char *o = a->s + a->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"' || v[i] == '\\') *o++ = '\\';
        *o++ = v[i];
    }
    *o++ = '"';
    a->len = (size_t)(o - a->s);
    a->s[a->len] = '\0';
}

void pg_array_i64(pg_array *a, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    array_sep(a);
    array_put(a, buf, (size_t)n);
}

void pg_array_f64(pg_array *a, double v)
{
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.17g", v);
    array_sep(a);
    array_put(a, buf, (size_t)n);
}

const char *pg_array_end(pg_array *a)
{
    array_put(a, "}", 1);
    return a->oom ? NULL : a->s;
}

void pg_array_free(pg_array *a)
{
    if (!a) return;
    free(a->s);
    memset(a, 0, sizeof *a);
}

/* ---- the labels check without a database (store_pg_labels.h) ------------------------------ */

/** Set @p err (printf-style) and return @p st. */
static store_status label_fail(char *err, size_t errlen, store_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static store_status label_fail(char *err, size_t errlen, store_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

store_status pg_labels_check_text(const char *labels_json, char *err, size_t errlen)
{
    if (!labels_json) return STORE_OK;
    json_error_t jerr;
    /* jansson refuses \u0000 in strings (no JSON_ALLOW_NUL), as jsonb and the labels table do */
    json_t *j = json_loads(labels_json, JSON_DECODE_ANY, &jerr);
    if (!j && json_error_code(&jerr) == json_error_out_of_memory)
        return label_fail(err, errlen, STORE_ERROR, "out of memory reading labels");
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return label_fail(err, errlen, STORE_INVALID, "labels must be a JSON object");
    }
    long long nontext = 0;
    const char *key;
    json_t *value;
    json_object_foreach(j, key, value)
    {
        if (!json_is_string(value)) nontext++;
    }
    json_decref(j);
    if (nontext > 0)
        return label_fail(err, errlen, STORE_INVALID,
                          "every label's value must be a string (%lld are not)", nontext);
    return STORE_OK;
}
