/* Shares: ranges of rows of a selection's first axis, the unit of work
 * that several devices, MPI ranks and Dask tasks divide between them.  A
 * run on a context with a share streams only those rows; the ops keep
 * their results in the whole selection's index space (ops_stats.c shifts
 * the arg-extrema by run->share_row), so the partial results merge. */
#include "dataset.h"
#include "run.h"

int h5cl_ctx_set_share(h5cl_ctx *ctx, uint64_t start, uint64_t stop)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (start > stop)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "share [%llu, %llu) ends before it starts",
                         (unsigned long long)start, (unsigned long long)stop);
    ctx->share_start = start;
    ctx->share_stop = stop;
    return h5cl_ok(ctx);
}

int h5cl_share_apply(h5cl_ctx *ctx, h5cl_run *run)
{
    h5cl_box *sel = &run->sel;
    const uint64_t rows = sel->count[0];
    const uint64_t a = ctx->share_start < rows ? ctx->share_start : rows;
    const uint64_t b = ctx->share_stop < rows ? ctx->share_stop : rows;
    run->share_row = 0;
    if (a == 0 && b >= rows)
        return H5CL_OK;
    if (run->opts.axis > 0)
        return h5cl_fail(ctx, H5CL_ERR_AXIS,
                         "a run over a share of rows [%llu, %llu) reduces "
                         "axis 0 or the whole selection, not axis %d (the "
                         "shares' results would not merge)",
                         (unsigned long long)a, (unsigned long long)b,
                         run->opts.axis);
    sel->start[0] += a;
    sel->count[0] = b > a ? b - a : 0;
    run->share_row = a;
    return H5CL_OK;
}

/* Rows of a share boundary step: the chunk's extent along the first axis,
 * so that every chunk falls in one share. */
static uint64_t row_unit(const h5cl_dataset *ds)
{
    const h5cl_dataset_info *in = &ds->info;
    if (in->layout == H5CL_LAYOUT_CHUNKED && in->rank > 0 &&
        in->chunk_dims[0] > 0)
        return in->chunk_dims[0];
    return 1;
}

int h5cl_dataset_split(const h5cl_dataset *ds, const char *select, size_t n,
                       uint64_t *bounds_ret, size_t *count_ret)
{
    if (!ds)
        return H5CL_ERR_INVALID_ARGUMENT;
    if (!bounds_ret || !count_ret || n == 0)
        return h5cl_fail(ds->ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_dataset_split: NULL output or no shares");
    h5cl_box sel;
    int st = h5cl_selection_parse(ds->ctx, ds, select, &sel);
    if (st != H5CL_OK)
        return st;
    const uint64_t s = sel.start[0], rows = sel.count[0];
    bounds_ret[0] = 0;
    if (rows == 0) {
        bounds_ret[1] = 0;
        *count_ret = 1;
        return h5cl_ok(ds->ctx);
    }
    /* the units (chunk rows) the selection touches, first to last */
    const uint64_t u = row_unit(ds);
    const uint64_t first = s / u;
    const uint64_t units = (s + rows + u - 1) / u - first;
    const uint64_t k = (uint64_t)n < units ? (uint64_t)n : units;
    /* boundary i at unit floor(i * units / k): strictly increasing and
     * after the selection's first row, so no share is empty */
    for (uint64_t i = 1; i < k; i++) {
        const uint64_t unit = (uint64_t)((unsigned __int128)i * units / k);
        bounds_ret[i] = (first + unit) * u - s;
    }
    bounds_ret[k] = rows;
    *count_ret = (size_t)k;
    return h5cl_ok(ds->ctx);
}

void h5cl_summary_merge(h5cl_run_summary *a, const h5cl_run_summary *b)
{
    a->bytes += b->bytes;
    a->bytes_written += b->bytes_written;
    a->tiles += b->tiles;
    a->masked += b->masked;
    a->bytes_direct += b->bytes_direct;
    if (b->seconds > a->seconds)
        a->seconds = b->seconds;
    for (int k = 0; k < H5CL_STAGE_COUNT; k++)
        a->stage_seconds[k] += b->stage_seconds[k];
}
