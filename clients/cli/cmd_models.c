/**
 * @file cmd_models.c
 * @brief `eirnn models create|list|get|show|delete`: stored models of eirnnd (/v1/models).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "eir_clock.h"
#include "files.h"

/* ------------------------------------------------------------------------------------------ */
/* Shared                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Print a model resource as "key  value" lines. */
static void print_model(const json_t *m)
{
    char b[64], t[32];
    out_kv("id", "%s", out_member(m, "id", b, sizeof b));
    const char *name = json_string_value(json_object_get(m, "name"));
    out_kv("name", "%s", name && *name ? name : "-");
    out_kv("neurons", "%s", out_member(m, "n", b, sizeof b));
    const char *state = json_string_value(json_object_get(m, "state"));
    if (state) out_kv("state", "%s", state);
    const json_t *hash = json_object_get(m, "hash");
    out_kv("hash", "%s", json_is_string(hash) ? json_string_value(hash) : "- (not built yet)");
    const json_t *build = json_object_get(m, "build_s");
    if (json_is_number(build)) out_kv("build", "%.3f s", json_number_value(build));
    const json_t *err = json_object_get(m, "error");
    if (json_is_object(err)) {
        const char *field = json_string_value(json_object_get(err, "field"));
        out_kv("error", "%s%s%s", field ? field : "", field ? ": " : "",
               json_string_value(json_object_get(err, "detail")));
    }
    out_kv("created", "%s",
           out_time(json_string_value(json_object_get(m, "created_at")), t, sizeof t));
    const json_t *doc = json_object_get(m, "model");
    if (json_is_object(doc)) {
        const json_t *pop = json_object_get(doc, "populations");
        char e[32], i[32];
        out_kv("class", "%s", out_member(doc, "class", b, sizeof b));
        out_kv("populations", "E %s, I %s", out_member(pop, "E", e, sizeof e),
               out_member(pop, "I", i, sizeof i));
        const json_t *in = json_object_get(doc, "n_inputs");
        out_kv("inputs", "%lld", in ? (long long)json_integer_value(in) : 0LL);
        out_kv("activation", "%s",
               out_member(json_object_get(doc, "activation"), "name", b, sizeof b));
        out_kv("readout", "%s", json_object_get(doc, "readout") ? "yes" : "no");
    }
}

/* ------------------------------------------------------------------------------------------ */
/* create                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const char create_help[] =
    "usage: eirnn models create FILE.json [-q] [-w [--timeout S]]\n"
    "\n"
    "Store the model document FILE.json (FORMAT.md's model; '-' reads standard input) in\n"
    "eirnnd, which validates it in full (a bad field is named as a JSON pointer, exit 3).\n"
    "The file is sent as it is. Prints the stored model: its id, name, size, state and hash.\n"
    "A model with a `generate` recipe is built by a worker of eirnnd after the answer: it is\n"
    "'pending' (no hash yet) until then, and runs may be submitted on it at once.\n"
    "\n"
    "options:\n"
    "  -q, --quiet        print only the new model's id\n"
    "  -w, --wait         wait until a pending model is built: print it ready, or its build's\n"
    "                     error (exit 3)\n"
    "  -t, --timeout S    with --wait: give up waiting after S seconds (exit 8; the build goes\n"
    "                     on)\n" CLI_CONN_HELP;

/** Options of `models create`. */
typedef struct create_opts {
    int quiet, wait;
    double timeout; /**< --timeout S with --wait (0 = none) */
} create_opts;

static int create_opt(void *ctx, int c, const char *arg)
{
    create_opts *o = ctx;
    if (c == 't') return cli_parse_number("--timeout", arg, 1, &o->timeout);
    if (c == 'q' || c == 'w') {
        *(c == 'q' ? &o->quiet : &o->wait) = 1;
        return CLI_OK;
    }
    return CLI_EUSAGE;
}

/**
 * Poll GET /v1/models/ID until model @p id is no longer pending (twice a second; a 503 is waited
 * out, cli_http_poll()), for at most @p timeout_s seconds (0 = as long as it takes); *@p last
 * gets the final answer. Returns CLI_OK; CLI_ETIMEOUT with a message when the model is still
 * pending at the timeout (its build goes on); the HTTP error's code otherwise.
 */
static int wait_model(cli_http *h, const char *id, double timeout_s, cli_http_resp *last)
{
    memset(last, 0, sizeof *last);
    const double deadline = eir_clock_mono() + timeout_s;
    for (;;) {
        cli_url u = {0};
        cli_url_add(&u, "/v1/models/");
        cli_url_add_segment(&u, id);
        cli_http_resp r;
        int rc = cli_http_poll(h, cli_url_text(&u), 60, &r);
        cli_url_free(&u);
        if (rc != CLI_OK) return rc;
        if (r.status != 503) {
            const json_t *m = cli_answer_object(&r);
            const char *state = m ? json_string_value(json_object_get(m, "state")) : NULL;
            if (!m || !state || strcmp(state, "pending") != 0) {
                *last = r;
                return m ? CLI_OK : CLI_EHTTP;
            }
            cli_http_resp_free(&r);
        }
        if (timeout_s > 0 && eir_clock_mono() + 0.5 > deadline) {
            cli_error("model %s is still pending after %g s; its build goes on (a daemon with "
                      "workers builds it): 'eirnn models get %s' shows its state",
                      id, timeout_s, id);
            return CLI_ETIMEOUT;
        }
        eir_clock_sleep(0.5);
    }
}

static int models_create(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"wait", no_argument, NULL, 'w'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
    create_opts o = {0};
    int pos;
    int rc =
        cli_parse(argc, argv, "models create", "qwt:", lo, create_help, create_opt, &o, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *file = argv[pos];
    json_t *doc;
    char *text;
    size_t len;
    if ((rc = cli_load_json(file, 1, &doc, &text, &len)) != CLI_OK) return rc;
    int is_obj = json_is_object(doc);
    json_decref(doc);
    if (!is_obj) {
        free(text);
        cli_error("%s: a model must be a JSON object", file);
        return CLI_EINVALID;
    }
    cli_http *h = cli_http_open(&rc);
    if (!h) {
        free(text);
        return rc;
    }
    cli_http_resp r;
    rc = cli_http_call(h, "POST", "/v1/models", text, len, NULL, 0, &r);
    free(text);
    const json_t *m = rc == CLI_OK ? cli_answer_object(&r) : NULL;
    if (rc == CLI_OK && !m) rc = CLI_EHTTP;
    if (m && o.wait && r.status == 202) {
        char id[64];
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "id")));
        cli_http_resp_free(&r);
        rc = wait_model(h, id, o.timeout, &r);
        m = rc == CLI_OK ? cli_answer_object(&r) : NULL;
    }
    if (m) {
        const char *state = json_string_value(json_object_get(m, "state"));
        if (cli_opts.json)
            out_body(&r);
        else if (o.quiet)
            printf("%s\n", json_string_value(json_object_get(m, "id")));
        else
            print_model(m);
        if (state && strcmp(state, "failed") == 0) {
            const json_t *e = json_object_get(m, "error");
            cli_error("model %s failed to build: %s", json_string_value(json_object_get(m, "id")),
                      json_string_value(json_object_get(e, "detail")));
            rc = CLI_EINVALID;
        }
    }
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const char list_help[] =
    "usage: eirnn models list [--label K:V]... [--limit N] [--all] [--cursor C]\n"
    "\n"
    "List stored models, newest first: id, name, neurons, creation time.\n"
    "\n"
    "options:\n" CLI_LABEL_HELP
    "  -n, --limit N      models per page, 1 to 1000 (default: the server's, 50)\n"
    "  -a, --all          follow the pages to the end\n"
    "      --cursor C     start at this page (the next_cursor of an earlier page)\n" CLI_CONN_HELP;

/** The options of `models list`. */
typedef struct list_opts {
    cli_list_paging paging;
    cli_labels labels;
} list_opts;

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    if (c == 'l') return cli_label_opt(&o->labels, arg);
    return cli_list_opt(&o->paging, c, arg);
}

/** Add model @p m's row (id, name, neurons, creation time) to @p t. */
static void list_row(const json_t *m, out_table *t)
{
    char n[24], tb[32];
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *row[4] = {
        json_string_value(json_object_get(m, "id")), name && *name ? name : "-",
        out_member(m, "n", n, sizeof n),
        out_time(json_string_value(json_object_get(m, "created_at")), tb, sizeof tb)};
    out_table_add(t, row);
}

static int models_list(int argc, char **argv)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS,
                                       {"label", required_argument, NULL, 'l'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"cursor", required_argument, NULL, CLI_OPT_OWN},
                                       {NULL, 0, NULL, 0}};
    static const char *const head[] = {"ID", "NAME", "NEURONS", "CREATED"};
    list_opts o = {0};
    cli_list l = {.path = "/v1/models",
                  .items = "models",
                  .item = "model",
                  .ncols = 4,
                  .head = head,
                  .add_row = list_row};
    int pos;
    int rc = cli_parse(argc, argv, "models list", "n:al:", lo, list_help, list_opt, &o, 0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    l.paging = o.paging;
    l.labels = &o.labels;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    rc = cli_list_print(h, &l);
    cli_http_close(h);
    return out_finish(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* get, delete                                                                                */
/* ------------------------------------------------------------------------------------------ */

static const char get_help[] =
    "usage: eirnn models get ID\n"
    "\n"
    "Show a stored model: id, name, size, hash, class and shape. With --json, the server's\n"
    "resource, the model document included as it was submitted.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char show_help[] =
    "usage: eirnn models show ID\n"
    "\n"
    "Show a stored model as 'eirnn models get' does, then the address of its page in eirnnd's\n"
    "web app (its document, W as a heat map, eigenvalues and fixed points of its analyses) on a\n"
    "last line 'page: URL/#/models/ID', URL being the address eirnn talks to (--url). --json\n"
    "prints the server's resource with a member \"page\" added.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

static const char delete_help[] =
    "usage: eirnn models delete ID\n"
    "\n"
    "Delete a stored model. The server refuses (409, exit 4) while runs of it exist: delete\n"
    "those first.\n"
    "\n"
    "options:\n" CLI_CONN_HELP;

/** What model_one() does with /v1/models/ID. */
typedef enum model_op { MODEL_GET, MODEL_DELETE, MODEL_SHOW } model_op;

/** GET (get, show) or DELETE /v1/models/ID. */
static int model_one(int argc, char **argv, model_op op)
{
    static const struct option lo[] = {CLI_CONN_LONGOPTS, {NULL, 0, NULL, 0}};
    static const char *const name[] = {"models get", "models delete", "models show"};
    static const char *const help[] = {get_help, delete_help, show_help};
    int del = op == MODEL_DELETE;
    int pos;
    int rc = cli_parse(argc, argv, name[op], "", lo, help[op], NULL, NULL, 1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *id = argv[pos];
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_url u = {0};
    cli_url_add(&u, "/v1/models/");
    cli_url_add_segment(&u, id);
    const char *path = cli_url_text(&u);
    cli_http_resp r = {0};
    rc = path ? cli_http_call(h, del ? "DELETE" : "GET", path, NULL, 0, NULL, 0, &r) : CLI_EIO;
    if (rc == CLI_OK) {
        if (del) {
            if (cli_opts.json) {
                json_t *j = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
                if (j) out_json(j);
                json_decref(j);
            } else {
                printf("deleted model %s\n", id);
            }
        } else if (!cli_answer_object(&r)) {
            rc = CLI_EHTTP;
        } else if (op == MODEL_SHOW) {
            rc = cli_show_print(h, &r, "models", id, print_model);
        } else if (cli_opts.json) {
            out_body(&r);
        } else {
            print_model(r.json);
        }
    }
    cli_http_resp_free(&r);
    cli_url_free(&u);
    cli_http_close(h);
    return out_finish(rc);
}

static int models_get(int argc, char **argv)
{
    return model_one(argc, argv, MODEL_GET);
}

static int models_show(int argc, char **argv)
{
    return model_one(argc, argv, MODEL_SHOW);
}

static int models_delete(int argc, char **argv)
{
    return model_one(argc, argv, MODEL_DELETE);
}

/* ------------------------------------------------------------------------------------------ */

int cli_models(int argc, char **argv)
{
    static const cli_sub subs[] = {
        {"create", models_create, "create FILE.json [-q] [-w]"},
        {"list", models_list, "list [--label K:V]... [--limit N] [--all] [--cursor C]"},
        {"get", models_get, "get ID"},
        {"show", models_show, "show ID (as get, and the address of its page in the web app)"},
        {"delete", models_delete, "delete ID"},
        {"export", cli_model_export, "export MODEL.json -o DIR (offline: the model's matrices)"},
    };
    return cli_dispatch("models", subs, sizeof subs / sizeof *subs,
                        "Stored models of eirnnd (POST/GET/DELETE /v1/models).", argc, argv);
}
