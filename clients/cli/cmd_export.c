/**
 * @file cmd_export.c
 * @brief `eirnn model export MODEL.json -o DIR`: the matrices of a model (eir_analysis.h), built
 *        offline as `simulate` builds it, written as DIR/<name>.npy (the bytes eirnnd serves at
 *        GET /v1/models/{id}/matrices/{name}: the same header writer and the same values) and
 *        the index DIR/matrices.json.
 *
 * Memory: the built model and one block of rows (about ::ROW_BLOCK bytes) per matrix written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "eir_analysis.h"
#include "eir_json.h"
#include "eir_npy.h"
#include "files.h"

/** Bytes of rows computed and written at once. */
#define ROW_BLOCK ((size_t)256 << 10)

static const char export_help[] =
    "usage: eirnn model export MODEL.json -o DIR\n"
    "\n"
    "Build the model offline (as 'eirnn simulate' does: a generate recipe is generated here)\n"
    "and write every matrix it has as DIR/<name>.npy (float64, C order): W, M (class gated,\n"
    "reduced form), K (class gated, conductance form), P and M_in (with inputs), G_b, bias,\n"
    "W_out and b_out (with a readout); the same bytes eirnnd serves at\n"
    "GET /v1/models/{id}/matrices/{name}. DIR/matrices.json lists them with their shapes and\n"
    "the model's hash. DIR is created if missing; files of these names in it are replaced\n"
    "(and a <name>.npy of a matrix this model does not have is removed).\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   output directory\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 ok, 1 I/O or internal error, 2 usage, 3 invalid model\n";

static char *path_in(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s%s", dir, name, suffix);
    if (!s) cli_error("out of memory");
    return s;
}

/**
 * Write matrix @p k of @p m (@p nd dimensions @p shape) to @p path as .npy, a block of rows at
 * a time. @return CLI_OK, or CLI_EIO after printing the error (the file may be left partial).
 */
static int write_matrix(const eir_model *m, eir_matrix k, int nd, const int64_t *shape,
                        const char *path)
{
    int64_t rows = nd == 1 ? 1 : shape[0], cols = nd == 1 ? shape[0] : shape[1];
    int64_t per = cols > 0 ? (int64_t)(ROW_BLOCK / ((size_t)cols * 8)) : 1;
    if (per < 1) per = 1;
    if (per > rows) per = rows > 0 ? rows : 1;
    double *blk = malloc((size_t)per * (size_t)(cols > 0 ? cols : 1) * sizeof *blk);
    char hdr[EIR_NPY_HEADER_MAX];
    size_t hl = eir_npy_header(EIR_NPY_F8, nd, shape, hdr, sizeof hdr);
    if (!blk || hl == 0) {
        free(blk);
        cli_error("%s: out of memory", path);
        return CLI_EIO;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        cli_error("%s: cannot create: %s", path, strerror(errno));
        free(blk);
        return CLI_EIO;
    }
    int ok = fwrite(hdr, 1, hl, f) == hl;
    for (int64_t r = 0; ok && r < rows && cols > 0; r += per) {
        int64_t n = rows - r < per ? rows - r : per;
        eir_error err;
        eir_error_clear(&err);
        if (eir_model_matrix_rows(m, k, r, n, blk, &err) != EIR_OK) {
            cli_error("%s: %s", path, err.message);
            fclose(f);
            free(blk);
            return CLI_EIO;
        }
        /* little-endian doubles as they are in memory: the daemon streams the same bytes */
        ok = fwrite(blk, sizeof *blk, (size_t)(n * cols), f) == (size_t)(n * cols);
    }
    free(blk);
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        cli_error("%s: write failed: %s", path, strerror(errno));
        return CLI_EIO;
    }
    return CLI_OK;
}

/** Write every matrix of @p m into @p dir and the index; @return the exit code. */
static int export_all(const eir_model *m, const char *dir)
{
    char hash[65];
    eir_model_hash(m, hash);
    json_t *list = json_array();
    json_t *index = json_pack("{s:s, s:I, s:o}", "hash", hash, "n", (json_int_t)eir_model_n(m),
                              "matrices", list);
    if (!index) {
        cli_error("out of memory");
        return CLI_EIO;
    }
    int rc = CLI_OK;
    for (int k = 0; rc == CLI_OK && k < EIR_NMATRICES; k++) {
        const char *name = eir_matrix_name((eir_matrix)k);
        int64_t shape[2];
        int nd = eir_model_matrix_shape(m, (eir_matrix)k, shape);
        char *path = path_in(dir, name, ".npy");
        if (!path) {
            rc = CLI_EIO;
            break;
        }
        if (nd == 0) {
            /* a file left by an export of another model would look like this model's */
            if (unlink(path) != 0 && errno != ENOENT) {
                cli_error("%s: cannot remove: %s", path, strerror(errno));
                rc = CLI_EIO;
            }
            free(path);
            continue;
        }
        rc = write_matrix(m, (eir_matrix)k, nd, shape, path);
        free(path);
        json_t *sh = json_array();
        for (int d = 0; sh && d < nd; d++)
            json_array_append_new(sh, json_integer(shape[d]));
        char file[32];
        snprintf(file, sizeof file, "%s.npy", name);
        if (rc == CLI_OK &&
            json_array_append_new(list, json_pack("{s:s, s:o, s:s, s:s}", "name", name, "shape", sh,
                                                  "dtype", "float64", "file", file)))
            rc = CLI_EIO;
    }
    char *ipath = rc == CLI_OK ? path_in(dir, "matrices", ".json") : NULL;
    if (rc == CLI_OK && !ipath) rc = CLI_EIO;
    if (rc == CLI_OK && json_dump_file(index, ipath, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) {
        cli_error("%s: cannot write", ipath);
        rc = CLI_EIO;
    }
    free(ipath);
    json_decref(index);
    return rc;
}

int cli_model_export(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *out_dir = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 'h':
            fputs(export_help, stdout);
            return CLI_OK;
        case ':':
            cli_error("model export: option '%s' needs a value (try 'eirnn model export --help')",
                      argv[optind - 1]);
            return CLI_EUSAGE;
        default:
            cli_error("model export: unknown option '%s' (try 'eirnn model export --help')",
                      argv[optind - 1]);
            return CLI_EUSAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("model export: expected one MODEL.json, got %d file%s "
                  "(try 'eirnn model export --help')",
                  argc - optind, argc - optind == 1 ? "" : "s");
        return CLI_EUSAGE;
    }
    if (!out_dir || !out_dir[0]) {
        cli_error("model export: -o DIR is required (try 'eirnn model export --help')");
        return CLI_EUSAGE;
    }
    const char *model_path = argv[optind];
    json_t *doc;
    int rc = cli_load_json(model_path, 0, &doc, NULL, NULL);
    if (rc != CLI_OK) return rc;
    if (!json_is_object(doc)) {
        cli_error("%s: the model must be a JSON object", model_path);
        json_decref(doc);
        return CLI_EINVALID;
    }
    eir_json_limits lim;
    eir_json_limits_default(&lim);
    eir_model *m = NULL;
    eir_model_spec *spec = NULL;
    eir_error err;
    eir_error_clear(&err);
    eir_status st = eir_json_build_model(doc, &lim, "", &m, &spec, &err);
    json_decref(doc);
    if (st != EIR_OK) return cli_report(model_path, &err);
    rc = cli_make_dirs(out_dir);
    if (rc == CLI_OK) rc = export_all(m, out_dir);
    eir_model_free(m);
    eir_model_spec_free(spec);
    return rc;
}
