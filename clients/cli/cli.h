/**
 * @file cli.h
 * @brief Shared pieces of the eirnn command-line tool: exit codes, error printing, commands.
 */
#ifndef EIRNN_CLI_H
#define EIRNN_CLI_H

#include "eir.h"

/** Exit codes of every eirnn command. */
enum {
    CLI_OK = 0,         /**< success */
    CLI_EIO = 1,        /**< I/O or internal error (includes out of memory) */
    CLI_EUSAGE = 2,     /**< bad command line */
    CLI_EINVALID = 3,   /**< invalid model or run (JSON syntax, schema, engine validation; for
                             the HTTP commands also a 400 or 422 answer of the server) */
    CLI_EHTTP = 4,      /**< any other HTTP error answer, or the server cannot be reached */
    CLI_EDIVERGED = 5,  /**< the run diverged; outputs were written (or kept by the server) */
    CLI_ECANCELLED = 6, /**< the run was cancelled (SIGINT/SIGTERM, or on the server) */
    CLI_EFAILED = 7,    /**< the run failed on the server (time limit, internal error) */
    CLI_ETIMEOUT = 8    /**< --timeout passed while waiting; the run goes on */
};

#ifndef EIRNN_VERSION
#define EIRNN_VERSION "0.0.0"
#endif

/** Print "eirnn: error: <formatted message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Print an engine or schema error as "eirnn: error: <file>: <pointer>: <message>" (the pointer
 * part is left out when the error names no field) and return the exit code for its status:
 * CLI_EINVALID for EIR_EINVAL, CLI_ECANCELLED for EIR_ECANCELLED, CLI_EIO otherwise.
 */
int cli_report(const char *file, const eir_error *err);

/** `eirnn simulate`: argv[0] is "simulate". Returns the process exit code. */
int cli_simulate(int argc, char **argv);

/** `eirnn models create|list|get|show|delete` (cmd_models.c): argv[0] is "models". */
int cli_models(int argc, char **argv);

/** `eirnn model export MODEL.json -o DIR` (cmd_export.c): argv[0] is "export". */
int cli_model_export(int argc, char **argv);

/** `eirnn runs submit|get|show|list|cancel|delete|wait` (cmd_runs.c): argv[0] is "runs". */
int cli_runs(int argc, char **argv);

/** `eirnn results get|list` (cmd_results.c): argv[0] is "results". */
int cli_results(int argc, char **argv);

/** `eirnn analyze KIND ...` (cmd_analyze.c): argv[0] is "analyze". */
int cli_analyze(int argc, char **argv);

/** `eirnn analyses get|show|list|wait|results|cancel|delete` (cmd_analyses.c). */
int cli_analyses(int argc, char **argv);

/** `eirnn sweeps submit|get|show|list|wait|table|cancel|delete` (cmd_sweeps.c). */
int cli_sweeps(int argc, char **argv);

/** `eirnn train FILE.json [--wait]` (cmd_train.c): argv[0] is "train". */
int cli_train(int argc, char **argv);

/** `eirnn trainings get|list|wait|curve|cancel|delete` (cmd_trainings.c). */
int cli_trainings(int argc, char **argv);

/** `eirnn health`: GET /healthz; 0 when eirnnd answers 200, CLI_EHTTP otherwise. */
int cli_health(int argc, char **argv);

#endif /* EIRNN_CLI_H */
