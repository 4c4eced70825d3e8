/**
 * @file cmd_jobs.c
 * @brief What `eirnn runs` and `eirnn analyses` share (cmd_jobs.h): get, wait, cancel, delete
 *        and list of a job collection, and the pieces of printing a job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_jobs.h"
#include "cmd_runs.h"

const char *cli_job_path(cli_url *u, const char *collection, const char *id, const char *suffix)
{
    cli_url_add(u, "/v1/");
    cli_url_add(u, collection);
    cli_url_add(u, "/");
    cli_url_add_segment(u, id);
    cli_url_add(u, suffix);
    return cli_url_text(u);
}

const char *cli_shape_text(const json_t *shape, const char *sep, char *buf, size_t cap)
{
    size_t k = 0, i;
    const json_t *d;
    buf[0] = '\0';
    json_array_foreach(shape, i, d)
    {
        k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s%lld", i ? sep : "",
                              (long long)json_integer_value(d));
    }
    return buf;
}

void cli_job_print_status(const json_t *job)
{
    const char *st = cli_run_status(job);
    out_kv("status", "%s%s", st,
           !cli_run_status_final(st) && json_is_true(json_object_get(job, "cancel_requested"))
               ? " (cancel requested)"
               : "");
    const json_t *mid = json_object_get(job, "model_id");
    out_kv("model", "%s", json_is_string(mid) ? json_string_value(mid) : "inline");
}

void cli_job_print_times(const json_t *job)
{
    static const char *const label[] = {"created", "started", "finished"};
    static const char *const key[] = {"created_at", "started_at", "finished_at"};
    char t[32];
    for (int i = 0; i < 3; i++)
        out_kv(label[i], "%s",
               out_time(json_string_value(json_object_get(job, key[i])), t, sizeof t));
}

/* ------------------------------------------------------------------------------------------ */
/* get, wait, cancel, delete                                                                  */
/* ------------------------------------------------------------------------------------------ */

static int wait_opt(void *ctx, int c, const char *arg)
{
    cli_job_wait_opts *o = ctx;
    switch (c) {
    case 't':
        return cli_parse_number("--timeout", arg, 1, &o->timeout);
    case 'q':
        o->quiet = 1;
        return CLI_OK;
    case 'o':
        o->out = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

/* What get, cancel, delete and show print of a 2xx answer @p r. @return CLI_OK, or CLI_EIO
 * (out of memory, printed). */
static int one_print(const cli_http *h, const cli_job_kind *k, cli_job_op op, const char *id,
                     const cli_http_resp *r)
{
    if (op == CLI_JOB_SHOW) return cli_show_print(h, r, k->collection, id, k->print);
    if (op == CLI_JOB_DELETE) {
        if (cli_opts.json) {
            json_t *j = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
            if (j) out_json(j);
            json_decref(j);
        } else {
            printf("deleted %s %s\n", k->noun, id);
        }
    } else if (cli_opts.json) {
        out_body(r);
    } else if (op == CLI_JOB_GET) {
        k->print(r->json);
    } else if (strcmp(cli_run_status(r->json), "cancelled") == 0) {
        printf("%s %s: cancelled\n", k->noun, id);
    } else {
        printf("%s %s: cancel requested; %s ('eirnn %s wait %s')\n", k->noun, id, k->stop_hint,
               k->collection, id);
    }
    return CLI_OK;
}

/* Follow job @p id of kind @p k to its end: its own wait, else cli_job_wait(). */
static int job_wait(cli_http *h, const cli_job_kind *k, const char *id, const cli_job_wait_opts *o,
                    cli_http_resp *last)
{
    if (k->wait) return k->wait(h, id, o, last);
    return cli_job_wait(h, k->collection, k->noun, id, o->timeout, last);
}

int cli_job_one(int argc, char **argv, const cli_job_kind *k, cli_job_op op)
{
    static const struct option lo_plain[] = {CLI_CONN_LONGOPTS, {NULL, 0, NULL, 0}};
    static const char *const verb[] = {"get", "wait", "cancel", "delete", "show"};
    char name[64];
    snprintf(name, sizeof name, "%s %s", k->collection, verb[op]);
    cli_job_wait_opts o = {0};
    int pos;
    int rc = cli_parse(argc, argv, name, op == CLI_JOB_WAIT ? k->wait_shortopts : "",
                       op == CLI_JOB_WAIT ? k->wait_longopts : lo_plain, k->helps[op], wait_opt, &o,
                       1, 1, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *id = argv[pos];
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_http_resp r = {0};
    cli_url u = {0};
    if (op == CLI_JOB_WAIT) {
        rc = job_wait(h, k, id, &o, &r);
        if (rc == CLI_OK) rc = k->finish(h, &r, &o);
    } else {
        static const char *const method[] = {"GET", "", "POST", "DELETE", "GET"};
        const char *path =
            cli_job_path(&u, k->collection, id, op == CLI_JOB_CANCEL ? "/cancel" : "");
        rc = path ? cli_http_call(h, method[op], path, NULL, 0, NULL, 0, &r) : CLI_EIO;
        if (rc == CLI_OK && op != CLI_JOB_DELETE && !cli_answer_object(&r)) rc = CLI_EHTTP;
        if (rc == CLI_OK) rc = one_print(h, k, op, id, &r);
    }
    cli_url_free(&u);
    cli_http_resp_free(&r);
    cli_http_close(h);
    return out_finish(rc);
}

int cli_job_submit_opt(cli_job_submit_opts *o, int c, const char *arg, int *rc)
{
    *rc = CLI_OK;
    switch (c) {
    case 'k':
        if (!*arg || strlen(arg) > 255 || strpbrk(arg, "\r\n")) {
            cli_error("--idempotency-key must be one line of 1 to 255 characters");
            *rc = CLI_EUSAGE;
        } else {
            o->key = arg;
        }
        return 1;
    case 'w':
        o->wait = 1;
        return 1;
    case 't':
        *rc = cli_parse_number("--timeout", arg, 1, &o->w.timeout);
        return 1;
    case 'q':
        o->w.quiet = 1;
        return 1;
    case 'o':
        o->w.out = arg;
        return 1;
    default:
        return 0;
    }
}

int cli_job_submit(cli_http *h, const cli_job_kind *k, const char *body, size_t len,
                   const char *key, int wait, const cli_job_wait_opts *o)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/%s", k->collection);
    cli_http_resp r = {0}, fin = {0};
    int rc = cli_http_call(h, "POST", path, body, len, key, 0, &r);
    const json_t *job = rc == CLI_OK ? cli_answer_object(&r) : NULL;
    const char *id = json_string_value(json_object_get(job, "id"));
    char *jid = id ? strdup(id) : NULL;
    if (rc == CLI_OK && id && !jid) {
        cli_error("out of memory");
        rc = CLI_EIO;
    } else if (rc == CLI_OK && !id) {
        if (job) cli_error("the server's answer has no %s id", k->noun);
        rc = CLI_EHTTP;
    }
    if (rc == CLI_OK && !wait) {
        if (cli_opts.json)
            out_body(&r);
        else if (o->quiet)
            printf("%s\n", jid);
        else
            k->print(job);
    } else if (rc == CLI_OK && cli_run_status_final(cli_run_status(job))) {
        rc = k->submit_finish(h, &r, o); /* an idempotent replay of an ended job */
    } else if (rc == CLI_OK) {
        rc = job_wait(h, k, jid, o, &fin);
        if (rc == CLI_OK)
            rc = k->submit_finish(h, &fin, o);
        else if (rc == CLI_ETIMEOUT && cli_opts.json)
            out_body(&r); /* the job as submitted: its id for a later '<collection> wait' */
        else if (rc == CLI_ETIMEOUT && o->quiet)
            printf("%s\n", jid);
    }
    free(jid);
    cli_http_resp_free(&fin);
    cli_http_resp_free(&r);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* list                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct list_opts {
    const cli_job_list_kind *k;
    const char *status, *model, *kind, *sweep;
    cli_list_paging paging;
    cli_labels labels;
} list_opts;

static int list_opt(void *ctx, int c, const char *arg)
{
    list_opts *o = ctx;
    if (c == 's') {
        if (!cli_run_status_known(arg) || (!o->k->diverged && strcmp(arg, "diverged") == 0)) {
            cli_error("--status must be %s, not '%s'", o->k->statuses, arg);
            return CLI_EUSAGE;
        }
        o->status = arg;
        return CLI_OK;
    }
    if (c == 'm') {
        o->model = arg;
        return CLI_OK;
    }
    if (c == 'l') return cli_label_opt(&o->labels, arg);
    if (o->k->sweep_opt && c == o->k->sweep_opt) {
        o->sweep = arg;
        return CLI_OK;
    }
    if (o->k->kind_opt && c == o->k->kind_opt) {
        o->kind = arg;
        return CLI_OK;
    }
    return cli_list_opt(&o->paging, c, arg);
}

/* Add @p job's row (id, [kind,] status, progress, model, creation time) to @p t. */
static void add_row(const json_t *job, out_table *t, int with_kind)
{
    char prog[32], tb[32];
    const json_t *p = json_object_get(job, "progress");
    snprintf(prog, sizeof prog, "%5.1f%%",
             100.0 * json_number_value(json_object_get(p, "fraction")));
    const json_t *mid = json_object_get(job, "model_id");
    const char *row[6] = {
        json_string_value(json_object_get(job, "id")),
        json_string_value(json_object_get(job, "analysis")),
        cli_run_status(job),
        prog,
        json_is_string(mid) ? json_string_value(mid) : "inline",
        out_time(json_string_value(json_object_get(job, "created_at")), tb, sizeof tb)};
    if (!with_kind) memmove(row + 1, row + 2, 4 * sizeof *row);
    out_table_add(t, row);
}

static void list_row(const json_t *job, out_table *t)
{
    add_row(job, t, 0);
}

static void list_row_kind(const json_t *job, out_table *t)
{
    add_row(job, t, 1);
}

int cli_job_list(int argc, char **argv, const cli_job_list_kind *k)
{
    char name[64], path[64];
    snprintf(name, sizeof name, "%s list", k->collection);
    snprintf(path, sizeof path, "/v1/%s", k->collection);
    list_opts o = {.k = k};
    int pos;
    int rc =
        cli_parse(argc, argv, name, "s:m:n:al:", k->longopts, k->help, list_opt, &o, 0, 0, &pos);
    if (rc) return rc < 0 ? CLI_OK : rc;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    static const char *const head[] = {"ID", "STATUS", "PROGRESS", "MODEL", "CREATED"};
    static const char *const head_kind[] = {"ID", "KIND", "STATUS", "PROGRESS", "MODEL", "CREATED"};
    const char *const query[] = {"status", o.status,   "model_id", o.model, "kind",
                                 o.kind,   "sweep_id", o.sweep,    NULL};
    cli_list l = {.path = path,
                  .query = query,
                  .paging = o.paging,
                  .labels = &o.labels,
                  .items = k->collection,
                  .item = k->item,
                  .ncols = k->kind_opt ? 6 : 5,
                  .head = k->kind_opt ? head_kind : head,
                  .add_row = k->kind_opt ? list_row_kind : list_row};
    rc = cli_list_print(h, &l);
    cli_http_close(h);
    return out_finish(rc);
}
