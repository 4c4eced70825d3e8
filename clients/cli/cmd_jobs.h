/**
 * @file cmd_jobs.h
 * @brief Private to `eirnn runs` and `eirnn analyses` (cmd_runs.c, cmd_analyses.c): what the
 *        two job collections of eirnnd (/v1/runs, /v1/analyses) share on the command line:
 *        get, wait, cancel and delete of one job, listing them, and the pieces of printing one.
 *
 * Every function prints its own error line; none keeps state between calls. A job is the
 * jansson object of the server's answer, borrowed (never freed here).
 */
#ifndef EIRNN_CLI_CMD_JOBS_H
#define EIRNN_CLI_CMD_JOBS_H

#include "cmd.h"

/** "/v1/<collection>/<id><suffix>" in @p u. @return its text, or NULL after "out of memory". */
const char *cli_job_path(cli_url *u, const char *collection, const char *id, const char *suffix);

/** "2 x 3" (with @p sep between the sizes) of the JSON shape array @p shape, in @p buf. */
const char *cli_shape_text(const json_t *shape, const char *sep, char *buf, size_t cap);

/** Print the "status" (with " (cancel requested)" while it runs) and "model" lines of @p job. */
void cli_job_print_status(const json_t *job);

/** Print the "created", "started" and "finished" lines of @p job. */
void cli_job_print_times(const json_t *job);

/** The options of `<collection> wait`. */
typedef struct cli_job_wait_opts {
    double timeout;  /**< seconds; 0: wait as long as it takes */
    int quiet;       /**< -q */
    const char *out; /**< -o DIR (analyses only), borrowed; NULL: none */
} cli_job_wait_opts;

/** The subcommands get, wait, cancel, delete and show (get with its page's address) of one job. */
typedef enum cli_job_op {
    CLI_JOB_GET,
    CLI_JOB_WAIT,
    CLI_JOB_CANCEL,
    CLI_JOB_DELETE,
    CLI_JOB_SHOW
} cli_job_op;

/** How one job collection differs in get, wait, cancel and delete. Static, borrowed. */
typedef struct cli_job_kind {
    const char *collection;             /**< "runs": the path and the command's name */
    const char *noun;                   /**< "run": in the printed lines */
    const char *stop_hint;              /**< "it stops soon": after "cancel requested; " */
    const char *const *helps;           /**< the help of each cli_job_op, in its order */
    const char *wait_shortopts;         /**< "t:q" */
    const struct option *wait_longopts; /**< CLI_CONN_LONGOPTS and those of wait_shortopts */
    void (*print)(const json_t *job);   /**< `get` without --json */
    /** Print the ended job of @p r after `wait` and return the exit code to end with. */
    int (*finish)(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o);
    /** The same after `submit --wait` (or `analyze --wait`): -q prints the id. */
    int (*submit_finish)(cli_http *h, const cli_http_resp *r, const cli_job_wait_opts *o);
    /** How `wait` and `submit --wait` follow the job (outcomes as cli_job_wait()); NULL:
     *  cli_job_wait() with the steps' progress bar. */
    int (*wait)(cli_http *h, const char *id, const cli_job_wait_opts *o, cli_http_resp *last);
} cli_job_kind;

/**
 * `eirnn <collection> get|wait|cancel|delete|show ID`: parse argv (argv[0] is the subcommand),
 * do @p op on the job and print the outcome (`show`: as `get`, then its page's address, see
 * cli_show_print). @return the exit code.
 */
int cli_job_one(int argc, char **argv, const cli_job_kind *k, cli_job_op op);

/** The options of a command that submits a job (`runs submit`, `analyze`). */
typedef struct cli_job_submit_opts {
    const char *key;     /**< --idempotency-key, borrowed; NULL: none */
    int wait;            /**< --wait */
    cli_job_wait_opts w; /**< --timeout, -q, -o */
} cli_job_submit_opts;

/**
 * Handle option @p c if it is one of those of a submit: -k/--idempotency-key K (one line of 1
 * to 255 characters), -w/--wait, -t/--timeout S, -q/--quiet, -o/--output DIR.
 * @return 1 with *@p rc CLI_OK or CLI_EUSAGE (message printed) when it was; 0 when not.
 */
int cli_job_submit_opt(cli_job_submit_opts *o, int c, const char *arg, int *rc);

/**
 * POST @p body (@p len bytes, with Idempotency-Key @p key when not NULL) to /v1/<collection>.
 * Without @p wait print the new job (the server's JSON with --json, its id with -q, else as
 * `get`); with @p wait follow it to its end (an idempotent replay of an ended job at once) and
 * finish with k->submit_finish; at o->timeout print the job as submitted (--json) or its id (-q).
 * @return CLI_OK or the job's outcome; CLI_EHTTP for an answer without an id; CLI_EIO out of
 *         memory; CLI_ETIMEOUT; an HTTP error's code.
 */
int cli_job_submit(cli_http *h, const cli_job_kind *k, const char *body, size_t len,
                   const char *key, int wait, const cli_job_wait_opts *o);

/** How one job collection differs in `list`. Static, borrowed. */
typedef struct cli_job_list_kind {
    const char *collection; /**< "runs" */
    const char *item;       /**< "run" */
    const char *help;
    const struct option *longopts; /**< CLI_CONN_LONGOPTS, status, model, label, limit, all,
                                        cursor and, with kind_opt, kind (sweep with sweep_opt) */
    int kind_opt;         /**< the getopt code of --kind; 0: no --kind and no KIND column */
    int sweep_opt;        /**< the getopt code of --sweep ID (?sweep_id=); 0: none */
    int diverged;         /**< whether "diverged" is a status of the collection */
    const char *statuses; /**< "queued, ... or cancelled": in the error for a bad --status */
} cli_job_list_kind;

/** `eirnn <collection> list`: parse argv, print the table of jobs. @return the exit code. */
int cli_job_list(int argc, char **argv, const cli_job_list_kind *k);

#endif /* EIRNN_CLI_CMD_JOBS_H */
