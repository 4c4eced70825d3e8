/**
 * @file cmd_runs_submit.c
 * @brief `eirnn runs submit`: build a run document from a run file and the options, queue it
 *        in eirnnd (POST /v1/runs) and, with --wait, wait for its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_runs.h"
#include "eir_csv.h"
#include "eir_json.h"
#include "eir_npy.h"

static const char submit_help[] =
    "usage: eirnn runs submit (--model ID | --model-file FILE) [--inputs FILE] [--run-file FILE]\n"
    "                         [--seed N] [--dt X] [--steps T] [--wait [--timeout S]]\n"
    "                         [--idempotency-key K] [-q]\n"
    "\n"
    "Queue a run in eirnnd. The run document (FORMAT.md's run) is RUN.json from --run-file\n"
    "(else empty), then changed by the options: --inputs replaces its inputs, --seed, --dt\n"
    "and --steps set those, and --model / --model-file set the model (a stored model_id, or\n"
    "the model inline), replacing any the run file names. The server validates the run in\n"
    "full; a bad field is named as a JSON pointer (exit 3).\n"
    "\n"
    "options:\n"
    "  -m, --model ID     a stored model (see 'eirnn models create')\n"
    "  -f, --model-file FILE\n"
    "                     the model document, sent inline with the run\n"
    "  -r, --run-file FILE\n"
    "                     the run document to start from\n"
    "  -i, --inputs FILE  inputs: .npy or .csv (T x n_in, or B x T x n_in for .npy; sent\n"
    "                     as a binary array), or .json (an array in either form)\n"
    "      --seed N       noise seed (0 to 2^63-1; without it the server picks one)\n"
    "      --dt X         step size (> 0)\n"
    "      --steps T      T steps without input (a run with no input array)\n"
    "  -w, --wait         wait for the run to end; the exit code tells how it ended\n"
    "  -t, --timeout S    with --wait: give up waiting after S seconds (exit 8)\n"
    "  -k, --idempotency-key K\n"
    "                     a retry with the same key and body gives the same run\n"
    "  -q, --quiet        print only the run's id\n" CLI_CONN_HELP "\n"
    "With --wait a progress bar is drawn on stderr when it is a terminal. Exit codes with\n"
    "--wait: 0 succeeded, 5 diverged, 6 cancelled, 7 failed, 8 still running at --timeout.\n";

enum { OPT_SEED = CLI_OPT_OWN, OPT_DT, OPT_STEPS };

typedef struct submit_opts {
    const char *model_id, *model_file, *run_file, *inputs, *key;
    int has_seed, has_dt, wait, quiet;
    long long seed, steps;
    double dt, timeout;
} submit_opts;

static int submit_opt(void *ctx, int c, const char *arg)
{
    submit_opts *o = ctx;
    switch (c) {
    case 'm':
        o->model_id = arg;
        return CLI_OK;
    case 'f':
        o->model_file = arg;
        return CLI_OK;
    case 'r':
        o->run_file = arg;
        return CLI_OK;
    case 'i':
        o->inputs = arg;
        return CLI_OK;
    case 'k':
        if (!*arg || strlen(arg) > 255 || strpbrk(arg, "\r\n")) {
            cli_error("--idempotency-key must be one line of 1 to 255 characters");
            return CLI_EUSAGE;
        }
        o->key = arg;
        return CLI_OK;
    case 'w':
        o->wait = 1;
        return CLI_OK;
    case 'q':
        o->quiet = 1;
        return CLI_OK;
    case 't':
        return cli_parse_number("--timeout", arg, 1, &o->timeout);
    case OPT_SEED:
        o->has_seed = 1;
        return cli_parse_int("--seed", arg, 0, INT64_MAX, &o->seed);
    case OPT_DT:
        o->has_dt = 1;
        return cli_parse_number("--dt", arg, 1, &o->dt);
    case OPT_STEPS:
        return cli_parse_int("--steps", arg, 1, INT64_MAX, &o->steps);
    default:
        return CLI_EUSAGE;
    }
}

/**
 * The array in the .npy or .csv file @p path as a binary array object (dtype of the .npy,
 * float64 for CSV). @return CLI_OK; CLI_EINVALID for a malformed file or a shape that is
 * not T x n_in or B x T x n_in; CLI_EIO when it cannot be read.
 */
static int inputs_binary(const char *path, json_t **out)
{
    *out = NULL;
    eir_npy_error ne;
    eir_npy_array a = {0};
    eir_npy_status st;
    if (cli_ends_with(path, ".npy")) {
        st = eir_npy_read_file(path, 0, &a, &ne);
    } else {
        int64_t rows, cols;
        double *data;
        st = eir_csv_read(path, 0, &rows, &cols, &data, &ne);
        if (st == EIR_NPY_OK) {
            a.dtype = EIR_NPY_F8;
            a.ndim = 2;
            a.shape[0] = rows;
            a.shape[1] = cols;
            a.count = (size_t)(rows * cols);
            a.data = data;
        }
    }
    if (st != EIR_NPY_OK) {
        cli_error("%s", ne.message);
        return st == EIR_NPY_EFORMAT ? CLI_EINVALID : CLI_EIO;
    }
    if (a.ndim != 2 && a.ndim != 3) {
        cli_error("%s: inputs must have shape T x n_in or B x T x n_in, not %d dimension%s", path,
                  a.ndim, a.ndim == 1 ? "" : "s");
        eir_npy_array_free(&a);
        return CLI_EINVALID;
    }
    /* Little-endian bytes, in the file's precision (float32 values are exact as floats). */
    int f4 = a.dtype == EIR_NPY_F4;
    size_t isz = f4 ? 4 : 8;
    unsigned char *bytes = malloc(a.count > 0 ? a.count * isz : 1);
    if (!bytes) {
        eir_npy_array_free(&a);
        cli_error("out of memory");
        return CLI_EIO;
    }
    for (size_t i = 0; i < a.count; i++) {
        uint64_t u;
        if (f4) {
            float x = (float)a.data[i];
            uint32_t w;
            memcpy(&w, &x, 4);
            u = w;
        } else {
            memcpy(&u, &a.data[i], 8);
        }
        for (size_t b = 0; b < isz; b++)
            bytes[isz * i + b] = (unsigned char)(u >> (8 * b));
    }
    char *b64 = eir_base64_encode(bytes, a.count * isz);
    free(bytes);
    json_t *shape = json_array();
    for (int d = 0; shape && d < a.ndim; d++)
        json_array_append_new(shape, json_integer(a.shape[d]));
    eir_npy_array_free(&a);
    json_t *arr = NULL;
    if (b64 && shape)
        arr = json_pack("{s:s, s:O, s:s}", "dtype", f4 ? "float32" : "float64", "shape", shape,
                        "base64", b64);
    json_decref(shape);
    free(b64);
    if (!arr) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    *out = arr;
    return CLI_OK;
}

/** Put the --inputs file into @p run. */
static int apply_inputs(const char *path, json_t *run)
{
    json_t *in = NULL;
    int rc;
    if (cli_ends_with(path, ".json")) {
        if ((rc = cli_load_json(path, &in, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_array(in) && !json_is_object(in)) {
            cli_error("%s: inputs must be a JSON array (T x n_in or B x T x n_in) or a binary "
                      "array {\"dtype\", \"shape\", \"base64\"}",
                      path);
            json_decref(in);
            return CLI_EINVALID;
        }
    } else if (cli_ends_with(path, ".npy") || cli_ends_with(path, ".csv")) {
        if ((rc = inputs_binary(path, &in)) != CLI_OK) return rc;
    } else {
        cli_error("runs submit: --inputs must be a .npy, .csv or .json file, not '%s'", path);
        return CLI_EUSAGE;
    }
    if (json_object_set_new(run, "inputs", in) != 0) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    return CLI_OK;
}

/** The run document of the options. @return CLI_OK with *out set, or an exit code. */
static int build_run(const submit_opts *o, json_t **out)
{
    *out = NULL;
    json_t *run = NULL;
    int rc;
    if (o->run_file) {
        if ((rc = cli_load_json(o->run_file, &run, NULL, NULL)) != CLI_OK) return rc;
        if (!json_is_object(run)) {
            cli_error("%s: a run must be a JSON object", o->run_file);
            json_decref(run);
            return CLI_EINVALID;
        }
    } else if (!(run = json_object())) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    if (o->inputs && (rc = apply_inputs(o->inputs, run)) != CLI_OK) goto fail;
    if (o->steps > 0) {
        json_t *in = json_object_get(run, "inputs");
        if (in && !(json_is_object(in) && json_object_get(in, "steps"))) {
            cli_error("runs submit: --steps is for runs without input, but %s gives inputs "
                      "(their length is T)",
                      o->inputs ? o->inputs : o->run_file);
            rc = CLI_EUSAGE;
            goto fail;
        }
        if (in)
            rc = json_object_set_new(in, "steps", json_integer(o->steps));
        else
            rc = json_object_set_new(
                run, "inputs", json_pack("{s:I, s:i}", "steps", (json_int_t)o->steps, "trials", 1));
        if (rc != 0) goto oom;
    }
    if (o->has_dt && json_object_set_new(run, "dt", json_real(o->dt)) != 0) goto oom;
    if (o->has_seed && json_object_set_new(run, "seed", json_integer(o->seed)) != 0) goto oom;
    if (o->model_id) {
        json_object_del(run, "model");
        if (json_object_set_new(run, "model_id", json_string(o->model_id)) != 0) goto oom;
    } else if (o->model_file) {
        json_t *m;
        if ((rc = cli_load_json(o->model_file, &m, NULL, NULL)) != CLI_OK) goto fail;
        if (!json_is_object(m)) {
            json_decref(m);
            cli_error("%s: a model must be a JSON object", o->model_file);
            rc = CLI_EINVALID;
            goto fail;
        }
        json_object_del(run, "model_id");
        if (json_object_set_new(run, "model", m) != 0) goto oom;
    } else if (!json_object_get(run, "model_id") && !json_object_get(run, "model")) {
        cli_error("runs submit: give the model: --model ID (a stored model) or --model-file "
                  "FILE (try 'eirnn runs submit --help')");
        rc = CLI_EUSAGE;
        goto fail;
    }
    *out = run;
    return CLI_OK;
oom:
    cli_error("out of memory");
    rc = CLI_EIO;
fail:
    json_decref(run);
    return rc;
}

int cli_runs_submit(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"model", required_argument, NULL, 'm'},
                                       {"model-file", required_argument, NULL, 'f'},
                                       {"run-file", required_argument, NULL, 'r'},
                                       {"inputs", required_argument, NULL, 'i'},
                                       {"seed", required_argument, NULL, OPT_SEED},
                                       {"dt", required_argument, NULL, OPT_DT},
                                       {"steps", required_argument, NULL, OPT_STEPS},
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"idempotency-key", required_argument, NULL, 'k'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
    submit_opts o;
    memset(&o, 0, sizeof o);
    int pos;
    int rc = cli_parse(argc, argv, "runs submit", "m:f:r:i:wt:k:q", lo, submit_help, submit_opt, &o,
                       0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.model_id && o.model_file) {
        cli_error("runs submit: give --model or --model-file, not both");
        return CLI_EUSAGE;
    }
    if (o.inputs && o.steps > 0) {
        cli_error("runs submit: --steps is for runs without input; --inputs %s fixes T", o.inputs);
        return CLI_EUSAGE;
    }
    if (o.timeout > 0 && !o.wait) {
        cli_error("runs submit: --timeout needs --wait");
        return CLI_EUSAGE;
    }
    json_t *run;
    if ((rc = build_run(&o, &run)) != CLI_OK) return rc;
    size_t len;
    char *body = cli_dump(run, &len);
    json_decref(run);
    if (!body) return CLI_EIO;
    cli_http *h = cli_http_open(&rc);
    if (!h) {
        free(body);
        return rc;
    }
    cli_http_resp r;
    rc = cli_http_call(h, "POST", "/v1/runs", body, len, o.key, 0, &r);
    free(body);
    const json_t *res = rc == CLI_OK ? cli_run_answer(&r) : NULL;
    const char *id = json_string_value(json_object_get(res, "id"));
    if (rc == CLI_OK && !id) {
        if (res) cli_error("the server's answer has no run id");
        rc = CLI_EHTTP;
    }
    if (rc == CLI_OK && !o.wait) {
        if (cli_opts.json)
            out_body(&r);
        else if (o.quiet)
            printf("%s\n", id);
        else
            cli_run_print(res);
    } else if (rc == CLI_OK) {
        char *rid = strdup(id);
        cli_http_resp fin;
        if (!rid) {
            cli_error("out of memory");
            rc = CLI_EIO;
        } else if (cli_run_status_final(
                       cli_run_status(res))) { /* an idempotent replay of an ended run */
            rc = cli_run_finish(&r, o.quiet);
        } else if ((rc = cli_run_wait(h, rid, o.timeout, &fin)) == CLI_OK) {
            rc = cli_run_finish(&fin, o.quiet);
            cli_http_resp_free(&fin);
        } else if (rc == CLI_ETIMEOUT && cli_opts.json) {
            out_body(&r); /* the run as submitted: its id for a later 'runs wait' */
        } else if (rc == CLI_ETIMEOUT && o.quiet) {
            printf("%s\n", rid);
        }
        free(rid);
    }
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}
