/**
 * @file cmd_analyze.c
 * @brief `eirnn analyze KIND ...`: build an analysis request (docs/ANALYSIS.md) from options or
 *        a request file, POST it to /v1/analyses and, with --wait, follow it to its end, print
 *        its summary and download its result arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analyses.h"
#include "cmd_runs.h"
#include "eir_npy.h"
#include "files.h"

static const char analyze_help[] =
    "usage: eirnn analyze KIND (--model ID | -f REQUEST.json) [options] [--wait [-o DIR]]\n"
    "\n"
    "Submit an analysis of a stored model to eirnnd (POST /v1/analyses). KIND is spectrum,\n"
    "fixed_points, lyapunov or activity (docs/ANALYSIS.md). Options build the request;\n"
    "-f takes a whole request file, and options given with it replace its members.\n"
    "\n"
    "what and where:\n"
    "  -m, --model ID      the stored model (activity takes it from --run)\n"
    "      --x LIST        constant input, n_in numbers: 1,0 (default zeros)\n"
    "spectrum:\n"
    "      --of W|M|jacobian   the matrix (default jacobian, which needs a state: --at-...)\n"
    "      --at-run RUN        the Jacobian at a run's recorded state, with --trial B\n"
    "                          (default 0) and --step S (default -1: the last recorded)\n"
    "      --at-v FILE.npy     ... at the state V in a .npy file of N numbers\n"
    "      --at-analysis ID    ... at fixed point --index K (default 0) of a fixed_points\n"
    "                          analysis\n"
    "      --eigenvectors      also the eigenvectors\n"
    "fixed_points:\n"
    "      --starts N          N random starts (--seed S, --scale X)\n"
    "      --run RUN           also start from a run's state (--trial B, --step S)\n"
    "      --max-iter N, --tol X   Newton iterations per start, tolerance on |dV/dt|\n"
    "      --slow-points       report slow points of the starts that do not converge\n"
    "lyapunov:\n"
    "      --k K  --dt DT  --steps T  --transient T0  --seed S\n"
    "activity:\n"
    "      --run RUN           the finished run whose recorded activity is analysed\n"
    "      --var r|V           which variable (default r)\n"
    "      --window A:B        recorded rows A to B-1 (default all)\n"
    "      --no-balance        skip the E/I balance index\n"
    "\n"
    "submitting:\n"
    "  -f, --request FILE  the request as JSON ('-': standard input)\n"
    "      --priority N, --time-limit S, --threads N   as for runs\n"
    "  -k, --idempotency-key K   retrying with the same key submits once\n"
    "  -w, --wait          wait for the end (progress bar on stderr), print the summary\n"
    "  -t, --timeout S     with --wait: give up waiting after S seconds (exit 8)\n"
    "  -o, --output DIR    with --wait: download every result as DIR/NAME.npy\n"
    "  -q, --quiet         print only the id\n"
    "  -n, --dry-run       print the request and send nothing\n" CLI_CONN_HELP "\n"
    "Exit codes: 3 for a request the server refuses (400/422, naming the field); with --wait\n"
    "0 succeeded, 6 cancelled, 7 failed, 8 still running at --timeout.\n";

/* The kinds, as bits: which options belong to which kind. */
enum { K_SPECTRUM = 1, K_FIXED = 2, K_LYAP = 4, K_ACTIVITY = 8, K_ALL = 15 };
static const char *const kind_names[] = {"spectrum", "fixed_points", "lyapunov", "activity"};

enum {
    OPT_X = CLI_OPT_OWN,
    OPT_OF,
    OPT_AT_RUN,
    OPT_AT_V,
    OPT_AT_ANALYSIS,
    OPT_INDEX,
    OPT_TRIAL,
    OPT_STEP,
    OPT_EIGENVECTORS,
    OPT_STARTS,
    OPT_SEED,
    OPT_SCALE,
    OPT_RUN,
    OPT_MAX_ITER,
    OPT_TOL,
    OPT_SLOW,
    OPT_K,
    OPT_DT,
    OPT_STEPS,
    OPT_TRANSIENT,
    OPT_VAR,
    OPT_WINDOW,
    OPT_NO_BALANCE,
    OPT_PRIORITY,
    OPT_TIME_LIMIT,
    OPT_THREADS,
    OPT_END
};

/* The kinds each option is for (indexed by code - CLI_OPT_OWN); 0 = any. */
static const int opt_kinds[OPT_END - CLI_OPT_OWN] = {
    [OPT_OF - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_AT_RUN - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_AT_V - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_AT_ANALYSIS - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_INDEX - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_TRIAL - CLI_OPT_OWN] = K_SPECTRUM | K_FIXED,
    [OPT_STEP - CLI_OPT_OWN] = K_SPECTRUM | K_FIXED,
    [OPT_EIGENVECTORS - CLI_OPT_OWN] = K_SPECTRUM,
    [OPT_STARTS - CLI_OPT_OWN] = K_FIXED,
    [OPT_SEED - CLI_OPT_OWN] = K_FIXED | K_LYAP,
    [OPT_SCALE - CLI_OPT_OWN] = K_FIXED,
    [OPT_RUN - CLI_OPT_OWN] = K_FIXED | K_ACTIVITY,
    [OPT_MAX_ITER - CLI_OPT_OWN] = K_FIXED,
    [OPT_TOL - CLI_OPT_OWN] = K_FIXED,
    [OPT_SLOW - CLI_OPT_OWN] = K_FIXED,
    [OPT_K - CLI_OPT_OWN] = K_LYAP,
    [OPT_DT - CLI_OPT_OWN] = K_LYAP,
    [OPT_STEPS - CLI_OPT_OWN] = K_LYAP,
    [OPT_TRANSIENT - CLI_OPT_OWN] = K_LYAP,
    [OPT_VAR - CLI_OPT_OWN] = K_ACTIVITY,
    [OPT_WINDOW - CLI_OPT_OWN] = K_ACTIVITY,
    [OPT_NO_BALANCE - CLI_OPT_OWN] = K_ACTIVITY,
};

typedef struct analyze_opts {
    const char *model, *request, *x, *of, *at_run, *at_v, *at_analysis, *run, *var, *window;
    long long index, trial, step, starts, seed, max_iter, k, steps, transient, priority, threads;
    double scale, tol, dt, time_limit;
    int has_index, has_trial, has_step, has_seed, has_scale, has_max_iter, has_tol, has_k;
    int has_dt, has_steps, has_transient, has_priority, has_time_limit, has_threads;
    int eigenvectors, slow, no_balance, dry_run;
    cli_job_submit_opts job;         /* --idempotency-key, --wait, --timeout, -o, -q */
    int used[OPT_END - CLI_OPT_OWN]; /* which own options were given, for the kind check */
} analyze_opts;

/* Numeric options: parse into their field and mark them given. */
static int analyze_number_opt(analyze_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_INDEX:
        o->has_index = 1;
        return cli_parse_int("--index", arg, 0, 1000000000, &o->index);
    case OPT_TRIAL:
        o->has_trial = 1;
        return cli_parse_int("--trial", arg, 0, 1000000000, &o->trial);
    case OPT_STEP:
        o->has_step = 1;
        return cli_parse_int("--step", arg, -(1LL << 53), 1LL << 53, &o->step);
    case OPT_STARTS:
        return cli_parse_int("--starts", arg, 1, 1000000, &o->starts);
    case OPT_SEED:
        o->has_seed = 1;
        return cli_parse_int("--seed", arg, 0, (1LL << 53), &o->seed);
    case OPT_SCALE:
        o->has_scale = 1;
        return cli_parse_number("--scale", arg, 1, &o->scale);
    case OPT_MAX_ITER:
        o->has_max_iter = 1;
        return cli_parse_int("--max-iter", arg, 1, 1000000, &o->max_iter);
    case OPT_TOL:
        o->has_tol = 1;
        return cli_parse_number("--tol", arg, 1, &o->tol);
    case OPT_K:
        o->has_k = 1;
        return cli_parse_int("--k", arg, 1, 1000000, &o->k);
    case OPT_DT:
        o->has_dt = 1;
        return cli_parse_number("--dt", arg, 1, &o->dt);
    case OPT_STEPS:
        o->has_steps = 1;
        return cli_parse_int("--steps", arg, 1, 1LL << 53, &o->steps);
    case OPT_TRANSIENT:
        o->has_transient = 1;
        return cli_parse_int("--transient", arg, 0, 1LL << 53, &o->transient);
    case OPT_PRIORITY:
        o->has_priority = 1;
        return cli_parse_int("--priority", arg, -1000000, 1000000, &o->priority);
    case OPT_THREADS:
        o->has_threads = 1;
        return cli_parse_int("--threads", arg, 1, 1024, &o->threads);
    case OPT_TIME_LIMIT:
        o->has_time_limit = 1;
        return cli_parse_number("--time-limit", arg, 1, &o->time_limit);
    default:
        return CLI_EUSAGE;
    }
}

static int analyze_opt(void *ctx, int c, const char *arg)
{
    analyze_opts *o = ctx;
    if (c >= CLI_OPT_OWN && c < OPT_END) o->used[c - CLI_OPT_OWN] = 1;
    int rc;
    if (cli_job_submit_opt(&o->job, c, arg, &rc)) return rc;
    switch (c) {
    case 'm':
        o->model = arg;
        return CLI_OK;
    case 'f':
        o->request = arg;
        return CLI_OK;
    case 'n':
        o->dry_run = 1;
        return CLI_OK;
    case OPT_X:
        o->x = arg;
        return CLI_OK;
    case OPT_OF:
        if (strcmp(arg, "W") && strcmp(arg, "M") && strcmp(arg, "jacobian")) {
            cli_error("--of must be W, M or jacobian, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->of = arg;
        return CLI_OK;
    case OPT_AT_RUN:
        o->at_run = arg;
        return CLI_OK;
    case OPT_AT_V:
        o->at_v = arg;
        return CLI_OK;
    case OPT_AT_ANALYSIS:
        o->at_analysis = arg;
        return CLI_OK;
    case OPT_EIGENVECTORS:
        o->eigenvectors = 1;
        return CLI_OK;
    case OPT_RUN:
        o->run = arg;
        return CLI_OK;
    case OPT_SLOW:
        o->slow = 1;
        return CLI_OK;
    case OPT_VAR:
        if (strcmp(arg, "r") && strcmp(arg, "V")) {
            cli_error("--var must be r or V, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->var = arg;
        return CLI_OK;
    case OPT_WINDOW:
        o->window = arg;
        return CLI_OK;
    case OPT_NO_BALANCE:
        o->no_balance = 1;
        return CLI_OK;
    default:
        return analyze_number_opt(o, c, arg);
    }
}

/* The numbers of "1,0,-2.5" as a JSON array in *out. */
static int number_list(const char *opt, const char *s, json_t **out)
{
    json_t *a = json_array();
    const char *p = s;
    while (a && *p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || v != v || v - v != 0) {
            cli_error("%s must be numbers separated by commas, not '%s'", opt, s);
            json_decref(a);
            return CLI_EUSAGE;
        }
        json_array_append_new(a, json_real(v));
        p = *end ? end + 1 : end;
    }
    if (!a) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    *out = a;
    return CLI_OK;
}

/* The state in the .npy file @p path (N numbers, any shape with one axis) as a JSON array. */
static int state_file(const char *path, json_t **out)
{
    eir_npy_array a = {0};
    eir_npy_error ne;
    eir_npy_status st = eir_npy_read_file(path, 10u << 20, &a, &ne);
    if (st != EIR_NPY_OK) {
        cli_error("%s", ne.message);
        return st == EIR_NPY_EFORMAT ? CLI_EINVALID : CLI_EIO;
    }
    if (a.ndim != 1) {
        cli_error("%s: --at-v needs a vector of N numbers, not an array of %d dimensions", path,
                  a.ndim);
        eir_npy_array_free(&a);
        return CLI_EINVALID;
    }
    json_t *v = json_array();
    for (size_t i = 0; v && i < a.count; i++)
        if (json_array_append_new(v, json_real(a.data[i]))) {
            json_decref(v);
            v = NULL;
        }
    eir_npy_array_free(&a);
    if (!v) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    *out = v;
    return CLI_OK;
}

/* {"run_id", "trial", "step"} from RUN and --trial/--step (defaults 0 and -1). */
static json_t *run_state(const char *run, const analyze_opts *o)
{
    return json_pack("{s:s, s:I, s:I}", "run_id", run, "trial",
                     (json_int_t)(o->has_trial ? o->trial : 0), "step",
                     (json_int_t)(o->has_step ? o->step : -1));
}

/* "A:B" of --window as {"from": A, "to": B}; either end may be left out. */
static int window_of(const char *s, json_t **out)
{
    const char *colon = strchr(s, ':');
    json_t *w = json_object();
    char *end;
    if (!w) return CLI_EIO;
    if (colon && colon != s) {
        long long a = strtoll(s, &end, 10);
        if (end != colon || a < 0) goto bad;
        json_object_set_new(w, "from", json_integer(a));
    }
    if (colon && colon[1]) {
        long long b = strtoll(colon + 1, &end, 10);
        if (*end || b < 0) goto bad;
        json_object_set_new(w, "to", json_integer(b));
    }
    if (!colon) goto bad;
    *out = w;
    return CLI_OK;
bad:
    json_decref(w);
    cli_error("--window must be A:B (recorded rows A to B-1; either may be left out), not '%s'", s);
    return CLI_EUSAGE;
}

/* Set @p key of @p req to @p v (stolen); @return CLI_EIO when out of memory. */
static int put(json_t *req, const char *key, json_t *v)
{
    if (!v || json_object_set_new(req, key, v)) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    return CLI_OK;
}

/* The "at" member of a spectrum request, when an --at-... option was given. */
static int spectrum_at(const analyze_opts *o, json_t *req)
{
    int n = !!o->at_run + !!o->at_v + !!o->at_analysis, rc;
    if (n > 1) {
        cli_error("analyze: give one of --at-run, --at-v and --at-analysis");
        return CLI_EUSAGE;
    }
    if ((o->has_trial || o->has_step) && !o->at_run) {
        cli_error("analyze: --trial and --step go with --at-run (spectrum) or --run");
        return CLI_EUSAGE;
    }
    if (o->has_index && !o->at_analysis) {
        cli_error("analyze: --index goes with --at-analysis");
        return CLI_EUSAGE;
    }
    if (o->at_run) return put(req, "at", run_state(o->at_run, o));
    if (o->at_analysis)
        return put(req, "at",
                   json_pack("{s:s, s:I}", "analysis_id", o->at_analysis, "index",
                             (json_int_t)(o->has_index ? o->index : 0)));
    if (o->at_v) {
        json_t *v;
        if ((rc = state_file(o->at_v, &v)) != CLI_OK) return rc;
        return put(req, "at", json_pack("{s:o}", "V", v));
    }
    return CLI_OK;
}

/* The members of a fixed_points request given by options. */
static int fixed_points_members(const analyze_opts *o, json_t *req)
{
    if ((o->has_trial || o->has_step) && !o->run) {
        cli_error("analyze: --trial and --step go with --run");
        return CLI_EUSAGE;
    }
    if (o->starts > 0 || o->run || o->has_seed || o->has_scale) {
        json_t *starts = json_object(), *random = json_object();
        if (!starts || !random) {
            json_decref(starts);
            json_decref(random);
            return put(req, "starts", NULL);
        }
        if (o->starts > 0 || o->has_seed || o->has_scale) {
            if (o->starts > 0) json_object_set_new(random, "count", json_integer(o->starts));
            if (o->has_seed) json_object_set_new(random, "seed", json_integer(o->seed));
            if (o->has_scale) json_object_set_new(random, "scale", json_real(o->scale));
            json_object_set(starts, "random", random);
        }
        json_decref(random);
        if (o->run) json_object_set_new(starts, "runs", json_pack("[o]", run_state(o->run, o)));
        if (put(req, "starts", starts)) return CLI_EIO;
    }
    if (o->has_max_iter && put(req, "max_iter", json_integer(o->max_iter))) return CLI_EIO;
    if (o->has_tol && put(req, "tol", json_real(o->tol))) return CLI_EIO;
    if (o->slow && put(req, "slow_points", json_true())) return CLI_EIO;
    return CLI_OK;
}

/* The members of the request that the options of kind @p kind give. */
static int kind_members(const analyze_opts *o, int kind, json_t *req)
{
    int rc = CLI_OK;
    switch (kind) {
    case K_SPECTRUM:
        if (o->of && (rc = put(req, "of", json_string(o->of)))) return rc;
        if (o->eigenvectors && (rc = put(req, "eigenvectors", json_true()))) return rc;
        return spectrum_at(o, req);
    case K_FIXED:
        return fixed_points_members(o, req);
    case K_LYAP:
        if (o->has_k) rc |= put(req, "k", json_integer(o->k));
        if (o->has_dt) rc |= put(req, "dt", json_real(o->dt));
        if (o->has_steps) rc |= put(req, "steps", json_integer(o->steps));
        if (o->has_transient) rc |= put(req, "transient", json_integer(o->transient));
        if (o->has_seed) rc |= put(req, "seed", json_integer(o->seed));
        return rc ? CLI_EIO : CLI_OK;
    default: /* activity */
        if (o->run && (rc = put(req, "run_id", json_string(o->run)))) return rc;
        if (o->var && (rc = put(req, "var", json_string(o->var)))) return rc;
        if (o->no_balance && (rc = put(req, "balance", json_false()))) return rc;
        if (o->window) {
            json_t *w;
            if ((rc = window_of(o->window, &w)) != CLI_OK) return rc;
            return put(req, "window", w);
        }
        return CLI_OK;
    }
}

/* The kind bit of @p name, or 0 after an error line. */
static int kind_bit(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, kind_names[i]) == 0) return 1 << i;
    cli_error("analyze: KIND must be spectrum, fixed_points, lyapunov or activity, not '%s'", name);
    return 0;
}

/* Options given that do not belong to kind @p kind: an error naming the first. */
static int check_kind_options(const analyze_opts *o, int kind, const struct option *lo)
{
    for (const struct option *p = lo; p->name; p++) {
        int c = p->val;
        if (c < CLI_OPT_OWN || c >= OPT_END || !o->used[c - CLI_OPT_OWN]) continue;
        int kinds = opt_kinds[c - CLI_OPT_OWN];
        if (kinds && !(kinds & kind)) {
            cli_error("analyze: --%s is not an option of %s (try 'eirnn analyze --help')", p->name,
                      kind_names[__builtin_ctz((unsigned)kind)]);
            return CLI_EUSAGE;
        }
    }
    return CLI_OK;
}

/* The request: the file's (-f) or an empty object, then the options' members. */
static int build_request(const analyze_opts *o, const char *kind_arg, const struct option *lo,
                         json_t **out)
{
    json_t *req = NULL;
    int rc;
    if (o->request) {
        if ((rc = cli_load_json(o->request, 1, &req, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_object(req)) {
            cli_error("%s: an analysis request is a JSON object", o->request);
            json_decref(req);
            return CLI_EINVALID;
        }
    } else if (!(req = json_object())) {
        return put(NULL, "", NULL);
    }
    if (kind_arg && (rc = put(req, "kind", json_string(kind_arg)))) goto fail;
    const char *kname = json_string_value(json_object_get(req, "kind"));
    int kind = kname ? kind_bit(kname) : 0;
    if (!kname) cli_error("analyze: KIND is missing (an argument, or \"kind\" in the request)");
    if (!kind) {
        rc = CLI_EUSAGE;
        goto fail;
    }
    if ((rc = check_kind_options(o, kind, lo))) goto fail;
    if (o->model && (rc = put(req, "model_id", json_string(o->model)))) goto fail;
    if (!o->model && !o->request && kind != K_ACTIVITY) {
        cli_error("analyze: --model ID (or -f REQUEST.json) is needed");
        rc = CLI_EUSAGE;
        goto fail;
    }
    if (o->x) {
        json_t *x;
        if ((rc = number_list("--x", o->x, &x)) || (rc = put(req, "x", x))) goto fail;
    }
    if (o->has_priority && (rc = put(req, "priority", json_integer(o->priority)))) goto fail;
    if (o->has_time_limit && (rc = put(req, "time_limit", json_real(o->time_limit)))) goto fail;
    if (o->has_threads && (rc = put(req, "threads", json_integer(o->threads)))) goto fail;
    if ((rc = kind_members(o, kind, req))) goto fail;
    *out = req;
    return CLI_OK;
fail:
    json_decref(req);
    return rc;
}

/* POST the request and print or follow the answer. */
static int submit(const analyze_opts *o, const char *body, size_t len)
{
    int rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    rc = cli_job_submit(h, &cli_analysis_job_kind, body, len, o->job.key, o->job.wait, &o->job.w);
    cli_http_close(h);
    return rc;
}

int cli_analyze(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"model", required_argument, NULL, 'm'},
                                       {"request", required_argument, NULL, 'f'},
                                       {"x", required_argument, NULL, OPT_X},
                                       {"of", required_argument, NULL, OPT_OF},
                                       {"at-run", required_argument, NULL, OPT_AT_RUN},
                                       {"at-v", required_argument, NULL, OPT_AT_V},
                                       {"at-analysis", required_argument, NULL, OPT_AT_ANALYSIS},
                                       {"index", required_argument, NULL, OPT_INDEX},
                                       {"trial", required_argument, NULL, OPT_TRIAL},
                                       {"step", required_argument, NULL, OPT_STEP},
                                       {"eigenvectors", no_argument, NULL, OPT_EIGENVECTORS},
                                       {"starts", required_argument, NULL, OPT_STARTS},
                                       {"seed", required_argument, NULL, OPT_SEED},
                                       {"scale", required_argument, NULL, OPT_SCALE},
                                       {"run", required_argument, NULL, OPT_RUN},
                                       {"max-iter", required_argument, NULL, OPT_MAX_ITER},
                                       {"tol", required_argument, NULL, OPT_TOL},
                                       {"slow-points", no_argument, NULL, OPT_SLOW},
                                       {"k", required_argument, NULL, OPT_K},
                                       {"dt", required_argument, NULL, OPT_DT},
                                       {"steps", required_argument, NULL, OPT_STEPS},
                                       {"transient", required_argument, NULL, OPT_TRANSIENT},
                                       {"var", required_argument, NULL, OPT_VAR},
                                       {"window", required_argument, NULL, OPT_WINDOW},
                                       {"no-balance", no_argument, NULL, OPT_NO_BALANCE},
                                       {"priority", required_argument, NULL, OPT_PRIORITY},
                                       {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
                                       {"threads", required_argument, NULL, OPT_THREADS},
                                       {"idempotency-key", required_argument, NULL, 'k'},
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {NULL, 0, NULL, 0}};
    analyze_opts o;
    memset(&o, 0, sizeof o);
    int pos;
    int rc = cli_parse(argc, argv, "analyze", "m:f:k:wt:o:qn", lo, analyze_help, analyze_opt, &o, 0,
                       1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if ((o.job.w.timeout > 0 || o.job.w.out) && !o.job.wait) {
        cli_error("analyze: %s needs --wait", o.job.w.out ? "-o" : "--timeout");
        return CLI_EUSAGE;
    }
    json_t *req;
    if ((rc = build_request(&o, pos < argc ? argv[pos] : NULL, lo, &req)) != CLI_OK) return rc;
    size_t len;
    char *body = cli_dump(req, &len);
    json_decref(req);
    if (!body) return CLI_EIO;
    if (o.dry_run)
        printf("%s\n", body);
    else
        rc = submit(&o, body, len);
    free(body);
    return out_finish(rc);
}
