/*
 * h5cl-bench: the peak-RSS probe, a fresh process (fork and exec of this
 * program) that does one h5cl run and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * Peak RSS probe: `h5cl-bench --rss-probe FILE DATASET TILE SLOTS DEVICE`
 * (internal) opens the device, builds (loads) the programs, opens the
 * dataset, and does one run; it prints "ok PEAK_KIB RSS_BEFORE_KIB
 * HWM_BEFORE_KIB RSS_DEVICE_KIB MAPPED_KIB PMD_KIB" from /proc/self/status
 * (RSS_DEVICE: just after the device is opened, before programs and
 * dataset; MAPPED: what RssFile grew by in the run, the data's page-cache
 * pages that the kernels read in place and that stay mapped while the
 * dataset is open; PMD: how much of the process's file mappings are 2 MiB
 * pages after the run, from smaps_rollup: a first run over page cache in
 * small folios spends its time building page tables).  VmHWM is
 * used, not ru_maxrss: after exec, ru_maxrss keeps the high-water mark of
 * the forked image, which is the parent's whole resident set.
 */
int rss_probe_main(int argc, char **argv)
{
    h5cl_ctx *ctx = NULL;
    h5cl_dataset *ds = NULL;
    h5cl_stats *stats = NULL;
    h5cl_run_options opts;
    uint64_t tile = 0, rss_dev = 0, rss0, hwm0, hwm1, file0, file1, pmd;
    unsigned slots = 0;
    int status;
    const char *call = "";

    if (argc != 7 || parse_size(argv[4], &tile) ||
        parse_uint(argv[5], 1, 1024, &slots)) {
        printf("error bad --rss-probe arguments\n");
        return EXIT_USAGE;
    }
    if ((status = h5cl_ctx_create(&ctx)) != H5CL_OK) {
        call = "h5cl_ctx_create";
        goto out;
    }
    call = "h5cl_ctx_use_device";
    if ((status = h5cl_ctx_use_device(ctx, *argv[6] ? argv[6] : NULL)))
        goto out;
    rss_dev = proc_status_kib("VmRSS");
    call = "h5cl_ctx_build_programs";
    if ((status = h5cl_ctx_build_programs(ctx)))
        goto out;
    call = "h5cl_dataset_open";
    if ((status = h5cl_dataset_open(ctx, argv[2], argv[3], &ds)))
        goto out;
    h5cl_run_options_init(&opts);
    opts.tile_bytes = tile;
    opts.slots = slots;
    rss0 = proc_status_kib("VmRSS");
    hwm0 = proc_status_kib("VmHWM");
    file0 = proc_status_kib("RssFile");
    call = "h5cl_stats_compute";
    if ((status = h5cl_stats_compute(ds, &opts, &stats)))
        goto out;
    hwm1 = proc_status_kib("VmHWM");
    file1 = proc_status_kib("RssFile");
    pmd = proc_file_pmd_bytes() / KIB;
    printf("ok %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
           " %" PRIu64 "\n",
           hwm1, rss0, hwm0, rss_dev, file1 > file0 ? file1 - file0 : 0, pmd);
out:
    if (status != H5CL_OK)
        printf("error %s: %s: %s\n", call, h5cl_errname(status),
               ctx ? h5cl_ctx_errmsg(ctx) : "");
    h5cl_stats_free(stats);
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);
    return status == H5CL_OK ? 0 : EXIT_RUNTIME;
}

int rss_probe_run(const char *file, const char *dataset,
                         uint64_t tile, unsigned slots, const char *device,
                         struct rss_result *res, char *err)
{
    char tile_s[32], slots_s[16], out[2048];
    char *args[] = { (char *)BENCH_NAME, (char *)"--rss-probe", (char *)file,
                     (char *)dataset, tile_s, slots_s,
                     (char *)(device ? device : ""), NULL };
    int fds[2], wstatus;
    size_t len = 0;
    ssize_t got;
    pid_t pid;
    unsigned long long a, b, c, d, e, g;

    snprintf(tile_s, sizeof tile_s, "%" PRIu64, tile);
    snprintf(slots_s, sizeof slots_s, "%u", slots);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(err, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) { /* only async-signal-safe calls until exec */
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(g_self, args);
        _exit(127);
    }
    close(fds[1]);
    while (len < sizeof out - 1 &&
           ((got = read(fds[0], out + len, sizeof out - 1 - len)) > 0 ||
            (got < 0 && errno == EINTR)))
        if (got > 0)
            len += (size_t)got;
    out[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return fail(err, "waitpid: %s", strerror(errno));
    out[strcspn(out, "\n")] = '\0';
    if (sscanf(out, "ok %llu %llu %llu %llu %llu %llu", &a, &b, &c, &d, &e,
               &g) == 6 &&
        WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        res->peak_bytes = a * KIB;
        res->before_bytes = b * KIB;
        res->hwm_before_bytes = c * KIB;
        res->device_bytes = d * KIB;
        res->mapped_bytes = e * KIB;
        res->mapped_pmd_bytes = g * KIB;
        return 0;
    }
    if (strncmp(out, "error ", 6) == 0)
        return fail(err, "peak-RSS child: %s", out + 6);
    return fail(err, "peak-RSS child failed (%s %d)",
                WIFEXITED(wstatus) ? "exit" : "signal",
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                                   : WTERMSIG(wstatus));
}
