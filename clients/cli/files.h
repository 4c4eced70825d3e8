/**
 * @file files.h
 * @brief Files the eirnn commands read, shared by `simulate` and the HTTP commands: opening a
 *        file to read, and an inputs array from a .npy or CSV file.
 *
 * Every function prints its own error line ("eirnn: error: ...") and returns the exit code to
 * end with; nothing is allocated on failure.
 */
#ifndef EIRNN_CLI_FILES_H
#define EIRNN_CLI_FILES_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/**
 * Open @p path for reading into *f ("-" is standard input when @p dash_is_stdin); a directory
 * is refused. @return CLI_OK; CLI_EIO after "PATH: cannot open: <why>" or "PATH: is a
 * directory".
 */
int cli_open_file(const char *path, int dash_is_stdin, FILE **f);

/**
 * The inputs array in the .npy file @p path (CSV for any other name) as a binary array object
 * {"dtype", "shape", "base64"} in *out (the caller owns it): float64, or float32 when
 * @p keep_float32 and the .npy holds float32 (its values are exact as floats). At most
 * @p max_values values (0: no limit).
 * @return CLI_OK; CLI_EINVALID for a malformed file or a shape that is not T x n_in or
 *         B x T x n_in; CLI_EIO when it cannot be read or when out of memory.
 */
int cli_inputs_file(const char *path, size_t max_values, int keep_float32, json_t **out);

/**
 * Read the JSON file @p path ("-" is standard input when @p dash_is_stdin) into *out (any JSON
 * value; duplicate keys rejected; integers beyond 64 bits read as reals, so that the field
 * they are in is named in the error, as the daemon does: eir_json_loadb) and, when @p text is
 * not NULL, its bytes into *text (malloc'ed, NUL-terminated, *text_len bytes) so that they can
 * be sent as they are.
 * @return CLI_OK; CLI_EIO when it cannot be read; CLI_EINVALID for a JSON syntax error
 *         ("FILE:LINE:COLUMN: ..."). Nothing is allocated on failure.
 */
int cli_load_json(const char *path, int dash_is_stdin, json_t **out, char **text, size_t *text_len);

/**
 * mkdir -p @p dir (simulate's and model export's output directories). @return CLI_OK; CLI_EIO
 * after "PATH: cannot create directory: <why>" or "PATH: not a directory"; out of memory too.
 */
int cli_make_dirs(const char *dir);

#endif /* EIRNN_CLI_FILES_H */
