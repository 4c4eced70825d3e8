/**
 * @file cmd_results.c
 * @brief `eirnn results get|list`: a run's recorded arrays (/v1/runs/{id}/results), streamed
 *        to a file as .npy, CSV or JSON, optionally sliced by the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const char get_help[] =
    "usage: eirnn results get RUN VAR -o FILE [--trials A:B] [--steps A:B] [--neurons LIST]\n"
    "                         [--format npy|csv|json]\n"
    "\n"
    "Download the recorded variable VAR (V, r, z or y) of run RUN, an array of shape\n"
    "B x T' x n (trials, recorded steps, units), into FILE. The format follows FILE's\n"
    "extension: .npy (NumPy; the same bytes 'eirnn simulate' writes), .csv (a header line\n"
    "'trial,step,<var><unit>,...', then a line per trial and step) or .json (nested lists;\n"
    "null where a diverged or cancelled run never got). The file is written whole or not at\n"
    "all (a temporary file beside it, renamed when complete).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  the file to write (required)\n"
    "      --trials A:B   trials A to B-1 (or one index; either end may be left out)\n"
    "      --steps A:B    recorded steps A to B-1 (or one index)\n"
    "      --neurons LIST units to keep, in order: indices and ranges, e.g. 0:10,15\n"
    "                     (positions in the recorded array: in record.neurons if the run\n"
    "                     recorded a subset, outputs for y)\n"
    "      --format F     npy, csv or json, whatever FILE's extension\n" CLI_CONN_HELP;

static const char list_help[] =
    "usage: eirnn results list RUN\n"
    "\n"
    "List the recorded variables of an ended run: dtype, shape, size and SHA-256.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

enum { OPT_TRIALS = CLI_OPT_OWN, OPT_STEPS, OPT_NEURONS, OPT_FORMAT };

typedef struct get_opts {
    const char *out, *trials, *steps, *neurons, *format;
} get_opts;

static int get_opt(void *ctx, int c, const char *arg)
{
    get_opts *o = ctx;
    switch (c) {
    case 'o':
        o->out = arg;
        return CLI_OK;
    case OPT_TRIALS:
        o->trials = arg;
        return CLI_OK;
    case OPT_STEPS:
        o->steps = arg;
        return CLI_OK;
    case OPT_NEURONS:
        o->neurons = arg;
        return CLI_OK;
    case OPT_FORMAT:
        if (strcmp(arg, "npy") && strcmp(arg, "csv") && strcmp(arg, "json")) {
            cli_error("--format must be npy, csv or json, not '%s'", arg);
            return CLI_EUSAGE;
        }
        o->format = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

/** The format of @p file from its extension, or NULL. */
static const char *format_of(const char *file)
{
    if (cli_ends_with(file, ".npy")) return "npy";
    if (cli_ends_with(file, ".csv")) return "csv";
    if (cli_ends_with(file, ".json")) return "json";
    return NULL;
}

static int results_get(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"output", required_argument, NULL, 'o'},
                                       {"trials", required_argument, NULL, OPT_TRIALS},
                                       {"steps", required_argument, NULL, OPT_STEPS},
                                       {"neurons", required_argument, NULL, OPT_NEURONS},
                                       {"format", required_argument, NULL, OPT_FORMAT},
                                       {NULL, 0, NULL, 0}};
    get_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, "results get", "o:", lo, get_help, get_opt, &o, 2, 2, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *run = argv[pos], *var = argv[pos + 1];
    if (!o.out || !*o.out) {
        cli_error("results get: -o FILE is required (try 'eirnn results get --help')");
        return CLI_EUSAGE;
    }
    const char *fmt = o.format ? o.format : format_of(o.out);
    if (!fmt) {
        cli_error("results get: cannot tell the format of '%s': name it .npy, .csv or .json, "
                  "or give --format",
                  o.out);
        return CLI_EUSAGE;
    }
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_url_add(&u, "/v1/runs/");
    cli_url_add_segment(&u, run);
    cli_url_add(&u, "/results/");
    cli_url_add_segment(&u, var);
    cli_url_add_query(&u, "format", fmt);
    if (o.trials) cli_url_add_query(&u, "trials", o.trials);
    if (o.steps) cli_url_add_query(&u, "steps", o.steps);
    if (o.neurons) cli_url_add_query(&u, "neurons", o.neurons);
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    rc = path ? cli_http_download(h, path, o.out, &r) : CLI_EIO;
    if (rc == CLI_OK) {
        /* X-Eirnn-Shape is "B,T',n". */
        long long d[3] = {0, 0, 0};
        int nd = sscanf(r.shape, "%lld,%lld,%lld", &d[0], &d[1], &d[2]);
        if (cli_opts.json) {
            json_t *j =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "file", o.out, "run_id", run, "var",
                          var, "format", fmt, "dtype", r.dtype, "bytes", (json_int_t)r.bytes);
            if (j && nd == 3)
                json_object_set_new(
                    j, "shape",
                    json_pack("[I, I, I]", (json_int_t)d[0], (json_int_t)d[1], (json_int_t)d[2]));
            if (j) out_json(j);
            json_decref(j);
        } else if (nd == 3) {
            printf("wrote %s: %s of run %s, %lld x %lld x %lld %s (%lld bytes)\n", o.out, var, run,
                   d[0], d[1], d[2], r.dtype[0] ? r.dtype : "", r.bytes);
        } else {
            printf("wrote %s: %s of run %s (%lld bytes)\n", o.out, var, run, r.bytes);
        }
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    cli_http_close(h);
    return out_finish(rc);
}

static int results_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS, {NULL, 0, NULL, 0}};
    int pos;
    int rc = cli_parse(argc, argv, "results list", "", lo, list_help, NULL, NULL, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_url_add(&u, "/v1/runs/");
    cli_url_add_segment(&u, argv[pos]);
    cli_url_add(&u, "/results");
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
    const json_t *items = json_object_get(r.json, "items");
    if (rc == CLI_OK && !json_is_array(items)) {
        cli_error("the server's result list has no items");
        rc = CLI_EHTTP;
    }
    if (rc == CLI_OK && cli_opts.json) {
        out_body(&r);
    } else if (rc == CLI_OK) {
        static const char *const head[] = {"VAR", "DTYPE", "SHAPE", "BYTES", "SHA256"};
        out_table *t = out_table_new(5, head);
        size_t i;
        const json_t *it;
        json_array_foreach(items, i, it)
        {
            if (!t) break;
            char shape[96] = "", bytes[32];
            size_t k = 0, j;
            const json_t *d;
            json_array_foreach(json_object_get(it, "shape"), j, d)
            {
                k += (size_t)snprintf(shape + k, k < sizeof shape ? sizeof shape - k : 0, "%s%lld",
                                      j ? "x" : "", (long long)json_integer_value(d));
            }
            const char *row[5] = {json_string_value(json_object_get(it, "var")),
                                  json_string_value(json_object_get(it, "dtype")), shape,
                                  out_member(it, "bytes", bytes, sizeof bytes),
                                  json_string_value(json_object_get(it, "sha256"))};
            out_table_add(t, row);
        }
        if (t)
            out_table_print(t, stdout);
        else
            rc = CLI_EIO;
        out_table_free(t);
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    cli_http_close(h);
    return out_finish(rc);
}

int cli_results(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"get", results_get,
         "get RUN VAR -o FILE(.npy|.csv|.json) [--trials A:B] [--steps A:B] [--neurons LIST]"},
        {"list", results_list, "list RUN"},
    };
    return cli_dispatch("results", subs, sizeof subs / sizeof *subs,
                        "Results of ended runs of eirnnd (/v1/runs/{id}/results).", argc, argv);
}
