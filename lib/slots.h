/* The pipeline's slot buffers (host memory the reader or writer touches,
 * and what the kernel sees) and the context's cache of them, so that runs
 * on one context reuse one another's buffers instead of making and
 * releasing them every run: NVIDIA's driver is slow to make pinned memory
 * and keeps what it was given back (bench/RESULTS.md, GPU).
 *
 * The rule: between runs a context keeps the slot buffers of its last
 * successful run, and nothing after a failed one.  A run first takes the
 * cached buffers that fit (of its kind, the smallest that is large enough),
 * then frees the cached ones it did not take, then makes what is still
 * missing; so a run never holds more than it uses, a run with smaller tiles
 * reuses bigger buffers, and a larger run replaces them.
 * h5cl_ctx_trim() and h5cl_ctx_destroy() free what is cached.
 *
 * Every call takes the cache's lock: one context runs one run at a time
 * (its busy guard), but a buffer must never be handed to two takers even
 * if that changes. */
#ifndef H5CL_SLOTS_H
#define H5CL_SLOTS_H

#include "common.h"

/* What a buffer is made for; it is reused only for the same kind. */
typedef struct h5cl_slot_kind {
    int zero_copy;       /* the kernel uses the host pages in place      */
    int shared;          /* the pages are shared with the isolated
                          * reader child (lib/isolate.c)                  */
    cl_mem_flags access; /* CL_MEM_READ_ONLY inputs, CL_MEM_WRITE_ONLY
                          * outputs                                       */
} h5cl_slot_kind;

typedef struct h5cl_slot_buf {
    h5cl_slot_kind kind;
    size_t bytes;  /* its size: at least what the taker asked for        */
    void *host;    /* where the host reads or writes (mapped pointer)     */
    void *alloc;   /* zero-copy or shared: our own pages, `bytes` long    */
    cl_mem hbuf;   /* pinned or USE_HOST_PTR buffer                       */
    cl_mem dbuf;   /* what the kernel uses (hbuf when zero-copy)          */
    int mapped;    /* hbuf is mapped at `host`                            */
} h5cl_slot_buf;

typedef struct h5cl_slot_cache h5cl_slot_cache;

/* NULL when out of memory. */
h5cl_slot_cache *h5cl_slot_cache_create(void);
/* Frees every cached buffer (trim), then the cache.  Before the device
 * and the isolation state go.  NULL is fine. */
void h5cl_slot_cache_destroy(h5cl_ctx *ctx);

/* Moves a cached buffer of kind holding at least `bytes` into *b (the
 * smallest such) and returns 1, or returns 0 and leaves *b alone. */
int h5cl_slot_reuse(h5cl_ctx *ctx, const h5cl_slot_kind *kind, size_t bytes,
                    h5cl_slot_buf *b);
/* Makes a buffer of `bytes` into *b; what: the message's context.  On
 * failure *b holds what was made, for h5cl_slot_free. */
int h5cl_slot_make(h5cl_ctx *ctx, const h5cl_slot_kind *kind, size_t bytes,
                   const char *what, h5cl_slot_buf *b);
/* Hands a whole, idle buffer (no command uses it) to the cache, or frees
 * it when the cache cannot take it; *b is cleared either way. */
void h5cl_slot_give(h5cl_ctx *ctx, h5cl_slot_buf *b);
/* Frees *b, which may be partly made or empty, and clears it. */
void h5cl_slot_free(h5cl_ctx *ctx, h5cl_slot_buf *b);
/* Frees every cached buffer. */
void h5cl_slot_trim(h5cl_ctx *ctx);

/* For the tests: buffers made on this context so far, and cached now. */
void h5cl_slot_counts(h5cl_ctx *ctx, uint64_t *made_ret, size_t *cached_ret);

#endif
