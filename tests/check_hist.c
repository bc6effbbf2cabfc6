/*
 * Histograms and quantiles against host references.  Histograms: numpy's
 * bin rule reimplemented here in double (edges as numpy.linspace makes
 * them, the index estimate, its one-step correction) for every dtype,
 * ranks 1 to 3, contiguous and chunked files, values on and beside every
 * edge, NaN and out-of-range counts, all values in one bin, tiny tiles,
 * selections, per-axis histograms, option errors, merging and the byte
 * form.  Quantiles: numpy's linear method over a sort of the numbers, with
 * ties, signed zeros, NaNs, infinities, one element, none, and the number
 * of passes.  make check runs the suite a second time with the GPU kernel
 * pattern (local and global atomics) and without zero-copy.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

/* Writes a as /data of a fresh file (w NULL: contiguous) and opens it. */
static h5cl_dataset *write_open(tu_array *a, const tu_write_opts *w)
{
    static int gen;
    char file[32];
    tu_write_opts plain;
    if (!w) {
        tu_write_opts_init(&plain);
        w = &plain;
    }
    snprintf(file, sizeof file, "h%d.h5", gen++);
    tu_write(tu_path(file), "/data", a, w);
    return tu_open(tu_ctx, tu_path(file), "/data");
}

static tu_write_opts chunked(int rank, const uint64_t *chunk)
{
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    for (int d = 0; d < rank; d++)
        w.chunk[d] = chunk[d];
    return w;
}

/* ---- the selection, visited in C order ------------------------------- */

/* Calls fn for every element of the selection with its index in a and
 * its output position (C order over the dims other than axis; 0 when
 * axis < 0). */
typedef void (*visit_fn)(const tu_array *a, uint64_t e, uint64_t pos,
                         void *user);

static void visit(const tu_array *a, const tu_sel *s, int axis, visit_fn fn,
                  void *user)
{
    uint64_t c[H5CL_MAX_RANK] = {0}, total = 1;
    for (int d = 0; d < s->rank; d++)
        total *= s->count[d];
    for (uint64_t k = 0; k < total; k++) {
        uint64_t e = 0, pos = 0;
        for (int d = 0; d < s->rank; d++) {
            e = e * a->dims[d] + s->start[d] + c[d];
            if (axis >= 0 && d != axis)
                pos = pos * s->count[d] + c[d];
        }
        fn(a, e, pos, user);
        for (int d = s->rank - 1; d >= 0 && ++c[d] == s->count[d]; d--)
            c[d] = 0;
    }
}

static uint64_t positions(const tu_sel *s, int axis)
{
    uint64_t n = 1;
    for (int d = 0; axis >= 0 && d < s->rank; d++)
        if (d != axis)
            n *= s->count[d];
    return n;
}

/* ---- numpy.histogram, reimplemented ---------------------------------- */

typedef struct rbins {
    uint32_t bins;
    double lo, hi;
    double norm; /* numpy's divisor: hi - lo, or max - min of integers */
} rbins;

static double ref_edge(const rbins *b, uint32_t i)
{
    return i == b->bins ? b->hi : (double)i * ((b->hi - b->lo) / b->bins) + b->lo;
}

/* The counter of x: a bin, then bins (NaN), bins + 1 (below), bins + 2
 * (above). */
static uint32_t ref_bin(const rbins *b, double x)
{
    if (isnan(x))
        return b->bins;
    if (x < b->lo)
        return b->bins + 1;
    if (x > b->hi)
        return b->bins + 2;
    uint32_t i = (uint32_t)(((x - b->lo) / b->norm) * b->bins);
    if (i == b->bins)
        i--;
    if (x < ref_edge(b, i))
        i--;
    else if (i != b->bins - 1 && x >= ref_edge(b, i + 1))
        i++;
    return i;
}

typedef struct href {
    const rbins *b;
    uint64_t *counts; /* positions x (bins + 3) */
} href;

static void count_one(const tu_array *a, uint64_t e, uint64_t pos, void *user)
{
    href *h = user;
    h->counts[pos * (h->b->bins + 3) + ref_bin(h->b, tu_get_f(a, e))]++;
}

/* Extremes of the numbers: as doubles, and exactly for integers. */
typedef struct extremes {
    uint64_t n;
    double min, max;
    int64_t imin, imax;
    uint64_t umin, umax;
} extremes;

static void extreme_one(const tu_array *a, uint64_t e, uint64_t pos, void *user)
{
    extremes *x = user;
    double v = tu_get_f(a, e);
    if (isnan(v))
        return;
    /* integer extremes of integer data only: converting a float outside
     * the integers' range is undefined (UBSan in make asan-test) */
    const int integral = !tu_dtype_is_float(a->dtype);
    int64_t i = integral ? tu_get_i(a, e) : 0;
    uint64_t u = integral ? tu_get_u(a, e) : 0;
    if (x->n == 0 || v < x->min)
        x->min = v;
    if (x->n == 0 || v > x->max)
        x->max = v;
    if (x->n == 0 || i < x->imin)
        x->imin = i;
    if (x->n == 0 || i > x->imax)
        x->imax = i;
    if (x->n == 0 || u < x->umin)
        x->umin = u;
    if (x->n == 0 || u > x->umax)
        x->umax = u;
    x->n++;
}

/* numpy's range from the data of the selection. */
static rbins ref_range(const tu_array *a, const tu_sel *s, uint32_t bins)
{
    extremes x;
    memset(&x, 0, sizeof x);
    visit(a, s, -1, extreme_one, &x);
    rbins b = {bins, 0, 1, 1};
    if (x.n == 0)
        return b;
    b.lo = x.min == x.max ? x.min - 0.5 : x.min;
    b.hi = x.min == x.max ? x.max + 0.5 : x.max;
    b.norm = b.hi - b.lo;
    if (x.min != x.max && !tu_dtype_is_float(a->dtype))
        b.norm = tu_dtype_is_signed(a->dtype)
                     ? (double)((uint64_t)x.imax - (uint64_t)x.imin)
                     : (double)(x.umax - x.umin);
    return b;
}

static void free_hist(void *p)
{
    h5cl_hist_free(p);
}

/* Asserts a result against reference counts of npos histograms. */
static void check_counts(const h5cl_hist *h, const rbins *b, int from_data,
                         const uint64_t *want, uint64_t npos, const char *what)
{
    double lo, hi;
    int fd;
    h5cl_hist_range(h, &lo, &hi, &fd);
    ck_assert_msg(h5cl_hist_bins(h) == b->bins, "%s: bins %u, want %u", what,
                  h5cl_hist_bins(h), b->bins);
    ck_assert_msg(lo == b->lo && hi == b->hi && fd == from_data,
                  "%s: range [%.17g, %.17g] from data %d, want [%.17g, %.17g] %d",
                  what, lo, hi, fd, b->lo, b->hi, from_data);
    ck_assert_msg(h5cl_hist_count(h) == npos, "%s: %zu histograms, want %llu", what,
                  h5cl_hist_count(h), (unsigned long long)npos);
    for (uint64_t p = 0; p < npos; p++) {
        const uint64_t *got = h5cl_hist_counts(h, p), *w = want + p * (b->bins + 3);
        uint64_t out[3];
        ck_assert_int_eq(h5cl_hist_outside(h, p, &out[0], &out[1], &out[2]), H5CL_OK);
        for (uint32_t c = 0; c < b->bins + 3; c++) {
            uint64_t g = c < b->bins ? got[c] : out[c - b->bins];
            ck_assert_msg(g == w[c], "%s: histogram %llu counter %u is %llu, want %llu",
                          what, (unsigned long long)p, c, (unsigned long long)g,
                          (unsigned long long)w[c]);
        }
    }
}

/* A histogram run: options, and the selection the reference reads. */
typedef struct hcase {
    h5cl_run_options o;
    h5cl_hist_options ho;
    const tu_sel *sel; /* NULL: everything */
} hcase;

static void hcase_init(hcase *c, uint32_t bins, uint64_t tile_bytes)
{
    h5cl_run_options_init(&c->o);
    h5cl_hist_options_init(&c->ho);
    c->o.tile_bytes = tile_bytes;
    c->ho.bins = bins;
    c->sel = NULL;
}

static void hcase_range(hcase *c, double lo, double hi)
{
    c->ho.range_set = 1;
    c->ho.lo = lo;
    c->ho.hi = hi;
}

static h5cl_hist *compute(h5cl_dataset *ds, const hcase *c, const char *what)
{
    h5cl_hist *h = NULL;
    int rc = h5cl_hist_compute(ds, &c->o, &c->ho, &h);
    ck_assert_msg(rc == H5CL_OK && h, "%s: %s: %s", what, h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    tu_defer(free_hist, h);
    return h;
}

/* Computes and checks against the reference; returns the result. */
static h5cl_hist *check_case(h5cl_dataset *ds, const tu_array *a, const hcase *c,
                             const char *what)
{
    tu_sel all;
    const tu_sel *s = c->sel;
    if (!s) {
        tu_sel_all(&all, a);
        s = &all;
    }
    uint32_t bins = c->ho.bins ? c->ho.bins : 256;
    rbins b = {bins, c->ho.lo, c->ho.hi, c->ho.hi - c->ho.lo};
    if (!c->ho.range_set)
        b = ref_range(a, s, bins);
    uint64_t npos = positions(s, c->o.axis);
    href r = {&b, tu_alloc((size_t)(npos * (bins + 3)) * sizeof(uint64_t) + 1)};
    visit(a, s, c->o.axis, count_one, &r);
    h5cl_hist *h = compute(ds, c, what);
    check_counts(h, &b, !c->ho.range_set, r.counts, npos, what);
    uint64_t dims[H5CL_MAX_RANK];
    int rank = h5cl_hist_shape(h, dims), want_rank = 0;
    for (int d = 0; c->o.axis >= 0 && d < s->rank; d++)
        if (d != c->o.axis) {
            ck_assert_msg(want_rank < rank && dims[want_rank] == s->count[d],
                          "%s: shape differs at dim %d", what, want_rank);
            want_rank++;
        }
    ck_assert_msg(rank == want_rank, "%s: rank %d, want %d", what, rank, want_rank);
    return h;
}

static void fill(tu_array *a, h5cl_dtype dt, int rank, const uint64_t *dims,
                 uint64_t seed, double nan_fraction)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, dt, rank, dims);
    tu_fill_random(a, &r, nan_fraction);
}

/* A given range inside the data's, so that both outside counters fill. */
static void inner_range(hcase *c, const tu_array *a)
{
    tu_sel all;
    tu_sel_all(&all, a);
    rbins b = ref_range(a, &all, 1);
    hcase_range(c, b.lo + (b.hi - b.lo) * 0.2, b.lo + (b.hi - b.lo) * 0.7);
}

/* ---- dtypes, ranks, layouts ------------------------------------------- */

START_TEST(test_dtypes)
{
    const h5cl_dtype dt = (h5cl_dtype)(_i % H5CL_DTYPE_COUNT);
    uint64_t n = 20011, chunk = 1000;
    tu_array a;
    tu_write_opts w;
    hcase c;
    char what[128];
    fill(&a, dt, 1, &n, 100 + (uint64_t)_i, 0.03);
    w = chunked(1, &chunk);
    h5cl_dataset *ds = write_open(&a, _i < H5CL_DTYPE_COUNT ? NULL : &w);
    snprintf(what, sizeof what, "%s %s", h5cl_dtype_name(dt),
             _i < H5CL_DTYPE_COUNT ? "contiguous" : "chunked");

    hcase_init(&c, 0, 4096); /* 256 bins over the data */
    c.o.slots = 3;
    check_case(ds, &a, &c, what);
    hcase_init(&c, 37, 3000);
    inner_range(&c, &a);
    check_case(ds, &a, &c, what);
    hcase_init(&c, 1, 0);
    check_case(ds, &a, &c, what);
}
END_TEST

START_TEST(test_ranks_layouts)
{
    static const struct {
        int rank;
        uint64_t dims[3], chunk[3];
        h5cl_dtype dt;
    } shapes[3] = {
        {1, {4099}, {500}, H5CL_FLOAT32},
        {2, {61, 67}, {8, 16}, H5CL_INT16},
        {3, {13, 17, 19}, {4, 5, 6}, H5CL_UINT32},
    };
    const int k = _i / 2;
    tu_array a;
    tu_write_opts w;
    hcase c;
    char what[64];
    fill(&a, shapes[k].dt, shapes[k].rank, shapes[k].dims, 200 + (uint64_t)_i, 0.05);
    w = chunked(shapes[k].rank, shapes[k].chunk);
    h5cl_dataset *ds = write_open(&a, _i % 2 ? &w : NULL);
    snprintf(what, sizeof what, "rank %d %s", shapes[k].rank, _i % 2 ? "chunked" : "contiguous");
    hcase_init(&c, 50, 3000);
    check_case(ds, &a, &c, what);
    hcase_init(&c, 11, 0);
    inner_range(&c, &a);
    check_case(ds, &a, &c, what);
}
END_TEST

/* ---- edges -------------------------------------------------------------- */

/* Every edge, its neighbouring doubles, both ends and what lies beyond. */
static void edge_values(tu_array *a, const rbins *b, h5cl_dtype dt)
{
    uint64_t n = 3 * ((uint64_t)b->bins + 1) + 8;
    tu_array_init(a, dt, 1, &n);
    uint64_t k = 0;
    for (uint32_t i = 0; i <= b->bins; i++) {
        double e = ref_edge(b, i);
        tu_set_f(a, k++, e);
        tu_set_f(a, k++, nextafter(e, -INFINITY));
        tu_set_f(a, k++, nextafter(e, INFINITY));
    }
    const double extra[8] = {b->lo, b->hi, NAN, INFINITY, -INFINITY, -0.0, 0.0,
                             (b->lo + b->hi) / 2};
    for (int j = 0; j < 8; j++)
        tu_set_f(a, k++, extra[j]);
}

/* The reference itself: each value lies in its bin's half-open span (the
 * last one closed), which holds whenever the edges increase. */
static void check_ref_spans(const tu_array *a, const rbins *b)
{
    for (uint64_t i = 0; i < a->n; i++) {
        double x = tu_get_f(a, i);
        uint32_t c = ref_bin(b, x);
        if (c >= b->bins)
            continue;
        ck_assert_msg(ref_edge(b, c) <= x &&
                          (x < ref_edge(b, c + 1) || (c == b->bins - 1 && x == b->hi)),
                      "reference: %.17g is not in bin %u", x, c);
    }
}

START_TEST(test_edges_float)
{
    static const rbins cases[] = {
        {7, -1.3, 2.7, 4.0},    {3, 0.1, 0.7, 0.7 - 0.1}, {10, 0, 1, 1},
        {1000, -1e307, 1e307, 2e307}, {5, 1e16, 1e16 + 64, 64}, {97, -3e-310, 5e-310, 8e-310},
    };
    const h5cl_dtype dt = _i ? H5CL_FLOAT32 : H5CL_FLOAT64;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rbins b = cases[k];
        tu_array a;
        hcase c;
        char what[96];
        if (dt == H5CL_FLOAT32 && (fabs(b.lo) > 1e38 || fabs(b.hi - b.lo) < 1e-30 ||
                                   b.hi - b.lo < fabs(b.lo) * 1e-6))
            continue; /* no float32 values between the edges */
        b.norm = b.hi - b.lo;
        edge_values(&a, &b, dt);
        check_ref_spans(&a, &b);
        h5cl_dataset *ds = write_open(&a, NULL);
        snprintf(what, sizeof what, "%s edges of %u bins over [%g, %g]",
                 h5cl_dtype_name(dt), b.bins, b.lo, b.hi);
        hcase_init(&c, b.bins, 0);
        hcase_range(&c, b.lo, b.hi);
        check_case(ds, &a, &c, what);
        hcase_init(&c, b.bins, 256); /* from the data, less the infinities */
        c.o.select = "0:-6";
        tu_sel s;
        tu_sel_all(&s, &a);
        tu_sel_axis(&s, 0, a.dims[0], 1, 0, 1, -6);
        c.sel = &s;
        check_case(ds, &a, &c, what);
    }
}
END_TEST

/* Edge values and their neighbours that lie in [lo, hi] only, at each
 * offset from an aligned start: every group of eight then takes the
 * contiguous kernel's vector branch (kernels/hist.cl, hist_segment) with
 * the edge correction going down, up and not at all. */
START_TEST(test_edges_in_range)
{
    static const rbins cases[] = {
        {7, -1.3, 2.7, 4.0},   {3, 0.1, 0.7, 0.7 - 0.1},      {10, 0, 1, 1},
        {256, 5.61071998, 24.2718856, 24.2718856 - 5.61071998},
        {1000, -1e307, 1e307, 2e307}, {5, 1e16, 1e16 + 64, 64},
    };
    const h5cl_dtype dt = _i ? H5CL_FLOAT32 : H5CL_FLOAT64;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rbins b = cases[k];
        if (dt == H5CL_FLOAT32 && (fabs(b.lo) > 1e38 || b.hi - b.lo < fabs(b.lo) * 1e-6))
            continue; /* no float32 values between the edges */
        b.norm = b.hi - b.lo;
        tu_array probe;
        edge_values(&probe, &b, dt);
        uint64_t m = 0;
        for (uint64_t i = 0; i < probe.n; i++) {
            double x = tu_get_f(&probe, i);
            m += x >= b.lo && x <= b.hi;
        }
        for (uint64_t off = 0; off < 8; off++) {
            uint64_t n = m * 8 + off;
            tu_array a;
            tu_array_init(&a, dt, 1, &n);
            for (uint64_t i = 0, j = 0; i < n; j++) {
                double x = tu_get_f(&probe, j % probe.n);
                if (x >= b.lo && x <= b.hi)
                    tu_set_f(&a, i++, x);
            }
            h5cl_dataset *ds = write_open(&a, NULL);
            hcase c;
            char what[96];
            snprintf(what, sizeof what, "%s in-range edges of %u bins, %llu values",
                     h5cl_dtype_name(dt), b.bins, (unsigned long long)n);
            hcase_init(&c, b.bins, 0);
            hcase_range(&c, b.lo, b.hi);
            check_case(ds, &a, &c, what);
        }
    }
}
END_TEST

START_TEST(test_edges_int)
{
    const h5cl_dtype dt = (h5cl_dtype)_i;
    const int sgn = tu_dtype_is_signed(dt);
    uint64_t n = 17;
    tu_array a;
    hcase c;
    char what[64];
    tu_array_init(&a, dt, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_i(&a, i, sgn ? (int64_t)i - 3 : (int64_t)i);
    h5cl_dataset *ds = write_open(&a, NULL);
    static const uint32_t bins[] = {10, 3, 7, 20};
    for (size_t k = 0; k < 4; k++) {
        snprintf(what, sizeof what, "%s ints, %u bins", h5cl_dtype_name(dt), bins[k]);
        hcase_init(&c, bins[k], 0);
        hcase_range(&c, 0, 10);
        check_case(ds, &a, &c, what);
        hcase_init(&c, bins[k], 0);
        check_case(ds, &a, &c, what);
    }
}
END_TEST

/* numpy divides by the exact max - min of integers: int64 ranges wider
 * than 2^53 tell that apart from the difference of the rounded ends. */
START_TEST(test_int64_wide_range)
{
    const h5cl_dtype dt = _i ? H5CL_UINT64 : H5CL_INT64;
    uint64_t n = 30011;
    tu_array a;
    tu_rng r;
    hcase c;
    tu_rng_seed(&r, 300);
    tu_array_init(&a, dt, 1, &n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = tu_rng_u64(&r) >> 1;
        if (dt == H5CL_INT64)
            tu_set_i(&a, i, (int64_t)u - (INT64_C(1) << 62));
        else
            tu_set_u(&a, i, u + (UINT64_C(1) << 62));
    }
    if (dt == H5CL_INT64) {
        tu_set_i(&a, 5, -(INT64_C(1) << 62));
        tu_set_i(&a, 6, (INT64_C(1) << 62) + 1);
    }
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 97, 0);
    check_case(ds, &a, &c, "wide int64 range");
    hcase_init(&c, 1 << 20, 0);
    check_case(ds, &a, &c, "wide int64 range, 2^20 bins");
}
END_TEST

/* Counts written out by hand, independent of the reference. */
START_TEST(test_nan_outside)
{
    static const double v[] = {NAN, -INFINITY, 0.5, INFINITY, NAN, -5, 5, INFINITY,
                                1.0, 0.0, -INFINITY, INFINITY, NAN, 0.25, INFINITY, 1e-300};
    uint64_t n = sizeof v / sizeof v[0];
    tu_array a;
    hcase c;
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_f(&a, i, v[i]);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 4, 0);
    hcase_range(&c, 0, 1);
    const h5cl_hist *h = compute(ds, &c, "by hand");
    static const uint64_t want[4] = {2, 1, 1, 1}; /* 0 1e-300 | .25 | .5 | 1 */
    uint64_t nan, under, over;
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(h5cl_hist_counts(h, 0)[i], want[i]);
    ck_assert_int_eq(h5cl_hist_outside(h, 0, &nan, &under, &over), H5CL_OK);
    ck_assert_uint_eq(nan, 3);
    ck_assert_uint_eq(under, 3);
    ck_assert_uint_eq(over, 5);

    /* numpy refuses an infinite range found in the data */
    h5cl_hist *bad = NULL;
    hcase_init(&c, 4, 0);
    ck_assert_int_eq(h5cl_hist_compute(ds, &c.o, &c.ho, &bad), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bad);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "not finite"), "%s",
                  h5cl_ctx_errmsg(tu_ctx));
}
END_TEST

/* ---- contention, tiles, selections ------------------------------------- */

/* Every value in one bin of a large tile: local atomics on one counter,
 * and global ones when the bins do not fit local memory. */
START_TEST(test_one_bin)
{
    static const uint32_t bins[] = {256, 200000, 256};
    const int dbl = _i == 2;
    uint64_t n = dbl ? (1 << 20) : (4 << 20);
    tu_array a;
    hcase c;
    char what[64];
    tu_array_init(&a, dbl ? H5CL_FLOAT64 : H5CL_UINT8, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_f(&a, i, dbl ? 3.25 : 200);
    h5cl_dataset *ds = write_open(&a, NULL);
    snprintf(what, sizeof what, "one bin of %u", bins[_i]);
    hcase_init(&c, bins[_i], 16 << 20);
    if (!dbl)
        hcase_range(&c, 0, 256);
    const h5cl_hist *h = check_case(ds, &a, &c, what);
    const uint64_t *cnt = h5cl_hist_counts(h, 0);
    uint64_t most = 0;
    for (uint32_t b = 0; b < bins[_i]; b++)
        most = cnt[b] > most ? cnt[b] : most;
    ck_assert_msg(most == n, "%s: the fullest bin holds %llu of %llu", what,
                  (unsigned long long)most, (unsigned long long)n);
    ck_assert_uint_eq(h5cl_hist_summary(h)->tiles, dbl ? 2 : 1); /* + min/max pass */
}
END_TEST

START_TEST(test_tiny_tiles)
{
    uint64_t n = 5003;
    tu_array a;
    hcase c;
    fill(&a, H5CL_FLOAT32, 1, &n, 400, 0.1);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 64, 64);
    c.o.slots = 2;
    const h5cl_hist *h = check_case(ds, &a, &c, "16 elements per tile");
    ck_assert_uint_eq(h5cl_hist_summary(h)->tiles, 2 * ((n + 15) / 16)); /* two passes */
    hcase_init(&c, 9, 100);
    c.o.slots = 5;
    inner_range(&c, &a);
    h = check_case(ds, &a, &c, "25 elements per tile");
    ck_assert_uint_eq(h5cl_hist_summary(h)->tiles, (n + 24) / 25);
}
END_TEST

START_TEST(test_selections)
{
    static const struct {
        const char *text;
        int64_t start[3];
        uint64_t count[3];
    } cases[] = {
        {"2:5,1:7,0:4", {2, 1, 0}, {3, 6, 4}}, {":-1,-3:,:2", {0, 4, 0}, {9, 3, 2}},
        {"9:10,0:1,3:4", {9, 0, 3}, {1, 1, 1}}, {"5:5,:,:", {5, 0, 0}, {0, 7, 4}},
        {"1:9,2:6,1:3", {1, 2, 1}, {8, 4, 2}},
    };
    uint64_t dims[3] = {10, 7, 4}, chunk[3] = {3, 2, 4};
    tu_array a;
    tu_write_opts w = chunked(3, chunk);
    fill(&a, H5CL_INT16, 3, dims, 500, 0);
    h5cl_dataset *ds = write_open(&a, &w);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_sel s;
        hcase c;
        tu_sel_all(&s, &a);
        for (int d = 0; d < 3; d++) {
            s.start[d] = (uint64_t)cases[k].start[d];
            s.count[d] = cases[k].count[d];
        }
        hcase_init(&c, 23, 64);
        c.o.select = cases[k].text;
        c.sel = &s;
        check_case(ds, &a, &c, cases[k].text);
        hcase_range(&c, -1000, 2000);
        check_case(ds, &a, &c, cases[k].text);
    }
}
END_TEST

/* ---- per axis ---------------------------------------------------------- */

START_TEST(test_axis)
{
    const int axis = _i % 3;
    const h5cl_dtype dt = _i < 3 ? H5CL_FLOAT64 : H5CL_UINT8;
    uint64_t dims[3] = {7, 9, 5}, chunk[3] = {3, 4, 2};
    tu_array a;
    tu_write_opts w = chunked(3, chunk);
    hcase c;
    char what[96];
    fill(&a, dt, 3, dims, 600 + (uint64_t)_i, 0.05);
    h5cl_dataset *ds = write_open(&a, &w);
    static const uint64_t tiles[] = {0, 512, 40};
    for (int k = 0; k < 3; k++) {
        snprintf(what, sizeof what, "%s axis %d tile %llu", h5cl_dtype_name(dt), axis,
                 (unsigned long long)tiles[k]);
        hcase_init(&c, 13, tiles[k]);
        c.o.axis = axis;
        check_case(ds, &a, &c, what);
    }
    tu_sel s;
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, 7, 1, 1, 1, 6);
    tu_sel_axis(&s, 2, 5, 1, 2, 0, 0);
    hcase_init(&c, 5, 200);
    c.o.axis = axis;
    c.o.select = "1:6,:,2:";
    c.sel = &s;
    inner_range(&c, &a);
    check_case(ds, &a, &c, "per-axis selection");
}
END_TEST

START_TEST(test_axis_limits)
{
    uint64_t dims[2] = {1 << 20, 2};
    tu_array a;
    hcase c;
    h5cl_hist *h = NULL;
    fill(&a, H5CL_UINT8, 2, dims, 650, 0);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 200, 0);
    hcase_range(&c, 0, 1);
    c.o.axis = 1;
    ck_assert_int_eq(h5cl_hist_compute(ds, &c.o, &c.ho, &h), H5CL_ERR_TOO_LARGE);
    ck_assert_ptr_null(h);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "1048576 positions"), "%s",
                  h5cl_ctx_errmsg(tu_ctx));
    c.o.axis = 2;
    ck_assert_int_eq(h5cl_hist_compute(ds, &c.o, &c.ho, &h), H5CL_ERR_AXIS);
    c.o.axis = -2;
    ck_assert_int_eq(h5cl_hist_compute(ds, &c.o, &c.ho, &h), H5CL_ERR_AXIS);
    /* the tile is cut until its rows fit: 2^20 positions of 17 counters
     * need 68 MiB, over the 64 MiB a slot may hold */
    hcase_init(&c, 14, 0);
    c.o.axis = 1;
    const h5cl_hist *h2 = check_case(ds, &a, &c, "many positions");
    ck_assert_uint_le(h5cl_hist_summary(h2)->tile_bytes, 1 << 20);
}
END_TEST

/* ---- options ------------------------------------------------------------ */

static int try_options(h5cl_dataset *ds, uint32_t bins, int range_set, double lo, double hi)
{
    hcase c;
    h5cl_hist *h = (h5cl_hist *)&c; /* any pointer: a failure must clear it */
    hcase_init(&c, bins, 0);
    c.ho.range_set = range_set;
    c.ho.lo = lo;
    c.ho.hi = hi;
    int rc = h5cl_hist_compute(ds, &c.o, &c.ho, &h);
    if (rc != H5CL_OK)
        ck_assert_ptr_null(h);
    else
        h5cl_hist_free(h);
    return rc;
}

START_TEST(test_options)
{
    uint64_t n = 1000;
    tu_array a;
    fill(&a, H5CL_FLOAT64, 1, &n, 700, 0);
    h5cl_dataset *ds = write_open(&a, NULL);
    ck_assert_int_eq(try_options(ds, (1u << 24) + 1, 0, 0, 0), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_options(ds, 1u << 24, 1, 0, 1), H5CL_OK);
    ck_assert_int_eq(try_options(ds, 10, 1, 1, 1), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_options(ds, 10, 1, 2, 1), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_options(ds, 10, 1, NAN, 1), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_options(ds, 10, 1, 0, INFINITY), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_options(ds, 10, 1, -DBL_MAX, DBL_MAX), H5CL_ERR_INVALID_ARGUMENT);
    /* numpy: "too many bins for the data range" */
    ck_assert_int_eq(try_options(ds, 100, 1, 1, 1 + 1e-14), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "100 bins"), "%s",
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_int_eq(try_options(ds, 10, 1, 1, 1 + 1e-14), H5CL_OK);

    /* NULL options: 256 bins over the data; an old, shorter options struct
     * keeps the fields it lacks at their defaults */
    h5cl_hist *h = NULL;
    ck_assert_int_eq(h5cl_hist_compute(ds, NULL, NULL, &h), H5CL_OK);
    tu_defer(free_hist, h);
    int from_data = 0;
    h5cl_hist_range(h, NULL, NULL, &from_data);
    ck_assert_uint_eq(h5cl_hist_bins(h), 256);
    ck_assert_int_eq(from_data, 1);
    const h5cl_run_summary *sum = h5cl_hist_summary(h);
    ck_assert_uint_eq(sum->bytes, 2 * n * 8); /* the min/max pass and the count */
    h5cl_hist_options old;
    h5cl_hist_options_init(&old);
    old.struct_size = offsetof(h5cl_hist_options, range_set);
    old.bins = 7;
    old.range_set = 1; /* beyond struct_size: not read */
    ck_assert_int_eq(h5cl_hist_compute(ds, NULL, &old, &h), H5CL_OK);
    h5cl_hist_range(h, NULL, NULL, &from_data);
    ck_assert_uint_eq(h5cl_hist_bins(h), 7);
    ck_assert_int_eq(from_data, 1);
    h5cl_hist_free(h);

    ck_assert_int_eq(h5cl_hist_compute(ds, NULL, NULL, NULL), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_hist_compute(NULL, NULL, NULL, &h), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_degenerate_ranges)
{
    uint64_t n = 100;
    tu_array a;
    hcase c;
    tu_array_init(&a, H5CL_INT32, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_i(&a, i, -7);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 10, 0);
    const h5cl_hist *h = check_case(ds, &a, &c, "constant: [x - 0.5, x + 0.5]");
    double lo, hi;
    h5cl_hist_range(h, &lo, &hi, NULL);
    ck_assert(lo == -7.5 && hi == -6.5);
    ck_assert_uint_eq(h5cl_hist_counts(h, 0)[5], n);
    c.o.select = "3:3";
    tu_sel s;
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, n, 1, 3, 1, 3);
    c.sel = &s;
    h = check_case(ds, &a, &c, "nothing selected: [0, 1]");
    h5cl_hist_range(h, &lo, &hi, NULL);
    ck_assert(lo == 0 && hi == 1);
}
END_TEST

START_TEST(test_null_accessors)
{
    uint64_t x;
    double lo = 0, hi = 0;
    int fd = 1;
    ck_assert_uint_eq(h5cl_hist_bins(NULL), 0);
    ck_assert_uint_eq(h5cl_hist_count(NULL), 0);
    ck_assert_int_eq(h5cl_hist_shape(NULL, NULL), -1);
    ck_assert_ptr_null(h5cl_hist_counts(NULL, 0));
    ck_assert_int_eq(h5cl_hist_outside(NULL, 0, &x, &x, &x), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(h5cl_hist_summary(NULL));
    h5cl_hist_range(NULL, &lo, &hi, &fd);
    ck_assert(isnan(lo) && isnan(hi) && fd == 0);
    ck_assert_uint_eq(h5cl_hist_serialized_size(NULL), 0);
    ck_assert_int_eq(h5cl_hist_merge(NULL, NULL), H5CL_ERR_INVALID_ARGUMENT);
    h5cl_hist_free(NULL);
}
END_TEST

/* ---- merging and the byte form ------------------------------------------ */

static void check_same(const h5cl_hist *x, const h5cl_hist *y, const char *what)
{
    uint64_t dx[H5CL_MAX_RANK], dy[H5CL_MAX_RANK];
    double lx, hx, ly, hy;
    int fx, fy;
    h5cl_hist_range(x, &lx, &hx, &fx);
    h5cl_hist_range(y, &ly, &hy, &fy);
    ck_assert_msg(h5cl_hist_bins(x) == h5cl_hist_bins(y) && lx == ly && hx == hy &&
                      fx == fy && h5cl_hist_count(x) == h5cl_hist_count(y),
                  "%s: headers differ", what);
    int rank = h5cl_hist_shape(x, dx);
    ck_assert_int_eq(rank, h5cl_hist_shape(y, dy));
    ck_assert(memcmp(dx, dy, (size_t)rank * sizeof dx[0]) == 0);
    for (size_t i = 0; i < h5cl_hist_count(x); i++) {
        uint64_t ox[3], oy[3];
        h5cl_hist_outside(x, i, &ox[0], &ox[1], &ox[2]);
        h5cl_hist_outside(y, i, &oy[0], &oy[1], &oy[2]);
        ck_assert_msg(memcmp(h5cl_hist_counts(x, i), h5cl_hist_counts(y, i),
                             h5cl_hist_bins(x) * sizeof(uint64_t)) == 0 &&
                          memcmp(ox, oy, sizeof ox) == 0,
                      "%s: histogram %zu differs", what, i);
    }
}

START_TEST(test_merge)
{
    static const char *pieces[] = {"0:4000", "4000:4001", "4001:4001", "4001:"};
    uint64_t n = 10007;
    tu_array a;
    hcase c;
    fill(&a, H5CL_FLOAT64, 1, &n, 800, 0.02);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 40, 4096);
    hcase_range(&c, -20, 120);
    h5cl_hist *whole = compute(ds, &c, "whole"), *acc = NULL;
    for (size_t k = 0; k < 4; k++) {
        c.o.select = pieces[k];
        h5cl_hist *part = compute(ds, &c, pieces[k]);
        if (!acc)
            acc = part;
        else
            ck_assert_int_eq(h5cl_hist_merge(acc, part), H5CL_OK);
    }
    check_same(acc, whole, "merged pieces");

    /* bins, range and shape must agree exactly */
    c.o.select = NULL;
    c.ho.bins = 41;
    ck_assert_int_eq(h5cl_hist_merge(acc, compute(ds, &c, "bins")), H5CL_ERR_INVALID_ARGUMENT);
    c.ho.bins = 40;
    c.ho.hi = nextafter(120, 200);
    ck_assert_int_eq(h5cl_hist_merge(acc, compute(ds, &c, "range")), H5CL_ERR_INVALID_ARGUMENT);
    check_same(acc, whole, "refused merges change nothing");
}
END_TEST

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A copy of buf with byte at set to v and the checksum made right again,
 * so that only the header check can refuse it. */
static int deserialize_patched(const unsigned char *buf, size_t n, size_t at, unsigned char v)
{
    unsigned char *b = tu_alloc(n);
    h5cl_hist *h = NULL;
    memcpy(b, buf, n);
    b[at] = v;
    uint64_t sum = fnv1a(b, n - 8);
    for (int i = 0; i < 8; i++)
        b[n - 8 + i] = (unsigned char)(sum >> (8 * i));
    int rc = h5cl_hist_deserialize(b, n, &h);
    h5cl_hist_free(h);
    return rc;
}

START_TEST(test_serialize)
{
    uint64_t dims[2] = {6, 5};
    tu_array a;
    hcase c;
    fill(&a, H5CL_INT8, 2, dims, 900, 0);
    h5cl_dataset *ds = write_open(&a, NULL);
    hcase_init(&c, 3, 0);
    c.o.axis = _i; /* 0: shape [5]; 1: shape [6] */
    const h5cl_hist *h = compute(ds, &c, "per axis");
    size_t size = h5cl_hist_serialized_size(h);
    ck_assert_uint_eq(size, 32 + 8 + 8 * (size_t)(_i ? 6 : 5) * 6 + 8);
    unsigned char *buf = tu_alloc(size + 1);
    ck_assert_int_eq(h5cl_hist_serialize(h, buf, size - 1), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_hist_serialize(h, buf, size), H5CL_OK);
    ck_assert(memcmp(buf, "H5HI", 4) == 0 && buf[4] == 1 && buf[5] == 1 && buf[6] == 1);

    h5cl_hist *back = NULL;
    ck_assert_int_eq(h5cl_hist_deserialize(buf, size, &back), H5CL_OK);
    tu_defer(free_hist, back);
    check_same(back, h, "round trip");
    ck_assert_int_eq(h5cl_hist_merge(back, h), H5CL_OK);
    ck_assert_uint_eq(h5cl_hist_counts(back, 0)[0], 2 * h5cl_hist_counts(h, 0)[0]);

    /* truncated, extended, and every byte flipped */
    for (size_t len = 0; len < size; len++) {
        h5cl_hist *bad = (h5cl_hist *)buf;
        ck_assert_int_eq(h5cl_hist_deserialize(buf, len, &bad), H5CL_ERR_BAD_STATE);
        ck_assert_ptr_null(bad);
    }
    ck_assert_int_eq(h5cl_hist_deserialize(buf, size + 1, &back), H5CL_ERR_BAD_STATE);
    for (size_t at = 0; at < size; at++) {
        buf[at] ^= 0x10;
        ck_assert_int_eq(h5cl_hist_deserialize(buf, size, &back), H5CL_ERR_BAD_STATE);
        buf[at] ^= 0x10;
    }
    /* headers with a right checksum but wrong fields */
    ck_assert_int_eq(deserialize_patched(buf, size, 0, 'X'), H5CL_ERR_BAD_STATE);
    ck_assert_int_eq(deserialize_patched(buf, size, 4, 2), H5CL_ERR_BAD_STATE);   /* version */
    ck_assert_int_eq(deserialize_patched(buf, size, 5, 2), H5CL_ERR_BAD_STATE);   /* flags */
    ck_assert_int_eq(deserialize_patched(buf, size, 6, 2), H5CL_ERR_BAD_STATE);   /* rank */
    ck_assert_int_eq(deserialize_patched(buf, size, 7, 1), H5CL_ERR_BAD_STATE);
    ck_assert_int_eq(deserialize_patched(buf, size, 8, 0), H5CL_ERR_BAD_STATE);   /* 0 bins */
    ck_assert_int_eq(deserialize_patched(buf, size, 8, 4), H5CL_ERR_BAD_STATE);   /* 4 bins */
    ck_assert_int_eq(deserialize_patched(buf, size, 11, 1), H5CL_ERR_BAD_STATE);  /* 2^24+3 */
    ck_assert_int_eq(deserialize_patched(buf, size, 12, 1), H5CL_ERR_BAD_STATE);
    ck_assert_int_eq(deserialize_patched(buf, size, 23, 0x7f), H5CL_ERR_BAD_STATE); /* lo */
    ck_assert_int_eq(deserialize_patched(buf, size, 31, 0xff), H5CL_ERR_BAD_STATE); /* hi */
    ck_assert_int_eq(deserialize_patched(buf, size, 32, 7), H5CL_ERR_BAD_STATE);  /* dim */
    ck_assert_int_eq(deserialize_patched(buf, size, 5, 0), H5CL_OK); /* flag only */
    ck_assert_int_eq(h5cl_hist_deserialize(NULL, size, &back), H5CL_ERR_BAD_STATE);
    ck_assert_int_eq(h5cl_hist_deserialize(buf, size, NULL), H5CL_ERR_BAD_STATE);

    /* per-axis histograms merge only with the same shape */
    c.o.axis = 1 - _i;
    ck_assert_int_eq(h5cl_hist_merge(back, compute(ds, &c, "other axis")),
                     H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- quantiles ---------------------------------------------------------- */

typedef struct numbers {
    long double *v;
    size_t n;
} numbers;

static void number_one(const tu_array *a, uint64_t e, uint64_t pos, void *user)
{
    numbers *s = user;
    long double v;
    if (tu_dtype_is_float(a->dtype))
        v = tu_get_f(a, e);
    else if (tu_dtype_is_signed(a->dtype))
        v = (long double)tu_get_i(a, e);
    else
        v = (long double)tu_get_u(a, e);
    if (!isnan(v))
        s->v[s->n++] = v;
}

static int by_value(const void *x, const void *y)
{
    long double a = *(const long double *)x, b = *(const long double *)y;
    return a < b ? -1 : a > b;
}

/* np.nanquantile(x, q) (method "linear") from a sort, in double. */
static void ref_quantiles(const tu_array *a, const tu_sel *sel, const double *q, size_t nq,
                          double *out)
{
    tu_sel all;
    if (!sel) {
        tu_sel_all(&all, a);
        sel = &all;
    }
    numbers s = {tu_alloc((size_t)a->n * sizeof(long double) + 1), 0};
    visit(a, sel, -1, number_one, &s);
    qsort(s.v, s.n, sizeof *s.v, by_value);
    for (size_t i = 0; i < nq; i++) {
        if (s.n == 0) {
            out[i] = NAN;
            continue;
        }
        double vi = (double)(s.n - 1) * q[i], g = vi - floor(vi);
        size_t lo = vi >= (double)(s.n - 1) ? s.n - 1 : (size_t)floor(vi);
        size_t hi = lo + 1 < s.n ? lo + 1 : lo;
        double x = (double)s.v[lo], y = (double)s.v[hi], d = y - x;
        out[i] = g >= 0.5 ? y - d * (1 - g) : x + d * g;
    }
}

static const double qs[] = {0, 0.5, 0.99, 1, 0.25, 1.0 / 3, 0.001, 0.75};
#define NQ (sizeof qs / sizeof qs[0])

/* Computes the quantiles qs and checks them; returns the passes. */
static unsigned check_quantiles(h5cl_dataset *ds, const tu_array *a, const h5cl_run_options *o,
                                const tu_sel *sel, const char *what)
{
    double got[NQ], want[NQ];
    unsigned passes = 99;
    int rc = h5cl_quantile_compute(ds, o, qs, NQ, got, &passes);
    ck_assert_msg(rc == H5CL_OK, "%s: %s: %s", what, h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ref_quantiles(a, sel, qs, NQ, want);
    for (size_t i = 0; i < NQ; i++)
        ck_assert_msg(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])),
                      "%s: q %g is %.17g, want %.17g", what, qs[i], got[i], want[i]);
    return passes;
}

START_TEST(test_quantile_dtypes)
{
    const h5cl_dtype dt = (h5cl_dtype)_i;
    uint64_t n = 20011, chunk = 3000;
    tu_array a;
    tu_write_opts w = chunked(1, &chunk);
    h5cl_run_options o;
    fill(&a, dt, 1, &n, 1000 + (uint64_t)_i, 0.03);
    h5cl_dataset *ds = write_open(&a, &w);
    h5cl_run_options_init(&o);
    o.tile_bytes = 8192;
    unsigned passes = check_quantiles(ds, &a, &o, NULL, h5cl_dtype_name(dt));
    unsigned full = (8 * (unsigned)h5cl_dtype_size(dt) + 15) / 16;
    ck_assert_msg(passes >= 1 && passes <= full, "%s: %u passes", h5cl_dtype_name(dt), passes);
    o.select = "100:-100";
    tu_sel s;
    tu_sel_all(&s, &a);
    tu_sel_axis(&s, 0, n, 1, 100, 1, -100);
    check_quantiles(ds, &a, &o, &s, "selection");
}
END_TEST

/* Data that every pass refines: keys differ in their first digit. */
START_TEST(test_quantile_passes)
{
    static const struct {
        h5cl_dtype dt;
        double lo, hi;
        unsigned passes;
    } cases[] = {
        {H5CL_FLOAT32, -1, 1, 2},      {H5CL_FLOAT64, -1, 1, 4},
        {H5CL_INT32, -1e9, 1e9, 2},    {H5CL_INT64, -1e15, 1e15, 4},
        {H5CL_UINT8, 0, 255, 1},       {H5CL_INT16, -3e4, 3e4, 1},
        {H5CL_UINT64, 0, 1e12, 3}, /* keys below 2^40 share a zero digit */
        {H5CL_UINT32, 0, 4e9, 2},      {H5CL_FLOAT64, 5, 5, 0}, /* constant */
    };
    uint64_t n = 3001;
    tu_array a;
    tu_rng r;
    char what[64];
    tu_rng_seed(&r, 1100);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_array_init(&a, cases[k].dt, 1, &n);
        for (uint64_t i = 0; i < n; i++)
            tu_set_d(&a, i, cases[k].lo + (cases[k].hi - cases[k].lo) * tu_rng_unit(&r));
        h5cl_dataset *ds = write_open(&a, NULL);
        snprintf(what, sizeof what, "%s in [%g, %g]", h5cl_dtype_name(cases[k].dt),
                 cases[k].lo, cases[k].hi);
        unsigned passes = check_quantiles(ds, &a, NULL, NULL, what);
        ck_assert_msg(passes == cases[k].passes, "%s: %u passes, want %u", what, passes,
                      cases[k].passes);
    }
}
END_TEST

/* A float64 dataset of given values, checked against the reference. */
static unsigned quantiles_of(const double *v, uint64_t n, h5cl_dtype dt, uint64_t tile_bytes,
                             const char *what)
{
    tu_array a;
    h5cl_run_options o;
    tu_array_init(&a, dt, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_d(&a, i, v[i]);
    h5cl_dataset *ds = write_open(&a, NULL);
    h5cl_run_options_init(&o);
    o.tile_bytes = tile_bytes;
    return check_quantiles(ds, &a, &o, NULL, what);
}

START_TEST(test_quantile_cases)
{
    enum { N = 10000 };
    double *v = tu_alloc(N * sizeof *v);
    tu_rng r;
    tu_rng_seed(&r, 1200);
    for (int i = 0; i < N; i++)
        v[i] = (double)tu_rng_range(&r, -2, 2);
    quantiles_of(v, N, H5CL_INT32, 0, "five values, many ties");
    quantiles_of(v, N, H5CL_FLOAT32, 256, "ties in tiny tiles");
    for (int i = 0; i < N; i++)
        v[i] = i % 3 == 0 ? -0.0 : i % 3 == 1 ? 0.0 : -(double)(i % 7);
    quantiles_of(v, N, H5CL_FLOAT64, 0, "signed zeros and negatives");
    for (int i = 0; i < N; i++)
        v[i] = i % 2 ? NAN : tu_rng_unit(&r) - 0.5;
    quantiles_of(v, N, H5CL_FLOAT32, 0, "half NaN");
    const double inf[] = {1, INFINITY, 2, NAN};
    quantiles_of(inf, 4, H5CL_FLOAT64, 0, "an infinity: numpy's NaN at the top");
    const double one[] = {-7.25};
    ck_assert_uint_eq(quantiles_of(one, 1, H5CL_FLOAT64, 0, "one element"), 0);
    ck_assert_uint_eq(quantiles_of(one, 1, H5CL_INT8, 0, "one int"), 0);
    const double nan[] = {NAN, NAN, NAN};
    ck_assert_uint_eq(quantiles_of(nan, 3, H5CL_FLOAT32, 0, "all NaN"), 0);
    const double zeros[] = {0.0, -0.0, 0.0};
    ck_assert_uint_eq(quantiles_of(zeros, 3, H5CL_FLOAT64, 0, "zeros"), 0);
    const double tiny[] = {0.0, -0.0, 5e-324, 1e-310, -0.0};
    quantiles_of(tiny, 5, H5CL_FLOAT64, 0, "zeros beside subnormals");

    /* by hand: numpy's linear interpolation */
    double got[3];
    const double q[3] = {0, 0.25, 1};
    tu_array a;
    uint64_t n = 4;
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_f(&a, i, inf[i]);
    h5cl_dataset *ds = write_open(&a, NULL);
    ck_assert_int_eq(h5cl_quantile_compute(ds, NULL, q, 3, got, NULL), H5CL_OK);
    ck_assert(got[0] == 1 && got[1] == 1.5 && isnan(got[2]));
}
END_TEST

START_TEST(test_quantile_errors)
{
    uint64_t dims[2] = {10, 10};
    tu_array a;
    h5cl_run_options o;
    double q = 0.5, v = 0, bad[2] = {0.5, 1.5};
    unsigned passes = 7;
    fill(&a, H5CL_FLOAT64, 2, dims, 1300, 0);
    h5cl_dataset *ds = write_open(&a, NULL);
    h5cl_run_options_init(&o);
    o.axis = 0;
    ck_assert_int_eq(h5cl_quantile_compute(ds, &o, &q, 1, &v, &passes), H5CL_ERR_AXIS);
    ck_assert_uint_eq(passes, 0);
    ck_assert_int_eq(h5cl_quantile_compute(ds, NULL, bad, 2, &v, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "q[1]"), "%s",
                  h5cl_ctx_errmsg(tu_ctx));
    bad[0] = NAN;
    ck_assert_int_eq(h5cl_quantile_compute(ds, NULL, bad, 1, &v, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_quantile_compute(ds, NULL, &q, 1, NULL, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_quantile_compute(NULL, NULL, &q, 1, &v, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_quantile_compute(ds, NULL, NULL, 0, NULL, &passes), H5CL_OK);
    ck_assert_uint_eq(passes, 0);
    o.axis = -1;
    o.select = "3:3";
    ck_assert_int_eq(h5cl_quantile_compute(ds, &o, &q, 1, &v, &passes), H5CL_OK);
    ck_assert(isnan(v));
}
END_TEST

/* ---- expressions ---------------------------------------------------------- */

START_TEST(test_expressions)
{
    uint64_t dims[2] = {61, 82};
    tu_array a, y;
    hcase c;
    fill(&a, _i ? H5CL_INT16 : H5CL_FLOAT32, 2, dims, 1400 + (uint64_t)_i, 0.02);
    h5cl_dataset *ds = write_open(&a, NULL);
    /* the reference reads the expression's values */
    tu_array_init(&y, H5CL_FLOAT64, 2, dims);
    for (uint64_t i = 0; i < y.n; i++)
        tu_set_f(&y, i, fabs(tu_get_f(&a, i) * 2 + 1));
    hcase_init(&c, 30, 4096);
    c.o.expr = "abs(x * 2 + 1)";
    check_case(ds, &y, &c, "histogram of an expression");
    inner_range(&c, &y);
    check_case(ds, &y, &c, "histogram of an expression, given range");
    c.o.axis = 1;
    check_case(ds, &y, &c, "per-axis histograms of an expression");
    c.o.axis = -1;
    check_quantiles(ds, &y, &c.o, NULL, "quantiles of an expression");
}
END_TEST

Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("bins");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_dtypes, 0, 2 * H5CL_DTYPE_COUNT);
    tcase_add_loop_test(tc, test_ranks_layouts, 0, 6);
    tcase_add_loop_test(tc, test_edges_float, 0, 2);
    tcase_add_loop_test(tc, test_edges_in_range, 0, 2);
    tcase_add_loop_test(tc, test_edges_int, 0, H5CL_FLOAT32);
    tcase_add_loop_test(tc, test_int64_wide_range, 0, 2);
    tcase_add_test(tc, test_nan_outside);
    tcase_add_loop_test(tc, test_one_bin, 0, 3);
    tcase_add_test(tc, test_tiny_tiles);
    tcase_add_test(tc, test_selections);
    tcase_add_test(tc, test_degenerate_ranges);
    tcase_add_loop_test(tc, test_expressions, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("axis");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_axis, 0, 6);
    tcase_add_test(tc, test_axis_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_options);
    tcase_add_test(tc, test_null_accessors);
    tcase_add_test(tc, test_merge);
    tcase_add_loop_test(tc, test_serialize, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("quantile");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_quantile_dtypes, 0, H5CL_DTYPE_COUNT);
    tcase_add_test(tc, test_quantile_passes);
    tcase_add_test(tc, test_quantile_cases);
    tcase_add_test(tc, test_quantile_errors);
    suite_add_tcase(s, tc);
    return s;
}
