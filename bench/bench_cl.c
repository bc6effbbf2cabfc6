/*
 * h5cl-bench: OpenCL helpers of the device probes (bench_cl.h).
 */
#include <string.h>

#include "bench_cl.h"

int probe_find_device(const h5cl_device_info *dev, cl_device_id *id_ret,
                      char *err)
{
    cl_platform_id plats[64];
    cl_device_id ids[64];
    cl_uint np = 0, nd = 0;
    char name[256] = "";

    PROBE_CL_TRY(err, clGetPlatformIDs(64, plats, &np), "clGetPlatformIDs");
    if (dev->platform_index >= np || dev->platform_index >= 64)
        return fail(err, "platform %u not found", dev->platform_index);
    PROBE_CL_TRY(err,
                 clGetDeviceIDs(plats[dev->platform_index],
                                CL_DEVICE_TYPE_ALL, 64, ids, &nd),
                 "clGetDeviceIDs");
    if (dev->device_index >= nd || dev->device_index >= 64)
        return fail(err, "device %u:%u not found", dev->platform_index,
                    dev->device_index);
    *id_ret = ids[dev->device_index];
    PROBE_CL_TRY(err,
                 clGetDeviceInfo(*id_ret, CL_DEVICE_NAME, sizeof name - 1,
                                 name, NULL),
                 "clGetDeviceInfo(CL_DEVICE_NAME)");
    if (strncmp(name, dev->device_name, sizeof dev->device_name - 1) != 0)
        return fail(err, "device %u:%u is '%s', h5cl reported '%s'",
                    dev->platform_index, dev->device_index, name,
                    dev->device_name);
    return 0;
}

int probe_event_span(cl_event first, cl_event last, double *s_ret,
                     char *err)
{
    cl_ulong t0 = 0, t1 = 0;

    PROBE_CL_TRY(err, clWaitForEvents(1, &last), "clWaitForEvents");
    PROBE_CL_TRY(err,
                 clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_START,
                                         sizeof t0, &t0, NULL),
                 "clGetEventProfilingInfo");
    PROBE_CL_TRY(err,
                 clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END,
                                         sizeof t1, &t1, NULL),
                 "clGetEventProfilingInfo");
    if (t1 <= t0)
        return fail(err, "profiling gave no time");
    *s_ret = (double)(t1 - t0) * 1e-9;
    return 0;
}
