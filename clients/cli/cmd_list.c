/**
 * @file cmd_list.c
 * @brief The paged lists of eirnnd (`eirnn models list`, `eirnn runs list`): one page or all
 *        of them, as a table or (--json) as the server's JSON (cmd.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int cli_list_opt(cli_list_paging *p, int c, const char *arg)
{
    switch (c) {
    case 'n':
        return cli_parse_int("--limit", arg, 1, 1000, &p->limit);
    case 'a':
        p->all = 1;
        return CLI_OK;
    case CLI_OPT_OWN:
        p->cursor = arg;
        return CLI_OK;
    default:
        return CLI_EUSAGE;
    }
}

int cli_label_opt(cli_labels *l, const char *arg)
{
    const char *colon = strchr(arg, ':');
    size_t klen = colon ? (size_t)(colon - arg) : 0;
    int ok = colon && klen >= 1 && klen <= 63 && strlen(colon + 1) <= 255;
    for (size_t i = 0; ok && i < klen; i++) {
        char c = arg[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    }
    if (!ok) {
        cli_error("--label must be KEY:VALUE (a key of 1 to 63 characters out of A-Z a-z 0-9 _ . "
                  "-, a value of at most 255 bytes), not '%s'",
                  arg);
        return CLI_EUSAGE;
    }
    if (l->n == CLI_MAX_LABELS) {
        cli_error("at most %d --label filters", CLI_MAX_LABELS);
        return CLI_EUSAGE;
    }
    l->v[l->n++] = arg;
    return CLI_OK;
}

/** GET the page of @p l at @p cursor (NULL: the first). @return CLI_OK with *r set, or a code
 *  (*r holds nothing to free). */
static int list_page(cli_http *h, const cli_list *l, const char *cursor, cli_http_resp *r)
{
    cli_url u = {0};
    char lim[24];
    cli_url_add(&u, l->path);
    for (const char *const *q = l->query; q && q[0]; q += 2)
        if (q[1]) cli_url_add_query(&u, q[0], q[1]);
    for (int i = 0; l->labels && i < l->labels->n; i++)
        cli_url_add_query(&u, "label", l->labels->v[i]);
    if (l->paging.limit) {
        snprintf(lim, sizeof lim, "%lld", l->paging.limit);
        cli_url_add_query(&u, "limit", lim);
    }
    if (cursor) cli_url_add_query(&u, "cursor", cursor);
    const char *path = cli_url_text(&u);
    int rc = path ? cli_http_call(h, "GET", path, NULL, 0, NULL, 0, r) : CLI_EIO;
    cli_url_free(&u);
    if (rc != CLI_OK && path) cli_http_resp_free(r);
    return rc;
}

/** Add the items of one page to table @p t, or (--json) to the array @p all. */
static void list_add(const cli_list *l, const json_t *items, out_table *t, json_t *all)
{
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        if (cli_opts.json)
            json_array_append(all, (json_t *)item);
        else
            l->add_row(item, t);
    }
}

/** Follow the pages of @p l into @p t or @p all; CLI_OK when they have all been read or one
 *  page has been printed (more to come). */
static int list_follow(cli_http *h, const cli_list *l, out_table *t, json_t *all, char **cursor)
{
    for (;;) {
        cli_http_resp r;
        int rc = list_page(h, l, *cursor, &r);
        if (rc != CLI_OK) return rc;
        const json_t *page = cli_answer_object(&r);
        const json_t *items = json_object_get(page, "items");
        if (!json_is_array(items)) {
            if (page) cli_error("the server's %s list has no items", l->item);
            cli_http_resp_free(&r);
            return CLI_EHTTP;
        }
        if (cli_opts.json && !l->paging.all) {
            out_body(&r);
            cli_http_resp_free(&r);
            return CLI_OK;
        }
        list_add(l, items, t, all);
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        free(*cursor);
        *cursor = next && *next ? strdup(next) : NULL;
        cli_http_resp_free(&r);
        if (!*cursor) break;
        if (!l->paging.all) {
            out_table_print(t, stdout);
            fprintf(stderr,
                    "eirnn: more %s: 'eirnn %s list --all', or the next page with --cursor %s\n",
                    l->items, l->items, *cursor);
            return CLI_OK;
        }
    }
    if (cli_opts.json) {
        json_t *j = json_pack("{s:O, s:n}", "items", all, "next_cursor");
        if (j) out_json(j);
        json_decref(j);
    } else {
        out_table_print(t, stdout);
    }
    return CLI_OK;
}

int cli_list_print(cli_http *h, const cli_list *l)
{
    out_table *t = cli_opts.json ? NULL : out_table_new(l->ncols, l->head);
    json_t *all = json_array();
    char *cursor = l->paging.cursor ? strdup(l->paging.cursor) : NULL;
    int rc;
    if ((!cli_opts.json && !t) || !all || (l->paging.cursor && !cursor)) {
        cli_error("out of memory");
        rc = CLI_EIO;
    } else {
        rc = list_follow(h, l, t, all, &cursor);
    }
    free(cursor);
    json_decref(all);
    out_table_free(t);
    return rc;
}
