/**
 * @file h_matrices.c
 * @brief GET /v1/models/{id}/matrices (the list) and GET /v1/models/{id}/matrices/{name} (one
 *        matrix as .npy, JSON or CSV, array_stream.h): the matrices of a stored model exactly as
 *        the engine integrates with them, rows computed on demand from the built model.
 *
 * Where the built model comes from (docs/API.md "Matrices"): nothing that grows faster than the
 * request runs on an HTTP thread.
 *  - cached (srv_modcache_lookup()): streamed at once; the response holds a reference, so the
 *    model stays alive (and unevicted) until the last byte is sent or the client goes away;
 *  - not cached, explicit document: rebuilt here from the stored document (linear in it, as POST
 *    /v1/models does) and added to the cache;
 *  - not cached, with a generate recipe: a worker is asked to build it into the cache
 *    (srv_pool_warm(), deduplicated with the cache's builds in flight) and the answer is 503 with
 *    Retry-After: 1; the client asks again (the CLI and the Python client do so on their own).
 * Memory per download: one block of rows (about ::ROW_BLOCK bytes, at least one row) on top of
 * the model, whatever the matrix's size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_stream.h"
#include "eir_analysis.h"
#include "eir_sha256.h"
#include "modcache.h"
#include "pool.h"

/** Bytes of rows computed at once for a download. */
#define ROW_BLOCK ((size_t)256 << 10)

/** One download's source: a lent model and a block of its rows. */
typedef struct mat_src {
    struct srv_modcache *mc;
    srv_model_ref *ref; /**< given back when the response is freed */
    eir_matrix k;
    int64_t rows, cols; /**< as the engine hands them out (a vector: one row) */
    int64_t blk_rows;   /**< rows per block */
    int64_t blk_row0;   /**< first row in blk, -1 before the first */
    int64_t blk_n;      /**< rows in blk */
    double *blk;
} mat_src;

static void mat_free(void *ctx)
{
    mat_src *m = ctx;
    srv_modcache_put(m->mc, m->ref);
    free(m->blk);
    free(m);
}

static int mat_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    mat_src *m = ctx;
    const uint64_t row_bytes = (uint64_t)m->cols * 8;
    unsigned char *out = buf;
    while (len > 0) {
        int64_t row = (int64_t)(off / row_bytes);
        if (m->blk_row0 < 0 || row < m->blk_row0 || row >= m->blk_row0 + m->blk_n) {
            int64_t n = m->rows - row < m->blk_rows ? m->rows - row : m->blk_rows;
            eir_error err;
            eir_error_clear(&err);
            m->blk_row0 = -1;
            if (n <= 0 ||
                eir_model_matrix_rows(m->ref->model, m->k, row, n, m->blk, &err) != EIR_OK)
                return -1;
            m->blk_row0 = row;
            m->blk_n = n;
        }
        uint64_t start = (uint64_t)m->blk_row0 * row_bytes;
        uint64_t end = start + (uint64_t)m->blk_n * row_bytes;
        size_t k = end - off < len ? (size_t)(end - off) : len;
        memcpy(out, (const unsigned char *)m->blk + (off - start), k);
        out += k;
        off += k;
        len -= k;
    }
    return 0;
}

/** Names of the formats, by srv_res_fmt. */
static const char *const fmt_names[] = {"npy", "json", "csv"};

/** The strong ETag of matrix @p name of the model of hash @p hash in format @p fmt: the first
 *  32 hex digits of the SHA-256 of "matrix|<hash>|<name>|<format>", quoted. */
static void matrix_etag(const char *hash, const char *name, srv_res_fmt fmt, char etag[40])
{
    char canon[160], hex[EIR_SHA256_HEX_LEN + 1];
    snprintf(canon, sizeof canon, "matrix|%s|%s|%s", hash, name, fmt_names[fmt]);
    eir_sha256_hex_of(canon, strlen(canon), hex);
    snprintf(etag, 40, "\"%.32s\"", hex);
}

/**
 * Lend the built model {id} into @p *ref (see the file comment for where it comes from), with
 * its hash into @p hash. With @p fmt >= 0 (a matrix download, {name} its name), a model that is
 * not cached is not built when If-None-Match names the ETag its stored hash gives: *ref is then
 * NULL and *@p not_modified 1. @return 0, or -1 after queuing the answer (404, 409
 * pending/failed, 503 while a worker builds it, 5xx) into *@p ret.
 */
static int lend_model(srv_req *r, int fmt, srv_model_ref **ref, char hash[65], enum MHD_Result *ret,
                      int *not_modified)
{
    srv *s = r->s;
    const char *id = r->params[0];
    *ref = NULL;
    *not_modified = 0;
    /* Only stored models: the cache also holds inline models under "inline:..." keys. */
    if (strncmp(id, "m_", 2) == 0 && srv_modcache_lookup(s->models, id, ref)) {
        memcpy(hash, (*ref)->hash, 65);
        return 0;
    }
    store_conn *c = srv_thread_conn(s);
    store_model sm;
    memset(&sm, 0, sizeof sm);
    store_status st = c ? store_model_get(c, id, &sm) : STORE_ERROR;
    if (st == STORE_INVALID) st = STORE_NOT_FOUND;
    if (st != STORE_OK) {
        char what[96];
        snprintf(what, sizeof what, "model %s", id);
        *ret = srv_problem_store(r, st, c, what);
        return -1;
    }
    if (sm.state != STORE_MODEL_READY) {
        if (sm.state == STORE_MODEL_PENDING)
            *ret = srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                               "model %s is pending: a worker is building it; its matrices can be "
                               "had once it is ready (GET /v1/models/%s)",
                               id, id);
        else
            *ret = srv_problem(r, SRV_P_CONFLICT, 409, NULL,
                               "model %s failed to build, so it has no matrices (its error is in "
                               "GET /v1/models/%s)",
                               id, id);
        store_model_clear(&sm);
        return -1;
    }
    snprintf(hash, 65, "%s", sm.hash);
    const char *inm = fmt >= 0 ? srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH) : NULL;
    char etag[40];
    if (inm) matrix_etag(hash, r->params[1], (srv_res_fmt)fmt, etag);
    if (inm && strstr(inm, etag)) { /* not "*": whether {name} exists needs the model */
        store_model_clear(&sm);
        *not_modified = 1;
        return 0;
    }
    json_error_t je;
    json_t *doc = json_loads(sm.json, JSON_REJECT_DUPLICATES, &je);
    store_model_clear(&sm);
    if (!doc) {
        *ret = srv_problem(r, SRV_P_INTERNAL, 500, NULL, "the stored model %s is not JSON: %s", id,
                           je.text);
        return -1;
    }
    if (eir_json_model_has_recipe(doc)) {
        json_decref(doc);
        /* A generated model costs more to build than the request: a worker builds it. */
        if (s->cfg.cache_bytes == 0)
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "model %s is generated and this daemon keeps no built models "
                               "(--model-cache-bytes 0), so its matrices are served only while a "
                               "run uses it; export them offline with `eirnn model export`",
                               id);
        else if (srv_pool_warm(s->pool, id))
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "model %s is generated and not built in memory now, and no worker "
                               "can build it at the moment (no workers, or too many builds asked "
                               "for); retry later",
                               id);
        else
            *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL,
                               "model %s is generated and not built in memory now: a worker is "
                               "building it; retry after the Retry-After seconds",
                               id);
        return -1;
    }
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    eir_error err;
    eir_error_clear(&err);
    eir_status es = eir_json_build_model(doc, &s->limits, "", &m, &spec, &err);
    json_decref(doc);
    if (es != EIR_OK) {
        *ret = srv_problem(r, SRV_P_INTERNAL, 500, NULL, "the stored model %s does not build: %s",
                           id, err.message);
        return -1;
    }
    atomic_fetch_add(&s->metrics.model_builds, 1);
    *ref = srv_modcache_add_ref(s->models, id, m, spec, hash[0] ? hash : NULL);
    if (!*ref) {
        eir_model_free(m);
        eir_model_spec_free(spec);
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
        return -1;
    }
    memcpy(hash, (*ref)->hash, 65);
    return 0;
}

static json_t *shape_json(int ndim, const int64_t *shape)
{
    json_t *a = json_array();
    for (int d = 0; a && d < ndim; d++)
        json_array_append_new(a, json_integer(shape[d]));
    return a;
}

enum MHD_Result h_matrices_list(srv_req *r)
{
    srv_model_ref *ref;
    char hash[65];
    enum MHD_Result ret;
    int nm;
    if (lend_model(r, -1, &ref, hash, &ret, &nm)) return ret;
    const char *id = r->params[0];
    json_t *items = json_array();
    for (int k = 0; items && k < EIR_NMATRICES; k++) {
        int64_t shape[2];
        int nd = eir_model_matrix_shape(ref->model, (eir_matrix)k, shape);
        if (nd == 0) continue;
        const char *name = eir_matrix_name((eir_matrix)k);
        char url[160];
        snprintf(url, sizeof url, "/v1/models/%s/matrices/%s", id, name);
        json_t *j = json_pack("{s:s, s:o, s:s, s:s}", "name", name, "shape", shape_json(nd, shape),
                              "dtype", "float64", "url", url);
        if (!j || json_array_append_new(items, j)) {
            json_decref(items);
            items = NULL;
        }
    }
    srv_modcache_put(r->s->models, ref);
    if (!items) return srv_problem(r, SRV_P_INTERNAL, 500, NULL, "out of memory");
    return srv_reply_json(
        r, 200, json_pack("{s:s, s:s, s:o}", "model_id", id, "hash", hash, "matrices", items));
}

/** Queue 404 naming matrix {name} and listing the matrices model @p m has. */
static enum MHD_Result no_such_matrix(srv_req *r, const eir_model *m)
{
    char names[128] = "";
    size_t n = 0;
    for (int k = 0; k < EIR_NMATRICES; k++) {
        int64_t shape[2];
        if (eir_model_matrix_shape(m, (eir_matrix)k, shape) == 0) continue;
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "",
                              eir_matrix_name((eir_matrix)k));
    }
    return srv_problem(r, SRV_P_NOT_FOUND, 404, NULL,
                       "model %s has no matrix '%.64s'; it has %s (GET /v1/models/%s/matrices)",
                       r->params[0], r->params[1], names, r->params[0]);
}

enum MHD_Result h_matrices_get(srv_req *r)
{
    srv_res_fmt fmt;
    enum MHD_Result ret;
    if (srv_res_pick_format(r, &fmt, &ret)) return ret;
    srv_model_ref *ref;
    char hash[65];
    int not_modified;
    if (lend_model(r, (int)fmt, &ref, hash, &ret, &not_modified)) return ret;
    const char *id = r->params[0], *name = r->params[1];
    char etag[40];
    matrix_etag(hash, name, fmt, etag);
    if (not_modified) {
        struct MHD_Response *resp = srv_response_copy(r, "", 0, NULL);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        return srv_reply(r, 304, resp);
    }
    int k = eir_matrix_parse(name);
    int64_t shape[2];
    int nd = k < 0 ? 0 : eir_model_matrix_shape(ref->model, (eir_matrix)k, shape);
    if (nd == 0) {
        ret = no_such_matrix(r, ref->model);
        srv_modcache_put(r->s->models, ref);
        return ret;
    }
    mat_src *m = calloc(1, sizeof *m);
    if (m) {
        m->mc = r->s->models;
        m->ref = ref;
        m->k = (eir_matrix)k;
        m->rows = nd == 1 ? 1 : shape[0];
        m->cols = nd == 1 ? shape[0] : shape[1];
        int64_t per = m->cols > 0 ? (int64_t)(ROW_BLOCK / ((size_t)m->cols * 8)) : 1;
        m->blk_rows = per < 1 ? 1 : per > m->rows ? m->rows : per;
        m->blk_row0 = -1;
        m->blk = malloc((size_t)(m->blk_rows > 0 ? m->blk_rows : 1) *
                        (size_t)(m->cols > 0 ? m->cols : 1) * sizeof(double));
    }
    if (!m || !m->blk) {
        if (m) free(m);
        srv_modcache_put(r->s->models, ref);
        return srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
    }
    srv_array_source src = {name,     "float64", nd,      {shape[0], nd == 2 ? shape[1] : 0, 0},
                            mat_read, m,         mat_free};
    char stem[128];
    snprintf(stem, sizeof stem, "%s_%s", id, name);
    return srv_array_send(r, &src, fmt, etag, stem);
}
