/* The CLBlast calls of the linear-algebra ops (lib/ops_cov.c,
 * lib/ops_project.c).  CLBlast caches its compiled programs per device and
 * precision inside the process, so only a run's first call compiles. */
#include <pthread.h>

#include <clblast_c.h>

#include "blas.h"
#include "linalg_load.h"

/* CLBlast's own band of status codes (clblast_c.h); the others are
 * OpenCL's numbers. */
#define CLBLAST_CODES(X)                                                      \
    X(CLBlastNotImplemented) X(CLBlastInvalidMatrixA)                         \
    X(CLBlastInvalidMatrixB) X(CLBlastInvalidMatrixC)                         \
    X(CLBlastInvalidVectorX) X(CLBlastInvalidVectorY)                         \
    X(CLBlastInvalidDimension) X(CLBlastInvalidLeadDimA)                      \
    X(CLBlastInvalidLeadDimB) X(CLBlastInvalidLeadDimC)                       \
    X(CLBlastInvalidIncrementX) X(CLBlastInvalidIncrementY)                   \
    X(CLBlastInsufficientMemoryA) X(CLBlastInsufficientMemoryB)               \
    X(CLBlastInsufficientMemoryC) X(CLBlastInsufficientMemoryX)               \
    X(CLBlastInsufficientMemoryY) X(CLBlastInsufficientMemoryTemp)            \
    X(CLBlastInvalidBatchCount) X(CLBlastInvalidOverrideKernel)               \
    X(CLBlastMissingOverrideParameter) X(CLBlastInvalidLocalMemUsage)         \
    X(CLBlastNoHalfPrecision) X(CLBlastNoDoublePrecision)                     \
    X(CLBlastInvalidVectorScalar) X(CLBlastInsufficientMemoryScalar)          \
    X(CLBlastDatabaseError) X(CLBlastUnknownError) X(CLBlastUnexpectedError)

/* CLBlast's process-wide caches (programs, tuning databases) are not safe
 * to fill from two threads at once: two contexts' first SYRK in one process
 * (h5cl_multi_cov) crashed copying a database entry about one run in 40.
 * Every call goes through this lock; a call only enqueues, so holding it
 * costs little once the first call has built its program. */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

const char *h5cl_blas_status_name(int status)
{
#define NAME_CASE(c) case c: return #c;
    switch (status) {
    CLBLAST_CODES(NAME_CASE)
    default: return h5cl_cl_errname((cl_int)status);
    }
#undef NAME_CASE
}

void h5cl_blas_release(h5cl_ctx *ctx)
{
    const h5cl_clblast *cb = h5cl_clblast_loaded();
    if (ctx->blas_used && cb) {
        pthread_mutex_lock(&blas_lock);
        cb->clear_cache();
        pthread_mutex_unlock(&blas_lock);
    }
    ctx->blas_used = 0;
}

/* Records a failed CLBlast call: out of device memory as such (the tile
 * retry may help), anything else as H5CL_ERR_LINALG. */
static int blas_fail(h5cl_ctx *ctx, CLBlastStatusCode s, const char *call,
                     size_t m, size_t n, size_t k)
{
    int st = H5CL_ERR_LINALG;
    if (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfResources)
        st = H5CL_ERR_DEVICE_MEMORY;
    else if (s == CLBlastOpenCLOutOfHostMemory)
        st = H5CL_ERR_NO_MEMORY;
    return h5cl_fail(ctx, st,
                     "%s (m=%zu n=%zu k=%zu) failed with %s (%d) on %s", call,
                     m, n, k, h5cl_blas_status_name((int)s), (int)s,
                     ctx->dev.info.device_name);
}

int h5cl_blas_syrk(h5cl_ctx *ctx, h5cl_dtype dt, size_t n, size_t k,
                   cl_mem a, cl_mem c, cl_event *ev_ret)
{
    cl_command_queue q = ctx->dev.comp;
    *ev_ret = NULL;
    const h5cl_clblast *cb;
    int st = h5cl_clblast_get(ctx, &cb);
    if (st != H5CL_OK)
        return st;
    ctx->blas_used = 1;
    pthread_mutex_lock(&blas_lock);
    CLBlastStatusCode s =
        dt == H5CL_FLOAT64
            ? cb->dsyrk(CLBlastLayoutRowMajor, CLBlastTriangleUpper,
                           CLBlastTransposeYes, n, k, 1.0, a, 0, n, 1.0, c, 0,
                           n, &q, ev_ret)
            : cb->ssyrk(CLBlastLayoutRowMajor, CLBlastTriangleUpper,
                           CLBlastTransposeYes, n, k, 1.0f, a, 0, n, 1.0f, c,
                           0, n, &q, ev_ret);
    pthread_mutex_unlock(&blas_lock);
    if (s != CLBlastSuccess)
        return blas_fail(ctx, s,
                         dt == H5CL_FLOAT64 ? "CLBlastDsyrk" : "CLBlastSsyrk",
                         n, n, k);
    return H5CL_OK;
}

int h5cl_blas_gemm_nt(h5cl_ctx *ctx, h5cl_dtype dt, size_t m, size_t n,
                      size_t k, cl_mem a, cl_mem b, cl_mem c,
                      cl_event *ev_ret)
{
    cl_command_queue q = ctx->dev.comp;
    *ev_ret = NULL;
    const h5cl_clblast *cb;
    int st = h5cl_clblast_get(ctx, &cb);
    if (st != H5CL_OK)
        return st;
    ctx->blas_used = 1;
    pthread_mutex_lock(&blas_lock);
    CLBlastStatusCode s =
        dt == H5CL_FLOAT64
            ? cb->dgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                           CLBlastTransposeYes, m, n, k, 1.0, a, 0, k, b, 0, k,
                           0.0, c, 0, n, &q, ev_ret)
            : cb->sgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                           CLBlastTransposeYes, m, n, k, 1.0f, a, 0, k, b, 0,
                           k, 0.0f, c, 0, n, &q, ev_ret);
    pthread_mutex_unlock(&blas_lock);
    if (s != CLBlastSuccess)
        return blas_fail(ctx, s,
                         dt == H5CL_FLOAT64 ? "CLBlastDgemm" : "CLBlastSgemm",
                         m, n, k);
    return H5CL_OK;
}
