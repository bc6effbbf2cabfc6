/* Reads one tile (a box of the dataset) into host memory, in the dataset's
 * native memory type: directly from the file on a pool of threads where the
 * bytes allow it (direct.h), else with H5Dread under the HDF5 lock. */
#ifndef H5CL_READER_H
#define H5CL_READER_H

#include "dataset.h"
#include "direct.h"
#include "mapping.h"
#include "pool.h"

typedef struct h5cl_reader h5cl_reader;

int h5cl_reader_open(h5cl_ctx *ctx, h5cl_dataset *ds, h5cl_reader **rd_ret);
/* Whether some tiles may be read directly (then pass a pool to read). */
int h5cl_reader_can_direct(const h5cl_reader *rd);
/* On failure writes a message naming the file, dataset, box and HDF5's
 * innermost error (or the failed pread) into err and returns the status.
 * pool NULL: H5Dread only.  Safe to call from a worker thread (touches no
 * context state). */
int h5cl_reader_read(h5cl_reader *rd, h5cl_pool *pool, const h5cl_box *box,
                     void *dst, char *err, size_t errlen);
/* Whether some tiles may be mapped (h5cl_reader_map), in-process or by
 * the parent of an isolated reader. */
int h5cl_reader_can_map(const h5cl_reader *rd);
/* Where the tile lies in the file (h5cl_direct_locate); in-process only. */
int h5cl_reader_locate(h5cl_reader *rd, const h5cl_box *box,
                       h5cl_file_run *loc, char *err, size_t errlen);
/* Zero-copy: the tile's address in the dataset's view of the file when
 * the direct path allows it (direct.h).  For an isolated dataset the
 * child says where the tile lies and this process maps its own
 * descriptor of the file, once it is sure that is the child's file.  H5CL_OK, *map_ret (a reference,
 * for h5cl_view_put) and *data_ret; 1: read it instead; else an error
 * with err set. */
int h5cl_reader_map(h5cl_reader *rd, const h5cl_box *box,
                    h5cl_mapping **map_ret, const void **data_ret, char *err,
                    size_t errlen);
/* Of the bytes read directly, those mapped instead of read. */
uint64_t h5cl_reader_bytes_mapped(const h5cl_reader *rd);
/* Bytes read so far without H5Dread. */
uint64_t h5cl_reader_bytes_direct(const h5cl_reader *rd);
/* Threads that read rd's tiles: pool's when rd reads directly (pool may
 * be NULL), the child's when rd is isolated, else 1. */
unsigned h5cl_reader_threads(const h5cl_reader *rd, const h5cl_pool *pool);
void h5cl_reader_close(h5cl_reader *rd);

#endif
