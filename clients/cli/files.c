/**
 * @file files.c
 * @brief Files the eirnn commands read (files.h).
 */
#include "files.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "eir_csv.h"
#include "eir_json.h"
#include "eir_npy.h"

int cli_open_file(const char *path, int dash_is_stdin, FILE **f)
{
    int is_stdin = dash_is_stdin && strcmp(path, "-") == 0;
    *f = is_stdin ? stdin : fopen(path, "rb");
    if (!*f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return CLI_EIO;
    }
    struct stat sb;
    if (fstat(fileno(*f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(*f);
        *f = NULL;
        cli_error("%s: is a directory", path);
        return CLI_EIO;
    }
    return CLI_OK;
}

/** Read the .npy (or CSV) file @p path into @p a, checking that it has 2 or 3 dimensions. */
static int inputs_read(const char *path, size_t max_values, eir_npy_array *a)
{
    eir_npy_error ne;
    eir_npy_status st;
    size_t n = strlen(path);
    if (n >= 4 && strcasecmp(path + n - 4, ".npy") == 0) {
        st = eir_npy_read_file(path, max_values, a, &ne);
    } else {
        int64_t rows, cols;
        double *data;
        st = eir_csv_read(path, max_values, &rows, &cols, &data, &ne);
        if (st == EIR_NPY_OK) {
            a->dtype = EIR_NPY_F8;
            a->ndim = 2;
            a->shape[0] = rows;
            a->shape[1] = cols;
            a->count = (size_t)(rows * cols);
            a->data = data;
        }
    }
    if (st != EIR_NPY_OK) {
        cli_error("%s", ne.message);
        return st == EIR_NPY_EFORMAT ? CLI_EINVALID : CLI_EIO;
    }
    if (a->ndim != 2 && a->ndim != 3) {
        cli_error("%s: inputs must have shape T x n_in or B x T x n_in, not %d dimension%s", path,
                  a->ndim, a->ndim == 1 ? "" : "s");
        eir_npy_array_free(a);
        return CLI_EINVALID;
    }
    return CLI_OK;
}

/** The values of @p a as little-endian bytes of floats (@p f4) or doubles, base64-encoded.
 *  @return a malloc'ed string, or NULL when out of memory. */
static char *inputs_base64(const eir_npy_array *a, int f4)
{
    size_t isz = f4 ? 4 : 8;
    unsigned char *bytes = malloc(a->count > 0 ? a->count * isz : 1);
    if (!bytes) return NULL;
    for (size_t i = 0; i < a->count; i++) {
        uint64_t u;
        if (f4) {
            float x = (float)a->data[i];
            uint32_t w;
            memcpy(&w, &x, 4);
            u = w;
        } else {
            memcpy(&u, &a->data[i], 8);
        }
        for (size_t b = 0; b < isz; b++)
            bytes[isz * i + b] = (unsigned char)(u >> (8 * b));
    }
    char *b64 = eir_base64_encode(bytes, a->count * isz);
    free(bytes);
    return b64;
}

int cli_inputs_file(const char *path, size_t max_values, int keep_float32, json_t **out)
{
    *out = NULL;
    eir_npy_array a = {0};
    int rc = inputs_read(path, max_values, &a);
    if (rc != CLI_OK) return rc;
    int f4 = keep_float32 && a.dtype == EIR_NPY_F4;
    char *b64 = inputs_base64(&a, f4);
    json_t *shape = json_array();
    for (int d = 0; shape && d < a.ndim; d++)
        if (json_array_append_new(shape, json_integer(a.shape[d])) != 0) {
            json_decref(shape);
            shape = NULL;
        }
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

int cli_load_json(const char *path, int dash_is_stdin, json_t **out, char **text, size_t *text_len)
{
    *out = NULL;
    if (text) *text = NULL;
    int is_stdin = dash_is_stdin && strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f;
    int rc = cli_open_file(path, dash_is_stdin, &f);
    if (rc != CLI_OK) return rc;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int oom = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 131072;
            char *b = realloc(buf, nc);
            if (!b) {
                oom = 1;
                break;
            }
            buf = b;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int read_error = ferror(f);
    if (!is_stdin) fclose(f);
    if (oom || read_error) {
        free(buf);
        if (oom)
            cli_error("%s: out of memory reading it", name);
        else
            cli_error("%s: read failed", name);
        return CLI_EIO;
    }
    buf[n] = '\0';
    json_error_t je;
    json_t *j = eir_json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) {
        free(buf);
        cli_error("%s:%d:%d: %s", name, je.line, je.column, je.text);
        return CLI_EINVALID;
    }
    *out = j;
    if (text) {
        *text = buf;
        *text_len = n;
    } else {
        free(buf);
    }
    return CLI_OK;
}

int cli_make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            cli_error("%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return CLI_EIO;
        }
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return CLI_EIO;
    }
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        cli_error("%s: not a directory", p);
        free(p);
        return CLI_EIO;
    }
    free(p);
    return CLI_OK;
}
