/* Principal components from a covariance state, on the host: LAPACK's
 * symmetric eigen-solver (dsyevd, divide and conquer) on the p x p
 * covariance.  p is at most a few thousand, so this is cheap next to
 * the pass over the data. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cov_state.h"
#include "linalg_load.h"

struct h5cl_pca {
    size_t k, p;
    double *components; /* k x p */
    double *variance;   /* k     */
    double *ratio;      /* k     */
    double *mean;       /* p     */
};

void h5cl_pca_free(h5cl_pca *pca)
{
    if (!pca)
        return;
    free(pca->components);
    free(pca->variance);
    free(pca->ratio);
    free(pca->mean);
    free(pca);
}

static h5cl_pca *pca_alloc(size_t k, size_t p)
{
    h5cl_pca *pca = calloc(1, sizeof *pca);
    if (!pca)
        return NULL;
    pca->k = k;
    pca->p = p;
    pca->components = malloc(k * p * sizeof *pca->components);
    pca->variance = malloc(k * sizeof *pca->variance);
    pca->ratio = malloc(k * sizeof *pca->ratio);
    pca->mean = malloc(p * sizeof *pca->mean);
    if (!pca->components || !pca->variance || !pca->ratio || !pca->mean) {
        h5cl_pca_free(pca);
        return NULL;
    }
    return pca;
}

/* Column j of the row-major p x p eigenvector matrix v into out, signed
 * so that its entry of largest magnitude is positive (eigenvectors are
 * defined up to sign; this makes the result reproducible). */
static void take_vector(const double *v, size_t p, size_t j, double *out)
{
    size_t big = 0;
    for (size_t i = 0; i < p; i++)
        if (fabs(v[i * p + j]) > fabs(v[big * p + j]))
            big = i;
    const double sign = v[big * p + j] < 0 ? -1.0 : 1.0;
    for (size_t i = 0; i < p; i++)
        out[i] = sign * v[i * p + j];
}

static int pca_compute(h5cl_ctx *ctx, const h5cl_cov *cov, size_t k,
                       h5cl_pca **pca_ret)
{
    const size_t p = cov->p;
    if (k < 1 || k > p)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "k = %zu components; the data has %zu columns, "
                         "so k must be 1..%zu",
                         k, p, p);
    if (cov->n < 2)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "a PCA needs at least 2 rows; the covariance has "
                         "%llu",
                         (unsigned long long)cov->n);
    double *a = malloc(p * p * sizeof *a), *w = malloc(p * sizeof *w);
    h5cl_pca *pca = pca_alloc(k, p);
    int st = H5CL_OK;
    if (!a || !w || !pca)
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                       "out of memory for a %zu x %zu eigenproblem", p, p);
    if (st == H5CL_OK)
        st = h5cl_cov_matrix(cov, 1, a);
    for (size_t i = 0; st == H5CL_OK && i < p * p; i++)
        if (!isfinite(a[i]))
            st = h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                           "the covariance is not finite in column %zu "
                           "(the data has NaN or inf there); no PCA",
                           i % p);
    h5cl_dsyevd_fn dsyevd = NULL;
    if (st == H5CL_OK)
        st = h5cl_lapacke_dsyevd(ctx, &dsyevd);
    if (st == H5CL_OK) {
        lapack_int info = dsyevd(LAPACK_ROW_MAJOR, 'V', 'U',
                                         (lapack_int)p, a, (lapack_int)p, w);
        if (info != 0)
            st = h5cl_fail(ctx, info < 0 ? H5CL_ERR_NO_MEMORY : H5CL_ERR_LINALG,
                           "LAPACKE_dsyevd on the %zu x %zu covariance "
                           "failed with info %d (%s)",
                           p, p, (int)info,
                           info < 0 ? "an argument or workspace was refused"
                                    : "the eigenvalues did not converge");
    }
    if (st == H5CL_OK) {
        /* ascending from LAPACK; rounding can leave tiny negatives,
         * which count as no variance (as scikit-learn does) */
        double total = 0;
        for (size_t i = 0; i < p; i++)
            total += w[i] > 0 ? w[i] : 0;
        for (size_t c = 0; c < k; c++) {
            const size_t j = p - 1 - c;
            pca->variance[c] = w[j] > 0 ? w[j] : 0;
            pca->ratio[c] = total > 0 ? pca->variance[c] / total : NAN;
            take_vector(a, p, j, pca->components + c * p);
        }
        memcpy(pca->mean, cov->mean, p * sizeof *pca->mean);
    }
    free(a);
    free(w);
    if (st != H5CL_OK) {
        h5cl_pca_free(pca);
        return st;
    }
    *pca_ret = pca;
    return h5cl_ok(ctx);
}

int h5cl_pca_compute(h5cl_ctx *ctx, const h5cl_cov *cov, size_t k,
                     h5cl_pca **pca_ret)
{
    if (pca_ret)
        *pca_ret = NULL;
    if (!ctx || !cov || !pca_ret)
        return ctx ? h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                               "h5cl_pca_compute: NULL argument")
                   : H5CL_ERR_INVALID_ARGUMENT;
    return pca_compute(ctx, cov, k, pca_ret);
}

size_t h5cl_pca_k(const h5cl_pca *pca)
{
    return pca ? pca->k : 0;
}

size_t h5cl_pca_columns(const h5cl_pca *pca)
{
    return pca ? pca->p : 0;
}

const double *h5cl_pca_components(const h5cl_pca *pca)
{
    return pca ? pca->components : NULL;
}

const double *h5cl_pca_explained_variance(const h5cl_pca *pca)
{
    return pca ? pca->variance : NULL;
}

const double *h5cl_pca_explained_variance_ratio(const h5cl_pca *pca)
{
    return pca ? pca->ratio : NULL;
}

const double *h5cl_pca_mean(const h5cl_pca *pca)
{
    return pca ? pca->mean : NULL;
}
