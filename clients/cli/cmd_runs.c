/**
 * @file cmd_runs.c
 * @brief `eirnn runs get|show|list|wait|cancel|delete` and the dispatch of `eirnn runs`; submit is
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
    "Show a run: status, progress, times, its sweep (a point of one) and labels and, once it\n"
    "has ended, what ran (trials, steps, seed, V0 taken from another run), its summary, its\n"
    "metrics (when asked for), its results (variables and shapes, V_final among them) or why\n"
    "it failed. The exit code is 0 whatever the run's state ('eirnn runs wait' ends with the\n"
    "run's outcome). --json prints the server's resource as it is.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char show_help[] =
    "usage: eirnn runs show ID\n"
    "\n"
    "Show a run as 'eirnn runs get' does, then the address of its page in eirnnd's web app\n"
    "(rates, heat map, traces, downloads) on a last line 'page: URL/#/runs/ID', URL being the\n"
    "address eirnn talks to (--url). --json prints the server's resource with a member \"page\"\n"
    "added.\n"
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

/* After `runs wait`: the run's outcome, printed unless -q. */
static int run_wait_finish(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o)
{
    (void)h;
    return o->quiet ? cli_run_outcome(r->json) : cli_run_finish(r, 0);
}

/* After `runs submit --wait`: the run (its id with -q) and its outcome. */
static int run_submit_finish(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o)
{
    (void)h;
    return cli_run_finish(r, o->quiet);
}

static const struct option wait_longopts[] = {CLI_CONN_LONGOPTS,
                                              {"timeout", required_argument, NULL, 't'},
                                              {"quiet", no_argument, NULL, 'q'},
                                              {NULL, 0, NULL, 0}};
static const char *const one_helps[] = {get_help, wait_help, cancel_help, delete_help, show_help};

const cli_job_kind cli_run_job_kind = {.collection = "runs",
                                       .noun = "run",
                                       .stop_hint = "it stops within a few steps",
                                       .helps = one_helps,
                                       .wait_shortopts = "t:q",
                                       .wait_longopts = wait_longopts,
                                       .print = cli_run_print,
                                       .finish = run_wait_finish,
                                       .submit_finish = run_submit_finish};

static int run_one(int argc, char **argv, cli_job_op op)
{
    return cli_job_one(argc, argv, &cli_run_job_kind, op);
}

static int runs_get(int argc, char **argv)
{
    return run_one(argc, argv, CLI_JOB_GET);
}

static int runs_show(int argc, char **argv)
{
    return run_one(argc, argv, CLI_JOB_SHOW);
}

static int runs_wait(int argc, char **argv)
{
    return run_one(argc, argv, CLI_JOB_WAIT);
}

static int runs_cancel(int argc, char **argv)
{
    return run_one(argc, argv, CLI_JOB_CANCEL);
}

static int runs_delete(int argc, char **argv)
{
    return run_one(argc, argv, CLI_JOB_DELETE);
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const char list_help[] =
    "usage: eirnn runs list [--status S] [--model ID] [--sweep ID] [--label K:V]... [--limit N]\n"
    "                       [--all] [--cursor C]\n"
    "\n"
    "List runs, newest first: id, status, progress, model, creation time.\n"
    "\n"
    "options:\n"
    "  -s, --status S     only runs in state S: queued, running, succeeded, failed, diverged,\n"
    "                     cancelled\n"
    "  -m, --model ID     only runs of the stored model ID\n"
    "      --sweep ID     only the runs (points) of sweep ID\n" CLI_LABEL_HELP
    "  -n, --limit N      runs per page, 1 to 1000 (default: the server's, 50)\n"
    "  -a, --all          follow the pages to the end\n"
    "      --cursor C     start at this page (the next_cursor of an earlier page)\n" CLI_CONN_HELP;

static int runs_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"status", required_argument, NULL, 's'},
                                       {"model", required_argument, NULL, 'm'},
                                       {"label", required_argument, NULL, 'l'},
                                       {"sweep", required_argument, NULL, CLI_OPT_OWN + 1},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    static const cli_job_list_kind kind = {
        .collection = "runs",
        .item = "run",
        .help = list_help,
        .longopts = lo,
        .diverged = 1,
        .sweep_opt = CLI_OPT_OWN + 1,
        .statuses = "queued, running, succeeded, failed, diverged or cancelled"};
    return cli_job_list(argc, argv, &kind);
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
         "                    [--segment FROM:TO=VALUES]... [--input-noise SIGMA:SEED] "
         "[--V0-from RUN[:TRIAL]]\n"
         "                    [--label K:V]... [--metrics-window [NAME=]VAR:FROM:TO]... "
         "[--settle STEPS:TOL]\n"
         "                    [--wait [--timeout S]] [--idempotency-key K] [-q]"},
        {"get", runs_get, "get ID"},
        {"show", runs_show, "show ID (as get, and the address of its page in the web app)"},
        {"list", runs_list,
         "list [--status S] [--model ID] [--sweep ID] [--label K:V]... [--limit N] [--all]\n"
         "                  [--cursor C]"},
        {"wait", runs_wait, "wait ID [--timeout S] [-q]"},
        {"cancel", runs_cancel, "cancel ID"},
        {"delete", runs_delete, "delete ID"},
    };
    return cli_dispatch("runs", subs, sizeof subs / sizeof *subs,
                        "Runs of eirnnd (/v1/runs): queue them, follow them, cancel and delete "
                        "them.",
                        argc, argv);
}
