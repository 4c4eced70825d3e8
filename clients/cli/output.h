/**
 * @file output.h
 * @brief What the HTTP commands print: the server's JSON as it is (--json), or tables and
 *        "key  value" lines for people; and the progress bar on a terminal while waiting.
 *
 * Everything goes to stdout except the progress bar (stderr). Write errors are not checked
 * on every call: a command ends with out_finish(), which notices a failed stdout.
 */
#ifndef EIRNN_CLI_OUTPUT_H
#define EIRNN_CLI_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

#include "http.h"

/** Print the body of @p r as it is on stdout, with a final newline if it has none. */
void out_body(const cli_http_resp *r);

/** Print @p j on stdout as one line of JSON (sorted keys as given; numbers exact). */
void out_json(const json_t *j);

/** A text table: a header row and left-aligned columns, two spaces apart. */
typedef struct out_table out_table;

/** A table of @p ncols columns named @p headers. @return NULL when out of memory. */
out_table *out_table_new(int ncols, const char *const *headers);

/** Add a row of ncols cells (copied; NULL prints as "-"). @return 0, or -1 when out of memory
 *  (the row is dropped). */
int out_table_add(out_table *t, const char *const *cells);

/** Print @p t (header and rows) to @p f. */
void out_table_print(const out_table *t, FILE *f);

/** Free @p t (NULL is a no-op). */
void out_table_free(out_table *t);

/** Print "key" padded to 12 columns and then the formatted value, on stdout. */
void out_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * The text of member @p key of @p obj: a string as it is; a number, boolean or other value as
 * JSON text in @p buf; "-" when the member is missing or null.
 */
const char *out_member(const json_t *obj, const char *key, char *buf, size_t cap);

/**
 * An RFC 3339 time of the server ("2026-01-02T03:04:05.678Z") for people:
 * "2026-01-02 03:04:05" (UTC) in @p buf; "-" for NULL; other text as it is.
 */
const char *out_time(const char *rfc3339, char *buf, size_t cap);

/** Whether the progress bar is shown: stderr is a terminal. */
int out_progress_enabled(void);

/**
 * Draw (or redraw) the progress bar of run @p id on stderr: its status, a bar, the percentage
 * and the steps. Does nothing unless out_progress_enabled().
 */
void out_progress(const char *id, const char *status, long long done, long long total);

/**
 * Draw (or redraw) a progress bar on stderr: "@p id @p status [####....] 12.5% @p detail"
 * with @p fraction clamped to [0, 1]; @p detail may be NULL. Does nothing unless
 * out_progress_enabled().
 */
void out_progress_text(const char *id, const char *status, double fraction, const char *detail);

/** Erase the progress bar if one was drawn. */
void out_progress_end(void);

/**
 * End a command: flush stdout. @return @p rc, or CLI_EIO (after printing why) when @p rc is
 * CLI_OK but stdout could not be written (a full disk, a closed pipe).
 */
int out_finish(int rc);

#endif /* EIRNN_CLI_OUTPUT_H */
