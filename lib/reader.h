/* Reads one tile (a box of the dataset) from HDF5 into host memory, in the
 * dataset's native memory type.  Holds the HDF5 lock only for the call. */
#ifndef H5CL_READER_H
#define H5CL_READER_H

#include "dataset.h"

typedef struct h5cl_reader h5cl_reader;

int h5cl_reader_open(h5cl_ctx *ctx, h5cl_dataset *ds, h5cl_reader **rd_ret);
/* On failure writes a message naming the file, dataset, box and HDF5's
 * innermost error into err and returns H5CL_ERR_HDF5.  Safe to call from a
 * worker thread (touches no context state). */
int h5cl_reader_read(h5cl_reader *rd, const h5cl_box *box, void *dst,
                     char *err, size_t errlen);
void h5cl_reader_close(h5cl_reader *rd);

#endif
