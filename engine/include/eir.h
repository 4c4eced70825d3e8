/**
 * @file eir.h
 * @brief eirnn engine: the conductance-gated excitatory/inhibitory RNN (see docs/MODEL.md).
 *
 * The engine knows no JSON and does no I/O. Every function that can fail returns an
 * ::eir_status and, when given an ::eir_error, fills it with a message a user can act on and
 * the JSON pointer (RFC 6901) of the offending model or run field, relative to the model or
 * run object of docs/FORMAT (e.g. "/recurrent/W", "/dt"). Nothing here keeps global mutable
 * state: a built ::eir_model is immutable and may be shared by any number of threads running
 * simulations at once.
 *
 * Conventions (MODEL.md): N = n_e + n_i neurons, excitatory first. Matrices are row-major;
 * W[i*N + j] is the synapse from presynaptic j onto postsynaptic i.
 */
#ifndef EIR_H
#define EIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the engine's numerics; bump when results for the same input change. */
#define EIR_ENGINE_VERSION "1.0.0"

/** Name of the noise generator; stored in every run's metadata. */
#define EIR_RNG_NAME "philox4x32-10+box-muller/v1"

/** Status codes. */
typedef enum eir_status {
    EIR_OK = 0,         /**< success */
    EIR_EINVAL = 1,     /**< invalid model, run or argument; see the error's field */
    EIR_ENOMEM = 2,     /**< allocation failed */
    EIR_ECANCELLED = 3, /**< the progress callback asked to stop */
    EIR_ENUMERIC = 4    /**< a numerical routine (e.g. LAPACK) failed */
} eir_status;

#define EIR_FIELD_MAX 256
#define EIR_MESSAGE_MAX 768

/** Error detail: the failing status, the offending field and a human-readable message. */
typedef struct eir_error {
    eir_status status;
    char field[EIR_FIELD_MAX];     /**< JSON pointer of the field, "" when not about a field */
    char message[EIR_MESSAGE_MAX]; /**< one sentence a user can act on */
} eir_error;

/**
 * Fill @p err (may be NULL) with @p status, @p field (may be NULL) and a printf-style message.
 * @return @p status, so callers can write `return eir_error_set(...)`.
 */
eir_status eir_error_set(eir_error *err, eir_status status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Reset @p err to "no error". */
void eir_error_clear(eir_error *err);

/** Short name of a status ("ok", "invalid", "out of memory", "cancelled", "numeric"). */
const char *eir_status_name(eir_status s);

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** The spectrum from ANN to biologically plausible RNN (MODEL.md). */
typedef enum eir_class {
    EIR_CLASS_RNN = 0,  /**< no Dale's law, no gating (M = 0) */
    EIR_CLASS_DALE = 1, /**< Dale's law, no gating */
    EIR_CLASS_GATED = 2 /**< Dale's law and conductance gating (default) */
} eir_class;

/** Activation functions f (rates r = f(V)). */
typedef enum eir_act_kind {
    EIR_ACT_RELU = 0,      /**< max(0, V) */
    EIR_ACT_TANH_RECT = 1, /**< max(0, tanh V) */
    EIR_ACT_SIGMOID = 2,   /**< 1 / (1 + e^-V) */
    EIR_ACT_SOFTPLUS = 3,  /**< log(1 + e^V) */
    EIR_ACT_POWER = 4,     /**< k max(0, V)^n */
    EIR_ACT_LINEAR = 5,    /**< V */
    EIR_ACT_TANH = 6       /**< tanh V */
} eir_act_kind;

/** Activation with its parameters. */
typedef struct eir_activation {
    eir_act_kind kind;
    double k;     /**< power: gain k > 0 */
    double n;     /**< power: exponent n > 0 */
    double r_max; /**< clamp rates from above; INFINITY (or <= 0 treated as invalid) = none */
} eir_activation;

/** The two parameterisations of the recurrent connectivity. */
typedef enum eir_form {
    EIR_FORM_REDUCED = 0,    /**< W and A >= 0, M = A (.) |W| */
    EIR_FORM_CONDUCTANCE = 1 /**< K >= 0 and reversal potentials; W = K E_type(j), M = K */
} eir_form;

/** Shape of the reduced form's A. */
typedef enum eir_a_kind {
    EIR_A_SCALAR = 0,   /**< A has 1 value */
    EIR_A_PER_TYPE = 1, /**< A has 2 values: {A_E, A_I}, per presynaptic type */
    EIR_A_PER_ROW = 2,  /**< A has 2N values: A_E[0..N-1] then A_I[0..N-1], per postsynaptic
                             row and presynaptic type */
    EIR_A_MATRIX = 3    /**< A has N*N values, a full matrix */
} eir_a_kind;

/** What to do with a submitted W that breaks Dale's law. */
typedef enum eir_dale_policy {
    EIR_DALE_REJECT = 0, /**< reject with the count and the first few (i, j) */
    EIR_DALE_PROJECT = 1 /**< clip violating entries to 0 */
} eir_dale_policy;

/** Which cells the readout reads. */
typedef enum eir_readout_from {
    EIR_READOUT_ALL = 0, /**< W_out is n_out x N */
    EIR_READOUT_E = 1    /**< W_out is n_out x n_e: only excitatory cells are read */
} eir_readout_from;

/**
 * How a built model stores its recurrent matrices (MODEL.md "Sparse storage"). Storage never
 * changes what a model is: its hash, its eir_model_W_dense() and eir_model_M() are the same,
 * and its runs agree within rounding (the products are summed in another order).
 */
typedef enum eir_storage {
    /** Compressed rows when N >= EIR_SPARSE_MIN_N and at most EIR_SPARSE_MAX_DENSITY of the
     *  product matrix's entries are nonzero; dense otherwise. */
    EIR_STORAGE_AUTO = 0,
    EIR_STORAGE_DENSE = 1, /**< always dense N x N matrices */
    EIR_STORAGE_SPARSE = 2 /**< always compressed rows */
} eir_storage;

/** EIR_STORAGE_AUTO stores a model sparse from this many cells on (measured: BENCHMARKS.md). */
#define EIR_SPARSE_MIN_N 1024
/** ... and when at most this fraction of its product matrix's entries are nonzero. */
#define EIR_SPARSE_MAX_DENSITY 0.25

/** A stop flag (see eir_stop_new() below, under "Runs"); declared here for the builds. */
typedef struct eir_stop eir_stop;

/**
 * A model as the user describes it. All arrays are borrowed (the build copies what it keeps)
 * and are double, row-major. Fields that a form or class does not use are ignored.
 */
typedef struct eir_model_desc {
    int n_e;  /**< excitatory cells, >= 0 */
    int n_i;  /**< inhibitory cells, >= 0; n_e + n_i >= 1 */
    int n_in; /**< input channels, >= 0 */
    eir_class cls;
    eir_activation act;

    const double *leak; /**< G_b > 0: leak_len values */
    int leak_len;       /**< 1 (broadcast) or N */

    eir_form form;
    /* reduced form */
    const double *W;      /**< N*N, signed */
    eir_a_kind a_kind;    /**< shape of A */
    const double *A;      /**< A >= 0, see ::eir_a_kind; may be NULL for classes rnn and dale */
    eir_dale_policy dale; /**< Dale's law policy (classes dale and gated) */
    /* conductance form */
    const double *K; /**< N*N, >= 0 */
    double e_rev_e;  /**< E_E > 0, relative to rest */
    double e_rev_i;  /**< E_I <= 0, relative to rest; 0 is pure shunting inhibition */

    const double *P;    /**< N*n_in input weights; may be NULL when n_in == 0 */
    const double *M_in; /**< N*n_in input conductances >= 0, or NULL (input gating off) */
    const double *bias; /**< bias_len values, or NULL for 0 */
    int bias_len;       /**< 0, 1 (broadcast) or N */

    int n_out;                     /**< readout outputs; 0 = no readout */
    const double *W_out;           /**< n_out * (N or n_e), see readout_from */
    const double *b_out;           /**< n_out values, or NULL for 0 */
    eir_readout_from readout_from; /**< which cells are read */

    double sigma; /**< noise intensity >= 0 */

    eir_storage storage; /**< dense or compressed rows (default auto) */

    /**
     * Optional stop flag (eir_stop_request() from any thread), NULL = never stop: the build
     * then ends within a block of rows with EIR_ECANCELLED and builds nothing. Not part of the
     * model (a model built without a stop is the same bytes).
     */
    const eir_stop *stop;
} eir_model_desc;

/** A validated, built model. Immutable; safe to share between threads. */
typedef struct eir_model eir_model;

/** Fill @p d with defaults: class gated, relu, no r_max, reduced form, dale reject. */
void eir_model_desc_init(eir_model_desc *d);

/**
 * Validate @p d and build a model from it.
 *
 * Rejects (EIR_EINVAL, naming the field): sizes out of range, non-finite values, leak <= 0,
 * A < 0, K < 0, E_E <= 0, E_I > 0, M_in < 0, sigma < 0, power parameters <= 0, r_max <= 0,
 * a Dale violation under EIR_DALE_REJECT (message counts the violating entries and names the
 * first few (i, j)), and a gated model whose activation can go negative (linear, tanh).
 * On failure *out is NULL and nothing is leaked. EIR_ENOMEM when allocation fails;
 * EIR_ECANCELLED (field "") when d->stop was requested before the build ended.
 */
eir_status eir_model_build(const eir_model_desc *d, eir_model **out, eir_error *err);

/** Free a model built by eir_model_build(); NULL is a no-op. */
void eir_model_free(eir_model *m);

int eir_model_n(const eir_model *m);     /**< N */
int eir_model_n_e(const eir_model *m);   /**< excitatory cells */
int eir_model_n_i(const eir_model *m);   /**< inhibitory cells */
int eir_model_n_in(const eir_model *m);  /**< input channels */
int eir_model_n_out(const eir_model *m); /**< readout outputs (0 = none) */
eir_class eir_model_class(const eir_model *m);
/** Number of W entries clipped to 0 by Dale projection (0 unless the model asked for it). */
size_t eir_model_projected(const eir_model *m);
/** Whether the model's activation has any r >= 0 guarantee (relu, tanh_rect, ...). */
int eir_act_nonnegative(eir_act_kind k);
/** Name of an activation ("relu", ...), of a class ("rnn", ...). */
const char *eir_act_name(eir_act_kind k);
const char *eir_class_name(eir_class c);

/**
 * The effective signed weight matrix W (N*N) the engine integrates with, or NULL when the
 * model is stored sparse (eir_model_sparse()); eir_model_W_dense() works for both.
 */
const double *eir_model_W(const eir_model *m);
/** Write the effective signed W (N*N) to @p out, whatever the storage. Cannot fail. */
void eir_model_W_dense(const eir_model *m, double *out);
/** Whether the model is stored as compressed rows (see ::eir_storage). */
int eir_model_sparse(const eir_model *m);
/** Nonzero entries of the product matrix (W, or K in conductance form); N*N when dense. */
size_t eir_model_nnz(const eir_model *m);
/**
 * Bytes the model holds: every array it allocated (dense or compressed-row matrices, vectors,
 * input and readout weights) plus the model structure (padded sizes); a cache bounds its memory
 * with it. Cannot fail; NULL gives 0.
 */
size_t eir_model_bytes(const eir_model *m);
/** Write the effective conductance matrix M (N*N, zero for classes rnn and dale) to @p out. */
void eir_model_M(const eir_model *m, double *out);
/** Effective leak G_b, N values. */
const double *eir_model_leak(const eir_model *m);

/**
 * SHA-256 (lower-case hex, 64 characters + NUL) of the model's canonical content: sizes,
 * class, activation, effective W and M, leak, P, M_in, bias, readout and sigma. Two models that
 * integrate identically hash identically, whatever JSON form they came from.
 */
void eir_model_hash(const eir_model *m, char hex[65]);

/**
 * eir_model_hash() that stops, within a block of rows, once @p stop (NULL = never) is
 * requested: EIR_ECANCELLED with @p hex set to "" . Otherwise EIR_OK and the same hash as
 * eir_model_hash().
 */
eir_status eir_model_hash_ex(const eir_model *m, const eir_stop *stop, char hex[65]);

/* ------------------------------------------------------------------------------------------ */
/* Generated connectivity                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Distribution of the magnitudes of nonzero weights. */
typedef enum eir_dist {
    EIR_DIST_LOGNORMAL = 0,  /**< lognormal with the given mean and cv */
    EIR_DIST_GAMMA = 1,      /**< gamma with the given mean and cv */
    EIR_DIST_HALFNORMAL = 2, /**< |N(0, s^2)| scaled to the given mean (cv fixed) */
    EIR_DIST_CONSTANT = 3    /**< every nonzero weight equals the mean */
} eir_dist;

/** Block index: rows (postsynaptic) then columns (presynaptic): EI = E cells receiving from I. */
enum { EIR_BLOCK_EE = 0, EIR_BLOCK_EI = 1, EIR_BLOCK_IE = 2, EIR_BLOCK_II = 3 };

/** A recipe for a matrix (FORMAT.md `generate`). */
typedef struct eir_gen_spec {
    uint64_t seed;
    double p[4];    /**< connection probability per block in [0, 1]; input: [0]=E rows, [1]=I */
    eir_dist dist;  /**< magnitude distribution */
    double mean[4]; /**< mean magnitude of a nonzero weight per block, >= 0 */
    double cv;      /**< coefficient of variation (lognormal, gamma), > 0 */
    int balance;    /**< recurrent only: each row's E and I input sums cancel */
    double spectral_radius; /**< recurrent only: target spectral radius of W, or <= 0 for none */
    int self_connections;   /**< recurrent only: allow W[i][i] != 0 */
    /** Optional stop flag, NULL = never: the generation (and its spectral radius) then ends
     *  within a block of rows (an Arnoldi iteration) with EIR_ECANCELLED. Not part of the
     *  recipe: the same recipe gives the same bytes with or without it. */
    const eir_stop *stop;
} eir_gen_spec;

/** Defaults: seed 0, p 1, lognormal, mean 1, cv 1, no balance, no radius, no self-connections. */
void eir_gen_spec_init(eir_gen_spec *g);

/**
 * Generate a recurrent matrix from @p g. For EIR_FORM_REDUCED writes the signed W (E columns
 * >= 0, I columns <= 0) to @p out (N*N); for EIR_FORM_CONDUCTANCE writes K >= 0, where the
 * spectral radius target applies to W = K E_type(j) with the given reversal potentials.
 * Deterministic: the same spec always gives the same bytes. Field names in errors are relative
 * to the `generate` object (e.g. "/p/EI"); callers prefix them.
 */
eir_status eir_generate_recurrent(const eir_gen_spec *g, int n_e, int n_i, eir_form form,
                                  double e_rev_e, double e_rev_i, double *out, eir_error *err);

/**
 * Generate an input matrix P (N*n_in) from @p g, using p[0]/mean[0] for E rows and
 * p[1]/mean[1] for I rows. Magnitudes are non-negative. Deterministic for a seed.
 */
eir_status eir_generate_input(const eir_gen_spec *g, int n_e, int n_i, int n_in, double *out,
                              eir_error *err);

/**
 * Spectral radius (max |eigenvalue|) of the n x n row-major matrix @p a:
 * eir_spectral_radius_ex(a, n, EIR_RADIUS_AUTO, radius, NULL, err). Deterministic: the same
 * matrix gives the same bits on every call, thread and thread count (for the same OpenBLAS
 * kernels). EIR_EINVAL for bad arguments or a non-finite entry, EIR_ENUMERIC when no method
 * converges (the message says what each did), EIR_ENOMEM on allocation failure.
 */
eir_status eir_spectral_radius(const double *a, int n, double *radius, eir_error *err);

/** How eir_spectral_radius_ex computes the radius. */
typedef enum eir_radius_method {
    /** Dense below EIR_RADIUS_ARNOLDI_MIN_N; else Arnoldi, and dense when Arnoldi fails. */
    EIR_RADIUS_AUTO = 0,
    EIR_RADIUS_DENSE = 1,   /**< every eigenvalue with LAPACK dgeev: O(N^3) */
    EIR_RADIUS_ARNOLDI = 2, /**< ARPACK's dnaupd/dneupd, largest modulus only; no fallback */
} eir_radius_method;

/** Below this N, EIR_RADIUS_AUTO uses dgeev (cheap there; Arnoldi's basis is most of N). */
#define EIR_RADIUS_ARNOLDI_MIN_N 200

/** What eir_spectral_radius_ex did (for tests, benchmarks and logs). */
typedef struct eir_radius_info {
    eir_radius_method used; /**< the method whose result was returned (DENSE or ARNOLDI) */
    int arnoldi_tried;      /**< 1 when Arnoldi ran */
    int arnoldi_ok;         /**< 1 when its result was used */
    int matvecs;            /**< matrix-vector products Arnoldi made */
    int restarts;           /**< its implicit restarts */
    char arnoldi_note[160]; /**< why Arnoldi's result was not used, or "" */
} eir_radius_info;

/**
 * Spectral radius of the n x n row-major matrix @p a by @p method. Arnoldi (implicitly
 * restarted, ARPACK) finds the eigenvalue (or complex pair) of largest modulus to a relative
 * residual of 1e-13, from a fixed starting vector (Philox); its result is refused (EIR_ENUMERIC for
 * EIR_RADIUS_ARNOLDI, the dense fallback for EIR_RADIUS_AUTO) when it does not converge
 * within its restart budget, when ARPACK reports an error, or when ARPACK had to restart from
 * a random vector of its own (an invariant Krylov subspace), whose draw depends on the
 * process's history. ARPACK keeps state in static variables: its calls are serialised by a
 * process-wide lock. @p info (may be NULL) says what happened. On failure *radius is NaN.
 */
eir_status eir_spectral_radius_ex(const double *a, int n, eir_radius_method method, double *radius,
                                  eir_radius_info *info, eir_error *err);

/**
 * eir_spectral_radius_ex() that stops once @p stop (NULL = never) is requested: checked between
 * Arnoldi's matrix-vector products (milliseconds apart even at N = 10,000) and before the dense
 * method (dgeev itself, used below EIR_RADIUS_ARNOLDI_MIN_N or as a fallback, is not
 * interrupted). Then EIR_ECANCELLED with *radius NaN. Same result as eir_spectral_radius_ex()
 * when not stopped.
 */
eir_status eir_spectral_radius_stop(const double *a, int n, eir_radius_method method,
                                    const eir_stop *stop, double *radius, eir_radius_info *info,
                                    eir_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Runs                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Integrators (MODEL.md "Time stepping"). */
typedef enum eir_integrator {
    EIR_INTEG_EXP_EULER = 0, /**< exponential Euler (default) */
    EIR_INTEG_EULER = 1,     /**< forward Euler */
    EIR_INTEG_RK4 = 2        /**< classic fourth-order Runge-Kutta */
} eir_integrator;

/** Arithmetic precision of a run. */
typedef enum eir_precision { EIR_F64 = 0, EIR_F32 = 1 } eir_precision;

/** Recordable variables. Output row k is V_{k+1}, r_{k+1}, z_k, y_{k+1}. */
typedef enum eir_var { EIR_VAR_V = 0, EIR_VAR_R = 1, EIR_VAR_Z = 2, EIR_VAR_Y = 3 } eir_var;
#define EIR_NVARS 4

/** Name of a variable ("V", "r", "z", "y"), of an integrator, of a precision. */
const char *eir_var_name(eir_var v);
const char *eir_integrator_name(eir_integrator i);
const char *eir_precision_name(eir_precision p);

/**
 * Progress/cancellation callback, called from the simulating thread every `progress_every`
 * steps and once at the end. Return non-zero to stop the run (eir_run() then returns
 * EIR_ECANCELLED with the rows done so far kept).
 */
typedef int (*eir_progress_fn)(void *ctx, int64_t steps_done, int64_t steps_total);

/*
 * eir_stop (declared above): a stop request that another thread (or a signal handler) can make
 * while eir_run() is inside a step, or while a model is generated, built or hashed
 * (eir_gen_spec.stop, eir_model_desc.stop, eir_model_hash_ex()): an opaque flag, set once and
 * never cleared. Owned by the caller; it must outlive the runs and builds that watch it. Cannot
 * be shared with a struct copy (use the pointer).
 */

/** A new stop flag, not requested; NULL when out of memory. Free with eir_stop_free(). */
eir_stop *eir_stop_new(void);

/** Free @p s (NULL is allowed). No run may be watching it. */
void eir_stop_free(eir_stop *s);

/**
 * Ask every run watching @p s to stop: each ends within one work item of its threads (a block
 * of 64 trials x 256 cells of one product or update, milliseconds even at N = B = 4096), and
 * eir_run() returns EIR_ECANCELLED with the complete steps' rows kept. Any thread;
 * async-signal-safe (a lock-free atomic store). Cannot fail.
 */
void eir_stop_request(eir_stop *s);

/** 1 once eir_stop_request() was called on @p s, else 0. */
int eir_stop_requested(const eir_stop *s);

/** Seconds between the progress callback's calls inside one long step (see eir_run_desc). */
#define EIR_PROGRESS_POLL_SECONDS 0.1

/* ------------------------------------------------------------------------------------------ */
/* Described inputs (FORMAT.md "Described inputs", issue 12)                                  */
/* ------------------------------------------------------------------------------------------ */

/** Most segments of a described input. */
#define EIR_MAX_INPUT_SEGMENTS 100000

/** Largest |value|, |to_value| and noise sigma of a described input: sums of overlapping
 *  segments and ramps' products stay finite (EIR_MAX_INPUT_SEGMENTS x 3 x 1e290 < 1e308). */
#define EIR_INPUT_VALUE_MAX 1e290

/** One segment of a described input: steps [from, to), a constant value or a ramp. */
typedef struct eir_input_segment {
    int64_t from, to;       /**< 0 <= from < to <= T */
    const double *value;    /**< value_rows x n_in values (row-major) */
    int value_rows;         /**< 1 (every trial) or B (row b for trial b) */
    const double *to_value; /**< a ramp's end: to_value_rows x n_in values, or NULL (constant) */
    int to_value_rows;      /**< 1 or B (ignored when to_value is NULL) */
} eir_input_segment;

/**
 * Inputs described instead of spelled out. Value of channel c of trial b at step t (0-based; the
 * input of step t drives V_t -> V_{t+1}), in double precision:
 *   x = 0.0; then for each segment s in order with from <= t < to:
 *     constant: x += v;   ramp: x += v + (w - v) * (double)(t - from) / (double)(to - from)
 *   (v, w: row b or row 0 of value / to_value, channel c; evaluated left to right as written, no
 *   fused multiply-add); then, when noise_sigma > 0: x += noise_sigma * xi(noise_seed, b, t, c)
 * with xi a standard normal from the counter-based generator (EIR_STREAM_INPUT_NOISE), the same
 * numbers on every machine and thread count. Steps outside every segment are 0 (plus noise).
 * The ramp reaches w only at step to (excluded): its last step has v + (w -
 * v)(to-from-1)/(to-from).
 */
typedef struct eir_input_desc {
    const eir_input_segment *segments;
    int n_segments;     /**< 0 .. EIR_MAX_INPUT_SEGMENTS */
    double noise_sigma; /**< >= 0, finite; 0 = no noise */
    uint64_t noise_seed;
} eir_input_desc;

/**
 * Check @p d for a run of @p T steps, @p B trials and @p n_in channels: segment bounds, row
 * counts (1 or B), finite values and sigma of at most EIR_INPUT_VALUE_MAX in magnitude. EIR_EINVAL
 * naming the field relative to the inputs object ("/segments/3/to", "/segments/0/value",
 * "/noise/sigma"). Cannot fail otherwise.
 */
eir_status eir_input_check(const eir_input_desc *d, int64_t T, int B, int n_in, eir_error *err);

/**
 * Expand steps [t0, t0 + tc) of trial @p b of a checked description into @p out (tc x n_in
 * doubles, step-major), exactly the values eir_run() integrates with. O(segments + tc n_in).
 * Allocates nothing; cannot fail for a description that eir_input_check() accepted.
 */
void eir_input_expand(const eir_input_desc *d, int n_in, int b, int64_t t0, int64_t tc,
                      double *out);

/* ------------------------------------------------------------------------------------------ */
/* Run statistics (metrics computed from every step, whatever is recorded; issue 12)          */
/* ------------------------------------------------------------------------------------------ */

/** Most statistics windows of one run. */
#define EIR_STATS_MAX_WINDOWS 64

/**
 * A window of steps for the mean and standard deviation of a variable per population: the
 * states after steps from+1 .. to, i.e. rows from .. to-1 of a recording with every = 1 (for z:
 * the gates z_from .. z_{to-1}, as z's recorded rows). 0 <= from < to <= T.
 */
typedef struct eir_stat_window {
    eir_var var; /**< EIR_VAR_V, EIR_VAR_R or EIR_VAR_Z */
    int64_t from, to;
} eir_stat_window;

/** What statistics a run computes (eir_run_desc.stats_req). */
typedef struct eir_stats_req {
    const eir_stat_window *windows;
    int n_windows;        /**< 0 .. EIR_STATS_MAX_WINDOWS */
    int64_t settle_steps; /**< 0 = none; else max |dV/dt| over steps T - settle_steps .. T - 1 */
} eir_stats_req;

/**
 * Statistics of a run (eir_run_desc.stats), allocated by eir_stats_new(). Population index p is
 * 0 for E cells, 1 for I cells. Over every cell of the population (all N, whatever
 * record.neurons says) and every step of the window, in double precision; the standard
 * deviation divides by the sample count. A statistic with no sample (an empty population, a
 * window the run never reached because it diverged or stopped) is NaN; so is a window the run did
 * not complete (to > steps done: a partial window is not reported). After a stop
 * (EIR_ECANCELLED) the final means are NaN; max_dvdt is NaN unless all T steps were done (a
 * diverged run has none). Results are the same bits whatever the run's thread count.
 */
typedef struct eir_stats {
    int n_windows, B;
    double *mean;     /**< [window][trial][p]: n_windows x B x 2 */
    double *std;      /**< same layout */
    double *mean_all; /**< [window][p]: over every trial's samples, n_windows x 2 */
    double *std_all;  /**< same layout */
    double *final_V;  /**< [trial][p]: population means of V after the last step integrated */
    double *final_r;  /**< [trial][p]: same for r */
    double final_V_all[2], final_r_all[2]; /**< over every trial */
    /** [trial]: max over cells and over steps k of the settle window of |dV/dt| at V_k (the
     *  deterministic right-hand side -z V + drive, noise excluded); NaN without a settle window */
    double *max_dvdt;
    double max_dvdt_all; /**< max over trials (NaN without a settle window) */
    int64_t steps;       /**< steps whose states were counted (the run's steps_done) */
} eir_stats;

/** Statistics arrays for @p q and @p B trials, all NaN; NULL when out of memory. */
eir_stats *eir_stats_new(const eir_stats_req *q, int B);
/** Free @p s; NULL is a no-op. */
void eir_stats_free(eir_stats *s);

/** A run of a model: B trials of T steps. */
typedef struct eir_run_desc {
    double dt;                 /**< step > 0, same unit as 1/G_b */
    eir_integrator integrator; /**< default exp_euler */
    eir_precision precision;   /**< default float64 */
    int64_t T;                 /**< steps >= 1 */
    int B;                     /**< trials >= 1 */
    const double *inputs;      /**< B*T*n_in (trial, step, channel), or NULL for zero input */
    /** Described inputs, expanded window by window while integrating (never as B*T*n_in), or
     *  NULL. At most one of inputs and input_desc is set. */
    const eir_input_desc *input_desc;
    const double *V0; /**< initial V: NULL (0), or V0_len values */
    int V0_len;       /**< 0, 1 (broadcast), N (every trial) or B*N */
    uint64_t seed;    /**< noise seed (ignored when sigma = 0) */

    unsigned record_mask; /**< bit (1u << EIR_VAR_x) for each recorded variable */
    int record_every;     /**< keep rows k with (k+1) % every == 0; >= 1 */
    const int *neurons;   /**< recorded neuron indices for V, r, z (y is always whole), or NULL */
    int n_neurons;        /**< length of neurons (0 with NULL = all N) */
    /**
     * Caller-provided output buffers, one per variable (NULL when not recorded), of
     * eir_run_out_len() elements of the run's precision (float or double), laid out
     * trial-major: out[b][row][unit]. Rows never reached (divergence, cancel) are NaN.
     */
    void *out[EIR_NVARS];
    /**
     * Optional B*N buffer of the run's precision (NULL = not wanted): the state V after the last
     * step integrated (step T, or the step where the run diverged), trial-major. Left untouched
     * when the run stops early (EIR_ECANCELLED: a step may be half done).
     */
    void *final_V;
    /** Optional statistics (NULL = none): what to compute, and where (eir_stats_new() for the
     *  same request and B); both or neither (EIR_EINVAL "/metrics..." otherwise). Computed from
     *  every step while integrating; filled whenever the run integrated (EIR_OK, diverged, or
     *  EIR_ECANCELLED: see ::eir_stats for what is then NaN). */
    const eir_stats_req *stats_req;
    eir_stats *stats;

    /**
     * Optional callback, called every progress_every steps between steps and, in a step of
     * more than about 10 ms of work, also inside the step, between the work items of the
     * caller's thread, at most every EIR_PROGRESS_POLL_SECONDS (steps_done is then the steps
     * completed so far): a non-zero return stops the run within one work item.
     */
    eir_progress_fn progress;
    void *progress_ctx;     /**< passed to progress */
    int64_t progress_every; /**< steps between callbacks; 0 = about every 10 ms of work */
    eir_stop *stop;         /**< optional stop flag (eir_stop_request()), NULL = none */

    /**
     * Threads for this run, >= 1: at most this many (the caller's thread and threads started
     * for the run) share every step, by fixed blocks of trials and of postsynaptic cells.
     * Fewer are used when the step is too small to pay for them; results never depend on it.
     */
    int threads;
} eir_run_desc;

/** Fill @p r with defaults: exp_euler, float64, T = B = 1, every = 1, threads = 1, record V. */
void eir_run_desc_init(eir_run_desc *r);

/** Number of recorded rows T' for @p T steps kept every @p every: floor(T / every). */
int64_t eir_recorded_rows(int64_t T, int every);

/**
 * Number of elements the output buffer of @p var needs: B * T' * n, where n is n_neurons
 * (or N) for V, r, z and n_out for y. 0 if the variable cannot be recorded (y without a
 * readout).
 */
size_t eir_run_out_len(const eir_model *m, const eir_run_desc *r, eir_var var);

/**
 * Bytes eir_run() allocates for run @p r of @p m, plus the output buffers its caller allocates
 * (eir_run_out_len() values of the run's precision per recorded variable): the workspace (state,
 * rates, drive, gate, products, RK4 stage state and sum, the input projection window, the
 * expanded window of described inputs, the statistics' slots), the final state (B x N values of
 * the run's precision, caller-allocated like the outputs; counted whether or not r->final_V is
 * set), the statistics (eir_stats_new(), when r->stats_req is set), the float32 copies of the
 * model's arrays (float32 runs only: the product matrix, N x n_pad, twice for a full gate matrix),
 * the transposed matrix of small single-trial runs, and EIR_RUN_BLAS_BYTES_PER_THREAD per thread
 * the run would use for OpenBLAS's packing buffers and the threads' stacks. The model itself is not
 * counted (the caller holds it). Measured against the peak resident memory of runs in
 * tests/engine/test_stop.c. Saturates at SIZE_MAX; meaningful only for a run that eir_run() would
 * accept (else a best effort, never a crash).
 */
size_t eir_run_memory_bytes(const eir_model *m, const eir_run_desc *r);

/** What eir_run_memory_bound() needs of a model that is not built (or not at hand). */
typedef struct eir_model_dims {
    int n, n_e;      /**< N and its excitatory cells */
    int n_in, n_out; /**< input channels, readout outputs (0 = none) */
    eir_class cls;   /**< the class: a gated model is counted with a full A and gated inputs */
} eir_model_dims;

/**
 * An upper bound of eir_run_memory_bytes() for run @p r of any model with dimensions @p d: the
 * model is counted dense and, when gated, with a full gate matrix A and input gating (the
 * largest workspace and float32 copies). A server checks a run against a memory budget with it
 * before the model is built. Saturates at SIZE_MAX; cannot fail.
 */
size_t eir_run_memory_bound(const eir_model_dims *d, const eir_run_desc *r);

/**
 * Per thread of a run: OpenBLAS's packing buffers and the thread's stack as far as a run
 * touches them (measured at most 2 MiB per thread up to N = 4096; docs/OPERATIONS.md, "Memory").
 */
#define EIR_RUN_BLAS_BYTES_PER_THREAD ((size_t)8 << 20)

/** Outcome of a run. */
typedef struct eir_run_result {
    int64_t steps_done;    /**< steps completed and finite */
    int64_t rows_written;  /**< recorded rows filled (the rest are NaN) */
    int diverged;          /**< 1 if the state stopped being finite */
    int64_t diverged_step; /**< 0-based step whose result was non-finite (-1 if none) */
    int diverged_trial;    /**< lowest trial that diverged at that step (-1 if none) */
    int unstable;          /**< euler only: max(z) dt > 2 was seen */
    double max_z_dt;       /**< max over steps, trials, cells of z dt */
    double mean_rate_e;    /**< mean of r over E cells, steps done and trials (NaN if n_e=0) */
    double mean_rate_i;    /**< same over I cells */
} eir_run_result;

/**
 * Validate @p r against @p m and integrate. Allocates its workspace once at the start; the
 * step loop allocates nothing. Divergence is not an error: it returns EIR_OK with
 * res->diverged set. EIR_EINVAL (naming the run field: "/dt", "/T", "/inputs", "/V0",
 * "/record/neurons", "/record/every", "/record/vars", "/threads") for a bad run,
 * EIR_ENOMEM, EIR_ECANCELLED when the callback or r->stop stopped it (res describes the rows
 * kept: the steps completed before the stop; a step cut short is not counted).
 *
 * A seeded run gives the same bytes whatever `threads` is: noise comes from a counter-based
 * generator keyed by (seed, trial, step, neuron), and each step is cut into blocks of trials x
 * cells whose sizes do not depend on `threads` (the same BLAS calls whoever makes them). The
 * progress callback is called from the caller's thread.
 */
eir_status eir_run(const eir_model *m, const eir_run_desc *r, eir_run_result *res, eir_error *err);

/**
 * Jacobian of the deterministic dynamics at state @p V (N values) under input @p x (n_in
 * values, or NULL for zero): J = -diag(z) + (W - diag(V) M) diag(f'(V)), written to @p J
 * (N*N, row-major). z includes M_in |x| when input gating is on.
 */
eir_status eir_linearize(const eir_model *m, const double *V, const double *x, double *J,
                         eir_error *err);

/**
 * Make OpenBLAS single-threaded for the whole process (call once at start of a program that
 * runs simulations on its own threads). Returns the previous thread count.
 */
int eir_blas_single_threaded(void);

#ifdef __cplusplus
}
#endif
#endif /* EIR_H */
