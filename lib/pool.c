#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define POOL_MAX_THREADS 256

struct h5cl_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a new job, or quit                       */
    pthread_cond_t idle; /* a worker finished its share of a job     */
    pthread_t *threads;
    unsigned nworkers;
    unsigned active;      /* workers inside the current job           */
    unsigned long gen;    /* job number: a worker takes each job once */
    int quit;
    /* the job; changed only under mu while no worker is active */
    h5cl_pool_fn fn;
    void *arg;
    size_t n;
    atomic_size_t next;
};

unsigned h5cl_pool_default_threads(void)
{
    const char *env = getenv("H5CL_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= POOL_MAX_THREADS)
            return (unsigned)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1)
            return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (unsigned)n;
    }
    return 1;
}

static void drain(h5cl_pool *pool)
{
    for (;;) {
        size_t i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->n)
            return;
        pool->fn(pool->arg, i);
    }
}

static void *worker_main(void *arg)
{
    h5cl_pool *pool = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->gen == seen && !pool->quit)
            pthread_cond_wait(&pool->work, &pool->mu);
        if (pool->quit)
            break;
        seen = pool->gen;
        pool->active++;
        pthread_mutex_unlock(&pool->mu);
        drain(pool);
        pthread_mutex_lock(&pool->mu);
        if (--pool->active == 0)
            pthread_cond_broadcast(&pool->idle);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int h5cl_pool_create(unsigned nthreads, h5cl_pool **pool_ret)
{
    *pool_ret = NULL;
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > POOL_MAX_THREADS)
        nthreads = POOL_MAX_THREADS;
    h5cl_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -1;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->idle, NULL);
    atomic_init(&pool->next, 0);
    if (nthreads > 1) {
        pool->threads = calloc(nthreads - 1, sizeof *pool->threads);
        if (!pool->threads) {
            h5cl_pool_destroy(pool);
            return -1;
        }
    }
    for (unsigned i = 0; i + 1 < nthreads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
            h5cl_pool_destroy(pool);
            return -1;
        }
        pool->nworkers++;
    }
    *pool_ret = pool;
    return 0;
}

void h5cl_pool_destroy(h5cl_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->nworkers; i++)
        pthread_join(pool->threads[i], NULL);
    free(pool->threads);
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}

unsigned h5cl_pool_threads(const h5cl_pool *pool)
{
    return pool->nworkers + 1;
}

void h5cl_pool_run(h5cl_pool *pool, size_t n, h5cl_pool_fn fn, void *arg)
{
    pthread_mutex_lock(&pool->mu);
    /* a worker that woke late for the last job may still be in drain():
     * the job may change only once it has left */
    while (pool->active > 0)
        pthread_cond_wait(&pool->idle, &pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    atomic_store(&pool->next, 0);
    if (n > 1 && pool->nworkers > 0) {
        pool->gen++;
        pthread_cond_broadcast(&pool->work);
    }
    pthread_mutex_unlock(&pool->mu);
    drain(pool);
    pthread_mutex_lock(&pool->mu);
    while (pool->active > 0)
        pthread_cond_wait(&pool->idle, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
