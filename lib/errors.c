/* Status codes, their names and messages, and the per-context detailed
 * message that every failing call leaves behind. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

const char *h5cl_strerror(int status)
{
    switch (status) {
#define H5CL_MSG_CASE_(name, value, msg)                                      \
    case value:                                                               \
        return msg;
        H5CL_STATUS_LIST(H5CL_MSG_CASE_)
#undef H5CL_MSG_CASE_
    }
    return "unknown status";
}

const char *h5cl_errname(int status)
{
    switch (status) {
#define H5CL_NAME_CASE_(name, value, msg)                                     \
    case value:                                                               \
        return "H5CL_" #name;
        H5CL_STATUS_LIST(H5CL_NAME_CASE_)
#undef H5CL_NAME_CASE_
    }
    return "H5CL_UNKNOWN_STATUS";
}

static void msg_vset(h5cl_ctx *ctx, int append, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    size_t old = (append && ctx->msg) ? strlen(ctx->msg) : 0;
    char *m = realloc(append ? ctx->msg : NULL, old + (size_t)n + 1);
    if (!m)
        return; /* keep whatever message we had: better than none */
    if (!append)
        free(ctx->msg);
    if (!append || old == 0)
        m[0] = '\0';
    vsnprintf(m + old, (size_t)n + 1, fmt, ap);
    ctx->msg = m;
}

int h5cl_fail(h5cl_ctx *ctx, int status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    msg_vset(ctx, 0, fmt, ap);
    va_end(ap);
    ctx->status = status;
    return status;
}

void h5cl_msg_append(h5cl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vset(ctx, 1, fmt, ap);
    va_end(ap);
}

int h5cl_ok(h5cl_ctx *ctx)
{
    ctx->status = H5CL_OK;
    if (ctx->msg)
        ctx->msg[0] = '\0';
    return H5CL_OK;
}

const char *h5cl_ctx_errmsg(const h5cl_ctx *ctx)
{
    if (!ctx)
        return "no context";
    return ctx->msg ? ctx->msg : "";
}

int h5cl_ctx_errcode(const h5cl_ctx *ctx)
{
    return ctx ? ctx->status : H5CL_ERR_INVALID_ARGUMENT;
}

const char *h5cl_cl_errname(cl_int err)
{
    switch (err) {
#define E(x)                                                                  \
    case x:                                                                   \
        return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP)
        E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE)
        E(CL_LINK_PROGRAM_FAILURE) E(CL_DEVICE_PARTITION_FAILED)
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
        E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
        E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES)
        E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        E(CL_INVALID_IMAGE_SIZE) E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
        E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL)
        E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
        E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
        E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT)
        E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_MIP_LEVEL)
        E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
        E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS)
        E(CL_INVALID_LINKER_OPTIONS) E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    static _Thread_local char buf[48];
    snprintf(buf, sizeof buf, "CL_UNKNOWN_ERROR(%d)", (int)err);
    return buf;
}

int h5cl_fail_cl(h5cl_ctx *ctx, cl_int err, const char *call,
                 const char *what)
{
    int status = H5CL_ERR_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
        err == CL_OUT_OF_RESOURCES || err == CL_INVALID_BUFFER_SIZE)
        status = H5CL_ERR_DEVICE_MEMORY;
    else if (err == CL_OUT_OF_HOST_MEMORY)
        status = H5CL_ERR_NO_MEMORY;
    const char *dev = (ctx && ctx->device_open) ? ctx->dev.info.device_name
                                                : "no device";
    return h5cl_fail(ctx, status, "%s failed with %s (%d) while %s on %s",
                     call, h5cl_cl_errname(err), (int)err, what, dev);
}

double h5cl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
