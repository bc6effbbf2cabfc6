/*
 * h5cl-bench: measures h5cl_stats_compute against the raw H5Dread ceiling
 * on the same file, the same tiles and the same page-cache state, and writes
 * the sample file that `make demo` uses.
 *
 *   h5cl-bench --make-sample FILE [--size 384M]
 *   h5cl-bench [--file F] [--size 4G] [--chunk-bytes 8M] [--tile-bytes B]
 *              [--slots K] [--reps N] [--device D] [--json] [--keep] ...
 *
 * Method (after clpeak): one warm-up of each case (page cache, program
 * cache), then --reps alternating timed repetitions; medians and min-max.
 * Every row names the device, driver, h5cl version and layout, and carries
 * a status, so a failed case is still reported.  A run whose result does not
 * match the reference statistics (taken from the raw warm-up pass) is an
 * error, never a figure.  Peak RSS is measured in a fresh process (fork and
 * exec of this program) that does one h5cl run and nothing else.
 *
 * Only the public h5cl API and the HDF5 C API are used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5cl.h"

#define BENCH_NAME "h5cl-bench"
#define JSON_FORMAT_VERSION 1
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
#define GAUSS_BITS 16
#define NAN_ONE_IN 4 /* one block in NAN_ONE_IN gets one NaN */

#define DEFAULT_SIZE (4 * GIB)
#define DEFAULT_SAMPLE_SIZE (384 * MIB)
#define DEFAULT_CHUNK_BYTES (8 * MIB)
#define DEFAULT_TILE_BYTES (8 * MIB)
#define DEFAULT_SLOTS 3
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

/* ------------------------------------------------------------------------
 * Small helpers: errors, time, sizes.
 */
static volatile sig_atomic_t g_interrupted;
static h5cl_ctx *volatile g_ctx;         /* cancelled on SIGINT/SIGTERM  */
static char g_tmp_path[PATH_MAX + 32];   /* unlinked on SIGINT/SIGTERM   */
static volatile sig_atomic_t g_tmp_active;
static const char *g_self = "/proc/self/exe"; /* this program, for exec   */

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
    if (g_tmp_active)
        unlink(g_tmp_path);
    if (g_ctx)
        h5cl_cancel(g_ctx);
}

/* First Ctrl-C asks to stop cleanly; a second one kills (SA_RESETHAND). */
static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

__attribute__((format(printf, 2, 3))) static int fail(char *err,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, ERRLEN, fmt, ap);
    va_end(ap);
    return -1;
}

static herr_t h5e_innermost(unsigned n, const H5E_error2_t *e, void *user)
{
    char *buf = user;
    if (n == 0 && e && e->desc)
        snprintf(buf, 256, "%s: %s", e->func_name ? e->func_name : "?",
                 e->desc);
    return 0;
}

/* "CALL failed (innermost HDF5 error)" for a failed HDF5 call. */
__attribute__((format(printf, 2, 3))) static int hdf5_fail(char *err,
                                                           const char *fmt,
                                                           ...)
{
    char what[512], why[256] = "no HDF5 error recorded";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5e_innermost, why);
    H5Eclear2(H5E_DEFAULT);
    return fail(err, "%s failed (%s)", what, why);
}

static int h5cl_fail(char *err, h5cl_ctx *ctx, const char *call, int status)
{
    const char *msg = ctx ? h5cl_ctx_errmsg(ctx) : "";
    return fail(err, "%s: %s%s%s", call, h5cl_errname(status),
                msg && *msg ? ": " : "", msg && *msg ? msg : "");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Parses "4G", "384M", "8MiB", "512k", "4096": K/M/G/T are powers of 1024.
 * Returns 0 and *bytes_ret, or -1. */
static int parse_size(const char *text, uint64_t *bytes_ret)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text)
        return -1;
    switch (*end) {
    case 'k': case 'K': mul = KIB; end++; break;
    case 'm': case 'M': mul = MIB; end++; break;
    case 'g': case 'G': mul = GIB; end++; break;
    case 't': case 'T': mul = GIB * 1024; end++; break;
    default: break;
    }
    if (mul > 1 && *end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    if (v > UINT64_MAX / mul)
        return -1;
    *bytes_ret = (uint64_t)v * mul;
    return 0;
}

static int parse_uint(const char *text, unsigned lo, unsigned hi,
                      unsigned *ret)
{
    char *end;
    unsigned long v;
    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

/* "4.00 GiB" */
static const char *fmt_bytes(char *buf, size_t len, uint64_t n)
{
    if (n >= GIB)
        snprintf(buf, len, "%.2f GiB", (double)n / (double)GIB);
    else if (n >= MIB)
        snprintf(buf, len, "%.2f MiB", (double)n / (double)MIB);
    else if (n >= KIB)
        snprintf(buf, len, "%.2f KiB", (double)n / (double)KIB);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
}

/* "4GiB", exact, for file names: "8MiB", "1536KiB", "1000B". */
static const char *fmt_bytes_exact(char *buf, size_t len, uint64_t n)
{
    if (n && n % GIB == 0)
        snprintf(buf, len, "%" PRIu64 "GiB", n / GIB);
    else if (n && n % MIB == 0)
        snprintf(buf, len, "%" PRIu64 "MiB", n / MIB);
    else if (n && n % KIB == 0)
        snprintf(buf, len, "%" PRIu64 "KiB", n / KIB);
    else
        snprintf(buf, len, "%" PRIu64 "B", n);
    return buf;
}

/* "[1073741824]" or "[98304 x 1024]" */
static const char *fmt_dims(char *buf, size_t len, int rank,
                            const hsize_t *dims)
{
    size_t off = 0;
    off += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64,
                                i ? " x " : "", (uint64_t)dims[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct summary3 {
    double median, min, max;
};

static struct summary3 summarize(const double *v, unsigned n)
{
    struct summary3 s = { NAN, NAN, NAN };
    double tmp[1024];
    if (n == 0 || n > 1024)
        return s;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    s.min = tmp[0];
    s.max = tmp[n - 1];
    s.median = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    return s;
}

/* Reads "KEY:   1234 kB" from /proc/self/status; 0 if absent. */
static uint64_t proc_status_kib(const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    uint64_t v = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* ------------------------------------------------------------------------
 * Value field for generated data: a smooth field (slow waves along rows,
 * a cosine across columns, a faster ripple) plus Gaussian noise, rows of
 * FIELD_WIDTH values over a flat index, and a few NaNs.  Each block's noise
 * comes from its own counter-seeded stream, so the file is the same
 * whatever order blocks are written in.
 */
struct field {
    uint64_t width;       /* row length of the field (<= FIELD_WIDTH)     */
    uint64_t rows;        /* rows the field spans (sets the wavelengths)  */
    uint64_t seed;
    double base, amp, ripple, noise;
    unsigned nan_one_in;  /* 0: no NaNs                                   */
    float col[FIELD_WIDTH];
    float *gauss;         /* 1 << GAUSS_BITS samples of N(0, 1)           */
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t x)
{
    return splitmix64(&x);
}

static int field_init(struct field *f, uint64_t width, uint64_t rows,
                      uint64_t seed, char *err)
{
    const double two_pi = 6.283185307179586;
    size_t ng = (size_t)1 << GAUSS_BITS;
    uint64_t s = seed;

    f->width = width;
    f->rows = rows ? rows : 1;
    f->seed = seed;
    for (uint64_t c = 0; c < width; c++)
        f->col[c] = (float)cos(two_pi * 3.0 * (double)c / (double)width);
    f->gauss = malloc(ng * sizeof *f->gauss);
    if (!f->gauss)
        return fail(err, "out of memory (noise table)");
    for (size_t i = 0; i < ng; i += 2) { /* Box-Muller */
        double u1 = ((double)(splitmix64(&s) >> 11) + 1.0) * 0x1p-53;
        double u2 = (double)(splitmix64(&s) >> 11) * 0x1p-53;
        double r = sqrt(-2.0 * log(u1));
        f->gauss[i] = (float)(r * cos(two_pi * u2));
        f->gauss[i + 1] = (float)(r * sin(two_pi * u2));
    }
    return 0;
}

static void field_free(struct field *f)
{
    free(f->gauss);
    f->gauss = NULL;
}

/* Smooth part of row r: value = base + a * col[c] + b. */
static void field_row(const struct field *f, uint64_t r, float *a, float *b)
{
    const double two_pi = 6.283185307179586;
    double u = ((double)r + 0.5) / (double)f->rows;
    *a = (float)(f->amp * sin(two_pi * 2.0 * u + 0.3));
    *b = (float)(f->base + f->ripple * sin(two_pi * 40.0 * u));
}

typedef size_t (*fill_fn)(const struct field *f, void *out, uint64_t flat0,
                          size_t n, uint64_t block);

/* The loop shared by the float and int16 fills: STORE puts the value v_
 * into element i of the output. */
#define FIELD_LOOP(STORE)                                                    \
    do {                                                                     \
        uint64_t s_ = f->seed ^ mix64(block + 1), bits_ = 0;                 \
        uint64_t r_ = flat0 / f->width, c_ = flat0 % f->width;               \
        unsigned nbits_ = 0;                                                 \
        float a_, b_;                                                        \
        field_row(f, r_, &a_, &b_);                                          \
        for (size_t i = 0; i < n; i++) {                                     \
            float g_, v_;                                                    \
            if (nbits_ == 0) {                                               \
                bits_ = splitmix64(&s_);                                     \
                nbits_ = 64 / GAUSS_BITS;                                    \
            }                                                                \
            g_ = f->gauss[bits_ & (((uint64_t)1 << GAUSS_BITS) - 1)];        \
            bits_ >>= GAUSS_BITS;                                            \
            nbits_--;                                                        \
            v_ = b_ + a_ * f->col[c_] + (float)f->noise * g_;                \
            STORE;                                                           \
            if (++c_ == f->width) {                                          \
                c_ = 0;                                                      \
                field_row(f, ++r_, &a_, &b_);                                \
            }                                                                \
        }                                                                    \
    } while (0)

/* float32 values; returns the number of NaNs placed. */
static size_t fill_f32(const struct field *f, void *out, uint64_t flat0,
                       size_t n, uint64_t block)
{
    float *p = out;
    uint64_t h;
    FIELD_LOOP(p[i] = v_);
    h = mix64(f->seed ^ UINT64_C(0x4e614e) ^ (block * 0x100000001b3));
    if (f->nan_one_in && n && h % f->nan_one_in == 0) {
        p[(h >> 16) % n] = NAN;
        return 1;
    }
    return 0;
}

/* int16 counts (rounded, clipped to [0, 32767]). */
static size_t fill_i16(const struct field *f, void *out, uint64_t flat0,
                       size_t n, uint64_t block)
{
    int16_t *p = out;
    FIELD_LOOP({
        long q = lrintf(v_);
        p[i] = (int16_t)(q < 0 ? 0 : q > 32767 ? 32767 : q);
    });
    return 0;
}

/* ------------------------------------------------------------------------
 * Writing files: chunk-aligned blocks with H5Dwrite on hyperslabs, into a
 * temporary file in the destination directory that is renamed into place.
 */
static int attr_write(hid_t obj, const char *name, hid_t type,
                      const void *value, char *err)
{
    hid_t space = -1, attr = -1;
    int rc = -1;
    if ((space = H5Screate(H5S_SCALAR)) < 0) {
        hdf5_fail(err, "H5Screate");
        goto out;
    }
    if ((attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT,
                           H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "H5Acreate2(%s)", name);
        goto out;
    }
    if (H5Awrite(attr, type, value) < 0) {
        hdf5_fail(err, "H5Awrite(%s)", name);
        goto out;
    }
    rc = 0;
out:
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int attr_write_u64(hid_t obj, const char *name, uint64_t v, char *err)
{
    return attr_write(obj, name, H5T_NATIVE_UINT64, &v, err);
}

static int attr_write_str(hid_t obj, const char *name, const char *s,
                          char *err)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    int rc;
    if (type < 0)
        return hdf5_fail(err, "H5Tcopy");
    if (H5Tset_size(type, strlen(s) + 1) < 0 ||
        H5Tset_strpad(type, H5T_STR_NULLTERM) < 0) {
        H5Tclose(type);
        return hdf5_fail(err, "H5Tset_size");
    }
    rc = attr_write(obj, name, type, s, err);
    H5Tclose(type);
    return rc;
}

/* Returns 0 and the value, or -1 when absent or not an integer. */
static int attr_read_u64(hid_t obj, const char *name, uint64_t *v)
{
    hid_t attr;
    herr_t st;
    if (H5Aexists(obj, name) <= 0)
        return -1;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0)
        return -1;
    st = H5Aread(attr, H5T_NATIVE_UINT64, v);
    H5Aclose(attr);
    return st < 0 ? -1 : 0;
}

struct gen_dataset {
    const char *name;
    hid_t file_type, mem_type;
    size_t elsize;
    int rank;
    hsize_t dims[2], chunk[2]; /* chunk[1] == dims[1]: block == chunk     */
    const struct field *field;
    fill_fn fill;
    const char *description, *units;
    size_t nan_count;          /* out                                     */
};

static void progress_line(const char *what, uint64_t done, uint64_t total,
                          double t0, int final)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\r%s: %5.1f%% (%.1f s)%s", what,
            total ? 100.0 * (double)done / (double)total : 100.0,
            now_seconds() - t0, final ? "\n" : "");
    fflush(stderr);
}

/* Writes one chunked dataset block by block (a block = one row of chunks,
 * which in our files is exactly one chunk). */
static int gen_write_dataset(hid_t file, struct gen_dataset *g, char *err)
{
    hid_t dcpl = -1, dapl = -1, space = -1, mspace = -1, dset = -1;
    uint64_t rowlen = g->rank == 2 ? g->dims[1] : 1;
    uint64_t nblocks = (g->dims[0] + g->chunk[0] - 1) / g->chunk[0];
    size_t block_elems = (size_t)(g->chunk[0] * rowlen);
    void *buf = NULL;
    double t0 = now_seconds(), tlast = t0;
    int rc = -1;

    g->nan_count = 0;
    if (!(buf = malloc(block_elems * g->elsize))) {
        fail(err, "out of memory (%zu-byte block buffer)",
             block_elems * g->elsize);
        goto out;
    }
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        H5Pset_chunk(dcpl, g->rank, g->chunk) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        hdf5_fail(err, "dataset creation properties for %s", g->name);
        goto out;
    }
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        hdf5_fail(err, "dataset access properties for %s", g->name);
        goto out;
    }
    if ((space = H5Screate_simple(g->rank, g->dims, NULL)) < 0) {
        hdf5_fail(err, "H5Screate_simple");
        goto out;
    }
    if ((dset = H5Dcreate2(file, g->name, g->file_type, space, H5P_DEFAULT,
                           dcpl, dapl)) < 0) {
        hdf5_fail(err, "H5Dcreate2(%s)", g->name);
        goto out;
    }
    for (uint64_t b = 0; b < nblocks; b++) {
        hsize_t start[2] = { b * g->chunk[0], 0 };
        hsize_t count[2] = { g->chunk[0], rowlen };
        if (start[0] + count[0] > g->dims[0])
            count[0] = g->dims[0] - start[0];
        if (g_interrupted) {
            fail(err, "interrupted");
            goto out;
        }
        g->nan_count += g->fill(g->field, buf, start[0] * rowlen,
                                (size_t)(count[0] * rowlen), b);
        if ((mspace = H5Screate_simple(g->rank, count, NULL)) < 0 ||
            H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count,
                                NULL) < 0) {
            hdf5_fail(err, "selecting block %" PRIu64 " of %s", b, g->name);
            goto out;
        }
        if (H5Dwrite(dset, g->mem_type, mspace, space, H5P_DEFAULT, buf) <
            0) {
            hdf5_fail(err, "H5Dwrite(%s, block %" PRIu64 ")", g->name, b);
            goto out;
        }
        H5Sclose(mspace);
        mspace = -1;
        if (now_seconds() - tlast > 0.5) {
            tlast = now_seconds();
            progress_line(g->name, b + 1, nblocks, t0, 0);
        }
    }
    progress_line(g->name, nblocks, nblocks, t0, 1);
    if (attr_write_u64(dset, "h5cl_bench_generator", GEN_VERSION, err) ||
        attr_write_u64(dset, "h5cl_bench_seed", g->field->seed, err) ||
        attr_write_str(dset, "description", g->description, err) ||
        attr_write_str(dset, "units", g->units, err))
        goto out;
    rc = 0;
out:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    free(buf);
    return rc;
}

/* Creates PATH atomically: writes every dataset into PATH.tmp-XXXXXX in the
 * same directory, syncs it (so write-back does not run during the timed
 * passes, and a crash never leaves a torn file under the final name), then
 * renames it into place. */
static int create_file_atomically(const char *path, struct gen_dataset *sets,
                                  size_t nsets, char *err)
{
    hid_t file = -1;
    int fd = -1, rc = -1;
    mode_t mask;

    if (snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp-XXXXXX", path) >=
        (int)sizeof g_tmp_path)
        return fail(err, "path too long: %s", path);
    if ((fd = mkstemp(g_tmp_path)) < 0)
        return fail(err, "cannot create a temporary file next to %s: %s",
                    path, strerror(errno));
    g_tmp_active = 1;
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) < 0) {
        fail(err, "chmod %s: %s", g_tmp_path, strerror(errno));
        goto out;
    }
    if ((file = H5Fcreate(g_tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT,
                          H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "H5Fcreate(%s)", g_tmp_path);
        goto out;
    }
    if (attr_write_str(file, "generator", BENCH_NAME " (h5cl "
                       H5CL_VERSION_STRING ")", err))
        goto out;
    for (size_t i = 0; i < nsets; i++)
        if (gen_write_dataset(file, &sets[i], err))
            goto out;
    if (H5Fclose(file) < 0) {
        file = -1;
        hdf5_fail(err, "H5Fclose(%s)", g_tmp_path);
        goto out;
    }
    file = -1;
    if (fsync(fd) < 0) {
        fail(err, "fsync %s: %s", g_tmp_path, strerror(errno));
        goto out;
    }
    if (rename(g_tmp_path, path) < 0) {
        fail(err, "rename %s to %s: %s", g_tmp_path, path, strerror(errno));
        goto out;
    }
    g_tmp_active = 0;
    rc = 0;
out:
    if (file >= 0)
        H5Fclose(file);
    if (fd >= 0)
        close(fd);
    if (g_tmp_active) {
        g_tmp_active = 0;
        unlink(g_tmp_path);
    }
    return rc;
}

static int check_free_space(const char *path, uint64_t need, char *err)
{
    char dir[PATH_MAX];
    char *slash;
    struct statvfs vfs;
    char b1[32], b2[32];

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (statvfs(dir, &vfs) < 0)
        return fail(err, "statvfs %s: %s", dir, strerror(errno));
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < need)
        return fail(err, "not enough free space in %s: need %s, have %s", dir,
                    fmt_bytes(b1, sizeof b1, need),
                    fmt_bytes(b2, sizeof b2,
                              (uint64_t)vfs.f_bavail * vfs.f_frsize));
    return 0;
}

/* --make-sample: /data float32 rows x 1024 in 1 MiB chunks (256 rows), and
 * /counts int16 rows x 64. */
static int make_sample(const char *path, uint64_t size, char *err)
{
    struct field data_field, count_field;
    struct gen_dataset sets[2];
    uint64_t rows = size / (FIELD_WIDTH * sizeof(float));
    char d1[64], d2[64], d3[64], b1[32];
    double t0 = now_seconds();
    int rc = -1;

    memset(&data_field, 0, sizeof data_field);
    memset(&count_field, 0, sizeof count_field);
    if (field_init(&data_field, FIELD_WIDTH, rows, GEN_SEED, err) ||
        field_init(&count_field, SAMPLE_COUNTS_COLS, rows, GEN_SEED + 1,
                   err))
        goto out;
    /* a temperature-like field in degrees C, noise sigma 0.8 */
    data_field.base = 15.0;
    data_field.amp = 6.0;
    data_field.ripple = 1.5;
    data_field.noise = 0.8;
    data_field.nan_one_in = NAN_ONE_IN;
    /* detector-like counts around 200 */
    count_field.base = 200.0;
    count_field.amp = 120.0;
    count_field.ripple = 20.0;
    count_field.noise = 15.0;

    memset(sets, 0, sizeof sets);
    sets[0] = (struct gen_dataset){
        .name = "/data", .file_type = H5T_IEEE_F32LE,
        .mem_type = H5T_NATIVE_FLOAT, .elsize = sizeof(float), .rank = 2,
        .dims = { rows, FIELD_WIDTH },
        .chunk = { rows < SAMPLE_CHUNK_ROWS ? rows : SAMPLE_CHUNK_ROWS,
                   FIELD_WIDTH },
        .field = &data_field, .fill = fill_f32,
        .description = "smooth field plus Gaussian noise, a few NaNs",
        .units = "degC" };
    sets[1] = (struct gen_dataset){
        .name = "/counts", .file_type = H5T_STD_I16LE,
        .mem_type = H5T_NATIVE_INT16, .elsize = sizeof(int16_t), .rank = 2,
        .dims = { rows, SAMPLE_COUNTS_COLS },
        .chunk = { rows < SAMPLE_COUNTS_CHUNK_ROWS ? rows
                                                   : SAMPLE_COUNTS_CHUNK_ROWS,
                   SAMPLE_COUNTS_COLS },
        .field = &count_field, .fill = fill_i16,
        .description = "counts: smooth rate plus noise, clipped at 0",
        .units = "counts" };
    if (check_free_space(path, size + size / 8 + MIB, err) ||
        create_file_atomically(path, sets, 2, err))
        goto out;
    printf("wrote %s in %.1f s: /data float32 %s, chunks %s (%s), %zu NaNs; "
           "/counts int16 %s\n",
           path, now_seconds() - t0,
           fmt_dims(d1, sizeof d1, 2, sets[0].dims),
           fmt_dims(d2, sizeof d2, 2, sets[0].chunk),
           fmt_bytes(b1, sizeof b1,
                     sets[0].chunk[0] * FIELD_WIDTH * sizeof(float)),
           sets[0].nan_count,
           fmt_dims(d3, sizeof d3, 2, sets[1].dims));
    rc = 0;
out:
    field_free(&data_field);
    field_free(&count_field);
    return rc;
}

/* ------------------------------------------------------------------------
 * Bench data: float32, 1-D (n) or 2-D (rows x 1024), chunks of ~chunk_bytes
 * spanning whole rows.
 */
struct bench_shape {
    int rank;
    hsize_t dims[2], chunk[2];
};

static int bench_shape_for(int rank, uint64_t size, uint64_t chunk_bytes,
                           struct bench_shape *sh, char *err)
{
    memset(sh, 0, sizeof *sh);
    sh->rank = rank;
    if (rank == 1) {
        sh->dims[0] = size / sizeof(float);
        sh->chunk[0] = chunk_bytes / sizeof(float);
    } else {
        sh->dims[0] = size / (FIELD_WIDTH * sizeof(float));
        sh->dims[1] = FIELD_WIDTH;
        sh->chunk[0] = chunk_bytes / (FIELD_WIDTH * sizeof(float));
        sh->chunk[1] = FIELD_WIDTH;
    }
    if (sh->dims[0] == 0)
        return fail(err, "--size %" PRIu64 " holds no %s", size,
                    rank == 1 ? "element" : "row of 1024 float32");
    if (sh->chunk[0] == 0)
        sh->chunk[0] = 1;
    if (sh->chunk[0] > sh->dims[0])
        sh->chunk[0] = sh->dims[0];
    return 0;
}

/* 1 when PATH holds /data exactly as bench_generate would write it. */
static int bench_file_matches(const char *path, const struct bench_shape *sh)
{
    hid_t file = -1, dset = -1, type = -1, space = -1, dcpl = -1;
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK];
    uint64_t gen = 0, seed = 0;
    int ok = 0;

    if (access(path, R_OK) != 0)
        return 0;
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        goto out;
    if ((dset = H5Dopen2(file, DEFAULT_DATASET, H5P_DEFAULT)) < 0)
        goto out;
    if ((type = H5Dget_type(dset)) < 0 || H5Tequal(type, H5T_IEEE_F32LE) <= 0)
        goto out;
    if ((space = H5Dget_space(dset)) < 0 ||
        H5Sget_simple_extent_ndims(space) != sh->rank)
        goto out;
    H5Sget_simple_extent_dims(space, dims, NULL);
    if ((dcpl = H5Dget_create_plist(dset)) < 0 ||
        H5Pget_layout(dcpl) != H5D_CHUNKED ||
        H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) != sh->rank)
        goto out;
    for (int i = 0; i < sh->rank; i++)
        if (dims[i] != sh->dims[i] || chunk[i] != sh->chunk[i])
            goto out;
    if (attr_read_u64(dset, "h5cl_bench_generator", &gen) ||
        gen != GEN_VERSION ||
        attr_read_u64(dset, "h5cl_bench_seed", &seed) || seed != GEN_SEED)
        goto out;
    ok = 1;
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (dset >= 0)
        H5Dclose(dset);
    if (file >= 0)
        H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

static int bench_generate(const char *path, const struct bench_shape *sh,
                          char *err)
{
    struct field f;
    struct gen_dataset set;
    uint64_t n = sh->dims[0] * (sh->rank == 2 ? sh->dims[1] : 1);
    uint64_t nbytes = n * sizeof(float);
    char b1[32];
    double t0 = now_seconds();
    int rc = -1;

    memset(&f, 0, sizeof f);
    if (field_init(&f, FIELD_WIDTH, (n + FIELD_WIDTH - 1) / FIELD_WIDTH,
                   GEN_SEED, err))
        goto out;
    f.base = 15.0;
    f.amp = 6.0;
    f.ripple = 1.5;
    f.noise = 0.8;
    f.nan_one_in = NAN_ONE_IN;
    memset(&set, 0, sizeof set);
    set = (struct gen_dataset){
        .name = DEFAULT_DATASET, .file_type = H5T_IEEE_F32LE,
        .mem_type = H5T_NATIVE_FLOAT, .elsize = sizeof(float),
        .rank = sh->rank, .dims = { sh->dims[0], sh->dims[1] },
        .chunk = { sh->chunk[0], sh->chunk[1] }, .field = &f,
        .fill = fill_f32,
        .description = "h5cl-bench data: smooth field plus Gaussian noise",
        .units = "1" };
    fprintf(stderr, "%s: generating %s (%s of float32)\n", BENCH_NAME, path,
            fmt_bytes(b1, sizeof b1, nbytes));
    if (check_free_space(path, nbytes + nbytes / 64 + 16 * MIB, err) ||
        create_file_atomically(path, &set, 1, err))
        goto out;
    fprintf(stderr, "%s: generated in %.1f s (including fsync), %zu NaNs\n",
            BENCH_NAME, now_seconds() - t0, set.nan_count);
    rc = 0;
out:
    field_free(&f);
    return rc;
}

static int mkdir_p(const char *dir, char *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return fail(err, "bad directory name '%s'", dir);
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return fail(err, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return fail(err, "mkdir %s: %s", buf, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------------
 * Reference statistics (from the raw warm-up pass): NaN-aware count, mean
 * and m2 (two passes per tile, merged with Chan's formula), min/max with
 * the flat index of the first occurrence.
 */
struct ref_stats {
    uint64_t count, nan_count;
    double mean, m2, min, max;
    uint64_t argmin, argmax;
};

#define REF_TILE(T)                                                          \
    do {                                                                     \
        const T *p_ = buf;                                                   \
        double s_ = 0.0;                                                     \
        for (size_t i = 0; i < n; i++) {                                     \
            double x_ = (double)p_[i];                                       \
            if (x_ != x_) {                                                  \
                t.nan_count++;                                               \
                continue;                                                    \
            }                                                                \
            s_ += x_;                                                        \
            if (++t.count == 1 || x_ < t.min) {                              \
                t.min = x_;                                                  \
                t.argmin = i;                                                \
            }                                                                \
            if (t.count == 1 || x_ > t.max) {                                \
                t.max = x_;                                                  \
                t.argmax = i;                                                \
            }                                                                \
        }                                                                    \
        if (t.count) {                                                       \
            t.mean = s_ / (double)t.count;                                   \
            for (size_t i = 0; i < n; i++) {                                 \
                double d_ = (double)p_[i] - t.mean;                          \
                if (d_ == d_)                                                \
                    t.m2 += d_ * d_;                                         \
            }                                                                \
        }                                                                    \
    } while (0)

static void ref_add_tile(struct ref_stats *ref, h5cl_dtype dtype,
                         const void *buf, size_t n, uint64_t flat0)
{
    struct ref_stats t;
    memset(&t, 0, sizeof t);
    switch (dtype) {
    case H5CL_INT8: REF_TILE(int8_t); break;
    case H5CL_UINT8: REF_TILE(uint8_t); break;
    case H5CL_INT16: REF_TILE(int16_t); break;
    case H5CL_UINT16: REF_TILE(uint16_t); break;
    case H5CL_INT32: REF_TILE(int32_t); break;
    case H5CL_UINT32: REF_TILE(uint32_t); break;
    case H5CL_INT64: REF_TILE(int64_t); break;
    case H5CL_UINT64: REF_TILE(uint64_t); break;
    case H5CL_FLOAT32: REF_TILE(float); break;
    case H5CL_FLOAT64: REF_TILE(double); break;
    default: return;
    }
    ref->nan_count += t.nan_count;
    if (t.count == 0)
        return;
    t.argmin += flat0;
    t.argmax += flat0;
    if (ref->count == 0) {
        uint64_t nan = ref->nan_count;
        *ref = t;
        ref->nan_count = nan;
        return;
    }
    {
        double na = (double)ref->count, nb = (double)t.count;
        double delta = t.mean - ref->mean;
        ref->mean += delta * nb / (na + nb);
        ref->m2 += t.m2 + delta * delta * na * nb / (na + nb);
        ref->count += t.count;
    }
    if (t.min < ref->min) { /* ties keep the earlier tile's index */
        ref->min = t.min;
        ref->argmin = t.argmin;
    }
    if (t.max > ref->max) {
        ref->max = t.max;
        ref->argmax = t.argmax;
    }
}

/* ------------------------------------------------------------------------
 * The raw ceiling: H5Dread of chunk-aligned tiles (whole rows of chunks,
 * about tile_bytes each) into one reused buffer, chunk cache off.
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

static int hdf5_dtype(hid_t type, h5cl_dtype *dtype, hid_t *native)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
        int sgn = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: *dtype = sgn ? H5CL_INT8 : H5CL_UINT8;
                *native = sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8; return 0;
        case 2: *dtype = sgn ? H5CL_INT16 : H5CL_UINT16;
                *native = sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
                return 0;
        case 4: *dtype = sgn ? H5CL_INT32 : H5CL_UINT32;
                *native = sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
                return 0;
        case 8: *dtype = sgn ? H5CL_INT64 : H5CL_UINT64;
                *native = sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
                return 0;
        default: return -1;
        }
    }
    case H5T_FLOAT:
        if (size == 4) {
            *dtype = H5CL_FLOAT32;
            *native = H5T_NATIVE_FLOAT;
            return 0;
        }
        if (size == 8) {
            *dtype = H5CL_FLOAT64;
            *native = H5T_NATIVE_DOUBLE;
            return 0;
        }
        return -1;
    default:
        return -1;
    }
}

static void raw_close(struct raw_reader *rr)
{
    if (rr->mspace_full >= 0)
        H5Sclose(rr->mspace_full);
    if (rr->fspace >= 0)
        H5Sclose(rr->fspace);
    if (rr->dset >= 0)
        H5Dclose(rr->dset);
    if (rr->file >= 0)
        H5Fclose(rr->file);
    free(rr->buf);
    rr->buf = NULL;
    rr->mspace_full = rr->fspace = rr->dset = rr->file = -1;
}

/* Opens the dataset and describes it (independently of h5cl). */
static int raw_open(struct raw_reader *rr, const char *path,
                    const char *dsname, char *err)
{
    hid_t dapl = -1, type = -1, dcpl = -1;
    int rank, rc = -1;

    memset(rr, 0, sizeof *rr);
    rr->file = rr->dset = rr->fspace = rr->mspace_full = -1;
    if ((rr->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        hdf5_fail(err, "H5Fopen(%s)", path);
        goto out;
    }
    if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        hdf5_fail(err, "H5Pset_chunk_cache");
        goto out;
    }
    if ((rr->dset = H5Dopen2(rr->file, dsname, dapl)) < 0) {
        hdf5_fail(err, "H5Dopen2(%s)", dsname);
        goto out;
    }
    if ((type = H5Dget_type(rr->dset)) < 0 ||
        hdf5_dtype(type, &rr->dtype, &rr->memtype) < 0) {
        fail(err, "%s: not an integer or float dataset", dsname);
        goto out;
    }
    rr->elsize = h5cl_dtype_size(rr->dtype);
    if ((rr->fspace = H5Dget_space(rr->dset)) < 0 ||
        (rank = H5Sget_simple_extent_ndims(rr->fspace)) < 0) {
        hdf5_fail(err, "H5Dget_space(%s)", dsname);
        goto out;
    }
    rr->rank = rank;
    H5Sget_simple_extent_dims(rr->fspace, rr->dims, NULL);
    rr->row_elems = 1;
    for (int i = 1; i < rank; i++)
        rr->row_elems *= rr->dims[i];
    rr->element_count = rank ? rr->dims[0] * rr->row_elems : 1;
    rr->nbytes = rr->element_count * rr->elsize;
    rr->storage_bytes = H5Dget_storage_size(rr->dset);
    if ((dcpl = H5Dget_create_plist(rr->dset)) < 0) {
        hdf5_fail(err, "H5Dget_create_plist(%s)", dsname);
        goto out;
    }
    rr->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (rr->chunked && H5Pget_chunk(dcpl, H5S_MAX_RANK, rr->chunk) < 0) {
        hdf5_fail(err, "H5Pget_chunk(%s)", dsname);
        goto out;
    }
    {
        int nf = H5Pget_nfilters(dcpl);
        rr->nfilters = nf > 0 ? (unsigned)nf : 0;
    }
    rc = 0;
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (rc)
        raw_close(rr);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* Tile geometry for tile_bytes: whole rows of chunks along axis 0, full
 * extent on the other axes; at least one row of chunks. */
static int raw_set_tiles(struct raw_reader *rr, uint64_t tile_bytes,
                         char *err)
{
    uint64_t unit = rr->chunked && rr->rank ? rr->chunk[0] : 1;
    uint64_t unit_bytes = unit * rr->row_elems * rr->elsize;
    uint64_t units = unit_bytes ? tile_bytes / unit_bytes : 1;

    if (rr->mspace_full >= 0)
        H5Sclose(rr->mspace_full);
    rr->mspace_full = -1;
    free(rr->buf);
    rr->buf = NULL;
    if (rr->rank == 0) {
        rr->tile_rows = 1;
        rr->ntiles = 1;
    } else {
        rr->tile_rows = (units ? units : 1) * unit;
        if (rr->tile_rows > rr->dims[0])
            rr->tile_rows = rr->dims[0] ? rr->dims[0] : 1;
        rr->ntiles = (rr->dims[0] + rr->tile_rows - 1) / rr->tile_rows;
    }
    rr->tile_bytes = rr->tile_rows * rr->row_elems * rr->elsize;
    if (!(rr->buf = malloc(rr->tile_bytes ? rr->tile_bytes : 1)))
        return fail(err, "out of memory (raw tile buffer of %" PRIu64
                    " bytes)", rr->tile_bytes);
    if (rr->rank) {
        hsize_t count[H5S_MAX_RANK];
        memcpy(count, rr->dims, sizeof count);
        count[0] = rr->tile_rows;
        if ((rr->mspace_full = H5Screate_simple(rr->rank, count, NULL)) < 0)
            return hdf5_fail(err, "H5Screate_simple");
    }
    return 0;
}

/* Reads every tile once; with ref, accumulates the reference statistics. */
static int raw_pass(struct raw_reader *rr, struct ref_stats *ref, char *err)
{
    if (ref)
        memset(ref, 0, sizeof *ref);
    if (rr->rank == 0) {
        if (H5Dread(rr->dset, rr->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    rr->buf) < 0)
            return hdf5_fail(err, "H5Dread(scalar)");
        if (ref)
            ref_add_tile(ref, rr->dtype, rr->buf, 1, 0);
        return 0;
    }
    for (uint64_t k = 0; k < rr->ntiles; k++) {
        hsize_t start[H5S_MAX_RANK] = { 0 }, count[H5S_MAX_RANK];
        hid_t mspace = rr->mspace_full;
        herr_t st;

        if (g_interrupted)
            return fail(err, "interrupted");
        memcpy(count, rr->dims, sizeof count);
        start[0] = k * rr->tile_rows;
        count[0] = rr->dims[0] - start[0] < rr->tile_rows
                       ? rr->dims[0] - start[0]
                       : rr->tile_rows;
        if (H5Sselect_hyperslab(rr->fspace, H5S_SELECT_SET, start, NULL,
                                count, NULL) < 0)
            return hdf5_fail(err, "H5Sselect_hyperslab(tile %" PRIu64 ")",
                             k);
        if (count[0] != rr->tile_rows &&
            (mspace = H5Screate_simple(rr->rank, count, NULL)) < 0)
            return hdf5_fail(err, "H5Screate_simple");
        st = H5Dread(rr->dset, rr->memtype, mspace, rr->fspace, H5P_DEFAULT,
                     rr->buf);
        if (mspace != rr->mspace_full)
            H5Sclose(mspace);
        if (st < 0)
            return hdf5_fail(err, "H5Dread(tile %" PRIu64 ")", k);
        if (ref)
            ref_add_tile(ref, rr->dtype, rr->buf,
                         (size_t)(count[0] * rr->row_elems),
                         start[0] * rr->row_elems);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * h5cl side: one run, and the check of its result.
 */
struct h5cl_run {
    h5cl_run_summary sum;
    h5cl_stats_state st;
    double wall;
};

static int h5cl_run_once(h5cl_ctx *ctx, h5cl_dataset *ds,
                         const h5cl_run_options *opts, struct h5cl_run *out,
                         char *err)
{
    h5cl_stats *stats = NULL;
    const h5cl_run_summary *sum;
    const h5cl_stats_state *st;
    double t0 = now_seconds();
    int status = h5cl_stats_compute(ds, opts, &stats);

    out->wall = now_seconds() - t0;
    if (status != H5CL_OK)
        return h5cl_fail(err, ctx, "h5cl_stats_compute", status);
    if (h5cl_stats_count(stats) != 1 || !(st = h5cl_stats_get(stats, 0)) ||
        !(sum = h5cl_stats_summary(stats))) {
        fail(err, "h5cl_stats_compute returned %zu states (want 1) or no "
             "summary", h5cl_stats_count(stats));
        h5cl_stats_free(stats);
        return -1;
    }
    out->st = *st;
    out->sum = *sum;
    h5cl_stats_free(stats);
    return 0;
}

static h5cl_kind kind_of(h5cl_dtype dt)
{
    switch (dt) {
    case H5CL_FLOAT32: case H5CL_FLOAT64: return H5CL_KIND_FLOAT;
    case H5CL_INT8: case H5CL_INT16: case H5CL_INT32: case H5CL_INT64:
        return H5CL_KIND_SIGNED;
    default: return H5CL_KIND_UNSIGNED;
    }
}

static double rel_err(double got, double want, double scale)
{
    if (scale < fabs(want))
        scale = fabs(want);
    if (scale == 0.0)
        return fabs(got - want);
    return fabs(got - want) / scale;
}

/* The run is sane: all bytes streamed, count + nan_count == elements, and
 * the figures match the reference.  mean_err and var_err get the relative
 * errors found. */
static int check_result(const struct h5cl_run *r, const struct raw_reader *rr,
                        const struct ref_stats *ref, double *mean_err,
                        double *var_err, char *err)
{
    const h5cl_stats_state *st = &r->st;
    double ref_var, scale, mn, mx;

    if (r->sum.bytes != rr->nbytes)
        return fail(err, "summary.bytes %" PRIu64 " != dataset bytes %"
                    PRIu64, r->sum.bytes, rr->nbytes);
    if (st->kind != (int32_t)kind_of(rr->dtype))
        return fail(err, "state kind %d, want %d", st->kind,
                    (int)kind_of(rr->dtype));
    if (st->count + st->nan_count != rr->element_count)
        return fail(err, "count %" PRIu64 " + nan_count %" PRIu64
                    " != element count %" PRIu64, st->count, st->nan_count,
                    rr->element_count);
    if (st->count != ref->count || st->nan_count != ref->nan_count)
        return fail(err, "count/nan_count %" PRIu64 "/%" PRIu64
                    ", reference %" PRIu64 "/%" PRIu64, st->count,
                    st->nan_count, ref->count, ref->nan_count);
    if (st->overflow)
        return fail(err, "integer sum overflow reported");
    *mean_err = *var_err = 0.0;
    if (ref->count == 0)
        return 0;
    mn = h5cl_stats_state_min(st);
    mx = h5cl_stats_state_max(st);
    if (mn != ref->min || mx != ref->max)
        return fail(err, "min/max %.9g/%.9g, reference %.9g/%.9g", mn, mx,
                    ref->min, ref->max);
    if (st->argmin != ref->argmin || st->argmax != ref->argmax)
        return fail(err, "argmin/argmax %" PRIu64 "/%" PRIu64
                    ", reference %" PRIu64 "/%" PRIu64, st->argmin,
                    st->argmax, ref->argmin, ref->argmax);
    ref_var = ref->m2 / (double)ref->count;
    scale = sqrt(ref_var);
    *mean_err = rel_err(h5cl_stats_state_mean(st), ref->mean, scale);
    *var_err = rel_err(h5cl_stats_state_var(st, 0), ref_var, 0.0);
    if (!(*mean_err <= TOL_MEAN))
        return fail(err, "mean %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_mean(st), ref->mean, *mean_err,
                    TOL_MEAN);
    if (!(*var_err <= TOL_VAR))
        return fail(err, "var %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_var(st, 0), ref_var, *var_err, TOL_VAR);
    return 0;
}

/* ------------------------------------------------------------------------
 * Peak RSS probe: `h5cl-bench --rss-probe FILE DATASET TILE SLOTS DEVICE`
 * (internal) opens the device, builds (loads) the programs, opens the
 * dataset, and does one run; it prints "ok PEAK_KIB RSS_BEFORE_KIB
 * HWM_BEFORE_KIB RSS_DEVICE_KIB" from /proc/self/status (RSS_DEVICE: just
 * after the device is opened, before programs and dataset).  VmHWM is
 * used, not ru_maxrss: after exec, ru_maxrss keeps the high-water mark of
 * the forked image, which is the parent's whole resident set.
 */
static int rss_probe_main(int argc, char **argv)
{
    h5cl_ctx *ctx = NULL;
    h5cl_dataset *ds = NULL;
    h5cl_stats *stats = NULL;
    h5cl_run_options opts;
    uint64_t tile = 0, rss_dev = 0, rss0, hwm0, hwm1;
    unsigned slots = 0;
    int status;
    const char *call = "";

    if (argc != 7 || parse_size(argv[4], &tile) ||
        parse_uint(argv[5], 1, 1024, &slots)) {
        printf("error bad --rss-probe arguments\n");
        return EXIT_USAGE;
    }
    if ((status = h5cl_ctx_create(&ctx)) != H5CL_OK) {
        call = "h5cl_ctx_create";
        goto out;
    }
    call = "h5cl_ctx_use_device";
    if ((status = h5cl_ctx_use_device(ctx, *argv[6] ? argv[6] : NULL)))
        goto out;
    rss_dev = proc_status_kib("VmRSS");
    call = "h5cl_ctx_build_programs";
    if ((status = h5cl_ctx_build_programs(ctx)))
        goto out;
    call = "h5cl_dataset_open";
    if ((status = h5cl_dataset_open(ctx, argv[2], argv[3], &ds)))
        goto out;
    h5cl_run_options_init(&opts);
    opts.tile_bytes = tile;
    opts.slots = slots;
    rss0 = proc_status_kib("VmRSS");
    hwm0 = proc_status_kib("VmHWM");
    call = "h5cl_stats_compute";
    if ((status = h5cl_stats_compute(ds, &opts, &stats)))
        goto out;
    hwm1 = proc_status_kib("VmHWM");
    printf("ok %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", hwm1, rss0,
           hwm0, rss_dev);
out:
    if (status != H5CL_OK)
        printf("error %s: %s: %s\n", call, h5cl_errname(status),
               ctx ? h5cl_ctx_errmsg(ctx) : "");
    h5cl_stats_free(stats);
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);
    return status == H5CL_OK ? 0 : EXIT_RUNTIME;
}

struct rss_result {
    uint64_t peak_bytes, before_bytes, hwm_before_bytes, device_bytes;
};

static int rss_probe_run(const char *file, const char *dataset,
                         uint64_t tile, unsigned slots, const char *device,
                         struct rss_result *res, char *err)
{
    char tile_s[32], slots_s[16], out[2048];
    char *args[] = { (char *)BENCH_NAME, (char *)"--rss-probe", (char *)file,
                     (char *)dataset, tile_s, slots_s,
                     (char *)(device ? device : ""), NULL };
    int fds[2], wstatus;
    size_t len = 0;
    ssize_t got;
    pid_t pid;
    unsigned long long a, b, c, d;

    snprintf(tile_s, sizeof tile_s, "%" PRIu64, tile);
    snprintf(slots_s, sizeof slots_s, "%u", slots);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(err, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) { /* only async-signal-safe calls until exec */
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(g_self, args);
        _exit(127);
    }
    close(fds[1]);
    while (len < sizeof out - 1 &&
           ((got = read(fds[0], out + len, sizeof out - 1 - len)) > 0 ||
            (got < 0 && errno == EINTR)))
        if (got > 0)
            len += (size_t)got;
    out[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return fail(err, "waitpid: %s", strerror(errno));
    out[strcspn(out, "\n")] = '\0';
    if (sscanf(out, "ok %llu %llu %llu %llu", &a, &b, &c, &d) == 4 &&
        WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        res->peak_bytes = a * KIB;
        res->before_bytes = b * KIB;
        res->hwm_before_bytes = c * KIB;
        res->device_bytes = d * KIB;
        return 0;
    }
    if (strncmp(out, "error ", 6) == 0)
        return fail(err, "peak-RSS child: %s", out + 6);
    return fail(err, "peak-RSS child failed (%s %d)",
                WIFEXITED(wstatus) ? "exit" : "signal",
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                                   : WTERMSIG(wstatus));
}

/* ------------------------------------------------------------------------
 * The benchmark.
 */
struct bench_cfg {
    const char *file, *dataset, *dir, *device, *trace;
    uint64_t size, chunk_bytes, tile_bytes;
    unsigned slots, reps;
    int rank, json, keep, verbose;
    int size_given, chunk_given, rank_given;
};

enum row_status { ROW_OK = 0, ROW_ERROR };

struct row {
    enum row_status status;
    char message[ERRLEN];
    struct summary3 gbps, seconds;
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
    /* rows */
    struct row raw, h5cl;
    /* h5cl details */
    h5cl_run_summary sum;      /* last repetition                      */
    h5cl_stats_state st;
    struct summary3 stage[H5CL_STAGE_COUNT], overlap, run_seconds;
    double ratio, mean_err, var_err;
    int have_rss;
    struct rss_result rss;
    char rss_error[ERRLEN];
};

/* Finds or makes the data file.  Sets res->file and res->generated. */
static int bench_prepare_file(const struct bench_cfg *cfg,
                              struct results *res, char *err)
{
    struct bench_shape sh;
    char sz[32], ch[32];
    struct stat stbuf;

    if (cfg->file && access(cfg->file, F_OK) == 0) {
        snprintf(res->file, sizeof res->file, "%s", cfg->file);
        if (cfg->size_given || cfg->chunk_given || cfg->rank_given)
            fprintf(stderr, "%s: %s exists: using it as it is (--size, "
                    "--chunk-bytes and --rank only shape generated data)\n",
                    BENCH_NAME, cfg->file);
    } else {
        if (strcmp(cfg->dataset, DEFAULT_DATASET) != 0)
            return fail(err, "generated files hold %s, not %s: give --file "
                        "an existing file to read another dataset",
                        DEFAULT_DATASET, cfg->dataset);
        if (bench_shape_for(cfg->rank, cfg->size, cfg->chunk_bytes, &sh, err))
            return -1;
        if (cfg->file) {
            snprintf(res->file, sizeof res->file, "%s", cfg->file);
        } else {
            if (mkdir_p(cfg->dir, err))
                return -1;
            if (snprintf(res->file, sizeof res->file,
                         "%s/bench-f32-%dd-%s-chunk%s.h5", cfg->dir,
                         cfg->rank, fmt_bytes_exact(sz, sizeof sz, cfg->size),
                         fmt_bytes_exact(ch, sizeof ch, cfg->chunk_bytes)) >=
                (int)sizeof res->file)
                return fail(err, "--dir path too long");
        }
        if (bench_file_matches(res->file, &sh)) {
            fprintf(stderr, "%s: reusing %s\n", BENCH_NAME, res->file);
        } else {
            if (bench_generate(res->file, &sh, err))
                return -1;
            res->generated = 1;
        }
    }
    if (stat(res->file, &stbuf) == 0)
        res->file_bytes = (uint64_t)stbuf.st_size;
    return 0;
}

/* Opens the context, device and dataset; builds the programs. */
static int h5cl_setup(const struct bench_cfg *cfg, struct results *res,
                      h5cl_ctx **ctx_ret, h5cl_dataset **ds_ret, char *err)
{
    h5cl_ctx *ctx = NULL;
    int status;
    double t0;

    *ctx_ret = NULL;
    *ds_ret = NULL;
    if ((status = h5cl_ctx_create(&ctx)) != H5CL_OK)
        return h5cl_fail(err, NULL, "h5cl_ctx_create", status);
    *ctx_ret = ctx;
    g_ctx = ctx;
    if ((status = h5cl_ctx_use_device(ctx, cfg->device)) != H5CL_OK)
        return h5cl_fail(err, ctx, "h5cl_ctx_use_device", status);
    if ((status = h5cl_ctx_device(ctx, &res->dev)) != H5CL_OK)
        return h5cl_fail(err, ctx, "h5cl_ctx_device", status);
    res->have_dev = 1;
    t0 = now_seconds();
    if ((status = h5cl_ctx_build_programs(ctx)) != H5CL_OK)
        return h5cl_fail(err, ctx, "h5cl_ctx_build_programs", status);
    res->build_seconds = now_seconds() - t0;
    if ((status = h5cl_dataset_open(ctx, res->file, cfg->dataset, ds_ret)) !=
        H5CL_OK)
        return h5cl_fail(err, ctx, "h5cl_dataset_open", status);
    return 0;
}

/* Warm-ups, then alternating timed repetitions of both cases. */
static int bench_measure(const struct bench_cfg *cfg, struct results *res)
{
    h5cl_ctx *ctx = NULL;
    h5cl_dataset *ds = NULL;
    h5cl_run_options opts;
    struct h5cl_run run;
    struct ref_stats ref;
    double raw_s[1024], h5_s[1024], raw_gbps[1024], h5_gbps[1024];
    double stage_s[H5CL_STAGE_COUNT][1024], overlap[1024], run_s[1024];
    uint64_t tile_bytes = cfg->tile_bytes;
    int h5ok, fatal = 0;
    char err[ERRLEN];

    /* the raw reader also describes the dataset for every row */
    if (raw_open(&res->rr, res->file, cfg->dataset, res->raw.message)) {
        /* still open h5cl: the row then names the device and gives the
         * library's own message */
        res->raw.status = res->h5cl.status = ROW_ERROR;
        if (h5cl_setup(cfg, res, &ctx, &ds, res->h5cl.message) == 0)
            snprintf(res->h5cl.message, ERRLEN,
                     "not measured: no reference (raw pass failed)");
        g_ctx = NULL;
        h5cl_dataset_close(ds);
        h5cl_ctx_destroy(ctx);
        return -1;
    }
    res->rr_open = 1;

    h5ok = h5cl_setup(cfg, res, &ctx, &ds, res->h5cl.message) == 0;
    h5cl_run_options_init(&opts);
    opts.tile_bytes = cfg->tile_bytes;
    opts.slots = cfg->slots;
    if (h5ok) {
        fprintf(stderr, "%s: warm-up h5cl\n", BENCH_NAME);
        h5ok = h5cl_run_once(ctx, ds, &opts, &run, res->h5cl.message) == 0;
        /* the raw pass reads the tiles h5cl actually used */
        if (h5ok && run.sum.tile_bytes)
            tile_bytes = run.sum.tile_bytes;
    }
    fprintf(stderr, "%s: warm-up raw H5Dread (and reference statistics)\n",
            BENCH_NAME);
    if (raw_set_tiles(&res->rr, tile_bytes, res->raw.message) ||
        raw_pass(&res->rr, &ref, res->raw.message)) {
        res->raw.status = ROW_ERROR;
        fatal = 1;
    }
    if (h5ok && !fatal)
        h5ok = check_result(&run, &res->rr, &ref, &res->mean_err,
                            &res->var_err, res->h5cl.message) == 0;
    if (!fatal && !h5ok && !*res->h5cl.message)
        snprintf(res->h5cl.message, ERRLEN, "h5cl warm-up failed");

    for (unsigned k = 0; k < cfg->reps && !fatal; k++) {
        double t0;
        fprintf(stderr, "%s: repetition %u/%u\n", BENCH_NAME, k + 1,
                cfg->reps);
        t0 = now_seconds();
        if (raw_pass(&res->rr, NULL, res->raw.message)) {
            res->raw.status = ROW_ERROR;
            fatal = 1;
            break;
        }
        raw_s[k] = now_seconds() - t0;
        raw_gbps[k] = (double)res->rr.nbytes / raw_s[k] / 1e9;
        if (!h5ok)
            continue;
        if (h5cl_run_once(ctx, ds, &opts, &run, res->h5cl.message) ||
            check_result(&run, &res->rr, &ref, &res->mean_err, &res->var_err,
                         res->h5cl.message)) {
            h5ok = 0;
            continue;
        }
        if (cfg->verbose) {
            fprintf(stderr, "%s:   raw %.3f s (%.2f GB/s)  h5cl %.3f s "
                    "(%.2f GB/s) overlap %.3f  busy s:", BENCH_NAME, raw_s[k],
                    raw_gbps[k], run.wall,
                    (double)res->rr.nbytes / run.wall / 1e9,
                    run.sum.overlap);
            for (int s = 0; s < H5CL_STAGE_COUNT; s++)
                fprintf(stderr, " %s %.3f", h5cl_stage_name((h5cl_stage)s),
                        run.sum.stage_seconds[s]);
            fputc('\n', stderr);
        }
        h5_s[k] = run.wall;
        h5_gbps[k] = (double)res->rr.nbytes / run.wall / 1e9;
        run_s[k] = run.sum.seconds;
        overlap[k] = run.sum.overlap;
        for (int s = 0; s < H5CL_STAGE_COUNT; s++)
            stage_s[s][k] = run.sum.stage_seconds[s];
        res->sum = run.sum;
        res->st = run.st;
    }
    if (g_interrupted)
        fatal = 1;
    if (h5ok && !fatal && cfg->trace) {
        /* an extra run, not timed, so tracing cannot skew the figures */
        h5cl_run_options topts = opts;
        struct h5cl_run trun;
        topts.trace_path = cfg->trace;
        if (h5cl_run_once(ctx, ds, &topts, &trun, err) == 0)
            fprintf(stderr, "%s: trace of an extra run (%.3f s, overlap "
                    "%.3f) written to %s\n", BENCH_NAME, trun.wall,
                    trun.sum.overlap, cfg->trace);
        else
            fprintf(stderr, "%s: traced run failed: %s\n", BENCH_NAME, err);
    }

    g_ctx = NULL;
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);

    if (!fatal) {
        res->raw.seconds = summarize(raw_s, cfg->reps);
        res->raw.gbps = summarize(raw_gbps, cfg->reps);
    }
    if (!h5ok || fatal) {
        res->h5cl.status = ROW_ERROR;
        if (!*res->h5cl.message)
            snprintf(res->h5cl.message, ERRLEN, "%s",
                     fatal ? "not measured: raw pass failed" : "failed");
        return fatal ? -1 : 0;
    }
    res->h5cl.seconds = summarize(h5_s, cfg->reps);
    res->h5cl.gbps = summarize(h5_gbps, cfg->reps);
    res->run_seconds = summarize(run_s, cfg->reps);
    res->overlap = summarize(overlap, cfg->reps);
    for (int s = 0; s < H5CL_STAGE_COUNT; s++)
        res->stage[s] = summarize(stage_s[s], cfg->reps);
    res->ratio = res->h5cl.gbps.median / res->raw.gbps.median;

    fprintf(stderr, "%s: peak RSS probe (fresh process, one h5cl run)\n",
            BENCH_NAME);
    if (rss_probe_run(res->file, cfg->dataset, cfg->tile_bytes, cfg->slots,
                      cfg->device, &res->rss, err) == 0)
        res->have_rss = 1;
    else
        snprintf(res->rss_error, sizeof res->rss_error, "%s", err);
    return 0;
}

/* ------------------------------------------------------------------------
 * Output: a human table, or one JSON object per case row.
 */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void json_dims(FILE *f, int rank, const hsize_t *dims)
{
    fputc('[', f);
    for (int i = 0; i < rank; i++)
        fprintf(f, "%s%" PRIu64, i ? "," : "", (uint64_t)dims[i]);
    fputc(']', f);
}

static uint64_t rss_bound(const struct bench_cfg *cfg,
                          const struct results *res)
{
    uint64_t tile = res->sum.tile_bytes ? res->sum.tile_bytes
                                        : cfg->tile_bytes;
    unsigned slots = res->sum.slots ? res->sum.slots : cfg->slots;
    return (uint64_t)slots * tile + RSS_SLACK_BYTES;
}

/* What the run itself added to the resident set (peak - RSS before it). */
static uint64_t rss_increment(const struct results *res)
{
    return res->rss.peak_bytes > res->rss.before_bytes
               ? res->rss.peak_bytes - res->rss.before_bytes
               : 0;
}

static void json_row(const struct bench_cfg *cfg, const struct results *res,
                     const char *name, const struct row *row, int is_h5cl)
{
    const struct raw_reader *rr = &res->rr;
    FILE *f = stdout;

    fprintf(f, "{\"format_version\":%d,\"bench\":\"%s\",\"case\":",
            JSON_FORMAT_VERSION, BENCH_NAME);
    json_str(f, name);
    fprintf(f, ",\"status\":\"%s\"", row->status == ROW_OK ? "ok" : "error");
    if (row->status != ROW_OK) {
        fputs(",\"message\":", f);
        json_str(f, row->message);
    }
    fputs(",\"h5cl_version\":", f);
    json_str(f, h5cl_version());
    fputs(",\"device\":", f);
    json_str(f, res->have_dev ? res->dev.device_name : "");
    fputs(",\"platform\":", f);
    json_str(f, res->have_dev ? res->dev.platform_name : "");
    fputs(",\"driver\":", f);
    json_str(f, res->have_dev ? res->dev.driver_version : "");
    fputs(",\"device_type\":", f);
    json_str(f, res->have_dev ? h5cl_device_type_name(res->dev.type) : "");
    fputs(",\"file\":", f);
    json_str(f, res->file);
    fprintf(f, ",\"file_bytes\":%" PRIu64, res->file_bytes);
    fputs(",\"dataset\":", f);
    json_str(f, cfg->dataset);
    if (res->rr_open) {
        fputs(",\"dtype\":", f);
        json_str(f, h5cl_dtype_name(rr->dtype));
        fputs(",\"shape\":", f);
        json_dims(f, rr->rank, rr->dims);
        fprintf(f, ",\"layout\":\"%s\",\"chunk\":",
                rr->chunked ? "chunked" : "contiguous");
        json_dims(f, rr->chunked ? rr->rank : 0, rr->chunk);
        fprintf(f, ",\"filters\":%u,\"nbytes\":%" PRIu64
                   ",\"storage_bytes\":%" PRIu64,
                rr->nfilters, rr->nbytes, rr->storage_bytes);
    }
    fprintf(f, ",\"requested_tile_bytes\":%" PRIu64 ",\"slots\":%u"
               ",\"reps\":%u",
            cfg->tile_bytes, cfg->slots, cfg->reps);
    if (row->status == ROW_OK) {
        fprintf(f, ",\"tile_bytes\":%" PRIu64 ",\"tiles\":%" PRIu64,
                is_h5cl ? res->sum.tile_bytes : rr->tile_bytes,
                is_h5cl ? res->sum.tiles : rr->ntiles);
        fputs(",\"gbps_median\":", f);
        json_num(f, row->gbps.median);
        fputs(",\"gbps_min\":", f);
        json_num(f, row->gbps.min);
        fputs(",\"gbps_max\":", f);
        json_num(f, row->gbps.max);
        fputs(",\"seconds_median\":", f);
        json_num(f, row->seconds.median);
    }
    if (is_h5cl && row->status == ROW_OK) {
        uint64_t bound = rss_bound(cfg, res);
        fputs(",\"ratio_vs_raw\":", f);
        json_num(f, res->ratio);
        fprintf(f, ",\"run_slots\":%u,\"zero_copy\":%s,\"build_seconds\":",
                res->sum.slots, res->sum.zero_copy ? "true" : "false");
        json_num(f, res->build_seconds);
        fputs(",\"summary_seconds_median\":", f);
        json_num(f, res->run_seconds.median);
        fputs(",\"stage_seconds_median\":{", f);
        for (int s = 0; s < H5CL_STAGE_COUNT; s++) {
            fprintf(f, "%s", s ? "," : "");
            json_str(f, h5cl_stage_name((h5cl_stage)s));
            fputc(':', f);
            json_num(f, res->stage[s].median);
        }
        fputs("},\"overlap_median\":", f);
        json_num(f, res->overlap.median);
        fputs(",\"overlap_min\":", f);
        json_num(f, res->overlap.min);
        fputs(",\"overlap_max\":", f);
        json_num(f, res->overlap.max);
        fputs(",\"overlap_efficiency\":", f);
        json_num(f, 1.0 / res->overlap.median);
        if (res->have_rss)
            fprintf(f, ",\"peak_rss_bytes\":%" PRIu64
                       ",\"rss_before_run_bytes\":%" PRIu64
                       ",\"rss_after_device_open_bytes\":%" PRIu64
                       ",\"rss_run_increment_bytes\":%" PRIu64,
                    res->rss.peak_bytes, res->rss.before_bytes,
                    res->rss.device_bytes, rss_increment(res));
        else {
            fputs(",\"peak_rss_bytes\":null,\"peak_rss_error\":", f);
            json_str(f, res->rss_error);
        }
        fprintf(f, ",\"rss_bound_bytes\":%" PRIu64, bound);
        fprintf(f, ",\"targets\":{\"ratio\":%s,\"overlap\":%s,\"rss\":%s"
                   ",\"rss_increment\":%s}",
                res->ratio >= TARGET_RATIO ? "true" : "false",
                res->overlap.median <= TARGET_OVERLAP ? "true" : "false",
                !res->have_rss ? "null"
                : res->rss.peak_bytes <= bound ? "true" : "false",
                !res->have_rss ? "null"
                : rss_increment(res) <= bound ? "true" : "false");
        fprintf(f, ",\"result\":{\"count\":%" PRIu64 ",\"nan_count\":%" PRIu64
                   ",\"mean\":",
                res->st.count, res->st.nan_count);
        json_num(f, h5cl_stats_state_mean(&res->st));
        fputs(",\"std\":", f);
        json_num(f, h5cl_stats_state_std(&res->st, 0));
        fputs(",\"min\":", f);
        json_num(f, h5cl_stats_state_min(&res->st));
        fputs(",\"max\":", f);
        json_num(f, h5cl_stats_state_max(&res->st));
        fputs(",\"mean_rel_err\":", f);
        json_num(f, res->mean_err);
        fputs(",\"var_rel_err\":", f);
        json_num(f, res->var_err);
        fputs("}", f);
    }
    fputs("}\n", f);
}

static const char *pass(int ok)
{
    return ok ? "PASS" : "FAIL";
}

static void print_table(const struct bench_cfg *cfg,
                        const struct results *res)
{
    const struct raw_reader *rr = &res->rr;
    char b1[32], b2[32], d1[128], d2[128];

    printf("%s (h5cl %s)\n", BENCH_NAME, h5cl_version());
    if (res->have_dev)
        printf("device   : %s [%s, %s], driver %s, %u compute units\n",
               res->dev.device_name, res->dev.platform_name,
               h5cl_device_type_name(res->dev.type), res->dev.driver_version,
               res->dev.compute_units);
    else
        printf("device   : (not opened)\n");
    printf("file     : %s (%s)\n", res->file,
           fmt_bytes(b1, sizeof b1, res->file_bytes));
    if (res->rr_open) {
        printf("dataset  : %s %s %s (%s), %s", cfg->dataset,
               h5cl_dtype_name(rr->dtype),
               fmt_dims(d1, sizeof d1, rr->rank, rr->dims),
               fmt_bytes(b1, sizeof b1, rr->nbytes),
               rr->chunked ? "chunked " : "contiguous");
        if (rr->chunked) {
            uint64_t cb = rr->elsize;
            for (int i = 0; i < rr->rank; i++)
                cb *= rr->chunk[i];
            printf("%s (%s chunks)",
                   fmt_dims(d2, sizeof d2, rr->rank, rr->chunk),
                   fmt_bytes(b2, sizeof b2, cb));
        }
        printf(", %u filters\n", rr->nfilters);
        printf("run      : tiles of %s (%" PRIu64 " raw tiles), %u slots, "
               "%u reps after one warm-up of each\n",
               fmt_bytes(b1, sizeof b1, rr->tile_bytes), rr->ntiles,
               cfg->slots, cfg->reps);
        if (res->h5cl.status == ROW_OK &&
            res->sum.tile_bytes != cfg->tile_bytes)
            printf("           (--tile-bytes %s asked; h5cl used %s, and the "
                   "raw pass reads the same)\n",
                   fmt_bytes(b1, sizeof b1, cfg->tile_bytes),
                   fmt_bytes(b2, sizeof b2, res->sum.tile_bytes));
    }
    printf("\n%-16s %-6s %10s %10s %10s %10s\n", "case", "status",
           "GB/s med", "GB/s min", "GB/s max", "s median");
    {
        const struct row *rows[2] = { &res->raw, &res->h5cl };
        const char *names[2] = { "raw H5Dread", "h5cl stats" };
        for (int i = 0; i < 2; i++) {
            if (rows[i]->status == ROW_OK)
                printf("%-16s %-6s %10.3f %10.3f %10.3f %10.3f\n", names[i],
                       "ok", rows[i]->gbps.median, rows[i]->gbps.min,
                       rows[i]->gbps.max, rows[i]->seconds.median);
            else
                printf("%-16s %-6s %s\n", names[i], "error",
                       rows[i]->message);
        }
    }
    if (res->h5cl.status != ROW_OK || res->raw.status != ROW_OK)
        return;
    {
        uint64_t bound = rss_bound(cfg, res);
        printf("\nh5cl/raw (medians)      : %.3f   target >= %.2f  %s\n",
               res->ratio, TARGET_RATIO, pass(res->ratio >= TARGET_RATIO));
        printf("overlap wall/busiest    : %.3f (min %.3f, max %.3f)   "
               "target <= %.2f  %s\n",
               res->overlap.median, res->overlap.min, res->overlap.max,
               TARGET_OVERLAP, pass(res->overlap.median <= TARGET_OVERLAP));
        printf("overlap efficiency      : %.0f%% (busiest stage / wall)\n",
               100.0 / res->overlap.median);
        if (res->have_rss) {
            printf("peak RSS (VmHWM)        : %s   bound %u x %s + 64 MiB = "
                   "%s  %s\n",
                   fmt_bytes(b1, sizeof b1, res->rss.peak_bytes),
                   res->sum.slots,
                   fmt_bytes(d2, sizeof d2, res->sum.tile_bytes),
                   fmt_bytes(b2, sizeof b2, bound),
                   pass(res->rss.peak_bytes <= bound));
            printf("  of which              : %s once the device is open, %s "
                   "before the run;\n"
                   "                          the run adds %s (its own "
                   "memory vs the bound: %s)\n",
                   fmt_bytes(b1, sizeof b1, res->rss.device_bytes),
                   fmt_bytes(d1, sizeof d1, res->rss.before_bytes),
                   fmt_bytes(b2, sizeof b2, rss_increment(res)),
                   pass(rss_increment(res) <= bound));
        } else {
            printf("peak RSS                : not measured: %s\n",
                   res->rss_error);
        }
        printf("stage busy s (median)   :");
        for (int s = 0; s < H5CL_STAGE_COUNT; s++)
            printf(" %s %.3f", h5cl_stage_name((h5cl_stage)s),
                   res->stage[s].median);
        printf("\nh5cl run                : wall %.3f s (summary %.3f s), "
               "%" PRIu64 " tiles of %s, %u slots, zero-copy %s; "
               "programs ready in %.2f s\n",
               res->h5cl.seconds.median, res->run_seconds.median,
               res->sum.tiles, fmt_bytes(b1, sizeof b1, res->sum.tile_bytes),
               res->sum.slots, res->sum.zero_copy ? "yes" : "no",
               res->build_seconds);
        printf("result (checked)        : count %" PRIu64 ", NaNs %" PRIu64
               ", mean %.6g, std %.6g, min %.6g, max %.6g "
               "(rel. err. mean %.1e, var %.1e)\n",
               res->st.count, res->st.nan_count,
               h5cl_stats_state_mean(&res->st),
               h5cl_stats_state_std(&res->st, 0),
               h5cl_stats_state_min(&res->st),
               h5cl_stats_state_max(&res->st), res->mean_err, res->var_err);
    }
}

static int bench_main(const struct bench_cfg *cfg)
{
    struct results *res = calloc(1, sizeof *res);
    char err[ERRLEN];
    int rc = 0;

    if (!res) {
        fprintf(stderr, "%s: out of memory\n", BENCH_NAME);
        return EXIT_RUNTIME;
    }
    if (bench_prepare_file(cfg, res, err)) {
        fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
        free(res);
        return g_interrupted ? EXIT_INTERRUPTED : EXIT_RUNTIME;
    }
    bench_measure(cfg, res);
    if (cfg->json) {
        json_row(cfg, res, "raw-h5dread", &res->raw, 0);
        json_row(cfg, res, "h5cl-stats", &res->h5cl, 1);
    } else {
        print_table(cfg, res);
    }
    fflush(stdout);
    if (res->raw.status != ROW_OK || res->h5cl.status != ROW_OK ||
        (res->h5cl.status == ROW_OK && !res->have_rss)) {
        if (res->h5cl.status == ROW_OK && !res->have_rss)
            fprintf(stderr, "%s: %s\n", BENCH_NAME, res->rss_error);
        rc = EXIT_RUNTIME;
    }
    if (res->rr_open)
        raw_close(&res->rr);
    if (res->generated && !cfg->keep) {
        if (unlink(res->file) == 0)
            fprintf(stderr, "%s: removed %s (--keep keeps it)\n", BENCH_NAME,
                    res->file);
    }
    free(res);
    return g_interrupted ? EXIT_INTERRUPTED : rc;
}

/* ------------------------------------------------------------------------
 * Command line.
 */
static void usage(FILE *f)
{
    fprintf(f,
"usage: %s [options]\n"
"       %s --make-sample FILE [--size SIZE]\n"
"\n"
"Measures h5cl_stats_compute against the raw H5Dread ceiling on one HDF5\n"
"dataset: same file, same tiles, chunk cache off, one warm-up of each case,\n"
"then alternating timed repetitions; medians and min-max in GB/s (1e9 B/s).\n"
"\n"
"Data:\n"
"  --file F           HDF5 file to read; generated there if it is absent\n"
"                     (default: a generated file under --dir)\n"
"  --dataset P        dataset path (default %s)\n"
"  --dir DIR          directory of generated files (default %s)\n"
"  --size SIZE        generated float32 dataset size (default 4G)\n"
"  --chunk-bytes B    generated chunk size (default 8M)\n"
"  --rank 1|2         generated shape: 1-D, or rows x 1024 (default 1)\n"
"  --keep             keep a file this run generated, to be reused by later\n"
"                     runs with the same parameters (default: remove it)\n"
"Run:\n"
"  --tile-bytes B     bytes per tile, both cases (default 8M)\n"
"  --slots K          h5cl host slots in flight (default %d)\n"
"  --reps N           timed repetitions of each case (default %d)\n"
"  --device D         h5cl device: gpu, cpu, accelerator, P:D or a name\n"
"                     substring (default: H5CL_DEVICE, else h5cl's choice)\n"
"Output:\n"
"  --json             one JSON object per case row on stdout\n"
"  --verbose          each repetition's times and stage seconds on stderr\n"
"  --trace FILE       Chrome trace (h5cl trace_path) of one extra, untimed\n"
"                     h5cl run after the repetitions\n"
"  -h, --help         this text\n"
"\n"
"--make-sample FILE writes /data (float32, rows x 1024, 1 MiB chunks: a\n"
"smooth field plus Gaussian noise and a few NaNs) and /counts (int16,\n"
"rows x 64) to FILE atomically; --size sets the /data size (default 384M).\n"
"\n"
"Sizes take K, M, G, T suffixes (powers of 1024): 384M, 4G, 8MiB.\n"
"Exit status: 0 ok; 1 runtime error or a failed case; 2 usage error.\n",
            BENCH_NAME, BENCH_NAME, DEFAULT_DATASET, DEFAULT_DIR,
            DEFAULT_SLOTS, DEFAULT_REPS);
}

static int is_known_option(const char *name)
{
    static const char *const known[] = {
        "--make-sample", "--size", "--file", "--dataset", "--dir",
        "--chunk-bytes", "--rank", "--tile-bytes", "--slots", "--reps",
        "--device", "--json", "--keep", "--verbose", "--trace" };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                             ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", BENCH_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", BENCH_NAME);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct bench_cfg cfg = {
        .dataset = DEFAULT_DATASET, .dir = DEFAULT_DIR,
        .size = DEFAULT_SIZE, .chunk_bytes = DEFAULT_CHUNK_BYTES,
        .tile_bytes = DEFAULT_TILE_BYTES, .slots = DEFAULT_SLOTS,
        .reps = DEFAULT_REPS, .rank = 1 };
    const char *sample = NULL;
    int bench_only = 0; /* an option that --make-sample does not take */
    char err[ERRLEN];

    /* argv[0] with a slash is this program (we never chdir); it also stays
     * right under valgrind, where /proc/self/exe is the valgrind tool */
    if (argv[0] && strchr(argv[0], '/'))
        g_self = argv[0];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by us */
    if (argc > 1 && strcmp(argv[1], "--rss-probe") == 0)
        return rss_probe_main(argc, argv);

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(opt, '=');
        int takes;

        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(opt, "--", 2) != 0)
            return usage_error("unexpected argument '%s'", opt);
        snprintf(name, sizeof name, "%.*s",
                 (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
        if (!is_known_option(name))
            return usage_error("unknown option '%s'", name);
        takes = strcmp(name, "--json") != 0 && strcmp(name, "--keep") != 0 &&
                strcmp(name, "--verbose") != 0;
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("%s needs a value", name);
        } else if (eq) {
            return usage_error("%s takes no value", name);
        }

        if (strcmp(name, "--make-sample") == 0) {
            sample = val;
        } else if (strcmp(name, "--size") == 0) {
            if (parse_size(val, &cfg.size) || cfg.size == 0)
                return usage_error("bad --size '%s'", val);
            cfg.size_given = 1;
        } else if (strcmp(name, "--file") == 0) {
            cfg.file = val;
            bench_only = 1;
        } else if (strcmp(name, "--dataset") == 0) {
            cfg.dataset = val;
            bench_only = 1;
        } else if (strcmp(name, "--dir") == 0) {
            cfg.dir = val;
            bench_only = 1;
        } else if (strcmp(name, "--chunk-bytes") == 0) {
            if (parse_size(val, &cfg.chunk_bytes) || cfg.chunk_bytes == 0 ||
                cfg.chunk_bytes >= 4 * GIB)
                return usage_error("bad --chunk-bytes '%s' (1 B to < 4 GiB)",
                                   val);
            cfg.chunk_given = bench_only = 1;
        } else if (strcmp(name, "--rank") == 0) {
            unsigned r;
            if (parse_uint(val, 1, 2, &r))
                return usage_error("bad --rank '%s' (1 or 2)", val);
            cfg.rank = (int)r;
            cfg.rank_given = bench_only = 1;
        } else if (strcmp(name, "--tile-bytes") == 0) {
            if (parse_size(val, &cfg.tile_bytes) || cfg.tile_bytes == 0)
                return usage_error("bad --tile-bytes '%s'", val);
            bench_only = 1;
        } else if (strcmp(name, "--slots") == 0) {
            if (parse_uint(val, 1, 1024, &cfg.slots))
                return usage_error("bad --slots '%s' (1 to 1024)", val);
            bench_only = 1;
        } else if (strcmp(name, "--reps") == 0) {
            if (parse_uint(val, 1, 1024, &cfg.reps))
                return usage_error("bad --reps '%s' (1 to 1024)", val);
            bench_only = 1;
        } else if (strcmp(name, "--device") == 0) {
            cfg.device = val;
            bench_only = 1;
        } else if (strcmp(name, "--json") == 0) {
            cfg.json = bench_only = 1;
        } else if (strcmp(name, "--trace") == 0) {
            if (!*val)
                return usage_error("--trace needs a file name");
            cfg.trace = val;
            bench_only = 1;
        } else if (strcmp(name, "--verbose") == 0) {
            cfg.verbose = bench_only = 1;
        } else if (strcmp(name, "--keep") == 0) {
            cfg.keep = bench_only = 1;
        } else {
            return usage_error("unknown option '%s'", name);
        }
    }
    install_signals();

    if (sample) {
        if (bench_only)
            return usage_error("--make-sample takes only --size");
        if (!*sample)
            return usage_error("--make-sample needs a file name");
        if (!cfg.size_given)
            cfg.size = DEFAULT_SAMPLE_SIZE;
        if (cfg.size < FIELD_WIDTH * sizeof(float))
            return usage_error("--size must be at least 4K for "
                               "--make-sample");
        if (make_sample(sample, cfg.size, err)) {
            fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
            return g_interrupted ? EXIT_INTERRUPTED : EXIT_RUNTIME;
        }
        return 0;
    }
    if (cfg.rank == 2 && cfg.size < FIELD_WIDTH * sizeof(float))
        return usage_error("--size must be at least 4K with --rank 2");
    if (!*cfg.dataset || !*cfg.dir || (cfg.file && !*cfg.file))
        return usage_error("empty --file, --dataset or --dir");
    return bench_main(&cfg);
}
