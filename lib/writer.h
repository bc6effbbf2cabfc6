/* The output of a map: a new dataset written tile by tile, all or nothing.
 *
 * The dataset is made in a temporary file in the target's directory: a new
 * file when the target does not exist, else a copy of the target (reflinked
 * where the filesystem can, else copied by the kernel).  Commit flushes and
 * closes it (checking every status), fsyncs it, renames it over the target
 * and fsyncs the directory; abort removes it.  So the target file is either
 * untouched or holds the complete new dataset, whatever fails or kills the
 * process on the way.  An uncompressed output's space is reserved up
 * front, so a full disk (or a file-size limit) is met before anything is
 * written: HDF5 1.10 cannot close a file whose flush failed, and keeps it
 * open for the rest of the process. */
#ifndef H5CL_WRITER_H
#define H5CL_WRITER_H

#include "dataset.h"

typedef struct h5cl_writer_spec {
    const char *file;
    const char *path;
    h5cl_dtype dtype;
    int rank;                          /* 0: a scalar                    */
    uint64_t dims[H5CL_MAX_RANK];
    uint64_t origin[H5CL_MAX_RANK];    /* input coordinates of element 0 */
    int chunked;
    uint64_t chunk_dims[H5CL_MAX_RANK];
    int chunks_aligned;                /* every tile covers whole chunks */
    int gzip;                          /* 0: none, else level 1..9       */
    int shuffle;
    int overwrite;
    const char *expression;            /* recorded as attributes         */
    const char *sources;
} h5cl_writer_spec;

typedef struct h5cl_writer h5cl_writer;

/* Fills spec (all but expression and sources) from a map's output
 * options for an output of `rank` dims whose element 0 is at input
 * coordinates `origin`.  Chunks: mopts's, else in_chunks (the input's,
 * clipped; NULL when the input is not chunked: none), else, when a
 * filter needs chunks, whole rows of about 1 MiB.  A contiguous output
 * with a filter is H5CL_ERR_INVALID_ARGUMENT. */
int h5cl_writer_spec_init(h5cl_ctx *ctx, const h5cl_map_options *m,
                          h5cl_dtype dtype, int rank, const uint64_t *dims,
                          const uint64_t *origin, const uint64_t *in_chunks,
                          h5cl_writer_spec *w);

/* Checks the target (not an input file: inputs lists them; the dataset
 * absent unless overwrite), makes the temporary file and the dataset. */
int h5cl_writer_create(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                       h5cl_dataset *const *inputs, size_t ninputs,
                       h5cl_writer **w_ret);
/* Stores one tile (box in input coordinates, values in C order).  Safe
 * from the writer thread: touches no context state; on failure writes a
 * message into err (naming the file, dataset and HDF5's error, or ENOSPC
 * and friends) and returns H5CL_ERR_IO or H5CL_ERR_HDF5. */
int h5cl_writer_write(h5cl_writer *w, const h5cl_box *box, const void *data,
                      char *err, size_t errlen);
/* Makes the output visible under its real name and frees w. */
int h5cl_writer_commit(h5cl_ctx *ctx, h5cl_writer *w);
/* The checks of an output dataset at path in the open file f, for other
 * writers of outputs (lib/vds.c): groups on the way, and the dataset
 * absent unless overwrite (H5CL_ERR_EXISTS).  Call with the HDF5 lock
 * held. */
int h5cl_writer_check_dest(h5cl_ctx *ctx, hid_t f, const char *file,
                           const char *path, int overwrite);
/* Removes the temporary file and frees w.  Accepts NULL. */
void h5cl_writer_abort(h5cl_writer *w);

#endif
