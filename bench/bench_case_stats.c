/*
 * h5cl-bench, the stats case: h5cl_stats_compute over the whole dataset
 * against the raw H5Dread ceiling of the same tiles (bench_case_run.c).
 * The raw warm-up pass computes the reference statistics (bench_ref.c);
 * every h5cl run is checked against them, and one that does not match is
 * an error, never a figure.
 */
#include <inttypes.h>
#include <string.h>

#include "bench.h"

static void ref_add_tile(const struct raw_reader *rr, size_t n,
                         uint64_t flat0, void *user)
{
    ref_add_segment(user, rr->dtype, rr->buf, 0, 1, n, flat0);
}

static int stats_reference(const struct case_env *env, struct case_result *cr,
                           void *user, char *err)
{
    struct ref_stats *ref = user;
    memset(ref, 0, sizeof *ref);
    return raw_pass(&env->res->rr, ref_add_tile, ref, err);
}

/* One h5cl_stats_compute, checked: all bytes streamed, one state, equal to
 * the reference.  The state is kept for the report. */
static int stats_run(const struct case_env *env, struct case_result *cr,
                     void *user, unsigned j, const h5cl_run_options *opts,
                     h5cl_run_summary *sum_ret, double *wall_ret, char *err)
{
    const struct raw_reader *rr = &env->res->rr;
    h5cl_stats *stats = NULL;
    const h5cl_stats_state *st;
    double t0 = now_seconds();
    int status = h5cl_stats_compute(env->ds, opts, &stats), rc = -1;

    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_stats_compute", status);
    *sum_ret = *h5cl_stats_summary(stats);
    if (h5cl_stats_count(stats) != 1 || !(st = h5cl_stats_get(stats, 0)))
        fail(err, "h5cl_stats_compute returned %zu states (want 1)",
             h5cl_stats_count(stats));
    else if (sum_ret->bytes != rr->nbytes)
        fail(err, "summary.bytes %" PRIu64 " != dataset bytes %" PRIu64,
             sum_ret->bytes, rr->nbytes);
    else if (ref_check(st, user, kind_of(rr->dtype), rr->element_count, 0.0,
                       &cr->mean_err, &cr->var_err, err) == 0) {
        cr->st = *st;
        rc = 0;
    }
    h5cl_stats_free(stats);
    return rc;
}

int case_stats(const struct case_env *env, struct case_result *cr)
{
    static const struct ro_case rc = { 1, { 1 }, stats_reference, stats_run };
    struct ref_stats ref;
    return case_run_read_only(env, cr, &rc, &ref);
}
