/* `eirnn simulate`: run a model offline, write DIR/<var>.npy and DIR/meta.json. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eir_clock.h"
#include "cli.h"
#include "eir.h"
#include "eir_json.h"
#include "eir_csv.h"
#include "eir_npy.h"
#include "eir_runner.h"
#include "files.h"

static const char simulate_help[] =
    "usage: eirnn simulate [MODEL.json] RUN.json -o DIR [--threads N] [--inputs FILE] "
    "[--quiet]\n"
    "\n"
    "Run a model offline and write one DIR/<var>.npy per recorded variable (shape\n"
    "B x T' x n, dtype of the run's precision) and DIR/meta.json (what ran, timings, summary).\n"
    "With a single file, RUN.json holds the model inline under \"model\".\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   output directory (created if missing; files in it are replaced)\n"
    "  -j, --threads N    worker threads, 1 to 256 (default: number of CPUs); each step is\n"
    "                     cut into fixed blocks of 64 trials x 256 cells that the threads\n"
    "                     share, so results are the same bytes whatever N is\n"
    "      --inputs FILE  take the run's inputs from FILE instead of RUN.json: .npy with\n"
    "                     shape T x n_in or B x T x n_in, or CSV (T rows of n_in numbers)\n"
    "  -q, --quiet        no progress line or summary on stderr\n"
    "  -h, --help         this help\n"
    "\n"
    "A run without \"seed\" on a noisy model (sigma > 0) gets a random seed, recorded in\n"
    "meta.json. SIGINT or SIGTERM stops the run and keeps only the rows computed (the\n"
    "outputs' time axis shrinks to them; meta.json's summary.truncated says so).\n"
    "exit codes: 0 ok, 1 I/O or internal error, 2 usage, 3 invalid model or run,\n"
    "            5 run diverged (outputs written), 6 cancelled (outputs written)\n";

/* ------------------------------------------------------------------------------------------ */

static volatile sig_atomic_t cancel_requested;

static void on_signal(int sig)
{
    (void)sig;
    cancel_requested = 1;
}

/** Progress line state; the callback may be called from several worker threads. */
typedef struct progress {
    int show;
    double start;
    double last;
    int printed;
    pthread_mutex_t lock;
} progress;

static int on_progress(void *ctx, int64_t done, int64_t total)
{
    progress *p = ctx;
    if (cancel_requested) return 1;
    if (p->show && pthread_mutex_trylock(&p->lock) == 0) {
        double t = eir_clock_mono();
        if (t - p->last >= 0.1 || done == total) {
            double pct = total > 0 ? 100.0 * (double)done / (double)total : 100.0;
            fprintf(stderr, "\r\033[Ksimulate: %5.1f%% (%lld/%lld steps, %.1f s)", pct,
                    (long long)done, (long long)total, t - p->start);
            fflush(stderr);
            p->last = t;
            p->printed = 1;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

/** Load a JSON object from @p path; prints the error and returns an exit code on failure. */
static int load_json(const char *path, const char *what, json_t **out)
{
    *out = NULL;
    json_t *j;
    int rc = cli_load_json(path, 0, &j, NULL, NULL);
    if (rc != CLI_OK) return rc;
    if (!json_is_object(j)) {
        cli_error("%s: the %s must be a JSON object", path, what);
        json_decref(j);
        return CLI_EINVALID;
    }
    *out = j;
    return CLI_OK;
}

/**
 * Replace run["inputs"] by the array in @p path (.npy, or CSV otherwise), as a binary array
 * object so that the run parser checks it like any other input.
 */
static int apply_inputs_file(const char *path, json_t *run, const eir_json_limits *lim)
{
    size_t maxv = lim->max_input_values > 0 ? (size_t)lim->max_input_values : 0;
    json_t *arr;
    int rc = cli_inputs_file(path, maxv, 0, &arr);
    if (rc != CLI_OK) return rc;
    if (json_object_set_new(run, "inputs", arr) != 0) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    return CLI_OK;
}

static char *join(const char *dir, const char *prefix, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s%s%s", dir, prefix, name, suffix);
    return s;
}

/** Rename the written @p tmp to @p path; on failure remove @p tmp and return CLI_EIO after
 *  printing why. */
static int rename_into_place(const char *tmp, const char *path)
{
    if (rename(tmp, path) != 0) {
        cli_error("%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return CLI_EIO;
    }
    return CLI_OK;
}

/** Write one recorded variable to DIR/<var>.npy through a temporary file and rename(). */
static int write_npy(const char *dir, const char *var, eir_precision prec, int ndim,
                     const int64_t *shape, const void *data)
{
    char *tmp = join(dir, ".", var, ".npy.tmp"), *path = join(dir, "", var, ".npy");
    int rc = CLI_OK;
    if (!tmp || !path) {
        cli_error("out of memory");
        rc = CLI_EIO;
        goto out;
    }
    eir_npy_error ne;
    if (eir_npy_write_file(tmp, prec == EIR_F32 ? EIR_NPY_F4 : EIR_NPY_F8, ndim, shape, data,
                           &ne) != EIR_NPY_OK) {
        cli_error("%s", ne.message);
        unlink(tmp);
        rc = CLI_EIO;
        goto out;
    }
    rc = rename_into_place(tmp, path);
out:
    free(tmp);
    free(path);
    return rc;
}

/** Write @p meta pretty-printed with sorted keys to DIR/meta.json (temporary file + rename). */
static int write_meta(const char *dir, const json_t *meta)
{
    char *tmp = join(dir, ".", "meta", ".json.tmp"), *path = join(dir, "", "meta", ".json");
    char *text = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    int rc = CLI_OK;
    if (!tmp || !path || !text) {
        cli_error("out of memory");
        rc = CLI_EIO;
        goto out;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cli_error("%s: cannot create: %s", tmp, strerror(errno));
        rc = CLI_EIO;
        goto out;
    }
    int bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    if (bad) {
        cli_error("%s: write failed: %s", tmp, strerror(errno));
        unlink(tmp);
        rc = CLI_EIO;
        goto out;
    }
    rc = rename_into_place(tmp, path);
out:
    free(text);
    free(tmp);
    free(path);
    return rc;
}

static void utc_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(buf, cap, "unknown");
}

/* ------------------------------------------------------------------------------------------ */

typedef struct sim_opts {
    const char *model_path; /* NULL when the run holds the model inline */
    const char *run_path;
    const char *out_dir;
    const char *inputs_path;
    int threads; /* 0 = default */
    int quiet;
} sim_opts;

static int parse_args(int argc, char **argv, sim_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 'j'},
        {"inputs", required_argument, NULL, 'i'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":o:j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out_dir = optarg;
            break;
        case 'j': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > EIR_PIPE_MAX_THREADS) {
                cli_error("simulate: --threads must be an integer from 1 to %d, not '%s'",
                          EIR_PIPE_MAX_THREADS, optarg);
                return CLI_EUSAGE;
            }
            o->threads = (int)v;
            break;
        }
        case 'i':
            o->inputs_path = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            fputs(simulate_help, stdout);
            return -1;
        case ':':
            cli_error("simulate: option '%s' needs a value (try 'eirnn simulate --help')",
                      argv[optind - 1]);
            return CLI_EUSAGE;
        default:
            cli_error("simulate: unknown option '%s' (try 'eirnn simulate --help')",
                      argv[optind - 1]);
            return CLI_EUSAGE;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) {
        cli_error("simulate: expected [MODEL.json] RUN.json, got %d file%s "
                  "(try 'eirnn simulate --help')",
                  npos, npos == 1 ? "" : "s");
        return CLI_EUSAGE;
    }
    if (npos == 2) {
        o->model_path = argv[optind];
        o->run_path = argv[optind + 1];
    } else {
        o->run_path = argv[optind];
    }
    if (!o->out_dir || !o->out_dir[0]) {
        cli_error("simulate: -o DIR is required (try 'eirnn simulate --help')");
        return CLI_EUSAGE;
    }
    return CLI_OK;
}

static const char *var_file_list(unsigned mask, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int v = 0; v < EIR_NVARS; v++)
        if (mask & (1u << v))
            n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s.npy, ",
                                  eir_var_name((eir_var)v));
    return buf;
}

/* eir_pipe_resolve_fn of the offline CLI: it has no store, so a "model_id" is refused with a
 * usage error naming what to do instead. */
static eir_status refuse_model_id(void *ctx, const char *model_id, eir_pipe_model *out,
                                  eir_error *err)
{
    (void)model_id;
    (void)out;
    *(int *)ctx = 1;
    return eir_error_set(err, EIR_EINVAL, "/model_id",
                         "offline simulate needs the model itself: give MODEL.json before "
                         "RUN.json, or put the model inline under \"model\"");
}

/** Report a failed eir_pipe_prepare() against the file to blame. @return the exit code. */
static int report_prepare(const sim_opts *o, eir_pipe_stage at, int model_id_refused,
                          const eir_error *err)
{
    if (model_id_refused) {
        cli_error("%s: %s: %s", o->run_path, err->field, err->message);
        return CLI_EUSAGE;
    }
    if (at == EIR_PIPE_SEED) {
        cli_error("%s", err->message);
        return CLI_EIO;
    }
    const char *file = o->run_path;
    if (at == EIR_PIPE_MODEL && o->model_path) file = o->model_path;
    if (at == EIR_PIPE_RUN && o->inputs_path && strncmp(err->field, "/inputs", 7) == 0)
        file = o->inputs_path;
    return cli_report(file, err);
}

/** Run, with a progress line on a terminal and SIGINT/SIGTERM as cancellation. */
static eir_status run_with_signals(eir_pipe *p, const sim_opts *o, eir_error *err)
{
    progress pr = {.show = !o->quiet && isatty(STDERR_FILENO)};
    pthread_mutex_init(&pr.lock, NULL);
    pr.start = pr.last = eir_clock_mono();
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    cancel_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    eir_status st = eir_pipe_run(p, on_progress, &pr, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (pr.printed) fputs("\r\033[K", stderr);
    pthread_mutex_destroy(&pr.lock);
    return st;
}

/** Write the outputs, then meta.json last: its presence means the directory is complete. */
static int write_outputs(const eir_pipe *p, const sim_opts *o)
{
    json_t *meta = eir_pipe_meta(p);
    if (!meta) {
        cli_error("out of memory building meta.json");
        return CLI_EIO;
    }
    int rc = CLI_OK;
    json_t *outputs = json_object_get(meta, "outputs");
    for (int i = 0; i < p->nout && rc == CLI_OK; i++) {
        const eir_pipe_output *a = &p->out[i];
        if ((rc = write_npy(o->out_dir, a->name, p->run->precision, 3, a->shape, a->data)) !=
            CLI_OK)
            break;
        char fname[16];
        snprintf(fname, sizeof fname, "%s.npy", a->name);
        json_object_set_new(json_object_get(outputs, a->name), "file", json_string(fname));
    }
    /* the final state V (B x N), kept by every run that integrated to its end */
    if (rc == CLI_OK && p->final.data) {
        rc = write_npy(o->out_dir, p->final.name, p->run->precision, 2, p->final.shape,
                       p->final.data);
        json_object_set_new(json_object_get(outputs, p->final.name), "file",
                            json_string("V_final.npy"));
    }
    if (rc == CLI_OK) {
        char created[32];
        utc_now(created, sizeof created);
        json_object_set_new(meta, "created", json_string(created));
        json_object_set_new(
            meta, "tool",
            json_pack("{s:s, s:s}", "name", "eirnn simulate", "version", EIRNN_VERSION));
        json_object_set_new(meta, "sources",
                            json_pack("{s:s?, s:s, s:s?}", "model", o->model_path, "run",
                                      o->run_path, "inputs", o->inputs_path));
        rc = write_meta(o->out_dir, meta);
    }
    json_decref(meta);
    return rc;
}

int cli_simulate(int argc, char **argv)
{
    sim_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;

    json_t *model_j = NULL, *run_j = NULL;
    eir_pipe *p = NULL;
    eir_error err;
    eir_error_clear(&err);
    eir_json_limits lim;
    eir_json_limits_default(&lim);

    eir_blas_single_threaded();

    /* Read: the JSON documents and an inputs file (the pipeline parses the rest). */
    double t_read0 = eir_clock_mono();
    if (o.model_path && (rc = load_json(o.model_path, "model", &model_j)) != CLI_OK) goto done;
    if ((rc = load_json(o.run_path, "run", &run_j)) != CLI_OK) goto done;
    if (o.model_path && json_object_get(run_j, "model")) {
        cli_error("%s: /model: the run holds a model inline and %s was given too; give one",
                  o.run_path, o.model_path);
        rc = CLI_EUSAGE;
        goto done;
    }
    if (o.inputs_path && (rc = apply_inputs_file(o.inputs_path, run_j, &lim)) != CLI_OK) goto done;
    double read_s = eir_clock_mono() - t_read0;

    /* The pipeline: model (from MODEL.json or inline), run, seed, threads. */
    int model_id_refused = 0;
    eir_pipe_config cfg = {.limits = &lim,
                           .model = model_j,
                           .resolve = refuse_model_id,
                           .resolve_ctx = &model_id_refused,
                           .threads = o.threads};
    eir_pipe_stage at;
    if (eir_pipe_prepare(run_j, &cfg, &p, &at, &err) != EIR_OK) {
        rc = report_prepare(&o, at, model_id_refused, &err);
        goto done;
    }
    p->parse_s += read_s;
    if ((rc = cli_make_dirs(o.out_dir)) != CLI_OK) goto done;

    eir_status st = run_with_signals(p, &o, &err);
    if (st != EIR_OK && st != EIR_ECANCELLED) {
        rc = cli_report(strcmp(err.field, "/threads") == 0 ? "--threads" : o.run_path, &err);
        goto done;
    }
    if ((rc = write_outputs(p, &o)) != CLI_OK) goto done;

    const eir_run_desc *d = p->run;
    const eir_run_result *res = &p->result;
    if (st == EIR_ECANCELLED) {
        cli_error("run cancelled after %lld of %lld steps; the %lld rows computed written to %s",
                  (long long)res->steps_done, (long long)d->T, (long long)res->rows_written,
                  o.out_dir);
        rc = CLI_ECANCELLED;
    } else if (res->diverged) {
        cli_error("run diverged at step %lld (trial %d): the state stopped being finite; "
                  "rows up to it written to %s",
                  (long long)res->diverged_step, res->diverged_trial, o.out_dir);
        rc = CLI_EDIVERGED;
    } else {
        rc = CLI_OK;
        if (res->unstable && !o.quiet)
            fprintf(stderr,
                    "eirnn: warning: euler step unstable: max(z)*dt = %g > 2; "
                    "use a smaller dt or exp_euler\n",
                    res->max_z_dt);
        if (!o.quiet) {
            char files[64];
            fprintf(stderr,
                    "eirnn: simulate: %d trial%s x %lld steps in %.3f s; wrote %sV_final.npy, "
                    "meta.json to %s\n",
                    d->B, d->B == 1 ? "" : "s", (long long)d->T, p->simulate_s,
                    var_file_list(d->record_mask, files, sizeof files), o.out_dir);
        }
    }

done:
    eir_pipe_free(p);
    json_decref(run_j);
    json_decref(model_j);
    return rc;
}
