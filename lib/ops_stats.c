/* The statistics op: per tile, one kernel writes partial records (one per
 * work-group, or one per output position for per-axis statistics), a
 * non-blocking read brings them back, and merge() folds them into the run's
 * states in tile order.  Also h5cl_stats_compute(), the public entry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axis.h"
#include "bytes.h"
#include "device.h"
#include "run.h"
#include "pipeline.h"
#include "program.h"
#include "stats_state.h"

#define REC_WORDS 12 /* layout documented in kernels/stats.cl */
#define REC_BYTES (REC_WORDS * sizeof(cl_ulong))
#define NONE UINT64_MAX
#define LOCAL_PART_BYTES 128 /* >= sizeof(part) in stats.cl */
/* Per-axis statistics cut the reduced axis into splits when a tile has
 * fewer output positions than this (kernels/stats.cl, stats_axis) ... */
#define SPLIT_BELOW_POSITIONS 4096
/* ... each split covering about this many bytes of the tile: the lines
 * one stats_axis work-item touches then stay in L2 for its neighbours
 * (stats_axis8 takes whole rows; larger splits measured no faster). */
#define SPLIT_BYTES ((uint64_t)128 << 10)
/* Groups of eight positions one stats_axis8 work-item takes at most
 * (AXGW in kernels/stats.cl): a whole row of up to 64 columns. */
#define AXIS8_GROUPS 8


struct h5cl_stats {
    size_t n;
    h5cl_stats_state *states;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    h5cl_run_summary summary; /* .masked: the run's masked elements */
    h5cl_tile_timing *times; /* per tile, when asked for */
    size_t ntimes;
};

typedef struct stats_op {
    h5cl_ctx *ctx;
    h5cl_dtype dtype;       /* of the values reduced                 */
    h5cl_kind kind;
    h5cl_eval *eval;        /* values of an expression, else the data */
    cl_mem *scratch;        /* per slot: the expression's values      */
    h5cl_masked *masked;    /* per slot, when the expression decodes   */
    int axis;               /* -1: whole selection */
    uint32_t missing;       /* H5CL_FIG_* figures the run does not compute */
    int zero_copy;          /* records land in host memory directly */
    cl_kernel kernel;
    cl_kernel kernel8;      /* per-axis, 8 positions per work-item, or NULL */
    size_t local;           /* work-group size of stats_flat        */
    size_t max_groups;
    unsigned nslots;
    cl_mem *dev_recs;       /* per slot                              */
    cl_ulong **host_recs;   /* per slot                              */
    size_t *nrecs;          /* per slot: records of the tile in flight */
    uint64_t *split;        /* per slot, per-axis: steps of A per split */
    size_t recs_capacity;
    const h5cl_plan *plan;
    h5cl_stats *out;
} stats_op;

static h5cl_kind kind_of(h5cl_dtype dt)
{
    return dt >= H5CL_FLOAT32 ? H5CL_KIND_FLOAT
           : dt % 2 == 0      ? H5CL_KIND_SIGNED
                              : H5CL_KIND_UNSIGNED;
}

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

/* Steps of the reduced axis per split for a tile viewed as [O][A][I]:
 * all of A unless the tile has few output positions. */
static uint64_t axis_split(uint64_t O, uint64_t A, uint64_t I, size_t elem)
{
    if (O * I >= SPLIT_BELOW_POSITIONS)
        return A ? A : 1;
    uint64_t sa = SPLIT_BYTES / (O * I * elem);
    if (sa < 64)
        sa = 64;
    return sa < A ? sa : (A ? A : 1);
}

/* The most splits a tile of the plan can have. */
static uint64_t axis_max_splits(const h5cl_plan *plan, int axis, size_t elem)
{
    uint64_t O, A, I;
    h5cl_axis_max_view(plan, axis, &O, &A, &I);
    const uint64_t sa = axis_split(O, A, I, elem);
    return A ? (A + sa - 1) / sa : 1;
}

/* ---- op callbacks ---- */

static void op_teardown(h5cl_op *op)
{
    stats_op *so = op->impl;
    for (unsigned i = 0; so->dev_recs && i < so->nslots; i++)
        if (so->dev_recs[i])
            clReleaseMemObject(so->dev_recs[i]);
    for (unsigned i = 0; so->host_recs && i < so->nslots; i++)
        free(so->host_recs[i]);
    for (unsigned i = 0; so->scratch && i < so->nslots; i++)
        if (so->scratch[i])
            clReleaseMemObject(so->scratch[i]);
    free(so->scratch);
    so->scratch = NULL;
    h5cl_masked_free(so->masked);
    so->masked = NULL;
    free(so->dev_recs);
    free(so->host_recs);
    free(so->nrecs);
    free(so->split);
    so->split = NULL;
    so->dev_recs = NULL;
    so->host_recs = NULL;
    so->nrecs = NULL;
    if (so->kernel)
        clReleaseKernel(so->kernel);
    so->kernel = NULL;
    if (so->kernel8)
        clReleaseKernel(so->kernel8);
    so->kernel8 = NULL;
}

static int op_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                    unsigned slots)
{
    stats_op *so = op->impl;
    h5cl_device *dev = &ctx->dev;
    cl_program prog;
    /* the full program has no defines, so it is the one that
     * h5cl_ctx_build_programs builds ahead */
    char defines[64] = "";
    if (so->missing)
        snprintf(defines, sizeof defines, "-DNEED_M2=%d -DNEED_MINMAX=%d",
                 !(so->missing & H5CL_FIG_VAR),
                 !(so->missing & H5CL_FIG_MINMAX));
    int st = h5cl_program_get_variant(ctx, "stats", so->dtype, defines, &prog);
    if (st != H5CL_OK)
        return st;
    cl_int err;
    const char *kname = so->axis < 0 ? "stats_flat" : "stats_axis";
    so->kernel = clCreateKernel(prog, kname, &err);
    if (!so->kernel)
        return h5cl_fail_cl(ctx, err, "clCreateKernel", kname);
    so->plan = plan;
    so->nslots = slots;
    so->zero_copy = h5cl_device_zero_copy(dev);
    /* kernels/stats.cl builds stats_axis8 for these only */
    if (so->axis >= 0 &&
        (so->kind == H5CL_KIND_FLOAT || h5cl_dtype_size(so->dtype) <= 4) &&
        h5cl_device_contiguous(dev) && dev->info.has_fp64) {
        so->kernel8 = clCreateKernel(prog, "stats_axis8", &err);
        if (!so->kernel8)
            return h5cl_fail_cl(ctx, err, "clCreateKernel", "stats_axis8");
    }

    if (so->axis < 0) {
        size_t kwg = 1;
        clGetKernelWorkGroupInfo(so->kernel, dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof kwg, &kwg, NULL);
        if (h5cl_device_contiguous(dev)) {
            /* one contiguous segment per work-item, a few per core */
            so->local = 1;
            so->max_groups = 4 * (dev->info.compute_units ? dev->info.compute_units : 1);
        } else {
            size_t lm = dev->local_mem_bytes / LOCAL_PART_BYTES;
            size_t l = kwg < 256 ? kwg : 256;
            if (lm && l > lm)
                l = lm;
            so->local = pow2_floor(l ? l : 1);
            so->max_groups = 8 * (dev->info.compute_units ? dev->info.compute_units : 1);
        }
        so->recs_capacity = so->max_groups;
    } else {
        so->recs_capacity = (size_t)h5cl_axis_max_positions(plan, so->axis);
        if (so->recs_capacity < SPLIT_BELOW_POSITIONS)
            so->recs_capacity *= (size_t)axis_max_splits(
                plan, so->axis, h5cl_dtype_size(so->dtype));
    }
    if (so->recs_capacity == 0)
        so->recs_capacity = 1;
    so->dev_recs = calloc(slots, sizeof *so->dev_recs);
    so->host_recs = calloc(slots, sizeof *so->host_recs);
    so->nrecs = calloc(slots, sizeof *so->nrecs);
    so->split = calloc(slots, sizeof *so->split);
    so->scratch = calloc(slots, sizeof *so->scratch);
    if (!so->dev_recs || !so->host_recs || !so->nrecs || !so->scratch ||
        !so->split) {
        op_teardown(op);
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    for (unsigned i = 0; i < slots; i++) {
        size_t bytes = (so->recs_capacity * REC_BYTES + 4095) / 4096 * 4096;
        so->host_recs[i] = aligned_alloc(4096, bytes);
        if (!so->host_recs[i]) {
            op_teardown(op);
            return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
        }
        /* zero-copy devices write the records straight into host memory,
         * which saves a read-back command per tile */
        so->dev_recs[i] = clCreateBuffer(
            dev->context,
            so->zero_copy ? CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR
                          : CL_MEM_WRITE_ONLY,
            bytes, so->zero_copy ? so->host_recs[i] : NULL, &err);
        if (!so->dev_recs[i]) {
            op_teardown(op);
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating partial-result buffers");
        }
        if (!so->eval)
            continue;
        so->scratch[i] = clCreateBuffer(
            dev->context, CL_MEM_READ_WRITE,
            (size_t)(plan->max_tile_elems ? plan->max_tile_elems : 1) *
                h5cl_dtype_size(so->dtype),
            NULL, &err);
        if (!so->scratch[i]) {
            op_teardown(op);
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating the expression's tile buffer");
        }
    }
    if (so->eval && h5cl_eval_decodes(so->eval) &&
        (st = h5cl_masked_create(ctx, slots, &so->masked)) != H5CL_OK) {
        op_teardown(op);
        return st;
    }
    return H5CL_OK;
}

static int op_enqueue(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                      const h5cl_tile *tile, const cl_mem *inputs,
                      cl_mem output, cl_event ready, cl_event *kernel_ret,
                      cl_event *done_ret)
{
    stats_op *so = op->impl;
    /* tiles are independent, unless an expression runs first: it and
     * its masked count use ctx->dev.comp */
    cl_command_queue q = so->eval ? ctx->dev.comp : tile->queue;
    cl_kernel k = so->kernel;
    cl_ulong n = tile->elems;
    size_t global, local, nrecs;
    cl_int err = CL_SUCCESS;
    cl_mem input = inputs[0];
    if (so->eval) {
        /* the expression's values first; the statistics kernel reads them */
        int st = h5cl_eval_enqueue_masked(
            so->eval, ctx, n, inputs, so->scratch[slot],
            so->masked ? h5cl_masked_buffer(so->masked, slot) : NULL, ready,
            kernel_ret);
        if (st != H5CL_OK)
            return st;
        ready = *kernel_ret;
        input = so->scratch[slot];
    }

    if (so->axis < 0) {
        cl_ulong seg = 0;
        if (so->local == 1) {
            /* segments of whole 8-element vectors, at least 64 KiB each */
            cl_ulong min_seg = 16384;
            cl_ulong groups = (n + min_seg - 1) / min_seg;
            if (groups > so->max_groups)
                groups = so->max_groups;
            if (groups == 0)
                groups = 1;
            seg = (n + groups - 1) / groups;
            seg = (seg + 7) / 8 * 8;
            groups = (n + seg - 1) / seg;
            if (groups == 0)
                groups = 1;
            local = 1;
            global = (size_t)groups;
        } else {
            cl_ulong groups = (n + so->local - 1) / so->local;
            if (groups > so->max_groups)
                groups = so->max_groups;
            if (groups == 0)
                groups = 1;
            local = so->local;
            global = (size_t)groups * local;
        }
        nrecs = global / local;
        const h5cl_karg args[] = {{sizeof input, &input},
                                  {sizeof n, &n},
                                  {sizeof seg, &seg},
                                  {sizeof(cl_mem), &so->dev_recs[slot]},
                                  {local * LOCAL_PART_BYTES, NULL}};
        int st = h5cl_kernel_args(ctx, k, 0, args, 5, "the statistics kernel");
        if (st != H5CL_OK)
            return st;
    } else {
        uint64_t O, A, I;
        h5cl_axis_view(&tile->box, so->axis, &O, &A, &I);
        uint64_t sa = axis_split(O, A, I, h5cl_dtype_size(so->dtype));
        /* an edge tile with fewer positions than a full one may want
         * more records than were allocated: it goes unsplit */
        if (O * I * ((A + sa - 1) / sa) > so->recs_capacity)
            sa = A ? A : 1;
        cl_ulong o = O, a = A, i = I, csa = sa;
        so->split[slot] = sa;
        nrecs = (size_t)(O * I * (A ? (A + sa - 1) / sa : 1));
        /* positions in groups of eight where they come in eights, as
         * many groups per work-item as divide I/8, up to AXIS8_GROUPS */
        cl_ulong gw = 1;
        uint64_t per_item = 1;
        if (so->kernel8 && I % 8 == 0) {
            k = so->kernel8;
            while (gw * 2 <= AXIS8_GROUPS && (I / 8) % (gw * 2) == 0)
                gw *= 2;
            per_item = 8 * gw;
        }
        /* stats_axis8 runs on CPU devices, where a work-group is a loop:
         * groups of one let few, long work-items (whole rows of a split)
         * spread over the cores */
        local = k == so->kernel8 ? 1 : 64;
        const h5cl_karg args[] = {{sizeof input, &input},
                                  {sizeof o, &o},
                                  {sizeof a, &a},
                                  {sizeof i, &i},
                                  {sizeof csa, &csa},
                                  {sizeof(cl_mem), &so->dev_recs[slot]},
                                  {sizeof gw, &gw}};
        int st = h5cl_kernel_args(ctx, k, 0, args, k == so->kernel8 ? 7 : 6,
                                  "the statistics kernel");
        if (st != H5CL_OK)
            return st;
        if (ctx->dev.max_work_group_size < local)
            local = ctx->dev.max_work_group_size;
        const size_t items = nrecs / per_item;
        global = (items + local - 1) / local * local;
    }
    so->nrecs[slot] = nrecs;
    cl_event kev;
    err = clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, ready ? 1 : 0,
                                 ready ? &ready : NULL, &kev);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                            "running the statistics kernel");
    /* kev is the first kernel (kernel_ret) too unless an expression ran:
     * then each holder needs its own reference */
    if (!so->eval) {
        *kernel_ret = kev;
        if ((err = clRetainEvent(kev)) != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clRetainEvent",
                                "keeping the statistics kernel's event");
    }
    /* the masked count first (nothing to read on zero-copy devices): the
     * records' read-back then waits for it */
    if (so->masked) {
        int st = h5cl_masked_read(so->masked, ctx, slot, kev, &kev);
        if (st != H5CL_OK)
            return st;
    }
    if (so->zero_copy) {
        *done_ret = kev;
        return H5CL_OK;
    }
    err = clEnqueueReadBuffer(q, so->dev_recs[slot], CL_FALSE, 0,
                              nrecs * REC_BYTES, so->host_recs[slot], 1, &kev,
                              done_ret);
    clReleaseEvent(kev);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clEnqueueReadBuffer",
                            "reading partial statistics back");
    return H5CL_OK;
}

static double as_float(cl_ulong bits)
{
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Decodes one device record (see kernels/stats.cl) of a run that lacks
 * the figures `missing` into a state. */
static void decode(const cl_ulong *w, h5cl_kind kind, int fp64,
                   uint32_t missing, h5cl_stats_state *st)
{
#define ACCF(x) (fp64 ? h5cl_bits_double(x) : as_float(x))
    h5cl_stats_state_init(st, kind);
    st->count = w[0];
    st->nan_count = w[1];
    st->argmin = w[2];
    st->argmax = w[3];
    if (kind == H5CL_KIND_FLOAT) {
        st->sum.f = ACCF(w[5]);
        st->sum_comp = ACCF(w[6]);
        st->min.f = ACCF(w[9]);
        st->max.f = ACCF(w[10]);
    } else {
        h5cl_stats_state_set_sum128(st, w[5], (int64_t)w[6]);
        st->min.u = w[9];
        st->max.u = w[10];
    }
    st->mean = ACCF(w[7]);
    st->m2 = ACCF(w[8]);
#undef ACCF
    /* integer kernels without M2 keep only the exact sum: the running
     * mean that merges carry comes from it (st holds every figure yet) */
    if ((missing & H5CL_FIG_VAR) && kind != H5CL_KIND_FLOAT && st->count)
        st->mean = h5cl_stats_state_mean(st);
    st->missing = missing;
    if (missing & H5CL_FIG_ARG)
        st->argmin = st->argmax = H5CL_ARG_NONE;
}

static int op_merge(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                    const h5cl_tile *tile)
{
    stats_op *so = op->impl;
    const h5cl_box *sel = &so->plan->sel;
    const cl_ulong *recs = so->host_recs[slot];
    const int fp64 = ctx->dev.info.has_fp64;
    h5cl_stats_state part;
    if (so->masked)
        so->out->summary.masked += h5cl_masked_value(so->masked, slot);
    if (so->axis < 0) {
        h5cl_stats_state acc;
        h5cl_stats_state_init(&acc, so->kind);
        for (size_t r = 0; r < so->nrecs[slot]; r++) {
            decode(recs + r * REC_WORDS, so->kind, fp64, so->missing, &part);
            h5cl_stats_state_merge(&acc, &part);
        }
        if (acc.count && !(acc.missing & H5CL_FIG_ARG)) {
            acc.argmin = h5cl_sel_index(sel, &tile->box, 0, sel->rank, acc.argmin);
            acc.argmax = h5cl_sel_index(sel, &tile->box, 0, sel->rank, acc.argmax);
        }
        return h5cl_stats_state_merge(&so->out->states[0], &acc);
    }
    /* per-axis: record (s, o, i) of the tile lands on output
     * (O0+o, I0+i) */
    const int ax = so->axis;
    uint64_t O, A, I;
    h5cl_axis_view(&tile->box, ax, &O, &A, &I);
    const uint64_t axis_off = tile->box.start[ax] - sel->start[ax];
    uint64_t sel_I = 1;
    for (int d = ax + 1; d < sel->rank; d++)
        sel_I *= sel->count[d];
    /* splits in order along the axis, so ties keep the first index */
    const uint64_t sa = so->split[slot];
    const uint64_t S = A ? (A + sa - 1) / sa : 1;
    for (uint64_t sp = 0; sp < S; sp++)
        for (uint64_t o = 0; o < O; o++) {
            const uint64_t go = h5cl_sel_index(sel, &tile->box, 0, ax, o);
            for (uint64_t i = 0; i < I; i++) {
                const uint64_t gi =
                    h5cl_sel_index(sel, &tile->box, ax + 1, sel->rank, i);
                decode(recs + ((sp * O + o) * I + i) * REC_WORDS, so->kind,
                       fp64, so->missing, &part);
                if (part.count) {
                    part.argmin += axis_off;
                    part.argmax += axis_off;
                }
                h5cl_stats_state_merge(&so->out->states[go * sel_I + gi],
                                       &part);
            }
        }
    return H5CL_OK;
}

/* ---- public entry points ---- */

static int stats_alloc(const h5cl_box *sel, int axis, h5cl_kind kind,
                       uint32_t missing, h5cl_stats **out_ret)
{
    h5cl_stats *s = calloc(1, sizeof *s);
    if (!s)
        return H5CL_ERR_NO_MEMORY;
    s->n = 1;
    if (axis >= 0) {
        for (int d = 0; d < sel->rank; d++)
            if (d != axis) {
                s->dims[s->rank++] = sel->count[d];
                s->n *= (size_t)sel->count[d];
            }
    }
    s->states = malloc((s->n ? s->n : 1) * sizeof *s->states);
    if (!s->states) {
        free(s);
        return H5CL_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < s->n; i++) {
        h5cl_stats_state_init(&s->states[i], kind);
        s->states[i].missing = missing;
    }
    *out_ret = s;
    return H5CL_OK;
}

typedef struct attempt_ctx {
    h5cl_eval *eval;
    h5cl_stats *out;
} attempt_ctx;

/* One run of the pipeline with a plan; the result replaces any earlier
 * attempt's. */
static int attempt(h5cl_run *run, const h5cl_plan *plan, void *user)
{
    attempt_ctx *ac = user;
    h5cl_ctx *ctx = run->ctx;
    const h5cl_dtype dtype =
        ac->eval ? h5cl_eval_acc_dtype(ctx) : run->in.ds[0]->info.dtype;
    /* per-axis runs compute every figure: their kernels are cheap
     * beside their scattered reads */
    const uint32_t missing =
        run->opts.axis < 0 ? h5cl_figures_missing(run->opts.figures) : 0;
    h5cl_stats_free(ac->out);
    ac->out = NULL;
    if (stats_alloc(&run->sel, run->opts.axis, kind_of(dtype), missing,
                    &ac->out) != H5CL_OK)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                         "out of memory for the result states");
    h5cl_stats *out = ac->out;
    stats_op so;
    memset(&so, 0, sizeof so);
    so.ctx = ctx;
    so.dtype = dtype;
    so.kind = kind_of(dtype);
    so.eval = ac->eval;
    so.axis = run->opts.axis;
    so.missing = missing;
    so.out = out;
    h5cl_op op = {&so, op_setup, op_enqueue, op_merge, op_teardown};
    out->summary.tile_bytes = plan->max_tile_elems * plan->elem_size;
    out->summary.zero_copy = h5cl_device_zero_copy(&ctx->dev);
    if (plan->ntiles == 0)
        return H5CL_OK;
    h5cl_stream stream = {.inputs = run->in.ds,
                          .ninputs = ac->eval ? run->in.n : 1};
    int st = h5cl_pipeline_run(ctx, &stream, plan, run->slots, &op, &run->opts,
                               &out->summary, &out->times);
    out->ntimes = out->times ? (size_t)plan->ntiles : 0;
    return st;
}

/* A share's arg-extrema into the whole selection's index space: its
 * share_row rows before, each of `inner` elements for whole-selection
 * statistics (flat C-order indices), one step along axis 0 per row for
 * per-axis ones (axis 0 is the only axis a share reduces). */
static void share_shift(const h5cl_run *run, h5cl_stats *out)
{
    uint64_t step = 1;
    if (run->opts.axis < 0)
        for (int d = 1; d < run->sel.rank; d++)
            step *= run->sel.count[d];
    const uint64_t off = run->share_row * step;
    for (size_t i = 0; off && i < out->n; i++)
        if (out->states[i].count &&
            !(out->states[i].missing & H5CL_FIG_ARG)) {
            out->states[i].argmin += off;
            out->states[i].argmax += off;
        }
}

static int stats_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                         h5cl_stats **stats_ret)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_run run;
    int st = h5cl_run_prepare(ctx, ds, opts, 1, &run);
    if (st != H5CL_OK)
        return st;
    if (run.opts.figures & ~H5CL_FIG_ALL)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "figures 0x%x has bits that are no H5CL_FIG_* flag "
                         "(0x%x is every figure)",
                         run.opts.figures, H5CL_FIG_ALL);
    attempt_ctx ac = {NULL, NULL};
    /* an expression, or decoding alone (the expression is then the
     * input's name) */
    if (run.opts.expr || run.in.decode)
        st = h5cl_eval_create(ctx, run.opts.expr, &run.in,
                              h5cl_eval_acc_dtype(ctx), &ac.eval);
    if (st == H5CL_OK)
        st = h5cl_run_attempts(&run, attempt, &ac);
    h5cl_eval_free(ac.eval);
    if (st != H5CL_OK) {
        h5cl_stats_free(ac.out);
        return st;
    }
    share_shift(&run, ac.out);
    *stats_ret = ac.out;
    return h5cl_ok(ctx);
}

int h5cl_stats_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                       h5cl_stats **stats_ret)
{
    if (stats_ret)
        *stats_ret = NULL;
    if (!ds || !stats_ret)
        return ds ? h5cl_fail(ds->ctx, H5CL_ERR_INVALID_ARGUMENT,
                              "h5cl_stats_compute: NULL argument")
                  : H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_run_enter(ds->ctx);
    if (st != H5CL_OK)
        return st;
    st = stats_compute(ds, opts, stats_ret);
    h5cl_run_leave(ds->ctx);
    return st;
}

void h5cl_stats_free(h5cl_stats *s)
{
    if (!s)
        return;
    free(s->states);
    free(s->times);
    free(s);
}

int h5cl_stats_merge(h5cl_stats *into, const h5cl_stats *from)
{
    if (!into || !from || into->n != from->n || into->rank != from->rank ||
        memcmp(into->dims, from->dims, sizeof into->dims) != 0)
        return H5CL_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < into->n; i++)
        if (into->states[i].kind != from->states[i].kind)
            return H5CL_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < into->n; i++)
        h5cl_stats_state_merge(&into->states[i], &from->states[i]);
    h5cl_summary_merge(&into->summary, &from->summary);
    free(into->times);
    into->times = NULL;
    into->ntimes = 0;
    return H5CL_OK;
}

size_t h5cl_stats_count(const h5cl_stats *s)
{
    return s ? s->n : 0;
}

int h5cl_stats_shape(const h5cl_stats *s, uint64_t *dims)
{
    if (!s)
        return -1;
    for (int d = 0; dims && d < s->rank; d++)
        dims[d] = s->dims[d];
    return s->rank;
}

const h5cl_stats_state *h5cl_stats_get(const h5cl_stats *s, size_t i)
{
    return s && i < s->n ? &s->states[i] : NULL;
}

const h5cl_run_summary *h5cl_stats_summary(const h5cl_stats *s)
{
    return s ? &s->summary : NULL;
}

size_t h5cl_stats_timeline(const h5cl_stats *s,
                           const h5cl_tile_timing **times_ret)
{
    if (times_ret)
        *times_ret = s ? s->times : NULL;
    return s ? s->ntimes : 0;
}

/* ---- byte form of a whole result ----
 *   0  magic "H5SR"   4  version   5  rank   6  zero (u16)   8  n (u64)
 *  16  dims (u64 each), then n serialised states, then the FNV-1a 64
 *  checksum of every byte before it.  Little-endian. */

static const unsigned char result_magic[4] = {'H', '5', 'S', 'R'};
#define RESULT_VERSION 1

size_t h5cl_stats_serialized_size(const h5cl_stats *s)
{
    if (!s)
        return 0;
    return 16 + 8 * (size_t)s->rank + s->n * H5CL_STATS_STATE_BYTES + 8;
}

int h5cl_stats_serialize(const h5cl_stats *s, unsigned char *buf,
                         size_t nbytes)
{
    if (!s || !buf || nbytes != h5cl_stats_serialized_size(s))
        return H5CL_ERR_INVALID_ARGUMENT;
    memcpy(buf, result_magic, 4);
    buf[4] = RESULT_VERSION;
    buf[5] = (unsigned char)s->rank;
    buf[6] = buf[7] = 0;
    h5cl_put64(buf + 8, s->n);
    unsigned char *p = buf + 16;
    for (int d = 0; d < s->rank; d++, p += 8)
        h5cl_put64(p, s->dims[d]);
    for (size_t i = 0; i < s->n; i++, p += H5CL_STATS_STATE_BYTES)
        h5cl_stats_state_serialize(&s->states[i], p);
    h5cl_put64(p, h5cl_fnv1a64(buf, (size_t)(p - buf)));
    return H5CL_OK;
}

int h5cl_stats_deserialize(const unsigned char *buf, size_t nbytes,
                           h5cl_stats **stats_ret)
{
    if (stats_ret)
        *stats_ret = NULL;
    if (!buf || !stats_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (nbytes < 24 || memcmp(buf, result_magic, 4) != 0 ||
        buf[4] != RESULT_VERSION || buf[5] >= H5CL_MAX_RANK || buf[6] ||
        buf[7])
        return H5CL_ERR_BAD_STATE;
    const int rank = buf[5];
    const uint64_t n = h5cl_get64(buf + 8);
    const size_t head = 16 + 8 * (size_t)rank;
    if (nbytes < head + 8 || n > (nbytes - head - 8) / H5CL_STATS_STATE_BYTES ||
        nbytes != head + n * H5CL_STATS_STATE_BYTES + 8 ||
        h5cl_get64(buf + nbytes - 8) != h5cl_fnv1a64(buf, nbytes - 8))
        return H5CL_ERR_BAD_STATE;
    h5cl_box shape;
    memset(&shape, 0, sizeof shape);
    uint64_t product = 1;
    shape.rank = rank + 1; /* the positions, then a reduced axis */
    for (int d = 0; d < rank; d++) {
        shape.count[d] = h5cl_get64(buf + 16 + 8 * (size_t)d);
        product = shape.count[d] && product > UINT64_MAX / shape.count[d]
                      ? 0
                      : product * shape.count[d];
    }
    if (product != n || (rank == 0 && n != 1))
        return H5CL_ERR_BAD_STATE;
    h5cl_stats *s = NULL;
    if (stats_alloc(&shape, rank ? rank : -1, H5CL_KIND_FLOAT, 0, &s) !=
        H5CL_OK)
        return H5CL_ERR_NO_MEMORY;
    const unsigned char *p = buf + head;
    for (size_t i = 0; i < s->n; i++, p += H5CL_STATS_STATE_BYTES)
        if (h5cl_stats_state_deserialize(p, H5CL_STATS_STATE_BYTES,
                                         &s->states[i]) != H5CL_OK) {
            h5cl_stats_free(s);
            return H5CL_ERR_BAD_STATE;
        }
    *stats_ret = s;
    return H5CL_OK;
}

h5cl_run_summary *h5cl_stats_run_summary(h5cl_stats *s)
{
    return &s->summary;
}

uint64_t h5cl_stats_masked(const h5cl_stats *s)
{
    return s ? s->summary.masked : 0;
}
