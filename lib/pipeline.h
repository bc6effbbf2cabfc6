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
    /* where this tile's kernels and read-backs may go: the device's comp
     * and comp2 in turn (see h5cl_device).  An op whose tiles share
     * device state (a device-side accumulator) uses ctx->dev.comp. */
    cl_command_queue queue;
} h5cl_tile;

typedef struct h5cl_writer h5cl_writer;

/* What one run streams: inputs of one shape, tiled together by the plan
 * (made from inputs[0]), so tile k of every input is read, uploaded and
 * computed together; and optionally an output of the same shape, which the
 * op's kernel writes per tile and a writer thread stores in order. */
typedef struct h5cl_stream {
    h5cl_dataset *const *inputs;
    size_t ninputs;
    h5cl_writer *writer;  /* NULL: the op only reduces                    */
    size_t out_elem_size; /* bytes per output element when writer is set  */
    /* 0: the output has the inputs' shape.  Else each row (the last
     * dimension) of the inputs becomes out_cols values (a projection):
     * the plan's tiles must then span whole rows. */
    uint64_t out_cols;
} h5cl_stream;

typedef struct h5cl_op h5cl_op;
struct h5cl_op {
    void *impl;
    /* Allocates per-slot resources for the plan's tiles. */
    int (*setup)(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                 unsigned slots);
    /* Enqueues tile's work on ctx->dev.comp once `ready` completes (then
     * inputs[i] holds the tile of input i).  With an output, the kernel
     * writes the tile's values, in the tile's C order, into `output`.
     * Returns the op's first kernel's event and its last command's event,
     * after which merge() may read the op's result and the output is
     * complete: a read-back, or the last kernel when nothing is read back
     * (the kernel stage spans from the first's start to the last kernel's
     * end).  Only the first kernel may read the inputs: on zero-copy
     * devices the slot goes back to the reader when it completes. */
    int (*enqueue)(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                   const h5cl_tile *tile, const cl_mem *inputs, cl_mem output,
                   cl_event ready, cl_event *kernel_ret, cl_event *done_ret);
    /* Merges the finished tile's result; tiles arrive in order.  May be
     * NULL for ops that only write. */
    int (*merge)(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                 const h5cl_tile *tile);
    void (*teardown)(h5cl_op *op);
};

/* Streams every tile of plan through op with `slots` host slots.  Fills
 * summary (timings, overlap, bytes); writes a trace if opts->trace_path;
 * with opts->timeline hands the per-tile times (plan->ntiles of them, to be
 * freed by the caller) to *times_ret, else sets it to NULL.  With a writer,
 * every tile has been handed to it when this returns H5CL_OK; committing
 * the output is the caller's step. */
int h5cl_pipeline_run(h5cl_ctx *ctx, const h5cl_stream *stream,
                      const h5cl_plan *plan, unsigned slots, h5cl_op *op,
                      const h5cl_run_options *opts,
                      h5cl_run_summary *summary,
                      h5cl_tile_timing **times_ret);

/* Writes a Chrome/Perfetto trace-event JSON file, one lane per stage. */
int h5cl_trace_write(h5cl_ctx *ctx, const char *path,
                     const h5cl_tile_timing *times, size_t n,
                     const h5cl_run_summary *summary, const char *device,
                     const char *dataset);

#endif
