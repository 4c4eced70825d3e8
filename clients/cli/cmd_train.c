/**
 * @file cmd_train.c
 * @brief `eirnn train FILE.json`: a training document (FORMAT.md "Trainings") from a file, with
 *        options replacing its members, queued in eirnnd (POST /v1/trainings) and, with
 *        --wait, followed to its end with the loss on stderr, ending with the trained model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_train.h"
#include "files.h"

static const char train_help[] =
    "usage: eirnn train FILE.json|- [--model ID] [--iterations N] [--seed S] [--name NAME]\n"
    "                   [--wait [--timeout S]] [-k KEY] [-q] [-n]\n"
    "\n"
    "Queue a training in eirnnd (POST /v1/trainings): FILE.json is the training document\n"
    "(docs/FORMAT.md \"Trainings\"; '-' reads standard input); the options replace its\n"
    "members. The server validates it in full; a bad member is named as a JSON pointer\n"
    "(exit 3). Without --wait the training is printed as 'eirnn trainings get' shows it (-q:\n"
    "its id alone).\n"
    "\n"
    "options:\n"
    "  -m, --model ID      start from the stored model ID (\"model\": replaces the file's)\n"
    "  -i, --iterations N  \"iterations\": Adam updates to do (1 to 10^9)\n"
    "  -s, --seed S        \"seed\": the seed of the trials, noise and evaluation (0 to 2^63-1)\n"
    "      --name NAME     \"name\": the name of the trained model\n"
    "  -w, --wait          wait for the end; stderr shows the iterations, the loss and\n"
    "                      accuracy of the latest batch and the last held-out accuracy (a\n"
    "                      progress bar on a terminal, else a line each 5%); then the training\n"
    "                      is printed with the trained model's id and its evaluation on the\n"
    "                      test trials\n"
    "  -t, --timeout S     with --wait: give up waiting after S seconds (exit 8; the training\n"
    "                      goes on)\n"
    "  -k, --idempotency-key K\n"
    "                      a retry with the same key and body gives the same training\n"
    "  -q, --quiet         print only the training's id; with --wait only the trained model's\n"
    "                      id (nothing when it failed) and no progress lines\n"
    "  -n, --dry-run       print the document that would be sent and send nothing\n" CLI_CONN_HELP
    "\n"
    "Exit codes: 3 for a document the server refuses (400/422, naming the member); with --wait\n"
    "0 succeeded, 6 cancelled, 7 failed (also when the loss stopped being finite), 8 still\n"
    "running at --timeout.\n";

enum { OPT_NAME = CLI_OPT_OWN };

typedef struct train_opts {
    const char *model, *name;
    long long iterations, seed;
    int has_seed, dry_run;
    cli_job_submit_opts job; /* --idempotency-key, --wait, --timeout, -q */
} train_opts;

static int train_opt(void *ctx, int c, const char *arg)
{
    train_opts *o = ctx;
    int rc;
    if (cli_job_submit_opt(&o->job, c, arg, &rc)) return rc;
    switch (c) {
    case 'm':
        o->model = arg;
        return CLI_OK;
    case 'i':
        return cli_parse_int("--iterations", arg, 1, 1000000000, &o->iterations);
    case 's':
        o->has_seed = 1;
        return cli_parse_int("--seed", arg, 0, INT64_MAX, &o->seed);
    case OPT_NAME:
        if (!*arg || strlen(arg) > 127) {
            cli_error("--name must be 1 to 127 bytes");
            return CLI_EUSAGE;
        }
        o->name = arg;
        return CLI_OK;
    case 'n':
        o->dry_run = 1;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

/* Set @p key of @p doc to @p v (stolen). @return CLI_OK, or CLI_EIO when out of memory. */
static int put(json_t *doc, const char *key, json_t *v)
{
    if (!v || json_object_set_new(doc, key, v) != 0) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    return CLI_OK;
}

/* The training document: FILE (an object) with the options' members set. */
static int build_doc(const train_opts *o, const char *file, json_t **out)
{
    json_t *doc;
    int rc = cli_load_json(file, 1, &doc, NULL, NULL);
    if (rc != CLI_OK) return rc;
    if (!json_is_object(doc)) {
        cli_error("%s: a training document is a JSON object", file);
        json_decref(doc);
        return CLI_EINVALID;
    }
    if ((o->model && (rc = put(doc, "model", json_string(o->model)))) ||
        (o->iterations && (rc = put(doc, "iterations", json_integer(o->iterations)))) ||
        (o->has_seed && (rc = put(doc, "seed", json_integer(o->seed)))) ||
        (o->name && (rc = put(doc, "name", json_string(o->name))))) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return CLI_OK;
}

int cli_train(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"model", required_argument, NULL, 'm'},
                                       {"iterations", required_argument, NULL, 'i'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"name", required_argument, NULL, OPT_NAME},
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"idempotency-key", required_argument, NULL, 'k'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {NULL, 0, NULL, 0}};
    train_opts o;
    memset(&o, 0, sizeof o);
    int pos;
    int rc =
        cli_parse(argc, argv, "train", "m:i:s:wt:k:qn", lo, train_help, train_opt, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.job.w.timeout > 0 && !o.job.wait) {
        cli_error("train: --timeout needs --wait");
        return CLI_EUSAGE;
    }
    json_t *doc;
    if ((rc = build_doc(&o, argv[pos], &doc)) != CLI_OK) return rc;
    size_t len;
    char *body = cli_dump(doc, &len);
    json_decref(doc);
    if (!body) return CLI_EIO;
    if (o.dry_run) {
        printf("%s\n", body);
    } else {
        cli_http *h = cli_http_open(&rc);
        if (h)
            rc = cli_job_submit(h, &cli_training_job_kind, body, len, o.job.key, o.job.wait,
                                &o.job.w);
        cli_http_close(h);
    }
    free(body);
    return out_finish(rc);
}
