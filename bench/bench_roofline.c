/*
 * h5cl-bench, the device roofline: what the device itself can do, measured
 * in the same run on the device h5cl opened (found with the OpenCL API by
 * the platform and device indices h5cl_ctx_device() reports), so a run
 * says how close h5cl comes to the transfer and memory limits.
 *
 *   H2D pinned      clEnqueueWriteBuffer from a pinned host buffer
 *                   (CL_MEM_ALLOC_HOST_PTR, mapped) into a device buffer;
 *                   large transfers (up to 256 MiB).  On host-unified
 *                   devices (PoCL, integrated GPUs) this is a host memcpy.
 *   on-device read  a sum of the resident device buffer, with the access
 *                   pattern each device class wants (kernels/stats.cl):
 *                   contiguous segments read with vload8 on CPU devices
 *                   (one work-item per segment, prefetched 4 KiB ahead
 *                   as h5cl's kernels do: without it h5cl's sum read
 *                   faster than this "limit"), interleaved float4 loads
 *                   on GPUs (coalesced).  On host-unified devices the
 *                   buffer is host memory asked for in 2 MiB pages
 *                   (MADV_HUGEPAGE), read in place, because h5cl's
 *                   kernels read mapped page cache, which on ext4 since
 *                   Linux 6.16 is mostly 2 MiB pages (FilePmdMapped) once
 *                   read from disk: the limit reads the same kind of
 *                   pages as the run it judges.
 *   on-device copy  clEnqueueCopyBuffer between two device buffers,
 *                   counting the bytes read and written (2 x size), the
 *                   usual way device-to-device bandwidth is quoted; the
 *                   read above is judged against it.
 *
 * Times come from event profiling (start to end of the command), one
 * warm-up of each, then --reps timed runs; medians and min-max.  The sum
 * is checked, so the reads cannot be optimised away unnoticed.  The kernel
 * is a small OpenCL C string here: it is the bench's probe, not one of
 * h5cl's kernels.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_cl.h"

#define ROOF_MAX_BYTES (256 * MIB)
#define ROOF_MIN_BYTES (16 * MIB)
#define HUGE_PAGE (2 * MIB)

static const char roof_source[] =
    "#if CONTIGUOUS && defined(__clang__)\n"
    "#define PREFETCH(q) __builtin_prefetch((const void *)(ulong)(q))\n"
    "#else\n"
    "#define PREFETCH(q)\n"
    "#endif\n"
    "__kernel void roof_sum(__global const float *p, ulong n, ulong seg,\n"
    "                       __global float *out)\n"
    "{\n"
    "    size_t g = get_global_id(0), gs = get_global_size(0);\n"
    "    float4 a = (float4)(0.0f), b = (float4)(0.0f);\n"
    "#if CONTIGUOUS\n"
    "    /* n and seg in float8 units: work-item g owns one segment */\n"
    "    ulong lo = g * seg, hi = min(lo + seg, n);\n"
    "    for (ulong i = lo; i < hi; i++) {\n"
    "        PREFETCH(p + (i + 128) * 8);\n"
    "        float8 x = vload8(i, p);\n"
    "        a += x.lo;\n"
    "        b += x.hi;\n"
    "    }\n"
    "#else\n"
    "    /* n in float4 units: neighbours read neighbouring float4s */\n"
    "    __global const float4 *q = (__global const float4 *)p;\n"
    "    for (ulong i = g; i < n; i += gs)\n"
    "        a += q[i];\n"
    "#endif\n"
    "    out[g] = dot(a + b, (float4)(1.0f));\n"
    "}\n";

struct roof_cl {
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k;
    cl_mem pinned, dbuf, dbuf2, out;
    void *host;         /* pinned, mapped */
    void *dhost;        /* dbuf's memory on host-unified devices */
};

#define CL_TRY(call, name) PROBE_CL_TRY(rl->message, call, name)

/* x[i] = (i % 8) / 4: a sum of 7/8 per value, checked by time_read. */
static void fill_pattern(float *x, uint64_t bytes)
{
    for (uint64_t i = 0; i < bytes / sizeof(float); i++)
        x[i] = (float)(i & 7) * 0.25f;
}

/* The buffer the read kernel sums, filled with the pattern.  Host-unified
 * devices read it in place from host memory in 2 MiB pages where the
 * kernel gives them (rl->huge_pages says whether it did), as h5cl's
 * kernels read the page cache; other devices get their own memory, copied
 * from the pinned buffer when measure() has filled one. */
static int read_buffer(struct roof_cl *c, struct roofline *rl)
{
    cl_int e;
    if (rl->host_unified) {
        if (posix_memalign(&c->dhost, HUGE_PAGE, rl->bytes) != 0) {
            c->dhost = NULL;
            return fail(rl->message, "out of memory");
        }
        const uint64_t before = proc_anon_huge_bytes();
        madvise(c->dhost, rl->bytes, MADV_HUGEPAGE);
        fill_pattern(c->dhost, rl->bytes);
        rl->huge_pages = proc_anon_huge_bytes() - before >= rl->bytes / 2;
        c->dbuf = clCreateBuffer(c->ctx, CL_MEM_READ_WRITE |
                                 CL_MEM_USE_HOST_PTR, rl->bytes, c->dhost,
                                 &e);
        CL_TRY(e, "clCreateBuffer(CL_MEM_USE_HOST_PTR)");
        return 0;
    }
    float *x = c->host;
    if (!x) {
        if (!(x = malloc(rl->bytes)))
            return fail(rl->message, "out of memory");
        fill_pattern(x, rl->bytes);
    }
    c->dbuf = clCreateBuffer(c->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                             rl->bytes, x, &e);
    if (x != c->host)
        free(x);
    CL_TRY(e, "clCreateBuffer(device)");
    return 0;
}

static int build(struct roof_cl *c, cl_device_id id, int contiguous,
                 struct roofline *rl)
{
    const char *src = roof_source;
    char opts[64];
    cl_int e;

    c->prog = clCreateProgramWithSource(c->ctx, 1, &src, NULL, &e);
    CL_TRY(e, "clCreateProgramWithSource");
    snprintf(opts, sizeof opts, "-DCONTIGUOUS=%d", contiguous);
    e = clBuildProgram(c->prog, 1, &id, opts, NULL, NULL);
    if (e != CL_SUCCESS) {
        char log[768] = "";
        clGetProgramBuildInfo(c->prog, id, CL_PROGRAM_BUILD_LOG,
                              sizeof log - 1, log, NULL);
        return fail(rl->message, "clBuildProgram failed (%d): %s", (int)e,
                    log);
    }
    c->k = clCreateKernel(c->prog, "roof_sum", &e);
    CL_TRY(e, "clCreateKernel");
    return 0;
}

/* Seconds from the start to the end of a finished command. */
static int event_seconds(cl_event ev, double *s, struct roofline *rl)
{
    return probe_event_span(ev, ev, s, rl->message);
}

static int time_h2d(struct roof_cl *c, struct roofline *rl, double *s)
{
    cl_event ev = NULL;
    int rc;
    CL_TRY(clEnqueueWriteBuffer(c->q, c->dbuf, CL_FALSE, 0, rl->bytes,
                                c->host, 0, NULL, &ev),
           "clEnqueueWriteBuffer");
    rc = event_seconds(ev, s, rl);
    clReleaseEvent(ev);
    return rc;
}

static int time_copy(struct roof_cl *c, struct roofline *rl, double *s)
{
    cl_event ev = NULL;
    int rc;
    CL_TRY(clEnqueueCopyBuffer(c->q, c->dbuf, c->dbuf2, 0, 0, rl->bytes, 0,
                               NULL, &ev),
           "clEnqueueCopyBuffer");
    rc = event_seconds(ev, s, rl);
    clReleaseEvent(ev);
    return rc;
}

static int time_read(struct roof_cl *c, struct roofline *rl, size_t global,
                     size_t *local, float *part, double *s)
{
    const uint64_t nfloat = rl->bytes / sizeof(float);
    double want = (double)nfloat / 8.0 * 7.0, got = 0.0;
    cl_event ev = NULL;
    int rc;

    CL_TRY(clEnqueueNDRangeKernel(c->q, c->k, 1, NULL, &global, local, 0,
                                  NULL, &ev),
           "clEnqueueNDRangeKernel");
    rc = event_seconds(ev, s, rl);
    clReleaseEvent(ev);
    if (rc)
        return rc;
    CL_TRY(clEnqueueReadBuffer(c->q, c->out, CL_TRUE, 0,
                               global * sizeof(float), part, 0, NULL, NULL),
           "clEnqueueReadBuffer");
    for (size_t i = 0; i < global; i++)
        got += part[i];
    if (!(fabs(got - want) <= 1e-3 * want))
        return fail(rl->message, "on-device sum %.9g, want %.9g", got, want);
    return 0;
}

/* The read kernel's geometry and arguments over c->dbuf, its output
 * buffer, and host room for the partial sums (*part_ret, freed by the
 * caller). */
static int read_setup(struct roof_cl *c, const h5cl_device_info *dev,
                      cl_device_id id, struct roofline *rl, size_t *global,
                      size_t *local, float **part_ret)
{
    size_t wg = 0;
    cl_ulong n, seg = 0;
    cl_int e;

    CL_TRY(clGetKernelWorkGroupInfo(c->k, id, CL_KERNEL_WORK_GROUP_SIZE,
                                    sizeof wg, &wg, NULL),
           "clGetKernelWorkGroupInfo");
    if (rl->contiguous) {
        /* a few segments per compute unit, one work-item per group so
         * the groups spread over the cores */
        *global = (size_t)dev->compute_units * 4;
        n = rl->bytes / (8 * sizeof(float));
        seg = (n + *global - 1) / *global;
        *local = 1;
    } else {
        *local = wg < 256 ? wg : 256;
        *global = (size_t)dev->compute_units * 8 * *local;
        n = rl->bytes / (4 * sizeof(float));
    }
    c->out = clCreateBuffer(c->ctx, CL_MEM_WRITE_ONLY,
                            *global * sizeof(float), NULL, &e);
    CL_TRY(e, "clCreateBuffer(out)");
    CL_TRY(clSetKernelArg(c->k, 0, sizeof c->dbuf, &c->dbuf), "clSetKernelArg");
    CL_TRY(clSetKernelArg(c->k, 1, sizeof n, &n), "clSetKernelArg");
    CL_TRY(clSetKernelArg(c->k, 2, sizeof seg, &seg), "clSetKernelArg");
    CL_TRY(clSetKernelArg(c->k, 3, sizeof c->out, &c->out), "clSetKernelArg");
    if (!(*part_ret = malloc(*global * sizeof **part_ret)))
        return fail(rl->message, "out of memory");
    return 0;
}

/* Buffers, the pattern (x[i] = (i % 8) / 4, sum 7/8 per value) and the
 * kernel's geometry; then the timed runs. */
static int measure(struct roof_cl *c, const h5cl_device_info *dev,
                   cl_device_id id, unsigned reps, struct roofline *rl)
{
    double h2d[MAX_REPS], rd[MAX_REPS], cp[MAX_REPS], s;
    size_t global, local_v = 0, *local = NULL;
    float *part = NULL;
    cl_int e;
    int rc = -1;

    c->ctx = clCreateContext(NULL, 1, &id, NULL, NULL, &e);
    CL_TRY(e, "clCreateContext");
    c->q = clCreateCommandQueue(c->ctx, id, CL_QUEUE_PROFILING_ENABLE, &e);
    CL_TRY(e, "clCreateCommandQueue");
    if (build(c, id, rl->contiguous, rl))
        return -1;
    c->pinned = clCreateBuffer(c->ctx, CL_MEM_ALLOC_HOST_PTR |
                               CL_MEM_READ_WRITE, rl->bytes, NULL, &e);
    CL_TRY(e, "clCreateBuffer(CL_MEM_ALLOC_HOST_PTR)");
    c->host = clEnqueueMapBuffer(c->q, c->pinned, CL_TRUE, CL_MAP_WRITE, 0,
                                 rl->bytes, 0, NULL, NULL, &e);
    CL_TRY(e, "clEnqueueMapBuffer");
    fill_pattern(c->host, rl->bytes);
    if (read_buffer(c, rl))
        return -1;
    c->dbuf2 = clCreateBuffer(c->ctx, CL_MEM_READ_WRITE, rl->bytes, NULL, &e);
    CL_TRY(e, "clCreateBuffer(device)");

    if (read_setup(c, dev, id, rl, &global, &local_v, &part))
        return -1;
    local = &local_v;

    /* warm-up of each (first touch of the device pages, kernel launch) */
    if (time_h2d(c, rl, &s) || time_read(c, rl, global, local, part, &s) ||
        time_copy(c, rl, &s))
        goto done;
    for (unsigned r = 0; r < reps && !g_interrupted; r++) {
        if (time_h2d(c, rl, &s))
            goto done;
        h2d[r] = (double)rl->bytes / s / 1e9;
        if (time_read(c, rl, global, local, part, &s))
            goto done;
        rd[r] = (double)rl->bytes / s / 1e9;
        if (time_copy(c, rl, &s))
            goto done;
        cp[r] = 2.0 * (double)rl->bytes / s / 1e9;
        rl->reps = r + 1;
    }
    if (g_interrupted) {
        fail(rl->message, "interrupted");
        goto done;
    }
    rl->h2d_gbps = summarize(h2d, rl->reps);
    rl->read_gbps = summarize(rd, rl->reps);
    rl->copy_gbps = summarize(cp, rl->reps);
    rl->measured = 1;
    rc = 0;
done:
    free(part);
    return rc;
}

static void release(struct roof_cl *c)
{
    if (c->host)
        clEnqueueUnmapMemObject(c->q, c->pinned, c->host, 0, NULL, NULL);
    if (c->q)
        clFinish(c->q);
    if (c->out)
        clReleaseMemObject(c->out);
    if (c->dbuf)
        clReleaseMemObject(c->dbuf);
    free(c->dhost);
    if (c->dbuf2)
        clReleaseMemObject(c->dbuf2);
    if (c->pinned)
        clReleaseMemObject(c->pinned);
    if (c->k)
        clReleaseKernel(c->k);
    if (c->prog)
        clReleaseProgram(c->prog);
    if (c->q)
        clReleaseCommandQueue(c->q);
    if (c->ctx)
        clReleaseContext(c->ctx);
}

/* The bytes of each transfer and reduction on dev: 0 (rl->message says
 * why) when the device is too small. */
static uint64_t probe_bytes(const h5cl_device_info *dev, struct roofline *rl)
{
    uint64_t bytes = ROOF_MAX_BYTES;
    rl->host_unified = dev->host_unified_memory;
    rl->contiguous = dev->type == H5CL_DEVICE_CPU;
    /* three buffers of this size live at once on the device */
    if (dev->max_alloc_bytes && bytes > dev->max_alloc_bytes)
        bytes = dev->max_alloc_bytes;
    if (dev->global_mem_bytes && bytes > dev->global_mem_bytes / 4)
        bytes = dev->global_mem_bytes / 4;
    bytes &= ~(MIB - 1);
    if (bytes < ROOF_MIN_BYTES) {
        fail(rl->message, "device too small for the roofline (%" PRIu64
             " bytes)", bytes);
        return 0;
    }
    return rl->bytes = bytes;
}

void roofline_measure(const h5cl_device_info *dev, unsigned reps,
                      struct roofline *rl)
{
    struct roof_cl c;
    cl_device_id id;
    uint64_t bytes;

    memset(rl, 0, sizeof *rl);
    memset(&c, 0, sizeof c);
    if (!(bytes = probe_bytes(dev, rl)))
        return;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    fprintf(stderr, "%s: device roofline (H2D pinned, on-device read and copy of "
            "%" PRIu64 " MiB, %u reps)\n", BENCH_NAME, bytes / MIB, reps);
    if (probe_find_device(dev, &id, rl->message) == 0)
        measure(&c, dev, id, reps, rl);
    release(&c);
}

struct roof_probe {
    struct roof_cl c;
    struct roofline rl; /* bytes, pattern and the last error */
    size_t global, local;
    float *part;
};

void roof_probe_close(struct roof_probe *p)
{
    if (!p)
        return;
    release(&p->c);
    free(p->part);
    free(p);
}

static struct roof_probe *probe_fail(struct roof_probe *p, char *err,
                                     size_t errlen)
{
    snprintf(err, errlen, "%s", p->rl.message);
    roof_probe_close(p);
    return NULL;
}

struct roof_probe *roof_probe_open(const h5cl_device_info *dev, char *err,
                                   size_t errlen)
{
    struct roof_probe *p = calloc(1, sizeof *p);
    struct roofline *rl;
    cl_device_id id;
    cl_int e;
    double s;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rl = &p->rl;
    if (!probe_bytes(dev, rl) || probe_find_device(dev, &id, rl->message))
        return probe_fail(p, err, errlen);
    p->c.ctx = clCreateContext(NULL, 1, &id, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        fail(rl->message, "clCreateContext failed (%d)", (int)e);
        return probe_fail(p, err, errlen);
    }
    p->c.q = clCreateCommandQueue(p->c.ctx, id, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS) {
        fail(rl->message, "clCreateCommandQueue failed (%d)", (int)e);
        return probe_fail(p, err, errlen);
    }
    if (build(&p->c, id, rl->contiguous, rl))
        return probe_fail(p, err, errlen);
    if (read_buffer(&p->c, rl))
        return probe_fail(p, err, errlen);
    /* a warm-up: first touch of the device pages, kernel launch */
    if (read_setup(&p->c, dev, id, rl, &p->global, &p->local, &p->part) ||
        time_read(&p->c, rl, p->global, &p->local, p->part, &s))
        return probe_fail(p, err, errlen);
    return p;
}

int roof_probe_read(struct roof_probe *p, double *gbps, char *err,
                    size_t errlen)
{
    double v[3], s;
    for (int i = 0; i < 3; i++) {
        if (time_read(&p->c, &p->rl, p->global, &p->local, p->part, &s)) {
            snprintf(err, errlen, "%s", p->rl.message);
            return -1;
        }
        v[i] = (double)p->rl.bytes / s / 1e9;
    }
    *gbps = summarize(v, 3).median;
    return 0;
}
