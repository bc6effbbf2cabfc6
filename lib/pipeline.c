/* The streaming schedule.
 *
 * Tile t lives in slot t % K.  A reader thread fills slots in tile order
 * as they become free.  The caller's thread (the dispatcher) enqueues, for
 * each filled slot, the upload on the transfer queue and the op's kernel
 * and read-back on the compute queue, chained by events, so reading tile
 * i+2, uploading i+1 and computing i run at once.  Event callbacks report
 * completions through one mutex and condition variable; the dispatcher
 * never blocks on a single command.
 *
 * Zero-copy devices (host-unified memory) get page-aligned slots wrapped
 * with CL_MEM_USE_HOST_PTR, which such devices read in place; a slot goes
 * back to the reader when its kernel completes.  No map/unmap commands are
 * used for the hand-over: PoCL runs those only between kernels, which
 * serialised reading and computing (measured: overlap 1.9 instead of 1.1).
 * H5CL_ZERO_COPY=0 selects the other path for a driver that needs them.
 * Other devices get pinned (CL_MEM_ALLOC_HOST_PTR, persistently mapped)
 * host slots and one device buffer per slot; a slot returns to the reader
 * as soon as its upload completes.
 *
 * Tile t is enqueued only after tile t - K is merged, so per-slot
 * resources of the op are never shared by two tiles in flight, and merging
 * in tile order keeps results deterministic.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "pipeline.h"
#include "reader.h"

enum slot_state { SLOT_FREE, SLOT_READING, SLOT_FILLED, SLOT_BUSY };

typedef struct slot {
    void *host;   /* where the reader writes (mapped pointer)            */
    void *alloc;  /* zero-copy: our page-aligned allocation              */
    cl_mem hbuf;  /* pinned or USE_HOST_PTR buffer                       */
    cl_mem dbuf;  /* what the kernel reads (hbuf when zero-copy)         */
    int mapped;   /* host may touch `host`                               */
    enum slot_state state;
    uint64_t tile;
    double read_t0, read_t1;
    cl_event up_ev, k_ev, done_ev;
    double enq_t; /* host time the tile was enqueued */
    /* the in-flight tile's read interval: read_t0/t1 belong to the reader,
     * which may refill the slot before the tile is merged */
    double tile_read_t0, tile_read_t1;
    int done;   /* done_ev completed */
    int failed; /* a command of this tile ended abnormally */
    struct pipe *pipe;
} slot;

typedef struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    unsigned nslots;
    int zero_copy;
    size_t slot_bytes;
    int abort;          /* stop reading: error or cancel               */
    int reader_status;
    char reader_msg[1024];
    int callbacks;      /* registered callbacks still to run           */
    h5cl_ctx *ctx;
    h5cl_dataset *ds;
    const h5cl_plan *plan;
    h5cl_reader *rd;
    double t0;          /* host seconds at the start of the run        */
} pipe;

/* ---- event callbacks (run on an OpenCL runtime thread) ---- */

/* Records a completion under the lock and wakes the reader and the
 * dispatcher.  tile_done: the tile's result is ready (else: its slot is
 * free for the reader). */
static void notify(slot *s, cl_int status, int tile_done)
{
    pipe *p = s->pipe;
    pthread_mutex_lock(&p->mu);
    if (status < 0)
        s->failed = 1;
    if (tile_done)
        s->done = 1;
    else
        s->state = SLOT_FREE;
    p->callbacks--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void CL_CALLBACK on_slot_free(cl_event ev, cl_int status, void *data)
{
    notify(data, status, 0);
}

static void CL_CALLBACK on_tile_done(cl_event ev, cl_int status, void *data)
{
    notify(data, status, 1);
}

static int watch(pipe *p, cl_event ev,
                 void(CL_CALLBACK *fn)(cl_event, cl_int, void *), slot *s)
{
    pthread_mutex_lock(&p->mu);
    p->callbacks++;
    pthread_mutex_unlock(&p->mu);
    cl_int err = clSetEventCallback(ev, CL_COMPLETE, fn, s);
    if (err != CL_SUCCESS) {
        pthread_mutex_lock(&p->mu);
        p->callbacks--;
        pthread_mutex_unlock(&p->mu);
        return h5cl_fail_cl(p->ctx, err, "clSetEventCallback",
                            "watching a tile's progress");
    }
    return H5CL_OK;
}

/* ---- the reader thread ---- */

static void *reader_main(void *arg)
{
    pipe *p = arg;
    const uint64_t n = p->plan->ntiles;
    for (uint64_t t = 0; t < n; t++) {
        slot *s = &p->slots[t % p->nslots];
        pthread_mutex_lock(&p->mu);
        while (s->state != SLOT_FREE && !p->abort)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        s->state = SLOT_READING;
        void *dst = s->host;
        pthread_mutex_unlock(&p->mu);

        h5cl_box box;
        h5cl_plan_tile(p->plan, t, &box);
        double t0 = h5cl_now();
        char msg[1024];
        int st = h5cl_reader_read(p->rd, &box, dst, msg, sizeof msg);
        double t1 = h5cl_now();

        pthread_mutex_lock(&p->mu);
        if (st != H5CL_OK) {
            p->reader_status = st;
            snprintf(p->reader_msg, sizeof p->reader_msg, "%s", msg);
            p->abort = 1;
            s->state = SLOT_FREE;
        } else {
            s->tile = t;
            s->read_t0 = t0 - p->t0;
            s->read_t1 = t1 - p->t0;
            s->state = SLOT_FILLED;
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (st != H5CL_OK)
            break;
    }
    return NULL;
}

/* ---- slots ---- */

static int slots_create(pipe *p)
{
    h5cl_ctx *ctx = p->ctx;
    h5cl_device *dev = &ctx->dev;
    cl_int err;
    /* fault injection for the tests: buffers above this size fail as if
     * the device were out of memory */
    const char *lim = getenv("H5CL_TEST_MAX_ALLOC");
    if (lim && *lim && p->slot_bytes > strtoull(lim, NULL, 10))
        return h5cl_fail_cl(ctx, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                            "clCreateBuffer",
                            "allocating a tile buffer (H5CL_TEST_MAX_ALLOC)");
    for (unsigned i = 0; i < p->nslots; i++) {
        slot *s = &p->slots[i];
        s->pipe = p;
        s->state = SLOT_FREE;
        if (p->zero_copy) {
            s->alloc = aligned_alloc(4096, p->slot_bytes);
            if (!s->alloc)
                return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                                 "cannot allocate a %zu-byte host slot",
                                 p->slot_bytes);
            s->hbuf = clCreateBuffer(dev->context,
                                     CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                                     p->slot_bytes, s->alloc, &err);
            if (!s->hbuf)
                return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                    "wrapping a host slot (zero-copy)");
            s->dbuf = s->hbuf;
            s->host = s->alloc;
            continue;
        }
        s->hbuf = clCreateBuffer(dev->context,
                                 CL_MEM_READ_ONLY | CL_MEM_ALLOC_HOST_PTR,
                                 p->slot_bytes, NULL, &err);
        if (!s->hbuf)
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating a pinned host slot");
        s->dbuf = clCreateBuffer(dev->context, CL_MEM_READ_ONLY, p->slot_bytes,
                                 NULL, &err);
        if (!s->dbuf)
            return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                "allocating a device tile buffer");
        /* mapped for the whole run: the pinned pages the reader fills */
        s->host = clEnqueueMapBuffer(dev->xfer, s->hbuf, CL_TRUE, CL_MAP_WRITE,
                                     0, p->slot_bytes, 0, NULL, NULL, &err);
        if (!s->host)
            return h5cl_fail_cl(ctx, err, "clEnqueueMapBuffer",
                                "mapping a pinned host slot");
        s->mapped = 1;
    }
    return H5CL_OK;
}

static void release_events(slot *s)
{
    cl_event *evs[] = {&s->up_ev, &s->k_ev, &s->done_ev};
    for (size_t i = 0; i < H5CL_ARRAY_LEN(evs); i++) {
        if (*evs[i])
            clReleaseEvent(*evs[i]);
        *evs[i] = NULL;
    }
}

static void slots_destroy(pipe *p)
{
    if (!p->slots)
        return;
    h5cl_device *dev = &p->ctx->dev;
    for (unsigned i = 0; i < p->nslots; i++) {
        slot *s = &p->slots[i];
        release_events(s);
        if (s->hbuf && s->mapped && s->host) {
            cl_event ev = NULL;
            if (clEnqueueUnmapMemObject(dev->xfer, s->hbuf, s->host, 0, NULL,
                                        &ev) == CL_SUCCESS) {
                clWaitForEvents(1, &ev);
                clReleaseEvent(ev);
            }
        }
        if (s->dbuf && s->dbuf != s->hbuf)
            clReleaseMemObject(s->dbuf);
        if (s->hbuf)
            clReleaseMemObject(s->hbuf);
        free(s->alloc);
    }
    free(p->slots);
    p->slots = NULL;
}

/* ---- timing ---- */

/* An event's execution interval in run seconds.  Device timestamps are
 * related to the host clock through the first command of the tile, whose
 * QUEUED time is (nearly) the host time it was enqueued at. */
static void event_span(const pipe *p, const slot *s, cl_event ev,
                       double fallback, double *b, double *e)
{
    cl_event first = s->up_ev ? s->up_ev : s->k_ev;
    cl_ulong q = 0, st = 0, f = 0;
    *b = *e = fallback;
    if (!ev ||
        clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_QUEUED, sizeof q,
                                &q, NULL) != CL_SUCCESS ||
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof st, &st,
                                NULL) != CL_SUCCESS ||
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof f, &f,
                                NULL) != CL_SUCCESS ||
        f < st || st < q)
        return;
    *b = s->enq_t + (double)(st - q) * 1e-9;
    *e = s->enq_t + (double)(f - q) * 1e-9;
}

/* ---- dispatch ---- */

static void tile_at(const h5cl_plan *plan, uint64_t t, h5cl_tile *tile)
{
    tile->index = t;
    h5cl_plan_tile(plan, t, &tile->box);
    tile->elems = h5cl_box_elems(&tile->box);
}

static int enqueue_tile(pipe *p, h5cl_op *op, uint64_t t)
{
    h5cl_ctx *ctx = p->ctx;
    unsigned si = (unsigned)(t % p->nslots);
    slot *s = &p->slots[si];
    h5cl_tile tile;
    tile_at(p->plan, t, &tile);
    size_t bytes = (size_t)(tile.elems * p->plan->elem_size);
    cl_int err;

    release_events(s);
    s->done = 0;
    s->failed = 0;
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_BUSY;
    pthread_mutex_unlock(&p->mu);
    s->enq_t = h5cl_now() - p->t0;
    s->tile_read_t0 = s->read_t0;
    s->tile_read_t1 = s->read_t1;
    if (!p->zero_copy) {
        err = clEnqueueWriteBuffer(ctx->dev.xfer, s->dbuf, CL_FALSE, 0, bytes,
                                   s->host, 0, NULL, &s->up_ev);
        if (err != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clEnqueueWriteBuffer",
                                "uploading a tile");
        int st = watch(p, s->up_ev, on_slot_free, s);
        if (st != H5CL_OK)
            return st;
    }
    int st = op->enqueue(op, ctx, si, &tile, s->dbuf, s->up_ev, &s->k_ev,
                         &s->done_ev);
    if (st != H5CL_OK)
        return st;
    /* zero-copy: the slot is the kernel's input until the kernel ends */
    if (p->zero_copy && (st = watch(p, s->k_ev, on_slot_free, s)) != H5CL_OK)
        return st;
    st = watch(p, s->done_ev, on_tile_done, s);
    if (st != H5CL_OK)
        return st;
    if ((err = clFlush(ctx->dev.xfer)) != CL_SUCCESS ||
        (err = clFlush(ctx->dev.comp)) != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clFlush", "submitting a tile");
    return H5CL_OK;
}

/* Merges tile t's result and accounts its stage times and bytes. */
static int retire_tile(pipe *p, h5cl_op *op, uint64_t t,
                       h5cl_run_summary *sum, h5cl_tile_timing *tt,
                       uint64_t *bytes_done)
{
    h5cl_ctx *ctx = p->ctx;
    unsigned si = (unsigned)(t % p->nslots);
    slot *s = &p->slots[si];
    if (s->failed)
        return h5cl_fail(ctx, H5CL_ERR_OPENCL,
                         "a command of tile %llu ended abnormally on %s "
                         "(upload, kernel or read-back of %s)",
                         (unsigned long long)t, ctx->dev.info.device_name,
                         p->ds->info.path);
    h5cl_tile tile;
    tile_at(p->plan, t, &tile);
    double m0 = h5cl_now() - p->t0;
    int st = op->merge(op, ctx, si, &tile);
    double m1 = h5cl_now() - p->t0;
    if (st != H5CL_OK)
        return st;

    h5cl_tile_timing lt;
    lt.tile = t;
    lt.bytes = tile.elems * p->plan->elem_size;
    lt.begin[H5CL_STAGE_READ] = s->tile_read_t0;
    lt.end[H5CL_STAGE_READ] = s->tile_read_t1;
    event_span(p, s, s->up_ev, s->enq_t, &lt.begin[H5CL_STAGE_UPLOAD],
               &lt.end[H5CL_STAGE_UPLOAD]);
    event_span(p, s, s->k_ev, m0, &lt.begin[H5CL_STAGE_KERNEL],
               &lt.end[H5CL_STAGE_KERNEL]);
    if (s->done_ev == s->k_ev) /* the op read nothing back */
        lt.begin[H5CL_STAGE_DOWNLOAD] = lt.end[H5CL_STAGE_DOWNLOAD] =
            lt.end[H5CL_STAGE_KERNEL];
    else
        event_span(p, s, s->done_ev, m0, &lt.begin[H5CL_STAGE_DOWNLOAD],
                   &lt.end[H5CL_STAGE_DOWNLOAD]);
    lt.begin[H5CL_STAGE_MERGE] = m0;
    lt.end[H5CL_STAGE_MERGE] = m1;
    for (int k = 0; k < H5CL_STAGE_COUNT; k++)
        sum->stage_seconds[k] += lt.end[k] - lt.begin[k];
    *bytes_done += lt.bytes;
    if (tt)
        *tt = lt;
    return H5CL_OK;
}

/* Waits for something the dispatcher can act on.  Returns with the mutex
 * unlocked; the flags say what is ready. */
static void wait_ready(pipe *p, uint64_t next_enq, uint64_t next_ret,
                       int *can_retire, int *can_enqueue)
{
    const uint64_t n = p->plan->ntiles;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        slot *r = &p->slots[next_ret % p->nslots];
        slot *e = &p->slots[next_enq % p->nslots];
        *can_retire = next_ret < next_enq && r->done;
        *can_enqueue = next_enq < n && next_enq - next_ret < p->nslots &&
                       e->state == SLOT_FILLED && e->tile == next_enq;
        if (*can_retire || *can_enqueue || p->abort ||
            atomic_load(&p->ctx->cancel))
            break;
        /* h5cl_cancel() only sets a flag (it must be signal-safe), so
         * wake up now and then to look at it */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
}

static int dispatch(pipe *p, h5cl_op *op, const h5cl_run_options *opts,
                    h5cl_run_summary *sum, h5cl_tile_timing *times)
{
    const uint64_t n = p->plan->ntiles;
    uint64_t next_enq = 0, next_ret = 0, bytes_done = 0;
    while (next_ret < n) {
        int can_retire, can_enqueue;
        wait_ready(p, next_enq, next_ret, &can_retire, &can_enqueue);
        if (atomic_load(&p->ctx->cancel))
            return h5cl_fail(p->ctx, H5CL_ERR_CANCELLED,
                             "cancelled after %llu of %llu tiles of %s",
                             (unsigned long long)next_ret,
                             (unsigned long long)n, p->ds->info.path);
        pthread_mutex_lock(&p->mu);
        int rst = p->reader_status;
        pthread_mutex_unlock(&p->mu);
        if (rst != H5CL_OK)
            return h5cl_fail(p->ctx, rst, "%s", p->reader_msg);
        int st;
        if (can_retire) {
            st = retire_tile(p, op, next_ret, sum,
                             times ? &times[next_ret] : NULL, &bytes_done);
            if (st != H5CL_OK)
                return st;
            next_ret++;
            if (opts->progress &&
                opts->progress(next_ret, n, bytes_done, opts->progress_user))
                return h5cl_fail(p->ctx, H5CL_ERR_CANCELLED,
                                 "cancelled by the progress callback after "
                                 "%llu of %llu tiles",
                                 (unsigned long long)next_ret,
                                 (unsigned long long)n);
        } else if (can_enqueue) {
            st = enqueue_tile(p, op, next_enq);
            if (st != H5CL_OK)
                return st;
            next_enq++;
        }
    }
    return H5CL_OK;
}

/* Stops the reader, drains both queues and waits until no callback can
 * touch the slots any more. */
static void drain(pipe *p, pthread_t *reader)
{
    pthread_mutex_lock(&p->mu);
    p->abort = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (reader)
        pthread_join(*reader, NULL);
    clFinish(p->ctx->dev.xfer);
    clFinish(p->ctx->dev.comp);
    pthread_mutex_lock(&p->mu);
    while (p->callbacks > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int h5cl_pipeline_run(h5cl_ctx *ctx, h5cl_dataset *ds, const h5cl_plan *plan,
                      unsigned slots, h5cl_op *op,
                      const h5cl_run_options *opts, h5cl_run_summary *sum,
                      h5cl_tile_timing **times_ret)
{
    *times_ret = NULL;
    pipe p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.ctx = ctx;
    p.ds = ds;
    p.plan = plan;
    p.nslots = slots;
    p.zero_copy = h5cl_device_zero_copy(&ctx->dev);
    /* whole pages, so USE_HOST_PTR memory can be used in place */
    size_t need = (size_t)(plan->max_tile_elems * plan->elem_size);
    p.slot_bytes = (need + 4095) / 4096 * 4096;
    if (p.slot_bytes == 0)
        p.slot_bytes = 4096;
    p.t0 = h5cl_now();
    sum->zero_copy = p.zero_copy;

    h5cl_tile_timing *times = NULL;
    pthread_t reader;
    int reader_started = 0, op_ready = 0;
    int st = H5CL_OK;
    if ((opts->trace_path || opts->timeline) && plan->ntiles) {
        times = calloc((size_t)plan->ntiles, sizeof *times);
        if (!times)
            st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                           "out of memory for the timeline of %llu tiles",
                           (unsigned long long)plan->ntiles);
    }
    if (st == H5CL_OK) {
        p.slots = calloc(slots, sizeof *p.slots);
        st = p.slots ? slots_create(&p)
                     : h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    if (st == H5CL_OK)
        st = h5cl_reader_open(ctx, ds, &p.rd);
    if (st == H5CL_OK) {
        st = op->setup(op, ctx, plan, slots);
        op_ready = st == H5CL_OK;
    }
    if (st == H5CL_OK) {
        p.t0 = h5cl_now();
        if (pthread_create(&reader, NULL, reader_main, &p) != 0)
            st = h5cl_fail(ctx, H5CL_ERR_THREAD,
                           "cannot start the reader thread");
        else
            reader_started = 1;
    }
    if (st == H5CL_OK)
        st = dispatch(&p, op, opts, sum, times);
    double wall = h5cl_now() - p.t0;
    drain(&p, reader_started ? &reader : NULL);

    if (st == H5CL_OK) {
        double busiest = 0;
        for (int k = 0; k < H5CL_STAGE_COUNT; k++)
            if (sum->stage_seconds[k] > busiest)
                busiest = sum->stage_seconds[k];
        sum->seconds = wall;
        sum->overlap = busiest > 0 ? wall / busiest : 1.0;
        sum->tiles = plan->ntiles;
        sum->slots = slots;
        sum->bytes = h5cl_box_elems(&plan->sel) * plan->elem_size;
        if (opts->trace_path)
            st = h5cl_trace_write(ctx, opts->trace_path, times,
                                  (size_t)plan->ntiles, sum,
                                  ctx->dev.info.device_name, ds->info.path);
    }
    if (st == H5CL_OK && opts->timeline) {
        *times_ret = times;
        times = NULL;
    }
    if (op_ready)
        op->teardown(op);
    h5cl_reader_close(p.rd);
    slots_destroy(&p);
    free(times);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return st;
}
