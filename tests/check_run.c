/*
 * Runs: the progress callback (monotonic, totals, cancelling), h5cl_cancel
 * from another thread mid-run and before a run, the run summary, the
 * Chrome trace file, worker threads gone when a run returns, contexts used
 * concurrently from separate threads, and many runs on one context.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"

/* A 1-D float64 dataset of n elements (contiguous or chunked). */
static h5cl_dataset *make(h5cl_ctx *ctx, tu_array *a, uint64_t n, int chunked,
                          const char *file, uint64_t seed)
{
    tu_write_opts w;
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(a, &r, 0.01);
    tu_plant_extrema(a, &r);
    tu_write_opts_init(&w);
    if (chunked) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        w.chunk[0] = 512;
    }
    tu_write(tu_path(file), "/x", a, &w);
    return tu_open(ctx, tu_path(file), "/x");
}

/* ---- progress ------------------------------------------------------------- */

typedef struct progress_log {
    uint64_t calls, last_done, total, last_bytes;
    int bad_order, bad_total;
    uint64_t cancel_at; /* return non-zero when tiles_done reaches it */
    uint64_t calls_after_cancel;
    int cancelled;
} progress_log;

static int on_progress(uint64_t done, uint64_t total, uint64_t bytes, void *user)
{
    progress_log *p = user;
    if (p->cancelled)
        p->calls_after_cancel++;
    if (p->calls && (done <= p->last_done || bytes < p->last_bytes))
        p->bad_order = 1;
    if (p->calls && total != p->total)
        p->bad_total = 1;
    if (done > total)
        p->bad_total = 1;
    p->calls++;
    p->last_done = done;
    p->last_bytes = bytes;
    p->total = total;
    if (p->cancel_at && done >= p->cancel_at) {
        p->cancelled = 1;
        return 1;
    }
    return 0;
}

START_TEST(test_progress)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 20000, _i, "p.h5", 1);
    h5cl_run_options o;
    progress_log p;
    const h5cl_run_summary *s;
    h5cl_stats *st;
    memset(&p, 0, sizeof p);
    h5cl_run_options_init(&o);
    o.tile_bytes = 8000;
    o.slots = 2;
    o.progress = on_progress;
    o.progress_user = &p;
    st = tu_compute(ds, &o, "progress");
    s = h5cl_stats_summary(st);
    ck_assert_msg(p.calls == s->tiles, "%llu progress calls for %llu tiles",
                  (unsigned long long)p.calls, (unsigned long long)s->tiles);
    ck_assert_msg(!p.bad_order, "tiles_done or bytes_done went backwards");
    ck_assert_msg(!p.bad_total, "tiles_total changed or was exceeded");
    ck_assert_uint_eq(p.last_done, s->tiles);
    ck_assert_uint_eq(p.total, s->tiles);
    ck_assert_uint_eq(p.last_bytes, s->bytes);
    ck_assert_uint_eq(s->bytes, 20000 * 8);
    ck_assert_uint_ge(s->tiles, 20);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "with progress");
}
END_TEST

START_TEST(test_progress_cancel)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 20000, _i, "pc.h5", 2);
    h5cl_run_options o;
    progress_log p;
    h5cl_stats *st = (h5cl_stats *)&st;
    int rc;
    memset(&p, 0, sizeof p);
    p.cancel_at = 3;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4000;
    o.slots = 3;
    o.progress = on_progress;
    o.progress_user = &p;
    rc = h5cl_stats_compute(ds, &o, &st);
    ck_assert_msg(rc == H5CL_ERR_CANCELLED, "callback cancel: %s", h5cl_errname(rc));
    ck_assert_ptr_null(st);
    ck_assert_int_eq(h5cl_ctx_errcode(tu_ctx), H5CL_ERR_CANCELLED);
    ck_assert_msg(p.calls_after_cancel == 0, "progress called %llu times after cancelling",
                  (unsigned long long)p.calls_after_cancel);
    ck_assert_uint_lt(p.calls, 40);
    /* the context and the dataset still work */
    o.progress = NULL;
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "after callback cancel");
}
END_TEST

/* ---- h5cl_cancel from another thread ------------------------------------- */

typedef struct canceller {
    h5cl_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started; /* the run reported a tile   */
    int sent;    /* h5cl_cancel has been called */
    uint64_t calls_after_sent;
} canceller;

static void *cancel_thread(void *arg)
{
    canceller *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->started)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    h5cl_cancel(c->ctx);
    pthread_mutex_lock(&c->mu);
    c->sent = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* After the second tile, hold the run until the other thread has called
 * h5cl_cancel (at most 10 s), so the cancel lands mid-run. */
static int hold_for_cancel(uint64_t done, uint64_t total, uint64_t bytes, void *user)
{
    canceller *c = user;
    struct timespec until;
    (void)total;
    (void)bytes;
    pthread_mutex_lock(&c->mu);
    if (c->sent)
        c->calls_after_sent++;
    if (done >= 2 && !c->started) {
        c->started = 1;
        pthread_cond_broadcast(&c->cv);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        while (!c->sent)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
                break;
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

START_TEST(test_cancel_from_thread)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 200000, _i, "c.h5", 3);
    h5cl_run_options o;
    canceller c;
    pthread_t th;
    h5cl_stats *st = (h5cl_stats *)&st;
    int rc;
    double t0;
    memset(&c, 0, sizeof c);
    c.ctx = tu_ctx;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    ck_assert_int_eq(pthread_create(&th, NULL, cancel_thread, &c), 0);
    h5cl_run_options_init(&o);
    o.tile_bytes = 1000; /* 1600 tiles */
    o.slots = 3;
    o.progress = hold_for_cancel;
    o.progress_user = &c;
    t0 = tu_now();
    rc = h5cl_stats_compute(ds, &o, &st);
    if (!c.started) { /* never reached tile 2: release the thread */
        pthread_mutex_lock(&c.mu);
        c.started = 1;
        pthread_cond_broadcast(&c.cv);
        pthread_mutex_unlock(&c.mu);
    }
    pthread_join(th, NULL);
    ck_assert_msg(c.sent, "the cancel was never sent");
    ck_assert_msg(rc == H5CL_ERR_CANCELLED, "h5cl_cancel mid-run: %s (%.2f s)",
                  h5cl_errname(rc), tu_now() - t0);
    ck_assert_ptr_null(st);
    ck_assert_msg(c.calls_after_sent < 20, "%llu tiles merged after the cancel",
                  (unsigned long long)c.calls_after_sent);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    /* a new run on the same context succeeds */
    o.progress = NULL;
    o.tile_bytes = 100000;
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "after h5cl_cancel");
}
END_TEST

/* The flag is cleared when the next run starts: an early cancel is moot. */
START_TEST(test_cancel_before_run)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 5000, 1, "cb.h5", 4);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4000;
    h5cl_cancel(tu_ctx);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), "after an early cancel");
}
END_TEST

/* ---- summary and trace ---------------------------------------------------- */

static void check_summary(const h5cl_run_summary *s, uint64_t nbytes, uint64_t tile_bytes,
                          unsigned slots)
{
    double busiest = 0, total = 0;
    int k;
    ck_assert_uint_eq(s->bytes, nbytes);
    ck_assert_uint_gt(s->tiles, 0);
    ck_assert_uint_gt(s->tile_bytes, 0);
    ck_assert_msg(s->tiles * s->tile_bytes >= nbytes, "%llu tiles of %llu bytes < %llu",
                  (unsigned long long)s->tiles, (unsigned long long)s->tile_bytes,
                  (unsigned long long)nbytes);
    if (tile_bytes) /* shrunk, or grown to one chunk (4 KiB) at most */
        ck_assert_uint_le(s->tile_bytes, tile_bytes > 4096 ? tile_bytes : 4096);
    ck_assert_msg(s->slots >= 1 && s->slots <= (slots ? slots : 3), "slots %u", s->slots);
    ck_assert_msg(s->seconds > 0 && isfinite(s->seconds), "seconds %g", s->seconds);
    for (k = 0; k < H5CL_STAGE_COUNT; k++) {
        ck_assert_msg(s->stage_seconds[k] >= 0 && s->stage_seconds[k] <= s->seconds * 1.05 + 1e-3,
                      "stage %s busy %g s of %g s", h5cl_stage_name((h5cl_stage)k),
                      s->stage_seconds[k], s->seconds);
        if (s->stage_seconds[k] > busiest)
            busiest = s->stage_seconds[k];
        total += s->stage_seconds[k];
    }
    ck_assert_msg(s->stage_seconds[H5CL_STAGE_READ] > 0, "read stage took no time");
    ck_assert_msg(s->stage_seconds[H5CL_STAGE_KERNEL] > 0, "kernel stage took no time");
    ck_assert(total > 0);
    ck_assert_msg(isfinite(s->overlap) && s->overlap >= 0.95, "overlap %g", s->overlap);
    ck_assert_msg(fabs(s->overlap - s->seconds / busiest) <= 0.02 * s->overlap,
                  "overlap %g is not wall %g / busiest stage %g", s->overlap, s->seconds,
                  busiest);
    ck_assert(s->zero_copy == 0 || s->zero_copy == 1);
}

START_TEST(test_summary)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 100000, _i, "s.h5", 5);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 64 * 1024;
    o.slots = 2;
    check_summary(h5cl_stats_summary(tu_compute(ds, &o, "summary")), 800000, o.tile_bytes, 2);
    o.tile_bytes = 1000;
    o.slots = 5;
    check_summary(h5cl_stats_summary(tu_compute(ds, &o, "summary")), 800000, o.tile_bytes, 5);
    check_summary(h5cl_stats_summary(tu_compute(ds, NULL, "summary")), 800000, 0, 0);
}
END_TEST


/* The per-tile timeline: one entry per tile in order, only when asked
 * for, every interval well formed, and no tile computed before it was
 * read.  The stage sums match the summary's busy times. */
START_TEST(test_timeline)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 40000, 1, "tl.h5", 7);
    h5cl_run_options o;
    const h5cl_tile_timing *t = NULL;
    const h5cl_run_summary *s;
    h5cl_stats *st;
    double busy[H5CL_STAGE_COUNT] = {0};
    size_t n, i;
    int k;
    h5cl_run_options_init(&o);
    o.tile_bytes = 16384;
    o.slots = 3;
    st = tu_compute(ds, &o, "no timeline");
    ck_assert_uint_eq(h5cl_stats_timeline(st, &t), 0);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(h5cl_stats_timeline(NULL, &t), 0);
    o.timeline = 1;
    st = tu_compute(ds, &o, "timeline");
    s = h5cl_stats_summary(st);
    n = h5cl_stats_timeline(st, &t);
    ck_assert_uint_eq(n, s->tiles);
    ck_assert_uint_gt(n, 5);
    ck_assert_ptr_nonnull(t);
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(t[i].tile, i);
        ck_assert_uint_gt(t[i].bytes, 0);
        for (k = 0; k < H5CL_STAGE_COUNT; k++) {
            ck_assert_msg(t[i].end[k] >= t[i].begin[k] && t[i].begin[k] >= 0,
                          "tile %zu stage %d: [%g, %g]", i, k, t[i].begin[k], t[i].end[k]);
            busy[k] += t[i].end[k] - t[i].begin[k];
        }
        ck_assert_msg(t[i].begin[H5CL_STAGE_KERNEL] >= t[i].end[H5CL_STAGE_READ],
                      "tile %zu: kernel at %g before its read ended at %g", i,
                      t[i].begin[H5CL_STAGE_KERNEL], t[i].end[H5CL_STAGE_READ]);
    }
    for (k = 0; k < H5CL_STAGE_COUNT; k++)
        ck_assert_msg(fabs(busy[k] - s->stage_seconds[k]) <= 1e-9 + 1e-9 * busy[k],
                      "stage %d: timeline %g s, summary %g s", k, busy[k],
                      s->stage_seconds[k]);
}
END_TEST

/* A second run on a context that is running in another thread is refused
 * with H5CL_ERR_BUSY and leaves the running one alone. */
typedef struct busy_run {
    h5cl_dataset *ds;
    volatile int started;
    int status;
    h5cl_stats *stats;
} busy_run;

static int slow_progress(uint64_t done, uint64_t total, uint64_t bytes, void *user)
{
    busy_run *b = user;
    b->started = 1;
    usleep(2000);
    return 0;
}

static void *busy_main(void *p)
{
    busy_run *b = p;
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 8192;
    o.progress = slow_progress;
    o.progress_user = b;
    b->status = h5cl_stats_compute(b->ds, &o, &b->stats);
    return NULL;
}

START_TEST(test_busy_context)
{
    tu_array a;
    busy_run b = {0};
    pthread_t t;
    h5cl_stats *st = (h5cl_stats *)&b; /* must come back NULL */
    b.ds = make(tu_ctx, &a, 60000, 0, "busy.h5", 9);
    ck_assert_int_eq(pthread_create(&t, NULL, busy_main, &b), 0);
    while (!b.started)
        usleep(1000);
    ck_assert_int_eq(h5cl_stats_compute(b.ds, NULL, &st), H5CL_ERR_BUSY);
    ck_assert_ptr_null(st);
    pthread_join(t, NULL);
    ck_assert_int_eq(b.status, H5CL_OK);
    ck_assert_uint_eq(h5cl_stats_get(b.stats, 0)->count + h5cl_stats_get(b.stats, 0)->nan_count,
                      60000);
    h5cl_stats_free(b.stats);
    tu_compute(b.ds, NULL, "after"); /* the guard was released */
}
END_TEST

/* Out of device memory: the run halves the tile and retries, splitting
 * even compressed chunks, before it gives up with a message that says so.
 * H5CL_TEST_MAX_ALLOC makes tile buffers above a size fail. */
START_TEST(test_device_memory_retry)
{
    uint64_t dims[2] = {600, 700};
    tu_array a;
    tu_write_opts w;
    tu_rng r;
    h5cl_stats *st = NULL;
    tu_rng_seed(&r, 4242);
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.001);
    tu_plant_extrema(&a, &r);
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 256; /* 256 x 512 doubles: 1 MiB chunks, gzip */
    w.chunk[1] = 512;
    w.gzip = 4;
    tu_write(tu_path("oom.h5"), "/data", &a, &w);
    h5cl_dataset *ds = tu_open(tu_ctx, tu_path("oom.h5"), "/data");

    tu_setenv("H5CL_TEST_MAX_ALLOC", "300000");
    tu_compute_check(ds, NULL, &a, NULL, tu_tolerance(&tu_dev), "shrunk tiles");
    st = tu_compute(ds, NULL, "shrunk tiles");
    ck_assert_uint_le(h5cl_stats_summary(st)->tile_bytes, 300000);
    ck_assert_uint_ge(h5cl_stats_summary(st)->tile_bytes, 64 * 1024 / 2);

    tu_setenv("H5CL_TEST_MAX_ALLOC", "1000");
    st = NULL;
    ck_assert_int_eq(h5cl_stats_compute(ds, NULL, &st), H5CL_ERR_DEVICE_MEMORY);
    ck_assert(st == NULL);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "CL_MEM_OBJECT_ALLOCATION_FAILURE") &&
                      strstr(h5cl_ctx_errmsg(tu_ctx), "shrunk"),
                  "message: %s", h5cl_ctx_errmsg(tu_ctx));
    tu_setenv("H5CL_TEST_MAX_ALLOC", NULL);
    tu_compute_check(ds, NULL, &a, NULL, tu_tolerance(&tu_dev), "after");
}
END_TEST

static int count_occurrences(const char *text, const char *needle)
{
    int n = 0;
    const char *p = text;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

START_TEST(test_trace)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 30000, 1, "t.h5", 6);
    h5cl_run_options o;
    const h5cl_run_summary *s;
    const char *path = tu_path("trace.json");
    char *text, *p;
    size_t n;
    int k;
    h5cl_run_options_init(&o);
    o.tile_bytes = 8192;
    o.slots = 2;
    o.trace_path = path;
    s = h5cl_stats_summary(tu_compute(ds, &o, "trace"));
    text = tu_read_file(path, &n);
    ck_assert_msg(text != NULL, "no trace file at %s", path);
    for (p = text; *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'; p++)
        ;
    ck_assert_msg(*p == '[' || *p == '{', "trace begins with '%c'", *p);
    ck_assert_msg(tu_json_valid(text, n), "trace is not valid JSON: %.300s", text);
    ck_assert_msg(strstr(text, "traceEvents") != NULL || strstr(text, "\"ph\"") != NULL,
                  "no trace events");
    ck_assert_msg(count_occurrences(text, "\"ph\"") >= (int)s->tiles,
                  "%d events for %llu tiles", count_occurrences(text, "\"ph\""),
                  (unsigned long long)s->tiles);
    for (k = 0; k < H5CL_STAGE_COUNT; k++) {
        const char *stage = h5cl_stage_name((h5cl_stage)k);
        if (k == H5CL_STAGE_UPLOAD && s->zero_copy)
            continue;
        ck_assert_msg(strstr(text, stage) != NULL, "stage \"%s\" missing from the trace",
                      stage);
    }
    /* a second run overwrites it with a complete file */
    o.tile_bytes = 100000;
    tu_compute(ds, &o, "trace again");
    text = tu_read_file(path, &n);
    ck_assert(text != NULL && tu_json_valid(text, n));
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

START_TEST(test_workers_end_with_run)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 50000, 1, "w.h5", 7);
    h5cl_run_options o;
    int before, after, k;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4096;
    o.slots = 4;
    tu_release(tu_compute(ds, &o, "warm-up")); /* the runtime's own threads start */
    before = count_threads();
    if (before < 0)
        return;
    for (k = 0; k < 3; k++)
        tu_release(tu_compute(ds, &o, "run"));
    after = count_threads();
    ck_assert_msg(after <= before, "%d threads before the runs, %d after", before, after);
}
END_TEST

typedef struct worker {
    const char *file;
    const tu_array *a;
    h5cl_stats_state state;
    int rc;
    char msg[256];
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    h5cl_ctx *ctx = NULL;
    h5cl_dataset *ds = NULL;
    h5cl_stats *st = NULL;
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 2048;
    w->rc = h5cl_ctx_create(&ctx);
    if (w->rc == H5CL_OK)
        w->rc = h5cl_dataset_open(ctx, w->file, "/x", &ds);
    if (w->rc == H5CL_OK)
        w->rc = h5cl_stats_compute(ds, &o, &st);
    if (w->rc == H5CL_OK)
        w->state = *h5cl_stats_get(st, 0);
    else if (ctx)
        snprintf(w->msg, sizeof w->msg, "%s", h5cl_ctx_errmsg(ctx));
    h5cl_stats_free(st);
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);
    return NULL;
}

START_TEST(test_concurrent_contexts)
{
    /* the fourth thread reads the first one's file */
    tu_array a[4];
    worker w[4];
    pthread_t th[4];
    const char *files[4] = {"c0.h5", "c1.h5", "c2.h5", "c0.h5"};
    int k;
    for (k = 0; k < 4; k++) {
        if (k < 3)
            make(tu_ctx, &a[k], 30000 + 1000 * (uint64_t)k, k % 2, files[k], 10 + (uint64_t)k);
        else
            a[k] = a[0];
        memset(&w[k], 0, sizeof w[k]);
        w[k].file = tu_path(files[k]);
        w[k].a = &a[k];
    }
    for (k = 0; k < 4; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, worker_run, &w[k]), 0);
    for (k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    for (k = 0; k < 4; k++) {
        size_t n;
        int r;
        uint64_t od[H5CL_MAX_RANK];
        ck_assert_msg(w[k].rc == H5CL_OK, "thread %d: %s: %s", k, h5cl_errname(w[k].rc),
                      w[k].msg);
        tu_check_state(&w[k].state, tu_reference(&a[k], NULL, -1, &n, &r, od),
                       tu_tolerance(&tu_dev), files[k]);
    }
}
END_TEST

/* Many runs with varied options on one context and dataset. */
/* Options left at 0 take the device class's tile size and slot count:
 * 2 x 4 MiB with the CPU (contiguous) pattern, 3 x 8 MiB with the GPU
 * one, and 16 MiB tiles where a device that reads host memory in place
 * reads them from the file's mapping (contiguous data here; not with
 * H5CL_MMAP=0); a run reports what it used. */
START_TEST(test_run_defaults)
{
    static const struct {
        const char *pattern;
        uint64_t tile;
        unsigned slots;
    } want[2] = {{"contiguous", 4 << 20, 2}, {"interleaved", 8 << 20, 3}};
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 2 << 20, 0, "d.h5", 1); /* 16 MiB */
    for (int k = 0; k < 2; k++) {
        uint64_t tile = 0;
        unsigned slots = 0;
        tu_setenv("H5CL_PATTERN", want[k].pattern);
        ck_assert_int_eq(h5cl_ctx_run_defaults(tu_ctx, &tile, &slots), H5CL_OK);
        ck_assert_msg(tile == want[k].tile && slots == want[k].slots,
                      "%s: defaults %llu x %u", want[k].pattern, (unsigned long long)tile,
                      slots);
        const h5cl_run_summary *s = h5cl_stats_summary(tu_compute(ds, NULL, want[k].pattern));
        ck_assert_uint_eq(s->tile_bytes, s->zero_copy ? 16 << 20 : tile);
        ck_assert_uint_eq(s->bytes_mapped, s->zero_copy ? a.n * 8 : 0);
        ck_assert_uint_eq(s->slots, slots);
        tu_setenv("H5CL_MMAP", "0");
        s = h5cl_stats_summary(tu_compute(ds, NULL, "H5CL_MMAP=0"));
        tu_setenv("H5CL_MMAP", NULL);
        ck_assert_uint_eq(s->tile_bytes, tile);
        ck_assert_uint_eq(s->bytes_mapped, 0);
    }
    ck_assert_int_eq(h5cl_ctx_run_defaults(NULL, NULL, NULL), H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_many_runs)
{
    tu_array a;
    h5cl_dataset *ds = make(tu_ctx, &a, 7001, 1, "m.h5", 8);
    h5cl_run_options o;
    int k;
    for (k = 0; k < 24; k++) {
        char what[64];
        h5cl_run_options_init(&o);
        o.tile_bytes = (uint64_t)(k % 6) * 1500;
        o.slots = (unsigned)(k % 4);
        snprintf(what, sizeof what, "run %d", k);
        tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), what);
    }
}
END_TEST

Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("progress");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_progress, 0, 2);
    tcase_add_loop_test(tc, test_progress_cancel, 0, 2);
    tcase_add_loop_test(tc, test_cancel_from_thread, 0, 2);
    tcase_add_test(tc, test_cancel_before_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("summary");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_summary, 0, 2);
    tcase_add_test(tc, test_trace);
    tcase_add_test(tc, test_device_memory_retry);
    tcase_add_test(tc, test_timeline);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_workers_end_with_run);
    tcase_add_test(tc, test_concurrent_contexts);
    tcase_add_test(tc, test_many_runs);
    tcase_add_test(tc, test_run_defaults);
    tcase_add_test(tc, test_busy_context);
    suite_add_tcase(s, tc);
    return s;
}
