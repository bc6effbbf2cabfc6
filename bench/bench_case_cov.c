/*
 * h5cl-bench, the cov case: the covariance of rank-2 data (rows are
 * samples, columns features) with h5cl_cov_compute, which streams
 * row-tiles through CLBlast's SYRK, against the raw H5Dread ceiling of the
 * same tiles (bench_case_run.c).  Besides GB/s the row reports its
 * effective GFLOP/s (rows x cols x (cols + 1) flops, SYRK's count, over
 * the wall time) and, measured after the repetitions on the same device,
 * CLBlast's own SYRK rate on one resident tile (bench_syrk.c), and the
 * fraction of it h5cl reaches.
 *
 * The check costs O(rows x cols), not the O(rows x cols^2) of the product
 * itself: the raw warm-up sums each column, its squares and the products
 * of COV_CHECK_PAIRS fixed pairs of columns in long double, shifted by
 * row 0's values (so a large mean cannot cancel).  Every run must then
 * give the row and column counts, the column means, the variances
 * (h5cl_cov_matrix with ddof 1, numpy.cov's default) and those pairs'
 * covariances within a relative tolerance (1e-9 on devices with fp64,
 * which accumulate in double; 1e-3 in float): means relative to
 * max(|mean|, std), variances to themselves, covariances to
 * sqrt(var_a var_b), the scale of the correlation.  A column with a NaN
 * must be NaN in the mean, the variance and every pair it is in, as in
 * numpy.  A run that misses is an error, never a figure.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define COV_DDOF 1
#define COV_TOL_DOUBLE 1e-9
#define COV_TOL_FLOAT 1e-3

struct cov_ref {
    uint64_t rows, cols;
    unsigned npairs;
    uint64_t pa[COV_CHECK_PAIRS], pb[COV_CHECK_PAIRS];
    double *shift;                   /* [cols] row 0's values             */
    unsigned char *nan;              /* [cols] the column holds a NaN     */
    long double *sum, *sq;           /* [cols] shifted sums, of squares   */
    long double pair[COV_CHECK_PAIRS]; /* shifted sums of products        */
    double *matrix;                  /* [cols x cols] h5cl_cov_matrix     */
};

/* Fixed pairs spread over the columns; none when there is one column. */
static void cov_pairs(struct cov_ref *cf)
{
    const uint64_t p = cf->cols;

    cf->npairs = 0;
    for (unsigned i = 0; i < COV_CHECK_PAIRS && p > 1; i++) {
        const uint64_t a = (uint64_t)i * p / COV_CHECK_PAIRS;
        /* an offset in 1..p-1, so b != a */
        cf->pa[cf->npairs] = a;
        cf->pb[cf->npairs] = (a + 1 + (uint64_t)i * 37 % (p - 1)) % p;
        cf->npairs++;
    }
}

/* A tile is whole rows; the first tile's first row is row 0. */
static void cov_ref_tile(const struct raw_reader *rr, size_t n,
                         uint64_t flat0, void *user)
{
    struct cov_ref *cf = user;
    const size_t cols = (size_t)cf->cols, rows = n / cols;

    for (size_t r = 0; r < rows; r++) {
        const size_t base = r * cols;
        if (flat0 == 0 && r == 0)
            for (size_t c = 0; c < cols; c++)
                cf->shift[c] = raw_value(rr, c);
        for (size_t c = 0; c < cols; c++) {
            const long double d =
                (long double)raw_value(rr, base + c) - cf->shift[c];
            if (isnan(d)) {
                cf->nan[c] = 1;
                continue;
            }
            cf->sum[c] += d;
            cf->sq[c] += d * d;
        }
        for (unsigned i = 0; i < cf->npairs; i++)
            cf->pair[i] +=
                ((long double)raw_value(rr, base + cf->pa[i]) -
                 cf->shift[cf->pa[i]]) *
                ((long double)raw_value(rr, base + cf->pb[i]) -
                 cf->shift[cf->pb[i]]);
    }
}

static int cov_reference(const struct case_env *env, struct case_result *cr,
                         void *user, char *err)
{
    struct cov_ref *cf = user;
    const size_t p = (size_t)cf->cols;

    memset(cf->nan, 0, p * sizeof *cf->nan);
    memset(cf->sum, 0, p * sizeof *cf->sum);
    memset(cf->sq, 0, p * sizeof *cf->sq);
    memset(cf->pair, 0, sizeof cf->pair);
    return raw_pass(&env->res->rr, cov_ref_tile, cf, err);
}

/* The reference's covariance of columns a and b (ddof COV_DDOF). */
static double ref_cov(const struct cov_ref *cf, long double sab, uint64_t a,
                      uint64_t b)
{
    const long double n = (long double)cf->rows;
    if (cf->nan[a] || cf->nan[b])
        return NAN;
    return (double)((sab - cf->sum[a] * cf->sum[b] / n) / (n - COV_DDOF));
}

/* |got - want| / scale within tol, or both NaN; the error goes to *worst. */
static int within(double got, double want, double scale, double tol,
                  double *worst)
{
    double e;
    if (isnan(want))
        return isnan(got);
    e = fabs(got - want) / fmax(fabs(scale), DBL_MIN);
    if (e > *worst)
        *worst = e;
    return e <= tol;
}

/* Means, variances and the pairs' covariances against the reference. */
static int cov_check(const struct cov_ref *cf, const double *mean,
                     struct cov_detail *d, char *err)
{
    const uint64_t p = cf->cols;

    d->mean_err = d->var_err = d->cov_err = 0.0;
    d->nan_cols = 0;
    for (uint64_t c = 0; c < p; c++) {
        const double var = ref_cov(cf, cf->sq[c], c, c);
        const double mu =
            cf->nan[c] ? NAN
                       : cf->shift[c] + (double)(cf->sum[c] /
                                                 (long double)cf->rows);
        d->nan_cols += cf->nan[c];
        if (!within(mean[c], mu, fmax(fabs(mu), sqrt(var)), d->tol,
                    &d->mean_err))
            return fail(err, "column %" PRIu64 ": mean %.17g, want %.17g",
                        c, mean[c], mu);
        if (!within(cf->matrix[c * p + c], var, var, d->tol, &d->var_err))
            return fail(err, "column %" PRIu64 ": variance %.17g, want "
                        "%.17g", c, cf->matrix[c * p + c], var);
    }
    for (unsigned i = 0; i < cf->npairs; i++) {
        const uint64_t a = cf->pa[i], b = cf->pb[i];
        const double want = ref_cov(cf, cf->pair[i], a, b);
        const double scale = sqrt(ref_cov(cf, cf->sq[a], a, a) *
                                  ref_cov(cf, cf->sq[b], b, b));
        if (!within(cf->matrix[a * p + b], want, scale, d->tol, &d->cov_err))
            return fail(err, "covariance (%" PRIu64 ", %" PRIu64 ") %.17g, "
                        "want %.17g", a, b, cf->matrix[a * p + b], want);
    }
    d->pairs = cf->npairs;
    return 0;
}

/* One h5cl_cov_compute, timed; then its counts, means, variances and
 * pairs checked (outside the timing: h5cl_cov_matrix is host work). */
static int cov_run(const struct case_env *env, struct case_result *cr,
                   void *user, unsigned j, const h5cl_run_options *opts,
                   h5cl_run_summary *sum_ret, double *wall_ret, char *err)
{
    struct cov_ref *cf = user;
    const struct raw_reader *rr = &env->res->rr;
    h5cl_cov *cov = NULL;
    double t0 = now_seconds();
    int status = h5cl_cov_compute(env->ds, opts, &cov), rc = -1;

    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_cov_compute", status);
    *sum_ret = *h5cl_cov_summary(cov);
    if (h5cl_cov_rows(cov) != cf->rows || h5cl_cov_columns(cov) != cf->cols)
        fail(err, "%" PRIu64 " rows x %zu columns, want %" PRIu64 " x %"
             PRIu64, h5cl_cov_rows(cov), h5cl_cov_columns(cov), cf->rows,
             cf->cols);
    else if (sum_ret->bytes != rr->nbytes)
        fail(err, "summary.bytes %" PRIu64 " != dataset bytes %" PRIu64,
             sum_ret->bytes, rr->nbytes);
    else if ((status = h5cl_cov_matrix(cov, COV_DDOF, cf->matrix)) !=
             H5CL_OK)
        api_fail(err, env->ctx, "h5cl_cov_matrix", status);
    else
        rc = cov_check(cf, h5cl_cov_mean(cov), &cr->cov, err);
    h5cl_cov_free(cov);
    return rc;
}

/* After the repetitions: the effective rate and the device's SYRK on a
 * tile of the rows h5cl used (rr's tiles are h5cl's after the warm-up). */
static void cov_rates(const struct case_env *env, struct case_result *cr)
{
    const struct raw_reader *rr = &env->res->rr;
    struct cov_detail *d = &cr->cov;
    const struct row *h5 = &cr->rows[1];
    const double per_byte = d->flops / (double)rr->nbytes;
    const uint64_t k = rr->tile_rows < rr->dims[0] ? rr->tile_rows
                                                   : rr->dims[0];

    /* GB/s are bytes over each repetition's seconds, and so are GFLOP/s
     * with flops for bytes: the same summary, scaled */
    d->gflops.median = h5->gbps.median * per_byte;
    d->gflops.min = h5->gbps.min * per_byte;
    d->gflops.max = h5->gbps.max * per_byte;
    if (!env->res->have_dev)
        fail(d->syrk.message, "not measured: no device");
    else if (g_interrupted)
        fail(d->syrk.message, "not measured: interrupted");
    else
        syrk_measure(&env->res->dev, d->cols, k, env->cfg->reps, &d->syrk);
}

static void cov_ref_free(struct cov_ref *cf)
{
    free(cf->shift);
    free(cf->nan);
    free(cf->sum);
    free(cf->sq);
    free(cf->matrix);
}

int case_cov(const struct case_env *env, struct case_result *cr)
{
    static const struct ro_case rc = { 1, { 1 }, cov_reference, cov_run };
    const struct raw_reader *rr = &env->res->rr;
    struct cov_detail *d = &cr->cov;
    struct cov_ref cf;
    int status = -1;

    if (rr->rank != 2) {
        for (unsigned i = 0; i < cr->nrows; i++)
            row_error(&cr->rows[i], "not measured: the cov case needs "
                      "rank-2 data (--rank 2, or a 2-D --file)");
        return -1;
    }
    memset(&cf, 0, sizeof cf);
    cf.rows = rr->dims[0];
    cf.cols = rr->dims[1];
    cov_pairs(&cf);
    d->rows = cf.rows;
    d->cols = cf.cols;
    d->flops = (double)cf.rows * (double)cf.cols * (double)(cf.cols + 1);
    d->tol = !env->res->have_dev || env->res->dev.has_fp64 ? COV_TOL_DOUBLE
                                                           : COV_TOL_FLOAT;
    cf.shift = calloc(cf.cols, sizeof *cf.shift);
    cf.nan = calloc(cf.cols, sizeof *cf.nan);
    cf.sum = calloc(cf.cols, sizeof *cf.sum);
    cf.sq = calloc(cf.cols, sizeof *cf.sq);
    cf.matrix = calloc(cf.cols * cf.cols, sizeof *cf.matrix);
    if (!cf.shift || !cf.nan || !cf.sum || !cf.sq || !cf.matrix) {
        for (unsigned i = 0; i < cr->nrows; i++)
            row_error(&cr->rows[i], "out of memory (covariance reference)");
    } else {
        status = case_run_read_only(env, cr, &rc, &cf);
        if (status == 0 && cr->rows[1].status == ROW_OK)
            cov_rates(env, cr);
    }
    cov_ref_free(&cf);
    return status;
}
