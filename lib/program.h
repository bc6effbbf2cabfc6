/* Kernel programs: the sources embedded at build time, building them with
 * options derived from the device, and the on-disk binary cache. */
#ifndef H5CL_PROGRAM_H
#define H5CL_PROGRAM_H

#include "common.h"

typedef struct h5cl_kernel_source {
    const char *name; /* file name without .cl */
    const char *text;
    size_t length;
} h5cl_kernel_source;

/* Generated from the .cl files in kernels/ by kernels/embed.sh; ends with
 * a NULL name. */
extern const h5cl_kernel_source h5cl_kernel_sources[];

/* The program of kernels/<name>.cl built for one element type (T, T_KIND,
 * T_SIZE, HAS_FP64 and CONTIGUOUS defined), once per context, loaded from
 * the disk cache when possible.  Owned by ctx. */
int h5cl_program_get(h5cl_ctx *ctx, const char *name, h5cl_dtype dtype,
                     cl_program *prog_ret);
/* The same with more -D options (up to 120 characters) selecting a
 * variant of the source: cached separately, keyed by them. */
int h5cl_program_get_variant(h5cl_ctx *ctx, const char *name,
                             h5cl_dtype dtype, const char *defines,
                             cl_program *prog_ret);
/* Any program source (generated ones: expressions), cached in memory and
 * on disk like the embedded ones.  label names it in build errors. */
int h5cl_program_build(h5cl_ctx *ctx, const char *label, const char *text,
                       size_t length, const char *opts, cl_program *prog_ret);
/* "float", "ushort", ... for an element type. */
const char *h5cl_program_cl_type(h5cl_dtype dtype);
/* One kernel argument: size and value (NULL for local memory). */
typedef struct h5cl_karg {
    size_t size;
    const void *value;
} h5cl_karg;

/* Sets n arguments of k from index `first` on, stopping at the first
 * failure, which it reports naming clSetKernelArg, the error and `what`
 * (the kernel). */
int h5cl_kernel_args(h5cl_ctx *ctx, cl_kernel k, cl_uint first,
                     const h5cl_karg *args, size_t n, const char *what);
/* Releases every program ctx holds. */
void h5cl_program_release_all(h5cl_ctx *ctx);

#endif
