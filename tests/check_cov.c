/*
 * Covariance, correlation, PCA and projections against host references:
 * a two-pass covariance in long double, for random matrices of several
 * types, contiguous and chunked, tiles that do not divide the rows, one
 * column, an ill-conditioned pair of columns, data with a large mean
 * (1e6 + noise, float64 and float32), selections; merging and the byte
 * form; PCA checked through its defining equations (C v = lambda v,
 * orthonormal, decreasing) and the projection read back from the file.
 * CLBlast compiles its routines once per process (about 15 s on a cold
 * PoCL cache), so the suite keeps to a few tests that each cover much.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "check_util.h"

/* Writes a as /data of a fresh file (chunk NULL: contiguous), opens it. */
static h5cl_dataset *write_open(tu_array *a, const uint64_t *chunk)
{
    static int gen;
    char file[32];
    tu_write_opts w;
    tu_write_opts_init(&w);
    if (chunk) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = chunk[0];
        w.chunk[1] = chunk[1];
    }
    snprintf(file, sizeof file, "c%d.h5", gen++);
    tu_write(tu_path(file), "/data", a, &w);
    return tu_open(tu_ctx, tu_path(file), "/data");
}

/* Rows r0..r1 of a 2-D array: the reference covariance (ddof 1) and
 * means, two passes in long double. */
static void reference(const tu_array *a, uint64_t r0, uint64_t r1,
                      double *cov, double *mean)
{
    const uint64_t p = a->dims[1], n = r1 - r0;
    long double *m = tu_alloc(p * sizeof *m);
    for (uint64_t j = 0; j < p; j++) {
        long double s = 0;
        for (uint64_t r = r0; r < r1; r++)
            s += tu_get_f(a, r * p + j);
        m[j] = s / n;
        mean[j] = (double)m[j];
    }
    for (uint64_t i = 0; i < p; i++)
        for (uint64_t j = 0; j < p; j++) {
            long double s = 0;
            for (uint64_t r = r0; r < r1; r++)
                s += (tu_get_f(a, r * p + i) - m[i]) *
                     (tu_get_f(a, r * p + j) - m[j]);
            cov[i * p + j] = (double)(s / (n - 1));
        }
}

/* |got - want| <= rel * sqrt(want_ii want_jj): errors scale with the
 * columns' spread, so a covariance near zero is judged by it too. */
static void check_cov(const h5cl_cov *c, const double *want,
                      const double *want_mean, size_t p, double rel,
                      const char *what)
{
    ck_assert_uint_eq(h5cl_cov_columns(c), p);
    double *got = tu_alloc(p * p * sizeof *got);
    ck_assert_int_eq(h5cl_cov_matrix(c, 1, got), H5CL_OK);
    for (size_t i = 0; i < p; i++) {
        const double sd = sqrt(want[i * p + i]);
        ck_assert_msg(fabs(h5cl_cov_mean(c)[i] - want_mean[i]) <=
                          rel * (fabs(want_mean[i]) + sd),
                      "%s: mean[%zu] %.17g, want %.17g", what, i,
                      h5cl_cov_mean(c)[i], want_mean[i]);
        for (size_t j = 0; j < p; j++) {
            const double tol = rel * sqrt(want[i * p + i] * want[j * p + j]);
            ck_assert_msg(fabs(got[i * p + j] - want[i * p + j]) <= tol,
                          "%s: cov[%zu,%zu] %.17g, want %.17g (tol %g)",
                          what, i, j, got[i * p + j], want[i * p + j], tol);
        }
    }
    /* the correlation follows from the same matrix */
    ck_assert_int_eq(h5cl_cov_corrcoef(c, got), H5CL_OK);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            const double r = want[i * p + j] /
                             sqrt(want[i * p + i] * want[j * p + j]);
            ck_assert_msg(fabs(got[i * p + j] - r) <= 10 * rel,
                          "%s: corr[%zu,%zu] %.17g, want %.17g", what, i, j,
                          got[i * p + j], r);
        }
}

static h5cl_cov *compute(h5cl_dataset *ds, const h5cl_run_options *o,
                         const char *what)
{
    h5cl_cov *c = NULL;
    int st = h5cl_cov_compute(ds, o, &c);
    ck_assert_msg(st == H5CL_OK, "%s: %s: %s", what, h5cl_errname(st),
                  h5cl_ctx_errmsg(tu_ctx));
    tu_defer((void (*)(void *))h5cl_cov_free, c);
    return c;
}

static double tolerance(void)
{
    return tu_dev.has_fp64 ? 1e-10 : 1e-4;
}

/* Random matrices of each layout and several types, tiles of a few rows
 * that do not divide the row count, one column, and a selection. */
START_TEST(test_random)
{
    static const struct {
        h5cl_dtype dt;
        uint64_t rows, cols;
        int chunked;
    } cases[] = {
        {H5CL_FLOAT64, 1003, 7, 0}, {H5CL_FLOAT32, 517, 5, 1},
        {H5CL_INT16, 301, 3, 1},    {H5CL_FLOAT64, 999, 1, 0},
        {H5CL_UINT8, 64, 33, 1},
    };
    const int i = _i;
    if (cases[i].dt == H5CL_FLOAT64 && !tu_dev.has_fp64)
        return;
    tu_rng r;
    tu_rng_seed(&r, 80 + (uint64_t)i);
    const uint64_t dims[2] = {cases[i].rows, cases[i].cols};
    tu_array a;
    tu_array_init(&a, cases[i].dt, 2, dims);
    tu_fill_random(&a, &r, 0);
    const uint64_t chunk[2] = {10, 2};
    h5cl_dataset *ds = write_open(&a, cases[i].chunked ? chunk : NULL);
    const uint64_t p = cases[i].cols;
    double *want = tu_alloc(p * p * sizeof *want),
           *mean = tu_alloc(p * sizeof *mean);
    reference(&a, 0, cases[i].rows, want, mean);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 333; /* raised to whole rows; never divides them */
    h5cl_cov *c = compute(ds, &o, "random");
    ck_assert_uint_eq(h5cl_cov_rows(c), cases[i].rows);
    ck_assert_uint_gt(h5cl_cov_summary(c)->tiles, 1);
    check_cov(c, want, mean, p, tolerance(), "random");

    /* a selection of rows 5..end-3 and every column */
    char sel[64];
    snprintf(sel, sizeof sel, "5:%llu,:",
             (unsigned long long)(cases[i].rows - 3));
    o.select = sel;
    reference(&a, 5, cases[i].rows - 3, want, mean);
    c = compute(ds, &o, "selection");
    ck_assert_uint_eq(h5cl_cov_rows(c), cases[i].rows - 8);
    check_cov(c, want, mean, p, tolerance(), "selection");
}
END_TEST

/* 1e6 + noise: raw sums of squares would cancel every digit of the
 * variance in float32 and most of them in float64.  Also a column that
 * is nearly a multiple of another (correlation near 1). */
START_TEST(test_large_mean)
{
    const h5cl_dtype dt = _i ? H5CL_FLOAT32 : H5CL_FLOAT64;
    if (dt == H5CL_FLOAT64 && !tu_dev.has_fp64)
        return;
    tu_rng r;
    tu_rng_seed(&r, 7);
    const uint64_t dims[2] = {20011, 3};
    tu_array a;
    tu_array_init(&a, dt, 2, dims);
    for (uint64_t k = 0; k < dims[0]; k++) {
        const double u = tu_rng_unit(&r) - 0.5;
        tu_set_d(&a, k * 3, 1e6 + u);
        tu_set_d(&a, k * 3 + 1, 1e6 + u + 1e-3 * (tu_rng_unit(&r) - 0.5));
        tu_set_d(&a, k * 3 + 2, -3e5 + 10 * (tu_rng_unit(&r) - 0.5));
    }
    h5cl_dataset *ds = write_open(&a, NULL);
    double want[9], mean[3];
    reference(&a, 0, dims[0], want, mean);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4096;
    h5cl_cov *c = compute(ds, &o, "large mean");
    /* float32 values are exact in the reference; the device sums float
     * data in double where it can */
    check_cov(c, want, mean, 3, tu_dev.has_fp64 ? 1e-9 : 1e-3, "large mean");
}
END_TEST

/* Halves merged equal the whole; the byte form round-trips and refuses
 * damage; merging refuses other column counts. */
START_TEST(test_merge_serialize)
{
    tu_rng r;
    tu_rng_seed(&r, 3);
    const uint64_t dims[2] = {400, 4};
    tu_array a;
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(&a, &r, 0);
    h5cl_dataset *ds = write_open(&a, NULL);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.select = "0:123,:";
    h5cl_cov *lo = compute(ds, &o, "first part");
    o.select = "123:,:";
    h5cl_cov *hi = compute(ds, &o, "second part");
    size_t n = h5cl_cov_serialized_size(lo);
    ck_assert_uint_eq(n, 32 + 8 * 4 + 8 * 16);
    unsigned char *buf = tu_alloc(n);
    ck_assert_int_eq(h5cl_cov_serialize(lo, buf, n), H5CL_OK);
    h5cl_cov *back = NULL;
    ck_assert_int_eq(h5cl_cov_deserialize(buf, n, &back), H5CL_OK);
    tu_defer((void (*)(void *))h5cl_cov_free, back);
    ck_assert_int_eq(h5cl_cov_merge(back, hi), H5CL_OK);
    double want[16], mean[4];
    reference(&a, 0, 400, want, mean);
    check_cov(back, want, mean, 4, tu_dev.has_fp64 ? 1e-10 : 1e-4, "merged");

    buf[30] ^= 1;
    h5cl_cov *bad = NULL;
    ck_assert_int_eq(h5cl_cov_deserialize(buf, n, &bad), H5CL_ERR_BAD_STATE);
    ck_assert_ptr_null(bad);
    buf[30] ^= 1;
    ck_assert_int_eq(h5cl_cov_deserialize(buf, n - 1, &bad),
                     H5CL_ERR_BAD_STATE);

    o.select = "0:10,0:3";
    h5cl_cov *three = compute(ds, &o, "three columns");
    ck_assert_int_eq(h5cl_cov_merge(back, three), H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* PCA by its defining equations, then the projection written to a file
 * against (X - mean) W^T computed here. */
START_TEST(test_pca_project)
{
    if (!tu_dev.has_fp64)
        return; /* the float32 path is covered by the covariance tests */
    tu_rng r;
    tu_rng_seed(&r, 11);
    const uint64_t dims[2] = {777, 5};
    const size_t p = 5, k = 3;
    tu_array a;
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    for (uint64_t i = 0; i < dims[0]; i++) {
        const double z0 = tu_rng_unit(&r) - 0.5, z1 = tu_rng_unit(&r) - 0.5;
        for (size_t j = 0; j < p; j++)
            tu_set_d(&a, i * p + j,
                     100.0 * j + (j + 1) * 5 * z0 + (j % 2 ? 2 : -1) * z1 +
                         0.1 * (tu_rng_unit(&r) - 0.5));
    }
    const uint64_t chunk[2] = {50, 5};
    h5cl_dataset *ds = write_open(&a, chunk);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 5000;
    h5cl_cov *c = compute(ds, &o, "pca input");
    double cov[25], mean[5];
    reference(&a, 0, dims[0], cov, mean);

    h5cl_pca *pca = NULL;
    ck_assert_int_eq(h5cl_pca_compute(tu_ctx, c, 0, &pca),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_pca_compute(tu_ctx, c, 6, &pca),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_pca_compute(tu_ctx, c, k, &pca), H5CL_OK);
    tu_defer((void (*)(void *))h5cl_pca_free, pca);
    ck_assert_uint_eq(h5cl_pca_k(pca), k);
    const double *w = h5cl_pca_components(pca);
    const double *ev = h5cl_pca_explained_variance(pca);
    const double *ratio = h5cl_pca_explained_variance_ratio(pca);
    double trace = 0;
    for (size_t i = 0; i < p; i++)
        trace += cov[i * p + i];
    for (size_t a1 = 0; a1 < k; a1++) {
        if (a1)
            ck_assert_double_le(ev[a1], ev[a1 - 1]);
        ck_assert_double_eq_tol(ratio[a1], ev[a1] / trace, 1e-9);
        for (size_t i = 0; i < p; i++) {
            double cv = 0;
            for (size_t j = 0; j < p; j++)
                cv += cov[i * p + j] * w[a1 * p + j];
            ck_assert_msg(fabs(cv - ev[a1] * w[a1 * p + i]) <= 1e-8 * ev[0],
                          "C v != lambda v for component %zu", a1);
        }
        for (size_t b = 0; b < k; b++) {
            double d = 0;
            for (size_t j = 0; j < p; j++)
                d += w[a1 * p + j] * w[b * p + j];
            ck_assert_double_eq_tol(d, a1 == b ? 1.0 : 0.0, 1e-12);
        }
    }

    h5cl_map_options m;
    h5cl_map_options_init(&m);
    char out[4096];
    snprintf(out, sizeof out, "%s", tu_path("proj.h5"));
    m.out_file = out;
    m.out_path = "/g/y";
    o.select = "7:,:";
    h5cl_run_summary sum;
    int st = h5cl_pca_project(ds, &o, pca, &m, &sum);
    ck_assert_msg(st == H5CL_OK, "project: %s", h5cl_ctx_errmsg(tu_ctx));
    ck_assert_uint_eq(sum.bytes_written, (dims[0] - 7) * k * 8);
    tu_array y;
    tu_read(out, "/g/y", &y);
    ck_assert_int_eq(y.rank, 2);
    ck_assert_uint_eq(y.dims[0], dims[0] - 7);
    ck_assert_uint_eq(y.dims[1], k);
    for (uint64_t i = 7; i < dims[0]; i++)
        for (size_t b = 0; b < k; b++) {
            double want = 0;
            for (size_t j = 0; j < p; j++)
                want += (tu_get_f(&a, i * p + j) - h5cl_pca_mean(pca)[j]) *
                        w[b * p + j];
            ck_assert_double_eq_tol(tu_get_f(&y, (i - 7) * k + b), want,
                                    1e-9 * sqrt(ev[0]));
        }
    /* the target exists now: refused unless overwrite, file untouched */
    ck_assert_int_eq(h5cl_pca_project(ds, &o, pca, &m, NULL), H5CL_ERR_EXISTS);
    /* a dataset of other columns */
    o.select = "0:10,0:4";
    m.overwrite = 1;
    ck_assert_int_eq(h5cl_pca_project(ds, &o, pca, &m, NULL), H5CL_ERR_SHAPE);
}
END_TEST

/* Errors: not 2-D, more columns than a device matrix holds (the message
 * says how many fit), CLBlast's codes by name, NaN before a PCA. */
START_TEST(test_errors)
{
    const uint64_t d3[3] = {4, 3, 2};
    tu_array a;
    tu_array_init(&a, H5CL_FLOAT32, 3, d3);
    h5cl_dataset *ds = write_open(&a, NULL);
    h5cl_cov *c = NULL;
    ck_assert_int_eq(h5cl_cov_compute(ds, NULL, &c),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(c);
    ck_assert(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "2-D"));

    const uint64_t d2[2] = {50, 60};
    tu_array b;
    tu_array_init(&b, H5CL_FLOAT32, 2, d2);
    tu_set_d(&b, 7, NAN);
    ds = write_open(&b, NULL);
    /* 10000 bytes hold 35 x 35 doubles, 50 x 50 floats */
    tu_setenv("H5CL_TEST_MAX_ALLOC", "10000");
    ck_assert_int_eq(h5cl_cov_compute(ds, NULL, &c), H5CL_ERR_DEVICE_MEMORY);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx),
                                 tu_dev.has_fp64 ? "at most 35 columns"
                                                 : "at most 50 columns"),
                  "%s", h5cl_ctx_errmsg(tu_ctx));
    tu_setenv("H5CL_TEST_MAX_ALLOC", NULL);
    c = compute(ds, NULL, "with a NaN");
    double *m = tu_alloc(60 * 60 * sizeof *m);
    ck_assert_int_eq(h5cl_cov_matrix(c, 1, m), H5CL_OK);
    ck_assert(isnan(m[7 * 60 + 0]) && isnan(m[3 * 60 + 7]));
    ck_assert(!isnan(m[3 * 60 + 3])); /* other columns are untouched */
    ck_assert_int_eq(h5cl_cov_matrix(c, 50, m), H5CL_OK);
    ck_assert(isnan(m[0])); /* n <= ddof */
    h5cl_pca *pca = NULL;
    ck_assert_int_eq(h5cl_pca_compute(tu_ctx, c, 2, &pca),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "column 7"));

    ck_assert_str_eq(h5cl_blas_status_name(-1017), "CLBlastInvalidDimension");
    ck_assert_str_eq(h5cl_blas_status_name(-2044), "CLBlastNoDoublePrecision");
    ck_assert_str_eq(h5cl_blas_status_name(-4),
                     "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    ck_assert_str_eq(h5cl_errname(H5CL_ERR_LINALG), "H5CL_ERR_LINALG");
}
END_TEST

/* Promise 2: the matrix and the projection are never written over the
 * files they were computed from, by any name (the path, a symlink, a
 * hard link), nor over a file a merged state came from; the files stay
 * byte for byte as they were, and another file takes the output. */
START_TEST(test_output_is_input)
{
    const uint64_t dims[2] = {40, 3};
    tu_array a;
    tu_rng r;
    tu_rng_seed(&r, 77);
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0);
    h5cl_dataset *ds1 = write_open(&a, NULL), *ds2 = write_open(&a, NULL);
    h5cl_dataset_info i1, i2;
    ck_assert_int_eq(h5cl_dataset_get_info(ds1, &i1), H5CL_OK);
    ck_assert_int_eq(h5cl_dataset_get_info(ds2, &i2), H5CL_OK);
    size_t n1, n2, n;
    char *before1 = tu_read_file(i1.file, &n1);
    char *before2 = tu_read_file(i2.file, &n2);
    const char *sym = tu_path("cov-link.h5"), *hard = tu_path("cov-hard.h5");
    ck_assert(symlink(i1.file, sym) == 0);
    ck_assert(link(i1.file, hard) == 0);
    h5cl_cov *c1 = compute(ds1, NULL, "first file");
    h5cl_cov *c2 = compute(ds2, NULL, "second file");
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_path = "/c";
    const char *targets[] = {i1.file, sym, hard};
    for (size_t i = 0; i < 3; i++) {
        m.out_file = targets[i];
        ck_assert_int_eq(h5cl_cov_write(tu_ctx, c1, 0, 1, &m),
                         H5CL_ERR_OUTPUT_IS_INPUT);
        ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), i1.file), "%s",
                      h5cl_ctx_errmsg(tu_ctx));
    }
    /* merged: the second state's file is refused too */
    ck_assert_int_eq(h5cl_cov_merge(c1, c2), H5CL_OK);
    m.out_file = i2.file;
    ck_assert_int_eq(h5cl_cov_write(tu_ctx, c1, 1, 0, &m),
                     H5CL_ERR_OUTPUT_IS_INPUT);
    h5cl_pca *pca = NULL;
    ck_assert_int_eq(h5cl_pca_compute(tu_ctx, c2, 2, &pca), H5CL_OK);
    ck_assert_int_eq(h5cl_pca_project(ds1, NULL, pca, &m, NULL), H5CL_OK);
    m.out_file = hard;
    ck_assert_int_eq(h5cl_pca_project(ds1, NULL, pca, &m, NULL),
                     H5CL_ERR_OUTPUT_IS_INPUT);
    h5cl_pca_free(pca);
    char *after1 = tu_read_file(i1.file, &n);
    ck_assert(n == n1 && memcmp(before1, after1, n) == 0);
    /* the projection went to the second file (not an input of ds1) */
    char *after2 = tu_read_file(i2.file, &n);
    ck_assert(n != n2 || memcmp(before2, after2, n) != 0);
    m.out_file = tu_path("cov-out.h5");
    ck_assert_int_eq(h5cl_cov_write(tu_ctx, c1, 0, 1, &m), H5CL_OK);
}
END_TEST

Suite *cov_suite(void)
{
    Suite *s = suite_create("cov");
    TCase *tc = tcase_create("cov");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_random, 0, 5);
    tcase_add_loop_test(tc, test_large_mean, 0, 2);
    tcase_add_test(tc, test_merge_serialize);
    tcase_add_test(tc, test_pca_project);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_output_is_input);
    suite_add_tcase(s, tc);
    return s;
}
