/* Device enumeration and selection.  Default: first GPU, else first
 * accelerator, else first CPU; H5CL_DEVICE or an explicit spec overrides. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

typedef struct dev_entry {
    cl_platform_id platform;
    cl_device_id id;
    h5cl_device_info info;
} dev_entry;

/* The first failed query of a device's description: which, and why. */
typedef struct query_status {
    cl_int err;
    const char *call, *what;
} query_status;

/* One clGetDeviceInfo; a failure is kept (the first one) rather than
 * read as a zero, which would quietly change the device's class, its
 * defaults and so the order in which results are summed. */
static void query(query_status *qs, cl_device_id d, cl_device_info what,
                  const char *name, size_t len, void *buf)
{
    cl_int err = clGetDeviceInfo(d, what, len, buf, NULL);
    if (err != CL_SUCCESS && qs->err == CL_SUCCESS) {
        qs->err = err;
        qs->call = "clGetDeviceInfo";
        qs->what = name;
    }
}

#define QUERY(qs, d, param, len, buf) query(qs, d, param, #param, len, buf)

static void get_str(query_status *qs, cl_device_id d, cl_device_info what,
                    const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    query(qs, d, what, name, len, buf);
    buf[len - 1] = '\0';
}

#define GET_STR(qs, d, param, buf, len) get_str(qs, d, param, #param, buf, len)

static void describe(query_status *qs, cl_platform_id p, cl_device_id d,
                     h5cl_device_info *in)
{
    cl_device_type type = 0;
    cl_uint cu = 0;
    cl_ulong gmem = 0, maxalloc = 0;
    cl_bool unified = CL_FALSE;
    cl_device_fp_config fp64 = 0;
    size_t wg = 1;
    char ext[8192];

    QUERY(qs, d, CL_DEVICE_TYPE, sizeof type, &type);
    QUERY(qs, d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu);
    QUERY(qs, d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem);
    QUERY(qs, d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc);
    QUERY(qs, d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified);
    QUERY(qs, d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg);
    /* OpenCL 1.1 devices without doubles may not know this query */
    if (clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64,
                        NULL) != CL_SUCCESS)
        fp64 = 0;
    GET_STR(qs, d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    cl_int err = clGetPlatformInfo(p, CL_PLATFORM_NAME,
                                   sizeof in->platform_name,
                                   in->platform_name, NULL);
    if (err != CL_SUCCESS && qs->err == CL_SUCCESS)
        *qs = (query_status){err, "clGetPlatformInfo", "CL_PLATFORM_NAME"};
    in->platform_name[sizeof in->platform_name - 1] = '\0';
    GET_STR(qs, d, CL_DEVICE_NAME, in->device_name, sizeof in->device_name);
    GET_STR(qs, d, CL_DEVICE_VENDOR, in->vendor, sizeof in->vendor);
    GET_STR(qs, d, CL_DRIVER_VERSION, in->driver_version,
            sizeof in->driver_version);
    GET_STR(qs, d, CL_DEVICE_VERSION, in->opencl_version,
            sizeof in->opencl_version);

    in->type = (type & CL_DEVICE_TYPE_GPU)           ? H5CL_DEVICE_GPU
               : (type & CL_DEVICE_TYPE_ACCELERATOR) ? H5CL_DEVICE_ACCELERATOR
               : (type & CL_DEVICE_TYPE_CPU)         ? H5CL_DEVICE_CPU
                                                     : H5CL_DEVICE_OTHER;
    in->has_fp64 = fp64 != 0 || strstr(ext, "cl_khr_fp64") != NULL;
    /* H5CL_FP64=0 makes a device pose as one without fp64, so that the
     * compensated-float path runs in CI on PoCL */
    const char *f = getenv("H5CL_FP64");
    if (f && strcmp(f, "0") == 0)
        in->has_fp64 = 0;
    in->host_unified_memory = unified == CL_TRUE;
    in->compute_units = cu;
    in->global_mem_bytes = gmem;
    in->max_alloc_bytes = maxalloc;
    in->max_work_group_size = wg;
}

/* All devices of all platforms, in platform then device order. */
static int enumerate(h5cl_ctx *ctx, dev_entry **list_ret, size_t *n_ret)
{
    cl_uint np = 0;
    *list_ret = NULL;
    *n_ret = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ ||
        (err == CL_SUCCESS && np == 0))
        return h5cl_fail(
            ctx, H5CL_ERR_NO_PLATFORM,
            "no OpenCL platform found (clGetPlatformIDs: %s); install an "
            "OpenCL driver and its ICD file, e.g. `apt-get install "
            "pocl-opencl-icd` for CPUs or the GPU vendor's OpenCL ICD",
            h5cl_cl_errname(err));
    if (err != CL_SUCCESS)
        return h5cl_fail_cl(ctx, err, "clGetPlatformIDs",
                            "listing OpenCL platforms");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        return h5cl_fail_cl(ctx, err, "clGetPlatformIDs",
                            "listing OpenCL platforms");
    }
    dev_entry *list = NULL;
    size_t n = 0;
    /* a platform whose device list cannot be read is skipped, so that a
     * broken ICD does not hide the others; its error is reported when
     * no device is left */
    query_status ids_err = {CL_SUCCESS, NULL, NULL};
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err != CL_SUCCESS || nd == 0) {
            /* a platform without devices is not an error */
            if (err != CL_SUCCESS && err != CL_DEVICE_NOT_FOUND &&
                ids_err.err == CL_SUCCESS)
                ids_err = (query_status){err, "clGetDeviceIDs", NULL};
            continue;
        }
        cl_device_id *ids = calloc(nd, sizeof *ids);
        dev_entry *grown = realloc(list, (n + nd) * sizeof *list);
        if (!ids || !grown) {
            free(ids);
            free(grown ? grown : list);
            free(plats);
            return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");
        }
        list = grown;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        if (err != CL_SUCCESS && ids_err.err == CL_SUCCESS)
            ids_err = (query_status){err, "clGetDeviceIDs", NULL};
        for (cl_uint d = 0; err == CL_SUCCESS && d < nd; d++) {
            dev_entry *e = &list[n++];
            memset(e, 0, sizeof *e);
            e->platform = plats[p];
            e->id = ids[d];
            e->info.platform_index = p;
            e->info.device_index = d;
            query_status qs = {CL_SUCCESS, NULL, NULL};
            describe(&qs, plats[p], ids[d], &e->info);
            if (qs.err != CL_SUCCESS) {
                char what[128];
                snprintf(what, sizeof what, "reading %s of device %u:%u",
                         qs.what, p, d);
                free(ids);
                free(list);
                free(plats);
                return h5cl_fail_cl(ctx, qs.err, qs.call, what);
            }
        }
        free(ids);
    }
    free(plats);
    if (n == 0 && ids_err.err != CL_SUCCESS) {
        free(list);
        return h5cl_fail_cl(ctx, ids_err.err, ids_err.call,
                            "listing the devices of a platform");
    }
    if (n == 0) {
        free(list);
        return h5cl_fail(ctx, H5CL_ERR_NO_PLATFORM,
                         "%u OpenCL platform(s) found but no devices; "
                         "install a driver, e.g. `apt-get install "
                         "pocl-opencl-icd`",
                         np);
    }
    /* first GPU, else first accelerator, else first CPU, else first */
    const h5cl_device_type order[] = {H5CL_DEVICE_GPU, H5CL_DEVICE_ACCELERATOR,
                                      H5CL_DEVICE_CPU};
    size_t def = 0;
    int found = 0;
    for (size_t o = 0; o < H5CL_ARRAY_LEN(order) && !found; o++)
        for (size_t i = 0; i < n && !found; i++)
            if (list[i].info.type == order[o]) {
                def = i;
                found = 1;
            }
    list[def].info.is_default = 1;
    *list_ret = list;
    *n_ret = n;
    return H5CL_OK;
}

/* The ICD loader and PoCL build their platform and device lists on the
 * first call, and not thread-safely: contexts opened at once from Dask's
 * threads found no device, or crashed.  One enumeration at a time. */
static pthread_mutex_t enumerate_lock = PTHREAD_MUTEX_INITIALIZER;

static int enumerate_locked(h5cl_ctx *ctx, dev_entry **list_ret,
                            size_t *n_ret)
{
    pthread_mutex_lock(&enumerate_lock);
    int st = enumerate(ctx, list_ret, n_ret);
    pthread_mutex_unlock(&enumerate_lock);
    return st;
}

int h5cl_ctx_list_devices(h5cl_ctx *ctx, h5cl_device_info *info,
                          size_t capacity, size_t *count_ret)
{
    if (!ctx || !count_ret)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_ctx_list_devices: NULL argument");
    dev_entry *list;
    size_t n;
    int st = enumerate_locked(ctx, &list, &n);
    if (st != H5CL_OK)
        return st;
    for (size_t i = 0; info && i < n && i < capacity; i++)
        info[i] = list[i].info;
    free(list);
    *count_ret = n;
    return h5cl_ok(ctx);
}

const char *h5cl_device_type_name(h5cl_device_type t)
{
    switch (t) {
    case H5CL_DEVICE_GPU:
        return "gpu";
    case H5CL_DEVICE_ACCELERATOR:
        return "accelerator";
    case H5CL_DEVICE_CPU:
        return "cpu";
    default:
        return "other";
    }
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, nl) == 0)
            return 1;
    return nl == 0;
}

/* Index of the device that spec names, or -1. */
static long match_spec(const dev_entry *list, size_t n, const char *spec)
{
    if (!spec || !*spec) {
        for (size_t i = 0; i < n; i++)
            if (list[i].info.is_default)
                return (long)i;
        return -1;
    }
    unsigned p, d;
    char tail;
    if (sscanf(spec, "%u:%u%c", &p, &d, &tail) == 2) {
        for (size_t i = 0; i < n; i++)
            if (list[i].info.platform_index == p &&
                list[i].info.device_index == d)
                return (long)i;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(spec, h5cl_device_type_name(list[i].info.type)) == 0)
            return (long)i;
    if (strcasecmp(spec, "gpu") == 0 || strcasecmp(spec, "cpu") == 0 ||
        strcasecmp(spec, "accelerator") == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (contains_nocase(list[i].info.device_name, spec))
            return (long)i;
    return -1;
}

static int open_entry(h5cl_ctx *ctx, const dev_entry *e)
{
    h5cl_device *dev = &ctx->dev;
    cl_int err;
    memset(dev, 0, sizeof *dev);
    dev->platform = e->platform;
    dev->id = e->id;
    dev->info = e->info;
    ctx->device_open = 1; /* lets error messages name the device */

    cl_ulong lmem = 0;
    cl_uint align_bits = 0;
    query_status qs = {CL_SUCCESS, NULL, NULL};
    QUERY(&qs, e->id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem);
    QUERY(&qs, e->id, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits,
          &align_bits);
    if (qs.err != CL_SUCCESS) {
        char what[128];
        snprintf(what, sizeof what, "reading %s", qs.what);
        ctx->device_open = 0;
        return h5cl_fail_cl(ctx, qs.err, qs.call, what);
    }
    dev->local_mem_bytes = lmem;
    dev->mem_base_align_bytes = align_bits / 8 ? align_bits / 8 : 128;
    dev->max_work_group_size = e->info.max_work_group_size;

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)e->platform, 0};
    dev->context = clCreateContext(props, 1, &dev->id, NULL, NULL, &err);
    if (!dev->context) {
        ctx->device_open = 0;
        return h5cl_fail_cl(ctx, err, "clCreateContext", "opening the device");
    }
    const char *qname = "clCreateCommandQueue";
    dev->xfer = clCreateCommandQueue(dev->context, dev->id,
                                     CL_QUEUE_PROFILING_ENABLE, &err);
    if (dev->xfer)
        dev->comp = clCreateCommandQueue(dev->context, dev->id,
                                         CL_QUEUE_PROFILING_ENABLE, &err);
    if (dev->comp && h5cl_device_contiguous(dev))
        dev->comp2 = clCreateCommandQueue(dev->context, dev->id,
                                          CL_QUEUE_PROFILING_ENABLE, &err);
    if (!dev->xfer || !dev->comp ||
        (h5cl_device_contiguous(dev) && !dev->comp2)) {
        h5cl_fail_cl(ctx, err, qname, "creating command queues");
        h5cl_device_close(dev);
        ctx->device_open = 0;
        return ctx->status;
    }
    return H5CL_OK;
}

int h5cl_device_open(h5cl_ctx *ctx, const char *spec)
{
    dev_entry *list;
    size_t n;
    int st = enumerate_locked(ctx, &list, &n);
    if (st != H5CL_OK)
        return st;
    const char *env = getenv("H5CL_DEVICE");
    const char *want = (spec && *spec) ? spec : (env && *env) ? env : NULL;
    long i = match_spec(list, n, want);
    if (i < 0) {
        h5cl_fail(ctx, H5CL_ERR_DEVICE_NOT_FOUND,
                  "no OpenCL device matches \"%s\"%s; use gpu, cpu, "
                  "accelerator, P:D or part of a name. Devices:",
                  want ? want : "(default)",
                  (want && want == env) ? " (from H5CL_DEVICE)" : "");
        for (size_t k = 0; k < n; k++)
            h5cl_msg_append(ctx, "\n  %u:%u %s \"%s\" (%s)",
                            list[k].info.platform_index,
                            list[k].info.device_index,
                            h5cl_device_type_name(list[k].info.type),
                            list[k].info.device_name,
                            list[k].info.platform_name);
        free(list);
        return ctx->status;
    }
    if (ctx->device_open) {
        int same = ctx->dev.id == list[i].id;
        free(list);
        if (same)
            return H5CL_OK;
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "this context already uses %s; make another "
                         "context for another device",
                         ctx->dev.info.device_name);
    }
    st = open_entry(ctx, &list[i]);
    free(list);
    return st;
}

int h5cl_device_require(h5cl_ctx *ctx)
{
    return ctx->device_open ? H5CL_OK : h5cl_device_open(ctx, NULL);
}

void h5cl_device_close(h5cl_device *dev)
{
    if (dev->comp2)
        clReleaseCommandQueue(dev->comp2);
    if (dev->comp)
        clReleaseCommandQueue(dev->comp);
    if (dev->xfer)
        clReleaseCommandQueue(dev->xfer);
    if (dev->context)
        clReleaseContext(dev->context);
    dev->comp = dev->comp2 = dev->xfer = NULL;
    dev->context = NULL;
}

static int env_choice(const char *name, const char *yes, const char *no)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    if (strcasecmp(v, yes) == 0 || strcmp(v, "1") == 0)
        return 1;
    if (strcasecmp(v, no) == 0 || strcmp(v, "0") == 0)
        return 0;
    return -1;
}

int h5cl_device_contiguous(const h5cl_device *dev)
{
    int forced = env_choice("H5CL_PATTERN", "contiguous", "interleaved");
    return forced >= 0 ? forced : dev->info.type == H5CL_DEVICE_CPU;
}

int h5cl_device_zero_copy(const h5cl_device *dev)
{
    int forced = env_choice("H5CL_ZERO_COPY", "yes", "no");
    return forced >= 0 ? forced : dev->info.host_unified_memory;
}
