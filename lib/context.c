/* The public context: creation, device choice, cancellation, and the small
 * static tables (version, stage names). */
#include <stdlib.h>

#include "blas.h"
#include "device.h"
#include "hdf5io.h"
#include "isolate.h"
#include "program.h"
#include "slots.h"

const char *h5cl_version(void)
{
    return H5CL_VERSION_STRING;
}

const char *h5cl_stage_name(h5cl_stage stage)
{
    static const char *const names[H5CL_STAGE_COUNT] = {
        "read", "upload", "kernel", "download", "merge", "write"};
    return (unsigned)stage < H5CL_STAGE_COUNT ? names[stage] : "unknown";
}

int h5cl_ctx_create(h5cl_ctx **ctx_ret)
{
    if (!ctx_ret)
        return H5CL_ERR_INVALID_ARGUMENT;
    *ctx_ret = NULL;
    h5cl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return H5CL_ERR_NO_MEMORY;
    h5cl_h5_init();
    atomic_init(&ctx->cancel, 0);
    atomic_init(&ctx->busy, 0);
    ctx->share_stop = UINT64_MAX;
    ctx->slot_cache = h5cl_slot_cache_create();
    if (!ctx->slot_cache || h5cl_iso_ctx_init(ctx) != H5CL_OK) {
        h5cl_slot_cache_destroy(ctx);
        free(ctx);
        return H5CL_ERR_NO_MEMORY;
    }
    *ctx_ret = ctx;
    return H5CL_OK;
}

void h5cl_ctx_destroy(h5cl_ctx *ctx)
{
    if (!ctx)
        return;
    /* cached slot buffers hold device memory and, for isolated inputs,
     * pages of the isolation state: they go first */
    h5cl_slot_cache_destroy(ctx);
    h5cl_program_release_all(ctx);
    h5cl_blas_release(ctx);
    if (ctx->device_open)
        h5cl_device_close(&ctx->dev);
    h5cl_iso_ctx_release(ctx);
    free(ctx->msg);
    free(ctx);
}

int h5cl_ctx_use_device(h5cl_ctx *ctx, const char *spec)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_device_open(ctx, spec);
    return st == H5CL_OK ? h5cl_ok(ctx) : st;
}

int h5cl_ctx_device(h5cl_ctx *ctx, h5cl_device_info *info_ret)
{
    if (!ctx || !info_ret)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_ctx_device: NULL argument");
    int st = h5cl_device_require(ctx);
    if (st != H5CL_OK)
        return st;
    *info_ret = ctx->dev.info;
    return h5cl_ok(ctx);
}

int h5cl_ctx_set_strict(h5cl_ctx *ctx, int strict)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    ctx->strict = strict != 0;
    return h5cl_ok(ctx);
}

void h5cl_cancel(h5cl_ctx *ctx)
{
    if (ctx)
        atomic_store(&ctx->cancel, 1);
}

void h5cl_ctx_trim(h5cl_ctx *ctx)
{
    if (ctx)
        h5cl_slot_trim(ctx);
}
