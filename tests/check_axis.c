/*
 * Selections ("start:stop,..." with numpy semantics) in statistics runs,
 * and per-axis statistics (opts.axis): result count and shape, every state
 * against the reference for each axis of 2-D, 3-D and 5-D data, argmin and
 * argmax along the axis with ties, tiles that cut lines, empty axes, and
 * invalid axes.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"

static h5cl_dataset *make(tu_array *a, h5cl_dtype dt, int rank, const uint64_t *dims,
                          const tu_write_opts *w, uint64_t seed, double nan_fraction)
{
    static int gen;
    char file[32];
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, dt, rank, dims);
    tu_fill_random(a, &r, nan_fraction);
    tu_plant_extrema(a, &r);
    snprintf(file, sizeof file, "a%d.h5", gen++);
    tu_write(tu_path(file), "/x", a, w);
    return tu_open(tu_ctx, tu_path(file), "/x");
}

static void check_axis(h5cl_dataset *ds, const tu_array *a, const char *select,
                       const tu_sel *sel, int axis, uint64_t tile_bytes, unsigned slots,
                       const char *label)
{
    h5cl_run_options o;
    char what[256];
    h5cl_run_options_init(&o);
    o.axis = axis;
    o.select = select;
    o.tile_bytes = tile_bytes;
    o.slots = slots;
    snprintf(what, sizeof what, "%s %s axis %d select \"%s\" tile %llu slots %u", label,
             h5cl_dtype_name(a->dtype), axis, select ? select : "(all)",
             (unsigned long long)tile_bytes, slots);
    tu_compute_check(ds, &o, a, sel, tu_tolerance(&tu_dev), what);
}

/* ---- selections in runs ------------------------------------------------- */

START_TEST(test_selection_stats)
{
    static const struct {
        const char *sel;
        int64_t start[3];
        uint64_t count[3];
    } cases[] = {
        {"2:5,1:7,0:4", {2, 1, 0}, {3, 6, 4}},  {"2:5", {2, 0, 0}, {3, 7, 4}},
        {":-1,-3:,:2", {0, 4, 0}, {9, 3, 2}},   {"-4:-2,:,:", {6, 0, 0}, {2, 7, 4}},
        {"5:5,:,:", {5, 0, 0}, {0, 7, 4}},      {"7:3", {7, 0, 0}, {0, 7, 4}},
        {"0:100,:,:", {0, 0, 0}, {10, 7, 4}},   {"-100:3,2:3", {0, 2, 0}, {3, 1, 4}},
        {":,6:,1:2", {0, 6, 1}, {10, 1, 1}},    {"9:10,0:1,3:4", {9, 0, 3}, {1, 1, 1}},
        {":,:,-1:", {0, 0, 3}, {10, 7, 1}},     {"1:9,2:6,1:3", {1, 2, 1}, {8, 4, 2}},
    };
    uint64_t dims[3] = {10, 7, 4};
    h5cl_dtype dt = _i ? H5CL_INT16 : H5CL_FLOAT64;
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    size_t i;
    int d;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 3;
    w.chunk[1] = 2;
    w.chunk[2] = 4;
    ds = make(&a, dt, 3, dims, &w, 9000 + (uint64_t)_i, 0.05);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_sel s;
        tu_sel_all(&s, &a);
        for (d = 0; d < 3; d++) {
            s.start[d] = (uint64_t)cases[i].start[d];
            s.count[d] = cases[i].count[d];
        }
        check_axis(ds, &a, cases[i].sel, &s, -1, 100, 2, "selection");
        check_axis(ds, &a, cases[i].sel, &s, -1, 0, 0, "selection");
    }
}
END_TEST

/* ---- per-axis ------------------------------------------------------------ */

static const h5cl_dtype axis_dtypes[4] = {H5CL_FLOAT64, H5CL_INT32, H5CL_FLOAT32, H5CL_UINT8};

START_TEST(test_axis_2d)
{
    uint64_t dims[2] = {37, 23};
    h5cl_dtype dt = axis_dtypes[_i / 2];
    int axis = _i % 2;
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    tu_write_opts_init(&w);
    ds = make(&a, dt, 2, dims, &w, 9100 + (uint64_t)_i, 0.05);
    check_axis(ds, &a, NULL, NULL, axis, 0, 0, "2-D contiguous");
    check_axis(ds, &a, NULL, NULL, axis, 1000, 2, "2-D contiguous");
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 8;
    w.chunk[1] = 5;
    w.big_endian = 1;
    ds = make(&a, dt, 2, dims, &w, 9200 + (uint64_t)_i, 0.05);
    check_axis(ds, &a, NULL, NULL, axis, 1000, 3, "2-D chunked");
    check_axis(ds, &a, NULL, NULL, axis, 64, 1, "2-D chunked");
}
END_TEST

START_TEST(test_axis_3d)
{
    uint64_t dims[3] = {9, 11, 7};
    h5cl_dtype dt = _i < 3 ? H5CL_FLOAT64 : H5CL_INT64;
    int axis = _i % 3;
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 4;
    w.chunk[1] = 3;
    w.chunk[2] = 7;
    w.gzip = 3;
    w.shuffle = 1;
    w.big_endian = _i % 2;
    ds = make(&a, dt, 3, dims, &w, 9300 + (uint64_t)_i, 0.1);
    check_axis(ds, &a, NULL, NULL, axis, 0, 0, "3-D");
    check_axis(ds, &a, NULL, NULL, axis, 500, 2, "3-D");
    w.layout = H5CL_LAYOUT_COMPACT;
    ds = make(&a, dt, 3, dims, &w, 9400 + (uint64_t)_i, 0.1);
    check_axis(ds, &a, NULL, NULL, axis, 200, 5, "3-D compact");
}
END_TEST

START_TEST(test_axis_5d)
{
    uint64_t dims[5] = {3, 4, 5, 2, 6};
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 2;
    w.chunk[1] = 3;
    w.chunk[2] = 5;
    w.chunk[3] = 1;
    w.chunk[4] = 4;
    ds = make(&a, _i % 2 ? H5CL_INT16 : H5CL_FLOAT32, 5, dims, &w, 9500 + (uint64_t)_i, 0.05);
    check_axis(ds, &a, NULL, NULL, _i, 300, 2, "5-D");
    check_axis(ds, &a, NULL, NULL, _i, 0, 0, "5-D");
}
END_TEST

START_TEST(test_axis_with_selection)
{
    uint64_t dims[3] = {20, 15, 6};
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    tu_sel s;
    int axis = _i;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 6;
    w.chunk[1] = 4;
    w.chunk[2] = 6;
    ds = make(&a, H5CL_FLOAT64, 3, dims, &w, 9600, 0.05);
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, 20, 1, 3, 1, 17);
    tu_sel_axis(&s, 1, 15, 1, -5, 0, 0);
    tu_sel_axis(&s, 2, 6, 1, 1, 1, 5);
    check_axis(ds, &a, "3:17,-5:,1:5", &s, axis, 0, 0, "selected");
    check_axis(ds, &a, "3:17,-5:,1:5", &s, axis, 120, 2, "selected");
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, 20, 0, 0, 1, -19);
    check_axis(ds, &a, ":-19", &s, axis, 100, 2, "one row");
}
END_TEST

/* Lines along the axis much longer than a tile: partial states of one
 * output position come from many tiles and must be merged with their
 * offsets along the axis. */
START_TEST(test_axis_long_lines)
{
    uint64_t tall[2] = {20000, 3}, wide[2] = {3, 20000};
    tu_sel s;
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    tu_write_opts_init(&w);
    if (_i) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 1000;
        w.chunk[1] = 2;
    }
    ds = make(&a, H5CL_FLOAT64, 2, tall, &w, 9650 + (uint64_t)_i, 0.02);
    check_axis(ds, &a, NULL, NULL, 0, 4096, 3, "tall");
    check_axis(ds, &a, NULL, NULL, 1, 4096, 3, "tall");
    if (_i) {
        w.chunk[0] = 2;
        w.chunk[1] = 1000;
    }
    ds = make(&a, H5CL_INT32, 2, wide, &w, 9660 + (uint64_t)_i, 0);
    check_axis(ds, &a, NULL, NULL, 1, 1000, 2, "wide");
    check_axis(ds, &a, NULL, NULL, 0, 1000, 2, "wide");
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, 3, 1, 1, 1, 3);
    tu_sel_axis(&s, 1, 20000, 1, -15000, 0, 0);
    check_axis(ds, &a, "1:3,-15000:", &s, 1, 1000, 2, "wide selected");
}
END_TEST

/* 64-bit totals per output position: a column of INT64_MAX overflows, a
 * column of +-2^62 pairs does not, full-range random columns may. */
START_TEST(test_axis_int64_totals)
{
    uint64_t dims[2] = {40, 4}, i;
    tu_array a;
    tu_write_opts w;
    tu_rng r;
    int axis;
    tu_rng_seed(&r, 9750 + (uint64_t)_i);
    tu_array_init(&a, _i ? H5CL_UINT64 : H5CL_INT64, 2, dims);
    for (i = 0; i < dims[0]; i++) {
        tu_set_u(&a, i * 4 + 0, _i ? UINT64_MAX : (uint64_t)INT64_MAX);
        tu_set_i(&a, i * 4 + 1, i % 2 ? -(INT64_C(1) << 62) : (INT64_C(1) << 62));
        tu_set_u(&a, i * 4 + 2, tu_rng_u64(&r));
        tu_set_i(&a, i * 4 + 3, (int64_t)i - 20);
    }
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 7;
    w.chunk[1] = 4;
    tu_write(tu_path("tot.h5"), "/x", &a, &w);
    for (axis = -1; axis < 2; axis++) {
        check_axis(tu_open(tu_ctx, tu_path("tot.h5"), "/x"), &a, NULL, NULL, axis, 0, 0,
                   "64-bit totals");
        check_axis(tu_open(tu_ctx, tu_path("tot.h5"), "/x"), &a, NULL, NULL, axis, 64, 2,
                   "64-bit totals");
    }
}
END_TEST

/* Few distinct values: many ties along every line, so argmin/argmax along
 * the axis must be the first occurrence. */
START_TEST(test_axis_ties)
{
    uint64_t dims[3] = {30, 20, 3}, i;
    tu_array a;
    tu_write_opts w;
    tu_rng r;
    int axis;
    tu_rng_seed(&r, 9700);
    tu_array_init(&a, _i ? H5CL_FLOAT32 : H5CL_INT8, 3, dims);
    for (i = 0; i < a.n; i++)
        tu_set_d(&a, i, (double)tu_rng_range(&r, -2, 2));
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 7;
    w.chunk[1] = 6;
    w.chunk[2] = 2;
    tu_write(tu_path("ties.h5"), "/x", &a, &w);
    for (axis = -1; axis < 3; axis++)
        check_axis(tu_open(tu_ctx, tu_path("ties.h5"), "/x"), &a, NULL, NULL, axis, 90, 3,
                   "ties");
}
END_TEST

/* A table of rows x 16 columns reduced along the rows: the axis is cut
 * into splits (ops_stats.c), whose partial states must merge in order, so
 * ties go to the first row, across splits and tiles. */
START_TEST(test_axis_few_columns)
{
    static const h5cl_dtype dts[3] = {H5CL_FLOAT32, H5CL_INT16, H5CL_FLOAT64};
    uint64_t dims[2] = {12000, 16}, i;
    tu_array a;
    tu_write_opts w;
    tu_rng r;
    tu_rng_seed(&r, 9800 + (uint64_t)_i);
    tu_array_init(&a, dts[_i], 2, dims);
    for (i = 0; i < a.n; i++)
        tu_set_d(&a, i, (double)tu_rng_range(&r, -3, 3));
    if (dts[_i] != H5CL_INT16)
        for (i = 5; i < a.n; i += 997)
            tu_set_d(&a, i, NAN);
    tu_write_opts_init(&w);
    tu_write(tu_path("few.h5"), "/x", &a, &w);
    h5cl_dataset *ds = tu_open(tu_ctx, tu_path("few.h5"), "/x");
    check_axis(ds, &a, NULL, NULL, 0, 0, 0, "rows x 16");
    check_axis(ds, &a, NULL, NULL, 0, 200000, 2, "rows x 16");
    check_axis(ds, &a, NULL, NULL, 1, 0, 0, "rows x 16");
    /* distinct values: the extrema planted twice each, first one wins */
    ds = make(&a, dts[_i], 2, dims, &w, 9810 + (uint64_t)_i, 0.01);
    check_axis(ds, &a, NULL, NULL, 0, 0, 0, "rows x 16 planted");
    /* ties in blocks free of NaN (the CPU kernel's fast path keeps block
     * extrema and finds the first step at the end), one block with a NaN
     * (redone step by step) and infinities in clean blocks */
    tu_rng_seed(&r, 9820 + (uint64_t)_i);
    for (i = 0; i < a.n; i++)
        tu_set_d(&a, i, (double)tu_rng_range(&r, -3, 3));
    if (dts[_i] != H5CL_INT16) {
        tu_set_d(&a, 3000 * 16 + 5, NAN);
        tu_set_d(&a, 7000 * 16 + 2, INFINITY);
        tu_set_d(&a, 9000 * 16 + 9, -INFINITY);
    }
    tu_write(tu_path("few2.h5"), "/x", &a, &w);
    ds = tu_open(tu_ctx, tu_path("few2.h5"), "/x");
    check_axis(ds, &a, NULL, NULL, 0, 0, 0, "rows x 16, clean blocks");
    check_axis(ds, &a, NULL, NULL, 0, 200000, 2, "rows x 16, clean blocks");
}
END_TEST

/* Rows of 24 to 128 columns along the rows: the CPU kernel takes one to
 * eight groups of eight columns per work-item (ops_stats.c, AXIS8_GROUPS),
 * so rows are whole in one work-item (48, 64) or shared by several (24:
 * three of one group, 128: two of eight).  Few distinct values (ties) and
 * some NaNs. */
START_TEST(test_axis_row_groups)
{
    static const uint64_t cols[4] = {24, 48, 64, 128};
    uint64_t dims[2] = {5000, cols[_i % 4]}, i;
    tu_array a;
    tu_write_opts w;
    tu_rng r;
    tu_rng_seed(&r, 9830 + (uint64_t)_i);
    tu_array_init(&a, _i < 4 ? H5CL_FLOAT32 : H5CL_UINT8, 2, dims);
    for (i = 0; i < a.n; i++)
        tu_set_d(&a, i, (double)tu_rng_range(&r, 0, 6));
    if (_i < 4)
        for (i = 7; i < a.n; i += 1999)
            tu_set_d(&a, i, NAN);
    tu_write_opts_init(&w);
    tu_write(tu_path("groups.h5"), "/x", &a, &w);
    h5cl_dataset *ds = tu_open(tu_ctx, tu_path("groups.h5"), "/x");
    check_axis(ds, &a, NULL, NULL, 0, 0, 0, "row groups");
    check_axis(ds, &a, NULL, NULL, 0, 300000, 2, "row groups");
}
END_TEST

START_TEST(test_axis_empty)
{
    uint64_t dims[3] = {4, 0, 3}, od[H5CL_MAX_RANK];
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    h5cl_run_options o;
    h5cl_stats *st;
    tu_sel s;
    int axis;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    ds = make(&a, H5CL_FLOAT64, 3, dims, &w, 9800, 0);
    for (axis = 0; axis < 3; axis++)
        check_axis(ds, &a, NULL, NULL, axis, 0, 0, "empty");
    h5cl_run_options_init(&o);
    o.axis = 0;
    st = tu_compute(ds, &o, "axis 0 of 4x0x3");
    ck_assert_uint_eq(h5cl_stats_count(st), 0);
    ck_assert_int_eq(h5cl_stats_shape(st, od), 2);
    ck_assert_uint_eq(od[0], 0);
    ck_assert_uint_eq(od[1], 3);
    ck_assert_ptr_null(h5cl_stats_get(st, 0));
    o.axis = 1;
    st = tu_compute(ds, &o, "axis 1 of 4x0x3");
    ck_assert_uint_eq(h5cl_stats_count(st), 12);
    ck_assert_uint_eq(h5cl_stats_get(st, 11)->count, 0);
    ck_assert(isnan(h5cl_stats_state_mean(h5cl_stats_get(st, 11))));
    /* a selection that empties the reduced axis */
    dims[1] = 5;
    ds = make(&a, H5CL_INT32, 3, dims, &w, 9801, 0);
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 1, 5, 1, 2, 1, 2);
    check_axis(ds, &a, ":,2:2", &s, 1, 100, 2, "emptied axis");
    check_axis(ds, &a, ":,2:2", &s, 0, 100, 2, "emptied other axis");
}
END_TEST

/* Reducing the only axis of 1-D data: one state, rank-0 shape, indices
 * along the axis. */
START_TEST(test_axis_1d)
{
    uint64_t n = 5003, od[H5CL_MAX_RANK];
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    h5cl_run_options o;
    h5cl_stats *st;
    tu_write_opts_init(&w);
    ds = make(&a, H5CL_FLOAT64, 1, &n, &w, 9900, 0.05);
    check_axis(ds, &a, NULL, NULL, 0, 1000, 2, "1-D");
    h5cl_run_options_init(&o);
    o.axis = 0;
    st = tu_compute(ds, &o, "1-D");
    ck_assert_uint_eq(h5cl_stats_count(st), 1);
    ck_assert_int_eq(h5cl_stats_shape(st, od), 0);
}
END_TEST

START_TEST(test_axis_invalid)
{
    static const int bad[] = {2, 3, 7, -2, -3, INT_MAX, INT_MIN};
    uint64_t dims[2] = {5, 4};
    tu_array a;
    tu_write_opts w;
    h5cl_dataset *ds;
    h5cl_run_options o;
    size_t i;
    tu_write_opts_init(&w);
    ds = make(&a, H5CL_INT32, 2, dims, &w, 9950, 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h5cl_stats *st = (h5cl_stats *)&st;
        int rc;
        h5cl_run_options_init(&o);
        o.axis = bad[i];
        rc = h5cl_stats_compute(ds, &o, &st);
        ck_assert_msg(rc == H5CL_ERR_AXIS, "axis %d of rank 2: %s", bad[i], h5cl_errname(rc));
        ck_assert_ptr_null(st);
        ck_assert(h5cl_ctx_errmsg(tu_ctx)[0] != '\0');
    }
    tu_array_init(&a, H5CL_INT32, 0, NULL);
    tu_write(tu_path("scalar.h5"), "/s", &a, &w);
    ds = tu_open(tu_ctx, tu_path("scalar.h5"), "/s");
    h5cl_run_options_init(&o);
    o.axis = 0;
    {
        h5cl_stats *st = (h5cl_stats *)&st;
        int rc = h5cl_stats_compute(ds, &o, &st);
        ck_assert_msg(rc == H5CL_ERR_AXIS, "axis 0 of a scalar: %s", h5cl_errname(rc));
        ck_assert_ptr_null(st);
    }
    /* the context still works */
    ds = make(&a, H5CL_INT32, 2, dims, &w, 9951, 0);
    check_axis(ds, &a, NULL, NULL, 1, 0, 0, "after errors");
}
END_TEST

Suite *axis_suite(void)
{
    Suite *s = suite_create("axis");
    TCase *tc = tcase_create("selection");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_selection_stats, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("axis");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_axis_2d, 0, 8);
    tcase_add_loop_test(tc, test_axis_3d, 0, 6);
    tcase_add_loop_test(tc, test_axis_5d, 0, 5);
    tcase_add_loop_test(tc, test_axis_with_selection, 0, 3);
    tcase_add_loop_test(tc, test_axis_long_lines, 0, 2);
    tcase_add_loop_test(tc, test_axis_int64_totals, 0, 2);
    tcase_add_loop_test(tc, test_axis_ties, 0, 2);
    tcase_add_loop_test(tc, test_axis_few_columns, 0, 3);
    tcase_add_loop_test(tc, test_axis_row_groups, 0, 8);
    tcase_add_test(tc, test_axis_empty);
    tcase_add_test(tc, test_axis_1d);
    tcase_add_test(tc, test_axis_invalid);
    suite_add_tcase(s, tc);
    return s;
}
