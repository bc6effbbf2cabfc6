/*
 * mmap-probe: what reading a page-cached file through memory mappings
 * costs, outside h5cl, for lib/mapping.h's choice of one mapping per
 * dataset kept between runs.  Two threads sum a file of float32 (each one
 * half of every piece), three times each way, and print GB/s:
 *
 *   per tile     4 MiB mapped, summed and unmapped, one after the other
 *                (h5cl before the views)
 *   first touch  the whole file in one mapping (MADV_HUGEPAGE, as h5cl),
 *                every page faulted in by the summing threads
 *   page tables  the same mapping summed again: the page tables built
 *   populate     the seconds MAP_POPULATE takes to build them on one thread
 *
 * Usage: build/mmap-probe FILE   (a file of a few GiB, in the page cache:
 * cat it to /dev/null first).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TILE ((size_t)4 << 20)

typedef struct half {
    const float *p;
    size_t n;
    double sum;
} half;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Eight float lanes, as a vectorising compiler keeps them. */
static void *sum_half(void *arg)
{
    half *h = arg;
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= h->n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += h->p[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += acc[l];
    for (; i < h->n; i++)
        s += h->p[i];
    h->sum = s;
    return NULL;
}

/* Sums n floats at p on two threads. */
static double sum2(const float *p, size_t n)
{
    half a = {p, n / 2, 0}, b = {p + n / 2, n - n / 2, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, sum_half, &a) != 0)
        exit(1);
    sum_half(&b);
    pthread_join(t, NULL);
    return a.sum + b.sum;
}

static void *map(int fd, size_t len, off_t off, int flags)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED | flags, fd, off);
    if (p == MAP_FAILED) {
        perror("mmap-probe: mmap");
        exit(1);
    }
    return p;
}

int main(int argc, char **argv)
{
    struct stat st;
    const int fd = argc == 2 ? open(argv[1], O_RDONLY) : -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "usage: mmap-probe FILE (a page-cached file)\n");
        return 2;
    }
    const size_t len = (size_t)st.st_size / TILE * TILE;
    if (len == 0) {
        fprintf(stderr, "mmap-probe: %s is under 4 MiB\n", argv[1]);
        return 2;
    }
    volatile double sink = 0;
    printf("%-12s %8s %8s %8s\n", "", "run 1", "run 2", "run 3");
    double per_tile[3], first[3], again[3], populate[3];
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        for (size_t o = 0; o < len; o += TILE) {
            float *p = map(fd, TILE, (off_t)o, 0);
            sink += sum2(p, TILE / 4);
            munmap(p, TILE);
        }
        per_tile[r] = (double)len / (now() - t0) / 1e9;

        float *p = map(fd, len, 0, 0);
        madvise(p, len, MADV_HUGEPAGE);
        t0 = now();
        sink += sum2(p, len / 4);
        const double t1 = now();
        sink += sum2(p, len / 4);
        first[r] = (double)len / (t1 - t0) / 1e9;
        again[r] = (double)len / (now() - t1) / 1e9;
        munmap(p, len);

        t0 = now();
        p = map(fd, len, 0, MAP_POPULATE);
        populate[r] = now() - t0;
        munmap(p, len);
    }
    printf("%-12s %8.2f %8.2f %8.2f GB/s\n", "per tile", per_tile[0],
           per_tile[1], per_tile[2]);
    printf("%-12s %8.2f %8.2f %8.2f GB/s\n", "first touch", first[0],
           first[1], first[2]);
    printf("%-12s %8.2f %8.2f %8.2f GB/s\n", "page tables", again[0],
           again[1], again[2]);
    printf("%-12s %8.3f %8.3f %8.3f s for %.2f GiB\n", "populate",
           populate[0], populate[1], populate[2],
           (double)len / (1 << 30));
    (void)sink;
    return 0;
}
