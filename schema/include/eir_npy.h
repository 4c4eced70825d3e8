/**
 * @file eir_npy.h
 * @brief NumPy's .npy format (version 1.0 written; 1.0, 2.0 and 3.0 read). The CSV reader
 *        for numeric matrices, which shares its status and error types, is eir_csv.h.
 *
 * The writer emits little-endian float32 ('<f4'), float64 ('<f8'), complex128 ('<c16', each
 * value its real then its imaginary part as float64), int32 ('<i4') or int64 ('<i8'), C order,
 * with the header
 * padded so that the data starts at a multiple of ::EIR_NPY_ALIGN bytes, as modern NumPy does.
 * The reader accepts '<f4' and '<f8' in C order with 0 to ::EIR_NPY_MAX_NDIM dimensions and
 * trusts no length in its input: every size is checked against the buffer and the caller's
 * limit before anything proportional to it is allocated.
 */
#ifndef EIR_NPY_H
#define EIR_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Alignment of the data start in files written here. */
#define EIR_NPY_ALIGN 64
/** Largest number of dimensions read or written. */
#define EIR_NPY_MAX_NDIM 3
/** Buffer size that always holds a header written by eir_npy_header(). */
#define EIR_NPY_HEADER_MAX 256
/** Largest header dict (the part after the length field) the reader accepts. */
#define EIR_NPY_READ_HEADER_MAX 65536
/** Size of the message buffer in ::eir_npy_error. */
#define EIR_NPY_MESSAGE_MAX 256

/** Element types. The reader knows the first two; the writer all. */
typedef enum eir_npy_dtype {
    EIR_NPY_F8 = 0,  /**< little-endian IEEE double, '<f8' */
    EIR_NPY_F4 = 1,  /**< little-endian IEEE single, '<f4' */
    EIR_NPY_C16 = 2, /**< little-endian complex of two doubles (re, im), '<c16' (written only) */
    EIR_NPY_I4 = 3,  /**< little-endian int32, '<i4' (written only) */
    EIR_NPY_I8 = 4   /**< little-endian int64, '<i8' (written only) */
} eir_npy_dtype;

/** Status of the functions here. */
typedef enum eir_npy_status {
    EIR_NPY_OK = 0,      /**< success */
    EIR_NPY_EINVAL = 1,  /**< bad argument from the caller (writer) */
    EIR_NPY_EFORMAT = 2, /**< malformed or unsupported input (reader) */
    EIR_NPY_ENOMEM = 3,  /**< allocation failed */
    EIR_NPY_EIO = 4      /**< open, read or write failed (message has strerror) */
} eir_npy_status;

/** Error detail: status and one line a user can act on. */
typedef struct eir_npy_error {
    eir_npy_status status;
    char message[EIR_NPY_MESSAGE_MAX];
} eir_npy_error;

/** An array read from a file: doubles, C order. */
typedef struct eir_npy_array {
    eir_npy_dtype dtype;             /**< element type found in the input */
    int ndim;                        /**< 0 .. EIR_NPY_MAX_NDIM */
    int64_t shape[EIR_NPY_MAX_NDIM]; /**< first ndim entries are valid */
    size_t count;                    /**< product of the shape (1 when ndim is 0) */
    double *data;                    /**< count values, malloc'ed (never NULL on success) */
} eir_npy_array;

/** dtype string of @p t ("<f8", "<f4", "<c16", "<i4", "<i8"); NULL for an unknown value. */
const char *eir_npy_descr(eir_npy_dtype t);

/** Bytes per element of @p t (8, 4, 16, 4, 8); 0 for an unknown value. */
size_t eir_npy_itemsize(eir_npy_dtype t);

/**
 * Write the .npy header (magic, version 1.0, header length, dict, padding, '\n') for an array
 * of @p ndim dimensions @p shape to @p buf. The data that follows is count * itemsize bytes of
 * little-endian values in C order. The header length is a multiple of ::EIR_NPY_ALIGN and at
 * most ::EIR_NPY_HEADER_MAX.
 * @return the header length, or 0 (nothing useful in @p buf) if @p dtype is unknown, @p ndim
 *         is outside 0..EIR_NPY_MAX_NDIM, a dimension is negative, or @p cap is too small.
 */
size_t eir_npy_header(eir_npy_dtype dtype, int ndim, const int64_t *shape, char *buf, size_t cap);

/**
 * Write a whole .npy (header and data) to @p f. @p data holds count elements of @p dtype in
 * host byte order (float for F4, double for F8, two doubles for C16, int32_t for I4, int64_t for
 * I8); it is written little-endian.
 * @return EIR_NPY_OK; EIR_NPY_EINVAL for bad arguments, EIR_NPY_EIO when a write fails
 *         (the stream is left where it failed). @p err may be NULL.
 */
eir_npy_status eir_npy_write(FILE *f, eir_npy_dtype dtype, int ndim, const int64_t *shape,
                             const void *data, eir_npy_error *err);

/**
 * Create or truncate @p path and write a .npy to it as eir_npy_write() does. On failure the
 * file may be left partially written; the error names the path.
 */
eir_npy_status eir_npy_write_file(const char *path, eir_npy_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data, eir_npy_error *err);

/**
 * Parse a whole .npy held in @p buf (@p len bytes). Accepts versions 1.0, 2.0 and 3.0, dtype
 * '<f4' or '<f8', fortran_order False, 0..EIR_NPY_MAX_NDIM dimensions, and exactly
 * count * itemsize bytes of data after the header. Rejects (EIR_NPY_EFORMAT, with a message
 * saying what was wrong) a bad magic string, an unsupported version, a header dict longer
 * than ::EIR_NPY_READ_HEADER_MAX or than the buffer, a malformed dict, an unsupported dtype,
 * Fortran order, more than @p max_values elements (0 = no limit beyond overflow), and a data length
 * that does not match the shape. Values are converted to double; non-finite values are kept.
 * On failure @p out is zeroed and nothing is allocated; EIR_NPY_ENOMEM when allocation fails.
 */
eir_npy_status eir_npy_parse(const void *buf, size_t len, size_t max_values, eir_npy_array *out,
                             eir_npy_error *err);

/**
 * Read and parse the .npy file @p path as eir_npy_parse() does (the file is read whole; files
 * larger than the header plus @p max_values elements are rejected before reading). EIR_NPY_EIO
 * when the file cannot be opened or read; messages name the path.
 */
eir_npy_status eir_npy_read_file(const char *path, size_t max_values, eir_npy_array *out,
                                 eir_npy_error *err);

/** Free the data of @p a and zero it; NULL is a no-op. */
void eir_npy_array_free(eir_npy_array *a);

#ifdef __cplusplus
}
#endif
#endif /* EIR_NPY_H */
