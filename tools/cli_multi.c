/*
 * --device all, or a comma list of device specs ("0:0,0:1", "gpu,cpu"):
 * one context per device.  The library shares the work among them
 * (h5cl_multi_*: a queue of row shares, partial results merged); this
 * file opens the devices and picks the multi-device or the single call.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int several(const char *spec)
{
    return spec && (!strcmp(spec, "all") || strchr(spec, ','));
}

/* The specs of --device: every device's "P:D" for "all", else the list's
 * items.  Writes them (in buf) to specs; returns the count, or 0 after a
 * message. */
static size_t device_specs(run_state *rs, char *buf, size_t len,
                           const char **specs)
{
    const char *d = rs->a->device;
    size_t n = 0;
    if (strcmp(d, "all") != 0) {
        snprintf(buf, len, "%s", d);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
            if (n < RUN_MAX_DEVICES)
                specs[n++] = tok;
        return n;
    }
    h5cl_device_info info[RUN_MAX_DEVICES];
    size_t count = 0;
    int st = h5cl_ctx_list_devices(rs->ctx, info, RUN_MAX_DEVICES, &count);
    if (st != H5CL_OK) {
        lib_error(rs->ctx, st);
        return 0;
    }
    if (count > RUN_MAX_DEVICES)
        count = RUN_MAX_DEVICES;
    size_t used = 0;
    for (size_t i = 0; i < count && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%u:%u",
                         info[i].platform_index, info[i].device_index);
        specs[n++] = buf + used;
        used += (size_t)w + 1;
    }
    return n;
}

int run_devices_open(run_state *rs)
{
    const run_args *a = rs->a;
    if (!several(a->device)) {
        int st = h5cl_ctx_use_device(rs->ctx, a->device);
        return st == H5CL_OK ? EXIT_OK : lib_error(rs->ctx, st);
    }
    if (!a->multi_ok)
        return usage_error("%s: runs on one device; --device all or a list "
                           "works with stats, hist and cov",
                           a->cmd);
    if (a->nwith)
        return usage_error("%s: --with needs one device (its datasets are "
                           "opened on one context)",
                           a->cmd);
    char buf[RUN_MAX_DEVICES * 32];
    const char *specs[RUN_MAX_DEVICES];
    size_t n = device_specs(rs, buf, sizeof buf, specs);
    if (n == 0)
        return rs->a->device[0] == 'a' ? EXIT_RUNTIME
                                        : usage_error("--device: empty list");
    int st = h5cl_ctx_use_device(rs->ctx, specs[0]);
    if (st != H5CL_OK)
        return lib_error(rs->ctx, st);
    for (size_t i = 1; i < n; i++) {
        h5cl_ctx *c = NULL;
        if (h5cl_ctx_create(&c) != H5CL_OK)
            return no_memory();
        rs->more[rs->nmore++] = c;
        st = h5cl_ctx_use_device(c, specs[i]);
        if (st == H5CL_OK) /* every lane reads as the first one does */
            st = iso_apply(c, &rs->a->iso);
        if (st != H5CL_OK)
            return lib_error(c, st);
    }
    return EXIT_OK;
}

void run_devices_close(run_state *rs)
{
    for (size_t i = 0; i < rs->nmore; i++)
        h5cl_ctx_destroy(rs->more[i]);
    rs->nmore = 0;
}

/* All contexts, rs->ctx first; the count. */
static size_t contexts(const run_state *rs, h5cl_ctx **all)
{
    all[0] = rs->ctx;
    for (size_t i = 0; i < rs->nmore; i++)
        all[i + 1] = rs->more[i];
    return rs->nmore + 1;
}

int run_stats(run_state *rs, h5cl_stats **stats_ret)
{
    h5cl_ctx *all[RUN_MAX_DEVICES];
    if (!rs->nmore)
        return h5cl_stats_compute(rs->in[0].ds, &rs->ro, stats_ret);
    return h5cl_multi_stats(all, contexts(rs, all), rs->a->file, rs->a->dset,
                            &rs->ro, stats_ret);
}

int run_hist(run_state *rs, const h5cl_hist_options *ho, h5cl_hist **ret)
{
    h5cl_ctx *all[RUN_MAX_DEVICES];
    if (!rs->nmore)
        return h5cl_hist_compute(rs->in[0].ds, &rs->ro, ho, ret);
    return h5cl_multi_hist(all, contexts(rs, all), rs->a->file, rs->a->dset,
                           &rs->ro, ho, ret);
}

int run_cov(run_state *rs, h5cl_cov **cov_ret)
{
    h5cl_ctx *all[RUN_MAX_DEVICES];
    if (!rs->nmore)
        return h5cl_cov_compute(rs->in[0].ds, &rs->ro, cov_ret);
    return h5cl_multi_cov(all, contexts(rs, all), rs->a->file, rs->a->dset,
                          &rs->ro, cov_ret);
}

/* "P:D NAME" of context c into buf. */
static const char *describe(h5cl_ctx *c, char *buf, size_t len)
{
    h5cl_device_info d;
    if (h5cl_ctx_device(c, &d) != H5CL_OK)
        return put(buf, len, "?");
    snprintf(buf, len, "%u:%u %s", d.platform_index, d.device_index,
             d.device_name);
    return buf;
}

void print_devices(const run_state *rs)
{
    h5cl_ctx *all[RUN_MAX_DEVICES];
    size_t n = contexts(rs, all);
    char buf[160];
    if (n < 2)
        return;
    printf("devices     %zu:", n);
    for (size_t i = 0; i < n; i++)
        printf("%s %s", i ? "," : "", describe(all[i], buf, sizeof buf));
    printf(" (shares of rows from one queue)\n");
}

void json_devices(jw *w, const run_state *rs)
{
    h5cl_ctx *all[RUN_MAX_DEVICES];
    size_t n = contexts(rs, all);
    char buf[160];
    if (n < 2)
        return;
    jw_key(w, "devices");
    jw_open(w, '[', 1);
    for (size_t i = 0; i < n; i++)
        jw_string(w, describe(all[i], buf, sizeof buf));
    jw_close(w, ']');
}
