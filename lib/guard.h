/* Guards: what is checked on a dataset after it is opened and before any
 * of its data is read, so that a hostile or unusual file ends in a
 * specific error (or a warning) instead of a crash inside libhdf5, an
 * unbounded allocation or silently wrong numbers.  Every function here is
 * called with the HDF5 lock held. */
#ifndef H5CL_GUARD_H
#define H5CL_GUARD_H

#include <hdf5.h>

#include "dataset.h"

/* The structural datatype whitelist: integers of 1, 2, 4 or 8 bytes with
 * every bit used (precision 8 * size, offset 0), two's complement or
 * unsigned, little- or big-endian; floats that are exactly IEEE binary32
 * or binary64 in either byte order.  0 with *dt_ret and *big_ret set, or
 * -1 with what was found written into why (for a message). */
int h5cl_guard_type(hid_t ftype, h5cl_dtype *dt_ret, int *big_ret, char *why,
                    size_t whylen);

/* A link-access list whose external-link callback refuses to traverse, so
 * that HDF5 never opens a file that an external link names.  Usable as a
 * dataset-access list too.  Negative on failure. */
hid_t h5cl_guard_lapl(void);

/* Fails (H5CL_ERR_DATASET_NOT_FOUND) when the last link of path in file is
 * an external link, naming its target.  lapl: h5cl_guard_lapl's, so that
 * an external link earlier in the path is not followed either. */
int h5cl_guard_link(h5cl_ctx *ctx, hid_t file, const char *fname,
                    const char *path, hid_t lapl);

/* The checks on an opened, described dataset (ds->info filled, except the
 * chunk shape which this copies from dcpl): chunk rank and sizes, filters
 * available, external files and virtual-dataset sources present, and data
 * that would not come from the file (promise 5).  The last are warnings
 * (appended to ds->warnings) unless the context is strict, then
 * H5CL_ERR_MISSING_DATA. */
int h5cl_guard_dataset(h5cl_dataset *ds, hid_t dcpl);

#endif
