/*
 * h5cl-bench: generated data.  A value field (a smooth field plus Gaussian
 * noise from a fixed seed, and a few NaNs) written block by block into a
 * temporary file that is fsynced and renamed into place: the bench's /data
 * (float32, float64 or int16; contiguous, chunked or gzip + shuffle), and
 * the --make-sample file of `make demo`.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * Value field for generated data: a smooth field (slow waves along rows,
 * a cosine across columns, a faster ripple) plus Gaussian noise, rows of
 * FIELD_WIDTH values (or of --cols, for rank-2 data) over a flat index,
 * and a few NaNs.  Each block's noise
 * comes from its own counter-seeded stream, so the file is the same
 * whatever order blocks are written in.
 */
struct field {
    uint64_t width;       /* row length of the field (<= MAX_COLS)        */
    uint64_t rows;        /* rows the field spans (sets the wavelengths)  */
    uint64_t seed;
    double base, amp, ripple, noise;
    unsigned nan_one_in;  /* 0: no NaNs                                   */
    float col[MAX_COLS];
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

/* The element of a block that gets its NaN (one block in nan_one_in), or
 * n for none: the same elements whatever the float type. */
static size_t nan_slot(const struct field *f, size_t n, uint64_t block)
{
    uint64_t h = mix64(f->seed ^ UINT64_C(0x4e614e) ^ (block * 0x100000001b3));
    if (f->nan_one_in && n && h % f->nan_one_in == 0)
        return (size_t)((h >> 16) % n);
    return n;
}

/* float32 values; returns the number of NaNs placed. */
static size_t fill_f32(const struct field *f, void *out, uint64_t flat0,
                       size_t n, uint64_t block)
{
    float *p = out;
    size_t k = nan_slot(f, n, block);
    FIELD_LOOP(p[i] = v_);
    if (k == n)
        return 0;
    p[k] = NAN;
    return 1;
}

/* float64 values: the float32 field plus a term below float32's
 * resolution, so that the low mantissa bits carry data as in real float64
 * files (all-zero low bits would flatter gzip and no real file has them). */
static size_t fill_f64(const struct field *f, void *out, uint64_t flat0,
                       size_t n, uint64_t block)
{
    double *p = out;
    size_t k = nan_slot(f, n, block);
    FIELD_LOOP(p[i] = (double)v_ + f->noise * 0x1p-21 * (double)g_ *
                                       (double)f->col[c_]);
    if (k == n)
        return 0;
    p[k] = NAN;
    return 1;
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
    enum bench_layout layout;
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

/* The creation properties of a layout: chunks of g->chunk (gzip: shuffle
 * then deflate, as h5py's compression="gzip", shuffle=True), or
 * contiguous (then g->chunk only sizes the blocks written). */
static hid_t gen_dcpl(const struct gen_dataset *g, char *err)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int ok = dcpl >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;

    if (ok && g->layout != LAYOUT_CONTIGUOUS)
        ok = H5Pset_chunk(dcpl, g->rank, g->chunk) >= 0;
    if (ok && g->layout == LAYOUT_GZIP) {
        if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
            H5Pclose(dcpl);
            fail(err, "this HDF5 library has no deflate filter");
            return -1;
        }
        ok = H5Pset_shuffle(dcpl) >= 0 &&
             H5Pset_deflate(dcpl, GZIP_LEVEL) >= 0;
    }
    if (!ok) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        hdf5_fail(err, "dataset creation properties for %s", g->name);
        return -1;
    }
    return dcpl;
}

/* Writes one dataset block by block (a block = one row of chunks, which
 * in our files is exactly one chunk). */
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
    if ((dcpl = gen_dcpl(g, err)) < 0)
        goto out;
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

/* --make-sample: /data float32 rows x 1024 in 1 MiB chunks (256 rows), and
 * /counts int16 rows x 64. */
int make_sample(const char *path, uint64_t size, char *err)
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
        .layout = LAYOUT_CHUNKED,
        .dims = { rows, FIELD_WIDTH },
        .chunk = { rows < SAMPLE_CHUNK_ROWS ? rows : SAMPLE_CHUNK_ROWS,
                   FIELD_WIDTH },
        .field = &data_field, .fill = fill_f32,
        .description = "smooth field plus Gaussian noise, a few NaNs",
        .units = "degC" };
    sets[1] = (struct gen_dataset){
        .name = "/counts", .file_type = H5T_STD_I16LE,
        .mem_type = H5T_NATIVE_INT16, .elsize = sizeof(int16_t), .rank = 2,
        .layout = LAYOUT_CHUNKED, .dims = { rows, SAMPLE_COUNTS_COLS },
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
 * Bench data: 1-D (n) or 2-D (rows x cols, 1024 by default), chunks of ~chunk_bytes
 * spanning whole rows; float32, float64 or int16; contiguous, chunked or
 * gzip + shuffle.
 */
static const char *const layout_names[LAYOUT_COUNT] = { "contiguous",
                                                        "chunked", "gzip" };

/* The file and memory types of a generated dtype, and its name in files. */
struct gen_type {
    h5cl_dtype dtype;
    const char *tag;
    hid_t file_type, mem_type;
    fill_fn fill;
};

static const struct gen_type *gen_type_of(h5cl_dtype dt)
{
    /* H5T_* are run-time ids: the table is filled on first use */
    static struct gen_type t[3];
    if (!t[0].tag) {
        t[0] = (struct gen_type){ H5CL_FLOAT32, "f32", H5T_IEEE_F32LE,
                                  H5T_NATIVE_FLOAT, fill_f32 };
        t[1] = (struct gen_type){ H5CL_FLOAT64, "f64", H5T_IEEE_F64LE,
                                  H5T_NATIVE_DOUBLE, fill_f64 };
        t[2] = (struct gen_type){ H5CL_INT16, "i16", H5T_STD_I16LE,
                                  H5T_NATIVE_INT16, fill_i16 };
    }
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i].dtype == dt)
            return &t[i];
    return NULL;
}

const char *layout_name(enum bench_layout l)
{
    return l < LAYOUT_COUNT ? layout_names[l] : "?";
}

int parse_layout(const char *text, enum bench_layout *ret)
{
    for (int i = 0; i < LAYOUT_COUNT; i++)
        if (strcmp(text, layout_names[i]) == 0) {
            *ret = (enum bench_layout)i;
            return 0;
        }
    return -1;
}

int parse_bench_dtype(const char *text, h5cl_dtype *ret)
{
    static const h5cl_dtype gen[] = { H5CL_FLOAT32, H5CL_FLOAT64,
                                      H5CL_INT16 };
    for (size_t i = 0; i < sizeof gen / sizeof *gen; i++)
        if (strcmp(text, h5cl_dtype_name(gen[i])) == 0) {
            *ret = gen[i];
            return 0;
        }
    return -1;
}

int bench_shape_for(int rank, unsigned cols, h5cl_dtype dtype,
                    enum bench_layout layout, uint64_t size,
                    uint64_t chunk_bytes, struct bench_shape *sh, char *err)
{
    const size_t el = h5cl_dtype_size(dtype);

    memset(sh, 0, sizeof *sh);
    if (!gen_type_of(dtype))
        return fail(err, "the bench generates float32, float64 or int16, "
                    "not %s", h5cl_dtype_name(dtype));
    sh->rank = rank;
    sh->dtype = dtype;
    sh->layout = layout;
    if (rank == 1) {
        sh->dims[0] = size / el;
        sh->chunk[0] = chunk_bytes / el;
    } else {
        if (cols < 1 || cols > MAX_COLS)
            return fail(err, "%u columns (1 to %d)", cols, MAX_COLS);
        sh->dims[0] = size / (cols * el);
        sh->dims[1] = cols;
        sh->chunk[0] = chunk_bytes / (cols * el);
        sh->chunk[1] = cols;
    }
    if (sh->dims[0] == 0)
        return fail(err, "--size %" PRIu64 " holds no %s", size,
                    rank == 1 ? "element" : "row of --cols values");
    if (sh->chunk[0] == 0)
        sh->chunk[0] = 1;
    if (sh->chunk[0] > sh->dims[0])
        sh->chunk[0] = sh->dims[0];
    return 0;
}

int bench_file_name(char *buf, size_t len, const char *dir,
                    const struct bench_shape *sh, uint64_t size,
                    uint64_t chunk_bytes)
{
    char sz[32], ch[32], lay[48], shape[32];

    if (sh->rank == 2 && sh->dims[1] != FIELD_WIDTH)
        snprintf(shape, sizeof shape, "2d%" PRIu64 "c", (uint64_t)sh->dims[1]);
    else
        snprintf(shape, sizeof shape, "%dd", sh->rank);
    if (sh->layout == LAYOUT_CONTIGUOUS)
        snprintf(lay, sizeof lay, "contiguous");
    else
        snprintf(lay, sizeof lay, "%s%s",
                 sh->layout == LAYOUT_GZIP ? "gzip" : "chunk",
                 fmt_bytes_exact(ch, sizeof ch, chunk_bytes));
    if (snprintf(buf, len, "%s/bench-%s-%s-%s-%s.h5", dir,
                 gen_type_of(sh->dtype)->tag, shape,
                 fmt_bytes_exact(sz, sizeof sz, size), lay) >= (int)len)
        return -1;
    return 0;
}

/* 1 when the dataset's layout and filters are those of sh->layout. */
static int layout_matches(hid_t dcpl, const struct bench_shape *sh)
{
    H5D_layout_t l = H5Pget_layout(dcpl);
    int nf = H5Pget_nfilters(dcpl);
    hsize_t chunk[H5S_MAX_RANK];

    if (sh->layout == LAYOUT_CONTIGUOUS)
        return l == H5D_CONTIGUOUS;
    if (l != H5D_CHUNKED || H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) != sh->rank)
        return 0;
    for (int i = 0; i < sh->rank; i++)
        if (chunk[i] != sh->chunk[i])
            return 0;
    if (sh->layout == LAYOUT_CHUNKED)
        return nf == 0;
    return nf == 2 &&
           H5Pget_filter2(dcpl, 0, NULL, NULL, NULL, 0, NULL, NULL) ==
               H5Z_FILTER_SHUFFLE &&
           H5Pget_filter2(dcpl, 1, NULL, NULL, NULL, 0, NULL, NULL) ==
               H5Z_FILTER_DEFLATE;
}

int bench_file_matches(const char *path, const struct bench_shape *sh)
{
    hid_t file = -1, dset = -1, type = -1, space = -1, dcpl = -1;
    hsize_t dims[H5S_MAX_RANK];
    uint64_t gen = 0, seed = 0;
    int ok = 0;

    if (access(path, R_OK) != 0)
        return 0;
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        goto out;
    if ((dset = H5Dopen2(file, DEFAULT_DATASET, H5P_DEFAULT)) < 0)
        goto out;
    if ((type = H5Dget_type(dset)) < 0 ||
        H5Tequal(type, gen_type_of(sh->dtype)->file_type) <= 0)
        goto out;
    if ((space = H5Dget_space(dset)) < 0 ||
        H5Sget_simple_extent_ndims(space) != sh->rank)
        goto out;
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < sh->rank; i++)
        if (dims[i] != sh->dims[i])
            goto out;
    if ((dcpl = H5Dget_create_plist(dset)) < 0 || !layout_matches(dcpl, sh))
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

/* The field's scale per dtype: the float types hold a temperature-like
 * field in degrees C (about 4 to 26, NaNs for missing values); int16
 * holds the same field packed in hundredths of a degree, as CF packing
 * (scale_factor 0.01) stores it, where NaN cannot exist. */
static void bench_field_scale(struct field *f, h5cl_dtype dt)
{
    const double scale = dt == H5CL_INT16 ? 100.0 : 1.0;
    f->base = 15.0 * scale;
    f->amp = 6.0 * scale;
    f->ripple = 1.5 * scale;
    f->noise = 0.8 * scale;
    f->nan_one_in = dt == H5CL_INT16 ? 0 : NAN_ONE_IN;
}

int bench_generate(const char *path, const struct bench_shape *sh,
                   char *err)
{
    const struct gen_type *gt = gen_type_of(sh->dtype);
    struct field f;
    struct gen_dataset set;
    uint64_t n = sh->dims[0] * (sh->rank == 2 ? sh->dims[1] : 1);
    uint64_t nbytes = n * h5cl_dtype_size(sh->dtype);
    /* 1-D data folds the field at FIELD_WIDTH; 2-D rows are field rows */
    const uint64_t width = sh->rank == 2 ? sh->dims[1] : FIELD_WIDTH;
    char b1[32];
    double t0 = now_seconds();
    int rc = -1;

    memset(&f, 0, sizeof f);
    if (field_init(&f, width, (n + width - 1) / width, GEN_SEED, err))
        goto out;
    bench_field_scale(&f, sh->dtype);
    memset(&set, 0, sizeof set);
    set = (struct gen_dataset){
        .name = DEFAULT_DATASET, .file_type = gt->file_type,
        .mem_type = gt->mem_type, .elsize = h5cl_dtype_size(sh->dtype),
        .rank = sh->rank, .layout = sh->layout,
        .dims = { sh->dims[0], sh->dims[1] },
        .chunk = { sh->chunk[0], sh->chunk[1] }, .field = &f,
        .fill = gt->fill,
        .description = "h5cl-bench data: smooth field plus Gaussian noise",
        .units = sh->dtype == H5CL_INT16 ? "0.01 degC" : "degC" };
    fprintf(stderr, "%s: generating %s (%s of %s, %s)\n", BENCH_NAME, path,
            fmt_bytes(b1, sizeof b1, nbytes), h5cl_dtype_name(sh->dtype),
            layout_name(sh->layout));
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
