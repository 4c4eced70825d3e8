/* eirnn: the command-line tool. Subcommands are dispatched from a static table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"

/** One subcommand: its name, its entry point (argv[0] is the name) and a one-line summary. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"simulate", cli_simulate, "run a model offline; write .npy results and meta.json"},
    {"models", cli_models, "store, list, show and delete models in eirnnd"},
    {"model", cli_models, "the same as models; 'model export' writes a model's matrices offline"},
    {"runs", cli_runs, "submit runs to eirnnd, wait for them, show, list, cancel, delete"},
    {"sweeps", cli_sweeps, "sweep model and run parameters: one run per point, one table"},
    {"results", cli_results, "download a run's results as .npy, CSV or JSON (sliced)"},
    {"analyze", cli_analyze, "submit an analysis (spectrum, fixed points, ...) to eirnnd"},
    {"analyses", cli_analyses, "follow analyses in eirnnd, download their results"},
    {"train", cli_train,
     "train a model on a task in eirnnd: progress with the loss, then the model"},
    {"trainings", cli_trainings, "follow trainings in eirnnd, read their loss curves"},
    {"health", cli_health, "check that eirnnd is up (GET /healthz)"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("eirnn: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_report(const char *file, const eir_error *err)
{
    const char *msg = err->message[0] ? err->message : eir_status_name(err->status);
    if (err->field[0])
        cli_error("%s: %s: %s", file, err->field, msg);
    else
        cli_error("%s: %s", file, msg);
    switch (err->status) {
    case EIR_EINVAL:
        return CLI_EINVALID;
    case EIR_ECANCELLED:
        return CLI_ECANCELLED;
    default:
        return CLI_EIO;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: eirnn [--help | --version] [--url URL] [--token T] [--json] COMMAND "
               "[ARGS...]\n\n"
               "Simulate conductance-gated excitatory/inhibitory RNNs, offline or with eirnnd.\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'eirnn COMMAND --help' describes a command.\n\n"
               "options of the server commands (also after the command):\n"
               "  --url URL      eirnnd's address (default $EIRNN_URL, else " CLI_DEFAULT_URL ")\n"
               "  --token T      bearer token (default $EIRNN_TOKEN)\n"
               "  --json         print the server's JSON as it is, for scripts\n\n"
               "exit codes: 0 ok, 1 I/O or internal error, 2 usage, 3 invalid model or run\n"
               "            (offline, or HTTP 400/422), 4 other HTTP error or server unreachable,\n"
               "            5 run diverged, 6 cancelled, 7 run failed, 8 timed out waiting\n");
}

int main(int argc, char **argv)
{
    int skip = cli_global_options(argc, argv); /* --url, --token, --json before the command */
    if (skip < 0) return CLI_EUSAGE;
    argc -= skip;
    argv += skip;
    if (argc < 2) {
        usage(stderr);
        return CLI_EUSAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("eirnn %s (engine %s, noise %s)\n", EIRNN_VERSION, EIR_ENGINE_VERSION, EIR_RNG_NAME);
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    if (cmd[0] == '-')
        cli_error("unknown option '%s' (try 'eirnn --help')", cmd);
    else
        cli_error("unknown command '%s' (try 'eirnn --help')", cmd);
    return CLI_EUSAGE;
}
