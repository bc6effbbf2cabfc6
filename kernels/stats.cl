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
 *
 * Every work-group writes one partial record of REC_WORDS 64-bit words
 * (layout shared with lib/ops_stats.c):
 *   0 count  1 nan_count  2 argmin  3 argmax  4 overflow  5 sum  6 sum_comp
 *   7 mean  8 m2  9 min  10 max  11 unused
 * Floating fields are the bits of a double (HAS_FP64) or of a float in the
 * low 32 bits; integer sums and extrema are the bits of a long or ulong.
 */
#if HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double ACC;
#define ACC_BITS(x) as_ulong(x)
#else
typedef float ACC;
#define ACC_BITS(x) ((ulong)as_uint(x))
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define TV CAT(T, 8)

#define NONE ((ulong)0xffffffffffffffffUL)
#define REC_WORDS 12

#if T_KIND == 0
typedef ACC MINT; /* extrema held exactly: float -> double is exact    */
#define IS_NAN(x) isnan(x)
#elif T_KIND == 1
typedef long MINT;
typedef long SUMT;
#define IS_NAN(x) 0
#else
typedef ulong MINT;
typedef ulong SUMT;
#define IS_NAN(x) 0
#endif

/* Extrema and index vectors of the contiguous path: narrow integers are
 * widened to 32 bits so that lane indices (int) fit beside them. */
#if T_SIZE == 8
typedef TV MV;
typedef T MS;
typedef long8 IV;
typedef long IS;
#define TO_MV(v) (v)
#define TO_IV(v) convert_long8(v)
#elif T_KIND == 0
typedef float8 MV;
typedef float MS;
typedef int8 IV;
typedef int IS;
#define TO_MV(v) (v)
#elif T_KIND == 1
typedef int8 MV;
typedef int MS;
typedef int8 IV;
typedef int IS;
#define TO_MV(v) convert_int8(v)
#else
typedef uint8 MV;
typedef uint MS;
typedef int8 IV;
typedef int IS;
#define TO_MV(v) convert_uint8(v)
#endif
#if T_SIZE != 8
#define TO_IV(v) convert_int8(v)
#endif

/* A finished partial: what work-groups merge and write. */
typedef struct part {
    ulong n, nan, imn, imx;
    ACC mean, m2, fsum, fsumc;
    MINT mn, mx;
#if T_KIND != 0
    SUMT isum;
#endif
    int ovf;
} part;

/* Running accumulators of one work-item: sums of x - K for a shift K. */
typedef struct acc {
    ulong n, nan, imn, imx;
    ACC K, s1, s2, c1, c2;
    MINT mn, mx;
#if T_KIND != 0
    SUMT isum;
#endif
    int ovf;
} acc;

static void acc_init(acc *a)
{
    a->n = a->nan = 0;
    a->imn = a->imx = NONE;
    a->K = a->s1 = a->s2 = a->c1 = a->c2 = 0;
    a->mn = a->mx = 0;
#if T_KIND != 0
    a->isum = 0;
#endif
    a->ovf = 0;
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
/* Exact 64-bit sum with overflow detection. */
static void isum_add(SUMT *s, int *ovf, SUMT x)
{
    SUMT r = *s + x;
#if T_KIND == 1
    *ovf |= ((*s ^ r) & (x ^ r)) < 0;
#else
    *ovf |= r < *s;
#endif
    *s = r;
}
#endif

static void acc_one(acc *a, T x, ulong idx)
{
    if (IS_NAN(x)) {
        a->nan++;
        return;
    }
    MINT m = (MINT)x;
    if (a->n == 0)
        a->K = (ACC)x;
    a->n++;
    ACC d = (ACC)x - a->K;
    acc_add(&a->s1, &a->c1, d);
    acc_add(&a->s2, &a->c2, d * d);
#if T_KIND != 0
    isum_add(&a->isum, &a->ovf, (SUMT)x);
#endif
    if (a->imn == NONE || m < a->mn) {
        a->mn = m;
        a->imn = idx;
    }
    if (a->imx == NONE || m > a->mx) {
        a->mx = m;
        a->imx = idx;
    }
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
    p.ovf = a->ovf;
#if T_KIND != 0
    p.isum = a->isum;
#endif
    if (a->n) {
        ACC n = (ACC)a->n;
        ACC s1 = a->s1 - a->c1;
        p.mean = a->K + s1 / n;
        p.m2 = fmax((a->s2 - a->c2) - s1 * s1 / n, (ACC)0);
        p.fsum = n * a->K;
        p.fsumc = s1;
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
    a->ovf |= b->ovf;
#if T_KIND != 0
    isum_add(&a->isum, &a->ovf, b->isum);
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
    if (fabs(a->fsum) >= fabs(b->fsum))
        a->fsumc += (a->fsum - t) + b->fsum;
    else
        a->fsumc += (b->fsum - t) + a->fsum;
    a->fsumc += b->fsumc;
    a->fsum = t;
}

static void part_store(__global ulong *out, const part *p)
{
    out[0] = p->n;
    out[1] = p->nan;
    out[2] = p->imn;
    out[3] = p->imx;
    out[4] = (ulong)p->ovf;
#if T_KIND == 0
    out[5] = ACC_BITS(p->fsum);
    out[6] = ACC_BITS(p->fsumc);
    out[9] = ACC_BITS(p->mn);
    out[10] = ACC_BITS(p->mx);
#else
    out[5] = (ulong)p->isum;
    out[6] = 0;
    out[9] = (ulong)p->mn;
    out[10] = (ulong)p->mx;
#endif
    out[7] = ACC_BITS(p->mean);
    out[8] = ACC_BITS(p->m2);
    out[11] = 0;
}

#if CONTIGUOUS
/* Elements [b, e) with 8-wide loads; lanes share the shift K so their
 * shifted sums simply add. */
static void acc_segment(acc *a, __global const T *in, ulong b, ulong e)
{
    ulong nv = (e - b) / 8;
    if (nv >= 2) {
        TV x0 = vload8(0, in + b);
        T k0 = x0.s0;
        if (IS_NAN(k0))
            k0 = 0;
        ACC K = (ACC)k0;
        TV kv = (TV)k0;
        MV mn = TO_MV(x0), mx = mn;
        IV imn = (IV)0, imx = (IV)0, nan = (IV)0;
#if HAS_FP64
        double8 s1 = 0, s2 = 0;
#else
        float8 s1 = 0, s2 = 0, c1 = 0, c2 = 0;
#endif
#if T_KIND != 0
        SUMT is = 0;
        int ovf = 0;
#endif
        for (ulong v = 0; v < nv; v++) {
            TV x = vload8(v, in + b);
#if T_KIND == 0
            IV isn = TO_IV(isnan(x));
            nan -= isn;
            x = select(x, kv, isn);
            MV mx8 = x;
            IV lt = TO_IV(mx8 < mn) | (TO_IV(isnan(mn)) & ~isn);
            IV gt = TO_IV(mx8 > mx) | (TO_IV(isnan(mx)) & ~isn);
            /* replaced NaNs must not become extrema */
            lt &= ~isn;
            gt &= ~isn;
#else
            MV mx8 = TO_MV(x);
            IV lt = TO_IV(mx8 < mn);
            IV gt = TO_IV(mx8 > mx);
#endif
            mn = select(mn, mx8, lt);
            imn = select(imn, (IV)(v), lt);
            mx = select(mx, mx8, gt);
            imx = select(imx, (IV)(v), gt);
#if HAS_FP64
            double8 d = convert_double8(x) - K;
            s1 += d;
            s2 += d * d;
#else
            float8 d = convert_float8(x) - K;
            float8 y = d - c1, t = s1 + y;
            c1 = (t - s1) - y;
            s1 = t;
            y = d * d - c2;
            t = s2 + y;
            c2 = (t - s2) - y;
            s2 = t;
#endif
#if T_KIND != 0
#if T_KIND == 1
            long xs[8];
            vstore8(convert_long8(x), 0, xs);
#else
            ulong xs[8];
            vstore8(convert_ulong8(x), 0, xs);
#endif
#if T_SIZE == 8
            /* per-element overflow checks only where overflow can happen */
            for (int l = 0; l < 8; l++)
                isum_add(&is, &ovf, xs[l]);
#else
            is += xs[0] + xs[1] + xs[2] + xs[3] + xs[4] + xs[5] + xs[6] + xs[7];
#endif
#endif
        }
        /* fold the lanes: lane l of vector v is element b + 8v + l */
        ACC s1a[8], s2a[8];
#if HAS_FP64
        vstore8(s1, 0, s1a);
        vstore8(s2, 0, s2a);
#else
        vstore8(s1 - c1, 0, s1a);
        vstore8(s2 - c2, 0, s2a);
#endif
        MS mna[8], mxa[8];
        IS imna[8], imxa[8], nana[8];
        vstore8(mn, 0, mna);
        vstore8(mx, 0, mxa);
        vstore8(imn, 0, imna);
        vstore8(imx, 0, imxa);
        vstore8(nan, 0, nana);
        ACC S1 = 0, S2 = 0;
        ulong nanc = 0;
        for (int l = 0; l < 8; l++) {
            S1 += s1a[l];
            S2 += s2a[l];
            nanc += (ulong)nana[l];
            MINT lv = (MINT)mna[l], rv = (MINT)mxa[l];
            ulong gi = b + (ulong)imna[l] * 8 + l;
            ulong gr = b + (ulong)imxa[l] * 8 + l;
            if (!IS_NAN(lv) &&
                (a->imn == NONE || lv < a->mn || (lv == a->mn && gi < a->imn))) {
                a->mn = lv;
                a->imn = gi;
            }
            if (!IS_NAN(rv) &&
                (a->imx == NONE || rv > a->mx || (rv == a->mx && gr < a->imx))) {
                a->mx = rv;
                a->imx = gr;
            }
        }
        ulong nn = nv * 8 - nanc;
        a->n = nn;
        a->nan = nanc;
        a->K = K;
        a->s1 = S1;
        a->s2 = S2;
#if T_KIND != 0
        a->isum = is;
        a->ovf = ovf;
#endif
        b += nv * 8;
    }
    /* the tail, or a segment too short for vectors */
    if (a->n == 0 && a->nan == 0) {
        for (ulong i = b; i < e; i++)
            acc_one(a, in[i], i);
    } else {
        /* keep the shift of the vector part */
        for (ulong i = b; i < e; i++) {
            T x = in[i];
            if (IS_NAN(x)) {
                a->nan++;
                continue;
            }
            MINT m = (MINT)x;
            ACC d = (ACC)x - a->K;
            a->n++;
            acc_add(&a->s1, &a->c1, d);
            acc_add(&a->s2, &a->c2, d * d);
#if T_KIND != 0
            isum_add(&a->isum, &a->ovf, (SUMT)x);
#endif
            if (a->imn == NONE || m < a->mn) {
                a->mn = m;
                a->imn = i;
            }
            if (a->imx == NONE || m > a->mx) {
                a->mx = m;
                a->imx = i;
            }
        }
    }
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

/* Statistics along one axis of a tile viewed as [O][A][I]: work-item
 * o*I + i reduces the A elements of its column; argmin/argmax are indices
 * along A.  Neighbouring work-items read neighbouring elements. */
__kernel void stats_axis(__global const T *in, const ulong O, const ulong A,
                         const ulong I, __global ulong *out)
{
    const ulong gid = get_global_id(0);
    if (gid >= O * I)
        return;
    const ulong o = gid / I, i = gid % I;
    __global const T *col = in + o * A * I + i;
    acc a;
    acc_init(&a);
    for (ulong k = 0; k < A; k++)
        acc_one(&a, col[k * I], k);
    part p = acc_finish(&a);
    part_store(out + gid * REC_WORDS, &p);
}
