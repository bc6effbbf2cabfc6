/*
 * Runs one operation twice on one context, for the OpenCL fault loops
 * (tests/reliability/cl_faults.py): with the fault layer armed, the first
 * run meets the injected error (the fault fires once) and the second must
 * succeed with the clean result, which shows that the error path left the
 * context usable: no half-built program cached, no queue left in error,
 * no run still marked busy.
 *
 *   cl_fault_driver OP FILE [OUT [TILE_BYTES]]
 *
 * OP: stats (of /x), fused (stats of x*x + y*y with y = /y), hist (32
 * bins over the data's range: two passes), map (x * 2 + 1 into OUT:/m),
 * cov (of /m2, a 2-D float64 dataset).  Prints per run "run K NAME HASH"
 * (HASH: FNV-1a of the result's bytes, so equal hashes mean bit-identical
 * results; of the dataset written, for map) and, after a failure, "msg
 * K TEXT", then "left K yes" when a failed map left OUT behind.  Exit 0
 * when the output was printed, whatever the runs returned.
 */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5cl.h"

#define TILE_BYTES 120000 /* several tiles of each test dataset */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int run_stats(h5cl_dataset *ds, const h5cl_run_options *o,
                     uint64_t *hash)
{
    h5cl_stats *s = NULL;
    int st = h5cl_stats_compute(ds, o, &s);
    if (st == H5CL_OK) {
        unsigned char buf[H5CL_STATS_STATE_BYTES];
        for (size_t i = 0; i < h5cl_stats_count(s); i++) {
            h5cl_stats_state_serialize(h5cl_stats_get(s, i), buf);
            *hash = fnv(*hash, buf, sizeof buf);
        }
    }
    h5cl_stats_free(s);
    return st;
}

static int run_hist(h5cl_dataset *ds, const h5cl_run_options *o,
                    uint64_t *hash)
{
    h5cl_hist_options ho;
    h5cl_hist_options_init(&ho);
    ho.bins = 32;
    h5cl_hist *h = NULL;
    int st = h5cl_hist_compute(ds, o, &ho, &h);
    if (st == H5CL_OK) {
        size_t n = h5cl_hist_serialized_size(h);
        unsigned char *buf = malloc(n);
        if (!buf || h5cl_hist_serialize(h, buf, n) != H5CL_OK)
            st = H5CL_ERR_NO_MEMORY;
        else
            *hash = fnv(*hash, buf, n);
        free(buf);
    }
    h5cl_hist_free(h);
    return st;
}

static int run_cov(h5cl_dataset *ds, const h5cl_run_options *o,
                   uint64_t *hash)
{
    h5cl_cov *c = NULL;
    int st = h5cl_cov_compute(ds, o, &c);
    if (st == H5CL_OK) {
        size_t p = h5cl_cov_columns(c);
        *hash = fnv(*hash, h5cl_cov_mean(c), p * sizeof(double));
        *hash = fnv(*hash, h5cl_cov_comoment(c), p * p * sizeof(double));
    }
    h5cl_cov_free(c);
    return st;
}

/* The written dataset's bytes, read back with HDF5 itself. */
static int hash_output(const char *file, uint64_t *hash)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f < 0 ? -1 : H5Dopen2(f, "/m", H5P_DEFAULT);
    hid_t t = d < 0 ? -1 : H5Dget_type(d);
    hid_t s = d < 0 ? -1 : H5Dget_space(d);
    int ok = 0;
    if (t >= 0 && s >= 0) {
        size_t n = (size_t)H5Sget_simple_extent_npoints(s) * H5Tget_size(t);
        void *buf = malloc(n ? n : 1);
        if (buf && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            *hash = fnv(*hash, buf, n);
            ok = 1;
        }
        free(buf);
    }
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    return ok;
}

static int run_map(h5cl_dataset *ds, const h5cl_run_options *o,
                   const char *out, uint64_t *hash)
{
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_file = out;
    m.out_path = "/m";
    unlink(out); /* each run makes the file anew */
    int st = h5cl_map_run(ds, o, &m, NULL);
    if (st == H5CL_OK && !hash_output(out, hash))
        st = H5CL_ERR_HDF5;
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cl_fault_driver OP FILE [OUT [TILE_BYTES]]\n");
        return 2;
    }
    const char *op = argv[1], *file = argv[2], *out = argc > 3 ? argv[3] : "";
    const char *dset = strcmp(op, "cov") == 0 ? "/m2" : "/x";
    h5cl_ctx *ctx = NULL;
    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return 2;
    h5cl_dataset *ds = NULL, *y = NULL;
    int st = h5cl_dataset_open(ctx, file, dset, &ds);
    if (st == H5CL_OK && strcmp(op, "fused") == 0)
        st = h5cl_dataset_open(ctx, file, "/y", &y);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    /* larger tiles leave the out-of-memory fallback room to halve them */
    o.tile_bytes = argc > 4 ? strtoull(argv[4], NULL, 10) : TILE_BYTES;
    h5cl_binding with = {"y", y};
    if (strcmp(op, "fused") == 0) {
        o.expr = "x * x + y * y";
        o.with = &with;
        o.nwith = 1;
    } else if (strcmp(op, "map") == 0) {
        o.expr = "x * 2 + 1";
    }
    /* an open that fails is a run that fails, twice */
    for (int k = 1; k <= 2; k++) {
        uint64_t hash = 0xcbf29ce484222325ull;
        int rc = st;
        if (rc == H5CL_OK) {
            if (!strcmp(op, "stats") || !strcmp(op, "fused"))
                rc = run_stats(ds, &o, &hash);
            else if (!strcmp(op, "hist"))
                rc = run_hist(ds, &o, &hash);
            else if (!strcmp(op, "cov"))
                rc = run_cov(ds, &o, &hash);
            else if (!strcmp(op, "map"))
                rc = run_map(ds, &o, out, &hash);
            else
                rc = H5CL_ERR_INVALID_ARGUMENT;
        }
        printf("run %d %s %016llx\n", k, h5cl_errname(rc),
               (unsigned long long)(rc == H5CL_OK ? hash : 0));
        if (rc != H5CL_OK) {
            printf("msg %d %s\n", k, h5cl_ctx_errmsg(ctx));
            if (!strcmp(op, "map") && access(out, F_OK) == 0)
                printf("left %d yes\n", k);
        }
    }
    h5cl_dataset_close(y);
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);
    return fflush(stdout) == 0 ? 0 : 2;
}
