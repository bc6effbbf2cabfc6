/*
 * h5cl-bench: the run shared by the read-only cases (stats, axis, fused),
 * each against the raw H5Dread ceiling of the same tiles:
 *
 *   1. the raw warm-up pass, which also computes the case's reference;
 *   2. a checked warm-up of each h5cl row; the first tells the tile size
 *      h5cl uses, and the ceiling is set to the same tiles (one more
 *      untimed raw pass when that changed them);
 *   3. --reps alternating timed repetitions: raw, the on-device read
 *      (bench_roofline.c's probe, when the roofline was measured), each
 *      h5cl row, raw, ...; every h5cl run is checked against the
 *      reference, and a row whose run fails its check is an error from
 *      then on, never a figure;
 *   4. with --trace, one extra untimed run of the first h5cl row.
 *
 * Throughput is input bytes / wall seconds: a row that reads n inputs
 * (a two-input expression) moves n times the dataset's bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void verbose_rep(const struct case_result *cr, const struct ro_case *rc,
                        uint64_t nbytes, double raw_s, const double *h5_s,
                        const int *ok, const h5cl_run_summary *sums)
{
    fprintf(stderr, "%s:   raw %.3f s (%.2f GB/s)", BENCH_NAME, raw_s,
            (double)nbytes / raw_s / 1e9);
    for (unsigned j = 0; j < rc->nrows; j++) {
        if (!ok[j])
            continue;
        fprintf(stderr, "  %s %.3f s (%.2f GB/s, overlap %.3f)",
                cr->rows[1 + j].label, h5_s[j],
                (double)(rc->inputs[j] * nbytes) / h5_s[j] / 1e9,
                sums[j].overlap);
    }
    fputc('\n', stderr);
}

/* The ceiling's warm-up (with the reference) and the rows' checked
 * warm-ups; -1 when the ceiling failed. */
static int warm_up(const struct case_env *env, struct case_result *cr,
                   const struct ro_case *rc, void *user,
                   const h5cl_run_options *opts, int *ok)
{
    struct raw_reader *rr = &env->res->rr;
    struct row *raw = &cr->rows[0];
    const char *name = case_name(cr->which);
    h5cl_run_summary sum;
    double wall;

    fprintf(stderr, "%s: %s: warm-up raw H5Dread (and the reference)\n",
            BENCH_NAME, name);
    if (raw_set_tiles(rr, env->cfg->tile_bytes, raw->message) ||
        rc->reference(env, cr, user, raw->message))
        return -1;
    for (unsigned j = 0; j < rc->nrows; j++) {
        struct row *h5 = &cr->rows[1 + j];
        if (!ok[j])
            continue;
        fprintf(stderr, "%s: %s: warm-up %s\n", BENCH_NAME, name, h5->label);
        ok[j] = rc->run(env, cr, user, j, opts, &sum, &wall, h5->message) ==
                0;
        /* the ceiling reads the tiles h5cl actually used */
        if (ok[j] && sum.tile_bytes && sum.tile_bytes != rr->tile_bytes &&
            (raw_set_tiles(rr, sum.tile_bytes, raw->message) ||
             raw_pass(rr, NULL, NULL, raw->message)))
            return -1;
    }
    return 0;
}

static void traced_run(const struct case_env *env, struct case_result *cr,
                       const struct ro_case *rc, void *user,
                       const h5cl_run_options *opts)
{
    h5cl_run_options topts = *opts;
    h5cl_run_summary sum;
    char path[PATH_MAX], err[ERRLEN];
    double wall;

    /* an extra run, not timed, so tracing cannot skew the figures */
    topts.trace_path = trace_path_for(env->cfg, cr->which, path, sizeof path);
    if (rc->run(env, cr, user, 0, &topts, &sum, &wall, err) == 0)
        fprintf(stderr, "%s: %s: trace of an extra run (%.3f s, overlap "
                "%.3f) written to %s\n", BENCH_NAME, case_name(cr->which),
                wall, sum.overlap, topts.trace_path);
    else
        fprintf(stderr, "%s: %s: traced run failed: %s\n", BENCH_NAME,
                case_name(cr->which), err);
}

int case_run_read_only(const struct case_env *env, struct case_result *cr,
                       const struct ro_case *rc, void *user)
{
    const struct bench_cfg *cfg = env->cfg;
    struct raw_reader *rr = &env->res->rr;
    struct row *raw = &cr->rows[0];
    struct samples *sraw = NULL, *sh5[RO_MAX_ROWS] = { NULL };
    h5cl_run_options opts;
    h5cl_run_summary sums[RO_MAX_ROWS];
    int ok[RO_MAX_ROWS], fatal = 0;

    for (unsigned j = 0; j < rc->nrows; j++) {
        /* a case may have marked a row failed before the run */
        ok[j] = env->ds != NULL && cr->rows[1 + j].status == ROW_OK;
        if (!env->ds)
            row_error(&cr->rows[1 + j], env->h5cl_error);
        if (!(sh5[j] = calloc(1, sizeof *sh5[j])))
            fatal = 1;
    }
    if (fatal || !(sraw = calloc(1, sizeof *sraw))) {
        row_error(raw, "out of memory");
        fatal = 1;
        goto out;
    }
    h5cl_run_options_init(&opts);
    opts.tile_bytes = cfg->tile_given ? cfg->tile_bytes : 0;
    opts.slots = cfg->slots;
    if (warm_up(env, cr, rc, user, &opts, ok)) {
        raw->status = ROW_ERROR;
        fatal = 1;
        goto out;
    }
    raw->tile_bytes = rr->tile_bytes;
    raw->tiles = rr->ntiles;

    for (unsigned k = 0; k < cfg->reps && !fatal; k++) {
        double t0, raw_s, h5_s[RO_MAX_ROWS];
        fprintf(stderr, "%s: %s: repetition %u/%u\n", BENCH_NAME,
                case_name(cr->which), k + 1, cfg->reps);
        t0 = now_seconds();
        if (raw_pass(rr, NULL, NULL, raw->message)) {
            raw->status = ROW_ERROR;
            fatal = 1;
            break;
        }
        raw_s = now_seconds() - t0;
        samples_add(sraw, raw_s, rr->nbytes, NULL, NULL);
        /* the on-device read of this repetition, next to the h5cl rows */
        double roof = 0;
        char perr[ERRLEN];
        if (env->res->probe &&
            roof_probe_read(env->res->probe, &roof, perr, sizeof perr)) {
            fprintf(stderr, "%s: %s: on-device read: %s\n", BENCH_NAME,
                    case_name(cr->which), perr);
            roof = 0;
        }
        for (unsigned j = 0; j < rc->nrows; j++) {
            struct row *h5 = &cr->rows[1 + j];
            if (!ok[j])
                continue;
            if (rc->run(env, cr, user, j, &opts, &sums[j], &h5_s[j],
                        h5->message)) {
                ok[j] = 0;
                continue;
            }
            samples_add(sh5[j], h5_s[j], rc->inputs[j] * rr->nbytes,
                        &sums[j], NULL);
            sh5[j]->roof[sh5[j]->n - 1] = roof;
            h5->sum = sums[j];
        }
        if (cfg->verbose)
            verbose_rep(cr, rc, rr->nbytes, raw_s, h5_s, ok, sums);
    }
    if (g_interrupted) {
        row_error(raw, "interrupted");
        fatal = 1;
    }
    if (ok[0] && !fatal && cfg->trace)
        traced_run(env, cr, rc, user, &opts);
    if (!fatal)
        row_finish(raw, sraw);
    for (unsigned j = 0; j < rc->nrows && !fatal; j++) {
        struct row *h5 = &cr->rows[1 + j];
        if (!ok[j])
            continue;
        row_finish(h5, sh5[j]);
        h5->tile_bytes = h5->sum.tile_bytes;
        h5->tiles = h5->sum.tiles;
        h5->ratio = h5->gbps.median / raw->gbps.median;
    }
out:
    for (unsigned j = 0; j < rc->nrows; j++) {
        if (!ok[j] || fatal)
            row_error(&cr->rows[1 + j],
                      !fatal ? "failed"
                      : g_interrupted ? "not measured: interrupted"
                                      : "not measured: raw pass failed");
        free(sh5[j]);
    }
    free(sraw);
    return fatal ? -1 : 0;
}
