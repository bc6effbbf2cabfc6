/* The covariance result as plain data: n, column means and the centred
 * sums of products, merged and serialised on the host.  The public
 * h5cl_cov_* accessors, merge and byte form live in cov_state.c;
 * ops_cov.c fills it and pca.c reads it. */
#ifndef H5CL_COV_STATE_H
#define H5CL_COV_STATE_H

#include "h5cl.h"
#include "writer.h"

struct h5cl_cov {
    uint64_t n;       /* rows                                         */
    size_t p;         /* columns                                      */
    double *mean;     /* p                                            */
    double *m2;       /* p x p, row-major, symmetric                  */
    h5cl_run_summary summary;
    /* the files it was computed from, which h5cl_cov_write refuses as
     * outputs; none for a deserialised state */
    h5cl_input_file inputs[H5CL_MAX_INPUTS];
    size_t ninputs;
};

/* A state of p columns and no rows (means NaN, m2 zero); NULL when out
 * of memory or when p x p does not fit a size_t. */
h5cl_cov *h5cl_cov_alloc(size_t p);

#endif
