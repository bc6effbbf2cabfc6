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

#endif
