/* Isolated mode: every HDF5 call on an input file runs in a child process
 * (the h5cl-reader helper) under memory, CPU and wall-clock limits, so a
 * file that crashes or hangs libhdf5 costs an error, not the caller's
 * process.  The design is written at the head of lib/isolate.c.
 *
 * The parent side is a set of proxies, each the isolated twin of one
 * in-process entry point; the callers (dataset.c, cf.c, run.c, reader.c)
 * call the proxy when the dataset or context is isolated and their own
 * code otherwise.  The child side (isolate_serve.c) answers each request
 * by calling that same in-process code. */
#ifndef H5CL_ISOLATE_H
#define H5CL_ISOLATE_H

#include "cf.h"
#include "dataset.h"
#include "direct.h"

/* ---- the context's settings and child ---- */

/* Sets the defaults (H5CL_ISOLATE in the environment decides `enabled`). */
int h5cl_iso_ctx_init(h5cl_ctx *ctx);
/* Stops the child (if any) and frees the context's isolation state. */
void h5cl_iso_ctx_release(h5cl_ctx *ctx);
/* Whether datasets opened now on ctx go through the child. */
int h5cl_iso_enabled(const h5cl_ctx *ctx);

/* ---- proxies (parent side) ---- */

/* h5cl_dataset_open in the child: fills ds->info and ds->scalar and marks
 * ds as remote.  The message of a failure is the child's own. */
int h5cl_iso_dataset_open(h5cl_ctx *ctx, h5cl_dataset *ds, const char *file,
                          const char *path);
/* Closes the child's dataset (nothing when the child has gone since). */
void h5cl_iso_dataset_close(h5cl_dataset *ds);

/* h5cl_file_list_datasets in the child: fn(path, supported, user) per
 * dataset, called in the parent after the child's walk has ended. */
int h5cl_iso_list_datasets(h5cl_ctx *ctx, const char *file,
                           h5cl_dataset_visit_fn fn, void *user);

/* h5cl_cf_read in the child. */
int h5cl_iso_cf_read(h5cl_ctx *ctx, const h5cl_dataset *ds, int cf,
                     int mask_fill, h5cl_cf_info *info);

/* A reader of one remote dataset, for reader.c. */
typedef struct h5cl_iso_reader h5cl_iso_reader;
int h5cl_iso_reader_open(h5cl_ctx *ctx, const h5cl_dataset *ds,
                         h5cl_iso_reader **rd_ret);
/* Reads box into dst, which must lie in memory from h5cl_iso_shm_alloc
 * (the only memory the child sees).  Safe on the
 * pipeline's reader thread.  Errors as h5cl_reader_read, plus
 * H5CL_ERR_CRASHED, H5CL_ERR_TIMEOUT and H5CL_ERR_LIMIT. */
int h5cl_iso_reader_read(h5cl_iso_reader *rd, const h5cl_box *box, void *dst,
                         size_t nbytes, char *err, size_t errlen);
/* Where the tile lies in the file when it is one run of it, so that the
 * parent maps it itself (h5cl_direct_locate in the child): H5CL_OK with
 * run->len 0 when it is to be read instead.  Errors as above. */
int h5cl_iso_reader_locate(h5cl_iso_reader *rd, const h5cl_box *box,
                           h5cl_file_run *run, char *err, size_t errlen);
/* Whether the child may locate tiles at all (its direct path qualified). */
int h5cl_iso_reader_can_map(const h5cl_iso_reader *rd);
uint64_t h5cl_iso_reader_bytes_direct(const h5cl_iso_reader *rd);
/* Threads the child reads this dataset's tiles with. */
unsigned h5cl_iso_reader_threads(const h5cl_iso_reader *rd);
void h5cl_iso_reader_close(h5cl_iso_reader *rd);

/* Page-aligned memory shared with the child (a memfd mapped in both), for
 * the pipeline's host slots of isolated inputs: the child writes tiles
 * into them in place.  NULL when out of memory. */
void *h5cl_iso_shm_alloc(h5cl_ctx *ctx, size_t bytes);
void h5cl_iso_shm_free(h5cl_ctx *ctx, void *addr);

/* ---- the child side ---- */

/* Called before each request the child serves, with its 1-based number
 * and the request's name ("open", "read", ...): the helper's test hook. */
typedef void (*h5cl_iso_hook)(unsigned long n, const char *request);

/* Serves requests on the connected socket fd until the parent closes it.
 * Returns the process exit status. */
int h5cl_iso_serve(int fd, h5cl_iso_hook hook);

#endif
