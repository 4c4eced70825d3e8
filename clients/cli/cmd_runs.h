/**
 * @file cmd_runs.h
 * @brief Private to `eirnn runs` (cmd_runs*.c): a run of eirnnd as JSON (GET /v1/runs/ID),
 *        printed, turned into an exit code and waited for.
 *
 * Every function prints its own error line; none keeps state between calls. A run is the
 * jansson object of the server's answer, borrowed (never freed here).
 */
#ifndef EIRNN_CLI_CMD_RUNS_H
#define EIRNN_CLI_CMD_RUNS_H

#include "cmd.h"
#include "cmd_jobs.h"

/** The run's "status" ("?" when it has none). */
const char *cli_run_status(const json_t *run);

/** Whether status @p s is an end: succeeded, failed, diverged or cancelled. */
int cli_run_status_final(const char *s);

/** Whether @p s is a status a run can have (an end, queued or running). */
int cli_run_status_known(const char *s);

/** The integer member @p key of object @p o (0 when absent, or @p o is not an object). */
long long cli_run_member_int(const json_t *o, const char *key);

/** "/v1/runs/<id><suffix>" in @p u. @return its text, or NULL after "out of memory". */
const char *cli_run_path(cli_url *u, const char *id, const char *suffix);

/** Print @p run as `eirnn runs get` shows it (key-value lines on stdout). */
void cli_run_print(const json_t *run);

/**
 * The exit code of an ended run, with a line on stderr for any end but success:
 * CLI_EDIVERGED, CLI_ECANCELLED, CLI_EFAILED; CLI_OK for a succeeded (or unended) run.
 */
int cli_run_outcome(const json_t *run);

/** Print the ended run of @p r (as --json or -q asks) and return its outcome's exit code. */
int cli_run_finish(const cli_http_resp *r, int quiet);

/**
 * Long-poll GET /v1/runs/ID?wait=... until the run has ended or @p timeout_s (0 = none) has
 * passed, drawing the progress bar on a terminal. On CLI_OK *last holds the answer with the
 * ended run (free it with cli_http_resp_free). A full or restarting server (503) is asked
 * again after its Retry-After. @return CLI_OK; CLI_ETIMEOUT (message printed, the run goes
 * on); an HTTP error's code (*last holds nothing to free).
 */
int cli_run_wait(cli_http *h, const char *id, double timeout_s, cli_http_resp *last);

/**
 * cli_run_wait() for any job collection of eirnnd: long-poll GET /v1/@p collection/ID?wait=...
 * ("runs", "analyses"); @p noun ("run", "analysis") names the job in the timeout message.
 * Same outcomes as cli_run_wait().
 */
int cli_job_wait(cli_http *h, const char *collection, const char *noun, const char *id,
                 double timeout_s, cli_http_resp *last);

/** Runs as `eirnn runs` handles them (cmd_runs.c): get, wait, cancel, delete, submit. */
extern const cli_job_kind cli_run_job_kind;

/** getopt codes of the options cmd_runs_fields.c handles (above those of cmd_runs_submit.c). */
enum {
    CLI_RUN_OPT_SEGMENT = CLI_OPT_OWN + 64,
    CLI_RUN_OPT_INPUT_NOISE,
    CLI_RUN_OPT_V0_FROM,
    CLI_RUN_OPT_LABEL,
    CLI_RUN_OPT_WINDOW,
    CLI_RUN_OPT_SETTLE
};

/**
 * What --segment, --input-noise, --V0-from, --label, --metrics-window and --settle of
 * `runs submit` give, each parsed and checked as it comes (owned JSON, freed by
 * cli_run_fields_free()).
 */
typedef struct cli_run_fields {
    json_t *segments; /**< --segment: {"from", "to", "value"[, "to_value"]}, in order */
    json_t *noise;    /**< --input-noise: {"sigma", "seed"}, or NULL */
    json_t *v0;       /**< --V0-from: {"run_id"[, "trial"]}, or NULL */
    json_t *labels;   /**< --label: {key: value} */
    json_t *windows;  /**< --metrics-window: {"var", "from", "to"[, "name"]}, in order */
    json_t *settle;   /**< --settle: {"steps", "tol"}, or NULL */
} cli_run_fields;

/** Empty @p x. @return CLI_OK, or CLI_EIO (out of memory, printed; nothing to free). */
int cli_run_fields_init(cli_run_fields *x);

/** Free what @p x holds. */
void cli_run_fields_free(cli_run_fields *x);

/**
 * Handle option @p code (a CLI_RUN_OPT_*) with its argument: parse and check it into @p x.
 * @return 1 with *@p rc CLI_OK, CLI_EUSAGE (a malformed value, the message naming the
 *         option) or CLI_EIO when it was one of them; 0 when it was not.
 */
int cli_run_fields_opt(cli_run_fields *x, int code, const char *arg, int *rc);

/**
 * Put @p x into @p run: segments appended to inputs.segments (after the run file's), noise
 * set as inputs.noise, V0, labels merged into the run's, windows appended to
 * metrics.windows and settle set as metrics.settle.
 * @return CLI_OK; CLI_EUSAGE (printed) when the inputs are not an object with "steps" (for
 *         --segment / --input-noise), a run file's member has the wrong type, or --settle
 *         comes without any window; CLI_EIO (out of memory).
 */
int cli_run_fields_apply(const cli_run_fields *x, json_t *run);

/** `eirnn runs submit` (cmd_runs_submit.c); argv[0] is "submit". @return the exit code. */
int cli_runs_submit(int argc, char **argv);

#endif /* EIRNN_CLI_CMD_RUNS_H */
