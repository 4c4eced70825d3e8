/**
 * @file cmd_sweeps.c
 * @brief `eirnn sweeps submit|get|show|list|wait|table|cancel|delete`: parameter sweeps of eirnnd
 *        (/v1/sweeps, docs/SWEEPS.md): one request that queues a run per point of a grid of
 *        model and run parameters, followed as one job, read back as one table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_jobs.h"
#include "cmd_runs.h"
#include "eir_clock.h"
#include "files.h"

/** Longest long poll asked for without a progress bar (the server caps it too). */
#define POLL_MAX_S 30.0
/** Long poll with a progress bar: the bar moves about once a second. */
#define POLL_BAR_S 1.0
/** Added to a long poll's wait for the request's own timeout. */
#define POLL_SLACK_S 30.0
/** Axis values shown by `sweeps get` before "...". */
#define SHOW_VALUES 6

/** The point statuses of a sweep's "counts", in the order they are printed. */
static const char *const count_names[] = {"queued",   "running", "succeeded",
                                          "diverged", "failed",  "cancelled"};
#define N_COUNTS (sizeof count_names / sizeof *count_names)

/* ------------------------------------------------------------------------------------------ */
/* A sweep: printing, outcome                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** "succeeded 9, diverged 1, running 2" (statuses with a count > 0) of @p sweep in @p buf. */
static const char *counts_text(const json_t *sweep, char *buf, size_t cap)
{
    const json_t *c = json_object_get(sweep, "counts");
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COUNTS; i++) {
        long long n = cli_run_member_int(c, count_names[i]);
        if (n > 0 && k < cap)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s %lld", k ? ", " : "", count_names[i], n);
    }
    if (!buf[0]) snprintf(buf, cap, "-");
    return buf;
}

/** Points of @p sweep that have ended (succeeded, diverged, failed, cancelled). */
static long long points_done(const json_t *sweep)
{
    const json_t *c = json_object_get(sweep, "counts");
    long long n = 0;
    for (size_t i = 2; i < N_COUNTS; i++)
        n += cli_run_member_int(c, count_names[i]);
    return n;
}

/** One "axes" line: "PATH  N values: v0, v1, ..." (the first SHOW_VALUES values). */
static void print_axis(const json_t *axis, int first)
{
    const json_t *vals = json_object_get(axis, "values");
    const char *path = json_string_value(json_object_get(axis, "path"));
    char line[512];
    size_t k = (size_t)snprintf(line, sizeof line, "%s  %zu value%s", path ? path : "?",
                                json_array_size(vals), json_array_size(vals) == 1 ? "" : "s");
    size_t i;
    const json_t *v;
    json_array_foreach(vals, i, v)
    {
        if (i == SHOW_VALUES) {
            if (k < sizeof line) k += (size_t)snprintf(line + k, sizeof line - k, ", ...");
            break;
        }
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        if (k < sizeof line)
            k += (size_t)snprintf(line + k, sizeof line - k, "%s%.40s", i ? ", " : ": ",
                                  s ? s : "?");
        free(s);
    }
    out_kv(first ? "axes" : "", "%s", line);
}

/** Print @p sweep as `eirnn sweeps get` shows it (key-value lines on stdout). */
static void sweep_print(const json_t *sweep)
{
    char b[64], t[32], counts[256];
    out_kv("id", "%s", out_member(sweep, "id", b, sizeof b));
    const char *name = json_string_value(json_object_get(sweep, "name"));
    out_kv("name", "%s", name && *name ? name : "-");
    out_kv("status", "%s", cli_run_status(sweep));
    out_kv("points", "%lld (%s)", cli_run_member_int(sweep, "points"),
           out_member(sweep, "mode", b, sizeof b));
    size_t i;
    const json_t *axis;
    json_array_foreach(json_object_get(sweep, "axes"), i, axis) print_axis(axis, i == 0);
    out_kv("ended", "%lld of %lld points: %s", points_done(sweep),
           cli_run_member_int(sweep, "points"), counts_text(sweep, counts, sizeof counts));
    const json_t *p = json_object_get(sweep, "progress");
    out_kv("progress", "%lld/%lld steps (%.1f%%)", cli_run_member_int(p, "done"),
           cli_run_member_int(p, "total"),
           100.0 * json_number_value(json_object_get(p, "fraction")));
    out_kv("created", "%s",
           out_time(json_string_value(json_object_get(sweep, "created_at")), t, sizeof t));
    out_kv("finished", "%s",
           out_time(json_string_value(json_object_get(sweep, "finished_at")), t, sizeof t));
    const char *key;
    const json_t *v;
    int first = 1;
    json_object_foreach((json_t *)json_object_get(sweep, "labels"), key, v)
    {
        out_kv(first ? "labels" : "", "%s: %s", key,
               json_is_string(v) ? json_string_value(v) : "?");
        first = 0;
    }
    const json_t *models = json_object_get(sweep, "models");
    if (json_array_size(models) > 0)
        out_kv("models", "%s%s (%zu)", json_string_value(json_array_get(models, 0)),
               json_array_size(models) > 1 ? ", ..." : "", json_array_size(models));
    const char *id = json_string_value(json_object_get(sweep, "id"));
    if (id) out_kv("runs", "eirnn runs list --sweep %s", id);
}

/**
 * The exit code of a finished sweep, with a line on stderr unless every point succeeded or
 * diverged (a diverged point is a result of a sweep, as its table shows): CLI_EFAILED when a
 * point failed, CLI_ECANCELLED when one was cancelled, CLI_OK otherwise.
 */
static int sweep_outcome(const json_t *sweep)
{
    const json_t *c = json_object_get(sweep, "counts");
    const char *id = json_string_value(json_object_get(sweep, "id"));
    long long failed = cli_run_member_int(c, "failed"),
              cancelled = cli_run_member_int(c, "cancelled");
    long long points = cli_run_member_int(sweep, "points");
    if (!id) id = "?";
    if (failed > 0) {
        cli_error("sweep %s: %lld of %lld points failed ('eirnn runs list --sweep %s --status "
                  "failed' lists them)",
                  id, failed, points, id);
        return CLI_EFAILED;
    }
    if (cancelled > 0) {
        cli_error("sweep %s: %lld of %lld points were cancelled", id, cancelled, points);
        return CLI_ECANCELLED;
    }
    return CLI_OK;
}

/** "/v1/sweeps/<id><suffix>" in @p u. @return its text, or NULL after "out of memory". */
static const char *sweep_path(cli_url *u, const char *id, const char *suffix)
{
    return cli_job_path(u, "sweeps", id, suffix);
}

/* ------------------------------------------------------------------------------------------ */
/* wait                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Draw the progress bar of @p sweep: its fraction of steps and its points by status. */
static void sweep_progress(const char *id, const json_t *sweep)
{
    char counts[256], detail[320];
    snprintf(detail, sizeof detail, "(%lld/%lld points; %s)", points_done(sweep),
             cli_run_member_int(sweep, "points"), counts_text(sweep, counts, sizeof counts));
    out_progress_text(
        id, cli_run_status(sweep),
        json_number_value(json_object_get(json_object_get(sweep, "progress"), "fraction")), detail);
}

/**
 * Long-poll GET /v1/sweeps/ID?wait=... until the sweep is finished or @p timeout_s (0 = none)
 * has passed, drawing one progress bar for the whole sweep on a terminal. On CLI_OK *last
 * holds the answer with the finished sweep (free it with cli_http_resp_free). A full or
 * restarting server (503) is asked again after its Retry-After.
 * @return CLI_OK; CLI_ETIMEOUT (message printed, the sweep goes on); an HTTP error's code
 *         (*last holds nothing to free).
 */
static int sweep_wait(cli_http *h, const char *id, double timeout_s, cli_http_resp *last)
{
    double deadline = timeout_s > 0 ? eir_clock_mono() + timeout_s : 0;
    int bar = out_progress_enabled();
    char seen[256] = "nothing seen yet";
    memset(last, 0, sizeof *last);
    for (;;) {
        double w = bar ? POLL_BAR_S : POLL_MAX_S;
        if (deadline) {
            double rem = deadline - eir_clock_mono();
            if (rem <= 0) {
                out_progress_end();
                cli_error("sweep %s has not finished after %g s (%s); it goes on: 'eirnn sweeps "
                          "wait %s' waits again, 'eirnn sweeps cancel %s' stops it",
                          id, timeout_s, seen, id, id);
                return CLI_ETIMEOUT;
            }
            if (rem < w) w = rem;
        }
        char ws[32];
        snprintf(ws, sizeof ws, "%.3f", w);
        cli_url u = {0};
        sweep_path(&u, id, "");
        cli_url_add_query(&u, "wait", ws);
        cli_http_resp r;
        double t1 = eir_clock_mono();
        int rc = cli_http_poll(h, cli_url_text(&u), w + POLL_SLACK_S, &r);
        cli_url_free(&u);
        if (rc != CLI_OK) {
            out_progress_end();
            return rc;
        }
        if (r.status == 503) continue; /* waited out: the deadline is checked again */
        const json_t *sweep = cli_answer_object(&r);
        if (!sweep) {
            out_progress_end();
            cli_http_resp_free(&r);
            return CLI_EHTTP;
        }
        char counts[200];
        snprintf(seen, sizeof seen, "%s, %lld of %lld points ended: %s", cli_run_status(sweep),
                 points_done(sweep), cli_run_member_int(sweep, "points"),
                 counts_text(sweep, counts, sizeof counts));
        sweep_progress(id, sweep);
        if (strcmp(cli_run_status(sweep), "finished") == 0) {
            out_progress_end();
            *last = r;
            return CLI_OK;
        }
        cli_http_resp_free(&r);
        /* A server that does not hold the poll (--long-poll-max 0) is asked twice a second. */
        double took = eir_clock_mono() - t1;
        if (took < 0.5) eir_clock_sleep(0.5 - took);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* table                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Where and how `table` (and `--table` of submit and wait) writes the sweep's table. */
typedef struct table_opts {
    const char *format; /**< "csv" or "json"; NULL: from the file's name, else csv */
    int per_trial;      /**< --per-trial */
    const char *out;    /**< -o FILE; NULL: stdout */
} table_opts;

/** The format of @p o: --format, else .json for an -o FILE.json, else csv. */
static const char *table_format(const table_opts *o)
{
    if (o->format) return o->format;
    return o->out && cli_ends_with(o->out, ".json") ? "json" : "csv";
}

/**
 * GET /v1/sweeps/ID/table in the format of @p o into -o FILE (written whole or not at all,
 * a line on stderr unless @p quiet) or onto stdout.
 * @return CLI_OK; CLI_EIO when the file cannot be written; an HTTP error's code.
 */
static int table_get(cli_http *h, const char *id, const table_opts *o, int quiet)
{
    cli_url u = {0};
    sweep_path(&u, id, "/table");
    cli_url_add_query(&u, "format", table_format(o));
    if (o->per_trial) cli_url_add_query(&u, "per_trial", "true");
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    int rc;
    if (!path) {
        rc = CLI_EIO;
    } else if (o->out) {
        rc = cli_http_download(h, path, o->out, &r);
        if (rc == CLI_OK && !quiet)
            fprintf(stderr, "wrote %s (sweep %s's table, %s, %lld bytes)\n", o->out, id,
                    table_format(o), r.bytes);
    } else {
        rc = cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r);
        if (rc == CLI_OK) out_body(&r);
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    return rc;
}

static int table_opt(table_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'f':
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "json") != 0) {
            cli_error("--format must be csv or json, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->format = arg;
        return CLI_OK;
    case 'p':
        o->per_trial = 1;
        return CLI_OK;
    case 'o':
        o->out = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

static const char table_help[] =
    "usage: eirnn sweeps table ID [--format csv|json] [--per-trial] [-o FILE]\n"
    "\n"
    "Print the sweep's table: one row per point, in point order, with its index, the value of\n"
    "each axis, its run's id and status and, when the sweep asked for metrics, the metrics of\n"
    "its run (window means and standard deviations per population, final V and r, max z*dt,\n"
    "divergence, settledness). Points not ended, or failed, have empty metrics. CSV by default\n"
    "(an -o FILE ending in .json gives JSON); the table may be asked for while the sweep runs.\n"
    "\n"
    "options:\n"
    "  -f, --format F     csv or json ({\"columns\": [...], \"rows\": [[...], ...]})\n"
    "  -p, --per-trial    add a column per trial after each averaged metric (NAME[b])\n"
    "  -o, --output FILE  write the table to FILE (whole or not at all) instead of "
    "stdout\n" CLI_CONN_HELP;

static int table_cb(void *ctx, int c, const char *arg)
{
    return table_opt(ctx, c, arg);
}

static int sweeps_table(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"format", required_argument, NULL, 'f'},
                                       {"per-trial", no_argument, NULL, 'p'},
                                       {"output", required_argument, NULL, 'o'},
                                       {NULL, 0, NULL, 0}};
    table_opts o = {0};
    int pos;
    int rc =
        cli_parse(argc, argv, "sweeps table", "f:po:", lo, table_help, table_cb, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    rc = table_get(h, argv[pos], &o, 0);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* submit, wait                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** The options of `submit` and `wait`. */
typedef struct follow_opts {
    cli_job_submit_opts job; /**< -k, -w, -t, -q (-o is --table's here) */
    table_opts table;        /**< --table FILE (its out), --format, --per-trial */
} follow_opts;

static int follow_opt(void *ctx, int c, const char *arg)
{
    follow_opts *o = ctx;
    int rc;
    if (c == 'T') {
        o->table.out = arg;
        return CLI_OK;
    }
    if (c == 'f' || c == 'p') return table_opt(&o->table, c, arg);
    if (c != 'o' && cli_job_submit_opt(&o->job, c, arg, &rc)) return rc;
    return CLI_EUSAGE;
}

/**
 * Print the finished sweep of @p r (its JSON with --json, its id with -q, else as `get`),
 * write its table with --table and return its outcome's exit code (or the table's error).
 */
static int sweep_finish(cli_http *h, const cli_http_resp *r, const follow_opts *o)
{
    const json_t *sweep = r->json;
    const char *id = json_string_value(json_object_get(sweep, "id"));
    if (cli_opts.json)
        out_body(r);
    else if (o->job.w.quiet)
        printf("%s\n", id ? id : "?");
    else
        sweep_print(sweep);
    fflush(stdout);
    int rc = CLI_OK;
    if (o->table.out && id) rc = table_get(h, id, &o->table, o->job.w.quiet);
    int out = sweep_outcome(sweep);
    return rc != CLI_OK ? rc : out;
}

static const char submit_help[] =
    "usage: eirnn sweeps submit FILE.json [--wait [--timeout S] [--table OUT]] [-k KEY] [-q]\n"
    "\n"
    "Queue a sweep in eirnnd: the sweep document FILE.json ('-' reads standard input; see\n"
    "docs/SWEEPS.md) is sent as it is. It names a base model (model_id, or model inline), a\n"
    "base run, and axes: JSON pointers under /model or /run with the values to set there,\n"
    "combined as a grid (the last axis fastest) or zipped. The server checks every point\n"
    "before it queues anything: a bad point is refused whole (exit 3) naming the point, its\n"
    "axis values and the field. Prints the new sweep (its id with -q).\n"
    "\n"
    "options:\n"
    "  -w, --wait         wait for the sweep to finish, with one progress bar for all its\n"
    "                     points on a terminal; then show it\n"
    "  -t, --timeout S    with --wait: give up waiting after S seconds (exit 8)\n"
    "  -T, --table OUT    with --wait: then write its table to OUT (.csv, or .json)\n"
    "  -f, --format F     with --table: csv or json (default: from OUT's name)\n"
    "  -p, --per-trial    with --table: a column per trial too\n"
    "  -k, --idempotency-key K\n"
    "                     a retry with the same key and body gives the same sweep\n"
    "  -q, --quiet        print only the sweep's id\n" CLI_CONN_HELP "\n"
    "Exit codes with --wait: 0 finished with every point succeeded or diverged, 7 some point\n"
    "failed, 6 some point was cancelled, 8 still running at --timeout.\n";

static int sweeps_submit(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"table", required_argument, NULL, 'T'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"per-trial", no_argument, NULL, 'p'},
                                       {"idempotency-key", required_argument, NULL, 'k'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    follow_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "sweeps submit", "wt:T:f:pk:q", lo, submit_help, follow_opt, &o,
                       1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if ((o.job.w.timeout > 0 || o.table.out) && !o.job.wait) {
        cli_error("sweeps submit: %s needs --wait", o.table.out ? "--table" : "--timeout");
        return CLI_EUSAGE;
    }
    if ((o.table.format || o.table.per_trial) && !o.table.out) {
        cli_error("sweeps submit: --format and --per-trial go with --table OUT");
        return CLI_EUSAGE;
    }
    const char *file = argv[pos];
    json_t *doc;
    char *text;
    size_t len;
    if ((rc = cli_load_json(file, 1, &doc, &text, &len)) != CLI_OK) return rc;
    int is_obj = json_is_object(doc);
    json_decref(doc);
    if (!is_obj) {
        free(text);
        cli_error("%s: a sweep must be a JSON object", file);
        return CLI_EINVALID;
    }
    cli_http *h = cli_http_open(&rc);
    if (!h) {
        free(text);
        return rc;
    }
    cli_http_resp r = {0}, fin = {0};
    rc = cli_http_call(h, "POST", "/v1/sweeps", text, len, o.job.key, 0, &r);
    free(text);
    const json_t *sweep = rc == CLI_OK ? cli_answer_object(&r) : NULL;
    const char *id = json_string_value(json_object_get(sweep, "id"));
    char sid[128] = "";
    if (rc == CLI_OK && (!id || strlen(id) >= sizeof sid)) {
        if (sweep) cli_error("the server's answer has no sweep id");
        rc = CLI_EHTTP;
    } else if (rc == CLI_OK) {
        snprintf(sid, sizeof sid, "%s", id);
    }
    if (rc == CLI_OK && !o.job.wait) {
        if (cli_opts.json)
            out_body(&r);
        else if (o.job.w.quiet)
            printf("%s\n", sid);
        else
            sweep_print(sweep);
    } else if (rc == CLI_OK) {
        rc = sweep_wait(h, sid, o.job.w.timeout, &fin);
        if (rc == CLI_OK)
            rc = sweep_finish(h, &fin, &o);
        else if (rc == CLI_ETIMEOUT && cli_opts.json)
            out_body(&r); /* the sweep as submitted: its id for a later 'sweeps wait' */
        else if (rc == CLI_ETIMEOUT && o.job.w.quiet)
            printf("%s\n", sid);
    }
    cli_http_resp_free(&fin);
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

static const char wait_help[] =
    "usage: eirnn sweeps wait ID [--timeout S] [--table OUT] [-q]\n"
    "\n"
    "Wait for a sweep to finish (every point ended; long polls), then show it as 'eirnn sweeps\n"
    "get' does. One progress bar for the whole sweep is drawn on stderr when it is a terminal:\n"
    "the fraction of all its steps done, and its points by status.\n"
    "exit codes: 0 every point succeeded or diverged, 7 some point failed, 6 some point was\n"
    "cancelled, 8 still running at --timeout (the sweep goes on).\n"
    "\n"
    "options:\n"
    "  -t, --timeout S    give up waiting after S seconds (default: wait as long as it takes)\n"
    "  -T, --table OUT    then write its table to OUT (.csv, or .json)\n"
    "  -f, --format F     with --table: csv or json (default: from OUT's name)\n"
    "  -p, --per-trial    with --table: a column per trial too\n"
    "  -q, --quiet        print only the id; the exit code tells how it "
    "ended\n" CLI_CONN_HELP;

static int sweeps_wait(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"timeout", required_argument, NULL, 't'},
                                       {"table", required_argument, NULL, 'T'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"per-trial", no_argument, NULL, 'p'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    follow_opts o = {0};
    int pos;
    int rc =
        cli_parse(argc, argv, "sweeps wait", "t:T:f:pq", lo, wait_help, follow_opt, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if ((o.table.format || o.table.per_trial) && !o.table.out) {
        cli_error("sweeps wait: --format and --per-trial go with --table OUT");
        return CLI_EUSAGE;
    }
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_http_resp r = {0};
    rc = sweep_wait(h, argv[pos], o.job.w.timeout, &r);
    if (rc == CLI_OK) rc = sweep_finish(h, &r, &o);
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* get, cancel, delete                                                                        */
/* ------------------------------------------------------------------------------------------ */

static const char get_help[] =
    "usage: eirnn sweeps get ID\n"
    "\n"
    "Show a sweep: name, status (queued, running, finished), points and mode, its axes, its\n"
    "points by status, the progress of all its steps, times, labels and models. The exit code\n"
    "is 0 whatever its state ('eirnn sweeps wait' ends with the sweep's outcome).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char show_help[] =
    "usage: eirnn sweeps show ID\n"
    "\n"
    "Show a sweep as 'eirnn sweeps get' does, then the address of its page in eirnnd's web app\n"
    "(its table, a metric plotted over its axes) on a last line 'page: URL/#/sweeps/ID', URL\n"
    "being the address eirnn talks to (--url). --json prints the server's resource with a\n"
    "member \"page\" added.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char cancel_help[] =
    "usage: eirnn sweeps cancel ID\n"
    "\n"
    "Cancel a sweep: its queued points are cancelled at once, its running ones stop within a\n"
    "few steps ('eirnn sweeps wait ID' waits for that). Points that ended keep their results.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char delete_help[] =
    "usage: eirnn sweeps delete ID\n"
    "\n"
    "Delete a finished sweep and its runs with their results. A sweep with queued or running\n"
    "points is refused (409, exit 4): cancel it first.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

/** What `cancel` prints of the answer's sweep @p sweep. */
static void cancel_print(const char *id, const json_t *sweep)
{
    const json_t *c = json_object_get(sweep, "counts");
    long long running = cli_run_member_int(c, "running");
    long long cancelled = cli_run_member_int(c, "cancelled");
    if (running > 0)
        printf("sweep %s: %lld points cancelled; %lld running stop within a few steps ('eirnn "
               "sweeps wait %s')\n",
               id, cancelled, running, id);
    else
        printf("sweep %s: %lld points cancelled\n", id, cancelled);
}

/** GET (get, show), POST .../cancel or DELETE /v1/sweeps/ID (@p op as cli_job_op). */
static int sweep_one(int argc, char **argv, cli_job_op op)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS, {NULL, 0, NULL, 0}};
    static const char *const name[] = {"sweeps get", "", "sweeps cancel", "sweeps delete",
                                       "sweeps show"};
    static const char *const help[] = {get_help, "", cancel_help, delete_help, show_help};
    static const char *const method[] = {"GET", "", "POST", "DELETE", "GET"};
    int pos;
    int rc = cli_parse(argc, argv, name[op], "", lo, help[op], NULL, NULL, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *id = argv[pos];
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_http_resp r = {0};
    const char *path = sweep_path(&u, id, op == CLI_JOB_CANCEL ? "/cancel" : "");
    rc = path ? cli_http_call(h, method[op], path, NULL, 0, NULL, 0, &r) : CLI_EIO;
    if (rc == CLI_OK && op != CLI_JOB_DELETE && !cli_answer_object(&r)) rc = CLI_EHTTP;
    if (rc == CLI_OK && op == CLI_JOB_DELETE) {
        if (cli_opts.json) {
            json_t *j = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
            if (j) out_json(j);
            json_decref(j);
        } else {
            printf("deleted sweep %s\n", id);
        }
    } else if (rc == CLI_OK && op == CLI_JOB_SHOW) {
        rc = cli_show_print(h, &r, "sweeps", id, sweep_print);
    } else if (rc == CLI_OK && cli_opts.json) {
        out_body(&r);
    } else if (rc == CLI_OK && op == CLI_JOB_GET) {
        sweep_print(r.json);
    } else if (rc == CLI_OK) {
        cancel_print(id, r.json);
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    cli_http_close(h);
    return out_finish(rc);
}

static int sweeps_get(int argc, char **argv)
{
    return sweep_one(argc, argv, CLI_JOB_GET);
}

static int sweeps_show(int argc, char **argv)
{
    return sweep_one(argc, argv, CLI_JOB_SHOW);
}

static int sweeps_cancel(int argc, char **argv)
{
    return sweep_one(argc, argv, CLI_JOB_CANCEL);
}

static int sweeps_delete(int argc, char **argv)
{
    return sweep_one(argc, argv, CLI_JOB_DELETE);
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const char list_help[] =
    "usage: eirnn sweeps list [--label K:V]... [--limit N] [--all] [--cursor C]\n"
    "\n"
    "List sweeps, newest first: id, name, status, points, points ended, progress, creation\n"
    "time.\n"
    "\n"
    "options:\n" CLI_LABEL_HELP
    "  -n, --limit N      sweeps per page, 1 to 1000 (default: the server's, 50)\n"
    "  -a, --all          follow the pages to the end\n"
    "      --cursor C     start at this page (the next_cursor of an earlier page)\n" CLI_CONN_HELP;

/** The options of `sweeps list`. */
typedef struct list_opts {
    cli_list_paging paging;
    cli_labels labels;
} list_opts;

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    if (c == 'l') return cli_label_opt(&o->labels, arg);
    return cli_list_opt(&o->paging, c, arg);
}

/** Add @p sweep's row to @p t. */
static void list_row(const json_t *sweep, out_table *t)
{
    char points[24], ended[24], prog[32], tb[32];
    snprintf(points, sizeof points, "%lld", cli_run_member_int(sweep, "points"));
    snprintf(ended, sizeof ended, "%lld", points_done(sweep));
    snprintf(
        prog, sizeof prog, "%5.1f%%",
        100.0 * json_number_value(json_object_get(json_object_get(sweep, "progress"), "fraction")));
    const char *name = json_string_value(json_object_get(sweep, "name"));
    const char *row[7] = {
        json_string_value(json_object_get(sweep, "id")),
        name && *name ? name : "-",
        cli_run_status(sweep),
        points,
        ended,
        prog,
        out_time(json_string_value(json_object_get(sweep, "created_at")), tb, sizeof tb)};
    out_table_add(t, row);
}

static int sweeps_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"label", required_argument, NULL, 'l'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    static const char *const head[] = {"ID",    "NAME",     "STATUS", "POINTS",
                                       "ENDED", "PROGRESS", "CREATED"};
    list_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "sweeps list", "l:n:a", lo, list_help, list_opt, &o, 0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_list l = {.path = "/v1/sweeps",
                  .paging = o.paging,
                  .labels = &o.labels,
                  .items = "sweeps",
                  .item = "sweep",
                  .ncols = 7,
                  .head = head,
                  .add_row = list_row};
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    rc = cli_list_print(h, &l);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */

int cli_sweeps(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"submit", sweeps_submit,
         "submit FILE.json [--wait [--timeout S] [--table OUT]] [--idempotency-key K] [-q]"},
        {"get", sweeps_get, "get ID"},
        {"show", sweeps_show, "show ID (as get, and the address of its page in the web app)"},
        {"list", sweeps_list, "list [--label K:V]... [--limit N] [--all] [--cursor C]"},
        {"wait", sweeps_wait, "wait ID [--timeout S] [--table OUT] [-q]"},
        {"table", sweeps_table, "table ID [--format csv|json] [--per-trial] [-o FILE]"},
        {"cancel", sweeps_cancel, "cancel ID"},
        {"delete", sweeps_delete, "delete ID"},
    };
    return cli_dispatch("sweeps", subs, sizeof subs / sizeof *subs,
                        "Parameter sweeps of eirnnd (/v1/sweeps): one request queues a run per "
                        "point of a grid of model and run\nparameters; follow them as one job, "
                        "read their metrics back as one table.",
                        argc, argv);
}
