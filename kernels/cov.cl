/* Column steps of the streamed covariance (lib/ops_cov.c) and projection
 * (lib/ops_project.c), around CLBlast's SYRK and GEMM.
 *
 * Built with T the type the values were evaluated into (double on fp64
 * devices, else float; h5cl_ctx_build_programs also builds it for the
 * other element types, where it is plain integer arithmetic).  A tile is
 * `rows` rows of `cols` values, row-major.  One work-item per column:
 * neighbouring work-items touch neighbouring elements of a row, so loads
 * coalesce on GPUs; the row loop is short next to the SYRK or GEMM that
 * follows (p^2 or p*k work per row against p here).
 */
#if HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

/* On the run's first tile (first != 0), sets shift[j] to the column's
 * mean over that tile: an estimate of the true mean, good enough that the
 * shifted values are small and their products do not cancel.  Then, for
 * every tile, subtracts shift[j] from the column in place and adds the
 * shifted column's sum to sums[j] (compensated: a tile has many rows). */
__kernel void cov_shift_sum(__global T *x, ulong rows, ulong cols,
                            __global T *shift, __global T *sums, int first)
{
    const ulong j = get_global_id(0);
    if (j >= cols)
        return;
    if (first) {
        T s = 0;
        for (ulong r = 0; r < rows; r++)
            s += x[r * cols + j];
        shift[j] = s / (T)rows;
    }
    const T c = shift[j];
    T s = 0, comp = 0;
    for (ulong r = 0; r < rows; r++) {
        const T v = x[r * cols + j] - c;
        x[r * cols + j] = v;
        /* Kahan: the running sum may be much larger than one value */
        const T y = v - comp;
        const T t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    sums[j] += s;
}

/* Subtracts mean[j] from column j in place: the rows a projection
 * multiplies are centred first, so a large mean does not cancel. */
__kernel void cov_center(__global T *x, ulong rows, ulong cols,
                         __global const T *mean)
{
    const ulong j = get_global_id(0);
    if (j >= cols)
        return;
    const T c = mean[j];
    for (ulong r = 0; r < rows; r++)
        x[r * cols + j] -= c;
}
