/* Fill values and CF attributes of a dataset: found by name only (never by
 * walking a dataset's attributes, which crashes HDF5 1.10 on some files),
 * read in their own type, and converted into the raw type the data is
 * compared in, as plain numbers (h5cl_cf_info).  HDF5 only: no OpenCL.
 * The device side is lib/eval.c, which prints these numbers into the
 * generated kernel. */
#ifndef H5CL_CF_H
#define H5CL_CF_H

#include "dataset.h"

/* Fills *info with what a run with opts->cf = cf and opts->mask_fill =
 * mask_fill applies to ds (the rules are in h5cl.h, "Fill values and CF
 * conventions").  Reads only the attributes the options use.  Takes the
 * HDF5 lock.  H5CL_ERR_UNSUPPORTED_TYPE names an attribute it cannot
 * interpret; H5CL_ERR_HDF5 a failed HDF5 call. */
int h5cl_cf_read(h5cl_ctx *ctx, const h5cl_dataset *ds, int cf, int mask_fill,
                 h5cl_cf_info *info);

#endif
