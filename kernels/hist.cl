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
 * [g*seg, (g+1)*seg) and row g of the output, so it needs no atomics.
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

/* One histogram of the tile's n values over [lo, hi]. */
__kernel void hist_flat(__global const T *in, const ulong n, const ulong seg,
                        __global uint *out, __local uint *lh,
                        const int use_local, const R lo, const R hi,
                        const R norm, const uint bins)
{
    rule r;
    r.keys = 0;
    r.bin = binning_make(lo, hi, norm, bins);
    r.prefix = 0;
    r.nprefix = r.fixed = 0;
    tally(in, n, seg, &r, bins + 3, out, lh, use_local);
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
