/*
 * h5cl-bench, the stats case: h5cl_stats_compute against the raw H5Dread
 * ceiling of the same tiles.  The raw warm-up pass also computes reference
 * statistics; every h5cl run is checked against them, and one that does
 * not match is an error, never a figure.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * Reference statistics (from the raw warm-up pass): NaN-aware count, mean
 * and m2 (two passes per tile, merged with Chan's formula), min/max with
 * the flat index of the first occurrence.
 */
struct ref_stats {
    uint64_t count, nan_count;
    double mean, m2, min, max;
    uint64_t argmin, argmax;
};

#define REF_TILE(T)                                                          \
    do {                                                                     \
        const T *p_ = buf;                                                   \
        double s_ = 0.0;                                                     \
        for (size_t i = 0; i < n; i++) {                                     \
            double x_ = (double)p_[i];                                       \
            if (x_ != x_) {                                                  \
                t.nan_count++;                                               \
                continue;                                                    \
            }                                                                \
            s_ += x_;                                                        \
            if (++t.count == 1 || x_ < t.min) {                              \
                t.min = x_;                                                  \
                t.argmin = i;                                                \
            }                                                                \
            if (t.count == 1 || x_ > t.max) {                                \
                t.max = x_;                                                  \
                t.argmax = i;                                                \
            }                                                                \
        }                                                                    \
        if (t.count) {                                                       \
            t.mean = s_ / (double)t.count;                                   \
            for (size_t i = 0; i < n; i++) {                                 \
                double d_ = (double)p_[i] - t.mean;                          \
                if (d_ == d_)                                                \
                    t.m2 += d_ * d_;                                         \
            }                                                                \
        }                                                                    \
    } while (0)

static void ref_add_tile(const struct raw_reader *rr, size_t n,
                         uint64_t flat0, void *user)
{
    struct ref_stats *ref = user;
    const void *buf = rr->buf;
    struct ref_stats t;
    memset(&t, 0, sizeof t);
    switch (rr->dtype) {
    case H5CL_INT8: REF_TILE(int8_t); break;
    case H5CL_UINT8: REF_TILE(uint8_t); break;
    case H5CL_INT16: REF_TILE(int16_t); break;
    case H5CL_UINT16: REF_TILE(uint16_t); break;
    case H5CL_INT32: REF_TILE(int32_t); break;
    case H5CL_UINT32: REF_TILE(uint32_t); break;
    case H5CL_INT64: REF_TILE(int64_t); break;
    case H5CL_UINT64: REF_TILE(uint64_t); break;
    case H5CL_FLOAT32: REF_TILE(float); break;
    case H5CL_FLOAT64: REF_TILE(double); break;
    default: return;
    }
    ref->nan_count += t.nan_count;
    if (t.count == 0)
        return;
    t.argmin += flat0;
    t.argmax += flat0;
    if (ref->count == 0) {
        uint64_t nan = ref->nan_count;
        *ref = t;
        ref->nan_count = nan;
        return;
    }
    {
        double na = (double)ref->count, nb = (double)t.count;
        double delta = t.mean - ref->mean;
        ref->mean += delta * nb / (na + nb);
        ref->m2 += t.m2 + delta * delta * na * nb / (na + nb);
        ref->count += t.count;
    }
    if (t.min < ref->min) { /* ties keep the earlier tile's index */
        ref->min = t.min;
        ref->argmin = t.argmin;
    }
    if (t.max > ref->max) {
        ref->max = t.max;
        ref->argmax = t.argmax;
    }
}

/* ------------------------------------------------------------------------
 * h5cl side: one run, and the check of its result.
 */
struct h5cl_run {
    h5cl_run_summary sum;
    h5cl_stats_state st;
    double wall;
};

static int h5cl_run_once(h5cl_ctx *ctx, h5cl_dataset *ds,
                         const h5cl_run_options *opts, struct h5cl_run *out,
                         char *err)
{
    h5cl_stats *stats = NULL;
    const h5cl_run_summary *sum;
    const h5cl_stats_state *st;
    double t0 = now_seconds();
    int status = h5cl_stats_compute(ds, opts, &stats);

    out->wall = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, ctx, "h5cl_stats_compute", status);
    if (h5cl_stats_count(stats) != 1 || !(st = h5cl_stats_get(stats, 0)) ||
        !(sum = h5cl_stats_summary(stats))) {
        fail(err, "h5cl_stats_compute returned %zu states (want 1) or no "
             "summary", h5cl_stats_count(stats));
        h5cl_stats_free(stats);
        return -1;
    }
    out->st = *st;
    out->sum = *sum;
    h5cl_stats_free(stats);
    return 0;
}

static h5cl_kind kind_of(h5cl_dtype dt)
{
    switch (dt) {
    case H5CL_FLOAT32: case H5CL_FLOAT64: return H5CL_KIND_FLOAT;
    case H5CL_INT8: case H5CL_INT16: case H5CL_INT32: case H5CL_INT64:
        return H5CL_KIND_SIGNED;
    default: return H5CL_KIND_UNSIGNED;
    }
}

static double rel_err(double got, double want, double scale)
{
    if (scale < fabs(want))
        scale = fabs(want);
    if (scale == 0.0)
        return fabs(got - want);
    return fabs(got - want) / scale;
}

/* The run is sane: all bytes streamed, count + nan_count == elements, and
 * the figures match the reference.  mean_err and var_err get the relative
 * errors found. */
static int check_result(const struct h5cl_run *r, const struct raw_reader *rr,
                        const struct ref_stats *ref, double *mean_err,
                        double *var_err, char *err)
{
    const h5cl_stats_state *st = &r->st;
    double ref_var, scale, mn, mx;

    if (r->sum.bytes != rr->nbytes)
        return fail(err, "summary.bytes %" PRIu64 " != dataset bytes %"
                    PRIu64, r->sum.bytes, rr->nbytes);
    if (st->kind != (int32_t)kind_of(rr->dtype))
        return fail(err, "state kind %d, want %d", st->kind,
                    (int)kind_of(rr->dtype));
    if (st->count + st->nan_count != rr->element_count)
        return fail(err, "count %" PRIu64 " + nan_count %" PRIu64
                    " != element count %" PRIu64, st->count, st->nan_count,
                    rr->element_count);
    if (st->count != ref->count || st->nan_count != ref->nan_count)
        return fail(err, "count/nan_count %" PRIu64 "/%" PRIu64
                    ", reference %" PRIu64 "/%" PRIu64, st->count,
                    st->nan_count, ref->count, ref->nan_count);
    if (st->overflow)
        return fail(err, "integer sum overflow reported");
    *mean_err = *var_err = 0.0;
    if (ref->count == 0)
        return 0;
    mn = h5cl_stats_state_min(st);
    mx = h5cl_stats_state_max(st);
    if (mn != ref->min || mx != ref->max)
        return fail(err, "min/max %.9g/%.9g, reference %.9g/%.9g", mn, mx,
                    ref->min, ref->max);
    if (st->argmin != ref->argmin || st->argmax != ref->argmax)
        return fail(err, "argmin/argmax %" PRIu64 "/%" PRIu64
                    ", reference %" PRIu64 "/%" PRIu64, st->argmin,
                    st->argmax, ref->argmin, ref->argmax);
    ref_var = ref->m2 / (double)ref->count;
    scale = sqrt(ref_var);
    *mean_err = rel_err(h5cl_stats_state_mean(st), ref->mean, scale);
    *var_err = rel_err(h5cl_stats_state_var(st, 0), ref_var, 0.0);
    if (!(*mean_err <= TOL_MEAN))
        return fail(err, "mean %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_mean(st), ref->mean, *mean_err,
                    TOL_MEAN);
    if (!(*var_err <= TOL_VAR))
        return fail(err, "var %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_var(st, 0), ref_var, *var_err, TOL_VAR);
    return 0;
}

/* Warm-ups, then alternating timed repetitions of both rows. */
int case_stats(const struct case_env *env, struct case_result *cr)
{
    const struct bench_cfg *cfg = env->cfg;
    struct raw_reader *rr = &env->res->rr;
    struct row *raw = &cr->rows[0], *h5 = &cr->rows[1];
    h5cl_run_options opts;
    struct h5cl_run run;
    struct ref_stats ref;
    struct samples *sraw = NULL, *sh5 = NULL;
    uint64_t tile_bytes = cfg->tile_bytes;
    int h5ok = env->ds != NULL, fatal = 0;
    char err[ERRLEN];

    if (!h5ok)
        row_error(h5, env->h5cl_error);
    sraw = calloc(1, sizeof *sraw);
    sh5 = calloc(1, sizeof *sh5);
    if (!sraw || !sh5) {
        row_error(raw, "out of memory");
        row_error(h5, "not measured: out of memory");
        free(sraw);
        free(sh5);
        return -1;
    }
    h5cl_run_options_init(&opts);
    opts.tile_bytes = cfg->tile_bytes;
    opts.slots = cfg->slots;
    if (h5ok) {
        fprintf(stderr, "%s: warm-up h5cl\n", BENCH_NAME);
        h5ok = h5cl_run_once(env->ctx, env->ds, &opts, &run, h5->message) ==
               0;
        /* the raw pass reads the tiles h5cl actually used */
        if (h5ok && run.sum.tile_bytes)
            tile_bytes = run.sum.tile_bytes;
    }
    fprintf(stderr, "%s: warm-up raw H5Dread (and reference statistics)\n",
            BENCH_NAME);
    memset(&ref, 0, sizeof ref);
    if (raw_set_tiles(rr, tile_bytes, raw->message) ||
        raw_pass(rr, ref_add_tile, &ref, raw->message)) {
        raw->status = ROW_ERROR;
        fatal = 1;
    }
    raw->tile_bytes = rr->tile_bytes;
    raw->tiles = rr->ntiles;
    if (h5ok && !fatal)
        h5ok = check_result(&run, rr, &ref, &cr->mean_err, &cr->var_err,
                            h5->message) == 0;
    if (!fatal && !h5ok && !*h5->message)
        snprintf(h5->message, ERRLEN, "h5cl warm-up failed");

    for (unsigned k = 0; k < cfg->reps && !fatal; k++) {
        double t0, raw_s;
        fprintf(stderr, "%s: repetition %u/%u\n", BENCH_NAME, k + 1,
                cfg->reps);
        t0 = now_seconds();
        if (raw_pass(rr, NULL, NULL, raw->message)) {
            raw->status = ROW_ERROR;
            fatal = 1;
            break;
        }
        raw_s = now_seconds() - t0;
        samples_add(sraw, raw_s, rr->nbytes, NULL, NULL);
        if (!h5ok)
            continue;
        if (h5cl_run_once(env->ctx, env->ds, &opts, &run, h5->message) ||
            check_result(&run, rr, &ref, &cr->mean_err, &cr->var_err,
                         h5->message)) {
            h5ok = 0;
            continue;
        }
        if (cfg->verbose) {
            fprintf(stderr, "%s:   raw %.3f s (%.2f GB/s)  h5cl %.3f s "
                    "(%.2f GB/s) overlap %.3f  busy s:", BENCH_NAME, raw_s,
                    (double)rr->nbytes / raw_s / 1e9, run.wall,
                    (double)rr->nbytes / run.wall / 1e9, run.sum.overlap);
            for (int s = 0; s < H5CL_STAGE_COUNT; s++)
                fprintf(stderr, " %s %.3f", h5cl_stage_name((h5cl_stage)s),
                        run.sum.stage_seconds[s]);
            fputc('\n', stderr);
        }
        samples_add(sh5, run.wall, rr->nbytes, &run.sum, NULL);
        h5->sum = run.sum;
        cr->st = run.st;
    }
    if (g_interrupted) {
        row_error(raw, "interrupted");
        fatal = 1;
    }
    if (h5ok && !fatal && cfg->trace) {
        /* an extra run, not timed, so tracing cannot skew the figures */
        h5cl_run_options topts = opts;
        struct h5cl_run trun;
        char path[PATH_MAX];
        topts.trace_path = trace_path_for(cfg, CASE_STATS, path, sizeof path);
        if (h5cl_run_once(env->ctx, env->ds, &topts, &trun, err) == 0)
            fprintf(stderr, "%s: trace of an extra run (%.3f s, overlap "
                    "%.3f) written to %s\n", BENCH_NAME, trun.wall,
                    trun.sum.overlap, topts.trace_path);
        else
            fprintf(stderr, "%s: traced run failed: %s\n", BENCH_NAME, err);
    }

    if (!fatal)
        row_finish(raw, sraw);
    if (!h5ok || fatal) {
        row_error(h5, !fatal ? "failed"
                      : g_interrupted ? "not measured: interrupted"
                                      : "not measured: raw pass failed");
    } else {
        row_finish(h5, sh5);
        h5->tile_bytes = h5->sum.tile_bytes;
        h5->tiles = h5->sum.tiles;
        h5->ratio = h5->gbps.median / raw->gbps.median;
    }
    free(sraw);
    free(sh5);
    return fatal ? -1 : 0;
}
