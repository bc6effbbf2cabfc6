/* One-pass statistics: count, NaN count, sum, mean and M2 (Chan/Welford),
 * min, max and the index of their first occurrence.
 *
 * Built once per element type with:
 *   T          element type (char ... double)
 *   T_KIND     0 float, 1 signed integer, 2 unsigned integer
 *   T_SIZE     bytes per element
 *   HAS_FP64   accumulate in double (else compensated float)
 *   CONTIGUOUS 1 on CPU devices: each work-item owns one contiguous segment
 *              read with vector loads; 0 on GPUs: work-items interleave so
 *              that neighbouring work-items read neighbouring elements.
 * and, for runs of selected figures (lib/ops_stats.c; all 1 when unset):
 *   NEED_M2     sums of squares (var, std); without them the sums are not
 *               shifted, so a sum is a load, a convert and an add
 *   NEED_MINMAX min, max and the index of their first occurrence (which
 *               costs one block's rescan per work-item: no variant)
 * The count, the NaN count and the sum are computed in every variant.
 *
 * Every work-group writes one partial record of REC_WORDS 64-bit words
 * (layout shared with lib/ops_stats.c):
 *   0 count  1 nan_count  2 argmin  3 argmax  4 unused  5 sum
 *   6 sum_comp (floats) or the high word of the 128-bit sum (integers)
 *   7 mean  8 m2  9 min  10 max  11 unused
 * Floating fields are the bits of a double (HAS_FP64) or of a float in the
 * low 32 bits; integer sums and extrema are the bits of a long or ulong.
 * Integer sums are exact 128-bit sums (low word wrapping, high word
 * counting carries), so an intermediate sum may leave the 64-bit range as
 * long as the total comes back into it, as with numpy's int64 sums.
 */
#if HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double ACC;
#define ACC_BITS(x) as_ulong(x)
#else
typedef float ACC;
#define ACC_BITS(x) ((ulong)as_uint(x))
#endif

#ifndef NEED_M2
#define NEED_M2 1
#endif
#ifndef NEED_MINMAX
#define NEED_MINMAX 1
#endif
#define ALL_FIGURES (NEED_M2 && NEED_MINMAX)

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define TV CAT(T, 8)

#define NONE ((ulong)0xffffffffffffffffUL)
#define REC_WORDS 12

#if T_KIND == 0
typedef ACC MINT; /* extrema held exactly: float -> double is exact    */
#define IS_NAN(x) isnan(x)
#define IS_FINITE(x) isfinite(x)
#elif T_KIND == 1
typedef long MINT;
typedef long SUMT;
#define IS_NAN(x) 0
#define IS_FINITE(x) 1
#else
typedef ulong MINT;
typedef ulong SUMT;
#define IS_NAN(x) 0
#define IS_FINITE(x) 1
#endif

/* Vectors of the contiguous path.  Eight elements are processed per step;
 * 64-bit quantities (sums, and 64-bit data) use two 4-wide halves, since
 * 8-wide 64-bit vectors are not native on AVX2 and make PoCL's compiler
 * warn about the vector ABI.  Narrow integers are widened to 32 bits for
 * the extrema (exact, and as fast). */
#define H CAT(T, 4)
#if T_SIZE == 8
typedef H MV;
typedef T MS;
#define MVW 4
#elif T_KIND == 0
typedef float8 MV;
typedef float MS;
#define MVW 8
#define TO_MV(v) (v)
#elif T_KIND == 1
typedef int8 MV;
typedef int MS;
#define MVW 8
#define TO_MV(v) convert_int8(v)
#else
typedef uint8 MV;
typedef uint MS;
#define MVW 8
#define TO_MV(v) convert_uint8(v)
#endif
#define VSTORE_MV CAT(vstore, MVW)

/* A finished partial: what work-groups merge and write. */
typedef struct part {
    ulong n, nan, imn, imx;
    ACC mean, m2, fsum, fsumc;
    MINT mn, mx;
#if T_KIND != 0
    SUMT isum;
    long isum_hi;
#endif
} part;

/* Running accumulators of one work-item: sums of x - K for a shift K. */
typedef struct acc {
    ulong n, nan, imn, imx;
    int kset; /* K chosen: the first finite value */
    ACC K, s1, s2, c1, c2;
    MINT mn, mx;
#if T_KIND != 0
    SUMT isum;
    long isum_hi;
#endif
} acc;

static void acc_init(acc *a)
{
    a->n = a->nan = 0;
    a->kset = 0;
    a->imn = a->imx = NONE;
    a->K = a->s1 = a->s2 = a->c1 = a->c2 = 0;
    a->mn = a->mx = 0;
#if T_KIND != 0
    a->isum = 0;
    a->isum_hi = 0;
#endif
}

/* Adds y to the sum s; without fp64 keeps Kahan's compensation c. */
static void acc_add(ACC *s, ACC *c, ACC y)
{
#if HAS_FP64
    *s += y;
#else
    ACC t = y - *c;
    ACC u = *s + t;
    *c = (u - *s) - t;
    *s = u;
#endif
}

#if T_KIND != 0
/* (hi, lo) += x as 128-bit integers; x is sign-extended for signed data. */
static void isum_add(SUMT *lo, long *hi, SUMT x, long x_hi)
{
    ulong l = (ulong)*lo, r = l + (ulong)x;
    *hi += x_hi + (r < l ? 1 : 0);
    *lo = (SUMT)r;
}
#if T_KIND == 1
#define SIGN_HI(x) ((x) < 0 ? -1L : 0L)
#else
#define SIGN_HI(x) 0L
#endif
#endif

static void acc_one(acc *a, T x, ulong idx)
{
    if (IS_NAN(x)) {
        a->nan++;
        return;
    }
#if NEED_M2
    /* the shift is the first finite value: close to the data, so the
     * shifted sums do not cancel; infinities before it give inf or NaN
     * whatever the shift */
    if (!a->kset && IS_FINITE(x)) {
        a->K = (ACC)x;
        a->kset = 1;
    }
#endif
    a->n++;
#if NEED_M2 || T_KIND == 0
    ACC d = (ACC)x - a->K;
    acc_add(&a->s1, &a->c1, d);
#endif
#if NEED_M2
    acc_add(&a->s2, &a->c2, d * d);
#endif
#if T_KIND != 0
    isum_add(&a->isum, &a->isum_hi, (SUMT)x, SIGN_HI(x));
#endif
#if NEED_MINMAX
    MINT m = (MINT)x;
    if (a->imn == NONE || m < a->mn) {
        a->mn = m;
        a->imn = idx;
    }
    if (a->imx == NONE || m > a->mx) {
        a->mx = m;
        a->imx = idx;
    }
#endif
}

static part acc_finish(const acc *a)
{
    part p;
    p.n = a->n;
    p.nan = a->nan;
    p.imn = a->imn;
    p.imx = a->imx;
    p.mn = a->mn;
    p.mx = a->mx;
#if T_KIND != 0
    p.isum = a->isum;
    p.isum_hi = a->isum_hi;
#endif
    if (a->n) {
        ACC n = (ACC)a->n;
        ACC s1 = a->s1 - a->c1;
        p.mean = a->K + s1 / n;
#if NEED_M2
        /* rounding can leave a tiny negative; NaN (from inf) must stay */
        p.m2 = (a->s2 - a->c2) - s1 * s1 / n;
        if (p.m2 < 0)
            p.m2 = 0;
        p.fsum = n * a->K;
        p.fsumc = s1;
#else
        /* unshifted: the sum itself, compensated across partials */
        p.m2 = 0;
        p.fsum = s1;
        p.fsumc = 0;
#endif
    } else {
        p.mean = p.m2 = p.fsum = p.fsumc = 0;
    }
    return p;
}

/* a = a (+) b; a's items precede b's when indices tie. */
static void part_merge(part *a, const part *b)
{
    if (b->imn != NONE &&
        (a->imn == NONE || b->mn < a->mn || (b->mn == a->mn && b->imn < a->imn))) {
        a->mn = b->mn;
        a->imn = b->imn;
    }
    if (b->imx != NONE &&
        (a->imx == NONE || b->mx > a->mx || (b->mx == a->mx && b->imx < a->imx))) {
        a->mx = b->mx;
        a->imx = b->imx;
    }
    a->nan += b->nan;
#if T_KIND != 0
    isum_add(&a->isum, &a->isum_hi, b->isum, b->isum_hi);
#endif
    if (b->n == 0)
        return;
    if (a->n == 0) {
        a->n = b->n;
        a->mean = b->mean;
        a->m2 = b->m2;
        a->fsum = b->fsum;
        a->fsumc = b->fsumc;
        return;
    }
    ACC na = (ACC)a->n, nb = (ACC)b->n, n = na + nb;
    ACC delta = b->mean - a->mean;
    a->mean += delta * (nb / n);
    a->m2 += b->m2 + delta * delta * (na * nb / n);
    a->n += b->n;
    /* Neumaier: keep the rounding error of the big sums */
    ACC t = a->fsum + b->fsum;
    /* an infinite sum has no rounding error to keep (and inf - inf would
     * poison the compensation) */
    if (isfinite(t)) {
        if (fabs(a->fsum) >= fabs(b->fsum))
            a->fsumc += (a->fsum - t) + b->fsum;
        else
            a->fsumc += (b->fsum - t) + a->fsum;
    }
    a->fsumc += b->fsumc;
    a->fsum = t;
}

static void part_store(__global ulong *out, const part *p)
{
    out[0] = p->n;
    out[1] = p->nan;
    out[2] = p->imn;
    out[3] = p->imx;
    out[4] = 0;
#if T_KIND == 0
    out[5] = ACC_BITS(p->fsum);
    out[6] = ACC_BITS(p->fsumc);
    out[9] = ACC_BITS(p->mn);
    out[10] = ACC_BITS(p->mx);
#else
    out[5] = (ulong)p->isum;
    out[6] = (ulong)p->isum_hi;
    out[9] = (ulong)p->mn;
    out[10] = (ulong)p->mx;
#endif
    out[7] = ACC_BITS(p->mean);
    out[8] = ACC_BITS(p->m2);
    out[11] = 0;
}

#if CONTIGUOUS
#define BLOCK 256 /* vectors per block: 2048 elements */

/* A hint to fetch the line at p ahead of use (x86: prefetcht0; never
 * faults, so it may point past the data).  CPU devices only: clang's
 * builtin takes the default address space, and on a CPU every address
 * space is the host's. */
#if defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((const void *)(ulong)(p))
#else
#define PREFETCH(p)
#endif
/* How far ahead acc_segment fetches: 4 KiB (float32 data, 4 GiB, stats:
 * 15 -> 18 GB/s on the CI machine; the hardware prefetcher stops at each
 * 4 KiB page of the mapped page cache). */
#define PREFETCH_BYTES 4096

/* Sums run in two 4-wide halves: 8-wide doubles are not native on AVX2
 * and make PoCL's compiler warn about the vector ABI. */
#if HAS_FP64
typedef double4 ACCV;
#define TO_ACCV(v) convert_double4(v)
#else
typedef float4 ACCV;
#define TO_ACCV(v) convert_float4(v)
#endif
#if T_KIND == 1
typedef long4 SUMV;
#define TO_SUMV(v) convert_long4(v)
#define as_SUMV(v) as_long4(v)
#elif T_KIND == 2
typedef ulong4 SUMV;
#define TO_SUMV(v) convert_ulong4(v)
#define as_SUMV(v) as_ulong4(v)
#endif

/* 8- and 16-bit integers with fp64 sum x and x^2 exactly in integer lanes
 * per block (a lane's 256 values: x sums below 2^25, x^2 below 2^40), then
 * fold the block into the shifted double sums, exactly: every term is an
 * integer below 2^53.  No per-element conversion to double. */
#define NARROW_INT (T_KIND != 0 && T_SIZE <= 2 && HAS_FP64)

static ACC hsum(ACCV lo, ACCV hi)
{
    ACCV v = lo + hi;
    return (v.s0 + v.s1) + (v.s2 + v.s3);
}

#if NEED_MINMAX
static MINT hmin(MV v)
{
    MS l[MVW];
    VSTORE_MV(v, 0, l);
    MS m = l[0];
    for (int i = 1; i < MVW; i++)
        m = min(m, l[i]);
    return (MINT)m;
}

static MINT hmax(MV v)
{
    MS l[MVW];
    VSTORE_MV(v, 0, l);
    MS m = l[0];
    for (int i = 1; i < MVW; i++)
        m = max(m, l[i]);
    return (MINT)m;
}
#endif

#if !HAS_FP64
static void kahan4(ACCV *s, ACCV *c, ACCV y)
{
    ACCV t = y - *c, u = *s + t;
    *c = (u - *s) - t;
    *s = u;
}
#endif

#if NEED_MINMAX
/* Puts the first index in [b, e) holding value m into a's minimum (or
 * maximum) if it beats it; ties go to the smaller index. */
static void settle(acc *a, __global const T *in, ulong b, ulong e, MINT m,
                   int is_max)
{
    MINT *cur = is_max ? &a->mx : &a->mn;
    ulong *at = is_max ? &a->imx : &a->imn;
    for (ulong i = b; i < e; i++)
        if ((MINT)in[i] == m) {
            if (*at == NONE || (is_max ? m > *cur : m < *cur) ||
                (m == *cur && i < *at)) {
                *cur = m;
                *at = i;
            }
            return;
        }
}
#endif

/* Elements [b, e) of one work-item.  The fast path keeps only shifted sums
 * and extrema per 8 lanes, block by block, and remembers which block held
 * the best extremum; the exact first index is found by rescanning that
 * block at the end.  A block whose sums turn NaN (it holds NaN, or +inf and
 * -inf) is redone element by element, which handles NaNs exactly. */
static void acc_segment(acc *a, __global const T *in, ulong b, ulong e)
{
#if NEED_M2
    if (!a->kset) {
        ulong i = b;
#if T_KIND == 0
        while (i < e && !isfinite(in[i]))
            i++;
#endif
        if (i < e) {
            a->K = (ACC)in[i];
            a->kset = 1;
        }
    }
    const ACC K = a->K;
#define SHIFTED(v) (TO_ACCV(v) - K)
#else
#define SHIFTED(v) TO_ACCV(v)
#endif
    const ulong nv = (e - b) / 8;
    __global const T *p = in + b;
#if NARROW_INT
    ACC f1 = 0, f2 = 0; /* the blocks' shifted sums */
    SUMT nsum = 0;      /* exact: a segment is < 2^31 elements of < 2^16 */
#else
    ACCV s1l = 0, s1h = 0, s2l = 0, s2h = 0;
#endif
#if !HAS_FP64
    ACCV c1l = 0, c1h = 0, c2l = 0, c2h = 0;
#endif
#if T_KIND != 0 && !NARROW_INT
    SUMV isl = 0, ish = 0;
#if T_SIZE == 8
    long4 hil = 0, hih = 0; /* carries: the high words of 128-bit lanes */
#endif
#endif
    ulong nfast = 0, bmn_at = NONE, bmx_at = NONE;
    MINT bmn = 0, bmx = 0;
    for (ulong v0 = 0; v0 < nv; v0 += BLOCK) {
        const ulong v1 = min(v0 + BLOCK, nv);
#if NARROW_INT
        MV b1 = 0;
        ulong4 b2l = 0, b2h = 0;
#else
        ACCV t1l = 0, t1h = 0, t2l = 0, t2h = 0;
#endif
#if NEED_MINMAX
#if T_SIZE == 8
        MV mn = vload4(2 * v0, p), mx = mn;
#else
        MV mn = TO_MV(vload8(v0, p)), mx = mn;
#endif
#endif
        for (ulong v = v0; v < v1; v++) {
#if T_SIZE == 8
            PREFETCH(p + v * 8 + PREFETCH_BYTES / T_SIZE);
            H xl = vload4(2 * v, p), xh = vload4(2 * v + 1, p);
#if NEED_MINMAX
            mn = min(mn, min(xl, xh));
            mx = max(mx, max(xl, xh));
#endif
#else
            PREFETCH(p + v * 8 + PREFETCH_BYTES / T_SIZE);
            TV x = vload8(v, p);
#if NEED_MINMAX || NARROW_INT
            MV m = TO_MV(x);
#endif
#if NEED_MINMAX
            mn = min(mn, m);
            mx = max(mx, m);
#endif
#if NARROW_INT
            b1 += m;
#if NEED_M2
            const uint8 q = as_uint8(m * m); /* < 2^32, even for ushort */
            b2l += convert_ulong4(q.lo);
            b2h += convert_ulong4(q.hi);
#endif
#else
            H xl = x.lo, xh = x.hi;
#endif
#endif
#if !NARROW_INT
#if NEED_M2 || T_KIND == 0
            /* integers without M2 need only their exact sums below */
            ACCV dl = SHIFTED(xl), dh = SHIFTED(xh);
            t1l += dl;
            t1h += dh;
#endif
#if NEED_M2
            t2l += dl * dl;
            t2h += dh * dh;
#endif
#if T_KIND != 0
            SUMV sl = TO_SUMV(xl), sh = TO_SUMV(xh);
#if T_SIZE == 8
            ulong4 ul = as_ulong4(isl), uh = as_ulong4(ish);
            ulong4 rl = ul + as_ulong4(sl), rh = uh + as_ulong4(sh);
            hil -= as_long4(rl < ul); /* a true comparison is -1 */
            hih -= as_long4(rh < uh);
#if T_KIND == 1
            hil += sl >> 63; /* sign extension: -1 for negatives */
            hih += sh >> 63;
#endif
            isl = as_SUMV(rl);
            ish = as_SUMV(rh);
#else
            isl += sl; /* a lane cannot overflow: segments are < 2^31 */
            ish += sh;
#endif
#endif
#endif /* !NARROW_INT */
        }
#if T_KIND == 0
#if NEED_M2
        if (any(isnan((t1l + t1h) + (t2l + t2h)))) {
#else
        if (any(isnan(t1l + t1h))) {
#endif
            for (ulong i = b + v0 * 8; i < b + v1 * 8; i++)
                acc_one(a, in[i], i);
            continue;
        }
#endif
#if NARROW_INT
        {
            const int4 h1 = as_int4(b1.lo + b1.hi); /* < 2^28 in a lane */
            const SUMT S1 = (SUMT)(h1.s0 + h1.s1 + h1.s2 + h1.s3);
            nsum += S1;
#if NEED_M2
            const ulong4 h2 = b2l + b2h;
            const ACC S2 = (ACC)(h2.s0 + h2.s1 + h2.s2 + h2.s3);
            const ACC nb = (ACC)((v1 - v0) * 8);
            f1 += (ACC)S1 - nb * K;
            f2 += S2 - 2 * K * (ACC)S1 + nb * K * K;
#endif
        }
#elif HAS_FP64
        s1l += t1l;
        s1h += t1h;
#if NEED_M2
        s2l += t2l;
        s2h += t2h;
#endif
#else
        kahan4(&s1l, &c1l, t1l);
        kahan4(&s1h, &c1h, t1h);
#if NEED_M2
        kahan4(&s2l, &c2l, t2l);
        kahan4(&s2h, &c2h, t2h);
#endif
#endif
        nfast += (v1 - v0) * 8;
#if NEED_MINMAX
        MINT lo = hmin(mn), hi = hmax(mx);
        if (bmn_at == NONE || lo < bmn) {
            bmn = lo;
            bmn_at = v0;
        }
        if (bmx_at == NONE || hi > bmx) {
            bmx = hi;
            bmx_at = v0;
        }
#endif
    }
    a->n += nfast;
#if NARROW_INT
    a->s1 += f1;
    a->s2 += f2;
    isum_add(&a->isum, &a->isum_hi, nsum, SIGN_HI(nsum));
#elif HAS_FP64
    a->s1 += hsum(s1l, s1h);
    a->s2 += hsum(s2l, s2h);
#else
    acc_add(&a->s1, &a->c1, hsum(s1l - c1l, s1h - c1h));
    acc_add(&a->s2, &a->c2, hsum(s2l - c2l, s2h - c2h));
#endif
#if T_KIND != 0 && !NARROW_INT
    SUMT lanes[8];
    long his[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    vstore4(isl, 0, lanes);
    vstore4(ish, 0, lanes + 4);
#if T_SIZE == 8
    vstore4(hil, 0, his);
    vstore4(hih, 0, his + 4);
#else
    for (int l = 0; l < 8; l++)
        his[l] = SIGN_HI(lanes[l]); /* lanes of narrow data fit 64 bits */
#endif
    for (int l = 0; l < 8; l++)
        isum_add(&a->isum, &a->isum_hi, lanes[l], his[l]);
#endif
#if NEED_MINMAX
    if (bmn_at != NONE)
        settle(a, in, b + bmn_at * 8, b + min(bmn_at + BLOCK, nv) * 8, bmn, 0);
    if (bmx_at != NONE)
        settle(a, in, b + bmx_at * 8, b + min(bmx_at + BLOCK, nv) * 8, bmx, 1);
#endif
#undef SHIFTED
    for (ulong i = b + nv * 8; i < e; i++)
        acc_one(a, in[i], i);
}
#endif

/* Whole-tile statistics: one partial record per work-group.  With
 * CONTIGUOUS, work-item g owns elements [g*seg, (g+1)*seg); otherwise
 * work-items stride through the tile. */
__kernel void stats_flat(__global const T *in, const ulong n, const ulong seg,
                         __global ulong *out, __local part *scratch)
{
    const size_t gid = get_global_id(0);
    const size_t lid = get_local_id(0);
    const size_t lsz = get_local_size(0);
    acc a;
    acc_init(&a);
#if CONTIGUOUS
    ulong b = (ulong)gid * seg;
    ulong e = min(b + seg, n);
    if (b < n)
        acc_segment(&a, in, b, e);
#else
    const ulong stride = get_global_size(0);
    for (ulong i = gid; i < n; i += stride)
        acc_one(&a, in[i], i);
#endif
    scratch[lid] = acc_finish(&a);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = lsz / 2; s > 0; s >>= 1) {
        if (lid < s) {
            part other = scratch[lid + s];
            part mine = scratch[lid];
            part_merge(&mine, &other);
            scratch[lid] = mine;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        part p = scratch[0];
        part_store(out + get_group_id(0) * REC_WORDS, &p);
    }
}

/* Statistics along one axis of a tile viewed as [O][A][I], the axis cut
 * into splits of `sa` steps: work-item (s*O + o)*I + i reduces steps
 * [s*sa, (s+1)*sa) of column (o, i) into record gid; argmin/argmax are
 * indices along A.  Neighbouring work-items read neighbouring elements.
 * Splits give few columns (rows x 16) work-items enough, and keep the
 * lines one work-item touches in cache for its neighbours: PoCL runs a
 * work-item to completion before the next, so without them each of 16
 * columns read the whole tile from memory. */
#if ALL_FIGURES /* per-axis runs compute every figure (lib/ops_stats.c) */
__kernel void stats_axis(__global const T *in, const ulong O, const ulong A,
                         const ulong I, const ulong sa, __global ulong *out)
{
    const ulong gid = get_global_id(0);
    const ulong S = (A + sa - 1) / sa;
    if (gid >= S * O * I)
        return;
    const ulong i = gid % I, o = gid / I % O, sp = gid / I / O;
    __global const T *col = in + o * A * I + i;
    acc a;
    acc_init(&a);
    const ulong k1 = min(A, (sp + 1) * sa);
    for (ulong k = sp * sa; k < k1; k++)
        acc_one(&a, col[k * I], k);
    part p = acc_finish(&a);
    part_store(out + gid * REC_WORDS, &p);
}
#endif

#if ALL_FIGURES && CONTIGUOUS && HAS_FP64 && (T_KIND == 0 || T_SIZE <= 4)
/* Per-axis statistics on CPU devices when the positions after the axis
 * come in groups of eight (I % 8 == 0, e.g. rows x 16 reduced along the
 * rows), for floating data and integers up to 32 bits: eight positions
 * are the lanes of one 8-wide row piece per step (stats_axis8 at the
 * end).  stats_axis spends a scalar, branching acc_one per element; here
 * every figure is a lane, with shifted sums in double and exact integer
 * sums (a split's lanes fit 64 bits), as acc_one keeps them per
 * element. */
typedef long4 MASK4;
#if T_KIND == 0
typedef H XV; /* the values as compared */
#define TO_XV(v) (v)
#elif T_KIND == 1
typedef int4 XV;
typedef long4 ISV;
#define TO_XV(v) convert_int4(v)
#define TO_ISV(v) convert_long4(v)
#else
typedef uint4 XV;
typedef ulong4 ISV;
#define TO_XV(v) convert_uint4(v)
#define TO_ISV(v) convert_ulong4(v)
#endif
#if T_KIND == 0 && T_SIZE == 8
typedef long4 HM; /* comparison masks of XV */
#define WIDEN(m) (m)
#define NARROW(m) (m)
#else
typedef int4 HM;
#define WIDEN(m) convert_long4(m)
#define NARROW(m) convert_int4(m)
#endif
#if T_KIND == 0
#define VALID(x) (~isnan(x))
#else
#define VALID(x) ((HM)(-1))
#endif

typedef struct lanes {
    double K[8], s1[8], s2[8];
    long nan[8], imn[8], imx[8];
    MS mn[8], mx[8];
#if T_KIND != 0
    SUMT isum[8];
#endif
} lanes;

static void lanes_store(__global ulong *out, const lanes *v, ulong steps)
{
    for (int l = 0; l < 8; l++) {
        acc a;
        acc_init(&a);
        a.nan = (ulong)v->nan[l];
        a.n = steps - a.nan;
        a.K = v->K[l];
        a.kset = 1;
        a.s1 = v->s1[l];
        a.s2 = v->s2[l];
        a.mn = (MINT)v->mn[l];
        a.mx = (MINT)v->mx[l];
        a.imn = v->imn[l] < 0 ? NONE : (ulong)v->imn[l];
        a.imx = v->imx[l] < 0 ? NONE : (ulong)v->imx[l];
#if T_KIND != 0
        a.isum = v->isum[l];
        a.isum_hi = SIGN_HI(v->isum[l]);
#endif
        part p = acc_finish(&a);
        part_store(out + l * REC_WORDS, &p);
    }
}

/* The running figures of eight lanes: exact ones (ax8_exact's), and the
 * fast path's best block extrema with the blocks' first steps. */
typedef struct ax8 {
    double4 Kl, Kh;
    double4 s1l, s1h, s2l, s2h;
    MASK4 nanl, nanh, imnl, imnh, imxl, imxh;
    XV mnl, mnh, mxl, mxh;
#if T_KIND != 0
    ISV isl, ish;
#endif
    XV fmnl, fmnh, fmxl, fmxh;
    MASK4 fmnl_at, fmnh_at, fmxl_at, fmxh_at;
} ax8;

/* Steps [k0, k1) exactly, one at a time: NaNs masked out of the sums and
 * counted, the extrema and their first index replaced only on
 * improvement (so ties keep the first step). */
static void ax8_exact(ax8 *v, __global const T *base, const ulong I,
                      const ulong k0, const ulong k1)
{
    for (ulong k = k0; k < k1; k++) {
        __global const T *p = base + k * I;
        const XV xl = TO_XV(vload4(0, p)), xh = TO_XV(vload4(1, p));
        double4 dl = convert_double4(xl) - v->Kl;
        double4 dh = convert_double4(xh) - v->Kh;
#if T_KIND == 0
        const MASK4 nl = isnan(dl), nh = isnan(dh);
        v->nanl -= nl;
        v->nanh -= nh;
        dl = select(dl, (double4)0, nl);
        dh = select(dh, (double4)0, nh);
#else
        v->isl += TO_ISV(xl);
        v->ish += TO_ISV(xh);
#endif
        v->s1l += dl;
        v->s1h += dh;
        v->s2l = fma(dl, dl, v->s2l);
        v->s2h = fma(dh, dh, v->s2h);
        /* the first valid value, or a better one (NaN compares false):
         * masks in the data's width pick values, widened to pick indices */
        const MASK4 kk = (MASK4)(long)k;
        const HM vl = VALID(xl), vh = VALID(xh);
        const HM bl = (xl < v->mnl) | (NARROW(v->imnl < 0) & vl);
        const HM bh = (xh < v->mnh) | (NARROW(v->imnh < 0) & vh);
        const HM tl = (xl > v->mxl) | (NARROW(v->imxl < 0) & vl);
        const HM th = (xh > v->mxh) | (NARROW(v->imxh < 0) & vh);
        v->mnl = select(v->mnl, xl, bl);
        v->mnh = select(v->mnh, xh, bh);
        v->mxl = select(v->mxl, xl, tl);
        v->mxh = select(v->mxh, xh, th);
        v->imnl = select(v->imnl, kk, WIDEN(bl));
        v->imnh = select(v->imnh, kk, WIDEN(bh));
        v->imxl = select(v->imxl, kk, WIDEN(tl));
        v->imxh = select(v->imxh, kk, WIDEN(th));
    }
}

/* Steps per block of the fast path below: the rescans at the end read
 * up to 16 blocks' worth of single values, so blocks are short (256
 * spent 20% of the kernel there). */
#define AXB 64

/* Into lane l's extremum (*cur at step *at; *at < 0: none yet), the first
 * step of [b, e) whose value is m, where m is known to occur there; ties
 * go to the smaller step. */
static void ax8_settle(__global const T *col, const ulong I, const ulong b,
                       const ulong e, const MS m, MS *cur, long *at,
                       const int is_max)
{
    for (ulong k = b; k < e; k++)
        if ((MS)col[k * I] == m) {
            if (*at < 0 || (is_max ? m > *cur : m < *cur) ||
                (m == *cur && (long)k < *at)) {
                *cur = m;
                *at = (long)k;
            }
            return;
        }
}

/* Eight lanes before the first block: each lane's shift is its first
 * finite value of the split (acc_one's choice). */
static void ax8_start(ax8 *a, __global const T *base, const ulong I,
                      const ulong k0, const ulong k1)
{
    double K[8];
    for (int l = 0; l < 8; l++) {
        K[l] = 0;
        for (ulong k = k0; k < k1; k++)
            if (IS_FINITE(base[k * I + l])) {
                K[l] = (double)base[k * I + l];
                break;
            }
    }
    a->Kl = vload4(0, K);
    a->Kh = vload4(1, K);
    a->s1l = a->s1h = a->s2l = a->s2h = 0;
    a->nanl = a->nanh = 0;
    /* the first valid value is taken whatever these hold */
    a->mnl = a->mnh = a->mxl = a->mxh = 0;
    a->imnl = a->imnh = a->imxl = a->imxh = -1;
#if T_KIND != 0
    a->isl = a->ish = 0;
#endif
    a->fmnl = a->fmnh = a->fmxl = a->fmxh = 0;
    a->fmnl_at = a->fmnh_at = a->fmxl_at = a->fmxh_at = -1;
}

/* One block [kb, ke) of eight lanes: the lanes' sums and extrema take no
 * selects; the block's extrema are compared once with the best block's.
 * A block whose sums turn NaN (NaN data, or +inf with -inf) is redone
 * exactly by ax8_exact. */
static void ax8_block(ax8 *a, __global const T *base, const ulong I,
                      const ulong kb, const ulong ke)
{
    const double4 Kl = a->Kl, Kh = a->Kh;
    double4 t1l = 0, t1h = 0, t2l = 0, t2h = 0;
#if T_KIND != 0
    ISV tsl = 0, tsh = 0;
#endif
    XV bl = TO_XV(vload4(0, base + kb * I)), bh = TO_XV(vload4(1, base + kb * I));
    XV cl = bl, ch = bh;
    for (ulong k = kb; k < ke; k++) {
        __global const T *p = base + k * I;
        /* the line a block ahead: the first group's pass reads a new
         * line every step and the next group's none, so the hardware
         * prefetcher, which follows demand, fell behind (rows x 16, 1
         * GiB: 0.55 -> 0.75 of the on-device read) */
        PREFETCH(p + AXB * I);
        const XV xl = TO_XV(vload4(0, p)), xh = TO_XV(vload4(1, p));
        const double4 dl = convert_double4(xl) - Kl;
        const double4 dh = convert_double4(xh) - Kh;
        t1l += dl;
        t1h += dh;
        t2l = fma(dl, dl, t2l);
        t2h = fma(dh, dh, t2h);
        bl = min(bl, xl);
        bh = min(bh, xh);
        cl = max(cl, xl);
        ch = max(ch, xh);
#if T_KIND != 0
        tsl += TO_ISV(xl);
        tsh += TO_ISV(xh);
#endif
    }
#if T_KIND == 0
    if (any(isnan(t1l)) || any(isnan(t1h))) {
        ax8_exact(a, base, I, kb, ke);
        return;
    }
#else
    a->isl += tsl;
    a->ish += tsh;
#endif
    a->s1l += t1l;
    a->s1h += t1h;
    a->s2l += t2l;
    a->s2h += t2h;
    const MASK4 kk = (MASK4)(long)kb;
    const HM nl = (bl < a->fmnl) | NARROW(a->fmnl_at < 0);
    const HM nh = (bh < a->fmnh) | NARROW(a->fmnh_at < 0);
    const HM xl = (cl > a->fmxl) | NARROW(a->fmxl_at < 0);
    const HM xh = (ch > a->fmxh) | NARROW(a->fmxh_at < 0);
    a->fmnl = select(a->fmnl, bl, nl);
    a->fmnh = select(a->fmnh, bh, nh);
    a->fmxl = select(a->fmxl, cl, xl);
    a->fmxh = select(a->fmxh, ch, xh);
    a->fmnl_at = select(a->fmnl_at, kk, WIDEN(nl));
    a->fmnh_at = select(a->fmnh_at, kk, WIDEN(nh));
    a->fmxl_at = select(a->fmxl_at, kk, WIDEN(xl));
    a->fmxh_at = select(a->fmxh_at, kk, WIDEN(xh));
}

/* Eight lanes' records after the last block: the first step holding a
 * lane's best block extremum is found by rescanning that block (as
 * acc_segment does for whole tiles) and settled against the exact
 * blocks' extremum. */
static void ax8_store(const ax8 *a, __global const T *base, const ulong I,
                      const ulong k0, const ulong k1, __global ulong *out)
{
    lanes v;
    vstore4(a->Kl, 0, v.K);
    vstore4(a->Kh, 1, v.K);
    vstore4(a->s1l, 0, v.s1);
    vstore4(a->s1h, 1, v.s1);
    vstore4(a->s2l, 0, v.s2);
    vstore4(a->s2h, 1, v.s2);
    vstore4(a->nanl, 0, v.nan);
    vstore4(a->nanh, 1, v.nan);
    vstore4(a->imnl, 0, v.imn);
    vstore4(a->imnh, 1, v.imn);
    vstore4(a->imxl, 0, v.imx);
    vstore4(a->imxh, 1, v.imx);
    vstore4(a->mnl, 0, v.mn);
    vstore4(a->mnh, 1, v.mn);
    vstore4(a->mxl, 0, v.mx);
    vstore4(a->mxh, 1, v.mx);
#if T_KIND != 0
    vstore4(a->isl, 0, v.isum);
    vstore4(a->ish, 1, v.isum);
#endif
    MS fmn[8], fmx[8];
    long fmn_at[8], fmx_at[8];
    vstore4(a->fmnl, 0, fmn);
    vstore4(a->fmnh, 1, fmn);
    vstore4(a->fmxl, 0, fmx);
    vstore4(a->fmxh, 1, fmx);
    vstore4(a->fmnl_at, 0, fmn_at);
    vstore4(a->fmnh_at, 1, fmn_at);
    vstore4(a->fmxl_at, 0, fmx_at);
    vstore4(a->fmxh_at, 1, fmx_at);
    for (int l = 0; l < 8; l++) {
        if (fmn_at[l] >= 0)
            ax8_settle(base + l, I, (ulong)fmn_at[l],
                       min(k1, (ulong)fmn_at[l] + AXB), fmn[l], &v.mn[l],
                       &v.imn[l], 0);
        if (fmx_at[l] >= 0)
            ax8_settle(base + l, I, (ulong)fmx_at[l],
                       min(k1, (ulong)fmx_at[l] + AXB), fmx[l], &v.mx[l],
                       &v.imx[l], 1);
    }
    lanes_store(out, &v, k1 - k0);
}

/* Groups of eight positions one work-item takes at most (below). */
#define AXGW 8

/* Work-item (s*O + o)*(I/8/GW) + g reduces steps [s*sa, (s+1)*sa) of the
 * GW groups of eight positions g*GW..(g+1)*GW-1 of o, block by block and
 * group by group within a block, into records (s*O + o)*I + position --
 * the records stats_axis writes.  A work-item takes a whole row where it
 * can (rows x 16: GW = 2), so a block's lines, read by its first group,
 * are in L1 for the next; with one group per work-item, neighbouring
 * work-items shared every line through L2.  (Sixteen lanes in one step
 * measured no faster: their sums do not fit AVX2's registers.) */
__kernel void stats_axis8(__global const T *in, const ulong O, const ulong A,
                          const ulong I, const ulong sa,
                          __global ulong *out, const ulong GW)
{
    const ulong G = I / 8 / GW;
    const ulong gid = get_global_id(0);
    const ulong S = (A + sa - 1) / sa;
    if (gid >= S * O * G || GW > AXGW)
        return;
    const ulong g = gid % G, o = gid / G % O, sp = gid / G / O;
    __global const T *base = in + o * A * I + g * GW * 8;
    const ulong k0 = sp * sa, k1 = min(A, k0 + sa);
    ax8 a[AXGW];
    for (ulong h = 0; h < GW; h++)
        ax8_start(&a[h], base + h * 8, I, k0, k1);
    for (ulong kb = k0; kb < k1; kb += AXB) {
        const ulong ke = min(k1, kb + AXB);
        for (ulong h = 0; h < GW; h++)
            ax8_block(&a[h], base + h * 8, I, kb, ke);
    }
    for (ulong h = 0; h < GW; h++)
        ax8_store(&a[h], base + h * 8, I, k0, k1,
                  out + ((sp * O + o) * I + (g * GW + h) * 8) * REC_WORDS);
}
#endif
