/*
 * `h5cl cov` and `h5cl pca`: the covariance (or correlation) matrix of a
 * 2-D dataset's columns, and its principal components, optionally
 * writing the matrix or the projected rows to a new dataset.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct cov_args {
    run_args a;
    int corr;          /* cov: --corr                                 */
    unsigned ddof;     /* cov: --ddof (1, as numpy.cov)               */
    long long k;       /* pca: -k                                     */
    char *out_file;    /* -o: the matrix (cov) or projected rows (pca) */
    char *out_path;
    int overwrite;
} cov_args;

/* Options of cov (pca: -k instead of --corr and --ddof); -1 after
 * --help. */
static int parse_cov_args(int argc, char **argv, cov_args *o, int pca)
{
    enum { OPT_DDOF = OPT_CMD, OPT_CORR, OPT_OVERWRITE };
    static const struct option cov_longopts[] = {
        RUN_LONGOPTS,
        {"corr", no_argument, NULL, OPT_CORR},
        {"ddof", required_argument, NULL, OPT_DDOF},
        {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, OPT_OVERWRITE},
        {NULL, 0, NULL, 0}};
    static const struct option pca_longopts[] = {
        RUN_LONGOPTS,
        {"components", required_argument, NULL, 'k'},
        {"output", required_argument, NULL, 'o'},
        {"overwrite", no_argument, NULL, OPT_OVERWRITE},
        {NULL, 0, NULL, 0}};
    long long v;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv,
                            pca ? ":" RUN_SHORTOPTS "qo:k:"
                                : ":" RUN_SHORTOPTS "qo:",
                            pca ? pca_longopts : cov_longopts, NULL)) != -1) {
        rc = run_args_option(&o->a, c, optarg);
        if (rc != RUN_OPT_OTHER) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case OPT_CORR: o->corr = 1; break;
        case OPT_OVERWRITE: o->overwrite = 1; break;
        case OPT_DDOF:
            if (parse_long(optarg, 0, 1000000, &v))
                return usage_error("bad ddof '%s' (a whole number >= 0)",
                                   optarg);
            o->ddof = (unsigned)v;
            break;
        case 'k':
            if (parse_long(optarg, 1, 1000000, &o->k))
                return usage_error("bad -k '%s' (a whole number >= 1)",
                                   optarg);
            break;
        case 'o':
            rc = parse_output_option(optarg, &o->out_file, &o->out_path);
            if (rc)
                return rc;
            break;
        case 'h':
            help_requested();
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    if (pca && o->k == 0)
        return usage_error("pca: needs -k K, the number of components");
    return 0;
}

/* A p x p (or k x p) matrix for people: at most TABLE_ROWS rows and
 * columns, then "...". */
static void print_matrix(const char *title, const double *m, size_t rows,
                         size_t cols)
{
    char b[40];
    printf("%s\n", title);
    for (size_t i = 0; i < rows && i < TABLE_ROWS; i++) {
        printf("  ");
        for (size_t j = 0; j < cols && j < TABLE_ROWS; j++)
            printf(" %12s", fmt_approx(b, sizeof b, m[i * cols + j], 6));
        printf("%s\n", cols > TABLE_ROWS ? " ..." : "");
    }
    if (rows > TABLE_ROWS)
        printf("  ...\n");
}

static void json_vector(jw *w, const char *key, const double *v, size_t n)
{
    jw_key(w, key);
    jw_open(w, '[', 1);
    for (size_t i = 0; i < n; i++)
        jw_double(w, v[i]);
    jw_close(w, ']');
}

static void json_matrix(jw *w, const char *key, const double *m, size_t rows,
                        size_t cols)
{
    jw_key(w, key);
    jw_open(w, '[', 0);
    for (size_t i = 0; i < rows; i++) {
        jw_open(w, '[', 1);
        for (size_t j = 0; j < cols; j++)
            jw_double(w, m[i * cols + j]);
        jw_close(w, ']');
    }
    jw_close(w, ']');
}

/* The covariance pass, with the progress bar and Ctrl-C handling. */
static int cov_pass(run_state *rs, h5cl_cov **cov_ret)
{
    int code = run_start(rs);
    if (code != EXIT_OK)
        return code;
    int st = run_finish(rs, run_cov(rs, cov_ret));
    return st == H5CL_OK ? EXIT_OK : lib_error(rs->ctx, st);
}

static void output_options(const cov_args *o, h5cl_map_options *m)
{
    h5cl_map_options_init(m);
    m->out_file = o->out_file;
    m->out_path = o->out_path;
    m->overwrite = o->overwrite;
}

static void print_cov(const run_state *rs, const cov_args *o,
                      const h5cl_cov *cov, const double *mat)
{
    const size_t p = h5cl_cov_columns(cov);
    const h5cl_run_summary *s = h5cl_cov_summary(cov);
    if (o->a.json) {
        jw w;
        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        json_run_header(&w, rs);
        jw_key(&w, "kind");
        jw_string(&w, o->corr ? "corrcoef" : "cov");
        if (!o->corr) {
            jw_key(&w, "ddof");
            jw_u64(&w, o->ddof);
        }
        jw_key(&w, "rows");
        jw_u64(&w, h5cl_cov_rows(cov));
        jw_key(&w, "columns");
        jw_u64(&w, p);
        json_vector(&w, "mean", h5cl_cov_mean(cov), p);
        json_matrix(&w, "matrix", mat, p, p);
        if (o->out_file) {
            jw_key(&w, "output");
            jw_string(&w, o->out_file);
            jw_key(&w, "output_dataset");
            jw_string(&w, o->out_path);
        }
        json_summary(&w, rs, s, 0);
        jw_close(&w, '}');
        return;
    }
    print_run_header(rs);
    printf("rows        %" PRIu64 "\n", h5cl_cov_rows(cov));
    printf("columns     %zu\n", p);
    print_masked(rs, s->masked, "NaN: their rows and columns are NaN");
    if (o->out_file)
        printf("output      %s:%s\n", o->out_file, o->out_path);
    char title[64];
    snprintf(title, sizeof title, o->corr ? "correlation" : "covariance (ddof %u)",
             o->ddof);
    print_matrix(title, mat, p, p);
    print_summary_human(s, o->a.trace, 0);
}

static int cov_exec(const cov_args *o)
{
    h5cl_ctx *ctx = NULL;
    h5cl_cov *cov = NULL;
    double *mat = NULL;
    run_state rs;
    int code;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    code = run_begin(&rs, ctx, &o->a);
    if (code == EXIT_OK)
        code = cov_pass(&rs, &cov);
    if (code == EXIT_OK) {
        const size_t p = h5cl_cov_columns(cov);
        mat = malloc((p ? p * p : 1) * sizeof *mat);
        if (!mat)
            code = no_memory();
        else if (o->corr)
            h5cl_cov_corrcoef(cov, mat);
        else
            h5cl_cov_matrix(cov, o->ddof, mat);
    }
    if (code == EXIT_OK && o->out_file) {
        h5cl_map_options m;
        output_options(o, &m);
        int st = h5cl_cov_write(ctx, cov, o->corr, o->ddof, &m);
        if (st != H5CL_OK)
            code = lib_error(ctx, st);
    }
    if (code == EXIT_OK) {
        print_cov(&rs, o, cov, mat);
        code = finish_output(EXIT_OK);
    }
    free(mat);
    run_end(&rs);
    h5cl_cov_free(cov);
    h5cl_ctx_destroy(ctx);
    return code;
}

static void print_pca(const run_state *rs, const cov_args *o,
                      const h5cl_cov *cov, const h5cl_pca *pca,
                      const h5cl_run_summary *proj)
{
    const size_t k = h5cl_pca_k(pca), p = h5cl_pca_columns(pca);
    const h5cl_run_summary *s = h5cl_cov_summary(cov);
    if (o->a.json) {
        jw w;
        jw_init(&w, stdout);
        jw_open(&w, '{', 0);
        json_run_header(&w, rs);
        jw_key(&w, "rows");
        jw_u64(&w, h5cl_cov_rows(cov));
        jw_key(&w, "columns");
        jw_u64(&w, p);
        jw_key(&w, "k");
        jw_u64(&w, k);
        json_vector(&w, "mean", h5cl_pca_mean(pca), p);
        json_vector(&w, "explained_variance",
                    h5cl_pca_explained_variance(pca), k);
        json_vector(&w, "explained_variance_ratio",
                    h5cl_pca_explained_variance_ratio(pca), k);
        json_matrix(&w, "components", h5cl_pca_components(pca), k, p);
        json_summary(&w, rs, s, 0);
        if (proj) {
            jw_key(&w, "projection");
            jw_open(&w, '{', 0);
            jw_key(&w, "file");
            jw_string(&w, o->out_file);
            jw_key(&w, "dataset");
            jw_string(&w, o->out_path);
            json_summary(&w, rs, proj, 1);
            jw_close(&w, '}');
        }
        jw_close(&w, '}');
        return;
    }
    char b[40], c[40];
    print_run_header(rs);
    printf("rows        %" PRIu64 "\n", h5cl_cov_rows(cov));
    printf("columns     %zu\n", p);
    printf("component   variance      ratio\n");
    for (size_t i = 0; i < k; i++)
        printf("  %-9zu %-13s %s\n", i,
               fmt_approx(b, sizeof b, h5cl_pca_explained_variance(pca)[i], 6),
               fmt_approx(c, sizeof c,
                          h5cl_pca_explained_variance_ratio(pca)[i], 6));
    print_matrix("components (one per row)", h5cl_pca_components(pca), k, p);
    printf("covariance pass:\n");
    print_summary_human(s, o->a.trace, 0);
    if (proj) {
        printf("projection  %s:%s (%zu columns)\n", o->out_file, o->out_path,
               k);
        print_summary_human(proj, o->a.trace, 1);
    }
}

static int pca_exec(const cov_args *o)
{
    h5cl_ctx *ctx = NULL;
    h5cl_cov *cov = NULL;
    h5cl_pca *pca = NULL;
    h5cl_run_summary proj;
    run_state rs;
    int code, st;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    code = run_begin(&rs, ctx, &o->a);
    if (code == EXIT_OK)
        code = cov_pass(&rs, &cov);
    if (code == EXIT_OK &&
        (st = h5cl_pca_compute(ctx, cov, (size_t)o->k, &pca)) != H5CL_OK)
        code = lib_error(ctx, st);
    if (code == EXIT_OK && o->out_file)
        code = run_start(&rs);
    if (code == EXIT_OK && o->out_file) {
        h5cl_map_options m;
        output_options(o, &m);
        st = h5cl_pca_project(rs.in[0].ds, &rs.ro, pca, &m, &proj);
        run_clear_progress(&rs);
        if (st != H5CL_OK)
            code = lib_error(ctx, st);
    }
    if (code == EXIT_OK) {
        print_pca(&rs, o, cov, pca, o->out_file ? &proj : NULL);
        code = finish_output(EXIT_OK);
    }
    run_end(&rs);
    h5cl_pca_free(pca);
    h5cl_cov_free(cov);
    h5cl_ctx_destroy(ctx);
    return code;
}

static int cov_main(int argc, char **argv, int pca)
{
    cov_args o;
    int code;

    memset(&o, 0, sizeof o);
    o.ddof = 1;
    run_args_init(&o.a, pca ? "pca" : "cov");
    o.a.multi_ok = !pca;
    code = parse_cov_args(argc, argv, &o, pca);
    if (code == 0)
        code = run_args_finish(&o.a, argc, argv);
    if (code == 0)
        code = pca ? pca_exec(&o) : cov_exec(&o);
    run_args_free(&o.a);
    free(o.out_file);
    free(o.out_path);
    return code < 0 ? finish_output(EXIT_OK) : code;
}

int cmd_cov(int argc, char **argv)
{
    return cov_main(argc, argv, 0);
}

int cmd_pca(int argc, char **argv)
{
    return cov_main(argc, argv, 1);
}
