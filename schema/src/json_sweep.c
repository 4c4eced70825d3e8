/**
 * @file json_sweep.c
 * @brief The sweep request document (docs/SWEEPS.md, FORMAT.md "Sweep request"):
 *        eir_json_parse_sweep() checks its shape, eir_sweep_point_index() maps a point to its
 *        axes' indices.
 */
#include "eir_json.h"
#include "json_util.h"

#include <stdio.h>
#include <string.h>

static const char *const sweep_keys[] = {"name", "model_id", "model",  "run", "axes",
                                         "mode", "metrics",  "labels", NULL};

/** Longest sweep name in bytes. */
#define SWEEP_NAME_MAX 127

static eir_status parse_name(const json_t *j, eir_sweep_spec *out, eir_error *err)
{
    char got[JU_DESC_MAX];
    const json_t *v = json_object_get(j, "name");
    if (!v) return EIR_OK;
    if (!json_is_string(v) || json_string_length(v) > SWEEP_NAME_MAX) {
        ju_describe(v, got);
        return eir_error_set(err, EIR_EINVAL, "/name",
                             "expected a string of at most %d bytes, got %s", SWEEP_NAME_MAX,
                             json_is_string(v) ? "a longer string" : got);
    }
    out->name = json_string_value(v);
    return EIR_OK;
}

static eir_status parse_base(const json_t *j, eir_sweep_spec *out, eir_error *err)
{
    char got[JU_DESC_MAX];
    const json_t *id = json_object_get(j, "model_id"), *model = json_object_get(j, "model");
    if (id && model)
        return eir_error_set(err, EIR_EINVAL, "/model",
                             "expected exactly one of model_id and model, got both");
    if (!id && !model)
        return eir_error_set(err, EIR_EINVAL, "/model_id",
                             "missing required field \"model_id\" (a stored model's id), or "
                             "give the model inline as \"model\"");
    if (id && (!json_is_string(id) || json_string_length(id) == 0)) {
        ju_describe(id, got);
        return eir_error_set(err, EIR_EINVAL, "/model_id", "expected a non-empty string, got %s",
                             got);
    }
    if (model && ju_expect_object(model, "/model", "a model object", err)) return EIR_EINVAL;
    out->model_id = id ? json_string_value(id) : NULL;
    out->model = model;
    const json_t *run = json_object_get(j, "run");
    if (!run)
        return ju_missing("", "run", "the run every point starts from (without a model)", err);
    if (ju_expect_object(run, "/run", "a run object (without model_id or model)", err))
        return EIR_EINVAL;
    if (json_object_get(run, "model_id") || json_object_get(run, "model"))
        return eir_error_set(err, EIR_EINVAL,
                             json_object_get(run, "model") ? "/run/model" : "/run/model_id",
                             "a sweep's run names no model: give \"model_id\" or \"model\" at "
                             "the top of the sweep");
    out->run = run;
    return EIR_OK;
}

/* Whether pointer @p a is @p b or inside it ("/run/x" is inside "/run"). */
static int inside(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

static eir_status check_path(const json_t *v, const char *ptr, const json_t *metrics,
                             eir_error *err)
{
    char got[JU_DESC_MAX];
    if (!json_is_string(v) || json_string_length(v) >= EIR_FIELD_MAX) {
        ju_describe(v, got);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected a JSON pointer under /model/ or /run/ of less than %d "
                             "bytes, got %s",
                             EIR_FIELD_MAX, json_is_string(v) ? "a longer string" : got);
    }
    const char *p = json_string_value(v);
    if (strlen(p) != json_string_length(v) ||
        (strncmp(p, "/model/", 7) != 0 && strncmp(p, "/run/", 5) != 0) ||
        strcmp(p, "/model/") == 0 || strcmp(p, "/run/") == 0)
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected a JSON pointer into the model (/model/...) or the run "
                             "(/run/...), got \"%.200s\"",
                             p);
    if (inside(p, "/run/model") || inside(p, "/run/model_id"))
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "a point's model is set by /model/... axes, not by \"%.200s\"", p);
    if (metrics && inside(p, "/run/metrics"))
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "the sweep's \"metrics\" replaces every point's /run/metrics; vary "
                             "one or the other, not \"%.200s\"",
                             p);
    for (const char *s = strchr(p, '~'); s; s = strchr(s + 1, '~'))
        if (s[1] != '0' && s[1] != '1')
            return eir_error_set(err, EIR_EINVAL, ptr,
                                 "expected ~ to be followed by 0 or 1 in a JSON pointer (RFC "
                                 "6901), got \"%.200s\"",
                                 p);
    return EIR_OK;
}

static eir_status parse_axis(const json_t *a, size_t k, eir_sweep_spec *out, eir_error *err)
{
    static const char *const keys[] = {"path", "values", NULL};
    char ptr[EIR_FIELD_MAX], sub[EIR_FIELD_MAX], got[JU_DESC_MAX];
    ju_ptr_idx(ptr, "/axes", k);
    if (ju_expect_object(a, ptr, "an axis {\"path\": \"/run/seed\", \"values\": [...]}", err) ||
        ju_check_keys(a, ptr, keys, err))
        return EIR_EINVAL;
    const json_t *path = ju_member(a, ptr, "path", sub);
    if (!path) return ju_missing(ptr, "path", "a JSON pointer under /model/ or /run/", err);
    if (check_path(path, sub, out->metrics, err)) return EIR_EINVAL;
    const json_t *values = ju_member(a, ptr, "values", sub);
    if (!values) return ju_missing(ptr, "values", "a non-empty list of the axis's values", err);
    if (!json_is_array(values) || json_array_size(values) == 0) {
        ju_describe(values, got);
        return eir_error_set(err, EIR_EINVAL, sub, "expected a non-empty list of values, got %s",
                             json_is_array(values) ? "an empty list" : got);
    }
    const char *p = json_string_value(path);
    for (int i = 0; i < out->n_axes; i++)
        if (inside(p, out->paths[i]) || inside(out->paths[i], p)) {
            ju_ptr_key(sub, ptr, "path");
            return eir_error_set(err, EIR_EINVAL, sub,
                                 "axis path \"%.100s\" overlaps axis %d's \"%.100s\"; each axis "
                                 "sets its own field",
                                 p, i, out->paths[i]);
        }
    out->paths[out->n_axes] = p;
    out->values[out->n_axes] = values;
    out->model_axes += strncmp(p, "/model/", 7) == 0;
    out->n_axes++;
    return EIR_OK;
}

static eir_status parse_mode(const json_t *j, eir_sweep_spec *out, eir_error *err)
{
    static const char *const modes[] = {"grid", "zip", NULL};
    int k;
    const json_t *v = json_object_get(j, "mode");
    out->mode = EIR_SWEEP_GRID;
    if (!v) return EIR_OK;
    if (ju_enum(v, "/mode", modes, &k, err)) return EIR_EINVAL;
    out->mode = (eir_sweep_mode)k;
    return EIR_OK;
}

/* Points of the parsed axes: grid product or zip's common length, at most @p max_points. */
static eir_status count_points(eir_sweep_spec *out, int64_t max_points, eir_error *err)
{
    char ptr[EIR_FIELD_MAX];
    int64_t n = 1;
    for (int a = 0; a < out->n_axes; a++) {
        int64_t len = (int64_t)json_array_size(out->values[a]);
        if (out->mode == EIR_SWEEP_ZIP) {
            int64_t first = (int64_t)json_array_size(out->values[0]);
            if (len != first) {
                snprintf(ptr, sizeof ptr, "/axes/%d/values", a);
                return eir_error_set(err, EIR_EINVAL, ptr,
                                     "expected %lld values (zip mode: as many as axis 0), got "
                                     "%lld",
                                     (long long)first, (long long)len);
            }
            n = len;
        } else if (__builtin_mul_overflow(n, len, &n)) {
            n = INT64_MAX; /* saturate: only "too many" matters */
        }
    }
    if (n > max_points)
        return eir_error_set(
            err, EIR_EINVAL, "/axes", "expected at most %lld points, got %s%lld; split the sweep",
            (long long)max_points, n == INT64_MAX ? "more than " : "", (long long)n);
    out->points = n;
    return EIR_OK;
}

static eir_status parse_axes(const json_t *j, eir_sweep_spec *out, int64_t max_points,
                             eir_error *err)
{
    char got[JU_DESC_MAX];
    const json_t *axes = json_object_get(j, "axes");
    if (!axes)
        return ju_missing("", "axes", "a list of {\"path\", \"values\"} (1 to 16 axes)", err);
    size_t n = json_is_array(axes) ? json_array_size(axes) : 0;
    if (n < 1 || n > EIR_SWEEP_MAX_AXES) {
        ju_describe(axes, got);
        if (json_is_array(axes)) snprintf(got, sizeof got, "a list of %zu", n);
        return eir_error_set(err, EIR_EINVAL, "/axes",
                             "expected a list of 1 to %d axes {\"path\", \"values\"}, got %s",
                             EIR_SWEEP_MAX_AXES, got);
    }
    for (size_t k = 0; k < n; k++)
        if (parse_axis(json_array_get(axes, k), k, out, err)) return EIR_EINVAL;
    return count_points(out, max_points, err);
}

eir_status eir_json_parse_sweep(const json_t *j, int64_t max_points, eir_sweep_spec *out,
                                eir_error *err)
{
    memset(out, 0, sizeof *out);
    if (max_points <= 0 || max_points > EIR_SWEEP_MAX_POINTS) max_points = EIR_SWEEP_MAX_POINTS;
    if (ju_expect_object(j, "", "a sweep object", err) || ju_check_keys(j, "", sweep_keys, err))
        goto fail;
    const json_t *metrics = json_object_get(j, "metrics");
    if (metrics &&
        ju_expect_object(metrics, "/metrics", "a metrics object {\"windows\": [...]}", err))
        goto fail;
    out->metrics = metrics;
    out->labels = json_object_get(j, "labels");
    if (eir_json_check_labels(out->labels, "/labels", err) || parse_name(j, out, err) ||
        parse_base(j, out, err) || parse_mode(j, out, err) || parse_axes(j, out, max_points, err))
        goto fail;
    return EIR_OK;
fail:
    memset(out, 0, sizeof *out);
    return EIR_EINVAL;
}

void eir_sweep_point_index(const eir_sweep_spec *s, int64_t i, int64_t idx[EIR_SWEEP_MAX_AXES])
{
    for (int a = s->n_axes - 1; a >= 0; a--) {
        if (s->mode == EIR_SWEEP_ZIP) {
            idx[a] = i;
            continue;
        }
        int64_t len = (int64_t)json_array_size(s->values[a]);
        idx[a] = i % len;
        i /= len;
    }
}
