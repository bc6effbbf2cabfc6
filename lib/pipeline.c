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
 * On such devices a tile that is one long run of the file is not even
 * read: the reader maps it (direct.h, mapping.h) and the kernel reads the
 * page cache in place through a USE_HOST_PTR buffer made for the tile,
 * which saves the copy that competed with the kernel for the cores.  Such
 * a slot stays busy until its tile is retired, where a mapping that
 * faulted (the file shrank) fails the run with H5CL_ERR_IO and the
 * mapping is released.
 * Other devices get pinned (CL_MEM_ALLOC_HOST_PTR, persistently mapped)
 * host slots and one device buffer per slot; a slot returns to the reader
 * as soon as its upload completes.
 * The slot buffers are the context's (slots.h): a run takes them from its
 * cache and gives them back when it succeeds, so runs on one context
 * reuse them instead of making pinned memory every run.
 *
 * Several inputs of one shape share the plan: a slot holds one buffer per
 * input, the reader fills them all for its tile, and the uploads run back
 * to back on the transfer queue.  With an output, a slot also holds the
 * tile's result: the kernel writes it (in place on zero-copy devices, else
 * a read-back follows on the compute queue), the dispatcher hands it to a
 * writer thread when the tile is retired, and the slot is reused only once
 * the writer has stored it, so writing overlaps the computing of later
 * tiles.
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
#include "slots.h"
#include "writer.h"

enum slot_state { SLOT_FREE, SLOT_READING, SLOT_FILLED, SLOT_BUSY };
/* The output buffer: free, being computed into, or handed to the writer. */
enum { OUT_FREE, OUT_COMPUTING, OUT_WRITING };

/* One tile buffer: a slot buffer (slots.h), taken from the context's
 * cache for the run, and the tile in flight when it is mapped from the
 * file instead. */
typedef struct buf {
    h5cl_slot_buf sb;
    h5cl_mapping *file_map; /* the tile in flight, in the file's view    */
    const void *file_data;  /* its address there                         */
    size_t file_bytes;
    cl_mem file_mem;        /* ... and wrapped for the kernel            */
} buf;

typedef struct slot {
    buf *in;      /* one per input                                       */
    buf out;      /* the tile's output, when the run writes              */
    enum slot_state state;
    int out_busy; /* OUT_*: where the slot's output buffer is            */
    uint64_t out_tile; /* the tile whose output the writer is to store   */
    uint64_t tile;
    double read_t0, read_t1;
    cl_event up_first, up_ev, k_ev, done_ev, out_ev;
    double enq_t; /* host time the tile was enqueued */
    /* the in-flight tile's read interval: read_t0/t1 belong to the reader,
     * which may refill the slot before the tile is merged */
    double tile_read_t0, tile_read_t1;
    int done;   /* the tile's last event completed */
    int file_mapped; /* an input of the in-flight tile is mapped from the
                      * file: the slot is freed when the tile is retired */
    int failed; /* a command of this tile ended abnormally */
    struct pipe *pipe;
} slot;

typedef struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    unsigned nslots;
    int zero_copy;
    int isolated;       /* an input is read by the reader child        */
    size_t *in_bytes;   /* per input: bytes of a slot buffer           */
    size_t out_bytes;
    uint64_t in_elem_bytes; /* bytes of one element of every input     */
    int abort;          /* stop reading and writing: error or cancel   */
    int reader_status;
    char reader_msg[1024];
    int writer_status;
    char writer_msg[1024];
    uint64_t written;   /* tiles the writer has stored                 */
    int callbacks;      /* registered callbacks still to run           */
    h5cl_ctx *ctx;
    const h5cl_stream *stream;
    const h5cl_plan *plan;
    h5cl_reader **rd;   /* one per input                               */
    h5cl_pool *pool;    /* threads of direct reads; NULL: none        */
    int map_files;      /* zero-copy and allowed: tiles may be mapped  */
    h5cl_run_summary *sum;
    h5cl_tile_timing *times;
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
        pthread_mutex_unlock(&p->mu);

        h5cl_box box;
        h5cl_plan_tile(p->plan, t, &box);
        double t0 = h5cl_now();
        char msg[1024];
        int st = H5CL_OK;
        for (size_t i = 0; i < p->stream->ninputs && st == H5CL_OK; i++) {
            st = p->map_files ? h5cl_reader_map(p->rd[i], &box,
                                                &s->in[i].file_map,
                                                &s->in[i].file_data, msg,
                                                sizeof msg)
                              : 1;
            if (st == 1)
                st = h5cl_reader_read(p->rd[i], p->pool, &box, s->in[i].sb.host,
                                      msg, sizeof msg);
        }
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

/* ---- the writer thread ---- */

/* The output's part of an input box: the box itself, or its rows with
 * out_cols values each. */
static void out_box(const h5cl_stream *sm, const h5cl_box *in,
                    h5cl_box *out)
{
    *out = *in;
    if (sm->out_cols && in->rank > 0)
        out->count[in->rank - 1] = sm->out_cols;
}

static uint64_t out_elems(const h5cl_stream *sm, const h5cl_box *in)
{
    h5cl_box b;
    out_box(sm, in, &b);
    return h5cl_box_elems(&b);
}

/* Stores output tiles in tile order as the dispatcher retires them, so a
 * slow disk holds back only the slots it has not written yet. */
static void *writer_main(void *arg)
{
    pipe *p = arg;
    const uint64_t n = p->plan->ntiles;
    for (uint64_t t = 0; t < n; t++) {
        slot *s = &p->slots[t % p->nslots];
        pthread_mutex_lock(&p->mu);
        while (!(s->out_busy == OUT_WRITING && s->out_tile == t) && !p->abort)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->abort) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        pthread_mutex_unlock(&p->mu);

        h5cl_box in, box;
        h5cl_plan_tile(p->plan, t, &in);
        out_box(p->stream, &in, &box);
        char msg[1024];
        double t0 = h5cl_now();
        int st = h5cl_writer_write(p->stream->writer, &box, s->out.sb.host, msg,
                                   sizeof msg);
        double t1 = h5cl_now();

        pthread_mutex_lock(&p->mu);
        if (st != H5CL_OK) {
            p->writer_status = st;
            snprintf(p->writer_msg, sizeof p->writer_msg, "%s", msg);
            p->abort = 1;
        } else {
            s->out_busy = OUT_FREE;
            p->written = t + 1;
            p->sum->stage_seconds[H5CL_STAGE_WRITE] += t1 - t0;
            if (p->times) {
                p->times[t].begin[H5CL_STAGE_WRITE] = t0 - p->t0;
                p->times[t].end[H5CL_STAGE_WRITE] = t1 - p->t0;
            }
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (st != H5CL_OK)
            break;
    }
    return NULL;
}

/* ---- slots ---- */

/* Lets go of the tile mapped into b, once no command uses it. */
static void buf_unmap_file(buf *b)
{
    if (b->file_mem)
        clReleaseMemObject(b->file_mem);
    h5cl_view_put(b->file_map, b->file_data, b->file_bytes);
    b->file_mem = NULL;
    b->file_map = NULL;
    b->file_data = NULL;
    b->file_bytes = 0;
}

/* Lets go of b: its buffer goes back to the context's cache after a run
 * that succeeded (every buffer is whole and idle then), else is freed.
 * The output buffer of a run that writes nothing is empty. */
static void buf_release(pipe *p, buf *b, int keep)
{
    buf_unmap_file(b);
    if (keep && b->sb.hbuf)
        h5cl_slot_give(p->ctx, &b->sb);
    else
        h5cl_slot_free(p->ctx, &b->sb);
}

/* Gives every buffer of the run's slots a cached buffer that fits
 * (make = 0), or a new one (make = 1) to those still without. */
static int slots_fill(pipe *p, int make)
{
    const h5cl_slot_kind in = {p->zero_copy, p->isolated, CL_MEM_READ_ONLY};
    const h5cl_slot_kind out = {p->zero_copy, 0, CL_MEM_WRITE_ONLY};
    for (unsigned k = 0; k < p->nslots; k++) {
        slot *s = &p->slots[k];
        for (size_t i = 0; i <= p->stream->ninputs; i++) {
            const int is_out = i == p->stream->ninputs;
            if (is_out && !p->stream->writer)
                break;
            buf *b = is_out ? &s->out : &s->in[i];
            const h5cl_slot_kind *kind = is_out ? &out : &in;
            const size_t bytes = is_out ? p->out_bytes : p->in_bytes[i];
            if (b->sb.hbuf)
                continue;
            if (!make) {
                h5cl_slot_reuse(p->ctx, kind, bytes, &b->sb);
                continue;
            }
            int st = h5cl_slot_make(p->ctx, kind, bytes,
                                    is_out ? "allocating an output slot"
                                           : "allocating an input slot",
                                    &b->sb);
            if (st != H5CL_OK)
                return st;
        }
    }
    return H5CL_OK;
}

/* The run's slot buffers, by the context cache's rule (slots.h): the
 * cached ones that fit first; the cached ones left are freed before new
 * ones are made, so the run never holds more than it uses. */
static int slots_create(pipe *p)
{
    h5cl_ctx *ctx = p->ctx;
    /* fault injection for the tests: buffers above this size fail as if
     * the device were out of memory */
    const char *lim = getenv("H5CL_TEST_MAX_ALLOC");
    for (size_t i = 0; i < p->stream->ninputs; i++)
        if (lim && *lim && p->in_bytes[i] > strtoull(lim, NULL, 10))
            return h5cl_fail_cl(ctx, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                                "clCreateBuffer",
                                "allocating a tile buffer (H5CL_TEST_MAX_ALLOC)");
    for (unsigned k = 0; k < p->nslots; k++) {
        slot *s = &p->slots[k];
        s->pipe = p;
        s->state = SLOT_FREE;
        s->in = calloc(p->stream->ninputs, sizeof *s->in);
        if (!s->in)
            return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    slots_fill(p, 0);
    h5cl_slot_trim(ctx);
    return slots_fill(p, 1);
}

static void release_events(slot *s)
{
    cl_event *evs[] = {&s->up_first, &s->up_ev, &s->k_ev, &s->done_ev,
                       &s->out_ev};
    for (size_t i = 0; i < H5CL_ARRAY_LEN(evs); i++) {
        if (*evs[i])
            clReleaseEvent(*evs[i]);
        *evs[i] = NULL;
    }
}

static void slots_destroy(pipe *p, int keep)
{
    if (!p->slots)
        return;
    for (unsigned k = 0; k < p->nslots; k++) {
        slot *s = &p->slots[k];
        release_events(s);
        for (size_t i = 0; s->in && i < p->stream->ninputs; i++)
            buf_release(p, &s->in[i], keep);
        free(s->in);
        buf_release(p, &s->out, keep);
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
    cl_event first = s->up_first ? s->up_first : s->k_ev;
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

static int is_read_back(cl_event ev)
{
    cl_command_type t = 0;
    return ev &&
           clGetEventInfo(ev, CL_EVENT_COMMAND_TYPE, sizeof t, &t, NULL) ==
               CL_SUCCESS &&
           t == CL_COMMAND_READ_BUFFER;
}

/* ---- dispatch ---- */

static void tile_at(const h5cl_ctx *ctx, const h5cl_plan *plan, uint64_t t,
                    h5cl_tile *tile)
{
    tile->index = t;
    h5cl_plan_tile(plan, t, &tile->box);
    tile->elems = h5cl_box_elems(&tile->box);
    tile->queue = ctx->dev.comp2 && (t & 1) ? ctx->dev.comp2 : ctx->dev.comp;
}

static int enqueue_tile(pipe *p, h5cl_op *op, uint64_t t)
{
    h5cl_ctx *ctx = p->ctx;
    unsigned si = (unsigned)(t % p->nslots);
    slot *s = &p->slots[si];
    const h5cl_stream *sm = p->stream;
    h5cl_tile tile;
    tile_at(p->ctx, p->plan, t, &tile);
    cl_int err;
    int st;

    release_events(s);
    s->done = 0;
    s->failed = 0;
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_BUSY;
    if (sm->writer)
        s->out_busy = OUT_COMPUTING;
    pthread_mutex_unlock(&p->mu);
    s->enq_t = h5cl_now() - p->t0;
    s->tile_read_t0 = s->read_t0;
    s->tile_read_t1 = s->read_t1;
    cl_mem inputs[H5CL_MAX_INPUTS];
    s->file_mapped = 0;
    for (size_t i = 0; i < sm->ninputs; i++) {
        inputs[i] = s->in[i].sb.dbuf;
        if (s->in[i].file_map) {
            /* READ_ONLY: the pages are mapped PROT_READ */
            size_t bytes = (size_t)(tile.elems *
                                    h5cl_dtype_size(sm->inputs[i]->info.dtype));
            s->in[i].file_bytes = bytes;
            s->in[i].file_mem = clCreateBuffer(
                ctx->dev.context, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, bytes,
                (void *)s->in[i].file_data, &err);
            if (!s->in[i].file_mem)
                return h5cl_fail_cl(ctx, err, "clCreateBuffer",
                                    "wrapping a tile mapped from the file");
            inputs[i] = s->in[i].file_mem;
            s->file_mapped = 1;
        }
        if (p->zero_copy)
            continue;
        /* back to back on the in-order transfer queue: the last upload's
         * event stands for all of them */
        size_t bytes =
            (size_t)(tile.elems * h5cl_dtype_size(sm->inputs[i]->info.dtype));
        cl_event ev;
        err = clEnqueueWriteBuffer(ctx->dev.xfer, s->in[i].sb.dbuf, CL_FALSE, 0,
                                   bytes, s->in[i].sb.host, 0, NULL, &ev);
        if (err != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clEnqueueWriteBuffer",
                                "uploading a tile");
        /* up_first (for timing) and up_ev each hold a reference */
        if (s->up_ev)
            clReleaseEvent(s->up_ev);
        else if (clRetainEvent(ev) == CL_SUCCESS)
            s->up_first = ev;
        s->up_ev = ev;
    }
    if (s->up_ev && (st = watch(p, s->up_ev, on_slot_free, s)) != H5CL_OK)
        return st;
    st = op->enqueue(op, ctx, si, &tile, inputs,
                     sm->writer ? s->out.sb.dbuf : NULL, s->up_ev, &s->k_ev,
                     &s->done_ev);
    if (st != H5CL_OK)
        return st;
    /* zero-copy: the slot is the kernel's input until the kernel ends;
     * with a file mapping, until the tile is retired (retire_tile) */
    if (p->zero_copy && !s->file_mapped &&
        (st = watch(p, s->k_ev, on_slot_free, s)) != H5CL_OK)
        return st;
    cl_event last = s->done_ev;
    if (sm->writer && !p->zero_copy) {
        err = clEnqueueReadBuffer(ctx->dev.comp, s->out.sb.dbuf, CL_FALSE, 0,
                                  (size_t)(out_elems(sm, &tile.box) *
                                           sm->out_elem_size),
                                  s->out.sb.host, 1, &s->done_ev, &s->out_ev);
        if (err != CL_SUCCESS)
            return h5cl_fail_cl(ctx, err, "clEnqueueReadBuffer",
                                "reading an output tile back");
        last = s->out_ev;
    }
    st = watch(p, last, on_tile_done, s);
    if (st != H5CL_OK)
        return st;
    if ((err = clFlush(ctx->dev.xfer)) != CL_SUCCESS ||
        (err = clFlush(tile.queue)) != CL_SUCCESS ||
        (tile.queue != ctx->dev.comp &&
         (err = clFlush(ctx->dev.comp)) != CL_SUCCESS))
        return h5cl_fail_cl(ctx, err, "clFlush", "submitting a tile");
    return H5CL_OK;
}

/* The tile's kernels are done: a mapped input that faulted was read as
 * zeros, so the run fails; either way the mappings go and the slot is
 * the reader's again. */
static int retire_file_maps(pipe *p, slot *s, const h5cl_tile *tile)
{
    /* a tile that was read freed its slot when its kernel ended: the
     * mappings there now may be the next tile's */
    if (!s->file_mapped)
        return H5CL_OK;
    int faulted = -1;
    for (size_t i = 0; i < p->stream->ninputs; i++) {
        if (!s->in[i].file_map)
            continue;
        if (faulted < 0 && h5cl_mapping_faulted(s->in[i].file_map))
            faulted = (int)i;
        buf_unmap_file(&s->in[i]);
    }
    s->file_mapped = 0;
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_FREE;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (faulted < 0)
        return H5CL_OK;
    const h5cl_dataset_info *in = &p->stream->inputs[faulted]->info;
    char where[256];
    h5cl_box_text(&tile->box, where, sizeof where);
    return h5cl_fail(p->ctx, H5CL_ERR_IO,
                     "%s shrank while [%s] of %s was read from its mapped "
                     "pages (SIGBUS caught): the file was truncated",
                     in->file, where, in->path);
}

/* Merges tile t's result, accounts its stage times and bytes, and hands
 * its output to the writer. */
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
                         p->stream->inputs[0]->info.path);
    h5cl_tile tile;
    tile_at(p->ctx, p->plan, t, &tile);
    int st = retire_file_maps(p, s, &tile);
    if (st != H5CL_OK)
        return st;
    double m0 = h5cl_now() - p->t0;
    st = op->merge ? op->merge(op, ctx, si, &tile) : H5CL_OK;
    double m1 = h5cl_now() - p->t0;
    if (st != H5CL_OK)
        return st;

    h5cl_tile_timing lt;
    memset(&lt, 0, sizeof lt);
    lt.tile = t;
    lt.bytes = tile.elems * p->in_elem_bytes;
    lt.begin[H5CL_STAGE_READ] = s->tile_read_t0;
    lt.end[H5CL_STAGE_READ] = s->tile_read_t1;
    event_span(p, s, s->up_first, s->enq_t, &lt.begin[H5CL_STAGE_UPLOAD],
               &lt.end[H5CL_STAGE_UPLOAD]);
    if (s->up_ev != s->up_first) {
        double b, e;
        event_span(p, s, s->up_ev, s->enq_t, &b, &e);
        lt.end[H5CL_STAGE_UPLOAD] = e;
    }
    /* kernels: from the op's first kernel to its last command, unless
     * that is a read-back, which is the download */
    double b, e, kb, ke;
    event_span(p, s, s->k_ev, m0, &kb, &ke);
    event_span(p, s, s->done_ev, m0, &b, &e);
    lt.begin[H5CL_STAGE_KERNEL] = kb;
    if (is_read_back(s->done_ev)) {
        lt.end[H5CL_STAGE_KERNEL] = b > kb ? b : ke;
        lt.begin[H5CL_STAGE_DOWNLOAD] = b;
        lt.end[H5CL_STAGE_DOWNLOAD] = e;
    } else {
        lt.end[H5CL_STAGE_KERNEL] = e;
        lt.begin[H5CL_STAGE_DOWNLOAD] = lt.end[H5CL_STAGE_DOWNLOAD] = e;
    }
    if (s->out_ev) {
        event_span(p, s, s->out_ev, m0, &b, &e);
        if (lt.begin[H5CL_STAGE_DOWNLOAD] == lt.end[H5CL_STAGE_DOWNLOAD])
            lt.begin[H5CL_STAGE_DOWNLOAD] = b;
        lt.end[H5CL_STAGE_DOWNLOAD] = e;
    }
    lt.begin[H5CL_STAGE_MERGE] = m0;
    lt.end[H5CL_STAGE_MERGE] = m1;
    lt.begin[H5CL_STAGE_WRITE] = lt.end[H5CL_STAGE_WRITE] = m1;
    for (int k = 0; k < H5CL_STAGE_WRITE; k++)
        sum->stage_seconds[k] += lt.end[k] - lt.begin[k];
    *bytes_done += lt.bytes;
    pthread_mutex_lock(&p->mu);
    if (tt)
        *tt = lt;
    if (p->stream->writer) {
        s->out_tile = t;
        s->out_busy = OUT_WRITING;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return H5CL_OK;
}

/* Waits for something the dispatcher can act on.  Returns with the mutex
 * unlocked; the flags say what is ready.  After the last tile is retired,
 * waits for the writer to store everything. */
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
                       e->state == SLOT_FILLED && e->tile == next_enq &&
                       e->out_busy == OUT_FREE;
        int finished = next_ret == n &&
                       (!p->stream->writer || p->written == n);
        if (*can_retire || *can_enqueue || finished || p->abort ||
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
    const char *path = p->stream->inputs[0]->info.path;
    uint64_t next_enq = 0, next_ret = 0, bytes_done = 0;
    for (;;) {
        int can_retire, can_enqueue;
        wait_ready(p, next_enq, next_ret, &can_retire, &can_enqueue);
        if (atomic_load(&p->ctx->cancel))
            return h5cl_fail(p->ctx, H5CL_ERR_CANCELLED,
                             "cancelled after %llu of %llu tiles of %s",
                             (unsigned long long)next_ret,
                             (unsigned long long)n, path);
        pthread_mutex_lock(&p->mu);
        int rst = p->reader_status, wst = p->writer_status;
        uint64_t written = p->written;
        pthread_mutex_unlock(&p->mu);
        if (rst != H5CL_OK)
            return h5cl_fail(p->ctx, rst, "%s", p->reader_msg);
        if (wst != H5CL_OK)
            return h5cl_fail(p->ctx, wst, "%s", p->writer_msg);
        if (next_ret == n && (!p->stream->writer || written == n))
            return H5CL_OK;
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
}

/* Stops the reader and writer, drains both queues and waits until no
 * callback can touch the slots any more. */
static void drain(pipe *p, pthread_t *reader, pthread_t *writer)
{
    pthread_mutex_lock(&p->mu);
    p->abort = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (reader)
        pthread_join(*reader, NULL);
    if (writer)
        pthread_join(*writer, NULL);
    clFinish(p->ctx->dev.xfer);
    clFinish(p->ctx->dev.comp);
    if (p->ctx->dev.comp2)
        clFinish(p->ctx->dev.comp2);
    pthread_mutex_lock(&p->mu);
    while (p->callbacks > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Sizes the slot buffers and opens a reader per input. */
static int pipe_prepare(pipe *p)
{
    const h5cl_stream *sm = p->stream;
    h5cl_ctx *ctx = p->ctx;
    /* whole pages, so USE_HOST_PTR memory can be used in place */
    const uint64_t elems = p->plan->max_tile_elems ? p->plan->max_tile_elems : 1;
    p->in_bytes = calloc(sm->ninputs, sizeof *p->in_bytes);
    p->rd = calloc(sm->ninputs, sizeof *p->rd);
    p->slots = calloc(p->nslots, sizeof *p->slots);
    if (!p->in_bytes || !p->rd || !p->slots)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < sm->ninputs; i++) {
        size_t es = h5cl_dtype_size(sm->inputs[i]->info.dtype);
        p->in_bytes[i] = (size_t)((elems * es + 4095) / 4096 * 4096);
        p->in_elem_bytes += es;
    }
    uint64_t out = elems;
    if (sm->out_cols && p->plan->sel.rank > 0) {
        const int last = p->plan->sel.rank - 1;
        const uint64_t cols = p->plan->sel.count[last];
        out = cols ? elems / cols * sm->out_cols : 0;
    }
    p->out_bytes = (size_t)((out * sm->out_elem_size + 4095) / 4096 * 4096);
    if (p->out_bytes == 0)
        p->out_bytes = 4096;
    int st = slots_create(p);
    int direct = 0, map = 0;
    for (size_t i = 0; i < sm->ninputs && st == H5CL_OK; i++) {
        st = h5cl_reader_open(ctx, sm->inputs[i], &p->rd[i]);
        direct |= st == H5CL_OK && h5cl_reader_can_direct(p->rd[i]);
        map |= st == H5CL_OK && h5cl_reader_can_map(p->rd[i]);
    }
    /* which tiles qualify (and H5CL_MMAP) is direct.c's to say */
    p->map_files = map && p->zero_copy;
    if (st == H5CL_OK && direct &&
        h5cl_pool_create(h5cl_pool_default_threads(), &p->pool) != 0)
        st = h5cl_fail(ctx, H5CL_ERR_THREAD,
                       "cannot start the threads that read the file");
    return st;
}

/* keep: the run succeeded, so its slot buffers stay cached for the next
 * run; after a failure the cache is emptied (slots.h), which also gives a
 * retry with smaller tiles the device memory back. */
static void pipe_release(pipe *p, int keep)
{
    h5cl_pool_destroy(p->pool);
    for (size_t i = 0; p->rd && i < p->stream->ninputs; i++)
        h5cl_reader_close(p->rd[i]);
    slots_destroy(p, keep);
    if (!keep)
        h5cl_slot_trim(p->ctx);
    free(p->rd);
    free(p->in_bytes);
}

int h5cl_pipeline_run(h5cl_ctx *ctx, const h5cl_stream *stream,
                      const h5cl_plan *plan, unsigned slots, h5cl_op *op,
                      const h5cl_run_options *opts, h5cl_run_summary *sum,
                      h5cl_tile_timing **times_ret)
{
    *times_ret = NULL;
    pipe p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.ctx = ctx;
    p.stream = stream;
    p.plan = plan;
    p.nslots = slots;
    p.sum = sum;
    p.zero_copy = h5cl_device_zero_copy(&ctx->dev);
    for (size_t i = 0; i < stream->ninputs; i++)
        p.isolated |= stream->inputs[i]->remote != NULL;
    p.t0 = h5cl_now();
    sum->zero_copy = p.zero_copy;

    pthread_t reader, writer;
    int reader_started = 0, writer_started = 0, op_ready = 0;
    int st = H5CL_OK;
    if ((opts->trace_path || opts->timeline) && plan->ntiles) {
        p.times = calloc((size_t)plan->ntiles, sizeof *p.times);
        if (!p.times)
            st = h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                           "out of memory for the timeline of %llu tiles",
                           (unsigned long long)plan->ntiles);
    }
    if (st == H5CL_OK)
        st = pipe_prepare(&p);
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
    if (st == H5CL_OK && stream->writer) {
        if (pthread_create(&writer, NULL, writer_main, &p) != 0)
            st = h5cl_fail(ctx, H5CL_ERR_THREAD,
                           "cannot start the writer thread");
        else
            writer_started = 1;
    }
    if (st == H5CL_OK)
        st = dispatch(&p, op, opts, sum, p.times);
    double wall = h5cl_now() - p.t0;
    drain(&p, reader_started ? &reader : NULL, writer_started ? &writer : NULL);

    if (st == H5CL_OK) {
        double busiest = 0;
        for (int k = 0; k < H5CL_STAGE_COUNT; k++)
            if (sum->stage_seconds[k] > busiest)
                busiest = sum->stage_seconds[k];
        uint64_t elems = h5cl_box_elems(&plan->sel);
        sum->seconds = wall;
        sum->overlap = busiest > 0 ? wall / busiest : 1.0;
        sum->tiles = plan->ntiles;
        sum->slots = slots;
        sum->bytes = elems * p.in_elem_bytes;
        sum->bytes_written =
            stream->writer ? out_elems(stream, &plan->sel) * stream->out_elem_size
                           : 0;
        sum->bytes_direct = 0;
        for (size_t i = 0; i < stream->ninputs; i++)
            sum->bytes_direct += h5cl_reader_bytes_direct(p.rd[i]);
        sum->read_threads = 1;
        for (size_t i = 0; i < stream->ninputs; i++) {
            unsigned t = h5cl_reader_threads(p.rd[i], p.pool);
            if (t > sum->read_threads)
                sum->read_threads = t;
        }
        sum->bytes_mapped = 0;
        for (size_t i = 0; i < stream->ninputs; i++)
            sum->bytes_mapped += h5cl_reader_bytes_mapped(p.rd[i]);
        if (opts->trace_path)
            st = h5cl_trace_write(ctx, opts->trace_path, p.times,
                                  (size_t)plan->ntiles, sum,
                                  ctx->dev.info.device_name,
                                  stream->inputs[0]->info.path);
    }
    if (st == H5CL_OK && opts->timeline) {
        *times_ret = p.times;
        p.times = NULL;
    }
    if (op_ready)
        op->teardown(op);
    pipe_release(&p, st == H5CL_OK);
    free(p.times);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return st;
}
