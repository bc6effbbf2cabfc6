/*
 * An OpenCL loader layer for fault injection (tests only, never installed).
 *
 * ocl-icd (2.3 and later) and the Khronos ICD loader load the libraries
 * named in OPENCL_LAYERS and route every API call through the dispatch
 * table that clInitLayer returns.  This layer passes each call on to the
 * next table, except one: the Nth call of the chosen function, which
 * returns the chosen error instead (once; the calls after it pass again),
 * so a test can reach every error path of the library with real objects.
 *
 * Environment (read once, when the loader initialises the layer):
 *   H5CL_FAULT_FUNC    the function to fail, e.g. clCreateBuffer
 *   H5CL_FAULT_CALL    which call of it fails, counting from 1
 *   H5CL_FAULT_ERROR   the cl_int it returns, e.g. -4
 *   H5CL_FAULT_REPORT  file written at exit: per-function call counts,
 *                      creates and releases per object kind, and whether
 *                      the fault fired, so that a script can check that
 *                      every object made was released.
 * Creates count every reference the application gains (create, retain,
 * an event returned by an enqueue); releases every successful release.
 * Releases are counted but never failed: a failed release leaks by
 * definition, whatever the caller does.
 */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl_layer.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYER_API __attribute__((visibility("default")))

enum kind { K_CONTEXT, K_QUEUE, K_BUFFER, K_PROGRAM, K_KERNEL, K_EVENT, K_COUNT };
static const char *const kind_names[K_COUNT] = {
    "contexts", "queues", "buffers", "programs", "kernels", "events"};

/* Every function the layer wraps.  S: returns a status; C: creates an
 * object of a kind, error through errcode_ret; R: retains; L: releases;
 * E: an enqueue whose last argument may return an event. */
#define FUNCTIONS(S, C, R, L, E)                                              \
    S(clGetPlatformIDs, (cl_uint n, cl_platform_id *p, cl_uint *nr), (n, p, nr)) \
    S(clGetPlatformInfo, (cl_platform_id p, cl_platform_info i, size_t s,     \
                          void *v, size_t *r), (p, i, s, v, r))                \
    S(clGetDeviceIDs, (cl_platform_id p, cl_device_type t, cl_uint n,         \
                       cl_device_id *d, cl_uint *nr), (p, t, n, d, nr))        \
    S(clGetDeviceInfo, (cl_device_id d, cl_device_info i, size_t s, void *v,  \
                        size_t *r), (d, i, s, v, r))                           \
    C(cl_context, clCreateContext, K_CONTEXT,                                 \
      (const cl_context_properties *p, cl_uint n, const cl_device_id *d,      \
       void(CL_CALLBACK *f)(const char *, const void *, size_t, void *),      \
       void *u, cl_int *e), (p, n, d, f, u, e))                               \
    C(cl_context, clCreateContextFromType, K_CONTEXT,                         \
      (const cl_context_properties *p, cl_device_type t,                      \
       void(CL_CALLBACK *f)(const char *, const void *, size_t, void *),      \
       void *u, cl_int *e), (p, t, f, u, e))                                  \
    R(clRetainContext, K_CONTEXT, cl_context)                                 \
    L(clReleaseContext, K_CONTEXT, cl_context)                                \
    S(clGetContextInfo, (cl_context c, cl_context_info i, size_t s, void *v,  \
                         size_t *r), (c, i, s, v, r))                          \
    C(cl_command_queue, clCreateCommandQueue, K_QUEUE,                        \
      (cl_context c, cl_device_id d, cl_command_queue_properties p,           \
       cl_int *e), (c, d, p, e))                                              \
    R(clRetainCommandQueue, K_QUEUE, cl_command_queue)                        \
    L(clReleaseCommandQueue, K_QUEUE, cl_command_queue)                       \
    S(clGetCommandQueueInfo, (cl_command_queue q, cl_command_queue_info i,    \
                              size_t s, void *v, size_t *r), (q, i, s, v, r))  \
    C(cl_mem, clCreateBuffer, K_BUFFER,                                       \
      (cl_context c, cl_mem_flags f, size_t s, void *h, cl_int *e),           \
      (c, f, s, h, e))                                                        \
    C(cl_mem, clCreateSubBuffer, K_BUFFER,                                    \
      (cl_mem m, cl_mem_flags f, cl_buffer_create_type t, const void *i,      \
       cl_int *e), (m, f, t, i, e))                                           \
    R(clRetainMemObject, K_BUFFER, cl_mem)                                    \
    L(clReleaseMemObject, K_BUFFER, cl_mem)                                   \
    S(clGetMemObjectInfo, (cl_mem m, cl_mem_info i, size_t s, void *v,        \
                           size_t *r), (m, i, s, v, r))                        \
    C(cl_program, clCreateProgramWithSource, K_PROGRAM,                       \
      (cl_context c, cl_uint n, const char **s, const size_t *l, cl_int *e),  \
      (c, n, s, l, e))                                                        \
    C(cl_program, clCreateProgramWithBinary, K_PROGRAM,                       \
      (cl_context c, cl_uint n, const cl_device_id *d, const size_t *l,       \
       const unsigned char **b, cl_int *bs, cl_int *e), (c, n, d, l, b, bs, e)) \
    R(clRetainProgram, K_PROGRAM, cl_program)                                 \
    L(clReleaseProgram, K_PROGRAM, cl_program)                                \
    S(clBuildProgram, (cl_program p, cl_uint n, const cl_device_id *d,        \
                       const char *o,                                         \
                       void(CL_CALLBACK *f)(cl_program, void *), void *u),    \
      (p, n, d, o, f, u))                                                     \
    S(clGetProgramInfo, (cl_program p, cl_program_info i, size_t s, void *v,  \
                         size_t *r), (p, i, s, v, r))                          \
    S(clGetProgramBuildInfo, (cl_program p, cl_device_id d,                   \
                              cl_program_build_info i, size_t s, void *v,     \
                              size_t *r), (p, d, i, s, v, r))                  \
    C(cl_kernel, clCreateKernel, K_KERNEL,                                    \
      (cl_program p, const char *n, cl_int *e), (p, n, e))                    \
    R(clRetainKernel, K_KERNEL, cl_kernel)                                    \
    L(clReleaseKernel, K_KERNEL, cl_kernel)                                   \
    S(clSetKernelArg, (cl_kernel k, cl_uint i, size_t s, const void *v),      \
      (k, i, s, v))                                                           \
    S(clGetKernelInfo, (cl_kernel k, cl_kernel_info i, size_t s, void *v,     \
                        size_t *r), (k, i, s, v, r))                           \
    S(clGetKernelWorkGroupInfo, (cl_kernel k, cl_device_id d,                 \
                                 cl_kernel_work_group_info i, size_t s,       \
                                 void *v, size_t *r), (k, d, i, s, v, r))      \
    S(clWaitForEvents, (cl_uint n, const cl_event *l), (n, l))                \
    S(clGetEventInfo, (cl_event e, cl_event_info i, size_t s, void *v,        \
                       size_t *r), (e, i, s, v, r))                            \
    C(cl_event, clCreateUserEvent, K_EVENT, (cl_context c, cl_int *e), (c, e)) \
    R(clRetainEvent, K_EVENT, cl_event)                                       \
    L(clReleaseEvent, K_EVENT, cl_event)                                      \
    S(clSetUserEventStatus, (cl_event e, cl_int s), (e, s))                   \
    S(clSetEventCallback, (cl_event e, cl_int t,                              \
                           void(CL_CALLBACK *f)(cl_event, cl_int, void *),    \
                           void *u), (e, t, f, u))                            \
    S(clGetEventProfilingInfo, (cl_event e, cl_profiling_info i, size_t s,    \
                                void *v, size_t *r), (e, i, s, v, r))          \
    S(clFlush, (cl_command_queue q), (q))                                     \
    S(clFinish, (cl_command_queue q), (q))                                    \
    E(clEnqueueReadBuffer, (cl_command_queue q, cl_mem m, cl_bool b, size_t o, \
                            size_t s, void *p, cl_uint n, const cl_event *w,  \
                            cl_event *ev), (q, m, b, o, s, p, n, w, ev))       \
    E(clEnqueueWriteBuffer, (cl_command_queue q, cl_mem m, cl_bool b,         \
                             size_t o, size_t s, const void *p, cl_uint n,    \
                             const cl_event *w, cl_event *ev),                \
      (q, m, b, o, s, p, n, w, ev))                                           \
    E(clEnqueueCopyBuffer, (cl_command_queue q, cl_mem a, cl_mem b, size_t oa, \
                            size_t ob, size_t s, cl_uint n, const cl_event *w, \
                            cl_event *ev), (q, a, b, oa, ob, s, n, w, ev))     \
    E(clEnqueueFillBuffer, (cl_command_queue q, cl_mem m, const void *p,      \
                            size_t ps, size_t o, size_t s, cl_uint n,         \
                            const cl_event *w, cl_event *ev),                 \
      (q, m, p, ps, o, s, n, w, ev))                                          \
    E(clEnqueueUnmapMemObject, (cl_command_queue q, cl_mem m, void *p,        \
                                cl_uint n, const cl_event *w, cl_event *ev),  \
      (q, m, p, n, w, ev))                                                    \
    E(clEnqueueNDRangeKernel, (cl_command_queue q, cl_kernel k, cl_uint d,    \
                               const size_t *o, const size_t *g,              \
                               const size_t *l, cl_uint n, const cl_event *w, \
                               cl_event *ev), (q, k, d, o, g, l, n, w, ev))    \
    E(clEnqueueMarkerWithWaitList, (cl_command_queue q, cl_uint n,            \
                                    const cl_event *w, cl_event *ev),         \
      (q, n, w, ev))                                                          \
    E(clEnqueueBarrierWithWaitList, (cl_command_queue q, cl_uint n,           \
                                     const cl_event *w, cl_event *ev),        \
      (q, n, w, ev))

/* clEnqueueMapBuffer returns a pointer and an event: its own wrapper. */
#define NAME_S(name, ...) X_NAME(name)
#define NAME_C(type, name, ...) X_NAME(name)
#define NAME_R(name, ...) X_NAME(name)
#define NAME_L(name, ...) X_NAME(name)

#define X_NAME(name) F_##name,
enum fn { FUNCTIONS(NAME_S, NAME_C, NAME_R, NAME_L, NAME_S) F_clEnqueueMapBuffer, F_COUNT };
#undef X_NAME
#define X_NAME(name) #name,
static const char *const fn_names[F_COUNT] = {
    FUNCTIONS(NAME_S, NAME_C, NAME_R, NAME_L, NAME_S) "clEnqueueMapBuffer"};
#undef X_NAME

static const struct _cl_icd_dispatch *next;
static struct _cl_icd_dispatch table;

static atomic_ulong calls[F_COUNT];
static atomic_ulong creates[K_COUNT], releases[K_COUNT];
static int fault_fn = -1;
static unsigned long fault_call;
static cl_int fault_error;
static atomic_int fired;
static char report_path[4096];

/* Counts the call; true when this is the one to fail. */
static int fail_now(enum fn f, cl_int *err)
{
    unsigned long n = atomic_fetch_add(&calls[f], 1) + 1;
    if ((int)f != fault_fn || n != fault_call)
        return 0;
    atomic_store(&fired, 1);
    *err = fault_error;
    return 1;
}

static void count_event(const cl_event *ev, cl_int rc)
{
    if (rc == CL_SUCCESS && ev)
        atomic_fetch_add(&creates[K_EVENT], 1);
}

#define WRAP_S(name, params, args)                                            \
    static cl_int CL_API_CALL w_##name params                                 \
    {                                                                         \
        cl_int err;                                                           \
        if (fail_now(F_##name, &err))                                         \
            return err;                                                       \
        return next->name args;                                               \
    }
#define WRAP_C(type, name, kind, params, args)                                \
    static type CL_API_CALL w_##name params                                   \
    {                                                                         \
        cl_int err;                                                           \
        if (fail_now(F_##name, &err)) {                                       \
            if (e)                                                            \
                *e = err;                                                     \
            return NULL;                                                      \
        }                                                                     \
        type obj = next->name args;                                           \
        if (obj)                                                              \
            atomic_fetch_add(&creates[kind], 1);                              \
        return obj;                                                           \
    }
#define WRAP_R(name, kind, type)                                              \
    static cl_int CL_API_CALL w_##name(type o)                                \
    {                                                                         \
        cl_int err;                                                           \
        if (fail_now(F_##name, &err))                                         \
            return err;                                                       \
        err = next->name(o);                                                  \
        if (err == CL_SUCCESS)                                                \
            atomic_fetch_add(&creates[kind], 1);                              \
        return err;                                                           \
    }
#define WRAP_L(name, kind, type)                                              \
    static cl_int CL_API_CALL w_##name(type o)                                \
    {                                                                         \
        atomic_fetch_add(&calls[F_##name], 1);                                \
        cl_int err = next->name(o);                                           \
        if (err == CL_SUCCESS)                                                \
            atomic_fetch_add(&releases[kind], 1);                             \
        return err;                                                           \
    }
#define WRAP_E(name, params, args)                                            \
    static cl_int CL_API_CALL w_##name params                                 \
    {                                                                         \
        cl_int err;                                                           \
        if (fail_now(F_##name, &err))                                         \
            return err;                                                       \
        err = next->name args;                                                \
        count_event(ev, err);                                                 \
        return err;                                                           \
    }
FUNCTIONS(WRAP_S, WRAP_C, WRAP_R, WRAP_L, WRAP_E)

static void *CL_API_CALL w_clEnqueueMapBuffer(
    cl_command_queue q, cl_mem m, cl_bool b, cl_map_flags f, size_t o,
    size_t s, cl_uint n, const cl_event *w, cl_event *ev, cl_int *e)
{
    cl_int err;
    if (fail_now(F_clEnqueueMapBuffer, &err)) {
        if (e)
            *e = err;
        return NULL;
    }
    err = CL_SUCCESS;
    void *p = next->clEnqueueMapBuffer(q, m, b, f, o, s, n, w, ev, &err);
    if (e)
        *e = err;
    count_event(ev, err);
    return p;
}

static void write_report(void)
{
    if (!report_path[0])
        return;
    FILE *f = fopen(report_path, "w");
    if (!f)
        return;
    for (int i = 0; i < F_COUNT; i++)
        if (atomic_load(&calls[i]))
            fprintf(f, "call %s %lu\n", fn_names[i], atomic_load(&calls[i]));
    for (int k = 0; k < K_COUNT; k++)
        fprintf(f, "objects %s %lu %lu\n", kind_names[k],
                atomic_load(&creates[k]), atomic_load(&releases[k]));
    fprintf(f, "fired %d\n", atomic_load(&fired));
    fclose(f);
}

static void read_environment(void)
{
    const char *fn = getenv("H5CL_FAULT_FUNC");
    const char *call = getenv("H5CL_FAULT_CALL");
    const char *err = getenv("H5CL_FAULT_ERROR");
    const char *report = getenv("H5CL_FAULT_REPORT");
    if (report)
        snprintf(report_path, sizeof report_path, "%s", report);
    if (!fn || !call || !err)
        return;
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(fn, fn_names[i]) == 0)
            fault_fn = i;
    fault_call = strtoul(call, NULL, 10);
    fault_error = (cl_int)strtol(err, NULL, 10);
}

LAYER_API cl_int CL_API_CALL clGetLayerInfo(cl_layer_info param,
                                            size_t size, void *value,
                                            size_t *size_ret)
{
    static const char name[] = "h5cl_fault_layer";
    const void *src;
    size_t len;
    cl_layer_api_version version = CL_LAYER_API_VERSION_100;
    switch (param) {
    case CL_LAYER_API_VERSION:
        src = &version;
        len = sizeof version;
        break;
    case CL_LAYER_NAME:
        src = name;
        len = sizeof name;
        break;
    default:
        return CL_INVALID_VALUE;
    }
    if (value && size < len)
        return CL_INVALID_VALUE;
    if (value)
        memcpy(value, src, len);
    if (size_ret)
        *size_ret = len;
    return CL_SUCCESS;
}

LAYER_API cl_int CL_API_CALL clInitLayer(cl_uint num_entries,
                                         const cl_icd_dispatch *target,
                                         cl_uint *num_entries_ret,
                                         const cl_icd_dispatch **layer_ret)
{
    const cl_uint n = sizeof table / sizeof(void *);
    if (!target || !num_entries_ret || !layer_ret || num_entries < n)
        return CL_INVALID_VALUE;
    next = target;
    table = *target; /* whatever is not wrapped passes straight on */
#define SET_S(name, ...) table.name = w_##name;
#define SET_C(type, name, ...) table.name = w_##name;
#define SET_R(name, ...) table.name = w_##name;
#define SET_L(name, ...) table.name = w_##name;
    FUNCTIONS(SET_S, SET_C, SET_R, SET_L, SET_S)
    table.clEnqueueMapBuffer = w_clEnqueueMapBuffer;
    read_environment();
    atexit(write_report);
    *num_entries_ret = n;
    *layer_ret = &table;
    return CL_SUCCESS;
}
