/*
 * h5cl devices: every OpenCL platform and device, and optionally a build
 * (or cache load) of every kernel program on one of them.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_device_human(const h5cl_device_info *d)
{
    char mem[32], alloc[32];

    printf("%c %u:%u  %-11s %s\n", d->is_default ? '*' : ' ',
           d->platform_index, d->device_index, h5cl_device_type_name(d->type),
           d->device_name);
    printf("        platform       %s\n", d->platform_name);
    printf("        vendor         %s\n", d->vendor);
    printf("        driver         %s\n", d->driver_version);
    printf("        OpenCL         %s\n", d->opencl_version);
    printf("        fp64           %s\n", d->has_fp64 ? "yes" : "no");
    printf("        unified memory %s\n",
           d->host_unified_memory ? "yes" : "no");
    printf("        compute units  %u\n", d->compute_units);
    printf("        memory         %s (max allocation %s)\n",
           human_bytes(mem, sizeof mem, d->global_mem_bytes),
           human_bytes(alloc, sizeof alloc, d->max_alloc_bytes));
    printf("        work-group     %zu max\n", d->max_work_group_size);
}

static void json_device(jw *w, const h5cl_device_info *d)
{
    char id[32];

    snprintf(id, sizeof id, "%u:%u", d->platform_index, d->device_index);
    jw_open(w, '{', 0);
    jw_key(w, "index");
    jw_string(w, id);
    jw_key(w, "default");
    jw_bool(w, d->is_default);
    jw_key(w, "type");
    jw_string(w, h5cl_device_type_name(d->type));
    jw_key(w, "name");
    jw_string(w, d->device_name);
    jw_key(w, "platform");
    jw_string(w, d->platform_name);
    jw_key(w, "vendor");
    jw_string(w, d->vendor);
    jw_key(w, "driver");
    jw_string(w, d->driver_version);
    jw_key(w, "opencl_version");
    jw_string(w, d->opencl_version);
    jw_key(w, "fp64");
    jw_bool(w, d->has_fp64);
    jw_key(w, "unified_memory");
    jw_bool(w, d->host_unified_memory);
    jw_key(w, "compute_units");
    jw_u64(w, d->compute_units);
    jw_key(w, "global_mem_bytes");
    jw_u64(w, d->global_mem_bytes);
    jw_key(w, "max_alloc_bytes");
    jw_u64(w, d->max_alloc_bytes);
    jw_key(w, "max_work_group_size");
    jw_u64(w, d->max_work_group_size);
    jw_close(w, '}');
}

/* Lists the devices into a new array; 0 or a status (message in ctx). */
static int list_devices(h5cl_ctx *ctx, h5cl_device_info **out, size_t *n)
{
    h5cl_device_info *info = NULL;
    size_t count = 0, got = 0;
    int st;

    *out = NULL;
    *n = 0;
    st = h5cl_ctx_list_devices(ctx, NULL, 0, &count);
    if (st != H5CL_OK)
        return st;
    if (count) {
        info = calloc(count, sizeof *info);
        if (!info)
            return H5CL_ERR_NO_MEMORY;
        st = h5cl_ctx_list_devices(ctx, info, count, &got);
        if (st != H5CL_OK) {
            free(info);
            return st;
        }
        if (got < count)
            count = got;
    }
    *out = info;
    *n = count;
    return H5CL_OK;
}

int cmd_devices(int argc, char **argv)
{
    enum { OPT_BUILD = OPT_CMD };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"build-programs", no_argument, NULL, OPT_BUILD},
        {"device", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int json = 0, build = 0, quiet = 0, c, st, code = EXIT_OK;
    const char *device = NULL;
    h5cl_ctx *ctx = NULL;
    h5cl_device_info *devs = NULL, built;
    size_t n = 0, i;
    double t0, build_seconds = 0.0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_BUILD: build = 1; break;
        case 'q': quiet = 1; break;
        case 'd': device = optarg; break;
        case 'h': return help_requested();
        default:
            return option_error(c, argv);
        }
    }
    if (optind < argc)
        return usage_error("devices: unexpected argument '%s'",
                           argv[optind]);
    if (device && !build)
        return usage_error("devices: --device goes with --build-programs");

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    st = list_devices(ctx, &devs, &n);
    if (st != H5CL_OK) {
        code = st == H5CL_ERR_NO_MEMORY && !*h5cl_ctx_errmsg(ctx)
                   ? no_memory()
                   : lib_error(ctx, st);
        goto out;
    }
    memset(&built, 0, sizeof built);
    if (build) {
        st = h5cl_ctx_use_device(ctx, device);
        if (st == H5CL_OK)
            st = h5cl_ctx_device(ctx, &built);
        if (st == H5CL_OK) {
            if (!json && !quiet) {
                printf("building programs on %u:%u %s ...\n",
                       built.platform_index, built.device_index,
                       built.device_name);
                fflush(stdout);
            }
            t0 = now_seconds();
            st = h5cl_ctx_build_programs(ctx);
            build_seconds = now_seconds() - t0;
        }
        if (st != H5CL_OK) {
            code = lib_error(ctx, st);
            goto out;
        }
    }

    if (json) {
        jw w;

        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        jw_key(&w, "devices");
        jw_open(&w, '[', 0);
        for (i = 0; i < n; i++)
            json_device(&w, &devs[i]);
        jw_close(&w, ']');
        if (build) {
            jw_key(&w, "build");
            jw_open(&w, '{', 0);
            jw_key(&w, "device");
            json_device(&w, &built);
            jw_key(&w, "seconds");
            jw_double(&w, build_seconds);
            jw_close(&w, '}');
        }
        jw_close(&w, '}');
    } else {
        if (n == 0)
            printf("no OpenCL devices\n");
        for (i = 0; i < n; i++)
            print_device_human(&devs[i]);
        if (build)
            printf("built every program on %u:%u %s in %.3f s\n",
                   built.platform_index, built.device_index,
                   built.device_name, build_seconds);
    }
    code = finish_output(EXIT_OK);
out:
    free(devs);
    h5cl_ctx_destroy(ctx);
    return code;
}
