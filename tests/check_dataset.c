/*
 * Datasets: h5cl_dataset_get_info for every dtype, byte order, rank and
 * layout (chunk dims, filter names, sizes), h5cl_dataset_selection,
 * h5cl_file_list_datasets (order, supported flag, early stop), several
 * datasets open at once, read-only files.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check_util.h"

static h5cl_dataset_info get_info(h5cl_dataset *ds)
{
    h5cl_dataset_info info;
    int rc;
    memset(&info, 0x3C, sizeof info);
    rc = h5cl_dataset_get_info(ds, &info);
    ck_assert_msg(rc == H5CL_OK, "get_info: %s", h5cl_errname(rc));
    return info;
}

START_TEST(test_info_dtypes)
{
    h5cl_dtype dtype = (h5cl_dtype)(_i % H5CL_DTYPE_COUNT);
    int be = _i >= H5CL_DTYPE_COUNT;
    uint64_t dims[2] = {13, 4};
    tu_array a;
    tu_write_opts o;
    tu_rng r;
    h5cl_dataset_info info;
    const char *f = tu_path("dt.h5");
    tu_rng_seed(&r, (uint64_t)_i);
    tu_array_init(&a, dtype, 2, dims);
    tu_fill_random(&a, &r, 0);
    tu_write_opts_init(&o);
    o.big_endian = be;
    tu_write(f, "/grp/data", &a, &o);
    info = get_info(tu_open(tu_ctx, f, "/grp/data"));
    ck_assert_str_eq(info.file, f);
    ck_assert_str_eq(info.path, "/grp/data");
    ck_assert_msg(info.dtype == dtype, "dtype %d (%s), want %s", info.dtype,
                  h5cl_dtype_name(info.dtype), h5cl_dtype_name(dtype));
    if (h5cl_dtype_size(dtype) > 1)
        ck_assert_msg(!info.big_endian == !be, "big_endian %d, want %d", info.big_endian, be);
    ck_assert_int_eq(info.rank, 2);
    ck_assert_uint_eq(info.dims[0], 13);
    ck_assert_uint_eq(info.dims[1], 4);
    ck_assert_int_eq(info.layout, H5CL_LAYOUT_CONTIGUOUS);
    ck_assert_uint_eq(info.chunk_dims[0], 0);
    ck_assert_uint_eq(info.chunk_dims[1], 0);
    ck_assert_str_eq(info.filters, "");
    ck_assert_uint_eq(info.element_count, 52);
    ck_assert_uint_eq(info.nbytes, 52 * h5cl_dtype_size(dtype));
    ck_assert_uint_eq(info.storage_bytes, info.nbytes);
}
END_TEST

START_TEST(test_info_layouts)
{
    uint64_t dims[3] = {20, 30, 3}, zero_dims[2] = {5, 0};
    tu_array a, z;
    tu_write_opts o;
    h5cl_dataset_info info;
    const char *f = tu_path("layouts.h5");
    tu_array_init(&a, H5CL_INT32, 3, dims); /* zeros: they compress well */
    tu_write_opts_init(&o);
    o.layout = H5CL_LAYOUT_COMPACT;
    tu_write(f, "/compact", &a, &o);
    o.layout = H5CL_LAYOUT_CHUNKED;
    o.chunk[0] = 7;
    o.chunk[1] = 30;
    o.chunk[2] = 2;
    tu_write(f, "/chunked", &a, &o);
    o.gzip = 4;
    o.shuffle = 1;
    o.fletcher32 = 1;
    o.unlimited = 1;
    tu_write(f, "/filtered", &a, &o);

    info = get_info(tu_open(tu_ctx, f, "/compact"));
    ck_assert_int_eq(info.layout, H5CL_LAYOUT_COMPACT);
    ck_assert_uint_eq(info.element_count, 1800);
    ck_assert_str_eq(info.filters, "");

    info = get_info(tu_open(tu_ctx, f, "/chunked"));
    ck_assert_int_eq(info.layout, H5CL_LAYOUT_CHUNKED);
    ck_assert_uint_eq(info.chunk_dims[0], 7);
    ck_assert_uint_eq(info.chunk_dims[1], 30);
    ck_assert_uint_eq(info.chunk_dims[2], 2);
    ck_assert_str_eq(info.filters, "");
    ck_assert_uint_ge(info.storage_bytes, info.nbytes); /* 3*1*2 chunks of 420 */

    info = get_info(tu_open(tu_ctx, f, "/filtered"));
    ck_assert_int_eq(info.layout, H5CL_LAYOUT_CHUNKED);
    ck_assert_uint_eq(info.dims[0], 20);
    ck_assert_uint_eq(info.chunk_dims[2], 2);
    ck_assert_msg(strstr(info.filters, "deflate(4)") != NULL, "filters \"%s\"", info.filters);
    ck_assert_msg(strstr(info.filters, "shuffle") != NULL, "filters \"%s\"", info.filters);
    ck_assert_msg(tu_contains_ci(info.filters, "fletcher32"), "filters \"%s\"", info.filters);
    ck_assert_uint_eq(info.nbytes, 1800 * 4);
    ck_assert_msg(info.storage_bytes > 0 && info.storage_bytes < info.nbytes / 4,
                  "compressed zeros take %llu bytes", (unsigned long long)info.storage_bytes);

    /* scalar */
    tu_array_init(&z, H5CL_FLOAT64, 0, NULL);
    tu_write_opts_init(&o);
    tu_write(tu_path("scalar.h5"), "/scalar", &z, &o);
    info = get_info(tu_open(tu_ctx, tu_path("scalar.h5"), "/scalar"));
    ck_assert_int_eq(info.rank, 0);
    ck_assert_uint_eq(info.element_count, 1);
    ck_assert_uint_eq(info.nbytes, 8);

    /* a zero dimension */
    tu_array_init(&z, H5CL_UINT16, 2, zero_dims);
    o.layout = H5CL_LAYOUT_CHUNKED;
    o.chunk[0] = 2;
    o.chunk[1] = 2;
    tu_write(tu_path("empty.h5"), "/empty", &z, &o);
    info = get_info(tu_open(tu_ctx, tu_path("empty.h5"), "/empty"));
    ck_assert_int_eq(info.rank, 2);
    ck_assert_uint_eq(info.dims[0], 5);
    ck_assert_uint_eq(info.dims[1], 0);
    ck_assert_uint_eq(info.element_count, 0);
    ck_assert_uint_eq(info.nbytes, 0);
}
END_TEST

START_TEST(test_info_high_rank)
{
    uint64_t dims[H5CL_MAX_RANK];
    tu_array a;
    tu_write_opts o;
    h5cl_dataset_info info;
    int i;
    for (i = 0; i < H5CL_MAX_RANK; i++)
        dims[i] = (i % 7 == 3) ? 2 : 1;
    tu_array_init(&a, H5CL_INT8, H5CL_MAX_RANK, dims);
    tu_write_opts_init(&o);
    o.layout = H5CL_LAYOUT_CHUNKED;
    tu_write(tu_path("r32.h5"), "/r32", &a, &o);
    info = get_info(tu_open(tu_ctx, tu_path("r32.h5"), "/r32"));
    ck_assert_int_eq(info.rank, H5CL_MAX_RANK);
    for (i = 0; i < H5CL_MAX_RANK; i++)
        ck_assert_uint_eq(info.dims[i], dims[i]);
    ck_assert_uint_eq(info.element_count, a.n);
}
END_TEST

static void check_selection(h5cl_dataset *ds, const char *sel, int want_rank,
                            const uint64_t *want)
{
    uint64_t dims[H5CL_MAX_RANK];
    int rank = -7, rc, d;
    rc = h5cl_dataset_selection(ds, sel, &rank, dims);
    ck_assert_msg(rc == H5CL_OK, "selection \"%s\": %s: %s", sel ? sel : "(null)",
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(rank == want_rank, "selection \"%s\": rank %d, want %d", sel, rank,
                  want_rank);
    for (d = 0; d < rank; d++)
        ck_assert_msg(dims[d] == want[d], "selection \"%s\": dim %d is %llu, want %llu",
                      sel, d, (unsigned long long)dims[d], (unsigned long long)want[d]);
}

START_TEST(test_selection_shapes)
{
    static const struct {
        const char *sel;
        uint64_t dims[3];
    } cases[] = {
        {NULL, {10, 7, 4}},       {":,:,:", {10, 7, 4}},     {"2:5,1:7,0:4", {3, 6, 4}},
        {"2:5", {3, 7, 4}},       {"2:5,3:", {3, 4, 4}},     {":-1,-3:,:2", {9, 3, 2}},
        {"-4:-2,:,:", {2, 7, 4}}, {"5:5,:,:", {0, 7, 4}},   {"7:3,:,:", {0, 7, 4}},
        {"0:100,:,:", {10, 7, 4}}, {"-100:3,:,:", {3, 7, 4}}, {"3:-100,:,:", {0, 7, 4}},
        {":,6:,1:2", {10, 1, 1}}, {"9:10,0:1,3:4", {1, 1, 1}},
    };
    uint64_t dims[3] = {10, 7, 4}, sdims[1] = {0};
    tu_array a;
    tu_write_opts o;
    h5cl_dataset *ds;
    size_t i;
    tu_array_init(&a, H5CL_FLOAT32, 3, dims);
    tu_write_opts_init(&o);
    tu_write(tu_path("sel.h5"), "/x", &a, &o);
    ds = tu_open(tu_ctx, tu_path("sel.h5"), "/x");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_selection(ds, cases[i].sel, 3, cases[i].dims);
    tu_array_init(&a, H5CL_INT32, 0, NULL);
    tu_write(tu_path("sel-scalar.h5"), "/s", &a, &o);
    ds = tu_open(tu_ctx, tu_path("sel-scalar.h5"), "/s");
    check_selection(ds, NULL, 0, sdims);
}
END_TEST

START_TEST(test_selection_invalid)
{
    static const char *bad[] = {"abc",      "1:2:3:4",       "0:1,0:1,0:1,0:1",
                                "1-3",      "1:x",           "x:1",
                                "1.5:3",    "1:2;3:4",       ",",
                                "1:2,,0:1", "--1:2",         "1:2)"};
    uint64_t dims[3] = {10, 7, 4}, out[H5CL_MAX_RANK];
    tu_array a;
    tu_write_opts o;
    h5cl_dataset *ds;
    h5cl_run_options opts;
    size_t i;
    tu_array_init(&a, H5CL_INT16, 3, dims);
    tu_write_opts_init(&o);
    tu_write(tu_path("bad.h5"), "/x", &a, &o);
    ds = tu_open(tu_ctx, tu_path("bad.h5"), "/x");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rank, rc = h5cl_dataset_selection(ds, bad[i], &rank, out);
        h5cl_stats *st = (h5cl_stats *)&st;
        ck_assert_msg(rc == H5CL_ERR_SELECTION, "selection \"%s\": %s, want H5CL_ERR_SELECTION",
                      bad[i], h5cl_errname(rc));
        h5cl_run_options_init(&opts);
        opts.select = bad[i];
        rc = h5cl_stats_compute(ds, &opts, &st);
        ck_assert_msg(rc == H5CL_ERR_SELECTION, "compute with \"%s\": %s", bad[i],
                      h5cl_errname(rc));
        ck_assert_ptr_null(st);
        ck_assert_msg(h5cl_ctx_errmsg(tu_ctx)[0] != '\0', "no message for \"%s\"", bad[i]);
    }
    /* a scalar has no axes to select */
    tu_array_init(&a, H5CL_INT16, 0, NULL);
    tu_write(tu_path("bad-scalar.h5"), "/s", &a, &o);
    ds = tu_open(tu_ctx, tu_path("bad-scalar.h5"), "/s");
    {
        int rank, rc = h5cl_dataset_selection(ds, "0:1", &rank, out);
        ck_assert_msg(rc == H5CL_ERR_SELECTION, "scalar \"0:1\": %s", h5cl_errname(rc));
    }
}
END_TEST

typedef struct visit_log {
    int n;
    char paths[16][64];
    int supported[16];
    int stop_at;
} visit_log;

static int visit(const char *path, int supported, void *user)
{
    visit_log *v = user;
    if (v->n < 16) {
        snprintf(v->paths[v->n], sizeof v->paths[0], "%s", path);
        v->supported[v->n] = supported;
    }
    v->n++;
    return v->n == v->stop_at ? 42 : 0;
}

START_TEST(test_list_datasets)
{
    static const struct {
        const char *path;
        int supported;
    } want[] = {
        {"/a", 1},           {"/b_compound", 0}, {"/grp/b", 1}, {"/grp/sub/c", 1},
        {"/grp/sub/d_str", 0}, {"/grp/z", 1},     {"/s", 1},     {"/z_opaque", 0},
    };
    const char *f = tu_path("walk.h5");
    uint64_t dims[1] = {3};
    tu_array a;
    tu_write_opts o;
    visit_log v;
    int rc, i;
    tu_array_init(&a, H5CL_UINT8, 1, dims);
    tu_write_opts_init(&o);
    /* created out of order; the walk is in name order */
    tu_write(f, "/s", &a, &o);
    tu_write(f, "/grp/z", &a, &o);
    tu_write(f, "/grp/sub/c", &a, &o);
    tu_write_special(f, "/z_opaque", "opaque");
    tu_write(f, "/a", &a, &o);
    tu_write_special(f, "/grp/sub/d_str", "string");
    tu_write(f, "/grp/b", &a, &o);
    tu_write_special(f, "/b_compound", "compound");
    tu_write_group(f, "/grp/empty_group");
    memset(&v, 0, sizeof v);
    rc = h5cl_file_list_datasets(tu_ctx, f, visit, &v);
    ck_assert_msg(rc == H5CL_OK, "list: %s: %s", h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_int_eq(v.n, (int)(sizeof want / sizeof want[0]));
    for (i = 0; i < v.n; i++) {
        ck_assert_str_eq(v.paths[i], want[i].path);
        ck_assert_msg(!v.supported[i] == !want[i].supported, "%s: supported %d",
                      v.paths[i], v.supported[i]);
    }
    memset(&v, 0, sizeof v);
    v.stop_at = 3;
    rc = h5cl_file_list_datasets(tu_ctx, f, visit, &v);
    ck_assert_int_eq(rc, 42);
    ck_assert_int_eq(v.n, 3);
    rc = h5cl_file_list_datasets(tu_ctx, tu_path("nothere.h5"), visit, &v);
    ck_assert_int_eq(rc, H5CL_ERR_FILE_NOT_FOUND);
    ck_assert_int_eq(v.n, 3);
}
END_TEST

START_TEST(test_several_open)
{
    uint64_t dims[2] = {50, 21};
    tu_array a, b;
    tu_write_opts o;
    tu_rng r;
    h5cl_dataset *d1, *d2, *d3;
    tu_tol tol = tu_tolerance(&tu_dev);
    const char *f = tu_path("multi.h5");
    tu_rng_seed(&r, 5);
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.1);
    tu_array_init(&b, H5CL_UINT32, 2, dims);
    tu_fill_random(&b, &r, 0);
    tu_write_opts_init(&o);
    tu_write(f, "/a", &a, &o);
    o.layout = H5CL_LAYOUT_CHUNKED;
    tu_write(f, "/b", &b, &o);
    chmod(f, 0444);
    d1 = tu_open(tu_ctx, f, "/a");
    d2 = tu_open(tu_ctx, f, "/b");
    d3 = tu_open(tu_ctx, f, "/a");
    tu_compute_check(d2, NULL, &b, NULL, tol, "b");
    tu_compute_check(d1, NULL, &a, NULL, tol, "a");
    tu_compute_check(d3, NULL, &a, NULL, tol, "a again");
    tu_release(d1);
    tu_compute_check(d3, NULL, &a, NULL, tol, "a after closing its twin");
    tu_compute_check(d2, NULL, &b, NULL, tol, "b after closing a");
}
END_TEST

/* A soft link to a dataset opens the dataset. */
START_TEST(test_soft_link)
{
    uint64_t dims[1] = {333};
    tu_array a;
    tu_write_opts o;
    tu_rng r;
    hid_t f;
    const char *file = tu_path("link.h5");
    tu_rng_seed(&r, 17);
    tu_array_init(&a, H5CL_INT16, 1, dims);
    tu_fill_random(&a, &r, 0);
    tu_write_opts_init(&o);
    tu_write(file, "/grp/data", &a, &o);
    f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Lcreate_soft("/grp/data", f, "/alias", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    tu_compute_check(tu_open(tu_ctx, file, "/alias"), NULL, &a, NULL, tu_tolerance(&tu_dev),
                     "through a soft link");
}
END_TEST

Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("info");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_info_dtypes, 0, 2 * H5CL_DTYPE_COUNT);
    tcase_add_test(tc, test_info_layouts);
    tcase_add_test(tc, test_info_high_rank);
    tcase_add_test(tc, test_selection_shapes);
    tcase_add_test(tc, test_selection_invalid);
    tcase_add_test(tc, test_list_datasets);
    tcase_add_test(tc, test_several_open);
    tcase_add_test(tc, test_soft_link);
    suite_add_tcase(s, tc);
    return s;
}
