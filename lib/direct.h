/* Direct reads of uncompressed data: where a dataset's bytes lie in the
 * file is asked of HDF5 once (contiguous) or per chunk, and the bytes are
 * then read with pread on a pool of threads straight into the tile, outside
 * HDF5's lock.  HDF5 serialises every call and copies on one core; this is
 * how a run reads at the memory's speed instead of H5Dread's.
 *
 * Only data whose bytes in the file are exactly its memory image qualify:
 * sec2 driver, no filters, no external storage, a native type equal to the
 * file type (byte order, precision, offset), and a tile that is a few long
 * contiguous runs of the file (contiguous layout; chunked layout whose
 * chunks span the full extent of every axis but the first).  Everything
 * else, and any tile touching an unallocated chunk, is H5Dread's. */
#ifndef H5CL_DIRECT_H
#define H5CL_DIRECT_H

#include "dataset.h"
#include "mapping.h"
#include "pool.h"

typedef struct h5cl_direct h5cl_direct;

/* Whether a run over ds on a device that reads host memory in place can
 * expect to map its tiles (unfiltered contiguous data or full-row chunks
 * of at least 1 MiB, a view to map into, H5CL_MMAP and H5CL_DIRECT not
 * 0): for choosing the run's default tile size; each tile is still
 * decided by h5cl_direct_map. */
int h5cl_direct_may_map(const h5cl_dataset *ds);

/* Returns NULL when the dataset does not qualify (or H5CL_DIRECT=0; =all
 * also takes unfiltered chunks under 1 MiB), which
 * is not an error.  Takes the HDF5 lock. */
h5cl_direct *h5cl_direct_open(const h5cl_dataset *ds);
void h5cl_direct_close(h5cl_direct *dr);

/* H5CL_OK and the tile in dst; 1 when this tile must go through H5Dread
 * (nothing was read); H5CL_ERR_IO or H5CL_ERR_CORRUPT with a message in
 * err naming the file, dataset, box and offset. */
int h5cl_direct_read(h5cl_direct *dr, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen);

/* Where a tile lies in the file when it is one run of it. */
typedef struct h5cl_file_run {
    uint64_t off, len;      /* the tile's bytes                        */
    uint64_t file_bytes;    /* the file's size when it was located      */
    uint64_t dev, ino;      /* the file's identity (st_dev, st_ino)     */
} h5cl_file_run;

/* The tile as one run of the file, for h5cl_direct_map or a process
 * that maps the file itself (isolated reads): H5CL_OK and *loc; 1 when
 * the tile is to be read instead; H5CL_ERR_IO when the file is already
 * shorter than the tile needs. */
int h5cl_direct_locate(h5cl_direct *dr, const h5cl_box *box,
                       h5cl_file_run *loc, char *err, size_t errlen);

/* Zero-copy for devices that read host memory in place: when the tile is
 * one run of the file (at least 1 MiB; any size with H5CL_MMAP=1, never
 * with H5CL_MMAP=0) and its offset suits the element type, the kernels
 * read it where the dataset's view of the file maps it (mapping.h).
 * H5CL_OK, a reference in *map_ret (give it back with h5cl_view_put) and
 * the tile's address in *data_ret; 1 when the tile is to be read instead
 * (nothing mapped); H5CL_ERR_IO when the file is already shorter than the
 * tile needs. */
int h5cl_direct_map(h5cl_direct *dr, const h5cl_box *box,
                    h5cl_mapping **map_ret, const void **data_ret, char *err,
                    size_t errlen);

#endif
