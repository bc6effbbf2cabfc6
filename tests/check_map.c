/*
 * Maps (h5cl_map_run) and fused map-reduce (statistics of an expression)
 * against host references computed here in double / long double, never by
 * the library: every input dtype and byte order, default and explicit
 * output dtypes (truncation, saturation, NaN), several inputs of different
 * layouts, selections, ranks 0 to 3, tiny tiles and every slot count,
 * empty outputs, new and existing files, nested groups, filters, chunk
 * shapes, the recorded attributes and the run summary.
 *
 * Safety: an existing dataset, an input file (same path, symlink, hard
 * link), a non-HDF5 file, an expression error, a shape mismatch, a
 * cancellation, a full disk (RLIMIT_FSIZE) and a device out of memory all
 * leave the target byte-identical and no temporary file behind.
 *
 * Values are computed in double on fp64 devices; + - * / and sqrt are
 * correctly rounded there, so outputs of such expressions are compared
 * exactly (float32 outputs against the host's double rounded to float).
 * Transcendental functions get a relative tolerance.
 */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"

/* ---- host references ------------------------------------------------------ */

typedef double (*host_fn)(const double *v);

static double f_lin(const double *v) { return v[0] * 2 + 1; }
static double f_gt0(const double *v) { return v[0] > 0 ? 1 : 0; }
static double f_gt1(const double *v) { return v[0] > 1 ? 1 : 0; }
static double f_copy(const double *v) { return v[0]; }
static double f_hypot(const double *v) { return sqrt(v[0] * v[0] + v[1] * v[1]); }
static double f_where(const double *v) { return (v[0] > v[1] ? v[0] : v[1]) - v[2]; }
static double f_diff(const double *v) { return v[0] - v[1]; }
static double f_diff2(const double *v) { return (v[0] - v[1]) * (v[0] - v[1]); }
/* the device computes `**` with pow(): min/max get a tolerance */
static double f_sq35(const double *v) { return (v[0] - 3.5) * (v[0] - 3.5); }
static double f_sqm2(const double *v) { return v[0] * v[0] - 2; }
static double f_log(const double *v) { return log(v[0]); }
static double f_mulsub(const double *v) { return v[0] * v[1] - v[2]; }
static double f_trans(const double *v) { return exp(v[0] / 100) * (2 + sin(v[0])); }

/* The default output type of an arithmetic expression over these inputs
 * (h5cl_expr_check's rule). */
static h5cl_dtype default_out(const h5cl_dtype *in, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (in[i] == H5CL_FLOAT64 || in[i] == H5CL_INT32 || in[i] == H5CL_UINT32 ||
            in[i] == H5CL_INT64 || in[i] == H5CL_UINT64)
            return H5CL_FLOAT64;
    return H5CL_FLOAT32;
}

/* Stores a double as the library promises: floats rounded, integers
 * truncated toward zero and saturated, NaN as 0. */
static void store(tu_array *a, uint64_t i, double r)
{
    double t;
    if (a->dtype == H5CL_FLOAT32) {
        ((float *)a->data)[i] = (float)r;
        return;
    }
    if (a->dtype == H5CL_FLOAT64) {
        ((double *)a->data)[i] = r;
        return;
    }
    if (isnan(r)) {
        tu_set_u(a, i, 0);
        return;
    }
    t = trunc(r);
    if (tu_dtype_is_signed(a->dtype)) {
        int64_t v, lo = tu_dtype_min_i(a->dtype), hi = tu_dtype_max_i(a->dtype);
        if (t < -0x1p63)
            v = INT64_MIN;
        else if (t >= 0x1p63)
            v = INT64_MAX;
        else
            v = (int64_t)t;
        tu_set_i(a, i, v < lo ? lo : v > hi ? hi : v);
    } else {
        uint64_t v, hi = tu_dtype_max_u(a->dtype);
        if (t <= 0)
            v = 0;
        else if (t >= 0x1p64)
            v = UINT64_MAX;
        else
            v = (uint64_t)t;
        tu_set_u(a, i, v > hi ? hi : v);
    }
}

/* The expected output of f over the selection (all when sel is NULL) of
 * inputs of one shape, as out_dtype values in C order; the selection's
 * shape (a scalar stays a scalar). */
static void expect_map(tu_array *want, h5cl_dtype out, const tu_array *const *in,
                       size_t nin, const tu_sel *sel, host_fn f)
{
    const tu_array *a0 = in[0];
    uint64_t stride[H5CL_MAX_RANK], idx[H5CL_MAX_RANK] = {0}, k;
    double v[H5CL_MAX_INPUTS];
    tu_sel all;
    size_t j;
    int d;
    if (!sel) {
        tu_sel_all(&all, a0);
        sel = &all;
    }
    tu_array_init(want, out, a0->rank, sel->count);
    for (d = a0->rank - 1; d >= 0; d--)
        stride[d] = d == a0->rank - 1 ? 1 : stride[d + 1] * a0->dims[d + 1];
    for (k = 0; k < want->n; k++) {
        uint64_t src = 0;
        for (d = 0; d < a0->rank; d++)
            src += (sel->start[d] + idx[d]) * stride[d];
        for (j = 0; j < nin; j++)
            v[j] = tu_get_f(in[j], src);
        store(want, k, f(v));
        for (d = a0->rank - 1; d >= 0; d--) {
            if (++idx[d] < sel->count[d])
                break;
            idx[d] = 0;
        }
    }
}

static void expect_map1(tu_array *want, h5cl_dtype out, const tu_array *in,
                        const tu_sel *sel, host_fn f)
{
    const tu_array *ins[1] = {in};
    expect_map(want, out, ins, 1, sel, f);
}

static const char *elem_text(const tu_array *a, uint64_t i, char *buf, size_t n)
{
    if (tu_dtype_is_float(a->dtype))
        snprintf(buf, n, "%.17g", tu_get_f(a, i));
    else if (tu_dtype_is_signed(a->dtype))
        snprintf(buf, n, "%lld", (long long)tu_get_i(a, i));
    else
        snprintf(buf, n, "%llu", (unsigned long long)tu_get_u(a, i));
    return buf;
}

/* Same dtype, shape and values: exactly (rel 0; NaN matches NaN) or within
 * rel * |want|.  Reports the first difference and how many there are. */
static void check_values(const tu_array *got, const tu_array *want, double rel,
                         const char *what)
{
    uint64_t i, bad = 0, first = 0;
    int d;
    ck_assert_msg(got->dtype == want->dtype, "%s: output dtype %s, want %s", what,
                  h5cl_dtype_name(got->dtype), h5cl_dtype_name(want->dtype));
    ck_assert_msg(got->rank == want->rank, "%s: output rank %d, want %d", what, got->rank,
                  want->rank);
    for (d = 0; d < want->rank; d++)
        ck_assert_msg(got->dims[d] == want->dims[d], "%s: output dims[%d] %llu, want %llu",
                      what, d, (unsigned long long)got->dims[d],
                      (unsigned long long)want->dims[d]);
    for (i = 0; i < want->n; i++) {
        int ok;
        if (tu_dtype_is_float(want->dtype)) {
            double g = tu_get_f(got, i), w = tu_get_f(want, i);
            if (isnan(w))
                ok = isnan(g);
            else if (rel == 0 || isinf(w))
                ok = g == w;
            else
                ok = fabs(g - w) <= rel * fabs(w);
        } else if (tu_dtype_is_signed(want->dtype)) {
            ok = tu_get_i(got, i) == tu_get_i(want, i);
        } else {
            ok = tu_get_u(got, i) == tu_get_u(want, i);
        }
        if (!ok && bad++ == 0)
            first = i;
    }
    if (bad) {
        char g[64], w[64];
        ck_abort_msg("%s: %llu of %llu values differ; first at flat index %llu: got %s, "
                     "want %s (%s)",
                     what, (unsigned long long)bad, (unsigned long long)want->n,
                     (unsigned long long)first, elem_text(got, first, g, sizeof g),
                     elem_text(want, first, w, sizeof w), h5cl_dtype_name(want->dtype));
    }
}

static void check_output(const char *file, const char *path, const tu_array *want,
                         double rel, const char *what)
{
    tu_array got;
    tu_read(file, path, &got);
    check_values(&got, want, rel, what);
}

/* ---- files ---------------------------------------------------------------- */

/* A copy of tu_path(name) that outlives the rotating buffers. */
static char *path_of(const char *name)
{
    const char *p = tu_path(name);
    char *s = tu_alloc(strlen(p) + 1);
    memcpy(s, p, strlen(p) + 1);
    return s;
}

/* Writes a as `path` of a fresh file and opens it (HDF5 cannot reopen a
 * file for writing while a dataset holds it open for reading). */
static h5cl_dataset *put_open(const char *path, tu_array *a, const tu_write_opts *w)
{
    static unsigned gen;
    char name[32];
    char *file;
    snprintf(name, sizeof name, "in%u.h5", gen++);
    file = path_of(name);
    tu_write(file, path, a, w);
    return tu_open(tu_ctx, file, path);
}

/* The file a dataset was opened from (tu_alloc'd). */
static char *file_of(const h5cl_dataset *ds)
{
    h5cl_dataset_info info;
    char *s;
    ck_assert(h5cl_dataset_get_info(ds, &info) == H5CL_OK);
    s = tu_alloc(strlen(info.file) + 1);
    memcpy(s, info.file, strlen(info.file) + 1);
    return s;
}

static tu_write_opts chunked(uint64_t c0, uint64_t c1, uint64_t c2)
{
    tu_write_opts w;
    tu_write_opts_init(&w);
    w.layout = H5CL_LAYOUT_CHUNKED;
    w.chunk[0] = c0;
    w.chunk[1] = c1;
    w.chunk[2] = c2;
    return w;
}

static tu_write_opts contiguous(void)
{
    tu_write_opts w;
    tu_write_opts_init(&w);
    return w;
}

/* A string attribute of the object at path, or NULL (tu_alloc'd). */
static char *read_attr(const char *file, const char *path, const char *name)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), a, t;
    char *s = NULL;
    ck_assert_msg(f >= 0, "cannot open %s", file);
    if (H5Aexists_by_name(f, path, name, H5P_DEFAULT) > 0) {
        a = H5Aopen_by_name(f, path, name, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(a >= 0);
        t = H5Aget_type(a);
        ck_assert_msg(H5Tget_class(t) == H5T_STRING, "attribute %s is not a string", name);
        ck_assert_msg(H5Tis_variable_str(t) == 0, "attribute %s: variable length", name);
        s = tu_alloc(H5Tget_size(t) + 1);
        ck_assert(H5Aread(a, t, s) >= 0);
        H5Tclose(t);
        H5Aclose(a);
    }
    H5Fclose(f);
    return s;
}

static void check_attrs(const char *file, const char *path, const char *expr,
                        const char *sources, const char *what)
{
    char *e = read_attr(file, path, "h5cl_expression");
    char *s = read_attr(file, path, "h5cl_sources");
    ck_assert_msg(e != NULL, "%s: no h5cl_expression attribute on %s", what, path);
    ck_assert_msg(strcmp(e, expr) == 0, "%s: h5cl_expression \"%s\", want \"%s\"", what, e,
                  expr);
    ck_assert_msg(s != NULL, "%s: no h5cl_sources attribute on %s", what, path);
    ck_assert_msg(strcmp(s, sources) == 0, "%s: h5cl_sources \"%s\", want \"%s\"", what, s,
                  sources);
}

/* "name=file:path" as h5cl_sources spells one input. */
static char *source_text(const char *name, const char *file, const char *path)
{
    size_t n = strlen(name) + strlen(file) + strlen(path) + 3;
    char *s = tu_alloc(n);
    snprintf(s, n, "%s=%s:%s", name, file, path);
    return s;
}

typedef struct out_layout {
    int chunked;
    int rank;
    hsize_t chunk[H5CL_MAX_RANK];
    int nfilters;
    int deflate;   /* level, -1 without deflate   */
    int shuffle;   /* index in the pipeline, or -1 */
    int deflate_at;
} out_layout;

static void get_layout(const char *file, const char *path, out_layout *l)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d, p;
    int i;
    memset(l, 0, sizeof *l);
    l->deflate = l->shuffle = l->deflate_at = -1;
    ck_assert(f >= 0);
    d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "no dataset %s", path);
    p = H5Dget_create_plist(d);
    ck_assert(p >= 0);
    l->chunked = H5Pget_layout(p) == H5D_CHUNKED;
    if (l->chunked)
        l->rank = H5Pget_chunk(p, H5CL_MAX_RANK, l->chunk);
    l->nfilters = H5Pget_nfilters(p);
    for (i = 0; i < l->nfilters; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64];
        H5Z_filter_t id = H5Pget_filter2(p, (unsigned)i, &flags, &ncd, cd, sizeof name,
                                         name, NULL);
        if (id == H5Z_FILTER_DEFLATE) {
            l->deflate = ncd > 0 ? (int)cd[0] : 0;
            l->deflate_at = i;
        } else if (id == H5Z_FILTER_SHUFFLE) {
            l->shuffle = i;
        }
    }
    H5Pclose(p);
    H5Dclose(d);
    H5Fclose(f);
}

/* The whole file's bytes, to show later that nothing changed. */
typedef struct snap {
    const char *file;
    char *bytes;
    size_t n;
    mode_t mode;
} snap;

static void snap_take(snap *s, const char *file)
{
    struct stat st;
    s->file = file;
    s->bytes = tu_read_file(file, &s->n);
    ck_assert_msg(s->bytes != NULL, "cannot read %s", file);
    ck_assert(stat(file, &st) == 0);
    s->mode = st.st_mode;
}

static void snap_check(const snap *s, const char *what)
{
    size_t n = 0;
    char *b = tu_read_file(s->file, &n);
    ck_assert_msg(b != NULL, "%s: %s is gone", what, s->file);
    ck_assert_msg(n == s->n && memcmp(b, s->bytes, n) == 0,
                  "%s: %s changed (%zu bytes, was %zu)", what, s->file, n, s->n);
}

/* No temporary output (".<name>.h5cl-<pid>-<n>.tmp") left in dir. */
static void check_no_temp(const char *dir, const char *what)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".h5cl-") != NULL) {
            char name[256];
            snprintf(name, sizeof name, "%s", e->d_name);
            closedir(d);
            ck_abort_msg("%s: temporary file %s left in %s", what, name, dir);
        }
    closedir(d);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- runs ----------------------------------------------------------------- */

static void run_opts(h5cl_run_options *o, const char *expr, uint64_t tile_bytes,
                     unsigned slots)
{
    h5cl_run_options_init(o);
    o->expr = expr;
    o->tile_bytes = tile_bytes;
    o->slots = slots;
}

static void map_opts(h5cl_map_options *m, const char *file, const char *path)
{
    h5cl_map_options_init(m);
    m->out_file = file;
    m->out_path = path;
}

static h5cl_run_summary run_map(h5cl_dataset *ds, const h5cl_run_options *o,
                                const h5cl_map_options *m, const char *what)
{
    h5cl_run_summary s;
    int rc;
    memset(&s, 0xA5, sizeof s);
    rc = h5cl_map_run(ds, o, m, &s);
    ck_assert_msg(rc == H5CL_OK, "%s: h5cl_map_run: %s: %s", what, h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_str_eq(h5cl_ctx_errmsg(tu_ctx), "");
    return s;
}

/* Runs a map that must fail with `want`; the message must be non-empty. */
static void map_fails(h5cl_dataset *ds, const h5cl_run_options *o,
                      const h5cl_map_options *m, int want, const char *what)
{
    h5cl_run_summary s;
    int rc;
    memset(&s, 0xA5, sizeof s);
    rc = h5cl_map_run(ds, o, m, &s);
    ck_assert_msg(rc == want, "%s: h5cl_map_run gave %s, want %s (%s)", what,
                  h5cl_errname(rc), h5cl_errname(want), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_int_eq(h5cl_ctx_errcode(tu_ctx), want);
    ck_assert_msg(h5cl_ctx_errmsg(tu_ctx)[0] != '\0', "%s: no message", what);
    ck_assert_msg(s.tiles == 0 && s.bytes_written == 0, "%s: summary filled on failure",
                  what);
}

static void check_summary(const h5cl_run_summary *s, uint64_t elems, size_t in_bytes,
                          size_t out_size, const char *what)
{
    ck_assert_msg(s->bytes == elems * in_bytes, "%s: summary bytes %llu, want %llu", what,
                  (unsigned long long)s->bytes, (unsigned long long)(elems * in_bytes));
    ck_assert_msg(s->bytes_written == elems * out_size,
                  "%s: bytes_written %llu, want %llu", what,
                  (unsigned long long)s->bytes_written,
                  (unsigned long long)(elems * out_size));
    if (elems == 0) {
        ck_assert_msg(s->tiles == 0, "%s: %llu tiles of nothing", what,
                      (unsigned long long)s->tiles);
        return;
    }
    ck_assert_msg(s->tiles > 0, "%s: no tiles", what);
    ck_assert_msg(s->tile_bytes > 0, "%s: tile_bytes 0", what);
    ck_assert_msg(s->slots >= 1, "%s: slots %u", what, s->slots);
    ck_assert_msg(s->seconds > 0 && isfinite(s->seconds), "%s: seconds %g", what,
                  s->seconds);
    ck_assert_msg(s->stage_seconds[H5CL_STAGE_WRITE] > 0, "%s: write stage took no time",
                  what);
    ck_assert_msg(s->stage_seconds[H5CL_STAGE_READ] > 0, "%s: read stage took no time",
                  what);
    ck_assert_msg(s->stage_seconds[H5CL_STAGE_WRITE] <= s->seconds * 1.05 + 1e-3,
                  "%s: write busy %g s of %g s", what, s->stage_seconds[H5CL_STAGE_WRITE],
                  s->seconds);
}

/* The references assume values computed in double.  A device without
 * fp64 computes in float and refuses float64 data; these tests do not
 * model that and pass without checking anything there (PoCL and the GPUs
 * we test on have fp64). */
static int need_fp64(void)
{
    return tu_dev.has_fp64;
}

/* ======================================================================
 * Maps: values.
 */

/* x*2+1 over every dtype in both byte orders, with the default output
 * type, then the boolean x > 0 (uint8) into a nested path of the same
 * output file. */
START_TEST(test_map_dtypes)
{
    h5cl_dtype dt = (h5cl_dtype)(_i / 2);
    uint64_t dims[2] = {61, 47};
    char *out = path_of("out.h5");
    tu_array a, want;
    tu_write_opts w;
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    h5cl_dataset *ds;
    char what[128];
    if (!need_fp64())
        return;
    snprintf(what, sizeof what, "x*2+1 over %s%s", h5cl_dtype_name(dt),
             _i % 2 ? " big-endian" : "");
    tu_rng_seed(&r, 100 + (uint64_t)_i);
    tu_array_init(&a, dt, 2, dims);
    tu_fill_random(&a, &r, 0.02);
    tu_plant_extrema(&a, &r);
    w = dt % 2 ? contiguous() : chunked(16, 12, 0);
    w.big_endian = _i % 2;
    ds = put_open("/x", &a, &w);

    run_opts(&o, "x*2+1", 1024, 3);
    map_opts(&m, out, "/y");
    s = run_map(ds, &o, &m, what);
    expect_map1(&want, default_out(&dt, 1), &a, NULL, f_lin);
    check_output(out, "/y", &want, 0, what);
    check_summary(&s, a.n, h5cl_dtype_size(dt), h5cl_dtype_size(want.dtype), what);
    ck_assert_uint_ge(s.tiles, 2);
    check_attrs(out, "/y", "x*2+1", source_text("x", file_of(ds), "/x"), what);

    if ((int)dt % 2 != _i % 2)
        return; /* the boolean over each dtype once, either byte order */
    snprintf(what, sizeof what, "x > 0 over %s%s", h5cl_dtype_name(dt),
             _i % 2 ? " big-endian" : "");
    o.expr = "x > 0";
    m.out_path = "/bool/y";
    s = run_map(ds, &o, &m, what);
    expect_map1(&want, H5CL_UINT8, &a, NULL, f_gt0);
    check_output(out, "/bool/y", &want, 0, what);
    check_summary(&s, a.n, h5cl_dtype_size(dt), 1, what);
    /* the first output is still there and intact */
    expect_map1(&want, default_out(&dt, 1), &a, NULL, f_lin);
    check_output(out, "/y", &want, 0, "the first output after the second map");
}
END_TEST

/* Explicit output dtypes: float64 edge values (halves, type limits, 2^63,
 * 2^64, huge, infinite, NaN) copied with `x` into every dtype; int16
 * through x*2+1 (which leaves their ranges) into the 8- and 16-bit types;
 * uint64/int64 extremes, which become doubles on the way, into the 64-bit
 * and float types. */
START_TEST(test_map_out_dtypes)
{
    static const double edges[] = {
        0.0, -0.0, 0.4, -0.4, 0.5, -0.5, 0.99, -0.99, 1.5, -1.5, 2.5, -2.5, -1.0,
        126.9, 127.0, 127.4, 127.99, 128.0, 128.5, -127.9, -128.0, -128.7, -129.0,
        254.9, 255.0, 255.5, 256.0, 300.0, 32767.7, 32768.0, -32768.9, -32769.0,
        65535.9, 65536.0, 2147483647.5, 2147483648.0, -2147483648.9, -2147483649.0,
        4294967295.9, 4294967296.0, 9007199254740993.0, 9223372036854774784.0, 0x1p63,
        -0x1p63, -0x1.0000000000001p63, 18446744073709549568.0, 0x1p64, 1e20, -1e20,
        1e300, -1e300, INFINITY, -INFINITY, NAN, -NAN, 3.4028234663852886e38,
        3.4028235e38, 3.5e38, -3.5e38, 0.1, 1.0 / 3, 16777217.0, 1e-30};
    static const uint64_t big_u[] = {0, 1, (UINT64_C(1) << 53) + 1, UINT64_C(1) << 63,
                                     (UINT64_C(1) << 63) + 4097, UINT64_MAX - 1024,
                                     UINT64_MAX, 4294967295u, 4294967296u};
    static const int64_t big_i[] = {0, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1,
                                    -(INT64_C(1) << 53) - 1, INT64_C(1) << 62, -129, 128};
    h5cl_dtype out = (h5cl_dtype)_i;
    size_t ne = sizeof edges / sizeof edges[0], k;
    uint64_t n = 3000, nb = 9;
    char *dst = path_of("out.h5");
    tu_array a, b, c, d, want;
    tu_rng r;
    tu_write_opts w = chunked(256, 0, 0);
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    char what[128];
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 200 + (uint64_t)_i);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    for (k = 0; k < n; k++) {
        double scale = k % 3 == 0 ? 300 : k % 3 == 1 ? 7e4 : 1e19;
        tu_set_f(&a, k, k < ne ? edges[k] : (tu_rng_unit(&r) * 2 - 1) * scale);
    }
    ds = put_open("/f", &a, &w);
    run_opts(&o, "x", 4096, 2);
    map_opts(&m, dst, "/f");
    m.dtype = out;
    snprintf(what, sizeof what, "float64 edges as %s", h5cl_dtype_name(out));
    run_map(ds, &o, &m, what);
    expect_map1(&want, out, &a, NULL, f_copy);
    check_output(dst, "/f", &want, 0, what);

    /* (a kernel per input type and output type: only where it matters) */
    if (out > H5CL_UINT16)
        goto wide;
    tu_array_init(&b, H5CL_INT16, 1, &n);
    tu_fill_random(&b, &r, 0);
    tu_plant_extrema(&b, &r);
    ds = put_open("/i16", &b, &w);
    o.expr = "x*2+1";
    m.out_path = "/i16";
    snprintf(what, sizeof what, "int16 x*2+1 as %s", h5cl_dtype_name(out));
    run_map(ds, &o, &m, what);
    expect_map1(&want, out, &b, NULL, f_lin);
    check_output(dst, "/i16", &want, 0, what);
    return;

wide:
    if (out != H5CL_INT64 && out != H5CL_UINT64 && !tu_dtype_is_float(out))
        return;
    o.expr = "x";
    tu_array_init(&c, H5CL_UINT64, 1, &nb);
    memcpy(c.data, big_u, sizeof big_u);
    ds = put_open("/u64", &c, &w);
    m.out_path = "/u64";
    snprintf(what, sizeof what, "uint64 extremes as %s", h5cl_dtype_name(out));
    run_map(ds, &o, &m, what);
    expect_map1(&want, out, &c, NULL, f_copy);
    check_output(dst, "/u64", &want, 0, what);

    tu_array_init(&d, H5CL_INT64, 1, &nb);
    memcpy(d.data, big_i, sizeof big_i);
    w.big_endian = 1;
    ds = put_open("/i64", &d, &w);
    m.out_path = "/i64";
    snprintf(what, sizeof what, "int64 extremes (big-endian) as %s", h5cl_dtype_name(out));
    run_map(ds, &o, &m, what);
    expect_map1(&want, out, &d, NULL, f_copy);
    check_output(dst, "/i64", &want, 0, what);
}
END_TEST

/* sqrt(u*u + v*v) over two inputs of different types and layouts, bound
 * by name; the default type follows the wider input. */
START_TEST(test_map_two_inputs)
{
    static const struct {
        h5cl_dtype u, v;
        int u_layout, v_layout; /* 0 contiguous, 1 chunked, 2 compact */
        uint64_t tile;
        unsigned slots;
    } cases[] = {
        {H5CL_FLOAT32, H5CL_FLOAT64, 0, 1, 2048, 3},
        {H5CL_INT16, H5CL_FLOAT32, 1, 2, 1000, 1},
        {H5CL_FLOAT64, H5CL_UINT8, 1, 1, 3000, 4},
    };
    uint64_t dims[2] = {40, 50};
    char *fu = path_of("u.h5"), *fv = path_of("v.h5"), *out = path_of("out.h5");
    tu_array u, v, want;
    const tu_array *ins[2] = {&u, &v};
    tu_write_opts wu, wv;
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    h5cl_binding with[1];
    h5cl_dtype dts[2];
    char *sources, what[128];
    size_t len;
    if (!need_fp64())
        return;
    dts[0] = cases[_i].u;
    dts[1] = cases[_i].v;
    snprintf(what, sizeof what, "sqrt(u*u + v*v) over %s and %s", h5cl_dtype_name(dts[0]),
             h5cl_dtype_name(dts[1]));
    tu_rng_seed(&r, 300 + (uint64_t)_i);
    tu_array_init(&u, dts[0], 2, dims);
    tu_array_init(&v, dts[1], 2, dims);
    tu_fill_random(&u, &r, 0.01);
    tu_fill_random(&v, &r, 0.01);
    wu = cases[_i].u_layout == 1 ? chunked(16, 16, 0) : contiguous();
    wv = cases[_i].v_layout == 1 ? chunked(7, 5, 0) : contiguous();
    if (cases[_i].u_layout == 1)
        wu.gzip = 3;
    if (cases[_i].v_layout == 2)
        wv.layout = H5CL_LAYOUT_COMPACT;
    wv.big_endian = 1;
    tu_write(fu, "/u", &u, &wu);
    tu_write(fv, "/v", &v, &wv);
    with[0].name = "v";
    with[0].ds = tu_open(tu_ctx, fv, "/v");
    run_opts(&o, "sqrt(u*u + v*v)", cases[_i].tile, cases[_i].slots);
    o.name = "u";
    o.with = with;
    o.nwith = 1;
    map_opts(&m, out, "/r");
    s = run_map(tu_open(tu_ctx, fu, "/u"), &o, &m, what);
    expect_map(&want, default_out(dts, 2), ins, 2, NULL, f_hypot);
    check_output(out, "/r", &want, 0, what);
    check_summary(&s, u.n, h5cl_dtype_size(dts[0]) + h5cl_dtype_size(dts[1]),
                  h5cl_dtype_size(want.dtype), what);
    len = strlen(fu) + strlen(fv) + 16;
    sources = tu_alloc(len);
    snprintf(sources, len, "u=%s:/u v=%s:/v", fu, fv);
    check_attrs(out, "/r", "sqrt(u*u + v*v)", sources, what);
}
END_TEST

/* where(a > b, a, b) - c over three inputs of three types, byte orders and
 * chunk shapes; default float64 (int32 input), then int16 (saturating). */
START_TEST(test_map_three_inputs)
{
    uint64_t dims[2] = {33, 21};
    char *f = path_of("abc.h5"), *out = path_of("out.h5");
    tu_array a, b, c, want;
    const tu_array *ins[3] = {&a, &b, &c};
    tu_write_opts wa = chunked(5, 9, 0), wb = contiguous(), wc = chunked(16, 4, 0);
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    h5cl_binding with[2];
    h5cl_dataset *da;
    uint64_t i;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 400);
    tu_array_init(&a, H5CL_INT32, 2, dims);
    tu_array_init(&b, H5CL_UINT8, 2, dims);
    tu_array_init(&c, H5CL_FLOAT32, 2, dims);
    for (i = 0; i < a.n; i++)
        tu_set_i(&a, i, tu_rng_range(&r, -300, 300)); /* about half above b */
    tu_fill_random(&b, &r, 0);
    tu_fill_random(&c, &r, 0.02);
    tu_plant_extrema(&a, &r); /* int32 limits: saturate as int16 */
    wa.big_endian = 1;
    tu_write(f, "/a", &a, &wa);
    tu_write(f, "/grp/b", &b, &wb);
    tu_write(f, "/c", &c, &wc);
    da = tu_open(tu_ctx, f, "/a");
    with[0].name = "b";
    with[0].ds = tu_open(tu_ctx, f, "/grp/b");
    with[1].name = "c";
    with[1].ds = tu_open(tu_ctx, f, "/c");
    run_opts(&o, "where(a > b, a, b) - c", 1024, 2);
    o.name = "a";
    o.with = with;
    o.nwith = 2;
    map_opts(&m, out, "/m");
    s = run_map(da, &o, &m, "three inputs");
    expect_map(&want, H5CL_FLOAT64, ins, 3, NULL, f_where);
    check_output(out, "/m", &want, 0, "three inputs, float64");
    check_summary(&s, a.n, 4 + 1 + 4, 8, "three inputs");
    m.out_path = "/m16";
    m.dtype = H5CL_INT16;
    run_map(da, &o, &m, "three inputs as int16");
    expect_map(&want, H5CL_INT16, ins, 3, NULL, f_where);
    check_output(out, "/m16", &want, 0, "three inputs, int16");
}
END_TEST

/* Selections: the output has the selection's shape and holds its values;
 * chunked inputs give their chunk shape, clipped to the output. */
START_TEST(test_map_selections)
{
    char *out = path_of("out.h5");
    tu_array a, b, want;
    tu_sel sel;
    tu_rng r;
    tu_write_opts w;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    out_layout l;
    h5cl_dataset *ds;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 500 + (uint64_t)_i);
    if (_i == 0) {
        uint64_t dims[3] = {9, 10, 11};
        tu_array_init(&a, H5CL_INT16, 3, dims);
        tu_fill_random(&a, &r, 0);
        w = chunked(4, 3, 5);
        ds = put_open("/a", &a, &w);
        tu_sel_all(&sel, &a);
        tu_sel_axis(&sel, 0, 9, 1, 2, 1, 7);
        tu_sel_axis(&sel, 2, 11, 1, -4, 0, 0);
        run_opts(&o, "x*2+1", 512, 3);
        o.select = "2:7,:,-4:";
        map_opts(&m, out, "/s");
        s = run_map(ds, &o, &m, "3-D selection");
        expect_map1(&want, H5CL_FLOAT32, &a, &sel, f_lin);
        check_output(out, "/s", &want, 0, "3-D selection [2:7,:,-4:]");
        check_summary(&s, 5 * 10 * 4, 2, 4, "3-D selection");
        get_layout(out, "/s", &l);
        ck_assert_msg(l.chunked && l.rank == 3 && l.chunk[0] == 4 && l.chunk[1] == 3 &&
                          l.chunk[2] == 4,
                      "chunks of the selection's output: %d [%llu %llu %llu]", l.chunked,
                      (unsigned long long)l.chunk[0], (unsigned long long)l.chunk[1],
                      (unsigned long long)l.chunk[2]);
    } else if (_i == 1) {
        uint64_t n = 5000;
        tu_array_init(&a, H5CL_FLOAT32, 1, &n);
        tu_fill_random(&a, &r, 0.01);
        w = contiguous();
        ds = put_open("/a", &a, &w);
        tu_sel_all(&sel, &a);
        tu_sel_axis(&sel, 0, n, 1, 123, 1, 4321);
        run_opts(&o, "x*2+1", 4096, 2);
        o.select = "123:4321";
        map_opts(&m, out, "/s");
        s = run_map(ds, &o, &m, "1-D selection");
        expect_map1(&want, H5CL_FLOAT32, &a, &sel, f_lin);
        check_output(out, "/s", &want, 0, "1-D selection [123:4321]");
        check_summary(&s, 4321 - 123, 4, 4, "1-D selection");
        get_layout(out, "/s", &l);
        ck_assert_msg(!l.chunked, "a contiguous input without filters gave a chunked "
                                  "output");
    } else {
        uint64_t dims[2] = {50, 60};
        h5cl_binding with[1];
        const tu_array *ins[2] = {&a, &b};
        tu_array_init(&a, H5CL_FLOAT64, 2, dims);
        tu_array_init(&b, H5CL_UINT16, 2, dims);
        tu_fill_random(&a, &r, 0.01);
        tu_fill_random(&b, &r, 0);
        w = chunked(8, 8, 0);
        ds = put_open("/a", &a, &w);
        w = chunked(13, 60, 0);
        with[0].name = "y";
        with[0].ds = put_open("/b", &b, &w);
        tu_sel_all(&sel, &a);
        tu_sel_axis(&sel, 0, 50, 1, -17, 0, 0);
        tu_sel_axis(&sel, 1, 60, 1, 5, 1, -5);
        run_opts(&o, "x - y", 700, 4);
        o.select = "-17:,5:-5";
        o.with = with;
        o.nwith = 1;
        map_opts(&m, out, "/s");
        s = run_map(ds, &o, &m, "2-D selection, two inputs");
        expect_map(&want, H5CL_FLOAT64, ins, 2, &sel, f_diff);
        check_output(out, "/s", &want, 0, "2-D selection [-17:,5:-5] of x - y");
        check_summary(&s, 17 * 50, 8 + 2, 8, "2-D selection");
    }
}
END_TEST

/* Ranks 0 (a scalar stays a scalar) to 3. */
START_TEST(test_map_ranks)
{
    static const uint64_t shapes[4][3] = {{0}, {1000}, {31, 29}, {7, 8, 9}};
    char *out = path_of("out.h5");
    tu_array a, want;
    tu_rng r;
    tu_write_opts w = _i >= 2 ? chunked(5, 6, 4) : contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    char what[64];
    if (!need_fp64())
        return;
    snprintf(what, sizeof what, "rank %d", _i);
    tu_rng_seed(&r, 600 + (uint64_t)_i);
    tu_array_init(&a, H5CL_FLOAT32, _i, shapes[_i]);
    tu_fill_random(&a, &r, 0.05);
    if (_i == 0)
        tu_set_f(&a, 0, -2.25);
    run_opts(&o, "x*2+1", 1024, 2);
    map_opts(&m, out, "/deep/er/y");
    s = run_map(put_open("/x", &a, &w), &o, &m, what);
    expect_map1(&want, H5CL_FLOAT32, &a, NULL, f_lin);
    check_output(out, "/deep/er/y", &want, 0, what);
    check_summary(&s, a.n, 4, 4, what);
}
END_TEST

typedef struct progress_log {
    uint64_t calls, last_done, last_bytes, total;
    int bad;
    uint64_t cancel_at;
    uint64_t after_cancel;
    int cancelled;
} progress_log;

static int on_progress(uint64_t done, uint64_t total, uint64_t bytes, void *user)
{
    progress_log *p = user;
    if (p->cancelled)
        p->after_cancel++;
    if (p->calls && (done != p->last_done + 1 || bytes < p->last_bytes ||
                     total != p->total))
        p->bad = 1;
    p->calls++;
    p->last_done = done;
    p->last_bytes = bytes;
    p->total = total;
    if (p->cancel_at && done >= p->cancel_at) {
        p->cancelled = 1;
        return 1;
    }
    return 0;
}

/* Tiny tiles and every slot count from 1 to 4: the writer thread and the
 * reuse of output slots over many tiles. */
START_TEST(test_map_tiny_tiles)
{
    unsigned slots = (unsigned)_i;
    uint64_t n = 40000, dims[2] = {200, 150};
    char *out = path_of("out.h5");
    tu_array a, b, want;
    tu_rng r;
    tu_write_opts w = chunked(700, 0, 0);
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_run_summary s;
    progress_log p;
    char what[64];
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 700 + slots);
    tu_array_init(&a, H5CL_FLOAT32, 1, &n);
    tu_fill_random(&a, &r, 0.01);
    tu_array_init(&b, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&b, &r, 0.01);

    snprintf(what, sizeof what, "1-D chunked, %u slots", slots);
    memset(&p, 0, sizeof p);
    run_opts(&o, "x*2+1", 4096, slots);
    o.progress = on_progress;
    o.progress_user = &p;
    map_opts(&m, out, "/a");
    s = run_map(put_open("/a", &a, &w), &o, &m, what);
    expect_map1(&want, H5CL_FLOAT32, &a, NULL, f_lin);
    check_output(out, "/a", &want, 0, what);
    check_summary(&s, n, 4, 4, what);
    ck_assert_msg(s.tiles >= 50, "%s: %llu tiles", what, (unsigned long long)s.tiles);
    ck_assert_msg(s.slots >= 1 && s.slots <= slots, "%s: %u slots", what, s.slots);
    ck_assert_msg(p.calls == s.tiles && !p.bad && p.last_bytes == s.bytes,
                  "%s: %llu progress calls for %llu tiles (bad order %d)", what,
                  (unsigned long long)p.calls, (unsigned long long)s.tiles, p.bad);

    snprintf(what, sizeof what, "2-D contiguous, %u slots", slots);
    w = contiguous();
    o.progress = NULL;
    m.out_path = "/b";
    s = run_map(put_open("/b", &b, &w), &o, &m, what);
    expect_map1(&want, H5CL_FLOAT64, &b, NULL, f_lin);
    check_output(out, "/b", &want, 0, what);
    check_summary(&s, b.n, 8, 8, what);
    ck_assert_msg(s.tiles >= 50, "%s: %llu tiles", what, (unsigned long long)s.tiles);
}
END_TEST

/* Zero-size datasets and empty selections give empty outputs of the right
 * shape, with their attributes. */
START_TEST(test_map_empty)
{
    static const struct {
        int rank;
        uint64_t dims[2];
        int layout; /* 0 contiguous, 1 chunked */
        const char *select;
        uint64_t out[2];
    } cases[] = {
        {1, {0}, 0, NULL, {0}},       {1, {0}, 1, NULL, {0}},
        {2, {6, 0}, 1, NULL, {6, 0}}, {1, {10}, 0, "3:3", {0}},
        {2, {8, 5}, 1, "5:2,:", {0, 5}},
    };
    char *out = path_of("out.h5");
    size_t k;
    if (!need_fp64())
        return;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_array a, got;
        tu_write_opts w = cases[k].layout ? chunked(4, 4, 0) : contiguous();
        h5cl_run_options o;
        h5cl_map_options m;
        h5cl_run_summary s;
        h5cl_dataset *ds;
        char path[32], what[64];
        int d;
        snprintf(path, sizeof path, "/e%zu", k);
        snprintf(what, sizeof what, "empty case %zu", k);
        tu_array_init(&a, H5CL_INT32, cases[k].rank, cases[k].dims);
        run_opts(&o, "x*2+1", 4096, 2);
        o.select = cases[k].select;
        map_opts(&m, out, path);
        m.gzip = 4; /* nothing to compress: still fine */
        ds = put_open(path, &a, &w);
        s = run_map(ds, &o, &m, what);
        check_summary(&s, 0, 4, 8, what);
        tu_read(out, path, &got);
        ck_assert_msg(got.dtype == H5CL_FLOAT64, "%s: dtype %s", what,
                      h5cl_dtype_name(got.dtype));
        ck_assert_int_eq(got.rank, cases[k].rank);
        for (d = 0; d < got.rank; d++)
            ck_assert_msg(got.dims[d] == cases[k].out[d], "%s: dims[%d] %llu, want %llu",
                          what, d, (unsigned long long)got.dims[d],
                          (unsigned long long)cases[k].out[d]);
        check_attrs(out, path, "x*2+1", source_text("x", file_of(ds), path), what);
    }
    check_no_temp(tu_dir(), "empty outputs");
}
END_TEST

/* An existing file: other datasets keep their bytes, the file its mode;
 * missing groups of the output path are made; a second output leaves the
 * first intact. */
START_TEST(test_map_existing_file)
{
    uint64_t na = 100, db[2] = {30, 40};
    char *out = path_of("target.h5");
    tu_array a, b, c, x, want, got;
    tu_write_opts w = contiguous(), wb = chunked(8, 16, 0);
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    snap in_before;
    struct stat st;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 800);
    tu_array_init(&a, H5CL_INT32, 1, &na);
    tu_fill_random(&a, &r, 0);
    tu_array_init(&b, H5CL_FLOAT64, 2, db);
    tu_fill_random(&b, &r, 0.1);
    tu_array_init(&c, H5CL_UINT8, 0, NULL);
    tu_set_u(&c, 0, 201);
    tu_write(out, "/a", &a, &w);
    wb.gzip = 5;
    wb.shuffle = 1;
    wb.big_endian = 1;
    tu_write(out, "/g/b", &b, &wb);
    tu_write(out, "/g/c", &c, &w);
    ck_assert(chmod(out, 0640) == 0);

    tu_array_init(&x, H5CL_FLOAT32, 2, db);
    tu_fill_random(&x, &r, 0.02);
    ds = put_open("/x", &x, &wb);
    snap_take(&in_before, file_of(ds));
    run_opts(&o, "x*2+1", 2048, 3);
    map_opts(&m, out, "/g/new/deep/y");
    run_map(ds, &o, &m, "into an existing file");
    expect_map1(&want, H5CL_FLOAT32, &x, NULL, f_lin);
    check_output(out, "/g/new/deep/y", &want, 0, "into an existing file");
    tu_read(out, "/a", &got);
    check_values(&got, &a, 0, "/a after the map");
    tu_read(out, "/g/b", &got);
    check_values(&got, &b, 0, "/g/b after the map");
    tu_read(out, "/g/c", &got);
    check_values(&got, &c, 0, "/g/c after the map");
    ck_assert(stat(out, &st) == 0);
    ck_assert_msg((st.st_mode & 07777) == 0640, "mode %o, want 640",
                  (unsigned)(st.st_mode & 07777));
    snap_check(&in_before, "the input after a map");

    o.expr = "x > 1";
    m.out_path = "/z";
    run_map(ds, &o, &m, "a second output");
    expect_map1(&want, H5CL_UINT8, &x, NULL, f_gt1);
    check_output(out, "/z", &want, 0, "the second output");
    expect_map1(&want, H5CL_FLOAT32, &x, NULL, f_lin);
    check_output(out, "/g/new/deep/y", &want, 0, "the first output after a second");
    tu_read(out, "/g/b", &got);
    check_values(&got, &b, 0, "/g/b after two maps");
    check_no_temp(tu_dir(), "existing file");
}
END_TEST

/* A new file in a subdirectory, with a path of groups that do not exist. */
START_TEST(test_map_new_file_nested)
{
    uint64_t n = 999;
    char *sub = path_of("sub"), *out = path_of("sub/new.h5");
    tu_array a, want;
    tu_rng r;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    if (!need_fp64())
        return;
    ck_assert(mkdir(sub, 0755) == 0);
    tu_rng_seed(&r, 900);
    tu_array_init(&a, H5CL_UINT16, 1, &n);
    tu_fill_random(&a, &r, 0);
    run_opts(&o, "x*2+1", 0, 0);
    map_opts(&m, out, "/a/b/c/out");
    run_map(put_open("/x", &a, &w), &o, &m, "new file, nested path");
    expect_map1(&want, H5CL_FLOAT32, &a, NULL, f_lin);
    check_output(out, "/a/b/c/out", &want, 0, "new file, nested path");
    check_no_temp(sub, "new file");
    check_no_temp(tu_dir(), "new file");
}
END_TEST

/* gzip + shuffle: the filters in the output's dcpl (shuffle first), chunks
 * chosen for a contiguous input, the input's chunks otherwise. */
START_TEST(test_map_gzip_shuffle)
{
    uint64_t dims[2] = {300, 500};
    char *out = path_of("out.h5");
    tu_array a, want;
    tu_rng r;
    tu_write_opts w = _i ? chunked(32, 64, 0) : contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    out_layout l;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1000 + (uint64_t)_i);
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.01);
    ds = put_open("/x", &a, &w);
    run_opts(&o, "x*2+1", 64 * 1024, 3);
    map_opts(&m, out, "/z");
    m.gzip = _i ? 1 : 6;
    m.shuffle = !_i;
    run_map(ds, &o, &m, "gzip");
    expect_map1(&want, H5CL_FLOAT64, &a, NULL, f_lin);
    check_output(out, "/z", &want, 0, "gzip output");
    get_layout(out, "/z", &l);
    ck_assert_msg(l.chunked && l.rank == 2, "gzip output not chunked");
    ck_assert_msg(l.deflate == m.gzip, "deflate level %d, want %d", l.deflate, m.gzip);
    if (_i) {
        ck_assert_msg(l.shuffle < 0 && l.nfilters == 1, "filters: %d, shuffle at %d",
                      l.nfilters, l.shuffle);
        ck_assert_msg(l.chunk[0] == 32 && l.chunk[1] == 64, "chunks %llux%llu, want the "
                      "input's 32x64", (unsigned long long)l.chunk[0],
                      (unsigned long long)l.chunk[1]);
    } else {
        ck_assert_msg(l.nfilters == 2 && l.shuffle == 0 && l.deflate_at == 1,
                      "filters: %d, shuffle at %d, deflate at %d", l.nfilters, l.shuffle,
                      l.deflate_at);
        ck_assert_msg(l.chunk[0] >= 1 && l.chunk[0] <= 300 && l.chunk[1] >= 1 &&
                          l.chunk[1] <= 500,
                      "chunks %llux%llu of 300x500", (unsigned long long)l.chunk[0],
                      (unsigned long long)l.chunk[1]);
        ck_assert_msg(l.chunk[0] * l.chunk[1] * 8 <= 4u << 20, "chunks of %llu bytes",
                      (unsigned long long)(l.chunk[0] * l.chunk[1] * 8));
    }
    /* levels outside 1..9 are refused before anything is made */
    m.out_path = "/bad";
    m.gzip = 10;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "gzip 10");
    m.gzip = -1;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "gzip -1");
    check_no_temp(tu_dir(), "gzip");
}
END_TEST

/* chunk_rank/chunk_dims: used as given (with gzip, and not aligned with
 * the tiles, so chunks are written in parts), clipped to the output,
 * refused when the rank differs or a dimension is 0. */
START_TEST(test_map_chunk_dims)
{
    uint64_t dims[2] = {40, 50};
    char *out = path_of("out.h5");
    tu_array a, want;
    tu_rng r;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    out_layout l;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1100);
    tu_array_init(&a, H5CL_FLOAT32, 2, dims);
    tu_fill_random(&a, &r, 0.01);
    ds = put_open("/x", &a, &w);
    expect_map1(&want, H5CL_FLOAT32, &a, NULL, f_lin);
    run_opts(&o, "x*2+1", 1000, 2);
    map_opts(&m, out, "/c");
    m.chunk_rank = 2;
    m.chunk_dims[0] = 6;
    m.chunk_dims[1] = 7;
    m.gzip = 2;
    run_map(ds, &o, &m, "chunks 6x7");
    check_output(out, "/c", &want, 0, "chunks 6x7");
    get_layout(out, "/c", &l);
    ck_assert_msg(l.chunked && l.rank == 2 && l.chunk[0] == 6 && l.chunk[1] == 7,
                  "chunks %llux%llu, want 6x7", (unsigned long long)l.chunk[0],
                  (unsigned long long)l.chunk[1]);

    m.out_path = "/clipped";
    m.chunk_dims[0] = 100;
    m.gzip = 0;
    run_map(ds, &o, &m, "chunks 100x7");
    check_output(out, "/clipped", &want, 0, "chunks 100x7");
    get_layout(out, "/clipped", &l);
    ck_assert_msg(l.chunked && l.chunk[0] == 40 && l.chunk[1] == 7,
                  "chunks %llux%llu, want 40x7", (unsigned long long)l.chunk[0],
                  (unsigned long long)l.chunk[1]);

    m.out_path = "/bad";
    m.chunk_rank = 1;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "chunk rank 1 of a 2-D output");
    m.chunk_rank = 2;
    m.chunk_dims[0] = 0;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "chunk dimension 0");
    tu_read(out, "/c", &a); /* the file is intact */
    check_no_temp(tu_dir(), "chunk dims");
}
END_TEST

/* Transcendental functions: within a relative tolerance of the host. */
START_TEST(test_map_transcendental)
{
    uint64_t n = 4000;
    char *out = path_of("out.h5");
    tu_array a, want;
    tu_rng r;
    tu_write_opts w = chunked(1000, 0, 0);
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dtype dt = _i ? H5CL_FLOAT32 : H5CL_FLOAT64;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1200 + (uint64_t)_i);
    tu_array_init(&a, dt, 1, &n);
    tu_fill_random(&a, &r, 0.01);
    run_opts(&o, "exp(x / 100) * (2 + sin(x))", 4096, 2);
    map_opts(&m, out, "/t");
    run_map(put_open("/x", &a, &w), &o, &m, "transcendental");
    expect_map1(&want, dt, &a, NULL, f_trans);
    /* float32: the device's double may round to the neighbouring float */
    check_output(out, "/t", &want, _i ? 2e-7 : 1e-13, "exp(x / 100) * (2 + sin(x))");
}
END_TEST

/* x*y - z in double is x*y rounded, then the subtraction rounded, as numpy
 * and the host reference compute it: a fused multiply-add (contraction,
 * which OpenCL C allows by default) gives other last bits. */
START_TEST(test_map_no_contraction)
{
    uint64_t n = 4096, i;
    char *out = path_of("out.h5");
    tu_array a, b, c, want;
    const tu_array *ins[3] = {&a, &b, &c};
    tu_rng r;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_binding with[2];
    h5cl_dataset *ds;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1300);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_array_init(&b, H5CL_FLOAT64, 1, &n);
    tu_array_init(&c, H5CL_FLOAT64, 1, &n);
    for (i = 0; i < n; i++) {
        double x = 1 + tu_rng_unit(&r), y = 1 + tu_rng_unit(&r);
        tu_set_f(&a, i, x);
        tu_set_f(&b, i, y);
        tu_set_f(&c, i, x * y); /* the product's rounding error is all that is left */
    }
    ds = put_open("/x", &a, &w);
    with[0].name = "y";
    with[0].ds = put_open("/y", &b, &w);
    with[1].name = "z";
    with[1].ds = put_open("/z", &c, &w);
    run_opts(&o, "x*y - z", 0, 0);
    o.with = with;
    o.nwith = 2;
    map_opts(&m, out, "/r");
    run_map(ds, &o, &m, "x*y - z");
    expect_map(&want, H5CL_FLOAT64, ins, 3, NULL, f_mulsub);
    check_output(out, "/r", &want, 0, "x*y - z (all zeros unless contracted into an fma)");
}
END_TEST

/* ======================================================================
 * Maps: safety.
 */

/* A small existing target with one dataset, for the failure tests. */
static char *make_target(const char *name, tu_rng *r)
{
    char *t = path_of(name);
    uint64_t n = 500;
    tu_array a;
    tu_write_opts w = chunked(100, 0, 0);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(&a, r, 0);
    w.gzip = 1;
    tu_write(t, "/keep", &a, &w);
    return t;
}

/* An existing dataset (or group) is H5CL_ERR_EXISTS without overwrite, the
 * file unchanged; with overwrite it is replaced, the rest intact. */
START_TEST(test_map_exists)
{
    uint64_t n = 10, dims[2] = {20, 30};
    char *out;
    tu_array old, a, want, keep, got;
    tu_write_opts w = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    snap before;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1400);
    out = make_target("t.h5", &r);
    tu_read(out, "/keep", &keep);
    tu_array_init(&old, H5CL_FLOAT32, 1, &n);
    tu_fill_random(&old, &r, 0);
    tu_write(out, "/y", &old, &w);
    tu_write_group(out, "/grp/sub");
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.01);
    ds = put_open("/x", &a, &w);
    snap_take(&before, out);

    run_opts(&o, "x*2+1", 4096, 2);
    map_opts(&m, out, "/y");
    map_fails(ds, &o, &m, H5CL_ERR_EXISTS, "existing dataset");
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "/y") != NULL, "message: %s",
                  h5cl_ctx_errmsg(tu_ctx));
    snap_check(&before, "after ERR_EXISTS");
    m.out_path = "/grp";
    map_fails(ds, &o, &m, H5CL_ERR_EXISTS, "existing group");
    snap_check(&before, "after ERR_EXISTS (group)");
    check_no_temp(tu_dir(), "ERR_EXISTS");

    m.out_path = "/y";
    m.overwrite = 1;
    run_map(ds, &o, &m, "overwrite");
    expect_map1(&want, H5CL_FLOAT64, &a, NULL, f_lin);
    check_output(out, "/y", &want, 0, "overwritten /y (new shape and dtype)");
    tu_read(out, "/keep", &got);
    check_values(&got, &keep, 0, "/keep after the overwrite");
    check_attrs(out, "/y", "x*2+1", source_text("x", file_of(ds), "/x"), "overwrite");
    check_no_temp(tu_dir(), "overwrite");
}
END_TEST

/* The output file is an input file: by the same path, a symlink, a hard
 * link, or the file of a `with` input under another spelling. */
START_TEST(test_map_output_is_input)
{
    uint64_t n = 300;
    char *in = path_of("in.h5"), *other = path_of("other.h5"), *target;
    tu_array a;
    tu_write_opts w = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_binding with[1];
    h5cl_dataset *ds;
    snap b_in, b_other;
    const char *how[4] = {"the same path", "a symlink", "a hard link",
                          "the with input's file, spelled dir/./name"};
    int rc;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1500);
    tu_array_init(&a, H5CL_INT16, 1, &n);
    tu_fill_random(&a, &r, 0);
    tu_write(in, "/x", &a, &w);
    tu_write(other, "/y", &a, &w);
    ds = tu_open(tu_ctx, in, "/x");
    with[0].name = "y";
    with[0].ds = tu_open(tu_ctx, other, "/y");
    run_opts(&o, "x + y", 256, 2);
    o.with = with;
    o.nwith = 1;
    switch (_i) {
    case 0: target = in; break;
    case 1:
        target = path_of("link.h5");
        ck_assert(symlink(in, target) == 0);
        break;
    case 2:
        target = path_of("hard.h5");
        ck_assert(link(in, target) == 0);
        break;
    default: {
        size_t len = strlen(tu_dir()) + 16;
        target = tu_alloc(len);
        snprintf(target, len, "%s/./other.h5", tu_dir());
        break;
    }
    }
    snap_take(&b_in, in);
    snap_take(&b_other, other);
    map_opts(&m, target, "/new");
    rc = h5cl_map_run(ds, &o, &m, NULL);
    ck_assert_msg(rc == H5CL_ERR_OUTPUT_IS_INPUT, "output = input by %s: %s (%s)", how[_i],
                  h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(tu_contains_ci(h5cl_ctx_errmsg(tu_ctx), "input"), "message: %s",
                  h5cl_ctx_errmsg(tu_ctx));
    snap_check(&b_in, how[_i]);
    snap_check(&b_other, how[_i]);
    check_no_temp(tu_dir(), how[_i]);
    /* the inputs are still readable through their open handles */
    tu_compute(ds, NULL, "the input after the refusal");
    tu_compute(with[0].ds, NULL, "the with input after the refusal");
}
END_TEST

/* A SIGKILL leaves its temporary file; the next write of the same target
 * removes those of processes gone from this machine, and only those: a
 * live process's, another machine's and another target's stay. */
START_TEST(test_map_stale_temps)
{
    uint64_t n = 100;
    char *out = path_of("stale.h5");
    tu_array a;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    char host[256] = "", dead[512], live[512], other_host[512], other_base[512];
    pid_t child;
    tu_array_init(&a, H5CL_INT16, 1, &n);
    tu_write(path_of("stale-in.h5"), "/x", &a, &w);
    h5cl_dataset *ds = tu_open(tu_ctx, path_of("stale-in.h5"), "/x");
    ck_assert(gethostname(host, sizeof host) == 0);
    for (const char *c = host; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.')
            return; /* the library rewrites such names; not worth a copy */
    child = fork();
    ck_assert(child >= 0);
    if (child == 0)
        _exit(0);
    ck_assert(waitpid(child, NULL, 0) == child); /* a PID now unused */
    snprintf(dead, sizeof dead, "%s/.stale.h5.h5cl-%s-%ld-0.tmp", tu_dir(),
             host, (long)child);
    snprintf(live, sizeof live, "%s/.stale.h5.h5cl-%s-%ld-7.tmp", tu_dir(),
             host, (long)getpid());
    snprintf(other_host, sizeof other_host,
             "%s/.stale.h5.h5cl-elsewhere-%ld-0.tmp", tu_dir(), (long)child);
    snprintf(other_base, sizeof other_base, "%s/.other.h5.h5cl-%s-%ld-0.tmp",
             tu_dir(), host, (long)child);
    const char *all[] = {dead, live, other_host, other_base};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = fopen(all[i], "w");
        ck_assert(f != NULL);
        fclose(f);
    }
    run_opts(&o, "x + 1", 64, 2);
    map_opts(&m, out, "/y");
    ck_assert_int_eq(h5cl_map_run(ds, &o, &m, NULL), H5CL_OK);
    ck_assert_msg(access(dead, F_OK) != 0, "the dead run's temporary stays");
    ck_assert(access(live, F_OK) == 0);
    ck_assert(access(other_host, F_OK) == 0);
    ck_assert(access(other_base, F_OK) == 0);
    for (size_t i = 1; i < 4; i++)
        unlink(all[i]);
}
END_TEST

/* An existing file that is not HDF5, a directory, a missing directory. */
START_TEST(test_map_bad_targets)
{
    uint64_t n = 100;
    char *txt = path_of("notes.txt"), *empty = path_of("empty.h5");
    char *dir = path_of("adir"), *missing = path_of("nodir/out.h5");
    tu_array a;
    tu_write_opts w = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    snap b1, b2;
    FILE *f;
    int rc;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1600);
    tu_array_init(&a, H5CL_FLOAT32, 1, &n);
    tu_fill_random(&a, &r, 0);
    ds = put_open("/x", &a, &w);
    f = fopen(txt, "w");
    ck_assert(f != NULL);
    fputs("precious notes, not HDF5\n", f);
    fclose(f);
    f = fopen(empty, "w");
    ck_assert(f != NULL);
    fclose(f);
    ck_assert(mkdir(dir, 0755) == 0);
    snap_take(&b1, txt);
    snap_take(&b2, empty);
    run_opts(&o, "x*2+1", 0, 0);

    map_opts(&m, txt, "/y");
    map_fails(ds, &o, &m, H5CL_ERR_NOT_HDF5, "a text file");
    snap_check(&b1, "the text file");
    map_opts(&m, empty, "/y");
    map_fails(ds, &o, &m, H5CL_ERR_NOT_HDF5, "an empty file");
    snap_check(&b2, "the empty file");

    map_opts(&m, dir, "/y");
    rc = h5cl_map_run(ds, &o, &m, NULL);
    ck_assert_msg(rc != H5CL_OK, "a directory as the output file");
    ck_assert(h5cl_ctx_errmsg(tu_ctx)[0] != '\0');
    {
        struct stat st;
        ck_assert(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    }
    map_opts(&m, missing, "/y");
    rc = h5cl_map_run(ds, &o, &m, NULL);
    ck_assert_msg(rc != H5CL_OK, "an output in a missing directory");
    ck_assert(h5cl_ctx_errmsg(tu_ctx)[0] != '\0');
    ck_assert(!exists(missing));
    check_no_temp(tu_dir(), "bad targets");
    check_no_temp(dir, "bad targets");
}
END_TEST

/* Invalid expressions and options fail before anything is written. */
START_TEST(test_map_invalid)
{
    static const char *bad[] = {"x *", "sqrt(x", "y + 1", "x ^ 2", "foo(x)", "", "x +* 2"};
    uint64_t n = 200;
    char *target, *fresh = path_of("fresh.h5");
    tu_array a;
    tu_write_opts w = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    snap before;
    size_t k;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1700);
    target = make_target("t.h5", &r);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(&a, &r, 0);
    ds = put_open("/x", &a, &w);
    snap_take(&before, target);
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "expression \"%s\"", bad[k]);
        run_opts(&o, bad[k], 0, 0);
        map_opts(&m, target, "/y");
        map_fails(ds, &o, &m, H5CL_ERR_EXPRESSION, what);
        ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "column") != NULL, "%s: message %s",
                      what, h5cl_ctx_errmsg(tu_ctx));
        map_opts(&m, fresh, "/y");
        map_fails(ds, &o, &m, H5CL_ERR_EXPRESSION, what);
        ck_assert_msg(!exists(fresh), "%s: made %s", what, fresh);
    }
    snap_check(&before, "after expression errors");

    run_opts(&o, NULL, 0, 0);
    map_opts(&m, target, "/y");
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "no expression");
    run_opts(&o, "x", 0, 0);
    map_opts(&m, NULL, "/y");
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "no output file");
    map_opts(&m, target, NULL);
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "no output path");
    map_opts(&m, target, "relative");
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "a relative dataset path");
    map_opts(&m, target, "/y");
    m.dtype = H5CL_DTYPE_COUNT;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "dtype out of range");
    m.dtype = -2;
    map_fails(ds, &o, &m, H5CL_ERR_INVALID_ARGUMENT, "dtype -2");
    map_opts(&m, target, "/y");
    o.axis = 0;
    map_fails(ds, &o, &m, H5CL_ERR_AXIS, "a map with an axis");
    o.axis = -1;
    o.select = "0:5,1:2";
    map_fails(ds, &o, &m, H5CL_ERR_SELECTION, "a 2-D selection of a 1-D dataset");
    ck_assert_int_eq(h5cl_map_run(NULL, &o, &m, NULL), H5CL_ERR_INVALID_ARGUMENT);
    snap_check(&before, "after invalid options");
    ck_assert(!exists(fresh));
    check_no_temp(tu_dir(), "invalid");
    /* the context still maps */
    o.select = NULL;
    run_map(ds, &o, &m, "after the errors");
}
END_TEST

/* Inputs of different shapes: H5CL_ERR_SHAPE naming both shapes. */
START_TEST(test_map_shape_mismatch)
{
    uint64_t d1[2] = {10, 20}, d2[2] = {10, 21}, d3 = 200;
    char *out = path_of("out.h5");
    tu_array a, b, c;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_binding with[1];
    h5cl_dataset *ds;
    const char *msg;
    if (!need_fp64())
        return;
    tu_array_init(&a, H5CL_FLOAT32, 2, d1);
    tu_array_init(&b, H5CL_FLOAT32, 2, d2);
    tu_array_init(&c, H5CL_FLOAT32, 1, &d3);
    ds = put_open("/a", &a, &w);
    with[0].name = "y";
    with[0].ds = put_open("/b", &b, &w);
    run_opts(&o, "x + y", 0, 0);
    o.with = with;
    o.nwith = 1;
    map_opts(&m, out, "/r");
    map_fails(ds, &o, &m, H5CL_ERR_SHAPE, "10x20 with 10x21");
    msg = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(strstr(msg, "(10, 20)") && strstr(msg, "(10, 21)"), "message: %s", msg);
    with[0].ds = put_open("/c", &c, &w);
    map_fails(ds, &o, &m, H5CL_ERR_SHAPE, "10x20 with 200");
    msg = h5cl_ctx_errmsg(tu_ctx);
    ck_assert_msg(strstr(msg, "(10, 20)") && strstr(msg, "(200)"), "message: %s", msg);
    ck_assert(!exists(out));
    check_no_temp(tu_dir(), "shape");
}
END_TEST

/* Cancelled by the progress callback after two tiles: the target is as it
 * was (absent when it did not exist), no temporary file is left, and the
 * context maps again. */
START_TEST(test_map_cancel)
{
    uint64_t n = 100000;
    char *target;
    tu_array a, want;
    tu_write_opts w = chunked(512, 0, 0);
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    progress_log p;
    snap before;
    int rc;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1800);
    target = _i ? path_of("new.h5") : make_target("t.h5", &r);
    if (!_i)
        snap_take(&before, target);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(&a, &r, 0);
    ds = put_open("/x", &a, &w);
    memset(&p, 0, sizeof p);
    p.cancel_at = 2;
    run_opts(&o, "x*2+1", 4096, 3);
    o.progress = on_progress;
    o.progress_user = &p;
    map_opts(&m, target, "/y");
    rc = h5cl_map_run(ds, &o, &m, NULL);
    ck_assert_msg(rc == H5CL_ERR_CANCELLED, "cancel: %s (%s)", h5cl_errname(rc),
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_uint_eq(p.calls, 2);
    ck_assert_uint_eq(p.after_cancel, 0);
    if (_i)
        ck_assert_msg(!exists(target), "a cancelled map made %s", target);
    else
        snap_check(&before, "after the cancel");
    check_no_temp(tu_dir(), "cancel");

    o.progress = NULL;
    run_map(ds, &o, &m, "after the cancel");
    expect_map1(&want, H5CL_FLOAT64, &a, NULL, f_lin);
    check_output(target, "/y", &want, 0, "after the cancel");
}
END_TEST

typedef struct fsize_guard {
    struct rlimit old;
    void (*old_handler)(int);
} fsize_guard;

static void restore_fsize(void *p)
{
    fsize_guard *g = p;
    setrlimit(RLIMIT_FSIZE, &g->old);
    signal(SIGXFSZ, g->old_handler);
}

/* A full disk: RLIMIT_FSIZE lets the copy of the target be made but not
 * the new data.  An error with a message, the target unchanged (absent
 * when new), no temporary file, no HDF5 file left open.  Case 0: an
 * existing target, the data written through (H5Dwrite fails); 1: a new
 * target; 2: chunks held in the chunk cache, so the failure comes when the
 * output is finished (H5Dclose).  Skipped without fork: a file HDF5 1.10
 * could not close crashes its exit handler, which would end the whole
 * runner; the limit and SIGXFSZ come back at teardown all the same. */
START_TEST(test_map_disk_full)
{
    uint64_t n = 200000;
    char *target;
    tu_array a, want;
    tu_write_opts w = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_map_options m;
    h5cl_dataset *ds;
    snap before = {0};
    fsize_guard *g;
    struct rlimit lim;
    ssize_t open_before, open_after;
    char msg[2048];
    int rc;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 1900);
    if (!tu_runner_forks())
        return;
    target = _i == 1 ? path_of("new.h5") : make_target("t.h5", &r);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(&a, &r, 0);
    ds = put_open("/x", &a, &w);
    /* the same kernel once, so nothing needs to be compiled and cached
     * under the limit */
    run_opts(&o, "x*2+1", 64 * 1024, 2);
    map_opts(&m, path_of("warm.h5"), "/y");
    if (_i == 2) {
        m.chunk_rank = 1;
        m.chunk_dims[0] = 50000;
    }
    run_map(ds, &o, &m, "warm-up");
    if (_i != 1)
        snap_take(&before, target);

    g = tu_alloc(sizeof *g);
    ck_assert(getrlimit(RLIMIT_FSIZE, &g->old) == 0);
    g->old_handler = signal(SIGXFSZ, SIG_IGN);
    tu_defer(restore_fsize, g);
    lim = g->old;
    lim.rlim_cur = before.n + 16384;
    ck_assert(setrlimit(RLIMIT_FSIZE, &lim) == 0);

    m.out_file = target;
    open_before = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE);
    rc = h5cl_map_run(ds, &o, &m, NULL);
    tu_release(g); /* the limit off before asserting */
    open_after = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE);
    ck_assert_msg(rc == H5CL_ERR_HDF5 || rc == H5CL_ERR_IO,
                  "a full disk gave %s (%s)", h5cl_errname(rc), h5cl_ctx_errmsg(tu_ctx));
    ck_assert_msg(h5cl_ctx_errmsg(tu_ctx)[0] != '\0', "no message");
    snprintf(msg, sizeof msg, "%s", h5cl_ctx_errmsg(tu_ctx));
    if (_i == 1)
        ck_assert_msg(!exists(target), "a failed map made %s", target);
    else
        snap_check(&before, "after a full disk");
    check_no_temp(tu_dir(), "disk full");

    run_map(ds, &o, &m, "after the disk had room again");
    expect_map1(&want, H5CL_FLOAT64, &a, NULL, f_lin);
    check_output(target, "/y", &want, 0, "after the disk had room again");
    /* an HDF5 file left open after a failed close crashes HDF5 1.10's
     * atexit handler (H5F__close_cb), and leaks in long-lived processes */
    ck_assert_msg(open_after == open_before,
                  "case %d: the failed map left %ld HDF5 file(s) open (the "
                  "temporary output, whose H5Fclose failed); it said: %s",
                  _i, (long)(open_after - open_before), msg);
}
END_TEST

/* Device out of memory (fault injection): the map retries with smaller
 * tiles and succeeds; when nothing fits it fails cleanly. */
START_TEST(test_map_device_memory)
{
    uint64_t dims[2] = {600, 700};
    char *target;
    tu_array a, want;
    tu_write_opts w = chunked(256, 512, 0);
    tu_rng r;
    h5cl_map_options m;
    h5cl_run_options o;
    h5cl_run_summary s;
    h5cl_dataset *ds;
    snap before;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 2000);
    target = make_target("t.h5", &r);
    tu_array_init(&a, H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.001);
    w.gzip = 1;
    ds = put_open("/data", &a, &w);
    run_opts(&o, "x*2+1", 0, 0);
    map_opts(&m, target, "/y");
    tu_setenv("H5CL_TEST_MAX_ALLOC", "300000");
    s = run_map(ds, &o, &m, "shrunk tiles");
    ck_assert_uint_le(s.tile_bytes, 300000);
    check_summary(&s, a.n, 8, 8, "shrunk tiles");
    expect_map1(&want, H5CL_FLOAT64, &a, NULL, f_lin);
    check_output(target, "/y", &want, 0, "shrunk tiles");

    snap_take(&before, target);
    tu_setenv("H5CL_TEST_MAX_ALLOC", "1000");
    m.out_path = "/z";
    map_fails(ds, &o, &m, H5CL_ERR_DEVICE_MEMORY, "nothing fits");
    snap_check(&before, "after running out of device memory");
    check_no_temp(tu_dir(), "device memory");
}
END_TEST

/* ======================================================================
 * Fused map-reduce: statistics of an expression.
 */

/* The values of f over the whole inputs, as float64 (the statistics'
 * input). */
static void expr_values(tu_array *vals, const tu_array *const *in, size_t nin, host_fn f)
{
    expect_map(vals, H5CL_FLOAT64, in, nin, NULL, f);
}

/* Checks statistics of an expression against the reference of its host
 * values: kind FLOAT, and min/max within mm_rel (0: exactly) for functions
 * the device computes to a few ulps; everything else as tu_check_state. */
static void check_expr_stats(const h5cl_stats *st, const tu_array *vals,
                             const tu_sel *sel, int axis, double mm_rel,
                             const char *what)
{
    uint64_t dims[H5CL_MAX_RANK];
    size_t n, i;
    int rank;
    tu_ref *ref = tu_reference(vals, sel, axis, &n, &rank, dims);
    for (i = 0; i < n && i < h5cl_stats_count(st); i++) {
        const h5cl_stats_state *g = h5cl_stats_get(st, i);
        ck_assert_msg(g->kind == H5CL_KIND_FLOAT, "%s: state kind %d, want FLOAT", what,
                      g->kind);
        if (mm_rel > 0 && ref[i].count) {
            if (fabs(g->min.f - ref[i].min.f) <= mm_rel * fabs(ref[i].min.f))
                ref[i].min.f = g->min.f;
            if (fabs(g->max.f - ref[i].max.f) <= mm_rel * fabs(ref[i].max.f))
                ref[i].max.f = g->max.f;
        }
    }
    tu_check_stats(st, ref, n, rank, dims, tu_tolerance(&tu_dev), what);
}

/* (x - 3.5)**2 over float64 (3.5 planted: the minimum 0) and int32. */
START_TEST(test_stats_expr)
{
    uint64_t dims[2] = {120, 90};
    tu_array a, vals;
    const tu_array *ins[1] = {&a};
    tu_write_opts w = chunked(32, 32, 0);
    tu_rng r;
    h5cl_run_options o;
    h5cl_dataset *ds;
    h5cl_stats *st;
    tu_sel sel;
    const char *what = _i ? "(x - 3.5)**2 over int32" : "(x - 3.5)**2 over float64";
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 2100 + (uint64_t)_i);
    tu_array_init(&a, _i ? H5CL_INT32 : H5CL_FLOAT64, 2, dims);
    tu_fill_random(&a, &r, 0.02);
    if (!_i) {
        tu_set_f(&a, 4321, 3.5);
        tu_set_f(&a, 777, 1000.0);
    }
    ds = put_open("/x", &a, &w);
    expr_values(&vals, ins, 1, f_sq35);
    run_opts(&o, "(x - 3.5)**2", 4096, 3);
    st = tu_compute(ds, &o, what);
    check_expr_stats(st, &vals, NULL, -1, 1e-15, what);
    ck_assert_msg(h5cl_stats_summary(st)->bytes == a.n * h5cl_dtype_size(a.dtype),
                  "%s: summary bytes %llu", what,
                  (unsigned long long)h5cl_stats_summary(st)->bytes);
    if (!_i) {
        ck_assert_uint_eq(h5cl_stats_get(st, 0)->argmin, 4321);
        ck_assert(h5cl_stats_get(st, 0)->min.f == 0);
    }
    /* and over a selection */
    tu_sel_all(&sel, &a);
    tu_sel_axis(&sel, 0, 120, 1, 10, 1, 100);
    tu_sel_axis(&sel, 1, 90, 1, 3, 1, -3);
    o.select = "10:100,3:-3";
    check_expr_stats(tu_compute(ds, &o, what), &vals, &sel, -1, 1e-15, what);
}
END_TEST

/* Two inputs through `with`: x - y, and the L2 distance as the square root
 * of the sum of (x - y)*(x - y). */
START_TEST(test_stats_expr_with)
{
    uint64_t n = 5000;
    tu_array x, y, vals;
    const tu_array *ins[2] = {&x, &y};
    tu_write_opts wx = chunked(300, 0, 0), wy = contiguous();
    tu_rng r;
    h5cl_run_options o;
    h5cl_binding with[1];
    h5cl_dataset *ds;
    h5cl_stats *st;
    tu_sel sel;
    long double l2 = 0;
    double got;
    uint64_t i;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 2200);
    tu_array_init(&x, H5CL_FLOAT64, 1, &n);
    tu_array_init(&y, H5CL_FLOAT32, 1, &n);
    tu_fill_random(&x, &r, 0.01);
    tu_fill_random(&y, &r, 0.01);
    tu_plant_extrema(&x, &r);
    wy.big_endian = 1;
    ds = put_open("/x", &x, &wx);
    with[0].name = "y";
    with[0].ds = put_open("/y", &y, &wy);
    run_opts(&o, "x - y", 2048, 2);
    o.with = with;
    o.nwith = 1;
    expr_values(&vals, ins, 2, f_diff);
    st = tu_compute(ds, &o, "x - y");
    check_expr_stats(st, &vals, NULL, -1, 0, "x - y");
    ck_assert_uint_eq(h5cl_stats_summary(st)->bytes, n * (8 + 4));

    o.select = "17:4000";
    tu_sel_all(&sel, &x);
    tu_sel_axis(&sel, 0, n, 1, 17, 1, 4000);
    check_expr_stats(tu_compute(ds, &o, "x - y [17:4000]"), &vals, &sel, -1, 0,
                     "x - y [17:4000]");

    o.select = NULL;
    o.expr = "(x - y)*(x - y)";
    expr_values(&vals, ins, 2, f_diff2);
    st = tu_compute(ds, &o, "(x - y)*(x - y)");
    check_expr_stats(st, &vals, NULL, -1, 0, "(x - y)*(x - y)");
    for (i = 0; i < n; i++)
        if (!isnan(tu_get_f(&vals, i)))
            l2 += tu_get_f(&vals, i);
    got = sqrt(h5cl_stats_state_sum(h5cl_stats_get(st, 0)));
    ck_assert_msg(fabsl(got - sqrtl(l2)) <= 1e-12L * sqrtl(l2), "L2 distance %.17g, want "
                  "%.17Lg", got, sqrtl(l2));

    /* other names for both inputs */
    o.name = "a";
    with[0].name = "b";
    o.expr = "a - b";
    expr_values(&vals, ins, 2, f_diff);
    check_expr_stats(tu_compute(ds, &o, "a - b"), &vals, NULL, -1, 0, "a - b");
}
END_TEST

/* Per-axis statistics of an expression, every axis of a 3-D dataset. */
START_TEST(test_stats_expr_axis)
{
    uint64_t dims[3] = {6, 40, 7};
    tu_array a, vals;
    const tu_array *ins[1] = {&a};
    tu_write_opts w = chunked(2, 16, 7);
    tu_rng r;
    h5cl_run_options o;
    h5cl_dataset *ds;
    char what[64];
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 2300 + (uint64_t)_i);
    tu_array_init(&a, H5CL_FLOAT32, 3, dims);
    tu_fill_random(&a, &r, 0.03);
    ds = put_open("/x", &a, &w);
    expr_values(&vals, ins, 1, f_sqm2);
    run_opts(&o, "x*x - 2", 1024, 3);
    o.axis = _i;
    snprintf(what, sizeof what, "x*x - 2 along axis %d", _i);
    check_expr_stats(tu_compute(ds, &o, what), &vals, NULL, _i, 0, what);
}
END_TEST

/* log(x) with negative x: NaNs counted apart; log(0) is -inf, the minimum. */
START_TEST(test_stats_expr_nan)
{
    uint64_t n = 8000, i, negatives = 0, nans = 0;
    tu_array a, vals;
    const tu_array *ins[1] = {&a};
    tu_write_opts w = chunked(1000, 0, 0);
    tu_rng r;
    h5cl_run_options o;
    h5cl_dataset *ds;
    const h5cl_stats_state *s;
    if (!need_fp64())
        return;
    tu_rng_seed(&r, 2400);
    tu_array_init(&a, H5CL_FLOAT64, 1, &n);
    tu_fill_random(&a, &r, 0.01);
    for (i = 0; i < n; i++) {
        double v = tu_get_f(&a, i);
        if (v == 0)
            tu_set_f(&a, i, 1);
        negatives += v < 0;
        nans += isnan(v);
    }
    ck_assert(negatives > 1000 && nans > 10);
    ds = put_open("/x", &a, &w);
    run_opts(&o, "log(x)", 4096, 2);
    expr_values(&vals, ins, 1, f_log);
    s = h5cl_stats_get(tu_compute(ds, &o, "log(x)"), 0);
    ck_assert_uint_eq(s->nan_count, negatives + nans);
    check_expr_stats(tu_compute(ds, &o, "log(x)"), &vals, NULL, -1, 1e-14, "log(x)");

    tu_set_f(&a, 4567, 0.0);
    ds = put_open("/z", &a, &w);
    s = h5cl_stats_get(tu_compute(ds, &o, "log(x) with a zero"), 0);
    ck_assert_msg(s->min.f == -INFINITY && s->argmin == 4567, "min %g at %llu", s->min.f,
                  (unsigned long long)s->argmin);
    ck_assert_uint_eq(s->nan_count, negatives + nans);
    ck_assert_uint_eq(s->count, n - negatives - nans);
    ck_assert(h5cl_stats_state_sum(s) == -INFINITY);
}
END_TEST

/* Bad inputs of a fused run. */
START_TEST(test_stats_expr_errors)
{
    uint64_t d1[2] = {4, 5}, d2[2] = {5, 4};
    tu_array a, b;
    tu_write_opts w = contiguous();
    h5cl_run_options o;
    h5cl_binding with[2];
    h5cl_dataset *ds, *db, *dc, *other_ds = NULL;
    h5cl_stats *st;
    h5cl_ctx *other = NULL;
    int rc;
    if (!need_fp64())
        return;
    tu_array_init(&a, H5CL_FLOAT64, 2, d1);
    tu_array_init(&b, H5CL_FLOAT64, 2, d2);
    ds = put_open("/a", &a, &w);
    db = put_open("/b", &b, &w);
    dc = put_open("/c", &a, &w);

#define EXPECT_STATS(want, what)                                                          \
    do {                                                                                  \
        st = (h5cl_stats *)&st;                                                           \
        rc = h5cl_stats_compute(ds, &o, &st);                                             \
        ck_assert_msg(rc == (want), "%s: %s, want %s (%s)", what, h5cl_errname(rc),       \
                      h5cl_errname(want), h5cl_ctx_errmsg(tu_ctx));                       \
        ck_assert_msg(st == NULL, "%s: result not NULL", what);                           \
    } while (0)

    run_opts(&o, "x + y", 0, 0);
    with[0].name = "y";
    with[0].ds = db;
    o.with = with;
    o.nwith = 1;
    EXPECT_STATS(H5CL_ERR_SHAPE, "a with dataset of another shape");
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "(4, 5)") &&
                      strstr(h5cl_ctx_errmsg(tu_ctx), "(5, 4)"),
                  "message: %s", h5cl_ctx_errmsg(tu_ctx));
    with[0].ds = dc;
    o.expr = NULL;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "with but no expression");
    o.expr = "x + y";
    with[0].name = "x";
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "the name x twice");
    with[0].name = "y";
    with[1].name = "y";
    with[1].ds = dc;
    o.nwith = 2;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "the name y twice");
    o.name = "y";
    o.nwith = 1;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "opts.name equal to a with name");
    o.name = NULL;
    with[0].name = "";
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "an empty name");
    with[0].name = NULL;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "a NULL name");
    with[0].name = "y";
    with[0].ds = NULL;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "a NULL dataset");
    with[0].ds = dc;
    o.with = NULL;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "nwith 1 with NULL");
    o.with = with;
    o.nwith = H5CL_MAX_INPUTS;
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "too many inputs");
    o.nwith = 1;
    o.expr = "x + zz";
    EXPECT_STATS(H5CL_ERR_EXPRESSION, "an unbound name");
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "column 5") != NULL, "message: %s",
                  h5cl_ctx_errmsg(tu_ctx));

    ck_assert_int_eq(h5cl_ctx_create(&other), H5CL_OK);
    rc = h5cl_dataset_open(other, file_of(dc), "/c", &other_ds);
    ck_assert_int_eq(rc, H5CL_OK);
    with[0].ds = other_ds;
    o.expr = "x + y";
    EXPECT_STATS(H5CL_ERR_INVALID_ARGUMENT, "a dataset of another context");
    h5cl_dataset_close(other_ds);
    h5cl_ctx_destroy(other);
#undef EXPECT_STATS

    /* a bound name the expression does not use is fine */
    with[0].ds = dc;
    o.expr = "x * 2";
    tu_compute(ds, &o, "an unused with");
}
END_TEST

/* h5cl_expr_check: the default result type, and errors with a column
 * (the parser itself is covered by check_expr.c). */
START_TEST(test_expr_check)
{
    static const struct {
        const char *expr;
        h5cl_dtype x, y;
        h5cl_dtype want;
    } cases[] = {
        {"x*2+1", H5CL_INT8, H5CL_INT8, H5CL_FLOAT32},
        {"x*2+1", H5CL_UINT8, H5CL_UINT8, H5CL_FLOAT32},
        {"x*2+1", H5CL_INT16, H5CL_INT16, H5CL_FLOAT32},
        {"x*2+1", H5CL_UINT16, H5CL_UINT16, H5CL_FLOAT32},
        {"x*2+1", H5CL_FLOAT32, H5CL_FLOAT32, H5CL_FLOAT32},
        {"x*2+1", H5CL_INT32, H5CL_INT32, H5CL_FLOAT64},
        {"x*2+1", H5CL_UINT32, H5CL_UINT32, H5CL_FLOAT64},
        {"x*2+1", H5CL_INT64, H5CL_INT64, H5CL_FLOAT64},
        {"x*2+1", H5CL_UINT64, H5CL_UINT64, H5CL_FLOAT64},
        {"x*2+1", H5CL_FLOAT64, H5CL_FLOAT64, H5CL_FLOAT64},
        {"x > 0", H5CL_FLOAT64, H5CL_FLOAT64, H5CL_UINT8},
        {"isnan(x) || y == 2", H5CL_FLOAT32, H5CL_INT64, H5CL_UINT8},
        {"!(x < y)", H5CL_INT8, H5CL_INT8, H5CL_UINT8},
        {"x + y", H5CL_FLOAT32, H5CL_INT16, H5CL_FLOAT32},
        {"x + y", H5CL_FLOAT32, H5CL_INT32, H5CL_FLOAT64},
        {"where(x > y, x, y)", H5CL_UINT8, H5CL_FLOAT32, H5CL_FLOAT32},
        {"sqrt(x*x + y*y)", H5CL_INT16, H5CL_FLOAT64, H5CL_FLOAT64},
    };
    const char *names[2] = {"x", "y"};
    h5cl_dtype dts[2], got;
    size_t k;
    int rc;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dts[0] = cases[k].x;
        dts[1] = cases[k].y;
        got = H5CL_DTYPE_COUNT;
        rc = h5cl_expr_check(tu_ctx, cases[k].expr, names, dts, 2, &got);
        ck_assert_msg(rc == H5CL_OK, "%s: %s (%s)", cases[k].expr, h5cl_errname(rc),
                      h5cl_ctx_errmsg(tu_ctx));
        ck_assert_msg(got == cases[k].want, "%s over %s, %s: result %s, want %s",
                      cases[k].expr, h5cl_dtype_name(dts[0]), h5cl_dtype_name(dts[1]),
                      h5cl_dtype_name(got), h5cl_dtype_name(cases[k].want));
    }
    ck_assert_int_eq(h5cl_expr_check(tu_ctx, "x", names, dts, 1, NULL), H5CL_OK);

    rc = h5cl_expr_check(tu_ctx, "x + * 2", names, dts, 2, &got);
    ck_assert_int_eq(rc, H5CL_ERR_EXPRESSION);
    ck_assert_int_eq(h5cl_ctx_errcode(tu_ctx), H5CL_ERR_EXPRESSION);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "column 5") != NULL, "message: %s",
                  h5cl_ctx_errmsg(tu_ctx));
    rc = h5cl_expr_check(tu_ctx, "1 + xq", names, dts, 2, NULL);
    ck_assert_int_eq(rc, H5CL_ERR_EXPRESSION);
    ck_assert_msg(strstr(h5cl_ctx_errmsg(tu_ctx), "column 5") &&
                      strstr(h5cl_ctx_errmsg(tu_ctx), "'x'"),
                  "an unknown name without its column or the nearest name: %s",
                  h5cl_ctx_errmsg(tu_ctx));
    ck_assert_int_eq(h5cl_expr_check(NULL, "x", names, dts, 2, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(h5cl_expr_check(tu_ctx, NULL, names, dts, 2, NULL),
                     H5CL_ERR_INVALID_ARGUMENT);
    /* a success clears the message */
    ck_assert_int_eq(h5cl_expr_check(tu_ctx, "y", names, dts, 2, NULL), H5CL_OK);
    ck_assert_str_eq(h5cl_ctx_errmsg(tu_ctx), "");
}
END_TEST

Suite *map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("values");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_map_dtypes, 0, 2 * H5CL_DTYPE_COUNT);
    tcase_add_loop_test(tc, test_map_out_dtypes, 0, H5CL_DTYPE_COUNT);
    tcase_add_loop_test(tc, test_map_two_inputs, 0, 3);
    tcase_add_test(tc, test_map_three_inputs);
    tcase_add_loop_test(tc, test_map_selections, 0, 3);
    tcase_add_loop_test(tc, test_map_ranks, 0, 4);
    tcase_add_loop_test(tc, test_map_tiny_tiles, 1, 5);
    tcase_add_test(tc, test_map_empty);
    tcase_add_loop_test(tc, test_map_transcendental, 0, 2);
    tcase_add_test(tc, test_map_no_contraction);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_map_existing_file);
    tcase_add_test(tc, test_map_new_file_nested);
    tcase_add_loop_test(tc, test_map_gzip_shuffle, 0, 2);
    tcase_add_test(tc, test_map_chunk_dims);
    suite_add_tcase(s, tc);

    tc = tcase_create("safety");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_test(tc, test_map_exists);
    tcase_add_loop_test(tc, test_map_output_is_input, 0, 4);
    tcase_add_test(tc, test_map_bad_targets);
    tcase_add_test(tc, test_map_stale_temps);
    tcase_add_test(tc, test_map_invalid);
    tcase_add_test(tc, test_map_shape_mismatch);
    tcase_add_loop_test(tc, test_map_cancel, 0, 2);
    tcase_add_loop_test(tc, test_map_disk_full, 0, 3);
    tcase_add_test(tc, test_map_device_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("fused");
    tcase_add_checked_fixture(tc, tu_ctx_setup, tu_ctx_teardown);
    tcase_set_timeout(tc, TU_TIMEOUT);
    tcase_add_loop_test(tc, test_stats_expr, 0, 2);
    tcase_add_test(tc, test_stats_expr_with);
    tcase_add_loop_test(tc, test_stats_expr_axis, 0, 3);
    tcase_add_test(tc, test_stats_expr_nan);
    tcase_add_test(tc, test_stats_expr_errors);
    tcase_add_test(tc, test_expr_check);
    suite_add_tcase(s, tc);
    return s;
}
