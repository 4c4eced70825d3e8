/**
 * @file cmd.h
 * @brief Pieces shared by the HTTP commands (models, runs, results): option parsing with the
 *        connection options, subcommand dispatch, numbers and JSON files from the command line.
 *
 * Every function prints its own error line and returns the exit code to end with.
 */
#ifndef EIRNN_CLI_CMD_H
#define EIRNN_CLI_CMD_H

#include <getopt.h>
#include <jansson.h>

#include "cli.h"
#include "http.h"
#include "output.h"

/** getopt codes of the connection options (and the first free code for a command's own). */
enum { CLI_OPT_URL = 0x100, CLI_OPT_TOKEN, CLI_OPT_JSON, CLI_OPT_HELP, CLI_OPT_OWN };

/** The long options every HTTP subcommand accepts; put them first in its option table. */
// clang-format off
#define CLI_CONN_LONGOPTS                                                                          \
    {"url", required_argument, NULL, CLI_OPT_URL},                                                 \
    {"token", required_argument, NULL, CLI_OPT_TOKEN},                                             \
    {"json", no_argument, NULL, CLI_OPT_JSON},                                                     \
    {"help", no_argument, NULL, 'h'}
// clang-format on

/** The connection options as they appear in every subcommand's help. */
#define CLI_CONN_HELP                                                                              \
    "      --url URL      eirnnd's address (default $EIRNN_URL, else " CLI_DEFAULT_URL ")\n"       \
    "      --token T      bearer token (default $EIRNN_TOKEN)\n"                                   \
    "      --json         print the server's JSON as it is\n"                                      \
    "  -h, --help         this help\n"

/** Handle one of a command's own options: @return CLI_OK, or an exit code to stop with. */
typedef int (*cli_opt_fn)(void *ctx, int code, const char *arg);

/**
 * Parse the options of subcommand @p name ("models list", argv[0] is its last word) with
 * getopt_long (options and operands may mix). The connection options and --help are handled
 * here (--help prints @p help on stdout); others go to @p fn. On success *pos is the index of
 * the first operand in the permuted argv and *npos their count, checked against
 * [@p min_pos, @p max_pos] (max_pos < 0: no maximum).
 * @return CLI_OK; -1 when help was printed (exit 0); CLI_EUSAGE (message printed) or the code
 *         @p fn returned.
 */
int cli_parse(int argc, char **argv, const char *name, const char *shortopts,
              const struct option *longopts, const char *help, cli_opt_fn fn, void *ctx,
              int min_pos, int max_pos, int *pos);

/** One subcommand of a command. */
typedef struct cli_sub {
    const char *name;
    int (*run)(int argc, char **argv); /**< argv[0] is the subcommand's name */
    const char *synopsis;              /**< e.g. "create FILE.json" */
} cli_sub;

/**
 * Dispatch argv[1] of command @p cmd ("models") to one of @p subs (argv[1] becomes argv[0]).
 * "--help" (or no subcommand) lists them. @return the subcommand's exit code; CLI_OK after
 * help; CLI_EUSAGE for a missing or unknown subcommand.
 */
int cli_dispatch(const char *cmd, const cli_sub *subs, size_t nsubs, const char *about, int argc,
                 char **argv);

/**
 * Parse the integer option @p opt from @p s within [@p min, @p max] into *out.
 * @return CLI_OK, or CLI_EUSAGE after printing what was expected.
 */
int cli_parse_int(const char *opt, const char *s, long long min, long long max, long long *out);

/** Parse the finite number option @p opt (> 0 when @p positive, else >= 0) into *out. */
int cli_parse_number(const char *opt, const char *s, int positive, double *out);

/** Whether @p s ends with @p suffix, ignoring case. */
int cli_ends_with(const char *s, const char *suffix);

/**
 * Serialize @p j compactly with exact numbers into a malloc'ed string (*len its length).
 * @return NULL after printing "out of memory".
 */
char *cli_dump(const json_t *j, size_t *len);

/** The answer's JSON object, or NULL after printing that it is not one. */
const json_t *cli_answer_object(const cli_http_resp *r);

/**
 * The address of the page of a resource in eirnnd's web app: "<base URL>/#/@p kind/@p id" (@p kind
 * "runs", "models", "sweeps" or "analyses"; the base URL without a trailing '/', as the
 * requests use it; the id percent-encoded as a path segment), built in @p u.
 * @return its text (owned by @p u), or NULL after printing "out of memory".
 */
const char *cli_page_url(const cli_http *h, cli_url *u, const char *kind, const char *id);

/**
 * What `eirnn <kind> show ID` prints of the server's answer @p r (a JSON object of a resource
 * whose id is @p id): with --json the object with a member "page" (its page's address, see
 * cli_page_url) added, as one line; otherwise @p print of it, then the line "page: <address>".
 * @return CLI_OK, or CLI_EIO after printing "out of memory" (nothing printed on stdout then).
 */
int cli_show_print(const cli_http *h, const cli_http_resp *r, const char *kind, const char *id,
                   void (*print)(const json_t *resource));

/** The paging options of a list command: --limit (-n), --all (-a), --cursor (CLI_OPT_OWN). */
typedef struct cli_list_paging {
    long long limit;    /**< items per page; 0: the server's default */
    int all;            /**< follow the pages to the end */
    const char *cursor; /**< the page to start at (borrowed); NULL: the first */
} cli_list_paging;

/**
 * Handle paging option @p c ('n', 'a' or CLI_OPT_OWN) with argument @p arg into @p p.
 * @return CLI_OK; CLI_EUSAGE for another option or a bad --limit (message printed).
 */
int cli_list_opt(cli_list_paging *p, int c, const char *arg);

/** Most --label filters of one list command (-l, --label K:V; getopt code 'l'), as eirnnd. */
#define CLI_MAX_LABELS 16

/** The --label K:V filters of a list command (strings borrowed from argv). */
typedef struct cli_labels {
    const char *v[CLI_MAX_LABELS]; /**< "key:value", each checked by cli_label_opt() */
    int n;
} cli_labels;

/**
 * Add --label @p arg ("key:value": a key of 1 to 63 characters out of A-Z a-z 0-9 _ . -, the
 * value after the first ':', at most 255 bytes) to @p l.
 * @return CLI_OK; CLI_EUSAGE after naming what is wrong (or when there are more than
 *         CLI_MAX_LABELS).
 */
int cli_label_opt(cli_labels *l, const char *arg);

/** The help line of --label, for the list commands' help texts. */
#define CLI_LABEL_HELP                                                                             \
    "  -l, --label K:V    only those with label K set to V (repeatable: all must match)\n"

/** A paged list of eirnnd: what to GET and how a table row looks. Borrowed by cli_list_print. */
typedef struct cli_list {
    const char *path;         /**< "/v1/models" */
    const char *const *query; /**< name, value pairs ended by a NULL name; a
                                   NULL value is left out; NULL: none */
    cli_list_paging paging;   /**< --limit, --all, --cursor */
    const cli_labels *labels; /**< --label filters sent as ?label=K:V; NULL: none */
    const char *items;        /**< "models": in "eirnn: more models: ..." */
    const char *item;         /**< "model": "the server's model list ..." */
    int ncols;                /**< columns of the table */
    const char *const *head;  /**< their headers */
    void (*add_row)(const json_t *item, out_table *t); /**< add an item's row to t */
} cli_list;

/**
 * GET the pages of @p l and print them: without --all the first page (at paging.cursor) and,
 * when there are more, a line on stderr naming the next cursor; with --all every page. As a
 * table, or with --json the server's page as it is (one page) or {"items":[...all...],
 * "next_cursor":null} (--all). Nothing is printed on stdout when a request fails.
 * @return CLI_OK; CLI_EIO when out of memory; CLI_EHTTP for an answer that is not a list (message
 *         printed); an HTTP error's code.
 */
int cli_list_print(cli_http *h, const cli_list *l);

#endif /* EIRNN_CLI_CMD_H */
