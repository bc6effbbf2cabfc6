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
 *   anon 4 KiB   a resident anonymous buffer (up to 1 GiB) in 4 KiB pages
 *   anon 2 MiB   the same in transparent huge pages: the limit a read of
 *                the mapped file is judged by (bench_roofline.c reads
 *                2 MiB pages on host-unified devices)
 *
 * and how much of the file's mapping the kernel mapped in 2 MiB pages
 * (FilePmdMapped): the page cache's folio size, which sets what the first
 * touch costs.
 *
 * Usage: build/mmap-probe FILE   (a file of a few GiB, in the page cache:
 * cat it to /dev/null first).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* KEY's kB in /proc/self/smaps_rollup, in bytes. */
static size_t rollup_bytes(const char *key)
{
    char line[256];
    size_t v = 0, klen = strlen(key);
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = strtoull(line + klen + 1, NULL, 10) * 1024;
    if (f)
        fclose(f);
    return v;
}

/* A resident buffer of len bytes, in 2 MiB pages when huge, else 4 KiB. */
static float *anon(size_t len, int huge)
{
    void *p = NULL;
    if (posix_memalign(&p, (size_t)2 << 20, len) != 0) {
        perror("mmap-probe: posix_memalign");
        exit(1);
    }
    madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(p, 0, len);
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
    double per_tile[3], first[3], again[3], populate[3], a4[3], a2[3];
    size_t pmd = 0;
    const size_t alen = len < ((size_t)1 << 30) ? len : (size_t)1 << 30;
    float *small = anon(alen, 0), *huge = anon(alen, 1);
    const size_t huge_bytes = rollup_bytes("AnonHugePages");
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
        pmd = rollup_bytes("FilePmdMapped");
        munmap(p, len);

        t0 = now();
        p = map(fd, len, 0, MAP_POPULATE);
        populate[r] = now() - t0;
        munmap(p, len);

        t0 = now();
        sink += sum2(small, alen / 4);
        a4[r] = (double)alen / (now() - t0) / 1e9;
        t0 = now();
        sink += sum2(huge, alen / 4);
        a2[r] = (double)alen / (now() - t0) / 1e9;
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
    printf("%-12s %8.2f %8.2f %8.2f GB/s\n", "anon 4 KiB", a4[0], a4[1],
           a4[2]);
    printf("%-12s %8.2f %8.2f %8.2f GB/s (%.2f of %.2f GiB in 2 MiB "
           "pages)\n", "anon 2 MiB", a2[0], a2[1], a2[2],
           (double)huge_bytes / (1 << 30), (double)alen / (1 << 30));
    printf("file mapped in 2 MiB pages: %.2f of %.2f GiB\n",
           (double)pmd / (1 << 30), (double)len / (1 << 30));
    free(small);
    free(huge);
    (void)sink;
    return 0;
}
