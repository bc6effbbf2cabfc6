/* Counting kernels: histograms with numpy.histogram's bin rule, and the
 * digit counts that exact quantiles refine (lib/tally.c drives them).
 *
 * Built once per element type with the defines of stats.cl (T, T_KIND,
 * T_SIZE, HAS_FP64, CONTIGUOUS).  Values are binned in double (float
 * without fp64), integers converted first, as numpy bins in float64.
 *
 * Every kernel counts into rows of 32-bit counters; a tile holds fewer than
 * 2^32 elements, so they cannot wrap.  A row of hist_flat and hist_axis is
 * bins + 3 counters: the bins, then NaN, below lo, above hi.  A row of
 * key_hist is nprefix blocks of 2^min(16, key bits) counters, one block
 * per prefix.
 *
 * hist_flat and key_hist, with CONTIGUOUS: work-item g owns elements
 * [g*seg, (g+1)*seg) and row g of the output (hist_flat: the COPIES rows
 * from g*COPIES, read eight values at a time), so it needs no atomics.
 * Without: work-items interleave; each work-group counts into a local row
 * with local atomics when it fits local memory (use_local) and then adds
 * it into the tile's one row in global memory (zeroed by the host), else
 * counts into that row directly with global atomics.
 */
/* numpy's edges are i*step + lo with two roundings: no fused multiply-add */
#pragma OPENCL FP_CONTRACT OFF
#if HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double R;
#else
typedef float R;
#endif

#define NONE 0xffffffffu

/* ---- numpy.histogram's bins ---- */

typedef struct binning {
    R lo, hi;
    R norm; /* the divisor of the index estimate: hi - lo, or numpy's
               exact integer difference for a range found in integers */
    R step; /* (hi - lo) / bins */
    uint bins;
} binning;

static binning binning_make(R lo, R hi, R norm, uint bins)
{
    binning b;
    b.lo = lo;
    b.hi = hi;
    b.norm = norm;
    b.bins = bins;
    b.step = (hi - lo) / (R)bins;
    return b;
}

/* Edge i as numpy.linspace(lo, hi, bins + 1) makes it, the last one hi
 * exactly.  (linspace's other formula, for a step that underflows to 0,
 * never applies: the host refuses edges that do not strictly increase, as
 * numpy does.) */
static R edge(const binning *b, uint i)
{
    return i == b->bins ? b->hi : (R)i * b->step + b->lo;
}

/* The counter of x: numpy's estimate from the scaled offset, then its
 * one-step correction against the edges, so values within rounding of an
 * edge land where numpy puts them.  hi belongs to the last bin. */
static uint bin_of(const binning *b, R x)
{
    if (isnan(x))
        return b->bins;
    if (x < b->lo)
        return b->bins + 1;
    if (x > b->hi)
        return b->bins + 2;
    uint i = (uint)(((x - b->lo) / b->norm) * (R)b->bins);
    if (i == b->bins)
        i--;
    if (x < edge(b, i))
        i--;
    else if (i != b->bins - 1 && x >= edge(b, i + 1))
        i++;
    return i;
}

/* ---- order-preserving keys ---- */

#if T_SIZE == 1
typedef uchar KT;
#elif T_SIZE == 2
typedef ushort KT;
#elif T_SIZE == 4
typedef uint KT;
#else
typedef ulong KT;
#endif
#define KBITS (T_SIZE * 8)
#define KSIGN ((KT)((KT)1 << (KBITS - 1)))
#define DIGIT_BITS (KBITS < 16 ? KBITS : 16)
#define KEY_BINS (1u << DIGIT_BITS) /* counters per prefix */

/* Unsigned integers whose order is the values' order: floats with the
 * sign bit set are negated bitwise, others get it set; signed integers
 * get it flipped.  -0.0 and 0.0 stay distinct but adjacent keys. */
static KT key_of(T x)
{
#if T_KIND == 0 && T_SIZE == 8
    KT u = as_ulong(x);
#elif T_KIND == 0
    KT u = as_uint(x);
#endif
#if T_KIND == 0
    return (u & KSIGN) ? (KT)~u : (KT)(u | KSIGN);
#elif T_KIND == 1
    return (KT)((KT)x ^ KSIGN);
#else
    return (KT)x;
#endif
}

/* The counter of x in key_hist's row: the next DIGIT_BITS of its key
 * below the `fixed` known bits, in the block of its prefix; NONE for NaN
 * or a prefix not asked for.  prefix holds nprefix sorted values. */
static uint digit_of(T x, __global const ulong *prefix, uint nprefix,
                     uint fixed)
{
#if T_KIND == 0
    if (isnan(x))
        return NONE;
#endif
    const ulong k = (ulong)key_of(x);
    uint p = 0;
    if (fixed) {
        const ulong top = k >> (KBITS - fixed);
        uint a = 0, b = nprefix;
        while (a < b) {
            uint m = (a + b) / 2;
            if (prefix[m] < top)
                a = m + 1;
            else
                b = m;
        }
        if (a == nprefix || prefix[a] != top)
            return NONE;
        p = a;
    }
    const uint shift = KBITS - fixed - DIGIT_BITS;
    return p * KEY_BINS + (uint)((k >> shift) & (KEY_BINS - 1));
}

/* ---- counting a tile ---- */

/* What a flat kernel counts: bins of values, or digits of keys. */
typedef struct rule {
    int keys;
    binning bin;
    __global const ulong *prefix;
    uint nprefix, fixed;
} rule;

static uint counter_of(const rule *r, T x)
{
    return r->keys ? digit_of(x, r->prefix, r->nprefix, r->fixed)
                   : bin_of(&r->bin, (R)x);
}

static void tally(__global const T *in, const ulong n, const ulong seg,
                  const rule *r, const uint nb, __global uint *out,
                  __local uint *lh, const int use_local)
{
#if CONTIGUOUS
    const ulong g = get_global_id(0);
    __global uint *row = out + g * nb;
    for (uint c = 0; c < nb; c++)
        row[c] = 0;
    const ulong e = min((g + 1) * seg, n);
    for (ulong i = g * seg; i < e; i++) {
        const uint c = counter_of(r, in[i]);
        if (c != NONE)
            row[c]++;
    }
#else
    const uint lid = (uint)get_local_id(0), lsz = (uint)get_local_size(0);
    const ulong stride = get_global_size(0);
    if (!use_local) {
        for (ulong i = get_global_id(0); i < n; i += stride) {
            const uint c = counter_of(r, in[i]);
            if (c != NONE)
                atomic_inc(&out[c]);
        }
        return;
    }
    for (uint c = lid; c < nb; c += lsz)
        lh[c] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (ulong i = get_global_id(0); i < n; i += stride) {
        const uint c = counter_of(r, in[i]);
        if (c != NONE)
            atomic_inc(&lh[c]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint c = lid; c < nb; c += lsz) {
        const uint v = lh[c];
        if (v)
            atomic_add(&out[c], v);
    }
#endif
}

#if CONTIGUOUS
/* ---- hist_flat's vectorised contiguous path ---- */

/* Rows each work-item of hist_flat counts into, summed by the host
 * (lib/tally.c's FLAT_COPIES): lane l of every 8 values counts into row
 * l % COPIES, so a run of equal values does not serialise on one counter. */
#define COPIES 8

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if HAS_FP64
typedef double4 R4;
typedef long4 M4; /* what comparisons of R4 give: -1 where true */
#define TO_R4(v) convert_double4(v)
#define AS_R4(v) as_double4(v)
#define AS_M4(v) as_long4(v)
#else
typedef float4 R4;
typedef int4 M4;
#define TO_R4(v) convert_float4(v)
#define AS_R4(v) as_float4(v)
#define AS_M4(v) as_int4(v)
#endif

/* Whether all four values are in [lo, hi] (NaN is not). */
static M4 in_range4(const binning *b, R4 x)
{
    return (x >= b->lo) & (x <= b->hi);
}

/* bin_of for four values in [lo, hi], without branches: the same
 * estimate and edges, computed the same way, in R throughout (AVX2 has no
 * packed conversion of doubles to 64-bit integers, and PoCL's trunc() is
 * slow).  min(est, bins - 1) truncated through int (bins < 2^30, checked
 * by the caller) is bin_of's truncation and "i == bins: i--" (est is >= 0
 * for values >= lo).  A value in range is never below edge 0 (it is lo).  The
 * step up is computed against i * step + lo for every lane and undone by
 * the final min for the last bin, where bin_of does not take it.  The
 * corrections are -1, 0 or +1 as R, from the comparison masks. */
static int4 bins_in_range4(const binning *b, R4 x)
{
    const R top = (R)(b->bins - 1);
    const R4 est = ((x - b->lo) / b->norm) * (R)b->bins;
    const R4 i = TO_R4(convert_int4(min(est, (R4)top)));
    const R4 e0 = i * b->step + b->lo;
    const R4 e1 = (i + (R)1) * b->step + b->lo;
    const M4 one = AS_M4((R4)1);
    const R4 down = AS_R4((x < e0) & one), up = AS_R4((x >= e1) & one);
    return convert_int4(min((i - down) + up, (R4)top));
}

/* Counts lanes lo and hi (values 0-3 and 4-7) into the COPIES rows. */
static void count8(__global uint *row, const uint nb, int4 lo, int4 hi)
{
#if COPIES == 8
    row[lo.s0]++;
    row[nb + lo.s1]++;
    row[2 * nb + lo.s2]++;
    row[3 * nb + lo.s3]++;
    row[4 * nb + hi.s0]++;
    row[5 * nb + hi.s1]++;
    row[6 * nb + hi.s2]++;
    row[7 * nb + hi.s3]++;
#elif COPIES == 4
    row[lo.s0]++;
    row[nb + lo.s1]++;
    row[2 * nb + lo.s2]++;
    row[3 * nb + lo.s3]++;
    row[hi.s0]++;
    row[nb + hi.s1]++;
    row[2 * nb + hi.s2]++;
    row[3 * nb + hi.s3]++;
#else
#error "COPIES must be 4 or 8"
#endif
}

/* Work-item g's segment [g*seg, (g+1)*seg) into its COPIES rows, from
 * out + g * COPIES * nb: eight values per step by vector loads, the tail
 * one by one. */
static void hist_segment(__global const T *in, const ulong n, const ulong seg,
                         const binning *b, __global uint *out)
{
    const uint nb = b->bins + 3;
    const ulong g = get_global_id(0);
    __global uint *row = out + g * COPIES * nb;
    for (uint c = 0; c < COPIES * nb; c++)
        row[c] = 0;
    const ulong s = g * seg, e = min(s + seg, n);
    if (s >= e)
        return;
    const ulong nv = (e - s) / 8;
    __global const T *p = in + s;
    const int fast = b->bins < (1u << 30); /* lanes of int4 hold a bin */
    for (ulong v = 0; v < nv; v++) {
#if T_SIZE == 8
        const R4 xl = TO_R4(vload4(2 * v, p)), xh = TO_R4(vload4(2 * v + 1, p));
#else
        const CAT(T, 8) x = vload8(v, p);
        const R4 xl = TO_R4(x.lo), xh = TO_R4(x.hi);
#endif
        if (fast && all(in_range4(b, xl) & in_range4(b, xh))) {
            count8(row, nb, bins_in_range4(b, xl), bins_in_range4(b, xh));
            continue;
        }
        /* NaN, or values outside [lo, hi]: one by one, as bin_of does */
        for (uint l = 0; l < 8; l++)
            row[(l % COPIES) * nb + bin_of(b, (R)p[8 * v + l])]++;
    }
    for (ulong i = s + nv * 8; i < e; i++)
        row[bin_of(b, (R)in[i])]++;
}
#endif

/* One histogram of the tile's n values over [lo, hi]; with CONTIGUOUS,
 * COPIES rows per work-item (hist_segment). */
__kernel void hist_flat(__global const T *in, const ulong n, const ulong seg,
                        __global uint *out, __local uint *lh,
                        const int use_local, const R lo, const R hi,
                        const R norm, const uint bins)
{
#if CONTIGUOUS
    const binning b = binning_make(lo, hi, norm, bins);
    hist_segment(in, n, seg, &b, out);
#else
    rule r;
    r.keys = 0;
    r.bin = binning_make(lo, hi, norm, bins);
    r.prefix = 0;
    r.nprefix = r.fixed = 0;
    tally(in, n, seg, &r, bins + 3, out, lh, use_local);
#endif
}

/* Digit counts of the keys that share one of the prefixes (their top
 * `fixed` bits); with fixed 0, of every key under one empty prefix. */
__kernel void key_hist(__global const T *in, const ulong n, const ulong seg,
                       __global uint *out, __local uint *lh,
                       const int use_local, __global const ulong *prefix,
                       const uint nprefix, const uint fixed)
{
    rule r;
    r.keys = 1;
    r.bin = binning_make(0, 1, 1, 1);
    r.prefix = prefix;
    r.nprefix = nprefix;
    r.fixed = fixed;
    tally(in, n, seg, &r, nprefix * KEY_BINS, out, lh, use_local);
}

/* Histograms along one axis of a tile viewed as [O][A][I]: work-item
 * o*I + i counts the A elements of its line into row o*I + i.
 * Neighbouring work-items read neighbouring elements. */
__kernel void hist_axis(__global const T *in, const ulong O, const ulong A,
                        const ulong I, __global uint *out, const R lo,
                        const R hi, const R norm, const uint bins)
{
    const ulong gid = get_global_id(0);
    if (gid >= O * I)
        return;
    const binning b = binning_make(lo, hi, norm, bins);
    const uint nb = bins + 3;
    __global uint *row = out + gid * nb;
    for (uint c = 0; c < nb; c++)
        row[c] = 0;
    __global const T *line = in + (gid / I) * A * I + gid % I;
    for (ulong k = 0; k < A; k++)
        row[bin_of(&b, (R)line[k * I])]++;
}
