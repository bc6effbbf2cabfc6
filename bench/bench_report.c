/*
 * h5cl-bench: output, a human table (one section per case) or one JSON
 * object per row.  Every row names the device, driver, h5cl version,
 * dataset and layout, and carries a status, so a failed row is still
 * reported.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "bench.h"

/* How each case's ceiling is measured, for the rows and the table. */
static const char *ceiling_method(enum bench_case c)
{
    switch (c) {
    case CASE_MAP:
        return "H5Dread of each tile and H5Dwrite of it into a new file "
               "(same shape and layout, chunk cache off), then H5Dclose, "
               "H5Fclose, fsync of the file, rename, fsync of the directory";
    default:
        return "H5Dread of each tile into one buffer, chunk cache off";
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void json_dims(FILE *f, int rank, const hsize_t *dims)
{
    fputc('[', f);
    for (int i = 0; i < rank; i++)
        fprintf(f, "%s%" PRIu64, i ? "," : "", (uint64_t)dims[i]);
    fputc(']', f);
}

static uint64_t rss_bound(const struct bench_cfg *cfg,
                          const struct case_result *cr)
{
    const h5cl_run_summary *sum = &cr->rows[1].sum;
    uint64_t tile = sum->tile_bytes ? sum->tile_bytes : cfg->tile_bytes;
    unsigned slots = sum->slots ? sum->slots : cfg->slots;
    return (uint64_t)slots * tile + RSS_SLACK_BYTES;
}

/* The peak resident set less the data's file pages mapped by the run
 * (see rss_increment). */
static uint64_t rss_peak_own(const struct case_result *cr)
{
    return cr->rss.peak_bytes > cr->rss.mapped_bytes
               ? cr->rss.peak_bytes - cr->rss.mapped_bytes
               : 0;
}

/* What the run itself added to the resident set: peak - RSS before it,
 * less the data's page-cache pages it mapped (the kernel's to reclaim,
 * and no more the run's memory than the page cache that H5Dread reads
 * from). */
static uint64_t rss_increment(const struct case_result *cr)
{
    const uint64_t own = cr->rss.before_bytes + cr->rss.mapped_bytes;
    return cr->rss.peak_bytes > own ? cr->rss.peak_bytes - own : 0;
}

/* min(raw H5Dread ceiling, H2D pinned unless the run was zero-copy,
 * on-device read), for the stats case's h5cl row. */
double roofline_bound(const struct results *res, const struct case_result *cr,
                      const char **which_ret)
{
    const struct roofline *rl = &res->roof;
    const struct row *raw = &cr->rows[0], *h5 = &cr->rows[1];
    double bound = NAN;

    *which_ret = "";
    if (!rl->measured || cr->which != CASE_STATS || raw->status != ROW_OK ||
        h5->status != ROW_OK)
        return NAN;
    bound = raw->gbps.median;
    *which_ret = "H5Dread";
    if (!h5->sum.zero_copy && rl->h2d_gbps.median < bound) {
        bound = rl->h2d_gbps.median;
        *which_ret = "H2D";
    }
    if (rl->read_gbps.median < bound) {
        bound = rl->read_gbps.median;
        *which_ret = "device read";
    }
    return bound;
}

static void json_summary3(FILE *f, const char *key, struct summary3 v)
{
    fprintf(f, ",\"%s_median\":", key);
    json_num(f, v.median);
    fprintf(f, ",\"%s_min\":", key);
    json_num(f, v.min);
    fprintf(f, ",\"%s_max\":", key);
    json_num(f, v.max);
}

/* The device roofline, the same object in every row. */
static void json_roofline(FILE *f, const struct results *res)
{
    const struct roofline *rl = &res->roof;
    fprintf(f, ",\"roofline\":{\"status\":\"%s\"",
            rl->measured ? "ok" : "error");
    if (!rl->measured) {
        fputs(",\"message\":", f);
        json_str(f, rl->message);
    } else {
        fprintf(f, ",\"bytes\":%" PRIu64 ",\"reps\":%u"
                   ",\"h2d_is_host_memcpy\":%s,\"read_pattern\":\"%s\""
                   ",\"read_huge_pages\":%s",
                rl->bytes, rl->reps, rl->host_unified ? "true" : "false",
                rl->contiguous ? "contiguous-vload8" : "interleaved-float4",
                rl->huge_pages ? "true" : "false");
        json_summary3(f, "h2d_pinned_gbps", rl->h2d_gbps);
        json_summary3(f, "device_read_gbps", rl->read_gbps);
        json_summary3(f, "device_copy_gbps", rl->copy_gbps);
        fputs(",\"read_fraction_of_copy\":", f);
        json_num(f, rl->read_gbps.median / rl->copy_gbps.median);
    }
    fputc('}', f);
}

/* ------------------------------------------------------------------------
 * JSON: one object per row.
 */

/* The fields of every row: what ran, on what, over which data. */
static void json_common(FILE *f, const struct bench_cfg *cfg,
                        const struct results *res,
                        const struct case_result *cr, const struct row *row)
{
    const struct raw_reader *rr = &res->rr;

    fprintf(f, "{\"format_version\":%d,\"bench\":\"%s\",\"case\":",
            JSON_FORMAT_VERSION, BENCH_NAME);
    json_str(f, case_name(cr->which));
    fputs(",\"row\":", f);
    json_str(f, row->name);
    fprintf(f, ",\"status\":\"%s\"", row->status == ROW_OK ? "ok" : "error");
    if (row->status != ROW_OK) {
        fputs(",\"message\":", f);
        json_str(f, row->message);
    }
    fputs(",\"h5cl_version\":", f);
    json_str(f, h5cl_version());
    fputs(",\"device\":", f);
    json_str(f, res->have_dev ? res->dev.device_name : "");
    fputs(",\"platform\":", f);
    json_str(f, res->have_dev ? res->dev.platform_name : "");
    fputs(",\"driver\":", f);
    json_str(f, res->have_dev ? res->dev.driver_version : "");
    fputs(",\"device_type\":", f);
    json_str(f, res->have_dev ? h5cl_device_type_name(res->dev.type) : "");
    fputs(",\"file\":", f);
    json_str(f, res->file);
    fprintf(f, ",\"file_bytes\":%" PRIu64, res->file_bytes);
    fputs(",\"dataset\":", f);
    json_str(f, cfg->dataset);
    if (res->rr_open) {
        fputs(",\"dtype\":", f);
        json_str(f, h5cl_dtype_name(rr->dtype));
        fputs(",\"shape\":", f);
        json_dims(f, rr->rank, rr->dims);
        fprintf(f, ",\"layout\":\"%s\",\"chunk\":",
                rr->chunked ? "chunked" : "contiguous");
        json_dims(f, rr->chunked ? rr->rank : 0, rr->chunk);
        fprintf(f, ",\"filters\":%u,\"nbytes\":%" PRIu64
                   ",\"storage_bytes\":%" PRIu64,
                rr->nfilters, rr->nbytes, rr->storage_bytes);
    }
    fprintf(f, ",\"requested_tile_bytes\":%" PRIu64 ",\"slots\":%u"
               ",\"reps\":%u",
            cfg->tile_bytes, cfg->slots, cfg->reps);
    if (cr->which == CASE_STATS) {
        fputs(",\"figures\":", f);
        json_str(f, cfg->figures_text ? cfg->figures_text : "all");
    }
    if (row->status == ROW_OK) {
        fprintf(f, ",\"tile_bytes\":%" PRIu64 ",\"tiles\":%" PRIu64,
                row->tile_bytes, row->tiles);
        fputs(",\"gbps_median\":", f);
        json_num(f, row->gbps.median);
        fputs(",\"gbps_min\":", f);
        json_num(f, row->gbps.min);
        fputs(",\"gbps_max\":", f);
        json_num(f, row->gbps.max);
        fputs(",\"seconds_median\":", f);
        json_num(f, row->seconds.median);
    }
    json_roofline(f, res);
}

/* A ceiling row's method and, for maps, its phases. */
static void json_ceiling(FILE *f, const struct case_result *cr,
                         const struct row *row)
{
    fputs(",\"method\":", f);
    json_str(f, ceiling_method(cr->which));
    if (row->status == ROW_OK && row->have_phases) {
        fputs(",\"phase_seconds_median\":{", f);
        for (int i = 0; i < PHASE_COUNT; i++) {
            fprintf(f, "%s\"%s\":", i ? "," : "",
                    phase_name((enum copy_phase)i));
            json_num(f, row->phase[i].median);
        }
        fputc('}', f);
    }
}

/* An h5cl row's summary: ratio, stages, overlap. */
static void json_h5cl(FILE *f, const struct results *res,
                      const struct case_result *cr, const struct row *row)
{
    fputs(",\"ceiling\":", f);
    json_str(f, cr->rows[0].name);
    fputs(",\"ratio_vs_raw\":", f);
    json_num(f, row->ratio);
    fprintf(f, ",\"run_slots\":%u,\"zero_copy\":%s,\"build_seconds\":",
            row->sum.slots, row->sum.zero_copy ? "true" : "false");
    json_num(f, res->build_seconds);
    fputs(",\"summary_seconds_median\":", f);
    json_num(f, row->run_seconds.median);
    fputs(",\"stage_seconds_median\":{", f);
    for (int s = 0; s < H5CL_STAGE_COUNT; s++) {
        fprintf(f, "%s", s ? "," : "");
        json_str(f, h5cl_stage_name((h5cl_stage)s));
        fputc(':', f);
        json_num(f, row->stage[s].median);
    }
    /* the kernels' own rate over data already on the device: on a GPU
     * this is judged against the roofline's on-device copy */
    fputs("},\"kernel_stage_gbps\":", f);
    json_num(f, res->rr_open && row->stage[H5CL_STAGE_KERNEL].median > 0
                    ? (double)res->rr.nbytes /
                          row->stage[H5CL_STAGE_KERNEL].median / 1e9
                    : NAN);
    fputs(",\"overlap_median\":", f);
    json_num(f, row->overlap.median);
    fputs(",\"overlap_min\":", f);
    json_num(f, row->overlap.min);
    fputs(",\"overlap_max\":", f);
    json_num(f, row->overlap.max);
    fputs(",\"overlap_efficiency\":", f);
    json_num(f, 1.0 / row->overlap.median);
    /* the on-device read measured next to each repetition, and this
     * row's GB/s over it repetition by repetition (bench_case_run.c) */
    if (row->have_roof) {
        fputs(",\"device_read_interleaved\":{\"status\":\"ok\"", f);
        json_summary3(f, "gbps", row->roof_gbps);
        json_summary3(f, "ratio", row->roof_ratio);
        fputc('}', f);
    }
}

static void json_stats(FILE *f, const struct bench_cfg *cfg,
                       const struct results *res,
                       const struct case_result *cr, const struct row *row)
{
    uint64_t bound = rss_bound(cfg, cr);
    if (cr->have_rss)
        fprintf(f, ",\"peak_rss_bytes\":%" PRIu64
                   ",\"rss_before_run_bytes\":%" PRIu64
                   ",\"rss_after_device_open_bytes\":%" PRIu64
                   ",\"rss_run_increment_bytes\":%" PRIu64
                   ",\"rss_run_mapped_file_bytes\":%" PRIu64
                   ",\"rss_run_mapped_file_pmd_bytes\":%" PRIu64,
                cr->rss.peak_bytes, cr->rss.before_bytes,
                cr->rss.device_bytes, rss_increment(cr),
                cr->rss.mapped_bytes, cr->rss.mapped_pmd_bytes);
    else {
        fputs(",\"peak_rss_bytes\":null,\"peak_rss_error\":", f);
        json_str(f, cr->rss_error);
    }
    fprintf(f, ",\"rss_bound_bytes\":%" PRIu64, bound);
    fprintf(f, ",\"targets\":{\"ratio\":%s,\"overlap\":%s,\"rss\":%s"
               ",\"rss_increment\":%s}",
            row->ratio >= TARGET_RATIO ? "true" : "false",
            row->overlap.median <= TARGET_OVERLAP ? "true" : "false",
            !cr->have_rss ? "null"
            : rss_peak_own(cr) <= bound ? "true" : "false",
            !cr->have_rss ? "null"
            : rss_increment(cr) <= bound ? "true" : "false");
    {
        const char *which;
        double rbound = roofline_bound(res, cr, &which);
        fputs(",\"roofline_bound_gbps\":", f);
        json_num(f, rbound);
        fputs(",\"roofline_limit\":", f);
        if (isfinite(rbound))
            json_str(f, which);
        else
            fputs("null", f);
        fputs(",\"fraction_of_roofline\":", f);
        json_num(f, row->gbps.median / rbound);
    }
    fprintf(f, ",\"result\":{\"count\":%" PRIu64 ",\"nan_count\":%" PRIu64
               ",\"mean\":",
            cr->st.count, cr->st.nan_count);
    json_num(f, h5cl_stats_state_mean(&cr->st));
    fputs(",\"std\":", f);
    json_num(f, h5cl_stats_state_std(&cr->st, 0));
    fputs(",\"min\":", f);
    json_num(f, h5cl_stats_state_min(&cr->st));
    fputs(",\"max\":", f);
    json_num(f, h5cl_stats_state_max(&cr->st));
    fputs(",\"mean_rel_err\":", f);
    json_num(f, cr->mean_err);
    fputs(",\"var_rel_err\":", f);
    json_num(f, cr->var_err);
    fputs("}", f);
}

static void json_map(FILE *f, const struct case_result *cr)
{
    const struct map_detail *md = &cr->map;
    fputs(",\"expression\":", f);
    json_str(f, md->expr);
    fputs(",\"output\":{\"file\":", f);
    json_str(f, md->out_file);
    fputs(",\"dtype\":\"float32\",\"layout\":", f);
    json_str(f, md->layout);
    fputs(",\"chunk\":", f);
    json_dims(f, md->out_rank, md->out_chunk);
    fprintf(f, ",\"filters\":0,\"bytes_written\":%" PRIu64
               ",\"committed\":\"temporary file, fsync, rename, fsync of "
               "the directory\"}",
            md->bytes_written);
    fprintf(f, ",\"checked\":{\"tiles_per_run\":%" PRIu64
               ",\"values_per_run\":%" PRIu64 "}",
            md->checked_tiles, md->checked_values);
}

static void json_hist(FILE *f, const struct case_result *cr, int j)
{
    const struct hist_detail *d = &cr->hist[j];
    /* the range in full: the check compares it exactly */
    fprintf(f, ",\"bins\":%u,\"range\":[%.17g,%.17g]", (unsigned)cr->bins,
            d->lo, d->hi);
    fprintf(f, ",\"range_from_data\":%s,\"passes\":%u"
               ",\"host_binning\":\"%s\"",
            d->from_data ? "true" : "false", d->passes,
            cr->fp64 ? "double" : "float");
    fprintf(f, ",\"result\":{\"in_bins\":%" PRIu64 ",\"nan\":%" PRIu64
               ",\"under\":%" PRIu64 ",\"over\":%" PRIu64
               ",\"max_bin_count\":%" PRIu64 ",\"edge_corrected\":%" PRIu64
               "}",
            d->in_bins, d->nan, d->under, d->over, d->max_count,
            d->corrected);
}

/* An axis or fused row: what it computed and how its check went. */
static void json_ro(FILE *f, const struct case_result *cr, int j)
{
    const struct ro_detail *d = &cr->ro[j];
    if (cr->which == CASE_AXIS) {
        fprintf(f, ",\"axis\":%d", j);
    } else {
        fputs(",\"expression\":", f);
        json_str(f, d->what);
        fprintf(f, ",\"inputs\":%d", j + 1);
    }
    fprintf(f, ",\"result\":{\"states\":%" PRIu64 ",\"mean_rel_err_max\":",
            d->states);
    json_num(f, d->mean_err);
    fputs(",\"var_rel_err_max\":", f);
    json_num(f, d->var_err);
    if (cr->which == CASE_FUSED) {
        fprintf(f, ",\"count\":%" PRIu64 ",\"nan_count\":%" PRIu64
                   ",\"mean\":", d->st.count, d->st.nan_count);
        json_num(f, h5cl_stats_state_mean(&d->st));
        fputs(",\"min\":", f);
        json_num(f, h5cl_stats_state_min(&d->st));
        fputs(",\"max\":", f);
        json_num(f, h5cl_stats_state_max(&d->st));
    }
    fputc('}', f);
}

/* A cov row: its effective GFLOP/s, the device's SYRK rate measured in
 * the same run, and how its check went. */
static void json_cov(FILE *f, const struct case_result *cr)
{
    const struct cov_detail *d = &cr->cov;
    const struct syrk_probe *sp = &d->syrk;

    fputs(",\"flops_per_run\":", f);
    json_num(f, d->flops);
    json_summary3(f, "gflops", d->gflops);
    fprintf(f, ",\"device_syrk\":{\"status\":\"%s\"",
            sp->measured ? "ok" : "error");
    if (!sp->measured) {
        fputs(",\"message\":", f);
        json_str(f, sp->message);
    } else {
        fprintf(f, ",\"routine\":\"%s\",\"n\":%" PRIu64 ",\"k\":%" PRIu64
                   ",\"reps\":%u,\"timing\":\"event profiling, from a "
                   "marker before the call to the end of its event\"",
                sp->fp64 ? "CLBlastDsyrk" : "CLBlastSsyrk", sp->n, sp->k,
                sp->reps);
        json_summary3(f, "gflops", sp->gflops);
    }
    fputs("},\"fraction_of_syrk\":", f);
    json_num(f, sp->measured ? d->gflops.median / sp->gflops.median : NAN);
    fprintf(f, ",\"result\":{\"rows\":%" PRIu64 ",\"columns\":%" PRIu64
               ",\"ddof\":1,\"nan_columns\":%" PRIu64
               ",\"pairs_checked\":%u,\"tolerance\":",
            d->rows, d->cols, d->nan_cols, d->pairs);
    json_num(f, d->tol);
    fputs(",\"mean_rel_err_max\":", f);
    json_num(f, d->mean_err);
    fputs(",\"var_rel_err_max\":", f);
    json_num(f, d->var_err);
    fputs(",\"cov_rel_err_max\":", f);
    json_num(f, d->cov_err);
    fputc('}', f);
}

static void json_row(const struct bench_cfg *cfg, const struct results *res,
                     const struct case_result *cr, unsigned i,
                     const char *extra)
{
    const struct row *row = &cr->rows[i];
    FILE *f = stdout;

    json_common(f, cfg, res, cr, row);
    if (!row->is_h5cl)
        json_ceiling(f, cr, row);
    if (row->is_h5cl && row->status == ROW_OK) {
        json_h5cl(f, res, cr, row);
        if (cr->which == CASE_STATS)
            json_stats(f, cfg, res, cr, row);
        else if (cr->which == CASE_MAP)
            json_map(f, cr);
        else if (cr->which == CASE_HIST)
            json_hist(f, cr, (int)i - 1);
        else if (cr->which == CASE_COV)
            json_cov(f, cr);
        else
            json_ro(f, cr, (int)i - 1);
    }
    if (extra)
        fputs(extra, f);
    fputs("}\n", f);
}

void print_json_case(const struct bench_cfg *cfg, const struct results *res,
                     const struct case_result *cr, const char *extra)
{
    for (unsigned i = 0; i < cr->nrows; i++)
        json_row(cfg, res, cr, i, extra);
}

void print_json(const struct bench_cfg *cfg, const struct results *res)
{
    for (int c = 0; c < CASE_COUNT; c++)
        if (res->cases[c].ran)
            print_json_case(cfg, res, &res->cases[c], NULL);
}

/* ------------------------------------------------------------------------
 * The table.
 */
static const char *pass(int ok)
{
    return ok ? "PASS" : "FAIL";
}

static const char *case_title(enum bench_case c)
{
    switch (c) {
    case CASE_STATS:
        return "stats: h5cl_stats_compute against raw H5Dread of the same "
               "tiles";
    case CASE_MAP:
        return "map: h5cl_map_run of x * 2 + 1 (float32, uncompressed) "
               "against raw read + write + fsync of the same tiles";
    case CASE_HIST:
        return "hist: h5cl_hist_compute (256 bins) against raw H5Dread of "
               "the same tiles";
    case CASE_AXIS:
        return "axis: h5cl_stats_compute along axis 0 and axis 1 against "
               "raw H5Dread of the same tiles";
    case CASE_FUSED:
        return "fused: h5cl_stats_compute of expressions (nothing written) "
               "against raw H5Dread of the same tiles";
    case CASE_COV:
        return "cov: h5cl_cov_compute (CLBlast SYRK per row-tile) against "
               "raw H5Dread of the same tiles and the device's own SYRK";
    default:
        return "?";
    }
}

static void print_stages(const char *label, const struct row *row)
{
    printf("%-24s:", label);
    for (int s = 0; s < H5CL_STAGE_COUNT; s++)
        printf(" %s %.3f", h5cl_stage_name((h5cl_stage)s),
               row->stage[s].median);
    putchar('\n');
}

/* h5cl's GB/s over the on-device read measured next to each repetition:
 * the steadier ratio, since the machine's bandwidth drifts. */
static void print_roof(const char *label, const struct row *row)
{
    if (row->have_roof)
        printf("%-24s: %.3f (min %.3f, max %.3f) of the on-device read "
               "measured next to each repetition (%.2f GB/s, %.2f-%.2f)\n",
               label, row->roof_ratio.median, row->roof_ratio.min,
               row->roof_ratio.max, row->roof_gbps.median,
               row->roof_gbps.min, row->roof_gbps.max);
}

static void print_run_line(const struct results *res, const struct row *row)
{
    char b1[32];
    printf("%-24s: wall %.3f s (summary %.3f s), %" PRIu64 " tiles of %s, "
           "%u slots, zero-copy %s; programs ready in %.2f s\n",
           "h5cl run", row->seconds.median, row->run_seconds.median,
           row->sum.tiles, fmt_bytes(b1, sizeof b1, row->sum.tile_bytes),
           row->sum.slots, row->sum.zero_copy ? "yes" : "no",
           res->build_seconds);
}

static void print_rows(const struct case_result *cr)
{
    printf("%-22s %-6s %10s %10s %10s %10s\n", "case", "status", "GB/s med",
           "GB/s min", "GB/s max", "s median");
    for (unsigned i = 0; i < cr->nrows; i++) {
        const struct row *r = &cr->rows[i];
        if (r->status == ROW_OK)
            printf("%-22s %-6s %10.3f %10.3f %10.3f %10.3f\n", r->label,
                   "ok", r->gbps.median, r->gbps.min, r->gbps.max,
                   r->seconds.median);
        else
            printf("%-22s %-6s %s\n", r->label, "error", r->message);
    }
}

static void print_stats(const struct bench_cfg *cfg,
                        const struct results *res,
                        const struct case_result *cr)
{
    const struct row *h5 = &cr->rows[1];
    uint64_t bound = rss_bound(cfg, cr);
    char b1[32], b2[32], b3[32], d1[128], d2[128];

    printf("\nh5cl/raw (medians)      : %.3f   target >= %.2f  %s\n",
           h5->ratio, TARGET_RATIO, pass(h5->ratio >= TARGET_RATIO));
    printf("overlap wall/busiest    : %.3f (min %.3f, max %.3f)   "
           "target <= %.2f  %s\n",
           h5->overlap.median, h5->overlap.min, h5->overlap.max,
           TARGET_OVERLAP, pass(h5->overlap.median <= TARGET_OVERLAP));
    printf("overlap efficiency      : %.0f%% (busiest stage / wall)\n",
           100.0 / h5->overlap.median);
    if (cr->have_rss) {
        printf("peak RSS (VmHWM)        : %s   less the data's file pages "
               "%s: %s   bound %u x %s + 64 MiB = %s  %s\n",
               fmt_bytes(b1, sizeof b1, cr->rss.peak_bytes),
               fmt_bytes(d1, sizeof d1, cr->rss.mapped_bytes),
               fmt_bytes(b2, sizeof b2, rss_peak_own(cr)), h5->sum.slots,
               fmt_bytes(d2, sizeof d2, h5->sum.tile_bytes),
               fmt_bytes(b3, sizeof b3, bound),
               pass(rss_peak_own(cr) <= bound));
        printf("  of which              : %s once the device is open, %s "
               "before the run;\n"
               "                          the run adds %s (its own "
               "memory vs the bound: %s)\n",
               fmt_bytes(b1, sizeof b1, cr->rss.device_bytes),
               fmt_bytes(d1, sizeof d1, cr->rss.before_bytes),
               fmt_bytes(b2, sizeof b2, rss_increment(cr)),
               pass(rss_increment(cr) <= bound));
        printf("  file pages            : %s of the process's file mappings "
               "in 2 MiB pages after the run\n"
               "                          (a first run over small folios "
               "builds 4 KiB page tables: new-handle rows)\n",
               fmt_bytes(b1, sizeof b1, cr->rss.mapped_pmd_bytes));
    } else {
        printf("peak RSS                : not measured: %s\n", cr->rss_error);
    }
    {
        const char *which;
        double rbound = roofline_bound(res, cr, &which);
        if (isfinite(rbound))
            printf("roofline fraction       : %.3f of %.3f GB/s = min(raw "
                   "H5Dread, %sdevice read); limit: %s\n",
                   h5->gbps.median / rbound, rbound,
                   h5->sum.zero_copy ? "" : "H2D, ", which);
    }
    print_roof("h5cl / device read", h5);
    print_stages("stage busy s (median)", h5);
    print_run_line(res, h5);
    if (h5->status == ROW_OK && cr->rows[2].status == ROW_OK)
        printf("isolation overhead      : %+.1f%% wall (median %.3f s "
               "isolated vs %.3f s in-process)\n",
               100.0 * (cr->rows[2].seconds.median / h5->seconds.median - 1),
               cr->rows[2].seconds.median, h5->seconds.median);
    printf("result (checked)        : count %" PRIu64 ", NaNs %" PRIu64
           ", mean %.6g, std %.6g, min %.6g, max %.6g "
           "(rel. err. mean %.1e, var %.1e)\n",
           cr->st.count, cr->st.nan_count, h5cl_stats_state_mean(&cr->st),
           h5cl_stats_state_std(&cr->st, 0), h5cl_stats_state_min(&cr->st),
           h5cl_stats_state_max(&cr->st), cr->mean_err, cr->var_err);
}

static void print_map(const struct results *res, const struct case_result *cr)
{
    const struct row *raw = &cr->rows[0], *h5 = &cr->rows[1];
    const struct map_detail *md = &cr->map;
    char b1[32], d1[128];

    printf("\nh5cl/ceiling (medians)  : %.3f\n", h5->ratio);
    printf("overlap wall/busiest    : %.3f (min %.3f, max %.3f)\n",
           h5->overlap.median, h5->overlap.min, h5->overlap.max);
    print_stages("stage busy s (median)", h5);
    printf("%-24s:", "ceiling phases s (med.)");
    for (int i = 0; i < PHASE_COUNT; i++)
        printf(" %s %.3f", phase_name((enum copy_phase)i),
               raw->phase[i].median);
    putchar('\n');
    print_run_line(res, h5);
    printf("output (checked)        : %s:/y float32 %s", md->out_file,
           md->layout);
    if (md->out_rank)
        printf(" %s", fmt_dims(d1, sizeof d1, md->out_rank, md->out_chunk));
    printf(", %s written; per run %" PRIu64 " tiles (%" PRIu64
           " values) equal x * 2 + 1 computed here\n",
           fmt_bytes(b1, sizeof b1, md->bytes_written), md->checked_tiles,
           md->checked_values);
}

static void print_hist(const struct results *res,
                       const struct case_result *cr)
{
    char b1[32];

    for (int j = 0; j < 2; j++) {
        const struct row *h5 = &cr->rows[1 + j];
        const struct hist_detail *d = &cr->hist[j];
        if (h5->status != ROW_OK)
            continue;
        printf("\n%s:\n", h5->label);
        printf("  h5cl/raw (medians)    : %.3f%s\n", h5->ratio,
               d->passes > 1 ? " (h5cl reads the data twice: min/max, "
                               "then counts)"
                             : "");
        printf("  overlap wall/busiest  : %.3f (min %.3f, max %.3f)\n",
               h5->overlap.median, h5->overlap.min, h5->overlap.max);
        print_stages("  stage busy s (median)", h5);
        printf("  %-22s: %" PRIu64 " tiles of %s, summary %.3f s\n",
               "h5cl run", h5->sum.tiles,
               fmt_bytes(b1, sizeof b1, h5->sum.tile_bytes),
               h5->run_seconds.median);
        printf("  result (checked)      : [%.9g, %.9g] %u bins: %" PRIu64
               " in bins (fullest %" PRIu64 "), NaN %" PRIu64
               ", under %" PRIu64 ", over %" PRIu64 "\n",
               d->lo, d->hi, (unsigned)cr->bins, d->in_bins, d->max_count,
               d->nan, d->under, d->over);
        printf("                          equal bin for bin to the host's "
               "(numpy's rule in %s; the edge check moved %" PRIu64
               " values)\n",
               cr->fp64 ? "double" : "float", d->corrected);
    }
    (void)res;
}

static void print_ro(const struct case_result *cr)
{
    for (int j = 0; j < 2; j++) {
        const struct row *h5 = &cr->rows[1 + j];
        const struct ro_detail *d = &cr->ro[j];
        if (h5->status != ROW_OK)
            continue;
        printf("\n%s:\n", h5->label);
        printf("  h5cl/raw (medians)    : %.3f%s\n", h5->ratio,
               cr->which == CASE_FUSED && j == 1
                   ? " (two inputs: h5cl moves twice the bytes)"
                   : "");
        print_roof("  h5cl / device read", h5);
        printf("  overlap wall/busiest  : %.3f (min %.3f, max %.3f)\n",
               h5->overlap.median, h5->overlap.min, h5->overlap.max);
        print_stages("  stage busy s (median)", h5);
        if (cr->which == CASE_AXIS)
            printf("  result (checked)      : %s reduced, %" PRIu64
                   " states, each equal to the host's (largest rel. err. "
                   "mean %.1e, var %.1e)\n",
                   d->what, d->states, d->mean_err, d->var_err);
        else
            printf("  result (checked)      : %s: count %" PRIu64 ", NaNs %"
                   PRIu64 ", mean %.6g, min %.6g, max %.6g (rel. err. mean "
                   "%.1e, var %.1e; host in %s)\n",
                   d->what, d->st.count, d->st.nan_count,
                   h5cl_stats_state_mean(&d->st),
                   h5cl_stats_state_min(&d->st),
                   h5cl_stats_state_max(&d->st), d->mean_err, d->var_err,
                   cr->fp64 ? "double" : "float");
    }
}

static void print_cov(const struct case_result *cr)
{
    const struct row *h5 = &cr->rows[1];
    const struct cov_detail *d = &cr->cov;
    const struct syrk_probe *sp = &d->syrk;

    printf("\nh5cl/raw (medians)      : %.3f\n", h5->ratio);
    printf("overlap wall/busiest    : %.3f (min %.3f, max %.3f)\n",
           h5->overlap.median, h5->overlap.min, h5->overlap.max);
    printf("effective GFLOP/s       : %.3f (%.3f-%.3f): %" PRIu64 " rows x %"
           PRIu64 " x %" PRIu64 " flops over the wall time\n",
           d->gflops.median, d->gflops.min, d->gflops.max, d->rows, d->cols,
           d->cols + 1);
    if (sp->measured)
        printf("device SYRK GFLOP/s     : %.3f (%.3f-%.3f): %s of %" PRIu64
               " x %" PRIu64 ", resident, event-profiled, median of %u;\n"
               "                          h5cl gets %.3f of it\n",
               sp->gflops.median, sp->gflops.min, sp->gflops.max,
               sp->fp64 ? "CLBlastDsyrk" : "CLBlastSsyrk", sp->k, sp->n,
               sp->reps, d->gflops.median / sp->gflops.median);
    else
        printf("device SYRK GFLOP/s     : %s\n", sp->message);
    print_stages("stage busy s (median)", h5);
    printf("result (checked)        : %" PRIu64 " x %" PRIu64 " covariance "
           "(ddof 1), %" PRIu64 " NaN columns; means, variances and %u\n"
           "                          covariances equal the host's within "
           "%.0e (largest rel. err. mean %.1e,\n"
           "                          var %.1e, cov %.1e)\n",
           d->cols, d->cols, d->nan_cols, d->pairs, d->tol, d->mean_err,
           d->var_err, d->cov_err);
}

static void print_case(const struct bench_cfg *cfg, const struct results *res,
                       const struct case_result *cr)
{
    const struct row *raw = &cr->rows[0];
    const struct row *h5 = &cr->rows[1];
    char b1[32], b2[32];

    printf("\n== %s\n", case_title(cr->which));
    if (res->rr_open && raw->tiles) {
        printf("run      : tiles of %s (%" PRIu64 " raw tiles), %u slots, "
               "%u reps after one warm-up of each\n",
               fmt_bytes(b1, sizeof b1, raw->tile_bytes), raw->tiles,
               cfg->slots, cfg->reps);
        if (h5->status == ROW_OK && h5->sum.tile_bytes != cfg->tile_bytes)
            printf("           (%s %s; h5cl used %s, and the raw pass reads "
                   "the same)\n",
                   cfg->tile_given ? "--tile-bytes asked"
                                   : "the library's default for this "
                                     "dataset; the context's is",
                   fmt_bytes(b1, sizeof b1, cfg->tile_bytes),
                   fmt_bytes(b2, sizeof b2, h5->sum.tile_bytes));
    }
    printf("ceiling  : %s\n", ceiling_method(cr->which));
    if (cr->which == CASE_MAP)
        printf("           (the same commit as h5cl's all-or-nothing output; "
               "without the close and\n"
               "           fsyncs the ceiling would only fill the page cache "
               "and compare unfairly)\n");
    putchar('\n');
    print_rows(cr);
    if (raw->status != ROW_OK)
        return;
    if (cr->which == CASE_STATS && h5->status == ROW_OK)
        print_stats(cfg, res, cr);
    else if (cr->which == CASE_MAP && h5->status == ROW_OK)
        print_map(res, cr);
    else if (cr->which == CASE_HIST)
        print_hist(res, cr);
    else if (cr->which == CASE_AXIS || cr->which == CASE_FUSED)
        print_ro(cr);
    else if (cr->which == CASE_COV && h5->status == ROW_OK)
        print_cov(cr);
}

static void print_roofline(const struct results *res)
{
    const struct roofline *rl = &res->roof;
    char b1[32];
    if (!rl->measured) {
        printf("roofline : %s\n", rl->message);
        return;
    }
    printf("roofline : H2D pinned %.2f GB/s (%.2f-%.2f)%s, on-device read "
           "%.2f GB/s (%.2f-%.2f, %s%s)\n",
           rl->h2d_gbps.median, rl->h2d_gbps.min, rl->h2d_gbps.max,
           rl->host_unified ? " [host-unified: a host memcpy]" : "",
           rl->read_gbps.median, rl->read_gbps.min, rl->read_gbps.max,
           rl->contiguous ? "vload8 segments" : "interleaved float4",
           rl->huge_pages ? ", 2 MiB pages" : "");
    printf("           on-device copy %.2f GB/s read+written (%.2f-%.2f); "
           "the read is %.2f of it\n",
           rl->copy_gbps.median, rl->copy_gbps.min, rl->copy_gbps.max,
           rl->read_gbps.median / rl->copy_gbps.median);
    printf("           (%s per transfer, sum and copy, event-profiled, median "
           "of %u after a warm-up)\n",
           fmt_bytes(b1, sizeof b1, rl->bytes), rl->reps);
}

void print_device_header(const struct results *res)
{
    printf("%s (h5cl %s)\n", BENCH_NAME, h5cl_version());
    if (res->have_dev)
        printf("device   : %s [%s, %s], driver %s, %u compute units\n",
               res->dev.device_name, res->dev.platform_name,
               h5cl_device_type_name(res->dev.type), res->dev.driver_version,
               res->dev.compute_units);
    else
        printf("device   : (not opened)\n");
    print_roofline(res);
}

void print_header(const struct bench_cfg *cfg, const struct results *res)
{
    const struct raw_reader *rr = &res->rr;
    char b1[32], b2[32], d1[128], d2[128];

    print_device_header(res);
    printf("file     : %s (%s)\n", res->file,
           fmt_bytes(b1, sizeof b1, res->file_bytes));
    if (res->rr_open) {
        printf("dataset  : %s %s %s (%s), %s", cfg->dataset,
               h5cl_dtype_name(rr->dtype),
               fmt_dims(d1, sizeof d1, rr->rank, rr->dims),
               fmt_bytes(b1, sizeof b1, rr->nbytes),
               rr->chunked ? "chunked " : "contiguous");
        if (rr->chunked) {
            uint64_t cb = rr->elsize;
            for (int i = 0; i < rr->rank; i++)
                cb *= rr->chunk[i];
            printf("%s (%s chunks)",
                   fmt_dims(d2, sizeof d2, rr->rank, rr->chunk),
                   fmt_bytes(b2, sizeof b2, cb));
        }
        printf(", %u filters\n", rr->nfilters);
    }
    printf("figures  : %s (stats case)\n",
           cfg->figures_text ? cfg->figures_text : "all");
}

void print_table(const struct bench_cfg *cfg, const struct results *res)
{
    print_header(cfg, res);
    for (int c = 0; c < CASE_COUNT; c++)
        if (res->cases[c].ran)
            print_case(cfg, res, &res->cases[c]);
}
