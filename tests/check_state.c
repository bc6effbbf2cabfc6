/*
 * h5cl_stats_state: init, merge (associative, order-free for first
 * occurrences, overflow), derived figures, and the 96-byte serialised form.
 * States are built by hand from single values, as the header's plain-data
 * contract allows, and checked against the host reference.  No OpenCL.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"

static const tu_tol exact_tol = {1e-12, 1e-9, 1e-28};

/* The state of the single element i of a (NaN: only nan_count). */
static h5cl_stats_state st_one(const tu_array *a, uint64_t i)
{
    h5cl_stats_state st;
    h5cl_kind kind = tu_dtype_kind(a->dtype);
    h5cl_stats_state_init(&st, kind);
    if (kind == H5CL_KIND_FLOAT) {
        double v = tu_get_f(a, i);
        if (isnan(v)) {
            st.nan_count = 1;
            return st;
        }
        st.sum.f = st.min.f = st.max.f = v;
        st.sum_comp = 0;
        st.mean = v;
    } else if (kind == H5CL_KIND_SIGNED) {
        st.sum.i = st.min.i = st.max.i = tu_get_i(a, i);
        st.mean = (double)st.sum.i;
    } else {
        st.sum.u = st.min.u = st.max.u = tu_get_u(a, i);
        st.mean = (double)st.sum.u;
    }
    st.count = 1;
    st.m2 = 0;
    st.argmin = st.argmax = i;
    return st;
}

static void merge_ok(h5cl_stats_state *into, const h5cl_stats_state *from)
{
    int rc = h5cl_stats_state_merge(into, from);
    ck_assert_msg(rc == H5CL_OK, "merge: %s", h5cl_errname(rc));
}

/* The state of elements [lo, hi) of a, merged one by one in order. */
static h5cl_stats_state st_range(const tu_array *a, uint64_t lo, uint64_t hi)
{
    h5cl_stats_state st, one;
    uint64_t i;
    h5cl_stats_state_init(&st, tu_dtype_kind(a->dtype));
    for (i = lo; i < hi; i++) {
        one = st_one(a, i);
        merge_ok(&st, &one);
    }
    return st;
}

static const tu_ref *ref_all(const tu_array *a)
{
    size_t n;
    int r;
    uint64_t d[H5CL_MAX_RANK];
    return tu_reference(a, NULL, -1, &n, &r, d);
}

static void make_array(tu_array *a, h5cl_dtype dtype, uint64_t n, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, dtype, 1, &n);
    tu_fill_random(a, &r, 0.05);
    tu_plant_extrema(a, &r);
}

static const h5cl_dtype loop_dtypes[] = {H5CL_FLOAT64, H5CL_FLOAT32, H5CL_INT64,
                                         H5CL_UINT64, H5CL_INT8, H5CL_UINT16};
#define N_LOOP_DTYPES ((int)(sizeof loop_dtypes / sizeof loop_dtypes[0]))

START_TEST(test_init_empty)
{
    h5cl_kind kinds[3] = {H5CL_KIND_FLOAT, H5CL_KIND_SIGNED, H5CL_KIND_UNSIGNED};
    int k;
    for (k = 0; k < 3; k++) {
        h5cl_stats_state st;
        double s;
        memset(&st, 0x5A, sizeof st);
        h5cl_stats_state_init(&st, kinds[k]);
        ck_assert_int_eq(st.kind, kinds[k]);
        ck_assert_uint_eq(st.count, 0);
        ck_assert_uint_eq(st.nan_count, 0);
        ck_assert_int_eq(st.overflow, 0);
        ck_assert(isnan(h5cl_stats_state_mean(&st)));
        ck_assert(isnan(h5cl_stats_state_var(&st, 0)));
        ck_assert(isnan(h5cl_stats_state_std(&st, 0)));
        ck_assert(isnan(h5cl_stats_state_min(&st)));
        ck_assert(isnan(h5cl_stats_state_max(&st)));
        s = h5cl_stats_state_sum(&st);
        ck_assert_msg(isnan(s) || s == 0.0, "sum of nothing %g", s);
    }
}
END_TEST

/* Merging single-value states in order reproduces the reference. */
START_TEST(test_merge_sequence)
{
    tu_array a;
    h5cl_stats_state st;
    char what[64];
    make_array(&a, loop_dtypes[_i], 1500, 100 + (uint64_t)_i);
    st = st_range(&a, 0, a.n);
    snprintf(what, sizeof what, "sequential merge %s", h5cl_dtype_name(a.dtype));
    tu_check_state(&st, ref_all(&a), exact_tol, what);
}
END_TEST

/* Reverse order: argmin/argmax must still be the first occurrence. */
START_TEST(test_merge_reverse_first_occurrence)
{
    tu_array a;
    h5cl_stats_state st, one;
    uint64_t i;
    char what[64];
    make_array(&a, loop_dtypes[_i], 700, 200 + (uint64_t)_i);
    h5cl_stats_state_init(&st, tu_dtype_kind(a.dtype));
    for (i = a.n; i-- > 0;) {
        one = st_one(&a, i);
        merge_ok(&st, &one);
    }
    snprintf(what, sizeof what, "reverse merge %s", h5cl_dtype_name(a.dtype));
    tu_check_state(&st, ref_all(&a), exact_tol, what);
}
END_TEST

/* (a+b)+c == a+(b+c) == whole, exactly for counts, integers and extrema. */
START_TEST(test_merge_associative)
{
    tu_array a;
    h5cl_stats_state pa, pb, pc, left, right, bc;
    const tu_ref *ref;
    char what[64];
    make_array(&a, loop_dtypes[_i], 999, 300 + (uint64_t)_i);
    pa = st_range(&a, 0, 123);
    pb = st_range(&a, 123, 600);
    pc = st_range(&a, 600, a.n);
    left = pa;
    merge_ok(&left, &pb);
    merge_ok(&left, &pc);
    bc = pb;
    merge_ok(&bc, &pc);
    right = pa;
    merge_ok(&right, &bc);
    ref = ref_all(&a);
    snprintf(what, sizeof what, "(a+b)+c %s", h5cl_dtype_name(a.dtype));
    tu_check_state(&left, ref, exact_tol, what);
    snprintf(what, sizeof what, "a+(b+c) %s", h5cl_dtype_name(a.dtype));
    tu_check_state(&right, ref, exact_tol, what);
    ck_assert_uint_eq(left.count, right.count);
    ck_assert_uint_eq(left.argmin, right.argmin);
    ck_assert_uint_eq(left.argmax, right.argmax);
    if (left.kind != H5CL_KIND_FLOAT) {
        ck_assert_uint_eq(left.sum.u, right.sum.u);
        ck_assert_int_eq(left.sum_hi, right.sum_hi);
    }
    ck_assert(fabs(left.mean - right.mean) <= 1e-13 * fabsl(ref->mean));
}
END_TEST

/* Cuts a into np sorted, possibly empty pieces, and merges them two by two
 * in a random order and grouping; returns the one state left. */
static h5cl_stats_state merge_random_pieces(const tu_array *a, int np, tu_rng *r)
{
    h5cl_stats_state pieces[40];
    uint64_t cuts[41];
    int k;
    ck_assert(np >= 1 && np <= 40);
    cuts[0] = 0;
    cuts[np] = a->n;
    for (k = 1; k < np; k++)
        cuts[k] = cuts[k - 1] + tu_rng_below(r, (a->n - cuts[k - 1]) / 2 + 1);
    for (k = 0; k < np; k++)
        pieces[k] = st_range(a, cuts[k], cuts[k + 1]);
    while (np > 1) { /* merge two random pieces, keep the result */
        int x = (int)tu_rng_below(r, (uint64_t)np), y;
        do
            y = (int)tu_rng_below(r, (uint64_t)np);
        while (y == x);
        merge_ok(&pieces[x], &pieces[y]);
        pieces[y] = pieces[np - 1];
        np--;
    }
    return pieces[0];
}

/* Random pieces merged in a random order and grouping. */
START_TEST(test_merge_random_pieces)
{
    tu_array a;
    tu_rng r;
    h5cl_stats_state st;
    char what[64];
    make_array(&a, loop_dtypes[_i % N_LOOP_DTYPES], 2000, 400 + (uint64_t)_i);
    tu_rng_seed(&r, 500 + (uint64_t)_i);
    st = merge_random_pieces(&a, 2 + (int)tu_rng_below(&r, 38), &r);
    snprintf(what, sizeof what, "random pieces %s iter %d", h5cl_dtype_name(a.dtype), _i);
    tu_check_state(&st, ref_all(&a), exact_tol, what);
}
END_TEST

/* Full-range 64-bit integers: partial sums leave the 64-bit range and come
 * back in any grouping; the total (sum + sum_hi * 2^64) stays exact. */
START_TEST(test_merge_full_range_ints)
{
    tu_array a;
    tu_rng r;
    h5cl_stats_state st;
    uint64_t n = 3000, i;
    char what[64];
    tu_rng_seed(&r, 450 + (uint64_t)_i);
    tu_array_init(&a, _i % 2 ? H5CL_UINT64 : H5CL_INT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_u(&a, i, tu_rng_u64(&r));
    if (_i >= 2) /* a total that fits although the partial sums do not */
        for (i = 0; i + 1 < n; i += 2)
            tu_set_u(&a, i + 1, (uint64_t)0 - tu_get_u(&a, i));
    st = merge_random_pieces(&a, 16, &r);
    snprintf(what, sizeof what, "full-range %s, variant %d", h5cl_dtype_name(a.dtype), _i);
    tu_check_state(&st, ref_all(&a), exact_tol, what);
}
END_TEST

/* Chan's formula keeps the variance of values with a common offset
 * (mean / std ~ 3.5e5: a sum-of-squares formula would lose ~5 digits). */
START_TEST(test_merge_large_offset_variance)
{
    uint64_t n = 4000, i;
    tu_array a;
    tu_rng r;
    h5cl_stats_state whole, lo, hi;
    tu_rng_seed(&r, 77);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    for (i = 0; i < n; i++)
        tu_set_f(&a, i, 1e5 + tu_rng_unit(&r));
    lo = st_range(&a, 0, 1000);
    hi = st_range(&a, 1000, n);
    whole = lo;
    merge_ok(&whole, &hi);
    tu_check_state(&whole, ref_all(&a), exact_tol, "offset 1e5");
}
END_TEST

/* An empty state is the identity of the merge, on either side. */
START_TEST(test_merge_identity)
{
    tu_array a;
    h5cl_stats_state st, e, x;
    make_array(&a, loop_dtypes[_i], 300, 600 + (uint64_t)_i);
    st = st_range(&a, 0, a.n);
    h5cl_stats_state_init(&e, st.kind);
    x = st;
    merge_ok(&x, &e);
    tu_check_state(&x, ref_all(&a), exact_tol, "st + empty");
    ck_assert(x.mean == st.mean && x.m2 == st.m2);
    x = e;
    merge_ok(&x, &st);
    tu_check_state(&x, ref_all(&a), exact_tol, "empty + st");
    ck_assert(x.mean == st.mean && x.m2 == st.m2);
}
END_TEST

START_TEST(test_merge_ties_pick_lowest_index)
{
    h5cl_stats_state a, b;
    h5cl_stats_state_init(&a, H5CL_KIND_SIGNED);
    a.count = 1;
    a.sum.i = a.min.i = a.max.i = 5;
    a.mean = 5;
    a.argmin = a.argmax = 40;
    b = a;
    b.argmin = b.argmax = 7;
    merge_ok(&a, &b);
    ck_assert_uint_eq(a.argmin, 7);
    ck_assert_uint_eq(a.argmax, 7);
    ck_assert_int_eq(a.sum.i, 10);
    b.argmin = b.argmax = 90;
    merge_ok(&a, &b);
    ck_assert_uint_eq(a.argmin, 7);
    ck_assert_uint_eq(a.argmax, 7);
}
END_TEST

START_TEST(test_merge_nan_only)
{
    h5cl_stats_state st, nan_st;
    h5cl_stats_state_init(&st, H5CL_KIND_FLOAT);
    h5cl_stats_state_init(&nan_st, H5CL_KIND_FLOAT);
    nan_st.nan_count = 3;
    merge_ok(&st, &nan_st);
    ck_assert_uint_eq(st.count, 0);
    ck_assert_uint_eq(st.nan_count, 3);
    ck_assert(isnan(h5cl_stats_state_mean(&st)));
    ck_assert(isnan(h5cl_stats_state_min(&st)));
    st.count = 1;
    st.sum.f = st.min.f = st.max.f = st.mean = -2.5;
    st.m2 = 0;
    st.argmin = st.argmax = 4;
    merge_ok(&st, &nan_st);
    ck_assert_uint_eq(st.count, 1);
    ck_assert_uint_eq(st.nan_count, 6);
    ck_assert(h5cl_stats_state_min(&st) == -2.5);
    ck_assert(h5cl_stats_state_max(&st) == -2.5);
    ck_assert(h5cl_stats_state_mean(&st) == -2.5);
    ck_assert_uint_eq(st.argmin, 4);
}
END_TEST

/* IEEE sums with infinities: 1 + inf = inf, -inf + -inf = -inf,
 * inf + -inf = NaN; a compensation term must not turn inf into NaN. */
START_TEST(test_merge_infinite_sum)
{
    h5cl_stats_state a, b;
    double s;
    h5cl_stats_state_init(&a, H5CL_KIND_FLOAT);
    a.count = 1;
    a.sum.f = a.min.f = a.max.f = a.mean = 1.0;
    b = a;
    b.sum.f = b.min.f = b.max.f = b.mean = INFINITY;
    b.argmin = b.argmax = 1;
    merge_ok(&a, &b);
    s = h5cl_stats_state_sum(&a);
    ck_assert_msg(s == INFINITY, "1 + inf = %g", s);
    ck_assert(h5cl_stats_state_max(&a) == INFINITY);
    ck_assert_uint_eq(a.argmax, 1);
    ck_assert(h5cl_stats_state_min(&a) == 1.0);
    merge_ok(&a, &b);
    ck_assert_msg(h5cl_stats_state_sum(&a) == INFINITY, "1 + inf + inf = %g",
                  h5cl_stats_state_sum(&a));
    h5cl_stats_state_init(&a, H5CL_KIND_FLOAT);
    a.count = 1;
    a.sum.f = a.min.f = a.max.f = a.mean = -INFINITY;
    b = a;
    b.argmin = b.argmax = 1;
    merge_ok(&a, &b);
    ck_assert_msg(h5cl_stats_state_sum(&a) == -INFINITY, "-inf + -inf = %g",
                  h5cl_stats_state_sum(&a));
    ck_assert_uint_eq(a.argmin, 0);
    b.sum.f = b.min.f = b.max.f = b.mean = INFINITY;
    merge_ok(&a, &b);
    ck_assert(isnan(h5cl_stats_state_sum(&a)));
}
END_TEST

START_TEST(test_merge_kind_mismatch)
{
    h5cl_stats_state f, s, u, before;
    int rc;
    h5cl_stats_state_init(&f, H5CL_KIND_FLOAT);
    h5cl_stats_state_init(&s, H5CL_KIND_SIGNED);
    h5cl_stats_state_init(&u, H5CL_KIND_UNSIGNED);
    s.count = 1;
    s.sum.i = s.min.i = s.max.i = 3;
    s.mean = 3;
    before = f;
    rc = h5cl_stats_state_merge(&f, &s);
    ck_assert_msg(rc < 0, "float <- signed merge returned %d", rc);
    ck_assert_msg(memcmp(&f, &before, sizeof f) == 0, "failed merge changed its target");
    rc = h5cl_stats_state_merge(&u, &s);
    ck_assert_msg(rc < 0, "unsigned <- signed merge returned %d", rc);
    ck_assert_uint_eq(u.count, 0);
    rc = h5cl_stats_state_merge(&s, &u);
    ck_assert_msg(rc < 0, "signed <- unsigned merge returned %d", rc);
    ck_assert_int_eq(h5cl_stats_state_merge(NULL, &s), H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_stats_state_merge(&s, NULL), H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

static h5cl_stats_state st_int(h5cl_kind kind, int64_t i, uint64_t u, uint64_t idx)
{
    h5cl_stats_state st;
    h5cl_stats_state_init(&st, kind);
    st.count = 1;
    if (kind == H5CL_KIND_SIGNED) {
        st.sum.i = st.min.i = st.max.i = i;
        st.mean = (double)i;
    } else {
        st.sum.u = st.min.u = st.max.u = u;
        st.mean = (double)u;
    }
    st.argmin = st.argmax = idx;
    return st;
}

START_TEST(test_merge_overflow)
{
    h5cl_stats_state a, b, c;
    /* near the limits but inside: exact, no flag */
    a = st_int(H5CL_KIND_SIGNED, INT64_MAX - 5, 0, 0);
    b = st_int(H5CL_KIND_SIGNED, 5, 0, 1);
    merge_ok(&a, &b);
    ck_assert(!a.overflow);
    ck_assert_int_eq(a.sum.i, INT64_MAX);
    ck_assert_int_eq(a.max.i, INT64_MAX - 5);
    b = st_int(H5CL_KIND_SIGNED, 1, 0, 2);
    merge_ok(&a, &b);
    ck_assert_msg(a.overflow, "INT64_MAX + 1 did not set overflow");
    ck_assert_int_eq(a.sum.i, INT64_MIN); /* wrapped once ... */
    ck_assert_int_eq(a.sum_hi, 1);        /* ... and counted */
    /* the sum is exact: overflow travels through merges, on either side,
     * and clears when the total comes back into range */
    h5cl_stats_state_init(&c, H5CL_KIND_SIGNED);
    merge_ok(&c, &a);
    ck_assert(c.overflow);
    b = st_int(H5CL_KIND_SIGNED, -100, 0, 3);
    merge_ok(&a, &b);
    ck_assert(!a.overflow);
    ck_assert_int_eq(a.sum.i, INT64_MAX - 99);
    ck_assert_uint_eq(a.count, 4);
    ck_assert_int_eq(a.min.i, -100);

    a = st_int(H5CL_KIND_SIGNED, INT64_MIN + 3, 0, 0);
    b = st_int(H5CL_KIND_SIGNED, -3, 0, 1);
    merge_ok(&a, &b);
    ck_assert(!a.overflow);
    ck_assert_int_eq(a.sum.i, INT64_MIN);
    b = st_int(H5CL_KIND_SIGNED, -1, 0, 2);
    merge_ok(&a, &b);
    ck_assert_msg(a.overflow, "INT64_MIN - 1 did not set overflow");

    a = st_int(H5CL_KIND_UNSIGNED, 0, UINT64_MAX - 1, 0);
    b = st_int(H5CL_KIND_UNSIGNED, 0, 1, 1);
    merge_ok(&a, &b);
    ck_assert(!a.overflow);
    ck_assert_uint_eq(a.sum.u, UINT64_MAX);
    ck_assert_uint_eq(a.max.u, UINT64_MAX - 1);
    merge_ok(&a, &b);
    ck_assert_msg(a.overflow, "UINT64_MAX + 1 did not set overflow");
    /* an unsigned sum above INT64_MAX is no overflow */
    a = st_int(H5CL_KIND_UNSIGNED, 0, UINT64_C(1) << 63, 0);
    b = st_int(H5CL_KIND_UNSIGNED, 0, (UINT64_C(1) << 63) - 1, 1);
    merge_ok(&a, &b);
    ck_assert(!a.overflow);
    ck_assert_uint_eq(a.sum.u, UINT64_MAX);
    ck_assert(h5cl_stats_state_sum(&a) == (double)UINT64_MAX);
}
END_TEST

START_TEST(test_derived)
{
    h5cl_stats_state st = st_int(H5CL_KIND_SIGNED, -7, 0, 0), b;
    ck_assert(h5cl_stats_state_sum(&st) == -7.0);
    ck_assert(h5cl_stats_state_mean(&st) == -7.0);
    ck_assert(h5cl_stats_state_var(&st, 0) == 0.0);
    ck_assert(h5cl_stats_state_std(&st, 0) == 0.0);
    ck_assert(isnan(h5cl_stats_state_var(&st, 1)));
    ck_assert(isnan(h5cl_stats_state_std(&st, 1)));
    ck_assert(h5cl_stats_state_min(&st) == -7.0);
    ck_assert(h5cl_stats_state_max(&st) == -7.0);
    b = st_int(H5CL_KIND_SIGNED, 1, 0, 1);
    merge_ok(&st, &b); /* {-7, 1}: mean -3, m2 32 */
    ck_assert(h5cl_stats_state_sum(&st) == -6.0);
    ck_assert(h5cl_stats_state_mean(&st) == -3.0);
    ck_assert(fabs(h5cl_stats_state_var(&st, 0) - 16.0) < 1e-12);
    ck_assert(fabs(h5cl_stats_state_var(&st, 1) - 32.0) < 1e-12);
    ck_assert(fabs(h5cl_stats_state_std(&st, 1) - sqrt(32.0)) < 1e-12);
    ck_assert(isnan(h5cl_stats_state_var(&st, 2)));
    ck_assert(isnan(h5cl_stats_state_var(&st, 5)));
    ck_assert(h5cl_stats_state_max(&st) == 1.0);
    ck_assert_uint_eq(st.argmax, 1);
    st = st_int(H5CL_KIND_UNSIGNED, 0, UINT64_MAX, 3);
    ck_assert(h5cl_stats_state_max(&st) == (double)UINT64_MAX);
    ck_assert(h5cl_stats_state_min(&st) > 0);
}
END_TEST

/* ---- serialisation ------------------------------------------------------ */

static void assert_same_state(const h5cl_stats_state *x, const h5cl_stats_state *y,
                              const char *what)
{
    /* bitwise, so NaN and -0.0 payloads must survive */
    ck_assert_msg(x->kind == y->kind, "%s: kind", what);
    ck_assert_msg(x->overflow == y->overflow, "%s: overflow", what);
    ck_assert_msg(x->count == y->count, "%s: count", what);
    ck_assert_msg(x->nan_count == y->nan_count, "%s: nan_count", what);
    ck_assert_msg(memcmp(&x->sum, &y->sum, 8) == 0, "%s: sum", what);
    ck_assert_msg(x->sum_hi == y->sum_hi, "%s: sum_hi", what);
    ck_assert_msg(memcmp(&x->sum_comp, &y->sum_comp, 8) == 0 ||
                      (x->kind != H5CL_KIND_FLOAT && x->sum_comp == 0),
                  "%s: sum_comp", what);
    ck_assert_msg(memcmp(&x->mean, &y->mean, 8) == 0, "%s: mean", what);
    ck_assert_msg(memcmp(&x->m2, &y->m2, 8) == 0, "%s: m2", what);
    if (x->count > 0) {
        ck_assert_msg(memcmp(&x->min, &y->min, 8) == 0, "%s: min", what);
        ck_assert_msg(memcmp(&x->max, &y->max, 8) == 0, "%s: max", what);
        ck_assert_msg(x->argmin == y->argmin, "%s: argmin", what);
        ck_assert_msg(x->argmax == y->argmax, "%s: argmax", what);
    }
}

static void roundtrip(const h5cl_stats_state *st, const char *what)
{
    unsigned char buf[H5CL_STATS_STATE_BYTES + 32], again[H5CL_STATS_STATE_BYTES];
    h5cl_stats_state back;
    int rc, k;
    memset(buf, 0xCD, sizeof buf);
    h5cl_stats_state_serialize(st, buf);
    for (k = H5CL_STATS_STATE_BYTES; k < (int)sizeof buf; k++)
        ck_assert_msg(buf[k] == 0xCD, "%s: serialize wrote byte %d", what, k);
    memset(&back, 0x77, sizeof back);
    rc = h5cl_stats_state_deserialize(buf, H5CL_STATS_STATE_BYTES, &back);
    ck_assert_msg(rc == H5CL_OK, "%s: deserialize: %s", what, h5cl_errname(rc));
    assert_same_state(st, &back, what);
    h5cl_stats_state_serialize(&back, again);
    ck_assert_msg(memcmp(buf, again, sizeof again) == 0, "%s: bytes differ", what);
}

START_TEST(test_serialize_roundtrip)
{
    tu_array a;
    h5cl_stats_state st;
    h5cl_kind kinds[3] = {H5CL_KIND_FLOAT, H5CL_KIND_SIGNED, H5CL_KIND_UNSIGNED};
    int k;
    for (k = 0; k < N_LOOP_DTYPES; k++) {
        make_array(&a, loop_dtypes[k], 200, 700 + (uint64_t)k);
        st = st_range(&a, 0, a.n);
        roundtrip(&st, h5cl_dtype_name(a.dtype));
    }
    for (k = 0; k < 3; k++) {
        h5cl_stats_state_init(&st, kinds[k]);
        roundtrip(&st, "empty");
    }
    st = st_int(H5CL_KIND_SIGNED, INT64_MIN, 0, 0);
    st.max.i = INT64_MAX;
    st.argmax = UINT64_C(0xFFFFFFFFFFFFFFEE);
    st.sum_hi = -3; /* total INT64_MIN - 3 * 2^64 */
    st.overflow = 1;
    st.count = UINT64_C(0xFFFFFFFFFFFFFFF0);
    roundtrip(&st, "signed extremes");
    st.overflow = 0; /* an overflow flag that contradicts sum_hi */
    {
        unsigned char bad[H5CL_STATS_STATE_BYTES];
        h5cl_stats_state back;
        h5cl_stats_state_serialize(&st, bad);
        ck_assert_int_eq(h5cl_stats_state_deserialize(bad, sizeof bad, &back),
                         H5CL_ERR_BAD_STATE);
    }
    st = st_int(H5CL_KIND_UNSIGNED, 0, UINT64_MAX, 12345678901234ull);
    roundtrip(&st, "unsigned extremes");
    h5cl_stats_state_init(&st, H5CL_KIND_FLOAT);
    st.count = 3;
    st.nan_count = 9;
    st.sum.f = INFINITY;
    st.sum_comp = -0.0;
    st.mean = 4.9e-324;
    st.m2 = 0x1.fffffffffffffp+1023;
    st.min.f = -INFINITY;
    st.max.f = INFINITY;
    st.argmin = 1;
    st.argmax = 2;
    roundtrip(&st, "float specials");
}
END_TEST

static int find_bytes(const unsigned char *buf, const unsigned char *pat, size_t n)
{
    size_t i;
    for (i = 0; i + n <= H5CL_STATS_STATE_BYTES; i++)
        if (memcmp(buf + i, pat, n) == 0)
            return 1;
    return 0;
}

START_TEST(test_serialize_little_endian)
{
    static const unsigned char count_le[8] = {0x08, 0x07, 0x06, 0x05,
                                              0x04, 0x03, 0x02, 0x01};
    static const unsigned char arg_le[8] = {0x88, 0x77, 0x66, 0x55,
                                            0x44, 0x33, 0x22, 0x11};
    unsigned char buf[H5CL_STATS_STATE_BYTES], buf2[H5CL_STATS_STATE_BYTES];
    h5cl_stats_state st = st_int(H5CL_KIND_SIGNED, 5, 0, 0);
    st.count = UINT64_C(0x0102030405060708);
    st.argmax = UINT64_C(0x1122334455667788);
    h5cl_stats_state_serialize(&st, buf);
    ck_assert_msg(find_bytes(buf, count_le, 8), "count not stored little-endian");
    ck_assert_msg(find_bytes(buf, arg_le, 8), "argmax not stored little-endian");
    h5cl_stats_state_serialize(&st, buf2);
    ck_assert(memcmp(buf, buf2, sizeof buf) == 0);
}
END_TEST

START_TEST(test_deserialize_bad)
{
    unsigned char buf[H5CL_STATS_STATE_BYTES], f_buf[H5CL_STATS_STATE_BYTES],
        s_buf[H5CL_STATS_STATE_BYTES];
    h5cl_stats_state st, back;
    int rc, k, diffs = 0;
    h5cl_stats_state_init(&st, H5CL_KIND_FLOAT);
    h5cl_stats_state_serialize(&st, f_buf);
    rc = h5cl_stats_state_deserialize(f_buf, 0, &back);
    ck_assert_int_eq(rc, H5CL_ERR_BAD_STATE);
    rc = h5cl_stats_state_deserialize(f_buf, H5CL_STATS_STATE_BYTES - 1, &back);
    ck_assert_int_eq(rc, H5CL_ERR_BAD_STATE);
    rc = h5cl_stats_state_deserialize(f_buf, 8, &back);
    ck_assert_int_eq(rc, H5CL_ERR_BAD_STATE);
    rc = h5cl_stats_state_deserialize(NULL, H5CL_STATS_STATE_BYTES, &back);
    ck_assert_msg(rc == H5CL_ERR_BAD_STATE || rc == H5CL_ERR_INVALID_ARGUMENT,
                  "NULL buffer: %d", rc);
    memset(buf, 0xFF, sizeof buf);
    rc = h5cl_stats_state_deserialize(buf, sizeof buf, &back);
    ck_assert_msg(rc == H5CL_ERR_BAD_STATE, "all-0xFF buffer accepted (%d)", rc);
    /* The bytes that tell FLOAT from SIGNED hold the kind: make it 0x7F. */
    st.kind = H5CL_KIND_SIGNED;
    h5cl_stats_state_serialize(&st, s_buf);
    memcpy(buf, f_buf, sizeof buf);
    for (k = 0; k < H5CL_STATS_STATE_BYTES; k++) {
        if (f_buf[k] != s_buf[k]) {
            buf[k] = 0x7F;
            diffs++;
        }
    }
    ck_assert_msg(diffs > 0, "kind is not serialised");
    rc = h5cl_stats_state_deserialize(buf, sizeof buf, &back);
    ck_assert_msg(rc == H5CL_ERR_BAD_STATE, "kind 0x7F accepted (%d)", rc);
    /* the untouched buffer is still fine */
    rc = h5cl_stats_state_deserialize(f_buf, sizeof f_buf, &back);
    ck_assert_int_eq(rc, H5CL_OK);
    ck_assert_int_eq(back.kind, H5CL_KIND_FLOAT);
}
END_TEST

Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_add_test(tc, test_init_empty);
    tcase_add_loop_test(tc, test_merge_sequence, 0, N_LOOP_DTYPES);
    tcase_add_loop_test(tc, test_merge_reverse_first_occurrence, 0, N_LOOP_DTYPES);
    tcase_add_loop_test(tc, test_merge_associative, 0, N_LOOP_DTYPES);
    tcase_add_loop_test(tc, test_merge_random_pieces, 0, 12);
    tcase_add_test(tc, test_merge_large_offset_variance);
    tcase_add_loop_test(tc, test_merge_full_range_ints, 0, 4);
    tcase_add_loop_test(tc, test_merge_identity, 0, N_LOOP_DTYPES);
    tcase_add_test(tc, test_merge_ties_pick_lowest_index);
    tcase_add_test(tc, test_merge_nan_only);
    tcase_add_test(tc, test_merge_infinite_sum);
    tcase_add_test(tc, test_merge_kind_mismatch);
    tcase_add_test(tc, test_merge_overflow);
    tcase_add_test(tc, test_derived);
    suite_add_tcase(s, tc);

    tc = tcase_create("serialize");
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    tcase_add_test(tc, test_serialize_roundtrip);
    tcase_add_test(tc, test_serialize_little_endian);
    tcase_add_test(tc, test_deserialize_bad);
    suite_add_tcase(s, tc);
    return s;
}
