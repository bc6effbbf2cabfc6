/* Read-only mappings of file regions that a kernel on a host-memory device
 * reads in place, guarded so that a file shrinking under them is an error
 * rather than a SIGBUS.
 *
 * Reading a mapped page past the end of a file that was truncated after it
 * was mapped raises SIGBUS, whose default action kills the process.  While
 * any mapping made here is live, a SIGBUS handler is installed; for a
 * fault inside one of them it replaces the mapping from the faulting page
 * on with anonymous zero pages (MAP_FIXED), marks the mapping as faulted
 * and returns, so the reading code finishes on zeros and its caller turns
 * the mark into H5CL_ERR_IO.  Faults at other addresses go to the handler
 * that was installed before (or to the default action).  The handler is
 * restored when the last mapping goes, unless someone replaced it since. */
#ifndef H5CL_MAPPING_H
#define H5CL_MAPPING_H

#include <stdint.h>

typedef struct h5cl_mapping h5cl_mapping;

/* Maps len bytes of fd at offset off (any offset: the mapping starts at
 * the page below it).  Returns 0, -1 with errno set (mmap failed), or 1
 * when no guard slot is free (too many live mappings; nothing mapped).
 * The data are at h5cl_mapping_data().  The caller holds one reference. */
int h5cl_mapping_create(int fd, uint64_t off, uint64_t len,
                        h5cl_mapping **map_ret);
const void *h5cl_mapping_data(const h5cl_mapping *map);
/* Whether a read of the mapping hit a part of the file that was gone (it
 * read zeros there).  Valid once the readers of the mapping are done. */
int h5cl_mapping_faulted(const h5cl_mapping *map);
/* Drops a reference; the last one unmaps.  NULL is fine. */
void h5cl_mapping_release(h5cl_mapping *map);

/* A file's view: the whole file mapped once and handed out to the tiles
 * of every run on a dataset, so that the page tables built by the first
 * run serve the next ones.  Mapping per tile cost the pages' faults on
 * every run and a TLB shootdown per unmap (4 GiB of page cache read by
 * two threads at 5-8 GB/s in 4 MiB mappings, 10-11 GB/s through one
 * mapping, 17-19 GB/s through one whose page tables were already built:
 * build/mmap-probe, bench/RESULTS.md).  The pages read stay in the process's resident set
 * (as file pages, which the kernel may still reclaim) until the view
 * goes.  Data larger than half of the physical memory are never all
 * resident anyway: there the pages of each tile are dropped from the view
 * once its kernels are done (h5cl_view_put), which keeps the resident set
 * at a few tiles, as mapping per tile did.  Thread-safe. */
typedef struct h5cl_view h5cl_view;

/* A view for data_bytes of data (which decides whether pages are kept);
 * NULL when out of memory (then nothing is mapped: tiles are read). */
h5cl_view *h5cl_view_create(uint64_t data_bytes);
/* Drops the view's reference to its mapping; tiles still holding one
 * keep it alive.  NULL is fine. */
void h5cl_view_destroy(h5cl_view *v);
/* A reference to a mapping of fd (a descriptor of the view's file, whose
 * size is file_bytes now) and in *data_ret the address of byte off; len
 * bytes from there are mapped.  The file is mapped anew when the view
 * does not cover them (the file grew) or faulted (it shrank under a
 * reader).  0, or nonzero when the tile is to be read instead. */
int h5cl_view_get(h5cl_view *v, int fd, uint64_t file_bytes, uint64_t off,
                  uint64_t len, h5cl_mapping **map_ret,
                  const void **data_ret);
/* A tile's kernels are done with [data, data + len) of map: drops the
 * reference h5cl_view_get gave, first dropping the pages from the process
 * where the view does not keep them. */
void h5cl_view_put(h5cl_mapping *map, const void *data, uint64_t len);

#endif
