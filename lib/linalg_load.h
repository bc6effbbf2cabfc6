/* CLBlast and LAPACKE, loaded on first use rather than at start-up.
 *
 * Only cov and pca need them, and linking them made every process pay for
 * loading and relocating both (and libstdc++, BLAS, LAPACK, gfortran
 * behind them): about 9 ms of CPU time of a 70 ms `h5cl stats` start-up on
 * the CI machine, where issue 7 asks for 150 ms end to end.  The functions
 * keep the headers' own prototypes (typeof), so a call is checked as
 * before; the libraries are named by the sonames found at build time. */
#ifndef H5CL_LINALG_LOAD_H
#define H5CL_LINALG_LOAD_H

#include <clblast_c.h>
#include <lapacke.h>

#include "common.h"

typedef struct h5cl_clblast {
    __typeof__(&CLBlastSsyrk) ssyrk;
    __typeof__(&CLBlastDsyrk) dsyrk;
    __typeof__(&CLBlastSgemm) sgemm;
    __typeof__(&CLBlastDgemm) dgemm;
    __typeof__(&CLBlastClearCache) clear_cache;
} h5cl_clblast;

typedef __typeof__(&LAPACKE_dsyevd) h5cl_dsyevd_fn;

/* Loads CLBlast once per process (thread-safe).  H5CL_ERR_LINALG with a
 * message naming the library and dlopen's reason when it cannot. */
int h5cl_clblast_get(h5cl_ctx *ctx, const h5cl_clblast **fns_ret);
/* CLBlast's functions if an earlier call loaded it, else NULL. */
const h5cl_clblast *h5cl_clblast_loaded(void);
/* LAPACKE_dsyevd, loaded once per process; errors as above. */
int h5cl_lapacke_dsyevd(h5cl_ctx *ctx, h5cl_dsyevd_fn *fn_ret);

#endif
