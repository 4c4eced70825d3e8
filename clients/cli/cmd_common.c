/**
 * @file cmd_common.c
 * @brief Option parsing, dispatch, numbers and JSON files for the HTTP commands.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cmd.h"
#include "files.h"

int cli_parse(int argc, char **argv, const char *name, const char *shortopts,
              const struct option *longopts, const char *help, cli_opt_fn fn, void *ctx,
              int min_pos, int max_pos, int *pos)
{
    char so[64];
    snprintf(so, sizeof so, ":h%s", shortopts ? shortopts : "");
    opterr = 0;
    optind = 0; /* full re-initialisation of GNU getopt */
    int c;
    while ((c = getopt_long(argc, argv, so, longopts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_URL:
            cli_opts.url = optarg;
            break;
        case CLI_OPT_TOKEN:
            cli_opts.token = optarg;
            break;
        case CLI_OPT_JSON:
            cli_opts.json = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        case ':':
            cli_error("%s: option '%s' needs a value (try 'eirnn %s --help')", name,
                      argv[optind - 1], name);
            return CLI_EUSAGE;
        case '?':
            cli_error("%s: unknown option '%s' (try 'eirnn %s --help')", name, argv[optind - 1],
                      name);
            return CLI_EUSAGE;
        default: {
            int rc = fn ? fn(ctx, c, optarg) : CLI_EUSAGE;
            if (rc != CLI_OK) return rc;
        }
        }
    }
    int n = argc - optind;
    if (n < min_pos || (max_pos >= 0 && n > max_pos)) {
        if (n < min_pos)
            cli_error("%s: missing %s (try 'eirnn %s --help')", name,
                      min_pos - n == 1 ? "an argument" : "arguments", name);
        else
            cli_error("%s: unexpected argument '%s' (try 'eirnn %s --help')", name,
                      argv[optind + max_pos], name);
        return CLI_EUSAGE;
    }
    *pos = optind;
    return CLI_OK;
}

int cli_dispatch(const char *cmd, const cli_sub *subs, size_t nsubs, const char *about, int argc,
                 char **argv)
{
    /* Connection options may come between the command and its subcommand. */
    int k = cli_global_options(argc, argv);
    if (k < 0) return CLI_EUSAGE;
    argc -= k;
    argv += k;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int help =
        sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0);
    if (sub && !help) {
        for (size_t i = 0; i < nsubs; i++)
            if (strcmp(sub, subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    }
    FILE *f = help ? stdout : stderr;
    if (sub && !help)
        cli_error("%s: unknown subcommand '%s' (try 'eirnn %s --help')", cmd, sub, cmd);
    else if (!sub)
        cli_error("%s: a subcommand is needed", cmd);
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < nsubs; i++)
        fprintf(f, "  eirnn %s %s\n", cmd, subs[i].synopsis);
    fprintf(f,
            "\n%s\n'eirnn %s SUBCOMMAND --help' describes a subcommand; 'eirnn --help' lists "
            "the global options and exit codes.\n",
            about, cmd);
    return help ? CLI_OK : CLI_EUSAGE;
}

int cli_parse_int(const char *opt, const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        cli_error("%s must be an integer from %lld to %lld, not '%s'", opt, min, max, s);
        return CLI_EUSAGE;
    }
    *out = v;
    return CLI_OK;
}

int cli_parse_number(const char *opt, const char *s, int positive, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || (positive && v == 0)) {
        cli_error("%s must be a number %s 0, not '%s'", opt, positive ? ">" : ">=", s);
        return CLI_EUSAGE;
    }
    *out = v;
    return CLI_OK;
}

int cli_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

char *cli_dump(const json_t *j, size_t *len)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!s) {
        cli_error("out of memory");
        return NULL;
    }
    *len = strlen(s);
    return s;
}

const json_t *cli_answer_object(const cli_http_resp *r)
{
    if (!json_is_object(r->json)) {
        cli_error("the server's answer (HTTP %ld) is not a JSON object", r->status);
        return NULL;
    }
    return r->json;
}

/* ------------------------------------------------------------------------------------------ */
/* The pages of the web app                                                                   */
/* ------------------------------------------------------------------------------------------ */

const char *cli_page_url(const cli_http *h, cli_url *u, const char *kind, const char *id)
{
    cli_url_add(u, cli_http_base(h));
    cli_url_add(u, "/#/");
    cli_url_add(u, kind);
    cli_url_add(u, "/");
    cli_url_add_segment(u, id);
    return cli_url_text(u);
}

int cli_show_print(const cli_http *h, const cli_http_resp *r, const char *kind, const char *id,
                   void (*print)(const json_t *resource))
{
    const char *own = json_string_value(json_object_get(r->json, "id"));
    cli_url u = {0};
    const char *page = cli_page_url(h, &u, kind, own && *own ? own : id);
    int rc = page ? CLI_OK : CLI_EIO;
    if (rc == CLI_OK && cli_opts.json) {
        json_t *j = json_deep_copy(r->json);
        if (!j || json_object_set_new(j, "page", json_string(page)) != 0) {
            cli_error("out of memory");
            rc = CLI_EIO;
        } else {
            out_json(j);
        }
        json_decref(j);
    } else if (rc == CLI_OK) {
        print(r->json);
        printf("page: %s\n", page);
    }
    cli_url_free(&u);
    return rc;
}
