/*
 * h5cl-bench, the stats case: h5cl_stats_compute over the whole dataset
 * against the raw H5Dread ceiling of the same tiles (bench_case_run.c),
 * in-process and isolated (the dataset opened a second time with
 * h5cl_ctx_set_isolation on: the HDF5 side in the h5cl-reader child), so
 * the two medians side by side give isolation's overhead.  An open
 * dataset keeps its file mapped between runs on host-memory devices
 * (lib/mapping.h), so its later runs find the page tables built; the
 * third row opens the dataset anew for every run, as a one-shot process
 * (the CLI) does, and so pays for them every time.
 * The raw warm-up pass computes the reference statistics (bench_ref.c);
 * every h5cl run is checked against them (the figures it computed:
 * --figures), and one that does not match is an error, never a figure.
 */
#include <inttypes.h>
#include <string.h>

#include "bench.h"

static void ref_add_tile(const struct raw_reader *rr, size_t n,
                         uint64_t flat0, void *user)
{
    ref_add_segment(user, rr->dtype, rr->buf, 0, 1, n, flat0);
}

struct stats_user {
    struct ref_stats ref;
    h5cl_dataset *isolated; /* row 1's dataset, read by the child */
};

static int stats_reference(const struct case_env *env, struct case_result *cr,
                           void *user, char *err)
{
    struct stats_user *u = user;
    memset(&u->ref, 0, sizeof u->ref);
    return raw_pass(&env->res->rr, ref_add_tile, &u->ref, err);
}

/* One h5cl_stats_compute, checked: all bytes streamed, one state, equal to
 * the reference.  The state is kept for the report. */
static int stats_run(const struct case_env *env, struct case_result *cr,
                     void *user, unsigned j, const h5cl_run_options *opts,
                     h5cl_run_summary *sum_ret, double *wall_ret, char *err)
{
    const struct raw_reader *rr = &env->res->rr;
    struct stats_user *u = user;
    h5cl_stats *stats = NULL;
    const h5cl_stats_state *st;
    /* --figures is this case's alone */
    h5cl_run_options o = *opts;
    o.figures = env->cfg->figures;
    double t0 = now_seconds();
    h5cl_dataset *fresh = NULL;
    h5cl_dataset_info info;
    int status = H5CL_OK, rc = -1;
    if (j == 2 && (status = h5cl_dataset_get_info(env->ds, &info)) == H5CL_OK)
        status = h5cl_dataset_open(env->ctx, info.file, info.path, &fresh);
    if (status == H5CL_OK)
        status = h5cl_stats_compute(j == 2 ? fresh : j ? u->isolated : env->ds,
                                    &o, &stats);
    h5cl_dataset_close(fresh);

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
    else if (ref_check(st, &u->ref, kind_of(rr->dtype), rr->element_count,
                       0.0,
                       &cr->mean_err, &cr->var_err, err) == 0) {
        cr->st = *st;
        rc = 0;
    }
    h5cl_stats_free(stats);
    return rc;
}

/* The dataset again, opened isolated on the same context (isolation is
 * fixed per dataset when it is opened); the context's settings are put
 * back.  Marks the isolated row failed when it cannot be opened. */
static h5cl_dataset *open_isolated(const struct case_env *env,
                                   struct case_result *cr)
{
    h5cl_isolation before, iso;
    h5cl_dataset_info info;
    h5cl_dataset *ds = NULL;
    char err[ERRLEN];
    int status;

    if (!env->ds)
        return NULL;
    if ((status = h5cl_ctx_get_isolation(env->ctx, &before)) ||
        (status = h5cl_dataset_get_info(env->ds, &info))) {
        api_fail(err, env->ctx, "h5cl_ctx_get_isolation", status);
        row_error(&cr->rows[2], err);
        return NULL;
    }
    iso = before;
    iso.enabled = 1;
    status = h5cl_ctx_set_isolation(env->ctx, &iso);
    if (status == H5CL_OK)
        status = h5cl_dataset_open(env->ctx, info.file, info.path, &ds);
    if (status != H5CL_OK) {
        api_fail(err, env->ctx, "h5cl_dataset_open (isolated)", status);
        row_error(&cr->rows[2], err);
    }
    h5cl_ctx_set_isolation(env->ctx, &before);
    return ds;
}

int case_stats(const struct case_env *env, struct case_result *cr)
{
    static const struct ro_case rc = { 3, { 1, 1, 1 }, stats_reference,
                                       stats_run };
    struct stats_user u;
    memset(&u, 0, sizeof u);
    u.isolated = open_isolated(env, cr);
    int st = case_run_read_only(env, cr, &rc, &u);
    h5cl_dataset_close(u.isolated);
    return st;
}
