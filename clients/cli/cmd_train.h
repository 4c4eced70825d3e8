/**
 * @file cmd_train.h
 * @brief Private to `eirnn train` and `eirnn trainings` (cmd_train.c, cmd_trainings.c): a
 *        training job of eirnnd as JSON (GET /v1/trainings/ID), printed, followed with its
 *        loss on stderr, and turned into an exit code.
 *
 * Every function prints its own error line; none keeps state between calls. A training is the
 * jansson object of the server's answer, borrowed (never freed here).
 */
#ifndef EIRNN_CLI_CMD_TRAIN_H
#define EIRNN_CLI_CMD_TRAIN_H

#include "cmd.h"
#include "cmd_jobs.h"

/** Trainings as `eirnn trainings` and `eirnn train` handle them (cmd_trainings.c). */
extern const cli_job_kind cli_training_job_kind;

/** The id of the model the training produced ("model_id"), or NULL unless it succeeded. */
const char *cli_training_model(const json_t *job);

/** Print @p job as `eirnn trainings get` shows it (key-value lines on stdout). */
void cli_training_print(const json_t *job);

/**
 * The exit code of an ended training, with a line on stderr for any end but success:
 * CLI_ECANCELLED, CLI_EFAILED (a diverged training fails); CLI_EHTTP for a succeeded one whose
 * document names no trained model; CLI_OK for a succeeded (or unended) one.
 */
int cli_training_outcome(const json_t *job);

#endif /* EIRNN_CLI_CMD_TRAIN_H */
