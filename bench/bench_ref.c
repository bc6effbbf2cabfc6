/*
 * h5cl-bench: reference statistics computed on the host from the raw
 * passes, and the check of an h5cl statistics state against them.  The
 * stats, axis and fused cases share them, so that "checked" means the same
 * thing in every row.
 *
 * A reference is built from segments: n values of a tile buffer, one every
 * `stride` elements, the k-th having index idx0 + k.  The whole-dataset
 * statistics add each tile as one segment (stride 1, idx0 its flat
 * index); per-axis statistics add one segment per column (stride = row
 * length, idx0 the tile's first row) or per row (stride 1, idx0 0).  Each
 * segment is reduced in two passes (mean, then squared deviations) in
 * double and merged with Chan's formula, as h5cl merges its partial states.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "bench.h"

/* Two passes over one segment of type T into t. */
#define REF_SEGMENT(T)                                                       \
    do {                                                                     \
        const T *p_ = (const T *)buf + off;                                  \
        double s_ = 0.0;                                                     \
        for (size_t k = 0; k < n; k++) {                                     \
            const double x_ = (double)p_[k * stride];                        \
            if (x_ != x_) {                                                  \
                t.nan_count++;                                               \
                continue;                                                    \
            }                                                                \
            s_ += x_;                                                        \
            if (++t.count == 1 || x_ < t.min) {                              \
                t.min = x_;                                                  \
                t.argmin = idx0 + k;                                         \
            }                                                                \
            if (t.count == 1 || x_ > t.max) {                                \
                t.max = x_;                                                  \
                t.argmax = idx0 + k;                                         \
            }                                                                \
        }                                                                    \
        if (t.count) {                                                       \
            t.mean = s_ / (double)t.count;                                   \
            for (size_t k = 0; k < n; k++) {                                 \
                const double d_ = (double)p_[k * stride] - t.mean;           \
                if (d_ == d_)                                                \
                    t.m2 += d_ * d_;                                         \
            }                                                                \
        }                                                                    \
    } while (0)

/* into (+) t; ties keep into's (earlier) index. */
static void ref_merge(struct ref_stats *into, const struct ref_stats *t)
{
    into->nan_count += t->nan_count;
    if (t->count == 0)
        return;
    if (into->count == 0) {
        const uint64_t nan = into->nan_count;
        *into = *t;
        into->nan_count = nan;
        return;
    }
    {
        const double na = (double)into->count, nb = (double)t->count;
        const double delta = t->mean - into->mean;
        into->mean += delta * nb / (na + nb);
        into->m2 += t->m2 + delta * delta * na * nb / (na + nb);
        into->count += t->count;
    }
    if (t->min < into->min) {
        into->min = t->min;
        into->argmin = t->argmin;
    }
    if (t->max > into->max) {
        into->max = t->max;
        into->argmax = t->argmax;
    }
}

void ref_add_segment(struct ref_stats *ref, h5cl_dtype dt, const void *buf,
                     size_t off, size_t stride, size_t n, uint64_t idx0)
{
    struct ref_stats t;
    memset(&t, 0, sizeof t);
    switch (dt) {
    case H5CL_INT8: REF_SEGMENT(int8_t); break;
    case H5CL_UINT8: REF_SEGMENT(uint8_t); break;
    case H5CL_INT16: REF_SEGMENT(int16_t); break;
    case H5CL_UINT16: REF_SEGMENT(uint16_t); break;
    case H5CL_INT32: REF_SEGMENT(int32_t); break;
    case H5CL_UINT32: REF_SEGMENT(uint32_t); break;
    case H5CL_INT64: REF_SEGMENT(int64_t); break;
    case H5CL_UINT64: REF_SEGMENT(uint64_t); break;
    case H5CL_FLOAT32: REF_SEGMENT(float); break;
    case H5CL_FLOAT64: REF_SEGMENT(double); break;
    default: return;
    }
    ref_merge(ref, &t);
}

h5cl_kind kind_of(h5cl_dtype dt)
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

int ref_check(const h5cl_stats_state *st, const struct ref_stats *ref,
              h5cl_kind kind, uint64_t elements, double minmax_tol,
              double *mean_err, double *var_err, char *err)
{
    double ref_var, scale, mn, mx;

    *mean_err = *var_err = 0.0;
    if (st->kind != (int32_t)kind)
        return fail(err, "state kind %d, want %d", st->kind, (int)kind);
    if (st->count + st->nan_count != elements)
        return fail(err, "count %" PRIu64 " + nan_count %" PRIu64
                    " != %" PRIu64 " elements", st->count, st->nan_count,
                    elements);
    if (st->count != ref->count || st->nan_count != ref->nan_count)
        return fail(err, "count/nan_count %" PRIu64 "/%" PRIu64
                    ", reference %" PRIu64 "/%" PRIu64, st->count,
                    st->nan_count, ref->count, ref->nan_count);
    if (st->overflow)
        return fail(err, "integer sum overflow reported");
    if (ref->count == 0)
        return 0;
    mn = h5cl_stats_state_min(st);
    mx = h5cl_stats_state_max(st);
    /* a run of selected figures (--figures) is checked on what it holds */
    if (st->missing & H5CL_FIG_MINMAX) {
        if (!isnan(mn) || st->argmin != H5CL_ARG_NONE)
            return fail(err, "min/max not computed but not NaN / no index");
    } else if (minmax_tol == 0.0) {
        if (mn != ref->min || mx != ref->max)
            return fail(err, "min/max %.17g/%.17g, reference %.17g/%.17g",
                        mn, mx, ref->min, ref->max);
        if (st->argmin != ref->argmin || st->argmax != ref->argmax)
            return fail(err, "argmin/argmax %" PRIu64 "/%" PRIu64
                        ", reference %" PRIu64 "/%" PRIu64, st->argmin,
                        st->argmax, ref->argmin, ref->argmax);
    } else if (!(rel_err(mn, ref->min, 0.0) <= minmax_tol) ||
               !(rel_err(mx, ref->max, 0.0) <= minmax_tol)) {
        return fail(err, "min/max %.17g/%.17g, reference %.17g/%.17g "
                    "(rel. tolerance %.0e)", mn, mx, ref->min, ref->max,
                    minmax_tol);
    }
    ref_var = ref->m2 / (double)ref->count;
    scale = sqrt(ref_var);
    if (st->missing & H5CL_FIG_SUM)
        return isnan(h5cl_stats_state_mean(st))
                   ? 0
                   : fail(err, "mean not computed but not NaN");
    *mean_err = rel_err(h5cl_stats_state_mean(st), ref->mean, scale);
    if (!(*mean_err <= TOL_MEAN))
        return fail(err, "mean %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_mean(st), ref->mean, *mean_err,
                    TOL_MEAN);
    if (st->missing & H5CL_FIG_VAR)
        return isnan(h5cl_stats_state_var(st, 0))
                   ? 0
                   : fail(err, "var not computed but not NaN");
    *var_err = rel_err(h5cl_stats_state_var(st, 0), ref_var, 0.0);
    if (!(*var_err <= TOL_VAR))
        return fail(err, "var %.9g, reference %.9g (rel. err %.2e > %.0e)",
                    h5cl_stats_state_var(st, 0), ref_var, *var_err, TOL_VAR);
    return 0;
}
