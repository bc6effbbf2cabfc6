/* The counting op behind histograms and quantiles (kernels/hist.cl): per
 * tile, a kernel counts values into rows of 32-bit counters, either the
 * bins of numpy.histogram or the digits of the values' order-preserving
 * keys under given prefixes; a read-back brings the rows home and merge()
 * adds them into 64-bit totals.  With an expression, its values are
 * evaluated into a device buffer first and counted from there. */
#ifndef H5CL_TALLY_H
#define H5CL_TALLY_H

#include "run.h"

/* Key bits one key_hist pass resolves for values of dtype. */
unsigned h5cl_tally_digit_bits(h5cl_dtype dtype);

typedef struct h5cl_tally {
    h5cl_dtype dtype;  /* of the values counted: the data's, or the
                          expression's (h5cl_eval_acc_dtype)             */
    h5cl_eval *eval;   /* NULL: count the data itself                   */
    int keys;          /* 0: bins of values; 1: digits of keys          */
    /* bins: the histogram, one row per position of the other axes when
     * axis >= 0 */
    int axis;
    uint32_t bins;
    double lo, hi;
    double norm;       /* divisor of numpy's index estimate (kernel doc) */
    /* keys: digits below the top `fixed` bits, for the keys whose top bits
     * are one of prefix[0..nprefix), sorted ascending */
    const uint64_t *prefix;
    uint32_t nprefix;
    unsigned fixed;
    /* what the run adds its counts into, zeroed by h5cl_tally_run: bins:
     * rows of bins + H5CL_HIST_EXTRA (one per output position with an
     * axis), keys: nprefix blocks of 2^digit_bits */
    uint64_t *totals;
} h5cl_tally;

/* What a run counts: the data (*eval_ret NULL, *dtype_ret the data's
 * type), or with opts.expr, or inputs to decode (mask_fill, cf), the
 * expression's values, its kernel built (masked elements are NaN). */
int h5cl_tally_values(h5cl_run *run, h5cl_eval **eval_ret,
                      h5cl_dtype *dtype_ret);

/* Count (NaNs excluded), minimum and maximum of the values a run counts,
 * by a statistics run of its own over the whole selection (it takes the
 * context's busy guard itself).  summary (may be NULL) gets its timings. */
int h5cl_tally_minmax(h5cl_dataset *ds, const h5cl_run *run,
                      h5cl_stats_state *state_ret,
                      h5cl_run_summary *summary);

/* Counts what t says over the run's selection into t->totals (zeroed
 * first); summary->masked counts the elements decoding masked.  Tiles are capped below 2^32 elements, which the 32-bit
 * counters of a tile need (a chunk is below 4 GiB in HDF5, so whole-chunk
 * tiles stay below it too), and halved when the device runs out of memory
 * or the per-axis rows of a tile exceed the op's budget.  summary gets the
 * timings of the last attempt. */
int h5cl_tally_run(h5cl_run *run, const h5cl_tally *t,
                   h5cl_run_summary *summary);

#endif
