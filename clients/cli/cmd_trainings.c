/**
 * @file cmd_trainings.c
 * @brief `eirnn trainings get|list|wait|curve|cancel|delete` (/v1/trainings) and the pieces
 *        `eirnn train` shares with them (cmd_train.h): printing a training, following it with
 *        its loss on stderr, and its outcome.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_runs.h"
#include "cmd_train.h"
#include "eir_clock.h"

/** Long poll with a progress bar (or the lines that replace it): about once a second. */
#define POLL_BAR_S 1.0
/** Long poll when nothing is shown while waiting (-q). */
#define POLL_MAX_S 30.0
/** Added to a long poll's wait for the request's own timeout. */
#define POLL_SLACK_S 30.0
/** Without a terminal, a progress line on stderr each time this fraction more is done. */
#define LINE_STEP 0.05

/* ------------------------------------------------------------------------------------------ */
/* A training: members, printing, outcome                                                     */
/* ------------------------------------------------------------------------------------------ */

const char *cli_training_model(const json_t *job)
{
    if (strcmp(cli_run_status(job), "succeeded") != 0) return NULL;
    return json_string_value(json_object_get(job, "model_id"));
}

/* The total of loss object @p loss ({"total", "task", ...}), or NaN. */
static double loss_total(const json_t *loss)
{
    const json_t *v = json_is_object(loss) ? json_object_get(loss, "total") : loss;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The latest curve row of @p job (an object), or NULL while there is none. */
static const json_t *latest_row(const json_t *job)
{
    const json_t *row = json_object_get(job, "latest");
    return json_is_object(row) ? row : NULL;
}

/* The number member @p key of @p o, or NaN when it is missing or null. */
static double number_or_nan(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/** The last held-out evaluation seen while following a training (its curve read as it grows). */
typedef struct held_out {
    long long read; /**< curve rows read up to this iteration; -1 before the first read */
    long long it;   /**< the iteration of the last row with an eval_accuracy; 0: none yet */
    double acc;     /**< its eval_accuracy */
} held_out;

/* How far @p job is, in @p buf: "120/2000 iterations (6.0%), loss 0.6931, accuracy 51.2%,
 * held-out 50.0% at 100" (the loss and accuracy of its latest curve row, left out while there is
 * none; the held-out accuracy of @p ho, or of the latest row when @p ho is NULL); with
 * @p compact (beside the progress bar) "120/2000 it, loss 0.6931, acc 51.2%, held-out 50.0%". */
static const char *progress_text(const json_t *job, const held_out *ho, int compact, char *buf,
                                 size_t cap)
{
    const json_t *p = json_object_get(job, "progress");
    const json_t *row = latest_row(job);
    int k = snprintf(buf, cap, "%lld/%lld %s", cli_run_member_int(p, "done"),
                     cli_run_member_int(p, "total"), compact ? "it" : "iterations");
    if (k >= 0 && (size_t)k < cap && !compact)
        k += snprintf(buf + k, cap - (size_t)k, " (%.1f%%)",
                      100.0 * json_number_value(json_object_get(p, "fraction")));
    double loss = number_or_nan(row, "loss"), acc = number_or_nan(row, "accuracy");
    double eval = ho ? (ho->it > 0 ? ho->acc : NAN) : number_or_nan(row, "eval_accuracy");
    long long eval_it = ho ? ho->it : (long long)number_or_nan(row, "iteration");
    if (k >= 0 && (size_t)k < cap && isfinite(loss))
        k += snprintf(buf + k, cap - (size_t)k, ", loss %.4g", loss);
    if (k >= 0 && (size_t)k < cap && isfinite(acc))
        k += snprintf(buf + k, cap - (size_t)k, ", %s %.1f%%", compact ? "acc" : "accuracy",
                      100.0 * acc);
    if (k >= 0 && (size_t)k < cap && isfinite(eval)) {
        if (compact)
            snprintf(buf + k, cap - (size_t)k, ", held-out %.1f%%", 100.0 * eval);
        else
            snprintf(buf + k, cap - (size_t)k, ", held-out %.1f%% at %lld", 100.0 * eval, eval_it);
    }
    return buf;
}

/* The task's name: "task" as a string, or the "name" of a task object. */
static const char *task_name(const json_t *job)
{
    const json_t *t = json_object_get(job, "task");
    if (json_is_object(t)) t = json_object_get(t, "name");
    return json_is_string(t) ? json_string_value(t) : "-";
}

/* The lines of the final evaluation (test trials): accuracy, ideal observer, psychometric. */
static void print_evaluation(const json_t *ev)
{
    char b[64];
    double acc = number_or_nan(ev, "accuracy"), ideal = number_or_nan(ev, "ideal");
    if (isfinite(acc))
        out_kv("accuracy", "%.2f%% of %s test trials", 100.0 * acc,
               out_member(ev, "trials", b, sizeof b));
    if (isfinite(ideal)) out_kv("ideal", "%.2f%% (ideal observer, same trials)", 100.0 * ideal);
    double loss = loss_total(json_object_get(ev, "loss"));
    if (isfinite(loss)) out_kv("test loss", "%.6g", loss);
    size_t i;
    const json_t *pt;
    json_array_foreach(json_object_get(ev, "psychometric"), i, pt)
    {
        out_kv(i ? "" : "psychometric", "coherence %+7.2f: p(choice 2) %.3f (%s trials)",
               number_or_nan(pt, "coherence"), number_or_nan(pt, "p_choice2"),
               out_member(pt, "n", b, sizeof b));
    }
}

void cli_training_print(const json_t *job)
{
    char b[64], t[256];
    out_kv("id", "%s", out_member(job, "id", b, sizeof b));
    out_kv("task", "%s", task_name(job));
    const char *st = cli_run_status(job);
    out_kv("status", "%s%s", st,
           !cli_run_status_final(st) && json_is_true(json_object_get(job, "cancel_requested"))
               ? " (cancel requested)"
               : "");
    const json_t *mid = json_object_get(job, "initial_model_id");
    out_kv("model", "%s", json_is_string(mid) ? json_string_value(mid) : "inline");
    out_kv("progress", "%s", progress_text(job, NULL, 0, t, sizeof t));
    cli_job_print_times(job);
    out_kv("attempts", "%lld", cli_run_member_int(job, "attempts"));
    const char *trained = cli_training_model(job);
    if (trained) out_kv("trained", "%s", trained);
    double final = loss_total(json_object_get(job, "loss"));
    if (isfinite(final)) out_kv("final loss", "%.6g", final);
    const json_t *ev = json_object_get(job, "evaluation");
    if (json_is_object(ev)) print_evaluation(ev);
    const json_t *v = json_object_get(job, "wall_s");
    if (json_is_number(v)) out_kv("wall", "%.1f s", json_number_value(v));
    const json_t *err = json_object_get(job, "error");
    if (json_is_object(err)) {
        const char *d = json_string_value(json_object_get(err, "detail"));
        const char *f = json_string_value(json_object_get(err, "field"));
        out_kv("error", "%s%s%s", f && *f ? f : "", f && *f ? ": " : "", d ? d : "-");
    }
}

int cli_training_outcome(const json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *st = cli_run_status(job);
    const json_t *p = json_object_get(job, "progress");
    if (!id) id = "?";
    if (strcmp(st, "cancelled") == 0) {
        cli_error("training %s was cancelled after %lld of %lld iterations", id,
                  cli_run_member_int(p, "done"), cli_run_member_int(p, "total"));
        return CLI_ECANCELLED;
    }
    if (strcmp(st, "failed") == 0) {
        const char *d = json_string_value(json_object_get(json_object_get(job, "error"), "detail"));
        cli_error("training %s failed: %s", id, d && *d ? d : "no reason given");
        return CLI_EFAILED;
    }
    if (strcmp(st, "succeeded") == 0 && !cli_training_model(job)) {
        cli_error("training %s succeeded but the server's answer names no trained model", id);
        return CLI_EHTTP;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* wait                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Rows read at most before the iteration a follower starts at (the held-out accuracy is
 *  looked for in them). */
#define CURVE_LOOK_BACK 1000

/* Read the curve rows of training @p id stored since @p ho->read (at first the last
 * CURVE_LOOK_BACK before @p job's progress) and keep the last held-out accuracy in @p ho. A
 * failed read changes nothing (the progress is shown without it; the next poll tells what is
 * wrong). */
static void read_held_out(cli_http *h, const char *id, const json_t *job, held_out *ho)
{
    long long done = cli_run_member_int(json_object_get(job, "progress"), "done");
    if (ho->read < 0) ho->read = done > CURVE_LOOK_BACK ? done - CURVE_LOOK_BACK : 0;
    if (done <= ho->read) return;
    char after[32];
    snprintf(after, sizeof after, "%lld", ho->read);
    cli_url u = {0};
    cli_job_path(&u, "trainings", id, "/curve");
    cli_url_add_query(&u, "after", after);
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    if (path && cli_http_request(h, "GET", path, NULL, 0, NULL, 0, &r) == CLI_OK &&
        r.status == 200) {
        size_t i;
        const json_t *row;
        json_array_foreach(json_object_get(r.json, "rows"), i, row)
        {
            long long it = (long long)number_or_nan(row, "iteration");
            double acc = number_or_nan(row, "eval_accuracy");
            if (it > ho->read) ho->read = it;
            if (isfinite(acc)) {
                ho->it = it;
                ho->acc = acc;
            }
        }
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
}

/* Show how far @p job is: the bar on a terminal; else, unless quiet, a line on stderr each time
 * another LINE_STEP of it is done (*shown: the fraction last reported, -1 before the first). */
static void show_progress(const char *id, const json_t *job, const held_out *ho, int quiet,
                          double *shown)
{
    char detail[256];
    const char *st = cli_run_status(job);
    double f = json_number_value(json_object_get(json_object_get(job, "progress"), "fraction"));
    if (out_progress_enabled()) {
        out_progress_text(id, st, f, progress_text(job, ho, 1, detail, sizeof detail));
        return;
    }
    if (quiet || strcmp(st, "running") != 0) return;
    if (*shown >= 0 && f < *shown + LINE_STEP && f < 1) return;
    *shown = f;
    fprintf(stderr, "training %s: %s\n", id, progress_text(job, ho, 0, detail, sizeof detail));
    fflush(stderr);
}

/* The kind's wait: long polls of GET /v1/trainings/ID?wait=... about once a second (so that
 * the loss moves), with the curve rows stored since the last poll for the held-out accuracy;
 * every POLL_MAX_S with -q off a terminal (and no curve). Outcomes as cli_job_wait(). */
static int training_wait(cli_http *h, const char *id, const cli_job_wait_opts *o,
                         cli_http_resp *last)
{
    double deadline = o->timeout > 0 ? eir_clock_mono() + o->timeout : 0, shown = -1;
    int shows = !o->quiet || out_progress_enabled();
    double poll = shows ? POLL_BAR_S : POLL_MAX_S;
    held_out ho = {-1, 0, NAN};
    char seen[256] = "queued";
    memset(last, 0, sizeof *last);
    for (;;) {
        double w = poll;
        if (deadline) {
            double rem = deadline - eir_clock_mono();
            if (rem <= 0) {
                out_progress_end();
                cli_error("training %s has not ended after %g s (%s); it goes on: 'eirnn "
                          "trainings wait %s' waits again, 'eirnn trainings cancel %s' stops it",
                          id, o->timeout, seen, id, id);
                return CLI_ETIMEOUT;
            }
            if (rem < w) w = rem;
        }
        char ws[32];
        snprintf(ws, sizeof ws, "%.3f", w);
        cli_url u = {0};
        cli_job_path(&u, "trainings", id, "");
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
        const json_t *job = cli_answer_object(&r);
        if (!job) {
            out_progress_end();
            cli_http_resp_free(&r);
            return CLI_EHTTP;
        }
        int running = strcmp(cli_run_status(job), "running") == 0;
        if (shows && running) read_held_out(h, id, job, &ho);
        char prog[200];
        snprintf(seen, sizeof seen, "%s, %s", cli_run_status(job),
                 progress_text(job, &ho, 0, prog, sizeof prog));
        show_progress(id, job, &ho, o->quiet, &shown);
        if (cli_run_status_final(cli_run_status(job))) {
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

/* After `trainings wait` and `train --wait`: the server's JSON (--json), the trained model's id
 * alone (-q), or the training as `get` shows it; then the outcome's exit code. */
static int training_finish(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o)
{
    (void)h;
    const json_t *job = r->json;
    const char *model = cli_training_model(job);
    if (cli_opts.json)
        out_body(r);
    else if (o->quiet && model)
        printf("%s\n", model);
    else if (!o->quiet)
        cli_training_print(job);
    fflush(stdout);
    return cli_training_outcome(job);
}

/* ------------------------------------------------------------------------------------------ */
/* get, show, wait, cancel, delete                                                            */
/* ------------------------------------------------------------------------------------------ */

static const char get_help[] =
    "usage: eirnn trainings get ID\n"
    "\n"
    "Show a training: its task, status, progress (iterations, the latest loss and accuracy),\n"
    "times and, once it has succeeded, the trained model's id, the final loss and the\n"
    "evaluation on held-out test trials (accuracy, the ideal observer's, the psychometric\n"
    "curve), or why it failed. The exit code is 0 whatever its state ('eirnn trainings wait'\n"
    "ends with its outcome). --json prints the server's resource as it is.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char wait_help[] =
    "usage: eirnn trainings wait ID [--timeout S] [-q]\n"
    "\n"
    "Wait for a training to end (long polls), then show it as 'eirnn trainings get' does.\n"
    "While it runs, stderr shows the iterations done, the loss and accuracy of the latest\n"
    "batch and the accuracy on held-out trials at the last evaluation: a progress bar on a\n"
    "terminal, else a line each time another 5% is done.\n"
    "exit codes: 0 succeeded, 6 cancelled, 7 failed (a training whose loss stops being\n"
    "finite fails: 'the training diverged'), 8 still running at --timeout (it goes on).\n"
    "\n"
    "options:\n"
    "  -t, --timeout S    give up waiting after S seconds (default: wait as long as it takes)\n"
    "  -q, --quiet        print only the trained model's id (nothing when it failed) and no\n"
    "                     progress lines\n" CLI_CONN_HELP;

static const char cancel_help[] =
    "usage: eirnn trainings cancel ID\n"
    "\n"
    "Cancel a queued or running training. A queued one is cancelled at once, a running one\n"
    "stops at its next iteration ('eirnn trainings wait ID' waits for that); no model is\n"
    "made. One that already ended otherwise is refused (409, exit 4).\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char delete_help[] =
    "usage: eirnn trainings delete ID\n"
    "\n"
    "Delete an ended training, its checkpoint and its curve. The model it trained is kept\n"
    "('eirnn models delete' deletes it). A queued or running one is refused (409, exit 4):\n"
    "cancel it first.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const struct option wait_longopts[] = {CLI_CONN_LONGOPTS,
                                              {"timeout", required_argument, NULL, 't'},
                                              {"quiet", no_argument, NULL, 'q'},
                                              {NULL, 0, NULL, 0}};
/* No `show`: the web app has no page of a training. */
static const char *const one_helps[] = {get_help, wait_help, cancel_help, delete_help, NULL};

const cli_job_kind cli_training_job_kind = {.collection = "trainings",
                                            .noun = "training",
                                            .stop_hint = "it stops at its next iteration",
                                            .helps = one_helps,
                                            .wait_shortopts = "t:q",
                                            .wait_longopts = wait_longopts,
                                            .print = cli_training_print,
                                            .finish = training_finish,
                                            .submit_finish = training_finish,
                                            .wait = training_wait};

static int trainings_get(int argc, char **argv)
{
    return cli_job_one(argc, argv, &cli_training_job_kind, CLI_JOB_GET);
}

static int trainings_wait(int argc, char **argv)
{
    return cli_job_one(argc, argv, &cli_training_job_kind, CLI_JOB_WAIT);
}

static int trainings_cancel(int argc, char **argv)
{
    return cli_job_one(argc, argv, &cli_training_job_kind, CLI_JOB_CANCEL);
}

static int trainings_delete(int argc, char **argv)
{
    return cli_job_one(argc, argv, &cli_training_job_kind, CLI_JOB_DELETE);
}

/* ------------------------------------------------------------------------------------------ */
/* curve                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static const char curve_help[] =
    "usage: eirnn trainings curve ID [--format csv|json] [-o FILE] [--after ITER]\n"
    "\n"
    "Print the loss and accuracy curve of a training (GET /v1/trainings/ID/curve), readable\n"
    "while it runs: a row per iteration recorded (iteration, loss, task_loss, l2_weights,\n"
    "l2_rates, grad_norm, accuracy on the iteration's trials, eval_accuracy on held-out\n"
    "trials where evaluated; empty in CSV, null in JSON where there is none). JSON is the\n"
    "server's {\"training_id\", \"status\", \"iterations_done\", \"iterations\", \"rows\",\n"
    "\"next_after\"}. At most 100000 rows come at once; --after continues after the last.\n"
    "\n"
    "options:\n"
    "      --format F     csv or json (default: json for an -o FILE.json, else csv)\n"
    "  -o, --output FILE  write to FILE (whole or not at all) instead of stdout\n"
    "      --after ITER   only the rows after iteration ITER (to follow a running training)\n"
    "  -q, --quiet        no 'wrote FILE' line on stderr\n" CLI_CONN_HELP;

typedef struct curve_opts {
    const char *format, *out, *after;
    int quiet;
} curve_opts;

enum { OPT_FORMAT = CLI_OPT_OWN, OPT_AFTER };

static int curve_opt(void *ctx, int c, const char *arg)
{
    curve_opts *o = ctx;
    long long after;
    switch (c) {
    case OPT_FORMAT:
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "json") != 0) {
            cli_error("--format must be csv or json, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->format = arg;
        return CLI_OK;
    case OPT_AFTER:
        o->after = arg;
        return cli_parse_int("--after", arg, 0, 1LL << 53, &after);
    case 'o':
        o->out = arg;
        return CLI_OK;
    case 'q':
        o->quiet = 1;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

static int trainings_curve(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"format", required_argument, NULL, OPT_FORMAT},
                                       {"output", required_argument, NULL, 'o'},
                                       {"after", required_argument, NULL, OPT_AFTER},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    curve_opts o = {0};
    int pos;
    int rc =
        cli_parse(argc, argv, "trainings curve", "o:q", lo, curve_help, curve_opt, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *id = argv[pos];
    const char *format = o.format                                 ? o.format
                         : o.out && cli_ends_with(o.out, ".json") ? "json"
                         : cli_opts.json && !o.out                ? "json"
                                                                  : "csv";
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_job_path(&u, "trainings", id, "/curve");
    cli_url_add_query(&u, "format", format);
    if (o.after) cli_url_add_query(&u, "after", o.after);
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    if (!path) {
        rc = CLI_EIO;
    } else if (o.out) {
        rc = cli_http_download(h, path, o.out, &r);
        if (rc == CLI_OK && !o.quiet)
            fprintf(stderr, "wrote %s (training %s's curve, %s, %lld bytes)\n", o.out, id, format,
                    r.bytes);
    } else {
        rc = cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r);
        if (rc == CLI_OK) out_body(&r);
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
    "usage: eirnn trainings list [--status S] [--model ID] [--task T] [--label K:V]...\n"
    "                            [--limit N] [--all] [--cursor C]\n"
    "\n"
    "List trainings, newest first: id, task, status, progress, final loss (once succeeded),\n"
    "the model it started from, the model it trained, creation time.\n"
    "\n"
    "options:\n"
    "  -s, --status S     only those in status S (queued, running, succeeded, failed or\n"
    "                     cancelled)\n"
    "  -m, --model ID     only those that started from the stored model ID\n"
    "      --task T       only those of task T (perceptual_decision_making, ...)\n" CLI_LABEL_HELP
    "  -n, --limit N      trainings per page (1 to 1000; default: the server's)\n"
    "  -a, --all          every page, not only the first\n"
    "      --cursor C     start at the page of this cursor\n" CLI_CONN_HELP;

typedef struct list_opts {
    const char *status, *model, *task;
    cli_list_paging paging;
    cli_labels labels;
} list_opts;

enum { OPT_TASK = CLI_OPT_OWN + 1 };

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    switch (c) {
    case 's':
        if (!cli_run_status_known(arg) || strcmp(arg, "diverged") == 0) {
            cli_error("--status must be queued, running, succeeded, failed or cancelled, not '%s'",
                      arg);
            return CLI_EUSAGE;
        }
        o->status = arg;
        return CLI_OK;
    case 'm':
        o->model = arg;
        return CLI_OK;
    case OPT_TASK:
        o->task = arg;
        return CLI_OK;
    case 'l':
        return cli_label_opt(&o->labels, arg);
    default:
        return cli_list_opt(&o->paging, c, arg);
    }
}

static void list_row(const json_t *job, out_table *t)
{
    char prog[32], loss[32] = "-", tb[32];
    snprintf(prog, sizeof prog, "%5.1f%%",
             100.0 *
                 json_number_value(json_object_get(json_object_get(job, "progress"), "fraction")));
    double l = loss_total(json_object_get(job, "loss")); /* list items: the final loss only */
    if (!isfinite(l)) l = number_or_nan(latest_row(job), "loss");
    if (isfinite(l)) snprintf(loss, sizeof loss, "%.4g", l);
    const json_t *mid = json_object_get(job, "initial_model_id");
    const char *row[8] = {
        json_string_value(json_object_get(job, "id")),
        task_name(job),
        cli_run_status(job),
        prog,
        loss,
        json_is_string(mid) ? json_string_value(mid) : "inline",
        cli_training_model(job),
        out_time(json_string_value(json_object_get(job, "created_at")), tb, sizeof tb)};
    out_table_add(t, row);
}

static int trainings_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"status", required_argument, NULL, 's'},
                                       {"model", required_argument, NULL, 'm'},
                                       {"task", required_argument, NULL, OPT_TASK},
                                       {"label", required_argument, NULL, 'l'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    list_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "trainings list", "s:m:n:al:", lo, list_help, list_opt, &o, 0, 0,
                       &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    static const char *const head[] = {"ID",   "TASK",  "STATUS",  "PROGRESS",
                                       "LOSS", "MODEL", "TRAINED", "CREATED"};
    const char *const query[] = {"status", o.status, "model_id", o.model, "task", o.task, NULL};
    cli_list l = {.path = "/v1/trainings",
                  .query = query,
                  .paging = o.paging,
                  .labels = &o.labels,
                  .items = "trainings",
                  .item = "training",
                  .ncols = 8,
                  .head = head,
                  .add_row = list_row};
    rc = cli_list_print(h, &l);
    cli_http_close(h);
    return out_finish(rc);
}

int cli_trainings(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"get", trainings_get, "get ID"},
        {"list", trainings_list,
         "list [--status S] [--model ID] [--task T] [--label K:V]... [--limit N] [--all]\n"
         "                           [--cursor C]"},
        {"wait", trainings_wait, "wait ID [--timeout S] [-q]"},
        {"curve", trainings_curve, "curve ID [--format csv|json] [-o FILE] [--after ITER]"},
        {"cancel", trainings_cancel, "cancel ID"},
        {"delete", trainings_delete, "delete ID"},
    };
    return cli_dispatch("trainings", subs, sizeof subs / sizeof *subs,
                        "Trainings of eirnnd (/v1/trainings): follow them, read their loss "
                        "curves, cancel and delete them ('eirnn train' submits them).",
                        argc, argv);
}
