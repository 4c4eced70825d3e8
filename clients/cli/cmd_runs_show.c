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

void cli_run_print(const json_t *run)
{
    char b[64];
    out_kv("id", "%s", out_member(run, "id", b, sizeof b));
    cli_job_print_status(run);
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
        const json_t *outs = json_object_get(meta, "outputs");
        const char *var;
        const json_t *o;
        int first = 1;
        json_object_foreach((json_t *)outs, var, o)
        {
            const json_t *sh = json_object_get(o, "shape");
            char dims[96];
            cli_shape_text(sh, " x ", dims, sizeof dims);
            out_kv(first ? "results" : "", "%-2s %s %s", var, dims,
                   out_member(o, "dtype", b, sizeof b));
            first = 0;
        }
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
