/*
 * h5cl stats: count, nan_count, sum, mean, var, std, min, max, argmin and
 * argmax (or those --figures names) of a dataset, a selection, one axis,
 * or an expression over several datasets, in one streamed pass.
 * h5cl dot: the sum of x*y, as statistics of that expression.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct stats_args {
    run_args a;
    long long axis;
    int have_axis;
    unsigned ddof;
    unsigned figures; /* H5CL_FIG_* of --figures; 0: all */
} stats_args;

/* What the outputs need besides the result itself. */
typedef struct stats_view {
    const stats_args *o;
    const run_state *rs;
    h5cl_dtype value_dtype;  /* what was reduced: the data or the expr  */
    int axis;                /* resolved, or -1 */
    int res_rank;
    uint64_t res_dims[H5CL_MAX_RANK];
    const h5cl_stats *stats;
    const h5cl_run_summary *sum;
} stats_view;

/* ------------------------------------------------------------------------
 * Figures.
 */

/* Integer figures (sum, min, max) of a state, written exactly. */
static const char *fmt_int_scalar(char *buf, size_t n, int32_t kind,
                                  h5cl_scalar v)
{
    if (kind == H5CL_KIND_UNSIGNED)
        snprintf(buf, n, "%" PRIu64, v.u);
    else
        snprintf(buf, n, "%" PRId64, v.i);
    return buf;
}

static void jw_scalar(jw *w, int32_t kind, h5cl_scalar v)
{
    if (kind == H5CL_KIND_UNSIGNED)
        jw_u64(w, v.u);
    else if (kind == H5CL_KIND_SIGNED)
        jw_i64(w, v.i);
    else
        jw_double(w, v.f);
}

/* The figures one state gives, for both outputs. */
enum fig {
    FIG_COUNT, FIG_NAN, FIG_SUM, FIG_MEAN, FIG_VAR, FIG_STD, FIG_MIN,
    FIG_MAX, FIG_ARGMIN, FIG_ARGMAX, FIG_N
};
static const char *const fig_keys[FIG_N] = {
    "count", "nan_count", "sum", "mean", "var", "std", "min", "max",
    "argmin", "argmax"};

/* The H5CL_FIG_* flag a figure needs. */
static const unsigned fig_flags[FIG_N] = {
    H5CL_FIG_COUNT,  H5CL_FIG_COUNT,  H5CL_FIG_SUM, H5CL_FIG_SUM,
    H5CL_FIG_VAR,    H5CL_FIG_VAR,    H5CL_FIG_MINMAX, H5CL_FIG_MINMAX,
    H5CL_FIG_ARG,    H5CL_FIG_ARG};

/* Whether the result holds figure f (its states all hold the same). */
static int fig_held(const h5cl_stats *stats, enum fig f)
{
    const h5cl_stats_state *st = h5cl_stats_get(stats, 0);
    return !st || !(st->missing & fig_flags[f]);
}

/* --figures: a comma list of figure names into H5CL_FIG_* flags; 0 on
 * success. */
static int parse_figures(const char *text, unsigned *figures_ret)
{
    if (h5cl_figures_parse(text, figures_ret) != H5CL_OK)
        return usage_error("bad --figures '%s': a comma list of count, "
                           "nan_count, sum, mean, var, std, min, max, "
                           "argmin, argmax, arg, all",
                           text);
    return 0;
}

/* Writes one figure of st as a JSON value (null where undefined). */
static void jw_figure(jw *w, const h5cl_stats_state *st, enum fig f,
                      unsigned ddof)
{
    switch (f) {
    case FIG_COUNT: jw_u64(w, st->count); return;
    case FIG_NAN: jw_u64(w, st->nan_count); return;
    case FIG_SUM:
        if (st->count == 0)
            jw_u64(w, 0);
        else if (st->kind != H5CL_KIND_FLOAT)
            st->overflow ? jw_null(w) : jw_scalar(w, st->kind, st->sum);
        else
            jw_double(w, h5cl_stats_state_sum(st));
        return;
    case FIG_MEAN: jw_double(w, h5cl_stats_state_mean(st)); return;
    case FIG_VAR: jw_double(w, h5cl_stats_state_var(st, ddof)); return;
    case FIG_STD: jw_double(w, h5cl_stats_state_std(st, ddof)); return;
    case FIG_MIN:
    case FIG_MAX:
        if (st->count == 0)
            jw_null(w);
        else
            jw_scalar(w, st->kind, f == FIG_MIN ? st->min : st->max);
        return;
    case FIG_ARGMIN:
    case FIG_ARGMAX:
        if (st->count == 0)
            jw_null(w);
        else
            jw_u64(w, f == FIG_ARGMIN ? st->argmin : st->argmax);
        return;
    default: jw_null(w); return;
    }
}

/* One figure of st as text for people; compact selects the table form. */
static const char *fmt_figure(char *buf, size_t n, const stats_view *v,
                              const h5cl_stats_state *st, enum fig f,
                              int compact)
{
    unsigned ddof = v->o->ddof;
    int digits = compact ? 6 : 10;
    int f32 = v->value_dtype == H5CL_FLOAT32;
    double x;

    switch (f) {
    case FIG_COUNT:
        snprintf(buf, n, "%" PRIu64, st->count);
        return buf;
    case FIG_NAN:
        snprintf(buf, n, "%" PRIu64, st->nan_count);
        return buf;
    case FIG_SUM:
        if (st->count == 0)
            return put(buf, n, "0");
        if (st->kind != H5CL_KIND_FLOAT)
            return st->overflow ? put(buf, n, "overflow")
                                : fmt_int_scalar(buf, n, st->kind, st->sum);
        return fmt_approx(buf, n, h5cl_stats_state_sum(st), digits);
    case FIG_MEAN: x = h5cl_stats_state_mean(st); break;
    case FIG_VAR: x = h5cl_stats_state_var(st, ddof); break;
    case FIG_STD: x = h5cl_stats_state_std(st, ddof); break;
    case FIG_MIN:
    case FIG_MAX: {
        h5cl_scalar s = f == FIG_MIN ? st->min : st->max;

        if (st->count == 0)
            return put(buf, n, "-");
        if (st->kind != H5CL_KIND_FLOAT)
            return fmt_int_scalar(buf, n, st->kind, s);
        if (compact)
            return fmt_approx(buf, n, s.f, digits);
        return f32 ? fmt_exact_f32(buf, n, s.f) : fmt_exact(buf, n, s.f);
    }
    case FIG_ARGMIN:
    case FIG_ARGMAX: {
        uint64_t a = f == FIG_ARGMIN ? st->argmin : st->argmax;
        size_t used;

        if (st->count == 0)
            return put(buf, n, "-");
        snprintf(buf, n, "%" PRIu64, a);
        /* Whole selection of rank > 1: also the multi-index. */
        used = strlen(buf);
        if (!compact && v->axis < 0 && v->rs->sel_rank > 1 && used + 2 < n) {
            buf[used++] = ' ';
            buf[used++] = ' ';
            format_index(buf + used, n - used, a, v->rs->sel_rank,
                         v->rs->sel_dims);
        }
        return buf;
    }
    default:
        return put(buf, n, "?");
    }
    if (isnan(x))
        return put(buf, n, st->count ? "nan" : "-");
    return fmt_approx(buf, n, x, digits);
}

static int any_overflow(const h5cl_stats *stats)
{
    size_t i, n = h5cl_stats_count(stats);

    for (i = 0; i < n; i++) {
        const h5cl_stats_state *st = h5cl_stats_get(stats, i);

        if (st && st->kind != H5CL_KIND_FLOAT && st->overflow &&
            st->count)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Outputs.
 */

/* The per-position table: first TABLE_ROWS rows, then "...". */
static void print_axis_table(const stats_view *v)
{
    static const enum fig cols[] = {FIG_COUNT, FIG_NAN, FIG_SUM, FIG_MEAN,
                                    FIG_STD, FIG_MIN, FIG_MAX, FIG_ARGMIN,
                                    FIG_ARGMAX};
    static const int widths[] = {10, 9, 14, 13, 13, 13, 13, 8, 8};
    size_t ncols = ARRAY_LEN(cols);
    size_t n = h5cl_stats_count(v->stats), shown = n, i, c;
    char buf[96];
    int iw = 5;

    if (shown > TABLE_ROWS)
        shown = TABLE_ROWS;
    for (i = 0; i < shown; i++) {
        format_index(buf, sizeof buf, i, v->res_rank, v->res_dims);
        if ((int)strlen(buf) > iw)
            iw = (int)strlen(buf);
    }
    printf("%-*s", iw, "index");
    for (c = 0; c < ncols; c++)
        printf(" %*s", widths[c], fig_keys[cols[c]]);
    printf("\n");
    for (i = 0; i < shown; i++) {
        const h5cl_stats_state *st = h5cl_stats_get(v->stats, i);

        format_index(buf, sizeof buf, i, v->res_rank, v->res_dims);
        printf("%-*s", iw, buf);
        for (c = 0; c < ncols && st; c++)
            printf(" %*s", widths[c],
                   fmt_figure(buf, sizeof buf, v, st, cols[c], 1));
        printf("\n");
    }
    if (n > shown)
        printf("... (%zu more rows; --json gives them all)\n", n - shown);
}

static void print_stats_human(const stats_view *v)
{
    char buf[128];
    int f;

    print_run_header(v->rs);
    if (v->o->a.expr || v->rs->decode)
        printf("values      %s\n", h5cl_dtype_name(v->value_dtype));
    if (v->axis >= 0) {
        printf("axis        %d reduced; result shape ", v->axis);
        print_dims(stdout, v->res_rank, v->res_dims);
        printf(" (%zu positions)\n", h5cl_stats_count(v->stats));
        if (v->o->ddof)
            printf("ddof        %u\n", v->o->ddof);
        printf("\n");
        print_axis_table(v);
    } else {
        const h5cl_stats_state *st = h5cl_stats_get(v->stats, 0);

        printf("\n");
        for (f = 0; f < FIG_N && st; f++) {
            if (!fig_held(v->stats, (enum fig)f))
                continue; /* not computed (--figures) */
            printf("%-11s %s", fig_keys[f],
                   fmt_figure(buf, sizeof buf, v, st, (enum fig)f, 0));
            if ((f == FIG_VAR || f == FIG_STD) && v->o->ddof)
                printf("  (ddof %u)", v->o->ddof);
            printf("\n");
        }
    }
    print_masked(v->rs, h5cl_stats_masked(v->stats),
                 "left out of every figure; counted in nan_count");
    print_summary_human(v->sum, v->o->a.trace, 0);
}

static void print_stats_json(const stats_view *v)
{
    size_t n = h5cl_stats_count(v->stats), i;
    jw w;
    int f;

    jw_init(&w, stdout);
    jw_open(&w, '{', 0);
    json_run_header(&w, v->rs);
    if (v->o->a.expr || v->rs->decode) {
        jw_key(&w, "value_dtype");
        jw_string(&w, h5cl_dtype_name(v->value_dtype));
    }
    jw_key(&w, "axis");
    if (v->axis >= 0)
        jw_i64(&w, v->axis);
    else
        jw_null(&w);
    /* Whole selection: the data's shape; per axis: the arrays' shape. */
    jw_key(&w, "shape");
    if (v->axis >= 0)
        jw_dims(&w, v->res_rank, v->res_dims);
    else
        jw_dims(&w, v->rs->sel_rank, v->rs->sel_dims);
    jw_key(&w, "ddof");
    jw_u64(&w, v->o->ddof);
    for (f = 0; f < FIG_N; f++) {
        /* figures not computed (--figures) are left out, not null: null
         * already means undefined (no values) */
        if (!fig_held(v->stats, (enum fig)f))
            continue;
        jw_key(&w, fig_keys[f]);
        if (v->axis < 0) {
            const h5cl_stats_state *st = h5cl_stats_get(v->stats, 0);

            if (st)
                jw_figure(&w, st, (enum fig)f, v->o->ddof);
            else
                jw_null(&w);
            continue;
        }
        jw_open(&w, '[', 1);
        for (i = 0; i < n; i++) {
            const h5cl_stats_state *st = h5cl_stats_get(v->stats, i);

            if (st)
                jw_figure(&w, st, (enum fig)f, v->o->ddof);
            else
                jw_null(&w);
        }
        jw_close(&w, ']');
    }
    jw_key(&w, "sum_overflow");
    jw_bool(&w, any_overflow(v->stats));
    json_summary(&w, v->rs, v->sum, 0);
    jw_close(&w, '}');
}

/* dot: the sum of the products, how many there were, and how many were
 * NaN (left out of the sum, as every figure leaves NaNs out). */
static void print_dot(const stats_view *v)
{
    const h5cl_stats_state *st = h5cl_stats_get(v->stats, 0);
    double dot = st && st->count ? h5cl_stats_state_sum(st) : 0.0;
    char buf[40];

    if (v->o->a.json) {
        jw w;

        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        json_run_header(&w, v->rs);
        jw_key(&w, "dot");
        jw_double(&w, dot);
        jw_key(&w, "count");
        jw_u64(&w, st ? st->count : 0);
        jw_key(&w, "nan_count");
        jw_u64(&w, st ? st->nan_count : 0);
        json_summary(&w, v->rs, v->sum, 0);
        jw_close(&w, '}');
        return;
    }
    printf("dot         %s\n", fmt_exact(buf, sizeof buf, dot));
    printf("count       %" PRIu64 "\n", st ? st->count : 0);
    if (st && st->nan_count)
        printf("nan_count   %" PRIu64 " (NaN products, left out of the "
               "sum)\n", st->nan_count);
}

/* ------------------------------------------------------------------------
 * The commands.
 */

/* Runs the statistics and fills v; *stats_ret owns the result. */
static int stats_run(run_state *rs, const stats_args *o, stats_view *v,
                     h5cl_stats **stats_ret)
{
    uint64_t dims[H5CL_MAX_RANK];
    int st, i, code;

    memset(v, 0, sizeof *v);
    v->o = o;
    v->rs = rs;
    v->axis = -1;
    v->value_dtype = run_value_dtype(rs);
    if (o->have_axis &&
        (code = run_resolve_axis(rs, o->axis, &v->axis)) != EXIT_OK)
        return code;
    rs->ro.axis = v->axis;
    rs->ro.figures = o->figures;
    if ((code = run_start(rs)) != EXIT_OK)
        return code;
    st = run_finish(rs, run_stats(rs, stats_ret));
    if (st != H5CL_OK)
        return lib_error(rs->ctx, st);

    v->stats = *stats_ret;
    v->sum = h5cl_stats_summary(*stats_ret);
    if (v->axis >= 0) {
        for (i = 0; i < rs->sel_rank; i++)
            if (i != v->axis)
                v->res_dims[v->res_rank++] = rs->sel_dims[i];
        /* Prefer the library's own account of the result shape. */
        if (h5cl_stats_shape(*stats_ret, dims) == v->res_rank)
            memcpy(v->res_dims, dims, sizeof(uint64_t) * (size_t)v->res_rank);
    }
    if (!v->sum) {
        fprintf(stderr, "h5cl: the run returned no summary\n");
        return EXIT_RUNTIME;
    }
    if (any_overflow(*stats_ret))
        fprintf(stderr, "h5cl: warning: sum overflows 64 bits%s\n",
                v->axis >= 0 ? " at some positions" : "");
    return EXIT_OK;
}

/* Runs o and prints it as stats or as dot. */
static int stats_exec(const stats_args *o, int dot)
{
    h5cl_ctx *ctx = NULL;
    h5cl_stats *stats = NULL;
    run_state rs;
    stats_view v;
    int code;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    code = run_begin(&rs, ctx, &o->a);
    if (code == EXIT_OK)
        code = stats_run(&rs, o, &v, &stats);
    if (code == EXIT_OK) {
        if (dot)
            print_dot(&v);
        else if (o->a.json)
            print_stats_json(&v);
        else
            print_stats_human(&v);
        code = finish_output(EXIT_OK);
    }
    run_end(&rs);
    h5cl_stats_free(stats);
    h5cl_ctx_destroy(ctx);
    return code;
}

/* Options of stats (dot takes the shared ones only); -1 after --help. */
static int parse_stats_args(int argc, char **argv, stats_args *o, int dot)
{
    enum { OPT_DDOF = OPT_CMD, OPT_FIGURES };
    static const struct option longopts[] = {
        RUN_LONGOPTS,
        {"axis", required_argument, NULL, 'a'},
        {"ddof", required_argument, NULL, OPT_DDOF},
        {"figures", required_argument, NULL, OPT_FIGURES},
        {NULL, 0, NULL, 0}};
    static const struct option dot_longopts[] = {RUN_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
    long long v;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv,
                            dot ? ":" RUN_SHORTOPTS "q"
                                : ":" RUN_SHORTOPTS "qa:",
                            dot ? dot_longopts : longopts, NULL)) != -1) {
        rc = run_args_option(&o->a, c, optarg);
        if (rc != RUN_OPT_OTHER) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case 'a':
            if (parse_axis(optarg, &o->axis))
                return EXIT_USAGE;
            o->have_axis = 1;
            break;
        case OPT_DDOF:
            if (parse_long(optarg, 0, 1000000, &v))
                return usage_error("bad ddof '%s' (a whole number >= 0)",
                                   optarg);
            o->ddof = (unsigned)v;
            break;
        case OPT_FIGURES:
            if (parse_figures(optarg, &o->figures))
                return EXIT_USAGE;
            break;
        case 'h':
            help_requested();
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    stats_args o;
    int code;

    memset(&o, 0, sizeof o);
    run_args_init(&o.a, "stats");
    o.a.multi_ok = 1;
    code = parse_stats_args(argc, argv, &o, 0);
    if (code == 0)
        code = run_args_finish(&o.a, argc, argv);
    if (code == 0)
        code = stats_exec(&o, 0);
    run_args_free(&o.a);
    return code < 0 ? finish_output(EXIT_OK) : code;
}

int cmd_dot(int argc, char **argv)
{
    stats_args o;
    char *expr = NULL;
    int code;

    memset(&o, 0, sizeof o);
    o.figures = H5CL_FIG_SUM; /* a dot product is a sum */
    run_args_init(&o.a, "dot");
    code = parse_stats_args(argc, argv, &o, 1);
    if (code == 0 && o.a.expr)
        code = usage_error("dot: takes no --expr (it is x*y)");
    if (code == 0 && o.a.nwith != 1)
        code = usage_error("dot: needs one --with NAME=FILE:DSET");
    if (code == 0) {
        const char *x = run_args_name(&o.a), *y = o.a.with[0].name;

        expr = malloc(strlen(x) + strlen(y) + 2);
        if (!expr)
            code = no_memory();
        else
            sprintf(expr, "%s*%s", x, y);
        o.a.expr = expr;
    }
    if (code == 0)
        code = run_args_finish(&o.a, argc, argv);
    if (code == 0)
        code = stats_exec(&o, 1);
    run_args_free(&o.a);
    free(expr);
    return code < 0 ? finish_output(EXIT_OK) : code;
}
