/**
 * @file output.c
 * @brief Tables, "key  value" lines, the server's JSON and the progress bar of the eirnn
 *        client.
 */
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/** Width of the bar itself, in characters. */
#define BAR_WIDTH 30

void out_body(const cli_http_resp *r)
{
    if (r->body && r->len > 0) {
        fwrite(r->body, 1, r->len, stdout);
        if (r->body[r->len - 1] != '\n') fputc('\n', stdout);
    }
}

void out_json(const json_t *j)
{
    if (json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY) == 0)
        fputc('\n', stdout);
}

/* ------------------------------------------------------------------------------------------ */

struct out_table {
    int ncols;
    size_t nrows, cap; /**< rows, header included */
    char **cells;      /**< nrows * ncols strings */
};

out_table *out_table_new(int ncols, const char *const *headers)
{
    out_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ncols = ncols;
    if (out_table_add(t, headers) != 0) {
        out_table_free(t);
        return NULL;
    }
    return t;
}

int out_table_add(out_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (!c) return -1;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

void out_table_print(const out_table *t, FILE *f)
{
    int w[16] = {0};
    int nc = t->ncols < 16 ? t->ncols : 16;
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < nc; c++) {
            int n = (int)strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (n > w[c]) w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < nc; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == nc - 1)
                fprintf(f, "%s\n", s);
            else
                fprintf(f, "%-*s  ", w[c], s);
        }
    }
}

void out_table_free(out_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ------------------------------------------------------------------------------------------ */

void out_kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-12s ", key);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

const char *out_member(const json_t *obj, const char *key, char *buf, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return "-";
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v)) return json_is_true(v) ? "yes" : "no";
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, cap, "%s", s ? s : "?");
    free(s);
    return buf;
}

const char *out_time(const char *t, char *buf, size_t cap)
{
    if (!t) return "-";
    /* YYYY-MM-DDTHH:MM:SS[.fff]Z */
    if (strlen(t) >= 20 && t[4] == '-' && t[10] == 'T' && t[13] == ':' && cap > 19) {
        memcpy(buf, t, 19);
        buf[10] = ' ';
        buf[19] = '\0';
        return buf;
    }
    return t;
}

/* ------------------------------------------------------------------------------------------ */

static int bar_drawn;

int out_progress_enabled(void)
{
    return isatty(STDERR_FILENO);
}

void out_progress_text(const char *id, const char *status, double f, const char *detail)
{
    if (!out_progress_enabled()) return;
    if (!(f >= 0)) f = 0; /* NaN too */
    if (f > 1) f = 1;
    char bar[BAR_WIDTH + 1];
    int full = (int)(f * BAR_WIDTH + 0.5);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < full ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r\033[K%s %-9s [%s] %5.1f%%", id, status, bar, 100.0 * f);
    if (detail && *detail) fprintf(stderr, " %s", detail);
    fflush(stderr);
    bar_drawn = 1;
}

void out_progress(const char *id, const char *status, long long done, long long total)
{
    char detail[64] = "";
    if (total > 0) snprintf(detail, sizeof detail, "(%lld/%lld steps)", done, total);
    out_progress_text(id, status, total > 0 ? (double)done / (double)total : 0.0, detail);
}

void out_progress_end(void)
{
    if (bar_drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        bar_drawn = 0;
    }
}

int out_finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_OK) {
            cli_error("cannot write the output: %s", strerror(errno));
            return CLI_EIO;
        }
    }
    return rc;
}
