/*
 * Selected figures (h5cl_run_options.figures): every figure set of
 * whole-selection statistics against the full run of the same data, for
 * every dtype, with NaNs in some blocks (redone element by element) and
 * the rest on the fast path; infinities; what a state says it holds
 * (missing), its getters and sentinels; merges of different sets (the
 * intersection); the byte form's round trip and its rejection of bad
 * masks; per-axis runs (every figure); invalid flags; several contexts.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"

/* The sets asked for: sum alone (and count alone, which builds the same
 * kernel variant), var, min/max (and arg, and sum with min/max: one
 * variant), and var with min/max (the full kernel). */
static const unsigned sets[] = {
    H5CL_FIG_SUM,
    H5CL_FIG_COUNT,
    H5CL_FIG_VAR,
    H5CL_FIG_MINMAX,
    H5CL_FIG_ARG,
    H5CL_FIG_SUM | H5CL_FIG_MINMAX,
    H5CL_FIG_VAR | H5CL_FIG_MINMAX,
};
#define NSETS (sizeof sets / sizeof sets[0])

/* The flags a set does not hold, written out (the library derives them). */
static uint32_t want_missing(unsigned fig)
{
    unsigned held = fig | H5CL_FIG_COUNT;
    if (fig & H5CL_FIG_VAR)
        held |= H5CL_FIG_SUM;
    if (fig & (H5CL_FIG_ARG | H5CL_FIG_MINMAX))
        held |= H5CL_FIG_MINMAX | H5CL_FIG_ARG;
    return H5CL_FIG_ALL & ~held;
}

static h5cl_dataset *write_open(tu_array *a)
{
    static int gen;
    char file[32];
    tu_write_opts w;
    tu_write_opts_init(&w);
    snprintf(file, sizeof file, "f%d.h5", gen++);
    tu_write(tu_path(file), "/data", a, &w);
    return tu_open(tu_ctx, tu_path(file), "/data");
}

static h5cl_stats *run_figures(h5cl_dataset *ds, unsigned fig,
                               const char *what)
{
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 64 << 10; /* several tiles and records */
    o.figures = fig;
    return tu_compute(ds, &o, what);
}

/* Both NaN, or within tol of each other relative to scale. */
static void near(double got, double want, double tol, const char *fig,
                 const char *what)
{
    if (isnan(want) || isinf(want)) {
        ck_assert_msg((isnan(want) && isnan(got)) || got == want,
                      "%s: %s %.17g, want %.17g", what, fig, got, want);
        return;
    }
    ck_assert_msg(fabs(got - want) <= tol, "%s: %s %.17g, want %.17g (tol %g)",
                  what, fig, got, want, tol);
}

/* A run of set fig against the full run of the same data. */
static void check_against(const h5cl_stats_state *got,
                          const h5cl_stats_state *full, const tu_ref *ref,
                          unsigned fig, const char *what)
{
    const tu_tol tol = tu_tolerance(&tu_dev);
    const uint32_t miss = want_missing(fig);
    const double scale = (double)ref->abssum;
    const double mscale = full->count ? scale / (double)full->count : 0;
    ck_assert_msg(got->missing == miss, "%s: missing 0x%x, want 0x%x", what,
                  got->missing, miss);
    ck_assert_msg(got->kind == full->kind, "%s: kind", what);
    ck_assert_msg(got->count == full->count && got->nan_count == full->nan_count,
                  "%s: count %llu nan %llu, want %llu %llu", what,
                  (unsigned long long)got->count,
                  (unsigned long long)got->nan_count,
                  (unsigned long long)full->count,
                  (unsigned long long)full->nan_count);
    if (miss & H5CL_FIG_SUM) {
        ck_assert_msg(isnan(h5cl_stats_state_sum(got)) &&
                          isnan(h5cl_stats_state_mean(got)),
                      "%s: sum or mean not held but not NaN", what);
    } else if (full->kind == H5CL_KIND_FLOAT) {
        near(h5cl_stats_state_sum(got), h5cl_stats_state_sum(full),
             tol.sum_rel * scale, "sum", what);
        near(h5cl_stats_state_mean(got), h5cl_stats_state_mean(full),
             tol.sum_rel * mscale, "mean", what);
    } else {
        ck_assert_msg(got->sum.u == full->sum.u && got->sum_hi == full->sum_hi &&
                          got->overflow == full->overflow,
                      "%s: integer sum differs from the full run's", what);
        ck_assert_msg(h5cl_stats_state_mean(got) == h5cl_stats_state_mean(full),
                      "%s: integer mean %.17g, want %.17g", what,
                      h5cl_stats_state_mean(got), h5cl_stats_state_mean(full));
    }
    if (miss & H5CL_FIG_VAR)
        ck_assert_msg(isnan(h5cl_stats_state_var(got, 0)) &&
                          isnan(h5cl_stats_state_std(got, 1)),
                      "%s: var not held but not NaN", what);
    else
        near(h5cl_stats_state_var(got, 0), h5cl_stats_state_var(full, 0),
             tol.var_rel * fabs(h5cl_stats_state_var(full, 0)) +
                 tol.var_floor * mscale * mscale,
             "var", what);
    if (miss & H5CL_FIG_MINMAX) {
        ck_assert_msg(isnan(h5cl_stats_state_min(got)) &&
                          isnan(h5cl_stats_state_max(got)),
                      "%s: min/max not held but not NaN", what);
    } else {
        /* bit for bit, whatever the kind */
        ck_assert_msg(got->min.u == full->min.u && got->max.u == full->max.u,
                      "%s: min %.17g max %.17g, want %.17g %.17g", what,
                      h5cl_stats_state_min(got), h5cl_stats_state_max(got),
                      h5cl_stats_state_min(full), h5cl_stats_state_max(full));
    }
    if (miss & H5CL_FIG_ARG)
        ck_assert_msg(got->argmin == H5CL_ARG_NONE &&
                          got->argmax == H5CL_ARG_NONE,
                      "%s: argmin/argmax not held but %llu %llu", what,
                      (unsigned long long)got->argmin,
                      (unsigned long long)got->argmax);
    else
        ck_assert_msg(got->argmin == full->argmin && got->argmax == full->argmax,
                      "%s: argmin %llu argmax %llu, want %llu %llu", what,
                      (unsigned long long)got->argmin,
                      (unsigned long long)got->argmax,
                      (unsigned long long)full->argmin,
                      (unsigned long long)full->argmax);
}

/* Sets fig[0..nfig) on data of one dtype: full blocks on the fast path, a
 * few NaNs in two blocks, a tail that is no whole vector. */
static void check_sets(tu_array *a, const unsigned *fig, size_t nfig,
                       const char *label)
{
    char what[160];
    size_t nref;
    int rank;
    uint64_t dims[H5CL_MAX_RANK];
    h5cl_dataset *ds = write_open(a);
    const tu_ref *ref = tu_reference(a, NULL, -1, &nref, &rank, dims);
    snprintf(what, sizeof what, "%s all figures", label);
    h5cl_stats *full = run_figures(ds, 0, what);
    /* the full run itself is the reference's */
    tu_check_state(h5cl_stats_get(full, 0), ref, tu_tolerance(&tu_dev), what);
    for (size_t k = 0; k < nfig; k++) {
        snprintf(what, sizeof what, "%s figures 0x%x", label, fig[k]);
        h5cl_stats *s = run_figures(ds, fig[k], what);
        check_against(h5cl_stats_get(s, 0), h5cl_stats_get(full, 0), ref,
                      fig[k], what);
        tu_release(s);
    }
}

/* Which sets each dtype runs.  Each kernel variant is a PoCL compile of
 * about two seconds on a fresh cache (CI's), so: every set for float32;
 * for int16 the sums with and without squares (its integer lanes; the
 * extrema are the same code for every dtype, and the full kernel runs
 * for all of them in the stats suite); the sum alone for the 8-byte
 * types, whose float path and 128-bit integer carries differ most. */
static const unsigned sum_var[] = {H5CL_FIG_SUM, H5CL_FIG_VAR};
static const unsigned sum_only[] = {H5CL_FIG_SUM};
static const struct {
    h5cl_dtype dtype;
    const unsigned *sets;
    size_t nsets;
} runs[] = {{H5CL_FLOAT32, sets, NSETS},
            {H5CL_INT16, sum_var, 2},
            {H5CL_FLOAT64, sum_only, 1},
            {H5CL_INT64, sum_only, 1}};
#define NRUNS (sizeof runs / sizeof runs[0])

START_TEST(test_sets_dtypes)
{
    const h5cl_dtype dt = runs[_i].dtype;
    const uint64_t n = 100003;
    tu_array a;
    tu_rng r;
    char label[64];
    if (dt == H5CL_FLOAT64 && !tu_dev.has_fp64)
        return;
    tu_rng_seed(&r, 7000 + (uint64_t)_i);
    tu_array_init(&a, dt, 1, &n);
    tu_fill_random(&a, &r, 0);
    tu_plant_extrema(&a, &r);
    if (tu_dtype_is_float(dt))
        for (uint64_t i = 0; i < 5; i++) {
            tu_set_f(&a, 3000 + 7 * i, NAN);
            tu_set_f(&a, 70001 + i, NAN);
        }
    snprintf(label, sizeof label, "%s", h5cl_dtype_name(dt));
    check_sets(&a, runs[_i].sets, runs[_i].nsets, label);
}
END_TEST

/* +inf and -inf in one block make its sums NaN: the block is redone and
 * every variant agrees with the full run (sum NaN, min -inf, max inf). */
START_TEST(test_infinities)
{
    const uint64_t n = 40000;
    tu_array a;
    tu_rng r;
    tu_rng_seed(&r, 91);
    tu_array_init(&a, H5CL_FLOAT32, 1, &n);
    tu_fill_random(&a, &r, 0);
    tu_set_f(&a, 20000, INFINITY);
    tu_set_f(&a, 20005, -INFINITY);
    tu_set_f(&a, 20010, NAN);
    check_sets(&a, sets, NSETS, "float32 inf");
}
END_TEST

/* A state of a sum-only run, built by hand. */
static h5cl_stats_state sum_state(double x, uint64_t at)
{
    h5cl_stats_state s;
    h5cl_stats_state_init(&s, H5CL_KIND_FLOAT);
    s.count = 1;
    s.sum.f = x;
    s.mean = x;
    s.min.f = s.max.f = x;
    s.argmin = s.argmax = at;
    return s;
}

START_TEST(test_merge_intersection)
{
    h5cl_stats_state a = sum_state(1, 0), b = sum_state(5, 1),
                     c = sum_state(-2, 2), e;
    b.missing = want_missing(H5CL_FIG_ARG);      /* no sum, no var */
    c.missing = want_missing(H5CL_FIG_VAR);      /* no min/max, no arg */
    c.argmin = c.argmax = H5CL_ARG_NONE;
    ck_assert_int_eq(h5cl_stats_state_merge(&a, &b), H5CL_OK);
    ck_assert_uint_eq(a.missing, H5CL_FIG_SUM | H5CL_FIG_VAR);
    ck_assert(isnan(h5cl_stats_state_sum(&a)));
    ck_assert(isnan(h5cl_stats_state_var(&a, 0)));
    ck_assert(h5cl_stats_state_min(&a) == 1 && h5cl_stats_state_max(&a) == 5);
    ck_assert_uint_eq(a.argmax, 1);
    ck_assert_int_eq(h5cl_stats_state_merge(&a, &c), H5CL_OK);
    ck_assert_uint_eq(a.missing, H5CL_FIG_ALL & ~H5CL_FIG_COUNT);
    ck_assert_uint_eq(a.count, 3);
    ck_assert(isnan(h5cl_stats_state_min(&a)));
    ck_assert(a.argmin == H5CL_ARG_NONE && a.argmax == H5CL_ARG_NONE);
    /* an empty state of another set still narrows what is held */
    h5cl_stats_state_init(&e, H5CL_KIND_FLOAT);
    e.missing = want_missing(H5CL_FIG_SUM);
    a = sum_state(1, 0);
    ck_assert_int_eq(h5cl_stats_state_merge(&a, &e), H5CL_OK);
    ck_assert_uint_eq(a.missing, want_missing(H5CL_FIG_SUM));
    ck_assert(h5cl_stats_state_sum(&a) == 1);
    ck_assert(a.argmin == H5CL_ARG_NONE);
}
END_TEST

START_TEST(test_serialize_missing)
{
    unsigned char buf[H5CL_STATS_STATE_BYTES];
    h5cl_stats_state s = sum_state(3, 4), back;
    s.missing = want_missing(H5CL_FIG_SUM);
    s.argmin = s.argmax = H5CL_ARG_NONE;
    h5cl_stats_state_serialize(&s, buf);
    ck_assert_uint_eq(buf[5], s.missing);
    ck_assert_int_eq(h5cl_stats_state_deserialize(buf, sizeof buf, &back),
                     H5CL_OK);
    ck_assert_uint_eq(back.missing, s.missing);
    unsigned char again[H5CL_STATS_STATE_BYTES];
    h5cl_stats_state_serialize(&back, again);
    ck_assert(memcmp(buf, again, sizeof buf) == 0);
    /* unknown bits, a count that is never missing, var without its sum,
     * min/max without their index or the index alone */
    const unsigned char bad[] = {0x80, 0x20, H5CL_FIG_COUNT, H5CL_FIG_SUM,
                                 H5CL_FIG_MINMAX, H5CL_FIG_ARG};
    for (size_t k = 0; k < sizeof bad; k++) {
        buf[5] = bad[k];
        ck_assert_msg(h5cl_stats_state_deserialize(buf, sizeof buf, &back) ==
                          H5CL_ERR_BAD_STATE,
                      "mask 0x%x accepted", bad[k]);
    }
    /* every valid mask round-trips */
    for (size_t k = 0; k < NSETS; k++) {
        s.missing = want_missing(sets[k]);
        h5cl_stats_state_serialize(&s, buf);
        ck_assert_int_eq(h5cl_stats_state_deserialize(buf, sizeof buf, &back),
                         H5CL_OK);
        ck_assert_uint_eq(back.missing, s.missing);
    }
}
END_TEST

/* Per-axis runs hold every figure whatever was asked; whole results of a
 * sum-only run round-trip through their byte form; bad flags fail. */
START_TEST(test_axis_result_flags)
{
    const uint64_t dims[2] = {300, 16};
    tu_array a;
    tu_rng r;
    h5cl_run_options o;
    h5cl_stats *st = NULL;
    tu_rng_seed(&r, 5);
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(&a, &r, 0.01);
    h5cl_dataset *ds = write_open(&a);
    h5cl_run_options_init(&o);
    ck_assert_uint_eq(o.figures, 0);
    o.figures = H5CL_FIG_SUM;
    o.axis = 0;
    h5cl_stats *ax = tu_compute(ds, &o, "axis 0, sum asked");
    for (size_t i = 0; i < h5cl_stats_count(ax); i++)
        ck_assert_uint_eq(h5cl_stats_get(ax, i)->missing, 0);
    o.axis = -1;
    h5cl_stats *s = tu_compute(ds, &o, "sum");
    size_t nb = h5cl_stats_serialized_size(s);
    unsigned char *buf = tu_alloc(nb);
    ck_assert_int_eq(h5cl_stats_serialize(s, buf, nb), H5CL_OK);
    ck_assert_int_eq(h5cl_stats_deserialize(buf, nb, &st), H5CL_OK);
    ck_assert_uint_eq(h5cl_stats_get(st, 0)->missing,
                      want_missing(H5CL_FIG_SUM));
    h5cl_stats_free(st);
    o.figures = 0x40;
    st = (h5cl_stats *)&o; /* overwritten with NULL on failure */
    ck_assert_int_eq(h5cl_stats_compute(ds, &o, &st),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(st);
    ck_assert(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "H5CL_FIG_"));
}
END_TEST

/* Two contexts share the rows: every lane computes the set, and the merge
 * holds it and equals one context's run. */
START_TEST(test_multi_lanes)
{
    const uint64_t dims[2] = {3000, 40};
    tu_array a;
    tu_rng r;
    h5cl_run_options o;
    h5cl_ctx *c2 = NULL;
    char spec[32];
    h5cl_stats *m = NULL;
    tu_rng_seed(&r, 8);
    tu_array_init(&a, H5CL_INT16, 2, dims);
    tu_fill_random(&a, &r, 0);
    h5cl_dataset *ds = write_open(&a);
    h5cl_dataset_info info;
    ck_assert_int_eq(h5cl_dataset_get_info(ds, &info), H5CL_OK);
    ck_assert_int_eq(h5cl_ctx_create(&c2), H5CL_OK);
    tu_defer((void (*)(void *))h5cl_ctx_destroy, c2);
    snprintf(spec, sizeof spec, "%u:%u", tu_dev.platform_index,
             tu_dev.device_index);
    ck_assert_int_eq(h5cl_ctx_use_device(c2, spec), H5CL_OK);
    h5cl_ctx *ctxs[2] = {tu_ctx, c2};
    h5cl_run_options_init(&o);
    o.tile_bytes = 16 << 10;
    o.figures = H5CL_FIG_SUM;
    h5cl_stats *one = tu_compute(ds, &o, "one context");
    ck_assert_msg(h5cl_multi_stats(ctxs, 2, info.file, info.path, &o, &m) ==
                      H5CL_OK,
                  "%s", h5cl_ctx_errmsg(tu_ctx));
    const h5cl_stats_state *got = h5cl_stats_get(m, 0),
                           *want = h5cl_stats_get(one, 0);
    ck_assert_uint_eq(got->missing, want_missing(H5CL_FIG_SUM));
    ck_assert(got->count == want->count && got->sum.i == want->sum.i &&
              got->sum_hi == want->sum_hi);
    ck_assert(got->argmin == H5CL_ARG_NONE);
    h5cl_stats_free(m);
}
END_TEST

Suite *figures_suite(void)
{
    Suite *s = suite_create("figures");
    TCase *tc = tcase_create("runs");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_sets_dtypes, 0, (int)NRUNS);
    tcase_add_test(tc, test_infinities);
    tcase_add_test(tc, test_axis_result_flags);
    tcase_add_test(tc, test_multi_lanes);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_test(tc, test_merge_intersection);
    tcase_add_test(tc, test_serialize_missing);
    suite_add_tcase(s, tc);
    return s;
}
