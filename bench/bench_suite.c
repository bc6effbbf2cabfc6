/*
 * h5cl-bench, --suite: the chosen cases (all unless --case) over generated
 * data of each dtype (float32, float64, int16; or the one --dtype) and
 * each layout (contiguous, chunked with small and with large chunks, gzip
 * + shuffle; or the one --layout), all at one --size, on one context, as
 * one table, or JSON rows that each carry a "suite" object.  Every
 * combination is a plain run of the cases on its file: its own warm-ups,
 * ceilings and checks.  Files are cached by name like any generated file
 * (--keep keeps them); no RSS probe and no sweep in a suite.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Small chunks show HDF5's per-chunk cost; 1 MiB is a usual chunk size
 * for compressed data (large enough for deflate, small enough to cache). */
#define SUITE_SMALL_CHUNK (64 * KIB)
#define SUITE_GZIP_CHUNK (1 * MIB)
#define SUITE_MAX_POINTS 16

struct suite_point {
    h5cl_dtype dtype;
    enum bench_layout layout;
    uint64_t chunk_bytes;
    struct results *res;
    char error[ERRLEN];       /* the file could not be made or found      */
};

/* The layouts of the matrix: all four, or those of --layout (chunked
 * without --chunk-bytes: both chunk sizes). */
static unsigned suite_layouts(const struct bench_cfg *cfg,
                              struct suite_point *pts)
{
    const uint64_t gz = cfg->chunk_given ? cfg->chunk_bytes
                                         : SUITE_GZIP_CHUNK;
    const struct suite_point all[] = {
        { .layout = LAYOUT_CONTIGUOUS, .chunk_bytes = cfg->chunk_bytes },
        { .layout = LAYOUT_CHUNKED, .chunk_bytes = SUITE_SMALL_CHUNK },
        { .layout = LAYOUT_CHUNKED, .chunk_bytes = cfg->chunk_bytes },
        { .layout = LAYOUT_GZIP, .chunk_bytes = gz } };
    unsigned n = 0;

    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        if (cfg->layout_given &&
            (all[i].layout != cfg->layout ||
             (cfg->chunk_given && all[i].chunk_bytes != cfg->chunk_bytes)))
            continue;
        /* --chunk-bytes 64K makes the two chunked rows one */
        if (n && pts[n - 1].layout == all[i].layout &&
            pts[n - 1].chunk_bytes == all[i].chunk_bytes)
            continue;
        pts[n++] = all[i];
    }
    return n;
}

/* The file of one combination, its cases, and its cleanup. */
static void suite_point_run(const struct bench_cfg *cfg,
                            const struct results *base, h5cl_ctx *ctx,
                            const char *ctx_err, struct suite_point *pt)
{
    struct bench_cfg c = *cfg;
    struct results *r = pt->res;

    c.dtype = pt->dtype;
    c.layout = pt->layout;
    c.chunk_bytes = pt->chunk_bytes;
    r->dev = base->dev;
    r->have_dev = base->have_dev;
    r->build_seconds = base->build_seconds;
    r->roof = base->roof;
    fprintf(stderr, "%s: suite: %s, %s\n", BENCH_NAME,
            h5cl_dtype_name(pt->dtype), layout_name(pt->layout));
    if (bench_prepare_file(&c, r, pt->error))
        return;
    bench_run_file(&c, r, ctx, ctx_err);
    if (r->rr_open)
        raw_close(&r->rr);
    if (r->generated && !cfg->keep && unlink(r->file) == 0)
        fprintf(stderr, "%s: removed %s (--keep keeps it)\n", BENCH_NAME,
                r->file);
}

static const char *layout_label(const struct suite_point *pt, char *buf,
                                size_t len)
{
    char b[32];
    if (pt->layout == LAYOUT_CONTIGUOUS)
        snprintf(buf, len, "contiguous");
    else
        snprintf(buf, len, "%s %s", layout_name(pt->layout),
                 fmt_bytes_exact(b, sizeof b, pt->chunk_bytes));
    return buf;
}

static void suite_print_table(const struct bench_cfg *cfg,
                              const struct results *base,
                              const struct suite_point *pts, unsigned n)
{
    char b1[32], lay[48], mm[32];

    print_device_header(base);
    printf("suite    : %u files (dtype x layout) of %s, %u reps after one "
           "warm-up of each row; ratio = h5cl median / ceiling median\n",
           n, fmt_bytes(b1, sizeof b1, cfg->size), cfg->reps);
    printf("\n%-8s %-14s %-6s %-22s %-6s %9s %9s %15s %6s %7s\n", "dtype",
           "layout", "case", "row", "status", "ceil GB/s", "GB/s med",
           "GB/s min-max", "ratio", "overlap");
    for (unsigned i = 0; i < n; i++) {
        const struct suite_point *pt = &pts[i];
        layout_label(pt, lay, sizeof lay);
        if (*pt->error) {
            printf("%-8s %-14s %-6s %-22s %-6s %s\n",
                   h5cl_dtype_name(pt->dtype), lay, "-", "-", "error",
                   pt->error);
            continue;
        }
        for (int k = 0; k < CASE_COUNT; k++) {
            const struct case_result *cr = &pt->res->cases[k];
            const struct row *raw = &cr->rows[0];
            if (!cr->ran)
                continue;
            for (unsigned j = 1; j < cr->nrows; j++) {
                const struct row *r = &cr->rows[j];
                printf("%-8s %-14s %-6s %-22s ", h5cl_dtype_name(pt->dtype),
                       lay, case_name(cr->which), r->label);
                if (r->status != ROW_OK) {
                    printf("%-6s %s%s%s\n", "error", r->message,
                           raw->status != ROW_OK ? "; ceiling: " : "",
                           raw->status != ROW_OK ? raw->message : "");
                    continue;
                }
                snprintf(mm, sizeof mm, "%.3f-%.3f", r->gbps.min,
                         r->gbps.max);
                printf("%-6s %9.3f %9.3f %15s %6.3f %7.3f\n", "ok",
                       raw->gbps.median, r->gbps.median, mm, r->ratio,
                       r->overlap.median);
            }
        }
    }
    printf("(ceilings: raw H5Dread of h5cl's tiles; for map, H5Dread + "
           "H5Dwrite + close + fsync; every h5cl figure comes from runs "
           "whose results were checked)\n");
}

static void suite_print_json(const struct bench_cfg *cfg,
                             const struct suite_point *pts, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct suite_point *pt = &pts[i];
        struct bench_cfg c = *cfg;
        char extra[256];

        if (*pt->error) {
            printf("{\"format_version\":%d,\"bench\":\"%s\",\"status\":"
                   "\"error\",\"suite\":{\"index\":%u,\"count\":%u}}\n",
                   JSON_FORMAT_VERSION, BENCH_NAME, i, n);
            continue;
        }
        c.chunk_bytes = pt->chunk_bytes;
        snprintf(extra, sizeof extra,
                 ",\"suite\":{\"index\":%u,\"count\":%u,\"dtype\":\"%s\","
                 "\"layout\":\"%s\",\"chunk_bytes\":%" PRIu64 "}",
                 i, n, h5cl_dtype_name(pt->dtype), layout_name(pt->layout),
                 pt->layout == LAYOUT_CONTIGUOUS ? 0 : pt->chunk_bytes);
        for (int k = 0; k < CASE_COUNT; k++)
            if (pt->res->cases[k].ran)
                print_json_case(&c, pt->res, &pt->res->cases[k], extra);
    }
}

int suite_main(const struct bench_cfg *cfg)
{
    static const h5cl_dtype dtypes[] = { H5CL_FLOAT32, H5CL_FLOAT64,
                                         H5CL_INT16 };
    struct suite_point lays[4], pts[SUITE_MAX_POINTS];
    struct results *base = calloc(1, sizeof *base);
    unsigned nl = suite_layouts(cfg, lays), n = 0;
    h5cl_ctx *ctx = NULL;
    char err[ERRLEN] = "";
    int ok = base != NULL;

    memset(pts, 0, sizeof pts);
    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
        if (cfg->dtype_given && dtypes[d] != cfg->dtype)
            continue;
        for (unsigned l = 0; l < nl; l++) {
            pts[n] = lays[l];
            pts[n].dtype = dtypes[d];
            pts[n].res = calloc(1, sizeof *pts[n].res);
            ok &= pts[n++].res != NULL;
        }
    }
    if (!ok) {
        fprintf(stderr, "%s: out of memory\n", BENCH_NAME);
        ok = 0;
        goto out;
    }
    bench_ctx_open(cfg, base, &ctx, err);
    for (unsigned i = 0; i < n && !g_interrupted; i++)
        suite_point_run(cfg, base, ctx, err, &pts[i]);
    g_ctx = NULL;
    h5cl_ctx_destroy(ctx);
    if (cfg->json)
        suite_print_json(cfg, pts, n);
    else
        suite_print_table(cfg, base, pts, n);
    fflush(stdout);
    ok = roofline_ok(cfg, base);
    for (unsigned i = 0; i < n; i++)
        ok &= !*pts[i].error && cases_ok(cfg, pts[i].res, 0);
out:
    for (unsigned i = 0; i < n; i++)
        free(pts[i].res);
    free(base);
    if (g_interrupted)
        return EXIT_INTERRUPTED;
    return ok ? 0 : EXIT_RUNTIME;
}
