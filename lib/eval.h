/* Expressions on the device: the inputs of a run (the dataset an op is
 * called on, bound to opts->name or "x", plus opts->with), a kernel
 * generated from the parsed expression, and per-tile evaluation into a
 * buffer of any element type.  Ops use it in two ways: maps write the
 * values out, reductions (stats, histograms) evaluate into a device
 * scratch buffer and reduce that, so `sum((x - 3.5)**2)` never reaches the
 * host. */
#ifndef H5CL_EVAL_H
#define H5CL_EVAL_H

#include "expr.h"
#include "pipeline.h"

/* The datasets and names one run reads, checked to have one shape, and
 * what decoding (opts->mask_fill, opts->cf) applies to each. */
typedef struct h5cl_inputs {
    size_t n;
    h5cl_dataset *ds[H5CL_MAX_INPUTS];
    const char *names[H5CL_MAX_INPUTS];
    h5cl_dtype dtypes[H5CL_MAX_INPUTS];  /* as stored                    */
    h5cl_cf_info cf[H5CL_MAX_INPUTS];    /* flags 0: read as stored      */
    int decode;  /* some input is decoded: the run needs an expression
                    kernel even without opts->expr                       */
} h5cl_inputs;

/* Collects ds and opts->with (ds alone when opts->expr is NULL) and reads
 * their fill and CF attributes as the options ask (lib/cf.c).
 * H5CL_ERR_SHAPE when shapes differ, H5CL_ERR_INVALID_ARGUMENT for a
 * duplicate or missing name, a dataset of another context, or more than
 * H5CL_MAX_INPUTS inputs; h5cl_cf_read's errors. */
int h5cl_inputs_collect(h5cl_ctx *ctx, h5cl_dataset *ds,
                        const h5cl_run_options *opts, h5cl_inputs *in_ret);

typedef struct h5cl_eval h5cl_eval;

/* The OpenCL C program h5cl_eval_create builds for e over the inputs
 * (only in->n, dtypes and cf are read), writing out values, computing in
 * double when fp64, one contiguous segment per work-item when contiguous.
 * Host code only, so that tests/fuzz/fuzz_expr.c can check the text
 * without a device.  A malloc'd string; NULL when out of memory. */
char *h5cl_eval_source(const h5cl_expr *e, const h5cl_inputs *in,
                       h5cl_dtype out, int fp64, int contiguous);

/* Parses expr (NULL: the first input's name) over the inputs and builds
 * its kernel, which writes out_dtype values (-1: the expression's default
 * type, see h5cl_expr_check, over the inputs' decoded types).  Values are
 * computed in double on fp64 devices, else in float.  Inputs with decode
 * steps are loaded through them: masked elements are NaN, and the kernel
 * counts the elements with an input masked (h5cl_eval_enqueue_masked). */
int h5cl_eval_create(h5cl_ctx *ctx, const char *expr, const h5cl_inputs *in,
                     int out_dtype, h5cl_eval **ev_ret);
/* The element type the kernel writes. */
h5cl_dtype h5cl_eval_out_dtype(const h5cl_eval *ev);
/* The element type reductions evaluate into: float64 on fp64 devices,
 * else float32. */
h5cl_dtype h5cl_eval_acc_dtype(const h5cl_ctx *ctx);
/* Whether the kernel decodes an input (and so counts masked elements). */
int h5cl_eval_decodes(const h5cl_eval *ev);
/* Enqueues the evaluation of n elements: inputs[i] holds input i's tile,
 * out receives n values.  Waits for `ready` (may be NULL).  done_ret is
 * the kernel's event. */
int h5cl_eval_enqueue(h5cl_eval *ev, h5cl_ctx *ctx, uint64_t n,
                      const cl_mem *inputs, cl_mem out, cl_event ready,
                      cl_event *done_ret);
/* The same, and when the kernel decodes and `masked` is not NULL, zeroes
 * that one-cl_uint buffer first (without an event: the compute queue is
 * in order) and has the kernel add the tile's count of elements with an
 * input masked into it (n < 2^32: the run caps its tiles). */
int h5cl_eval_enqueue_masked(h5cl_eval *ev, h5cl_ctx *ctx, uint64_t n,
                             const cl_mem *inputs, cl_mem out, cl_mem masked,
                             cl_event ready, cl_event *done_ret);
void h5cl_eval_free(h5cl_eval *ev);

/* Per-slot masked counts of a decoding run: a one-cl_uint buffer per slot
 * for h5cl_eval_enqueue_masked, read back after the tile's kernels (or
 * read in place on zero-copy devices, where the buffer is host memory). */
typedef struct h5cl_masked h5cl_masked;

int h5cl_masked_create(h5cl_ctx *ctx, unsigned slots, h5cl_masked **m_ret);
cl_mem h5cl_masked_buffer(const h5cl_masked *m, unsigned slot);
/* Enqueues the read-back of slot's count on the compute queue once
 * `after` completes, and hands on the event the tile's last command is:
 * *last_ret is `after` itself on zero-copy devices (nothing to read),
 * else the read's event (`after` is then released). */
int h5cl_masked_read(h5cl_masked *m, h5cl_ctx *ctx, unsigned slot,
                     cl_event after, cl_event *last_ret);
/* The slot's count, once its tile's last command has completed. */
uint32_t h5cl_masked_value(const h5cl_masked *m, unsigned slot);
void h5cl_masked_free(h5cl_masked *m);

#endif
