/* CSV numeric matrix reader (eir_csv.h), on the file and error helpers of npy_io.h. */
#include "eir_csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npy_io.h"

/* Parse one field [p, e) (already trimmed) as a finite double. 0 on success. */
static int csv_number(const char *p, const char *e, double *v)
{
    char tmp[128];
    size_t n = (size_t)(e - p);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

eir_npy_status eir_csv_parse(const char *buf, size_t len, size_t max_values, int64_t *rows,
                             int64_t *cols, double **out, eir_npy_error *err)
{
    if (!rows || !cols || !out || (!buf && len > 0))
        return eir_npy_fail(err, EIR_NPY_EINVAL, "bad arguments");
    *out = NULL;
    *rows = 0;
    *cols = 0;
    double *vals = NULL;
    size_t nvals = 0, cap = 0;
    int64_t nrows = 0, ncols = -1, first_row_line = 0;
    int seen_line = 0;
    const char *p = buf, *end = buf + len;
    int64_t line = 0;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *s = p;
        p = eol ? eol + 1 : end;
        while (s < le && is_blank(*s))
            s++;
        const char *t = le;
        while (t > s && is_blank(t[-1]))
            t--;
        if (s == t || *s == '#') continue;
        int header_candidate = !seen_line;
        seen_line = 1;
        /* Parse fields into the tail of vals (grown as needed), commit when the row is whole. */
        size_t start = nvals;
        int64_t field = 0;
        const char *f = s;
        for (;;) {
            const char *comma = memchr(f, ',', (size_t)(t - f));
            const char *fe = comma ? comma : t;
            const char *a = f, *z = fe;
            while (a < z && is_blank(*a))
                a++;
            while (z > a && is_blank(z[-1]))
                z--;
            field++;
            double v;
            if (csv_number(a, z, &v) != 0) {
                if (header_candidate) {
                    nvals = start;
                    field = -1;
                    break;
                }
                free(vals);
                if (a == z)
                    return eir_npy_fail(err, EIR_NPY_EFORMAT, "line %lld, field %lld: empty field",
                                        (long long)line, (long long)field);
                return eir_npy_fail(
                    err, EIR_NPY_EFORMAT, "line %lld, field %lld: '%.*s' is not a finite number",
                    (long long)line, (long long)field, (int)(z - a > 40 ? 40 : z - a), a);
            }
            if (max_values > 0 && nvals >= max_values) {
                free(vals);
                return eir_npy_fail(err, EIR_NPY_EFORMAT, "line %lld: more than %zu values",
                                    (long long)line, max_values);
            }
            if (nvals == cap) {
                size_t nc = cap ? cap * 2 : 256;
                double *nv = nc > cap && nc < SIZE_MAX / sizeof(double)
                                 ? realloc(vals, nc * sizeof(double))
                                 : NULL;
                if (!nv) {
                    free(vals);
                    return eir_npy_fail(err, EIR_NPY_ENOMEM, "out of memory reading CSV");
                }
                vals = nv;
                cap = nc;
            }
            vals[nvals++] = v;
            if (!comma) break;
            f = comma + 1;
        }
        if (field < 0) continue; /* header line skipped */
        if (ncols < 0) {
            ncols = field;
            first_row_line = line;
        } else if (field != ncols) {
            free(vals);
            return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                "line %lld has %lld fields but line %lld has %lld", (long long)line,
                                (long long)field, (long long)first_row_line, (long long)ncols);
        }
        nrows++;
    }
    if (nrows == 0) {
        free(vals);
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "no data rows");
    }
    *rows = nrows;
    *cols = ncols;
    *out = vals;
    eir_npy_ok(err);
    return EIR_NPY_OK;
}

eir_npy_status eir_csv_read(const char *path, size_t max_values, int64_t *rows, int64_t *cols,
                            double **out, eir_npy_error *err)
{
    if (!path || !rows || !cols || !out) return eir_npy_fail(err, EIR_NPY_EINVAL, "bad arguments");
    *out = NULL;
    size_t cap = 0;
    /* A value takes at least 2 bytes ("0,"); allow generous room for long numbers and comments. */
    if (max_values > 0 && max_values < SIZE_MAX / 64 - 65536) cap = max_values * 64 + 65536;
    char *buf;
    size_t len;
    eir_npy_status st = eir_npy_read_all(path, cap, &buf, &len, err);
    if (st != EIR_NPY_OK) return st;
    st = eir_csv_parse(buf, len, max_values, rows, cols, out, err);
    free(buf);
    return eir_npy_prefix_path(err, st, path);
}
