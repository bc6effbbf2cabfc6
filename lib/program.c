/* Builds kernel programs with options derived from the device and caches
 * the binaries on disk, keyed by device, driver, options and source, so a
 * second process skips the compiler (PoCL's first compile takes seconds). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "program.h"

#define CACHE_MAGIC "H5CLBIN1"

static const char *const cl_type[H5CL_DTYPE_COUNT] = {
    "char", "uchar", "short", "ushort", "int", "uint",
    "long", "ulong", "float", "double"};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static const h5cl_kernel_source *find_source(const char *name)
{
    for (const h5cl_kernel_source *s = h5cl_kernel_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static int cache_dir(char *buf, size_t len)
{
    const char *d = getenv("H5CL_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (d && *d)
        snprintf(buf, len, "%s", d);
    else if (xdg && *xdg)
        snprintf(buf, len, "%s/h5cl", xdg);
    else if (home && *home)
        snprintf(buf, len, "%s/.cache/h5cl", home);
    else
        return -1;
    /* mkdir -p, ignoring "exists" */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Reads a cache entry; NULL when absent, short, or not matching key. */
static unsigned char *cache_load(const char *path, uint64_t key,
                                 size_t *len_ret)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char magic[8];
    uint64_t hdr[3]; /* key, payload length, payload checksum */
    unsigned char *data = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8) != 0 ||
        fread(hdr, sizeof hdr[0], 3, f) != 3 || hdr[0] != key ||
        hdr[1] == 0 || hdr[1] > ((uint64_t)1 << 30))
        goto bad;
    data = malloc(hdr[1]);
    if (!data || fread(data, 1, hdr[1], f) != hdr[1] ||
        fnv1a(0xcbf29ce484222325ULL, data, hdr[1]) != hdr[2])
        goto bad;
    fclose(f);
    *len_ret = hdr[1];
    return data;
bad:
    free(data);
    fclose(f);
    return NULL;
}

/* Best effort: a cache that cannot be written only costs a rebuild. */
static void cache_store(const char *path, uint64_t key,
                        const unsigned char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    uint64_t hdr[3] = {key, len, fnv1a(0xcbf29ce484222325ULL, data, len)};
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 &&
             fwrite(hdr, sizeof hdr[0], 3, f) == 3 &&
             fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

static void append_build_log(h5cl_ctx *ctx, cl_program prog)
{
    size_t n = 0;
    if (clGetProgramBuildInfo(prog, ctx->dev.id, CL_PROGRAM_BUILD_LOG, 0,
                              NULL, &n) != CL_SUCCESS ||
        n == 0)
        return;
    char *log = malloc(n + 1);
    if (!log)
        return;
    if (clGetProgramBuildInfo(prog, ctx->dev.id, CL_PROGRAM_BUILD_LOG, n, log,
                              NULL) == CL_SUCCESS) {
        log[n] = '\0';
        h5cl_msg_append(ctx, "\nbuild log:\n%s", log);
    }
    free(log);
}

static cl_program from_binary(h5cl_ctx *ctx, const unsigned char *bin,
                              size_t len, const char *opts)
{
    cl_int err, bstatus;
    cl_program p = clCreateProgramWithBinary(ctx->dev.context, 1,
                                             &ctx->dev.id, &len, &bin,
                                             &bstatus, &err);
    if (!p)
        return NULL;
    if (err != CL_SUCCESS || bstatus != CL_SUCCESS ||
        clBuildProgram(p, 1, &ctx->dev.id, opts, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return NULL;
    }
    return p;
}

static int from_source(h5cl_ctx *ctx, const char *label, const char *text,
                       size_t length, const char *opts, cl_program *prog_ret)
{
    cl_int err;
    cl_program p = clCreateProgramWithSource(ctx->dev.context, 1, &text,
                                             &length, &err);
    if (!p)
        return h5cl_fail_cl(ctx, err, "clCreateProgramWithSource",
                            "creating a kernel program");
    err = clBuildProgram(p, 1, &ctx->dev.id, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        h5cl_fail(ctx, H5CL_ERR_BUILD,
                  "clBuildProgram failed with %s building %s with options "
                  "\"%s\" on %s",
                  h5cl_cl_errname(err), label, opts,
                  ctx->dev.info.device_name);
        append_build_log(ctx, p);
        clReleaseProgram(p);
        return ctx->status;
    }
    *prog_ret = p;
    return H5CL_OK;
}

static void store_binary(cl_program p, const char *path, uint64_t key)
{
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len,
                         NULL) != CL_SUCCESS ||
        len == 0)
        return;
    unsigned char *bin = malloc(len);
    if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin,
                                NULL) == CL_SUCCESS)
        cache_store(path, key, bin, len);
    free(bin);
}

/* Compile-time options: the element type, its kind, the accumulator
 * precision and the access pattern of the device class. */
static void build_options(const h5cl_ctx *ctx, h5cl_dtype dt, char *buf,
                          size_t len)
{
    const h5cl_device_info *in = &ctx->dev.info;
    int kind = dt >= H5CL_FLOAT32 ? H5CL_KIND_FLOAT
               : (dt % 2 == 0)    ? H5CL_KIND_SIGNED
                                  : H5CL_KIND_UNSIGNED;
    snprintf(buf, len,
             "-cl-std=CL1.2 -DT=%s -DT_KIND=%d -DT_SIZE=%u -DHAS_FP64=%d "
             "-DCONTIGUOUS=%d",
             cl_type[dt], kind, (unsigned)h5cl_dtype_size(dt), in->has_fp64,
             h5cl_device_contiguous(&ctx->dev));
}

const char *h5cl_program_cl_type(h5cl_dtype dt)
{
    return (unsigned)dt < H5CL_DTYPE_COUNT ? cl_type[dt] : "void";
}

/* In memory: programs stay built for the context's lifetime, keyed like
 * the disk cache. */
static cl_program memo_find(const h5cl_ctx *ctx, uint64_t key)
{
    for (const h5cl_program_memo *m = ctx->memo; m; m = m->next)
        if (m->key == key)
            return m->prog;
    return NULL;
}

int h5cl_program_build(h5cl_ctx *ctx, const char *label, const char *text,
                       size_t length, const char *opts, cl_program *prog_ret)
{
    const h5cl_device_info *in = &ctx->dev.info;
    uint64_t key = 0xcbf29ce484222325ULL;
    key = fnv1a(key, in->platform_name, strlen(in->platform_name) + 1);
    key = fnv1a(key, in->device_name, strlen(in->device_name) + 1);
    key = fnv1a(key, in->driver_version, strlen(in->driver_version) + 1);
    key = fnv1a(key, in->opencl_version, strlen(in->opencl_version) + 1);
    key = fnv1a(key, opts, strlen(opts) + 1);
    key = fnv1a(key, text, length);
    if ((*prog_ret = memo_find(ctx, key)))
        return H5CL_OK;
    h5cl_program_memo *m = calloc(1, sizeof *m);
    if (!m)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY, "out of memory");

    char dir[4096], path[4160];
    int have_dir = cache_dir(dir, sizeof dir) == 0;
    if (have_dir)
        snprintf(path, sizeof path, "%s/%016llx.bin", dir,
                 (unsigned long long)key);
    cl_program p = NULL;
    if (have_dir) {
        size_t len;
        unsigned char *bin = cache_load(path, key, &len);
        if (bin) {
            p = from_binary(ctx, bin, len, opts);
            free(bin);
        }
    }
    if (!p) {
        int st = from_source(ctx, label, text, length, opts, &p);
        if (st != H5CL_OK) {
            free(m);
            return st;
        }
        if (have_dir)
            store_binary(p, path, key);
    }
    m->key = key;
    m->prog = p;
    m->next = ctx->memo;
    ctx->memo = m;
    *prog_ret = p;
    return H5CL_OK;
}

int h5cl_program_get(h5cl_ctx *ctx, const char *name, h5cl_dtype dt,
                     cl_program *prog_ret)
{
    return h5cl_program_get_variant(ctx, name, dt, NULL, prog_ret);
}

int h5cl_program_get_variant(h5cl_ctx *ctx, const char *name, h5cl_dtype dt,
                             const char *defines, cl_program *prog_ret)
{
    const h5cl_kernel_source *src = find_source(name);
    if (!src)
        return h5cl_fail(ctx, H5CL_ERR_BUILD,
                         "kernel source %s.cl missing from the build", name);
    char opts[384], label[64];
    build_options(ctx, dt, opts, sizeof opts);
    /* the defines are part of the options, and so of the cache key */
    if (defines && *defines)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " %s",
                 defines);
    snprintf(label, sizeof label, "kernels/%s.cl", name);
    return h5cl_program_build(ctx, label, src->text, src->length, opts,
                              prog_ret);
}

void h5cl_program_release_all(h5cl_ctx *ctx)
{
    while (ctx->memo) {
        h5cl_program_memo *m = ctx->memo;
        ctx->memo = m->next;
        clReleaseProgram(m->prog);
        free(m);
    }
}

int h5cl_ctx_build_programs(h5cl_ctx *ctx)
{
    if (!ctx)
        return H5CL_ERR_INVALID_ARGUMENT;
    int st = h5cl_device_require(ctx);
    if (st != H5CL_OK)
        return st;
    for (const h5cl_kernel_source *src = h5cl_kernel_sources; src->name; src++)
        for (int dt = 0; dt < H5CL_DTYPE_COUNT; dt++) {
            if (dt == H5CL_FLOAT64 && !ctx->dev.info.has_fp64)
                continue;
            cl_program p;
            st = h5cl_program_get(ctx, src->name, (h5cl_dtype)dt, &p);
            if (st != H5CL_OK)
                return st;
        }
    return h5cl_ok(ctx);
}

int h5cl_kernel_args(h5cl_ctx *ctx, cl_kernel k, cl_uint first,
                     const h5cl_karg *args, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(k, first + (cl_uint)i, args[i].size,
                                    args[i].value);
        if (err != CL_SUCCESS) {
            char msg[160];
            snprintf(msg, sizeof msg, "setting argument %u of %s",
                     first + (unsigned)i, what);
            return h5cl_fail_cl(ctx, err, "clSetKernelArg", msg);
        }
    }
    return H5CL_OK;
}
