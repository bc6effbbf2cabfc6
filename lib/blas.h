/* CLBlast on the context's compute queue, in the type values are
 * evaluated into (float64 on fp64 devices, else float32), with CLBlast's
 * status codes turned into messages that name them.  Matrices are
 * row-major.  Each call enqueues without blocking; the in-order compute
 * queue orders it after the commands before it, and *ev_ret is its last
 * command's event (the caller releases it). */
#ifndef H5CL_BLAS_H
#define H5CL_BLAS_H

#include "common.h"

/* c (n x n, upper triangle) += a^T a, a being k x n. */
int h5cl_blas_syrk(h5cl_ctx *ctx, h5cl_dtype dt, size_t n, size_t k,
                   cl_mem a, cl_mem c, cl_event *ev_ret);
/* c (m x n) = a b^T, a being m x k and b n x k. */
int h5cl_blas_gemm_nt(h5cl_ctx *ctx, h5cl_dtype dt, size_t m, size_t n,
                      size_t k, cl_mem a, cl_mem b, cl_mem c,
                      cl_event *ev_ret);
/* Drops CLBlast's cached programs when ctx used CLBlast.  Its cache is
 * process-wide and keeps every cl_context it compiled for alive (each
 * program retains its context); measured: without this, a process that
 * opens and closes contexts after a covariance grows by ~40 KiB per
 * context.  CLBlast can only clear all of it, so other contexts of the
 * process compile again on their next call (fast from the driver's own
 * cache). */
void h5cl_blas_release(h5cl_ctx *ctx);
/* "CLBlastInvalidLeadDimA" etc. for a CLBlast status; OpenCL's name for
 * the codes CLBlast shares with OpenCL. */
const char *h5cl_blas_status_name(int status);

#endif
