/*
 * Shared helpers of the h5cl unit tests: the suite list, per-test fixtures
 * (temporary directory, context), a fixed-seed PRNG, typed host arrays, an
 * HDF5 writer for test files, and an independent host reference for every
 * statistic (long double and 128-bit integer arithmetic).
 *
 * Check forks once per test.  Nothing here touches OpenCL before the fork:
 * contexts are made in checked fixtures or in the tests themselves.
 * Assertion helpers fail the calling test through Check; their messages
 * carry a caller-given description of the case.
 */
#ifndef H5CL_CHECK_UTIL_H
#define H5CL_CHECK_UTIL_H

#include <check.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "h5cl.h"

/* One suite per tests/check_<area>.c; check_main.c runs them all. */
Suite *util_suite(void);
Suite *state_suite(void);
Suite *errors_suite(void);
Suite *device_suite(void);
Suite *dataset_suite(void);
Suite *stats_suite(void);
Suite *axis_suite(void);
Suite *run_suite(void);
Suite *expr_suite(void);
Suite *map_suite(void);
Suite *hist_suite(void);
Suite *cf_suite(void);
Suite *direct_suite(void);
Suite *cov_suite(void);
Suite *guard_suite(void);
Suite *scale_suite(void);
Suite *isolate_suite(void);
Suite *slots_suite(void);
Suite *figures_suite(void);

/* Seconds per test; generous because a cold PoCL build can be slow. */
#define TU_TIMEOUT 180

/* ---- temporary files ------------------------------------------------ */

/* The runner's root directory ($TMPDIR or /tmp), made before any fork and
 * removed when the runner ends, so failed tests leave nothing behind. */
int tu_tmp_root_create(void);
void tu_tmp_root_remove(void);

/* Checked fixtures.  tu_setup makes a fresh per-test directory (mkdtemp);
 * tu_teardown runs the deferred cleanups and removes the directory.
 * tu_ctx_setup also makes tu_ctx and fills tu_dev from the default device. */
void tu_setup(void);
void tu_teardown(void);
void tu_ctx_setup(void);
void tu_ctx_teardown(void);

extern h5cl_ctx *tu_ctx;
extern h5cl_device_info tu_dev;

const char *tu_dir(void);
/* "<per-test dir>/<name>", in one of 64 rotating static buffers: copy it
 * if it must outlive many more calls. */
const char *tu_path(const char *name);

/* Cleanups run last-in first-out by tu_teardown (and tu_release). */
void tu_defer(void (*fn)(void *), void *p);
/* Runs and forgets the cleanup registered for p. */
void tu_release(void *p);
void *tu_alloc(size_t nbytes); /* zeroed, freed at teardown */
/* Sets (value NULL: unsets) an environment variable for this test only:
 * the previous value comes back at teardown, since the runner may not
 * fork (CK_FORK=no, as make memcheck runs it). */
void tu_setenv(const char *name, const char *value);
/* Whether each test runs in a child of its own (CK_FORK unset or not
 * "no"); tests that need a process without earlier OpenCL or resource
 * limits they set skip themselves otherwise. */
int tu_runner_forks(void);

/* ---- PRNG (splitmix64) ---------------------------------------------- */

typedef struct tu_rng {
    uint64_t state;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_u64(tu_rng *r);
uint64_t tu_rng_below(tu_rng *r, uint64_t n); /* [0, n), n > 0 */
int64_t tu_rng_range(tu_rng *r, int64_t lo, int64_t hi); /* [lo, hi] */
double tu_rng_unit(tu_rng *r);                           /* [0, 1) */

/* ---- typed host arrays ---------------------------------------------- */

typedef struct tu_array {
    h5cl_dtype dtype;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    uint64_t n;
    void *data; /* n native elements, C order */
} tu_array;

/* Zero-filled; the buffer is freed at teardown. */
void tu_array_init(tu_array *a, h5cl_dtype dtype, int rank,
                   const uint64_t *dims);

int tu_dtype_is_float(h5cl_dtype dtype);
int tu_dtype_is_signed(h5cl_dtype dtype);
h5cl_kind tu_dtype_kind(h5cl_dtype dtype);
int64_t tu_dtype_min_i(h5cl_dtype dtype); /* integer dtypes */
int64_t tu_dtype_max_i(h5cl_dtype dtype); /* signed dtypes */
uint64_t tu_dtype_max_u(h5cl_dtype dtype); /* unsigned dtypes */

double tu_get_f(const tu_array *a, uint64_t i);
int64_t tu_get_i(const tu_array *a, uint64_t i);
uint64_t tu_get_u(const tu_array *a, uint64_t i);
void tu_set_f(tu_array *a, uint64_t i, double v);
void tu_set_i(tu_array *a, uint64_t i, int64_t v);
void tu_set_u(tu_array *a, uint64_t i, uint64_t v);
/* Sets element i from a double: floats directly, integers by conversion. */
void tu_set_d(tu_array *a, uint64_t i, double v);

/* Random values suited to the dtype: 8/16/32-bit integers over their full
 * range, 64-bit ones within +-2^44 (sums cannot overflow), floats in
 * [-50, 150) (a mean far from zero); nan_fraction of float elements NaN. */
void tu_fill_random(tu_array *a, tu_rng *r, double nan_fraction);
/* Plants the minimum and the maximum twice each at random positions other
 * than 0 (below/above every other value), so a correct argmin/argmax is the
 * first of the two. */
void tu_plant_extrema(tu_array *a, tu_rng *r);

/* ---- HDF5 test files ------------------------------------------------ */

typedef struct tu_write_opts {
    int big_endian;
    h5cl_layout layout;            /* COMPACT, CONTIGUOUS or CHUNKED      */
    uint64_t chunk[H5CL_MAX_RANK]; /* CHUNKED: 0 entries chosen (<= 7)    */
    int gzip;                      /* deflate level, 0: none              */
    int shuffle;
    int fletcher32;
    int unlimited;                 /* CHUNKED: maxdims H5S_UNLIMITED      */
    int has_fill;                  /* fill value set to `fill`            */
    double fill;
    int64_t write_rows;            /* < 0: write everything; else only the
                                      first write_rows along axis 0       */
    uint64_t userblock;            /* a new file's userblock bytes (0, or
                                      a power of two >= 512)              */
} tu_write_opts;

/* Contiguous, little-endian, no filters, write everything. */
void tu_write_opts_init(tu_write_opts *o);
/* Writes `a` as dataset `path` (intermediate groups made) into `file`,
 * created if it does not exist.  When only part is written, the elements
 * left unwritten in `a` are replaced by what a reader sees (the fill
 * value, else 0), so `a` stays the reference.  Fails the test on error. */
void tu_write(const char *file, const char *path, tu_array *a,
              const tu_write_opts *o);
/* Writes a dataset of a non-numeric type: "compound", "string",
 * "vlen-string", "enum", "opaque" or "array". */
void tu_write_special(const char *file, const char *path, const char *what);
/* Makes an empty group (and its parents). */
void tu_write_group(const char *file, const char *path);
/* Reads the whole dataset at `path` of `file` (any numeric type, either
 * byte order) into a, whose dtype, rank and dims become the dataset's
 * (the buffer is freed at teardown).  Fails the test on error. */
void tu_read(const char *file, const char *path, tu_array *a);

/* ---- reference statistics ------------------------------------------- */

typedef struct tu_sel {
    int rank;
    uint64_t start[H5CL_MAX_RANK];
    uint64_t count[H5CL_MAX_RANK];
} tu_sel;

void tu_sel_all(tu_sel *s, const tu_array *a);
/* numpy normalisation of one "start:stop" (has_* 0 for an omitted part). */
void tu_sel_axis(tu_sel *s, int axis, uint64_t dim, int has_start,
                 int64_t start, int has_stop, int64_t stop);

typedef struct tu_ref {
    h5cl_kind kind;
    uint64_t count;
    uint64_t nan_count;
    int overflow;       /* the integer total leaves the 64-bit type     */
    __int128 isum;      /* integer kinds: the exact total               */
    long double fsum;   /* all kinds                                    */
    long double fcomp;  /* (internal) compensation while summing        */
    long double abssum; /* sum of |x|: the scale of rounding errors     */
    long double mean;   /* NaN when count == 0                          */
    long double var;    /* ddof 0; NaN when count == 0                  */
    h5cl_scalar min;
    h5cl_scalar max;
    uint64_t argmin;
    uint64_t argmax;
} tu_ref;

/* Reduces the selection of `a` (all when sel is NULL) over `axis` (-1:
 * everything).  Returns *nout states (freed at teardown) and the result
 * shape (rank 0 for the whole selection). */
tu_ref *tu_reference(const tu_array *a, const tu_sel *sel, int axis,
                     size_t *nout, int *out_rank, uint64_t *out_dims);

typedef struct tu_tol {
    double sum_rel;   /* sum and mean                                   */
    double var_rel;
    double var_floor; /* absolute var tolerance, in units of mean(|x|)^2:
                         rounding of a zero variance (eps^2 scale)      */
} tu_tol;

/* 1e-12 / 1e-9 with fp64, 1e-6 / 1e-4 without; the sum and mean tolerance
 * is relative to max(|value|, the same figure over |x|). */
tu_tol tu_tolerance(const h5cl_device_info *dev);

/* Asserts that a state equals the reference: kind, counts, overflow,
 * exact integer totals (sum + sum_hi * 2^64, overflow exactly when
 * sum_hi != 0, derived sum the total rounded once), min/max/argmin/argmax
 * exactly, float sum/mean/var within tol, derived figures (NaN where
 * undefined). */
void tu_check_state(const h5cl_stats_state *got, const tu_ref *want,
                    tu_tol tol, const char *what);
/* Asserts count, shape and every state of a result. */
void tu_check_stats(const h5cl_stats *stats, const tu_ref *want, size_t n,
                    int rank, const uint64_t *dims, tu_tol tol,
                    const char *what);

/* ---- library shortcuts (assert success, cleanup deferred) ------------ */

h5cl_dataset *tu_open(h5cl_ctx *ctx, const char *file, const char *path);
h5cl_stats *tu_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                       const char *what);
/* Computes with opts and checks against the reference of (a, sel,
 * opts->axis).  sel NULL: everything. */
void tu_compute_check(h5cl_dataset *ds, const h5cl_run_options *opts,
                      const tu_array *a, const tu_sel *sel, tu_tol tol,
                      const char *what);

/* ---- odds and ends -------------------------------------------------- */

int tu_contains_ci(const char *hay, const char *needle);
/* A progress callback (h5cl_progress_fn) that truncates the file named by
 * user to 4096 bytes when the first tile is done: a file shrinking under
 * a run in flight. */
int tu_truncate_at_first_tile(uint64_t done, uint64_t total, uint64_t bytes,
                              void *user);
/* Decimal text of v in buf (at least 42 bytes); returns buf. */
const char *tu_i128_str(__int128 v, char *buf);
/* Whole file, NUL-terminated, freed at teardown; NULL if unreadable. */
char *tu_read_file(const char *path, size_t *nbytes_ret);
/* Strict JSON syntax check of a whole text. */
int tu_json_valid(const char *text, size_t n);
/* Redirects stdout and stderr to a file until tu_capture_end, which
 * returns the bytes written meanwhile (NUL-terminated, freed at teardown). */
void tu_capture_begin(void);
char *tu_capture_end(void);
double tu_now(void); /* monotonic seconds */

#endif /* H5CL_CHECK_UTIL_H */
