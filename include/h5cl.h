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
    X(ERR_BUSY, -23, "the context is running in another thread")

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

/* Builds (or loads from the on-disk cache) every kernel program for every
 * element type the device supports, so later runs never compile.  Build
 * failures are H5CL_ERR_BUILD with the full build log in the message.
 * Compiled binaries are cached under $H5CL_CACHE_DIR, else
 * $XDG_CACHE_HOME/h5cl, else ~/.cache/h5cl, keyed by device, driver,
 * options and source; a corrupt or stale entry is ignored and rebuilt. */
H5CL_API int h5cl_ctx_build_programs(h5cl_ctx *ctx);

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
 * H5CL_ERR_UNSUPPORTED_TYPE (names the type class). */
H5CL_API int h5cl_dataset_open(h5cl_ctx *ctx, const char *file,
                               const char *path, h5cl_dataset **ds_ret);
/* Accepts NULL. */
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
    uint64_t tile_bytes;  /* target bytes per tile; 0: default (8 MiB)    */
    unsigned slots;       /* host slots in flight; 0: default (3)         */
    int axis;             /* -1: whole selection; else reduce this axis   */
    const char *select;   /* "start:stop,..." numpy-style; NULL: all      */
    const char *trace_path; /* Chrome trace-event JSON written if set     */
    h5cl_progress_fn progress;
    void *progress_user;
    int timeline;         /* keep per-tile stage times (h5cl_stats_timeline) */
} h5cl_run_options;

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
} h5cl_stats_state;

#define H5CL_STATS_STATE_BYTES 96

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
    H5CL_STAGE_COUNT
} h5cl_stage;

H5CL_API const char *h5cl_stage_name(h5cl_stage stage);

typedef struct h5cl_run_summary {
    uint64_t bytes;           /* bytes of data streamed                  */
    uint64_t tiles;
    uint64_t tile_bytes;      /* tile size used (after any shrinking)    */
    unsigned slots;
    double seconds;           /* wall time of the run                    */
    double stage_seconds[H5CL_STAGE_COUNT]; /* busy time per stage       */
    double overlap;           /* wall / busiest stage; 1.0 is perfect    */
    int zero_copy;            /* kernels read host slots in place        */
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
 * computes all statistics in one pass.  opts may be NULL for defaults.
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

/* Selection shape of a dataset for given options, as the run would use it:
 * writes the rank and dims.  Useful to size buffers and check a selection
 * string without running. */
H5CL_API int h5cl_dataset_selection(const h5cl_dataset *ds,
                                    const char *select, int *rank_ret,
                                    uint64_t *dims_ret);

#ifdef __cplusplus
}
#endif

#endif /* H5CL_H */
