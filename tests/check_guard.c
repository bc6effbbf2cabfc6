/*
 * Guards before any data read (lib/guard.c), on files the tests write with
 * the HDF5 API: types off the whitelist (float16, long double, odd
 * float layouts, bitfield, n-bit integer, enum) refused by name, sizes above 2^63 bytes,
 * an unavailable filter named, external files and virtual-dataset sources
 * missing, external links never followed, and promise 5: missing chunks
 * and unwritten data warn (reading the fill value, or zeros without one)
 * or fail in strict mode.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"

/* ---- writing test files with the raw HDF5 API ---------------------- */

static hid_t create_file(const char *f)
{
    hid_t fid = H5Fcreate(f, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(fid >= 0, "H5Fcreate %s", f);
    return fid;
}

/* A 1-D dataset of n elements of file type t, written with zeros of that
 * same type (no conversion) unless dcpl asks for no write (write 0). */
static void put(hid_t fid, const char *name, hid_t t, hsize_t n, hid_t dcpl,
                int write)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(fid, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "H5Dcreate2 %s", name);
    if (write) {
        unsigned char *zeros = tu_alloc(n * H5Tget_size(t));
        ck_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0);
    }
    H5Dclose(d);
    H5Sclose(sp);
}

static void expect_open_fails(const char *f, const char *path, int status,
                              const char *text)
{
    h5cl_dataset *ds = (h5cl_dataset *)1;
    int rc = h5cl_dataset_open(tu_ctx, f, path, &ds);
    const char *msg = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(rc == status, "%s: %s, want %s (%s)", path, h5cl_errname(rc),
                  h5cl_errname(status), msg);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(msg, text) && strstr(msg, path),
                  "%s: message lacks '%s' or the path: %s", path, text, msg);
}

static void back_to(void *dir)
{
    if (chdir(dir) != 0)
        perror("h5cl-tests: chdir back");
}

/* Runs the rest of the test from "/", so that a name HDF5 would resolve
 * against the working directory is not found there by chance. */
static void leave_cwd(void)
{
    char *cwd = tu_alloc(4096);
    ck_assert_ptr_nonnull(getcwd(cwd, 4096));
    tu_defer(back_to, cwd);
    ck_assert_int_eq(chdir("/"), 0);
}

static double sum_of(h5cl_dataset *ds, uint64_t *count)
{
    h5cl_stats *st = tu_compute(ds, NULL, "guard");
    const h5cl_stats_state *s = h5cl_stats_get(st, 0);
    *count = s->count;
    return h5cl_stats_state_sum(s);
}

/* ---- types ---------------------------------------------------------- */

static hid_t type_case(int i, const char **found)
{
    hid_t t = -1;
    switch (i) {
    case 0: /* IEEE half: 2 bytes */
        t = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(t, 15, 10, 5, 0, 10);
        H5Tset_precision(t, 16);
        H5Tset_size(t, 2);
        H5Tset_ebias(t, 15);
        *found = "float of 2 bytes";
        break;
    case 1: /* x87 long double: 16 bytes, 80 bits used */
        t = H5Tcopy(H5T_NATIVE_LDOUBLE);
        *found = "float of 16 bytes";
        break;
    case 2: /* an explicit leading mantissa bit (x87-style); VAX order
             * is covered by the corpus (tvms.h5): HDF5 1.10.8 writes a
             * VAX type that it reads back as big-endian */
        t = H5Tcopy(H5T_IEEE_F64LE);
        ck_assert(H5Tset_norm(t, H5T_NORM_MSBSET) >= 0);
        *found = "not IEEE binary64";
        break;
    case 3:
        t = H5Tcopy(H5T_STD_B8LE);
        *found = "bitfield";
        break;
    case 4: /* n-bit: 17 of 32 bits */
        t = H5Tcopy(H5T_STD_I32LE);
        H5Tset_precision(t, 17);
        *found = "holding 17 bits";
        break;
    case 5: { /* an enum may hold values that are not members */
        int v = 0;
        t = H5Tenum_create(H5T_NATIVE_INT);
        H5Tenum_insert(t, "YIN", &v);
        *found = "enum";
        break;
    }
    case 6: /* a float with IEEE's size but a made-up exponent bias */
        t = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_ebias(t, 100);
        *found = "not IEEE binary32";
        break;
    }
    ck_assert_msg(t >= 0, "type case %d", i);
    return t;
}

START_TEST(test_types_refused)
{
    const char *found = "";
    const char *f = tu_path("types.h5");
    hid_t fid = create_file(f);
    hid_t t = type_case(_i, &found);
    put(fid, "/x", t, 8, H5P_DEFAULT, 1);
    H5Tclose(t);
    H5Fclose(fid);
    expect_open_fails(f, "/x", H5CL_ERR_UNSUPPORTED_TYPE, found);
}
END_TEST

static int note_supported(const char *path, int supported, void *user)
{
    *(int *)user = supported;
    return 0;
}

START_TEST(test_types_listed_unsupported)
{
    const char *found;
    const char *f = tu_path("list.h5");
    hid_t fid = create_file(f);
    hid_t t = type_case(_i, &found);
    int supported = -1;
    put(fid, "/x", t, 4, H5P_DEFAULT, 1);
    H5Tclose(t);
    H5Fclose(fid);
    ck_assert_int_eq(h5cl_file_list_datasets(tu_ctx, f, note_supported,
                                             &supported),
                     0);
    ck_assert_int_eq(supported, 0);
}
END_TEST

/* ---- sizes and filters ---------------------------------------------- */

START_TEST(test_too_large)
{
    const char *f = tu_path("huge.h5");
    hid_t fid = create_file(f);
    hsize_t dims[2] = {(hsize_t)1 << 59, 4}, chunk[2] = {1024, 4};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(fid, "/big", H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(fid);
    /* 2^61 elements of 4 bytes: 2^63 bytes, beyond HDF5's signed offsets */
    expect_open_fails(f, "/big", H5CL_ERR_TOO_LARGE, "2^63");
}
END_TEST

/* A dataspace larger than its own maximum (fuzz_open: dimension 1 of
 * 4177461254 elements, maximum 6): HDF5 1.10 opens it and then reads it
 * inconsistently, HDF5 1.14 refuses it; so does h5cl. */
START_TEST(test_beyond_maxdims)
{
    expect_open_fails("tests/fuzz/corpus/fuzz_open/fz-2fd6a775a2e85e4c",
                      "/data", H5CL_ERR_CORRUPT,
                      "dimension 1 holds 4177461254 elements, more than its "
                      "maximum 6");
}
END_TEST

START_TEST(test_filter_unavailable)
{
    const char *f = tu_path("filter.h5");
    hid_t fid = create_file(f);
    hsize_t chunk = 4;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    /* optional: HDF5 lets a writer without it create the dataset */
    ck_assert(H5Pset_filter(dcpl, 333, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0);
    put(fid, "/x", H5T_STD_I32LE, 8, dcpl, 1);
    H5Pclose(dcpl);
    H5Fclose(fid);
    expect_open_fails(f, "/x", H5CL_ERR_FILTER, "filter 333");
}
END_TEST

/* ---- external files, VDS, links -------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* /e: 16 int32 in "ext.bin" beside the file, named relatively. */
static const char *external_file(void)
{
    const char *f = tu_path("ext.h5");
    hid_t fid = create_file(f);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ck_assert(H5Pset_external(dcpl, "ext.bin", 0, 16 * 4) >= 0);
    put(fid, "/e", H5T_NATIVE_INT32, 16, dcpl, 0);
    H5Pclose(dcpl);
    H5Fclose(fid);
    return f;
}

START_TEST(test_external)
{
    int32_t v[16];
    uint64_t n;
    for (int i = 0; i < 16; i++)
        v[i] = i + 1;
    const char *f = external_file();
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", tu_path("ext.bin"));
    expect_open_fails(f, "/e", H5CL_ERR_MISSING_DATA, "ext.bin");

    /* present beside the file: found whatever the working directory */
    write_bytes(bin, v, sizeof v);
    leave_cwd();
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/e");
    ck_assert_str_eq(h5cl_dataset_warnings(ds), "");
    ck_assert_double_eq(sum_of(ds, &n), 136.0);
    ck_assert_uint_eq(n, 16);

    /* short: a warning (the rest reads as zeros), strict refuses */
    write_bytes(bin, v, 8 * 4);
    ds = tu_open(tu_ctx, f, "/e");
    ck_assert_msg(strstr(h5cl_dataset_warnings(ds), "reads as zeros"), "%s",
                  h5cl_dataset_warnings(ds));
    ck_assert_double_eq(sum_of(ds, &n), 36.0);
    ck_assert_int_eq(h5cl_ctx_set_strict(tu_ctx, 1), H5CL_OK);
    expect_open_fails(f, "/e", H5CL_ERR_MISSING_DATA, "strict");
}
END_TEST

START_TEST(test_virtual_source_missing)
{
    char src[1024], vds[1024];
    hsize_t n = 10;
    int32_t v[10];
    uint64_t count;
    for (int i = 0; i < 10; i++)
        v[i] = 2 * i;
    snprintf(src, sizeof src, "%s", tu_path("src.h5"));
    snprintf(vds, sizeof vds, "%s", tu_path("vds.h5"));
    hid_t fid = create_file(src);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(fid, "/s", H5T_NATIVE_INT32, sp, H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                       v) >= 0);
    H5Dclose(d);
    H5Fclose(fid);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ck_assert(H5Pset_virtual(dcpl, sp, "src.h5", "/s", sp) >= 0);
    fid = create_file(vds);
    d = H5Dcreate2(fid, "/v", H5T_NATIVE_INT32, sp, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dclose(d);
    H5Fclose(fid);
    H5Pclose(dcpl);
    H5Sclose(sp);

    leave_cwd();
    ck_assert_double_eq(sum_of(tu_open(tu_ctx, vds, "/v"), &count), 90.0);
    ck_assert_int_eq(unlink(src), 0);
    expect_open_fails(vds, "/v", H5CL_ERR_MISSING_DATA, "src.h5");
}
END_TEST

START_TEST(test_external_link_refused)
{
    char other[1024];
    const char *f = tu_path("links.h5");
    snprintf(other, sizeof other, "%s", tu_path("other.h5"));
    hid_t fid = create_file(other);
    H5Gclose(H5Gcreate2(fid, "/g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    put(fid, "/g/x", H5T_NATIVE_INT32, 4, H5P_DEFAULT, 1);
    H5Fclose(fid);
    fid = create_file(f);
    ck_assert(H5Lcreate_external(other, "/g/x", fid, "/link", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0);
    ck_assert(H5Lcreate_external(other, "/g", fid, "/grp", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0);
    H5Fclose(fid);
    expect_open_fails(f, "/link", H5CL_ERR_DATASET_NOT_FOUND,
                      "external link to");
    /* through an external link to a group: not followed either */
    expect_open_fails(f, "/grp/x", H5CL_ERR_DATASET_NOT_FOUND, "/grp/x");

    /* links to a FIFO: an HDF5 that followed them would block in open()
     * (and this test end by its timeout) */
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s", tu_path("pipe.h5"));
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    fid = H5Fopen(f, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(fid >= 0);
    ck_assert(H5Lcreate_external(fifo, "/x", fid, "/pipe", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0);
    ck_assert(H5Lcreate_external(fifo, "/g", fid, "/pg", H5P_DEFAULT,
                                 H5P_DEFAULT) >= 0);
    H5Fclose(fid);
    expect_open_fails(f, "/pipe", H5CL_ERR_DATASET_NOT_FOUND, "pipe.h5");
    expect_open_fails(f, "/pg/x", H5CL_ERR_DATASET_NOT_FOUND, "/pg/x");
}
END_TEST

/* ---- promise 5: data that would not come from the file --------------- */

/* /c: 100 elements in chunks of 10, only the first chunk written (0..9);
 * fill -1, or no fill value at all. */
static const char *sparse_file(int no_fill)
{
    const char *f = tu_path(no_fill ? "sparse-nofill.h5" : "sparse.h5");
    hid_t fid = create_file(f);
    hsize_t n = 100, chunk = 10, start = 0, count = 10;
    int32_t fill = -1, v[10];
    for (int i = 0; i < 10; i++)
        v[i] = i;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_fill_value(dcpl, H5T_NATIVE_INT32, no_fill ? NULL : &fill);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(fid, "/c", H5T_NATIVE_INT32, sp, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &count, NULL);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT32, ms, sp, H5P_DEFAULT, v) >= 0);
    H5Sclose(ms);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(fid);
    return f;
}

/* Loop index bit 1: the same through the isolated reader, which opens the
 * dataset in its child and must carry strict mode there and the warnings
 * back. */
static void isolate_if(int on)
{
    h5cl_isolation o;
    h5cl_isolation_init(&o);
    o.enabled = on;
    ck_assert_int_eq(h5cl_ctx_set_isolation(tu_ctx, &o), H5CL_OK);
}

START_TEST(test_missing_chunks)
{
    const int no_fill = _i & 1;
    isolate_if(_i >> 1);
    const char *f = sparse_file(no_fill);
    uint64_t n;
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/c");
    const char *w = h5cl_dataset_warnings(ds);
    ck_assert_msg(strstr(w, "1 of the 10 chunks") && strstr(w, "/c") &&
                      strstr(w, no_fill ? "zeros" : "fill value"),
                  "warning: %s", w);
    /* the fill value where chunks are missing; zeros without one, the
     * same on every run (HDF5 would leave the buffer as it was) */
    ck_assert_double_eq(sum_of(ds, &n), no_fill ? 45.0 : 45.0 - 90.0);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(h5cl_ctx_set_strict(tu_ctx, 1), H5CL_OK);
    expect_open_fails(f, "/c", H5CL_ERR_MISSING_DATA, "1 of the 10 chunks");
}
END_TEST

START_TEST(test_unwritten)
{
    const int no_fill = _i & 1;
    isolate_if(_i >> 1);
    const char *f = tu_path("unwritten.h5");
    hid_t fid = create_file(f);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (no_fill)
        H5Pset_fill_value(dcpl, H5T_NATIVE_INT32, NULL);
    put(fid, "/u", H5T_NATIVE_INT32, 50, dcpl, 0);
    H5Pclose(dcpl);
    H5Fclose(fid);
    uint64_t n;
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/u");
    const char *w = h5cl_dataset_warnings(ds);
    if (no_fill)
        ck_assert_msg(strstr(w, "no data is written and it has no fill "
                                "value"),
                      "warning: %s", w);
    else
        ck_assert_msg(*w == '\0', "a dataset of fill values warned: %s", w);
    ck_assert_double_eq(sum_of(ds, &n), 0.0);
    ck_assert_uint_eq(n, 50);
    /* strict: every element must come from the file */
    ck_assert_int_eq(h5cl_ctx_set_strict(tu_ctx, 1), H5CL_OK);
    expect_open_fails(f, "/u", H5CL_ERR_MISSING_DATA, "no data is written");
    ck_assert_int_eq(h5cl_ctx_set_strict(tu_ctx, 0), H5CL_OK);
    tu_open(tu_ctx, f, "/u");
}
END_TEST

/* The dataset already open through HDF5 in this process (an h5py handle,
 * a benchmark's raw reader): h5cl's own access settings must not make
 * HDF5 refuse the second open. */
START_TEST(test_open_beside_hdf5)
{
    const char *f = tu_path("beside.h5");
    hid_t fid = create_file(f);
    put(fid, "/v", H5T_NATIVE_INT32, 64, H5P_DEFAULT, 1);
    H5Fclose(fid);
    fid = H5Fopen(f, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(fid, "/v", H5P_DEFAULT);
    ck_assert(d >= 0);
    h5cl_dataset *ds = tu_open(tu_ctx, f, "/v");
    ck_assert_ptr_nonnull(ds);
    H5Dclose(d);
    H5Fclose(fid);
}
END_TEST

START_TEST(test_complete_is_quiet)
{
    const char *f = tu_path("full.h5");
    hid_t fid = create_file(f);
    hsize_t chunk = 3;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    put(fid, "/c", H5T_NATIVE_INT32, 10, dcpl, 1);
    H5Pclose(dcpl);
    H5Fclose(fid);
    ck_assert_int_eq(h5cl_ctx_set_strict(tu_ctx, 1), H5CL_OK);
    ck_assert_str_eq(h5cl_dataset_warnings(tu_open(tu_ctx, f, "/c")), "");
    ck_assert_str_eq(h5cl_dataset_warnings(NULL), "");
}
END_TEST

Suite *guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("guard");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_types_refused, 0, 7);
    tcase_add_loop_test(tc, test_types_listed_unsupported, 0, 7);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_beyond_maxdims);
    tcase_add_test(tc, test_filter_unavailable);
    tcase_add_test(tc, test_external);
    tcase_add_test(tc, test_virtual_source_missing);
    tcase_add_test(tc, test_external_link_refused);
    tcase_add_loop_test(tc, test_missing_chunks, 0, 4);
    tcase_add_loop_test(tc, test_unwritten, 0, 4);
    tcase_add_test(tc, test_complete_is_quiet);
    tcase_add_test(tc, test_open_beside_hdf5);
    suite_add_tcase(s, tc);
    return s;
}
