/*
 * Test helpers (see check_util.h) and the util suite, which checks the
 * helpers themselves: the reference statistics against hand-computed
 * figures, numpy selection normalisation, the JSON checker, the PRNG.
 */
#include "check_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

h5cl_ctx *tu_ctx;
h5cl_device_info tu_dev;

static char tu_root[512];
static char tu_test_dir[768];

/* ---- cleanup stack ---------------------------------------------------- */

#define TU_MAX_DEFER 1024

static struct {
    void (*fn)(void *);
    void *p;
} tu_defers[TU_MAX_DEFER];
static size_t tu_ndefer;

void tu_defer(void (*fn)(void *), void *p)
{
    ck_assert_msg(tu_ndefer < TU_MAX_DEFER, "too many deferred cleanups");
    tu_defers[tu_ndefer].fn = fn;
    tu_defers[tu_ndefer].p = p;
    tu_ndefer++;
}

void tu_release(void *p)
{
    size_t i;
    for (i = tu_ndefer; i-- > 0;) {
        if (tu_defers[i].p == p) {
            void (*fn)(void *) = tu_defers[i].fn;
            memmove(&tu_defers[i], &tu_defers[i + 1],
                    (tu_ndefer - i - 1) * sizeof tu_defers[0]);
            tu_ndefer--;
            fn(p);
            return;
        }
    }
}

static void tu_run_defers(void)
{
    while (tu_ndefer > 0) {
        tu_ndefer--;
        tu_defers[tu_ndefer].fn(tu_defers[tu_ndefer].p);
    }
}

void *tu_alloc(size_t nbytes)
{
    void *p = calloc(1, nbytes ? nbytes : 1);
    ck_assert_msg(p != NULL, "out of memory (%zu bytes)", nbytes);
    tu_defer(free, p);
    return p;
}

typedef struct saved_env {
    char *name;
    char *value; /* NULL: was unset */
} saved_env;

static void restore_env(void *p)
{
    saved_env *e = p;
    if (e->value)
        setenv(e->name, e->value, 1);
    else
        unsetenv(e->name);
    free(e->name);
    free(e->value);
    free(e);
}

void tu_setenv(const char *name, const char *value)
{
    const char *old = getenv(name);
    saved_env *e = calloc(1, sizeof *e);
    ck_assert(e != NULL);
    e->name = strdup(name);
    e->value = old ? strdup(old) : NULL;
    ck_assert(e->name != NULL && (!old || e->value != NULL));
    tu_defer(restore_env, e);
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

int tu_runner_forks(void)
{
    const char *mode = getenv("CK_FORK");
    return !mode || strcmp(mode, "no") != 0;
}

/* ---- temporary directories -------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    if (path[0])
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_tmp_root_create(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    snprintf(tu_root, sizeof tu_root, "%s/h5cl-tests-XXXXXX", base);
    if (!mkdtemp(tu_root)) {
        tu_root[0] = '\0';
        return -1;
    }
    return 0;
}

void tu_tmp_root_remove(void)
{
    const char *keep = getenv("H5CL_TEST_KEEP");
    if (keep && keep[0] && strcmp(keep, "0") != 0)
        return;
    rm_tree(tu_root);
    tu_root[0] = '\0';
}

void tu_setup(void)
{
    const char *base = tu_root;
    if (!base[0]) {
        base = getenv("TMPDIR");
        if (!base || !base[0])
            base = "/tmp";
    }
    snprintf(tu_test_dir, sizeof tu_test_dir, "%s/t-XXXXXX", base);
    ck_assert_msg(mkdtemp(tu_test_dir) != NULL, "mkdtemp %s: %s",
                  tu_test_dir, strerror(errno));
    tu_ndefer = 0;
    tu_ctx = NULL;
    memset(&tu_dev, 0, sizeof tu_dev);
    /* The tests' own HDF5 calls report through ck_assert, not stderr. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void tu_teardown(void)
{
    tu_run_defers();
    rm_tree(tu_test_dir);
    tu_test_dir[0] = '\0';
}

void tu_ctx_setup(void)
{
    int rc;
    tu_setup();
    rc = h5cl_ctx_create(&tu_ctx);
    ck_assert_msg(rc == H5CL_OK && tu_ctx != NULL, "h5cl_ctx_create: %d", rc);
    rc = h5cl_ctx_device(tu_ctx, &tu_dev);
    ck_assert_msg(rc == H5CL_OK, "h5cl_ctx_device: %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
}

void tu_ctx_teardown(void)
{
    tu_run_defers();
    h5cl_ctx_destroy(tu_ctx);
    tu_ctx = NULL;
    tu_teardown();
}

const char *tu_dir(void)
{
    return tu_test_dir;
}

const char *tu_path(const char *name)
{
    static char bufs[64][1024];
    static unsigned next;
    char *b = bufs[next++ % 64];
    snprintf(b, sizeof bufs[0], "%s/%s", tu_test_dir, name);
    return b;
}

/* ---- PRNG --------------------------------------------------------------- */

void tu_rng_seed(tu_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t tu_rng_u64(tu_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t tu_rng_below(tu_rng *r, uint64_t n)
{
    return n ? tu_rng_u64(r) % n : 0;
}

int64_t tu_rng_range(tu_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    if (span == 0)
        return (int64_t)tu_rng_u64(r);
    return (int64_t)((uint64_t)lo + tu_rng_below(r, span));
}

double tu_rng_unit(tu_rng *r)
{
    return (double)(tu_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* ---- typed arrays ------------------------------------------------------- */

void tu_array_init(tu_array *a, h5cl_dtype dtype, int rank,
                   const uint64_t *dims)
{
    int i;
    memset(a, 0, sizeof *a);
    a->dtype = dtype;
    a->rank = rank;
    a->n = 1;
    for (i = 0; i < rank; i++) {
        a->dims[i] = dims[i];
        a->n *= dims[i];
    }
    a->data = tu_alloc(a->n * h5cl_dtype_size(dtype));
}

int tu_dtype_is_float(h5cl_dtype dtype)
{
    return dtype == H5CL_FLOAT32 || dtype == H5CL_FLOAT64;
}

int tu_dtype_is_signed(h5cl_dtype dtype)
{
    return dtype == H5CL_INT8 || dtype == H5CL_INT16 || dtype == H5CL_INT32 ||
           dtype == H5CL_INT64;
}

h5cl_kind tu_dtype_kind(h5cl_dtype dtype)
{
    if (tu_dtype_is_float(dtype))
        return H5CL_KIND_FLOAT;
    return tu_dtype_is_signed(dtype) ? H5CL_KIND_SIGNED : H5CL_KIND_UNSIGNED;
}

int64_t tu_dtype_min_i(h5cl_dtype dtype)
{
    switch (dtype) {
    case H5CL_INT8: return INT8_MIN;
    case H5CL_INT16: return INT16_MIN;
    case H5CL_INT32: return INT32_MIN;
    case H5CL_INT64: return INT64_MIN;
    default: return 0;
    }
}

int64_t tu_dtype_max_i(h5cl_dtype dtype)
{
    switch (dtype) {
    case H5CL_INT8: return INT8_MAX;
    case H5CL_INT16: return INT16_MAX;
    case H5CL_INT32: return INT32_MAX;
    default: return INT64_MAX;
    }
}

uint64_t tu_dtype_max_u(h5cl_dtype dtype)
{
    switch (dtype) {
    case H5CL_UINT8: return UINT8_MAX;
    case H5CL_UINT16: return UINT16_MAX;
    case H5CL_UINT32: return UINT32_MAX;
    default: return UINT64_MAX;
    }
}

#define TU_AT(type, a, i) (((type *)(a)->data)[i])

double tu_get_f(const tu_array *a, uint64_t i)
{
    switch (a->dtype) {
    case H5CL_FLOAT32: return TU_AT(float, a, i);
    case H5CL_FLOAT64: return TU_AT(double, a, i);
    case H5CL_INT8: case H5CL_INT16: case H5CL_INT32: case H5CL_INT64:
        return (double)tu_get_i(a, i);
    default: return (double)tu_get_u(a, i);
    }
}

int64_t tu_get_i(const tu_array *a, uint64_t i)
{
    switch (a->dtype) {
    case H5CL_INT8: return TU_AT(int8_t, a, i);
    case H5CL_INT16: return TU_AT(int16_t, a, i);
    case H5CL_INT32: return TU_AT(int32_t, a, i);
    case H5CL_INT64: return TU_AT(int64_t, a, i);
    case H5CL_FLOAT32: case H5CL_FLOAT64: return (int64_t)tu_get_f(a, i);
    default: return (int64_t)tu_get_u(a, i);
    }
}

uint64_t tu_get_u(const tu_array *a, uint64_t i)
{
    switch (a->dtype) {
    case H5CL_UINT8: return TU_AT(uint8_t, a, i);
    case H5CL_UINT16: return TU_AT(uint16_t, a, i);
    case H5CL_UINT32: return TU_AT(uint32_t, a, i);
    case H5CL_UINT64: return TU_AT(uint64_t, a, i);
    default: return (uint64_t)tu_get_i(a, i);
    }
}

void tu_set_f(tu_array *a, uint64_t i, double v)
{
    if (a->dtype == H5CL_FLOAT32)
        TU_AT(float, a, i) = (float)v;
    else if (a->dtype == H5CL_FLOAT64)
        TU_AT(double, a, i) = v;
    else
        tu_set_d(a, i, v);
}

void tu_set_i(tu_array *a, uint64_t i, int64_t v)
{
    switch (a->dtype) {
    case H5CL_INT8: TU_AT(int8_t, a, i) = (int8_t)v; break;
    case H5CL_INT16: TU_AT(int16_t, a, i) = (int16_t)v; break;
    case H5CL_INT32: TU_AT(int32_t, a, i) = (int32_t)v; break;
    case H5CL_INT64: TU_AT(int64_t, a, i) = v; break;
    case H5CL_FLOAT32: case H5CL_FLOAT64: tu_set_f(a, i, (double)v); break;
    default: tu_set_u(a, i, (uint64_t)v); break;
    }
}

void tu_set_u(tu_array *a, uint64_t i, uint64_t v)
{
    switch (a->dtype) {
    case H5CL_UINT8: TU_AT(uint8_t, a, i) = (uint8_t)v; break;
    case H5CL_UINT16: TU_AT(uint16_t, a, i) = (uint16_t)v; break;
    case H5CL_UINT32: TU_AT(uint32_t, a, i) = (uint32_t)v; break;
    case H5CL_UINT64: TU_AT(uint64_t, a, i) = v; break;
    case H5CL_FLOAT32: case H5CL_FLOAT64: tu_set_f(a, i, (double)v); break;
    default: tu_set_i(a, i, (int64_t)v); break;
    }
}

void tu_set_d(tu_array *a, uint64_t i, double v)
{
    if (tu_dtype_is_float(a->dtype))
        tu_set_f(a, i, v);
    else if (tu_dtype_is_signed(a->dtype))
        tu_set_i(a, i, (int64_t)v);
    else
        tu_set_u(a, i, (uint64_t)v);
}

void tu_fill_random(tu_array *a, tu_rng *r, double nan_fraction)
{
    uint64_t i;
    for (i = 0; i < a->n; i++) {
        switch (a->dtype) {
        case H5CL_INT64:
            tu_set_i(a, i, tu_rng_range(r, -(INT64_C(1) << 44), INT64_C(1) << 44));
            break;
        case H5CL_UINT64:
            tu_set_u(a, i, tu_rng_below(r, UINT64_C(1) << 45));
            break;
        case H5CL_FLOAT32:
        case H5CL_FLOAT64:
            if (nan_fraction > 0 && tu_rng_unit(r) < nan_fraction) {
                tu_set_f(a, i, NAN);
            } else {
                /* multiples of 1/1024 keep float32 values exact too */
                double v = -50.0 + (double)tu_rng_below(r, 200 * 1024) / 1024.0;
                tu_set_f(a, i, v);
            }
            break;
        default:
            if (tu_dtype_is_signed(a->dtype))
                tu_set_i(a, i, tu_rng_range(r, tu_dtype_min_i(a->dtype),
                                            tu_dtype_max_i(a->dtype)));
            else
                tu_set_u(a, i, tu_rng_below(r, tu_dtype_max_u(a->dtype) + 1));
            break;
        }
    }
}

void tu_plant_extrema(tu_array *a, tu_rng *r)
{
    uint64_t pos[4];
    int k, j;
    double lo, hi;
    if (a->n < 5)
        return;
    for (k = 0; k < 4; k++) {
    again:
        pos[k] = 1 + tu_rng_below(r, a->n - 1);
        for (j = 0; j < k; j++)
            if (pos[j] == pos[k])
                goto again;
    }
    switch (a->dtype) {
    case H5CL_FLOAT32: case H5CL_FLOAT64: lo = -1000.25; hi = 1000.75; break;
    case H5CL_INT64: lo = -0x1p50; hi = 0x1p50; break;
    case H5CL_UINT64: lo = 0; hi = 0x1p50; break;
    default:
        lo = tu_dtype_is_signed(a->dtype) ? (double)tu_dtype_min_i(a->dtype) : 0;
        hi = tu_dtype_is_signed(a->dtype) ? (double)tu_dtype_max_i(a->dtype)
                                          : (double)tu_dtype_max_u(a->dtype);
        break;
    }
    tu_set_d(a, pos[0], lo);
    tu_set_d(a, pos[1], lo);
    tu_set_d(a, pos[2], hi);
    tu_set_d(a, pos[3], hi);
}

/* ---- HDF5 writing ------------------------------------------------------- */

static hid_t tu_mem_type(h5cl_dtype dtype)
{
    switch (dtype) {
    case H5CL_INT8: return H5T_NATIVE_INT8;
    case H5CL_UINT8: return H5T_NATIVE_UINT8;
    case H5CL_INT16: return H5T_NATIVE_INT16;
    case H5CL_UINT16: return H5T_NATIVE_UINT16;
    case H5CL_INT32: return H5T_NATIVE_INT32;
    case H5CL_UINT32: return H5T_NATIVE_UINT32;
    case H5CL_INT64: return H5T_NATIVE_INT64;
    case H5CL_UINT64: return H5T_NATIVE_UINT64;
    case H5CL_FLOAT32: return H5T_NATIVE_FLOAT;
    default: return H5T_NATIVE_DOUBLE;
    }
}

static hid_t tu_file_type(h5cl_dtype dtype, int be)
{
    switch (dtype) {
    case H5CL_INT8: return be ? H5T_STD_I8BE : H5T_STD_I8LE;
    case H5CL_UINT8: return be ? H5T_STD_U8BE : H5T_STD_U8LE;
    case H5CL_INT16: return be ? H5T_STD_I16BE : H5T_STD_I16LE;
    case H5CL_UINT16: return be ? H5T_STD_U16BE : H5T_STD_U16LE;
    case H5CL_INT32: return be ? H5T_STD_I32BE : H5T_STD_I32LE;
    case H5CL_UINT32: return be ? H5T_STD_U32BE : H5T_STD_U32LE;
    case H5CL_INT64: return be ? H5T_STD_I64BE : H5T_STD_I64LE;
    case H5CL_UINT64: return be ? H5T_STD_U64BE : H5T_STD_U64LE;
    case H5CL_FLOAT32: return be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE;
    default: return be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE;
    }
}

void tu_write_opts_init(tu_write_opts *o)
{
    memset(o, 0, sizeof *o);
    o->layout = H5CL_LAYOUT_CONTIGUOUS;
    o->write_rows = -1;
}

static hid_t tu_file_open_rw(const char *file, uint64_t userblock)
{
    hid_t f;
    if (access(file, F_OK) == 0) {
        f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    } else {
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        ck_assert(fcpl >= 0 && H5Pset_userblock(fcpl, userblock) >= 0);
        f = H5Fcreate(file, H5F_ACC_EXCL, fcpl, H5P_DEFAULT);
        H5Pclose(fcpl);
    }
    ck_assert_msg(f >= 0, "cannot create or open %s", file);
    return f;
}

static hid_t tu_lcpl(void)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    ck_assert(lcpl >= 0);
    ck_assert(H5Pset_create_intermediate_group(lcpl, 1) >= 0);
    return lcpl;
}

static hid_t tu_make_dcpl(const tu_array *a, const tu_write_opts *o,
                          hsize_t *maxdims)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[H5CL_MAX_RANK];
    int i;
    ck_assert(dcpl >= 0);
    for (i = 0; i < a->rank; i++)
        maxdims[i] = a->dims[i];
    if (o->layout == H5CL_LAYOUT_COMPACT) {
        ck_assert(H5Pset_layout(dcpl, H5D_COMPACT) >= 0);
    } else if (o->layout == H5CL_LAYOUT_CHUNKED) {
        ck_assert_msg(a->rank > 0, "a scalar cannot be chunked");
        for (i = 0; i < a->rank; i++) {
            hsize_t c = o->chunk[i] ? o->chunk[i] : 7;
            if (o->unlimited || a->dims[i] == 0)
                maxdims[i] = H5S_UNLIMITED;
            else if (c > a->dims[i])
                c = a->dims[i];
            chunk[i] = c ? c : 1;
        }
        ck_assert(H5Pset_chunk(dcpl, a->rank, chunk) >= 0);
        if (o->shuffle)
            ck_assert(H5Pset_shuffle(dcpl) >= 0);
        if (o->gzip)
            ck_assert(H5Pset_deflate(dcpl, (unsigned)o->gzip) >= 0);
        if (o->fletcher32)
            ck_assert(H5Pset_fletcher32(dcpl) >= 0);
    } else {
        ck_assert(H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0);
    }
    if (o->has_fill) {
        unsigned char fill[8];
        tu_array one = *a;
        one.data = fill;
        tu_set_d(&one, 0, o->fill);
        ck_assert(H5Pset_fill_value(dcpl, tu_mem_type(a->dtype), fill) >= 0);
    }
    return dcpl;
}

/* Replaces the unwritten tail (rows >= rows along axis 0) by fill. */
static void tu_apply_fill(tu_array *a, const tu_write_opts *o, uint64_t rows)
{
    uint64_t row_elems = a->dims[0] ? a->n / a->dims[0] : 0, i;
    for (i = rows * row_elems; i < a->n; i++)
        tu_set_d(a, i, o->has_fill ? o->fill : 0.0);
}

void tu_write(const char *file, const char *path, tu_array *a,
              const tu_write_opts *o)
{
    hsize_t dims[H5CL_MAX_RANK], maxdims[H5CL_MAX_RANK];
    hid_t f, space, dcpl, lcpl, dset, mtype = tu_mem_type(a->dtype);
    int i;
    f = tu_file_open_rw(file, o->userblock);
    dcpl = tu_make_dcpl(a, o, maxdims);
    for (i = 0; i < a->rank; i++)
        dims[i] = a->dims[i];
    space = a->rank == 0 ? H5Screate(H5S_SCALAR)
                         : H5Screate_simple(a->rank, dims, maxdims);
    ck_assert(space >= 0);
    lcpl = tu_lcpl();
    dset = H5Dcreate2(f, path, tu_file_type(a->dtype, o->big_endian), space,
                      lcpl, dcpl, H5P_DEFAULT);
    ck_assert_msg(dset >= 0, "H5Dcreate2 %s:%s failed", file, path);
    if (o->write_rows < 0 || a->rank == 0) {
        if (a->n > 0)
            ck_assert(H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                               a->data) >= 0);
    } else {
        uint64_t rows = (uint64_t)o->write_rows;
        hsize_t start[H5CL_MAX_RANK] = {0}, count[H5CL_MAX_RANK];
        if (rows > a->dims[0])
            rows = a->dims[0];
        for (i = 0; i < a->rank; i++)
            count[i] = dims[i];
        count[0] = rows;
        if (rows > 0 && a->n > 0) {
            hid_t mspace = H5Screate_simple(a->rank, dims, NULL);
            ck_assert(H5Sselect_hyperslab(mspace, H5S_SELECT_SET, start, NULL,
                                          count, NULL) >= 0);
            ck_assert(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL,
                                          count, NULL) >= 0);
            ck_assert(H5Dwrite(dset, mtype, mspace, space, H5P_DEFAULT,
                               a->data) >= 0);
            H5Sclose(mspace);
        }
        tu_apply_fill(a, o, rows);
    }
    H5Dclose(dset);
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Pclose(dcpl);
    ck_assert(H5Fclose(f) >= 0);
}

void tu_write_group(const char *file, const char *path)
{
    hid_t f = tu_file_open_rw(file, 0), lcpl = tu_lcpl();
    hid_t g = H5Gcreate2(f, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(g >= 0, "H5Gcreate2 %s failed", path);
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(f);
}

/* The h5cl dtype of a numeric HDF5 type (either byte order). */
static h5cl_dtype tu_dtype_of(hid_t type, const char *what)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT && (size == 4 || size == 8))
        return size == 4 ? H5CL_FLOAT32 : H5CL_FLOAT64;
    ck_assert_msg(cls == H5T_INTEGER, "%s: not a numeric type (class %d)", what,
                  (int)cls);
    int sgn = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
    case 1: return sgn ? H5CL_INT8 : H5CL_UINT8;
    case 2: return sgn ? H5CL_INT16 : H5CL_UINT16;
    case 4: return sgn ? H5CL_INT32 : H5CL_UINT32;
    case 8: return sgn ? H5CL_INT64 : H5CL_UINT64;
    default: break;
    }
    ck_abort_msg("%s: integer of %zu bytes", what, size);
    return H5CL_DTYPE_COUNT;
}

void tu_read(const char *file, const char *path, tu_array *a)
{
    hsize_t hd[H5CL_MAX_RANK];
    uint64_t dims[H5CL_MAX_RANK];
    hid_t f, d, t, s;
    int rank, i;
    f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "tu_read: cannot open %s", file);
    d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "tu_read: no dataset %s in %s", path, file);
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    ck_assert(t >= 0 && s >= 0);
    rank = H5Sget_simple_extent_ndims(s);
    ck_assert_msg(rank >= 0 && rank <= H5CL_MAX_RANK, "tu_read: rank %d", rank);
    ck_assert(H5Sget_simple_extent_dims(s, hd, NULL) == rank);
    for (i = 0; i < rank; i++)
        dims[i] = hd[i];
    tu_array_init(a, tu_dtype_of(t, path), rank, dims);
    if (a->n > 0)
        ck_assert_msg(H5Dread(d, tu_mem_type(a->dtype), H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, a->data) >= 0,
                      "tu_read: H5Dread %s in %s failed", path, file);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    ck_assert(H5Fclose(f) >= 0);
}

void tu_write_special(const char *file, const char *path, const char *what)
{
    hsize_t dims[1] = {4};
    hid_t f = tu_file_open_rw(file, 0), lcpl = tu_lcpl();
    hid_t space = H5Screate_simple(1, dims, NULL), type, dset;
    unsigned char buf[256];
    const char *strs[4] = {"a", "bb", "ccc", "dddd"};
    const void *data = buf;
    memset(buf, 1, sizeof buf);
    if (strcmp(what, "compound") == 0) {
        type = H5Tcreate(H5T_COMPOUND, 12); /* packed: no padding bytes */
        H5Tinsert(type, "a", 0, H5T_NATIVE_INT32);
        H5Tinsert(type, "b", 4, H5T_NATIVE_DOUBLE);
    } else if (strcmp(what, "string") == 0) {
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 8);
    } else if (strcmp(what, "vlen-string") == 0) {
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        data = strs;
    } else if (strcmp(what, "enum") == 0) {
        int v = 0;
        type = H5Tenum_create(H5T_NATIVE_INT);
        H5Tenum_insert(type, "ZERO", &v);
        v = 1;
        H5Tenum_insert(type, "ONE", &v);
        memset(buf, 0, sizeof buf);
    } else if (strcmp(what, "opaque") == 0) {
        type = H5Tcreate(H5T_OPAQUE, 4);
        H5Tset_tag(type, "test opaque");
    } else {
        hsize_t adims[1] = {3};
        ck_assert_msg(strcmp(what, "array") == 0, "unknown type %s", what);
        type = H5Tarray_create2(H5T_NATIVE_INT32, 1, adims);
    }
    ck_assert(type >= 0);
    dset = H5Dcreate2(f, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(dset >= 0, "H5Dcreate2 %s (%s) failed", path, what);
    ck_assert(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(dset);
    H5Tclose(type);
    H5Sclose(space);
    H5Pclose(lcpl);
    H5Fclose(f);
}

/* ---- reference ---------------------------------------------------------- */

void tu_sel_all(tu_sel *s, const tu_array *a)
{
    int i;
    memset(s, 0, sizeof *s);
    s->rank = a->rank;
    for (i = 0; i < a->rank; i++)
        s->count[i] = a->dims[i];
}

static int64_t tu_norm_index(int64_t v, uint64_t dim)
{
    int64_t d = (int64_t)dim;
    if (v < 0)
        v += d;
    if (v < 0)
        v = 0;
    if (v > d)
        v = d;
    return v;
}

void tu_sel_axis(tu_sel *s, int axis, uint64_t dim, int has_start,
                 int64_t start, int has_stop, int64_t stop)
{
    int64_t b = has_start ? tu_norm_index(start, dim) : 0;
    int64_t e = has_stop ? tu_norm_index(stop, dim) : (int64_t)dim;
    s->start[axis] = (uint64_t)b;
    s->count[axis] = e > b ? (uint64_t)(e - b) : 0;
}

/* Calls fn for every selected element in C order with its source index,
 * its output position and its index within the reduction. */
typedef void (*tu_visit_fn)(const tu_array *a, uint64_t src, tu_ref *out,
                            uint64_t pos, void *user);

static void tu_visit(const tu_array *a, const tu_sel *s, int axis,
                     tu_ref *refs, tu_visit_fn fn, void *user)
{
    uint64_t idx[H5CL_MAX_RANK] = {0}, stride[H5CL_MAX_RANK], total = 1, k;
    int i;
    for (i = a->rank - 1; i >= 0; i--)
        stride[i] = (i == a->rank - 1) ? 1 : stride[i + 1] * a->dims[i + 1];
    for (i = 0; i < s->rank; i++)
        total *= s->count[i];
    for (k = 0; k < total; k++) {
        uint64_t src = 0, o = 0, pos = k;
        for (i = 0; i < a->rank; i++)
            src += (s->start[i] + idx[i]) * stride[i];
        if (axis >= 0) {
            for (i = 0; i < a->rank; i++)
                if (i != axis)
                    o = o * s->count[i] + idx[i];
            pos = idx[axis];
        }
        fn(a, src, &refs[o], pos, user);
        for (i = a->rank - 1; i >= 0; i--) {
            if (++idx[i] < s->count[i])
                break;
            idx[i] = 0;
        }
    }
}

/* Neumaier summation: *s + *c carries the sum.  Natively long double has a
 * 64-bit significand; under valgrind it is a double, and this keeps the
 * reference well inside the tolerances there too. */
static void tu_add(long double *s, long double *c, long double x)
{
    long double t = *s + x;
    /* an infinite sum has no rounding error to keep (inf - inf would
     * make the compensation, and so the sum, NaN) */
    if (!isfinite(t))
        *c = 0;
    else if (fabsl(*s) >= fabsl(x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

static void tu_pass1(const tu_array *a, uint64_t src, tu_ref *r, uint64_t pos,
                     void *user)
{
    (void)user;
    if (r->kind == H5CL_KIND_FLOAT) {
        double v = tu_get_f(a, src);
        if (isnan(v)) {
            r->nan_count++;
            return;
        }
        tu_add(&r->fsum, &r->fcomp, v);
        r->abssum += fabsl((long double)v);
        if (r->count == 0 || v < r->min.f) {
            r->min.f = v;
            r->argmin = pos;
        }
        if (r->count == 0 || v > r->max.f) {
            r->max.f = v;
            r->argmax = pos;
        }
    } else if (r->kind == H5CL_KIND_SIGNED) {
        int64_t v = tu_get_i(a, src);
        r->isum += v;
        tu_add(&r->fsum, &r->fcomp, (long double)v);
        r->abssum += fabsl((long double)v);
        if (r->count == 0 || v < r->min.i) {
            r->min.i = v;
            r->argmin = pos;
        }
        if (r->count == 0 || v > r->max.i) {
            r->max.i = v;
            r->argmax = pos;
        }
    } else {
        uint64_t v = tu_get_u(a, src);
        r->isum += v;
        tu_add(&r->fsum, &r->fcomp, (long double)v);
        r->abssum += (long double)v;
        if (r->count == 0 || v < r->min.u) {
            r->min.u = v;
            r->argmin = pos;
        }
        if (r->count == 0 || v > r->max.u) {
            r->max.u = v;
            r->argmax = pos;
        }
    }
    r->count++;
}

static void tu_pass2(const tu_array *a, uint64_t src, tu_ref *r, uint64_t pos,
                     void *user)
{
    long double v, d;
    (void)pos;
    (void)user;
    if (r->kind == H5CL_KIND_FLOAT) {
        if (isnan(tu_get_f(a, src)))
            return;
        v = tu_get_f(a, src);
    } else if (r->kind == H5CL_KIND_SIGNED) {
        v = (long double)tu_get_i(a, src);
    } else {
        v = (long double)tu_get_u(a, src);
    }
    d = v - r->mean;
    tu_add(&r->var, &r->fcomp, d * d);
}

tu_ref *tu_reference(const tu_array *a, const tu_sel *sel, int axis,
                     size_t *nout, int *out_rank, uint64_t *out_dims)
{
    tu_sel all;
    tu_ref *refs;
    size_t n = 1, i;
    int d, r = 0;
    if (!sel) {
        tu_sel_all(&all, a);
        sel = &all;
    }
    ck_assert_msg(axis < a->rank, "reference: axis %d of rank %d", axis, a->rank);
    if (axis >= 0) {
        for (d = 0; d < a->rank; d++) {
            if (d == axis)
                continue;
            out_dims[r++] = sel->count[d];
            n *= sel->count[d];
        }
    }
    *out_rank = r;
    *nout = n;
    refs = tu_alloc((n ? n : 1) * sizeof *refs);
    for (i = 0; i < n; i++)
        refs[i].kind = tu_dtype_kind(a->dtype);
    if (n == 0)
        return refs;
    tu_visit(a, sel, axis, refs, tu_pass1, NULL);
    for (i = 0; i < n; i++) {
        tu_ref *x = &refs[i];
        /* fsum was summed alongside isum: converting the __int128 goes
         * wrong under valgrind, whose long double is a double */
        x->fsum += x->fcomp;
        x->fcomp = 0;
        if (x->kind == H5CL_KIND_SIGNED)
            x->overflow = x->isum > INT64_MAX || x->isum < INT64_MIN;
        else if (x->kind == H5CL_KIND_UNSIGNED)
            x->overflow = x->isum > (__int128)UINT64_MAX;
        x->mean = x->count ? x->fsum / (long double)x->count : (long double)NAN;
    }
    tu_visit(a, sel, axis, refs, tu_pass2, NULL);
    for (i = 0; i < n; i++)
        refs[i].var = refs[i].count ? (refs[i].var + refs[i].fcomp) / (long double)refs[i].count
                                    : (long double)NAN;
    return refs;
}

tu_tol tu_tolerance(const h5cl_device_info *dev)
{
    tu_tol t;
    t.sum_rel = dev->has_fp64 ? 1e-12 : 1e-6;
    t.var_rel = dev->has_fp64 ? 1e-9 : 1e-4;
    t.var_floor = dev->has_fp64 ? 1e-28 : 1e-12;
    return t;
}

/* |got - want| <= rel * max(|want|, scale) + floor */
static int tu_close_enough(long double got, long double want, double rel,
                           long double scale, long double floor)
{
    long double tol;
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    tol = (long double)rel * fmaxl(fabsl(want), scale) + floor;
    return fabsl(got - want) <= tol;
}

static double tu_scalar_as_double(h5cl_kind kind, h5cl_scalar s)
{
    if (kind == H5CL_KIND_FLOAT)
        return s.f;
    return kind == H5CL_KIND_SIGNED ? (double)s.i : (double)s.u;
}

static void tu_check_empty_state(const h5cl_stats_state *got, const char *what)
{
    double s = h5cl_stats_state_sum(got);
    ck_assert_msg(isnan(h5cl_stats_state_mean(got)), "%s: mean of no values is %g, want NaN",
                  what, h5cl_stats_state_mean(got));
    ck_assert_msg(isnan(h5cl_stats_state_var(got, 0)), "%s: var of no values not NaN", what);
    ck_assert_msg(isnan(h5cl_stats_state_std(got, 0)), "%s: std of no values not NaN", what);
    ck_assert_msg(isnan(h5cl_stats_state_min(got)), "%s: min of no values not NaN", what);
    ck_assert_msg(isnan(h5cl_stats_state_max(got)), "%s: max of no values not NaN", what);
    /* The header calls every derived figure NaN when there are no values;
     * an empty sum of 0 is the other defensible reading. */
    ck_assert_msg(isnan(s) || s == 0.0, "%s: sum of no values is %g", what, s);
    ck_assert_msg(!got->overflow, "%s: overflow set with no values", what);
    ck_assert_msg(got->sum_hi == 0, "%s: sum_hi set with no values", what);
}

void tu_check_state(const h5cl_stats_state *got, const tu_ref *want,
                    tu_tol tol, const char *what)
{
    long double mscale, vfloor, want_var1;
    double v;
    ck_assert_msg(got != NULL, "%s: state is NULL", what);
    ck_assert_msg(got->kind == (int32_t)want->kind, "%s: kind %d, want %d", what,
                  got->kind, want->kind);
    ck_assert_msg(got->count == want->count, "%s: count %llu, want %llu", what,
                  (unsigned long long)got->count, (unsigned long long)want->count);
    ck_assert_msg(got->nan_count == want->nan_count, "%s: nan_count %llu, want %llu",
                  what, (unsigned long long)got->nan_count,
                  (unsigned long long)want->nan_count);
    if (want->count == 0) {
        tu_check_empty_state(got, what);
        return;
    }
    if (want->kind == H5CL_KIND_FLOAT) {
        ck_assert_msg(got->min.f == want->min.f, "%s: min %.17g, want %.17g", what,
                      got->min.f, want->min.f);
        ck_assert_msg(got->max.f == want->max.f, "%s: max %.17g, want %.17g", what,
                      got->max.f, want->max.f);
    } else if (want->kind == H5CL_KIND_SIGNED) {
        ck_assert_msg(got->min.i == want->min.i, "%s: min %lld, want %lld", what,
                      (long long)got->min.i, (long long)want->min.i);
        ck_assert_msg(got->max.i == want->max.i, "%s: max %lld, want %lld", what,
                      (long long)got->max.i, (long long)want->max.i);
    } else {
        ck_assert_msg(got->min.u == want->min.u, "%s: min %llu, want %llu", what,
                      (unsigned long long)got->min.u, (unsigned long long)want->min.u);
        ck_assert_msg(got->max.u == want->max.u, "%s: max %llu, want %llu", what,
                      (unsigned long long)got->max.u, (unsigned long long)want->max.u);
    }
    ck_assert_msg(got->argmin == want->argmin, "%s: argmin %llu, want %llu", what,
                  (unsigned long long)got->argmin, (unsigned long long)want->argmin);
    ck_assert_msg(got->argmax == want->argmax, "%s: argmax %llu, want %llu", what,
                  (unsigned long long)got->argmax, (unsigned long long)want->argmax);
    v = h5cl_stats_state_min(got);
    ck_assert_msg(v == tu_scalar_as_double(want->kind, want->min),
                  "%s: h5cl_stats_state_min %.17g", what, v);
    v = h5cl_stats_state_max(got);
    ck_assert_msg(v == tu_scalar_as_double(want->kind, want->max),
                  "%s: h5cl_stats_state_max %.17g", what, v);

    ck_assert_msg(!got->overflow == !want->overflow, "%s: overflow %d, want %d", what,
                  got->overflow, want->overflow);
    if (want->kind == H5CL_KIND_FLOAT) {
        v = h5cl_stats_state_sum(got);
        ck_assert_msg(tu_close_enough(v, want->fsum, tol.sum_rel, want->abssum, 0),
                      "%s: sum %.17g, want %.17Lg (rel tol %g)", what, v, want->fsum,
                      tol.sum_rel);
    } else {
        /* the exact total is sum (wrapped) + sum_hi * 2^64 */
        char g[48], w[48];
        __int128 total = (want->kind == H5CL_KIND_SIGNED ? (__int128)got->sum.i
                                                          : (__int128)got->sum.u) +
                         (__int128)got->sum_hi * ((__int128)1 << 64);
        ck_assert_msg(total == want->isum, "%s: integer sum %s (sum %llu, sum_hi %lld), want %s",
                      what, tu_i128_str(total, g), (unsigned long long)got->sum.u,
                      (long long)got->sum_hi, tu_i128_str(want->isum, w));
        ck_assert_msg(!got->overflow == (got->sum_hi == 0), "%s: overflow %d with sum_hi %lld",
                      what, got->overflow, (long long)got->sum_hi);
        v = h5cl_stats_state_sum(got);
        ck_assert_msg(v == (double)want->isum, "%s: sum %.17g, want %.17g (the exact sum "
                      "rounded once)", what, v, (double)want->isum);
    }
    mscale = want->abssum / (long double)want->count;
    vfloor = (long double)tol.var_floor * mscale * mscale;
    v = h5cl_stats_state_mean(got);
    ck_assert_msg(tu_close_enough(v, want->mean, tol.sum_rel, mscale, 0),
                  "%s: mean %.17g, want %.17Lg (rel tol %g)", what, v, want->mean,
                  tol.sum_rel);
    v = h5cl_stats_state_var(got, 0);
    ck_assert_msg(tu_close_enough(v, want->var, tol.var_rel, 0, vfloor),
                  "%s: var %.17g, want %.17Lg (rel tol %g)", what, v, want->var,
                  tol.var_rel);
    v = h5cl_stats_state_std(got, 0);
    ck_assert_msg(tu_close_enough(v, sqrtl(want->var), tol.var_rel, 0, sqrtl(vfloor)),
                  "%s: std %.17g, want %.17Lg", what, v, sqrtl(want->var));
    v = h5cl_stats_state_var(got, 1);
    if (want->count < 2) {
        ck_assert_msg(isnan(v), "%s: var(ddof=1) of one value is %g, want NaN", what, v);
        ck_assert_msg(isnan(h5cl_stats_state_std(got, 1)), "%s: std(ddof=1) not NaN",
                      what);
    } else {
        want_var1 = want->var * (long double)want->count / (long double)(want->count - 1);
        ck_assert_msg(tu_close_enough(v, want_var1, tol.var_rel, 0, 2 * vfloor),
                      "%s: var(ddof=1) %.17g, want %.17Lg", what, v, want_var1);
    }
}

void tu_check_stats(const h5cl_stats *stats, const tu_ref *want, size_t n,
                    int rank, const uint64_t *dims, tu_tol tol,
                    const char *what)
{
    uint64_t got_dims[H5CL_MAX_RANK];
    char sub[512];
    size_t i;
    int got_rank, d;
    ck_assert_msg(stats != NULL, "%s: no result", what);
    ck_assert_msg(h5cl_stats_count(stats) == n, "%s: h5cl_stats_count %zu, want %zu",
                  what, h5cl_stats_count(stats), n);
    memset(got_dims, 0xA5, sizeof got_dims);
    got_rank = h5cl_stats_shape(stats, got_dims);
    ck_assert_msg(got_rank == rank, "%s: h5cl_stats_shape gave rank %d, want %d", what,
                  got_rank, rank);
    for (d = 0; d < rank; d++)
        ck_assert_msg(got_dims[d] == dims[d], "%s: shape[%d] %llu, want %llu", what, d,
                      (unsigned long long)got_dims[d], (unsigned long long)dims[d]);
    for (i = 0; i < n; i++) {
        snprintf(sub, sizeof sub, "%s [state %zu]", what, i);
        tu_check_state(h5cl_stats_get(stats, i), &want[i], tol, sub);
    }
    ck_assert_msg(h5cl_stats_get(stats, n) == NULL, "%s: state %zu past the end", what,
                  n);
    ck_assert_msg(h5cl_stats_summary(stats) != NULL, "%s: no summary", what);
}

/* ---- library shortcuts --------------------------------------------------- */

static void tu_close_ds(void *p)
{
    h5cl_dataset_close(p);
}

static void tu_free_stats(void *p)
{
    h5cl_stats_free(p);
}

h5cl_dataset *tu_open(h5cl_ctx *ctx, const char *file, const char *path)
{
    h5cl_dataset *ds = NULL;
    int rc = h5cl_dataset_open(ctx, file, path, &ds);
    ck_assert_msg(rc == H5CL_OK && ds != NULL, "h5cl_dataset_open %s %s: %s: %s", file,
                  path, h5cl_errname(rc), h5cl_ctx_errmsg(ctx));
    tu_defer(tu_close_ds, ds);
    return ds;
}

h5cl_stats *tu_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                       const char *what)
{
    h5cl_stats *st = NULL;
    int rc = h5cl_stats_compute(ds, opts, &st);
    ck_assert_msg(rc == H5CL_OK && st != NULL, "%s: h5cl_stats_compute: %s: %s", what,
                  h5cl_errname(rc), tu_ctx ? h5cl_ctx_errmsg(tu_ctx) : "");
    tu_defer(tu_free_stats, st);
    return st;
}

void tu_compute_check(h5cl_dataset *ds, const h5cl_run_options *opts,
                      const tu_array *a, const tu_sel *sel, tu_tol tol,
                      const char *what)
{
    uint64_t dims[H5CL_MAX_RANK];
    size_t n;
    int rank;
    h5cl_stats *st = tu_compute(ds, opts, what);
    const tu_ref *ref = tu_reference(a, sel, opts ? opts->axis : -1, &n, &rank, dims);
    const h5cl_run_summary *sum;
    tu_check_stats(st, ref, n, rank, dims, tol, what);
    sum = h5cl_stats_summary(st);
    ck_assert_msg(sum->seconds >= 0 && isfinite(sum->seconds), "%s: seconds %g", what,
                  sum->seconds);
    tu_release(st);
}

/* ---- odds and ends -------------------------------------------------- */

const char *tu_i128_str(__int128 v, char *buf)
{
    char tmp[48];
    int n = 0, neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg)
        tmp[n++] = '-';
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

int tu_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!hay)
        return 0;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

char *tu_read_file(const char *path, size_t *nbytes_ret)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = tu_alloc((size_t)n + 1);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (nbytes_ret)
        *nbytes_ret = (size_t)n;
    return buf;
}

/* JSON (RFC 8259) recursive-descent checker. */
typedef struct tu_json {
    const char *p, *end;
    int depth;
} tu_json;

static void js_ws(tu_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
                             *j->p == '\r'))
        j->p++;
}

static int js_lit(tu_json *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int js_string(tu_json *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end || !strchr("\"\\/bfnrtu", *j->p))
                return 0;
            if (*j->p == 'u') {
                int k;
                for (k = 0; k < 4; k++)
                    if (++j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                        return 0;
            }
        }
        j->p++;
    }
    if (j->p >= j->end)
        return 0;
    j->p++;
    return 1;
}

static int js_digits(tu_json *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static int js_number(tu_json *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!js_digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!js_digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!js_digits(j))
            return 0;
    }
    return 1;
}

static int js_value(tu_json *j);

static int js_container(tu_json *j, char close, int object)
{
    j->p++;
    js_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        js_ws(j);
        if (object) {
            if (!js_string(j))
                return 0;
            js_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return 0;
            j->p++;
        }
        if (!js_value(j))
            return 0;
        js_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 1;
        }
        return 0;
    }
}

static int js_value(tu_json *j)
{
    int ok;
    js_ws(j);
    if (j->p >= j->end || ++j->depth > 200)
        return 0;
    switch (*j->p) {
    case '{': ok = js_container(j, '}', 1); break;
    case '[': ok = js_container(j, ']', 0); break;
    case '"': ok = js_string(j); break;
    case 't': ok = js_lit(j, "true"); break;
    case 'f': ok = js_lit(j, "false"); break;
    case 'n': ok = js_lit(j, "null"); break;
    default: ok = js_number(j); break;
    }
    j->depth--;
    return ok;
}

int tu_json_valid(const char *text, size_t n)
{
    tu_json j;
    j.p = text;
    j.end = text + n;
    j.depth = 0;
    if (!js_value(&j))
        return 0;
    js_ws(&j);
    return j.p == j.end;
}

static int tu_saved_fd[2] = {-1, -1};

void tu_capture_begin(void)
{
    int fd;
    fflush(stdout);
    fflush(stderr);
    fd = open(tu_path("captured-output.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(fd >= 0);
    tu_saved_fd[0] = dup(1);
    tu_saved_fd[1] = dup(2);
    ck_assert(tu_saved_fd[0] >= 0 && tu_saved_fd[1] >= 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

char *tu_capture_end(void)
{
    char *text;
    fflush(stdout);
    fflush(stderr);
    dup2(tu_saved_fd[0], 1);
    dup2(tu_saved_fd[1], 2);
    close(tu_saved_fd[0]);
    close(tu_saved_fd[1]);
    tu_saved_fd[0] = tu_saved_fd[1] = -1;
    text = tu_read_file(tu_path("captured-output.txt"), NULL);
    ck_assert(text != NULL);
    return text;
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ======================================================================
 * util suite: the helpers checked against hand-computed figures.
 */

START_TEST(test_reference_hand_1d)
{
    static const int32_t v[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 9};
    uint64_t dims[1] = {10}, od[H5CL_MAX_RANK];
    tu_array a;
    size_t n;
    int r;
    const tu_ref *ref;
    tu_array_init(&a, H5CL_INT32, 1, dims);
    memcpy(a.data, v, sizeof v);
    ref = tu_reference(&a, NULL, -1, &n, &r, od);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(ref->kind, H5CL_KIND_SIGNED);
    ck_assert_uint_eq(ref->count, 10);
    ck_assert(ref->isum == 45);
    ck_assert(fabsl(ref->mean - 4.5L) < 1e-18L);
    /* sum of squared deviations from 4.5: 76.5 */
    ck_assert(fabsl(ref->var - 7.65L) < 1e-15L);
    ck_assert_int_eq(ref->min.i, 1);
    ck_assert_uint_eq(ref->argmin, 1);
    ck_assert_int_eq(ref->max.i, 9);
    ck_assert_uint_eq(ref->argmax, 5);
    ck_assert(!ref->overflow);
}
END_TEST

START_TEST(test_reference_hand_axis)
{
    /* [[2, NaN, 7], [2, -1, 7]] */
    static const double v[] = {2, NAN, 7, 2, -1, 7};
    uint64_t dims[2] = {2, 3}, od[H5CL_MAX_RANK];
    tu_array a;
    tu_sel s;
    size_t n;
    int r;
    const tu_ref *ref;
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    memcpy(a.data, v, sizeof v);
    ref = tu_reference(&a, NULL, 0, &n, &r, od);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(r, 1);
    ck_assert_uint_eq(od[0], 3);
    ck_assert_uint_eq(ref[0].count, 2);
    ck_assert_uint_eq(ref[0].argmin, 0); /* tie: first */
    ck_assert_uint_eq(ref[0].argmax, 0);
    ck_assert_uint_eq(ref[1].count, 1);
    ck_assert_uint_eq(ref[1].nan_count, 1);
    ck_assert_uint_eq(ref[1].argmin, 1);
    ck_assert(ref[1].min.f == -1);
    ref = tu_reference(&a, NULL, 1, &n, &r, od);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(ref[0].count, 2);
    ck_assert_uint_eq(ref[0].argmax, 2);
    ck_assert(fabsl(ref[1].mean - 8.0L / 3) < 1e-18L);
    ck_assert_uint_eq(ref[1].argmin, 1);
    /* selection [1:2, -2:] = [[-1, 7]] flat indices 0, 1 */
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, 2, 1, 1, 1, 2);
    tu_sel_axis(&s, 1, 3, 1, -2, 0, 0);
    ref = tu_reference(&a, &s, -1, &n, &r, od);
    ck_assert_uint_eq(ref->count, 2);
    ck_assert_uint_eq(ref->argmin, 0);
    ck_assert_uint_eq(ref->argmax, 1);
    ck_assert(fabsl(ref->var - 16.0L) < 1e-18L);
}
END_TEST

START_TEST(test_reference_overflow)
{
    uint64_t dims[1] = {3}, od[H5CL_MAX_RANK];
    tu_array a;
    size_t n;
    int r;
    const tu_ref *ref;
    tu_array_init(&a, H5CL_INT64, 1, dims);
    tu_set_i(&a, 0, INT64_MAX);
    tu_set_i(&a, 1, 1);
    tu_set_i(&a, 2, 0);
    ref = tu_reference(&a, NULL, -1, &n, &r, od);
    ck_assert(ref->overflow);
    tu_set_i(&a, 1, -1);
    ref = tu_reference(&a, NULL, -1, &n, &r, od);
    ck_assert(!ref->overflow);
    ck_assert(ref->isum == INT64_MAX - 1);
    tu_array_init(&a, H5CL_UINT64, 1, dims);
    tu_set_u(&a, 0, UINT64_MAX);
    tu_set_u(&a, 1, 1);
    ref = tu_reference(&a, NULL, -1, &n, &r, od);
    ck_assert(ref->overflow);
    ck_assert_uint_eq(ref->max.u, UINT64_MAX);
}
END_TEST

START_TEST(test_sel_numpy)
{
    tu_sel s;
    memset(&s, 0, sizeof s);
    tu_sel_axis(&s, 0, 10, 1, 2, 1, 5);
    ck_assert_uint_eq(s.start[0], 2);
    ck_assert_uint_eq(s.count[0], 3);
    tu_sel_axis(&s, 0, 10, 1, -3, 0, 0);
    ck_assert_uint_eq(s.start[0], 7);
    ck_assert_uint_eq(s.count[0], 3);
    tu_sel_axis(&s, 0, 10, 1, -30, 1, 100);
    ck_assert_uint_eq(s.start[0], 0);
    ck_assert_uint_eq(s.count[0], 10);
    tu_sel_axis(&s, 0, 10, 1, 6, 1, 2);
    ck_assert_uint_eq(s.count[0], 0);
    tu_sel_axis(&s, 0, 10, 0, 0, 1, -1);
    ck_assert_uint_eq(s.start[0], 0);
    ck_assert_uint_eq(s.count[0], 9);
}
END_TEST

START_TEST(test_json_checker)
{
    static const char *good[] = {
        "[]", "{}", " {\"traceEvents\": [{\"ph\": \"X\", \"ts\": 1.5e3, \"a\": null}]} ",
        "[1, -0.5, true, false, \"\\u00e9\\n\"]"};
    static const char *bad[] = {"", "[", "[1,]", "{\"a\" 1}", "[01]", "{\"a\":1}}",
                                "[\"unterminated]", "[1.]", "{a:1}"};
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(tu_json_valid(good[i], strlen(good[i])), "rejected %s", good[i]);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!tu_json_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_rng_fixed)
{
    tu_rng a, b;
    int i, hit_lo = 0, hit_hi = 0;
    tu_rng_seed(&a, 42);
    tu_rng_seed(&b, 42);
    for (i = 0; i < 1000; i++) {
        int64_t v = tu_rng_range(&a, -3, 3);
        ck_assert_int_eq(v, tu_rng_range(&b, -3, 3));
        ck_assert(v >= -3 && v <= 3);
        hit_lo |= v == -3;
        hit_hi |= v == 3;
    }
    ck_assert(hit_lo && hit_hi);
    tu_rng_seed(&a, 0);
    /* splitmix64's published first output for seed 0 */
    ck_assert_uint_eq(tu_rng_u64(&a), UINT64_C(0xE220A8397B1DCDAF));
}
END_TEST

START_TEST(test_writer_roundtrip)
{
    /* What tu_write puts in a file reads back through plain HDF5, with the
     * fill value where nothing was written. */
    uint64_t dims[2] = {6, 5};
    tu_array a;
    tu_write_opts o;
    tu_rng r;
    int32_t back[30];
    hid_t f, d;
    int i;
    tu_rng_seed(&r, 7);
    tu_array_init(&a, H5CL_INT32, 2, dims);
    tu_fill_random(&a, &r, 0);
    tu_write_opts_init(&o);
    o.layout = H5CL_LAYOUT_CHUNKED;
    o.chunk[0] = 4;
    o.chunk[1] = 2;
    o.big_endian = 1;
    o.gzip = 1;
    o.shuffle = 1;
    o.fletcher32 = 1;
    o.has_fill = 1;
    o.fill = -77;
    o.write_rows = 2;
    tu_write(tu_path("w.h5"), "/g/x", &a, &o);
    for (i = 10; i < 30; i++)
        ck_assert_int_eq(tu_get_i(&a, (uint64_t)i), -77);
    f = H5Fopen(tu_path("w.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    d = H5Dopen2(f, "/g/x", H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    ck_assert(memcmp(back, a.data, sizeof back) == 0);
    H5Dclose(d);
    H5Fclose(f);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("helpers");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_add_test(tc, test_reference_hand_1d);
    tcase_add_test(tc, test_reference_hand_axis);
    tcase_add_test(tc, test_reference_overflow);
    tcase_add_test(tc, test_sel_numpy);
    tcase_add_test(tc, test_json_checker);
    tcase_add_test(tc, test_rng_fixed);
    tcase_add_test(tc, test_writer_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

int tu_truncate_at_first_tile(uint64_t done, uint64_t total, uint64_t bytes,
                              void *user)
{
    (void)total;
    (void)bytes;
    if (done == 1)
        ck_assert_int_eq(truncate(user, 4096), 0);
    return 0;
}
