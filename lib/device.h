/* OpenCL platforms and devices: enumeration, the default rule, the device
 * spec grammar, and opening a device with its context and queues. */
#ifndef H5CL_DEVICE_H
#define H5CL_DEVICE_H

#include "common.h"

/* Opens the device chosen by spec (see h5cl_ctx_use_device) into ctx->dev. */
int h5cl_device_open(h5cl_ctx *ctx, const char *spec);
/* Releases queues and context; safe on a device that was never opened. */
void h5cl_device_close(h5cl_device *dev);
/* Opens the default device unless one is open. */
int h5cl_device_require(h5cl_ctx *ctx);

/* Access pattern of the kernels: 1 when each work-item should own one
 * contiguous segment (CPU devices, where PoCL runs a work-item's loop to
 * completion), 0 for interleaved work-items (GPUs).  H5CL_PATTERN=
 * contiguous|interleaved overrides, so CI on a CPU exercises both. */
int h5cl_device_contiguous(const h5cl_device *dev);
/* Whether kernels read host slots in place (host-unified memory).
 * H5CL_ZERO_COPY=0 forces the pinned-upload path, =1 asks for zero-copy. */
int h5cl_device_zero_copy(const h5cl_device *dev);

#endif
