/*
 * h5cl-bench, the device's SYRK rate: what CLBlast itself does on h5cl's
 * device (found with the OpenCL API, bench_cl.c) for the product the cov
 * case streams, so the case can say how much of the device's compute its
 * covariance gets.
 *
 * A is one tile's worth of rows (k x n, row-major, as h5cl's tiles)
 * resident in device memory; each call computes the upper triangle of
 * C = A^T A with CLBlastDsyrk (devices with fp64) or CLBlastSsyrk, the
 * call and the arguments h5cl makes per tile (beta 0 here, so C can be
 * checked exactly; the cost is the same).  A call may run several
 * kernels (padding, the GEMM-like product, the copy back), and only the
 * last one's event comes back, so each call is timed from the start of a
 * marker enqueued just before it to the end of CLBlast's event.  One
 * warm-up (CLBlast compiles its kernels then), then reps timed calls;
 * k n (n + 1) flops per call, the usual count for SYRK.
 *
 * A holds (r + 3c) mod 4 / 4: sums of its products are exact in double,
 * and in float up to about a million rows, so three entries of C are
 * compared exactly in double and within FLOAT_TOL in float, and the
 * product cannot be skipped unnoticed.
 *
 * CLBlast caches compiled programs process-wide, keyed by context; they
 * retain the context, so the cache is cleared before the context goes
 * (which also drops h5cl's programs: its next run compiles them again,
 * in a warm-up).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "bench_cl.h"

#define FLOAT_TOL 1e-5

struct syrk_cl {
    cl_context ctx;
    cl_command_queue q;
    cl_mem a, c;
};

static double a_value(uint64_t r, uint64_t c)
{
    return (double)((r + 3 * c) % 4) * 0.25;
}

/* A's values, uploaded once. */
static int syrk_upload(struct syrk_cl *s, const struct syrk_probe *sp,
                       char *err)
{
    const size_t count = (size_t)(sp->k * sp->n);
    const size_t el = sp->fp64 ? sizeof(double) : sizeof(float);
    void *host = malloc(count * el);
    cl_int e;

    if (!host)
        return fail(err, "out of memory (%zu-byte host matrix)", count * el);
    for (size_t i = 0; i < count; i++) {
        const double v = a_value(i / sp->n, i % sp->n);
        if (sp->fp64)
            ((double *)host)[i] = v;
        else
            ((float *)host)[i] = (float)v;
    }
    e = clEnqueueWriteBuffer(s->q, s->a, CL_TRUE, 0, count * el, host, 0,
                             NULL, NULL);
    free(host);
    PROBE_CL_TRY(err, e, "clEnqueueWriteBuffer(A)");
    return 0;
}

/* One SYRK call, timed from a marker just before it to its end. */
static int syrk_call(struct syrk_cl *s, const struct syrk_probe *sp,
                     double *s_ret, char *err)
{
    const size_t n = (size_t)sp->n, k = (size_t)sp->k;
    cl_event mark = NULL, ev = NULL;
    CLBlastStatusCode st;
    int rc;

    PROBE_CL_TRY(err, clEnqueueMarkerWithWaitList(s->q, 0, NULL, &mark),
                 "clEnqueueMarkerWithWaitList");
    st = sp->fp64
             ? CLBlastDsyrk(CLBlastLayoutRowMajor, CLBlastTriangleUpper,
                            CLBlastTransposeYes, n, k, 1.0, s->a, 0, n, 0.0,
                            s->c, 0, n, &s->q, &ev)
             : CLBlastSsyrk(CLBlastLayoutRowMajor, CLBlastTriangleUpper,
                            CLBlastTransposeYes, n, k, 1.0f, s->a, 0, n,
                            0.0f, s->c, 0, n, &s->q, &ev);
    if (st != CLBlastSuccess) {
        clReleaseEvent(mark);
        return fail(err, "%s failed (CLBlast status %d)",
                    sp->fp64 ? "CLBlastDsyrk" : "CLBlastSsyrk", (int)st);
    }
    rc = probe_event_span(mark, ev, s_ret, err);
    clReleaseEvent(ev);
    clReleaseEvent(mark);
    return rc;
}

/* Entries (0, 0), (0, n-1) and (n-1, n-1) of C against the host's sums. */
static int syrk_check(struct syrk_cl *s, const struct syrk_probe *sp,
                      char *err)
{
    const uint64_t n = sp->n, at[3][2] = { { 0, 0 }, { 0, n - 1 },
                                           { n - 1, n - 1 } };
    const size_t el = sp->fp64 ? sizeof(double) : sizeof(float);

    for (int i = 0; i < 3; i++) {
        const uint64_t row = at[i][0], col = at[i][1];
        union { double d; float f; } got;
        double want = 0.0, v;

        PROBE_CL_TRY(err,
                     clEnqueueReadBuffer(s->q, s->c, CL_TRUE,
                                         (size_t)(row * n + col) * el, el,
                                         &got, 0, NULL, NULL),
                     "clEnqueueReadBuffer(C)");
        for (uint64_t r = 0; r < sp->k; r++)
            want += a_value(r, row) * a_value(r, col);
        v = sp->fp64 ? got.d : (double)got.f;
        if (sp->fp64 ? v != want : !(fabs(v - want) <= FLOAT_TOL * want))
            return fail(err, "C[%" PRIu64 "][%" PRIu64 "] = %.17g, want "
                        "%.17g", row, col, v, want);
    }
    return 0;
}

static int syrk_run(struct syrk_cl *s, const h5cl_device_info *dev,
                    unsigned reps, struct syrk_probe *sp)
{
    const size_t el = sp->fp64 ? sizeof(double) : sizeof(float);
    double secs[MAX_REPS], rate[MAX_REPS], t;
    cl_device_id id;
    cl_int e;

    if (probe_find_device(dev, &id, sp->message))
        return -1;
    s->ctx = clCreateContext(NULL, 1, &id, NULL, NULL, &e);
    PROBE_CL_TRY(sp->message, e, "clCreateContext");
    s->q = clCreateCommandQueue(s->ctx, id, CL_QUEUE_PROFILING_ENABLE, &e);
    PROBE_CL_TRY(sp->message, e, "clCreateCommandQueue");
    s->a = clCreateBuffer(s->ctx, CL_MEM_READ_ONLY,
                          (size_t)(sp->k * sp->n) * el, NULL, &e);
    PROBE_CL_TRY(sp->message, e, "clCreateBuffer(A)");
    s->c = clCreateBuffer(s->ctx, CL_MEM_READ_WRITE,
                          (size_t)(sp->n * sp->n) * el, NULL, &e);
    PROBE_CL_TRY(sp->message, e, "clCreateBuffer(C)");
    if (syrk_upload(s, sp, sp->message) ||
        syrk_call(s, sp, &t, sp->message) || syrk_check(s, sp, sp->message))
        return -1;
    for (unsigned r = 0; r < reps && !g_interrupted; r++) {
        if (syrk_call(s, sp, &secs[r], sp->message))
            return -1;
        rate[r] = (double)sp->k * (double)sp->n * (double)(sp->n + 1) /
                  secs[r] / 1e9;
        sp->reps = r + 1;
    }
    if (g_interrupted)
        return fail(sp->message, "interrupted");
    if (syrk_check(s, sp, sp->message))
        return -1;
    sp->seconds = summarize(secs, sp->reps);
    sp->gflops = summarize(rate, sp->reps);
    sp->measured = 1;
    return 0;
}

static void syrk_release(struct syrk_cl *s)
{
    if (s->q)
        clFinish(s->q);
    if (s->ctx)
        CLBlastClearCache();
    if (s->c)
        clReleaseMemObject(s->c);
    if (s->a)
        clReleaseMemObject(s->a);
    if (s->q)
        clReleaseCommandQueue(s->q);
    if (s->ctx)
        clReleaseContext(s->ctx);
}

void syrk_measure(const h5cl_device_info *dev, uint64_t n, uint64_t k,
                  unsigned reps, struct syrk_probe *sp)
{
    struct syrk_cl s;

    memset(sp, 0, sizeof *sp);
    memset(&s, 0, sizeof s);
    sp->fp64 = dev->has_fp64;
    sp->n = n;
    /* A no larger than one device allocation */
    if (dev->max_alloc_bytes &&
        k * n * (sp->fp64 ? sizeof(double) : sizeof(float)) >
            dev->max_alloc_bytes)
        k = dev->max_alloc_bytes / (n * (sp->fp64 ? sizeof(double)
                                                  : sizeof(float)));
    sp->k = k;
    if (n == 0 || k == 0) {
        fail(sp->message, "no SYRK of %" PRIu64 " x %" PRIu64, k, n);
        return;
    }
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    fprintf(stderr, "%s: device SYRK rate (CLBlast%ssyrk, A of %" PRIu64
            " x %" PRIu64 ", %u reps)\n", BENCH_NAME, sp->fp64 ? "D" : "S",
            k, n, reps);
    syrk_run(&s, dev, reps, sp);
    syrk_release(&s);
}
