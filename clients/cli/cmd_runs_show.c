/**
 * @file cmd_runs_show.c
 * @brief A run of eirnnd as `eirnn runs` prints it: its status, its fields, its outcome as an
 *        exit code (cmd_runs.h).
 */
#include <stdio.h>
#include <string.h>

#include "cmd_jobs.h"
#include "cmd_runs.h"

const char *cli_run_status(const json_t *run)
{
    const char *s = json_string_value(json_object_get(run, "status"));
    return s ? s : "?";
}

int cli_run_status_final(const char *s)
{
    return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "diverged") == 0 ||
           strcmp(s, "cancelled") == 0;
}

int cli_run_status_known(const char *s)
{
    return cli_run_status_final(s) || strcmp(s, "queued") == 0 || strcmp(s, "running") == 0;
}

long long cli_run_member_int(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

const char *cli_run_path(cli_url *u, const char *id, const char *suffix)
{
    return cli_job_path(u, "runs", id, suffix);
}

/* ------------------------------------------------------------------------------------------ */
/* Printing a run                                                                             */
/* ------------------------------------------------------------------------------------------ */

/** "%g" of the number @p v in @p buf; "-" when it is not one (null: a NaN or no sample). */
static const char *num(const json_t *v, char *buf, size_t cap)
{
    if (!json_is_number(v)) return "-";
    snprintf(buf, cap, "%g", json_number_value(v));
    return buf;
}

/** "E x, I y" of the object {"E": x, "I": y} @p pop, in @p buf. */
static const char *pops(const json_t *pop, char *buf, size_t cap)
{
    char e[32], i[32];
    snprintf(buf, cap, "E %s, I %s", num(json_object_get(pop, "E"), e, sizeof e),
             num(json_object_get(pop, "I"), i, sizeof i));
    return buf;
}

/** The "labels" line: "k: v, k2: v2" (none when the run has no labels). */
static void print_labels(const json_t *run)
{
    const json_t *labels = json_object_get(run, "labels");
    if (json_object_size(labels) == 0) return;
    char line[1024];
    size_t k = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)labels, key, v)
    {
        const char *s = json_string_value(v);
        k += (size_t)snprintf(line + (k < sizeof line ? k : sizeof line),
                              k < sizeof line ? sizeof line - k : 0, "%s%s: %s", k ? ", " : "", key,
                              s ? s : "?");
    }
    if (k >= sizeof line) memcpy(line + sizeof line - 4, "...", 4);
    out_kv("labels", "%s", line);
}

/** The "sweep" line of a point of a sweep: "s_... (point 7)". */
static void print_sweep(const json_t *run)
{
    const json_t *sw = json_object_get(run, "sweep");
    const char *id = json_string_value(json_object_get(sw, "id"));
    if (id) out_kv("sweep", "%s (point %lld)", id, cli_run_member_int(sw, "index"));
}

/** The "V0" line of a run started from another's final state (its metadata's "run.V0"). */
static void print_v0(const json_t *meta)
{
    const json_t *v0 = json_object_get(json_object_get(meta, "run"), "V0");
    const char *from = json_string_value(json_object_get(v0, "run_id"));
    const json_t *trial = json_object_get(v0, "trial");
    if (from && json_is_integer(trial) && json_integer_value(trial) >= 0)
        out_kv("V0", "run %s, trial %lld (its final state, for every trial)", from,
               (long long)json_integer_value(trial));
    else if (from)
        out_kv("V0", "run %s (its final state, trial b for trial b)", from);
}

/** The "results" lines: each output (V_final included) with its shape and dtype. */
static void print_results(const json_t *meta)
{
    const json_t *outs = json_object_get(meta, "outputs");
    const char *var;
    const json_t *o;
    int first = 1, width = 2;
    json_object_foreach((json_t *)outs, var, o)
    {
        if ((int)strlen(var) > width) width = (int)strlen(var);
    }
    json_object_foreach((json_t *)outs, var, o)
    {
        char dims[96], dt[32];
        cli_shape_text(json_object_get(o, "shape"), " x ", dims, sizeof dims);
        out_kv(first ? "results" : "", "%-*s %s %s", width, var, dims,
               out_member(o, "dtype", dt, sizeof dt));
        first = 0;
    }
}

/**
 * The metrics block (meta.metrics, runs with "metrics"): one line per window (name, var,
 * [from, to), mean and std per population), the final rates, max z dt and, when asked, whether
 * the run settled.
 */
static void print_metrics(const json_t *meta)
{
    const json_t *m = json_object_get(meta, "metrics");
    if (!json_is_object(m)) return;
    const json_t *wins = json_object_get(m, "windows"), *w;
    const char *name;
    int first = 1, width = 1;
    char a[96], b[96], c[32];
    json_object_foreach((json_t *)wins, name, w)
    {
        if ((int)strlen(name) > width) width = (int)strlen(name);
    }
    json_object_foreach((json_t *)wins, name, w)
    {
        const char *var = json_string_value(json_object_get(w, "var"));
        char range[64];
        snprintf(range, sizeof range, "[%lld, %lld)", cli_run_member_int(w, "from"),
                 cli_run_member_int(w, "to"));
        out_kv(first ? "metrics" : "", "%-*s  %s %s  mean %s  std %s", width, name, var ? var : "?",
               range, pops(json_object_get(w, "mean"), a, sizeof a),
               pops(json_object_get(w, "std"), b, sizeof b));
        first = 0;
    }
    const json_t *fin = json_object_get(m, "final");
    out_kv("final rate", "%s", pops(json_object_get(fin, "r"), a, sizeof a));
    out_kv("final V", "%s", pops(json_object_get(fin, "V"), a, sizeof a));
    out_kv("max z dt", "%s", num(json_object_get(m, "max_z_dt"), c, sizeof c));
    const json_t *st = json_object_get(m, "settle");
    if (json_is_object(st)) {
        int yes = json_is_true(json_object_get(st, "settled"));
        out_kv("settled", "%s: max |dV/dt| %s %s tol %s over the last %lld steps",
               yes ? "yes" : "no", num(json_object_get(st, "max_dVdt"), a, sizeof a),
               yes ? "<=" : ">", num(json_object_get(st, "tol"), b, sizeof b),
               cli_run_member_int(st, "steps"));
    }
}

void cli_run_print(const json_t *run)
{
    char b[64];
    out_kv("id", "%s", out_member(run, "id", b, sizeof b));
    cli_job_print_status(run);
    print_sweep(run);
    print_labels(run);
    const json_t *p = json_object_get(run, "progress");
    long long done = cli_run_member_int(p, "done"), total = cli_run_member_int(p, "total");
    double frac = json_number_value(json_object_get(p, "fraction"));
    out_kv("progress", "%lld/%lld steps (%.1f%%)", done, total, 100.0 * frac);
    cli_job_print_times(run);
    out_kv("attempts", "%lld of %lld", cli_run_member_int(run, "attempts"),
           cli_run_member_int(run, "max_attempts"));

    const json_t *meta = json_object_get(run, "meta");
    if (json_is_object(meta)) {
        const json_t *rn = json_object_get(meta, "run");
        char s[32], dt[32], integ[32], prec[32];
        out_kv("run", "%lld trial%s x %lld steps, dt %s, %s, %s", cli_run_member_int(rn, "B"),
               cli_run_member_int(rn, "B") == 1 ? "" : "s", cli_run_member_int(rn, "T"),
               out_member(rn, "dt", dt, sizeof dt),
               out_member(rn, "integrator", integ, sizeof integ),
               out_member(rn, "precision", prec, sizeof prec));
        out_kv("seed", "%s", out_member(rn, "seed", s, sizeof s));
        print_v0(meta);
        const json_t *sum = json_object_get(meta, "summary");
        if (json_is_object(sum)) {
            char e[32], i[32];
            out_kv("mean rate", "E %s, I %s", out_member(sum, "mean_rate_E", e, sizeof e),
                   out_member(sum, "mean_rate_I", i, sizeof i));
            if (json_is_true(json_object_get(sum, "diverged")))
                out_kv("diverged", "at step %s (trial %s)",
                       out_member(sum, "diverged_step", e, sizeof e),
                       out_member(sum, "diverged_trial", i, sizeof i));
            if (json_is_true(json_object_get(sum, "unstable")))
                out_kv("warning", "euler step unstable: max(z)*dt = %s > 2",
                       out_member(sum, "max_z_dt", e, sizeof e));
        }
        print_metrics(meta);
        print_results(meta);
    }
    const json_t *err = json_object_get(run, "error");
    if (json_is_object(err)) {
        const char *d = json_string_value(json_object_get(err, "detail"));
        out_kv("error", "%s", d ? d : "-");
    }
}

int cli_run_outcome(const json_t *run)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *st = cli_run_status(run);
    const json_t *sum = json_object_get(json_object_get(run, "meta"), "summary");
    const json_t *p = json_object_get(run, "progress");
    if (!id) id = "?";
    if (strcmp(st, "diverged") == 0) {
        char s[32], t[32];
        cli_error("run %s diverged at step %s (trial %s): the state stopped being finite; its "
                  "results keep the rows before it",
                  id, out_member(sum, "diverged_step", s, sizeof s),
                  out_member(sum, "diverged_trial", t, sizeof t));
        return CLI_EDIVERGED;
    }
    if (strcmp(st, "cancelled") == 0) {
        cli_error("run %s was cancelled after %lld of %lld steps", id,
                  cli_run_member_int(p, "done"), cli_run_member_int(p, "total"));
        return CLI_ECANCELLED;
    }
    if (strcmp(st, "failed") == 0) {
        const char *d = json_string_value(json_object_get(json_object_get(run, "error"), "detail"));
        cli_error("run %s failed: %s", id, d && *d ? d : "no reason given");
        return CLI_EFAILED;
    }
    return CLI_OK;
}

int cli_run_finish(const cli_http_resp *r, int quiet)
{
    const json_t *run = r->json;
    if (cli_opts.json)
        out_body(r);
    else if (quiet)
        printf("%s\n", json_string_value(json_object_get(run, "id")));
    else
        cli_run_print(run);
    fflush(stdout);
    return cli_run_outcome(run);
}
