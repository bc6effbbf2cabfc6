/* Internal definitions shared by every part of the library: the context
 * struct, status reporting and small allocation helpers.  Depends on nothing
 * but the public header and OpenCL's. */
#ifndef H5CL_COMMON_H
#define H5CL_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <CL/cl.h>

#include "h5cl.h"

#define H5CL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An AddressSanitizer build (make asan-test): its shadow memory needs the
 * address space that a memory limit would take.  gcc says
 * __SANITIZE_ADDRESS__, clang __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define H5CL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H5CL_ASAN 1
#endif
#endif
#ifndef H5CL_ASAN
#define H5CL_ASAN 0
#endif

/* One opened OpenCL device with the in-order queues the pipeline uses:
 * uploads (and zero-copy map/unmap) on `xfer`, kernels and read-backs on
 * `comp`, so that transfers of one tile overlap the kernel of another; on
 * CPU devices also `comp2`, which takes every other tile of the ops whose
 * tiles are independent (h5cl_tile.queue), so one tile's kernel starts
 * while the last one's finishes: on PoCL a kernel in the same in-order
 * queue started about 50 us after the last one ended, 7% of a 16 MiB
 * tile's sum. */
typedef struct h5cl_device {
    cl_platform_id platform;
    cl_device_id id;
    cl_context context;
    cl_command_queue xfer;
    cl_command_queue comp;
    cl_command_queue comp2; /* NULL on GPUs */
    h5cl_device_info info;
    size_t max_work_group_size;
    uint64_t local_mem_bytes;
    unsigned mem_base_align_bytes;
} h5cl_device;

/* A built program, kept for the context's lifetime. */
typedef struct h5cl_program_memo {
    uint64_t key;
    cl_program prog;
    struct h5cl_program_memo *next;
} h5cl_program_memo;

struct h5cl_ctx {
    int status;
    char *msg;           /* detailed message of the last failure           */
    atomic_int cancel;
    atomic_int busy;     /* a run is in progress (misuse guard)          */
    int device_open;
    h5cl_device dev;
    h5cl_program_memo *memo; /* built programs                          */
    int open_datasets;
    int blas_used;       /* CLBlast holds programs for this device's context */
    int strict;          /* h5cl_ctx_set_strict: missing data is an error */
    uint64_t share_start, share_stop; /* h5cl_ctx_set_share: rows of the
                                         selection's first axis a run takes */
    struct h5cl_iso *iso; /* isolated mode: settings and the reader child */
    struct h5cl_slot_cache *slot_cache; /* slot buffers kept between runs
                                         * (slots.h) */
};

/* Records a failure on ctx and returns status, so callers can write
 * `return h5cl_fail(ctx, H5CL_ERR_X, "...", ...)`.  The message replaces
 * the previous one. */
int h5cl_fail(h5cl_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends text to the current message (e.g. a build log). */
void h5cl_msg_append(h5cl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Marks the call successful and clears the message. */
int h5cl_ok(h5cl_ctx *ctx);

/* Records a failed OpenCL call: names the call and the error. */
int h5cl_fail_cl(h5cl_ctx *ctx, cl_int err, const char *call,
                 const char *what);
/* "CL_OUT_OF_RESOURCES" etc.; "CL_UNKNOWN_ERROR(n)" in a static buffer
 * that is thread-local. */
const char *h5cl_cl_errname(cl_int err);

/* Monotonic seconds. */
double h5cl_now(void);

#endif
