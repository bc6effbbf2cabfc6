/*
 * LD_PRELOAD shim for write faults (tests only, never installed): fails
 * the Nth call of one of write, pwrite, copy_file_range, fallocate, fsync,
 * rename and close with a chosen errno, counting only calls on files under
 * one directory, so that the output path is hit and stdout, the inputs and
 * the OpenCL cache are not.
 *
 * Environment:
 *   H5CL_WSHIM_DIR     the directory whose files count (required)
 *   H5CL_WSHIM_FUNC    write|pwrite|copy_file_range|fallocate|fsync|rename|close
 *   H5CL_WSHIM_CALL    which counted call of it fails, from 1
 *   H5CL_WSHIM_ERRNO   ENOSPC, EIO or EDQUOT
 *   H5CL_WSHIM_REPORT  file written at exit: the counted calls per function
 *                      and whether the fault fired
 * A failed write or pwrite writes nothing; a failed close still closes
 * the descriptor (as Linux does when close reports a deferred error); a
 * failed rename renames nothing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SHIM_API __attribute__((visibility("default")))

enum fn { F_WRITE, F_PWRITE, F_COPY, F_FALLOCATE, F_FSYNC, F_RENAME, F_CLOSE, F_COUNT };
static const char *const names[F_COUNT] = {
    "write", "pwrite", "copy_file_range", "fallocate", "fsync", "rename", "close"};

static atomic_ulong calls[F_COUNT];
static atomic_int fired;
static int armed_fn = -1, armed_errno;
static unsigned long armed_call;
static char dir[PATH_MAX];
static size_t dirlen;
static char report[PATH_MAX];

static void write_report(void)
{
    if (!report[0])
        return;
    FILE *f = fopen(report, "w");
    if (!f)
        return;
    for (int i = 0; i < F_COUNT; i++)
        fprintf(f, "call %s %lu\n", names[i], atomic_load(&calls[i]));
    fprintf(f, "fired %d\n", atomic_load(&fired));
    fclose(f);
}

__attribute__((constructor)) static void init(void)
{
    const char *d = getenv("H5CL_WSHIM_DIR");
    const char *fn = getenv("H5CL_WSHIM_FUNC");
    const char *n = getenv("H5CL_WSHIM_CALL");
    const char *e = getenv("H5CL_WSHIM_ERRNO");
    const char *r = getenv("H5CL_WSHIM_REPORT");
    if (r)
        snprintf(report, sizeof report, "%s", r);
    if (d && realpath(d, dir))
        dirlen = strlen(dir);
    if (fn && n && e) {
        for (int i = 0; i < F_COUNT; i++)
            if (strcmp(fn, names[i]) == 0)
                armed_fn = i;
        armed_call = strtoul(n, NULL, 10);
        armed_errno = strcmp(e, "ENOSPC") == 0 ? ENOSPC
                      : strcmp(e, "EDQUOT") == 0 ? EDQUOT
                                                 : EIO;
    }
    atexit(write_report);
}

static int under_dir(const char *path)
{
    return dirlen && strncmp(path, dir, dirlen) == 0 &&
           (path[dirlen] == '/' || path[dirlen] == '\0');
}

static int fd_under_dir(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return under_dir(path);
}

/* Counts a call on the directory's files; true when it is to fail. */
static int fail_now(enum fn f, int counted)
{
    if (!counted)
        return 0;
    unsigned long n = atomic_fetch_add(&calls[f], 1) + 1;
    if ((int)f != armed_fn || n != armed_call)
        return 0;
    atomic_store(&fired, 1);
    return 1;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

SHIM_API ssize_t write(int fd, const void *buf, size_t n)
{
    if (fail_now(F_WRITE, fd_under_dir(fd))) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(write)(fd, buf, n);
}

SHIM_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fail_now(F_PWRITE, fd_under_dir(fd))) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(pwrite)(fd, buf, n, off);
}

SHIM_API ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

SHIM_API ssize_t copy_file_range(int in, off_t *in_off, int out,
                                 off_t *out_off, size_t n, unsigned flags)
{
    if (fail_now(F_COPY, fd_under_dir(out))) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(copy_file_range)(in, in_off, out, out_off, n, flags);
}

SHIM_API int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (fail_now(F_FALLOCATE, fd_under_dir(fd))) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(fallocate)(fd, mode, off, len);
}

SHIM_API int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

SHIM_API int fsync(int fd)
{
    if (fail_now(F_FSYNC, fd_under_dir(fd))) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(fsync)(fd);
}

SHIM_API int rename(const char *from, const char *to)
{
    char abs[PATH_MAX];
    int counted = realpath(from, abs) && under_dir(abs);
    if (fail_now(F_RENAME, counted)) {
        errno = armed_errno;
        return -1;
    }
    return NEXT(rename)(from, to);
}

SHIM_API int close(int fd)
{
    int fail = fail_now(F_CLOSE, fd_under_dir(fd));
    int rc = NEXT(close)(fd);
    if (fail) {
        errno = armed_errno;
        return -1;
    }
    return rc;
}
