/* What every run does before and around the pipeline, whatever the op:
 * options with their defaults, the device, the inputs and their shape
 * check, the selection, filter availability, tile size and slot count, the
 * retry with smaller tiles when the device runs out of memory, and the
 * one-run-per-context guard. */
#ifndef H5CL_RUN_H
#define H5CL_RUN_H

#include "eval.h"

typedef struct h5cl_run {
    h5cl_ctx *ctx;
    h5cl_run_options opts; /* the caller's, with defaults filled in      */
    h5cl_inputs in;        /* inputs[0] is the dataset the op runs on    */
    h5cl_box sel;          /* narrowed to the context's share, if any   */
    uint64_t share_row;    /* rows of the selection before the share    */
    uint64_t tile_bytes;
    unsigned slots;
} h5cl_run;

/* Copies opts (NULL: defaults) by its struct_size, opens the device,
 * collects the inputs (and their fill and CF decoding), parses the selection, checks the axis (an error
 * unless allow_axis when opts->axis >= 0), refuses float64 inputs on a
 * device without fp64 and filters HDF5 cannot decode. */
int h5cl_run_prepare(h5cl_ctx *ctx, h5cl_dataset *ds,
                     const h5cl_run_options *opts, int allow_axis,
                     h5cl_run *run);

/* Narrows run->sel to the context's share (lib/share.c): sets
 * run->share_row; H5CL_ERR_AXIS for a per-axis run over an axis other
 * than 0 of a share that is not the whole selection. */
int h5cl_share_apply(h5cl_ctx *ctx, h5cl_run *run);

/* a += b for runs of parts of one selection side by side: bytes, tiles,
 * masked elements and stage times add up; seconds is the longer one. */
void h5cl_summary_merge(h5cl_run_summary *a, const h5cl_run_summary *b);
/* Fails early, naming the filter HDF5 cannot decode, rather than at the
 * first read (in the reader child when ds is isolated). */
int h5cl_check_filters(h5cl_ctx *ctx, const h5cl_dataset *ds);

/* One attempt of a run with a given plan; returns the pipeline's status. */
typedef int (*h5cl_attempt_fn)(h5cl_run *run, const h5cl_plan *plan,
                               void *user);
/* Plans the selection and calls attempt; on H5CL_ERR_DEVICE_MEMORY halves
 * the tile (splitting chunks if need be) and tries again, down to 64 KiB. */
int h5cl_run_attempts(h5cl_run *run, h5cl_attempt_fn attempt, void *user);

/* Marks ctx busy; H5CL_ERR_BUSY (the context untouched) when a run is in
 * progress on it in another thread.  h5cl_run_leave clears the mark. */
int h5cl_run_enter(h5cl_ctx *ctx);
void h5cl_run_leave(h5cl_ctx *ctx);

#endif
