/**
 * @file cmd_runs_fields.c
 * @brief The options of `eirnn runs submit` for described inputs (--segment, --input-noise),
 *        V0 from a run (--V0-from), labels (--label) and metrics (--metrics-window, --settle):
 *        each value checked as it is parsed, then put into the run document (cmd_runs.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_runs.h"

/** Print "out of memory". @return CLI_EIO. */
static int fields_oom(void)
{
    cli_error("out of memory");
    return CLI_EIO;
}

/** Parse the whole integer [p, p + n) of 0 to 2^63-1. @return -1 if it is not one. */
static long long whole(const char *p, size_t n)
{
    if (n == 0 || n > 19) return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (INT64_MAX - (p[i] - '0')) / 10) return -1;
        v = 10 * v + (p[i] - '0');
    }
    return v;
}

/** Parse the whole finite number [p, p + n) into *out. @return 0, or -1 when it is not one. */
static int number(const char *p, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end || !isfinite(*out) || buf[0] == ' ' ? -1 : 0;
}

/**
 * The comma-separated numbers [p, p + n) as a JSON value: one number alone, else an array.
 * @return the new value; NULL when an item is not a finite number (*bad = 1) or out of memory.
 */
static json_t *number_list(const char *p, size_t n, int *bad)
{
    *bad = 0;
    if (!memchr(p, ',', n)) {
        double v;
        if (number(p, n, &v) != 0) {
            *bad = 1;
            return NULL;
        }
        return json_real(v);
    }
    json_t *a = json_array();
    const char *end = p + n;
    while (a) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t k = c ? (size_t)(c - p) : (size_t)(end - p);
        double v;
        if (number(p, k, &v) != 0) {
            *bad = 1;
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, json_real(v)) != 0) break;
        if (!c) return a;
        p = c + 1;
    }
    json_decref(a);
    return NULL;
}

/** --segment FROM:TO=V[..W]: append {"from", "to", "value"[, "to_value"]} to x->segments. */
static int segment_opt(cli_run_fields *x, const char *arg)
{
    const char *colon = strchr(arg, ':'), *eq = strchr(arg, '=');
    long long from = colon ? whole(arg, (size_t)(colon - arg)) : -1;
    long long to = colon && eq && eq > colon ? whole(colon + 1, (size_t)(eq - colon - 1)) : -1;
    if (from < 0 || to <= from) {
        cli_error("--segment: '%s': expected FROM:TO=VALUES with 0 <= FROM < TO (steps [FROM, "
                  "TO)), e.g. 200:600=1,0 or 0:1000=0..1 (a ramp)",
                  arg);
        return CLI_EUSAGE;
    }
    const char *vals = eq + 1, *dots = strstr(vals, "..");
    size_t vn = dots ? (size_t)(dots - vals) : strlen(vals);
    int bad = 0, bad_to = 0;
    json_t *v = number_list(vals, vn, &bad), *w = NULL;
    if (v && dots) w = number_list(dots + 2, strlen(dots + 2), &bad_to);
    if (bad || bad_to) {
        json_decref(v);
        cli_error("--segment: '%s': VALUES must be one number (every channel) or n_in numbers, "
                  "comma-separated, and V..W a ramp from V to W (e.g. 1,0..0,0)",
                  arg);
        return CLI_EUSAGE;
    }
    if (!v || (dots && !w)) {
        json_decref(v);
        json_decref(w);
        return fields_oom();
    }
    /* "o" steals v, even when json_pack fails */
    json_t *seg =
        json_pack("{s:I, s:I, s:o}", "from", (json_int_t)from, "to", (json_int_t)to, "value", v);
    if (!seg) {
        json_decref(w);
        return fields_oom();
    }
    if ((w && json_object_set_new(seg, "to_value", w) != 0) ||
        json_array_append_new(x->segments, seg) != 0)
        return fields_oom();
    return CLI_OK;
}

/** --input-noise SIGMA:SEED: x->noise = {"sigma", "seed"}. */
static int noise_opt(cli_run_fields *x, const char *arg)
{
    const char *colon = strchr(arg, ':');
    double sigma;
    long long seed = colon ? whole(colon + 1, strlen(colon + 1)) : -1;
    if (!colon || number(arg, (size_t)(colon - arg), &sigma) != 0 || sigma < 0 || seed < 0) {
        cli_error("--input-noise: '%s': expected SIGMA:SEED with SIGMA >= 0 and SEED an integer "
                  "from 0 to 2^63-1 (e.g. 0.1:7)",
                  arg);
        return CLI_EUSAGE;
    }
    json_decref(x->noise);
    x->noise = json_pack("{s:f, s:I}", "sigma", sigma, "seed", (json_int_t)seed);
    return x->noise ? CLI_OK : fields_oom();
}

/** --V0-from RUN_ID[:TRIAL]: x->v0 = {"run_id"[, "trial"]}. */
static int v0_from_opt(cli_run_fields *x, const char *arg)
{
    const char *colon = strchr(arg, ':');
    size_t idn = colon ? (size_t)(colon - arg) : strlen(arg);
    long long trial = 0;
    int ok = idn > 0 && idn <= 64;
    if (ok && colon) {
        int neg = colon[1] == '-';
        trial = whole(colon + 1 + neg, strlen(colon + 1 + neg));
        ok = trial >= 0 && trial <= INT32_MAX && (!neg || trial == 1);
        if (neg) trial = -trial;
    }
    if (!ok) {
        cli_error("--V0-from: '%s': expected RUN_ID or RUN_ID:TRIAL (a run's id, and a trial "
                  "index >= 0, or -1 for every trial), e.g. r_0123456789abcdef01234567:2",
                  arg);
        return CLI_EUSAGE;
    }
    json_decref(x->v0);
    x->v0 = json_pack("{s:s%}", "run_id", arg, idn);
    if (x->v0 && colon && json_object_set_new(x->v0, "trial", json_integer(trial)) != 0)
        return fields_oom();
    return x->v0 ? CLI_OK : fields_oom();
}

/** Whether [p, p + n) is 1 to 63 characters of @p extra and A-Z a-z 0-9 _. */
static int name_chars(const char *p, size_t n, const char *extra)
{
    if (n < 1 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

/** --label K:V: x->labels[K] = V. */
static int label_opt(cli_run_fields *x, const char *arg)
{
    const char *colon = strchr(arg, ':');
    int ok = colon && name_chars(arg, (size_t)(colon - arg), ".-") && strlen(colon + 1) <= 255;
    for (const char *c = colon ? colon + 1 : ""; ok && *c; c++)
        ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
    if (!ok) {
        cli_error("--label: '%s': expected KEY:VALUE, a KEY of 1 to 63 characters out of A-Z a-z "
                  "0-9 _ . - and a VALUE of at most 255 bytes without control characters",
                  arg);
        return CLI_EUSAGE;
    }
    if (json_object_size(x->labels) >= 64) {
        cli_error("--label: at most 64 labels");
        return CLI_EUSAGE;
    }
    char key[64];
    memcpy(key, arg, (size_t)(colon - arg));
    key[colon - arg] = '\0';
    return json_object_set_new(x->labels, key, json_string(colon + 1)) != 0 ? fields_oom() : CLI_OK;
}

/** --metrics-window [NAME=]VAR:FROM:TO: append {"name", "var", "from", "to"} to x->windows. */
static int window_opt(cli_run_fields *x, const char *arg)
{
    const char *eq = strchr(arg, '='), *spec = eq ? eq + 1 : arg;
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    long long from = c2 ? whole(c1 + 1, (size_t)(c2 - c1 - 1)) : -1;
    long long to = c2 ? whole(c2 + 1, strlen(c2 + 1)) : -1;
    int var_ok = c1 == spec + 1 && strchr("Vrz", spec[0]) != NULL;
    if ((eq && !name_chars(arg, (size_t)(eq - arg), "")) || !var_ok || from < 0 || to <= from) {
        cli_error("--metrics-window: '%s': expected [NAME=]VAR:FROM:TO with VAR V, r or z, 0 <= "
                  "FROM < TO and NAME 1 to 63 characters out of A-Z a-z 0-9 _ (e.g. "
                  "late_r=r:500:1000)",
                  arg);
        return CLI_EUSAGE;
    }
    if (json_array_size(x->windows) >= 64) {
        cli_error("--metrics-window: at most 64 windows");
        return CLI_EUSAGE;
    }
    char var[2] = {spec[0], '\0'};
    json_t *w =
        json_pack("{s:s, s:I, s:I}", "var", var, "from", (json_int_t)from, "to", (json_int_t)to);
    if (w && eq && json_object_set_new(w, "name", json_stringn(arg, (size_t)(eq - arg))) != 0) {
        json_decref(w);
        w = NULL;
    }
    return !w || json_array_append_new(x->windows, w) != 0 ? fields_oom() : CLI_OK;
}

/** --settle STEPS:TOL: x->settle = {"steps", "tol"}. */
static int settle_opt(cli_run_fields *x, const char *arg)
{
    const char *colon = strchr(arg, ':');
    long long steps = colon ? whole(arg, (size_t)(colon - arg)) : -1;
    double tol;
    if (steps < 1 || number(colon + 1, strlen(colon + 1), &tol) != 0 || !(tol > 0)) {
        cli_error("--settle: '%s': expected STEPS:TOL with STEPS >= 1 (the last steps looked "
                  "at) and TOL > 0 (e.g. 100:1e-6)",
                  arg);
        return CLI_EUSAGE;
    }
    json_decref(x->settle);
    x->settle = json_pack("{s:I, s:f}", "steps", (json_int_t)steps, "tol", tol);
    return x->settle ? CLI_OK : fields_oom();
}

int cli_run_fields_init(cli_run_fields *x)
{
    memset(x, 0, sizeof *x);
    x->segments = json_array();
    x->labels = json_object();
    x->windows = json_array();
    if (!x->segments || !x->labels || !x->windows) {
        cli_run_fields_free(x);
        return fields_oom();
    }
    return CLI_OK;
}

void cli_run_fields_free(cli_run_fields *x)
{
    json_decref(x->segments);
    json_decref(x->noise);
    json_decref(x->v0);
    json_decref(x->labels);
    json_decref(x->windows);
    json_decref(x->settle);
    memset(x, 0, sizeof *x);
}

int cli_run_fields_opt(cli_run_fields *x, int code, const char *arg, int *rc)
{
    switch (code) {
    case CLI_RUN_OPT_SEGMENT:
        *rc = segment_opt(x, arg);
        return 1;
    case CLI_RUN_OPT_INPUT_NOISE:
        *rc = noise_opt(x, arg);
        return 1;
    case CLI_RUN_OPT_V0_FROM:
        *rc = v0_from_opt(x, arg);
        return 1;
    case CLI_RUN_OPT_LABEL:
        *rc = label_opt(x, arg);
        return 1;
    case CLI_RUN_OPT_WINDOW:
        *rc = window_opt(x, arg);
        return 1;
    case CLI_RUN_OPT_SETTLE:
        *rc = settle_opt(x, arg);
        return 1;
    default:
        return 0;
    }
}

/** The object member @p key of @p parent, created ({}) when absent. NULL: not an object / OOM. */
static json_t *object_member(json_t *parent, const char *key, const char *what, int *rc)
{
    json_t *m = json_object_get(parent, key);
    if (!m) {
        if (json_object_set_new(parent, key, json_object()) != 0) {
            *rc = fields_oom();
            return NULL;
        }
        return json_object_get(parent, key);
    }
    if (!json_is_object(m)) {
        cli_error("runs submit: %s: the run file's \"%s\" is not an object", what, key);
        *rc = CLI_EUSAGE;
        return NULL;
    }
    return m;
}

/** Append the items of @p items to the array member @p key of @p obj (created when absent). */
static int append_items(json_t *obj, const char *key, const json_t *items, const char *what)
{
    json_t *a = json_object_get(obj, key);
    if (!a) {
        if (json_object_set_new(obj, key, json_array()) != 0) return fields_oom();
        a = json_object_get(obj, key);
    } else if (!json_is_array(a)) {
        cli_error("runs submit: %s: the run file's \"%s\" is not an array", what, key);
        return CLI_EUSAGE;
    }
    return json_array_extend(a, (json_t *)items) != 0 ? fields_oom() : CLI_OK;
}

/** --segment and --input-noise into the described inputs of @p run. */
static int apply_described(const cli_run_fields *x, json_t *run)
{
    int nseg = json_array_size(x->segments) > 0;
    if (!nseg && !x->noise) return CLI_OK;
    const char *opt = nseg ? "--segment" : "--input-noise";
    json_t *in = json_object_get(run, "inputs");
    if (!json_is_object(in) || !json_object_get(in, "steps")) {
        cli_error("runs submit: %s describes inputs: give --steps T (and --trials B), or a run "
                  "file whose inputs are an object {\"steps\", ...}%s",
                  opt, in ? ", not an input array" : "");
        return CLI_EUSAGE;
    }
    int rc;
    if (nseg && (rc = append_items(in, "segments", x->segments, "--segment")) != CLI_OK) return rc;
    if (x->noise && json_object_set(in, "noise", x->noise) != 0) return fields_oom();
    return CLI_OK;
}

/** --metrics-window and --settle into the "metrics" of @p run. */
static int apply_metrics(const cli_run_fields *x, json_t *run)
{
    if (json_array_size(x->windows) == 0 && !x->settle) return CLI_OK;
    int rc = CLI_OK;
    json_t *m = object_member(run, "metrics", "--metrics-window", &rc);
    if (!m) return rc;
    if (json_array_size(x->windows) > 0 &&
        (rc = append_items(m, "windows", x->windows, "--metrics-window")) != CLI_OK)
        return rc;
    if (x->settle && json_object_set(m, "settle", x->settle) != 0) return fields_oom();
    if (json_array_size(json_object_get(m, "windows")) == 0) {
        cli_error("runs submit: --settle needs at least one --metrics-window (a run's metrics "
                  "have windows)");
        return CLI_EUSAGE;
    }
    return CLI_OK;
}

int cli_run_fields_apply(const cli_run_fields *x, json_t *run)
{
    int rc;
    if ((rc = apply_described(x, run)) != CLI_OK || (rc = apply_metrics(x, run)) != CLI_OK)
        return rc;
    if (x->v0 && json_object_set(run, "V0", x->v0) != 0) return fields_oom();
    if (json_object_size(x->labels) > 0) {
        json_t *l = object_member(run, "labels", "--label", &rc);
        if (!l) return rc;
        if (json_object_update(l, x->labels) != 0) return fields_oom();
    }
    return CLI_OK;
}
