/* The counting op: kernel choice and sizing, per-slot row buffers, the
 * per-tile launch, and the host-side sum of the rows into 64-bit totals.
 *
 * The rows of the contiguous (CPU) pattern, one per segment, are summed
 * on the host in merge(): that runs on the dispatcher while the device
 * counts the next tiles, and on a CPU device a second summing kernel would
 * only take the same cores (measured: merge under 2% of kernel time with
 * 256 bins). */
#include <stdlib.h>
#include <string.h>

#include "axis.h"
#include "device.h"
#include "hist_state.h"
#include "program.h"
#include "tally.h"

/* Bytes of counters per slot the op allows itself: per-axis tiles whose
 * rows need more are refused so that smaller tiles are tried. */
#define ROWS_BUDGET ((uint64_t)64 << 20)
#define MIN_SEG 16384
/* Rows per work-item of hist_flat with the contiguous pattern: the
 * kernel's COPIES (kernels/hist.cl); merge() adds them like any rows. */
#define FLAT_COPIES 8

/* Kernel arguments (kernels/hist.cl): the per-tile ones come first. */
enum { ARG_IN, ARG_N, ARG_SEG, ARG_OUT, ARG_LOCAL, ARG_USE_LOCAL, ARG_RULE };
enum { AXIS_ARG_OUT = 4, AXIS_ARG_RULE = 5 };

typedef struct tally_op {
    const h5cl_tally *t;
    const h5cl_plan *plan;
    size_t nb;            /* counters per row                          */
    int contiguous;
    int zero_copy;        /* rows land in host memory directly         */
    int use_local;        /* interleaved: a local row per work-group   */
    cl_kernel kernel;
    cl_mem prefix;        /* keys: the prefixes, on the device         */
    size_t local;
    size_t max_groups;    /* interleaved: work-groups per tile         */
    size_t copies;        /* rows per work-item: contiguous hist_flat
                             FLAT_COPIES, else 1                       */
    size_t rows_cap;      /* rows per slot                             */
    unsigned nslots;
    cl_mem *dev_rows;     /* per slot                                  */
    cl_uint **host_rows;  /* per slot                                  */
    size_t *nrows;        /* per slot: rows of the tile in flight      */
    cl_mem *scratch;      /* per slot: the expression's values         */
    h5cl_masked *masked;  /* per slot, when the expression decodes     */
    h5cl_run_summary *summary; /* .masked: what decoding masked        */
} tally_op;

unsigned h5cl_tally_digit_bits(h5cl_dtype dtype)
{
    unsigned bits = 8 * (unsigned)h5cl_dtype_size(dtype);
    return bits < 16 ? bits : 16;
}

static size_t counters_per_row(const h5cl_tally *t)
{
    if (t->keys)
        return (size_t)t->nprefix << h5cl_tally_digit_bits(t->dtype);
    return (size_t)t->bins + H5CL_HIST_EXTRA;
}

/* Elements per contiguous segment at least: enough that zeroing and
 * summing its row stays small next to the counting. */
static uint64_t min_seg(const tally_op *to)
{
    return to->nb > MIN_SEG ? to->nb : MIN_SEG;
}

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

/* ---- setup and teardown ---- */

static void op_teardown(h5cl_op *op)
{
    tally_op *to = op->impl;
    for (unsigned i = 0; i < to->nslots; i++) {
        if (to->dev_rows && to->dev_rows[i])
            clReleaseMemObject(to->dev_rows[i]);
        if (to->scratch && to->scratch[i])
            clReleaseMemObject(to->scratch[i]);
        if (to->host_rows)
            free(to->host_rows[i]);
    }
    free(to->dev_rows);
    free(to->host_rows);
    free(to->nrows);
    free(to->scratch);
    h5cl_masked_free(to->masked);
    to->masked = NULL;
    to->dev_rows = to->scratch = NULL;
    to->host_rows = NULL;
    to->nrows = NULL;
    if (to->prefix)
        clReleaseMemObject(to->prefix);
    to->prefix = NULL;
    if (to->kernel)
        clReleaseKernel(to->kernel);
    to->kernel = NULL;
}

/* The binning arguments: lo, hi and norm in the device's precision, then
 * bins. */
static int set_binning(h5cl_ctx *ctx, cl_kernel k, cl_uint first,
                       const h5cl_tally *t)
{
    const cl_double d[3] = {t->lo, t->hi, t->norm};
    const cl_float f[3] = {(cl_float)t->lo, (cl_float)t->hi,
                           (cl_float)t->norm};
    const cl_uint bins = t->bins;
    const int fp64 = ctx->dev.info.has_fp64;
    const size_t rs = fp64 ? sizeof d[0] : sizeof f[0];
    const h5cl_karg a[4] = {{rs, fp64 ? (const void *)&d[0] : &f[0]},
                       {rs, fp64 ? (const void *)&d[1] : &f[1]},
                       {rs, fp64 ? (const void *)&d[2] : &f[2]},
                       {sizeof bins, &bins}};
    return h5cl_kernel_args(ctx, k, first, a, 4, "the counting kernel");
}

/* The kernel with the arguments that stay for the whole run. */
static int make_kernel(tally_op *to, h5cl_ctx *ctx)
{
    const h5cl_tally *t = to->t;
    cl_program prog;
    int st = h5cl_program_get(ctx, "hist", t->dtype, &prog);
    if (st != H5CL_OK)
        return st;
    const char *name = t->keys ? "key_hist" : t->axis < 0 ? "hist_flat"
                                                          : "hist_axis";
    cl_int err;
    to->kernel = clCreateKernel(prog, name, &err);
    if (!to->kernel)
        return h5cl_fail_cl(ctx, err, "clCreateKernel", name);
    if (!t->keys)
        return set_binning(ctx, to->kernel,
                           t->axis < 0 ? ARG_RULE : AXIS_ARG_RULE, t);
    to->prefix = clCreateBuffer(ctx->dev.context,
                                CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                t->nprefix * sizeof(cl_ulong),
                                (void *)t->prefix, &err);
    if (!to->prefix)
        return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                            "allocating the quantile prefixes");
    const cl_uint np = t->nprefix, fixed = t->fixed;
    const h5cl_karg a[3] = {{sizeof(cl_mem), &to->prefix},
                       {sizeof np, &np},
                       {sizeof fixed, &fixed}};
    return h5cl_kernel_args(ctx, to->kernel, ARG_RULE, a, 3, "the counting kernel");
}

/* Bytes of counters one slot may hold. */
static uint64_t rows_budget(const h5cl_device *dev)
{
    uint64_t max = dev->info.max_alloc_bytes;
    return max && max < ROWS_BUDGET ? max : ROWS_BUDGET;
}

/* Per axis: one row per position of a full tile, within the budget. */
static int size_axis(tally_op *to, h5cl_ctx *ctx)
{
    const h5cl_device *dev = &ctx->dev;
    const uint64_t rows = h5cl_axis_max_positions(to->plan, to->t->axis);
    const uint64_t budget = rows_budget(dev);
    if (rows * to->nb * sizeof(cl_uint) > budget)
        return h5cl_fail(ctx, H5CL_ERR_DEVICE_MEMORY,
                         "per-axis histograms of one tile need %llu "
                         "positions x %zu counters x 4 bytes, more than the "
                         "%llu bytes allowed per slot",
                         (unsigned long long)rows, to->nb,
                         (unsigned long long)budget);
    to->rows_cap = (size_t)(rows ? rows : 1);
    to->copies = 1;
    to->local = dev->max_work_group_size < 64 ? dev->max_work_group_size : 64;
    return H5CL_OK;
}

/* Contiguous: a segment per work-item, as many as a full tile fills, a
 * few per core, within the budget; each counts into `copies` rows. */
static void size_contiguous(tally_op *to, const h5cl_device *dev)
{
    const unsigned cu = dev->info.compute_units ? dev->info.compute_units : 1;
    uint64_t segs = (to->plan->max_tile_elems + min_seg(to) - 1) / min_seg(to);
    to->copies = to->t->keys ? 1 : FLAT_COPIES;
    if (segs > 4 * cu)
        segs = 4 * cu;
    const uint64_t seg_bytes = to->copies * to->nb * sizeof(cl_uint);
    if (segs > rows_budget(dev) / seg_bytes)
        segs = rows_budget(dev) / seg_bytes;
    to->local = 1;
    to->rows_cap = (segs ? (size_t)segs : 1) * to->copies;
}

/* Interleaved: one row per tile, counted through local memory when a row
 * fits what the device reports beside the kernel's own use. */
static int size_interleaved(tally_op *to, h5cl_ctx *ctx)
{
    const h5cl_device *dev = &ctx->dev;
    size_t kwg;
    cl_ulong klocal;
    cl_int err = clGetKernelWorkGroupInfo(to->kernel, dev->id,
                                          CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof kwg, &kwg, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(to->kernel, dev->id,
                                       CL_KERNEL_LOCAL_MEM_SIZE,
                                       sizeof klocal, &klocal, NULL);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clGetKernelWorkGroupInfo",
                            "sizing the counting kernel");
    const unsigned cu = dev->info.compute_units ? dev->info.compute_units : 1;
    to->copies = 1;
    to->local = pow2_floor(kwg < 256 ? (kwg ? kwg : 1) : 256);
    to->max_groups = 8 * cu;
    to->use_local = to->nb * sizeof(cl_uint) + klocal <= dev->local_mem_bytes;
    to->rows_cap = 1;
    return H5CL_OK;
}

/* Work-item shape, rows per slot, and the local-memory arguments of the
 * flat kernels. */
static int size_rows(tally_op *to, h5cl_ctx *ctx)
{
    if (to->t->axis >= 0)
        return size_axis(to, ctx);
    int st = H5CL_OK;
    if (to->contiguous)
        size_contiguous(to, &ctx->dev);
    else
        st = size_interleaved(to, ctx);
    if (st != H5CL_OK)
        return st;
    const cl_int use = to->use_local;
    const h5cl_karg a[2] = {
        {use ? to->nb * sizeof(cl_uint) : sizeof(cl_uint), NULL},
        {sizeof use, &use}};
    return h5cl_kernel_args(ctx, to->kernel, ARG_LOCAL, a, 2, "the counting kernel");
}

/* Row buffers per slot (host memory the device writes in place on
 * zero-copy devices) and the expression's scratch buffers. */
static int alloc_slots(tally_op *to, h5cl_ctx *ctx, unsigned slots)
{
    to->dev_rows = calloc(slots, sizeof *to->dev_rows);
    to->host_rows = calloc(slots, sizeof *to->host_rows);
    to->nrows = calloc(slots, sizeof *to->nrows);
    to->scratch = calloc(slots, sizeof *to->scratch);
    to->nslots = slots;
    if (!to->dev_rows || !to->host_rows || !to->nrows || !to->scratch)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    const size_t bytes =
        (to->rows_cap * to->nb * sizeof(cl_uint) + 4095) / 4096 * 4096;
    const uint64_t elems = to->plan->max_tile_elems ? to->plan->max_tile_elems
                                                    : 1;
    cl_int err;
    for (unsigned i = 0; i < slots; i++) {
        to->host_rows[i] = aligned_alloc(4096, bytes);
        if (!to->host_rows[i])
            return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                             "cannot allocate %zu bytes of counters", bytes);
        to->dev_rows[i] = clCreateBuffer(
            ctx->dev.context,
            to->zero_copy ? CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR
                          : CL_MEM_READ_WRITE,
            bytes, to->zero_copy ? to->host_rows[i] : NULL, &err);
        if (!to->dev_rows[i])
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating the counters of a slot");
        if (!to->t->eval)
            continue;
        to->scratch[i] = clCreateBuffer(
            ctx->dev.context, CL_MEM_READ_WRITE,
            (size_t)elems * h5cl_dtype_size(to->t->dtype), NULL, &err);
        if (!to->scratch[i])
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating the expression's tile buffer");
    }
    if (to->t->eval && h5cl_eval_decodes(to->t->eval))
        return h5cl_masked_create(ctx, slots, &to->masked);
    return H5CL_OK;
}

static int op_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                    unsigned slots)
{
    tally_op *to = op->impl;
    to->plan = plan;
    to->contiguous = h5cl_device_contiguous(&ctx->dev);
    to->zero_copy = h5cl_device_zero_copy(&ctx->dev);
    int st = make_kernel(to, ctx);
    if (st == H5CL_OK)
        st = size_rows(to, ctx);
    if (st == H5CL_OK)
        st = alloc_slots(to, ctx, slots);
    if (st != H5CL_OK)
        op_teardown(op);
    return st;
}

/* ---- per tile ---- */

/* Sets the per-tile arguments; returns the NDRange and the rows used. */
static int set_tile_args(tally_op *to, h5cl_ctx *ctx, const h5cl_tile *tile,
                         cl_mem src, cl_mem rows, size_t *global,
                         size_t *local, size_t *nrows)
{
    *local = to->local;
    if (to->t->axis >= 0) {
        uint64_t O, A, I;
        h5cl_axis_view(&tile->box, to->t->axis, &O, &A, &I);
        const cl_ulong o = O, a = A, i = I;
        *nrows = (size_t)(O * I);
        *global = (*nrows + *local - 1) / *local * *local;
        const h5cl_karg args[5] = {{sizeof src, &src}, {sizeof o, &o},
                              {sizeof a, &a},     {sizeof i, &i},
                              {sizeof rows, &rows}};
        return h5cl_kernel_args(ctx, to->kernel, ARG_IN, args, 5, "the counting kernel");
    }
    const cl_ulong n = tile->elems;
    cl_ulong seg = 0, groups;
    if (to->contiguous) {
        groups = (n + min_seg(to) - 1) / min_seg(to);
        if (groups > to->rows_cap / to->copies)
            groups = to->rows_cap / to->copies;
        seg = (n + groups - 1) / groups;
        groups = (n + seg - 1) / seg;
        *nrows = (size_t)groups * to->copies;
        *global = (size_t)groups;
    } else {
        groups = (n + *local - 1) / *local;
        if (groups > to->max_groups)
            groups = to->max_groups;
        *nrows = 1;
        *global = (size_t)groups * *local;
    }
    const h5cl_karg args[4] = {{sizeof src, &src},
                          {sizeof n, &n},
                          {sizeof seg, &seg},
                          {sizeof rows, &rows}};
    return h5cl_kernel_args(ctx, to->kernel, ARG_IN, args, 4, "the counting kernel");
}

/* Hands the kernel's event on as the tile's last: the rows are in host
 * memory when it completes (zero-copy), else after their read-back. */
static int read_back(tally_op *to, h5cl_ctx *ctx, unsigned slot,
                     cl_event kev, cl_event *done_ret)
{
    /* the masked count first, when decoding (nothing to read on zero-copy
     * devices) */
    if (to->masked) {
        int st = h5cl_masked_read(to->masked, ctx, slot, kev, &kev);
        if (st != H5CL_OK)
            return st;
    }
    if (to->zero_copy) {
        *done_ret = kev;
        return H5CL_OK;
    }
    cl_int err = clEnqueueReadBuffer(
        ctx->dev.comp, to->dev_rows[slot], CL_FALSE, 0,
        to->nrows[slot] * to->nb * sizeof(cl_uint), to->host_rows[slot], 1,
        &kev, done_ret);
    clReleaseEvent(kev);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueReadBuffer",
                            "reading a tile's counters back");
    return H5CL_OK;
}

static int op_enqueue(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                      const h5cl_tile *tile, const cl_mem *inputs,
                      cl_mem output, cl_event ready, cl_event *kernel_ret,
                      cl_event *done_ret)
{
    tally_op *to = op->impl;
    cl_command_queue q = ctx->dev.comp;
    cl_mem src = inputs[0], rows = to->dev_rows[slot];
    int st;
    if (to->t->eval) {
        /* the expression's values first (its event is the tile's first
         * kernel, owned by the pipeline); the counting kernel reads them */
        st = h5cl_eval_enqueue_masked(
            to->t->eval, ctx, tile->elems, inputs, to->scratch[slot],
            to->masked ? h5cl_masked_buffer(to->masked, slot) : NULL, ready,
            kernel_ret);
        if (st != H5CL_OK)
            return st;
        ready = *kernel_ret;
        src = to->scratch[slot];
    }
    cl_int err;
    if (!to->contiguous && to->t->axis < 0) {
        /* work-groups add into the tile's one row: it starts at zero */
        const cl_uint zero = 0;
        err = clEnqueueFillBuffer(q, rows, &zero, sizeof zero, 0,
                                  to->nb * sizeof(cl_uint), 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clEnqueueFillBuffer",
                                "zeroing a tile's counters");
    }
    size_t global, local;
    st = set_tile_args(to, ctx, tile, src, rows, &global, &local,
                       &to->nrows[slot]);
    if (st != H5CL_OK)
        return st;
    cl_event kev;
    err = clEnqueueNDRangeKernel(q, to->kernel, 1, NULL, &global, &local,
                                 ready ? 1 : 0, ready ? &ready : NULL, &kev);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                            "running the counting kernel");
    /* without an expression kev is the tile's first kernel too: a
     * reference for each holder */
    if (!to->t->eval && (err = clRetainEvent(kev)) != CL_SUCCESS) {
        clReleaseEvent(kev);
        return h5cl_fail_cl(ctx, err, "clRetainEvent", "keeping an event");
    }
    if (!to->t->eval)
        *kernel_ret = kev;
    return read_back(to, ctx, slot, kev, done_ret);
}

/* totals[c] += the sum over nrows rows of row[c]. */
static void add_rows(uint64_t *totals, const cl_uint *rows, size_t nrows,
                     size_t nb)
{
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < nb; c++)
            totals[c] += rows[r * nb + c];
}

static int op_merge(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                    const h5cl_tile *tile)
{
    tally_op *to = op->impl;
    const cl_uint *rows = to->host_rows[slot];
    const int ax = to->t->axis;
    if (to->masked)
        to->summary->masked += h5cl_masked_value(to->masked, slot);
    if (ax < 0) {
        add_rows(to->t->totals, rows, to->nrows[slot], to->nb);
        return H5CL_OK;
    }
    /* row (o, i) of the tile is output position (O0 + o, I0 + i) */
    const h5cl_box *sel = &to->plan->sel;
    uint64_t O, A, I, sel_I = 1;
    h5cl_axis_view(&tile->box, ax, &O, &A, &I);
    for (int d = ax + 1; d < sel->rank; d++)
        sel_I *= sel->count[d];
    for (uint64_t o = 0; o < O; o++) {
        const uint64_t go = h5cl_sel_index(sel, &tile->box, 0, ax, o);
        for (uint64_t i = 0; i < I; i++) {
            const uint64_t gi =
                h5cl_sel_index(sel, &tile->box, ax + 1, sel->rank, i);
            add_rows(to->t->totals + (go * sel_I + gi) * to->nb,
                     rows + (o * I + i) * to->nb, 1, to->nb);
        }
    }
    return H5CL_OK;
}

/* ---- a run ---- */

/* Counters in totals: one row, or one per position of the other axes. */
static size_t totals_count(const h5cl_tally *t, const h5cl_box *sel)
{
    size_t n = counters_per_row(t);
    for (int d = 0; t->axis >= 0 && d < sel->rank; d++)
        if (d != t->axis)
            n *= (size_t)sel->count[d];
    return n;
}

typedef struct attempt_job {
    const h5cl_tally *t;
    h5cl_run_summary *summary;
} attempt_job;

static int attempt(h5cl_run *run, const h5cl_plan *plan, void *user)
{
    const attempt_job *job = user;
    const h5cl_tally *t = job->t;
    memset(t->totals, 0, totals_count(t, &plan->sel) * sizeof *t->totals);
    memset(job->summary, 0, sizeof *job->summary);
    job->summary->tile_bytes = plan->max_tile_elems * plan->elem_size;
    if (plan->ntiles == 0) {
        job->summary->zero_copy = h5cl_device_zero_copy(&run->ctx->dev);
        return H5CL_OK;
    }
    tally_op to;
    memset(&to, 0, sizeof to);
    to.t = t;
    to.nb = counters_per_row(t);
    to.summary = job->summary;
    h5cl_op op = {&to, op_setup, op_enqueue, op_merge, op_teardown};
    h5cl_stream sm = {.inputs = run->in.ds, .ninputs = run->in.n};
    h5cl_tile_timing *times = NULL;
    int st = h5cl_pipeline_run(run->ctx, &sm, plan, run->slots, &op,
                               &run->opts, job->summary, &times);
    free(times);
    return st;
}

int h5cl_tally_run(h5cl_run *run, const h5cl_tally *t,
                   h5cl_run_summary *summary)
{
    uint64_t cap = (uint64_t)UINT32_MAX * h5cl_dtype_size(run->in.dtypes[0]);
    if (run->tile_bytes > cap)
        run->tile_bytes = cap;
    attempt_job job = {t, summary};
    return h5cl_run_attempts(run, attempt, &job);
}

int h5cl_tally_values(h5cl_run *run, h5cl_eval **eval_ret,
                      h5cl_dtype *dtype_ret)
{
    *eval_ret = NULL;
    *dtype_ret = run->in.dtypes[0];
    /* decoded data (mask_fill, cf) is counted through the expression
     * kernel too: masked elements are NaN */
    if (!run->opts.expr && !run->in.decode)
        return H5CL_OK;
    *dtype_ret = h5cl_eval_acc_dtype(run->ctx);
    return h5cl_eval_create(run->ctx, run->opts.expr, &run->in, *dtype_ret,
                            eval_ret);
}

int h5cl_tally_minmax(h5cl_dataset *ds, const h5cl_run *run,
                      h5cl_stats_state *state_ret, h5cl_run_summary *summary)
{
    /* the caller's selection, expression and progress; one trace (and
     * timeline) per call is the counting run's */
    h5cl_run_options o = run->opts;
    o.axis = -1;
    o.trace_path = NULL;
    o.timeline = 0;
    /* every figure, although the range needs min and max only: the
     * min/max variant of the kernel would be one more program per dtype
     * to build (a few seconds each on PoCL without a warm cache) */
    o.figures = 0;
    h5cl_stats *stats;
    int st = h5cl_stats_compute(ds, &o, &stats);
    if (st != H5CL_OK)
        return st;
    *state_ret = *h5cl_stats_get(stats, 0);
    if (summary)
        *summary = *h5cl_stats_summary(stats);
    h5cl_stats_free(stats);
    return H5CL_OK;
}
