/*
 * Scaling out: shares of a selection (h5cl_dataset_split on chunk
 * boundaries, h5cl_ctx_set_share), their partial results merged against
 * the single run, multi-device runs over two contexts on the one PoCL
 * device (h5cl_multi_*, their errors and cancellation), and virtual
 * datasets joining per-share maps.
 *
 * "Equal" means: counts, NaN counts, integer sums (all 128 bits), min,
 * max and the first-occurrence argmin/argmax bit for bit, histogram
 * counts bit for bit; float sums, means and m2 within 1e-12 relative on
 * fp64 devices (1e-6 without), the same bound tu_tolerance gives the
 * single run against its long-double reference: the shares add the same
 * numbers in another grouping, and the compensated sums leave only the
 * last bits to differ.  Covariances within 1e-9 relative to the largest
 * entry (Chan's merge of SYRK sums taken around other shifts).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"

/* Writes a as /data of FILE (chunk NULL: contiguous). */
static const char *write_file(const char *name, tu_array *a,
                              const uint64_t *chunk)
{
    tu_write_opts w;
    tu_write_opts_init(&w);
    if (chunk) {
        w.layout = H5CL_LAYOUT_CHUNKED;
        for (int d = 0; d < a->rank; d++)
            w.chunk[d] = chunk[d];
    }
    const char *file = tu_path(name);
    tu_write(file, "/data", a, &w);
    return file;
}

static h5cl_ctx *second_ctx(void)
{
    h5cl_ctx *c = NULL;
    ck_assert_int_eq(h5cl_ctx_create(&c), H5CL_OK);
    tu_defer((void (*)(void *))h5cl_ctx_destroy, c);
    char spec[32];
    snprintf(spec, sizeof spec, "%u:%u", tu_dev.platform_index,
             tu_dev.device_index);
    ck_assert_msg(h5cl_ctx_use_device(c, spec) == H5CL_OK, "%s",
                  h5cl_ctx_errmsg(c));
    return c;
}

static int rel_close(double a, double b, double rel)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= rel * fmax(fmax(fabs(a), fabs(b)), 1e-300);
}

/* The equality of the file comment, state by state. */
static void check_same_state(const h5cl_stats_state *got,
                             const h5cl_stats_state *want, double rel,
                             const char *what)
{
    ck_assert_msg(got->kind == want->kind && got->count == want->count &&
                      got->nan_count == want->nan_count &&
                      got->overflow == want->overflow,
                  "%s: kind/count/nan/overflow differ", what);
    ck_assert_msg(got->argmin == want->argmin && got->argmax == want->argmax,
                  "%s: argmin %llu/%llu argmax %llu/%llu", what,
                  (unsigned long long)got->argmin,
                  (unsigned long long)want->argmin,
                  (unsigned long long)got->argmax,
                  (unsigned long long)want->argmax);
    ck_assert_msg(memcmp(&got->min, &want->min, sizeof got->min) == 0 &&
                      memcmp(&got->max, &want->max, sizeof got->max) == 0,
                  "%s: min/max differ", what);
    if (want->kind != H5CL_KIND_FLOAT)
        ck_assert_msg(got->sum.u == want->sum.u &&
                          got->sum_hi == want->sum_hi &&
                          h5cl_stats_state_mean(got) ==
                              h5cl_stats_state_mean(want),
                      "%s: integer sum differs", what);
    else
        ck_assert_msg(rel_close(h5cl_stats_state_sum(got),
                                h5cl_stats_state_sum(want), rel),
                      "%s: sum %.17g vs %.17g", what,
                      h5cl_stats_state_sum(got), h5cl_stats_state_sum(want));
    ck_assert_msg(rel_close(got->mean, want->mean, rel) &&
                      rel_close(got->m2, want->m2, rel * 1e3),
                  "%s: mean %.17g/%.17g m2 %.17g/%.17g", what, got->mean,
                  want->mean, got->m2, want->m2);
}

static void check_same_stats(const h5cl_stats *got, const h5cl_stats *want,
                             const char *what)
{
    const double rel = tu_dev.has_fp64 ? 1e-12 : 1e-6;
    uint64_t gd[H5CL_MAX_RANK], wd[H5CL_MAX_RANK];
    const int gr = h5cl_stats_shape(got, gd), wr = h5cl_stats_shape(want, wd);
    ck_assert_int_eq(gr, wr);
    ck_assert(memcmp(gd, wd, (size_t)gr * sizeof *gd) == 0);
    ck_assert_uint_eq(h5cl_stats_count(got), h5cl_stats_count(want));
    for (size_t i = 0; i < h5cl_stats_count(want); i++) {
        char w[160];
        snprintf(w, sizeof w, "%s, state %zu", what, i);
        check_same_state(h5cl_stats_get(got, i), h5cl_stats_get(want, i),
                         rel, w);
    }
}

/* ---- split ----------------------------------------------------------- */

START_TEST(test_split_bounds)
{
    tu_array a;
    const uint64_t dims[2] = {100, 3}, chunk[2] = {7, 3};
    tu_array_init(&a, H5CL_INT16, 2, dims);
    h5cl_dataset *ch = tu_open(tu_ctx, write_file("s.h5", &a, chunk), "/data");
    h5cl_dataset *co = tu_open(tu_ctx, write_file("c.h5", &a, NULL), "/data");
    uint64_t b[40];
    size_t n;
    /* rows 3..95: boundaries on multiples of 7, nearly even */
    ck_assert_int_eq(h5cl_dataset_split(ch, "3:95", 4, b, &n), H5CL_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(b[0], 0);
    ck_assert_uint_eq(b[n], 92);
    for (size_t i = 1; i < n; i++) {
        ck_assert_uint_gt(b[i], b[i - 1]);
        ck_assert_uint_eq((3 + b[i]) % 7, 0);
        ck_assert_uint_le(b[i] - b[i - 1], 35);
    }
    /* more shares asked than chunk rows touched (14): one per chunk row */
    ck_assert_int_eq(h5cl_dataset_split(ch, NULL, 39, b, &n), H5CL_OK);
    ck_assert_uint_eq(n, 15);
    ck_assert_uint_eq(b[1], 7);
    ck_assert_uint_eq(b[15], 100);
    /* contiguous: any row */
    ck_assert_int_eq(h5cl_dataset_split(co, "1:8", 3, b, &n), H5CL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert(b[0] == 0 && b[1] == 2 && b[2] == 4 && b[3] == 7);
    /* an empty selection: one empty share */
    ck_assert_int_eq(h5cl_dataset_split(co, "5:5", 3, b, &n), H5CL_OK);
    ck_assert(n == 1 && b[0] == 0 && b[1] == 0);
    ck_assert_int_eq(h5cl_dataset_split(co, "1:2:3", 3, b, &n),
                     H5CL_ERR_SELECTION);
    ck_assert_int_eq(h5cl_dataset_split(co, NULL, 0, b, &n),
                     H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- shares merged against the single run ---------------------------- */

/* Runs opts over every share of the selection on tu_ctx and merges. */
static h5cl_stats *run_shares(h5cl_dataset *ds, const h5cl_run_options *o,
                              size_t nshares)
{
    uint64_t b[16];
    size_t n;
    ck_assert_int_eq(h5cl_dataset_split(ds, o->select, nshares, b, &n),
                     H5CL_OK);
    h5cl_stats *acc = NULL;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, b[i], b[i + 1]), H5CL_OK);
        h5cl_stats *part = NULL;
        ck_assert_msg(h5cl_stats_compute(ds, o, &part) == H5CL_OK, "%s",
                      h5cl_ctx_errmsg(tu_ctx));
        if (!acc) {
            acc = part;
            continue;
        }
        ck_assert_int_eq(h5cl_stats_merge(acc, part), H5CL_OK);
        h5cl_stats_free(part);
    }
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 0, UINT64_MAX), H5CL_OK);
    tu_defer((void (*)(void *))h5cl_stats_free, acc);
    return acc;
}

static const h5cl_dtype share_types[] = {H5CL_INT32, H5CL_UINT8,
                                         H5CL_FLOAT64, H5CL_FLOAT32};

START_TEST(test_shares_merge)
{
    const h5cl_dtype dt = share_types[_i];
    if (dt == H5CL_FLOAT64 && !tu_dev.has_fp64)
        return;
    tu_rng r;
    tu_rng_seed(&r, 900 + (uint64_t)_i);
    tu_array a;
    const uint64_t dims[3] = {61, 5, 4}, chunk[3] = {6, 5, 2};
    tu_array_init(&a, dt, 3, dims);
    tu_fill_random(&a, &r, 0.02);
    tu_plant_extrema(&a, &r);
    h5cl_dataset *ds = tu_open(tu_ctx, write_file("m.h5", &a, chunk), "/data");
    const char *sels[] = {NULL, "4:59,1:5,:", "-20:"};
    for (size_t s = 0; s < 3; s++)
        for (int axis = -1; axis <= 0; axis++) {
            h5cl_run_options o;
            h5cl_run_options_init(&o);
            o.select = sels[s];
            o.axis = axis;
            o.tile_bytes = 256;
            char what[96];
            snprintf(what, sizeof what, "%s select %s axis %d",
                     h5cl_dtype_name(dt), sels[s] ? sels[s] : "all", axis);
            h5cl_stats *whole = tu_compute(ds, &o, what);
            h5cl_stats *merged = run_shares(ds, &o, 4);
            check_same_stats(merged, whole, what);
            /* and through the byte form, as between processes */
            const size_t nb = h5cl_stats_serialized_size(merged);
            unsigned char *buf = tu_alloc(nb);
            h5cl_stats *back = NULL;
            ck_assert_int_eq(h5cl_stats_serialize(merged, buf, nb), H5CL_OK);
            ck_assert_int_eq(h5cl_stats_deserialize(buf, nb, &back), H5CL_OK);
            check_same_stats(back, whole, what);
            h5cl_stats_free(back);
            buf[nb / 2] ^= 1;
            ck_assert_int_eq(h5cl_stats_deserialize(buf, nb, &back),
                             H5CL_ERR_BAD_STATE);
            ck_assert_int_eq(h5cl_stats_deserialize(buf, nb - 1, &back),
                             H5CL_ERR_BAD_STATE);
            ck_assert_ptr_null(back);
            /* and the single run is the reference's */
            if (!sels[s])
                tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev),
                                 what);
        }
}
END_TEST

START_TEST(test_share_errors)
{
    tu_array a;
    const uint64_t dims[2] = {10, 4};
    tu_array_init(&a, H5CL_INT32, 2, dims);
    h5cl_dataset *ds = tu_open(tu_ctx, write_file("e.h5", &a, NULL), "/data");
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 5, 4),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 2, 6), H5CL_OK);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.axis = 1;
    h5cl_stats *s = NULL;
    ck_assert_int_eq(h5cl_stats_compute(ds, &o, &s), H5CL_ERR_AXIS);
    ck_assert(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "share"));
    /* a share past the selection's end is empty, not an error */
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 50, 60), H5CL_OK);
    o.axis = -1;
    ck_assert_int_eq(h5cl_stats_compute(ds, &o, &s), H5CL_OK);
    ck_assert_uint_eq(h5cl_stats_get(s, 0)->count, 0);
    h5cl_stats_free(s);
    /* merging results of other shapes is refused */
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 0, UINT64_MAX), H5CL_OK);
    h5cl_stats *whole = tu_compute(ds, &o, "whole");
    o.axis = 0;
    h5cl_stats *per = tu_compute(ds, &o, "axis 0");
    ck_assert_int_eq(h5cl_stats_merge(whole, per), H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- several contexts ------------------------------------------------- */

START_TEST(test_multi_stats_hist)
{
    tu_rng r;
    tu_rng_seed(&r, 77);
    tu_array a;
    const uint64_t dims[2] = {3000, 40}, chunk[2] = {50, 40};
    tu_array_init(&a, H5CL_INT32, 2, dims);
    tu_fill_random(&a, &r, 0);
    tu_plant_extrema(&a, &r);
    const char *file = write_file("d.h5", &a, chunk);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/data");
    h5cl_ctx *ctxs[2] = {tu_ctx, second_ctx()};
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 16 << 10; /* 30 shares of 8 tiles for 2 queues */
    for (int axis = -1; axis <= 0; axis++) {
        o.axis = axis;
        o.select = axis < 0 ? "17:2990" : NULL;
        h5cl_stats *whole = tu_compute(ds, &o, "single");
        h5cl_stats *m = NULL;
        ck_assert_msg(h5cl_multi_stats(ctxs, 2, file, "/data", &o, &m) ==
                          H5CL_OK,
                      "%s", h5cl_ctx_errmsg(tu_ctx));
        check_same_stats(m, whole, axis < 0 ? "multi whole" : "multi axis 0");
        ck_assert_uint_eq(h5cl_stats_summary(m)->bytes,
                          h5cl_stats_summary(whole)->bytes);
        h5cl_stats_free(m);
    }
    /* histograms: the range from the data, and a given one */
    o.axis = -1;
    o.select = NULL;
    for (int given = 0; given <= 1; given++) {
        h5cl_hist_options ho;
        h5cl_hist_options_init(&ho);
        ho.bins = 37;
        ho.range_set = given;
        ho.lo = -1e9;
        ho.hi = 1.5e9;
        h5cl_hist *one = NULL, *m = NULL;
        ck_assert_int_eq(h5cl_hist_compute(ds, &o, &ho, &one), H5CL_OK);
        ck_assert_msg(h5cl_multi_hist(ctxs, 2, file, "/data", &o, &ho, &m) ==
                          H5CL_OK,
                      "%s", h5cl_ctx_errmsg(tu_ctx));
        double l1, h1, l2, h2;
        int f1, f2;
        h5cl_hist_range(one, &l1, &h1, &f1);
        h5cl_hist_range(m, &l2, &h2, &f2);
        ck_assert(l1 == l2 && h1 == h2 && f1 == f2 && f1 == !given);
        ck_assert(memcmp(h5cl_hist_counts(one, 0), h5cl_hist_counts(m, 0),
                         37 * sizeof(uint64_t)) == 0);
        uint64_t n1[3], n2[3];
        h5cl_hist_outside(one, 0, &n1[0], &n1[1], &n1[2]);
        h5cl_hist_outside(m, 0, &n2[0], &n2[1], &n2[2]);
        ck_assert(memcmp(n1, n2, sizeof n1) == 0);
        ck_assert_uint_eq(h5cl_hist_summary(m)->bytes,
                          h5cl_hist_summary(one)->bytes);
        h5cl_hist_free(one);
        h5cl_hist_free(m);
    }
}
END_TEST

START_TEST(test_multi_cov_errors)
{
    tu_rng r;
    tu_rng_seed(&r, 78);
    tu_array a;
    const uint64_t dims[2] = {4000, 6};
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(&a, &r, 0);
    const char *file = write_file("v.h5", &a, NULL);
    h5cl_dataset *ds = tu_open(tu_ctx, file, "/data");
    h5cl_ctx *ctxs[2] = {tu_ctx, second_ctx()};
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 8 << 10;
    h5cl_cov *one = NULL, *m = NULL;
    ck_assert_int_eq(h5cl_cov_compute(ds, &o, &one), H5CL_OK);
    ck_assert_msg(h5cl_multi_cov(ctxs, 2, file, "/data", &o, &m) == H5CL_OK,
                  "%s", h5cl_ctx_errmsg(tu_ctx));
    ck_assert_uint_eq(h5cl_cov_rows(m), 4000);
    double c1[36], c2[36], big = 0;
    ck_assert_int_eq(h5cl_cov_matrix(one, 1, c1), H5CL_OK);
    ck_assert_int_eq(h5cl_cov_matrix(m, 1, c2), H5CL_OK);
    for (int i = 0; i < 36; i++)
        big = fmax(big, fabs(c1[i]));
    for (int i = 0; i < 36; i++)
        ck_assert_msg(fabs(c1[i] - c2[i]) <= 1e-9 * big, "cov[%d] %.17g %.17g",
                      i, c1[i], c2[i]);
    h5cl_cov_free(one);
    h5cl_cov_free(m);
    /* a failure names the context and leaves no share behind */
    h5cl_stats *s = NULL;
    ck_assert_int_eq(h5cl_multi_stats(ctxs, 2, file, "/nope", &o, &s),
                     H5CL_ERR_DATASET_NOT_FOUND);
    ck_assert_ptr_null(s);
    ck_assert(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "context 0"));
    h5cl_binding with = {"y", ds};
    o.with = &with;
    o.nwith = 1;
    o.expr = "x + y";
    ck_assert_int_eq(h5cl_multi_stats(ctxs, 2, file, "/data", &o, &s),
                     H5CL_ERR_INVALID_ARGUMENT);
    h5cl_ctx *same[2] = {tu_ctx, tu_ctx};
    ck_assert_int_eq(h5cl_multi_stats(same, 2, file, "/data", NULL, &s),
                     H5CL_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- maps over shares, joined ---------------------------------------- */

START_TEST(test_map_join)
{
    tu_rng r;
    tu_rng_seed(&r, 79);
    tu_array a;
    const uint64_t dims[2] = {90, 7}, chunk[2] = {10, 7};
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(&a, &r, 0);
    h5cl_dataset *ds = tu_open(tu_ctx, write_file("in.h5", &a, chunk), "/data");
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.expr = "x * 2 + 1";
    o.select = "5:,2:7";
    uint64_t b[4];
    size_t n;
    ck_assert_int_eq(h5cl_dataset_split(ds, o.select, 3, b, &n), H5CL_OK);
    ck_assert_uint_eq(n, 3);
    const char *parts[3];
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "part%zu.h5", i);
        parts[i] = strdup(tu_path(name));
        tu_defer(free, (void *)parts[i]);
        h5cl_map_options m;
        h5cl_map_options_init(&m);
        m.out_file = parts[i];
        m.out_path = "/y";
        ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, b[i], b[i + 1]), H5CL_OK);
        ck_assert_msg(h5cl_map_run(ds, &o, &m, NULL) == H5CL_OK, "%s",
                      h5cl_ctx_errmsg(tu_ctx));
    }
    ck_assert_int_eq(h5cl_ctx_set_share(tu_ctx, 0, UINT64_MAX), H5CL_OK);
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_file = tu_path("whole.h5");
    m.out_path = "/y";
    ck_assert_int_eq(h5cl_map_run(ds, &o, &m, NULL), H5CL_OK);
    m.out_file = tu_path("joined.h5");
    m.out_path = "/g/y";
    ck_assert_msg(h5cl_map_join(tu_ctx, parts, n, "/y", &m) == H5CL_OK, "%s",
                  h5cl_ctx_errmsg(tu_ctx));
    tu_array want, got;
    tu_read(tu_path("whole.h5"), "/y", &want);
    tu_read(tu_path("joined.h5"), "/g/y", &got);
    ck_assert_int_eq(got.rank, 2);
    ck_assert(got.dims[0] == 85 && got.dims[1] == 5);
    ck_assert(memcmp(got.data, want.data, 85 * 5 * sizeof(float)) == 0);
    /* the virtual dataset is h5cl input like any other */
    h5cl_dataset *j = tu_open(tu_ctx, tu_path("joined.h5"), "/g/y");
    h5cl_run_options plain;
    h5cl_run_options_init(&plain);
    h5cl_stats *s = tu_compute(j, &plain, "joined");
    ck_assert_uint_eq(h5cl_stats_get(s, 0)->count, 85 * 5);
    tu_release(j); /* HDF5 opens no file for writing that is open to read */
    /* the rules of outputs */
    ck_assert_int_eq(h5cl_map_join(tu_ctx, parts, n, "/y", &m),
                     H5CL_ERR_EXISTS);
    m.overwrite = 1;
    ck_assert_int_eq(h5cl_map_join(tu_ctx, parts, 2, "/y", &m), H5CL_OK);
    m.out_file = parts[1];
    ck_assert_int_eq(h5cl_map_join(tu_ctx, parts, n, "/y", &m),
                     H5CL_ERR_OUTPUT_IS_INPUT);
    /* by any name: a hard link to a source is that source */
    ck_assert(link(parts[1], tu_path("hard.h5")) == 0);
    m.out_file = tu_path("hard.h5");
    ck_assert_int_eq(h5cl_map_join(tu_ctx, parts, n, "/y", &m),
                     H5CL_ERR_OUTPUT_IS_INPUT);
    m.out_file = tu_path("other.h5");
    ck_assert_int_eq(h5cl_map_join(tu_ctx, parts, n, "/nope", &m),
                     H5CL_ERR_DATASET_NOT_FOUND);
    const char *mixed[2] = {parts[0], tu_path("in.h5")};
    ck_assert_int_eq(h5cl_map_join(tu_ctx, mixed, 2, "/y", &m),
                     H5CL_ERR_DATASET_NOT_FOUND);
}
END_TEST

typedef struct spinner {
    h5cl_ctx *ctx;
    atomic_int stop;
} spinner;

/* Cancels the context over and over until told to stop: whichever moment
 * the run is in (a tile, or between two shares), the flag is up. */
static void *spin_cancel(void *p)
{
    spinner *s = p;
    while (!atomic_load(&s->stop))
        h5cl_cancel(s->ctx);
    return NULL;
}

START_TEST(test_multi_cancel)
{
    tu_array a;
    const uint64_t dims[2] = {8000, 128};
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    const char *file = write_file("cancel.h5", &a, NULL);
    h5cl_ctx *ctxs[2] = {tu_ctx, second_ctx()};
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4 << 10; /* 1000 tiles */
    spinner sp = {ctxs[1], 0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, spin_cancel, &sp), 0);
    h5cl_stats *m = NULL;
    const int st = h5cl_multi_stats(ctxs, 2, file, "/data", &o, &m);
    atomic_store(&sp.stop, 1);
    pthread_join(t, NULL);
    ck_assert_int_eq(st, H5CL_ERR_CANCELLED);
    ck_assert_ptr_null(m);
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "context 1"), "%s",
                  h5cl_ctx_errmsg(tu_ctx));
    /* the contexts are usable again */
    ck_assert_int_eq(h5cl_multi_stats(ctxs, 2, file, "/data", &o, &m),
                     H5CL_OK);
    ck_assert_uint_eq(h5cl_stats_get(m, 0)->count, 8000 * 128);
    h5cl_stats_free(m);
}
END_TEST

/* Contexts whose devices open inside the lanes, at once: the first
 * enumeration in a process raced in the ICD loader and PoCL (no device
 * found, or a crash) before lib/device.c serialised it.  This test case
 * has no context fixture, so nothing enumerated before the lanes. */
START_TEST(test_multi_fresh_contexts)
{
    tu_array a;
    const uint64_t dims[1] = {50000};
    tu_array_init(&a, H5CL_UINT16, 1, dims);
    for (uint64_t i = 0; i < dims[0]; i++)
        tu_set_u(&a, i, (i * 7919) % 60000);
    const char *file = write_file("fresh.h5", &a, NULL);
    h5cl_ctx *ctxs[3];
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(h5cl_ctx_create(&ctxs[k]), H5CL_OK);
        tu_defer((void (*)(void *))h5cl_ctx_destroy, ctxs[k]);
    }
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4 << 10;
    h5cl_stats *m = NULL;
    ck_assert_msg(h5cl_multi_stats(ctxs, 3, file, "/data", &o, &m) == H5CL_OK,
                  "%s", h5cl_ctx_errmsg(ctxs[0]));
    const h5cl_stats_state *s = h5cl_stats_get(m, 0);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < dims[0]; i++)
        sum += (i * 7919) % 60000;
    ck_assert_uint_eq(s->count, dims[0]);
    ck_assert_uint_eq(s->sum.u, sum);
    ck_assert_uint_eq(s->argmin, 0);
    h5cl_stats_free(m);
}
END_TEST

/* Two contexts' first SYRK at once, in a process that has not called
 * CLBlast before: CLBlast fills its process-wide tables on first use, and
 * two lanes doing that together crashed inside CLBlast about one run in 40
 * (scale-check's `h5cl cov --device 0:0,0:0`) before lib/blas.c serialised
 * the calls.  Only a process's first calls race, so each round is a child
 * of this test, which itself never opens OpenCL (so not under CK_FORK=no,
 * where earlier tests have). */
static int cov_child(const char *file)
{
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 16 << 10;
    h5cl_ctx *ctxs[2] = {NULL, NULL};
    h5cl_cov *m = NULL;
    int ok = h5cl_ctx_create(&ctxs[0]) == H5CL_OK &&
             h5cl_ctx_create(&ctxs[1]) == H5CL_OK &&
             h5cl_multi_cov(ctxs, 2, file, "/data", &o, &m) == H5CL_OK &&
             h5cl_cov_rows(m) == 997;
    h5cl_cov_free(m);
    h5cl_ctx_destroy(ctxs[0]);
    h5cl_ctx_destroy(ctxs[1]);
    return ok ? 0 : 1;
}

START_TEST(test_multi_cov_first_calls)
{
    if (!tu_runner_forks())
        return;
    tu_array a;
    const uint64_t dims[2] = {997, 6}, chunk[2] = {32, 6};
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    for (uint64_t i = 0; i < dims[0] * dims[1]; i++)
        tu_set_f(&a, i, (double)((i * 7919) % 1000) / 7.0);
    const char *file = write_file("cov.h5", &a, chunk);
    for (int round = 0; round < 30; round++) {
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(cov_child(file));
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "round %d: child %s %d", round,
                      WIFSIGNALED(status) ? "killed by signal" : "exited",
                      WIFSIGNALED(status) ? WTERMSIG(status)
                                          : WEXITSTATUS(status));
    }
}
END_TEST

Suite *scale_suite(void)
{
    Suite *s = suite_create("scale");
    TCase *tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_split_bounds);
    tcase_add_loop_test(tc, test_shares_merge, 0,
                        (int)(sizeof share_types / sizeof *share_types));
    tcase_add_test(tc, test_share_errors);
    tcase_add_test(tc, test_multi_stats_hist);
    tcase_add_test(tc, test_multi_cov_errors);
    tcase_add_test(tc, test_map_join);
    tcase_add_test(tc, test_multi_cancel);
    suite_add_tcase(s, tc);
    TCase *fresh = tcase_create("scale_fresh");
    tcase_add_checked_fixture(fresh, tu_setup, tu_teardown);
    tcase_set_timeout(fresh, TU_TIMEOUT);
    tcase_add_test(fresh, test_multi_fresh_contexts);
    tcase_add_test(fresh, test_multi_cov_first_calls);
    suite_add_tcase(s, fresh);
    return s;
}
