/**
 * @file h_common.c
 * @brief Pieces shared by the handlers: list paging (limit, cursor, RFC 8288 Link) and the
 *        JSON of a run's status resource.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "labels.h"

int srv_page_params(srv_req *r, int *limit, const char **cursor, enum MHD_Result *ret)
{
    *limit = STORE_LIST_DEFAULT;
    *cursor = srv_query(r, "cursor");
    if (*cursor && !**cursor) *cursor = NULL;
    const char *l = srv_query(r, "limit");
    if (l) {
        char *end;
        errno = 0;
        long v = strtol(l, &end, 10);
        if (errno || end == l || *end || v < 1 || v > STORE_LIST_MAX) {
            *ret = srv_problem_param(r, "limit", "limit must be an integer from 1 to %d, not '%s'",
                                     STORE_LIST_MAX, l);
            return -1;
        }
        *limit = (int)v;
    }
    return 0;
}

void srv_url_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    if (cap == 0) return;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 4 < cap; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

void srv_link_next(struct MHD_Response *resp, const char *base, const char *extra, int limit,
                   const char *next)
{
    if (!resp || !next || !*next) return;
    char enc[3 * STORE_CURSOR_MAX + 1];
    srv_url_encode(next, enc, sizeof enc);
    /* extra may hold label filters (SRV_LIST_QUERY_MAX bytes): sized for what it holds */
    size_t cap = strlen(base) + strlen(extra) + strlen(enc) + 64;
    char *link = malloc(cap);
    if (!link) return; /* no next link: the body's next_cursor still has the cursor */
    snprintf(link, cap, "<%s?%s%slimit=%d&cursor=%s>; rel=\"next\"", base, extra,
             extra[0] ? "&" : "", limit, enc);
    MHD_add_response_header(resp, "Link", link);
    free(link);
}

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    srv_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

/** The "sweep" member of a run: {"id", "index"} of the sweep it is a point of, or null. */
static json_t *sweep_of(const store_run *run)
{
    if (!run->sweep_id[0]) return json_null();
    return json_pack("{s:s, s:I}", "id", run->sweep_id, "index", (json_int_t)run->sweep_index);
}

json_t *srv_run_json(const store_run *run)
{
    char self[64], results[80];
    snprintf(self, sizeof self, "/v1/runs/%s", run->id);
    snprintf(results, sizeof results, "/v1/runs/%s/results", run->id);
    double frac = run->progress_total > 0 ? (double)run->progress_done / (double)run->progress_total
                                          : (store_run_status_final(run->status) ? 1.0 : 0.0);
    if (frac > 1) frac = 1;
    return json_pack(
        "{s:s, s:o, s:s, s:{s:I, s:I, s:f}, s:i, s:i, s:b, s:f, s:o, s:o, s:o, s:o, s:o, "
        "s:{s:s, s:s}}",
        "id", run->id, "model_id", run->model_id[0] ? json_string(run->model_id) : json_null(),
        "status", store_run_status_name(run->status), "progress", "done",
        (json_int_t)run->progress_done, "total", (json_int_t)run->progress_total, "fraction", frac,
        "attempts", run->attempts, "max_attempts", run->max_attempts, "cancel_requested",
        run->cancel_requested, "time_limit", run->time_limit, "created_at",
        time_or_null(run->created_at), "started_at", time_or_null(run->started_at), "finished_at",
        time_or_null(run->finished_at), "labels", srv_labels_object(run->labels_json), "sweep",
        sweep_of(run), "links", "self", self, "results", results);
}

/** Whether @p s needs no JSON escaping and is an id-like word (letters, digits, '_', '-'). */
static int plain_word(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/** A real as jansson writes it with JSON_REAL_PRECISION(17) (jsonp_dtostr); returns its length. */
static size_t put_real(char *p, double v)
{
    int n = snprintf(p, 40, "%.17g", v);
    if (n < 0 || n > 36) return 0;
    if (!strchr(p, '.') && !strchr(p, 'e')) {
        p[n++] = '.';
        p[n++] = '0';
        p[n] = '\0';
    }
    char *e = strchr(p, 'e');
    if (e) { /* no '+' and no leading zeros in the exponent */
        char *start = e + 1, *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)n - (size_t)(end - p) + 1);
            n -= (int)(end - start);
        }
    }
    return (size_t)n;
}

/** Append an RFC 3339 time in quotes, or null. */
static size_t put_time(char *p, int64_t ms)
{
    if (ms <= 0) {
        memcpy(p, "null", 4);
        return 4;
    }
    char t[40];
    srv_rfc3339(ms, t, sizeof t);
    return (size_t)sprintf(p, "\"%s\"", t);
}

/**
 * The bytes of json_dumps(srv_run_json(run), JSON_COMPACT | JSON_REAL_PRECISION(17)), written
 * without building a jansson object (GET /v1/runs/{id} is the hottest request). NULL when a
 * string would need escaping (never for store-made ids) or memory runs out: then the caller
 * takes the jansson path.
 */
static char *run_base_fast(const store_run *run, size_t *len)
{
    if (!plain_word(run->id) || !plain_word(run->model_id) || strlen(run->id) > 64 ||
        strlen(run->model_id) > 64 || !plain_word(run->sweep_id) || strlen(run->sweep_id) > 64)
        return NULL;
    /* The labels as stored: the compact jansson text of a checked object (labels.h), which
     * json_dumps() writes again byte for byte. Anything else takes the jansson path. */
    const char *labels = run->labels_json && *run->labels_json ? run->labels_json : "{}";
    size_t llen = strlen(labels);
    if (labels[0] != '{' || labels[llen - 1] != '}') return NULL;
    double frac = run->progress_total > 0 ? (double)run->progress_done / (double)run->progress_total
                                          : (store_run_status_final(run->status) ? 1.0 : 0.0);
    if (frac > 1) frac = 1;
    char *out = malloc(1024 + llen);
    if (!out) return NULL;
    char *p = out;
    p += sprintf(p, "{\"id\":\"%s\",\"model_id\":", run->id);
    p += run->model_id[0] ? sprintf(p, "\"%s\"", run->model_id) : sprintf(p, "null");
    p += sprintf(p, ",\"status\":\"%s\",\"progress\":{\"done\":%lld,\"total\":%lld,\"fraction\":",
                 store_run_status_name(run->status), (long long)run->progress_done,
                 (long long)run->progress_total);
    p += put_real(p, frac);
    p += sprintf(p, "},\"attempts\":%d,\"max_attempts\":%d,\"cancel_requested\":%s,\"time_limit\":",
                 run->attempts, run->max_attempts, run->cancel_requested ? "true" : "false");
    p += put_real(p, run->time_limit);
    p += sprintf(p, ",\"created_at\":");
    p += put_time(p, run->created_at);
    p += sprintf(p, ",\"started_at\":");
    p += put_time(p, run->started_at);
    p += sprintf(p, ",\"finished_at\":");
    p += put_time(p, run->finished_at);
    p += sprintf(p, ",\"labels\":%s,\"sweep\":", labels);
    p += run->sweep_id[0] ? sprintf(p, "{\"id\":\"%s\",\"index\":%lld}", run->sweep_id,
                                    (long long)run->sweep_index)
                          : sprintf(p, "null");
    p += sprintf(p, ",\"links\":{\"self\":\"/v1/runs/%s\",\"results\":\"/v1/runs/%s/results\"}}",
                 run->id, run->id);
    *len = (size_t)(p - out);
    return out;
}

char *srv_run_resource(const store_run *run, int with_meta, size_t *len)
{
    size_t n = 0;
    char *base = run_base_fast(run, &n);
    if (!base) {
        json_t *j = srv_run_json(run);
        if (!j) return NULL;
        base = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(j);
        if (!base) return NULL;
        n = strlen(base);
    }
    if (!with_meta) {
        *len = n;
        return base;
    }
    /* Splice the stored JSON texts in as they are (they were written by the workers). */
    const char *meta = run->meta_json && *run->meta_json ? run->meta_json : "null";
    const char *err = run->error_json && *run->error_json ? run->error_json : "null";
    size_t cap = n + strlen(meta) + strlen(err) + 32;
    char *out = malloc(cap);
    if (!out) {
        free(base);
        return NULL;
    }
    memcpy(out, base, n - 1); /* drop the closing brace */
    int k = snprintf(out + n - 1, cap - (n - 1), ",\"meta\":%s,\"error\":%s}", meta, err);
    free(base);
    *len = n - 1 + (size_t)k;
    return out;
}
