/* A small pool of worker threads for the I/O side of a run: it runs an
 * indexed job, fn(arg, i) for every i < n, to completion, with the calling
 * thread working too.  One job at a time; the pipeline's reader thread is
 * its only user during a run, and the pool ends with the run. */
#ifndef H5CL_POOL_H
#define H5CL_POOL_H

#include <stddef.h>

typedef struct h5cl_pool h5cl_pool;
typedef void (*h5cl_pool_fn)(void *arg, size_t i);

/* The threads a run uses for reading: H5CL_THREADS when set (1 to 256),
 * else the CPUs this process may run on (its affinity mask). */
unsigned h5cl_pool_default_threads(void);

/* nthreads counts the caller: nthreads - 1 workers are started.  Returns
 * -1 (nothing started) when a thread cannot be created or memory runs out. */
int h5cl_pool_create(unsigned nthreads, h5cl_pool **pool_ret);
/* Stops and joins the workers.  NULL is fine. */
void h5cl_pool_destroy(h5cl_pool *pool);
unsigned h5cl_pool_threads(const h5cl_pool *pool);
/* Runs fn(arg, i) for i in [0, n) on the workers and the caller; returns
 * when every call has returned. */
void h5cl_pool_run(h5cl_pool *pool, size_t n, h5cl_pool_fn fn, void *arg);

#endif
