/*
 * h5cl hist: a histogram of equal-width bins with numpy's edges and rules
 * (h5cl_hist_compute), of a dataset, a selection or an expression, whole or
 * one per position of the other axes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Bins listed for people at each end of a long histogram. */
#define HIST_END_ROWS 8
/* Per-position rows list every count up to this many bins. */
#define HIST_INLINE_BINS 12

typedef struct hist_args {
    run_args a;
    h5cl_hist_options h;
    long long axis;
    int have_axis;
} hist_args;

typedef struct hist_view {
    const hist_args *o;
    const run_state *rs;
    const h5cl_hist *hist;
    int axis;
    int res_rank;
    uint64_t res_dims[H5CL_MAX_RANK];
    uint32_t bins;
    double lo, hi;
    int from_data;
} hist_view;

/* "LO:HI", two finite numbers with LO < HI. */
static int parse_range(const char *s, double *lo, double *hi)
{
    const char *colon = s && *s ? strchr(s + 1, ':') : NULL;
    char *left;
    int bad;

    if (!colon)
        return -1;
    left = strndup(s, (size_t)(colon - s));
    if (!left)
        return -1;
    bad = parse_double(left, lo) || parse_double(colon + 1, hi) ||
          !(*lo < *hi);
    free(left);
    return bad ? -1 : 0;
}

static int parse_hist_args(int argc, char **argv, hist_args *o)
{
    enum { OPT_BINS = OPT_CMD, OPT_RANGE };
    static const struct option longopts[] = {
        RUN_LONGOPTS,
        {"axis", required_argument, NULL, 'a'},
        {"bins", required_argument, NULL, OPT_BINS},
        {"range", required_argument, NULL, OPT_RANGE},
        {NULL, 0, NULL, 0}};
    long long v;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" RUN_SHORTOPTS "qa:", longopts,
                            NULL)) != -1) {
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
        case OPT_BINS:
            if (parse_long(optarg, 1, UINT32_MAX, &v))
                return usage_error("bad bin count '%s' (a whole number "
                                   ">= 1)", optarg);
            o->h.bins = (uint32_t)v;
            break;
        case OPT_RANGE:
            if (parse_range(optarg, &o->h.lo, &o->h.hi))
                return usage_error("bad range '%s' (LO:HI, finite, LO < "
                                   "HI)", optarg);
            o->h.range_set = 1;
            break;
        case 'h':
            help_requested();
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    return run_args_finish(&o->a, argc, argv);
}

/* Edge i of b bins over [lo, hi] as numpy.linspace makes it. */
static double edge(const hist_view *v, uint32_t i)
{
    if (i >= v->bins)
        return v->hi;
    return (double)i * ((v->hi - v->lo) / (double)v->bins) + v->lo;
}

static uint64_t in_bins(const uint64_t *counts, uint32_t bins)
{
    uint64_t t = 0;
    uint32_t i;

    for (i = 0; i < bins; i++)
        t += counts[i];
    return t;
}

/* The fullest bin (the first of equals). */
static uint32_t peak_bin(const uint64_t *counts, uint32_t bins)
{
    uint32_t i, k = 0;

    for (i = 1; i < bins; i++)
        if (counts[i] > counts[k])
            k = i;
    return k;
}

/* ------------------------------------------------------------------------
 * Text.
 */

/* "[from, to)" of bin i ("]" for the last, which holds hi). */
static const char *fmt_bin(char *buf, size_t n, const hist_view *v,
                           uint32_t i)
{
    char a[32], b[32];

    snprintf(buf, n, "[%s, %s%c", fmt_approx(a, sizeof a, edge(v, i), 10),
             fmt_approx(b, sizeof b, edge(v, i + 1), 10),
             i + 1 == v->bins ? ']' : ')');
    return buf;
}

static void print_bin_row(const hist_view *v, const uint64_t *counts,
                          uint32_t i, uint64_t most)
{
    char bin[80], bar[31];
    int fill = most ? (int)((double)counts[i] / (double)most * 30.0 + 0.5)
                    : 0;

    memset(bar, '#', (size_t)fill);
    bar[fill] = '\0';
    printf("%6" PRIu32 "  %-36s %12" PRIu64 "%s%s\n", i,
           fmt_bin(bin, sizeof bin, v, i), counts[i], fill ? "  " : "", bar);
}

static void print_one_human(const hist_view *v)
{
    const uint64_t *counts = h5cl_hist_counts(v->hist, 0);
    uint64_t nan = 0, under = 0, over = 0, most;
    uint32_t i, k;
    char bin[80];

    h5cl_hist_outside(v->hist, 0, &nan, &under, &over);
    if (!counts)
        return;
    k = peak_bin(counts, v->bins);
    most = counts[k];
    printf("in bins     %" PRIu64 "\n", in_bins(counts, v->bins));
    printf("nan         %" PRIu64 "\n", nan);
    printf("under       %" PRIu64 " (below the range)\n", under);
    printf("over        %" PRIu64 " (above the range)\n", over);
    printf("peak        bin %" PRIu32 " %s: %" PRIu64 "\n", k,
           fmt_bin(bin, sizeof bin, v, k), most);
    printf("\n%6s  %-36s %12s\n", "bin", "[from, to)", "count");
    if (v->bins <= 2 * HIST_END_ROWS + 4) {
        for (i = 0; i < v->bins; i++)
            print_bin_row(v, counts, i, most);
        return;
    }
    for (i = 0; i < HIST_END_ROWS; i++)
        print_bin_row(v, counts, i, most);
    printf("   ... (%" PRIu32 " more bins; --json gives them all)\n",
           v->bins - 2 * HIST_END_ROWS);
    for (i = v->bins - HIST_END_ROWS; i < v->bins; i++)
        print_bin_row(v, counts, i, most);
}

/* One row per position: first TABLE_ROWS, then "...". */
static void print_axis_human(const hist_view *v)
{
    size_t n = h5cl_hist_count(v->hist), shown = n, p;
    char buf[96], bin[80];
    int iw = 5;
    uint32_t i;

    if (shown > TABLE_ROWS)
        shown = TABLE_ROWS;
    for (p = 0; p < shown; p++) {
        format_index(buf, sizeof buf, p, v->res_rank, v->res_dims);
        if ((int)strlen(buf) > iw)
            iw = (int)strlen(buf);
    }
    printf("\n%-*s %10s %8s %8s %8s  %s\n", iw, "index", "in bins", "nan",
           "under", "over",
           v->bins <= HIST_INLINE_BINS ? "counts" : "peak bin: count");
    for (p = 0; p < shown; p++) {
        const uint64_t *counts = h5cl_hist_counts(v->hist, p);
        uint64_t nan = 0, under = 0, over = 0;

        if (!counts)
            break;
        h5cl_hist_outside(v->hist, p, &nan, &under, &over);
        format_index(buf, sizeof buf, p, v->res_rank, v->res_dims);
        printf("%-*s %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " ",
               iw, buf, in_bins(counts, v->bins), nan, under, over);
        if (v->bins <= HIST_INLINE_BINS) {
            for (i = 0; i < v->bins; i++)
                printf(" %" PRIu64, counts[i]);
        } else {
            i = peak_bin(counts, v->bins);
            printf(" %" PRIu32 " %s: %" PRIu64, i,
                   fmt_bin(bin, sizeof bin, v, i), counts[i]);
        }
        printf("\n");
    }
    if (n > shown)
        printf("... (%zu more rows; --json gives them all)\n", n - shown);
}

static void print_hist_human(const hist_view *v)
{
    char lo[32], hi[32];

    print_run_header(v->rs);
    printf("bins        %" PRIu32 "\n", v->bins);
    printf("range       [%s, %s]  %s\n", fmt_exact(lo, sizeof lo, v->lo),
           fmt_exact(hi, sizeof hi, v->hi),
           v->from_data ? "(from data: the min and max of a first pass)"
                        : "(given)");
    if (v->axis >= 0) {
        printf("axis        %d reduced; one histogram per position, "
               "shape ", v->axis);
        print_dims(stdout, v->res_rank, v->res_dims);
        printf(" (%zu positions)\n", h5cl_hist_count(v->hist));
        print_axis_human(v);
    } else {
        print_one_human(v);
    }
    print_masked(v->rs, h5cl_hist_summary(v->hist)->masked, "counted as nan");
    print_summary_human(h5cl_hist_summary(v->hist), v->o->a.trace, 0);
}

/* ------------------------------------------------------------------------
 * JSON.
 */

static void json_counts(jw *w, const hist_view *v, size_t p)
{
    const uint64_t *counts = h5cl_hist_counts(v->hist, p);
    uint32_t i;

    jw_open(w, '[', 1);
    for (i = 0; counts && i < v->bins; i++)
        jw_u64(w, counts[i]);
    jw_close(w, ']');
}

static void json_outside(jw *w, const hist_view *v, size_t p)
{
    uint64_t nan = 0, under = 0, over = 0;

    h5cl_hist_outside(v->hist, p, &nan, &under, &over);
    jw_key(w, "nan");
    jw_u64(w, nan);
    jw_key(w, "under");
    jw_u64(w, under);
    jw_key(w, "over");
    jw_u64(w, over);
}

static void print_hist_json(const hist_view *v)
{
    size_t n = h5cl_hist_count(v->hist), p;
    uint32_t i;
    jw w;

    jw_init(&w, stdout);
    jw_open(&w, '{', 0);
    json_run_header(&w, v->rs);
    jw_key(&w, "axis");
    if (v->axis >= 0)
        jw_i64(&w, v->axis);
    else
        jw_null(&w);
    jw_key(&w, "bins");
    jw_u64(&w, v->bins);
    jw_key(&w, "range");
    jw_open(&w, '[', 1);
    jw_double(&w, v->lo);
    jw_double(&w, v->hi);
    jw_close(&w, ']');
    jw_key(&w, "range_from_data");
    jw_bool(&w, v->from_data);
    jw_key(&w, "edges");
    jw_open(&w, '[', 1);
    for (i = 0; i <= v->bins; i++)
        jw_double(&w, edge(v, i));
    jw_close(&w, ']');
    if (v->axis < 0) {
        jw_key(&w, "counts");
        json_counts(&w, v, 0);
        json_outside(&w, v, 0);
    } else {
        jw_key(&w, "shape");
        jw_dims(&w, v->res_rank, v->res_dims);
        jw_key(&w, "histograms");
        jw_open(&w, '[', 0);
        for (p = 0; p < n; p++) {
            jw_open(&w, '{', 1);
            jw_key(&w, "counts");
            json_counts(&w, v, p);
            json_outside(&w, v, p);
            jw_close(&w, '}');
        }
        jw_close(&w, ']');
    }
    json_summary(&w, v->rs, h5cl_hist_summary(v->hist), 0);
    jw_close(&w, '}');
}

/* ------------------------------------------------------------------------
 * The command.
 */

static int hist_run(run_state *rs, const hist_args *o, hist_view *v,
                    h5cl_hist **hist_ret)
{
    int st, code, rank;

    memset(v, 0, sizeof *v);
    v->o = o;
    v->rs = rs;
    v->axis = -1;
    if (o->have_axis &&
        (code = run_resolve_axis(rs, o->axis, &v->axis)) != EXIT_OK)
        return code;
    rs->ro.axis = v->axis;
    if ((code = run_start(rs)) != EXIT_OK)
        return code;
    st = run_finish(rs, run_hist(rs, &o->h, hist_ret));
    if (st != H5CL_OK)
        return lib_error(rs->ctx, st);
    v->hist = *hist_ret;
    v->bins = h5cl_hist_bins(v->hist);
    h5cl_hist_range(v->hist, &v->lo, &v->hi, &v->from_data);
    rank = h5cl_hist_shape(v->hist, v->res_dims);
    v->res_rank = rank > 0 ? rank : 0;
    if (!h5cl_hist_summary(v->hist) || v->bins == 0) {
        fprintf(stderr, "h5cl: the run returned no histogram\n");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

int cmd_hist(int argc, char **argv)
{
    hist_args o;
    h5cl_ctx *ctx = NULL;
    h5cl_hist *hist = NULL;
    run_state rs;
    hist_view v;
    int code;

    memset(&o, 0, sizeof o);
    run_args_init(&o.a, "hist");
    o.a.multi_ok = 1;
    h5cl_hist_options_init(&o.h);
    code = parse_hist_args(argc, argv, &o);
    if (code != 0) {
        run_args_free(&o.a);
        return code < 0 ? finish_output(EXIT_OK) : code;
    }
    if (h5cl_ctx_create(&ctx) != H5CL_OK) {
        run_args_free(&o.a);
        return no_memory();
    }
    code = run_begin(&rs, ctx, &o.a);
    if (code == EXIT_OK)
        code = hist_run(&rs, &o, &v, &hist);
    if (code == EXIT_OK) {
        if (o.a.json)
            print_hist_json(&v);
        else
            print_hist_human(&v);
        code = finish_output(EXIT_OK);
    }
    run_end(&rs);
    h5cl_hist_free(hist);
    h5cl_ctx_destroy(ctx);
    run_args_free(&o.a);
    return code;
}
