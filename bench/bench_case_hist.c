/*
 * h5cl-bench, the hist case: h5cl_hist_compute with HIST_BINS bins against
 * the raw H5Dread ceiling of the same tiles (as the stats case).  Two h5cl
 * rows: a given range (one pass: --hist-range, else the data's [min, max]
 * narrowed by 1/16 of its width at each end, so that values fall below and
 * above it), and the data's own range (h5cl finds it by a first min/max
 * pass: two passes, measured against the same one-pass ceiling).
 *
 * The raw warm-up reads the tiles twice: once for min and max, once for
 * host histograms of both ranges with numpy's rule (the estimate
 * floor((x - lo) / (hi - lo) * bins), hi in the last bin, then numpy's
 * correction against the edges lo + i * step), in double when the device
 * bins in double, else in float.  Every h5cl histogram must equal them
 * bin for bin, NaN, under and over included, and its counts plus NaN,
 * under and over must add up to the element count; else the row is an
 * error, never a figure.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define HIST_BINS 256
#define HIST_NARROW 16 /* default given range: [min + w/16, max - w/16] */

/* One binning and its host counts: bins, then NaN, under, over. */
struct host_hist {
    double lo, hi, norm;
    uint32_t bins;
    int fp64;
    uint64_t *counts;
    uint64_t corrected; /* values the edge correction moved */
};

struct minmax {
    uint64_t count, nan_count;
    double min, max;
};

struct host_pair {
    struct host_hist h[2]; /* [0] the given range, [1] the data's */
};

static void minmax_tile(const struct raw_reader *rr, size_t n,
                        uint64_t flat0, void *user)
{
    struct minmax *mm = user;
    for (size_t i = 0; i < n; i++) {
        double x = raw_value(rr, i);
        if (isnan(x)) {
            mm->nan_count++;
            continue;
        }
        if (mm->count++ == 0 || x < mm->min)
            mm->min = x;
        if (mm->count == 1 || x > mm->max)
            mm->max = x;
    }
}

/* numpy's bin of x (kernels/hist.cl does the same): the estimate from the
 * scaled offset, hi in the last bin, then one step of correction against
 * the edges i * step + lo; counters bins, bins + 1, bins + 2 for NaN,
 * under and over.  Made for R = double and R = float. */
#define DEFINE_BIN_OF(NAME, R)                                               \
    static uint32_t NAME(struct host_hist *b, double xin)                    \
    {                                                                        \
        const R lo = (R)b->lo, hi = (R)b->hi, norm = (R)b->norm;             \
        const R step = (hi - lo) / (R)b->bins, x = (R)xin;                   \
        uint32_t i;                                                          \
        if (isnan(x))                                                        \
            return b->bins;                                                  \
        if (x < lo)                                                          \
            return b->bins + 1;                                              \
        if (x > hi)                                                          \
            return b->bins + 2;                                              \
        i = (uint32_t)(((x - lo) / norm) * (R)b->bins);                      \
        if (i == b->bins)                                                    \
            i--;                                                             \
        if (x < (R)i * step + lo) {                                          \
            b->corrected++;                                                  \
            return i - 1;                                                    \
        }                                                                    \
        if (i != b->bins - 1 && x >= (R)(i + 1) * step + lo) {               \
            b->corrected++;                                                  \
            return i + 1;                                                    \
        }                                                                    \
        return i;                                                            \
    }

DEFINE_BIN_OF(bin_of_double, double)
DEFINE_BIN_OF(bin_of_float, float)

static void host_hist_tile(const struct raw_reader *rr, size_t n,
                           uint64_t flat0, void *user)
{
    struct host_pair *p = user;
    for (int j = 0; j < 2; j++) {
        struct host_hist *b = &p->h[j];
        if (!b->counts)
            continue;
        for (size_t i = 0; i < n; i++) {
            double x = raw_value(rr, i);
            b->counts[b->fp64 ? bin_of_double(b, x) : bin_of_float(b, x)]++;
        }
    }
}

static int host_hist_init(struct host_hist *b, double lo, double hi,
                          uint32_t bins, int fp64, char *err)
{
    memset(b, 0, sizeof *b);
    b->lo = lo;
    b->hi = hi;
    b->norm = hi - lo;
    b->bins = bins;
    b->fp64 = fp64;
    if (!(b->counts = calloc(bins + 3, sizeof *b->counts)))
        return fail(err, "out of memory (host histogram)");
    return 0;
}

/* numpy's range from the data: [min, max]; an empty range widened to
 * [x - 0.5, x + 0.5]; [0, 1] without numbers. */
static void data_range(const struct minmax *mm, double *lo, double *hi)
{
    if (mm->count == 0) {
        *lo = 0.0;
        *hi = 1.0;
    } else if (mm->min == mm->max) {
        *lo = mm->min - 0.5;
        *hi = mm->max + 0.5;
    } else {
        *lo = mm->min;
        *hi = mm->max;
    }
}

/* Checks h5cl's histogram against the host's; fills d. */
static int check_hist(const h5cl_hist *h, const struct host_hist *ref,
                      int from_data, const struct raw_reader *rr,
                      struct hist_detail *d, char *err)
{
    const h5cl_run_summary *sum = h5cl_hist_summary(h);
    const uint64_t *counts;
    uint64_t nan = 0, under = 0, over = 0, total = 0;
    double lo, hi;
    int fd = -1;
    unsigned passes = from_data ? 2 : 1;

    if (h5cl_hist_count(h) != 1 || h5cl_hist_bins(h) != ref->bins ||
        !(counts = h5cl_hist_counts(h, 0)) || !sum)
        return fail(err, "h5cl_hist_compute returned %zu histograms of %u "
                    "bins (want 1 of %u) or no summary",
                    h5cl_hist_count(h), (unsigned)h5cl_hist_bins(h),
                    (unsigned)ref->bins);
    h5cl_hist_range(h, &lo, &hi, &fd);
    if (lo != ref->lo || hi != ref->hi || fd != from_data)
        return fail(err, "range [%.17g, %.17g] (from data: %d), want "
                    "[%.17g, %.17g] (%d)", lo, hi, fd, ref->lo, ref->hi,
                    from_data);
    if (h5cl_hist_outside(h, 0, &nan, &under, &over) != H5CL_OK)
        return fail(err, "h5cl_hist_outside failed");
    if (sum->bytes != passes * rr->nbytes)
        return fail(err, "summary.bytes %" PRIu64 " != %u x dataset bytes %"
                    PRIu64, sum->bytes, passes, rr->nbytes);
    memset(d, 0, sizeof *d);
    for (uint32_t i = 0; i < ref->bins; i++) {
        if (counts[i] != ref->counts[i])
            return fail(err, "bin %u of [%.9g, %.9g] holds %" PRIu64
                        ", the host counted %" PRIu64, (unsigned)i, lo, hi,
                        counts[i], ref->counts[i]);
        total += counts[i];
        if (counts[i] > d->max_count)
            d->max_count = counts[i];
    }
    if (nan != ref->counts[ref->bins] || under != ref->counts[ref->bins + 1] ||
        over != ref->counts[ref->bins + 2])
        return fail(err, "NaN/under/over %" PRIu64 "/%" PRIu64 "/%" PRIu64
                    ", the host counted %" PRIu64 "/%" PRIu64 "/%" PRIu64,
                    nan, under, over, ref->counts[ref->bins],
                    ref->counts[ref->bins + 1], ref->counts[ref->bins + 2]);
    if (total + nan + under + over != rr->element_count)
        return fail(err, "counts %" PRIu64 " + NaN %" PRIu64 " + under %"
                    PRIu64 " + over %" PRIu64 " != %" PRIu64 " elements",
                    total, nan, under, over, rr->element_count);
    d->lo = lo;
    d->hi = hi;
    d->from_data = from_data;
    d->nan = nan;
    d->under = under;
    d->over = over;
    d->in_bins = total;
    d->passes = passes;
    d->corrected = ref->corrected;
    return 0;
}

/* One timed h5cl histogram; the caller checks and frees *h_ret. */
static int hist_once(const struct case_env *env, const h5cl_run_options *opts,
                     const h5cl_hist_options *hopts, h5cl_hist **h_ret,
                     double *wall_ret, char *err)
{
    double t0 = now_seconds();
    int status = h5cl_hist_compute(env->ds, opts, hopts, h_ret);
    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_hist_compute", status);
    return 0;
}

/* A run of row j (0: given range, 1: data range), checked; *sum_ret gets
 * its summary. */
static int hist_run_checked(const struct case_env *env,
                            const h5cl_run_options *opts,
                            const h5cl_hist_options *hopts,
                            const struct host_hist *ref, int from_data,
                            struct hist_detail *d, h5cl_run_summary *sum_ret,
                            double *wall_ret, char *err)
{
    h5cl_hist *h = NULL;
    int rc = hist_once(env, opts, hopts, &h, wall_ret, err);
    if (rc == 0)
        rc = check_hist(h, ref, from_data, &env->res->rr, d, err);
    if (rc == 0)
        *sum_ret = *h5cl_hist_summary(h);
    h5cl_hist_free(h);
    return rc;
}

/* The raw warm-up: min/max, the ranges, the host histograms. */
static int hist_reference(const struct case_env *env, struct case_result *cr,
                          struct host_pair *ref, char *err)
{
    struct raw_reader *rr = &env->res->rr;
    const struct bench_cfg *cfg = env->cfg;
    struct minmax mm;
    double lo, hi, dlo, dhi;

    memset(&mm, 0, sizeof mm);
    if (raw_pass(rr, minmax_tile, &mm, err))
        return -1;
    data_range(&mm, &dlo, &dhi);
    if (cfg->hist_range_set) {
        lo = cfg->hist_lo;
        hi = cfg->hist_hi;
    } else {
        lo = dlo + (dhi - dlo) / HIST_NARROW;
        hi = dhi - (dhi - dlo) / HIST_NARROW;
    }
    if (host_hist_init(&ref->h[0], lo, hi, cr->bins, cr->fp64, err) ||
        host_hist_init(&ref->h[1], dlo, dhi, cr->bins, cr->fp64, err))
        return -1;
    return raw_pass(rr, host_hist_tile, ref, err);
}

int case_hist(const struct case_env *env, struct case_result *cr)
{
    const struct bench_cfg *cfg = env->cfg;
    struct raw_reader *rr = &env->res->rr;
    struct row *raw = &cr->rows[0], *rows[2] = { &cr->rows[1],
                                                 &cr->rows[2] };
    h5cl_run_options opts;
    h5cl_hist_options hopts[2];
    h5cl_hist *first = NULL;
    h5cl_run_summary sum;
    struct host_pair ref;
    struct samples *sraw = NULL, *sh5[2] = { NULL, NULL };
    uint64_t tile_bytes = cfg->tile_bytes;
    double wall;
    int ok[2] = { env->ds != NULL, env->ds != NULL }, fatal = 0;
    char err[ERRLEN];

    memset(&ref, 0, sizeof ref);
    cr->bins = HIST_BINS;
    cr->fp64 = env->res->have_dev ? env->res->dev.has_fp64 : 1;
    for (int j = 0; j < 2; j++)
        if (!ok[j])
            row_error(rows[j], env->h5cl_error);
    sraw = calloc(1, sizeof *sraw);
    sh5[0] = calloc(1, sizeof *sh5[0]);
    sh5[1] = calloc(1, sizeof *sh5[1]);
    if (!sraw || !sh5[0] || !sh5[1]) {
        row_error(raw, "out of memory");
        fatal = 1;
        goto out;
    }
    h5cl_run_options_init(&opts);
    opts.tile_bytes = cfg->tile_bytes;
    opts.slots = cfg->slots;
    for (int j = 0; j < 2; j++) {
        h5cl_hist_options_init(&hopts[j]);
        hopts[j].bins = HIST_BINS;
    }

    /* the data-range run first: it tells the tile size h5cl uses */
    if (ok[1]) {
        fprintf(stderr, "%s: hist: warm-up h5cl (data range)\n", BENCH_NAME);
        ok[1] = hist_once(env, &opts, &hopts[1], &first, &wall,
                          rows[1]->message) == 0;
        if (ok[1] && h5cl_hist_summary(first)->tile_bytes)
            tile_bytes = h5cl_hist_summary(first)->tile_bytes;
    }
    fprintf(stderr, "%s: hist: warm-up raw H5Dread (and host histograms, "
            "two passes)\n", BENCH_NAME);
    if (raw_set_tiles(rr, tile_bytes, raw->message) ||
        hist_reference(env, cr, &ref, raw->message)) {
        raw->status = ROW_ERROR;
        fatal = 1;
        goto out;
    }
    raw->tile_bytes = rr->tile_bytes;
    raw->tiles = rr->ntiles;
    if (ok[1])
        ok[1] = check_hist(first, &ref.h[1], 1, rr, &cr->hist[1],
                           rows[1]->message) == 0;
    hopts[0].range_set = 1;
    hopts[0].lo = ref.h[0].lo;
    hopts[0].hi = ref.h[0].hi;
    if (ok[0]) {
        fprintf(stderr, "%s: hist: warm-up h5cl (range [%.6g, %.6g])\n",
                BENCH_NAME, hopts[0].lo, hopts[0].hi);
        ok[0] = hist_run_checked(env, &opts, &hopts[0], &ref.h[0], 0,
                                 &cr->hist[0], &sum, &wall,
                                 rows[0]->message) == 0;
    }

    for (unsigned k = 0; k < cfg->reps && !fatal; k++) {
        double t0, raw_s, h5_s[2] = { 0, 0 };
        fprintf(stderr, "%s: hist: repetition %u/%u\n", BENCH_NAME, k + 1,
                cfg->reps);
        t0 = now_seconds();
        if (raw_pass(rr, NULL, NULL, raw->message)) {
            raw->status = ROW_ERROR;
            fatal = 1;
            break;
        }
        raw_s = now_seconds() - t0;
        samples_add(sraw, raw_s, rr->nbytes, NULL, NULL);
        for (int j = 0; j < 2; j++) {
            if (!ok[j])
                continue;
            if (hist_run_checked(env, &opts, &hopts[j], &ref.h[j], j,
                                 &cr->hist[j], &sum, &h5_s[j],
                                 rows[j]->message)) {
                ok[j] = 0;
                continue;
            }
            samples_add(sh5[j], h5_s[j], rr->nbytes, &sum, NULL);
            rows[j]->sum = sum;
        }
        if (cfg->verbose)
            fprintf(stderr, "%s:   raw %.3f s (%.2f GB/s)  h5cl hist %.3f s "
                    "(%.2f GB/s)  data range %.3f s (%.2f GB/s)\n",
                    BENCH_NAME, raw_s, (double)rr->nbytes / raw_s / 1e9,
                    h5_s[0], h5_s[0] > 0 ? rr->nbytes / h5_s[0] / 1e9 : 0.0,
                    h5_s[1], h5_s[1] > 0 ? rr->nbytes / h5_s[1] / 1e9 : 0.0);
    }
    if (g_interrupted) {
        row_error(raw, "interrupted");
        fatal = 1;
    }
    if (ok[0] && !fatal && cfg->trace) {
        /* an extra run, not timed, so tracing cannot skew the figures */
        h5cl_run_options topts = opts;
        struct hist_detail d;
        char path[PATH_MAX];
        topts.trace_path = trace_path_for(cfg, CASE_HIST, path, sizeof path);
        if (hist_run_checked(env, &topts, &hopts[0], &ref.h[0], 0, &d, &sum,
                             &wall, err) == 0)
            fprintf(stderr, "%s: hist: trace of an extra run (%.3f s, "
                    "overlap %.3f) written to %s\n", BENCH_NAME, wall,
                    sum.overlap, topts.trace_path);
        else
            fprintf(stderr, "%s: hist: traced run failed: %s\n", BENCH_NAME,
                    err);
    }
    if (!fatal)
        row_finish(raw, sraw);
    for (int j = 0; j < 2; j++) {
        if (!ok[j] || fatal)
            continue;
        row_finish(rows[j], sh5[j]);
        rows[j]->tile_bytes = rows[j]->sum.tile_bytes;
        rows[j]->tiles = rows[j]->sum.tiles;
        rows[j]->ratio = rows[j]->gbps.median / raw->gbps.median;
    }
out:
    for (int j = 0; j < 2; j++)
        if (!ok[j] || fatal)
            row_error(rows[j], !fatal ? "failed"
                               : g_interrupted ? "not measured: interrupted"
                                               : "not measured: raw pass "
                                                 "failed");
    h5cl_hist_free(first);
    free(ref.h[0].counts);
    free(ref.h[1].counts);
    free(sraw);
    free(sh5[0]);
    free(sh5[1]);
    return fatal ? -1 : 0;
}
