/*
 * h5cl quantile: exact quantiles (numpy's linear method, NaNs ignored) by
 * histogram refinement passes (h5cl_quantile_compute).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Most fractions one command takes. */
#define MAX_QUANTILES 1024

typedef struct quantile_args {
    run_args a;
    double q[MAX_QUANTILES];
    size_t nq;
} quantile_args;

/* "0.5,0.99": fractions in [0, 1]. */
static int parse_fractions(const char *s, quantile_args *o)
{
    char *copy = strdup(s), *tok, *save = NULL;
    int bad = 0;

    if (!copy)
        return -1;
    o->nq = 0;
    if (!*s || s[strlen(s) - 1] == ',' || strstr(s, ",,") || *s == ',')
        bad = 1;
    for (tok = strtok_r(copy, ",", &save); tok && !bad;
         tok = strtok_r(NULL, ",", &save)) {
        double v;

        if (o->nq == MAX_QUANTILES || parse_double(tok, &v) || v < 0.0 ||
            v > 1.0)
            bad = 1;
        else
            o->q[o->nq++] = v;
    }
    free(copy);
    return bad || o->nq == 0 ? -1 : 0;
}

static int parse_quantile_args(int argc, char **argv, quantile_args *o)
{
    static const struct option longopts[] = {
        RUN_LONGOPTS,
        {"quantiles", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" RUN_SHORTOPTS "q:", longopts,
                            NULL)) != -1) {
        if (c == 'q') { /* here -q is the fractions, not --quiet */
            if (parse_fractions(optarg, o))
                return usage_error("bad quantiles '%s' (fractions from 0 "
                                   "to 1 separated by commas, at most %d)",
                                   optarg, MAX_QUANTILES);
            continue;
        }
        rc = run_args_option(&o->a, c, optarg);
        if (rc != RUN_OPT_OTHER) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case 'h':
            help_requested();
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    if (o->nq == 0)
        return usage_error("quantile: needs -q Q1,Q2,.. (fractions from 0 "
                           "to 1)");
    return run_args_finish(&o->a, argc, argv);
}

static void print_quantile_json(const run_state *rs, const quantile_args *o,
                                const double *values, unsigned passes,
                                double seconds)
{
    char id[32];
    size_t i;
    jw w;

    snprintf(id, sizeof id, "%u:%u", rs->dev.platform_index,
             rs->dev.device_index);
    jw_init(&w, stdout);
    jw_open(&w, '{', 0);
    json_run_header(&w, rs);
    jw_key(&w, "q");
    jw_open(&w, '[', 1);
    for (i = 0; i < o->nq; i++)
        jw_double(&w, o->q[i]);
    jw_close(&w, ']');
    jw_key(&w, "values");
    jw_open(&w, '[', 1);
    for (i = 0; i < o->nq; i++)
        jw_double(&w, values[i]);
    jw_close(&w, ']');
    jw_key(&w, "passes");
    jw_u64(&w, passes);
    jw_key(&w, "seconds");
    jw_double(&w, seconds);
    jw_key(&w, "device");
    jw_string(&w, rs->dev.device_name);
    jw_key(&w, "device_index");
    jw_string(&w, id);
    jw_key(&w, "device_type");
    jw_string(&w, h5cl_device_type_name(rs->dev.type));
    jw_close(&w, '}');
}

static void print_quantile_human(const run_state *rs,
                                 const quantile_args *o,
                                 const double *values, unsigned passes,
                                 double seconds)
{
    char a[40], b[40];
    size_t i;

    print_run_header(rs);
    printf("passes      %u (each reads the selection once)\n", passes);
    printf("wall time   %.3f s\n", seconds);
    printf("\n%-24s %s\n", "q", "value");
    for (i = 0; i < o->nq; i++)
        printf("%-24s %s\n", fmt_exact(a, sizeof a, o->q[i]),
               fmt_exact(b, sizeof b, values[i]));
}

int cmd_quantile(int argc, char **argv)
{
    quantile_args *o;
    h5cl_ctx *ctx = NULL;
    run_state rs;
    double *values = NULL, t0, seconds = 0.0;
    unsigned passes = 0;
    int code, st;

    o = calloc(1, sizeof *o);
    if (!o)
        return no_memory();
    run_args_init(&o->a, "quantile");
    code = parse_quantile_args(argc, argv, o);
    if (code != 0) {
        run_args_free(&o->a);
        free(o);
        return code < 0 ? finish_output(EXIT_OK) : code;
    }
    values = calloc(o->nq, sizeof *values);
    if (!values || h5cl_ctx_create(&ctx) != H5CL_OK) {
        free(values);
        run_args_free(&o->a);
        free(o);
        return no_memory();
    }
    code = run_begin(&rs, ctx, &o->a);
    if (code == EXIT_OK)
        code = run_start(&rs);
    if (code == EXIT_OK) {
        t0 = now_seconds();
        st = h5cl_quantile_compute(rs.in[0].ds, &rs.ro, o->q, o->nq, values,
                                   &passes);
        seconds = now_seconds() - t0;
        st = run_finish(&rs, st);
        if (st != H5CL_OK)
            code = lib_error(ctx, st);
    }
    if (code == EXIT_OK) {
        if (o->a.json)
            print_quantile_json(&rs, o, values, passes, seconds);
        else
            print_quantile_human(&rs, o, values, passes, seconds);
        code = finish_output(EXIT_OK);
    }
    run_end(&rs);
    h5cl_ctx_destroy(ctx);
    free(values);
    run_args_free(&o->a);
    free(o);
    return code;
}
