/**
 * @file cmd_runs.c
 * @brief `eirnn runs get|list|wait|cancel|delete` and the dispatch of `eirnn runs`; submit is
 *        cmd_runs_submit.c, printing a run cmd_runs_show.c, waiting cmd_runs_wait.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_runs.h"

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
        rc = cli_run_wait(h, id, o.timeout, &r);
        if (rc == CLI_OK) {
            if (o.quiet)
                rc = cli_run_outcome(r.json);
            else
                rc = cli_run_finish(&r, 0);
        }
        break;
    case ONE_GET:
        path = cli_run_path(&u, id, "");
        rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK && !cli_answer_object(&r)) rc = CLI_EHTTP;
        if (rc == CLI_OK) {
            if (cli_opts.json)
                out_body(&r);
            else
                cli_run_print(r.json);
        }
        break;
    case ONE_CANCEL:
        path = cli_run_path(&u, id, "/cancel");
        rc = path ? cli_http_call(h, "POST", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK && !cli_answer_object(&r)) rc = CLI_EHTTP;
        if (rc == CLI_OK) {
            if (cli_opts.json)
                out_body(&r);
            else if (strcmp(cli_run_status(r.json), "cancelled") == 0)
                printf("run %s: cancelled\n", id);
            else
                printf("run %s: cancel requested; it stops within a few steps ('eirnn runs "
                       "wait %s')\n",
                       id, id);
        }
        break;
    case ONE_DELETE:
        path = cli_run_path(&u, id, "");
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
    const char *status, *model;
    cli_list_paging paging;
} list_opts;

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    switch (c) {
    case 's':
        if (!cli_run_status_known(arg)) {
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
    default:
        return cli_list_opt(&o->paging, c, arg);
    }
}

/** Add @p run's row (id, status, progress, model, creation time) to @p t. */
static void list_row(const json_t *run, out_table *t)
{
    char prog[32], tb[32];
    const json_t *p = json_object_get(run, "progress");
    snprintf(prog, sizeof prog, "%5.1f%%",
             100.0 * json_number_value(json_object_get(p, "fraction")));
    const json_t *mid = json_object_get(run, "model_id");
    const char *row[5] = {
        json_string_value(json_object_get(run, "id")), cli_run_status(run), prog,
        json_is_string(mid) ? json_string_value(mid) : "inline",
        out_time(json_string_value(json_object_get(run, "created_at")), tb, sizeof tb)};
    out_table_add(t, row);
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
    const char *const query[] = {"status", o.status, "model_id", o.model, NULL};
    cli_list l = {.path = "/v1/runs",
                  .query = query,
                  .paging = o.paging,
                  .items = "runs",
                  .item = "run",
                  .ncols = 5,
                  .head = head,
                  .add_row = list_row};
    rc = cli_list_print(h, &l);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */

int cli_runs(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"submit", cli_runs_submit,
         "submit (--model ID | --model-file FILE) [--inputs FILE.npy|.csv|.json] "
         "[--run-file RUN.json]\n"
         "                    [--steps T] [--trials B] [--dt X] [--seed N] [--integrator I] "
         "[--precision P] [--V0 X]\n"
         "                    [--record VARS] [--every K] [--neurons LIST] [--time-limit S]\n"
         "                    [--wait [--timeout S]] [--idempotency-key K] [-q]"},
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
