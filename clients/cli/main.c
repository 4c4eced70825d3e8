/* eirnn: the command-line tool. Subcommands are dispatched from a static table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/** One subcommand: its name, its entry point (argv[0] is the name) and a one-line summary. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"simulate", cli_simulate, "run a model offline; write .npy results and meta.json"},
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
    fprintf(f, "usage: eirnn [--help | --version] COMMAND [ARGS...]\n\n"
               "Simulate conductance-gated excitatory/inhibitory RNNs.\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'eirnn COMMAND --help' describes a command.\n"
               "exit codes: 0 ok, 1 I/O or internal error, 2 usage, 3 invalid model or run,\n"
               "            5 run diverged, 6 cancelled\n");
}

int main(int argc, char **argv)
{
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
