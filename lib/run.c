/* The steps every run shares, so that each op file holds only what it
 * enqueues and how it merges. */
#include <string.h>

#include "device.h"
#include "direct.h"
#include "run.h"

/* Defaults per device class, from the sweeps in bench/RESULTS.md: on the
 * 2-core PoCL machine 2 slots of 4 MiB ran about 30% faster than 3 of
 * 8 MiB (8 MiB in flight stays in the last-level cache, so the kernel
 * reads what the reader just wrote from cache); on the H200, 8-16 MiB
 * tiles were best and larger ones paid for pinning their slots. */
#define CPU_TILE_BYTES ((uint64_t)4 << 20)
#define CPU_SLOTS 2
#define GPU_TILE_BYTES ((uint64_t)8 << 20)
/* Tiles the kernels read in place from the file's mapping hold no slot
 * memory and pass through no cache on the way, so the reason for small
 * tiles above is gone, and fewer tiles mean less hand-over between
 * kernels: 4 GiB float32, open handle, idle, medians of three 5-rep runs:
 * sum 11.8 -> 13.7 GB/s, all figures 9.9 -> 10.6 GB/s (bench/RESULTS.md). */
#define MAPPED_TILE_BYTES ((uint64_t)16 << 20)
#define GPU_SLOTS 3
#define MAX_SLOTS 64
#define MIN_TILE_BYTES ((uint64_t)64 << 10)

void h5cl_run_options_init(h5cl_run_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->axis = -1;
}

static int check_axis(h5cl_ctx *ctx, const h5cl_dataset *ds, int axis,
                      int allow_axis)
{
    if (axis < -1)
        return h5cl_fail(ctx, H5CL_ERR_AXIS,
                         "axis %d is invalid; use -1 for all axes", axis);
    if (axis >= 0 && !allow_axis)
        return h5cl_fail(ctx, H5CL_ERR_AXIS,
                         "this operation works on the whole selection; "
                         "axis must be -1, not %d",
                         axis);
    if (axis >= 0 && (axis >= ds->info.rank || ds->info.rank == 0))
        return h5cl_fail(ctx, H5CL_ERR_AXIS,
                         "axis %d is out of range for %s (rank %d)", axis,
                         ds->info.path, ds->info.rank);
    return H5CL_OK;
}

static void run_defaults(const h5cl_device *dev, uint64_t *tile_bytes,
                         unsigned *slots)
{
    const int cpu = h5cl_device_contiguous(dev);
    *tile_bytes = cpu ? CPU_TILE_BYTES : GPU_TILE_BYTES;
    *slots = cpu ? CPU_SLOTS : GPU_SLOTS;
}

int h5cl_ctx_run_defaults(h5cl_ctx *ctx, uint64_t *tile_bytes_ret,
                          unsigned *slots_ret)
{
    if (!ctx || !tile_bytes_ret || !slots_ret)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_ctx_run_defaults: NULL argument");
    int st = h5cl_device_require(ctx);
    if (st != H5CL_OK)
        return st;
    run_defaults(&ctx->dev, tile_bytes_ret, slots_ret);
    return h5cl_ok(ctx);
}

int h5cl_run_prepare(h5cl_ctx *ctx, h5cl_dataset *ds,
                     const h5cl_run_options *opts, int allow_axis,
                     h5cl_run *run)
{
    memset(run, 0, sizeof *run);
    run->ctx = ctx;
    h5cl_run_options_init(&run->opts);
    if (opts) {
        size_t n = opts->struct_size && opts->struct_size < sizeof run->opts
                       ? opts->struct_size
                       : sizeof run->opts;
        memcpy(&run->opts, opts, n);
    }
    atomic_store(&ctx->cancel, 0);
    int st = h5cl_device_require(ctx);
    if (st != H5CL_OK)
        return st;
    st = h5cl_inputs_collect(ctx, ds, &run->opts, &run->in);
    for (size_t i = 0; st == H5CL_OK && i < run->in.n; i++) {
        const h5cl_dataset *d = run->in.ds[i];
        if (d->info.dtype == H5CL_FLOAT64 && !ctx->dev.info.has_fp64)
            return h5cl_fail(ctx, H5CL_ERR_UNSUPPORTED_DEVICE,
                             "%s in %s is float64 but %s has no fp64 "
                             "support; choose another device",
                             d->info.path, d->info.file,
                             ctx->dev.info.device_name);
    }
    if (st == H5CL_OK)
        st = h5cl_selection_parse(ctx, ds, run->opts.select, &run->sel);
    if (st == H5CL_OK)
        st = check_axis(ctx, ds, run->opts.axis, allow_axis);
    if (st == H5CL_OK)
        st = h5cl_share_apply(ctx, run);
    if (st != H5CL_OK)
        return st;
    uint64_t tile_default;
    unsigned slots_default;
    run_defaults(&ctx->dev, &tile_default, &slots_default);
    int mapped = h5cl_device_zero_copy(&ctx->dev);
    for (size_t i = 0; mapped && i < run->in.n; i++)
        mapped = h5cl_direct_may_map(run->in.ds[i]);
    if (mapped)
        tile_default = MAPPED_TILE_BYTES;
    run->tile_bytes = run->opts.tile_bytes ? run->opts.tile_bytes
                                           : tile_default;
    run->slots = run->opts.slots ? run->opts.slots : slots_default;
    if (run->slots > MAX_SLOTS)
        run->slots = MAX_SLOTS;
    /* a tile must fit one device allocation */
    uint64_t max_alloc = ctx->dev.info.max_alloc_bytes;
    if (max_alloc && run->tile_bytes > max_alloc / 2)
        run->tile_bytes = max_alloc / 2;
    /* a decoding kernel counts a tile's masked elements in 32 bits (a
     * whole chunk is below 4 GiB, so whole-chunk tiles stay below too) */
    uint64_t cap = (uint64_t)UINT32_MAX * h5cl_dtype_size(run->in.dtypes[0]);
    if (run->in.decode && run->tile_bytes > cap)
        run->tile_bytes = cap;
    return H5CL_OK;
}

int h5cl_run_attempts(h5cl_run *run, h5cl_attempt_fn attempt, void *user)
{
    uint64_t tile_bytes = run->tile_bytes;
    int shrunk = 0;
    for (;;) {
        h5cl_plan plan;
        int st = h5cl_plan_make(run->ctx, run->in.ds[0], &run->sel, tile_bytes,
                                shrunk, &plan);
        if (st != H5CL_OK)
            return st;
        st = attempt(run, &plan, user);
        if (st != H5CL_ERR_DEVICE_MEMORY)
            return st;
        if (tile_bytes / 2 < MIN_TILE_BYTES) {
            h5cl_msg_append(run->ctx, " (tiles shrunk down to %llu bytes)",
                            (unsigned long long)(plan.max_tile_elems *
                                                 plan.elem_size));
            return st;
        }
        tile_bytes /= 2;
        shrunk = 1;
    }
}

int h5cl_run_enter(h5cl_ctx *ctx)
{
    /* two runs on one context at once would corrupt its state (seen from
     * a binding whose interrupted run was still going): refuse the second */
    return atomic_exchange(&ctx->busy, 1) ? H5CL_ERR_BUSY : H5CL_OK;
}

void h5cl_run_leave(h5cl_ctx *ctx)
{
    atomic_store(&ctx->busy, 0);
}
