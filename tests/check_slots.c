/*
 * A context's slot buffers are kept between runs (lib/slots.h): a second
 * run with the same or smaller tiles makes none, a larger run replaces
 * them, a failed run or h5cl_ctx_trim() leaves none, and what a run leaves
 * in them never reaches the next run's results.  Buffers made are counted
 * through the internal h5cl_slot_counts().
 *
 * Each test runs over the kinds of slot buffer (loop index):
 *   0 zero-copy pages, which the device reads in place (H5CL_ZERO_COPY=1:
 *     PoCL's own choice), with H5CL_MMAP=0 so tiles are read into the
 *     slots rather than mapped from the file;
 *   1 pinned host slots and device buffers, the path NVIDIA takes
 *     (H5CL_PATTERN=interleaved H5CL_ZERO_COPY=0 on PoCL);
 *   2 and 3 the same two with the input read by the isolated reader
 *     child into pages shared with it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "slots.h"

#define N_LONG 300000u
#define N_SHORT 100003u /* not a multiple of the tile's elements */
#define TILE (256u * 1024u)
#define NSLOTS 3u

#define NMODES 4

static const char *const mode_names[] = {"zero-copy", "pinned",
                                         "isolated zero-copy",
                                         "isolated pinned"};

/* Sets the environment and isolation of mode `m` (see the top). */
static void use_mode(int m)
{
    if (m % 2 == 0) {
        tu_setenv("H5CL_ZERO_COPY", "1");
        tu_setenv("H5CL_MMAP", "0");
    } else {
        tu_setenv("H5CL_PATTERN", "interleaved");
        tu_setenv("H5CL_ZERO_COPY", "0");
    }
    h5cl_isolation iso;
    h5cl_isolation_init(&iso);
    iso.enabled = m >= 2;
    ck_assert_int_eq(h5cl_ctx_set_isolation(tu_ctx, &iso), H5CL_OK);
}

/* float64 values in [lo, lo + 1000) as /x of a new chunked file. */
static h5cl_dataset *make(tu_array *a, uint64_t n, double lo, const char *file,
                          uint64_t seed)
{
    tu_write_opts w;
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, H5CL_FLOAT64, 1, &n);
    for (uint64_t i = 0; i < n; i++)
        tu_set_f(a, i, lo + 1000.0 * tu_rng_unit(&r));
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = 4096;
    tu_write(tu_path(file), "/x", a, &w);
    return tu_open(tu_ctx, tu_path(file), "/x");
}

static void opts_tiles(h5cl_run_options *o, uint64_t tile_bytes)
{
    h5cl_run_options_init(o);
    o->tile_bytes = tile_bytes;
    o->slots = NSLOTS;
}

static uint64_t made(void)
{
    uint64_t m;
    size_t c;
    h5cl_slot_counts(tu_ctx, &m, &c);
    return m;
}

static size_t cached(void)
{
    uint64_t m;
    size_t c;
    h5cl_slot_counts(tu_ctx, &m, &c);
    return c;
}

/* The serialised result, for bit-for-bit comparisons. */
static void state_bytes(const h5cl_stats *s, unsigned char *out)
{
    ck_assert_uint_eq(h5cl_stats_count(s), 1);
    h5cl_stats_state_serialize(h5cl_stats_get(s, 0), out);
}

/* Same tiles: nothing made, a bit-identical result; smaller tiles reuse
 * the bigger buffers; larger ones replace them; trim empties the cache. */
START_TEST(test_reuse)
{
    use_mode(_i);
    const char *what = mode_names[_i];
    tu_array a;
    h5cl_dataset *ds = make(&a, N_LONG, 0, "r.h5", 11);
    h5cl_run_options o;
    unsigned char first[H5CL_STATS_STATE_BYTES], again[H5CL_STATS_STATE_BYTES];

    opts_tiles(&o, TILE);
    ck_assert_uint_eq(cached(), 0);
    state_bytes(tu_compute(ds, &o, what), first);
    ck_assert_uint_eq(made(), NSLOTS);
    ck_assert_uint_eq(cached(), NSLOTS);

    state_bytes(tu_compute(ds, &o, what), again);
    ck_assert_msg(made() == NSLOTS, "%s: a second run made %llu buffers",
                  what, (unsigned long long)(made() - NSLOTS));
    ck_assert_msg(memcmp(first, again, sizeof first) == 0,
                  "%s: the run on reused buffers differs", what);

    opts_tiles(&o, TILE / 4);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), what);
    ck_assert_uint_eq(made(), NSLOTS);
    ck_assert_uint_eq(cached(), NSLOTS);

    opts_tiles(&o, TILE * 2);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), what);
    ck_assert_uint_eq(made(), 2 * NSLOTS);
    ck_assert_uint_eq(cached(), NSLOTS); /* the small ones were freed */

    h5cl_ctx_trim(tu_ctx);
    ck_assert_uint_eq(cached(), 0);
    opts_tiles(&o, TILE);
    state_bytes(tu_compute(ds, &o, what), again);
    ck_assert_uint_eq(made(), 3 * NSLOTS);
    ck_assert(memcmp(first, again, sizeof first) == 0);
    h5cl_ctx_trim(NULL);
}
END_TEST

/* A shorter dataset of smaller values after a longer one, on the same
 * buffers: statistics and a map's output hold nothing of the first. */
START_TEST(test_no_stale_data)
{
    use_mode(_i);
    const char *what = mode_names[_i];
    tu_array big, small;
    h5cl_dataset *ds_big = make(&big, N_LONG, 1e6, "big.h5", 12);
    h5cl_dataset *ds_small = make(&small, N_SHORT, 0, "small.h5", 13);
    h5cl_run_options o;
    opts_tiles(&o, TILE);
    h5cl_map_options m;
    h5cl_map_options_init(&m);
    m.out_file = tu_path("out.h5");
    o.expr = "x * 2 + 1";

    m.out_path = "/big";
    ck_assert_int_eq(h5cl_map_run(ds_big, &o, &m, NULL), H5CL_OK);
    const uint64_t after_big = made();
    ck_assert_uint_eq(after_big, 2 * NSLOTS); /* input and output slots */
    m.out_path = "/small";
    ck_assert_msg(h5cl_map_run(ds_small, &o, &m, NULL) == H5CL_OK, "%s: %s",
                  what, h5cl_ctx_errmsg(tu_ctx));
    ck_assert_uint_eq(made(), after_big);
    tu_array out;
    tu_read(tu_path("out.h5"), "/small", &out);
    ck_assert_uint_eq(out.n, N_SHORT);
    for (uint64_t i = 0; i < N_SHORT; i++)
        ck_assert_msg(tu_get_f(&out, i) == tu_get_f(&small, i) * 2 + 1,
                      "%s: element %llu is %.17g", what, (unsigned long long)i,
                      tu_get_f(&out, i));

    o.expr = NULL;
    tu_compute_check(ds_big, &o, &big, NULL, tu_tolerance(&tu_dev), what);
    tu_compute_check(ds_small, &o, &small, NULL, tu_tolerance(&tu_dev), what);
}
END_TEST

static int cancel_at_2(uint64_t done, uint64_t total, uint64_t bytes,
                       void *user)
{
    return done == 2;
}

/* A run that fails while it holds its buffers frees them all and leaves
 * the cache empty; the next run makes its own and gives the same result
 * bit for bit. */
START_TEST(test_failed_run_keeps_nothing)
{
    use_mode(_i);
    const char *what = mode_names[_i];
    tu_array a;
    h5cl_dataset *ds = make(&a, N_LONG, 0, "f.h5", 14);
    h5cl_run_options o;
    unsigned char first[H5CL_STATS_STATE_BYTES], again[H5CL_STATS_STATE_BYTES];
    opts_tiles(&o, TILE);
    state_bytes(tu_compute(ds, &o, what), first);
    ck_assert_uint_eq(cached(), NSLOTS);

    h5cl_stats *s = NULL;
    o.progress = cancel_at_2;
    ck_assert_int_eq(h5cl_stats_compute(ds, &o, &s), H5CL_ERR_CANCELLED);
    ck_assert_uint_eq(cached(), 0);
    ck_assert_uint_eq(made(), NSLOTS); /* it ran on the cached ones */

    o.progress = NULL;
    state_bytes(tu_compute(ds, &o, what), again);
    ck_assert_uint_eq(made(), 2 * NSLOTS);
    ck_assert_msg(memcmp(first, again, sizeof first) == 0,
                  "%s: the run after a failure differs", what);
}
END_TEST

/* Shared slots outlive the reader child: a new child (new limits end the
 * old one) is handed the cached pages and reads into them. */
START_TEST(test_new_child_reuses_pages)
{
    use_mode(2 + _i);
    const char *what = mode_names[2 + _i];
    tu_array a;
    h5cl_dataset *ds = make(&a, N_LONG, 0, "c.h5", 15);
    h5cl_run_options o;
    opts_tiles(&o, TILE);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), what);
    h5cl_isolation iso;
    h5cl_isolation_init(&iso);
    iso.enabled = 1;
    iso.memory_bytes = (uint64_t)1 << 30;
    ck_assert_int_eq(h5cl_ctx_set_isolation(tu_ctx, &iso), H5CL_OK);
    tu_compute_check(ds, &o, &a, NULL, tu_tolerance(&tu_dev), what);
    ck_assert_uint_eq(made(), NSLOTS);
}
END_TEST

Suite *slots_suite(void)
{
    Suite *s = suite_create("slots");
    TCase *tc = tcase_create("reuse");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_reuse, 0, NMODES);
    tcase_add_loop_test(tc, test_no_stale_data, 0, NMODES);
    tcase_add_loop_test(tc, test_failed_run_keeps_nothing, 0, NMODES);
    tcase_add_loop_test(tc, test_new_child_reuses_pages, 0, NMODES - 2);
    suite_add_tcase(s, tc);
    return s;
}
