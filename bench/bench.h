/*
 * h5cl-bench: what the bench's files share.
 *
 *   h5cl-bench.c       command line, the run of the cases, exit status
 *   bench_util.c       errors, signals, time, sizes, medians, files
 *   bench_gen.c        generated data files (--make-sample, bench data)
 *   bench_raw.c        the raw-HDF5 ceilings (H5Dread of the tiles)
 *   bench_raw.c        (also the read + write + fsync ceiling of maps)
 *   bench_suite.c      --suite: the cases over dtypes x layouts
 *   bench_case_stats.c the stats case: h5cl_stats_compute vs raw reads
 *   bench_case_map.c   the map case: h5cl_map_run vs raw read + write
 *   bench_case_hist.c  the hist case: h5cl_hist_compute vs raw reads
 *   bench_case_axis.c  the axis case: per-axis h5cl_stats_compute
 *   bench_case_fused.c the fused case: statistics of expressions
 *   bench_case_cov.c   the cov case: h5cl_cov_compute vs raw reads
 *   bench_case_run.c   the run shared by the stats, axis, fused and cov
 *                      cases
 *   bench_ref.c        host reference statistics and their check
 *   bench_rss.c        the peak-RSS probe (a fresh process, one run)
 *   bench_sweep.c      --sweep: the cases over a grid of run parameters
 *   bench_roofline.c   the device roofline: H2D and on-device read GB/s
 *   bench_syrk.c       the device's CLBlast SYRK rate (the cov case)
 *   bench_cl.c         OpenCL helpers of the two device probes
 *   bench_report.c     the table and the JSON rows
 *
 * Only the public h5cl API and the HDF5 C API are used, except in
 * bench_roofline.c and bench_syrk.c, which measure the device itself with
 * OpenCL and CLBlast (on the platform and device indices h5cl_ctx_device()
 * reports).
 */
#ifndef H5CL_BENCH_H
#define H5CL_BENCH_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hdf5.h>

#include "h5cl.h"

#define BENCH_NAME "h5cl-bench"
/* 2: "case" names the benchmark case (stats, map, hist); the row's own
 * name, "case" in version 1, is now "row". */
#define JSON_FORMAT_VERSION 2
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

#define ERRLEN 1024

/* Generated data: bump GEN_VERSION whenever the values or layout change, so
 * that files kept from an older generator are not reused. */
#define GEN_VERSION 1
#define GEN_SEED UINT64_C(0x6835636c2d62656e)
#define FIELD_WIDTH 1024 /* row length of the value field (and 2-D cols) */
/* --cols: the widest generated rank-2 data (a p x p double matrix of 4096
 * is 128 MiB, already more than a small device holds comfortably) */
#define MAX_COLS 4096
/* Columns of generated data when the cov case runs and --cols is not
 * given: SYRK costs rows x cols^2, and 1024 columns make a 2-core CPU
 * device compute-bound for minutes on files of a few hundred MiB. */
#define COV_DEFAULT_COLS 128
#define COV_CHECK_PAIRS 8 /* off-diagonal covariances the cov case checks */
#define GAUSS_BITS 16
#define NAN_ONE_IN 4 /* one block in NAN_ONE_IN gets one NaN */

#define DEFAULT_SIZE (4 * GIB)
#define DEFAULT_SAMPLE_SIZE (384 * MIB)
#define SUITE_DEFAULT_SIZE (256 * MIB)
#define DEFAULT_CHUNK_BYTES (8 * MIB)
#define DEFAULT_REPS 5
#define DEFAULT_DIR "build/bench-data"
#define DEFAULT_DATASET "/data"
#define SAMPLE_CHUNK_ROWS 256   /* 256 x 1024 float32 = 1 MiB chunks */
#define SAMPLE_COUNTS_COLS 64
#define SAMPLE_COUNTS_CHUNK_ROWS 4096

/* Targets of the first version (bench/RESULTS.md). */
#define TARGET_RATIO 0.6
#define TARGET_OVERLAP 1.25
#define RSS_SLACK_BYTES (64 * MIB)

/* Relative tolerances of the result check (sanity, not accuracy tests). */
#define TOL_MEAN 1e-4
#define TOL_VAR 1e-3

#define MAX_REPS 1024

/* ------------------------------------------------------------------------
 * bench_util.c: errors, signals, time, sizes.
 */
extern volatile sig_atomic_t g_interrupted;
extern h5cl_ctx *volatile g_ctx;       /* cancelled on SIGINT/SIGTERM  */
extern char g_tmp_path[PATH_MAX + 32]; /* unlinked on SIGINT/SIGTERM   */
extern volatile sig_atomic_t g_tmp_active;
extern const char *g_self;             /* this program, for exec       */

void install_signals(void);
/* Writes the message into err (ERRLEN bytes) and returns -1. */
__attribute__((format(printf, 2, 3))) int fail(char *err, const char *fmt,
                                               ...);
/* "CALL failed (innermost HDF5 error)" for a failed HDF5 call; -1. */
__attribute__((format(printf, 2, 3))) int hdf5_fail(char *err,
                                                    const char *fmt, ...);
/* "CALL: H5CL_ERR_...: the context's message"; -1. */
int api_fail(char *err, h5cl_ctx *ctx, const char *call, int status);
double now_seconds(void);
int parse_size(const char *text, uint64_t *bytes_ret);
int parse_uint(const char *text, unsigned lo, unsigned hi, unsigned *ret);
const char *fmt_bytes(char *buf, size_t len, uint64_t n);
const char *fmt_bytes_exact(char *buf, size_t len, uint64_t n);
const char *fmt_dims(char *buf, size_t len, int rank, const hsize_t *dims);

struct summary3 {
    double median, min, max;
};

/* Median, min and max of n <= MAX_REPS values (NaN for none). */
struct summary3 summarize(const double *v, unsigned n);
uint64_t proc_status_kib(const char *key); /* of /proc/self/status */
/* The process's anonymous memory in transparent huge pages, and its file
 * mappings in 2 MiB pages (smaps_rollup), bytes. */
uint64_t proc_anon_huge_bytes(void);
uint64_t proc_file_pmd_bytes(void);
int check_free_space(const char *path, uint64_t need, char *err);
int mkdir_p(const char *dir, char *err);

/* ------------------------------------------------------------------------
 * bench_gen.c: generated files.  The data of every dtype and layout is the
 * same value field (bench_gen.c), so that rows of a suite differ only in
 * how the values are stored.
 */
enum bench_layout { LAYOUT_CONTIGUOUS = 0, LAYOUT_CHUNKED, LAYOUT_GZIP,
                    LAYOUT_COUNT };

/* deflate level of the gzip layout: h5py's and netCDF-4's usual choice */
#define GZIP_LEVEL 4

struct bench_shape {
    int rank;
    h5cl_dtype dtype;          /* H5CL_FLOAT32, H5CL_FLOAT64 or H5CL_INT16 */
    enum bench_layout layout;
    hsize_t dims[2], chunk[2]; /* chunk: the write blocks when contiguous */
};

int make_sample(const char *path, uint64_t size, char *err);
/* "contiguous", "chunked", "gzip" (gzip: shuffle + deflate GZIP_LEVEL). */
const char *layout_name(enum bench_layout l);
int parse_layout(const char *text, enum bench_layout *ret);
/* float32, float64 or int16: the dtypes the bench generates. */
int parse_bench_dtype(const char *text, h5cl_dtype *ret);
/* cols: the row length of rank-2 data (1 to MAX_COLS; unused for rank 1). */
int bench_shape_for(int rank, unsigned cols, h5cl_dtype dtype,
                    enum bench_layout layout, uint64_t size,
                    uint64_t chunk_bytes, struct bench_shape *sh, char *err);
/* The cached file's name in dir: bench-f32-1d-4GiB-chunk8MiB.h5,
 * bench-i16-2d-256MiB-gzip1MiB.h5, bench-f64-1d-64MiB-contiguous.h5; rank-2
 * data of other than FIELD_WIDTH columns names them: bench-f32-2d128c-...
 * (so the names of the files cached before --cols stay valid). */
int bench_file_name(char *buf, size_t len, const char *dir,
                    const struct bench_shape *sh, uint64_t size,
                    uint64_t chunk_bytes);
/* 1 when PATH holds /data exactly as bench_generate would write it. */
int bench_file_matches(const char *path, const struct bench_shape *sh);
int bench_generate(const char *path, const struct bench_shape *sh,
                   char *err);

/* ------------------------------------------------------------------------
 * bench_raw.c: the raw ceiling, H5Dread of chunk-aligned tiles (whole rows
 * of chunks, about tile_bytes each) into one reused buffer, chunk cache
 * off.
 */
struct raw_reader {
    hid_t file, dset, fspace, mspace_full, memtype;
    h5cl_dtype dtype;
    size_t elsize;
    int rank;
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
    int chunked;
    unsigned nfilters;
    uint64_t element_count, nbytes, storage_bytes;
    uint64_t row_elems;  /* product of dims[1..]                          */
    hsize_t tile_rows;   /* rows per tile, a multiple of chunk[0]          */
    uint64_t ntiles, tile_bytes;
    void *buf;
};

/* Called with each tile read: its n values are in rr->buf, the first at
 * flat (C-order) index flat0. */
typedef void (*raw_tile_fn)(const struct raw_reader *rr, size_t n,
                            uint64_t flat0, void *user);

int raw_open(struct raw_reader *rr, const char *path, const char *dsname,
             char *err);
/* Tile geometry for tile_bytes: whole rows of chunks along axis 0, full
 * extent on the other axes; at least one row of chunks. */
int raw_set_tiles(struct raw_reader *rr, uint64_t tile_bytes, char *err);
/* Reads tile k into rr->buf, leaving rr->fspace selected on it; *start0
 * and *rows (may be NULL) receive its first row and row count. */
int raw_read_tile(struct raw_reader *rr, uint64_t k, hsize_t *start0,
                  hsize_t *rows, char *err);
/* Element i of the tile in rr->buf, as double. */
double raw_value(const struct raw_reader *rr, size_t i);
/* Reads every tile once; fn (may be NULL) sees each tile. */
int raw_pass(struct raw_reader *rr, raw_tile_fn fn, void *user, char *err);
/* The map ceiling: every tile read with H5Dread and written with H5Dwrite
 * into dataset dsname of a new file made like h5cl's output (a temporary
 * file next to out_path; H5Dclose, H5Fclose, fsync, rename, fsync of the
 * directory).  dcpl gives the output's layout, out_type its type (HDF5
 * converts the input's values to it in H5Dwrite, so that the ceiling
 * writes the bytes h5cl writes); chunk cache off.  phase_ret
 * (PHASE_COUNT entries) receives the seconds of each phase. */
int raw_copy_pass(struct raw_reader *rr, const char *out_path,
                  const char *dsname, hid_t dcpl, hid_t out_type,
                  double *phase_ret, char *err);
/* The dataset creation properties h5cl's map output gets when no chunks
 * are asked for: the input's chunks (unfiltered) or contiguous. */
hid_t raw_output_dcpl(const struct raw_reader *rr, char *err);
void raw_close(struct raw_reader *rr);

/* ------------------------------------------------------------------------
 * bench_rss.c: the peak-RSS probe.
 */
struct rss_result {
    uint64_t peak_bytes, before_bytes, hwm_before_bytes, device_bytes;
    /* file-backed pages the run added to the resident set: the data's
     * page-cache pages read in place through the dataset's mapping */
    uint64_t mapped_bytes;
    uint64_t mapped_pmd_bytes; /* file mappings in 2 MiB pages */
};

/* `h5cl-bench --rss-probe ...`: the child's main. */
int rss_probe_main(int argc, char **argv);
int rss_probe_run(const char *file, const char *dataset, uint64_t tile,
                  unsigned slots, const char *device,
                  struct rss_result *res, char *err);

/* ------------------------------------------------------------------------
 * bench_sweep.c, parsing: `--sweep NAME=V1,V2,...`, repeatable; the run
 * covers the cross product of every swept parameter.
 */
enum sweep_param { SWEEP_SLOTS = 0, SWEEP_TILE_BYTES, SWEEP_PARAM_COUNT };
#define SWEEP_MAX_VALUES 16

struct sweep_spec {
    unsigned n[SWEEP_PARAM_COUNT];  /* 0: not swept (the --slots etc.)    */
    uint64_t v[SWEEP_PARAM_COUNT][SWEEP_MAX_VALUES];
};

/* Adds one --sweep argument; -1 with a message in err (ERRLEN). */
int sweep_parse(struct sweep_spec *sw, const char *text, char *err);
/* 1 when any parameter is swept. */
int sweep_active(const struct sweep_spec *sw);

/* ------------------------------------------------------------------------
 * bench_roofline.c: the device's own limits, measured with OpenCL on the
 * device h5cl opened.
 */
struct roofline {
    int measured;                    /* 0: see message                   */
    char message[ERRLEN];
    int host_unified;                /* H2D is a host memcpy (PoCL, iGPU) */
    int contiguous;                  /* read kernel's access pattern      */
    int huge_pages;                  /* read buffer in 2 MiB pages        */
    uint64_t bytes;                  /* per transfer / per reduction      */
    unsigned reps;
    struct summary3 h2d_gbps, read_gbps;
    struct summary3 copy_gbps;       /* bytes read + written per second  */
};

/* Measures the roofline of dev (one warm-up, then reps timed runs of each
 * figure).  Never fails the run: a problem lands in rl->message. */
void roofline_measure(const h5cl_device_info *dev, unsigned reps,
                      struct roofline *rl);

/* The on-device read alone, kept open so that the read-only cases measure
 * it again next to each repetition (bench_case_run.c): this machine's
 * bandwidth drifts by a quarter within a minute, so h5cl's rate over a
 * read measured seconds earlier is a noisy ratio.  NULL (err says why)
 * when it cannot be set up. */
struct roof_probe;
struct roof_probe *roof_probe_open(const h5cl_device_info *dev, char *err,
                                   size_t errlen);
/* The median of three timed reads, GB/s; -1 (err says why) on failure. */
int roof_probe_read(struct roof_probe *p, double *gbps, char *err,
                    size_t errlen);
void roof_probe_close(struct roof_probe *p);

/* ------------------------------------------------------------------------
 * bench_syrk.c: the device's SYRK rate, with CLBlast directly on a resident
 * matrix: C = A^T A for A of k rows x n columns (row-major, as h5cl's
 * tiles), in double on devices with fp64, else float, as h5cl computes.
 */
struct syrk_probe {
    int measured;                    /* 0: see message                   */
    char message[ERRLEN];
    int fp64;                        /* CLBlastDsyrk, else CLBlastSsyrk  */
    uint64_t n, k;                   /* columns, rows of A               */
    unsigned reps;
    struct summary3 seconds, gflops; /* k n (n + 1) flops per call       */
};

/* Measures SYRK of a k x n matrix on dev (one warm-up, then reps timed
 * calls).  Never fails the run: a problem lands in sp->message. */
void syrk_measure(const h5cl_device_info *dev, uint64_t n, uint64_t k,
                  unsigned reps, struct syrk_probe *sp);

/* ------------------------------------------------------------------------
 * The benchmark: configuration, rows and results.
 */
enum bench_case { CASE_STATS = 0, CASE_MAP, CASE_HIST, CASE_AXIS,
                  CASE_FUSED, CASE_COV, CASE_COUNT };
/* --case all (and a suite without --case): the streaming cases, not cov,
 * which is compute-bound (judged in GFLOP/s against the device's SYRK)
 * and wants data of its own width (COV_DEFAULT_COLS). */
#define CASES_ALL ((1u << CASE_COV) - 1)

struct bench_cfg {
    const char *file, *dataset, *dir, *device, *trace;
    uint64_t size, chunk_bytes, tile_bytes;
    h5cl_dtype dtype;          /* of generated data (--dtype)            */
    unsigned cols;             /* of generated rank-2 data (--cols)      */
    enum bench_layout layout;  /* of generated data (--layout)           */
    unsigned slots, reps;
    unsigned cases;        /* bit (1 << enum bench_case) per case to run */
    int rank, json, keep, generate_only, verbose;
    int size_given, chunk_given, rank_given, dtype_given, layout_given;
    /* --tile-bytes given (or a sweep's tile size): h5cl runs ask for
     * tile_bytes; else they take the library's default for the dataset
     * (which may differ from the context's, h5cl_ctx_run_defaults: tiles
     * mapped from the file are larger) and the ceiling follows */
    int tile_given;
    int cols_given;
    /* h5cl's defaults for the device (h5cl_ctx_run_defaults): what runs
     * use unless --tile-bytes / --slots are given, and what a sweep marks */
    uint64_t default_tile_bytes;
    unsigned default_slots;
    int hist_range_set;    /* --hist-range LO:HI                         */
    double hist_lo, hist_hi;
    struct sweep_spec sweep;   /* --sweep                                */
    int no_roofline;           /* --no-roofline                          */
    int suite;                 /* --suite                                */
    /* --figures: what the stats case computes (H5CL_FIG_*, 0: all) and
     * the names given, for the header and the rows */
    unsigned figures;
    const char *figures_text;
};

enum row_status { ROW_OK = 0, ROW_ERROR };

/* Phases of the map ceiling, timed separately (raw_copy_pass). */
enum copy_phase { PHASE_READ = 0, PHASE_WRITE, PHASE_CLOSE, PHASE_SYNC,
                  PHASE_COUNT };

/* One row of a case: its ceiling (rows[0]) or one h5cl call, measured
 * over the repetitions. */
struct row {
    const char *name;     /* JSON "row": "raw-h5dread", "h5cl-stats", ... */
    const char *label;    /* table: "raw H5Dread", "h5cl stats", ...      */
    int is_h5cl;
    enum row_status status;
    char message[ERRLEN];
    struct summary3 gbps, seconds;
    uint64_t tile_bytes, tiles;
    /* ceiling rows that time their phases (map) */
    int have_phases;
    struct summary3 phase[PHASE_COUNT];
    /* h5cl rows */
    h5cl_run_summary sum; /* last repetition                            */
    struct summary3 stage[H5CL_STAGE_COUNT], overlap, run_seconds;
    double ratio;         /* gbps median / the ceiling's gbps median      */
    /* the on-device read measured next to each repetition (roof_probe):
     * its GB/s, and this row's GB/s over it, repetition by repetition */
    int have_roof;
    struct summary3 roof_gbps, roof_ratio;
};

/* The timed repetitions of one row, before they become medians. */
struct samples {
    unsigned n;
    double seconds[MAX_REPS], gbps[MAX_REPS];
    double run_seconds[MAX_REPS], overlap[MAX_REPS];
    double stage[H5CL_STAGE_COUNT][MAX_REPS];
    double phase[PHASE_COUNT][MAX_REPS];
    double roof[MAX_REPS]; /* the repetition's on-device read, 0: none */
};

/* What the map case made and checked. */
struct map_detail {
    const char *expr;
    char out_file[PATH_MAX], ceiling_file[PATH_MAX];
    char layout[16];                 /* of h5cl's output: "chunked" ...   */
    int out_rank;
    hsize_t out_chunk[H5S_MAX_RANK];
    uint64_t bytes_written;          /* summary.bytes_written             */
    uint64_t checked_tiles, checked_values; /* per run, sampled tiles    */
};

/* One checked histogram. */
struct hist_detail {
    double lo, hi;
    int from_data;
    uint64_t nan, under, over, in_bins, max_count;
    unsigned passes;                 /* summary.bytes / dataset bytes     */
    uint64_t corrected;              /* host: values numpy's edge check
                                        moved from the floor estimate    */
};

/* What an axis or fused row checked. */
struct ro_detail {
    const char *what;                /* "axis 0", or the expression      */
    uint64_t states;                 /* states checked per run           */
    double mean_err, var_err;        /* the largest relative errors      */
    h5cl_stats_state st;             /* fused: the (one) state           */
};

/* What the cov row checked, and the device's SYRK rate beside it. */
struct cov_detail {
    uint64_t rows, cols;
    double flops;                    /* rows cols (cols + 1) per run     */
    struct summary3 gflops;          /* effective: flops / wall seconds  */
    struct syrk_probe syrk;
    unsigned pairs;                  /* off-diagonal entries checked     */
    uint64_t nan_cols;               /* columns with NaN (NaN rows+cols) */
    double mean_err, var_err, cov_err; /* largest errors (see the case)  */
    double tol;
};

struct case_result {
    enum bench_case which;
    int ran;
    struct row rows[4];              /* rows[0]: the ceiling             */
    unsigned nrows;
    /* stats */
    h5cl_stats_state st;
    double mean_err, var_err;
    int have_rss;
    struct rss_result rss;
    char rss_error[ERRLEN];
    /* map */
    struct map_detail map;
    /* hist: rows[1] a given range, rows[2] the data's range */
    uint32_t bins;
    int fp64;                        /* host reference binned in double  */
    struct hist_detail hist[2];
    /* axis, fused: rows[1 + j] */
    struct ro_detail ro[2];
    /* cov */
    struct cov_detail cov;
};

struct results {
    /* context */
    char file[PATH_MAX];
    uint64_t file_bytes;
    int generated;
    struct raw_reader rr;
    int rr_open;
    h5cl_device_info dev;
    int have_dev;
    double build_seconds;
    struct case_result cases[CASE_COUNT];
    struct roofline roof;
    struct roof_probe *probe;        /* NULL: no interleaved reads       */
    /* --sweep: one entry per combination (slots, tile bytes), each with
     * its own case results; cases[] above is then unused */
    struct sweep_point *sweep;
    unsigned nsweep;
};

/* One combination of a sweep and what its cases measured. */
struct sweep_point {
    unsigned slots;
    uint64_t tile_bytes;             /* requested                        */
    int is_default;                  /* h5cl's defaults for the device   */
    struct case_result cases[CASE_COUNT];
};

/* What a case gets: the context and dataset (NULL when h5cl could not be
 * set up: then h5cl_error says why, and only the ceiling is measured). */
struct case_env {
    const struct bench_cfg *cfg;
    struct results *res;
    h5cl_ctx *ctx;
    h5cl_dataset *ds;
    const char *h5cl_error;
};

/* bench_util.c: rows and their samples. */
const char *case_name(enum bench_case c);
/* "read", "write", "close", "fsync" */
const char *phase_name(enum copy_phase p);
/* Zeroes cr and names the rows of case c (marks it as run). */
void case_init(struct case_result *cr, enum bench_case c);
/* One repetition: wall seconds for `bytes` of input; sum (may be NULL)
 * is an h5cl run's summary, phase (may be NULL) a ceiling's phases. */
void samples_add(struct samples *s, double wall, uint64_t bytes,
                 const h5cl_run_summary *sum, const double *phase);
void row_finish(struct row *r, const struct samples *s);
/* Marks the row failed with msg unless it already holds a message. */
void row_error(struct row *r, const char *msg);
/* The trace file of a case: cfg->trace, with "-CASE" before the
 * extension when more than one case runs. */
const char *trace_path_for(const struct bench_cfg *cfg, enum bench_case c,
                           char *buf, size_t len);

/* The cases, on a case_result that case_init() prepared: warm-up of each
 * row, then --reps alternating timed repetitions.  Each returns -1 when it
 * could not measure its ceiling (or was interrupted), else 0 (h5cl rows
 * may still be errors). */
int case_stats(const struct case_env *env, struct case_result *cr);
int case_map(const struct case_env *env, struct case_result *cr);
int case_hist(const struct case_env *env, struct case_result *cr);
int case_axis(const struct case_env *env, struct case_result *cr);
int case_fused(const struct case_env *env, struct case_result *cr);
int case_cov(const struct case_env *env, struct case_result *cr);

/* ------------------------------------------------------------------------
 * bench_ref.c: host reference statistics and the check of h5cl's states.
 */
struct ref_stats {
    uint64_t count, nan_count;
    double mean, m2, min, max;
    uint64_t argmin, argmax;
};

/* Adds n values of type dt from buf: the k-th is element off + k * stride,
 * with index idx0 + k (argmin/argmax). */
void ref_add_segment(struct ref_stats *ref, h5cl_dtype dt, const void *buf,
                     size_t off, size_t stride, size_t n, uint64_t idx0);
h5cl_kind kind_of(h5cl_dtype dt);
/* Checks st against ref: kind, count + nan_count == elements, counts,
 * min/max and their indices exactly (minmax_tol 0) or within minmax_tol
 * relative (indices unchecked: rounding may move ties), mean and variance
 * within TOL_MEAN / TOL_VAR; mean_err and var_err get the errors. */
int ref_check(const h5cl_stats_state *st, const struct ref_stats *ref,
              h5cl_kind kind, uint64_t elements, double minmax_tol,
              double *mean_err, double *var_err, char *err);

/* ------------------------------------------------------------------------
 * bench_case_run.c: the run of the read-only cases (stats, axis, fused,
 * cov):
 * raw warm-up with the reference, checked h5cl warm-ups, alternating
 * repetitions, the traced run.
 */
#define RO_MAX_ROWS 3

struct ro_case {
    unsigned nrows;                  /* h5cl rows: cr->rows[1..nrows]     */
    uint64_t inputs[RO_MAX_ROWS];    /* datasets each row reads           */
    /* The reference, from raw passes over rr's current tiles. */
    int (*reference)(const struct case_env *env, struct case_result *cr,
                     void *user, char *err);
    /* One h5cl run of row j with opts (tile size, slots, trace), checked
     * against the reference; -1 with a message when it fails either. */
    int (*run)(const struct case_env *env, struct case_result *cr,
               void *user, unsigned j, const h5cl_run_options *opts,
               h5cl_run_summary *sum_ret, double *wall_ret, char *err);
};

int case_run_read_only(const struct case_env *env, struct case_result *cr,
                       const struct ro_case *rc, void *user);

/* bench_sweep.c, the run: every chosen case at every combination, on the
 * one context (fills res->sweep); run[] holds the case functions. */
typedef int (*case_fn)(const struct case_env *env, struct case_result *cr);
int sweep_run(const struct case_env *env, const case_fn run[CASE_COUNT],
              char *err);
void sweep_print_table(const struct bench_cfg *cfg,
                       const struct results *res);
void sweep_print_json(const struct bench_cfg *cfg,
                      const struct results *res);

/* h5cl-bench.c, for the suite: one file's run on a shared context. */
/* Finds or makes the data file of cfg; sets res->file and res->generated. */
int bench_prepare_file(const struct bench_cfg *cfg, struct results *res,
                       char *err);
/* Opens the context on cfg's device, builds the programs and measures the
 * roofline into res; *ctx_ret may be set even on failure (err says why). */
int bench_ctx_open(const struct bench_cfg *cfg, struct results *res,
                   h5cl_ctx **ctx_ret, char *err);
/* Opens res->file (HDF5 and h5cl, on ctx) and runs the chosen cases (or
 * the sweep); ctx_error non-empty when ctx could not be set up. */
void bench_run_file(const struct bench_cfg *cfg, struct results *res,
                    h5cl_ctx *ctx, const char *ctx_error);
int roofline_ok(const struct bench_cfg *cfg, const struct results *res);
/* 1 when every row of every case ran ok (and, with need_rss, the stats
 * case has its peak RSS). */
int cases_ok(const struct bench_cfg *cfg, const struct results *res,
             int need_rss);

/* bench_suite.c: --suite, the chosen cases over dtypes x layouts on one
 * context, one table (or JSON rows with a "suite" object). */
int suite_main(const struct bench_cfg *cfg);

/* bench_report.c */
void print_table(const struct bench_cfg *cfg, const struct results *res);
void print_json(const struct bench_cfg *cfg, const struct results *res);
/* The lines that name the program, the device and its roofline. */
void print_device_header(const struct results *res);
/* The table's header lines (program, device, roofline, file, dataset). */
void print_header(const struct bench_cfg *cfg, const struct results *res);
/* The JSON rows of one case run with cfg; extra (may be NULL) is a JSON
 * fragment (",\"key\":value...") added to each row. */
void print_json_case(const struct bench_cfg *cfg, const struct results *res,
                     const struct case_result *cr, const char *extra);
/* The stats row's roofline bound: min(raw H5Dread ceiling, H2D unless the
 * run was zero-copy, on-device read); NaN when not measured.  which_ret
 * names the limiting figure. */
double roofline_bound(const struct results *res, const struct case_result *cr,
                      const char **which_ret);

#endif /* H5CL_BENCH_H */
