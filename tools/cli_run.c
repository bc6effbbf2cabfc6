/*
 * h5cl CLI: what every run command (stats, dot, map, hist, quantile)
 * shares.  Ctrl-C and the progress bar; the shared options and the FILE
 * DSET arguments; opening the inputs, checking the expression, the
 * selection and the device; the header and run summary of the outputs.
 */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ------------------------------------------------------------------------
 * Cancellation.
 */

/* The context the signal handler cancels; set only around a run. */
static h5cl_ctx *volatile g_run_ctx;
/* The handler sets cli_interrupted (cli_util.c) to the signal's number:
 * a Ctrl-C before the run starts (which clears the library's flag) or
 * between its start and the first tile is not lost, and the exit status
 * can tell which signal. */
static struct sigaction g_old_int, g_old_term;
static int g_installed;

static void on_interrupt(int sig)
{
    h5cl_ctx *ctx = g_run_ctx;

    cli_interrupted = sig;
    if (ctx)
        h5cl_cancel(ctx);
}

/* First SIGINT/SIGTERM cancels cleanly; SA_RESETHAND lets a second one
 * end the process at once. */
static void install_interrupt(h5cl_ctx *ctx)
{
    struct sigaction sa;

    g_run_ctx = ctx;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
    g_installed = 1;
}

static void remove_interrupt(void)
{
    if (!g_installed)
        return;
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    g_run_ctx = NULL;
    g_installed = 0;
}

/* ------------------------------------------------------------------------
 * Progress bar.
 */

static void format_eta(char *buf, size_t n, double s)
{
    unsigned long t;

    if (!(s >= 0.0) || s > 359999.0) {
        snprintf(buf, n, "--:--");
        return;
    }
    t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%lu:%02lu", t / 60, t % 60);
}

/* Progress callback: percent, GB/s and ETA, redrawn at most 10 times a
 * second.  Also turns an early Ctrl-C into a cancel. */
static int on_progress(uint64_t tiles_done, uint64_t tiles_total,
                       uint64_t bytes_done, void *user)
{
    run_state *rs = user;
    double t, elapsed, frac, rate, eta;
    char bar[31], etabuf[24];
    int i, fill;

    if (cli_interrupted)
        return 1;
    if (!rs->prog_enabled)
        return 0;
    t = now_seconds();
    if (rs->prog_drawn && t - rs->prog_last < 0.1)
        return 0;
    if (!rs->prog_drawn && t - rs->prog_t0 < 0.1)
        return 0;
    rs->prog_last = t;
    rs->prog_drawn = 1;
    elapsed = t - rs->prog_t0;
    if (rs->prog_total)
        frac = (double)bytes_done / (double)rs->prog_total;
    else
        frac = tiles_total ? (double)tiles_done / (double)tiles_total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    rate = elapsed > 0.0 ? (double)bytes_done / elapsed : 0.0;
    eta = frac > 0.0 ? elapsed * (1.0 - frac) / frac : -1.0;
    fill = (int)(frac * 30.0);
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    format_eta(etabuf, sizeof etabuf, eta);
    fprintf(stderr, "\r[%s] %5.1f%%  %7.2f GB/s  ETA %s\033[K", bar,
            frac * 100.0, rate / 1e9, etabuf);
    fflush(stderr);
    return 0;
}

void run_clear_progress(run_state *rs)
{
    if (rs->prog_drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        rs->prog_drawn = 0;
    }
}

/* ------------------------------------------------------------------------
 * Shared options.
 */

void run_args_init(run_args *a, const char *cmd)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
}

void run_args_free(run_args *a)
{
    size_t i;

    for (i = 0; i < a->nwith; i++) {
        free(a->with[i].name);
        free(a->with[i].file);
        free(a->with[i].path);
    }
    a->nwith = 0;
}

const char *run_args_name(const run_args *a)
{
    return a->name ? a->name : "x";
}

/* --with NAME=FILE:DSET */
static int add_with(run_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    with_spec *w;
    int rc;

    if (a->nwith == ARRAY_LEN(a->with))
        return usage_error("at most %zu --with inputs", ARRAY_LEN(a->with));
    if (!eq || !is_identifier(arg, (size_t)(eq - arg)))
        return usage_error("bad --with '%s' (NAME=FILE:DSET, NAME a letter "
                           "or '_' then letters, digits or '_')", arg);
    w = &a->with[a->nwith];
    w->name = strndup(arg, (size_t)(eq - arg));
    if (!w->name)
        return no_memory();
    rc = split_file_dataset(eq + 1, &w->file, &w->path);
    if (rc == -2) {
        free(w->name);
        return no_memory();
    }
    if (rc != 0) {
        free(w->name);
        return usage_error("bad --with '%s' (NAME=FILE:DSET; the dataset "
                           "starts at the last ':/')", arg);
    }
    a->nwith++;
    return 0;
}

int run_args_option(run_args *a, int c, const char *arg)
{
    long long v;

    switch (c) {
    case 's': a->select = arg; return 0;
    case 'd': a->device = arg; return 0;
    case OPT_SLOTS:
        if (parse_long(arg, 1, 1024, &v))
            return usage_error("bad slot count '%s' (1 to 1024)", arg);
        a->slots = (unsigned)v;
        return 0;
    case OPT_TILE:
        if (parse_bytes(arg, &a->tile_bytes))
            return usage_error("bad tile size '%s' (bytes, or with a K, M "
                               "or G suffix)", arg);
        return 0;
    case OPT_TRACE: a->trace = arg; return 0;
    case OPT_JSON: a->json = 1; return 0;
    case 'q':
    case OPT_QUIET: a->quiet = 1; return 0;
    case 'e': a->expr = arg; return 0;
    case OPT_WITH: return add_with(a, arg);
    case OPT_NAME:
        if (!is_identifier(arg, strlen(arg)))
            return usage_error("bad --name '%s' (a letter or '_' then "
                               "letters, digits or '_')", arg);
        a->name = arg;
        return 0;
    case OPT_MASK_FILL: a->mask_fill = 1; return 0;
    case OPT_CF: a->cf = 1; return 0;
    case OPT_STRICT: a->strict = 1; return 0;
    default: return iso_args_option(&a->iso, c, arg);
    }
}

int run_args_finish(run_args *a, int argc, char **argv)
{
    size_t i, j;

    if (argc - optind < 2)
        return usage_error("%s: missing %s", a->cmd,
                           argc - optind < 1 ? "FILE and DSET" : "DSET");
    if (argc - optind > 2)
        return usage_error("%s: unexpected argument '%s'", a->cmd,
                           argv[optind + 2]);
    a->file = argv[optind];
    a->dset = argv[optind + 1];
    if (!a->expr && (a->nwith || a->name))
        return usage_error("%s: --with and --name go with --expr", a->cmd);
    for (i = 0; i < a->nwith; i++) {
        if (!strcmp(a->with[i].name, run_args_name(a)))
            return usage_error("%s: '%s' names two inputs (the dataset is "
                               "'%s'; --name changes that)", a->cmd,
                               a->with[i].name, run_args_name(a));
        for (j = 0; j < i; j++)
            if (!strcmp(a->with[i].name, a->with[j].name))
                return usage_error("%s: '%s' names two --with inputs",
                                   a->cmd, a->with[i].name);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * A run's set-up.
 */

static int open_inputs(run_state *rs)
{
    const run_args *a = rs->a;
    size_t i;
    int st;

    rs->in[0].name = run_args_name(a);
    rs->in[0].file = a->file;
    rs->in[0].path = a->dset;
    for (i = 0; i < a->nwith; i++) {
        rs->in[i + 1].name = a->with[i].name;
        rs->in[i + 1].file = a->with[i].file;
        rs->in[i + 1].path = a->with[i].path;
    }
    for (i = 0; i < a->nwith + 1; i++) {
        run_input *in = &rs->in[i];

        st = h5cl_dataset_open(rs->ctx, in->file, in->path, &in->ds);
        if (st != H5CL_OK)
            return lib_error(rs->ctx, st);
        rs->n = i + 1; /* run_end() closes it from here on */
        print_warnings(in->ds);
        st = h5cl_dataset_get_info(in->ds, &in->info);
        if (st == H5CL_OK)
            st = h5cl_dataset_cf_info(in->ds, a->cf, a->mask_fill, &in->cf);
        if (st != H5CL_OK)
            return lib_error(rs->ctx, st);
        if (in->cf.flags)
            rs->decode = 1;
        if (i > 0) {
            rs->with[i - 1].name = in->name;
            rs->with[i - 1].ds = in->ds;
        }
    }
    return EXIT_OK;
}

static int check_expr(run_state *rs)
{
    const char *names[H5CL_MAX_INPUTS];
    h5cl_dtype dtypes[H5CL_MAX_INPUTS];
    size_t i;
    int st;

    /* decoded inputs have their decoded types (h5cl_cf_info.value_dtype) */
    for (i = 0; i < rs->n; i++) {
        names[i] = rs->in[i].name;
        dtypes[i] = rs->in[i].cf.flags ? rs->in[i].cf.value_dtype
                                       : rs->in[i].info.dtype;
    }
    st = h5cl_expr_check(rs->ctx, run_expr(rs), names, dtypes, rs->n,
                         &rs->expr_dtype);
    return st == H5CL_OK ? EXIT_OK : lib_error(rs->ctx, st);
}

int run_begin(run_state *rs, h5cl_ctx *ctx, const run_args *a)
{
    uint64_t in_bytes = 0;
    size_t i;
    int st, code, d;

    memset(rs, 0, sizeof *rs);
    rs->ctx = ctx;
    rs->a = a;
    rs->sel_elems = 1;
    /* Ctrl-C from here on cancels; before the run too (the flag). */
    install_interrupt(ctx);
    h5cl_ctx_set_strict(ctx, a->strict);
    st = iso_apply(ctx, &a->iso);
    if (st != H5CL_OK)
        return lib_error(ctx, st);
    code = open_inputs(rs);
    if (code != EXIT_OK)
        return code;
    if (run_expr(rs) && (code = check_expr(rs)) != EXIT_OK)
        return code;
    st = h5cl_dataset_selection(rs->in[0].ds, a->select, &rs->sel_rank,
                                rs->sel_dims);
    if (st != H5CL_OK)
        return lib_error(ctx, st);
    if (rs->in[0].info.rank == 0)
        rs->sel_rank = 0; /* a scalar: report shape [] as `info` does */
    for (d = 0; d < rs->sel_rank; d++)
        rs->sel_elems *= rs->sel_dims[d];
    if ((code = run_devices_open(rs)) != EXIT_OK)
        return code;
    st = h5cl_ctx_device(ctx, &rs->dev);
    if (st != H5CL_OK)
        return lib_error(ctx, st);

    h5cl_run_options_init(&rs->ro);
    rs->ro.tile_bytes = a->tile_bytes;
    rs->ro.slots = a->slots;
    rs->ro.axis = -1;
    rs->ro.select = a->select;
    rs->ro.trace_path = a->trace;
    rs->ro.progress = on_progress;
    rs->ro.progress_user = rs;
    rs->ro.expr = a->expr;
    rs->ro.name = a->name;
    rs->ro.with = a->nwith ? rs->with : NULL;
    rs->ro.nwith = a->nwith;
    rs->ro.mask_fill = a->mask_fill;
    rs->ro.cf = a->cf;
    for (i = 0; i < rs->n; i++)
        in_bytes += h5cl_dtype_size(rs->in[i].info.dtype);
    rs->prog_enabled = !a->quiet && isatty(STDERR_FILENO);
    rs->prog_total = rs->sel_elems * in_bytes;
    return EXIT_OK;
}

void run_end(run_state *rs)
{
    size_t i;

    remove_interrupt();
    for (i = 0; i < rs->n; i++)
        h5cl_dataset_close(rs->in[i].ds);
    rs->n = 0;
    run_devices_close(rs);
}

int run_start(run_state *rs)
{
    rs->prog_t0 = now_seconds();
    if (cli_interrupted)
        return lib_error(rs->ctx, H5CL_ERR_CANCELLED);
    return EXIT_OK;
}

int run_finish(run_state *rs, int status)
{
    run_clear_progress(rs);
    if (status == H5CL_OK && cli_interrupted)
        status = H5CL_ERR_CANCELLED; /* Ctrl-C after the last tile */
    return status;
}

int run_resolve_axis(const run_state *rs, long long axis, int *axis_ret)
{
    long long a = axis < 0 ? axis + rs->sel_rank : axis;

    if (a < 0 || a >= rs->sel_rank) {
        fprintf(stderr, "h5cl: %s: axis %lld is out of range for %s (the "
                "selection has rank %d)\n", h5cl_errname(H5CL_ERR_AXIS),
                axis, rs->a->dset, rs->sel_rank);
        return exit_status(H5CL_ERR_AXIS);
    }
    *axis_ret = (int)a;
    return EXIT_OK;
}

h5cl_dtype run_value_dtype(const run_state *rs)
{
    if (!rs->a->expr && !rs->decode)
        return rs->in[0].info.dtype;
    return rs->dev.has_fp64 ? H5CL_FLOAT64 : H5CL_FLOAT32;
}

const char *run_expr(const run_state *rs)
{
    if (rs->a->expr)
        return rs->a->expr;
    return rs->a->mask_fill || rs->a->cf ? run_args_name(rs->a) : NULL;
}

/* ------------------------------------------------------------------------
 * Outputs.
 */

/* ------------------------------------------------------------------------
 * Decoding (--mask-fill, --cf): what applies, from h5cl_dataset_cf_info.
 */

/* The names of the attributes (and the HDF5 fill value) in flags. */
static const struct {
    unsigned flag;
    const char *name;
} cf_sources[] = {
    {H5CL_CF_UNSIGNED, "_Unsigned"},
    {H5CL_CF_FILL_HDF5, "HDF5 fill value"},
    {H5CL_CF_FILL_VALUE, "_FillValue"},
    {H5CL_CF_MISSING_VALUE, "missing_value"},
    {H5CL_CF_VALID_RANGE, "valid_range"},
    {H5CL_CF_VALID_MIN, "valid_min"},
    {H5CL_CF_VALID_MAX, "valid_max"},
    {H5CL_CF_SCALE, "scale_factor"},
    {H5CL_CF_OFFSET, "add_offset"},
};

/* A value of the raw type, exactly. */
static const char *fmt_raw(char *buf, size_t n, h5cl_dtype t, h5cl_scalar v)
{
    if (t == H5CL_FLOAT32)
        return fmt_exact_f32(buf, n, v.f);
    if (t == H5CL_FLOAT64)
        return fmt_exact(buf, n, v.f);
    if (t % 2 == 0)
        snprintf(buf, n, "%" PRId64, v.i);
    else
        snprintf(buf, n, "%" PRIu64, v.u);
    return buf;
}

static void jw_raw(jw *w, h5cl_dtype t, h5cl_scalar v)
{
    if (t >= H5CL_FLOAT32)
        jw_double(w, v.f);
    else if (t % 2 == 0)
        jw_i64(w, v.i);
    else
        jw_u64(w, v.u);
}

/* Prints "A, B" for the sources named in flags. */
static void print_sources(unsigned flags)
{
    const char *sep = "";
    size_t i;

    for (i = 0; i < ARRAY_LEN(cf_sources); i++) {
        if (!(flags & cf_sources[i].flag))
            continue;
        /* valid_range names both bounds */
        if ((flags & H5CL_CF_VALID_RANGE) &&
            (cf_sources[i].flag == H5CL_CF_VALID_MIN ||
             cf_sources[i].flag == H5CL_CF_VALID_MAX))
            continue;
        printf("%s%s", sep, cf_sources[i].name);
        sep = ", ";
    }
}

/* The decoding lines of one input; the first carries label, later ones
 * are indented; named: prefix each with the input's name. */
static void print_decoding(const run_input *in, const char *label,
                           int named)
{
    const h5cl_cf_info *c = &in->cf;
    const h5cl_dtype t = c->raw_dtype;
    char a[48], b[48];
    const char *pre = named ? in->name : "";
    const char *colon = named ? ": " : "";
    unsigned i;
    int f32 = c->value_dtype == H5CL_FLOAT32;

    if (!c->flags) {
        printf("%-11s %s%snothing applies (no fill value or CF attribute "
               "found)\n", label, pre, colon);
        return;
    }
    if (c->flags & H5CL_CF_UNSIGNED) {
        printf("%-11s %s%s%s read as %s (_Unsigned)\n", label, pre, colon,
               h5cl_dtype_name(c->dtype), h5cl_dtype_name(t));
        label = "";
    }
    for (i = 0; i < c->nfill; i++) {
        printf("%-11s %s%smasked where == %s (", label, pre, colon,
               fmt_raw(a, sizeof a, t, c->fill[i]));
        print_sources(c->fill_from[i]);
        printf(")\n");
        label = "";
    }
    if (c->flags & (H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX)) {
        printf("%-11s %s%smasked outside [%s, %s] (", label, pre, colon,
               c->flags & H5CL_CF_VALID_MIN
                   ? fmt_raw(a, sizeof a, t, c->valid_min) : "-inf",
               c->flags & H5CL_CF_VALID_MAX
                   ? fmt_raw(b, sizeof b, t, c->valid_max) : "inf");
        print_sources(c->flags & (H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX |
                                  H5CL_CF_VALID_RANGE));
        printf(")\n");
        label = "";
    }
    if (c->flags & (H5CL_CF_SCALE | H5CL_CF_OFFSET)) {
        printf("%-11s %s%svalue = raw", label, pre, colon);
        if (c->flags & H5CL_CF_SCALE)
            printf(" * %s", f32 ? fmt_exact_f32(a, sizeof a, c->scale_factor)
                                : fmt_exact(a, sizeof a, c->scale_factor));
        if (c->flags & H5CL_CF_OFFSET)
            printf(" + %s", f32 ? fmt_exact_f32(a, sizeof a, c->add_offset)
                                : fmt_exact(a, sizeof a, c->add_offset));
        printf(" (");
        print_sources(c->flags & (H5CL_CF_SCALE | H5CL_CF_OFFSET));
        printf("; unpacked type %s)\n", h5cl_dtype_name(c->value_dtype));
    }
}

static void json_decoding(jw *w, const run_input *in)
{
    const h5cl_cf_info *c = &in->cf;
    size_t i;
    unsigned k;

    jw_open(w, '{', 0);
    jw_key(w, "name");
    jw_string(w, in->name);
    jw_key(w, "applied");
    jw_open(w, '[', 1);
    for (i = 0; i < ARRAY_LEN(cf_sources); i++)
        if ((c->flags & cf_sources[i].flag) &&
            !((c->flags & H5CL_CF_VALID_RANGE) &&
              (cf_sources[i].flag &
               (H5CL_CF_VALID_MIN | H5CL_CF_VALID_MAX))))
            jw_string(w, cf_sources[i].name);
    jw_close(w, ']');
    jw_key(w, "raw_dtype");
    jw_string(w, h5cl_dtype_name(c->raw_dtype));
    jw_key(w, "decoded_dtype");
    jw_string(w, h5cl_dtype_name(c->value_dtype));
    jw_key(w, "fill_values");
    jw_open(w, '[', 0);
    for (k = 0; k < c->nfill; k++) {
        jw_open(w, '{', 1);
        jw_key(w, "value");
        jw_raw(w, c->raw_dtype, c->fill[k]);
        jw_key(w, "from");
        jw_open(w, '[', 1);
        for (i = 0; i < ARRAY_LEN(cf_sources); i++)
            if (c->fill_from[k] & cf_sources[i].flag)
                jw_string(w, cf_sources[i].name);
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_key(w, "valid_min");
    if (c->flags & H5CL_CF_VALID_MIN)
        jw_raw(w, c->raw_dtype, c->valid_min);
    else
        jw_null(w);
    jw_key(w, "valid_max");
    if (c->flags & H5CL_CF_VALID_MAX)
        jw_raw(w, c->raw_dtype, c->valid_max);
    else
        jw_null(w);
    jw_key(w, "scale_factor");
    jw_double(w, c->scale_factor);
    jw_key(w, "add_offset");
    jw_double(w, c->add_offset);
    jw_close(w, '}');
}

void print_masked(const run_state *rs, uint64_t masked, const char *how)
{
    if (rs->a->mask_fill || rs->a->cf)
        printf("masked      %" PRIu64 "%s%s%s\n", masked, how ? " (" : "",
               how ? how : "", how ? ")" : "");
}

void print_run_header(const run_state *rs)
{
    const run_args *a = rs->a;
    size_t i;

    if (a->expr) {
        printf("expression  %s\n", a->expr);
        for (i = 0; i < rs->n; i++)
            printf("%-11s %s = %s:%s (%s)\n", i ? "" : "inputs",
                   rs->in[i].name, rs->in[i].info.file, rs->in[i].info.path,
                   h5cl_dtype_name(rs->in[i].info.dtype));
    } else {
        printf("file        %s\n", rs->in[0].info.file);
        printf("dataset     %s\n", rs->in[0].info.path);
        printf("dtype       %s\n", h5cl_dtype_name(rs->in[0].info.dtype));
    }
    printf("selection   ");
    print_dims(stdout, rs->sel_rank, rs->sel_dims);
    if (a->select)
        printf("  [%s]", a->select);
    printf("\n");
    printf("device      %u:%u %s (%s)\n", rs->dev.platform_index,
           rs->dev.device_index, rs->dev.device_name,
           h5cl_device_type_name(rs->dev.type));
    print_devices(rs);
    if (a->mask_fill || a->cf) {
        printf("decoding    %s%s%s\n", a->cf ? "--cf" : "",
               a->cf && a->mask_fill ? " " : "",
               a->mask_fill ? "--mask-fill" : "");
        for (i = 0; i < rs->n; i++)
            print_decoding(&rs->in[i], "", rs->n > 1);
    }
}

void json_run_header(jw *w, const run_state *rs)
{
    size_t i;

    jw_key(w, "file");
    jw_string(w, rs->in[0].info.file);
    jw_key(w, "dataset");
    jw_string(w, rs->in[0].info.path);
    jw_key(w, "dtype");
    jw_string(w, h5cl_dtype_name(rs->in[0].info.dtype));
    if (rs->a->expr) {
        jw_key(w, "expr");
        jw_string(w, rs->a->expr);
        jw_key(w, "bindings");
        jw_open(w, '[', 0);
        for (i = 0; i < rs->n; i++) {
            jw_open(w, '{', 1);
            jw_key(w, "name");
            jw_string(w, rs->in[i].name);
            jw_key(w, "file");
            jw_string(w, rs->in[i].info.file);
            jw_key(w, "dataset");
            jw_string(w, rs->in[i].info.path);
            jw_key(w, "dtype");
            jw_string(w, h5cl_dtype_name(rs->in[i].info.dtype));
            jw_close(w, '}');
        }
        jw_close(w, ']');
    }
    jw_key(w, "select");
    jw_string(w, rs->a->select);
    jw_key(w, "selection_shape");
    jw_dims(w, rs->sel_rank, rs->sel_dims);
    json_devices(w, rs);
    if (rs->a->mask_fill || rs->a->cf) {
        jw_key(w, "mask_fill");
        jw_bool(w, rs->a->mask_fill);
        jw_key(w, "cf");
        jw_bool(w, rs->a->cf);
        jw_key(w, "decoding");
        jw_open(w, '[', 0);
        for (i = 0; i < rs->n; i++)
            json_decoding(w, &rs->in[i]);
        jw_close(w, ']');
    }
}

void print_summary_human(const h5cl_run_summary *s, const char *trace,
                         int with_write)
{
    char a[32];
    double busiest = 0.0;
    int i, k = 0;

    printf("\n");
    if (s->seconds > 0.0)
        printf("throughput  %.2f GB/s (%.2f GiB/s), %s\n",
               (double)s->bytes / s->seconds / 1e9,
               (double)s->bytes / s->seconds / 1073741824.0,
               human_bytes(a, sizeof a, s->bytes));
    else
        printf("throughput  - (%s)\n", human_bytes(a, sizeof a, s->bytes));
    printf("wall time   %.3f s\n", s->seconds);
    printf("tiles       %" PRIu64 "\n", s->tiles);
    printf("tile size   %s\n", human_bytes(a, sizeof a, s->tile_bytes));
    printf("slots       %u\n", s->slots);
    printf("zero-copy   %s\n", s->zero_copy ? "yes" : "no");
    if (s->bytes_direct)
        printf("direct read %s by pread on %u threads (not H5Dread)\n",
               human_bytes(a, sizeof a, s->bytes_direct), s->read_threads);
    if (s->bytes_mapped)
        printf("mapped      %s of it read in place from the file's pages "
               "(H5CL_MMAP)\n",
               human_bytes(a, sizeof a, s->bytes_mapped));
    printf("where the time went (busy seconds, %% of wall):\n");
    for (i = 0; i < H5CL_STAGE_COUNT; i++) {
        double t = s->stage_seconds[i];

        if (i == H5CL_STAGE_WRITE && !with_write)
            continue;
        if (t > busiest)
            busiest = t, k = i;
        printf("  %-9s %9.3f s  %6.1f%%\n", h5cl_stage_name((h5cl_stage)i), t,
               s->seconds > 0.0 ? 100.0 * t / s->seconds : 0.0);
    }
    printf("overlap     %.2f (wall / busiest stage, %s; 1.00 is perfect)\n",
           s->overlap, busiest > 0.0 ? h5cl_stage_name((h5cl_stage)k) : "-");
    if (trace)
        printf("trace       %s\n", trace);
}

void json_summary(jw *w, const run_state *rs, const h5cl_run_summary *s,
                  int with_write)
{
    char id[32];
    int f;

    snprintf(id, sizeof id, "%u:%u", rs->dev.platform_index,
             rs->dev.device_index);
    jw_key(w, "bytes");
    jw_u64(w, s->bytes);
    if (with_write) {
        jw_key(w, "bytes_written");
        jw_u64(w, s->bytes_written);
    }
    jw_key(w, "seconds");
    jw_double(w, s->seconds);
    jw_key(w, "gb_per_s");
    jw_double(w, s->seconds > 0.0 ? (double)s->bytes / s->seconds / 1e9
                                  : NAN);
    jw_key(w, "device");
    jw_string(w, rs->dev.device_name);
    jw_key(w, "device_index");
    jw_string(w, id);
    jw_key(w, "device_type");
    jw_string(w, h5cl_device_type_name(rs->dev.type));
    jw_key(w, "stages");
    jw_open(w, '{', 0);
    for (f = 0; f < H5CL_STAGE_COUNT; f++) {
        if (f == H5CL_STAGE_WRITE && !with_write)
            continue;
        jw_key(w, h5cl_stage_name((h5cl_stage)f));
        jw_double(w, s->stage_seconds[f]);
    }
    jw_close(w, '}');
    jw_key(w, "tiles");
    jw_u64(w, s->tiles);
    jw_key(w, "tile_bytes");
    jw_u64(w, s->tile_bytes);
    jw_key(w, "slots");
    jw_u64(w, s->slots);
    jw_key(w, "overlap");
    jw_double(w, s->overlap);
    jw_key(w, "zero_copy");
    jw_bool(w, s->zero_copy);
    jw_key(w, "bytes_direct");
    jw_u64(w, s->bytes_direct);
    jw_key(w, "read_threads");
    jw_u64(w, s->read_threads);
    jw_key(w, "bytes_mapped");
    jw_u64(w, s->bytes_mapped);
    jw_key(w, "trace");
    jw_string(w, rs->a->trace);
    if (rs->a->mask_fill || rs->a->cf) {
        jw_key(w, "masked");
        jw_u64(w, s->masked);
    }
}
