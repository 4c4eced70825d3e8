/**
 * @file fuzz_sweep.c
 * @brief libFuzzer harness: a sweep request -> eir_json_parse_sweep() -> its points
 *        (eir_sweep_point_index()) -> each point's document {"model", "run"} patched along every
 *        axis (eir_json_patch_pointer()) -> the point's run parsed against a fixed model shape
 *        (eir_json_parse_run_shape(): described inputs, V0 from a run, metrics, labels) -> a
 *        tiny run of the fixed model of fuzz_run_json.c -> eir_run_meta() and eir_json_metrics().
 *
 * This is the validation path of POST /v1/sweeps (docs/SWEEPS.md). Checked beyond the
 * sanitizers: a parsed sweep has as many points as its axes make (grid product, zip common
 * length), at most the limit, paths under /model/ or /run/; point indices are in range and
 * row-major for a grid; a patch either sets exactly the value at the pointer (read back with an
 * RFC 6901 getter written here), leaving the rest of the document as it was, or fails naming
 * the pointer; the base documents are never changed (a "model_id" stands for the fixed model's
 * document); a point's run that parses simulates; labels
 * that pass are an object of at most 64 string members with keys of the allowed characters.
 */
#include "fuzz_common.h"

/** The sweep's point limit here (the daemon's default is 10000). */
#define FUZZ_MAX_POINTS 4096
/** Points patched and run per input: the first, the last and evenly spread ones. */
#define FUZZ_MAX_CHECKED 32

/* 4 E and 2 I cells, two inputs, one readout from E (model_gated_explicit.json, as in
 * fuzz_run_json.c). */
static const char fixed_model_json[] =
    "{\"class\": \"gated\", \"populations\": {\"E\": 4, \"I\": 2}, \"n_inputs\": 2,"
    " \"activation\": {\"name\": \"relu\", \"r_max\": 50.0}, \"leak\": 1.0,"
    " \"recurrent\": {\"W\": ["
    "  [0.0, 0.3, 0.2, 0.0, -0.5, -0.25], [0.25, 0.0, 0.0, 0.15, -0.5, 0.0],"
    "  [0.2, 0.1, 0.0, 0.3, 0.0, -0.75], [0.0, 0.35, 0.25, 0.0, -0.25, -0.5],"
    "  [0.5, 0.5, 0.25, 0.25, 0.0, -0.5], [0.25, 0.5, 0.5, 0.25, -0.25, 0.0]],"
    "  \"A\": {\"E\": 1.0, \"I\": 0.5}, \"dale\": \"reject\"},"
    " \"input\": {\"P\": [[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.5], [0.25, 0.25],"
    "  [0.25, 0.25]]},"
    " \"bias\": 0.1,"
    " \"readout\": {\"W_out\": [[0.25, 0.25, 0.25, 0.25]], \"b_out\": [0.0], \"from\": \"E\"},"
    " \"noise\": {\"sigma\": 0.1}}";

static eir_model *fixed_model;
static eir_model_spec *fixed_spec;
static eir_model_shape fixed_shape;
static json_t *fixed_model_doc; /* the "stored" model of a sweep with a model_id */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_blas();
    json_error_t je;
    json_t *j = json_loads(fixed_model_json, JSON_REJECT_DUPLICATES, &je);
    eir_error e;
    if (!j || eir_json_build_model(j, NULL, "", &fixed_model, &fixed_spec, &e) != EIR_OK ||
        eir_json_model_shape(j, NULL, "", &fixed_shape, &e) != EIR_OK) {
        fprintf(stderr, "fuzz_sweep: the fixed model does not build\n");
        abort();
    }
    fixed_model_doc = j; /* kept for the process's life */
    return 0;
}

/* RFC 6901: the value at @p ptr in @p doc, or NULL (borrowed). @p last, if not NULL, gets the
 * container of the last token (NULL when a token before it is missing). Written apart from
 * json_patch.c so that the two can disagree. */
static json_t *get_pointer(json_t *doc, const char *ptr, json_t **last)
{
    size_t n = strlen(ptr);
    char *tok = malloc(n + 1);
    FUZZ_CHECK(tok);
    json_t *node = doc;
    if (last) *last = NULL;
    const char *p = ptr;
    while (node && *p == '/') {
        p++;
        size_t k = 0;
        while (*p && *p != '/') {
            if (*p == '~') {
                FUZZ_CHECK(p[1] == '0' || p[1] == '1'); /* the sweep parser checked */
                tok[k++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                tok[k++] = *p++;
            }
        }
        tok[k] = '\0';
        if (last) *last = *p ? NULL : node;
        if (json_is_object(node)) {
            node = json_object_get(node, tok);
        } else if (json_is_array(node)) {
            size_t idx = 0;
            int ok = k > 0 && k <= 19 && (k == 1 || tok[0] != '0');
            for (size_t i = 0; ok && i < k; i++) {
                ok = tok[i] >= '0' && tok[i] <= '9';
                idx = idx * 10 + (size_t)(tok[i] - '0');
            }
            node = ok ? json_array_get(node, idx) : NULL;
        } else {
            node = NULL;
        }
    }
    free(tok);
    return node;
}

/* The last token of @p ptr, unescaped (a new string). */
static char *last_token(const char *ptr)
{
    const char *s = strrchr(ptr, '/');
    FUZZ_CHECK(s);
    char *tok = malloc(strlen(s) + 1), *w = tok;
    FUZZ_CHECK(tok);
    for (s++; *s; s++) {
        if (*s == '~') {
            *w++ = s[1] == '0' ? '~' : '/';
            s++;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return tok;
}

/* Labels that pass are what FORMAT.md "Labels" says; a refusal names a field under @p ptr. */
static void check_labels(const json_t *labels, const char *ptr)
{
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_check_labels(labels, ptr, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        FUZZ_CHECK(strncmp(e.field, ptr, strlen(ptr)) == 0);
        return;
    }
    if (!labels) return;
    FUZZ_CHECK(json_is_object(labels) && json_object_size(labels) <= 64);
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)labels, key, key_len, v)
    {
        FUZZ_CHECK(key_len >= 1 && key_len <= 63 && strlen(key) == key_len);
        for (size_t i = 0; i < key_len; i++)
            FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
                              key[i]));
        FUZZ_CHECK(json_is_string(v) && json_string_length(v) <= 255);
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        for (size_t i = 0; i < json_string_length(v); i++)
            FUZZ_CHECK(s[i] >= 0x20 && s[i] != 0x7f);
    }
}

/* A parsed sweep is what its axes say. */
static void check_spec(const eir_sweep_spec *s)
{
    FUZZ_CHECK(s->n_axes >= 1 && s->n_axes <= EIR_SWEEP_MAX_AXES);
    FUZZ_CHECK(s->points >= 1 && s->points <= FUZZ_MAX_POINTS);
    FUZZ_CHECK((s->model_id != NULL) != (s->model != NULL));
    if (s->model_id) FUZZ_CHECK(s->model_id[0] != '\0');
    if (s->model) FUZZ_CHECK(json_is_object(s->model));
    FUZZ_CHECK(json_is_object(s->run) && !json_object_get(s->run, "model") &&
               !json_object_get(s->run, "model_id"));
    FUZZ_CHECK(s->mode == EIR_SWEEP_GRID || s->mode == EIR_SWEEP_ZIP);
    FUZZ_CHECK(!s->metrics || json_is_object(s->metrics));
    int64_t product = 1;
    int model_axes = 0;
    for (int a = 0; a < s->n_axes; a++) {
        const char *p = s->paths[a];
        FUZZ_CHECK(strncmp(p, "/model/", 7) == 0 || strncmp(p, "/run/", 5) == 0);
        FUZZ_CHECK(strcmp(p, "/model/") != 0 && strcmp(p, "/run/") != 0);
        model_axes += strncmp(p, "/model/", 7) == 0;
        FUZZ_CHECK(json_is_array(s->values[a]));
        int64_t len = (int64_t)json_array_size(s->values[a]);
        FUZZ_CHECK(len >= 1);
        if (s->mode == EIR_SWEEP_ZIP)
            FUZZ_CHECK(len == s->points);
        else
            product *= len; /* cannot overflow: each factor <= points <= FUZZ_MAX_POINTS */
        for (int b = 0; b < a; b++)
            FUZZ_CHECK(strcmp(p, s->paths[b]) != 0);
    }
    FUZZ_CHECK(model_axes == s->model_axes);
    if (s->mode == EIR_SWEEP_GRID) FUZZ_CHECK(product == s->points);
}

/* eir_sweep_point_index() is in range and row-major (grid) or diagonal (zip). */
static void check_index(const eir_sweep_spec *s, int64_t i, int64_t idx[EIR_SWEEP_MAX_AXES])
{
    for (int a = 0; a < EIR_SWEEP_MAX_AXES; a++)
        idx[a] = -1;
    eir_sweep_point_index(s, i, idx);
    int64_t back = 0;
    for (int a = 0; a < s->n_axes; a++) {
        int64_t len = (int64_t)json_array_size(s->values[a]);
        FUZZ_CHECK(idx[a] >= 0 && idx[a] < len);
        if (s->mode == EIR_SWEEP_ZIP) FUZZ_CHECK(idx[a] == i);
        back = back * len + idx[a];
    }
    for (int a = s->n_axes; a < EIR_SWEEP_MAX_AXES; a++)
        FUZZ_CHECK(idx[a] == -1); /* nothing past the axes is written */
    if (s->mode == EIR_SWEEP_GRID) FUZZ_CHECK(back == i);
}

/* Patch @p doc at axis @p path with @p v: a new document, or NULL after checking the error. */
static json_t *patch_checked(json_t *doc, const char *path, json_t *v)
{
    eir_error e;
    eir_error_clear(&e);
    json_t *before = json_deep_copy(doc);
    FUZZ_CHECK(before);
    json_t *out = eir_json_patch_pointer(doc, path, v, &e);
    FUZZ_CHECK(json_equal(doc, before)); /* the input document is never changed */
    json_decref(before);
    if (!out) {
        fuzz_check_error(e.status, &e);
        FUZZ_CHECK(strcmp(e.field, path) == 0); /* paths are shorter than a field */
        return NULL;
    }
    FUZZ_CHECK(out != doc);
    json_t *parent = NULL, *old = get_pointer(doc, path, NULL);
    json_t *got = get_pointer(out, path, &parent);
    FUZZ_CHECK(got && json_equal(got, v));
    FUZZ_CHECK(parent);
    /* Nothing else changed: putting the old value back (or removing the added member) gives
     * the document patched. */
    if (old) {
        json_t *undo = eir_json_patch_pointer(out, path, old, &e);
        FUZZ_CHECK(undo && json_equal(undo, doc));
        json_decref(undo);
    } else {
        FUZZ_CHECK(json_is_object(parent)); /* only a missing object member may be added */
        json_t *undo = json_deep_copy(out);
        FUZZ_CHECK(undo);
        json_t *uparent = NULL;
        get_pointer(undo, path, &uparent);
        FUZZ_CHECK(uparent && json_is_object(uparent));
        char *tok = last_token(path);
        FUZZ_CHECK(json_object_del(uparent, tok) == 0);
        free(tok);
        FUZZ_CHECK(json_equal(undo, doc));
        json_decref(undo);
    }
    return out;
}

/* The patcher on its own, with the first axes' paths of a refused sweep (bad escapes, no
 * leading "/", ...): it fails naming the pointer as given, or patches (the input is compared
 * with its copy afterwards). */
static void patch_raw(json_t *j)
{
    size_t k;
    json_t *axis;
    json_array_foreach(json_object_get(j, "axes"), k, axis)
    {
        const char *p = json_string_value(json_object_get(axis, "path"));
        if (!p || k >= 4) continue;
        eir_error e;
        eir_error_clear(&e);
        json_t *out = eir_json_patch_pointer(j, p, json_null(), &e);
        if (!out) {
            FUZZ_CHECK(e.status != EIR_OK && e.message[0] != '\0');
            FUZZ_CHECK(memchr(e.field, 0, sizeof e.field) &&
                       memchr(e.message, 0, sizeof e.message));
            FUZZ_CHECK(strncmp(e.field, p, sizeof e.field - 1) == 0);
        }
        json_decref(out);
    }
}

/* The point's run parsed against the fixed shape and, when it parses, simulated. */
static void run_point(const eir_sweep_spec *s, json_t *point, const eir_json_limits *lim)
{
    json_t *run = json_object_get(point, "run");
    FUZZ_CHECK(run);
    if (!json_is_object(run)) return; /* an axis "/run/..." went through it: patch failed */
    json_t *own = json_copy(run);     /* shallow: the sweep's metrics set as the daemon does */
    FUZZ_CHECK(own);
    if (s->metrics) FUZZ_CHECK(json_object_set(own, "metrics", (json_t *)s->metrics) == 0);
    check_labels(json_object_get(own, "labels"), "/run/labels");

    if (s->model || s->model_axes) { /* the daemon checks each distinct patched model's shape */
        eir_model_shape shape;
        eir_error e;
        eir_error_clear(&e);
        eir_status rc =
            eir_json_model_shape(json_object_get(point, "model"), lim, "/model", &shape, &e);
        if (rc != EIR_OK) {
            fuzz_check_error(rc, &e);
            FUZZ_CHECK(e.field[0] == '\0' || strncmp(e.field, "/model", 6) == 0);
        } else {
            FUZZ_CHECK(shape.n >= 1 && shape.n <= lim->max_neurons);
            FUZZ_CHECK(shape.n == shape.n_e + shape.n_i);
        }
    }

    eir_run_spec *r = (eir_run_spec *)1;
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_parse_run_shape(own, &fixed_shape, lim, &r, &e);
    if (rc != EIR_OK) {
        FUZZ_CHECK(r == NULL);
        fuzz_check_error(rc, &e);
        json_decref(own);
        return;
    }
    FUZZ_CHECK(r);
    eir_run_desc *d = &r->desc;
    int N = fixed_shape.n;
    FUZZ_CHECK(d->T >= 1 && d->T <= lim->max_steps);
    FUZZ_CHECK(d->B >= 1 && d->B <= lim->max_trials);
    FUZZ_CHECK(d->dt > 0);
    FUZZ_CHECK(d->record_every >= 1 && d->record_every <= d->T);
    FUZZ_CHECK(d->n_neurons >= 0 && d->n_neurons <= N);
    FUZZ_CHECK(r->time_limit >= 0);
    FUZZ_CHECK(!r->has_metrics == !json_object_get(own, "metrics"));
    FUZZ_CHECK(!r->has_metrics == !d->stats_req);
    if (r->has_metrics) {
        FUZZ_CHECK(r->metrics.n_windows >= 1 && r->metrics.n_windows <= EIR_STATS_MAX_WINDOWS);
        for (int w = 0; w < r->metrics.n_windows; w++) {
            const eir_stat_window *win = &r->metrics.windows[w];
            FUZZ_CHECK(win->from >= 0 && win->from < win->to && win->to <= d->T);
            FUZZ_CHECK(r->metric_names[w][0] != '\0');
            for (int o = 0; o < w; o++)
                FUZZ_CHECK(strcmp(r->metric_names[o], r->metric_names[w]) != 0);
        }
        FUZZ_CHECK(r->metrics.settle_steps >= 0 && r->metrics.settle_steps <= d->T);
        FUZZ_CHECK(!r->metrics.settle_steps == !(r->settle_tol > 0));
    }
    if (d->input_desc) {
        FUZZ_CHECK(!d->inputs);
        const eir_input_desc *in = d->input_desc;
        FUZZ_CHECK(in->n_segments >= 0 && in->n_segments <= EIR_MAX_INPUT_SEGMENTS);
        FUZZ_CHECK(in->noise_sigma >= 0);
        for (int k = 0; k < in->n_segments; k++) {
            const eir_input_segment *g = &in->segments[k];
            FUZZ_CHECK(g->from >= 0 && g->from < g->to && g->to <= d->T);
            FUZZ_CHECK(g->value_rows == 1 || g->value_rows == d->B);
            FUZZ_CHECK(!g->to_value || g->to_value_rows == 1 || g->to_value_rows == d->B);
        }
    }
    if (r->V0_from_run) {
        FUZZ_CHECK(!d->V0);
        FUZZ_CHECK(r->V0_trial >= -1 && r->V0_trial < lim->max_trials);
        FUZZ_CHECK(strlen(r->V0_run_id) == 26 && strncmp(r->V0_run_id, "r_", 2) == 0);
        double zero[2 * 64] = {0};
        FUZZ_CHECK(eir_run_spec_set_V0(r, zero, N + 1, N, &e) != EIR_OK);
        fuzz_check_error(e.status, &e);
        FUZZ_CHECK(strcmp(e.field, "/V0") == 0 && !d->V0);
        FUZZ_CHECK(eir_run_spec_set_V0(r, zero, N, N, &e) == EIR_OK);
        FUZZ_CHECK(d->V0 && d->V0_len == N);
    }
    if (!r->has_seed) d->seed = 7;
    if (d->threads < 1 || d->threads > 2) d->threads = 1;
    fuzz_simulate(fixed_model, fixed_spec, d, r, 1);
    eir_run_spec_free(r);
    json_decref(own);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j) return 0;
    json_t *orig = json_deep_copy(j);
    FUZZ_CHECK(orig);

    eir_sweep_spec s;
    memset(&s, 0xa5, sizeof s);
    eir_error e;
    eir_error_clear(&e);
    eir_status rc = eir_json_parse_sweep(j, FUZZ_MAX_POINTS, &s, &e);
    if (rc != EIR_OK) {
        fuzz_check_error(rc, &e);
        patch_raw(j);
        eir_sweep_spec zero;
        memset(&zero, 0, sizeof zero);
        FUZZ_CHECK(memcmp(&s, &zero, sizeof s) == 0); /* nothing left on failure */
        FUZZ_CHECK(json_equal(j, orig));
        json_decref(orig);
        json_decref(j);
        return 0;
    }
    check_spec(&s);
    check_labels(s.labels, "/labels");

    eir_json_limits lim;
    fuzz_limits(&lim);
    /* the point document; a stored model (model_id) is the fixed model's document here */
    json_t *base = json_pack("{sOsO}", "model", s.model ? (json_t *)s.model : fixed_model_doc,
                             "run", (json_t *)s.run);
    FUZZ_CHECK(base);
    json_t *base_copy = json_deep_copy(base);
    FUZZ_CHECK(base_copy);

    int64_t n_check = s.points < FUZZ_MAX_CHECKED ? s.points : FUZZ_MAX_CHECKED;
    for (int64_t k = 0; k < n_check; k++) {
        /* k = 0 is the first point, k = n_check - 1 the last, evenly spread in between */
        int64_t i = n_check == 1 ? 0 : k * (s.points - 1) / (n_check - 1);
        int64_t idx[EIR_SWEEP_MAX_AXES];
        check_index(&s, i, idx);
        json_t *point = json_incref(base);
        for (int a = 0; a < s.n_axes && point; a++) {
            json_t *next = patch_checked(point, s.paths[a], json_array_get(s.values[a], idx[a]));
            json_decref(point);
            point = next;
        }
        if (!point) continue;
        for (int a = 0; a < s.n_axes; a++) { /* a later axis never undoes an earlier one */
            json_t *got = get_pointer(point, s.paths[a], NULL);
            FUZZ_CHECK(got && json_equal(got, json_array_get(s.values[a], idx[a])));
        }
        run_point(&s, point, &lim);
        json_decref(point);
    }
    FUZZ_CHECK(json_equal(base, base_copy)); /* the base documents are never changed */
    FUZZ_CHECK(json_equal(j, orig));
    json_decref(base_copy);
    json_decref(base);
    json_decref(orig);
    json_decref(j);
    return 0;
}
