/* Slot buffers and the context's cache of them (slots.h has the rule).
 *
 * What each kind costs to make, and so why every kind is cached:
 *   - pinned (devices with their own memory): a CL_MEM_ALLOC_HOST_PTR
 *     buffer, mapped for its whole life, and a device buffer.  The costly
 *     kind: NVIDIA's driver pins the pages when it makes them and keeps
 *     memory given back.
 *   - shared (isolated inputs, any device): memfd pages mapped in both
 *     processes, wrapped with USE_HOST_PTR (which NVIDIA's driver pins),
 *     plus a device buffer on devices with their own memory.  The pages
 *     belong to the context (lib/isolate.c keeps them until freed here),
 *     not to a reader child: a child started later is handed a page set
 *     the first time a read targets it, so a cached one stays valid
 *     across children.  Reusing them also saves the request that hands a
 *     new page set to the child.
 *   - zero-copy (host-memory devices): anonymous pages wrapped with
 *     USE_HOST_PTR.  Cheap to wrap, but fresh pages fault in (and are
 *     zeroed) on first touch, every run.
 * A run reads only what its tiles hold, so what an earlier run left in a
 * buffer is never seen. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "isolate.h"
#include "slots.h"

typedef struct entry {
    h5cl_slot_buf buf;
    struct entry *next;
} entry;

struct h5cl_slot_cache {
    pthread_mutex_t mu;
    entry *idle;     /* buffers no run holds                             */
    uint64_t made;   /* buffers made on this context (for the tests)     */
};

h5cl_slot_cache *h5cl_slot_cache_create(void)
{
    h5cl_slot_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void h5cl_slot_cache_destroy(h5cl_ctx *ctx)
{
    if (!ctx->slot_cache)
        return;
    h5cl_slot_trim(ctx);
    pthread_mutex_destroy(&ctx->slot_cache->mu);
    free(ctx->slot_cache);
    ctx->slot_cache = NULL;
}

static int same_kind(const h5cl_slot_kind *a, const h5cl_slot_kind *b)
{
    return a->zero_copy == b->zero_copy && a->shared == b->shared &&
           a->access == b->access;
}

int h5cl_slot_reuse(h5cl_ctx *ctx, const h5cl_slot_kind *kind, size_t bytes,
                    h5cl_slot_buf *b)
{
    h5cl_slot_cache *c = ctx->slot_cache;
    pthread_mutex_lock(&c->mu);
    entry **best = NULL;
    for (entry **pp = &c->idle; *pp; pp = &(*pp)->next) {
        const h5cl_slot_buf *e = &(*pp)->buf;
        if (same_kind(&e->kind, kind) && e->bytes >= bytes &&
            (!best || e->bytes < (*best)->buf.bytes))
            best = pp;
    }
    entry *e = best ? *best : NULL;
    if (e)
        *best = e->next;
    pthread_mutex_unlock(&c->mu);
    if (!e)
        return 0;
    *b = e->buf;
    free(e);
    return 1;
}

void h5cl_slot_give(h5cl_ctx *ctx, h5cl_slot_buf *b)
{
    h5cl_slot_cache *c = ctx->slot_cache;
    entry *e = malloc(sizeof *e);
    if (!e) {
        /* keeping it is only an optimisation */
        h5cl_slot_free(ctx, b);
        return;
    }
    e->buf = *b;
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&c->mu);
    e->next = c->idle;
    c->idle = e;
    pthread_mutex_unlock(&c->mu);
}

void h5cl_slot_trim(h5cl_ctx *ctx)
{
    h5cl_slot_cache *c = ctx->slot_cache;
    pthread_mutex_lock(&c->mu);
    entry *list = c->idle;
    c->idle = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        entry *next = list->next;
        h5cl_slot_free(ctx, &list->buf);
        free(list);
        list = next;
    }
}

void h5cl_slot_counts(h5cl_ctx *ctx, uint64_t *made_ret, size_t *cached_ret)
{
    h5cl_slot_cache *c = ctx->slot_cache;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (const entry *e = c->idle; e; e = e->next)
        n++;
    *made_ret = c->made;
    pthread_mutex_unlock(&c->mu);
    *cached_ret = n;
}

/* ---- making and freeing one buffer ---- */

/* Host pages that could not be had.  Shared ones are memfd pages, which
 * the file-size limit (ulimit -f) also caps. */
static int host_failed(h5cl_ctx *ctx, size_t bytes, const char *what,
                       int shared)
{
    if (shared && errno == EFBIG)
        return h5cl_fail(ctx, H5CL_ERR_LIMIT,
                         "cannot make a %zu-byte host slot shared with the "
                         "isolated reader (%s): the file-size limit (ulimit "
                         "-f) covers shared memory too; raise it, choose "
                         "smaller tiles or read in-process",
                         bytes, what);
    return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                     "cannot allocate a %zu-byte host slot (%s)", bytes, what);
}

/* Page-aligned host memory of our own: shared with the reader child, or
 * anonymous pages rather than malloc's (given back whole when freed, where
 * megabyte blocks from the heap left it fragmented and growing). */
static int host_pages(h5cl_ctx *ctx, h5cl_slot_buf *b, const char *what)
{
    void *p = b->kind.shared ? h5cl_iso_shm_alloc(ctx, b->bytes)
                             : mmap(NULL, b->bytes, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!p || p == MAP_FAILED)
        return host_failed(ctx, b->bytes, what, b->kind.shared);
    b->alloc = b->host = p;
    return H5CL_OK;
}

static int make_buffer(h5cl_ctx *ctx, cl_mem_flags flags, size_t bytes,
                       void *host, const char *what, cl_mem *mem_ret)
{
    cl_int err;
    *mem_ret = clCreateBuffer(ctx->dev.context, flags, bytes, host, &err);
    return *mem_ret ? H5CL_OK
                    : h5cl_fail_cl(ctx, err, "clCreateBuffer", what);
}

/* Zero-copy: the kernel reads or writes the pages in place (isolated
 * inputs: pages the child writes the tile into). */
static int make_zero_copy(h5cl_ctx *ctx, h5cl_slot_buf *b, const char *what)
{
    int st = host_pages(ctx, b, what);
    if (st == H5CL_OK)
        st = make_buffer(ctx, b->kind.access | CL_MEM_USE_HOST_PTR, b->bytes,
                         b->alloc, what, &b->hbuf);
    b->dbuf = b->hbuf;
    return st;
}

/* Isolated inputs on devices with their own memory: the child writes into
 * shared pages and the upload reads them, where a pinned slot would cost
 * one more copy of every tile on the reader thread (measured on an H200,
 * 4 GiB stats: 7.1 GB/s through that copy, 9.5 GB/s uploading from the
 * plain shared pages, 23.0 GB/s once wrapped, against 29.2 GB/s
 * in-process).  Wrapped, so that the driver pins the pages and the upload
 * is a DMA (NVIDIA's does). */
static int make_shared_upload(h5cl_ctx *ctx, h5cl_slot_buf *b,
                              const char *what)
{
    int st = host_pages(ctx, b, what);
    if (st == H5CL_OK)
        st = make_buffer(ctx, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR,
                         b->bytes, b->alloc, what, &b->hbuf);
    if (st == H5CL_OK)
        st = make_buffer(ctx, b->kind.access, b->bytes, NULL, what, &b->dbuf);
    return st;
}

/* A pinned host buffer, mapped for its whole life, and a device buffer. */
static int make_pinned(h5cl_ctx *ctx, h5cl_slot_buf *b, const char *what)
{
    int st = make_buffer(ctx, CL_MEM_ALLOC_HOST_PTR, b->bytes, NULL, what,
                         &b->hbuf);
    if (st == H5CL_OK)
        st = make_buffer(ctx, b->kind.access, b->bytes, NULL, what, &b->dbuf);
    if (st != H5CL_OK)
        return st;
    cl_int err;
    b->host = clEnqueueMapBuffer(ctx->dev.xfer, b->hbuf, CL_TRUE,
                                 CL_MAP_READ | CL_MAP_WRITE, 0, b->bytes, 0,
                                 NULL, NULL, &err);
    if (!b->host)
        return h5cl_fail_cl(ctx, err, "clEnqueueMapBuffer", what);
    b->mapped = 1;
    return H5CL_OK;
}

int h5cl_slot_make(h5cl_ctx *ctx, const h5cl_slot_kind *kind, size_t bytes,
                   const char *what, h5cl_slot_buf *b)
{
    memset(b, 0, sizeof *b);
    b->kind = *kind;
    b->bytes = bytes;
    int st = kind->zero_copy ? make_zero_copy(ctx, b, what)
             : kind->shared  ? make_shared_upload(ctx, b, what)
                             : make_pinned(ctx, b, what);
    if (st == H5CL_OK) {
        pthread_mutex_lock(&ctx->slot_cache->mu);
        ctx->slot_cache->made++;
        pthread_mutex_unlock(&ctx->slot_cache->mu);
    }
    return st;
}

void h5cl_slot_free(h5cl_ctx *ctx, h5cl_slot_buf *b)
{
    if (b->hbuf && b->mapped && b->host) {
        cl_event ev = NULL;
        if (clEnqueueUnmapMemObject(ctx->dev.xfer, b->hbuf, b->host, 0, NULL,
                                    &ev) == CL_SUCCESS) {
            clWaitForEvents(1, &ev);
            clReleaseEvent(ev);
        }
    }
    if (b->dbuf && b->dbuf != b->hbuf)
        clReleaseMemObject(b->dbuf);
    if (b->hbuf)
        clReleaseMemObject(b->hbuf);
    if (b->alloc && b->kind.shared)
        h5cl_iso_shm_free(ctx, b->alloc);
    else if (b->alloc)
        munmap(b->alloc, b->bytes);
    memset(b, 0, sizeof *b);
}
