/*
 * h5cl-bench: measures h5cl against the raw-HDF5 ceiling on the same file,
 * the same tiles and the same page-cache state (cases: stats, map, hist,
 * axis, fused, cov; --suite runs them over generated dtypes and layouts),
 * and writes the sample file that `make demo` uses.  This file: the
 * command line, the run of the chosen cases on one context, the exit
 * status (bench.h lists the others).
 *
 *   h5cl-bench --make-sample FILE [--size 384M]
 *   h5cl-bench [--case stats|map|hist|axis|fused|cov|all] [--file F]
 *              [--size 4G] [--dtype float32|float64|int16] [--cols N]
 *              [--layout contiguous|chunked|gzip] [--chunk-bytes 8M]
 *              [--tile-bytes B] [--slots K] [--reps N] [--suite]
 *              [--device D] [--json] [--keep] [--generate] [--no-roofline]
 *              [--sweep slots=1,2,3,4 --sweep tile-bytes=1M,4M,16M,64M]
 *
 * Method (after clpeak): one warm-up of each row (page cache, program
 * cache), then --reps alternating timed repetitions; medians and min-max.
 * Every row names the device, driver, h5cl version and layout, and carries
 * a status, so a failed row is still reported.  A run whose result does not
 * match the reference (computed here from the raw warm-up passes) is an
 * error, never a figure.  Peak RSS (stats case) is measured in a fresh
 * process (fork and exec of this program) that does one h5cl run and
 * nothing else.
 *
 * Only the public h5cl API and the HDF5 C API are used here (the roofline,
 * bench_roofline.c, uses OpenCL directly).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* Finds or makes the data file.  Sets res->file and res->generated. */
int bench_prepare_file(const struct bench_cfg *cfg,
                              struct results *res, char *err)
{
    struct bench_shape sh;
    struct stat stbuf;

    if (cfg->file && access(cfg->file, F_OK) == 0) {
        snprintf(res->file, sizeof res->file, "%s", cfg->file);
        if (cfg->size_given || cfg->chunk_given || cfg->rank_given ||
            cfg->dtype_given || cfg->layout_given || cfg->cols_given)
            fprintf(stderr, "%s: %s exists: using it as it is (--size, "
                    "--chunk-bytes, --rank, --cols, --dtype and --layout "
                    "only shape generated data)\n", BENCH_NAME, cfg->file);
    } else {
        if (strcmp(cfg->dataset, DEFAULT_DATASET) != 0)
            return fail(err, "generated files hold %s, not %s: give --file "
                        "an existing file to read another dataset",
                        DEFAULT_DATASET, cfg->dataset);
        if (bench_shape_for(cfg->rank, cfg->cols, cfg->dtype, cfg->layout,
                            cfg->size, cfg->chunk_bytes, &sh, err))
            return -1;
        if (cfg->file) {
            snprintf(res->file, sizeof res->file, "%s", cfg->file);
        } else {
            if (mkdir_p(cfg->dir, err))
                return -1;
            if (bench_file_name(res->file, sizeof res->file, cfg->dir, &sh,
                                cfg->size, cfg->chunk_bytes))
                return fail(err, "--dir path too long");
        }
        if (bench_file_matches(res->file, &sh)) {
            fprintf(stderr, "%s: reusing %s\n", BENCH_NAME, res->file);
        } else {
            if (bench_generate(res->file, &sh, err))
                return -1;
            res->generated = 1;
        }
    }
    if (stat(res->file, &stbuf) == 0)
        res->file_bytes = (uint64_t)stbuf.st_size;
    return 0;
}

/* Opens the context on the device and builds the programs (res gets the
 * device and the build time), then measures the roofline.  The context is
 * returned even when a later step failed, so that rows name the device. */
int bench_ctx_open(const struct bench_cfg *cfg, struct results *res,
                   h5cl_ctx **ctx_ret, char *err)
{
    h5cl_ctx *ctx = NULL;
    int status, rc = -1;
    double t0;

    *ctx_ret = NULL;
    if ((status = h5cl_ctx_create(&ctx)) != H5CL_OK) {
        api_fail(err, NULL, "h5cl_ctx_create", status);
        goto roofline;
    }
    *ctx_ret = ctx;
    g_ctx = ctx;
    if ((status = h5cl_ctx_use_device(ctx, cfg->device)) != H5CL_OK) {
        api_fail(err, ctx, "h5cl_ctx_use_device", status);
        goto roofline;
    }
    if ((status = h5cl_ctx_device(ctx, &res->dev)) != H5CL_OK) {
        api_fail(err, ctx, "h5cl_ctx_device", status);
        goto roofline;
    }
    res->have_dev = 1;
    t0 = now_seconds();
    if ((status = h5cl_ctx_build_programs(ctx)) != H5CL_OK) {
        api_fail(err, ctx, "h5cl_ctx_build_programs", status);
        goto roofline;
    }
    res->build_seconds = now_seconds() - t0;
    rc = 0;
roofline:
    if (res->have_dev && !cfg->no_roofline && !g_interrupted)
        roofline_measure(&res->dev, cfg->reps, &res->roof);
    else if (!cfg->no_roofline)
        snprintf(res->roof.message, sizeof res->roof.message,
                 "not measured: %s", res->have_dev ? "interrupted" : err);
    else
        snprintf(res->roof.message, sizeof res->roof.message,
                 "not measured (--no-roofline)");
    return rc;
}

/* Marks every row of a case that could not run. */
static void case_not_run(struct case_result *cr, const char *raw_msg,
                         const char *h5cl_msg)
{
    row_error(&cr->rows[0], raw_msg);
    for (unsigned i = 1; i < cr->nrows; i++)
        row_error(&cr->rows[i], h5cl_msg);
}

/* The stats case's peak RSS, in a fresh process (after the context is
 * gone, so nothing of this process's device state is shared). */
static void stats_rss(const struct bench_cfg *cfg, struct results *res)
{
    struct case_result *cr = &res->cases[CASE_STATS];
    char err[ERRLEN];

    if (!cr->ran || cr->rows[1].status != ROW_OK || g_interrupted)
        return;
    fprintf(stderr, "%s: peak RSS probe (fresh process, one h5cl run)\n",
            BENCH_NAME);
    if (rss_probe_run(res->file, cfg->dataset,
                      cfg->tile_given ? cfg->tile_bytes : 0, cfg->slots,
                      cfg->device, &cr->rss, err) == 0)
        cr->have_rss = 1;
    else
        snprintf(cr->rss_error, sizeof cr->rss_error, "%s", err);
}

void bench_run_file(const struct bench_cfg *cfg, struct results *res,
                    h5cl_ctx *ctx, const char *ctx_error)
{
    static const case_fn run[CASE_COUNT] = { case_stats, case_map,
                                             case_hist, case_axis,
                                             case_fused, case_cov };
    h5cl_dataset *ds = NULL;
    char raw_err[ERRLEN] = "", h5_err[ERRLEN];
    struct case_env env;
    int raw_ok, status;

    /* the raw reader also describes the dataset for every row */
    raw_ok = raw_open(&res->rr, res->file, cfg->dataset, raw_err) == 0;
    res->rr_open = raw_ok;
    snprintf(h5_err, sizeof h5_err, "%s", ctx_error);
    if (!*ctx_error &&
        (status = h5cl_dataset_open(ctx, res->file, cfg->dataset, &ds)) !=
            H5CL_OK)
        api_fail(h5_err, ctx, "h5cl_dataset_open", status);
    env.cfg = cfg;
    env.res = res;
    env.ctx = ctx;
    env.ds = ds;
    env.h5cl_error = h5_err;
    if (sweep_active(&cfg->sweep)) {
        char err[ERRLEN];
        if (!raw_ok)
            fprintf(stderr, "%s: %s\n", BENCH_NAME, raw_err);
        else if (sweep_run(&env, run, err))
            fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
    }
    for (int c = 0; c < CASE_COUNT && !sweep_active(&cfg->sweep); c++) {
        struct case_result *cr = &res->cases[c];
        if (!(cfg->cases & (1u << c)))
            continue;
        case_init(cr, (enum bench_case)c);
        if (g_interrupted)
            case_not_run(cr, "not measured: interrupted",
                         "not measured: interrupted");
        else if (!raw_ok)
            case_not_run(cr, raw_err,
                         ds ? "not measured: no reference (raw pass "
                              "failed)"
                            : h5_err);
        else
            run[c](&env, cr);
    }
    h5cl_dataset_close(ds);
}

/* The context, the chosen cases on the file, then the RSS probe. */
static void bench_run_cases(const struct bench_cfg *cfg, struct results *res)
{
    h5cl_ctx *ctx = NULL;
    char err[ERRLEN] = "";

    bench_ctx_open(cfg, res, &ctx, err);
    if (res->roof.measured) {
        char perr[ERRLEN];
        if (!(res->probe = roof_probe_open(&res->dev, perr, sizeof perr)))
            fprintf(stderr, "%s: no on-device read next to the repetitions: "
                    "%s\n", BENCH_NAME, perr);
    }
    bench_run_file(cfg, res, ctx, err);
    roof_probe_close(res->probe);
    res->probe = NULL;
    g_ctx = NULL;
    h5cl_ctx_destroy(ctx);
    if (!sweep_active(&cfg->sweep))
        stats_rss(cfg, res);
}

/* 1 when every row of every case (at every sweep combination) ran ok, and
 * the roofline was measured unless --no-roofline. */
static int sweep_ok(const struct bench_cfg *cfg, const struct results *res)
{
    if (!res->nsweep)
        return 0;
    for (unsigned k = 0; k < res->nsweep; k++)
        for (int c = 0; c < CASE_COUNT; c++) {
            const struct case_result *cr = &res->sweep[k].cases[c];
            if (!(cfg->cases & (1u << c)))
                continue;
            if (!cr->ran)
                return 0;
            for (unsigned i = 0; i < cr->nrows; i++)
                if (cr->rows[i].status != ROW_OK)
                    return 0;
        }
    return 1;
}

/* 1 when the roofline was measured, or not asked for. */
int roofline_ok(const struct bench_cfg *cfg, const struct results *res)
{
    if (!cfg->no_roofline && !res->roof.measured) {
        fprintf(stderr, "%s: roofline: %s\n", BENCH_NAME, res->roof.message);
        return 0;
    }
    return 1;
}

int cases_ok(const struct bench_cfg *cfg, const struct results *res,
             int need_rss)
{
    if (sweep_active(&cfg->sweep))
        return sweep_ok(cfg, res);
    for (int c = 0; c < CASE_COUNT; c++) {
        const struct case_result *cr = &res->cases[c];
        if (!cr->ran)
            continue;
        for (unsigned i = 0; i < cr->nrows; i++)
            if (cr->rows[i].status != ROW_OK)
                return 0;
        if (need_rss && c == CASE_STATS && !cr->have_rss) {
            fprintf(stderr, "%s: %s\n", BENCH_NAME, cr->rss_error);
            return 0;
        }
    }
    return 1;
}

static int bench_main(const struct bench_cfg *cfg)
{
    struct results *res = calloc(1, sizeof *res);
    char err[ERRLEN];
    int rc = 0;

    if (!res) {
        fprintf(stderr, "%s: out of memory\n", BENCH_NAME);
        return EXIT_RUNTIME;
    }
    if (cfg->suite) {
        free(res);
        return suite_main(cfg);
    }
    if (bench_prepare_file(cfg, res, err)) {
        fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
        free(res);
        return g_interrupted ? EXIT_INTERRUPTED : EXIT_RUNTIME;
    }
    if (cfg->generate_only) {
        printf("%s\n", res->file);
        free(res);
        return 0;
    }
    bench_run_cases(cfg, res);
    if (sweep_active(&cfg->sweep) && cfg->json)
        sweep_print_json(cfg, res);
    else if (sweep_active(&cfg->sweep))
        sweep_print_table(cfg, res);
    else if (cfg->json)
        print_json(cfg, res);
    else
        print_table(cfg, res);
    fflush(stdout);
    if (!roofline_ok(cfg, res) || !cases_ok(cfg, res, 1))
        rc = EXIT_RUNTIME;
    if (res->rr_open)
        raw_close(&res->rr);
    if (res->generated && !cfg->keep) {
        if (unlink(res->file) == 0)
            fprintf(stderr, "%s: removed %s (--keep keeps it)\n", BENCH_NAME,
                    res->file);
    }
    free(res->sweep);
    free(res);
    return g_interrupted ? EXIT_INTERRUPTED : rc;
}

/* ------------------------------------------------------------------------
 * Command line.
 */

/* h5cl's tile size and slot count for the chosen device, so that runs
 * without --tile-bytes / --slots measure what a user gets. */
static int library_defaults(const char *device, uint64_t *tile_bytes,
                            unsigned *slots, char *err)
{
    h5cl_ctx *ctx = NULL;
    int st = h5cl_ctx_create(&ctx);
    if (st == H5CL_OK && device)
        st = h5cl_ctx_use_device(ctx, device);
    if (st == H5CL_OK)
        st = h5cl_ctx_run_defaults(ctx, tile_bytes, slots);
    if (st != H5CL_OK)
        snprintf(err, ERRLEN, "cannot open the device: %s",
                 ctx ? h5cl_ctx_errmsg(ctx) : h5cl_strerror(st));
    h5cl_ctx_destroy(ctx);
    return st == H5CL_OK ? 0 : -1;
}
static void usage(FILE *f)
{
    fprintf(f,
"usage: %s [options]\n"
"       %s --make-sample FILE [--size SIZE]\n"
"\n"
"Measures h5cl on one HDF5 dataset against the raw-HDF5 ceiling of the\n"
"same tiles, in the same run: one warm-up of each row, then alternating\n"
"timed repetitions; medians and min-max in GB/s (1e9 B/s of input).\n"
"\n"
"Cases (--case):\n"
"  stats   h5cl_stats_compute against H5Dread of the tiles (the default)\n"
"  map     h5cl_map_run of x * 2 + 1 (float32, uncompressed) into a new\n"
"          file in --dir, against H5Dread + H5Dwrite of the tiles into a\n"
"          new file, both committed alike (close, fsync, rename, fsync of\n"
"          the directory); outputs are checked, then deleted\n"
"  hist    h5cl_hist_compute, 256 bins, against H5Dread of the tiles: a\n"
"          given range (one pass) and the data's range (two passes),\n"
"          checked bin for bin against histograms made here\n"
"  axis    h5cl_stats_compute along axis 0 (one state per column) and\n"
"          axis 1 (one per row) of rank-2 data, against H5Dread of the\n"
"          tiles; every state checked against references made here\n"
"  fused   h5cl_stats_compute of x * 2 + 1 and of x * x + y * y (y a\n"
"          second handle on the dataset: two inputs) evaluated on the\n"
"          device, nothing written, against H5Dread of the tiles; checked\n"
"          against the expressions evaluated here\n"
"  cov     h5cl_cov_compute (covariance through CLBlast SYRK) of rank-2\n"
"          data, against H5Dread of the tiles; also in GFLOP/s (rows x\n"
"          cols x (cols + 1) flops) against the device's own SYRK rate,\n"
"          measured in the same run with CLBlast on a resident tile-sized\n"
"          matrix (double with fp64, else float); checked against column\n"
"          means, variances (ddof 1) and %d covariances computed here in\n"
"          long double; generated data has %d columns unless --cols\n"
"          says otherwise\n"
"  all     stats, map, hist, axis and fused, in that order (generated\n"
"          data is then rank 2 unless --rank is given, for the axis\n"
"          case).  Not cov: it is compute-bound, judged against the\n"
"          device's SYRK rather than the read ceiling alone, and wants\n"
"          narrower data; name it (--case all,cov adds it, and then\n"
"          every case reads the %d-column file)\n"
"\n"
"Data:\n"
"  --file F           HDF5 file to read; generated there if it is absent\n"
"                     (default: a generated file under --dir)\n"
"  --dataset P        dataset path (default %s)\n"
"  --dir DIR          directory of generated files and of the map case's\n"
"                     outputs (default %s)\n"
"  --size SIZE        generated dataset size (default 4G; 256M in a suite)\n"
"  --dtype T          generated type: float32 (default), float64 or int16\n"
"  --figures LIST     the stats case computes only these (h5cl stats\n"
"                     --figures names: sum, var, min, arg, ...; all)\n"
"                     (int16: the field in hundredths, no NaNs)\n"
"  --layout L         generated layout: chunked (default), contiguous, or\n"
"                     gzip (chunked, shuffle + deflate level %d)\n"
"  --chunk-bytes B    generated chunk size (default 8M)\n"
"  --rank 1|2         generated shape: 1-D, or rows x --cols (default 1; 2\n"
"                     with the axis and cov cases)\n"
"  --cols N           columns of generated rank-2 data, 1 to %d (default\n"
"                     %d; %d when the cov case runs); a part of the cached\n"
"                     file's name when not %d (bench-f32-2d128c-...)\n"
"  --keep             keep a file this run generated, to be reused by later\n"
"                     runs with the same parameters (default: remove it)\n"
"  --generate         only make (or find) that file, print its path and stop\n"
"                     (implies --keep): to prepare data ahead of timed runs\n"
"Run:\n"
"  --case C           stats, map, hist, axis, fused, cov, a list of them\n"
"                     (stats,axis) or all (default stats; all in a suite;\n"
"                     all is every case but cov, see above)\n"
"  --suite            run the cases on generated files of every dtype\n"
"                     (float32, float64, int16) and layout (contiguous,\n"
"                     chunked with 64K and with --chunk-bytes chunks, gzip\n"
"                     with 1M chunks) at --size, one table; --dtype and\n"
"                     --layout narrow the matrix to one of them\n"
"  --tile-bytes B     bytes per tile, h5cl and ceiling (default: h5cl's for\n"
"                     the device, h5cl_ctx_run_defaults: 4M on CPU-class\n"
"                     devices, 8M on GPUs)\n"
"  --slots K          h5cl host slots in flight (default: h5cl's, 2 on\n"
"                     CPU-class devices, 3 on GPUs)\n"
"  --reps N           timed repetitions of each row (default %d)\n"
"  --device D         h5cl device: gpu, cpu, accelerator, P:D or a name\n"
"                     substring (default: H5CL_DEVICE, else h5cl's choice)\n"
"  --hist-range LO:HI the hist case's given range (default: the data's\n"
"                     [min, max] narrowed by 1/16 of its width at each end)\n"
"  --sweep NAME=V,... run the chosen cases at every combination of the\n"
"                     swept parameters (repeatable; the cross product):\n"
"                     slots=1,2,3,4 and/or tile-bytes=1M,4M,16M,64M; each\n"
"                     combination gets its own warm-up, repetitions and\n"
"                     ceiling at its tile size; one row per combination,\n"
"                     h5cl's defaults for the device marked '*'; no RSS\n"
"                     probe\n"
"  --no-roofline      skip the device roofline (below)\n"
"Output:\n"
"  --json             one JSON object per row on stdout\n"
"  --verbose          each repetition's times and stage seconds on stderr\n"
"  --trace FILE       Chrome trace (h5cl trace_path) of one extra, untimed\n"
"                     h5cl run after the repetitions (FILE-CASE.ext for\n"
"                     each case when several run)\n"
"  -h, --help         this text\n"
"\n"
"--make-sample FILE writes /data (float32, rows x 1024, 1 MiB chunks: a\n"
"smooth field plus Gaussian noise and a few NaNs) and /counts (int16,\n"
"rows x 64) to FILE atomically; --size sets the /data size (default 384M).\n"
"\n"
"Device roofline (every run, before the cases): on h5cl's device, with\n"
"OpenCL directly, the host->device bandwidth from a pinned host buffer\n"
"(CL_MEM_ALLOC_HOST_PTR, mapped; transfers of up to 256 MiB) and the\n"
"on-device read bandwidth (a sum over a resident buffer: vload8 segments\n"
"on CPUs, interleaved float4 on GPUs), by event profiling, medians over\n"
"--reps.  On host-unified devices (PoCL) H2D is a host memcpy.  The stats\n"
"row then also gives its median as a fraction of min(raw H5Dread, H2D\n"
"unless the run was zero-copy, on-device read).  The stats, axis and fused\n"
"cases also measure the on-device read (median of three) right before the\n"
"h5cl rows of every repetition, and give each h5cl row's GB/s over it,\n"
"repetition by repetition (\"h5cl / device read\"; JSON\n"
"\"device_read_interleaved\"): the machine's bandwidth drifts, so this\n"
"is the steadier ratio.\n"
"\n"
"Sizes take K, M, G, T suffixes (powers of 1024): 384M, 4G, 8MiB.\n"
"Exit status: 0 ok; 1 runtime error or a failed row; 2 usage error.\n",
            BENCH_NAME, BENCH_NAME, COV_CHECK_PAIRS, COV_DEFAULT_COLS,
            COV_DEFAULT_COLS, DEFAULT_DATASET, DEFAULT_DIR, GZIP_LEVEL,
            MAX_COLS, FIELD_WIDTH, COV_DEFAULT_COLS, FIELD_WIDTH,
            DEFAULT_REPS);
}

/* Case names separated by commas ("stats,map"; "all" stands for
 * CASES_ALL, so "all,cov" is every case), as a set of cases; the cases
 * run in their fixed order whatever the order given. */
static int parse_case(const char *text, unsigned *cases)
{
    char buf[128], *save = NULL, *tok;

    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return -1;
    *cases = 0;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int found = strcmp(tok, "all") == 0;
        if (found)
            *cases |= CASES_ALL;
        for (int c = 0; c < CASE_COUNT && !found; c++)
            if (strcmp(tok, case_name((enum bench_case)c)) == 0) {
                *cases |= 1u << c;
                found = 1;
            }
        if (!found)
            return -1;
    }
    return *cases ? 0 : -1;
}

/* "LO:HI", two finite numbers with LO < HI. */
static int parse_range(const char *text, double *lo, double *hi)
{
    char *end;
    errno = 0;
    *lo = strtod(text, &end);
    if (errno || end == text || *end != ':')
        return -1;
    text = end + 1;
    *hi = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(*lo) || !isfinite(*hi) ||
        !(*lo < *hi))
        return -1;
    return 0;
}

static int is_known_option(const char *name)
{
    static const char *const known[] = {
        "--make-sample", "--size", "--file", "--dataset", "--dir",
        "--chunk-bytes", "--rank", "--tile-bytes", "--slots", "--reps",
        "--device", "--json", "--keep", "--generate", "--verbose", "--trace",
        "--case", "--hist-range", "--sweep", "--no-roofline", "--dtype",
        "--layout", "--suite", "--cols", "--figures" };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                             ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", BENCH_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", BENCH_NAME);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct bench_cfg cfg = {
        .dataset = DEFAULT_DATASET, .dir = DEFAULT_DIR,
        .size = DEFAULT_SIZE, .chunk_bytes = DEFAULT_CHUNK_BYTES,
        .tile_bytes = 0, .slots = 0, /* h5cl's defaults, found below */
        .reps = DEFAULT_REPS, .rank = 1, .cases = 1u << CASE_STATS,
        .dtype = H5CL_FLOAT32, .layout = LAYOUT_CHUNKED };
    const char *sample = NULL;
    int bench_only = 0; /* an option that --make-sample does not take */
    int cases_given = 0;
    char err[ERRLEN];

    /* argv[0] with a slash is this program (we never chdir); it also stays
     * right under valgrind, where /proc/self/exe is the valgrind tool */
    if (argv[0] && strchr(argv[0], '/'))
        g_self = argv[0];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by us */
    if (argc > 1 && strcmp(argv[1], "--rss-probe") == 0)
        return rss_probe_main(argc, argv);

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(opt, '=');
        int takes;

        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(opt, "--", 2) != 0)
            return usage_error("unexpected argument '%s'", opt);
        snprintf(name, sizeof name, "%.*s",
                 (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
        if (!is_known_option(name))
            return usage_error("unknown option '%s'", name);
        takes = strcmp(name, "--json") != 0 && strcmp(name, "--keep") != 0 &&
                strcmp(name, "--generate") != 0 &&
                strcmp(name, "--verbose") != 0 &&
                strcmp(name, "--no-roofline") != 0 &&
                strcmp(name, "--suite") != 0;
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("%s needs a value", name);
        } else if (eq) {
            return usage_error("%s takes no value", name);
        }

        if (strcmp(name, "--make-sample") == 0) {
            sample = val;
        } else if (strcmp(name, "--size") == 0) {
            if (parse_size(val, &cfg.size) || cfg.size == 0)
                return usage_error("bad --size '%s'", val);
            cfg.size_given = 1;
        } else if (strcmp(name, "--file") == 0) {
            cfg.file = val;
            bench_only = 1;
        } else if (strcmp(name, "--dataset") == 0) {
            cfg.dataset = val;
            bench_only = 1;
        } else if (strcmp(name, "--dir") == 0) {
            cfg.dir = val;
            bench_only = 1;
        } else if (strcmp(name, "--chunk-bytes") == 0) {
            if (parse_size(val, &cfg.chunk_bytes) || cfg.chunk_bytes == 0 ||
                cfg.chunk_bytes >= 4 * GIB)
                return usage_error("bad --chunk-bytes '%s' (1 B to < 4 GiB)",
                                   val);
            cfg.chunk_given = bench_only = 1;
        } else if (strcmp(name, "--rank") == 0) {
            unsigned r;
            if (parse_uint(val, 1, 2, &r))
                return usage_error("bad --rank '%s' (1 or 2)", val);
            cfg.rank = (int)r;
            cfg.rank_given = bench_only = 1;
        } else if (strcmp(name, "--cols") == 0) {
            if (parse_uint(val, 1, MAX_COLS, &cfg.cols))
                return usage_error("bad --cols '%s' (1 to %d)", val,
                                   MAX_COLS);
            cfg.cols_given = bench_only = 1;
        } else if (strcmp(name, "--tile-bytes") == 0) {
            if (parse_size(val, &cfg.tile_bytes) || cfg.tile_bytes == 0)
                return usage_error("bad --tile-bytes '%s'", val);
            cfg.tile_given = bench_only = 1;
        } else if (strcmp(name, "--slots") == 0) {
            if (parse_uint(val, 1, 1024, &cfg.slots))
                return usage_error("bad --slots '%s' (1 to 1024)", val);
            bench_only = 1;
        } else if (strcmp(name, "--reps") == 0) {
            if (parse_uint(val, 1, 1024, &cfg.reps))
                return usage_error("bad --reps '%s' (1 to 1024)", val);
            bench_only = 1;
        } else if (strcmp(name, "--case") == 0) {
            if (parse_case(val, &cfg.cases))
                return usage_error("bad --case '%s' (stats, map, hist, axis, "
                                   "fused, cov, a list of them or all)",
                                   val);
            cases_given = bench_only = 1;
        } else if (strcmp(name, "--dtype") == 0) {
            if (parse_bench_dtype(val, &cfg.dtype))
                return usage_error("bad --dtype '%s' (float32, float64 or "
                                   "int16)", val);
            cfg.dtype_given = bench_only = 1;
        } else if (strcmp(name, "--figures") == 0) {
            if (h5cl_figures_parse(val, &cfg.figures) != H5CL_OK)
                return usage_error("bad --figures '%s' (a comma list of "
                                   "count, sum, mean, var, std, min, max, "
                                   "arg, all)", val);
            cfg.figures_text = val;
            bench_only = 1;
        } else if (strcmp(name, "--layout") == 0) {
            if (parse_layout(val, &cfg.layout))
                return usage_error("bad --layout '%s' (contiguous, chunked "
                                   "or gzip)", val);
            cfg.layout_given = bench_only = 1;
        } else if (strcmp(name, "--suite") == 0) {
            cfg.suite = bench_only = 1;
        } else if (strcmp(name, "--hist-range") == 0) {
            if (parse_range(val, &cfg.hist_lo, &cfg.hist_hi))
                return usage_error("bad --hist-range '%s' (LO:HI, finite, "
                                   "LO < HI)", val);
            cfg.hist_range_set = bench_only = 1;
        } else if (strcmp(name, "--device") == 0) {
            cfg.device = val;
            bench_only = 1;
        } else if (strcmp(name, "--json") == 0) {
            cfg.json = bench_only = 1;
        } else if (strcmp(name, "--trace") == 0) {
            if (!*val)
                return usage_error("--trace needs a file name");
            cfg.trace = val;
            bench_only = 1;
        } else if (strcmp(name, "--verbose") == 0) {
            cfg.verbose = bench_only = 1;
        } else if (strcmp(name, "--sweep") == 0) {
            if (sweep_parse(&cfg.sweep, val, err))
                return usage_error("%s", err);
            bench_only = 1;
        } else if (strcmp(name, "--no-roofline") == 0) {
            cfg.no_roofline = bench_only = 1;
        } else if (strcmp(name, "--keep") == 0) {
            cfg.keep = bench_only = 1;
        } else if (strcmp(name, "--generate") == 0) {
            cfg.generate_only = cfg.keep = bench_only = 1;
        } else {
            return usage_error("unknown option '%s'", name);
        }
    }
    install_signals();

    if (sample) {
        if (bench_only)
            return usage_error("--make-sample takes only --size");
        if (!*sample)
            return usage_error("--make-sample needs a file name");
        if (!cfg.size_given)
            cfg.size = DEFAULT_SAMPLE_SIZE;
        if (cfg.size < FIELD_WIDTH * sizeof(float))
            return usage_error("--size must be at least 4K for "
                               "--make-sample");
        if (make_sample(sample, cfg.size, err)) {
            fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
            return g_interrupted ? EXIT_INTERRUPTED : EXIT_RUNTIME;
        }
        return 0;
    }
    if (!cfg.generate_only) {
        if (library_defaults(cfg.device, &cfg.default_tile_bytes,
                             &cfg.default_slots, err)) {
            fprintf(stderr, "%s: %s\n", BENCH_NAME, err);
            return EXIT_RUNTIME;
        }
        if (!cfg.tile_bytes)
            cfg.tile_bytes = cfg.default_tile_bytes;
        if (!cfg.slots)
            cfg.slots = cfg.default_slots;
    }
    if (cfg.suite) {
        if (cfg.file || sweep_active(&cfg.sweep) || cfg.generate_only)
            return usage_error("--suite generates its files: it takes no "
                               "--file, --sweep or --generate");
        if (!cases_given)
            cfg.cases = CASES_ALL;
        if (!cfg.size_given)
            cfg.size = SUITE_DEFAULT_SIZE;
    }
    /* per-axis statistics and covariances need rows and columns */
    if ((cfg.cases & (1u << CASE_AXIS | 1u << CASE_COV)) && !cfg.rank_given)
        cfg.rank = 2;
    if (!cfg.cols_given)
        cfg.cols = cfg.cases & (1u << CASE_COV) ? COV_DEFAULT_COLS
                                                 : FIELD_WIDTH;
    if (cfg.rank == 2 && cfg.size < (uint64_t)cfg.cols * sizeof(double))
        return usage_error("--size must hold a row of --cols float64 values "
                           "(%u bytes) with --rank 2",
                           cfg.cols * (unsigned)sizeof(double));
    if (!*cfg.dataset || !*cfg.dir || (cfg.file && !*cfg.file))
        return usage_error("empty --file, --dataset or --dir");
    return bench_main(&cfg);
}
