/* The histogram result as plain data: counts in 64-bit integers, merged
 * and serialised on the host.  The public h5cl_hist_* accessors, merge and
 * byte form live in hist_state.c; ops_hist.c fills it. */
#ifndef H5CL_HIST_STATE_H
#define H5CL_HIST_STATE_H

#include "h5cl.h"

/* Counters past the bins in every row, in this order: NaN, below lo,
 * above hi (the rows of kernels/hist.cl). */
#define H5CL_HIST_EXTRA 3
/* Bins allowed per histogram; 0 in the options asks for the default. */
#define H5CL_HIST_MAX_BINS ((uint32_t)1 << 24)
#define H5CL_HIST_DEFAULT_BINS 256

struct h5cl_hist {
    uint32_t bins;
    double lo, hi;
    int from_data;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    size_t n;          /* histograms: the product of dims            */
    uint64_t *counts;  /* n rows of bins + H5CL_HIST_EXTRA counters  */
    h5cl_run_summary summary;
};

/* A zeroed histogram, one row per position of dims (one for rank 0).
 * NULL when out of memory or when its size does not fit a size_t. */
h5cl_hist *h5cl_hist_alloc(uint32_t bins, double lo, double hi,
                           int from_data, int rank, const uint64_t *dims);

#endif
