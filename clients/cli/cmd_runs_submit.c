/**
 * @file cmd_runs_submit.c
 * @brief `eirnn runs submit`: build a run document from a run file and the options, queue it
 *        in eirnnd (POST /v1/runs) and, with --wait, wait for its end.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_runs.h"
#include "files.h"
#include "eir_csv.h"
#include "eir_json.h"
#include "eir_npy.h"

static const char submit_help[] =
    "usage: eirnn runs submit (--model ID | --model-file FILE) [--inputs FILE] [--run-file FILE]\n"
    "                         [--steps T] [--trials B] [--dt X] [--seed N] [--integrator I]\n"
    "                         [--precision P] [--V0 X] [--record VARS] [--every K]\n"
    "                         [--neurons LIST] [--time-limit S] [--segment FROM:TO=VALUES]...\n"
    "                         [--input-noise SIGMA:SEED] [--V0-from RUN[:TRIAL]]\n"
    "                         [--label K:V]... [--metrics-window [NAME=]VAR:FROM:TO]...\n"
    "                         [--settle STEPS:TOL] [--wait [--timeout S]]\n"
    "                         [--idempotency-key K] [-q]\n"
    "\n"
    "Queue a run in eirnnd. The run document (FORMAT.md's run) is RUN.json from --run-file\n"
    "(else empty), then changed by the options, which override the file's fields: --inputs\n"
    "replaces its inputs, the others set the field they name, and --model / --model-file set\n"
    "the model (a stored model_id, or the model inline), replacing any the run file names.\n"
    "The server validates the run in full; a bad field is named as a JSON pointer (exit 3).\n"
    "\n"
    "options:\n"
    "  -m, --model ID     a stored model (see 'eirnn models create')\n"
    "  -f, --model-file FILE\n"
    "                     the model document, sent inline with the run\n"
    "  -r, --run-file FILE\n"
    "                     the run document to start from\n"
    "  -i, --inputs FILE  inputs: .npy or .csv (T x n_in, or B x T x n_in for .npy; sent\n"
    "                     as a binary array), or .json (an array in either form)\n"
    "      --steps T      T steps without input (a run with no input array)\n"
    "      --trials B     B trials of a run without input (default 1; an input array's\n"
    "                     first dimension gives B otherwise)\n"
    "      --dt X         step size (> 0)\n"
    "      --seed N       noise seed (0 to 2^63-1; without it the server picks one)\n"
    "      --integrator I exp_euler (default), euler or rk4\n"
    "      --precision P  float64 (default) or float32: arithmetic and results\n"
    "      --V0 X         initial V of every neuron (default 0)\n"
    "      --record VARS  variables to keep, comma-separated: V, r, z, y (default V,r)\n"
    "      --every K      keep every K-th step: T/K rows per trial (default 1)\n"
    "      --neurons LIST neurons recorded for V, r and z: indices and ranges A:B (B\n"
    "                     excluded), e.g. 0:100,250; 'all' (the default) records every one\n"
    "      --time-limit S fail the run after S seconds of wall-clock time\n"
    "      --segment FROM:TO=VALUES\n"
    "                     input over steps [FROM, TO) (repeatable, added in order after the\n"
    "                     run file's): one number (every channel) or n_in numbers,\n"
    "                     comma-separated; V..W a ramp from V to W (0,0..1,0). Needs --steps;\n"
    "                     per-trial values (B x n_in) go in a run file\n"
    "      --input-noise SIGMA:SEED\n"
    "                     add SIGMA x a standard normal (from SEED) to every input value\n"
    "      --V0-from RUN[:TRIAL]\n"
    "                     start from run RUN's V_final (its trial TRIAL for every trial, else\n"
    "                     trial b from trial b); not with --V0\n"
    "      --label K:V    a label (repeatable; K: 1-63 of A-Z a-z 0-9 _ . -)\n"
    "      --metrics-window [NAME=]VAR:FROM:TO\n"
    "                     metrics: mean and std of VAR (V, r, z) over steps FROM+1..TO\n"
    "      --settle STEPS:TOL\n"
    "                     metrics: whether max |dV/dt| of the last STEPS states is <= TOL\n"
    "  -w, --wait         wait for the run to end; the exit code tells how it ended\n"
    "  -t, --timeout S    with --wait: give up waiting after S seconds (exit 8)\n"
    "  -k, --idempotency-key K\n"
    "                     a retry with the same key and body gives the same run\n"
    "  -q, --quiet        print only the run's id\n" CLI_CONN_HELP "\n"
    "With --wait a progress bar is drawn on stderr when it is a terminal. Exit codes with\n"
    "--wait: 0 succeeded, 5 diverged, 6 cancelled, 7 failed, 8 still running at --timeout.\n";

enum {
    OPT_SEED = CLI_OPT_OWN,
    OPT_DT,
    OPT_STEPS,
    OPT_TRIALS,
    OPT_INTEGRATOR,
    OPT_PRECISION,
    OPT_V0,
    OPT_RECORD,
    OPT_EVERY,
    OPT_NEURONS,
    OPT_TIME_LIMIT
};

/** Most indices --neurons expands to (far above any N a server accepts). */
#define NEURONS_MAX 1000000

typedef struct submit_opts {
    const char *model_id, *model_file, *run_file, *inputs;
    int has_seed, has_dt, has_v0;
    long long seed, steps, trials, every;
    double dt, v0, time_limit;
    cli_job_submit_opts job; /* --idempotency-key, --wait, --timeout, -q */
    cli_run_fields fields;   /* --segment, --input-noise, --V0-from, --label, metrics */
    const char *integrator, *precision, *record, *neurons;
} submit_opts;

/** @p arg if it is one of the NULL-terminated @p names, else NULL after a usage error. */
static const char *one_of(const char *opt, const char *arg, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0) return arg;
    cli_error("%s must be %s%s%s%s%s, not '%s'", opt, names[0], names[2] ? ", " : " or ", names[1],
              names[2] ? " or " : "", names[2] ? names[2] : "", arg);
    return NULL;
}

/** The options that set one field of the run document (--record, --every, ...). */
static int run_field_opt(submit_opts *o, int c, const char *arg)
{
    static const char *const integrators[] = {"exp_euler", "euler", "rk4", NULL};
    static const char *const precisions[] = {"float64", "float32", NULL};
    switch (c) {
    case OPT_SEED:
        o->has_seed = 1;
        return cli_parse_int("--seed", arg, 0, INT64_MAX, &o->seed);
    case OPT_DT:
        o->has_dt = 1;
        return cli_parse_number("--dt", arg, 1, &o->dt);
    case OPT_STEPS:
        return cli_parse_int("--steps", arg, 1, INT64_MAX, &o->steps);
    case OPT_TRIALS:
        return cli_parse_int("--trials", arg, 1, INT32_MAX, &o->trials);
    case OPT_EVERY:
        return cli_parse_int("--every", arg, 1, INT32_MAX, &o->every);
    case OPT_TIME_LIMIT:
        return cli_parse_number("--time-limit", arg, 1, &o->time_limit);
    case OPT_INTEGRATOR:
        return (o->integrator = one_of("--integrator", arg, integrators)) ? CLI_OK : CLI_EUSAGE;
    case OPT_PRECISION:
        return (o->precision = one_of("--precision", arg, precisions)) ? CLI_OK : CLI_EUSAGE;
    case OPT_V0: {
        char *end;
        o->v0 = strtod(arg, &end);
        if (!*arg || *end || !isfinite(o->v0)) {
            cli_error("--V0 must be a finite number, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->has_v0 = 1;
        return CLI_OK;
    }
    case OPT_RECORD:
        o->record = arg;
        return CLI_OK;
    case OPT_NEURONS:
        o->neurons = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

static int submit_opt(void *ctx, int c, const char *arg)
{
    submit_opts *o = ctx;
    int rc;
    if (cli_job_submit_opt(&o->job, c, arg, &rc) || cli_run_fields_opt(&o->fields, c, arg, &rc))
        return rc;
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
    default:
        return run_field_opt(o, c, arg);
    }
}

/**
 * The variables of --record "V,r,z" as a JSON array of distinct names out of V, r, z, y.
 * @return CLI_OK with *out set (new reference); CLI_EUSAGE after naming what is wrong;
 *         CLI_EIO when out of memory.
 */
static int parse_record(const char *spec, json_t **out)
{
    static const char *const names[] = {"V", "r", "z", "y"};
    json_t *vars = json_array();
    unsigned seen = 0;
    *out = NULL;
    if (!vars) goto oom;
    for (const char *p = spec;;) {
        size_t n = strcspn(p, ",");
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (n == 1 && p[0] == names[i][0]) k = i;
        if (k < 0 || (seen & (1u << k))) {
            cli_error("--record: %s '%.*s': give distinct variables out of V, r, z and y, "
                      "comma-separated (e.g. V,r,z)",
                      k < 0 ? "unknown variable" : "repeated variable", (int)n, p);
            json_decref(vars);
            return CLI_EUSAGE;
        }
        seen |= 1u << k;
        if (json_array_append_new(vars, json_string(names[k])) != 0) goto oom;
        if (!p[n]) break;
        p += n + 1;
    }
    *out = vars;
    return CLI_OK;
oom:
    json_decref(vars);
    cli_error("out of memory");
    return CLI_EIO;
}

/** Parse a whole non-negative index [p, p + n) of at most 10 digits; -1 when it is not one. */
static long long parse_index(const char *p, size_t n)
{
    if (n == 0 || n > 10) return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = 10 * v + (p[i] - '0');
    }
    return v <= INT32_MAX ? v : -1;
}

/**
 * The indices of --neurons "0:100,250" (indices and half-open ranges A:B, in the order
 * given) as a JSON array. The server checks that they are distinct and below N.
 * @return CLI_OK with *out set (new reference); CLI_EUSAGE after naming the bad item or
 *         when there are more than NEURONS_MAX; CLI_EIO when out of memory.
 */
static int parse_neurons(const char *spec, json_t **out)
{
    json_t *idx = json_array();
    size_t count = 0;
    *out = NULL;
    if (!idx) goto oom;
    for (const char *p = spec;;) {
        size_t n = strcspn(p, ",");
        const char *colon = memchr(p, ':', n);
        long long a = parse_index(p, colon ? (size_t)(colon - p) : n);
        long long b = colon ? parse_index(colon + 1, n - (size_t)(colon - p) - 1) : a + 1;
        if (a < 0 || b <= a) {
            cli_error("--neurons: '%.*s' is not an index or a range A:B with A < B (e.g. "
                      "0:100,250)",
                      (int)n, p);
            json_decref(idx);
            return CLI_EUSAGE;
        }
        if ((count += (size_t)(b - a)) > NEURONS_MAX) {
            cli_error("--neurons: more than %d neurons", NEURONS_MAX);
            json_decref(idx);
            return CLI_EUSAGE;
        }
        for (long long k = a; k < b; k++)
            if (json_array_append_new(idx, json_integer(k)) != 0) goto oom;
        if (!p[n]) break;
        p += n + 1;
    }
    *out = idx;
    return CLI_OK;
oom:
    json_decref(idx);
    cli_error("out of memory");
    return CLI_EIO;
}

/** Put the --inputs file into @p run. */
static int apply_inputs(const char *path, json_t *run)
{
    json_t *in = NULL;
    int rc;
    if (cli_ends_with(path, ".json")) {
        if ((rc = cli_load_json(path, 1, &in, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_array(in) && !json_is_object(in)) {
            cli_error("%s: inputs must be a JSON array (T x n_in or B x T x n_in) or a binary "
                      "array {\"dtype\", \"shape\", \"base64\"}",
                      path);
            json_decref(in);
            return CLI_EINVALID;
        }
    } else if (cli_ends_with(path, ".npy") || cli_ends_with(path, ".csv")) {
        if ((rc = cli_inputs_file(path, 0, 1, &in)) != CLI_OK) return rc;
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

/** Print "out of memory". @return CLI_EIO. */
static int oom(void)
{
    cli_error("out of memory");
    return CLI_EIO;
}

/**
 * --steps and --trials: a run without input of T steps and B trials ({"steps", "trials"}),
 * or those members of the run file's. @return CLI_OK; CLI_EUSAGE when the run has an input
 * array (which fixes T and B) or --trials comes without any steps; CLI_EIO (out of memory).
 */
static int apply_steps_trials(const submit_opts *o, json_t *run)
{
    if (o->steps <= 0 && o->trials <= 0) return CLI_OK;
    json_t *in = json_object_get(run, "inputs");
    const char *opt = o->steps > 0 ? "--steps" : "--trials";
    if (in && !(json_is_object(in) && json_object_get(in, "steps"))) {
        cli_error("runs submit: %s is for runs without input, but %s gives inputs (their shape "
                  "B x T x n_in fixes T and B)",
                  opt, o->inputs ? o->inputs : o->run_file);
        return CLI_EUSAGE;
    }
    if (!in && o->steps <= 0) {
        cli_error("runs submit: --trials is for runs without input: give --steps T as well");
        return CLI_EUSAGE;
    }
    if (!in) {
        in = json_pack("{s:I, s:I}", "steps", (json_int_t)o->steps, "trials",
                       (json_int_t)(o->trials > 0 ? o->trials : 1));
        return json_object_set_new(run, "inputs", in) != 0 ? oom() : CLI_OK;
    }
    if (o->steps > 0 && json_object_set_new(in, "steps", json_integer(o->steps)) != 0) return oom();
    if (o->trials > 0 && json_object_set_new(in, "trials", json_integer(o->trials)) != 0)
        return oom();
    return CLI_OK;
}

/**
 * --record, --every and --neurons: members of the run's "record" (created when absent; the
 * run file's other members stay). @return CLI_OK; CLI_EUSAGE for a bad list; CLI_EIO.
 */
static int apply_record(const submit_opts *o, json_t *run)
{
    if (!o->record && o->every <= 0 && !o->neurons) return CLI_OK;
    json_t *rec = json_object_get(run, "record");
    if (!json_is_object(rec)) {
        if (json_object_set_new(run, "record", json_object()) != 0) return oom();
        rec = json_object_get(run, "record");
    }
    json_t *v;
    int rc;
    if (o->record) {
        if ((rc = parse_record(o->record, &v)) != CLI_OK) return rc;
        if (json_object_set_new(rec, "vars", v) != 0) return oom();
    }
    if (o->every > 0 && json_object_set_new(rec, "every", json_integer(o->every)) != 0)
        return oom();
    if (o->neurons && strcmp(o->neurons, "all") == 0) {
        json_object_del(rec, "neurons");
    } else if (o->neurons) {
        if ((rc = parse_neurons(o->neurons, &v)) != CLI_OK) return rc;
        if (json_object_set_new(rec, "neurons", v) != 0) return oom();
    }
    return CLI_OK;
}

/** --dt, --seed, --integrator, --precision, --V0 and --time-limit. @return CLI_OK or CLI_EIO. */
static int apply_scalars(const submit_opts *o, json_t *run)
{
    if ((o->has_dt && json_object_set_new(run, "dt", json_real(o->dt)) != 0) ||
        (o->has_seed && json_object_set_new(run, "seed", json_integer(o->seed)) != 0) ||
        (o->integrator &&
         json_object_set_new(run, "integrator", json_string(o->integrator)) != 0) ||
        (o->precision && json_object_set_new(run, "precision", json_string(o->precision)) != 0) ||
        (o->has_v0 && json_object_set_new(run, "V0", json_real(o->v0)) != 0) ||
        (o->time_limit > 0 &&
         json_object_set_new(run, "time_limit", json_real(o->time_limit)) != 0))
        return oom();
    return CLI_OK;
}

/**
 * --model / --model-file: "model_id" or the inline "model", replacing the other.
 * @return CLI_OK; CLI_EUSAGE when neither the options nor the run file give a model;
 *         CLI_EINVALID / CLI_EIO for a model file that is not a JSON object or unreadable.
 */
static int apply_model(const submit_opts *o, json_t *run)
{
    if (o->model_id) {
        json_object_del(run, "model");
        return json_object_set_new(run, "model_id", json_string(o->model_id)) != 0 ? oom() : CLI_OK;
    }
    if (o->model_file) {
        json_t *m;
        int rc;
        if ((rc = cli_load_json(o->model_file, 1, &m, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_object(m)) {
            json_decref(m);
            cli_error("%s: a model must be a JSON object", o->model_file);
            return CLI_EINVALID;
        }
        json_object_del(run, "model_id");
        return json_object_set_new(run, "model", m) != 0 ? oom() : CLI_OK;
    }
    if (!json_object_get(run, "model_id") && !json_object_get(run, "model")) {
        cli_error("runs submit: give the model: --model ID (a stored model) or --model-file "
                  "FILE (try 'eirnn runs submit --help')");
        return CLI_EUSAGE;
    }
    return CLI_OK;
}

/**
 * The run document of the options: the run file (else {}), each option overriding the field
 * it names. @return CLI_OK with *out set (new reference), or an exit code (message printed).
 */
static int build_run(const submit_opts *o, json_t **out)
{
    *out = NULL;
    json_t *run = NULL;
    int rc;
    if (o->run_file) {
        if ((rc = cli_load_json(o->run_file, 1, &run, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_object(run)) {
            cli_error("%s: a run must be a JSON object", o->run_file);
            json_decref(run);
            return CLI_EINVALID;
        }
    } else if (!(run = json_object())) {
        return oom();
    }
    if ((o->inputs && (rc = apply_inputs(o->inputs, run)) != CLI_OK) ||
        (rc = apply_steps_trials(o, run)) != CLI_OK || (rc = apply_record(o, run)) != CLI_OK ||
        (rc = apply_scalars(o, run)) != CLI_OK ||
        (rc = cli_run_fields_apply(&o->fields, run)) != CLI_OK ||
        (rc = apply_model(o, run)) != CLI_OK) {
        json_decref(run);
        return rc;
    }
    *out = run;
    return CLI_OK;
}

/** The rest of `runs submit` once the options are parsed. @return the exit code. */
static int submit(const submit_opts *o)
{
    int rc;
    if (o->model_id && o->model_file) {
        cli_error("runs submit: give --model or --model-file, not both");
        return CLI_EUSAGE;
    }
    if (o->inputs && (o->steps > 0 || o->trials > 0)) {
        cli_error("runs submit: %s is for runs without input; --inputs %s fixes T and B",
                  o->steps > 0 ? "--steps" : "--trials", o->inputs);
        return CLI_EUSAGE;
    }
    if (o->has_v0 && o->fields.v0) {
        cli_error("runs submit: give --V0 or --V0-from, not both");
        return CLI_EUSAGE;
    }
    if (o->job.w.timeout > 0 && !o->job.wait) {
        cli_error("runs submit: --timeout needs --wait");
        return CLI_EUSAGE;
    }
    json_t *run;
    if ((rc = build_run(o, &run)) != CLI_OK) return rc;
    size_t len;
    char *body = cli_dump(run, &len);
    json_decref(run);
    if (!body) return CLI_EIO;
    cli_http *h = cli_http_open(&rc);
    if (!h) {
        free(body);
        return rc;
    }
    rc = cli_job_submit(h, &cli_run_job_kind, body, len, o->job.key, o->job.wait, &o->job.w);
    free(body);
    cli_http_close(h);
    return out_finish(rc);
}

int cli_runs_submit(int argc, char **argv)
{
    static const struct option lo[] = {
        CLI_CONN_LONGOPTS,
        {"model", required_argument, NULL, 'm'},
        {"model-file", required_argument, NULL, 'f'},
        {"run-file", required_argument, NULL, 'r'},
        {"inputs", required_argument, NULL, 'i'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"dt", required_argument, NULL, OPT_DT},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"trials", required_argument, NULL, OPT_TRIALS},
        {"integrator", required_argument, NULL, OPT_INTEGRATOR},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"V0", required_argument, NULL, OPT_V0},
        {"record", required_argument, NULL, OPT_RECORD},
        {"every", required_argument, NULL, OPT_EVERY},
        {"neurons", required_argument, NULL, OPT_NEURONS},
        {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
        {"segment", required_argument, NULL, CLI_RUN_OPT_SEGMENT},
        {"input-noise", required_argument, NULL, CLI_RUN_OPT_INPUT_NOISE},
        {"V0-from", required_argument, NULL, CLI_RUN_OPT_V0_FROM},
        {"label", required_argument, NULL, CLI_RUN_OPT_LABEL},
        {"metrics-window", required_argument, NULL, CLI_RUN_OPT_WINDOW},
        {"settle", required_argument, NULL, CLI_RUN_OPT_SETTLE},
        {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"idempotency-key", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    submit_opts o;
    memset(&o, 0, sizeof o);
    int pos;
    int rc = cli_run_fields_init(&o.fields);
    if (rc != CLI_OK) return rc;
    rc = cli_parse(argc, argv, "runs submit", "m:f:r:i:wt:k:q", lo, submit_help, submit_opt, &o, 0,
                   0, &pos);
    if (rc == CLI_OK) rc = submit(&o);
    cli_run_fields_free(&o.fields);
    return rc < 0 ? CLI_OK : rc;
}
