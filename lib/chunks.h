/* The decoded path for chunked datasets: each chunk a tile meets is read
 * with H5Dread_chunk (its stored bytes, one short section under the HDF5
 * lock) and decoded by the pool's threads (decode.h) straight into the
 * tile, or into a per-thread buffer whose intersection with the tile is
 * then copied.  Unallocated chunks get the fill value.  This is how
 * compressed data is read on every core instead of HDF5's one.
 *
 * Qualifies: chunked layout, filters h5cl decodes (none, shuffle, deflate,
 * fletcher32, each at most once), edge chunks filtered like the others,
 * and a file type equal to the native type or its byte-swapped twin
 * (big-endian integers and IEEE floats, swapped after decoding). */
#ifndef H5CL_CHUNKS_H
#define H5CL_CHUNKS_H

#include "dataset.h"
#include "pool.h"

typedef struct h5cl_chunks h5cl_chunks;

/* NULL when the dataset does not qualify or memory runs out (not an
 * error).  Call with the HDF5 lock held; dcpl is the dataset's. */
h5cl_chunks *h5cl_chunks_open(const h5cl_dataset *ds, hid_t dcpl);
void h5cl_chunks_close(h5cl_chunks *ck);

/* As h5cl_direct_read: H5CL_OK with the tile in dst; 1 when the tile must
 * go through H5Dread (an unallocated chunk without a usable fill value, a
 * chunk stored larger than any valid encoding or recorded at address 0);
 * H5CL_ERR_CORRUPT (a chunk that does not decode, or fails its checksum),
 * H5CL_ERR_HDF5 or H5CL_ERR_NO_MEMORY with a message naming the file,
 * dataset and chunk. */
int h5cl_chunks_read(h5cl_chunks *ck, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen);

#endif
