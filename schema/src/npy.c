/* NumPy .npy writer and reader (eir_npy.h); the file and error helpers of npy_io.h. */
#include "eir_npy.h"
#include "npy_io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || !defined(__ORDER_LITTLE_ENDIAN__)
#error "byte order macros are required"
#endif
#define HOST_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

eir_npy_status eir_npy_fail(eir_npy_error *err, eir_npy_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

void eir_npy_ok(eir_npy_error *err)
{
    if (err) {
        err->status = EIR_NPY_OK;
        err->message[0] = '\0';
    }
}

eir_npy_status eir_npy_prefix_path(eir_npy_error *err, eir_npy_status st, const char *path)
{
    if (err && st != EIR_NPY_OK) {
        char tmp[EIR_NPY_MESSAGE_MAX];
        memcpy(tmp, err->message, sizeof tmp);
        int n = snprintf(err->message, sizeof err->message, "%s: ", path);
        if (n >= 0 && (size_t)n < sizeof err->message)
            snprintf(err->message + n, sizeof err->message - (size_t)n, "%s", tmp);
    }
    return st;
}

const char *eir_npy_descr(eir_npy_dtype t)
{
    switch (t) {
    case EIR_NPY_F8:
        return "<f8";
    case EIR_NPY_F4:
        return "<f4";
    case EIR_NPY_C16:
        return "<c16";
    case EIR_NPY_I4:
        return "<i4";
    case EIR_NPY_I8:
        return "<i8";
    }
    return NULL;
}

size_t eir_npy_itemsize(eir_npy_dtype t)
{
    switch (t) {
    case EIR_NPY_F8:
        return 8;
    case EIR_NPY_F4:
    case EIR_NPY_I4:
        return 4;
    case EIR_NPY_C16:
        return 16;
    case EIR_NPY_I8:
        return 8;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                     */
/* ------------------------------------------------------------------------------------------ */

size_t eir_npy_header(eir_npy_dtype dtype, int ndim, const int64_t *shape, char *buf, size_t cap)
{
    const char *descr = eir_npy_descr(dtype);
    if (!descr || ndim < 0 || ndim > EIR_NPY_MAX_NDIM || (ndim > 0 && !shape) || !buf) return 0;
    char dict[EIR_NPY_HEADER_MAX];
    size_t n = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, "
                                "'shape': (",
                                descr);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return 0;
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", d ? ", " : "",
                              (long long)shape[d]);
    }
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    /* 10 bytes of preamble, the dict, spaces, '\n': total a multiple of EIR_NPY_ALIGN. */
    size_t total = (10 + n + 1 + EIR_NPY_ALIGN - 1) / EIR_NPY_ALIGN * EIR_NPY_ALIGN;
    if (total > cap || total > EIR_NPY_HEADER_MAX) return 0;
    size_t hlen = total - 10;
    memcpy(buf, npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', total - 10 - n - 1);
    buf[total - 1] = '\n';
    return total;
}

/* Number of elements of a shape, or 0 with *ovf set when it overflows size_t (per item). */
static size_t shape_count(int ndim, const int64_t *shape, size_t itemsize, int *ovf)
{
    size_t count = 1;
    *ovf = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            *ovf = 1;
            return 0;
        }
        uint64_t s = (uint64_t)shape[d];
        if (s != 0 && count > SIZE_MAX / itemsize / s) {
            *ovf = 1;
            return 0;
        }
        count *= (size_t)s;
    }
    return count;
}

eir_npy_status eir_npy_write(FILE *f, eir_npy_dtype dtype, int ndim, const int64_t *shape,
                             const void *data, eir_npy_error *err)
{
    char hdr[EIR_NPY_HEADER_MAX];
    size_t hl = eir_npy_header(dtype, ndim, shape, hdr, sizeof hdr);
    if (!f || hl == 0)
        return eir_npy_fail(err, EIR_NPY_EINVAL, "cannot write .npy: bad dtype, shape or stream");
    size_t item = eir_npy_itemsize(dtype);
    int ovf;
    size_t count = shape_count(ndim, shape, item, &ovf);
    if (ovf) return eir_npy_fail(err, EIR_NPY_EINVAL, "cannot write .npy: shape too large");
    if (count > 0 && !data) return eir_npy_fail(err, EIR_NPY_EINVAL, "cannot write .npy: no data");
    if (fwrite(hdr, 1, hl, f) != hl)
        return eir_npy_fail(err, EIR_NPY_EIO, "write failed: %s", strerror(errno));
#if HOST_LE
    if (count > 0 && fwrite(data, item, count, f) != count)
        return eir_npy_fail(err, EIR_NPY_EIO, "write failed: %s", strerror(errno));
#else
    unsigned char chunk[8192];
    const unsigned char *p = data;
    size_t per = sizeof chunk / item;
    size_t word = dtype == EIR_NPY_C16 ? 8 : item; /* a complex value is two doubles */
    for (size_t done = 0; done < count;) {
        size_t k = count - done < per ? count - done : per;
        for (size_t i = 0; i < k * item; i += word)
            for (size_t b = 0; b < word; b++)
                chunk[i + b] = p[done * item + i + word - 1 - b];
        if (fwrite(chunk, item, k, f) != k)
            return eir_npy_fail(err, EIR_NPY_EIO, "write failed: %s", strerror(errno));
        done += k;
    }
#endif
    eir_npy_ok(err);
    return EIR_NPY_OK;
}

eir_npy_status eir_npy_write_file(const char *path, eir_npy_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data, eir_npy_error *err)
{
    if (!path) return eir_npy_fail(err, EIR_NPY_EINVAL, "cannot write .npy: no path");
    FILE *f = fopen(path, "wb");
    if (!f) return eir_npy_fail(err, EIR_NPY_EIO, "%s: cannot create: %s", path, strerror(errno));
    eir_npy_status st = eir_npy_write(f, dtype, ndim, shape, data, err);
    if (st != EIR_NPY_OK) {
        fclose(f);
        return eir_npy_prefix_path(err, st, path);
    }
    if (fflush(f) != 0 || ferror(f)) {
        int e = errno;
        fclose(f);
        return eir_npy_fail(err, EIR_NPY_EIO, "%s: write failed: %s", path, strerror(e));
    }
    if (fclose(f) != 0)
        return eir_npy_fail(err, EIR_NPY_EIO, "%s: write failed: %s", path, strerror(errno));
    eir_npy_ok(err);
    return EIR_NPY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Reader                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A cursor over the header dict [p, end). */
typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes, at most cap-1 characters. 0 on success. */
static int parse_str(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f || n + 1 >= cap) return -1;
        out[n++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = '\0';
    return 0;
}

static int parse_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    /* The word must end here. */
    if ((size_t)(c->end - c->p) > n) {
        char nx = c->p[n];
        if ((nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z') || (nx >= '0' && nx <= '9') ||
            nx == '_')
            return 0;
    }
    c->p += n;
    return 1;
}

/* A non-negative decimal integer that fits in int64. 0 on success, -1 malformed, -2 too big. */
static int parse_dim(cursor *c, int64_t *out)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned dgt = (unsigned)(*c->p - '0');
        if (v > ((uint64_t)INT64_MAX - dgt) / 10) return -2;
        v = v * 10 + dgt;
        c->p++;
    }
    *out = (int64_t)v;
    return 0;
}

/* The shape tuple: (), (a,), (a, b), (a, b, c) with an optional trailing comma after 2+. */
static eir_npy_status parse_shape(cursor *c, int *ndim, int64_t *shape, eir_npy_error *err)
{
    if (!accept(c, '('))
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: 'shape' is not a tuple");
    int n = 0;
    if (accept(c, ')')) {
        *ndim = 0;
        return EIR_NPY_OK;
    }
    int trailing = 0;
    for (;;) {
        int64_t d;
        int rc = parse_dim(c, &d);
        if (rc == -2)
            return eir_npy_fail(err, EIR_NPY_EFORMAT, "unsupported .npy: a dimension is too large");
        if (rc != 0)
            return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                "malformed .npy header: 'shape' holds something other than "
                                "non-negative integers");
        if (n == EIR_NPY_MAX_NDIM)
            return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                "unsupported .npy: more than %d dimensions (at most %d are read)",
                                EIR_NPY_MAX_NDIM, EIR_NPY_MAX_NDIM);
        shape[n++] = d;
        trailing = accept(c, ',');
        if (accept(c, ')')) break;
        if (!trailing)
            return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: bad 'shape' tuple");
    }
    if (n == 1 && !trailing)
        return eir_npy_fail(
            err, EIR_NPY_EFORMAT,
            "malformed .npy header: 'shape' is not a tuple (a 1-tuple needs a comma)");
    *ndim = n;
    return EIR_NPY_OK;
}

/* Parse the header dict; fills dtype, ndim, shape. */
static eir_npy_status parse_dict(const char *h, size_t hlen, eir_npy_dtype *dtype, int *ndim,
                                 int64_t *shape, eir_npy_error *err)
{
    cursor c = {h, h + hlen};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    if (!accept(&c, '{'))
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: no dict");
    if (!accept(&c, '}')) {
        for (;;) {
            char key[32];
            if (parse_str(&c, key, sizeof key) != 0)
                return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: bad key");
            if (!accept(&c, ':'))
                return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: ':' expected");
            if (strcmp(key, "descr") == 0) {
                char d[32];
                if (have_descr)
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "malformed .npy header: 'descr' twice");
                have_descr = 1;
                skip_ws(&c);
                if (c.p < c.end && *c.p != '\'' && *c.p != '"')
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "unsupported .npy dtype: structured arrays are not read "
                                        "(expected '<f4' or '<f8')");
                if (parse_str(&c, d, sizeof d) != 0)
                    return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: bad 'descr'");
                if (strcmp(d, "<f8") == 0)
                    *dtype = EIR_NPY_F8;
                else if (strcmp(d, "<f4") == 0)
                    *dtype = EIR_NPY_F4;
                else
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "unsupported .npy dtype '%s' (expected '<f4' or '<f8')", d);
            } else if (strcmp(key, "fortran_order") == 0) {
                if (have_fo)
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "malformed .npy header: 'fortran_order' twice");
                have_fo = 1;
                if (parse_word(&c, "True"))
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "unsupported .npy: Fortran-order arrays are not read "
                                        "(save a C-contiguous array)");
                if (!parse_word(&c, "False"))
                    return eir_npy_fail(
                        err, EIR_NPY_EFORMAT,
                        "malformed .npy header: 'fortran_order' is not True or False");
            } else if (strcmp(key, "shape") == 0) {
                if (have_shape)
                    return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                        "malformed .npy header: 'shape' twice");
                have_shape = 1;
                eir_npy_status st = parse_shape(&c, ndim, shape, err);
                if (st != EIR_NPY_OK) return st;
            } else {
                return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                    "malformed .npy header: unexpected key '%s'", key);
            }
            int comma = accept(&c, ',');
            if (accept(&c, '}')) break;
            if (!comma)
                return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                    "malformed .npy header: ',' or '}' expected");
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: data after the dict");
    if (!have_descr || !have_fo || !have_shape)
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "malformed .npy header: '%s' is missing",
                            !have_descr ? "descr"
                            : !have_fo  ? "fortran_order"
                                        : "shape");
    return EIR_NPY_OK;
}

static double load_f8(const unsigned char *p)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = HOST_LE ? p[i] : p[7 - i];
    double v;
    memcpy(&v, b, 8);
    return v;
}

static double load_f4(const unsigned char *p)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = HOST_LE ? p[i] : p[3 - i];
    float v;
    memcpy(&v, b, 4);
    return v;
}

eir_npy_status eir_npy_parse(const void *buf, size_t len, size_t max_values, eir_npy_array *out,
                             eir_npy_error *err)
{
    if (!out) return eir_npy_fail(err, EIR_NPY_EINVAL, "no output array");
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (!b && len > 0) return eir_npy_fail(err, EIR_NPY_EINVAL, "no input buffer");
    if (len < 10 || memcmp(b, npy_magic, 6) != 0)
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "not a .npy file (bad magic string)");
    unsigned major = b[6], minor = b[7];
    if ((major < 1 || major > 3) || minor != 0)
        return eir_npy_fail(err, EIR_NPY_EFORMAT,
                            "unsupported .npy version %u.%u (1.0, 2.0 and 3.0 are read)", major,
                            minor);
    size_t pre, hlen;
    if (major == 1) {
        pre = 10;
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else {
        if (len < 12)
            return eir_npy_fail(err, EIR_NPY_EFORMAT, ".npy file too short for its header length");
        pre = 12;
        uint32_t h =
            (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
        if (h > EIR_NPY_READ_HEADER_MAX)
            return eir_npy_fail(err, EIR_NPY_EFORMAT,
                                ".npy header too long (%lu bytes, at most %d)", (unsigned long)h,
                                EIR_NPY_READ_HEADER_MAX);
        hlen = h;
    }
    if (pre + hlen > len)
        return eir_npy_fail(err, EIR_NPY_EFORMAT,
                            ".npy header length %zu runs past the end of the input (%zu bytes)",
                            hlen, len);

    eir_npy_dtype dtype = EIR_NPY_F8;
    int ndim = 0;
    int64_t shape[EIR_NPY_MAX_NDIM] = {0};
    eir_npy_status st = parse_dict((const char *)b + pre, hlen, &dtype, &ndim, shape, err);
    if (st != EIR_NPY_OK) return st;

    size_t item = eir_npy_itemsize(dtype);
    int ovf;
    size_t count = shape_count(ndim, shape, item, &ovf);
    if (ovf || (max_values > 0 && count > max_values)) {
        char dims[96];
        size_t k = 0;
        for (int d = 0; d < ndim && k < sizeof dims; d++)
            k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", d ? ", " : "",
                                  (long long)shape[d]);
        if (ovf) return eir_npy_fail(err, EIR_NPY_EFORMAT, ".npy shape (%s) is too large", dims);
        return eir_npy_fail(err, EIR_NPY_EFORMAT,
                            ".npy shape (%s) has %zu elements, more than the limit of %zu", dims,
                            count, max_values);
    }
    size_t data_len = len - pre - hlen;
    if (data_len != count * item)
        return eir_npy_fail(err, EIR_NPY_EFORMAT,
                            ".npy data is %zu bytes but its shape and dtype '%s' need %zu",
                            data_len, eir_npy_descr(dtype), count * item);

    double *data = malloc(count > 0 ? count * sizeof(double) : sizeof(double));
    if (!data)
        return eir_npy_fail(err, EIR_NPY_ENOMEM, "out of memory reading a .npy of %zu elements",
                            count);
    const unsigned char *p = b + pre + hlen;
    if (dtype == EIR_NPY_F8) {
        if (HOST_LE)
            memcpy(data, p, count * 8);
        else
            for (size_t i = 0; i < count; i++)
                data[i] = load_f8(p + 8 * i);
    } else {
        for (size_t i = 0; i < count; i++)
            data[i] = load_f4(p + 4 * i);
    }
    out->dtype = dtype;
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        out->shape[d] = shape[d];
    out->count = count;
    out->data = data;
    eir_npy_ok(err);
    return EIR_NPY_OK;
}

eir_npy_status eir_npy_read_all(const char *path, size_t cap, char **out, size_t *out_len,
                                eir_npy_error *err)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return eir_npy_fail(err, EIR_NPY_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return eir_npy_fail(err, EIR_NPY_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return eir_npy_fail(err, EIR_NPY_EIO, "%s: is a directory", path);
    }
    if (S_ISREG(sb.st_mode) && cap > 0 && (uint64_t)sb.st_size > cap) {
        close(fd);
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "%s: file too large (%lld bytes, at most %zu)",
                            path, (long long)sb.st_size, cap);
    }
    size_t size = S_ISREG(sb.st_mode) && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
    char *buf = malloc(size);
    if (!buf) {
        close(fd);
        return eir_npy_fail(err, EIR_NPY_ENOMEM, "%s: out of memory", path);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= size) {
            if (cap > 0 && n > cap) {
                free(buf);
                close(fd);
                return eir_npy_fail(err, EIR_NPY_EFORMAT, "%s: file too large (at most %zu bytes)",
                                    path, cap);
            }
            size_t ns = size * 2;
            char *nb = ns > size ? realloc(buf, ns) : NULL;
            if (!nb) {
                free(buf);
                close(fd);
                return eir_npy_fail(err, EIR_NPY_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            size = ns;
        }
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return eir_npy_fail(err, EIR_NPY_EIO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (cap > 0 && n > cap) {
        free(buf);
        return eir_npy_fail(err, EIR_NPY_EFORMAT, "%s: file too large (at most %zu bytes)", path,
                            cap);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return EIR_NPY_OK;
}

eir_npy_status eir_npy_read_file(const char *path, size_t max_values, eir_npy_array *out,
                                 eir_npy_error *err)
{
    if (!out) return eir_npy_fail(err, EIR_NPY_EINVAL, "no output array");
    memset(out, 0, sizeof *out);
    if (!path) return eir_npy_fail(err, EIR_NPY_EINVAL, "no path");
    size_t cap = 0;
    if (max_values > 0 && max_values < (SIZE_MAX - EIR_NPY_READ_HEADER_MAX - 12) / 8)
        cap = 12 + EIR_NPY_READ_HEADER_MAX + max_values * 8;
    char *buf;
    size_t len;
    eir_npy_status st = eir_npy_read_all(path, cap, &buf, &len, err);
    if (st != EIR_NPY_OK) return st;
    st = eir_npy_parse(buf, len, max_values, out, err);
    free(buf);
    return eir_npy_prefix_path(err, st, path);
}

void eir_npy_array_free(eir_npy_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
