/*
 * h5cl map: evaluates an expression element by element over one or more
 * datasets and writes it to a new dataset (h5cl_map_run), then describes
 * what was written.  The library writes into a temporary file beside the
 * target and renames it over the target only when complete.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct map_args {
    run_args a;
    char *out_file;
    char *out_path;
    h5cl_map_options m;
} map_args;

static int parse_map_args(int argc, char **argv, map_args *o)
{
    enum {
        OPT_DTYPE = OPT_CMD, OPT_GZIP, OPT_SHUFFLE, OPT_CHUNKS, OPT_OVERWRITE
    };
    static const struct option longopts[] = {
        RUN_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"gzip", required_argument, NULL, OPT_GZIP},
        {"shuffle", no_argument, NULL, OPT_SHUFFLE},
        {"chunks", required_argument, NULL, OPT_CHUNKS},
        {"overwrite", no_argument, NULL, OPT_OVERWRITE},
        {NULL, 0, NULL, 0}};
    long long v;
    size_t n;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":" RUN_SHORTOPTS "qo:", longopts,
                            NULL)) != -1) {
        rc = run_args_option(&o->a, c, optarg);
        if (rc != RUN_OPT_OTHER) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case 'o':
            rc = parse_output_option(optarg, &o->out_file, &o->out_path);
            if (rc)
                return rc;
            break;
        case OPT_DTYPE:
            o->m.dtype = parse_dtype(optarg);
            if (o->m.dtype < 0)
                return usage_error("bad dtype '%s' (int8, uint8, int16, "
                                   "uint16, int32, uint32, int64, uint64, "
                                   "float32 or float64)", optarg);
            break;
        case OPT_GZIP:
            if (parse_long(optarg, 0, 9, &v))
                return usage_error("bad gzip level '%s' (0 to 9)", optarg);
            o->m.gzip = (int)v;
            break;
        case OPT_SHUFFLE: o->m.shuffle = 1; break;
        case OPT_CHUNKS:
            if (strcmp(optarg, "none") == 0) {
                o->m.chunk_rank = -1;
                break;
            }
            if (parse_u64_list(optarg, 1, UINT32_MAX, o->m.chunk_dims,
                               H5CL_MAX_RANK, &n))
                return usage_error("bad chunk shape '%s' (sizes >= 1 "
                                   "separated by commas, e.g. 64,100)",
                                   optarg);
            o->m.chunk_rank = (int)n;
            break;
        case OPT_OVERWRITE: o->m.overwrite = 1; break;
        case 'h':
            help_requested();
            return -1;
        default:
            return option_error(c, argv);
        }
    }
    if (!o->a.expr && !o->a.mask_fill && !o->a.cf)
        return usage_error("map: needs an expression (-e EXPR), or --cf or "
                           "--mask-fill to write the decoded data");
    if (!o->out_file)
        return usage_error("map: needs an output (-o OUT_FILE:OUT_DSET)");
    return run_args_finish(&o->a, argc, argv);
}

/* Describes the output from the file itself; falls back to what the run
 * was asked for when it cannot be reopened. */
static void describe_output(run_state *rs, const map_args *o,
                            h5cl_dataset_info *info)
{
    h5cl_dataset *ds = NULL;
    int st;

    st = h5cl_dataset_open(rs->ctx, o->out_file, o->out_path, &ds);
    if (st == H5CL_OK)
        st = h5cl_dataset_get_info(ds, info);
    h5cl_dataset_close(ds);
    if (st == H5CL_OK)
        return;
    fprintf(stderr, "h5cl: warning: the output was written but cannot be "
            "reopened to describe it: %s: %s\n", h5cl_errname(st),
            h5cl_ctx_errmsg(rs->ctx));
    memset(info, 0, sizeof *info);
    snprintf(info->file, sizeof info->file, "%s", o->out_file);
    snprintf(info->path, sizeof info->path, "%s", o->out_path);
    info->dtype = o->m.dtype >= 0 ? (h5cl_dtype)o->m.dtype : rs->expr_dtype;
    info->rank = rs->sel_rank;
    memcpy(info->dims, rs->sel_dims, sizeof info->dims);
    info->layout = H5CL_LAYOUT_OTHER;
    info->element_count = rs->sel_elems;
    info->nbytes = rs->sel_elems * h5cl_dtype_size(info->dtype);
}

static void print_map_human(const run_state *rs, const map_args *o,
                            const h5cl_dataset_info *out,
                            const h5cl_run_summary *s)
{
    char a[32], b[32];

    print_run_header(rs);
    printf("output      %s:%s%s\n", out->file, out->path,
           o->m.overwrite ? "  (--overwrite)" : "");
    printf("dtype       %s\n", h5cl_dtype_name(out->dtype));
    printf("shape       ");
    print_dims(stdout, out->rank, out->dims);
    printf("\n");
    if (out->layout == H5CL_LAYOUT_CHUNKED) {
        printf("chunks      ");
        print_dims(stdout, out->rank, out->chunk_dims);
        printf("\n");
    }
    printf("filters     %s\n", out->filters[0] ? out->filters : "none");
    printf("read        %s (%" PRIu64 " bytes)\n",
           human_bytes(a, sizeof a, s->bytes), s->bytes);
    printf("written     %s (%" PRIu64 " bytes",
           human_bytes(a, sizeof a, s->bytes_written), s->bytes_written);
    if (out->storage_bytes)
        printf("; %s in the file", human_bytes(b, sizeof b,
                                               out->storage_bytes));
    printf(")\n");
    print_masked(rs, s->masked, "written as NaN, or 0 in an integer type");
    print_summary_human(s, o->a.trace, 1);
}

static void print_map_json(const run_state *rs, const map_args *o,
                           const h5cl_dataset_info *out,
                           const h5cl_run_summary *s)
{
    jw w;

    jw_init(&w, stdout);
    jw_open(&w, '{', 0);
    json_run_header(&w, rs);
    jw_key(&w, "output");
    jw_open(&w, '{', 0);
    jw_key(&w, "file");
    jw_string(&w, out->file);
    jw_key(&w, "dataset");
    jw_string(&w, out->path);
    json_dataset_info(&w, out);
    jw_close(&w, '}');
    jw_key(&w, "overwrite");
    jw_bool(&w, o->m.overwrite);
    json_summary(&w, rs, s, 1);
    jw_close(&w, '}');
}

static int map_exec(const map_args *o)
{
    h5cl_ctx *ctx = NULL;
    h5cl_run_summary s;
    h5cl_dataset_info out;
    run_state rs;
    int code, st;

    if (h5cl_ctx_create(&ctx) != H5CL_OK)
        return no_memory();
    memset(&s, 0, sizeof s);
    code = run_begin(&rs, ctx, &o->a);
    if (code == EXIT_OK)
        code = run_start(&rs);
    if (code == EXIT_OK) {
        st = h5cl_map_run(rs.in[0].ds, &rs.ro, &o->m, &s);
        run_clear_progress(&rs);
        if (st != H5CL_OK)
            code = lib_error(ctx, st);
    }
    if (code == EXIT_OK) {
        describe_output(&rs, o, &out);
        if (o->a.json)
            print_map_json(&rs, o, &out, &s);
        else
            print_map_human(&rs, o, &out, &s);
        code = finish_output(EXIT_OK);
    }
    run_end(&rs);
    h5cl_ctx_destroy(ctx);
    return code;
}

int cmd_map(int argc, char **argv)
{
    map_args o;
    int code;

    memset(&o, 0, sizeof o);
    run_args_init(&o.a, "map");
    h5cl_map_options_init(&o.m);
    code = parse_map_args(argc, argv, &o);
    if (code == 0) {
        o.m.out_file = o.out_file;
        o.m.out_path = o.out_path;
        code = map_exec(&o);
    }
    run_args_free(&o.a);
    free(o.out_file);
    free(o.out_path);
    return code < 0 ? finish_output(EXIT_OK) : code;
}
