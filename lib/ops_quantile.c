/* Exact quantiles: numpy's "linear" method over the numbers of the
 * selection (NaNs ignored, as np.nanquantile), by refining histograms of
 * the values' order-preserving keys (kernels/hist.cl, key_hist).
 *
 * A min/max pass gives n, the count of numbers.  The ranks wanted are
 * floor(q * (n - 1)) and the next one, for each q.  Every rank starts
 * under the key bits that min and max share (in whole digits), since all
 * values share them; each pass then counts, for the prefixes still open,
 * the next 16 bits of the keys under them, and the digit whose running
 * count passes a rank extends that rank's prefix.  After the last digit
 * the prefix is the key, which gives the value exactly: float32 and int32
 * take 2 passes, float64 and int64 4, 8 and 16-bit types 1 (fewer when
 * min and max share leading digits).  Also h5cl_quantile_compute(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h"

/* Distinct prefixes one pass counts at most (2^16 totals each). */
#define MAX_PREFIXES 16

/* One wanted rank on its way down the digits of its key. */
typedef struct seek {
    uint64_t rank;   /* among the numbers, in ascending order           */
    uint64_t prefix; /* the top key bits found so far                   */
    uint64_t k;      /* its rank among the values under that prefix     */
} seek;

/* Where quantile q lies: ranks lo and hi and the weight of hi, as numpy's
 * linear method computes them. */
typedef struct place {
    uint64_t lo, hi;
    double gamma;
} place;

static unsigned key_bits(h5cl_dtype dt)
{
    return 8 * (unsigned)h5cl_dtype_size(dt);
}

static uint64_t low_mask(unsigned bits)
{
    return bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
}

/* The key of a value (kernels/hist.cl, key_of), given as a statistics
 * state holds it. */
static uint64_t key_of(h5cl_dtype dt, h5cl_kind kind, h5cl_scalar v)
{
    const unsigned w = key_bits(dt);
    const uint64_t sign = (uint64_t)1 << (w - 1);
    uint64_t u;
    if (kind == H5CL_KIND_UNSIGNED)
        return v.u;
    if (kind == H5CL_KIND_SIGNED)
        return ((uint64_t)v.i ^ sign) & low_mask(w);
    if (w == 32) {
        float f = (float)v.f;
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        u = b;
    } else {
        memcpy(&u, &v.f, sizeof u);
    }
    return (u & sign ? ~u : u | sign) & low_mask(w);
}

/* The value whose key is key, as a double. */
static double value_of(h5cl_dtype dt, uint64_t key)
{
    const unsigned w = key_bits(dt);
    const uint64_t sign = (uint64_t)1 << (w - 1);
    if (dt < H5CL_FLOAT32 && dt % 2 == 1)
        return (double)key;
    if (dt < H5CL_FLOAT32) {
        /* sign-extend the w-bit two's complement value */
        uint64_t u = key ^ sign;
        return (double)(int64_t)((u ^ sign) - sign);
    }
    uint64_t u = (key & sign ? key ^ sign : ~key) & low_mask(w);
    if (w == 32) {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Leading key bits a and b share, in whole digits. */
static unsigned shared_digits(uint64_t a, uint64_t b, unsigned w,
                              unsigned digit)
{
    unsigned same = 0;
    while (same < w && !(((a ^ b) >> (w - 1 - same)) & 1))
        same++;
    return same / digit * digit;
}

/* numpy's _lerp: exact at both ends, NaN from infinite differences. */
static double lerp(double a, double b, double t)
{
    double d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

static place place_of(double q, uint64_t n)
{
    place p;
    double vi = (double)(n - 1) * q;
    if (vi >= (double)(n - 1)) {
        p.lo = p.hi = n - 1;
    } else {
        p.lo = (uint64_t)floor(vi);
        p.hi = p.lo + 1 < n ? p.lo + 1 : n - 1;
    }
    p.gamma = vi - floor(vi);
    return p;
}

static int by_rank(const void *a, const void *b)
{
    const seek *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* The ranks s[a..) that one pass counts: as far as their distinct
 * prefixes (written to prefix[], sorted, as the ranks are) fit in one. */
static size_t batch(const seek *s, size_t a, size_t m, uint64_t *prefix,
                    uint32_t *np)
{
    size_t b = a;
    *np = 0;
    for (; b < m; b++) {
        if (*np && prefix[*np - 1] == s[b].prefix)
            continue;
        if (*np == MAX_PREFIXES)
            break;
        prefix[(*np)++] = s[b].prefix;
    }
    return b;
}

/* Extends s's prefix by the digit under which its rank falls, given the
 * counts of that prefix's digits; 0 when the counts fall short. */
static int descend(seek *s, const uint64_t *counts, unsigned digit)
{
    uint64_t below = 0;
    for (uint64_t d = 0; d < ((uint64_t)1 << digit); d++) {
        if (s->k - below < counts[d]) {
            s->prefix = (s->prefix << digit) | d;
            s->k -= below;
            return 1;
        }
        below += counts[d];
    }
    return 0;
}

/* Resolves the keys of the m sorted ranks s, pass by pass. */
static int refine(h5cl_run *run, h5cl_tally *t, const h5cl_stats_state *mm,
                  seek *s, size_t m, unsigned *passes)
{
    const unsigned w = key_bits(t->dtype);
    const unsigned digit = h5cl_tally_digit_bits(t->dtype);
    /* a zero extreme may be either zero: take the one that widens */
    h5cl_scalar lo = mm->min, hi = mm->max;
    if (mm->kind == H5CL_KIND_FLOAT && lo.f == 0)
        lo.f = -0.0;
    if (mm->kind == H5CL_KIND_FLOAT && hi.f == 0)
        hi.f = 0.0;
    const uint64_t kmin = key_of(t->dtype, mm->kind, lo);
    unsigned fixed = shared_digits(kmin, key_of(t->dtype, mm->kind, hi), w,
                                   digit);
    for (size_t j = 0; j < m; j++) {
        s[j].prefix = fixed ? kmin >> (w - fixed) : 0;
        s[j].k = s[j].rank;
    }
    uint64_t prefix[MAX_PREFIXES];
    uint64_t *totals = malloc(((size_t)MAX_PREFIXES << digit) * sizeof *totals);
    if (!totals)
        return h5cl_fail(run->ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    h5cl_run_summary summary;
    int st = H5CL_OK;
    for (; fixed < w && st == H5CL_OK; fixed += digit) {
        for (size_t a = 0, b; a < m && st == H5CL_OK; a = b) {
            b = batch(s, a, m, prefix, &t->nprefix);
            t->prefix = prefix;
            t->fixed = fixed;
            t->totals = totals;
            st = h5cl_tally_run(run, t, &summary);
            ++*passes;
            for (size_t j = a, p = 0; j < b && st == H5CL_OK; j++) {
                while (prefix[p] != s[j].prefix)
                    p++;
                if (!descend(&s[j], totals + (p << digit), digit))
                    st = h5cl_fail(run->ctx, H5CL_ERR_IO,
                                   "%s changed between the passes of a "
                                   "quantile computation",
                                   run->in.ds[0]->info.path);
            }
        }
    }
    free(totals);
    return st;
}

/* The values of the m sorted ranks s (their keys, or min when all values
 * are equal), by refinement passes under the context's busy guard. */
static int rank_values(h5cl_run *run, const h5cl_stats_state *mm, seek *s,
                       size_t m, double *vals, unsigned *passes)
{
    double mn = h5cl_stats_state_min(mm);
    if (mn == h5cl_stats_state_max(mm)) {
        for (size_t j = 0; j < m; j++)
            vals[j] = mn;
        return H5CL_OK;
    }
    int st = h5cl_run_enter(run->ctx);
    if (st != H5CL_OK)
        return st;
    h5cl_tally t;
    memset(&t, 0, sizeof t);
    t.keys = 1;
    t.axis = -1;
    st = h5cl_tally_values(run, &t.eval, &t.dtype);
    if (st == H5CL_OK)
        st = refine(run, &t, mm, s, m, passes);
    h5cl_eval_free(t.eval);
    if (st == H5CL_OK)
        h5cl_ok(run->ctx); /* no message left from a retried attempt */
    h5cl_run_leave(run->ctx);
    for (size_t j = 0; st == H5CL_OK && j < m; j++)
        vals[j] = value_of(t.dtype, s[j].prefix);
    return st;
}

static double value_at(const seek *s, const double *vals, size_t m,
                       uint64_t rank)
{
    seek key = {rank, 0, 0};
    const seek *at = bsearch(&key, s, m, sizeof *s, by_rank);
    return vals[at - s];
}

/* The quantiles of the n numbers that mm describes. */
static int quantiles(h5cl_run *run, const h5cl_stats_state *mm,
                     const double *q, size_t nq, double *values,
                     unsigned *passes)
{
    const uint64_t n = mm->count;
    seek *s = calloc(2 * nq, sizeof *s);
    double *vals = calloc(2 * nq, sizeof *vals);
    if (!s || !vals) {
        free(s);
        free(vals);
        return h5cl_fail(run->ctx, H5CL_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < nq; i++) {
        place p = place_of(q[i], n);
        s[2 * i].rank = p.lo;
        s[2 * i + 1].rank = p.hi;
    }
    qsort(s, 2 * nq, sizeof *s, by_rank);
    size_t m = 0;
    for (size_t j = 0; j < 2 * nq; j++)
        if (m == 0 || s[j].rank != s[m - 1].rank)
            s[m++] = s[j];
    int st = rank_values(run, mm, s, m, vals, passes);
    for (size_t i = 0; st == H5CL_OK && i < nq; i++) {
        place p = place_of(q[i], n);
        values[i] = lerp(value_at(s, vals, m, p.lo),
                         value_at(s, vals, m, p.hi), p.gamma);
    }
    free(s);
    free(vals);
    return st;
}

static int check_q(h5cl_ctx *ctx, const double *q, size_t nq,
                   const double *values_ret)
{
    if (nq && (!q || !values_ret))
        return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                         "h5cl_quantile_compute: NULL q or values_ret");
    for (size_t i = 0; i < nq; i++)
        if (!(q[i] >= 0 && q[i] <= 1))
            return h5cl_fail(ctx, H5CL_ERR_INVALID_ARGUMENT,
                             "q[%zu] is %g; quantiles are fractions in "
                             "[0, 1]",
                             i, q[i]);
    return H5CL_OK;
}

int h5cl_quantile_compute(h5cl_dataset *ds, const h5cl_run_options *opts,
                          const double *q, size_t nq, double *values_ret,
                          unsigned *passes_ret)
{
    unsigned passes = 0;
    if (passes_ret)
        *passes_ret = 0;
    if (!ds)
        return H5CL_ERR_INVALID_ARGUMENT;
    h5cl_ctx *ctx = ds->ctx;
    /* everything is checked before the min/max pass, which is a run of
     * its own with its own busy guard */
    h5cl_run run;
    int st = h5cl_run_enter(ctx);
    if (st != H5CL_OK)
        return st;
    st = check_q(ctx, q, nq, values_ret);
    if (st == H5CL_OK)
        st = h5cl_run_prepare(ctx, ds, opts, 0, &run);
    if (st == H5CL_OK)
        h5cl_ok(ctx);
    h5cl_run_leave(ctx);
    h5cl_stats_state mm;
    if (st == H5CL_OK && nq)
        st = h5cl_tally_minmax(ds, &run, &mm, NULL);
    if (st != H5CL_OK || nq == 0)
        return st;
    for (size_t i = 0; mm.count == 0 && i < nq; i++)
        values_ret[i] = NAN;
    if (mm.count)
        st = quantiles(&run, &mm, q, nq, values_ret, &passes);
    if (passes_ret && st == H5CL_OK)
        *passes_ret = passes;
    return st;
}
