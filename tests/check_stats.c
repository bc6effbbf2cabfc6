/*
 * Whole-dataset statistics against the host reference: every dtype in both
 * byte orders, ranks 0 to 5, compact / contiguous / chunked layouts,
 * gzip+shuffle+fletcher32, fill values, tile sizes and slot counts that do
 * not divide the data, empty, one-element, all-NaN and constant datasets,
 * infinities, exact 64-bit sums and overflow, merging runs over pieces, and
 * randomised cases (fixed seeds) that also draw selections and axes.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

/* Writes a as /data of a fresh file and opens it. */
static h5cl_dataset *write_open(tu_array *a, const tu_write_opts *w)
{
    static int gen;
    char file[32];
    snprintf(file, sizeof file, "s%d.h5", gen++);
    tu_write(tu_path(file), "/data", a, w);
    return tu_open(tu_ctx, tu_path(file), "/data");
}

static void opts_init(h5cl_run_options *o, uint64_t tile_bytes, unsigned slots)
{
    h5cl_run_options_init(o);
    o->tile_bytes = tile_bytes;
    o->slots = slots;
}

/* One generated case: data, file layout, run options. */
typedef struct scase {
    h5cl_dtype dtype;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    tu_write_opts w;
    uint64_t tile_bytes;
    unsigned slots;
    double nan_fraction;
    int nan_first;
    int plant;
    int axis;
    int use_sel;
    char sel_str[256];
    tu_sel sel;
} scase;

static void scase_init(scase *c, h5cl_dtype dtype, int rank, const uint64_t *dims)
{
    int d;
    memset(c, 0, sizeof *c);
    c->dtype = dtype;
    c->rank = rank;
    for (d = 0; d < rank; d++)
        c->dims[d] = dims[d];
    tu_write_opts_init(&c->w);
    c->nan_fraction = 0.03;
    c->plant = 1;
    c->axis = -1;
}

static void describe(const scase *c, uint64_t seed, char *buf, size_t cap)
{
    size_t n = 0;
    int d;
    n += (size_t)snprintf(buf + n, cap - n, "seed %llu %s%s dims [",
                          (unsigned long long)seed, h5cl_dtype_name(c->dtype),
                          c->w.big_endian ? "be" : "le");
    for (d = 0; d < c->rank && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", d ? "," : "",
                              (unsigned long long)c->dims[d]);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "] layout %d", (int)c->w.layout);
    if (c->w.layout == H5CL_LAYOUT_CHUNKED && n < cap) {
        n += (size_t)snprintf(buf + n, cap - n, " chunk [");
        for (d = 0; d < c->rank && n < cap; d++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%llu", d ? "," : "",
                                  (unsigned long long)c->w.chunk[d]);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "] gzip %d shuffle %d fletcher %d unl %d "
                                  "rows %lld", c->w.gzip, c->w.shuffle, c->w.fletcher32,
                                  c->w.unlimited, (long long)c->w.write_rows);
    }
    if (n < cap)
        snprintf(buf + n, cap - n, " tile %llu slots %u axis %d select \"%s\" nan %.2f%s",
                 (unsigned long long)c->tile_bytes, c->slots, c->axis,
                 c->use_sel ? c->sel_str : "(all)", c->nan_fraction,
                 c->nan_first ? " nan-first" : "");
}

static void run_case(scase *c, uint64_t seed)
{
    tu_array a;
    tu_rng r;
    h5cl_run_options o;
    h5cl_dataset *ds;
    char desc[768];
    tu_rng_seed(&r, seed);
    tu_array_init(&a, c->dtype, c->rank, c->dims);
    tu_fill_random(&a, &r, c->nan_fraction);
    if (c->plant)
        tu_plant_extrema(&a, &r);
    if (c->nan_first && tu_dtype_is_float(c->dtype) && a.n > 0)
        tu_set_f(&a, 0, NAN);
    ds = write_open(&a, &c->w);
    opts_init(&o, c->tile_bytes, c->slots);
    o.axis = c->axis;
    o.select = c->use_sel ? c->sel_str : NULL;
    describe(c, seed, desc, sizeof desc);
    tu_compute_check(ds, &o, &a, c->use_sel ? &c->sel : NULL, tu_tolerance(&tu_dev), desc);
}

/* ---- dtype x byte order ------------------------------------------------- */

START_TEST(test_dtypes_byte_orders)
{
    uint64_t n = 20011;
    scase c;
    scase_init(&c, (h5cl_dtype)(_i % H5CL_DTYPE_COUNT), 1, &n);
    c.w.big_endian = _i >= H5CL_DTYPE_COUNT;
    c.nan_first = _i & 1;
    c.tile_bytes = 4096;
    c.slots = 3;
    run_case(&c, 1000 + (uint64_t)_i);
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 1000;
    c.tile_bytes = 3000;
    c.slots = 2;
    run_case(&c, 2000 + (uint64_t)_i);
    c.tile_bytes = 0; /* defaults */
    c.slots = 0;
    run_case(&c, 3000 + (uint64_t)_i);
}
END_TEST

/* ---- ranks x layouts ---------------------------------------------------- */

START_TEST(test_ranks_layouts)
{
    static const h5cl_layout layouts[3] = {H5CL_LAYOUT_COMPACT, H5CL_LAYOUT_CONTIGUOUS,
                                           H5CL_LAYOUT_CHUNKED};
    static const h5cl_dtype dtypes[4] = {H5CL_FLOAT64, H5CL_INT32, H5CL_FLOAT32, H5CL_UINT16};
    static const struct {
        int rank;
        uint64_t dims[5];
        uint64_t chunk[5];
    } shapes[5] = {
        {0, {0}, {0}},
        {1, {2001}, {300}},
        {2, {45, 37}, {8, 16}},
        {3, {13, 11, 9}, {4, 11, 2}},
        {5, {3, 4, 5, 6, 7}, {2, 3, 2, 5, 7}},
    };
    int s = _i / 3, l = _i % 3, d;
    scase c;
    if (shapes[s].rank == 0 && layouts[l] == H5CL_LAYOUT_CHUNKED)
        return; /* HDF5 cannot chunk a scalar */
    scase_init(&c, dtypes[_i % 4], shapes[s].rank, shapes[s].dims);
    c.w.layout = layouts[l];
    for (d = 0; d < shapes[s].rank; d++)
        c.w.chunk[d] = shapes[s].chunk[d];
    c.w.big_endian = _i % 2;
    c.tile_bytes = 1000;
    c.slots = 2;
    run_case(&c, 4000 + (uint64_t)_i);
    c.dtype = dtypes[(_i + 1) % 4];
    c.tile_bytes = 0;
    c.slots = 0;
    run_case(&c, 5000 + (uint64_t)_i);
}
END_TEST

/* ---- filters ------------------------------------------------------------- */

START_TEST(test_filters)
{
    uint64_t dims[2] = {97, 61};
    scase c;
    scase_init(&c, (h5cl_dtype)_i, 2, dims);
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 10;
    c.w.chunk[1] = 7;
    c.w.gzip = 6;
    c.w.shuffle = 1;
    c.w.fletcher32 = 1;
    c.w.big_endian = _i % 2;
    c.tile_bytes = 2000;
    c.slots = 2;
    run_case(&c, 6000 + (uint64_t)_i);
    c.w.unlimited = 1;
    c.w.gzip = 1;
    c.w.fletcher32 = 0;
    c.tile_bytes = 0;
    run_case(&c, 6100 + (uint64_t)_i);
}
END_TEST

/* ---- tiles and slots ------------------------------------------------------ */

START_TEST(test_tiles_slots)
{
    static const unsigned slots[3] = {1, 2, 5};
    uint64_t n = 30011;
    scase c;
    scase_init(&c, H5CL_FLOAT64, 1, &n);
    c.slots = slots[_i % 3];
    c.tile_bytes = _i < 3 ? 1000 : 999;
    run_case(&c, 7000 + (uint64_t)_i);
    c.dtype = H5CL_INT16;
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 777;
    run_case(&c, 7100 + (uint64_t)_i);
    c.dtype = H5CL_UINT8;
    c.w.chunk[0] = 5000;
    run_case(&c, 7200 + (uint64_t)_i);
}
END_TEST

/* A target tile smaller than one element still works. */
START_TEST(test_tiny_tiles)
{
    uint64_t n = 50, dims[2] = {5, 7};
    scase c;
    unsigned tiles[3] = {1, 3, 7};
    int k;
    for (k = 0; k < 3; k++) {
        scase_init(&c, H5CL_FLOAT64, 1, &n);
        c.tile_bytes = tiles[k];
        c.slots = 2;
        run_case(&c, 7300 + (uint64_t)k);
        scase_init(&c, H5CL_INT32, 2, dims);
        c.w.layout = H5CL_LAYOUT_CHUNKED;
        c.w.chunk[0] = 2;
        c.w.chunk[1] = 3;
        c.tile_bytes = tiles[k];
        c.slots = 1;
        run_case(&c, 7400 + (uint64_t)k);
    }
}
END_TEST

/* ---- degenerate data ----------------------------------------------------- */

START_TEST(test_empty)
{
    static const struct {
        int rank;
        uint64_t dims[3];
        h5cl_layout layout;
    } shapes[] = {
        {1, {0}, H5CL_LAYOUT_CONTIGUOUS}, {1, {0}, H5CL_LAYOUT_CHUNKED},
        {3, {3, 0, 4}, H5CL_LAYOUT_CHUNKED}, {2, {0, 5}, H5CL_LAYOUT_COMPACT},
        {2, {6, 0}, H5CL_LAYOUT_CONTIGUOUS},
    };
    static const h5cl_dtype dtypes[3] = {H5CL_FLOAT64, H5CL_INT32, H5CL_UINT8};
    size_t s;
    int k;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (k = 0; k < 3; k++) {
            scase c;
            tu_array a;
            h5cl_stats *st;
            const h5cl_stats_state *x;
            h5cl_run_options o;
            scase_init(&c, dtypes[k], shapes[s].rank, shapes[s].dims);
            c.w.layout = shapes[s].layout;
            tu_array_init(&a, c.dtype, c.rank, c.dims);
            opts_init(&o, 1000, 2);
            st = tu_compute(write_open(&a, &c.w), &o, "empty");
            ck_assert_uint_eq(h5cl_stats_count(st), 1);
            x = h5cl_stats_get(st, 0);
            ck_assert_ptr_nonnull(x);
            ck_assert_int_eq(x->kind, tu_dtype_kind(c.dtype));
            ck_assert_uint_eq(x->count, 0);
            ck_assert_uint_eq(x->nan_count, 0);
            ck_assert_msg(isnan(h5cl_stats_state_mean(x)), "mean of empty %s shape %zu",
                          h5cl_dtype_name(c.dtype), s);
            ck_assert(isnan(h5cl_stats_state_var(x, 0)));
            ck_assert(isnan(h5cl_stats_state_min(x)));
            ck_assert(isnan(h5cl_stats_state_max(x)));
            ck_assert_uint_eq(h5cl_stats_summary(st)->bytes, 0);
            /* and the same through the reference checker */
            run_case(&c, 7500 + s);
        }
    }
}
END_TEST

START_TEST(test_one_element)
{
    static const struct {
        int rank;
        uint64_t dims[3];
        h5cl_layout layout;
    } shapes[] = {
        {0, {0}, H5CL_LAYOUT_COMPACT},       {0, {0}, H5CL_LAYOUT_CONTIGUOUS},
        {1, {1}, H5CL_LAYOUT_CONTIGUOUS},    {1, {1}, H5CL_LAYOUT_CHUNKED},
        {3, {1, 1, 1}, H5CL_LAYOUT_CHUNKED}, {2, {1, 1}, H5CL_LAYOUT_COMPACT},
    };
    size_t s;
    int d;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (d = 0; d < H5CL_DTYPE_COUNT; d++) {
            scase c;
            scase_init(&c, (h5cl_dtype)d, shapes[s].rank, shapes[s].dims);
            c.w.layout = shapes[s].layout;
            c.w.big_endian = (int)s % 2;
            c.nan_fraction = 0;
            c.slots = 5;
            c.tile_bytes = 1000;
            run_case(&c, 7600 + s * 16 + (uint64_t)d);
        }
    }
}
END_TEST

START_TEST(test_all_nan)
{
    uint64_t n = 1000, i;
    int k;
    for (k = 0; k < 2; k++) {
        tu_array a;
        tu_write_opts w;
        h5cl_run_options o;
        const h5cl_stats_state *x;
        tu_array_init(&a, k ? H5CL_FLOAT32 : H5CL_FLOAT64, 1, &n);
        for (i = 0; i < n; i++)
            tu_set_f(&a, i, NAN);
        tu_write_opts_init(&w);
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 64;
        opts_init(&o, 1000, 2);
        x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "all NaN"), 0);
        ck_assert_uint_eq(x->count, 0);
        ck_assert_uint_eq(x->nan_count, n);
        ck_assert(isnan(h5cl_stats_state_mean(x)));
        ck_assert(isnan(h5cl_stats_state_min(x)));
        ck_assert(isnan(h5cl_stats_state_max(x)));
        tu_set_f(&a, n - 1, 2.5); /* one value, last */
        x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "one value"), 0);
        ck_assert_uint_eq(x->count, 1);
        ck_assert_uint_eq(x->nan_count, n - 1);
        ck_assert(h5cl_stats_state_mean(x) == 2.5);
        ck_assert(h5cl_stats_state_min(x) == 2.5);
        ck_assert_uint_eq(x->argmin, n - 1);
        ck_assert_uint_eq(x->argmax, n - 1);
        ck_assert(h5cl_stats_state_var(x, 0) == 0);
    }
}
END_TEST

/* Every element the type's extreme: argmin = argmax = 0 (no sentinel may
 * beat the data), min = max = the value. */
START_TEST(test_constant_extremes)
{
    h5cl_dtype dtype = (h5cl_dtype)(_i / 2);
    int hi = _i % 2;
    uint64_t n = 3001, i;
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    double v;
    char what[64];
    tu_array_init(&a, dtype, 1, &n);
    for (i = 0; i < n; i++) {
        if (dtype == H5CL_FLOAT32)
            tu_set_f(&a, i, hi ? FLT_MAX : -FLT_MAX);
        else if (dtype == H5CL_FLOAT64)
            tu_set_f(&a, i, hi ? 1e300 : -1e300);
        else if (tu_dtype_is_signed(dtype))
            tu_set_i(&a, i, hi ? tu_dtype_max_i(dtype) : tu_dtype_min_i(dtype));
        else
            tu_set_u(&a, i, hi ? tu_dtype_max_u(dtype) : 0);
    }
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 500;
    snprintf(what, sizeof what, "all %s %s", hi ? "max" : "min", h5cl_dtype_name(dtype));
    opts_init(&o, 1000, 3);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
    v = tu_get_f(&a, 0);
    {
        h5cl_dataset *ds = write_open(&a, &w);
        const h5cl_stats_state *x = h5cl_stats_get(tu_compute(ds, NULL, what), 0);
        ck_assert_msg(x->argmin == 0 && x->argmax == 0, "%s: argmin %llu argmax %llu", what,
                      (unsigned long long)x->argmin, (unsigned long long)x->argmax);
        ck_assert(h5cl_stats_state_min(x) == v && h5cl_stats_state_max(x) == v);
    }
}
END_TEST

START_TEST(test_infinities)
{
    static const double mixed[] = {1, INFINITY, 2, INFINITY, -3, NAN, -3};
    uint64_t n = sizeof mixed / sizeof mixed[0], big = 300, i;
    int k, sign;
    for (k = 0; k < 2; k++) {
        h5cl_dtype dt = k ? H5CL_FLOAT32 : H5CL_FLOAT64;
        tu_array a;
        tu_write_opts w;
        h5cl_run_options o;
        const h5cl_stats_state *x;
        tu_array_init(&a, dt, 1, &n);
        for (i = 0; i < n; i++)
            tu_set_f(&a, i, mixed[i]);
        tu_write_opts_init(&w);
        opts_init(&o, 8, 2);
        x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "mixed inf"), 0);
        ck_assert_uint_eq(x->count, 6);
        ck_assert_uint_eq(x->nan_count, 1);
        ck_assert(h5cl_stats_state_min(x) == -3);
        ck_assert_uint_eq(x->argmin, 4);
        ck_assert(h5cl_stats_state_max(x) == INFINITY);
        ck_assert_uint_eq(x->argmax, 1);
        ck_assert_msg(h5cl_stats_state_sum(x) == INFINITY, "%s: sum of values with +inf is %g",
                      h5cl_dtype_name(dt), h5cl_stats_state_sum(x));
        for (sign = -1; sign <= 1; sign += 2) {
            tu_array_init(&a, dt, 1, &big);
            for (i = 0; i < big; i++)
                tu_set_f(&a, i, sign * INFINITY);
            w.layout = H5CL_LAYOUT_CHUNKED;
            w.chunk[0] = 16;
            x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "all inf"), 0);
            ck_assert_uint_eq(x->count, big);
            ck_assert_msg(h5cl_stats_state_min(x) == sign * INFINITY, "min %g",
                          h5cl_stats_state_min(x));
            ck_assert(h5cl_stats_state_max(x) == sign * INFINITY);
            ck_assert_msg(x->argmin == 0 && x->argmax == 0, "all %cinf: argmin %llu argmax %llu",
                          sign < 0 ? '-' : '+', (unsigned long long)x->argmin,
                          (unsigned long long)x->argmax);
            w.layout = H5CL_LAYOUT_CONTIGUOUS;
        }
    }
}
END_TEST

/* Chunks never written read as the fill value; so does a contiguous
 * dataset whose storage was never allocated. */
START_TEST(test_fill_values)
{
    uint64_t dims[2] = {40, 30}, n = 5000;
    scase c;
    scase_init(&c, H5CL_INT32, 2, dims);
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 8;
    c.w.chunk[1] = 10;
    c.w.has_fill = 1;
    c.w.fill = 7;
    c.w.write_rows = 17;
    c.tile_bytes = 1000;
    c.slots = 2;
    run_case(&c, 7700);
    c.w.has_fill = 0; /* default fill: zeros */
    c.w.gzip = 5;
    run_case(&c, 7701);
    c.axis = 0;
    run_case(&c, 7702);
    scase_init(&c, H5CL_FLOAT64, 1, &n);
    c.w.has_fill = 1;
    c.w.fill = 2.5;
    c.w.write_rows = 0;
    c.tile_bytes = 4096;
    run_case(&c, 7703);
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 256;
    c.w.big_endian = 1;
    run_case(&c, 7704);
}
END_TEST

/* Values far from zero with a small spread (offset 1e5 for float64, 1e4
 * for float32, steps of 1/1024; mean/std ~ 3.5e5, so Chan/Welford merges
 * keep ~1e-11): the variance must not come out of a cancelling difference
 * of large sums.  NaNs first in the data or in many places probe whatever
 * start value or shift an implementation uses. */
START_TEST(test_large_offset_variance)
{
    uint64_t n = 50000, i;
    int variant = _i % 4;
    h5cl_dtype dt = _i < 4 ? H5CL_FLOAT64 : H5CL_FLOAT32;
    double offset = dt == H5CL_FLOAT64 ? 1e5 : 1e4;
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    tu_rng r;
    char what[96];
    tu_rng_seed(&r, 7800 + (uint64_t)_i);
    tu_array_init(&a, dt, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_f(&a, i, offset + (double)tu_rng_below(&r, 1024) / 1024.0);
    if (variant >= 1)
        tu_set_f(&a, 0, NAN);
    if (variant == 2)
        for (i = 0; i < n; i += 1000)
            tu_set_f(&a, i, NAN);
    tu_write_opts_init(&w);
    opts_init(&o, 0, 0);
    if (variant == 3) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 4096;
        opts_init(&o, 8192, 2);
    }
    snprintf(what, sizeof what, "offset %g + [0,1) %s, variant %d", offset,
             h5cl_dtype_name(dt), variant);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
    o.axis = 0;
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
}
END_TEST

/* Devices without fp64 accumulate in compensated float.  H5CL_FP64=0 makes
 * PoCL pose as one, so that path (kernels and the host's decoding of float
 * records) runs in CI; float64 data is refused there. */
static void destroy_ctx(void *p)
{
    h5cl_ctx_destroy(p);
}


START_TEST(test_without_fp64)
{
    static const h5cl_dtype dts[] = {H5CL_FLOAT32, H5CL_INT32, H5CL_UINT8,
                                     H5CL_INT64};
    uint64_t n = 30000;
    h5cl_ctx *ctx;
    h5cl_device_info dev;
    h5cl_run_options o;
    tu_write_opts w;
    tu_rng r;
    char what[96];
    size_t k;
    tu_setenv("H5CL_FP64", "0");
    ck_assert_int_eq(h5cl_ctx_create(&ctx), H5CL_OK);
    tu_defer(destroy_ctx, ctx);
    ck_assert_int_eq(h5cl_ctx_device(ctx, &dev), H5CL_OK);
    ck_assert(!dev.has_fp64);
    tu_rng_seed(&r, 6464);
    tu_write_opts_init(&w);
    for (k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        tu_array a;
        char file[32];
        tu_array_init(&a, dts[k], 1, &n);
        tu_fill_random(&a, &r, 0.01);
        tu_plant_extrema(&a, &r);
        snprintf(file, sizeof file, "nofp64-%zu.h5", k);
        tu_write(tu_path(file), "/data", &a, &w);
        snprintf(what, sizeof what, "no fp64, %s", h5cl_dtype_name(dts[k]));
        opts_init(&o, 8192, 2);
        tu_compute_check(tu_open(ctx, tu_path(file), "/data"), &o, &a, NULL,
                         tu_tolerance(&dev), what);
    }
    {
        tu_array a;
        h5cl_stats *st = NULL;
        tu_array_init(&a, H5CL_FLOAT64, 1, &n);
        tu_fill_random(&a, &r, 0);
        tu_write(tu_path("nofp64-f64.h5"), "/data", &a, &w);
        ck_assert_int_eq(h5cl_stats_compute(tu_open(ctx, tu_path("nofp64-f64.h5"),
                                                    "/data"),
                                            NULL, &st),
                         H5CL_ERR_UNSUPPORTED_DEVICE);
        ck_assert(st == NULL);
        ck_assert(tu_contains_ci(h5cl_ctx_errmsg(ctx), "fp64"));
    }
}
END_TEST

/* ---- 64-bit integers ----------------------------------------------------- */

static const h5cl_stats_state *int_run(h5cl_dtype dt, const void *values, uint64_t n,
                                       int be, uint64_t tile_bytes, const char *what)
{
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    const h5cl_stats_state *x;
    tu_array_init(&a, dt, 1, &n);
    memcpy(a.data, values, n * 8);
    tu_write_opts_init(&w);
    w.big_endian = be;
    if (tile_bytes) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 3;
    }
    opts_init(&o, tile_bytes, 2);
    x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, what), 0);
    ck_assert_ptr_nonnull(x);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
    return x;
}

START_TEST(test_int64_exact_and_overflow)
{
    int be = _i % 2;
    uint64_t tile = _i >= 2 ? 8 : 0; /* one element per tile, or one tile */
    int64_t big[7], near_hi[3] = {INT64_MAX - 10, 4, 5}, near_lo[3] = {INT64_MIN + 10, -4, -6};
    int64_t over_hi[3] = {INT64_MAX, 0, 1}, over_lo[3] = {-1, INT64_MIN, 0};
    uint64_t ubig[3] = {(UINT64_C(1) << 63) + 1, (UINT64_C(1) << 62) + 3, 5};
    uint64_t unear[3] = {UINT64_MAX - 1, 0, 1}, uover[3] = {UINT64_MAX, 1, 0};
    const h5cl_stats_state *x;
    int k;
    for (k = 0; k < 7; k++) /* sum 7 * 2^60 + 49: wrong if accumulated in double */
        big[k] = (INT64_C(1) << 60) + 2 * k + 1;
    x = int_run(H5CL_INT64, big, 7, be, tile, "7 x 2^60");
    ck_assert(!x->overflow);
    ck_assert_int_eq(x->sum.i, 7 * (INT64_C(1) << 60) + 49);
    ck_assert_int_eq(x->max.i, (INT64_C(1) << 60) + 13);
    ck_assert_uint_eq(x->argmax, 6);

    x = int_run(H5CL_INT64, near_hi, 3, be, tile, "near INT64_MAX");
    ck_assert(!x->overflow);
    ck_assert_int_eq(x->sum.i, INT64_MAX - 1);
    x = int_run(H5CL_INT64, near_lo, 3, be, tile, "near INT64_MIN");
    ck_assert(!x->overflow);
    ck_assert_int_eq(x->sum.i, INT64_MIN);
    ck_assert_int_eq(x->min.i, INT64_MIN + 10);
    x = int_run(H5CL_INT64, over_hi, 3, be, tile, "over INT64_MAX");
    ck_assert_msg(x->overflow, "INT64_MAX + 1 not flagged");
    ck_assert_int_eq(x->max.i, INT64_MAX);
    x = int_run(H5CL_INT64, over_lo, 3, be, tile, "under INT64_MIN");
    ck_assert_msg(x->overflow, "INT64_MIN - 1 not flagged");
    ck_assert_int_eq(x->min.i, INT64_MIN);
    ck_assert_uint_eq(x->argmin, 1);

    x = int_run(H5CL_UINT64, ubig, 3, be, tile, "uint64 above 2^63");
    ck_assert(!x->overflow);
    ck_assert_uint_eq(x->sum.u, (UINT64_C(1) << 63) + (UINT64_C(1) << 62) + 9);
    ck_assert_uint_eq(x->max.u, (UINT64_C(1) << 63) + 1);
    x = int_run(H5CL_UINT64, unear, 3, be, tile, "near UINT64_MAX");
    ck_assert(!x->overflow);
    ck_assert_uint_eq(x->sum.u, UINT64_MAX);
    x = int_run(H5CL_UINT64, uover, 3, be, tile, "over UINT64_MAX");
    ck_assert_msg(x->overflow, "UINT64_MAX + 1 not flagged");
}
END_TEST

/* Overflow that appears only when tiles are merged, and only inside one
 * tile; values 2^52 each, 4000 of them (2^64 in all). */
START_TEST(test_int64_overflow_many)
{
    uint64_t n = 4000, i;
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    const h5cl_stats_state *x;
    tu_array_init(&a, H5CL_INT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_i(&a, i, (INT64_C(1) << 52) + (int64_t)(i % 5));
    tu_write_opts_init(&w);
    opts_init(&o, 1000, 2);
    x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "merge overflow"), 0);
    ck_assert_msg(x->overflow, "overflow across tiles not flagged");
    ck_assert_uint_eq(x->count, n);
    ck_assert(fabs(h5cl_stats_state_mean(x) - (0x1p52 + 2)) <= 1e-12 * 0x1p52);
    opts_init(&o, 0, 0);
    x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "kernel overflow"), 0);
    ck_assert_msg(x->overflow, "overflow within one tile not flagged");
    /* one fewer element than the limit: 2047 of them fit */
    n = 2047;
    tu_array_init(&a, H5CL_INT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_i(&a, i, INT64_C(1) << 52);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), "2047 x 2^52");
    opts_init(&o, 800, 3);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev),
                     "2047 x 2^52 tiled");
}
END_TEST

/* Alternating +2^62, -2^62: every running sum of consecutive elements
 * fits, the total is 0.  No overflow may be reported and the sum is exact,
 * however the work is split. */
START_TEST(test_int64_alternating_no_overflow)
{
    uint64_t n = 4096, i;
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    const h5cl_stats_state *x;
    static const uint64_t tiles[3] = {0, 1000, 64};
    tu_array_init(&a, H5CL_INT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_i(&a, i, i % 2 ? -(INT64_C(1) << 62) : (INT64_C(1) << 62));
    tu_write_opts_init(&w);
    w.big_endian = _i % 2;
    if (_i >= 2) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 256;
    }
    opts_init(&o, tiles[_i % 3], 2);
    x = h5cl_stats_get(tu_compute(write_open(&a, &w), &o, "alternating"), 0);
    ck_assert_msg(!x->overflow, "alternating +-2^62 (tile %llu): overflow reported, sum 0 fits",
                  (unsigned long long)o.tile_bytes);
    ck_assert_int_eq(x->sum.i, 0);
    ck_assert_int_eq(x->max.i, INT64_C(1) << 62);
    ck_assert_uint_eq(x->argmin, 1);
}
END_TEST

/* Full-range 64-bit data: tile, work-group and lane sums leave the 64-bit
 * range; the exact total is sum + sum_hi * 2^64.  Variants 2 and 3 pair
 * every value with its negation (mod 2^64), so the total fits. */
START_TEST(test_int64_full_range)
{
    uint64_t n = 5000, i;
    tu_array a;
    tu_write_opts w;
    h5cl_run_options o;
    tu_rng r;
    char what[64];
    static const uint64_t tiles[3] = {0, 1000, 4096};
    tu_rng_seed(&r, 7900 + (uint64_t)_i);
    tu_array_init(&a, _i % 2 ? H5CL_UINT64 : H5CL_INT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_u(&a, i, tu_rng_u64(&r));
    if (_i >= 2)
        for (i = 0; i + 1 < n; i += 2)
            tu_set_u(&a, i + 1, (uint64_t)0 - tu_get_u(&a, i));
    tu_write_opts_init(&w);
    w.big_endian = _i % 3 == 0;
    snprintf(what, sizeof what, "full-range %s variant %d", h5cl_dtype_name(a.dtype), _i);
    for (i = 0; i < 3; i++) {
        opts_init(&o, tiles[i], 2);
        tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
    }
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 300;
    opts_init(&o, 1000, 3);
    tu_compute_check(write_open(&a, &w), &o, &a, NULL, tu_tolerance(&tu_dev), what);
}
END_TEST

/* ---- pieces merged equal the whole --------------------------------------- */

START_TEST(test_pieces_merge)
{
    static const char *pieces[] = {"0:2500", "2500:2501", "2501:2501", "2501:7000", "7000:"};
    static const uint64_t starts[] = {0, 2500, 2501, 2501, 7000};
    uint64_t n = 10007, od[H5CL_MAX_RANK];
    h5cl_dtype dt = _i ? H5CL_INT32 : H5CL_FLOAT64;
    scase c;
    tu_array a;
    tu_rng r;
    h5cl_dataset *ds;
    h5cl_run_options o;
    h5cl_stats_state acc;
    const tu_ref *ref;
    size_t k, nout;
    int orank;
    scase_init(&c, dt, 1, &n);
    c.w.layout = H5CL_LAYOUT_CHUNKED;
    c.w.chunk[0] = 1024;
    tu_rng_seed(&r, 8000 + (uint64_t)_i);
    tu_array_init(&a, dt, 1, &n);
    tu_fill_random(&a, &r, 0.02);
    tu_plant_extrema(&a, &r);
    ds = write_open(&a, &c.w);
    h5cl_stats_state_init(&acc, tu_dtype_kind(dt));
    for (k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        h5cl_stats_state part;
        opts_init(&o, 4096, 2);
        o.select = pieces[k];
        part = *h5cl_stats_get(tu_compute(ds, &o, pieces[k]), 0);
        if (part.count) {
            part.argmin += starts[k];
            part.argmax += starts[k];
        }
        ck_assert_int_eq(h5cl_stats_state_merge(&acc, &part), H5CL_OK);
    }
    ref = tu_reference(&a, NULL, -1, &nout, &orank, od);
    tu_check_state(&acc, ref, tu_tolerance(&tu_dev), "merged pieces");
    tu_check_state(h5cl_stats_get(tu_compute(ds, NULL, "whole"), 0), ref,
                   tu_tolerance(&tu_dev), "whole");
}
END_TEST

/* ---- randomised ---------------------------------------------------------- */

static void random_case(scase *c, tu_rng *r)
{
    int d;
    h5cl_dtype dt = (h5cl_dtype)tu_rng_below(r, H5CL_DTYPE_COUNT);
    int rank = (int)tu_rng_below(r, 5); /* 0..4 */
    uint64_t dims[4];
    uint64_t budget = 40000;
    for (d = 0; d < rank; d++) {
        uint64_t hi = d == rank - 1 ? budget : (rank == 1 ? budget : 40);
        if (hi < 1)
            hi = 1;
        dims[d] = tu_rng_below(r, 15) == 0 ? 0 : 1 + tu_rng_below(r, hi);
        if (dims[d])
            budget /= dims[d];
    }
    scase_init(c, dt, rank, dims);
    c->w.big_endian = (int)tu_rng_below(r, 2);
    switch (tu_rng_below(r, rank ? 3 : 2)) {
    case 0: c->w.layout = H5CL_LAYOUT_CONTIGUOUS; break;
    case 1: c->w.layout = H5CL_LAYOUT_COMPACT; break;
    default: c->w.layout = H5CL_LAYOUT_CHUNKED; break;
    }
    if (c->w.layout == H5CL_LAYOUT_COMPACT) {
        uint64_t nb = h5cl_dtype_size(dt);
        for (d = 0; d < rank; d++)
            nb *= dims[d];
        if (nb > 30000)
            c->w.layout = H5CL_LAYOUT_CONTIGUOUS;
    }
    if (c->w.layout == H5CL_LAYOUT_CHUNKED) {
        for (d = 0; d < rank; d++) {
            uint64_t lo = dims[d] / 40 + 1;
            c->w.chunk[d] = lo + tu_rng_below(r, dims[d] + 3);
            if (c->w.chunk[d] > dims[d])
                c->w.unlimited = 1;
        }
        c->w.gzip = tu_rng_below(r, 3) == 0 ? 1 + (int)tu_rng_below(r, 9) : 0;
        c->w.shuffle = (int)tu_rng_below(r, 2);
        c->w.fletcher32 = tu_rng_below(r, 4) == 0;
        if (tu_rng_below(r, 6) == 0) {
            c->w.write_rows = (int64_t)tu_rng_below(r, dims[0] + 1);
            c->w.has_fill = (int)tu_rng_below(r, 2);
            c->w.fill = 3;
        }
    }
    switch (tu_rng_below(r, 5)) {
    case 0: c->tile_bytes = 0; break;
    case 1: c->tile_bytes = 1000; break;
    case 2: c->tile_bytes = 4096; break;
    case 3: c->tile_bytes = 65536; break;
    default: c->tile_bytes = 64 + tu_rng_below(r, 20000); break;
    }
    c->slots = (unsigned)tu_rng_below(r, 6); /* 0: default */
    {
        static const double fr[4] = {0, 0.01, 0.1, 0.5};
        c->nan_fraction = fr[tu_rng_below(r, 4)];
    }
    c->nan_first = tu_rng_below(r, 4) == 0;
    c->plant = tu_rng_below(r, 4) != 0;
    c->axis = rank && tu_rng_below(r, 2) ? (int)tu_rng_below(r, (uint64_t)rank) : -1;
    if (rank && tu_rng_below(r, 2)) {
        size_t n = 0;
        int parts = 1 + (int)tu_rng_below(r, (uint64_t)rank); /* trailing axes omitted */
        c->use_sel = 1;
        memset(&c->sel, 0, sizeof c->sel);
        c->sel.rank = rank;
        for (d = 0; d < rank; d++)
            c->sel.count[d] = dims[d];
        for (d = 0; d < parts; d++) {
            int64_t dim = (int64_t)dims[d], b = 0, e = 0;
            int hb = (int)tu_rng_below(r, 4) != 0, he = (int)tu_rng_below(r, 4) != 0;
            char sb[24] = "", se[24] = "";
            if (hb) {
                b = tu_rng_range(r, 0, dim);
                if (tu_rng_below(r, 3) == 0)
                    b -= dim; /* negative form of the same index */
                snprintf(sb, sizeof sb, "%lld", (long long)b);
            }
            if (he) {
                e = tu_rng_range(r, 0, dim);
                if (tu_rng_below(r, 3) == 0)
                    e -= dim;
                snprintf(se, sizeof se, "%lld", (long long)e);
            }
            tu_sel_axis(&c->sel, d, dims[d], hb, b, he, e);
            n += (size_t)snprintf(c->sel_str + n, sizeof c->sel_str - n, "%s%s:%s",
                                  d ? "," : "", sb, se);
        }
    }
}

START_TEST(test_random)
{
    tu_rng r;
    int k;
    tu_rng_seed(&r, 0xC0FFEE + (uint64_t)_i);
    for (k = 0; k < 4; k++) {
        scase c;
        random_case(&c, &r);
        run_case(&c, tu_rng_u64(&r));
    }
}
END_TEST

Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("dtypes");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_dtypes_byte_orders, 0, 2 * H5CL_DTYPE_COUNT);
    tcase_add_loop_test(tc, test_ranks_layouts, 0, 15);
    tcase_add_loop_test(tc, test_filters, 0, H5CL_DTYPE_COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("tiles");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_tiles_slots, 0, 6);
    tcase_add_test(tc, test_tiny_tiles);
    suite_add_tcase(s, tc);

    tc = tcase_create("edges");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_one_element);
    tcase_add_test(tc, test_all_nan);
    tcase_add_loop_test(tc, test_constant_extremes, 0, 2 * H5CL_DTYPE_COUNT);
    tcase_add_test(tc, test_infinities);
    tcase_add_test(tc, test_fill_values);
    tcase_add_loop_test(tc, test_large_offset_variance, 0, 8);
    suite_add_tcase(s, tc);

    tc = tcase_create("integers");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_int64_exact_and_overflow, 0, 4);
    tcase_add_test(tc, test_int64_overflow_many);
    tcase_add_loop_test(tc, test_int64_alternating_no_overflow, 0, 6);
    tcase_add_loop_test(tc, test_int64_full_range, 0, 4);
    tcase_add_loop_test(tc, test_pieces_merge, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_random, 0, 16);
    suite_add_tcase(s, tc);

    tc = tcase_create("nofp64");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_without_fp64);
    suite_add_tcase(s, tc);
    return s;
}
