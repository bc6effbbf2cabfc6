/* The map op: per tile, the expression kernel writes the output tile; the
 * pipeline reads it back and its writer thread stores it.  Also
 * h5cl_map_run(), which sets up the all-or-nothing output around the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "hdf5io.h"
#include "run.h"
#include "writer.h"

typedef struct map_op {
    h5cl_eval *eval;
    h5cl_masked *masked;    /* per slot, when the expression decodes */
    h5cl_run_summary *summary;
} map_op;

static int map_setup(h5cl_op *op, h5cl_ctx *ctx, const h5cl_plan *plan,
                     unsigned slots)
{
    map_op *mo = op->impl;
    if (!h5cl_eval_decodes(mo->eval))
        return H5CL_OK;
    return h5cl_masked_create(ctx, slots, &mo->masked);
}

static int map_enqueue(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                       const h5cl_tile *tile, const cl_mem *inputs,
                       cl_mem output, cl_event ready, cl_event *kernel_ret,
                       cl_event *done_ret)
{
    map_op *mo = op->impl;
    int st = h5cl_eval_enqueue_masked(
        mo->eval, ctx, tile->elems, inputs, output,
        mo->masked ? h5cl_masked_buffer(mo->masked, slot) : NULL, ready,
        kernel_ret);
    if (st != H5CL_OK)
        return st;
    /* one kernel: first and last command, each with its own reference */
    cl_int err = clRetainEvent(*kernel_ret);
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clRetainEvent",
                            "keeping the expression kernel's event");
    *done_ret = *kernel_ret;
    /* then the masked count, when there is one to read back */
    return mo->masked ? h5cl_masked_read(mo->masked, ctx, slot, *done_ret,
                                         done_ret)
                      : H5CL_OK;
}

static int map_merge(h5cl_op *op, h5cl_ctx *ctx, unsigned slot,
                     const h5cl_tile *tile)
{
    map_op *mo = op->impl;
    if (mo->masked)
        mo->summary->masked += h5cl_masked_value(mo->masked, slot);
    return H5CL_OK;
}

static void map_teardown(h5cl_op *op)
{
    map_op *mo = op->impl;
    h5cl_masked_free(mo->masked);
    mo->masked = NULL;
}

void h5cl_map_options_init(h5cl_map_options *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
    m->dtype = -1;
}

/* "u=a.h5:/u v=b.h5:/v" for the output's h5cl_sources attribute. */
static char *sources_text(const h5cl_inputs *in)
{
    size_t len = 1;
    for (size_t i = 0; i < in->n; i++)
        len += strlen(in->names[i]) + strlen(in->ds[i]->info.file) +
               strlen(in->ds[i]->info.path) + 4;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < in->n; i++)
        o += (size_t)snprintf(s + o, len - o, "%s%s=%s:%s", i ? " " : "",
                              in->names[i], in->ds[i]->info.file,
                              in->ds[i]->info.path);
    s[o] = '\0';
    return s;
}

static int writer_spec(h5cl_ctx *ctx, const h5cl_run *run,
                       const h5cl_map_options *m, h5cl_dtype dtype,
                       h5cl_writer_spec *w)
{
    const h5cl_dataset *in = run->in.ds[0];
    /* a scalar stays a scalar; otherwise the selection's shape */
    const int rank = in->info.rank ? run->sel.rank : 0;
    int st = h5cl_writer_spec_init(
        ctx, m, dtype, rank, run->sel.count, run->sel.start,
        in->info.layout == H5CL_LAYOUT_CHUNKED ? in->info.chunk_dims : NULL,
        w);
    w->expression = run->opts.expr ? run->opts.expr : run->in.names[0];
    return st;
}

typedef struct map_attempt {
    h5cl_eval *eval;
    h5cl_writer *writer;
    h5cl_run_summary summary;
} map_attempt;

static int attempt(h5cl_run *run, const h5cl_plan *plan, void *user)
{
    map_attempt *ma = user;
    memset(&ma->summary, 0, sizeof ma->summary);
    ma->summary.tile_bytes = plan->max_tile_elems * plan->elem_size;
    ma->summary.zero_copy = h5cl_device_zero_copy(&run->ctx->dev);
    if (plan->ntiles == 0)
        return H5CL_OK;
    map_op mo = {ma->eval, NULL, &ma->summary};
    h5cl_op op = {&mo, map_setup, map_enqueue, map_merge, map_teardown};
    h5cl_stream stream = {
        .inputs = run->in.ds,
        .ninputs = run->in.n,
        .writer = ma->writer,
        .out_elem_size = h5cl_dtype_size(h5cl_eval_out_dtype(ma->eval))};
    h5cl_tile_timing *times = NULL;
    int st = h5cl_pipeline_run(run->ctx, &stream, plan, run->slots, &op,
                               &run->opts, &ma->summary, &times);
    free(times);
    return st;
}

static int map_run(h5cl_dataset *ds, const h5cl_run_options *opts,
                   const h5cl_map_options *mopts_in, h5cl_run_summary *sum)
{
    h5cl_ctx *ctx = ds->ctx;
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    if (mopts_in)
        memcpy(&m, mopts_in,
               mopts_in->struct_size && mopts_in->struct_size < sizeof m
                   ? mopts_in->struct_size
                   : sizeof m);
    h5cl_run run;
    int st = h5cl_run_prepare(ctx, ds, opts, 0, &run);
    if (st != H5CL_OK)
        return st;
    /* with decoding, the expression defaults to the input's name: the
     * decoded values are written */
    if (!run.opts.expr && !run.opts.mask_fill && !run.opts.cf)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "a map needs an expression (opts->expr); \"x\" "
                         "copies the data");
    map_attempt ma;
    memset(&ma, 0, sizeof ma);
    st = h5cl_eval_create(ctx, run.opts.expr, &run.in, m.dtype, &ma.eval);
    h5cl_writer_spec spec;
    char *sources = NULL;
    if (st == H5CL_OK)
        st = writer_spec(ctx, &run, &m, h5cl_eval_out_dtype(ma.eval), &spec);
    if (st == H5CL_OK && !(sources = sources_text(&run.in)))
        st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    spec.sources = sources;
    h5cl_input_file files[H5CL_MAX_INPUTS];
    const size_t nfiles = h5cl_input_files(run.in.ds, run.in.n, files);
    if (st == H5CL_OK)
        st = h5cl_writer_create(ctx, &spec, files, nfiles, &ma.writer);
    free(sources);
    if (st == H5CL_OK)
        st = h5cl_run_attempts(&run, attempt, &ma);
    h5cl_eval_free(ma.eval);
    if (st != H5CL_OK) {
        h5cl_writer_abort(ma.writer);
        return st;
    }
    /* closing writes the chunks still in HDF5's cache: part of writing */
    const double t0 = h5cl_now();
    st = h5cl_writer_commit(ctx, ma.writer);
    if (st != H5CL_OK)
        return st;
    const double dt = h5cl_now() - t0;
    ma.summary.seconds += dt;
    ma.summary.stage_seconds[H5CL_STAGE_WRITE] += dt;
    double busiest = 0;
    for (int k = 0; k < H5CL_STAGE_COUNT; k++)
        if (ma.summary.stage_seconds[k] > busiest)
            busiest = ma.summary.stage_seconds[k];
    ma.summary.overlap = busiest > 0 ? ma.summary.seconds / busiest : 1.0;
    if (sum)
        *sum = ma.summary;
    return h5cl_ok(ctx);
}

int h5cl_map_run(h5cl_dataset *ds, const h5cl_run_options *opts,
                 const h5cl_map_options *mopts, h5cl_run_summary *summary_ret)
{
    if (summary_ret)
        memset(summary_ret, 0, sizeof *summary_ret);
    if (!ds)
        return H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_run_enter(ds->ctx);
    if (st != H5CL_OK)
        return st;
    st = map_run(ds, opts, mopts, summary_ret);
    h5cl_run_leave(ds->ctx);
    return st;
}
