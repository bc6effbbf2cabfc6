/* Histograms: the options, the range (given, or from a first min/max pass
 * as numpy finds it), and the counting run (lib/tally.c) into an
 * h5cl_hist (lib/hist_state.c).  Also h5cl_hist_compute(), the public
 * entry. */
#include <math.h>
#include <string.h>

#include "hist_state.h"
#include "tally.h"

/* Per-axis results above this many bytes are refused, not allocated. */
#define MAX_RESULT_BYTES ((uint64_t)1 << 30)

void h5cl_hist_options_init(h5cl_hist_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* The binning of a run: its range, the divisor of numpy's index estimate
 * (kernels/hist.cl), and where the range came from. */
typedef struct hist_range {
    double lo, hi, norm;
    int from_data;
} hist_range;

/* Copies hopts by its struct_size, applies the default bin count and
 * checks the bin count and a given range. */
static int hist_options(h5cl_ctx *ctx, const h5cl_hist_options *in,
                        h5cl_hist_options *o)
{
    h5cl_hist_options_init(o);
    if (in) {
        size_t n = in->struct_size && in->struct_size < sizeof *o
                       ? in->struct_size
                       : sizeof *o;
        memcpy(o, in, n);
    }
    if (o->bins == 0)
        o->bins = H5CL_HIST_DEFAULT_BINS;
    if (o->bins > H5CL_HIST_MAX_BINS)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "%u bins; a histogram has at most %u",
                         (unsigned)o->bins, (unsigned)H5CL_HIST_MAX_BINS);
    if (o->range_set && !(isfinite(o->lo) && isfinite(o->hi)))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "the histogram range [%g, %g] is not finite", o->lo,
                         o->hi);
    if (o->range_set && !(o->lo < o->hi))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "the histogram range [%g, %g] is empty; lo must be "
                         "below hi",
                         o->lo, o->hi);
    if (!o->range_set && o->range_state &&
        (o->range_state->missing & H5CL_FIG_MINMAX))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "range_state holds no min and max (a run of "
                         "selected figures without H5CL_FIG_MINMAX)");
    return H5CL_OK;
}

/* numpy's range from the data: [min, max]; [0, 1] without numbers; an
 * empty range widened to [x - 0.5, x + 0.5].  For integers numpy divides
 * by the exact difference max - min, rounded once. */
static int range_from(h5cl_ctx *ctx, const h5cl_stats_state *s,
                      hist_range *r)
{
    r->from_data = 1;
    if (s->count == 0) {
        r->lo = 0;
        r->hi = r->norm = 1;
        return H5CL_OK;
    }
    double mn = h5cl_stats_state_min(s), mx = h5cl_stats_state_max(s);
    if (!isfinite(mn) || !isfinite(mx))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "the data range [%g, %g] is not finite; give a "
                         "range (range_set, lo, hi)",
                         mn, mx);
    r->lo = mn == mx ? mn - 0.5 : mn;
    r->hi = mn == mx ? mx + 0.5 : mx;
    if (mn != mx && s->kind == H5CL_KIND_SIGNED)
        r->norm = (double)((uint64_t)s->max.i - (uint64_t)s->min.i);
    else if (mn != mx && s->kind == H5CL_KIND_UNSIGNED)
        r->norm = (double)(s->max.u - s->min.u);
    else
        r->norm = r->hi - r->lo;
    return H5CL_OK;
}

/* x rounded to the precision the device bins in. */
static double in_precision(double x, int fp64)
{
    return fp64 ? x : (double)(float)x;
}

/* numpy refuses edges that do not strictly increase ("too many bins for
 * the data range"); so does this, with the edges the kernels compute
 * (kernels/hist.cl), in the device's precision. */
static int check_edges(h5cl_ctx *ctx, uint32_t bins, const hist_range *r)
{
    const int fp64 = ctx->dev.info.has_fp64;
    const double lo = in_precision(r->lo, fp64), hi = in_precision(r->hi, fp64);
    const double step = in_precision(in_precision(hi - lo, fp64) / bins, fp64);
    double prev = lo;
    for (uint32_t i = 1; i <= bins && isfinite(step); i++) {
        double e = i == bins ? hi
                             : in_precision(in_precision(i * step, fp64) + lo,
                                            fp64);
        if (!(prev < e))
            break;
        if (i == bins)
            return H5CL_OK;
        prev = e;
    }
    return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                     "cannot make %u bins of finite, non-zero width over "
                     "[%.17g, %.17g] in %s; use fewer bins or a wider range",
                     bins, r->lo, r->hi, fp64 ? "double" : "float");
}

/* The result: one histogram, or one per position of the other axes,
 * refused beyond MAX_RESULT_BYTES. */
static int hist_make(h5cl_ctx *ctx, const h5cl_run *run, uint32_t bins,
                     const hist_range *r, h5cl_hist **out)
{
    uint64_t dims[H5CL_MAX_RANK];
    int rank = 0;
    long double bytes = 8.0L * ((long double)bins + H5CL_HIST_EXTRA);
    for (int d = 0; run->opts.axis >= 0 && d < run->sel.rank; d++)
        if (d != run->opts.axis) {
            dims[rank++] = run->sel.count[d];
            bytes *= (long double)run->sel.count[d];
        }
    if (bytes > (long double)MAX_RESULT_BYTES)
        return h5cl_fail(ctx, H5CL_ERR_TOO_LARGE,
                         "per-axis histograms of %s: %.0Lf positions x (%u "
                         "bins + 3) x 8 bytes = %.0Lf bytes, more than the "
                         "%llu allowed; select fewer positions or bins",
                         run->in.ds[0]->info.path,
                         bytes / (8.0L * ((long double)bins + 3)), bins,
                         bytes, (unsigned long long)MAX_RESULT_BYTES);
    *out = h5cl_hist_alloc(bins, r->lo, r->hi, r->from_data, rank, dims);
    if (!*out)
        return h5cl_fail(ctx, H5CL_ERR_NO_MEMORY,
                         "out of memory for %.0Lf bytes of histograms", bytes);
    return H5CL_OK;
}

/* The range, then the counting run, under the context's busy guard.  mm:
 * the data's extremes when the range is not given. */
static int hist_count(h5cl_run *run, const h5cl_hist_options *ho,
                      const h5cl_stats_state *mm, h5cl_hist **hist_ret)
{
    h5cl_ctx *ctx = run->ctx;
    hist_range r = {ho->lo, ho->hi, ho->hi - ho->lo, 0};
    h5cl_hist *h = NULL;
    h5cl_tally t;
    memset(&t, 0, sizeof t);
    int st = mm ? range_from(ctx, mm, &r) : H5CL_OK;
    if (st == H5CL_OK)
        st = check_edges(ctx, ho->bins, &r);
    if (st == H5CL_OK)
        st = hist_make(ctx, run, ho->bins, &r, &h);
    if (st == H5CL_OK)
        st = h5cl_tally_values(run, &t.eval, &t.dtype);
    if (st == H5CL_OK) {
        t.axis = run->opts.axis;
        t.bins = ho->bins;
        t.lo = r.lo;
        t.hi = r.hi;
        t.norm = r.norm;
        t.totals = h->counts;
        st = h5cl_tally_run(run, &t, &h->summary);
    }
    h5cl_eval_free(t.eval);
    if (st != H5CL_OK) {
        h5cl_hist_free(h);
        return st;
    }
    *hist_ret = h;
    return h5cl_ok(ctx);
}

/* The call's summary: both passes' bytes, tiles and times. */
static void summary_add(h5cl_run_summary *s, const h5cl_run_summary *first)
{
    s->bytes += first->bytes;
    s->tiles += first->tiles;
    s->seconds += first->seconds;
    double busiest = 0;
    for (int k = 0; k < H5CL_STAGE_COUNT; k++) {
        s->stage_seconds[k] += first->stage_seconds[k];
        if (s->stage_seconds[k] > busiest)
            busiest = s->stage_seconds[k];
    }
    s->overlap = busiest > 0 ? s->seconds / busiest : 1.0;
}

int h5cl_hist_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                      const h5cl_hist_options *hopts, h5cl_hist **hist_ret)
{
    if (hist_ret)
        *hist_ret = NULL;
    if (!ds)
        return H5CL_ERR_INVALID_ARGUMENT;
    h5cl_ctx *ctx = ds->ctx;
    if (!hist_ret)
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_hist_compute: NULL hist_ret");
    h5cl_hist_options ho;
    h5cl_run run;
    /* the options, device and selection are checked before the min/max
     * pass, which is a run of its own with its own busy guard */
    int st = h5cl_run_enter(ctx);
    if (st != H5CL_OK)
        return st;
    st = hist_options(ctx, hopts, &ho);
    if (st == H5CL_OK)
        st = h5cl_run_prepare(ctx, ds, opts, 1, &run);
    h5cl_run_leave(ctx);
    h5cl_stats_state mm;
    h5cl_run_summary first;
    memset(&first, 0, sizeof first);
    if (st == H5CL_OK && !ho.range_set && ho.range_state)
        mm = *ho.range_state; /* the whole selection's, for a share */
    else if (st == H5CL_OK && !ho.range_set)
        st = h5cl_tally_minmax(ds, &run, &mm, &first);
    if (st == H5CL_OK)
        st = h5cl_run_enter(ctx);
    if (st != H5CL_OK)
        return st;
    st = hist_count(&run, &ho, ho.range_set ? NULL : &mm, hist_ret);
    h5cl_run_leave(ctx);
    if (st == H5CL_OK)
        summary_add(&(*hist_ret)->summary, &first);
    return st;
}
