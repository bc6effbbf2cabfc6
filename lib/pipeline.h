/* The streaming pipeline: host slots, the reader thread, uploads (or
 * zero-copy unmaps), kernels and read-backs chained by OpenCL events, and
 * stage timing.  An op only says what to enqueue per tile and how to merge
 * its result; it never streams by itself. */
#ifndef H5CL_PIPELINE_H
#define H5CL_PIPELINE_H

#include "dataset.h"

typedef struct h5cl_tile {
    uint64_t index;
    h5cl_box box;
    uint64_t elems;
} h5cl_tile;

typedef struct h5cl_op h5cl_op;
struct h5cl_op {
    void *impl;
    /* Allocates per-slot resources for the plan's tiles. */
    int (*setup)(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                 unsigned slots);
    /* Enqueues tile's work on ctx->dev.comp once `ready` completes (the
     * input buffer holds the tile then).  Returns the kernel's event, for
     * timing, and the event after which merge() may read the result. */
    int (*enqueue)(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                   const h5cl_tile *tile, cl_mem input, cl_event ready,
                   cl_event *kernel_ret, cl_event *done_ret);
    /* Merges the finished tile's result; tiles arrive in order. */
    int (*merge)(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                 const h5cl_tile *tile);
    void (*teardown)(h5cl_op *op);
};

/* Streams every tile of plan through op with `slots` host slots.  Fills
 * summary (timings, overlap); writes a trace if opts->trace_path; with
 * opts->timeline hands the per-tile times (plan->ntiles of them, to be
 * freed by the caller) to *times_ret, else sets it to NULL. */
int h5cl_pipeline_run(h5cl_ctx *ctx, h5cl_dataset *ds, const h5cl_plan *plan,
                      unsigned slots, h5cl_op *op,
                      const h5cl_run_options *opts,
                      h5cl_run_summary *summary,
                      h5cl_tile_timing **times_ret);

/* Writes a Chrome/Perfetto trace-event JSON file, one lane per stage. */
int h5cl_trace_write(h5cl_ctx *ctx, const char *path,
                     const h5cl_tile_timing *times, size_t n,
                     const h5cl_run_summary *summary, const char *device,
                     const char *dataset);

#endif
