/**
 * @file cmd_runs.c
 * @brief `eirnn runs submit|get|list|wait|cancel|delete`: runs of eirnnd (/v1/runs), with
 *        long-poll waiting, a progress bar on a terminal and exit codes from the run's end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "eir_json.h"
#include "eir_csv.h"
#include "eir_npy.h"

/** Longest long poll asked for without a progress bar (the server caps it too). */
#define POLL_MAX_S 30.0
/** Long poll with a progress bar: the bar moves about once a second. */
#define POLL_BAR_S 1.0
/** Added to a long poll's wait for the request's own timeout. */
#define POLL_SLACK_S 30.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/** The answer's JSON object, or NULL after printing that it is not one. */
static const json_t *answer_object(const cli_http_resp *r)
{
    if (!json_is_object(r->json)) {
        cli_error("the server's answer (HTTP %ld) is not a JSON object", r->status);
        return NULL;
    }
    return r->json;
}

static const char *run_status(const json_t *run)
{
    const char *s = json_string_value(json_object_get(run, "status"));
    return s ? s : "?";
}

static int status_final(const char *s)
{
    return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "diverged") == 0 ||
           strcmp(s, "cancelled") == 0;
}

static int status_known(const char *s)
{
    return status_final(s) || strcmp(s, "queued") == 0 || strcmp(s, "running") == 0;
}

static long long member_int(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/** "/v1/runs/<id><suffix>" in @p u. @return its text, or NULL after "out of memory". */
static const char *run_path(cli_url *u, const char *id, const char *suffix)
{
    cli_url_add(u, "/v1/runs/");
    cli_url_add_segment(u, id);
    cli_url_add(u, suffix);
    return cli_url_text(u);
}

/* ------------------------------------------------------------------------------------------ */
/* Printing a run                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void print_run(const json_t *run)
{
    char b[64], t[32];
    out_kv("id", "%s", out_member(run, "id", b, sizeof b));
    const char *st = run_status(run);
    out_kv("status", "%s%s", st,
           !status_final(st) && json_is_true(json_object_get(run, "cancel_requested"))
               ? " (cancel requested)"
               : "");
    const json_t *mid = json_object_get(run, "model_id");
    out_kv("model", "%s", json_is_string(mid) ? json_string_value(mid) : "inline");
    const json_t *p = json_object_get(run, "progress");
    long long done = member_int(p, "done"), total = member_int(p, "total");
    double frac = json_number_value(json_object_get(p, "fraction"));
    out_kv("progress", "%lld/%lld steps (%.1f%%)", done, total, 100.0 * frac);
    out_kv("created", "%s",
           out_time(json_string_value(json_object_get(run, "created_at")), t, sizeof t));
    out_kv("started", "%s",
           out_time(json_string_value(json_object_get(run, "started_at")), t, sizeof t));
    out_kv("finished", "%s",
           out_time(json_string_value(json_object_get(run, "finished_at")), t, sizeof t));
    out_kv("attempts", "%lld of %lld", member_int(run, "attempts"),
           member_int(run, "max_attempts"));

    const json_t *meta = json_object_get(run, "meta");
    if (json_is_object(meta)) {
        const json_t *rn = json_object_get(meta, "run");
        char s[32], dt[32], integ[32], prec[32];
        out_kv("run", "%lld trial%s x %lld steps, dt %s, %s, %s", member_int(rn, "B"),
               member_int(rn, "B") == 1 ? "" : "s", member_int(rn, "T"),
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
            char dims[96] = "";
            size_t k = 0, i;
            const json_t *d;
            json_array_foreach(sh, i, d)
            {
                k += (size_t)snprintf(dims + k, k < sizeof dims ? sizeof dims - k : 0, "%s%lld",
                                      i ? " x " : "", (long long)json_integer_value(d));
            }
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

/**
 * The exit code of an ended run, with a line on stderr for any end but success:
 * CLI_EDIVERGED, CLI_ECANCELLED, CLI_EFAILED; CLI_OK for a succeeded (or unended) run.
 */
static int run_outcome(const json_t *run)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *st = run_status(run);
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
        cli_error("run %s was cancelled after %lld of %lld steps", id, member_int(p, "done"),
                  member_int(p, "total"));
        return CLI_ECANCELLED;
    }
    if (strcmp(st, "failed") == 0) {
        const char *d = json_string_value(json_object_get(json_object_get(run, "error"), "detail"));
        cli_error("run %s failed: %s", id, d && *d ? d : "no reason given");
        return CLI_EFAILED;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Waiting                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/**
 * Long-poll GET /v1/runs/ID?wait=... until the run has ended or @p timeout_s (0 = none) has
 * passed, drawing the progress bar on a terminal. On CLI_OK *last holds the answer with the
 * ended run (free it). A full or restarting server (503) is asked again after its
 * Retry-After. @return CLI_OK; CLI_ETIMEOUT (message printed); an HTTP error's code.
 */
static int wait_run(cli_http *h, const char *id, double timeout_s, cli_http_resp *last)
{
    double t0 = now_s(), deadline = timeout_s > 0 ? t0 + timeout_s : 0;
    int bar = out_progress_enabled();
    memset(last, 0, sizeof *last);
    char status[32] = "queued";
    double frac = 0;
    for (;;) {
        double w = bar ? POLL_BAR_S : POLL_MAX_S;
        if (deadline) {
            double rem = deadline - now_s();
            if (rem <= 0) {
                out_progress_end();
                cli_error("run %s has not ended after %g s (%s, %.1f%% done); it goes on: "
                          "'eirnn runs wait %s' waits again, 'eirnn runs cancel %s' stops it",
                          id, timeout_s, status, 100.0 * frac, id, id);
                return CLI_ETIMEOUT;
            }
            if (rem < w) w = rem;
        }
        char ws[32];
        snprintf(ws, sizeof ws, "%.3f", w);
        cli_url u = {0};
        const char *path = run_path(&u, id, "");
        cli_url_add_query(&u, "wait", ws);
        path = cli_url_text(&u);
        cli_http_resp r;
        double t1 = now_s();
        int rc =
            path ? cli_http_request(h, "GET", path, NULL, 0, NULL, w + POLL_SLACK_S, &r) : CLI_EIO;
        cli_url_free(&u);
        if (rc != CLI_OK) {
            out_progress_end();
            if (path) cli_http_resp_free(&r);
            return rc;
        }
        if (r.status == 503) {
            double ra = r.retry_after > 0 ? r.retry_after : 1;
            cli_http_resp_free(&r);
            sleep_s(ra < 5 ? ra : 5);
            continue;
        }
        if (r.status < 200 || r.status >= 300) {
            out_progress_end();
            rc = cli_http_fail(&r);
            cli_http_resp_free(&r);
            return rc;
        }
        const json_t *run = answer_object(&r);
        if (!run) {
            out_progress_end();
            cli_http_resp_free(&r);
            return CLI_EHTTP;
        }
        const char *st = run_status(run);
        const json_t *p = json_object_get(run, "progress");
        snprintf(status, sizeof status, "%s", st);
        frac = json_number_value(json_object_get(p, "fraction"));
        out_progress(id, st, member_int(p, "done"), member_int(p, "total"));
        if (status_final(st)) {
            out_progress_end();
            *last = r;
            return CLI_OK;
        }
        cli_http_resp_free(&r);
        /* A server that does not hold the poll (--long-poll-max 0) is asked twice a second. */
        double took = now_s() - t1;
        if (took < 0.5) sleep_s(0.5 - took);
    }
}

/** Print the ended run of @p r (as --json or -q asks) and return its outcome's exit code. */
static int finish_run(const cli_http_resp *r, int quiet)
{
    const json_t *run = r->json;
    if (cli_opts.json)
        out_body(r);
    else if (quiet)
        printf("%s\n", json_string_value(json_object_get(run, "id")));
    else
        print_run(run);
    fflush(stdout);
    return run_outcome(run);
}

/* ------------------------------------------------------------------------------------------ */
/* submit                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const char submit_help[] =
    "usage: eirnn runs submit (--model ID | --model-file FILE) [--inputs FILE] [--run-file FILE]\n"
    "                         [--seed N] [--dt X] [--steps T] [--wait [--timeout S]]\n"
    "                         [--idempotency-key K] [-q]\n"
    "\n"
    "Queue a run in eirnnd. The run document (FORMAT.md's run) is RUN.json from --run-file\n"
    "(else empty), then changed by the options: --inputs replaces its inputs, --seed, --dt\n"
    "and --steps set those, and --model / --model-file set the model (a stored model_id, or\n"
    "the model inline), replacing any the run file names. The server validates the run in\n"
    "full; a bad field is named as a JSON pointer (exit 3).\n"
    "\n"
    "options:\n"
    "  -m, --model ID     a stored model (see 'eirnn models create')\n"
    "  -f, --model-file FILE\n"
    "                     the model document, sent inline with the run\n"
    "  -r, --run-file FILE\n"
    "                     the run document to start from\n"
    "  -i, --inputs FILE  inputs: .npy or .csv (T x n_in, or B x T x n_in for .npy; sent\n"
    "                     as a binary array), or .json (an array in either form)\n"
    "      --seed N       noise seed (0 to 2^63-1; without it the server picks one)\n"
    "      --dt X         step size (> 0)\n"
    "      --steps T      T steps without input (a run with no input array)\n"
    "  -w, --wait         wait for the run to end; the exit code tells how it ended\n"
    "  -t, --timeout S    with --wait: give up waiting after S seconds (exit 8)\n"
    "  -k, --idempotency-key K\n"
    "                     a retry with the same key and body gives the same run\n"
    "  -q, --quiet        print only the run's id\n" CLI_CONN_HELP "\n"
    "With --wait a progress bar is drawn on stderr when it is a terminal. Exit codes with\n"
    "--wait: 0 succeeded, 5 diverged, 6 cancelled, 7 failed, 8 still running at --timeout.\n";

enum { OPT_SEED = CLI_OPT_OWN, OPT_DT, OPT_STEPS };

typedef struct submit_opts {
    const char *model_id, *model_file, *run_file, *inputs, *key;
    int has_seed, has_dt, wait, quiet;
    long long seed, steps;
    double dt, timeout;
} submit_opts;

static int submit_opt(void *ctx, int c, const char *arg)
{
    submit_opts *o = ctx;
    switch (c) {
    case 'm':
        o->model_id = arg;
        return CLI_OK;
    case 'f':
        o->model_file = arg;
        return CLI_OK;
    case 'r':
        o->run_file = arg;
        return CLI_OK;
    case 'i':
        o->inputs = arg;
        return CLI_OK;
    case 'k':
        if (!*arg || strlen(arg) > 255 || strpbrk(arg, "\r\n")) {
            cli_error("--idempotency-key must be one line of 1 to 255 characters");
            return CLI_EUSAGE;
        }
        o->key = arg;
        return CLI_OK;
    case 'w':
        o->wait = 1;
        return CLI_OK;
    case 'q':
        o->quiet = 1;
        return CLI_OK;
    case 't':
        return cli_parse_number("--timeout", arg, 1, &o->timeout);
    case OPT_SEED:
        o->has_seed = 1;
        return cli_parse_int("--seed", arg, 0, INT64_MAX, &o->seed);
    case OPT_DT:
        o->has_dt = 1;
        return cli_parse_number("--dt", arg, 1, &o->dt);
    case OPT_STEPS:
        return cli_parse_int("--steps", arg, 1, INT64_MAX, &o->steps);
    default:
        return CLI_EUSAGE;
    }
}

/**
 * The array in the .npy or .csv file @p path as a binary array object (dtype of the .npy,
 * float64 for CSV). @return CLI_OK; CLI_EINVALID for a malformed file or a shape that is
 * not T x n_in or B x T x n_in; CLI_EIO when it cannot be read.
 */
static int inputs_binary(const char *path, json_t **out)
{
    *out = NULL;
    eir_npy_error ne;
    eir_npy_array a = {0};
    eir_npy_status st;
    if (cli_ends_with(path, ".npy")) {
        st = eir_npy_read_file(path, 0, &a, &ne);
    } else {
        int64_t rows, cols;
        double *data;
        st = eir_csv_read(path, 0, &rows, &cols, &data, &ne);
        if (st == EIR_NPY_OK) {
            a.dtype = EIR_NPY_F8;
            a.ndim = 2;
            a.shape[0] = rows;
            a.shape[1] = cols;
            a.count = (size_t)(rows * cols);
            a.data = data;
        }
    }
    if (st != EIR_NPY_OK) {
        cli_error("%s", ne.message);
        return st == EIR_NPY_EFORMAT ? CLI_EINVALID : CLI_EIO;
    }
    if (a.ndim != 2 && a.ndim != 3) {
        cli_error("%s: inputs must have shape T x n_in or B x T x n_in, not %d dimension%s", path,
                  a.ndim, a.ndim == 1 ? "" : "s");
        eir_npy_array_free(&a);
        return CLI_EINVALID;
    }
    /* Little-endian bytes, in the file's precision (float32 values are exact as floats). */
    int f4 = a.dtype == EIR_NPY_F4;
    size_t isz = f4 ? 4 : 8;
    unsigned char *bytes = malloc(a.count > 0 ? a.count * isz : 1);
    if (!bytes) {
        eir_npy_array_free(&a);
        cli_error("out of memory");
        return CLI_EIO;
    }
    for (size_t i = 0; i < a.count; i++) {
        uint64_t u;
        if (f4) {
            float x = (float)a.data[i];
            uint32_t w;
            memcpy(&w, &x, 4);
            u = w;
        } else {
            memcpy(&u, &a.data[i], 8);
        }
        for (size_t b = 0; b < isz; b++)
            bytes[isz * i + b] = (unsigned char)(u >> (8 * b));
    }
    char *b64 = eir_base64_encode(bytes, a.count * isz);
    free(bytes);
    json_t *shape = json_array();
    for (int d = 0; shape && d < a.ndim; d++)
        json_array_append_new(shape, json_integer(a.shape[d]));
    eir_npy_array_free(&a);
    json_t *arr = NULL;
    if (b64 && shape)
        arr = json_pack("{s:s, s:O, s:s}", "dtype", f4 ? "float32" : "float64", "shape", shape,
                        "base64", b64);
    json_decref(shape);
    free(b64);
    if (!arr) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    *out = arr;
    return CLI_OK;
}

/** Put the --inputs file into @p run. */
static int apply_inputs(const char *path, json_t *run)
{
    json_t *in = NULL;
    int rc;
    if (cli_ends_with(path, ".json")) {
        if ((rc = cli_load_json(path, &in, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_array(in) && !json_is_object(in)) {
            cli_error("%s: inputs must be a JSON array (T x n_in or B x T x n_in) or a binary "
                      "array {\"dtype\", \"shape\", \"base64\"}",
                      path);
            json_decref(in);
            return CLI_EINVALID;
        }
    } else if (cli_ends_with(path, ".npy") || cli_ends_with(path, ".csv")) {
        if ((rc = inputs_binary(path, &in)) != CLI_OK) return rc;
    } else {
        cli_error("runs submit: --inputs must be a .npy, .csv or .json file, not '%s'", path);
        return CLI_EUSAGE;
    }
    if (json_object_set_new(run, "inputs", in) != 0) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    return CLI_OK;
}

/** The run document of the options. @return CLI_OK with *out set, or an exit code. */
static int build_run(const submit_opts *o, json_t **out)
{
    *out = NULL;
    json_t *run = NULL;
    int rc;
    if (o->run_file) {
        if ((rc = cli_load_json(o->run_file, &run, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_object(run)) {
            cli_error("%s: a run must be a JSON object", o->run_file);
            json_decref(run);
            return CLI_EINVALID;
        }
    } else if (!(run = json_object())) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    if (o->inputs && (rc = apply_inputs(o->inputs, run)) != CLI_OK) goto fail;
    if (o->steps > 0) {
        json_t *in = json_object_get(run, "inputs");
        if (in && !(json_is_object(in) && json_object_get(in, "steps"))) {
            cli_error("runs submit: --steps is for runs without input, but %s gives inputs "
                      "(their length is T)",
                      o->inputs ? o->inputs : o->run_file);
            rc = CLI_EUSAGE;
            goto fail;
        }
        if (in)
            rc = json_object_set_new(in, "steps", json_integer(o->steps));
        else
            rc = json_object_set_new(
                run, "inputs", json_pack("{s:I, s:i}", "steps", (json_int_t)o->steps, "trials", 1));
        if (rc != 0) goto oom;
    }
    if (o->has_dt && json_object_set_new(run, "dt", json_real(o->dt)) != 0) goto oom;
    if (o->has_seed && json_object_set_new(run, "seed", json_integer(o->seed)) != 0) goto oom;
    if (o->model_id) {
        json_object_del(run, "model");
        if (json_object_set_new(run, "model_id", json_string(o->model_id)) != 0) goto oom;
    } else if (o->model_file) {
        json_t *m;
        if ((rc = cli_load_json(o->model_file, &m, NULL, NULL)) != CLI_OK) goto fail;
        if (!json_is_object(m)) {
            json_decref(m);
            cli_error("%s: a model must be a JSON object", o->model_file);
            rc = CLI_EINVALID;
            goto fail;
        }
        json_object_del(run, "model_id");
        if (json_object_set_new(run, "model", m) != 0) goto oom;
    } else if (!json_object_get(run, "model_id") && !json_object_get(run, "model")) {
        cli_error("runs submit: give the model: --model ID (a stored model) or --model-file "
                  "FILE (try 'eirnn runs submit --help')");
        rc = CLI_EUSAGE;
        goto fail;
    }
    *out = run;
    return CLI_OK;
oom:
    cli_error("out of memory");
    rc = CLI_EIO;
fail:
    json_decref(run);
    return rc;
}

static int runs_submit(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"model", required_argument, NULL, 'm'},
                                       {"model-file", required_argument, NULL, 'f'},
                                       {"run-file", required_argument, NULL, 'r'},
                                       {"inputs", required_argument, NULL, 'i'},
                                       {"seed", required_argument, NULL, OPT_SEED},
                                       {"dt", required_argument, NULL, OPT_DT},
                                       {"steps", required_argument, NULL, OPT_STEPS},
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"idempotency-key", required_argument, NULL, 'k'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    submit_opts o;
    memset(&o, 0, sizeof o);
    int pos;
    int rc = cli_parse(argc, argv, "runs submit", "m:f:r:i:wt:k:q", lo, submit_help, submit_opt, &o,
                       0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.model_id && o.model_file) {
        cli_error("runs submit: give --model or --model-file, not both");
        return CLI_EUSAGE;
    }
    if (o.inputs && o.steps > 0) {
        cli_error("runs submit: --steps is for runs without input; --inputs %s fixes T", o.inputs);
        return CLI_EUSAGE;
    }
    if (o.timeout > 0 && !o.wait) {
        cli_error("runs submit: --timeout needs --wait");
        return CLI_EUSAGE;
    }
    json_t *run;
    if ((rc = build_run(&o, &run)) != CLI_OK) return rc;
    size_t len;
    char *body = cli_dump(run, &len);
    json_decref(run);
    if (!body) return CLI_EIO;
    cli_http *h = cli_http_open(&rc);
    if (!h) {
        free(body);
        return rc;
    }
    cli_http_resp r;
    rc = cli_http_call(h, "POST", "/v1/runs", body, len, o.key, 0, &r);
    free(body);
    const json_t *res = rc == CLI_OK ? answer_object(&r) : NULL;
    const char *id = json_string_value(json_object_get(res, "id"));
    if (rc == CLI_OK && !id) {
        if (res) cli_error("the server's answer has no run id");
        rc = CLI_EHTTP;
    }
    if (rc == CLI_OK && !o.wait) {
        if (cli_opts.json)
            out_body(&r);
        else if (o.quiet)
            printf("%s\n", id);
        else
            print_run(res);
    } else if (rc == CLI_OK) {
        char *rid = strdup(id);
        cli_http_resp fin;
        if (!rid) {
            cli_error("out of memory");
            rc = CLI_EIO;
        } else if (status_final(run_status(res))) { /* an idempotent replay of an ended run */
            rc = finish_run(&r, o.quiet);
        } else if ((rc = wait_run(h, rid, o.timeout, &fin)) == CLI_OK) {
            rc = finish_run(&fin, o.quiet);
            cli_http_resp_free(&fin);
        } else if (rc == CLI_ETIMEOUT && cli_opts.json) {
            out_body(&r); /* the run as submitted: its id for a later 'runs wait' */
        } else if (rc == CLI_ETIMEOUT && o.quiet) {
            printf("%s\n", rid);
        }
        free(rid);
    }
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* get, wait, cancel, delete                                                                  */
/* ------------------------------------------------------------------------------------------ */

static const char get_help[] =
    "usage: eirnn runs get ID\n"
    "\n"
    "Show a run: status, progress, times and, once it has ended, what ran (trials, steps,\n"
    "seed), its summary, its results (variables and shapes) or why it failed. The exit code\n"
    "is 0 whatever the run's state ('eirnn runs wait' ends with the run's outcome).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char wait_help[] =
    "usage: eirnn runs wait ID [--timeout S]\n"
    "\n"
    "Wait for a run to end (long polls), then show it as 'eirnn runs get' does. A progress\n"
    "bar is drawn on stderr when it is a terminal.\n"
    "exit codes: 0 succeeded, 5 diverged, 6 cancelled, 7 failed, 8 still running at\n"
    "--timeout (the run goes on).\n"
    "\n"
    "options:\n"
    "  -t, --timeout S    give up waiting after S seconds (default: wait as long as it takes)\n"
    "  -q, --quiet        print nothing; the exit code tells how the run ended\n" CLI_CONN_HELP;

static const char cancel_help[] =
    "usage: eirnn runs cancel ID\n"
    "\n"
    "Cancel a queued or running run. A queued run is cancelled at once; a running one stops\n"
    "within a few steps and keeps the rows done ('eirnn runs wait ID' waits for that).\n"
    "A run that already ended otherwise is refused (409, exit 4).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char delete_help[] =
    "usage: eirnn runs delete ID\n"
    "\n"
    "Delete an ended run and its results. A queued or running run is refused (409, exit 4):\n"
    "cancel it first.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

typedef struct one_opts {
    double timeout;
    int quiet;
} one_opts;

static int one_opt(void *ctx, int c, const char *arg)
{
    one_opts *o = ctx;
    if (c == 't') return cli_parse_number("--timeout", arg, 1, &o->timeout);
    if (c == 'q') {
        o->quiet = 1;
        return CLI_OK;
    }
    return CLI_EUSAGE;
}

typedef enum one_kind { ONE_GET, ONE_WAIT, ONE_CANCEL, ONE_DELETE } one_kind;

static int run_one(int argc, char **argv, one_kind kind)
{
    static const struct option lo_plain[] = {CLI_CONN_LONGOPTS, {NULL, 0, NULL, 0}};
    static const struct option lo_wait[] = {CLI_CONN_LONGOPTS,
                                            {"timeout", required_argument, NULL, 't'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {NULL, 0, NULL, 0}};
    static const char *const names[] = {"runs get", "runs wait", "runs cancel", "runs delete"};
    static const char *const helps[] = {get_help, wait_help, cancel_help, delete_help};
    one_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, names[kind], kind == ONE_WAIT ? "t:q" : "",
                       kind == ONE_WAIT ? lo_wait : lo_plain, helps[kind], one_opt, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *id = argv[pos];
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_http_resp r = {0};
    cli_url u = {0};
    const char *path;
    switch (kind) {
    case ONE_WAIT:
        rc = wait_run(h, id, o.timeout, &r);
        if (rc == CLI_OK) {
            if (o.quiet)
                rc = run_outcome(r.json);
            else
                rc = finish_run(&r, 0);
        }
        break;
    case ONE_GET:
        path = run_path(&u, id, "");
        rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK && !answer_object(&r)) rc = CLI_EHTTP;
        if (rc == CLI_OK) {
            if (cli_opts.json)
                out_body(&r);
            else
                print_run(r.json);
        }
        break;
    case ONE_CANCEL:
        path = run_path(&u, id, "/cancel");
        rc = path ? cli_http_call(h, "POST", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK && !answer_object(&r)) rc = CLI_EHTTP;
        if (rc == CLI_OK) {
            if (cli_opts.json)
                out_body(&r);
            else if (strcmp(run_status(r.json), "cancelled") == 0)
                printf("run %s: cancelled\n", id);
            else
                printf("run %s: cancel requested; it stops within a few steps ('eirnn runs "
                       "wait %s')\n",
                       id, id);
        }
        break;
    case ONE_DELETE:
        path = run_path(&u, id, "");
        rc = path ? cli_http_call(h, "DELETE", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK) {
            if (cli_opts.json) {
                json_t *j = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
                if (j) out_json(j);
                json_decref(j);
            } else {
                printf("deleted run %s\n", id);
            }
        }
        break;
    }
    cli_url_free(&u);
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

static int runs_get(int argc, char **argv)
{
    return run_one(argc, argv, ONE_GET);
}

static int runs_wait(int argc, char **argv)
{
    return run_one(argc, argv, ONE_WAIT);
}

static int runs_cancel(int argc, char **argv)
{
    return run_one(argc, argv, ONE_CANCEL);
}

static int runs_delete(int argc, char **argv)
{
    return run_one(argc, argv, ONE_DELETE);
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const char list_help[] =
    "usage: eirnn runs list [--status S] [--model ID] [--limit N] [--all] [--cursor C]\n"
    "\n"
    "List runs, newest first: id, status, progress, model, creation time.\n"
    "\n"
    "options:\n"
    "  -s, --status S     only runs in state S: queued, running, succeeded, failed, diverged,\n"
    "                     cancelled\n"
    "  -m, --model ID     only runs of the stored model ID\n"
    "  -n, --limit N      runs per page, 1 to 1000 (default: the server's, 50)\n"
    "  -a, --all          follow the pages to the end\n"
    "      --cursor C     start at this page (the next_cursor of an earlier page)\n" CLI_CONN_HELP;

typedef struct list_opts {
    const char *status, *model, *cursor;
    long long limit;
    int all;
} list_opts;

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    switch (c) {
    case 's':
        if (!status_known(arg)) {
            cli_error("--status must be queued, running, succeeded, failed, diverged or "
                      "cancelled, not '%s'",
                      arg);
            return CLI_EUSAGE;
        }
        o->status = arg;
        return CLI_OK;
    case 'm':
        o->model = arg;
        return CLI_OK;
    case 'n':
        return cli_parse_int("--limit", arg, 1, 1000, &o->limit);
    case 'a':
        o->all = 1;
        return CLI_OK;
    case CLI_OPT_OWN:
        o->cursor = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

static int runs_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"status", required_argument, NULL, 's'},
                                       {"model", required_argument, NULL, 'm'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    list_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "runs list", "s:m:n:a", lo, list_help, list_opt, &o, 0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    static const char *const head[] = {"ID", "STATUS", "PROGRESS", "MODEL", "CREATED"};
    out_table *t = cli_opts.json ? NULL : out_table_new(5, head);
    json_t *all = json_array();
    char *cursor = o.cursor ? strdup(o.cursor) : NULL;
    if ((!cli_opts.json && !t) || !all || (o.cursor && !cursor)) {
        cli_error("out of memory");
        rc = CLI_EIO;
        goto out;
    }
    for (;;) {
        cli_url u = {0};
        char lim[24];
        cli_url_add(&u, "/v1/runs");
        if (o.status) cli_url_add_query(&u, "status", o.status);
        if (o.model) cli_url_add_query(&u, "model_id", o.model);
        if (o.limit) {
            snprintf(lim, sizeof lim, "%lld", o.limit);
            cli_url_add_query(&u, "limit", lim);
        }
        if (cursor) cli_url_add_query(&u, "cursor", cursor);
        const char *path = cli_url_text(&u);
        cli_http_resp r;
        rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        cli_url_free(&u);
        if (rc != CLI_OK) {
            if (path) cli_http_resp_free(&r);
            goto out;
        }
        const json_t *page = answer_object(&r);
        const json_t *items = json_object_get(page, "items");
        if (!json_is_array(items)) {
            if (page) cli_error("the server's run list has no items");
            cli_http_resp_free(&r);
            rc = CLI_EHTTP;
            goto out;
        }
        if (cli_opts.json && !o.all) {
            out_body(&r);
            cli_http_resp_free(&r);
            goto out;
        }
        size_t i;
        const json_t *run;
        json_array_foreach(items, i, run)
        {
            if (cli_opts.json) {
                json_array_append(all, (json_t *)run);
                continue;
            }
            char prog[32], tb[32];
            const json_t *p = json_object_get(run, "progress");
            snprintf(prog, sizeof prog, "%5.1f%%",
                     100.0 * json_number_value(json_object_get(p, "fraction")));
            const json_t *mid = json_object_get(run, "model_id");
            const char *row[5] = {
                json_string_value(json_object_get(run, "id")), run_status(run), prog,
                json_is_string(mid) ? json_string_value(mid) : "inline",
                out_time(json_string_value(json_object_get(run, "created_at")), tb, sizeof tb)};
            out_table_add(t, row);
        }
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        free(cursor);
        cursor = next && *next ? strdup(next) : NULL;
        cli_http_resp_free(&r);
        if (!cursor) break;
        if (!o.all) {
            out_table_print(t, stdout);
            fprintf(stderr,
                    "eirnn: more runs: 'eirnn runs list --all', or the next page with "
                    "--cursor %s\n",
                    cursor);
            goto out;
        }
    }
    if (cli_opts.json) {
        json_t *j = json_pack("{s:O, s:n}", "items", all, "next_cursor");
        if (j) out_json(j);
        json_decref(j);
    } else {
        out_table_print(t, stdout);
    }
out:
    free(cursor);
    json_decref(all);
    out_table_free(t);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */

int cli_runs(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"submit", runs_submit,
         "submit (--model ID | --model-file FILE) [--inputs FILE.npy|.csv|.json] "
         "[--run-file RUN.json]\n"
         "                    [--seed N] [--dt X] [--steps T] [--wait [--timeout S]] "
         "[--idempotency-key K] [-q]"},
        {"get", runs_get, "get ID"},
        {"list", runs_list, "list [--status S] [--model ID] [--limit N] [--all] [--cursor C]"},
        {"wait", runs_wait, "wait ID [--timeout S] [-q]"},
        {"cancel", runs_cancel, "cancel ID"},
        {"delete", runs_delete, "delete ID"},
    };
    return cli_dispatch("runs", subs, sizeof subs / sizeof *subs,
                        "Runs of eirnnd (/v1/runs): queue them, follow them, cancel and delete "
                        "them.",
                        argc, argv);
}
