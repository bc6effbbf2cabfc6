/*
 * Status codes and their texts, small static tables, and the errors of
 * opening files and datasets: the code, the *_ret NULL on failure, the
 * context's message (naming the file, the closest dataset paths, the type
 * class, the devices that exist), and that the library prints nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check_util.h"

/* ---- static texts ------------------------------------------------------- */

START_TEST(test_status_texts)
{
#define CHECK_STATUS(name, value, msg)                                            \
    ck_assert_int_eq(H5CL_##name, value);                                         \
    ck_assert_str_eq(h5cl_strerror(value), msg);                                  \
    ck_assert_str_eq(h5cl_errname(value), "H5CL_" #name);
    H5CL_STATUS_LIST(CHECK_STATUS)
#undef CHECK_STATUS
}
END_TEST

START_TEST(test_status_unknown)
{
    static const int unknown[] = {1, 7, -99, -999, INT_MAX, INT_MIN};
    size_t i;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = h5cl_strerror(unknown[i]), *n = h5cl_errname(unknown[i]);
        ck_assert_msg(s != NULL && s[0] != '\0', "strerror(%d) empty", unknown[i]);
        ck_assert_msg(n != NULL && n[0] != '\0', "errname(%d) empty", unknown[i]);
        ck_assert_msg(strcmp(s, "success") != 0, "strerror(%d) is success", unknown[i]);
#define NOT_KNOWN(name, value, msg)                                               \
    ck_assert_msg(strcmp(n, "H5CL_" #name) != 0, "errname(%d) = %s", unknown[i], n);
        H5CL_STATUS_LIST(NOT_KNOWN)
#undef NOT_KNOWN
    }
}
END_TEST

START_TEST(test_dtype_table)
{
    static const char *names[H5CL_DTYPE_COUNT] = {
        "int8", "uint8", "int16", "uint16", "int32", "uint32",
        "int64", "uint64", "float32", "float64"};
    static const size_t sizes[H5CL_DTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
    int d;
    for (d = 0; d < H5CL_DTYPE_COUNT; d++) {
        ck_assert_str_eq(h5cl_dtype_name((h5cl_dtype)d), names[d]);
        ck_assert_uint_eq(h5cl_dtype_size((h5cl_dtype)d), sizes[d]);
    }
    ck_assert_str_eq(h5cl_dtype_name(H5CL_DTYPE_COUNT), "unknown");
    ck_assert_str_eq(h5cl_dtype_name((h5cl_dtype)-1), "unknown");
    ck_assert_uint_eq(h5cl_dtype_size(H5CL_DTYPE_COUNT), 0);
    ck_assert_uint_eq(h5cl_dtype_size((h5cl_dtype)1000), 0);
}
END_TEST

START_TEST(test_stage_names_version_options)
{
    h5cl_run_options o;
    int s, t;
    for (s = 0; s < H5CL_STAGE_COUNT; s++) {
        const char *n = h5cl_stage_name((h5cl_stage)s);
        ck_assert_msg(n != NULL && n[0] != '\0', "stage %d unnamed", s);
        for (t = 0; t < s; t++)
            ck_assert_str_ne(n, h5cl_stage_name((h5cl_stage)t));
    }
    ck_assert_ptr_nonnull(h5cl_stage_name(H5CL_STAGE_COUNT));
    ck_assert_ptr_nonnull(h5cl_stage_name((h5cl_stage)-3));
    ck_assert_str_eq(h5cl_version(), H5CL_VERSION_STRING);
    ck_assert_str_eq(h5cl_device_type_name(H5CL_DEVICE_GPU), "gpu");
    ck_assert_str_eq(h5cl_device_type_name(H5CL_DEVICE_ACCELERATOR), "accelerator");
    ck_assert_str_eq(h5cl_device_type_name(H5CL_DEVICE_CPU), "cpu");
    ck_assert_str_eq(h5cl_device_type_name((h5cl_device_type)77), "other");
    ck_assert_str_eq(h5cl_layout_name(H5CL_LAYOUT_COMPACT), "compact");
    ck_assert_str_eq(h5cl_layout_name(H5CL_LAYOUT_CONTIGUOUS), "contiguous");
    ck_assert_str_eq(h5cl_layout_name(H5CL_LAYOUT_CHUNKED), "chunked");
    ck_assert_str_eq(h5cl_layout_name((h5cl_layout)-1), "other");
    memset(&o, 0x5C, sizeof o);
    h5cl_run_options_init(&o);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert_int_eq(o.axis, -1);
    ck_assert_ptr_null(o.select);
    ck_assert_ptr_null(o.trace_path);
    ck_assert_ptr_null(o.progress);
    ck_assert_ptr_null(o.progress_user);
    ck_assert(o.tile_bytes == 0 || o.tile_bytes == 8u << 20);
    ck_assert(o.slots == 0 || o.slots == 3);
}
END_TEST

START_TEST(test_null_safe_destructors)
{
    h5cl_ctx_destroy(NULL);
    h5cl_dataset_close(NULL);
    h5cl_stats_free(NULL);
}
END_TEST

/* ---- file and dataset errors -------------------------------------------- */

static void write_small(const char *file, const char *path)
{
    uint64_t dims[1] = {10};
    tu_array a;
    tu_write_opts o;
    tu_rng r;
    tu_rng_seed(&r, 3);
    tu_array_init(&a, H5CL_FLOAT64, 1, dims);
    tu_fill_random(&a, &r, 0);
    tu_write_opts_init(&o);
    tu_write(file, path, &a, &o);
}

/* Opens expecting failure `want`; returns the context's message. */
static const char *open_fails(const char *file, const char *path, int want)
{
    h5cl_dataset *ds = (h5cl_dataset *)&ds;
    int rc = h5cl_dataset_open(tu_ctx, file, path, &ds);
    ck_assert_msg(rc == want, "open %s %s: %s, want %s (%s)", file, path,
                  h5cl_errname(rc), h5cl_errname(want), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(ds == NULL, "ds_ret not NULL after failure");
    ck_assert_int_eq(h5cl_ctx_errcode(tu_ctx), want);
    ck_assert_msg(h5cl_ctx_errmsg(tu_ctx)[0] != '\0', "no message for %s",
                  h5cl_errname(want));
    return h5cl_ctx_errmsg(tu_ctx);
}

START_TEST(test_missing_file)
{
    const char *f = tu_path("no-such-file.h5");
    const char *msg = open_fails(f, "/x", H5CL_ERR_FILE_NOT_FOUND);
    ck_assert_msg(strstr(msg, f) != NULL, "message does not name the file: %s", msg);
    msg = open_fails(tu_path("no-such-dir/x.h5"), "/x", H5CL_ERR_FILE_NOT_FOUND);
    ck_assert_msg(strstr(msg, "no-such-dir/x.h5") != NULL, "message: %s", msg);
}
END_TEST

START_TEST(test_directory_as_file)
{
    h5cl_dataset *ds = (h5cl_dataset *)&ds;
    int rc = h5cl_dataset_open(tu_ctx, tu_dir(), "/x", &ds);
    ck_assert_msg(rc == H5CL_ERR_FILE_NOT_FOUND || rc == H5CL_ERR_NOT_HDF5 ||
                      rc == H5CL_ERR_IO,
                  "opening a directory: %s", h5cl_errname(rc));
    ck_assert_ptr_null(ds);
    ck_assert(h5cl_ctx_errmsg(tu_ctx)[0] != '\0');
}
END_TEST

START_TEST(test_not_hdf5)
{
    const char *f = tu_path("text.h5");
    const char *msg;
    FILE *fp = fopen(f, "w");
    int i;
    ck_assert(fp != NULL);
    for (i = 0; i < 200; i++)
        fprintf(fp, "this is not an HDF5 file, line %d\n", i);
    fclose(fp);
    msg = open_fails(f, "/x", H5CL_ERR_NOT_HDF5);
    ck_assert_msg(strstr(msg, f) != NULL, "message does not name the file: %s", msg);
    fp = fopen(tu_path("empty.h5"), "w");
    fclose(fp);
    open_fails(tu_path("empty.h5"), "/x", H5CL_ERR_NOT_HDF5);
}
END_TEST

START_TEST(test_dataset_not_found_suggests)
{
    const char *f = tu_path("names.h5");
    const char *msg;
    write_small(f, "/temperature");
    write_small(f, "/pressure");
    write_small(f, "/grp/humidity");
    write_small(f, "/grp/wind_speed");
    msg = open_fails(f, "/temprature", H5CL_ERR_DATASET_NOT_FOUND);
    ck_assert_msg(strstr(msg, "/temprature") != NULL, "message lacks the request: %s", msg);
    ck_assert_msg(strstr(msg, "temperature") != NULL, "no suggestion: %s", msg);
    msg = open_fails(f, "/grp/humdity", H5CL_ERR_DATASET_NOT_FOUND);
    ck_assert_msg(strstr(msg, "humidity") != NULL, "no suggestion: %s", msg);
    msg = open_fails(f, "/Pressure", H5CL_ERR_DATASET_NOT_FOUND);
    ck_assert_msg(strstr(msg, "pressure") != NULL, "no suggestion: %s", msg);
    open_fails(f, "/nogroup/temperature", H5CL_ERR_DATASET_NOT_FOUND);
    /* a group is not a dataset */
    open_fails(f, "/grp", H5CL_ERR_DATASET_NOT_FOUND);
}
END_TEST

START_TEST(test_unsupported_types)
{
    static const char *kinds[] = {"compound", "string", "vlen-string", "opaque", "array"};
    static const char *class_word[] = {"compound", "string", "string", "opaque", "array"};
    const char *f = tu_path("types.h5");
    size_t i;
    hid_t fid, space, d;
    hsize_t one = 3;
    unsigned char ld[3 * sizeof(long double)];
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char path[64];
        const char *msg;
        snprintf(path, sizeof path, "/%s", kinds[i]);
        tu_write_special(f, path, kinds[i]);
        msg = open_fails(f, path, H5CL_ERR_UNSUPPORTED_TYPE);
        ck_assert_msg(tu_contains_ci(msg, class_word[i]),
                      "message for %s does not name the class: %s", kinds[i], msg);
    }
    /* a floating-point type that is neither float32 nor float64; zero bytes
     * (0.0L) so no padding byte is left uninitialised */
    memset(ld, 0, sizeof ld);
    fid = H5Fopen(f, H5F_ACC_RDWR, H5P_DEFAULT);
    space = H5Screate_simple(1, &one, NULL);
    d = H5Dcreate2(fid, "/ldouble", H5T_NATIVE_LDOUBLE, space, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
    ck_assert(d >= 0);
    ck_assert(H5Dwrite(d, H5T_NATIVE_LDOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ld) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(fid);
    open_fails(f, "/ldouble", H5CL_ERR_UNSUPPORTED_TYPE);
}
END_TEST

/* A shape whose element count (2^62 x 8) or byte size leaves 64 bits is
 * refused at open, not wrapped into a small or zero size. */
START_TEST(test_too_large)
{
    const char *f = tu_path("huge.h5");
    hsize_t dims[2] = {(hsize_t)1 << 62, 8}, chunk[2] = {1, 8};
    hid_t fid = H5Fcreate(f, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d;
    const char *msg;
    ck_assert(fid >= 0 && space >= 0 && dcpl >= 0);
    ck_assert(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    d = H5Dcreate2(fid, "/huge", H5T_NATIVE_INT32, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(fid);
    msg = open_fails(f, "/huge", H5CL_ERR_TOO_LARGE);
    ck_assert_msg(strstr(msg, "/huge") != NULL, "message: %s", msg);
}
END_TEST

START_TEST(test_invalid_arguments)
{
    h5cl_dataset *ds = (h5cl_dataset *)&ds;
    h5cl_stats *st = (h5cl_stats *)&st;
    const char *f = tu_path("ok.h5");
    write_small(f, "/x");
    ck_assert_int_eq(h5cl_dataset_open(tu_ctx, NULL, "/x", &ds), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ds);
    ds = (h5cl_dataset *)&ds;
    ck_assert_int_eq(h5cl_dataset_open(tu_ctx, f, NULL, &ds), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ds);
    ds = (h5cl_dataset *)&ds;
    ck_assert_int_eq(h5cl_dataset_open(NULL, f, "/x", &ds), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(h5cl_dataset_open(tu_ctx, f, "/x", NULL), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_stats_compute(NULL, NULL, &st), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(st);
    ds = tu_open(tu_ctx, f, "/x");
    ck_assert_int_eq(h5cl_stats_compute(ds, NULL, NULL), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_dataset_get_info(ds, NULL), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_dataset_get_info(NULL, NULL), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_ctx_list_devices(tu_ctx, NULL, 0, NULL), H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_message_cleared_on_success)
{
    const char *f = tu_path("ok.h5");
    h5cl_dataset *ds = NULL;
    write_small(f, "/x");
    open_fails(f, "/y", H5CL_ERR_DATASET_NOT_FOUND);
    ck_assert_int_eq(h5cl_dataset_open(tu_ctx, f, "/x", &ds), H5CL_OK);
    ck_assert_str_eq(h5cl_ctx_errmsg(tu_ctx), "");
    ck_assert_int_eq(h5cl_ctx_errcode(tu_ctx), H5CL_OK);
    h5cl_dataset_close(ds);
}
END_TEST

START_TEST(test_bad_device_spec)
{
    h5cl_device_info info[16];
    size_t n = 0, i;
    int rc;
    const char *msg;
    rc = h5cl_ctx_list_devices(tu_ctx, info, 16, &n);
    ck_assert_int_eq(rc, H5CL_OK);
    ck_assert_uint_gt(n, 0);
    h5cl_ctx_destroy(tu_ctx);
    ck_assert_int_eq(h5cl_ctx_create(&tu_ctx), H5CL_OK);
    rc = h5cl_ctx_use_device(tu_ctx, "nosuchdevice");
    ck_assert_msg(rc == H5CL_ERR_DEVICE_NOT_FOUND, "use_device(nosuchdevice): %s",
                  h5cl_errname(rc));
    msg = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(strstr(msg, "nosuchdevice") != NULL, "message lacks the spec: %s", msg);
    for (i = 0; i < n && i < 16; i++)
        ck_assert_msg(strstr(msg, info[i].device_name) != NULL,
                      "message does not list device %s: %s", info[i].device_name, msg);
    rc = h5cl_ctx_use_device(tu_ctx, "99:0");
    ck_assert_int_eq(rc, H5CL_ERR_DEVICE_NOT_FOUND);
    rc = h5cl_ctx_use_device(tu_ctx, "0:99");
    ck_assert_int_eq(rc, H5CL_ERR_DEVICE_NOT_FOUND);
}
END_TEST

/* Failing calls report through the context only: nothing on stdout or
 * stderr (HDF5's automatic error printing must be off). */
START_TEST(test_library_prints_nothing)
{
    const char *f = tu_path("quiet.h5");
    h5cl_dataset *ds = NULL;
    h5cl_stats *st = NULL;
    h5cl_run_options o;
    FILE *fp;
    char *out;
    write_small(f, "/x");
    tu_write_special(f, "/c", "compound");
    fp = fopen(tu_path("junk.h5"), "w");
    fputs("junk junk junk junk junk junk junk junk", fp);
    fclose(fp);
    h5cl_run_options_init(&o);
    /* build first: an OpenCL compiler may print warnings of its own */
    ck_assert_int_eq(h5cl_ctx_build_programs(tu_ctx), H5CL_OK);
    tu_capture_begin();
    h5cl_dataset_open(tu_ctx, tu_path("missing.h5"), "/x", &ds);
    h5cl_dataset_open(tu_ctx, tu_path("junk.h5"), "/x", &ds);
    h5cl_dataset_open(tu_ctx, f, "/nope", &ds);
    h5cl_dataset_open(tu_ctx, f, "/nogroup/nope", &ds);
    h5cl_dataset_open(tu_ctx, f, "/c", &ds);
    if (h5cl_dataset_open(tu_ctx, f, "/x", &ds) == H5CL_OK) {
        o.select = "7:x";
        h5cl_stats_compute(ds, &o, &st);
        o.select = NULL;
        o.axis = 3;
        h5cl_stats_compute(ds, &o, &st);
        h5cl_dataset_close(ds);
    }
    out = tu_capture_end();
    ck_assert_msg(out[0] == '\0', "the library printed: %.400s", out);
}
END_TEST

Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("static");
    tcase_add_test(tc, test_status_texts);
    tcase_add_test(tc, test_status_unknown);
    tcase_add_test(tc, test_dtype_table);
    tcase_add_test(tc, test_stage_names_version_options);
    tcase_add_test(tc, test_null_safe_destructors);
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_not_hdf5);
    tcase_add_test(tc, test_directory_as_file);
    tcase_add_test(tc, test_dataset_not_found_suggests);
    tcase_add_test(tc, test_unsupported_types);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_invalid_arguments);
    tcase_add_test(tc, test_message_cleared_on_success);
    tcase_add_test(tc, test_bad_device_spec);
    tcase_add_test(tc, test_library_prints_nothing);
    suite_add_tcase(s, tc);
    return s;
}
