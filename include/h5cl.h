/*
 * h5cl: streamed data-parallel statistics over HDF5 datasets on any OpenCL
 * device.  This header is the whole public contract.
 *
 * Objects and lifetimes
 *   h5cl_ctx       one OpenCL device, its queues and program cache, and the
 *                  last error message.  Made by h5cl_ctx_create(), freed by
 *                  h5cl_ctx_destroy().
 *   h5cl_dataset   one open HDF5 dataset (file opened read-only).  Belongs to
 *                  the context that opened it and must be closed before it.
 *   h5cl_run_options  a plain struct: fill it with h5cl_run_options_init()
 *                  first, so fields added later keep their defaults.
 *   h5cl_stats     the result of a statistics run (a whole-dataset state, or
 *                  one state per output position for per-axis statistics).
 *   h5cl_stats_state  a plain, mergeable, serialisable partial state.
 *
 * Conventions
 *   - Every function that can fail returns an int status: H5CL_OK (0) or a
 *     negative H5CL_ERR_* code.  h5cl_ctx_errmsg() then gives the detailed
 *     message (file, dataset, failing OpenCL or HDF5 call, error name, build
 *     log).  h5cl_strerror() and h5cl_errname() give static text per code.
 *   - Constructors write their *_ret argument last, and set it to NULL on
 *     failure.  Destroy/close/free functions return void and accept NULL.
 *   - The library never prints, exits or aborts.
 *
 * Threads
 *   - A context, and everything made from it, is used by one thread at a
 *     time.  Separate contexts may run concurrently in separate threads.
 *     A run started on a context that is already running in another thread
 *     fails with H5CL_ERR_BUSY and leaves the context untouched (its last
 *     message is not replaced).
 *   - h5cl_cancel() is the one call that is safe from another thread (or a
 *     signal handler) while a run is in progress.
 *   - The worker threads a run starts have all ended when the run returns.
 */
#ifndef H5CL_H
#define H5CL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(H5CL_BUILDING) && defined(__GNUC__)
#define H5CL_API __attribute__((visibility("default")))
#else
#define H5CL_API
#endif

#define H5CL_VERSION_MAJOR 0
#define H5CL_VERSION_MINOR 1
#define H5CL_VERSION_PATCH 0
#define H5CL_VERSION_STRING "0.1.0"

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
H5CL_API const char *h5cl_version(void);

/* ------------------------------------------------------------------------
 * Status codes.  The numbers are stable: the CLI, the Python bindings and
 * serialised states rely on them.
 * X(name, value, message)
 */
#define H5CL_STATUS_LIST(X)                                                   \
    X(OK, 0, "success")                                                       \
    X(ERR_INVALID_ARGUMENT, -1, "invalid argument")                           \
    X(ERR_NO_MEMORY, -2, "out of host memory")                                \
    X(ERR_NO_PLATFORM, -3, "no OpenCL platform is installed")                 \
    X(ERR_DEVICE_NOT_FOUND, -4, "no OpenCL device matches the request")       \
    X(ERR_OPENCL, -5, "an OpenCL call failed")                                \
    X(ERR_BUILD, -6, "an OpenCL kernel failed to build")                      \
    X(ERR_DEVICE_MEMORY, -7, "out of device memory")                          \
    X(ERR_FILE_NOT_FOUND, -8, "file not found")                               \
    X(ERR_NOT_HDF5, -9, "not an HDF5 file")                                   \
    X(ERR_DATASET_NOT_FOUND, -10, "dataset not found")                        \
    X(ERR_UNSUPPORTED_TYPE, -11, "unsupported dataset type")                  \
    X(ERR_UNSUPPORTED_DEVICE, -12, "the device lacks a required capability")  \
    X(ERR_HDF5, -13, "an HDF5 call failed")                                   \
    X(ERR_SELECTION, -14, "invalid selection")                                \
    X(ERR_AXIS, -15, "invalid axis")                                          \
    X(ERR_CANCELLED, -16, "cancelled")                                        \
    X(ERR_OVERFLOW, -17, "integer sum overflows 64 bits")                     \
    X(ERR_IO, -18, "file input/output failed")                                \
    X(ERR_BAD_STATE, -19, "serialised state is invalid")                      \
    X(ERR_THREAD, -20, "a worker thread could not be started")               \
    X(ERR_TOO_LARGE, -21, "dataset size does not fit 64 bits")               \
    X(ERR_CORRUPT, -22, "the file's metadata is inconsistent")               \
    X(ERR_BUSY, -23, "the context is running in another thread")              \
    X(ERR_EXPRESSION, -24, "invalid expression")                              \
    X(ERR_EXISTS, -25, "the output dataset already exists")                   \
    X(ERR_SHAPE, -26, "input datasets differ in shape")                      \
    X(ERR_LINALG, -27, "a CLBlast or LAPACK call failed")                  \
    X(ERR_FILTER, -28, "a filter the dataset needs is not available")        \
    X(ERR_MISSING_DATA, -29, "data the dataset refers to is missing")        \
    X(ERR_CRASHED, -30, "the isolated reader process died")                  \
    X(ERR_TIMEOUT, -31, "a time limit was reached")                          \
    X(ERR_LIMIT, -32, "a memory or CPU limit was reached")                   \
    X(ERR_OUTPUT_IS_INPUT, -33, "the output file is one of the inputs")      \
    X(ERR_MPI, -34, "an MPI call failed")

#define H5CL_STATUS_ENUM_(name, value, msg) H5CL_##name = value,
typedef enum h5cl_status { H5CL_STATUS_LIST(H5CL_STATUS_ENUM_) } h5cl_status;
#undef H5CL_STATUS_ENUM_

/* Static one-line description, e.g. "dataset not found". Never NULL. */
H5CL_API const char *h5cl_strerror(int status);
/* Static symbolic name, e.g. "H5CL_ERR_DATASET_NOT_FOUND". Never NULL. */
H5CL_API const char *h5cl_errname(int status);

/* ------------------------------------------------------------------------
 * Element types.
 */
typedef enum h5cl_dtype {
    H5CL_INT8 = 0,
    H5CL_UINT8,
    H5CL_INT16,
    H5CL_UINT16,
    H5CL_INT32,
    H5CL_UINT32,
    H5CL_INT64,
    H5CL_UINT64,
    H5CL_FLOAT32,
    H5CL_FLOAT64,
    H5CL_DTYPE_COUNT
} h5cl_dtype;

/* "int8" ... "float64"; "unknown" for anything else. */
H5CL_API const char *h5cl_dtype_name(h5cl_dtype dtype);
/* Bytes per element; 0 for an unknown dtype. */
H5CL_API size_t h5cl_dtype_size(h5cl_dtype dtype);

#define H5CL_MAX_RANK 32

/* ------------------------------------------------------------------------
 * Context and devices.
 */
typedef struct h5cl_ctx h5cl_ctx;

typedef enum h5cl_device_type {
    H5CL_DEVICE_OTHER = 0,
    H5CL_DEVICE_GPU,
    H5CL_DEVICE_ACCELERATOR,
    H5CL_DEVICE_CPU
} h5cl_device_type;

/* "gpu", "accelerator", "cpu" or "other". */
H5CL_API const char *h5cl_device_type_name(h5cl_device_type type);

typedef struct h5cl_device_info {
    unsigned platform_index;
    unsigned device_index;
    h5cl_device_type type;
    char platform_name[128];
    char device_name[128];
    char vendor[128];
    char driver_version[64];
    char opencl_version[64];
    int has_fp64;            /* cl_khr_fp64 or a double-capable device     */
    int host_unified_memory; /* kernels can read host memory in place      */
    unsigned compute_units;
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int is_default;          /* the device a context picks with no request */
} h5cl_device_info;

/* Makes a context.  No device is opened yet; that happens on the first call
 * that needs one (h5cl_ctx_use_device, a run), so errors about devices are
 * reported through the context's message.  Fails only with
 * H5CL_ERR_NO_MEMORY. */
H5CL_API int h5cl_ctx_create(h5cl_ctx **ctx_ret);
/* Releases the device, its queues and programs.  All datasets opened with
 * this context must be closed first.  Accepts NULL. */
H5CL_API void h5cl_ctx_destroy(h5cl_ctx *ctx);

/* The detailed message of the last failed call on this context ("" if the
 * last call succeeded).  Valid until the next call on the context. */
H5CL_API const char *h5cl_ctx_errmsg(const h5cl_ctx *ctx);
/* The status of the last call on this context. */
H5CL_API int h5cl_ctx_errcode(const h5cl_ctx *ctx);

/* Enumerates every platform and device.  *count_ret receives the number of
 * devices; info may be NULL to ask only for the count, else it has room for
 * `capacity` entries. */
H5CL_API int h5cl_ctx_list_devices(h5cl_ctx *ctx, h5cl_device_info *info,
                                   size_t capacity, size_t *count_ret);

/* Opens the device named by spec: NULL or "" for the default (the
 * H5CL_DEVICE environment variable if set, else the first GPU, else the
 * first accelerator, else the first CPU), "gpu", "cpu", "accelerator",
 * "P:D" platform and device indices, or a case-insensitive substring of the
 * device name.  An unknown spec is H5CL_ERR_DEVICE_NOT_FOUND with a message
 * that lists what exists.  Only one device per context; a second call with
 * a different device fails with H5CL_ERR_INVALID_ARGUMENT. */
H5CL_API int h5cl_ctx_use_device(h5cl_ctx *ctx, const char *spec);

/* The opened device's description (opens the default device if none). */
H5CL_API int h5cl_ctx_device(h5cl_ctx *ctx, h5cl_device_info *info_ret);

/* The tile size and slot count a run on this context's device uses when
 * its options leave them 0 (opens the default device if none): 2 slots of
 * 4 MiB on CPU-class devices (those that read tiles with the contiguous
 * pattern: the tiles in flight then stay in the last-level cache between
 * the reader and the kernel), 3 slots of 8 MiB elsewhere; measured, see
 * bench/RESULTS.md.  A run on a device that reads host memory in place,
 * over data whose tiles it reads from the file's mapping (README, "tiles
 * that are one run of the file"), uses 16 MiB tiles instead: no slot
 * memory, no cache to stay in. */
H5CL_API int h5cl_ctx_run_defaults(h5cl_ctx *ctx, uint64_t *tile_bytes_ret,
                                   unsigned *slots_ret);

/* Builds (or loads from the on-disk cache) every kernel program for every
 * element type the device supports, so later runs never compile.  Build
 * failures are H5CL_ERR_BUILD with the full build log in the message.
 * Compiled binaries are cached under $H5CL_CACHE_DIR, else
 * $XDG_CACHE_HOME/h5cl, else ~/.cache/h5cl, keyed by device, driver,
 * options and source; a corrupt or stale entry is ignored and rebuilt. */
H5CL_API int h5cl_ctx_build_programs(h5cl_ctx *ctx);

/* A context keeps the host slots and device buffers of its last successful
 * run (pinned memory on GPUs: costly to make, and some drivers keep what
 * is given back), and the next run reuses those that are large enough: a
 * run with smaller tiles reuses bigger buffers, a larger run frees them
 * and makes its own, a failed run leaves none kept.  So at most what the
 * last run used stays held between runs; h5cl_ctx_destroy() frees it.
 * h5cl_ctx_trim() frees it now, for a long-lived process that wants the
 * memory back between runs; the next run then makes its buffers anew.
 * Accepts NULL. */
H5CL_API void h5cl_ctx_trim(h5cl_ctx *ctx);

/* Asks the run in progress on ctx to stop at the next tile boundary; the run
 * then returns H5CL_ERR_CANCELLED.  Async-signal-safe and thread-safe (it
 * only sets a flag).  The flag is cleared when the next run starts. */
H5CL_API void h5cl_cancel(h5cl_ctx *ctx);

/* ------------------------------------------------------------------------
 * Datasets.
 */
typedef struct h5cl_dataset h5cl_dataset;

typedef enum h5cl_layout {
    H5CL_LAYOUT_COMPACT = 0,
    H5CL_LAYOUT_CONTIGUOUS,
    H5CL_LAYOUT_CHUNKED,
    H5CL_LAYOUT_OTHER
} h5cl_layout;

/* "compact", "contiguous", "chunked" or "other". */
H5CL_API const char *h5cl_layout_name(h5cl_layout layout);

typedef struct h5cl_dataset_info {
    char file[1024];
    char path[1024];
    h5cl_dtype dtype;
    int big_endian;                 /* byte order in the file            */
    int rank;                       /* 0 for a scalar                    */
    uint64_t dims[H5CL_MAX_RANK];
    h5cl_layout layout;
    uint64_t chunk_dims[H5CL_MAX_RANK]; /* zero unless chunked           */
    char filters[256];              /* "deflate(4),shuffle" or ""        */
    uint64_t element_count;
    uint64_t nbytes;                /* element_count * element size      */
    uint64_t storage_bytes;         /* bytes allocated in the file       */
} h5cl_dataset_info;

/* Opens FILE read-only and the dataset at PATH in it.  Errors:
 * H5CL_ERR_FILE_NOT_FOUND, H5CL_ERR_NOT_HDF5, H5CL_ERR_DATASET_NOT_FOUND
 * (the message names the closest paths that exist),
 * H5CL_ERR_UNSUPPORTED_TYPE (names the type class), and those of the
 * guards run before any data is read (see "Guards, warnings and strict
 * mode" below): H5CL_ERR_TOO_LARGE, H5CL_ERR_CORRUPT, H5CL_ERR_FILTER,
 * H5CL_ERR_MISSING_DATA. */
H5CL_API int h5cl_dataset_open(h5cl_ctx *ctx, const char *file,
                               const char *path, h5cl_dataset **ds_ret);
/* Accepts NULL.  On devices that read host memory in place an open
 * dataset keeps its file memory-mapped between runs (README, "tiles that
 * are one run of the file"): its later runs skip building the page
 * tables, and the pages read count as file pages in the process's
 * resident set until the dataset is closed. */
H5CL_API void h5cl_dataset_close(h5cl_dataset *ds);
H5CL_API int h5cl_dataset_get_info(const h5cl_dataset *ds,
                                   h5cl_dataset_info *info_ret);

/* Calls fn once per dataset in FILE (depth-first, in name order) with its
 * full path and whether h5cl can read it (numeric type).  A non-zero return
 * from fn stops the walk; that value is returned. */
typedef int (*h5cl_dataset_visit_fn)(const char *path, int supported,
                                     void *user);
H5CL_API int h5cl_file_list_datasets(h5cl_ctx *ctx, const char *file,
                                     h5cl_dataset_visit_fn fn, void *user);

/* ------------------------------------------------------------------------
 * Run options.
 */

/* Called on the caller's thread after each tile is merged.  A non-zero
 * return cancels the run (H5CL_ERR_CANCELLED). */
typedef int (*h5cl_progress_fn)(uint64_t tiles_done, uint64_t tiles_total,
                                uint64_t bytes_done, void *user);

typedef struct h5cl_run_options {
    size_t struct_size;   /* set by h5cl_run_options_init()               */
    uint64_t tile_bytes;  /* target bytes per tile; 0: the device's default
                           * (h5cl_ctx_run_defaults)                      */
    unsigned slots;       /* host slots in flight; 0: the device's default */
    int axis;             /* -1: whole selection; else reduce this axis   */
    const char *select;   /* "start:stop,..." numpy-style; NULL: all      */
    const char *trace_path; /* Chrome trace-event JSON written if set     */
    h5cl_progress_fn progress;
    void *progress_user;
    int timeline;         /* keep per-tile stage times (h5cl_stats_timeline) */
    /* Expression inputs (fused map-reduce, maps): with expr set, every op
     * runs on the expression's value instead of the data.  The dataset the
     * op is called on is bound to `name` (NULL: "x"); `with` binds nwith
     * more datasets of the same shape (the selection applies to all). */
    const char *expr;
    const char *name;
    const struct h5cl_binding *with;
    size_t nwith;
    /* Fill values and CF conventions (see "Fill values and CF conventions"
     * below), applied to every input: mask_fill masks elements equal to
     * the dataset's user-defined HDF5 fill value or its _FillValue /
     * missing_value attributes; cf decodes CF-encoded variables
     * (_Unsigned, _FillValue, missing_value, valid_min / valid_max /
     * valid_range, scale_factor / add_offset).  Masked elements are NaN to
     * every op.  0: the data as stored. */
    int mask_fill;
    int cf;
    /* Statistics runs: which figures to compute, H5CL_FIG_* flags (see
     * "Selected figures" below); 0: all.  Other ops ignore it. */
    unsigned figures;
} h5cl_run_options;

/* Most datasets one run reads (the one the op is called on plus `with`). */
#define H5CL_MAX_INPUTS 16

/* A dataset bound to a variable name of an expression. */
typedef struct h5cl_binding {
    const char *name;
    struct h5cl_dataset *ds;
} h5cl_binding;

H5CL_API void h5cl_run_options_init(h5cl_run_options *opts);

/* ------------------------------------------------------------------------
 * Partial statistics state: plain data, mergeable in any grouping (the
 * merge is associative), serialisable to a fixed little-endian byte form.
 *
 * kind says how sum/min/max are held: H5CL_KIND_FLOAT in .f, SIGNED in .i,
 * UNSIGNED in .u.  Integer sums are exact: the total is sum + sum_hi * 2^64,
 * with `sum` wrapped into the 64-bit type (int64 for signed, uint64 for
 * unsigned data) and `sum_hi` counting the wraps, so partial sums may leave
 * the 64-bit range on the way back into it.  `overflow` is set exactly when
 * sum_hi != 0, i.e. when the total does not fit the 64-bit type.  A state
 * built by hand with sum_hi = 0 holds just `sum`.  count excludes NaNs.
 * mean and m2 (sum of squared deviations) are merged with Chan's formula.
 * argmin/argmax are flat C-order indices of the first occurrence within the
 * selection (for per-axis statistics: the index along the reduced axis).
 */
typedef enum h5cl_kind {
    H5CL_KIND_FLOAT = 0,
    H5CL_KIND_SIGNED = 1,
    H5CL_KIND_UNSIGNED = 2
} h5cl_kind;

typedef union h5cl_scalar {
    double f;
    int64_t i;
    uint64_t u;
} h5cl_scalar;

typedef struct h5cl_stats_state {
    int32_t kind;        /* h5cl_kind                                     */
    int32_t overflow;    /* integer total does not fit 64 bits            */
    uint64_t count;      /* values counted (NaNs excluded)                */
    uint64_t nan_count;
    h5cl_scalar sum;
    double sum_comp;     /* float kind: compensation term of sum          */
    int64_t sum_hi;      /* integer kinds: wraps of 2^64 beyond `sum`     */
    double mean;
    double m2;
    h5cl_scalar min;
    h5cl_scalar max;
    uint64_t argmin;
    uint64_t argmax;
    uint32_t missing;    /* H5CL_FIG_* figures NOT held; 0: all held      */
} h5cl_stats_state;

#define H5CL_STATS_STATE_BYTES 96

/* Selected figures.  A statistics run computes only the figures asked for
 * in h5cl_run_options.figures (0: all), so a sum costs only a sum; the
 * state says what it holds in `missing` (the flags NOT held, so 0 means
 * all and every zero-initialised state holds everything).
 *   H5CL_FIG_COUNT   count, nan_count: always computed
 *   H5CL_FIG_SUM     sum, mean
 *   H5CL_FIG_VAR     m2 (var, std); implies SUM
 *   H5CL_FIG_MINMAX  min, max, and argmin/argmax with them (the index
 *                    costs the kernels next to nothing)
 *   H5CL_FIG_ARG     argmin, argmax; implies MINMAX
 * Derived figures of a state that does not hold them are NaN; argmin and
 * argmax not held are H5CL_ARG_NONE.  Merging states of different figure
 * sets keeps the intersection.  The serialised form stores `missing` in
 * byte 5 (0 in older buffers, which held everything).  Per-axis runs
 * (axis >= 0) compute every figure whatever was asked, and say so. */
#define H5CL_FIG_COUNT 0x01u
#define H5CL_FIG_SUM 0x02u
#define H5CL_FIG_VAR 0x04u
#define H5CL_FIG_MINMAX 0x08u
#define H5CL_FIG_ARG 0x10u
#define H5CL_FIG_ALL 0x1fu
#define H5CL_ARG_NONE UINT64_MAX

/* Figure flags from a comma list of names: count, nan_count, sum, mean,
 * var, std, min, max, argmin, argmax, arg (both indices), all.  Returns
 * H5CL_ERR_INVALID_ARGUMENT for an unknown or missing name. */
H5CL_API int h5cl_figures_parse(const char *names, unsigned *figures_ret);

/* An empty state of the given kind (count 0). */
H5CL_API void h5cl_stats_state_init(h5cl_stats_state *st, h5cl_kind kind);
/* into = into (+) from.  `from`'s indices must already be in the same index
 * space as `into`'s; states of different kinds are an error. */
H5CL_API int h5cl_stats_state_merge(h5cl_stats_state *into,
                                    const h5cl_stats_state *from);
/* Writes exactly H5CL_STATS_STATE_BYTES bytes (versioned, little-endian). */
H5CL_API void h5cl_stats_state_serialize(const h5cl_stats_state *st,
                                         unsigned char *buf);
/* Returns H5CL_ERR_BAD_STATE for a buffer that is not a valid state. */
H5CL_API int h5cl_stats_state_deserialize(const unsigned char *buf,
                                          size_t nbytes,
                                          h5cl_stats_state *st_ret);

/* Derived figures.  Each returns NaN where undefined (no values; var of
 * fewer than ddof+1 values).  Integer sums and means come from the exact
 * 128-bit sum, rounded once to double. */
H5CL_API double h5cl_stats_state_sum(const h5cl_stats_state *st);
H5CL_API double h5cl_stats_state_mean(const h5cl_stats_state *st);
H5CL_API double h5cl_stats_state_var(const h5cl_stats_state *st,
                                     unsigned ddof);
H5CL_API double h5cl_stats_state_std(const h5cl_stats_state *st,
                                     unsigned ddof);
H5CL_API double h5cl_stats_state_min(const h5cl_stats_state *st);
H5CL_API double h5cl_stats_state_max(const h5cl_stats_state *st);

/* ------------------------------------------------------------------------
 * Statistics runs.
 */
typedef struct h5cl_stats h5cl_stats;

/* Pipeline stages, in the order data flows through them. */
typedef enum h5cl_stage {
    H5CL_STAGE_READ = 0,  /* HDF5 into a host slot (reader thread)        */
    H5CL_STAGE_UPLOAD,    /* host slot to device (or unmap, zero-copy)    */
    H5CL_STAGE_KERNEL,
    H5CL_STAGE_DOWNLOAD,  /* partial states back to the host              */
    H5CL_STAGE_MERGE,     /* partial states merged on the host            */
    H5CL_STAGE_WRITE,     /* output tiles written to HDF5 (writer thread) */
    H5CL_STAGE_COUNT
} h5cl_stage;

H5CL_API const char *h5cl_stage_name(h5cl_stage stage);

typedef struct h5cl_run_summary {
    uint64_t bytes;           /* bytes read, all inputs together         */
    uint64_t bytes_written;   /* bytes of output written (maps)          */
    uint64_t tiles;
    uint64_t tile_bytes;      /* tile size used (after any shrinking)    */
    unsigned slots;
    double seconds;           /* wall time of the run                    */
    double stage_seconds[H5CL_STAGE_COUNT]; /* busy time per stage       */
    double overlap;           /* wall / busiest stage; 1.0 is perfect    */
    int zero_copy;            /* kernels read host slots in place        */
    uint64_t masked;          /* elements masked by mask_fill or cf      */
    uint64_t bytes_direct;    /* of bytes, those read bypassing H5Dread:
                               * raw data with pread straight from the
                               * file, or chunks read with H5Dread_chunk
                               * and decoded by h5cl's threads (deflate,
                               * shuffle, fletcher32); H5CL_DIRECT=0 stops
                               * both */
    unsigned read_threads;    /* threads reading them (H5CL_THREADS)     */
    uint64_t bytes_mapped;    /* of bytes_direct, those the kernels read
                               * in place from the file's pages (mmap on
                               * host-memory devices; H5CL_MMAP=0 stops) */
} h5cl_run_summary;

/* One tile's pipeline stages, in seconds since the run started (the same
 * clock for every lane; device times are related to it per tile).  A stage
 * that did no work for the tile (upload on zero-copy devices) has
 * begin == end. */
typedef struct h5cl_tile_timing {
    uint64_t tile;
    uint64_t bytes;
    double begin[H5CL_STAGE_COUNT];
    double end[H5CL_STAGE_COUNT];
} h5cl_tile_timing;

/* Streams the dataset (or the selection in opts) through the device and
 * computes all statistics (or those in opts->figures: "Selected figures"
 * above) in one pass.  opts may be NULL for defaults.
 * With opts->axis >= 0 the axis is reduced and the result holds one state
 * per position of the remaining axes, in C order. */
H5CL_API int h5cl_stats_compute(h5cl_dataset *ds,
                                const h5cl_run_options *opts,
                                h5cl_stats **stats_ret);
/* Accepts NULL. */
H5CL_API void h5cl_stats_free(h5cl_stats *stats);

/* Number of states: 1 for whole-selection statistics, else the product of
 * the non-reduced selection dims (0 if one of them is 0). */
H5CL_API size_t h5cl_stats_count(const h5cl_stats *stats);
/* Returns the rank of the result (0 for whole-selection statistics, -1 for
 * NULL) and writes its dims; dims has room for H5CL_MAX_RANK entries. */
H5CL_API int h5cl_stats_shape(const h5cl_stats *stats, uint64_t *dims);
/* State i (0 <= i < count), or NULL when out of range. */
H5CL_API const h5cl_stats_state *h5cl_stats_get(const h5cl_stats *stats,
                                                size_t i);
H5CL_API const h5cl_run_summary *h5cl_stats_summary(const h5cl_stats *stats);
/* The per-tile timeline of the run, in tile order, when it ran with
 * opts->timeline set: returns the number of tiles and points *times_ret at
 * them (owned by stats).  Returns 0 (and NULL) without a timeline. */
H5CL_API size_t h5cl_stats_timeline(const h5cl_stats *stats,
                                    const h5cl_tile_timing **times_ret);
/* Elements of the run that mask_fill or cf masked (see "Fill values and
 * CF conventions"): they are counted in the states' nan_count, together
 * with the data's own NaNs, and excluded from every other figure.  0 for
 * a run without masking, and for NULL. */
H5CL_API uint64_t h5cl_stats_masked(const h5cl_stats *stats);

/* Selection shape of a dataset for given options, as the run would use it:
 * writes the rank and dims.  Useful to size buffers and check a selection
 * string without running. */
H5CL_API int h5cl_dataset_selection(const h5cl_dataset *ds,
                                    const char *select, int *rank_ret,
                                    uint64_t *dims_ret);

/* ------------------------------------------------------------------------
 * Fill values and CF conventions.
 *
 * netCDF-4 files are HDF5 files; their variables often store packed or
 * flagged values.  With opts->mask_fill or opts->cf every input of a run
 * is decoded on the device, element by element, before any op sees it:
 *
 *   1. _Unsigned (cf): "true" (any case; a fixed- or variable-length
 *      string) on a signed integer type reads the raw values as the
 *      unsigned type of the same size.  Attributes stored in the signed
 *      type of that size are reinterpreted the same way.
 *   2. Fill values: an element equal to one is masked.  mask_fill: the
 *      dataset's HDF5 fill value when user-defined
 *      (H5D_FILL_VALUE_USER_DEFINED), _FillValue, missing_value (a scalar
 *      or an array); cf: _FillValue and missing_value.  A NaN fill value
 *      masks the NaN elements.
 *   3. Valid range (cf): an element below valid_min or above valid_max is
 *      masked; valid_range (two values) takes precedence over both.
 *      Bounds are inclusive.
 *   4. Unpacking (cf): value = raw * scale_factor + add_offset (either
 *      may be absent), in the precision expressions use (double on fp64
 *      devices), from the attributes' exact values.
 *
 * Comparisons are exact, in the raw type (after _Unsigned), so packed
 * values are compared in packed units, as CF requires.  An attribute of
 * the raw type's size and another integer signedness is reinterpreted
 * (two's complement, as numpy casts); other attribute values are
 * converted: a fill value must be representable in the raw type (a
 * float64 fill of float32 data is rounded to float32, as netCDF4-python
 * does), a valid bound is rounded inward (valid_min 0.5 of integer data
 * is 1).  What cannot be interpreted (a string _FillValue, a NaN bound,
 * an empty valid_range, more than H5CL_CF_MAX_FILL fill values) is
 * H5CL_ERR_UNSUPPORTED_TYPE naming the attribute; attributes the options
 * do not use are not read.
 *
 * Masked elements become NaN: every statistic excludes them and counts
 * them in nan_count (so whole-selection and per-axis results agree), and
 * h5cl_stats_masked() / h5cl_run_summary.masked say how many elements
 * had an input masked.  Histograms count them as NaN and quantiles ignore
 * them; maps write NaN (0 in an integer output type).  A decoded input is
 * a variable of an expression like any other; without opts->expr the
 * expression is the input's name.  When something applies, reductions
 * work on floating-point values (kind H5CL_KIND_FLOAT, float64 on fp64
 * devices); when nothing applies (no attribute found) the run is the
 * plain one.
 *
 * The default output type of a map follows the expression rules over the
 * decoded types: an unpacked variable is float32 when its scale_factor
 * and add_offset are float32, else float64 (CF: the unpacked type is the
 * attributes' type); a masked one keeps its raw type there, so the
 * default is float32 for 8/16-bit integers and float32 data, float64 for
 * 32/64-bit integers and float64 data (NaN needs a float).
 */
#define H5CL_CF_MAX_FILL 8

/* h5cl_cf_info.flags: what a run applies. */
#define H5CL_CF_FILL_HDF5     0x001u /* the user-defined HDF5 fill value */
#define H5CL_CF_FILL_VALUE    0x002u /* _FillValue                       */
#define H5CL_CF_MISSING_VALUE 0x004u /* missing_value                    */
#define H5CL_CF_VALID_MIN     0x008u /* valid_min or valid_range[0]      */
#define H5CL_CF_VALID_MAX     0x010u /* valid_max or valid_range[1]      */
#define H5CL_CF_VALID_RANGE   0x020u /* the bounds are valid_range's     */
#define H5CL_CF_SCALE         0x040u /* scale_factor                     */
#define H5CL_CF_OFFSET        0x080u /* add_offset                       */
#define H5CL_CF_UNSIGNED      0x100u /* _Unsigned = "true"               */

/* What a run with given options applies to one dataset.  Values compared
 * with the data are in raw_dtype's kind: .i for signed integers, .u for
 * unsigned ones, .f for floats. */
typedef struct h5cl_cf_info {
    unsigned flags;         /* H5CL_CF_*; 0: nothing applies            */
    h5cl_dtype dtype;       /* the data's type in the file              */
    h5cl_dtype raw_dtype;   /* the type comparisons are made in: dtype,
                               or its unsigned counterpart (_Unsigned)  */
    h5cl_dtype value_dtype; /* the decoded variable's type in
                               expressions (see the default map output) */
    unsigned nfill;         /* distinct fill and missing values         */
    h5cl_scalar fill[H5CL_CF_MAX_FILL];
    unsigned fill_from[H5CL_CF_MAX_FILL]; /* H5CL_CF_FILL_HDF5 |
                               H5CL_CF_FILL_VALUE | H5CL_CF_MISSING_VALUE:
                               where each was found                     */
    h5cl_scalar valid_min;  /* with H5CL_CF_VALID_MIN, inclusive        */
    h5cl_scalar valid_max;  /* with H5CL_CF_VALID_MAX, inclusive        */
    double scale_factor;    /* 1 without H5CL_CF_SCALE                  */
    double add_offset;      /* 0 without H5CL_CF_OFFSET                 */
} h5cl_cf_info;

/* Describes what a run with opts->cf = cf and opts->mask_fill =
 * mask_fill would apply to ds (flags 0 when both are 0), reading the
 * attributes it uses.  Errors: H5CL_ERR_UNSUPPORTED_TYPE for an attribute
 * it cannot interpret, H5CL_ERR_HDF5. */
H5CL_API int h5cl_dataset_cf_info(const h5cl_dataset *ds, int cf,
                                  int mask_fill, h5cl_cf_info *info_ret);

/* ------------------------------------------------------------------------
 * Histograms: fixed, equal-width bins over [lo, hi] with numpy's edges and
 * rules (the last bin includes hi), counts in 64-bit integers, NaNs and
 * values below lo or above hi counted separately.  With opts->axis >= 0,
 * one histogram per position of the other axes.  With opts->expr, the
 * histogram of the expression's values.
 *
 * A histogram is also a partial state: two of the same bins, range and
 * shape merge exactly (counts add), and serialise to a versioned
 * little-endian byte form.
 */
typedef struct h5cl_hist h5cl_hist;

typedef struct h5cl_hist_options {
    size_t struct_size;  /* set by h5cl_hist_options_init()             */
    uint32_t bins;       /* 0: 256                                       */
    int range_set;       /* 0: [min, max] of the data, by a first pass   */
    double lo, hi;       /* with range_set; lo < hi, both finite         */
    /* Without range_set: when set, the range the data rule gives for this
     * state's min and max (see h5cl_hist_compute), instead of a first
     * pass.  Shares of a dataset (h5cl_ctx_set_share) binned with the
     * whole selection's merged state get the same edges, so they merge. */
    const struct h5cl_stats_state *range_state;
} h5cl_hist_options;

H5CL_API void h5cl_hist_options_init(h5cl_hist_options *hopts);
/* hopts may be NULL for 256 bins over the data's range.  A range from
 * the data ignores NaNs, is [0, 1] without numbers and x +- 0.5 for a
 * constant x; an infinite one is H5CL_ERR_INVALID_ARGUMENT, as are more
 * than 2^24 bins and edges that do not strictly increase.  Per-axis
 * results above 1 GiB are H5CL_ERR_TOO_LARGE.  The summary covers both
 * passes when the range comes from the data.  Values are binned in double
 * (float without fp64): float32 data bins like numpy bins it as float64. */
H5CL_API int h5cl_hist_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                               const h5cl_hist_options *hopts,
                               h5cl_hist **hist_ret);
/* Accepts NULL. */
H5CL_API void h5cl_hist_free(h5cl_hist *hist);
H5CL_API uint32_t h5cl_hist_bins(const h5cl_hist *hist);
/* The range used; *from_data_ret (may be NULL) says whether it was found
 * by a first min/max pass rather than given. */
H5CL_API void h5cl_hist_range(const h5cl_hist *hist, double *lo_ret,
                              double *hi_ret, int *from_data_ret);
/* Number of histograms: 1, or one per position for per-axis histograms. */
H5CL_API size_t h5cl_hist_count(const h5cl_hist *hist);
/* Rank (0 for one histogram, -1 for NULL) and dims of the positions. */
H5CL_API int h5cl_hist_shape(const h5cl_hist *hist, uint64_t *dims);
/* The bins counts of histogram i, or NULL when out of range. */
H5CL_API const uint64_t *h5cl_hist_counts(const h5cl_hist *hist, size_t i);
/* What histogram i did not count in a bin. */
H5CL_API int h5cl_hist_outside(const h5cl_hist *hist, size_t i,
                               uint64_t *nan_ret, uint64_t *under_ret,
                               uint64_t *over_ret);
H5CL_API const h5cl_run_summary *h5cl_hist_summary(const h5cl_hist *hist);
/* into += from; H5CL_ERR_INVALID_ARGUMENT unless bins, range and shape
 * agree exactly. */
H5CL_API int h5cl_hist_merge(h5cl_hist *into, const h5cl_hist *from);
/* Bytes h5cl_hist_serialize writes. */
H5CL_API size_t h5cl_hist_serialized_size(const h5cl_hist *hist);
H5CL_API int h5cl_hist_serialize(const h5cl_hist *hist, unsigned char *buf,
                                 size_t nbytes);
/* H5CL_ERR_BAD_STATE for a buffer that is not a valid histogram,
 * including one whose length is not exactly the serialised size. */
H5CL_API int h5cl_hist_deserialize(const unsigned char *buf, size_t nbytes,
                                   h5cl_hist **hist_ret);

/* Exact quantiles (numpy's default "linear" method; NaNs are ignored, as
 * np.nanquantile does) by histogram refinement: after a first pass that
 * counts the values and finds their range, each pass histograms 16 bits of
 * the order-preserving bit patterns of the values that share the prefix
 * found so far, so the value of rank k is exact after at most 2 passes for
 * 32-bit types, 4 for 64-bit types, 1 for 8/16-bit types (fewer when the
 * minimum and maximum share leading digits; 0 when all values are equal).
 * *passes_ret (may be NULL) receives those refinement passes, the first
 * pass not included.  Integers are interpolated in double.  q holds nq fractions in [0, 1]; values_ret
 * receives nq values (NaN when the selection holds no number). */
H5CL_API int h5cl_quantile_compute(h5cl_dataset *ds,
                                   const h5cl_run_options *opts,
                                   const double *q, size_t nq,
                                   double *values_ret, unsigned *passes_ret);

/* ------------------------------------------------------------------------
 * Expressions.
 *
 * Grammar (C precedence, `**` binds tighter than unary minus and is right
 * associative, as in numpy/Python):
 *   literals     1  2.5  1e-3  .5  nan  inf
 *   variables    the names bound by the caller
 *   operators    + - * / % **  unary -  < <= > >= == !=  && || !  c ? a : b
 *   functions    abs sqrt cbrt exp exp2 expm1 log log2 log10 log1p pow sin
 *                cos tan asin acos atan atan2 sinh cosh tanh floor ceil
 *                round trunc fmin fmax clamp isnan isinf isfinite where
 * Values are computed in double on devices with fp64, else in float.
 * Comparisons, logic, isnan/isinf/isfinite give booleans (1 or 0).
 * The user's text never reaches the OpenCL compiler: it is parsed into a
 * tree that is type-checked and translated.
 */

/* Parses and type-checks expr over the n variables (names[i] holding
 * dtypes[i]).  H5CL_ERR_EXPRESSION with a message naming the column and the
 * problem (an unknown name gets the nearest valid one).  result_ret (may be
 * NULL) receives the default output type: H5CL_UINT8 for a boolean result,
 * H5CL_FLOAT64 when an input the expression uses is float64, int32, uint32,
 * int64 or uint64
 * (numpy's promotion for float expressions), else H5CL_FLOAT32. */
H5CL_API int h5cl_expr_check(h5cl_ctx *ctx, const char *expr,
                             const char *const *names,
                             const h5cl_dtype *dtypes, size_t n,
                             h5cl_dtype *result_ret);

/* ------------------------------------------------------------------------
 * Maps: evaluate an expression element by element over one or more
 * datasets and write the result to a new dataset.
 *
 * Safety: inputs are only read.  The output is written into a temporary
 * file in the target directory (a copy of the target file when it exists),
 * flushed, closed, fsync'd and renamed over the target only when complete,
 * so a failure, a cancellation or a killed process never leaves a partial
 * dataset under the real name and never changes the existing file.  An
 * existing dataset of that name is H5CL_ERR_EXISTS unless overwrite is set.
 * An output file that is one of the input files (by any name: symlink,
 * hard link, another spelling) is refused with H5CL_ERR_OUTPUT_IS_INPUT.
 */
typedef struct h5cl_map_options {
    size_t struct_size;   /* set by h5cl_map_options_init()              */
    const char *out_file;
    const char *out_path; /* dataset path; missing groups are created    */
    int dtype;            /* an h5cl_dtype; -1: the expression's default  */
    int gzip;             /* deflate level 1..9; 0: none                  */
    int shuffle;          /* byte shuffle before compression              */
    int overwrite;        /* replace an existing dataset of that name     */
    int chunk_rank;       /* 0: the first input's chunking (when chunked);
                             -1: contiguous (no gzip or shuffle then)     */
    uint64_t chunk_dims[H5CL_MAX_RANK];
} h5cl_map_options;

H5CL_API void h5cl_map_options_init(h5cl_map_options *mopts);

/* Runs opts->expr over ds and opts->with into mopts's output; the
 * expression is required unless opts->mask_fill or opts->cf is set (then
 * it defaults to the input's name: the decoded values are written, NaN
 * where masked).  summary_ret (may be NULL) receives the run's timings,
 * bytes read and written, and the masked count.  The output records the
 * expression and the sources as attributes (h5cl_expression,
 * h5cl_sources). */
H5CL_API int h5cl_map_run(h5cl_dataset *ds, const h5cl_run_options *opts,
                          const h5cl_map_options *mopts,
                          h5cl_run_summary *summary_ret);

/* ------------------------------------------------------------------------
 * Covariance, correlation and PCA of a 2-D dataset (rows are samples,
 * columns are features), streamed row-tile by row-tile through CLBlast.
 *
 * Per tile, the values (converted to double on devices with fp64, else
 * float; through opts->expr, mask_fill and cf like every op) are shifted
 * by an estimate of the column means taken from the first tile, their
 * column sums are added to a device vector and CLBlast's SYRK adds their
 * Gram matrix into a p x p device matrix.  Shifting keeps data with a
 * large mean (1e6 + noise) from cancelling; the sums of the shifted data
 * make the result exact whatever the estimate.  NaN in a column makes
 * that column's row and column of the result NaN, as in numpy.
 *
 * An h5cl_cov is also a partial state: n, the column means and the
 * centred sums of products (the p x p "comoment" matrix), which is the
 * same information as n, column sums and X^T X but merges (Chan's
 * pairwise formula) without cancellation; it serialises to a versioned
 * little-endian byte form.
 *
 * Errors: a selection that is not 2-D is H5CL_ERR_INVALID_ARGUMENT; more
 * columns than a p x p matrix of the device can hold is
 * H5CL_ERR_DEVICE_MEMORY with the number that fits; a CLBlast failure is
 * H5CL_ERR_LINALG (H5CL_ERR_DEVICE_MEMORY when out of memory) with
 * CLBlast's status name.  opts->axis must be -1.
 */
typedef struct h5cl_cov h5cl_cov;

H5CL_API int h5cl_cov_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                              h5cl_cov **cov_ret);
/* Accepts NULL. */
H5CL_API void h5cl_cov_free(h5cl_cov *cov);
/* Rows counted (n) and columns (p); 0 for NULL. */
H5CL_API uint64_t h5cl_cov_rows(const h5cl_cov *cov);
H5CL_API size_t h5cl_cov_columns(const h5cl_cov *cov);
/* The p column means (NaN when n is 0), owned by cov. */
H5CL_API const double *h5cl_cov_mean(const h5cl_cov *cov);
/* The p x p centred sums of products, row-major, owned by cov. */
H5CL_API const double *h5cl_cov_comoment(const h5cl_cov *cov);
/* Writes the p x p covariance (numpy.cov(X, rowvar=False, ddof=ddof)),
 * row-major, into out; NaN everywhere when n <= ddof. */
H5CL_API int h5cl_cov_matrix(const h5cl_cov *cov, unsigned ddof,
                             double *out);
/* Writes the p x p correlation matrix (numpy.corrcoef(X, rowvar=False):
 * clipped to [-1, 1]; NaN for a constant column). */
H5CL_API int h5cl_cov_corrcoef(const h5cl_cov *cov, double *out);
H5CL_API const h5cl_run_summary *h5cl_cov_summary(const h5cl_cov *cov);
/* Writes the p x p covariance (corr 0, with ddof) or correlation (corr
 * 1) as a float64 dataset to mopts's output, with the same all-or-nothing
 * rules as h5cl_map_run (mopts->dtype must be -1 or H5CL_FLOAT64).  The
 * files cov was computed from (merged states: all of them; not known for
 * a deserialised state) are refused as outputs with
 * H5CL_ERR_OUTPUT_IS_INPUT, as every input is by every write.  Errors
 * are recorded on ctx. */
H5CL_API int h5cl_cov_write(h5cl_ctx *ctx, const h5cl_cov *cov, int corr,
                            unsigned ddof, const h5cl_map_options *mopts);
/* into (+)= from: the rows of both.  H5CL_ERR_INVALID_ARGUMENT unless the
 * column counts agree. */
H5CL_API int h5cl_cov_merge(h5cl_cov *into, const h5cl_cov *from);
/* Bytes h5cl_cov_serialize writes: 32 + 8 p + 8 p^2. */
H5CL_API size_t h5cl_cov_serialized_size(const h5cl_cov *cov);
H5CL_API int h5cl_cov_serialize(const h5cl_cov *cov, unsigned char *buf,
                                size_t nbytes);
/* H5CL_ERR_BAD_STATE for a buffer that is not exactly one valid state. */
H5CL_API int h5cl_cov_deserialize(const unsigned char *buf, size_t nbytes,
                                  h5cl_cov **cov_ret);

/* Principal components of a covariance state: the eigen-decomposition of
 * its covariance (ddof 1, as scikit-learn) by LAPACK's dsyevd on the host.
 * The k components are the eigenvectors of the k largest eigenvalues, in
 * decreasing order, each signed so that its entry of largest magnitude is
 * positive.  Errors: k not in 1..p or n < 2 (H5CL_ERR_INVALID_ARGUMENT),
 * a covariance with NaN or inf (H5CL_ERR_INVALID_ARGUMENT naming a
 * column), LAPACK failing to converge (H5CL_ERR_LINALG). */
typedef struct h5cl_pca h5cl_pca;

H5CL_API int h5cl_pca_compute(h5cl_ctx *ctx, const h5cl_cov *cov, size_t k,
                              h5cl_pca **pca_ret);
/* Accepts NULL. */
H5CL_API void h5cl_pca_free(h5cl_pca *pca);
H5CL_API size_t h5cl_pca_k(const h5cl_pca *pca);
H5CL_API size_t h5cl_pca_columns(const h5cl_pca *pca);
/* k x p, row-major: row i is component i (scikit-learn's components_). */
H5CL_API const double *h5cl_pca_components(const h5cl_pca *pca);
/* k eigenvalues of the covariance (ddof 1), and each one's share of the
 * sum of all p (negative eigenvalues from rounding count as 0). */
H5CL_API const double *h5cl_pca_explained_variance(const h5cl_pca *pca);
H5CL_API const double *h5cl_pca_explained_variance_ratio(const h5cl_pca *pca);
/* The p column means the projection subtracts. */
H5CL_API const double *h5cl_pca_mean(const h5cl_pca *pca);

/* Projects every row of ds (or of the selection, through opts like
 * h5cl_cov_compute) onto the components: Y = (X - mean) @ components^T,
 * streamed tile by tile with CLBlast's GEMM, and writes Y (rows x k) to
 * mopts's output with the same all-or-nothing rules as h5cl_map_run.
 * Y is float64 on devices with fp64, else float32; mopts->dtype must be
 * -1 or that type.  Output chunks: mopts->chunk_dims when given, else the
 * input's chunk rows by k when the input is chunked, else none (whole
 * rows of about 1 MiB when compressed).  The selection must have p
 * columns. */
H5CL_API int h5cl_pca_project(h5cl_dataset *ds, const h5cl_run_options *opts,
                              const h5cl_pca *pca,
                              const h5cl_map_options *mopts,
                              h5cl_run_summary *summary_ret);

/* ------------------------------------------------------------------------
 * Guards, warnings and strict mode (README "Reliability").
 *
 * h5cl_dataset_open checks a dataset before any of its data is read:
 *   - its type is on a structural whitelist (integers of 1/2/4/8 bytes
 *     using every bit; IEEE binary32/binary64 floats, either byte order);
 *     anything else (float16, long double, VAX, bitfield, enum, compound,
 *     array, string, odd precisions) is H5CL_ERR_UNSUPPORTED_TYPE naming
 *     what was found;
 *   - sizes fit (H5CL_ERR_TOO_LARGE above 2^63 bytes); chunks have the
 *     dataspace's rank, no zero dimension and below 4 GiB
 *     (H5CL_ERR_CORRUPT);
 *   - every filter of its pipeline can be decoded (H5CL_ERR_FILTER naming
 *     the filter id and name);
 *   - its external files and virtual-dataset sources exist and are
 *     readable (H5CL_ERR_MISSING_DATA naming the file); relative external
 *     file names resolve against the HDF5 file's folder;
 *   - the dataset is not reached through an external link (links are never
 *     followed out of the file: H5CL_ERR_DATASET_NOT_FOUND naming the
 *     target).
 * Data that would not come from the file is a warning on the dataset
 * (default) or H5CL_ERR_MISSING_DATA at open (strict mode):
 *   - no storage allocated and no fill value: the data reads as zeros;
 *   - a chunked dataset with fewer chunks in the file than its extent
 *     needs (a sparse write, or a damaged chunk index): those elements read
 *     as the fill value (zeros without one);
 *   - a short external file: the missing bytes read as zeros;
 *   - strict mode only: no storage allocated at all, every element being
 *     the fill value.
 */

/* Strict mode for the datasets opened on ctx from now on (0: off, the
 * default). */
H5CL_API int h5cl_ctx_set_strict(h5cl_ctx *ctx, int strict);
/* The warnings found when ds was opened, one per line ("" for none; each
 * names the dataset and the file).  Owned by ds. */
H5CL_API const char *h5cl_dataset_warnings(const h5cl_dataset *ds);

/* ------------------------------------------------------------------------
 * Scaling out: shares of a selection, several devices in one process.
 *
 * A share is a range of rows of the first axis of a selection.  Runs over
 * the shares of a selection give partial results that merge into the
 * whole selection's: statistics (h5cl_stats_merge), histograms
 * (h5cl_hist_merge, given one range: range_set or range_state) and
 * covariance states (h5cl_cov_merge).  Integer statistics and histogram
 * counts merge exactly, whatever the grouping; float sums, means, m2 and
 * covariances are equal within rounding (other additions in another
 * order).  MPI ranks (tools/h5cl-mpi.c) and Dask tasks (python-bindings,
 * h5cl.dask) are built on the same calls.
 */

/* Restricts every later run on ctx to rows [start, stop) of the first axis
 * of its selection, counted from the selection's first row (0) and
 * clipped to it: a share of the work.  Results keep the whole selection's
 * index space: argmin/argmax of whole-selection statistics are flat
 * indices in the whole selection, those of per-axis statistics over axis 0
 * indices along it, so the shares' states merge into the whole run's.  A
 * per-axis run over another axis is H5CL_ERR_AXIS (its positions would be
 * split, not merged).  Maps and projections write the share's rows only
 * (an output of the share's shape), quantiles are the share's.  A
 * histogram whose range comes from the data takes the share's range: give
 * range_set or range_state.
 * start = 0, stop = UINT64_MAX (a new context's setting) runs everything.
 * start > stop is H5CL_ERR_INVALID_ARGUMENT. */
H5CL_API int h5cl_ctx_set_share(h5cl_ctx *ctx, uint64_t start, uint64_t stop);

/* Splits the first axis of ds's selection `select` (NULL: all) into at
 * most n shares of nearly equal rows, on chunk boundaries for a chunked
 * dataset (no chunk is read by two shares; there are fewer shares when
 * there are fewer chunk rows than n).  Writes count + 1 bounds to
 * bounds_ret (room for n + 1), share i being rows [bounds[i],
 * bounds[i+1]) as h5cl_ctx_set_share counts them, and the count to
 * *count_ret: at least 1 (one empty share [0, 0) for an empty
 * selection).  Errors are recorded on ds's context. */
H5CL_API int h5cl_dataset_split(const h5cl_dataset *ds, const char *select,
                                size_t n, uint64_t *bounds_ret,
                                size_t *count_ret);

/* into (+)= from, state by state (h5cl_stats_state_merge): the same shape
 * and kind, else H5CL_ERR_INVALID_ARGUMENT.  The summary's bytes, tiles,
 * masked elements and stage times add up; seconds is the longer one.
 * into's timeline, if any, is dropped. */
H5CL_API int h5cl_stats_merge(h5cl_stats *into, const h5cl_stats *from);

/* The byte form of a whole statistics result (its shape and states, not
 * its summary), versioned, little-endian and checksummed, to send partial
 * results between processes (MPI ranks, Dask workers). */
H5CL_API size_t h5cl_stats_serialized_size(const h5cl_stats *stats);
/* nbytes must be h5cl_stats_serialized_size(stats). */
H5CL_API int h5cl_stats_serialize(const h5cl_stats *stats, unsigned char *buf,
                                  size_t nbytes);
/* H5CL_ERR_BAD_STATE for a buffer that is not exactly one valid result;
 * the summary of the result made is zero. */
H5CL_API int h5cl_stats_deserialize(const unsigned char *buf, size_t nbytes,
                                    h5cl_stats **stats_ret);

/* Several devices, one process: each of the nctx contexts (one device each;
 * h5cl_ctx_use_device, or the default) opens FILE:PATH and runs the
 * ordinary pipeline over shares of the selection that its thread takes
 * from a common queue, so a faster device takes more.  Shares are about 8
 * tiles (opts->tile_bytes or the first context's default), at least one
 * per context, on chunk boundaries.  The partial results are merged (see
 * above) into one result as the single-context run would give it.  opts
 * as for the single-device call, except: `with` bindings are
 * H5CL_ERR_INVALID_ARGUMENT (datasets belong to one context); progress,
 * trace_path and timeline are not used.  A failure on any context stops
 * the others; the status and message (naming the device) are recorded on
 * ctxs[0].  h5cl_cancel() on any of the contexts stops the run (at the
 * next tile or share).  The
 * contexts must not be in use by other threads meanwhile; their share
 * setting is the whole selection afterwards. */
H5CL_API int h5cl_multi_stats(h5cl_ctx *const *ctxs, size_t nctx,
                              const char *file, const char *path,
                              const h5cl_run_options *opts,
                              h5cl_stats **stats_ret);
/* Without a range, a first multi-device pass finds the data's min and max
 * (both passes are in the summary). */
H5CL_API int h5cl_multi_hist(h5cl_ctx *const *ctxs, size_t nctx,
                             const char *file, const char *path,
                             const h5cl_run_options *opts,
                             const h5cl_hist_options *hopts,
                             h5cl_hist **hist_ret);
H5CL_API int h5cl_multi_cov(h5cl_ctx *const *ctxs, size_t nctx,
                            const char *file, const char *path,
                            const h5cl_run_options *opts, h5cl_cov **cov_ret);

/* Joins the outputs of maps over shares: makes mopts->out_file:out_path an
 * HDF5 virtual dataset (no data copied) stacking, along the first axis and
 * in the order given, dataset `path` of each of the n files (which must
 * exist, with the same type and the same dims beyond the first).  Source
 * files in the output's directory are recorded by name relative to it
 * (HDF5 looks there first), others by absolute path, so the directory can
 * move as a whole.  An existing dataset of that name is H5CL_ERR_EXISTS
 * unless mopts->overwrite; an output file that is one of the sources (by
 * any name: symlink, hard link) is H5CL_ERR_OUTPUT_IS_INPUT.  The output
 * is written all or nothing, as h5cl_map_run's is.  Only out_file,
 * out_path and overwrite of mopts are used.  Errors are recorded on
 * ctx. */
H5CL_API int h5cl_map_join(h5cl_ctx *ctx, const char *const *files, size_t n,
                           const char *path, const h5cl_map_options *mopts);

/* ------------------------------------------------------------------------
 * Isolated mode: every HDF5 call on an input file (the open, dataset
 * descriptions and listings, CF attributes and fill values, every read of
 * a run) runs in a child process, the h5cl-reader helper, under memory,
 * CPU and wall-clock limits, and decoded tiles come back through shared
 * memory; OpenCL and outputs stay in the calling process.  A file that
 * crashes or hangs libhdf5 then gives an error instead of taking the
 * caller down:
 *   H5CL_ERR_CRASHED  the child died (the message names the signal, the
 *                     file, the dataset and what it was doing),
 *   H5CL_ERR_TIMEOUT  one request ran past the wall-clock limit (the child
 *                     is killed),
 *   H5CL_ERR_LIMIT    the child reached its CPU limit, or an allocation
 *                     failed under its memory limit.
 * The context stays usable: the next call starts a fresh child, and
 * datasets opened before are reopened in it.  One child per context,
 * started by the first call that needs it, ended by h5cl_ctx_destroy; it
 * is killed if the calling process dies.  Results are bit-identical to
 * in-process runs.
 *
 * Off by default in the library; H5CL_ISOLATE=1 (or 0) in the environment
 * changes that default when the context is created.  The helper is looked
 * up as $H5CL_READER, next to libh5cl.so (or in ../bin from it), next to
 * the running program, then at the installed location.  Which datasets
 * are isolated is fixed when they are opened.
 */
typedef struct h5cl_isolation {
    size_t struct_size;    /* set by h5cl_isolation_init()                */
    int enabled;
    uint64_t memory_bytes; /* the child's address-space limit; 0: half of
                              the physical memory; at least 64 MiB       */
    uint64_t cpu_seconds;  /* the child's CPU time limit; 0: none (long
                              reads of huge files are legitimate)        */
    double wall_seconds;   /* per request (an open, one tile), plus 1 s
                              per 16 MiB the request reads; 0: 60 s, or
                              $H5CL_READER_TIMEOUT seconds when set      */
} h5cl_isolation;

/* Fills opts with the defaults above, isolation off. */
H5CL_API void h5cl_isolation_init(h5cl_isolation *opts);
/* `enabled` applies to datasets opened (and files listed) from now on;
 * new limits end a running child, so the next call starts one under them.
 * H5CL_ERR_INVALID_ARGUMENT for a negative wall_seconds or memory_bytes
 * under 64 MiB. */
H5CL_API int h5cl_ctx_set_isolation(h5cl_ctx *ctx, const h5cl_isolation *opts);
/* The settings in force, with defaults resolved (memory_bytes, wall). */
H5CL_API int h5cl_ctx_get_isolation(const h5cl_ctx *ctx,
                                    h5cl_isolation *opts_ret);

#ifdef __cplusplus
}
#endif

#endif /* H5CL_H */
