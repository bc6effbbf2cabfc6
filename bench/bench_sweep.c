/*
 * h5cl-bench, --sweep: the chosen cases over the cross product of the swept
 * run parameters (slots, tile bytes), one combination after the other on
 * the one context, so the output shows where the defaults (3 slots, 8 MiB
 * tiles) sit.  Each combination is a full case run: its own warm-up, its
 * own ceiling measured with the tile size h5cl used at that combination
 * (alternating with the h5cl repetitions, as in a plain run), its own
 * result checks.  The peak-RSS probe is not run in a sweep.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const param_names[SWEEP_PARAM_COUNT] = { "slots",
                                                            "tile-bytes" };

/* "slots=1,2,3" or "tile-bytes=1M,4M": values in the order given; a
 * parameter given twice takes the later list. */
int sweep_parse(struct sweep_spec *sw, const char *text, char *err)
{
    const char *eq = strchr(text, '=');
    char buf[256], *save = NULL, *tok;
    int p = -1;
    unsigned n = 0;

    if (!eq)
        return fail(err, "bad --sweep '%s' (NAME=V1,V2,...; NAME slots or "
                    "tile-bytes)", text);
    for (int i = 0; i < SWEEP_PARAM_COUNT; i++)
        if (strlen(param_names[i]) == (size_t)(eq - text) &&
            strncmp(text, param_names[i], (size_t)(eq - text)) == 0)
            p = i;
    if (p < 0)
        return fail(err, "bad --sweep '%s': sweepable are slots and "
                    "tile-bytes", text);
    if (snprintf(buf, sizeof buf, "%s", eq + 1) >= (int)sizeof buf || !*buf)
        return fail(err, "bad --sweep '%s': no values or too long", text);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        unsigned u;
        if (n == SWEEP_MAX_VALUES)
            return fail(err, "bad --sweep '%s': at most %d values", text,
                        SWEEP_MAX_VALUES);
        if (p == SWEEP_SLOTS) {
            if (parse_uint(tok, 1, 1024, &u))
                return fail(err, "bad --sweep slots value '%s' (1 to 1024)",
                            tok);
            v = u;
        } else if (parse_size(tok, &v) || v == 0) {
            return fail(err, "bad --sweep tile-bytes value '%s'", tok);
        }
        for (unsigned k = 0; k < n; k++)
            if (sw->v[p][k] == v)
                return fail(err, "bad --sweep '%s': '%s' given twice", text,
                            tok);
        sw->v[p][n++] = v;
    }
    sw->n[p] = n;
    return 0;
}

int sweep_active(const struct sweep_spec *sw)
{
    for (int p = 0; p < SWEEP_PARAM_COUNT; p++)
        if (sw->n[p])
            return 1;
    return 0;
}

/* The values of parameter p: the swept list, else the one configured. */
static unsigned param_values(const struct bench_cfg *cfg, int p,
                             uint64_t *v)
{
    if (cfg->sweep.n[p]) {
        memcpy(v, cfg->sweep.v[p], cfg->sweep.n[p] * sizeof *v);
        return cfg->sweep.n[p];
    }
    v[0] = p == SWEEP_SLOTS ? cfg->slots : cfg->tile_bytes;
    return 1;
}

int sweep_run(const struct case_env *env, const case_fn run[CASE_COUNT],
              char *err)
{
    const struct bench_cfg *cfg = env->cfg;
    struct results *res = env->res;
    uint64_t slots[SWEEP_MAX_VALUES], tiles[SWEEP_MAX_VALUES];
    unsigned ns = param_values(cfg, SWEEP_SLOTS, slots);
    unsigned nt = param_values(cfg, SWEEP_TILE_BYTES, tiles);
    char b1[32];

    res->sweep = calloc((size_t)ns * nt, sizeof *res->sweep);
    if (!res->sweep)
        return fail(err, "out of memory");
    /* tile size outermost: the slot counts of one tile size run together */
    for (unsigned t = 0; t < nt; t++)
        for (unsigned s = 0; s < ns; s++) {
            struct sweep_point *pt = &res->sweep[res->nsweep++];
            struct bench_cfg c = *cfg;
            struct case_env e = *env;

            c.slots = (unsigned)slots[s];
            c.tile_bytes = tiles[t];
            c.tile_given = 1;
            c.trace = NULL; /* one trace per combination would be noise */
            e.cfg = &c;
            pt->slots = c.slots;
            pt->tile_bytes = c.tile_bytes;
            pt->is_default = c.slots == cfg->default_slots &&
                             c.tile_bytes == cfg->default_tile_bytes;
            fprintf(stderr, "%s: sweep %u/%u: %u slots, tiles of %s\n",
                    BENCH_NAME, res->nsweep, ns * nt, c.slots,
                    fmt_bytes(b1, sizeof b1, c.tile_bytes));
            for (int k = 0; k < CASE_COUNT; k++) {
                struct case_result *cr = &pt->cases[k];
                if (!(cfg->cases & (1u << k)))
                    continue;
                case_init(cr, (enum bench_case)k);
                snprintf(cr->rss_error, sizeof cr->rss_error,
                         "not measured in a sweep");
                if (g_interrupted) {
                    for (unsigned i = 0; i < cr->nrows; i++)
                        row_error(&cr->rows[i], "not measured: interrupted");
                    continue;
                }
                run[k](&e, cr);
            }
        }
    return 0;
}

/* ------------------------------------------------------------------------
 * Output: per case, one line per combination and h5cl row.
 */
static void print_case_sweep(const struct bench_cfg *cfg,
                             const struct results *res, enum bench_case k)
{
    char b1[32];
    unsigned nrows = 0;

    for (unsigned i = 0; i < res->nsweep; i++)
        if (res->sweep[i].cases[k].ran)
            nrows = res->sweep[i].cases[k].nrows;
    if (!nrows)
        return;
    printf("\n== sweep, %s case (h5cl rows; the ceiling is H5Dread of the "
           "same tiles%s, measured at each combination)\n",
           case_name(k), k == CASE_MAP ? " + H5Dwrite + fsync" : "");
    printf("%-2s %5s %9s %9s %9s  %-21s %-6s %8s %17s %9s %6s %7s%s\n", "",
           "slots", "tile ask", "h5cl tile", "ceil tile", "row", "status",
           "GB/s med",
           "GB/s min-max", "ceil GB/s", "ratio", "overlap",
           k == CASE_STATS ? "  of roofline" : "");
    for (unsigned i = 0; i < res->nsweep; i++) {
        const struct sweep_point *pt = &res->sweep[i];
        const struct case_result *cr = &pt->cases[k];
        const struct row *raw = &cr->rows[0];
        char b2[32], b3[32], mm[32];

        for (unsigned j = 1; j < cr->nrows; j++) {
            const struct row *r = &cr->rows[j];
            printf("%-2s %5u %9s ", pt->is_default ? "*" : "", pt->slots,
                   fmt_bytes(b1, sizeof b1, pt->tile_bytes));
            if (r->status == ROW_OK) {
                snprintf(mm, sizeof mm, "%.3f-%.3f", r->gbps.min,
                         r->gbps.max);
                printf("%9s %9s  %-21s %-6s %8.3f %17s %9.3f %6.3f %7.3f",
                       fmt_bytes(b2, sizeof b2, r->sum.tile_bytes),
                       fmt_bytes(b3, sizeof b3, raw->tile_bytes), r->label,
                       "ok", r->gbps.median, mm, raw->gbps.median, r->ratio,
                       r->overlap.median);
                if (k == CASE_STATS) {
                    const char *which;
                    double bound = roofline_bound(res, cr, &which);
                    if (isfinite(bound))
                        printf("  %.3f (%s)", r->gbps.median / bound, which);
                }
                putchar('\n');
            } else {
                printf("%9s %9s  %-21s %-6s %s%s%s\n", "-", "-", r->label,
                       "error",
                       r->message,
                       raw->status != ROW_OK ? "; ceiling: " : "",
                       raw->status != ROW_OK ? raw->message : "");
            }
        }
    }
    printf("(* the defaults: %d slots, tiles of %s; ratio = h5cl median / "
           "ceiling median, the ceiling reading h5cl's tiles rounded to whole "
           "rows of chunks; overlap = wall / busiest stage)\n",
           cfg->default_slots,
           fmt_bytes(b1, sizeof b1, cfg->default_tile_bytes));
}

void sweep_print_table(const struct bench_cfg *cfg, const struct results *res)
{
    print_header(cfg, res);
    printf("sweep    : %u combinations, %u reps after one warm-up of each "
           "row\n", res->nsweep, cfg->reps);
    for (int k = 0; k < CASE_COUNT; k++)
        print_case_sweep(cfg, res, (enum bench_case)k);
}

void sweep_print_json(const struct bench_cfg *cfg, const struct results *res)
{
    for (unsigned i = 0; i < res->nsweep; i++) {
        const struct sweep_point *pt = &res->sweep[i];
        struct bench_cfg c = *cfg;
        char extra[256];

        c.slots = pt->slots;
        c.tile_bytes = pt->tile_bytes;
        snprintf(extra, sizeof extra,
                 ",\"sweep\":{\"index\":%u,\"count\":%u,\"slots\":%u,"
                 "\"tile_bytes\":%" PRIu64 ",\"is_default\":%s}",
                 i, res->nsweep, pt->slots, pt->tile_bytes,
                 pt->is_default ? "true" : "false");
        for (int k = 0; k < CASE_COUNT; k++)
            if (pt->cases[k].ran)
                print_json_case(&c, res, &pt->cases[k], extra);
    }
}
