/**
 * @file cmd_analyses.h
 * @brief Private to `eirnn analyze` and `eirnn analyses` (cmd_analyze.c, cmd_analyses.c): an
 *        analysis job of eirnnd as JSON (GET /v1/analyses/ID), printed, turned into an exit
 *        code, and its result arrays downloaded.
 *
 * Every function prints its own error line; none keeps state between calls. A job is the
 * jansson object of the server's answer, borrowed (never freed here).
 */
#ifndef EIRNN_CLI_CMD_ANALYSES_H
#define EIRNN_CLI_CMD_ANALYSES_H

#include "cmd.h"
#include "cmd_jobs.h"

/** Analyses as `eirnn analyses` and `eirnn analyze` handle them (cmd_analyses.c). */
extern const cli_job_kind cli_analysis_job_kind;

/** "/v1/analyses/<id><suffix>" in @p u. @return its text, or NULL after "out of memory". */
const char *cli_analysis_path(cli_url *u, const char *id, const char *suffix);

/** Print @p job as `eirnn analyses get` shows it (key-value lines on stdout). */
void cli_analysis_print(const json_t *job);

/**
 * The exit code of an ended analysis, with a line on stderr for any end but success:
 * CLI_ECANCELLED, CLI_EFAILED; CLI_OK for a succeeded (or unended) one.
 */
int cli_analysis_outcome(const json_t *job);

/**
 * Download the result arrays of the succeeded analysis @p job into directory @p dir (created
 * with its parents when missing) as DIR/NAME.FORMAT (@p format "npy", "csv" or "json"): every array
 * the job document lists, or only those of @p names (@p nnames of them; a name the job does not
 * have is an error). A line per file on stderr unless @p quiet. Each file is written whole or not
 * at all (cli_http_download).
 * @return CLI_OK; CLI_EUSAGE for an unknown name; CLI_EIO when DIR cannot be made or a file
 *         written; an HTTP error's code.
 */
int cli_analysis_download(cli_http *h, const json_t *job, const char *dir, const char *format,
                          char *const *names, int nnames, int quiet);

/**
 * Print the ended analysis of @p r (the server's JSON with --json, its id with @p quiet, else
 * as `analyses get`), download its results into @p dir when not NULL and it succeeded, and
 * return its outcome's exit code (or the download's error).
 */
int cli_analysis_finish(cli_http *h, const cli_http_resp *r, const char *dir, int quiet);

#endif /* EIRNN_CLI_CMD_ANALYSES_H */
