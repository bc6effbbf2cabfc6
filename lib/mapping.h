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
 * the page below it) and faults them in.  Returns 0, -1 with errno set
 * (mmap failed), or 1 when no guard slot is free (too many live mappings;
 * nothing mapped).  The data are at h5cl_mapping_data(). */
int h5cl_mapping_create(int fd, uint64_t off, uint64_t len,
                        h5cl_mapping **map_ret);
const void *h5cl_mapping_data(const h5cl_mapping *map);
/* Whether a read of the mapping hit a part of the file that was gone (it
 * read zeros there).  Valid once the readers of the mapping are done. */
int h5cl_mapping_faulted(const h5cl_mapping *map);
/* Unmaps.  NULL is fine. */
void h5cl_mapping_destroy(h5cl_mapping *map);

#endif
