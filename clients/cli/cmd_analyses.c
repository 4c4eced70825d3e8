/**
 * @file cmd_analyses.c
 * @brief `eirnn analyses get|show|list|wait|cancel|delete|results` (/v1/analyses) and the pieces
 *        `eirnn analyze` shares with them (cmd_analyses.h): printing a job, its outcome, and
 *        downloading its result arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_analyses.h"
#include "cmd_runs.h"
#include "files.h"

/* ------------------------------------------------------------------------------------------ */
/* A job: path, printing, outcome, download                                                   */
/* ------------------------------------------------------------------------------------------ */

const char *cli_analysis_path(cli_url *u, const char *id, const char *suffix)
{
    return cli_job_path(u, "analyses", id, suffix);
}

/* One summary member: numbers and strings as they are, short arrays and objects as compact
 * JSON, long arrays as their length (--json shows everything). */
static void print_summary_member(const char *key, const json_t *v, int first)
{
    char label[16];
    snprintf(label, sizeof label, "%s", first ? "summary" : "");
    if (json_is_array(v) && json_array_size(v) > 8) {
        out_kv(label, "%s: [%zu items]", key, json_array_size(v));
        return;
    }
    char *s = json_is_string(v)
                  ? NULL
                  : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    out_kv(label, "%s: %s", key, json_is_string(v) ? json_string_value(v) : s ? s : "?");
    free(s);
}

void cli_analysis_print(const json_t *job)
{
    char b[64];
    out_kv("id", "%s", out_member(job, "id", b, sizeof b));
    out_kv("analysis", "%s", out_member(job, "analysis", b, sizeof b));
    cli_job_print_status(job);
    const json_t *p = json_object_get(job, "progress");
    out_kv("progress", "%lld/%lld (%.1f%%)", cli_run_member_int(p, "done"),
           cli_run_member_int(p, "total"),
           100.0 * json_number_value(json_object_get(p, "fraction")));
    cli_job_print_times(job);
    out_kv("attempts", "%lld", cli_run_member_int(job, "attempts"));
    const char *key;
    const json_t *v;
    int first = 1;
    json_object_foreach((json_t *)json_object_get(job, "summary"), key, v)
    {
        print_summary_member(key, v, first);
        first = 0;
    }
    first = 1;
    json_object_foreach((json_t *)json_object_get(job, "results"), key, v)
    {
        char dims[96];
        out_kv(first ? "results" : "", "%-12s %s %s", key,
               cli_shape_text(json_object_get(v, "shape"), " x ", dims, sizeof dims),
               out_member(v, "dtype", b, sizeof b));
        first = 0;
    }
    const json_t *err = json_object_get(job, "error");
    if (json_is_object(err)) {
        const char *d = json_string_value(json_object_get(err, "detail"));
        const char *f = json_string_value(json_object_get(err, "field"));
        out_kv("error", "%s%s%s", f && *f ? f : "", f && *f ? ": " : "", d ? d : "-");
    }
}

int cli_analysis_outcome(const json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *st = cli_run_status(job);
    if (!id) id = "?";
    if (strcmp(st, "cancelled") == 0) {
        cli_error("analysis %s was cancelled", id);
        return CLI_ECANCELLED;
    }
    if (strcmp(st, "failed") == 0) {
        const char *d = json_string_value(json_object_get(json_object_get(job, "error"), "detail"));
        cli_error("analysis %s failed: %s", id, d && *d ? d : "no reason given");
        return CLI_EFAILED;
    }
    return CLI_OK;
}

/* Whether @p name can be a file name in DIR as it is (the server's names are identifiers). */
static int safe_name(const char *name)
{
    if (!*name || name[0] == '.' || strlen(name) > 128) return 0;
    for (const char *c = name; *c; c++)
        if (!(*c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            return 0;
    return 1;
}

/* Download result @p name of analysis @p id to DIR/NAME.FORMAT. */
static int download_one(cli_http *h, const char *id, const char *name, const char *dir,
                        const char *format, int quiet)
{
    if (!safe_name(name)) {
        cli_error("analysis %s: the server named a result '%s', which is no file name", id, name);
        return CLI_EHTTP;
    }
    size_t cap = strlen(dir) + strlen(name) + 8;
    char *dest = malloc(cap);
    cli_url u = {0};
    if (!dest) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    snprintf(dest, cap, "%s/%s.%s", dir, name, format);
    cli_analysis_path(&u, id, "/results/");
    cli_url_add_segment(&u, name);
    cli_url_add_query(&u, "format", format);
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    int rc = path ? cli_http_download(h, path, dest, &r) : CLI_EIO;
    if (rc == CLI_OK && !quiet) {
        for (char *c = r.shape; *c; c++) /* X-Eirnn-Shape "2,3" as "2x3" */
            if (*c == ',') *c = 'x';
        fprintf(stderr, "wrote %s (%s%s%s, %lld bytes)\n", dest, r.dtype, r.shape[0] ? " " : "",
                r.shape, r.bytes);
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    free(dest);
    return rc;
}

int cli_analysis_download(cli_http *h, const json_t *job, const char *dir, const char *format,
                          char *const *names, int nnames, int quiet)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    const json_t *results = json_object_get(job, "results");
    if (!id || !json_is_object(results)) {
        cli_error("analysis %s has no results to download (status %s)", id ? id : "?",
                  cli_run_status(job));
        return CLI_EHTTP;
    }
    for (int i = 0; i < nnames; i++)
        if (!json_object_get(results, names[i])) {
            cli_error("analysis %s has no result '%s' ('eirnn analyses results %s' lists them)", id,
                      names[i], id);
            return CLI_EUSAGE;
        }
    int rc = cli_make_dirs(dir);
    if (rc != CLI_OK) return rc;
    if (nnames > 0) {
        for (int i = 0; i < nnames && rc == CLI_OK; i++)
            rc = download_one(h, id, names[i], dir, format, quiet);
        return rc;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)results, name, v)
    {
        if (rc == CLI_OK) rc = download_one(h, id, name, dir, format, quiet);
    }
    return rc;
}

int cli_analysis_finish(cli_http *h, const cli_http_resp *r, const char *dir, int quiet)
{
    const json_t *job = r->json;
    if (cli_opts.json)
        out_body(r);
    else if (quiet)
        printf("%s\n", json_string_value(json_object_get(job, "id")));
    else
        cli_analysis_print(job);
    fflush(stdout);
    int rc = cli_analysis_outcome(job);
    if (rc == CLI_OK && dir) rc = cli_analysis_download(h, job, dir, "npy", NULL, 0, quiet);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* get, wait, cancel, delete                                                                  */
/* ------------------------------------------------------------------------------------------ */

static const char get_help[] =
    "usage: eirnn analyses get ID\n"
    "\n"
    "Show an analysis: its kind, status, progress, times and, once it has ended, its summary\n"
    "and result arrays (name, shape, dtype) or why it failed. The exit code is 0 whatever its\n"
    "state ('eirnn analyses wait' ends with the analysis's outcome).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char show_help[] =
    "usage: eirnn analyses show ID\n"
    "\n"
    "Show an analysis as 'eirnn analyses get' does, then the address of its page in eirnnd's\n"
    "web app (its results plotted) on a last line 'page: URL/#/analyses/ID', URL being the\n"
    "address eirnn talks to (--url). --json prints the server's resource with a member \"page\"\n"
    "added.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char wait_help[] =
    "usage: eirnn analyses wait ID [--timeout S] [-o DIR]\n"
    "\n"
    "Wait for an analysis to end (long polls), then show it as 'eirnn analyses get' does. A\n"
    "progress bar is drawn on stderr when it is a terminal.\n"
    "exit codes: 0 succeeded, 6 cancelled, 7 failed, 8 still running at --timeout (the\n"
    "analysis goes on).\n"
    "\n"
    "options:\n"
    "  -t, --timeout S    give up waiting after S seconds (default: wait as long as it takes)\n"
    "  -o, --output DIR   then download every result array as DIR/NAME.npy\n"
    "  -q, --quiet        print nothing but the id; the exit code tells how it "
    "ended\n" CLI_CONN_HELP;

static const char cancel_help[] =
    "usage: eirnn analyses cancel ID\n"
    "\n"
    "Cancel a queued or running analysis. A queued one is cancelled at once, a running one\n"
    "stops soon after ('eirnn analyses wait ID' waits for that). One that already ended\n"
    "otherwise is refused (409, exit 4).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char delete_help[] =
    "usage: eirnn analyses delete ID\n"
    "\n"
    "Delete an ended analysis and its results. A queued or running one is refused (409,\n"
    "exit 4): cancel it first.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

/* After `analyses wait` (and `analyze --wait`): the analysis and its outcome, its results
 * downloaded with -o. */
static int analysis_wait_finish(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o)
{
    return cli_analysis_finish(h, r, o->out, o->quiet);
}

static const struct option wait_longopts[] = {CLI_CONN_LONGOPTS,
                                              {"timeout", required_argument, NULL, 't'},
                                              {"quiet", no_argument, NULL, 'q'},
                                              {"output", required_argument, NULL, 'o'},
                                              {NULL, 0, NULL, 0}};
static const char *const one_helps[] = {get_help, wait_help, cancel_help, delete_help, show_help};

const cli_job_kind cli_analysis_job_kind = {.collection = "analyses",
                                            .noun = "analysis",
                                            .stop_hint = "it stops soon",
                                            .helps = one_helps,
                                            .wait_shortopts = "t:qo:",
                                            .wait_longopts = wait_longopts,
                                            .print = cli_analysis_print,
                                            .finish = analysis_wait_finish,
                                            .submit_finish = analysis_wait_finish};

static int analysis_one(int argc, char **argv, cli_job_op op)
{
    return cli_job_one(argc, argv, &cli_analysis_job_kind, op);
}

static int analyses_get(int argc, char **argv)
{
    return analysis_one(argc, argv, CLI_JOB_GET);
}

static int analyses_wait(int argc, char **argv)
{
    return analysis_one(argc, argv, CLI_JOB_WAIT);
}

static int analyses_show(int argc, char **argv)
{
    return analysis_one(argc, argv, CLI_JOB_SHOW);
}

static int analyses_cancel(int argc, char **argv)
{
    return analysis_one(argc, argv, CLI_JOB_CANCEL);
}

static int analyses_delete(int argc, char **argv)
{
    return analysis_one(argc, argv, CLI_JOB_DELETE);
}

/* ------------------------------------------------------------------------------------------ */
/* results                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static const char results_help[] =
    "usage: eirnn analyses results ID [NAME...] [-o DIR [--format npy|csv|json]]\n"
    "\n"
    "List the result arrays of an analysis (name, dtype, shape) or, with -o, download them\n"
    "(all, or the NAMEs given) as DIR/NAME.npy (or .csv, .json). Eigenvalues are complex:\n"
    "complex128 in .npy, [re, im] pairs in JSON.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   the directory to write to (made, with its parents, when missing)\n"
    "      --format F     npy (default), csv or json\n" CLI_CONN_HELP;

typedef struct results_opts {
    const char *out, *format;
} results_opts;

static int results_opt(void *ctx, int c, const char *arg)
{
    results_opts *o = ctx;
    if (c == 'o') {
        o->out = arg;
        return CLI_OK;
    }
    if (c == CLI_OPT_OWN) {
        if (strcmp(arg, "npy") && strcmp(arg, "csv") && strcmp(arg, "json")) {
            cli_error("--format must be npy, csv or json, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->format = arg;
        return CLI_OK;
    }
    return CLI_EUSAGE;
}

/* The results table of @p job on stdout. */
static int results_table(const json_t *job)
{
    static const char *const head[] = {"NAME", "DTYPE", "SHAPE"};
    out_table *t = out_table_new(3, head);
    if (!t) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(job, "results"), name, v)
    {
        char dims[96];
        const char *row[3] = {name, json_string_value(json_object_get(v, "dtype")),
                              cli_shape_text(json_object_get(v, "shape"), "x", dims, sizeof dims)};
        out_table_add(t, row);
    }
    out_table_print(t, stdout);
    out_table_free(t);
    return CLI_OK;
}

static int analyses_results(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"output", required_argument, NULL, 'o'},
                                       {"format", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    results_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "analyses results", "o:", lo, results_help, results_opt, &o, 1,
                       -1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    int nnames = argc - pos - 1;
    if (nnames > 0 && !o.out) {
        cli_error("analyses results: naming results needs -o DIR to write them to");
        return CLI_EUSAGE;
    }
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_http_resp r = {0};
    const char *path = cli_analysis_path(&u, argv[pos], "");
    rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
    const json_t *job = rc == CLI_OK ? cli_answer_object(&r) : NULL;
    if (rc == CLI_OK && !job) rc = CLI_EHTTP;
    if (rc == CLI_OK && !json_is_object(json_object_get(job, "results"))) {
        cli_error("analysis %s has no results (status %s)", argv[pos], cli_run_status(job));
        rc = cli_run_status_final(cli_run_status(job)) ? CLI_EHTTP : CLI_EUSAGE;
    }
    if (rc == CLI_OK && o.out)
        rc = cli_analysis_download(h, job, o.out, o.format ? o.format : "npy", argv + pos + 1,
                                   nnames, 0);
    else if (rc == CLI_OK && cli_opts.json) {
        json_t *j =
            json_pack("{s:s, s:O}", "id", argv[pos], "results", json_object_get(job, "results"));
        if (j) out_json(j);
        json_decref(j);
    } else if (rc == CLI_OK) {
        rc = results_table(job);
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const char list_help[] =
    "usage: eirnn analyses list [--status S] [--model ID] [--kind K] [--label K:V]...\n"
    "                           [--limit N] [--all] [--cursor C]\n"
    "\n"
    "List analyses, newest first: id, kind, status, progress, model, creation time.\n"
    "\n"
    "options:\n"
    "  -s, --status S     only analyses in state S: queued, running, succeeded, failed,\n"
    "                     cancelled\n"
    "  -m, --model ID     only analyses of the stored model ID\n"
    "      --kind K       only analyses of kind K: spectrum, fixed_points, lyapunov, "
    "activity\n" CLI_LABEL_HELP
    "  -n, --limit N      analyses per page, 1 to 1000 (default: the server's, 50)\n"
    "  -a, --all          follow the pages to the end\n"
    "      --cursor C     start at this page (the next_cursor of an earlier page)\n" CLI_CONN_HELP;

static int analyses_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"status", required_argument, NULL, 's'},
                                       {"model", required_argument, NULL, 'm'},
                                       {"kind", required_argument, NULL, CLI_OPT_OWN + 1},
                                       {"label", required_argument, NULL, 'l'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    static const cli_job_list_kind kind = {.collection = "analyses",
                                           .item = "analysis",
                                           .help = list_help,
                                           .longopts = lo,
                                           .kind_opt = CLI_OPT_OWN + 1,
                                           .statuses =
                                               "queued, running, succeeded, failed or cancelled"};
    return cli_job_list(argc, argv, &kind);
}

/* ------------------------------------------------------------------------------------------ */

int cli_analyses(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"get", analyses_get, "get ID"},
        {"show", analyses_show, "show ID (as get, and the address of its page in the web app)"},
        {"list", analyses_list,
         "list [--status S] [--model ID] [--kind K] [--label K:V]... [--limit N] [--all]\n"
         "                          [--cursor C]"},
        {"wait", analyses_wait, "wait ID [--timeout S] [-o DIR] [-q]"},
        {"results", analyses_results, "results ID [NAME...] [-o DIR [--format npy|csv|json]]"},
        {"cancel", analyses_cancel, "cancel ID"},
        {"delete", analyses_delete, "delete ID"},
    };
    return cli_dispatch("analyses", subs, sizeof subs / sizeof *subs,
                        "Analyses of eirnnd (/v1/analyses): follow them, fetch their result "
                        "arrays, cancel and delete them ('eirnn analyze' submits them).",
                        argc, argv);
}
