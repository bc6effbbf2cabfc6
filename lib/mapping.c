/* See mapping.h.  The guard table is process-wide because a signal
 * handler is: the handler only reads it (lock-free atomics), creators and
 * destroyers change it under a mutex. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mapping.h"

/* Live mappings at once: one per open dataset whose file is mapped (its
 * view), and briefly one more while tiles finish on a view mapped anew;
 * past it, tiles are read instead. */
#define GUARD_SLOTS 256

typedef struct guard {
    _Atomic uintptr_t lo, hi; /* lo 0: the slot is free */
    _Atomic int faulted;
} guard;

struct h5cl_mapping {
    void *base;      /* the page-aligned mapping  */
    size_t bytes;
    const unsigned char *data;
    guard *g;
    _Atomic unsigned refs;
    int keep;        /* pages stay mapped between tiles (h5cl_view_put) */
};

static guard guards[GUARD_SLOTS];
static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned guard_live;         /* under guard_mu */
static struct sigaction guard_prev; /* the handler ours replaced */
static uintptr_t page_bytes;

/* Hands a fault that is not ours to the handler that was there before. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    if (guard_prev.sa_flags & SA_SIGINFO) {
        guard_prev.sa_sigaction(sig, si, uc);
    } else if (guard_prev.sa_handler != SIG_DFL &&
               guard_prev.sa_handler != SIG_IGN) {
        guard_prev.sa_handler(sig);
    } else {
        /* the default action, as if we had never been here: SIGBUS stays
         * blocked until this handler returns, then the raised one kills */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGBUS, &dfl, NULL);
        raise(SIGBUS);
    }
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    const uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < GUARD_SLOTS; i++) {
        const uintptr_t lo = atomic_load(&guards[i].lo);
        const uintptr_t hi = atomic_load(&guards[i].hi);
        if (!lo || a < lo || a >= hi)
            continue;
        /* zero pages from the faulting page to the end of the mapping:
         * one fault per mapping instead of one per missing page */
        const uintptr_t page = a & ~(page_bytes - 1);
        if (mmap((void *)page, hi - page, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) == MAP_FAILED)
            break; /* cannot repair: let the default action have it */
        atomic_store(&guards[i].faulted, 1);
        return;
    }
    chain(sig, si, uc);
}

/* Under guard_mu. */
static int guard_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    page_bytes = (uintptr_t)sysconf(_SC_PAGESIZE);
    return sigaction(SIGBUS, &sa, &guard_prev);
}

/* Under guard_mu: puts the previous handler back, unless someone
 * installed another over ours meanwhile (theirs stays, and chains to
 * whatever they saved). */
static void guard_uninstall(void)
{
    struct sigaction cur;
    if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigbus)
        sigaction(SIGBUS, &guard_prev, NULL);
}

int h5cl_mapping_create(int fd, uint64_t off, uint64_t len,
                        h5cl_mapping **map_ret)
{
    *map_ret = NULL;
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t skip = off % page;
    if (len == 0 || len > SIZE_MAX - skip) {
        errno = EINVAL;
        return -1;
    }
    h5cl_mapping *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->bytes = (size_t)(len + skip);
    pthread_mutex_lock(&guard_mu);
    for (size_t i = 0; i < GUARD_SLOTS && !m->g; i++)
        if (!atomic_load(&guards[i].lo))
            m->g = &guards[i];
    if (!m->g || (guard_live == 0 && guard_install() != 0)) {
        pthread_mutex_unlock(&guard_mu);
        free(m);
        return 1;
    }
    guard_live++;
    /* not MAP_POPULATE: faulting the pages in on the reader's thread
     * took as long as the kernel's read of them (0.36-0.40 s for 4 GiB on
     * one thread, build/mmap-probe) and ran on the same two cores, where the kernel's own
     * faults map 16 pages each (fault-around) */
    m->base = mmap(NULL, m->bytes, PROT_READ, MAP_SHARED, fd,
                   (off_t)(off - skip));
    if (m->base == MAP_FAILED) {
        const int e = errno;
        if (--guard_live == 0)
            guard_uninstall();
        pthread_mutex_unlock(&guard_mu);
        free(m);
        errno = e;
        return -1;
    }
    atomic_store(&m->g->faulted, 0);
    atomic_store(&m->g->hi, (uintptr_t)m->base + m->bytes);
    atomic_store(&m->g->lo, (uintptr_t)m->base);
    pthread_mutex_unlock(&guard_mu);
    m->data = (const unsigned char *)m->base + skip;
    atomic_init(&m->refs, 1);
    m->keep = 1;
    *map_ret = m;
    return 0;
}

const void *h5cl_mapping_data(const h5cl_mapping *map)
{
    return map->data;
}

int h5cl_mapping_faulted(const h5cl_mapping *map)
{
    return atomic_load(&map->g->faulted);
}

static void mapping_ref(h5cl_mapping *map)
{
    atomic_fetch_add(&map->refs, 1);
}

void h5cl_mapping_release(h5cl_mapping *map)
{
    if (!map || atomic_fetch_sub(&map->refs, 1) != 1)
        return;
    pthread_mutex_lock(&guard_mu);
    atomic_store(&map->g->lo, 0);
    atomic_store(&map->g->hi, 0);
    munmap(map->base, map->bytes);
    if (--guard_live == 0)
        guard_uninstall();
    pthread_mutex_unlock(&guard_mu);
    free(map);
}

/* ---- views ---- */

struct h5cl_view {
    pthread_mutex_t mu;
    h5cl_mapping *cur; /* the file from byte 0; NULL until first needed */
    uint64_t cur_bytes;
    int keep;
};

/* Whether data of this size may stay mapped between tiles: when they fit
 * in half of the physical memory, their pages can all be resident. */
static int keep_pages(uint64_t data_bytes)
{
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 &&
           data_bytes <= (uint64_t)pages / 2 * (uint64_t)page;
}

h5cl_view *h5cl_view_create(uint64_t data_bytes)
{
    h5cl_view *v = calloc(1, sizeof *v);
    if (v && pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v);
        return NULL;
    }
    if (v)
        v->keep = keep_pages(data_bytes);
    return v;
}

void h5cl_view_destroy(h5cl_view *v)
{
    if (!v)
        return;
    h5cl_mapping_release(v->cur);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

int h5cl_view_get(h5cl_view *v, int fd, uint64_t file_bytes, uint64_t off,
                  uint64_t len, h5cl_mapping **map_ret,
                  const void **data_ret)
{
    *map_ret = NULL;
    *data_ret = NULL;
    if (off > file_bytes || len > file_bytes - off)
        return 1;
    pthread_mutex_lock(&v->mu);
    if (v->cur && (h5cl_mapping_faulted(v->cur) || off + len > v->cur_bytes)) {
        h5cl_mapping_release(v->cur);
        v->cur = NULL;
    }
    if (!v->cur) {
        h5cl_mapping *m;
        if (h5cl_mapping_create(fd, 0, file_bytes, &m) != 0) {
            pthread_mutex_unlock(&v->mu);
            return 1;
        }
        m->keep = v->keep;
        /* where the page cache holds large folios (ext4 since Linux
         * 6.16), the first run can map them whole instead of page by
         * page; elsewhere a no-op */
        madvise(m->base, m->bytes, MADV_HUGEPAGE);
        v->cur = m;
        v->cur_bytes = file_bytes;
    }
    mapping_ref(v->cur);
    *map_ret = v->cur;
    *data_ret = (const unsigned char *)h5cl_mapping_data(v->cur) + off;
    pthread_mutex_unlock(&v->mu);
    return 0;
}

void h5cl_view_put(h5cl_mapping *map, const void *data, uint64_t len)
{
    if (!map)
        return;
    if (!map->keep && len) {
        /* whole pages around the tile: a neighbour's page dropped too is
         * only faulted in again */
        const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
        const uintptr_t lo = (uintptr_t)data & ~(pg - 1);
        const uintptr_t hi =
            ((uintptr_t)data + (uintptr_t)len + pg - 1) & ~(pg - 1);
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    h5cl_mapping_release(map);
}
