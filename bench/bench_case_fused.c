/*
 * h5cl-bench, the fused case: statistics of an expression computed on the
 * device as the data streams (h5cl_stats_compute with opts.expr), nothing
 * written, against the raw H5Dread ceiling of the same tiles
 * (bench_case_run.c).  Two h5cl rows:
 *
 *   FUSED_EXPR   one input, x bound to the dataset;
 *   FUSED_EXPR2  two inputs: x and y, y bound to a second handle on the
 *                same dataset (generated files hold one dataset), so the
 *                run reads and uploads the data twice, as it would two
 *                datasets; its throughput counts both inputs' bytes.
 *
 * The raw warm-up evaluates both expressions on the host, in double on
 * devices with fp64 (as h5cl does) and in float otherwise, into reference
 * statistics (bench_ref.c).  For float32 and int16 data both expressions
 * are exact in double whatever the order of operations (a product of two
 * float32 has 48 significant bits), so min, max and their indices must be
 * equal; for float64 data, or in float, the device may round differently
 * (contracted multiply-adds), and they are compared within a tolerance.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define FUSED_EXPR "x * 2 + 1"
#define FUSED_LABEL "h5cl stats of x*2+1"
#define FUSED_EXPR2 "x * x + y * y"
#define FUSED_LABEL2 "h5cl stats of x*x+y*y"
#define MINMAX_TOL_DOUBLE 1e-12
#define MINMAX_TOL_FLOAT 1e-6

struct fused_ref {
    int fp64;
    struct ref_stats ref[2];
    double *vals;                    /* one tile of expression values    */
    h5cl_dataset *y;                 /* the second input                 */
};

static void fused_ref_tile(const struct raw_reader *rr, size_t n,
                           uint64_t flat0, void *user)
{
    struct fused_ref *fr = user;

    for (size_t i = 0; i < n; i++) {
        const double x = raw_value(rr, i);
        fr->vals[i] = fr->fp64 ? x * 2.0 + 1.0
                               : (double)((float)x * 2.0f + 1.0f);
    }
    ref_add_segment(&fr->ref[0], H5CL_FLOAT64, fr->vals, 0, 1, n, flat0);
    for (size_t i = 0; i < n; i++) {
        const double x = raw_value(rr, i);
        fr->vals[i] = fr->fp64 ? x * x + x * x
                               : (double)((float)x * (float)x +
                                          (float)x * (float)x);
    }
    ref_add_segment(&fr->ref[1], H5CL_FLOAT64, fr->vals, 0, 1, n, flat0);
}

static int fused_reference(const struct case_env *env, struct case_result *cr,
                           void *user, char *err)
{
    struct fused_ref *fr = user;
    struct raw_reader *rr = &env->res->rr;

    free(fr->vals);
    if (!(fr->vals = malloc(rr->tile_rows * rr->row_elems *
                                sizeof *fr->vals +
                            1)))
        return fail(err, "out of memory (expression values)");
    memset(fr->ref, 0, sizeof fr->ref);
    return raw_pass(rr, fused_ref_tile, fr, err);
}

/* The tolerance of min and max for row j (see the head of the file). */
static double minmax_tol(const struct fused_ref *fr, h5cl_dtype dt,
                         unsigned j)
{
    if (!fr->fp64)
        return MINMAX_TOL_FLOAT;
    return j == 1 && dt == H5CL_FLOAT64 ? MINMAX_TOL_DOUBLE : 0.0;
}

static int fused_run(const struct case_env *env, struct case_result *cr,
                     void *user, unsigned j, const h5cl_run_options *opts,
                     h5cl_run_summary *sum_ret, double *wall_ret, char *err)
{
    struct fused_ref *fr = user;
    const struct raw_reader *rr = &env->res->rr;
    const h5cl_binding with = { "y", fr->y };
    const uint64_t inputs = j == 0 ? 1 : 2;
    struct ro_detail *d = &cr->ro[j];
    h5cl_run_options o = *opts;
    h5cl_stats *stats = NULL;
    const h5cl_stats_state *st;
    double t0;
    int status, rc = -1;

    o.expr = j == 0 ? FUSED_EXPR : FUSED_EXPR2;
    if (j == 1) {
        o.with = &with;
        o.nwith = 1;
    }
    t0 = now_seconds();
    status = h5cl_stats_compute(env->ds, &o, &stats);
    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_stats_compute(expr)", status);
    *sum_ret = *h5cl_stats_summary(stats);
    d->what = o.expr;
    d->states = 1;
    if (h5cl_stats_count(stats) != 1 || !(st = h5cl_stats_get(stats, 0)))
        fail(err, "%zu states (want 1)", h5cl_stats_count(stats));
    else if (sum_ret->bytes != inputs * rr->nbytes)
        fail(err, "summary.bytes %" PRIu64 " != %" PRIu64 " x dataset bytes "
             "%" PRIu64, sum_ret->bytes, inputs, rr->nbytes);
    else if (ref_check(st, &fr->ref[j], H5CL_KIND_FLOAT, rr->element_count,
                       minmax_tol(fr, rr->dtype, j), &d->mean_err,
                       &d->var_err, err) == 0) {
        d->st = *st;
        rc = 0;
    }
    h5cl_stats_free(stats);
    return rc;
}

int case_fused(const struct case_env *env, struct case_result *cr)
{
    static const struct ro_case rc = { 2, { 1, 2 }, fused_reference,
                                       fused_run };
    struct fused_ref fr;
    char err[ERRLEN];
    int status;

    memset(&fr, 0, sizeof fr);
    cr->rows[1].label = FUSED_LABEL;
    cr->rows[2].label = FUSED_LABEL2;
    fr.fp64 = env->res->have_dev ? env->res->dev.has_fp64 : 1;
    cr->fp64 = fr.fp64;
    if (env->ds) {
        status = h5cl_dataset_open(env->ctx, env->res->file,
                                   env->cfg->dataset, &fr.y);
        if (status != H5CL_OK) {
            api_fail(err, env->ctx, "h5cl_dataset_open(y)", status);
            row_error(&cr->rows[2], err);
        }
    }
    status = case_run_read_only(env, cr, &rc, &fr);
    h5cl_dataset_close(fr.y);
    free(fr.vals);
    return status;
}
