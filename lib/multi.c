/* Several devices in one process: one context (and so one ordinary
 * pipeline) per device, each on its own thread, taking shares of the
 * selection (lib/share.c) from a common counter, so that a faster device
 * takes more; each thread merges its partial results, and the threads'
 * results are merged at the end. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cov_state.h"
#include "device.h"
#include "hist_state.h"
#include "run.h"
#include "stats_state.h"

/* Tiles per share: enough work to hide a run's setup (device buffers,
 * reader threads), few enough that the queue balances the devices. */
#define TILES_PER_SHARE 8
#define MAX_SHARES 65536

/* What runs on one share and how partial results combine. */
typedef struct multi_op {
    int (*run)(h5cl_dataset *ds, const h5cl_run_options *o, const void *arg,
               void **part_ret);
    int (*merge)(void *into, const void *from); /* summaries included */
    void (*free)(void *part);
    const void *arg;
} multi_op;

typedef struct multi_job multi_job;

typedef struct lane {
    multi_job *job;
    h5cl_ctx *ctx;
    h5cl_dataset *ds;
    void *acc;      /* merged results of this lane's shares */
    int status;
} lane;

struct multi_job {
    const multi_op *op;
    h5cl_run_options opts;
    const uint64_t *bounds;
    size_t nshares;
    atomic_size_t next;   /* the queue: the next share to take */
    atomic_int failed;    /* index + 1 of the first failed lane */
    lane *lanes;
    size_t nlanes;
};

static void stop_all(multi_job *job, size_t self)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&job->failed, &none, (int)self + 1))
        for (size_t k = 0; k < job->nlanes; k++)
            if (k != self)
                h5cl_cancel(job->lanes[k].ctx);
}

static void *lane_main(void *p)
{
    lane *l = p;
    multi_job *job = l->job;
    const size_t self = (size_t)(l - job->lanes);
    while (!atomic_load(&job->failed)) {
        /* h5cl_cancel between two shares: the next run would clear it */
        if (atomic_load(&l->ctx->cancel)) {
            l->status = h5cl_fail(l->ctx, H5CL_ERR_CANCELLED, "cancelled");
            stop_all(job, self);
            break;
        }
        const size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->nshares)
            break;
        void *part = NULL;
        int st = h5cl_ctx_set_share(l->ctx, job->bounds[i],
                                    job->bounds[i + 1]);
        if (st == H5CL_OK)
            st = job->op->run(l->ds, &job->opts, job->op->arg, &part);
        if (st == H5CL_OK && l->acc) {
            st = job->op->merge(l->acc, part);
            if (st != H5CL_OK)
                h5cl_fail(l->ctx, st, "partial results do not merge");
            job->op->free(part);
        } else if (st == H5CL_OK) {
            l->acc = part;
        }
        if (st != H5CL_OK) {
            l->status = st;
            stop_all(job, self);
        }
    }
    return NULL;
}

/* Records lane k's failure on ctxs[0], naming the device (without
 * opening one: a failed lane may have none). */
static int fail_lane(h5cl_ctx *first, h5cl_ctx *ctx, size_t k, int st)
{
    char *msg = strdup(h5cl_ctx_errmsg(ctx));
    st = h5cl_fail(first, st, "context %zu (%s): %s", k,
                   ctx->device_open ? ctx->dev.info.device_name
                                    : "no device open",
                   msg ? msg : h5cl_strerror(st));
    free(msg);
    return st;
}

/* The shares: about TILES_PER_SHARE tiles each, at least one per lane. */
static int make_shares(h5cl_ctx *ctx, h5cl_dataset *ds,
                       const h5cl_run_options *o, size_t nlanes,
                       uint64_t **bounds_ret, size_t *n_ret)
{
    uint64_t tile = o->tile_bytes;
    unsigned slots;
    int st = tile ? H5CL_OK : h5cl_ctx_run_defaults(ctx, &tile, &slots);
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    if (st == H5CL_OK)
        st = h5cl_dataset_selection(ds, o->select, &rank, dims);
    if (st != H5CL_OK)
        return st;
    h5cl_dataset_info info;
    h5cl_dataset_get_info(ds, &info);
    long double bytes = (long double)h5cl_dtype_size(info.dtype);
    for (int d = 0; d < rank; d++)
        bytes *= (long double)dims[d];
    long double want = bytes / ((long double)tile * TILES_PER_SHARE);
    size_t n = want > MAX_SHARES ? MAX_SHARES : (size_t)want + 1;
    if (n < nlanes)
        n = nlanes;
    uint64_t *bounds = malloc((n + 1) * sizeof *bounds);
    if (!bounds)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory for %zu "
                         "shares", n);
    st = h5cl_dataset_split(ds, o->select, n, bounds, n_ret);
    if (st != H5CL_OK) {
        free(bounds);
        return st;
    }
    *bounds_ret = bounds;
    return H5CL_OK;
}

/* Opens FILE:PATH on every context, runs the lanes, merges their
 * results into *result_ret (NULL on failure); every failure is recorded
 * on ctxs[0]. */
static int multi_run(h5cl_ctx *const *ctxs, size_t nctx, const char *file,
                     const char *path, const h5cl_run_options *opts,
                     const multi_op *op, void **result_ret)
{
    *result_ret = NULL;
    if (!ctxs || nctx == 0 || !ctxs[0])
        return H5CL_ERR_INVALID_ARGUMENT;
    h5cl_ctx *first = ctxs[0];
    for (size_t k = 1; k < nctx; k++)
        if (!ctxs[k] || ctxs[k] == first)
            return h5cl_fail(first, H5CL_ERR_INVALID_ARGUMENT,
                             "context %zu is NULL or repeats context 0", k);
    multi_job job;
    memset(&job, 0, sizeof job);
    job.op = op;
    h5cl_run_options_init(&job.opts);
    if (opts)
        memcpy(&job.opts, opts,
               opts->struct_size && opts->struct_size < sizeof job.opts
                   ? opts->struct_size
                   : sizeof job.opts);
    if (job.opts.nwith)
        return h5cl_fail(first, H5CL_ERR_INVALID_ARGUMENT,
                         "a multi-device run takes one input; `with` "
                         "datasets belong to one context");
    job.opts.progress = NULL;
    job.opts.trace_path = NULL;
    job.opts.timeline = 0;
    job.lanes = calloc(nctx, sizeof *job.lanes);
    pthread_t *threads = calloc(nctx, sizeof *threads);
    if (!job.lanes || !threads) {
        free(job.lanes);
        free(threads);
        return h5cl_fail(first, H5CL_ERR_NO_MEMORY,
                         "out of memory for %zu devices", nctx);
    }
    job.nlanes = nctx;
    int st = H5CL_OK;
    uint64_t *bounds = NULL;
    for (size_t k = 0; k < nctx; k++) {
        job.lanes[k].job = &job;
        job.lanes[k].ctx = ctxs[k];
        atomic_store(&ctxs[k]->cancel, 0); /* as every run starts */
    }
    for (size_t k = 0; k < nctx && st == H5CL_OK; k++) {
        st = h5cl_dataset_open(ctxs[k], file, path, &job.lanes[k].ds);
        if (st != H5CL_OK)
            st = fail_lane(first, ctxs[k], k, st);
    }
    if (st == H5CL_OK)
        st = make_shares(first, job.lanes[0].ds, &job.opts, nctx, &bounds,
                         &job.nshares);
    job.bounds = bounds;
    size_t started = 0;
    for (; st == H5CL_OK && started < nctx; started++)
        if (pthread_create(&threads[started], NULL, lane_main,
                           &job.lanes[started]) != 0) {
            atomic_store(&job.failed, -1);
            st = h5cl_fail(first, H5CL_ERR_THREAD,
                           "pthread_create failed for device lane %zu",
                           started);
            break;
        }
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    const int bad = atomic_load(&job.failed);
    if (st == H5CL_OK && bad > 0)
        st = fail_lane(first, ctxs[bad - 1], (size_t)bad - 1,
                       job.lanes[bad - 1].status);
    /* lanes in context order: the merge order does not depend on timing */
    void *result = NULL;
    for (size_t i = 0; i < nctx; i++) {
        lane *l = &job.lanes[i];
        if (st == H5CL_OK && l->acc && result) {
            st = op->merge(result, l->acc);
            if (st != H5CL_OK)
                h5cl_fail(first, st, "partial results do not merge");
        }
        if (st == H5CL_OK && l->acc && !result)
            result = l->acc;
        else
            op->free(l->acc);
        /* the whole selection again, keeping ctxs[0]'s message */
        l->ctx->share_start = 0;
        l->ctx->share_stop = UINT64_MAX;
        h5cl_dataset_close(l->ds);
    }
    free(bounds);
    free(threads);
    free(job.lanes);
    if (st != H5CL_OK) {
        op->free(result);
        return st;
    }
    *result_ret = result;
    return h5cl_ok(first);
}

/* ---- the ops ---- */

static int stats_run(h5cl_dataset *ds, const h5cl_run_options *o,
                     const void *arg, void **part)
{
    return h5cl_stats_compute(ds, o, (h5cl_stats **)part);
}

static int stats_merge(void *into, const void *from)
{
    return h5cl_stats_merge(into, from);
}

static void stats_free(void *p)
{
    h5cl_stats_free(p);
}

static const multi_op stats_op = {stats_run, stats_merge, stats_free, NULL};

/* Seconds of the whole call, not of its longest share. */
static void set_wall(h5cl_run_summary *s, double t0)
{
    s->seconds = h5cl_now() - t0;
    double busiest = 0;
    for (int k = 0; k < H5CL_STAGE_COUNT; k++)
        if (s->stage_seconds[k] > busiest)
            busiest = s->stage_seconds[k];
    s->overlap = busiest > 0 ? s->seconds / busiest : 1.0;
}

int h5cl_multi_stats(h5cl_ctx *const *ctxs, size_t nctx, const char *file,
                     const char *path, const h5cl_run_options *opts,
                     h5cl_stats **stats_ret)
{
    if (!stats_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    const double t0 = h5cl_now();
    void *r;
    int st = multi_run(ctxs, nctx, file, path, opts, &stats_op, &r);
    *stats_ret = r;
    if (st == H5CL_OK)
        set_wall(h5cl_stats_run_summary(r), t0);
    return st;
}

static int hist_run(h5cl_dataset *ds, const h5cl_run_options *o,
                    const void *arg, void **part)
{
    return h5cl_hist_compute(ds, o, arg, (h5cl_hist **)part);
}

static int hist_merge(void *into, const void *from)
{
    h5cl_hist *a = into;
    const h5cl_hist *b = from;
    int st = h5cl_hist_merge(a, b);
    if (st == H5CL_OK)
        h5cl_summary_merge(&a->summary, &b->summary);
    return st;
}

static void hist_free(void *p)
{
    h5cl_hist_free(p);
}

int h5cl_multi_hist(h5cl_ctx *const *ctxs, size_t nctx, const char *file,
                    const char *path, const h5cl_run_options *opts,
                    const h5cl_hist_options *hopts, h5cl_hist **hist_ret)
{
    if (!hist_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    *hist_ret = NULL;
    const double t0 = h5cl_now();
    h5cl_hist_options ho;
    h5cl_hist_options_init(&ho);
    if (hopts)
        memcpy(&ho, hopts,
               hopts->struct_size && hopts->struct_size < sizeof ho
                   ? hopts->struct_size
                   : sizeof ho);
    /* the range of the data: one multi-device pass for all shares, so
     * that every share bins with the same edges */
    h5cl_stats *mm = NULL;
    int st = H5CL_OK;
    if (!ho.range_set && !ho.range_state) {
        h5cl_run_options o;
        h5cl_run_options_init(&o);
        if (opts)
            memcpy(&o, opts,
                   opts->struct_size && opts->struct_size < sizeof o
                       ? opts->struct_size
                       : sizeof o);
        o.axis = -1;
        st = multi_run(ctxs, nctx, file, path, &o, &stats_op, (void **)&mm);
        if (st == H5CL_OK)
            ho.range_state = h5cl_stats_get(mm, 0);
    }
    const multi_op op = {hist_run, hist_merge, hist_free, &ho};
    void *r = NULL;
    if (st == H5CL_OK)
        st = multi_run(ctxs, nctx, file, path, opts, &op, &r);
    if (st == H5CL_OK && mm) {
        /* both passes' bytes and tiles, as the single-device call */
        h5cl_hist *h = r;
        const h5cl_run_summary *first = h5cl_stats_summary(mm);
        h->summary.bytes += first->bytes;
        h->summary.tiles += first->tiles;
        for (int k = 0; k < H5CL_STAGE_COUNT; k++)
            h->summary.stage_seconds[k] += first->stage_seconds[k];
    }
    h5cl_stats_free(mm);
    if (st == H5CL_OK) {
        set_wall(&((h5cl_hist *)r)->summary, t0);
        *hist_ret = r;
    }
    return st;
}

static int cov_run(h5cl_dataset *ds, const h5cl_run_options *o,
                   const void *arg, void **part)
{
    return h5cl_cov_compute(ds, o, (h5cl_cov **)part);
}

static int cov_merge(void *into, const void *from)
{
    h5cl_cov *a = into;
    const h5cl_cov *b = from;
    int st = h5cl_cov_merge(a, b);
    if (st == H5CL_OK)
        h5cl_summary_merge(&a->summary, &b->summary);
    return st;
}

static void cov_free(void *p)
{
    h5cl_cov_free(p);
}

static const multi_op cov_op = {cov_run, cov_merge, cov_free, NULL};

int h5cl_multi_cov(h5cl_ctx *const *ctxs, size_t nctx, const char *file,
                   const char *path, const h5cl_run_options *opts,
                   h5cl_cov **cov_ret)
{
    if (!cov_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    const double t0 = h5cl_now();
    void *r;
    int st = multi_run(ctxs, nctx, file, path, opts, &cov_op, &r);
    *cov_ret = r;
    if (st == H5CL_OK)
        set_wall(&((h5cl_cov *)r)->summary, t0);
    return st;
}
