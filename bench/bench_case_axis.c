/*
 * h5cl-bench, the axis case: per-axis statistics of rank-2 data
 * (h5cl_stats_compute with opts.axis), against the raw H5Dread ceiling of
 * the same tiles (bench_case_run.c).  Two h5cl rows:
 *
 *   axis 0  reduces the rows: one state per column, argmin/argmax the row
 *   axis 1  reduces the columns: one state per row, argmin/argmax the column
 *
 * The raw warm-up computes a reference per column and per row
 * (bench_ref.c); every state of every run must match its reference, else
 * the row is an error, never a figure.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct axis_ref {
    uint64_t rows, cols;
    struct ref_stats *col; /* [cols]: axis 0 reduced */
    struct ref_stats *row; /* [rows]: axis 1 reduced */
};

/* A tile is whole rows: each column gets one strided segment, each row
 * one contiguous segment. */
static void axis_ref_tile(const struct raw_reader *rr, size_t n,
                          uint64_t flat0, void *user)
{
    struct axis_ref *ar = user;
    const uint64_t first_row = flat0 / ar->cols;
    const size_t rows = (size_t)(n / ar->cols), cols = (size_t)ar->cols;

    for (size_t c = 0; c < cols; c++)
        ref_add_segment(&ar->col[c], rr->dtype, rr->buf, c, cols, rows,
                        first_row);
    for (size_t r = 0; r < rows; r++)
        ref_add_segment(&ar->row[first_row + r], rr->dtype, rr->buf,
                        r * cols, 1, cols, 0);
}

static int axis_reference(const struct case_env *env, struct case_result *cr,
                          void *user, char *err)
{
    struct axis_ref *ar = user;
    struct raw_reader *rr = &env->res->rr;

    memset(ar->col, 0, ar->cols * sizeof *ar->col);
    memset(ar->row, 0, ar->rows * sizeof *ar->row);
    return raw_pass(rr, axis_ref_tile, ar, err);
}

/* One per-axis run (row j reduces axis j), every state checked. */
static int axis_run(const struct case_env *env, struct case_result *cr,
                    void *user, unsigned j, const h5cl_run_options *opts,
                    h5cl_run_summary *sum_ret, double *wall_ret, char *err)
{
    const struct axis_ref *ar = user;
    const struct raw_reader *rr = &env->res->rr;
    const struct ref_stats *ref = j == 0 ? ar->col : ar->row;
    const uint64_t nstates = j == 0 ? ar->cols : ar->rows;
    const uint64_t reduced = j == 0 ? ar->rows : ar->cols;
    struct ro_detail *d = &cr->ro[j];
    h5cl_run_options o = *opts;
    h5cl_stats *stats = NULL;
    double t0, mean_err, var_err;
    int status, rc = -1;

    o.axis = (int)j;
    t0 = now_seconds();
    status = h5cl_stats_compute(env->ds, &o, &stats);
    *wall_ret = now_seconds() - t0;
    if (status != H5CL_OK)
        return api_fail(err, env->ctx, "h5cl_stats_compute(axis)", status);
    *sum_ret = *h5cl_stats_summary(stats);
    d->what = j == 0 ? "axis 0" : "axis 1";
    d->states = nstates;
    d->mean_err = d->var_err = 0.0;
    if (h5cl_stats_count(stats) != nstates) {
        fail(err, "axis %u: %zu states, want %" PRIu64, j,
             h5cl_stats_count(stats), nstates);
        goto out;
    }
    if (sum_ret->bytes != rr->nbytes) {
        fail(err, "summary.bytes %" PRIu64 " != dataset bytes %" PRIu64,
             sum_ret->bytes, rr->nbytes);
        goto out;
    }
    for (uint64_t i = 0; i < nstates; i++) {
        char why[ERRLEN];
        if (ref_check(h5cl_stats_get(stats, (size_t)i), &ref[i],
                      kind_of(rr->dtype), reduced, 0.0, &mean_err, &var_err,
                      why)) {
            fail(err, "axis %u, state %" PRIu64 ": %s", j, i, why);
            goto out;
        }
        if (mean_err > d->mean_err)
            d->mean_err = mean_err;
        if (var_err > d->var_err)
            d->var_err = var_err;
    }
    rc = 0;
out:
    h5cl_stats_free(stats);
    return rc;
}

int case_axis(const struct case_env *env, struct case_result *cr)
{
    static const struct ro_case rc = { 2, { 1, 1 }, axis_reference,
                                       axis_run };
    const struct raw_reader *rr = &env->res->rr;
    struct axis_ref ar;
    int status;

    if (rr->rank != 2) {
        for (unsigned i = 0; i < cr->nrows; i++)
            row_error(&cr->rows[i], "not measured: the axis case needs "
                      "rank-2 data (--rank 2, or a 2-D --file)");
        return -1;
    }
    ar.rows = rr->dims[0];
    ar.cols = rr->dims[1];
    ar.col = calloc(ar.cols ? ar.cols : 1, sizeof *ar.col);
    ar.row = calloc(ar.rows ? ar.rows : 1, sizeof *ar.row);
    if (!ar.col || !ar.row) {
        for (unsigned i = 0; i < cr->nrows; i++)
            row_error(&cr->rows[i], "out of memory (per-axis references)");
        status = -1;
    } else {
        status = case_run_read_only(env, cr, &rc, &ar);
    }
    free(ar.col);
    free(ar.row);
    return status;
}
