/* The output of a map: a new dataset written tile by tile, all or nothing.
 *
 * The dataset is made in a temporary file in the target's directory: a new
 * file when the target does not exist, else a copy of the target (reflinked
 * where the filesystem can, else copied by the kernel).  Commit flushes and
 * closes it (checking every status), fsyncs it, renames it over the target
 * and fsyncs the directory (when that sync fails, the previous target is
 * put back: an error never leaves the target changed); abort removes it.
 * A temporary file left by a killed process (its name holds the host and
 * the PID) is removed by the next writer of the same target on the same
 * host, once that process is gone.  So the target file is either
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

/* An input file as the writer refuses to replace it: its identity (device
 * and inode, so every name of it: symlinks, hard links, other spellings)
 * and the name it was opened by, for the message. */
typedef struct h5cl_input_file {
    uint64_t dev, ino;
    char name[1024];
} h5cl_input_file;

/* The identities of the files of n datasets, into files (room for n);
 * returns how many could be stat'ed (a file that cannot is not a target
 * either: it cannot be renamed over). */
size_t h5cl_input_files(h5cl_dataset *const *ds, size_t n,
                        h5cl_input_file *files);
/* The identity of one file by name: 1, or 0 when it cannot be stat'ed. */
int h5cl_input_file_get(const char *file, h5cl_input_file *f);

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

/* Checks the target (not one of the input files: H5CL_ERR_OUTPUT_IS_INPUT;
 * the dataset absent unless overwrite), makes the temporary file and the
 * dataset. */
int h5cl_writer_create(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                       const h5cl_input_file *inputs, size_t ninputs,
                       h5cl_writer **w_ret);
/* For an output HDF5 writes itself (a virtual dataset): the checks and
 * the temporary file of h5cl_writer_create (spec: file, path and
 * overwrite), with an overwritten dataset removed and none made; the
 * caller makes its dataset in h5cl_writer_file(w), closes what it opened
 * there, then commits or aborts as with any writer. */
int h5cl_writer_open(h5cl_ctx *ctx, const h5cl_writer_spec *spec,
                     const h5cl_input_file *inputs, size_t ninputs,
                     h5cl_writer **w_ret);
/* The open temporary file of a writer made by h5cl_writer_open. */
hid_t h5cl_writer_file(const h5cl_writer *w);
/* Stores one tile (box in input coordinates, values in C order).  Safe
 * from the writer thread: touches no context state; on failure writes a
 * message into err (naming the file, dataset and HDF5's error, or ENOSPC
 * and friends) and returns H5CL_ERR_IO or H5CL_ERR_HDF5. */
int h5cl_writer_write(h5cl_writer *w, const h5cl_box *box, const void *data,
                      char *err, size_t errlen);
/* Makes the output visible under its real name and frees w. */
int h5cl_writer_commit(h5cl_ctx *ctx, h5cl_writer *w);
/* Removes the temporary file and frees w.  Accepts NULL. */
void h5cl_writer_abort(h5cl_writer *w);

#endif
