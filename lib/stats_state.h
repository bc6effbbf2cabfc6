/* Internal helpers of the statistics state beside its public API. */
#ifndef H5CL_STATS_STATE_H
#define H5CL_STATS_STATE_H

#include "h5cl.h"

/* Sets an integer state's exact sum from its two's complement 128-bit
 * form (hi:lo, as the kernels produce it), and its overflow flag. */
void h5cl_stats_state_set_sum128(h5cl_stats_state *st, uint64_t lo,
                                 int64_t hi);

/* The H5CL_FIG_* flags a run asked for `figures` (0: all) does not hold,
 * after the implications (VAR needs SUM, ARG needs MINMAX, and MINMAX
 * brings ARG). */
uint32_t h5cl_figures_missing(unsigned figures);
/* Whether a `missing` mask is one h5cl_figures_missing() can give. */
int h5cl_figures_missing_valid(uint32_t missing);

/* The double whose bits are u (device records, serialised states). */
double h5cl_bits_double(uint64_t u);

/* The summary of a result, for the calls that assemble one from several
 * runs (lib/multi.c). */
h5cl_run_summary *h5cl_stats_run_summary(h5cl_stats *s);

#endif
