/*
 * Devices and programs: enumeration, the default device, device specs
 * ("cpu", "P:D", name substrings), the H5CL_DEVICE variable, one device per
 * context, h5cl_ctx_build_programs and its on-disk cache (written, reused,
 * corrupt entries rebuilt).  Every context is made inside the test.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"
#include "program.h"

#define MAX_DEV 32

static void destroy_ctx(void *p)
{
    h5cl_ctx_destroy(p);
}

static h5cl_ctx *new_ctx(void)
{
    h5cl_ctx *ctx = NULL;
    ck_assert_int_eq(h5cl_ctx_create(&ctx), H5CL_OK);
    ck_assert_ptr_nonnull(ctx);
    tu_defer(destroy_ctx, ctx);
    return ctx;
}

static size_t list(h5cl_ctx *ctx, h5cl_device_info *info)
{
    size_t n = 0, n2 = 0;
    int rc = h5cl_ctx_list_devices(ctx, NULL, 0, &n);
    ck_assert_msg(rc == H5CL_OK, "list_devices: %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(ctx));
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, MAX_DEV);
    rc = h5cl_ctx_list_devices(ctx, info, MAX_DEV, &n2);
    ck_assert_int_eq(rc, H5CL_OK);
    ck_assert_uint_eq(n, n2);
    return n;
}

static void set_device_env(const char *value)
{
    tu_setenv("H5CL_DEVICE", value);
}

static void assert_same_device(const h5cl_device_info *got, const h5cl_device_info *want,
                               const char *what)
{
    ck_assert_msg(got->platform_index == want->platform_index &&
                      got->device_index == want->device_index,
                  "%s: got %u:%u, want %u:%u", what, got->platform_index,
                  got->device_index, want->platform_index, want->device_index);
    ck_assert_str_eq(got->device_name, want->device_name);
    ck_assert_str_eq(got->platform_name, want->platform_name);
}

START_TEST(test_list_devices)
{
    h5cl_device_info info[MAX_DEV];
    size_t n, i, defaults = 0, one = 0;
    h5cl_ctx *ctx;
    set_device_env(NULL);
    ctx = new_ctx();
    memset(info, 0, sizeof info);
    n = list(ctx, info);
    for (i = 0; i < n; i++) {
        const h5cl_device_info *d = &info[i];
        ck_assert_msg(d->device_name[0] != '\0', "device %zu unnamed", i);
        ck_assert_msg(d->platform_name[0] != '\0', "device %zu: no platform name", i);
        ck_assert_msg(strlen(d->device_name) < sizeof d->device_name, "unterminated");
        ck_assert_msg(strncmp(d->opencl_version, "OpenCL", 6) == 0,
                      "opencl_version %s", d->opencl_version);
        ck_assert_int_le(d->type, H5CL_DEVICE_CPU);
        ck_assert_uint_gt(d->compute_units, 0);
        ck_assert_uint_gt(d->global_mem_bytes, 0);
        ck_assert_uint_gt(d->max_alloc_bytes, 0);
        ck_assert_uint_le(d->max_alloc_bytes, d->global_mem_bytes);
        ck_assert_uint_gt(d->max_work_group_size, 0);
        ck_assert(d->has_fp64 == 0 || d->has_fp64 == 1);
        defaults += d->is_default != 0;
        if (i > 0 && d->platform_index == info[i - 1].platform_index)
            ck_assert_uint_eq(d->device_index, info[i - 1].device_index + 1);
    }
    ck_assert_msg(defaults == 1, "%zu devices marked default", defaults);
    /* capacity smaller than the count: fills what fits, reports the count */
    ck_assert_int_eq(h5cl_ctx_list_devices(ctx, info, 1, &one), H5CL_OK);
    ck_assert_uint_eq(one, n);
}
END_TEST

/* With no request the context opens the device marked is_default, which
 * follows the documented order GPU, accelerator, CPU. */
START_TEST(test_default_device)
{
    h5cl_device_info info[MAX_DEV], got;
    size_t n, i, want = MAX_DEV;
    h5cl_device_type order[3] = {H5CL_DEVICE_GPU, H5CL_DEVICE_ACCELERATOR, H5CL_DEVICE_CPU};
    int k;
    h5cl_ctx *ctx;
    set_device_env(NULL);
    ctx = new_ctx();
    n = list(ctx, info);
    for (k = 0; k < 3 && want == MAX_DEV; k++)
        for (i = 0; i < n && want == MAX_DEV; i++)
            if (info[i].type == order[k])
                want = i;
    if (want == MAX_DEV)
        want = 0;
    ck_assert_msg(info[want].is_default, "device %zu (%s) should be the default", want,
                  info[want].device_name);
    ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
    assert_same_device(&got, &info[want], "default");
    ck_assert(got.is_default);
    ctx = new_ctx();
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, NULL), H5CL_OK);
    ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
    assert_same_device(&got, &info[want], "NULL spec");
    ctx = new_ctx();
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, ""), H5CL_OK);
    ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
    assert_same_device(&got, &info[want], "empty spec");
}
END_TEST

START_TEST(test_spec_indices)
{
    h5cl_device_info info[MAX_DEV], got;
    size_t n, i;
    char spec[32];
    set_device_env(NULL);
    n = list(new_ctx(), info);
    for (i = 0; i < n; i++) {
        h5cl_ctx *ctx = new_ctx();
        int rc;
        snprintf(spec, sizeof spec, "%u:%u", info[i].platform_index, info[i].device_index);
        rc = h5cl_ctx_use_device(ctx, spec);
        ck_assert_msg(rc == H5CL_OK, "use_device(%s): %s: %s", spec, h5cl_errname(rc),
                      h5cl_ctx_errmsg(ctx));
        ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
        assert_same_device(&got, &info[i], spec);
    }
}
END_TEST

static const char *type_spec(h5cl_device_type t)
{
    switch (t) {
    case H5CL_DEVICE_GPU: return "gpu";
    case H5CL_DEVICE_ACCELERATOR: return "accelerator";
    case H5CL_DEVICE_CPU: return "cpu";
    default: return NULL;
    }
}

/* "cpu", "gpu", "accelerator": the first device of the type, or
 * H5CL_ERR_DEVICE_NOT_FOUND when there is none. */
START_TEST(test_spec_types)
{
    h5cl_device_info info[MAX_DEV], got;
    h5cl_device_type types[3] = {H5CL_DEVICE_GPU, H5CL_DEVICE_ACCELERATOR, H5CL_DEVICE_CPU};
    size_t n, i;
    int k;
    set_device_env(NULL);
    n = list(new_ctx(), info);
    for (k = 0; k < 3; k++) {
        h5cl_ctx *ctx = new_ctx();
        const char *spec = type_spec(types[k]);
        int rc = h5cl_ctx_use_device(ctx, spec);
        for (i = 0; i < n; i++)
            if (info[i].type == types[k])
                break;
        if (i == n) {
            ck_assert_msg(rc == H5CL_ERR_DEVICE_NOT_FOUND, "%s with none: %s", spec,
                          h5cl_errname(rc));
            continue;
        }
        ck_assert_msg(rc == H5CL_OK, "use_device(%s): %s: %s", spec, h5cl_errname(rc),
                      h5cl_ctx_errmsg(ctx));
        ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
        assert_same_device(&got, &info[i], spec);
        ck_assert_int_eq(got.type, types[k]);
        /* case does not matter */
        ctx = new_ctx();
        ck_assert_int_eq(h5cl_ctx_use_device(ctx, k == 2 ? "CPU" : k ? "Accelerator" : "GPU"),
                         H5CL_OK);
    }
}
END_TEST

/* A case-flipped piece of each device name selects the first device whose
 * name contains it. */
START_TEST(test_spec_name_substring)
{
    h5cl_device_info info[MAX_DEV], got;
    size_t n, i, j, len;
    set_device_env(NULL);
    n = list(new_ctx(), info);
    for (i = 0; i < n; i++) {
        char spec[64];
        h5cl_ctx *ctx = new_ctx();
        int rc;
        len = strlen(info[i].device_name);
        /* the middle of the name, up to 12 characters, case flipped */
        j = len > 12 ? (len - 12) / 2 : 0;
        snprintf(spec, sizeof spec, "%.12s", info[i].device_name + j);
        for (j = 0; spec[j]; j++)
            spec[j] = (char)(isupper((unsigned char)spec[j]) ? tolower((unsigned char)spec[j])
                                                             : toupper((unsigned char)spec[j]));
        rc = h5cl_ctx_use_device(ctx, spec);
        ck_assert_msg(rc == H5CL_OK, "use_device(%s): %s: %s", spec, h5cl_errname(rc),
                      h5cl_ctx_errmsg(ctx));
        ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
        for (j = 0; j < n; j++)
            if (tu_contains_ci(info[j].device_name, spec))
                break;
        assert_same_device(&got, &info[j], spec);
    }
}
END_TEST

START_TEST(test_env_device)
{
    h5cl_device_info info[MAX_DEV], got;
    size_t n, i;
    char spec[32];
    h5cl_ctx *ctx;
    int rc;
    set_device_env(NULL);
    n = list(new_ctx(), info);
    i = n - 1; /* the last device: not the default when there are several */
    snprintf(spec, sizeof spec, "%u:%u", info[i].platform_index, info[i].device_index);
    setenv("H5CL_DEVICE", spec, 1);
    ctx = new_ctx();
    rc = h5cl_ctx_device(ctx, &got);
    ck_assert_msg(rc == H5CL_OK, "H5CL_DEVICE=%s: %s: %s", spec, h5cl_errname(rc),
                  h5cl_ctx_errmsg(ctx));
    assert_same_device(&got, &info[i], "H5CL_DEVICE");
    /* a bad value is an error, not a silent fallback */
    setenv("H5CL_DEVICE", "nosuchdevice", 1);
    ctx = new_ctx();
    rc = h5cl_ctx_use_device(ctx, NULL);
    ck_assert_msg(rc == H5CL_ERR_DEVICE_NOT_FOUND, "H5CL_DEVICE=nosuchdevice: %s",
                  h5cl_errname(rc));
    ck_assert(strstr(h5cl_ctx_errmsg(ctx), "nosuchdevice") != NULL);
    /* an explicit spec wins over the variable */
    ctx = new_ctx();
    snprintf(spec, sizeof spec, "%u:%u", info[0].platform_index, info[0].device_index);
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, spec), H5CL_OK);
}
END_TEST

START_TEST(test_one_device_per_context)
{
    h5cl_device_info info[MAX_DEV], got;
    size_t n;
    char spec[32];
    h5cl_ctx *ctx;
    set_device_env(NULL);
    ctx = new_ctx();
    n = list(ctx, info);
    snprintf(spec, sizeof spec, "%u:%u", info[0].platform_index, info[0].device_index);
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, spec), H5CL_OK);
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, spec), H5CL_OK); /* same: fine */
    if (n > 1) {
        snprintf(spec, sizeof spec, "%u:%u", info[1].platform_index, info[1].device_index);
        ck_assert_int_eq(h5cl_ctx_use_device(ctx, spec), H5CL_ERR_INVALID_ARGUMENT);
    }
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, "nosuchdevice"), H5CL_ERR_DEVICE_NOT_FOUND);
    ck_assert_int_eq(h5cl_ctx_device(ctx, &got), H5CL_OK);
    assert_same_device(&got, &info[0], "after failed switch");
}
END_TEST

/* ---- programs and their cache ------------------------------------------ */

static void set_cache_env(const char *dir)
{
    tu_setenv("H5CL_CACHE_DIR", dir);
}

typedef void (*file_fn)(const char *path, off_t size, void *user);

static size_t walk_files(const char *dir, file_fn fn, void *user)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[2048];
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            n += walk_files(path, fn, user);
        } else if (S_ISREG(sb.st_mode)) {
            n++;
            if (fn)
                fn(path, sb.st_size, user);
        }
    }
    closedir(d);
    return n;
}

static void add_size(const char *path, off_t size, void *user)
{
    (void)path;
    *(off_t *)user += size;
}

static void truncate_half(const char *path, off_t size, void *user)
{
    (void)user;
    ck_assert(truncate(path, size / 2) == 0);
}

static void overwrite_garbage(const char *path, off_t size, void *user)
{
    tu_rng *r = user;
    FILE *f = fopen(path, "r+b");
    off_t i;
    ck_assert(f != NULL);
    if (size < 64)
        size = 64;
    for (i = 0; i < size; i++)
        fputc((int)(tu_rng_u64(r) & 0xFF), f);
    fclose(f);
}

static void truncate_zero(const char *path, off_t size, void *user)
{
    (void)size;
    (void)user;
    ck_assert(truncate(path, 0) == 0);
}

static double build(h5cl_ctx **ctx_ret)
{
    double t0;
    int rc;
    h5cl_ctx *ctx = new_ctx();
    t0 = tu_now();
    rc = h5cl_ctx_build_programs(ctx);
    ck_assert_msg(rc == H5CL_OK, "build_programs: %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(ctx));
    if (ctx_ret)
        *ctx_ret = ctx;
    return tu_now() - t0;
}

/* A small float32 and int16 dataset checked after each (re)build, whole
 * and along an axis. */
static void stats_still_right(h5cl_ctx *ctx)
{
    static const h5cl_dtype dts[2] = {H5CL_FLOAT32, H5CL_INT16};
    static int gen;
    uint64_t dims[2] = {40, 33};
    h5cl_run_options o;
    h5cl_device_info dev;
    char file[64];
    int k;
    ck_assert_int_eq(h5cl_ctx_device(ctx, &dev), H5CL_OK);
    for (k = 0; k < 2; k++) {
        tu_array a;
        tu_write_opts w;
        tu_rng r;
        h5cl_dataset *ds;
        tu_rng_seed(&r, 11 + (uint64_t)k);
        tu_array_init(&a, dts[k], 2, dims);
        tu_fill_random(&a, &r, 0.02);
        tu_plant_extrema(&a, &r);
        tu_write_opts_init(&w);
        snprintf(file, sizeof file, "check-%d.h5", ++gen);
        tu_write(tu_path(file), k ? "/i16" : "/f32", &a, &w);
        ds = tu_open(ctx, tu_path(file), k ? "/i16" : "/f32");
        h5cl_run_options_init(&o);
        o.tile_bytes = 1024;
        tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&dev), "after rebuild");
        o.axis = 1;
        tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&dev), "after rebuild, axis 1");
    }
}

START_TEST(test_build_programs_cache)
{
    char dir[1024];
    double cold, warm;
    size_t files, files2;
    off_t bytes = 0;
    h5cl_ctx *ctx;
    tu_rng r;
    snprintf(dir, sizeof dir, "%s", tu_path("cache"));
    ck_assert(mkdir(dir, 0700) == 0);
    set_cache_env(dir);
    cold = build(NULL);
    files = walk_files(dir, add_size, &bytes);
    ck_assert_msg(files > 0, "build_programs wrote nothing under H5CL_CACHE_DIR");
    ck_assert_msg(bytes > 0, "the cache files are empty");
    warm = build(&ctx);
    files2 = walk_files(dir, NULL, NULL);
    ck_assert_msg(files2 == files, "a second identical build added cache files (%zu -> %zu)",
                  files, files2);
    ck_assert_msg(warm < cold || cold < 0.2,
                  "the cached build (%.3f s) is no faster than the first (%.3f s)", warm,
                  cold);
    stats_still_right(ctx);

    walk_files(dir, truncate_half, NULL);
    build(&ctx);
    stats_still_right(ctx);

    tu_rng_seed(&r, 99);
    walk_files(dir, overwrite_garbage, &r);
    build(&ctx);
    stats_still_right(ctx);

    walk_files(dir, truncate_zero, NULL);
    build(&ctx);
    stats_still_right(ctx);
    ck_assert_uint_eq(walk_files(dir, NULL, NULL), files);
}
END_TEST

/* The cache is an optimisation: an unusable cache directory is no error. */
START_TEST(test_build_programs_unusable_cache)
{
    FILE *f = fopen(tu_path("plain-file"), "w");
    h5cl_ctx *ctx;
    ck_assert(f != NULL);
    fclose(f);
    set_cache_env(tu_path("plain-file/cache"));
    build(&ctx);
    stats_still_right(ctx);
    /* a directory that does not exist yet may be made, or not used */
    set_cache_env(tu_path("new/nested/cache"));
    build(&ctx);
    stats_still_right(ctx);
}
END_TEST

/* A run without build_programs builds what it needs itself. */
START_TEST(test_run_without_build)
{
    stats_still_right(new_ctx());
}
END_TEST

/* A failed clSetKernelArg is reported with the call, the OpenCL error's
 * name, the argument and the kernel (statuses were once OR-ed together,
 * which names no error and can make up a code), and stops at the first
 * failure. */
START_TEST(test_kernel_args_error)
{
    const cl_ulong n = 1;
    const h5cl_karg args[] = {{sizeof n, &n}, {sizeof n, &n}};
    h5cl_ctx *ctx = new_ctx();
    ck_assert_int_eq(h5cl_ctx_use_device(ctx, NULL), H5CL_OK);
    ck_assert_int_eq(h5cl_kernel_args(ctx, NULL, 3, args, 2, "the test kernel"),
                     H5CL_ERR_OPENCL);
    const char *msg = h5cl_ctx_errmsg(ctx);
    ck_assert_msg(strstr(msg, "clSetKernelArg") && strstr(msg, "CL_INVALID_KERNEL") &&
                      strstr(msg, "argument 3 of the test kernel"),
                  "%s", msg);
}
END_TEST

Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("devices");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_list_devices);
    tcase_add_test(tc, test_default_device);
    tcase_add_test(tc, test_spec_indices);
    tcase_add_test(tc, test_spec_types);
    tcase_add_test(tc, test_spec_name_substring);
    tcase_add_test(tc, test_env_device);
    tcase_add_test(tc, test_one_device_per_context);
    suite_add_tcase(s, tc);

    tc = tcase_create("programs");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_set_timeout(tc, 2 * TU_TIMEOUT);
    tcase_add_test(tc, test_build_programs_cache);
    tcase_add_test(tc, test_build_programs_unusable_cache);
    tcase_add_test(tc, test_run_without_build);
    tcase_add_test(tc, test_kernel_args_error);
    suite_add_tcase(s, tc);
    return s;
}
