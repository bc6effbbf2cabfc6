/*
 * Isolated mode (lib/isolate.c, the h5cl-reader helper): results
 * bit-identical to in-process runs for stats, per-axis stats, histograms,
 * maps and covariance over every read path (direct pread, decoded chunks,
 * H5Dread, byte-swapped, partly unallocated with a fill value), and for
 * tiles the child locates and this process maps; a child
 * that crashes, exits, hangs or spins, at open or mid-run, gives
 * H5CL_ERR_CRASHED / TIMEOUT / LIMIT naming the file, the dataset and the
 * signal, and the context stays usable (the next call starts a fresh
 * child and reopens the dataset); no child, zombie or descriptor is left
 * behind; the settings and their errors.
 *
 * Crashes come from the helper's test hook (H5CL_READER_TEST, honoured by
 * the helper only) so they are deterministic without the shared corpus;
 * with the corpus present (../shared/corpus, or $H5CL_CORPUS), files that
 * crash and hang libhdf5 1.10.8 are run too.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"
#include "common.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

static void set_isolation(int on, double wall, uint64_t cpu, uint64_t mem)
{
    h5cl_isolation o;
    h5cl_isolation_init(&o);
    o.enabled = on;
    o.wall_seconds = wall;
    o.cpu_seconds = cpu;
    o.memory_bytes = mem;
    int rc = h5cl_ctx_set_isolation(tu_ctx, &o);
    ck_assert_msg(rc == H5CL_OK, "h5cl_ctx_set_isolation: %s",
                  h5cl_ctx_errmsg(tu_ctx));
}

static h5cl_dataset *open_as(const char *file, const char *path, int isolated)
{
    set_isolation(isolated, 0, 0, 0);
    return tu_open(tu_ctx, file, path);
}

/* Children of this process (any state), and those that are zombies. */
static void count_children(int *alive_ret, int *zombies_ret)
{
    *alive_ret = *zombies_ret = 0;
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')');
        char state;
        long ppid;
        if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 ||
            ppid != (long)getpid())
            continue;
        (*alive_ret)++;
        *zombies_ret += state == 'Z';
    }
    closedir(d);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- bit-identical results ---------------------------------------------- */

typedef struct layout_case {
    const char *what;
    h5cl_dtype dtype;
    h5cl_layout layout;
    int gzip, shuffle, fletcher32, big_endian, partial;
} layout_case;

static const layout_case layouts[] = {
    {"contiguous float32 (direct pread)", H5CL_FLOAT32, H5CL_LAYOUT_CONTIGUOUS,
     0, 0, 0, 0, 0},
    {"chunked deflate+shuffle int16 (decoded chunks)", H5CL_INT16,
     H5CL_LAYOUT_CHUNKED, 4, 1, 0, 0, 0},
    {"chunked big-endian float64 fletcher32 (decoded, swapped)", H5CL_FLOAT64,
     H5CL_LAYOUT_CHUNKED, 1, 0, 1, 1, 0},
    {"compact uint8 (H5Dread)", H5CL_UINT8, H5CL_LAYOUT_COMPACT, 0, 0, 0, 0, 0},
    {"chunked int32, half unallocated with a fill value", H5CL_INT32,
     H5CL_LAYOUT_CHUNKED, 0, 0, 0, 0, 1},
};

static const char *write_case(const layout_case *c, tu_array *a)
{
    const uint64_t dims[2] = {300, 40};
    tu_rng r;
    tu_rng_seed(&r, 6);
    tu_array_init(a, c->dtype, 2, dims);
    tu_fill_random(a, &r, 0.01);
    tu_write_opts o;
    tu_write_opts_init(&o);
    o.layout = c->layout;
    o.gzip = c->gzip;
    o.shuffle = c->shuffle;
    o.fletcher32 = c->fletcher32;
    o.big_endian = c->big_endian;
    if (c->layout == H5CL_LAYOUT_CHUNKED) {
        o.chunk[0] = 32;
        o.chunk[1] = 16;
    }
    if (c->partial) {
        o.has_fill = 1;
        o.fill = -7;
        o.write_rows = 130;
    }
    const char *file = tu_path("in.h5");
    tu_write(file, "/g/d", a, &o);
    return file;
}

static void ser_stats(const h5cl_stats *s, unsigned char *buf, size_t cap,
                      size_t *n_ret)
{
    size_t n = h5cl_stats_count(s);
    ck_assert_uint_le(n * H5CL_STATS_STATE_BYTES, cap);
    for (size_t i = 0; i < n; i++)
        h5cl_stats_state_serialize(h5cl_stats_get(s, i),
                                   buf + i * H5CL_STATS_STATE_BYTES);
    *n_ret = n * H5CL_STATS_STATE_BYTES;
}

static void check_same_stats(h5cl_dataset *a, h5cl_dataset *b, int axis,
                             const char *what)
{
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4096; /* many tiles, several per chunk row */
    o.axis = axis;
    h5cl_stats *sa = tu_compute(a, &o, what);
    h5cl_stats *sb = tu_compute(b, &o, what);
    static unsigned char ba[300 * H5CL_STATS_STATE_BYTES],
        bb[300 * H5CL_STATS_STATE_BYTES];
    size_t na, nb;
    ser_stats(sa, ba, sizeof ba, &na);
    ser_stats(sb, bb, sizeof bb, &nb);
    ck_assert_msg(na == nb && memcmp(ba, bb, na) == 0,
                  "%s: isolated stats (axis %d) differ from in-process", what,
                  axis);
    ck_assert_uint_eq(h5cl_stats_summary(sa)->bytes,
                      h5cl_stats_summary(sb)->bytes);
}

static void check_same_hist(h5cl_dataset *a, h5cl_dataset *b, const char *what)
{
    h5cl_hist_options ho;
    h5cl_hist_options_init(&ho);
    ho.bins = 64;
    h5cl_hist *ha = NULL, *hb = NULL;
    ck_assert_int_eq(h5cl_hist_compute(a, NULL, &ho, &ha), H5CL_OK);
    ck_assert_int_eq(h5cl_hist_compute(b, NULL, &ho, &hb), H5CL_OK);
    size_t n = h5cl_hist_serialized_size(ha);
    ck_assert_uint_eq(n, h5cl_hist_serialized_size(hb));
    unsigned char *sa = tu_alloc(n), *sb = tu_alloc(n);
    ck_assert_int_eq(h5cl_hist_serialize(ha, sa, n), H5CL_OK);
    ck_assert_int_eq(h5cl_hist_serialize(hb, sb, n), H5CL_OK);
    ck_assert_msg(memcmp(sa, sb, n) == 0,
                  "%s: isolated histogram differs from in-process", what);
    h5cl_hist_free(ha);
    h5cl_hist_free(hb);
}

static void check_same_cov(h5cl_dataset *a, h5cl_dataset *b, const char *what)
{
    h5cl_cov *ca = NULL, *cb = NULL;
    ck_assert_int_eq(h5cl_cov_compute(a, NULL, &ca), H5CL_OK);
    ck_assert_int_eq(h5cl_cov_compute(b, NULL, &cb), H5CL_OK);
    size_t n = h5cl_cov_serialized_size(ca);
    unsigned char *sa = tu_alloc(n), *sb = tu_alloc(n);
    ck_assert_int_eq(h5cl_cov_serialize(ca, sa, n), H5CL_OK);
    ck_assert_int_eq(h5cl_cov_serialize(cb, sb, n), H5CL_OK);
    ck_assert_msg(memcmp(sa, sb, n) == 0,
                  "%s: isolated covariance differs from in-process", what);
    h5cl_cov_free(ca);
    h5cl_cov_free(cb);
}

static void map_to(h5cl_dataset *ds, const char *out, tu_array *res)
{
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.expr = "x * 3 - 1";
    o.tile_bytes = 4096;
    h5cl_map_options mo;
    h5cl_map_options_init(&mo);
    mo.out_file = out;
    mo.out_path = "/y";
    mo.dtype = H5CL_FLOAT64;
    int rc = h5cl_map_run(ds, &o, &mo, NULL);
    ck_assert_msg(rc == H5CL_OK, "map: %s", h5cl_ctx_errmsg(tu_ctx));
    tu_read(out, "/y", res);
}

START_TEST(test_identical)
{
    const layout_case *c = &layouts[_i];
    tu_array a;
    const char *file = write_case(c, &a);
    h5cl_dataset *in = open_as(file, "/g/d", 0);
    h5cl_dataset *iso = open_as(file, "/g/d", 1);
    h5cl_dataset_info ia, ib;
    ck_assert_int_eq(h5cl_dataset_get_info(in, &ia), H5CL_OK);
    ck_assert_int_eq(h5cl_dataset_get_info(iso, &ib), H5CL_OK);
    ck_assert_msg(memcmp(&ia, &ib, sizeof ia) == 0,
                  "%s: isolated dataset info differs", c->what);
    check_same_stats(in, iso, -1, c->what);
    check_same_stats(in, iso, 1, c->what);
    check_same_hist(in, iso, c->what);
    check_same_cov(in, iso, c->what);
    tu_array ma, mb;
    map_to(in, tu_path("map_in.h5"), &ma);
    map_to(iso, tu_path("map_iso.h5"), &mb);
    ck_assert_msg(ma.n == mb.n && memcmp(ma.data, mb.data, ma.n * 8) == 0,
                  "%s: isolated map output differs from in-process", c->what);
    /* and right, not only alike: the reference of what was written */
    tu_sel sel;
    tu_sel_all(&sel, &a);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    tu_compute_check(iso, &o, &a, &sel, tu_tolerance(&tu_dev), c->what);
}
END_TEST

/* Float32 rows x 40, contiguous, seeded: what the mapped tests read. */
static void write_rows(const char *file, uint64_t rows, uint64_t seed,
                       tu_array *a)
{
    const uint64_t dims[2] = {rows, 40};
    tu_rng r;
    tu_rng_seed(&r, seed);
    tu_array_init(a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(a, &r, 0.01);
    tu_write_opts o;
    tu_write_opts_init(&o);
    tu_write(file, "/g/d", a, &o);
}

/* Isolated tiles that are one run of the file are mapped by this process
 * where the child locates them: the same results as in-process, the
 * summary counts them mapped; a file replaced under the name after the
 * open is never mapped (the child still reads the file it opened, and so
 * does the run); a file truncated under a mapped run is H5CL_ERR_IO. */
START_TEST(test_mapped)
{
    const char *file = tu_path("mapped.h5");
    tu_array a, b;
    write_rows(file, 20000, 11, &a);
    h5cl_dataset *in = open_as(file, "/g/d", 0);
    h5cl_dataset *iso = open_as(file, "/g/d", 1);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 256 << 10;
    tu_setenv("H5CL_MMAP", "1");
    const h5cl_run_summary *s = h5cl_stats_summary(tu_compute(iso, &o, "iso"));
    if (s->zero_copy)
        ck_assert_uint_eq(s->bytes_mapped, a.n * 4);
    ck_assert_uint_eq(s->bytes_direct, a.n * 4);
    check_same_stats(in, iso, -1, "mapped");
    tu_compute_check(iso, &o, &a, NULL, tu_tolerance(&tu_dev), "mapped");

    const char *other = tu_path("other.h5");
    write_rows(other, 20000, 12, &b);
    ck_assert_int_eq(rename(other, file), 0);
    s = h5cl_stats_summary(tu_compute(iso, &o, "replaced"));
    ck_assert_uint_eq(s->bytes_mapped, 0);
    tu_compute_check(iso, &o, &a, NULL, tu_tolerance(&tu_dev),
                     "the file opened, not its replacement");

    h5cl_dataset *fresh = open_as(file, "/g/d", 1);
    h5cl_stats *st = NULL;
    o.progress = tu_truncate_at_first_tile;
    o.progress_user = (void *)file;
    const int rc = h5cl_stats_compute(fresh, &o, &st);
    tu_setenv("H5CL_MMAP", NULL);
    ck_assert_msg(rc == H5CL_ERR_IO, "status %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "truncated"), "message: %s",
                  h5cl_ctx_errmsg(tu_ctx));
}
END_TEST

/* The CF/fill description and the listing, through the child. */
START_TEST(test_cf)
{
    tu_array a;
    const char *file = write_case(&layouts[4], &a);
    h5cl_dataset *in = open_as(file, "/g/d", 0);
    h5cl_dataset *iso = open_as(file, "/g/d", 1);
    h5cl_cf_info ca, cb;
    ck_assert_int_eq(h5cl_dataset_cf_info(in, 1, 1, &ca), H5CL_OK);
    ck_assert_int_eq(h5cl_dataset_cf_info(iso, 1, 1, &cb), H5CL_OK);
    ck_assert_uint_eq(cb.flags & H5CL_CF_FILL_HDF5, H5CL_CF_FILL_HDF5);
    ck_assert_msg(memcmp(&ca, &cb, sizeof ca) == 0,
                  "isolated CF description differs");
}
END_TEST

static char listed[8][64];
static int nlisted;

static int list_cb(const char *path, int supported, void *user)
{
    (void)user;
    if (nlisted < 8)
        snprintf(listed[nlisted++], sizeof listed[0], "%s:%d", path,
                 supported);
    return 0;
}

START_TEST(test_listing)
{
    tu_array a;
    const char *file = write_case(&layouts[0], &a);
    tu_write_special(file, "/s", "compound");
    char want[8][64];
    set_isolation(0, 0, 0, 0);
    nlisted = 0;
    ck_assert_int_eq(h5cl_file_list_datasets(tu_ctx, file, list_cb, NULL), 0);
    int n = nlisted;
    memcpy(want, listed, sizeof want);
    set_isolation(1, 0, 0, 0);
    nlisted = 0;
    ck_assert_int_eq(h5cl_file_list_datasets(tu_ctx, file, list_cb, NULL), 0);
    ck_assert_int_eq(nlisted, n);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(listed[i], want[i]);
    ck_assert_str_eq(listed[1], "/s:0");
}
END_TEST

/* ---- failures of the child ---------------------------------------------- */

static int stats_status(h5cl_dataset *ds)
{
    h5cl_stats *s = NULL;
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    o.tile_bytes = 4096;
    int rc = h5cl_stats_compute(ds, &o, &s);
    h5cl_stats_free(s);
    return rc;
}

static void assert_msg_has(const char *needle)
{
    const char *m = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(strstr(m, needle), "message lacks \"%s\": %s", needle, m);
}

/* What each kind of death gives, mid-run (at the 5th request: a tile). */
static const struct {
    const char *test;
    int status;
    const char *says;
    double wall; /* a spinning child must get its CPU second first, on a
                    busy machine too */
} deaths[] = {
    {"crash@read", H5CL_ERR_CRASHED, "SIGSEGV", 2},
    {"abort@read", H5CL_ERR_CRASHED, "SIGABRT", 2},
    {"exit@read", H5CL_ERR_CRASHED, "exited with status 3", 2},
    {"hang@read", H5CL_ERR_TIMEOUT, "wall-clock limit", 2},
    {"spin@read", H5CL_ERR_LIMIT, "CPU limit", 60},
};

START_TEST(test_child_dies_mid_run)
{
    tu_array a;
    const char *file = write_case(&layouts[1], &a);
    h5cl_dataset *ds = open_as(file, "/g/d", 1);
    set_isolation(1, 2, 2, 0);
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
    tu_setenv("H5CL_READER_TEST", deaths[_i].test);
    /* new limits (1 s CPU) end the child: the next call starts one that
     * has the hook */
    set_isolation(1, deaths[_i].wall, 1, 0);
    double t0 = tu_now();
    int rc = stats_status(ds);
    ck_assert_msg(rc == deaths[_i].status, "%s: got %s: %s", deaths[_i].test,
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_double_lt(tu_now() - t0, deaths[_i].wall + 10.0);
    assert_msg_has(deaths[_i].says);
    assert_msg_has(file);
    assert_msg_has("/g/d");
    assert_msg_has("reading [");
    /* the next call starts a fresh child and reopens the dataset */
    tu_setenv("H5CL_READER_TEST", NULL);
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
    tu_sel sel;
    tu_sel_all(&sel, &a);
    h5cl_run_options o;
    h5cl_run_options_init(&o);
    tu_compute_check(ds, &o, &a, &sel, tu_tolerance(&tu_dev), "after");
}
END_TEST

START_TEST(test_crash_at_open)
{
    tu_array a;
    const char *file = write_case(&layouts[0], &a);
    tu_setenv("H5CL_READER_TEST", "crash@open");
    set_isolation(1, 0, 0, 0);
    h5cl_dataset *ds = NULL;
    int rc = h5cl_dataset_open(tu_ctx, file, "/g/d", &ds);
    ck_assert_int_eq(rc, H5CL_ERR_CRASHED);
    ck_assert_ptr_null(ds);
    assert_msg_has("SIGSEGV");
    assert_msg_has("inside h5cl-reader"); /* where the hook's fault is */
    assert_msg_has("while opening /g/d in ");
    assert_msg_has(file);
    tu_setenv("H5CL_READER_TEST", NULL);
    ds = tu_open(tu_ctx, file, "/g/d");
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
}
END_TEST

/* An allocation beyond the child's memory limit: H5CL_ERR_LIMIT.  (A
 * sanitizer build of the helper runs without RLIMIT_AS.) */
START_TEST(test_memory_limit)
{
#if H5CL_ASAN
    fprintf(stderr, "isolate: AddressSanitizer build: memory limit not "
                    "tested\n");
    return;
#endif
    const uint64_t dims[1] = {(uint64_t)12 << 20}; /* 96 MiB of float64 */
    tu_array a;
    tu_array_init(&a, H5CL_FLOAT64, 1, dims);
    tu_write_opts o;
    tu_write_opts_init(&o);
    o.layout = H5CL_LAYOUT_CHUNKED;
    o.chunk[0] = dims[0]; /* one chunk: a 96 MiB decode */
    o.gzip = 1;
    const char *file = tu_path("big.h5");
    tu_write(file, "/z", &a, &o);
    h5cl_dataset *ds = open_as(file, "/z", 1);
    set_isolation(1, 0, 0, (uint64_t)64 << 20);
    int rc = stats_status(ds);
    ck_assert_msg(rc == H5CL_ERR_LIMIT, "got %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    assert_msg_has("memory limit is 64 MiB");
    assert_msg_has(file);
    set_isolation(1, 0, 0, 0);
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
}
END_TEST

typedef struct canceller {
    h5cl_ctx *ctx;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    usleep(300 * 1000);
    h5cl_cancel(c->ctx);
    return NULL;
}

/* A cancel while the child hangs ends the run soon, not at the limit. */
START_TEST(test_cancel_during_hang)
{
    tu_array a;
    const char *file = write_case(&layouts[0], &a);
    h5cl_dataset *ds = open_as(file, "/g/d", 1);
    tu_setenv("H5CL_READER_TEST", "hang@read");
    set_isolation(1, 60, 0, (uint64_t)1 << 30); /* new limits: new child */
    canceller c = {tu_ctx};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    double t0 = tu_now();
    int rc = stats_status(ds);
    pthread_join(t, NULL);
    ck_assert_msg(rc == H5CL_ERR_CANCELLED, "got %s: %s", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_double_lt(tu_now() - t0, 5.0);
    tu_setenv("H5CL_READER_TEST", NULL);
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
}
END_TEST

/* After crashes and runs, destroying the context leaves no child, no
 * zombie and no descriptor of ours. */
START_TEST(test_no_leaks)
{
    tu_array a;
    const char *file = write_case(&layouts[1], &a);
    h5cl_ctx *ctx;
    const int fds0 = count_fds();
    int alive, zombies;
    ck_assert_int_eq(h5cl_ctx_create(&ctx), H5CL_OK);
    h5cl_isolation o;
    h5cl_isolation_init(&o);
    o.enabled = 1;
    ck_assert_int_eq(h5cl_ctx_set_isolation(ctx, &o), H5CL_OK);
    h5cl_dataset *ds = NULL;
    ck_assert_int_eq(h5cl_dataset_open(ctx, file, "/g/d", &ds), H5CL_OK);
    for (int k = 0; k < 4; k++) {
        tu_setenv("H5CL_READER_TEST", k % 2 ? "crash@read" : NULL);
        h5cl_stats *s = NULL;
        int rc = h5cl_stats_compute(ds, NULL, &s);
        h5cl_stats_free(s);
        ck_assert_int_eq(rc, k % 2 ? H5CL_ERR_CRASHED : H5CL_OK);
        /* the dead child was reaped at once; only a live one remains */
        count_children(&alive, &zombies);
        ck_assert_int_eq(zombies, 0);
        ck_assert_int_le(alive, 1);
        /* a crash ends the child; with no hook the next one starts */
        o.cpu_seconds = (uint64_t)k + 100; /* new limits: a new child */
        ck_assert_int_eq(h5cl_ctx_set_isolation(ctx, &o), H5CL_OK);
    }
    h5cl_dataset_close(ds);
    h5cl_ctx_destroy(ctx);
    count_children(&alive, &zombies);
    ck_assert_int_eq(alive, 0);
    ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

/* ---- settings ----------------------------------------------------------- */

START_TEST(test_settings)
{
    h5cl_isolation o;
    ck_assert_int_eq(h5cl_ctx_get_isolation(tu_ctx, &o), H5CL_OK);
    ck_assert_int_eq(o.enabled, 0); /* off by default in the library */
    ck_assert_uint_gt(o.memory_bytes, (uint64_t)64 << 20);
    ck_assert_uint_eq(o.cpu_seconds, 0);
    ck_assert(o.wall_seconds == 60.0);
    h5cl_isolation_init(&o);
    o.wall_seconds = -1;
    ck_assert_int_eq(h5cl_ctx_set_isolation(tu_ctx, &o),
                     H5CL_ERR_INVALID_ARGUMENT);
    o.wall_seconds = 0;
    o.memory_bytes = 1000;
    ck_assert_int_eq(h5cl_ctx_set_isolation(tu_ctx, &o),
                     H5CL_ERR_INVALID_ARGUMENT);
    assert_msg_has("64 MiB");
    ck_assert_int_eq(h5cl_ctx_set_isolation(NULL, &o),
                     H5CL_ERR_INVALID_ARGUMENT);
    /* H5CL_ISOLATE=1 makes new contexts isolated */
    tu_setenv("H5CL_ISOLATE", "1");
    h5cl_ctx *ctx;
    ck_assert_int_eq(h5cl_ctx_create(&ctx), H5CL_OK);
    ck_assert_int_eq(h5cl_ctx_get_isolation(ctx, &o), H5CL_OK);
    ck_assert_int_eq(o.enabled, 1);
    h5cl_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_helper_missing)
{
    tu_array a;
    const char *file = write_case(&layouts[0], &a);
    tu_setenv("H5CL_READER", "/nonexistent/h5cl-reader");
    set_isolation(1, 0, 0, 0);
    h5cl_dataset *ds = NULL;
    ck_assert_int_eq(h5cl_dataset_open(tu_ctx, file, "/g/d", &ds),
                     H5CL_ERR_FILE_NOT_FOUND);
    assert_msg_has("H5CL_READER");
    /* a wrong path there is an error, not a silent in-process run */
    ck_assert_ptr_null(ds);
}
END_TEST

/* ---- the shared corpus (files that crash or hang libhdf5 1.10.8) -------- */

static const char *corpus_file(const char *name)
{
    const char *dir = getenv("H5CL_CORPUS");
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/corpus",
             name);
    return access(path, R_OK) == 0 ? path : NULL;
}

static const struct {
    const char *file;
    int status;
    const char *says;
} corpus[] = {
    {"gh-4434-poc-09.h5", H5CL_ERR_CRASHED, "SIGSEGV inside libhdf5"},
    {"cve-2018-13867.h5", H5CL_ERR_CRASHED, "SIGSEGV"},
    {"cve-2018-15671.h5", H5CL_ERR_TIMEOUT, "wall-clock limit"},
};

START_TEST(test_corpus)
{
    const char *file = corpus_file(corpus[_i].file);
    if (!file) {
        fprintf(stderr, "isolate: corpus file %s absent: case not run\n",
                corpus[_i].file);
        return;
    }
    set_isolation(1, 2, 0, (uint64_t)1 << 30);
    nlisted = 0;
    int rc = h5cl_file_list_datasets(tu_ctx, file, list_cb, NULL);
    ck_assert_msg(rc == corpus[_i].status, "%s: got %s: %s", file,
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    assert_msg_has(corpus[_i].says);
    assert_msg_has(file);
    /* and the context still reads a good file */
    tu_array a;
    const char *good = write_case(&layouts[0], &a);
    h5cl_dataset *ds = tu_open(tu_ctx, good, "/g/d");
    ck_assert_int_eq(stats_status(ds), H5CL_OK);
}
END_TEST

Suite *isolate_suite(void)
{
    Suite *s = suite_create("isolate");
    TCase *tc = tcase_create("identical");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_identical, 0, (int)NELEMS(layouts));
    tcase_add_test(tc, test_cf);
    tcase_add_test(tc, test_mapped);
    tcase_add_test(tc, test_listing);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_child_dies_mid_run, 0,
                        (int)NELEMS(deaths));
    tcase_add_test(tc, test_crash_at_open);
    tcase_add_test(tc, test_memory_limit);
    tcase_add_test(tc, test_cancel_during_hang);
    tcase_add_test(tc, test_no_leaks);
    tcase_add_loop_test(tc, test_corpus, 0, (int)NELEMS(corpus));
    suite_add_tcase(s, tc);

    tc = tcase_create("settings");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_add_test(tc, test_settings);
    tcase_add_test(tc, test_helper_missing);
    suite_add_tcase(s, tc);
    return s;
}
